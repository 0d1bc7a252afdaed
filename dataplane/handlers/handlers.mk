# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Built-in task handlers (libephandlers.a) and the PNG helper they and the clients share.
HANDLER_SRCS	:= $(wildcard dataplane/handlers/*.c)
PNG_SRCS	:= userspace/common/png.c
HANDLER_PKGS	:= libzstd libpng zlib
HANDLER_LIBS	:= $(call pc_libs,$(HANDLER_PKGS)) -lm
HANDLERS_LIB	:= $(LIB)/libephandlers.a
$(HANDLERS_LIB): $(patsubst %.c,$(OBJ)/%.o,$(HANDLER_SRCS) $(PNG_SRCS))
