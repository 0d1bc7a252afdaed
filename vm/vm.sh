#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# vm/vm.sh - the rig's VM mode: the edge node as a QEMU guest with a virtio-net NIC of
# several queues, running Debian's kernel, so that XDP and AF_XDP run in a real driver
# (virtio_net) rather than on veth.
#
# The guest boots Debian's cloud kernel (scripts/fetch-kernel.sh downloads and unpacks it
# under build/vm; nothing is installed on the host) with an initramfs this script builds:
# busybox, build/bin/edgeplane and edgeplane-xdp with the shared libraries they link,
# libxdp's BPF objects, ethtool and iproute2's ip, the virtio modules, and vm/qemu/init.
# Each guest's NIC is a multi-queue tap whose host side sits on a bridge in a network
# namespace of its own, <prefix>-<unique suffix>; nothing is created in the root
# namespace. The guests' serial consoles go to log files; a second serial line carries
# commands (`exec`). QEMU runs under `timeout`, the guest powers itself off at the same
# limit, and `down` (or the EXIT trap of `run`) removes it all. docs/rig.md, "VM mode".
set -euo pipefail

EP_ROOT=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
BUILD=${BUILD:-$EP_ROOT/build}
[[ $BUILD == /* ]] || BUILD=$EP_ROOT/$BUILD
BIN=$BUILD/bin
VM_DIR=$BUILD/vm			# kernel, busybox, initramfs (scripts/fetch-kernel.sh)
KERNEL_DIR=$VM_DIR/kernel
INITRD=$VM_DIR/initramfs.cpio.gz
BUSYBOX=$VM_DIR/busybox
GUEST_SRC=$EP_ROOT/vm/qemu
QEMU=${QEMU:-qemu-system-x86_64}
RUN_DIR=/run/edgeplane-vm
MODULES=${EP_VM_MODULES:-virtio_pci,virtio_net}
BRIDGE=vmbr0
HOST_IP=198.18.0.1 HOST_IP6=2001:db8::1
MAC_SIG=02:45:50:56:4d		# locally administered, "EP", "VM"; then 01 (bridge), 10+i
SKIP=77				# exit status: VM mode cannot run here (the reason is printed)
MAX_GUESTS=8
STOP_WAIT=30			# tenths of a second QEMU gets between SIGTERM and SIGKILL

usage() {
	cat <<'EOF'
Usage: vm/vm.sh [--prefix P] [--log-dir D] COMMAND [ARGS]

Commands:
  check                 can VM mode run here? prints "ok" or "skipped: REASON"
  fetch                 download and unpack the kernel and busybox (scripts/fetch-kernel.sh)
  image                 build the guests' initramfs (build/vm/initramfs.cpio.gz)
  up [OPTIONS]          boot the guests; they stay up until `down` or their time limit
      -n, --guests N    guests g1..gN (1..8, default 1)
      --queues Q        queue pairs of each virtio-net NIC (1..16, default 4)
      --smp N           vCPUs per guest (default 2)
      --mem MB          memory per guest (default 1024)
      --timeout S       run time limit of each guest, seconds (default 600)
      --accel A         auto (kvm if usable, else tcg), kvm or tcg
      --run NAME        run /etc/ep/NAME.sh in the guests at boot (vm/qemu/NAME.sh;
                        "serve" starts the runtime on eth0)
      --cmd CMD         run CMD in the guests at boot (after --run)
  exec [-t S] GUEST CMD [ARGS]
                        run CMD in GUEST (g1, ...) over its control line, wait at most
                        S seconds (default 60); output and status pass through
  host CMD [ARGS]       run CMD on the host side: in the namespace with the bridge
  addr GUEST|host [--6] an address (host: the bridge's)
  ns                    the host-side namespace's name
  console GUEST         the path of GUEST's console log
  status                guests, addresses, processes, logs; exits 1 if not up
  down                  stop the guests, remove the namespace, taps and state
  run [UP-OPTIONS] [--count N]
                        the whole thing: up --run serve, tasks from the host with
                        edgeload, the classifier's counters from the guests, down

Options:
  --prefix P     names: the namespace is P-<suffix>, the state /run/edgeplane-vm/P
                 (a lowercase letter, then up to 7 lowercase letters or digits;
                 default $EP_VM_PREFIX, else "epvm")
  --log-dir D    console and QEMU logs (default build/vm/logs/P)
  -h, --help     show this help

Environment: QEMU (default qemu-system-x86_64), EP_VM_MODULES (modules the guests load,
default virtio_pci,virtio_net), EP_VM_APPEND (more kernel command line), EP_VM_BOOT_WAIT
(seconds `up` waits for a guest, default 120), EP_VM_KERNEL_PKG (scripts/fetch-kernel.sh).

Exit status: 0 done, 1 failed, 2 bad command line, 77 VM mode cannot run here (no QEMU,
no kernel package, no virtio modules: the reason is printed). `exec` passes the guest
command's status through (124: no answer in time). See docs/rig.md, "VM mode".
EOF
}

err() { printf 'vm: %s\n' "$*" >&2; }
die() {
	local rc=$1
	shift
	err "$@"
	exit "$rc"
}
usage_die() {
	err "$@"
	echo "Try 'vm/vm.sh --help'." >&2
	exit 2
}
need_root() { [[ $(id -u) -eq 0 ]] || die 1 "$1 needs root (network namespaces, taps)"; }
int_in() { [[ $1 =~ ^[0-9]{1,7}$ ]] && ((10#$1 >= $2 && 10#$1 <= $3)); }
now_ms() { local t; t=$(date +%s%N); echo $((t / 1000000)); }

set_prefix() {
	PREFIX=$1
	[[ $PREFIX =~ ^[a-z][a-z0-9]{0,7}$ ]] ||
		usage_die "bad prefix '$PREFIX': a lowercase letter, then up to 7 lowercase letters or digits"
	STATE=$RUN_DIR/$PREFIX
	LOCK_FILE=$RUN_DIR/$PREFIX.lock
	MARK="ep-vm:$PREFIX:"		# in QEMU's -name, so `down` finds strays of this prefix
	LOG_DIR=${OPT_LOG:-$BUILD/vm/logs/$PREFIX}
	[[ $LOG_DIR == /* ]] || LOG_DIR=$PWD/$LOG_DIR
}

# ---------------------------------------------------------------------------- checks

# can_run [--no-fetch]: whether VM mode can run here; REPLY gets the reason if not.
# Fetches the kernel when it is missing (that needs the package mirror).
can_run() {
	local out m rel
	if [[ $(id -u) -ne 0 ]]; then REPLY="needs root (network namespaces, taps)"; return 1; fi
	if ! command -v "$QEMU" >/dev/null; then
		REPLY="$QEMU is not installed (scripts/deps.sh installs qemu-system-x86)"
		return 1
	fi
	if [[ ! -c /dev/net/tun ]]; then REPLY="no /dev/net/tun (taps)"; return 1; fi
	if ! have_kernel; then
		if [[ ${1:-} == --no-fetch ]]; then
			REPLY="no kernel in $KERNEL_DIR (vm/vm.sh fetch)"
			return 1
		fi
		if ! out=$("$EP_ROOT/scripts/fetch-kernel.sh" "$VM_DIR" 2>&1); then
			# apt's first error says why (no network, no such package).
			REPLY="the kernel package could not be fetched: $({ grep -m1 -E '^ *E:' <<<"$out" ||
				head -1 <<<"$out"; } | sed -E 's/^ +//')"
			return 1
		fi
	fi
	rel=$(<"$KERNEL_DIR/release")
	for m in ${MODULES//,/ }; do
		module_available "$rel" "$m" ||
			{ REPLY="the kernel $rel has no module $m (modules in $KERNEL_DIR)" && return 1; }
	done
	return 0
}

have_kernel() {
	[[ -s $KERNEL_DIR/vmlinuz && -s $KERNEL_DIR/release && -x $BUSYBOX ]] &&
		[[ -s $KERNEL_DIR/lib/modules/$(<"$KERNEL_DIR/release")/modules.dep ]]
}

# module_available RELEASE NAME: a module file of the kernel, or built into it.
module_available() {
	local d=$KERNEL_DIR/lib/modules/$1 n=${2//-/_}
	grep -qE "(^|/)(${n//_/[-_]})\\.ko(\\.[a-z]+)?:" "$d/modules.dep" ||
		grep -qE "(^|/)(${n//_/[-_]})\\.ko\$" "$d/modules.builtin" 2>/dev/null
}

# kvm_usable: /dev/kvm can be opened and the CPU has virtualisation extensions.
kvm_usable() {
	[[ -c /dev/kvm && -r /dev/kvm && -w /dev/kvm ]] && grep -qwE 'vmx|svm' /proc/cpuinfo
}

# ---------------------------------------------------------------------------- image

# module_closure RELEASE NAME...: the module files (paths relative to the release's
# directory) that NAME... need, themselves included; built-in modules need none.
module_closure() {
	local d=$KERNEL_DIR/lib/modules/$1
	shift
	awk -v want="$*" '
	{
		p = $1; sub(/:$/, "", p)
		deps[p] = ""
		for (i = 2; i <= NF; i++) deps[p] = deps[p] " " $i
		b = p; sub(/.*\//, "", b); sub(/\.ko(\.[a-z]+)?$/, "", b); gsub(/-/, "_", b)
		path[b] = p
	}
	function visit(p,   a, k, m) {
		if (p in seen) return
		seen[p] = 1
		m = split(deps[p], a, " ")
		for (k = 1; k <= m; k++) visit(a[k])
		print p
	}
	END {
		n = split(want, w, " ")
		for (i = 1; i <= n; i++) { b = w[i]; gsub(/-/, "_", b); if (b in path) visit(path[b]) }
	}' "$d/modules.dep"
}

# copy_elf FILE DEST STAGE: FILE to STAGE/DEST, and every shared library it links (ldd)
# to the same path in STAGE.
copy_elf() {
	local file=$1 dest=$2 stage=$3 lib
	install -D -m 0755 "$file" "$stage$dest"
	if ldd "$file" | grep -q 'not found'; then
		die 1 "image: $file needs libraries this machine lacks: $(ldd "$file" | grep 'not found' | tr -s ' \t' ' ')"
	fi
	while read -r lib; do
		[[ -e $stage$lib ]] && continue
		mkdir -p "$stage$(dirname "$lib")"
		cp -L "$lib" "$stage$lib"
	done < <(ldd "$file" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')
}

image_inputs() {
	printf '%s\n' "$BIN/edgeplane" "$BIN/edgeplane-xdp" "$BUSYBOX" "$KERNEL_DIR/release" \
		"$EP_ROOT/vm/vm.sh" "$GUEST_SRC"/*
	ls "$BUILD"/bpf/ep_classifier.bpf.o 2>/dev/null || true
}

# build_image: the initramfs, unless it is newer than everything it is made of.
build_image() {
	local f rel stage xdpobj a m tools=() mods=()
	for f in "$BIN/edgeplane" "$BIN/edgeplane-xdp"; do
		[[ -x $f ]] || die 1 "image: $f is missing (run make first)"
	done
	have_kernel || die 1 "image: no kernel in $KERNEL_DIR (vm/vm.sh fetch)"
	# shellcheck disable=SC2046 # the inputs are paths without spaces (build/, vm/qemu/)
	if [[ -s $INITRD ]] && [[ -z $(find $(image_inputs) -newer "$INITRD" 2>/dev/null) ]]; then
		return 0
	fi
	rel=$(<"$KERNEL_DIR/release")
	stage=$(mktemp -d "$VM_DIR/initramfs.XXXXXX")
	# shellcheck disable=SC2064
	trap "rm -rf '$stage'; trap - RETURN" RETURN

	mkdir -p "$stage"/{bin,sbin,dev,proc,sys,run,tmp,root,etc/ep,var/log,usr/bin,usr/sbin,usr/lib,usr/lib64}
	ln -s usr/lib "$stage/lib"
	ln -s usr/lib64 "$stage/lib64"
	mknod -m 600 "$stage/dev/console" c 5 1 2>/dev/null || true

	install -m 0755 "$BUSYBOX" "$stage/bin/busybox"
	for a in $("$BUSYBOX" --list); do
		[[ $a == busybox || -e $stage/bin/$a ]] || ln -s busybox "$stage/bin/$a"
	done
	install -m 0755 "$GUEST_SRC/init" "$stage/init"
	install -m 0755 "$GUEST_SRC/ep-bg" "$GUEST_SRC/ep-wait" "$stage/usr/bin/"
	for f in "$GUEST_SRC"/*.sh; do install -m 0755 "$f" "$stage/etc/ep/"; done
	printf 'root:x:0:0:root:/root:/bin/sh\n' >"$stage/etc/passwd"
	printf 'root:x:0:\n' >"$stage/etc/group"

	copy_elf "$BIN/edgeplane" /usr/bin/edgeplane "$stage"
	copy_elf "$BIN/edgeplane-xdp" /usr/bin/edgeplane-xdp "$stage"
	# iproute2's ip (it shows the XDP mode: xdp or xdpgeneric) and ethtool (-l: queues)
	# come before busybox's in the guest's PATH.
	for f in ip ethtool bpftool; do
		f=$(command -v "$f" 2>/dev/null) || continue
		copy_elf "$(readlink -f "$f")" "/usr/sbin/${f##*/}" "$stage"
		tools+=("${f##*/}")
	done
	# libxdp's dispatcher and AF_XDP programs, where libxdp looks for them; our objects
	# for loading by hand (ip link set eth0 xdp obj ...).
	xdpobj=$(dirname "$(readlink -f "$(ldd "$BIN/edgeplane" | awk '$1 ~ /^libxdp/ { print $3 }')")")/bpf
	if [[ -d $xdpobj ]]; then
		mkdir -p "$stage/usr/lib/$(basename "$(dirname "$xdpobj")")/bpf"
		cp "$xdpobj"/xdp-dispatcher.o "$xdpobj"/xsk_def_xdp_prog*.o \
			"$stage/usr/lib/$(basename "$(dirname "$xdpobj")")/bpf/" 2>/dev/null || true
	fi
	mkdir -p "$stage/usr/lib/edgeplane/bpf"
	cp "$BUILD"/bpf/ep_classifier.bpf.o "$stage/usr/lib/edgeplane/bpf/" 2>/dev/null || true

	# The modules and their dependencies, with a modules.dep of just those for modprobe.
	# shellcheck disable=SC2086 # one word per module
	mapfile -t mods < <(module_closure "$rel" ${MODULES//,/ })
	mkdir -p "$stage/lib/modules/$rel"
	for m in "${mods[@]}"; do
		install -D -m 0644 "$KERNEL_DIR/lib/modules/$rel/$m" "$stage/lib/modules/$rel/$m"
		grep -E "^${m//./\\.}:" "$KERNEL_DIR/lib/modules/$rel/modules.dep" \
			>>"$stage/lib/modules/$rel/modules.dep"
	done
	touch "$stage/lib/modules/$rel/modules.dep"
	cp "$KERNEL_DIR/lib/modules/$rel/modules.builtin" "$stage/lib/modules/$rel/" 2>/dev/null || true

	(cd "$stage" && find . -print | "$BUSYBOX" cpio -o -H newc 2>/dev/null) |
		gzip -1 >"$INITRD.tmp"
	mv "$INITRD.tmp" "$INITRD"
	local IFS=,
	echo "vm: initramfs $INITRD ($(du -k "$INITRD" | cut -f1) KiB): busybox, edgeplane," \
		"edgeplane-xdp${tools[*]:+,${tools[*]}}, ${#mods[@]} modules of $rel" | sed 's/,\([^ ]\)/, \1/g'

}

# prepare: everything up needs (the kernel fetched if missing), or exit 77 with the reason.
prepare() {
	can_run || { echo "skipped: $REPLY"; exit $SKIP; }
	mkdir -p "$VM_DIR"
	build_image
}

# ---------------------------------------------------------------------------- state

# The state file $STATE/vm: "key value" lines, and per guest
# "guest NAME index=I ipv4=A ipv6=A6 mac=M tap=T queues=Q smp=S console=PATH".
GUESTS=()
declare -A G_IDX=() G_IPV4=() G_IPV6=() G_MAC=() G_TAP=() G_QUEUES=() G_SMP=() G_CONSOLE=()
NS=

load_state() {
	local kw rest g kv
	local -a f
	[[ -r $STATE/vm ]] || return 1
	GUESTS=()
	while read -r kw rest; do
		case $kw in
		ns) NS=$rest ;;
		accel) ACCEL_USED=$rest ;;
		log_dir) LOG_DIR=$rest ;;
		guest)
			read -r -a f <<<"$rest"
			g=${f[0]}
			GUESTS+=("$g")
			for kv in "${f[@]:1}"; do
				case ${kv%%=*} in
				index) G_IDX[$g]=${kv#*=} ;;
				ipv4) G_IPV4[$g]=${kv#*=} ;;
				ipv6) G_IPV6[$g]=${kv#*=} ;;
				mac) G_MAC[$g]=${kv#*=} ;;
				tap) G_TAP[$g]=${kv#*=} ;;
				queues) G_QUEUES[$g]=${kv#*=} ;;
				smp) G_SMP[$g]=${kv#*=} ;;
				console) G_CONSOLE[$g]=${kv#*=} ;;
				esac
			done
			;;
		esac
	done <"$STATE/vm"
}

need_state() { load_state || die 1 "VM mode '$PREFIX' is not up (no $STATE/vm)"; }
need_guest() {
	[[ -n ${1:-} && -n ${G_IDX[$1]:-} ]] ||
		usage_die "no guest '${1:-}' in VM mode '$PREFIX' (guests: ${GUESTS[*]})"
}

# qemu_pid GUEST: the pid of GUEST's QEMU if it runs (checked against its -name).
qemu_pid() {
	local p
	p=$(cat "$STATE/$1.qemu.pid" 2>/dev/null) || return 1
	[[ $p =~ ^[0-9]+$ ]] && tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline" | grep -qF -- "$MARK$1 " &&
		echo "$p"
}

# Processes whose command line carries this prefix's mark: QEMU and its `timeout`.
marked_pids() {
	local d
	for d in /proc/[0-9]*; do
		[[ ${d#/proc/} != "$$" ]] || continue
		tr '\0' ' ' 2>/dev/null <"$d/cmdline" | grep -qF -- "-name $MARK" && echo "${d#/proc/}"
	done
	return 0
}

is_alive() {
	local stat
	read -r stat 2>/dev/null <"/proc/$1/stat" || return 1
	stat=${stat##*) }
	[[ ${stat:0:1} != Z ]]
}

lock() {
	mkdir -p "$RUN_DIR"
	exec 9>>"$LOCK_FILE"
	flock -w 60 9 || die 1 "VM mode $PREFIX: another vm/vm.sh holds $LOCK_FILE for over 60 s"
}

# ---------------------------------------------------------------------------- down

# do_down: stop this prefix's guests and remove its namespaces and state; quiet with -q.
do_down() {
	local quiet=${1:-} ns p t n=0 nns=0
	local -a pids alive nss=()
	load_state 2>/dev/null || true
	mapfile -t pids < <(marked_pids)
	if ((${#pids[@]})); then
		kill -TERM "${pids[@]}" 2>/dev/null || true
		for ((t = 0; t < STOP_WAIT; t++)); do
			alive=()
			for p in "${pids[@]}"; do is_alive "$p" && alive+=("$p"); done
			((${#alive[@]})) || break
			sleep 0.1
		done
		((${#alive[@]} == 0)) || kill -KILL "${alive[@]}" 2>/dev/null || true
		n=${#pids[@]}
	fi
	# The namespace of the state, and any left by a run that lost its state: named
	# P-<hex>, with our bridge (its MAC carries the signature).
	[[ -n $NS ]] && nss+=("$NS")
	for ns in $(ip netns list 2>/dev/null | awk -v p="$PREFIX-" 'index($1, p) == 1 { print $1 }'); do
		[[ $ns =~ ^$PREFIX-[0-9a-f]+$ && $ns != "$NS" ]] || continue
		ip -n "$ns" link show "$BRIDGE" 2>/dev/null | grep -q "$MAC_SIG:01" && nss+=("$ns")
	done
	for ns in "${nss[@]}"; do
		[[ -e /run/netns/$ns ]] || continue
		for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
		ip netns del "$ns" 2>/dev/null && nns=$((nns + 1))
	done
	if [[ -f $STATE/.edgeplane-vm ]]; then rm -rf -- "$STATE"; fi
	[[ $quiet == -q ]] || echo "vm $PREFIX: stopped $n process(es), removed $nns namespace(s)"
}

cmd_down() {
	(($# == 0)) || usage_die "down takes no arguments"
	need_root "down"
	lock
	do_down
	rm -f -- "$LOCK_FILE"
}

# ---------------------------------------------------------------------------- up

# step CMD...: a step of `up`; on failure say what failed and return 1.
step() {
	local out
	if ! out=$("$@" 2>&1); then
		err "failed: $*"
		[[ -z $out ]] || sed 's/^/    /' <<<"$out" >&2
		return 1
	fi
}

# read_ctl GUEST SECONDS PATTERN: read GUEST's control line until a line matches the
# glob PATTERN (that line is printed, those before it are dropped); 1 if the time runs
# out or QEMU stops.
read_ctl() {
	local g=$1 end=$((SECONDS + $2)) pat=$3 fd line buf=
	exec {fd}<>"$STATE/$g.ctl.out"
	while :; do
		if IFS= read -r -t 1 line <&"$fd"; then
			line=$buf$line buf=
			# shellcheck disable=SC2053
			if [[ $line == $pat ]]; then
				printf '%s\n' "$line"
				exec {fd}<&-
				return 0
			fi
		else
			buf+=$line
			if ((SECONDS >= end)) || ! qemu_pid "$g" >/dev/null; then
				exec {fd}<&-
				return 1
			fi
		fi
	done
}

# start_guest GUEST INDEX: its tap, its control line, its QEMU (in the background).
start_guest() {
	local g=$1 i=$2 mac tap accel_args append b64=
	tap=vm-$g
	printf -v mac '%s:%02x' "$MAC_SIG" $((10 + i))
	G_IDX[$g]=$i G_IPV4[$g]=198.18.0.$((10 + i)) G_IPV6[$g]=2001:db8::$((10 + i))
	G_MAC[$g]=$mac G_TAP[$g]=$tap G_QUEUES[$g]=$OPT_QUEUES G_SMP[$g]=$OPT_SMP
	G_CONSOLE[$g]=$LOG_DIR/$g.console.log
	step ip -n "$NS" tuntap add dev "$tap" mode tap multi_queue || return 1
	step ip -n "$NS" link set "$tap" master "$BRIDGE" || return 1
	step ip -n "$NS" link set "$tap" up || return 1
	mkfifo "$STATE/$g.ctl.in" "$STATE/$g.ctl.out"
	: >"${G_CONSOLE[$g]}"

	# shellcheck disable=SC2054 # "tcg,thread=multi" is one argument
	case $ACCEL_USED in
	kvm) accel_args=(-accel kvm -cpu host) ;;
	*) accel_args=(-accel tcg,thread=multi -cpu max) ;;
	esac
	append="console=ttyS0 panic=-1 random.trust_cpu=on ep.name=$g"
	append+=" ep.ip=${G_IPV4[$g]}/16 ep.ip6=${G_IPV6[$g]}/64 ep.modules=$MODULES"
	append+=" ep.timeout=$OPT_TIMEOUT${EP_VM_APPEND:+ $EP_VM_APPEND}"
	[[ -z $OPT_RUN ]] || append+=" ep.run=$OPT_RUN"
	[[ -z $OPT_CMD ]] || b64=$(printf '%s' "$OPT_CMD" | base64 -w0)
	[[ -z $b64 ]] || append+=" ep.cmd=$b64"
	# -netdev and -device rather than -nic: -nic does not take the device's mq= and
	# vectors= (2 per queue pair, 1 for the control queue, 1 for configuration changes).
	setsid ip netns exec "$NS" timeout -k 5 $((OPT_TIMEOUT + 15)) "$QEMU" \
		-name "$MARK$g" -machine pc "${accel_args[@]}" -smp "$OPT_SMP" -m "$OPT_MEM" \
		-nodefaults -nographic -monitor none -no-reboot \
		-kernel "$KERNEL_DIR/vmlinuz" -initrd "$INITRD" -append "$append" \
		-serial "file:${G_CONSOLE[$g]}" -serial "pipe:$STATE/$g.ctl" \
		-netdev "tap,id=net0,ifname=$tap,script=no,downscript=no,vhost=off,queues=$OPT_QUEUES" \
		-device "virtio-net-pci,netdev=net0,mac=$mac,mq=on,vectors=$((2 * OPT_QUEUES + 2))" \
		-pidfile "$STATE/$g.qemu.pid" \
		</dev/null >"$LOG_DIR/$g.qemu.log" 2>&1 9>&- &
}

write_state() {
	local g
	{
		echo "# edgeplane VM mode: written by vm/vm.sh up, read by its other commands"
		echo "prefix $PREFIX"
		echo "ns $NS"
		echo "accel $ACCEL_USED"
		echo "log_dir $LOG_DIR"
		echo "started $(date +%s)"
		for g in "${GUESTS[@]}"; do
			echo "guest $g index=${G_IDX[$g]} ipv4=${G_IPV4[$g]} ipv6=${G_IPV6[$g]}" \
				"mac=${G_MAC[$g]} tap=${G_TAP[$g]} queues=${G_QUEUES[$g]} smp=${G_SMP[$g]}" \
				"console=${G_CONSOLE[$g]}"
		done
	} >"$STATE/vm.tmp"
	mv "$STATE/vm.tmp" "$STATE/vm"
}

# do_up: the namespace, the bridge, a tap and a QEMU per guest; waits until every guest
# answers on its control line. 1 on failure (the caller removes what exists).
do_up() {
	local g i t0 suffix
	t0=$(now_ms)
	mkdir -p "$STATE" "$LOG_DIR"
	echo "$PREFIX" >"$STATE/.edgeplane-vm"
	printf -v suffix '%x%03x' $$ $((RANDOM % 4096))
	NS=$PREFIX-$suffix
	write_state
	step ip netns add "$NS" || return 1
	step ip -n "$NS" link set lo up || return 1
	step ip -n "$NS" link add "$BRIDGE" address "$MAC_SIG:01" type bridge stp_state 0 \
		mcast_snooping 0 || return 1
	step ip -n "$NS" addr add "$HOST_IP/16" dev "$BRIDGE" || return 1
	step ip -n "$NS" addr add "$HOST_IP6/64" dev "$BRIDGE" nodad || return 1
	step ip -n "$NS" link set "$BRIDGE" up || return 1
	GUESTS=()
	for ((i = 1; i <= OPT_GUESTS; i++)); do
		g=g$i
		GUESTS+=("$g")
		start_guest "$g" "$i" || return 1
	done
	write_state
	for g in "${GUESTS[@]}"; do
		if ! read_ctl "$g" "$OPT_BOOT_WAIT" "@@ep-ready $g" >/dev/null; then
			err "guest $g did not come up within ${OPT_BOOT_WAIT}s; the end of its console:"
			tail -n 25 "${G_CONSOLE[$g]}" | sed 's/^/    /' >&2
			[[ ! -s $LOG_DIR/$g.qemu.log ]] || sed 's/^/    qemu: /' "$LOG_DIR/$g.qemu.log" >&2
			return 1
		fi
	done
	BOOT_MS=$(($(now_ms) - t0))
	return 0
}

cmd_up() {
	parse_up_opts "$@"
	need_root "up"
	prepare
	lock
	load_state 2>/dev/null && [[ -n $(marked_pids) ]] &&
		die 1 "VM mode '$PREFIX' is already up (namespace $NS); 'vm/vm.sh down' first"
	do_down -q
	if [[ $OPT_ACCEL == auto ]]; then
		if kvm_usable; then ACCEL_USED=kvm; else ACCEL_USED=tcg; fi
	else
		ACCEL_USED=$OPT_ACCEL
	fi
	if ! do_up; then
		do_down -q
		exit 1
	fi
	print_up
}

print_up() {
	local g
	echo "vm $PREFIX: ${#GUESTS[@]} guest(s) up in $((BOOT_MS / 1000)).$(printf '%03d' $((BOOT_MS % 1000)))s" \
		"($ACCEL_USED, kernel $(<"$KERNEL_DIR/release")), host side: namespace $NS," \
		"bridge $BRIDGE $HOST_IP $HOST_IP6"
	for g in "${GUESTS[@]}"; do
		echo "  $g  ${G_IPV4[$g]}  ${G_IPV6[$g]}  ${G_MAC[$g]}  tap ${G_TAP[$g]}," \
			"${G_QUEUES[$g]} queue pairs, ${G_SMP[$g]} vCPUs, console ${G_CONSOLE[$g]}"
	done
}

OPT_GUESTS=1 OPT_QUEUES=4 OPT_SMP=2 OPT_MEM=1024 OPT_TIMEOUT=600 OPT_ACCEL=auto
OPT_RUN='' OPT_CMD='' OPT_BOOT_WAIT=${EP_VM_BOOT_WAIT:-120} OPT_COUNT=400
parse_up_opts() {
	while (($#)); do
		case $1 in
		-n | --guests) int_in "${2:-}" 1 $MAX_GUESTS || usage_die "$1: 1..$MAX_GUESTS"; OPT_GUESTS=$2; shift ;;
		--queues) int_in "${2:-}" 1 16 || usage_die "--queues: 1..16"; OPT_QUEUES=$2; shift ;;
		--smp) int_in "${2:-}" 1 16 || usage_die "--smp: 1..16"; OPT_SMP=$2; shift ;;
		--mem) int_in "${2:-}" 256 65536 || usage_die "--mem: 256..65536 (MiB)"; OPT_MEM=$2; shift ;;
		--timeout) int_in "${2:-}" 10 86400 || usage_die "--timeout: 10..86400 (s)"; OPT_TIMEOUT=$2; shift ;;
		--accel)
			case ${2:-} in auto | kvm | tcg) OPT_ACCEL=$2 ;; *) usage_die "--accel: auto, kvm or tcg" ;; esac
			shift
			;;
		--run)
			[[ ${2:-} =~ ^[a-z0-9_-]+$ && -f $GUEST_SRC/${2:-}.sh ]] ||
				usage_die "--run: no vm/qemu/${2:-}.sh"
			OPT_RUN=$2
			shift
			;;
		--cmd) (($# >= 2)) || usage_die "--cmd needs a command"; OPT_CMD=$2; shift ;;
		--count) [[ ${RUN_MODE:-} ]] || usage_die "--count is an option of 'run'"
			int_in "${2:-}" 1 1000000 || usage_die "--count: 1..1000000"; OPT_COUNT=$2; shift ;;
		*) usage_die "unknown argument '$1'" ;;
		esac
		shift
	done
}

# ---------------------------------------------------------------------------- exec

# guest_exec GUEST SECONDS CMD: run CMD in GUEST; its output to stdout; its status.
guest_exec() {
	local g=$1 secs=$2 cmd=$3 id w r line buf='' started=0 rc='' pre end
	qemu_pid "$g" >/dev/null || die 1 "guest $g is not running (console: ${G_CONSOLE[$g]})"
	exec {w}>>"$STATE/$g.lock"
	flock -w "$secs" "$w" || die 1 "guest $g: another exec holds its control line"
	printf -v id '%04x%04x%04x' $RANDOM $RANDOM $RANDOM
	exec {r}<>"$STATE/$g.ctl.out"
	# Whatever a command that timed out earlier printed is still in the pipe: skipped
	# until our own start marker.
	printf '%s %s\n' "$id" "$(printf '%s' "$cmd" | base64 -w0)" >"$STATE/$g.ctl.in"
	end=$((SECONDS + secs))
	while :; do
		if IFS= read -r -t 1 line <&"$r"; then
			line=$buf$line buf=
			case $line in
			"@@ep-start $id") started=1 ;;
			*"@@ep-done $id "*)
				pre=${line%%@@ep-done*}
				((started == 0)) || [[ -z $pre ]] || printf '%s\n' "$pre"
				rc=${line##* }
				break
				;;
			*) ((started == 0)) || printf '%s\n' "$line" ;;
			esac
		else
			buf+=$line
			if ((SECONDS >= end)); then
				err "guest $g: no answer within ${secs}s to: $cmd"
				rc=124
				break
			fi
			qemu_pid "$g" >/dev/null || { err "guest $g stopped during: $cmd"; rc=1; break; }
		fi
	done
	exec {r}<&- {w}>&-
	[[ $rc =~ ^[0-9]+$ ]] || rc=1
	return "$rc"
}

cmd_exec() {
	local secs=60 cmd
	if [[ ${1:-} == -t ]]; then
		int_in "${2:-}" 1 86400 || usage_die "exec -t: seconds, 1..86400"
		secs=$2
		shift 2
	fi
	(($# >= 2)) || usage_die "exec: usage: exec [-t S] GUEST CMD [ARGS...]"
	need_root "exec"
	need_state
	need_guest "$1"
	if (($# == 2)); then cmd=$2; else printf -v cmd '%q ' "${@:2}"; fi
	guest_exec "$1" "$secs" "$cmd"
}

cmd_host() {
	(($# >= 1)) || usage_die "host: usage: host CMD [ARGS...]"
	need_root "host"
	need_state
	[[ -e /run/netns/$NS ]] || die 1 "namespace $NS is missing"
	exec ip netns exec "$NS" "$@"
}

cmd_addr() {
	local who=${1:-} v6=${2:-}
	[[ -n $who && ( -z $v6 || $v6 == --6 ) ]] || usage_die "addr: usage: addr GUEST|host [--6]"
	need_state
	if [[ $who == host ]]; then
		[[ -n $v6 ]] && echo "$HOST_IP6" || echo "$HOST_IP"
		return
	fi
	need_guest "$who"
	[[ -n $v6 ]] && echo "${G_IPV6[$who]}" || echo "${G_IPV4[$who]}"
}

cmd_status() {
	local g p bad=0
	need_state
	echo "vm $PREFIX: namespace $NS$([[ -e /run/netns/$NS ]] || echo ' (missing)'), $ACCEL_USED," \
		"host side $HOST_IP $HOST_IP6 on $BRIDGE"
	for g in "${GUESTS[@]}"; do
		if p=$(qemu_pid "$g"); then p="qemu pid $p"; else p="not running"; bad=1; fi
		echo "  $g  ${G_IPV4[$g]}  ${G_IPV6[$g]}  ${G_MAC[$g]}  tap ${G_TAP[$g]}," \
			"${G_QUEUES[$g]} queue pairs, $p, console ${G_CONSOLE[$g]}"
	done
	[[ -e /run/netns/$NS ]] || bad=1
	return $bad
}

# ---------------------------------------------------------------------------- run

# The whole thing, for people: boot with the runtime, send tasks from the host side,
# show what the guests' classifier and runtime counted, remove it all.
cmd_run() {
	local g a to v rc=0 t0 ms images=$BUILD/data/images mode j pids=() per
	RUN_MODE=1 parse_up_opts "$@"
	[[ -n $OPT_RUN ]] || OPT_RUN=serve
	need_root "run"
	prepare
	[[ -x $BIN/edgeload ]] || die 1 "$BIN/edgeload is missing (run make first)"
	lock
	load_state 2>/dev/null && [[ -n $(marked_pids) ]] &&
		die 1 "VM mode '$PREFIX' is already up (namespace $NS); 'vm/vm.sh down' first"
	do_down -q
	trap 'do_down -q; rm -f -- "$LOCK_FILE"' EXIT
	if [[ $OPT_ACCEL == auto ]]; then
		if kvm_usable; then ACCEL_USED=kvm; else ACCEL_USED=tcg; fi
	else
		ACCEL_USED=$OPT_ACCEL
	fi
	do_up || exit 1
	print_up
	in_host() { ip netns exec "$NS" "$@"; }
	head -c 3000 /dev/urandom >"$STATE/payload.bin"
	for g in "${GUESTS[@]}"; do
		a=${G_IPV4[$g]}
		echo
		echo "== $g ($a)"
		if ! guest_exec "$g" 10 "grep -q 'ready:' /var/log/edgeplane.log"; then
			err "$g: the runtime did not start; its log:"
			guest_exec "$g" 10 "cat /var/log/edgeplane.log" >&2 || true
			rc=1
			continue
		fi
		guest_exec "$g" 10 "ethtool -l eth0 | awk '/^Combined/ { c[++n] = \$2 } END { print \"queue pairs: \" c[2] \" enabled of \" c[1] }';
			/usr/sbin/ip -d link show eth0 | grep -oE 'xdp(generic|offload)?|prog/xdp id [0-9]+' | head -2 | tr '\\n' ' '; echo;
			grep -E 'classifier on|afxdp:|ready:' /var/log/edgeplane.log"
		mode=$(guest_exec "$g" 10 "grep -oE 'in (native|skb) mode' /var/log/edgeplane.log") || true
		echo "-- tasks from the host side ($HOST_IP, namespace $NS) to $a"
		t0=$(now_ms)
		# The payload echoed over IPv4, then IPv6 (v=6), comes back unchanged.
		for to in "$a" "${G_IPV6[$g]}"; do
			v=
			[[ $to == *:* ]] && v=6
			if in_host "$BIN/edgeload" run --to "$to" --type echo --in "$STATE/payload.bin" \
				--out "$STATE/echo$v.out" && cmp -s "$STATE/payload.bin" "$STATE/echo$v.out"; then
				echo "   the 3000 bytes came back unchanged${v:+ (IPv6)}"
			else
				echo "echo${v:+ over IPv6}: FAILED"
				rc=1
			fi
		done
		in_host "$BIN/edgeload" run --to "$a" --type checksum --in "$STATE/payload.bin" || rc=1
		echo "   crc32 computed here: $(gzip -c "$STATE/payload.bin" | tail -c 8 | od -An -tx4 -N4 | tr -d ' ')"
		if [[ -s $images/camera.png ]]; then
			in_host "$BIN/edgeload" run --to "$a" --type sobel --in "$images/camera.png" \
				--out "$STATE/sobel.png" || rc=1
		else
			echo "sobel: no $images/camera.png (scripts/fetch-images.sh); not sent"
		fi
		# Four clients at once: four flows, which the tap spreads over the queues.
		per=$(((OPT_COUNT + 3) / 4))
		echo "-- 4 x $per checksum tasks of 1000 bytes, 8 outstanding per client"
		pids=()
		for j in 1 2 3 4; do
			in_host "$BIN/edgeload" load --to "$a" --type checksum --size 1000 --concurrency 8 \
				--count "$per" --json >"$STATE/load$j.json" 2>&1 &
			pids+=($!)
		done
		for j in "${pids[@]}"; do wait "$j" || rc=1; done
		for j in 1 2 3 4; do
			jq -r '.total | "   client: \(.sent) sent, \(.completed) completed, \(.failed) failed, \(.retries) retries, \(.tasks_per_s | floor) tasks/s, p50 \(.latency_us.p50) us, p99 \(.latency_us.p99) us"' \
				"$STATE/load$j.json" 2>/dev/null || { sed 's/^/   /' "$STATE/load$j.json"; rc=1; }
		done
		ms=$(($(now_ms) - t0))
		echo "   (${ms} ms for all the tasks)"
		echo "-- the classifier's counters in $g (edgeplane-xdp stats; on its console too)"
		guest_exec "$g" 30 "edgeplane-xdp stats --dev eth0 | awk 'NR == 1 || \$2 != 0'" || rc=1
		echo "-- the runtime's workers in $g (edgeplane stats)"
		guest_exec "$g" 30 "edgeplane stats --socket /run/edgeplane/runtime/stats.sock | sed -n '1,/^\$/p'" || rc=1
		echo "$g: XDP ${mode:-mode unknown} on virtio_net"
	done
	echo
	echo "console logs: ${G_CONSOLE[*]}"
	exit $rc
}

# ---------------------------------------------------------------------------- main

main() {
	local prefix=${EP_VM_PREFIX:-epvm} cmd
	OPT_LOG=
	while (($#)); do
		case $1 in
		--prefix) (($# >= 2)) || usage_die "--prefix needs a value"; prefix=$2; shift ;;
		--prefix=*) prefix=${1#*=} ;;
		--log-dir) (($# >= 2)) || usage_die "--log-dir needs a value"; OPT_LOG=$2; shift ;;
		--log-dir=*) OPT_LOG=${1#*=} ;;
		-h | --help) usage; exit 0 ;;
		-*) usage_die "unknown option '$1'" ;;
		*) break ;;
		esac
		shift
	done
	(($#)) || usage_die "no command given"
	cmd=$1
	shift
	set_prefix "$prefix"
	case $cmd in
	check)
		if can_run "$@"; then echo ok; else echo "skipped: $REPLY"; exit $SKIP; fi
		;;
	fetch) "$EP_ROOT/scripts/fetch-kernel.sh" "$VM_DIR" ;;
	image) have_kernel || "$EP_ROOT/scripts/fetch-kernel.sh" "$VM_DIR"; build_image ;;
	up) cmd_up "$@" ;;
	down) cmd_down "$@" ;;
	exec) cmd_exec "$@" ;;
	host) cmd_host "$@" ;;
	addr) cmd_addr "$@" ;;
	ns) need_state; echo "$NS" ;;
	console) need_state; need_guest "${1:-}"; echo "${G_CONSOLE[$1]}" ;;
	status) cmd_status "$@" ;;
	run) cmd_run "$@" ;;
	help) usage ;;
	*) usage_die "unknown command '$cmd'" ;;
	esac
}

main "$@"
