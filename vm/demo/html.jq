# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# vm/demo/html.jq - the demo's report page, from summary.json and the plots' file names
# (jq -r --argjson plots '["throughput.png", ...]' -f html.jq summary.json).

def esc: tostring | gsub("&"; "&amp;") | gsub("<"; "&lt;") | gsub(">"; "&gt;");
def fix($d): if . == null then "-" else (. * pow(10; $d) | round) / pow(10; $d) | tostring end;
def ms: if . == null then "-" else . / 1000 | fix(2) end;
def mb: . / 1e6 | fix(1);
def pct: if . == null then "-" else fix(1) + " %" end;
def td: "<td>\(esc)</td>";
def num: "<td class=n>\(esc)</td>";
def row(cells): "<tr>" + (cells | join("")) + "</tr>";
def head(names): "<tr>" + (names | map("<th>\(esc)</th>") | join("")) + "</tr>";
def kv: to_entries | map("\(.key) \(.value)") | join(", ");
def ok: if . == true then "<span class=ok>yes</span>" elif . == false then "<span class=bad>no</span>"
	else "n/a" end;

. as $s
| {throughput: "Frames answered per second per camera; the kill and the drain are marked.",
   latency: "The round trip at each camera (edgeload's rtt: from the scheduled send to the answer, retries included), p99 and p50 of the frames answered in each whole second (log scale). The kill costs the tasks w3 held a retry after the controller's drain. With no fault, a second's p99 rises when a retry is needed: in the first second, a camera's first datagrams under its new session key, sent before the gateway (within 10 ms) and the workers (at their next key sync, every 50 ms here) have the key, dropped there and resent after the client's first timeout (200 ms before it has measured a round trip; marked on the plot); later, on a machine busy with other work, a worker short of CPU (its missed load reports are in logs/edgectl.log).",
   nodes: "Tasks per second the gateway sent each node: the killed worker's share moves to the others.",
   shares: "Each worker's share of the tasks against its share of the capacity, before and after the kill.",
   bytes: "What zstd saves on the raw frames."} as $captions
| "<!DOCTYPE html>
<html lang=en><head><meta charset=utf-8>
<title>edgeplane demo: defect detection at the edge</title>
<style>
body { font: 15px/1.45 system-ui, sans-serif; max-width: 1000px; margin: 2em auto; padding: 0 1em; color: #222 }
h1 { font-size: 1.5em } h2 { font-size: 1.2em; margin-top: 1.6em; border-bottom: 1px solid #ddd }
table { border-collapse: collapse; margin: .5em 0 } td, th { padding: .2em .6em; border-bottom: 1px solid #eee }
th { text-align: left; background: #f4f4f4 } td.n { text-align: right; font-variant-numeric: tabular-nums }
figure { margin: 1em 0 } figcaption { color: #555; font-size: .9em } img { max-width: 100%; border: 1px solid #eee }
code { background: #f4f4f4; padding: 0 .2em } .ok { color: #080; font-weight: bold } .bad { color: #c00; font-weight: bold }
</style></head><body>
<h1>edgeplane demo: defect detection offloaded to the edge</h1>
<p>Three cameras, enrolled with their certificates, stream real frames to the gateway's address <code>\($s.scenario.gateway)</code>. The
gateway's XDP program spreads the tasks over three workers (capacity 100, 200, 400) by the
load they report to <code>edgectl serve</code>, every 100 ms; each worker's classifier hands
them to the <code>edgeplane</code> runtime over AF_XDP, which counts blobs in each frame and
answers; the gateway's XDP relays the answers to the cameras. \(if $s.kill then "After \($s.kill.at_s | fix(1)) s the
runtime of <b>\($s.kill.node)</b> was killed with SIGKILL." else "" end) A cloud node stands by for the
tasks of priority 4 and 5 that no worker could take. \($s.scenario.duration_s) s of traffic on a rig of network
namespaces (<code>vm/rig</code>, prefix \($s.scenario.prefix)), \($s.scenario.machine.cpus) CPUs, kernel
\($s.scenario.machine.kernel | esc).</p>
<h2>Cameras</h2>
<table>",
  head(["camera", "role", "prio", "rate/s", "frames", "sent", "answered", "failed", "retries",
	"rtt p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "errors"]),
  ($s.cameras[] | row([(.name | td), (.role | td), (.prio | num), (.rate | num),
	(.images | join(", ") | td), (.sent | num), (.answered | num), (.failed | num),
	(.retries | num), (.rtt_us.p50 | ms | num), (.rtt_us.p90 | ms | num),
	(.rtt_us.p99 | ms | num), (.rtt_us.p999 | ms | num),
	(.errors | kv | td)])),
  row([("total" | td), ("" | td), ("" | td), ($s.cameras | map(.rate) | add | num), ("" | td),
	($s.total.sent | num), ($s.total.answered | num), ($s.total.failed | num),
	($s.total.retries | num), ("" | td), ("" | td), ("" | td), ("" | td), ($s.total.errors | kv | td)]),
  "</table>
<p>Latency is the round trip at the camera (edgeload's rtt; the runtimes' own time per task, in the node, is in data/runtime-*.json): from the moment a frame was due to be sent (open loop: a slow edge cannot hide
its delay) to its answer, retries included.</p>
<h2>Results</h2>
<p>\($s.total.blobs_found) blobs counted in \($s.total.frames_counted) frames. Bytes: \($s.total.bytes_raw | mb) MB of
frames, \($s.total.bytes_compressed | mb) MB compressed (\($s.total.compression_saved_pct | pct) saved by zstd),
\($s.total.bytes_wire | mb) MB sent with retries.</p>
<table>",
  head(["camera", "frame", "frames answered", "blobs", "per frame", "raw MB", "compressed MB"]),
  ($s.cameras[] | .name as $c | .images as $im
	| (if (.kinds | length) > 1 then .kinds[] else (.kinds[0] + {kind: $im[0]}) end)
	| select(.blobs != null)
	| row([($c | td), (.kind | split("/") | last | td), (.blobs.results | num), (.blobs.found | num),
		(if .blobs.min == .blobs.max then "\(.blobs.min)" else "\(.blobs.min)..\(.blobs.max)" end | num),
		(.bytes_raw | mb | num), (.bytes_compressed | mb | num)])),
  "</table>",
  ($s.results_sample[] | "<p>Sample, <code>\(.image)</code>: \(.count) blobs at threshold \(.level); largest: " +
	(.largest | map("\(.area) px, box (\(.box[0]),\(.box[1]))-(\(.box[2]),\(.box[3]))") | join("; ")) + ".</p>"),
  "<h2>Nodes</h2>",
  (if $s.kill then "<p><b>Failover.</b> \($s.kill.node)'s runtime (pid \($s.kill.pid)) was killed at
\($s.kill.at_s | fix(1)) s. " + (if $s.kill.drained_after_ms then "The controller declared it dead and drained
it <b>\($s.kill.drained_after_ms) ms</b> later (its <code>dead_after_ms</code> is \($s.kill.dead_after_ms): five missed
reports)." else "The controller did not drain it." end) + " The gateway had sent it
\($s.kill.tasks_sent_after_its_last_report) tasks after its last report; the cameras' retries
(\($s.total.retries) in all) were placed on the other nodes, and \($s.total.failed) task(s) failed.</p>"
   else "" end),
  "<table>",
  head(["node", "state", "capacity", "capacity share", "tasks", "share", "before the kill",
	"after the kill", "ran there", "cache hits", "classifier (non-zero)"]),
  ($s.nodes[] | row([(.name | td), (.state | td), (.capacity | num), (.capacity_share | pct | num),
	(.tasks | num), (.share | pct | num), (.share_before_kill | pct | num),
	(.share_after_kill | pct | num),
	(if .runtime then (.runtime.completed | num) else ("killed" | td) end),
	(if .runtime then (.runtime.cache_hits | num) else ("" | td) end),
	(.classifier | kv | td)])),
  "</table>",
  "<p>Drops by reason: gateway: \(if ($s.drops.gateway | length) == 0 then "none" else ($s.drops.gateway | kv | esc) end);
classifiers: \([$s.drops.classifiers | to_entries[] | select((.value | length) > 0) | "\(.key): \(.value | kv)"]
	| if length == 0 then "none" else join("; ") | esc end);
runtimes: \([$s.drops.runtimes | to_entries[] | select((.value | length) > 0) | "\(.key): \(.value | kv)"]
	| if length == 0 then "none" else join("; ") | esc end).
Gateway decisions: \($s.gateway.decisions | kv | esc).</p>",
  ([$s.passed_to_kernel.classifiers // {} | to_entries[] | select((.value | length) > 0)
	| "\(.key): \(.value | kv)"] | select(length > 0)
	| "<p>Passed to the kernel, not dropped: \(join("; ") | esc) (<code>pass_no_socket</code>: tasks that reached
a node with no AF_XDP socket bound, because its runtime was down).</p>"),
  "<p>The classifiers' counters: <code>redirect_xsk</code> tasks handed to the runtime,
<code>pass_not_udp</code> what is not a task (ARP, IPv6 neighbour discovery) passed to the kernel.
<code>reply_no_route</code>, where it shows, is no fault: the workers keep IP forwarding off (a task
reaching a worker whose runtime is down would otherwise be routed back to the gateway), so the reply's
next hop is the gateway, whose XDP relays it (<code>relay_reply</code>); the demo sets
<code>xdp.reply_route = false</code> on them for that. <code>rx_dropped</code> of a runtime, where it shows,
counts frames the kernel could not put in its receive ring (full, or no free buffer): a runtime short of
CPU, as on a machine busy with other work.</p>",
  ($s.auth | select(. != null) as $a | $a.accounting as $n |
  "<h2>Authentication</h2>
<p>Auth mode <b>\(if $a.required then "required" else "not required" end)</b>: the gateway's XDP
(<code>\($a.gateway_mode // "?" | esc)</code>) and every runtime (\($a.node_modes | kv | esc)) take only
datagrams sealed with a session key (AES-128-GCM). The cameras enrolled with their certificates on
<code>\($a.enroll_at)</code> (mutual TLS 1.3; one key per <code>edgeload</code> session); the nodes
synced the keys from there, as the nodes the controller names (\($a.nodes | map("\(.name) = node \(.node_id // "?")") | join(", ") | esc)).</p>
<table>",
  head(["device", "role", "tenant", "keys"]),
  ($a.devices[] | row([(.name | td), (.role | td), (.tenant | num), (.key_ids | map(tostring) | join(", ") | td)])),
  "</table>
<p>Datagrams: the cameras sealed <b>\($n.sealed)</b>; the runtimes verified <b>\($n.verified)</b>
(\($a.runtimes.by_node | to_entries | map("\(.key) \(.value.ok)") | join(", "))), with
\($a.runtimes.dropped.bad_tag // 0) bad tags; not verified: \($n.dropped_classifiers) dropped by the workers' classifiers
(\(if ($a.classifiers.dropped | length) == 0 then "none" else $a.classifiers.dropped | kv | esc end)), \($n.dropped_runtimes) by the runtimes
(\(if ($a.runtimes.dropped | length) == 0 then "none" else $a.runtimes.dropped | kv | esc end)), \($n.dropped_gateway) by the gateway
(\(if ($a.gateway.dropped_cameras | length) == 0 then "none" else $a.gateway.dropped_cameras | kv | esc end)),
\($n.lost_rx) lost in the runtimes' receive rings (<code>rx_dropped</code>), \($n.after_death) sent to the killed
worker after its death, \($n.unaccounted) unaccounted. <code>unknown_key</code>: a
camera's first datagrams under a new key, sent before the gateway and the nodes had it, and answered on
their retry. Replies at the cameras: \($a.cameras.bad_tag) bad tags, \($a.cameras.unknown_key) under an
unknown key, \($a.cameras.unsealed) unsealed.</p>",
  ($a.intruder | select(. != null) |
  "<p><b>The intruder</b> (<code>\(.address)</code>, at \(.at_s | fix(1)) s): " +
  (.enroll | map("enrollment with \(.how | esc): " + (if .refused then "<span class=ok>refused</span> at the TLS handshake"
	else "<span class=bad>not refused</span>" end) + (if (.said // "") != "" then " (\(.said | esc))" else "" end)) | join("; ")) +
  ". The controller counted \(.controller.handshake_failed) failed handshakes and \(.controller.enrolled) enrollments" +
  (if (.controller.said | length) > 0 then " (\(.controller.said | join("; ") | esc))" else "" end) +
  ". Then a burst of \(.burst.sent) tasks without a key to the gateway: \(.burst.answered) answered, <b>\(.burst.gateway_drop_auth_missing)</b>
dropped in XDP by the gateway (<code>drop_auth_missing</code>).</p>")),
  "<h2>Plots</h2>",
  ($plots[] | . as $f | ($f | split(".") | .[0]) as $n
	| "<figure><img src=\"\($f)\" alt=\"\($n)\"><figcaption>\($captions[$n] // "" | esc)</figcaption></figure>"),
  (if ($plots | length) == 0 then "<p>No plots: gnuplot is not installed.</p>" else empty end),
  "<h2>Checks</h2><table>",
  row([("every task answered, or failed with an error code" | td), ($s.checks.every_task_ended and $s.checks.failures_have_codes | ok | "<td>\(.)</td>")]),
  row([("no task answered twice" | td), ($s.checks.answered_once | ok | "<td>\(.)</td>")]),
  row([("per-second timelines add up to the totals" | td), ($s.checks.timelines_add_up | ok | "<td>\(.)</td>")]),
  row([("the killed worker was drained" | td), ($s.checks.killed_node_drained | ok | "<td>\(.)</td>")]),
  row([("the other workers took over" | td), ($s.checks.others_took_over | ok | "<td>\(.)</td>")]),
  row([("auth required at the gateway and the runtimes" | td), ($s.checks.auth_required | ok | "<td>\(.)</td>")]),
  row([("the cameras enrolled" | td), ($s.checks.cameras_enrolled | ok | "<td>\(.)</td>")]),
  row([("every camera datagram verified (no bad tag; dropped only for a key not yet synced)" | td), ($s.checks.datagrams_verified | ok | "<td>\(.)</td>")]),
  row([("the intruder's enrollments refused" | td), ($s.checks.intruder_refused | ok | "<td>\(.)</td>")]),
  row([("the intruder's tasks dropped by the gateway's XDP, unanswered" | td), ($s.checks.intruder_dropped | ok | "<td>\(.)</td>")]),
  "</table>
<p>Set-up \($s.timing.setup_s | fix(1)) s, traffic \($s.timing.load_s | fix(1)) s\(if $s.timing.total_s then ", \($s.timing.total_s | fix(1)) s in all" else "" end).
Data: <a href=\"summary.json\">summary.json</a>, <a href=\"data/\">data/</a> (timelines, the gateway's
per-second rates, node lists, counters), <a href=\"config/\">config/</a>, <a href=\"logs/\">logs/</a>.
How it runs: <code>vm/demo.sh</code>, docs/rig.md.</p>
</body></html>"
