#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# `make bench-runtime`, device authentication (issue 12), part 2: an unauthenticated flood
# against a runtime in auth.mode "required", whose classifier drops every task without
# AUTH in XDP (drop_auth_missing). Run by bench.sh after bench_auth.sh; prints markdown.
#
#   (a) the runtime process's CPU time (utime + stime of all its threads, /proc/PID/stat)
#       while the flood runs and nothing else, as % of one CPU, against the same window
#       with no traffic at all and against the flood with the classifier's auth check
#       off for the window (the runtime then drops what lacks AUTH itself); with the CPU
#       time of the NAPI thread that runs the classifier, the flood's rate and where it
#       went (XDP's drops, the runtime, the veth's full ring);
#   (b) an enrolled device's latency (epgen --auth, closed loop, BENCH_DEVICE_CONC = 8
#       tasks outstanding, 64 B echo) without the flood, with it, and with it sent
#       elsewhere at the same rate (a control: what the flood's sender costs the device
#       on the CPU they share, the node untouched), in turn round by round.
#
# Topology, in three namespaces made here and removed on exit:
#
#   flood [f] --veth-- [g] -+
#                           bridge, device [d] --veth-- [n] node
#
# The device's namespace bridges the flood's veth to its own: the flood reaches the node
# through the device's link and takes the node's one receive queue with the device's
# tasks, as a flood from anywhere would on a single-queue NIC. epblast (AF_XDP, copy mode)
# sends 64 B single-fragment tasks without AUTH from 4096 flows of 256 addresses (one in
# each /24 of 198.19.0.0/16, so the per-prefix rate limits do not cap it), open loop, as
# fast as it can. [n]'s NAPI runs as a thread pinned to CPU 1 with the runtime's worker,
# so the node's CPU pays for every drop; on a veth it would otherwise run on the sender's
# CPU. The senders (epblast, and epgen as the device) share CPU 0: this machine has two.
# epgen waits in poll() for its replies (--idle-wait) so that the flood's sender gets CPU 0
# while the device waits. BENCH_SECS (2) per window, BENCH_ROUNDS (5).
source "$(dirname "$0")/lib_bench.sh"
bench_init bench_flood
SECS=${BENCH_SECS:-2}
ROUNDS=${BENCH_ROUNDS:-5}
CONC=${BENCH_DEVICE_CONC:-8}
WARMUP=0.5
GEN=$BUILD/tests/bench/epgen
BLAST=$BUILD/tests/bench/epblast
KEY_ID=1 TENANT=7 NODE_ID=9

for b in "$GEN" "$BLAST"; do [[ -x $b ]] || die "$b: not built (make)"; done

# --- topology ----------------------------------------------------------------------------

S=$EP_SUFFIX
NS_D=epfl$S-dev NS_N=epfl$S-node NS_F=epfl$S-fld
# At most 9 characters, so the NAPI thread's name "napi/$IF_N-<id>" keeps its "-" within
# a kernel thread's 15 characters.
IF_D=d$S IF_N=n$S IF_F=f$S IF_G=g$S BR=b$S
ADDR_D=198.18.0.1 ADDR_N=198.18.0.2 ADDR_F=198.19.0.1
# shellcheck disable=SC2034 # read by ep_start_runtime: where it starts the runtime
NS_B=$NS_N
in_d() { ip netns exec "$NS_D" "$@"; }
in_n() { ip netns exec "$NS_N" "$@"; }
mac_of() { ip -n "$1" -j link show "$2" | jq -r '.[0].address'; }

setup() {
	bench_netns "$NS_D" "$NS_N" "$NS_F" || return 1
	ip link add "$IF_D" netns "$NS_D" type veth peer name "$IF_N" netns "$NS_N" &&
	ip link add "$IF_F" netns "$NS_F" type veth peer name "$IF_G" netns "$NS_D" &&
	ip -n "$NS_D" link add "$BR" type bridge &&
	ip -n "$NS_D" link set "$IF_D" master "$BR" && ip -n "$NS_D" link set "$IF_G" master "$BR" &&
	ip -n "$NS_N" addr add $ADDR_N/24 dev "$IF_N" || return 1
	for l in "$NS_D $IF_D" "$NS_D $IF_G" "$NS_D $BR" "$NS_N $IF_N" "$NS_F $IF_F"; do
		ip -n ${l% *} link set "${l#* }" up || return 1
	done
	# UDP checksums completed in software (the runtime checks them), as ep_setup_pair.
	in_d ethtool -K "$IF_D" tx off >/dev/null && in_n ethtool -K "$IF_N" tx off >/dev/null &&
	napi_threaded "$NS_N" "$IF_N" || return 1
	MAC_N=$(mac_of "$NS_N" "$IF_N")
	# The node's MAC is behind the device's port: no flooding of unknown unicast.
	bridge -n "$NS_D" fdb replace "$MAC_N" dev "$IF_D" master static
}
# The NAPI thread(s) of the node's interface on CPU 1 (lib_bench.sh: napi_pin), at an
# interrupt thread's priority: as an ordinary thread it waits its turn behind the
# runtime's worker while its ring (256 frames on a veth) overflows, and the device's tasks
# are lost with the flood's frames. Looked up after the runtime started.
NAPI_PIDS=

ep_setup_bpffs && setup || die "cannot set up the namespaces"

bench_gen_key "$KEY_ID" "$TENANT" || die "cannot write the keys file"
# As shipped (rate limits per prefix, checks, checksums), but only enrolled devices served.
cat >"$EP_TMP/rt.conf" <<CONF
handlers = ( { name = "echo"; } );
auth: { mode = "required"; keys_file = "$KEYS"; node_id = $NODE_ID; };
CONF

RT_PID=
on_exit ep_stop_runtime
: >"$EP_TMP/rt.log"
ep_start_runtime "$EP_TMP/rt.log" -c "$EP_TMP/rt.conf" -b afxdp -i "$IF_N" --cpus 1 \
	--batch-size 32 || die "runtime did not start: $(tail -3 "$EP_TMP/rt.log")"
NAPI_PIDS=$(napi_pin "$IF_N" 1) || die "no NAPI thread for $IF_N (threaded NAPI on veth?)"
xdp_stats() { in_n "$BIN/edgeplane-xdp" stats --dev "$IF_N" --json; }
xdp_mode=$(in_n "$BIN/edgeplane-xdp" auth mode --dev "$IF_N" 2>&1)
if ! grep -qw required <<<"$xdp_mode"; then
	echo "Unauthenticated flood: not measured: the runtime (auth.mode \"required\") left its"
	echo "classifier in auth mode \"$xdp_mode\", so XDP would drop nothing for lack of AUTH."
	exit 0
fi
# The kernel's softirq threads: under the flood they take softirq work the senders raise.
# With the senders, the runtime and the NAPI threads, they are not "others" below.
KSOFTIRQD_PIDS=$(pgrep '^ksoftirqd/' | tr '\n' ' ')
rt_stats() { "$BIN/edgeplane" stats --socket "$EP_TMP/stats.sock" --json; }
# counters -> "auth_missing other_drops redirected runtime_missing ring_drops" so far: the
# classifier's drops for lack of AUTH, its drops for any other reason, the datagrams it
# handed to the runtime, the runtime's own drops for lack of AUTH, and the frames the
# node's veth could not queue (its ring was full: the sender's tx_dropped).
counters() {
	local x r
	x=$(xdp_stats) r=$(rt_stats)
	echo "$(jq -r '(.drop_auth_missing.packets // 0) as $m | ([to_entries[] |
		select(.key | startswith("drop_")) | .value.packets] | add // 0) as $d |
		"\($m) \($d - $m) \(.redirect_xsk.packets // 0)"' <<<"$x")" \
		"$(jq '[.workers[].auth.dropped.missing] | add' <<<"$r")" \
		"$(in_d ip -j -s link show "$IF_D" | jq '.[0].stats64.tx.dropped')"
}
# delta A B -> per-second rates of the first three counters and totals of the last two
delta() {
	awk -v a="$1" -v b="$2" -v s="$3" 'BEGIN { split(a, x); split(b, y)
		printf "%.0f %.0f %.0f %d %d", (y[1] - x[1]) / s, (y[2] - x[2]) / s,
			(y[3] - x[3]) / s, y[4] - x[4], y[5] - x[5] }'
}

# flood_start: epblast from the flood's namespace on CPU 0, from 0.2 s on: WARMUP s before
# its counted window of SECS + 2 s (the measurement within it takes SECS s, and reading
# the counters at both ends some more). Bounded by time and by a count (5 million frames
# a second, more than this machine can send). flood_window_start sleeps until that window.
flood_start() {	# [epblast options]
	FLOOD_AT=$(awk -v t="$(date +%s.%N)" 'BEGIN { printf "%.3f", t + 0.2 }')
	ip netns exec "$NS_F" taskset -c 0 "$BLAST" --dev "$IF_F" --from $ADDR_F --sources 256 \
		--to $ADDR_N --dst-mac "$MAC_N" --flows 4096 --size 64 --at "$FLOOD_AT" \
		--warmup "$WARMUP" --duration $((SECS + 2)) --max-frames $((5000000 * (SECS + 3))) "$@" \
		>"$EP_TMP/blast.json" 2>&1 &
	BLAST_PID=$!
}
flood_window_start() {
	sleep "$(awk -v a="$FLOOD_AT" -v w=$WARMUP -v t="$(date +%s.%N)" \
		'BEGIN { d = a + w - t; printf "%.3f", (d > 0) ? d : 0 }')"
}
# flood_wait: FLOOD_RATE, the flood's rate in its window (frames/s). In this shell, not in
# a $(...): the flood is its child.
FLOOD_RATE=
flood_wait() {
	wait "$BLAST_PID" || die "epblast: $(cat "$EP_TMP/blast.json")"
	BLAST_PID=
	FLOOD_RATE=$(jq -r '.per_s' "$EP_TMP/blast.json")
}
BLAST_PID=
_stop_blast() { [[ -n $BLAST_PID ]] && kill "$BLAST_PID"; }
on_exit _stop_blast

# --- (a) the runtime's CPU time -------------------------------------------------------------
# window -> "runtime% napi% counter-deltas... other%": SECS s from now (CPU times over
# exactly that, the counters' deltas over it and the reading of them at both ends)
window() {
	local t0 t1 r0 r1 n0 n1 c0 c1 tc0 tc1
	c0=$(counters) tc0=$(date +%s%N)
	cpu_mark "$RT_PID" $NAPI_PIDS $BLAST_PID $KSOFTIRQD_PIDS
	r0=$(proc_ticks "$RT_PID") n0=$(proc_ticks $NAPI_PIDS) t0=$(date +%s%N)
	sleep "$SECS"
	r1=$(proc_ticks "$RT_PID") n1=$(proc_ticks $NAPI_PIDS) t1=$(date +%s%N)
	cpu_since "$RT_PID" $NAPI_PIDS $BLAST_PID $KSOFTIRQD_PIDS
	c1=$(counters) tc1=$(date +%s%N)
	echo "$(awk -v r=$((r1 - r0)) -v n=$((n1 - n0)) -v t=$((t1 - t0)) -v hz="$CLK_TCK" \
		'BEGIN { s = t / 1e9; printf "%.1f %.1f", 100 * r / (s * hz), 100 * n / (s * hz) }')" \
		"$(delta "$c0" "$c1" "$(awk -v t=$((tc1 - tc0)) 'BEGIN { print t / 1e9 }')")" "$CPU_OTHER"
}
xdp_auth_mode() { in_n "$BIN/edgeplane-xdp" auth mode "$1" --dev "$IF_N" >/dev/null; }
declare -A A B
A_FIELDS="rt napi missing drops redir rtmiss ring other"
# a_window SETUP: one window of SETUP (idle, flood, xdpoff) into A
a_window() {
	local v f rate=0
	[[ $1 == xdpoff ]] && { xdp_auth_mode off || die "cannot set XDP's auth mode"; }
	if [[ $1 != idle ]]; then
		flood_start
		flood_window_start
	fi
	read -ra v <<<"$(window)"
	[[ $1 != idle ]] && flood_wait && rate=$FLOOD_RATE
	[[ $1 == xdpoff ]] && { xdp_auth_mode required || die "cannot set XDP's auth mode"; }
	for f in $A_FIELDS; do A[$1,$f]+="${v[0]} "; v=("${v[@]:1}"); done
	A[$1,rate]+="$rate "
}

# --- (b) an enrolled device's latency ---------------------------------------------------------
# device CPU -> "tps p50 p99 lost other%": the enrolled device for SECS s, on CPU
device() {
	local out
	cpu_mark "$RT_PID" $NAPI_PIDS $BLAST_PID $KSOFTIRQD_PIDS
	out=$(ip netns exec "$NS_D" taskset -c "$1" "$GEN" --mode afxdp --dev "$IF_D" \
		--from $ADDR_D --dst-mac "$MAC_N" --to $ADDR_N --type 1 --size 64 \
		--concurrency "$CONC" --duration "$SECS" --idle-wait "${AUTH[@]}" |
		jq -r '"\(.tasks_per_s) \(.p50_us) \(.p99_us) \(.lost + .errors + .bad_tags)"')
	cpu_since "$RT_PID" $NAPI_PIDS $BLAST_PID $KSOFTIRQD_PIDS
	echo "${out:-0 0 0 0} $CPU_OTHER"
}
B_FIELDS="tps p50 p99 lost other"
# b_run SETUP@CPU: the device on CPU with no flood (quiet), with the flood (flood), or with
# the flood sent as fast but not to the node (elsewhere: its veth taken off the bridge, so
# the device's namespace drops it, at the rate the flood reached in this round's (a)).
b_run() {
	local v f c0 c1 t0 t1 rate=0 what=${1%@*} cpu=${1#*@}
	if [[ $what != quiet ]]; then
		if [[ $what == elsewhere ]]; then
			in_d ip link set "$IF_G" nomaster || die "cannot take $IF_G off the bridge"
			flood_start --rate "$(awk '{ print $NF }' <<<"${A[flood,rate]}")"
		else
			flood_start
		fi
		flood_window_start
	fi
	c0=$(counters) t0=$(date +%s%N)
	read -ra v <<<"$(device "$cpu")"
	c1=$(counters) t1=$(date +%s%N)
	if [[ $what != quiet ]]; then
		flood_wait
		rate=$FLOOD_RATE
		if [[ $what == elsewhere ]]; then
			in_d ip link set "$IF_G" master "$BR" || die "cannot bridge $IF_G again"
		fi
	fi
	for f in $B_FIELDS; do B[$1,$f]+="${v[0]} "; v=("${v[@]:1}"); done
	B[$1,rate]+="$rate "
	read -ra v <<<"$(delta "$c0" "$c1" "$(awk -v t=$((t1 - t0)) 'BEGIN { print t / 1e9 }')")"
	B[$1,missing]+="${v[0]} " B[$1,ring]+="${v[4]} "
}

# (b)'s set-ups: the device on CPU 0, which it shares with the flood's sender (as
# bench_runtime.sh places a generator: apart from the runtime), and on CPU 1, which it
# shares with the node (the runtime's worker, the NAPI thread), so that the flood's sender
# has CPU 0 to itself. Each round runs them all, in an order that rotates.
B_SETUPS=(quiet@0 flood@0 elsewhere@0 quiet@1 flood@1)
for r in $(seq "$ROUNDS"); do
	for s in idle flood xdpoff; do a_window $s; done
	n=${#B_SETUPS[@]}
	for ((k = 0; k < n; k++)); do b_run "${B_SETUPS[(k + r - 1) % n]}"; done
done

# --- report ------------------------------------------------------------------------------------
medf() { printf '%s\n' $1 | sort -g | awk '{ v[NR] = $1 } END { printf "%.1f", v[int((NR + 1) / 2)] }'; }
sum() { printf '%s\n' $1 | awk '{ s += $1 } END { printf "%d", s }'; }

echo "Unauthenticated flood (issue 12): the runtime in auth.mode \"required\" (AF_XDP, batch 32,"
echo "its worker on CPU 1, defaults otherwise), its classifier dropping every task without AUTH"
echo "in XDP. The flood: epblast (AF_XDP, copy mode, CPU 0), 64 B single-fragment tasks without"
echo "AUTH from 4096 flows of 256 addresses (a /24 each, in 198.19.0.0/16: the per-prefix rate"
echo "limits do not cap it), open loop, as fast as it can send, from a namespace of its own"
echo "bridged into the device's link, so it shares the node's one receive queue with the"
echo "device. The node's NAPI (where XDP runs) is a thread pinned to CPU 1 with the runtime's"
echo "worker, at an interrupt thread's priority (SCHED_FIFO 50): the node's CPU pays for every"
echo "drop, as a NIC's interrupts would make it. On this rig a drop costs far more than on a"
echo "NIC: veth copies each frame into a page before XDP runs. $ROUNDS rounds of ${SECS} s windows,"
echo "the flood's after ${WARMUP} s of it; medians over rounds. \"Others' CPU\" is what the rest"
echo "of the machine took meanwhile, in % of one CPU: processes other than the benchmark's"
echo "(runtime, NAPI threads, senders, softirq threads), since this machine is shared, and"
echo "kernel work charged to no process (softirqs run in an idle CPU's idle task)."
echo
echo "(a) CPU time while nothing but the flood reaches the node. \"idle\": no traffic; \"flood\":"
echo "the flood; \"flood, XDP check off\": the same flood with the classifier's auth mode set to"
echo "off for the window (edgeplane-xdp auth mode off): the runtime drops what lacks AUTH"
echo "itself, after XDP copied it into the runtime's AF_XDP socket. The runtime's CPU time is"
echo "utime + stime of all its threads (/proc/PID/stat)."
echo
echo "| window | runtime CPU % per round | median | NAPI thread CPU % | flood sent/s | XDP drop_auth_missing/s | other XDP drops/s | to the runtime/s | runtime's own drops (missing) | lost at the veth ring | others' CPU % |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for s in idle flood xdpoff; do
	case $s in idle) n=idle ;; flood) n=flood ;; xdpoff) n="flood, XDP check off" ;; esac
	echo "| $n | ${A[$s,rt]% } | $(medf "${A[$s,rt]}") | $(medf "${A[$s,napi]}") |" \
		"$(med "${A[$s,rate]}") | $(med "${A[$s,missing]}") | $(med "${A[$s,drops]}") |" \
		"$(med "${A[$s,redir]}") | $(sum "${A[$s,rtmiss]}") | $(sum "${A[$s,ring]}") |" \
		"$(medf "${A[$s,other]}") |"
done
fmed=$(medf "${A[flood,rt]}")
met=$(awk -v v="$fmed" 'BEGIN { print((v < 5) ? "met" : "NOT met") }')
echo
echo "Goal: the runtime below 5 % of a CPU during the flood (median over rounds): $fmed % ($met)."
echo
echo "(b) An enrolled device (epgen --auth, closed loop, $CONC tasks outstanding, 64 B echo,"
echo "waiting in poll() for its replies) without the flood (\"quiet\") and with it (\"flood\"), in"
echo "turn round by round (the order rotates). The device's generator needs a CPU, and this"
echo "machine has two: on CPU 0 it shares its CPU with the flood's sender (the placement of"
echo "bench_runtime.sh's generator, apart from the runtime); on CPU 1 it shares the node's CPU"
echo "(the runtime's worker, the NAPI thread) and the flood's sender has CPU 0 to itself."
echo "\"elsewhere\" (device on CPU 0): the flood sent as fast as in (a) but not to the node (its"
echo "veth taken off the bridge): what sharing CPU 0 with the flood's sender costs the device"
echo "with the node untouched. A lost task (no reply in 500 ms: its request or reply was"
echo "dropped, e.g. at the node's full veth ring) is not in the percentiles: see \"lost\"."
echo
echo "| device on | set-up | p99 us per round | median | p50 us | tasks/s | lost | flood sent/s | XDP drop_auth_missing/s | lost at the veth ring | others' CPU % | p99 / quiet per round | min | median | max |"
echo "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|"
for s in "${B_SETUPS[@]}"; do
	q=quiet@${s#*@}
	row="| CPU ${s#*@} | ${s%@*} | ${B[$s,p99]% } | $(medf "${B[$s,p99]}") |"
	row+=" $(medf "${B[$s,p50]}") | $(med "${B[$s,tps]}") | $(sum "${B[$s,lost]}") |"
	row+=" $(med "${B[$s,rate]}") | $(med "${B[$s,missing]}") | $(sum "${B[$s,ring]}") |"
	row+=" $(medf "${B[$s,other]}") |"
	if [[ $s == "$q" ]]; then
		echo "$row (baseline) | | | |"
	else
		IFS='|' read -r rr mm <<<"$(spread "${B[$s,p99]}" "${B[$q,p99]}")"
		mm=${mm# }
		echo "$row ${rr% } | ${mm// / | } |"
	fi
done
p99_ratio() { spread "${B[$1,p99]}" "${B[$2,p99]}" | cut -d'|' -f2 | awk '{ print $2 }'; }
r1=$(p99_ratio flood@1 quiet@1) r0=$(p99_ratio flood@0 quiet@0) re=$(p99_ratio elsewhere@0 quiet@0)
met() { awk -v r="$1" 'BEGIN { print((r <= 1.5) ? "met" : "NOT met") }'; }
echo
echo "Goal: the device's p99 with the flood within 1.5 x without (median over rounds): with the"
echo "flood's sender alone on CPU 0 (device on CPU 1) $r1 ($(met "$r1")); with the device"
echo "sharing CPU 0 with the flood's sender $r0 ($(met "$r0")), of which the sender alone, its"
echo "flood sent elsewhere, makes $re."
