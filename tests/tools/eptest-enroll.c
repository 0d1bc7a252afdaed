// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * eptest-enroll: drive the enrollment client module (edgeplane/enroll.h) from a test.
 *
 *   eptest-enroll device --server A:P --cert F --key F --ca F [--timeout-ms N]
 *       enroll once; print the key object (its material replaced by its length) and
 *       renew_after_ms as one JSON line; exit 0, or 1 with the error on stderr
 *   eptest-enroll sync --server A:P --cert F --key F --ca F [--count N] [--interval-ms N]
 *       sync N rounds (0: until killed) every N ms (250) on one connection; print a JSON
 *       line per round: {"t_ms":..., "gen":..., "full":..., "node_id":..., "self":ID,
 *       "keys":[{"key_id":..., "name":..., "role":..., "revoked":...}, ...]}
 *   eptest-enroll abort --server A:P --cert F --key F --ca F [--count N]
 *       N times (1), in turn: a ClientHello and a reset (SO_LINGER 0); a handshake, four
 *       {"op":"enroll"} lines at once and a reset; the same and a close: the controller
 *       then writes to a dead connection
 *   eptest-enroll report --server A:P --cert F --key F --ca F --to A:P --ip4 A --mac M
 *                 [--count N] [--interval-ms N] [--attack A] [--pause-after N --resume-file F]
 *                 [--device-cert F --device-key F]
 *       sync once (a node's certificate) and send N load reports as its node sealed with its
 *       own key (docs/protocol.md 3.5, 7.1): sender and report id = its node id, pn from the
 *       realtime clock in ns. Prints {"node_id":..., "self":ID} first. --attack: plain (no
 *       AUTH), bad-tag, sender (nonce sender + 1), node-id (report id + 1), replay (each
 *       datagram twice), stale (then one 2000 pn below the first), unknown-key (id + 100),
 *       device (sealed with a key enrolled with --device-cert/--device-key). After
 *       --pause-after reports, waits up to 10 s for --resume-file to exist.
 *
 * Exit status: 0, 1 (failed: the message on stderr starts with the errno's name), 2 usage.
 */
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <endian.h>
#include <openssl/ssl.h>

#include "edgeplane/auth.h"
#include "edgeplane/codec.h"
#include "edgeplane/enroll.h"
#include "edgeplane/util.h"
#include "opts.h"

static const char *errname(int err)
{
	switch (-err) {
	case ETIMEDOUT:
		return "ETIMEDOUT";
	case EPROTO:
		return "EPROTO";
	case EACCES:
		return "EACCES";
	case EBADMSG:
		return "EBADMSG";
	case ECONNRESET:
		return "ECONNRESET";
	case ECONNREFUSED:
		return "ECONNREFUSED";
	case EINVAL:
		return "EINVAL";
	default:
		return "E?";
	}
}

static json_t *key_summary(const struct ep_key_info *k, bool full)
{
	json_t *o = ep_key_info_to_json(k);

	json_object_del(o, "key");
	json_object_set_new(o, "key_len", json_integer(EP_AUTH_KEY_LEN));
	if (!full) {
		json_object_del(o, "limits");
		json_object_del(o, "issued_unix_ms");
	}
	return o;
}

static void print_line(json_t *o)
{
	char *s = json_dumps(o, JSON_COMPACT);

	if (s)
		printf("%s\n", s);
	fflush(stdout);
	free(s);
	json_decref(o);
}

static int on_key(void *arg, const struct ep_key_info *k)
{
	json_array_append_new(arg, key_summary(k, false));
	return 0;
}

/*
 * A client that hangs up at once, resetting the connection (SO_LINGER 0): right after its
 * ClientHello (@hello: no certificate needed), or after a handshake and four requests.
 * The controller then writes to a reset connection.
 */
static int abort_once(const struct ep_enroll_cfg *cfg, bool hello, bool reset)
{
	static const char req[] = "{\"op\":\"enroll\"}\n{\"op\":\"enroll\"}\n"
				  "{\"op\":\"enroll\"}\n{\"op\":\"enroll\"}\n";
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	struct sockaddr_storage ss;
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL *ssl = NULL;
	socklen_t len;
	int fd = -1, ret = -1;

	if (!ctx || ep_parse_sockaddr("--server", cfg->server, 0, &ss, &len))
		goto out;
	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	if (!hello && (SSL_CTX_use_certificate_chain_file(ctx, cfg->cert) != 1 ||
		       SSL_CTX_use_PrivateKey_file(ctx, cfg->key, SSL_FILETYPE_PEM) != 1))
		goto out;
	fd = socket(ss.ss_family, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&ss, len))
		goto out;
	ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	if (hello) {
		BIO *w = BIO_new(BIO_s_mem()), *r = BIO_new(BIO_s_mem());
		char buf[4096];
		int n;

		/* The ClientHello only: written to memory, sent, and nothing read. */
		SSL_set_bio(ssl, r, w);
		SSL_connect(ssl);
		n = BIO_read(w, buf, sizeof(buf));
		if (n <= 0 || send(fd, buf, (size_t)n, 0) != n)
			goto out;
	} else if (SSL_connect(ssl) != 1 || SSL_write(ssl, req, sizeof(req) - 1) <= 0) {
		goto out;
	}
	if (reset)
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	ret = 0;
out:
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	if (fd >= 0)
		close(fd);
	return ret;
}

struct report_opts {
	const char *to, *ip4, *mac, *attack, *resume, *dev_cert, *dev_key;
	long count, interval, pause_after;
};

static bool attack(const struct report_opts *o, const char *name)
{
	return o->attack && !strcmp(o->attack, name);
}

static int send_reports(const struct ep_enroll_cfg *cfg, const struct report_opts *o)
{
	struct ep_load_report rep = { .capacity = htonl(100),
				      .port = htons(EP_DEFAULT_PORT),
				      .interval_ms = htonl((uint32_t)o->interval),
				      .mem_free_kib = htobe64(1 << 22) };
	uint8_t dgram[EP_HDR_LEN + EP_AUTH_NONCE_LEN + sizeof(rep)];
	struct ep_key_info self, use;
	struct sockaddr_storage dst;
	struct ep_enroll_conn *e;
	unsigned int b[6];
	uint64_t gen = 0, pn0;
	uint32_t node_id;
	struct ep_aead *a;
	socklen_t dlen;
	char err[256];
	bool full;
	int fd;

	if (!o->to || ep_parse_sockaddr("--to", o->to, 0, &dst, &dlen) || !o->ip4 || !o->mac ||
	    inet_pton(AF_INET, o->ip4, &rep.ip4) != 1 ||
	    sscanf(o->mac, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) != 6)
		return 2;
	for (int i = 0; i < 6; i++)
		rep.mac[i] = (uint8_t)b[i];
	e = ep_enroll_connect(cfg, err, sizeof(err));
	if (!e || ep_enroll_sync(e, &gen, &full, &node_id, &self, NULL, NULL)) {
		fprintf(stderr, "E?: %s\n", e ? ep_enroll_error(e) : err);
		ep_enroll_close(e);
		return 1;
	}
	ep_enroll_close(e);
	use = self;
	if (attack(o, "device")) {
		struct ep_enroll_cfg dc = *cfg;

		dc.cert = o->dev_cert;
		dc.key = o->dev_key;
		if (ep_enroll_device(&dc, &use, NULL, err, sizeof(err))) {
			fprintf(stderr, "E?: device: %s\n", err);
			return 1;
		}
	}
	print_line(json_pack("{s:I, s:I}", "node_id", (json_int_t)node_id, "self",
			     (json_int_t)self.key_id));
	a = ep_aead_new(use.key);
	fd = socket(dst.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (!a || fd < 0 || connect(fd, (struct sockaddr *)&dst, dlen))
		return 1;
	pn0 = ep_unix_ms() * 1000000;
	for (long i = 0; i < o->count; i++) {
		struct ep_msg m = { .kind = EP_KIND_LOAD_REPORT,
				    .priority = EP_PRIO_MAX,
				    .task_id = (uint64_t)i + 1 };
		uint32_t sender = node_id;
		ssize_t len;

		rep.node_id = htonl(attack(o, "node-id") ? node_id + 1 : node_id);
		rep.seq = htonl((uint32_t)i + 1);
		if (!attack(o, "plain")) {
			m.flags = EP_F_AUTH;
			m.auth_key_id = attack(o, "unknown-key") ? (uint16_t)(use.key_id + 100)
								 : use.key_id;
		}
		if (attack(o, "sender"))
			sender++;
		len = ep_frag_build(&m, &rep, sizeof(rep), sizeof(rep), 0, dgram, sizeof(dgram));
		if (len < 0 || (!attack(o, "plain") &&
				ep_aead_seal(a, sender, pn0 + (uint64_t)i, dgram, (size_t)len)))
			return 1;
		if (attack(o, "bad-tag"))
			dgram[48] ^= 1;
		if (send(fd, dgram, (size_t)len, 0) < 0 ||
		    (attack(o, "replay") && send(fd, dgram, (size_t)len, 0) < 0))
			return 1;
		if (attack(o, "stale") && i + 1 == o->count) {
			rep.seq = htonl((uint32_t)i + 2);
			len = ep_frag_build(&m, &rep, sizeof(rep), sizeof(rep), 0, dgram,
					    sizeof(dgram));
			if (len < 0 || ep_aead_seal(a, sender, pn0 - 2000, dgram, (size_t)len) ||
			    send(fd, dgram, (size_t)len, 0) < 0)
				return 1;
		}
		if (o->pause_after && i + 1 == o->pause_after && o->resume) {
			for (int t = 0; t < 1000 && access(o->resume, F_OK); t++)
				usleep(10000);
		}
		usleep((useconds_t)o->interval * 1000);
	}
	close(fd);
	ep_aead_free(a);
	ep_key_info_wipe(&self);
	ep_key_info_wipe(&use);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: eptest-enroll device|sync|abort|report --server A:P --cert F --key F "
		   "--ca F [--timeout-ms N] [--count N] [--interval-ms N]\n");
}

int main(int argc, char **argv)
{
	struct report_opts ro = { 0 };
	struct ep_enroll_cfg cfg = { 0 };
	long count = 1, interval = 250;
	char err[256];
	const char *mode;
	const struct tool_opt opts[] = {
		OPT_STR("server", cfg.server),
		OPT_STR("cert", cfg.cert),
		OPT_STR("key", cfg.key),
		OPT_STR("ca", cfg.ca),
		OPT_NUM("timeout-ms", cfg.timeout_ms, 1, 600000),
		OPT_NUM("count", count, 0, 1000000),
		OPT_NUM("interval-ms", interval, 1, 600000),
		OPT_STR("to", ro.to),
		OPT_STR("ip4", ro.ip4),
		OPT_STR("mac", ro.mac),
		OPT_STR("attack", ro.attack),
		OPT_NUM("pause-after", ro.pause_after, 0, 1000000),
		OPT_STR("resume-file", ro.resume),
		OPT_STR("device-cert", ro.dev_cert),
		OPT_STR("device-key", ro.dev_key),
		{ 0 },
	};

	if (argc < 2)
		goto usage;
	mode = argv[1];
	optind = 2;
	if (tool_opts(argc, argv, opts, usage) != argc)
		goto usage;
	if (!strcmp(mode, "device")) {
		struct ep_key_info k;
		uint64_t renew = 0;
		json_t *o;
		int ret = ep_enroll_device(&cfg, &k, &renew, err, sizeof(err));

		if (ret) {
			fprintf(stderr, "%s: %s\n", errname(ret), err);
			return 1;
		}
		o = json_pack("{s:o, s:I}", "key", key_summary(&k, true), "renew_after_ms",
			      (json_int_t)renew);
		print_line(o);
		ep_key_info_wipe(&k);
		return 0;
	}
	if (!strcmp(mode, "report")) {
		ro.count = count;
		ro.interval = interval;
		return send_reports(&cfg, &ro);
	}
	if (!strcmp(mode, "abort")) {
		for (long i = 0; i < count; i++) {
			if (abort_once(&cfg, i % 3 == 0, i % 3 != 2)) {
				fprintf(stderr, "E?: abort: the handshake failed\n");
				return 1;
			}
			usleep(10000);
		}
		return 0;
	}
	if (!strcmp(mode, "sync")) {
		struct ep_enroll_conn *e = ep_enroll_connect(&cfg, err, sizeof(err));
		uint64_t gen = 0, t0 = ep_now_ns();

		if (!e) {
			fprintf(stderr, "%s: %s\n", errname(-errno), err);
			return 1;
		}
		for (long i = 0; !count || i < count; i++) {
			struct ep_key_info self;
			uint32_t node_id;
			bool full;
			json_t *keys = json_array();
			int ret = ep_enroll_sync(e, &gen, &full, &node_id, &self, on_key, keys);

			if (ret) {
				fprintf(stderr, "%s: %s\n", errname(ret), ep_enroll_error(e));
				json_decref(keys);
				ep_enroll_close(e);
				return 1;
			}
			print_line(json_pack("{s:I, s:I, s:b, s:I, s:o, s:o}", "t_ms",
					     (json_int_t)((ep_now_ns() - t0) / 1000000), "gen",
					     (json_int_t)gen, "full", full, "node_id",
					     (json_int_t)node_id, "self", key_summary(&self, false),
					     "keys", keys));
			ep_key_info_wipe(&self);
			if (count && i + 1 >= count)
				break;
			usleep((useconds_t)interval * 1000);
		}
		ep_enroll_close(e);
		return 0;
	}
usage:
	usage(stderr);
	return 2;
}
