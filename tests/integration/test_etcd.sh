#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The cluster's administrative state in etcd (issue 16, docs/cluster.md): three etcd
# members in namespaces of their own, and two controllers (A and B), each in a namespace
# of its own with its own gateway veth, sharing them. A drain made with edgectl on A is
# in force on B within 1 s (B's node list and B's gateway map); a policy change survives
# a restart of both controllers; with one member killed a change still works; with two
# killed an edgectl change fails naming etcd and the endpoints, exits non-zero, and the
# forwarding state stays; with them back the controllers catch up.
source "$(dirname "$0")/../lib/lib.sh"
need_root "etcd members and controllers in network namespaces"
if ! command -v etcd >/dev/null || ! command -v etcdctl >/dev/null; then
	skip "the cluster state in etcd" "etcd-server and etcd-client are not installed (scripts/deps.sh)"
	tap_done
	exit 0
fi
ep_setup_bpffs || ep_bail "a private bpffs"
ep_etcd_up || ep_bail "three etcd members healthy within 30 s" "$EP_TMP/etcd/1.log"
ok "three etcd members, each in a namespace of its own, healthy"

PREFIX=/edgeplane/t$EP_SUFFIX/
EPS_CONF=$(sed 's/[^,]*/"&"/g; s/,/, /g' <<<"$EP_ETCD_ENDPOINTS")
declare -A CTL_PID CTL_NS
# setup_ctl X N: namespace for controller X, on the etcd bridge at 198.18.9.1N, with a
# gateway veth gwX (198.18.2N.1/30; its peer in the hub namespace): names of their own, as
# the gateways' pin directories (and the controllers' names in etcd) follow them.
setup_ctl() {
	local x=$1 n=$2 ns=ep-t$EP_SUFFIX-c$1
	ip netns add "$ns" || return 1
	EP_ETCD_JOINED+=("$ns")
	on_exit "ip netns del $ns"
	CTL_NS[$x]=$ns
	ep_etcd_join "$ns" eth0 "198.18.9.1$n" &&
		ip link add "gw$x" netns "$ns" type veth peer name "epg$EP_SUFFIX$x" netns "$EP_ETCD_HUB" &&
		ip -n "$ns" addr add "198.18.2$n.1/30" dev "gw$x" && ip -n "$ns" link set "gw$x" up &&
		ip -n "$EP_ETCD_HUB" addr add "198.18.2$n.2/30" dev "epg$EP_SUFFIX$x" &&
		ip -n "$EP_ETCD_HUB" link set "epg$EP_SUFFIX$x" up
}
# start_ctl X: edgectl serve in X's namespace (nodes 1 and 2 configured, etcd shared);
# 1 if it is not ready in 10 s.
start_ctl() {
	local x=$1
	cat >"$EP_TMP/$x.conf" <<EOF
gateway: { interface = "gw$x"; xdp_mode = "skb"; keep_attached = false; relay_replies = false; };
control: { socket = "$EP_TMP/$x.sock"; };
etcd: { endpoints = [ $EPS_CONF ]; prefix = "$PREFIX"; timeout_ms = 1000; lease_ttl_s = 3; };
nodes = ( { id = 1; name = "w1"; mac = "02:00:00:00:00:01"; ip4 = "198.18.30.1"; },
	  { id = 2; name = "w2"; mac = "02:00:00:00:00:02"; ip4 = "198.18.30.2"; } );
$EP_AUTH_OFF
EOF
	[[ -f $EP_TMP/$x.log ]] && cat "$EP_TMP/$x.log" >>"$EP_TMP/$x.log.old"
	: >"$EP_TMP/$x.log"
	ip netns exec "${CTL_NS[$x]}" "$BIN/edgectl" serve --config "$EP_TMP/$x.conf" \
		>>"$EP_TMP/$x.log" 2>&1 &
	CTL_PID[$x]=$!
	wait_for_line "$EP_TMP/$x.log" "controller ready" 10
}
stop_ctl() {
	local x=$1
	[[ -n ${CTL_PID[$x]:-} ]] && { kill "${CTL_PID[$x]}" 2>/dev/null; wait "${CTL_PID[$x]}" 2>/dev/null; }
	CTL_PID[$x]=
}
ctl() { local x=$1; shift; timeout 20 "$BIN/edgectl" --socket "$EP_TMP/$x.sock" "$@"; }
state() { ctl "$1" node list --json | jq -r --argjson id "$2" '.[] | select(.id == $id) | .state'; }
# The node's state in the gateway's maps (XDP's view), as edgectl table reads them.
map_state() {
	ctl "$1" table --json --sample 0 | jq -r --argjson id "$2" '.nodes[] | select(.id == $id) | .state'
}
policy() { ctl "$1" policy --json | jq -r '.policy'; }
synced() { [[ $(ctl "$1" status --json 2>/dev/null | jq -r '.etcd.synced' 2>/dev/null) == true ]]; }
is_state() { [[ $(state "$1" "$2") == "$3" ]]; }
is_policy() { [[ $(policy "$1") == "$2" ]]; }

setup_ctl a 1 && setup_ctl b 2 || ep_bail "controller namespaces with gateway veths"
on_exit "stop_ctl a"
on_exit "stop_ctl b"
start_ctl a && start_ctl b || ep_bail "controllers A and B start with etcd" "$EP_TMP/a.log"
if wait_cond 5 synced a && wait_cond 5 synced b; then
	ok "A and B read the cluster state and watch it"
else
	not_ok "A and B read the cluster state and watch it"
	diag "$(ctl a status --json | jq -c .etcd)"
fi
live() { ctl a status --json | jq -r '.etcd.controllers | length'; }
wait_cond 5 test "$(live)" = 2
expect_eq "both controllers are alive in etcd (leased keys)" "$(live)" 2
expect_eq "configured nodes are registered in etcd" \
	"$(ip netns exec "$EP_ETCD_HUB" etcdctl --endpoints="$EP_ETCD_ENDPOINTS" get --prefix \
		--keys-only "${PREFIX}nodes/" | grep -c nodes/)" 2

# --- a drain on A is in force on B within 1 s ------------------------------------------
t0=$(date +%s%N)
check "edgectl node drain 1 on A" quiet ctl a node drain 1
if wait_cond 1 is_state b 1 drained; then
	ok "the drain is in force on B within 1 s ($((($(date +%s%N) - t0) / 1000000)) ms)"
else
	not_ok "the drain is in force on B within 1 s"
	diag "$(ctl b node list 2>&1)"
fi
expect_eq "B's gateway map has node 1 drained" "$(map_state b 1)" drained
expect_eq "A's too" "$(map_state a 1)" drained

# --- a policy change survives a restart of both controllers --------------------------------
check "edgectl policy set policy=seed on B" quiet ctl b policy set policy=seed overflow.1=local
wait_cond 1 is_policy a seed
expect_eq "A has the policy set on B" "$(policy a)" seed
stop_ctl a
stop_ctl b
expect_eq "a controller's key goes with its lease when it stops" \
	"$(ip netns exec "$EP_ETCD_HUB" etcdctl --endpoints="$EP_ETCD_ENDPOINTS" get --prefix \
		--keys-only "${PREFIX}controllers/" | grep -c controllers/)" 0
start_ctl a && start_ctl b || ep_bail "controllers A and B start again" "$EP_TMP/b.log"
wait_cond 5 synced a
wait_cond 5 synced b
expect_eq "after a restart of both, A's policy is etcd's" \
	"$(policy a)/$(ctl a policy --json | jq -r '.overflow["1"]')" seed/local
expect_eq "and B's" "$(policy b)" seed
expect_eq "and node 1 is still drained on both" "$(state a 1)/$(state b 1)" drained/drained

# --- one member down: changes still work ---------------------------------------------------
ep_etcd_kill 1
check "with member 1 killed, edgectl node drain 2 on A works" quiet ctl a node drain 2
if wait_cond 2 is_state b 2 drained; then
	ok "and B applies it"
else
	not_ok "and B applies it"
	diag "$(tail -5 "$EP_TMP/b.log")"
fi

# --- two members down: changes fail, forwarding stays -----------------------------------------
ep_etcd_kill 2
before=$(ctl a table --json --sample 0 | jq -c '[.nodes[] | [.id, .state]], .policy')
out=$(ctl a node undrain 1 2>&1)
rc=$?
if ((rc != 0)) && grep -q 'etcd' <<<"$out" && grep -q '198.18.9.3:2379' <<<"$out"; then
	ok "with quorum lost, edgectl node undrain fails (exit $rc) naming etcd and the endpoints"
else
	not_ok "with quorum lost, edgectl node undrain fails naming etcd and the endpoints"
	diag "exit $rc: $out"
fi
diag "$out"
out=$(ctl b policy set policy=hash 2>&1)
rc=$?
if ((rc != 0)) && grep -q 'etcd' <<<"$out"; then
	ok "and so does edgectl policy set on B (exit $rc)"
else
	not_ok "and so does edgectl policy set on B"
	diag "exit $rc: $out"
fi
sleep 1.5 # the watch breaks and the re-reads fail meanwhile: nothing may be flushed
expect_eq "the gateway's maps are unchanged (fail static)" \
	"$(ctl a table --json --sample 0 | jq -c '[.nodes[] | [.id, .state]], .policy')" "$before"
expect_eq "B's too" "$(state b 1)/$(state b 2)/$(policy b)" drained/drained/seed
ip -n "${CTL_NS[a]}" link show gwa | grep -q xdp && ok "XDP stays attached on A's gateway" ||
	not_ok "XDP stays attached on A's gateway"

# --- members back: the controllers catch up -------------------------------------------------
ep_etcd_start 1
ep_etcd_start 2
if wait_cond 30 ep_etcd_healthy; then
	ok "members 1 and 2 back, the cluster healthy"
else
	not_ok "members 1 and 2 back, the cluster healthy"
fi
wait_cond 10 synced a
wait_cond 10 synced b
check "edgectl node undrain 1 on B, with quorum back" quiet ctl b node undrain 1
if wait_cond 2 is_state a 1 waiting && wait_cond 1 is_state b 1 waiting; then
	ok "the change appears on both controllers"
else
	not_ok "the change appears on both controllers"
	diag "$(state a 1)/$(state b 1)"
fi
expect_eq "and in both gateways' maps" "$(map_state a 1)/$(map_state b 1)" out/out
# Well past lease_ttl_s (3 s) since the restart, and past the outage: kept alive.
wait_cond 5 test "$(live)" = 2
expect_eq "both controllers' leased keys are kept alive (and back after the outage)" "$(live)" 2

tap_done
