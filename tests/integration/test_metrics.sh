#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The runtime's Prometheus endpoint: the runtime (AF_XDP behind the classifier) serves
# /metrics on 198.18.0.2:9100 in one namespace; from the other, edgeload sends 500 echo
# tasks, a plain HTTP client scrapes, promtool checks the format, the numbers are compared
# with what was sent, and a real Prometheus server (Debian's package) scrapes the runtime
# and answers queries about it.
source "$(dirname "$0")/../lib/lib.sh"
need_root "metrics of the AF_XDP runtime on veth"

METRICS_PORT=9100
PROM_PORT=9090
TASKS=500

ep_setup_or_bail

# http NS ADDR PORT METHOD PATH: the raw HTTP/1.0 response, from bash's /dev/tcp (no curl
# needed). The server closes the connection after its response.
http() {
	ip netns exec "$1" timeout 10 bash -c '
		exec 3<>"/dev/tcp/$0/$1" || exit 1
		printf "%s %s HTTP/1.0\r\nHost: %s:%s\r\n\r\n" "$2" "$3" "$0" "$1" >&3
		cat <&3' "$2" "$3" "$4" "$5"
}
http_status() { head -1 <<<"$1" | awk '{print $2}'; }
http_body() { sed '1,/^\r$/d' <<<"$1"; }
scrape() { http "$NS_A" $ADDR_B $METRICS_PORT GET /metrics; }
# value FILE NAME LABEL_REGEX: the value of the one sample of NAME whose labels match.
value() {
	grep -E "^$2\{[^}]*$3[^}]*\} " "$1" | awk '{print $2}'
}

# Settings: the address is checked before anything starts.
out=$("$BIN/edgeplane" -i "$IF_B" --metrics 198.18.0.2 --check-config $EP_AUTH_OFF_ARG 2>&1); rc=$?
expect_eq "--metrics without a port is refused (status 2, names the address)" \
	"$rc:$(grep -c "metrics listen address '198.18.0.2'" <<<"$out")" "2:1"
cat >"$EP_TMP/bad.conf" <<CONF
interface = "$IF_B";
metrics = "edge.example:9100";
$EP_AUTH_OFF
CONF
expect_check_config "metrics = \"edge.example:9100\" is refused (status 2, names the address)" \
	"$EP_TMP/bad.conf" 2 "'edge.example:9100': not a numeric IPv4 address"
cat >"$EP_TMP/good.conf" <<CONF
interface = "$IF_B";
metrics = "[2001:db8::2]:$METRICS_PORT";
$EP_AUTH_OFF
CONF
check "metrics = \"[2001:db8::2]:$METRICS_PORT\" is a valid setting" \
	quiet "$BIN/edgeplane" -c "$EP_TMP/good.conf" --check-config

ep_runtime_or_bail "the runtime starts with --metrics and reports ready" \
	"$EP_TMP/rt.log" -i "$IF_B" --metrics $ADDR_B:$METRICS_PORT $EP_AUTH_OFF_ARG
ok "the runtime starts with --metrics and reports ready"
check "the runtime logs where it serves metrics" \
	grep -q "metrics on http://$ADDR_B:$METRICS_PORT/metrics" "$EP_TMP/rt.log"

# HTTP: 200 with the exposition content type, 404 elsewhere, 405 for other methods.
resp=$(scrape)
expect_eq "GET /metrics: 200" "$(http_status "$resp")" 200
check "GET /metrics: Content-Type text/plain; version=0.0.4; charset=utf-8" \
	grep -qix $'content-type: text/plain; version=0.0.4; charset=utf-8\r' <<<"$resp"
expect_eq "GET /other: 404" "$(http_status "$(http "$NS_A" $ADDR_B $METRICS_PORT GET /other)")" 404
expect_eq "POST /metrics: 405" \
	"$(http_status "$(http "$NS_A" $ADDR_B $METRICS_PORT POST /metrics)")" 405

# Load, then scrape and compare.
out=$(in_a "$BIN/edgeload" load --to $ADDR_B --type echo --count $TASKS --concurrency 8 \
	--json 2>/dev/null)
expect_eq "edgeload: $TASKS echo tasks sent and completed" \
	"$(jq -r '.total | "\(.sent) \(.completed)"' <<<"$out" 2>/dev/null)" "$TASKS $TASKS"
resp=$(scrape)
http_body "$resp" >"$EP_TMP/metrics.txt"
"$BIN/edgeplane" stats --socket "$EP_TMP/stats.sock" --json >"$EP_TMP/stats.json"

if command -v promtool >/dev/null; then
	if promtool check metrics <"$EP_TMP/metrics.txt" >"$EP_TMP/promtool.out" 2>&1; then
		ok "promtool check metrics: the exposition is valid and lint-clean"
	else
		not_ok "promtool check metrics: the exposition is valid and lint-clean"
		diag "$(head -20 "$EP_TMP/promtool.out")"
	fi
else
	skip "promtool check metrics" "promtool not installed (Debian package prometheus)"
fi

echo_l='handler="echo"'
expect_eq "edgeplane_tasks_received_total{handler=\"echo\"} == $TASKS" \
	"$(value "$EP_TMP/metrics.txt" edgeplane_tasks_received_total "$echo_l")" $TASKS
expect_eq "edgeplane_tasks_completed_total{handler=\"echo\"} == $TASKS" \
	"$(value "$EP_TMP/metrics.txt" edgeplane_tasks_completed_total "$echo_l")" $TASKS
expect_eq "edgeplane_task_errors_total{handler=\"echo\"}: 0 for every status" \
	"$(grep -E "^edgeplane_task_errors_total\{[^}]*$echo_l" "$EP_TMP/metrics.txt" |
		awk '{s += $2} END {print (NR > 0 ? s : "none")}')" 0
expect_eq "edgeplane_task_latency_seconds_count{handler=\"echo\"} == $TASKS" \
	"$(value "$EP_TMP/metrics.txt" edgeplane_task_latency_seconds_count "$echo_l")" $TASKS
expect_eq "latency buckets are cumulative and le=\"+Inf\" == _count" \
	"$(grep -E "^edgeplane_task_latency_seconds_bucket\{[^}]*$echo_l" "$EP_TMP/metrics.txt" |
		awk '{ if ($2 < prev) bad = 1; prev = $2; n++ }
		     END { print (bad ? "decreasing" : "cumulative") " " n " " prev }')" \
	"cumulative 14 $TASKS"
expect_eq "edgeplane_handler_batch_size_sum{handler=\"echo\"} == $TASKS (tasks run)" \
	"$(value "$EP_TMP/metrics.txt" edgeplane_handler_batch_size_sum "$echo_l")" $TASKS
expect_eq "edgeplane_task_handler_seconds_count{handler=\"echo\"} == $TASKS (tasks run)" \
	"$(value "$EP_TMP/metrics.txt" edgeplane_task_handler_seconds_count "$echo_l")" $TASKS
check "echo's time in the handler is a part of its time in the node (sums)" \
	awk -v h="$(value "$EP_TMP/metrics.txt" edgeplane_task_handler_seconds_sum "$echo_l")" \
	-v n="$(value "$EP_TMP/metrics.txt" edgeplane_task_latency_seconds_sum "$echo_l")" \
	'BEGIN { exit !(h > 0 && h <= n) }'
check "edgeplane_datagrams_total{queue=\"0\"} >= $TASKS" \
	test "$(value "$EP_TMP/metrics.txt" edgeplane_datagrams_total 'queue="0"')" -ge $TASKS
check "edgeplane_io_tx_packets_total{queue=\"0\"} >= $TASKS" \
	test "$(value "$EP_TMP/metrics.txt" edgeplane_io_tx_packets_total 'queue="0"')" -ge $TASKS
check "edgeplane_classifier_packets_total{outcome=\"redirect_xsk\"} >= $TASKS" \
	test "$(value "$EP_TMP/metrics.txt" edgeplane_classifier_packets_total \
		'outcome="redirect_xsk"')" -ge $TASKS
check "the classifier's other outcomes are there (pass_not_ip, drop_bad_magic)" \
	test "$(grep -cE '^edgeplane_classifier_packets_total\{outcome="(pass_not_ip|drop_bad_magic)"\} [0-9]+$' \
		"$EP_TMP/metrics.txt")" -eq 2
expect_eq "the same counts as \`edgeplane stats --json\` (one data path)" \
	"$(jq -r '[.types[] | select(.handler == "echo")][0] |
		"\(.received) \(.completed) \(.latency_us.count) \(.handler_us.count)"' \
		"$EP_TMP/stats.json")" \
	"$(value "$EP_TMP/metrics.txt" edgeplane_tasks_received_total "$echo_l") $(value \
		"$EP_TMP/metrics.txt" edgeplane_tasks_completed_total "$echo_l") $(value \
		"$EP_TMP/metrics.txt" edgeplane_task_latency_seconds_count "$echo_l") $(value \
		"$EP_TMP/metrics.txt" edgeplane_task_handler_seconds_count "$echo_l")"
busy=$(awk '$1 == "edgeplane_node_cpu_busy_ratio" {print $2}' "$EP_TMP/metrics.txt")
check "node load: CPU busy ratio in [0, 1] (got ${busy:-none})" \
	awk -v b="${busy:-x}" 'BEGIN { exit !(b ~ /^[0-9.e+-]+$/ && b >= 0 && b <= 1) }'
mem=$(awk '$1 == "edgeplane_node_memory_available_bytes" {print $2}' "$EP_TMP/metrics.txt")
check "node load: available memory > 0 and matches /proc/meminfo within 10 %" \
	awk -v m="${mem:-0}" -v k="$(awk '/^MemAvailable:/ {print $2}' /proc/meminfo)" \
	'BEGIN { exit !(m > 0 && m > k * 1024 * 0.9 && m < k * 1024 * 1.1) }'
expect_eq "node load: tasks queued and in flight are 0 when idle" \
	"$(awk '$1 ~ /^edgeplane_node_tasks_(queued|in_flight)$/ {printf "%s ", $2}' \
		"$EP_TMP/metrics.txt")" "0 0 "

# A real Prometheus server in the client namespace scrapes the runtime every second.
if ! command -v prometheus >/dev/null; then
	skip "Prometheus scrapes the runtime: up == 1" "prometheus not installed (Debian package)"
	skip "Prometheus query of edgeplane_tasks_completed_total" "prometheus not installed"
else
	mkdir -p "$EP_TMP/prom"
	cat >"$EP_TMP/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: edgeplane
    static_configs:
      - targets: ["$ADDR_B:$METRICS_PORT"]
YML
	ip netns exec "$NS_A" prometheus --config.file="$EP_TMP/prometheus.yml" \
		--storage.tsdb.path="$EP_TMP/prom" --web.listen-address=$ADDR_A:$PROM_PORT \
		>"$EP_TMP/prometheus.log" 2>&1 &
	PROM_PID=$!
	stop_prometheus() { [[ -n ${PROM_PID:-} ]] && kill "$PROM_PID" && wait "$PROM_PID"; }
	on_exit stop_prometheus
	# query EXPR: the value of the first series of an instant query, or nothing.
	query() {
		local r
		r=$(http "$NS_A" $ADDR_A $PROM_PORT GET \
			"/api/v1/query?query=$(jq -rn --arg q "$1" '$q | @uri')" 2>/dev/null)
		http_body "$r" | jq -r '.data.result[0].value[1] // empty' 2>/dev/null
	}
	up=
	for _ in $(seq 75); do	# 15 s
		up=$(query "up{instance=\"$ADDR_B:$METRICS_PORT\"}")
		[[ $up == 1 ]] && break
		sleep 0.2
	done
	if [[ $up == 1 ]]; then
		ok "Prometheus scrapes the runtime: up == 1"
	else
		not_ok "Prometheus scrapes the runtime: up == 1"
		diag "up: '${up}'; prometheus log:"
		diag "$(tail -5 "$EP_TMP/prometheus.log")"
	fi
	expect_eq "Prometheus query of edgeplane_tasks_completed_total{handler=\"echo\"}" \
		"$(query 'edgeplane_tasks_completed_total{handler="echo"}')" $TASKS
	stop_prometheus
	PROM_PID=
fi

# SIGTERM with the metrics server running: the runtime drains and exits 0, and the port
# is closed.
kill -TERM "$RT_PID"
wait "$RT_PID"
expect_eq "the runtime exits 0 on SIGTERM with the metrics server running" "$?" 0
RT_PID=
resp=$(scrape 2>/dev/null)
expect_eq "after exit nothing listens on $ADDR_B:$METRICS_PORT" "$(http_status "$resp")" ""
tap_done
