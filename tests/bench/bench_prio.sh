#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# `make bench-prio` (issue 14, section 2): priority isolation. A priority-5 stream at 10 %
# of what the node serves, alone and beside a priority-1 flood at twice what it serves.
#
# Node: the AF_XDP runtime on a veth pair, one queue, its worker pinned to CPU 1, with
# limits.high_priority at its default (4: priorities 4 and 5 get the queue's priority
# socket) and limits.max_priority 5 (the clients are the benchmark's own). Tasks: the
# benchmark plugin's "work" (tests/plugins/work_plugin.c), which holds the worker for
# BENCH_US (1000) us without using a CPU, for both priorities: the node's capacity is a
# property of the node, not of the generator's share of this 2-vCPU machine, and a
# priority-5 task is as long as a priority-1 one (it can wait for one that is running:
# the handler is not preemptive).
# 1. Capacity C: a closed loop of priority-1 tasks (64 outstanding) for BENCH_CAP_SECS (3).
# 2. BENCH_ROUNDS (3) rounds, each two windows in turn: the priority-5 stream alone, open
#    loop at C / 10 tasks/s for BENCH_SECS (8) s; then the same stream beside the flood,
#    open loop at 2 C tasks/s of priority 1 (attempts 1, at most 8192 outstanding), which
#    starts BENCH_WARM (2) s before the stream, so that its backlog is there. Between
#    windows the node drains (nothing queued). Every edgeload: --attempts 3 for priority 5
#    (a failure is a task not answered after 3 sends), timeout 1000 ms. The flood's
#    generator is pinned to CPU 0, the stream's to CPU 1 (beside the worker, which sleeps
#    in the plugin): unpinned, the stream's own generator waited for a CPU behind the
#    flood's and the veth's softirq, and its p99 measured that (335 ms once, against 2.9 ms
#    pinned, while the node's reported queueing stayed under 30 us).
# Reported per round: the priority-5 p99 with the flood over without it (min median max
# over rounds), priority-5 failures, and the flood's figures (sent, answered, failed, p99,
# and what the node counted: shed, dropped at the ring). A window disturbed by other work
# (lib_bench.sh: disturbed) is measured again, BENCH_REPEATS (2) times at most.
# Goal: median ratio <= 2, no priority-5 failure.
#
# Then the gateway under overload, which sheds low priorities first (BENCH_GATEWAY=0
# skips it). What sheds is the gateway's XDP: a node is eligible for a task while its
# reported CPU is below cpu_max of the task's priority (70, 75, 80, 90, 95 % for 1..5 by
# default) and the wait its reported queue means is below wait_max (set here to 250, 500,
# 1000 ms for 1..3, none for 4 and 5; off by default), and a task with no eligible node
# gets the overflow action
# (reject: an OVERLOADED reply built in XDP); docs/loadbalancing.md, "Priorities and
# shedding".
# Rig: a gateway (its controller with gateway.max_priority 5), one worker (one queue, the
# process pinned to CPU 1, so that its reported CPU is of that one CPU; cpu = "process")
# and a client. Tasks: the work plugin's "spin", which holds the worker BENCH_US us on its
# CPU. Capacity straight to the worker (64 outstanding, priority 5), then the same rounds
# as above through the gateway, both generators on CPU 0. Reported: the priority-5 p99
# with the flood over without, its failures and OVERLOADED answers, the flood's answered
# and OVERLOADED, and the gateway's overflow_reject count. BENCH_NODE=0 skips the first
# part; BENCH_DEBUG=1 prints the worker's load as the controller has it after each flood.
source "$(dirname "$0")/lib_bench.sh"
bench_init bench_prio
US=${BENCH_US:-1000}
CAP_SECS=${BENCH_CAP_SECS:-3}
SECS=${BENCH_SECS:-8}
WARM=${BENCH_WARM:-2}
ROUNDS=${BENCH_ROUNDS:-3}

ep_setup_bpffs && ep_setup_pair >/dev/null || die "cannot set up the namespaces"
PLUGIN=$(ep_plugin libepwork.so) || die "cannot install the work plugin"
bench_u32 "$US" "$EP_TMP/task.bin"

stats() { "$BIN/edgeplane" stats --socket "${1:-$EP_TMP/stats.sock}" --json; }
# Wait (at most 30 s) until the node (its stats socket) holds no task: no window inherits
# a backlog.
drain() {
	local end=$((SECONDS + 30))
	while ((SECONDS < end)); do
		[[ $(stats "${1:-}" | jq '[.workers[].queued] | add') == 0 ]] && return 0
		sleep 0.2
	done
}
col() { fields "$@"; }	# COLUMN FILE: per round
sum() { awk -v c="$1" '{ s += $c } END { printf "%d", s }' "$2"; }
# p99_table STEM: the results table's head and its rows of the priority-5 stream's p99,
# per round, from STEM-0 (alone) and STEM-1 (with the flood).
p99_table() {
	echo "| | per round | min median max |"
	echo "|---|---|---|"
	echo "| p5 p99 alone (us) | $(col 1 "$1-0")| |"
	echo "| p5 p99 with the flood (us) | $(col 1 "$1-1")| |"
	echo "| p5 p99 with / alone | $(spread "$(col 1 "$1-1")" "$(col 1 "$1-0")" | sed 's/ *| / | /') |"
}
le() { awk -v a="$1" -v b="$2" 'BEGIN { print (a <= b) ? 1 : 0 }'; }
verdict() { [[ $1 == 1 ]] && echo met || echo "**NOT met**"; }

bench_node() {
cat >"$EP_TMP/rt.conf" <<CONF
interface = "$IF_B";
queues = [0];
cpus = [1];
limits: { max_priority = 5; };
rate_limit = { mode = "off-unsafe"; };	# one generator address: not what is measured
$EP_SIGNING
handlers = ( { plugin = "$PLUGIN"; } );
$EP_AUTH_OFF
CONF
on_exit ep_stop_runtime
ep_start_runtime "$EP_TMP/rt.log" -c "$EP_TMP/rt.conf" ||
	die "the runtime did not start: $(tail -3 "$EP_TMP/rt.log")"
grep -q "a priority socket" "$EP_TMP/rt.log" || die "no priority socket: $(tail -3 "$EP_TMP/rt.log")"

LOAD=(load --to "$ADDR_B" --type 901 --in "$EP_TMP/task.bin" --no-compress --timeout-ms 1000
      --json)

# 1. Capacity.
in_a "$BIN/edgeload" "${LOAD[@]}" --prio 1 --concurrency 64 --duration "${CAP_SECS}s" \
	>"$EP_TMP/cap.json" 2>/dev/null
CAP=$(jq -r '.total.tasks_per_s | floor' "$EP_TMP/cap.json")
[[ $CAP -gt 0 ]] || die "capacity: no task answered"
P5_RATE=$(( (CAP + 5) / 10 ))
FLOOD_RATE=$((2 * CAP))
drain

# One window: the priority-5 stream, with the flood if FLOOD is 1.
# Appends "p99 failed sent completed retries" to $EP_TMP/p5-$FLOOD and, with the flood,
# "sent completed failed p99 shed rx_dropped" to $EP_TMP/p1.
REPEATED=0
window() {	# FLOOD ROUND
	local out=$EP_TMP/p5-$1-$2.json fout=$EP_TMP/p1-$2.json fpid='' try st0 st1
	for ((try = 0; try <= ${BENCH_REPEATS:-2}; try++)); do
		((try)) && REPEATED=$((REPEATED + 1))
		drain
		st0=$(stats)
		if [[ $1 == 1 ]]; then
			# ip netns exec and taskset exec: $! is the generator, counted as ours
			# below.
			ip netns exec "$NS_A" taskset -c 0 "$BIN/edgeload" "${LOAD[@]}" --prio 1 \
				--attempts 1 \
				--rate "$FLOOD_RATE" --concurrency 8192 \
				--duration "$((WARM + SECS + 1))s" >"$fout" 2>/dev/null &
			fpid=$!
			sleep "$WARM"
		fi
		cpu_mark "$RT_PID" $fpid
		in_a taskset -c 1 "$BIN/edgeload" "${LOAD[@]}" --prio 5 --attempts 3 --rate "$P5_RATE" \
			--concurrency 1024 --duration "${SECS}s" >"$out" 2>/dev/null
		cpu_since "$RT_PID" $fpid
		[[ -n $fpid ]] && wait "$fpid"
		st1=$(stats)
		disturbed || break
	done
	jq -r '.total | "\(.latency_us.p99) \(.failed) \(.sent) \(.completed) \(.retries)"' \
		"$out" >>"$EP_TMP/p5-$1" 2>/dev/null || echo "0 0 0 0 0" >>"$EP_TMP/p5-$1"
	if [[ $1 == 1 ]]; then
		echo "$(jq -r '.total | "\(.sent) \(.completed) \(.failed) \(.latency_us.p99)"' \
			"$fout" 2>/dev/null || echo "0 0 0 0")" \
			"$(jq -rn --argjson a "$st0" --argjson b "$st1" '
			  def s(f): [$b.workers[] | f] | add - ([$a.workers[] | f] | add);
			  "\(s(.shed)) \(s(.io.rx_dropped - .io.rx_prio_dropped)) \(s(.io.rx_prio_dropped))"')" \
			>>"$EP_TMP/p1"
	fi
}

for r in $(seq "$ROUNDS"); do
	window 0 "$r"
	window 1 "$r"
done


echo "Method: the AF_XDP runtime on a veth pair, one queue (worker on CPU 1), limits.high_priority"
echo "4 (the default: priorities 4-5 on the queue's priority socket); tasks of the work plugin"
echo "holding the worker $US us each, both priorities. Capacity C measured first, in this run:"
echo "$CAP tasks/s. Priority-5 stream: open loop at $P5_RATE tasks/s (C / 10), $SECS s, 3 attempts;"
echo "flood: priority 1, open loop at $FLOOD_RATE tasks/s (2 C), 1 attempt, started $WARM s before."
echo "Generators pinned: the flood to CPU 0, the stream to CPU 1 (the worker's)."
echo "$ROUNDS rounds, each \"alone\" then \"with the flood\". Windows disturbed by other work"
echo "(steal > ${BENCH_MAX_STEAL:-5} %, other processes > ${BENCH_MAX_FOREIGN:-10} % of one CPU) measured again: $REPEATED."
echo
p99_table "$EP_TMP/p5"
echo "| p5 sent, answered, failed, retries (alone) | $(awk '{ printf "%s/%s/%s/%s ", $3, $4, $2, $5 }' "$EP_TMP/p5-0")| |"
echo "| p5 sent, answered, failed, retries (flood) | $(awk '{ printf "%s/%s/%s/%s ", $3, $4, $2, $5 }' "$EP_TMP/p5-1")| |"
echo "| p1 flood sent, answered, failed | $(awk '{ printf "%s/%s/%s ", $1, $2, $3 }' "$EP_TMP/p1")| |"
echo "| p1 answered p99 (us) | $(col 4 "$EP_TMP/p1")| |"
echo "| p1 shed by the node (queue full) | $(col 5 "$EP_TMP/p1")| |"
echo "| dropped at the default socket's ring / the priority socket's | $(awk '{ printf "%s/%s ", $6, $7 }' "$EP_TMP/p1")| |"
echo
ratio_med=$(spread_median "$(col 1 "$EP_TMP/p5-1")" "$(col 1 "$EP_TMP/p5-0")")
fails=$(( $(sum 2 "$EP_TMP/p5-0") + $(sum 2 "$EP_TMP/p5-1") ))
echo "Goal (issue 14, 2): p5 p99 with flood / without <= 2 (median over rounds): $ratio_med," \
	"$(verdict "$(le "$ratio_med" 2)"); p5 failures 0: $fails, $(verdict "$([[ $fails == 0 ]] && echo 1)")."

}

bench_gateway() {
ep_rig_init q
on_exit _rig_down

rig up "$EP_ROOT/vm/topo/gateway.topo" >"$EP_TMP/rig.log" 2>&1 || die "rig up: $(tail -3 "$EP_TMP/rig.log")"
GW=$(rig addr gw)
W1=$(rig addr w1)
cat >"$EP_TMP/ctl.conf" <<CONF
gateway: { max_priority = 5; };
policy: { wait_max = [250, 500, 1000, 0, 0]; };
rate_limit = { mode = "off-unsafe"; };	# one client address: not what is measured
CONF
"$RIG" --prefix "$P" exec gw "$BIN/edgectl" serve --config "$EP_TMP/ctl.conf" --iface eth0 \
	--socket "$SOCK" --listen "$GW:7879" --allow-register $EP_AUTH_OFF_ARG \
	>"$EP_TMP/ctl.log" 2>&1 &
wait_for_line "$EP_TMP/ctl.log" "controller ready" 10 || die "controller: $(tail -3 "$EP_TMP/ctl.log")"
cat >"$EP_TMP/w1.conf" <<CONF
report = { controller = "$GW:7879"; node_id = 1; capacity = 100; cpu = "${BENCH_GW_CPU:-process}"; };
xdp = { virtual_addresses = [ "$GW" ]; };	# the gateway's address: DSR
limits: { max_priority = 5; };
rate_limit = { mode = "off-unsafe"; };
$EP_SIGNING
handlers = ( { plugin = "$PLUGIN"; } );
$EP_AUTH_OFF
CONF
"$RIG" --prefix "$P" exec w1 taskset -c 1 "$BIN/edgeplane" -c "$EP_TMP/w1.conf" -i eth0 \
	--stats-socket "$EP_TMP/w1.sock" --ready-file "$EP_TMP/w1.ready" >"$EP_TMP/w1.log" 2>&1 &
wait_for_line "$EP_TMP/w1.ready" . 10 || die "worker: $(tail -3 "$EP_TMP/w1.log")"
for _ in $(seq 50); do
	[[ $(ctl node list --json | jq '[.[] | select(.state == "up")] | length') == 1 ]] && break
	sleep 0.1
done

LOAD=(load --type 902 --in "$EP_TMP/task.bin" --no-compress --timeout-ms 1000 --json)
el() { rig exec c1 taskset -c 0 "$BIN/edgeload" "${LOAD[@]}" "$@" 2>/dev/null; }
rejects() { ctl stats --json | jq '[.. | .overflow_reject? // empty] | add // 0'; }

el --to "$W1" --prio 5 --concurrency 64 --duration "${CAP_SECS}s" >"$EP_TMP/gcap.json"
CAP=$(jq -r '.total.tasks_per_s | floor' "$EP_TMP/gcap.json")
[[ $CAP -gt 0 ]] || die "gateway capacity: no task answered"
P5_RATE=$(( (CAP + 5) / 10 ))
FLOOD_RATE=$((2 * CAP))
sleep 1	# the worker's reported CPU settles

# "p99 failed sent completed overloaded" per window in $EP_TMP/g5-FLOOD; the flood's
# "sent completed overloaded failed gateway_rejects" in $EP_TMP/g1.
gwindow() {	# FLOOD ROUND
	local out=$EP_TMP/g5-$1-$2.json fout=$EP_TMP/g1-$2.json fpid='' r0 r1
	drain "$EP_TMP/w1.sock"
	sleep 0.5
	r0=$(rejects)
	if [[ $1 == 1 ]]; then
		el --to "$GW" --prio 1 --attempts 1 --rate "$FLOOD_RATE" --concurrency 8192 \
			--duration "$((WARM + SECS + 1))s" >"$fout" &
		fpid=$!
		sleep "$WARM"
	fi
	el --to "$GW" --prio 5 --attempts 3 --rate "$P5_RATE" --concurrency 1024 \
		--duration "${SECS}s" >"$out"
	[[ -n $fpid && -n ${BENCH_DEBUG:-} ]] &&
		echo "loads: $(ctl node list --json | jq -c '[.[] | .load]')" >&2
	[[ -n $fpid ]] && wait "$fpid"
	r1=$(rejects)
	jq -r '.total | "\(.latency_us.p99) \(.failed) \(.sent) \(.completed) \(.errors.overloaded // 0)"' \
		"$out" >>"$EP_TMP/g5-$1" 2>/dev/null || echo "0 0 0 0 0" >>"$EP_TMP/g5-$1"
	if [[ $1 == 1 ]]; then
		echo "$(jq -r '.total | "\(.sent) \(.completed) \(.errors.overloaded // 0) \(.failed)"' \
			"$fout" 2>/dev/null || echo "0 0 0 0") $((r1 - r0))" >>"$EP_TMP/g1"
	fi
}
for r in $(seq "$ROUNDS"); do
	gwindow 0 "$r"
	gwindow 1 "$r"
done

echo "Gateway: vm/rig with a gateway (XDP, p2c, cpu_max 70/75/80/90/95 % for priorities 1..5,"
echo "wait_max 250/500/1000 ms for 1..3 and none for 4 and 5, overflow reject,"
echo "gateway.max_priority 5), one worker (one queue, the process on CPU 1,"
echo "reporting its own CPU) and a client; tasks of the work plugin's \"spin\", $US us of the"
echo "worker's CPU each. Capacity C straight to the worker, in this run: $CAP tasks/s."
echo "Priority-5 stream through the gateway at $P5_RATE tasks/s (C / 10), $SECS s, 3 attempts;"
echo "priority-1 flood through the gateway at $FLOOD_RATE tasks/s (2 C), 1 attempt. $ROUNDS rounds."
echo "Both generators on CPU 0."
echo
p99_table "$EP_TMP/g5"
echo "| p5 sent, answered, failed, OVERLOADED (flood) | $(awk '{ printf "%s/%s/%s/%s ", $3, $4, $2, $5 }' "$EP_TMP/g5-1")| |"
echo "| p1 flood sent, answered, OVERLOADED, failed | $(awk '{ printf "%s/%s/%s/%s ", $1, $2, $3, $4 }' "$EP_TMP/g1")| |"
echo "| gateway overflow_reject during the flood window | $(col 5 "$EP_TMP/g1")| |"
echo
# What the gateway shed: its overflow_reject counter over the flood windows (OVERLOADED
# replies built in XDP; the client, with one attempt, counts them failed). Priority 5's
# tasks were all answered or not: the counter holds only priority 1's if so.
p1_shed=$(sum 5 "$EP_TMP/g1")
p1_sent=$(sum 1 "$EP_TMP/g1")
p5_sent=$(sum 3 "$EP_TMP/g5-1")
p5_done=$(sum 4 "$EP_TMP/g5-1")
p5_failed=$(( $(sum 2 "$EP_TMP/g5-0") + $(sum 2 "$EP_TMP/g5-1") ))
echo "Shed by the gateway (overflow_reject, OVERLOADED built in XDP) during the flood windows:" \
	"$p1_shed, against $p1_sent priority-1 tasks sent" \
	"($(awk -v a="$p1_shed" -v b="$p1_sent" 'BEGIN { printf "%.0f", b ? 100 * a / b : 0 }') %);" \
	"priority 5: $p5_done of $p5_sent answered beside the flood, failures $p5_failed;" \
	"p5 p99 with / alone $(spread_median "$(col 1 "$EP_TMP/g5-1")" "$(col 1 "$EP_TMP/g5-0")") (median)."
echo
met=$( ((p1_shed > 0 && p5_failed == 0 && p5_done == p5_sent)) && echo met || echo "NOT met")
echo "Goal (issue 14, 2): under overload the gateway sheds low priorities first (priority 1"
echo "shed, every priority-5 task answered): $met."
}

[[ ${BENCH_NODE:-1} == 0 ]] || bench_node
[[ ${BENCH_NODE:-1} == 0 || ${BENCH_GATEWAY:-1} == 0 ]] || { ep_stop_runtime; echo; }
[[ ${BENCH_GATEWAY:-1} == 0 ]] || bench_gateway
