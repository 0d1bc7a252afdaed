# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# BPF programs: bpf/*.bpf.c (the node's and the gateway's) and tests/bench/bpf/*.bpf.c
# (the benchmarks' generators, sinks and baselines) -> build/bpf/*.bpf.o, plus a libbpf
# skeleton for each.
BPF_SRCS	:= $(wildcard bpf/*.bpf.c tests/bench/bpf/*.bpf.c)
BPF_NAMES	:= $(notdir $(BPF_SRCS:.bpf.c=))
BPF_OBJS	:= $(BPF_NAMES:%=$(BPFOUT)/%.bpf.o)
BPF_SKELS	:= $(BPF_NAMES:%=$(GEN)/%.skel.h)
