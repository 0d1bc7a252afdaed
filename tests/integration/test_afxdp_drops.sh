#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# afxdp's rx_dropped counts each frame the kernel could not give the runtime once (issue 15):
# a runtime with few receive frames (xdp.frames = 64, one socket) under a flood of tasks
# that hold the worker (the work plugin, 2 ms each, 1000/s) runs out of fill-ring buffers
# while its RX ring has room. Every datagram the classifier redirected is then either
# received by the runtime (io.rx_packets) or dropped by the kernel, so rx_dropped must be
# the difference: before, it also added the fill ring's empty count, which the kernel bumps
# for the same drop (and which two sockets sharing one UMEM each reported).
source "$(dirname "$0")/../lib/lib.sh"
need_root "AF_XDP runtime on veth"

if ! ep_setup_bpffs || ! ep_setup_pair; then
	not_ok "set up namespaces, veth and bpffs"
	tap_done
	exit 1
fi
PLUGIN=$(ep_plugin libepwork.so) || { not_ok "install the work plugin"; tap_done; exit 1; }
printf '\x00\x00\x07\xd0' >"$EP_TMP/work.bin"	# 2000 us

cat >"$EP_TMP/rt.conf" <<CONF
interface = "$IF_B";
queues = [0];
xdp: { frames = 64; };
limits: { high_priority = 0; };
rate_limit = { mode = "off-unsafe"; };	# one flooding address: the per-prefix limits aside
$EP_SIGNING
handlers = ( { plugin = "$PLUGIN"; } );
$EP_AUTH_OFF
CONF
on_exit ep_stop_runtime
if ! ep_start_runtime "$EP_TMP/rt.log" -c "$EP_TMP/rt.conf"; then
	not_ok "the runtime starts (xdp.frames = 64, one socket)"
	diag "$(tail -20 "$EP_TMP/rt.log")"
	tap_done
	exit 1
fi
xdp() { in_b "$BIN/edgeplane-xdp" stats --dev "$IF_B" -j | jq ".$1.packets // 0"; }
io() { "$BIN/edgeplane" stats --socket "$EP_TMP/stats.sock" --json | jq "[.workers[].io.$1] | add"; }

r0=$(xdp redirect_xsk) p0=$(io rx_packets) d0=$(io rx_dropped)
in_a timeout 30 "$BIN/edgeload" load --to "$ADDR_B" --type 901 --in "$EP_TMP/work.bin" \
	--no-compress --rate 1000 --duration 3s --concurrency 4096 --attempts 1 \
	--timeout-ms 500 --json >"$EP_TMP/flood.json" 2>/dev/null
sleep 1	# what the worker still holds, answered
redirected=$(($(xdp redirect_xsk) - r0)) received=$(($(io rx_packets) - p0))
dropped=$(($(io rx_dropped) - d0))
diag "redirected $redirected, received $received, rx_dropped $dropped; load: $(jq -c '.total | {sent, completed, failed}' "$EP_TMP/flood.json")"
check "the flood was more than 64 frames could hold: the kernel dropped some ($((redirected - received)))" \
	test $((redirected - received)) -gt 0
expect_eq "rx_dropped counts each of them once: redirected - received" "$dropped" \
	$((redirected - received))
ep_stop_runtime
tap_done
