#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Run test programs that speak TAP ("ok N - ...", "not ok N - ...", "# SKIP reason") and
# print one summary line: "N passed, N failed, N skipped". Exits 1 on any failure, and
# counts a program that dies or exits non-zero without reporting a failure as one.
#
#   tests/run.sh PROG...        TEST_FILTER=regex limits the programs run
set -u

passed=0 failed=0 skipped=0
failures=()
log_dir=${BUILD:-build}/tests/logs
mkdir -p "$log_dir"

for prog in "$@"; do
	[[ -n ${TEST_FILTER:-} && ! $prog =~ $TEST_FILTER ]] && continue
	name=$(basename "$prog")
	log=$log_dir/$name.log
	start=$(date +%s)
	printf '== %s\n' "$name"
	"$prog" >"$log" 2>&1
	rc=$?
	p=$(grep -cE '^ok [0-9]+' "$log" | tr -d ' ')
	s=$(grep -cE '^ok [0-9]+ .*# SKIP' "$log" | tr -d ' ')
	f=$(grep -cE '^not ok [0-9]+' "$log" | tr -d ' ')
	p=$((p - s))
	# Show failures and skips with their diagnostics; keep passes quiet.
	grep -E '^(not ok|ok [0-9]+ .*# SKIP)' "$log" | sed 's/^/   /'
	if [[ $f -gt 0 ]]; then
		grep -E '^# ' "$log" | head -40 | sed 's/^/   /'
	fi
	if [[ $rc -ne 0 && $f -eq 0 ]]; then
		f=1
		echo "   not ok - $name exited with status $rc without reporting a failure"
		tail -20 "$log" | sed 's/^/   | /'
	fi
	if [[ $((p + s + f)) -eq 0 ]]; then
		f=1
		echo "   not ok - $name reported no results"
		tail -20 "$log" | sed 's/^/   | /'
	fi
	printf '   %d passed, %d failed, %d skipped (%ds, log %s)\n' "$p" "$f" "$s" \
		$(($(date +%s) - start)) "$log"
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
	[[ $f -gt 0 ]] && failures+=("$name")
done

[[ ${#failures[@]} -gt 0 ]] && echo "failed: ${failures[*]}"
if [[ $skipped -gt 0 ]]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[[ $failed -eq 0 ]]
