// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

static const char *const policy_names[EP_GW_POLICY__COUNT] = {
	[EP_GW_POLICY_P2C] = "p2c",
	[EP_GW_POLICY_SEED] = "seed",
	[EP_GW_POLICY_HASH] = "hash",
};
static const char *const overflow_names[] = {
	[EP_GW_OVF_REJECT] = "reject",
	[EP_GW_OVF_CLOUD] = "cloud",
	[EP_GW_OVF_LOCAL] = "local",
};
#define NOVF (sizeof(overflow_names) / sizeof(overflow_names[0]))

void ep_policy_defaults(struct ep_policy *p)
{
	static const uint8_t cpu[EP_PRIO_MAX + 1] = { 0, 70, 75, 80, 90, 95 };

	/* wait_max: none by default (all 0); docs/loadbalancing.md suggests 250, 500 and
	 * 1000 ms for priorities 1..3. On by default it turned a busy machine's queues into
	 * OVERLOADED replies where the operator had asked for no shedding but by CPU. */
	memset(p, 0, sizeof(*p));
	p->policy = EP_GW_POLICY_P2C;
	p->stale_ms = 1000;
	p->mem_factor = 2;
	memcpy(p->cpu_max_pct, cpu, sizeof(cpu));
}

const char *ep_policy_name(unsigned int policy)
{
	return policy < EP_GW_POLICY__COUNT ? policy_names[policy] : NULL;
}

const char *ep_overflow_name(unsigned int ovf)
{
	return ovf < NOVF ? overflow_names[ovf] : NULL;
}

int ep_policy_parse(const char *s, uint8_t *out)
{
	for (unsigned int i = 0; i < EP_GW_POLICY__COUNT; i++)
		if (!strcmp(s, policy_names[i])) {
			*out = (uint8_t)i;
			return 0;
		}
	return -EINVAL;
}

int ep_overflow_parse(const char *s, uint8_t *out)
{
	for (unsigned int i = 0; i < NOVF; i++)
		if (!strcmp(s, overflow_names[i])) {
			*out = (uint8_t)i;
			return 0;
		}
	return -EINVAL;
}

static int num(const char *s, long lo, long hi, long *out)
{
	char *end;

	errno = 0;
	*out = strtol(s, &end, 10);
	return errno || end == s || *end || *out < lo || *out > hi ? -EINVAL : 0;
}

/* The numeric settings: each key's range and field; a per-priority one is an array of
 * EP_PRIO_MAX + 1 (index 1..5), set for one priority (key.P) or for all. */
static const struct num_setting {
	const char *key;
	long lo, hi;
	size_t off, size; /* the field (or array element): 1, 2 or 4 bytes */
	bool per_prio;
} num_settings[] = {
#define FIELD(f) offsetof(struct ep_policy, f), sizeof(((struct ep_policy *)0)->f)
#define ELEM(f)	 offsetof(struct ep_policy, f), sizeof(((struct ep_policy *)0)->f[0])
	{ "stale_ms", 1, 3600000, FIELD(stale_ms), false },
	{ "mem_factor", 0, 255, FIELD(mem_factor), false },
	{ "cloud_node", 0, EP_GW_MAX_NODES - 1, FIELD(cloud_node), false },
	{ "cpu_max", 0, 100, ELEM(cpu_max_pct), true },
	{ "wait_max", 0, 60000, ELEM(wait_max_ms), true },
#undef FIELD
#undef ELEM
};

/* @v (in range for it) into the @size-byte field at @at. */
static void store(void *at, size_t size, long v)
{
	if (size == 1)
		*(uint8_t *)at = (uint8_t)v;
	else if (size == 2)
		*(uint16_t *)at = (uint16_t)v;
	else
		*(uint32_t *)at = (uint32_t)v;
}

/* @v into element @prio of the per-priority array at @base (@size bytes an element), or
 * into each of 1..5 if @prio is 0. */
static void store_prios(void *base, size_t size, int prio, long v)
{
	for (int i = EP_PRIO_MIN; i <= EP_PRIO_MAX; i++)
		if (!prio || i == prio)
			store((uint8_t *)base + (size_t)i * size, size, v);
}

int ep_policy_set(struct ep_policy *p, const char *kv, char *err, size_t errlen)
{
	char key[32];
	const char *eq = strchr(kv, '='), *val;
	int prio = 0;
	long v;
	uint8_t u8;

	if (!eq || eq == kv || (size_t)(eq - kv) >= sizeof(key)) {
		snprintf(err, errlen, "'%s': expected key=value", kv);
		return -EINVAL;
	}
	memcpy(key, kv, (size_t)(eq - kv));
	key[eq - kv] = '\0';
	val = eq + 1;
	/* cpu_max.P / wait_max.P / overflow.P: one priority. */
	if (!strncmp(key, "cpu_max.", 8) || !strncmp(key, "wait_max.", 9) ||
	    !strncmp(key, "overflow.", 9)) {
		char *dot = strchr(key, '.');

		if (num(dot + 1, EP_PRIO_MIN, EP_PRIO_MAX, &v)) {
			snprintf(err, errlen, "'%s': priority must be 1..5", key);
			return -EINVAL;
		}
		prio = (int)v;
		*dot = '\0';
	}
	if (!strcmp(key, "policy") && !prio) {
		if (ep_policy_parse(val, &p->policy)) {
			snprintf(err, errlen, "policy: '%s' is not p2c, seed or hash", val);
			return -EINVAL;
		}
		return 0;
	}
	if (!strcmp(key, "overflow")) {
		if (ep_overflow_parse(val, &u8)) {
			snprintf(err, errlen, "%s: '%s' is not reject, cloud or local", key, val);
			return -EINVAL;
		}
		store_prios(p->overflow, sizeof(p->overflow[0]), prio, u8);
		return 0;
	}
	for (size_t i = 0; i < sizeof(num_settings) / sizeof(num_settings[0]); i++) {
		const struct num_setting *ns = &num_settings[i];

		if (strcmp(key, ns->key) || (prio && !ns->per_prio))
			continue;
		if (num(val, ns->lo, ns->hi, &v)) {
			snprintf(err, errlen, "%s: '%s' is not a number in range", key, val);
			return -EINVAL;
		}
		if (ns->per_prio)
			store_prios((uint8_t *)p + ns->off, ns->size, prio, v);
		else
			store((uint8_t *)p + ns->off, ns->size, v);
		return 0;
	}
	snprintf(err, errlen,
		 "unknown setting '%s' (policy, stale_ms, mem_factor, "
		 "cloud_node, cpu_max[.P], wait_max[.P], overflow[.P])",
		 key);
	return -EINVAL;
}

void ep_policy_to_cfg(const struct ep_policy *p, struct ep_gw_cfg *cfg)
{
	cfg->policy = p->policy;
	cfg->stale_ns = (uint64_t)p->stale_ms * 1000000;
	cfg->mem_factor = p->mem_factor;
	cfg->overflow_node = p->cloud_node;
	memset(cfg->cpu_max_x100, 0, sizeof(cfg->cpu_max_x100));
	memset(cfg->overflow, 0, sizeof(cfg->overflow));
	for (int i = EP_PRIO_MIN; i <= EP_PRIO_MAX; i++) {
		/* 100 % means no limit: busy can reach 10000, so allow one more. */
		cfg->cpu_max_x100[i] = p->cpu_max_pct[i] >= 100 ? 10001 : p->cpu_max_pct[i] * 100;
		cfg->overflow[i] = p->overflow[i];
		cfg->wait_max_ms[i] = p->wait_max_ms[i];
	}
}

void ep_policy_from_cfg(struct ep_policy *p, const struct ep_gw_cfg *cfg)
{
	memset(p, 0, sizeof(*p));
	p->policy = cfg->policy;
	p->stale_ms = (uint32_t)(cfg->stale_ns / 1000000);
	p->mem_factor = cfg->mem_factor;
	p->cloud_node = cfg->overflow_node;
	for (int i = EP_PRIO_MIN; i <= EP_PRIO_MAX; i++) {
		p->cpu_max_pct[i] = cfg->cpu_max_x100[i] > 10000 ? 100 : cfg->cpu_max_x100[i] / 100;
		p->overflow[i] = cfg->overflow[i];
		p->wait_max_ms[i] = cfg->wait_max_ms[i];
	}
}
