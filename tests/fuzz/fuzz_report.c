// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Load reports at the controller: UDP datagrams from anyone on the report port, decoded
 * as control/server.c's handle_report() does (ep_reg_decode_report()) and applied to the
 * node registry (ep_reg_report(), with a stand-in for the kernel's neighbour table), with the clock
 * advancing, nodes dying (ep_reg_tick()) and the result published to the gateway's maps (fake_gw.c
 * checks the table XDP would read).
 *
 * Input: a set-up byte (registration and waiting on or off, which nodes are configured),
 * then operations until the input ends:
 *   0  a raw datagram: source (one of four: three IPv4, one IPv6), length, bytes
 *   1  a report body: source, 72 bytes, wrapped in a valid LOAD_REPORT header
 *   2  the clock advances by up to 65 s
 *   3  a timer tick: dead nodes are found and the maps published
 *   4  an operator's change through the API: drain, undrain or delete a node
 * At the end, the views an operator reads (`edgectl nodes`, status, /metrics) are built.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>

#include "edgeplane/codec.h"
#include "fuzz_ctl.h"

#define NSRC 4

static const uint8_t src6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0x04 };

/* Source @i: 198.18.0.(i + 1), or 2001:db8::4 for the last. */
static void source(unsigned int i, uint32_t *ip4, const uint8_t **ip6)
{
	*ip4 = 0;
	*ip6 = NULL;
	if (i < NSRC - 1)
		*ip4 = htonl(0xc6120001u + i);
	else
		*ip6 = src6;
}

/*
 * The neighbour table the controller would read: sources 0 and 1 have entries with the
 * MACs of nodes 1 and 2 (02:00:00:00:00:0N), source 2 has none, the IPv6 source one of
 * its own.
 */
static int fake_neigh(const struct ep_reg_sender *from, bool resolve, uint8_t mac[6])
{
	unsigned int src = (unsigned int)(uintptr_t)from->ctx;

	(void)resolve;
	if (src == 2)
		return -ENOENT;
	memcpy(mac, (uint8_t[6]){ 2, 0, 0, 0, 0, (uint8_t)(src + 1) }, 6);
	return 0;
}

/* What handle_report() does with one datagram. */
static void datagram(struct ep_ctl *c, const uint8_t *buf, size_t len, unsigned int src,
		     uint64_t now)
{
	struct ep_reg_sender from = { .neigh = fake_neigh, .ctx = (void *)(uintptr_t)src };
	struct ep_load_report rep;
	enum ep_reg_report res;

	if (ep_reg_decode_report(buf, len, &rep)) {
		c->rx_bad++;
		return;
	}
	source(src, &from.ip4, &from.ip6);
	res = ep_reg_report(&c->reg, &rep, &from, now);
	FZ_CHECK(res >= 0 && res < EP_REG__COUNT);
	c->rx[res]++;
	(void)ep_reg_get(&c->reg, ntohl(rep.node_id));
}

static void configure(struct ep_ctl *c, uint8_t setup)
{
	/* Configured nodes as a config file may have them: a DSR worker with its MAC, one
	 * that learns its MAC from reports, an encapsulated one, and a cloud node. */
	struct ep_reg_node n1 = { .id = 1,
				  .origin = EP_ORIGIN_CONFIG,
				  .mac_set = true,
				  .mac = { 2, 0, 0, 0, 0, 1 },
				  .ip4 = htonl(0xc6120001) };
	struct ep_reg_node n2 = { .id = 2, .origin = EP_ORIGIN_CONFIG, .ip4 = htonl(0xc6120002) };
	struct ep_reg_node n3 = { .id = 3,
				  .origin = EP_ORIGIN_CONFIG,
				  .encap = true,
				  .mac_set = true,
				  .ip4 = htonl(0xc6120003),
				  .capacity_cfg = 200 };
	struct ep_reg_node n9 = { .id = 9,
				  .origin = EP_ORIGIN_CONFIG,
				  .role = EP_ROLE_CLOUD,
				  .mac_set = true,
				  .mac = { 2, 0, 0, 0, 0, 9 } };

	if (setup & 4)
		FZ_CHECK(!ep_reg_add(&c->reg, &n1, FZ_T0));
	if (setup & 8)
		FZ_CHECK(!ep_reg_add(&c->reg, &n2, FZ_T0));
	if (setup & 16)
		FZ_CHECK(!ep_reg_add(&c->reg, &n3, FZ_T0));
	if (setup & 32) {
		FZ_CHECK(!ep_reg_add(&c->reg, &n9, FZ_T0));
		c->policy.cloud_node = 9;
	}
}

static void api_change(struct ep_ctl *c, uint8_t op, uint8_t id)
{
	static const char *const cmds[] = { "node.drain", "node.undrain", "node.del" };
	char req[96];
	int n;

	n = snprintf(req, sizeof(req), "{\"cmd\":\"%s\",\"id\":%d}", cmds[op % 3], id % 64);
	fz_ctl_api(c, req, (size_t)n, true);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	static struct ep_ctl ctl;
	struct ep_reg_opts opts;
	uint64_t now = FZ_T0;
	uint8_t setup = fz_u8(&f);
	unsigned int ops = 0;

	opts = (struct ep_reg_opts){ .allow_register = setup & 1,
				     .wait_for_report = setup & 2,
				     .dead_after_ns = 500ull * 1000000 };
	fz_ctl_init(&ctl, &opts);
	configure(&ctl, setup);
	fz_ctl_publish(&ctl, now);

	while (fz_left(&f) && ops++ < 256) {
		uint8_t op = fz_u8(&f), src = fz_u8(&f) % NSRC;
		const uint8_t *p;
		size_t len;

		switch (op % 5) {
		case 0:
			p = fz_bytes(&f, fz_u8(&f), &len);
			datagram(&ctl, p, len, src, now);
			break;
		case 1: {
			uint8_t buf[EP_HDR_LEN + sizeof(struct ep_load_report)] = { 0 };
			struct ep_msg m = { .kind = EP_KIND_LOAD_REPORT, .priority = 3 };
			ssize_t n;

			p = fz_bytes(&f, sizeof(struct ep_load_report), &len);
			memcpy(buf + EP_HDR_LEN, p, len);
			n = ep_frag_build(&m, buf + EP_HDR_LEN, sizeof(struct ep_load_report), 1400,
					  0, buf, sizeof(buf));
			FZ_CHECK(n == sizeof(buf));
			datagram(&ctl, buf, sizeof(buf), src, now);
			break;
		}
		case 2:
			now += (uint64_t)fz_u16(&f) * 1000000;
			break;
		case 3:
			ep_reg_tick(&ctl.reg, now);
			if (ctl.reg.dirty)
				fz_ctl_publish(&ctl, now);
			break;
		case 4:
			api_change(&ctl, src, fz_u8(&f));
			break;
		}
		fz_ctl_check(&ctl);
	}
	fz_ctl_publish(&ctl, now);
	fz_ctl_views(&ctl);
	fz_ctl_fini(&ctl);
	return 0;
}
