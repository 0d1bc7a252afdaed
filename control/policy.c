// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
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
		if (ep_policy_parse(val, &p->policy))
			goto bad_policy;
	} else if (!strcmp(key, "stale_ms") && !prio) {
		if (num(val, 1, 3600000, &v))
			goto bad_range;
		p->stale_ms = (uint32_t)v;
	} else if (!strcmp(key, "mem_factor") && !prio) {
		if (num(val, 0, 255, &v))
			goto bad_range;
		p->mem_factor = (uint8_t)v;
	} else if (!strcmp(key, "cloud_node") && !prio) {
		if (num(val, 0, EP_GW_MAX_NODES - 1, &v))
			goto bad_range;
		p->cloud_node = (uint32_t)v;
	} else if (!strcmp(key, "cpu_max")) {
		if (num(val, 0, 100, &v))
			goto bad_range;
		for (int i = EP_PRIO_MIN; i <= EP_PRIO_MAX; i++)
			if (!prio || i == prio)
				p->cpu_max_pct[i] = (uint8_t)v;
	} else if (!strcmp(key, "wait_max")) {
		if (num(val, 0, 60000, &v))
			goto bad_range;
		for (int i = EP_PRIO_MIN; i <= EP_PRIO_MAX; i++)
			if (!prio || i == prio)
				p->wait_max_ms[i] = (uint16_t)v;
	} else if (!strcmp(key, "overflow")) {
		if (ep_overflow_parse(val, &u8)) {
			snprintf(err, errlen, "%s: '%s' is not reject, cloud or local", key, val);
			return -EINVAL;
		}
		for (int i = EP_PRIO_MIN; i <= EP_PRIO_MAX; i++)
			if (!prio || i == prio)
				p->overflow[i] = u8;
	} else {
		snprintf(err, errlen,
			 "unknown setting '%s' (policy, stale_ms, mem_factor, "
			 "cloud_node, cpu_max[.P], wait_max[.P], overflow[.P])",
			 key);
		return -EINVAL;
	}
	return 0;

bad_policy:
	snprintf(err, errlen, "policy: '%s' is not p2c, seed or hash", val);
	return -EINVAL;
bad_range:
	snprintf(err, errlen, "%s: '%s' is not a number in range", key, val);
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
