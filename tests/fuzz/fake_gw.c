// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * fake_gw.c - control/gw.h over memory instead of BPF maps, for the controller's fuzz
 * targets: the controller's logic (reports, the API, publishing) runs unchanged, without
 * root, an interface or an attached program. Publishing keeps both halves as gw.c does and
 * checks what XDP would read: every table slot names a present node.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "gw.h"

struct ep_gw {
	struct ep_gw_cfg cfg;
	struct ep_gw_node nodes[2][EP_GW_MAX_NODES];
	uint32_t table[2][EP_GW_TABLE_SIZE];
	uint64_t table_version[2];
	uint32_t nodes_written[2]; /* entries of each half that may be non-zero, as gw.c */
	uint64_t sent[EP_GW_MAX_NODES];
	uint32_t devs;
	uint64_t keys_put;
	enum ep_auth_mode auth_mode;
};

int ep_gw_default_pin_dir(const char *ifname, char *buf, size_t len)
{
	return snprintf(buf, len, "/sys/fs/bpf/edgeplane/gw-%s", ifname) >= (int)len ? -ENAMETOOLONG
										     : 0;
}

static struct ep_gw *fake_new(void)
{
	return calloc(1, sizeof(struct ep_gw));
}

int ep_gw_open(const char *pin_dir, struct ep_gw **out)
{
	*out = fake_new();
	return *out ? 0 : -ENOMEM;
}

int ep_gw_attach(const struct ep_gw_opts *o, struct ep_gw **out)
{
	int err = ep_gw_open(NULL, out);

	if (!err) {
		FZ_CHECK(o->auth_mode < EP_AUTH_MODE__COUNT);
		(*out)->auth_mode = o->auth_mode;
	}
	return err;
}

void ep_gw_close(struct ep_gw *gw, bool detach)
{
	free(gw);
}

bool ep_gw_reused(const struct ep_gw *gw)
{
	return false;
}

const char *ep_gw_pin_dir(const struct ep_gw *gw)
{
	return "/sys/fs/bpf/edgeplane/fuzz";
}

const char *ep_gw_mode_name(const struct ep_gw *gw)
{
	return "fake";
}

int ep_gw_map_fd(const struct ep_gw *gw, const char *name)
{
	return -ENOENT;
}

int ep_gw_read_cfg(struct ep_gw *gw, struct ep_gw_cfg *cfg)
{
	*cfg = gw->cfg;
	return 0;
}

int ep_gw_publish(struct ep_gw *gw, struct ep_gw_cfg *cfg, const struct ep_gw_node *nodes,
		  const uint32_t *table, uint32_t table_bits, uint64_t table_version)
{
	uint32_t next = !(gw->cfg.active & 1), n;

	FZ_CHECK(table_version > 0);
	FZ_CHECK(table_bits >= EP_GW_TABLE_MIN_BITS && table_bits <= EP_GW_TABLE_MAX_BITS);
	FZ_CHECK(cfg->nnodes <= EP_GW_MAX_NODES);
	n = cfg->nnodes > gw->nodes_written[next] ? cfg->nnodes : gw->nodes_written[next];
	/* As gw.c: the entries up to nnodes, and those the half had (the rest are zero). */
	memcpy(gw->nodes[next], nodes, n * sizeof(*nodes));
	gw->nodes_written[next] = cfg->nnodes;
	if (gw->table_version[next] != table_version || gw->cfg.table_bits[next] != table_bits) {
		memcpy(gw->table[next], table, sizeof(*table) << table_bits);
		gw->table_version[next] = table_version;
		gw->cfg.table_bits[next] = (uint8_t)table_bits;
	}
	memcpy(cfg->table_bits, gw->cfg.table_bits, sizeof(cfg->table_bits));
	/* What XDP reads after the flip: slots name present, usable worker nodes. */
	for (uint32_t i = 0; i < 1u << table_bits; i++) {
		uint32_t id = gw->table[next][i];

		FZ_CHECK(id < EP_GW_MAX_NODES);
		if (id)
			FZ_CHECK(gw->nodes[next][id].flags & EP_NODE_F_PRESENT);
	}
	FZ_CHECK(cfg->nnodes <= EP_GW_MAX_NODES);
	cfg->active = (uint8_t)next;
	cfg->generation = gw->cfg.generation + 1;
	gw->cfg = *cfg;
	return 0;
}

int ep_gw_read_active(struct ep_gw *gw, struct ep_gw_node *nodes, uint32_t *table,
		      uint32_t *table_bits)
{
	uint32_t half = gw->cfg.active & 1, bits = gw->cfg.table_bits[half];

	if (bits < EP_GW_TABLE_MIN_BITS || bits > EP_GW_TABLE_MAX_BITS)
		bits = EP_GW_TABLE_MIN_BITS;
	if (nodes)
		memcpy(nodes, gw->nodes[half], sizeof(gw->nodes[half]));
	if (table)
		memcpy(table, gw->table[half], sizeof(*table) << bits);
	if (table_bits)
		*table_bits = bits;
	return 0;
}

int ep_gw_read_stats(struct ep_gw *gw, uint64_t out[EP_GW_STAT__COUNT])
{
	memset(out, 0, sizeof(uint64_t) * EP_GW_STAT__COUNT);
	return 0;
}

int ep_gw_read_drops(struct ep_gw *gw, struct ep_counter out[EP_STAT__COUNT])
{
	memset(out, 0, sizeof(struct ep_counter) * EP_STAT__COUNT);
	return 0;
}

int ep_gw_read_node_stats(struct ep_gw *gw, struct ep_gw_node_stats out[EP_GW_MAX_NODES])
{
	memset(out, 0, sizeof(struct ep_gw_node_stats) * EP_GW_MAX_NODES);
	return 0;
}

int ep_gw_read_sent(struct ep_gw *gw, uint64_t out[EP_GW_MAX_NODES])
{
	memcpy(out, gw->sent, sizeof(gw->sent));
	return 0;
}

int ep_gw_reset_sent(struct ep_gw *gw, uint32_t id)
{
	if (id >= EP_GW_MAX_NODES)
		return -E2BIG;
	gw->sent[id] = 0;
	return 0;
}

int ep_gw_forget_node(struct ep_gw *gw, uint32_t id)
{
	return 0;
}

int ep_gw_add_dev(struct ep_gw *gw, uint32_t ifindex)
{
	gw->devs++;
	return 0;
}

/* Session keys: checked as ep_xdp_write_key() checks them, and counted. */
int ep_gw_put_key(struct ep_gw *gw, uint32_t key_id, const struct ep_key_entry *e)
{
	FZ_CHECK(key_id >= 1 && key_id < EP_KEYS_MAX);
	FZ_CHECK(!(e->flags & ~EP_KEY_F_KNOWN));
	FZ_CHECK(e->max_priority >= EP_PRIO_MIN && e->max_priority <= EP_PRIO_MAX);
	gw->keys_put++;
	return 0;
}

int ep_gw_del_key(struct ep_gw *gw, uint32_t key_id)
{
	return key_id >= 1 && key_id < EP_KEYS_MAX ? -ENOENT : -EINVAL;
}

int ep_gw_clear_keys(struct ep_gw *gw)
{
	return 0;
}

int ep_gw_read_auth_mode(struct ep_gw *gw, enum ep_auth_mode *mode)
{
	*mode = gw->auth_mode;
	return 0;
}
