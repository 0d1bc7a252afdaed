#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Shared helpers of the shell integration tests: TAP output, a private bpffs, and a pair of
# network namespaces joined by a veth, all named with a per-run suffix and removed by an
# EXIT trap, on success or failure.
#
#   source tests/lib/lib.sh
#   ep_setup_pair          # ns $NS_A / $NS_B, veth $IF_A / $IF_B, addresses below
#   ok "case" / not_ok "case" / skip "case" "reason" / check "case" CMD...
#
# Addresses: A = 198.18.0.1 / 2001:db8::1, B = 198.18.0.2 / 2001:db8::2 (test ranges only).
set -u

EP_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${BUILD:-$EP_ROOT/build}
[[ $BUILD = /* ]] || BUILD=$EP_ROOT/$BUILD
# The programs under test: build/bin, or EP_BIN (`make test-run` sets it to build/bin-san,
# the daemons, edgeload and the tools built with ASan+UBSan; benchmarks leave it unset).
BIN=${EP_BIN:-$BUILD/bin}
TOOLS=$BUILD/tests/tools
BPFOBJ=$BUILD/bpf

ADDR_A=198.18.0.1 ADDR_B=198.18.0.2
ADDR6_A=2001:db8::1 ADDR6_B=2001:db8::2

# The runtime serves only authenticated devices unless told otherwise (auth.mode defaults
# to "required"). A test about something else says so: EP_AUTH_OFF in its configuration
# file, or EP_AUTH_OFF_ARG on its command line. Tests of authentication make keys with
# ep_keys_file (below).
EP_AUTH_OFF='auth: { mode = "off"; };	# this test is not about device authentication'
# Rate limits per source prefix far above any test's load (the defaults are a guard that a
# test sending hundreds of thousands of tasks from one address would meet): the runtime's
# `rate_limit` group as EP_HIGH_LIMITS, and the gateway's, which also limits tasks, as
# EP_HIGH_GW_LIMITS. For tests about load balancing, not about the limits.
EP_HIGH_LIMITS='packets_per_s = 4000000; packets_burst = 4000000; bytes_per_s = 2000000000;
	bytes_burst = 2000000000;'
EP_HIGH_GW_LIMITS="$EP_HIGH_LIMITS tasks_per_s = 4000000; tasks_burst = 4000000;"
EP_AUTH_OFF_ARG='--auth-mode off'

# ep_key ID [FIELD=VALUE...]: a key object of docs/protocol.md 7.5 with a fresh random key,
# issued now and valid for an hour, tenant 7, role "camera", every type, priority up to 3,
# tasks up to 1 MiB, no address; FIELD=VALUE (a JSON value) changes a field: tenant=8,
# types=[1,2], max_priority=5, max_task_len=4096, expires_unix_ms=0, revoked=true,
# addr='"198.18.0.1"'.
ep_key() {
	local id=$1 now key
	shift
	now=$(date +%s%3N)
	key=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
	jq -cn --argjson id "$id" --arg key "$key" --argjson now "$now" --args \
		'{key_id: $id, key: $key, issued_unix_ms: $now, expires_unix_ms: ($now + 3600000),
		  name: "dev-\($id)", role: "camera", tenant: 7, revoked: false,
		  limits: {types: "*", max_priority: 3, tasks_per_s: 0, burst_tasks: 0,
			   kib_per_s: 0, burst_kib: 0, max_task_len: 1048576}}
		 | reduce ($ARGS.positional[] | capture("(?<k>[^=]+)=(?<v>.*)")) as $f (.;
			if ($f.k | IN("key_id", "key", "issued_unix_ms", "expires_unix_ms", "name",
				      "role", "tenant", "revoked", "addr"))
			then .[$f.k] = ($f.v | fromjson) else .limits[$f.k] = ($f.v | fromjson) end)' \
		"$@"
}
# ep_keys_file FILE [KEY-OBJECT...]: a keys file (a JSON array, mode 0600), replaced at once
# (a runtime that reads it never sees half of it).
ep_keys_file() {
	local f=$1
	shift
	printf '%s\n' "$@" | jq -s . >"$f.new" && chmod 600 "$f.new" && mv "$f.new" "$f"
}
# ep_keys_edit FILE JQ-FILTER: change a keys file the same way (e.g. a revocation).
ep_keys_edit() {
	jq "$2" "$1" >"$1.new" && chmod 600 "$1.new" && mv "$1.new" "$1"
}

_tap_n=0 _tap_failed=0
ok() { _tap_n=$((_tap_n + 1)); echo "ok $_tap_n - $*"; }
not_ok() { _tap_n=$((_tap_n + 1)); _tap_failed=$((_tap_failed + 1)); echo "not ok $_tap_n - $*"; }
skip() { _tap_n=$((_tap_n + 1)); echo "ok $_tap_n - $1 # SKIP $2"; }
diag() { echo "# $*"; }
# check "description" command...: ok if the command succeeds.
check() {
	local what=$1
	shift
	if "$@"; then ok "$what"; else not_ok "$what"; fi
}
# expect_eq "description" GOT WANT
expect_eq() {
	if [[ "$2" == "$3" ]]; then ok "$1"; else not_ok "$1"; diag "got '$2', want '$3'"; fi
}
quiet() { "$@" >/dev/null 2>&1; }
# tap_from FILE PREFIX: re-emit the TAP of a C test tool (its output in FILE) as this
# script's cases, each name after PREFIX: passes, failures, skips with their reason, its
# diagnostics; a "Bail out!" is a failure, and so is output without a plan line (the tool
# crashed or was cut short).
tap_from() {
	local line l
	while IFS= read -r line; do
		case $line in
		"not ok "*) l=${line#not ok }; not_ok "$2${l#* - }" ;;
		"ok "*" # SKIP "*) l=${line#ok }; l=${l#* - }; skip "$2${l%% # SKIP *}" "${l##* # SKIP }" ;;
		"ok "*) l=${line#ok }; ok "$2${l#* - }" ;;
		"Bail out!"*) not_ok "$2$line" ;;
		"#"*) echo "$line" ;;
		esac
	done < <(grep -E '^(not ok|ok|#|Bail out!)' "$1")
	grep -q '^1\.\.' "$1" || not_ok "${2}ran to its end (plan line)"
}
tap_done() { echo "1..$_tap_n"; [[ $_tap_failed -eq 0 ]]; }

# A run suffix that keeps names unique among concurrent runs and short enough for
# interface names (15 characters).
EP_SUFFIX=$(printf '%x%03x' $$ $((RANDOM % 4096)))
# (no "." in the path: libbpf turns dots in pin paths into underscores)
EP_TMP=$(mktemp -d "/tmp/ep-test-$EP_SUFFIX-XXXX")
_cleanup_fns=()
on_exit() { _cleanup_fns=("$1" "${_cleanup_fns[@]}"); }
_run_cleanup() {
	local rc=$?
	# Background jobs first (a runtime, a generator), before the namespaces, mounts and
	# files they use are torn down; then the rest, the latest registered first.
	_kill_jobs >/dev/null 2>&1
	for f in "${_cleanup_fns[@]}"; do $f >/dev/null 2>&1; done
	rm -rf "$EP_TMP"
	exit $rc
}
trap _run_cleanup EXIT
trap 'exit 130' INT TERM

# Signing (docs/operations.md, "Signing"): the runtime loads a plugin or a handler file
# (model, reference frame) only with FILE.sig made by the key of signing.public_key. Each
# run makes its own key pair, under $EP_TMP (gone at exit; no private key is committed);
# $EP_SIGNING is the config line that trusts it.
EP_SIGN_KEY=$EP_TMP/sign/operator.key EP_SIGN_PUB=$EP_TMP/sign/operator.pub
EP_SIGNING="signing: { public_key = \"$EP_SIGN_PUB\"; };"
# ep_sign FILE...: write FILE.sig with this run's key (made on first use).
ep_sign() {
	if [[ ! -s $EP_SIGN_KEY ]]; then
		mkdir -p "$EP_TMP/sign" &&
			"$EP_ROOT/scripts/ep-sign.sh" keygen "$EP_SIGN_KEY" "$EP_SIGN_PUB" >/dev/null ||
			return 1
	fi
	"$EP_ROOT/scripts/ep-sign.sh" sign "$EP_SIGN_KEY" "$@" >/dev/null
}
# ep_signed FILE: print the path of a signed copy of FILE, in $EP_TMP/signed (the
# signature of a shared file, such as build/data/images/coins.png, is not written beside
# it: another run's key would replace it).
ep_signed() {
	local d=$EP_TMP/signed
	mkdir -p "$d" && cp "$1" "$d/" && ep_sign "$d/${1##*/}" && echo "$d/${1##*/}"
}

# ep_plugin NAME: print the path of a signed copy of build/tests/plugins/NAME in a directory
# the runtime loads plugins from: one only root can write, every parent too
# (docs/operations.md, "Plugins"). The build tree itself may not be such a place: a clone
# under /tmp (sticky, but writable by everyone) is refused. Removed at exit.
EP_PLUGIN_DIR=/run/ep-test-plugins-$EP_SUFFIX
ep_plugin() {
	install -d -m 0755 "$EP_PLUGIN_DIR" &&
		install -m 0644 "$BUILD/tests/plugins/$1" "$EP_PLUGIN_DIR/$1" &&
		ep_sign "$EP_PLUGIN_DIR/$1" && echo "$EP_PLUGIN_DIR/$1"
}
_rm_plugin_dir() { rm -rf "$EP_PLUGIN_DIR"; }
on_exit _rm_plugin_dir

# Kill background jobs of this test (_run_cleanup, before anything is torn down: an
# on_exit registration would run after every one a test makes later).
_kill_jobs() { local j; j=$(jobs -p); [[ -n $j ]] && kill $j 2>/dev/null; wait 2>/dev/null; }

need_root() {
	if [[ $(id -u) -ne 0 ]]; then
		skip "$1" "needs root (network namespaces, XDP)"
		tap_done
		exit 0
	fi
}

# A bpffs of our own: libxdp (LIBXDP_BPFFS) and our pins live there, visible from every
# `ip netns exec` (which remounts /sys) and gone with the test.
ep_setup_bpffs() {
	EP_BPFFS=$EP_TMP/bpffs
	mkdir -p "$EP_BPFFS"
	mount -t bpf bpf "$EP_BPFFS" || return 1
	export LIBXDP_BPFFS=$EP_BPFFS
	on_exit _umount_bpffs
}
_umount_bpffs() { umount "$EP_BPFFS"; }

NS_A=ep-t$EP_SUFFIX-a NS_B=ep-t$EP_SUFFIX-b
IF_A=epa$EP_SUFFIX IF_B=epb$EP_SUFFIX
in_a() { ip netns exec "$NS_A" "$@"; }
in_b() { ip netns exec "$NS_B" "$@"; }

# ep_start_runtime LOG ARGS...: `edgeplane ARGS` in $NS_B, with its statistics on
# $EP_TMP/stats.sock (on EP_RT_STATS if set; if set empty, where the configuration says),
# output appended to LOG, its pid in RT_PID. Returns 0 once it is ready; 1 if it exits
# or is not ready within 10 s (then it is stopped, RT_PID empty).
ep_start_runtime() {
	local log=$1 stats=${EP_RT_STATS-$EP_TMP/stats.sock} asan=${ASAN_OPTIONS-}
	shift
	rm -f "$EP_TMP/ready"
	# The dpdk backend: tests/lsan.supp names DPDK's net_af_xdp PMD, whose frames a leak's
	# stack shows only when LSan unwinds slowly, through libxdp and libbpf.
	[[ " $* " == *" dpdk "* && -n $asan ]] && asan+=:fast_unwind_on_malloc=0
	# Not through in_b: $! must be the runtime itself, not a subshell.
	ASAN_OPTIONS=$asan ip netns exec "$NS_B" "$BIN/edgeplane" "$@" \
		${stats:+--stats-socket "$stats"} --ready-file "$EP_TMP/ready" >>"$log" 2>&1 &
	RT_PID=$!
	ep_await_ready "$RT_PID" 200 test -s "$EP_TMP/ready" && return 0
	RT_PID=
	return 1
}
# ep_await_ready PID TRIES CMD...: 0 once CMD succeeds (tried every 50 ms, TRIES times);
# else (PID exited, or time ran out) 1, PID stopped and reaped.
ep_await_ready() {
	local pid=$1 tries=$2 _
	shift 2
	for _ in $(seq "$tries"); do
		"$@" && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 1
}
# ep_stop_runtime: SIGTERM the runtime ep_start_runtime started and wait for it; its
# exit status.
ep_stop_runtime() {
	local rc=0
	[[ -n ${RT_PID:-} ]] && { kill -TERM "$RT_PID" 2>/dev/null; wait "$RT_PID"; rc=$?; }
	RT_PID=
	return $rc
}

# ep_cannot_run BACKEND LOG: true, printing the reason (the first error the runtime
# logged), when LOG shows the runtime failed to start because BACKEND cannot run on this
# host (a missing kernel feature, a DPDK that is not built in or whose EAL cannot
# initialise); false for any other failure. A test skips the backend's checks then.
declare -A EP_CANNOT_RUN=(
	[uring]='uring: (this kernel lacks|io_uring is not available)'
	[dpdk]='dpdk: (this edgeplane was built without DPDK|no_huge = false, but no hugepages|rte_eal_init)'
	[dpdk-huge]='dpdk: this edgeplane was built without DPDK'	# hugepages: the test's
)
ep_cannot_run() {
	[[ -n ${EP_CANNOT_RUN[$1]:-} ]] && grep -qE "${EP_CANNOT_RUN[$1]}" "$2" &&
		grep -m1 'error' "$2"
}

# no_xdp NS DEV: ok when DEV in NS has no XDP program attached (and `ip` could tell).
no_xdp() { local o; o=$(ip -n "$1" link show "$2") && ! grep -q xdp <<<"$o"; }

ep_setup_pair() {
	on_exit _teardown_pair
	ip netns add "$NS_A" && ip netns add "$NS_B" &&
	ip link add "$IF_A" netns "$NS_A" type veth peer name "$IF_B" netns "$NS_B" &&
	in_a ip link set lo up && in_b ip link set lo up &&
	in_a ip addr add $ADDR_A/24 dev "$IF_A" && in_b ip addr add $ADDR_B/24 dev "$IF_B" &&
	in_a ip addr add $ADDR6_A/64 dev "$IF_A" nodad &&
	in_b ip addr add $ADDR6_B/64 dev "$IF_B" nodad &&
	in_a ip link set "$IF_A" up && in_b ip link set "$IF_B" up || return 1
	# Complete UDP checksums in software on both ends: a veth otherwise leaves them to an
	# offload that never runs, and the runtime checks them (xdp.verify_checksum = "on").
	in_a ethtool -K "$IF_A" tx off >/dev/null && in_b ethtool -K "$IF_B" tx off >/dev/null ||
		return 1
	# Resolve neighbours both ways now: a fresh interface ignores the first IPv6 neighbour
	# solicitation until it has joined its solicited-node group, which would cost the
	# first task a retry.
	in_a ping -c 1 -W 2 -q $ADDR_B >/dev/null 2>&1
	in_a ping -6 -c 1 -W 2 -q $ADDR6_B >/dev/null 2>&1
	return 0
}
_teardown_pair() {
	ip netns del "$NS_A"
	ip netns del "$NS_B"
}

# wait_for_line FILE REGEX SECONDS: until FILE has a line matching REGEX (vm/lib.sh, which
# the demo shares).
source "$EP_ROOT/vm/lib.sh"

# stat_packets JSON NAME: packets of one classifier outcome from `edgeplane-xdp stats -j`.
stat_packets() { jq -r --arg n "$2" '.[$n].packets' <<<"$1"; }

# bpftool_stat_packets MAP INDEX: sum over CPUs from `bpftool map dump` (BTF-formatted);
# MAP is "pinned PATH" or "id N".
bpftool_stat_packets() {
	bpftool -j map dump $1 |
		jq --argjson k "$2" '[.[].formatted | select(.key == $k) | .values[].value.packets] | add'
}

# --- session keys (docs/protocol.md 3.5, 7.5) --------------------------------------------
# ep_pki DIR [ADDR]: a CA in DIR and another in DIR/other (scripts/ep-pki.sh), and the
# controller's certificate (DIR/ctl.*: role controller, subjectAltName ADDR, $ADDR_B by
# default).
ep_pki() {
	EP_PKI=$1
	{ "$EP_ROOT/scripts/ep-pki.sh" ca "$EP_PKI" && "$EP_ROOT/scripts/ep-pki.sh" ca "$EP_PKI/other" &&
	  "$EP_ROOT/scripts/ep-pki.sh" issue "$EP_PKI" ctl controller 0 --addr "${2:-$ADDR_B}"; } \
		>>"$EP_TMP/pki.log" 2>&1
}
# ep_cert NAME ROLE TENANT [DIR]: a device's certificate, DIR/NAME.crt and .key, subject
# /O=TENANT/OU=ROLE/CN=NAME, from the CA in DIR ($EP_PKI; $EP_PKI/other for the other CA).
ep_cert() {
	"$EP_ROOT/scripts/ep-pki.sh" issue "${4:-$EP_PKI}" "$1" "$2" "$3" >>"$EP_TMP/pki.log" 2>&1
}
# ep_enroll_opts NAME [DIR]: the enrollment options of edgeload (and the example) for
# device NAME, against a controller on $EP_ENROLL_AT ($ADDR_B:7881) whose certificate
# $EP_PKI's CA signed.
ep_enroll_opts() {
	local d=${2:-$EP_PKI}
	echo --enroll ${EP_ENROLL_AT:-$ADDR_B:7881} --cert "$d/$1.crt" --key "$d/$1.key" \
		--ca "$EP_PKI/ca.crt"
}
# have_authnode: whether tests/tools/authnode.py can run (python3 with cryptography).
have_authnode() { python3 -c 'import cryptography.hazmat.primitives.ciphers.aead' 2>/dev/null; }
# ep_start_authnode STATS [authnode.py options]: the stand-in controller ($ADDR_B:7881, the
# certificates of ep_pki) and node ($ADDR_B:7878 unless --udp says) in $NS_B; its counters
# go to STATS (JSON) when ep_stop_authnode stops it. Returns 0 once it listens.
AUTHNODE_PID=
ep_start_authnode() {
	local stats=$1
	shift
	on_exit ep_stop_authnode
	: >"$EP_TMP/authnode.log"
	# ip netns exec execs python: $! is the process to stop.
	ip netns exec "$NS_B" python3 "$EP_ROOT/tests/tools/authnode.py" --udp $ADDR_B:7878 \
		--enroll $ADDR_B:7881 --cert "$EP_PKI/ctl.crt" --key "$EP_PKI/ctl.key" \
		--ca "$EP_PKI/ca.crt" --stats "$stats" "$@" 2>>"$EP_TMP/authnode.log" &
	AUTHNODE_PID=$!
	wait_for_line "$EP_TMP/authnode.log" "ready" 10
}
ep_stop_authnode() {
	[[ -n $AUTHNODE_PID ]] || return 0
	kill -TERM $AUTHNODE_PID 2>/dev/null
	wait $AUTHNODE_PID 2>/dev/null
	AUTHNODE_PID=
}

# --- set-up steps the integration tests share (issue 15) ---------------------------------
# ep_bail CASE [LOG [LINES]]: fail CASE (the last LINES, 20 by default, of LOG as a
# diagnostic), print the plan and exit 1: for a set-up step the rest of a test needs.
ep_bail() {
	not_ok "$1"
	[[ -n ${2:-} ]] && diag "$(tail -"${3:-20}" "$2")"
	tap_done
	exit 1
}
# ep_setup_or_bail [CASE]: ep_setup_bpffs and ep_setup_pair, or ep_bail CASE.
ep_setup_or_bail() {
	ep_setup_bpffs && ep_setup_pair || ep_bail "${1:-set up namespaces, veth and bpffs}"
}
# ep_runtime_or_bail CASE LOG ARGS...: ep_start_runtime LOG ARGS (stopped at exit), or
# ep_bail CASE with the end of LOG.
ep_runtime_or_bail() {
	local what=$1
	shift
	on_exit ep_stop_runtime
	ep_start_runtime "$@" || ep_bail "$what" "$1"
}
# ep_start_failed BACKEND LOG CASE SKIP-CASE: after the runtime with BACKEND failed to
# start (its output in LOG): skip SKIP-CASE if BACKEND cannot run on this host
# (ep_cannot_run), else fail CASE with the end of LOG.
ep_start_failed() {
	local reason
	if reason=$(ep_cannot_run "$1" "$2"); then
		skip "$4" "$reason"
	else
		not_ok "$3"
		diag "$(tail -20 "$2")"
	fi
}
# ep_builtin_handlers [BLOBS-FILE]: the entries of every built-in handler for a handlers
# list (blobs given BLOBS-FILE if named), each followed by a comma.
ep_builtin_handlers() {
	local b='{ name = "blobs"; },'
	[[ -n ${1:-} ]] && b="{ name = \"blobs\"; files = [ \"$1\" ]; },"
	printf '\t%s\n' '{ name = "echo"; }, { name = "checksum"; }, { name = "resize"; },' \
		'{ name = "box_blur"; }, { name = "gauss_blur"; }, { name = "sobel"; },' \
		"{ name = \"threshold\"; }, $b" '{ name = "zstd"; }, { name = "matmul"; },'
}
# expect_check_config CASE CONF RC PATTERN: `edgeplane -c CONF --check-config` exits RC and
# prints one line matching PATTERN (grep -c must say 1).
expect_check_config() {
	local out rc
	out=$("$BIN/edgeplane" -c "$2" --check-config 2>&1)
	rc=$?
	expect_eq "$1" "$rc:$(grep -c -- "$4" <<<"$out")" "$3:1"
}
# ep_rig_init LETTER: RIG (vm/rig), P (the rig prefix: LETTER and the run suffix's last
# four), rig ARGS (the rig, 60 s at most), SOCK and ctl ARGS (edgectl on $SOCK, 20 s at most).
ep_rig_init() {
	RIG=$EP_ROOT/vm/rig
	P=$1${EP_SUFFIX: -4}
	SOCK=$EP_TMP/ctl.sock
	rig() { timeout 60 "$RIG" --prefix "$P" "$@"; }
	ctl() { timeout 20 "$BIN/edgectl" --socket "$SOCK" "$@"; }
}
_rig_down() { "$RIG" --prefix "$P" down --force; }
# ep_rig_up_or_bail TOPO CASE: rig up TOPO (down --force at exit), or ep_bail CASE.
ep_rig_up_or_bail() {
	on_exit _rig_down
	rig up "$1" >"$EP_TMP/rig.log" 2>&1 || ep_bail "$2" "$EP_TMP/rig.log" 5
}
# ep_e2e_conf BLOBS-FILE PLUGIN: the runtime configuration eptest-e2e's checks expect (port
# 7878, 8 MiB tasks and results, every built-in handler, blobs given BLOBS-FILE, and
# PLUGIN's count handler as type 900).
ep_e2e_conf() {
	cat <<CONF
port = 7878;
limits: { max_task_len = 8388608; max_result_len = 8388608; queue_depth = 256; };
reassembly: { timeout_ms = 300; };
cache: { window_ms = 10000; };
$EP_SIGNING
handlers = (
$(ep_builtin_handlers "$1")
	{ plugin = "$2"; name = "count"; type = 900; }
);
$EP_AUTH_OFF
CONF
}
# ep_enroll_ctl_conf PKI ENROLL POLICY: an edgectl configuration: the gateway on $IF_A
# (detached at exit, no reply relay), control on $ADDR_A:7879 taking registrations, and
# enrollment on ENROLL with PKI's controller certificate and CA, POLICY, 10-minute keys.
ep_enroll_ctl_conf() {
	cat <<EOF
gateway: { interface = "$IF_A"; keep_attached = false; relay_replies = false; };
control: { listen = "$ADDR_A:7879"; allow_register = true; };
enroll: { listen = "$2"; cert = "$1/ctl.crt"; key = "$1/ctl.key"; ca = "$1/ca.crt";
          policy = "$3"; key_ttl_s = 600; };
EOF
}
# ep_wide_model FILE: an operator's model with a small input and a large output (4
# features, 4096 logits; mkmodel seed 1), signed: the amplification tests' worst case.
ep_wide_model() {
	"$TOOLS/mkmodel" --dims 4,4096 --seed 1 --out "$1" >/dev/null && ep_sign "$1"
}
# ep_amp_conf MODEL [LINE...]: a runtime configuration on $IF_B with LINEs, every built-in
# handler and infer with MODEL: the amplification tests' and benchmark's.
ep_amp_conf() {
	local model=$1
	shift
	printf '%s\n' "interface = \"$IF_B\";" "$@" "$EP_SIGNING" "handlers = ("
	ep_builtin_handlers
	printf '%s\n' "	{ name = \"infer\"; files = [ \"$model\" ]; }" ");" "$EP_AUTH_OFF"
}
# ep_synced_node_conf PKI CTL [LINE...]: a runtime configuration on $IF_B (queue 0, echo
# and checksum) whose keys come from the controller at CTL (certificate PKI/node1.*,
# synced every 250 ms), then LINEs.
ep_synced_node_conf() {
	local p=$1 ctl=$2
	shift 2
	printf '%s\n' "interface = \"$IF_B\";" "queues = [0];" \
		'handlers = ( { name = "echo"; }, { name = "checksum"; } );' \
		"auth: { controller = \"$ctl\"; cert = \"$p/node1.crt\"; key = \"$p/node1.key\";" \
		"        ca = \"$p/ca.crt\"; sync_ms = 250; };" "$@"
}

# --- checks the integration tests share (issue 15, duplicates) ---------------------------
# expect_echo CASE IN CMD...: CMD (an edgeload run with its --to, and whatever runs it:
# in_a, in_host, ...) sends IN as an echo task and writes the result; ok CASE if it comes
# back unchanged, else not_ok CASE with edgeload's last lines.
expect_echo() {
	local what=$1 in=$2
	shift 2
	if "$@" --type echo --in "$in" --out "$in.echoed" >"$EP_TMP/echo.log" 2>&1 &&
		cmp -s "$in" "$in.echoed"; then
		ok "$what"
	else
		not_ok "$what"
		diag "$(tail -5 "$EP_TMP/echo.log")"
	fi
}
# wait_cond SECONDS CMD...: until CMD succeeds, tried every $WAIT_COND_STEP seconds (0.02;
# a test whose CMD is costly sets it, e.g. WAIT_COND_STEP=0.2 wait_cond ...). Fails after
# SECONDS.
wait_cond() {
	local end=$(($(date +%s%N) + $1 * 1000000000))
	shift
	while (($(date +%s%N) < end)); do
		"$@" && return 0
		sleep "${WAIT_COND_STEP:-0.02}"
	done
	return 1
}
# expect_refusal CASE TEXT CMD...: CMD exits 2 (bad usage or a bad configuration) and its
# output contains TEXT: ok "CASE, 'WHAT IT SAID'" (from its "error: " on), else not_ok CASE
# with its exit status and first lines.
expect_refusal() {
	local what=$1 text=$2 out rc
	shift 2
	out=$("$@" 2>&1)
	rc=$?
	if ((rc == 2)) && [[ $out == *"$text"* ]]; then
		ok "$what, '${out#*error: }'"
	else
		not_ok "$what"
		diag "rc $rc (want 2, saying '$text'): $(head -3 <<<"$out")"
	fi
}

# --- a 3-member etcd cluster (issue 16) ---------------------------------------------------
# ep_etcd_up: etcd members 1..3, each in a namespace of its own ($EP_ETCD_NS_PREFIX<i>) at
# 198.18.9.<i> (client port 2379, peers 2380), joined by veths to a bridge in a hub
# namespace ($EP_ETCD_HUB, 198.18.9.254); data under $EP_TMP/etcd/<i>, output in
# $EP_TMP/etcd/<i>.log. $EP_ETCD_ENDPOINTS: the members' client URLs, comma-separated.
# Returns 0 once every member is healthy (bounded: 30 s), else 1. Torn down at exit.
# ep_etcd_join NS IF ADDR: a veth from namespace NS (IF, ADDR/24) to the bridge.
# ep_etcd_kill I / ep_etcd_start I: SIGKILL member I, or start it again on its data.
# ep_etcd_healthy [I...]: 0 if the members named (default: all) say they are healthy.
EP_ETCD_HUB=ep-t$EP_SUFFIX-eh EP_ETCD_NS_PREFIX=ep-t$EP_SUFFIX-e
EP_ETCD_ENDPOINTS=http://198.18.9.1:2379,http://198.18.9.2:2379,http://198.18.9.3:2379
EP_ETCD_PIDS=()
EP_ETCD_JOINED=()
ep_etcd_join() {
	local ns=$1 ifn=$2 addr=$3 peer=epe$EP_SUFFIX${#EP_ETCD_JOINED[@]}
	ip link add "$ifn" netns "$ns" type veth peer name "$peer" netns "$EP_ETCD_HUB" &&
		ip -n "$EP_ETCD_HUB" link set "$peer" master epbr up &&
		ip -n "$ns" addr add "$addr/24" dev "$ifn" &&
		ip -n "$ns" link set "$ifn" up && ip -n "$ns" link set lo up || return 1
	EP_ETCD_JOINED+=("$ns")
}
ep_etcd_start() {
	local i=$1 cluster=e1=http://198.18.9.1:2380,e2=http://198.18.9.2:2380,e3=http://198.18.9.3:2380
	local state=new
	[[ -d $EP_TMP/etcd/$i/member ]] && state=existing
	ip netns exec "$EP_ETCD_NS_PREFIX$i" etcd --name "e$i" --data-dir "$EP_TMP/etcd/$i" \
		--listen-client-urls "http://198.18.9.$i:2379" \
		--advertise-client-urls "http://198.18.9.$i:2379" \
		--listen-peer-urls "http://198.18.9.$i:2380" \
		--initial-advertise-peer-urls "http://198.18.9.$i:2380" \
		--initial-cluster "$cluster" --initial-cluster-token "ep-$EP_SUFFIX" \
		--initial-cluster-state "$state" --heartbeat-interval 50 --election-timeout 500 \
		>>"$EP_TMP/etcd/$i.log" 2>&1 &
	EP_ETCD_PIDS[$i]=$!
}
ep_etcd_kill() {
	[[ -n ${EP_ETCD_PIDS[$1]:-} ]] || return 0
	kill -KILL "${EP_ETCD_PIDS[$1]}" 2>/dev/null
	wait "${EP_ETCD_PIDS[$1]}" 2>/dev/null
	EP_ETCD_PIDS[$1]=
}
ep_etcd_healthy() {
	local eps=$EP_ETCD_ENDPOINTS i
	if [[ $# -gt 0 ]]; then
		eps=
		for i in "$@"; do eps+=${eps:+,}http://198.18.9.$i:2379; done
	fi
	ETCDCTL_API=3 ip netns exec "$EP_ETCD_HUB" timeout 5 etcdctl --endpoints="$eps" \
		--command-timeout=2s endpoint health >/dev/null 2>&1
}
ep_etcd_up() {
	local i end
	on_exit _etcd_down
	mkdir -p "$EP_TMP/etcd"
	ip netns add "$EP_ETCD_HUB" && ip -n "$EP_ETCD_HUB" link set lo up &&
		ip -n "$EP_ETCD_HUB" link add epbr type bridge &&
		ip -n "$EP_ETCD_HUB" addr add 198.18.9.254/24 dev epbr &&
		ip -n "$EP_ETCD_HUB" link set epbr up || return 1
	for i in 1 2 3; do
		ip netns add "$EP_ETCD_NS_PREFIX$i" &&
			ep_etcd_join "$EP_ETCD_NS_PREFIX$i" eth0 "198.18.9.$i" || return 1
	done
	for i in 1 2 3; do ep_etcd_start $i; done
	end=$((SECONDS + 30))
	until ep_etcd_healthy; do
		((SECONDS < end)) || return 1
		sleep 0.2
	done
}
_etcd_down() {
	local i ns
	for i in 1 2 3; do ep_etcd_kill $i; done
	for ns in "${EP_ETCD_JOINED[@]}"; do
		[[ $ns == "$EP_ETCD_NS_PREFIX"[0-9] ]] && ip netns del "$ns"
	done
	ip netns del "$EP_ETCD_HUB"
}
