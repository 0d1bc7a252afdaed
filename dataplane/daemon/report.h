/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * report.h - the runtime's load reports to the controller (docs/protocol.md, LOAD_REPORT):
 * a thread that every interval measures CPU, available memory, the workers' queues and
 * the service-time p99 of the period, and sends one datagram. With the node's own session
 * key (from the controller's sync, or auth.report_key_id of a keys file), the datagram is
 * sealed with it (docs/protocol.md 3.5: sender = the node's id, the node's pn).
 */
#ifndef EP_REPORT_H
#define EP_REPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/worker.h"
#include "ep_shared.h"
#include "daemon/keysrc.h"

enum ep_cpu_source {
	EP_CPU_SYSTEM = 0, /* the whole machine (/proc/stat) */
	EP_CPU_PROCESS,	   /* this process, over the CPUs it may use (affinity and a
			    * cgroup CPU quota): for nodes that share a machine */
};

struct ep_report_cfg {
	/* "ADDR:PORT" or "[ADDR6]:PORT": every report goes to each (1 to
	 * EP_REPORT_MAX_DEST; behind ECMP, every gateway's controller) */
	const char *const *controllers;
	unsigned int ncontrollers;
	uint32_t node_id;     /* 1..8191; 0: the one the controller's sync gives */
	uint32_t interval_ms; /* 100 */
	uint32_t event_ms;    /* 2: how often the queues are looked at between
			       * reports, for event reports; 0: none */
	uint32_t capacity;    /* relative; 100 = one reference core */
	enum ep_cpu_source cpu;
	uint16_t port;		  /* the task port the node serves */
	struct ep_keysrc *keysrc; /* the node's own key, if any: reports are sealed, for
				   * the node's id in the key table */
	struct ep_keytab *keys;	  /* the node's id and pn (with keysrc) */
	bool sealed_only;	  /* the controller takes only sealed reports: none is
				   * sent before the node has its own key */
};

#define EP_REPORT_MAX_DEST 8

struct ep_reporter;

/*
 * Whether to send an event report now: the node's significant queue
 * (ep_queue_significant()) moved from @last, the last report's, to @now as
 * ep_queue_moved() says (formed, doubled, halved), and the last report went out at least
 * EP_REPORT_MIN_GAP_MS before @now_ns (at @last_ns). Pure, for tests.
 */
static inline bool ep_report_event_due(uint32_t last, uint64_t last_ns, uint32_t now,
				       uint64_t now_ns)
{
	return ep_queue_moved(last, now) &&
	       now_ns - last_ns >= (uint64_t)EP_REPORT_MIN_GAP_MS * 1000000;
}

/* Parse "system" or "process". Returns 0 or -EINVAL. */
int ep_cpu_source_parse(const char *s, enum ep_cpu_source *out);

/*
 * Start reporting the load of @workers[0..@n). The workers must outlive the reporter.
 * Returns 0 and the reporter in *out, or a negative errno after logging (bad address,
 * no route to the controller, an interface without a MAC).
 */
int ep_reporter_start(const struct ep_report_cfg *cfg, struct ep_worker *const *workers,
		      unsigned int n, struct ep_reporter **out);
/* What the reporter has done so far (read while it runs). */
struct ep_reporter_stats {
	uint64_t sent;	 /* reports sent, periodic and event */
	uint64_t events; /* of those, event reports */
	uint64_t errors; /* reports that could not be sent */
};
/* Fill *out; a NULL reporter gives zeros. */
void ep_reporter_get_stats(const struct ep_reporter *r, struct ep_reporter_stats *out);

/* Stop the thread and free. NULL is a no-op. */
void ep_reporter_stop(struct ep_reporter *r);

#endif /* EP_REPORT_H */
