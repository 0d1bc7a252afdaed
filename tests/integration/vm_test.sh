#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The rig's VM mode (vm/vm.sh): the runtime in a QEMU guest running Debian's kernel, on a
# virtio-net NIC with several queues, driven from the host side of its tap. XDP and
# AF_XDP in a real driver (virtio_net) rather than on veth: the classifier's mode, the
# queues, an AF_XDP socket on each, tasks answered right over IPv4 and IPv6 (compared
# with the same handlers run here by a reference runtime on kernel sockets), a load from
# several clients at once, the classifier's counters, a drain on SIGTERM.
#
# Not named test_*.sh: `make test` does not run it; `make test-vm` does. Skipped, with
# the reason, when QEMU, the kernel package (scripts/fetch-kernel.sh) or its virtio
# modules are missing. Bounded: the guest powers off after GUEST_LIMIT seconds.
source "$(dirname "$0")/../lib/lib.sh"
need_root "VM mode (QEMU guest on a tap)"

GUEST_LIMIT=170			# seconds; the test's own steps are bounded too
IMAGES=$BUILD/data/images
P=v${EP_SUFFIX:0:7}		# the VM mode's prefix: a letter and up to 7 more
VM_LOGS=$BUILD/tests/logs/vm
vm() { "$EP_ROOT/vm/vm.sh" --prefix "$P" --log-dir "$VM_LOGS" "$@"; }
diag_lines() { sed 's/^/# /' <<<"$1"; }
g1() { vm exec -t 60 g1 "$@"; }
T0=$SECONDS

for f in edgeplane edgeplane-xdp edgeload; do
	if [[ ! -x $BIN/$f ]]; then
		not_ok "$BIN/$f is built (run make first)"
		tap_done
		exit 1
	fi
done

# Can it run here? The check fetches the kernel if it is missing (the package mirror
# must answer); a missing piece is a skip, with its reason.
out=$(vm check 2>&1)
rc=$?
if ((rc == 77)); then
	skip "VM mode" "${out#skipped: }"
	tap_done
	exit 0
elif ((rc != 0)); then
	not_ok "vm/vm.sh check"
	diag "$out"
	tap_done
	exit 1
fi

vm_down() { vm down; }
on_exit vm_down

t=$SECONDS
if ! vm up --run serve --guests 1 --queues 4 --smp 2 --timeout "$GUEST_LIMIT" >"$EP_TMP/up.out" 2>&1; then
	not_ok "the guest boots and answers on its control line"
	diag_lines "$(cat "$EP_TMP/up.out")"
	tap_done
	exit 1
fi
ok "the guest boots, runs serve.sh and answers on its control line ($((SECONDS - t)) s)"
diag "$(grep -m1 '^vm .* up in' "$EP_TMP/up.out")"
NS=$(vm ns)
GA=$(vm addr g1)
GA6=$(vm addr g1 --6)
CONSOLE=$(vm console g1)
HOST_REF_ADDR=$(vm addr host)	# the host side's address, on the bridge
in_host() { ip netns exec "$NS" "$@"; }

# The NIC and its driver.
expect_eq "eth0 is driven by virtio_net" \
	"$(g1 'basename $(readlink /sys/class/net/eth0/device/driver)')" virtio_net
read -r qmax qcur < <(g1 "ethtool -l eth0" | awk '/^Combined:/ { c[++n] = $2 } END { print c[1], c[2] }')
diag "ethtool -l eth0: combined ${qcur:-?} enabled of ${qmax:-?}"
check "the NIC has several queue pairs (ethtool -l: maximum ${qmax:-?} >= 2)" test "${qmax:-0}" -ge 2
check "several are enabled (ethtool -l: current ${qcur:-?} >= 2)" test "${qcur:-0}" -ge 2
rxq=$(g1 'ls -d /sys/class/net/eth0/queues/rx-* | wc -l')
expect_eq "the kernel has as many RX queues as enabled pairs" "$rxq" "$qcur"

# The runtime: ready, the classifier's mode, a socket per queue.
log=$(g1 "cat /var/log/edgeplane.log")
if grep -q 'ready:' <<<"$log"; then
	ok "the runtime is ready in the guest: $(grep -o 'ready:.*' <<<"$log")"
else
	not_ok "the runtime is ready in the guest"
	diag_lines "$log"
	# libbpf's copy of the verifier's log may be cut short: load the classifier by hand
	# for the verifier's own last words.
	diag_lines "$(g1 "bpftool -d prog load /usr/lib/edgeplane/bpf/ep_classifier.bpf.o \
		/sys/fs/bpf/ep_probe type xdp 2>&1 | grep -B 40 -m 1 -E '^(processed|verification time)' |
		grep -vE '^(regs|last_idx|parent)' | tail -n 6; rm -f /sys/fs/bpf/ep_probe")"
	diag "console log: $CONSOLE"
	tap_done
	exit 1
fi
mode=$(grep -oE 'in (native|skb) mode' <<<"$log" | awk '{ print $2 }')
diag "XDP mode: ${mode:-unknown}; AF_XDP: $(grep -oE 'queue 0 ready \((copy mode|zero-copy)' <<<"$log" | sed 's/.*(//')"
expect_eq "the classifier runs in native mode on virtio_net" "$mode" native
link=$(g1 "/usr/sbin/ip -d link show eth0")
check "ip link shows a native XDP program on eth0 (xdp, not xdpgeneric)" \
	bash -c "grep -qE 'prog/xdp id [0-9]+' <<<'$link' && ! grep -q xdpgeneric <<<'$link'"
expect_eq "an AF_XDP socket on each of the $qcur enabled queues" \
	"$(grep -cE 'afxdp: eth0 queue [0-9]+ ready' <<<"$log")" "$qcur"

# Tasks from the host side, through the tap and virtio_net, into AF_XDP and back.
head -c 3000 /dev/urandom >"$EP_TMP/payload.bin"
for fam in "IPv4 $GA" "IPv6 $GA6"; do
	read -r name addr <<<"$fam"
	expect_echo "echo over $name: 3000 random bytes come back unchanged" "$EP_TMP/payload.bin" \
		in_host "$BIN/edgeload" run --to "$addr"
done
# zlib's CRC-32 of the payload is the first word of gzip's trailer.
crc=$(gzip -c "$EP_TMP/payload.bin" | tail -c 8 | od -An -tx4 -N4 | tr -d ' ')
expect_eq "checksum: the guest's CRC-32 is the one computed here" \
	"$(in_host "$BIN/edgeload" run --to "$GA" --type checksum --in "$EP_TMP/payload.bin" 2>/dev/null |
		awk '$1 == "crc32" { print $2 }')" "$crc"

# Image tasks (many fragments each way), compared with a reference runtime on kernel
# sockets in the host-side namespace: the same handlers, without XDP or the guest.
if [[ -s $IMAGES/camera.png && -s $IMAGES/coins.png ]]; then
	in_host "$BIN/edgeplane" -b udp --bind "$HOST_REF_ADDR" $EP_AUTH_OFF_ARG \
		--stats-socket "$EP_TMP/ref.sock" \
		--ready-file "$EP_TMP/ref.ready" >"$EP_TMP/ref.log" 2>&1 &
	REF_PID=$!
	stop_ref() { kill -TERM "$REF_PID" 2>/dev/null && wait "$REF_PID"; }
	on_exit stop_ref
	for _ in $(seq 100); do [[ -s $EP_TMP/ref.ready ]] && break; sleep 0.05; done
	for op in sobel gauss_blur threshold; do
		in_host "$BIN/edgeload" run --to "$GA" --type $op --in "$IMAGES/camera.png" \
			--out "$EP_TMP/$op.vm.png" >"$EP_TMP/$op.err" 2>&1
		in_host "$BIN/edgeload" run --to "$HOST_REF_ADDR" --type $op --in "$IMAGES/camera.png" \
			--out "$EP_TMP/$op.ref.png" >/dev/null 2>&1
		if [[ -s $EP_TMP/$op.vm.png ]] && cmp -s "$EP_TMP/$op.vm.png" "$EP_TMP/$op.ref.png"; then
			ok "$op of camera.png (256 KiB in ~190 fragments): the guest's result equals the reference's"
		else
			not_ok "$op of camera.png: the guest's result equals the reference's"
			diag "$(cat "$EP_TMP/$op.err")"
		fi
	done
	out=$(in_host "$BIN/edgeload" run --to "$GA" --type blobs --in "$IMAGES/coins.png" --level 120 \
		--min-area 300 --blur --conn8 --no-border --json 2>/dev/null)
	expect_eq "blobs counts the 24 coins of coins.png" "$(jq -r .count <<<"$out" 2>/dev/null)" 24
	stop_ref
else
	skip "image tasks" "no $IMAGES/camera.png, coins.png (scripts/fetch-images.sh)"
fi

# A load from four clients at once: four flows, which the tap spreads over the queues.
pids=()
for j in 1 2 3 4; do
	in_host timeout 60 "$BIN/edgeload" load --to "$GA" --type checksum --size 1000 --concurrency 8 \
		--count 100 --json >"$EP_TMP/load$j.json" 2>"$EP_TMP/load$j.err" &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
sum=$(cat "$EP_TMP"/load{1,2,3,4}.json 2>/dev/null |
	jq -s -r 'map(.total) | "\(map(.sent) | add) \(map(.completed) | add) \(map(.failed) | add)"' 2>/dev/null)
expect_eq "4 clients x 100 checksum tasks at once: all completed" "$sum" "400 400 0"
diag "load: $(jq -s -r 'map(.total) | "\(map(.tasks_per_s) | add | floor) tasks/s in all, p50 \(map(.latency_us.p50) | max) us, p99 \(map(.latency_us.p99) | max) us (worst client), retries \(map(.retries) | add)"' \
	"$EP_TMP"/load{1,2,3,4}.json 2>/dev/null)"

# The classifier's counters, read in the guest (and printed on its console).
stats=$(g1 "edgeplane-xdp stats --dev eth0 --json")
redirected=$(stat_packets "$stats" redirect_xsk)
check "the classifier handed the tasks to AF_XDP (redirect_xsk: ${redirected:-?} >= 400)" \
	test "${redirected:-0}" -ge 400
expect_eq "no task went past a socket (pass_no_socket)" "$(stat_packets "$stats" pass_no_socket)" 0
expect_eq "nothing was dropped (drop_*)" \
	"$(jq '[to_entries[] | select(.key | startswith("drop_")) | .value.packets] | add' <<<"$stats")" 0
g1 "edgeplane-xdp stats --dev eth0" >/dev/null
on_console=$(grep -aE '^redirect_xsk +[0-9]+' "$CONSOLE" | tail -1 | awk '{ print $2 }')
expect_eq "the console log shows the same redirect_xsk count" "$on_console" "$redirected"

# The runtime's view: every task completed, and which queues they came in on.
rt=$(g1 "edgeplane stats --socket /run/edgeplane/runtime/stats.sock --json")
check "the runtime completed the 400 checksum tasks" \
	test "$(jq '[.types[] | select(.handler == "checksum")][0].completed' <<<"$rt")" -ge 400
diag "datagrams per queue: $(jq -r '[.workers[] | "q\(.queue)=\(.datagrams)"] | join(" ")' <<<"$rt")"

# SIGTERM: the runtime drains, exits and takes the classifier off eth0.
g1 'kill -TERM $(cat /run/edgeplane.pid)' >/dev/null
check "on SIGTERM the runtime stops" quiet g1 "ep-wait /var/log/edgeplane.log '^edgeplane: info: stopped' 20"
if g1 "/usr/sbin/ip -d link show eth0" | grep -q 'prog/xdp'; then
	not_ok "and detaches the classifier from eth0"
else
	ok "and detaches the classifier from eth0"
fi

# down removes everything: the namespace, the guest's QEMU.
vm down >/dev/null 2>&1
check "down removes the namespace" bash -c "! ip netns list | grep -qw '$NS'"
check "and stops QEMU" bash -c "! grep -qsE '[e]p-vm:$P:' /proc/[0-9]*/cmdline"
diag "console log: $CONSOLE; the test took $((SECONDS - T0)) s"
tap_done
