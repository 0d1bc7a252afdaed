#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The runner's sanitizer check (tests/run.sh; docs/testing.md, "Sanitizers"): a test whose
# cases all pass still fails when a program it ran, a background daemon among them, left an
# ASan, UBSan or LeakSanitizer report (a block it never freed); the same test with the bug
# left out passes. Each case runs tests/run.sh on a small test of its own (eptest-sanbug, a
# bug on purpose) with a log directory under $EP_TMP. And `make test-run` gives the tests
# sanitized daemons and tools (EP_BIN).
source "$(dirname "$0")/../lib/lib.sh"

SANBUG=$TOOLS/eptest-sanbug

# inner_run MODE: run a one-case test that starts `eptest-sanbug MODE` in the background,
# waits for it and reports its case as passed; print the runner's output, return its status.
inner_run() {
	local t=$EP_TMP/test_sanbug_$1.sh
	printf '#!/usr/bin/env bash\n"%s" %s >/dev/null 2>&1 &\nwait\necho "ok 1 - the test itself passes"\necho 1..1\n' \
		"$SANBUG" "$1" >"$t"
	chmod +x "$t"
	BUILD=$EP_TMP/inner-$1 TEST_FILTER= "$EP_ROOT/tests/run.sh" "$t" 2>&1
}

# The kind of report each mode leaves, as the runner prints its first lines.
declare -A REPORT=([heap]='heap-buffer-overflow' [ub]='signed integer overflow'
	[leak]='LeakSanitizer: detected memory leaks')
for mode in heap ub leak; do
	out=$(inner_run $mode)
	rc=$?
	if ((rc != 0)) && grep -q 'sanitizer report' <<<"$out" &&
		grep -q "${REPORT[$mode]}" <<<"$out" &&
		grep -q '^0 passed, 1 failed\|^1 passed, 1 failed' <<<"$out"; then
		ok "a background program's $mode report fails the test: $(grep -o '[0-9]* sanitizer report(s)' <<<"$out")"
	else
		not_ok "a background program's $mode report (${REPORT[$mode]}) fails the test"
		diag "rc $rc: $(tail -5 <<<"$out")"
	fi
done

out=$(inner_run none)
rc=$?
if ((rc == 0)) && ! grep -q 'sanitizer' <<<"$out"; then
	ok "without the bug the same test passes"
else
	not_ok "without the bug the same test passes"
	diag "rc $rc: $(tail -5 <<<"$out")"
fi

# Under `make test-run` the daemons are the sanitized ones (a run by hand: plain ones).
if [[ -n ${EP_BIN:-} ]]; then
	for p in edgeplane edgectl edgeload edgeplane-xdp edgeplane-fault; do
		if nm "$BIN/$p" 2>/dev/null | grep -q '__asan_report_load' &&
			nm "$BIN/$p" 2>/dev/null | grep -q '__ubsan_handle'; then
			ok "$p of EP_BIN ($BIN) is built with ASan and UBSan"
		else
			not_ok "$p of EP_BIN ($BIN) is built with ASan and UBSan"
		fi
	done
else
	skip "the daemons of EP_BIN are sanitized" "EP_BIN unset (not run by make test-run)"
fi
tap_done
