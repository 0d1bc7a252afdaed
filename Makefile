# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# edgeplane - one non-recursive Makefile; per-directory fragments in */*.mk.
# All outputs go under build/. Quiet by default; `make V=1` prints the commands.
#
#   make            build everything
#   make test       install missing packages, check formatting, run the static analysis
#                   (make check), build, run every test layer
#   make check      cppcheck and clang's analyzer over the userspace C code
#   make demo       install missing packages, build, run the demo on the local rig
#   make bench      run every benchmark and write docs/benchmarks.md
#   make bench-NAME one of them: classify, infer, runtime, lb, backends, amp, work, lossy,
#                   codec
#   make fuzz       run every fuzz target for FUZZ_SECONDS (60) each (tests/fuzz/fuzz.mk)
#   make format     reformat every C file to .clang-format; make format-check fails on a difference
#   make install    install the programs, libedgeplane, its headers and the man pages
#                   (PREFIX=/usr/local, DESTDIR for staging)
#   make deb        Debian packages into build/deb (debian/, docs/operations.md)
#   make help       list the targets

.DELETE_ON_ERROR:
.SECONDARY:
.SUFFIXES:
.DEFAULT_GOAL := all

BUILD	?= build
OBJ	:= $(BUILD)/obj
BIN	:= $(BUILD)/bin
LIB	:= $(BUILD)/lib
GEN	:= $(BUILD)/include
BPFOUT	:= $(BUILD)/bpf
TESTOUT	:= $(BUILD)/tests

CC		?= gcc
CLANG		?= clang
BPFTOOL		?= bpftool
PKG_CONFIG	?= pkg-config

ifeq ($(V),1)
Q :=
msg = @true
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
MAKEFLAGS += --no-print-directory
endif

# Flags of the Debian packages; empty until scripts/deps.sh has run (the `test`, `demo`
# and `bench` targets run it first and then re-enter make, so these are then filled in).
pc_cflags = $(shell $(PKG_CONFIG) --cflags $(1) 2>/dev/null)
pc_libs = $(shell $(PKG_CONFIG) --libs $(1) 2>/dev/null)

BPF_LIBS	:= $(call pc_libs,libxdp libbpf) -lelf -lz
ZSTD_LIBS	:= $(call pc_libs,libzstd)

# BPF programs see the UAPI headers of the host's multiarch include directory.
MULTIARCH	:= $(shell $(CC) -print-multiarch 2>/dev/null)
# Warnings past -Wall -Wextra, for both the programs and userspace (EP_CFLAGS). BPF programs
# skip -Wmissing-prototypes: their SEC() entry points are global by design (libbpf loads
# them and the skeleton names them; nothing in C calls them to share a prototype with), as
# in libbpf-bootstrap's examples, and every other function there is static.
EP_WARN		:= -Wshadow -Wformat=2 -Wstrict-prototypes -Wundef
BPF_CFLAGS	:= -O2 -g -target bpf -Wall -Wextra -Werror -Wno-unused-parameter $(EP_WARN) \
		   -Ibpf -Iuserspace/include $(if $(MULTIARCH),-idirafter /usr/include/$(MULTIARCH))

CFLAGS		?= -O2 -g
EP_CFLAGS	:= -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter $(EP_WARN) \
		   -Wmissing-prototypes -D_GNU_SOURCE \
		   -fno-strict-aliasing -Ibpf -Iuserspace/include -I$(GEN) -MMD -MP
# libcrypto: libepcore seals AUTH datagrams (userspace/common/auth.c), so all that links it
# needs OpenSSL's.
EP_LDFLAGS	:= $(LDFLAGS) -pthread $(call pc_libs,libcrypto)

# Filled in by the fragments.
BINS		:=
TEST_PROGS	:=
TEST_BINS	:=
BENCH_BINS	:=

include bpf/bpf.mk
include dataplane/handlers/handlers.mk
include userspace/userspace.mk
include dataplane/dataplane.mk
include control/control.mk
include vm/vm.mk
include tests/tests.mk
include tests/fuzz/fuzz.mk

export TEST_FILTER BUILD

.PHONY: all deps test test-run demo bench clean help format format-check install check cppcheck \
	dist deb

all: $(BPF_OBJS) $(BINS) $(TEST_BINS) $(BENCH_BINS)

deps:
	$(Q)scripts/deps.sh

# Formatting and static analysis first (a few minutes on a fresh tree, seconds after), then
# every test layer.
test: deps
	$(Q)$(MAKE) format-check && $(MAKE) check && $(MAKE) test-run

# The integration tests run the daemons, edgeload and the tools built with ASan+UBSan (EP_BIN;
# docs/testing.md, "Sanitizers").
test-run: all $(SAN_BINS) $(IMAGES_STAMP)
	$(Q)EP_BIN=$(abspath $(SANBIN)) tests/run.sh $(TEST_PROGS)

demo: deps
	$(Q)$(MAKE) all $(IMAGES_STAMP)
	$(Q)vm/demo.sh

BENCHES := classify infer runtime lb backends amp work lossy codec prio

bench: deps
	$(Q)$(MAKE) all $(IMAGES_STAMP)
	$(Q)tests/bench/bench.sh $(BENCHES)

bench-%: deps
	$(Q)$(MAKE) all $(IMAGES_STAMP)
	$(Q)tests/bench/bench.sh $*

# What ships: the programs, libedgeplane and the BPF objects (not the tests).
dist: $(BPF_OBJS) $(BINS)

install: dist
	$(call msg,INSTALL,$(DESTDIR)$(PREFIX))
	$(Q)install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig \
		$(DESTDIR)$(PREFIX)/include/edgeplane $(DESTDIR)$(PREFIX)/share/man/man1 \
		$(DESTDIR)$(PREFIX)/share/man/man3 $(DESTDIR)$(PREFIX)/share/man/man8
	$(Q)install -m 0755 $(BIN)/edgeplane $(BIN)/edgeplane-xdp $(BIN)/edgeload \
		$(BIN)/edgectl $(DESTDIR)$(PREFIX)/bin
	$(Q)install -m 0755 $(CLIENT_SO) $(DESTDIR)$(PREFIX)/lib
	$(Q)ln -sf $(notdir $(CLIENT_SO)) $(DESTDIR)$(PREFIX)/lib/libedgeplane.so.1
	$(Q)ln -sf libedgeplane.so.1 $(DESTDIR)$(PREFIX)/lib/libedgeplane.so
	$(Q)sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(EP_VERSION)|' \
		userspace/client/edgeplane.pc.in >$(DESTDIR)$(PREFIX)/lib/pkgconfig/edgeplane.pc
	$(Q)install -m 0644 $(addprefix userspace/include/edgeplane/,client.h offload.h \
		payload.h handler.h status.h) $(DESTDIR)$(PREFIX)/include/edgeplane
	$(Q)install -m 0644 docs/man/*.1 $(DESTDIR)$(PREFIX)/share/man/man1
	$(Q)install -m 0644 docs/man/*.3 $(DESTDIR)$(PREFIX)/share/man/man3
	$(Q)install -m 0644 docs/man/*.8 $(DESTDIR)$(PREFIX)/share/man/man8
	$(Q)install -d $(DESTDIR)$(PREFIX)/lib/edgeplane
	$(Q)install -m 0644 $(BPFOUT)/ep_classifier_dpdk.bpf.o $(DESTDIR)$(PREFIX)/lib/edgeplane

# Debian packages (debian/rules builds in build/deb-build with Debian's flags) into
# build/deb; -nc keeps build/, which holds this checkout's own build.
deb:
	$(call msg,DEB,$(BUILD)/deb)
	$(Q)mkdir -p $(BUILD)/deb
	$(Q)dpkg-buildpackage -b -nc --no-sign -j$(shell nproc) \
		--buildinfo-file=$(abspath $(BUILD)/deb)/edgeplane.buildinfo \
		--changes-file=$(abspath $(BUILD)/deb)/edgeplane.changes \
		--buildinfo-option=-u$(abspath $(BUILD)/deb) \
		--changes-option=-u$(abspath $(BUILD)/deb) $(if $(V),,>$(BUILD)/deb/build.log 2>&1 || \
		{ tail -30 $(BUILD)/deb/build.log; exit 1; })

clean:
	$(call msg,CLEAN,$(BUILD))
	$(Q)rm -rf $(BUILD)

# Static analysis: cppcheck over every userspace C file (tests included) and clang's
# analyzer over the code that ships (not tests/: there it reports what follows a failed
# EXPECT or a bail-out that returns from main(), which the unit tests' ASan and UBSan run
# anyway, and it would double make check's time). Any finding fails. A finding that is no bug is
# suppressed at its line with the reason (cppcheck-suppress), or the invariant is made
# explicit (an assert); scripts/cppcheck.cfg and scripts/analyzer.h say what the tools
# cannot see of the libraries. BPF programs are left out (clang -target bpf, the verifier).
CHECK_SRCS	:= $(filter-out %.bpf.c,$(wildcard userspace/*/*.c dataplane/*/*.c control/*.c \
		   control/*/*.c examples/*.c tests/*/*.c))
ANALYZE_SRCS	:= $(filter-out tests/%,$(CHECK_SRCS))
CHECK_INC	:= -Ibpf -Iuserspace/include -Iuserspace/client -Idataplane -Icontrol -Itests/fuzz \
		   -I$(GEN)
CHECK_DEFS	:= -D_GNU_SOURCE '-DFUZZ_HANDLER="blur"'
CHECKOUT	:= $(BUILD)/check

check: cppcheck $(ANALYZE_SRCS:%.c=$(CHECKOUT)/%.ok)

cppcheck: $(BPF_SKELS)
	$(call msg,CPPCHECK,$(words $(CHECK_SRCS)) files)
	$(Q)cppcheck -q -j$(shell nproc) --enable=warning --inline-suppr --error-exitcode=1 \
		--std=c11 --library=posix --library=scripts/cppcheck.cfg $(CHECK_DEFS) \
		$(CHECK_INC) --template='{file}:{line}: {severity}: {id}: {message}' $(CHECK_SRCS)

# One stamp per file, remade when the file or a header it includes changes.
$(CHECKOUT)/%.ok: %.c scripts/analyzer.h | $(BPF_SKELS)
	$(call msg,ANALYZE,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) --analyze -Xanalyzer -analyzer-output=text -Xanalyzer -analyzer-werror \
		-Xanalyzer -analyzer-config -Xanalyzer unix.DynamicMemoryModeling:Optimistic=true \
		-include scripts/analyzer.h -std=gnu11 $(CHECK_DEFS) $(CHECK_INC) \
		$(ANALYZE_FLAGS_$<) -MMD -MP -MF $(@:.ok=.d) -MT $@ -o /dev/null $<
	$(Q)touch $@
ANALYZE_FLAGS_dataplane/io/dpdk.c := $(DPDK_CFLAGS) $(if $(DPDK_LIBS),-DEP_HAVE_DPDK)

format:
	$(Q)clang-format -i $$(git ls-files '*.c' '*.h')

# Fails, naming each file and line, where the tree differs from .clang-format.
format-check:
	$(call msg,FORMAT,check)
	$(Q)clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

help:
	@sed -n 's/^#   //p' Makefile

# Generic rules.
$(OBJ)/%.o: %.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(EP_CFLAGS) $(EXTRA_CFLAGS_$(<D)) -c $< -o $@

$(BPFOUT)/%.bpf.o: bpf/%.bpf.c
	$(call msg,CLANG,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(BPF_CFLAGS) -MMD -MP -c $< -o $@

$(BPFOUT)/%.bpf.o: tests/bench/bpf/%.bpf.c
	$(call msg,CLANG,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(BPF_CFLAGS) -MMD -MP -c $< -o $@

$(GEN)/%.skel.h: $(BPFOUT)/%.bpf.o
	$(call msg,SKEL,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst -,_,$*) 2>$@.log > $@ || { cat $@.log >&2; exit 1; }

$(LIB)/%.a:
	$(call msg,AR,$@)
	$(Q)mkdir -p $(@D)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
