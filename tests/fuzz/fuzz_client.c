// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The client library's reply path (userspace/client/client.c: decoding, reassembly of
 * fragmented results, zstd decompression, retriable errors), through its public API only:
 * a session (ep_client_open()) talks to an "edge" that is a UDP socket of this harness on
 * 127.0.0.1. Each input submits one to four tasks; the harness reads their requests to
 * learn the task ids, then sends the input's datagrams to the session and lets it process
 * them (ep_client_process()). What is left pending is cancelled at the end.
 *
 * Input: byte 0 = tasks to submit, less one (bits 0-1); then datagrams, each a big-endian
 * 16-bit length, a byte that says which pending task's id to write into it (bit 7 set: the
 * id stays as the input has it), and the datagram's bytes.
 * Every task must end exactly once, with a result the library's rules allow.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "edgeplane/client.h"
#include "edgeplane/codec.h"
#include "fuzz.h"

#define MAX_TASKS  4
#define MAX_RESULT (1u << 20)

static struct ep_client *cl;
static int edge = -1;
static struct sockaddr_in client_addr;
static unsigned int ended;

static void on_result(void *arg, struct ep_result *res)
{
	/* -EADDRNOTAVAIL: more RETRYs for one task than the library follows (3). */
	FZ_CHECK(res->error == 0 || res->error == -EREMOTEIO || res->error == -ETIMEDOUT ||
		 res->error == -ECANCELED || res->error == -EMSGSIZE || res->error == -EPROTO ||
		 res->error == -ENOMEM || res->error == -EADDRNOTAVAIL);
	if (!res->error) {
		FZ_CHECK(res->len <= MAX_RESULT);
		FZ_CHECK(res->data || !res->len);
		if (res->len) /* the whole length is there */
			(void)*(volatile uint8_t *)&res->data[res->len - 1];
	} else {
		FZ_CHECK(!res->data);
	}
	FZ_CHECK(memchr(res->msg, '\0', sizeof(res->msg)));
	FZ_CHECK(ep_result_strerror(res));
	ep_result_free(res);
	ended++;
	(void)arg;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	struct ep_client_opts o = {
		.host = "127.0.0.1",
		.tenant_id = 7,
		.zstd_level = 1,
		.timeout_ms = 60000,
		.max_timeout_ms = 60000,
		.max_inflight = 64,
		.max_result_len = MAX_RESULT,
	};

	edge = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	FZ_CHECK(edge >= 0);
	FZ_CHECK(!bind(edge, (struct sockaddr *)&sa, sizeof(sa)));
	FZ_CHECK(!getsockname(edge, (struct sockaddr *)&sa, &sl));
	o.port = ntohs(sa.sin_port);
	FZ_CHECK(!ep_client_open(&o, &cl));
	sl = sizeof(client_addr);
	FZ_CHECK(!getsockname(ep_client_fd(cl), (struct sockaddr *)&client_addr, &sl));
	return 0;
}

/* Read what the session sent; the task ids of REQUEST fragments go to @ids. */
static unsigned int drain_edge(uint64_t *ids, unsigned int max)
{
	static uint8_t buf[65536];
	unsigned int n = 0;
	ssize_t len;

	while ((len = recv(edge, buf, sizeof(buf), 0)) >= 0) {
		struct ep_msg m;

		if (!ep_decode(buf, (size_t)len, 0, &m, NULL, NULL) && m.kind == EP_KIND_REQUEST &&
		    n < max && (!n || ids[n - 1] != m.task_id))
			ids[n++] = m.task_id;
	}
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	struct ep_task_opts t = { .type = 1 };
	uint64_t ids[MAX_TASKS];
	unsigned int ntasks = (fz_u8(&f) & 3) + 1, got;
	static uint8_t payload[3000], dgram[65536];

	drain_edge(ids, 0);
	ended = 0;
	for (unsigned int i = 0; i < ntasks; i++) {
		/* A small task and one of two fragments, as a real client sends them. */
		for (size_t k = 0; k < sizeof(payload); k++)
			payload[k] = (uint8_t)(k * 7 + i);
		FZ_CHECK(!ep_client_submit(cl, &t, payload, i & 1 ? 2000 : 16, on_result, NULL,
					   NULL));
	}
	got = drain_edge(ids, MAX_TASKS);
	FZ_CHECK(got == ntasks);

	while (fz_left(&f) >= 3) {
		size_t len = fz_u16(&f) % (EP_DGRAM_MAX + 1), n;
		uint8_t which = fz_u8(&f);
		const uint8_t *p = fz_bytes(&f, len, &n);

		memcpy(dgram, p, n);
		if (!(which & 0x80) && n >= 32) {
			uint64_t id = htobe64(ids[which % ntasks]);

			memcpy(dgram + 24, &id, 8);
		}
		FZ_CHECK(sendto(edge, dgram, n, 0, (struct sockaddr *)&client_addr,
				sizeof(client_addr)) == (ssize_t)n);
		ep_client_process(cl);
	}
	for (unsigned int i = 0; i < ntasks; i++)
		(void)ep_client_cancel(cl, ids[i]);
	FZ_CHECK(ended == ntasks);
	FZ_CHECK(ep_client_inflight(cl) == 0);
	drain_edge(ids, 0);
	return 0;
}
