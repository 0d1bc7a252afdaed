# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# libepcore.a: logging, the wire codec and reassembly. No BPF dependencies, so clients link
# it as well as the runtime.
CORE_SRCS	:= userspace/common/log.c userspace/codec/codec.c userspace/codec/reasm.c
CORE_LIB	:= $(LIB)/libepcore.a
$(CORE_LIB): $(patsubst %.c,$(OBJ)/%.o,$(CORE_SRCS))
