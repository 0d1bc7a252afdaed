#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# vm/demo/report.sh DIR - the demo's report from what vm/demo.sh left in DIR: gnuplot's
# data files (DIR/data/*.dat), the plots (PNG with pngcairo or png, else SVG) and
# DIR/index.html. Needs jq and gnuplot (without gnuplot: the page, without plots).
set -euo pipefail

OUT=${1:?usage: report.sh DIR}
HERE=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
DATA=$OUT/data
S=$OUT/summary.json
t0=$(jq -r .timing.load_start_unix "$S")

# --- data files ---------------------------------------------------------------------------
# Per camera: seconds since the traffic started, answered/s, failed/s, p50 and p99 (ms),
# sent/s; from the "total" lines of its timeline, whole seconds only: the last, partial
# second (and any other line of less than 0.9 s) would be drawn as a dip in the rates and
# a p99 of a few tasks. Also the span of whole seconds every camera had (from, to: seconds
# since the traffic started), for the gateway's rates below.
from=0 to=1e9
for c in $(jq -r '.cameras[].name' "$S"); do
	read -r f l < <(awk -v t0="$t0" 'NR == 1 { s = $NF - t0 } $3 == "total" {
		if ($1 - prev >= 0.9) last = $1; prev = $1 } END { print s, s + last }' "$DATA/$c.timeline")
	from=$(awk -v a="$from" -v b="$f" 'BEGIN { print (b > a ? b : a) }')
	to=$(awk -v a="$to" -v b="$l" 'BEGIN { print (b < a ? b : a) }')
	awk -v t0="$t0" '$3 == "total" {
		dt = $1 - prev; prev = $1
		if (dt < 0.9) next
		p50 = ($7 == "nan") ? "nan" : $7 / 1000; p99 = ($8 == "nan") ? "nan" : $8 / 1000
		print $2 - t0, $5 / dt, $6 / dt, p50, p99, $4 / dt }' "$DATA/$c.timeline" >"$DATA/$c.dat"
done
# Per node, from `edgectl stats --watch 1 --json`: tasks/s the gateway sent each node, at
# the end of each interval, and the same stacked (w1, w1+w2, ...) for the area plot; only
# the intervals within the cameras' whole seconds (the first and the last are partial:
# the watch starts before the cameras have enrolled and ends after they stop).
jq -r -s --argjson t0 "$t0" --argjson w0 "$(jq .timing.watch_start_unix "$S")" \
	--argjson from "$from" --argjson to "$to" '
	def rate($id): (.nodes | map(select(.id == $id)) | .[0].tasks) // 0;
	foreach .[] as $r ({t: $w0}; .t += $r.interval_s; . + {r: $r})
	| .r as $r | select(.t - $t0 - $r.interval_s >= $from - 0.05 and .t - $t0 <= $to + 0.05)
	| [.t - $t0, ($r | rate(1)), ($r | rate(2)), ($r | rate(3)), ($r | rate(9))]
	| . + [.[1], .[1] + .[2], .[1] + .[2] + .[3], .[1] + .[2] + .[3] + .[4]]
	| map(. * 1000 | round / 1000) | @tsv' "$DATA/gateway-rates.jsonl" >"$DATA/nodes.dat"
# Shares of the tasks: capacity, before and after the kill, in percent.
jq -r '.nodes[] | select(.role == "worker") |
	[.name, .capacity_share, (.share_before_kill // 0), (.share_after_kill // 0)] | @tsv' \
	"$S" >"$DATA/shares.dat"
# Bytes per camera, MB: frames, compressed, sent with retries.
jq -r '.cameras[] | [.name, .bytes_raw / 1e6, .bytes_compressed / 1e6, .bytes_wire / 1e6] | @tsv' \
	"$S" >"$DATA/bytes.dat"

# --- plots --------------------------------------------------------------------------------
ext="" plots=()
if command -v gnuplot >/dev/null; then
	terms=$(gnuplot -e 'set terminal' 2>&1 </dev/null || true)
	if grep -qw pngcairo <<<"$terms"; then
		term="pngcairo size 960,420 font 'Sans,10' noenhanced" ext=png
	elif grep -qE '^ *png ' <<<"$terms"; then
		term="png size 960,420 noenhanced" ext=png
	else
		term="svg size 960,420 dynamic noenhanced" ext=svg
	fi
	killx=$(jq -r 'if .kill then .kill.at_s else -1 end' "$S")
	# The first second, when its p99 stands out (over 4 times the run's median p99 and
	# over 50 ms): the cameras' new session keys, which the gateway and the workers have
	# a moment after the cameras start (tasks sent before are resent after the client's
	# first timeout, 200 ms before it has measured anything). Marked on the latency plot.
	med=$(cat "$DATA"/cam*.dat | awk '$5 != "nan" { print $5 }' | sort -g |
		awk '{ p[NR] = $1 } END { print NR ? p[int((NR + 1) / 2)] : 0 }')
	warmx=$(cat "$DATA"/cam*.dat | awk -v m="$med" '$1 < 1.6 && $5 != "nan" && $5 > f { f = $5; x = $1 }
		END { print (f > 50 && f > 4 * m) ? x : -1 }')
	drainx=$(jq -r 'if .kill and .kill.drained_after_ms then .kill.at_s + .kill.drained_after_ms / 1000 else -1 end' "$S")
	gnuplot -e "out='$OUT'; data='$DATA'; term=\"$term\"; ext='$ext'" \
		-e "killx=$killx; drainx=$drainx; warmx=$warmx; killnode='$(jq -r '.kill.node // ""' "$S")'" \
		-e "dur=$(jq -r .timing.load_s "$S")" \
		"$HERE/plots.gp"
	for p in throughput latency nodes shares bytes; do
		[[ -s $OUT/$p.$ext ]] && plots+=("$p.$ext")
	done
	echo "plots: ${plots[*]} (gnuplot terminal ${term%% *})"
else
	echo "gnuplot is not installed: no plots (scripts/deps.sh installs gnuplot-nox)" >&2
fi

# --- the page -----------------------------------------------------------------------------
jq -r --argjson plots "$(printf '%s\n' "${plots[@]}" | jq -R . | jq -s 'map(select(length > 0))')" \
	-f "$HERE/html.jq" "$S" >"$OUT/index.html"
echo "page: $OUT/index.html"
