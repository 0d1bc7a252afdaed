#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# vm/demo.sh - `make demo`: defect detection offloaded from three cameras to edge workers
# behind an XDP gateway, on a rig of network namespaces (vm/topo/demo.topo), with device
# authentication required, an intruder refused, and a worker killed halfway.
#
#   1. the rig: cameras cam1..cam3, a gateway gw, workers w1..w3 (capacity 100/200/400),
#      a cloud node, an intruder; a CA and certificates (scripts/ep-pki.sh) for the
#      controller, the nodes and the cameras; `edgectl serve` on gw, with enrollment
#      (mutual TLS 1.3) and its XDP in auth mode required, the cloud node as the overflow
#      target of priorities 4 and 5; `edgeplane` (AF_XDP, auth required, keys synced from
#      the controller) on each worker, reporting its load, and on the cloud node;
#   2. the cameras enroll with their certificates and stream real frames
#      (build/data/images), every datagram sealed with their session key, to the
#      gateway's address, open loop, zstd on, each at its own priority; the workers
#      verify each datagram, count blobs (defects) and answer, through the gateway's
#      reply relay;
#   3. at a quarter of the time, the intruder tries to enroll (another CA's certificate,
#      then none) and sends a burst of tasks without a key, which the gateway's XDP drops;
#   4. halfway, the largest worker's runtime is SIGKILLed; the controller drains it once
#      its reports stop, and the cameras' retries land on the others;
#   5. a summary on the terminal, and a report under build/demo/: index.html with plots
#      (gnuplot), summary.json (what test_demo.sh checks), the data and the daemons' logs.
#
# The rig and every process are removed at the end, also on Ctrl-C or a failure; the
# report stays. Runs as root after `make` (the Makefile's `demo` target builds first and
# fetches the images). See docs/rig.md, "The demo".
set -uo pipefail

usage() {
	cat <<'EOF'
Usage: vm/demo.sh [--duration SECONDS] [--quick] [--kill w1|w2|w3|none] [--out DIR]

  --duration S   seconds of camera traffic (default 60; the worker dies at S/2)
  --quick        lower camera rates and fewer progress lines (for tests and slow machines)
  --kill NODE    the worker whose runtime is killed halfway (default w3; none: no kill)
  --out DIR      the report's directory (default build/demo)

Runs as root. Takes about S + 10 seconds. Exit status: 0 the scenario ran and the report
is written (its checks are in summary.json), 1 it could not run, 2 bad usage, 130 after
Ctrl-C (the rig and every process are removed in every case).
EOF
}

ROOT=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
[[ $BUILD == /* ]] || BUILD=$ROOT/$BUILD
BIN=$BUILD/bin
IMAGES=$BUILD/data/images
RIG=$ROOT/vm/rig
HERE=$ROOT/vm/demo
TOPO=$ROOT/vm/topo/demo.topo

DURATION=60 QUICK=0 KILL=w3 OUT=$BUILD/demo
while (($#)); do
	case $1 in
	--duration) DURATION=${2:-}; shift ;;
	--quick) QUICK=1 ;;
	--kill) KILL=${2:-}; shift ;;
	--out) OUT=${2:-}; shift ;;
	-h | --help) usage; exit 0 ;;
	*) echo "demo: unknown option '$1'" >&2; usage >&2; exit 2 ;;
	esac
	shift
done
if ! [[ $DURATION =~ ^[0-9]+$ ]] || ((DURATION < 6 || DURATION > 600)); then
	echo "demo: --duration: '$DURATION' is not a number of seconds in 6..600" >&2
	exit 2
fi
[[ $KILL =~ ^(w1|w2|w3|none)$ ]] || { echo "demo: --kill: w1, w2, w3 or none" >&2; exit 2; }
[[ -n $OUT ]] || { echo "demo: --out: a directory" >&2; exit 2; }
[[ $OUT == /* ]] || OUT=$PWD/$OUT

# --- the scenario ---------------------------------------------------------------------
CAMS=(cam1 cam2 cam3)
WORKERS=(w1 w2 w3)
declare -A ROLE=([cam1]="inspection line" [cam2]="surface check" [cam3]="label reader")
declare -A PRIO=([cam1]=5 [cam2]=3 [cam3]=1)
declare -A RATE=([cam1]=40 [cam2]=30 [cam3]=60)		# frames per second
((QUICK)) && RATE=([cam1]=25 [cam2]=20 [cam3]=40)
# The frames each camera sends, and the detector's settings for them (docs/handlers.md):
# cam1 counts the 24 coins of coins.png as parts on a line, cam2 the craters of moon.png
# as surface defects, cam3 the characters of two printed pages.
declare -A IMGS=([cam1]="coins.png" [cam2]="moon.png" [cam3]="text.png page.png")
declare -A BLOB_ARGS=([cam1]="--level 120 --min-area 300 --blur --conn8 --no-border"
	[cam2]="--dark --blur --min-area 20" [cam3]="--dark --min-area 10")
declare -A NODE_ID=([w1]=1 [w2]=2 [w3]=3 [cloud]=9)
# Device authentication (docs/operations.md, "Device authentication", "Enrollment and
# PKI"): every camera's certificate says role $CAM_ROLE of tenant $TENANT, a role of the
# controller's policy (written below).
CAM_ROLE=camera TENANT=1
ENROLL_PORT=7881
# The intruder, at a quarter of the traffic: two enrollments the controller must refuse,
# then a burst of tasks without a key, bounded in number and time.
INTRUDER=intruder
INTRUDER_TASKS=$((QUICK ? 100 : 200)) INTRUDER_RATE=500
DEAD_AFTER_MS=500
# Per task: the first send and five retries. The library's default is 5, but a retry of a
# task that went to the killed worker follows it there (the gateway keeps a task's
# fragments together) until the controller declares it dead, after dead_after_ms; with
# the adaptive first timeout (20 ms at least) five attempts can all fall before that.
ATTEMPTS=6
PROGRESS_S=$((QUICK ? 2 : 3))

# --- output ---------------------------------------------------------------------------
now_ms() { local t=${EPOCHREALTIME//[.,]/}; echo $((t / 1000)); }
T0_MS=$(now_ms)
stamp() { local t=$(($(now_ms) - T0_MS)); printf '[%3d.%ds]' $((t / 1000)) $((t % 1000 / 100)); }
say() { printf '%s %s\n' "$(stamp)" "$*"; }
warn() { printf '%s warning: %s\n' "$(stamp)" "$*" >&2; }
die() {
	printf '%s demo failed: %s\n' "$(stamp)" "$*" >&2
	exit 1
}

if [[ $(id -u) -ne 0 ]]; then
	echo "demo: must run as root (network namespaces, XDP)" >&2
	exit 1
fi
for b in edgeplane edgectl edgeload edgeplane-xdp; do
	[[ -x $BIN/$b ]] || { echo "demo: $BIN/$b is missing: run make first" >&2; exit 1; }
done
for c in "${CAMS[@]}"; do
	for i in ${IMGS[$c]}; do
		[[ -s $IMAGES/$i ]] || { echo "demo: $IMAGES/$i is missing: run scripts/fetch-images.sh" >&2; exit 1; }
	done
done
command -v jq >/dev/null || { echo "demo: jq is missing: run scripts/deps.sh" >&2; exit 1; }
command -v openssl >/dev/null || { echo "demo: openssl is missing: run scripts/deps.sh" >&2; exit 1; }

# A prefix of our own: several demos (and tests) can run side by side.
P=$(printf 'd%04x' $((($$ ^ RANDOM) & 0xffff)))
LOGS=$OUT/logs DATA=$OUT/data CONF=$OUT/config
# Sockets and pid files; no dot in the path (libbpf pin paths).
TMP=$(mktemp -d /tmp/ep-demo-XXXXXX) || { echo "demo: mktemp failed" >&2; exit 1; }
SOCK=$TMP/ctl.sock
PKI=$TMP/pki		# the deployment's CA, certificates and keys: secrets, not in the report
ROGUE=$TMP/rogue	# another CA: the intruder's
LOADERS=()
BG=()			# what we started in the background: the cameras, the watch
STATE=setup

# --- cleanup: on exit, Ctrl-C, TERM, or a failure half-way -------------------------------
cleanup() {
	local rc=$? p end
	trap - EXIT INT TERM
	[[ $STATE == interrupted ]] && say "interrupted: stopping everything"
	for p in "${BG[@]}"; do kill -TERM "$p" 2>/dev/null; done
	end=$((SECONDS + 3))
	for p in "${BG[@]}"; do
		while kill -0 "$p" 2>/dev/null && ((SECONDS < end)); do sleep 0.1; done
		kill -KILL "$p" 2>/dev/null
	done
	wait "${BG[@]}" 2>/dev/null
	# Everything in the rig's namespaces (controller, runtimes, cameras) is stopped by
	# `down`: SIGTERM, SIGKILL after 2 s; then the namespaces and bpffs mounts go.
	[[ -d $LOGS ]] || LOGS=$TMP
	if ! "$RIG" --prefix "$P" down --force >>"$LOGS/rig.log" 2>&1; then
		echo "demo: 'vm/rig --prefix $P down --force' failed (see $LOGS/rig.log)" >&2
		rc=1
	fi
	rm -rf "$TMP"
	[[ $STATE == interrupted ]] && say "rig $P removed; the daemons' logs so far are in ${LOGS#"$ROOT"/}"
	exit "$rc"
}
trap cleanup EXIT
trap 'STATE=interrupted; exit 130' INT
trap 'STATE=interrupted; exit 143' TERM

# The report's directory: only what an earlier demo wrote there is replaced.
mkdir -p "$OUT" || die "cannot create $OUT"
rm -rf "${OUT:?}"/{logs,data,config} "$OUT"/*.png "$OUT"/*.svg "$OUT"/index.html \
	"$OUT"/summary.json "$OUT"/summary.txt
mkdir -p "$LOGS" "$DATA" "$CONF"

rig() { timeout 60 "$RIG" --prefix "$P" "$@"; }
ctl() { timeout 10 "$BIN/edgectl" --socket "$SOCK" "$@"; }
# wait_for_line FILE REGEX SECONDS (shared with the tests)
source "$ROOT/vm/lib.sh"
node_state() { ctl node list --json 2>/dev/null | jq -r --argjson id "$1" '.[] | select(.id == $id) | .state'; }

echo "edgeplane demo: defect detection offloaded from 3 cameras to edge workers behind an"
echo "XDP gateway; ${DURATION} s of traffic, $([[ $KILL == none ]] && echo "no worker killed" ||
	echo "worker $KILL killed halfway"). Report: ${OUT#"$ROOT"/}/index.html"

# --- 1. the rig ---------------------------------------------------------------------------
say "rig $P: building vm/topo/demo.topo (10 network namespaces, one bridge)"
rig up "$TOPO" >"$LOGS/rig.log" 2>&1 || die "vm/rig up failed: $(tail -3 "$LOGS/rig.log")"
rig topo --json >"$DATA/topology.json" || die "vm/rig topo failed"
addr() { jq -r --arg n "$1" '.nodes[] | select(.name == $n) | .ipv4' "$DATA/topology.json"; }
mac() { jq -r --arg n "$1" '.nodes[] | select(.name == $n) | .mac' "$DATA/topology.json"; }
cap() { jq -r --arg n "$1" '.nodes[] | select(.name == $n) | .capacity' "$DATA/topology.json"; }
GW=$(addr gw)
say "rig up: cam1 cam2 cam3 -> gw $GW -> w1 w2 w3 (capacity $(cap w1)/$(cap w2)/$(cap w3)), cloud $(addr cloud); $INTRUDER $(addr "$INTRUDER")"

# --- 2. the PKI ----------------------------------------------------------------------------
# A CA; the controller's certificate for the gateway's address; one per node, named as in
# the controller's `nodes`, so that the ids the sync gives them are the configured ones
# (docs/protocol.md 7.5, Sync); one per camera. And another CA, with a certificate that
# claims to be cam1: the intruder's.
pki() { "$ROOT/scripts/ep-pki.sh" "$@" >>"$LOGS/pki.log" 2>&1; }
{
	pki ca "$PKI" && pki issue "$PKI" ctl controller 0 --addr "$GW" &&
	for n in "${WORKERS[@]}" cloud; do pki issue "$PKI" "$n" node 0 || exit 1; done &&
	for c in "${CAMS[@]}"; do pki issue "$PKI" "$c" "$CAM_ROLE" "$TENANT" || exit 1; done &&
	pki ca "$ROGUE" && pki issue "$ROGUE" cam1 "$CAM_ROLE" "$TENANT"
} || die "scripts/ep-pki.sh failed: $(tail -3 "$LOGS/pki.log")"
# The role: the blobs and echo task types (20, 1), priorities up to 5 (these are the
# operator's own cameras), and rates far above a camera's load (60 frames/s at most, each
# about 100 datagrams and 140 KB before zstd, retries included).
cat >"$CONF/roles.conf" <<EOF
# The controller's device roles (docs/operations.md, "Enrollment and PKI").
roles = {
  $CAM_ROLE = {
    types = [20, 1];           # blobs, echo
    max_priority = 5;
    tasks_per_s = 2000;        # new tasks per second
    burst_tasks = 2000;
    kib_per_s = 262144;        # 256 MiB/s
    burst_kib = 131072;
    max_task_len = 16777216;   # 16 MiB
  };
};
EOF
say "PKI: a CA and certificates for the controller ($GW), the nodes w1 w2 w3 cloud (OU=node) and the cameras (OU=$CAM_ROLE, O=$TENANT); another CA for the intruder"

# --- 3. the controller -------------------------------------------------------------------
cat >"$CONF/edgectl.conf" <<EOF
# The gateway's controller (docs/operations.md). Workers are named here; their MACs come
# from their first load report, which counts only sealed with the node's own key (from its
# sync: its certificate's CN is its name here). The cloud node sends no reports: it is
# only the target of what overflows (no worker eligible) at priorities 4 and 5.
# The cameras enroll here (mutual TLS 1.3) and get session keys with their role's limits.
# auth.mode is "required" (the default): the gateway's XDP checks every task's key, drops
# a task without one (drop_auth_missing), charges it to the key's rates instead of its
# source prefix's, and lets the role's priorities (up to 5) stand.
gateway: { interface = "eth0"; };
control: {
  listen = "$GW:7879";         # the management address: the workers report to it
  allow_register = false;      # only the nodes below (their first report gives their MAC)
  socket = "$SOCK";
  dead_after_ms = $DEAD_AFTER_MS;
};
enroll: {
  listen = "$GW:$ENROLL_PORT";
  cert = "$PKI/ctl.crt"; key = "$PKI/ctl.key"; ca = "$PKI/ca.crt";
  policy = "$CONF/roles.conf";
};
policy: {
  name = "p2c";
  overflow = ["reject", "reject", "reject", "cloud", "cloud"];
  cloud_node = ${NODE_ID[cloud]};
};
nodes = (
  { id = 1; name = "w1"; ip4 = "$(addr w1)"; capacity = $(cap w1); },
  { id = 2; name = "w2"; ip4 = "$(addr w2)"; capacity = $(cap w2); },
  { id = 3; name = "w3"; ip4 = "$(addr w3)"; capacity = $(cap w3); },
  { id = ${NODE_ID[cloud]}; name = "cloud"; role = "cloud"; mac = "$(mac cloud)"; ip4 = "$(addr cloud)";
    capacity = $(cap cloud); }
);
EOF
"$RIG" --prefix "$P" exec gw "$BIN/edgectl" serve --config "$CONF/edgectl.conf" \
	>"$LOGS/edgectl.log" 2>&1 &
disown $!	# the daemons are stopped with the rig; no job notices
wait_for_line "$LOGS/edgectl.log" "controller ready" 10 ||
	die "edgectl serve did not start: $(tail -3 "$LOGS/edgectl.log")"
# The gateway's auth mode, as its XDP reads it.
gw_auth_mode() { ctl status --json 2>/dev/null | jq -r '.auth_mode // empty'; }
GW_AUTH=$(gw_auth_mode)
say "controller on gw: XDP gateway attached to eth0 ($(grep -o '([a-z]* mode)' "$LOGS/edgectl.log" | head -1 | tr -d '()'), auth mode ${GW_AUTH:-?}), P2C by load, cloud for overflow of priorities 4-5; enrollment on $GW:$ENROLL_PORT (TLS 1.3, mutual)"

# --- 4. the runtimes ---------------------------------------------------------------------
# runtime_conf NODE [REPORT-LINE]
runtime_conf() {
	cat <<EOF
# edgeplane on $1 (docs/operations.md): AF_XDP on eth0, the blob detector (and echo).
# Tasks come to the gateway's address, forwarded by MAC (DSR): it is this node's too
# (a virtual address).
interface = "eth0";
stats_socket = "$TMP/$1.sock";
ready_file = "$TMP/$1.ready";
# reply_route off: the replies go back through the gateway, which relays them (forwarding
# stays off here, see below), so the classifier need not look up a route per task (which
# it would count as reply_no_route on every task).
xdp: { virtual_addresses = [ "$GW" ]; reply_route = false; };
handlers = ( { name = "blobs"; }, { name = "echo"; } );
# auth.mode "required" (the default): only datagrams sealed with a device's session key
# are served; the classifier drops the others in XDP (no key, an unknown or revoked one,
# over the key's rates), and the runtime opens and verifies every datagram it is given.
# The keys come from the controller, which this node syncs with every 50 ms (the
# default is 250) over mutual TLS as node "$1" (OU=node); the sync also gives its node id
# (the controller's for that name) and its own key, which seals its load reports. Each
# camera's edgeload enrolls anew when the traffic starts: until the next sync its first
# datagrams are dropped here as unknown_key and retried, which with 250 ms made the first
# second's p99 some 250 ms. A camera's role allows it priorities up to 5: they stand here
# as at the gateway.
auth: { controller = "$GW:$ENROLL_PORT"; cert = "$PKI/$1.crt"; key = "$PKI/$1.key";
        ca = "$PKI/ca.crt"; sync_ms = 50; };
${2:-}
EOF
}
for w in "${WORKERS[@]}"; do
	runtime_conf "$w" "report = { controller = \"$GW:7879\"; capacity = $(cap "$w"); cpu = \"process\"; };   # the node id: the sync's" \
		>"$CONF/$w.conf"
done
runtime_conf cloud >"$CONF/cloud.conf"
# The workers' replies go to the gateway, whose XDP relays them to the cameras
# (docs/operations.md, "Replies"). A worker could answer the cameras itself with IP
# forwarding on, but then a task that reaches it while its runtime is down goes to its
# kernel, which forwards it back to the gateway's address: a loop, until the TTL runs out.
for n in "${WORKERS[@]}" cloud; do
	"$RIG" --prefix "$P" exec "$n" "$BIN/edgeplane" -c "$CONF/$n.conf" >"$LOGS/$n.log" 2>&1 &
	disown $!
done
for n in "${WORKERS[@]}" cloud; do
	wait_for_line "$TMP/$n.ready" . 15 || die "edgeplane on $n did not start: $(tail -3 "$LOGS/$n.log")"
done
end=$((SECONDS + 10))
while ((SECONDS < end)); do
	up=$(ctl node list --json 2>/dev/null | jq '[.[] | select(.state == "up")] | length')
	[[ $up == 3 ]] && break
	sleep 0.1
done
[[ ${up:-0} == 3 ]] || die "the workers did not register: $(ctl node list 2>&1 | tail -4)"
rtstats() { "$BIN/edgeplane" stats --socket "$TMP/$1.sock" --json 2>>"$LOGS/$1.log"; }
# The cloud sends no reports: wait for its first sync.
end=$((SECONDS + 10))
until [[ $(rtstats cloud | jq -r .auth.connected) == true ]] || ((SECONDS >= end)); do sleep 0.1; done
synced=""
for n in "${WORKERS[@]}" cloud; do
	synced+=" $n=$(rtstats "$n" | jq -r 'if .auth.connected then .auth.node_id else "?" end')"
done
say "runtimes ready: w1 w2 w3 registered by their sealed load reports (every 100 ms), cloud standing by; keys synced from the controller, node ids:$synced"

# A camera's edgeload enrolls with the controller with its certificate: a session key,
# which seals every datagram it sends (docs/client.md, "Authentication").
enroll_opts() { echo --enroll "$GW:$ENROLL_PORT" --cert "$PKI/$1.crt" --key "$PKI/$1.key" --ca "$PKI/ca.crt"; }
# One frame of each kind through the gateway: a sample of the results, and warm caches.
mkdir -p "$DATA/samples"
for c in "${CAMS[@]}"; do
	line=""
	for i in ${IMGS[$c]}; do
		# shellcheck disable=SC2046,SC2086
		rig exec "$c" "$BIN/edgeload" run --to "$GW" --type blobs --in "$IMAGES/$i" \
			--prio "${PRIO[$c]}" ${BLOB_ARGS[$c]} $(enroll_opts "$c") --json \
			>"$DATA/samples/$i.json" 2>>"$LOGS/$c.log" ||
			die "a first $i frame from $c was not answered (see logs/$c.log)"
		line+=" $i: $(jq -r '"\(.count) blobs (threshold \(.level))"' "$DATA/samples/$i.json");"
	done
	say "$c (${ROLE[$c]}, priority ${PRIO[$c]}):${line%;}"
done
ctl keys --json >"$DATA/keys-samples.json" 2>>"$LOGS/edgectl.log"
say "enrolled (mutual TLS 1.3, one key per edgeload session): $(jq -r '[.keys[] | select(.node_id | not)]
	| group_by(.name) | map("\(.[0].name) (\(.[0].role), tenant \(.[0].tenant)) key \(map(.key_id) | join(","))") | join(", ")' \
	"$DATA/keys-samples.json" 2>/dev/null)"
SETUP_MS=$(($(now_ms) - T0_MS))

# --- 5. the traffic ----------------------------------------------------------------------
ctl node list --json >"$DATA/nodes-start.json"
ctl stats --json >"$DATA/gateway-start.json"
for n in "${WORKERS[@]}" cloud; do
	"$BIN/edgeplane" stats --socket "$TMP/$n.sock" --json >"$DATA/runtime-$n-start.json" 2>>"$LOGS/$n.log" ||
		echo 'null' >"$DATA/runtime-$n-start.json"
	rig exec "$n" "$BIN/edgeplane-xdp" stats --dev eth0 -j >"$DATA/classifier-$n-start.json" 2>>"$LOGS/$n.log" ||
		echo '{}' >"$DATA/classifier-$n-start.json"
done
WATCH_T0_MS=$(now_ms)
"$BIN/edgectl" --socket "$SOCK" stats --watch 1 --json --count $((DURATION + 20)) \
	>"$DATA/gateway-rates.jsonl" 2>"$LOGS/watch.log" &
BG+=($!)
LOAD_T0_MS=$(now_ms)
for c in "${CAMS[@]}"; do
	read -ra imgs <<<"${IMGS[$c]}"
	if ((${#imgs[@]} == 1)); then
		what=(--type blobs --in "$IMAGES/${imgs[0]}" --prio "${PRIO[$c]}")
	else
		spec=""
		for i in "${imgs[@]}"; do spec+="${spec:+;}blobs,in=$IMAGES/$i,prio=${PRIO[$c]}"; done
		what=(--mix "$spec")
	fi
	# shellcheck disable=SC2046,SC2086
	"$RIG" --prefix "$P" exec "$c" timeout $((DURATION + 60)) "$BIN/edgeload" load --to "$GW" \
		"${what[@]}" ${BLOB_ARGS[$c]} --rate "${RATE[$c]}" --concurrency 512 \
		--duration "${DURATION}s" --attempts $ATTEMPTS --zstd-level 3 $(enroll_opts "$c") \
		--timeline "$DATA/$c.timeline" --json >"$DATA/$c.json" 2>>"$LOGS/$c.log" &
	LOADERS+=($!)
	BG+=($!)
done
say "traffic: cam1 ${RATE[cam1]}/s (prio 5), cam2 ${RATE[cam2]}/s (prio 3), cam3 ${RATE[cam3]}/s (prio 1) of frames to $GW, open loop, zstd, up to $ATTEMPTS attempts, each camera enrolled and sealing"

# Progress: the last complete second of each camera's timeline, and the gateway's choices.
last_total() { awk '$3 == "total" { l = $0 } END { print l }' "$DATA/$1.timeline" 2>/dev/null; }
progress() {
	local c l ok=0 failed answered p99 p99max=0 shares
	for c in "${CAMS[@]}"; do
		l=$(last_total "$c")
		[[ -z $l ]] && continue
		read -r _ _ _ _ done_s _ _ p99 <<<"$l"
		ok=$((ok + done_s))
		[[ $p99 != nan ]] && p99max=$(awk -v a="$p99max" -v b="$p99" 'BEGIN { print (b > a ? b : a) }')
	done
	read -r answered failed < <(cat "$DATA"/cam*.timeline 2>/dev/null |
		awk '$3 == "total" { a += $5; f += $6 } END { print a + 0, f + 0 }')
	shares=$(tail -n 1 "$DATA/gateway-rates.jsonl" 2>/dev/null | jq -r '
		([.nodes[].tasks] | add) as $t | if ($t // 0) == 0 then "-" else
		[.nodes[] | select(.tasks > 0) | "\({"1": "w1", "2": "w2", "3": "w3", "9": "cloud"}[.id | tostring] // .id) \(.tasks * 100 / $t | round)%"] | join("  ") end' 2>/dev/null)
	say "$(printf 't=%3ds  answered %3d/s (%5d in all), failed %d, p99 %5.1f ms | gateway -> %s' \
		$((($(now_ms) - LOAD_T0_MS) / 1000)) "$ok" "$answered" "$failed" \
		"$(awk -v v="$p99max" 'BEGIN { print v / 1000 }')" "${shares:--}")"
}

# The intruder: a host on the segment that is not one of the cameras. It tries to enroll
# with a certificate that says it is cam1 but comes from another CA, then with none; then
# it sends tasks without a key to the gateway's address, a bounded burst. The controller
# must refuse both handshakes, and the gateway's XDP must drop every task unanswered
# (drop_auth_missing), while the cameras carry on.
INTRUDE_AT_MS=$((LOAD_T0_MS + DURATION * 250))
INTRUDED=0
intruder() {
	local ia out rc sc d0 d1 h0 h1 e0 e1 ti t0 t1 why1 why2 ok1 ok2
	INTRUDED=1 ti=$(now_ms)
	ia=$(addr "$INTRUDER")
	ctl status --json >"$DATA/intruder-status-0.json"
	out=$(rig exec "$INTRUDER" timeout 10 "$BIN/edgeload" run --to "$GW" --type echo --size 64 \
		--attempts 1 --enroll "$GW:$ENROLL_PORT" --cert "$ROGUE/cam1.crt" --key "$ROGUE/cam1.key" \
		--ca "$PKI/ca.crt" 2>&1)
	rc=$?
	printf '%s\n' "$out" >>"$LOGS/$INTRUDER.log"
	ok1=$([[ $rc -ne 0 && $out == *"enrollment with $GW:$ENROLL_PORT"* && $out != *"auth: "* ]] && echo true || echo false)
	why1=$(grep -oE '(tlsv1 )?alert [a-z ]+' <<<"$out" | head -1)
	say "!! $INTRUDER ($ia): enrolls with a certificate for cam1 from another CA: $([[ $ok1 == true ]] && echo "refused at the TLS handshake" || echo "NOT refused") (edgeload: ${why1:-exit status $rc})"
	sc=$(echo '{"op":"enroll"}' | rig exec "$INTRUDER" timeout 10 openssl s_client -quiet \
		-connect "$GW:$ENROLL_PORT" -tls1_3 -CAfile "$PKI/ca.crt" 2>&1)
	printf '%s\n' "$sc" >>"$LOGS/$INTRUDER.log"
	ok2=$(grep -q '"ok"' <<<"$sc" && echo false || echo true)
	why2=$(grep -oE '(tlsv1 )?alert [a-z ]+' <<<"$sc" | head -1)
	sleep 0.2	# the controller counts the refusal once the connection is closed
	ctl status --json >"$DATA/intruder-status-1.json"
	h0=$(jq '.enroll.by_outcome.handshake_failed // 0' "$DATA/intruder-status-0.json")
	h1=$(jq '.enroll.by_outcome.handshake_failed // 0' "$DATA/intruder-status-1.json")
	e0=$(jq '.enroll.by_outcome.enrolled // 0' "$DATA/intruder-status-0.json")
	e1=$(jq '.enroll.by_outcome.enrolled // 0' "$DATA/intruder-status-1.json")
	say "!! $INTRUDER: enrolls without a certificate (openssl s_client): $([[ $ok2 == true ]] && echo "refused at the TLS handshake" || echo "NOT refused") (openssl: ${why2:-no alert}); the controller counts $((h1 - h0)) failed handshakes, $((e1 - e0)) enrollments"
	# The controller's words for each (its log, "TLS handshake with ADDR:PORT failed: why").
	grep -oE "TLS handshake with $ia:[0-9]+ failed: [^(]*" "$LOGS/edgectl.log" |
		sed -E 's/.* failed: //; s/error:[0-9A-Fa-f]+:[^:]*::?//; s/ +$//' | jq -R . | jq -s . \
		>"$DATA/intruder-reasons.json"
	ctl stats --json >"$DATA/intruder-gateway-0.json"
	t0=$(now_ms)
	rig exec "$INTRUDER" timeout 10 "$BIN/edgeload" load --to "$GW" --type echo --size 64 \
		--count "$INTRUDER_TASKS" --rate "$INTRUDER_RATE" --concurrency "$INTRUDER_TASKS" \
		--attempts 1 --timeout-ms 300 --json >"$DATA/intruder-load.json" 2>>"$LOGS/$INTRUDER.log"
	t1=$(now_ms)
	ctl stats --json >"$DATA/intruder-gateway-1.json"
	d0=$(jq '.packets.drop_auth_missing // 0' "$DATA/intruder-gateway-0.json")
	d1=$(jq '.packets.drop_auth_missing // 0' "$DATA/intruder-gateway-1.json")
	say "!! $INTRUDER: $(jq -r '.total.sent // 0' "$DATA/intruder-load.json") tasks without a key to $GW in $(awk -v m=$((t1 - t0)) 'BEGIN { printf "%.1f", m / 1000 }') s: $(jq -r '.total.completed // 0' "$DATA/intruder-load.json") answered; the gateway's XDP dropped $((d1 - d0)) (drop_auth_missing)"
	jq -n --arg node "$INTRUDER" --arg addr "$ia" --arg why1 "$why1" --arg why2 "$why2" \
		--argjson ok1 "$ok1" --argjson ok2 "$ok2" --argjson rc1 "$rc" \
		--argjson at_ms "$((ti - LOAD_T0_MS))" --argjson burst_ms "$((t1 - t0))" \
		--argjson tasks "$INTRUDER_TASKS" --argjson rate "$INTRUDER_RATE" \
		--slurpfile s0 "$DATA/intruder-status-0.json" --slurpfile s1 "$DATA/intruder-status-1.json" \
		--slurpfile g0 "$DATA/intruder-gateway-0.json" --slurpfile g1 "$DATA/intruder-gateway-1.json" \
		--slurpfile load "$DATA/intruder-load.json" --slurpfile reasons "$DATA/intruder-reasons.json" '
		def d($k): (($s1[0].enroll.by_outcome[$k] // 0) - ($s0[0].enroll.by_outcome[$k] // 0));
		{node: $node, address: $addr, at_s: ($at_ms / 1000),
		 enroll: [{how: "a certificate for cam1 from another CA (edgeload --enroll)",
			   refused: $ok1, exit_status: $rc1, said: $why1},
			  {how: "no certificate (openssl s_client -tls1_3)", refused: $ok2, said: $why2}],
		 controller: {handshake_failed: d("handshake_failed"), handshake_ok: d("handshake_ok"),
			      enrolled: d("enrolled"), said: $reasons[0]},
		 burst: {tasks: $tasks, rate: $rate, ms: $burst_ms,
			 sent: ($load[0].total.sent // 0), answered: ($load[0].total.completed // 0),
			 failed: ($load[0].total.failed // 0), errors: ($load[0].total.errors // {}),
			 gateway_drop_auth_missing: (($g1[0].packets.drop_auth_missing // 0)
				- ($g0[0].packets.drop_auth_missing // 0))}}' >"$DATA/intruder.json" ||
		echo null >"$DATA/intruder.json"
}

KILL_AT_MS=$((LOAD_T0_MS + DURATION * 500))
KILLED=0 KILL_MS=0 DEAD_MS=0 KILL_PID=0
kill_worker() {
	local id=${NODE_ID[$KILL]} st drains
	ctl node list --json >"$DATA/nodes-kill.json"
	# A node starved of CPU (other work on the machine) may have been drained, and come back,
	# before: only a drain logged after the kill counts.
	drains=$(grep -c "^edgectl: warn: node $id .*: drained" "$LOGS/edgectl.log")
	KILL_PID=$(cat "$TMP/$KILL.ready" 2>/dev/null)
	[[ -n $KILL_PID ]] || die "no pid for $KILL's runtime"
	# What it verified, for the summary: its statistics die with it.
	rtstats "$KILL" >"$DATA/runtime-$KILL-kill.json" || echo null >"$DATA/runtime-$KILL-kill.json"
	kill -KILL "$KILL_PID"
	KILL_MS=$(now_ms)
	KILLED=1
	say "!! SIGKILL $KILL's runtime (pid $KILL_PID): the tasks it holds are lost; the cameras must retry elsewhere"
	# The controller logs the drain when it declares the node dead; the node list confirms.
	while (($(now_ms) - KILL_MS < 5000)); do
		(($(grep -c "^edgectl: warn: node $id .*: drained" "$LOGS/edgectl.log") > drains)) &&
			{ DEAD_MS=$(now_ms); break; }
		sleep 0.01
	done
	st=$(node_state "$id")
	[[ $st == dead ]] || DEAD_MS=0
	if ((DEAD_MS)); then
		say "!! controller: $KILL dead after $((DEAD_MS - KILL_MS)) ms without a report (dead_after $DEAD_AFTER_MS ms): drained, its table slots moved"
	else
		warn "the controller did not declare $KILL dead within 5 s (state: ${st:-?})"
	fi
}

STATE=load
next=$((LOAD_T0_MS + PROGRESS_S * 1000))
deadline=$((LOAD_T0_MS + (DURATION + 60) * 1000))
while :; do
	alive=0
	for p in "${LOADERS[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
	((alive)) || break
	now=$(now_ms)
	((now > deadline)) && die "the cameras did not finish"
	if ((!INTRUDED && now >= INTRUDE_AT_MS)); then
		intruder
		continue
	fi
	if [[ $KILL != none ]] && ((!KILLED && now >= KILL_AT_MS)); then
		kill_worker
	fi
	if ((now >= next)); then
		progress
		next=$((next + PROGRESS_S * 1000))
	fi
	sleep 0.2
done
LOAD_END_MS=$(now_ms)
for p in "${LOADERS[@]}"; do wait "$p"; done	# their status: failed tasks are in the JSON
STATE=report
say "traffic done after $(((LOAD_END_MS - LOAD_T0_MS) / 1000)) s; collecting statistics"

# --- 6. what everyone counted ------------------------------------------------------------
ctl node list --json >"$DATA/nodes-end.json"
ctl stats --json >"$DATA/gateway-end.json"
ctl policy show --json >"$DATA/policy.json" 2>/dev/null
ctl keys --json >"$DATA/keys-end.json" 2>>"$LOGS/edgectl.log" || echo null >"$DATA/keys-end.json"
ctl status --json >"$DATA/status-end.json" 2>>"$LOGS/edgectl.log" || echo null >"$DATA/status-end.json"
GW_AUTH_END=$(gw_auth_mode)
[[ -s $DATA/intruder.json ]] || echo null >"$DATA/intruder.json"
for n in "${WORKERS[@]}" cloud; do
	rig exec "$n" "$BIN/edgeplane-xdp" stats --dev eth0 -j >"$DATA/xdp-$n.json" 2>>"$LOGS/$n.log" ||
		echo '{}' >"$DATA/xdp-$n.json"
	if [[ $n == "$KILL" ]]; then
		echo 'null' >"$DATA/runtime-$n.json"
	else
		"$BIN/edgeplane" stats --socket "$TMP/$n.sock" --json >"$DATA/runtime-$n.json" 2>>"$LOGS/$n.log" ||
			echo 'null' >"$DATA/runtime-$n.json"
	fi
done
for p in "${BG[@]}"; do kill -TERM "$p" 2>/dev/null; done
[[ -s $DATA/nodes-kill.json ]] || cp "$DATA/nodes-end.json" "$DATA/nodes-kill.json"

# bundle FILE...: one JSON object, each file's contents under its name (without .json).
bundle() {
	local f
	for f in "$@"; do
		jq -c --arg k "$(basename "$f" .json)" '{($k): .}' "$f" 2>/dev/null ||
			jq -nc --arg k "$(basename "$f" .json)" '{($k): null}'
	done | jq -s 'add // {}'
}
for c in "${CAMS[@]}"; do
	jq -n --arg name "$c" --arg role "${ROLE[$c]}" --argjson prio "${PRIO[$c]}" \
		--argjson rate "${RATE[$c]}" --arg images "${IMGS[$c]}" --arg args "${BLOB_ARGS[$c]}" \
		'{name: $name, role: $role, prio: $prio, rate: $rate, images: ($images | split(" ")),
		  detector: $args}'
done | jq -s . >"$DATA/cameras.json"
# The timelines as JSON: {cam1: [{t, unix, kind, sent, completed, failed}, ...], ...}.
for c in "${CAMS[@]}"; do
	jq -R -s --arg cam "$c" '{($cam): [split("\n")[] | select(length > 0 and (startswith("#") | not))
		| split(" ") | {t: (.[0] | tonumber), unix: (.[1] | tonumber), kind: .[2],
		  sent: (.[3] | tonumber), completed: (.[4] | tonumber), failed: (.[5] | tonumber)}]}' \
		"$DATA/$c.timeline" 2>/dev/null || jq -n --arg cam "$c" '{($cam): []}'
done | jq -s add >"$DATA/timelines.json"
for c in "${CAMS[@]}"; do jq -c . "$DATA/$c.json" 2>/dev/null || echo null; done >"$DATA/loads.jsonl"
(cd "$DATA" && bundle xdp-*.json) | jq 'with_entries(.key |= ltrimstr("xdp-"))' >"$DATA/xdp.json"
(cd "$DATA" && bundle classifier-*-start.json) |
	jq 'with_entries(.key |= (ltrimstr("classifier-") | rtrimstr("-start")))' >"$DATA/classifiers-start.json"
(cd "$DATA" && for n in "${WORKERS[@]}" cloud; do bundle "runtime-$n.json"; done) |
	jq -s 'add | with_entries(.key |= ltrimstr("runtime-"))' >"$DATA/runtimes-end.json"
(cd "$DATA" && for n in "${WORKERS[@]}" cloud; do bundle "runtime-$n-start.json"; done) |
	jq -s 'add | with_entries(.key |= (ltrimstr("runtime-") | rtrimstr("-start")))' \
	>"$DATA/runtimes-start.json"
# The last statistics of each runtime: at the end, or, for the killed one, just before.
(cd "$DATA" && for n in "${WORKERS[@]}" cloud; do
	f=runtime-$n.json
	[[ $n == "$KILL" && -s runtime-$n-kill.json ]] && f=runtime-$n-kill.json
	jq -c --arg k "$n" '{($k): .}' "$f" 2>/dev/null || jq -nc --arg k "$n" '{($k): null}'
done) | jq -s 'add' >"$DATA/runtimes-last.json"
(cd "$DATA/samples" && bundle ./*.json) >"$DATA/samples.json"

jq -n -f "$HERE/summary.jq" \
	--argjson duration "$DURATION" --argjson quick "$QUICK" --arg prefix "$P" \
	--arg kernel "$(uname -r)" --argjson cpus "$(nproc)" --arg gw "$GW" \
	--argjson setup_ms "$SETUP_MS" --argjson load_t0_ms "$LOAD_T0_MS" \
	--argjson load_end_ms "$LOAD_END_MS" --argjson watch_t0_ms "$WATCH_T0_MS" \
	--arg kill "$KILL" --argjson kill_ms "$KILL_MS" --argjson dead_ms "$DEAD_MS" \
	--argjson kill_pid "${KILL_PID:-0}" --argjson dead_after_ms "$DEAD_AFTER_MS" \
	--argjson attempts "$ATTEMPTS" \
	--arg gw_auth "${GW_AUTH_END:-}" --arg enroll_at "$GW:$ENROLL_PORT" \
	--slurpfile keys "$DATA/keys-end.json" --slurpfile status_end "$DATA/status-end.json" \
	--slurpfile runtime_last "$DATA/runtimes-last.json" --slurpfile intruder "$DATA/intruder.json" \
	--argjson node_ids '{"1": "w1", "2": "w2", "3": "w3", "9": "cloud"}' \
	--slurpfile cams "$DATA/cameras.json" --slurpfile loads "$DATA/loads.jsonl" \
	--slurpfile timelines "$DATA/timelines.json" \
	--slurpfile nodes_start "$DATA/nodes-start.json" --slurpfile nodes_kill "$DATA/nodes-kill.json" \
	--slurpfile nodes_end "$DATA/nodes-end.json" \
	--slurpfile gw_start "$DATA/gateway-start.json" --slurpfile gw_end "$DATA/gateway-end.json" \
	--slurpfile xdp "$DATA/xdp.json" --slurpfile runtime "$DATA/runtimes-end.json" \
	--slurpfile xdp_start "$DATA/classifiers-start.json" \
	--slurpfile runtime_start "$DATA/runtimes-start.json" --slurpfile samples "$DATA/samples.json" \
	>"$OUT/summary.json" || die "building summary.json failed"

# --- 7. the report -----------------------------------------------------------------------
"$HERE/report.sh" "$OUT" >"$LOGS/report.log" 2>&1 || warn "plots: $(tail -2 "$LOGS/report.log")"
TOTAL_MS=$(($(now_ms) - T0_MS))
tmp=$(jq --argjson ms "$TOTAL_MS" '.timing.total_s = ($ms / 1000)' "$OUT/summary.json") &&
	printf '%s\n' "$tmp" >"$OUT/summary.json"
jq -r -f "$HERE/summary-text.jq" "$OUT/summary.json" | tee "$OUT/summary.txt"
echo
echo "Report: ${OUT#"$ROOT"/}/index.html (plots, tables), summary.json, data/, logs/"
say "done; removing the rig"
STATE=finished
