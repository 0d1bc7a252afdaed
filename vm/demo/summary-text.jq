# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# vm/demo/summary-text.jq - the demo's summary for the terminal, from summary.json
# (jq -r -f summary-text.jq summary.json).

def spaces($n): [range(0; $n)] | map(" ") | join("");
def lpad($n): tostring | if length >= $n then . else spaces($n - length) + . end;
def rpad($n): tostring | if length >= $n then . else . + spaces($n - length) end;
# A number with $d decimals.
def fix($d): if . == null then "-" else
	(. * pow(10; $d) | round) as $x | ($x | fabs) as $a | pow(10; $d) as $p
	| (if $x < 0 then "-" else "" end) + (($a / $p | floor) | tostring)
	  + (if $d > 0 then "." + (($a % $p) | tostring | if length < $d then spaces($d - length) + . | gsub(" "; "0") else . end) else "" end)
	end;
def ms: if . == null then "-" else . / 1000 | fix(2) end;
def mb: . / 1e6 | fix(1);
def pct: if . == null then "-" else fix(1) + "%" end;
def ok: if . == true then "yes" elif . == false then "NO" else "n/a" end;
def kv: to_entries | map("\(.key) \(.value)") | join(", ");

. as $s
| "",
  "== Summary: \($s.scenario.duration_s) s of camera traffic through the gateway \($s.scenario.gateway) " +
  "(rig \($s.scenario.prefix), \($s.scenario.machine.cpus) CPUs, kernel \($s.scenario.machine.kernel))",
  "",
  "Cameras (open loop; latency: rtt, the round trip at the camera, from the scheduled send to the answer, retries included):",
  ("camera" | rpad(7)) + ("role" | rpad(16)) + ("prio" | lpad(4)) + ("rate/s" | lpad(7)) +
	("sent" | lpad(8)) + ("answered" | lpad(9)) + ("failed" | lpad(7)) + ("retries" | lpad(8)) +
	("p50 ms" | lpad(8)) + ("p90 ms" | lpad(8)) + ("p99 ms" | lpad(8)) + ("p99.9 ms" | lpad(9)),
  ($s.cameras[] |
	(.name | rpad(7)) + (.role | rpad(16)) + (.prio | lpad(4)) + (.rate | lpad(7)) +
	(.sent | lpad(8)) + (.answered | lpad(9)) + (.failed | lpad(7)) + (.retries | lpad(8)) +
	(.rtt_us.p50 | ms | lpad(8)) + (.rtt_us.p90 | ms | lpad(8)) +
	(.rtt_us.p99 | ms | lpad(8)) + (.rtt_us.p999 | ms | lpad(9)) +
	(if (.errors | length) > 0 then "   errors: " + (.errors | kv) else "" end)),
  ("total" | rpad(7)) + ("" | rpad(16)) + ("" | lpad(4)) +
	($s.cameras | map(.rate) | add | lpad(7)) + ($s.total.sent | lpad(8)) +
	($s.total.answered | lpad(9)) + ($s.total.failed | lpad(7)) + ($s.total.retries | lpad(8)),
  "",
  "Results: \($s.total.blobs_found) blobs (defects, parts, craters, characters) counted in \($s.total.frames_counted) frames:",
  ($s.cameras[] | .name as $c | (if (.kinds | length) > 1 then .kinds[] else (.kinds[0] + {kind: .images[0]}) end)
	| select(.blobs != null)
	| "  \($c) \(.kind | split("/") | last): \(.blobs.found) blobs in \(.blobs.results) frames" +
	  (if .blobs.min == .blobs.max then " (\(.blobs.min) in every frame)"
	   else " (\(.blobs.min)..\(.blobs.max) per frame)" end)),
  ($s.results_sample | map(select(.image == "coins.png")) | .[0] // $s.results_sample[0]
	| select(. != null)
	| "  sample, \(.image): \(.count) blobs at threshold \(.level); largest: " +
	  (.largest | map("\(.area) px at (\(.centroid[0]),\(.centroid[1]))") | join(", "))),
  "Bytes: \($s.total.bytes_raw | mb) MB of frames, \($s.total.bytes_compressed | mb) MB compressed " +
	"(\($s.total.compression_saved_pct | pct) saved by zstd), \($s.total.bytes_wire | mb) MB sent with retries",
  "",
  (if $s.kill != null then
	"Nodes (tasks the gateway sent them; shares before -> after the kill of \($s.kill.node) at \($s.kill.at_s | fix(1)) s):"
   else "Nodes (tasks the gateway sent them):" end),
  ("node" | rpad(7)) + ("state" | rpad(7)) + ("capacity" | lpad(9)) + ("cap share" | lpad(10)) +
	("tasks" | lpad(8)) + ("share" | lpad(8)) + ("before" | lpad(8)) + ("after" | lpad(8)) +
	("ran there" | lpad(10)) + ("cache hits" | lpad(11)),
  ($s.nodes[] |
	(.name | rpad(7)) + (.state | rpad(7)) + (.capacity | lpad(9)) + (.capacity_share | pct | lpad(10)) +
	(.tasks | lpad(8)) + (.share | pct | lpad(8)) + (.share_before_kill | pct | lpad(8)) +
	(.share_after_kill | pct | lpad(8)) +
	(if .runtime == null then ("(killed)" | lpad(10)) else (.runtime.completed | lpad(10)) end) +
	(if .runtime == null then "" else (.runtime.cache_hits | lpad(11)) end) +
	(if .role == "cloud" then "   overflow target of priorities 4-5" else "" end)),
  (if $s.kill != null then
	"",
	"Failover: \($s.kill.node)'s runtime (pid \($s.kill.pid)) was SIGKILLed at \($s.kill.at_s | fix(1)) s; " +
	  (if $s.kill.drained_after_ms != null
	   then "the controller drained it \($s.kill.drained_after_ms) ms later (no report for \($s.kill.dead_after_ms) ms)."
	   else "the controller did NOT drain it." end),
	"  The gateway had sent it \($s.kill.tasks_sent_after_its_last_report) tasks after its last report; " +
	  "the cameras retried \($s.total.retries) times in all, and \($s.total.failed) task(s) failed."
   else empty end),
  "",
  ($s.auth | select(. != null) as $a |
	"Authentication: " + (if $a.required
	  then "required at the gateway's XDP and at every runtime (" + ($a.node_modes | keys_unsorted | join(" ")) + ")"
	  else "NOT required everywhere: the gateway's XDP \($a.gateway_mode // "?"), the runtimes " +
		($a.node_modes | to_entries | map("\(.key) \(.value // "?")") | join(", ")) end) +
	  "; enrollment on \($a.enroll_at), mutual TLS 1.3",
	"  Devices enrolled: " + ($a.devices | map("\(.name) (role \(.role // "-"), tenant \(.tenant // "-"), key" +
	  (if (.key_ids | length) > 1 then "s " else " " end) + (.key_ids | map(tostring) | join(", ")) + ")")
	  | join("; ")) + " (a key per edgeload session)",
	"  Nodes synced: " + ($a.nodes | map("\(.name) as node \(.node_id // "?")") | join(", ")) +
	  (if ([$a.nodes[] | .node_id == .configured_id] | all) then " (the controller's ids for their names)"
	   else " (NOT all the controller's ids for their names)" end),
	($a.accounting as $n |
	  "  Datagrams: the cameras sealed \($n.sealed); the runtimes verified \($n.verified) (" +
	    ($a.runtimes.by_node | to_entries | map("\(.key) \(.value.ok)") | join(", ")) + "), " +
	    "\($a.runtimes.dropped.bad_tag // 0) bad tags",
	  "    not verified: " +
	    ([(if $n.dropped_classifiers > 0 then "\($n.dropped_classifiers) dropped by the workers' classifiers (" +
		($a.classifiers.dropped | kv) + ")" else empty end),
	      (if $n.dropped_runtimes > 0 then "\($n.dropped_runtimes) by the runtimes (" + ($a.runtimes.dropped | kv) + ")" else empty end),
	      (if $n.dropped_gateway > 0 then "\($n.dropped_gateway) by the gateway (" + ($a.gateway.dropped_cameras | kv) + ")" else empty end),
	      (if $n.lost_rx > 0 then "\($n.lost_rx) lost in the runtimes' receive rings (rx_dropped)" else empty end),
	      (if $n.after_death > 0 then "\($n.after_death) sent to \($s.kill.node // "the killed worker") after its death" else empty end),
	      "\($n.unaccounted) unaccounted"] | join(", ")),
	  (if ([$a.runtimes.dropped, $a.classifiers.dropped, $a.gateway.dropped_cameras] | map(keys[]) | unique)
		- ["unknown_key", "drop_auth_unknown_key"] == []
	     and ($n.dropped_runtimes + $n.dropped_classifiers + $n.dropped_gateway) > 0
	   then "    (unknown_key: a camera's first datagrams under a new key, sent before the gateway and the nodes had it; answered on retry)"
	   else empty end)),
	"  Replies at the cameras: \($a.cameras.bad_tag) bad tags, \($a.cameras.unknown_key) under an unknown key, \($a.cameras.unsealed) unsealed",
	($a.intruder | select(. != null) |
	  "  The intruder (\(.node), \(.address)), at \(.at_s | fix(1)) s:",
	  (.enroll | to_entries[] | .key as $i | .value |
	    "    enrollment with \(.how): " + (if .refused then "refused at the TLS handshake" else "NOT refused" end) +
	    ([(if (.said // "") != "" then "the client: \(.said)" else empty end)] | if length > 0 then " (" + join("") + ")" else "" end)),
	  "    the controller counted \(.controller.handshake_failed) failed handshakes and \(.controller.enrolled) enrollments" +
	    (if (.controller.said | length) > 0 then "; it says: " + (.controller.said | join("; ")) else "" end),
	  "    a burst of \(.burst.sent) tasks without a key to the gateway: \(.burst.answered) answered, " +
	    "\(.burst.gateway_drop_auth_missing) dropped in XDP by the gateway (drop_auth_missing)"),
	""),
  "Drops by reason: gateway: " + (if ($s.drops.gateway | length) == 0 then "none" else ($s.drops.gateway | kv) end) +
	"; classifiers: " + ([$s.drops.classifiers | to_entries[] | select((.value | length) > 0)
		| "\(.key) \(.value | kv)"] | if length == 0 then "none" else join("; ") end) +
	"; runtimes: " + ([$s.drops.runtimes | to_entries[] | select((.value | length) > 0)
		| "\(.key) \(.value | kv)"] | if length == 0 then "none" else join("; ") end),
  ([$s.passed_to_kernel.classifiers // {} | to_entries[] | select((.value | length) > 0)
	| "\(.key) \(.value | kv)"] | select(length > 0)
	| "Passed to the kernel, not dropped: " + join("; ") +
	  " (pass_no_socket: tasks that reached a node with no AF_XDP socket bound, i.e. whose runtime was down)"),
  ([$s.drops.runtimes[] | .rx_dropped // 0] | add // 0 | select(. > 0)
	| "  (rx_dropped: frames the kernel could not put in a runtime's receive ring, full or out of buffers:" +
	  " the runtime was short of CPU; expected on a machine busy with other work, see docs/rig.md)"),
  "Gateway decisions: " + ($s.gateway.decisions | kv),
  "",
  "Checks: every task answered or failed with an error code: \($s.checks.every_task_ended and $s.checks.failures_have_codes | ok);" +
	" none answered twice: \($s.checks.answered_once | ok); killed worker drained: \($s.checks.killed_node_drained | ok);" +
	" the others took over: \($s.checks.others_took_over | ok)",
  "Checks (auth): required: \($s.checks.auth_required | ok); cameras enrolled: \($s.checks.cameras_enrolled | ok);" +
	" every datagram verified: \($s.checks.datagrams_verified | ok); intruder refused: \($s.checks.intruder_refused | ok);" +
	" its tasks dropped: \($s.checks.intruder_dropped | ok)",
  "Time: \($s.timing.setup_s | fix(1)) s to set up, \($s.timing.load_s | fix(1)) s of traffic" +
	(if $s.timing.total_s then ", \($s.timing.total_s | fix(1)) s in all (before the rig is removed)" else "" end)
