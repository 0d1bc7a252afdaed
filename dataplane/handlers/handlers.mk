# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Built-in task handlers (libephandlers.a) and the PNG helper they and the clients share.
# matmul uses BLIS (libblis-serial-dev), which has no pkg-config file: -lblis finds the
# variant Debian's alternatives select, and <blis.h> lives in the multiarch include path.
HANDLER_SRCS	:= $(wildcard dataplane/handlers/*.c)
PNG_SRCS	:= userspace/common/png.c
HANDLER_PKGS	:= libzstd libpng zlib libxxhash
HANDLER_LIBS	:= $(call pc_libs,$(HANDLER_PKGS)) -lblis -lm
HANDLERS_LIB	:= $(LIB)/libephandlers.a
$(HANDLERS_LIB): $(patsubst %.c,$(OBJ)/%.o,$(HANDLER_SRCS) $(PNG_SRCS))
# The pixel kernels are row loops written for the vectoriser, which -O2's "very cheap" cost
# model leaves scalar; with it the blurs run 3-4x faster. (Both the plain and the
# sanitized object match the pattern.)
%/dataplane/handlers/imgops.o: EXTRA_CFLAGS_dataplane/handlers += -ftree-vectorize \
							  -fvect-cost-model=dynamic

# The real photographs the handler tests use (Debian's python3-skimage data).
IMAGES_DIR	:= $(BUILD)/data/images
IMAGES_STAMP	:= $(IMAGES_DIR)/.stamp
$(IMAGES_STAMP): scripts/fetch-images.sh
	$(call msg,FETCH,$(IMAGES_DIR))
	$(Q)scripts/fetch-images.sh $(IMAGES_DIR)
	$(Q)touch $@
$(IMAGES_DIR)/%.png: $(IMAGES_STAMP) ;

# infer's model generator (writes model files and feature-vector payloads) and its batching
# benchmark. Explicit rules: the tools pattern rule in tests/tests.mk would link libxdp.
TEST_BINS	+= $(TESTOUT)/tools/mkmodel
$(TESTOUT)/tools/mkmodel: $(OBJ)/tests/tools/mkmodel.o
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(EP_LDFLAGS) -lm

BENCH_BINS	+= $(TESTOUT)/bench/bench_infer
$(TESTOUT)/bench/bench_infer: $(OBJ)/tests/bench/bench_infer.o $(HANDLERS_LIB) $(LIB)/libepcore.a
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(EP_LDFLAGS) $(HANDLER_LIBS)

# What a unit of handler work costs (limits.max_work's default; docs/handlers.md, "Work").
BENCH_BINS	+= $(TESTOUT)/bench/bench_work
$(TESTOUT)/bench/bench_work: $(OBJ)/tests/bench/bench_work.o $(HANDLERS_LIB) $(LIB)/libepcore.a
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(EP_LDFLAGS) $(HANDLER_LIBS)

# The frame codec on the real frames (`make bench-codec`, tests/bench/bench_codec.c).
BENCH_BINS	+= $(TESTOUT)/bench/bench_codec
$(TESTOUT)/bench/bench_codec: $(OBJ)/tests/bench/bench_codec.o $(HANDLERS_LIB) \
			      $(LIB)/libepcore.a
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(EP_LDFLAGS) $(HANDLER_LIBS)
