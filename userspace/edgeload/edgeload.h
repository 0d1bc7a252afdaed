/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* edgeload - the libedgeplane CLI: one-shot tasks (run.c) and load generation (load.c). */
#ifndef EDGELOAD_H
#define EDGELOAD_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "edgeplane/client.h"

/* A built-in task type by name, with what its payload needs. */
struct task_kind {
	const char *name;
	uint16_t type;
	bool image;	/* payload: struct ep_img_hdr + gray pixels */
	bool image_out; /* result: an image */
};

/* Task arguments from the command line. */
struct task_args {
	int level; /* threshold/blobs level; -1: Otsu */
	int radius, sigma100;
	int width, height; /* resize */
	int min_area;
	bool dark, blur, conn8, invert, reference, no_border;
	int zstd_level; /* zstd task */
	int n, k, m;	/* matmul */
	uint64_t seed;	/* generated data */
};

/* Everything the command line says. */
struct opts {
	struct ep_client_opts client;
	struct ep_client_auth auth; /* sz 0: no authentication */
	struct ep_task_opts task;
	const char *to; /* --to, as given */
	bool port_set;	/* --port was given */
	const struct task_kind *kind;
	struct task_args args;
	const char *in, *out;
	uint32_t size; /* generated payload bytes (when there is no --in) */
	int frame_k;   /* --frame-codec K: frame-code the frames of --type within
			* +-K (0: lossless); -1: off */
	bool json;
	/* load */
	uint32_t concurrency; /* closed loop: outstanding; open loop: the cap */
	double duration_s;
	uint64_t count;
	double rate;	      /* open loop: tasks started per second */
	const char *mix;      /* "SPEC;SPEC..." */
	const char *timeline; /* per-second counts and latencies to this file */
};

const struct task_kind *task_kind_find(const char *name_or_number);
void task_kinds_usage(FILE *f);
/* Build a task payload (see opts). Returns 0 and a malloc'd buffer, or -errno (logged). */
int task_payload(const struct opts *o, uint8_t **out, uint32_t *len);

/* Parse the options of a subcommand; exits 2 with a message on a bad one (0 after --help
 * or --version). */
void parse_opts(int argc, char **argv, struct opts *o, const char *cmd);
/* `edgeload` without a command: --help, --version, or a usage error. Returns the exit
 * status. */
int edgeload_no_command(int argc, char **argv);
/* Open the session the options say (authenticated with --auth-key or --enroll). Returns 0,
 * or -errno after saying why. */
int open_session(const struct opts *o, struct ep_client **c);
/* Why a task was not sent (ep_client_submit()'s error), for a person. */
const char *submit_strerror(int err);
/* A session's authentication statistics; a->sz is 0 for a session without. */
void auth_stats(struct ep_client *c, struct ep_client_auth_stats *a);
/* Their line (nothing for a session without): to @f, or as a JSON member
 * (,"auth":{...}) when @json. */
void print_auth_stats(const struct ep_client_auth_stats *a, FILE *f, bool json);

int cmd_run(int argc, char **argv);
int cmd_load(int argc, char **argv);
int cmd_limits(int argc, char **argv);

#endif
