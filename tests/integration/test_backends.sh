#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# One suite for every runtime backend (afxdp, udp, uring, dpdk): the runtime on one end of
# a veth pair, and from the other end the same checks against each: eptest-e2e over IPv4
# and over IPv6 (every built-in handler, fragmentation and reassembly, retries answered
# from the result cache, hostile tasks and errors), a burst of PINGs to a second address
# of the interface (every one answered, from that address), statistics, and a SIGTERM
# drain. A backend this host cannot run is skipped with the runtime's own reason; the
# probes: `edgeplane -b NAME --check-config` refusing the backend by name, then the start
# itself failing with a message that it cannot run here (a missing kernel feature, a DPDK
# EAL that cannot initialise). dpdk runs twice: on ordinary pages (--no-huge, the default)
# and, as "dpdk-huge", on 2 MiB hugepages this test reserves and gives back.
# EP_BACKENDS="udp uring" runs a subset.
source "$(dirname "$0")/../lib/lib.sh"
need_root "runtime backends on veth"

BACKENDS=${EP_BACKENDS:-afxdp udp uring dpdk dpdk-huge}
IMAGES=$BUILD/data/images
PLUGIN=$(ep_plugin libepcount.so) || { echo "Bail out! cannot install the test plugin"; exit 1; }
# The blobs handler's reference frame, signed (tests/lib/lib.sh: ep_signed).
COINS=$(ep_signed "$IMAGES/coins.png") || { echo "Bail out! cannot sign coins.png"; exit 1; }
ADDR2=198.18.0.3 ADDR6_2=2001:db8::3
HUGE_PAGES=160	# 320 MiB: dpdk.memory_mb (256) and the EAL's own

if ! ep_setup_bpffs || ! ep_setup_pair ||
	! in_b ip addr add $ADDR2/24 dev "$IF_B" ||
	! in_b ip addr add $ADDR6_2/64 dev "$IF_B" nodad; then
	not_ok "set up namespaces, veth, second addresses and bpffs"
	tap_done
	exit 1
fi

ep_e2e_conf "$COINS" "$PLUGIN" >"$EP_TMP/rt.conf"
{ cat "$EP_TMP/rt.conf"; echo 'dpdk: { no_huge = false; };'; } >"$EP_TMP/rt-huge.conf"

# Hugepages for dpdk-huge, given back at exit (those in use by others stay theirs).
HUGE_WAS= HUGE_FREE0=
reserve_huge() {
	HUGE_WAS=$(cat /proc/sys/vm/nr_hugepages)
	echo $((HUGE_WAS + HUGE_PAGES)) >/proc/sys/vm/nr_hugepages 2>/dev/null
	HUGE_FREE0=$(awk '/^HugePages_Free/ { print $2 }' /proc/meminfo)
	((HUGE_FREE0 >= HUGE_PAGES))
}
release_huge() { [[ -n $HUGE_WAS ]] && echo "$HUGE_WAS" >/proc/sys/vm/nr_hugepages; }
on_exit release_huge

RT_PID=
# conf B: the configuration of backend variant B (dpdk-huge: rt-huge.conf).
conf() { [[ $1 == *-* ]] && echo "$EP_TMP/rt-${1#*-}.conf" || echo "$EP_TMP/rt.conf"; }
start_runtime() {
	ep_start_runtime "$EP_TMP/rt-$1.log" -c "$(conf "$1")" -b "${1%%-*}" -i "$IF_B"
}
on_exit ep_stop_runtime

# e2e B LABEL ADDR: eptest-e2e against ADDR, its TAP lines as ours, prefixed.
e2e() {
	local b=$1 label=$2 addr=$3
	in_a "$TOOLS/eptest-e2e" --to "$addr" --images "$IMAGES" >"$EP_TMP/e2e-$b-$label.out" 2>&1
	tap_from "$EP_TMP/e2e-$b-$label.out" "$b: e2e $label: "
}

# burst B ADDR COUNT: PINGs from 4 sockets to ADDR, a second address of the interface, at
# most 128 unanswered: the check is that each is answered from ADDR, not how much a burst
# the rings absorb (a veth's ring holds 256 frames; a runtime that a neighbour delays
# behind an unbounded burst loses some, as CI saw with dpdk, 1952 of 2000).
burst() {
	local b=$1 addr=$2 n=$3 out
	out=$(in_a "$TOOLS/eptest-burst" --to "$addr" --count "$n" --flows 4 --window 128 \
		--wait-ms 2000)
	expect_eq "$b: a burst of $n PINGs to $addr is answered in full, from $addr" \
		"$(jq -r '"\(.replies) \(.wrong_source) \(.duplicates)"' <<<"$out")" "$n 0 0"
}

suite() {
	local b=$1 out rc stats huge_free reason
	out=$(ip netns exec "$NS_B" "$BIN/edgeplane" -c "$(conf "$b")" -b "${b%%-*}" -i "$IF_B" \
		--check-config 2>&1)
	rc=$?
	if ((rc != 0)); then
		not_ok "$b: the test configuration is valid"
		diag "$out"
		return
	fi
	if [[ $b == *-huge ]] && ! reserve_huge; then
		skip "$b: every check" "cannot reserve $HUGE_PAGES hugepages of 2 MiB (vm.nr_hugepages)"
		return
	fi
	if ! start_runtime "$b"; then
		# A backend this host cannot run (lib.sh's EP_CANNOT_RUN) is skipped; any other
		# failure fails.
		ep_start_failed "$b" "$EP_TMP/rt-$b.log" "$b: the runtime starts and reports ready" \
			"$b: every check"
		return
	fi
	ok "$b: the runtime starts and reports ready"
	if [[ $b == *-huge ]]; then
		huge_free=$(awk '/^HugePages_Free/ { print $2 }' /proc/meminfo)
		check "$b: DPDK's memory is in hugepages ($((HUGE_FREE0 - huge_free)) taken)" \
			test "$huge_free" -lt "$HUGE_FREE0"
	fi

	e2e "$b" IPv4 $ADDR_B
	e2e "$b" IPv6 $ADDR6_B
	burst "$b" $ADDR2 2000
	burst "$b" $ADDR6_2 1000

	stats=$("$BIN/edgeplane" stats --socket "$EP_TMP/stats.sock" --json)
	expect_eq "$b: statistics name the backend" "$(jq -r .backend <<<"$stats")" "${b%%-*}"
	check "$b: statistics: the backend counted what it received and sent" \
		test "$(jq '[.workers[].io | select(.rx_packets >= 3000 and .tx_packets >= 3000)]
			| length' <<<"$stats")" -ge 1

	in_a "$TOOLS/eptest-e2e" --to $ADDR_B --images "$IMAGES" --drain "$RT_PID" \
		>"$EP_TMP/drain-$b.out"
	if grep -q '^ok' "$EP_TMP/drain-$b.out" && ! grep -q '^not ok' "$EP_TMP/drain-$b.out"; then
		ok "$b: $(grep '^ok' "$EP_TMP/drain-$b.out" | sed -E 's/^ok [0-9]+ - //')"
	else
		not_ok "$b: SIGTERM drains queued tasks"
		diag "$(cat "$EP_TMP/drain-$b.out")"
	fi
	# If it stopped before its SIGTERM (a bail-out), stop the runtime here, not hang.
	grep -q '^\(not \)\?ok' "$EP_TMP/drain-$b.out" || kill -TERM "$RT_PID" 2>/dev/null
	wait "$RT_PID"
	expect_eq "$b: the runtime exits 0 after draining" "$?" 0
	RT_PID=
	check "$b: nothing left attached to the interface" \
		no_xdp "$NS_B" "$IF_B"
}

for b in $BACKENDS; do
	start=$SECONDS
	suite "$b"
	diag "$b: $((SECONDS - start)) s"
done
tap_done
