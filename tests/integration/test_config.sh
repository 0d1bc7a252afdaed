#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The configuration files of the runtime (edgeplane) and the controller (edgectl serve),
# through their tables of keys (dataplane/daemon/config.c, control/config.c): the reference
# in docs/operations.md lists every key with its default and range, and no other;
# --print-config prints the settings in effect, and its output read back prints the same
# (every kind of key: strings with escapes, 64-bit and scaled integers, names, lists,
# addresses, handlers and nodes); options override the file in what it prints; a value
# out of range, an unknown name or an unknown key is refused, naming the line, the key,
# the value and the range. Needs no privileges and no network.
source "$(dirname "$0")/../lib/lib.sh"

EP="$BIN/edgeplane"
CTL="$BIN/edgectl"

# --- the reference in docs/operations.md ---------------------------------------------
if ! command -v python3 >/dev/null; then
	skip "docs/operations.md against the tables" "no python3"
else
	for prog in runtime controller; do
		if [[ $prog == runtime ]]; then
			"$EP" --print-config >"$EP_TMP/defaults.conf"
			section="## Running the runtime"
		else
			"$CTL" serve --print-config >"$EP_TMP/defaults.conf"
			section="## The controller"
		fi
		out=$(python3 "$EP_ROOT/tests/tools/conf_docs.py" "$EP_ROOT/docs/operations.md" \
			"$section" "$EP_TMP/defaults.conf")
		rc=$?
		if ((rc == 0)); then
			ok "docs/operations.md: the $prog's keys, defaults and ranges ($(tail -1 <<<"$out"))"
		else
			not_ok "docs/operations.md: the $prog's keys, defaults and ranges"
			diag "$(head -20 <<<"$out")"
		fi
	done
	# The checker itself catches a wrong default, a missing key and a foreign one.
	sed -e 's/^  mtu = 1500; /  mtu = 1400; /' -e '/^  frames = 4096;/d' \
		-e 's/^port = 7878; /port = 7878; bogus = 1; /' "$EP_ROOT/docs/operations.md" \
		>"$EP_TMP/ops.md"
	"$EP" --print-config >"$EP_TMP/defaults.conf"
	out=$(python3 "$EP_ROOT/tests/tools/conf_docs.py" "$EP_TMP/ops.md" \
		"## Running the runtime" "$EP_TMP/defaults.conf")
	rc=$?
	expect_eq "the docs checker finds a wrong default, a missing key and a foreign one" \
		"$rc $(grep -c 'limits.mtu: the documentation says 1400\|xdp.frames: not in\|^bogus: documented' <<<"$out")" \
		"1 3"
fi

# roundtrip WHAT FILE CMD...: CMD --print-config FILE's settings, then read that output back
# and print again: the same text.
roundtrip() {
	local what=$1 file=$2
	shift 2
	if ! "$@" --print-config >"$EP_TMP/p1.conf" 2>"$EP_TMP/p1.err"; then
		not_ok "$what: --print-config exits 0"
		diag "$(head -5 "$EP_TMP/p1.err")"
		return 1
	fi
	sed -i "s|$file|$EP_TMP/p1.conf|" "$EP_TMP/p1.err"
	"${@/$file/$EP_TMP/p1.conf}" --print-config >"$EP_TMP/p2.conf" 2>"$EP_TMP/p2.err"
	if cmp -s "$EP_TMP/p1.conf" "$EP_TMP/p2.conf"; then
		ok "$what: what --print-config prints reads back the same ($(grep -c ' = ' "$EP_TMP/p1.conf") values)"
	else
		not_ok "$what: what --print-config prints reads back the same"
		diag "$(diff "$EP_TMP/p1.conf" "$EP_TMP/p2.conf" | head -10) $(head -3 "$EP_TMP/p2.err")"
	fi
}

# printed WHAT REGEX: a line of the last print matches.
printed() {
	if grep -qE "$2" "$EP_TMP/p1.conf"; then
		ok "--print-config: $1"
	else
		not_ok "--print-config: $1"
		diag "no line matches '$2'"
	fi
}

# --- the runtime --------------------------------------------------------------------
cat >"$EP_TMP/rt.conf" <<'CONF'
backend = "uring";
bind = "198.18.0.2";
share_port = true;
workers = 3;
cpus = [1, 0];
xdp: { zerocopy = "off"; verify_checksum = "auto"; destination_check = "off-unsafe";
       encap_port = 7880; encap_sources = [ "198.18.0.1" ];
       virtual_addresses = [ "198.18.0.11", "2001:db8::11" ]; pin_dir = "/tmp/a \"b\"\\c"; };
uring: { sqpoll_cpu = 1; buffers = 512; };
dpdk: { eal_args = [ "--log-level=8", "-v" ]; busy_budget = 32; no_huge = false; };
report: { controller = "198.18.0.1:7879"; node_id = 5; capacity = 300; cpu = "process"; };
batch: { max_wait_us = 250; };
limits: { max_work = 5000000000L; arena_bytes = 3000000000L; high_priority = 0; };
validation: { mode = "always"; };
auth: { mode = "off"; node_id = 4000000000L; };
rate_limit: { mode = "off-unsafe"; bytes_burst = 3000000000L; };
reassembly: { timeout_ms = 1234; };
cache: { window_ms = 5000; };
handlers = ( { name = "echo"; }, { name = "blobs"; type = 300; max_error = 2;
               files = [ "/tmp/x.png" ]; args = "k=v"; } );
signing: { mode = "off-unsafe"; };
log_level = "debug";
CONF
roundtrip "edgeplane" "$EP_TMP/rt.conf" "$EP" -c "$EP_TMP/rt.conf"
printed "a scaled value in the file's unit" '^  max_wait_us = 250;'
printed "a 64-bit value with its L" '^  max_work = 5000000000L;'
printed "a string with escapes" '^  pin_dir = "/tmp/a \\"b\\"\\\\c";'
printed "IPv4 and IPv6 addresses" '^  virtual_addresses = \[ "198.18.0.11", "2001:db8::11" \];'
printed "a name of a tri-state" '^  zerocopy = "off";'
printed "the rate limit's mode (a flag)" '^  mode = "off-unsafe"; .*no limit per source prefix'
printed "a handler's list of files" '^ +files = \["/tmp/x.png"\];'
printed "an unset key as a comment" '^# interface: unset; '
printed "a list of integers" '^cpus = \[1, 0\];'
printed "workers of the udp/uring backends as queues" '^queues = \[0, 1, 2\];'

"$EP" -c "$EP_TMP/rt.conf" --print-config -p 9999 -l warn >"$EP_TMP/p1.conf" 2>/dev/null
printed "options override the file" '^port = 9999;'
printed "options override the file (log level)" '^log_level = "warn";'

"$EP" --print-config >"$EP_TMP/p1.conf"
printed "the defaults: an unset key as a comment" '^# interface: unset; afxdp'
printed "the defaults: a range in the comment" '^  mtu = 1500; +# 576\.\.9000; '

# refused NAME FILE-CONTENT PATTERN CMD...: the file is refused, exit 2, with PATTERN.
refused() {
	local what=$1 pat=$3
	printf '%b\n' "$2" >"$EP_TMP/bad.conf"
	shift 3
	expect_refusal "$what: refused" "$pat" "$@" "$EP_TMP/bad.conf" --print-config
}
refused "edgeplane: a value out of range names the line, key, value and range" \
	'port = 7878;\nlimits: {\n  mtu = 100;\n};' "bad.conf:3: mtu: 100 is outside 576..9000" \
	"$EP" -c
refused "edgeplane: an unknown key in a group" 'xdp: { mdoe = "skb"; };' \
	"bad.conf:1: mdoe: unknown setting" "$EP" -c
refused "edgeplane: a key where a group belongs" 'limits = 5;' \
	"bad.conf:1: limits: must be a group" "$EP" -c
refused "edgeplane: an unknown name" 'validation: { mode = "sometimes"; };' \
	'mode: must be "amplification", "always" or "off-unsafe"' "$EP" -c
refused "edgeplane: a wrong type" 'xdp: { busy_poll = 1; };' \
	"busy_poll: must be true or false" "$EP" -c
refused "edgeplane: a 64-bit value out of range" 'limits: { max_work = 4611686018427387905L; };' \
	"max_work: 4611686018427387905 is outside 0..4611686018427387904" "$EP" -c
refused "edgeplane: an element of a list out of range, named with its index" \
	'queues = [0, 1, 99];' "bad.conf:1: queues[2]: 99 is outside 0..63" "$EP" -c
refused "edgeplane: an unknown key in a handler" 'handlers = ( { name = "echo"; tpye = 3; } );' \
	"bad.conf:1: tpye: unknown setting" "$EP" -c
# report.controllers (several gateways' controllers): checked like report.controller.
RPT='interface = "lo";\nauth: { mode = "off"; };\nreport: { node_id = 1;'
expect_refusal "edgeplane: report.controller and report.controllers both: refused" \
	"give report.controller or report.controllers, not both" "$EP" --check-config -c \
	<(printf '%b\n' "$RPT controller = \"198.18.0.1:7879\"; controllers = [ \"198.18.0.2:7879\" ]; };")
expect_refusal "edgeplane: an element of report.controllers without a port: refused" \
	"report.controllers 'nonsense': no port" "$EP" --check-config -c \
	<(printf '%b\n' "$RPT controllers = [ \"198.18.0.2:7879\", \"nonsense\" ]; };")

# --- the controller -----------------------------------------------------------------
cat >"$EP_TMP/ctl.conf" <<'CONF'
gateway: { interface = "none0"; port = 7000; keep_attached = false; max_priority = 5; };
rate_limit: { tasks_per_s = 0; source_prefix_v6 = 48; };
control: { listen = "198.18.0.1:7879"; dead_after_ms = 750; allow_register = true; };
policy: { name = "hash"; cpu_max = [10, 20, 30, 40, 100]; wait_max = [250, 500, 1000, 0, 0];
          overflow = ["reject", "cloud", "local", "reject", "cloud"]; cloud_node = 9; };
nodes = (
  { id = 1; name = "w1"; ip4 = "198.18.0.21"; capacity = 100; },
  { id = 2; mac = "02:00:00:00:00:22"; ip6 = "2001:db8::22"; port = 7878; interface = "v2"; },
  { id = 9; name = "cloud"; role = "cloud"; mac = "02:00:00:00:00:fe"; mode = "encap";
    ip4 = "198.19.9.9"; }
);
auth: { mode = "optional"; };
CONF
roundtrip "edgectl serve" "$EP_TMP/ctl.conf" "$CTL" serve --config "$EP_TMP/ctl.conf"
printed "a list of names" '^  overflow = \["reject", "cloud", "local", "reject", "cloud"\];'
printed "a node's addresses and names" '^ +mode = "encap";'
printed "a node's MAC address" '^ +mac = "02:00:00:00:00:fe";'
printed "a node's interface" '^ +interface = "v2";'
printed "a duration kept in ns" '^  dead_after_ms = 750;'
printed "enrollment off: its group as comments" '^# enroll: \{'

"$CTL" serve --config "$EP_TMP/ctl.conf" --print-config --port 7001 --no-relay \
	>"$EP_TMP/p1.conf" 2>/dev/null
printed "options override the file" '^  port = 7001;'
printed "options override the file (a switch)" '^  relay_replies = false;'

refused "edgectl serve: a value out of range" 'control: { publish_ms = 0; };' \
	"bad.conf:1: publish_ms: 0 is outside 1..10000" "$CTL" serve --config
refused "edgectl serve: an unknown key in a node" 'nodes = ( { id = 1; ipv4 = "1.2.3.4"; } );' \
	"bad.conf:1: ipv4: unknown setting" "$CTL" serve --config
refused "edgectl serve: a node without an id" 'nodes = ( { name = "x"; } );' \
	"bad.conf:1: nodes[0]: a node needs an id in 1..8191" "$CTL" serve --config

tap_done
