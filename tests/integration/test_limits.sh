#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The node's limits against a hostile client, and the client library's answers to them:
# the work cap (the issue's 609-byte matmul asking for 1.5 s of CPU), the priority ceiling
# (a claimed priority 5 sheds nothing), validation.mode "always", PLAIN_REPLY, reply_mtu,
# the limits in PONG, the secret file's checks, and the library's RETRY and CONFLICT
# handling against a fake node. eptest-limits does the talking.
source "$(dirname "$0")/../lib/lib.sh"
need_root "AF_XDP runtime on veth"

ep_setup_or_bail

limits() {	# NAME ARGS...: eptest-limits in the client namespace, its cases as ours
	local name=$1
	shift
	in_a "$TOOLS/eptest-limits" "$@" >"$EP_TMP/$name.out" 2>&1
	tap_from "$EP_TMP/$name.out" ""
}
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

on_exit ep_stop_runtime
HANDLERS='handlers = ( { name = "echo"; }, { name = "matmul"; } );'

# 1. Defaults, but a queue of 4 tasks (the priority check fills it).
cat >"$EP_TMP/rt.conf" <<CONF
interface = "$IF_B";
limits: { queue_depth = 4; };
batch: { size = 4; };
$HANDLERS
$EP_AUTH_OFF
CONF
ep_runtime_or_bail "the runtime starts" "$EP_TMP/rt.log" -c "$EP_TMP/rt.conf"
before=$(cpu_ticks "$RT_PID")
limits work work --to $ADDR_B
spent=$(($(cpu_ticks "$RT_PID") - before))
check "work cap: the runtime spent $((spent * 10)) ms of CPU on the two tasks (< 300)" \
	test "$spent" -lt 30
# What a source that has not validated its address can have done: one RETRY for a retry
# burst, nothing inflated for it (50 zstd frames of 16 MiB of zeros: before, about 9 ms of
# CPU each), no cached result inflated for it.
before=$(cpu_ticks "$RT_PID")
limits unvalidated unvalidated --to $ADDR_B
spent=$(($(cpu_ticks "$RT_PID") - before))
check "unvalidated: the runtime spent $((spent * 10)) ms of CPU on them (< 200)" \
	test "$spent" -lt 20
limits priority priority --to $ADDR_B
limits plain plain --to $ADDR_B
limits mtu mtu --to $ADDR_B
limits mtu6 mtu --to $ADDR6_B
limits pong pong --to $ADDR_B --expect-max-priority 3 --expect-max-work 4000000000
out=$(in_a "$BIN/edgeload" limits --to $ADDR_B --json 2>&1)
expect_eq "edgeload limits: the node's limits (max_priority, amp_factor, max_work)" \
	"$(jq -r '"\(.max_priority) \(.amp_factor) \(.max_work) \(.tokens)"' <<<"$out" 2>/dev/null)" \
	"3 3 4000000000 true"
if in_a "$BIN/edgeload" limits --to $ADDR6_B >"$EP_TMP/limits.txt" 2>&1 &&
	grep -q "largest work *4000000000 units" "$EP_TMP/limits.txt"; then
	ok "edgeload limits: as text, over IPv6"
else
	not_ok "edgeload limits: as text, over IPv6"
	diag "$(cat "$EP_TMP/limits.txt")"
fi
out=$(in_a "$BIN/edgeload" run --to $ADDR_B --type matmul --n 300 --k 300 --m 300 \
	--plain-reply --reply-mtu 576 --json 2>&1 >/dev/null; echo "rc=$?")
expect_eq "edgeload run --plain-reply --reply-mtu 576: a 360 KB result in 576-byte fragments" \
	"${out##*rc=}" 0
stats=$("$BIN/edgeplane" stats --socket "$EP_TMP/stats.sock" --json)
check "statistics: RETRYs sent and tokens accepted are counted" \
	test "$(jq '.workers[0].retries_sent' <<<"$stats")" -ge 1 -a \
	"$(jq '.workers[0].tokens_accepted' <<<"$stats")" -ge 1
check "statistics: the priority above the ceiling was counted" \
	test "$(jq '.workers[0].priority_lowered' <<<"$stats")" -ge 1
ep_stop_runtime

# 2. validation.mode = "always", and limits.max_priority raised (the rig's devices are
#    trusted until device authentication, issue 12).
cat >"$EP_TMP/always.conf" <<CONF
interface = "$IF_B";
validation: { mode = "always"; };
limits: { max_priority = 5; max_work = 123456789; };
$HANDLERS
$EP_AUTH_OFF
CONF
if ep_start_runtime "$EP_TMP/always.log" -c "$EP_TMP/always.conf"; then
	ok "the runtime starts with validation.mode = \"always\""
	limits always always --to $ADDR_B
	limits pong5 pong --to $ADDR6_B --expect-max-priority 5 --expect-max-work 123456789
else
	not_ok "the runtime starts with validation.mode = \"always\""
	diag "$(tail -5 "$EP_TMP/always.log")"
fi
ep_stop_runtime

# 3. The secret file: shared by nodes behind one gateway, readable by its owner only.
head -c 32 /dev/urandom >"$EP_TMP/token.key"
chmod 600 "$EP_TMP/token.key"
cat >"$EP_TMP/secret.conf" <<CONF
interface = "$IF_B";
validation: { secret_file = "$EP_TMP/token.key"; token_period_s = 60; };
$EP_AUTH_OFF
CONF
check "validation.secret_file: a 0600 file of 32 bytes is accepted" \
	quiet "$BIN/edgeplane" -c "$EP_TMP/secret.conf" --check-config
chmod 640 "$EP_TMP/token.key"
expect_check_config "validation.secret_file: a group-readable file is refused, saying why" \
	"$EP_TMP/secret.conf" 2 'mode 0640 lets the group or others use it'
chmod 600 "$EP_TMP/token.key"
head -c 20 /dev/urandom >"$EP_TMP/token.key"
expect_check_config "validation.secret_file: 20 bytes are refused" \
	"$EP_TMP/secret.conf" 2 'must hold 32 bytes'
printf 'validation: { mode = "off"; };\n' >"$EP_TMP/badmode.conf"
expect_check_config "validation.mode: only amplification, always or off-unsafe (\"off\" is refused)" \
	"$EP_TMP/badmode.conf" 2 'off-unsafe'

# 4. The library against a fake node (loopback, in the client namespace).
limits client client

tap_done
