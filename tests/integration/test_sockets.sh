#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The Unix sockets of the runtime (statistics) and of the controller (edgectl's API): each
# lives in a private directory the daemon creates (0700, or 2750 with the configured
# group) or checks, and is created mode 0600 (0660 with the group); a directory that is a
# symbolic link, has the wrong owner or mode, or sits in a directory others may write, is
# refused with a message that says how to fix it, and so is a file that is not a socket.
source "$(dirname "$0")/../lib/lib.sh"
need_root "the daemons' Unix sockets"

ep_setup_or_bail "set up namespaces"
GROUP=daemon
if ! GID=$(getent group "$GROUP" | cut -d: -f3) || [[ -z $GID ]]; then
	GROUP=$(getent group | awk -F: '$3 != 0 { print $1; exit }')
	GID=$(getent group "$GROUP" | cut -d: -f3)
fi
# perm PATH: "mode user:group" of PATH itself (not followed).
perm() { stat -c '%a %U:%G' "$1" 2>/dev/null; }

# --- the runtime's statistics socket -------------------------------------------------------
# rt CONFIG-TEXT: start the runtime (udp backend, B's address) with this configuration
# (its statistics socket the configuration's); 0 once ready (RT_PID set), else 1 with its
# output in $EP_TMP/rt.log.
rt() {
	printf 'backend = "udp";\nbind = "%s";\n%s\n%s\n' "$ADDR_B" "$EP_AUTH_OFF" "$1" >"$EP_TMP/rt.conf"
	: >"$EP_TMP/rt.log"
	EP_RT_STATS= ep_start_runtime "$EP_TMP/rt.log" -c "$EP_TMP/rt.conf"
}
rt_stop() { ep_stop_runtime || :; }
on_exit rt_stop
# starts KIND CASE ARGS...: start daemon KIND (rt or ctl, whose output goes to
# $EP_TMP/KIND.log) with ARGS; 0 once it is ready, else 1 and fail CASE with the end of
# its log.
starts() {
	local k=$1 c=$2
	shift 2
	"$k" "$@" && return 0
	not_ok "$c"
	diag "$(tail -2 "$EP_TMP/$k.log")"
	return 1
}
# refused KIND CASE REGEX ARGS...: daemon KIND does not start with ARGS (else stop it,
# KIND_stop, and fail CASE), and its log says REGEX.
refused() {
	local k=$1 c=$2 re=$3
	shift 3
	if "$k" "$@"; then
		"${k}_stop"
		not_ok "$c"
	else
		check "$c" grep -qE "$re" "$EP_TMP/$k.log"
	fi
}
# rt_refused WHAT CONFIG-TEXT REGEX: the runtime does not start, and says REGEX.
rt_refused() { refused rt "$1: refused, saying '$3'" "$3" "$2"; }
# modes DIR NAME: "MODE USER:GROUP / MODE USER:GROUP" of directory DIR and of DIR/NAME.
modes() { echo "$(perm "$1") / $(perm "$1/$2")"; }

D=$EP_TMP/rt
if starts rt "the runtime starts with stats_socket in a directory that does not exist yet" \
	"stats_socket = \"$D/stats.sock\";"; then
	expect_eq "the runtime creates its socket's directory 0700 and the socket 0600, owned by it" \
		"$(modes "$D" stats.sock)" "700 root:root / 600 root:root"
	check "edgeplane stats reads it" quiet "$BIN/edgeplane" stats --socket "$D/stats.sock"
	out=$(timeout 5 setpriv --reuid=nobody --regid=nogroup --clear-groups "$BIN/edgeplane" stats \
		--socket "$D/stats.sock" 2>&1) && rc=0 || rc=$?
	check "another user cannot ($rc)" test "$rc" -ne 0
	rt_stop
	check "it removes the socket when it stops" test ! -e "$D/stats.sock"
	c="it starts again with the directory it made"
	starts rt "$c" "stats_socket = \"$D/stats.sock\";" && ok "$c" && rt_stop
fi

# A second runtime (in the other namespace: the file system is shared) given the socket
# of one that runs is refused, and the first keeps its socket; the first's socket is
# removed when it stops, and one left by a runtime killed outright is taken over.
D=$EP_TMP/two
if starts rt "the runtime starts with a statistics socket of its own" \
	"stats_socket = \"$D/stats.sock\";"; then
	printf 'backend = "udp";\nbind = "%s";\nstats_socket = "%s/stats.sock";\n%s\n' \
		"$ADDR_A" "$D" "$EP_AUTH_OFF" >"$EP_TMP/rt2.conf"
	out=$(timeout 10 ip netns exec "$NS_A" "$BIN/edgeplane" -c "$EP_TMP/rt2.conf" 2>&1)
	rc=$?
	if ((rc != 0)) && [[ $out == *"another process answers on it"* ]]; then
		ok "a second runtime given a live statistics socket is refused (exit $rc)"
	else
		not_ok "a second runtime given a live statistics socket is refused"
		diag "rc $rc: $(tail -2 <<<"$out")"
	fi
	check "the first still answers on its socket" quiet "$BIN/edgeplane" stats --socket "$D/stats.sock"
	kill -KILL "$RT_PID"
	wait "$RT_PID" 2>/dev/null
	RT_PID=
	c="a socket left by a runtime killed outright is taken over"
	if starts rt "$c" "stats_socket = \"$D/stats.sock\";"; then
		ok "$c"
		rt_stop
		check "and removed when that one stops" test ! -e "$D/stats.sock"
	fi
fi

# Two runtimes on one port in one namespace: SO_REUSEPORT would let the second take half
# of the first's datagrams, so it is refused unless share_port says so.
D=$EP_TMP/port
if starts rt "the runtime starts on port 7878" "stats_socket = \"$D/1.sock\";"; then
	two() {	# CONFIG-TEXT: a second udp runtime in B, the same port; its exit status
		printf 'backend = "udp";\nstats_socket = "%s/2.sock";\n%s\n%s\n' "$D" \
			"$EP_AUTH_OFF" "$1" >"$EP_TMP/rt2.conf"
		timeout 3 ip netns exec "$NS_B" "$BIN/edgeplane" -c "$EP_TMP/rt2.conf" \
			--ready-file "$EP_TMP/ready2" >"$EP_TMP/rt2.log" 2>&1
	}
	two ""
	rc=$?
	if ((rc != 0 && rc != 124)) && grep -q "held by another process" "$EP_TMP/rt2.log"; then
		ok "a second udp runtime on the port of a running one is refused: $(grep -o 'port [0-9]* is held.*' "$EP_TMP/rt2.log" | head -1)"
	else
		not_ok "a second udp runtime on the port of a running one is refused"
		diag "rc $rc: $(tail -2 "$EP_TMP/rt2.log")"
	fi
	two "share_port = true;"
	check "with share_port = true it starts (and shares the port)" \
		grep -q "ready: udp backend, port 7878" "$EP_TMP/rt2.log"
	rt_stop
fi

# Nothing changes the socket after bind: it is bound under a umask that gives it its
# mode, and never chmod'ed (no window in which others may connect).
D=$EP_TMP/rts
printf 'backend = "udp";\nbind = "%s";\nstats_socket = "%s/stats.sock";\n%s\n' "$ADDR_B" "$D" \
	"$EP_AUTH_OFF" >"$EP_TMP/rts.conf"
if command -v strace >/dev/null; then
	# LeakSanitizer cannot stop a traced process's threads (ptrace, taken by strace): off.
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
		ip netns exec "$NS_B" timeout -s INT 2 strace -f -qq -o "$EP_TMP/strace.txt" \
			-e trace=bind,umask,chmod,fchmod,fchmodat "$BIN/edgeplane" \
			-c "$EP_TMP/rts.conf" >/dev/null 2>&1
	before_bind=$(grep -B1 -E 'bind\(.*stats\.sock' "$EP_TMP/strace.txt" | head -1)
	check "the statistics socket is bound under umask 0177 and never chmod'ed" \
		test -n "$(grep -E 'bind\(.*stats\.sock' "$EP_TMP/strace.txt")" \
		-a -n "$(grep -F 'umask(0177)' <<<"$before_bind")" \
		-a -z "$(grep -E 'chmod.*stats\.sock' "$EP_TMP/strace.txt")"
	grep -E 'stats\.sock|umask' "$EP_TMP/strace.txt" | sed 's/^/# /'
else
	skip "the statistics socket is bound under umask 0177 and never chmod'ed" "strace is not installed"
fi

D=$EP_TMP/rtg
if starts rt "the runtime starts with stats_socket_group = \"$GROUP\"" \
	"stats_socket = \"$D/stats.sock\"; stats_socket_group = \"$GROUP\";"; then
	expect_eq "with stats_socket_group: directory 2750 and socket 0660, of group $GROUP" \
		"$(modes "$D" stats.sock)" "2750 root:$GROUP / 660 root:$GROUP"
	rt_stop
fi
rt_refused "stats_socket_group of a group that does not exist" \
	"stats_socket = \"$EP_TMP/rtx/s.sock\"; stats_socket_group = \"ep-no-such-group\";" \
	"no group named 'ep-no-such-group'"

mkdir -m 0755 "$EP_TMP/open"
rt_refused "a directory of mode 0755" "stats_socket = \"$EP_TMP/open/s.sock\";" \
	"mode 0755.*chmod 0700 $EP_TMP/open"
mkdir -m 0700 "$EP_TMP/real" && ln -s "$EP_TMP/real" "$EP_TMP/link"
rt_refused "a directory that is a symbolic link" "stats_socket = \"$EP_TMP/link/s.sock\";" \
	"$EP_TMP/link is a symbolic link \\(to $EP_TMP/real\\)"
mkdir -m 0700 "$EP_TMP/theirs" && chown nobody "$EP_TMP/theirs"
rt_refused "a directory owned by another user" "stats_socket = \"$EP_TMP/theirs/s.sock\";" \
	"owned by uid $(id -u nobody).*chown 0 $EP_TMP/theirs"
mkdir -m 0777 "$EP_TMP/ww" && mkdir -m 0700 "$EP_TMP/ww/priv"
rt_refused "a private directory inside a world-writable one" \
	"stats_socket = \"$EP_TMP/ww/priv/s.sock\";" "parent of $EP_TMP/ww/priv is writable by others"
mkdir -m 0700 "$EP_TMP/file" && echo keep >"$EP_TMP/file/s.sock"
rt_refused "a file that is not a socket" "stats_socket = \"$EP_TMP/file/s.sock\";" \
	"exists and is not a socket"
expect_eq "and the file is left alone" "$(cat "$EP_TMP/file/s.sock")" keep

# --- the controller's API socket -----------------------------------------------------------
CTL_PID=
# ctl SOCKET [serve options]: start the controller; 0 once ready.
ctl() {
	local sock=$1
	shift
	: >"$EP_TMP/ctl.log"
	ip netns exec "$NS_B" "$BIN/edgectl" serve --iface "$IF_B" --socket "$sock" \
		--detach-on-exit --no-relay $EP_AUTH_OFF_ARG "$@" >>"$EP_TMP/ctl.log" 2>&1 &
	CTL_PID=$!
	ep_await_ready "$CTL_PID" 100 grep -q "controller ready" "$EP_TMP/ctl.log" && return 0
	CTL_PID=
	return 1
}
ctl_stop() { [[ -n $CTL_PID ]] && { kill "$CTL_PID"; wait "$CTL_PID"; }; CTL_PID=; }
on_exit ctl_stop

D=$EP_TMP/ctl
if starts ctl "the controller starts with --socket in a directory that does not exist yet" \
	"$D/edgectl.sock"; then
	expect_eq "the controller creates its socket's directory 0700 and the socket 0600" \
		"$(modes "$D" edgectl.sock)" "700 root:root / 600 root:root"
	check "edgectl status talks to it" quiet "$BIN/edgectl" --socket "$D/edgectl.sock" status
	ctl_stop
fi
D=$EP_TMP/ctlg
if starts ctl "the controller starts with --socket-group $GROUP" "$D/edgectl.sock" \
	--socket-group "$GROUP"; then
	expect_eq "with --socket-group: directory 2750 and socket 0660, of group $GROUP" \
		"$(modes "$D" edgectl.sock)" "2750 root:$GROUP / 660 root:$GROUP"
	ctl_stop
fi
refused ctl "a directory of mode 0755 is refused, saying how to fix it" \
	"mode 0755.*chmod 0700 $EP_TMP/open" "$EP_TMP/open/edgectl.sock"
refused ctl "a directory that is a symbolic link is refused" \
	"$EP_TMP/link is a symbolic link" "$EP_TMP/link/edgectl.sock"
chmod 0755 "$EP_TMP/ctlg"
refused ctl "with --socket-group, a directory of mode 0755 is refused, saying how to fix it" \
	"mode 2?755.*chgrp $GROUP $EP_TMP/ctlg && chmod 2750" "$EP_TMP/ctlg/edgectl.sock" \
	--socket-group "$GROUP"

tap_done
