#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Run benchmarks and record their output in docs/benchmarks.md, each between its own
# markers, with a description of the machine it ran on.
#
#   tests/bench/bench.sh classify [...]
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
DOC=docs/benchmarks.md

machine() {
	local cpu
	cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
	printf 'Machine: %s, %s CPUs, %s GiB RAM, kernel %s, %s.\n' "${cpu:-unknown CPU}" \
		"$(nproc)" "$(awk '/MemTotal/ { printf "%d", $2 / 1048576 }' /proc/meminfo)" \
		"$(uname -r)" "$(. /etc/os-release && echo "$PRETTY_NAME")"
	printf 'Run: %s UTC, commit %s.\n' "$(date -u '+%Y-%m-%d %H:%M')" \
		"$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
}

# record NAME FILE: replace the section between the NAME markers in $DOC with FILE.
record() {
	local begin="<!-- bench:$1:begin -->" end="<!-- bench:$1:end -->"
	if ! grep -qF "$begin" "$DOC"; then
		printf '\n%s\n%s\n' "$begin" "$end" >>"$DOC"
	fi
	awk -v b="$begin" -v e="$end" -v f="$2" '
		$0 == b { print; while ((getline l < f) > 0) print l; skip = 1; next }
		$0 == e { skip = 0 }
		!skip' "$DOC" >"$DOC.new"
	mv "$DOC.new" "$DOC"
}

for bench in "$@"; do
	out=$(mktemp)
	case $bench in
	classify)
		{
			machine; echo; "$BUILD/tests/bench/bench_classify"
			echo; tests/bench/bench_xdp_rate.sh
		} >"$out"
		;;
	infer)
		{ machine; echo; "$BUILD/tests/bench/bench_infer"; } >"$out"
		;;
	runtime)
		{
			machine; echo; tests/bench/bench_runtime.sh
			echo; tests/bench/bench_auth.sh; echo; tests/bench/bench_flood.sh
		} >"$out"
		;;
	lb)
		{ machine; echo; tests/bench/bench_lb.sh; echo; tests/bench/lb_policy.sh; } >"$out"
		;;
	backends)
		{ machine; echo; tests/bench/bench_backends.sh; } >"$out"
		;;
	amp)
		{ machine; echo; tests/bench/bench_amp.sh; } >"$out"
		;;
	work)
		{ machine; echo; "$BUILD/tests/bench/bench_work" --max-work 4000000000; } >"$out"
		;;
	lossy)
		{ machine; echo; tests/bench/bench_lossy.sh; } >"$out"
		;;
	codec)
		{ machine; echo; tests/bench/bench_codec.sh; } >"$out"
		;;
	prio)
		{ machine; echo; tests/bench/bench_prio.sh; } >"$out"
		;;
	*)
		echo "bench.sh: unknown benchmark '$bench'" >&2
		exit 2
		;;
	esac
	cat "$out"
	record "$bench" "$out"
	rm -f "$out"
done
