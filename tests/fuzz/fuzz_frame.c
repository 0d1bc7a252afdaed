// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Whole frames as the AF_XDP and DPDK backends receive them (dataplane/io/frame.c, with
 * bpf/lib/parse.h, the classifier's own parser): the input is one Ethernet frame, parsed
 * for the task port, its UDP checksum checked; a frame that parses must place its payload
 * inside the frame, and the reply headers written for it (addresses swapped, as the
 * backends answer) must parse again, to the client's port, with a correct checksum and
 * the same payload.
 */
#include "io/frame.h"
#include "fuzz.h"

#define PORT EP_DEFAULT_PORT

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t reply[EP_FRAME_HDR_MAX + 0x10000];
	uint8_t *frame = malloc(size ? size : 1);
	struct ep_dgram d = { 0 }, back = { 0 };
	uint32_t hl;
	int err;

	FZ_CHECK(frame);
	memcpy(frame, data, size); /* exactly @size bytes readable */
	err = ep_frame_parse(frame, (uint32_t)size, PORT, &d);
	if (err) {
		FZ_CHECK(err < 0 && -err < EP_STAT__COUNT);
		goto out;
	}
	FZ_CHECK(d.data >= frame && d.data + d.len <= frame + size);
	FZ_CHECK(d.route.nvlan <= 2);
	(void)ep_frame_udp_csum_ok(&d);

	/* The reply the backends would send back along this route, with this payload. */
	hl = ep_frame_hdr_len(&d.route);
	FZ_CHECK(hl <= EP_FRAME_HDR_MAX);
	if (d.len > sizeof(reply) - hl || d.peer.port == 0)
		goto out;
	memcpy(reply + hl, d.data, d.len);
	ep_frame_write_hdrs(reply, &d.route, &d.peer, d.len);
	err = ep_frame_parse(reply, hl + d.len, d.peer.port, &back);
	/* A reply to a multicast or broadcast source is not a task datagram. */
	if (!err) {
		FZ_CHECK(back.len == d.len && !memcmp(back.data, d.data, d.len));
		FZ_CHECK(back.peer.port == d.route.local_port);
		FZ_CHECK(!memcmp(back.peer.addr, d.route.local_addr, 16));
		FZ_CHECK(ep_frame_udp_csum_ok(&back));
	}
out:
	free(frame);
	return 0;
}
