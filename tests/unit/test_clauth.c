// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Unit tests of the client's authentication (docs/protocol.md 3.5, docs/client.md):
 *
 * - the keyring (userspace/client/keyring.c) on injected clocks: the pn's seconds and
 *   counter, renewal at renew_after and the wait after failures, older keys opening until
 *   they expire, a static key's counter starting above earlier uses, the role's checks,
 *   and the static key file's permissions and lock;
 * - a session (userspace/client/client.c) against an "edge" that is a UDP socket of this
 *   test on 127.0.0.1, which opens what the session sends with auth.c and seals replies as
 *   a node does: every datagram sealed, with a pn never repeated across threads and
 *   retransmissions; replies opened, a bad tag or a device's sender dropped and counted;
 *   unauthenticated ERROR and RETRY ignored; tasks the role forbids refused at submission;
 *   renewal and expiry on the session's injected clock, with enrollment by a hook.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "edgeplane/auth.h"
#include "edgeplane/client.h"
#include "edgeplane/codec.h"
#include "edgeplane/enroll.h"
#include "client_hooks.h"
#include "keyring.h"
#include "../lib/tap.h"
#include "../lib/msg.h"

#define MS	   1000000ull
#define S	   1000000000ull
#define T0_UNIX_MS 1796000000000ull /* the keys' issue, by the "controller's" clock */
#define NODE_ID	   7u

/* --- keys ---------------------------------------------------------------------------- */

static struct ep_key_info key_info(uint16_t id, uint64_t issued_ms, uint64_t life_ms)
{
	struct ep_key_info k = {
		.key_id = id,
		.issued_unix_ms = issued_ms,
		.expires_unix_ms = issued_ms + life_ms,
		.tenant = 7,
		.name = "cam-001",
		.role = "camera",
		.lim = { .types = { 1u << 1 | 1u << 2 | 1u << 5 },
			 .max_priority = 3,
			 .max_task_len = 4096 },
	};

	for (int i = 0; i < EP_AUTH_KEY_LEN; i++)
		k.key[i] = (uint8_t)(id * 16 + i);
	return k;
}

static void test_keyring_pn_and_renewal(void)
{
	struct ep_keyring r = { 0 };
	struct ep_key_info k1 = key_info(17, T0_UNIX_MS, 3600 * 1000), k2 = key_info(18, 0, 0);
	uint64_t t = 5 * S, real = T0_UNIX_MS * MS + 20 * MS; /* received 20 ms after issue */
	struct ep_ckey *c;

	tap_begin();
	EXPECT_EQ(ep_keyring_add(&r, &k1, 2400 * 1000, t, real), 0);
	c = ep_keyring_current(&r, t);
	EXPECT(c && c->key_id == 17);
	/* Seconds since receipt on the monotonic clock, counter from 0, one per datagram. */
	EXPECT_EQ(ep_keyring_next_pn(c, t), ep_auth_pn(0, 0));
	EXPECT_EQ(ep_keyring_next_pn(c, t + 999 * MS), ep_auth_pn(0, 1));
	EXPECT_EQ(ep_keyring_next_pn(c, t + 1 * S), ep_auth_pn(1, 2));
	EXPECT_EQ(ep_keyring_next_pn(c, t + 3599 * S), ep_auth_pn(3599, 3));
	tap_end("an enrolled key's pn: whole seconds since it was received << 40 | its counter "
		"from 0");

	tap_begin();
	EXPECT(!ep_keyring_renew_due(&r, t + 2400 * S - 1));
	EXPECT_EQ(ep_keyring_renew_at(&r, t), t + 2400 * S);
	EXPECT(ep_keyring_renew_due(&r, t + 2400 * S));
	/* Failures: 1 s, 2 s, 4 s ... 30 s apart, while the key still seals. */
	ep_keyring_renew_failed(&r, t + 2400 * S);
	EXPECT(!ep_keyring_renew_due(&r, t + 2401 * S - 1));
	EXPECT(ep_keyring_renew_due(&r, t + 2401 * S));
	ep_keyring_renew_failed(&r, t + 2401 * S);
	EXPECT_EQ(ep_keyring_renew_at(&r, t + 2401 * S), t + 2403 * S);
	for (int i = 0; i < 10; i++)
		ep_keyring_renew_failed(&r, t + 2403 * S);
	EXPECT_EQ(ep_keyring_renew_at(&r, t + 2403 * S), t + 2433 * S);
	EXPECT(ep_keyring_current(&r, t + 2403 * S) == c);
	/* A fresh key: it seals, the old one still opens until it expires. */
	k2 = key_info(18, T0_UNIX_MS + 2430 * 1000, 3600 * 1000);
	EXPECT_EQ(ep_keyring_add(&r, &k2, 2400 * 1000, t + 2430 * S, real + 2430 * S), 0);
	/* ... after the nodes had time to learn it (EP_KEYRING_SWITCH_MS). */
	EXPECT_EQ(ep_keyring_current(&r, t + 2432 * S - 1)->key_id, 17);
	EXPECT_EQ(ep_keyring_current(&r, t + 2432 * S)->key_id, 18);
	EXPECT_EQ(ep_keyring_current(&r, t + 2432 * S)->ctr, 0);
	EXPECT_EQ(ep_keyring_renew_at(&r, t + 2430 * S), t + 4830 * S);
	EXPECT(ep_keyring_find(&r, 17) && ep_keyring_find(&r, 18));
	ep_keyring_expire(&r, t + 3600 * S - 1);
	EXPECT(ep_keyring_find(&r, 17));
	ep_keyring_expire(&r, t + 3600 * S);
	EXPECT(!ep_keyring_find(&r, 17) && ep_keyring_find(&r, 18));
	/* The newest expired: nothing seals, renewal is due at once. */
	EXPECT(!ep_keyring_current(&r, t + 6030 * S));
	EXPECT(ep_keyring_renew_due(&r, t + 6030 * S));
	/* A fresh key after the old one expired seals at once. */
	{
		struct ep_key_info k3 = key_info(19, T0_UNIX_MS + 7000 * 1000, 3600 * 1000);

		EXPECT_EQ(ep_keyring_add(&r, &k3, 2400 * 1000, t + 7000 * S, real + 7000 * S), 0);
		EXPECT_EQ(ep_keyring_current(&r, t + 7000 * S)->key_id, 19);
	}
	ep_keyring_clear(&r);
	EXPECT_EQ(r.n, 0);
	/* The switch waits half the old key's remaining life if that is shorter. */
	k1 = key_info(20, T0_UNIX_MS, 3000);
	k2 = key_info(21, T0_UNIX_MS + 2000, 3000);
	EXPECT_EQ(ep_keyring_add(&r, &k1, 2000, t, real), 0);
	EXPECT_EQ(ep_keyring_add(&r, &k2, 2000, t + 2 * S, real + 2 * S), 0);
	EXPECT_EQ(ep_keyring_current(&r, t + 2500 * MS - 1)->key_id, 20);
	EXPECT_EQ(ep_keyring_current(&r, t + 2500 * MS)->key_id, 21);
	ep_keyring_clear(&r);
	tap_end("renewal at renew_after, then 1, 2, 4 .. 30 s after failures; a fresh key seals "
		"2 s later (the nodes' sync), or at half the old key's remaining life; the old key "
		"opens until it expires; an expired key seals nothing");

	tap_begin();
	for (uint16_t id = 1; id <= EP_KEYRING_MAX + 2; id++) {
		struct ep_key_info k = key_info(id, T0_UNIX_MS, 3600 * 1000);

		EXPECT_EQ(ep_keyring_add(&r, &k, 1000, t, real), 0);
	}
	EXPECT_EQ(r.n, EP_KEYRING_MAX);
	EXPECT(!ep_keyring_find(&r, 2) && ep_keyring_find(&r, 3));
	k1.revoked = true;
	EXPECT_EQ(ep_keyring_add(&r, &k1, 1000, t, real), -EKEYREVOKED);
	ep_keyring_clear(&r);
	tap_end("at most %d keys, the oldest goes first; a revoked key is refused", EP_KEYRING_MAX);
}

static void test_keyring_static(void)
{
	struct ep_keyring r = { 0 }, r2 = { 0 };
	struct ep_key_info k = key_info(5, T0_UNIX_MS, 30ull * 86400 * 1000);
	uint64_t real = (T0_UNIX_MS + 90 * 1000) * MS + 123456; /* 90.000123456 s after issue */
	struct ep_ckey *c;
	uint64_t pn;

	tap_begin();
	EXPECT_EQ(ep_keyring_add(&r, &k, 0, 7 * S, real), 0);
	c = ep_keyring_current(&r, 7 * S);
	/* Seconds from its issue by the wall clock (as the nodes count); counter from the
	 * microseconds since its issue. */
	pn = ep_keyring_next_pn(c, 7 * S);
	EXPECT_EQ(ep_auth_pn_secs(pn), 90);
	EXPECT_EQ(ep_auth_pn_ctr(pn), 90000123);
	EXPECT_EQ(ep_auth_pn_secs(ep_keyring_next_pn(c, 8 * S)), 91);
	EXPECT_EQ(ep_keyring_renew_at(&r, 8 * S), UINT64_MAX);
	/* The next process, a millisecond later, starts above what this one sent. */
	EXPECT_EQ(ep_keyring_add(&r2, &k, 0, 100 * S, real + MS), 0);
	EXPECT(ep_keyring_current(&r2, 100 * S)->ctr > c->ctr);
	ep_keyring_clear(&r2);
	/* Expiry by the wall clock. */
	EXPECT(ep_keyring_current(&r, 7 * S + (30ull * 86400 - 91) * S));
	EXPECT(!ep_keyring_current(&r, 7 * S + (30ull * 86400 - 90) * S));
	ep_keyring_clear(&r);
	EXPECT_EQ(ep_keyring_add(&r, &k, 0, 7 * S, (T0_UNIX_MS + 30ull * 86400 * 1000) * MS),
		  -EKEYEXPIRED);
	/* 2^40 us (12.7 days) after its issue the counter has no room left. */
	EXPECT_EQ(ep_keyring_add(&r, &k, 0, 7 * S, (T0_UNIX_MS + 13ull * 86400 * 1000) * MS),
		  -EKEYEXPIRED);
	EXPECT_EQ(ep_keyring_add(&r, &k, 0, 7 * S, (T0_UNIX_MS + 12ull * 86400 * 1000) * MS), 0);
	ep_keyring_clear(&r);
	/* Review of issue 12: with this host's clock behind the key's issue (no RTC after a
	 * boot, a step back), every process started its counter at 0 and sealed the same
	 * nonces again under the key. Refused, as is the very microsecond of the issue. */
	EXPECT_EQ(ep_keyring_add(&r, &k, 0, 7 * S, (T0_UNIX_MS - 5000) * MS), -EKEYREJECTED);
	EXPECT_EQ(ep_keyring_add(&r, &k, 0, 7 * S, T0_UNIX_MS * MS), -EKEYREJECTED);
	ep_keyring_clear(&r);
	tap_end("a static key: seconds since its issue, counter from the microseconds since "
		"(each process above the last), never renewed, expiry by the wall clock, refused "
		"while the clock is behind its issue");

	tap_begin();
	c = &(struct ep_ckey){ .lim = k.lim };
	EXPECT_EQ(ep_keyring_check_task(c, 1, 3, 4096), 0);
	EXPECT_EQ(ep_keyring_check_task(c, 3, 3, 10), -EPERM);
	EXPECT_EQ(ep_keyring_check_task(c, 300, 1, 10), -EPERM);
	EXPECT_EQ(ep_keyring_check_task(c, 5, 4, 10), -ERANGE);
	EXPECT_EQ(ep_keyring_check_task(c, 5, 1, 4097), -EMSGSIZE);
	c->lim.max_task_len = 0;
	c->lim.all_types = true;
	EXPECT_EQ(ep_keyring_check_task(c, 300, 3, 1u << 30), 0);
	c->lim.max_priority = 0; /* a node's own key: no task at all */
	EXPECT_EQ(ep_keyring_check_task(c, 1, 1, 10), -EPERM);
	tap_end("the role: types, the priority ceiling, the largest task (0: none); a "
		"ceiling of 0 allows no task");
}

/* A key object written to a file of @mode. */
static void write_key_file(const char *path, const struct ep_key_info *k, mode_t mode)
{
	json_t *o = ep_key_info_to_json(k);

	unlink(path);
	EXPECT(o && !json_dump_file(o, path, 0));
	json_decref(o);
	EXPECT(!chmod(path, mode));
}

static char key_path[64];

static void test_key_file(void)
{
	struct ep_key_info k = key_info(9, T0_UNIX_MS, 3600 * 1000), got;
	char err[256];
	int fd = -1, fd2 = -1;

	tap_begin();
	write_key_file(key_path, &k, 0644);
	EXPECT_EQ(ep_key_file_open(key_path, &got, &fd, err, sizeof(err)), -EACCES);
	EXPECT(strstr(err, "chmod 600"));
	tap_diag("%s", err);
	EXPECT(!chmod(key_path, 0640));
	EXPECT_EQ(ep_key_file_open(key_path, &got, &fd, err, sizeof(err)), -EACCES);
	EXPECT(!chmod(key_path, 0600));
	EXPECT_EQ(ep_key_file_open(key_path, &got, &fd, err, sizeof(err)), 0);
	EXPECT(!memcmp(got.key, k.key, sizeof(k.key)) && got.key_id == 9 && got.tenant == 7);
	/* Held: a second session with the same key would repeat its nonces. */
	EXPECT_EQ(ep_key_file_open(key_path, &got, &fd2, err, sizeof(err)), -EBUSY);
	tap_diag("%s", err);
	close(fd);
	EXPECT_EQ(ep_key_file_open(key_path, &got, &fd2, err, sizeof(err)), 0);
	close(fd2);
	k.revoked = true;
	write_key_file(key_path, &k, 0600);
	EXPECT_EQ(ep_key_file_open(key_path, &got, &fd, err, sizeof(err)), -EKEYREVOKED);
	{
		int w = open(key_path, O_WRONLY | O_TRUNC);

		EXPECT(w >= 0 && write(w, "{\"key_id\": 3}", 13) == 13);
		if (w >= 0)
			close(w);
	}
	EXPECT_EQ(ep_key_file_open(key_path, &got, &fd, err, sizeof(err)), -EBADMSG);
	tap_diag("%s", err);
	EXPECT_EQ(ep_key_file_open("/nonexistent/key", &got, &fd, err, sizeof(err)), -ENOENT);
	tap_end("a static key file: refused if group or others may read it, held by one "
		"session at a time, revoked or malformed refused with the reason");
}

/* --- a session against this test's edge ------------------------------------------------ */

static int edge = -1;
static struct sockaddr_in client_addr;
static struct ep_aead *node_aead[64]; /* the node's copy of each key, by id (< 64 here) */
static uint64_t node_pn = 1796000000000000000ull;

static pthread_mutex_t node_lock = PTHREAD_MUTEX_INITIALIZER; /* the renewal thread learns */

static void node_learn(const struct ep_key_info *k)
{
	pthread_mutex_lock(&node_lock);
	ep_aead_free(node_aead[k->key_id % 64]);
	node_aead[k->key_id % 64] = ep_aead_new(k->key);
	pthread_mutex_unlock(&node_lock);
}

static void edge_open(uint16_t *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	int buf = 8 << 20;

	edge = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	EXPECT(edge >= 0 && !bind(edge, (struct sockaddr *)&sa, sizeof(sa)));
	setsockopt(edge, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf));
	EXPECT(!getsockname(edge, (struct sockaddr *)&sa, &sl));
	*port = ntohs(sa.sin_port);
}

/* The next datagram the session sent, opened as a node opens it (sender 0). Returns its
 * length after the header (plaintext slice), -1 if none came within @wait_ms, -2 if it
 * did not open. */
static int edge_recv(int wait_ms, struct ep_msg *m, uint64_t *pn)
{
	static uint8_t buf[65536];
	struct pollfd pfd = { .fd = edge, .events = POLLIN };
	socklen_t sl = sizeof(client_addr);
	struct ep_aead *a;
	uint32_t sender;
	ssize_t n;

	if (poll(&pfd, 1, wait_ms) != 1)
		return -1;
	n = recvfrom(edge, buf, sizeof(buf), 0, (struct sockaddr *)&client_addr, &sl);
	if (n < 0 || ep_decode(buf, (size_t)n, 0, m, NULL, NULL) || !(m->flags & EP_F_AUTH))
		return -2;
	pthread_mutex_lock(&node_lock);
	a = node_aead[m->auth_key_id % 64];
	if (!a || ep_aead_open(a, buf, (size_t)n, &sender, pn) || sender != EP_AUTH_SENDER_DEVICE)
		n = -2;
	pthread_mutex_unlock(&node_lock);
	return n < 0 ? (int)n : m->payload_len;
}

enum { SEAL_OK, SEAL_BAD_TAG, SEAL_AS_DEVICE, SEAL_NONE };

/* A one-datagram reply to @task_id, as node NODE_ID seals it under @key_id (or not). */
static void edge_reply(uint64_t task_id, uint16_t key_id, uint8_t kind, uint16_t status,
		       const char *payload, int how)
{
	struct ep_msg m = EP_TEST_MSG(kind, .task_id = task_id, .status = status);
	uint8_t d[512];
	uint32_t len = payload ? (uint32_t)strlen(payload) : 0;
	ssize_t n;

	if (kind == EP_KIND_RETRY) {
		m.flags = EP_F_TOKEN;
		m.auth_key_id = 0x1234;
		memset(m.auth_tag, 0xab, sizeof(m.auth_tag));
	} else if (how != SEAL_NONE) {
		m.flags = EP_F_AUTH;
		m.auth_key_id = key_id;
	}
	n = ep_frag_build(&m, payload, len, 1400, 0, d, sizeof(d));
	EXPECT(n > 0);
	if (how != SEAL_NONE && kind != EP_KIND_RETRY) {
		EXPECT_EQ(ep_aead_seal(node_aead[key_id % 64],
				       how == SEAL_AS_DEVICE ? EP_AUTH_SENDER_DEVICE : NODE_ID,
				       node_pn++, d, (size_t)n),
			  0);
		if (how == SEAL_BAD_TAG)
			d[offsetof(struct ep_hdr, auth_tag) + 3] ^= 0x10;
	}
	EXPECT_EQ(
		sendto(edge, d, (size_t)n, 0, (struct sockaddr *)&client_addr, sizeof(client_addr)),
		n);
}

static void edge_drain(void)
{
	uint8_t b[65536];

	while (recv(edge, b, sizeof(b), MSG_DONTWAIT) >= 0)
		;
}

struct done {
	int n, error;
	char data[64], msg[128];
};

static void on_done(void *arg, struct ep_result *res)
{
	struct done *d = arg;

	d->n++;
	d->error = res->error;
	snprintf(d->data, sizeof(d->data), "%.*s", (int)res->len,
		 res->data ? (char *)res->data : "");
	snprintf(d->msg, sizeof(d->msg), "%s", res->msg);
	ep_result_free(res);
}

/* Let the session read what came (a few rounds: the datagram may be on its way). */
static void settle(struct ep_client *c)
{
	for (int i = 0; i < 5; i++) {
		ep_client_poll(c, 2);
	}
}

static struct ep_client_auth_stats auth_stats(struct ep_client *c)
{
	struct ep_client_auth_stats st = { .sz = sizeof(st) };

	EXPECT_EQ(ep_client_get_auth(c, &st), 0);
	return st;
}

/*
 * Once the client @c has read what came: the replies were dropped, counted in the
 * authentication counter @counter (now @count), and the task of @done is still open.
 */
#define EXPECT_DROPPED(c, counter, done, count)            \
	do {                                               \
		settle(c);                                 \
		EXPECT_EQ(auth_stats(c).counter, (count)); \
		EXPECT_EQ((done)->n, 0);                   \
	} while (0)

/*
 * Open a client with @o and the credentials @a, which must succeed. When it does not, the
 * reason goes to the log, the case @name ends there (failed) and NULL is returned.
 */
static struct ep_client *open_or_end(const struct ep_client_opts *o, const struct ep_client_auth *a,
				     const char *name)
{
	struct ep_client *c = NULL;
	char err[256];

	EXPECT_EQ(ep_client_open_auth(o, a, &c, err, sizeof(err)), 0);
	if (!c) {
		tap_diag("%s", err);
		tap_end("%s", name);
	}
	return c;
}

/* The injected clocks and enrollment. */
static uint64_t fake_ns = 1000 * S, fake_real_ns = (T0_UNIX_MS + 10) * MS;
static int enroll_calls, enroll_fail;
static uint16_t next_key_id = 31;
static char enroll_from[INET6_ADDRSTRLEN]; /* the local address the session enrolled from */

static uint64_t hook_now(void *arg)
{
	(void)arg;
	return fake_ns;
}
static uint64_t hook_real(void *arg)
{
	(void)arg;
	return fake_real_ns;
}

static int hook_enroll(void *arg, const struct ep_enroll_cfg *cfg, struct ep_key_info *k,
		       uint64_t *renew_after_ms, char *err, size_t errlen)
{
	(void)arg;
	enroll_calls++;
	enroll_from[0] = '\0';
	if (cfg->local && cfg->local->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)cfg->local)->sin_addr, enroll_from,
			  sizeof(enroll_from));
	if (enroll_fail) {
		snprintf(err, errlen,
			 "the controller refused: role \"camera\" is not in the "
			 "policy");
		return enroll_fail;
	}
	EXPECT(!strcmp(cfg->server, "127.0.0.1:7881") && !strcmp(cfg->ca, "ca.crt"));
	*k = key_info(next_key_id++, fake_real_ns / MS, 3600 * 1000);
	*renew_after_ms = 2400 * 1000;
	node_learn(k);
	return 0;
}

static const struct ep_client_hooks hooks = {
	.now_ns = hook_now,
	.now_real_ns = hook_real,
	.enroll = hook_enroll,
	.no_thread = true,
};

static const struct ep_client_auth enroll_auth = {
	.sz = sizeof(enroll_auth),
	.enroll = "127.0.0.1:7881",
	.cert = "dev.crt",
	.key = "dev.key",
	.ca = "ca.crt",
};

static void test_session_replies(uint16_t port)
{
	struct ep_client_opts o = {
		.host = "127.0.0.1", .port = port, .timeout_ms = 60000, .max_timeout_ms = 60000
	};
	struct ep_client_auth a = { .sz = sizeof(a), .key_file = key_path };
	struct ep_key_info k = key_info(9, T0_UNIX_MS, 3ull * 86400 * 1000);
	struct ep_task_opts t = { .type = 1 };
	struct ep_client_auth_stats st;
	struct done d1 = { 0 }, d2 = { 0 };
	struct ep_client *c = NULL;
	struct ep_msg m;
	uint64_t id1, id2, pn;
	char err[256];

	/* A key issued a minute ago by the wall clock. */
	k.issued_unix_ms = (uint64_t)time(NULL) * 1000 - 60000;
	k.expires_unix_ms = k.issued_unix_ms + 86400 * 1000;
	write_key_file(key_path, &k, 0600);
	node_learn(&k);

	tap_begin();
	c = open_or_end(&o, &a, "a session with a static key");
	if (!c)
		return;
	EXPECT_EQ(ep_client_submit(c, &t, "hello", 5, on_done, &d1, &id1), 0);
	EXPECT_EQ(edge_recv(1000, &m, &pn), 5);
	EXPECT(m.task_id == id1 && m.tenant_id == 7 && m.auth_key_id == 9 && m.priority == 3);
	EXPECT(ep_auth_pn_secs(pn) >= 59 && ep_auth_pn_secs(pn) <= 61);
	st = auth_stats(c);
	EXPECT(st.key_id == 9 && st.tenant == 7 && !strcmp(st.role, "camera") &&
	       st.renew_in_ms == UINT64_MAX && st.sealed == 1);
	tap_end("a static key: the task goes out sealed (key 9, the key's tenant, pn seconds "
		"since its issue)");

	tap_begin();
	edge_reply(id1, 9, EP_KIND_RESPONSE, 0, "forged", SEAL_BAD_TAG);
	edge_reply(id1, 9, EP_KIND_RESPONSE, 0, "mirror", SEAL_AS_DEVICE);
	EXPECT_DROPPED(c, bad_tag, &d1, 2);
	edge_reply(id1, 9, EP_KIND_RESPONSE, 0, "HELLO", SEAL_OK);
	settle(c);
	EXPECT(d1.n == 1 && d1.error == 0 && !strcmp(d1.data, "HELLO"));
	tap_end("a reply with a bad tag, or sealed as a device's, is dropped and counted "
		"(bad_tag 2); the node's opens and completes the task");

	tap_begin();
	EXPECT_EQ(ep_client_submit(c, &t, "x", 1, on_done, &d2, &id2), 0);
	EXPECT_EQ(edge_recv(1000, &m, &pn), 1);
	edge_reply(id2, 0, EP_KIND_ERROR, EP_ST_UNAUTHORIZED, "no", SEAL_NONE);
	edge_reply(id2, 0, EP_KIND_ERROR, EP_ST_OVERLOADED, NULL, SEAL_NONE);
	edge_reply(id2, 0, EP_KIND_RESPONSE, 0, "fake", SEAL_NONE);
	edge_reply(id2, 0, EP_KIND_RETRY, 0, NULL, SEAL_NONE);
	EXPECT_DROPPED(c, unsealed, &d2, 4);
	EXPECT_EQ(edge_recv(50, &m, &pn), -1); /* the RETRY sent nothing */
	{
		/* Under a key id the session does not hold. */
		struct ep_msg r = EP_TEST_MSG(EP_KIND_RESPONSE, .task_id = id2, .flags = EP_F_AUTH,
					      .auth_key_id = 10);
		uint8_t dg[128];
		ssize_t n = ep_frag_build(&r, "k", 1, 1400, 0, dg, sizeof(dg));

		EXPECT_EQ(ep_aead_seal(node_aead[9], NODE_ID, node_pn++, dg, (size_t)n), 0);
		sendto(edge, dg, (size_t)n, 0, (struct sockaddr *)&client_addr,
		       sizeof(client_addr));
	}
	EXPECT_DROPPED(c, unknown_key, &d2, 1);
	edge_reply(id2, 9, EP_KIND_ERROR, EP_ST_UNKNOWN_TYPE, "sealed", SEAL_OK);
	settle(c);
	EXPECT(d2.n == 1 && d2.error == -EREMOTEIO && !strcmp(d2.msg, "sealed"));
	tap_end("unauthenticated ERROR, RESPONSE and RETRY for an authenticated task are "
		"ignored and counted (no token taken, nothing resent); a sealed ERROR answers");

	tap_begin();
	EXPECT_EQ(ep_client_submit(c, &(struct ep_task_opts){ .type = 9 }, "x", 1, on_done, &d2,
				   NULL),
		  -EPERM);
	EXPECT_EQ(ep_client_submit(c, &(struct ep_task_opts){ .type = 1, .priority = 4 }, "x", 1,
				   on_done, &d2, NULL),
		  -ERANGE);
	{
		static char big[5000];

		EXPECT_EQ(ep_client_submit(c, &(struct ep_task_opts){ .type = 5, .no_compress = 1 },
					   big, sizeof(big), on_done, &d2, NULL),
			  -EMSGSIZE);
	}
	st = auth_stats(c);
	EXPECT_EQ(st.refused, 3);
	EXPECT_EQ(edge_recv(50, &m, &pn), -1); /* none was sent */
	tap_end("tasks the role forbids are refused at submission: type (-EPERM), priority "
		"above the ceiling (-ERANGE), larger than the role's largest (-EMSGSIZE)");
	ep_client_close(c);

	tap_begin();
	o.tenant_id = 8;
	EXPECT_EQ(ep_client_open_auth(&o, &a, &c, err, sizeof(err)), -EINVAL);
	tap_diag("%s", err);
	o.tenant_id = 0;
	a.enroll = "127.0.0.1:7881";
	EXPECT_EQ(ep_client_open_auth(&o, &a, &c, err, sizeof(err)), -EINVAL);
	tap_diag("%s", err);
	a = (struct ep_client_auth){ .sz = sizeof(a), .enroll = "127.0.0.1:7881", .cert = "c" };
	EXPECT_EQ(ep_client_open_auth(&o, &a, &c, err, sizeof(err)), -EINVAL);
	EXPECT(strstr(err, "key ca"));
	tap_diag("%s", err);
	EXPECT_EQ(ep_client_open_auth(&o, NULL, &c, err, sizeof(err)), -EINVAL);
	tap_end("bad credentials are refused at open with the reason: another tenant, a key "
		"file and enrollment both, enrollment without key and CA, none");
}

/* Threads submitting and retransmitting at once: every datagram has its own pn. */
struct thr {
	struct ep_client *c;
	int submitted;
};

static void *thread_main(void *arg)
{
	struct thr *t = arg;
	struct ep_task_opts o = { .type = 2 };
	uint64_t until;

	for (int i = 0; i < 50; i++)
		if (!ep_client_submit(t->c, &o, "ping", 4, NULL, NULL, NULL))
			t->submitted++;
	/* Timers of 5 ms, 10, 20...: retransmissions from every thread. */
	until = (uint64_t)time(NULL) + 1;
	while ((uint64_t)time(NULL) <= until && ep_client_inflight(t->c))
		ep_client_poll(t->c, 5);
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void test_pn_threads(uint16_t port)
{
	struct ep_client_opts o = { .host = "127.0.0.1",
				    .port = port,
				    .timeout_ms = 5,
				    .max_timeout_ms = 40,
				    .max_attempts = 4,
				    .retry_ratio = 10,
				    .retry_per_s = 10000,
				    .retry_burst = 10000 };
	struct ep_client_auth a = { .sz = sizeof(a), .key_file = key_path };
	static uint64_t pns[20000];
	struct thr th[4] = { 0 };
	pthread_t tid[4];
	struct ep_client_auth_stats st;
	struct ep_client *c = NULL;
	unsigned int n = 0, bad = 0, dup = 0, retx = 0;
	int submitted = 0;

	tap_begin();
	c = open_or_end(&o, &a, "threads");
	if (!c)
		return;
	for (int i = 0; i < 4; i++) {
		th[i].c = c;
		pthread_create(&tid[i], NULL, thread_main, &th[i]);
	}
	for (;;) { /* drain while they run: the socket buffer is not the limit */
		struct ep_msg m;
		uint64_t pn;
		int r = edge_recv(300, &m, &pn);

		if (r == -1)
			break;
		if (r == -2) {
			bad++;
			continue;
		}
		retx += !!(m.flags & EP_F_RETRY);
		if (n < sizeof(pns) / sizeof(pns[0]))
			pns[n++] = pn;
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(tid[i], NULL);
		submitted += th[i].submitted;
	}
	qsort(pns, n, sizeof(pns[0]), cmp_u64);
	for (unsigned int i = 1; i < n; i++)
		dup += ep_auth_pn_ctr(pns[i]) == ep_auth_pn_ctr(pns[i - 1]);
	st = auth_stats(c);
	EXPECT_EQ(submitted, 200);
	EXPECT_EQ(bad, 0);
	EXPECT_EQ(dup, 0);
	EXPECT_EQ(n, st.sealed);
	EXPECT(retx >= 200); /* every task was sent again at least once */
	/* Counters are consecutive from the first: none skipped, none reused. */
	EXPECT_EQ(ep_auth_pn_ctr(pns[n - 1]) - ep_auth_pn_ctr(pns[0]), n - 1);
	tap_end("4 threads, 200 tasks, %u datagrams of which %u retransmissions: every one "
		"opens, no counter twice, counters consecutive",
		n, retx);
	ep_client_close(c);
	edge_drain();
}

static void test_renewal(uint16_t port)
{
	struct ep_client_opts o = {
		.host = "127.0.0.1", .port = port, .timeout_ms = 60000, .max_timeout_ms = 60000
	};
	struct ep_task_opts t = { .type = 1 };
	struct done da = { 0 }, db = { 0 }, dc = { 0 }, dc2 = { 0 }, dd = { 0 };
	struct ep_client_auth_stats st;
	struct ep_client *c = NULL;
	uint64_t ida, idb, idd, pn;
	struct ep_msg m;
	char err[256];

	ep_session_test_hooks = &hooks;
	tap_begin();
	enroll_fail = -EACCES;
	EXPECT_EQ(ep_client_open_auth(&o, &enroll_auth, &c, err, sizeof(err)), -EACCES);
	EXPECT(strstr(err, "127.0.0.1:7881") && strstr(err, "not in the policy"));
	tap_diag("%s", err);
	enroll_fail = 0;
	tap_end("an enrollment refused fails the open, naming the controller and its words");

	tap_begin();
	enroll_calls = 0;
	c = open_or_end(&o, &enroll_auth, "renewal");
	if (!c) {
		ep_session_test_hooks = NULL;
		return;
	}
	EXPECT_EQ(enroll_calls, 1);
	EXPECT_EQ(ep_client_submit(c, &t, "a", 1, on_done, &da, &ida), 0);
	EXPECT_EQ(edge_recv(1000, &m, &pn), 1);
	EXPECT(m.auth_key_id == 31 && pn == ep_auth_pn(0, 0));
	fake_ns += 5 * S;
	EXPECT_EQ(ep_client_submit(c, &t, "b", 1, on_done, &db, &idb), 0);
	EXPECT_EQ(edge_recv(1000, &m, &pn), 1);
	EXPECT(m.auth_key_id == 31 && pn == ep_auth_pn(5, 1));
	fake_ns += 2395 * S - 1;
	fake_real_ns += 2400 * S;
	EXPECT_EQ(ep_session_auth_step(c), 0); /* 1 ns before renew_after */
	EXPECT_EQ(enroll_calls, 1);
	fake_ns += 1;
	EXPECT_EQ(ep_session_auth_step(c), 1);
	EXPECT_EQ(enroll_calls, 2);
	st = auth_stats(c);
	EXPECT(st.key_id == 31 && st.enrollments == 2 && st.renew_in_ms == 2400 * 1000);
	/* Key 31 seals 2 s more, while the nodes learn key 32; then key 32, from 0. */
	EXPECT_EQ(ep_client_submit(c, &t, "c", 1, on_done, &dc, NULL), 0);
	EXPECT_EQ(edge_recv(1000, &m, &pn), 1);
	EXPECT(m.auth_key_id == 31 && pn == ep_auth_pn(2400, 2));
	fake_ns += 2 * S;
	EXPECT_EQ(ep_client_submit(c, &t, "c", 1, on_done, &dc2, NULL), 0);
	EXPECT_EQ(edge_recv(1000, &m, &pn), 1);
	EXPECT(m.auth_key_id == 32 && pn == ep_auth_pn(2, 0));
	EXPECT_EQ(auth_stats(c).key_id, 32);
	/* A reply under the old key, still valid, completes a task it sealed. */
	edge_reply(ida, 31, EP_KIND_RESPONSE, 0, "A", SEAL_OK);
	settle(c);
	EXPECT(da.n == 1 && !strcmp(da.data, "A"));
	tap_end("renewal at renew_after exactly (injected clock): the fresh key seals 2 s "
		"later, counter from 0; the old key still opens replies");

	tap_begin();
	fake_ns += 1200 * S; /* key 31 expires 3600 s after it came */
	ep_client_process(c);
	edge_reply(idb, 31, EP_KIND_RESPONSE, 0, "B", SEAL_OK);
	EXPECT_DROPPED(c, unknown_key, &db, 1);
	edge_reply(idb, 32, EP_KIND_RESPONSE, 0, "B2", SEAL_OK);
	settle(c);
	EXPECT(db.n == 1 && !strcmp(db.data, "B2"));
	tap_end("once the old key expires, replies under it are dropped (unknown_key)");

	tap_begin();
	enroll_fail = -ETIMEDOUT;
	fake_ns += 1200 * S; /* key 32 is due; the controller does not answer */
	EXPECT_EQ(ep_session_auth_step(c), -ETIMEDOUT);
	st = auth_stats(c);
	EXPECT(st.enroll_failures == 1 && strstr(st.last_error, "refused"));
	EXPECT_EQ(st.key_id, 32); /* still seals */
	fake_ns += 1200 * S;	  /* and now it has expired */
	EXPECT_EQ(ep_session_auth_step(c), -ETIMEDOUT);
	EXPECT_EQ(ep_client_submit(c, &t, "d", 1, on_done, &dd, &idd), 0);
	EXPECT_EQ(edge_recv(50, &m, &pn), -1); /* held: no key to seal with */
	st = auth_stats(c);
	EXPECT(st.held == 1 && st.key_id == 0);
	EXPECT_EQ(ep_session_auth_step(c), 0); /* waits 2 s after the second failure */
	enroll_fail = 0;
	fake_ns += 2 * S;
	EXPECT_EQ(ep_session_auth_step(c), 1);
	EXPECT_EQ(edge_recv(1000, &m, &pn), 1); /* sent at once under the new key */
	EXPECT(m.task_id == idd && m.auth_key_id == 33);
	st = auth_stats(c);
	EXPECT(st.last_error[0] == '\0' && st.enroll_failures == 2);
	edge_reply(idd, 33, EP_KIND_RESPONSE, 0, "D", SEAL_OK);
	settle(c);
	EXPECT(dd.n == 1 && !strcmp(dd.data, "D"));
	tap_end("renewal failing: the key seals until it expires, then tasks wait; the next "
		"enrollment sends them at once under the new key");
	ep_client_close(c);
	ep_session_test_hooks = NULL;
	edge_drain();
}

/* The renewal thread itself, on the real clock: keys of 300 ms renewed after 100 ms while
 * the main thread sends. */
static int hook_enroll_fast(void *arg, const struct ep_enroll_cfg *cfg, struct ep_key_info *k,
			    uint64_t *renew_after_ms, char *err, size_t errlen)
{
	struct timespec ts;

	(void)arg, (void)cfg, (void)err, (void)errlen;
	clock_gettime(CLOCK_REALTIME, &ts);
	__atomic_fetch_add(&enroll_calls, 1, __ATOMIC_RELAXED);
	*k = key_info(__atomic_fetch_add(&next_key_id, 1, __ATOMIC_RELAXED),
		      (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000, 300);
	*renew_after_ms = 100;
	node_learn(k);
	return 0;
}

static void test_renewal_thread(uint16_t port)
{
	static const struct ep_client_hooks thread_hooks = { .enroll = hook_enroll_fast };
	struct ep_client_opts o = {
		.host = "127.0.0.1", .port = port, .timeout_ms = 60000, .max_timeout_ms = 60000
	};
	struct ep_client_auth_stats st;
	struct ep_client *c = NULL;
	unsigned int sent = 0, opened = 0, keys_seen = 0;
	uint16_t last_key = 0;

	tap_begin();
	enroll_calls = 0;
	next_key_id = 40;
	ep_session_test_hooks = &thread_hooks;
	c = open_or_end(&o, &enroll_auth, "renewal thread");
	ep_session_test_hooks = NULL;
	if (!c)
		return;
	/* 60 tasks, 10 ms apart: 600 ms, keys renewed every 100 ms. */
	for (int i = 0; i < 60; i++) {
		struct ep_msg m;
		uint64_t pn;

		if (!ep_client_submit(c, &(struct ep_task_opts){ .type = 1 }, "t", 1, NULL, NULL,
				      NULL))
			sent++;
		if (edge_recv(1000, &m, &pn) == 1) {
			opened++;
			keys_seen += m.auth_key_id != last_key;
			last_key = m.auth_key_id;
		}
		usleep(10000);
	}
	st = auth_stats(c);
	EXPECT_EQ(sent, 60);
	EXPECT_EQ(opened, 60);
	EXPECT(st.enrollments >= 4 && keys_seen >= 4 && st.held == 0);
	ep_client_close(c); /* joins the thread */
	tap_end("the renewal thread: %llu keys in 600 ms (renewed every 100 ms), %u of them "
		"sealed the 60 tasks, no send waited for a key",
		(unsigned long long)st.enrollments, keys_seen);
	edge_drain();
}

/* An unauthenticated ERROR is named when the task times out, but is not its answer. */
static void test_timeout_note(uint16_t port)
{
	struct ep_client_opts o = { .host = "127.0.0.1",
				    .port = port,
				    .timeout_ms = 30,
				    .max_timeout_ms = 30,
				    .max_attempts = 1 };
	struct ep_client_auth a = { .sz = sizeof(a), .key_file = key_path };
	struct done d = { 0 };
	struct ep_client *c = NULL;
	struct ep_msg m;
	uint64_t id, pn;

	tap_begin();
	c = open_or_end(&o, &a, "timeout");
	if (!c)
		return;
	EXPECT_EQ(
		ep_client_submit(c, &(struct ep_task_opts){ .type = 1 }, "q", 1, on_done, &d, &id),
		0);
	EXPECT_EQ(edge_recv(1000, &m, &pn), 1);
	edge_reply(id, 0, EP_KIND_ERROR, EP_ST_UNSUPPORTED, NULL, SEAL_NONE);
	for (int i = 0; i < 50 && !d.n; i++)
		ep_client_poll(c, 10);
	EXPECT(d.n == 1 && d.error == -ETIMEDOUT && strstr(d.msg, "unsupported"));
	tap_diag("%s", d.msg);
	tap_end("a task answered only by an unauthenticated ERROR times out, and says so");
	ep_client_close(c);
}

/* Poll @c until the edge gets a datagram (or about 500 ms passed): a parked task looks for
 * its new key every 20 ms. Returns edge_recv()'s. */
static int poll_until_sent(struct ep_client *c, struct ep_msg *m, uint64_t *pn)
{
	int n = -1;

	for (int i = 0; i < 50 && n == -1; i++) {
		ep_client_poll(c, 5);
		n = edge_recv(5, m, pn);
	}
	return n;
}

#define UNBOUND                                                                    \
	"reply larger than 3x the request to an address the key was not enrolled " \
	"from; enroll from this address"

/* A sealed UNAUTHORIZED (docs/protocol.md 3.5): an enrolled session enrolls again, from the
 * address it sends from, and sends the task again under the new key once that seals; once
 * per task, and not for a key enrolled for this. */
static void test_rebind(uint16_t port)
{
	struct ep_client_opts o = {
		.host = "127.0.0.1", .port = port, .timeout_ms = 60000, .max_timeout_ms = 60000
	};
	struct ep_task_opts t = { .type = 1 };
	struct done d1 = { 0 }, d2 = { 0 }, d3 = { 0 };
	struct ep_client_auth_stats st;
	struct ep_client *c = NULL;
	uint64_t id1, id2, id3, pn;
	uint16_t k1, k2;
	struct ep_msg m;

	ep_session_test_hooks = &hooks;
	enroll_calls = enroll_fail = 0;
	tap_begin();
	c = open_or_end(&o, &enroll_auth, "rebind");
	ep_session_test_hooks = NULL;
	if (!c)
		return;
	EXPECT(!strcmp(enroll_from, "127.0.0.1"));
	k1 = auth_stats(c).key_id;
	EXPECT_EQ(ep_client_submit(c, &t, "big", 3, on_done, &d1, &id1), 0);
	EXPECT_EQ(edge_recv(1000, &m, &pn), 3);
	EXPECT_EQ(m.auth_key_id, k1);
	edge_reply(id1, k1, EP_KIND_ERROR, EP_ST_UNAUTHORIZED, UNBOUND, SEAL_OK);
	settle(c);
	EXPECT_EQ(d1.n, 0); /* not failed: waiting for a new key */
	EXPECT_EQ(auth_stats(c).rebinds, 1);
	EXPECT_EQ(ep_session_auth_step(c), 1); /* enrolls at once, not at renew_after */
	EXPECT_EQ(enroll_calls, 2);
	EXPECT(!strcmp(enroll_from, "127.0.0.1"));
	st = auth_stats(c);
	k2 = (uint16_t)(k1 + 1);
	EXPECT_EQ(st.key_id, k1);	       /* the fresh key seals in 2 s */
	EXPECT_EQ(ep_session_auth_step(c), 0); /* and no more enrollments */
	EXPECT_EQ(poll_until_sent(c, &m, &pn), -1);
	/* A second copy of the refusal (say, of a retransmission) changes nothing. */
	edge_reply(id1, k1, EP_KIND_ERROR, EP_ST_UNAUTHORIZED, UNBOUND, SEAL_OK);
	settle(c);
	EXPECT_EQ(d1.n, 0);
	fake_ns += EP_KEYRING_SWITCH_MS * MS;
	EXPECT_EQ(poll_until_sent(c, &m, &pn), 3);
	EXPECT(m.task_id == id1 && m.auth_key_id == k2 && pn == ep_auth_pn(2, 0));
	edge_reply(id1, k1, EP_KIND_ERROR, EP_ST_UNAUTHORIZED, UNBOUND, SEAL_OK);
	settle(c);
	EXPECT_EQ(d1.n, 0); /* the old key's, late: not this send's answer */
	edge_reply(id1, k2, EP_KIND_RESPONSE, 0, "BIG", SEAL_OK);
	settle(c);
	EXPECT(d1.n == 1 && d1.error == 0 && !strcmp(d1.data, "BIG"));
	st = auth_stats(c);
	EXPECT(st.enrollments == 2 && st.rebinds == 1 && st.key_id == k2);
	tap_end("a sealed UNAUTHORIZED (a large reply refused at this address): the session "
		"enrolls again at once, from the address it sends from, and sends the task "
		"again under the new key once it seals (2 s); the old key's late refusals "
		"change nothing");

	tap_begin();
	EXPECT_EQ(ep_client_submit(c, &t, "big2", 4, on_done, &d2, &id2), 0);
	EXPECT_EQ(edge_recv(1000, &m, &pn), 4);
	edge_reply(id2, k2, EP_KIND_ERROR, EP_ST_UNAUTHORIZED, UNBOUND, SEAL_OK);
	settle(c);
	EXPECT(d2.n == 1 && d2.error == -EREMOTEIO && strstr(d2.msg, "enroll from this address"));
	EXPECT_EQ(ep_session_auth_step(c), 0);
	EXPECT_EQ(enroll_calls, 2);
	tap_end("a refusal under the key enrolled for the last one fails the task at once, "
		"with the node's words, and enrolls no more");

	ep_client_close(c);

	tap_begin();
	/* Another session: a task refused under its key while a renewed one waits to seal
	 * goes out under the renewed one, without another enrollment; refused again, it
	 * fails. */
	ep_session_test_hooks = &hooks;
	c = open_or_end(&o, &enroll_auth, "rebind after a renewal");
	ep_session_test_hooks = NULL;
	if (!c)
		return;
	k1 = auth_stats(c).key_id;
	fake_ns += 2400 * S;
	fake_real_ns += 2400 * S;
	EXPECT_EQ(ep_session_auth_step(c), 1); /* renew_after: k1 + 1, sealing in 2 s */
	EXPECT_EQ(ep_client_submit(c, &t, "big3", 4, on_done, &d3, &id3), 0);
	EXPECT_EQ(edge_recv(1000, &m, &pn), 4);
	EXPECT_EQ(m.auth_key_id, k1);
	edge_reply(id3, k1, EP_KIND_ERROR, EP_ST_UNAUTHORIZED, UNBOUND, SEAL_OK);
	settle(c);
	EXPECT_EQ(d3.n, 0);
	EXPECT_EQ(ep_session_auth_step(c), 0);
	EXPECT_EQ(auth_stats(c).rebinds, 0);
	fake_ns += EP_KEYRING_SWITCH_MS * MS;
	EXPECT_EQ(poll_until_sent(c, &m, &pn), 4);
	EXPECT(m.task_id == id3 && m.auth_key_id == k1 + 1);
	edge_reply(id3, (uint16_t)(k1 + 1), EP_KIND_ERROR, EP_ST_UNAUTHORIZED, UNBOUND, SEAL_OK);
	settle(c);
	EXPECT(d3.n == 1 && d3.error == -EREMOTEIO && strstr(d3.msg, "enroll from this"));
	tap_end("a task refused under a key older than the newest waits for the newest (no "
		"enrollment); refused again, it fails with the node's words");
	ep_client_close(c);
}

int main(void)
{
	uint16_t port;

	snprintf(key_path, sizeof(key_path), "/tmp/ep-test-clauth-%d.key", (int)getpid());
	test_keyring_pn_and_renewal();
	test_keyring_static();
	test_key_file();
	edge_open(&port);
	test_session_replies(port);
	test_pn_threads(port);
	test_renewal(port);
	test_renewal_thread(port);
	test_timeout_note(port);
	test_rebind(port);
	unlink(key_path);
	close(edge);
	for (int i = 0; i < 64; i++)
		ep_aead_free(node_aead[i]);
	return tap_finish();
}
