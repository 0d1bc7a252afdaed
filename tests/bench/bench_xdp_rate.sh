#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Part of `make bench-classify`: the classifier's packet rate on a veth against the
# machine's limit, a program that only counts and drops (bench_sink: XDP_DROP after
# parsing Ethernet, IP and UDP), on the same veth with the same generator, in turn round
# by round. epblast (AF_XDP, copy mode, CPU 0) sends single-fragment tasks open loop to
# the node's veth, whose NAPI runs as a thread on CPU 1 (SCHED_FIFO 50), so each program
# has a CPU to itself and the generator another. Set-ups:
#   drop        bench_sink (epblast --sink): the limit
#   shipped     the classifier as edgeplane-xdp attaches it (auth required, rate limits
#               per source prefix): what a flood of tasks without a session key costs
#   full        the classifier with its rate limits off (by their unsafe name): every task
#               parsed, checked and given its verdict (dropped: no session key)
# Each is counted at the program over the same window (its verdict counters), and CPU 1's
# busy time over it gives the nanoseconds per packet. Prints a markdown report.
source "$(dirname "$0")/lib_bench.sh"
bench_init bench_xdp_rate
SECS=${BENCH_SECS:-2}
ROUNDS=${BENCH_ROUNDS:-5}
WARMUP=0.5
BLAST=$BUILD/tests/bench/epblast
XDP=$BIN/edgeplane-xdp

ep_setup_bpffs && ep_setup_pair >/dev/null || die "cannot set up the namespaces"
# A frame from epblast's AF_XDP socket takes the node's NAPI (not the sender's backlog on
# the sender's CPU) only if the sending end has no TSO.
in_a ethtool -K "$IF_A" tso off >/dev/null &&
	napi_threaded "$NS_A" "$IF_A" && napi_threaded "$NS_B" "$IF_B" &&
	NAPI_PIDS="$(napi_pin "$IF_A" 0) $(napi_pin "$IF_B" 1)" ||
	die "cannot run the veths' NAPI in threads of their own (threaded NAPI on veth?)"
MAC_B=$(ip -n "$NS_B" -j link show "$IF_B" | jq -r '.[0].address')

detach() { in_b "$XDP" detach "$IF_B" >/dev/null 2>&1; }
on_exit detach
# xdp_count: every verdict the classifier counted so far (packets, all outcomes)
xdp_count() { in_b "$XDP" stats --dev "$IF_B" --json | jq '[.[].packets] | add'; }

# ring_drops: frames the generator's veth end could not put on the node's ring (full)
ring_drops() { ip -n "$NS_A" -s -j link show "$IF_A" | jq '.[0].stats64.tx.dropped'; }

# once SETUP -> "packets_per_s ns_per_packet cpu1_busy% sent_per_s disturbed ring_drops_per_s"
once() {
	local at blast_pid sink_pid='' c0 c1 b0 b1 t0 t1 r0 r1 sent d=0 n
	case $1 in
	shipped) in_b "$XDP" attach "$IF_B" >/dev/null || die "attach: the classifier" ;;
	full) in_b "$XDP" attach "$IF_B" --rate-limit off-unsafe >/dev/null ||
		die "attach: the classifier" ;;
	esac
	at=$(awk -v t="$(date +%s.%N)" 'BEGIN { printf "%.3f", t + 0.5 }')
	if [[ $1 == drop ]]; then
		in_b "$BLAST" --sink "$IF_B" --at "$at" --warmup "$WARMUP" --duration "$SECS" \
			>"$EP_TMP/sink.out" 2>&1 &
		sink_pid=$!
		wait_for_line "$EP_TMP/sink.out" '"ready"' 2 || die "sink: $(cat "$EP_TMP/sink.out")"
	fi
	in_a taskset -c 0 "$BLAST" --dev "$IF_A" --from "$ADDR_A" --to "$ADDR_B" \
		--dst-mac "$MAC_B" --at "$at" --warmup "$WARMUP" --duration "$SECS" \
		>"$EP_TMP/blast.out" 2>&1 &
	blast_pid=$!
	sleep "$(awk -v a="$at" -v w="$WARMUP" -v t="$(date +%s.%N)" \
		'BEGIN { d = a + w - t; printf "%.3f", (d > 0) ? d : 0 }')"
	cpu_mark $NAPI_PIDS $blast_pid
	[[ $1 == drop ]] || c0=$(xdp_count)
	b0=$(cpu_busy 1) t0=$(date +%s%N) r0=$(ring_drops)
	sleep "$SECS"
	b1=$(cpu_busy 1) t1=$(date +%s%N) r1=$(ring_drops)
	[[ $1 == drop ]] || c1=$(xdp_count)
	cpu_since $NAPI_PIDS $blast_pid
	disturbed && d=1
	wait "$blast_pid" || die "epblast: $(cat "$EP_TMP/blast.out")"
	if [[ $1 == drop ]]; then
		wait "$sink_pid" || die "sink: $(cat "$EP_TMP/sink.out")"
		n=$(tail -1 "$EP_TMP/sink.out" | jq -r .counted)
	else
		n=$((c1 - c0))
		detach
	fi
	sent=$(jq -r .per_s "$EP_TMP/blast.out")
	awk -v n="$n" -v b=$((b1 - b0)) -v t=$((t1 - t0)) -v hz="$CLK_TCK" -v s="$sent" -v d=$d \
		-v r=$((r1 - r0)) '
		BEGIN { sec = t / 1e9; printf "%.0f %.0f %.0f %.0f %d %.0f\n", n / sec,
			(n > 0) ? b / hz * 1e9 / n : 0, 100 * b / (sec * hz), s, d, r / sec }'
}

SETUPS="drop shipped full"
declare -A V
REPEATED=0
for _ in $(seq "$ROUNDS"); do
	for s in $SETUPS; do
		for ((try = 0; try <= ${BENCH_REPEATS:-2}; try++)); do
			((try)) && REPEATED=$((REPEATED + 1))
			read -r pps ns busy sent d ring <<<"$(once "$s")"
			((d)) || break
		done
		V[$s,pps]+="$pps " V[$s,ns]+="$ns " V[$s,busy]+="$busy " V[$s,sent]+="$sent "
		V[$s,ring]+="$ring "
	done
done

echo "The classifier on a veth against the machine's limit. Method: epblast (AF_XDP, copy"
echo "mode, CPU 0) sends 170-byte single-fragment tasks (4096 flows) open loop to the node's"
echo "veth, whose NAPI runs as a thread on CPU 1 (SCHED_FIFO 50); $ROUNDS rounds, each running the"
echo "three set-ups in turn, ${SECS} s counted after a ${WARMUP} s warm-up; runs disturbed by other work"
echo "(steal > ${BENCH_MAX_STEAL:-5} %, other processes > ${BENCH_MAX_FOREIGN:-10} % of one CPU) measured again: $REPEATED."
echo "\"drop\": bench_sink (parses Ethernet, IP and UDP, counts, XDP_DROP), the limit;"
echo "\"shipped\": the classifier as attached by default (auth required, rate limits per source"
echo "prefix), the tasks carry no session key; \"full\": rate limits off, so every task is parsed"
echo "and checked to its verdict (dropped for want of a session key). Packets/s are counted by the"
echo "program itself; ns per packet is CPU 1's busy time over the packets (the NAPI thread and"
echo "its softirqs); lost at the ring: frames the generator's veth end dropped, the node's ring full."
echo
echo "| set-up | packets/s per round | median | CPU 1 busy | ns per packet | lost at the ring /s | ratio to drop, per round | min median max |"
echo "|---|---|---:|---:|---:|---:|---|---|"
for s in $SETUPS; do
	if [[ $s == drop ]]; then
		echo "| drop | ${V[drop,pps]% } | $(med "${V[drop,pps]}") | $(med "${V[drop,busy]}") % | $(med "${V[drop,ns]}") | $(med "${V[drop,ring]}") | (the limit) | |"
	else
		IFS='|' read -r per mmm <<<"$(spread "${V[$s,pps]}" "${V[drop,pps]}")"
		echo "| $s | ${V[$s,pps]% } | $(med "${V[$s,pps]}") | $(med "${V[$s,busy]}") % | $(med "${V[$s,ns]}") | $(med "${V[$s,ring]}") | ${per% } |$mmm |"
	fi
done
echo
echo "epblast offered (frames/s, median per set-up): $(for s in $SETUPS; do printf '%s %s; ' "$s" "$(med "${V[$s,sent]}")"; done | sed 's/; $//')."
r=$(spread_median "${V[full,pps]}" "${V[drop,pps]}")
echo
echo "Goal: the classifier's rate at least 0.95 of XDP_DROP's on the same veth (full path,"
echo "median of the per-round ratios): $r ($(awk -v r="$r" 'BEGIN { print((r >= 0.95) ? "met" : "NOT met") }'))."
busy=$(med "${V[drop,busy]}")
echo "Per packet, on CPU 1: the classifier's full path costs $(spread_median "${V[full,ns]}" "${V[drop,ns]}") x the drop program's ns"
echo "(median of per-round ratios): a capacity of about $(awk -v n="$(med "${V[full,ns]}")" 'BEGIN { printf "%.2f", (n > 0) ? 1000 / n : 0 }') Mpps per CPU on this veth, against"
echo "$(awk -v n="$(med "${V[drop,ns]}")" 'BEGIN { printf "%.2f", (n > 0) ? 1000 / n : 0 }') for the drop program; most of either is the veth's own cost per frame."
if awk -v b="$busy" 'BEGIN { exit !(b < 95) }'; then
	echo "CPU 1 was $busy % busy under the drop program: the generator, not XDP_DROP, set its rate;"
	echo "frames the node's ring (256 on a veth) had no room for are counted above: lost before"
	echo "any program ran, while the NAPI thread was being woken or ran behind."
fi
