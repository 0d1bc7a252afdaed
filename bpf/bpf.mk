# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# BPF programs: bpf/*.bpf.c -> build/bpf/*.bpf.o, plus a libbpf skeleton for each.
BPF_SRCS	:= $(wildcard bpf/*.bpf.c)
BPF_OBJS	:= $(patsubst bpf/%.bpf.c,$(BPFOUT)/%.bpf.o,$(BPF_SRCS))
BPF_SKELS	:= $(patsubst bpf/%.bpf.c,$(GEN)/%.skel.h,$(BPF_SRCS))
