// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Unit tests of the etcd client's encoding (control/etcd.c) and of the cluster state's
 * values (control/cluster.c) without an etcd: base64 both ways, range ends, the gateway's
 * int64 strings and error answers, range and watch answers as etcd 3.4's gateway writes
 * them, a watch stream cut at every byte, and the policy's round trip through its
 * "key=value" list. tests/integration/test_etcd.sh runs them against real members.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "etcd.h"
#include "../lib/tap.h"

static void test_b64(void)
{
	static const struct {
		const char *plain, *b64;
	} v[] = { { "", "" },
		  { "f", "Zg==" },
		  { "fo", "Zm8=" },
		  { "foo", "Zm9v" },
		  { "/edgeplane/v1/nodes/4", "L2VkZ2VwbGFuZS92MS9ub2Rlcy80" } };
	char *s;
	size_t n;

	tap_begin();
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		s = ep_etcd_b64(v[i].plain, strlen(v[i].plain));
		EXPECT(s && !strcmp(s, v[i].b64));
		free(s);
		EXPECT_EQ(ep_etcd_unb64(v[i].b64, &s, &n), 0);
		EXPECT_EQ(n, strlen(v[i].plain));
		EXPECT(!strcmp(s, v[i].plain));
		free(s);
	}
	/* Binary bytes survive; bad input is refused. */
	s = ep_etcd_b64("\x00\xff\x10", 3);
	EXPECT(s && !strcmp(s, "AP8Q"));
	free(s);
	EXPECT_EQ(ep_etcd_unb64("Zm9", &s, &n), -EINVAL);
	EXPECT_EQ(ep_etcd_unb64("Zm9v!!==", &s, &n), -EINVAL);
	tap_end("etcd: base64 both ways (padding, binary), bad input refused");
}

static void test_prefix_end(void)
{
	char *e;

	tap_begin();
	e = ep_etcd_prefix_end("/edgeplane/v1/");
	EXPECT(e && !strcmp(e, "/edgeplane/v10"));
	free(e);
	e = ep_etcd_prefix_end("a\xff");
	EXPECT(e && !strcmp(e, "b"));
	free(e);
	tap_end("etcd: a prefix's range end is the prefix with its last byte + 1");
}

static int count_kv(void *arg, const struct ep_etcd_kv *kv)
{
	int *n = arg;

	if (*n == 0) {
		EXPECT(!strcmp(kv->key, "/e/policy"));
		EXPECT(!strcmp(kv->value, "{\"set\":[]}"));
		EXPECT_EQ(kv->mod_revision, 7);
		EXPECT_EQ(kv->create_revision, 5);
	} else {
		EXPECT(!strcmp(kv->key, "/e/drains/3"));
		EXPECT_EQ(kv->value_len, 0);
		EXPECT_EQ(kv->lease, 7587870000000000001LL);
	}
	(*n)++;
	return 0;
}

static void test_range(void)
{
	/* As etcd 3.4's gateway answers: int64s as strings, an empty value left out. */
	const char *text =
		"{\"header\":{\"cluster_id\":\"14841639068965178418\",\"revision\":\"9\"},"
		"\"kvs\":[{\"key\":\"L2UvcG9saWN5\",\"create_revision\":\"5\",\"mod_revision\":"
		"\"7\","
		"\"version\":\"2\",\"value\":\"eyJzZXQiOltdfQ==\"},"
		"{\"key\":\"L2UvZHJhaW5zLzM=\",\"create_revision\":\"8\",\"mod_revision\":\"8\","
		"\"version\":\"1\",\"lease\":\"7587870000000000001\"}],\"count\":\"2\"}";
	json_t *r = json_loads(text, 0, NULL), *empty = json_loads("{\"header\":{}}", 0, NULL);
	int64_t rev = 0;
	int n = 0;

	tap_begin();
	EXPECT(r != NULL);
	EXPECT_EQ(ep_etcd_parse_range(r, count_kv, &n, &rev), 0);
	EXPECT_EQ(n, 2);
	EXPECT_EQ(rev, 9);
	n = 0;
	EXPECT_EQ(ep_etcd_parse_range(empty, count_kv, &n, &rev), 0); /* no kvs: none */
	EXPECT_EQ(n, 0);
	json_decref(r);
	json_decref(empty);
	r = json_loads("{\"kvs\":[]}", 0, NULL);
	EXPECT_EQ(ep_etcd_parse_range(r, count_kv, &n, &rev), -EBADMSG);
	json_decref(r);
	r = json_loads("{\"header\":{},\"kvs\":[{\"key\":\"***\"}]}", 0, NULL);
	EXPECT_EQ(ep_etcd_parse_range(r, count_kv, &n, &rev), -EBADMSG);
	json_decref(r);
	tap_end("etcd: range answers decoded (base64, int64 strings, no kvs), bad ones refused");
}

static void test_errors(void)
{
	json_t *a = json_loads("{\"error\":\"etcdserver: request timed out\",\"code\":14,"
			       "\"message\":\"etcdserver: request timed out\"}",
			       0, NULL);
	json_t *b = json_loads("{\"error\":{\"grpc_code\":1,\"http_code\":408,\"message\":\"ctx "
			       "canceled\"}}",
			       0, NULL);
	json_t *ok = json_loads("{\"header\":{}}", 0, NULL);
	char msg[64];
	int code = 0;

	tap_begin();
	EXPECT(ep_etcd_resp_error(a, msg, sizeof(msg), &code));
	EXPECT(!strcmp(msg, "etcdserver: request timed out"));
	EXPECT_EQ(code, 14);
	EXPECT(ep_etcd_resp_error(b, msg, sizeof(msg), &code));
	EXPECT(!strcmp(msg, "ctx canceled"));
	EXPECT_EQ(code, 1);
	EXPECT(!ep_etcd_resp_error(ok, msg, sizeof(msg), &code));
	EXPECT_EQ(ep_etcd_int(json_object_get(a, "code")), 14);
	EXPECT_EQ(ep_etcd_int(NULL), 0);
	json_decref(a);
	json_decref(b);
	json_decref(ok);
	tap_end("etcd: error answers (both gateway shapes) give their message and code");
}

struct evs {
	int calls, puts, dels;
	int64_t rev;
	char last[64];
};

static int on_events(void *arg, int64_t rev, const struct ep_etcd_event *ev, unsigned int n)
{
	struct evs *e = arg;

	e->calls++;
	e->rev = rev;
	for (unsigned int i = 0; i < n; i++) {
		e->dels += ev[i].del;
		e->puts += !ev[i].del;
		snprintf(e->last, sizeof(e->last), "%s=%s", ev[i].kv.key, ev[i].kv.value);
	}
	return 0;
}

/* Two messages as one watch stream carries them: created, then a put and a delete. */
static const char stream[] =
	"{\"result\":{\"header\":{\"revision\":\"9\"},\"created\":true}}\n"
	"{\"result\":{\"header\":{\"revision\":\"11\"},\"events\":[{\"kv\":{\"key\":"
	"\"L2UvZHJhaW5zLzM=\",\"create_revision\":\"10\",\"mod_revision\":\"10\",\"value\":"
	"\"eyJieSI6Ilx9In0=\"}},{\"type\":\"DELETE\",\"kv\":{\"key\":\"L2UvcG9saWN5\","
	"\"mod_revision\":\"11\"}}]}}\n";

static int on_obj(void *arg, const char *text, size_t len)
{
	json_t *m = json_loadb(text, len, 0, NULL);
	int64_t compact;
	int err;

	if (!m)
		return -EBADMSG;
	err = ep_etcd_parse_watch(m, on_events, arg, &compact);
	json_decref(m);
	return err;
}

static void test_watch_stream(void)
{
	size_t len = strlen(stream);
	bool all = true;

	tap_begin();
	/* Cut the stream at every byte: the same events, whatever the chunks. */
	for (size_t cut = 0; cut <= len; cut++) {
		struct ep_etcd_split s = { 0 };
		struct evs e = { 0 };

		if (ep_etcd_split_feed(&s, stream, cut, on_obj, &e) ||
		    ep_etcd_split_feed(&s, stream + cut, len - cut, on_obj, &e))
			all = false;
		/* The value holds "}" and an escaped quote: not the object's end. */
		if (e.calls != 1 || e.puts != 1 || e.dels != 1 || e.rev != 11 ||
		    strcmp(e.last, "/e/policy="))
			all = false;
		if (s.len)
			all = false;
		ep_etcd_split_free(&s);
	}
	EXPECT(all);
	/* One byte at a time. */
	{
		struct ep_etcd_split s = { 0 };
		struct evs e = { 0 };

		for (size_t i = 0; i < len; i++)
			EXPECT_EQ(ep_etcd_split_feed(&s, stream + i, 1, on_obj, &e), 0);
		EXPECT_EQ(e.puts, 1);
		EXPECT_EQ(e.dels, 1);
		ep_etcd_split_free(&s);
	}
	tap_end("etcd: a watch stream cut at any byte gives the same events");
}

static void test_watch_ends(void)
{
	json_t *compacted = json_loads("{\"result\":{\"header\":{\"revision\":\"40\"},"
				       "\"compact_revision\":\"30\",\"canceled\":true}}",
				       0, NULL);
	json_t *canceled = json_loads("{\"result\":{\"header\":{},\"canceled\":true}}", 0, NULL);
	json_t *error =
		json_loads("{\"error\":{\"grpc_code\":14,\"message\":\"no leader\"}}", 0, NULL);
	struct evs e = { 0 };
	int64_t compact = 0;

	tap_begin();
	EXPECT_EQ(ep_etcd_parse_watch(compacted, on_events, &e, &compact), -ESTALE);
	EXPECT_EQ(compact, 30);
	EXPECT_EQ(ep_etcd_parse_watch(canceled, on_events, &e, &compact), -EPIPE);
	EXPECT_EQ(ep_etcd_parse_watch(error, on_events, &e, &compact), -EIO);
	EXPECT_EQ(e.calls, 0);
	json_decref(compacted);
	json_decref(canceled);
	json_decref(error);
	tap_end("etcd: a compacted watch asks for a re-read; canceled and errors end it");
}

static void test_policy_kv(void)
{
	struct ep_policy p, q;
	char err[128];
	json_t *set, *v;
	size_t i;

	tap_begin();
	ep_policy_defaults(&p);
	EXPECT_EQ(ep_policy_set(&p, "policy=seed", err, sizeof(err)), 0);
	EXPECT_EQ(ep_policy_set(&p, "cpu_max.2=55", err, sizeof(err)), 0);
	EXPECT_EQ(ep_policy_set(&p, "overflow.5=local", err, sizeof(err)), 0);
	EXPECT_EQ(ep_policy_set(&p, "wait_max.4=250", err, sizeof(err)), 0);
	set = ep_cluster_policy_kv(&p);
	/* Applied over other settings, the list gives the same policy: it names every key. */
	memset(&q, 0, sizeof(q));
	ep_policy_defaults(&q);
	EXPECT_EQ(ep_policy_set(&q, "policy=hash", err, sizeof(err)), 0);
	EXPECT_EQ(ep_policy_set(&q, "stale_ms=5", err, sizeof(err)), 0);
	json_array_foreach(set, i, v)
		EXPECT_EQ(ep_policy_set(&q, json_string_value(v), err, sizeof(err)), 0);
	EXPECT(!memcmp(&p, &q, sizeof(p)));
	json_decref(set);
	tap_end("cluster: the policy's key=value list in etcd round-trips every setting");
}

static void test_node_json(void)
{
	struct ep_reg_node n, m;
	const char *ifname;
	char err[160];
	json_t *o;

	tap_begin();
	o = json_loads("{\"id\":4,\"name\":\"w4\",\"mac\":\"02:00:00:00:00:04\","
		       "\"ip4\":\"198.18.0.4\",\"port\":7878,\"capacity\":200,\"mode\":\"encap\","
		       "\"interface\":\"eth1\"}",
		       0, NULL);
	EXPECT_EQ(ep_cluster_node_parse(o, &n, &ifname, err, sizeof(err)), 0);
	EXPECT(ifname && !strcmp(ifname, "eth1"));
	EXPECT_EQ(n.id, 4);
	EXPECT(n.encap);
	EXPECT_EQ(n.capacity_cfg, 200);
	json_decref(o);
	o = ep_cluster_node_json(&n, "eth1");
	EXPECT_EQ(ep_cluster_node_parse(o, &m, &ifname, err, sizeof(err)), 0);
	EXPECT(!strcmp(m.name, "w4") && !memcmp(m.mac, n.mac, 6) && m.ip4 == n.ip4);
	EXPECT(m.port == 7878 && m.encap && m.role == EP_ROLE_WORKER);
	json_decref(o);
	o = json_loads("{\"id\":5,\"mode\":\"encap\",\"mac\":\"02:00:00:00:00:05\"}", 0, NULL);
	EXPECT_EQ(ep_cluster_node_parse(o, &n, &ifname, err, sizeof(err)), -EINVAL);
	EXPECT(strstr(err, "needs ip4") != NULL);
	json_decref(o);
	o = json_loads("{\"id\":5,\"mode\":\"encap\",\"mac\":\"02:00:00:00:00:05\","
		       "\"ip6\":\"2001:db8:2::5\"}",
		       0, NULL);
	EXPECT_EQ(ep_cluster_node_parse(o, &n, &ifname, err, sizeof(err)), 0); /* IPv6 underlay */
	EXPECT(n.encap && !n.ip4 && n.ip6[15] == 5);
	json_decref(o);
	o = json_loads("{\"id\":0}", 0, NULL);
	EXPECT_EQ(ep_cluster_node_parse(o, &n, &ifname, err, sizeof(err)), -EINVAL);
	json_decref(o);
	tap_end("cluster: a node's value round-trips; bad ones are refused with the reason");
}

int main(void)
{
	test_b64();
	test_prefix_end();
	test_range();
	test_errors();
	test_watch_stream();
	test_watch_ends();
	test_policy_kv();
	test_node_json();
	return tap_finish();
}
