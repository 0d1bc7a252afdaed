#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The fuzz targets' share of `make test`: each target for a few seconds from its seeds
# (FUZZ_TEST_SECONDS, default 2; two at a time), as TAP. A crash fails the target's case and
# leaves its reproducer in build/fuzz/crashes/TARGET/. Without a working libFuzzer runtime
# (a probe builds and runs a trivial target) the whole layer is skipped with the reason.
exec "$(dirname "$0")/run.sh" test
