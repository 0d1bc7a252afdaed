// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>

#include "edgeload.h"
#include "edgeplane/log.h"
#include "edgeplane/opt.h"
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

/* --duration T: 10s, 500ms, 2m or seconds alone. */
static int opt_duration(const struct ep_opt *opt, const char *arg, char *err, size_t len)
{
	char *end;
	double v = strtod(arg, &end);

	if (end != arg && !strcmp(end, "ms"))
		v /= 1000;
	else if (end != arg && (!strcmp(end, "s") || !*end))
		;
	else if (end != arg && !strcmp(end, "m"))
		v *= 60;
	else
		v = -1;
	if (!(v > 0) || v > 86400) {
		ep_seterr(err, len, "'%s' is not a duration like 10s, 500ms or 2m", arg);
		return -EINVAL;
	}
	*(double *)opt->ctx = v;
	return 0;
}

/* --type NAME or a number. */
static int opt_type(const struct ep_opt *opt, const char *arg, char *err, size_t len)
{
	const struct task_kind **kind = opt->ctx;
	size_t n = 0;
	char names[256];

	*kind = task_kind_find(arg);
	if (*kind)
		return 0;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		n += (size_t)snprintf(names + n, sizeof(names) - n, "%s, ", kinds[i].name);
	ep_seterr(err, len, "unknown task type '%s' (%sor a number: raw payload)", arg, names);
	return -EINVAL;
}

/* --sigma F, 0.1..20, kept in hundredths. */
static int opt_sigma(const struct ep_opt *opt, const char *arg, char *err, size_t len)
{
	char *end;
	double s = strtod(arg, &end);

	if (end == arg || *end || !(s >= 0.1 && s <= 20)) {
		ep_seterr(err, len, "'%s' is not in 0.1..20", arg);
		return -EINVAL;
	}
	*(int *)opt->ctx = (int)lround(s * 100);
	return 0;
}

/* --auth-key FILE, or all of --enroll, --cert, --key and --ca, or none. Returns 0 or
 * -EINVAL after the usage error. */
static int check_auth_opts(struct opts *o, const struct ep_opt_prog *p)
{
	struct ep_client_auth *a = &o->auth;
	bool any_enroll = a->enroll || a->cert || a->key || a->ca;

	if (a->key_file && any_enroll)
		return ep_opt_error(p, "--auth-key (a static key) and --enroll/--cert/--key/--ca "
				       "(enrollment) exclude each other");
	if (any_enroll && !(a->enroll && a->cert && a->key && a->ca))
		return ep_opt_error(p,
				    "enrollment needs --enroll ADDR:PORT, --cert FILE, --key FILE "
				    "and --ca FILE (missing:%s%s%s%s)",
				    a->enroll ? "" : " --enroll", a->cert ? "" : " --cert",
				    a->key ? "" : " --key", a->ca ? "" : " --ca");
	if (a->key_file || any_enroll)
		a->sz = sizeof(*a);
	return 0;
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
 * Returns the numeric host, or NULL with what is wrong in @err.
 */
static const char *parse_to(const char *arg, uint16_t *port, char *err, size_t len)
{
	static char numeric[NI_MAXHOST];
	static const char form[] = "HOST, HOST:PORT or [IPV6]:PORT";
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM }, *ai;
	char host[256];
	const char *p = NULL, *c;
	long long v;
	size_t n;
	int ret;

	if (arg[0] == '[') { /* [V6] or [V6]:PORT */
		c = strchr(arg, ']');
		if (!c || (c[1] && c[1] != ':') || c == arg + 1)
			goto bad_form;
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
	if (!n || n >= sizeof(host))
		goto bad_form;
	if (arg[0] != '[')
		memcpy(host, arg, n);
	host[n] = 0;
	if (p && ep_opt_number(p, 1, 65535, &v, err, len)) {
		ep_seterr(err, len, "'%s': the port is not a number in 1..65535", arg);
		return NULL;
	}
	if (p)
		*port = (uint16_t)v;
	ret = getaddrinfo(host, NULL, &hints, &ai);
	if (ret) {
		ep_seterr(err, len, "'%s': %s (%s)", host,
			  hints.ai_flags && (ret == EAI_NONAME || ret == EAI_FAMILY ||
					     ret == EAI_ADDRFAMILY)
				  ? "not an IPv6 address"
				  : gai_strerror(ret),
			  form);
		return NULL;
	}
	ret = getnameinfo(ai->ai_addr, ai->ai_addrlen, numeric, sizeof(numeric), NULL, 0,
			  NI_NUMERICHOST);
	freeaddrinfo(ai);
	if (ret) {
		ep_seterr(err, len, "'%s': %s", host, gai_strerror(ret));
		return NULL;
	}
	return numeric;
bad_form:
	ep_seterr(err, len, "'%s' is not %s", arg, form);
	return NULL;
}

/* The tables of every command (one set: each command ignores what it does not use). */
struct tables {
	struct ep_opt session[16], auth[8], task[6], image[20], load[10];
};

static void session_tables(struct tables *t, struct opts *o)
{
	EP_OPT_TABLE(
		t->session,
		EP_OPT_STR("to", 't', &o->to, "ADDR",
			   "HOST[:PORT] or [IPV6][:PORT]; HOST an address or a name"),
		EP_OPT_INT("port", 0, &o->client.port, 1, 65535, "N", "the node's UDP port (7878)"),
		EP_OPT_INT("mtu", 0, &o->client.mtu, 576, 65535, "N", "path MTU (1500)"),
		EP_OPT_UINT("tenant", 0, &o->client.tenant_id, 0, 0xffffffffULL, "ID",
			    "the session's tenant id (0)"),
		EP_OPT_INT("timeout-ms", 0, &o->client.timeout_ms, 1, 60000, "N",
			   "first attempt's timeout (200, doubles per retry)"),
		EP_OPT_INT("attempts", 0, &o->client.max_attempts, 1, 100, "N",
			   "attempts per task (5)"),
		EP_OPT_INT("zstd-level", 0, &o->client.zstd_level, 0, 19, "N",
			   "compress payloads at N (3; 0 = never compress)"),
		EP_OPT_FLAG("no-compress", 0, &o->task.no_compress,
			    "send this task's payload uncompressed"),
		EP_OPT_INT("frame-codec", 0, &o->frame_k, 0, 15, "K",
			   "frames of --type in the frame codec, each pixel\n"
			   "within +-K, 0 = lossless; K at most the edge's\n"
			   "max_error for the type"),
		EP_OPT_INT("reply-mtu", 0, &o->client.reply_mtu, 576, 65535, "N",
			   "the node fragments results to fit N bytes"),
		EP_OPT_FLAG("plain-reply", 0, &o->client.plain_reply,
			    "ask for results uncompressed"),
		EP_OPT_FLAG("json", 'j', &o->json, "print JSON"));
	ep_opt_lookup(t->session, "port")->seen = &o->port_set;
	EP_OPT_TABLE(t->auth,
		     EP_OPT_STR("enroll", 0, &o->auth.enroll, "ADDR:PORT",
				"enroll with the controller at ADDR:PORT, with:"),
		     EP_OPT_STR("cert", 0, &o->auth.cert, "FILE", "the device's certificate"),
		     EP_OPT_STR("key", 0, &o->auth.key, "FILE", "its private key"),
		     EP_OPT_STR("ca", 0, &o->auth.ca, "FILE", "the controller's CA"),
		     EP_OPT_STR("auth-key", 0, &o->auth.key_file, "FILE",
				"or a static key: one key object, mode 0600"));
}

static void task_tables(struct tables *t, struct opts *o)
{
	EP_OPT_TABLE(
		t->task,
		EP_OPT_FUNC("type", 'T', opt_type, &o->kind, "TYPE", "the task type (see below)"),
		EP_OPT_INT("prio", 'P', &o->task.priority, 1, 5, "P", "priority 1-5 (3)"),
		EP_OPT_INT("deadline-ms", 0, &o->task.deadline_ms, 1, 86400000, "N",
			   "overall budget, retries included"),
		EP_OPT_UINT("size-hint-kib", 0, &o->task.size_hint_kib, 0, 0xffffffffULL, "N",
			    "memory the task needs at the edge"),
		EP_OPT_INT("size", 0, &o->size, 0, 64 << 20, "N",
			   "generated payload bytes, without --in (64)"));
	EP_OPT_TABLE(
		t->image, EP_OPT_STR("in", 'i', &o->in, "FILE", "the payload (images: a PNG)"),
		EP_OPT_STR("out", 'o', &o->out, "FILE", "write the result here"),
		EP_OPT_INT("level", 0, &o->args.level, -1, 255, "N", "threshold (-1 = Otsu)"),
		EP_OPT_FLAG("invert", 0, &o->args.invert, "threshold: invert"),
		EP_OPT_INT("radius", 0, &o->args.radius, 1, 64, "N", "box blur radius (2)"),
		EP_OPT_FUNC("sigma", 0, opt_sigma, &o->args.sigma100, "F",
			    "gaussian blur sigma, 0.1..20 (1.5)"),
		EP_OPT_INT("width", 0, &o->args.width, 1, 16384, "N", "resize: width"),
		EP_OPT_INT("height", 0, &o->args.height, 1, 16384, "N", "resize: height"),
		EP_OPT_INT("min-area", 0, &o->args.min_area, 0, 65535, "N",
			   "blobs: smallest area (20)"),
		EP_OPT_FLAG("dark", 0, &o->args.dark, "blobs: dark on light"),
		EP_OPT_FLAG("blur", 0, &o->args.blur, "blobs: blur first"),
		EP_OPT_FLAG("conn8", 0, &o->args.conn8, "blobs: 8-connected"),
		EP_OPT_FLAG("reference", 0, &o->args.reference, "the reference implementation"),
		EP_OPT_FLAG("no-border", 0, &o->args.no_border,
			    "blobs: ignore blobs touching the frame's edge"),
		EP_OPT_INT("task-zstd-level", 0, &o->args.zstd_level, 1, 19, "N",
			   "zstd task: level (3)"),
		EP_OPT_INT("n", 0, &o->args.n, 1, 2048, "N", "matmul: rows of A (64)"),
		EP_OPT_INT("k", 0, &o->args.k, 1, 2048, "N", "matmul: columns of A (64)"),
		EP_OPT_INT("m", 0, &o->args.m, 1, 2048, "N", "matmul: columns of B (64)"),
		EP_OPT_INT("seed", 0, &o->args.seed, 0, 1LL << 62, "N",
			   "seed of generated data (1)"));
	EP_OPT_TABLE(
		t->load,
		EP_OPT_INT("concurrency", 0, &o->concurrency, 1, 65536, "N",
			   "tasks outstanding (16); open loop: the cap"),
		EP_OPT_DOUBLE("rate", 0, &o->rate, 1, 10000000, "N",
			      "open loop: start N tasks a second"),
		EP_OPT_FUNC("duration", 0, opt_duration, &o->duration_s, "T",
			    "run this long: 10s (default), 500ms, 2m"),
		EP_OPT_INT("count", 0, &o->count, 1, 1LL << 40, "N", "or until N tasks are done"),
		EP_OPT_STR("mix", 0, &o->mix, "SPECS", "'SPEC;SPEC...' (see above)"),
		EP_OPT_STR("timeline", 0, &o->timeline, "FILE",
			   "write a line per second to FILE (see above)"));
}

#define EDGELOAD_USAGE                                                                        \
	"Usage: edgeload run  --to ADDR --type TYPE [--in FILE] [--out FILE] [OPTIONS]\n"     \
	"       edgeload load --to ADDR (--type TYPE [--in FILE | --size N] | --mix SPECS)\n" \
	"                     [--concurrency N] [--rate N] [--duration T | --count N]\n"      \
	"                     [--timeline FILE] [--json]\n"                                   \
	"       edgeload limits --to ADDR [--json]\n"                                         \
	"\n"                                                                                  \
	"run: send one task and write its result (images as PNG, blobs as a list).\n"         \
	"limits: ask the node its limits (a PING; the PONG carries them) and print them.\n"   \
	"load: keep --concurrency tasks outstanding (closed loop), or start --rate tasks a\n" \
	"      second (open loop; --concurrency caps what is outstanding), and print a\n"     \
	"      summary. --mix 'SPEC;SPEC' mixes kinds, each SPEC being\n"                     \
	"      TYPE[,size=N][,in=FILE][,prio=1-5][,weight=N]; e.g.\n"                         \
	"      --mix 'echo,size=64,prio=5,weight=3;blobs,in=coins.png,prio=2'\n"              \
	"      --timeline FILE writes a line per second: time since the start, Unix time,\n"  \
	"      kind (\"total\", and each kind of a mix), tasks sent, completed and failed\n"  \
	"      in that second, p50 and p99 latency (us) of those completed (nan: none).\n"    \
	"\n"

static void help_extra(FILE *f)
{
	fputc('\n', f);
	task_kinds_usage(f);
	fprintf(f, "\nExit status: 0 all tasks succeeded, 1 a task failed, 2 bad usage.\n");
}

/* Parse @argc, @argv into @o for command @cmd, as @p, over the defaults. Returns what
 * ep_opt_parse() does. */
static int parse(struct ep_opt_prog *p, struct tables *t, int argc, char **argv, struct opts *o)
{
	static const char *const headings[] = { "Session:", "Auth:", "Task:", "Payload and images:",
						"load:" };

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
	session_tables(t, o);
	task_tables(t, o);
	*p = (struct ep_opt_prog){
		.name = p->name,
		.usage = EDGELOAD_USAGE,
		.tabs = { t->session, t->auth, t->task, t->image, t->load },
		.help_extra = help_extra,
	};
	for (size_t i = 0; i < sizeof(headings) / sizeof(headings[0]); i++)
		p->headings[i] = headings[i];
	return ep_opt_parse(p, argc, argv, EP_OPT_PASS_ALL);
}

int edgeload_no_command(int argc, char **argv)
{
	struct ep_opt_prog p = { .name = "edgeload" };
	struct tables t;
	struct opts o;
	int ret = parse(&p, &t, argc, argv, &o);

	if (ret >= 0)
		ret = ret < argc ? ep_opt_error(&p, "unknown command '%s' (run, load or limits)",
						argv[ret])
				 : ep_opt_error(&p, "no command (run, load or limits)");
	return ep_opt_exit(ret);
}

/* What the options say together, for command @cmd (@p). Returns 0 or -EINVAL after the
 * usage error. */
static int check_opts(struct opts *o, const struct ep_opt_prog *p, const char *cmd)
{
	char err[384];
	uint16_t port = 0;

	if (o->timeline && strcmp(cmd, "load"))
		return ep_opt_error(p, "--timeline is an option of load");
	if (!o->to)
		return ep_opt_error(p, "--to ADDRESS is required");
	o->client.host = parse_to(o->to, &port, err, sizeof(err));
	if (!o->client.host)
		return ep_opt_error(p, "--to %s", err);
	if (port && o->port_set && port != o->client.port)
		return ep_opt_error(p, "--to says port %u, --port %u", port, o->client.port);
	if (port)
		o->client.port = port;
	if (check_auth_opts(o, p))
		return -EINVAL;
	if (!strcmp(cmd, "limits"))
		return 0; /* no task */
	if (!o->kind && o->mix && !strcmp(cmd, "load"))
		o->kind = task_kind_find("echo"); /* unused: the mix names the types */
	if (!o->kind)
		return ep_opt_error(p, "--type is required");
	o->task.type = o->kind->type;
	if (o->kind->image && !o->in && !o->mix)
		return ep_opt_error(p, "--type %s needs --in FILE.png", o->kind->name);
	return 0;
}

void parse_opts(int argc, char **argv, struct opts *o, const char *cmd)
{
	char name[32];
	struct ep_opt_prog p = { .name = name };
	struct tables t;
	int ret;

	snprintf(name, sizeof(name), "edgeload %s", cmd);
	ret = parse(&p, &t, argc, argv, o);
	if (ret >= 0 && ret < argc)
		ret = ep_opt_error(&p, "unexpected argument '%s'", argv[ret]);
	if (ret >= 0)
		ret = check_opts(o, &p, cmd);
	if (ret < 0)
		exit(ep_opt_exit(ret));
}
