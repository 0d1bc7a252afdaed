#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# libedgeplane and edgeload with session keys (docs/protocol.md 3.5, 7.5), on a veth pair:
#   1. Against tests/tools/authnode.py, a controller and node written from the spec with
#      Python's ssl and cryptography (independent of auth.c and enroll.c): enrollment with
#      certificates over TLS 1.3, tasks sealed and answered; renewal while a load runs; a
#      certificate from another CA and a role outside the policy refused at open, with the
#      reason; a static key file, and one others may read refused; a task the role forbids
#      refused before it is sent; replies with a bad tag dropped and counted, the tasks
#      answered by their retries; forged unauthenticated ERRORs ignored.
#   1b. Against the controller (edgectl serve): enrollment, a role outside its policy,
#      a priority above the role's ceiling.
#   2. Against the runtime with a keys file (auth.mode "required"): edgeload with a static
#      key completes 3-fragment tasks, twice in a row with the same key (the second
#      process's counters above the first's: nothing dropped as a replay), and asks the
#      node's limits with a sealed PING. Skipped while the runtime does not take the auth
#      settings.
#   3. The whole system: edgeload enrolls with the controller, the runtime learns the keys by
#      sync, a 9 s load crosses two renewals (keys of 6 s) without a drop or a retry.
source "$(dirname "$0")/../lib/lib.sh"
need_root "namespaces"

EL="$BIN/edgeload"
if ! have_authnode; then
	skip "authenticated sessions against a node written from the spec" \
		"python3 with the cryptography package is not installed"
	tap_done
	exit 0
fi
ep_setup_pair || ep_bail "set up namespaces and veth"
{ ep_pki "$EP_TMP/pki" && ep_cert cam-001 camera 7 && ep_cert cam-002 narrow 7 &&
	ep_cert cam-666 intruder 7 && ep_cert cam-007 camera 7 "$EP_PKI/other"; } ||
	ep_bail "make the certificates with scripts/ep-pki.sh" "$EP_TMP/pki.log" 5

# node NAME [authnode.py options]: the stand-in, its counters in $EP_TMP/node-NAME.json once
# stopped (ep_stop_authnode).
node() {
	NODE_STATS=$EP_TMP/node-$1.json
	shift
	ep_start_authnode "$NODE_STATS" "$@"
}
stop_node() { ep_stop_authnode; }
nstat() { jq -r ".$1" "$NODE_STATS"; }
enroll_as() { ep_enroll_opts "$@"; }
# totals OUT: "sent done failed" of a load's summary.
totals() { awk '$1 == "total" { print $2, $3, $4 }' <<<"$1"; }
# counter OUT WORDS: the number before WORDS in the auth line.
counter() { grep -o "[0-9]* $2" <<<"$1" | head -1 | cut -d' ' -f1; }

# --- 1. against the stand-in ---------------------------------------------------------
node enroll
out=$(in_a "$EL" run --to $ADDR_B --type echo --size 300 $(enroll_as cam-001) 2>&1); rc=$?
if [[ $rc -eq 0 && $out == *"auth: cam-001 (role camera, tenant 7), key 1;"* &&
	$out == *"0 bad tag, 0 unknown key, 0 unsealed"* ]]; then
	ok "edgeload run --enroll: a key over TLS 1.3 with the device's certificate, the task sealed and answered"
else
	not_ok "edgeload run --enroll: a key over TLS 1.3 with the device's certificate"
	diag "rc $rc: $out"
fi
out=$(in_a "$EL" load --to $ADDR_B --type checksum --size 100 --count 500 --concurrency 16 \
	$(enroll_as cam-001) 2>&1); rc=$?
stop_node
# Every datagram sealed (a retry on a busy machine is sealed too, with a fresh number),
# and every one opened: the node counts one more, the task of `edgeload run` above.
sealed=$(grep -oE '[0-9]+ datagrams sealed' <<<"$out" | cut -d' ' -f1)
if [[ $rc -eq 0 && $(totals "$out") == "500 500 0" && ${sealed:-0} -ge 500 &&
	$(nstat opened) == $((sealed + 1)) &&
	$(nstat bad_tag) == 0 && $(nstat replay) == 0 && $(nstat plain) == 0 ]]; then
	ok "500 tasks: $sealed datagrams sealed, all opened by the node (no bad tag, replay or clear one)"
else
	not_ok "500 tasks sealed and opened by the node"
	diag "rc $rc: $(tail -5 <<<"$out")"
	diag "node: $(cat "$NODE_STATS")"
fi

# Renewal: keys of 3 s, renewed after 2 s, under a load of 5 s.
node renew --ttl-ms 3000 --renew-ms 2000
out=$(in_a "$EL" load --to $ADDR_B --type echo --size 64 --rate 200 --duration 5s \
	$(enroll_as cam-001) 2>&1); rc=$?
stop_node
enrolled=$(nstat enrolled)
read -r sent done failed <<<"$(totals "$out")"
if [[ $rc -eq 0 && $enrolled -ge 3 && $(nstat key_ids | jq length) -ge 3 &&
	$(nstat bad_tag) == 0 && $failed == 0 && $done == "$sent" &&
	$(counter "$out" "enrollments") == "$enrolled" ]]; then
	ok "renewal under load: $enrolled keys in 5 s (3 s each, renewed after 2 s), every task answered"
else
	not_ok "renewal under load"
	diag "rc $rc, $enrolled enrollments: $(tail -6 <<<"$out")"
fi

node refuse
# refused CASE PATTERN EDGELOAD-ARGS...: edgeload run exits 1 and says PATTERN.
refused() {
	local what=$1 want=$2 out rc
	shift 2
	out=$(in_a "$EL" run --to $ADDR_B --type echo --size 10 "$@" 2>&1); rc=$?
	if [[ $rc -eq 1 && $out == *"$want"* ]]; then
		ok "$what: ${out#*: error: }"
	else
		not_ok "$what"
		diag "rc $rc: $out"
	fi
}
refused "a certificate of another CA: the handshake fails, the open says so" \
	"enrollment with $ADDR_B:7881:" $(enroll_as cam-007 "$EP_PKI/other")
refused "a role outside the policy: refused at open with the controller's words" \
	'role "intruder" is not in the policy' $(enroll_as cam-666)
refused "a task type the role does not allow is refused before it is sent" \
	"echo task not sent: task type not allowed by the key's role" $(enroll_as cam-002)
stop_node

# A static key the node knows (ep_key: issued now, an hour long).
ep_key 40 name='"cam-040"' types='[1,2]' max_priority=5 >"$EP_TMP/static.json"
chmod 600 "$EP_TMP/static.json"
node static --keys "$EP_TMP/static.json" --corrupt-every 5 --forge-errors
out=$(in_a "$EL" load --to $ADDR_B --type echo --size 64 --count 100 --concurrency 4 \
	--timeout-ms 50 --auth-key "$EP_TMP/static.json" 2>&1); rc=$?
stop_node
bad=$(counter "$out" "bad tag")
unsealed=$(counter "$out" "unsealed")
if [[ $rc -eq 0 && $(totals "$out") == "100 100 0" && $bad == "$(nstat replied | awk '{print int($1 / 5)}')" &&
	$unsealed == "$(nstat replied)" ]]; then
	ok "a static key (--auth-key): every 5th reply's tag broken and a forged ERROR before each: $bad dropped as bad tag, $unsealed ignored, all 100 tasks answered"
else
	not_ok "a static key, with broken tags and forged ERRORs"
	diag "rc $rc: $(tail -6 <<<"$out")"
fi
chmod 644 "$EP_TMP/static.json"
out=$(in_a "$EL" run --to $ADDR_B --type echo --size 10 --auth-key "$EP_TMP/static.json" 2>&1)
rc=$?
expect_eq "a key file others may read is refused (exit 1, says chmod 600)" \
	"$rc:$(grep -c 'chmod 600' <<<"$out")" "1:1"
out=$(in_a "$EL" run --to $ADDR_B --type echo --auth-key "$EP_TMP/static.json" \
	--cert "$EP_PKI/cam-001.crt" 2>&1); rc=$?
expect_eq "--auth-key with --cert is a usage error (exit 2)" "$rc" 2

# --- 1b. enrollment with the controller (edgectl serve) --------------------------------
cat >"$EP_TMP/policy.conf" <<EOF
roles = { camera = { types = [1, 2]; max_priority = 3; }; };
EOF
cat >"$EP_TMP/ctl.conf" <<EOF
gateway: { interface = "$IF_B"; keep_attached = false; relay_replies = false; };
control: { listen = "$ADDR_B:7879"; };
enroll: { listen = "$ADDR_B:7881"; cert = "$EP_PKI/ctl.crt"; key = "$EP_PKI/ctl.key";
          ca = "$EP_PKI/ca.crt"; crl = "$EP_PKI/crl.pem"; policy = "$EP_TMP/policy.conf";
          key_ttl_s = 60; };
EOF
CTL_PID=
stop_ctl() { [[ -z $CTL_PID ]] || { kill "$CTL_PID" 2>/dev/null; wait "$CTL_PID" 2>/dev/null; }; }
on_exit stop_ctl
if ep_setup_bpffs; then
	ip netns exec "$NS_B" "$BIN/edgectl" serve --config "$EP_TMP/ctl.conf" \
		--socket "$EP_TMP/ctl.sock" >"$EP_TMP/ctl.log" 2>&1 &
	CTL_PID=$!
fi
if [[ -n $CTL_PID ]] && wait_for_line "$EP_TMP/ctl.log" "controller ready" 10; then
	# No node answers on port 7900: the task times out, the key is what is checked.
	out=$(in_a "$EL" run --to $ADDR_B --port 7900 --type echo --size 10 --attempts 1 \
		--timeout-ms 100 $(enroll_as cam-001) 2>&1)
	if [[ $out == *"auth: cam-001 (role camera, tenant 7), key "*"; 1 datagrams sealed;"* ]]; then
		ok "the controller (edgectl serve) enrolls edgeload: cam-001, role camera, tenant 7, one datagram sealed with its key"
	else
		not_ok "the controller enrolls edgeload"
		diag "$out"
	fi
	refused "the controller refuses a role outside its policy" \
		"enrollment with $ADDR_B:7881: the controller refused: role 'narrow' is not in" \
		--port 7900 $(enroll_as cam-002)
	out=$(in_a "$EL" run --to $ADDR_B --port 7900 --type echo --prio 5 --size 10 \
		$(enroll_as cam-001) 2>&1); rc=$?
	expect_eq "priority 5 above the controller's role ceiling (3): not sent, exit 1" \
		"$rc:$(grep -c 'not sent: priority above the key' <<<"$out")" "1:1"
else
	not_ok "the controller starts with enrollment on $ADDR_B:7881"
	diag "$(tail -5 "$EP_TMP/ctl.log" 2>/dev/null)"
fi
stop_ctl

# --- 2. against the runtime ------------------------------------------------------------
chmod 600 "$EP_TMP/static.json"
ep_keys_file "$EP_TMP/keys.json" "$(cat "$EP_TMP/static.json")"
cat >"$EP_TMP/rt.conf" <<CONF
interface = "$IF_B";
queues = [0];
handlers = ( { name = "echo"; }, { name = "checksum"; } );
auth: { mode = "required"; keys_file = "$EP_TMP/keys.json"; node_id = 4242; };
CONF
if ! out=$("$BIN/edgeplane" -c "$EP_TMP/rt.conf" --check-config 2>&1); then
	skip "edgeload --auth-key against the runtime" \
		"this runtime does not take auth settings ($(tail -1 <<<"$out"))"
	tap_done
	exit
fi
{ ep_setup_bpffs && ep_start_runtime "$EP_TMP/rt.log" -c "$EP_TMP/rt.conf"; } ||
	ep_bail "the runtime starts with a keys file" "$EP_TMP/rt.log" 5
on_exit ep_stop_runtime
rtstat() { "$BIN/edgeplane" stats --socket "$EP_TMP/stats.sock" --json; }
# Twice with the same static key, one process after the other: the second one's counters
# start above the first one's (the runtime's replay window would drop repeats).
for run in 1 2; do
	out=$(in_a "$EL" load --to $ADDR_B --type echo --size 3000 --no-compress --count 200 \
		--concurrency 8 --auth-key "$EP_TMP/static.json" 2>&1); rc=$?
	sealed=$(counter "$out" "datagrams sealed")
	if [[ $rc -eq 0 && $(totals "$out") == "200 200 0" && $sealed -ge 600 &&
		$out == *"0 bad tag, 0 unknown key, 0 unsealed"* ]]; then
		ok "edgeload --auth-key against the runtime, run $run: 200 tasks of 3 fragments, $sealed datagrams sealed, every reply opened"
	else
		not_ok "edgeload --auth-key against the runtime, run $run"
		diag "rc $rc: $(tail -6 <<<"$out")"
	fi
done
st=$(rtstat)
expect_eq "the runtime verified every datagram of both runs and dropped none (replay, tag, freshness)" \
	"$(jq '[.workers[].auth.dropped // {} | to_entries[].value] | add // 0' <<<"$st")" 0
diag "runtime auth: $(jq -c '[.workers[].auth]' <<<"$st")"
out=$(in_a "$EL" limits --to $ADDR_B --auth-key "$EP_TMP/static.json" 2>&1); rc=$?
expect_eq "edgeload limits with the key: a sealed PING, a sealed PONG" "$rc" 0
[[ $rc -eq 0 ]] || diag "$out"
ep_stop_runtime

# --- 3. the whole system: controller, runtime syncing from it, edgeload enrolling --------
# The controller in $NS_A (its gateway on $IF_A), the runtime in $NS_B learning keys by
# sync every 250 ms, edgeload in $NS_A enrolling at $ADDR_A:7881 with keys of 6 s, renewed
# after 4 s, under a load of 9 s.
EP_ENROLL_AT=$ADDR_A:7881
cat >"$EP_TMP/ctl-a.conf" <<EOF
gateway: { interface = "$IF_A"; keep_attached = false; relay_replies = false; };
control: { listen = "$ADDR_A:7879"; allow_register = true; };
enroll: { listen = "$EP_ENROLL_AT"; cert = "$EP_PKI/ctl-a.crt"; key = "$EP_PKI/ctl-a.key";
          ca = "$EP_PKI/ca.crt"; policy = "$EP_TMP/policy.conf"; key_ttl_s = 6; };
EOF
ep_synced_node_conf "$EP_PKI" "$EP_ENROLL_AT" >"$EP_TMP/rt-sync.conf"
{ "$EP_ROOT/scripts/ep-pki.sh" issue "$EP_PKI" ctl-a controller 0 --addr $ADDR_A \
	>>"$EP_TMP/pki.log" 2>&1 && ep_cert node1 node 0; } ||
	ep_bail "certificates for the controller in $NS_A and the node"
ip netns exec "$NS_A" "$BIN/edgectl" serve --config "$EP_TMP/ctl-a.conf" \
	--socket "$EP_TMP/ctl-a.sock" >"$EP_TMP/ctl-a.log" 2>&1 &
CTL_PID=$!
wait_for_line "$EP_TMP/ctl-a.log" "controller ready" 10 ||
	ep_bail "the controller in $NS_A starts" "$EP_TMP/ctl-a.log" 3
ep_start_runtime "$EP_TMP/rt-sync.log" -c "$EP_TMP/rt-sync.conf" ||
	ep_bail "a runtime syncing from it starts" "$EP_TMP/rt-sync.log" 3
for _ in $(seq 60); do
	[[ $(rtstat | jq -r .auth.connected) == true ]] && break
	sleep 0.1
done
rtdrops() { rtstat | jq '[.workers[].auth.dropped // {} | to_entries[].value] | add // 0'; }
in_a "$EL" load --to $ADDR_B --type echo --size 200 --rate 100 --duration 9s \
	$(enroll_as cam-001) >"$EP_TMP/load.out" 2>&1 &
LOAD_PID=$!
# The session's first key seals at once and the runtime learns it at its next sync: the
# first tasks may be dropped and retried. The renewals (at 4 s and 8 s) must cost nothing:
# the old key seals until the runtime has the fresh one.
sleep 2
drops_2s=$(rtdrops)
wait $LOAD_PID
rc=$?
out=$(cat "$EP_TMP/load.out")
read -r sent done failed <<<"$(totals "$out")"
enrolled=$(counter "$out" "enrollments")
drops=$(rtdrops)
if [[ $rc -eq 0 && $failed == 0 && $done == "$sent" && $sent -ge 800 && ${enrolled:-1} -ge 3 &&
	$drops == "$drops_2s" ]]; then
	ok "edgeload enrolls with the controller, the runtime learns each key by sync: $sent tasks over $enrolled keys (6 s, renewed after 4 s), none failed; nothing dropped across the renewals ($drops_2s in the first 2 s, the first key's sync, retried)"
else
	not_ok "edgeload with the controller and a syncing runtime, across renewals"
	diag "rc $rc, $enrolled enrollments, runtime drops $drops_2s in 2 s, $drops in all: $(tail -4 <<<"$out")"
	diag "runtime auth: $(rtstat | jq -c '[.workers[].auth]')"
fi
ep_stop_runtime
stop_ctl
tap_done
