// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "edgeplane/codec.h"
#include "edgeplane/log.h"
#include "edgeplane/util.h"
#include "ep_gateway.skel.h"
#include "xdp/ep_xdp.h"
#include "probe.h"

static uint16_t ip_csum(const void *p, size_t len)
{
	const uint16_t *w = p;
	uint32_t sum = 0;

	for (size_t i = 0; i < len / 2; i++)
		sum += w[i];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* An IPv4 task from a random client in 198.18.128.0/17 to the gateway's port. */
static size_t build(uint8_t *buf, size_t len, uint16_t port, const struct ep_probe_opts *o,
		    uint64_t *rnd)
{
	struct ethhdr *eth = (void *)buf;
	struct iphdr *ip = (void *)(eth + 1);
	struct udphdr *udp = (void *)(ip + 1);
	uint8_t payload[16] = { 0 };
	struct ep_msg m = {
		.kind = EP_KIND_REQUEST,
		.priority = o->prio,
		.task_type = 1,
		.size_hint_kib = o->size_hint_kib,
		.deadline_ms = 1000,
	};
	uint64_t r1 = ep_mix64(++*rnd), r2 = ep_mix64(++*rnd);
	ssize_t n;

	m.task_id = r1;
	n = ep_frag_build(&m, payload, sizeof(payload), 1400, 0, udp + 1,
			  len - sizeof(*eth) - sizeof(*ip) - sizeof(*udp));
	if (n < 0)
		return 0;
	memset(eth->h_dest, 0x02, ETH_ALEN);
	memset(eth->h_source, 0x02, ETH_ALEN);
	eth->h_source[5] = 1;
	eth->h_proto = htons(ETH_P_IP);
	*ip = (struct iphdr){
		.version = 4,
		.ihl = 5,
		.ttl = 64,
		.protocol = IPPROTO_UDP,
		.tot_len = htons((uint16_t)(sizeof(*ip) + sizeof(*udp) + n)),
		.saddr = htonl(0xc6128000u | (uint32_t)(r2 & 0x7fff)), /* 198.18.128.0/17 */
		.daddr = htonl(0xc6120001u),
	};
	ip->check = ip_csum(ip, sizeof(*ip));
	*udp = (struct udphdr){
		.source = htons((uint16_t)(1024 + (r2 >> 32) % 60000)),
		.dest = htons(port),
		.len = htons((uint16_t)(sizeof(*udp) + n)),
	};
	return sizeof(*eth) + sizeof(*ip) + sizeof(*udp) + (size_t)n;
}

static __u32 probe_keys[EP_GW_MAX_NODES];

/* The live sent counts into the probe instance's ep_gw_sent: one batch update where the
 * kernel has it (8191 ids), else one update each. */
static void copy_sent(int fd, const uint64_t *sent)
{
	__u32 count = EP_GW_MAX_NODES;

	for (__u32 id = 0; id < EP_GW_MAX_NODES; id++)
		probe_keys[id] = id;
	if (!bpf_map_update_batch(fd, probe_keys, sent, &count, NULL))
		return;
	for (__u32 id = 0; id < EP_GW_MAX_NODES; id++)
		bpf_map_update_elem(fd, &id, &sent[id], 0);
}

/* r->tasks[id]: the probe's tasks per node, summed over CPUs, from its ep_gw_node_stats
 * (@v: room for one entry's @ncpu values). Batched where the kernel can. */
static void tasks_by_node(int fd, int ncpu, struct ep_gw_node_stats *v, struct ep_probe_result *r)
{
	struct ep_gw_node_stats *all = calloc((size_t)ncpu * EP_GW_MAX_NODES, sizeof(*all));
	__u32 out = 0, count = EP_GW_MAX_NODES;
	int err = all ? bpf_map_lookup_batch(fd, NULL, &out, probe_keys, all, &count, NULL) : -1;

	if ((!err || errno == ENOENT) && all && count == EP_GW_MAX_NODES) {
		for (__u32 id = 0; id < EP_GW_MAX_NODES; id++)
			for (int c = 0; c < ncpu; c++)
				r->tasks[id] += all[(size_t)id * ncpu + c].tasks;
		free(all);
		return;
	}
	free(all);
	for (__u32 id = 0; id < EP_GW_MAX_NODES; id++)
		if (!bpf_map_lookup_elem(fd, &id, v))
			for (int c = 0; c < ncpu; c++)
				r->tasks[id] += v[c].tasks;
}

int ep_probe(struct ep_gw *gw, const struct ep_probe_opts *o, struct ep_probe_result *r)
{
	struct ep_gateway *skel;
	struct ep_gw_cfg cfg;
	uint64_t sent[EP_GW_MAX_NODES], rnd = o->seed;
	/* 2 bytes ahead of the frame put its IP header on a 4-byte boundary behind Ethernet's
	 * 14 bytes (as the kernel's NET_IP_ALIGN does): build() writes it as a struct iphdr. */
	_Alignas(8) uint8_t frame_buf[2 + 512];
	uint8_t *frame = frame_buf + 2, out[1024];
	int err, ncpu, prog_fd;

	memset(r, 0, sizeof(*r));
	err = ep_gw_read_cfg(gw, &cfg);
	if (!err)
		err = ep_gw_read_sent(gw, sent);
	if (err)
		return err;
	skel = ep_gateway__open();
	if (!skel)
		return -errno;
	/* The live configuration, nodes and table; everything else private, pinned nowhere. */
	ep_bpf_no_pins(skel->obj);
	if ((err = bpf_map__reuse_fd(skel->maps.ep_gw_cfg, ep_gw_map_fd(gw, EP_GW_PIN_CFG))) ||
	    (err = bpf_map__reuse_fd(skel->maps.ep_gw_nodes, ep_gw_map_fd(gw, EP_GW_PIN_NODES))) ||
	    (err = bpf_map__reuse_fd(skel->maps.ep_gw_table, ep_gw_map_fd(gw, EP_GW_PIN_TABLE))) ||
	    (err = ep_gateway__load(skel))) {
		pr_err("load a probe instance of the gateway: %s", strerror(-err));
		goto out;
	}
	copy_sent(bpf_map__fd(skel->maps.ep_gw_sent), sent);
	/* Where tasks would go, not whether a flood of them would pass: no rate limit. */
	bpf_map_update_elem(bpf_map__fd(skel->maps.ep_rl_cfg), &(__u32){ 0 },
			    &(struct ep_rl_cfg){ .flags = EP_RL_F_SET | EP_RL_F_OFF }, 0);
	prog_fd = bpf_program__fd(skel->progs.ep_gateway);
	for (unsigned int i = 0; i < o->samples; i++) {
		size_t len = build(frame, sizeof(frame_buf) - 2, cfg.port, o, &rnd);
		LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame, .data_size_in = (__u32)len,
			    .data_out = out, .data_size_out = sizeof(out), .repeat = 1);

		if (!len || (err = bpf_prog_test_run_opts(prog_fd, &opts))) {
			err = err ?: -EINVAL;
			pr_err("run the gateway program: %s", strerror(-err));
			goto out;
		}
		switch (opts.retval) {
		case XDP_TX:
			r->xdp_tx++;
			break;
		case XDP_PASS:
			r->xdp_pass++;
			break;
		case XDP_REDIRECT:
			r->xdp_redirect++;
			break;
		default:
			r->xdp_drop++;
			break;
		}
	}
	ncpu = libbpf_num_possible_cpus();
	{
		struct ep_gw_node_stats *v = calloc((size_t)ncpu, sizeof(*v));
		uint64_t *d = calloc((size_t)ncpu, sizeof(*d));

		if (!v || !d) {
			free(v);
			free(d);
			err = -ENOMEM;
			goto out;
		}
		tasks_by_node(bpf_map__fd(skel->maps.ep_gw_node_stats), ncpu, v, r);
		for (__u32 k = 0; k < EP_GW_STAT__COUNT; k++)
			if (!bpf_map_lookup_elem(bpf_map__fd(skel->maps.ep_gw_stats), &k, d))
				for (int c = 0; c < ncpu; c++)
					r->dec[k] += d[c];
		free(v);
		free(d);
	}
out:
	ep_gateway__destroy(skel);
	return err;
}
