#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# UDP checksums on the AF_XDP path (docs/protocol.md section 1: a receiver drops a
# datagram whose checksum fails). With default settings the runtime, on a veth, drops and
# counts (rx_bad_csum) task datagrams with a wrong checksum and answers the same with a
# right one; a veth that leaves checksums to offload (tx on) sends incomplete ones, which
# is why the tests turn it off on senders; "auto", the unsafe named choice, skips the
# check on veth.
source "$(dirname "$0")/../lib/lib.sh"
need_root "AF_XDP runtime on veth"

ep_setup_or_bail "set up namespaces"
N=20
# io FIELD: the runtime's io counter FIELD, summed over its workers.
io() {
	"$BIN/edgeplane" stats --socket "$EP_TMP/stats.sock" --json |
		jq --arg f "$1" '[.workers[].io[$f]] | add'
}
# send CSUM [eptest-send options]: N echo tasks from A to the runtime.
send() {
	local c=$1
	shift
	in_a "$TOOLS/eptest-send" --to $ADDR_B --count $N --size 100 --id-base $((RANDOM * 100)) \
		${c:+--udp-csum "$c"} "$@" >/dev/null
	sleep 0.3
}

ep_runtime_or_bail "the runtime starts with default settings" \
	"$EP_TMP/rt.log" -i "$IF_B" $EP_AUTH_OFF_ARG
check "by default it checks UDP checksums, also on veth" \
	grep -q "UDP checksums checked" "$EP_TMP/rt.log"
send bad
expect_eq "$N tasks with a wrong UDP checksum: dropped and counted (rx_bad_csum), none answered" \
	"$(io rx_bad_csum) $(io tx_packets)" "$N 0"
send good
expect_eq "the same tasks with a right checksum are answered" \
	"$(io rx_bad_csum) $(io tx_packets)" "$N $N"
send ""
expect_eq "tasks from a kernel socket on a veth with tx checksum offload off are answered" \
	"$(io rx_bad_csum) $(io tx_packets)" "$N $((2 * N))"
in_a ethtool -K "$IF_A" tx on >/dev/null
send ""
in_a ethtool -K "$IF_A" tx off >/dev/null
expect_eq "with tx offload on, the veth sends incomplete checksums: those tasks are dropped" \
	"$(io rx_bad_csum) $(io tx_packets)" "$((2 * N)) $((2 * N))"
ep_stop_runtime

printf 'xdp: { verify_checksum = "auto"; };\n%s\n' "$EP_AUTH_OFF" >"$EP_TMP/auto.conf"
if ep_start_runtime "$EP_TMP/rt.log" -i "$IF_B" -c "$EP_TMP/auto.conf"; then
	send bad
	expect_eq "verify_checksum = \"auto\" (unsafe on veth) skips the check there: answered" \
		"$(io rx_bad_csum) $(io tx_packets)" "0 $N"
	ep_stop_runtime
else
	not_ok "the runtime starts with verify_checksum = \"auto\""
	diag "$(tail -3 "$EP_TMP/rt.log")"
fi

tap_done
