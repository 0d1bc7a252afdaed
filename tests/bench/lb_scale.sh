# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# shellcheck shell=bash
# The scale sections of `make bench-lb` (issue 16), sourced by bench_lb.sh after its own
# helpers (setup, blast_and_count, measure, stop_ctl, ...), whose topology and generator
# they share. Each prints markdown.
#
#   gw_path      the gateway's per-packet cost at 3, 64, 1024 and 4096 nodes under
#                BPF_PROG_TEST_RUN (tests/bench/bench_gwpath.c): repeatable on a busy
#                machine. BENCH_LB_ONLY=path.
#   node_rate    the forwarding rate with 4096 nodes against 3 in the same run, and
#                XDP_DROP on the same veth, the limit; rounds interleaved. Needs bench_lb.sh's
#                namespaces. BENCH_LB_ONLY=nodes.
#   report_cost  the controller's CPU per load report with 4096 nodes reporting every 100 ms
#                (after node_rate, in the same namespaces). BENCH_LB_ONLY=nodes too.
#   drain_latency
#                how long a drain made with edgectl on controller A takes to be in force
#                in gateway B's maps, through etcd (three members, two controllers, as
#                tests/integration/test_etcd.sh sets them up); A's own maps beside.
#                BENCH_LB_ONLY=drain. BENCH_DRAINS (20) drains, each undone: twice that
#                many measurements.

GWPATH=$BUILD/tests/bench/bench_gwpath
EPREPORTS=$BUILD/tests/bench/epreports
DRAINWATCH=$BUILD/tests/bench/epdrainwatch
SCALE_NODES=${BENCH_SCALE_NODES:-4096}

# gw_path: the BPF_PROG_TEST_RUN section.
gw_path() {
	[[ -x $GWPATH ]] || die "$GWPATH: not built (make)"
	echo "### Per-packet cost by node count"
	echo
	# shellcheck disable=SC2153 # ROUNDS is bench_lb.sh's
	"$GWPATH" --rounds "$ROUNDS" || die "bench_gwpath failed"
	echo
}

# --- forwarding rate by node count ----------------------------------------------------------

# nodes_conf N FILE: the gateway's configuration with N nodes, ids 1..N, each capacity 100,
# all of them the sink (same MAC and address, reached through [b]); loads trusted for an
# hour (policy.stale_ms), so that one round of reports at the start keeps the P2C path on
# fresh loads for the whole run without the controller handling reports meanwhile.
nodes_conf() {
	local n=$1 id
	{
		echo 'rate_limit = { mode = "off-unsafe"; };'
		echo "$EP_AUTH_OFF"
		echo 'policy = { stale_ms = 3600000; };'
		echo 'nodes = ('
		for ((id = 1; id <= n; id++)); do
			printf '\t{ id = %d; name = "s%d"; mac = "%s"; ip4 = "%s"; interface = "%s"; capacity = 100; }%s\n' \
				"$id" "$id" "$SINK_MAC" "$SINK_IP" "$IF_GWB" "$( ((id < n)) && echo ,)"
		done
		echo ');'
	} >"$2"
}

declare -A SLOTS # the table's slots by node count, as edgectl table read them
# start_ctl_n N: the controller with N nodes on [a], its maps pinned in a directory of
# their own (so that no set-up meets the other's nodes in pinned maps at its start), then
# three rounds of reports for every node from the sink (a report the socket buffer had no
# room for has two more chances), and wait until the maps hold all N with a trusted load.
start_ctl_n() {
	local n=$1 up=0

	ip netns exec "$NS_GW" "$CTL" serve --config "$EP_TMP/nodes$n.conf" --iface "$IF_GWA" \
		--socket "$SOCK" --listen "$GWB_IP:7879" --pin-dir "$EP_BPFFS/gw$n" \
		--no-wait-for-report --dead-after-ms 3600000 --detach-on-exit --no-relay \
		--log-level warn --xdp-mode native >>"$EP_TMP/ctl.log" 2>&1 &
	CTL_PID=$!
	for _ in $(seq 200); do [[ -S $SOCK ]] && break; sleep 0.05; done
	[[ -S $SOCK ]] || die "the controller did not start: $(tail -3 "$EP_TMP/ctl.log")"
	ip netns exec "$NS_SINK" "$EPREPORTS" --to "$GWB_IP:7879" --ids "$n" --ip4 "$SINK_IP" \
		--mac "$SINK_MAC" --rounds 3 --interval-ms 300 >>"$EP_TMP/report.log" 2>&1 ||
		die "epreports: $(tail -3 "$EP_TMP/report.log")"
	# The gateway's maps, not the API's node list: its reply for thousands of nodes does
	# not come back (edgectl: "Connection timed out" at 4096 here).
	for _ in $(seq 100); do
		up=$("$CTL" --pin-dir "$EP_BPFFS/gw$n" table --json --sample 0 2>/dev/null |
			jq '[.nodes[] | select(.state == "in" and .trusted)] | length' 2>/dev/null)
		[[ $up == "$n" ]] && break
		sleep 0.2
	done
	[[ $up == "$n" ]] || die "$n nodes: only ${up:-none} in the maps with a trusted load"
	SLOTS[$n]=$("$CTL" --pin-dir "$EP_BPFFS/gw$n" table --json --sample 0 | jq -r '.table_size')
}

# run_nodes N NAME: one measurement through the gateway with N nodes.
run_nodes() {
	start_ctl_n "$1"
	blast_and_count "$2"
	"$CTL" --pin-dir "$EP_BPFFS/gw$1" stats --json |
		jq -c '.decisions | {pick_p2c, pick_scan, pick_stale, fwd_dsr, tx_error}' \
			>"$EP_TMP/$2.decisions"
	stop_ctl
}
run_few() { run_nodes 3 "$1"; }
run_many() { run_nodes "$SCALE_NODES" "$1"; }
# run_drop NAME: the limit, bench_sink (XDP_DROP after parsing) on the gateway's veth [a],
# counted there: the sink of blast_and_count moved to [a].
run_drop() {
	# shellcheck disable=SC2034 # blast_and_count reads them (bash's dynamic scope)
	local NS_SINK=$NS_GW IF_SINK=$IF_GWA

	blast_and_count "$1"
	echo '{}' >"$EP_TMP/$1.decisions"
}

# node_rate: ROUNDS rounds of drop, 3 nodes and SCALE_NODES nodes in turn (measure repeats
# a run disturbed by other work); a markdown report.
node_rate() {
	local r m n
	declare -A AT OFFERED LABEL=([drop]="XDP_DROP on [a] (the limit)" [few]="gateway, 3 nodes"
				     [many]="gateway, $SCALE_NODES nodes")

	nodes_conf 3 "$EP_TMP/nodes3.conf"
	nodes_conf "$SCALE_NODES" "$EP_TMP/nodes$SCALE_NODES.conf"
	for r in $(seq "$ROUNDS"); do
		for m in drop few many; do
			n=$m-$r
			measure "$m" "$n"
			AT[$m]+="$(f "$(js "$EP_TMP/$n.sink" .per_s)")$(awk '$3 > 25 ||
				$4 == "busy" { printf "†" }' "$EP_TMP/$n.cpu") "
			OFFERED[$m]+="$(f "$(js "$EP_TMP/$n.blast" .per_s)") "
		done
	done
	echo "### Forwarding rate by node count"
	echo
	echo "The same generator and topology as above (epblast on CPU 0, the gateway veth's NAPI"
	echo "thread on CPU 1, every node the sink namespace, reached by a devmap redirect to [b]),"
	echo "with edgectl serve configured for 3 nodes or for $SCALE_NODES (ids 1..N, capacity 100"
	echo "each, the same MAC and address: the sink's). tests/bench/epreports sends three rounds"
	echo "of load reports for every id at the start, and the policy trusts loads for an hour"
	echo "(stale_ms), so P2C runs on fresh loads with $SCALE_NODES nodes' entries and the"
	echo "controller's table for them (${SLOTS[$SCALE_NODES]} slots; ${SLOTS[3]} for 3 nodes), while the"
	echo "controller handles no reports in the counted window. The limit:"
	echo "bench_sink (parse, count, XDP_DROP) on the gateway's veth [a] itself. $ROUNDS rounds,"
	echo "the three set-ups in turn in each; $WARMUP s warm-up, $SECS s counted; † marks a run"
	echo "still disturbed by other work after up to 3 tries."
	echo
	echo "| set-up | tasks/s per round | median | offered (median) |"
	echo "|---|---|---:|---:|"
	for m in drop few many; do
		echo "| ${LABEL[$m]} | ${AT[$m]% } | $(f "$(median <<<"${AT[$m]//†/}")") |" \
		     "$(f "$(median <<<"${OFFERED[$m]}")") |"
	done
	local sp sd med met
	sp=$(spread "${AT[many]//†/}" "${AT[few]//†/}")
	med=$(awk '{ print $(NF - 1) }' <<<"$sp")
	met=$(awk -v m="$med" 'BEGIN { print (m >= 0.9) ? "met" : "NOT met" }')
	echo
	echo "$SCALE_NODES nodes over 3 nodes, per round: ${sp%%|*}; min / median / max: **${sp#*| }**."
	echo "Goal (issue 16): at least 0.9: **$med** ($met)."
	sp=$(spread "${AT[few]//†/}" "${AT[drop]//†/}")
	sd=$(spread "${AT[many]//†/}" "${AT[drop]//†/}")
	echo "Against the limit (XDP_DROP on the same veth), min / median / max: 3 nodes"
	echo "${sp#*| }, $SCALE_NODES nodes ${sd#*| }."
	echo "Decisions over all runs (edgectl stats), 3 nodes: $(sum_decisions few);"
	echo "$SCALE_NODES nodes: $(sum_decisions many)."
	echo
}

# report_cost: what the controller's report handling costs at SCALE_NODES nodes, the figure
# docs/scale.md's fan-out needs: BENCH_REPORT_ROUNDS (20) rounds of a report from every node
# 100 ms apart (a runtime's period; each round paced at 64 reports per ms), the reports the
# controller took (edgectl status: reports) and its CPU time meanwhile.
report_cost() {
	local n=$SCALE_NODES rounds=${BENCH_REPORT_ROUNDS:-20} r0 r1 j0 j1 c0 c1 t0 t1 rej0 rej1

	start_ctl_n "$n"
	read -r r0 rej0 <<<"$("$CTL" --socket "$SOCK" status --json | jq -r '"\(.reports) \(.reports_rejected)"')"
	c0=$(task_ticks "$CTL_PID") t0=$(date +%s%N)
	ip netns exec "$NS_SINK" "$EPREPORTS" --to "$GWB_IP:7879" --ids "$n" --ip4 "$SINK_IP" \
		--mac "$SINK_MAC" --rounds "$rounds" --interval-ms 100 --seq 4 \
		>>"$EP_TMP/report.log" 2>&1 || die "epreports: $(tail -3 "$EP_TMP/report.log")"
	sleep 0.2 # the last round's reports still in the socket
	c1=$(task_ticks "$CTL_PID") t1=$(date +%s%N)
	read -r r1 rej1 <<<"$("$CTL" --socket "$SOCK" status --json | jq -r '"\(.reports) \(.reports_rejected)"')"
	stop_ctl
	j0=$((r1 - r0)) j1=$((c1 - c0))
	echo "### The controller's load reports at $n nodes"
	echo
	echo "With $n nodes configured, tests/bench/epreports sent $rounds rounds of a report from every"
	echo "node, 100 ms apart (each round paced at 64 reports per ms): $((n * rounds)) reports in"
	echo "$(awk -v t=$((t1 - t0)) 'BEGIN { printf "%.1f", t / 1e9 }') s. The controller took $j0 of them ($((rej1 - rej0)) rejected), using"
	echo "$(awk -v j=$j1 -v hz="$CLK_TCK" -v t=$((t1 - t0)) 'BEGIN { printf "%.0f", 100 * j / hz / (t / 1e9) }') % of one CPU: **$(awk -v j=$j1 -v hz="$CLK_TCK" -v r=$j0 \
		'BEGIN { printf "%.1f", (r > 0) ? j / hz * 1e6 / r : 0 }') us of CPU per report** (from its user and system ticks), or about"
	echo "$(awk -v j=$j1 -v hz="$CLK_TCK" -v r=$j0 'BEGIN { printf "%.0f", (j > 0) ? r / (j / hz) : 0 }') reports per second per core if that were all it did."
	echo
}

# --- drain propagation through etcd -------------------------------------------------------------

declare -A DR_PID
# drain_ctl X N: namespace and controller X (a or b) on the etcd bridge at 198.18.9.1N,
# with a gateway veth gwX (its peer in the hub), 3 nodes, its maps in $EP_BPFFS/drain-X.
# The nodes never report: configured capacities and wait_for_report off make them usable
# (not drained in the maps) all the same, and dead_after_ms keeps them so.
drain_ctl() {
	local x=$1 n=$2 ns=eplb$S-c$1 eps
	eps=$(sed 's/[^,]*/"&"/g; s/,/, /g' <<<"$EP_ETCD_ENDPOINTS")
	ip netns add "$ns" || return 1
	EP_ETCD_JOINED+=("$ns")
	on_exit "ip netns del $ns"
	ep_etcd_join "$ns" eth0 "198.18.9.1$n" &&
		ip link add "gw$x" netns "$ns" type veth peer name "epd$S$x" netns "$EP_ETCD_HUB" &&
		ip -n "$ns" link set "gw$x" up && ip -n "$EP_ETCD_HUB" link set "epd$S$x" up ||
		return 1
	cat >"$EP_TMP/drain-$x.conf" <<EOF
gateway: { interface = "gw$x"; xdp_mode = "skb"; keep_attached = false; relay_replies = false;
	   pin_dir = "$EP_BPFFS/drain-$x"; };
control: { socket = "$EP_TMP/drain-$x.sock"; wait_for_report = false; dead_after_ms = 3600000; };
etcd: { endpoints = [ $eps ]; prefix = "/edgeplane/bench$S/"; timeout_ms = 1000; lease_ttl_s = 3; };
nodes = ( { id = 1; name = "w1"; mac = "02:00:00:00:00:01"; ip4 = "198.18.30.1"; capacity = 100; },
	  { id = 2; name = "w2"; mac = "02:00:00:00:00:02"; ip4 = "198.18.30.2"; capacity = 100; },
	  { id = 3; name = "w3"; mac = "02:00:00:00:00:03"; ip4 = "198.18.30.3"; capacity = 100; } );
$EP_AUTH_OFF
EOF
	ip netns exec "$ns" "$CTL" serve --config "$EP_TMP/drain-$x.conf" >>"$EP_TMP/drain-$x.log" 2>&1 &
	DR_PID[$x]=$!
	on_exit "drain_stop $x"
	wait_for_line "$EP_TMP/drain-$x.log" "controller ready" 10
}
drain_stop() { [[ -n ${DR_PID[$1]:-} ]] && kill "${DR_PID[$1]}" 2>/dev/null && wait "${DR_PID[$1]}" 2>/dev/null; DR_PID[$1]=; }
drain_synced() {
	[[ $("$CTL" --socket "$EP_TMP/drain-$1.sock" status --json 2>/dev/null |
		jq -r '.etcd.synced' 2>/dev/null) == true ]]
}

# drain_once VERB WANT: edgectl node VERB 1 on A (WANT: the drained flag after it); appends
# "B_ms A_ms" to $EP_TMP/drain.ms, times from just before edgectl started.
drain_once() {
	local w t0 seen

	"$DRAINWATCH" --id 1 --drained "$2" --timeout-ms 10000 "$EP_BPFFS/drain-b" \
		"$EP_BPFFS/drain-a" >"$EP_TMP/watch.out" 2>"$EP_TMP/watch.err" &
	w=$!
	wait_for_line "$EP_TMP/watch.out" ready 5 || die "epdrainwatch: $(cat "$EP_TMP/watch.err")"
	t0=$(date +%s%N)
	"$CTL" --socket "$EP_TMP/drain-a.sock" node "$1" 1 >/dev/null ||
		die "edgectl node $1 1 on A failed"
	wait "$w" || die "not in force on both gateways within 10 s ($1; seen at $(tail -1 \
		"$EP_TMP/watch.out") ns): B's nodes: $("$CTL" --socket "$EP_TMP/drain-b.sock" \
		node list 2>&1)"
	seen=$(tail -1 "$EP_TMP/watch.out")
	# A flag already so before the change would time nothing.
	awk -v t0="$t0" -v s="$seen" 'BEGIN { split(s, v); exit !(v[1] < t0 || v[2] < t0) }' &&
		die "node 1's drained flag was already $2 before edgectl node $1"
	awk -v t0="$t0" -v s="$seen" 'BEGIN { split(s, v); printf "%.1f %.1f\n", (v[1] - t0) / 1e6,
		(v[2] - t0) / 1e6 }' >>"$EP_TMP/drain.ms"
}

# pctl P FILE FIELD: the P-th percentile (nearest rank) of column FIELD of FILE.
pctl() {
	awk -v f="$3" '{ print $f }' "$2" | sort -g | awk -v p="$1" '{ v[NR] = $1 }
		END { k = int(NR * p / 100 + 0.999999); if (k < 1) k = 1; print v[k] }'
}

drain_latency() {
	local n=${BENCH_DRAINS:-20} i

	echo "### Drain propagation through etcd"
	echo
	if ! command -v etcd >/dev/null || ! command -v etcdctl >/dev/null; then
		echo "skipped: etcd-server and etcd-client are not installed (scripts/deps.sh)"
		echo
		return 0
	fi
	[[ -x $DRAINWATCH ]] || die "$DRAINWATCH: not built (make)"
	[[ -n ${EP_BPFFS:-} ]] || ep_setup_bpffs || die "cannot mount a bpffs"
	ep_etcd_up || die "three etcd members not healthy within 30 s: $(tail -3 "$EP_TMP/etcd/1.log")"
	if ! drain_ctl a 1 || ! drain_ctl b 2; then
		die "controllers A and B: $(tail -3 "$EP_TMP/drain-a.log")"
	fi
	for _ in $(seq 250); do drain_synced a && drain_synced b && break; sleep 0.02; done
	if ! drain_synced a || ! drain_synced b; then
		die "A and B never read etcd's state"
	fi
	: >"$EP_TMP/drain.ms"
	for ((i = 0; i < n; i++)); do
		drain_once drain 1
		drain_once undrain 0
	done
	local b50 b99 bmax a50 a99 amax met
	b50=$(pctl 50 "$EP_TMP/drain.ms" 1) b99=$(pctl 99 "$EP_TMP/drain.ms" 1)
	bmax=$(pctl 100 "$EP_TMP/drain.ms" 1)
	a50=$(pctl 50 "$EP_TMP/drain.ms" 2) a99=$(pctl 99 "$EP_TMP/drain.ms" 2)
	amax=$(pctl 100 "$EP_TMP/drain.ms" 2)
	met=$(awk -v p="$b99" 'BEGIN { print (p < 1000) ? "met" : "NOT met" }')
	echo "Three etcd members and two controllers (A, B), each in a namespace of its own on one"
	echo "bridge (as tests/integration/test_etcd.sh), each controller with its own gateway"
	echo "(skb mode on a veth) and 3 configured nodes. $n times: \`edgectl node drain 1\` on A,"
	echo "then \`edgectl node undrain 1\` on A: $((2 * n)) changes. The time of each is from just"
	echo "before edgectl starts until tests/bench/epdrainwatch, polling both gateways' pinned"
	echo "maps every 100 us, sees node 1's drained flag change in the active half. A's own maps"
	echo "are the baseline: the same change applied where it was made."
	echo
	echo "| gateway | p50, ms | p99, ms | max, ms |"
	echo "|---|---:|---:|---:|"
	echo "| B (through etcd's watch) | $b50 | **$b99** | $bmax |"
	echo "| A (where the change was made) | $a50 | $a99 | $amax |"
	echo
	echo "B over A, medians: $(ratio "$b50" "$a50"). Goal (issue 16): p99 on B under 1 s: **$b99 ms** ($met)."
	echo
}
