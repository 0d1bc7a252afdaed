/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * pin.h - which maps outlive the process that loads them.
 *
 * A map declared with __uint(pinning, EP_PINNING) is pinned by name (LIBBPF_PIN_BY_NAME)
 * under the pin_root_path its loader gives libbpf (bpf_object_open_opts: edgeplane's
 * loaders give the interface's pin directory, dataplane/xdp/ep_xdp.h) and reused from
 * there by the next load; the other maps are the load's own. That list lives here, in the
 * map definitions, and nowhere else.
 *
 * The skeletons edgeplane's loaders embed are built with EP_PIN_MAPS (bpf/bpf.mk). The
 * objects in build/bpf/ are for loaders with no pin root of ours (bpftool prog loadall
 * ... pinmaps, ip link set ... xdp obj, DPDK's PMD) and pin nothing, as before: libbpf
 * would pin their maps under /sys/fs/bpf, shared by every interface, iproute2 under
 * /sys/fs/bpf/xdp/globals, and bpftool's pinmaps refuses a map that has a pin path.
 */
#ifndef EP_BPF_PIN_H
#define EP_BPF_PIN_H

#include <bpf/bpf_helpers.h>

#ifdef EP_PIN_MAPS
#define EP_PINNING LIBBPF_PIN_BY_NAME
#else
#define EP_PINNING LIBBPF_PIN_NONE
#endif

#endif /* EP_BPF_PIN_H */
