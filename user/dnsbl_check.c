// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* `mailgate dnsbl check ADDR`: ask every configured zone now, together with
 * its RFC 5782 self-test, and print each answer, the weights that matched,
 * the total score and the verdict the daemon would write. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <json-c/json.h>
#include "dnsbl.h"
#include "cli.h"

#define CQ_SOURCE ST_POINTS /* index of the source's own query */

struct check;
struct cq {
	struct check *c;
	int zone, kind;
	uint64_t sent_ns, rtt_ns;
	struct dnsbl_answer ans;
	char qname[DNSBL_QNAME_LEN];
};

struct check {
	int pending;
	struct cq q[DNSBL_MAX_ZONES][ST_POINTS + 1];
};

static void on_reply(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct cq *q = arg;

	q->rtt_ns = now_boot_ns() - q->sent_ns;
	dnsbl_answer_parse(status, abuf, alen, &q->ans);
	q->c->pending--;
}

static void ask(ares_channel ch, struct check *c, struct cq *q, const struct mg_addr *a, bool nib,
		const char *zone)
{
	q->c = c;
	if (dnsbl_qname(a, nib, zone, q->qname, sizeof(q->qname))) {
		q->ans.result = DR_GARBAGE;
		return;
	}
	q->sent_ns = now_boot_ns();
	c->pending++;
	ares_query(ch, q->qname, 1 /* IN */, 1 /* A */, on_reply, q);
}

static const char *ip4(uint32_t a, char *buf)
{
	sprintf(buf, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
	return buf;
}

static int parse_i32(const char *s, int32_t *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (!*s || *end || errno || v < -DNSBL_MAX_WEIGHT * 32L || v > DNSBL_MAX_WEIGHT * 32L)
		return -EINVAL;
	*out = (int32_t)v;
	return 0;
}

/* the settings: the config file unless only overrides are given (then the
 * defaults, config_defaults()) */
static int load_settings(struct mg_settings *s, const char *cfg, bool overrides)
{
	const char *path = cfg ? cfg : opts.config;
	static char running[PATH_MAX];
	char err[512];

	/* without -c: the file the daemon on this pin dir runs with */
	if (!cfg && !run_config_read(opts.pin_dir, running, sizeof(running))) {
		if (!running[0]) { /* it runs on the built-in defaults */
			config_defaults(s);
			return 0;
		}
		path = cfg = running;
	}

	config_defaults(s);
	if (cfg || access(path, F_OK) == 0 || !overrides) {
		if (access(path, R_OK))
			return fail(EXIT_FAIL, "cannot read config %s: %s%s", path, strerror(errno),
				    overrides ? "" : " (or give --sites and --resolvers)");
		if (config_load(path, s, err, sizeof(err)))
			return fail(EXIT_USAGE, "%s", err);
	}
	return 0;
}

/* one zone's part of the check */
struct zone_check {
	enum dnsbl_result res;
	int score;                      /* its weights that matched */
	bool matched[DNSBL_MAX_SITES];  /* by site of the zone, in order */
	bool p4, p6, used;              /* self-tests passed; counted for this address */
	char why4[160], why6[160];      /* why a self-test failed */
	uint64_t ttl_ns;                /* the verdict's TTL from this answer */
};

/* what `dnsbl check` found */
struct check_result {
	struct dnsbl_sites ss;
	struct check c;                 /* the queries and their answers */
	struct dnsbl_params p;
	struct zone_check z[DNSBL_MAX_ZONES];
	bool v4, selftest;
	int score;
	uint32_t state;                 /* the verdict */
};

/* ask every zone (and its self-test points) at once and wait for all */
static int check_ask(const struct mg_settings *s, const struct mg_addr *addr, struct check_result *r)
{
	ares_channel ch = NULL;
	char err[256];
	int e;

	e = dnsbl_channel_new(&ch, s->dnsbl_resolvers[0] ? s->dnsbl_resolvers : "system", s->dnsbl_timeout_ns, err,
			      sizeof(err));
	if (e)
		return fail(e == -EINVAL ? EXIT_USAGE : EXIT_FAIL, "%s", err);
	for (int z = 0; z < r->ss.n_zones; z++) {
		ask(ch, &r->c, &r->c.q[z][CQ_SOURCE], addr, !r->v4, r->ss.zone[z]);
		for (int t = 0; r->selftest && t < ST_POINTS; t++)
			ask(ch, &r->c, &r->c.q[z][t], &dnsbl_test_points[t], t >= ST_V6_LISTED, r->ss.zone[z]);
	}
	while (r->c.pending > 0)
		dnsbl_channel_poll(ch, -1, 1000);
	ares_destroy(ch);
	return 0;
}

/* the work: ask, then score each zone as the daemon would; 0 or the exit
 * code after a message */
static int check_run(const struct mg_settings *s, const struct mg_addr *addr, bool selftest,
		     struct check_result *r)
{
	char err[256];
	int rc;

	r->v4 = addr_is_v4(addr);
	r->selftest = selftest;
	if (dnsbl_sites_parse(s->dnsbl_sites, &r->ss, err, sizeof(err)))
		return fail(EXIT_USAGE, "[dnsbl] %s", err);
	if (r->ss.n_zones == 0)
		return fail(EXIT_USAGE, "no DNSBL sites configured ([dnsbl] sites, or --sites)");
	dnsbl_params_from(s, &r->p);
	rc = check_ask(s, addr, r);
	if (rc)
		return rc;
	for (int z = 0; z < r->ss.n_zones; z++) {
		struct zone_check *zc = &r->z[z];
		struct cq *q = &r->c.q[z][CQ_SOURCE];

		zc->p4 = zc->p6 = true;
		snprintf(zc->why4, sizeof(zc->why4), "pass");
		snprintf(zc->why6, sizeof(zc->why6), "pass");
		zc->ttl_ns = dnsbl_answer_ttl_ns(&r->p, &q->ans);
		if (selftest) {
			zc->p4 = dnsbl_selftest_family(&r->c.q[z][ST_V4_LISTED].ans, &r->c.q[z][ST_V4_UNLISTED].ans,
						       zc->why4, sizeof(zc->why4));
			zc->p6 = dnsbl_selftest_family(&r->c.q[z][ST_V6_LISTED].ans, &r->c.q[z][ST_V6_UNLISTED].ans,
						       zc->why6, sizeof(zc->why6));
		}
		zc->used = r->v4 ? zc->p4 : zc->p6;
		zc->res = dnsbl_zone_score(&r->ss, z, &q->ans, &zc->score, zc->matched);
		if (zc->used)
			r->score += zc->score;
	}
	r->state = dnsbl_verdict_state(&r->p, r->score);
	return 0;
}

static struct json_object *check_zone_json(const struct check_result *r, int z)
{
	const struct zone_check *zc = &r->z[z];
	const struct cq *q = &r->c.q[z][CQ_SOURCE];
	struct json_object *o = json_object_new_object(), *a = json_object_new_array(),
			   *sites = json_object_new_array(), *t;
	char buf[32];
	int k = 0;

	for (int i = 0; i < q->ans.n; i++)
		json_object_array_add(a, json_object_new_string(ip4(q->ans.a[i], buf)));
	json_object_object_add(o, "zone", json_object_new_string(r->ss.zone[z]));
	json_object_object_add(o, "query", json_object_new_string(q->qname));
	json_object_object_add(o, "result", json_object_new_string(dnsbl_result_names[zc->res]));
	json_object_object_add(o, "answers", a);
	json_object_object_add(o, "ttl_s", json_object_new_int64(q->ans.n ? q->ans.ttl : 0));
	json_object_object_add(o, "verdict_ttl_s", json_object_new_int64(zc->ttl_ns / NSEC_PER_SEC));
	snprintf(buf, sizeof(buf), "%.3f", q->rtt_ns / 1e6);
	json_object_object_add(o, "rtt_ms", json_object_new_double_s(q->rtt_ns / 1e6, buf));
	json_object_object_add(o, "used", json_object_new_boolean(zc->used));
	json_object_object_add(o, "score", json_object_new_int(zc->used ? zc->score : 0));
	if (r->selftest) {
		t = json_object_new_object();
		json_object_object_add(t, "ipv4", json_object_new_string(zc->p4 ? "pass" : zc->why4));
		json_object_object_add(t, "ipv6", json_object_new_string(zc->p6 ? "pass" : zc->why6));
		json_object_object_add(o, "selftest", t);
	}
	for (int i = 0; i < r->ss.n_sites; i++) {
		struct json_object *so;

		if (r->ss.site[i].zone != z)
			continue;
		so = json_object_new_object();
		json_object_object_add(so, "site", json_object_new_string(r->ss.site[i].text));
		json_object_object_add(so, "weight", json_object_new_int(r->ss.site[i].weight));
		json_object_object_add(so, "matched", json_object_new_boolean(zc->matched[k++]));
		json_object_array_add(sites, so);
	}
	json_object_object_add(o, "sites", sites);
	return o;
}

static void check_print_json(const char *addr_s, const struct check_result *r)
{
	struct json_object *doc = json_object_new_object(), *jz = json_object_new_array();

	for (int z = 0; z < r->ss.n_zones; z++)
		json_object_array_add(jz, check_zone_json(r, z));
	json_object_object_add(doc, "address", json_object_new_string(addr_s));
	json_object_object_add(doc, "score", json_object_new_int(r->score));
	json_object_object_add(doc, "threshold", json_object_new_int(r->p.threshold));
	json_object_object_add(doc, "allowlist_threshold", json_object_new_int(r->p.allow_threshold));
	json_object_object_add(doc, "verdict", json_object_new_string(dnsbl_verdict_names[r->state]));
	json_object_object_add(doc, "zones", jz);
	json_out(doc);
}

static void check_print_text(const char *addr_s, const struct mg_settings *s, const struct check_result *r)
{
	char buf[32];

	printf("%s: asking %d zone%s (%s)\n", addr_s, r->ss.n_zones, r->ss.n_zones == 1 ? "" : "s",
	       s->dnsbl_resolvers[0] ? s->dnsbl_resolvers : "system");
	for (int z = 0; z < r->ss.n_zones; z++) {
		const struct zone_check *zc = &r->z[z];
		const struct cq *q = &r->c.q[z][CQ_SOURCE];
		int k = 0;

		printf("  zone %s: %s", r->ss.zone[z], dnsbl_result_names[zc->res]);
		for (int i = 0; i < q->ans.n; i++)
			printf("%s%s", i ? "," : " ", ip4(q->ans.a[i], buf));
		if (q->ans.n)
			printf(" ttl %us", q->ans.ttl);
		printf(" (%.1f ms, query %s)\n", q->rtt_ns / 1e6, q->qname);
		if (r->selftest)
			printf("    self-test: ipv4 %s, ipv6 %s\n", zc->p4 ? "pass" : zc->why4, zc->p6 ? "pass" : zc->why6);
		if (!zc->used)
			printf("    not used for this address: the zone failed the %s self-test\n",
			       r->v4 ? "IPv4" : "IPv6");
		for (int i = 0; i < r->ss.n_sites; i++) {
			if (r->ss.site[i].zone != z)
				continue;
			printf("    site %s: weight %d, %s\n", r->ss.site[i].text, r->ss.site[i].weight,
			       zc->matched[k] ? (zc->used ? "matched" : "matched (not counted)") : "not matched");
			k++;
		}
	}
	printf("score %d (threshold %d, allowlist at or below %d): %s\n", r->score, r->p.threshold,
	       r->p.allow_threshold, dnsbl_verdict_names[r->state]);
}

#define NOT_GIVEN_I32 INT32_MIN

static int i32_opt(const char *s, void *out)
{
	return parse_i32(s, out);
}

struct dnsbl_opts {
	const char *cfg, *sites, *resolvers;
	uint64_t timeout_ns;        /* UINT64_MAX: not given */
	int32_t thr, athr;          /* NOT_GIVEN_I32: not given */
	bool no_selftest;
};

static const struct cli_opt dnsbl_check_opts[] = {
	CLI_STRING("config", 'c', "FILE", struct dnsbl_opts, cfg,
		   "the config's [dnsbl] section (default: the running daemon's, else " MG_DEFAULT_CONFIG ")"),
	CLI_STRING("sites", 0, "SPEC", struct dnsbl_opts, sites, "these sites instead (postscreen syntax: zone*weight, ...)"),
	CLI_STRING("resolvers", 0, "LIST", struct dnsbl_opts, resolvers, "these resolvers instead (system, or addr:port, ...)"),
	CLI_DURATION("timeout", 0, "DUR", struct dnsbl_opts, timeout_ns, 0, 0, "per query (e.g. 2s, 500ms)",
		     "dnsbl check: --timeout '%s' is not a duration (e.g. 2s, 500ms)"),
	CLI_FUNC_AT("threshold", 0, "N", struct dnsbl_opts, thr, i32_opt, "the score that rejects",
		    "dnsbl check: --threshold '%s' is not an integer"),
	CLI_FUNC_AT("allowlist-threshold", 0, "N", struct dnsbl_opts, athr, i32_opt,
		    "the score at or below which a source is allowlisted",
		    "dnsbl check: --allowlist-threshold '%s' is not an integer"),
	CLI_FLAG("no-selftest", 0, struct dnsbl_opts, no_selftest, "skip the zones' RFC 5782 self-tests"),
	CLI_END
};
const struct cli_cmd cli_dnsbl_check = { "dnsbl check", "ADDR",
					 "ask every zone about ADDR now: answers, weights, score, verdict",
					 dnsbl_check_opts };

/* the settings to check with: the config, then the command line's */
static int check_settings(const struct dnsbl_opts *o, struct mg_settings *s)
{
	char err[256];
	int rc = load_settings(s, o->cfg, o->sites || o->resolvers);

	if (rc)
		return rc;
	if (o->sites)
		snprintf(s->dnsbl_sites, sizeof(s->dnsbl_sites), "%s", o->sites);
	if (o->resolvers)
		snprintf(s->dnsbl_resolvers, sizeof(s->dnsbl_resolvers), "%s", o->resolvers);
	if (o->timeout_ns != UINT64_MAX)
		s->dnsbl_timeout_ns = o->timeout_ns;
	if (o->thr != NOT_GIVEN_I32)
		s->dnsbl_threshold = o->thr;
	if (o->athr != NOT_GIVEN_I32)
		s->dnsbl_allow_threshold = o->athr;
	if (dnsbl_settings_check(s, NULL, err, sizeof(err)))
		return fail(EXIT_USAGE, "[dnsbl] %s", err);
	return 0;
}

int do_dnsbl(int argc, char **argv)
{
	static const struct cli_cmd *const subs[] = { &cli_dnsbl_check };
	struct dnsbl_opts o = { .timeout_ns = UINT64_MAX, .thr = NOT_GIVEN_I32, .athr = NOT_GIVEN_I32 };
	struct mg_settings *s = NULL;
	struct check_result *r = NULL;
	struct mg_addr addr;
	int rc, npos, which;

	rc = cli_sub("dnsbl", subs, 1, argc, argv, &which);
	if (rc != CLI_GO)
		return rc;
	rc = cli_parse(&cli_dnsbl_check, argc - 1, argv + 1, &o, &npos);
	if (rc != CLI_GO)
		return rc;
	argv++; /* the address: argv[1] */
	if (npos > 1)
		return fail(EXIT_USAGE, "dnsbl check: one address only ('%s')", argv[2]);
	if (!npos)
		return fail(EXIT_USAGE, "dnsbl check: no address given (try 'mailgate dnsbl check --help')");
	if (parse_addr(argv[1], &addr))
		return fail(EXIT_USAGE, "dnsbl check: '%s' is not an IPv4 or IPv6 address", argv[1]);

	s = malloc(sizeof(*s));
	r = calloc(1, sizeof(*r));
	if (!s || !r)
		rc = fail(EXIT_FAIL, "out of memory");
	else
		rc = check_settings(&o, s);
	if (!rc)
		rc = check_run(s, &addr, !o.no_selftest, r);
	if (!rc && opts.json)
		check_print_json(argv[1], r);
	else if (!rc)
		check_print_text(argv[1], s, r);
	free(s);
	free(r);
	return rc;
}
