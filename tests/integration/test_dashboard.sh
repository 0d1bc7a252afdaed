#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The Grafana dashboard (packaging/grafana/edgeplane.json) and the alerting rules
# (packaging/prometheus/) against live metrics: on the rig of vm/topo/gateway.topo (a
# gateway, a worker, a client), the controller and the worker's runtime serve /metrics, the
# client sends echo tasks through the gateway, and a real Prometheus (Debian's binary, in the
# gateway's namespace, scraping every second, with the rules loaded) scrapes both. Every
# panel query of the dashboard, its template variables resolved from the live series and
# set to "All", $__rate_interval to 5s, must parse and return series with plausible values (finite, >= 0; > 0 for the panels
# the load moves); every rule must evaluate on the live series; with the worker killed,
# EdgeplaneRuntimeDown and EdgeplaneNodeDead go pending. promtool checks and tests the rules.
source "$(dirname "$0")/../lib/lib.sh"
WAIT_COND_STEP=0.2 # wait_cond's conditions here query Prometheus
need_root "Prometheus scraping the rig"

DASH=$EP_ROOT/packaging/grafana/edgeplane.json
RULES=$EP_ROOT/packaging/prometheus/edgeplane-alerts.yml
RULES_TEST=$EP_ROOT/packaging/prometheus/edgeplane-alerts.test.yml
PROM_PORT=9090 RATE_INTERVAL=5s LOAD_S=25

for t in promtool prometheus curl; do
	if ! command -v $t >/dev/null; then
		skip "the dashboard and rules against a live Prometheus" "$t is not installed (scripts/deps.sh)"
		tap_done
		exit 0
	fi
done

# --- the files themselves ----------------------------------------------------------------
check "promtool check rules $(basename "$RULES")" quiet promtool check rules "$RULES"
if out=$(cd "$(dirname "$RULES_TEST")" && promtool test rules "$(basename "$RULES_TEST")" 2>&1); then
	ok "promtool test rules: every alert fires and stays silent where its test says"
else
	not_ok "promtool test rules: every alert fires and stays silent where its test says"
	diag "$(tail -20 <<<"$out")"
fi
check "the dashboard is JSON with panels, a Prometheus datasource variable and instance/node variables" \
	quiet jq -e '(.panels | length > 0) and
		([.templating.list[] | select(.type == "datasource" and .query == "prometheus")] | length == 1) and
		([.templating.list[].name] | contains(["instance", "controller", "node"]))' "$DASH"
# Panel title, refId and PromQL of every target, one per line (tab-separated).
jq -r '.panels[] | select(.targets) | .title as $t | .targets[] | [$t, .refId, .expr] | @tsv' \
	"$DASH" >"$EP_TMP/targets.tsv"
ntargets=$(wc -l <"$EP_TMP/targets.tsv")
check "every panel but the rows has a Prometheus target ($ntargets targets)" \
	quiet jq -e '[.panels[] | select(.type != "row") |
		select((.targets // []) | length == 0 or any(.expr == null or .expr == ""))] | length == 0' "$DASH"

# --- the rig: controller, one worker, load ------------------------------------------------
ep_rig_init d
ep_rig_up_or_bail "$EP_ROOT/vm/topo/gateway.topo" "rig up gateway.topo"
GW=$(rig addr gw) GW6=$(rig addr gw --6) W1=$(rig addr w1)
GW_NS=$(rig ns gw)
cat >"$EP_TMP/ctl.conf" <<CONF
rate_limit = { $EP_HIGH_GW_LIMITS };
$EP_AUTH_OFF
CONF
"$RIG" --prefix "$P" exec gw "$BIN/edgectl" serve --config "$EP_TMP/ctl.conf" --iface eth0 \
	--socket "$SOCK" --listen "$GW:7879" --allow-register --metrics "$GW:9101" \
	--dead-after-ms 500 >"$EP_TMP/ctl.log" 2>&1 &
wait_for_line "$EP_TMP/ctl.log" "controller ready" 10 ||
	ep_bail "edgectl serve starts on gw" "$EP_TMP/ctl.log" 5
cat >"$EP_TMP/w1.conf" <<CONF
report = { controller = "$GW:7879"; node_id = 1; capacity = 100; cpu = "process"; };
xdp = { virtual_addresses = [ "$GW", "$GW6" ]; };
rate_limit = { $EP_HIGH_LIMITS };
metrics = "$W1:9100";
$EP_AUTH_OFF
CONF
"$RIG" --prefix "$P" exec w1 "$BIN/edgeplane" -c "$EP_TMP/w1.conf" -i eth0 \
	--stats-socket "$EP_TMP/w1.sock" --ready-file "$EP_TMP/w1.ready" >"$EP_TMP/w1.log" 2>&1 &
W1_PID=$!
wait_for_line "$EP_TMP/w1.ready" . 10 || ep_bail "the runtime starts on w1" "$EP_TMP/w1.log" 5
ok "the controller and w1's runtime serve /metrics"

# Prometheus in the gateway's namespace, which reaches both endpoints; the jobs are named
# as the rules expect (docs/operations.md, Monitoring).
mkdir -p "$EP_TMP/prom"
cat >"$EP_TMP/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - $RULES
scrape_configs:
  - job_name: edgeplane
    static_configs:
      - targets: ["$W1:9100"]
  - job_name: edgectl
    static_configs:
      - targets: ["$GW:9101"]
YML
ip netns exec "$GW_NS" prometheus --config.file="$EP_TMP/prometheus.yml" \
	--storage.tsdb.path="$EP_TMP/prom" --web.listen-address=127.0.0.1:$PROM_PORT \
	>"$EP_TMP/prometheus.log" 2>&1 &
PROM_PID=$!
stop_prometheus() { [[ -n ${PROM_PID:-} ]] && kill "$PROM_PID" && wait "$PROM_PID"; }
on_exit stop_prometheus
# api PATH [curl options]: Prometheus's HTTP API, from the gateway's namespace.
api() {
	local p=$1
	shift
	ip netns exec "$GW_NS" curl -sS --max-time 5 "$@" "http://127.0.0.1:$PROM_PORT/api/v1/$p"
}
query() { api query -G --data-urlencode "query=$1"; }
scraped() { [[ $(query 'sum(up)' 2>/dev/null | jq -r '.data.result[0].value[1] // 0' 2>/dev/null) == 2 ]]; }

rig exec c1 timeout $((LOAD_S + 20)) "$BIN/edgeload" load --to "$GW" --type echo --size 64 \
	--concurrency 4 --duration "${LOAD_S}s" --json >"$EP_TMP/load.json" 2>"$EP_TMP/load.err" &
LOAD_PID=$!
if wait_cond 20 scraped; then
	ok "Prometheus scrapes the runtime and the controller: up == 1 for both"
else
	not_ok "Prometheus scrapes the runtime and the controller: up == 1 for both"
	diag "$(query up | jq -c '.data.result' 2>&1) $(tail -3 "$EP_TMP/prometheus.log")"
fi
# Rates over 5 s need a few scrapes of the load: 8 s of it, with tasks answered.
sleep 8
answered() { [[ $(query 'sum(edgeplane_tasks_completed_total)' | jq -r '.data.result[0].value[1] // 0') -gt 100 ]]; }
check "the load is answered (edgeplane_tasks_completed_total > 100)" wait_cond 10 answered

# --- the template variables, as Grafana resolves "All" -----------------------------------
# Each query variable is label_values(EXPR, LABEL): its values are LABEL's over the series
# of EXPR (earlier variables substituted), and "All" is (v1|v2|...), each value escaped for
# a regular expression inside a PromQL string, as Grafana's Prometheus data source does.
# subst TEXT: TEXT with $__rate_interval, $__interval and the variables resolved so far.
declare -A VARS=()
subst() {
	local q=$1 v
	q=${q//\$__rate_interval/$RATE_INTERVAL}
	q=${q//\$__interval/1s}
	for v in "${!VARS[@]}"; do
		q=${q//\$\{$v\}/"${VARS[$v]}"}
		q=${q//\$$v/"${VARS[$v]}"}
	done
	printf '%s' "$q"
}
while IFS=$'\t' read -r name def; do
	if [[ ! $def =~ ^label_values\((.*),\ *([a-zA-Z_]+)\)$ ]]; then
		not_ok "variable \$$name: a label_values(EXPR, LABEL) query (got '$def')"
		continue
	fi
	label=${BASH_REMATCH[2]}
	r=$(query "group by ($label) ($(subst "${BASH_REMATCH[1]}"))")
	val=$(jq -r --arg l "$label" '[.data.result[].metric[$l] // empty |
		gsub("(?<c>[.+*?^$()\\[\\]{}|\\\\])"; "\\\\\(.c)")] |
		if length > 0 then "(" + join("|") + ")" else "" end' <<<"$r" 2>/dev/null)
	if [[ -n $val ]]; then
		ok "variable \$$name: $def -> $val"
		VARS[$name]=$val
	else
		not_ok "variable \$$name: $def has values"
		diag "$r"
	fi
done < <(jq -r '.templating.list[] | select(.type == "query") | [.name, .query.query] | @tsv' "$DASH")
esc() { sed 's/\./\\\\./g' <<<"$1"; }
expect_eq "\$instance is w1's runtime, \$controller the controller, \$node w1's node" \
	"${VARS[instance]:-} ${VARS[controller]:-} ${VARS[node]:-}" \
	"($(esc "$W1:9100")) ($(esc "$GW:9101")) ($(ctl node list --json | jq -r '.[0].name'))"

# --- every panel target --------------------------------------------------------------------
# Panels the load must move: each of their targets has a series > 0.
POSITIVE='^(Tasks answered/s by node|Tasks answered/s by handler|Gateway: tasks sent/s by node|Runtime traffic \(packets/s\)|Time in node p50 / p99 by handler|Time in node p99 by node|Time in handler p50 / p99 by handler|Handler batch size p50 / p99|Table share by node|Node capacity|Gateway decisions/s|Load reports/s by outcome|Map publications/s|Controller up|Controller uptime|Runtimes up)$'
while IFS=$'\t' read -r title ref expr; do
	q=$(subst "$expr")
	what="panel '$title' $ref"
	if [[ $q == *\$* ]]; then
		not_ok "$what: every variable substituted"
		diag "$q"
		continue
	fi
	r=$(query "$q")
	pos=0
	[[ $title =~ $POSITIVE ]] && pos=1
	# status success, a vector of >= 1 series, every value finite and >= 0, and with pos
	# one > 0.
	if jq -e --argjson pos $pos '.status == "success" and .data.resultType == "vector" and
		(.data.result | length > 0) and
		all(.data.result[].value[1]; test("^[0-9.e+-]+$") and (tonumber >= 0)) and
		($pos == 0 or any(.data.result[].value[1]; tonumber > 0))' <<<"$r" >/dev/null 2>&1; then
		ok "$what: $(jq -r '[.data.result[] | ((.metric | to_entries | map(.value) | join(",")) + "=" + .value[1])] | .[0:4] | join(" ")' <<<"$r")"
	else
		not_ok "$what: parses and returns plausible series$( ((pos)) && echo ', > 0 under load')"
		diag "query: $q"
		diag "answer: $(head -c 600 <<<"$r")"
	fi
done <"$EP_TMP/targets.tsv"

age=$(query 'edgeplane_gw_publish_age_seconds' | jq -r '.data.result[0].value[1] // "none"')
check "edgeplane_gw_publish_age_seconds: the controller published within the last 2 s (got $age)" \
	awk -v a="$age" 'BEGIN { exit !(a ~ /^[0-9.e+-]+$/ && a >= 0 && a < 2) }'

# --- the rules on the live series -------------------------------------------------------
rules() { api rules | jq -c '[.data.groups[].rules[]]'; }
loaded() { [[ $(rules | jq 'length') -gt 0 && $(rules | jq '[.[] | select(.lastEvaluation | startswith("0001"))] | length') == 0 ]]; }
wait_cond 10 loaded
r=$(rules)
expect_eq "Prometheus loaded every rule of $(basename "$RULES") and evaluates each without error" \
	"$(jq -r '"\(length) \([.[] | select(.health != "ok")] | length)"' <<<"$r")" \
	"$(grep -c -- '- alert:' "$RULES") 0"
# Alerts this load may set off on a busy machine (kernel drops, a slow p99) are reported,
# not failed; every other alert says something is broken, and none may be active.
LOAD_ALERTS='^(EdgeplaneRxDropped|EdgeplaneTasksOverloaded|EdgeplaneTaskLatencyP99High|Edgeplane.*DropsRising)$'
active=$(jq -r '.[] | select(.state != "inactive") | .name' <<<"$r")
expect_eq "on a healthy rig under load, no alert of a failure is pending or firing" \
	"$(grep -vE "$LOAD_ALERTS" <<<"$active" | xargs)" ""
[[ -n $active ]] && diag "active under load: $(xargs <<<"$active")"
wait "$LOAD_PID"
check "edgeload: every task answered ($(jq -r '"\(.total.completed) of \(.total.sent)"' "$EP_TMP/load.json" 2>/dev/null))" \
	quiet jq -e '.total.sent > 0 and .total.completed == .total.sent' "$EP_TMP/load.json"

# The worker dies: its scrape fails and the controller marks it dead.
kill -KILL "$W1_PID"
wait "$W1_PID" 2>/dev/null
pending() { [[ $(api alerts | jq -r --arg a "$1" '[.data.alerts[] | select(.labels.alertname == $a) | .state] | join(" ")') == pending ]]; }
check "with w1's runtime killed, EdgeplaneRuntimeDown goes pending (for: 1m)" wait_cond 10 pending EdgeplaneRuntimeDown
check "and EdgeplaneNodeDead for node 1" wait_cond 10 pending EdgeplaneNodeDead
tap_done
