// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* `mailgate zone load FILE`: an rbldnsd data file into the deny list, in
 * batches, replacing what an earlier load of the same file put there without
 * a moment where neither set is enforced (new entries first, then the old
 * ones that are gone). `mailgate zone export FILE`: the bans and the deny
 * list as an rbldnsd file, for a fleet's own rbldnsd. */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
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

#define BATCH 16384
#define MAX_BAD_SHOWN 20
#define EXPORT_BAN_VALUE 0x7f000003u  /* bans answer 127.0.0.3 */
#define EXPORT_DENY_VALUE 0x7f000002u /* deny entries without a value: 127.0.0.2 */

struct rule_ent {
	struct mg_lpm_key key;
	struct mg_rule rule;
};

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

static int open_map(const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", opts.pin_dir, name);
	return bpf_obj_get(path);
}

struct rules {
	struct rule_ent *e;
	size_t n, cap;
};

static int add_rule(const void *key, const void *value, void *ctx)
{
	struct rules *r = ctx;

	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 65536;
		struct rule_ent *e = realloc(r->e, cap * sizeof(*e));

		if (!e)
			return -ENOMEM;
		r->e = e;
		r->cap = cap;
	}
	memcpy(&r->e[r->n].key, key, sizeof(r->e[0].key));
	memcpy(&r->e[r->n].rule, value, sizeof(r->e[0].rule));
	r->n++;
	return 0;
}

/* every entry of the deny list (keys with their rules) */
static int read_rules(int fd, struct rule_ent **out, size_t *n)
{
	struct rules r = {};
	struct bpf_map_info info;
	int err = map_info(fd, &info);

	if (!err && (info.key_size != sizeof(struct mg_lpm_key) || info.value_size != sizeof(struct mg_rule)))
		err = -EPROTO;
	if (!err)
		err = map_walk(fd, add_rule, &r);
	if (err) {
		free(r.e);
		r.e = NULL;
		r.n = 0;
	}
	*out = r.e;
	*n = r.n;
	return err;
}

static int rule_ent_cmp(const void *x, const void *y)
{
	return zone_key_cmp(&((const struct rule_ent *)x)->key, &((const struct rule_ent *)y)->key);
}

static const struct rule_ent *find_rule(const struct rule_ent *v, size_t n, const struct mg_lpm_key *k)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = zone_key_cmp(&v[mid].key, k);

		if (!c)
			return &v[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static bool find_entry(const struct zone_data *z, const struct mg_lpm_key *k)
{
	size_t lo = 0, hi = z->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = zone_key_cmp(&z->e[mid].key, k);

		if (!c)
			return true;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/* n updates, in batches when the kernel has them for this map (else one by one) */
static int update_rules(int fd, const struct mg_lpm_key *keys, const struct mg_rule *vals, size_t n,
			bool try_batch, bool *batched)
{
	LIBBPF_OPTS(bpf_map_batch_opts, o, .elem_flags = BPF_ANY);
	size_t i = 0;

	*batched = false;
	while (try_batch && i < n) {
		uint32_t cnt = n - i < BATCH ? n - i : BATCH;

		if (!bpf_map_update_batch(fd, keys + i, vals + i, &cnt, &o)) {
			i += cnt;
			*batched = true;
			continue;
		}
		if (i == 0 && (errno == EINVAL || errno == ENOTSUP || errno == EOPNOTSUPP || errno == 524))
			break; /* not for this map type: one by one */
		return -errno;
	}
	for (; i < n; i++)
		if (bpf_map_update_elem(fd, &keys[i], &vals[i], BPF_ANY))
			return -errno;
	return 0;
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

#define ZONE_LOAD_USAGE "usage: mailgate zone load FILE [--ttl DUR] [--type auto|ip4set|ip4trie|ip6trie] [--name NAME] [--no-batch]"
#define ZONE_EXPORT_USAGE "usage: mailgate zone export FILE|- [--family 4|6]"

static const struct option load_opts[] = {
	{ "ttl", required_argument, NULL, 't' },
	{ "type", required_argument, NULL, 'T' },
	{ "name", required_argument, NULL, 'n' },
	{ "no-batch", no_argument, NULL, 'B' },
	{ "help", no_argument, NULL, 'h' },
	{ 0 },
};

/* argv[0] is "zone load" */
static int zone_load(int argc, char **argv)
{
	const char *file = NULL, *name = NULL, *ttl_s = NULL, *type_s = "auto";
	struct bad_ctx bad = {};
	struct zone_data z = {};
	struct rule_ent *old = NULL;
	struct mg_lpm_key *keys = NULL;
	struct mg_rule *vals = NULL;
	enum zone_type type;
	uint64_t ttl = 0, t0, t1, t2, t3, t4, now;
	size_t n_old = 0, n = 0, kept = 0, removed = 0;
	bool try_batch = true, batched = false;
	char *namebuf = NULL;
	uint32_t set;
	int fd = -1, rc = EXIT_FAIL, r, opt;
	FILE *f = NULL;

	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":h", load_opts, NULL)) != -1) {
		switch (opt) {
		case 't':
			ttl_s = optarg;
			break;
		case 'T':
			type_s = optarg;
			break;
		case 'n':
			name = optarg;
			break;
		case 'B':
			try_batch = false;
			break;
		case 'h':
			printf("%s\n", ZONE_LOAD_USAGE);
			return EXIT_OK;
		default:
			return bad_option(opt, argv);
		}
	}
	if (optind < argc)
		file = argv[optind++];
	if (optind < argc)
		return fail(EXIT_USAGE, "zone load: one file only ('%s')", argv[optind]);
	if (!file)
		return fail(EXIT_USAGE, "%s", ZONE_LOAD_USAGE);
	if (ttl_s && (parse_duration(ttl_s, &ttl) || ttl == 0))
		return fail(EXIT_USAGE, "zone load: --ttl '%s' is not a duration (e.g. 1h, 30m)", ttl_s);
	if (zone_type_parse(type_s, &type))
		return fail(EXIT_USAGE, "zone load: --type '%s': one of auto, ip4set, ip4trie, ip6trie", type_s);
	if (name && !*name)
		return fail(EXIT_USAGE, "zone load: --name must not be empty");
	if (!name) {
		namebuf = strdup(file);
		name = namebuf ? basename(namebuf) : file;
	}
	set = set_id(name);

	fd = open_map(MG_MAP_DENY);
	if (fd < 0) {
		rc = fail(EXIT_FAIL, "no deny list pinned under %s (is mailgate running? --pin-dir?): %s",
			  opts.pin_dir, strerror(errno));
		goto out;
	}
	f = strcmp(file, "-") ? fopen(file, "r") : stdin;
	if (!f) {
		rc = fail(EXIT_FAIL, "cannot read %s: %s", file, strerror(errno));
		goto out;
	}
	bad.file = file;
	if (opts.json)
		bad.list = json_object_new_array();

	t0 = now_boot_ns();
	r = zone_parse(f, type, &z, report_bad, &bad);
	if (r) {
		rc = fail(EXIT_FAIL, "reading %s: %s", file, strerror(-r));
		goto out;
	}
	if (z.bad && !z.n) {
		rc = fail(EXIT_USAGE, "%s: no valid entry (%zu bad lines)", file, z.bad);
		goto out;
	}
	if (!opts.json && bad.shown > MAX_BAD_SHOWN)
		fprintf(stderr, "mailgate: %s: %zu more bad lines not shown\n", file, bad.shown - MAX_BAD_SHOWN);
	t1 = now_boot_ns();

	/* what is there now: operator entries win over the file's, and our
	 * earlier load is what gets replaced */
	r = read_rules(fd, &old, &n_old);
	if (r) {
		rc = fail(EXIT_FAIL, "reading the deny list: %s", strerror(-r));
		goto out;
	}
	qsort(old, n_old, sizeof(*old), rule_ent_cmp);
	t2 = now_boot_ns();

	keys = malloc((z.n ? z.n : 1) * sizeof(*keys));
	vals = malloc((z.n ? z.n : 1) * sizeof(*vals));
	if (!keys || !vals) {
		rc = fail(EXIT_FAIL, "out of memory");
		goto out;
	}
	now = now_boot_ns();
	for (size_t i = 0; i < z.n; i++) {
		const struct rule_ent *o = find_rule(old, n_old, &z.e[i].key);

		if (o && o->rule.origin != MG_ORIGIN_ZONE) {
			kept++;
			continue;
		}
		keys[n] = z.e[i].key;
		vals[n] = (struct mg_rule){
			.expires_ns = ttl ? now + ttl : 0,
			.prefixlen = z.e[i].key.prefixlen,
			.origin = MG_ORIGIN_ZONE,
			.value = z.e[i].value,
			.flags = (z.e[i].excl ? MG_RULE_EXCLUDE : 0) | set << 16,
		};
		n++;
	}
	r = update_rules(fd, keys, vals, n, try_batch, &batched);
	if (r) {
		rc = fail(EXIT_FAIL, "updating the deny list: %s%s", strerror(-r),
			  r == -E2BIG || r == -ENOSPC || r == -ENOMEM ? " (deny list full?)" : "");
		goto out;
	}
	t3 = now_boot_ns();
	/* then the entries of our earlier load that are not in this one */
	for (size_t i = 0; i < n_old; i++) {
		const struct rule_ent *o = &old[i];

		if (o->rule.origin != MG_ORIGIN_ZONE || MG_RULE_SET(o->rule.flags) != set ||
		    find_entry(&z, &o->key))
			continue;
		if (!bpf_map_delete_elem(fd, &o->key))
			removed++;
	}
	t4 = now_boot_ns();

	if (opts.json) {
		struct json_object *d = json_object_new_object();

		json_object_object_add(d, "file", json_object_new_string(file));
		json_object_object_add(d, "name", json_object_new_string(name));
		json_object_object_add(d, "lines", json_object_new_int64(z.lines));
		json_object_object_add(d, "prefixes", json_object_new_int64(z.n));
		json_object_object_add(d, "exclusions", json_object_new_int64(z.excluded));
		json_object_object_add(d, "loaded", json_object_new_int64(n));
		json_object_object_add(d, "kept_operator_entries", json_object_new_int64(kept));
		json_object_object_add(d, "removed", json_object_new_int64(removed));
		json_object_object_add(d, "duplicates", json_object_new_int64(z.dups));
		json_object_object_add(d, "bad_lines", json_object_new_int64(z.bad));
		json_object_object_add(d, "bad", bad.list);
		bad.list = NULL;
		json_object_object_add(d, "batched", json_object_new_boolean(batched));
		json_object_object_add(d, "ttl_s", json_object_new_int64(ttl / NSEC_PER_SEC));
		json_object_object_add(d, "parse_s", json_object_new_double(secs(t0, t1)));
		json_object_object_add(d, "read_s", json_object_new_double(secs(t1, t2)));
		json_object_object_add(d, "update_s", json_object_new_double(secs(t2, t3)));
		json_object_object_add(d, "remove_s", json_object_new_double(secs(t3, t4)));
		json_object_object_add(d, "total_s", json_object_new_double(secs(t0, t4)));
		json_out(d);
	} else {
		printf("zone %s: %zu prefixes (%zu exclusions) from %zu lines; %zu bad lines, %zu duplicates\n",
		       name, z.n, z.excluded, z.lines, z.bad, z.dups);
		printf("  loaded %zu in %.2f s (%s), removed %zu of the previous load, kept %zu operator entries; "
		       "total %.2f s\n", n, secs(t2, t3), batched ? "batched" : "one by one", removed, kept,
		       secs(t0, t4));
	}
	rc = EXIT_OK;
out:
	json_object_put(bad.list);
	if (f && f != stdin)
		fclose(f);
	if (fd >= 0)
		close(fd);
	zone_data_free(&z);
	free(old);
	free(keys);
	free(vals);
	free(namebuf);
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

static const struct option export_opts[] = {
	{ "family", required_argument, NULL, 'f' },
	{ "help", no_argument, NULL, 'h' },
	{ 0 },
};

/* argv[0] is "zone export" */
static int zone_export(int argc, char **argv)
{
	const char *file = NULL, *fam_s = NULL;
	struct export x = { .now = now_boot_ns() };
	struct out_ent *out;
	size_t n, n4 = 0;
	char tmp[PATH_MAX] = "";
	int fam = 0, dfd = -1, bfd = -1, qfd = -1, rc = EXIT_FAIL, r, opt;
	FILE *f = NULL;

	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":h", export_opts, NULL)) != -1) {
		if (opt == 'h') {
			printf("%s\n", ZONE_EXPORT_USAGE);
			return EXIT_OK;
		}
		if (opt != 'f')
			return bad_option(opt, argv);
		fam_s = optarg;
	}
	if (optind < argc)
		file = argv[optind++];
	if (optind < argc)
		return fail(EXIT_USAGE, "zone export: one file only ('%s')", argv[optind]);
	if (!file)
		return fail(EXIT_USAGE, "%s", ZONE_EXPORT_USAGE);
	if (fam_s) {
		if (strcmp(fam_s, "4") && strcmp(fam_s, "6"))
			return fail(EXIT_USAGE, "zone export: --family '%s': 4 or 6", fam_s);
		fam = atoi(fam_s);
	}
	dfd = open_map(MG_MAP_DENY);
	bfd = open_map(MG_MAP_BAN);
	qfd = open_map(MG_MAP_BAN_QUOTA);
	if (dfd < 0 || bfd < 0 || qfd < 0) {
		rc = fail(EXIT_FAIL, "no data path pinned under %s (is mailgate running? --pin-dir?): %s",
			  opts.pin_dir, strerror(errno));
		goto out;
	}
	r = map_walk(dfd, export_deny, &x);
	if (r) {
		rc = fail(EXIT_FAIL, "reading the deny list: %s", strerror(-r));
		goto out;
	}
	x.ban_fd = -1;
	r = map_walk(bfd, export_ban, &x);
	x.ban_fd = bfd;
	if (!r)
		r = map_walk(qfd, export_ban, &x);
	if (r) {
		rc = fail(EXIT_FAIL, "reading the bans: %s", strerror(-r));
		goto out;
	}
	out = x.e;
	n = x.n;
	qsort(out, n, sizeof(*out), out_cmp);

	if (strcmp(file, "-")) {
		int tfd;

		snprintf(tmp, sizeof(tmp), "%s.XXXXXX", file);
		tfd = mkstemp(tmp);
		if (tfd < 0 || !(f = fdopen(tfd, "w"))) {
			rc = fail(EXIT_FAIL, "cannot write %s: %s", file, strerror(errno));
			if (tfd >= 0)
				close(tfd);
			tmp[0] = 0;
			goto out;
		}
		fchmod(tfd, 0644);
	} else {
		f = stdout;
	}
	for (size_t i = 0; i < n; i++)
		n4 += addr_is_v4((struct mg_addr *)out[i].key.a) && out[i].key.prefixlen >= 96;
	{
		time_t t = time(NULL);
		char when[64];

		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
		fprintf(f, "# mailgate zone export %s: deny list (value, default 127.0.0.2) and bans (127.0.0.3)\n",
			when);
		if (!fam)
			fprintf(f, "# rbldnsd dataset type: combined (ZONE:combined:FILE)\n");
		else
			fprintf(f, "# rbldnsd dataset type: %s\n", fam == 4 ? "ip4trie" : "ip6trie");
	}
	if (!fam)
		fprintf(f, "$DATASET ip4trie @\n");
	for (size_t i = 0; fam != 6 && i < n4; i++)
		write_entry(f, &out[i]);
	if (!fam)
		fprintf(f, "$DATASET ip6trie @\n");
	for (size_t i = n4; fam != 4 && i < n; i++)
		write_entry(f, &out[i]);
	if (f != stdout) {
		if (fflush(f) || fsync(fileno(f)) || fclose(f)) {
			f = NULL;
			rc = fail(EXIT_FAIL, "cannot write %s: %s", file, strerror(errno));
			goto out;
		}
		f = NULL;
		if (rename(tmp, file)) {
			rc = fail(EXIT_FAIL, "cannot write %s: %s", file, strerror(errno));
			goto out;
		}
		tmp[0] = 0;
	} else {
		fflush(stdout);
	}
	if (strcmp(file, "-")) {
		size_t written = fam == 4 ? n4 : fam == 6 ? n - n4 : n;

		if (opts.json) {
			struct json_object *d = json_object_new_object();

			json_object_object_add(d, "file", json_object_new_string(file));
			json_object_object_add(d, "entries", json_object_new_int64(written));
			json_object_object_add(d, "bans", json_object_new_int64(x.n_ban));
			json_object_object_add(d, "ipv4", json_object_new_int64(n4));
			json_object_object_add(d, "ipv6", json_object_new_int64(n - n4));
			json_out(d);
		} else {
			printf("exported %zu entries (%zu IPv4, %zu IPv6; %zu of them bans) to %s\n", written,
			       n4, n - n4, x.n_ban, file);
		}
	}
	rc = EXIT_OK;
out:
	if (f && f != stdout)
		fclose(f);
	if (tmp[0])
		unlink(tmp);
	if (dfd >= 0)
		close(dfd);
	if (bfd >= 0)
		close(bfd);
	if (qfd >= 0)
		close(qfd);
	free(x.e);
	return rc;
}

int do_zone(int argc, char **argv)
{
	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("%s\n       %s\n", ZONE_LOAD_USAGE, ZONE_EXPORT_USAGE + strlen("usage: "));
		return EXIT_OK;
	}
	/* the subcommand's argv[0] names it in messages (bad_option) */
	if (argc >= 2 && !strcmp(argv[1], "load")) {
		argv[1] = (char *)"zone load";
		return zone_load(argc - 1, argv + 1);
	}
	if (argc >= 2 && !strcmp(argv[1], "export")) {
		argv[1] = (char *)"zone export";
		return zone_export(argc - 1, argv + 1);
	}
	return fail(EXIT_USAGE, "usage: mailgate zone load FILE ... | zone export FILE ... (try 'mailgate zone --help')");
}
