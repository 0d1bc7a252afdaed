# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
include dataplane/handlers/handlers.mk

# libepxdp.a: loading and driving the XDP classifier (libbpf skeleton + libxdp).
XDP_SRCS	:= dataplane/xdp/ep_xdp.c userspace/common/log_libs.c
XDP_LIB		:= $(LIB)/libepxdp.a
$(XDP_LIB): $(patsubst %.c,$(OBJ)/%.o,$(XDP_SRCS))
$(OBJ)/dataplane/xdp/ep_xdp.o: $(GEN)/ep_classifier.skel.h

EXTRA_CFLAGS_dataplane/xdp	:= -Idataplane
EXTRA_CFLAGS_dataplane/handlers	:= -Idataplane
EXTRA_CFLAGS_dataplane/tools	:= -Idataplane

BINS += $(BIN)/edgeplane-xdp
$(BIN)/edgeplane-xdp: $(OBJ)/dataplane/tools/edgeplane-xdp.o $(XDP_LIB) $(CORE_LIB)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(EP_LDFLAGS) $(BPF_LIBS)
