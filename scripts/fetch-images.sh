#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Fetch the test photographs Debian ships in python3-skimage, without installing Python:
# download the package with apt, unpack it with dpkg-deb, copy the PNG files. Idempotent:
# does nothing when every file is already there.
#
#   scripts/fetch-images.sh [OUTDIR]     default: build/data/images
set -euo pipefail

IMAGES=(camera coins astronaut moon page text horse palette_color)
PKG=python3-skimage
SRC=./usr/lib/python3/dist-packages/skimage/data

out=${1:-build/data/images}

have_all() {
	local i
	for i in "${IMAGES[@]}"; do
		[[ -s $out/$i.png ]] || return 1
	done
}

have_all && exit 0

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# apt downloads as the unprivileged _apt user; let it write here (as root, apt would
# otherwise fall back to an unsandboxed download and warn).
[[ $(id -u) -eq 0 ]] && chown _apt "$tmp" 2>/dev/null || true

download() {
	(cd "$tmp" && apt-get download -q "$PKG") >"$tmp/apt.log" 2>&1
}

# A fresh machine may have no package lists yet; refresh them once if we may.
if ! download && ! { [[ $(id -u) -eq 0 ]] && apt-get update -qq >/dev/null 2>&1 && download; }; then
	echo "fetch-images.sh: 'apt-get download $PKG' failed:" >&2
	sed 's/^/  /' "$tmp/apt.log" >&2
	exit 1
fi

deb=$(echo "$tmp"/"$PKG"_*.deb)
members=()
for i in "${IMAGES[@]}"; do
	members+=("$SRC/$i.png")
done
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" "${members[@]}"

mkdir -p "$out"
for i in "${IMAGES[@]}"; do
	cp "$tmp/$SRC/$i.png" "$out/$i.png.tmp"
	mv "$out/$i.png.tmp" "$out/$i.png"
done
echo "fetch-images.sh: ${#IMAGES[@]} images from $PKG in $out"
