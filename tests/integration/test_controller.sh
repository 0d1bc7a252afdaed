#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The controller's defaults and its checks of load reports, on a small rig (a gateway, a
# worker whose reports eptest-report sends, and a host "x", the client c1, that forges
# reports): reports only on loopback unless `listen` says otherwise, registration off
# unless asked for; forged reports (a capacity of 0xffffffff, a takeover of a live node
# from another address with a large seq, a MAC that is not the sender's, an implausible
# seq step, a sender without a neighbour entry) change nothing and are counted by reason,
# in `edgectl status` and on /metrics; /metrics given a port alone serves on 127.0.0.1;
# the gateway's forwarding sysctls are changed only with relay_set_forwarding.
source "$(dirname "$0")/../lib/lib.sh"
need_root "the controller on the rig"

ep_rig_init k
REPORT=$TOOLS/eptest-report

ep_rig_up_or_bail "$EP_ROOT/vm/topo/gateway.topo" "rig up"
# x, the host that forges reports, is the client c1 (vm/topo/gateway.topo).
GW=$(rig addr gw) W1=$(rig addr w1) X=$(rig addr c1)
W1_MAC=$(rig mac w1) X_MAC=$(rig mac c1)

CTL_PID=
# start_ctl CONFIG-TEXT [serve options]: the controller on gw's eth0 with this
# configuration file (and $GW_CONF in its gateway group, and $EP_AUTH_OFF: the gateway
# balances tasks without keys here); it takes XDP off again when it stops. 1 if it is not
# ready in 10 s.
GW_CONF=
start_ctl() {
	printf 'gateway: { interface = "eth0"; keep_attached = false; %s };\n%s\n%s\n' \
		"$GW_CONF" "$1" "$EP_AUTH_OFF" >"$EP_TMP/ctl.conf"
	shift
	: >"$EP_TMP/ctl.log"
	"$RIG" --prefix "$P" exec gw "$BIN/edgectl" serve --config "$EP_TMP/ctl.conf" \
		--socket "$SOCK" "$@" >>"$EP_TMP/ctl.log" 2>&1 &
	CTL_PID=$!
	wait_for_line "$EP_TMP/ctl.log" "controller ready" 10
}
stop_ctl() {
	[[ -n $CTL_PID ]] && { kill "$CTL_PID" 2>/dev/null; wait "$CTL_PID" 2>/dev/null; }
	CTL_PID=
}
on_exit stop_ctl
# report NODE ARGS...: eptest-report from NODE to the controller on gw's address.
report() {
	local n=$1
	shift
	rig exec "$n" "$REPORT" --to "$GW:7879" "$@"
}
status() { ctl status --json; }
outcome() { status | jq -r --arg o "$1" '.reports_by_outcome[$o] // "none"'; }
node_field() { ctl node list --json | jq -r --argjson id "$1" ".[] | select(.id == \$id) | $2"; }
udp_listeners() { rig exec gw ss -Hnlu 'sport = :7879' | awk '{ print $4 }'; }

# --- defaults: reports on loopback only, registration off ---------------------------------
if start_ctl 'control: { metrics = "9102"; };'; then
	ok "the controller starts without listen or allow_register"
	expect_eq "by default it takes load reports on 127.0.0.1:7879 only" "$(udp_listeners)" "127.0.0.1:7879"
	expect_eq "metrics = \"9102\" (a port alone) serves /metrics on 127.0.0.1 only" \
		"$(rig exec gw ss -Hntl 'sport = :9102' | awk '{ print $4 }')" "127.0.0.1:9102"
	report w1 --id 1 --ip4 "$W1" --mac "$W1_MAC" --count 3 --interval-ms 20 2>/dev/null
	sleep 0.3
	expect_eq "a worker's reports to the gateway's address reach nothing" \
		"$(status | jq -r '.reports')/$(ctl node list --json | jq length)" "0/0"
else
	not_ok "the controller starts without listen or allow_register"
	diag "$(tail -3 "$EP_TMP/ctl.log")"
fi
stop_ctl

if start_ctl "control: { listen = \"$GW:7879\"; };"; then
	report w1 --id 1 --ip4 "$W1" --mac "$W1_MAC" --count 3 --interval-ms 20
	sleep 0.3
	expect_eq "with listen set and registration off by default, an unknown node's reports are refused (unknown_node)" \
		"$(ctl node list --json | jq length)/$(outcome unknown_node)" "0/3"
else
	not_ok "the controller starts with listen = \"$GW:7879\""
	diag "$(tail -3 "$EP_TMP/ctl.log")"
fi
stop_ctl

# --- forged reports, with registration on -----------------------------------------------
if ! start_ctl "control: { listen = \"$GW:7879\"; allow_register = true; metrics = \"$GW:9101\"; };"; then
	not_ok "the controller starts with registration on"
	diag "$(tail -3 "$EP_TMP/ctl.log")"
	tap_done
	exit 1
fi
grep -q "registration" "$EP_TMP/ctl.log" && diag "$(grep registration "$EP_TMP/ctl.log")"
# w1 reports every 100 ms (CPU 10 %) for the rest of the test.
"$RIG" --prefix "$P" exec w1 "$REPORT" --to "$GW:7879" --id 1 --ip4 "$W1" --mac "$W1_MAC" --cpu 10 \
	--count 0 --interval-ms 100 --max-seconds 60 >"$EP_TMP/w1.log" 2>&1 &
W1_PID=$!
w1_up() { [[ $(node_field 1 .state 2>/dev/null) == up ]]; }
if wait_cond 5 w1_up; then
	ok "w1 registers by its reports"
else
	not_ok "w1 registers by its reports"
	diag "$(ctl node list 2>&1)"
fi
slots() { ctl node list --json | jq -c '[.[] | [.id, .gateway.table_slots]]'; }
expect_eq "w1 holds the whole table" "$(slots)" "[[1,4096]]"

# 1. One report with capacity 0xffffffff would take every slot.
report c1 --id 2 --ip4 "$X" --mac "$X_MAC" --capacity 4294967295 --count 1
sleep 0.3
expect_eq "a report with capacity 0xffffffff registers nothing; the table is unchanged" "$(slots)" "[[1,4096]]"
expect_eq "it is counted as capacity" "$(outcome capacity)" 1

# 2. A takeover: x claims w1's id, address and MAC, with a large seq.
report c1 --id 1 --ip4 "$W1" --mac "$W1_MAC" --seq 100000000 --cpu 99 --count 3 --interval-ms 20
sleep 0.3
s0=$(node_field 1 .load.seq) o0=$(node_field 1 .reports.old)
sleep 0.5
s1=$(node_field 1 .load.seq) o1=$(node_field 1 .reports.old)
check "a report for w1 from x's address (seq 100000000) is refused: w1's own reports go on being accepted (seq $s0 -> $s1, old $o0 -> $o1)" \
	test "$s1" -gt "$s0" -a "$s0" -lt 100000000 -a "$o1" = "$o0"
expect_eq "w1's load is its own (CPU 10 %), its address and MAC unchanged" \
	"$(node_field 1 '"\(.load.cpu_pct) \(.ip4) \(.mac)"')" "10 $W1 $W1_MAC"
expect_eq "it is counted as address_conflict" "$(outcome address_conflict)" 3

# 3. A report whose MAC is not the sender's: tasks would go to a MAC x picks.
report c1 --id 3 --ip4 "$X" --mac 02:00:00:00:99:99 --count 1
report c1 --id 3 --ip4 "$X" --mac "$W1_MAC" --count 1
sleep 0.3
check "reports from x claiming another MAC (a stranger's, w1's) register nothing" \
	test "$(node_field 3 .id)" = ""
expect_eq "they are counted as mac_mismatch" "$(outcome mac_mismatch)" 2

# 4. An implausible seq step from w1's own address and MAC.
report w1 --id 1 --ip4 "$W1" --mac "$W1_MAC" --seq 50000000 --cpu 77 --count 1
sleep 0.3
s0=$(node_field 1 .load.seq)
check "a jump of w1's seq to 50000000 is refused (w1 is at $s0)" test "$s0" -lt 50000000
expect_eq "it is counted as seq_jump" "$(outcome seq_jump)" 1

# 5. A sender the gateway has no neighbour entry for.
rig exec gw ip neigh del "$X" dev eth0 2>/dev/null
report c1 --id 4 --ip4 "$X" --mac "$X_MAC" --count 1
sleep 0.3
check "a report from an address without a neighbour entry registers nothing" \
	test "$(node_field 4 .id)" = ""
expect_eq "it is counted as no_neighbour" "$(outcome no_neighbour)" 1

# A restarted runtime starts again at seq 1: accepted.
kill "$W1_PID" 2>/dev/null
wait "$W1_PID" 2>/dev/null
# The restarted reporter keeps going, as a runtime would: a node whose reports stop is
# drained after dead_after_ms (500), and the table check below must not race that.
"$RIG" --prefix "$P" exec w1 "$REPORT" --to "$GW:7879" --id 1 --ip4 "$W1" --mac "$W1_MAC" --cpu 20 \
	--count 0 --interval-ms 100 --max-seconds 60 >"$EP_TMP/w1b.log" 2>&1 &
W1_PID=$!
restarted() { [[ $(node_field 1 '"\(.load.cpu_pct)"') == 20 && $(node_field 1 .load.seq) -lt 30 ]]; }
check "a restart (seq from 1, same address and MAC) is accepted" wait_cond 5 restarted
expect_eq "after all that, the table is still w1's alone" "$(slots)" "[[1,4096]]"

out=$(ctl status | grep '^rejected')
check "edgectl status lists rejected reports by reason ($out)" \
	grep -q "capacity 1, address_conflict 3, mac_mismatch 2, no_neighbour 1, seq_jump 1" <<<"$out"
m=$(rig exec gw bash -c "exec 3<>/dev/tcp/$GW/9101; printf 'GET /metrics HTTP/1.0\r\n\r\n' >&3; cat <&3" | sed '1,/^\r$/d')
got=
for o in capacity address_conflict mac_mismatch seq_jump no_neighbour; do
	got+="$o=$(awk -v k="edgeplane_gw_reports_received_total{outcome=\"$o\"}" '$1 == k { print $2 }' <<<"$m") "
done
expect_eq "/metrics counts them by reason" "$got" \
	"capacity=1 address_conflict=3 mac_mismatch=2 seq_jump=1 no_neighbour=1 "
# Per node (control/prom.c): a state of five set, and the reports by their four outcomes.
node1() { awk -v m="$1{node=\"1\"," 'index($1, m) == 1 { sub(/.*=\"/, "", $1); sub(/\"}$/, "", $1); printf "%s=%s ", $1, $2 }' <<<"$m"; }
expect_eq "/metrics gives node 1's state, one of five" "$(node1 edgeplane_gw_node_state)" \
	"up=1 drained=0 dead=0 waiting=0 cloud=0 "
check "/metrics gives node 1's reports by outcome ($(node1 edgeplane_gw_node_reports_total))" \
	grep -Eq '^received=[1-9][0-9]* lost=[0-9]+ old=[0-9]+ rejected=[0-9]+ $' <<<"$(node1 edgeplane_gw_node_reports_total)"
check "/metrics gives node 1's CPU from its last report, 20 % ($(node1 edgeplane_gw_node_cpu_ratio))" \
	grep -Eq '^[^ ]+=0\.2 $' <<<"$(node1 edgeplane_gw_node_cpu_ratio)"
stop_ctl

# --- the gateway's sysctls: changed only when the operator says so -------------------------
fwd() { rig exec gw sysctl -n net.ipv4.conf.eth0.forwarding net.ipv6.conf.eth0.forwarding | tr '\n' ' '; }
rig exec gw sysctl -qw net.ipv4.conf.eth0.forwarding=0 net.ipv6.conf.eth0.forwarding=0
if start_ctl "control: { listen = \"$GW:7879\"; };"; then
	expect_eq "with the reply relay on (the default), forwarding on gw's eth0 stays off" "$(fwd)" "0 0 "
	check "and the controller names the sysctls to set" \
		grep -qF "sysctl -w net.ipv4.conf.eth0.forwarding=1 net.ipv6.conf.eth0.forwarding=1" "$EP_TMP/ctl.log"
else
	not_ok "the controller starts with the reply relay on"
	diag "$(tail -3 "$EP_TMP/ctl.log")"
fi
stop_ctl
GW_CONF="relay_set_forwarding = true;"
if start_ctl "control: { listen = \"$GW:7879\"; };"; then
	expect_eq "relay_set_forwarding = true turns it on" "$(fwd)" "1 1 "
else
	not_ok "the controller starts with relay_set_forwarding = true"
	diag "$(tail -3 "$EP_TMP/ctl.log")"
fi
stop_ctl
GW_CONF=

# --- many nodes (issue 16): ids past 63, a table sized by the member count -----------------
# 1000 configured workers (ids 1..999 and 8191), each with an IPv4 address and a MAC,
# taking tasks without reports: 1000 members need at least 100 000 slots, so the table the
# gateway reads has 2^17; the probe places every task on one of them. Each node is also
# 2 entries a half in the reply relay's map (its address and MAC): the map once held 512
# in all, and every publish past 126 such nodes failed. And `edgectl node list` of them
# all is one reply of some 700 kB, more than a socket's default send buffer: it once
# timed out. Two controllers in turn, one after the other, publish the same
# table: its digest does not change. They never report, so dead_after_ms is an hour here:
# at the default 500 ms, a machine busy enough to delay `edgectl table` by half a second
# saw every node drained as dead, and the probe refused every task.
nodes='' digest=''
for id in $(seq 1 999) 8191; do
	nodes+=$(printf '{ id = %d; mac = "02:00:00:00:%02x:%02x"; ip4 = "198.18.%d.%d"; capacity = %d; },' \
		"$id" $((id >> 8)) $((id & 255)) $((100 + (id >> 8))) $((id & 255)) $((100 + 50 * (id % 4))))
done
for round in 1 2; do
	if start_ctl "control: { wait_for_report = false; dead_after_ms = 3600000; };
nodes = ( ${nodes%,} );"; then
		tbl=$(ctl table --json --sample 10000)
		sleep 0.3 # a few more publishes (every 100 ms)
		expect_eq "1000 nodes with addresses and MACs: every publish took (round $round)" \
			"$(ctl status --json | jq '.publish_errors')" 0
		if ((round == 1)); then
			expect_eq "edgectl node list shows all 1000 (one reply of $(ctl node list --json | wc -c) bytes)" \
				"$(ctl node list --json | jq length)" 1000
			expect_eq "1000 configured nodes, ids up to 8191: the table has 2^17 slots" \
				"$(jq -r '.table_size' <<<"$tbl")" 131072
			check "the probe placed all 10000 tasks, on 980 or more of the 1000 nodes" \
				quiet jq -e '([.nodes[].next_tasks] | add) == 10000 and
					([.nodes[] | select(.next_tasks > 0)] | length) >= 980 and
					([.nodes[] | select(.id == 8191)] | length) == 1' <<<"$tbl"
			diag "table: $(jq -c '{states: ([.nodes[].state] | group_by(.) | map({(.[0]): length}) | add), slots: ([.nodes[].table_slots] | add), decisions, size: .table_size}' <<<"$tbl")"
			digest=$(jq -r '.table_digest' <<<"$tbl")
			check "edgectl table prints a 64-bit digest of the table ($digest)" \
				grep -qE '^[0-9a-f]{16}$' <<<"$digest"
		else
			expect_eq "a controller started anew publishes the same table (same digest)" \
				"$(jq -r '.table_digest' <<<"$tbl")" "$digest"
		fi
	else
		not_ok "the controller starts with 1000 nodes (round $round)"
		diag "$(tail -3 "$EP_TMP/ctl.log")"
	fi
	stop_ctl
done

tap_done
