#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Selective repeat at the edge (docs/protocol.md 5.1), by hand over raw UDP (eptest-ack):
# TASK_ACK at the end of a pass with gaps and for a task being reassembled or unknown,
# RESULT_ACK answered with only the result fragments it does not list, duplicates
# ignored, and an unvalidated source held to 3 times what it sent (RETRY instead). Then
# the counters that say so.
source "$(dirname "$0")/../lib/lib.sh"
need_root "AF_XDP runtime on veth"

ep_setup_or_bail
cat >"$EP_TMP/rt.conf" <<CONF
interface = "$IF_B";
queues = [0];
cache: { window_ms = 10000; };
handlers = ( { name = "echo"; } );
$EP_AUTH_OFF
CONF
ep_runtime_or_bail "the runtime starts" "$EP_TMP/rt.log" -c "$EP_TMP/rt.conf"


in_a "$TOOLS/eptest-ack" --to $ADDR_B >"$EP_TMP/ack.out" 2>&1
tap_from "$EP_TMP/ack.out" ""
in_a "$TOOLS/eptest-ack" --to $ADDR6_B >"$EP_TMP/ack6.out" 2>&1
tap_from "$EP_TMP/ack6.out" "IPv6: "

rt=$("$BIN/edgeplane" stats --socket "$EP_TMP/stats.sock" --json)
w='.workers[0]'
check "task_acks_sent counts ($(jq "$w.task_acks_sent" <<<"$rt"))" \
	test "$(jq "$w.task_acks_sent" <<<"$rt")" -ge 10
check "result_acks counts ($(jq "$w.result_acks" <<<"$rt"))" \
	test "$(jq "$w.result_acks" <<<"$rt")" -ge 14
expect_eq "bad_acks counts the invalid RESULT_ACKs" "$(jq "$w.bad_acks" <<<"$rt")" 2
check "result_frags_resent counts only the missing fragments ($(jq "$w.result_frags_resent" <<<"$rt"))" \
	test "$(jq "$w.result_frags_resent" <<<"$rt")" -ge 30 -a \
	"$(jq "$w.result_frags_resent" <<<"$rt")" -le 50
check "the duplicate RESULT_ACKs were ignored ($(jq "$w.cache.ack_duplicates" <<<"$rt"))" \
	test "$(jq "$w.cache.ack_duplicates" <<<"$rt")" -ge 2
tap_done
