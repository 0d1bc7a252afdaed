// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The node's key sources (keysrc.h): a keys file looked at every second, or the
 * controller's sync every auth.sync_ms, both on one thread that writes the key table.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "daemon/keysrc.h"
#include "daemon/sleeper.h"
#include "edgeplane/enroll.h"
#include "edgeplane/log.h"
#include "edgeplane/util.h"

#define RECONNECT_MIN_MS 500
#define RECONNECT_MAX_MS 5000

struct ep_keysrc {
	struct ep_keysrc_cfg cfg;
	struct ep_keytab *t;
	struct ep_sleeper sleeper; /* the thread */
	pthread_mutex_t mu;	   /* self, st */

	/* The keys file: what it was when last read (or tried). */
	struct stat seen;

	/* The controller. */
	struct ep_enroll_cfg ecfg;
	struct ep_enroll_conn *conn;
	uint64_t gen;
	uint64_t next_connect_ns;
	uint32_t backoff_ms;
	char last_err[256];		/* said once until it changes */
	uint64_t keep[EP_KEY_IDS / 64]; /* key ids of the round under way */

	struct ep_key_info self; /* the node's own key, if self_ok */
	bool self_ok;
	struct ep_keysrc_stats st;
};

/* --- the keys file --------------------------------------------------------------------- */

/* The whole of @fd (at most EP_KEYS_FILE_MAX bytes) into a new buffer. */
static int read_all(int fd, const char *path, char **out, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t r;

		if (n == cap) {
			char *nb;

			if (cap > EP_KEYS_FILE_MAX) {
				pr_err("auth.keys_file %s: larger than %u bytes", path,
				       EP_KEYS_FILE_MAX);
				OPENSSL_cleanse(buf, n);
				free(buf);
				return -EFBIG;
			}
			/* Not realloc(): the old block holds keys, and is wiped first. */
			nb = malloc(2 * cap);
			if (!nb) {
				OPENSSL_cleanse(buf, n);
				free(buf);
				return -ENOMEM;
			}
			memcpy(nb, buf, n);
			OPENSSL_cleanse(buf, n);
			free(buf);
			buf = nb;
			cap *= 2;
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0) {
			int err = -errno;

			pr_err("auth.keys_file %s: %s", path, strerror(errno));
			OPENSSL_cleanse(buf, n);
			free(buf);
			return err;
		}
		if (!r)
			break;
		n += (size_t)r;
	}
	*out = buf;
	*len = n;
	return 0;
}

/* The array @root into @keys[] (as many as it has elements), checked whole. */
static int parse_keys(const char *path, const json_t *root, struct ep_key_info *keys, uint64_t *ids)
{
	char err[160];
	size_t i;
	json_t *o;

	json_array_foreach(root, i, o)
	{
		uint16_t id;

		if (ep_key_info_parse(o, &keys[i], err, sizeof(err))) {
			pr_err("auth.keys_file %s: key %zu: %s", path, i, err);
			return -EINVAL;
		}
		id = keys[i].key_id;
		if (ids[id / 64] >> (id % 64) & 1) {
			pr_err("auth.keys_file %s: key %zu: key_id %u is there twice", path, i, id);
			return -EINVAL;
		}
		ids[id / 64] |= 1ull << (id % 64);
	}
	return 0;
}

int ep_keys_file_load(const char *path, struct ep_keytab *t, uint16_t report_key_id,
		      struct ep_key_info *self)
{
	uint64_t *ids = calloc(EP_KEY_IDS / 64, sizeof(*ids));
	struct ep_key_info *keys = NULL;
	json_t *root = NULL;
	json_error_t jerr;
	size_t len = 0, n = 0;
	char *buf = NULL;
	int fd, err;

	if (!ids)
		return -ENOMEM;
	fd = ep_open_trusted("auth.keys_file", path, S_IRWXG | S_IRWXO,
			     "lets the group or others use it; the keys are secrets, readable by "
			     "their owner only (chmod 600)");
	if (fd < 0) {
		free(ids);
		return fd;
	}
	err = read_all(fd, path, &buf, &len);
	close(fd);
	if (err)
		goto out;
	ep_enroll_wiping_json(); /* jansson's copies of the keys are wiped when freed */
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	OPENSSL_cleanse(buf, len);
	free(buf);
	if (!root || !json_is_array(root)) {
		pr_err("auth.keys_file %s:%d: %s", path, root ? 1 : jerr.line,
		       root ? "must hold a JSON array of key objects" : jerr.text);
		err = -EINVAL;
		goto out;
	}
	n = json_array_size(root);
	keys = calloc(n ? n : 1, sizeof(*keys));
	if (!keys) {
		err = -ENOMEM;
		goto out;
	}
	err = parse_keys(path, root, keys, ids);
	if (err)
		goto out;
	if (report_key_id && !(ids[report_key_id / 64] >> (report_key_id % 64) & 1)) {
		pr_err("auth.keys_file %s: auth.report_key_id %u is not in it", path,
		       report_key_id);
		err = -EINVAL;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		err = ep_keytab_set_now(t, &keys[i]);
		if (err) {
			pr_err("auth.keys_file %s: key %u: %s", path, keys[i].key_id,
			       strerror(-err));
			goto out;
		}
		if (keys[i].key_id == report_key_id && self)
			*self = keys[i];
	}
	ep_keytab_del_others(t, ids);
	err = (int)n;
out:
	if (keys) {
		OPENSSL_cleanse(keys, (n ? n : 1) * sizeof(*keys));
		free(keys);
	}
	json_decref(root);
	free(ids);
	return err;
}

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* Read the keys file again if it changed since it was last read (or tried). */
static void file_tick(struct ep_keysrc *s)
{
	struct ep_key_info self = { 0 };
	struct stat st;
	int n;

	if (stat(s->cfg.keys_file, &st)) {
		if (s->seen.st_ino) { /* said once */
			pr_warn("auth.keys_file %s: %s (keeping the keys read before)",
				s->cfg.keys_file, strerror(errno));
			memset(&s->seen, 0, sizeof(s->seen));
		}
		return;
	}
	if (same_file(&st, &s->seen))
		return;
	s->seen = st;
	n = ep_keys_file_load(s->cfg.keys_file, s->t, s->cfg.report_key_id, &self);
	pthread_mutex_lock(&s->mu);
	if (n < 0) {
		s->st.load_errors++;
		pr_warn("auth.keys_file %s: not read again (keeping the keys read before)",
			s->cfg.keys_file);
	} else {
		s->st.loads++;
		if (s->cfg.report_key_id)
			s->self = self;
		pr_info("auth.keys_file %s: %d keys", s->cfg.keys_file, n);
	}
	pthread_mutex_unlock(&s->mu);
	OPENSSL_cleanse(&self, sizeof(self));
}

/* --- the controller -------------------------------------------------------------------- */

/* Log @msg once, until another comes (a controller that stays away is said once). */
static void say(struct ep_keysrc *s, const char *msg)
{
	if (!strcmp(msg, s->last_err))
		return;
	snprintf(s->last_err, sizeof(s->last_err), "%s", msg);
	if (*msg)
		pr_warn("auth.controller %s: %s (retrying)", s->cfg.controller, msg);
}

static int on_key(void *arg, const struct ep_key_info *k)
{
	struct ep_keysrc *s = arg;

	s->keep[k->key_id / 64] |= 1ull << (k->key_id % 64);
	return ep_keytab_set_now(s->t, k);
}

static void drop_conn(struct ep_keysrc *s)
{
	ep_enroll_close(s->conn);
	s->conn = NULL;
	s->gen = 0;
	pthread_mutex_lock(&s->mu);
	s->st.connected = false;
	pthread_mutex_unlock(&s->mu);
}

/* One round: connect if need be (with a growing pause after failures), then sync. */
static int sync_tick(struct ep_keysrc *s)
{
	struct ep_key_info self = { 0 };
	uint32_t node_id = 0;
	char err[256] = "";
	bool full = false;
	uint64_t now = ep_now_ns();
	int ret;

	if (!s->conn) {
		if (now < s->next_connect_ns)
			return -EAGAIN;
		s->conn = ep_enroll_connect(&s->ecfg, err, sizeof(err));
		if (!s->conn) {
			ret = -errno;
			say(s, err);
			s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 : RECONNECT_MIN_MS;
			if (s->backoff_ms > RECONNECT_MAX_MS)
				s->backoff_ms = RECONNECT_MAX_MS;
			s->next_connect_ns = now + (uint64_t)s->backoff_ms * 1000000;
			pthread_mutex_lock(&s->mu);
			s->st.sync_errors++;
			pthread_mutex_unlock(&s->mu);
			return ret;
		}
		s->backoff_ms = 0;
	}
	memset(s->keep, 0, sizeof(s->keep));
	ret = ep_enroll_sync(s->conn, &s->gen, &full, &node_id, &self, on_key, s);
	if (ret) {
		snprintf(err, sizeof(err), "sync: %s", ep_enroll_error(s->conn));
		say(s, err);
		drop_conn(s);
		pthread_mutex_lock(&s->mu);
		s->st.sync_errors++;
		pthread_mutex_unlock(&s->mu);
		OPENSSL_cleanse(&self, sizeof(self));
		return ret;
	}
	if (s->last_err[0])
		pr_info("auth.controller %s: synced again", s->cfg.controller);
	say(s, "");
	if (full)
		ep_keytab_del_others(s->t, s->keep);
	ep_keytab_set_node_id(s->t, node_id);
	pthread_mutex_lock(&s->mu);
	s->st.syncs++;
	s->st.connected = true;
	s->self = self;
	s->self_ok = self.key_id != 0;
	pthread_mutex_unlock(&s->mu);
	OPENSSL_cleanse(&self, sizeof(self));
	return 0;
}

/* --- the thread ------------------------------------------------------------------------ */

static void *run(void *arg)
{
	struct ep_keysrc *s = arg;
	uint64_t tick_ns =
		(uint64_t)(s->cfg.controller ? s->cfg.sync_ms : EP_KEYS_CHECK_MS) * 1000000;
	uint64_t next = ep_now_ns();

	while (ep_sleeper_until(&s->sleeper, next)) {
		if (s->cfg.keys_file)
			file_tick(s);
		if (s->cfg.controller)
			sync_tick(s);
		ep_keytab_reclaim(s->t);
		next += tick_ns;
		if (next < ep_now_ns()) /* a slow round: no catching up */
			next = ep_now_ns() + tick_ns;
	}
	return NULL;
}

int ep_keysrc_start(const struct ep_keysrc_cfg *c, struct ep_keytab *t, struct ep_keysrc **out)
{
	struct ep_keysrc *s = calloc(1, sizeof(*s));
	int err;

	if (!s)
		return -ENOMEM;
	s->cfg = *c;
	s->t = t;
	pthread_mutex_init(&s->mu, NULL);

	if (c->keys_file) {
		struct ep_key_info self = { 0 };
		int n;

		ep_keytab_set_node_id(t, c->node_id);
		if (stat(c->keys_file, &s->seen))
			memset(&s->seen, 0, sizeof(s->seen));
		n = ep_keys_file_load(c->keys_file, t, c->report_key_id, &self);
		if (n < 0) {
			err = n;
			goto err_free;
		}
		s->st.loads = 1;
		s->self = self;
		s->self_ok = c->report_key_id != 0;
		OPENSSL_cleanse(&self, sizeof(self));
		pr_info("auth: %d keys from %s, node id %u, reread when it changes", n,
			c->keys_file, c->node_id);
	}
	if (c->controller) {
		s->ecfg = (struct ep_enroll_cfg){
			.server = c->controller, .cert = c->cert, .key = c->key, .ca = c->ca
		};
		if (!sync_tick(s))
			pr_info("auth: %u keys from the controller %s, node id %u, synced every "
				"%u ms",
				ep_keytab_count(t), c->controller, ep_keytab_node_id(t),
				c->sync_ms);
	}
	err = ep_sleeper_start(&s->sleeper, run, s);
	if (err) {
		pr_err("auth: key source thread: %s", strerror(-err));
		goto err_free;
	}
	*out = s;
	return 0;

err_free:
	ep_keysrc_stop(s);
	return err;
}

void ep_keysrc_stop(struct ep_keysrc *s)
{
	if (!s)
		return;
	ep_sleeper_stop(&s->sleeper);
	ep_enroll_close(s->conn);
	pthread_mutex_destroy(&s->mu);
	OPENSSL_cleanse(s, sizeof(*s));
	free(s);
}

void ep_keysrc_get_stats(struct ep_keysrc *s, struct ep_keysrc_stats *st)
{
	pthread_mutex_lock(&s->mu);
	*st = s->st;
	pthread_mutex_unlock(&s->mu);
	st->keys = ep_keytab_count(s->t);
}

int ep_keysrc_self(struct ep_keysrc *s, struct ep_key_info *out)
{
	int ret = -ENOENT;

	pthread_mutex_lock(&s->mu);
	if (s->self_ok) {
		*out = s->self;
		ret = 0;
	}
	pthread_mutex_unlock(&s->mu);
	return ret;
}
