// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * epreports - LOAD_REPORT messages for many node ids from one socket, as that many
 * runtimes would send them, for the benchmarks of a gateway with thousands of nodes
 * (bench_lb.sh's "nodes" section): every id in 1..--ids, one report each per round,
 * rounds --interval-ms apart, each round paced in bursts of --burst reports 1 ms apart so
 * that the controller's socket buffer takes them.
 *
 *	epreports --to ADDR:PORT --ids N --ip4 A --mac M [--rounds 3] [--interval-ms 500]
 *		  [--burst 64] [--cpu PCT] [--capacity N] [--seq 1]
 *
 * Every report claims the same address and MAC (where the benchmark's sink is), an idle
 * node (CPU --cpu %, 1 GiB free, nothing queued) of capacity --capacity; the first
 * round's sequence number is --seq (a later run goes on from where one stopped). Exits 0 once
 * every report went out, 1 if a send failed, 2 on bad options.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "edgeplane/codec.h"
#include "edgeplane/util.h"

struct opts {
	struct sockaddr_storage to; /* --to ADDR:PORT */
	socklen_t tolen;
	long ids, rounds, interval_ms, burst, cpu, capacity, seq;
	uint32_t ip4;
	uint8_t mac[6];
};

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned int b[6];

	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	return 0;
}

/* The options into @o: 0, or -EINVAL (with a message). */
static int parse(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = { { "to", required_argument, NULL, 't' },
					    { "ids", required_argument, NULL, 'n' },
					    { "ip4", required_argument, NULL, '4' },
					    { "mac", required_argument, NULL, 'm' },
					    { "rounds", required_argument, NULL, 'r' },
					    { "interval-ms", required_argument, NULL, 'i' },
					    { "burst", required_argument, NULL, 'b' },
					    { "cpu", required_argument, NULL, 'c' },
					    { "capacity", required_argument, NULL, 'C' },
					    { "seq", required_argument, NULL, 's' },
					    { 0 } };
	int opt, bad = 0, have = 0;

	*o = (struct opts){
		.rounds = 3, .interval_ms = 500, .burst = 64, .cpu = 10, .capacity = 100, .seq = 1
	};
	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (opt) {
		case 't':
			bad |= ep_parse_sockaddr("--to", optarg, 0, &o->to, &o->tolen) != 0,
				have |= 1;
			break;
		case 'n':
			bad |= ep_parse_long("--ids", optarg, 1, EP_GW_MAX_NODES - 1, &o->ids);
			break;
		case '4':
			bad |= inet_pton(AF_INET, optarg, &o->ip4) != 1, have |= 2;
			break;
		case 'm':
			bad |= parse_mac(optarg, o->mac), have |= 4;
			break;
		case 'r':
			bad |= ep_parse_long("--rounds", optarg, 1, 1000000, &o->rounds);
			break;
		case 'i':
			bad |= ep_parse_long("--interval-ms", optarg, 1, 60000, &o->interval_ms);
			break;
		case 'b':
			bad |= ep_parse_long("--burst", optarg, 1, 65536, &o->burst);
			break;
		case 'c':
			bad |= ep_parse_long("--cpu", optarg, 0, 100, &o->cpu);
			break;
		case 'C':
			bad |= ep_parse_long("--capacity", optarg, 1, 1000000, &o->capacity);
			break;
		case 's':
			bad |= ep_parse_long("--seq", optarg, 1, 1L << 30, &o->seq);
			break;
		default:
			bad = 1;
		}
	}
	if (bad || have != 7 || !o->ids || optind != argc) {
		fprintf(stderr,
			"usage: epreports --to ADDR:PORT --ids N --ip4 A --mac M [--rounds N] "
			"[--interval-ms N] [--burst N] [--cpu PCT] [--capacity N] [--seq N]\n");
		return -EINVAL;
	}
	return 0;
}

/* One round: a report of sequence @seq for every id, paced. 0 or a negative errno. */
static int round_send(int fd, const struct opts *o, uint32_t seq)
{
	struct ep_load_report rep = { .interval_ms = htonl((uint32_t)o->interval_ms),
				      .cpu_pct_x100 = htonl((uint32_t)o->cpu * 100),
				      .mem_free_kib = htobe64(1u << 20),
				      .capacity = htonl((uint32_t)o->capacity),
				      .port = htons(EP_DEFAULT_PORT),
				      .ip4 = o->ip4,
				      .seq = htonl(seq) };
	uint8_t dgram[EP_HDR_LEN + sizeof(rep)];

	memcpy(rep.mac, o->mac, 6);
	for (long id = 1; id <= o->ids; id++) {
		struct ep_msg m = { .kind = EP_KIND_LOAD_REPORT,
				    .priority = EP_PRIO_MAX,
				    .task_id = ((uint64_t)id << 32) | seq };
		ssize_t len;

		rep.node_id = htonl((uint32_t)id);
		len = ep_frag_build(&m, &rep, sizeof(rep), sizeof(rep), 0, dgram, sizeof(dgram));
		if (len < 0)
			return -EINVAL;
		if (send(fd, dgram, (size_t)len, 0) < 0)
			return -errno;
		if (id % o->burst == 0)
			usleep(1000);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o;
	int fd, err = 0;

	if (parse(argc, argv, &o))
		return 2;
	fd = socket(o.to.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&o.to, o.tolen)) {
		fprintf(stderr, "epreports: socket: %s\n", strerror(errno));
		return 1;
	}
	for (long r = 1; !err && r <= o.rounds; r++) {
		err = round_send(fd, &o, (uint32_t)(o.seq + r - 1));
		if (!err && r < o.rounds)
			usleep((useconds_t)o.interval_ms * 1000);
	}
	close(fd);
	if (err)
		fprintf(stderr, "epreports: send: %s\n", strerror(-err));
	return err ? 1 : 0;
}
