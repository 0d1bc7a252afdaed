#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The rig (vm/rig, docs/rig.md): topology files are checked line by line; `up` builds
# namespaces, a bridge in a namespace of its own, veths with GRO, addresses and bpffs
# mounts, and is idempotent and repairs; nodes reach each other over IPv4 and IPv6; exec,
# addr, mac, ifname, ns, status and topo say what was built; XDP and fault injection work
# inside a node; two rigs live side by side; `down` removes everything of its prefix, also
# after a crash, and nothing else; a build that fails leaves nothing behind.
source "$(dirname "$0")/../lib/lib.sh"

RIG=$EP_ROOT/vm/rig
# Prefixes of this run (at most 5 characters): the main rig, a second one, a broken one.
P=r${EP_SUFFIX: -4} Q=s${EP_SUFFIX: -4} R=t${EP_SUFFIX: -4}
rig() { timeout 30 "$RIG" "$@"; }
rp() { rig --prefix "$P" "$@"; }
rq() { rig --prefix "$Q" --state-dir "$EP_TMP/q" "$@"; }
# The prefix's namespaces, and the bpffs mounts tagged with it.
ns_of() { ip netns list 2>/dev/null | awk -v p="$1-" 'index($1, p) == 1 { print $1 }' | sort; }
mounts_of() { awk -v t="edgeplane-rig-$1" '$0 ~ " - bpf " t " " { print $5 }' /proc/self/mountinfo; }

# --- bad input: status 2 and a message naming the problem (no root needed) ------------
bad_topo() {	# bad_topo NAME CONTENT REGEX: `up` refuses the file with status 2
	local f=$EP_TMP/$1.topo out rc
	printf '%s\n' "$2" >"$f"
	out=$("$RIG" --prefix "$R" up "$f" 2>&1) && rc=0 || rc=$?
	if [[ $rc -eq 2 && $out =~ $3 ]]; then
		ok "bad topology ($1): status 2, '$out'"
	else
		not_ok "bad topology ($1)"
		diag "status $rc, output '$out', want 2 and /$3/"
	fi
}
bad_topo unknown-key $'mtu 1500\nnode w1 role=worker\nnode w2 role=worker colour=red' \
	"unknown-key\.topo:3: node w2: unknown key 'colour'"
bad_topo unknown-keyword $'# c\n\nlink a b' ":3: unknown keyword 'link'"
bad_topo duplicate-node $'node w1 role=worker\nnode c1 role=client\nnode w1 role=worker' \
	":3: duplicate node 'w1' \(first defined on line 1\)"
bad_topo bad-role 'node w1 role=boss' ":1: node w1: role 'boss' is not one of"
bad_topo bad-capacity 'node w1 role=worker capacity=lots' ":1: node w1: capacity 'lots'"
bad_topo capacity-on-client 'node c1 role=client capacity=5' ":1: node c1: capacity= is for workers"
bad_topo no-role 'node c1' ":1: node c1: role= is missing"
bad_topo small-mtu $'mtu 576\nnode c1 role=client' ":1: mtu '576' is not an integer in 1280..65535"
bad_topo twice-mtu $'mtu 1500\nmtu 9000\nnode c1 role=client' ":2: 'mtu' is already set on line 1"
bad_topo bad-queues 'node c1 role=client queues=0' ":1: node c1: queues '0'"
bad_topo bad-name 'node W1 role=worker' ":1: bad node name 'W1'"
bad_topo reserved-name 'node br role=worker' ":1: node name 'br' is taken"
bad_topo no-nodes $'mtu 1500\n# nothing else' "no nodes"
out=$("$RIG" --prefix "$R" up "$EP_TMP/no-such.topo" 2>&1) && rc=0 || rc=$?
check "a missing topology file: status 2, '$out'" test "$rc" -eq 2 -a -n "$(grep -F 'no such file' <<<"$out")"
for bad in abcdef Ep1 'e-p' ''; do
	out=$("$RIG" --prefix "$bad" topo "$EP_ROOT/vm/topo/pair.topo" 2>&1) && rc=0 || rc=$?
	check "bad prefix '$bad': status 2" test "$rc" -eq 2 -a -n "$(grep -F 'bad prefix' <<<"$out")"
done
out=$("$RIG" frobnicate 2>&1) && rc=0 || rc=$?
check "an unknown command: status 2, '${out%%$'\n'*}'" test "$rc" -eq 2 -a -n "$(grep -F "unknown command 'frobnicate'" <<<"$out")"
out=$("$RIG" --prefix "$P" down --now 2>&1) && rc=0 || rc=$?
check "an unknown argument: status 2" test "$rc" -eq 2
json=$("$RIG" --prefix "$P" topo --json "$EP_ROOT/vm/topo/demo.topo")
expect_eq "topo --json FILE: demo.topo's nodes, roles and capacities" \
	"$(jq -c '[.nodes[] | [.name, .role, .capacity]]' <<<"$json")" \
	'[["gw","gateway",null],["w1","worker",100],["w2","worker",200],["w3","worker",400],["cloud","cloud",50],["cam1","client",null],["cam2","client",null],["cam3","client",null],["intruder","client",null]]'
expect_eq "topo --json FILE: queues 2, addresses and MACs by index" \
	"$(jq -r '[.queues, .nodes[4].ipv4, .nodes[4].ipv6, (.nodes[4].mac | test("^02:45:50:[0-9a-f]{2}:[0-9a-f]{2}:0f$"))] | join(" ")' <<<"$json")" \
	"2 198.18.0.15 2001:db8::15 true"

need_root "namespaces, veths, bpffs"
if [[ ! -x $BIN/edgeplane-xdp || ! -x $BIN/edgeplane-fault || ! -x $TOOLS/eptest-send ]]; then
	not_ok "the build is there (run make)"
	tap_done
	exit 1
fi
cleanup_rigs() {
	local p
	for p in "$P" "$Q" "$R"; do "$RIG" --prefix "$p" down --force; done
}
on_exit cleanup_rigs

# --- up -------------------------------------------------------------------------------
start=$SECONDS
if ! out=$(rp up "$EP_ROOT/vm/topo/lb.topo" 2>&1); then
	not_ok "up lb.topo"
	diag "$out"
	tap_done
	exit 1
fi
ok "up lb.topo ($((SECONDS - start)) s)"
TOPO=$(rp topo --json)
NODES=$(jq -r '.nodes[].name' <<<"$TOPO" | tr '\n' ' ')
expect_eq "topo --json: the nodes of lb.topo in file order" "$NODES" "gw w1 w2 w3 c1 c2 "
expect_eq "the namespaces: one per node and the bridge's" "$(ns_of "$P" | tr '\n' ' ')" \
	"$(printf '%s\n' "$P"-{br,c1,c2,gw,w1,w2,w3} | sort | tr '\n' ' ')"
check "the bridge ${P}br0 is in namespace $P-br" quiet ip -n "$P-br" link show dev "${P}br0" type bridge
check "the bridge is not in the root namespace" test -z "$(ip link show dev "${P}br0" 2>/dev/null)"
check "nothing of the rig is in the root namespace" \
	test -z "$(ip -o link show | grep -E "$P|eth0@")"

node_facts() {	# node_facts NODE: "state mac mtu rxq txq addresses..." of eth0
	ip -n "$P-$1" -d -j addr show dev eth0 | jq -r '.[0] | [.operstate, .address, .mtu,
		.num_rx_queues, .num_tx_queues, ([.addr_info[] | select(.scope == "global")
		| "\(.local)/\(.prefixlen)"] | sort | join(","))] | join(" ")'
}
bad=
for n in $NODES; do
	want="UP $(jq -r --arg n "$n" '.nodes[] | select(.name == $n)
		| "\(.mac) 1500 2 2 \(.ipv4)/16,\(.ipv6)/64"' <<<"$TOPO")"
	got=$(node_facts "$n")
	[[ $got == "$want" ]] || { bad+=" $n"; diag "$n: got '$got', want '$want'"; }
done
check "every eth0 is up with its MAC, MTU 1500, 2 queues, 198.18.0.x/16 and 2001:db8::x/64" \
	test -z "$bad"
bad=
for n in $NODES; do
	peer=$(jq -r --arg n "$n" '.nodes[] | select(.name == $n) | .peer' <<<"$TOPO")
	ip -n "$P-br" -o link show dev "$peer" | grep -q "master ${P}br0 state UP" || bad+=" $peer"
done
check "every peer is in the bridge namespace, enslaved and up" test -z "$bad"

gro() { ip netns exec "$1" ethtool -k "$2" | awk '$1 == "generic-receive-offload:" { print $2 }'; }
bad=
for n in $NODES; do
	[[ $(gro "$P-$n" eth0) == on ]] || bad+=" $n:eth0"
	[[ $(gro "$P-br" "$P-$n") == on ]] || bad+=" br:$P-$n"
done
check "GRO is on at both ends of every veth" test -z "$bad"
bad=
for n in $NODES; do
	peer=$(jq -r --arg n "$n" '.nodes[] | select(.name == $n) | .peer' <<<"$TOPO")
	[[ $(ip -n "$P-br" -d -j link show dev "$peer" | jq -r '.[0].xdp.prog.name') == rig_pass ]] ||
		bad+=" $peer"
done
check "every bridge-side end has the pass-through XDP program (for XDP_TX)" test -z "$bad"
check "a bpffs is mounted for every node" \
	test "$(mounts_of "$P" | grep -c "/bpffs/")" -eq 6

# Every client reaches every worker, over IPv4 and IPv6.
for fam in 4 6; do
	pids=() what=()
	for c in c1 c2; do
		for w in w1 w2 w3; do
			if [[ $fam == 4 ]]; then a=$(rp addr $w); else a=$(rp addr $w --6); fi
			rp exec $c ping -"$fam" -c 1 -W 2 -q "$a" >/dev/null 2>&1 &
			pids+=($!) what+=("$c->$w")
		done
	done
	bad=
	for i in "${!pids[@]}"; do wait "${pids[$i]}" || bad+=" ${what[$i]}"; done
	check "IPv$fam: every client pings every worker${bad:+ (failed:$bad)}" test -z "$bad"
done

# --- exec and the lookups ----------------------------------------------------------------
rp exec c1 sh -c 'exit 7' && rc=0 || rc=$?
expect_eq "exec passes the exit status through" "$rc" 7
expect_eq "exec passes stdin and stdout through" "$(echo hello | rp exec w2 cat)" hello
expect_eq "exec runs in the node's namespace" \
	"$(rp exec w2 ip -4 -o addr show dev eth0 | awk '{ print $4 }')" "$(rp addr w2)/16"
expect_eq "exec exports LIBXDP_BPFFS and EP_RIG_*" \
	"$(rp exec w3 sh -c 'echo $LIBXDP_BPFFS $EP_RIG_NODE $EP_RIG_PREFIX $EP_RIG_STATE')" \
	"/run/edgeplane-rig/$P/bpffs/w3 w3 $P /run/edgeplane-rig/$P"
expect_eq "vm/rig inside a node defaults to that node's rig" \
	"$(rp exec c2 "$RIG" addr gw)" "$(rp addr gw)"
out=$(rp exec nosuch true 2>&1) && rc=0 || rc=$?
check "exec on an unknown node: status 2" test "$rc" -eq 2
state=/run/edgeplane-rig/$P/topology
bad=
for n in $NODES; do
	line=$(grep "^node $n " "$state")
	for f in "addr:ipv4" "addr --6:ipv6" "mac:mac" "ns:ns" "ifname --peer:peer"; do
		cmd=${f%%:*} key=${f#*:}
		# shellcheck disable=SC2086 # cmd holds a command and its option
		got=$(rp ${cmd%% *} "$n" ${cmd#"${cmd%% *}"})
		[[ " $line " == *" $key=$got "* ]] || bad+=" $n:$key=$got"
	done
	[[ $(rp ifname "$n") == eth0 ]] || bad+=" $n:ifname"
done
check "addr, addr --6, mac, ns, ifname print what the state file says" test -z "$bad"
status=$(rp status --json) && rc=0 || rc=$?
check "status --json parses, exits 0 and says the rig is healthy" \
	test "$rc" -eq 0 -a "$(jq -r '.healthy' <<<"$status" 2>/dev/null)" == true
check "status prints a line per node" test "$(rp status | grep -cE "^(gw|w[123]|c[12]) ")" -eq 6
expect_eq "topo --json: capacities 100, 200, 400 for the workers" \
	"$(jq -c '[.nodes[] | select(.role == "worker") | .capacity]' <<<"$TOPO")" "[100,200,400]"

# --- idempotence and repair --------------------------------------------------------------
ifindex() { ip -n "$P-$1" -j link show dev eth0 | jq '.[0].ifindex'; }
before="$(ifindex w1) $(ifindex c2)"
out=$(rp up "$EP_ROOT/vm/topo/lb.topo" 2>&1) && rc=0 || rc=$?
check "a second up succeeds and changes nothing" test "$rc" -eq 0 -a -n "$(grep -F '(no changes)' <<<"$out")"
expect_eq "a second up keeps the veths" "$(ifindex w1) $(ifindex c2)" "$before"
ip -n "$P-br" link del "$P-w2"
ip -n "$P-c1" addr del "$(rp addr c1)/16" dev eth0
ip netns exec "$P-br" ethtool -K "$P-gw" gro off
rp status >/dev/null 2>&1 && rc=0 || rc=$?
check "status notices a damaged rig (status 1)" test "$rc" -eq 1
out=$(rp up "$EP_ROOT/vm/topo/lb.topo" 2>&1) && rc=0 || rc=$?
check "up repairs it" test "$rc" -eq 0 -a -z "$(grep -F '(no changes)' <<<"$out")"
check "after the repair, status is healthy and c1 pings w2" \
	eval 'rp status >/dev/null && rp exec c1 ping -c 1 -W 2 -q "$(rp addr w2)" >/dev/null'

# --- XDP inside a node ----------------------------------------------------------------
if rp exec w1 "$BIN/edgeplane-xdp" attach eth0 >"$EP_TMP/xdp.log" 2>&1; then
	ok "edgeplane-xdp attach eth0 in node w1"
	check "its maps are pinned in the node's bpffs" \
		test -e "/run/edgeplane-rig/$P/bpffs/w1/edgeplane/eth0/ep_stats"
	check "edgeplane-xdp stats --dev eth0 works in the node" \
		eval 'rp exec w1 "$BIN/edgeplane-xdp" stats --dev eth0 --json | jq -e .pass_not_udp >/dev/null'
	check "status shows the XDP program on w1" \
		test "$(rp status --json | jq '.nodes[] | select(.name == "w1") | .live.eth0.xdp != null')" == true
	check "c1 still pings w1 through the classifier" \
		eval 'rp exec c1 ping -c 1 -W 2 -q "$(rp addr w1)" >/dev/null'
	check "edgeplane-xdp detach eth0" rp exec w1 "$BIN/edgeplane-xdp" detach eth0
else
	not_ok "edgeplane-xdp attach eth0 in node w1"
	diag "$(cat "$EP_TMP/xdp.log")"
fi

# --- XDP_TX out of a node reaches the segment (the veth note of docs/rig.md) ----------
# A reflector on w1 sends IPv4 frames back out of eth0 with XDP_TX, as the gateway does.
# They reach the bridge (and c1) through the peer's pass-through XDP program.
cat >"$EP_TMP/reflect.bpf.c" <<'EOF'
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
SEC("xdp") int reflect(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	unsigned char mac[ETH_ALEN];

	if ((void *)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	__builtin_memcpy(mac, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, mac, ETH_ALEN);
	return XDP_TX;
}
char LICENSE[] SEC("license") = "GPL";
EOF
multiarch=$(${CC:-cc} -print-multiarch 2>/dev/null)
rx_of() { ip -n "$P-$1" -j -s link show dev eth0 | jq '.[0].stats64.rx.packets'; }
txdrop_of() { ip -n "$P-$1" -j -s link show dev eth0 | jq '.[0].stats64.tx.dropped'; }
reflect_trial() {	# "frames back at c1" "tx drops at w1" for 10 pings c1 -> w1
	local rx0 dr0
	rx0=$(rx_of c1) dr0=$(txdrop_of w1)
	rp exec c1 ping -c 10 -i 0.05 -W 0.2 -q "$(rp addr w1)" >/dev/null 2>&1
	sleep 0.3
	echo "$(($(rx_of c1) - rx0)) $(($(txdrop_of w1) - dr0))"
}
W1_PEER=$(rp ifname w1 --peer)
if ! ${CLANG:-clang} -O2 -g -target bpf ${multiarch:+-idirafter /usr/include/$multiarch} \
	-c "$EP_TMP/reflect.bpf.c" -o "$EP_TMP/reflect.o" 2>"$EP_TMP/clang.err"; then
	skip "XDP_TX out of a node reaches the segment" "cannot build a BPF program: $(head -1 "$EP_TMP/clang.err")"
elif ! rp exec w1 ip link set dev eth0 xdpdrv obj "$EP_TMP/reflect.o" sec xdp 2>"$EP_TMP/ip.err"; then
	not_ok "attach an XDP_TX reflector to w1"
	diag "$(cat "$EP_TMP/ip.err")"
else
	read -r back drops < <(reflect_trial)
	check "XDP_TX out of w1's eth0 reaches c1 ($back frames back for 10, $drops dropped)" \
		test "$back" -ge 10 -a "$drops" -eq 0
	# What the peer's program is for, as this kernel behaves (a note, not a check).
	ip -n "$P-br" link set dev "$W1_PEER" xdpdrv off
	read -r back drops < <(reflect_trial)
	diag "without the peer's XDP program (GRO on): $back frames back for 10, $drops dropped"
	ip netns exec "$P-br" ethtool -K "$W1_PEER" gro off
	read -r back drops < <(reflect_trial)
	diag "without the program and GRO: $back frames back for 10, $drops dropped"
	check "detach the reflector" rp exec w1 ip link set dev eth0 xdpdrv off
	check "up puts the peer's program and GRO back" \
		eval 'rp up "$EP_ROOT/vm/topo/lb.topo" >/dev/null && rp status >/dev/null'
fi

# --- fault injection ------------------------------------------------------------------
noports() { rp exec w1 awk '/^Udp:/ { if (!h) { for (i = 1; i <= NF; i++) if ($i == "NoPorts") c = i; h = 1 }
	else print $c }' /proc/net/snmp; }
# send N: N datagrams c1 -> w1:9999 (no socket there: the kernel counts them as NoPorts).
send() {
	local a b
	a=$(noports)
	rp exec c1 "$TOOLS/eptest-send" --to "$(rp addr w1)" --port 9999 --raw --count "$1" \
		--size 32 --timeout 5 >/dev/null
	sleep 0.2
	b=$(noports)
	echo $((b - a))
}
if rp fault c1 --drop 50% --port 9999; then
	ok "fault c1 --drop 50% --port 9999"
	got=$(send 400)
	check "about half of 400 datagrams arrive ($got)" test "$got" -ge 120 -a "$got" -le 280
	st=$(rp fault c1 --stats --json)
	seen=$(jq .seen <<<"$st") dropped=$(jq .dropped <<<"$st")
	check "fault --stats --json: $seen seen, $dropped dropped, as the receiver saw" \
		test "$seen" -eq 400 -a $((dropped + got - 400)) -le 4 -a $((dropped + got - 400)) -ge -4
	check "fault c1 --drop 10% changes the rate in place" rp fault c1 --drop 10% --port 9999
	got=$(send 400)
	check "about 90% of 400 datagrams arrive ($got)" test "$got" -ge 320 -a "$got" -le 395
	check "fault c1 --off" quiet rp fault c1 --off
	check "and its pins are gone from the node's bpffs" \
		test ! -e "/run/edgeplane-rig/$P/bpffs/c1/edgeplane-fault"
	got=$(send 200)
	check "with the fault injection off, all of 200 datagrams arrive ($got)" test "$got" -ge 198
	out=$(rp fault c1 --off 2>&1) && rc=0 || rc=$?
	check "a second fault --off is harmless" test "$rc" -eq 0
else
	not_ok "fault c1 --drop 50% --port 9999"
fi
out=$(rp fault c1 --drop 2>&1) && rc=0 || rc=$?
check "fault with a missing value: status 2" test "$rc" -eq 2

# --- a second rig beside the first ----------------------------------------------------
if out=$(rq up "$EP_ROOT/vm/topo/pair.topo" 2>&1); then
	ok "a second rig ($Q, pair.topo, --state-dir) comes up beside the first"
	check "both rigs ping inside at once (same addresses, separate segments)" eval \
		'rq exec c1 ping -c 1 -W 2 -q "$(rq addr w1)" >/dev/null &&
		 rp exec c1 ping -c 1 -W 2 -q "$(rp addr w1)" >/dev/null'
	expect_eq "commands find the second rig's --state-dir from its prefix alone" \
		"$(rig --prefix "$Q" exec w1 sh -c 'echo $LIBXDP_BPFFS')" "$EP_TMP/q/bpffs/w1"
	rq down >/dev/null
	check "down of the second rig removes its namespaces and mounts" \
		test -z "$(ns_of "$Q")$(mounts_of "$Q")" -a ! -e "$EP_TMP/q"
	check "and leaves the first rig alone" eval \
		'test "$(ns_of "$P" | wc -l)" -eq 7 && rp status >/dev/null &&
		 rp exec c2 ping -c 1 -W 2 -q "$(rp addr w3)" >/dev/null'
else
	not_ok "a second rig comes up beside the first"
	diag "$out"
fi

# --- a crash: the state directory is lost, down still cleans up ------------------------
if rq up "$EP_ROOT/vm/topo/pair.topo" >/dev/null 2>&1; then
	(rq exec w1 sleep 60 >/dev/null 2>&1 &)
	for _ in $(seq 20); do pid=$(ip netns pids "$Q-w1"); [[ -z $pid ]] || break; sleep 0.05; done
	rm -rf "$EP_TMP/q" 2>/dev/null	# the mount points resist: as a crash leaves them
	check "after a crash, status says the rig is not up" eval '! rig --prefix "$Q" status >/dev/null'
	out=$(rig --prefix "$Q" down 2>&1) && rc=0 || rc=$?
	check "after a crash, down (no state, no --state-dir) succeeds: $out" test "$rc" -eq 0
	check "and removes every namespace and mount of the prefix and the state dir" \
		test -z "$(ns_of "$Q")$(mounts_of "$Q")" -a ! -e "$EP_TMP/q"
	for _ in $(seq 20); do [[ -e /proc/${pid:-0} ]] || break; sleep 0.05; done
	check "and stops what ran in the rig (${pid:-nothing ran})" test -n "$pid" -a ! -e "/proc/${pid:-0}"
else
	not_ok "up the second rig again"
fi

# --- down only takes what is the rig's --------------------------------------------------
ip netns add "$P-other" && ip -n "$P-other" link add o0 type veth peer name o1
out=$(rp down 2>&1) && rc=0 || rc=$?
check "down removes the rig: $(head -1 <<<"$out")" test "$rc" -eq 0
expect_eq "down leaves a namespace only named like the rig" "$(ns_of "$P")" "$P-other"
check "no bpffs mount of the prefix is left, nor the state dir" \
	test -z "$(mounts_of "$P")" -a ! -e "/run/edgeplane-rig/$P"
out=$(rp down --force 2>&1) && rc=0 || rc=$?
check "down --force removes it too" test "$rc" -eq 0 -a -z "$(ns_of "$P")"
out=$(rp down 2>&1) && rc=0 || rc=$?
check "down again is harmless: '$out'" test "$rc" -eq 0 -a -n "$(grep -F 'nothing to remove' <<<"$out")"

# --- a build that fails leaves nothing --------------------------------------------------
mkdir -p "$EP_TMP/bin"
printf '#!/bin/sh\necho "simulated failure" >&2\nexit 1\n' >"$EP_TMP/bin/ethtool"
chmod +x "$EP_TMP/bin/ethtool"
out=$(PATH=$EP_TMP/bin:$PATH rig --prefix "$R" up "$EP_ROOT/vm/topo/lb.topo" 2>&1) && rc=0 || rc=$?
check "up exits 1 when a step fails, naming it" \
	test "$rc" -eq 1 -a -n "$(grep -F 'failed: ip netns exec' <<<"$out")"
check "and leaves no namespace, mount or state behind" \
	test -z "$(ns_of "$R")$(mounts_of "$R")" -a ! -e "/run/edgeplane-rig/$R"

cleanup_rigs >/dev/null 2>&1
expect_eq "at the end, no namespace of this run's prefixes is left" \
	"$(ns_of "$P")$(ns_of "$Q")$(ns_of "$R")" ""
diag "$((SECONDS)) s in all"
tap_done
