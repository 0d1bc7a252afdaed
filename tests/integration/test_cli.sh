#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The programs' command lines as a new user meets them: a usage error (an unknown option, a
# value out of range, a missing argument, an unexpected word) is one line, "PROG: what is
# wrong. Try 'PROG --help'.", and exit 2; --help prints the usage on stdout and exits 0;
# --version names the version and the git revision, the same in every program; every
# option takes --opt=value as well as --opt value; every option of the programs' tables is
# in their man page with the same argument name, and every option the man page lists is in
# a table; a missing command says which there are; `edgectl serve` reads its configuration
# file however --config is spelled (--config FILE, --config=FILE), wherever it stands; and
# (as root, in namespaces of its own) `edgeload --to` takes HOST, HOST:PORT, [IPV6]:PORT
# and names, and refuses other forms with a usage error before it sends anything; the
# daemons started without a BPF file system, or without the privileges, say how to fix it.
source "$(dirname "$0")/../lib/lib.sh"

# usage_error WHAT CMD...: CMD exits 2 with one line, "PROG: ... Try 'PROG --help'.", and
# nothing on stdout.
usage_error() {
	local what=$1 out err rc
	shift
	out=$("$@" 2>"$EP_TMP/usage.err")
	rc=$?
	err=$(<"$EP_TMP/usage.err")
	if ((rc == 2)) && [[ -z $out && $(wc -l <<<"$err") -eq 1 &&
		$err =~ ^([a-z-]+( [a-z]+)*):\ .*\ Try\ \'([a-z-]+( [a-z]+)*)\ --help\'\.$ &&
		${BASH_REMATCH[1]} == "${BASH_REMATCH[3]}" ]]; then
		ok "$what: exit 2, '$err'"
	else
		not_ok "$what: one line, 'PROG: ... Try 'PROG --help'.', exit 2"
		diag "rc $rc, $(wc -l <<<"$err") lines: $(head -3 <<<"$err")"
	fi
}

usage_error "edgeplane --bogus" "$BIN/edgeplane" --bogus
usage_error "edgeplane --port=0" "$BIN/edgeplane" --port=0
usage_error "edgeplane --port (no value)" "$BIN/edgeplane" --port
usage_error "edgeplane --zerocopy maybe" "$BIN/edgeplane" --zerocopy maybe
usage_error "edgeplane word" "$BIN/edgeplane" word
usage_error "edgeplane stats --bogus" "$BIN/edgeplane" stats --bogus
usage_error "edgeplane encrypt without --key" "$BIN/edgeplane" encrypt a b
usage_error "edgeplane-xdp --bogus" "$BIN/edgeplane-xdp" --bogus
usage_error "edgeplane-xdp stats --bogus" "$BIN/edgeplane-xdp" stats --bogus
usage_error "edgeplane-xdp without a command" "$BIN/edgeplane-xdp"
usage_error "edgeplane-xdp config --prio-slot=9=1" "$BIN/edgeplane-xdp" config --prio-slot=9=1
usage_error "edgeplane-xdp attach (no device)" "$BIN/edgeplane-xdp" attach
usage_error "edgeplane-xdp bogus" "$BIN/edgeplane-xdp" bogus
usage_error "edgeplane-xdp auth" "$BIN/edgeplane-xdp" auth
usage_error "edgeplane-xdp keys" "$BIN/edgeplane-xdp" keys
usage_error "edgeplane-xdp tenant foo 3" "$BIN/edgeplane-xdp" tenant foo 3 --dev none0
usage_error "edgeplane-xdp tenant add x" "$BIN/edgeplane-xdp" tenant add x --dev none0
usage_error "edgeload without a command" "$BIN/edgeload"
usage_error "edgeload --bogus" "$BIN/edgeload" --bogus
usage_error "edgeload run --bogus" "$BIN/edgeload" run --bogus
usage_error "edgeload run --type bogus" "$BIN/edgeload" run --to 198.18.0.2 --type bogus
usage_error "edgeload load --rate=0" "$BIN/edgeload" load --to 198.18.0.2 --type echo --rate=0
usage_error "edgeload run without --to" "$BIN/edgeload" run --type echo
usage_error "edgeload limits word" "$BIN/edgeload" limits --to 198.18.0.2 word
usage_error "edgectl without a command" "$BIN/edgectl"
usage_error "edgectl --bogus" "$BIN/edgectl" --bogus
usage_error "edgectl bogus" "$BIN/edgectl" bogus
usage_error "edgectl serve --bogus" "$BIN/edgectl" serve --bogus
usage_error "edgectl serve --port=0" "$BIN/edgectl" serve --port=0
usage_error "edgectl table --sample=x" "$BIN/edgectl" table --sample=x
usage_error "edgectl stats --watch=0" "$BIN/edgectl" stats --watch=0
usage_error "edgectl stats word" "$BIN/edgectl" stats word
usage_error "edgectl node add (no id)" "$BIN/edgectl" node add --mac 02:00:00:00:00:01
usage_error "edgectl node add 8192" "$BIN/edgectl" node add 8192
usage_error "edgectl node add --bogus" "$BIN/edgectl" node add 3 --bogus
usage_error "edgectl node drain (no id)" "$BIN/edgectl" node drain
usage_error "edgectl node bogus" "$BIN/edgectl" node bogus
usage_error "edgectl policy set (nothing)" "$BIN/edgectl" policy set
usage_error "edgectl policy set bogus=1" "$BIN/edgectl" policy set bogus=1
usage_error "edgectl status word" "$BIN/edgectl" status word
usage_error "edgectl detach without --iface" "$BIN/edgectl" detach
usage_error "edgectl keys word" "$BIN/edgectl" keys word
usage_error "edgectl table word" "$BIN/edgectl" table word
usage_error "edgectl detach --iface IF word" "$BIN/edgectl" detach --iface none0 word
usage_error "edgectl revoke --key 3 word" "$BIN/edgectl" revoke --key 3 word
usage_error "edgectl revoke (nothing)" "$BIN/edgectl" revoke
usage_error "edgectl revoke --key=0" "$BIN/edgectl" revoke --key=0
usage_error "edgectl unrevoke --key 3" "$BIN/edgectl" unrevoke --key 3

# --help: the usage on stdout, exit 0, nothing on stderr; the options listed.
help_ok() {
	local what=$1 want=$2 out rc
	shift 2
	out=$("$@" --help 2>"$EP_TMP/help.err")
	rc=$?
	if ((rc == 0)) && [[ ! -s $EP_TMP/help.err && $out == Usage:* && $out == *"$want"* ]]; then
		ok "$what --help: usage on stdout ($(wc -l <<<"$out") lines), exit 0"
	else
		not_ok "$what --help: usage on stdout, exit 0"
		diag "rc $rc: $(head -2 <<<"$out") / $(head -2 "$EP_TMP/help.err")"
	fi
}
help_ok edgeplane "--stats-socket PATH" "$BIN/edgeplane"
help_ok "edgeplane stats" "--socket PATH" "$BIN/edgeplane" stats
help_ok edgeplane-xdp "--rate-packets N[,BURST]" "$BIN/edgeplane-xdp"
help_ok "edgeload run" "--concurrency N" "$BIN/edgeload" run
help_ok edgectl "--pin-dir DIR" "$BIN/edgectl"
help_ok "edgectl serve" "--dead-after-ms N" "$BIN/edgectl" serve
help_ok "edgectl table" "--size-hint-kib K" "$BIN/edgectl" table
help_ok "edgectl node add" "--capacity N" "$BIN/edgectl" node add

# --version: one place (build/include/ep_version.h from userspace/userspace.mk): the
# version there and a revision of this repository, or "unknown" outside a git checkout.
want_version=$(sed -n 's/^EP_VERSION[[:space:]]*:= *//p' "$EP_ROOT/userspace/userspace.mk")
versions=""
for prog in edgeplane edgeplane-xdp edgeload edgectl; do
	out=$("$BIN/$prog" --version 2>&1)
	rc=$?
	rev=${out##*(git }
	rev=${rev%)}
	if ((rc == 0)) && [[ $out == "$prog $want_version (git $rev)" ]] &&
		{ [[ $rev == unknown ]] ||
			git -C "$EP_ROOT" cat-file -e "${rev%-dirty}^{commit}" 2>/dev/null; }; then
		ok "$prog --version: '$out'"
	else
		not_ok "$prog --version: '$prog $want_version (git REV)', REV a commit here"
		diag "rc $rc: $out"
	fi
	versions+="${out#"$prog "}"$'\n'
done
expect_eq "every program says the same version" "$(sort -u <<<"$versions" | grep -c .)" 1
out=$("$BIN/edgectl" table --version)
expect_eq "edgectl table --version: the program's" "${out%% *}" "edgectl"

# --opt=value and --opt value: the same effect (the value reaches what it sets; here seen
# through the message that names it, or through what happens next).
same() {	# WHAT CMD_EQ... -- CMD_SPACE...: both give the same output and status
	local what=$1 a=() rc_a rc_b out_a out_b
	shift
	while [[ $1 != -- ]]; do a+=("$1"); shift; done
	shift
	out_a=$("${a[@]}" 2>&1)
	rc_a=$?
	out_b=$("$@" 2>&1)
	rc_b=$?
	if [[ $out_a == "$out_b" && $rc_a == "$rc_b" && -n $out_a ]]; then
		ok "$what: --opt=value as --opt value (rc $rc_a, '$(head -1 <<<"$out_a")')"
	else
		not_ok "$what: --opt=value as --opt value"
		diag "rc $rc_a '$(head -2 <<<"$out_a")' / rc $rc_b '$(head -2 <<<"$out_b")'"
	fi
}
same "edgeplane --backend" "$BIN/edgeplane" --backend=bogus --check-config -- \
	"$BIN/edgeplane" --backend bogus --check-config
same "edgeplane --port --workers --auth-mode" "$BIN/edgeplane" --backend=udp --port=9000 \
	--workers=2 --auth-mode=off --check-config -- "$BIN/edgeplane" --backend udp \
	--port 9000 --workers 2 --auth-mode off --check-config
same "edgeplane -c" "$BIN/edgeplane" -c/nonexistent.conf -- "$BIN/edgeplane" -c /nonexistent.conf
same "edgeplane stats --socket" "$BIN/edgeplane" stats --socket="$EP_TMP/none.sock" -- \
	"$BIN/edgeplane" stats --socket "$EP_TMP/none.sock"
same "edgeplane-xdp --pin-dir" "$BIN/edgeplane-xdp" stats --pin-dir="$EP_TMP/none" -- \
	"$BIN/edgeplane-xdp" stats --pin-dir "$EP_TMP/none"
same "edgeplane-xdp --dev" "$BIN/edgeplane-xdp" config --dev=none0 --port=9000 -- \
	"$BIN/edgeplane-xdp" config --dev none0 --port 9000
same "edgeload --to" "$BIN/edgeload" run --to=198.18.0.2:70000 --type=echo -- \
	"$BIN/edgeload" run --to 198.18.0.2:70000 --type echo
same "edgeload --type" "$BIN/edgeload" load --to=198.18.0.2 --type=resize -- \
	"$BIN/edgeload" load --to 198.18.0.2 --type resize
same "edgectl --socket" "$BIN/edgectl" --socket="$EP_TMP/none.sock" status -- \
	"$BIN/edgectl" --socket "$EP_TMP/none.sock" status
same "edgectl --pin-dir, stats --watch" "$BIN/edgectl" stats --pin-dir="$EP_TMP/none" \
	--watch=2 -- "$BIN/edgectl" stats --pin-dir "$EP_TMP/none" --watch 2
same "edgectl table --sample" "$BIN/edgectl" table --pin-dir="$EP_TMP/none" --sample=5 -- \
	"$BIN/edgectl" table --pin-dir "$EP_TMP/none" --sample 5
same "edgectl revoke --device" "$BIN/edgectl" --socket="$EP_TMP/none.sock" revoke \
	--device=cam-1 -- "$BIN/edgectl" --socket "$EP_TMP/none.sock" revoke --device cam-1
# And the value was taken as the option's, not as a word: these fail where the maps are
# missing (1), not as a usage error (2).
out=$("$BIN/edgectl" stats --pin-dir "$EP_TMP/none" --watch 2 2>&1)
expect_eq "edgectl stats --watch 2: 2 is the interval" \
	"$? $(grep -q "no gateway state in $EP_TMP/none" <<<"$out" && echo named)" "1 named"

# The man pages list the options of the tables (each program prints its own with the
# hidden --dump-options), with the same argument names, and no other.
man_options() {	# MAN_PAGE: "--name ARG" of every tag line (.TP) that starts with an option
	python3 - "$1" <<'PY'
import re, sys
lines = open(sys.argv[1]).read().split('\n')
out = set()
for i, l in enumerate(lines[:-1]):
    if l.strip() != '.TP':
        continue
    t = re.sub(r'^\.(BI|BR|IR|IB|RB|RI|B|I)\s+', '', lines[i + 1])
    t = re.sub(r'\\f[BRIP]', '', t).replace('\\-', '-').replace('"', ' ')
    words = [w.rstrip(',') for w in t.split() if w.rstrip(',')]
    if not words or not words[0].startswith('-'):
        continue
    cur = None
    for w in words:
        if w.startswith('--'):
            if cur:
                out.add(cur)
            cur = w
        elif cur and ' ' not in cur and not w.startswith('-'):
            cur += ' ' + w
    if cur:
        out.add(cur)
print('\n'.join(sorted(o for o in out if o not in ('--help', '--version'))))
PY
}
check_man() {	# PAGE PROG [COMMAND...]: the options PROG (COMMAND) dumps are those of PAGE
	local page=$1 prog=$2 tab man c words
	shift 2
	(($#)) || set -- ""
	tab=$(for c in "$@"; do
		read -ra words <<<"$c"
		"$BIN/$prog" "${words[@]}" --dump-options
	done | sort -u)
	man=$(man_options "$EP_ROOT/docs/man/$page")
	if [[ -n $tab && $tab == "$man" ]]; then
		ok "$page: the $(wc -l <<<"$tab") options of the tables, with their argument names"
	else
		not_ok "$page: the options of the tables, with their argument names"
		diag "$(diff <(echo "$tab") <(echo "$man") | grep '^[<>]' | tr '\n' ' ' |
			sed 's/</table:/g; s/>/man:/g')"
	fi
}
check_man edgeplane.8 edgeplane "" stats encrypt
check_man edgeplane-xdp.8 edgeplane-xdp
check_man edgeload.1 edgeload
check_man edgectl.8 edgectl serve "node list" "node add" stats policy status table detach keys \
	revoke unrevoke

# A configuration with a setting edgectl does not know: refused, naming the file and the
# setting, before anything else is checked (no interface is needed to get there).
printf 'gateway: { interface = "none0"; };\nbogus_setting = 1;\n' >"$EP_TMP/bad.conf"
for spelling in "--config $EP_TMP/bad.conf" "--config=$EP_TMP/bad.conf" \
	"--port 7878 --config=$EP_TMP/bad.conf"; do
	# shellcheck disable=SC2086 # the spelling is words
	expect_refusal \
		"edgectl serve ${spelling//$EP_TMP\//}: the file is read (its unknown setting refused)" \
		"bad.conf:2: bogus_setting: unknown setting" timeout 10 "$BIN/edgectl" serve $spelling
done

# A policy's per-priority list of the wrong length is refused, naming it.
printf 'gateway: { interface = "none0"; };\npolicy: { wait_max = [250, 500]; };\n' \
	>"$EP_TMP/wait.conf"
expect_refusal "edgectl serve: policy.wait_max of 2 values refused" \
	'wait_max: must be a list of 5 integers' timeout 10 "$BIN/edgectl" serve --config="$EP_TMP/wait.conf"

# --- edgeload --to ---------------------------------------------------------------------
if [[ $(id -u) -ne 0 ]]; then
	skip "edgeload --to forms" "needs root (network namespaces)"
	tap_done
	exit 0
fi
# The runtime on a port of its own; a name for it in A's /etc/hosts (`ip netns exec`
# mounts /etc/netns/NS/hosts over /etc/hosts).
PORT=7999
if ! ep_setup_pair; then
	not_ok "set up namespaces"
	tap_done
	exit 1
fi
mkdir -p "/etc/netns/$NS_A" && printf '%s edge-%s.test\n' "$ADDR_B" "$EP_SUFFIX" \
	>"/etc/netns/$NS_A/hosts"
_rm_hosts() { rm -rf "/etc/netns/$NS_A"; }
on_exit _rm_hosts
# Environment errors: no bpffs in the namespace (`ip netns exec` mounts a fresh /sys and
# this test mounts none), and a user without the capabilities.
env_error() {	# WHAT PATTERN CMD...: CMD fails and says PATTERN
	local what=$1 want=$2 out rc
	shift 2
	out=$(timeout 10 "$@" 2>&1)
	rc=$?
	if ((rc != 0 && rc != 124)) && [[ $out == *"$want"* ]]; then
		ok "$what: '$(grep -m1 -F "$want" <<<"$out" | sed 's/^[a-z-]*: error: //')'"
	else
		not_ok "$what: says '$want'"
		diag "rc $rc: $(tail -2 <<<"$out")"
	fi
}
NOBODY=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
env_error "edgeplane without a BPF file system" "mount -t bpf bpf /sys/fs/bpf" \
	ip netns exec "$NS_B" "$BIN/edgeplane" -i "$IF_B" --auth-mode off \
	--stats-socket "$EP_TMP/env.sock"
env_error "edgeplane-xdp attach without a BPF file system" "mount -t bpf bpf /sys/fs/bpf" \
	ip netns exec "$NS_B" "$BIN/edgeplane-xdp" attach "$IF_B"
env_error "edgectl serve without a BPF file system" "mount -t bpf bpf /sys/fs/bpf" \
	ip netns exec "$NS_B" "$BIN/edgectl" serve --iface "$IF_B" --auth-mode off \
	--socket "$EP_TMP/env-ctl.sock"
env_error "edgeplane as an unprivileged user" "needs root, or CAP_BPF and CAP_NET_ADMIN" \
	ip netns exec "$NS_B" "${NOBODY[@]}" "$BIN/edgeplane" -i "$IF_B" --auth-mode off \
	--stats-socket "/tmp/ep-cli-$EP_SUFFIX/s.sock"
env_error "edgeplane-xdp attach as an unprivileged user" "needs root, or CAP_BPF" \
	ip netns exec "$NS_B" "${NOBODY[@]}" "$BIN/edgeplane-xdp" attach "$IF_B"
rm -rf "/tmp/ep-cli-$EP_SUFFIX"
check "nothing was left attached to $IF_B" \
	test "$(ip -n "$NS_B" -j link show "$IF_B" | jq -r '.[0].xdp // empty')" = ""

printf 'backend = "udp";\nport = %d;\nhandlers = ( { name = "echo"; } );\n%s\n' \
	$PORT "$EP_AUTH_OFF" >"$EP_TMP/rt.conf"
on_exit ep_stop_runtime
if ! ep_start_runtime "$EP_TMP/rt.log" -c "$EP_TMP/rt.conf" -i "$IF_B"; then
	not_ok "the runtime starts on port $PORT"
	diag "$(tail -3 "$EP_TMP/rt.log")"
	tap_done
	exit 1
fi
# B's link-local address, once duplicate address detection is done with it: the client
# names its scope, and the udp backend answers through the interface the task came in on.
LL_B=
for _ in $(seq 60); do
	LL_B=$(ip -n "$NS_B" -j addr show dev "$IF_B" | jq -r '.[0].addr_info[]
		| select(.family == "inet6" and .scope == "link" and (.tentative | not)) | .local')
	[[ -n $LL_B ]] && break
	sleep 0.1
done
for to in "$ADDR_B:$PORT" "=$ADDR_B:$PORT" "[$ADDR6_B]:$PORT" "edge-$EP_SUFFIX.test:$PORT" "$ADDR6_B --port $PORT" \
	"[$ADDR6_B] --port $PORT" "[$LL_B%$IF_A]:$PORT"; do
	# "=ADDR" is spelled --to=ADDR
	# shellcheck disable=SC2086 # --port is a word of its own
	if [[ $to == =* ]]; then set -- "--to${to}"; else set -- --to $to; fi
	out=$(in_a timeout 10 "$BIN/edgeload" run "$@" --type=echo --size=10 2>&1)
	rc=$?
	if ((rc == 0)); then
		ok "edgeload --to $to: answered"
	else
		not_ok "edgeload --to $to: answered"
		diag "rc $rc: $(tail -2 <<<"$out")"
	fi
done
for to in "$ADDR_B:" ":$PORT" "[$ADDR_B]:$PORT" "[$ADDR6_B]x" "$ADDR_B:70000" \
	"no-such-host-$EP_SUFFIX.invalid" "$ADDR_B:$PORT --port 7878"; do
	# shellcheck disable=SC2086
	expect_refusal "edgeload --to $to: a usage error" --to \
		in_a timeout 10 "$BIN/edgeload" run --to $to --type echo --size 10
done
check "none of the refused ones sent a task (the runtime received 7)" \
	test "$("$BIN/edgeplane" stats --socket "$EP_TMP/stats.sock" --json |
		jq '[.types[] | select(.handler == "echo") | .received] | add')" -eq 7

tap_done
