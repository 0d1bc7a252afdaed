# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The control plane: libepcontrol.a (gateway maps, node registry, consistent-hash table,
# policy, the controller's server) and edgectl, which serves it and talks to it.
CONTROL_SRCS	:= $(wildcard control/*.c)
CONTROL_LIB	:= $(LIB)/libepcontrol.a
$(CONTROL_LIB): $(patsubst %.c,$(OBJ)/%.o,$(CONTROL_SRCS))
$(OBJ)/control/gw.o $(OBJ)/control/probe.o: $(GEN)/ep_gateway.skel.h
CONTROL_LIBS	:= $(call pc_libs,jansson libconfig libmicrohttpd libmnl libcurl libsystemd) $(ENROLL_LIBS)

EXTRA_CFLAGS_control		:= -Icontrol -Idataplane
EXTRA_CFLAGS_control/edgectl	:= -Icontrol -Idataplane

EDGECTL_SRCS	:= $(wildcard control/edgectl/*.c)
BINS += $(BIN)/edgectl
$(BIN)/edgectl: $(patsubst %.c,$(OBJ)/%.o,$(EDGECTL_SRCS)) $(CONTROL_LIB) $(COMMON_LIB) \
		$(XDP_LIB) $(CLIENT_LIB) $(CORE_LIB)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(EP_LDFLAGS) $(CONTROL_LIBS) $(BPF_LIBS) -lm
