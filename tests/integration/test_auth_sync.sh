#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The runtime's keys from the controller (auth.controller, docs/operations.md): the
# controller (edgectl serve, enrollment on mutual TLS 1.3) in namespace A, the runtime in
# namespace B syncing as a node every 250 ms, certificates made at test time by
# scripts/ep-pki.sh. A device (camera cam-001) enrolls with `openssl s_client` and gets a
# key; within a second the runtime knows it (its XDP too) and answers the device's sealed
# tasks, as the node id the sync gave it; `edgectl revoke --key` reaches it within a second
# and the next task is dropped (revoked) by its XDP, unanswered; a runtime whose controller
# is away starts anyway, says why, and syncs once it is back; its load reports, sealed
# with the node's own key from the sync as the node id the sync gave, are taken by the
# controller (which takes no other with enrollment on) and register the node.
source "$(dirname "$0")/../lib/lib.sh"
need_root "namespaces, the runtime and the controller"

ep_setup_or_bail "set up the namespaces"
P=$EP_TMP/pki
CTL=$ADDR_A:7881
SOCK=$EP_TMP/ctl.sock
ctl() { timeout 20 "$BIN/edgectl" --socket "$SOCK" "$@"; }

{ ep_pki "$P" "$ADDR_A" && ep_cert cam-001 camera 7 && ep_cert node1 node 0; } ||
	ep_bail "ep-pki.sh makes the certificates" "$EP_TMP/pki.log" 5

cat >"$EP_TMP/policy.conf" <<EOF
roles = {
  camera = { types = [1, 2]; max_priority = 3; tasks_per_s = 1000; burst_tasks = 100;
             kib_per_s = 100000; burst_kib = 10000; max_task_len = 1048576; };
};
EOF
ep_enroll_ctl_conf "$P" "$CTL" "$EP_TMP/policy.conf" >"$EP_TMP/ctl.conf"
CTL_PID=
start_ctl() {
	ip netns exec "$NS_A" "$BIN/edgectl" serve --config "$EP_TMP/ctl.conf" --socket "$SOCK" \
		>>"$EP_TMP/ctl.log" 2>&1 &
	CTL_PID=$!
	wait_for_line "$EP_TMP/ctl.log" "controller ready" 10
}
stop_ctl() { [[ -n $CTL_PID ]] && { kill "$CTL_PID" 2>/dev/null; wait "$CTL_PID" 2>/dev/null; }; CTL_PID=; }
on_exit stop_ctl

# report: without a node id, the sync's.
ep_synced_node_conf "$P" "$CTL" "report: { controller = \"$ADDR_A:7879\"; interval_ms = 100; };" \
	>"$EP_TMP/rt.conf"
RT_PID=
on_exit ep_stop_runtime
stats() { "$BIN/edgeplane" stats --socket "$EP_TMP/stats.sock" --json; }
dropped() { stats | jq --arg r "$1" '[.workers[].auth.dropped[$r]] | add'; }
# xdp REASON: what the runtime's classifier dropped for drop_auth_REASON (the synced keys
# are its keys too).
xdp() { stats | jq --arg r "drop_auth_$1" '.classifier[$r] // 0'; }

# --- the controller away at the start ----------------------------------------------------
ep_start_runtime "$EP_TMP/rt.log" -c "$EP_TMP/rt.conf" ||
	ep_bail "the runtime starts while its controller is away" "$EP_TMP/rt.log" 5
ok "the runtime starts while its controller is away"
check "... and says so, naming auth.controller" \
	grep -q "auth.controller $CTL: .*(retrying)" "$EP_TMP/rt.log"
expect_eq "... with no keys, not connected" \
	"$(stats | jq -r '"\(.auth.source) \(.auth.keys) \(.auth.connected)"')" \
	"controller 0 false"

start_ctl || ep_bail "the controller starts" "$EP_TMP/ctl.log" 5
for _ in $(seq 60); do
	[[ $(stats | jq -r .auth.connected) == true ]] && break
	sleep 0.1
done
NODE=$(stats | jq -r .auth.node_id)
expect_eq "once the controller is up, the runtime syncs (reconnecting within 6 s) and has a node id" \
	"$(stats | jq -r '"\(.auth.connected) \(.auth.node_id > 0)"')" "true true"

# --- a device enrolls; the node learns its key --------------------------------------------
enrolled=$(echo '{"op":"enroll"}' | in_a timeout 10 openssl s_client -quiet -connect "$CTL" \
	-tls1_3 -cert "$P/cam-001.crt" -key "$P/cam-001.key" -CAfile "$P/ca.crt" 2>/dev/null | tail -1)
KEY=$(jq -r .key.key_id <<<"$enrolled" 2>/dev/null)
jq '[.key]' <<<"$enrolled" >"$EP_TMP/cam.json" 2>/dev/null && chmod 600 "$EP_TMP/cam.json"
check "cam-001 enrolls and gets a key" test -n "$KEY" -a "$KEY" != null
start=$(date +%s%3N)
for _ in $(seq 40); do
	(($(stats | jq .auth.keys) >= 1)) && break
	sleep 0.05
done
ms=$(($(date +%s%3N) - start))
check "the runtime has cam-001's key within 1 s (${ms} ms)" test "$ms" -le 1000
dev() {
	in_a "$TOOLS/eptest-auth" send --to $ADDR_B --keys "$EP_TMP/cam.json" --key-id "$KEY" \
		--node-id "$NODE" --ctr-file "$EP_TMP/ctr" "$@"
}
r=$(dev --type 1 --size 3000)
expect_eq "cam-001's echo of 3000 bytes: answered, sealed by node $NODE, opens, right" \
	"$(jq -r '"\(.results_ok) \(.opened >= 1 and .opened == .sealed) \(.plain) \(.bad)"' <<<"$r")" \
	"1 true 0 0"
r=$(dev --type 2 --size 64 --priority 5 --wait-ms 300)
expect_eq "the role's limits came with the key, to XDP too: priority 5 above camera's 3 is dropped there" \
	"$(jq -r .replies <<<"$r"):$(xdp priority):$(dropped priority)" "0:1:0"

# --- load reports ---------------------------------------------------------------------------
rx() { ctl status --json | jq -r --arg o "$1" '.reports_by_outcome[$o] // 0'; }
for _ in $(seq 40); do
	[[ $(ctl node list --json | jq -r --argjson id "$NODE" '.[] | select(.id == $id) | .state') == up ]] &&
		break
	sleep 0.05
done
expect_eq "the runtime's load reports, sealed with its own key, register it as node $NODE, and none was refused" \
	"$(ctl node list --json | jq -r --argjson id "$NODE" '.[] | select(.id == $id) | .state') $(($(rx authenticated) > 0)) $(rx auth_missing)" \
	"up 1 0"

# --- a revocation ---------------------------------------------------------------------------
ctl revoke --key "$KEY" >/dev/null
start=$(date +%s%3N)
for _ in $(seq 40); do
	r=$(dev --type 1 --wait-ms 20)
	[[ $(jq -r .replies <<<"$r") == 0 ]] && break
done
ms=$(($(date +%s%3N) - start))
if [[ $(jq -r .replies <<<"$r") == 0 ]] && ((ms <= 1500)) && (($(xdp revoked) >= 1)); then
	ok "edgectl revoke --key $KEY: within a second (${ms} ms) its tasks are dropped in XDP, unanswered (drop_auth_revoked)"
else
	not_ok "edgectl revoke --key $KEY: within a second its tasks are dropped in XDP, unanswered (drop_auth_revoked)"
	diag "$r after $ms ms; XDP revoked $(xdp revoked), the workers $(dropped revoked)"
fi

# --- the controller goes: the keys stay -------------------------------------------------------
# Its gateway's maps, pinned by name (bpf/lib/pin.h): all 15 while it runs, none once it
# has stopped with keep_attached = false, nor the gateway on the interface.
GWPIN=$EP_BPFFS/edgeplane/gw-$IF_A
expect_eq "the gateway's 15 maps are pinned in $GWPIN" "$(ls "$GWPIN" 2>&1 | wc -l)" 15
stop_ctl
check "the controller stops (keep_attached = false): the gateway's pins are gone" \
	test ! -e "$GWPIN"
check "and the gateway is detached" no_xdp "$NS_A" "$IF_A"
sleep 0.6
expect_eq "the controller stops: the runtime keeps its keys and says it is not connected" \
	"$(stats | jq -r '"\(.auth.keys) \(.auth.connected)"')" "1 false"
check "the runtime still runs" kill -0 "$RT_PID"
tap_done
