#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# `make bench-backends`: the runtime's four packet backends on the same workloads, and zstd
# on against off for real image frames. One run, so every ratio compares like with like.
#
# 1. Tasks/s and latency of AF_XDP, DPDK (net_af_xdp), io_uring and the udp backend
#    (recvmmsg/sendmmsg, the socket baseline) for 64 B echo, 1 KiB checksum and a 64 KiB
#    image operation (sobel on a 256 x 256 frame of a real photograph: 47 fragments in,
#    47 out). The load comes from epgen in AF_XDP mode (closed loop) pinned to CPU 0, the
#    runtime (every thread) is pinned to CPU 1, and each veth end's NAPI runs as a thread
#    on its side's CPU (lib_bench.sh: pair_napi), as in bench_runtime.sh, so that both
#    agree on the baseline and CPU 1's busy time is the node's. Each round runs every
#    backend in turn, so drift on a shared machine hits all alike; the table gives the
#    median of the rounds, tasks per node CPU-second beside tasks/s.
# 2. zstd on (level 3) against off: edgeload sends each real photograph (as gray pixels,
#    the frames a camera hands over) to the blob detector; bytes of payload and bytes the
#    client's interface sent, and tasks/s.
# Prints a markdown report.
source "$(dirname "$0")/lib_bench.sh"
bench_init bench_backends
SECS=${BENCH_SECS:-2}
ROUNDS=${BENCH_ROUNDS:-5}
GEN=$BUILD/tests/bench/epgen
IMAGES=$BUILD/data/images
BACKENDS="afxdp dpdk uring udp"
WORKLOADS="1:64 2:1024 13:img"

[[ -s $IMAGES/camera.png ]] || die "no test images in $IMAGES (make fetches them)"
ep_setup_bpffs && ep_setup_pair >/dev/null || die "cannot set up the namespaces"
pair_napi || die "cannot run the veths' NAPI in threads of their own (threaded NAPI on veth?)"
MAC_B=$(ip -n "$NS_B" -j link show "$IF_B" | jq -r '.[0].address')

# Maximum rates from one generator: the rate limits per source prefix are off (by their
# unsafe name), or they would be what is measured.
cat >"$EP_TMP/rt.conf" <<CONF
handlers = ( { name = "echo"; }, { name = "checksum"; }, { name = "sobel"; },
	     { name = "blobs"; } );
rate_limit = { mode = "off-unsafe"; };
$EP_AUTH_OFF
CONF

RT_PID=
try_start_rt() {	# backend (the log holds this start's output only)
	: >"$EP_TMP/rt.log"
	ep_start_runtime "$EP_TMP/rt.log" -c "$EP_TMP/rt.conf" -b "$1" -i "$IF_B" --cpus 1 &&
		taskset -apc 1 "$RT_PID" >/dev/null	# every thread (--cpus places workers only)
}
stop_rt() { ep_stop_runtime; }
on_exit stop_rt

# measure TYPE SIZE -> "tps p50 p99 lost errors completed" of one run; SIZE "img" is the
# 256 x 256 frame.
measure() {
	local payload=(--size "$2") conc=128

	[[ $2 == img ]] && payload=(--image "$IMAGES/camera.png") conc=16
	ip netns exec "$NS_A" taskset -c 0 "$GEN" --mode afxdp --dev "$IF_A" --from "$ADDR_A" \
		--dst-mac "$MAC_B" --to "$ADDR_B" --type "$1" "${payload[@]}" \
		--concurrency "$conc" --duration "$SECS" |
		jq -r '"\(.tasks_per_s) \(.p50_us) \(.p99_us) \(.lost) \(.errors) \(.completed)"'
}

# A run disturbed by other work is measured again, twice at most (lib_bench.sh: node_run,
# which adds tasks per node CPU-second and the CPUs' busy shares to each line).
declare -A SKIP
for _ in $(seq "$ROUNDS"); do
	for b in $BACKENDS; do
		[[ -n ${SKIP[$b]:-} ]] && continue
		if ! try_start_rt "$b"; then
			SKIP[$b]=$(grep -m1 -i error "$EP_TMP/rt.log" || tail -1 "$EP_TMP/rt.log")
			continue
		fi
		for w in $WORKLOADS; do
			node_run "$EP_TMP/$b-$w" "$RT_PID" -- measure "${w%%:*}" "${w##*:}"
		done
		stop_rt
	done
done
declare -A R
for b in $BACKENDS; do
	for w in $WORKLOADS; do R[$b,$w]=$(median_line "$EP_TMP/$b-$w"); done
done

name() {
	case $1 in
	1:64) echo "echo 64 B" ;;
	2:1024) echo "checksum 1 KiB" ;;
	13:img) echo "sobel 64 KiB frame" ;;
	esac
}
tps() { local t; read -r t _ <<<"${R[$1,$2]}"; echo "${t:-0}"; }

echo "Method: epgen (AF_XDP mode, closed loop; 128 tasks outstanding, 16 for the 64 KiB frame)"
echo "on CPU 0 against the runtime's single worker (batch size 32), every thread of the runtime"
echo "on CPU 1, over a veth pair whose ends run their NAPI as threads, the node's on CPU 1 and"
echo "the generator's on CPU 0 (as in bench-runtime);"
echo "$ROUNDS rounds of ${SECS} s per backend and workload, the backends in turn within each"
echo "round; the median round. The 64 KiB workload is sobel on the top-left 256 x 256 of"
echo "camera.png: 47 fragments in and 47 out per task. The udp backend (kernel UDP socket,"
echo "recvmmsg/sendmmsg) is the baseline; io_uring and udp run without XDP on the runtime's"
echo "side, AF_XDP and DPDK behind the classifier."
echo
for b in $BACKENDS; do
	[[ -n ${SKIP[$b]:-} ]] && echo "Backend $b: not measured: ${SKIP[$b]}" && echo
done
echo "Tasks per CPU-s: tasks per CPU-second of CPU 1 (the runtime's threads, its veth's NAPI"
echo "thread, the softirqs there), the median over rounds, and CPU 1 / CPU 0 busy (medians):"
echo "where CPU 0, the generator, is saturated and CPU 1 is not, tasks/s measure the generator"
echo "and tasks per CPU-second tell the backends apart."
echo
echo "| workload | backend | tasks/s | p50 us | p99 us | lost | / udp | tasks per CPU-s | CPU 1 / CPU 0 busy | / udp |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
col() { fields "$3" "$EP_TMP/$1-$2"; }	# BACKEND WORKLOAD FIELD
for w in $WORKLOADS; do
	for b in $BACKENDS; do
		[[ -n ${SKIP[$b]:-} ]] && continue
		read -r t p5 p9 lost errs _ <<<"${R[$b,$w]}"
		[[ ${errs:-0} != 0 ]] && lost="$lost ($errs errors)"
		e=$(med "$(col "$b" "$w" 7)")
		echo "| $(name "$w") | $b | $(f "$t") | $p5 | $p9 | $lost | $(ratio "$t" "$(tps udp "$w")") | $e | $(med "$(col "$b" "$w" 8)") % / $(med "$(col "$b" "$w" 9)") % | $(ratio "$e" "$(med "$(col udp "$w" 7)")") |"
	done
done
echo
goal() {	# what A B LO [HI]
	local r
	r=$(ratio "$(tps "$2" "$4")" "$(tps "$3" "$4")")
	awk -v r="$r" -v lo="$5" -v hi="${6:-1e9}" -v w="$1" 'BEGIN {
		printf("- %s: %.2f (%s)\n", w, r, (r >= lo && r <= hi) ? "met" : "NOT met") }'
}
# Per round: each backend's tasks/s (and tasks per node CPU-second) over udp's of the same
# round, then the spread.
echo "Tasks/s (then tasks per node CPU-second) over udp's, round by round (the backends in turn within a round), then"
echo "| min median max; runs disturbed by other work (steal > ${BENCH_MAX_STEAL:-5} %, other"
echo "processes > ${BENCH_MAX_FOREIGN:-10} % of one CPU) measured again: $REPEATED."
echo
echo "| workload | backend | per round / udp | min | median | max |"
echo "|---|---|---|---:|---:|---:|"
for fld in 1 7; do
	for w in $WORKLOADS; do
		for b in $BACKENDS; do
			[[ -n ${SKIP[$b]:-} || $b == udp || -n ${SKIP[udp]:-} ]] && continue
			IFS='|' read -r per mmm <<<"$(spread "$(col "$b" "$w" $fld)" "$(col udp "$w" $fld)")"
			read -r lo mid hi <<<"$mmm"
			echo "| $(name "$w") | $b$( ((fld == 7)) && echo ", per node CPU-s") | $per| $lo | $mid | $hi |"
		done
	done
done
echo
echo "Goals, tasks/s ratios of this run:"
for w in $WORKLOADS; do
	[[ -z ${SKIP[uring]:-} ]] && goal "io_uring / udp >= 1, $(name "$w")" uring udp "$w" 1
done
for w in $WORKLOADS; do
	[[ -z ${SKIP[dpdk]:-} ]] && goal "DPDK / AF_XDP in 0.8-1.2, $(name "$w")" dpdk afxdp "$w" 0.8 1.2
done
echo

# --- zstd on against off, real frames --------------------------------------------------
try_start_rt afxdp || die "runtime (afxdp) did not start: $(tail -3 "$EP_TMP/rt.log")"
txb() { ip -n "$NS_A" -j -s link show "$IF_A" | jq '.[0].stats64.tx.bytes'; }
# zrun IMAGE [--no-compress] -> "raw compressed tps sent iface_bytes"
zrun() {
	local before after
	before=$(txb)
	ip netns exec "$NS_A" taskset -c 0 "$BIN/edgeload" load --to "$ADDR_B" --type blobs \
		--in "$1" "${@:2}" --concurrency 4 --duration "${SECS}s" --json >"$EP_TMP/z.json"
	after=$(txb)
	jq -r --arg b $((after - before)) \
		'"\(.total.bytes_raw) \(.total.bytes_compressed) \(.total.tasks_per_s) \(.total.sent) \($b)"' \
		"$EP_TMP/z.json"
}
echo "zstd (level 3, the client's default) on against off: edgeload (4 tasks outstanding, on"
echo "CPU 0) sends each photograph of Debian's scikit-image data as a gray frame to the blob"
echo "detector (AF_XDP backend, CPU 1) for ${SECS} s. Payload bytes are per task; interface"
echo "bytes are what the client's veth sent per task, headers and all. A veth moves bytes at"
echo "memory speed, so here compressing only costs time (the client's: one core); the last"
echo "column estimates the link speed below which it pays: the bytes it saves against the"
echo "time it costs per task."
echo
echo "| frame | raw payload | zstd payload | saved | interface bytes/task off | on | tasks/s off | on | on / off | pays below |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
sum_raw=0 sum_z=0 small=
for img in "$IMAGES"/*.png; do
	read -r raw_on z t_on n_on b_on <<<"$(zrun "$img")"
	if ((n_on == 0 || raw_on / n_on < 4096)); then	# not a camera frame
		small+=" $(basename "$img" .png) ($((n_on ? raw_on / n_on : 0)) B)"
		continue
	fi
	read -r _ _ t_off n_off b_off <<<"$(zrun "$img" --no-compress)"
	per_raw=$((raw_on / n_on)) per_z=$((z / n_on))
	sum_raw=$((sum_raw + per_raw)) sum_z=$((sum_z + per_z))
	wire_off=$((b_off / n_off)) wire_on=$((b_on / n_on))
	pays=$(awk -v s=$((wire_off - wire_on)) -v on="$t_on" -v off="$t_off" 'BEGIN {
		if (on >= off) { print "always"; exit }
		printf "%.0f Mbit/s", s * 8 / (1 / on - 1 / off) / 1e6 }')
	printf '| %s | %d B | %d B | %s%% | %d | %d | %s | %s | %s | %s |\n' \
		"$(basename "$img" .png)" "$per_raw" "$per_z" \
		"$(awk -v a="$per_z" -v b="$per_raw" 'BEGIN { printf "%.0f", 100 * (1 - a / b) }')" \
		"$wire_off" "$wire_on" "$(f "$t_off")" "$(f "$t_on")" "$(ratio "$t_on" "$t_off")" \
		"$pays"
done
stop_rt
saved=$(awk -v a="$sum_z" -v b="$sum_raw" 'BEGIN { printf "%.0f", 100 * (1 - a / b) }')
echo
[[ -n $small ]] && echo "Left out, too small to be camera frames:$small." && echo
echo "Goal: zstd saves at least 60 % of the payload bytes of raw frames: $saved % over the"
echo "set, one frame of each ($( ((saved >= 60)) && echo met || echo "NOT met"); see the rows:"
echo "smooth and line-art frames compress far better than textured photographs)."
