/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * fuzz_ctl.h - a controller (struct ep_ctl) for the control-plane fuzz targets, set up as
 * ep_ctl_init() does but over tests/fuzz/fake_gw.c and without sockets, plus what the
 * targets check after each step.
 */
#ifndef EP_FUZZ_CTL_H
#define EP_FUZZ_CTL_H

#include <stdlib.h>

#include <jansson.h>

#include "config.h"
#include "fuzz.h"
#include "nodeset.h"
#include "server.h"
#include "table.h"

/* Start of fake time: far from 0, so that "never" (0) stays distinct. */
#define FZ_T0 (1000ull * 1000000000ull)

static struct ep_ctl_conf fz_conf;

/* A controller as `edgectl serve` would have after ep_ctl_init(), with @nodes configured
 * nodes from the defaults' point of view. */
static inline void fz_ctl_init(struct ep_ctl *c, const struct ep_reg_opts *opts)
{
	ep_ctl_conf_free(&fz_conf);
	ep_ctl_conf_defaults(&fz_conf);
	free(fz_conf.interface);
	fz_conf.interface = strdup("fz0");
	fz_conf.reg = *opts;

	memset(c, 0, sizeof(*c));
	c->table = calloc(EP_GW_TABLE_SIZE, sizeof(*c->table)); /* as ep_ctl_init() */
	FZ_CHECK(c->table);
	c->conf = &fz_conf;
	c->report_fd = c->api_fd = c->timer_fd = c->sig_fd = c->epfd = -1;
	pthread_mutex_init(&c->lock, NULL);
	c->start_ns = FZ_T0;
	c->policy = fz_conf.policy;
	c->admin_gid = (gid_t)-1;
	ep_reg_init(&c->reg, &fz_conf.reg);
	FZ_CHECK(ep_gw_open(NULL, &c->gw) == 0);
	c->cfg.port = fz_conf.port;
	c->cfg.encap_port = EP_ENCAP_PORT;
}

static inline void fz_ctl_fini(struct ep_ctl *c)
{
	ep_gw_close(c->gw, false);
	c->gw = NULL;
	ep_ctl_free_tables(c); /* ep_ctl_publish()'s, as ep_ctl_fini() frees them */
	pthread_mutex_destroy(&c->lock);
}

/* Publish as the timer does (the fake clock is not the one ep_ctl_publish() sleeps on, so
 * its minimum flip gap is taken as passed). */
static inline void fz_ctl_publish(struct ep_ctl *c, uint64_t now)
{
	c->last_publish_ns = 0;
	FZ_CHECK(ep_ctl_publish(c, now) == 0);
}

/* The registry's own invariants, and the map image it makes. */
static inline void fz_ctl_check(struct ep_ctl *c)
{
	static struct ep_gw_node nodes[EP_GW_MAX_NODES]; /* 640 KiB: not the stack */
	static struct ep_table_member members[EP_GW_MAX_NODES];
	struct ep_nodeset seen = { 0 };
	unsigned int nm;

	FZ_CHECK(!c->reg.nodes[0].id);
	for (uint32_t id = 1; id < EP_GW_MAX_NODES; id++) {
		const struct ep_reg_node *n = &c->reg.nodes[id];

		FZ_CHECK(!n->id || n->id == id);
		FZ_CHECK(memchr(n->name, '\0', sizeof(n->name)));
	}
	nm = ep_reg_build(&c->reg, nodes, members);
	FZ_CHECK(nm < EP_GW_MAX_NODES);
	for (unsigned int i = 0; i < nm; i++) {
		FZ_CHECK(members[i].id && members[i].id < EP_GW_MAX_NODES);
		FZ_CHECK(members[i].capacity);
		FZ_CHECK(!ep_nodeset_has(&seen, members[i].id));
		ep_nodeset_add(&seen, members[i].id);
		FZ_CHECK(nodes[members[i].id].flags & EP_NODE_F_PRESENT);
	}
}

/* Run one API request (a JSON text) as serve_peer() does; the answer must be an object
 * with a boolean "ok" that edgectl can read back. Returns the answer (json_decref() it), or
 * NULL if the text is not a JSON object (serve_peer() answers that itself). */
static inline json_t *fz_ctl_call(struct ep_ctl *c, const char *text, size_t len, bool admin)
{
	json_error_t jerr;
	json_t *req = json_loadb(text, len, 0, &jerr), *resp, *back;
	char *out;

	if (!req || !json_is_object(req)) {
		json_decref(req);
		return NULL;
	}
	resp = ep_ctl_api(c, req, admin);
	json_decref(req);
	FZ_CHECK(resp && json_is_object(resp));
	FZ_CHECK(json_is_boolean(json_object_get(resp, "ok")));
	out = json_dumps(resp, JSON_COMPACT);
	FZ_CHECK(out);
	back = json_loads(out, 0, &jerr);
	FZ_CHECK(back);
	json_decref(back);
	free(out);
	return resp;
}

static inline void fz_ctl_api(struct ep_ctl *c, const char *text, size_t len, bool admin)
{
	json_decref(fz_ctl_call(c, text, len, admin));
}

/* The views an operator reads: `edgectl nodes`, status, policy, and /metrics. */
static inline void fz_ctl_views(struct ep_ctl *c)
{
	static const char *const cmds[] = { "{\"cmd\":\"nodes\"}", "{\"cmd\":\"status\"}",
					    "{\"cmd\":\"policy\"}" };
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	unsigned int known = 0;
	json_t *resp;

	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fz_ctl_api(c, cmds[i], strlen(cmds[i]), false);
	/* `edgectl nodes` lists every node the registry has. */
	for (uint32_t id = 1; id < EP_GW_MAX_NODES; id++)
		known += !!c->reg.nodes[id].id;
	resp = fz_ctl_call(c, cmds[0], strlen(cmds[0]), false);
	FZ_CHECK(json_array_size(json_object_get(resp, "nodes")) == known);
	json_decref(resp);
	/* /metrics: Prometheus refuses the whole scrape if a label value is not UTF-8. */
	FZ_CHECK(f);
	FZ_CHECK(ep_ctl_write_metrics(c, f) == 0);
	fclose(f);
	FZ_CHECK(fz_utf8_valid(text, len));
	free(text);
}

#endif /* EP_FUZZ_CTL_H */
