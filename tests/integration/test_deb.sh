#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The Debian packages (issue 17): `make deb` builds them, lintian finds no error,
# systemd-analyze accepts their units; dpkg --root installs them into a scratch root
# where every file lands where policy says; the installed runtime answers edgeload's
# tasks in the test's namespaces, tells systemd (a stand-in notify socket) READY=1 and
# STOPPING=1, and leaves no XDP or pins when it stops; the installed controller takes
# the runtime's registration; a purge leaves nothing of them behind.
#
# The scratch root is not a system: dpkg --root installs with --force-depends (the
# libraries come from the host) and runs the maintainer scripts outside a chroot with
# DPKG_ROOT set (--force-script-chrootless). Then the same in a fresh Debian root made by
# mmdebstrap, where apt installs their dependencies (if the mirror can be reached).
source "$(dirname "$0")/../lib/lib.sh"
need_root "dpkg --root, network namespaces, XDP"

for t in dpkg-buildpackage dh lintian systemd-analyze python3; do
	if ! command -v $t >/dev/null; then
		skip "Debian packages" "$t is not installed (scripts/deps.sh installs it)"
		tap_done
		exit 0
	fi
done

DEB=$BUILD/deb
VER=$(dpkg-parsechangelog -l "$EP_ROOT/debian/changelog" -S Version)
ARCH=$(dpkg --print-architecture)
MA=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
PKGS=(libedgeplane1 libedgeplane-dev edgeplane edgeplane-control)
debs=()
for p in "${PKGS[@]}"; do debs+=("$DEB/${p}_${VER}_$ARCH.deb"); done

# --- build and lint ----------------------------------------------------------------------
rm -f "${debs[@]}"
if make -C "$EP_ROOT" BUILD="$BUILD" deb >"$EP_TMP/deb.log" 2>&1 && ls "${debs[@]}" >/dev/null; then
	ok "make deb builds ${PKGS[*]} into build/deb"
else
	ep_bail "make deb builds ${PKGS[*]} into build/deb" "$EP_TMP/deb.log"
fi
lintian "$DEB/edgeplane.changes" >"$EP_TMP/lintian.log" 2>&1
expect_eq "lintian: no errors" "$(grep -c '^E:' "$EP_TMP/lintian.log")" 0
grep -E '^(E|W):' "$EP_TMP/lintian.log" | while read -r l; do diag "lintian $l"; done

# --- install into a scratch root ---------------------------------------------------------
R=$EP_TMP/root
mkdir -p "$R/var/lib/dpkg/info" "$R/var/lib/dpkg/updates"
touch "$R/var/lib/dpkg/status" "$R/var/lib/dpkg/available"
rdpkg() { dpkg --root="$R" --force-depends --force-script-chrootless --log=/dev/null "$@"; }
# files ROOT: every file and link under ROOT but dpkg's database, sorted.
files() { (cd "$1" && find . -path ./var/lib/dpkg -prune -o ! -type d -print | sort); }

if rdpkg -i "${debs[@]}" >"$EP_TMP/install.log" 2>&1; then
	ok "dpkg --root installs the four packages"
else
	ep_bail "dpkg --root installs the four packages" "$EP_TMP/install.log"
fi
expect_eq "every installed file is where policy says, and no other" "$(files "$R")" \
	"$(sort <<EOF
./etc/edgeplane/edgectl.conf.example
./etc/edgeplane/runtime.conf.example
./lib/systemd/system/edgectl.service
./lib/systemd/system/edgeplane@.service
./usr/bin/edgectl
./usr/bin/edgeload
./usr/bin/edgeplane
./usr/bin/edgeplane-xdp
./usr/include/edgeplane/client.h
./usr/include/edgeplane/handler.h
./usr/include/edgeplane/offload.h
./usr/include/edgeplane/payload.h
./usr/include/edgeplane/status.h
./usr/lib/edgeplane/ep_classifier_dpdk.bpf.o
./usr/lib/$MA/libedgeplane.so
./usr/lib/$MA/libedgeplane.so.1
./usr/lib/$MA/libedgeplane.so.1.0.0
./usr/lib/$MA/pkgconfig/edgeplane.pc
./usr/share/doc/edgeplane-control/changelog.gz
./usr/share/doc/edgeplane-control/copyright
./usr/share/doc/edgeplane/changelog.gz
./usr/share/doc/edgeplane/copyright
./usr/share/doc/edgeplane/examples/edgeplane-alerts.test.yml
./usr/share/doc/edgeplane/examples/edgeplane-alerts.yml
./usr/share/doc/edgeplane/examples/edgeplane.json
./usr/share/doc/libedgeplane-dev/changelog.gz
./usr/share/doc/libedgeplane-dev/copyright
./usr/share/doc/libedgeplane1/changelog.gz
./usr/share/doc/libedgeplane1/copyright
./usr/share/lintian/overrides/edgeplane
./usr/share/man/man1/edgeload.1.gz
./usr/share/man/man3/libedgeplane.3.gz
./usr/share/man/man8/edgectl.8.gz
./usr/share/man/man8/edgeplane-xdp.8.gz
./usr/share/man/man8/edgeplane.8.gz
./var/lib/systemd/deb-systemd-helper-enabled/edgectl.service.dsh-also
EOF
)"
check "the state directory /var/lib/edgeplane is the runtime package's" test -d "$R/var/lib/edgeplane"
expect_eq "the example configurations are conffiles" \
	"$(dpkg-query --admindir="$R/var/lib/dpkg" -W -f='${Conffiles}\n' edgeplane edgeplane-control |
		awk '{print $1}' | sort | tr '\n' ' ')" \
	"/etc/edgeplane/edgectl.conf.example /etc/edgeplane/runtime.conf.example "
expect_eq "pkg-config: libedgeplane's flags from the multiarch directory" \
	"$(PKG_CONFIG_SYSROOT_DIR=$R PKG_CONFIG_LIBDIR=$R/usr/lib/$MA/pkgconfig \
		pkg-config --libs --cflags edgeplane | xargs)" "-I$R/usr/include -L$R/usr/lib/$MA -ledgeplane"

# systemd-analyze verify reads the units in a root holding the host's units (the targets
# they name) and the installed programs (it checks ExecStart=); it warns and still exits
# 0 on a bad setting, so any output fails.
V=$EP_TMP/verify
mkdir -p "$V/lib/systemd" "$V/usr"
cp -r /lib/systemd/system "$V/lib/systemd/"
cp "$R"/lib/systemd/system/*.service "$V/lib/systemd/system/"
cp -r "$R/usr/bin" "$V/usr/"
out=$(cd "$V" && systemd-analyze verify --root="$V" --man=no edgeplane@eth0.service \
	edgectl.service 2>&1)
expect_eq "systemd-analyze verify accepts edgeplane@eth0.service and edgectl.service" \
	"$?:$out" "0:"
for u in edgeplane@eth0.service edgectl.service; do
	diag "$(systemd-analyze security --offline=true --root="$V" "$u" 2>&1 | grep 'Overall exposure')"
done

# --- run the installed programs ----------------------------------------------------------
ep_setup_or_bail
export LD_LIBRARY_PATH=$R/usr/lib/$MA
IBIN=$R/usr/bin

# A stand-in for systemd's notify socket: each datagram a line of NOTIFY_LOG.
# notify_listen SOCK LOG: listen on SOCK in the background.
notify_listen() {
	python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as f:
    while True:
        f.write(s.recv(4096).decode().replace("\n", " ").strip() + "\n")
' "$1" "$2" &
	for _ in $(seq 50); do [[ -S $1 ]] && return 0; sleep 0.05; done
	return 1
}
notify_listen "$EP_TMP/notify.sock" "$EP_TMP/notify.log" || ep_bail "a notify socket"

# The runtime from its example configuration, as edgeplane@IF_B.service would run it.
NOTIFY_SOCKET=$EP_TMP/notify.sock ip netns exec "$NS_B" "$IBIN/edgeplane" \
	-c "$R/etc/edgeplane/runtime.conf.example" \
	-i "$IF_B" --stats-socket "$EP_TMP/stats.sock" --ready-file "$EP_TMP/ready" \
	--controller "$ADDR_A:7879" --node-id 1 >"$EP_TMP/rt.log" 2>&1 &
RT_PID=$!
on_exit ep_stop_runtime
if ep_await_ready "$RT_PID" 200 test -s "$EP_TMP/ready"; then
	ok "the installed runtime starts from the example configuration on $IF_B"
else
	RT_PID=
	ep_bail "the installed runtime starts from the example configuration on $IF_B" "$EP_TMP/rt.log"
fi
wait_for_line "$EP_TMP/notify.log" 'READY=1' 5
expect_eq "it tells systemd READY=1 once ready" "$(grep -c '^READY=1$' "$EP_TMP/notify.log")" 1

head -c 3000 /dev/urandom >"$EP_TMP/in.bin"
expect_echo "a task round trip: the installed edgeload, the installed runtime (echo)" \
	"$EP_TMP/in.bin" in_a env LD_LIBRARY_PATH="$LD_LIBRARY_PATH" "$IBIN/edgeload" run --to $ADDR_B
check "the classifier is attached to $IF_B, its maps pinned" \
	test -d "$EP_BPFFS/edgeplane/$IF_B" -a -n "$(ip -n "$NS_B" link show "$IF_B" | grep xdp)"

# The installed controller, as edgectl.service would run it (its example configuration,
# on IF_A, detaching at stop): it takes the runtime's load reports.
cat >"$EP_TMP/ctl.conf" <<EOF
gateway: { interface = "$IF_A"; keep_attached = false; relay_replies = false; };
control: { listen = "$ADDR_A:7879"; socket = "$EP_TMP/ctl/edgectl.sock"; allow_register = true; };
$EP_AUTH_OFF
EOF
: >"$EP_TMP/notify.log"
NOTIFY_SOCKET=$EP_TMP/notify.sock ip netns exec "$NS_A" "$IBIN/edgectl" serve \
	--config "$EP_TMP/ctl.conf" >"$EP_TMP/ctl.log" 2>&1 &
CTL_PID=$!
_stop_ctl() { [[ -n ${CTL_PID:-} ]] && kill -TERM "$CTL_PID" && wait "$CTL_PID"; }
on_exit _stop_ctl
if wait_for_line "$EP_TMP/notify.log" 'READY=1' 10; then
	ok "the installed controller tells systemd READY=1 once the gateway is attached"
else
	not_ok "the installed controller tells systemd READY=1 once the gateway is attached"
	diag "$(tail -5 "$EP_TMP/ctl.log")"
fi
ctl() { "$IBIN/edgectl" --socket "$EP_TMP/ctl/edgectl.sock" "$@"; }
for _ in $(seq 40); do
	[[ $(ctl node list --json 2>/dev/null | jq -r '.[0].id' 2>/dev/null) == 1 ]] && break
	sleep 0.1
done
expect_eq "the installed controller registers the installed runtime (node 1) from its reports" \
	"$(ctl node list --json 2>&1 | jq -r '[.[].id] | join(",")' 2>&1)" 1
kill -TERM "$CTL_PID"
wait "$CTL_PID"
rc=$?
CTL_PID=
expect_eq "the controller stops on SIGTERM (status 0), STOPPING=1 told" \
	"$rc:$(grep -c '^STOPPING=1$' "$EP_TMP/notify.log")" "0:1"
check "the gateway is off $IF_A and its pins are gone (keep_attached = false)" \
	eval "no_xdp $NS_A $IF_A && ! test -e $EP_BPFFS/edgeplane/gw-$IF_A"

: >"$EP_TMP/notify.log"
ep_stop_runtime
expect_eq "the runtime stops on SIGTERM (status 0), STOPPING=1 told" \
	"$?:$(grep -c '^STOPPING=1$' "$EP_TMP/notify.log")" "0:1"
check "the runtime's classifier is off $IF_B and its pins are gone" \
	eval "no_xdp $NS_B $IF_B && ! test -e $EP_BPFFS/edgeplane/$IF_B"

# --- a fresh Debian root: mmdebstrap and apt ---------------------------------------------
# The packages into a minimal bookworm (variant apt) made by mmdebstrap from the host's
# mirror, apt resolving their dependencies from their Depends alone; the runtime runs
# there (chrooted, in the test's namespaces) and answers a task from that root's
# edgeload; apt's purge leaves none of their files. Skipped when mmdebstrap is missing or
# the mirror cannot be reached.
M=$EP_TMP/mmroot
mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null)
suite=$(. /etc/os-release && echo "$VERSION_CODENAME")
if ! command -v mmdebstrap >/dev/null; then
	skip "a fresh Debian root (mmdebstrap)" "mmdebstrap is not installed"
elif mmdebstrap --variant=apt --mode=root --customize-hook="copy-in ${debs[*]} /tmp" \
	--customize-hook='chroot "$1" sh -c "apt-get install -y -q /tmp/*.deb && rm /tmp/*.deb"' \
	"$suite" "$M" ${mirror:+"$mirror"} >"$EP_TMP/mmdebstrap.log" 2>&1; then
	ok "mmdebstrap: a fresh $suite root, the four packages installed by apt with their dependencies"
	expect_eq "every program in it finds its libraries" \
		"$(chroot "$M" sh -c 'ldd /usr/bin/edgeplane /usr/bin/edgectl /usr/bin/edgeload \
			/usr/bin/edgeplane-xdp /usr/lib/*/libedgeplane.so.1' | grep -c 'not found')" 0
	head -c 1500 /dev/urandom >"$M/tmp/in.bin"
	# In the namespace's own mount namespace (ip netns exec): its /sys, /proc and the
	# test's bpffs bound into the root, gone with the process.
	ip netns exec "$NS_B" sh -c 'b=$1 && shift && mount --bind /sys "$0/sys" &&
		mount --bind /proc "$0/proc" && mount --bind "$b" "$0/sys/fs/bpf" &&
		exec chroot "$0" "$@"' "$M" "$EP_BPFFS" \
		env LIBXDP_BPFFS=/sys/fs/bpf /usr/bin/edgeplane \
		-c /etc/edgeplane/runtime.conf.example -i "$IF_B" --stats-socket /run/edgeplane/rt/stats.sock \
		--ready-file /tmp/ready >"$EP_TMP/mmrt.log" 2>&1 &
	RT_PID=$!
	if ep_await_ready "$RT_PID" 200 test -s "$M/tmp/ready"; then
		if in_a chroot "$M" edgeload run --to $ADDR_B --type echo --in /tmp/in.bin \
			--out /tmp/out.bin >"$EP_TMP/mmload.log" 2>&1 && cmp -s "$M/tmp/in.bin" "$M/tmp/out.bin"; then
			ok "the runtime of the fresh root answers its edgeload (echo)"
		else
			not_ok "the runtime of the fresh root answers its edgeload (echo)"
			diag "$(tail -3 "$EP_TMP/mmload.log")"
		fi
		ep_stop_runtime
	else
		RT_PID=
		not_ok "the runtime of the fresh root answers its edgeload (echo)"
		diag "$(tail -3 "$EP_TMP/mmrt.log")"
	fi
	owned=$(chroot "$M" dpkg -L "${PKGS[@]}" | sort -u)
	chroot "$M" apt-get purge -y -q "${PKGS[@]}" >"$EP_TMP/mmpurge.log" 2>&1
	left=$(while read -r f; do [[ -e $M$f && ! -d $M$f ]] && echo "$f"; done <<<"$owned")
	expect_eq "apt-get purge there leaves none of their files" "$left" ""
elif grep -qiE 'Temporary failure|Could not resolve|Failed to fetch|Unable to connect' \
	"$EP_TMP/mmdebstrap.log"; then
	skip "a fresh Debian root (mmdebstrap)" "the mirror cannot be reached: $(grep -m1 -iE 'fail|unable' "$EP_TMP/mmdebstrap.log")"
else
	not_ok "mmdebstrap: a fresh $suite root, the four packages installed by apt with their dependencies"
	diag "$(grep -E '^E:|error' "$EP_TMP/mmdebstrap.log" | tail -5)"
fi

# --- purge -------------------------------------------------------------------------------
# What the daemons would have left: state, pins (the scratch root's own sys/fs/bpf) and
# interface locks; the purge removes them.
mkdir -p "$R/var/lib/edgeplane/eth0" "$R/var/lib/edgeplane/edgectl" \
	"$R/sys/fs/bpf/edgeplane/eth0" "$R/sys/fs/bpf/edgeplane/gw-eth1" "$R/run/edgeplane"
touch "$R/var/lib/edgeplane/eth0/state" "$R/var/lib/edgeplane/edgectl/state" \
	"$R/sys/fs/bpf/edgeplane/eth0/ep_stats" "$R/sys/fs/bpf/edgeplane/gw-eth1/ep_gw_cfg" \
	"$R/run/edgeplane/xdp-1-2.lock" "$R/run/edgeplane/gw-1-3.lock"
if rdpkg --purge "${PKGS[@]}" >"$EP_TMP/purge.log" 2>&1; then
	ok "dpkg --root --purge removes the four packages"
else
	not_ok "dpkg --root --purge removes the four packages"
	diag "$(tail -5 "$EP_TMP/purge.log")"
fi
expect_eq "the purge leaves no file behind" "$(files "$R")" ""
expect_eq "nor a directory of edgeplane's" \
	"$(cd "$R" && find . -path ./var/lib/dpkg -prune -o -name '*edgeplane*' -print)" ""
expect_eq "dpkg knows none of the packages any more" \
	"$(dpkg-query --admindir="$R/var/lib/dpkg" -W "${PKGS[@]}" 2>/dev/null)" ""

tap_done
