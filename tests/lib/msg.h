/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* msg.h - the messages the tests build again and again: a task message with the usual
 * header, a node's load report with the usual numbers (unit tests and fuzz seeds alike). */
#ifndef EP_TEST_MSG_H
#define EP_TEST_MSG_H

#include <arpa/inet.h>
#include <endian.h>
#include <stdint.h>

#include "ep_shared.h"
#include "edgeplane/codec.h"

/* A struct ep_msg initializer of @kind at priority 3, task type 1, tenant 7 (the header of
 * docs/protocol.md's worked examples), with the further fields given (.task_id = 42, ...). */
// clang-format off
#define EP_TEST_MSG(kind_, ...) \
	{ .kind = (kind_), .priority = 3, .task_type = 1, .tenant_id = 7, __VA_ARGS__ }
/* The message of docs/protocol.md's fragmented example (frag0..frag2): a priority-5 zstd
 * request of type 0x10 for tenant 7, task 0x0102030405060708, hinting 256 KiB. */
#define EP_TEST_FRAG_MSG \
	{ .kind = EP_KIND_REQUEST, .priority = 5, .flags = EP_F_ZSTD, .task_type = 0x10, \
	  .tenant_id = 7, .task_id = 0x0102030405060708ULL, .size_hint_kib = 256 }
// clang-format on

/*
 * ep_test_report() - load report number @seq of node @id: every 100 ms, CPU 25 %, 1 GiB
 * free, 3 tasks waiting and 5 in flight, p99 @p99_us, capacity @cap, MAC
 * 02:00:00:00:00:@mac5, port 7878; its address and rate are left 0 for the caller.
 */
static inline struct ep_load_report ep_test_report(uint32_t id, uint32_t seq, uint8_t mac5,
						   uint32_t p99_us, uint32_t cap)
{
	return (struct ep_load_report){
		.node_id = htonl(id),
		.seq = htonl(seq),
		.interval_ms = htonl(100),
		.cpu_pct_x100 = htonl(2500),
		.mem_free_kib = htobe64(1 << 20),
		.queue_depth = htonl(3),
		.inflight = htonl(5),
		.p99_us = htonl(p99_us),
		.capacity = htonl(cap),
		.mac = { 2, 0, 0, 0, 0, mac5 },
		.port = htons(7878),
	};
}

#endif
