#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The runtime (AF_XDP behind the classifier) on one end of a veth pair, clients in the
# other namespace: every built-in handler on real images, retries answered from the result
# cache, a 4 MiB task arriving shuffled with duplicates, hostile tasks, a plugin loaded
# with dlopen, statistics while running, bad settings refused, and a SIGTERM drain.
source "$(dirname "$0")/../lib/lib.sh"
need_root "AF_XDP runtime on veth"

IMAGES=$BUILD/data/images
PLUGIN=$(ep_plugin libepcount.so) || { echo "Bail out! cannot install the test plugin"; exit 1; }
# The blobs handler's reference frame, signed (tests/lib/lib.sh: ep_signed).
COINS=$(ep_signed "$IMAGES/coins.png") || { echo "Bail out! cannot sign coins.png"; exit 1; }
ep_setup_or_bail

# Settings: bad ones are refused with a message naming the problem.
cat >"$EP_TMP/bad1.conf" <<CONF
interface = "$IF_B";
batch: { size = 0; };
$EP_AUTH_OFF
CONF
cat >"$EP_TMP/bad2.conf" <<CONF
interface = "$IF_B";
limits: { queue_depht = 10; };
$EP_AUTH_OFF
CONF
expect_check_config "a batch size of 0 is refused (status 2, names the setting)" \
	"$EP_TMP/bad1.conf" 2 'size'
expect_check_config "an unknown setting is refused (status 2, with its line)" \
	"$EP_TMP/bad2.conf" 2 'bad2.conf:2: queue_depht: unknown setting'
out=$("$BIN/edgeplane" --batch-size lots 2>&1); rc=$?
expect_eq "a bad option value is refused with status 2" "$rc:$(grep -c 'batch-size' <<<"$out")" "2:1"
out=$("$BIN/edgeplane" -c "$EP_TMP/missing.conf" 2>&1); rc=$?
expect_eq "a missing config file is refused with status 2" "$rc:$(grep -c 'missing.conf' <<<"$out")" "2:1"

# A plugin entry without a handler name adds every handler the plugin exports, and each
# gets the entry's warm-up files (the test plugin's init checks, with args "files=1").
cat >"$EP_TMP/plugin.conf" <<CONF
backend = "udp";
bind = "$ADDR_B";
$EP_SIGNING
handlers = ( { plugin = "$PLUGIN"; files = [ "$COINS" ]; args = "files=1"; } );
$EP_AUTH_OFF
CONF
if ep_start_runtime "$EP_TMP/plugin.log" -c "$EP_TMP/plugin.conf"; then
	ok "a plugin's every handler gets its entry's warm-up files (count and count_echo start)"
	# The plugin's handler 'count"odd\name<TAB>' (type 902): its name escaped in the JSON.
	stats=$("$BIN/edgeplane" stats --socket "$EP_TMP/stats.sock" --json)
	check "statistics: valid JSON with a handler name that needs escaping" \
		quiet python3 -m json.tool <<<"$stats"
	expect_eq "statistics: that handler's name, as the plugin gives it" \
		"$(jq -r '.types[] | select(.type == 902) | .handler' <<<"$stats" 2>&1)" \
		$'count"odd\\name\t'
	ep_stop_runtime
else
	not_ok "a plugin's every handler gets its entry's warm-up files"
	diag "$(grep -i error "$EP_TMP/plugin.log" | tail -3)"
fi

{ echo "interface = \"$IF_B\";"; ep_e2e_conf "$COINS" "$PLUGIN"; } >"$EP_TMP/rt.conf"
check "the test configuration is valid" quiet "$BIN/edgeplane" -c "$EP_TMP/rt.conf" --check-config

ep_runtime_or_bail "the runtime starts and reports ready" "$EP_TMP/rt.log" -c "$EP_TMP/rt.conf"
ok "the runtime starts and reports ready"
check "cache warm-up read the blobs reference with io_uring before ready" \
	grep -q "ready:" "$EP_TMP/rt.log"

# The end-to-end checks, from the client namespace.
in_a "$TOOLS/eptest-e2e" --to $ADDR_B --images "$IMAGES" >"$EP_TMP/e2e.out"
tap_from "$EP_TMP/e2e.out" "e2e: "

# edgeload one-shot with files in and out, over IPv6.
if in_a "$BIN/edgeload" run --to $ADDR6_B --type sobel --in "$IMAGES/camera.png" \
	--out "$EP_TMP/edges.png" 2>"$EP_TMP/run.err" && [[ -s $EP_TMP/edges.png ]]; then
	ok "edgeload run --type sobel --in camera.png --out edges.png over IPv6"
else
	not_ok "edgeload run --type sobel --in camera.png --out edges.png over IPv6"
	diag "$(cat "$EP_TMP/run.err")"
fi
expect_eq "edgeload run --out: says where it wrote the result, and names its time the rtt, apart from the node's" \
	"$(grep -cE "^sobel: result written to $EP_TMP/edges.png \([0-9]+x[0-9]+ PNG\)$" "$EP_TMP/run.err") \
$(grep -cE '^sobel: .* rtt [0-9.]+ ms, in the node: queued [0-9]+ us, ran [0-9]+ us' "$EP_TMP/run.err")" "1 1"
if in_a "$BIN/edgeload" run --to $ADDR_B --type echo --size 100 --out "$EP_TMP/echo.bin" \
	2>"$EP_TMP/run.err" >"$EP_TMP/run.out"; then
	expect_eq "edgeload run --out (bytes): the path and size on stderr, nothing on stdout" \
		"$(grep -c "^echo: result written to $EP_TMP/echo.bin (100 bytes)$" "$EP_TMP/run.err") $(wc -c <"$EP_TMP/run.out")" "1 0"
else
	not_ok "edgeload run --type echo --out echo.bin"
	diag "$(cat "$EP_TMP/run.err")"
fi
out=$(in_a "$BIN/edgeload" run --to $ADDR_B --type blobs --in "$IMAGES/coins.png" --level 120 \
	--min-area 300 --blur --conn8 --no-border --json 2>/dev/null)
expect_eq "edgeload run --type blobs counts the 24 coins of coins.png" \
	"$(jq -r .count <<<"$out" 2>/dev/null)" 24
out=$(in_a "$BIN/edgeload" load --to $ADDR_B --type checksum --size 1000 --concurrency 8 \
	--count 2000 --json 2>/dev/null)
expect_eq "edgeload load: 2000 checksum tasks, all completed" \
	"$(jq -r '.total | "\(.sent) \(.completed) \(.failed)"' <<<"$out" 2>/dev/null)" "2000 2000 0"
# Its JSON has one key per error: the edge's statuses by their names, the client's own
# outcomes as client_* (an address nobody answers: every task times out on this side).
nodup='import json, sys
def pairs(kv):
	keys = [k for k, _ in kv]
	dup = sorted({k for k in keys if keys.count(k) > 1})
	if dup:
		sys.exit("duplicate keys: " + " ".join(dup))
	return dict(kv)
json.load(sys.stdin, object_pairs_hook=pairs)'
check "edgeload load --json: no duplicate keys" python3 -c "$nodup" <<<"$out"
expect_eq "edgeload load --json: its latency named rtt_us (latency_us, its former name, the same)" \
	"$(jq -r '.total | (.rtt_us.p99 > 0 and .rtt_us == .latency_us)' <<<"$out" 2>/dev/null)" true
out=$(in_a "$BIN/edgeload" load --to $ADDR_B --type echo --size 100 --count 50 \
	--timeline "$EP_TMP/tl.txt" 2>/dev/null)
expect_eq "edgeload load --timeline: the summary names the file, and the columns say rtt" \
	"$(grep -c "^timeline: $EP_TMP/tl.txt$" <<<"$out") $(grep -c '^kind .* rtt p50 *rtt p90 *rtt p99 *rtt p99.9$' <<<"$out") \
$(grep -c 'rtt_p50_us rtt_p99_us' "$EP_TMP/tl.txt")" "1 1 1"
out=$(in_a "$BIN/edgeload" load --to $ADDR_B --type echo --size 100 --count 50 \
	--timeline "$EP_TMP/tl.txt" --json 2>/dev/null)
expect_eq "edgeload load --timeline --json: the file in \"timeline\"" \
	"$(jq -r .timeline <<<"$out" 2>/dev/null)" "$EP_TMP/tl.txt"
out=$(in_a "$BIN/edgeload" load --to 198.18.0.99 --type echo --count 3 --attempts 1 \
	--timeout-ms 50 --json 2>/dev/null)
check "edgeload load --json with client-side timeouts: no duplicate keys" \
	python3 -c "$nodup" <<<"$out"
expect_eq "edgeload load: tasks nobody answers count as errors.client_timeout" \
	"$(jq -r '.total.errors | "\(.client_timeout) \(.timeout // "none")"' <<<"$out" 2>/dev/null)" \
	"3 none"
# Open loop faster than one outstanding task allows: the skipped starts get their own line.
out=$(in_a "$BIN/edgeload" load --to $ADDR_B --type echo --rate 20000 --concurrency 1 \
	--duration 500ms 2>/dev/null)
skipped=$(sed -nE 's/^skipped: ([0-9]+) scheduled tasks not started.*/\1/p' <<<"$out")
check "edgeload load (open loop, cap 1): skipped tasks on their own line (${skipped:-none})" \
	test "${skipped:-0}" -gt 0
expect_eq "edgeload load: goodput and datagrams per task in the summary" \
	"$(grep -cE '^(goodput: [0-9.]+ KB/s|datagrams sent: [0-9]+, [0-9.]+ per task)' <<<"$out")" 2

# Statistics while it runs.
stats=$("$BIN/edgeplane" stats --socket "$EP_TMP/stats.sock" --json)
check "statistics: per-type counters" \
	test "$(jq '[.types[] | select(.handler == "checksum")][0].completed' <<<"$stats")" -ge 2000
check "statistics: per-queue counters and reassembly" \
	test "$(jq '.workers[0].reassembly.completed' <<<"$stats")" -ge 1
check "statistics: latency histogram" \
	test "$(jq '[.types[] | select(.handler == "checksum")][0].latency_us.count' <<<"$stats")" -ge 2000
# in_node_us (latency_us's new name): queued to the handler's end; handler_us: its call
# per task, a part of it (so its max is not above in_node_us's).
expect_eq "statistics: in_node_us is latency_us, handler_us counts every checksum task run" \
	"$(jq -r '[.types[] | select(.handler == "checksum")][0] |
		[.in_node_us == .latency_us, .handler_us.count >= 2000,
		 .handler_us.max <= .in_node_us.max, .handler_us.max > 0] | map(tostring) | join(" ")' \
		<<<"$stats")" "true true true true"
check "statistics: the retry was answered from the cache" \
	test "$(jq '.workers[0].cache.hits' <<<"$stats")" -ge 1
check "statistics: errors by code" \
	test "$(jq '[.types[].errors.too_large // 0] | add' <<<"$stats")" -ge 2
check "statistics as text" quiet "$BIN/edgeplane" stats --socket "$EP_TMP/stats.sock"

# SIGTERM drains: tasks queued when the signal comes are still answered.
in_a "$TOOLS/eptest-e2e" --to $ADDR_B --images "$IMAGES" --drain "$RT_PID" >"$EP_TMP/drain.out"
if grep -q '^ok' "$EP_TMP/drain.out" && ! grep -q '^not ok' "$EP_TMP/drain.out"; then
	ok "$(grep '^ok' "$EP_TMP/drain.out" | sed -E 's/^ok [0-9]+ - //')"
else
	not_ok "SIGTERM drains queued tasks"
	diag "$(cat "$EP_TMP/drain.out")"
fi
# If it stopped before its SIGTERM (a bail-out), stop the runtime here, not hang.
grep -q '^\(not \)\?ok' "$EP_TMP/drain.out" || kill -TERM "$RT_PID" 2>/dev/null
wait "$RT_PID"
expect_eq "the runtime exits 0 after draining" "$?" 0
RT_PID=
check "the runtime logged its drain" grep -q "draining" "$EP_TMP/rt.log"
check "no classifier left attached" no_xdp "$NS_B" "$IF_B"
tap_done
