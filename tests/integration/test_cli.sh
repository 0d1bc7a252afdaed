#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The programs' command lines as a new user meets them: an unknown option is a usage error
# (exit 2) that names it in a line or two and points to --help, not a page of usage; a
# missing command says which there are; `edgectl serve` reads its configuration file
# however --config is spelled (--config FILE, --config=FILE), wherever it stands.
source "$(dirname "$0")/../lib/lib.sh"

# usage_error WHAT CMD...: CMD exits 2 with at most 2 lines that point to --help.
usage_error() {
	local what=$1 out rc
	shift
	out=$("$@" 2>&1)
	rc=$?
	if ((rc == 2)) && (($(wc -l <<<"$out") <= 2)) && [[ $out == *--help* ]]; then
		ok "$what: exit 2, '$(tail -1 <<<"$out")'"
	else
		not_ok "$what: a short usage error pointing to --help"
		diag "rc $rc, $(wc -l <<<"$out") lines: $(head -3 <<<"$out")"
	fi
}

usage_error "edgeplane --bogus" "$BIN/edgeplane" --bogus
usage_error "edgeplane-xdp --bogus" "$BIN/edgeplane-xdp" --bogus
usage_error "edgeplane-xdp stats --bogus" "$BIN/edgeplane-xdp" stats --bogus
usage_error "edgeplane-xdp without a command" "$BIN/edgeplane-xdp"
usage_error "edgeload --bogus" "$BIN/edgeload" --bogus
usage_error "edgeload run --bogus" "$BIN/edgeload" run --bogus
usage_error "edgectl --bogus" "$BIN/edgectl" --bogus
usage_error "edgectl serve --bogus" "$BIN/edgectl" serve --bogus

out=$("$BIN/edgectl" table --bogus 2>&1)
rc=$?
expect_eq "edgectl table --bogus: an unknown option, named as one" \
	"$rc $(grep -c "unknown option '--bogus'" <<<"$out")" "2 1"

# A configuration with a setting edgectl does not know: refused, naming the file and the
# setting, before anything else is checked (no interface is needed to get there).
printf 'gateway: { interface = "none0"; };\nbogus_setting = 1;\n' >"$EP_TMP/bad.conf"
for spelling in "--config $EP_TMP/bad.conf" "--config=$EP_TMP/bad.conf" \
	"--port 7878 --config=$EP_TMP/bad.conf"; do
	# shellcheck disable=SC2086 # the spelling is words
	out=$(timeout 10 "$BIN/edgectl" serve $spelling 2>&1)
	rc=$?
	if ((rc == 2)) && [[ $out == *"bad.conf:2: bogus_setting: unknown setting"* ]]; then
		ok "edgectl serve ${spelling//$EP_TMP\//}: the file is read (its unknown setting refused)"
	else
		not_ok "edgectl serve ${spelling//$EP_TMP\//}: the file is read"
		diag "rc $rc: $(head -3 <<<"$out")"
	fi
done

tap_done
