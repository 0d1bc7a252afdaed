#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# `make bench-runtime`, device authentication (issue 12; docs/protocol.md 3.5): what
# AUTH costs the runtime, and what an unauthenticated flood costs it. Run by bench.sh
# after bench_runtime.sh; prints a markdown report.
#
# 1. Throughput: 64 B echo and 1 KiB checksum tasks/s with AUTH against without, from one
#    runtime in auth.mode "optional" whose keys file holds the generator's key, so the
#    same runtime serves both: epgen with --auth (every request sealed, every reply
#    opened) and without, in turn, round by round (the order flips every round), beside
#    the machine's limit (bench_reflect answering in XDP on the same veth, no runtime).
#    The key's buckets and the per-prefix rate limits are configured far above the load,
#    so each task pays for its bucket (its key's, or its prefix's) and none is limited.
# 2. Flood: see bench_flood.sh.
#
# epgen (AF_XDP mode, closed loop, 128 tasks outstanding) runs on CPU 0, the runtime's
# single worker on CPU 1, as in bench_runtime.sh. BENCH_SECS (2) per run, BENCH_ROUNDS (5).
source "$(dirname "$0")/lib_bench.sh"
bench_init bench_auth
SECS=${BENCH_SECS:-2}
ROUNDS=${BENCH_ROUNDS:-5}
GEN=$BUILD/tests/bench/epgen
WORKLOADS="1:64 2:1024"
KEY_ID=1 TENANT=7 NODE_ID=9

ep_setup_bpffs && ep_setup_pair >/dev/null || die "cannot set up the namespaces"
MAC_B=$(ip -n "$NS_B" -j link show "$IF_B" | jq -r '.[0].address')

bench_gen_key "$KEY_ID" "$TENANT" || die "cannot write the keys file"

cat >"$EP_TMP/opt.conf" <<CONF
handlers = ( { name = "echo"; }, { name = "checksum"; } );
rate_limit = { packets_per_s = 2000000000; packets_burst = 2000000000;
	       bytes_per_s = 2000000000; bytes_burst = 2000000000; };
auth: { mode = "optional"; keys_file = "$KEYS"; node_id = $NODE_ID; };
CONF

RT_PID=
on_exit ep_stop_runtime
stats() { "$BIN/edgeplane" stats --socket "$EP_TMP/stats.sock" --json; }
xdp_stats() { ip netns exec "$NS_B" "$BIN/edgeplane-xdp" stats --dev "$IF_B" --json; }

# gen_once TYPE SIZE [epgen options] -> "tps p50 p99 lost errors bad_tags steal% other%":
# one run of SECS s, with how much of the machine others took meanwhile.
gen_once() {
	local t=$1 s=$2 out
	shift 2
	cpu_mark $RT_PID
	out=$(ip netns exec "$NS_A" taskset -c 0 "$GEN" --mode afxdp --dev "$IF_A" \
		--from "$ADDR_A" --dst-mac "$MAC_B" --to "$ADDR_B" --type "$t" --size "$s" \
		--concurrency 128 --duration "$SECS" "$@" |
		jq -r '"\(.tasks_per_s) \(.p50_us) \(.p99_us) \(.lost) \(.errors) \(.bad_tags)"')
	cpu_since $RT_PID
	echo "${out:-0 0 0 0 0 0} $CPU_STEAL $CPU_OTHER $CPU_FOREIGN"
}

# A run disturbed by the machine's other work (lib_bench.sh: disturbed) is measured
# again, once.

declare -A R	# R[setup,workload] = "tps ..." per round; R[redo] lists the runs measured again
# measure SETUP TYPE SIZE [epgen options]: one run into R, again if disturbed
measure() {
	local setup=$1 t=$2 s=$3 tps p50 p99 lost err bad ot
	shift 3
	read -r tps p50 p99 lost err bad CPU_STEAL ot CPU_FOREIGN <<<"$(gen_once "$t" "$s" "$@")"
	if disturbed; then
		R[redo]+="$r:$setup:$t "
		read -r tps p50 p99 lost err bad CPU_STEAL ot CPU_FOREIGN \
			<<<"$(gen_once "$t" "$s" "$@")"
	fi
	R[$setup,$t:$s,tps]+="$tps " R[$setup,$t:$s,p50]+="$p50 " R[$setup,$t:$s,p99]+="$p99 "
	R[$setup,lost]=$((${R[$setup,lost]:-0} + lost + err + bad))
	R[$setup,other]+="$ot "
}

for r in $(seq "$ROUNDS"); do
	: >"$EP_TMP/rt.log"
	ep_start_runtime "$EP_TMP/rt.log" -c "$EP_TMP/opt.conf" -b afxdp -i "$IF_B" --cpus 1 \
		--batch-size 32 || die "runtime did not start: $(tail -3 "$EP_TMP/rt.log")"
	order="plain auth"
	((r % 2)) || order="auth plain"
	for w in $WORKLOADS; do
		for setup in $order; do
			if [[ $setup == auth ]]; then
				measure auth "${w%%:*}" "${w##*:}" "${AUTH[@]}"
			else
				measure plain "${w%%:*}" "${w##*:}"
			fi
		done
	done
	stats >"$EP_TMP/stats-$r.json" && xdp_stats >"$EP_TMP/xdp-$r.json" ||
		die "cannot read the runtime's statistics"
	ep_stop_runtime
	# The machine's limit: no runtime, an XDP program answers every task on the same veth.
	ip -n "$NS_B" link set dev "$IF_B" xdpdrv obj "$BUILD/bpf/bench_reflect.bpf.o" sec xdp ||
		die "cannot attach bench_reflect"
	for w in $WORKLOADS; do measure reflect "${w%%:*}" "${w##*:}"; done
	ip -n "$NS_B" link set dev "$IF_B" xdpdrv off
done

name() {
	case ${1%%:*} in
	1) echo "echo ${1##*:} B" ;;
	2) echo "checksum ${1##*:} B" ;;
	esac
}
# sum over rounds of a runtime counter: jq PATH
rt_sum() { cat "$EP_TMP"/stats-*.json | jq -s "[.[] | $1] | add"; }
xdp_sum() { cat "$EP_TMP"/xdp-*.json | jq -s "[.[] | $1] | add"; }

echo "Device authentication (issue 12): tasks/s with AUTH (AES-128-GCM: every request sealed by"
echo "epgen and opened by the runtime, every reply sealed by the runtime and opened by epgen)"
echo "against the same tasks without, from one runtime in auth.mode \"optional\" whose keys"
echo "file holds epgen's key. AF_XDP backend, batch 32, the runtime's worker on CPU 1, epgen"
echo "(closed loop, 128 outstanding) on CPU 0. The key's buckets (tasks/s, KiB/s) and the"
echo "per-prefix rate limits are configured far above the load: each task pays for its bucket"
echo "and none is limited. $ROUNDS rounds of ${SECS} s runs; each round runs \"plain\" and \"auth\""
echo "in turn on one runtime (plain first in odd rounds, auth first in even ones), then"
echo "\"reflect\": no runtime, bench_reflect answering every task in XDP on the same veth (the"
echo "limit the generator, the veth and XDP set; it cannot seal, so it is measured without"
echo "AUTH). A run disturbed by other work (steal > ${BENCH_MAX_STEAL:-5} %, other processes >"
echo "${BENCH_MAX_FOREIGN:-10} % of one CPU) is measured again${R[redo]:+ (again: ${R[redo]% })}."
echo "p50 and p99 are medians over rounds."
echo
echo "| workload | set-up | tasks/s per round | median | p50 us | p99 us | ratio per round | min | median | max |"
echo "|---|---|---|---:|---:|---:|---|---:|---:|---:|"
for w in $WORKLOADS; do
	for setup in plain auth reflect; do
		k=$setup,$w
		row="| $(name "$w") | $setup | ${R[$k,tps]% } | $(med "${R[$k,tps]}") |"
		row+=" $(med "${R[$k,p50]}") | $(med "${R[$k,p99]}") |"
		if [[ $setup == plain ]]; then
			echo "$row (baseline) | | | |"
		else
			IFS='|' read -r rr mm <<<"$(spread "${R[$k,tps]}" "${R[plain,$w,tps]}")"
			mm=${mm# }
			echo "$row ${rr% } | ${mm// / | } |"
		fi
	done
done
echo
for w in $WORKLOADS; do
	read -r _ amed _ <<<"$(spread "${R[auth,$w,tps]}" "${R[plain,$w,tps]}" | cut -d'|' -f2)"
	met=$(awk -v r="$amed" 'BEGIN { print((r >= 0.85) ? "met" : "NOT met") }')
	read -r _ pref _ <<<"$(spread "${R[plain,$w,tps]}" "${R[reflect,$w,tps]}" | cut -d'|' -f2)"
	read -r _ aref _ <<<"$(spread "${R[auth,$w,tps]}" "${R[reflect,$w,tps]}" | cut -d'|' -f2)"
	echo "Goal: with AUTH at least 0.85 of without, $(name "$w") (median over rounds): $amed ($met)."
	echo "Against the XDP reflector: without AUTH $pref, with AUTH $aref (medians over rounds)."
	echo
done
echo "Checks over all rounds: tasks lost, answered with an error or with a reply that did not"
echo "open: plain ${R[plain,lost]}, auth ${R[auth,lost]}, reflect ${R[reflect,lost]}. The runtime"
echo "verified $(rt_sum '.workers[].auth.ok') AUTH datagrams and dropped"
echo "$(rt_sum '[.workers[].auth.dropped[]] | add') (every reason); its replies not sent for a gone key:"
echo "$(rt_sum '.workers[].auth.replies_dropped'). The classifier redirected"
echo "$(xdp_sum '.redirect_xsk.packets') datagrams to the runtime and dropped"
echo "$(xdp_sum '[to_entries[] | select(.key | startswith("drop_")) | .value.packets] | add')."
