#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Fetch what the rig's VM mode (vm/vm.sh, docs/rig.md) boots, without installing it on
# this machine: Debian's cloud kernel (vmlinuz and its modules) and a static busybox.
# Download the packages with apt, unpack them with dpkg-deb, index the modules with
# busybox's depmod. Installing a kernel package would change the host's boot; this only
# writes under OUTDIR. Idempotent: does nothing when everything is already there.
#
#   scripts/fetch-kernel.sh [OUTDIR]     default: build/vm
#
# Result:  OUTDIR/kernel/vmlinuz, OUTDIR/kernel/release (the `uname -r` of the kernel),
#          OUTDIR/kernel/package (name and version), OUTDIR/kernel/lib/modules/RELEASE/...
#          with modules.dep, and OUTDIR/busybox.
# Another kernel flavour: EP_VM_KERNEL_PKG=linux-image-amd64 scripts/fetch-kernel.sh
# (the metapackage; its linux-image-<release> dependency is what is fetched).
set -euo pipefail

META=${EP_VM_KERNEL_PKG:-linux-image-cloud-amd64}
BUSYBOX_PKG=busybox-static

out=${1:-build/vm}
kdir=$out/kernel

have_all() {
	[[ -s $kdir/vmlinuz && -s $kdir/release && -x $out/busybox ]] &&
		[[ -s $kdir/lib/modules/$(<"$kdir/release")/modules.dep ]]
}

have_all && exit 0

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# apt downloads as the unprivileged _apt user; let it write here (as root, apt would
# otherwise fall back to an unsandboxed download and warn).
[[ $(id -u) -eq 0 ]] && chown _apt "$tmp" 2>/dev/null || true

# The metapackage only depends on the real one, linux-image-<release>-<flavour>.
resolve() {
	{ apt-cache depends "$META" 2>/dev/null || true; } |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }'
}

download() {
	(cd "$tmp" && apt-get download -q "$@") >"$tmp/apt.log" 2>&1
}

# A fresh machine may have no package lists yet; refresh them once if we may.
refresh() { [[ $(id -u) -eq 0 ]] && apt-get update -qq >/dev/null 2>&1; }

pkg=$(resolve)
if [[ -z $pkg ]] && refresh; then
	pkg=$(resolve)
fi
if [[ -z $pkg ]]; then
	echo "fetch-kernel.sh: no linux-image-<release> dependency of '$META' in the package lists" >&2
	exit 1
fi
if ! download "$pkg" "$BUSYBOX_PKG" && ! { refresh && download "$pkg" "$BUSYBOX_PKG"; }; then
	echo "fetch-kernel.sh: 'apt-get download $pkg $BUSYBOX_PKG' failed:" >&2
	sed 's/^/  /' "$tmp/apt.log" >&2
	exit 1
fi

kdeb=$(echo "$tmp"/"$pkg"_*.deb)
bdeb=$(echo "$tmp"/"$BUSYBOX_PKG"_*.deb)
mkdir -p "$tmp/k" "$tmp/b"
dpkg-deb -x "$kdeb" "$tmp/k"
dpkg-deb -x "$bdeb" "$tmp/b"

vmlinuz=$(echo "$tmp"/k/boot/vmlinuz-*)
release=${vmlinuz##*/vmlinuz-}
if [[ ! -f $vmlinuz || ! -d $tmp/k/lib/modules/$release ]]; then
	echo "fetch-kernel.sh: $pkg has no boot/vmlinuz-* with its lib/modules directory" >&2
	exit 1
fi
# Debian generates modules.dep at install time (depmod in the postinst); do it here.
"$tmp/b/bin/busybox" depmod -b "$tmp/k" "$release"

# Replace what was there in one step per piece, so a cut-short run leaves no mix.
rm -rf "$kdir.tmp"
mkdir -p "$kdir.tmp/lib/modules"
mv "$vmlinuz" "$kdir.tmp/vmlinuz"
cp "$tmp/k/boot/config-$release" "$kdir.tmp/config"
mv "$tmp/k/lib/modules/$release" "$kdir.tmp/lib/modules/"
echo "$release" >"$kdir.tmp/release"
dpkg-deb -f "$kdeb" Package Version | awk '{ printf "%s%s", (NR > 1 ? " " : ""), $2 } END { print "" }' \
	>"$kdir.tmp/package"
rm -rf "$kdir"
mv "$kdir.tmp" "$kdir"
cp "$tmp/b/bin/busybox" "$out/busybox.tmp"
mv "$out/busybox.tmp" "$out/busybox"
echo "fetch-kernel.sh: $(<"$kdir/package") ($release) and $BUSYBOX_PKG in $out"
