# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# BPF programs: bpf/*.bpf.c (the node's and the gateway's) and tests/bench/bpf/*.bpf.c
# (the benchmarks' generators, sinks and baselines) -> build/bpf/*.bpf.o, plus a libbpf
# skeleton for each.
BPF_SRCS	:= $(wildcard bpf/*.bpf.c tests/bench/bpf/*.bpf.c)
BPF_NAMES	:= $(notdir $(BPF_SRCS:.bpf.c=))
BPF_OBJS	:= $(BPF_NAMES:%=$(BPFOUT)/%.bpf.o)
BPF_SKELS	:= $(BPF_NAMES:%=$(GEN)/%.skel.h)

# The loaders' skeletons pin their maps by name (bpf/lib/pin.h): built from a copy of the
# object compiled with EP_PIN_MAPS. build/bpf/<name>.bpf.o, for loading by hand, pins
# nothing.
BPF_PINNED	:= ep_classifier ep_gateway ep_fault
$(BPFOUT)/%.pinned.bpf.o: bpf/%.bpf.c
	$(call msg,CLANG,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(BPF_CFLAGS) -DEP_PIN_MAPS -MMD -MP -c $< -o $@

$(BPF_PINNED:%=$(GEN)/%.skel.h): $(GEN)/%.skel.h: $(BPFOUT)/%.pinned.bpf.o
	$(call msg,SKEL,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(BPFTOOL) gen skeleton $< name $* 2>$@.log > $@ || { cat $@.log >&2; exit 1; }
