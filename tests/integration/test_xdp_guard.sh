#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The classifier's guards (issue 11), with the runtime on one end of a veth pair and an
# attacker, a victim and a client in the other namespace:
#  (a) the encapsulation relay: an encapsulated task whose inner source is a victim and
#      whose inner destination is a third address must not make the runtime answer the
#      victim from that address; encapsulation is off by default, and when on, taken only
#      from the configured gateways and only for the node's own or virtual addresses;
#  (b) a task to an address that is not the node's (sent with the node's MAC) is not
#      answered, and counted pass_not_local; an address added later counts within
#      seconds;
#  (c) a bounded flood from one prefix: a client in another prefix is still served, the
#      flood's excess is counted as drops, and the runtime's CPU time over the flood
#      stays within what the configured rate lets through;
#  (d) a task between the runtime's 16 MiB and the protocol's 64 MiB, behind the
#      classifier edgeplane-xdp attached, is answered TOO_LARGE.
source "$(dirname "$0")/../lib/lib.sh"
need_root "XDP classifier and runtime on veth"

ep_setup_or_bail
MAC_B=$(ip -n "$NS_B" -j link show "$IF_B" | jq -r '.[0].address')
VICTIM=198.18.0.77 THIRD=198.18.0.66 OTHER_GW=198.18.0.5 NOT_OURS=198.18.0.99
# The client of (c) in another /24: its own address in A, and one of B's.
CLIENT_A=198.19.0.1 CLIENT_B=198.19.0.2
in_a ip addr add $VICTIM/24 dev "$IF_A" &&
	in_a ip addr add $CLIENT_A/24 dev "$IF_A" &&
	in_b ip addr add $CLIENT_B/24 dev "$IF_B" &&
	in_a ip neigh replace $NOT_OURS lladdr "$MAC_B" dev "$IF_A" nud permanent ||
	{ not_ok "addresses for the victim, the client and a foreign destination"; tap_done; exit 1; }
# Replies from the runtime's AF_XDP socket carry the checksums the kernel left partial.
in_a ethtool -K "$IF_A" tx off >/dev/null 2>&1

on_exit ep_stop_runtime
LOG=$EP_TMP/rt.log
stats() { in_b "$BIN/edgeplane-xdp" stats --dev "$IF_B" --json; }
# counter NAME: packets of classifier outcome NAME now.
counter() { stat_packets "$(stats)" "$1"; }
start() {	# start CONFIG-LINES...: the runtime on IF_B with these settings
	printf '%s\n' "interface = \"$IF_B\";" "$EP_AUTH_OFF" "$@" >"$EP_TMP/rt.conf"
	: >"$LOG"
	ep_start_runtime "$LOG" -c "$EP_TMP/rt.conf" || {
		diag "$(tail -5 "$LOG")"
		return 1
	}
}
# relay MS INNER-DST: a socket at the victim's address listens for MS ms (its output in
# victim.out) while three encapsulated echo tasks from the victim to INNER-DST come from A
# (198.18.0.1), as a gateway would send them.
relay() {
	in_a "$TOOLS/eptest-sink" --bind $VICTIM --port 40000 --count 1 --timeout-ms "$1" \
		--show-from >"$EP_TMP/victim.out" 2>&1 &
	VPID=$!
	wait_for_line "$EP_TMP/victim.out" '^ready' 5
	in_a "$TOOLS/eptest-send" --to "$ADDR_B" --encap-port 7880 --inner-src $VICTIM \
		--inner-dst "$2" --count 3 >/dev/null
	wait "$VPID"
}
# heard: how many datagrams the victim got.
heard() { grep -c '^from' "$EP_TMP/victim.out"; }

# --- (a) the encapsulation relay ---------------------------------------------------------
if start; then
	other0=$(counter pass_other_port) decap0=$(counter decap)
	relay 1500 $THIRD
	expect_eq "defaults: an encapsulated task (inner $VICTIM -> $THIRD) is not answered to the victim" \
		"$(heard)" 0
	diag "$(grep '^from' "$EP_TMP/victim.out")"
	check "defaults: encapsulation is off, nothing is decapsulated, the datagrams to 7880 go to the kernel" \
		test "$(counter decap)" -eq "$decap0" -a $(( $(counter pass_other_port) - other0 )) -ge 3
	ep_stop_runtime
else
	not_ok "the runtime starts with default settings"
fi

if start "xdp: { encap_port = 7880; encap_sources = [ \"$OTHER_GW\" ]; };"; then
	src0=$(counter drop_encap_source)
	relay 1000 $THIRD
	expect_eq "encapsulation on, from a host that is not the configured gateway: dropped (drop_encap_source), not answered" \
		"$(( $(counter drop_encap_source) - src0 )) $(heard)" "3 0"
	ep_stop_runtime
else
	not_ok "the runtime starts with encapsulation from $OTHER_GW"
fi

if start "xdp: { encap_port = 7880; encap_sources = [ \"$ADDR_A\" ]; };"; then
	dst0=$(counter drop_encap_dest)
	relay 1000 $THIRD
	expect_eq "from the configured gateway, but for $THIRD, not the node's: dropped (drop_encap_dest), not answered" \
		"$(( $(counter drop_encap_dest) - dst0 )) $(heard)" "3 0"
	decap0=$(counter decap)
	relay 3000 "$ADDR_B"
	check "from the configured gateway, for the node's own address: decapsulated and answered from it" \
		test "$(( $(counter decap) - decap0 ))" -eq 3 -a \
		"$(grep -c "^from $ADDR_B port 7878 kind response" "$EP_TMP/victim.out")" -eq 1
	ep_stop_runtime
else
	not_ok "the runtime starts with encapsulation from $ADDR_A"
fi

out=$(printf '%s\n' "interface = \"$IF_B\";" "xdp: { encap_port = 7880; };" "$EP_AUTH_OFF" \
	>"$EP_TMP/bad.conf"
      "$BIN/edgeplane" -c "$EP_TMP/bad.conf" --check-config 2>&1); rc=$?
expect_eq "encap_port without encap_sources is refused, naming both (status 2)" \
	"$rc:$(grep -c 'encap_sources' <<<"$out")" "2:1"

# replies_settle WANT: the replies to 5 echo tasks to $NOT_OURS, tried for up to about 6 s
# until they are WANT (the classifier's address list follows the node's in a moment).
replies_settle() {
	local got=0 out
	for _ in $(seq 30); do
		out=$(in_a "$TOOLS/eptest-burst" --to $NOT_OURS --count 5 --kind echo --wait-ms 200)
		got=$(jq -r .replies <<<"$out")
		[[ $got == "$1" ]] && break
		sleep 0.2
	done
	echo "$got"
}

# --- (b) a task to an address that is not the node's --------------------------------------
if start; then
	nl0=$(counter pass_not_local)
	out=$(in_a "$TOOLS/eptest-burst" --to $NOT_OURS --count 20 --kind echo --wait-ms 500)
	expect_eq "20 tasks to $NOT_OURS with the node's MAC: none answered" \
		"$(jq -r .replies <<<"$out")" 0
	check "and counted pass_not_local" test $(( $(counter pass_not_local) - nl0 )) -ge 20
	# An address added while the runtime runs: the classifier's list follows it.
	in_b ip addr add $NOT_OURS/32 dev "$IF_B"
	expect_eq "once $NOT_OURS is the node's (added while running), its tasks are answered" \
		"$(replies_settle 5)" 5
	in_b ip addr del $NOT_OURS/32 dev "$IF_B"
	expect_eq "and once it is removed, no longer" "$(replies_settle 0)" 0
	ep_stop_runtime
else
	not_ok "the runtime starts for the destination check"
fi

# --- (c) a flood from one prefix ----------------------------------------------------------
RATE=500 BURST=500 FLOOD=1000000
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
if start "rate_limit: { packets_per_s = $RATE; packets_burst = $BURST; };" \
	 "limits: { source_prefix_v4 = 24; };"; then
	drop0=$(counter drop_rate_packets) xsk0=$(counter redirect_xsk)
	# The client: 200 echo tasks/s for 3 s, from 198.19.0.0/24.
	in_a timeout 40 "$BIN/edgeload" load --to $CLIENT_B --type echo --size 64 --rate 200 \
		--duration 3s --timeout-ms 500 --json >"$EP_TMP/client.json" 2>&1 &
	cpid=$!
	sleep 0.3
	t0=$(cpu_ticks "$RT_PID") s0=$(date +%s%N)
	out=$(in_a "$TOOLS/eptest-burst" --to "$ADDR_B" --count $FLOOD --kind echo --size 1400 \
		--send-ms 2500 --wait-ms 300)
	secs=$(( ($(date +%s%N) - s0) / 1000000 ))
	wait $cpid
	t1=$(cpu_ticks "$RT_PID")
	sent=$(jq -r .sent <<<"$out")
	client=$(cat "$EP_TMP/client.json")
	drops=$(( $(counter drop_rate_packets) - drop0 )) xsk=$(( $(counter redirect_xsk) - xsk0 ))
	csent=$(jq -r .total.sent <<<"$client") cdone=$(jq -r .total.completed <<<"$client")
	# What the flood may get through: the burst, and the rate over the flood's time.
	allowed=$(( BURST + RATE * (secs + 999) / 1000 ))
	hz=$(getconf CLK_TCK)
	# The runtime's CPU: generously 50 us for each datagram let through, the flood's and
	# the client's (an echo costs it about 1 us here), and 0.3 s for everything else (its
	# timers, the address refresh). Without the limit it would serve the whole flood.
	bound=$(( (allowed + csent) * hz / 20000 + hz * 3 / 10 ))
	diag "flood: $sent datagrams in $secs ms; dropped $drops, to the socket $xsk; client" \
		"$cdone of $csent; runtime CPU $((t1 - t0)) ticks (bound $bound, $hz/s)"
	check "a legitimate client in another prefix is served during the flood ($cdone of $csent)" \
		test "$(jq -r .total.failed <<<"$client")" -eq 0 -a "$cdone" -gt 0
	check "the flood's excess is counted as drop_rate_packets ($drops of $sent)" \
		test "$drops" -ge $(( sent - allowed - 1000 )) -a "$drops" -gt 0
	check "the AF_XDP socket got no more than the burst and the rate let through ($xsk <= $allowed + $csent)" \
		test "$xsk" -le $(( allowed + csent ))
	check "the runtime's CPU time over the flood is bounded by the configured rate ($((t1 - t0)) <= $bound ticks)" \
		test $(( t1 - t0 )) -le "$bound"
	ep_stop_runtime
else
	not_ok "the runtime starts with a rate limit"
fi

# --- (d) between the runtime's limit and 64 MiB --------------------------------------------
# (Keys are not this test's subject: their mode off, so eptest-send's plain tasks pass.)
if in_b "$BIN/edgeplane-xdp" attach "$IF_B" --auth-mode off >"$EP_TMP/attach.log" 2>&1; then
	if ep_start_runtime "$LOG" -b udp -i "$IF_B" --bind "$ADDR_B" $EP_AUTH_OFF_ARG; then
		out=$(in_a "$TOOLS/eptest-send" --to "$ADDR_B" --size $((20 << 20)) --frags 1 \
			--wait-ms 1500 | tail -1)
		expect_eq "behind edgeplane-xdp's classifier (its defaults), fragment 0 of a 20 MiB task is answered TOO_LARGE" \
			"$(awk '{ print $2, $6, $8 }' <<<"$out")" "1 error too_large"
		diag "$out"
		ep_stop_runtime
	else
		not_ok "the udp runtime starts behind edgeplane-xdp's classifier"
		diag "$(tail -5 "$LOG")"
	fi
	check "detach" quiet in_b "$BIN/edgeplane-xdp" detach "$IF_B"
else
	not_ok "edgeplane-xdp attach"
	diag "$(cat "$EP_TMP/attach.log")"
fi
tap_done
