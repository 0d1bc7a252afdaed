# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# vm/demo/summary.jq - the demo's summary.json, from what vm/demo.sh collected: the
# cameras' edgeload summaries and timelines, the controller's node list (at the start, at
# the kill, at the end), the gateway's counters, each node's classifier counters and
# runtime statistics, and the sample results. Every input is passed by vm/demo.sh
# (jq -n -f summary.jq --argjson/--slurpfile ...; a --slurpfile is an array of the file's
# values). Also the checks test_demo.sh reads.

def nz: . // 0;
def sumof(f): map(f | nz) | add // 0;
def pct(a; b): if (b // 0) > 0 then (a * 1000 / b | round) / 10 else null end;
# { name: value } of the non-zero entries of an object of numbers (or {packets: n}).
def nonzero: to_entries | map({key, value: (if (.value | type) == "object" then .value.packets else .value end)})
	| map(select((.value // 0) > 0)) | from_entries;

($node_ids) as $names
| $cams[0] as $cams | $timelines[0] as $timelines | $xdp[0] as $xdp
| $runtime[0] as $runtime | $runtime_start[0] as $runtime_start | $samples[0] as $samples
| ($nodes_start[0] // []) as $n0 | ($nodes_kill[0] // []) as $nk | ($nodes_end[0] // []) as $n1
| def tasks_at($list; $id): ($list | map(select(.id == $id)) | .[0].gateway.tasks) // 0;

# --- the cameras ------------------------------------------------------------------------
[range(0; $cams | length) as $i
 | $cams[$i] as $c | ($loads[$i] // {}) as $l | ($timelines[$c.name] // []) as $tl
 | ($tl | map(select(.kind == "total"))) as $tt
 | $c + {
	sent: ($l.total.sent | nz), answered: ($l.total.completed | nz),
	failed: ($l.total.failed | nz), retries: ($l.total.retries | nz),
	errors: ($l.total.errors // {}),
	tasks_per_s: ($l.total.tasks_per_s | nz),
	latency_us: ($l.total.latency_us // {}),
	bytes_raw: ($l.total.bytes_raw | nz),
	bytes_compressed: ($l.total.bytes_compressed | nz),
	bytes_wire: ($l.total.bytes_wire | nz),
	blobs: ($l.total.blobs // null),
	unexpected_results: ($l.unexpected_results | nz),
	skipped: ($l.skipped | nz),
	seconds: ($l.seconds | nz),
	kinds: [($l.kinds // [])[] | {kind, sent, completed, failed, errors, blobs, latency_us,
		bytes_raw, bytes_compressed}],
	timeline: { lines: ($tt | length), sent: ($tt | sumof(.sent)),
		completed: ($tt | sumof(.completed)), failed: ($tt | sumof(.failed)) }
 }] as $cameras

# --- the nodes --------------------------------------------------------------------------
| ([$n1[] | select(.role == "worker") | .capacity] | add // 0) as $capsum
| ([$n1[] | tasks_at($n1; .id) - tasks_at($n0; .id)] | add // 0) as $all
| ([$n1[] | tasks_at($nk; .id) - tasks_at($n0; .id)] | add // 0) as $all_before
| ([$n1[] | tasks_at($n1; .id) - tasks_at($nk; .id)] | add // 0) as $all_after
| [$n1[] | .id as $id | ($names[$id | tostring] // .name) as $name
	| ($runtime[$name] // null) as $rt | ($runtime_start[$name] // {}) as $rs
	| (tasks_at($nk; $id) - tasks_at($n0; $id)) as $before
	| (tasks_at($n1; $id) - tasks_at($nk; $id)) as $after
	| {
	id: $id, name: $name, role, state, capacity,
	capacity_share: (if .role == "worker" then pct(.capacity; $capsum) else null end),
	tasks: ($before + $after), tasks_before_kill: $before, tasks_after_kill: $after,
	share: pct($before + $after; $all),
	share_before_kill: pct($before; $all_before), share_after_kill: pct($after; $all_after),
	sent_since_last_report: (.gateway.sent_since_report | nz),
	reports: .reports,
	runtime: (if $rt == null then null else {
		completed: (($rt.types | sumof(.completed)) - (($rs.types // []) | sumof(.completed))),
		errors: ([$rt.types[].errors | to_entries[]] | group_by(.key)
			| map({key: .[0].key, value: (map(.value) | add)}) | from_entries),
		cache_hits: (($rt.types | sumof(.cache_hits)) - (($rs.types // []) | sumof(.cache_hits))),
		duplicates: ($rt.workers | sumof(.duplicates)),
		shed: ($rt.workers | sumof(.shed)),
		reply_dropped: ($rt.workers | sumof(.reply_dropped)),
		rx_dropped: ($rt.workers | sumof(.io.rx_dropped)),
		reassembly_expired: ($rt.workers | sumof(.reassembly.expired)),
		blobs_p99_us: (($rt.types // []) | map(select(.handler == "blobs")) | .[0].latency_us.p99)
	} end),
	classifier: ($xdp[$name] // {} | nonzero)
 }] as $nodes

| ($kill != "none" and $kill_ms > 0) as $killed
| ($nodes | map(select(.name == $kill)) | .[0]) as $kn
| ($gw_end[0] // {}) as $ge | ($gw_start[0] // {}) as $gs
| (($ge.decisions // {}) | with_entries(.value -= (($gs.decisions // {})[.key] // 0))) as $gd
| (($ge.packets // {}) | with_entries(.value -= (($gs.packets // {})[.key] // 0))) as $gp
| {
	version: 1,
	scenario: {
		duration_s: $duration, quick: ($quick == 1), prefix: $prefix,
		gateway: $gw, attempts: $attempts, kill: $kill,
		machine: {kernel: $kernel, cpus: $cpus}
	},
	timing: {
		setup_s: ($setup_ms / 1000),
		load_s: (($load_end_ms - $load_t0_ms) / 1000),
		load_start_unix: ($load_t0_ms / 1000),
		watch_start_unix: ($watch_t0_ms / 1000)
	},
	cameras: $cameras,
	total: {
		sent: ($cameras | sumof(.sent)), answered: ($cameras | sumof(.answered)),
		failed: ($cameras | sumof(.failed)), retries: ($cameras | sumof(.retries)),
		errors: ([$cameras[].errors | to_entries[]] | group_by(.key)
			| map({key: .[0].key, value: (map(.value) | add)}) | from_entries),
		bytes_raw: ($cameras | sumof(.bytes_raw)),
		bytes_compressed: ($cameras | sumof(.bytes_compressed)),
		bytes_wire: ($cameras | sumof(.bytes_wire)),
		compression_saved_pct: pct(($cameras | sumof(.bytes_raw)) - ($cameras | sumof(.bytes_compressed));
			($cameras | sumof(.bytes_raw))),
		blobs_found: ($cameras | sumof(.blobs.found)),
		frames_counted: ($cameras | sumof(.blobs.results)),
		unexpected_results: ($cameras | sumof(.unexpected_results))
	},
	results_sample: ($samples | to_entries | map({image: .key, count: .value.count,
		level: .value.level, largest: (.value.blobs[:3])})),
	kill: (if $killed then {
		node: $kill, id: $kn.id, pid: $kill_pid,
		at_s: (($kill_ms - $load_t0_ms) / 1000),
		drained_after_ms: (if $dead_ms > 0 then $dead_ms - $kill_ms else null end),
		dead_after_ms: $dead_after_ms,
		state_end: $kn.state,
		tasks_sent_after_its_last_report: $kn.sent_since_last_report,
		tasks_before_kill: $kn.tasks_before_kill, tasks_after_kill: $kn.tasks_after_kill
	} else null end),
	nodes: $nodes,
	gateway: {
		tasks: $all,
		decisions: ($gd | nonzero),
		packets: ($gp | nonzero)
	},
	drops: {
		gateway: (($gp | with_entries(select(.key | startswith("drop_"))))
			+ ($gd | {overflow_reject, tx_error}) | nonzero),
		classifiers: ($nodes | map({key: .name, value: (.classifier
			| with_entries(select(.key | startswith("drop_") or . == "pass_no_socket")))})
			| from_entries),
		runtimes: ($nodes | map(select(.runtime != null) | {key: .name, value: (.runtime
			| {shed, reply_dropped, rx_dropped, reassembly_expired} | nonzero)}) | from_entries)
	}
}
| .kill as $k
| . + {checks: {
	every_task_ended: ([.cameras[] | .sent == .answered + .failed] | all),
	failures_have_codes: ([.cameras[] | .failed == ([.errors[]] | add // 0)] | all),
	answered_once: ([.cameras[] | .unexpected_results == 0 and .answered <= .sent] | all),
	timelines_add_up: ([.cameras[] | .timeline.sent == .sent and
		.timeline.completed == .answered and .timeline.failed == .failed] | all),
	killed_node_drained: (if $k == null then null
		else $k.state_end == "dead" and $k.drained_after_ms != null end),
	others_took_over: (if $k == null then null else
		[.nodes[] | select(.role == "worker" and .name != $k.node)
		 | (.share_after_kill // 0) > (.share_before_kill // 0)] | all end),
	no_drops: (([.drops.gateway[]] | add // 0) == 0 and
		([.drops.classifiers[] | to_entries[] | select(.key | startswith("drop_")) | .value] | add // 0) == 0)
}}
