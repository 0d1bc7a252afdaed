# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The rig's tools.
BINS += $(BIN)/edgeplane-fault
# xdp/ep_xdp.h, for ep_bpf_unpin()
EXTRA_CFLAGS_vm := -Idataplane
$(OBJ)/vm/fault.o: $(GEN)/ep_fault.skel.h
$(BIN)/edgeplane-fault: $(OBJ)/vm/fault.o $(XDP_LIB) $(CORE_LIB)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(EP_LDFLAGS) $(BPF_LIBS)

# `make test-vm`: the rig's VM mode (vm/vm.sh, docs/rig.md): the runtime in a QEMU guest
# on a virtio-net NIC with several queues, driven from the host. Not part of `make test`
# (it boots a kernel under emulation: about a minute); skipped, with the reason, when
# QEMU, the kernel package or its virtio modules are missing.
.PHONY: test-vm test-vm-run
test-vm: deps
	$(Q)$(MAKE) test-vm-run

test-vm-run: all $(IMAGES_STAMP)
	$(Q)tests/run.sh tests/integration/vm_test.sh
