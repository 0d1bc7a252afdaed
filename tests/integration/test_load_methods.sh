#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The classifier loads three ways and behaves the same in each: through our libxdp loader
# (edgeplane-xdp), with `bpftool prog loadall ... pinmaps` + `bpftool net attach`, and with
# `ip link set dev X xdp obj ...`. For each: valid tasks with no AF_XDP socket reach the
# kernel stack (a 20 MiB one too: the classifier's own limit is the protocol's 64 MiB
# unless set), corrupt ones are dropped, ping passes, and bpftool reads the counters.
# Loaded by hand, the classifier takes tasks only to the addresses in its ep_addrs,
# which the operator fills (edgeplane-xdp addrs sync, or bpftool map update): done here.
source "$(dirname "$0")/../lib/lib.sh"
need_root "XDP on veth"

OBJ=$BPFOBJ/ep_classifier.bpf.o
ep_setup_or_bail
# Outcome name -> counter index, as the shared header numbers them.
stat_index() { "$BIN/edgeplane-xdp" reasons | awk -v n="$1" '$2 == n { print $1 }'; }
IDX_NO_SOCKET=$(stat_index pass_no_socket)
IDX_BAD_MAGIC=$(stat_index drop_bad_magic)
IDX_NOT_UDP=$(stat_index pass_not_udp)

attach_libxdp() {
	# Auth off: as the other two methods, which write no mode (unwritten: off).
	in_b "$BIN/edgeplane-xdp" attach "$IF_B" --mode native --auth-mode off >/dev/null &&
		MAP="pinned $EP_BPFFS/edgeplane/$IF_B/ep_stats"
}
detach_libxdp() { in_b "$BIN/edgeplane-xdp" detach "$IF_B"; }

attach_bpftool() {
	mkdir -p "$EP_BPFFS/bt_maps" &&
	in_b bpftool prog loadall "$OBJ" "$EP_BPFFS/bt" type xdp pinmaps "$EP_BPFFS/bt_maps" \
		2>"$EP_TMP/bpftool.err" &&
		in_b bpftool net attach xdpdrv pinned "$EP_BPFFS/bt/ep_classify" dev "$IF_B" &&
		MAP="pinned $EP_BPFFS/bt_maps/ep_stats" &&
		in_b "$BIN/edgeplane-xdp" addrs sync --pin-dir "$EP_BPFFS/bt_maps" >/dev/null
}
detach_bpftool() {
	in_b bpftool net detach xdpdrv dev "$IF_B" && rm -rf "$EP_BPFFS/bt" "$EP_BPFFS/bt_maps"
}

attach_iproute2() {
	in_b ip link set dev "$IF_B" xdpdrv obj "$OBJ" sec xdp 2>"$EP_TMP/ip.err" || return 1
	local prog map
	prog=$(in_b ip -j -d link show "$IF_B" | jq '.[0].xdp.prog.id // .[0].xdp.attached[0].prog.id')
	map=$(bpftool -j prog show id "$prog" | jq -r '.map_ids[]' | while read -r id; do
		bpftool -j map show id "$id" | jq -r 'select(.name == "ep_stats") | .id'
	done)
	[[ -n $map ]] && MAP="id $map" || return 1
	# ep_addrs by hand: B's IPv4 address, ::ffff:198.18.0.2, as a local one (flags 1).
	map=$(bpftool -j prog show id "$prog" | jq -r '.map_ids[]' | while read -r id; do
		bpftool -j map show id "$id" | jq -r 'select(.name == "ep_addrs") | .id'
	done)
	bpftool map update id "$map" key hex 00 00 00 00 00 00 00 00 00 00 ff ff c6 12 00 02 \
		value hex 01 00 00 00 00 00 00 00
}
detach_iproute2() { in_b ip link set dev "$IF_B" xdpdrv off; }

for method in libxdp bpftool iproute2; do
	MAP=
	if ! attach_$method; then
		not_ok "$method: load and attach"
		diag "$(cat "$EP_TMP"/*.err 2>/dev/null)"
		continue
	fi
	ok "$method: load and attach"

	in_b "$TOOLS/eptest-sink" --bind $ADDR_B --port 7878 --count 6 --timeout-ms 5000 \
		>"$EP_TMP/sink.out" 2>&1 &
	wait_for_line "$EP_TMP/sink.out" '^ready' 5
	in_a "$TOOLS/eptest-send" --to $ADDR_B --count 4 --corrupt >/dev/null
	in_a "$TOOLS/eptest-send" --to $ADDR_B --count 5 >/dev/null
	in_a "$TOOLS/eptest-send" --to $ADDR_B --size $((20 << 20)) --frags 1 >/dev/null
	wait $!
	expect_eq "$method: with no socket, valid tasks (and fragment 0 of a 20 MiB one) reach the kernel" \
		"$(tail -1 "$EP_TMP/sink.out")" "received 6 valid 6"
	check "$method: ping passes" quiet in_a ping -c 2 -i 0.2 -W 2 $ADDR_B

	expect_eq "$method: bpftool reads drop_bad_magic" \
		"$(bpftool_stat_packets "$MAP" "$IDX_BAD_MAGIC")" 4
	expect_eq "$method: bpftool reads pass_no_socket" \
		"$(bpftool_stat_packets "$MAP" "$IDX_NO_SOCKET")" 6
	n=$(bpftool_stat_packets "$MAP" "$IDX_NOT_UDP")
	check "$method: bpftool reads pass_not_udp ($n)" test "$n" -ge 2

	check "$method: detach" detach_$method
	check "$method: nothing left attached" \
		no_xdp "$NS_B" "$IF_B"
done
# edgeplane-xdp detach takes the classifier off however it was loaded (ep_xdp.h:
# ep_xdp_detach_ifname()): here one that ip attached, with no dispatcher and no pins.
if attach_iproute2 >/dev/null; then
	check "edgeplane-xdp detach takes off a classifier that ip attached" \
		quiet in_b "$BIN/edgeplane-xdp" detach "$IF_B"
	check "and nothing is left attached" no_xdp "$NS_B" "$IF_B"
else
	not_ok "ip attaches the classifier again"
	diag "$(cat "$EP_TMP/ip.err" 2>/dev/null)"
fi
# Native mode with a fallback: auto falls back to
# generic (skb) mode, and forcing native fails with a message. (A bridge device has no
# native XDP.)
IF_D=epd$EP_SUFFIX
if in_b ip link add "$IF_D" type bridge && in_b ip link set "$IF_D" up; then
	out=$(in_b "$BIN/edgeplane-xdp" attach "$IF_D" 2>&1)
	if [[ $out == *"skb mode"* ]]; then ok "auto mode falls back to generic on a driver without native XDP"
	else not_ok "auto mode falls back to generic on a driver without native XDP"; diag "$out"; fi
	check "detach the generic-mode program" quiet in_b "$BIN/edgeplane-xdp" detach "$IF_D"
	out=$(in_b "$BIN/edgeplane-xdp" attach "$IF_D" --mode native 2>&1)
	rc=$?
	if [[ $rc -ne 0 && $out == *"attach to $IF_D"* ]]; then ok "forced native mode fails clearly"
	else not_ok "forced native mode fails clearly"; diag "rc=$rc $out"; fi
else
	skip "native-to-generic fallback" "cannot create a bridge device here"
fi
out=$(in_b "$BIN/edgeplane-xdp" attach "$IF_B" --mode skb 2>&1)
if [[ $out == *"skb mode"* ]]; then ok "generic mode on request"; else not_ok "generic mode on request"; diag "$out"; fi
in_a "$TOOLS/eptest-send" --to $ADDR_B --count 3 --corrupt >/dev/null
expect_eq "generic mode drops and counts" \
	"$(stat_packets "$(in_b "$BIN/edgeplane-xdp" stats --dev "$IF_B" --json)" drop_bad_magic)" 3
check "detach the generic-mode program from the veth" quiet in_b "$BIN/edgeplane-xdp" detach "$IF_B"

# Bad input to the tool gets a message naming the problem and exit status 2.
out=$("$BIN/edgeplane-xdp" attach "$IF_B" --mode warp 2>&1); rc=$?
expect_eq "a bad --mode is refused with status 2" "$rc:$(grep -c "warp" <<<"$out")" "2:1"
out=$("$BIN/edgeplane-xdp" config --dev "$IF_B" --prio-slot 9=1 2>&1); rc=$?
expect_eq "a bad --prio-slot is refused with status 2" "$rc:$(grep -c "priority" <<<"$out")" "2:1"
out=$(in_b "$BIN/edgeplane-xdp" stats --dev nosuchdev 2>&1); rc=$?
expect_eq "stats of an interface without the classifier fails with status 1" \
	"$rc:$(grep -c "is the classifier attached" <<<"$out")" "1:1"
tap_done
