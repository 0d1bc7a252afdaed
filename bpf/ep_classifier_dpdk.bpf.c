// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * ep_classifier_dpdk - the classifier (ep_classifier.bpf.c, the one source of its logic)
 * built for DPDK's net_af_xdp PMD, which loads it from this object file (its xdp_prog=
 * argument) and fills an XSKMAP named xsks_map, keyed by RX queue. The runtime's dpdk
 * backend finds ep_cfg through the attached program's maps and configures it like the
 * afxdp backend does. The program keeps its name, ep_classify.
 */
#define EP_XSKMAP_DPDK 1
#include "ep_classifier.bpf.c"
