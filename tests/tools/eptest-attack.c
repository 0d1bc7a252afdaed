// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * eptest-attack - what a hostile (or merely careless) client does to the runtime's result
 * cache and reassembly, for the integration tests. Each subcommand prints one JSON line
 * and is bounded in datagrams and time.
 *
 *   replay      one task, then replays of it: another task type with the same id, header-
 *               only requests with the same id, a burst and a spaced series of the genuine
 *               first datagram; counts what comes back per phase
 *   first-frags first fragments of huge declared tasks from given source addresses
 *   task        one multi-fragment echo task, up to --attempts attempts; its outcome
 *   cancel      part of a task, CANCEL, then the rest of it and a whole retry
 *   cache-flood a task that waits for its batch, a flood of other tasks, retries of the
 *               first; how many times it ran (the "count" test plugin's answer)
 */
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#include "edgeplane/codec.h"
#include "edgeplane/payload.h"
#include "opts.h"
#include "raw.h"

#define MAX_SRCS 32
#define MAX_REQ	 (1u << 20)

static struct sockaddr_storage to;
static socklen_t to_len;
static uint32_t frag_size;
static uint8_t dgram[65536];

static void usage(FILE *f)
{
	fprintf(f, "Usage: eptest-attack COMMAND --to ADDR [options]\n"
		   "  replay      [--size N] [--type T] [--conflict-type T] [--header-only N]\n"
		   "              [--burst N] [--spaced N] [--spacing-ms MS]\n"
		   "  first-frags --from ADDR[,ADDR...] [--count N] [--total BYTES]\n"
		   "  task        [--from ADDR] [--size N] [--type T] [--attempts N]\n"
		   "  cancel      [--size N] [--type T]\n"
		   "  cache-flood [--type T] [--flood N] [--flood-type T] [--retry-after-ms MS]\n"
		   "common: [--port N] [--mtu N] [--sport N] [--id N]\n");
}

static int open_sock(const char *from, uint16_t sport)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd, rcv = 32 << 20;

	fd = socket(to.ss_family, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		perror("socket");
		exit(1);
	}
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof(rcv)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	if (from || sport) {
		if (from) {
			if (tool_addr(from, sport, &ss, &sl))
				exit(2);
		} else {
			memset(&ss, 0, sizeof(ss));
			ss.ss_family = to.ss_family;
			/* sin_port and sin6_port are at the same offset */
			((struct sockaddr_in *)&ss)->sin_port = htons(sport);
			sl = to.ss_family == AF_INET ? sizeof(struct sockaddr_in)
						     : sizeof(struct sockaddr_in6);
		}
		if (bind(fd, (struct sockaddr *)&ss, sl)) {
			fprintf(stderr, "bind %s:%u: %s\n", from ? from : "*", sport,
				strerror(errno));
			exit(1);
		}
	}
	return fd;
}

static void send_raw(int fd, const void *buf, size_t len)
{
	for (int tries = 0; sendto(fd, buf, len, 0, (struct sockaddr *)&to, to_len) < 0; tries++) {
		if ((errno != EAGAIN && errno != ENOBUFS) || tries > 20000) {
			perror("sendto");
			exit(1);
		}
		usleep(50);
	}
}

/* Send fragment @i of @m's task over @payload/@total; returns the datagram's length. */
static size_t send_frag(int fd, const struct ep_msg *m, const uint8_t *payload, uint32_t total,
			uint32_t i)
{
	ssize_t n = ep_frag_build(m, payload, total, frag_size, i, dgram, sizeof(dgram));

	if (n < 0) {
		fprintf(stderr, "encode: %s\n", strerror((int)-n));
		exit(1);
	}
	send_raw(fd, dgram, (size_t)n);
	return (size_t)n;
}

/* What came back for one task id during a phase. */
struct tally {
	long responses;	  /* replies begun: RESPONSE fragments with index 0 */
	long frags;	  /* RESPONSE fragments */
	long errors;	  /* ERROR messages */
	long retries;	  /* RETRY messages */
	long bytes;	  /* UDP payload bytes of all of them */
	int last_status;  /* of the last ERROR */
	long reply_frags; /* frag_count of the RESPONSE */
	uint64_t runs;	  /* "count" plugin: the largest run counter seen */
	uint8_t *got;	  /* RESPONSE fragment indices seen (first reply) */
	uint8_t *data;	  /* RESPONSE payload (first reply) */
	uint32_t data_len;
	long distinct;
};

/* Collect replies for @id on @fd for @ms milliseconds, or until @until_complete and one
 * whole RESPONSE (or an ERROR) arrived. */
static void collect(int fd, uint64_t id, int ms, bool until_complete, struct tally *t)
{
	double end = tool_now() + ms / 1e3;

	while (tool_now() < end) {
		const uint8_t *pl;
		struct ep_msg r;
		ssize_t n;

		if (!tool_wait_in(fd, end, 5))
			continue;
		/* Every datagram waiting (the socket does not block). */
		while ((n = raw_recv_msg(fd, dgram, sizeof(dgram), &r, &pl)) >= 0) {
			if (!n || r.task_id != id)
				continue;
			t->bytes += n;
			if (r.kind == EP_KIND_ERROR) {
				t->errors++;
				t->last_status = r.status;
			} else if (r.kind == EP_KIND_RETRY) {
				t->retries++;
			} else if (r.kind == EP_KIND_RESPONSE) {
				t->frags++;
				t->responses += r.frag_index == 0;
				t->reply_frags = r.frag_count;
				if (r.frag_index == 0 && r.payload_len >= 8) {
					uint64_t v = 0;

					for (int b = 0; b < 8; b++)
						v = v << 8 | pl[b];
					if (v > t->runs)
						t->runs = v;
				}
				if (!t->got) {
					t->got = calloc(r.frag_count, 1);
					t->data = malloc(r.total_len + 1);
					t->data_len = r.total_len;
				}
				if (r.total_len == t->data_len && !t->got[r.frag_index]) {
					t->got[r.frag_index] = 1;
					memcpy(t->data + r.frag_offset, pl, r.payload_len);
					t->distinct++;
				}
			}
		}
		if (until_complete && (t->errors || (t->got && t->distinct == t->reply_frags)))
			return;
	}
}

static void tally_json(const char *name, long sent, long sent_bytes, const struct tally *t,
		       bool comma)
{
	printf("\"%s\":{\"sent\":%ld,\"sent_bytes\":%ld,\"responses\":%ld,\"frags\":%ld,"
	       "\"errors\":%ld,\"retries\":%ld,\"status\":%d,\"bytes\":%ld}%s",
	       name, sent, sent_bytes, t->responses, t->frags, t->errors, t->retries,
	       t->last_status, t->bytes, comma ? "," : "");
}

static void tally_free(struct tally *t)
{
	free(t->got);
	free(t->data);
	memset(t, 0, sizeof(*t));
}

static void fill(uint8_t *p, uint32_t n, uint32_t seed)
{
	for (uint32_t i = 0, x = seed | 1; i < n; i++) {
		x ^= x << 13, x ^= x >> 17, x ^= x << 5;
		p[i] = (uint8_t)x;
	}
}

static void sleep_ms(int ms)
{
	usleep((useconds_t)ms * 1000);
}

struct opts {
	const char *from;
	long size, type, conflict_type, header_only, burst, spaced, spacing_ms, count, total;
	long attempts, flood, flood_type, retry_after_ms, sport;
	uint64_t id;
};

/* A message of @kind, default priority, tenant 1, task @type and @id. */
static struct ep_msg msg_of(uint8_t kind, uint16_t type, uint64_t id)
{
	return (struct ep_msg){ .kind = kind,
				.priority = EP_PRIO_DEFAULT,
				.task_type = type,
				.tenant_id = 1,
				.task_id = id };
}

static int cmd_replay(const struct opts *o)
{
	static uint8_t payload[MAX_REQ];
	struct ep_msg m = msg_of(EP_KIND_REQUEST, (uint16_t)o->type, o->id);
	uint32_t count = ep_frag_count((uint32_t)o->size, frag_size);
	int fd = open_sock(o->from, (uint16_t)o->sport);
	struct tally first = { 0 }, conflict = { 0 }, hdr = { 0 }, burst = { 0 }, spaced = { 0 };
	long req_bytes = 0, hdr_bytes = 0, d0_len, attempt;
	static uint8_t d0[65536];

	fill(payload, (uint32_t)o->size, 7);
	for (attempt = 0; attempt < 3 && !(first.got && first.distinct == first.reply_frags);
	     attempt++) {
		if (attempt)
			m.flags |= EP_F_RETRY;
		for (uint32_t i = 0; i < count; i++) {
			req_bytes += (long)send_frag(fd, &m, payload, (uint32_t)o->size, i);
			if (i % 64 == 63)
				usleep(200); /* the veth's queue is not a bottomless pit */
		}
		collect(fd, m.task_id, 1500, true, &first);
	}
	m.flags &= (uint8_t)~EP_F_RETRY;
	d0_len = ep_frag_build(&m, payload, (uint32_t)o->size, frag_size, 0, d0, sizeof(d0));
	collect(fd, m.task_id, 30, false, &first); /* the rest of a duplicate reply */

	if (o->conflict_type) {
		struct ep_msg c = m;

		c.task_type = (uint16_t)o->conflict_type;
		sleep_ms(20);
		send_frag(fd, &c, payload, (uint32_t)o->size, 0);
		collect(fd, m.task_id, 150, false, &conflict);
	}
	if (o->header_only) {
		struct ep_msg h = m;

		sleep_ms(20);
		for (long i = 0; i < o->header_only; i++) {
			hdr_bytes += (long)send_frag(fd, &h, NULL, 0, 0);
			usleep(1000);
		}
		collect(fd, m.task_id, 200, false, &hdr);
	}
	if (o->burst) {
		sleep_ms(20);
		for (long i = 0; i < o->burst; i++)
			send_raw(fd, d0, (size_t)d0_len);
		collect(fd, m.task_id, 200, false, &burst);
	}
	if (o->spaced) {
		for (long i = 0; i < o->spaced; i++) {
			sleep_ms((int)o->spacing_ms);
			send_raw(fd, d0, (size_t)d0_len);
			collect(fd, m.task_id, 0, false, &spaced);
		}
		collect(fd, m.task_id, 200, false, &spaced);
	}
	printf("{\"request_bytes\":%ld,\"request_frags\":%u,\"reply_bytes\":%ld,"
	       "\"reply_frags\":%ld,\"complete\":%s,\"intact\":%s,",
	       req_bytes / attempt, count, first.bytes, first.reply_frags,
	       first.got && first.distinct == first.reply_frags ? "true" : "false",
	       first.data && first.data_len == (uint32_t)o->size &&
			       !memcmp(first.data, payload, (size_t)o->size)
		       ? "true"
		       : "false");
	tally_json("conflict", o->conflict_type ? 1 : 0, o->conflict_type ? d0_len : 0, &conflict,
		   true);
	tally_json("header_only", o->header_only, hdr_bytes, &hdr, true);
	tally_json("burst", o->burst, o->burst * d0_len, &burst, true);
	tally_json("spaced", o->spaced, o->spaced * d0_len, &spaced, false);
	printf("}\n");
	tally_free(&first);
	tally_free(&conflict);
	tally_free(&hdr);
	tally_free(&burst);
	tally_free(&spaced);
	close(fd);
	return 0;
}

static int cmd_first_frags(const struct opts *o)
{
	char list[1024], *save = NULL, *a;
	static uint8_t frag[65536];
	struct ep_msg m = msg_of(EP_KIND_REQUEST, (uint16_t)o->type, 0);
	long sent = 0, srcs = 0;

	if (!o->from) {
		fprintf(stderr, "first-frags: --from ADDR[,ADDR...] is required\n");
		return 2;
	}
	if (ep_frag_count((uint32_t)o->total, frag_size) < 2) {
		fprintf(stderr, "first-frags: --total must take more than one fragment\n");
		return 2;
	}
	snprintf(list, sizeof(list), "%s", o->from);
	for (a = strtok_r(list, ",", &save); a && srcs < MAX_SRCS; a = strtok_r(NULL, ",", &save)) {
		int fd = open_sock(a, 0);

		for (long i = 0; i < o->count; i++) {
			ssize_t n;

			m.task_id = o->id + (uint64_t)srcs * 1000000 + (uint64_t)i;
			/* Fragment 0 reads only its own frag_size bytes of the payload. */
			n = ep_frag_build(&m, frag, (uint32_t)o->total, frag_size, 0, dgram,
					  sizeof(dgram));
			if (n < 0) {
				fprintf(stderr, "encode: %s\n", strerror((int)-n));
				return 1;
			}
			send_raw(fd, dgram, (size_t)n);
			sent++;
			if (sent % 32 == 0)
				usleep(500);
		}
		close(fd);
		srcs++;
	}
	printf("{\"sources\":%ld,\"sent\":%ld}\n", srcs, sent);
	return 0;
}

static int cmd_task(const struct opts *o)
{
	static uint8_t payload[MAX_REQ];
	struct ep_msg m = msg_of(EP_KIND_REQUEST, (uint16_t)o->type, o->id);
	uint32_t count = ep_frag_count((uint32_t)o->size, frag_size);
	int fd = open_sock(o->from, (uint16_t)o->sport);
	struct tally t = { 0 };
	long attempt;
	bool whole = false;

	fill(payload, (uint32_t)o->size, 11);
	for (attempt = 1; attempt <= o->attempts; attempt++) {
		if (attempt > 1)
			m.flags |= EP_F_RETRY;
		for (uint32_t i = 0; i < count; i++) {
			send_frag(fd, &m, payload, (uint32_t)o->size, i);
			if (i % 64 == 63)
				usleep(200);
		}
		tally_free(&t);
		collect(fd, m.task_id, 1000, true, &t);
		whole = t.got && t.distinct == t.reply_frags;
		if (whole || (t.errors && t.last_status != EP_ST_OVERLOADED &&
			      t.last_status != EP_ST_TIMEOUT))
			break;
		if (t.errors)
			sleep_ms(100);
	}
	printf("{\"attempts\":%ld,\"complete\":%s,\"intact\":%s,\"errors\":%ld,\"status\":%d}\n",
	       attempt > o->attempts ? o->attempts : attempt, whole ? "true" : "false",
	       whole && t.data_len == (uint32_t)o->size && !memcmp(t.data, payload, (size_t)o->size)
		       ? "true"
		       : "false",
	       t.errors, t.last_status);
	tally_free(&t);
	close(fd);
	return 0;
}

static int cmd_cancel(const struct opts *o)
{
	static uint8_t payload[MAX_REQ];
	struct ep_msg m = msg_of(EP_KIND_REQUEST, (uint16_t)o->type, o->id);
	struct ep_msg c = msg_of(EP_KIND_CANCEL, (uint16_t)o->type, o->id);
	uint32_t count = ep_frag_count((uint32_t)o->size, frag_size);
	int fd = open_sock(o->from, (uint16_t)o->sport);
	struct tally answer = { 0 }, late = { 0 };

	if (count < 4) {
		fprintf(stderr, "cancel: --size must take at least 4 fragments\n");
		return 2;
	}
	fill(payload, (uint32_t)o->size, 13);
	for (uint32_t i = 0; i < count / 2; i++)
		send_frag(fd, &m, payload, (uint32_t)o->size, i);
	sleep_ms(20);
	send_frag(fd, &c, NULL, 0, 0);
	collect(fd, m.task_id, 400, true, &answer);
	/* The rest of the first attempt, late, then a whole retry. */
	for (uint32_t i = count / 2; i < count; i++)
		send_frag(fd, &m, payload, (uint32_t)o->size, i);
	sleep_ms(30);
	m.flags |= EP_F_RETRY;
	for (uint32_t i = 0; i < count; i++)
		send_frag(fd, &m, payload, (uint32_t)o->size, i);
	collect(fd, m.task_id, 400, false, &late);
	printf("{\"answer\":{\"errors\":%ld,\"status\":%d,\"responses\":%ld},"
	       "\"late\":{\"errors\":%ld,\"status\":%d,\"responses\":%ld}}\n",
	       answer.errors, answer.last_status, answer.responses, late.errors, late.last_status,
	       late.responses);
	tally_free(&answer);
	tally_free(&late);
	close(fd);
	return 0;
}

static int cmd_cache_flood(const struct opts *o)
{
	struct ep_msg x = msg_of(EP_KIND_REQUEST, (uint16_t)o->type, o->id);
	struct ep_msg f = msg_of(EP_KIND_REQUEST, (uint16_t)o->flood_type, 0);
	int xfd = open_sock(o->from, (uint16_t)o->sport), ffd = open_sock(o->from, 0);
	uint8_t px[16] = "count me once", pf[32] = { 0 };
	struct tally t = { 0 };
	double t0, retry_at;
	long flooded = 0, retried = 0;

	send_frag(xfd, &x, px, sizeof(px), 0);
	t0 = tool_now();
	retry_at = t0 + o->retry_after_ms / 1e3;
	x.flags |= EP_F_RETRY;
	while (flooded < o->flood || retried < 2) {
		if (flooded < o->flood) {
			f.task_id = o->id + 1000 + (uint64_t)flooded;
			send_frag(ffd, &f, pf, sizeof(pf), 0);
			if (++flooded % 16 == 0)
				usleep(300);
			/* Drain the flood's replies so its socket never backs up. */
			while (recv(ffd, dgram, sizeof(dgram), 0) >= 0)
				;
		} else {
			usleep(1000);
		}
		if (retried < 2 && tool_now() >= retry_at) {
			send_frag(xfd, &x, px, sizeof(px), 0);
			retried++;
			retry_at += 0.15;
		}
		if (tool_now() - t0 > 5)
			break;
	}
	collect(xfd, x.task_id, 1200, false, &t);
	printf("{\"flooded\":%ld,\"retried\":%ld,\"responses\":%ld,\"runs\":%llu,\"errors\":%ld,"
	       "\"status\":%d}\n",
	       flooded, retried, t.responses, (unsigned long long)t.runs, t.errors, t.last_status);
	tally_free(&t);
	close(xfd);
	close(ffd);
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = { .size = 1000,
			  .type = EP_TT_ECHO,
			  .spacing_ms = 15,
			  .count = 1,
			  .total = 16u << 20,
			  .attempts = 3,
			  .flood = 500,
			  .flood_type = EP_TT_ECHO,
			  .retry_after_ms = 100 };
	const char *dst = NULL, *cmd;
	long port = EP_DEFAULT_PORT, mtu = 1500;
	const struct tool_opt table[] = {
		OPT_STR("to", dst),
		OPT_NUM("port", port, 1, 65535),
		OPT_NUM("mtu", mtu, 576, 9000),
		OPT_STR("from", o.from),
		OPT_NUM("sport", o.sport, 0, 65535),
		OPT_NUM("id", o.id, 1, 1L << 62),
		OPT_NUM("size", o.size, 0, MAX_REQ),
		OPT_NUM("type", o.type, 1, 65535),
		OPT_NUM("conflict-type", o.conflict_type, 1, 65535),
		OPT_NUM("header-only", o.header_only, 0, 1000),
		OPT_NUM("burst", o.burst, 0, 1000),
		OPT_NUM("spaced", o.spaced, 0, 1000),
		OPT_NUM("spacing-ms", o.spacing_ms, 0, 1000),
		OPT_NUM("count", o.count, 1, 10000),
		OPT_NUM("total", o.total, 1, EP_MAX_TASK_LEN),
		OPT_NUM("attempts", o.attempts, 1, 10),
		OPT_NUM("flood", o.flood, 0, 100000),
		OPT_NUM("flood-type", o.flood_type, 1, 65535),
		OPT_NUM("retry-after-ms", o.retry_after_ms, 0, 5000),
		{ 0 },
	};

	if (argc < 2 || argv[1][0] == '-') {
		usage(argc > 1 && !strcmp(argv[1], "--help") ? stdout : stderr);
		return argc > 1 && !strcmp(argv[1], "--help") ? 0 : 2;
	}
	cmd = argv[1];
	optind = 2;
	o.id = (uint64_t)getpid() << 24;
	if (tool_opts(argc, argv, table, usage) != argc || !dst) {
		usage(stderr);
		return 2;
	}
	if (tool_addr(dst, (unsigned int)port, &to, &to_len))
		return 2;
	frag_size = ep_frag_size_for_mtu((uint32_t)mtu, to.ss_family == AF_INET6);
	if (!strcmp(cmd, "replay"))
		return cmd_replay(&o);
	if (!strcmp(cmd, "first-frags"))
		return cmd_first_frags(&o);
	if (!strcmp(cmd, "task"))
		return cmd_task(&o);
	if (!strcmp(cmd, "cancel"))
		return cmd_cancel(&o);
	if (!strcmp(cmd, "cache-flood"))
		return cmd_cache_flood(&o);
	fprintf(stderr, "unknown command '%s'\n", cmd);
	usage(stderr);
	return 2;
}
