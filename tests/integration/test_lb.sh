#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The control plane and the in-kernel load balancer on the rig (vm/topo/lb.topo: a
# gateway, three workers, two clients on one bridge): workers register by their load
# reports; tasks sent to the gateway's address are spread by capacity and by load, over
# IPv4 and IPv6, and answered; a worker killed mid-run loses no task and is drained in
# time; drain and undrain; the controller restarts without interrupting traffic, and while
# it is gone XDP stops trusting the old loads; edgectl's commands, permissions and errors;
# the controller's /metrics passes promtool.
source "$(dirname "$0")/../lib/lib.sh"
need_root "load balancing on the rig"

ep_rig_init l
DEAD_MS=500

ep_rig_up_or_bail "$EP_ROOT/vm/topo/lb.topo" "rig up lb.topo"
GW=$(rig addr gw) GW6=$(rig addr gw --6)

# This test drives 100 000+ tasks/s from one client: it measures balancing, not the rate
# limits per source prefix (tests/integration/test_xdp_guard.sh, test_gateway), so both
# the gateway and the workers get limits far above that load, said explicitly.
cat >"$EP_TMP/ctl.conf" <<CONF
rate_limit = { $EP_HIGH_GW_LIMITS };
$EP_AUTH_OFF
CONF
# Daemons run under vm/rig directly (rig exec execs the command: $! is the daemon).
# The workers register by their reports: registration is on, as the operator's choice, and
# reports come to the gateway's address (the rig's management network is its segment).
start_controller() {
	"$RIG" --prefix "$P" exec gw "$BIN/edgectl" serve --config "$EP_TMP/ctl.conf" --iface eth0 \
		--socket "$SOCK" --listen "$GW:7879" --allow-register \
		--metrics "$GW:9101" --dead-after-ms $DEAD_MS "$@" >>"$EP_TMP/ctl.log" 2>&1 &
	CTL_PID=$!
	wait_for_line "$EP_TMP/ctl.log" "controller ready" 10
}
# start_worker N CAPACITY [CONFIG-LINES [REPORT-SETTINGS]]: the runtime on wN, reporting
# as node N. Tasks come to the gateway's address (DSR): the workers take them as a virtual
# address.
start_worker() {
	local n=$1 cap=$2 conf=$EP_TMP/w$1.conf
	printf 'report = { controller = "%s:7879"; node_id = %s; capacity = %s; cpu = "process"; %s };\nxdp = { virtual_addresses = [ "%s", "%s" ]; };\nrate_limit = { %s };\n%s\n%s\n' \
		"$GW" "$n" "$cap" "${4:-}" "$GW" "$GW6" "$EP_HIGH_LIMITS" "$EP_AUTH_OFF" "${3:-}" >"$conf"
	rm -f "$EP_TMP/w$n.ready"
	"$RIG" --prefix "$P" exec "w$n" "$BIN/edgeplane" -c "$conf" -i eth0 --stats-socket "$EP_TMP/w$n.sock" \
		--ready-file "$EP_TMP/w$n.ready" >"$EP_TMP/w$n.log" 2>&1 &
	wait_for_line "$EP_TMP/w$n.ready" . 10
}
# load CLIENT SECONDS [edgeload options]: closed-loop echo through the gateway, JSON out.
load() {
	local c=$1 s=$2
	shift 2
	rig exec "$c" timeout $((s + 30)) "$BIN/edgeload" load --to "$GW" --type echo --size 64 \
		--concurrency 8 --duration "${s}s" --json "$@"
}
nodes_json() { ctl node list --json; }
node_field() { nodes_json | jq -r --argjson id "$1" ".[] | select(.id == \$id) | $2"; }
node_tasks() { node_field "$1" .gateway.tasks; }
# wait_state ID STATE SECONDS
wait_state() {
	local end=$((SECONDS + $3))
	while ((SECONDS < end)); do
		[[ $(node_field "$1" .state 2>/dev/null) == "$2" ]] && return 0
		sleep 0.05
	done
	return 1
}

# Workers answer clients directly when their kernel can route the reply (forwarding on,
# a neighbour entry for the client); otherwise through the gateway's XDP relay. Both
# happen below: w1 forwards and knows the clients, w2 and w3 do not.
rig exec w1 sysctl -qw net.ipv4.conf.eth0.forwarding=1 net.ipv6.conf.eth0.forwarding=1
for c in c1 c2; do
	rig exec w1 ping -c 1 -W 2 -q "$(rig addr $c)" >/dev/null
	rig exec w1 ping -6 -c 1 -W 2 -q "$(rig addr $c --6)" >/dev/null
done

if ! start_controller; then
	not_ok "edgectl serve starts"
	diag "$(tail -5 "$EP_TMP/ctl.log")"
	tap_done
	exit 1
fi
ok "edgectl serve attaches the gateway to gw's eth0"
start_worker 1 100 && start_worker 2 200 && start_worker 3 400 ||
	diag "a worker did not start: $(tail -3 "$EP_TMP"/w*.log)"
end=$((SECONDS + 5))
while ((SECONDS < end)) && [[ $(nodes_json | jq '[.[] | select(.state == "up")] | length') != 3 ]]; do
	sleep 0.1
done
expect_eq "the three workers register by their load reports (ids, states, capacities)" \
	"$(nodes_json | jq -c '[.[] | [.id, .state, .capacity, .origin]]')" \
	'[[1,"up",100,"report"],[2,"up",200,"report"],[3,"up",400,"report"]]'
expect_eq "their addresses and MACs come from the reports" \
	"$(nodes_json | jq -r '[.[] | .ip4 + "/" + .mac] | join(" ")')" \
	"$(rig addr w1)/$(rig mac w1) $(rig addr w2)/$(rig mac w2) $(rig addr w3)/$(rig mac w3)"

# --- the table and edgectl table ---------------------------------------------------------
tbl=$(ctl table --json --sample 2000)
shares=$(jq -c '[.nodes[] | .table_slots]' <<<"$tbl")
# 4096 slots by capacity 100:200:400 is 585.1 / 1170.3 / 2340.6: within a slot each.
check "the consistent-hash table gives 1:2:4 of its slots ($shares)" \
	quiet jq -e '.[0] >= 584 and .[0] <= 586 and .[1] >= 1169 and .[1] <= 1171 and
	       .[2] >= 2340 and .[2] <= 2342' <<<"$shares"
next=$(jq -r '[.nodes[].next_tasks] | add' <<<"$tbl")
expect_eq "edgectl table runs the gateway program on 2000 synthetic tasks, all placed" "$next" 2000
check "edgectl table reports P2C decisions for them" \
	test "$(jq -r '.decisions.pick_p2c // 0' <<<"$tbl")" -gt 0

# tasks_since BEFORE: got (the tasks of nodes 1, 2 and 3 since nodes_json said BEFORE) and
# total (their sum).
tasks_since() {
	local after id d
	after=$(nodes_json)
	got=() total=0
	for id in 1 2 3; do
		d=$(( $(jq -r ".[] | select(.id == $id) | .gateway.tasks" <<<"$after") -
		      $(jq -r ".[] | select(.id == $id) | .gateway.tasks" <<<"$1") ))
		got+=("$d")
		total=$((total + d))
	done
}

# --- traffic through the gateway ---------------------------------------------------------
before=$(nodes_json)
out=$(load c1 3)
sent=$(jq -r .total.sent <<<"$out") done=$(jq -r .total.completed <<<"$out")
failed=$(jq -r .total.failed <<<"$out")
if [[ $sent -gt 1000 && $done == "$sent" && $failed == 0 ]]; then
	ok "IPv4 tasks to the gateway's address are answered ($done of $sent)"
else
	not_ok "IPv4 tasks to the gateway's address are answered"
	diag "$out"
fi
tasks_since "$before"
diag "tasks per node (capacity 100:200:400): ${got[*]} of $total"
# P2C by expected wait: with idle workers the shares follow capacity. Tolerance: each
# within 10 points of its capacity share (14 / 29 / 57 %).
ok_share=1
for i in 0 1 2; do
	want=$(( (100 << i) * 100 / 700 ))
	pct=$(( got[i] * 100 / (total > 0 ? total : 1) ))
	((pct < want - 10 || pct > want + 10)) && ok_share=0
done
if ((ok_share)); then ok "with idle workers, tasks follow capacity within 10 points"
else not_ok "with idle workers, tasks follow capacity within 10 points"; fi
st=$(ctl stats --json)
check "every task went by P2C and DSR (no scan, no overflow)" \
	test "$(jq -r '.decisions.pick_p2c' <<<"$st")" -ge "$total" \
	-a "$(jq -r '.decisions.fwd_dsr' <<<"$st")" -ge "$total"
w1_route=$(rig exec w1 "$BIN/edgeplane-xdp" stats --dev eth0 -j | jq -r '.reply_no_route.packets')
check "w1 (forwarding on, neighbours known) answers clients directly: reply_no_route 0" \
	test "$w1_route" -eq 0
relayed=$(jq -r '.decisions.relay_reply' <<<"$st")
check "w2's and w3's replies come back through the gateway, whose XDP relays them ($relayed)" \
	test "$relayed" -gt 0 -a "$relayed" -lt "$total"

# A forged "reply" (source port 7878, a RESPONSE header) from c2, a client, routed to c1
# through the gateway: the gateway's XDP relays only replies from its workers (their
# addresses and MACs, or its own address from a worker's MAC); this one goes to the
# kernel, and is counted.
C1=$(rig addr c1)
rig exec c2 ip route replace "$C1/32" via "$GW"
st0=$(ctl stats --json)
rig exec c2 "$TOOLS/eptest-send" --to "$C1" --port 40000 --sport 7878 --kind response \
	--count 5 >/dev/null
sleep 0.2
st1=$(ctl stats --json)
rig exec c2 ip route del "$C1/32" via "$GW"
expect_eq "a forged reply from a client (not a worker) through the gateway: not relayed, counted relay_refused" \
	"$(( $(jq -r .decisions.relay_reply <<<"$st1") - $(jq -r .decisions.relay_reply <<<"$st0") )) $(( $(jq -r ".decisions.relay_refused // 0" <<<"$st1") - $(jq -r ".decisions.relay_refused // 0" <<<"$st0") ))" \
	"0 5"

out=$(rig exec c2 timeout 30 "$BIN/edgeload" load --to "$GW6" --type echo --size 64 \
	--concurrency 8 --duration 2s --json)
if [[ $(jq -r .total.completed <<<"$out") -gt 100 && $(jq -r .total.failed <<<"$out") == 0 ]]; then
	ok "IPv6 tasks to the gateway's address are answered ($(jq -r .total.completed <<<"$out"))"
else
	not_ok "IPv6 tasks to the gateway's address are answered"
	diag "$out"
fi

# --- load, not only capacity: a worker held to a tenth of a CPU gets few tasks -------------
cg=""
if [[ -w /sys/fs/cgroup/cpu/cgroup.procs || -d /sys/fs/cgroup/cpu ]] && [[ -f /sys/fs/cgroup/cpu/cpu.cfs_quota_us ]]; then
	cg=/sys/fs/cgroup/cpu/edgeplane-$P
	mkdir -p "$cg" && echo 100000 >"$cg/cpu.cfs_period_us" && echo 3000 >"$cg/cpu.cfs_quota_us" || cg=""
elif [[ -f /sys/fs/cgroup/cgroup.controllers ]] && grep -qw cpu /sys/fs/cgroup/cgroup.controllers; then
	cg=/sys/fs/cgroup/edgeplane-$P
	mkdir -p "$cg" && echo "3000 100000" >"$cg/cpu.max" || cg=""
fi
if [[ -z $cg ]]; then
	skip "a worker with little CPU gets few tasks" "no cgroup CPU controller to throttle a worker"
else
	_rm_cg() { [[ -n $cg ]] && { cat "$cg/cgroup.procs" 2>/dev/null | while read -r p; do echo "$p" >"$(dirname "$cg")/cgroup.procs"; done; rmdir "$cg"; }; }
	on_exit _rm_cg
	# w1 in the cgroup, with all its threads. It still claims capacity 100 (14 % of the
	# total), but its queue grows, and P2C (expected wait = work queued per capacity,
	# counting what was sent since the last report) sends it less.
	for t in /proc/$(cat "$EP_TMP/w1.ready")/task/*; do
		echo "${t##*/}" >"$cg/cgroup.procs" 2>/dev/null || echo "${t##*/}" >"$cg/tasks" 2>/dev/null
	done
	sleep 0.5
	before=$(nodes_json)
	rig exec c1 timeout 40 "$BIN/edgeload" load --to "$GW" --timeout-ms 2000 --type zstd --size 20000 --task-zstd-level 19 \
		--concurrency 16 --duration 4s --json >"$EP_TMP/cg.json" &
	lpid=$!
	sleep 2
	diag "mid-run: $(nodes_json | jq -c '[.[] | [.id, .load.cpu_pct, .load.queue_depth, .load.inflight, .load.p99_us]]')"
	wait $lpid
	out=$(cat "$EP_TMP/cg.json")
	tasks_since "$before"
	diag "zstd -19 tasks per node with w1 held to 3 % of a CPU: ${got[*]} of $total"
	diag "$(jq -c '{sent: .total.sent, done: .total.completed, failed: .total.failed, p99: .total.latency_us.p99}' <<<"$out")"
	# Its capacity share is 14.3 %; by load it should get less than half of that.
	pm=$(( got[0] * 1000 / (total > 0 ? total : 1) ))
	check "a worker held to 3 % of a CPU gets $pm per mille of the tasks, under half its 143 capacity share" \
		test "$total" -gt 50 -a "$pm" -lt 72
	check "and every task is still answered" test "$(jq -r .total.failed <<<"$out")" -eq 0
	_rm_cg
	cg=""
fi

# --- drain and undrain ---------------------------------------------------------------------
ctl node drain 2 >/dev/null
check "drain: node 2 shows drained" test "$(node_field 2 .state)" = drained
b=$(node_tasks 2)
out=$(load c1 2)
a=$(node_tasks 2)
check "drain: no new task reaches node 2 ($((a - b))), and all $(jq -r .total.completed <<<"$out") are answered" \
	test $((a - b)) -eq 0 -a "$(jq -r .total.failed <<<"$out")" -eq 0
ctl node undrain 2 >/dev/null
b=$(node_tasks 2)
load c1 2 >/dev/null
a=$(node_tasks 2)
check "undrain: node 2 takes tasks again ($((a - b)))" test $((a - b)) -gt 0

# --- a worker killed mid-run -------------------------------------------------------------
load c1 6 --attempts 6 >"$EP_TMP/kill.json" &
lpid=$!
sleep 2
rig kill w2 edgeplane >/dev/null	# SIGKILL: a crash
t0=$(date +%s%N)
if wait_state 2 dead 5; then
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	check "the killed worker is drained $ms ms after its death (dead_after ${DEAD_MS} ms, 10 reports)" \
		test "$ms" -le $((DEAD_MS + 500))
else
	not_ok "the killed worker is drained"
fi
wait $lpid
out=$(cat "$EP_TMP/kill.json")
if [[ $(jq -r .total.failed <<<"$out") == 0 && $(jq -r .total.completed <<<"$out") -gt 100 ]]; then
	ok "no task lost: all $(jq -r .total.completed <<<"$out") answered, $(jq -r .total.retries <<<"$out") retries landed on the others"
else
	not_ok "no task lost when a worker dies mid-run"
	diag "$out"
fi
start_worker 2 200
check "the worker comes back with its next report" wait_state 2 up 5

# A hung runtime (SIGSTOP: sockets, XDP and maps still there) is drained too, and comes
# back when it runs again.
rig pause w3 edgeplane >/dev/null
check "a paused worker is drained (no reports)" wait_state 3 dead 3
b=$(node_tasks 3)
out=$(load c1 2)
check "no new task reaches it, and all $(jq -r .total.completed <<<"$out") are answered" \
	test "$(node_tasks 3)" -eq "$b" -a "$(jq -r .total.failed <<<"$out")" -eq 0
rig resume w3 edgeplane >/dev/null
check "resumed, it reports again and is back in service" wait_state 3 up 3

# --- a burst straight to a worker reaches the gateway's map in its next reports ------------
# c2 sends 8 tasks at once straight to w3 (not through the gateway), each holding its worker
# 50 ms: one runs, the rest wait in its RX ring, where the worker does not read while it
# runs. The node counts them (the RX ring's fill) and reports the change at once (an event
# report) instead of at its next period, 400 ms here. Bounded by reports, not by time:
# the map must show the burst within 6 reports of its start (event reports when the queue
# forms and each time it doubles as the 8 arrive, 3 for 7 waiting, a periodic one between,
# and 2 more while this loop of two edgectl calls looks), and w3 must have sent event
# reports; the 400 ms period alone would take up to 400 ms. Then the map must show the
# burst drained within 3 reports of its end.
PLUGIN=$(ep_plugin libepwork.so) || PLUGIN=
if [[ -z $PLUGIN ]]; then
	skip "a worker's burst reaches the gateway's map" "cannot install the work plugin"
else
	rig kill w3 edgeplane >/dev/null
	wait_state 3 dead 3
	# Batches of one: a batch of 8 read at once would run as one handler call, 8 tasks
	# running and none waiting (docs/loadbalancing.md, Limits).
	start_worker 3 400 "handlers = ( { plugin = \"$PLUGIN\"; } );
batch = { size = 1; };
$EP_SIGNING" "interval_ms = 400;" ||
		diag "w3 with the work plugin: $(tail -3 "$EP_TMP/w3.log")"
	wait_state 3 up 5
	printf '\x00\x00\xc3\x50' >"$EP_TMP/work50.bin"	# 50 000 us
	w3stats() { "$BIN/edgeplane" stats --socket "$EP_TMP/w3.sock" --json; }
	# map_load: "inflight seq" of node 3 as the gateway's map has it, and the registry's seq.
	map_load() {
		echo "$(ctl table --json --sample 0 | jq '.nodes[] | select(.id == 3) | .inflight')" \
		     "$(node_field 3 .load.seq)"
	}
	ev0=$(w3stats | jq .load_reports.events)
	read -r _ seq0 <<<"$(map_load)"
	rig exec c2 timeout 30 "$BIN/edgeload" load --to "$(rig addr w3)" --type 901 \
		--in "$EP_TMP/work50.bin" --no-compress --concurrency 8 --count 8 --timeout-ms 2000 \
		--json >"$EP_TMP/burst.json" &
	bpid=$!
	seen='' end=$((SECONDS + 5)) looks=0 t0=$(date +%s%N)
	while ((SECONDS < end)); do
		read -r infl seq <<<"$(map_load)"
		looks=$((looks + 1))
		if ((infl >= 3)); then seen="$infl $seq"; break; fi
		sleep 0.01
	done
	diag "map_load: $looks looks in $((($(date +%s%N) - t0) / 1000000)) ms"
	wait $bpid
	read -r infl seq1 <<<"${seen:-0 $seq0}"
	diag "burst: seq $seq0 before, $seq1 when the map showed $infl in flight; $(jq -c \
		'{done: .total.completed, failed: .total.failed}' "$EP_TMP/burst.json")"
	check "the gateway's map shows w3's burst ($infl in flight) within 6 reports ($seq0 -> $seq1)" \
		test -n "$seen" -a $((seq1 - seq0)) -le 6
	ev1=$(w3stats | jq .load_reports.events)
	diag "w3's load reports: $(w3stats | jq -c .load_reports)"
	check "w3 sent event reports for it ($((ev1 - ev0)))" test "$ev1" -gt "$ev0"
	read -r _ seq0 <<<"$(map_load)"
	seen='' end=$((SECONDS + 5))
	while ((SECONDS < end)); do
		read -r infl seq <<<"$(map_load)"
		if ((infl == 0)); then seen=$seq; break; fi
		sleep 0.01
	done
	check "and its end within 3 reports ($seq0 -> ${seen:-never})" \
		test -n "$seen" -a $((${seen:-0} - seq0)) -le 3
	rig kill w3 edgeplane >/dev/null
	wait_state 3 dead 3
	start_worker 3 400
	check "w3 is back as it was" wait_state 3 up 5
fi

# --- the controller crashes and restarts; XDP carries on ---------------------------------
gen=$(ctl status --json | jq -r .generation)
load c1 6 >"$EP_TMP/restart.json" &
lpid=$!
sleep 1
st0=$(ctl stats --json)
rig kill gw edgectl >/dev/null	# SIGKILL: the controller crashes
wait "$CTL_PID" 2>/dev/null
sleep 1.6	# longer than stale_ms (1000): XDP must stop trusting the loads
st1=$(ctl --iface eth0 --pin-dir "$(rig exec gw sh -c 'echo $LIBXDP_BPFFS')/edgeplane/gw-eth0" stats --json 2>/dev/null)
check "with the controller gone, XDP keeps forwarding on the last state (stale picks: $(jq -r .decisions.pick_stale <<<"$st1"))" \
	test "$(jq -r .decisions.pick_stale <<<"$st1")" -gt "$(jq -r .decisions.pick_stale <<<"$st0")"
start_controller
wait $lpid
out=$(cat "$EP_TMP/restart.json")
if [[ $(jq -r .total.failed <<<"$out") == 0 && $(jq -r .total.completed <<<"$out") -gt 100 ]]; then
	ok "the controller restarts without interrupting traffic ($(jq -r .total.completed <<<"$out") answered, none failed)"
else
	not_ok "the controller restarts without interrupting traffic"
	diag "$out"
fi
check "the restarted controller found the gateway attached and reused its maps" \
	grep -q "already attached to eth0" "$EP_TMP/ctl.log"
check "and carries on from generation $gen" test "$(ctl status --json | jq -r .generation)" -gt "$gen"
expect_eq "the nodes are back, and up" \
	"$(nodes_json | jq -c '[.[] | [.id, .state]]')" '[[1,"up"],[2,"up"],[3,"up"]]'

# --- edgectl: policy, nodes, permissions, errors ------------------------------------------
ctl policy set policy=seed overflow.1=reject cpu_max.1=50 >/dev/null
expect_eq "policy set: the map holds the new policy" "$(ctl policy show --json | jq -c '[.policy, .cpu_max["1"], .overflow["1"]]')" '["seed",50,"reject"]'
b=$(ctl stats --json | jq -r .decisions.pick_seed)
load c1 1 >/dev/null
check "the seed rule now picks" test "$(ctl stats --json | jq -r .decisions.pick_seed)" -gt "$b"
ctl policy set policy=p2c cpu_max.1=70 >/dev/null
out=$(ctl policy set policy=random 2>&1) && rc=0 || rc=$?
check "policy set policy=random: status 2 and the value named" test $rc -eq 2 -a -n "$(grep -F random <<<"$out")"
out=$(ctl node add 9 --mac 02:00:00:00:00:09 --cloud --name cloud 2>&1) && rc=0 || rc=$?
check "node add 9 --cloud" test $rc -eq 0
out=$(ctl node add 9 --mac 02:00:00:00:00:09 2>&1) && rc=0 || rc=$?
check "node add of an existing id fails and says so: '$out'" test $rc -eq 1 -a -n "$(grep -F "already exists" <<<"$out")"
check "node del 9" quiet ctl node del 9
out=$(ctl node drain 42 2>&1) && rc=0 || rc=$?
check "node drain 42: '$out'" test $rc -eq 1 -a -n "$(grep -F "no node 42" <<<"$out")"
out=$(ctl node drain 8192 2>&1) && rc=0 || rc=$?
check "node drain 8192 (out of range: ids 1..8191): status 2" test $rc -eq 2
out=$(ctl frobnicate 2>&1) && rc=0 || rc=$?
check "an unknown command: status 2" test $rc -eq 2
out=$(timeout 10 setpriv --reuid=nobody --regid=nogroup --clear-groups "$BIN/edgectl" --socket "$SOCK" node drain 1 2>&1) && rc=0 || rc=$?
check "a user without rights cannot change state: '$out'" test $rc -ne 0 -a "$(node_field 1 .state)" = up
out=$(timeout 10 "$BIN/edgectl" --socket "$EP_TMP/none.sock" status 2>&1) && rc=0 || rc=$?
check "status without a controller says so and fails" test $rc -eq 1 -a -n "$(grep -F "not running" <<<"$out")"

# --- hostile load reports ------------------------------------------------------------------
rj=$(ctl status --json)
diag "reports so far: $(jq -c .reports_by_outcome <<<"$rj")"
rig exec c2 "$TOOLS/eptest-report" --to "$GW:7879" --raw 4550dead --count 3 --interval-ms 1
rig exec c2 "$TOOLS/eptest-report" --to "$GW:7879" --id 2 --ip4 "$(rig addr c2)" \
	--mac "$(rig mac c2)" --count 3 --interval-ms 1 --seq 100000
rig exec c2 "$TOOLS/eptest-report" --to "$GW:7879" --id 7 --ip4 "$(rig addr w1)" \
	--mac "$(rig mac c2)" --count 1
sleep 0.3
expect_eq "spoofed or garbage reports change nothing: node 2 keeps w2's address" \
	"$(node_field 2 .ip4) $(node_field 7 .id)" "$(rig addr w2) "
check "they are counted as rejected" test "$(ctl status --json | jq -r .reports_rejected)" -gt "$(jq -r .reports_rejected <<<"$rj")"

# --- metrics -------------------------------------------------------------------------------
m=$(rig exec gw bash -c "exec 3<>/dev/tcp/$GW/9101; printf 'GET /metrics HTTP/1.0\r\n\r\n' >&3; cat <&3" | sed '1,/^\r$/d')
if command -v promtool >/dev/null; then
	check "the controller's /metrics passes promtool check metrics" \
		bash -c 'promtool check metrics <<<"$1" >/dev/null 2>&1' _ "$m"
else
	skip "the controller's /metrics passes promtool" "promtool is not installed"
fi
check "it exports node load, decisions and drops by reason" \
	test -n "$(grep '^edgeplane_gw_node_cpu_ratio{node="1"' <<<"$m")" \
	-a -n "$(grep '^edgeplane_gw_decisions_total{decision="pick_p2c"}' <<<"$m")" \
	-a -n "$(grep '^edgeplane_gw_packets_total{reason="pass_other_port"}' <<<"$m")"

tap_done
