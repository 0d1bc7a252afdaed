# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Fuzz targets (docs/testing.md, "Fuzzing"): one libFuzzer harness per parser that takes
# bytes from the network or from a file, built with clang's -fsanitize=fuzzer and
# AddressSanitizer + UBSan, against the project's sources compiled the same way. Outputs
# under build/fuzz/ only.
#
#   make fuzz                   every target for FUZZ_SECONDS (60) each; prints runs, cov/ft
#                               and crashes per target (FUZZ_TARGETS=regex to choose,
#                               FUZZ_JOBS=N to run N at once)
#   make fuzz-build             build the targets (`make` does when clang can)
#   make fuzz-cov               line coverage of the corpora (llvm-cov), per target
#
# `make test` runs each target for a few seconds (tests/fuzz/test_fuzz.sh). Whether clang's
# fuzzer runtime works is probed here, by building a trivial fuzzer; without it the
# targets are not built and the test layer says why it skipped.

FUZZ_CC		?= clang
FUZZOUT		:= $(BUILD)/fuzz
FUZZOBJ		:= $(FUZZOUT)/obj
FUZZBIN		:= $(FUZZOUT)/bin
FUZZ_SAN	:= -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
# The project's flags less -Werror: clang warns about other things than gcc, and the gcc
# build is the one that gates warnings.
FUZZ_CFLAGS	:= -O1 -g $(FUZZ_SAN) -fsanitize=fuzzer-no-link \
		   $(filter-out -Werror,$(EP_CFLAGS)) -Wno-unused-command-line-argument
FUZZ_LDFLAGS	:= $(FUZZ_SAN) -fsanitize=fuzzer -pthread $(call pc_libs,libcrypto)
# A directory's extra flags, less gcc-only ones (handlers.mk's vectoriser cost model).
fuzz_extra = $(filter-out -fvect-cost-model=%,$(EXTRA_CFLAGS_$(1)))

# The probe: can this clang link a libFuzzer target with both sanitizers?
FUZZ_PROBE	:= $(shell printf 'int LLVMFuzzerTestOneInput(const char *d, long n) { return 0; }\n' | \
		     $(FUZZ_CC) -x c - -o /dev/null -fsanitize=fuzzer,address,undefined \
		     >/dev/null 2>&1 && echo ok)

FUZZ_HANDLERS	:= echo checksum resize box_blur gauss_blur sobel threshold blobs zstd matmul \
		   infer
FUZZ_PLAIN	:= codec fcodec reasm report ctl_api ctl_config rt_config model png client frame \
		   runtime enroll_key enroll_req
FUZZ_NAMES	:= $(FUZZ_PLAIN) $(addprefix handler_,$(FUZZ_HANDLERS))
FUZZ_BINS	:= $(addprefix $(FUZZBIN)/fuzz_,$(FUZZ_NAMES))
FUZZ_SEEDGEN	:= $(FUZZOUT)/mkseeds
FUZZ_SEEDS	:= $(FUZZOUT)/seeds/.stamp

# The compile rules of one build of the harnesses and of the sources under them (the
# sanitized one here, the coverage one below): $(1) its object directory, $(2) the label
# make prints, $(3) the name of its flags variable (read when the recipe runs, so that
# target-specific additions apply).
define fuzz_compile_rules
$(1)/%.o: %.c
	$$(call msg,$(2),$$@)
	$$(Q)mkdir -p $$(@D)
	$$(Q)$$(FUZZ_CC) $$($(3)) $$(call fuzz_extra,$$(<D)) -c $$< -o $$@

# One harness source per handler, built once for each with its name.
$(1)/tests/fuzz/fuzz_handler_%.o: tests/fuzz/fuzz_handler.c
	$$(call msg,$(2),$$@)
	$$(Q)mkdir -p $$(@D)
	$$(Q)$$(FUZZ_CC) $$($(3)) $$(EXTRA_CFLAGS_tests/fuzz) -DFUZZ_HANDLER='"$$*"' -c $$< -o $$@

$(1)/dataplane/xdp/ep_xdp.o: $$(GEN)/ep_classifier.skel.h
endef
$(eval $(call fuzz_compile_rules,$(FUZZOBJ),CC-FUZZ,FUZZ_CFLAGS))

EXTRA_CFLAGS_tests/fuzz	:= -Idataplane -Icontrol -Itests/fuzz

fuzz_objs = $(patsubst %.c,$(FUZZOBJ)/%.o,$(1))

FUZZ_CORE	:= $(call fuzz_objs,$(CORE_SRCS))
FUZZ_FCODEC	:= $(call fuzz_objs,$(FCODEC_SRCS))
FUZZ_HANDLERS_O	:= $(call fuzz_objs,$(HANDLER_SRCS) $(PNG_SRCS) dataplane/core/registry.c \
		     dataplane/core/sign.c)
# What a registry needs: the dynamic loader, and libcrypto for plugins' signatures.
FUZZ_REG_LIBS	:= $(call pc_libs,libcrypto) -ldl
FUZZ_WORKER_O	:= $(call fuzz_objs,dataplane/core/worker.c dataplane/core/cache.c \
		     dataplane/core/batch.c dataplane/core/token.c dataplane/core/keys.c)
# The controller less the gateway's BPF side (gw.c, probe.c): tests/fuzz/fake_gw.c stands
# in for the maps.
FUZZ_CONTROL_O	:= $(call fuzz_objs,$(filter-out control/gw.c control/probe.c,$(CONTROL_SRCS)) \
		     tests/fuzz/fake_gw.c dataplane/xdp/ep_xdp.c userspace/common/log_libs.c \
		     $(COMMON_SRCS) $(ENROLL_SRCS))
# bpf/lib/parse.h reads struct iphdr and ipv6hdr in place; behind a 14-byte Ethernet header
# they are 2 bytes off their natural alignment, in every AF_XDP and DPDK frame. x86-64
# does not mind; UBSan's alignment check would stop at every frame (docs/testing.md).
$(FUZZOBJ)/dataplane/io/frame.o: FUZZ_CFLAGS += -fno-sanitize=alignment
FUZZ_RTCONF_O	:= $(call fuzz_objs,dataplane/daemon/config.c dataplane/daemon/report.c \
		     dataplane/daemon/sysload.c dataplane/daemon/keysrc.c $(ENROLL_SRCS) \
		     userspace/common/confread.c \
		     userspace/common/metrics.c userspace/common/unixsock.c \
		     dataplane/xdp/ep_xdp.c userspace/common/log_libs.c)

FUZZ_DEPS_codec		:= $(FUZZ_CORE)
FUZZ_DEPS_fcodec	:= $(FUZZ_FCODEC) $(FUZZ_CORE)
FUZZ_LIBS_fcodec	:= $(ZSTD_LIBS)
FUZZ_DEPS_reasm		:= $(FUZZ_CORE)
FUZZ_DEPS_frame		:= $(call fuzz_objs,dataplane/io/frame.c) $(FUZZ_CORE)
FUZZ_DEPS_png		:= $(call fuzz_objs,$(PNG_SRCS)) $(FUZZ_CORE)
FUZZ_LIBS_png		:= $(call pc_libs,libpng)
FUZZ_DEPS_model		:= $(FUZZ_HANDLERS_O) $(FUZZ_CORE)
FUZZ_LIBS_model		:= $(HANDLER_LIBS) $(FUZZ_REG_LIBS)
FUZZ_DEPS_client	:= $(call fuzz_objs,$(CLIENT_SRCS) $(ENROLL_SRCS)) $(FUZZ_FCODEC) $(FUZZ_CORE)
FUZZ_LIBS_client	:= $(ZSTD_LIBS) $(ENROLL_LIBS) -lm
FUZZ_DEPS_runtime	:= $(FUZZ_WORKER_O) $(FUZZ_HANDLERS_O) $(FUZZ_FCODEC) $(FUZZ_CORE)
FUZZ_LIBS_runtime	:= $(HANDLER_LIBS) $(ZSTD_LIBS) $(call pc_libs,libxxhash libcrypto) -ldl
FUZZ_DEPS_report	:= $(FUZZ_CONTROL_O) $(FUZZ_CORE)
FUZZ_LIBS_report	:= $(CONTROL_LIBS) $(BPF_LIBS) -lm
FUZZ_DEPS_ctl_api	:= $(FUZZ_DEPS_report)
FUZZ_LIBS_ctl_api	:= $(FUZZ_LIBS_report)
FUZZ_DEPS_ctl_config	:= $(FUZZ_DEPS_report)
FUZZ_LIBS_ctl_config	:= $(FUZZ_LIBS_report)
FUZZ_DEPS_enroll_key	:= $(call fuzz_objs,$(ENROLL_SRCS)) $(FUZZ_CORE)
FUZZ_LIBS_enroll_key	:= $(ENROLL_LIBS)
FUZZ_DEPS_enroll_req	:= $(FUZZ_DEPS_report)
FUZZ_LIBS_enroll_req	:= $(FUZZ_LIBS_report)
FUZZ_DEPS_rt_config	:= $(FUZZ_RTCONF_O) $(FUZZ_WORKER_O) $(FUZZ_HANDLERS_O) $(FUZZ_FCODEC) \
			   $(FUZZ_CORE)
FUZZ_LIBS_rt_config	:= $(call pc_libs,libconfig libmicrohttpd) $(HANDLER_LIBS) \
			   $(ZSTD_LIBS) $(call pc_libs,libxxhash libcrypto) $(ENROLL_LIBS) \
			   $(BPF_LIBS) -ldl
$(foreach h,$(FUZZ_HANDLERS),$(eval FUZZ_DEPS_handler_$(h) := $(FUZZ_HANDLERS_O) $(FUZZ_CORE)))
$(foreach h,$(FUZZ_HANDLERS),$(eval FUZZ_LIBS_handler_$(h) := $(HANDLER_LIBS) $(FUZZ_REG_LIBS)))

.SECONDEXPANSION:
$(FUZZBIN)/fuzz_%: $(FUZZOBJ)/tests/fuzz/fuzz_%.o $$(FUZZ_DEPS_$$*)
	$(call msg,LINK-FZ,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(FUZZ_CC) -o $@ $^ $(FUZZ_LIBS_$*) $(FUZZ_LDFLAGS)

# Binary seeds (datagrams, fragment sequences, reports, images, models) written by a
# generator built with the ordinary compiler from the codec; text seeds are committed in
# tests/fuzz/corpus/.
$(FUZZ_SEEDGEN): $(OBJ)/tests/fuzz/mkseeds.o $(TEST_LIB_OBJS) $(CORE_LIB)
	$(call test_link,$(call pc_libs,libpng zlib) $(ZSTD_LIBS) -lm)
$(FUZZ_SEEDS): $(FUZZ_SEEDGEN) docs/protocol.md
	$(call msg,SEEDS,$(@D))
	$(Q)rm -rf $(@D) && mkdir -p $(@D)
	$(Q)$(FUZZ_SEEDGEN) $(@D)
	$(Q)touch $@

.PHONY: fuzz fuzz-build fuzz-cov
ifeq ($(FUZZ_PROBE),ok)
TEST_BINS	+= $(FUZZ_BINS) $(FUZZ_SEEDS)
endif
TEST_PROGS	+= tests/fuzz/test_fuzz.sh

fuzz-build: $(FUZZ_BINS) $(FUZZ_SEEDS)

fuzz: fuzz-build
	$(Q)tests/fuzz/run.sh fuzz

# Line coverage: the corpora replayed through a build with clang's source-based coverage
# (no sanitizers), merged per target; `llvm-cov report` per target in build/fuzz/cov/.
FUZZ_COVOBJ	:= $(FUZZOUT)/covobj
FUZZ_COV_CFLAGS	:= -O1 -g -fprofile-instr-generate -fcoverage-mapping -fsanitize=fuzzer-no-link \
		   $(filter-out -Werror,$(EP_CFLAGS)) -Wno-unused-command-line-argument
$(eval $(call fuzz_compile_rules,$(FUZZ_COVOBJ),CC-COV,FUZZ_COV_CFLAGS))
# (A function: a literal % in a pattern rule's prerequisites would be taken for the stem.)
fuzz_cov_objs = $(patsubst $(FUZZOBJ)/%,$(FUZZ_COVOBJ)/%,$(1))
$(FUZZOUT)/covbin/fuzz_%: $(FUZZ_COVOBJ)/tests/fuzz/fuzz_%.o $$(call fuzz_cov_objs,$$(FUZZ_DEPS_$$*))
	$(call msg,LINK-COV,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(FUZZ_CC) -o $@ $^ -fprofile-instr-generate -fsanitize=fuzzer -pthread $(FUZZ_LIBS_$*) $(call pc_libs,libcrypto)

fuzz-cov: $(addprefix $(FUZZOUT)/covbin/fuzz_,$(FUZZ_NAMES)) $(FUZZ_SEEDS)
	$(Q)tests/fuzz/run.sh cov
