#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Enrollment over mutual TLS 1.3 (docs/protocol.md 7.5): the controller in namespace A on
# its gateway veth, devices and a node in namespace B, certificates made at test time by
# scripts/ep-pki.sh under the test's directory. An enrolled device gets a key through the
# C module (eptest-enroll) and through `openssl s_client -tls1_3` typing {"op":"enroll"};
# no certificate, an expired one, one the CRL revokes, another CA's, a role the policy
# does not have, and a TLS 1.2 client are refused; silent connections do not stop an
# enrollment; a node syncs, sees a new key, then `edgectl revoke` (by key, by name) within
# 1 s; a new CRL is read while the controller runs; edgectl never shows key material; a bad
# policy file stops the controller with its file, line and setting.
source "$(dirname "$0")/../lib/lib.sh"
need_root "namespaces and the gateway's XDP"

if ! ep_setup_pair || ! ep_setup_bpffs; then
	not_ok "set up the namespaces"
	tap_done
	exit 1
fi
PKI=$EP_ROOT/scripts/ep-pki.sh
P=$EP_TMP/pki
CTL=$ADDR_A:7881
ENROLL=$TOOLS/eptest-enroll
SOCK=$EP_TMP/ctl.sock
ctl() { timeout 20 "$BIN/edgectl" --socket "$SOCK" "$@"; }

{
	"$PKI" ca "$P" &&
	"$PKI" issue "$P" ctl controller 0 --addr "$ADDR_A" &&
	"$PKI" issue "$P" cam-001 camera 7 &&
	"$PKI" issue "$P" cam-002 camera 7 &&
	"$PKI" issue "$P" node1 node 0 &&
	"$PKI" issue "$P" drone-1 drone 7 &&
	"$PKI" issue "$P" old camera 7 --start 20200101000000Z --end 20200102000000Z &&
	"$PKI" issue "$P" gone camera 7 &&
	"$PKI" revoke "$P" gone && "$PKI" crl "$P" &&
	"$PKI" ca "$EP_TMP/other" &&
	"$PKI" issue "$EP_TMP/other" cam-001 camera 7
} >"$EP_TMP/pki.log" 2>&1
check "ep-pki.sh makes a CA, a controller's, devices' and a node's certificates, an expired one, a revoked one and a CRL" \
	test -s "$P/crl.pem" -a -s "$EP_TMP/other/cam-001.crt" -a -s "$P/gone.crt"
[[ -s $P/crl.pem ]] || { diag "$(tail -5 "$EP_TMP/pki.log")"; tap_done; exit 1; }

cat >"$EP_TMP/policy.conf" <<EOF
roles = {
  camera = { types = [1, 2]; max_priority = 3; tasks_per_s = 200; burst_tasks = 50;
             kib_per_s = 20000; burst_kib = 4096; max_task_len = 1048576; };
};
EOF
conf() {
	cat <<EOF
gateway: { interface = "$IF_A"; keep_attached = false; relay_replies = false; };
control: { metrics = "$ADDR_A:9131"; listen = "$ADDR_A:7879"; allow_register = true; };
enroll: { listen = "$CTL"; cert = "$P/ctl.crt"; key = "$P/ctl.key"; ca = "$P/ca.crt";
          crl = "$P/crl.pem"; policy = "$1"; key_ttl_s = 60; };
EOF
}

# --- a bad policy stops the controller before it attaches anything -----------------------
cat >"$EP_TMP/bad-policy.conf" <<EOF
roles = {
  camera = { types = [1, 300]; };
};
EOF
conf "$EP_TMP/bad-policy.conf" >"$EP_TMP/bad.conf"
in_a timeout 10 "$BIN/edgectl" serve --config "$EP_TMP/bad.conf" --socket "$EP_TMP/bad.sock" \
	>"$EP_TMP/bad.log" 2>&1
rc=$?
if [[ $rc -eq 2 ]] && grep -q "bad-policy.conf:2: types: has an entry that is not a task type id" "$EP_TMP/bad.log" &&
	no_xdp "$NS_A" "$IF_A"; then
	ok "a policy with type 300 stops the controller (exit 2) naming file, line and setting, before XDP"
else
	not_ok "a policy with type 300 stops the controller (exit 2) naming file, line and setting, before XDP"
	diag "exit $rc: $(tail -3 "$EP_TMP/bad.log")"
fi

# --- the controller ------------------------------------------------------------------------
conf "$EP_TMP/policy.conf" >"$EP_TMP/ctl.conf"
ip netns exec "$NS_A" "$BIN/edgectl" serve --config "$EP_TMP/ctl.conf" --socket "$SOCK" \
	>"$EP_TMP/ctl.log" 2>&1 &
CTL_PID=$!
stop_ctl() { kill "$CTL_PID" 2>/dev/null; wait "$CTL_PID" 2>/dev/null; }
on_exit stop_ctl
if wait_for_line "$EP_TMP/ctl.log" "controller ready" 10 &&
	grep -q "enrollment on $CTL (TLS 1.3, mutual): 1 roles" "$EP_TMP/ctl.log"; then
	ok "the controller starts with enrollment on $CTL"
else
	not_ok "the controller starts with enrollment on $CTL"
	diag "$(tail -5 "$EP_TMP/ctl.log")"
	tap_done
	exit 1
fi

# enroll NAME [CA-DIR]: the C module's ep_enroll_device() from namespace B.
enroll() {
	local dir=${2:-$P}
	in_b "$ENROLL" device --server "$CTL" --cert "$dir/$1.crt" --key "$dir/$1.key" \
		--ca "$P/ca.crt" --timeout-ms 3000
}
outcome() { ctl status --json | jq -r --arg o "$1" '.enroll.by_outcome[$o]'; }

# --- a device enrolls ------------------------------------------------------------------------
out=$(enroll cam-001 2>"$EP_TMP/err")
expect_eq "cam-001 enrolls through ep_enroll_device(): a key for cam-001, camera, tenant 7, the role's limits, renew after 2/3 of 60 s" \
	"$(jq -c '[.key.name, .key.role, .key.tenant, .key.revoked, .key.limits.types, .key.limits.max_priority, .key.limits.tasks_per_s, .key.limits.max_task_len, .key.key_len, .renew_after_ms, (.key.expires_unix_ms - .key.issued_unix_ms)]' <<<"$out" 2>/dev/null)" \
	'["cam-001","camera",7,false,[1,2],3,200,1048576,16,40000,60000]'
[[ -n $out ]] || diag "$(cat "$EP_TMP/err")"
KEY1=$(jq -r .key.key_id <<<"$out")

# The interoperability check: any TLS 1.3 client with a device certificate.
sc=$(echo '{"op":"enroll"}' | in_b timeout 10 openssl s_client -quiet -connect "$CTL" -tls1_3 \
	-cert "$P/cam-001.crt" -key "$P/cam-001.key" -CAfile "$P/ca.crt" 2>/dev/null | tail -1)
SC_HEX=$(jq -r .key.key <<<"$sc" 2>/dev/null)
if [[ $(jq -r '.ok' <<<"$sc" 2>/dev/null) == true && $SC_HEX =~ ^[0-9a-f]{32}$ &&
	$(jq -r '.ttl_ms' <<<"$sc") == 60000 ]]; then
	ok "openssl s_client -tls1_3 with cam-001's certificate, typing {\"op\":\"enroll\"}, gets a key"
else
	not_ok "openssl s_client -tls1_3 with cam-001's certificate, typing {\"op\":\"enroll\"}, gets a key"
	diag "got: $sc"
fi

# --- refused ---------------------------------------------------------------------------------
failed0=$(outcome handshake_failed)
sc=$(echo '{"op":"enroll"}' | in_b timeout 10 openssl s_client -quiet -connect "$CTL" -tls1_3 \
	-CAfile "$P/ca.crt" 2>&1)
check "a client without a certificate gets no key (the handshake fails)" \
	bash -c '! grep -q "\"ok\"" <<<"$1"' _ "$sc"
refused() {	# refused CASE NAME [CA-DIR] ERRNO REGEX
	local what=$1 name=$2 dir=$3 want=$4 re=$5 out err
	out=$(enroll "$name" "$dir" 2>"$EP_TMP/err")
	err=$(cat "$EP_TMP/err")
	if [[ -z $out && $err == "$want"* && $err =~ $re ]]; then
		ok "$what"
	else
		not_ok "$what"
		diag "stdout '$out', stderr '$err'"
	fi
}
refused "an expired certificate is refused at the handshake" old "$P" EPROTO "expired"
refused "a certificate the CRL revokes is refused at the handshake" gone "$P" EPROTO "revoked"
refused "another CA's certificate (same name) is refused at the handshake" cam-001 "$EP_TMP/other" EPROTO "unknown ca"
refused "a role the policy does not have gets {\"ok\":false}" drone-1 "$P" EACCES "role 'drone' is not in the controller's policy"
tls12=$(echo '{"op":"enroll"}' | in_b timeout 10 openssl s_client -quiet -connect "$CTL" -tls1_2 \
	-cert "$P/cam-001.crt" -key "$P/cam-001.key" -CAfile "$P/ca.crt" 2>&1)
if ! grep -q '"ok"' <<<"$tls12" && grep -qi "protocol version\|unsupported protocol" <<<"$tls12"; then
	ok "a TLS 1.2-only client is refused (protocol version)"
else
	not_ok "a TLS 1.2-only client is refused (protocol version)"
	diag "$(tail -3 <<<"$tls12")"
fi
sleep 0.2
expect_eq "the four failed handshakes and the TLS 1.2 one are counted (handshake_failed)" \
	"$(($(outcome handshake_failed) - failed0))" 5
expect_eq "the role is counted (role_refused)" "$(outcome role_refused)" 1
check "each refusal is logged with the peer and why" \
	grep -q "TLS handshake with $ADDR_B:[0-9]* failed: .*expired" "$EP_TMP/ctl.log"

# --- clients that hang up before the reply ---------------------------------------------------
# The controller then writes its ServerHello or its reply to a reset connection: EPIPE, and
# a SIGPIPE that would end the controller if its enrollment thread let it through. The
# first kind needs no certificate at all.
in_b "$ENROLL" abort --server "$CTL" --cert "$P/cam-001.crt" --key "$P/cam-001.key" \
	--ca "$P/ca.crt" --count 20 2>"$EP_TMP/err"
sleep 0.3
if kill -0 "$CTL_PID" 2>/dev/null && [[ $(ctl status --json | jq .enroll.connections) == 0 ]]; then
	ok "20 clients that reset the connection after their ClientHello or their request: the controller carries on"
else
	wait "$CTL_PID"
	rc=$?
	not_ok "20 clients that reset the connection after their ClientHello or their request: the controller carries on"
	diag "controller exit status $rc; $(cat "$EP_TMP/err"); $(tail -2 "$EP_TMP/ctl.log")"
	tap_done
	exit 1
fi

# --- silent clients ----------------------------------------------------------------------------
for i in $(seq 8); do
	in_b bash -c "exec 3<>/dev/tcp/$ADDR_A/7881 && sleep 30" 2>/dev/null &
done
sleep 0.5
t0=$(date +%s%N)
out=$(enroll cam-001 2>&1)
t1=$(date +%s%N)
if [[ $(jq -r .key.name <<<"$out" 2>/dev/null) == cam-001 && $(((t1 - t0) / 1000000)) -lt 1000 ]]; then
	ok "with 8 connections open that say nothing, cam-001 still enrolls ($(((t1 - t0) / 1000000)) ms)"
else
	not_ok "with 8 connections open that say nothing, cam-001 still enrolls"
	diag "$out; $(((t1 - t0) / 1000000)) ms"
fi
expect_eq "those 8 connections are still open, waiting for their handshake" \
	"$(ctl status --json | jq .enroll.connections)" 8

# --- a node syncs --------------------------------------------------------------------------------
in_b "$ENROLL" sync --server "$CTL" --cert "$P/node1.crt" --key "$P/node1.key" --ca "$P/ca.crt" \
	--count 0 --interval-ms 250 >"$EP_TMP/sync.log" 2>"$EP_TMP/sync.err" &
SYNC_PID=$!
wait_for_line "$EP_TMP/sync.log" . 5
first=$(head -1 "$EP_TMP/sync.log")
if [[ $(jq -r '"\(.full) \(.self.name) \(.self.role) \(.node_id >= 1)"' <<<"$first" 2>/dev/null) == "true node1 node true" &&
	$(jq --argjson k "$KEY1" '[.keys[] | select(.key_id == $k and .name == "cam-001")] | length' <<<"$first") == 1 ]]; then
	ok "node1 syncs: the full set (cam-001's key $KEY1 in it), a node id and its own key"
else
	not_ok "node1 syncs: the full set (cam-001's key $KEY1 in it), a node id and its own key"
	diag "$first $(cat "$EP_TMP/sync.err")"
fi
check "node1's own key is not among the keys sent to nodes" \
	test "$(jq '[.self.key_id as $s | .keys[] | select(.key_id == $s)] | length' <<<"$first")" = 0

# seen MARK MS JQ-FILTER: until a sync line after line MARK (the count before the change)
# matches, within MS ms of now; prints the ms it took.
seen() {
	local mark=$1 lim=$2 filter=$3 t0 now
	t0=$(date +%s%N)
	while :; do
		now=$(date +%s%N)
		if tail -n +"$((mark + 1))" "$EP_TMP/sync.log" |
			jq -s -e "map($filter) | any" >/dev/null 2>&1; then
			echo $(((now - t0) / 1000000))
			return 0
		fi
		(((now - t0) / 1000000 > lim)) && return 1
		sleep 0.02
	done
}
lines() { wc -l <"$EP_TMP/sync.log"; }
mark=$(lines)
out=$(enroll cam-002 2>&1)
KEY2=$(jq -r .key.key_id <<<"$out" 2>/dev/null)
if ms=$(seen "$mark" 1000 "[.keys[] | select(.key_id == $KEY2 and .revoked == false)] | length > 0"); then
	ok "cam-002 enrolls (key $KEY2); node1 sees the new key within 1 s ($ms ms)"
else
	not_ok "cam-002 enrolls (key $KEY2); node1 sees the new key within 1 s"
	diag "$out; $(tail -2 "$EP_TMP/sync.log")"
fi
mark=$(lines)
ctl revoke --key "$KEY2" >/dev/null
if ms=$(seen "$mark" 1000 "[.keys[] | select(.key_id == $KEY2 and .revoked)] | length > 0"); then
	ok "edgectl revoke --key $KEY2: node1 sees it revoked within 1 s ($ms ms)"
else
	not_ok "edgectl revoke --key $KEY2: node1 sees it revoked within 1 s"
	diag "$(tail -2 "$EP_TMP/sync.log")"
fi
n=$(ctl keys --json | jq '[.keys[] | select(.name == "cam-001" and (.revoked | not))] | length')
mark=$(lines)
out=$(ctl revoke --device cam-001)
if ms=$(seen "$mark" 1000 "([.keys[] | select(.name == \"cam-001\" and (.revoked | not))] | length) == 0 and ([.keys[] | select(.name == \"cam-001\")] | length) == $n"); then
	ok "edgectl revoke --device cam-001 ($out): node1 sees its $n keys revoked within 1 s ($ms ms)"
else
	not_ok "edgectl revoke --device cam-001: node1 sees its $n keys revoked within 1 s"
	diag "$out; $(tail -1 "$EP_TMP/sync.log")"
fi
refused "a revoked name's enrollment is refused until unrevoked" cam-001 "$P" EACCES "'cam-001' is revoked"
ctl unrevoke --device cam-001 >/dev/null
out=$(enroll cam-001 2>&1)
expect_eq "after edgectl unrevoke --device cam-001 it enrolls again" "$(jq -r .key.name <<<"$out" 2>/dev/null)" cam-001

# --- what edgectl shows ---------------------------------------------------------------------------
keys_text=$(ctl keys)
keys_json=$(ctl keys --json)
if [[ -n $SC_HEX ]] && ! grep -q "$SC_HEX" <<<"$keys_text$keys_json" &&
	! grep -q "$SC_HEX" "$EP_TMP/ctl.log" &&
	[[ $(jq '[.keys[] | has("key")] | any' <<<"$keys_json") == false ]]; then
	ok "edgectl keys (text and --json) and the controller's log never show key material"
else
	not_ok "edgectl keys (text and --json) and the controller's log never show key material"
fi
expect_eq "edgectl keys lists each key with its name, role, tenant and revocation" \
	"$(jq -c --argjson k "$KEY2" '.keys[] | select(.key_id == $k) | [.name, .role, .tenant, .revoked]' <<<"$keys_json")" \
	'["cam-002","camera",7,true]'
check "edgectl keys marks node1's key with its node id" \
	test "$(jq '[.keys[] | select(.name == "node1" and .node_id >= 1)] | length' <<<"$keys_json")" -ge 1
metrics=$(in_a curl -s "http://$ADDR_A:9131/metrics")
check "/metrics counts enrollments and keys" \
	grep -q '^edgeplane_gw_enroll_total{outcome="enrolled"} [1-9]' <<<"$metrics"
check "/metrics has the keys by owner" grep -q '^edgeplane_gw_keys{owner="node"} 1' <<<"$metrics"

# --- authenticated load reports -----------------------------------------------------------------
# With enrollment on, a report counts only sealed with the node's own key, by that node, for
# that node id, with a new pn; anything else is refused before the registry, by reason.
MAC_B=$(in_b cat "/sys/class/net/$IF_B/address")
report() {
	in_b "$ENROLL" report --server "$CTL" --cert "$P/node1.crt" --key "$P/node1.key" \
		--ca "$P/ca.crt" --to "$ADDR_A:7879" --ip4 "$ADDR_B" --mac "$MAC_B" --interval-ms 20 "$@"
}
rx() { ctl status --json | jq -r --arg o "$1" '.reports_by_outcome[$o] // 0'; }
in_b "$TOOLS/eptest-report" --to "$ADDR_A:7879" --id 1 --ip4 "$ADDR_B" --mac "$MAC_B" \
	--count 3 --interval-ms 20 2>/dev/null
sleep 0.2
expect_eq "3 unauthenticated reports (a worker without a key) are refused (auth_missing) and register nothing" \
	"$(rx auth_missing)/$(ctl node list --json | jq length)" "3/0"
NODE_ID=$(report --count 3 | head -1 | jq -r .node_id)
sleep 0.2
expect_eq "node1's reports sealed with its own key register it as node $NODE_ID (3 authenticated)" \
	"$(ctl node list --json | jq -r --argjson id "${NODE_ID:-0}" '.[] | select(.id == $id) | .state')/$(rx authenticated)" "up/3"
attack() {	# attack NAME REASON N [options]: N more refusals for REASON, nothing else
	local name=$1 reason=$2 n=$3 before acc
	shift 3
	before=$(rx "$reason") acc=$(rx authenticated)
	report --attack "$name" "$@" >/dev/null
	sleep 0.2
	expect_eq "reports with attack '$name' are refused as $reason" \
		"$(($(rx "$reason") - before)) $(($(rx authenticated) - acc))" "$n ${expect_acc:-0}"
}
attack bad-tag auth_bad_tag 3 --count 3
attack sender auth_wrong_sender 3 --count 3
attack node-id auth_wrong_sender 3 --count 3
expect_acc=3 attack replay auth_replay 3 --count 3
expect_acc=3 attack stale auth_replay 1 --count 3
attack unknown-key auth_unknown_key 3 --count 3
attack device auth_not_node_key 3 --count 3 --device-cert "$P/cam-001.crt" --device-key "$P/cam-001.key"
report --count 6 --pause-after 3 --resume-file "$EP_TMP/go" >"$EP_TMP/report.out" &
REP_PID=$!
wait_for_line "$EP_TMP/report.out" self 5
SELF=$(head -1 "$EP_TMP/report.out" | jq -r .self)
sleep 0.2
before=$(rx auth_revoked)
ctl revoke --key "$SELF" >/dev/null
touch "$EP_TMP/go"
wait "$REP_PID"
sleep 0.2
expect_eq "after edgectl revoke --key $SELF (node1's own), its next 3 reports are refused (auth_revoked)" \
	"$(($(rx auth_revoked) - before))" 3
check "edgectl status names the refusals" \
	bash -c "ctl() { timeout 20 '$BIN/edgectl' --socket '$SOCK' \"\$@\"; }; ctl status | grep -q 'rejected .*auth_bad_tag 3'"
check "/metrics counts them by reason" \
	bash -c "in_a() { ip netns exec '$NS_A' \"\$@\"; }; in_a curl -s http://$ADDR_A:9131/metrics | grep -q '^edgeplane_gw_reports_received_total{outcome=\"auth_wrong_sender\"} 6'"

# --- a new CRL, read while the controller runs -------------------------------------------------
"$PKI" revoke "$P" cam-002 >/dev/null 2>&1 && "$PKI" crl "$P" >/dev/null 2>&1
if wait_for_line "$EP_TMP/ctl.log" "enroll.crl .* read again" 3; then
	ok "the controller reads the CRL again when its file changes"
else
	not_ok "the controller reads the CRL again when its file changes"
fi
refused "cam-002, revoked in the new CRL, is refused at the handshake" cam-002 "$P" EPROTO "revoked"
"$PKI" revoke "$P" node1 >/dev/null 2>&1 && "$PKI" crl "$P" >/dev/null 2>&1
end=$((SECONDS + 4))
while kill -0 "$SYNC_PID" 2>/dev/null && ((SECONDS < end)); do sleep 0.1; done
if ! kill -0 "$SYNC_PID" 2>/dev/null; then
	wait "$SYNC_PID"
	rc=$?
else
	rc=running
	kill "$SYNC_PID" 2>/dev/null
fi
# The node's next sync meets a closed connection: a clean error, not SIGPIPE (141).
if [[ $rc == 1 ]] && grep -q "ECONNRESET\|EPROTO" "$EP_TMP/sync.err"; then
	ok "node1, revoked in a new CRL while connected, is disconnected: its next sync fails ($(head -c 80 "$EP_TMP/sync.err"))"
else
	not_ok "node1, revoked in a new CRL while connected, is disconnected: its next sync fails"
	diag "eptest-enroll sync: exit status $rc, stderr '$(cat "$EP_TMP/sync.err")'"
fi

# --- the silent ones time out -------------------------------------------------------------------
end=$((SECONDS + 8))
while (($(outcome handshake_timeout) < 8 && SECONDS < end)); do sleep 0.2; done
expect_eq "the 8 silent connections were closed after the 5 s handshake limit (handshake_timeout)" \
	"$(outcome handshake_timeout)" 8

stop_ctl
check "the controller stops and takes XDP off" no_xdp "$NS_A" "$IF_A"
tap_done
