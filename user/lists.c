// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* `mailgate allow|deny|ban add|del|list`: the allow and deny lists (sets of
 * prefixes, user/listset.c; changes hold the lists lock) and the bans (per address), changed from any process
 * on the pinned maps.
 *
 * Input is all-or-nothing: every value is checked before the first map
 * update, and a map update that fails half way is rolled back. `del` of an
 * entry that is not there changes nothing and exits 1.
 *
 * Bans live in two maps (include/gate.h): `ban add` writes the operator map
 * mg_ban, which nothing evicts and which refuses an entry when full;
 * `ban del` and `ban list` cover it and the data path's mg_ban_quota. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <json-c/json.h>
#include "listset.h"
#include "cli.h"

enum list_kind { LIST_ALLOW, LIST_DENY, LIST_BAN };

static const struct list_desc {
	const char *name;    /* command and list name */
	const char *what;    /* what an item is */
	enum gate_map map;
} lists[] = {
	[LIST_ALLOW] = { "allow", "CIDR", GM_ALLOW },
	[LIST_DENY] = { "deny", "CIDR", GM_DENY },
	[LIST_BAN] = { "ban", "address", GM_BAN },
};

/* one item of the command line: the key, and what was there before */
struct item {
	const char *arg;
	union {
		struct mg_lpm_key lpm;
		struct mg_addr addr;
	} key;
	bool had_old;
	union {
		struct mg_rule rule;
		struct mg_ban ban;
	} old;
	bool had_quota;          /* bans: what mg_ban_quota held */
	struct mg_ban old_quota;
};

static bool is_list(enum gate_map map)
{
	return map == GM_ALLOW || map == GM_DENY;
}

static enum mg_list list_of_map(enum gate_map map)
{
	return map == GM_ALLOW ? MG_LIST_ALLOW : MG_LIST_DENY;
}

static int parse_items(const struct list_desc *l, int n, char **args, struct item *items)
{
	for (int i = 0; i < n; i++) {
		items[i].arg = args[i];
		if (l == &lists[LIST_BAN]) {
			if (strchr(args[i], '/') && !parse_cidr(args[i], &items[i].key.lpm))
				return fail(EXIT_USAGE, "ban: '%s' is a prefix; bans take addresses "
					    "(use `mailgate deny add` for prefixes)", args[i]);
			if (parse_addr(args[i], &items[i].key.addr))
				return fail(EXIT_USAGE, "%s: bad address '%s' (expected an IPv4 or IPv6 address)",
					    l->name, args[i]);
		} else if (parse_cidr(args[i], &items[i].key.lpm)) {
			return fail(EXIT_USAGE, "%s: bad CIDR '%s' (expected ADDR[/LEN] with the host bits zero, "
				    "e.g. 192.0.2.0/24 or 2001:db8::/32)", l->name, args[i]);
		}
	}
	return 0;
}

static void read_old(const struct list_desc *l, struct gate *g, struct item *it)
{
	int fd = g->fd[l->map];

	if (l == &lists[LIST_BAN]) {
		it->had_old = !bpf_map_lookup_elem(fd, &it->key.addr, &it->old.ban);
		it->had_quota = !bpf_map_lookup_elem(g->fd[GM_BAN_QUOTA], &it->key.addr, &it->old_quota);
	} else {
		it->had_old = !list_get(g, list_of_map(l->map), &it->key.lpm, &it->old.rule);
	}
}

/* undo items[0..n): restore what was there, delete what was not (bans:
 * quota: in mg_ban_quota too) */
static void roll_back(struct gate *g, enum gate_map map, struct item *items, int n, bool quota)
{
	int fd = g->fd[map];

	while (n-- > 0) {
		if (is_list(map) && items[n].had_old)
			list_put(g, list_of_map(map), &items[n].key.lpm, &items[n].old.rule);
		else if (is_list(map))
			list_del(g, list_of_map(map), &items[n].key.lpm);
		else if (items[n].had_old)
			bpf_map_update_elem(fd, &items[n].key, &items[n].old, BPF_ANY);
		else
			bpf_map_delete_elem(fd, &items[n].key);
		if (quota && items[n].had_quota)
			bpf_map_update_elem(g->fd[GM_BAN_QUOTA], &items[n].key, &items[n].old_quota, BPF_ANY);
	}
}

/* "mg_ban is full (262144 entries)" for a full map, else "" */
static const char *full_note(struct gate *g, enum gate_map map, int err, char *buf, size_t len)
{
	uint32_t cap = 0;

	buf[0] = 0;
	if (err != -ENOSPC && err != -E2BIG)
		return buf;
	if (is_list(map))
		cap = list_capacity(list_of_map(map));
	else
		map_count(g->fd[map], &cap);
	snprintf(buf, len, " (%s is full: its capacity is %u entries)", gate_map_names[map], cap);
	return buf;
}

static const char *item_str(const struct list_desc *l, const struct item *it, char *buf, size_t len)
{
	return l == &lists[LIST_BAN] ? format_addr(&it->key.addr, buf, len)
				     : format_cidr(&it->key.lpm, buf, len);
}

static void report(const struct list_desc *l, const char *verb, struct item *items, int n,
		   uint64_t ttl_ns)
{
	char buf[MG_ADDRSTRLEN + 8], d[32];

	if (opts.json) {
		struct json_object *o = json_object_new_object(), *a = json_object_new_array();

		json_object_object_add(o, "list", json_object_new_string(l->name));
		json_object_object_add(o, "action", json_object_new_string(verb));
		json_object_object_add(o, "count", json_object_new_int(n));
		for (int i = 0; i < n; i++)
			json_object_array_add(a, json_object_new_string(item_str(l, &items[i], buf, sizeof(buf))));
		json_object_object_add(o, "entries", a);
		if (!strcmp(verb, "add"))
			json_object_object_add(o, "expires_in_s",
					       ttl_ns ? json_object_new_int64(ttl_ns / NSEC_PER_SEC) : NULL);
		json_out(o);
		return;
	}
	/* a summary: stderr, so that stdout stays for entries */
	fprintf(stderr, "%s %s: ", l->name, !strcmp(verb, "add") ? "added" : "deleted");
	for (int i = 0; i < n && i < 10; i++)
		fprintf(stderr, "%s%s", i ? ", " : "", item_str(l, &items[i], buf, sizeof(buf)));
	if (n > 10)
		fprintf(stderr, " and %d more", n - 10);
	if (!strcmp(verb, "add"))
		fprintf(stderr, " (%s)", ttl_ns ? (snprintf(buf, sizeof(buf), "expires in %s",
							   format_duration(ttl_ns, d, sizeof(d))), buf) : "never expires");
	fputc('\n', stderr);
}

static int do_add(const struct list_desc *l, struct gate *g, struct item *items, int n, uint64_t ttl_ns)
{
	int fd = g->fd[l->map], err;
	uint64_t now = now_boot_ns();
	char buf[MG_ADDRSTRLEN + 8], full[96];

	for (int i = 0; i < n; i++)
		read_old(l, g, &items[i]);
	for (int i = 0; i < n; i++) {
		if (l == &lists[LIST_BAN]) {
			struct mg_ban b = { .expires_ns = ttl_ns ? now + ttl_ns : 0, .created_ns = now,
					    .origin = MG_ORIGIN_CLI };

			err = bpf_map_update_elem(fd, &items[i].key.addr, &b, BPF_ANY) ? -errno : 0;
		} else {
			struct mg_rule r = { .expires_ns = ttl_ns ? now + ttl_ns : 0,
					     .prefixlen = items[i].key.lpm.prefixlen, .origin = MG_ORIGIN_CLI };

			err = list_put(g, list_of_map(l->map), &items[i].key.lpm, &r);
		}
		if (err) {
			roll_back(g, l->map, items, i, false);
			return fail(EXIT_FAIL, "%s add: cannot add %s: %s%s (nothing added)", l->name,
				    item_str(l, &items[i], buf, sizeof(buf)), strerror(-err),
				    full_note(g, l->map, err, full, sizeof(full)));
		}
	}
	report(l, "add", items, n, ttl_ns);
	return EXIT_OK;
}

static int do_del(const struct list_desc *l, struct gate *g, struct item *items, int n)
{
	int fd = g->fd[l->map];
	bool ban = l == &lists[LIST_BAN];
	char buf[MG_ADDRSTRLEN + 8];

	for (int i = 0; i < n; i++) {
		read_old(l, g, &items[i]);
		if (!items[i].had_old && !items[i].had_quota)
			return fail(EXIT_FAIL, "%s del: %s is not in the %s list (nothing deleted)", l->name,
				    item_str(l, &items[i], buf, sizeof(buf)), l->name);
	}
	for (int i = 0; i < n; i++) {
		int derr = is_list(l->map) ? list_del(g, list_of_map(l->map), &items[i].key.lpm)
					   : bpf_map_delete_elem(fd, &items[i].key) ? -errno : 0;

		if ((derr && derr != -ENOENT) ||
		    (ban && bpf_map_delete_elem(g->fd[GM_BAN_QUOTA], &items[i].key) && errno != ENOENT)) {
			int err = derr && derr != -ENOENT ? derr : -errno;

			roll_back(g, l->map, items, i + 1, ban);
			return fail(EXIT_FAIL, "%s del: cannot delete %s: %s (nothing deleted)", l->name,
				    item_str(l, &items[i], buf, sizeof(buf)), strerror(-err));
		}
	}
	report(l, "del", items, n, 0);
	return EXIT_OK;
}

/* ---- list ---- */
struct row {
	union {
		struct mg_lpm_key lpm;
		struct mg_addr addr;
	} key;
	union {
		struct mg_rule rule;
		struct mg_ban ban;
	} val;
};

static int row_cmp(const void *pa, const void *pb)
{
	const struct row *a = pa, *b = pb;
	struct mg_addr x, y;
	int c;

	memcpy(x.a, a->key.lpm.a, 16);
	memcpy(y.a, b->key.lpm.a, 16);
	/* IPv4 first, then by address, then shorter prefixes first */
	if (addr_is_v4(&x) != addr_is_v4(&y))
		return addr_is_v4(&x) ? -1 : 1;
	c = memcmp(x.a, y.a, 16);
	if (c)
		return c;
	return a->key.lpm.prefixlen < b->key.lpm.prefixlen ? -1 : a->key.lpm.prefixlen > b->key.lpm.prefixlen;
}

static int ban_cmp(const void *pa, const void *pb)
{
	const struct row *a = pa, *b = pb;

	int c;

	if (addr_is_v4(&a->key.addr) != addr_is_v4(&b->key.addr))
		return addr_is_v4(&a->key.addr) ? -1 : 1;
	c = memcmp(a->key.addr.a, b->key.addr.a, 16);
	if (c)
		return c;
	/* one address may have an operator ban and a quota ban */
	return a->val.ban.origin < b->val.ban.origin ? -1 : a->val.ban.origin > b->val.ban.origin;
}

/* copy the map into rows, sorted, without duplicates from a changing map */
static int load_rows(const struct list_desc *l, struct gate *g, struct row **out, size_t *n)
{
	bool ban = l == &lists[LIST_BAN];
	size_t ksz = ban ? sizeof(struct mg_addr) : sizeof(struct mg_lpm_key);
	size_t vsz = ban ? sizeof(struct mg_ban) : sizeof(struct mg_rule);
	int (*cmp)(const void *, const void *) = ban ? ban_cmp : row_cmp;
	struct map_dump d[2];
	struct row *rows;
	size_t m = 0, total = 0;
	int nd = ban ? 2 : 1, err = 0;

	memset(d, 0, sizeof(d));
	for (int j = 0; j < nd && !err; j++) {
		if (is_list(l->map)) {
			int fd = list_live_fd(g, list_of_map(l->map));

			if (fd == -ENOENT) /* never had an entry */
				continue;
			err = fd < 0 ? fd : map_dump(fd, &d[j]);
			if (fd >= 0)
				close(fd);
		} else {
			err = map_dump(g->fd[j ? GM_BAN_QUOTA : l->map], &d[j]);
		}
		if (!err && (d[j].key_size != ksz || d[j].val_size != vsz))
			err = -EPROTO;
		total += d[j].n;
	}
	rows = err ? NULL : calloc(total ? total : 1, sizeof(*rows));
	if (!err && !rows)
		err = -ENOMEM;
	for (int j = 0; j < nd && !err; j++) {
		for (size_t i = 0; i < d[j].n; i++, m++) {
			memcpy(&rows[m].key, (uint8_t *)d[j].keys + i * ksz, ksz);
			memcpy(&rows[m].val, (uint8_t *)d[j].vals + i * vsz, vsz);
		}
	}
	for (int j = 0; j < nd; j++)
		map_dump_free(&d[j]);
	if (err)
		return err;
	qsort(rows, total, sizeof(*rows), cmp);
	m = 0;
	for (size_t i = 0; i < total; i++)
		if (!m || cmp(&rows[m - 1], &rows[i]))
			rows[m++] = rows[i];
	*out = rows;
	*n = m;
	return 0;
}

/* an exclusion ('!' in an rbldnsd zone, MG_RULE_EXCLUDE): "not denied" */
static bool row_excluded(const struct list_desc *l, const struct row *r)
{
	return l == &lists[LIST_DENY] && (r->val.rule.flags & MG_RULE_EXCLUDE);
}

/* the list's key as shown: an address, a prefix, "!prefix" for an exclusion
 * (as `zone export` writes it) */
static const char *row_str(const struct list_desc *l, const struct row *r, char *buf, size_t len)
{
	if (l == &lists[LIST_BAN])
		return format_addr(&r->key.addr, buf, len);
	if (row_excluded(l, r) && len > 1) {
		buf[0] = '!';
		format_cidr(&r->key.lpm, buf + 1, len - 1);
		return buf;
	}
	return format_cidr(&r->key.lpm, buf, len);
}

/* An entry as a JSON object, written directly, the keys in the order and
 * form json-c wrote them (JSON_C_TO_STRING_PLAIN, no slash escapes): its
 * strings are addresses, prefixes and origin names, nothing to escape.
 * Building a json-c object per entry cost 4.5 us, 18 s for 4M entries. */
static void row_print(FILE *f, const struct list_desc *l, const struct row *r, uint64_t now)
{
	char buf[MG_ADDRSTRLEN + 8];
	uint64_t exp;

	if (l == &lists[LIST_BAN]) {
		exp = r->val.ban.expires_ns;
		fprintf(f, "{\"address\":\"%s\",\"origin\":\"%s\",\"level\":%u,\"age_s\":%lld",
			format_addr(&r->key.addr, buf, sizeof(buf)), origin_name(r->val.ban.origin),
			(unsigned)r->val.ban.level,
			(long long)(now > r->val.ban.created_ns ? (now - r->val.ban.created_ns) / NSEC_PER_SEC : 0));
	} else {
		exp = r->val.rule.expires_ns;
		fprintf(f, "{\"cidr\":\"%s\",\"origin\":\"%s\"", format_cidr(&r->key.lpm, buf, sizeof(buf)),
			origin_name(r->val.rule.origin));
		if (l == &lists[LIST_DENY])
			fprintf(f, ",\"exclude\":%s", row_excluded(l, r) ? "true" : "false");
		if (r->val.rule.value) {
			uint32_t v = r->val.rule.value;

			fprintf(f, ",\"value\":\"%u.%u.%u.%u\"", v >> 24, (v >> 16) & 255, (v >> 8) & 255, v & 255);
		}
	}
	fprintf(f, ",\"active\":%s,\"expires_in_s\":", !exp || exp > now ? "true" : "false");
	if (exp)
		fprintf(f, "%lld}", (long long)(((int64_t)exp - (int64_t)now) / (int64_t)NSEC_PER_SEC));
	else
		fputs("null}", f);
}

/* A list can hold millions of prefixes: the JSON document is written one
 * entry at a time (row_print) instead of as one tree. */
static void list_json(const struct list_desc *l, const struct row *rows, size_t n, bool all, uint64_t now)
{
	struct json_object *head = json_object_new_object();
	const char *h;
	size_t shown = 0;
	bool first = true;

	for (size_t i = 0; i < n; i++) {
		uint64_t exp = l == &lists[LIST_BAN] ? rows[i].val.ban.expires_ns : rows[i].val.rule.expires_ns;

		shown += all || !exp || exp > now;
	}
	json_object_object_add(head, "list", json_object_new_string(l->name));
	json_object_object_add(head, "count", json_object_new_int64(shown));
	h = json_object_to_json_string_ext(head, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	printf("%.*s,\"entries\":[", (int)strlen(h) - 1, h); /* the head without its closing brace */
	json_object_put(head);
	for (size_t i = 0; i < n; i++) {
		uint64_t exp = l == &lists[LIST_BAN] ? rows[i].val.ban.expires_ns : rows[i].val.rule.expires_ns;

		if (!all && exp && exp <= now)
			continue;
		fputs(first ? "\n" : ",\n", stdout);
		row_print(stdout, l, &rows[i], now);
		first = false;
	}
	printf("\n]}\n");
}

static void list_human(const struct list_desc *l, const struct row *rows, size_t n, bool all, uint64_t now)
{
	bool ban = l == &lists[LIST_BAN];
	char a[MG_ADDRSTRLEN + 8], e[48], c[48], lv[16], d[32];
	int w = ban ? 7 : 6; /* "ADDRESS" / "PREFIX" */
	size_t shown = 0, hidden = 0;
	bool excluded = false;

	for (size_t i = 0; i < n; i++) {
		int len = (int)strlen(row_str(l, &rows[i], a, sizeof(a)));

		if (len > w)
			w = len;
	}
	for (size_t i = 0; i < n; i++) {
		uint64_t exp = ban ? rows[i].val.ban.expires_ns : rows[i].val.rule.expires_ns;

		if (!all && exp && exp <= now) {
			hidden++;
			continue;
		}
		if (!shown++) { /* the header: on stdout only for a terminal */
			FILE *hf = isatty(STDOUT_FILENO) ? stdout : stderr;

			if (ban)
				fprintf(hf, "%-*s  %-8s  %5s  %-10s  %s\n", w, "ADDRESS", "ORIGIN", "LEVEL", "BANNED", "EXPIRES");
			else
				fprintf(hf, "%-*s  %-8s  %s\n", w, "PREFIX", "ORIGIN", "EXPIRES");
			fflush(hf);
		}
		format_expiry(exp, now, e, sizeof(e));
		excluded |= row_excluded(l, &rows[i]);
		if (ban) {
			const struct mg_ban *b = &rows[i].val.ban;

			snprintf(lv, sizeof(lv), "%u", b->level);
			snprintf(c, sizeof(c), "%s ago", format_duration(now > b->created_ns ? now - b->created_ns : 0,
									 d, sizeof(d)));
			printf("%-*s  %-8s  %5s  %-10s  %s\n", w, row_str(l, &rows[i], a, sizeof(a)),
			       origin_name(b->origin), lv, c, e);
		} else {
			printf("%-*s  %-8s  %s\n", w, row_str(l, &rows[i], a, sizeof(a)),
			       origin_name(rows[i].val.rule.origin), e);
		}
	}
	/* notes go to stderr: stdout holds entries only (pipes) */
	if (!shown)
		fprintf(stderr, "the %s list is empty\n", l->name);
	if (excluded)
		fprintf(stderr, "(!PREFIX: an exclusion from a zone file; sources in it are not denied)\n");
	if (hidden)
		fprintf(stderr, "(%zu expired %s not shown%s)\n", hidden, hidden == 1 ? "entry" : "entries",
			ban ? "; --all shows them: they set the next ban's length" : "");
}

static int do_list(const struct list_desc *l, struct gate *g, bool all)
{
	struct row *rows;
	size_t n;
	int err = load_rows(l, g, &rows, &n);

	if (err)
		return fail(EXIT_FAIL, "%s list: cannot read %s: %s", l->name, gate_map_names[l->map], strerror(-err));
	if (opts.json)
		list_json(l, rows, n, all, now_boot_ns());
	else
		list_human(l, rows, n, all, now_boot_ns());
	free(rows);
	return EXIT_OK;
}

/* ---- del --all / del --origin ORIGIN ---- */
static int origin_parse(const char *s, uint32_t *out)
{
	for (uint32_t o = 0; o < MG_ORIGIN_MAX; o++)
		if (mg_origin_names[o] && !strcmp(s, mg_origin_names[o]))
			return *out = o, 0;
	return -EINVAL;
}

static uint32_t row_origin(const struct list_desc *l, const struct row *r)
{
	return l == &lists[LIST_BAN] ? r->val.ban.origin : r->val.rule.origin;
}

/* the map a row lives in: quota bans in mg_ban_quota, the rest in the list's */
static int row_fd(const struct list_desc *l, struct gate *g, int fd, const struct row *r)
{
	return l == &lists[LIST_BAN] && r->val.ban.origin == MG_ORIGIN_QUOTA ? g->fd[GM_BAN_QUOTA] : fd;
}

/* Every entry (--all) or those of one origin: all or nothing, as del of
 * named entries (a delete that fails puts the deleted ones back). */
static int del_matching_cmd(const struct list_desc *l, bool all, const char *origin_arg, int n,
			    char **args)
{
	char names[256] = "", buf[MG_ADDRSTRLEN + 8];
	uint32_t origin = 0;
	size_t nrows, done = 0, hit = 0;
	struct row *rows;
	struct gate g;
	int rc, fd, lock = -1;

	if (n)
		return fail(EXIT_USAGE, "%s del: give %ss or --all/--origin, not both ('%s')", l->name, l->what,
			    args[0]);
	if (origin_arg && origin_parse(origin_arg, &origin)) {
		for (uint32_t o = 0; o < MG_ORIGIN_MAX; o++)
			if (mg_origin_names[o])
				snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s",
					 names[0] ? ", " : "", mg_origin_names[o]);
		return fail(EXIT_USAGE, "%s del: unknown origin '%s' (expected one of %s)", l->name, origin_arg,
			    names);
	}
	rc = cli_open_gate(&g);
	if (rc)
		return rc;
	fd = g.fd[l->map];
	if (is_list(l->map)) { /* the live set, under the lists lock */
		lock = list_lock(&g);
		fd = lock < 0 ? lock : list_live_fd(&g, list_of_map(l->map));
		if (fd == -ENOENT) /* never had an entry: nothing to delete */
			fd = g.fd[l->map];
		else if (fd < 0)
			rc = fd;
	}
	rc = rc ?: load_rows(l, &g, &rows, &nrows);
	if (rc) {
		if (fd >= 0 && fd != g.fd[l->map])
			close(fd);
		list_unlock(lock);
		gate_close(&g);
		return fail(EXIT_FAIL, "%s del: cannot read %s: %s", l->name, gate_map_names[l->map], strerror(-rc));
	}
	for (size_t i = 0; i < nrows; i++) {
		if (!all && row_origin(l, &rows[i]) != origin)
			continue;
		rows[hit++] = rows[i];
	}
	for (; done < hit; done++) {
		if (bpf_map_delete_elem(row_fd(l, &g, fd, &rows[done]), &rows[done].key) && errno != ENOENT) {
			int err = -errno;

			for (size_t j = 0; j < done; j++)
				bpf_map_update_elem(row_fd(l, &g, fd, &rows[j]), &rows[j].key, &rows[j].val, BPF_NOEXIST);
			rc = fail(EXIT_FAIL, "%s del: cannot delete %s: %s (nothing deleted)", l->name,
				  row_str(l, &rows[done], buf, sizeof(buf)), strerror(-err));
			break;
		}
	}
	if (!rc) {
		if (opts.json) {
			struct json_object *o = json_object_new_object(), *a = json_object_new_array();

			json_object_object_add(o, "list", json_object_new_string(l->name));
			json_object_object_add(o, "action", json_object_new_string("del"));
			json_object_object_add(o, "origin", origin_arg ? json_object_new_string(origin_arg) : NULL);
			json_object_object_add(o, "count", json_object_new_int64(hit));
			for (size_t i = 0; i < hit; i++)
				json_object_array_add(a, json_object_new_string(row_str(l, &rows[i], buf, sizeof(buf))));
			json_object_object_add(o, "entries", a);
			json_out(o);
		} else {
			fprintf(stderr, "%s deleted: %zu %s%s%s\n", l->name, hit, hit == 1 ? "entry" : "entries",
				origin_arg ? " of origin " : "", origin_arg ? origin_arg : "");
		}
	}
	free(rows);
	if (fd >= 0 && fd != g.fd[l->map])
		close(fd);
	list_unlock(lock);
	gate_touch(&g); /* the daemon's state file follows */
	gate_close(&g);
	return rc;
}

/* the options of add, del and list (one table each) */
struct list_opts {
	uint64_t ttl_ns;    /* add --ttl; 0 = never expires */
	bool all;           /* list: also expired entries; del: every entry */
	const char *origin; /* del --origin */
};

static const struct cli_opt list_del_opts[] = {
	CLI_FLAG("all", 'a', struct list_opts, all, "delete every entry (all origins)"),
	CLI_STRING("origin", 0, "ORIGIN", struct list_opts, origin,
		   "delete every entry of this origin (cli, config, zone, quota, dnsbl, crowdsec)"),
	CLI_END
};
static const struct cli_opt list_list_opts[] = {
	CLI_FLAG("all", 'a', struct list_opts, all, "also the entries that ran out (until swept)"),
	CLI_END
};
#define LIST_CLI(L, WHAT, THING)									\
	static const struct cli_opt L##_add_opts[] = {							\
		CLI_DURATION("ttl", 't', "DUR", struct list_opts, ttl_ns, 1, 0,			\
			     "expire after DUR (30s, 10m, 1h, 1d; default never)",			\
			     #L " add: bad duration '%s' for --ttl (expected e.g. 30s, 10m, 1h, 1d; not 0)"), \
		CLI_END											\
	};												\
	static const struct cli_cmd L##_add = { #L " add", WHAT "...", "add " THING " (all or nothing)",	\
						L##_add_opts };							\
	static const struct cli_cmd L##_del = { #L " del", "[" WHAT "...]",				\
						"delete " THING " (all or nothing), or every one --all/--origin names", \
						list_del_opts };						\
	static const struct cli_cmd L##_list = { #L " list", NULL, "list " THING, list_list_opts };	\
	const struct cli_cmd *const cli_##L[3] = { &L##_add, &L##_del, &L##_list }
LIST_CLI(allow, "CIDR", "allow list entries");
LIST_CLI(deny, "CIDR", "deny list entries");
LIST_CLI(ban, "ADDR", "bans");

static int run_list_cmd(enum list_kind kind, const struct cli_cmd *const *subs, int argc, char **argv)
{
	const struct list_desc *l = &lists[kind];
	struct list_opts o = { 0 };
	const char *verb;
	struct item *items = NULL;
	struct gate g;
	int rc, n, which;

	rc = cli_sub(l->name, subs, 3, argc, argv, &which);
	if (rc != CLI_GO)
		return rc;
	verb = argv[1];
	argc--;
	argv++;
	rc = cli_parse(subs[which], argc, argv, &o, &n);
	if (rc != CLI_GO)
		return rc;
	argv++; /* the entries: argv[0 .. n) */
	if (!strcmp(verb, "del") && (o.all || o.origin))
		return del_matching_cmd(l, o.all, o.origin, n, argv);
	if (strcmp(verb, "list")) { /* list takes no argument (its table says so) */
		if (!n)
			return fail(EXIT_USAGE, "%s %s: no %s given", l->name, verb, l->what);
		items = calloc(n, sizeof(*items));
		if (!items)
			return fail(EXIT_FAIL, "out of memory");
		rc = parse_items(l, n, argv, items);
		if (rc) {
			free(items);
			return rc;
		}
	}

	rc = cli_open_gate(&g);
	if (rc) {
		free(items);
		return rc;
	}
	if (!strcmp(verb, "list")) {
		rc = do_list(l, &g, o.all);
	} else {
		int lock = kind == LIST_BAN ? -1 : list_lock(&g);

		if (lock < 0 && kind != LIST_BAN)
			rc = fail(EXIT_FAIL, "%s %s: cannot lock the lists under %s: %s", l->name, verb, g.pin_dir,
				  strerror(-lock));
		else if (!strcmp(verb, "add"))
			rc = do_add(l, &g, items, n, o.ttl_ns);
		else
			rc = do_del(l, &g, items, n);
		list_unlock(lock);
		gate_touch(&g); /* the daemon's state file follows */
	}
	gate_close(&g);
	free(items);
	return rc;
}

int do_allow(int argc, char **argv) { return run_list_cmd(LIST_ALLOW, cli_allow, argc, argv); }
int do_deny(int argc, char **argv) { return run_list_cmd(LIST_DENY, cli_deny, argc, argv); }
int do_ban(int argc, char **argv) { return run_list_cmd(LIST_BAN, cli_ban, argc, argv); }
