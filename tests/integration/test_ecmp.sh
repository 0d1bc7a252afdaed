#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Several gateways behind ECMP sharing one cluster state in etcd (issue 16, docs/cluster.md
# "Several gateways behind ECMP"). The rig's ecmp.topo: clients on a front segment reach
# the virtual address through a router whose multipath route (L4 hash) spreads their flows
# over gateways A and B; each gateway has its own controller, both on one prefix of a
# three-member etcd cluster; three workers behind run the count plugin, so executions are
# counted where they happen. Checked:
#   - both gateways carry traffic, and every task is answered and run once;
#   - edgectl table shows the same table digest on both; a drain made on A's controller is
#     in force in B's gateway maps within 1 s (measured);
#   - with policy hash, a flow that moves from B to A lands on the same worker (and what
#     P2C does for the same flows, with idle workers and with A busy, is measured and
#     printed);
#   - B killed mid-run (controller and XDP), its next hop withdrawn at the router as a
#     routing daemon would: no task lost, none run twice.
source "$(dirname "$0")/../lib/lib.sh"
need_root "a rig with a router, gateways and etcd members in network namespaces"
if ! command -v etcd >/dev/null || ! command -v etcdctl >/dev/null; then
	skip "several gateways behind ECMP" "etcd-server and etcd-client are not installed (scripts/deps.sh)"
	tap_done
	exit 0
fi

ep_rig_init e
# --- the topology's refusals (vm/rig topo checks a file without building it) ---------------
# topo_refused CASE TEXT LINE...: a topology of these lines is refused (status 2) saying TEXT.
topo_refused() {
	local what=$1 text=$2
	shift 2
	printf '%s\n' "$@" >"$EP_TMP/bad.topo"
	expect_refusal "$what" "$text" "$RIG" --prefix "$P" topo "$EP_TMP/bad.topo"
}
topo_refused "a router without a vip is refused" "no 'vip' line" \
	"node r role=router" "node gw role=gateway"
topo_refused "a router without a gateway is refused" "no gateway" \
	"vip 198.19.255.1" "node r role=router"
topo_refused "a vip on the main segment is refused" "off both segments" \
	"vip 198.18.0.5" "node r role=router" "node gw role=gateway"
topo_refused "an IPv6 vip on the front segment is refused" "outside 2001:db8::/64" \
	"vip 198.19.255.1 2001:db8:1::5" "node r role=router" "node gw role=gateway"
topo_refused "a front segment without a router is refused" "needs a node with role=router" \
	"node c role=client segment=front" "node gw role=gateway"
topo_refused "a worker on the front segment is refused" "is for clients" \
	"vip 198.19.255.1" "node r role=router" "node w role=worker segment=front" "node gw role=gateway"
topo_refused "a second router is refused" "a second router" \
	"vip 198.19.255.1" "node r role=router" "node r2 role=router" "node gw role=gateway"

ep_rig_up_or_bail "$EP_ROOT/vm/topo/ecmp.topo" "rig up ecmp.topo"
check "status says the rig is healthy (front clients on the second bridge)" quiet rig status
expect_eq "a second up changes nothing" "$(rig up "$EP_ROOT/vm/topo/ecmp.topo" | head -1 | grep -o '(no changes)')" \
	"(no changes)"
expect_refusal "nexthops names gateways only" "not a gateway" "$RIG" --prefix "$P" nexthops w1
VIP=$(rig topo --json | jq -r '.vip[0]')
WORKERS=(w1 w2 w3) CLIENTS=(c1 c2)
declare -A GW_ADDR=([gwa]=$(rig addr gwa) [gwb]=$(rig addr gwb))

# --- the rig's ECMP plumbing ---------------------------------------------------------------
expect_eq "the router's route for the vip has both gateways as next hops" \
	"$(rig nexthops | tr '\n' ' ')" "gwa gwb "
expect_eq "the router hashes flows by L4 ports (IPv4 and IPv6)" \
	"$(rig exec r sysctl -n net.ipv4.fib_multipath_hash_policy net.ipv6.fib_multipath_hash_policy | tr '\n' ' ')" \
	"1 1 "
check "a client on the front segment pings the vip through the router (IPv4 and IPv6)" \
	quiet rig exec c1 sh -c "ping -c 1 -W 2 $VIP && ping -6 -c 1 -W 2 $(rig topo --json | jq -r '.vip[1]')"

# --- etcd, and a controller per gateway --------------------------------------------------
ep_etcd_up || ep_bail "three etcd members healthy within 30 s" "$EP_TMP/etcd/1.log"
ok "three etcd members, each in a namespace of its own, healthy"
ep_etcd_join "$(rig ns gwa)" etcd0 198.18.9.11 && ep_etcd_join "$(rig ns gwb)" etcd0 198.18.9.12 ||
	ep_bail "the gateways reach etcd (a second interface each)"

PLUGIN=$(ep_plugin libepcount.so) || ep_bail "install the count plugin"
PREFIX=/edgeplane/e$EP_SUFFIX/
EPS_CONF=$(sed 's/[^,]*/"&"/g; s/,/, /g' <<<"$EP_ETCD_ENDPOINTS")
NODES_CONF=""
for i in 1 2 3; do
	NODES_CONF+="${NODES_CONF:+, }{ id = $i; name = \"w$i\"; mac = \"$(rig mac w$i)\"; ip4 = \"$(rig addr w$i)\"; capacity = 100; }"
done
declare -A CTL_PID=()
# start_ctl G: edgectl serve on gateway G's eth0, reports on its address, the cluster's
# state in etcd. Each runs in a UTS namespace named after its gateway: a controller's name
# in etcd is <host>-<interface>, and both interfaces are eth0.
start_ctl() {
	local g=$1
	cat >"$EP_TMP/$g.conf" <<EOF
gateway: { interface = "eth0"; };
control: { socket = "$EP_TMP/$g.sock"; listen = "${GW_ADDR[$g]}:7879"; dead_after_ms = 500; };
etcd: { endpoints = [ $EPS_CONF ]; prefix = "$PREFIX"; timeout_ms = 1000; lease_ttl_s = 3; };
nodes = ( $NODES_CONF );
rate_limit = { $EP_HIGH_GW_LIMITS };
$EP_AUTH_OFF
EOF
	: >"$EP_TMP/$g.log"
	"$RIG" --prefix "$P" exec "$g" unshare --uts sh -c 'hostname "$0" && exec "$@"' "$g" \
		"$BIN/edgectl" serve --config "$EP_TMP/$g.conf" >>"$EP_TMP/$g.log" 2>&1 &
	CTL_PID[$g]=$!
	wait_for_line "$EP_TMP/$g.log" "controller ready" 10
}
stop_ctls() { local g; for g in "${!CTL_PID[@]}"; do kill "${CTL_PID[$g]}" 2>/dev/null; done; }
on_exit stop_ctls
gctl() { local g=$1; shift; timeout 20 "$BIN/edgectl" --socket "$EP_TMP/$g.sock" "$@"; }
synced() { [[ $(gctl "$1" status --json 2>/dev/null | jq -r '.etcd.synced' 2>/dev/null) == true ]]; }
start_ctl gwa && start_ctl gwb || ep_bail "controllers on gwa and gwb start with etcd" "$EP_TMP/gwb.log"
wait_cond 5 synced gwa && wait_cond 5 synced gwb
ok "a controller on each gateway, both reading and watching prefix $PREFIX"

# --- workers -------------------------------------------------------------------------------
# Each gateway's controller needs every worker's reports (docs/cluster.md): the runtime
# sends each report to both (report.controllers).
for w in "${WORKERS[@]}"; do
	n=${w#w}
	cat >"$EP_TMP/$w.conf" <<EOF
report = { controllers = [ "${GW_ADDR[gwa]}:7879", "${GW_ADDR[gwb]}:7879" ]; node_id = $n;
	capacity = 100; cpu = "process"; };
xdp = { virtual_addresses = [ "$VIP" ]; };
rate_limit = { $EP_HIGH_LIMITS };
cache: { window_ms = 10000; };
$EP_SIGNING
handlers = ( { plugin = "$PLUGIN"; name = "count"; type = 900; }, { name = "echo"; } );
$EP_AUTH_OFF
EOF
	"$RIG" --prefix "$P" exec "$w" "$BIN/edgeplane" -c "$EP_TMP/$w.conf" -i eth0 \
		--stats-socket "$EP_TMP/$w.stats" --ready-file "$EP_TMP/$w.ready" >"$EP_TMP/$w.log" 2>&1 &
	wait_for_line "$EP_TMP/$w.ready" . 10 || diag "$w did not start: $(tail -3 "$EP_TMP/$w.log")"
done
up_on() { [[ $(gctl "$1" node list --json | jq '[.[] | select(.state == "up")] | length') == 3 ]]; }
if wait_cond 5 up_on gwa && wait_cond 5 up_on gwb; then
	ok "both controllers see the three workers up (their reports reach both)"
else
	not_ok "both controllers see the three workers up"
	diag "A: $(gctl gwa node list 2>&1 | tr '\n' ';') B: $(gctl gwb node list 2>&1 | tr '\n' ';')"
fi

# type_sum FIELD: FIELD of the count handler's task type (the runtime's totals over its
# workers: "completed", tasks its handler ran and answered; "cache_hits", retries answered
# from the result cache without running), summed over the workers.
type_sum() {
	local w s=0 v
	for w in "${WORKERS[@]}"; do
		v=$("$BIN/edgeplane" stats --socket "$EP_TMP/$w.stats" --json 2>/dev/null |
			jq --arg f "$1" '[.types[] | select(.handler == "count") | .[$f]] | add // 0')
		s=$((s + ${v:-0}))
	done
	echo "$s"
}
executions() { type_sum completed; }
# forwarded G: tasks gateway G's XDP has forwarded (DSR), from its controller.
forwarded() { gctl "$1" stats --json | jq -r '.decisions.fwd_dsr // 0'; }
# flows DIR N COUNT|DURATION [edgeload options]: N edgeload processes from each client (each
# one socket, so one flow), closed loop, 2 count tasks outstanding, COUNT tasks each (or
# for DURATION, "4s"), in the background (pids in FLOW_PIDS); their JSON and timelines in DIR.
flows() {
	local dir=$1 n=$2 count=$3 c i until=(--count "$3")
	shift 3
	[[ $count == *s ]] && until=(--duration "$count")
	mkdir -p "$dir"
	FLOW_PIDS=()
	for c in "${CLIENTS[@]}"; do
		for ((i = 0; i < n; i++)); do
			rig exec "$c" timeout 60 "$BIN/edgeload" load --to "$VIP" --type 900 --size 64 \
				--concurrency 2 "${until[@]}" --timeline "$dir/$c.$i.tl" --json "$@" \
				>"$dir/$c.$i.json" 2>"$dir/$c.$i.err" &
			FLOW_PIDS+=($!)
		done
	done
}
# sum_json DIR EXPR: EXPR summed over the edgeload outputs in DIR.
sum_json() { cat "$1"/*.json | jq -s "[.[] | $2] | add // 0"; }

# --- both gateways carry traffic -----------------------------------------------------------
# The default policy, P2C. A retry (its first attempt only slow: 200 ms, as under the
# sanitizers) is a new placement: P2C may send it to the other candidate, where it runs
# again, unlike with hash (below). So executions may exceed the tasks answered, by at most
# the retries, and those extra runs are printed.
x0=$(executions) a0=$(forwarded gwa) b0=$(forwarded gwb)
flows "$EP_TMP/spread" 8 100
wait "${FLOW_PIDS[@]}"
done_n=$(sum_json "$EP_TMP/spread" .total.completed)
failed=$(sum_json "$EP_TMP/spread" .total.failed)
retries=$(sum_json "$EP_TMP/spread" '.total.retries // 0')
a=$(($(forwarded gwa) - a0)) b=$(($(forwarded gwb) - b0)) x=$(($(executions) - x0))
diag "16 flows, 1600 tasks: gateway A forwarded $a, B $b; $done_n answered, $failed failed, $retries retries; $x executions ($((x - done_n)) retries ran again on another worker)"
check "ECMP spreads the flows: both gateways forward tasks (A $a, B $b)" test "$a" -gt 0 -a "$b" -gt 0
expect_eq "every task is answered (answered, failed)" "$done_n $failed" "1600 0"
check "every task ran, and only a retry ran again: $done_n <= $x executions <= $((done_n + retries))" \
	test "$x" -ge "$done_n" -a "$x" -le "$((done_n + retries))"
check "the gateways forwarded the tasks and their retries ($((a + b)) = 1600 + $retries)" \
	test "$((a + b))" -eq "$((1600 + retries))"

# --- one table; a drain on A in force in B's maps within 1 s ------------------------------
digest() { gctl "$1" table --json --sample 0 | jq -r '.table_digest'; }
da=$(digest gwa) db=$(digest gwb)
check "edgectl table shows the same table digest on both gateways ($da, $db)" \
	test -n "$da" -a "$da" != null -a "$da" == "$db"
map_state() {
	gctl "$1" table --json --sample 0 | jq -r --argjson id "$2" '.nodes[] | select(.id == $id) | .state'
}
is_map_state() { [[ $(map_state "$1" "$2") == "$3" ]]; }
t0=$(date +%s%N)
check "edgectl node drain 3 on A's controller" quiet gctl gwa node drain 3
if wait_cond 1 is_map_state gwb 3 drained; then
	ok "the drain is in force in B's gateway maps within 1 s ($((($(date +%s%N) - t0) / 1000000)) ms)"
else
	not_ok "the drain is in force in B's gateway maps within 1 s"
	diag "B's map says node 3 is $(map_state gwb 3)"
fi
check "undrain on B's controller" quiet gctl gwb node undrain 3
wait_cond 2 is_map_state gwa 3 up
expect_eq "and the digests still agree" "$(digest gwa)" "$(digest gwb)"

# --- a flow that moves from B to A: the same worker? ---------------------------------------
# K flows (client c1, a source port and a task id each), each sent once through B alone
# and once through A alone (the router's next hops set by hand); the worker a gateway
# chose is the node whose count in that gateway's node list moved.
tasks_by_node() { gctl "$1" node list --json | jq -c '[.[] | .gateway.tasks]'; }
chosen() {
	local g=$1 sport=$2 id=$3 before after
	before=$(tasks_by_node "$g")
	rig exec c1 "$TOOLS/eptest-send" --to "$VIP" --sport "$sport" --id-base "$id" --count 1 \
		--type 900 --wait-ms 300 >/dev/null 2>&1
	after=$(tasks_by_node "$g")
	jq -rn --argjson b "$before" --argjson a "$after" \
		'[range($a | length) | select($a[.] != $b[.]) | . + 1] | map(tostring) | join("+")'
}
K=12
P2C_ON_B=()	# the worker of each flow through B, in the last same_worker
# same_worker POLICY: SAME = how many of the K flows land on the same worker through B
# and through A.
same_worker() {
	local k gw same=0
	local -A on=()
	for gw in gwb gwa; do
		rig nexthops "$gw" >/dev/null
		for ((k = 0; k < K; k++)); do on[$gw.$k]=$(chosen "$gw" $((42000 + k)) $((7000 + k * 13))); done
	done
	rig nexthops gwa gwb >/dev/null
	for ((k = 0; k < K; k++)); do
		[[ -n ${on[gwa.$k]} && ${on[gwa.$k]} == "${on[gwb.$k]}" ]] && same=$((same + 1))
	done
	diag "policy $1: flow -> worker through B: $(for ((k = 0; k < K; k++)); do printf '%s ' "${on[gwb.$k]:--}"; done)"
	diag "policy $1: flow -> worker through A: $(for ((k = 0; k < K; k++)); do printf '%s ' "${on[gwa.$k]:--}"; done)"
	SAME=$same
	for ((k = 0; k < K; k++)); do P2C_ON_B[$k]=${on[gwb.$k]}; done
}
check "policy set policy=hash on A" quiet gctl gwa policy set policy=hash
is_policy() { [[ $(gctl "$1" policy --json | jq -r .policy) == "$2" ]]; }
check "and B applies it from etcd" wait_cond 2 is_policy gwb hash
same_worker hash
expect_eq "policy hash: each of $K flows moved from B to A lands on the same worker" "$SAME" "$K"
# P2C: the two candidates are the table's (the same on both), the choice between them
# each gateway's (its recent sent counts, the loads it has). Measured, not asserted: with
# idle workers both gateways mostly take the first candidate.
check "policy set policy=p2c on B" quiet gctl gwb policy set policy=p2c
wait_cond 2 is_policy gwa p2c
same_worker p2c
diag "policy p2c: $SAME of $K flows moved from B to A land on the same worker (idle workers)"
# P2C again, with A busy: the same flows through A while a client's echo load goes through
# A too, so A's sent counts and the workers' loads are what P2C compares. The worker a
# flow's count task reached is read at the workers (the echo load is another type).
count_by_worker() {
	local w
	for w in "${WORKERS[@]}"; do
		"$BIN/edgeplane" stats --socket "$EP_TMP/$w.stats" --json 2>/dev/null |
			jq '[.types[] | select(.handler == "count") | .completed] | add // 0'
	done | jq -sc .
}
declare -A busy=()
rig nexthops gwa >/dev/null
rig exec c2 timeout 30 "$BIN/edgeload" load --to "$VIP" --type echo --size 64 --concurrency 16 \
	--duration 8s --json >"$EP_TMP/busy.json" 2>&1 &
bpid=$!
sleep 0.5
for ((k = 0; k < K; k++)); do
	before=$(count_by_worker)
	rig exec c1 "$TOOLS/eptest-send" --to "$VIP" --sport $((42000 + k)) --id-base $((7000 + k * 13)) \
		--count 1 --type 900 --wait-ms 300 >/dev/null 2>&1
	# (the answer may come after eptest-send stops waiting: look for 1 s)
	for _ in $(seq 20); do
		busy[$k]=$(jq -rn --argjson b "$before" --argjson a "$(count_by_worker)" \
			'[range($a | length) | select($a[.] != $b[.]) | . + 1] | map(tostring) | join("+")')
		[[ -z ${busy[$k]} ]] || break
		sleep 0.05
	done
done
kill "$bpid" 2>/dev/null
wait "$bpid" 2>/dev/null
rig nexthops gwa gwb >/dev/null
same=0
diag "policy p2c, A busy: flow -> worker through A: $(for ((k = 0; k < K; k++)); do printf '%s ' "${busy[$k]:--}"; done)"
for ((k = 0; k < K; k++)); do
	[[ -n ${busy[$k]} && ${busy[$k]} == "${P2C_ON_B[$k]}" ]] && same=$((same + 1))
done
diag "policy p2c: $same of $K flows moved from an idle B to a busy A land on the same worker"

# --- B dies mid-run; the router withdraws it ----------------------------------------------
check "policy hash again for the failover" quiet gctl gwa policy set policy=hash
wait_cond 2 is_policy gwb hash
x0=$(executions) h0=$(type_sum cache_hits) b0=$(forwarded gwb)
# Open loop, 250 tasks/s a flow (4000/s in all: the machine is shared), retries after
# 200 ms, 400 ms, ...
flows "$EP_TMP/kill" 8 4s --rate 250 --concurrency 8 --attempts 8 --timeout-ms 200
sleep 1.5
bmid=$(($(forwarded gwb) - b0))
t0=$(date +%s%N)
kill -KILL "${CTL_PID[gwb]}" 2>/dev/null
{ wait "${CTL_PID[gwb]}"; } 2>/dev/null
unset 'CTL_PID[gwb]'
rig exec gwb "$BIN/edgectl" detach --iface eth0 >"$EP_TMP/detach.log" 2>&1 ||
	diag "detach on gwb: $(cat "$EP_TMP/detach.log")"
t1=$(date +%s%N)
# A routing daemon's detection (BFD: 3 x 50 ms), then the withdrawal.
sleep 0.15
rig nexthops gwa >/dev/null
diag "B was forwarding ($bmid tasks in the first 1.5 s); its controller killed, its XDP detached $(((t1 - t0) / 1000000)) ms later, its next hop withdrawn $((($(date +%s%N) - t1) / 1000000)) ms after that"
wait "${FLOW_PIDS[@]}"
sent=$(sum_json "$EP_TMP/kill" .total.sent)
done_n=$(sum_json "$EP_TMP/kill" .total.completed)
failed=$(sum_json "$EP_TMP/kill" .total.failed)
retries=$(sum_json "$EP_TMP/kill" '.total.retries // 0')
x=$(($(executions) - x0)) h=$(($(type_sum cache_hits) - h0))
diag "16 flows for 4 s, $sent tasks: $done_n answered, $failed failed, $retries retries; at the workers $x executions, $h retries answered from the replay cache"
check "B carried flows before it died ($bmid tasks)" test "$bmid" -gt 0
check "B's eth0 has no XDP program left" no_xdp "$(rig ns gwb)" eth0
check "no task lost: every one of $sent answered, none failed" test "$sent" -gt 0 -a "$done_n" -eq "$sent" -a "$failed" -eq 0
expect_eq "none run twice: executions at the workers = tasks answered" "$x" "$done_n"
# Every flow, those B carried included, still has tasks answered in its last second
# (from 3 s on: the withdrawal was at about 1.8 s).
late=$(for f in "$EP_TMP"/kill/*.tl; do
	awk '$3 == "total" && $1 >= 3.5 { ok += $5 } END { print ok + 0 }' "$f"
done | awk '$1 > 0 { n++ } END { print n + 0 }')
expect_eq "every flow, B's included, is answered through A after the withdrawal (flows with tasks answered in their last second)" \
	"$late" 16

tap_done
