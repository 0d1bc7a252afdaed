// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * camera_client - what a camera on a production line does with libedgeplane: find the
 * defects in each frame, on the edge when that is faster, here when it is not.
 *
 *   cc camera_client.c $(pkg-config --cflags --libs edgeplane) -o camera_client
 *   ./camera_client 198.18.0.2 [frames] [--always-offload]
 *   ./camera_client 198.18.0.2 [frames] --enroll 198.18.0.3:7881 --cert cam.crt \
 *                   --key cam.key --ca ca.crt
 *
 * With --enroll the session is authenticated (docs/client.md, "Authentication"): the
 * camera shows its certificate to the controller, gets a session key, and every datagram
 * is then sealed with it; the library renews the key by itself. 0 frames: enroll, say
 * who the controller says the camera is, and stop.
 *
 * Each frame is a 320x240 gray image of a part with a few dark spots (defects) planted
 * in it, so the answer is known. For every frame the program asks the offload model
 * (edgeplane/offload.h, fed by what the session measured) where to run the detection,
 * submits edge tasks asynchronously from a poll() loop, runs the others locally, and
 * checks every count. The first frames go to the edge regardless, to measure it.
 * Exit status 0 when every frame's defects were found.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, poll */

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <edgeplane/client.h>
#include <edgeplane/payload.h>

#define W	 320
#define H	 240
#define PROBES	 3   /* frames sent to the edge to learn its speed */
#define LEVEL	 100 /* darker than this is a defect */
#define MIN_AREA 30

struct frame {
	unsigned int id, planted, found;
	int where; /* EP_OFFLOAD_LOCAL or EP_OFFLOAD_EDGE */
	int error;
	double ms;
	uint8_t task[sizeof(struct ep_img_hdr) + W * H];
};

static unsigned int pending;

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* A part (bright, with texture) and 1..5 dark round defects, spread apart. */
static void make_frame(struct frame *f, unsigned int id)
{
	struct ep_img_hdr h = { .width = htons(W),
				.height = htons(H),
				.arg0 = htons(LEVEL),
				.arg1 = htons(MIN_AREA),
				.arg2 = htonl(EP_BLOBS_F_DARK | EP_BLOBS_F_CONN8) };
	uint8_t *px = f->task + sizeof(h);
	uint32_t seed = id * 2654435761u + 1;

	memcpy(f->task, &h, sizeof(h));
	for (int i = 0; i < W * H; i++) {
		seed = seed * 1103515245u + 12345u;
		px[i] = (uint8_t)(180 + (seed >> 16) % 40);
	}
	f->id = id;
	f->planted = id % 5 + 1;
	for (unsigned int d = 0; d < f->planted; d++) {
		int cx = 40 + (int)d * 60, cy = 60 + (int)((id * 37 + d * 53) % 120),
		    r = 6 + (int)d;

		for (int y = cy - r; y <= cy + r; y++)
			for (int x = cx - r; x <= cx + r; x++)
				if ((x - cx) * (x - cx) + (y - cy) * (y - cy) <= r * r)
					px[y * W + x] = 40;
	}
}

/* The same detection on the device: threshold, then 8-connected components by flood
 * fill with an explicit stack. Slower than the edge's; that is the point. */
static unsigned int detect_local(const uint8_t *px)
{
	static uint8_t seen[W * H];
	static int stack[W * H];
	unsigned int count = 0;

	memset(seen, 0, sizeof(seen));
	for (int start = 0; start < W * H; start++) {
		int top = 0, area = 0;

		if (seen[start] || px[start] > LEVEL)
			continue;
		seen[start] = 1;
		stack[top++] = start;
		while (top) {
			int p = stack[--top], x = p % W, y = p / W;

			area++;
			for (int dy = -1; dy <= 1; dy++)
				for (int dx = -1; dx <= 1; dx++) {
					int nx = x + dx, ny = y + dy, q = ny * W + nx;

					if (nx < 0 || ny < 0 || nx >= W || ny >= H || seen[q] ||
					    px[q] > LEVEL)
						continue;
					seen[q] = 1;
					stack[top++] = q;
				}
		}
		count += area >= MIN_AREA;
	}
	return count;
}

static void on_result(void *arg, struct ep_result *r)
{
	struct frame *f = arg;

	f->error = r->error;
	f->ms = (double)r->latency_ns / 1e6;
	if (!r->error && r->len >= sizeof(struct ep_blobs_result)) {
		struct ep_blobs_result b;

		memcpy(&b, r->data, sizeof(b));
		f->found = ntohl(b.count);
	} else if (!r->error) {
		f->error = -EPROTO;
	}
	if (f->error)
		fprintf(stderr, "frame %u: %s\n", f->id, ep_result_strerror(r));
	ep_result_free(r);
	pending--;
}

/* Open the session: authenticated when @a names a controller. The library says why an
 * enrollment failed (a certificate the controller does not trust, a role not in its
 * policy, a revoked device ...). */
static int open_session(const struct ep_client_opts *o, const struct ep_client_auth *a,
			struct ep_client **c, uint8_t *max_prio)
{
	struct ep_client_auth_stats st = { .sz = sizeof(st) };
	char why[256];
	int err;

	*max_prio = 5;
	if (!a->enroll) {
		err = ep_client_open(o, c);
		if (err)
			fprintf(stderr, "camera_client: %s: %s\n", o->host, strerror(-err));
		return err;
	}
	err = ep_client_open_auth(o, a, c, why, sizeof(why));
	if (err) {
		fprintf(stderr, "camera_client: %s\n", why);
		return err;
	}
	ep_client_get_auth(*c, &st);
	printf("enrolled as %s (role %s, tenant %u): key %u, renewed in %llu s\n", st.name, st.role,
	       st.tenant, st.key_id, (unsigned long long)st.renew_in_ms / 1000);
	*max_prio = st.max_priority;
	return 0;
}

/* The command line: EDGE_ADDR [FRAMES] [--always-offload] [--enroll ... --ca FILE].
 * 0, or 2 after saying how to call the program. */
static int parse_args(int argc, char **argv, struct ep_client_opts *o, struct ep_client_auth *a,
		      unsigned int *nframes, bool *always)
{
	if (argc < 2) {
		fprintf(stderr, "usage: camera_client EDGE_ADDR [FRAMES] [--always-offload]\n"
				"         [--enroll ADDR:PORT --cert FILE --key FILE --ca FILE]\n");
		return 2;
	}
	o->host = argv[1];
	for (int i = 2; i < argc; i++) {
		const char **arg = !strcmp(argv[i], "--enroll") ? &a->enroll
				   : !strcmp(argv[i], "--cert") ? &a->cert
				   : !strcmp(argv[i], "--key")	? &a->key
				   : !strcmp(argv[i], "--ca")	? &a->ca
								: NULL;

		if (arg && i + 1 < argc)
			*arg = argv[++i];
		else if (!strcmp(argv[i], "--always-offload"))
			*always = true;
		else
			*nframes = (unsigned int)atoi(argv[i]);
	}
	if (*nframes > 10000 || (!*nframes && !a->enroll)) {
		fprintf(stderr, "camera_client: FRAMES must be 1..10000 (0 with --enroll)\n");
		return 2;
	}
	return 0;
}

/* One turn of the event loop a device would run anyway: wait for a datagram or the
 * session's next timer, then let the library process (results arrive in on_result). */
static void poll_session(struct ep_client *c)
{
	struct pollfd p = { .fd = ep_client_fd(c), .events = POLLIN };

	poll(&p, 1, ep_client_timeout_ms(c));
	ep_client_process(c);
}

/*
 * Frame @i: made, then detected here or submitted to the edge, as the offload model
 * decides (after the probes, unless @always). Every 8th frame is urgent, as far as the
 * camera's role allows (@max_prio). Returns whether it went to the edge.
 */
static bool handle_frame(struct ep_client *c, struct frame *f, unsigned int i, double local_us,
			 uint8_t max_prio, bool always)
{
	struct ep_task_opts t = { .type = EP_TT_BLOBS,
				  .priority = i % 8 ? (max_prio < 3 ? max_prio : 3) : max_prio,
				  .deadline_ms = 2000 };
	struct ep_offload_task ot = { .raw_bytes = sizeof(f->task),
				      .result_bytes = sizeof(struct ep_blobs_result) +
						      5 * sizeof(struct ep_blob_box),
				      .local_us = local_us,
				      .priority = t.priority };
	struct ep_offload_decision d;
	double t0;
	int err;

	make_frame(f, i);
	f->where = EP_OFFLOAD_EDGE;
	if (!always && i >= PROBES && !ep_client_offload_decide(c, EP_TT_BLOBS, &ot, NULL, &d))
		f->where = d.where;
	if (f->where == EP_OFFLOAD_LOCAL) {
		t0 = now_ms();
		f->found = detect_local(f->task + sizeof(struct ep_img_hdr));
		f->ms = now_ms() - t0;
		return false;
	}
	err = ep_client_submit(c, &t, f->task, sizeof(f->task), on_result, f, NULL);
	if (err) {
		f->error = err;
		return true;
	}
	pending++;
	/* Probes are answered before the model decides the next frame. */
	while (pending && (i < PROBES || pending >= 8))
		poll_session(c);
	return true;
}

/* Each frame's outcome, then the totals and what the session measured. Returns how many
 * frames were right. */
static unsigned int print_results(struct ep_client *c, const struct frame *frames,
				  unsigned int nframes, unsigned int at_edge)
{
	struct ep_client_estimates e;
	unsigned int ok = 0;

	for (unsigned int i = 0; i < nframes; i++) {
		const struct frame *f = &frames[i];
		bool right = !f->error && f->found == f->planted;

		ok += right;
		printf("frame %3u: %u defect%s found (%u planted) %s, %.2f ms%s\n", f->id, f->found,
		       f->found == 1 ? "" : "s", f->planted,
		       f->where == EP_OFFLOAD_EDGE ? "at the edge" : "locally", f->ms,
		       right ? "" : "  <-- WRONG");
	}
	ep_client_get_estimates(c, &e);
	printf("%u of %u frames right, %u at the edge; network %.0f us, "
	       "edge queue %.0f us, edge exec %.0f us, edge load %u%%\n",
	       ok, nframes, at_edge, e.srtt_us, e.edge_queue_us, e.edge_exec_us, e.edge_load_pct);
	return ok;
}

int main(int argc, char **argv)
{
	struct ep_client_opts o = { .zstd_level = 3 };
	struct ep_client_auth a = { .sz = sizeof(a) };
	unsigned int nframes = 20, ok, at_edge = 0;
	struct ep_client *c;
	struct frame *frames;
	bool always = false;
	double local_us, t0;
	uint8_t max_prio;
	int err;

	err = parse_args(argc, argv, &o, &a, &nframes, &always);
	if (err)
		return err;
	if (open_session(&o, &a, &c, &max_prio))
		return 1;
	if (!nframes) {
		ep_client_close(c);
		return 0;
	}
	frames = calloc(nframes, sizeof(*frames));
	if (!frames)
		return 1;

	/* What a frame costs here, measured once. */
	make_frame(&frames[0], 0);
	t0 = now_ms();
	detect_local(frames[0].task + sizeof(struct ep_img_hdr));
	local_us = (now_ms() - t0) * 1e3;
	printf("local detection: %.0f us per frame\n", local_us);

	for (unsigned int i = 0; i < nframes; i++)
		at_edge += handle_frame(c, &frames[i], i, local_us, max_prio, always);
	while (pending) /* the event loop a device would run anyway */
		poll_session(c);

	ok = print_results(c, frames, nframes, at_edge);
	ep_client_close(c);
	free(frames);
	return ok == nframes ? 0 : 1;
}
