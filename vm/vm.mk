# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The rig's tools.
BINS += $(BIN)/edgeplane-fault
$(OBJ)/vm/fault.o: $(GEN)/ep_fault.skel.h
$(BIN)/edgeplane-fault: $(OBJ)/vm/fault.o $(XDP_LIB) $(CORE_LIB)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(EP_LDFLAGS) $(BPF_LIBS)
