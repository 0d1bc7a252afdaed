#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# libedgeplane over a lossy link: the fault program (bpf/ep_fault.bpf.c) drops, duplicates
# and corrupts a fraction of the task traffic both ways, and every task must still end
# exactly once, with its intact result or a definite error, and run at most once at the
# edge. The sender computes full UDP checksums (veth would leave them partial), so the
# runtime checks them and drops corrupted datagrams.
source "$(dirname "$0")/../lib/lib.sh"
need_root "fault injection and AF_XDP on veth"

PLUGIN=$(ep_plugin libepcount.so) || { echo "Bail out! cannot install the test plugin"; exit 1; }
ep_setup_or_bail
in_a ethtool -K "$IF_A" tx off >/dev/null
cat >"$EP_TMP/rt.conf" <<CONF
interface = "$IF_B";
queues = [0];
xdp: { verify_checksum = "on"; };
$EP_SIGNING
handlers = ( { plugin = "$PLUGIN"; name = "count"; type = 900; } );
$EP_AUTH_OFF
CONF
ep_runtime_or_bail "the runtime starts" "$EP_TMP/rt.log" -c "$EP_TMP/rt.conf"

# Requests leave ns a through tc egress; replies are sent with AF_XDP, which skips the
# qdisc layer, so they are made lossy where they enter ns a.
check "lossy requests: 10% dropped, 10% duplicated, 2% corrupted" \
	in_a "$BIN/edgeplane-fault" attach "$IF_A" --drop 10% --dup 10% --corrupt 2% --port 7878
check "lossy replies: 10% dropped, 10% duplicated" \
	in_a "$BIN/edgeplane-fault" attach "$IF_A" --ingress --drop 10% --dup 10% --port 7878

in_a "$TOOLS/eptest-loss" --to $ADDR_B --count 2000 --concurrency 32 >"$EP_TMP/small.out" 2>&1
tap_from "$EP_TMP/small.out" "64-byte tasks: "
# Multi-fragment tasks: 20 KB in 15 fragments, each of which may be lost.
in_a "$TOOLS/eptest-loss" --to $ADDR_B --count 100 --concurrency 8 --size 20000 \
	>"$EP_TMP/big.out" 2>&1
tap_from "$EP_TMP/big.out" "20 KB tasks: "

for dir in egress ingress; do
	flag=; [[ $dir == ingress ]] && flag=--ingress
	stats=$(in_a "$BIN/edgeplane-fault" stats "$IF_A" $flag --json)
	dropped=$(jq .dropped <<<"$stats") duplicated=$(jq .duplicated <<<"$stats")
	check "$dir: the fault program dropped ($dropped) and duplicated ($duplicated) packets" \
		test "$dropped" -gt 0 -a "$duplicated" -gt 0
	[[ $dir == egress ]] && check "egress: it corrupted $(jq .corrupted <<<"$stats") packets" \
		test "$(jq .corrupted <<<"$stats")" -gt 0
done
rt=$("$BIN/edgeplane" stats --socket "$EP_TMP/stats.sock" --json)
check "the edge answered retries from its result cache ($(jq '.workers[0].cache.hits' <<<"$rt") hits)" \
	test "$(jq '.workers[0].cache.hits' <<<"$rt")" -gt 0
check "the edge dropped corrupted datagrams by their checksum ($(jq '.workers[0].io.rx_bad_csum' <<<"$rt"))" \
	test "$(jq '.workers[0].io.rx_bad_csum' <<<"$rt")" -gt 0
check "detach the fault program" in_a "$BIN/edgeplane-fault" detach "$IF_A"
tap_done
