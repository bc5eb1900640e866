// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The CrowdSec bouncer: with [crowdsec] lapi_url set, a thread of the daemon
 * polls the Local API's decision stream (GET /v1/decisions/stream, header
 * X-Api-Key; startup=true first, then the changes since the last poll) with
 * libcurl and puts the decisions into the data path's maps:
 *   scope Ip,    type ban  ->  a ban (mg_ban) for the decision's duration
 *   scope Range, type ban  ->  a deny entry (mg_deny) with that TTL
 * both of origin crowdsec. Other types (captcha, throttle) and scopes
 * (username, country ...) are counted as skipped.
 *
 * What it holds: a table of entries (one per address or prefix), each with
 * the decisions behind it (CrowdSec may have several for one address, each
 * with its own id and end): the entry's expiry is the latest of them, and it
 * goes when the last one is deleted or has expired.
 *
 * Whose entries: it writes only where the map has nothing, an expired
 * entry, or an entry of its own; an address an operator (or a zone, or the
 * quotas) has banned or denied keeps that entry, and the decision waits
 * ("shadowed") and is tried again at every poll. It deletes only entries of
 * origin crowdsec. A full answer (startup=true: at start, and after a failed
 * poll, since a lost answer may have carried deletions) is the whole set:
 * crowdsec entries in the maps that are not in it are removed, so a restart
 * of the daemon or of CrowdSec leaves nothing stale. Every CS_RESYNC_NS the
 * entries are checked against the maps (an LRU ban map may have evicted some)
 * and rewritten where they differ.
 *
 * Never in the way: the thread does all HTTP and map work; the event loop
 * and the data path never wait for it. While the API is away, everything
 * stays as it is (decisions still end at their own expiry) and the poll is
 * retried after 1 s, 2 s, 4 s ... up to CS_BACKOFF_MAX_NS.
 *
 * The map writes are in one place (section "the maps"): a batch of bans, a
 * batch of deny entries, and the deletes, each with its "whose entry" check. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <curl/curl.h>
#include <json-c/json.h>
#include "crowdsec.h"
#include "listset.h"
#include "prom.h"

#define CS_BATCH          8192               /* map updates per bpf_map_update_batch */
#define CS_TIMEOUT_S      300L               /* a whole transfer (a full answer of 1M decisions: ~100 MB) */
#define CS_CONNECT_S      5L
#define CS_MAX_BODY       (256ull << 20)     /* larger answers are refused (~1.7M decisions) */
#define CS_LOG_EVERY_NS   (60 * NSEC_PER_SEC)
#define CS_PARSE_SLICE    (1 << 20)          /* bytes of JSON between looks at the stop flag */
#define CS_STOP_EVERY     4096               /* decisions between looks at the stop flag */

#define LOAD(x)     __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define STORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)
#define ADD(x, v)   __atomic_fetch_add(&(x), (v), __ATOMIC_RELAXED)

enum cs_kind { CS_BAN = 0, CS_DENY = 1 };
enum cs_state {
	CS_ST_NEW = 0,  /* not in the map yet */
	CS_ST_WRITTEN,  /* in the map as we wrote it */
	CS_ST_SHADOWED, /* another origin's entry holds the key */
};

struct cs_dec {
	int64_t id;
	uint64_t expires_ns; /* CLOCK_BOOTTIME */
};

struct cs_entry {
	struct mg_lpm_key key; /* a ban: prefixlen 128 and the address */
	uint8_t kind;          /* enum cs_kind; 0xff: a free slot */
	uint8_t state;         /* enum cs_state */
	uint8_t dirty;         /* on the dirty list */
	uint32_t n, cap;       /* decisions */
	struct cs_dec *decs;
	uint64_t written_exp;  /* the expiry last written */
	uint32_t next_free;
};

/* entries in a vector, found through an open-addressing index (linear
 * probing, backward-shift deletion) of entry number + 1 */
struct cs_table {
	struct cs_entry *e;
	uint32_t n_e, cap_e, free_head, live;
	uint32_t *slot;
	uint32_t mask; /* slots - 1; a power of two minus one */
};

struct crowdsec {
	struct gate *g;
	struct crowdsec_stats *st;
	struct cs_table t;
	uint32_t *dirty;
	uint32_t n_dirty, cap_dirty;
	/* batches for the map writes */
	struct mg_addr *ban_keys;
	struct mg_ban *ban_vals;
	uint32_t *ban_idx;
	uint32_t n_ban;
	struct mg_lpm_key *deny_keys;
	struct mg_rule *deny_vals;
	uint32_t *deny_idx;
	uint32_t n_deny;
	/* the thread */
	char url[600];          /* .../v1/decisions/stream */
	char key_header[300];   /* "X-Api-Key: ..." */
	char base_url[512];
	uint64_t poll_ns;
	pthread_t thread;
	bool thread_started;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int stop;
	CURL *curl;
	char *body;
	size_t body_len, body_cap;
	int state_fd;
};

/* ---- values ---- */

int crowdsec_parse_duration(const char *s, int64_t *ns)
{
	static const struct { const char *u; double mult; } units[] = {
		{ "ns", 1 }, { "us", 1e3 }, { "\xc2\xb5s", 1e3 }, { "\xce\xbcs", 1e3 },
		{ "ms", 1e6 }, { "s", 1e9 }, { "m", 60e9 }, { "h", 3600e9 },
	};
	double total = 0;
	bool neg = false;

	if (!s || !*s)
		return -EINVAL;
	if (*s == '-' || *s == '+')
		neg = *s++ == '-';
	if (!strcmp(s, "0")) {
		*ns = 0;
		return 0;
	}
	if (!*s)
		return -EINVAL;
	while (*s) {
		char *end;
		double v;
		size_t best = 0, bi = 0;

		double scale = 1;
		bool digits = false;

		/* [0-9]*(.[0-9]*)?, at least one digit (no exponent, no hex) */
		v = 0;
		for (end = (char *)s; isdigit((unsigned char)*end); end++, digits = true)
			v = v * 10 + (*end - '0');
		if (*end == '.')
			for (end++; isdigit((unsigned char)*end); end++, digits = true)
				v += (*end - '0') * (scale /= 10);
		if (!digits)
			return -EINVAL;
		/* the longest unit that matches: "ms" before "m" */
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			size_t l = strlen(units[i].u);

			if (!strncmp(end, units[i].u, l) && l > best)
				best = l, bi = i;
		}
		if (!best)
			return -EINVAL;
		total += v * units[bi].mult;
		s = end + best;
	}
	if (total > 9.2e18)
		return -EINVAL;
	*ns = neg ? -(int64_t)total : (int64_t)total;
	return 0;
}

int crowdsec_url_check(const char *url, char *err, size_t errlen)
{
	CURLU *u;
	char *scheme = NULL, *host = NULL, *query = NULL, *frag = NULL;
	int rc = -EINVAL;

	if (!*url)
		return 0; /* off */
	if (strlen(url) >= sizeof(((struct mg_settings *)0)->crowdsec_url)) {
		snprintf(err, errlen, "at most %zu characters", sizeof(((struct mg_settings *)0)->crowdsec_url) - 1);
		return -EINVAL;
	}
	for (const char *p = url; *p; p++) {
		if ((unsigned char)*p <= ' ' || *p == 0x7f) {
			snprintf(err, errlen, "no spaces or control characters in a URL");
			return -EINVAL;
		}
	}
	u = curl_url();
	if (!u) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if (curl_url_set(u, CURLUPART_URL, url, 0) ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0)) {
		snprintf(err, errlen, "a URL like http://127.0.0.1:8080/");
	} else if (strcmp(scheme, "http") && strcmp(scheme, "https")) {
		snprintf(err, errlen, "an http:// or https:// URL, not %s://", scheme);
	} else if (!host[0]) {
		snprintf(err, errlen, "a URL with a host, like http://127.0.0.1:8080/");
	} else if (!curl_url_get(u, CURLUPART_QUERY, &query, 0) || !curl_url_get(u, CURLUPART_FRAGMENT, &frag, 0)) {
		snprintf(err, errlen, "the Local API's base URL, without ?query or #fragment");
	} else {
		rc = 0;
	}
	curl_free(scheme);
	curl_free(host);
	curl_free(query);
	curl_free(frag);
	curl_url_cleanup(u);
	return rc;
}

int crowdsec_key_check(const char *key, char *err, size_t errlen)
{
	size_t n = strlen(key);

	if (!n || n >= sizeof(((struct mg_settings *)0)->crowdsec_key)) {
		snprintf(err, errlen, "a key of 1..%zu characters (cscli bouncers add NAME -o raw)",
			 sizeof(((struct mg_settings *)0)->crowdsec_key) - 1);
		return -EINVAL;
	}
	for (const char *p = key; *p; p++) {
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f) {
			snprintf(err, errlen, "printable characters without spaces (cscli bouncers add NAME -o raw)");
			return -EINVAL;
		}
	}
	return 0;
}

bool crowdsec_settings_changed(const struct mg_settings *a, const struct mg_settings *b)
{
	return strcmp(a->crowdsec_url, b->crowdsec_url) || strcmp(a->crowdsec_key, b->crowdsec_key) ||
	       a->crowdsec_poll_ns != b->crowdsec_poll_ns;
}

/* ---- the table ---- */

static uint32_t key_hash(uint8_t kind, const struct mg_lpm_key *k)
{
	uint64_t hi, lo;

	memcpy(&hi, k->a, 8);
	memcpy(&lo, k->a + 8, 8);
	hi ^= ((uint64_t)k->prefixlen << 8 | kind) * 0xff51afd7ed558ccdULL;
	hi = (hi ^ (hi >> 29)) * 0x9E3779B97F4A7C15ULL;
	lo = (lo ^ hi ^ (lo >> 31)) * 0xC2B2AE3D27D4EB4FULL;
	return (uint32_t)(lo >> 32);
}

static bool key_eq(const struct cs_entry *e, uint8_t kind, const struct mg_lpm_key *k)
{
	return e->kind == kind && e->key.prefixlen == k->prefixlen && !memcmp(e->key.a, k->a, 16);
}

/* the slot of the key, or of the empty slot where it would go */
static uint32_t tab_probe(const struct cs_table *t, uint8_t kind, const struct mg_lpm_key *k)
{
	uint32_t i = key_hash(kind, k) & t->mask;

	while (t->slot[i] && !key_eq(&t->e[t->slot[i] - 1], kind, k))
		i = (i + 1) & t->mask;
	return i;
}

static int tab_grow(struct cs_table *t)
{
	uint32_t nslots = t->slot ? (t->mask + 1) * 2 : 1024, *old = t->slot, omask = t->mask;

	t->slot = calloc(nslots, sizeof(*t->slot));
	if (!t->slot) {
		t->slot = old;
		return -ENOMEM;
	}
	t->mask = nslots - 1;
	for (uint32_t i = 0; old && i <= omask; i++) {
		if (old[i]) {
			const struct cs_entry *e = &t->e[old[i] - 1];

			t->slot[tab_probe(t, e->kind, &e->key)] = old[i];
		}
	}
	free(old);
	return 0;
}

static struct cs_entry *tab_find(const struct cs_table *t, uint8_t kind, const struct mg_lpm_key *k)
{
	uint32_t i;

	if (!t->slot)
		return NULL;
	i = tab_probe(t, kind, k);
	return t->slot[i] ? &t->e[t->slot[i] - 1] : NULL;
}

static struct cs_entry *tab_insert(struct cs_table *t, uint8_t kind, const struct mg_lpm_key *k)
{
	struct cs_entry *e = tab_find(t, kind, k);
	uint32_t idx;

	if (e)
		return e;
	if ((!t->slot || (uint64_t)(t->live + 1) * 4 > (uint64_t)(t->mask + 1) * 3) && tab_grow(t))
		return NULL;
	if (t->free_head) {
		idx = t->free_head - 1;
		t->free_head = t->e[idx].next_free;
	} else {
		if (t->n_e == t->cap_e) {
			uint32_t cap = t->cap_e ? t->cap_e * 2 : 1024;
			struct cs_entry *ne = realloc(t->e, (size_t)cap * sizeof(*ne));

			if (!ne)
				return NULL;
			t->e = ne;
			t->cap_e = cap;
		}
		idx = t->n_e++;
	}
	e = &t->e[idx];
	memset(e, 0, sizeof(*e));
	e->key = *k;
	e->kind = kind;
	t->slot[tab_probe(t, kind, k)] = idx + 1;
	t->live++;
	return e;
}

static void tab_remove(struct cs_table *t, struct cs_entry *e)
{
	uint32_t idx = e - t->e, i = tab_probe(t, e->kind, &e->key), j;

	/* backward-shift deletion: close the gap for the entries probed past it */
	t->slot[i] = 0;
	for (j = (i + 1) & t->mask; t->slot[j]; j = (j + 1) & t->mask) {
		const struct cs_entry *o = &t->e[t->slot[j] - 1];
		uint32_t home = key_hash(o->kind, &o->key) & t->mask;

		/* o may move into the gap at i unless its home lies in (i, j] */
		if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
			t->slot[i] = t->slot[j];
			t->slot[j] = 0;
			i = j;
		}
	}
	free(e->decs);
	e->decs = NULL;
	e->kind = 0xff;
	e->next_free = t->free_head;
	t->free_head = idx + 1;
	t->live--;
}

static void tab_free(struct cs_table *t)
{
	for (uint32_t i = 0; i < t->n_e; i++)
		if (t->e[i].kind != 0xff)
			free(t->e[i].decs);
	free(t->e);
	free(t->slot);
	memset(t, 0, sizeof(*t));
}

static uint64_t entry_expiry(const struct cs_entry *e)
{
	uint64_t m = 0;

	for (uint32_t i = 0; i < e->n; i++)
		if (e->decs[i].expires_ns > m)
			m = e->decs[i].expires_ns;
	return m;
}

/* 1 when the decision is new, 0 when its id was there (expiry updated) */
static int entry_add_dec(struct cs_entry *e, int64_t id, uint64_t expires_ns)
{
	for (uint32_t i = 0; i < e->n; i++) {
		if (e->decs[i].id == id) {
			e->decs[i].expires_ns = expires_ns;
			return 0;
		}
	}
	if (e->n == e->cap) {
		uint32_t cap = e->cap ? e->cap * 2 : 1;
		struct cs_dec *d = realloc(e->decs, cap * sizeof(*d));

		if (!d)
			return -ENOMEM;
		e->decs = d;
		e->cap = cap;
	}
	e->decs[e->n++] = (struct cs_dec){ id, expires_ns };
	return 1;
}

static bool entry_del_dec(struct cs_entry *e, int64_t id)
{
	for (uint32_t i = 0; i < e->n; i++) {
		if (e->decs[i].id == id) {
			e->decs[i] = e->decs[--e->n];
			return true;
		}
	}
	return false;
}

static int mark_dirty(struct crowdsec *c, struct cs_entry *e)
{
	if (e->dirty)
		return 0;
	if (c->n_dirty == c->cap_dirty) {
		uint32_t cap = c->cap_dirty ? c->cap_dirty * 2 : 1024;
		uint32_t *d = realloc(c->dirty, cap * sizeof(*d));

		if (!d)
			return -ENOMEM;
		c->dirty = d;
		c->cap_dirty = cap;
	}
	c->dirty[c->n_dirty++] = e - c->t.e;
	e->dirty = 1;
	return 0;
}

/* ---- the maps: every write and delete of the bouncer is here ---- */

static bool active(uint64_t expires_ns, uint64_t now)
{
	return !expires_ns || expires_ns > now;
}

/* 1: another origin's live entry holds the key (leave it); 0: ours to write;
 * 2: ours already, as we would write it */
static int ban_check(struct crowdsec *c, const struct mg_addr *a, uint64_t exp, uint64_t now,
		     uint64_t *created_ns)
{
	struct mg_ban b;

	if (bpf_map_lookup_elem(c->g->fd[GM_BAN], a, &b))
		return 0;
	if (b.origin != MG_ORIGIN_CROWDSEC)
		return active(b.expires_ns, now) ? 1 : 0;
	if (active(b.expires_ns, now))
		*created_ns = b.created_ns; /* a longer decision keeps the ban's age */
	return b.expires_ns == exp ? 2 : 0;
}

static int deny_check(struct crowdsec *c, const struct mg_lpm_key *k, uint64_t exp, uint64_t now)
{
	struct mg_rule r;

	if (list_get(c->g, MG_LIST_DENY, k, &r))
		return 0;
	if (r.origin != MG_ORIGIN_CROWDSEC)
		return active(r.expires_ns, now) ? 1 : 0;
	return r.expires_ns == exp && !r.flags ? 2 : 0;
}

/* Write n entries in batches; on a failed batch, one at a time, so that only
 * the entries that cannot go in (a full deny map) are left out. Sets each
 * written entry's state; returns the number that failed. */
static uint32_t write_batch(struct crowdsec *c, int fd, const void *keys, size_t ksz, const void *vals,
			    size_t vsz, const uint32_t *idx, uint32_t n, const char *what)
{
	LIBBPF_OPTS(bpf_map_batch_opts, o, .elem_flags = BPF_ANY);
	uint32_t failed = 0, cnt = n;
	int err = 0;

	if (!n)
		return 0;
	if (bpf_map_update_batch(fd, keys, vals, &cnt, &o)) {
		err = -errno;
		for (uint32_t i = cnt; i < n; i++) {
			if (bpf_map_update_elem(fd, (const char *)keys + i * ksz, (const char *)vals + i * vsz,
						BPF_ANY)) {
				err = -errno;
				failed++;
				c->t.e[idx[i]].state = CS_ST_NEW;
				continue;
			}
			c->t.e[idx[i]].state = CS_ST_WRITTEN;
			c->t.e[idx[i]].written_exp = *(const uint64_t *)((const char *)vals + i * vsz);
		}
		n = cnt; /* the batch's own part went in */
	}
	for (uint32_t i = 0; i < n; i++) {
		c->t.e[idx[i]].state = CS_ST_WRITTEN;
		/* expires_ns is the first field of struct mg_ban and struct mg_rule */
		c->t.e[idx[i]].written_exp = *(const uint64_t *)((const char *)vals + i * vsz);
	}
	if (failed)
		log_ratelimited("crowdsec_write", CS_LOG_EVERY_NS, LOG_LVL_ERROR,
				"msg=\"crowdsec: cannot write entries\" map=%s failed=%u err=\"%s\"%s", what, failed,
				strerror(-err), err == -ENOSPC || err == -E2BIG ? " hint=\"the map is full\"" : "");
	return failed;
}

static void flush_bans(struct crowdsec *c)
{
	write_batch(c, c->g->fd[GM_BAN], c->ban_keys, sizeof(*c->ban_keys), c->ban_vals, sizeof(*c->ban_vals),
		    c->ban_idx, c->n_ban, gate_map_names[GM_BAN]);
	c->n_ban = 0;
}

/* deny entries go into the live deny set one by one (list_put publishes a
 * new prefix length), under the lists lock so that a zone load's replace
 * cannot lose them */
static void flush_denies(struct crowdsec *c)
{
	uint32_t failed = 0;
	int lock, err = 0;

	if (!c->n_deny)
		return;
	lock = list_lock(c->g);
	for (uint32_t i = 0; i < c->n_deny; i++) {
		struct cs_entry *e = &c->t.e[c->deny_idx[i]];
		int r = list_put(c->g, MG_LIST_DENY, &c->deny_keys[i], &c->deny_vals[i]);

		if (r) {
			err = r;
			failed++;
			e->state = CS_ST_NEW;
			continue;
		}
		e->state = CS_ST_WRITTEN;
		e->written_exp = c->deny_vals[i].expires_ns;
	}
	list_unlock(lock);
	if (failed)
		log_ratelimited("crowdsec_write", CS_LOG_EVERY_NS, LOG_LVL_ERROR,
				"msg=\"crowdsec: cannot write entries\" map=%s failed=%u err=\"%s\"%s",
				gate_map_names[GM_DENY], failed, strerror(-err),
				err == -ENOSPC || err == -E2BIG ? " hint=\"the map is full\"" : "");
	c->n_deny = 0;
}

/* Put the entry into its batch (unless another origin holds the key, or
 * the map has it as it is). */
static void stage_write(struct crowdsec *c, struct cs_entry *e, uint64_t exp, uint64_t now)
{
	uint32_t idx = e - c->t.e;
	int r;

	if (e->kind == CS_BAN) {
		struct mg_addr a;
		uint64_t created = now;

		memcpy(a.a, e->key.a, 16);
		r = ban_check(c, &a, exp, now, &created);
		if (r == 0) {
			c->ban_keys[c->n_ban] = a;
			c->ban_vals[c->n_ban] = (struct mg_ban){ .expires_ns = exp, .created_ns = created,
								 .origin = MG_ORIGIN_CROWDSEC };
			c->ban_idx[c->n_ban++] = idx;
			if (c->n_ban == CS_BATCH)
				flush_bans(c);
			return;
		}
	} else {
		r = deny_check(c, &e->key, exp, now);
		if (r == 0) {
			c->deny_keys[c->n_deny] = e->key;
			c->deny_vals[c->n_deny] = (struct mg_rule){ .expires_ns = exp, .prefixlen = e->key.prefixlen,
								    .origin = MG_ORIGIN_CROWDSEC };
			c->deny_idx[c->n_deny++] = idx;
			if (c->n_deny == CS_BATCH)
				flush_denies(c);
			return;
		}
	}
	e->state = r == 1 ? CS_ST_SHADOWED : CS_ST_WRITTEN;
	if (r == 2)
		e->written_exp = exp;
}

/* Delete the key from its map if the entry there is ours; true if it was. */
static bool delete_own(struct crowdsec *c, uint8_t kind, const struct mg_lpm_key *k)
{
	if (kind == CS_BAN) {
		struct mg_addr a;
		struct mg_ban b;

		memcpy(a.a, k->a, 16);
		if (bpf_map_lookup_elem(c->g->fd[GM_BAN], &a, &b) || b.origin != MG_ORIGIN_CROWDSEC)
			return false;
		return !bpf_map_delete_elem(c->g->fd[GM_BAN], &a);
	} else {
		struct mg_rule r;

		if (list_get(c->g, MG_LIST_DENY, k, &r) || r.origin != MG_ORIGIN_CROWDSEC)
			return false;
		return !list_del(c->g, MG_LIST_DENY, k);
	}
}

/* crowdsec entries of the maps the table does not have: removed */
struct stale {
	struct crowdsec *c;
	uint8_t kind;
	struct mg_lpm_key *keys;
	uint32_t n, cap;
};

static int find_stale(const void *key, const void *value, void *ctx)
{
	struct stale *s = ctx;
	struct mg_lpm_key k;
	uint32_t origin;

	if (s->kind == CS_BAN) {
		k.prefixlen = 128;
		memcpy(k.a, key, 16);
		origin = ((const struct mg_ban *)value)->origin;
	} else {
		memcpy(&k, key, sizeof(k));
		origin = ((const struct mg_rule *)value)->origin;
	}
	if (origin != MG_ORIGIN_CROWDSEC || tab_find(&s->c->t, s->kind, &k))
		return 0;
	if (s->n == s->cap) {
		uint32_t cap = s->cap ? s->cap * 2 : 1024;
		struct mg_lpm_key *p = realloc(s->keys, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		s->keys = p;
		s->cap = cap;
	}
	s->keys[s->n++] = k;
	return 0;
}

static uint32_t remove_stale(struct crowdsec *c)
{
	static const enum gate_map maps[] = { [CS_BAN] = GM_BAN, [CS_DENY] = GM_DENY };
	uint32_t removed = 0;

	for (uint8_t kind = CS_BAN; kind <= CS_DENY; kind++) {
		struct stale s = { .c = c, .kind = kind };
		int err = kind == CS_DENY ? list_walk(c->g, MG_LIST_DENY, find_stale, &s)
					  : map_walk(c->g->fd[maps[kind]], find_stale, &s);

		if (err)
			pr_warn("msg=\"crowdsec: cannot read the map for stale entries\" map=%s err=\"%s\"",
				gate_map_names[maps[kind]], strerror(-err));
		for (uint32_t i = 0; i < s.n; i++)
			removed += delete_own(c, kind, &s.keys[i]);
		free(s.keys);
	}
	return removed;
}

/* ---- applying decisions ---- */

/* The dirty entries into the maps: written with their latest expiry,
 * deleted (and dropped from the table) when no decision is left. */
static void flush_dirty(struct crowdsec *c, uint64_t now)
{
	for (uint32_t i = 0; i < c->n_dirty; i++) {
		struct cs_entry *e = &c->t.e[c->dirty[i]];

		if (i % CS_STOP_EVERY == CS_STOP_EVERY - 1 && LOAD(c->stop)) {
			/* stopping: the rest is left to the next bouncer's full answer */
			for (; i < c->n_dirty; i++)
				c->t.e[c->dirty[i]].dirty = 0;
			break;
		}
		e->dirty = 0;
		if (e->kind == 0xff)
			continue;
		if (!e->n) {
			if (e->state == CS_ST_WRITTEN)
				delete_own(c, e->kind, &e->key);
			tab_remove(&c->t, e);
			continue;
		}
		stage_write(c, e, entry_expiry(e), now);
	}
	c->n_dirty = 0;
	flush_bans(c);
	flush_denies(c);
}

static void count_entries(struct crowdsec *c)
{
	uint64_t bans = 0, denies = 0, shadowed = 0;

	for (uint32_t i = 0; i < c->t.n_e; i++) {
		const struct cs_entry *e = &c->t.e[i];

		if (e->kind == 0xff)
			continue;
		if (e->state == CS_ST_SHADOWED)
			shadowed += e->n;
		else if (e->kind == CS_BAN)
			bans++;
		else
			denies++;
	}
	STORE(c->st->bans, bans);
	STORE(c->st->denies, denies);
	STORE(c->st->shadowed, shadowed);
}

static const char *jstr(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
		       ? json_object_get_string(v) : NULL;
}

/* One decision: its entry key, id and expiry. 0 = use it, 1 = not for us
 * (type, scope), -EINVAL = malformed. */
static int parse_decision(struct json_object *d, uint8_t *kind, struct mg_lpm_key *k, int64_t *id,
			  int64_t *dur_ns)
{
	const char *type = jstr(d, "type"), *scope = jstr(d, "scope"), *value = jstr(d, "value");
	const char *dur = jstr(d, "duration");
	struct json_object *jid;
	char buf[128];
	bool is_ip, is_range;

	if (!type || !scope || !value || !json_object_object_get_ex(d, "id", &jid))
		return -EINVAL;
	*id = json_object_get_int64(jid);
	is_ip = !strcasecmp(scope, "ip");
	is_range = !strcasecmp(scope, "range");
	if (strcasecmp(type, "ban") || (!is_ip && !is_range))
		return 1;
	if (!dur || crowdsec_parse_duration(dur, dur_ns))
		return -EINVAL;
	if (!strchr(value, '/') || strlen(value) >= sizeof(buf) - 8) {
		snprintf(buf, sizeof(buf), "%s", value);
	} else {
		/* a range may come with host bits set: 192.0.2.7/24 is 192.0.2.0/24 */
		const char *slash = strchr(value, '/');
		struct mg_addr a;
		uint32_t len;

		snprintf(buf, sizeof(buf), "%.*s", (int)(slash - value), value);
		if (parse_addr(buf, &a) || parse_u32(slash + 1, 0, strchr(buf, ':') ? 128 : 32, &len))
			return -EINVAL;
		if (!strchr(buf, ':'))
			len += 96;
		for (uint32_t bit = len; bit < 128; bit++)
			a.a[bit / 8] &= ~(0x80 >> (bit % 8));
		k->prefixlen = len;
		memcpy(k->a, a.a, 16);
		/* Ip scope as "192.0.2.7/32" is an address; a shorter one a prefix */
		*kind = len == 128 && is_ip ? CS_BAN : CS_DENY;
		return 0;
	}
	if (is_ip) {
		struct mg_addr a;

		if (parse_addr(buf, &a))
			return -EINVAL;
		k->prefixlen = 128;
		memcpy(k->a, a.a, 16);
		*kind = CS_BAN;
		return 0;
	}
	if (parse_cidr(buf, k))
		return -EINVAL;
	*kind = CS_DENY;
	return 0;
}

/* A range wider than an IPv4 /8 or an IPv6 /16 (the narrowest prefix_v4 and
 * prefix_v6 allow) is refused: a typo in `cscli decisions add --range`
 * must not deny the mail server to the world. */
static bool too_broad(uint8_t kind, const struct mg_lpm_key *k)
{
	struct mg_addr a;

	memcpy(a.a, k->a, 16);
	return kind == CS_DENY && k->prefixlen < (addr_is_v4(&a) && k->prefixlen >= 96 ? 96 + 8 : 16);
}

/* what one answer did */
struct cs_counts {
	uint64_t applied, removed, skipped, bad;
};

/* The answer, parsed in slices (a stopping daemon does not wait for a big
 * one): the document with its "new" and "deleted" arrays (either may be
 * NULL). 0, -ECANCELED (stopping), -EINVAL (not such a document), -ENOMEM. */
static int cs_parse_body(struct crowdsec *c, const char *body, size_t len, struct json_object **doc,
			 struct json_object **news, struct json_object **dels)
{
	struct json_tokener *tok = json_tokener_new_ex(64);
	struct json_object *d = NULL;
	bool ok;

	if (!tok)
		return -ENOMEM;
	for (size_t off = 0; off < len || !len; off += CS_PARSE_SLICE) {
		size_t n = len - off < CS_PARSE_SLICE ? len - off : CS_PARSE_SLICE;

		d = json_tokener_parse_ex(tok, body + off, (int)n);
		if (d || json_tokener_get_error(tok) != json_tokener_continue || !len)
			break;
		if (LOAD(c->stop)) {
			json_tokener_free(tok);
			return -ECANCELED;
		}
	}
	*news = *dels = NULL;
	ok = d && json_tokener_get_error(tok) == json_tokener_success && json_object_is_type(d, json_type_object) &&
	     !(json_object_object_get_ex(d, "new", news) && *news && !json_object_is_type(*news, json_type_array)) &&
	     !(json_object_object_get_ex(d, "deleted", dels) && *dels && !json_object_is_type(*dels, json_type_array));
	json_tokener_free(tok);
	if (!ok) {
		json_object_put(d);
		return -EINVAL;
	}
	*doc = d;
	return 0;
}

/* the "new" decisions into the table: 0 or -errno (-ECANCELED: stopping) */
static int cs_apply_new(struct crowdsec *c, struct json_object *news, uint64_t now, struct cs_counts *n)
{
	int err = 0;

	for (size_t i = 0, len = news ? json_object_array_length(news) : 0; i < len && !err; i++) {
		struct cs_entry *e;
		struct mg_lpm_key k;
		uint8_t kind;
		int64_t id, dur;
		int r;

		if (i % CS_STOP_EVERY == CS_STOP_EVERY - 1 && LOAD(c->stop))
			return -ECANCELED;
		r = parse_decision(json_object_array_get_idx(news, i), &kind, &k, &id, &dur);
		if (r) {
			n->skipped += r > 0;
			n->bad += r < 0;
			continue;
		}
		if (too_broad(kind, &k)) {
			char cidr[MG_ADDRSTRLEN + 8];

			log_ratelimited("crowdsec_broad", CS_LOG_EVERY_NS, LOG_LVL_WARN,
					"msg=\"crowdsec: a range wider than IPv4 /8 or IPv6 /16 is not applied\" range=%s id=%lld",
					format_cidr(&k, cidr, sizeof(cidr)), (long long)id);
			n->skipped++;
			continue;
		}
		if (dur <= 0)
			continue; /* already over */
		e = tab_insert(&c->t, kind, &k);
		r = e ? entry_add_dec(e, id, now + (uint64_t)dur) : -ENOMEM;
		n->applied += r == 1; /* 0: a decision we had, its end updated */
		err = r < 0 ? r : mark_dirty(c, e);
	}
	return err;
}

/* the "deleted" decisions out of the table: 0 or -errno */
static int cs_apply_deleted(struct crowdsec *c, struct json_object *dels, struct cs_counts *n)
{
	int err = 0;

	for (size_t i = 0, len = dels ? json_object_array_length(dels) : 0; i < len && !err; i++) {
		struct cs_entry *e;
		struct mg_lpm_key k;
		uint8_t kind;
		int64_t id, dur;

		if (parse_decision(json_object_array_get_idx(dels, i), &kind, &k, &id, &dur))
			continue;
		e = tab_find(&c->t, kind, &k);
		if (e && entry_del_dec(e, id)) {
			n->removed++;
			err = mark_dirty(c, e);
		}
	}
	return err;
}

int crowdsec_apply(struct crowdsec *c, const char *body, size_t len, bool startup)
{
	struct json_object *doc, *news, *dels;
	uint64_t now = now_boot_ns();
	struct cs_counts n = { 0 };
	struct cs_table old = { 0 };
	int err = cs_parse_body(c, body, len, &doc, &news, &dels);

	if (err)
		return err;
	if (startup) {
		/* the whole set: a fresh table; what the old one had and this one
		 * has not goes with the stale entries of the maps */
		old = c->t;
		memset(&c->t, 0, sizeof(c->t));
		c->n_dirty = 0;
	}
	err = cs_apply_new(c, news, now, &n);
	if (!err)
		err = cs_apply_deleted(c, dels, &n);
	json_object_put(doc);
	if (err == -ECANCELED) {
		/* stopping: what is written stays (all of it CrowdSec's own
		 * decisions); the next bouncer starts with a full answer */
		tab_free(&old);
		return err;
	}
	flush_dirty(c, now);
	if (startup) {
		/* decisions the old table had that the full answer has not */
		for (uint32_t i = 0; i < old.n_e; i++)
			if (old.e[i].kind != 0xff && old.e[i].state != CS_ST_WRITTEN &&
			    !tab_find(&c->t, old.e[i].kind, &old.e[i].key))
				n.removed += old.e[i].n;
		tab_free(&old);
		/* and the entries of the maps (after a restart: of the run
		 * before); not after a failure, which left the set incomplete */
		if (!err)
			n.removed += remove_stale(c);
	}
	if (n.bad)
		log_ratelimited("crowdsec_bad", CS_LOG_EVERY_NS, LOG_LVL_WARN,
				"msg=\"crowdsec: decisions the bouncer cannot read were skipped\" count=%llu",
				(unsigned long long)n.bad);
	ADD(c->st->applied, n.applied);
	ADD(c->st->removed, n.removed);
	ADD(c->st->skipped, n.skipped + n.bad);
	count_entries(c);
	return err;
}

void crowdsec_maintain(struct crowdsec *c, bool full)
{
	uint64_t now = now_boot_ns(), removed = 0;

	for (uint32_t i = 0; i < c->t.n_e; i++) {
		struct cs_entry *e = &c->t.e[i];
		bool changed = false;

		if (e->kind == 0xff)
			continue;
		for (uint32_t j = 0; j < e->n;) {
			if (e->decs[j].expires_ns <= now) {
				e->decs[j] = e->decs[--e->n];
				removed++;
				changed = true;
			} else {
				j++;
			}
		}
		if (changed || full || e->state != CS_ST_WRITTEN)
			mark_dirty(c, e);
	}
	flush_dirty(c, now);
	ADD(c->st->removed, removed);
	count_entries(c);
}

struct crowdsec *crowdsec_new(struct gate *g, struct crowdsec_stats *st)
{
	struct crowdsec *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->g = g;
	c->st = st;
	c->state_fd = -1;
	c->ban_keys = calloc(CS_BATCH, sizeof(*c->ban_keys));
	c->ban_vals = calloc(CS_BATCH, sizeof(*c->ban_vals));
	c->ban_idx = calloc(CS_BATCH, sizeof(*c->ban_idx));
	c->deny_keys = calloc(CS_BATCH, sizeof(*c->deny_keys));
	c->deny_vals = calloc(CS_BATCH, sizeof(*c->deny_vals));
	c->deny_idx = calloc(CS_BATCH, sizeof(*c->deny_idx));
	if (!c->ban_keys || !c->ban_vals || !c->ban_idx || !c->deny_keys || !c->deny_vals || !c->deny_idx) {
		crowdsec_free(c);
		return NULL;
	}
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	return c;
}

void crowdsec_free(struct crowdsec *c)
{
	if (!c)
		return;
	tab_free(&c->t);
	free(c->dirty);
	free(c->ban_keys);
	free(c->ban_vals);
	free(c->ban_idx);
	free(c->deny_keys);
	free(c->deny_vals);
	free(c->deny_idx);
	free(c->body);
	if (c->curl)
		curl_easy_cleanup(c->curl);
	if (c->state_fd >= 0)
		close(c->state_fd);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->cond);
	free(c);
}

/* ---- the state `mailgate status` reads ---- */

static uint64_t unix_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int state_open(const char *pin_dir, bool create)
{
	char path[PATH_MAX];
	struct bpf_map_info info;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", pin_dir, MG_MAP_CROWDSEC);
	fd = bpf_obj_get(path);
	if (fd >= 0) {
		if (!map_info(fd, &info) && info.type == BPF_MAP_TYPE_ARRAY && info.key_size == 4 &&
		    info.value_size == sizeof(struct crowdsec_state))
			return fd;
		close(fd);
		if (!create)
			return -EPROTO;
		unlink(path); /* another layout: start afresh */
	} else if (!create) {
		return -errno;
	}
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, MG_MAP_CROWDSEC, 4, sizeof(struct crowdsec_state), 1, NULL);
	if (fd < 0)
		return -errno;
	if (bpf_obj_pin(fd, path)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

static void state_publish(struct crowdsec *c)
{
	struct crowdsec_state s = { .updated_unix_ms = unix_ms(), .poll_ns = c->poll_ns };
	uint32_t zero = 0;

	if (c->state_fd < 0)
		return;
	s.st.polls_ok = LOAD(c->st->polls_ok);
	s.st.polls_failed = LOAD(c->st->polls_failed);
	s.st.applied = LOAD(c->st->applied);
	s.st.removed = LOAD(c->st->removed);
	s.st.skipped = LOAD(c->st->skipped);
	s.st.last_ok_unix_ms = LOAD(c->st->last_ok_unix_ms);
	s.st.bans = LOAD(c->st->bans);
	s.st.denies = LOAD(c->st->denies);
	s.st.shadowed = LOAD(c->st->shadowed);
	s.st.up = LOAD(c->st->up);
	s.st.running = LOAD(c->st->running);
	snprintf(s.url, sizeof(s.url), "%s", c->base_url);
	bpf_map_update_elem(c->state_fd, &zero, &s, BPF_ANY);
}

int crowdsec_state_read(const char *pin_dir, struct crowdsec_state *out)
{
	uint32_t zero = 0;
	int fd = state_open(pin_dir, false), err = 0;

	if (fd < 0)
		return fd == -ENOENT ? -ENOENT : fd;
	if (bpf_map_lookup_elem(fd, &zero, out))
		err = -errno;
	close(fd);
	return err;
}

/* ---- HTTP ---- */

static size_t on_body(char *data, size_t size, size_t nmemb, void *ctx)
{
	struct crowdsec *c = ctx;
	size_t n = size * nmemb;

	if (c->body_len + n + 1 > c->body_cap) {
		size_t cap = c->body_cap ? c->body_cap : 65536;
		char *b;

		while (cap < c->body_len + n + 1)
			cap *= 2;
		if (cap > CS_MAX_BODY)
			return 0; /* aborts the transfer */
		b = realloc(c->body, cap);
		if (!b)
			return 0;
		c->body = b;
		c->body_cap = cap;
	}
	memcpy(c->body + c->body_len, data, n);
	c->body_len += n;
	c->body[c->body_len] = 0;
	return n;
}

/* curl asks this often during a transfer: non-zero aborts it (stopping) */
static int on_progress(void *ctx, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct crowdsec *c = ctx;

	return LOAD(c->stop);
}

/* GET the stream; 0 with the answer in c->body, else -errno (logged) */
static int fetch(struct crowdsec *c, bool startup, double *secs)
{
	char url[sizeof(c->url) + 64], errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdr = NULL;
	long status = 0;
	CURLcode rc;
	int err = 0;

	if (!c->curl) {
		c->curl = curl_easy_init();
		if (!c->curl)
			return -ENOMEM;
	}
	snprintf(url, sizeof(url), "%s?startup=%s&scopes=ip,range", c->url, startup ? "true" : "false");
	hdr = curl_slist_append(hdr, c->key_header);
	hdr = hdr ? curl_slist_append(hdr, "Accept: application/json") : NULL;
	if (!hdr)
		return -ENOMEM;
	c->body_len = 0;
	curl_easy_reset(c->curl); /* keeps the connection */
	curl_easy_setopt(c->curl, CURLOPT_URL, url);
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(c->curl, CURLOPT_USERAGENT, "mailgate/" MG_VERSION);
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT, CS_CONNECT_S);
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, CS_TIMEOUT_S);
	curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c->curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c->curl, CURLOPT_ACCEPT_ENCODING, ""); /* gzip if the API offers it */
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(c->curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c->curl, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c->curl, CURLOPT_XFERINFODATA, c);
	curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, errbuf);
	rc = curl_easy_perform(c->curl);
	curl_slist_free_all(hdr);
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(c->curl, CURLINFO_TOTAL_TIME, secs);
	if (rc == CURLE_ABORTED_BY_CALLBACK && LOAD(c->stop))
		return -ECANCELED;
	if (rc != CURLE_OK) {
		err = rc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -EIO;
		log_ratelimited("crowdsec_poll", CS_LOG_EVERY_NS, LOG_LVL_WARN,
				"msg=\"crowdsec: the Local API does not answer; keeping the decisions we have\" url=%s err=\"%s\"",
				c->base_url, errbuf[0] ? errbuf : curl_easy_strerror(rc));
	} else if (status != 200) {
		err = status == 401 || status == 403 ? -EACCES : -EIO;
		log_ratelimited("crowdsec_refused", CS_LOG_EVERY_NS, LOG_LVL_ERROR,
				"msg=\"crowdsec: the Local API refused the poll%s\" url=%s status=%ld",
				err == -EACCES ? " (api_key: cscli bouncers add NAME -o raw)" : "", c->base_url, status);
	}
	return err;
}

/* ---- the thread ---- */

/* wait ns or until stopped; true when stopping */
static bool wait_or_stop(struct crowdsec *c, uint64_t ns)
{
	struct timespec ts;
	bool stop;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ns / NSEC_PER_SEC;
	ts.tv_nsec += ns % NSEC_PER_SEC;
	if (ts.tv_nsec >= (long)NSEC_PER_SEC) {
		ts.tv_sec++;
		ts.tv_nsec -= NSEC_PER_SEC;
	}
	pthread_mutex_lock(&c->lock);
	while (!c->stop && pthread_cond_timedwait(&c->cond, &c->lock, &ts) != ETIMEDOUT)
		;
	stop = c->stop;
	pthread_mutex_unlock(&c->lock);
	return stop;
}

static void *thread_main(void *arg)
{
	struct crowdsec *c = arg;
	uint64_t backoff = 0, last_full = now_boot_ns();
	uint64_t backoff_max = c->poll_ns > CS_BACKOFF_MAX_NS ? c->poll_ns : CS_BACKOFF_MAX_NS;
	bool startup = true, was_up = false;

	while (!LOAD(c->stop)) {
		uint64_t t0, t1, wait;
		double fetch_s = 0;
		int err;

		err = fetch(c, startup, &fetch_s);
		if (err == -ECANCELED)
			break;
		if (!err) {
			uint64_t before = LOAD(c->st->applied), removed = LOAD(c->st->removed);

			t0 = now_boot_ns();
			err = crowdsec_apply(c, c->body, c->body_len, startup);
			t1 = now_boot_ns();
			if (err == -ECANCELED)
				break;
			if (err == -EINVAL)
				log_ratelimited("crowdsec_poll", CS_LOG_EVERY_NS, LOG_LVL_ERROR,
						"msg=\"crowdsec: the Local API's answer is not a decision stream\" url=%s bytes=%zu",
						c->base_url, c->body_len);
			else if (startup || LOAD(c->st->applied) != before || LOAD(c->st->removed) != removed)
				pr_info("msg=\"crowdsec decisions applied\" full=%s new=%llu removed=%llu bans=%llu denies=%llu shadowed=%llu fetch_s=%.3f apply_s=%.3f rate_per_s=%.0f",
					startup ? "yes" : "no",
					(unsigned long long)(LOAD(c->st->applied) - before),
					(unsigned long long)(LOAD(c->st->removed) - removed),
					(unsigned long long)LOAD(c->st->bans), (unsigned long long)LOAD(c->st->denies),
					(unsigned long long)LOAD(c->st->shadowed), fetch_s, (t1 - t0) / 1e9,
					t1 > t0 ? (LOAD(c->st->applied) - before) / ((t1 - t0) / 1e9) : 0);
		}
		if (!err) {
			ADD(c->st->polls_ok, 1);
			STORE(c->st->last_ok_unix_ms, unix_ms());
			STORE(c->st->up, 1);
			if (!was_up)
				pr_info("msg=\"crowdsec: polling the Local API\" url=%s poll=%llus", c->base_url,
					(unsigned long long)(c->poll_ns / NSEC_PER_SEC));
			was_up = true;
			startup = false;
			backoff = 0;
			wait = c->poll_ns;
		} else {
			ADD(c->st->polls_failed, 1);
			STORE(c->st->up, 0);
			if (was_up)
				pr_warn("msg=\"crowdsec: the Local API is away; keeping the decisions we have, retrying\" url=%s",
					c->base_url);
			was_up = false;
			startup = true; /* a lost answer may have carried deletions */
			backoff = backoff ? backoff * 2 : CS_BACKOFF_MIN_NS;
			if (backoff > backoff_max)
				backoff = backoff_max;
			wait = backoff;
		}
		/* expiry, shadowed entries, and now and then every entry */
		t0 = now_boot_ns();
		crowdsec_maintain(c, t0 - last_full >= CS_RESYNC_NS);
		if (t0 - last_full >= CS_RESYNC_NS)
			last_full = t0;
		state_publish(c);
		if (wait_or_stop(c, wait))
			break;
	}
	return NULL;
}

static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct crowdsec *crowdsec_start(const struct mg_settings *s, struct gate *g, struct crowdsec_stats *st)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	struct crowdsec *c;
	pthread_condattr_t ca;
	size_t n;
	int r;

	pthread_once(&once, curl_init_once);
	c = crowdsec_new(g, st);
	if (!c)
		return NULL;
	n = strlen(s->crowdsec_url);
	snprintf(c->base_url, sizeof(c->base_url), "%s", s->crowdsec_url);
	snprintf(c->url, sizeof(c->url), "%s%sv1/decisions/stream", s->crowdsec_url,
		 n && s->crowdsec_url[n - 1] == '/' ? "" : "/");
	snprintf(c->key_header, sizeof(c->key_header), "X-Api-Key: %s", s->crowdsec_key);
	c->poll_ns = s->crowdsec_poll_ns;
	/* the waits between polls on CLOCK_MONOTONIC */
	pthread_cond_destroy(&c->cond);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->cond, &ca);
	pthread_condattr_destroy(&ca);
	c->state_fd = state_open(g->pin_dir, true);
	if (c->state_fd < 0)
		pr_warn("msg=\"crowdsec: no state for mailgate status\" err=\"%s\"", strerror(-c->state_fd));
	STORE(st->running, 1);
	STORE(st->up, 0);
	state_publish(c);
	r = pthread_create(&c->thread, NULL, thread_main, c);
	if (r) {
		pr_err("msg=\"crowdsec: cannot start the thread\" err=\"%s\"", strerror(r));
		STORE(st->running, 0);
		crowdsec_free(c);
		return NULL;
	}
	c->thread_started = true;
	pr_info("msg=\"crowdsec bouncer started\" url=%s poll=%llus", c->base_url,
		(unsigned long long)(c->poll_ns / NSEC_PER_SEC));
	return c;
}

void crowdsec_stop(struct crowdsec *c)
{
	if (!c)
		return;
	if (c->thread_started) {
		pthread_mutex_lock(&c->lock);
		STORE(c->stop, 1);
		pthread_cond_broadcast(&c->cond);
		pthread_mutex_unlock(&c->lock);
		pthread_join(c->thread, NULL);
	}
	STORE(c->st->running, 0);
	STORE(c->st->up, 0);
	state_publish(c);
	crowdsec_free(c);
}

/* ---- metrics ---- */

/* the bouncer's families: each one sample, or one per label value */
#define CS_FIELD(f) offsetof(struct crowdsec_stats, f), sizeof(((struct crowdsec_stats *)0)->f)
static const struct cs_family {
	const char *name, *type, *help;
	const char *label;   /* NULL: one sample without labels */
	struct {
		const char *value;
		size_t off, size; /* the field of struct crowdsec_stats */
	} s[3];
} cs_families[] = {
	{ "mailgate_crowdsec_up", "gauge",
	  "1 while the CrowdSec bouncer's last poll of the Local API succeeded; 0 when it failed or the bouncer is off.",
	  NULL, { { NULL, CS_FIELD(up) } } },
	{ "mailgate_crowdsec_polls_total", "counter",
	  "Polls of the CrowdSec decision stream, by result (since the daemon started).",
	  "result", { { "ok", CS_FIELD(polls_ok) }, { "error", CS_FIELD(polls_failed) } } },
	{ "mailgate_crowdsec_decisions_applied_total", "counter",
	  "CrowdSec ban decisions (scope Ip or Range) the bouncer took into the maps.",
	  NULL, { { NULL, CS_FIELD(applied) } } },
	{ "mailgate_crowdsec_decisions_removed_total", "counter",
	  "CrowdSec decisions the bouncer took out again: deleted in CrowdSec, expired, or gone from a full answer.",
	  NULL, { { NULL, CS_FIELD(removed) } } },
	{ "mailgate_crowdsec_decisions_skipped_total", "counter",
	  "CrowdSec decisions not for the bouncer: another type (captcha ...) or scope (username ...), or unreadable.",
	  NULL, { { NULL, CS_FIELD(skipped) } } },
	{ "mailgate_crowdsec_entries", "gauge",
	  "Entries the CrowdSec bouncer holds in the maps: bans (scope Ip) and deny entries (scope Range); shadowed: decisions on a key another origin's entry holds.",
	  "kind", { { "ban", CS_FIELD(bans) }, { "deny", CS_FIELD(denies) }, { "shadowed", CS_FIELD(shadowed) } } },
};
#undef CS_FIELD

/* a field of st by offset and size (uint32_t or uint64_t), atomically */
static uint64_t cs_stat(const struct crowdsec_stats *st, size_t off, size_t size)
{
	const void *p = (const char *)st + off;

	return size == sizeof(uint32_t) ? __atomic_load_n((const uint32_t *)p, __ATOMIC_RELAXED)
					: __atomic_load_n((const uint64_t *)p, __ATOMIC_RELAXED);
}

void crowdsec_metrics_write(const struct crowdsec_stats *st, FILE *f)
{
	uint64_t last = LOAD(((struct crowdsec_stats *)st)->last_ok_unix_ms);

	for (size_t i = 0; i < sizeof(cs_families) / sizeof(cs_families[0]); i++) {
		const struct cs_family *fm = &cs_families[i];

		metrics_family(f, fm->name, fm->type, fm->help);
		for (int j = 0; j < 3 && fm->s[j].size; j++) {
			unsigned long long v = cs_stat(st, fm->s[j].off, fm->s[j].size);

			if (fm->label)
				fprintf(f, "%s{%s=\"%s\"} %llu\n", fm->name, fm->label, fm->s[j].value, v);
			else
				fprintf(f, "%s %llu\n", fm->name, v);
		}
	}
	metrics_family(f, "mailgate_crowdsec_last_poll_success_seconds", "gauge",
		       "When the CrowdSec bouncer last polled the Local API successfully (Unix time); 0: never.");
	fprintf(f, "mailgate_crowdsec_last_poll_success_seconds %.3f\n", last / 1e3);
}
