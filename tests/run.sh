#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Run test programs that speak TAP ("ok N - ...", "not ok N - ...", "# SKIP reason") and
# print one summary line: "N passed, N failed, N skipped". Exits 1 on any failure, and
# counts a program that dies or exits non-zero without reporting a failure as one.
#
#   tests/run.sh PROG...        TEST_FILTER=regex limits the programs run
#
# Sanitizers: whatever a test runs that was built with ASan or UBSan (the unit tests; the
# daemons and edgeload of build/bin-san, which `make test-run` gives the integration tests
# through EP_BIN) writes any report to LOG_DIR/NAME.san/ and stops there; a test that leaves
# a report fails, even where its own cases passed (a daemon it ran in the background found
# the bug). docs/testing.md, "Sanitizers", says why each option below is set.
set -u

passed=0 failed=0 skipped=0
failures=()
log_dir=${BUILD:-build}/tests/logs
mkdir -p "$log_dir"
supp=$(cd "$(dirname "$0")" && pwd)/lsan.supp

# san_env DIR: the sanitizer options for a test program, reports under DIR.
san_env() {
	# halt_on_error: stop at the first report (UBSan: also -fno-sanitize-recover=all);
	# log_path: the report to a file of its own (NAME.PID), not lost in a daemon's
	# stderr; detect_leaks: a leak is a report too (LSan, at the process's exit), in the
	# unit tests and in the daemons and CLIs the integration tests (*.sh) run, which free
	# what they allocated before they exit; suppressions: the few blocks of the
	# libraries we link that cannot be freed (tests/lsan.supp says which and why), not
	# listed when used (print_suppressions=0: that list would be a file in DIR, a report).
	export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:log_path=$1/asan${EP_ASAN_OPTIONS:+:$EP_ASAN_OPTIONS}"
	export LSAN_OPTIONS="suppressions=$supp:print_suppressions=0${EP_LSAN_OPTIONS:+:$EP_LSAN_OPTIONS}"
	export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$1/ubsan"
}

for prog in "$@"; do
	[[ -n ${TEST_FILTER:-} && ! $prog =~ $TEST_FILTER ]] && continue
	name=$(basename "$prog")
	log=$log_dir/$name.log
	start=$(date +%s)
	printf '== %s\n' "$name"
	san_dir=$log_dir/$name.san
	rm -rf "$san_dir" && mkdir -p "$san_dir"
	(san_env "$(cd "$san_dir" && pwd)" && exec "$prog") >"$log" 2>&1
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
	reports=("$san_dir"/*)
	if [[ -e ${reports[0]} ]]; then
		f=$((f + 1))
		echo "   not ok - $name: ${#reports[@]} sanitizer report(s) in $san_dir"
		head -30 "${reports[0]}" | sed 's/^/   | /'
	else
		rmdir "$san_dir"
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
