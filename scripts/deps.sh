#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Install every Debian package edgeplane needs. Idempotent: it runs apt-get only when a
# package is missing, and then runs `apt-get update` once.
#
#   scripts/deps.sh           install what is missing
#   scripts/deps.sh --check   exit 1 (and list them) if anything is missing; install nothing
set -euo pipefail

PKGS=(
	# toolchain
	build-essential clang llvm pkg-config linux-libc-dev
	# fuzz targets: clang's libFuzzer and sanitizer runtimes (tests/fuzz/), llvm-cov
	libclang-rt-14-dev llvm-14
	# BPF / XDP
	libbpf-dev libxdp-dev xdp-tools bpftool iproute2 libelf-dev zlib1g-dev
	# runtime and client libraries
	libzstd-dev zstd liburing-dev libpng-dev libssl-dev libconfig-dev libmicrohttpd-dev libjansson-dev
	# the controller: neighbour lookups for load reports (rtnetlink)
	libmnl-dev
	# the controller's shared cluster state (issue 16): an etcd v3 client over etcd's JSON
	# gateway with libcurl (+ jansson above); etcd itself for the tests' 3-member clusters
	libcurl4-openssl-dev etcd-server etcd-client
	# built-in task handlers (checksum, matmul)
	libxxhash-dev libblis-serial-dev
	# DPDK backend
	dpdk-dev libdpdk-dev
	# readiness notification of the daemons under systemd (sd_notify)
	libsystemd-dev
	# Debian packages (make deb) and their checks (tests/integration/test_deb.sh)
	debhelper dpkg-dev fakeroot lintian mmdebstrap
	# tests, rig, reports
	ethtool tcpdump procps iputils-ping jq python3 gnuplot-nox prometheus curl qemu-system-x86
)

missing=()
for p in "${PKGS[@]}"; do
	[[ $p == \#* ]] && continue
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
	exit 0
fi
if [[ ${1:-} == --check ]]; then
	echo "missing packages: ${missing[*]}" >&2
	exit 1
fi
if [[ $(id -u) -ne 0 ]]; then
	echo "deps.sh: must run as root to install: ${missing[*]}" >&2
	exit 1
fi

echo "deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# On a systemd host, installing etcd-server enables and starts a single-member etcd on
# 127.0.0.1:2379 with its data in /var/lib/etcd. edgeplane's tests run their own members in
# namespaces of their own and a deployment configures its own cluster, so a stray default
# member would only hold a port and disk; stop and disable the one we just installed.
if [[ " ${missing[*]} " == *" etcd-server "* ]] && [[ -d /run/systemd/system ]]; then
	systemctl disable --now etcd.service >/dev/null 2>&1 || true
fi
echo "deps.sh: done"
