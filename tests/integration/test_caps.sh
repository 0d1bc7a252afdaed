#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Without root (issue 17): the runtime and the controller run as an unprivileged user
# (uid 65534) holding exactly the capabilities their systemd units allow, and nothing
# else: the runtime attaches its classifier and answers a task, the controller attaches
# the gateway and takes the runtime's registration, and both detach and unpin at stop.
# The user owns what the units give the daemons: a bpffs (the test's) and /run/edgeplane
# (a tmpfs in a mount namespace of the daemon's own).
#
# The five the issue names (CAP_BPF CAP_NET_ADMIN CAP_NET_RAW CAP_SYS_RESOURCE
# CAP_IPC_LOCK) are not enough, and this test proves the two more the units hold:
# CAP_PERFMON, without which the verifier refuses libxdp's dispatcher and the programs
# (pointer arithmetic of a program loaded without it; EACCES), and CAP_SYS_ADMIN, without
# which libxdp cannot look up the dispatcher already attached to an interface
# (BPF_PROG_GET_FD_BY_ID needs it): neither a second attach nor the detach at stop works.
# Which of them each program cannot do without is printed as diagnostics.
source "$(dirname "$0")/../lib/lib.sh"
need_root "setpriv, network namespaces, XDP"

USER_ID=65534
declare -A CAP_BIT=([bpf]=39 [net_admin]=12 [net_raw]=13 [sys_resource]=24 [ipc_lock]=14
	[perfmon]=38 [sys_admin]=21)
# The units' seven, less any this test cannot give because it does not hold it itself (a
# container's bounding set may lack one: then the daemons here run without it too).
bnd=$((16#$(awk '/^CapBnd:/ {print $2}' /proc/self/status)))
CAPS=() mask=0
for c in bpf net_admin net_raw sys_resource ipc_lock perfmon sys_admin; do
	if ((bnd >> CAP_BIT[$c] & 1)); then
		CAPS+=("$c")
		mask=$((mask | 1 << CAP_BIT[$c]))
	else
		diag "cap_$c is not in this test's bounding set: the daemons run without it"
	fi
done
CAPS_MASK=$(printf '%016x' $mask)

ep_setup_or_bail
# The user's files: a directory it owns (under $EP_TMP, which others may now traverse),
# and the bpffs.
chmod 0711 "$EP_TMP"
U=$EP_TMP/user
mkdir -p "$U" && chown $USER_ID:$USER_ID "$U" "$EP_BPFFS" && chmod 0700 "$U"
mkdir -p /run/edgeplane # the mount point of the daemons' private tmpfs

# as_user NS LOG CAP... -- PROG ARGS: PROG in network namespace NS as $USER_ID with
# exactly the capabilities CAP... (inheritable, ambient, bounding set), in a mount
# namespace where /run/edgeplane is a tmpfs of the user's; output to LOG, pid in PID (the
# program's: each step execs the next).
as_user() {
	local ns=$1 log=$2 caps=() list
	shift 2
	while [[ $1 != -- ]]; do caps+=("+$1"); shift; done
	shift
	list=$(IFS=,; echo "-all${caps[*]:+,${caps[*]}}")
	# ip netns exec: the namespace's /sys; unshare -m: a mount namespace for the tmpfs.
	ip netns exec "$ns" unshare -m --propagation private sh -c \
		'mount -t tmpfs -o mode=0755,uid=$0 tmpfs /run/edgeplane && exec "$@"' $USER_ID \
		setpriv --reuid=$USER_ID --regid=$USER_ID \
		--clear-groups --inh-caps="$list" --ambient-caps="$list" --bounding-set="$list" \
		env LIBXDP_BPFFS="$EP_BPFFS" "$@" >"$log" 2>&1 &
	PID=$!
}

# start_runtime LOG CAP...: the runtime on $IF_B as the user; 0 once ready.
start_runtime() {
	local log=$1
	shift
	rm -f "$U/ready"
	as_user "$NS_B" "$log" "$@" -- "$BIN/edgeplane" -i "$IF_B" $EP_AUTH_OFF_ARG \
		--stats-socket "$U/stats/stats.sock" --ready-file "$U/ready" \
		--controller "$ADDR_A:7879" --node-id 1
	RT_PID=$PID
	ep_await_ready "$RT_PID" 200 test -s "$U/ready" && return 0
	RT_PID=
	return 1
}
on_exit ep_stop_runtime

if start_runtime "$EP_TMP/rt.log" "${CAPS[@]}"; then
	ok "the runtime starts as uid $USER_ID with ${CAPS[*]} only"
	expect_eq "it runs as uid $USER_ID with exactly those capabilities (CapEff)" \
		"$(awk '/^Uid:/ {print $2} /^CapEff:/ {print $2}' /proc/$RT_PID/status | xargs)" \
		"$USER_ID $CAPS_MASK"
	head -c 2000 /dev/urandom >"$EP_TMP/in.bin"
	expect_echo "it answers a task (echo) through its classifier on $IF_B" "$EP_TMP/in.bin" \
		in_a "$BIN/edgeload" run --to $ADDR_B
else
	not_ok "the runtime starts as uid $USER_ID with ${CAPS[*]} only"
	diag "$(grep -iE 'error|warn' "$EP_TMP/rt.log" | tail -5)"
fi

# The controller, as the same user, on $IF_A: it attaches the gateway and registers the
# runtime from its load reports.
cat >"$EP_TMP/ctl.conf" <<EOF
gateway: { interface = "$IF_A"; keep_attached = false; relay_replies = false; };
control: { listen = "$ADDR_A:7879"; socket = "$U/ctl/edgectl.sock"; allow_register = true; };
$EP_AUTH_OFF
EOF
chmod 0644 "$EP_TMP/ctl.conf"
as_user "$NS_A" "$EP_TMP/ctl.log" "${CAPS[@]}" -- "$BIN/edgectl" serve --config "$EP_TMP/ctl.conf"
CTL_PID=$PID
_stop_ctl() { [[ -n ${CTL_PID:-} ]] && kill -TERM "$CTL_PID" && wait "$CTL_PID"; }
on_exit _stop_ctl
ctl() { "$BIN/edgectl" --socket "$U/ctl/edgectl.sock" "$@"; }
for _ in $(seq 50); do
	[[ $(ctl node list --json 2>/dev/null | jq -r '.[0].id' 2>/dev/null) == 1 ]] && break
	kill -0 "$CTL_PID" 2>/dev/null || break
	sleep 0.1
done
if [[ $(ctl node list --json 2>/dev/null | jq -r '[.[].id] | join(",")' 2>/dev/null) == 1 ]]; then
	ok "the controller, as uid $USER_ID with ${CAPS[*]} only, attaches the gateway and registers the runtime"
else
	not_ok "the controller, as uid $USER_ID with ${CAPS[*]} only, attaches the gateway and registers the runtime"
	diag "$(grep -iE 'error|warn' "$EP_TMP/ctl.log" | tail -5)"
fi
kill -TERM "$CTL_PID" 2>/dev/null
wait "$CTL_PID"
rc=$?
CTL_PID=
expect_eq "the controller stops (status 0), the gateway off $IF_A, its pins gone" \
	"$rc:$(no_xdp "$NS_A" "$IF_A" && echo off):$(ls "$EP_BPFFS/edgeplane" 2>/dev/null | grep -c gw-)" \
	"0:off:0"
ep_stop_runtime
expect_eq "the runtime stops (status 0), its classifier off $IF_B, its pins gone" \
	"$?:$(no_xdp "$NS_B" "$IF_B" && echo off):$(test -e "$EP_BPFFS/edgeplane/$IF_B" || echo gone)" \
	"0:off:gone"

# Without any capability the runtime cannot start: the capabilities are what makes it work.
if start_runtime "$EP_TMP/none.log"; then
	not_ok "without capabilities the runtime does not start"
	ep_stop_runtime
else
	ok "without capabilities the runtime does not start"
fi
# Which of them the runtime needs, here (a diagnostic: it depends on the kernel and
# libxdp): without each, does it start, and does it detach at stop?
for c in "${CAPS[@]}"; do
	less=()
	for o in "${CAPS[@]}"; do [[ $o == "$c" ]] || less+=("$o"); done
	if start_runtime "$EP_TMP/less-$c.log" "${less[@]}"; then
		ep_stop_runtime
		if no_xdp "$NS_B" "$IF_B"; then
			diag "without cap_$c: the runtime starts, runs and detaches at stop"
		else
			diag "without cap_$c: the runtime leaves its classifier attached at stop:" \
				"$(grep -m1 -E 'not permitted|denied' "$EP_TMP/less-$c.log")"
			ip -n "$NS_B" link set dev "$IF_B" xdp off 2>/dev/null
			rm -rf "$EP_BPFFS/edgeplane/$IF_B" "$EP_BPFFS/xdp"
		fi
	else
		diag "without cap_$c: the runtime does not start:" \
			"$(grep -m1 -E 'error|denied' "$EP_TMP/less-$c.log")"
	fi
done

tap_done
