#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The classifier attached natively (through libxdp) to one end of a veth pair, with an
# AF_XDP socket bound behind it. Offload tasks sent from the other namespace over IPv4 and
# IPv6 must arrive in the socket; ping and other UDP must still reach the kernel stack;
# invalid tasks must be dropped and counted; with no socket, tasks fall back to the stack.
source "$(dirname "$0")/../lib/lib.sh"
need_root "AF_XDP on veth"

ep_setup_or_bail
PIN=$EP_BPFFS/edgeplane/$IF_B

# Auth off: eptest-send's tasks carry no session key (the key checks: test_classifier.c;
# the mode and keys through the tool: at the end).
out=$(in_b "$BIN/edgeplane-xdp" attach "$IF_B" --mode native --auth-mode off 2>&1)
if [[ $out != *"native mode"* ]]; then
	not_ok "attach natively through libxdp"
	diag "$out"
	tap_done
	exit 1
fi
ok "attach natively through libxdp"
check "the interface shows the libxdp dispatcher" \
	bash -c "ip netns exec $NS_B ip -d link show $IF_B | grep -q 'prog/xdp'"

# Receivers first: the AF_XDP socket (44 valid datagrams expected) and a kernel socket on
# another port.
in_b "$TOOLS/eptest-xsk" --dev "$IF_B" --pin-dir "$PIN" --count 44 --timeout-ms 10000 \
	>"$EP_TMP/xsk.out" 2>&1 &
xsk_pid=$!
in_b "$TOOLS/eptest-sink" --bind $ADDR_B --port 7879 --count 5 --timeout-ms 10000 \
	>"$EP_TMP/sink.out" 2>&1 &
sink_pid=$!
if ! wait_for_line "$EP_TMP/xsk.out" '^ready' 5 || ! wait_for_line "$EP_TMP/sink.out" '^ready' 5; then
	not_ok "receivers ready"
	diag "$(cat "$EP_TMP/xsk.out" "$EP_TMP/sink.out")"
	tap_done
	exit 1
fi

in_a "$TOOLS/eptest-send" --to $ADDR_B --count 20 --size 64 --id-base 100 >/dev/null &&
in_a "$TOOLS/eptest-send" --to $ADDR6_B --count 20 --size 1000 --id-base 200 >/dev/null &&
in_a "$TOOLS/eptest-send" --to $ADDR_B --count 1 --size 5000 --id-base 300 >/dev/null
check "send 41 tasks (44 datagrams) over IPv4 and IPv6" test $? -eq 0
in_a "$TOOLS/eptest-send" --to $ADDR_B --count 7 --corrupt >/dev/null
in_a "$TOOLS/eptest-send" --to $ADDR_B --port 7879 --raw --count 5 >/dev/null
check "ping over IPv4 through the classifier" quiet in_a ping -c 3 -i 0.2 -W 2 -q $ADDR_B
check "ping over IPv6 through the classifier" quiet in_a ping -6 -c 3 -i 0.2 -W 2 -q $ADDR6_B

wait $xsk_pid
wait $sink_pid
expect_eq "all offload datagrams arrive in the AF_XDP socket, none else" \
	"$(tail -1 "$EP_TMP/xsk.out")" "received 44 valid 44 ipv4 24 ipv6 20"
expect_eq "other UDP reaches the kernel socket" "$(tail -1 "$EP_TMP/sink.out")" \
	"received 5 valid 0"

stats=$(in_b "$BIN/edgeplane-xdp" stats --dev "$IF_B" --json)
expect_eq "redirect_xsk counted 44" "$(stat_packets "$stats" redirect_xsk)" 44
expect_eq "drop_bad_magic counted 7" "$(stat_packets "$stats" drop_bad_magic)" 7
pass_other=$(stat_packets "$stats" pass_other_port)
check "pass_other_port counted the other UDP ($pass_other)" test "$pass_other" -ge 5
pass_not_udp=$(stat_packets "$stats" pass_not_udp)
check "pass_not_udp counted the pings ($pass_not_udp)" test "$pass_not_udp" -ge 6

# The socket is gone: valid tasks fall back to the kernel stack, counted as such.
in_b "$TOOLS/eptest-sink" --bind $ADDR_B --port 7878 --count 3 --timeout-ms 5000 \
	>"$EP_TMP/fallback.out" 2>&1 &
wait_for_line "$EP_TMP/fallback.out" '^ready' 5
in_a "$TOOLS/eptest-send" --to $ADDR_B --count 3 --id-base 400 >/dev/null
wait $!
expect_eq "with no socket, tasks reach the kernel socket" \
	"$(tail -1 "$EP_TMP/fallback.out")" "received 3 valid 3"
stats=$(in_b "$BIN/edgeplane-xdp" stats --dev "$IF_B" --json)
expect_eq "pass_no_socket counted 3" "$(stat_packets "$stats" pass_no_socket)" 3

# bpftool reads the same pinned counters.
idx=$(jq 'keys_unsorted | index("redirect_xsk")' <<<"$stats")
expect_eq "bpftool map dump pinned shows the counters" \
	"$(bpftool_stat_packets "pinned $PIN/ep_stats" "$idx")" 44

# Session keys through the tool, on the pinned maps: mode required drops tasks without a
# key, counted; keys are put, listed and removed.
check "auth mode required, without reloading" quiet \
	in_b "$BIN/edgeplane-xdp" auth mode required --dev "$IF_B"
in_a "$TOOLS/eptest-send" --to $ADDR_B --count 3 --id-base 500 >/dev/null
stats=$(in_b "$BIN/edgeplane-xdp" stats --dev "$IF_B" --json)
expect_eq "required: 3 tasks without AUTH counted drop_auth_missing" \
	"$(stat_packets "$stats" drop_auth_missing)" 3
check "keys add 17 and 18" quiet bash -c "ip netns exec $NS_B $BIN/edgeplane-xdp keys add 17 \
	tenant=7 expires=3600 types=1,2,5 tasks=200,50 kib=20000,4096 --dev $IF_B &&
	ip netns exec $NS_B $BIN/edgeplane-xdp keys add 18 revoked --dev $IF_B"
keys=$(in_b "$BIN/edgeplane-xdp" keys list --dev "$IF_B" --json)
expect_eq "keys list shows both, as written" \
	"$(jq -c '[sort_by(.key_id)[] | [.key_id, .tenant, .state, .types, .tasks_per_s, .burst_kib]]' <<<"$keys")" \
	'[[17,7,"valid","1,2,5",200,4096],[18,0,"revoked","*",0,0]]'
check "keys del 18" quiet in_b "$BIN/edgeplane-xdp" keys del 18 --dev "$IF_B"
expect_eq "one key left" "$(in_b "$BIN/edgeplane-xdp" keys list --dev "$IF_B" --json | jq length)" 1
expect_eq "auth mode reads back" \
	"$(in_b "$BIN/edgeplane-xdp" auth mode --dev "$IF_B" --json | jq -r .mode)" required

check "detach" in_b "$BIN/edgeplane-xdp" detach "$IF_B"
check "no XDP program left on the interface" \
	no_xdp "$NS_B" "$IF_B"
check "pins removed" test ! -e "$PIN"
tap_done
