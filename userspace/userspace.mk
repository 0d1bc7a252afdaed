# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# libepcore.a: logging, the wire codec and reassembly. No BPF dependencies, so clients link
# it as well as the runtime.
CORE_SRCS	:= userspace/common/log.c userspace/common/hist.c userspace/common/util.c \
		   userspace/common/addrset.c userspace/common/auth.c \
		   userspace/codec/codec.c \
		   userspace/codec/ack.c \
		   userspace/codec/reasm.c \
		   userspace/common/imgstat.c userspace/common/opt.c
CORE_LIB	:= $(LIB)/libepcore.a
# The frame codec needs libzstd, which not everything that links the core objects does (the
# fuzz targets, the sanitizer builds of single modules): it is in the archives and the
# shared library, and named where objects are linked one by one.
FCODEC_SRCS	:= userspace/codec/fcodec.c
# The frame codec's row kernel is written for the vectoriser (as the image handlers').
%/userspace/codec/fcodec.o: EXTRA_CFLAGS_userspace/codec += -ftree-vectorize \
							   -fvect-cost-model=dynamic
$(CORE_LIB): $(patsubst %.c,$(OBJ)/%.o,$(CORE_SRCS) $(FCODEC_SRCS))

# Enrollment with the controller over mutual TLS (edgeplane/enroll.h): in libedgeplane for
# devices (an authenticated session enrolls through it, ep_client_open_auth()), and for
# the runtime and the controller (who link $(CLIENT_LIB) and $(ENROLL_LIBS)). Whatever
# links the client library links $(ENROLL_LIBS) too. The shared library does not export it:
# its header is not installed until its structs have their final home (edgeplane/auth.h).
ENROLL_SRCS	:= userspace/common/enroll.c
ENROLL_LIBS	:= $(call pc_libs,libssl libcrypto jansson)

# libedgeplane: the client library. Static for our own tools; a shared library with a
# soname and a version script that exports only the API for others, plus a pkg-config
# file that `make install` writes for its PREFIX.
CLIENT_SRCS	:= userspace/client/client.c userspace/client/retry.c userspace/client/offload.c \
		   userspace/client/keyring.c userspace/client/frame.c
CLIENT_LIB	:= $(LIB)/libedgeplane.a
$(CLIENT_LIB): $(patsubst %.c,$(OBJ)/%.o,$(CLIENT_SRCS) $(ENROLL_SRCS))

EP_VERSION	:= 0.1.0
# The one place the programs' --version comes from (userspace/common/opt.c): EP_VERSION and
# the git revision of the tree built, rewritten only when either changes.
EP_GIT_REV	:= $(shell git describe --always --dirty 2>/dev/null || echo unknown)
$(GEN)/ep_version.h: FORCE
	$(Q)mkdir -p $(@D)
	$(Q)printf '#define EP_VERSION "%s"\n#define EP_GIT_REV "%s"\n' '$(EP_VERSION)' \
		'$(EP_GIT_REV)' >$@.tmp
	$(Q)if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi
$(OBJ)/userspace/common/opt.o $(OBJ)/pic/userspace/common/opt.o: $(GEN)/ep_version.h
.PHONY: FORCE
FORCE:
PREFIX		?= /usr/local
PICOBJ		:= $(OBJ)/pic
CLIENT_SO	:= $(LIB)/libedgeplane.so.1.0.0
BINS		+= $(CLIENT_SO)

$(PICOBJ)/%.o: %.c
	$(call msg,CC-PIC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(EP_CFLAGS) -fPIC -c $< -o $@

$(CLIENT_SO): $(patsubst %.c,$(PICOBJ)/%.o,$(CLIENT_SRCS) $(ENROLL_SRCS) $(CORE_SRCS) \
					  $(FCODEC_SRCS)) \
	      userspace/client/libedgeplane.map
	$(call msg,LINK-SO,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -shared -Wl,-soname,libedgeplane.so.1 \
		-Wl,--version-script=userspace/client/libedgeplane.map -o $@ \
		$(filter %.o,$^) $(EP_LDFLAGS) $(ZSTD_LIBS) $(ENROLL_LIBS) -lm
	$(Q)ln -sf $(notdir $@) $(LIB)/libedgeplane.so.1
	$(Q)ln -sf libedgeplane.so.1 $(LIB)/libedgeplane.so


# edgeload
EDGELOAD_SRCS	:= $(wildcard userspace/edgeload/*.c)
BINS += $(BIN)/edgeload
$(BIN)/edgeload: $(patsubst %.c,$(OBJ)/%.o,$(EDGELOAD_SRCS)) $(CLIENT_LIB) $(HANDLERS_LIB) \
		 $(CORE_LIB)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(EP_LDFLAGS) $(HANDLER_LIBS) $(ZSTD_LIBS) $(ENROLL_LIBS)
