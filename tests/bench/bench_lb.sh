#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# `make bench-lb`: the gateway's load balancing. Prints a markdown report.
#
#   fwd_rate     forwarding rate of the XDP gateway (bpf/ep_gateway.bpf.c, attached and
#                kept current by `edgectl serve`) against a userspace UDP proxy making
#                the same P2C choice with recvmmsg/sendmmsg (tests/bench/epproxy.c),
#                measured in the same run, alternating, and their ratio; then the
#                proxy's best rate when it is not overloaded (epblast paced).
#                With BENCH_BASE=DIR (the bin/ of a build of another commit, the one before
#                a change to the gateway), its gateway too, in turn within each round: the
#                forwarding rate now over then, round by round, and the goal line of issue
#                14 (at least 0.95).
#   table        the Maglev table's rebuild time and its write into a BPF map at 64, 1024,
#                4096 and 8191 nodes (tests/bench/bench_table.c; issue 16), first. Alone,
#                without the namespaces: BENCH_LB_ONLY=table tests/bench/bench_lb.sh.
#   path, nodes, drain
#                issue 16's scale sections (tests/bench/lb_scale.sh): the per-packet cost
#                by node count (BPF_PROG_TEST_RUN), the forwarding rate with 4096 nodes
#                against 3 and XDP_DROP, and a drain's way to a second gateway through etcd.
#                Each alone: BENCH_LB_ONLY=path, nodes or drain.
#   (task latency p99 by policy is tests/bench/lb_policy.sh, run after this by bench.sh)
#
# Topology, in three namespaces made here and removed on exit:
#
#   gen [g] --veth-- [a] gw [b] --veth-- [s] sink        (and an idle veth pair in gw)
#
# epblast (AF_XDP, CPU 0) sends single-fragment tasks from gen to gw's address on [a];
# bench_sink (XDP, native) counts and drops what reaches [s]. The gateway's three nodes
# all point at the sink (same MAC and address, reached through a devmap redirect to [b]):
# the point is the choice, not distinct workers. eptest-report keeps their loads fresh
# so the P2C path runs. [a]'s NAPI runs threaded on CPU 1, so in both modes everything
# that forwards (XDP, or the kernel's receive path and epproxy) shares CPU 1 and the
# sender has CPU 0. For the proxy runs the controller attaches the gateway to the idle
# veth instead, so that its maps stay live for epproxy to read.
#
# BENCH_SECS (5) counted seconds per run after BENCH_WARMUP (1); BENCH_ROUNDS (3) runs of
# each forwarder; BENCH_KEEP=DIR keeps every run's logs and JSON there.
source "$(dirname "$0")/lib_bench.sh"
bench_init bench_lb
SECS=${BENCH_SECS:-5}
WARMUP=${BENCH_WARMUP:-1}
ROUNDS=${BENCH_ROUNDS:-3}
BLAST=$BUILD/tests/bench/epblast
PROXY=$BUILD/tests/bench/epproxy
TABLE=$BUILD/tests/bench/bench_table
REPORT=$TOOLS/eptest-report
CTL=$BIN/edgectl

for b in "$BLAST" "$PROXY" "$REPORT" "$CTL"; do [[ -x $b ]] || die "$b: not built (make)"; done

# --- topology ----------------------------------------------------------------------------

S=$EP_SUFFIX
NS_GEN=eplb$S-gen NS_GW=eplb$S-gw NS_SINK=eplb$S-sink
# At most 10 characters, so "napi/$IF_GWA" fits a kernel thread's 15-character name.
IF_GEN=g$S IF_GWA=a$S IF_GWB=b$S IF_SINK=s$S
# An idle veth pair in gw, where the proxy runs' controller attaches (no dummy driver here).
IF_IDLE=d$S IF_IDLE_PEER=e$S
GEN_IP=198.18.1.2 GWA_IP=198.18.1.1 GWB_IP=198.18.2.1 SINK_IP=198.18.2.2
# (For foreground commands: a function run in the background is a subshell, and $! would
# name the subshell rather than the process. Background jobs call `ip netns exec`, which
# execs, so $! is the process itself and can be stopped by its id.)
in_gen() { ip netns exec "$NS_GEN" "$@"; }
in_gw() { ip netns exec "$NS_GW" "$@"; }
in_sink() { ip netns exec "$NS_SINK" "$@"; }
mac_of() { ip -n "$1" -j link show "$2" | jq -r '.[0].address'; }

setup() {
	bench_netns "$NS_GEN" "$NS_GW" "$NS_SINK" &&
	ip link add "$IF_GEN" netns "$NS_GEN" type veth peer name "$IF_GWA" netns "$NS_GW" &&
	ip link add "$IF_GWB" netns "$NS_GW" type veth peer name "$IF_SINK" netns "$NS_SINK" &&
	ip -n "$NS_GW" link add "$IF_IDLE" type veth peer name "$IF_IDLE_PEER" || return 1
	in_gw sysctl -qw net.ipv4.ip_forward=0 &&
	ip -n "$NS_GEN" addr add $GEN_IP/24 dev "$IF_GEN" &&
	ip -n "$NS_GW" addr add $GWA_IP/24 dev "$IF_GWA" &&
	ip -n "$NS_GW" addr add $GWB_IP/24 dev "$IF_GWB" &&
	ip -n "$NS_SINK" addr add $SINK_IP/24 dev "$IF_SINK" || return 1
	ip -n "$NS_GEN" link set "$IF_GEN" up && ip -n "$NS_GW" link set "$IF_GWA" up &&
	ip -n "$NS_GW" link set "$IF_GWB" up && ip -n "$NS_GW" link set "$IF_IDLE" up &&
	ip -n "$NS_GW" link set "$IF_IDLE_PEER" up &&
	ip -n "$NS_SINK" link set "$IF_SINK" up || return 1
	# A veth drops frames sent to it with XDP_TX or XDP_REDIRECT unless the receiving
	# end has an XDP program or GRO: GRO everywhere (also gives every end a NAPI).
	in_gen ethtool -K "$IF_GEN" gro on >/dev/null && in_gw ethtool -K "$IF_GWA" gro on >/dev/null &&
	in_gw ethtool -K "$IF_GWB" gro on >/dev/null && in_sink ethtool -K "$IF_SINK" gro on >/dev/null ||
		return 1
	# A frame from epblast's AF_XDP socket takes [a]'s NAPI (rather than the sender's
	# backlog, on the sender's CPU) only if [g] has no TSO; attaching XDP to [a] turns
	# it off, so do it for the proxy runs too. That NAPI runs as a thread, pinned below.
	in_gen ethtool -K "$IF_GEN" tso off >/dev/null &&
	in_gw sh -c "echo 1 >/sys/class/net/$IF_GWA/threaded" || return 1
	GWA_MAC=$(mac_of "$NS_GW" "$IF_GWA") GWB_MAC=$(mac_of "$NS_GW" "$IF_GWB")
	SINK_MAC=$(mac_of "$NS_SINK" "$IF_SINK")
	# Static neighbours: the sink's program must not be what resolves them.
	ip -n "$NS_GW" neigh replace $SINK_IP lladdr "$SINK_MAC" dev "$IF_GWB" nud permanent &&
	ip -n "$NS_SINK" neigh replace $GWB_IP lladdr "$GWB_MAC" dev "$IF_SINK" nud permanent
}

# The NAPI thread(s) of the gateway's interface, named "napi/$IF_GWA-<id>", on CPU 1.
# Looked up each run: attaching XDP may recreate them.
pin_napi() {
	local p comm

	NAPI_PIDS=
	for p in /proc/[0-9]*; do
		comm=$(cat "$p/comm" 2>/dev/null) || continue
		if [[ $comm == "napi/$IF_GWA-"* ]]; then
			taskset -pc 1 "${p#/proc/}" >/dev/null || return 1
			NAPI_PIDS+=" ${p#/proc/}"
		fi
	done
	[[ -n $NAPI_PIDS ]]
}

# --- the controller and its nodes --------------------------------------------------------

PIN='' SOCK='' CTL_PID='' PROXY_PID='' SINK_PID='' NAPI_PIDS=''
RATE=''	# epblast's pace in frames/s; empty: as fast as it can
REP_PIDS=()

# start_ctl IFACE [serve options]: the controller on IFACE (the gateway's interface, or
# the idle veth for the proxy runs, where no task meets the program but the maps live),
# the nodes' reporters, and wait until the three nodes are up with fresh loads.
start_ctl() {
	local iface=$1 id up
	shift

	ip netns exec "$NS_GW" "$CTL" serve --config "$EP_TMP/gw.conf" --iface "$iface" --socket "$SOCK" \
		--listen $GWB_IP:7879 --pin-dir "$PIN" --no-wait-for-report \
		--dead-after-ms 3600000 --detach-on-exit --no-relay --log-level warn "$@" \
		>>"$EP_TMP/ctl.log" 2>&1 &
	CTL_PID=$!
	for _ in $(seq 100); do [[ -S $SOCK ]] && break; sleep 0.05; done
	[[ -S $SOCK ]] || die "the controller did not start: $(tail -3 "$EP_TMP/ctl.log")"
	for id in 1 2 3; do
		ip netns exec "$NS_SINK" "$REPORT" --to $GWB_IP:7879 --id $id --ip4 $SINK_IP --mac "$SINK_MAC" \
			--interval-ms 100 --count 0 --max-seconds 60 >>"$EP_TMP/report.log" 2>&1 &
		REP_PIDS+=($!)
	done
	for _ in $(seq 100); do
		up=$("$CTL" --socket "$SOCK" node list --json 2>/dev/null |
			jq '[.[] | select(.state == "up" and .usable and .load.age_ms >= 0 and
					  .load.age_ms < 500)] | length' 2>/dev/null)
		[[ $up == 3 ]] && break
		sleep 0.05
	done
	[[ $up == 3 ]] || die "nodes not up: $("$CTL" --socket "$SOCK" node list 2>&1)"
	"$CTL" --pin-dir "$PIN" table --sample 1000 >>"$EP_TMP/table.log" 2>&1
}

stop_ctl() {
	local p

	for p in "${REP_PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	REP_PIDS=()
	if [[ -n $CTL_PID ]]; then
		kill -TERM "$CTL_PID" 2>/dev/null
		wait "$CTL_PID" 2>/dev/null
		CTL_PID=
	fi
}

stop_proxy() {
	if [[ -n $PROXY_PID ]]; then
		kill -TERM "$PROXY_PID" 2>/dev/null
		wait "$PROXY_PID" 2>/dev/null
		PROXY_PID=
	fi
}

# BENCH_KEEP=DIR keeps the logs and JSON of every run there.
stop_all() {
	[[ -n $SINK_PID ]] && kill -TERM "$SINK_PID" 2>/dev/null && wait "$SINK_PID" 2>/dev/null
	stop_proxy
	stop_ctl
	[[ -n ${BENCH_KEEP:-} ]] && mkdir -p "$BENCH_KEEP" && cp "$EP_TMP"/*.* "$BENCH_KEEP"/
	return 0
}

# --- one measurement ---------------------------------------------------------------------

# cpu_ticks: "busy total" jiffies of CPU 0, then of CPU 1, from /proc/stat (busy counts
# interrupts and stolen time).
cpu_ticks() {
	awk '/^cpu[01] / { busy = $2 + $3 + $4 + $7 + $8 + $9; printf "%d %d ", busy, busy + $5 + $6 }' \
		/proc/stat
}
# task_ticks PID...: user + system jiffies of these tasks, added up.
task_ticks() {
	local p t=0 st

	for p in "$@"; do
		st=$(cat "/proc/$p/stat" 2>/dev/null) || continue
		st=${st##*) }	# after "pid (comm) "
		read -r -a st <<<"$st"
		t=$((t + st[11] + st[12]))
	done
	echo "$t"
}

# drops: frames dropped on the way into the forwarder so far: "VETH SOCKET" - by [g]'s
# veth when [a]'s receive ring was full, and by the kernel when epproxy's socket buffer
# was (UDP RcvbufErrors in gw).
drops() {
	echo "$(ip -n "$NS_GEN" -s -j link show "$IF_GEN" | jq '.[0].stats64.tx.dropped')" \
	     "$(in_gw awk '/^Udp:/ { if (!h) { for (i = 2; i <= NF; i++) if ($i == "RcvbufErrors")
					       c = i; h = 1 } else print $c }' /proc/net/snmp)"
}

# wait_quiet: this machine is shared; wait (up to 30 s) until the CPUs are nearly idle
# before a measurement. Returns 1 if they never were.
wait_quiet() {
	local a b

	for _ in $(seq 60); do
		a=$(cpu_ticks)
		sleep 0.5
		b=$(cpu_ticks)
		awk -v a="$a" -v b="$b" 'BEGIN { split(a, x); split(b, y)
			exit !((y[1] - x[1] + y[3] - x[3]) < 0.15 * (y[2] - x[2])) }' && return 0
	done
	return 1
}

# blast_and_count NAME: sink on [s], sender on [g] over the same window; leaves
# $EP_TMP/NAME.sink and NAME.blast (JSON), and NAME.cpu: the CPU time of the sender, of
# the forwarder (the NAPI thread, and epproxy) and of everything else in the window, in
# % of one CPU, and whether the machine was busy before.
blast_and_count() {
	local at blast_pid c0 c1 s0 s1 f0 f1 d0 d1 quiet=quiet

	wait_quiet || quiet=busy
	pin_napi || die "no NAPI thread for $IF_GWA (threaded NAPI on veth?)"
	at=$(awk -v t="$(date +%s.%N)" 'BEGIN { printf "%.3f", t + 1.5 }')
	ip netns exec "$NS_SINK" "$BLAST" --sink "$IF_SINK" --at "$at" --warmup "$WARMUP" \
		--duration "$SECS" >"$EP_TMP/$1.sink" 2>&1 &
	SINK_PID=$!
	wait_for_line "$EP_TMP/$1.sink" '"ready"' 2 || die "sink: $(cat "$EP_TMP/$1.sink")"
	ip netns exec "$NS_GEN" taskset -c 0 "$BLAST" --dev "$IF_GEN" --from $GEN_IP \
		--to $GWA_IP --dst-mac "$GWA_MAC" --at "$at" --warmup "$WARMUP" \
		--duration "$SECS" ${RATE:+--rate "$RATE"} >"$EP_TMP/$1.blast" 2>&1 &
	blast_pid=$!
	sleep "$(awk -v a="$at" -v w="$WARMUP" -v t="$(date +%s.%N)" \
		'BEGIN { d = a + w - t; printf "%.3f", (d > 0) ? d : 0 }')"
	# shellcheck disable=SC2086 # lists of pids
	c0=$(cpu_ticks) s0=$(task_ticks $blast_pid) f0=$(task_ticks $NAPI_PIDS $PROXY_PID)
	d0=$(drops)
	sleep "$SECS"
	# shellcheck disable=SC2086
	c1=$(cpu_ticks) s1=$(task_ticks $blast_pid) f1=$(task_ticks $NAPI_PIDS $PROXY_PID)
	d1=$(drops)
	wait "$blast_pid" || die "epblast: $(cat "$EP_TMP/$1.blast")"
	wait "$SINK_PID" || die "sink: $(cat "$EP_TMP/$1.sink")"
	SINK_PID=
	{	# For the logs (BENCH_KEEP): where frames were dropped, if they were.
		in_gen ip -s link show "$IF_GEN"; in_gw ethtool -S "$IF_GWA"
		in_gw ethtool -S "$IF_GWB"; in_sink ethtool -S "$IF_SINK"
		in_gw grep '^Udp:' /proc/net/snmp
	} >"$EP_TMP/$1.stats" 2>&1
	# Tick-based: a softirq (the sink's NAPI) counts to the thread it interrupted, and
	# with IRQ time accounting (not here) to none.
	awk -v a="$c0" -v b="$c1" -v s=$((s1 - s0)) -v f=$((f1 - f0)) -v q=$quiet 'BEGIN {
		split(a, x); split(b, y); t = (y[2] - x[2] + y[4] - x[4]) / 2 + 1e-9
		o = y[1] - x[1] + y[3] - x[3] - s - f
		printf "%.0f %.0f %.0f %s\n", 100 * s / t, 100 * f / t, 100 * (o > 0 ? o : 0) / t, q
	}' >"$EP_TMP/$1.cpu"
	awk -v a="$d0" -v b="$d1" 'BEGIN { split(a, x); split(b, y)
		printf "%d %d\n", y[1] - x[1], y[2] - x[2] }' >"$EP_TMP/$1.drops"
}

# run_xdp NAME / run_base NAME / run_proxy NAME: one measurement each; NAME.decisions gets
# the decision counts of the whole run (warm-up included). run_base is run_xdp with the
# controller (and so the gateway program it loads) of BENCH_BASE.
run_base() {
	local ctl=$CTL

	CTL=$BENCH_BASE/edgectl
	run_xdp "$@"
	CTL=$ctl
}

run_xdp() {
	start_ctl "$IF_GWA" --xdp-mode native
	blast_and_count "$1"
	"$CTL" --pin-dir "$PIN" stats --json |
		jq -c '.decisions | {pick_p2c, pick_scan, pick_stale, pick_affinity, fwd_dsr,
				     overflow_reject, tx_error}' >"$EP_TMP/$1.decisions"
	stop_ctl
}

run_proxy() {
	# The same controller and nodes, attached to an idle veth: its maps stay live for
	# epproxy to read, and no task meets the XDP program.
	start_ctl "$IF_IDLE" --xdp-mode native
	ip netns exec "$NS_GW" taskset -c 1 "$PROXY" --pin-dir "$PIN" --listen "$GWA_IP" --duration 60 \
		>"$EP_TMP/$1.proxy" 2>&1 &
	PROXY_PID=$!
	wait_for_line "$EP_TMP/$1.proxy" '"ready"' 2 || die "epproxy: $(cat "$EP_TMP/$1.proxy")"
	blast_and_count "$1"
	stop_proxy
	jq -c 'select(.mode) | {pick_p2c, pick_scan, pick_stale, forwarded, invalid, overflow, tx_error}' \
		"$EP_TMP/$1.proxy" >"$EP_TMP/$1.decisions"
	stop_ctl
}

# --- reports -----------------------------------------------------------------------------

# (f and ratio: lib_bench.sh)
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf("%.1f%%", (b > 0) ? 100 * a / b : 0) }'; }
median() { tr ' ' '\n' | grep . | sort -g | awk -v r="$ROUNDS" 'NR == int((r + 1) / 2)'; }
# js FILE EXPR: EXPR of the result line (the one with "mode") of FILE.
js() { jq -r "select(.mode) | $2" "$1"; }
# sum_decisions MODE: the decision counts of every run of MODE, added up, as "k v, ...".
sum_decisions() {
	local r

	for r in $(seq "$ROUNDS"); do cat "$EP_TMP/$1-$r.decisions"; done |
		jq -rs 'reduce .[] as $d ({}; reduce ($d | keys_unsorted[]) as $k (.;
			.[$k] += $d[$k])) | to_entries | map("\(.key) \(.value)") | join(", ")'
}

# measure MODE NAME: run_MODE, again (up to 3 times in all) while other work on this
# shared machine took more than a quarter of a CPU in the window; keeps the attempt that
# met the least of it as NAME.*.
measure() {
	local k best='' bo=1000 o f

	for k in 1 2 3; do
		"run_$1" "$2.$k"
		o=$(awk '{ print $3 }' "$EP_TMP/$2.$k.cpu")
		((o < bo)) && best=$k bo=$o
		((o <= 25)) && break
	done
	for f in "$EP_TMP/$2.$best".*; do cp "$f" "$EP_TMP/$2.${f##*.}"; done
	echo $((k - 1)) >"$EP_TMP/$2.retries"
}

# fwd_rate: ROUNDS runs of each forwarder, alternating; a markdown report.
fwd_rate() {
	local mode r n
	declare -A AT OFFERED RUNS DETAIL CPU DROPS LABEL=([xdp]="XDP gateway"
							   [base]="XDP gateway, BENCH_BASE"
							   [proxy]="userspace proxy")

	for r in $(seq "$ROUNDS"); do
		for mode in $MODES; do
			n=$mode-$r
			measure "$mode" "$n"
			AT[$mode]+="$(js "$EP_TMP/$n.sink" .per_s) "
			OFFERED[$mode]+="$(js "$EP_TMP/$n.blast" .per_s) "
			RUNS[$mode]+="$(f "$(js "$EP_TMP/$n.sink" .per_s)")$(awk '$3 > 25 ||
				$4 == "busy" { printf "†" }' "$EP_TMP/$n.cpu") "
			DETAIL[$mode]+="$(js "$EP_TMP/$n.sink" .counted) / $(js "$EP_TMP/$n.blast" \
				.window_sent) / $(js "$EP_TMP/$n.blast" .sent); "
			CPU[$mode]+="$(awk '{ printf "%s/%s/%s", $1, $2, $3 }' "$EP_TMP/$n.cpu"), "
			DROPS[$mode]+="$(awk '{ printf "%d / %d", $1, $2 }' "$EP_TMP/$n.drops"); "
		done
	done

	local ax ap ox op a o met
	ax=$(median <<<"${AT[xdp]}") ap=$(median <<<"${AT[proxy]}")
	ox=$(median <<<"${OFFERED[xdp]}") op=$(median <<<"${OFFERED[proxy]}")
	echo "Method: epblast (AF_XDP, copy mode, CPU 0) sends $(js "$EP_TMP/xdp-1.blast" \
		.frame_bytes)-byte frames (single-fragment tasks,"
	echo "64 B of payload, 4096 flows) open-loop to the gateway's veth; the gateway forwards"
	echo "them to three nodes that all lead to a sink namespace, where an XDP program counts"
	echo "and drops them. Everything that forwards runs on CPU 1 (the NAPI thread of the"
	echo "gateway's veth; epproxy is pinned there too). XDP: ep_gateway attached natively by"
	echo "edgectl serve, P2C on fresh loads, DSR through a devmap redirect. Baseline: epproxy,"
	echo "a UDP socket with recvmmsg/sendmmsg (batches of 64), the same P2C choice from the"
	echo "gateway's maps. $WARMUP s warm-up, then $SECS s counted; $ROUNDS runs of each, alternating;"
	echo "medians."
	echo
	echo "| forwarder | tasks/s at the sink, per run | median | offered (median) | delivered |"
	echo "|---|---|---:|---:|---:|"
	for mode in $MODES; do
		[[ $mode == xdp ]] && a=$ax o=$ox || a=$ap o=$op
		[[ $mode == base ]] && a=$(median <<<"${AT[base]}") &&
			o=$(median <<<"${OFFERED[base]}")
		echo "| ${LABEL[$mode]} | ${RUNS[$mode]% } | **$(f "$a")** | $(f "$o") |" \
		     "$(pct "$a" "$o") |"
	done
	echo
	echo "Per run, in the counted window:"
	echo
	for mode in $MODES; do
		echo "- ${LABEL[$mode]}: counted at the sink / sent by epblast (whole run):" \
		     "${DETAIL[$mode]%; }."
		echo "  Dropped on the way in, at the gateway's veth ring / epproxy's full socket" \
		     "buffer: ${DROPS[$mode]%; }."
		echo "  CPU, % of one: epblast / forwarder / other: ${CPU[$mode]%, }."
	done
	echo
	echo "CPU time is from the scheduler's tick counts. The forwarder is the gateway veth's"
	echo "NAPI thread (the XDP programs, or the kernel's receive path, with the sink's NAPI as"
	echo "softirqs) and epproxy. \"Other\" is everything else: this machine is shared, and a run"
	echo "where other work took more than a quarter of a CPU was repeated (up to 3 times; †"
	echo "marks one still disturbed)."
	echo
	echo "Decisions over all runs, warm-up included. XDP (edgectl stats): $(sum_decisions xdp)."
	echo "Proxy (its own counters): $(sum_decisions proxy)."
	echo
	proxy_best "$ap"
	echo "Overloaded, the proxy loses most of its core to receiving datagrams its full socket"
	echo "then drops (XDP drops what it cannot take at the veth ring, before any work). So"
	echo "that its own capacity is measured too, epblast was then paced at rising rates from"
	echo "the proxy's median above, until it delivered less than 90 % of the offer. Offered ->"
	echo "at the sink, tasks/s: $STEPS. Best: **$(f "$BEST")**."
	echo
	met=$(awk -v a="$ax" -v b="$ap" 'BEGIN { print((a >= 4 * b) ? "met" : "NOT met") }')
	echo "Goal: XDP at least 4 x the proxy: **$(ratio "$ax" "$ap")** ($met), both offered all epblast"
	met=$(awk -v a="$ax" -v b="$BEST" 'BEGIN { print((a >= 4 * b) ? "met" : "NOT met") }')
	echo "could send; against the proxy's best paced rate: **$(ratio "$ax" "$BEST")** ($met)."
	if [[ $MODES == *base* ]]; then
		local sp med
		sp=$(spread "${AT[xdp]}" "${AT[base]}")
		med=$(awk '{ print $(NF - 1) }' <<<"$sp")
		met=$(awk -v m="$med" 'BEGIN { print (m >= 0.95) ? "met" : "NOT met" }')
		echo
		echo "The gateway now over the gateway of BENCH_BASE ($BENCH_BASE_DESC), the same"
		echo "round's runs: ${sp%%|*}; min / median / max: **${sp#*| }**."
		echo "Goal (issue 14): forwarding rate at least 0.95 of before: **$med** ($met)."
	fi
	if awk -v a="$ax" -v o="$ox" 'BEGIN { exit !(a >= 0.97 * o) }'; then
		echo "The XDP gateway delivered what epblast offered: the sender, not the gateway, set"
		echo "its rate, so the ratios are lower bounds."
	fi
}

# proxy_best MEDIAN: epproxy offered 1.5, 2, 2.5, 3 and 4 x MEDIAN tasks/s (paced), until
# it delivers less than 90 % of the offer. Sets STEPS ("offered -> delivered, ...") and
# BEST (the most it delivered).
proxy_best() {
	local x k=0 d o

	STEPS='' BEST=0
	for x in 1.5 2 2.5 3 4; do
		k=$((k + 1))
		RATE=$(awk -v m="$1" -v x="$x" 'BEGIN { printf "%d", m * x }')
		((RATE > 0)) || break
		measure proxy "paced-$k"
		RATE=
		d=$(js "$EP_TMP/paced-$k.sink" .per_s) o=$(js "$EP_TMP/paced-$k.blast" .per_s)
		STEPS+="$(f "$o") -> $(f "$d")$(awk '$3 > 25 || $4 == "busy" { printf "†" }' \
			"$EP_TMP/paced-$k.cpu"), "
		BEST=$(awk -v a="$BEST" -v b="$d" 'BEGIN { print (b > a) ? b : a }')
		awk -v d="$d" -v o="$o" 'BEGIN { exit !(d < 0.9 * o) }' && break
	done
	STEPS=${STEPS%, }
}

# table_rebuild: the section on the table's rebuild time (markdown).
table_rebuild() {
	[[ -x $TABLE ]] || die "$TABLE: not built (make)"
	echo "### Table rebuild"
	echo
	"$TABLE" --rounds=9 || die "bench_table failed"
	echo
}

source "$(dirname "$0")/lb_scale.sh"
ONLY=${BENCH_LB_ONLY:-}
case $ONLY in
'' | table | path | nodes | drain) ;;
*) die "BENCH_LB_ONLY=$ONLY: one of table, path, nodes, drain" ;;
esac
[[ -z $ONLY || $ONLY == table ]] && table_rebuild
[[ -z $ONLY || $ONLY == path ]] && gw_path
[[ $ONLY == table || $ONLY == path ]] && exit 0
[[ $ONLY == drain ]] && { drain_latency; exit 0; }
[[ -z $ONLY ]] && echo "### Forwarding rate" && echo

MODES="xdp proxy"
if [[ -n ${BENCH_BASE:-} ]]; then
	[[ -x $BENCH_BASE/edgectl ]] || die "BENCH_BASE=$BENCH_BASE: no edgectl there"
	MODES="xdp base proxy"
	BENCH_BASE_DESC=$(git -C "$BENCH_BASE" log -1 --format='commit %h' 2>/dev/null ||
		echo "$BENCH_BASE")
fi
ep_setup_bpffs || die "cannot mount a bpffs"
PIN=$EP_BPFFS/gw SOCK=$EP_TMP/ctl.sock
setup || die "cannot set up the namespaces"
on_exit stop_all
# The forwarding rate from one blaster is what is measured: the gateway's rate limits
# per source prefix (datagrams, bytes, new tasks) are off, by their unsafe name.
cat >"$EP_TMP/gw.conf" <<CONF
rate_limit = { mode = "off-unsafe"; };
$EP_AUTH_OFF
nodes = (
	{ id = 1; name = "s1"; mac = "$SINK_MAC"; ip4 = "$SINK_IP"; interface = "$IF_GWB"; capacity = 100; },
	{ id = 2; name = "s2"; mac = "$SINK_MAC"; ip4 = "$SINK_IP"; interface = "$IF_GWB"; capacity = 100; },
	{ id = 3; name = "s3"; mac = "$SINK_MAC"; ip4 = "$SINK_IP"; interface = "$IF_GWB"; capacity = 100; }
);
CONF

[[ -z $ONLY ]] && fwd_rate
node_rate
report_cost
[[ -z $ONLY ]] && drain_latency
exit 0
