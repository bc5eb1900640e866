// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* `mailgate dnsbl check ADDR`: ask every configured zone now, together with
 * its RFC 5782 self-test, and print each answer, the weights that matched,
 * the total score and the verdict the daemon would write. */
#include <errno.h>
#include <getopt.h>
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

#define DNSBL_USAGE "usage: mailgate dnsbl check ADDR [-c|--config FILE] [--sites SPEC] " \
	"[--resolvers LIST] [--timeout DUR] [--threshold N] [--allowlist-threshold N] " \
	"[--no-selftest] [--json]"

static int usage(void)
{
	return fail(EXIT_USAGE, "%s", DNSBL_USAGE);
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

static int run_check(const struct mg_settings *s, const char *addr_s, const struct mg_addr *addr,
		     bool selftest)
{
	struct dnsbl_sites *ss = calloc(1, sizeof(*ss));
	struct check *c = calloc(1, sizeof(*c));
	struct dnsbl_params p;
	bool v4 = addr_is_v4(addr);
	ares_channel ch = NULL;
	char err[256], buf[32];
	int score = 0, rc = EXIT_OK, r;
	uint32_t state;
	struct json_object *doc = NULL, *jz = NULL;

	if (!ss || !c) {
		rc = fail(EXIT_FAIL, "out of memory");
		goto out;
	}
	if (dnsbl_sites_parse(s->dnsbl_sites, ss, err, sizeof(err))) {
		rc = fail(EXIT_USAGE, "[dnsbl] %s", err);
		goto out;
	}
	if (ss->n_zones == 0) {
		rc = fail(EXIT_USAGE, "no DNSBL sites configured ([dnsbl] sites, or --sites)");
		goto out;
	}
	dnsbl_params_from(s, &p);
	r = dnsbl_channel_new(&ch, s->dnsbl_resolvers[0] ? s->dnsbl_resolvers : "system",
			      s->dnsbl_timeout_ns, err, sizeof(err));
	if (r) {
		rc = fail(r == -EINVAL ? EXIT_USAGE : EXIT_FAIL, "%s", err);
		goto out;
	}
	for (int z = 0; z < ss->n_zones; z++) {
		ask(ch, c, &c->q[z][CQ_SOURCE], addr, !v4, ss->zone[z]);
		for (int t = 0; selftest && t < ST_POINTS; t++)
			ask(ch, c, &c->q[z][t], &dnsbl_test_points[t], t >= ST_V6_LISTED, ss->zone[z]);
	}
	while (c->pending > 0)
		dnsbl_channel_poll(ch, -1, 1000);

	if (opts.json) {
		doc = json_object_new_object();
		jz = json_object_new_array();
	} else {
		printf("%s: asking %d zone%s (%s)\n", addr_s, ss->n_zones, ss->n_zones == 1 ? "" : "s",
		       s->dnsbl_resolvers[0] ? s->dnsbl_resolvers : "system");
	}
	for (int z = 0; z < ss->n_zones; z++) {
		struct cq *q = &c->q[z][CQ_SOURCE];
		char why4[160] = "pass", why6[160] = "pass";
		bool matched[DNSBL_MAX_SITES] = {}, p4 = true, p6 = true, used;
		enum dnsbl_result res;
		uint64_t ttl = dnsbl_answer_ttl_ns(&p, &q->ans);
		int sc, k = 0;

		if (selftest) {
			p4 = dnsbl_selftest_family(&c->q[z][ST_V4_LISTED].ans, &c->q[z][ST_V4_UNLISTED].ans,
						   why4, sizeof(why4));
			p6 = dnsbl_selftest_family(&c->q[z][ST_V6_LISTED].ans, &c->q[z][ST_V6_UNLISTED].ans,
						   why6, sizeof(why6));
		}
		used = v4 ? p4 : p6;
		res = dnsbl_zone_score(ss, z, &q->ans, &sc, matched);
		if (used)
			score += sc;

		if (opts.json) {
			struct json_object *o = json_object_new_object(), *a = json_object_new_array(),
					   *sites = json_object_new_array(), *t = json_object_new_object();

			for (int i = 0; i < q->ans.n; i++)
				json_object_array_add(a, json_object_new_string(ip4(q->ans.a[i], buf)));
			json_object_object_add(o, "zone", json_object_new_string(ss->zone[z]));
			json_object_object_add(o, "query", json_object_new_string(q->qname));
			json_object_object_add(o, "result", json_object_new_string(dnsbl_result_names[res]));
			json_object_object_add(o, "answers", a);
			json_object_object_add(o, "ttl_s", json_object_new_int64(q->ans.n ? q->ans.ttl : 0));
			json_object_object_add(o, "verdict_ttl_s", json_object_new_int64(ttl / NSEC_PER_SEC));
			snprintf(buf, sizeof(buf), "%.3f", q->rtt_ns / 1e6);
			json_object_object_add(o, "rtt_ms", json_object_new_double_s(q->rtt_ns / 1e6, buf));
			json_object_object_add(o, "used", json_object_new_boolean(used));
			json_object_object_add(o, "score", json_object_new_int(used ? sc : 0));
			if (selftest) {
				json_object_object_add(t, "ipv4", json_object_new_string(p4 ? "pass" : why4));
				json_object_object_add(t, "ipv6", json_object_new_string(p6 ? "pass" : why6));
				json_object_object_add(o, "selftest", t);
			} else {
				json_object_put(t);
			}
			for (int i = 0; i < ss->n_sites; i++) {
				struct json_object *so;

				if (ss->site[i].zone != z)
					continue;
				so = json_object_new_object();
				json_object_object_add(so, "site", json_object_new_string(ss->site[i].text));
				json_object_object_add(so, "weight", json_object_new_int(ss->site[i].weight));
				json_object_object_add(so, "matched", json_object_new_boolean(matched[k++]));
				json_object_array_add(sites, so);
			}
			json_object_object_add(o, "sites", sites);
			json_object_array_add(jz, o);
			continue;
		}
		printf("  zone %s: %s", ss->zone[z], dnsbl_result_names[res]);
		for (int i = 0; i < q->ans.n; i++)
			printf("%s%s", i ? "," : " ", ip4(q->ans.a[i], buf));
		if (q->ans.n)
			printf(" ttl %us", q->ans.ttl);
		printf(" (%.1f ms, query %s)\n", q->rtt_ns / 1e6, q->qname);
		if (selftest)
			printf("    self-test: ipv4 %s, ipv6 %s\n", p4 ? "pass" : why4, p6 ? "pass" : why6);
		if (!used)
			printf("    not used for this address: the zone failed the %s self-test\n",
			       v4 ? "IPv4" : "IPv6");
		for (int i = 0; i < ss->n_sites; i++) {
			if (ss->site[i].zone != z)
				continue;
			printf("    site %s: weight %d, %s\n", ss->site[i].text, ss->site[i].weight,
			       matched[k] ? (used ? "matched" : "matched (not counted)") : "not matched");
			k++;
		}
	}
	state = dnsbl_verdict_state(&p, score);
	if (opts.json) {
		json_object_object_add(doc, "address", json_object_new_string(addr_s));
		json_object_object_add(doc, "score", json_object_new_int(score));
		json_object_object_add(doc, "threshold", json_object_new_int(p.threshold));
		json_object_object_add(doc, "allowlist_threshold", json_object_new_int(p.allow_threshold));
		json_object_object_add(doc, "verdict", json_object_new_string(dnsbl_verdict_names[state]));
		json_object_object_add(doc, "zones", jz);
		json_out(doc);
	} else {
		printf("score %d (threshold %d, allowlist at or below %d): %s\n", score, p.threshold,
		       p.allow_threshold, dnsbl_verdict_names[state]);
	}
out:
	if (ch)
		ares_destroy(ch);
	free(ss);
	free(c);
	return rc;
}

int do_dnsbl(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "sites", required_argument, NULL, 's' },
		{ "resolvers", required_argument, NULL, 'r' },
		{ "timeout", required_argument, NULL, 't' },
		{ "threshold", required_argument, NULL, 'T' },
		{ "allowlist-threshold", required_argument, NULL, 'A' },
		{ "no-selftest", no_argument, NULL, 'N' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *cfg = NULL, *sites = NULL, *resolvers = NULL, *timeout = NULL, *addr_s = NULL;
	const char *thr = NULL, *athr = NULL;
	bool selftest = true;
	struct mg_settings *s;
	struct mg_addr addr;
	char err[256];
	int rc, opt;

	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("%s\n", DNSBL_USAGE);
		return EXIT_OK;
	}
	if (argc < 2 || strcmp(argv[1], "check"))
		return usage();
	argv[1] = (char *)"dnsbl check"; /* argv[0] from here: names it in messages (bad_option) */
	argc--;
	argv++;
	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":c:h", lo, NULL)) != -1) {
		switch (opt) {
		case 'c':
			cfg = optarg;
			break;
		case 's':
			sites = optarg;
			break;
		case 'r':
			resolvers = optarg;
			break;
		case 't':
			timeout = optarg;
			break;
		case 'T':
			thr = optarg;
			break;
		case 'A':
			athr = optarg;
			break;
		case 'N':
			selftest = false;
			break;
		case 'h':
			printf("%s\n", DNSBL_USAGE);
			return EXIT_OK;
		default:
			return bad_option(opt, argv);
		}
	}
	if (optind < argc)
		addr_s = argv[optind++];
	if (optind < argc)
		return fail(EXIT_USAGE, "dnsbl check: one address only ('%s')", argv[optind]);
	if (!addr_s)
		return usage();
	if (parse_addr(addr_s, &addr))
		return fail(EXIT_USAGE, "dnsbl check: '%s' is not an IPv4 or IPv6 address", addr_s);

	s = malloc(sizeof(*s));
	if (!s)
		return fail(EXIT_FAIL, "out of memory");
	rc = load_settings(s, cfg, sites || resolvers);
	if (rc)
		goto out;
	rc = EXIT_USAGE;
	if (sites)
		snprintf(s->dnsbl_sites, sizeof(s->dnsbl_sites), "%s", sites);
	if (resolvers)
		snprintf(s->dnsbl_resolvers, sizeof(s->dnsbl_resolvers), "%s", resolvers);
	if (timeout && parse_duration(timeout, &s->dnsbl_timeout_ns)) {
		fail(rc, "dnsbl check: --timeout '%s' is not a duration (e.g. 2s, 500ms)", timeout);
		goto out;
	}
	if (thr && parse_i32(thr, &s->dnsbl_threshold)) {
		fail(rc, "dnsbl check: --threshold '%s' is not an integer", thr);
		goto out;
	}
	if (athr && parse_i32(athr, &s->dnsbl_allow_threshold)) {
		fail(rc, "dnsbl check: --allowlist-threshold '%s' is not an integer", athr);
		goto out;
	}
	if (dnsbl_settings_check(s, NULL, err, sizeof(err))) {
		fail(rc, "[dnsbl] %s", err);
		goto out;
	}
	rc = run_check(s, addr_s, &addr, selftest);
out:
	free(s);
	return rc;
}
