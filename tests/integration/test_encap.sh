#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The gateway's UDP encapsulation over an IPv6 underlay (issue 16), end to end on the rig
# (a gateway, a worker, a client on one bridge, real veths): the worker is configured
# `mode = "encap"` with only an IPv6 address, so the gateway's XDP wraps each task in
# IPv6 + UDP to port 7880 from gateway.encap_source6; the worker's classifier takes it
# off only from that IPv6 gateway (xdp.encap_sources names nothing else, so an IPv4
# encapsulation would be drop_encap_source) and answers the client directly.
#   - IPv4 and IPv6 tasks to the gateway's addresses are all answered.
#   - The gateway counts them fwd_encap; the worker counts as many decap, nothing
#     dropped for its source or its outer UDP header.
#   - Without the gateway's IPv6 address among the worker's encap_sources, the same tasks
#     are dropped by the worker (drop_encap_source) and not answered.
source "$(dirname "$0")/../lib/lib.sh"
need_root "the gateway's IPv6-underlay encapsulation on the rig"

ep_rig_init e
cat >"$EP_TMP/encap.topo" <<'EOF'
mtu 1500
queues 1
node gw role=gateway
node w1 role=worker capacity=100
node c1 role=client
EOF
ep_rig_up_or_bail "$EP_TMP/encap.topo" "rig up: a gateway, a worker, a client"
GW=$(rig addr gw) GW6=$(rig addr gw --6) W6=$(rig addr w1 --6) WMAC=$(rig mac w1)

# The worker has only an IPv6 address in the gateway's configuration: its underlay is
# IPv6, its next hop (the same segment) itself. Its reports come over IPv6 too, from the
# address it is known by.
cat >"$EP_TMP/ctl.conf" <<CONF
gateway: { interface = "eth0"; keep_attached = false; encap_source6 = "$GW6"; };
control: { listen = "[$GW6]:7879"; };
nodes = ( { id = 1; name = "w1"; mode = "encap"; ip6 = "$W6"; mac = "$WMAC"; } );
$EP_AUTH_OFF
CONF
"$RIG" --prefix "$P" exec gw "$BIN/edgectl" serve --config "$EP_TMP/ctl.conf" \
	--socket "$SOCK" >>"$EP_TMP/ctl.log" 2>&1 &
if ! wait_for_line "$EP_TMP/ctl.log" "controller ready" 10; then
	not_ok "edgectl serve starts with an IPv6-underlay node and encap_source6"
	diag "$(tail -5 "$EP_TMP/ctl.log")"
	tap_done
	exit 1
fi
ok "edgectl serve starts with an IPv6-underlay node and encap_source6"

# start_worker SOURCES: the runtime on w1, taking encapsulation from SOURCES (a list).
start_worker() {
	printf '%s\n' "report = { controller = \"[$GW6]:7879\"; node_id = 1; capacity = 100; cpu = \"process\"; };" \
		"xdp = { virtual_addresses = [ \"$GW\", \"$GW6\" ]; encap_port = 7880;" \
		"        encap_sources = [ $1 ]; };" "$EP_AUTH_OFF" >"$EP_TMP/w1.conf"
	rm -f "$EP_TMP/w1.ready"
	"$RIG" --prefix "$P" exec w1 "$BIN/edgeplane" -c "$EP_TMP/w1.conf" -i eth0 \
		--ready-file "$EP_TMP/w1.ready" >"$EP_TMP/w1.log" 2>&1 &
	W_PID=$!
	wait_for_line "$EP_TMP/w1.ready" . 10
}
stop_worker() { kill "$W_PID" 2>/dev/null; wait "$W_PID" 2>/dev/null; }
# wstat NAME: packets of the worker classifier's outcome NAME; gstat NAME: the gateway's
# decision NAME.
wstat() { stat_packets "$(rig exec w1 "$BIN/edgeplane-xdp" stats --dev eth0 --json)" "$1"; }
gstat() { ctl stats --json | jq -r --arg n "$1" '.decisions[$n] // 0'; }
# load ADDR: 3000 echo tasks through the gateway to ADDR, at 3000/s: within the default
# rate limits of the gateway and the worker (not this test's subject); prints "sent
# completed failed".
load() {
	rig exec c1 timeout 40 "$BIN/edgeload" load --to "$1" --type echo --size 300 \
		--concurrency 4 --rate 3000 --count 3000 --json |
		jq -r '"\(.total.sent) \(.total.completed) \(.total.failed)"'
}

# The worker answers the client directly: its kernel knows the client's neighbour entry.
rig exec w1 sysctl -qw net.ipv4.conf.eth0.forwarding=1 net.ipv6.conf.eth0.forwarding=1
rig exec w1 ping -c 1 -W 2 -q "$(rig addr c1)" >/dev/null
rig exec w1 ping -6 -c 1 -W 2 -q "$(rig addr c1 --6)" >/dev/null

start_worker "\"$GW6\"" || diag "the worker did not start: $(tail -3 "$EP_TMP/w1.log")"
end=$((SECONDS + 5))
while ((SECONDS < end)) && [[ $(ctl node list --json | jq -r '.[0].state') != up ]]; do
	sleep 0.1
done
expect_eq "the worker reports over IPv6 and is up, an encap node with only ip6" \
	"$(ctl node list --json | jq -c '[.[] | [.id, .state, .mode, .ip6]]')" \
	"[[1,\"up\",\"encap\",\"$W6\"]]"

for to in "$GW" "$GW6"; do
	fam=IPv4
	[[ $to == *:* ]] && fam=IPv6
	g0=$(gstat fwd_encap) d0=$(wstat decap) s0=$(wstat drop_encap_source)
	l0=$(wstat drop_udp_length) z0=$(wstat drop_udp_zero_csum)
	read -r sent done failed <<<"$(load "$to")"
	if [[ $sent -ge 3000 && $done == "$sent" && $failed == 0 ]]; then
		ok "$fam tasks through the gateway to the worker over the IPv6 underlay: answered ($done of $sent)"
	else
		not_ok "$fam tasks through the gateway to the worker over the IPv6 underlay: answered"
		diag "sent $sent, completed $done, failed $failed; the gateway's decisions:"
		diag "$(ctl stats --json | jq -c '.decisions | with_entries(select(.value > 0))')"
	fi
	g=$(($(gstat fwd_encap) - g0)) d=$(($(wstat decap) - d0))
	check "the gateway encapsulated them ($g fwd_encap) and the worker took as many off ($d decap)" \
		test "$g" -ge "$done" -a "$d" -eq "$g"
	expect_eq "the worker dropped none for its outer source, UDP length or checksum [$fam]" \
		"$(($(wstat drop_encap_source) - s0)) $(($(wstat drop_udp_length) - l0)) $(($(wstat drop_udp_zero_csum) - z0))" \
		"0 0 0"
done

# The same worker, told of an IPv4 gateway address only: the IPv6 encapsulation is not
# from one of its gateways.
stop_worker
start_worker "\"$GW\"" || diag "the worker did not restart: $(tail -3 "$EP_TMP/w1.log")"
end=$((SECONDS + 5))
while ((SECONDS < end)) && [[ $(ctl node list --json | jq -r '.[0].state') != up ]]; do
	sleep 0.1
done
s0=$(wstat drop_encap_source)
rig exec c1 timeout 10 "$BIN/edgeload" load --to "$GW" --type echo --size 300 --concurrency 1 \
	--count 5 --attempts 1 --timeout-ms 300 --json >"$EP_TMP/refused.json" 2>&1
s=$(($(wstat drop_encap_source) - s0))
check "without $GW6 among its encap_sources, the worker drops them (drop_encap_source $s), unanswered" \
	test "$s" -ge 1 -a "$(jq -r '.total.completed // 0' "$EP_TMP/refused.json")" -eq 0
stop_worker

tap_done
