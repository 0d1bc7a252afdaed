#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# What is particular to the io_uring backend (tests/integration/test_backends.sh runs the
# checks every backend shares): bad uring.* settings refused; a burst far larger than the
# provided buffer ring (the multishot receive ends with ENOBUFS and is armed again, and
# nothing the kernel delivered is lost); replies from the address each request came to,
# with the socket bound to any address and two addresses on the interface (pktinfo);
# two workers sharing the port (SO_REUSEPORT); send_zc for payloads from uring.zc_min;
# SQPOLL on.
source "$(dirname "$0")/../lib/lib.sh"
need_root "io_uring runtime on veth"

IMAGES=$BUILD/data/images
PLUGIN=$(ep_plugin libepcount.so) || { echo "Bail out! cannot install the test plugin"; exit 1; }
# The blobs handler's reference frame, signed (tests/lib/lib.sh: ep_signed).
COINS=$(ep_signed "$IMAGES/coins.png") || { echo "Bail out! cannot sign coins.png"; exit 1; }
ADDR2=198.18.0.3 ADDR6_2=2001:db8::3

# Settings: each bad value is refused with status 2 and a message naming it.
bad_setting() {
	local what=$1 conf=$2 name=$3 out rc
	printf '%s\n' "$conf" "$EP_AUTH_OFF" >"$EP_TMP/bad.conf"
	out=$("$BIN/edgeplane" -b uring -c "$EP_TMP/bad.conf" --check-config 2>&1)
	rc=$?
	expect_eq "uring.$what is refused (status 2, names the setting)" \
		"$rc:$(grep -c "$name" <<<"$out")" "2:1"
	[[ $rc -eq 2 ]] || diag "$out"
}
bad_setting "buffers = 100 (not a power of two)" 'uring: { buffers = 100; };' buffers
bad_setting "buffers = 65536" 'uring: { buffers = 65536; };' buffers
bad_setting "entries = 4" 'uring: { entries = 4; };' entries
bad_setting "zc_min = -1" 'uring: { zc_min = -1; };' zc_min
bad_setting "sqpoll_cpu beyond the machine's CPUs" 'uring: { sqpoll_cpu = 4095; };' sqpoll_cpu
bad_setting "sqpoll = \"yes\" (not a boolean)" 'uring: { sqpoll = "yes"; };' sqpoll
bad_setting "an unknown key" 'uring: { sqpol = true; };' sqpol
out=$("$BIN/edgeplane" -b uring --check-config $EP_AUTH_OFF_ARG 2>&1)
expect_eq "the uring backend's defaults are valid" "$?:$out" "0:configuration is valid"

if ! ep_setup_pair || ! in_b ip addr add $ADDR2/24 dev "$IF_B" ||
	! in_b ip addr add $ADDR6_2/64 dev "$IF_B" nodad; then
	not_ok "set up namespaces, veth and second addresses"
	tap_done
	exit 1
fi

RT_PID=
# start_runtime CONF [OPTIONS...]
start_runtime() {
	local conf=$1
	shift
	printf '%s\n' "$conf" "$EP_AUTH_OFF" >"$EP_TMP/rt.conf"
	ep_start_runtime "$EP_TMP/rt.log" -b uring -c "$EP_TMP/rt.conf" "$@" && return 0
	diag "$(tail -20 "$EP_TMP/rt.log")"
	return 1
}
on_exit ep_stop_runtime
stats() { "$BIN/edgeplane" stats --socket "$EP_TMP/stats.sock" --json; }
# io FIELD: a backend counter summed over the workers.
io() { stats | jq "[.workers[].io.$1] | add"; }
burst() { in_a "$TOOLS/eptest-burst" "$@" --wait-ms 2000; }

# --- 1. 16 receive buffers, bursts of 3000 -------------------------------------------
if start_runtime 'uring: { buffers = 16; };'; then
	ok "uring with 16 receive buffers starts"
	# Linux 6.1+: a single-issuer ring the worker's thread enables (created in another).
	check "without SQPOLL the ring defers task work to the worker" \
		grep -q "deferred task work" "$EP_TMP/rt.log"
	out=$(burst --to $ADDR_B --count 3000)
	expect_eq "3000 PINGs at once into 16 buffers: every one answered" \
		"$(jq -r '"\(.replies) \(.duplicates)"' <<<"$out")" "3000 0"
	out=$(burst --to $ADDR6_B --count 3000 --flows 4)
	expect_eq "the same over IPv6, from 4 sockets" \
		"$(jq -r '"\(.replies) \(.duplicates)"' <<<"$out")" "3000 0"
	rx=$(io rx_packets) tx=$(io tx_packets) drops=$(io rx_dropped)
	nobuf=$(io rx_no_buf) rearms=$(io rx_rearms)
	diag "rx_packets $rx, tx_packets $tx, socket drops $drops, ENOBUFS $nobuf, re-armed $rearms"
	check "the buffer ring ran dry (ENOBUFS) and the receive was armed again each time" \
		test "$nobuf" -ge 1 -a "$rearms" -ge "$nobuf"
	expect_eq "nothing lost: received + dropped by the socket = sent, every one answered" \
		"$((rx + drops)) $tx" "6000 $rx"

	# pktinfo: the socket listens on every address; each reply leaves from the address
	# its request came to, not from the one the route would pick (the first).
	for a in $ADDR2 $ADDR6_2 $ADDR_B; do
		out=$(burst --to $a --count 200 --flows 2)
		expect_eq "replies to requests for $a come from $a (pktinfo)" \
			"$(jq -r '"\(.replies) \(.wrong_source)"' <<<"$out")" "200 0"
	done
	ep_stop_runtime
else
	not_ok "uring with 16 receive buffers starts"
fi

# --- 2. Two workers, SQPOLL, send_zc ---------------------------------------------------
cpu=$(($(nproc) - 1))
conf="uring: { sqpoll = true; sqpoll_cpu = $cpu; zc_min = 1024; };
limits: { max_task_len = 8388608; max_result_len = 8388608; queue_depth = 256; };
reassembly: { timeout_ms = 300; };
$EP_SIGNING
handlers = (
$(ep_builtin_handlers "$COINS")
	{ plugin = \"$PLUGIN\"; name = \"count\"; type = 900; }
);"
if start_runtime "$conf" -w 2; then
	ok "uring with 2 workers, SQPOLL on CPU $cpu and send_zc from 1024 bytes starts"
	check "each worker's ring has its SQPOLL thread" \
		test "$(cat /proc/"$RT_PID"/task/*/comm | grep -c '^iou-sqp')" -eq 2
	out=$(burst --to $ADDR_B --count 1000 --kind echo --size 1200 --flows 32)
	expect_eq "1000 echo tasks of 1200 bytes from 32 sockets: every one answered" \
		"$(jq -r '"\(.replies) \(.flows_answered)"' <<<"$out")" "1000 32"
	st=$(stats)
	expect_eq "both workers took a share of the flows (SO_REUSEPORT)" \
		"$(jq '[.workers[] | select(.io.rx_packets > 0)] | length' <<<"$st")" 2
	zc=$(jq '[.workers[].io.tx_zc] | add' <<<"$st")
	expect_eq "the 1000 replies above zc_min went out with send_zc" "$zc" 1000
	diag "of them copied by the kernel after all: $(jq '[.workers[].io.tx_zc_copied] | add' <<<"$st")"
	out=$(burst --to $ADDR_B --count 1000 --flows 8)
	expect_eq "PINGs are answered too, their small replies without send_zc" \
		"$(jq -r .replies <<<"$out") $(io tx_zc)" "1000 1000"

	# The whole end-to-end suite over this configuration: large results leave in 1472-byte
	# fragments, all with send_zc.
	in_a "$TOOLS/eptest-e2e" --to $ADDR6_B --images "$IMAGES" >"$EP_TMP/e2e.out" 2>&1
	expect_eq "eptest-e2e over IPv6 passes with SQPOLL and send_zc" \
		"$(grep -c '^not ok' "$EP_TMP/e2e.out"):$(grep -c '^1\.\.' "$EP_TMP/e2e.out")" "0:1"
	grep '^not ok' "$EP_TMP/e2e.out" | while read -r l; do diag "$l"; done
	check "send_zc carried the fragments of large results" test "$(io tx_zc)" -gt 1100
	expect_eq "no reply was refused or found no buffer" \
		"$(stats | jq '[.workers[] | .io.tx_full + .reply_dropped] | add')" 0
	kill -TERM "$RT_PID"
	wait "$RT_PID"
	expect_eq "it drains and exits 0" "$?" 0
	RT_PID=
else
	not_ok "uring with 2 workers, SQPOLL on CPU $cpu and send_zc from 1024 bytes starts"
fi
tap_done
