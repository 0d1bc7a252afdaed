# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Three layers (see docs/testing.md): unit tests (built with ASan+UBSan), BPF_PROG_TEST_RUN
# tests of every program, and integration tests on veth devices in namespaces.

SAN_FLAGS	:= -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
# Linked statically: with GCC's shared libasan and libubsan, UBSan's reports ignore
# log_path (UBSAN_OPTIONS and ASAN_OPTIONS alike) and go to stderr, where a daemon's are
# lost; tests/run.sh reads the files.
SAN_LDFLAGS	:= $(SAN_FLAGS) -static-libasan -static-libubsan
SANOBJ		:= $(OBJ)/san

# Canned recipes of the test programs. test_link: link the prerequisites ($^), with the
# libraries $(1) after them. test_link_san: the same under ASan+UBSan, printed as $(1), with
# the libraries $(2). test_build_tsan: build a program from its sources ($^) under
# ThreadSanitizer, with the include flags $(1) and the libraries $(2).
define test_link
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(EP_LDFLAGS) $(1)
endef
define test_link_san
	$(call msg,$(1),$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(SAN_LDFLAGS) -o $@ $^ $(EP_LDFLAGS) $(2)
endef
define test_build_tsan
	$(call msg,CC-TSAN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) -O1 -g -fsanitize=thread $(EP_CFLAGS) $(1) -o $@ $^ $(EP_LDFLAGS) $(2)
endef

$(SANOBJ)/%.o: %.c
	$(call msg,CC-SAN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(EP_CFLAGS) $(SAN_FLAGS) $(EXTRA_CFLAGS_$(<D)) -c $< -o $@

# Sanitized copies of the libraries, for the unit tests.
$(LIB)/libepcore-san.a: $(patsubst %.c,$(SANOBJ)/%.o,$(CORE_SRCS) $(FCODEC_SRCS))
$(LIB)/libephandlers-san.a: $(patsubst %.c,$(SANOBJ)/%.o,$(HANDLER_SRCS) $(PNG_SRCS))
$(LIB)/libepcore-rt-san.a: $(SANOBJ)/dataplane/core/cache.o $(SANOBJ)/dataplane/core/batch.o \
			     $(SANOBJ)/dataplane/core/registry.o $(SANOBJ)/dataplane/core/token.o \
			     $(SANOBJ)/dataplane/core/sign.o $(SANOBJ)/dataplane/core/crypt.o \
			     $(SANOBJ)/dataplane/core/keys.o
$(LIB)/libepclient-san.a: $(patsubst %.c,$(SANOBJ)/%.o,$(CLIENT_SRCS) $(ENROLL_SRCS))
$(LIB)/libepmetrics-san.a: $(SANOBJ)/userspace/common/metrics.o $(SANOBJ)/userspace/common/unixsock.o
$(LIB)/libepcommon-san.a: $(patsubst %.c,$(SANOBJ)/%.o,$(COMMON_SRCS))
$(LIB)/libepcontrol-san.a: $(patsubst %,$(SANOBJ)/control/%.o,table registry policy keystore roles \
			    report_auth) \
			    $(SANOBJ)/userspace/common/confread.o
EXTRA_CFLAGS_tests/unit := -Idataplane -Iuserspace/client -Icontrol

# The daemons and edgeload under ASan+UBSan, for the integration tests (`make test-run`
# runs them with these; docs/testing.md, "Sanitizers"): build/bin-san/ holds the three and
# the tools edgeplane-xdp and edgeplane-fault. Benchmarks and the demo use build/bin.
SANBIN		:= $(BUILD)/bin-san
$(LIB)/libeprt-san.a: $(patsubst %.c,$(SANOBJ)/%.o,$(RT_SRCS))
$(LIB)/libepxdp-san.a: $(patsubst %.c,$(SANOBJ)/%.o,$(XDP_SRCS))
$(LIB)/libepcontrol-all-san.a: $(patsubst %.c,$(SANOBJ)/%.o,$(CONTROL_SRCS))
$(SANOBJ)/dataplane/xdp/ep_xdp.o: $(GEN)/ep_classifier.skel.h
$(SANOBJ)/control/gw.o $(SANOBJ)/control/probe.o: $(GEN)/ep_gateway.skel.h
$(SANOBJ)/dataplane/io/dpdk.o: EXTRA_CFLAGS_dataplane/io += $(DPDK_CFLAGS) \
	$(if $(DPDK_LIBS),-DEP_HAVE_DPDK)
# bpf/lib/parse.h reads IP headers in place, 2 bytes off their alignment behind Ethernet in
# every AF_XDP and DPDK frame (as the fuzz build says, tests/fuzz/fuzz.mk): not checked.
$(SANOBJ)/dataplane/io/frame.o: SAN_FLAGS += -fno-sanitize=alignment
# The built-in handlers are linked plain: pure compute that the unit tests (test_handlers,
# test_infer) and the fuzz targets run under ASan+UBSan already, and whose slowdown under
# them (3-5x for a blur) broke the timing of tests about the runtime (a SIGTERM drain).
$(SANBIN)/edgeplane: $(SANOBJ)/dataplane/daemon/main.o $(LIB)/libeprt-san.a \
		     $(LIB)/libepcommon-san.a $(HANDLERS_LIB) $(LIB)/libepxdp-san.a $(LIB)/libepclient-san.a \
		     $(LIB)/libepcore-san.a
	$(call test_link_san,LINK-SAN,$(RT_LIBS) $(HANDLER_LIBS) $(BPF_LIBS) $(DPDK_LIBS))
$(SANBIN)/edgectl: $(patsubst %.c,$(SANOBJ)/%.o,$(EDGECTL_SRCS)) $(LIB)/libepcontrol-all-san.a \
		   $(LIB)/libepcommon-san.a $(LIB)/libepxdp-san.a $(LIB)/libepclient-san.a \
		   $(LIB)/libepcore-san.a
	$(call test_link_san,LINK-SAN,$(CONTROL_LIBS) $(BPF_LIBS) -lm)
$(SANBIN)/edgeload: $(patsubst %.c,$(SANOBJ)/%.o,$(EDGELOAD_SRCS)) $(LIB)/libepclient-san.a \
		    $(HANDLERS_LIB) $(LIB)/libepcore-san.a
	$(call test_link_san,LINK-SAN,$(HANDLER_LIBS) $(ZSTD_LIBS) $(ENROLL_LIBS))
$(SANBIN)/edgeplane-xdp: $(SANOBJ)/dataplane/tools/edgeplane-xdp.o $(LIB)/libepxdp-san.a \
			$(LIB)/libepcore-san.a
	$(call test_link_san,LINK-SAN,$(BPF_LIBS))
$(SANOBJ)/vm/fault.o: $(GEN)/ep_fault.skel.h
$(SANBIN)/edgeplane-fault: $(SANOBJ)/vm/fault.o $(LIB)/libepxdp-san.a $(LIB)/libepcore-san.a
	$(call test_link_san,LINK-SAN,$(BPF_LIBS))
SAN_BINS	:= $(addprefix $(SANBIN)/,edgeplane edgectl edgeload edgeplane-xdp edgeplane-fault)

# Unit tests: tests/unit/test_*.c, each linked with the sanitized libraries.
UNIT_SRCS	:= $(wildcard tests/unit/test_*.c)
UNIT_BINS	:= $(patsubst tests/unit/%.c,$(TESTOUT)/unit/%,$(UNIT_SRCS))
$(TESTOUT)/unit/%: $(SANOBJ)/tests/unit/%.o $(LIB)/libepcore-rt-san.a $(LIB)/libepclient-san.a \
		   $(LIB)/libepcontrol-san.a $(LIB)/libephandlers-san.a $(LIB)/libepmetrics-san.a $(LIB)/libepcore-san.a
	$(call test_link_san,LINK,$(HANDLER_LIBS) $(ZSTD_LIBS) \
		$(call pc_libs,libmicrohttpd libcrypto libconfig) $(ENROLL_LIBS))

# The etcd client's test reaches cluster.c, which is the controller's: link it as edgectl.
$(TESTOUT)/unit/test_etcd: $(SANOBJ)/tests/unit/test_etcd.o $(LIB)/libepcontrol-all-san.a \
			   $(LIB)/libepcommon-san.a $(LIB)/libepxdp-san.a $(LIB)/libepclient-san.a \
			   $(LIB)/libepcore-san.a
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(SAN_LDFLAGS) -o $@ $^ $(EP_LDFLAGS) $(CONTROL_LIBS) $(BPF_LIBS) -lm

# test_clauth again under ThreadSanitizer: a session's renewal thread and threads sealing
# at once.
UNIT_BINS	+= $(TESTOUT)/unit/test_clauth-tsan
$(TESTOUT)/unit/test_clauth-tsan: tests/unit/test_clauth.c $(CLIENT_SRCS) $(ENROLL_SRCS) \
				  $(CORE_SRCS) $(FCODEC_SRCS)
	$(call test_build_tsan,$(EXTRA_CFLAGS_tests/unit),$(ZSTD_LIBS) $(ENROLL_LIBS) -lm)

# The key table's test again under ThreadSanitizer, built from the sources: its readers and
# writer run concurrently.
UNIT_BINS	+= $(TESTOUT)/unit/test_keytab-tsan
$(TESTOUT)/unit/test_keytab-tsan: tests/unit/test_keytab.c dataplane/core/keys.c $(CORE_SRCS)
	$(call test_build_tsan,-Idataplane,$(ZSTD_LIBS) -lm)

# BPF program tests.
EXTRA_CFLAGS_tests/bpf	:= -Idataplane
EXTRA_CFLAGS_tests/bench := -Idataplane
TEST_LIB_OBJS	:= $(OBJ)/tests/lib/pkt.o
BPFTEST_BINS	:= $(TESTOUT)/bpf/test_classifier
$(OBJ)/tests/bpf/test_classifier.o: $(GEN)/ep_classifier.skel.h $(GEN)/ep_classifier_dpdk.skel.h
$(TESTOUT)/bpf/test_classifier: $(OBJ)/tests/bpf/test_classifier.o $(TEST_LIB_OBJS) \
				$(XDP_LIB) $(CORE_LIB)
	$(call test_link,$(BPF_LIBS))

# The gateway's test also loads the classifier, to take the gateway's encapsulation off.
BPFTEST_BINS	+= $(TESTOUT)/bpf/test_gateway
$(OBJ)/tests/bpf/test_gateway.o: $(GEN)/ep_gateway.skel.h $(GEN)/ep_classifier.skel.h
$(TESTOUT)/bpf/test_gateway: $(OBJ)/tests/bpf/test_gateway.o $(OBJ)/control/table.o \
			     $(TEST_LIB_OBJS) $(XDP_LIB) $(CORE_LIB)
	$(call test_link,$(BPF_LIBS))

# Tools the integration tests drive.
TOOL_NAMES	:= eptest-send eptest-sink eptest-xsk eptest-report eptest-burst eptest-attack \
		   eptest-ack
TOOL_BINS	:= $(addprefix $(TESTOUT)/tools/,$(TOOL_NAMES))
EXTRA_CFLAGS_tests/tools := -Idataplane
$(TESTOUT)/tools/%: $(OBJ)/tests/tools/%.o $(RT_LIB) $(XDP_LIB) $(CORE_LIB)
	$(call test_link,$(BPF_LIBS))

# A bug on purpose under ASan+UBSan (test_sanitizers.sh: the runner fails what it reports).
TOOL_BINS	+= $(TESTOUT)/tools/eptest-sanbug
$(TESTOUT)/tools/eptest-sanbug: $(SANOBJ)/tests/tools/eptest-sanbug.o
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(SAN_LDFLAGS) -o $@ $^

# End-to-end checks against a running runtime, and the test plugin it loads.
EXTRA_CFLAGS_tests/integration := -Idataplane
TOOL_BINS	+= $(TESTOUT)/tools/eptest-e2e
$(TESTOUT)/tools/eptest-e2e: $(OBJ)/tests/integration/e2e.o $(CLIENT_LIB) $(HANDLERS_LIB) \
			     $(CORE_LIB)
	$(call test_link,$(HANDLER_LIBS) $(ZSTD_LIBS) $(ENROLL_LIBS))

# The enrollment client module, driven by test_enroll.sh.
TOOL_BINS	+= $(TESTOUT)/tools/eptest-enroll
$(TESTOUT)/tools/eptest-enroll: $(OBJ)/tests/tools/eptest-enroll.o $(CLIENT_LIB) $(CORE_LIB)
	$(call test_link,$(ENROLL_LIBS))

# Bytes out over bytes in for an unvalidated source, per handler (test_amplification.sh,
# `make bench-amp`), and the node's other limits and the library's answers to them
# (test_limits.sh).
TOOL_BINS	+= $(TESTOUT)/tools/eptest-amp $(TESTOUT)/tools/eptest-limits
$(TESTOUT)/tools/eptest-amp $(TESTOUT)/tools/eptest-limits: $(TESTOUT)/tools/%: \
		$(OBJ)/tests/tools/%.o $(CLIENT_LIB) $(CORE_LIB)
	$(call test_link,$(ZSTD_LIBS) $(ENROLL_LIBS) -lm)

# A device with a session key, that seals and breaks the rules on purpose (test_auth.sh).
TOOL_BINS	+= $(TESTOUT)/tools/eptest-auth
$(TESTOUT)/tools/eptest-auth: $(OBJ)/tests/tools/eptest-auth.o $(CLIENT_LIB) $(CORE_LIB)
	$(call test_link,$(ENROLL_LIBS) $(ZSTD_LIBS) $(call pc_libs,libxxhash zlib))

# Built against the shared libedgeplane with its public header only, as a user would.
TOOL_BINS	+= $(TESTOUT)/tools/eptest-loss
$(TESTOUT)/tools/eptest-loss: $(OBJ)/tests/integration/loss.o $(CLIENT_SO)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -o $@ $< -L$(LIB) -ledgeplane -Wl,-rpath,'$$ORIGIN/../../lib' \
		-lz $(EP_LDFLAGS)

TOOL_BINS	+= $(TESTOUT)/tools/eptest-threads
$(TESTOUT)/tools/eptest-threads: $(OBJ)/tests/integration/threads.o $(CLIENT_SO)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -o $@ $< -L$(LIB) -ledgeplane -Wl,-rpath,'$$ORIGIN/../../lib' \
		$(EP_LDFLAGS)

# The same under ThreadSanitizer, built from the sources.
TOOL_BINS	+= $(TESTOUT)/tools/eptest-threads-tsan
$(TESTOUT)/tools/eptest-threads-tsan: tests/integration/threads.c $(CLIENT_SRCS) $(ENROLL_SRCS) \
				      $(CORE_SRCS) $(FCODEC_SRCS)
	$(call test_build_tsan,-Iuserspace/client,$(ZSTD_LIBS) $(ENROLL_LIBS) -lm)

# The test plugins: each a shared object from its one source ($<) and the handler ABI
# header alone, as a third party would build one, with the libraries $(1).
define test_plugin_so
	$(call msg,CC-SO,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter $(EP_WARN) \
		-Wmissing-prototypes -fPIC -shared -Iuserspace/include -o $@ $< $(1)
endef
WORK_PLUGIN	:= $(TESTOUT)/plugins/libepwork.so
TOOL_BINS	+= $(WORK_PLUGIN)
$(WORK_PLUGIN): tests/plugins/work_plugin.c userspace/include/edgeplane/handler.h
	$(call test_plugin_so)

TEST_PLUGIN	:= $(TESTOUT)/plugins/libepcount.so
TOOL_BINS	+= $(TEST_PLUGIN)
$(TEST_PLUGIN): tests/plugins/count_plugin.c userspace/include/edgeplane/handler.h
	$(call test_plugin_so,-lz)

# Benchmarks.
BENCH_BINS	+= $(TESTOUT)/bench/bench_classify
$(OBJ)/tests/bench/bench_classify.o: $(GEN)/ep_classifier.skel.h $(GEN)/bench_pass.skel.h
$(TESTOUT)/bench/bench_classify: $(OBJ)/tests/bench/bench_classify.o $(TEST_LIB_OBJS) \
				 $(XDP_LIB) $(CORE_LIB)
	$(call test_link,$(BPF_LIBS))

BENCH_BINS	+= $(TESTOUT)/bench/epgen
$(OBJ)/tests/bench/epgen.o: $(GEN)/ep_loadgen.skel.h
$(TESTOUT)/bench/epgen: $(OBJ)/tests/bench/epgen.o $(OBJ)/userspace/common/png.o $(RT_LIB) \
			$(XDP_LIB) $(CORE_LIB)
	$(call test_link,$(BPF_LIBS) $(call pc_libs,libpng))

# `make bench-lb`: the open-loop blaster (and sink counter), and the userspace proxy
# baseline, which reads the gateway's pinned maps through libepcontrol's gw.c.
BENCH_BINS	+= $(TESTOUT)/bench/epblast
$(OBJ)/tests/bench/epblast.o: $(GEN)/bench_sink.skel.h
$(TESTOUT)/bench/epblast: $(OBJ)/tests/bench/epblast.o $(RT_LIB) $(XDP_LIB) $(CORE_LIB)
	$(call test_link,$(BPF_LIBS))

# `make bench-lb`'s table section: the Maglev table's rebuild time (control/table.c).
BENCH_BINS	+= $(TESTOUT)/bench/bench_table
$(OBJ)/tests/bench/bench_table.o: EXTRA_CFLAGS_tests/bench += -Icontrol
$(TESTOUT)/bench/bench_table: $(OBJ)/tests/bench/bench_table.o $(OBJ)/control/table.o $(CORE_LIB)
	$(call test_link,$(BPF_LIBS))

# `make bench-lb`'s per-packet section: the gateway's BPF_PROG_TEST_RUN cost by node count.
BENCH_BINS	+= $(TESTOUT)/bench/bench_gwpath
$(OBJ)/tests/bench/bench_gwpath.o: EXTRA_CFLAGS_tests/bench += -Icontrol
$(OBJ)/tests/bench/bench_gwpath.o: $(GEN)/ep_gateway.skel.h
$(TESTOUT)/bench/bench_gwpath: $(OBJ)/tests/bench/bench_gwpath.o $(OBJ)/control/table.o \
			       $(TEST_LIB_OBJS) $(XDP_LIB) $(CORE_LIB)
	$(call test_link,$(BPF_LIBS))

# `make bench-lb`'s node-count section: load reports for thousands of node ids.
BENCH_BINS	+= $(TESTOUT)/bench/epreports
$(TESTOUT)/bench/epreports: $(OBJ)/tests/bench/epreports.o $(CORE_LIB)
	$(call test_link,$(ZSTD_LIBS))

# `make bench-lb`'s drain section: when a drain reaches gateways' pinned maps.
BENCH_BINS	+= $(TESTOUT)/bench/epdrainwatch
$(TESTOUT)/bench/epdrainwatch: $(OBJ)/tests/bench/epdrainwatch.o $(CORE_LIB)
	$(call test_link,$(BPF_LIBS) $(ZSTD_LIBS))

# docs/scale.md's sizes: the gateway's maps as the kernel charges them, the registry.
BENCH_BINS	+= $(TESTOUT)/bench/scale_sizes
$(OBJ)/tests/bench/scale_sizes.o: EXTRA_CFLAGS_tests/bench += -Icontrol
$(OBJ)/tests/bench/scale_sizes.o: $(GEN)/ep_gateway.skel.h
$(TESTOUT)/bench/scale_sizes: $(OBJ)/tests/bench/scale_sizes.o $(XDP_LIB) $(CORE_LIB)
	$(call test_link,$(BPF_LIBS))

BENCH_BINS	+= $(TESTOUT)/bench/epproxy
$(OBJ)/tests/bench/epproxy.o: EXTRA_CFLAGS_tests/bench += -Icontrol
$(TESTOUT)/bench/epproxy: $(OBJ)/tests/bench/epproxy.o $(CONTROL_LIB) $(XDP_LIB) $(CORE_LIB)
	$(call test_link,$(BPF_LIBS))

TEST_BINS	+= $(UNIT_BINS) $(BPFTEST_BINS) $(TOOL_BINS)
TEST_PROGS	+= $(UNIT_BINS) $(BPFTEST_BINS) $(sort $(wildcard tests/integration/test_*.sh))
