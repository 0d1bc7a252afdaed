#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# `make demo` in small (vm/demo.sh --duration 12 --quick, into a directory of the test's):
# the demo runs, and its summary.json adds up. Every task sent was answered or failed with
# an error code, none was answered twice, the per-second timelines add up to the totals,
# the detector's counts are right in every frame, the killed worker was drained in time
# and the others took over, nothing was dropped but the intruder's tasks and the first
# datagrams under a key not yet synced (drops by reason hold drops only: pass_no_socket
# apart, no reply_no_route at the workers), the report's files exist (the plots' data in
# whole seconds), and nothing is left
# behind: not after the run, nor after a run interrupted with SIGINT. Authentication: auth
# required at the gateway's XDP and at every runtime, the three cameras enrolled with
# their certificates, the nodes synced as the controller's node ids, every camera datagram
# verified or accounted for, the intruder's two enrollments refused at the TLS handshake
# and its tasks dropped, unanswered, and counted by the gateway's XDP.
source "$(dirname "$0")/../lib/lib.sh"
need_root "the demo on the rig"

OUT=$EP_TMP/demo
DEMO=$EP_ROOT/vm/demo.sh
PREFIXES=()
_down() { local p; for p in "${PREFIXES[@]}"; do "$EP_ROOT/vm/rig" --prefix "$p" down --force; done; }
on_exit _down

# leftovers PREFIX DIR: what is left of the rig PREFIX (namespaces, bpffs mounts) and of the
# processes the demo started with its configuration files in DIR. Without a PREFIX (the
# demo's log did not name its rig) nothing can be checked, which is itself reported.
leftovers() {
	[[ -n $1 ]] || { echo "(no rig prefix in the demo's log)"; return; }
	{
		ip netns list | awk '{ print $1 }' | grep "^$1-"
		grep "edgeplane-rig-$1 " /proc/self/mountinfo
		pgrep -af "$2/config/" | grep -v pgrep
	} 2>/dev/null
}

# --- a short run ---------------------------------------------------------------------------
start=$SECONDS
timeout 150 "$DEMO" --duration 12 --quick --out "$OUT" >"$EP_TMP/demo.log" 2>&1
rc=$?
took=$((SECONDS - start))
P=$(grep -oE 'rig d[0-9a-f]{4}' "$EP_TMP/demo.log" | head -1 | cut -d' ' -f2)
[[ -n $P ]] && PREFIXES+=("$P")
S=$OUT/summary.json
if [[ $rc -ne 0 || ! -s $S ]]; then
	not_ok "vm/demo.sh --duration 12 --quick runs (status $rc)"
	diag "$(tail -15 "$EP_TMP/demo.log")"
	tap_done
	exit 1
fi
ok "vm/demo.sh --duration 12 --quick runs, in $took s (rig $P)"
grep -E '^(cam[123] |total |w[123] |cloud |Failover|Checks|Authentication|  [A-Z]|    )' "$EP_TMP/demo.log" |
	sed 's/^/# /'

check "it prints progress lines, the intruder, the kill and the drain, the summary and where the report is" \
	test -n "$(grep -E 't= *[0-9]+s +answered' "$EP_TMP/demo.log")" \
	-a -n "$(grep -F '!! intruder' "$EP_TMP/demo.log")" \
	-a -n "$(grep -F '!! SIGKILL w3' "$EP_TMP/demo.log")" \
	-a -n "$(grep -F '!! controller: w3 dead' "$EP_TMP/demo.log")" \
	-a -n "$(grep -F '== Summary' "$EP_TMP/demo.log")" \
	-a -n "$(grep -E '^Authentication: required' "$EP_TMP/demo.log")" \
	-a -n "$(grep -F "Report: " "$EP_TMP/demo.log")"

j() { jq -r "$@" "$S"; }
# --- every task accounted for, once ----------------------------------------------------
expect_eq "every camera sent tasks, and each ended once: sent == answered + failed, answered <= sent" \
	"$(j '[.cameras[] | .sent > 100 and .sent == .answered + .failed and .answered <= .sent] | all')" true
expect_eq "every failed task has an error code (errors by code add up to the failures)" \
	"$(j '[.cameras[] | .failed == ([.errors[]] | add // 0)] | all')" true
expect_eq "no result for a task not outstanding: none answered twice (unexpected_results 0)" \
	"$(j '[.cameras[].unexpected_results] | add')" 0
expect_eq "the per-second timelines add up to the totals (sent, answered, failed)" \
	"$(j '[.cameras[] | .timeline.lines >= 11 and .timeline.sent == .sent and
		.timeline.completed == .answered and .timeline.failed == .failed] | all')" true
answered=$(j .total.answered) sent=$(j .total.sent)
check "the cameras' frames are answered through the kill ($answered of $sent, $(j .total.retries) retries)" \
	test "$answered" -ge $((sent * 98 / 100))
expect_eq "the detector's count is right in every answered frame (coins 24, moon 22, text 52, page 134)" \
	"$(j '[.cameras[] | .name as $c | .images as $im |
		(if (.kinds | length) > 1 then .kinds[] else .kinds[0] + {kind: $im[0]} end) |
		"\(.kind | split("/") | last)=\(.blobs.min)..\(.blobs.max)/\(.blobs.results == .completed)"] | join(" ")')" \
	"coins.png=24..24/true moon.png=22..22/true text.png=52..52/true page.png=134..134/true"
check "zstd saved bytes on the frames ($(j .total.compression_saved_pct) %)" \
	quiet jq -e '.total.compression_saved_pct > 20' "$S"

# --- the kill ------------------------------------------------------------------------------
expect_eq "w3 was killed halfway and the controller drained it (state dead)" \
	"$(j '[.kill.node, .kill.state_end, (.kill.at_s > 4 and .kill.at_s < 8)] | join(" ")')" "w3 dead true"
ms=$(j .kill.drained_after_ms)
check "it was drained $ms ms after the kill (dead_after 500 ms, reports every 100 ms)" \
	test "$ms" -ge 300 -a "$ms" -le 1000
expect_eq "w1 and w2 took over: their shares grew after the kill, w3's fell under 15 %" \
	"$(j '[.nodes[] | select(.role == "worker") | if .name == "w3" then .share_after_kill < 15
		else .share_after_kill > .share_before_kill end] | all')" true
expect_eq "the summary's own checks agree" \
	"$(j '[.checks | to_entries[] | select(.key != "no_drops") | .value] | all')" true

# --- authentication ----------------------------------------------------------------------
expect_eq "auth required: the gateway's XDP and every runtime (w1 w2 w3 cloud) ran in mode required" \
	"$(j '[.auth.gateway_mode, (.auth.node_modes | to_entries | map("\(.key)=\(.value)") | join(" "))] | join(" ")')" \
	"required w1=required w2=required w3=required cloud=required"
expect_eq "the three cameras enrolled with their certificates: role camera, tenant 1, a key per edgeload session (samples, load)" \
	"$(j '[.auth.devices[] | "\(.name):\(.role):\(.tenant):\(.key_ids | length)"] | join(" ")')" \
	"cam1:camera:1:2 cam2:camera:1:2 cam3:camera:1:3"
expect_eq "... the controller counts 7 enrollments, the cameras' loads 3 and no failure, and holds each load's key" \
	"$(j '[.auth.enrollments.enrolled, .auth.cameras.enrollments, .auth.cameras.enroll_failures,
		([.auth.cameras.key_ids[] as $k | [.auth.devices[].key_ids[]] | index($k) != null] | all)] | map(tostring) | join(" ")')" \
	"7 3 0 true"
expect_eq "the nodes synced as the controller's ids for their names (w1 1, w2 2, w3 3, cloud 9)" \
	"$(j '[.auth.nodes[] | "\(.name)=\(.node_id)"] | join(" ")')" "w1=1 w2=2 w3=3 cloud=9"
verified=$(j .auth.runtimes.ok) sealed=$(j .auth.cameras.sealed)
expect_eq "every camera datagram that reached a runtime verified ($verified of $sealed sealed): no bad tag at the runtimes nor in the cameras' replies, no drop but unknown_key (runtimes, classifiers)" \
	"$(j '[.auth.runtimes.ok > 1000, (.auth.runtimes.dropped | del(.unknown_key)),
		(.auth.classifiers.dropped | del(.drop_auth_unknown_key)), .auth.cameras.bad_tag,
		.auth.cameras.unknown_key, .auth.cameras.unsealed] | map(tostring) | join(" ")')" "true {} {} 0 0 0"
diag "$(j '.auth.accounting | "sealed \(.sealed): verified \(.verified), dropped \(.dropped_classifiers) by the classifiers, \(.dropped_runtimes) by the runtimes and \(.dropped_gateway) by the gateway (unknown_key), \(.lost_rx) lost in receive rings, \(.after_death) sent to w3 after its death, \(.unaccounted) unaccounted"')"
check "every sealed datagram is accounted for but what was in flight at the kill (unaccounted $(j .auth.accounting.unaccounted), at most 1 %)" \
	quiet jq -e '.auth.accounting | .unaccounted >= 0 and .unaccounted <= .sealed / 100' "$S"
check "the tasks were answered under auth required ($answered of $sent)" \
	test "$(j .auth.required)" = true -a "$answered" -ge $((sent * 98 / 100))
expect_eq "the intruder's enrollments were refused at the TLS handshake: another CA's certificate (unknown ca), none (certificate required)" \
	"$(j '[.auth.intruder.enroll[] | "\(.refused):\(.said)"] | join(" ")')" \
	"true:tlsv1 alert unknown ca true:alert certificate required"
expect_eq "... the controller counted 2 failed handshakes, no successful one and no enrollment in the meantime" \
	"$(j '.auth.intruder.controller | "\(.handshake_failed) \(.handshake_ok) \(.enrolled)"')" "2 0 0"
n=$(j .auth.intruder.burst.tasks)
expect_eq "the intruder's $n tasks without a key: all sent, none answered (timeouts), $n dropped and counted by the gateway's XDP (drop_auth_missing)" \
	"$(j '.auth.intruder.burst | "\(.sent) \(.answered) \(.errors.client_timeout) \(.gateway_drop_auth_missing)"')" "$n 0 $n $n"
expect_eq "... and no runtime saw any of them (no drop as missing)" \
	"$(j '.auth.runtimes.dropped.missing // 0')" 0

# --- drops -------------------------------------------------------------------------------
# Under auth required a camera's first datagrams under a new key can reach the gateway
# before the controller has given it the key (it does every publish_ms, 10 ms): dropped
# as drop_auth_unknown_key, and answered on their retry.
expect_eq "the gateway dropped nothing but the intruder's tasks and the cameras' first datagrams under a key it did not have yet" \
	"$(j --argjson n "$n" '.drops.gateway | del(.drop_auth_unknown_key) == {drop_auth_missing: $n}')" true
diag "the gateway dropped $(j '.drops.gateway.drop_auth_unknown_key // 0') camera datagrams as drop_auth_unknown_key (sent before it had the key)"
expect_eq "no classifier dropped anything (drop_* counters) but the cameras' first datagrams under a key its node did not have yet" \
	"$(j '[.drops.classifiers[] | to_entries[] | select(.key | startswith("drop_") and . != "drop_auth_unknown_key") | .value] | add // 0')" 0
expect_eq "drops by reason list drops only (no pass_* counter among the classifiers')" \
	"$(j '[.drops.classifiers[] | keys[] | select(startswith("drop_") | not)] | length')" 0
check "w3's classifier, after the kill, passed the tasks sent to it to its kernel: under passed_to_kernel (pass_no_socket $(j '.passed_to_kernel.classifiers.w3.pass_no_socket // 0'))" \
	test "$(j '.passed_to_kernel.classifiers.w3.pass_no_socket // 0')" -gt 0
expect_eq "the workers look up no reply route (xdp.reply_route off: the gateway relays the replies), so reply_no_route stays 0" \
	"$(j '[.nodes[].classifier.reply_no_route // 0] | add')" 0
expect_eq "the summary says what pass_no_socket is, apart from the drops" \
	"$(grep -c '^Passed to the kernel, not dropped: w3 pass_no_socket' "$OUT/summary.txt")" 1

# --- the report ----------------------------------------------------------------------------
check "the report: index.html, summary.txt, the cameras' timelines and JSON, logs" \
	test -s "$OUT/index.html" -a -s "$OUT/summary.txt" -a -s "$OUT/data/cam1.timeline" \
	-a -s "$OUT/data/cam3.json" -a -s "$OUT/data/gateway-rates.jsonl" -a -s "$OUT/logs/edgectl.log"
if command -v gnuplot >/dev/null; then
	n=0
	for p in throughput latency nodes shares bytes; do
		f=$(ls "$OUT/$p".png "$OUT/$p".svg 2>/dev/null | head -1)
		[[ -s $f ]] && grep -qF "src=\"$(basename "$f")\"" "$OUT/index.html" && n=$((n + 1))
	done
	expect_eq "five plots, each shown in index.html" "$n" 5
else
	skip "five plots, each shown in index.html" "gnuplot is not installed"
fi
# The plots' data: whole seconds only (a partial one would be drawn as a dip), the
# cameras' from their timelines and the gateway's rates within the cameras' seconds.
steps() { awk 'NR > 1 && ($1 - p < 0.9 || $1 - p > 1.1) { bad++ } { p = $1 } END { print bad + 0 }' "$@"; }
expect_eq "the plots' data files hold whole seconds only (cameras' rates and latency, the gateway's rates)" \
	"$(steps "$OUT/data/cam1.dat") $(steps "$OUT/data/cam3.dat") $(steps "$OUT/data/nodes.dat")" "0 0 0"
first=$(awk 'NR == 1 { print $NF }' "$OUT/data/cam1.timeline")
check "the gateway's rates start with the first second the cameras sent in whole (not a partial one)" \
	awk -v f="$first" -v t0="$(j .timing.load_start_unix)" 'NR == 1 { exit !($1 - 1 >= f - t0 - 0.05) }' \
	"$OUT/data/nodes.dat"
expect_eq "nothing of the rig is left after the run (namespaces, bpffs mounts, processes)" \
	"$(leftovers "$P" "$OUT")" ""

# --- interrupted ---------------------------------------------------------------------------
# As Ctrl-C does: SIGINT to the demo's whole process group, while the cameras stream. With
# job control on, the demo gets a process group of its own, and SIGINT is not ignored in
# it (a non-interactive shell's background commands would ignore it, and could not trap it).
tmp_before=$(ls -d /tmp/ep-demo-* 2>/dev/null)
set -m
# env --default-signal: a test run started in the background of a non-interactive shell
# inherits SIGINT ignored, and a shell cannot trap a signal ignored when it started.
env --default-signal=INT "$DEMO" --duration 30 --quick --out "$OUT-int" >"$EP_TMP/int.log" 2>&1 </dev/null &
dpid=$!
set +m
if wait_for_line "$EP_TMP/int.log" 't= *[0-9]+s +answered' 30; then
	P2=$(grep -oE 'rig d[0-9a-f]{4}' "$EP_TMP/int.log" | head -1 | cut -d' ' -f2)
	PREFIXES+=("$P2")
	kill -INT -- -"$dpid"
	wait "$dpid"
	rc=$?
	check "interrupted with SIGINT, it stops (status $rc) and says so" \
		test "$rc" -eq 130 -a -n "$(grep -F 'interrupted' "$EP_TMP/int.log")"
	[[ $rc -eq 130 ]] || diag "$(tail -8 "$EP_TMP/int.log")"
	expect_eq "and leaves nothing behind: namespaces, bpffs mounts, processes, temporary files" \
		"$(leftovers "$P2" "$OUT-int"; comm -13 <(echo "$tmp_before") <(ls -d /tmp/ep-demo-* 2>/dev/null))" ""
else
	not_ok "a demo to interrupt reaches its traffic"
	diag "$(tail -5 "$EP_TMP/int.log")"
	kill -INT -- -"$dpid" 2>/dev/null
	wait "$dpid"
fi

tap_done
