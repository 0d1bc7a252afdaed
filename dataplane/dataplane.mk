# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
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

# libepcommon.a: what the runtime and edgectl share beyond the core: the /metrics server
# and its text format, the configuration file's readers, Unix sockets, systemd's notify.
COMMON_SRCS	:= userspace/common/metrics.c userspace/common/confread.c \
		   userspace/common/unixsock.c userspace/common/notify.c
COMMON_LIB	:= $(LIB)/libepcommon.a
$(COMMON_LIB): $(patsubst %.c,$(OBJ)/%.o,$(COMMON_SRCS))

# The runtime: I/O backends, the task path, and the daemon around them.
RT_SRCS		:= $(wildcard dataplane/io/*.c dataplane/core/*.c) \
		   $(filter-out dataplane/daemon/main.c,$(wildcard dataplane/daemon/*.c))
RT_LIB		:= $(LIB)/libeprt.a
$(RT_LIB): $(patsubst %.c,$(OBJ)/%.o,$(RT_SRCS))
# The key sources (daemon/keysrc.c) read keys files and sync with the controller through
# the enrollment client (userspace/userspace.mk: ENROLL_SRCS, in libedgeplane.a).
RT_LIBS		:= $(call pc_libs,liburing libconfig libzstd libmicrohttpd libxxhash libcrypto libsystemd) \
		   $(ENROLL_LIBS) -ldl
EXTRA_CFLAGS_dataplane/io	:= -Idataplane
EXTRA_CFLAGS_dataplane/core	:= -Idataplane
EXTRA_CFLAGS_dataplane/daemon	:= -Idataplane
# The dpdk backend: DPDK's flags for dpdk.c alone (its headers as system headers), and its
# libraries for the runtime. Without libdpdk, dpdk.c builds a backend that refuses to start.
DPDK_CFLAGS	:= $(patsubst -I%,-isystem %,$(call pc_cflags,libdpdk))
DPDK_LIBS	:= $(call pc_libs,libdpdk)
$(OBJ)/dataplane/io/dpdk.o: EXTRA_CFLAGS_dataplane/io += $(DPDK_CFLAGS) \
	$(if $(DPDK_LIBS),-DEP_HAVE_DPDK)

BINS += $(BIN)/edgeplane
$(BIN)/edgeplane: $(OBJ)/dataplane/daemon/main.o $(RT_LIB) $(COMMON_LIB) $(HANDLERS_LIB) \
		  $(XDP_LIB) $(CLIENT_LIB) $(CORE_LIB)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(EP_LDFLAGS) $(RT_LIBS) $(HANDLER_LIBS) $(BPF_LIBS) \
		$(DPDK_LIBS)
