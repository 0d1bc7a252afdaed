// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>

#include "edgeload.h"
#include "edgeplane/log.h"
#include "edgeplane/util.h"
#include "edgeplane/payload.h"

static const struct task_kind kinds[] = {
	{ "echo", EP_TT_ECHO, false, false },
	{ "checksum", EP_TT_CHECKSUM, false, false },
	{ "resize", EP_TT_RESIZE, true, true },
	{ "box_blur", EP_TT_BOX_BLUR, true, true },
	{ "gauss_blur", EP_TT_GAUSS_BLUR, true, true },
	{ "sobel", EP_TT_SOBEL, true, true },
	{ "threshold", EP_TT_THRESHOLD, true, true },
	{ "blobs", EP_TT_BLOBS, true, false },
	{ "zstd", EP_TT_ZSTD, false, false },
	{ "matmul", EP_TT_MATMUL, false, false },
};

const struct task_kind *task_kind_find(const char *s)
{
	static struct task_kind custom;
	char *end;
	long v;

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (!strcmp(kinds[i].name, s))
			return &kinds[i];
	v = strtol(s, &end, 0);
	if (*end || end == s || v < 1 || v > 65535)
		return NULL;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (kinds[i].type == v)
			return &kinds[i];
	custom = (struct task_kind){ .name = "custom", .type = (uint16_t)v };
	return &custom; /* a plugin's type: raw payload */
}

void task_kinds_usage(FILE *f)
{
	fprintf(f, "Task types:");
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		fprintf(f, " %s", kinds[i].name);
	fprintf(f, ", or a number (raw payload)\n");
}

/* A number option, or exit 2 with the message. */
static long num(const char *opt, const char *s, long lo, long hi)
{
	long v;

	if (ep_parse_long(opt, s, lo, hi, &v))
		exit(2);
	return v;
}

static double seconds(const char *opt, const char *s)
{
	char *end;
	double v = strtod(s, &end);

	if (end != s && !strcmp(end, "ms"))
		v /= 1000;
	else if (end != s && (!strcmp(end, "s") || !*end))
		;
	else if (end != s && !strcmp(end, "m"))
		v *= 60;
	else
		v = -1;
	if (!(v > 0) || v > 86400) {
		pr_err("%s: '%s' is not a duration like 10s, 500ms or 2m", opt, s);
		exit(2);
	}
	return v;
}

/* --auth-key FILE, or all of --enroll, --cert, --key and --ca, or none. */
static void check_auth_opts(struct opts *o, const char *cmd)
{
	struct ep_client_auth *a = &o->auth;
	bool any_enroll = a->enroll || a->cert || a->key || a->ca;

	if (a->key_file && any_enroll) {
		pr_err("%s: --auth-key (a static key) and --enroll/--cert/--key/--ca (enrollment) "
		       "exclude each other",
		       cmd);
		exit(2);
	}
	if (any_enroll && !(a->enroll && a->cert && a->key && a->ca)) {
		pr_err("%s: enrollment needs --enroll ADDR:PORT, --cert FILE, --key FILE and "
		       "--ca FILE (missing:%s%s%s%s)",
		       cmd, a->enroll ? "" : " --enroll", a->cert ? "" : " --cert",
		       a->key ? "" : " --key", a->ca ? "" : " --ca");
		exit(2);
	}
	if (a->key_file || any_enroll)
		a->sz = sizeof(*a);
}

int open_session(const struct opts *o, struct ep_client **c)
{
	char err[256];
	int ret;

	if (!o->auth.sz) {
		ret = ep_client_open(&o->client, c);
		if (ret) {
			pr_err("session to %s: %s", o->client.host, strerror(-ret));
			return ret;
		}
	} else {
		ret = ep_client_open_auth(&o->client, &o->auth, c, err, sizeof(err));
		if (ret) {
			pr_err("session to %s: %s", o->client.host, err);
			return ret;
		}
	}
	/* Frames of a threshold or the blob detector keep their side of its level. */
	if (o->frame_k >= 0 && o->kind)
		ret = ep_client_set_frame_codec(*c, o->kind->type, (unsigned int)o->frame_k,
						o->kind->type == EP_TT_THRESHOLD ||
								o->kind->type == EP_TT_BLOBS
							? EP_FRAME_F_KEEP_LEVEL
							: 0);
	return ret;
}

const char *submit_strerror(int err)
{
	switch (err) {
	case -EMSGSIZE:
		return "payload too large (for the protocol, or for the key's role)";
	case -EPERM:
	case -ERANGE:
	case -EKEYEXPIRED:
		return ep_result_strerror(&(struct ep_result){ .error = err });
	default:
		return strerror(-err);
	}
}

void auth_stats(struct ep_client *c, struct ep_client_auth_stats *a)
{
	*a = (struct ep_client_auth_stats){ .sz = sizeof(*a) };
	if (ep_client_get_auth(c, a))
		a->sz = 0;
}

void print_auth_stats(const struct ep_client_auth_stats *as, FILE *f, bool json)
{
	const struct ep_client_auth_stats a = *as;

	if (!a.sz)
		return;
	if (json) {
		fprintf(f,
			",\"auth\":{\"key_id\":%u,\"name\":\"%s\",\"role\":\"%s\","
			"\"tenant\":%u,\"sealed\":%llu,\"bad_tag\":%llu,\"unknown_key\":%llu,"
			"\"unsealed\":%llu,\"refused\":%llu,\"held\":%llu,\"enrollments\":%llu,"
			"\"enroll_failures\":%llu,\"rebinds\":%llu}",
			a.key_id, a.name, a.role, a.tenant, (unsigned long long)a.sealed,
			(unsigned long long)a.bad_tag, (unsigned long long)a.unknown_key,
			(unsigned long long)a.unsealed, (unsigned long long)a.refused,
			(unsigned long long)a.held, (unsigned long long)a.enrollments,
			(unsigned long long)a.enroll_failures, (unsigned long long)a.rebinds);
		return;
	}
	fprintf(f,
		"auth: %s (role %s, tenant %u), key %u; %llu datagrams sealed; auth failures: "
		"%llu bad tag, %llu unknown key, %llu unsealed replies ignored; %llu tasks refused "
		"by the role",
		a.name, a.role, a.tenant, a.key_id, (unsigned long long)a.sealed,
		(unsigned long long)a.bad_tag, (unsigned long long)a.unknown_key,
		(unsigned long long)a.unsealed, (unsigned long long)a.refused);
	if (a.enrollments > 1 || a.enroll_failures)
		fprintf(f, "; %llu enrollments, %llu failed", (unsigned long long)a.enrollments,
			(unsigned long long)a.enroll_failures);
	if (a.held)
		fprintf(f, "; %llu sends waited for a key", (unsigned long long)a.held);
	if (a.rebinds)
		fprintf(f,
			"; enrolled again %llu times from this address (a large reply refused "
			"elsewhere)",
			(unsigned long long)a.rebinds);
	if (a.last_error[0])
		fprintf(f, "; last enrollment: %s", a.last_error);
	fputc('\n', f);
}

/*
 * --to: HOST, HOST:PORT, [IPV6] or [IPV6]:PORT, HOST a numeric address (an IPv6 one bare
 * or with its scope, fe80::1%eth0) or a name. A name is resolved here (getaddrinfo, the
 * first address), and the session gets the numeric form. Sets *port if one is given.
 * Exits 2 with a message that says what form is expected.
 */
static const char *parse_to(const char *cmd, const char *arg, uint16_t *port)
{
	static char numeric[NI_MAXHOST];
	static const char form[] = "HOST, HOST:PORT or [IPV6]:PORT";
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM }, *ai;
	char host[256];
	const char *p = NULL, *c;
	size_t n;
	int err;

	if (arg[0] == '[') { /* [V6] or [V6]:PORT */
		c = strchr(arg, ']');
		if (!c || (c[1] && c[1] != ':') || c == arg + 1) {
			pr_err("%s: --to '%s' is not %s", cmd, arg, form);
			exit(2);
		}
		n = (size_t)(c - arg - 1);
		memcpy(host, arg + 1, n < sizeof(host) ? n : 0);
		hints.ai_family = AF_INET6;
		hints.ai_flags = AI_NUMERICHOST;
		if (c[1])
			p = c + 2;
	} else {
		c = strchr(arg, ':');
		n = strlen(arg);
		if (c && !strchr(c + 1, ':')) { /* one colon: HOST:PORT */
			n = (size_t)(c - arg);
			p = c + 1;
		} /* more: a bare IPv6 address */
	}
	if (!n || n >= sizeof(host)) {
		pr_err("%s: --to '%s' is not %s", cmd, arg, form);
		exit(2);
	}
	if (arg[0] != '[')
		memcpy(host, arg, n);
	host[n] = 0;
	if (p)
		*port = (uint16_t)num("--to's port", p, 1, 65535);
	err = getaddrinfo(host, NULL, &hints, &ai);
	if (err) {
		pr_err("%s: --to '%s': %s (%s)", cmd, host,
		       hints.ai_flags && (err == EAI_NONAME || err == EAI_FAMILY ||
					  err == EAI_ADDRFAMILY)
			       ? "not an IPv6 address"
			       : gai_strerror(err),
		       form);
		exit(2);
	}
	err = getnameinfo(ai->ai_addr, ai->ai_addrlen, numeric, sizeof(numeric), NULL, 0,
			  NI_NUMERICHOST);
	freeaddrinfo(ai);
	if (err) {
		pr_err("%s: --to '%s': %s", cmd, host, gai_strerror(err));
		exit(2);
	}
	return numeric;
}

void parse_opts(int argc, char **argv, struct opts *o, const char *cmd)
{
	enum {
		O_PORT = 256,
		O_MTU,
		O_TENANT,
		O_DEADLINE,
		O_TIMEOUT,
		O_ATTEMPTS,
		O_ZLEVEL,
		O_NOZ,
		O_HINT,
		O_LEVEL,
		O_RADIUS,
		O_SIGMA,
		O_WIDTH,
		O_HEIGHT,
		O_MINAREA,
		O_DARK,
		O_BLUR,
		O_CONN8,
		O_INVERT,
		O_REF,
		O_NOBORDER,
		O_TZLEVEL,
		O_N,
		O_K,
		O_M,
		O_SEED,
		O_SIZE,
		O_CONC,
		O_DUR,
		O_COUNT,
		O_RATE,
		O_MIX,
		O_TIMELINE,
		O_REPLY_MTU,
		O_PLAIN,
		O_CERT,
		O_KEY,
		O_CA,
		O_ENROLL,
		O_AUTH_KEY,
		O_FRAME
	};
	static const struct option lo[] = {
		{ "to", required_argument, NULL, 't' },
		{ "port", required_argument, NULL, O_PORT },
		{ "type", required_argument, NULL, 'T' },
		{ "in", required_argument, NULL, 'i' },
		{ "out", required_argument, NULL, 'o' },
		{ "prio", required_argument, NULL, 'P' },
		{ "mtu", required_argument, NULL, O_MTU },
		{ "tenant", required_argument, NULL, O_TENANT },
		{ "deadline-ms", required_argument, NULL, O_DEADLINE },
		{ "timeout-ms", required_argument, NULL, O_TIMEOUT },
		{ "attempts", required_argument, NULL, O_ATTEMPTS },
		{ "zstd-level", required_argument, NULL, O_ZLEVEL },
		{ "no-compress", no_argument, NULL, O_NOZ },
		{ "frame-codec", required_argument, NULL, O_FRAME },
		{ "size-hint-kib", required_argument, NULL, O_HINT },
		{ "level", required_argument, NULL, O_LEVEL },
		{ "radius", required_argument, NULL, O_RADIUS },
		{ "sigma", required_argument, NULL, O_SIGMA },
		{ "width", required_argument, NULL, O_WIDTH },
		{ "height", required_argument, NULL, O_HEIGHT },
		{ "min-area", required_argument, NULL, O_MINAREA },
		{ "dark", no_argument, NULL, O_DARK },
		{ "blur", no_argument, NULL, O_BLUR },
		{ "conn8", no_argument, NULL, O_CONN8 },
		{ "invert", no_argument, NULL, O_INVERT },
		{ "reference", no_argument, NULL, O_REF },
		{ "no-border", no_argument, NULL, O_NOBORDER },
		{ "task-zstd-level", required_argument, NULL, O_TZLEVEL },
		{ "n", required_argument, NULL, O_N },
		{ "k", required_argument, NULL, O_K },
		{ "m", required_argument, NULL, O_M },
		{ "seed", required_argument, NULL, O_SEED },
		{ "size", required_argument, NULL, O_SIZE },
		{ "concurrency", required_argument, NULL, O_CONC },
		{ "duration", required_argument, NULL, O_DUR },
		{ "count", required_argument, NULL, O_COUNT },
		{ "rate", required_argument, NULL, O_RATE },
		{ "mix", required_argument, NULL, O_MIX },
		{ "timeline", required_argument, NULL, O_TIMELINE },
		{ "reply-mtu", required_argument, NULL, O_REPLY_MTU },
		{ "plain-reply", no_argument, NULL, O_PLAIN },
		{ "cert", required_argument, NULL, O_CERT },
		{ "key", required_argument, NULL, O_KEY },
		{ "ca", required_argument, NULL, O_CA },
		{ "enroll", required_argument, NULL, O_ENROLL },
		{ "auth-key", required_argument, NULL, O_AUTH_KEY },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *to = NULL;
	bool port_set = false;
	int c;

	memset(o, 0, sizeof(*o));
	o->client.port = 7878;
	o->client.zstd_level = 3;
	o->frame_k = -1;
	o->args = (struct task_args){ .level = -1,
				      .radius = 2,
				      .sigma100 = 150,
				      .min_area = 20,
				      .zstd_level = 3,
				      .n = 64,
				      .k = 64,
				      .m = 64,
				      .seed = 1 };
	o->size = 64;
	o->concurrency = 16;
	while ((c = getopt_long(argc, argv, "t:T:i:o:P:jh", lo, NULL)) != -1) {
		switch (c) {
		case 't':
			to = optarg;
			break;
		case O_PORT:
			o->client.port = (uint16_t)num("--port", optarg, 1, 65535);
			port_set = true;
			break;
		case 'T':
			o->kind = task_kind_find(optarg);
			if (!o->kind) {
				pr_err("--type: unknown task type '%s'", optarg);
				task_kinds_usage(stderr);
				exit(2);
			}
			break;
		case 'i':
			o->in = optarg;
			break;
		case 'o':
			o->out = optarg;
			break;
		case 'P':
			o->task.priority = (uint8_t)num("--prio", optarg, 1, 5);
			break;
		case O_MTU:
			o->client.mtu = (uint32_t)num("--mtu", optarg, 576, 65535);
			break;
		case O_TENANT:
			o->client.tenant_id = (uint32_t)num("--tenant", optarg, 0, 0xffffffffL);
			break;
		case O_DEADLINE:
			o->task.deadline_ms = (uint32_t)num("--deadline-ms", optarg, 1, 86400000);
			break;
		case O_TIMEOUT:
			o->client.timeout_ms = (uint32_t)num("--timeout-ms", optarg, 1, 60000);
			break;
		case O_ATTEMPTS:
			o->client.max_attempts = (uint32_t)num("--attempts", optarg, 1, 100);
			break;
		case O_ZLEVEL:
			o->client.zstd_level = (int)num("--zstd-level", optarg, 0, 19);
			break;
		case O_NOZ:
			o->task.no_compress = 1;
			break;
		case O_FRAME:
			o->frame_k = (int)num("--frame-codec", optarg, 0, 15);
			break;
		case O_HINT:
			o->task.size_hint_kib =
				(uint32_t)num("--size-hint-kib", optarg, 0, 0xffffffffL);
			break;
		case O_LEVEL:
			o->args.level = (int)num("--level", optarg, -1, 255);
			break;
		case O_RADIUS:
			o->args.radius = (int)num("--radius", optarg, 1, 64);
			break;
		case O_SIGMA: {
			double s = strtod(optarg, NULL);

			if (!(s >= 0.1 && s <= 20)) {
				pr_err("--sigma: '%s' is not in 0.1..20", optarg);
				exit(2);
			}
			o->args.sigma100 = (int)lround(s * 100);
			break;
		}
		case O_WIDTH:
			o->args.width = (int)num("--width", optarg, 1, 16384);
			break;
		case O_HEIGHT:
			o->args.height = (int)num("--height", optarg, 1, 16384);
			break;
		case O_MINAREA:
			o->args.min_area = (int)num("--min-area", optarg, 0, 65535);
			break;
		case O_DARK:
			o->args.dark = true;
			break;
		case O_BLUR:
			o->args.blur = true;
			break;
		case O_CONN8:
			o->args.conn8 = true;
			break;
		case O_INVERT:
			o->args.invert = true;
			break;
		case O_REF:
			o->args.reference = true;
			break;
		case O_NOBORDER:
			o->args.no_border = true;
			break;
		case O_TZLEVEL:
			o->args.zstd_level = (int)num("--task-zstd-level", optarg, 1, 19);
			break;
		case O_N:
			o->args.n = (int)num("--n", optarg, 1, 2048);
			break;
		case O_K:
			o->args.k = (int)num("--k", optarg, 1, 2048);
			break;
		case O_M:
			o->args.m = (int)num("--m", optarg, 1, 2048);
			break;
		case O_SEED:
			o->args.seed = (uint64_t)num("--seed", optarg, 0, 1L << 62);
			break;
		case O_SIZE:
			o->size = (uint32_t)num("--size", optarg, 0, 64 << 20);
			break;
		case O_CONC:
			o->concurrency = (uint32_t)num("--concurrency", optarg, 1, 65536);
			break;
		case O_DUR:
			o->duration_s = seconds("--duration", optarg);
			break;
		case O_COUNT:
			o->count = (uint64_t)num("--count", optarg, 1, 1L << 40);
			break;
		case O_RATE:
			o->rate = (double)num("--rate", optarg, 1, 10000000);
			break;
		case O_MIX:
			o->mix = optarg;
			break;
		case O_TIMELINE:
			o->timeline = optarg;
			break;
		case O_REPLY_MTU:
			o->client.reply_mtu = (uint32_t)num("--reply-mtu", optarg, 576, 65535);
			break;
		case O_PLAIN:
			o->client.plain_reply = true;
			break;
		case O_CERT:
			o->auth.cert = optarg;
			break;
		case O_KEY:
			o->auth.key = optarg;
			break;
		case O_CA:
			o->auth.ca = optarg;
			break;
		case O_ENROLL:
			o->auth.enroll = optarg;
			break;
		case O_AUTH_KEY:
			o->auth.key_file = optarg;
			break;
		case 'j':
			o->json = true;
			break;
		case 'h':
			printf("see: edgeload --help\n");
			exit(0);
		default: /* getopt_long named the option */
			fprintf(stderr, "Try 'edgeload --help'.\n");
			exit(2);
		}
	}
	if (o->timeline && strcmp(cmd, "load")) {
		pr_err("%s: --timeline is an option of load", cmd);
		exit(2);
	}
	if (optind != argc) {
		pr_err("%s: unexpected argument '%s'", cmd, argv[optind]);
		exit(2);
	}
	if (!to) {
		pr_err("%s: --to ADDRESS is required", cmd);
		exit(2);
	}
	{
		uint16_t port = 0;

		o->client.host = parse_to(cmd, to, &port);
		if (port && port_set && port != o->client.port) {
			pr_err("%s: --to says port %u, --port %u", cmd, port, o->client.port);
			exit(2);
		}
		if (port)
			o->client.port = port;
	}
	check_auth_opts(o, cmd);
	if (!strcmp(cmd, "limits"))
		return; /* no task */
	if (!o->kind && o->mix && !strcmp(cmd, "load"))
		o->kind = task_kind_find("echo"); /* unused: the mix names the types */
	if (!o->kind) {
		pr_err("%s: --type is required", cmd);
		task_kinds_usage(stderr);
		exit(2);
	}
	o->task.type = o->kind->type;
	if (o->kind->image && !o->in && !o->mix) {
		pr_err("%s: --type %s needs --in FILE.png", cmd, o->kind->name);
		exit(2);
	}
}
