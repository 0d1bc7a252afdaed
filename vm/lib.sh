#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Shell helpers shared by the rig's scripts and the tests: vm/demo.sh and
# tests/lib/lib.sh source this file. Functions only; it sets no options and no variables.

# wait_for_line FILE REGEX SECONDS: 0 once FILE has a line matching REGEX (checked every
# 50 ms), 1 if none does within SECONDS.
wait_for_line() {
	local end=$((SECONDS + $3))
	while ((SECONDS < end)); do
		grep -qE "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}
