#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Device authentication in the runtime (docs/protocol.md 3.5), on a veth pair: the runtime
# reads its session keys from a keys file made here, at test time, and eptest-auth plays
# the devices.
#   1. Settings: mode "required" (the default) without keys refuses to start, naming the
#      settings; a keys file others may read is refused.
#   2. On every backend this host runs (afxdp, udp, uring, dpdk): an authenticated echo, a
#      multi-fragment echo and checksum both ways, and a PING, answered with sealed
#      replies that open with the device's key and carry the right results.
#   3. On afxdp, udp and dpdk, each attack fails with no reply at all, nothing run (the
#      count handler's counters stay), and its own counter moved: forged tag, a flipped
#      ciphertext bit, a replayed datagram (again, and from another address), a task type
#      the role does not allow, a priority above the role's, a task larger than the
#      role's, an unknown key, an expired key, a key revoked in the file while the runtime
#      runs, another tenant, a stale pn, a task without AUTH. Where the backend has XDP,
#      what a key decides is dropped there (drop_auth_*) and no worker sees it. A flood of
#      forged tags under a key with a rate costs at most its bucket's worth of tag checks.
#   3b. With the classifier kept attached, a restarted runtime keeps the keys its table
#      holds in the pinned ep_keys, their buckets too, and removes the others.
#   4. The result cache (mode "optional"): a retry with the same key is answered from the
#      cache, sealed; the same task id under another key, or without AUTH, is another task
#      (never the first one's cached reply), and the other way round.
#   5. Mode "off": AUTH datagrams are answered UNSUPPORTED, in clear, as before.
#   6. Load reports are sealed with the node's own key (auth.report_key_id) as the node.
source "$(dirname "$0")/../lib/lib.sh"
need_root "device authentication on veth"

BACKENDS=${EP_BACKENDS:-afxdp udp uring dpdk}
PLUGIN=$(ep_plugin libepcount.so) || { echo "Bail out! cannot install the test plugin"; exit 1; }
COUNT=200			# the count handler's type (a role allows types 0..255)
NODE=4242			# auth.node_id: the sender of the node's sealed replies
ADDR_A2=198.18.0.5		# a second address of the devices' side, for replays
KEYS=$EP_TMP/keys.json		# the node's keys
ROGUE=$EP_TMP/rogue.json	# a key the node does not know

if ! ep_setup_bpffs || ! ep_setup_pair || ! in_a ip addr add $ADDR_A2/24 dev "$IF_A"; then
	not_ok "set up namespaces, veth, bpffs and a second address"
	tap_done
	exit 1
fi

# The devices: key 1 the camera (echo, checksum, count; priorities up to 3), key 2 another
# camera of the tenant, key 3 expired, key 4 to be revoked, key 5 with tasks up to 4 KiB,
# key 6 the node's own (its load reports), key 7 a camera of 10 tasks/s (a burst of 20),
# key 8 one of 1 task/s (a burst of 5).
now=$(date +%s%3N)
ep_keys_file "$KEYS" "$(ep_key 1 types="[1,2,$COUNT]")" "$(ep_key 2 types="[1,2,$COUNT]")" \
	"$(ep_key 3 issued_unix_ms=$((now - 7200000)) expires_unix_ms=$((now - 3600000)))" \
	"$(ep_key 4 types="[$COUNT]")" \
	"$(ep_key 5 types="[$COUNT]" max_task_len=4096)" "$(ep_key 6 role='"node"' types='[]')" \
	"$(ep_key 7 types="[$COUNT]" tasks_per_s=10 burst_tasks=20)" \
	"$(ep_key 8 types="[$COUNT]" tasks_per_s=1 burst_tasks=5)"
ep_keys_file "$ROGUE" "$(ep_key 99)"

# conf MODE: the runtime's configuration.
conf() {
	cat <<CONF
interface = "$IF_B";
queues = [0];
limits: { max_task_len = 8388608; max_result_len = 8388608; };
replies: { zstd_level = 0; };
handlers = ( { name = "echo"; }, { name = "checksum"; },
	     { plugin = "$PLUGIN"; name = "count"; type = $COUNT; } );
auth: { mode = "$1"; keys_file = "$KEYS"; node_id = $NODE; };
$EP_SIGNING
CONF
}
conf required >"$EP_TMP/rt.conf"
conf optional >"$EP_TMP/optional.conf"
conf off >"$EP_TMP/off.conf"

RT_PID=
on_exit ep_stop_runtime
stats() { "$BIN/edgeplane" stats --socket "$EP_TMP/stats.sock" --json; }
# dropped REASON: datagrams the runtime dropped for REASON, all workers.
dropped() { stats | jq --arg r "$1" '[.workers[].auth.dropped[$r] // 0] | add'; }
auth_ok() { stats | jq '[.workers[].auth.ok] | add'; }
# ran: tasks of the count handler received (run or refused).
ran() { stats | jq --argjson t $COUNT '[.types[] | select(.type == $t) | .received] | add'; }
# dev KEY-ID [eptest-auth send options]: a device with key KEY-ID (its counter kept).
dev() {
	local k=$1
	shift
	in_a "$TOOLS/eptest-auth" send --to $ADDR_B --keys "$KEYS" --key-id "$k" \
		--node-id $NODE --ctr-file "$EP_TMP/ctr.$k" "$@"
}
field() { jq -r ".$1" <<<"$2"; }

# --- 1. settings ------------------------------------------------------------------------
out=$("$BIN/edgeplane" -i "$IF_B" --check-config 2>&1); rc=$?
expect_eq "mode required without keys is refused (status 2), naming the settings to set" \
	"$rc:$(grep -c 'auth.controller.*auth.keys_file.*auth.mode = "off"' <<<"$out")" "2:1"
cp "$KEYS" "$EP_TMP/open.json" && chmod 644 "$EP_TMP/open.json"
out=$("$BIN/edgeplane" -i "$IF_B" --auth-keys "$EP_TMP/open.json" --auth-node-id 1 \
	--check-config 2>&1); rc=$?
expect_eq "a keys file others may read is refused (status 2, says why)" \
	"$rc:$(grep -c 'mode 0644 lets the group or others use it' <<<"$out")" "2:1"
check "the test configuration is valid" quiet "$BIN/edgeplane" -c "$EP_TMP/rt.conf" --check-config

# --- 2. every backend -----------------------------------------------------------------
# sealed_ok WHAT JSON TASKS: every reply sealed by the node with the key and opened, no
# clear one, TASKS results right.
sealed_ok() {
	local r=$2
	if [[ $(field results_ok "$r") == "$3" && $(field results_bad "$r") == 0 &&
		$(field lost "$r") == 0 && $(field plain "$r") == 0 && $(field bad "$r") == 0 &&
		$(field sealed "$r") == "$(field opened "$r")" && $(field opened "$r") -gt 0 ]]; then
		ok "$1"
	else
		not_ok "$1"
		diag "$r"
	fi
}

backend() {
	local b=$1 r
	if ! ep_start_runtime "$EP_TMP/rt-$b.log" -c "$EP_TMP/rt.conf" -b "$b" -i "$IF_B"; then
		ep_start_failed "$b" "$EP_TMP/rt-$b.log" "$b: the runtime starts with keys" \
			"$b: authenticated tasks"
		return
	fi
	r=$(dev 1 --type 1 --size 64)
	sealed_ok "$b: an authenticated echo of 64 bytes: sealed reply, opens, the payload" "$r" 1
	r=$(dev 1 --type 1 --size 100000)
	sealed_ok "$b: echo of 100000 bytes (72 fragments each way), every reply fragment sealed" "$r" 1
	r=$(in_a "$TOOLS/eptest-auth" send --to $ADDR6_B --keys "$KEYS" --key-id 2 \
		--node-id $NODE --ctr-file "$EP_TMP/ctr.2" --type 2 --size 300000)
	sealed_ok "$b: checksum of 300000 bytes over IPv6: the CRC-32 and XXH3, sealed" "$r" 1
	r=$(dev 1 --kind ping)
	expect_eq "$b: an authenticated PING gets a sealed PONG" \
		"$(field pongs "$r"):$(field opened "$r"):$(field plain "$r")" "1:1:0"
	check "$b: the runtime counted the datagrams that verified (1 + 72 + 218 + 1)" \
		test "$(auth_ok)" -ge 292
	ep_stop_runtime
}
for b in $BACKENDS; do
	backend "$b"
done

# --- 3. attacks -------------------------------------------------------------------------
# The runtime's auth.mode and keys are its classifier's too (afxdp; dpdk, through the
# PMD's program): what a key and its role decide (no AUTH in mode required, a key unknown,
# expired or revoked, another tenant, a type, priority or size over the role's) is dropped
# in XDP, counted drop_auth_REASON, and no worker sees the datagram; what only the runtime
# can check (the tag, the replay window, the pn's freshness) it drops itself. On the udp
# backend (no XDP) the workers drop all of it themselves, and charge the keys' buckets
# before the tag: a flood of forged tags under a good key id costs at most the bucket's
# worth of tag checks, everywhere.
XDP_REASONS=" missing unknown_key revoked expired tenant type priority too_large "
# classifier REASON: datagrams the classifier dropped for drop_auth_REASON.
classifier() { stats | jq --arg r "drop_auth_$1" '.classifier[$r] // 0'; }
dgrams() { stats | jq '[.workers[].datagrams] | add'; }
# attack WHAT REASON MIN RESULT-JSON-COMMAND...: the command (a device) gets no reply, the
# count handler receives nothing, and REASON counted at least MIN datagrams more: by the
# classifier, no worker seeing any, if REASON is one XDP decides and $B has XDP; else by
# the workers.
attack() {
	local what=$1 reason=$2 min=$3 before ran0 d0 r got dg where=workers
	shift 3
	[[ $B != udp && $XDP_REASONS == *" $reason "* ]] && where=XDP
	if [[ $where == XDP ]]; then before=$(classifier "$reason"); else before=$(dropped "$reason"); fi
	ran0=$(ran) d0=$(dgrams)
	r=$("$@")
	if [[ $where == XDP ]]; then got=$(($(classifier "$reason") - before)); else got=$(($(dropped "$reason") - before)); fi
	dg=$(($(dgrams) - d0))
	if [[ $(field replies "$r") == 0 && $(ran) == "$ran0" && $got -ge $min &&
		($where == workers || $dg == 0) ]]; then
		ok "$B: $what: no reply, nothing run, dropped by the $where ($reason +$got)"
	else
		not_ok "$B: $what: no reply, nothing run, dropped by the $where ($reason)"
		diag "$r; $reason +$got by the $where; the workers saw $dg datagrams;" \
			"count handler received $ran0 -> $(ran)"
	fi
}
# flood: key 7 (10 tasks/s, a burst of 20) gets 400 forged datagrams at once. The tags
# checked (bad_tag) are at most the bucket's worth; the rest is refused by the key's rate
# (by the workers on udp, by XDP before them elsewhere), and the device's own tasks pass
# again once the bucket refilled.
flood() {
	local bad0 rate0 xrate0 t0 bad rate ms most r
	bad0=$(dropped bad_tag) rate0=$(dropped rate_tasks) xrate0=$(classifier rate_tasks)
	t0=$(date +%s%3N)
	r=$(dev 7 --type $COUNT --tamper tag --count 400 --wait-ms 0)
	sleep 0.3
	ms=$(($(date +%s%3N) - t0))
	bad=$(($(dropped bad_tag) - bad0))
	rate=$(($(dropped rate_tasks) - rate0 + $(classifier rate_tasks) - xrate0))
	most=$((20 + 10 * ms / 1000 + 1))
	if [[ $(field sent "$r") == 400 && $bad -le $most && $((bad + rate)) -ge 395 ]]; then
		ok "$B: 400 forged tags under key 7 (10/s, burst 20) in ${ms} ms: $bad tag checks (at most $most), $rate refused by the key's rate first"
	else
		not_ok "$B: 400 forged tags under key 7: at most the bucket's worth of tag checks"
		diag "$r; bad_tag +$bad (at most $most), rate_tasks +$rate in $ms ms"
	fi
	sleep 2.1	# the bucket refills: 20 tasks at 10/s
	r=$(dev 7 --type $COUNT)
	sealed_ok "$B: key 7's own task passes once its bucket refilled" "$r" 1
}

attacks() {
	B=$1
	cp -p "$EP_TMP/keys.orig" "$KEYS"	# key 4 not revoked yet
	if ! ep_start_runtime "$EP_TMP/rt-attacks-$B.log" -c "$EP_TMP/rt.conf" -b "$B" -i "$IF_B"; then
		ep_start_failed "$B" "$EP_TMP/rt-attacks-$B.log" \
			"$B: the runtime starts for the attacks" "$B: attacks"
		return
	fi
	r=$(dev 1 --type $COUNT --size 100)
	sealed_ok "$B: the count handler runs an authenticated task" "$r" 1
	attack "a forged tag" bad_tag 1 dev 1 --type $COUNT --tamper tag --wait-ms 300
	attack "one flipped bit of ciphertext" bad_tag 1 dev 1 --type $COUNT --tamper ciphertext \
		--wait-ms 300
	r=$(dev 1 --type $COUNT --size 100 --sport 41000 --save "$EP_TMP/replay.bin")
	sealed_ok "$B: a task whose datagram will be replayed runs once" "$r" 1
	attack "the same datagram again, from the same address and port" replay 1 \
		in_a "$TOOLS/eptest-auth" replay --to $ADDR_B --in "$EP_TMP/replay.bin" --sport 41000 \
		--wait-ms 300
	attack "the same datagram from another address" replay 1 \
		in_a "$TOOLS/eptest-auth" replay --to $ADDR_B --in "$EP_TMP/replay.bin" --bind $ADDR_A2 \
		--wait-ms 300
	attack "a task type the role does not allow (resize)" type 1 dev 4 --type 10 --wait-ms 300
	attack "priority 5 above the role's 3" priority 1 dev 1 --type $COUNT --priority 5 --wait-ms 300
	# Every kind is steered by its priority: a PING above the role's ceiling is dropped
	# like a task, by the workers as by XDP (the workers lowered it and answered).
	attack "a PING at priority 5 above the role's 3" priority 1 \
		dev 1 --kind ping --priority 5 --wait-ms 300
	attack "a task of 5000 bytes above the role's 4096" too_large 1 \
		dev 5 --type $COUNT --size 5000 --wait-ms 300
	attack "a key the node does not know" unknown_key 1 \
		in_a "$TOOLS/eptest-auth" send --to $ADDR_B --keys "$ROGUE" --key-id 99 --node-id $NODE \
		--type $COUNT --wait-ms 300
	attack "an expired key" expired 1 dev 3 --type $COUNT --wait-ms 300
	r=$(dev 4 --type $COUNT)
	sealed_ok "$B: key 4 works before its revocation" "$r" 1
	ep_keys_edit "$KEYS" '(.[] | select(.key_id == 4) | .revoked) = true'
	sleep 1.5	# the file is looked at every second
	attack "key 4 revoked in the keys file, read again within a second" revoked 1 \
		dev 4 --type $COUNT --wait-ms 300
	attack "another tenant's id with the key" tenant 1 dev 1 --type $COUNT --tenant 8 --wait-ms 300
	attack "a pn 600 s ahead of the key's age (stale)" stale 1 \
		dev 1 --type $COUNT --secs-off 600 --wait-ms 300
	attack "a task without AUTH (mode required)" missing 1 dev 1 --type $COUNT --plain --wait-ms 300
	attack "a PING without AUTH (mode required)" missing 1 dev 1 --kind ping --plain --wait-ms 300
	flood
	r=$(dev 1 --type $COUNT)
	sealed_ok "$B: after all that, key 1 still works" "$r" 1
	ep_stop_runtime
}
cp -p "$KEYS" "$EP_TMP/keys.orig"
for b in ${EP_ATTACK_BACKENDS:-afxdp udp dpdk}; do
	attacks "$b"
done
cp -p "$EP_TMP/keys.orig" "$KEYS"

# --- 3b. a restart with the classifier kept attached ---------------------------------------
# Its pinned ep_keys outlive the runtime: the next one keeps what its table holds (with
# the buckets: a flood just before a restart gets no fresh burst) and removes the rest (a
# key written there by hand).
B=afxdp
{ cat "$EP_TMP/rt.conf"; echo 'xdp: { keep_attached = true; };'; } >"$EP_TMP/keep.conf"
xkeys() { in_b "$BIN/edgeplane-xdp" keys list --dev "$IF_B" --json | jq -c '[.[].key_id] | sort'; }
if ep_start_runtime "$EP_TMP/keep.log" -c "$EP_TMP/keep.conf" -b afxdp -i "$IF_B"; then
	in_b "$BIN/edgeplane-xdp" keys add 500 tenant=7 --dev "$IF_B" >/dev/null
	r=$(dev 8 --type $COUNT --tamper tag --count 20 --wait-ms 0)	# key 8's burst, spent
	ep_stop_runtime
	if ep_start_runtime "$EP_TMP/keep.log" -c "$EP_TMP/keep.conf" -b afxdp -i "$IF_B"; then
		x0=$(classifier rate_tasks)
		r=$(dev 8 --type $COUNT --wait-ms 300)
		expect_eq "restarted with the classifier kept: its keys are the table's (the hand-written 500 gone), and key 8's bucket, spent before the restart, is still empty (drop_auth_rate_tasks)" \
			"$(xkeys) $(field replies "$r") $(($(classifier rate_tasks) - x0))" \
			"[1,2,3,4,5,6,7,8] 0 1"
		ep_stop_runtime
	else
		not_ok "the runtime starts again on the classifier it left attached"
		diag "$(tail -5 "$EP_TMP/keep.log")"
	fi
else
	not_ok "the runtime starts with xdp.keep_attached"
	diag "$(tail -5 "$EP_TMP/keep.log")"
fi
in_b "$BIN/edgeplane-xdp" detach "$IF_B" >/dev/null 2>&1

# The counters in /metrics too (the statistics socket above is the same numbers).
METRICS_PORT=9187
if ep_start_runtime "$EP_TMP/rt.log" -c "$EP_TMP/rt.conf" -b afxdp -i "$IF_B" \
	--metrics $ADDR_B:$METRICS_PORT; then
	dev 1 --type $COUNT --tamper tag --wait-ms 100 >/dev/null
	m=$(ip netns exec "$NS_A" timeout 10 bash -c '
		exec 3<>"/dev/tcp/$0/$1" || exit 1
		printf "GET /metrics HTTP/1.0\r\nHost: %s:%s\r\n\r\n" "$0" "$1" >&3
		cat <&3' $ADDR_B $METRICS_PORT | tr -d '\r')
	check "metrics: edgeplane_auth_dropped_total{reason=\"bad_tag\"} counts the forgery" \
		grep -qE '^edgeplane_auth_dropped_total\{queue="0",reason="bad_tag"\} 1$' <<<"$m"
	check "metrics: edgeplane_auth_keys says the node knows 8 keys" \
		grep -qE '^edgeplane_auth_keys 8$' <<<"$m"
else
	not_ok "the runtime starts with metrics"
fi
ep_stop_runtime

# --- 4. the result cache, in mode optional ----------------------------------------------
if ep_start_runtime "$EP_TMP/opt.log" -c "$EP_TMP/optional.conf" -b afxdp -i "$IF_B"; then
	T=$((0x5eed0000 + RANDOM))
	ran0=$(ran)
	r=$(dev 1 --type $COUNT --task-id $T --sport 42000)
	sealed_ok "optional: task $T with key 1 runs" "$r" 1
	r=$(dev 1 --type $COUNT --task-id $T --sport 42000)
	sealed_ok "optional: its retry (same key, a new pn) is answered from the cache, sealed" "$r" 1
	expect_eq "optional: ... and does not run again" "$(ran)" "$((ran0 + 1))"
	r=$(dev 2 --type $COUNT --task-id $T --sport 42000)
	sealed_ok "optional: the same task id under key 2 (same address and port) is key 2's own task" \
		"$r" 1
	expect_eq "optional: ... which runs" "$(ran)" "$((ran0 + 2))"
	r=$(dev 1 --type $COUNT --task-id $T --sport 42000 --plain)
	expect_eq "optional: the same task id without AUTH runs as a task of its own, answered in clear" \
		"$(field responses "$r"):$(field plain "$r"):$(field sealed "$r"):$(ran)" \
		"1:1:0:$((ran0 + 3))"
	U=$((T + 1))
	r=$(dev 1 --type $COUNT --task-id $U --sport 42001 --plain)
	expect_eq "optional: a task without AUTH runs" "$(field responses "$r"):$(field plain "$r")" "1:1"
	r=$(dev 1 --type $COUNT --task-id $U --sport 42001)
	sealed_ok "optional: the same task id then with key 1 is not answered from its cache entry" \
		"$r" 1
	expect_eq "optional: ... but runs, for key 1" "$(ran)" "$((ran0 + 5))"
	ep_stop_runtime
else
	not_ok "the runtime starts in mode optional"
	diag "$(tail -20 "$EP_TMP/opt.log")"
fi

# --- 5. mode off ------------------------------------------------------------------------
if ep_start_runtime "$EP_TMP/off.log" -c "$EP_TMP/off.conf" -b afxdp -i "$IF_B"; then
	r=$(dev 1 --type $COUNT)
	expect_eq "off: an AUTH task is answered UNSUPPORTED, in clear" \
		"$(field errors "$r"):$(field status "$r"):$(field plain "$r")" "1:unsupported:1"
	ep_stop_runtime
else
	not_ok "the runtime starts in mode off"
	diag "$(tail -20 "$EP_TMP/off.log")"
fi

# --- 6. load reports --------------------------------------------------------------------
# As node 3 (a gateway's node id: the report's node_id is the sealing node's).
{
	conf required | sed "s/node_id = $NODE/report_key_id = 6; node_id = 3/"
	echo "report: { controller = \"$ADDR_A:7879\"; interval_ms = 100; };"
} >"$EP_TMP/report.conf"
sed 's/interval_ms = 100;/interval_ms = 100; node_id = 4;/' "$EP_TMP/report.conf" \
	>"$EP_TMP/report-bad.conf"
expect_check_config "sealed reports: a report.node_id other than auth.node_id is refused" \
	"$EP_TMP/report-bad.conf" 2 'report.node_id 4 is not auth.node_id 3'
in_a "$TOOLS/eptest-auth" reports --bind $ADDR_A --sport 7879 --keys "$KEYS" --key-id 6 \
	--node-id 3 --count 3 --wait-ms 5000 >"$EP_TMP/reports.json" &
REPORTS=$!
if ep_start_runtime "$EP_TMP/report.log" -c "$EP_TMP/report.conf" -b afxdp -i "$IF_B"; then
	wait $REPORTS
	expect_eq "load reports sealed with the node's key (auth.report_key_id), as node 3" \
		"$(jq -r '"\(.received) \(.sealed) \(.opened) \(.node_id)"' "$EP_TMP/reports.json")" \
		"3 3 3 3"
	ep_stop_runtime
else
	not_ok "the runtime starts with load reports"
	diag "$(tail -20 "$EP_TMP/report.log")"
fi
tap_done
