// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* edgectl policy show|set, edgectl status, edgectl detach */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "edgectl.h"
#include "edgeplane/log.h"
#include "policy.h"
#include "registry.h"
#include "report_auth.h"
#include "xdp/ep_xdp.h"

static void print_policy(const struct ep_policy *p)
{
	printf("policy      %s\n", ep_policy_name(p->policy));
	printf("stale_ms    %u   (older loads are not trusted: capacity weights decide)\n",
	       p->stale_ms);
	printf("mem_factor  %u   (eligible while free memory > factor x size hint)\n",
	       p->mem_factor);
	printf("cloud_node  %u\n", p->cloud_node);
	printf("priority    cpu_max  wait_max  when no node is eligible\n");
	for (int i = EP_PRIO_MAX; i >= EP_PRIO_MIN; i--) {
		char wait[16] = "any";

		if (p->wait_max_ms[i])
			snprintf(wait, sizeof(wait), "%ums", p->wait_max_ms[i]);
		printf("  %d         %3u%%    %-8s  %s\n", i, p->cpu_max_pct[i], wait,
		       ep_overflow_name(p->overflow[i]) ?: "?");
	}
}

/* The policy from the controller, else from the pinned map. */
static int policy_show(struct ctl_ctx *x)
{
	struct ep_gw_cfg cfg;
	struct ep_policy p;
	struct ep_gw *gw;
	json_t *resp;
	int err;

	if (!x->pin_dir && !x->iface) {
		json_t *j;

		resp = ctl_call(x, json_pack("{s:s}", "cmd", "policy"));
		if (!resp)
			return EXIT_FAIL;
		j = json_object_get(resp, "policy");
		if (x->json) {
			ctl_print_json(j);
		} else {
			/* From the controller's answer: no need to read the (root-only) pins. */
			memset(&p, 0, sizeof(p));
			ep_policy_parse(json_string_value(json_object_get(j, "policy")) ?: "",
					&p.policy);
			p.stale_ms = (uint32_t)json_integer_value(json_object_get(j, "stale_ms"));
			p.mem_factor =
				(uint8_t)json_integer_value(json_object_get(j, "mem_factor"));
			p.cloud_node =
				(uint32_t)json_integer_value(json_object_get(j, "cloud_node"));
			for (int i = EP_PRIO_MIN; i <= EP_PRIO_MAX; i++) {
				char k[4];

				snprintf(k, sizeof(k), "%d", i);
				p.cpu_max_pct[i] = (uint8_t)json_integer_value(
					json_object_get(json_object_get(j, "cpu_max"), k));
				p.wait_max_ms[i] = (uint16_t)json_integer_value(
					json_object_get(json_object_get(j, "wait_max_ms"), k));
				ep_overflow_parse(json_string_value(json_object_get(
							  json_object_get(j, "overflow"), k))
							  ?: "",
						  &p.overflow[i]);
			}
			print_policy(&p);
		}
		json_decref(resp);
		return 0;
	}
	err = ctl_open_gw(x, &gw);
	if (err)
		return EXIT_FAIL;
	err = ep_gw_read_cfg(gw, &cfg);
	ep_gw_close(gw, false);
	if (err) {
		pr_err("read the gateway's configuration: %s", strerror(-err));
		return EXIT_FAIL;
	}
	ep_policy_from_cfg(&p, &cfg);
	if (x->json) {
		json_t *o =
			json_pack("{s:s, s:I, s:I, s:I}", "policy", ep_policy_name(p.policy),
				  "stale_ms", (json_int_t)p.stale_ms, "mem_factor",
				  (json_int_t)p.mem_factor, "cloud_node", (json_int_t)p.cloud_node);

		ctl_print_json(o);
		json_decref(o);
	} else {
		print_policy(&p);
	}
	return 0;
}

static int policy_set(struct ctl_ctx *x, int argc, char **argv)
{
	json_t *set = json_array(), *resp;
	struct ep_policy check;
	char err[160];

	ep_policy_defaults(&check);
	for (int i = 2; i < argc; i++) {
		/* Check here too, for a message before anything is sent. */
		if (ep_policy_set(&check, argv[i], err, sizeof(err))) {
			json_decref(set);
			return ctl_usage_error("edgectl policy set", "%s", err);
		}
		json_array_append_new(set, json_string(argv[i]));
	}
	if (!json_array_size(set)) {
		json_decref(set);
		return ctl_usage_error("edgectl policy set", "KEY=VALUE... is needed");
	}
	resp = ctl_call(x, json_pack("{s:s, s:o}", "cmd", "policy.set", "set", set));
	if (!resp)
		return EXIT_FAIL;
	json_decref(resp);
	return x->json ? 0 : policy_show(x);
}

#define POLICY_USAGE                                                            \
	"Usage: edgectl policy show\n"                                          \
	"       edgectl policy set KEY=VALUE...\n\n"                            \
	"Keys: policy=p2c|seed|hash  stale_ms=N  mem_factor=N  cloud_node=ID\n" \
	"      cpu_max=PCT  cpu_max.P=PCT  wait_max=MS  wait_max.P=MS\n"        \
	"      overflow=reject|cloud|local  overflow.P=..  (P is a priority, 1..5)\n\n"

static const struct ep_opt no_opts[] = { EP_OPT_END };

int cmd_policy(struct ctl_ctx *x, int argc, char **argv)
{
	const char *sub;
	int ret;

	ret = ctl_parse(x, "edgectl policy", POLICY_USAGE, no_opts, &argc, &argv);
	if (ret)
		return ret - 1;
	sub = argc > 1 ? argv[1] : "show";
	if (!strcmp(sub, "show") && argc <= 2)
		return policy_show(x);
	if (!strcmp(sub, "set"))
		return policy_set(x, argc, argv);
	return ctl_usage_error("edgectl policy", "expected 'show' or 'set KEY=VALUE...'");
}

/* The reasons reports were rejected for, with their counts, on one line. */
static void print_rejected(json_t *by)
{
	const char *sep = "";

	printf("rejected    ");
	for (int i = 0; i < EP_REG__COUNT; i++) {
		json_int_t v = json_integer_value(json_object_get(by, ep_reg_report_name(i)));

		if (ep_reg_refused(i) && v) {
			printf("%s%s %lld", sep, ep_reg_report_name(i), (long long)v);
			sep = ", ";
		}
	}
	for (int i = EP_RAUTH_MISSING; i < EP_RAUTH__COUNT; i++) {
		json_int_t v = json_integer_value(json_object_get(by, ep_rauth_name(i)));

		if (v) {
			printf("%s%s %lld", sep, ep_rauth_name(i), (long long)v);
			sep = ", ";
		}
	}
	printf("%s\n", *sep ? "" : "none");
}

/* Enrollment, when it is on: two lines. */
static void print_enroll(json_t *e)
{
	static const char *const shown[] = {
		"enrolled",	"synced",	    "handshake_failed", "handshake_timeout",
		"idle_timeout", "connection_limit", "bad_subject",	"bad_request",
		"role_refused", "revoked",	    "keys_full",	"certificate_gone",
		"error"
	};
	json_t *by = json_object_get(e, "by_outcome");
	const char *sep = "";

	if (!e)
		return;
	printf("enroll      on %s: %lld connections, %lld keys (%lld of devices), key "
	       "generation %lld\n",
	       json_string_value(json_object_get(e, "listen")),
	       (long long)json_integer_value(json_object_get(e, "connections")),
	       (long long)json_integer_value(json_object_get(e, "keys")),
	       (long long)json_integer_value(json_object_get(e, "device_keys")),
	       (long long)json_integer_value(json_object_get(e, "gen")));
	printf("            ");
	for (size_t i = 0; i < sizeof(shown) / sizeof(shown[0]); i++) {
		json_int_t v = json_integer_value(json_object_get(by, shown[i]));

		if (v || i < 2) {
			printf("%s%s %lld", sep, shown[i], (long long)v);
			sep = ", ";
		}
	}
	printf("\n");
}

int cmd_status(struct ctl_ctx *x, int argc, char **argv)
{
	struct ep_gw_cfg cfg;
	struct ep_gw *gw;
	json_t *resp;
	int err;

	err = ctl_parse_no_args(
		x, "edgectl status",
		"Usage: edgectl status\n\nThe controller's state, or what XDP runs on "
		"without one.\n\n",
		no_opts, argc, argv);
	if (err)
		return err - 1;
	err = ctl_request(x, json_pack("{s:s}", "cmd", "status"), &resp);
	if (!err) {
		if (x->json) {
			ctl_print_json(resp);
		} else {
			printf("controller  running (pid %lld, up %.0f s), API %s\n",
			       (long long)json_integer_value(json_object_get(resp, "pid")),
			       json_real_value(json_object_get(resp, "uptime_s")), x->socket);
			printf("gateway     %s (%s mode), port %lld, maps in %s\n",
			       json_string_value(json_object_get(resp, "interface")),
			       json_string_value(json_object_get(resp, "xdp_mode")),
			       (long long)json_integer_value(json_object_get(resp, "port")),
			       json_string_value(json_object_get(resp, "pin_dir")));
			printf("policy      %s, generation %lld\n",
			       json_string_value(json_object_get(resp, "policy")),
			       (long long)json_integer_value(json_object_get(resp, "generation")));
			printf("nodes       %lld known, %lld taking tasks\n",
			       (long long)json_integer_value(json_object_get(resp, "nodes")),
			       (long long)json_integer_value(json_object_get(resp, "usable")));
			printf("reports     %lld received, %lld rejected, on %s\n",
			       (long long)json_integer_value(json_object_get(resp, "reports")),
			       (long long)json_integer_value(
				       json_object_get(resp, "reports_rejected")),
			       json_string_value(json_object_get(resp, "reports_on")));
			print_rejected(json_object_get(resp, "reports_by_outcome"));
			print_enroll(json_object_get(resp, "enroll"));
		}
		json_decref(resp);
		return 0;
	}
	/* No controller: what XDP runs on is still worth telling. */
	if (err != -ENOENT && err != -ECONNREFUSED) {
		pr_err("controller on %s: %s", x->socket, strerror(-err));
		return EXIT_FAIL;
	}
	if (!x->pin_dir && !x->iface) {
		printf("controller  not running (nothing on %s)\n", x->socket);
		printf("gateway     unknown: give --iface IF to read its maps\n");
		return EXIT_FAIL;
	}
	if (ctl_open_gw(x, &gw))
		return EXIT_FAIL;
	err = ep_gw_read_cfg(gw, &cfg);
	printf("controller  not running (nothing on %s)\n", x->socket);
	if (!err)
		printf("gateway     attached, running on its last state: policy %s, generation "
		       "%u; loads older than %llu ms fall back to capacity weights\n",
		       ep_policy_name(cfg.policy) ?: "?", cfg.generation,
		       (unsigned long long)(cfg.stale_ns / 1000000));
	ep_gw_close(gw, false);
	return EXIT_FAIL;
}

int cmd_detach(struct ctl_ctx *x, int argc, char **argv)
{
	char dir[4096];
	json_t *resp;
	int err, lock;

	err = ctl_parse_no_args(
		x, "edgectl detach",
		"Usage: edgectl detach --iface IF [--pin-dir DIR]\n\nTake the gateway "
		"off IF and remove its pins (no controller may run).\n\n",
		no_opts, argc, argv);
	if (err)
		return err - 1;
	if (!x->iface)
		return ctl_usage_error("edgectl detach", "--iface IF is needed");
	if (!ctl_request(x, json_pack("{s:s}", "cmd", "status"), &resp)) {
		json_decref(resp);
		pr_err("a controller is running on %s: stop it first (or run it with "
		       "--detach-on-exit)",
		       x->socket);
		return EXIT_FAIL;
	}
	if (x->pin_dir)
		snprintf(dir, sizeof(dir), "%s", x->pin_dir);
	else if (ep_gw_default_pin_dir(x->iface, dir, sizeof(dir)))
		return EXIT_FAIL;
	/* Whatever socket it answers on, a controller serving the interface holds its lock. */
	lock = if_nametoindex(x->iface) ? ep_iface_lock("gw", (int)if_nametoindex(x->iface))
					: -ENODEV;
	if (lock == -EBUSY) {
		pr_err("%s: a controller serves this gateway: stop it first (or run it with "
		       "--detach-on-exit)",
		       x->iface);
		return EXIT_FAIL;
	}
	if (lock == -ENODEV) {
		pr_err("%s: no such interface", x->iface);
		return EXIT_FAIL;
	}
	err = ep_xdp_detach_prog(x->iface, "ep_gateway");
	if (err && err != -ENOENT) {
		pr_err("detach from %s: %s", x->iface, strerror(-err));
		return EXIT_FAIL;
	}
	{
		struct ep_gw *gw;

		/* Unpin through a handle, so the list of pins lives in one place. */
		if (!ep_gw_open(dir, &gw))
			ep_gw_close(gw, true);
	}
	if (lock >= 0)
		close(lock);
	printf("%s: gateway %s\n", x->iface, err ? "was not attached" : "detached");
	return 0;
}
