// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * eptest-auth - a device with a session key (docs/protocol.md 3.5), for the tests: seals
 * tasks, PINGs and CANCELs with a key read from a keys file, opens the node's sealed
 * replies, checks the results, and can break each rule on purpose. Bounded: --count tasks,
 * --wait-ms for each task's reply. One JSON line out.
 *
 *   eptest-auth send --to ADDR --keys FILE --key-id N [--node-id N] [options]
 *   eptest-auth replay --to ADDR --in FILE [--bind ADDR] [--sport N] [--wait-ms N]
 *   eptest-auth reports --bind ADDR --sport N --keys FILE --key-id N --node-id N
 *               [--count N] [--wait-ms N]
 *
 * send: a task of --type (1, echo) with --size bytes (a pattern; or the bytes of --in),
 * fragmented to fit --mtu, sealed as the device (sender 0) with pn = (s << 40) | c:
 * s = whole seconds since the key's issue (issued_unix_ms, as a device that got it then
 * would count; --secs-off adds to it), c from --ctr-file (the next free counter, kept
 * there) or else the microseconds since the key's issue. Replies must be sealed with the
 * same key by sender --node-id (0: by any node, as behind a gateway); a RESPONSE of echo must be
 * the payload, of checksum the payload's CRC-32 and XXH3-64. Breaking a rule: --tamper
 * tag|ciphertext (one bit after sealing), --tenant, --priority, --plain (no AUTH at all). --save
 * FILE writes the sealed datagrams (a be16 length before each) for replay, which sends them again
 * verbatim.
 * --zeros makes the payload zero bytes, --zstd sends it compressed (flag ZSTD: a small
 * task that inflates), --plain-reply asks the reply uncompressed (PLAIN_REPLY). --resend
 * IDX (0.., or "last") sends fragment IDX of each task again, alone, --resends times
 * (1), 30 ms apart, after its reply came (a retry the node answers from its result cache),
 * each sealed anew.
 *
 * Output: {"sent":datagrams,"tasks":N,"replies":datagrams,"sealed":N,"opened":N,
 * "bad":N (sealed but not opening, or not our key),"plain":N (unsealed),"responses":N,
 * "errors":N,"status":"last ERROR's status","text":"its text","pongs":N,"results_ok":N,
 * "results_bad":N,"lost":N (tasks without a complete reply),"bytes_sent":UDP payload
 * bytes of the tasks,"bytes_back":UDP payload bytes of every datagram received for them,
 * "resent":datagrams of --resend,"resent_bytes","resent_back":bytes received after them,
 * "resent_status":the last status answering them ("RESPONSE", an ERROR's, "" if none)}.
 *
 * reports: a controller's ear: takes LOAD_REPORTs on --bind:--sport until --count came or
 * --wait-ms passed; {"received":N,"sealed":N,"opened":N (with the key, from --node-id),
 * "bad":N,"node_id":the last opened report's node_id field}.
 */
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>
#include <xxhash.h>
#include <zlib.h>
#include <zstd.h>

#include "edgeplane/auth.h"
#include "edgeplane/codec.h"
#include "edgeplane/enroll.h"
#include "edgeplane/payload.h"
#include "opts.h"

#define MAX_DGRAM 65536

struct opts {
	const char *to, *bind, *keys, *in, *save, *ctr_file, *tamper;
	unsigned int port, sport, key_id, node_id, count, wait_ms, mtu;
	int type, priority, kind;
	long long tenant; /* -1: the key's */
	long long secs_off;
	uint32_t size;
	uint64_t task_id;
	bool plain, ipv6, zeros, zstd, plain_reply;
	int resend; /* fragment to send again; -1: none, -2: the last */
	unsigned int resends;
};

struct result {
	unsigned long sent, tasks, replies, sealed, opened, bad, plain, responses, errors, pongs;
	unsigned long results_ok, results_bad, lost;
	unsigned long long bytes_sent, bytes_back;
	unsigned long resent;
	unsigned long long resent_bytes, resent_back;
	char status[32], text[260], resent_status[32];
};

static struct sockaddr_storage dst;
static socklen_t dst_len;

static int open_socket(const struct opts *o)
{
	int fd = socket(dst.ss_family, SOCK_DGRAM, 0);

	if (fd < 0) {
		perror("socket");
		exit(1);
	}
	if (o->bind || o->sport) {
		struct sockaddr_storage ss;
		socklen_t len;
		int one = 1;

		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (tool_addr(o->bind			  ? o->bind
			      : dst.ss_family == AF_INET6 ? "::"
							  : "0.0.0.0",
			      o->sport, &ss, &len) ||
		    bind(fd, (struct sockaddr *)&ss, len)) {
			perror("bind");
			exit(1);
		}
	}
	return fd;
}

/* --- the key --------------------------------------------------------------------------- */

static void load_key(const char *path, unsigned int id, struct ep_key_info *k)
{
	json_error_t jerr;
	json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr), *o;
	char err[160];
	size_t i;

	if (!root || !json_is_array(root)) {
		fprintf(stderr, "%s: %s\n", path, root ? "not a JSON array" : jerr.text);
		exit(2);
	}
	json_array_foreach(root, i, o)
	{
		if (ep_key_info_parse(o, k, err, sizeof(err))) {
			fprintf(stderr, "%s: key %zu: %s\n", path, i, err);
			exit(2);
		}
		if (k->key_id == id) {
			json_decref(root);
			return;
		}
	}
	fprintf(stderr, "%s: no key %u\n", path, id);
	exit(2);
}

static uint64_t unix_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The first of @n counters: from the counter file (which then holds the next free one),
 * or the microseconds since the key's issue. */
static uint64_t take_ctrs(const struct opts *o, const struct ep_key_info *k, uint64_t n)
{
	uint64_t c = (unix_ms() - k->issued_unix_ms) * 1000;
	FILE *f;

	if (!o->ctr_file)
		return c;
	f = fopen(o->ctr_file, "r");
	if (f) {
		unsigned long long v;

		if (fscanf(f, "%llu", &v) == 1)
			c = v;
		fclose(f);
	}
	f = fopen(o->ctr_file, "w");
	if (!f || fprintf(f, "%llu\n", (unsigned long long)(c + n)) < 0 || fclose(f)) {
		perror(o->ctr_file);
		exit(1);
	}
	return c;
}

/* --- replies --------------------------------------------------------------------------- */

struct reply {
	uint8_t *data;
	uint8_t *have; /* per fragment */
	uint32_t total, got;
	uint16_t count;
	uint8_t kind, flags;
	uint16_t status;
	bool started, done;
};

static void reply_reset(struct reply *r)
{
	free(r->data);
	free(r->have);
	memset(r, 0, sizeof(*r));
}

/* Take one received datagram; true once the reply to @task_id is complete. */
static bool take_reply(const struct opts *o, struct ep_aead *a, const struct ep_key_info *k,
		       uint8_t *buf, size_t n, uint64_t task_id, struct reply *r,
		       struct result *res)
{
	const uint8_t *payload;
	struct ep_msg m;
	uint32_t sender;
	uint64_t pn;

	res->replies++;
	if (ep_decode(buf, n, EP_MAX_TASK_LEN, &m, &payload, NULL) || m.task_id != task_id)
		return false;
	if (m.flags & EP_F_AUTH) {
		res->sealed++;
		/* Our key, and the node we expect (a device's own datagram, sender 0, sent
		 * back at it, or another node's reply, does not count); --node-id 0: any
		 * node's (a gateway's pool), never a device's. */
		if (m.auth_key_id != k->key_id || ep_aead_open(a, buf, n, &sender, &pn) ||
		    !sender || (o->node_id && sender != o->node_id)) {
			res->bad++;
			return false;
		}
		res->opened++;
	} else {
		res->plain++;
	}
	if (!r->started || m.frag_count != r->count || m.total_len != r->total) {
		reply_reset(r);
		r->started = true;
		r->count = m.frag_count;
		r->total = m.total_len;
		r->kind = m.kind;
		r->flags = m.flags;
		r->status = m.status;
		r->data = calloc(1, m.total_len + 1);
		r->have = calloc(m.frag_count, 1);
		if (!r->data || !r->have)
			exit(1);
	}
	if (!r->have[m.frag_index] && (uint64_t)m.frag_offset + m.payload_len <= r->total) {
		r->have[m.frag_index] = 1;
		memcpy(r->data + m.frag_offset, payload, m.payload_len);
		r->got++;
	}
	return r->got == r->count;
}

/* Whether the RESPONSE @r is right for the task (@payload of @len bytes, type @type). */
static bool result_ok(const struct reply *r, int type, const uint8_t *payload, uint32_t len)
{
	const uint8_t *out = r->data;
	size_t out_len = r->total;
	uint8_t *plain = NULL;
	bool ok = false;

	if (r->flags & EP_F_ZSTD) {
		unsigned long long size = ZSTD_getFrameContentSize(r->data, r->total);

		if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN ||
		    size > EP_MAX_TASK_LEN || !(plain = malloc(size + 1)))
			return false;
		out_len = ZSTD_decompress(plain, size, r->data, r->total);
		if (ZSTD_isError(out_len))
			goto out;
		out = plain;
	}
	if (type == EP_TT_ECHO) {
		ok = out_len == len && !memcmp(out, payload, len);
	} else if (type == EP_TT_CHECKSUM) {
		struct ep_checksum_result want = {
			.crc32 = ep_be32((uint32_t)crc32_z(crc32_z(0, NULL, 0), payload, len)),
			.xxh3 = ep_be64(XXH3_64bits(payload, len)),
		};

		ok = out_len == sizeof(want) && !memcmp(out, &want, sizeof(want));
	} else {
		ok = true; /* other types: a RESPONSE is all we know to expect */
	}
out:
	free(plain);
	return ok;
}

/* Wait up to --wait-ms for the reply to @task_id. */
static void await(const struct opts *o, int fd, struct ep_aead *a, const struct ep_key_info *k,
		  uint64_t task_id, const uint8_t *payload, uint32_t len, struct result *res)
{
	static uint8_t buf[MAX_DGRAM];
	double end = tool_now() + o->wait_ms / 1000.0;
	struct reply r = { 0 };
	bool done = false;

	while (!done && tool_now() < end) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 10) <= 0)
			continue;
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n > 0) {
			res->bytes_back += (unsigned long long)n;
			done = take_reply(o, a, k, buf, (size_t)n, task_id, &r, res);
		}
	}
	/* Late duplicates (a reply must come once): whatever else arrives within 50 ms. */
	if (done) {
		double quiet = tool_now() + 0.05;

		while (tool_now() < quiet) {
			struct pollfd p = { .fd = fd, .events = POLLIN };
			ssize_t n;

			if (poll(&p, 1, 10) > 0 &&
			    (n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
				res->replies++;
				res->bytes_back += (unsigned long long)n;
			}
		}
	}
	if (!done) {
		res->lost++;
	} else if (r.kind == EP_KIND_RESPONSE) {
		res->responses++;
		if (result_ok(&r, o->type, payload, len))
			res->results_ok++;
		else
			res->results_bad++;
	} else if (r.kind == EP_KIND_ERROR) {
		res->errors++;
		snprintf(res->status, sizeof(res->status), "%s", ep_status_name(r.status));
		/* The text, printable and safe in a JSON string. */
		for (uint32_t i = 0; i < r.total && i + 1 < sizeof(res->text); i++) {
			uint8_t ch = r.data[i];

			res->text[i] =
				ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\' ? (char)ch : '?';
			res->text[i + 1] = '\0';
		}
	} else if (r.kind == EP_KIND_PONG) {
		res->pongs++;
	}
	reply_reset(&r);
}

/* --- sending --------------------------------------------------------------------------- */

static void tamper(const char *how, uint8_t *d, size_t n, const struct ep_msg *m)
{
	if (!how)
		return;
	if (!strcmp(how, "tag"))
		d[offsetof(struct ep_hdr, auth_tag) + 5] ^= 0x01;
	else if (!strcmp(how, "ciphertext") && n > ep_payload_off(m))
		d[n - 1] ^= 0x10;
}

static void send_dgram(int fd, const uint8_t *d, size_t n, FILE *save, struct result *res)
{
	if (sendto(fd, d, n, 0, (struct sockaddr *)&dst, dst_len) < 0) {
		perror("sendto");
		exit(1);
	}
	res->sent++;
	res->bytes_sent += n;
	if (save) {
		uint8_t len[2] = { (uint8_t)(n >> 8), (uint8_t)n };

		if (fwrite(len, 1, 2, save) != 2 || fwrite(d, 1, n, save) != n)
			exit(1);
	}
}

/* Seal fragment @i of task @m (@wire, @len bytes, fragments of @fs) with counter @ctr and
 * send it. */
static int send_frag(const struct opts *o, int fd, struct ep_aead *a, const struct ep_key_info *k,
		     const struct ep_msg *m, const uint8_t *wire, uint32_t len, uint32_t fs,
		     uint32_t i, uint64_t ctr, FILE *save, struct result *res)
{
	static uint8_t d[MAX_DGRAM];
	int64_t secs = (int64_t)(unix_ms() - k->issued_unix_ms) / 1000 + o->secs_off;
	ssize_t n = ep_frag_build(m, wire, len, fs, i, d, sizeof(d));

	if (n < 0) {
		fprintf(stderr, "ep_frag_build: %s\n", strerror((int)-n));
		return 1;
	}
	if (!o->plain &&
	    ep_aead_seal(a, EP_AUTH_SENDER_DEVICE, ep_auth_pn(secs > 0 ? (uint64_t)secs : 0, ctr),
			 d, (size_t)n)) {
		fprintf(stderr, "ep_aead_seal failed\n");
		return 1;
	}
	tamper(o->tamper, d, (size_t)n, m);
	send_dgram(fd, d, (size_t)n, save, res);
	return 0;
}

/* --resend: fragment @i of @m alone, sealed anew, --resends times; what comes back is
 * counted apart from the task's own reply. */
static int resend(const struct opts *o, int fd, struct ep_aead *a, const struct ep_key_info *k,
		  struct ep_msg m, const uint8_t *wire, uint32_t len, uint32_t fs, uint32_t i,
		  struct result *res)
{
	static uint8_t buf[MAX_DGRAM];

	m.flags |= EP_F_RETRY;
	for (unsigned int r = 0; r < o->resends; r++) {
		unsigned long long before = res->bytes_sent;
		double end;

		if (send_frag(o, fd, a, k, &m, wire, len, fs, i, take_ctrs(o, k, 1), NULL, res))
			return 1;
		res->resent++;
		res->resent_bytes += res->bytes_sent - before;
		res->bytes_sent = before;
		res->sent--;
		for (end = tool_now() + 0.03; tool_now() < end;) {
			struct pollfd p = { .fd = fd, .events = POLLIN };
			const uint8_t *payload;
			struct ep_msg rm;
			ssize_t n;

			if (poll(&p, 1, 5) <= 0 ||
			    (n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) <= 0)
				continue;
			res->resent_back += (unsigned long long)n;
			if (!ep_decode(buf, (size_t)n, EP_MAX_TASK_LEN, &rm, &payload, NULL) &&
			    rm.task_id == m.task_id)
				snprintf(res->resent_status, sizeof(res->resent_status), "%s",
					 rm.kind == EP_KIND_RESPONSE ? "RESPONSE"
					 : rm.kind == EP_KIND_RETRY  ? "RETRY"
								     : ep_status_name(rm.status));
		}
	}
	return 0;
}

static int do_send(const struct opts *o)
{
	struct ep_key_info k = { 0 };
	struct result res = { 0 };
	struct ep_aead *a;
	uint8_t *payload, *wire;
	uint32_t len = o->size, wire_len, fs;
	uint8_t flags = 0;
	FILE *save = NULL;
	int fd;

	load_key(o->keys, o->key_id, &k);
	a = ep_aead_new(k.key);
	if (!a) {
		perror("ep_aead_new");
		return 1;
	}
	if (o->in) {
		FILE *f = fopen(o->in, "rb");
		long sz;

		if (!f || fseek(f, 0, SEEK_END) || (sz = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) {
			perror(o->in);
			if (f)
				fclose(f);
			return 1;
		}
		len = (uint32_t)sz;
		payload = malloc(len + 1);
		if (!payload || fread(payload, 1, len, f) != len) {
			fclose(f);
			return 1;
		}
		fclose(f);
	} else {
		payload = malloc(len + 1);
		if (!payload)
			return 1;
		for (uint32_t i = 0; i < len; i++)
			payload[i] = o->zeros ? 0 : (uint8_t)(i * 7 + i / 251);
	}
	if (o->kind != EP_KIND_REQUEST)
		len = 0;
	wire = payload;
	wire_len = len;
	if (o->zstd && len) {
		size_t cap = ZSTD_compressBound(len), n;

		wire = malloc(cap);
		n = wire ? ZSTD_compress(wire, cap, payload, len, 19) : 0;
		if (!wire || ZSTD_isError(n)) {
			fprintf(stderr, "zstd failed\n");
			return 1;
		}
		wire_len = (uint32_t)n;
		flags |= EP_F_ZSTD;
	}
	if (o->plain_reply)
		flags |= EP_F_PLAIN_REPLY;
	fs = ep_frag_size_for(o->mtu, o->ipv6, o->plain ? 0 : EP_F_AUTH);
	if (o->save && !(save = fopen(o->save, "wb"))) {
		perror(o->save);
		if (wire != payload)
			free(wire);
		free(payload);
		return 1;
	}
	fd = open_socket(o);
	for (unsigned int t = 0; t < o->count; t++) {
		uint32_t nfrags = ep_frag_count(wire_len, fs);
		uint64_t ctr = take_ctrs(o, &k, nfrags);
		struct ep_msg m = {
			.kind = (uint8_t)o->kind,
			.priority = (uint8_t)o->priority,
			.flags = (uint8_t)((o->plain ? 0 : EP_F_AUTH) | flags),
			.task_type = (uint16_t)o->type,
			.tenant_id = o->tenant >= 0 ? (uint32_t)o->tenant : k.tenant,
			.task_id = o->task_id + t,
			.auth_key_id = o->plain ? 0 : (uint16_t)k.key_id,
		};

		if (!nfrags) {
			fprintf(stderr, "a task of %u bytes does not fit fragments of %u\n",
				wire_len, fs);
			return 2;
		}
		for (uint32_t i = 0; i < nfrags; i++)
			if (send_frag(o, fd, a, &k, &m, wire, wire_len, fs, i, ctr + i, save, &res))
				return 1;
		res.tasks++;
		await(o, fd, a, &k, m.task_id, payload, len, &res);
		if (o->resend != -1 &&
		    resend(o, fd, a, &k, m, wire, wire_len, fs,
			   o->resend == -2 || (uint32_t)o->resend >= nfrags ? nfrags - 1
									    : (uint32_t)o->resend,
			   &res))
			return 1;
	}
	if (save)
		fclose(save);
	printf("{\"sent\":%lu,\"tasks\":%lu,\"replies\":%lu,\"sealed\":%lu,\"opened\":%lu,"
	       "\"bad\":%lu,\"plain\":%lu,\"responses\":%lu,\"errors\":%lu,\"status\":\"%s\","
	       "\"text\":\"%s\",\"pongs\":%lu,\"results_ok\":%lu,\"results_bad\":%lu,"
	       "\"lost\":%lu,\"bytes_sent\":%llu,\"bytes_back\":%llu,\"resent\":%lu,"
	       "\"resent_bytes\":%llu,\"resent_back\":%llu,\"resent_status\":\"%s\"}\n",
	       res.sent, res.tasks, res.replies, res.sealed, res.opened, res.bad, res.plain,
	       res.responses, res.errors, res.status, res.text, res.pongs, res.results_ok,
	       res.results_bad, res.lost, res.bytes_sent, res.bytes_back, res.resent,
	       res.resent_bytes, res.resent_back, res.resent_status);
	ep_aead_free(a);
	if (wire != payload)
		free(wire);
	free(payload);
	close(fd);
	return 0;
}

/* Send the datagrams of --in again, verbatim; count whatever comes back. */
static int do_replay(const struct opts *o)
{
	static uint8_t d[MAX_DGRAM];
	unsigned long sent = 0, replies = 0;
	FILE *f = fopen(o->in, "rb");
	uint8_t len[2];
	double end;
	int fd;

	if (!f) {
		perror(o->in);
		return 1;
	}
	fd = open_socket(o);
	while (fread(len, 1, 2, f) == 2) {
		size_t n = (size_t)(len[0] << 8 | len[1]);

		if (fread(d, 1, n, f) != n)
			break;
		if (sendto(fd, d, n, 0, (struct sockaddr *)&dst, dst_len) < 0) {
			perror("sendto");
			return 1;
		}
		sent++;
	}
	fclose(f);
	for (end = tool_now() + o->wait_ms / 1000.0; tool_now() < end;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		if (poll(&p, 1, 10) > 0 && recv(fd, d, sizeof(d), MSG_DONTWAIT) > 0)
			replies++;
	}
	printf("{\"sent\":%lu,\"replies\":%lu}\n", sent, replies);
	close(fd);
	return 0;
}

/* LOAD_REPORTs, as the controller takes them: each must open with the node's key. */
static int do_reports(const struct opts *o)
{
	static uint8_t d[MAX_DGRAM];
	unsigned long received = 0, sealed = 0, opened = 0, bad = 0;
	struct ep_key_info k = { 0 };
	uint32_t node_field = 0;
	struct ep_aead *a;
	double end;
	int fd;

	load_key(o->keys, o->key_id, &k);
	a = ep_aead_new(k.key);
	fd = open_socket(o);
	for (end = tool_now() + o->wait_ms / 1000.0; tool_now() < end && received < o->count;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		const uint8_t *payload;
		struct ep_load_report rep;
		struct ep_msg m;
		uint32_t sender;
		uint64_t pn;
		ssize_t n;

		if (poll(&p, 1, 10) <= 0 || (n = recv(fd, d, sizeof(d), MSG_DONTWAIT)) <= 0)
			continue;
		if (ep_decode(d, (size_t)n, EP_MAX_TASK_LEN, &m, &payload, NULL) ||
		    m.kind != EP_KIND_LOAD_REPORT)
			continue;
		received++;
		if (!(m.flags & EP_F_AUTH))
			continue;
		sealed++;
		if (!a || m.auth_key_id != k.key_id ||
		    ep_aead_open(a, d, (size_t)n, &sender, &pn) || sender != o->node_id ||
		    m.payload_len < sizeof(rep)) {
			bad++;
			continue;
		}
		opened++;
		memcpy(&rep, payload, sizeof(rep));
		node_field = ntohl(rep.node_id);
	}
	printf("{\"received\":%lu,\"sealed\":%lu,\"opened\":%lu,\"bad\":%lu,\"node_id\":%u}\n",
	       received, sealed, opened, bad, node_field);
	ep_aead_free(a);
	close(fd);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: eptest-auth send --to ADDR --keys FILE --key-id N [--node-id N] [options]\n"
		"       eptest-auth replay --to ADDR --in FILE [--bind ADDR] [--sport N]\n"
		"       eptest-auth reports --bind ADDR --sport N --keys FILE --key-id N --node-id "
		"N\n"
		"\n"
		"  --port N          the node's port (7878)\n"
		"  --node-id N       the node that must seal the replies (0, the default: any)\n"
		"  --bind ADDR       send from this local address; --sport N from this port\n"
		"  --type N          task type (1: echo; 2: checksum)\n"
		"  --kind K          request (default), ping or cancel\n"
		"  --size N          payload bytes (64), a pattern; --in FILE: the file's bytes\n"
		"  --count N         tasks, one after the other (1), task ids --task-id N, N+1...\n"
		"  --priority N      1..5 (3); --tenant N (the key's)\n"
		"  --mtu N           fragments fit this path MTU (1500)\n"
		"  --secs-off N      add N to the pn's seconds (a stale pn)\n"
		"  --ctr-file FILE   the key's next counter, kept in FILE\n"
		"  --tamper WHAT     tag or ciphertext: flip one bit after sealing\n"
		"  --plain           no AUTH: an unauthenticated task\n"
		"  --save FILE       write the sealed datagrams, for replay\n"
		"  --zeros           a payload of zero bytes; --zstd sent compressed\n"
		"  --plain-reply     ask the reply uncompressed (PLAIN_REPLY)\n"
		"  --resend IDX      then send fragment IDX (or last) again alone, --resends N "
		"times\n"
		"  --wait-ms N       how long to wait for each reply (1000)\n");
}

static const struct tool_choice kinds[] = {
	{ "request", EP_KIND_REQUEST },
	{ "ping", EP_KIND_PING },
	{ "cancel", EP_KIND_CANCEL },
	{ NULL },
};

/* --resend IDX|last: a fragment index, or -2 for the last. */
static int resend_arg(const char *arg, void *out)
{
	*(int *)out = !strcmp(arg, "last") ? -2 : (int)tool_num("--resend", arg, 0, 65534);
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = { .port = 7878,
			  .type = EP_TT_ECHO,
			  .kind = EP_KIND_REQUEST,
			  .size = 64,
			  .count = 1,
			  .priority = 3,
			  .tenant = -1,
			  .mtu = 1500,
			  .wait_ms = 1000,
			  .resend = -1,
			  .resends = 1 };
	const char *cmd = argc > 1 ? argv[1] : "";
	const struct tool_opt table[] = {
		OPT_STR("to", o.to),
		OPT_NUM("port", o.port, 1, 65535),
		OPT_STR("bind", o.bind),
		OPT_NUM("sport", o.sport, 1, 65535),
		OPT_STR("keys", o.keys),
		OPT_NUM("key-id", o.key_id, 1, 65535),
		OPT_NUM("node-id", o.node_id, 0, UINT32_MAX),
		OPT_NUM("type", o.type, 0, 65535),
		OPT_CHOICE("kind", o.kind, kinds),
		OPT_NUM("size", o.size, 0, EP_MAX_TASK_LEN),
		OPT_STR("in", o.in),
		OPT_NUM("count", o.count, 1, 100000),
		OPT_NUM("task-id", o.task_id, 0, LONG_MAX),
		OPT_NUM("priority", o.priority, 1, 5),
		OPT_NUM("tenant", o.tenant, 0, UINT32_MAX),
		OPT_NUM("mtu", o.mtu, 576, 9000),
		OPT_NUM("secs-off", o.secs_off, -100000000, 100000000),
		OPT_STR("ctr-file", o.ctr_file),
		OPT_STR("tamper", o.tamper),
		OPT_FLAG("plain", o.plain),
		OPT_STR("save", o.save),
		OPT_NUM("wait-ms", o.wait_ms, 0, 600000),
		OPT_FLAG("zeros", o.zeros),
		OPT_FLAG("zstd", o.zstd),
		OPT_FLAG("plain-reply", o.plain_reply),
		OPT_FN("resend", resend_arg, &o.resend),
		OPT_NUM("resends", o.resends, 1, 1000),
		{ 0 },
	};

	{
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		o.task_id =
			(uint64_t)ts.tv_nsec << 20 ^ (uint64_t)getpid() << 40 ^ (uint64_t)ts.tv_sec;
	}
	optind = 2;
	if (tool_opts(argc, argv, table, usage) != argc) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(cmd, "reports")) {
		if (!o.bind || !o.sport || !o.keys || !o.key_id || !o.node_id) {
			usage(stderr);
			return 2;
		}
		tool_addr(o.bind, o.sport, &dst, &dst_len); /* the family */
		return do_reports(&o);
	}
	if (!o.to || tool_addr(o.to, o.port, &dst, &dst_len)) {
		usage(stderr);
		return 2;
	}
	o.ipv6 = dst.ss_family == AF_INET6;
	if (!strcmp(cmd, "replay") && o.in)
		return do_replay(&o);
	if (strcmp(cmd, "send") || !o.keys || !o.key_id) {
		usage(stderr);
		return 2;
	}
	return do_send(&o);
}
