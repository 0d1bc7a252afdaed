# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# libepcore.a: logging, the wire codec and reassembly. No BPF dependencies, so clients link
# it as well as the runtime.
CORE_SRCS	:= userspace/common/log.c userspace/common/hist.c userspace/common/util.c \
		   userspace/codec/codec.c \
		   userspace/codec/reasm.c
CORE_LIB	:= $(LIB)/libepcore.a
$(CORE_LIB): $(patsubst %.c,$(OBJ)/%.o,$(CORE_SRCS))

# libedgeplane: the client library (static for our tools; the shared library and its
# pkg-config file come with the client issue).
CLIENT_SRCS	:= userspace/client/client.c
CLIENT_LIB	:= $(LIB)/libedgeplane.a
$(CLIENT_LIB): $(patsubst %.c,$(OBJ)/%.o,$(CLIENT_SRCS))

# edgeload
EDGELOAD_SRCS	:= $(wildcard userspace/edgeload/*.c)
BINS += $(BIN)/edgeload
$(BIN)/edgeload: $(patsubst %.c,$(OBJ)/%.o,$(EDGELOAD_SRCS)) $(CLIENT_LIB) $(HANDLERS_LIB) \
		 $(CORE_LIB)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(EP_LDFLAGS) $(HANDLER_LIBS) $(ZSTD_LIBS)
