// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * epproxy - the userspace baseline of `make bench-lb` (tests/bench/bench_lb.sh): a UDP
 * proxy that makes the XDP gateway's choice with recvmmsg/sendmmsg.
 *
 * It mirrors bpf/ep_gateway.bpf.c's default P2C policy FOR THE BENCHMARK ONLY, so that the
 * two forwarders do the same choice work: the same flow hash of client address, port and
 * task id, the same two candidates from the active half of ep_gw_table, the same
 * eligibility (trusted load, CPU below cpu_max of the task's priority, free memory above
 * mem_factor x the size hint), the same score, max(0, inflight + sent - rate x age) * 1e6 /
 * capacity, the same stale-load and scan fallbacks. The configuration, nodes and table
 * come from a snapshot of the gateway's pinned maps (a live controller keeps them
 * current), refreshed every 10 ms; the per-node "sent since report" counts are its own,
 * zeroed when a node's published load changes, as the controller zeroes the gateway's.
 * Not mirrored: affinity of multi-fragment tasks (the benchmark sends single-fragment
 * tasks), the SEED and HASH policies, overflow actions (a task with no eligible node is
 * counted and dropped) and encapsulation (every node is reached at its IPv4 address).
 * It is not a product: a real userspace balancer would not poll BPF maps.
 *
 *   epproxy --pin-dir DIR [--listen ADDR[:PORT]] [--node-port N] [--duration S]
 *           [--refresh-ms N]
 *
 * Receives tasks on --listen (0.0.0.0:<the gateway's task port>) in batches of 64,
 * validates each with ep_decode() (server-bound kinds from a non-zero port, as the
 * gateway's parser), chooses a node and sends the datagram unchanged to the node's
 * address and --node-port (default: the gateway's task port): one sendmmsg per node and
 * batch, on a socket connected to the node. Runs until SIGINT/SIGTERM or --duration
 * (60 s, at most 600), then prints one JSON line of counters.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "edgeplane/codec.h"
#include "edgeplane/log.h"
#include "edgeplane/util.h"
#include "gw.h"
#include "lib/hash.h"
#include "../tools/opts.h"
#include "bench_clock.h"

#define BATCH 64
#define BUF   2048

/* What the gateway program reads, as of the last refresh. */
struct snap {
	struct ep_gw_cfg cfg;
	struct ep_gw_node nodes[EP_GW_MAX_NODES];
	uint32_t table[EP_GW_TABLE_SIZE]; /* its first 2^table_bits slots */
	uint32_t table_bits;
	uint64_t sent[EP_GW_MAX_NODES]; /* ours, since the node's last published load */
	/* What the table is built from (flags that decide membership, capacity), as of the
	 * last time it was read: it is read again only when this changes. */
	uint32_t table_key[EP_GW_MAX_NODES][2];
	bool have_table;
	/* A UDP socket connected to each node (-1: none), so sending needs no route lookup. */
	int fd[EP_GW_MAX_NODES];
	struct sockaddr_in to[EP_GW_MAX_NODES];
};

enum {
	C_RX,
	C_FWD,
	C_INVALID,
	C_OVERFLOW,
	C_TX_ERROR,
	C_P2C,
	C_SCAN,
	C_STALE,
	C_REFRESH,
	C_REFRESH_ERROR,
	C_BATCHES,
	C__COUNT
};
static const char *const cnames[C__COUNT] = {
	"received",  "forwarded",  "invalid",	"overflow",	  "tx_error", "pick_p2c",
	"pick_scan", "pick_stale", "refreshes", "refresh_errors", "batches",
};

/* --- the gateway's choice, mirrored ------------------------------------------------- */

/* flow_key(): the client as ::ffff:a.b.c.d, its port and the task id as XDP loads them
 * from the frame (network byte order, read as host integers), hashed as the program does
 * (bpf/lib/hash.h). */
static uint64_t flow_hash(const struct sockaddr_in *from, uint64_t task_id)
{
	uint8_t addr[16] = { [10] = 0xff, [11] = 0xff };
	uint64_t a, b, wire_id = htobe64(task_id), port = from->sin_port;

	memcpy(&addr[12], &from->sin_addr, 4);
	memcpy(&a, addr, 8);
	memcpy(&b, &addr[8], 8);
	return ep_gw_flow_hash(a, b, wire_id ^ port);
}

static uint32_t table_at(const struct snap *s, uint64_t h)
{
	return s->table[h & ((1u << s->table_bits) - 1)];
}

static const struct ep_gw_node *node_at(const struct snap *s, uint32_t id)
{
	return &s->nodes[id & (EP_GW_MAX_NODES - 1)];
}

static bool usable(const struct ep_gw_node *n)
{
	return (n->flags & (EP_NODE_F_PRESENT | EP_NODE_F_DRAINED | EP_NODE_F_OVERFLOW)) ==
		       EP_NODE_F_PRESENT &&
	       n->capacity;
}

static bool stale(const struct snap *s, const struct ep_gw_node *n, uint64_t now)
{
	return !n->updated_ns || now - n->updated_ns > s->cfg.stale_ns;
}

static bool fits(const struct snap *s, const struct ep_gw_node *n, const struct ep_msg *m,
		 uint32_t cpu_max)
{
	if (n->cpu_pct_x100 >= cpu_max)
		return false;
	return !m->size_hint_kib ||
	       n->mem_free_kib > (uint64_t)s->cfg.mem_factor * m->size_hint_kib;
}

static uint64_t score(const struct snap *s, const struct ep_gw_node *n, uint32_t id, bool trust,
		      uint64_t now)
{
	uint64_t load = s->sent[id & (EP_GW_MAX_NODES - 1)], done;

	if (trust) {
		load += n->inflight;
		done = now > n->updated_ns ? (uint64_t)n->rate * (now - n->updated_ns) / 1000000000
					   : 0;
		load = load > done ? load - done : 0;
	}
	return load * 1000000 / n->capacity;
}

/* As XDP scans: at most EP_GW_SCAN_MAX ids, from one the task's hash @h picks if there
 * are more. */
static uint32_t scan_best(const struct snap *s, const struct ep_msg *m, uint64_t h, uint64_t now)
{
	uint32_t cpu_max = s->cfg.cpu_max_x100[m->priority & 7], best = 0;
	uint32_t nn = s->cfg.nnodes < EP_GW_MAX_NODES ? s->cfg.nnodes : EP_GW_MAX_NODES;
	uint32_t count = nn > 1 ? nn - 1 : 0, start = 1;
	uint64_t best_score = ~0ull;

	if (count > EP_GW_SCAN_MAX) {
		start = 1 + (uint32_t)((h >> 8) % count);
		count = EP_GW_SCAN_MAX;
	}
	for (uint32_t i = 0; i < count; i++) {
		uint32_t id = start + i >= nn ? start + i - (nn - 1) : start + i;
		const struct ep_gw_node *n = node_at(s, id);
		bool trust;
		uint64_t sc;

		if (!usable(n))
			continue;
		trust = n->updated_ns && now - n->updated_ns <= s->cfg.stale_ns;
		if (trust && (n->cpu_pct_x100 >= cpu_max ||
			      (m->size_hint_kib &&
			       n->mem_free_kib <= (uint64_t)s->cfg.mem_factor * m->size_hint_kib)))
			continue;
		sc = score(s, n, id, trust, now);
		if (sc < best_score) {
			best = id;
			best_score = sc;
		}
	}
	return best;
}

/* choose() of the gateway, P2C policy. Returns a node id, or 0 if none is eligible. */
static uint32_t choose(struct snap *s, const struct ep_msg *m, uint64_t h, uint64_t now,
		       uint64_t *c)
{
	uint32_t a = table_at(s, h), b = table_at(s, h >> EP_GW_CHOICE_SHIFT);
	uint32_t cpu_max = s->cfg.cpu_max_x100[m->priority & 7];
	const struct ep_gw_node *na, *nb;
	bool ta, tb, ea, eb;

	if (b == a)
		b = table_at(s, h >> (2 * EP_GW_CHOICE_SHIFT));
	na = node_at(s, a);
	nb = node_at(s, b);
	ta = usable(na) && !stale(s, na, now);
	tb = usable(nb) && !stale(s, nb, now);
	if (a && b && usable(na) && usable(nb) && !ta && !tb) {
		c[C_STALE]++;
		return a;
	}
	ea = a && ta && fits(s, na, m, cpu_max);
	eb = b && tb && fits(s, nb, m, cpu_max);
	if (ea && eb) {
		c[C_P2C]++;
		return score(s, na, a, true, now) <= score(s, nb, b, true, now) ? a : b;
	}
	if (ea || eb) {
		c[C_P2C]++;
		return ea ? a : b;
	}
	c[C_SCAN]++;
	return scan_best(s, m, h, now);
}

/* --- the snapshot ------------------------------------------------------------------- */

/* @n consecutive entries of an array map from key @first, in one call where the kernel
 * has batch lookups. */
static int read_range(int fd, uint32_t first, uint32_t n, void *vals, size_t vsize)
{
	static uint32_t keys[EP_GW_TABLE_SIZE];
	uint32_t prev = first - 1, count = n;
	LIBBPF_OPTS(bpf_map_batch_opts, opts);

	if (!bpf_map_lookup_batch(fd, first ? &prev : NULL, &prev, keys, vals, &count, &opts) &&
	    count == n)
		return 0;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t k = first + i;

		if (bpf_map_lookup_elem(fd, &k, (char *)vals + i * vsize))
			return -errno;
	}
	return 0;
}

/* Point the socket of node @id at @to (none if its address is 0). */
static void connect_node(struct snap *s, uint32_t id, const struct sockaddr_in *to)
{
	if (s->fd[id] >= 0 && !memcmp(&s->to[id], to, sizeof(*to)))
		return;
	if (s->fd[id] >= 0)
		close(s->fd[id]);
	s->fd[id] = -1;
	s->to[id] = *to;
	if (!to->sin_addr.s_addr)
		return;
	s->fd[id] = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s->fd[id] >= 0 && connect(s->fd[id], (const struct sockaddr *)to, sizeof(*to))) {
		close(s->fd[id]);
		s->fd[id] = -1;
	}
}

static int refresh(struct ep_gw *gw, struct snap *s, uint16_t node_port)
{
	static struct ep_gw_node nodes[EP_GW_MAX_NODES];
	uint32_t key[EP_GW_MAX_NODES][2];
	struct ep_gw_cfg cfg, after;
	uint32_t half, bits;
	int err;

	for (int tries = 0; tries < 3; tries++) {
		if ((err = ep_gw_read_cfg(gw, &cfg)))
			return err;
		half = cfg.active & 1;
		bits = cfg.table_bits[half];
		if (bits < EP_GW_TABLE_MIN_BITS || bits > EP_GW_TABLE_MAX_BITS)
			bits = EP_GW_TABLE_MIN_BITS; /* as XDP reads it */
		if ((err = read_range(ep_gw_map_fd(gw, EP_GW_PIN_NODES), half * EP_GW_MAX_NODES,
				      EP_GW_MAX_NODES, nodes, sizeof(nodes[0]))))
			return err;
		/* A half's table is built from its nodes' membership and capacities (control/
		 * table.c), published with them: unchanged key, unchanged table. */
		for (uint32_t id = 0; id < EP_GW_MAX_NODES; id++) {
			key[id][0] = nodes[id].flags &
				     (EP_NODE_F_PRESENT | EP_NODE_F_DRAINED | EP_NODE_F_OVERFLOW);
			key[id][1] = nodes[id].capacity;
		}
		if (!s->have_table || bits != s->table_bits ||
		    memcmp(key, s->table_key, sizeof(key))) {
			s->have_table = false;
			if ((err = read_range(ep_gw_map_fd(gw, EP_GW_PIN_TABLE),
					      half * EP_GW_TABLE_SIZE, 1u << bits, s->table,
					      sizeof(s->table[0]))))
				return err;
		}
		if ((err = ep_gw_read_cfg(gw, &after)))
			return err;
		/* The controller writes only the inactive half: one flip while we read is
		 * harmless, a second would mean our half was rewritten under us. */
		if (after.generation - cfg.generation <= 1)
			break;
	}
	memcpy(s->table_key, key, sizeof(key));
	s->table_bits = bits;
	s->have_table = true;
	for (uint32_t id = 0; id < EP_GW_MAX_NODES; id++) {
		struct sockaddr_in to = { .sin_family = AF_INET,
					  .sin_addr.s_addr = nodes[id].ip4,
					  .sin_port = htons(node_port ?: cfg.port) };

		/* A newly published load counts every task sent before the report. */
		if (nodes[id].updated_ns != s->nodes[id].updated_ns)
			s->sent[id] = 0;
		connect_node(s, id, &to);
	}
	memcpy(s->nodes, nodes, sizeof(nodes));
	s->cfg = cfg;
	return 0;
}

/* --- the proxy ---------------------------------------------------------------------- */

struct proxy {
	int fd;
	uint8_t buf[BATCH][BUF];
	struct sockaddr_in from[BATCH];
	struct iovec iov[BATCH], oiov[BATCH];
	struct mmsghdr in[BATCH], out[BATCH];
	uint64_t c[C__COUNT];
	uint64_t per_node[EP_GW_MAX_NODES];
};

/* Send p->out[0..n) on @fd, skipping a message the kernel refuses. */
static void send_all(struct proxy *p, int fd, unsigned int n)
{
	unsigned int done = 0;

	while (done < n) {
		int r = sendmmsg(fd, p->out + done, n - done, 0);

		if (r <= 0) { /* the first message failed (ENOBUFS...): skip it */
			p->c[C_TX_ERROR]++;
			done++;
			continue;
		}
		p->c[C_FWD] += (unsigned int)r;
		done += (unsigned int)r;
	}
}

static void forward_batch(struct proxy *p, struct snap *s, unsigned int n, uint64_t now)
{
	uint32_t to[BATCH], used[BATCH], nused = 0;
	bool seen[EP_GW_MAX_NODES] = { false };

	for (unsigned int i = 0; i < n; i++) {
		struct ep_msg m;
		uint32_t id;

		to[i] = 0;
		p->c[C_RX]++;
		if ((p->in[i].msg_hdr.msg_flags & MSG_TRUNC) ||
		    p->in[i].msg_hdr.msg_namelen != sizeof(p->from[i]) || !p->from[i].sin_port ||
		    ep_decode(p->buf[i], p->in[i].msg_len, 0, &m, NULL, NULL) ||
		    !EP_KIND_IS_SERVER_BOUND(m.kind)) {
			p->c[C_INVALID]++;
			continue;
		}
		id = choose(s, &m, flow_hash(&p->from[i], m.task_id), now, p->c);
		if (!id || s->fd[id] < 0) {
			p->c[C_OVERFLOW]++;
			continue;
		}
		s->sent[id]++;
		p->per_node[id]++;
		to[i] = id;
		if (!seen[id]) {
			seen[id] = true;
			used[nused++] = id;
		}
	}
	/* One sendmmsg per node, on its connected socket. */
	for (uint32_t u = 0; u < nused; u++) {
		unsigned int k = 0;

		for (unsigned int i = 0; i < n; i++) {
			if (to[i] != used[u])
				continue;
			p->oiov[k] = (struct iovec){ p->buf[i], p->in[i].msg_len };
			p->out[k] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &p->oiov[k],
								   .msg_iovlen = 1 } };
			k++;
		}
		send_all(p, s->fd[used[u]], k);
	}
}

static int open_socket(const char *listen, uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct timeval tv = { 0, 10000 }; /* recvmmsg returns at least every 10 ms */
	int fd, sz = 8 << 20;

	if (listen && inet_pton(AF_INET, listen, &sa.sin_addr) != 1)
		return -EINVAL;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)))
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: epproxy --pin-dir DIR [--listen ADDR[:PORT]] [--node-port N]\n"
		   "               [--duration S] [--refresh-ms N]\n");
}

/* --listen ADDR[:PORT]: the address (empty: any) and the port (0: the gateway's). */
struct listen_arg {
	char host[64];
	uint16_t port;
};

static int listen_arg(const char *arg, void *dst)
{
	struct listen_arg *la = dst;
	const char *colon = strrchr(arg, ':');

	snprintf(la->host, sizeof(la->host), "%.*s", colon ? (int)(colon - arg) : (int)strlen(arg),
		 arg);
	if (colon)
		la->port = (uint16_t)tool_num("--listen port", colon + 1, 1, 65535);
	return 0;
}

int main(int argc, char **argv)
{
	static struct proxy p;
	static struct snap s;
	struct sigaction sa = { .sa_handler = on_signal };
	const char *pin_dir = NULL, *listen;
	struct listen_arg la = { .host = "" };
	uint16_t node_port = 0;
	uint32_t refresh_ms = 10;
	uint64_t refresh_ns, t0, end, last, now;
	double duration = 60;
	const struct tool_opt table[] = {
		OPT_STR("pin-dir", pin_dir),
		OPT_FN("listen", listen_arg, &la),
		OPT_NUM("node-port", node_port, 1, 65535),
		OPT_REAL("duration", duration),
		OPT_NUM("refresh-ms", refresh_ms, 1, 10000),
		{ 0 },
	};
	struct ep_gw *gw;
	int optend, err;

	ep_log_set_ident("epproxy");
	ep_log_route_libs();
	optend = tool_opts(argc, argv, table, usage);
	listen = la.host[0] ? la.host : NULL;
	refresh_ns = (uint64_t)refresh_ms * 1000000;
	if (optend < argc || !pin_dir || !(duration > 0) || duration > 600) {
		usage(stderr);
		return 2;
	}
	for (int id = 0; id < EP_GW_MAX_NODES; id++)
		s.fd[id] = -1;
	err = ep_gw_open(pin_dir, &gw);
	if (err)
		return 1;
	err = refresh(gw, &s, node_port);
	if (err) {
		pr_err("read the gateway maps in %s: %s", pin_dir, strerror(-err));
		goto err_close_gw;
	}
	if (s.cfg.policy != EP_GW_POLICY_P2C)
		pr_warn("the gateway's policy is not p2c: epproxy mirrors p2c only");
	p.fd = open_socket(listen, la.port ?: s.cfg.port);
	if (p.fd < 0) {
		err = p.fd;
		pr_err("--listen %s:%u: %s", listen ? listen : "0.0.0.0", la.port ?: s.cfg.port,
		       strerror(-err));
		goto err_close_gw;
	}
	for (int i = 0; i < BATCH; i++)
		p.iov[i] = (struct iovec){ p.buf[i], BUF };
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	printf("{\"ready\":true}\n");
	fflush(stdout);

	t0 = last = mono_ns();
	end = t0 + (uint64_t)(duration * 1e9);
	while (!stop && (now = mono_ns()) < end) {
		int n;

		if (now - last >= refresh_ns) {
			p.c[refresh(gw, &s, node_port) ? C_REFRESH_ERROR : C_REFRESH]++;
			last = now;
		}
		for (int i = 0; i < BATCH; i++)
			p.in[i] = (struct mmsghdr){ .msg_hdr = { .msg_name = &p.from[i],
								 .msg_namelen = sizeof(p.from[i]),
								 .msg_iov = &p.iov[i],
								 .msg_iovlen = 1 } };
		n = recvmmsg(p.fd, p.in, BATCH, MSG_WAITFORONE, NULL);
		if (n > 0) {
			p.c[C_BATCHES]++;
			forward_batch(&p, &s, (unsigned int)n, mono_ns());
		}
	}

	printf("{\"mode\":\"proxy\",\"seconds\":%.3f", (mono_ns() - t0) / 1e9);
	for (int i = 0; i < C__COUNT; i++)
		printf(",\"%s\":%llu", cnames[i], (unsigned long long)p.c[i]);
	printf(",\"per_node\":{");
	for (uint32_t id = 1, first = 1; id < EP_GW_MAX_NODES; id++)
		if (p.per_node[id]) {
			printf("%s\"%u\":%llu", first ? "" : ",", id,
			       (unsigned long long)p.per_node[id]);
			first = 0;
		}
	printf("}}\n");
	close(p.fd);
	err = 0;
err_close_gw:
	for (int id = 0; id < EP_GW_MAX_NODES; id++)
		if (s.fd[id] >= 0)
			close(s.fd[id]);
	ep_gw_close(gw, false);
	return err ? 1 : 0;
}
