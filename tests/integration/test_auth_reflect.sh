#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Reflection with a session key (docs/protocol.md 3.5, 3.7, 7.4): a key is bound to the
# address its device enrolled from, and only there are the replies to its sealed tasks
# unlimited; from any other address (a forged source) they stay within 3 times what came,
# as for any source that has not validated its address. eptest-auth plays the device and
# measures UDP payload bytes sent and received at the address the replies go to.
#   1. The controller (edgectl serve) in $NS_A, the runtime in $NS_B syncing its keys.
#      cam-001 enrolls from $ADDR_A, and its key says so ("addr"). A sealed echo of 60000
#      zero bytes, sent zstd-compressed with PLAIN_REPLY (about 100 bytes that ask for
#      60 KB back): from $ADDR_A the whole reply; from $ADDR_C (a second address of the
#      device's namespace) a sealed UNAUTHORIZED of at most 3 times the request, saying
#      why, and no unsealed RETRY. The result cache: a task from $ADDR_C whose reply fits,
#      then its last fragment alone again: a sealed UNAUTHORIZED within 3 times that
#      fragment, not the cached reply (from $ADDR_A: the cached reply). libedgeplane
#      (edgeload) sending from $ADDR_C enrolls from there, and gets the whole reply. A
#      zstd payload that inflates past the role's max_task_len: a sealed TOO_LARGE.
#   2. A keys file: a key without "addr" gets at most 3 times from anywhere, and edgeload
#      with it fails with the node's words; a key with "addr" $ADDR_C is unlimited there
#      and capped at $ADDR_A; a key whose max_priority is 0 (a node's own) runs nothing.
source "$(dirname "$0")/../lib/lib.sh"
need_root "namespaces, the runtime and the controller"

ADDR_C=198.18.0.3
if ! ep_setup_pair || ! ep_setup_bpffs || ! in_a ip addr add $ADDR_C/24 dev "$IF_A"; then
	not_ok "set up the namespaces and a second address"
	tap_done
	exit 1
fi
in_a ping -c 1 -W 2 -q -I $ADDR_C $ADDR_B >/dev/null 2>&1
P=$EP_TMP/pki
CTL=$ADDR_A:7881
SOCK=$EP_TMP/ctl.sock
MAX=65536			# the camera role's largest task
{ ep_pki "$P" "$ADDR_A" && ep_cert cam-001 camera 7 && ep_cert node1 node 0; } ||
	ep_bail "ep-pki.sh makes the certificates" "$EP_TMP/pki.log" 5

cat >"$EP_TMP/policy.conf" <<EOF
roles = {
  camera = { types = [1, 2]; max_priority = 3; max_task_len = $MAX; };
};
EOF
ep_enroll_ctl_conf "$P" "$CTL" "$EP_TMP/policy.conf" >"$EP_TMP/ctl.conf"
CTL_PID=
stop_ctl() { [[ -n $CTL_PID ]] && { kill "$CTL_PID" 2>/dev/null; wait "$CTL_PID" 2>/dev/null; }; CTL_PID=; }
on_exit stop_ctl
ip netns exec "$NS_A" "$BIN/edgectl" serve --config "$EP_TMP/ctl.conf" --socket "$SOCK" \
	>>"$EP_TMP/ctl.log" 2>&1 &
CTL_PID=$!

ep_synced_node_conf "$P" "$CTL" >"$EP_TMP/rt.conf"
RT_PID=
on_exit ep_stop_runtime
if ! wait_for_line "$EP_TMP/ctl.log" "controller ready" 10 ||
	! ep_start_runtime "$EP_TMP/rt.log" -c "$EP_TMP/rt.conf"; then
	not_ok "the controller and a runtime syncing from it start"
	diag "$(tail -3 "$EP_TMP/ctl.log") $(tail -3 "$EP_TMP/rt.log")"
	tap_done
	exit 1
fi
stats() { "$BIN/edgeplane" stats --socket "$EP_TMP/stats.sock" --json; }
for _ in $(seq 60); do
	[[ $(stats | jq -r .auth.connected) == true ]] && break
	sleep 0.1
done
NODE=$(stats | jq -r .auth.node_id)

# --- 1. an enrolled key ---------------------------------------------------------------------
enrolled=$(echo '{"op":"enroll"}' | in_a timeout 10 openssl s_client -quiet -connect "$CTL" \
	-tls1_3 -cert "$P/cam-001.crt" -key "$P/cam-001.key" -CAfile "$P/ca.crt" 2>/dev/null | tail -1)
KEY=$(jq -r .key.key_id <<<"$enrolled" 2>/dev/null)
jq '[.key]' <<<"$enrolled" >"$EP_TMP/cam.json" 2>/dev/null && chmod 600 "$EP_TMP/cam.json"
expect_eq "cam-001 enrolls from $ADDR_A and its key object says so (\"addr\")" \
	"$(jq -r '.key.addr' <<<"$enrolled" 2>/dev/null)" "$ADDR_A"
expect_eq "edgectl keys shows where key $KEY was enrolled from" \
	"$(timeout 20 "$BIN/edgectl" --socket "$SOCK" keys --json |
		jq -r --argjson k "${KEY:-0}" '.keys[] | select(.key_id == $k) | .addr')" "$ADDR_A"
for _ in $(seq 40); do
	(($(stats | jq .auth.keys) >= 1)) && break
	sleep 0.05
done

# dev FROM KEYS-FILE KEY-ID [eptest-auth send options]: the device sends from FROM.
dev() {
	local from=$1 keys=$2 id=$3
	shift 3
	in_a "$TOOLS/eptest-auth" send --to $ADDR_B --bind "$from" --keys "$keys" --key-id "$id" \
		--node-id "$NODE" --ctr-file "$keys.ctr" "$@"
}
# ratio JSON [resent]: bytes back over bytes sent, two decimals.
ratio() {
	if [[ ${2:-} == resent ]]; then
		jq -r 'if .resent_bytes > 0 then (.resent_back * 100 / .resent_bytes | floor) / 100 else "-" end' <<<"$1"
	else
		jq -r 'if .bytes_sent > 0 then (.bytes_back * 100 / .bytes_sent | floor) / 100 else "-" end' <<<"$1"
	fi
}
within3() { jq -e '.bytes_back <= 3 * .bytes_sent' <<<"$1" >/dev/null; }
BIG=(--type 1 --size 60000 --zeros --zstd --plain-reply --wait-ms 2000)
WHY="enroll from this address"

# full CASE FROM KEYS ID: the 60 KB reply comes whole.
full() {
	local r
	r=$(dev "$2" "$3" "$4" "${BIG[@]}")
	if [[ $(jq -r '"\(.results_ok) \(.opened == .sealed) \(.plain)"' <<<"$r") == "1 true 0" ]] &&
		! within3 "$r"; then
		ok "$1: the whole reply, sealed ($(jq .bytes_back <<<"$r") bytes for $(jq .bytes_sent <<<"$r"): $(ratio "$r")x)"
	else
		not_ok "$1: the whole reply"
		diag "$r"
	fi
}
# capped CASE FROM KEYS ID: a sealed UNAUTHORIZED within 3 times the request, saying why.
capped() {
	local r
	r=$(dev "$2" "$3" "$4" "${BIG[@]}")
	if within3 "$r" && [[ $(jq -r '"\(.responses) \(.status) \(.opened == .sealed and .sealed >= 1) \(.plain)"' <<<"$r") == "0 unauthorized true 0" &&
		$(jq -r .text <<<"$r") == *"$WHY"* ]]; then
		ok "$1: a sealed UNAUTHORIZED of $(jq .bytes_back <<<"$r") bytes for $(jq .bytes_sent <<<"$r") ($(ratio "$r")x <= 3), no unsealed RETRY: \"$(jq -r .text <<<"$r")\""
	else
		not_ok "$1: at most 3 times the request (a sealed UNAUTHORIZED)"
		diag "$r ($(ratio "$r")x)"
	fi
}

full "key $KEY from $ADDR_A, where it enrolled: 60 KB asked by a compressed echo" \
	$ADDR_A "$EP_TMP/cam.json" "$KEY"
capped "the same from $ADDR_C (a forged source)" $ADDR_C "$EP_TMP/cam.json" "$KEY"

# The result cache: a reply that fits, then its last fragment (32 bytes of payload) alone,
# three times: the cached 11 KB reply goes back only where the key enrolled.
r=$(dev $ADDR_C "$EP_TMP/cam.json" "$KEY" --type 1 --size 11200 --plain-reply --wait-ms 2000 \
	--resend last --resends 3)
if [[ $(jq -r .results_ok <<<"$r") == 1 ]] && within3 "$r" &&
	jq -e '.resent_back <= 3 * .resent_bytes and .resent_status == "unauthorized"' <<<"$r" >/dev/null; then
	ok "from $ADDR_C: an echo of 11200 bytes answered ($(ratio "$r")x); its last fragment again, 3 times: $(jq .resent_back <<<"$r") bytes for $(jq .resent_bytes <<<"$r") ($(ratio "$r" resent)x), sealed UNAUTHORIZED, not the cached reply"
else
	not_ok "from $ADDR_C: a cached reply is not replayed beyond 3 times the retry"
	diag "$r ($(ratio "$r" resent)x)"
fi
r=$(dev $ADDR_A "$EP_TMP/cam.json" "$KEY" --type 1 --size 11200 --plain-reply --wait-ms 2000 \
	--resend last --resends 3)
if [[ $(jq -r '"\(.results_ok) \(.resent_status)"' <<<"$r") == "1 RESPONSE" ]] &&
	jq -e '.resent_back > 3 * .resent_bytes' <<<"$r" >/dev/null; then
	ok "from $ADDR_A: the same retries get the cached reply ($(ratio "$r" resent)x)"
else
	not_ok "from $ADDR_A: the same retries get the cached reply"
	diag "$r"
fi

# A zstd payload (about 30 bytes) that inflates past the role's max_task_len: the classifier
# and the runtime's key checks see only its compressed size.
r=$(dev $ADDR_A "$EP_TMP/cam.json" "$KEY" --type 1 --size $((4 * MAX)) --zeros --zstd \
	--wait-ms 2000)
expect_eq "a zstd payload of $(jq .bytes_sent <<<"$r") bytes that inflates to $((4 * MAX)), past the role's $MAX: sealed TOO_LARGE, not run" \
	"$(jq -r '"\(.responses) \(.status) \(.opened == .sealed and .sealed >= 1)"' <<<"$r")" \
	"0 too_large true"
r=$(dev $ADDR_A "$EP_TMP/cam.json" "$KEY" --type 1 --size $MAX --zeros --zstd --wait-ms 2000)
expect_eq "... one that inflates to the role's $MAX exactly runs" \
	"$(jq -r .results_ok <<<"$r")" 1

# libedgeplane: a session that sends from $ADDR_C enrolls from there too (the kernel would
# pick $ADDR_A to reach the controller), so its key is bound where its tasks come from.
head -c 60000 /dev/zero >"$EP_TMP/zeros"
in_a ip route replace 198.18.0.0/24 dev "$IF_A" proto kernel scope link src $ADDR_C
out=$(in_a "$BIN/edgeload" run --to $ADDR_B --type echo --in "$EP_TMP/zeros" --plain-reply \
	--enroll "$CTL" --cert "$P/cam-001.crt" --key "$P/cam-001.key" --ca "$P/ca.crt" \
	--out "$EP_TMP/echoed" 2>&1); rc=$?
in_a ip route replace 198.18.0.0/24 dev "$IF_A" proto kernel scope link src $ADDR_A
if [[ $rc -eq 0 ]] && cmp -s "$EP_TMP/zeros" "$EP_TMP/echoed"; then
	ok "edgeload sending from $ADDR_C enrolls from $ADDR_C: its 60 KB echo comes back whole"
else
	not_ok "edgeload sending from $ADDR_C gets its 60 KB echo"
	diag "rc $rc: $(tail -4 <<<"$out")"
fi
ep_stop_runtime
stop_ctl

# --- 2. a keys file -------------------------------------------------------------------------
KEYS=$EP_TMP/keys.json
ep_keys_file "$KEYS" "$(ep_key 101)" "$(ep_key 102 addr="\"$ADDR_C\"")" \
	"$(ep_key 103 max_priority=0)"
jq ".[] | select(.key_id == 101)" "$KEYS" >"$EP_TMP/static.json" && chmod 600 "$EP_TMP/static.json"
NODE=4242
cat >"$EP_TMP/rt-file.conf" <<EOF
interface = "$IF_B";
queues = [0];
handlers = ( { name = "echo"; }, { name = "checksum"; } );
auth: { keys_file = "$KEYS"; node_id = $NODE; };
EOF
ep_runtime_or_bail "the runtime starts with a keys file" \
	"$EP_TMP/rt-file.log" -c "$EP_TMP/rt-file.conf"
capped "key 101 (a keys file, no \"addr\") from $ADDR_A" $ADDR_A "$KEYS" 101
capped "key 101 from $ADDR_C" $ADDR_C "$KEYS" 101
full "key 102 (\"addr\": \"$ADDR_C\") from $ADDR_C" $ADDR_C "$KEYS" 102
capped "key 102 from $ADDR_A" $ADDR_A "$KEYS" 102

out=$(in_a "$BIN/edgeload" run --to $ADDR_B --type echo --in "$EP_TMP/zeros" --plain-reply \
	--auth-key "$EP_TMP/static.json" 2>&1); rc=$?
if [[ $rc -ne 0 && $out == *unauthorized* && $out == *"$WHY"* ]]; then
	ok "edgeload with key 101 (static, no \"addr\"): the 60 KB echo fails with the node's words"
else
	not_ok "edgeload with key 101 (static, no \"addr\"): the 60 KB echo fails with the node's words"
	diag "rc $rc: $(tail -4 <<<"$out")"
fi

# A node's own key (max_priority 0) runs no task: dropped in XDP or by the runtime.
prio_drops() {
	stats | jq '([.workers[].auth.dropped.priority // 0] | add) + (.classifier.drop_auth_priority // 0)'
}
before=$(prio_drops)
r=$(dev $ADDR_A "$KEYS" 103 --type 1 --priority 1 --wait-ms 300)
after=$(prio_drops)
if [[ $(jq -r .replies <<<"$r") == 0 ]] && ((after > before)); then
	ok "key 103 (max_priority 0): a task at priority 1 gets no reply, dropped (priority +$((after - before)))"
else
	not_ok "key 103 (max_priority 0): a task at priority 1 is dropped"
	diag "$r; priority drops $before -> $after"
fi
r=$(dev $ADDR_A "$KEYS" 103 --kind ping --priority 1 --wait-ms 300)
expect_eq "key 103: a PING gets no reply either" "$(jq -r .replies <<<"$r")" 0
tap_done
