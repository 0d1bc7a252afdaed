#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Device authentication through a gateway, end to end, on the rig: the controller with
# enrollment (certificates made here by scripts/ep-pki.sh) and the gateway's XDP in mode
# required (the default); two workers that sync their keys from it over mutual TLS
# (auth.controller) and report their loads sealed with their own keys; a camera that
# enrolls (openssl s_client) and sends sealed tasks to the gateway's virtual address
# (eptest-auth).
#   - The controller's settings: mode required without enrollment, or a mode that is not
#     one, stop it (exit 2) naming the way out.
#   - The camera's tasks are answered, sealed, by both workers.
#   - A task without AUTH to the virtual address is dropped by the gateway's XDP
#     (drop_auth_missing), unanswered, and no worker sees it.
#   - A load report from a host that is not an enrolled node (for an id of its own, or in a
#     worker's name) is refused (auth_missing) and does not enter the gateway's table.
#   - `edgectl revoke --device cam-001`: measured, the time until the gateway drops the
#     camera's tasks (drop_auth_revoked) and until each worker's XDP does, when they are
#     sent to it directly; each under a second. The camera's task gets no reply then.
source "$(dirname "$0")/../lib/lib.sh"
need_root "the gateway with device authentication on the rig"

ep_rig_init a
PK=$EP_TMP/pki

# gw, two workers, the camera, and x: a host of the segment that is nobody's node.
cat >"$EP_TMP/auth.topo" <<'EOF'
mtu 1500
queues 1
node gw role=gateway
node w1 role=worker capacity=100
node w2 role=worker capacity=100
node cam role=client
node x role=client
EOF
ep_rig_up_or_bail "$EP_TMP/auth.topo" "rig up: a gateway, two workers, a camera, a host"
GW=$(rig addr gw) W1=$(rig addr w1) W2=$(rig addr w2) X=$(rig addr x)
ENROLL=$GW:7881

{ ep_pki "$PK" "$GW" && ep_cert cam-001 camera 7 && ep_cert w1 node 0 && ep_cert w2 node 0; } || {
	not_ok "ep-pki.sh makes the certificates"
	diag "$(tail -5 "$EP_TMP/pki.log")"
	tap_done
	exit 1
}

# --- the controller ------------------------------------------------------------------------
# The camera's role: echo and checksum, well within its rates (the rates are
# test_auth.sh's and test_gateway's subject). Policy hash: tasks spread over both workers
# by their task ids, whatever the loads.
cat >"$EP_TMP/policy.conf" <<EOF
roles = { camera = { types = [1, 2]; max_priority = 3; tasks_per_s = 2000; burst_tasks = 500;
                     kib_per_s = 100000; burst_kib = 10000; max_task_len = 1048576; }; };
EOF
cat >"$EP_TMP/ctl.conf" <<EOF
gateway: { interface = "eth0"; keep_attached = false; };
control: { listen = "$GW:7879"; allow_register = true; };
policy: { name = "hash"; };
enroll: { listen = "$ENROLL"; cert = "$PK/ctl.crt"; key = "$PK/ctl.key"; ca = "$PK/ca.crt";
          policy = "$EP_TMP/policy.conf"; key_ttl_s = 600; };
EOF
# Refused settings first: nothing attached, exit 2, the way out named.
grep -v '^enroll\|^ *policy = ' "$EP_TMP/ctl.conf" >"$EP_TMP/noenroll.conf"
out=$(rig exec gw "$BIN/edgectl" serve --config "$EP_TMP/noenroll.conf" \
	--socket "$EP_TMP/bad.sock" 2>&1); rc=$?
expect_eq "auth.mode required (the default) without enrollment: refused (exit 2), naming enroll and auth.mode = \"off\"" \
	"$rc:$(grep -c 'without enrollment: the gateway would drop every task; set the group enroll.*auth.mode = "off"' <<<"$out")" \
	"2:1"
{ cat "$EP_TMP/ctl.conf"; echo 'auth: { mode = "sometimes"; };'; } >"$EP_TMP/badmode.conf"
out=$(rig exec gw "$BIN/edgectl" serve --config "$EP_TMP/badmode.conf" \
	--socket "$EP_TMP/bad.sock" 2>&1); rc=$?
expect_eq "auth.mode \"sometimes\": refused (exit 2) naming file, line and setting" \
	"$rc:$(grep -c 'badmode.conf:[0-9]*: mode: must be "required", "optional" or "off"' <<<"$out")" \
	"2:1"

CTL_PID=
"$RIG" --prefix "$P" exec gw "$BIN/edgectl" serve --config "$EP_TMP/ctl.conf" --socket "$SOCK" \
	>"$EP_TMP/ctl.log" 2>&1 &
CTL_PID=$!
stop_ctl() { [[ -n $CTL_PID ]] && { kill "$CTL_PID" 2>/dev/null; wait "$CTL_PID" 2>/dev/null; }; }
on_exit stop_ctl
if ! wait_for_line "$EP_TMP/ctl.log" "controller ready" 10; then
	not_ok "the controller starts with enrollment"
	diag "$(tail -5 "$EP_TMP/ctl.log")"
	tap_done
	exit 1
fi
expect_eq "the gateway's XDP is in mode required (edgectl status)" \
	"$(ctl status --json | jq -r .auth_mode)" required

# --- two workers, their keys from the controller -------------------------------------------
# start_worker N: the runtime on wN (auth.mode required, the default), its keys and node id
# from the controller's sync, reporting sealed loads; tasks to the virtual address (DSR).
start_worker() {
	local n=$1
	cat >"$EP_TMP/w$n.conf" <<EOF
interface = "eth0";
handlers = ( { name = "echo"; }, { name = "checksum"; } );
xdp = { virtual_addresses = [ "$GW" ]; };
auth: { controller = "$ENROLL"; cert = "$PK/w$n.crt"; key = "$PK/w$n.key"; ca = "$PK/ca.crt";
        sync_ms = 250; };
report = { controller = "$GW:7879"; interval_ms = 100; cpu = "process"; };
EOF
	rm -f "$EP_TMP/w$n.ready"
	"$RIG" --prefix "$P" exec "w$n" "$BIN/edgeplane" -c "$EP_TMP/w$n.conf" \
		--stats-socket "$EP_TMP/w$n.sock" --ready-file "$EP_TMP/w$n.ready" \
		>"$EP_TMP/w$n.log" 2>&1 &
	wait_for_line "$EP_TMP/w$n.ready" . 10
}
wstat() { "$BIN/edgeplane" stats --socket "$EP_TMP/$1.sock" --json; }
# wxdp WORKER REASON: the worker's classifier's drop_auth_REASON.
wxdp() { wstat "$1" | jq --arg r "drop_auth_$2" '.classifier[$r] // 0'; }
wok() { wstat "$1" | jq '[.workers[].auth.ok] | add'; }
wdgrams() { wstat "$1" | jq '[.workers[].datagrams] | add'; }
# gxdp REASON: the gateway's drop_auth_REASON.
gxdp() { ctl stats --json | jq --arg r "drop_auth_$1" '.packets[$r] // 0'; }
nodes_json() { ctl node list --json; }

if ! start_worker 1 || ! start_worker 2; then
	not_ok "two workers start, syncing their keys from the controller"
	diag "$(tail -3 "$EP_TMP/w1.log") $(tail -3 "$EP_TMP/w2.log")"
	tap_done
	exit 1
fi
end=$((SECONDS + 8))
while ((SECONDS < end)) &&
	[[ $(nodes_json | jq '[.[] | select(.state == "up")] | length') != 2 ]]; do
	sleep 0.1
done
N1=$(wstat w1 | jq -r .auth.node_id) N2=$(wstat w2 | jq -r .auth.node_id)
expect_eq "both workers sync (node ids from the controller), check keys in XDP, and register by sealed reports" \
	"$(wstat w1 | jq -r '"\(.auth.connected) \(.auth.key_checks)"') $(wstat w2 | jq -r '"\(.auth.connected) \(.auth.key_checks)"') $(nodes_json | jq -c '[.[] | [.id, .state]] | sort')" \
	"true classifier true classifier $(jq -cn --argjson a "$N1" --argjson b "$N2" '[[$a, "up"], [$b, "up"]] | sort')"

# --- the camera enrolls; its tasks through the gateway ------------------------------------
enrolled=$(echo '{"op":"enroll"}' | rig exec cam timeout 10 openssl s_client -quiet \
	-connect "$ENROLL" -tls1_3 -cert "$PK/cam-001.crt" -key "$PK/cam-001.key" \
	-CAfile "$PK/ca.crt" 2>/dev/null | tail -1)
KEY=$(jq -r .key.key_id <<<"$enrolled" 2>/dev/null)
(umask 077 && jq '[.key]' <<<"$enrolled" >"$EP_TMP/cam.json" 2>/dev/null)
if [[ -z $KEY || $KEY == null ]]; then
	not_ok "cam-001 enrolls"
	diag "$enrolled"
	tap_done
	exit 1
fi
# cam [eptest-auth send options]: the camera, its counter kept, tasks ids from $TASK on.
TASK=$((0x7a000000 + RANDOM * 1000))
cam() {
	local r
	r=$(rig exec cam "$TOOLS/eptest-auth" send --keys "$EP_TMP/cam.json" --key-id "$KEY" \
		--ctr-file "$EP_TMP/ctr" --task-id "$TASK" "$@")
	TASK=$((TASK + 1000))
	echo "$r"
}
# The nodes learn the key at their next sync (250 ms): the first tasks may find one
# without it.
for _ in $(seq 20); do
	r=$(cam --to "$GW" --count 4 --wait-ms 200)
	[[ $(jq -r .results_ok <<<"$r") == 4 ]] && break
	sleep 0.1
done
ok1=$(wok w1) ok2=$(wok w2)
r=$(cam --to "$GW" --count 40 --size 3000 --wait-ms 1000)
d1=$(($(wok w1) - ok1)) d2=$(($(wok w2) - ok2))
if [[ $(jq -r '"\(.results_ok) \(.lost) \(.plain) \(.bad) \(.opened == .sealed and .opened > 0)"' <<<"$r") == "40 0 0 0 true" ]] &&
	((d1 > 0 && d2 > 0)); then
	ok "40 sealed echoes of 3000 bytes to the virtual address: all answered, sealed, right; by both workers ($d1 and $d2 datagrams verified)"
else
	not_ok "40 sealed echoes to the virtual address, answered by both workers"
	diag "$r; verified by w1 +$d1, w2 +$d2"
fi

# --- without AUTH ----------------------------------------------------------------------------
m0=$(gxdp missing) a0=$(wdgrams w1) b0=$(wdgrams w2)
r=$(cam --to "$GW" --plain --wait-ms 300)
expect_eq "a task without AUTH to the virtual address: no reply, dropped by the gateway's XDP (drop_auth_missing +1), no worker sees it" \
	"$(jq -r .replies <<<"$r") $(($(gxdp missing) - m0)) $(($(wdgrams w1) - a0 + $(wdgrams w2) - b0))" \
	"0 1 0"

# --- forged load reports ---------------------------------------------------------------------
rx() { ctl status --json | jq -r --arg o "$1" '.reports_by_outcome[$o] // 0'; }
miss0=$(rx auth_missing)
rig exec x "$TOOLS/eptest-report" --to "$GW:7879" --id 9 --ip4 "$X" --mac "$(rig mac x)" \
	--capacity 10000 --count 5 --interval-ms 20 >/dev/null 2>&1
rig exec x "$TOOLS/eptest-report" --to "$GW:7879" --id "$N1" --ip4 "$X" --mac "$(rig mac x)" \
	--capacity 10000 --seq 1000000 --count 5 --interval-ms 20 >/dev/null 2>&1
sleep 0.3
expect_eq "load reports from x, not an enrolled node (as node 9, and in worker $N1's name): refused unsealed (auth_missing +10), not in the table, worker $N1 unchanged" \
	"$(($(rx auth_missing) - miss0)) $(nodes_json | jq -c '[.[] | .id] | sort') $(ctl table --json | jq '[.nodes[] | select(.id == 9)] | length') $(nodes_json | jq -r --argjson id "$N1" '.[] | select(.id == $id) | "\(.ip4) \(.capacity)"')" \
	"10 $(jq -cn --argjson a "$N1" --argjson b "$N2" '[$a, $b] | sort') 0 $W1 100"

# --- a revocation ------------------------------------------------------------------------------
# Probes every ~20 ms, to the gateway and straight to each worker (its own address), until
# each one's XDP counts drop_auth_revoked: the time from `edgectl revoke` returning.
g0=$(gxdp revoked) v10=$(wxdp w1 revoked) v20=$(wxdp w2 revoked)
ms() { echo $(($(date +%s%3N) - T0)); }
gw_ms='' w1_ms='' w2_ms=''
ctl revoke --device cam-001 >"$EP_TMP/revoke.out"
T0=$(date +%s%3N)
for _ in $(seq 150); do
	if [[ -z $gw_ms ]]; then
		cam --to "$GW" --wait-ms 0 >/dev/null
		(($(gxdp revoked) > g0)) && gw_ms=$(ms)
	fi
	if [[ -z $w1_ms ]]; then
		cam --to "$W1" --wait-ms 0 >/dev/null
		(($(wxdp w1 revoked) > v10)) && w1_ms=$(ms)
	fi
	if [[ -z $w2_ms ]]; then
		cam --to "$W2" --wait-ms 0 >/dev/null
		(($(wxdp w2 revoked) > v20)) && w2_ms=$(ms)
	fi
	[[ -n $gw_ms && -n $w1_ms && -n $w2_ms ]] && break
	sleep 0.02
done
diag "revocation of cam-001 took effect: gateway ${gw_ms:-never} ms, w1 ${w1_ms:-never} ms, w2 ${w2_ms:-never} ms (each an upper bound: probes every ~20 ms plus the time to send one and read the counters)"
if [[ -n $gw_ms && -n $w1_ms && -n $w2_ms ]] && ((gw_ms < 1000 && w1_ms < 1000 && w2_ms < 1000)); then
	ok "edgectl revoke --device cam-001: dropped by the gateway's XDP after $gw_ms ms, by w1's after $w1_ms ms, by w2's after $w2_ms ms (drop_auth_revoked; each < 1 s)"
else
	not_ok "edgectl revoke --device cam-001: dropped by the gateway's and both workers' XDP within 1 s (drop_auth_revoked)"
	diag "$(cat "$EP_TMP/revoke.out")"
fi
g1=$(gxdp revoked)
r=$(cam --to "$GW" --wait-ms 300)
expect_eq "then the camera's task gets no reply, dropped at the gateway (revoked)" \
	"$(jq -r .replies <<<"$r") $(($(gxdp revoked) - g1))" "0 1"
check "the controller still runs" kill -0 "$CTL_PID"
tap_done
