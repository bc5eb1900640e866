// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* `mailgate zone load FILE`: an rbldnsd data file into the deny list,
 * replacing what an earlier load of the same file put there: the new deny
 * set is built beside the live one (operator entries, this file, the other
 * files' entries) and switched in one step (user/listset.c), so a load that
 * fails or is killed changes nothing. `mailgate zone export FILE`: the bans and the deny
 * list as an rbldnsd file, for a fleet's own rbldnsd. */
#include <errno.h>
#include <libgen.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include <json-c/json.h>
#include "zone.h"
#include "listset.h"
#include "cli.h"

#define BATCH 16384
#define MAX_BAD_SHOWN 20
#define EXPORT_BAN_VALUE 0x7f000003u  /* bans answer 127.0.0.3 */
#define EXPORT_DENY_VALUE 0x7f000002u /* deny entries without a value: 127.0.0.2 */

static double secs(uint64_t a, uint64_t b)
{
	return (double)(b - a) / 1e9;
}

static uint32_t set_id(const char *name)
{
	uint32_t h = 2166136261u;

	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 16777619u;
	h = (h ^ (h >> 16)) & 0xffff;
	return h ? h : 1;
}

/* entries on their way into the new set, a batch at a time */
struct batch {
	struct mg_lpm_key k[BATCH];
	struct mg_rule v[BATCH];
	uint32_t n;
	struct list_build *b;
	int err;
};

static void batch_flush(struct batch *bt)
{
	if (bt->n && !bt->err)
		bt->err = list_build_add(bt->b, bt->k, bt->v, bt->n);
	bt->n = 0;
}

static void batch_push(struct batch *bt, const struct mg_lpm_key *k, const struct mg_rule *v)
{
	bt->k[bt->n] = *k;
	bt->v[bt->n++] = *v;
	if (bt->n == BATCH)
		batch_flush(bt);
}

/* the live deny list, seen by a load of set `set` */
struct live {
	uint32_t set;
	uint64_t now;
	size_t own, own_kept;   /* entries of this file's earlier load; of them in the new file */
	struct mg_lpm_key *own_keys; /* the former (sorted once read) */
	size_t cap_own;
	size_t others;          /* entries of other files */
	struct mg_lpm_key *op;  /* operator entries (CLI, config): they win */
	struct mg_rule *opv;
	size_t n_op, cap_op;
	struct batch *bt;       /* second pass: other files' entries into the new set */
};

static bool is_own(const struct live *l, const struct mg_rule *r)
{
	return r->origin == MG_ORIGIN_ZONE && MG_RULE_SET(r->flags) == l->set;
}

/* an entry of this file's earlier load, kept to be counted against the
 * new file once sorted (a lookup per entry in hash order would miss the
 * cache at every step of its binary search) */
static int own_push(struct live *l, const struct mg_lpm_key *k)
{
	if (l->own == l->cap_own) {
		size_t cap = l->cap_own ? 2 * l->cap_own : 4096;
		struct mg_lpm_key *n = realloc(l->own_keys, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		l->own_keys = n;
		l->cap_own = cap;
	}
	l->own_keys[l->own++] = *k;
	return 0;
}

static int live_census(const void *key, const void *value, void *ctx)
{
	const struct mg_rule *r = value;
	struct live *l = ctx;

	if (!mg_rule_active(r, l->now)) /* a replace drops what has expired */
		return 0;
	if (is_own(l, r))
		return own_push(l, key);
	if (r->origin == MG_ORIGIN_ZONE) {
		l->others++;
		return 0;
	}
	if (l->n_op == l->cap_op) {
		size_t cap = l->cap_op ? 2 * l->cap_op : 1024;
		struct mg_lpm_key *k = realloc(l->op, cap * sizeof(*k));
		struct mg_rule *v = k ? realloc(l->opv, cap * sizeof(*v)) : NULL;

		if (k)
			l->op = k;
		if (!v)
			return -ENOMEM;
		l->opv = v;
		l->cap_op = cap;
	}
	l->op[l->n_op] = *(const struct mg_lpm_key *)key;
	l->opv[l->n_op++] = *r;
	return 0;
}

static int live_others(const void *key, const void *value, void *ctx)
{
	const struct mg_rule *r = value;
	struct live *l = ctx;

	if (mg_rule_active(r, l->now) && r->origin == MG_ORIGIN_ZONE && !is_own(l, r))
		batch_push(l->bt, key, r);
	return l->bt->err;
}

static int key_cmp(const void *x, const void *y)
{
	return zone_key_cmp(x, y);
}

/* this file's entries into the new set: listings, then exclusions (written
 * last, an exclusion wins over a listing of the same prefix); a prefix an
 * operator entry holds is left to the operator's */
static void file_entries(struct batch *bt, const struct zone_data *z, const struct live *l,
			 uint64_t expires, uint32_t set, size_t *kept)
{
	for (int excl = 0; excl <= 1; excl++) {
		for (size_t i = 0; i < z->n; i++) {
			const struct zone_entry *e = &z->e[i];
			struct mg_rule r = { .expires_ns = expires, .prefixlen = e->key.prefixlen,
					     .origin = MG_ORIGIN_ZONE, .value = e->value,
					     .flags = (e->excl ? MG_RULE_EXCLUDE : 0) | set << 16 };

			if ((int)e->excl != excl)
				continue;
			if (l->n_op && bsearch(&e->key, l->op, l->n_op, sizeof(l->op[0]), key_cmp)) {
				++*kept;
				continue;
			}
			batch_push(bt, &e->key, &r);
		}
		for (size_t i = 0; i < z->nr; i++) {
			const struct zone_range *g = &z->r[i];
			struct mg_lpm_key k;
			uint64_t cur = g->lo;

			if ((int)g->excl != excl)
				continue;
			while (zone_range_next(g, &cur, &k)) {
				struct mg_rule r = { .expires_ns = expires, .prefixlen = k.prefixlen,
						     .origin = MG_ORIGIN_ZONE, .value = g->value,
						     .flags = (g->excl ? MG_RULE_EXCLUDE : 0) | set << 16 };

				if (l->n_op && bsearch(&k, l->op, l->n_op, sizeof(l->op[0]), key_cmp)) {
					++*kept;
					continue;
				}
				batch_push(bt, &k, &r);
			}
		}
	}
}

struct bad_ctx {
	const char *file;
	struct json_object *list;
	size_t shown;
};

static void report_bad(void *ctx, size_t line, const char *msg)
{
	struct bad_ctx *b = ctx;

	if (b->shown++ >= MAX_BAD_SHOWN)
		return;
	if (b->list) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "line", json_object_new_int64(line));
		json_object_object_add(o, "error", json_object_new_string(msg));
		json_object_array_add(b->list, o);
	} else {
		fprintf(stderr, "mailgate: %s:%zu: %s (line skipped)\n", b->file, line, msg);
	}
}

static int zone_type_opt(const char *s, void *t)
{
	return zone_type_parse(s, t);
}

/* A file with more bad lines than this is refused (a garbled or wrong
 * download), unless --force: more than 10 bad lines and more than 10% of
 * the lines that hold an entry (good + bad; comments and $ lines aside). */
#define MAX_BAD_LINES 10
#define MAX_BAD_PCT 10

struct load_args {
	const char *file, *name; /* name: --name, else the file's base name */
	uint64_t ttl;            /* 0: the entries never expire */
	enum zone_type type;
	bool force;
	char *namebuf;
};

/* what a load did (load_print) */
struct load_result {
	size_t loaded, others, kept;   /* entries written: this file's, other files', operator's kept */
	uint64_t t[5];                 /* start, parsed, live set read, new set built, switched */
};

static const struct cli_opt zone_load_table[] = {
	CLI_DURATION("ttl", 0, "DUR", struct load_args, ttl, 1, 0, "the entries expire after DUR (default never)",
		     "zone load: --ttl '%s' is not a duration (e.g. 1h, 30m)"),
	CLI_FUNC_AT("type", 0, "auto|ip4set|ip4trie|ip6trie", struct load_args, type, zone_type_opt,
		    "the rbldnsd dataset type (default auto: by each line)",
		    "zone load: --type '%s': one of auto, ip4set, ip4trie, ip6trie"),
	CLI_STRING("name", 0, "NAME", struct load_args, name, "the set's name (default: the file's base name)"),
	CLI_FLAG("force", 0, struct load_args, force,
		 "load even a file less than half the size of the last, or with too many bad lines"),
	CLI_END
};
const struct cli_cmd cli_zone_load = { "zone load", "FILE|-", "load an rbldnsd zone file into the deny list (atomically)",
				       zone_load_table };

/* argv[0] is "load": CLI_GO (-1) to go on, else the exit code */
static int load_parse_args(int argc, char **argv, struct load_args *a)
{
	int rc, npos;

	a->type = ZT_AUTO;
	rc = cli_parse(&cli_zone_load, argc, argv, a, &npos);
	if (rc != CLI_GO)
		return rc;
	if (npos > 1)
		return fail(EXIT_USAGE, "zone load: one file only ('%s')", argv[2]);
	if (!npos)
		return fail(EXIT_USAGE, "zone load: no file given (try 'mailgate zone load --help')");
	a->file = argv[1];
	if (a->name && !*a->name)
		return fail(EXIT_USAGE, "zone load: --name must not be empty");
	if (!a->name) {
		a->namebuf = strdup(a->file);
		a->name = a->namebuf ? basename(a->namebuf) : a->file;
	}
	return -1;
}

/* Too many bad lines for a feed (MAX_BAD_LINES, MAX_BAD_PCT)? */
static bool too_many_bad(const struct zone_data *z)
{
	return z->bad > MAX_BAD_LINES && z->bad * 100 > (z->good + z->bad) * MAX_BAD_PCT;
}

static bool is_regular(const char *file)
{
	struct stat st;

	return strcmp(file, "-") && !stat(file, &st) && S_ISREG(st.st_mode);
}

/* FILE into z, its bad lines reported: 0, else the exit code (nothing changed) */
static int load_read(const struct load_args *a, struct zone_data *z, struct bad_ctx *bad)
{
	FILE *f = strcmp(a->file, "-") ? fopen(a->file, "r") : stdin;
	int r;

	if (!f)
		return fail(EXIT_FAIL, "cannot read %s: %s", a->file, strerror(errno));
	r = zone_parse(f, a->type, z, report_bad, bad);
	if (f != stdin)
		fclose(f);
	if (r)
		return fail(EXIT_FAIL, "reading %s: %s (nothing changed)", a->file, strerror(-r));
	if (!opts.json && bad->shown > MAX_BAD_SHOWN)
		fprintf(stderr, "mailgate: %s: %zu more bad lines not shown\n", a->file, bad->shown - MAX_BAD_SHOWN);
	if (z->bad && !z->prefixes)
		return fail(EXIT_USAGE, "%s: no valid entry (%zu bad lines)", a->file, z->bad);
	if (!a->force && too_many_bad(z))
		return fail(EXIT_FAIL, "zone %s: %zu bad lines of %zu entry lines, more than %d and %d%%: refused "
			    "(a garbled download?); --force loads the good ones (nothing changed)", a->name, z->bad,
			    z->good + z->bad, MAX_BAD_LINES, MAX_BAD_PCT);
	return 0;
}

/* The walk of the live deny list for load_census, on a thread of its own
 * while a regular file is parsed (the lists lock is taken first; the walk,
 * kernel time mostly, and the parse, user time, then overlap on two CPUs) */
struct live_walk {
	struct gate *g;
	struct live *live;
	int err;
};

static void *live_walk(void *arg)
{
	struct live_walk *c = arg;

	c->err = list_walk(c->g, MG_LIST_DENY, live_census, c->live);
	return NULL;
}

/* The live deny list as this load sees it (under the lists lock), and the
 * checks made before anything is built: 0, else the exit code. walked: the
 * result of live_walk when it ran, else 1 (walk now). */
static int load_census(struct gate *g, const struct load_args *a, const struct zone_data *z,
		       struct live *live, int walked)
{
	size_t total;
	int r;

	r = walked != 1 ? walked : list_walk(g, MG_LIST_DENY, live_census, live);
	if (r)
		return fail(EXIT_FAIL, "reading the deny list: %s (nothing changed)", strerror(-r));
	if (live->n_op)
		qsort(live->op, live->n_op, sizeof(live->op[0]), key_cmp);
	if (!a->force && live->own && z->prefixes < (live->own + 1) / 2)
		return fail(EXIT_FAIL, "zone %s: %zu prefixes where its last load has %zu: refused, it lost more "
			    "than half (a truncated download?); --force loads it (nothing changed)", a->name,
			    z->prefixes, live->own);
	total = live->n_op + z->prefixes + live->others;
	if (total > list_capacity(MG_LIST_DENY))
		return fail(EXIT_FAIL, "zone %s: the deny list would hold %zu entries (%zu from this file, %zu "
			    "operator entries, %zu from other files), more than its capacity %u (nothing changed)",
			    a->name, total, z->prefixes, live->n_op, live->others, list_capacity(MG_LIST_DENY));
	return 0;
}

/* How many of the previous load's entries the new file has (for the report
 * only: "removed"), in key order so that the binary search stays in the
 * cache; on a thread of its own while the new set is built */
struct kept_count {
	struct live *live;
	const struct zone_data *z;
};

static void *count_kept(void *arg)
{
	struct kept_count *c = arg;
	struct live *l = c->live;

	qsort(l->own_keys, l->own, sizeof(l->own_keys[0]), key_cmp);
	for (size_t i = 0; i < l->own; i++)
		l->own_kept += zone_has_key(c->z, &l->own_keys[i]);
	return NULL;
}

/* The new deny set beside the live one, in the order of precedence, the
 * strongest last (it overwrites): other files' entries, this file's, the
 * operator's; then the switch. 0, else the exit code (nothing changed). */
static int load_build(struct gate *g, const struct load_args *a, const struct zone_data *z,
		      struct live *live, struct load_result *res)
{
	struct list_build b = { .fd = -1 };
	struct batch *bt = calloc(1, sizeof(*bt));
	int r, rc = EXIT_FAIL;

	if (!bt)
		return fail(EXIT_FAIL, "out of memory (nothing changed)");
	r = list_build_start(MG_LIST_DENY, live->n_op + z->prefixes + live->others, &b);
	if (r) {
		rc = fail(EXIT_FAIL, "cannot create a deny set: %s (nothing changed)", strerror(-r));
		goto out;
	}
	bt->b = &b;
	live->bt = bt;
	r = live->others ? list_walk(g, MG_LIST_DENY, live_others, live) : 0;
	batch_flush(bt);
	res->others = b.n;
	if (!r && !bt->err)
		file_entries(bt, z, live, a->ttl ? live->now + a->ttl : 0, live->set, &res->kept);
	batch_flush(bt);
	res->loaded = b.n - res->others;
	r = r ?: bt->err ?: list_build_add(&b, live->op, live->opv, live->n_op);
	if (r) {
		rc = fail(EXIT_FAIL, "building the new deny set: %s%s (nothing changed)", strerror(-r),
			  r == -E2BIG ? " (deny list full)" : "");
		goto out;
	}
	res->t[3] = now_boot_ns();
	r = list_build_publish(g, &b);
	if (r) {
		rc = fail(EXIT_FAIL, "switching to the new deny set: %s (nothing changed)", strerror(-r));
		goto out;
	}
	res->t[4] = now_boot_ns();
	rc = EXIT_OK;
out:
	list_build_abort(&b);
	free(bt);
	return rc;
}

static void load_print(const struct load_args *a, const struct zone_data *z, const struct live *live,
		       const struct load_result *res, struct json_object *bad)
{
	size_t entries = res->others + res->loaded + live->n_op;
	struct json_object *d;

	if (!opts.json) {
		printf("zone %s: %zu prefixes (%zu exclusions) from %zu lines; %zu bad lines, %zu duplicates\n",
		       a->name, z->prefixes, z->excluded, z->lines, z->bad, z->dups);
		printf("  loaded %zu, removed %zu of the previous load, kept %zu operator entries; deny list "
		       "now %zu entries, switched in one step; total %.2f s\n", res->loaded,
		       live->own - live->own_kept, res->kept, entries, secs(res->t[0], res->t[4]));
		return;
	}
	d = json_object_new_object();
	json_object_object_add(d, "file", json_object_new_string(a->file));
	json_object_object_add(d, "name", json_object_new_string(a->name));
	json_object_object_add(d, "lines", json_object_new_int64(z->lines));
	json_object_object_add(d, "prefixes", json_object_new_int64(z->prefixes));
	json_object_object_add(d, "ranges", json_object_new_int64(z->nr));
	json_object_object_add(d, "exclusions", json_object_new_int64(z->excluded));
	json_object_object_add(d, "loaded", json_object_new_int64(res->loaded));
	json_object_object_add(d, "previous", json_object_new_int64(live->own));
	json_object_object_add(d, "kept_operator_entries", json_object_new_int64(res->kept));
	json_object_object_add(d, "removed", json_object_new_int64(live->own - live->own_kept));
	json_object_object_add(d, "duplicates", json_object_new_int64(z->dups));
	json_object_object_add(d, "bad_lines", json_object_new_int64(z->bad));
	json_object_object_add(d, "bad", json_object_get(bad));
	json_object_object_add(d, "entries", json_object_new_int64(entries));
	json_object_object_add(d, "ttl_s", json_object_new_int64(a->ttl / NSEC_PER_SEC));
	json_object_object_add(d, "parse_s", json_object_new_double(secs(res->t[0], res->t[1])));
	json_object_object_add(d, "read_s", json_object_new_double(secs(res->t[1], res->t[2])));
	json_object_object_add(d, "update_s", json_object_new_double(secs(res->t[2], res->t[3])));
	json_object_object_add(d, "switch_s", json_object_new_double(secs(res->t[3], res->t[4])));
	json_object_object_add(d, "total_s", json_object_new_double(secs(res->t[0], res->t[4])));
	json_out(d);
}

static int zone_load(int argc, char **argv)
{
	struct load_args a = { .type = ZT_AUTO };
	struct load_result res = {};
	struct bad_ctx bad = {};
	struct zone_data z = {};
	struct live live = {};
	struct gate g = {};
	struct live_walk cw = { .g = &g, .live = &live };
	int lock = -1, walked = 1, rc = load_parse_args(argc, argv, &a);
	bool walking = false;
	pthread_t wt;

	if (rc >= 0)
		goto out;
	if (gate_open_pinned(&g, opts.pin_dir)) {
		rc = fail(EXIT_FAIL, "no deny list pinned under %s (is mailgate running? --pin-dir?): %s",
			  opts.pin_dir, strerror(errno));
		goto out;
	}
	bad.file = a.file;
	if (opts.json)
		bad.list = json_object_new_array();
	res.t[0] = now_boot_ns();
	live.set = set_id(a.name);
	live.now = res.t[0];
	/* what is there now, under the list lock: operator entries win over
	 * the file's, other files' entries stay, our earlier load goes. A
	 * regular file is parsed under the lock, the live set walked meanwhile
	 * (a pipe may take as long as its download: it is read first) */
	if (is_regular(a.file)) {
		lock = list_lock(&g);
		if (lock < 0) {
			rc = fail(EXIT_FAIL, "cannot lock the lists under %s: %s", opts.pin_dir, strerror(-lock));
			goto out;
		}
		walking = !pthread_create(&wt, NULL, live_walk, &cw);
	}
	rc = load_read(&a, &z, &bad);
	res.t[1] = now_boot_ns();
	if (walking) {
		pthread_join(wt, NULL);
		walked = cw.err;
	}
	if (rc)
		goto out;
	if (lock < 0)
		lock = list_lock(&g);
	if (lock < 0) {
		rc = fail(EXIT_FAIL, "cannot lock the lists under %s: %s", opts.pin_dir, strerror(-lock));
		goto out;
	}
	rc = load_census(&g, &a, &z, &live, walked);
	res.t[2] = now_boot_ns();
	if (!rc) {
		struct kept_count kc = { .live = &live, .z = &z };
		pthread_t t;
		bool threaded = live.own && !pthread_create(&t, NULL, count_kept, &kc);

		if (live.own && !threaded)
			count_kept(&kc);
		rc = load_build(&g, &a, &z, &live, &res);
		if (threaded)
			pthread_join(t, NULL);
	}
	if (!rc)
		load_print(&a, &z, &live, &res, bad.list);
out:
	list_unlock(lock);
	json_object_put(bad.list);
	gate_close(&g);
	zone_data_free(&z);
	free(live.op);
	free(live.opv);
	free(live.own_keys);
	free(a.namebuf);
	return rc;
}

/* ---- export ---- */

struct out_ent {
	struct mg_lpm_key key;
	uint32_t value;
	uint32_t excl;
};

/* the active entries to export, in any order */
struct export {
	struct out_ent *e;
	size_t n, cap, n_ban;
	size_t n4;         /* the first n4 (once collected) are IPv4 */
	uint64_t now;
	int ban_fd;        /* walking mg_ban_quota: mg_ban, whose active bans were written already */
};

static struct out_ent *export_add(struct export *x)
{
	if (x->n == x->cap) {
		size_t cap = x->cap ? 2 * x->cap : 4096;
		struct out_ent *e = realloc(x->e, cap * sizeof(*e));

		if (!e)
			return NULL;
		x->e = e;
		x->cap = cap;
	}
	return &x->e[x->n++];
}

static int export_deny(const void *key, const void *value, void *ctx)
{
	const struct mg_rule *ru = value;
	struct export *x = ctx;
	struct out_ent *e;

	if (ru->expires_ns && ru->expires_ns <= x->now)
		return 0;
	e = export_add(x);
	if (!e)
		return -ENOMEM;
	memcpy(&e->key, key, sizeof(e->key));
	e->excl = !!(ru->flags & MG_RULE_EXCLUDE);
	e->value = ru->value ? ru->value : EXPORT_DENY_VALUE;
	return 0;
}

static int export_ban(const void *key, const void *value, void *ctx)
{
	const struct mg_ban *b = value;
	struct export *x = ctx;
	struct out_ent *e;

	struct mg_ban op;

	if (b->expires_ns && b->expires_ns <= x->now)
		return 0;
	if (x->ban_fd >= 0 && !bpf_map_lookup_elem(x->ban_fd, key, &op) && (!op.expires_ns || op.expires_ns > x->now))
		return 0;
	e = export_add(x);
	if (!e)
		return -ENOMEM;
	e->key.prefixlen = 128;
	memcpy(e->key.a, key, 16);
	e->excl = 0;
	e->value = EXPORT_BAN_VALUE;
	x->n_ban++;
	return 0;
}

static int out_cmp(const void *x, const void *y)
{
	const struct out_ent *a = x, *b = y;
	bool a4 = addr_is_v4((const struct mg_addr *)a->key.a) && a->key.prefixlen >= 96;
	bool b4 = addr_is_v4((const struct mg_addr *)b->key.a) && b->key.prefixlen >= 96;

	if (a4 != b4)
		return a4 ? -1 : 1;
	return zone_key_cmp(&a->key, &b->key);
}

static void write_entry(FILE *f, const struct out_ent *e)
{
	char buf[MG_ADDRSTRLEN + 8];
	struct mg_addr a;

	memcpy(a.a, e->key.a, 16);
	if (addr_is_v4(&a) && e->key.prefixlen >= 96) {
		inet_ntop(AF_INET, &a.a[12], buf, sizeof(buf));
		fprintf(f, "%s%s/%u", e->excl ? "!" : "", buf, e->key.prefixlen - 96);
	} else {
		inet_ntop(AF_INET6, a.a, buf, sizeof(buf));
		fprintf(f, "%s%s/%u", e->excl ? "!" : "", buf, e->key.prefixlen);
	}
	if (!e->excl)
		fprintf(f, " :%u.%u.%u.%u:", e->value >> 24, (e->value >> 16) & 255, (e->value >> 8) & 255,
			e->value & 255);
	fputc('\n', f);
}

struct zone_export_opts {
	int family; /* zone_families[]: 0 IPv4, 1 IPv6; -1 both */
};

static const char *const zone_families[] = { "4", "6", NULL };

static const struct cli_opt zone_export_table[] = {
	CLI_ENUM("family", 0, struct zone_export_opts, family, zone_families, "IPv4 or IPv6 entries only",
		 "zone export: --family '%s': 4 or 6", .arg = "4|6"),
	CLI_END
};
const struct cli_cmd cli_zone_export = { "zone export", "FILE|-", "write the deny list's zone entries as an rbldnsd file",
					 zone_export_table };

/* argv[0] is "export": CLI_GO (-1) to go on, else the exit code; *fam 0, 4 or 6 */
static int export_parse_args(int argc, char **argv, const char **file, int *fam)
{
	struct zone_export_opts o = { .family = -1 };
	int rc, npos;

	rc = cli_parse(&cli_zone_export, argc, argv, &o, &npos);
	if (rc != CLI_GO)
		return rc;
	if (npos > 1)
		return fail(EXIT_USAGE, "zone export: one file only ('%s')", argv[2]);
	if (!npos)
		return fail(EXIT_USAGE, "zone export: no file given (try 'mailgate zone export --help')");
	*file = argv[1];
	*fam = o.family < 0 ? 0 : o.family ? 6 : 4;
	return CLI_GO;
}

/* The active deny entries and bans into x, IPv4 first, each in key order:
 * 0, else the exit code */
static int export_collect(struct gate *g, struct export *x)
{
	int r = list_walk(g, MG_LIST_DENY, export_deny, x);

	if (r)
		return fail(EXIT_FAIL, "reading the deny list: %s", strerror(-r));
	x->ban_fd = -1;
	r = map_walk(g->fd[GM_BAN], export_ban, x);
	x->ban_fd = g->fd[GM_BAN];
	if (!r)
		r = map_walk(g->fd[GM_BAN_QUOTA], export_ban, x);
	if (r)
		return fail(EXIT_FAIL, "reading the bans: %s", strerror(-r));
	qsort(x->e, x->n, sizeof(*x->e), out_cmp);
	for (size_t i = 0; i < x->n; i++)
		x->n4 += addr_is_v4((struct mg_addr *)x->e[i].key.a) && x->e[i].key.prefixlen >= 96;
	return 0;
}

/* the rbldnsd file: a header, then the family's sections */
static void export_body(FILE *f, const struct export *x, int fam)
{
	time_t t = time(NULL);
	char when[64];

	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
	fprintf(f, "# mailgate zone export %s: deny list (value, default 127.0.0.2) and bans (127.0.0.3)\n", when);
	if (x->n_ban)
		fprintf(f, "# bans carry no time left here: 'mailgate zone load' makes them permanent deny entries\n");
	if (!fam)
		fprintf(f, "# rbldnsd dataset type: combined (ZONE:combined:FILE)\n");
	else
		fprintf(f, "# rbldnsd dataset type: %s\n", fam == 4 ? "ip4trie" : "ip6trie");
	if (!fam)
		fprintf(f, "$DATASET ip4trie @\n");
	for (size_t i = 0; fam != 6 && i < x->n4; i++)
		write_entry(f, &x->e[i]);
	if (!fam)
		fprintf(f, "$DATASET ip6trie @\n");
	for (size_t i = x->n4; fam != 4 && i < x->n; i++)
		write_entry(f, &x->e[i]);
}

/* FILE (a temporary name renamed over it: an rbldnsd reloading never sees
 * half a file) or standard output: 0, else the exit code */
static int export_write(const char *file, const struct export *x, int fam)
{
	char tmp[PATH_MAX];
	FILE *f;
	int tfd;

	if (!strcmp(file, "-")) {
		export_body(stdout, x, fam);
		fflush(stdout);
		return 0;
	}
	snprintf(tmp, sizeof(tmp), "%s.XXXXXX", file);
	tfd = mkstemp(tmp);
	if (tfd < 0 || !(f = fdopen(tfd, "w"))) {
		if (tfd >= 0) {
			close(tfd);
			unlink(tmp);
		}
		return fail(EXIT_FAIL, "cannot write %s: %s", file, strerror(errno));
	}
	fchmod(tfd, 0644);
	export_body(f, x, fam);
	if (fflush(f) || fsync(fileno(f)) || fclose(f) || rename(tmp, file)) {
		int e = errno;

		unlink(tmp);
		return fail(EXIT_FAIL, "cannot write %s: %s", file, strerror(e));
	}
	return 0;
}

static void export_print(const char *file, const struct export *x, int fam)
{
	size_t written = fam == 4 ? x->n4 : fam == 6 ? x->n - x->n4 : x->n;
	struct json_object *d;

	if (!strcmp(file, "-"))
		return; /* the file went to standard output */
	if (!opts.json) {
		printf("exported %zu entries (%zu IPv4, %zu IPv6; %zu of them bans) to %s\n", written, x->n4,
		       x->n - x->n4, x->n_ban, file);
		return;
	}
	d = json_object_new_object();
	json_object_object_add(d, "file", json_object_new_string(file));
	json_object_object_add(d, "entries", json_object_new_int64(written));
	json_object_object_add(d, "bans", json_object_new_int64(x->n_ban));
	json_object_object_add(d, "ipv4", json_object_new_int64(x->n4));
	json_object_object_add(d, "ipv6", json_object_new_int64(x->n - x->n4));
	json_out(d);
}

static int zone_export(int argc, char **argv)
{
	struct export x = { .now = now_boot_ns() };
	const char *file = NULL;
	struct gate g = {};
	int fam = 0, rc = export_parse_args(argc, argv, &file, &fam);

	if (rc >= 0)
		return rc;
	if (gate_open_pinned(&g, opts.pin_dir)) {
		rc = fail(EXIT_FAIL, "no data path pinned under %s (is mailgate running? --pin-dir?): %s",
			  opts.pin_dir, strerror(errno));
		goto out;
	}
	rc = export_collect(&g, &x);
	rc = rc ?: export_write(file, &x, fam);
	if (!rc)
		export_print(file, &x, fam);
out:
	gate_close(&g);
	free(x.e);
	return rc;
}

int do_zone(int argc, char **argv)
{
	static const struct cli_cmd *const subs[] = { &cli_zone_load, &cli_zone_export };
	int which, rc = cli_sub("zone", subs, 2, argc, argv, &which);

	if (rc != CLI_GO)
		return rc;
	return which == 0 ? zone_load(argc - 1, argv + 1) : zone_export(argc - 1, argv + 1);
}
