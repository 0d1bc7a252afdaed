#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The programs' command lines as a new user meets them: an unknown option is a usage error
# (exit 2) that names it in a line or two and points to --help, not a page of usage; a
# missing command says which there are; `edgectl serve` reads its configuration file
# however --config is spelled (--config FILE, --config=FILE), wherever it stands; and
# (as root, in namespaces of its own) `edgeload --to` takes HOST, HOST:PORT, [IPV6]:PORT
# and names, and refuses other forms with a usage error before it sends anything; the
# daemons started without a BPF file system, or without the privileges, say how to fix it.
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

# A policy's per-priority list of the wrong length is refused, naming it.
printf 'gateway: { interface = "none0"; };\npolicy: { wait_max = [250, 500]; };\n' \
	>"$EP_TMP/wait.conf"
out=$(timeout 10 "$BIN/edgectl" serve --config="$EP_TMP/wait.conf" 2>&1)
rc=$?
if ((rc == 2)) && [[ $out == *"wait_max"*"list of 5 integers"* ]]; then
	ok "edgectl serve: policy.wait_max of 2 values refused: '${out#*error: }'"
else
	not_ok "edgectl serve: policy.wait_max of 2 values refused"
	diag "rc $rc: $(head -3 <<<"$out")"
fi

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
for to in "$ADDR_B:$PORT" "[$ADDR6_B]:$PORT" "edge-$EP_SUFFIX.test:$PORT" "$ADDR6_B --port $PORT" \
	"[$ADDR6_B] --port $PORT" "[$LL_B%$IF_A]:$PORT"; do
	# shellcheck disable=SC2086 # --port is a word of its own
	out=$(in_a timeout 10 "$BIN/edgeload" run --to $to --type echo --size 10 2>&1)
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
	out=$(in_a timeout 10 "$BIN/edgeload" run --to $to --type echo --size 10 2>&1)
	rc=$?
	if ((rc == 2)) && [[ $out == *"--to"* ]]; then
		ok "edgeload --to $to: a usage error, '${out#*error: }'"
	else
		not_ok "edgeload --to $to: a usage error naming --to"
		diag "rc $rc: $(tail -2 <<<"$out")"
	fi
done
check "none of the refused ones sent a task (the runtime received 6)" \
	test "$("$BIN/edgeplane" stats --socket "$EP_TMP/stats.sock" --json |
		jq '[.types[] | select(.handler == "echo") | .received] | add')" -eq 6

tap_done
