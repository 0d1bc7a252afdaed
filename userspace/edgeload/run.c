// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* edgeload run: one task, files in and out. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edgeload.h"
#include "edgeplane/codec.h"
#include "edgeplane/log.h"
#include "edgeplane/payload.h"
#include "edgeplane/png.h"

static int write_file(const char *path, const uint8_t *data, uint32_t len)
{
	FILE *f = fopen(path, "wb");

	if (!f || fwrite(data, 1, len, f) != len || fclose(f)) {
		pr_err("%s: %s", path, strerror(errno));
		return -errno;
	}
	return 0;
}

static int print_blobs(const struct ep_result *r, bool json)
{
	struct ep_blobs_result h;
	uint32_t count, n;

	if (r->len < sizeof(h))
		return -EPROTO;
	memcpy(&h, r->data, sizeof(h));
	count = ntohl(h.count);
	n = ntohl(h.reported);
	if (r->len < sizeof(h) + (size_t)n * sizeof(struct ep_blob_box))
		return -EPROTO;
	printf(json ? "{\"count\":%u,\"level\":%u,\"blobs\":[" : "%u blobs (threshold %u)\n", count,
	       ntohs(h.level));
	for (uint32_t i = 0; i < n; i++) {
		struct ep_blob_box b;

		memcpy(&b, r->data + sizeof(h) + i * sizeof(b), sizeof(b));
		printf(json ? "%s{\"area\":%u,\"box\":[%u,%u,%u,%u],\"centroid\":[%u,%u]}"
			    : "%s%6u px  box (%u,%u)-(%u,%u)  centroid (%u,%u)\n",
		       json && i ? "," : "", ntohl(b.area), ntohs(b.x0), ntohs(b.y0), ntohs(b.x1),
		       ntohs(b.y1), ntohs(b.cx), ntohs(b.cy));
	}
	if (json)
		printf("]}\n");
	return 0;
}

/*
 * The result: to --out (an image as PNG, else its bytes; a line on stderr says where),
 * or on stdout (blobs, checksums, a size). 0 or a negative errno.
 */
static int output(const struct opts *o, const struct ep_result *r)
{
	const struct task_kind *k = o->kind;
	int err;

	if (k->image_out) {
		struct ep_img_hdr h;

		if (r->len < sizeof(h))
			return -EPROTO;
		memcpy(&h, r->data, sizeof(h));
		if ((size_t)ntohs(h.width) * ntohs(h.height) != r->len - sizeof(h))
			return -EPROTO;
		if (!o->out) {
			printf("%ux%u image\n", ntohs(h.width), ntohs(h.height));
			return 0;
		}
		err = ep_png_write_gray(o->out, r->data + sizeof(h), ntohs(h.width),
					ntohs(h.height));
		if (!err)
			fprintf(stderr, "%s: result written to %s (%ux%u PNG)\n", k->name, o->out,
				ntohs(h.width), ntohs(h.height));
		return err;
	}
	if (k->type == EP_TT_BLOBS)
		return print_blobs(r, o->json);
	if (k->type == EP_TT_CHECKSUM && r->len == sizeof(struct ep_checksum_result)) {
		struct ep_checksum_result c;

		memcpy(&c, r->data, sizeof(c));
		printf("crc32 %08x xxh3 %016llx\n", ntohl(c.crc32),
		       (unsigned long long)be64toh(c.xxh3));
		return 0;
	}
	if (o->out) {
		err = write_file(o->out, r->data, r->len);
		if (!err)
			fprintf(stderr, "%s: result written to %s (%u bytes)\n", k->name, o->out,
				r->len);
		return err;
	}
	printf("%u bytes of result\n", r->len);
	return 0;
}

int cmd_run(int argc, char **argv)
{
	struct ep_client_auth_stats as;
	struct ep_client *c;
	struct ep_result r;
	struct opts o;
	uint8_t *payload;
	uint32_t len;
	int err;

	parse_opts(argc, argv, &o, "run");
	err = task_payload(&o, &payload, &len);
	if (err)
		return 1;
	if (open_session(&o, &c)) {
		free(payload);
		return 1;
	}
	err = ep_client_run(c, &o.task, payload, len, &r);
	free(payload);
	auth_stats(c, &as);
	ep_client_close(c);
	if (!o.json)
		print_auth_stats(&as, stderr, false);
	if (err && !r.attempts) {
		pr_err("%s task not sent: %s", o.kind->name, submit_strerror(err));
		ep_result_free(&r);
		return 1;
	}
	if (err == -EREMOTEIO) {
		pr_err("the edge answered %s%s%s", ep_status_name(r.status), r.msg[0] ? ": " : "",
		       r.msg);
		ep_result_free(&r);
		return 1;
	}
	if (err) {
		pr_err("task failed after %u attempt%s: %s%s%s", r.attempts,
		       r.attempts == 1 ? "" : "s", ep_result_strerror(&r), r.msg[0] ? "; " : "",
		       r.msg);
		ep_result_free(&r);
		return 1;
	}
	err = output(&o, &r);
	if (err)
		pr_err("result of %u bytes: %s", r.len,
		       err == -EPROTO ? "not in the task type's format" : strerror(-err));
	if (!o.json)
		fprintf(stderr,
			"%s: %u -> %u bytes a send, %llu on the wire%s, rtt %.3f ms, in the "
			"node: queued %u us, ran %u us, edge load %u%%, %u attempt%s\n",
			o.kind->name, len, r.wire_len, (unsigned long long)r.wire_bytes,
			r.compressed ? ", result compressed" : "", (double)r.latency_ns / 1e6,
			r.queue_us, r.exec_us, r.load_pct, r.attempts, r.attempts == 1 ? "" : "s");
	ep_result_free(&r);
	return err ? 1 : 0;
}

int cmd_limits(int argc, char **argv)
{
	struct ep_node_limits l;
	struct ep_client *c;
	struct opts o;
	int err;

	parse_opts(argc, argv, &o, "limits");
	if (open_session(&o, &c))
		return 1;
	err = ep_client_limits(c, 2000, &l);
	ep_client_close(c);
	if (err) {
		pr_err("limits of %s: %s", o.client.host,
		       err == -ENODATA	   ? "the node's PONG carries none (an older node)"
		       : err == -ETIMEDOUT ? "no PONG in 2 s"
					   : strerror(-err));
		return 1;
	}
	if (o.json) {
		printf("{\"max_task_len\":%u,\"max_result_len\":%u,\"reasm_timeout_ms\":%u,"
		       "\"reasm_lifetime_ms\":%u,\"per_source_tasks\":%u,\"mtu\":%u,"
		       "\"max_priority\":%u,\"amp_factor\":%u,\"source_prefix_v4\":%u,"
		       "\"source_prefix_v6\":%u,\"rate_packets\":%u,\"rate_kib\":%u,"
		       "\"max_work\":%llu,\"cache_window_ms\":%u,\"max_replays\":%u,"
		       "\"tokens\":%s,\"reply_mtu\":%s,\"plain_reply\":%s,"
		       "\"always_retry\":%s,\"frames\":%s}\n",
		       l.max_task_len, l.max_result_len, l.reasm_timeout_ms, l.reasm_lifetime_ms,
		       l.per_source_tasks, l.mtu, l.max_priority, l.amp_factor, l.source_prefix_v4,
		       l.source_prefix_v6, l.rate_packets, l.rate_kib,
		       (unsigned long long)l.max_work, l.cache_window_ms, l.max_replays,
		       l.flags & EP_LIM_F_TOKENS ? "true" : "false",
		       l.flags & EP_LIM_F_REPLY_MTU ? "true" : "false",
		       l.flags & EP_LIM_F_PLAIN_REPLY ? "true" : "false",
		       l.flags & EP_LIM_F_ALWAYS_RETRY ? "true" : "false",
		       l.flags & EP_LIM_F_FRAME ? "true" : "false");
		return 0;
	}
	printf("largest task            %u bytes (after decompression)\n", l.max_task_len);
	printf("largest result          %u bytes\n", l.max_result_len);
	printf("reply MTU               %u\n", l.mtu);
	printf("highest priority        %u (higher ones are lowered to it)\n", l.max_priority);
	if (l.amp_factor)
		printf("amplification limit     replies <= %u x bytes received until the address "
		       "is validated%s\n",
		       l.amp_factor,
		       l.flags & EP_LIM_F_ALWAYS_RETRY ? " (and every task is validated first)"
						       : "");
	else
		printf("amplification limit     none (validation off)\n");
	printf("largest work            %llu units%s\n", (unsigned long long)l.max_work,
	       l.max_work ? "" : " (no limit)");
	printf("reassembly timeout      %u ms after the last fragment", l.reasm_timeout_ms);
	if (l.reasm_lifetime_ms)
		printf(", %u ms after the first", l.reasm_lifetime_ms);
	printf("\ntasks per source        %u being reassembled per /%u (IPv4), /%u (IPv6)\n",
	       l.per_source_tasks, l.source_prefix_v4, l.source_prefix_v6);
	printf("rate per source         %s", l.rate_packets || l.rate_kib ? "" : "no limit\n");
	if (l.rate_packets || l.rate_kib)
		printf("%u datagrams/s, %u KiB/s\n", l.rate_packets, l.rate_kib);
	printf("result cache            %u ms; replays per task %s", l.cache_window_ms,
	       l.max_replays ? "" : "no limit\n");
	if (l.max_replays)
		printf("%u\n", l.max_replays);
	printf("honours                 %s%s%s%s\n", l.flags & EP_LIM_F_TOKENS ? "tokens " : "",
	       l.flags & EP_LIM_F_REPLY_MTU ? "reply_mtu " : "",
	       l.flags & EP_LIM_F_PLAIN_REPLY ? "plain_reply " : "",
	       l.flags & EP_LIM_F_FRAME ? "frame_codec" : "");
	return 0;
}
