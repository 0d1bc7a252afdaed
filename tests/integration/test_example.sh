#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The device engineer's path: install libedgeplane into a fresh prefix, build
# examples/camera_client.c with pkg-config against it, and run it against a real edge.
source "$(dirname "$0")/../lib/lib.sh"
need_root "namespaces and AF_XDP"

PREFIX=$EP_TMP/prefix
if make -s -C "$EP_ROOT" install PREFIX="$PREFIX" BUILD="$BUILD" >"$EP_TMP/install.log" 2>&1 &&
	[[ -f $PREFIX/lib/pkgconfig/edgeplane.pc && -e $PREFIX/lib/libedgeplane.so.1 ]]; then
	ok "make install puts libedgeplane.so.1, its headers and edgeplane.pc in a prefix"
else
	not_ok "make install puts libedgeplane.so.1, its headers and edgeplane.pc in a prefix"
	diag "$(tail -5 "$EP_TMP/install.log")"
fi
export PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig
flags=$(pkg-config --cflags --libs edgeplane 2>&1)
if cc -std=c11 -Wall -Wextra -Werror -O2 "$EP_ROOT/examples/camera_client.c" $flags \
	-Wl,-rpath,"$PREFIX/lib" -o "$EP_TMP/camera_client" 2>"$EP_TMP/cc.err"; then
	ok "the example builds with \$(pkg-config --cflags --libs edgeplane) alone"
else
	not_ok "the example builds with \$(pkg-config --cflags --libs edgeplane) alone"
	diag "$(head -20 "$EP_TMP/cc.err")"
	tap_done
	exit 1
fi
check "it links the shared library, soname libedgeplane.so.1" \
	bash -c "ldd '$EP_TMP/camera_client' | grep -q 'libedgeplane.so.1 => $PREFIX/lib'"
missing=
for f in $(grep -ohE '\bep_[a-z_]+\(' "$PREFIX/include/edgeplane/client.h" \
		"$PREFIX/include/edgeplane/offload.h" | tr -d '(' | sort -u); do
	objdump -T "$PREFIX/lib/libedgeplane.so.1" | grep -q " $f\$" || missing+=" $f"
done
expect_eq "every function client.h and offload.h declare is exported" "${missing:-none}" none
extra=$(objdump -T "$PREFIX/lib/libedgeplane.so.1" | awk '$2 ~ /g/ && $4 == ".text" { print $NF }' |
	grep -v '^ep_client_\|^ep_result_\|^ep_offload_\|^ep_status_' | tr '\n' ' ')
expect_eq "nothing else is exported" "${extra:-none}" none

ep_setup_or_bail
ep_runtime_or_bail "the runtime starts" "$EP_TMP/rt.log" -i "$IF_B" $EP_AUTH_OFF_ARG

out=$(in_a "$EP_TMP/camera_client" $ADDR_B 24 --always-offload 2>&1); rc=$?
if [[ $rc -eq 0 && $out == *"24 of 24 frames right, 24 at the edge"* ]]; then
	ok "every frame's defects found at the edge"
else
	not_ok "every frame's defects found at the edge"
	diag "$(tail -5 <<<"$out")"
fi
out=$(in_a "$EP_TMP/camera_client" $ADDR6_B 24 2>&1); rc=$?
if [[ $rc -eq 0 && $out == *"24 of 24 frames right"* ]]; then
	ok "with the offload model choosing the side, over IPv6: $(tail -1 <<<"$out" | cut -d';' -f1)"
else
	not_ok "with the offload model choosing the side, over IPv6"
	diag "$(tail -5 <<<"$out")"
fi
# The example with enrollment: the installed library's TLS 1.3 enrollment with the
# camera's certificate, against the stand-in controller (the runtime's own auth is tested
# in test_client_auth.sh).
if ! have_authnode; then
	skip "the example enrolls with its certificate" "python3 with cryptography is not installed"
elif ep_pki "$EP_TMP/pki" && ep_cert cam-001 camera 7 &&
	ep_start_authnode "$EP_TMP/authnode.json" --udp $ADDR_B:7879; then
	out=$(in_a "$EP_TMP/camera_client" $ADDR_B 0 $(ep_enroll_opts cam-001) 2>&1); rc=$?
	if [[ $rc -eq 0 && $out == "enrolled as cam-001 (role camera, tenant 7): key 1, renewed in "2[0-9][0-9][0-9]" s" ]]; then
		ok "the example enrolls with its certificate: $out"
	else
		not_ok "the example enrolls with its certificate"
		diag "rc $rc: $out"
	fi
	ep_stop_authnode
else
	not_ok "certificates and the stand-in controller for the example"
fi
out=$(in_a "$TOOLS/eptest-threads" $ADDR_B 2>&1)
if grep -q '^ok' <<<"$out" && ! grep -q '^not ok' <<<"$out"; then
	ok "$(grep '^ok' <<<"$out" | sed -E 's/^ok [0-9]+ - //')"
else
	not_ok "threads sharing one session"
	diag "$out"
fi
out=$(TSAN_OPTIONS="halt_on_error=1 exitcode=66" in_a "$TOOLS/eptest-threads-tsan" $ADDR_B 2>&1); rc=$?
if [[ $rc -eq 0 ]] && ! grep -q ThreadSanitizer <<<"$out"; then
	ok "the same under ThreadSanitizer: no data race"
else
	not_ok "the same under ThreadSanitizer: no data race"
	diag "$(grep -A12 'WARNING' <<<"$out" | head -30)"
fi
tap_done
