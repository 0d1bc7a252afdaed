#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Helpers of the benchmark scripts that compare set-ups round by round (it sources
# tests/lib/lib.sh, quietly, if the script has not, and sets -u): ratios, their spread over rounds, medians, and how much of the
# machine something other than the benchmark took while it measured.
#
#   bench_init NAME [WHY] die MESSAGE (as "NAME: MESSAGE" on stderr, exit 1), and die
#                        now unless root (WHY: what needs it; "namespaces, XDP")
#   ratio A B            A / B with two decimals (0 when B is 0)
#   bench_gen_key ID T   a session key for the generator (KEYS, and epgen's options AUTH)
#   bench_u32 N FILE     FILE holds N as a big-endian u32 (the work plugin's payload: us)
#   spread "A..." "B..." per-round ratios A_i / B_i, then "| min median max"
#   med "V..."           median, rounded to a whole number
#   spread_median "A..." "B..."
#                        the median of the per-round ratios A_i / B_i (spread's middle)
#   fields N FILE        field N of each line of FILE, in order, on one line (per round)
#   median_line FILE     the line of FILE with the median first field (the median run)
#   steal                the machine's steal ticks so far (what the hypervisor gave others)
#   cpu_mark / cpu_since PIDS...
#                        between the two, in CPU_STEAL and CPU_OTHER: % of one CPU stolen
#                        and taken by others, i.e. by anything but this shell's children
#                        waited for since (a generator run in the foreground) and the
#                        live processes PIDS (a runtime, NAPI threads); and CPU_FOREIGN,
#                        the part of CPU_OTHER that is processes' own time (user and
#                        system, not interrupts: the softirq a benchmark's own packets
#                        cost is not a disturbance). Both in the same shell, and not in a
#                        $(...) of their own: `times` counts the children of the shell it
#                        runs in.
#   disturbed            after cpu_since: whether the window just measured was disturbed
#                        by other work, steal above BENCH_MAX_STEAL (5) or foreign
#                        processes above BENCH_MAX_FOREIGN (10) % of one CPU; it says which
#                        on stderr. A benchmark repeats such a window (BENCH_REPEATS, 2, at
#                        most) and reports how many it repeated, so that a neighbour's
#                        burst is not taken for a result.
[[ -n ${EP_ROOT:-} ]] || source "$(dirname "${BASH_SOURCE[0]}")/../lib/lib.sh" >/dev/null
set -u

bench_init() {
	BENCH_NAME=$1
	die() { echo "$BENCH_NAME: $*" >&2; exit 1; }
	[[ $(id -u) -eq 0 ]] || die "needs root (${2:-namespaces, XDP})"
}

f() { awk -v v="$1" 'BEGIN { printf "%.0f", v }'; }

# bench_netns NS...: network namespaces NS (deleted at exit), each with lo up and no IPv6
# (no DAD or router solicitations next to the counted frames); 1 if any step fails.
bench_netns() {
	local ns
	_bench_ns=("$@")
	on_exit _bench_netns_del
	for ns; do
		ip netns add "$ns" && ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
			net.ipv6.conf.default.disable_ipv6=1 && ip -n "$ns" link set lo up || return 1
	done
}
_bench_netns_del() { local ns; for ns in "${_bench_ns[@]}"; do ip netns del "$ns"; done; }

# bench_gen_key KEY_ID TENANT: a session key for the generator in $EP_TMP/keys.json
# (KEYS), and epgen's options to seal with it (the array AUTH). Every type, priorities up
# to 3 (epgen sends 3), tasks up to 1 MiB, its tasks/s and KiB/s buckets far above any
# load, valid for a day (a long run must not see it expire). epgen counts the pn's seconds
# from issued_unix_ms, as the node does, and carries its counter from run to run in
# $EP_TMP/ctr (the node's replay window is the key's).
KEYS='' AUTH=()
# shellcheck disable=SC2034 # KEYS and AUTH are for the caller
bench_gen_key() {
	local now
	KEYS=$EP_TMP/keys.json
	now=$(date +%s%3N)
	ep_keys_file "$KEYS" "$(ep_key "$1" tenant="$2" expires_unix_ms=$((now + 86400000)) \
		tasks_per_s=1000000000 burst_tasks=1000000000 kib_per_s=1000000000 \
		burst_kib=1000000000)" || return 1
	AUTH=(--auth "$1:$(jq -r '.[0].key' "$KEYS"):$2"
	      --auth-issued "$(jq -r '.[0].issued_unix_ms' "$KEYS")" --auth-ctr-file "$EP_TMP/ctr")
}
bench_u32() {
	printf "$(printf '\\x%02x\\x%02x\\x%02x\\x%02x' $(($1 >> 24 & 255)) $(($1 >> 16 & 255)) \
		$(($1 >> 8 & 255)) $(($1 & 255)))" >"$2"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf("%.2f", (b > 0) ? a / b : 0) }'; }

spread() {
	local -a a b
	read -ra a <<<"$1"
	read -ra b <<<"$2"
	local rs=() i
	for i in "${!a[@]}"; do rs+=("$(ratio "${a[$i]}" "${b[$i]}")"); done
	printf '%s ' "${rs[@]}"
	printf '%s\n' "${rs[@]}" | sort -n | awk '{ v[NR] = $1 } END {
		printf "| %s %s %s", v[1], v[int((NR + 1) / 2)], v[NR] }'
}

spread_median() { spread "$1" "$2" | awk -F'|' '{ split($2, v, " "); print v[2] }'; }
fields() { awk -v f="$1" '{ printf "%s ", $f }' "$2" 2>/dev/null; }
median_line() { sort -n "$1" 2>/dev/null | awk '{ l[NR] = $0 } END { print l[int((NR + 1) / 2)] }'; }

med() { printf '%s\n' $1 | sort -n | awk '{ v[NR] = $1 } END { printf "%.0f", v[int((NR + 1) / 2)] }'; }

steal() { awk '/^cpu / { print $9 }' /proc/stat; }

CLK_TCK=$(getconf CLK_TCK)

# Ticks of this shell's waited-for children (user + system) as the `times` builtin last
# wrote them to $EP_TMP/.times (`times` runs in this shell: a $(...) subshell has no
# children of its own).
_times_ticks() {
	awk -v hz="$CLK_TCK" 'NR == 2 {
		t = 0
		for (i = 1; i <= 2; i++) { split($i, p, "m"); sub("s", "", p[2]); t += p[1] * 60 + p[2] }
		printf "%.0f", t * hz }' "$EP_TMP/.times"
}
# proc_ticks PID...: user + system ticks of live processes (all their threads), summed.
proc_ticks() {
	local p t=0 v
	for p in "$@"; do
		v=$(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null | awk '{ print $12 + $13 }')
		t=$((t + ${v:-0}))
	done
	echo $t
}
_busy_steal() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $9 }' /proc/stat; }
# Processes' user and system ticks, less the ksoftirqd threads' (the softirq of a
# benchmark's own packets, when the kernel defers it to them).
_user_sys() {
	local all
	all=$(awk '/^cpu / { print $2 + $3 + $4 }' /proc/stat)
	# shellcheck disable=SC2046 # one PID per word
	echo $((all - $(proc_ticks $(pgrep '^ksoftirqd/'))))
}
_CPU_MARK=
cpu_mark() {	# PIDS...
	times >"$EP_TMP/.times"
	_CPU_MARK="$(_busy_steal) $(_times_ticks) $(proc_ticks "$@") $(date +%s%N) $(_user_sys)"
}
# cpu_since PIDS... (the same as cpu_mark's): CPU_STEAL and CPU_OTHER since cpu_mark
CPU_STEAL='' CPU_OTHER='' CPU_FOREIGN=''
# shellcheck disable=SC2034 # CPU_STEAL, CPU_OTHER and CPU_FOREIGN are for the caller
cpu_since() {
	local now

	times >"$EP_TMP/.times"
	now="$(_busy_steal) $(_times_ticks) $(proc_ticks "$@") $(date +%s%N) $(_user_sys)"
	read -r CPU_STEAL CPU_OTHER CPU_FOREIGN <<<"$(awk -v a="$_CPU_MARK" -v b="$now" \
		-v hz="$CLK_TCK" '
		BEGIN { split(a, x); split(b, y); t = (y[5] - x[5]) / 1e9 * hz + 1e-9
		other = (y[1] - x[1]) - (y[3] - x[3]) - (y[4] - x[4])
		foreign = (y[6] - x[6]) - (y[3] - x[3]) - (y[4] - x[4])
		printf "%.1f %.1f %.1f\n", 100 * (y[2] - x[2]) / t,
			100 * (other > 0 ? other : 0) / t, 100 * (foreign > 0 ? foreign : 0) / t }')"
}

napi_threaded() {
	ip netns exec "$1" ethtool -K "$2" gro on >/dev/null &&
		ip netns exec "$1" sh -c "echo 1 >/sys/class/net/$2/threaded"
}

# A thread's name holds 15 characters: "napi/" and an interface name of 10 keep no "-<id>".
napi_pin() {
	local p comm pids=

	for p in /proc/[0-9]*; do
		comm=$(cat "$p/comm" 2>/dev/null) || continue
		[[ $comm == "napi/$1" || $comm == "napi/$1-"* ]] || continue
		taskset -pc "$2" "${p#/proc/}" >/dev/null && chrt -f -p 50 "${p#/proc/}" || return 1
		pids+="${pids:+ }${p#/proc/}"
	done
	[[ -n $pids ]] && echo "$pids"
}

cpu_busy() { awk -v c="cpu$1" '$1 == c { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; }

NAPI_PIDS=''
pair_napi() {
	local a b
	napi_threaded "$NS_A" "$IF_A" && napi_threaded "$NS_B" "$IF_B" &&
		a=$(napi_pin "$IF_A" 0) && b=$(napi_pin "$IF_B" 1) || return 1
	NAPI_PIDS="$a $b"
}

REPEATED=0
node_run() {
	local file=$1 pids=$2 line b1 b0 t0 try
	shift 3
	for ((try = 0; try <= ${BENCH_REPEATS:-2}; try++)); do
		((try)) && REPEATED=$((REPEATED + 1))
		# shellcheck disable=SC2086 # lists of PIDs
		cpu_mark $pids $NAPI_PIDS
		b1=$(cpu_busy 1) b0=$(cpu_busy 0) t0=$(date +%s%N)
		line=$("$@")
		b1=$(($(cpu_busy 1) - b1)) b0=$(($(cpu_busy 0) - b0))
		t0=$(($(date +%s%N) - t0))
		# shellcheck disable=SC2086
		cpu_since $pids $NAPI_PIDS
		disturbed || break
	done
	echo "$line $(awk -v c="${line##* }" -v b1=$b1 -v b0=$b0 -v t=$t0 -v hz="$CLK_TCK" '
		BEGIN { s = t / 1e9; printf "%.0f %.0f %.0f", (b1 > 0) ? c * hz / b1 : 0,
			100 * b1 / (s * hz), 100 * b0 / (s * hz) }')" >>"$file"
}

disturbed() {
	local why
	why=$(awk -v s="$CPU_STEAL" -v f="$CPU_FOREIGN" -v ms="${BENCH_MAX_STEAL:-5}" \
		-v mf="${BENCH_MAX_FOREIGN:-10}" 'BEGIN {
		if (s > ms) printf "steal %.1f %% > %s %%", s, ms
		else if (f > mf) printf "other processes %.1f %% > %s %%", f, mf }')
	[[ -n $why ]] || return 1
	echo "bench: window disturbed ($why of one CPU)" >&2
	return 0
}
