# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# vm/demo/summary.jq - the demo's summary.json, from what vm/demo.sh collected: the
# cameras' edgeload summaries and timelines, the controller's node list (at the start, at
# the kill, at the end), the gateway's counters, each node's classifier counters and
# runtime statistics, the sample results, and for authentication the controller's keys and
# enrollment counts, the runtimes' auth counters and what the intruder met. Every input is
# passed by vm/demo.sh
# (jq -n -f summary.jq --argjson/--slurpfile ...; a --slurpfile is an array of the file's
# values). Also the checks test_demo.sh reads.

def nz: . // 0;
def sumof(f): map(f | nz) | add // 0;
def pct(a; b): if (b // 0) > 0 then (a * 1000 / b | round) / 10 else null end;
# { name: value } of the non-zero entries of an object of numbers (or {packets: n}).
def nonzero: to_entries | map({key, value: (if (.value | type) == "object" then .value.packets else .value end)})
	| map(select((.value // 0) > 0)) | from_entries;
# The sum, key by key, of a list of objects of numbers.
def addup: map(to_entries[]) | group_by(.key) | map({key: .[0].key, value: (map(.value // 0) | add)})
	| from_entries;
# A runtime's auth counters, its workers' summed: {ok, dropped: {reason: n}}, and the
# datagrams its sockets lost before it saw them (rx_dropped: a receive ring full).
def rt_auth: if . == null then {ok: 0, dropped: {}, rx_dropped: 0} else
	{ok: ([.workers[].auth.ok // 0] | add // 0), dropped: ([.workers[].auth.dropped // {}] | addup),
	 rx_dropped: ([.workers[].io.rx_dropped // 0] | add // 0)} end;

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
	# The round trip at the camera (edgeload's rtt_us; latency_us before it was named).
	rtt_us: ($l.total.rtt_us // $l.total.latency_us // {}),
	bytes_raw: ($l.total.bytes_raw | nz),
	bytes_compressed: ($l.total.bytes_compressed | nz),
	bytes_wire: ($l.total.bytes_wire | nz),
	blobs: ($l.total.blobs // null),
	unexpected_results: ($l.unexpected_results | nz),
	skipped: ($l.skipped | nz),
	seconds: ($l.seconds | nz),
	kinds: [($l.kinds // [])[] | {kind, sent, completed, failed, errors, blobs,
		rtt_us: (.rtt_us // .latency_us),
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
	| def since(f): ($rt.workers | sumof(f)) - (($rs.workers // []) | sumof(f));
	{
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
		# During the traffic: less what the counters held at its start (the sample
		# frames, the runtime's start).
		duplicates: since(.duplicates), shed: since(.shed),
		reply_dropped: since(.reply_dropped), rx_dropped: since(.io.rx_dropped),
		reassembly_expired: since(.reassembly.expired),
		# Time in the node (the runtime's per-type latency: acceptance to reply), not
		# the cameras' round trip.
		blobs_in_node_p99_us: (($rt.types // []) | map(select(.handler == "blobs")) | .[0]
			| (.in_node_us // .latency_us).p99)
	} end),
	classifier: ($xdp[$name] // {} | nonzero)
 }] as $nodes

| ($kill != "none" and $kill_ms > 0) as $killed
| ($nodes | map(select(.name == $kill)) | .[0]) as $kn
| ($gw_end[0] // {}) as $ge | ($gw_start[0] // {}) as $gs
| (($ge.decisions // {}) | with_entries(.value -= (($gs.decisions // {})[.key] // 0))) as $gd
| (($ge.packets // {}) | with_entries(.value -= (($gs.packets // {})[.key] // 0))) as $gp

# --- authentication -----------------------------------------------------------------------
| ($keys[0].keys // []) as $keylist | ($intruder[0] // null) as $intr
| [$cams[].name] as $camnames
| [$names[]] as $nodenames
| ([$nodenames[] | . as $n | ($runtime_last[0][$n] | rt_auth) as $l
	| ($runtime_start[$n] | rt_auth) as $s
	| {key: $n, value: {ok: ($l.ok - $s.ok),
		dropped: ($l.dropped | with_entries(.value -= ($s.dropped[.key] // 0)) | nonzero),
		rx_dropped: ($l.rx_dropped - $s.rx_dropped)}}]
	| from_entries) as $rt_auth
| ([$loads[] | .auth // {}]) as $cam_auth
| ([$rt_auth[].dropped] | addup) as $rt_dropped
| ($gp | with_entries(select(.key | startswith("drop_auth"))) | nonzero) as $gw_auth_drops
# The workers' classifiers' auth drops during the traffic (their counters less those at its start).
| def packets: if type == "object" then .packets // 0 else . // 0 end;
  ([$nodenames[] | . as $n | {key: $n, value: (($xdp[$n] // {}) | with_entries(select(.key | startswith("drop_auth")))
	| with_entries(.value = (.value | packets) - ((($xdp_start[0] // {})[$n] // {})[.key] | packets)) | nonzero)}]
	| from_entries) as $cl_auth
| ({
	required: ($gw_auth == "required" and
		([$nodenames[] | $runtime_last[0][.].auth.mode // null | select(. != null)]
		 | length > 0 and all(. == "required"))),
	gateway_mode: (if $gw_auth == "" then null else $gw_auth end),
	enroll_at: $enroll_at,
	node_modes: ([$nodenames[] | {key: ., value: ($runtime_last[0][.].auth.mode // null)}] | from_entries),
	devices: [$camnames[] as $c | ($keylist | map(select(.name == $c and (.node_id // null) == null))) as $k
		| {name: $c, role: ($k[0].role // null), tenant: ($k[0].tenant // null),
		   key_ids: ($k | map(.key_id) | sort), revoked: ($k | map(select(.revoked)) | length)}],
	nodes: [$nodenames[] as $n | ($runtime_last[0][$n].auth // null) as $a
		| {name: $n, node_id: ($a.node_id // null), configured_id: ($n as $x | $names | to_entries[]
			| select(.value == $x) | .key | tonumber), keys: ($a.keys // null),
		   syncs: ($a.syncs // null), sync_errors: ($a.sync_errors // null)}],
	enrollments: ($status_end[0].enroll.by_outcome // {} | nonzero),
	cameras: {sealed: ($cam_auth | sumof(.sealed)), bad_tag: ($cam_auth | sumof(.bad_tag)),
		unknown_key: ($cam_auth | sumof(.unknown_key)), unsealed: ($cam_auth | sumof(.unsealed)),
		refused: ($cam_auth | sumof(.refused)), enrollments: ($cam_auth | sumof(.enrollments)),
		enroll_failures: ($cam_auth | sumof(.enroll_failures)),
		key_ids: ($cam_auth | map(.key_id))},
	runtimes: {ok: ([$rt_auth[].ok] | add // 0), dropped: $rt_dropped,
		rx_dropped: ([$rt_auth[].rx_dropped] | add // 0), by_node: $rt_auth},
	classifiers: {dropped: ([$cl_auth[]] | addup), by_node: $cl_auth},
	gateway: {dropped: $gw_auth_drops,
		dropped_cameras: ($gw_auth_drops | .drop_auth_missing -= (($intr.burst.gateway_drop_auth_missing) // 0)
			| nonzero)},
	intruder: $intr
  }
| . as $a
# Where the cameras' sealed datagrams went: verified by a runtime, dropped by one, by a
# worker's classifier or by the gateway (by reason), lost in a runtime's receive ring
# before it saw them (rx_dropped: a runtime short of CPU), or sent to the killed worker after its death (its classifier passed
# them to a kernel with no socket for them). What is left (unaccounted) was in flight
# between the killed runtime's last statistics and its death, or lost.
| ($xdp[$kill].pass_no_socket // 0 | if type == "object" then .packets // 0 else . end) as $after_death
| . + {accounting: ({sealed: $a.cameras.sealed, verified: $a.runtimes.ok,
	dropped_runtimes: ([$a.runtimes.dropped[]] | add // 0),
	dropped_classifiers: ([$a.classifiers.dropped[]] | add // 0),
	lost_rx: $a.runtimes.rx_dropped,
	dropped_gateway: ([$a.gateway.dropped_cameras[]] | add // 0),
	after_death: (if $kill == "none" then 0 else $after_death end)}
	| . + {unaccounted: (.sealed - .verified - .dropped_runtimes - .dropped_classifiers - .dropped_gateway
		- .lost_rx - .after_death)})}
  ) as $auth
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
	auth: $auth,
	# Not drops: tasks a classifier passed to its node's kernel because no AF_XDP socket
	# was bound (pass_no_socket: the killed worker's, after its death).
	passed_to_kernel: {
		classifiers: ($nodes | map({key: .name, value: (.classifier
			| with_entries(select(.key == "pass_no_socket")))}) | from_entries)
	},
	drops: {
		gateway: (($gp | with_entries(select(.key | startswith("drop_"))))
			+ ($gd | {overflow_reject, tx_error}) | nonzero),
		classifiers: ($nodes | map({key: .name, value: (.classifier
			| with_entries(select(.key | startswith("drop_"))))}) | from_entries),
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
	# Nothing dropped but the intruder's tasks (drop_auth_missing at the gateway).
	no_drops: (([.drops.gateway[]] | add // 0) == ((.auth.intruder.burst.gateway_drop_auth_missing) // 0) and
		([.drops.classifiers[] | to_entries[] | select(.key | startswith("drop_")) | .value] | add // 0) == 0),
	auth_required: .auth.required,
	cameras_enrolled: (([.auth.devices[] | .role != null and (.key_ids | length) > 0] | all) and
		.auth.cameras.enroll_failures == 0),
	# Every camera datagram that reached a runtime verified: no bad tag at either end, and
	# nothing dropped but as unknown_key (sent in the moment between an enrollment and the
	# nodes' next sync, and answered on its retry), by the runtimes or their classifiers.
	datagrams_verified: (.auth.runtimes.ok > 0 and (.auth.runtimes.dropped.bad_tag // 0) == 0 and
		.auth.cameras.bad_tag == 0 and
		([.auth.runtimes.dropped | to_entries[] | select(.key != "unknown_key") | .value] | add // 0) == 0 and
		([.auth.classifiers.dropped | to_entries[] | select(.key != "drop_auth_unknown_key") | .value]
		 | add // 0) == 0),
	intruder_refused: (if .auth.intruder == null then null else
		([.auth.intruder.enroll[].refused] | all) and .auth.intruder.controller.handshake_failed >= 2
		and .auth.intruder.controller.handshake_ok == 0 and .auth.intruder.controller.enrolled == 0 end),
	intruder_dropped: (if .auth.intruder == null then null else
		.auth.intruder.burst as $b | $b.sent > 0 and $b.answered == 0 and
		$b.gateway_drop_auth_missing == $b.sent end)
}}
