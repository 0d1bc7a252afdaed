#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The result cache against a hostile client (issue 11), on the runtime behind AF_XDP on a
# veth pair: cached replays are bounded (a resend gap and a replay budget per task, for
# single- and multi-fragment requests alike), a cache entry answers only the request it
# belongs to (another type or payload with the same task id gets CONFLICT, not someone
# else's result), and a flood of new tasks cannot push a pending task out of the cache so
# that its retry runs it a second time.
source "$(dirname "$0")/../lib/lib.sh"
need_root "AF_XDP runtime on veth"

PLUGIN=$(ep_plugin libepcount.so) || { echo "Bail out! cannot install the test plugin"; exit 1; }
MAX_REPLAYS=8
ep_setup_or_bail
in_a ethtool -K "$IF_A" tx off >/dev/null
on_exit ep_stop_runtime

start() {
	if ! ep_start_runtime "$EP_TMP/rt.log" -c "$1"; then
		not_ok "the runtime starts ($(basename "$1"))"
		diag "$(tail -5 "$EP_TMP/rt.log")"
		tap_done
		exit 1
	fi
}
stats() { "$BIN/edgeplane" stats --socket "$EP_TMP/stats.sock" --json; }

# Replies uncompressed, so a cached result is as large as the attacker would like.
cat >"$EP_TMP/replay.conf" <<CONF
interface = "$IF_B";
queues = [0];
replies: { zstd_level = 0; };
$EP_SIGNING
handlers = ( { name = "echo"; }, { name = "checksum"; },
	     { plugin = "$PLUGIN"; name = "count"; type = 900; } );
$EP_AUTH_OFF
CONF
start "$EP_TMP/replay.conf"

# replay_case NAME SIZE: a task of SIZE payload bytes (echo: the result is as large),
# then, from the same address and port with the same task id: one request of another
# type, 20 header-only requests (1 ms apart), a burst of 20 copies of the first datagram
# (well inside the 10 ms resend gap), and 20 more copies 15 ms apart.
replay_case() {
	local name=$1 size=$2 out
	out=$(in_a "$TOOLS/eptest-attack" replay --to $ADDR_B --sport 40000 --size "$size" \
		--id $((0x5000 + size)) --conflict-type 2 --header-only 20 --burst 20 \
		--spaced 20 --spacing-ms 15)
	diag "$name: $out"
	expect_eq "$name: the task completes intact" \
		"$(jq -r '"\(.complete) \(.intact)"' <<<"$out")" "true true"
	expect_eq "$name: the task id reused with another type gets ERROR CONFLICT, not the cached result" \
		"$(jq -r '"\(.conflict.status) \(.conflict.responses)"' <<<"$out")" "14 0"
	expect_eq "$name: header-only requests with the task's id get no cached result" \
		"$(jq -r .header_only.responses <<<"$out")" 0
	check "$name: header-only requests: reply bytes ($(jq .header_only.bytes <<<"$out")) at most 3x request bytes ($(jq .header_only.sent_bytes <<<"$out"))" \
		test "$(jq '.header_only.bytes <= 3 * .header_only.sent_bytes' <<<"$out")" = true
	check "$name: a burst of 20 replays inside the resend gap gets at most one reply ($(jq .burst.responses <<<"$out"))" \
		test "$(jq .burst.responses <<<"$out")" -le 1
	check "$name: 40 replays get at most $MAX_REPLAYS cached replies ($(jq '.burst.responses + .spaced.responses' <<<"$out"))" \
		test "$(jq '.burst.responses + .spaced.responses' <<<"$out")" -le $MAX_REPLAYS
	check "$name: replay bytes ($(jq '.burst.bytes + .spaced.bytes' <<<"$out")) at most $MAX_REPLAYS replies ($(jq .reply_bytes <<<"$out") bytes each)" \
		test "$(jq ".burst.bytes + .spaced.bytes <= $MAX_REPLAYS * .reply_bytes" <<<"$out")" = true
	# From an address that has shown no token, a replay larger than 3 times its datagram
	# is answered with a RETRY (docs/protocol.md 3.7), the result staying cached.
	check "$name: replays are still answered, with the result or a RETRY (a lost reply can be had again)" \
		test "$(jq '.burst.responses + .spaced.responses + .burst.retries + .spaced.retries' <<<"$out")" -ge 2
}
replay_case "multi-fragment (256 KiB)" 262144
replay_case "single-fragment (1000 B)" 1000
st=$(stats)
diag "cache: $(jq -c '.workers[0].cache' <<<"$st")"
check "the cache counted conflicts" test "$(jq '.workers[0].cache.conflicts // 0' <<<"$st")" -ge 2
check "the cache counted replays refused by the budget" \
	test "$(jq '.workers[0].cache.replays_refused // 0' <<<"$st")" -ge 1
ep_stop_runtime

# A task of the count plugin waits 300 ms for its batch to fill; a flood of echo tasks
# goes through a 64-entry cache meanwhile; the task is retried twice while it waits.
cat >"$EP_TMP/flood.conf" <<CONF
interface = "$IF_B";
queues = [0];
batch: { size = 32; max_wait_us = 300000; };
limits: { queue_depth = 64; };
cache: { entries = 64; };
$EP_SIGNING
handlers = ( { name = "echo"; }, { plugin = "$PLUGIN"; name = "count"; type = 900; } );
$EP_AUTH_OFF
CONF
# A cache smaller than the queue could never hold every queued task's pending entry.
cat >"$EP_TMP/small.conf" <<CONF
interface = "$IF_B";
limits: { queue_depth = 64; };
cache: { entries = 32; };
$EP_AUTH_OFF
CONF
expect_check_config "cache.entries below limits.queue_depth is refused (status 2, names both)" \
	"$EP_TMP/small.conf" 2 'cache.entries (32) is smaller than limits.queue_depth (64)'
expect_check_config "cache.entries below queue_depth + reassembly.max_tasks is valid, with a warning" \
	"$EP_TMP/flood.conf" 0 'results may leave the cache before their retries'
start "$EP_TMP/flood.conf"
out=$(in_a "$TOOLS/eptest-attack" cache-flood --to $ADDR_B --sport 40001 --type 900 \
	--flood 600 --retry-after-ms 100)
diag "cache flood: $out"
check "the retried task is answered" test "$(jq .responses <<<"$out")" -ge 1
expect_eq "the retried task ran once under a flood of new tasks (the count plugin's runs)" \
	"$(jq .runs <<<"$out")" 1
st=$(stats)
expect_eq "the count handler completed once" \
	"$(jq '[.types[] | select(.handler == "count")][0].completed' <<<"$st")" 1
diag "cache: $(jq -c '.workers[0].cache' <<<"$st")"
ep_stop_runtime
tap_done
