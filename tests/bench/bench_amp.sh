#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# `make bench-amp`: the amplification table of docs/benchmarks.md. For each built-in handler
# the request that makes its reply largest for the fewest bytes, and cached replays of a
# large result, sent by eptest-amp from fresh (unvalidated) sockets over a veth pair to the
# runtime (AF_XDP backend): UDP payload bytes back over bytes sent. Then the same with the
# token the node's RETRY carried (a validated client: no limit), and, for comparison, with
# validation.mode = "off-unsafe". Prints markdown.
source "$(dirname "$0")/lib_bench.sh"
bench_init bench_amp
AMP=$BUILD/tests/tools/eptest-amp

ep_setup_bpffs && ep_setup_pair >/dev/null || die "cannot set up the namespaces"
ep_wide_model "$EP_TMP/wide.epm" || die "mkmodel or signing the model failed"

conf() { ep_amp_conf "$EP_TMP/wide.epm" "validation: { mode = \"$1\"; };"; }	# MODE
on_exit ep_stop_runtime

table() {	# MODE
	conf "$1" >"$EP_TMP/rt.conf"
	: >"$EP_TMP/rt.log"
	ep_start_runtime "$EP_TMP/rt.log" -c "$EP_TMP/rt.conf" ||
		die "runtime did not start: $(tail -3 "$EP_TMP/rt.log")"
	ip netns exec "$NS_A" "$AMP" --to "$ADDR_B" --infer-in 4 --table
	ep_stop_runtime
}

echo "Method: eptest-amp, from fresh UDP sockets in one namespace (no token: an unvalidated"
echo "source), to the runtime with its defaults (limits, reply compression) and every"
echo "built-in handler, over a veth pair. Each request is the one that makes its handler's"
echo "reply largest for the fewest bytes: inputs sent zstd-compressed (level 19) where that"
echo "shrinks them, replies asked uncompressed (PLAIN_REPLY). Bytes are UDP payload bytes"
echo "(headers of every fragment included). The infer model is an operator's worst: 4"
echo "features in, 4096 logits out. \"with the token\": the same request sent again with the"
echo "RETRY's token, as the client library does: a validated address gets its whole result."
echo
echo "validation.mode = \"amplification\" (the default): at most 3 times."
echo
table amplification
echo
echo "For comparison, validation.mode = \"off-unsafe\" (what the default prevents):"
echo
table off-unsafe
