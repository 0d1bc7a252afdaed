// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * DPDK backend: one ethdev port, DPDK's net_af_xdp PMD on the interface (this machine
 * class has no UIO/VFIO, so AF_XDP is DPDK's way onto the NIC), with an RX/TX queue pair
 * per RX queue of the interface, each polled by its own worker thread.
 *
 * Classification stays at the NIC: the PMD loads the classifier built for it
 * (bpf/ep_classifier_dpdk.bpf.c: the same program, its XSKMAP named xsks_map and keyed by
 * queue, as the PMD wants) and registers its sockets in that map; ep_dpdk_start() then
 * finds the program's ep_cfg through the interface and writes the settings the afxdp
 * backend writes. Everything else still reaches the kernel.
 *
 * The packet path copies nothing: a datagram's payload stays in its mbuf (which the PMD
 * laid over the UMEM) until the core releases it; a reply is written into a fresh mbuf of
 * the queue's own pool (so the PMD transmits it without a copy either), its headers
 * prepended by tx_commit(), and sent in bursts by flush(). The runtime's workers are not
 * EAL threads: each registers itself (rte_thread_register(), DPDK's way for non-EAL
 * threads) on its first call, so that its mempool operations use a per-lcore cache.
 *
 * Built without DPDK (no libdpdk at build time), the backend refuses to start and says so.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edgeplane/log.h"
#include "io/dpdk.h"
#include "io/io.h"

#ifndef EP_HAVE_DPDK

int ep_dpdk_start(const struct ep_dpdk_cfg *cfg, struct ep_dpdk **out)
{
	pr_err("dpdk: this edgeplane was built without DPDK (libdpdk-dev was missing): "
	       "install it (scripts/deps.sh) and rebuild");
	return -ENOTSUP;
}

void ep_dpdk_stop(struct ep_dpdk *d)
{
}

int ep_dpdk_stats_fd(const struct ep_dpdk *d)
{
	return -1;
}

int ep_dpdk_addrs_fd(const struct ep_dpdk *d)
{
	return -1;
}

int ep_dpdk_map_fd(const struct ep_dpdk *d, const char *name)
{
	return -1;
}

const char *ep_dpdk_xdp_mode(const struct ep_dpdk *d)
{
	return "";
}

int ep_io_dpdk_open(const struct ep_io_cfg *cfg, unsigned int idx, struct ep_io_q **out)
{
	return -ENOTSUP;
}

#else /* EP_HAVE_DPDK */

#include <libgen.h>
#include <limits.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/ethtool.h>
#include <linux/if_link.h>
#include <linux/if_xdp.h>
#include <linux/sockios.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <rte_branch_prediction.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_version.h>

#include "ep_shared.h"
#include "io/frame.h"
#include "xdp/ep_xdp.h"

/* Skipped UDP checksum checks are logged once, not per queue. */
static bool csum_warned;

#define PROG_NAME      "ep_classify"
#define MAX_EAL_ARGS   64
#define RX_MAX	       64  /* datagrams per rx() */
#define TX_PENDING_MAX 64  /* replies queued before a tx burst */
#define TX_RETRIES     8   /* tx bursts for one flush's remainder */
#define POOL_CACHE     256 /* mbufs in each lcore's cache of a pool */
/* Idle: the PMD has no receive interrupt, so a worker without traffic polls again after
 * a sleep that doubles from IDLE_MIN_US to IDLE_MAX_US (never with busy_poll), once
 * IDLE_SPIN empty polls in a row have passed. */
#define IDLE_SPIN      32
#define IDLE_MIN_US    8
#define IDLE_MAX_US    500

/* The classifier's maps the runtime uses, found by name on the program the PMD loaded. */
enum { M_CFG, M_STATS, M_XSKS, M_ADDRS, M_RL, M_AUTH, M_KEYS, M_KEY_STATE, M__COUNT };
static const char *const map_names[M__COUNT] = {
	[M_CFG] = EP_PIN_CFG,	  [M_STATS] = EP_PIN_STATS,	    [M_XSKS] = "xsks_map",
	[M_ADDRS] = EP_PIN_ADDRS, [M_RL] = EP_PIN_RL_CFG,	    [M_AUTH] = EP_PIN_AUTH_CFG,
	[M_KEYS] = EP_PIN_KEYS,	  [M_KEY_STATE] = EP_PIN_KEY_STATE,
};

struct ep_dpdk {
	uint16_t port_id;
	bool port_ok, started;
	unsigned int first_queue, nqueues;
	int ifindex;
	int lock_fd;
	struct rte_mempool *pools[EP_MAX_QUEUES];
	uint32_t mbufs;
	/* The attached classifier and its maps, by map_names[] (-1 when the program is
	 * not ours). */
	uint32_t prog_id;
	uint8_t attach_mode;
	int fds[M__COUNT];
	char ifname[IF_NAMESIZE];
	/* The EAL's arguments, kept for its lifetime. */
	char *argv[MAX_EAL_ARGS + 1];
	int argc;
};

struct dpdk_q {
	struct ep_io_q q; /* first: the generic part */
	uint16_t port_id, qid;
	uint16_t udp_port;
	bool busy_poll, verify_csum, rx_stopped, stats_port;
	struct rte_mempool *pool;
	int xsks_fd;
	uint32_t xsk_key;
	uint32_t idle_polls, idle_us;

	struct rte_mbuf *tx_cur; /* the buffer tx_buf() handed out */
	uint32_t npending;
	struct rte_mbuf *pending[TX_PENDING_MAX];

	/* Sent mbufs we still hold a reference to, oldest first: the PMD drops its own
	 * when the kernel has completed the frame, so a refcnt of 1 means done. */
	struct rte_mbuf **inflight;
	uint32_t if_head, if_count, if_mask;

	struct ep_io_stats st;
} __rte_cache_aligned;

static bool eal_done;
static FILE *log_stream;
static pthread_key_t thread_key;
static bool thread_key_ok;
static __thread bool thread_tried;

/* --- logging ------------------------------------------------------------------------ */

static char log_line[1024];
static size_t log_len;

static enum ep_log_level from_rte_level(int level)
{
	if (level <= (int)RTE_LOG_ERR)
		return EP_LOG_ERROR;
	if (level == (int)RTE_LOG_WARNING)
		return EP_LOG_WARN;
	if (level == (int)RTE_LOG_NOTICE)
		return EP_LOG_INFO;
	return EP_LOG_DEBUG;
}

static void log_emit(void)
{
	if (!log_len)
		return;
	log_line[log_len] = '\0';
	ep_log(from_rte_level(rte_log_cur_msg_loglevel()), "dpdk: %s", log_line);
	log_len = 0;
}

/* The stream DPDK logs to: lines go to ep_log, at the level of the message being
 * logged. Called under the stream's lock. */
static ssize_t log_write(void *cookie, const char *buf, size_t size)
{
	for (size_t i = 0; i < size; i++) {
		if (buf[i] == '\n') {
			log_emit();
			continue;
		}
		if (log_len == sizeof(log_line) - 1)
			log_emit();
		log_line[log_len++] = buf[i];
	}
	return (ssize_t)size;
}

static int log_open(void)
{
	static const cookie_io_functions_t fns = { .write = log_write };

	/* DPDK's levels per log type stay as they are (EAL: info, PMDs: notice; raise one
	 * with --log-level=TYPE:LEVEL in dpdk.eal_args); ep_log filters by its own level. */
	log_stream = fopencookie(NULL, "w", fns);
	if (!log_stream)
		return -errno;
	setvbuf(log_stream, NULL, _IOLBF, 0);
	rte_openlog_stream(log_stream);
	return 0;
}

static void log_close(void)
{
	if (!log_stream)
		return;
	rte_openlog_stream(NULL);
	fclose(log_stream);
	log_stream = NULL;
}

/* --- threads ------------------------------------------------------------------------ */

static void thread_unregister(void *arg)
{
	rte_thread_unregister();
}

/* A worker's first call: give the thread an lcore id, hence mempool caches. */
static inline void thread_ensure(void)
{
	if (likely(thread_tried))
		return;
	thread_tried = true;
	if (rte_lcore_id() != LCORE_ID_ANY) /* an EAL thread */
		return;
	if (rte_thread_register()) {
		pr_warn("dpdk: cannot register a worker thread with the EAL (%s): its mempool "
			"operations go without a cache",
			rte_strerror(rte_errno));
		return;
	}
	if (thread_key_ok)
		pthread_setspecific(thread_key, (void *)1); /* unregister at thread exit */
	pr_debug("dpdk: worker thread registered as lcore %u", rte_lcore_id());
}

/* --- the queue ---------------------------------------------------------------------- */

static struct dpdk_q *to_dq(struct ep_io_q *q)
{
	return (struct dpdk_q *)q;
}

static void dpdk_release(struct ep_io_q *q, uint64_t handle)
{
	rte_pktmbuf_free((struct rte_mbuf *)(uintptr_t)handle);
}

static unsigned int dpdk_rx(struct ep_io_q *q, struct ep_dgram *d, unsigned int max)
{
	struct dpdk_q *p = to_dq(q);
	struct rte_mbuf *m[RX_MAX];
	unsigned int n, got = 0;

	thread_ensure();
	n = rte_eth_rx_burst(p->port_id, p->qid, m, (uint16_t)(max < RX_MAX ? max : RX_MAX));
	for (unsigned int i = 0; i < n; i++) {
		const uint8_t *frame = rte_pktmbuf_mtod(m[i], const uint8_t *);
		uint32_t len = rte_pktmbuf_data_len(m[i]);

		p->st.rx_packets++;
		p->st.rx_bytes += len;
		if (m[i]->nb_segs != 1 || ep_frame_parse(frame, len, p->udp_port, &d[got])) {
			/* The classifier only lets valid datagrams through. */
			p->st.rx_invalid++;
			rte_pktmbuf_free(m[i]);
			continue;
		}
		if (p->verify_csum && !ep_frame_udp_csum_ok(&d[got])) {
			p->st.rx_bad_csum++;
			rte_pktmbuf_free(m[i]);
			continue;
		}
		d[got++].handle = (uint64_t)(uintptr_t)m[i];
	}
	if (n)
		p->idle_polls = p->idle_us = 0;
	return got;
}

/* Free the sent mbufs whose frames the kernel has completed. */
static void reap(struct dpdk_q *p)
{
	while (p->if_count) {
		struct rte_mbuf *m = p->inflight[p->if_head];

		if (rte_mbuf_refcnt_read(m) != 1)
			break;
		rte_pktmbuf_free(m);
		p->if_head = (p->if_head + 1) & p->if_mask;
		p->if_count--;
	}
}

static unsigned int dpdk_flush(struct ep_io_q *q)
{
	struct dpdk_q *p = to_dq(q);
	uint32_t sent = 0;

	thread_ensure();
	/* With nothing queued, an empty burst still kicks the socket and collects the
	 * completions of earlier ones. */
	if (p->npending || p->if_count) {
		for (int tries = 0;; tries++) {
			uint16_t n = rte_eth_tx_burst(p->port_id, p->qid, p->pending + sent,
						      (uint16_t)(p->npending - sent));

			for (uint16_t i = 0; i < n; i++) {
				struct rte_mbuf *m = p->pending[sent + i];

				p->inflight[(p->if_head + p->if_count++) & p->if_mask] = m;
				p->st.tx_packets++;
				p->st.tx_bytes += rte_pktmbuf_pkt_len(m);
			}
			sent += n;
			if (sent == p->npending || tries == TX_RETRIES)
				break;
		}
		/* What the TX ring would not take is dropped and counted. */
		for (uint32_t i = sent; i < p->npending; i++) {
			rte_mbuf_refcnt_set(p->pending[i], 1);
			rte_pktmbuf_free(p->pending[i]);
			p->st.tx_ring_full++;
		}
		p->npending = 0;
	}
	reap(p);
	return p->if_count;
}

static uint8_t *dpdk_tx_buf(struct ep_io_q *q, uint32_t *cap)
{
	struct dpdk_q *p = to_dq(q);
	struct rte_mbuf *m;

	thread_ensure();
	m = rte_pktmbuf_alloc(p->pool);
	if (unlikely(!m)) {
		reap(p);
		m = rte_pktmbuf_alloc(p->pool);
		if (!m)
			return NULL;
	}
	p->tx_cur = m;
	/* The payload goes after room for the largest header; tx_commit() writes the
	 * reply's own just before it. */
	*cap = rte_pktmbuf_tailroom(m) - EP_FRAME_HDR_MAX;
	return rte_pktmbuf_mtod(m, uint8_t *) + EP_FRAME_HDR_MAX;
}

static void dpdk_tx_abort(struct ep_io_q *q)
{
	struct dpdk_q *p = to_dq(q);

	rte_pktmbuf_free(p->tx_cur);
	p->tx_cur = NULL;
}

static int dpdk_tx_commit(struct ep_io_q *q, const struct ep_route *r, const struct ep_peer *peer,
			  uint32_t len)
{
	struct dpdk_q *p = to_dq(q);
	struct rte_mbuf *m = p->tx_cur;
	uint32_t hlen = ep_frame_hdr_len(r);

	p->tx_cur = NULL;
	m->data_off = (uint16_t)(m->data_off + EP_FRAME_HDR_MAX - hlen);
	ep_frame_write_hdrs(rte_pktmbuf_mtod(m, uint8_t *), r, peer, len);
	m->data_len = (uint16_t)(hlen + len);
	m->pkt_len = hlen + len;
	/* Our reference, dropped by reap() once the PMD has dropped its own. */
	rte_mbuf_refcnt_set(m, 2);
	p->pending[p->npending++] = m;
	if (p->npending == TX_PENDING_MAX)
		dpdk_flush(q);
	return 0;
}

static void dpdk_wait(struct ep_io_q *q, int timeout_ms)
{
	struct dpdk_q *p = to_dq(q);
	struct timespec ts;
	uint32_t us;

	if (p->busy_poll || ++p->idle_polls < IDLE_SPIN)
		return;
	us = p->idle_us ? p->idle_us * 2 : IDLE_MIN_US;
	if (us > IDLE_MAX_US)
		us = IDLE_MAX_US;
	p->idle_us = us;
	if (timeout_ms >= 0 && (uint64_t)timeout_ms * 1000 < us)
		us = (uint32_t)timeout_ms * 1000;
	ts.tv_sec = 0;
	ts.tv_nsec = (long)us * 1000;
	nanosleep(&ts, NULL);
}

static void dpdk_get_stats(struct ep_io_q *q, struct ep_io_stats *st)
{
	struct dpdk_q *p = to_dq(q);
	struct rte_eth_stats es;

	*st = p->st;
	/* The PMD counts drops (its own and the sockets' XDP_STATISTICS) per port only:
	 * reported on the port's first queue. */
	if (p->stats_port && !rte_eth_stats_get(p->port_id, &es))
		st->rx_dropped = es.imissed;
}

static void dpdk_stop_rx(struct ep_io_q *q)
{
	struct dpdk_q *p = to_dq(q);

	/* Out of the XSKMAP: new tasks fall back to the kernel stack; what the RX ring
	 * holds already is still read. */
	if (p->xsks_fd >= 0 && !p->rx_stopped)
		bpf_map_delete_elem(p->xsks_fd, &p->xsk_key);
	p->rx_stopped = true;
}

static void dpdk_close(struct ep_io_q *q)
{
	struct dpdk_q *p = to_dq(q);

	if (!p)
		return;
	dpdk_stop_rx(q);
	if (p->tx_cur)
		rte_pktmbuf_free(p->tx_cur);
	for (uint32_t i = 0; i < p->npending; i++) {
		rte_mbuf_refcnt_set(p->pending[i], 1);
		rte_pktmbuf_free(p->pending[i]);
	}
	/* Our references; frames the kernel still has go when the port closes. */
	for (; p->if_count; p->if_count--, p->if_head = (p->if_head + 1) & p->if_mask)
		rte_pktmbuf_free(p->inflight[p->if_head]);
	free(p->inflight);
	free(p);
}

EP_DEFINE_IO_OPS(dpdk, "dpdk");

int ep_io_dpdk_open(const struct ep_io_cfg *cfg, unsigned int idx, struct ep_io_q **out)
{
	struct ep_dpdk *d = cfg->dpdk;
	struct dpdk_q *p;
	uint32_t ring = 1;

	if (!d || idx >= d->nqueues)
		return -EINVAL;
	p = aligned_alloc(RTE_CACHE_LINE_SIZE, sizeof(*p));
	if (!p)
		return -ENOMEM;
	memset(p, 0, sizeof(*p));
	/* Every mbuf of the pool could be in flight at once. */
	while (ring < d->mbufs)
		ring <<= 1;
	p->inflight = calloc(ring, sizeof(*p->inflight));
	if (!p->inflight) {
		free(p);
		return -ENOMEM;
	}
	p->if_mask = ring - 1;
	p->q.ops = &dpdk_ops;
	p->q.queue_id = d->first_queue + idx;
	p->port_id = d->port_id;
	p->qid = (uint16_t)idx;
	p->pool = d->pools[idx];
	p->udp_port = cfg->port;
	p->busy_poll = cfg->busy_poll;
	p->verify_csum = cfg->verify_csum < 0 ? ep_frame_csum_auto(d->ifname) : cfg->verify_csum;
	p->stats_port = idx == 0;
	p->xsks_fd = d->fds[M_XSKS];
	p->xsk_key = d->first_queue + idx;
	if (!p->verify_csum && !csum_warned)
		pr_warn("dpdk: %s: UDP checksums are not checked (verify_checksum = \"%s\"): a "
			"corrupted task datagram is answered",
			d->ifname, cfg->verify_csum < 0 ? "auto" : "off");
	csum_warned = csum_warned || !p->verify_csum;
	pr_info("dpdk: %s queue %u ready (port %u queue %u, %u mbufs, UDP checksums %s%s)",
		d->ifname, p->q.queue_id, p->port_id, idx, d->mbufs,
		p->verify_csum ? "checked" : "not checked", cfg->busy_poll ? ", busy polling" : "");
	*out = &p->q;
	return 0;
}

/* --- the port ----------------------------------------------------------------------- */

static int add_arg(struct ep_dpdk *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int add_arg(struct ep_dpdk *d, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (d->argc == MAX_EAL_ARGS) {
		pr_err("dpdk: more than %d EAL arguments", MAX_EAL_ARGS);
		return -E2BIG;
	}
	va_start(ap, fmt);
	n = vasprintf(&d->argv[d->argc], fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	d->argc++;
	return 0;
}

/* "0@(0-1,3)": EAL's main lcore (the main thread) on the CPUs this process may use. */
static int default_lcores(char *buf, size_t len)
{
	cpu_set_t set;
	size_t off;
	int n;

	if (sched_getaffinity(0, sizeof(set), &set))
		return -errno;
	off = (size_t)snprintf(buf, len, "0@(");
	for (int c = 0; c < CPU_SETSIZE; c++) {
		const char *sep = off > 3 ? "," : "";
		int e = c;

		if (!CPU_ISSET(c, &set))
			continue;
		while (e + 1 < CPU_SETSIZE && CPU_ISSET(e + 1, &set))
			e++;
		if (e > c)
			n = snprintf(buf + off, len - off, "%s%d-%d", sep, c, e);
		else
			n = snprintf(buf + off, len - off, "%s%d", sep, c);
		if (n < 0 || (size_t)n >= len - off)
			return -ENAMETOOLONG;
		off += (size_t)n;
		c = e;
	}
	if (off + 2 > len)
		return -ENAMETOOLONG;
	strcpy(buf + off, ")");
	return 0;
}

/* The classifier for DPDK next to the program: build/bin/../bpf in the tree, and
 * PREFIX/bin/../lib/edgeplane once installed. */
static int find_xdp_prog(char *buf, size_t len)
{
	static const char *const rel[] = { "../bpf", "../lib/edgeplane" };
	char exe[PATH_MAX], path[PATH_MAX * 2];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *dir;

	if (n < 0)
		return -errno;
	exe[n] = '\0';
	dir = dirname(exe);
	for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s/%s", dir, rel[i], EP_DPDK_XDP_PROG);
		if (!access(path, R_OK) && realpath(path, buf) && strlen(buf) < len)
			return 0;
	}
	pr_err("dpdk: the classifier for DPDK, %s, is in neither %s/../bpf nor "
	       "%s/../lib/edgeplane: build it (make) or set dpdk.xdp_prog",
	       EP_DPDK_XDP_PROG, dir, dir);
	return -ENOENT;
}

/* Hugepages reserved, from /proc/meminfo; -1 if unknown. */
static long hugepages_total(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[128];
	long v = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "HugePages_Total: %ld", &v) == 1)
			break;
	fclose(f);
	return v;
}

static int build_args(struct ep_dpdk *d, const struct ep_dpdk_cfg *c)
{
	char lcores[256], prog[PATH_MAX];
	int err;

	if ((err = add_arg(d, "edgeplane")))
		return err;
	if (c->no_huge && (err = add_arg(d, "--no-huge")))
		return err;
	if ((err = add_arg(d, "-m")) || (err = add_arg(d, "%u", c->memory_mb)))
		return err;
	/* Nothing shared with other DPDK processes, and nothing left behind: --in-memory,
	 * which --no-huge (legacy memory to the EAL) excludes; there no shared files, and a
	 * prefix of this interface's (one runtime per interface). */
	if (c->file_prefix)
		err = add_arg(d, "--file-prefix=%s", c->file_prefix);
	else if (!c->no_huge)
		err = add_arg(d, "--in-memory");
	else if (!(err = add_arg(d, "--no-shconf")))
		err = add_arg(d, "--file-prefix=edgeplane-%s", c->ifname);
	if (err)
		return err;
	if (!c->lcores && (err = default_lcores(lcores, sizeof(lcores))))
		return err;
	if ((err = add_arg(d, "--lcores=%s", c->lcores ? c->lcores : lcores)))
		return err;
	/* No PCI devices to scan, no telemetry socket for concurrent runtimes to fight
	 * over, and IOVA as VA: the PMD lays one UMEM over each pool, which must be one
	 * virtually contiguous piece. */
	if ((err = add_arg(d, "--no-pci")) || (err = add_arg(d, "--no-telemetry")) ||
	    (err = add_arg(d, "--iova-mode=va")))
		return err;
	if (c->vdev) {
		err = add_arg(d, "--vdev=%s", c->vdev);
	} else {
		char budget[32] = "";

		if (!c->xdp_prog && (err = find_xdp_prog(prog, sizeof(prog))))
			return err;
		if (c->busy_budget >= 0)
			snprintf(budget, sizeof(budget), ",busy_budget=%d", c->busy_budget);
		err = add_arg(d,
			      "--vdev=net_af_xdp0,iface=%s,start_queue=%u,queue_count=%u,"
			      "xdp_prog=%s%s%s",
			      c->ifname, c->first_queue, c->nqueues,
			      c->xdp_prog ? c->xdp_prog : prog, budget,
			      c->force_copy ? ",force_copy=1" : "");
	}
	if (err)
		return err;
	for (unsigned int i = 0; i < c->neal_args; i++)
		if ((err = add_arg(d, "%s", c->eal_args[i])))
			return err;
	return 0;
}

static int eal_init(struct ep_dpdk *d, const struct ep_dpdk_cfg *c)
{
	char *argv[MAX_EAL_ARGS + 1], line[1024];
	size_t off = 0;
	cpu_set_t cpus;
	int err, out, ret;
	bool cpus_ok;

	if (eal_done) {
		pr_err("dpdk: the EAL can be initialised once per process");
		return -EALREADY;
	}
	if (!c->no_huge && hugepages_total() == 0) {
		pr_err("dpdk: no_huge = false, but no hugepages are reserved (HugePages_Total is "
		       "0 in /proc/meminfo): reserve some (sysctl vm.nr_hugepages=N) or set "
		       "dpdk.no_huge = true");
		return -ENOMEM;
	}
	err = build_args(d, c);
	if (err)
		return err;
	for (int i = 0; i < d->argc; i++)
		off += (size_t)snprintf(line + off, off < sizeof(line) ? sizeof(line) - off : 0,
					"%s%s", i ? " " : "", d->argv[i]);
	pr_info("dpdk: %s, EAL: %s", rte_version(), line);

	err = log_open();
	if (err)
		return err;
	/* rte_eal_init() takes the main thread's CPUs to its main lcore's, and prints its
	 * usage to stdout on a bad argument: give back the first, and send the second to
	 * stderr. rte_eal_init() may reorder argv: pass a copy. */
	cpus_ok = !pthread_getaffinity_np(pthread_self(), sizeof(cpus), &cpus);
	memcpy(argv, d->argv, sizeof(argv));
	fflush(stdout);
	out = dup(STDOUT_FILENO);
	if (out >= 0)
		dup2(STDERR_FILENO, STDOUT_FILENO);
	ret = rte_eal_init(d->argc, argv);
	err = rte_errno;
	fflush(stdout);
	if (out >= 0) {
		dup2(out, STDOUT_FILENO);
		close(out);
	}
	if (ret < 0) {
		pr_err("dpdk: rte_eal_init: %s%s", rte_strerror(err),
		       c->no_huge ? ""
				  : " (no_huge = false: are hugepages reserved and "
				    "hugetlbfs mounted?)");
		return -(err ? err : EINVAL);
	}
	eal_done = true;
	if (cpus_ok)
		pthread_setaffinity_np(pthread_self(), sizeof(cpus), &cpus);
	return 0;
}

/* Find the program the PMD attached and, if it is the classifier, its maps. */
static int find_classifier(struct ep_dpdk *d)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, xq);
	struct bpf_prog_info info = { 0 };
	uint32_t len = sizeof(info), nmaps, *ids = NULL;
	int prog_fd, err;

	err = bpf_xdp_query(d->ifindex, 0, &xq);
	if (err)
		return err;
	if (!xq.prog_id) {
		pr_err("dpdk: no XDP program on %s after the port's start", d->ifname);
		return -ENOENT;
	}
	d->prog_id = xq.prog_id;
	d->attach_mode = xq.attach_mode;
	prog_fd = bpf_prog_get_fd_by_id(xq.prog_id);
	if (prog_fd < 0)
		return -errno;
	err = bpf_obj_get_info_by_fd(prog_fd, &info, &len) ? -errno : 0;
	if (err)
		goto out;
	if (strcmp(info.name, PROG_NAME)) {
		pr_warn("dpdk: the XDP program on %s is %s, not the classifier: its settings "
			"(port, encapsulation, reply route, addresses, rate limits) are not "
			"written",
			d->ifname, info.name);
		goto out;
	}
	nmaps = info.nr_map_ids;
	ids = calloc(nmaps ? nmaps : 1, sizeof(*ids));
	if (!ids) {
		err = -ENOMEM;
		goto out;
	}
	memset(&info, 0, sizeof(info));
	info.nr_map_ids = nmaps;
	info.map_ids = (uint64_t)(uintptr_t)ids;
	len = sizeof(info);
	err = bpf_obj_get_info_by_fd(prog_fd, &info, &len) ? -errno : 0;
	for (uint32_t i = 0; !err && i < nmaps && i < info.nr_map_ids; i++) {
		struct bpf_map_info mi = { 0 };
		uint32_t mlen = sizeof(mi);
		int fd = bpf_map_get_fd_by_id(ids[i]);

		if (fd < 0 || bpf_obj_get_info_by_fd(fd, &mi, &mlen)) {
			err = -errno;
			if (fd >= 0)
				close(fd);
			break;
		}
		for (int m = 0; fd >= 0 && m < M__COUNT; m++) {
			if (d->fds[m] < 0 && !strcmp(mi.name, map_names[m])) {
				d->fds[m] = fd;
				fd = -1;
			}
		}
		if (fd >= 0)
			close(fd);
	}
	for (int m = 0; !err && m < M__COUNT; m++) {
		if (m == M_STATS || m == M_XSKS || d->fds[m] >= 0)
			continue;
		pr_err("dpdk: the classifier on %s lacks its %s map (an old build?)", d->ifname,
		       map_names[m]);
		err = -ENOENT;
	}
out:
	free(ids);
	close(prog_fd);
	return err;
}

static int configure_classifier(struct ep_dpdk *d, const struct ep_dpdk_cfg *c)
{
	/* As ep_xdp_attach() configures it for the afxdp backend. */
	struct ep_xdp_opts o = c->cls;
	int err = ep_xdp_sync_addrs(d->fds[M_ADDRS], c->cls.addrs);

	o.max_task_len = EP_MAX_TASK_LEN;
	if (err >= 0)
		err = ep_xdp_configure(d->fds[M_CFG], d->fds[M_RL], &o);
	/* The keys come from the runtime's key table (ep_dpdk_map_fd()). */
	return err < 0 ? err : ep_xdp_write_auth_mode(d->fds[M_AUTH], c->cls.auth_mode);
}

/* The interface: ours alone, and free for the PMD's program. */
static int claim_iface(struct ep_dpdk *d)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, xq);
	int err;

	d->lock_fd = ep_iface_lock("xdp", d->ifindex);
	if (d->lock_fd < 0) {
		err = d->lock_fd;
		d->lock_fd = -1;
		if (err == -EBUSY)
			pr_err("another edgeplane process owns the classifier on %s", d->ifname);
		return err;
	}
	/* A runtime that died leaves its classifier attached; its owner is gone (we hold
	 * the lock). */
	if (ep_xdp_find_prog(d->ifname, PROG_NAME, NULL) == 1) {
		pr_info("%s: replacing the classifier an earlier run left attached", d->ifname);
		err = ep_xdp_detach_prog(d->ifname, PROG_NAME);
		if (err && err != -ENOENT)
			pr_warn("%s: detach the old classifier: %s", d->ifname, strerror(-err));
	}
	if (!bpf_xdp_query(d->ifindex, 0, &xq) && xq.prog_id) {
		pr_err("dpdk: %s has an XDP program attached already (id %u); the PMD attaches "
		       "its own: detach it first (edgeplane-xdp or ip link set dev %s xdp off)",
		       d->ifname, xq.prog_id, d->ifname);
		return -EBUSY;
	}
	return 0;
}

/*
 * net_af_xdp (22.11) takes at most as many queues as the interface has combined channels,
 * and counts an interface without any (veth: separate RX and TX channels) as one. Say so
 * before the PMD refuses with less to go on. Returns 0 or -EINVAL.
 */
static int check_channels(const struct ep_dpdk_cfg *c)
{
	struct ethtool_channels ch = { .cmd = ETHTOOL_GCHANNELS };
	struct ifreq ifr = { .ifr_data = (void *)&ch };
	unsigned int combined = 1;
	int fd;

	if (c->nqueues < 2 || c->vdev)
		return 0;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0; /* the PMD will tell */
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", c->ifname);
	if (!ioctl(fd, SIOCETHTOOL, &ifr) && ch.max_combined)
		combined = ch.combined_count;
	close(fd);
	if (c->nqueues <= combined)
		return 0;
	pr_err("dpdk: %u queues, but DPDK's net_af_xdp takes at most as many as %s has combined "
	       "channels, %u (%s): serve fewer (-q, queues) or set them (ethtool -L %s combined "
	       "N)",
	       c->nqueues, c->ifname, combined,
	       ch.max_combined ? "ethtool -l" : "it has none, as veth: counted as one", c->ifname);
	return -EINVAL;
}

static int port_setup(struct ep_dpdk *d, const struct ep_dpdk_cfg *c)
{
	struct rte_eth_conf conf = { 0 };
	struct rte_eth_dev_info info;
	uint32_t room;
	int err, socket;

	if (!rte_eth_dev_count_avail()) {
		pr_err("dpdk: no port: the device did not probe (see DPDK's messages above)");
		return -ENODEV;
	}
	d->port_id = (uint16_t)rte_eth_find_next_owned_by(0, RTE_ETH_DEV_NO_OWNER);
	if (rte_eth_dev_count_avail() > 1)
		pr_warn("dpdk: %u ports; using port %u", rte_eth_dev_count_avail(), d->port_id);
	d->port_ok = true;
	err = rte_eth_dev_info_get(d->port_id, &info);
	if (err)
		return err;
	if (info.max_rx_queues < c->nqueues || info.max_tx_queues < c->nqueues) {
		pr_err("dpdk: port %u (%s) has %u queues, not %u", d->port_id, info.driver_name,
		       info.max_rx_queues, c->nqueues);
		return -EINVAL;
	}
	if (c->mtu > info.max_mtu) {
		pr_err("limits.mtu %u: the dpdk backend's port (%s) takes frames of an MTU of at "
		       "most %u",
		       c->mtu, info.driver_name, info.max_mtu);
		return -EINVAL;
	}
	err = rte_eth_dev_configure(d->port_id, (uint16_t)c->nqueues, (uint16_t)c->nqueues, &conf);
	if (err) {
		pr_err("dpdk: configure port %u: %s", d->port_id, strerror(-err));
		return err;
	}
	/* A frame after the mbuf's headroom and the kernel's XDP headroom; a reply after
	 * room for its headers. */
	room = RTE_PKTMBUF_HEADROOM + XDP_PACKET_HEADROOM + EP_FRAME_HDR_MAX + c->mtu;
	if (room < RTE_MBUF_DEFAULT_BUF_SIZE)
		room = RTE_MBUF_DEFAULT_BUF_SIZE;
	socket = rte_eth_dev_socket_id(d->port_id);
	if (socket < 0)
		socket = (int)rte_socket_id();
	for (unsigned int i = 0; i < c->nqueues; i++) {
		char name[RTE_MEMPOOL_NAMESIZE];
		struct rte_mempool *mp;

		snprintf(name, sizeof(name), "ep_q%u", i);
		mp = rte_pktmbuf_pool_create(name, c->mbufs, POOL_CACHE, 0, (uint16_t)room, socket);
		if (!mp) {
			pr_err("dpdk: %u mbufs for queue %u: %s (dpdk.memory_mb too small?)",
			       c->mbufs, c->first_queue + i, rte_strerror(rte_errno));
			return -ENOMEM;
		}
		d->pools[i] = mp;
		/* The PMD lays a UMEM over the pool's memory, as one piece. */
		if (mp->nb_mem_chunks != 1) {
			pr_err("dpdk: the mbufs of queue %u are not in one piece of memory (%u)",
			       c->first_queue + i, mp->nb_mem_chunks);
			return -ENOMEM;
		}
		err = rte_eth_rx_queue_setup(d->port_id, (uint16_t)i, 0, (unsigned int)socket, NULL,
					     mp);
		if (!err)
			err = rte_eth_tx_queue_setup(d->port_id, (uint16_t)i, 0,
						     (unsigned int)socket, NULL);
		if (err) {
			pr_err("dpdk: set up queue %u of port %u (%s queue %u): %s", i, d->port_id,
			       c->ifname, c->first_queue + i, strerror(-err));
			return err;
		}
	}
	err = rte_eth_dev_start(d->port_id);
	if (err) {
		pr_err("dpdk: start port %u: %s", d->port_id, strerror(-err));
		return err;
	}
	d->started = true;
	return 0;
}

int ep_dpdk_start(const struct ep_dpdk_cfg *c, struct ep_dpdk **out)
{
	struct ep_dpdk *d;
	int err;

	if (c->nqueues > EP_MAX_QUEUES || !c->nqueues)
		return -EINVAL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->lock_fd = -1;
	for (int m = 0; m < M__COUNT; m++)
		d->fds[m] = -1;
	d->first_queue = c->first_queue;
	d->nqueues = c->nqueues;
	d->mbufs = c->mbufs;
	snprintf(d->ifname, sizeof(d->ifname), "%s", c->ifname);
	d->ifindex = (int)if_nametoindex(c->ifname);
	if (!d->ifindex) {
		err = -errno;
		pr_err("interface %s: %s", c->ifname, strerror(errno));
		goto err_free;
	}
	err = check_channels(c);
	if (!err)
		err = claim_iface(d);
	if (err)
		goto err_stop;
	err = eal_init(d, c);
	if (err)
		goto err_stop;
	if (!pthread_key_create(&thread_key, thread_unregister))
		thread_key_ok = true;
	err = port_setup(d, c);
	if (err)
		goto err_stop;
	err = find_classifier(d);
	if (!err && d->fds[M_CFG] >= 0)
		err = configure_classifier(d, c);
	if (err) {
		pr_err("dpdk: configure the classifier on %s: %s", c->ifname, strerror(-err));
		goto err_stop;
	}
	pr_info("dpdk: port %u on %s, queues %u-%u, classifier %s in %s mode", d->port_id,
		c->ifname, c->first_queue, c->first_queue + c->nqueues - 1,
		d->fds[M_CFG] >= 0 ? "configured" : "absent", ep_dpdk_xdp_mode(d));
	*out = d;
	return 0;

err_free:
	free(d);
	return err;
err_stop:
	ep_dpdk_stop(d);
	return err;
}

void ep_dpdk_stop(struct ep_dpdk *d)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, xq);

	if (!d)
		return;
	if (d->started && rte_eth_dev_stop(d->port_id))
		pr_warn("dpdk: stop port %u", d->port_id);
	if (d->port_ok && rte_eth_dev_close(d->port_id))
		pr_warn("dpdk: close port %u", d->port_id);
	/* The PMD detaches the program when the port closes; make sure. */
	if (d->prog_id && !bpf_xdp_query(d->ifindex, 0, &xq) && xq.prog_id == d->prog_id) {
		pr_warn("dpdk: the PMD left its XDP program on %s: detaching it", d->ifname);
		bpf_xdp_detach(d->ifindex, 0, NULL);
	}
	for (unsigned int i = 0; i < EP_MAX_QUEUES; i++)
		rte_mempool_free(d->pools[i]);
	for (int m = 0; m < M__COUNT; m++)
		if (d->fds[m] >= 0)
			close(d->fds[m]);
	if (thread_key_ok) {
		pthread_key_delete(thread_key);
		thread_key_ok = false;
	}
	if (eal_done) {
		char run_dir[PATH_MAX];

		/* The EAL leaves its runtime directory (/run/dpdk/PREFIX), empty here. */
		snprintf(run_dir, sizeof(run_dir), "%s", rte_eal_get_runtime_dir());
		rte_eal_cleanup();
		rmdir(run_dir);
	}
	log_close();
	if (d->lock_fd >= 0)
		close(d->lock_fd);
	for (int i = 0; i < d->argc; i++)
		free(d->argv[i]);
	free(d);
}

int ep_dpdk_map_fd(const struct ep_dpdk *d, const char *name)
{
	for (int m = 0; d && m < M__COUNT; m++)
		if (!strcmp(name, map_names[m]))
			return d->fds[m];
	return -1;
}

int ep_dpdk_stats_fd(const struct ep_dpdk *d)
{
	return ep_dpdk_map_fd(d, EP_PIN_STATS);
}

int ep_dpdk_addrs_fd(const struct ep_dpdk *d)
{
	return ep_dpdk_map_fd(d, EP_PIN_ADDRS);
}

const char *ep_dpdk_xdp_mode(const struct ep_dpdk *d)
{
	return d && d->attach_mode == XDP_ATTACHED_SKB ? "skb" : "native";
}

#endif /* EP_HAVE_DPDK */
