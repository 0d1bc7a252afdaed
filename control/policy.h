/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * policy.h - the gateway's selection policy as operators write it (config file,
 * `edgectl policy set`) and as XDP reads it (struct ep_gw_cfg).
 */
#ifndef EP_CONTROL_POLICY_H
#define EP_CONTROL_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "ep_shared.h"

struct ep_policy {
	uint8_t policy;			       /* enum ep_gw_policy */
	uint32_t stale_ms;		       /* loads older than this are not trusted */
	uint8_t mem_factor;		       /* eligible while free memory > factor x size hint */
	uint8_t cpu_max_pct[EP_PRIO_MAX + 1];  /* [1..5]: eligible below this CPU % */
	uint16_t wait_max_ms[EP_PRIO_MAX + 1]; /* [1..5]: eligible while its queue means a
						* shorter wait than this; 0: any */
	uint8_t overflow[EP_PRIO_MAX + 1];     /* [1..5]: enum ep_gw_overflow */
	uint32_t cloud_node;		       /* EP_GW_OVF_CLOUD's target; 0: none (reject) */
};

/* Defaults: P2C; stale after 1 s; 2x memory; CPU limits 70/75/80/90/95 % for
 * priorities 1..5 (low priorities are shed first); no eligible node: reject. */
void ep_policy_defaults(struct ep_policy *p);

/* Names: "p2c", "seed", "hash"; "reject", "cloud", "local". Return NULL if out of range. */
const char *ep_policy_name(unsigned int policy);
const char *ep_overflow_name(unsigned int ovf);
/* Parse; return 0 or -EINVAL. */
int ep_policy_parse(const char *s, uint8_t *out);
int ep_overflow_parse(const char *s, uint8_t *out);

/*
 * Apply one "key=value" setting, as `edgectl policy set` takes them:
 *   policy=p2c|seed|hash  stale_ms=N  mem_factor=N  cloud_node=ID
 *   cpu_max=PCT (every priority)  cpu_max.P=PCT  wait_max=MS  wait_max.P=MS
 *   overflow=ACTION  overflow.P=ACTION
 * Returns 0, or -EINVAL with a message in @err naming the problem.
 */
int ep_policy_set(struct ep_policy *p, const char *kv, char *err, size_t errlen);

/* Into / out of the map's form (the fields this struct holds; others are left alone). */
void ep_policy_to_cfg(const struct ep_policy *p, struct ep_gw_cfg *cfg);
void ep_policy_from_cfg(struct ep_policy *p, const struct ep_gw_cfg *cfg);

#endif /* EP_CONTROL_POLICY_H */
