#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Reassembly against a hostile client (issue 11), on the runtime behind AF_XDP on a veth
# pair: first fragments of huge declared tasks, from six addresses of one /24 and from
# other prefixes, do not lock the reassembly memory (bytes are charged as they arrive,
# sources are grouped by prefix, the least complete tasks are evicted under pressure), so a
# real multi-fragment task from another source still completes and the runtime's memory
# follows what arrived; and a CANCEL of a task still being reassembled is answered
# CANCELLED at once, after which neither its late fragments nor a retry run it.
source "$(dirname "$0")/../lib/lib.sh"
need_root "AF_XDP runtime on veth"

PLUGIN=$(ep_plugin libepcount.so) || { echo "Bail out! cannot install the test plugin"; exit 1; }
ep_setup_or_bail
in_a ethtool -K "$IF_A" tx off >/dev/null
on_exit ep_stop_runtime

# Attackers: six addresses in 198.18.7.0/24, one each in three other /24s.
ONE_24=198.18.7.1,198.18.7.2,198.18.7.3,198.18.7.4,198.18.7.5,198.18.7.6
OTHERS=198.18.8.1,198.18.9.1,198.18.10.1
for a in ${ONE_24//,/ } ${OTHERS//,/ }; do
	in_a ip addr add "$a/32" dev "$IF_A"
done

# Default memory limits; fewer task slots, so that the flood also fills them.
cat >"$EP_TMP/rt.conf" <<CONF
interface = "$IF_B";
queues = [0];
reassembly: { max_tasks = 48; per_source_tasks = 16; };
$EP_SIGNING
handlers = ( { name = "echo"; }, { plugin = "$PLUGIN"; name = "count"; type = 900; } );
$EP_AUTH_OFF
CONF
ep_runtime_or_bail "the runtime starts" "$EP_TMP/rt.log" -c "$EP_TMP/rt.conf"
stats() { "$BIN/edgeplane" stats --socket "$EP_TMP/stats.sock" --json; }
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$RT_PID/status"; }

# CANCEL while reassembling: half of a 20 KB task of the count plugin, CANCEL, the rest,
# then a whole retry.
out=$(in_a "$TOOLS/eptest-attack" cancel --to $ADDR_B --size 20000 --type 900 --id 99)
diag "cancel: $out"
expect_eq "a CANCEL of a task being reassembled is answered ERROR CANCELLED at once" \
	"$(jq -r '"\(.answer.errors > 0) \(.answer.status)"' <<<"$out")" "true 11"
expect_eq "its late fragments and a retry get no result" "$(jq .late.responses <<<"$out")" 0
check "its late fragments and a retry get CANCELLED (status $(jq .late.status <<<"$out"))" \
	test "$(jq .late.status <<<"$out")" -eq 11
st=$(stats)
expect_eq "the cancelled task never ran" \
	"$(jq '[.types[] | select(.handler == "count")][0].completed' <<<"$st")" 0

rss0=$(rss_kib)
out=$(in_a "$TOOLS/eptest-attack" first-frags --to $ADDR_B --from "$ONE_24" --count 6 \
	--total 16777216 --id 1000000)
diag "one /24: $out"
# The runtime reads the burst after the tool has sent it: wait (2 s at most) until it has
# started more tasks than the /24's 16 slots (the check below says if it never does).
for _ in $(seq 20); do
	st=$(stats)
	[[ $(jq '.workers[0].reassembly.started - 1' <<<"$st") -gt 16 ]] && break
	sleep 0.1
done
diag "reassembly: $(jq -c '.workers[0].reassembly' <<<"$st")"
# (Started counts the cancelled task too; under load a datagram may be lost on the way.)
check "the six addresses of one /24 share its 16 task slots ($(jq '.workers[0].reassembly.tasks' <<<"$st") held, $(jq '.workers[0].reassembly.evicted' <<<"$st") evicted of $(jq '.workers[0].reassembly.started - 1' <<<"$st"))" \
	test "$(jq '.workers[0].reassembly.tasks' <<<"$st")" -le 16 -a \
	"$(jq '.workers[0].reassembly.started - 1' <<<"$st")" -gt 16 -a \
	"$(jq '.workers[0].reassembly.evicted // 0' <<<"$st")" -ge 1
# Then 16 MiB, 1 MiB and 32 KiB tasks from three other prefixes: 66 more, beyond the 48
# task slots and, as charged before, beyond the 256 MiB of memory.
out=$(in_a "$TOOLS/eptest-attack" first-frags --to $ADDR_B --from "$OTHERS" --count 6 \
	--total 16777216 --id 9000000)
diag "other prefixes: $out"
out=$(in_a "$TOOLS/eptest-attack" first-frags --to $ADDR_B --from "$OTHERS" --count 8 \
	--total 1048576 --id 20000000)
diag "other prefixes, 1 MiB: $out"
out=$(in_a "$TOOLS/eptest-attack" first-frags --to $ADDR_B --from "$OTHERS" --count 8 \
	--total 32768 --id 30000000)
diag "other prefixes, 32 KiB: $out"
sleep 0.2
st=$(stats)
rss1=$(rss_kib)
diag "reassembly after the flood: $(jq -c '.workers[0].reassembly' <<<"$st")"
check "102 first fragments of 16 MiB to 32 KiB tasks hold $(jq '.workers[0].reassembly.bytes' <<<"$st") bytes of reassembly memory (< 4 MiB)" \
	test "$(jq '.workers[0].reassembly.bytes' <<<"$st")" -lt 4194304
check "the runtime's resident memory grew by $((rss1 - rss0)) KiB (< 32 MiB) for 1.1 GiB declared" \
	test $((rss1 - rss0)) -lt 32768

# A real task from another source, while the attackers' tasks hold every task slot.
out=$(in_a "$TOOLS/eptest-attack" task --to $ADDR_B --size 100000 --attempts 2 --id 77)
diag "real task: $out"
expect_eq "a real 100 KB task from another source completes intact" \
	"$(jq -r '"\(.complete) \(.intact)"' <<<"$out")" "true true"
st=$(stats)
diag "reassembly: $(jq -c '.workers[0].reassembly' <<<"$st")"
check "evictions were counted" test "$(jq '.workers[0].reassembly.evicted // 0' <<<"$st")" -ge 1

ep_stop_runtime
tap_done
