// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Unit tests of the DNSBL pieces that need no network: postscreen sites
 * syntax, query names, scoring, verdicts, TTLs, the RFC 5782 self-test rule,
 * resolver lists and [dnsbl] settings. */
#include <errno.h>
#include "test.h"
#include "dnsbl.h"
#include "cli.h"

#define IP(a, b, c, d) ((uint32_t)(a) << 24 | (b) << 16 | (c) << 8 | (d))

__attribute__((weak)) struct mg_opts opts; /* where no linked object defines it */

static struct dnsbl_sites ss;
static char err[256];

static bool parse_ok(const char *spec)
{
	err[0] = 0;
	int r = dnsbl_sites_parse(spec, &ss, err, sizeof(err));

	if (r)
		printf("  unexpected error for \"%s\": %s\n", spec, err);
	return r == 0;
}

/* a bad spec: -EINVAL and a message that contains want (the bad token, the reason) */
static bool parse_bad(const char *spec, const char *want1, const char *want2)
{
	err[0] = 0;
	int r = dnsbl_sites_check(spec, err, sizeof(err));

	if (r != -EINVAL) {
		printf("  \"%s\": expected -EINVAL, got %d\n", spec, r);
		return false;
	}
	if (!strstr(err, want1) || (want2 && !strstr(err, want2))) {
		printf("  \"%s\": message \"%s\" lacks \"%s\"%s%s\n", spec, err, want1,
		       want2 ? " / " : "", want2 ? want2 : "");
		return false;
	}
	return true;
}

TEST(spec_example)
{
	if (!ASSERT_TRUE(parse_ok("zen.spamhaus.org=127.0.0.[2..11]*3, bl.spamcop.net*2, "
				  "list.dnswl.org=127.0.[0..255].[1..3]*-5"), "parse"))
		return;
	ASSERT_EQ(ss.n_sites, 3, "sites");
	ASSERT_EQ(ss.n_zones, 3, "zones");
	ASSERT_STREQ(ss.zone[0], "zen.spamhaus.org", "zone 0 name");
	ASSERT_EQ(ss.site[0].weight, 3, "zen weight");
	ASSERT_EQ(ss.site[1].weight, 2, "spamcop weight");
	ASSERT_EQ(ss.site[2].weight, -5, "dnswl weight");
	ASSERT_TRUE(dnsbl_site_matches(&ss.site[0], IP(127, 0, 0, 2)), "zen .2");
	ASSERT_TRUE(dnsbl_site_matches(&ss.site[0], IP(127, 0, 0, 11)), "zen .11");
	ASSERT_TRUE(!dnsbl_site_matches(&ss.site[0], IP(127, 0, 0, 12)), "zen .12");
	ASSERT_TRUE(!dnsbl_site_matches(&ss.site[0], IP(127, 0, 1, 2)), "zen 127.0.1.2");
	ASSERT_TRUE(dnsbl_site_matches(&ss.site[1], IP(127, 0, 0, 77)), "no filter: any");
	ASSERT_TRUE(dnsbl_site_matches(&ss.site[2], IP(127, 0, 15, 3)), "dnswl 127.0.15.3");
	ASSERT_TRUE(!dnsbl_site_matches(&ss.site[2], IP(127, 0, 15, 0)), "dnswl 127.0.15.0");
	ASSERT_TRUE(!dnsbl_site_matches(&ss.site[2], IP(127, 0, 15, 4)), "dnswl 127.0.15.4");
}

TEST(filter_alternatives_and_lists)
{
	if (!ASSERT_TRUE(parse_ok("a.example=127.0.0.2;127.0.0.[4..7]\tb.example=127.0.0.[2;4..6;9]"),
			 "parse"))
		return;
	ASSERT_EQ(ss.n_sites, 2, "whitespace separates entries too");
	ASSERT_EQ(ss.site[0].n_pat, 2, "alternatives");
	ASSERT_TRUE(dnsbl_site_matches(&ss.site[0], IP(127, 0, 0, 2)), "alt 1");
	ASSERT_TRUE(!dnsbl_site_matches(&ss.site[0], IP(127, 0, 0, 3)), "between");
	ASSERT_TRUE(dnsbl_site_matches(&ss.site[0], IP(127, 0, 0, 7)), "alt 2 end");
	ASSERT_TRUE(!dnsbl_site_matches(&ss.site[0], IP(127, 0, 0, 8)), "after");
	ASSERT_TRUE(dnsbl_site_matches(&ss.site[1], IP(127, 0, 0, 9)), "list item");
	ASSERT_TRUE(dnsbl_site_matches(&ss.site[1], IP(127, 0, 0, 5)), "list range");
	ASSERT_TRUE(!dnsbl_site_matches(&ss.site[1], IP(127, 0, 0, 7)), "not in list");
}

TEST(same_zone_twice_one_query)
{
	if (!ASSERT_TRUE(parse_ok("Zen.Example.=127.0.0.[2..3]*3,zen.example=127.0.0.[10..11]*-2,,"),
			 "parse"))
		return;
	ASSERT_EQ(ss.n_sites, 2, "sites");
	ASSERT_EQ(ss.n_zones, 1, "one zone, lower-cased, trailing dot dropped");
	ASSERT_STREQ(ss.zone[0], "zen.example", "zone name");
	ASSERT_EQ(ss.site[1].zone, 0, "second site's zone");
}

TEST(empty_and_plus_weight)
{
	ASSERT_TRUE(parse_ok("  "), "blank");
	ASSERT_EQ(ss.n_sites, 0, "no sites");
	ASSERT_TRUE(parse_ok("x.example*+4"), "plus");
	ASSERT_EQ(ss.site[0].weight, 4, "weight");
	ASSERT_EQ(ss.site[0].n_pat, 0, "no filter");
}

TEST(bad_specs_name_the_entry)
{
	ASSERT_TRUE(parse_bad("ok.example, zen.example=127.0.0.[2..300]", "zen.example=127.0.0.[2..300]",
			      "300 is out of range"), "octet range");
	ASSERT_TRUE(parse_bad("zen.example=127.0.0", "zen.example=127.0.0", "four octets"), "3 octets");
	ASSERT_TRUE(parse_bad("zen.example=127.0.0.2.5", "zen.example=127.0.0.2.5", "unexpected"), "5 octets");
	ASSERT_TRUE(parse_bad("zen.example*x", "zen.example*x", "not an integer"), "weight");
	ASSERT_TRUE(parse_bad("zen.example*", "'zen.example*'", "needs a weight"), "no weight");
	ASSERT_TRUE(parse_bad("zen.example*3.5", "zen.example*3.5", "not an integer"), "fraction");
	ASSERT_TRUE(parse_bad("zen.example*99999999", "zen.example*99999999", "out of range"), "big");
	ASSERT_TRUE(parse_bad("zen.example=", "'zen.example='", "needs a filter"), "no filter");
	ASSERT_TRUE(parse_bad("zen.example=127.0.0.[5..2]", "zen.example=127.0.0.[5..2]", "empty range"),
		    "reversed range");
	ASSERT_TRUE(parse_bad("zen.example=127.0.0.[2..3", "zen.example=127.0.0.[2..3", "']'"), "open bracket");
	ASSERT_TRUE(parse_bad("zen.example=127.0.0.2;", "zen.example=127.0.0.2;", "empty filter"), "empty alt");
	ASSERT_TRUE(parse_bad("zen.example=127.0.0.x", "zen.example=127.0.0.x", "expected a number"), "letter");
	ASSERT_TRUE(parse_bad("zen", "'zen'", "not a DNS zone"), "no dot");
	ASSERT_TRUE(parse_bad("zen..example", "zen..example", "empty label"), "empty label");
	ASSERT_TRUE(parse_bad("zen!.example", "zen!.example", "invalid character '!'"), "bad char");
	ASSERT_TRUE(parse_bad("a.example*2=127.0.0.2", "a.example*2=127.0.0.2", "after the filter"), "order");
	ASSERT_TRUE(parse_bad("=127.0.0.2", "'=127.0.0.2'", "empty domain"), "no domain");
}

TEST(too_many_sites)
{
	char spec[4096] = "";

	for (int i = 0; i <= DNSBL_MAX_SITES; i++)
		sprintf(spec + strlen(spec), "z%d.example ", i);
	ASSERT_TRUE(parse_bad(spec, "more than 32", "z32.example"), "33 sites");
}

TEST(query_names)
{
	struct mg_addr a;
	char q[DNSBL_QNAME_LEN];

	parse_addr("192.0.2.1", &a);
	ASSERT_OK(dnsbl_qname(&a, false, "bl.example", q, sizeof(q)), "v4");
	ASSERT_STREQ(q, "1.2.0.192.bl.example", q);
	parse_addr("2001:db8::1", &a);
	ASSERT_OK(dnsbl_qname(&a, true, "bl.example", q, sizeof(q)), "v6");
	ASSERT_STREQ(q, "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl.example", q);
	/* RFC 5782 section 5: the IPv6 test point ::FFFF:7F00:2 */
	ASSERT_OK(dnsbl_qname(&dnsbl_test_points[ST_V6_LISTED], true, "bl.example", q, sizeof(q)), "tp");
	ASSERT_STREQ(q, "2.0.0.0.0.0.f.7.f.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.bl.example", q);
	ASSERT_OK(dnsbl_qname(&dnsbl_test_points[ST_V4_UNLISTED], false, "bl.example", q, sizeof(q)), "tp4");
	ASSERT_STREQ(q, "1.0.0.127.bl.example", q);
	ASSERT_EQ(dnsbl_qname(&a, true, "bl.example", q, 40), -ENAMETOOLONG, "short buffer");
}

static struct dnsbl_answer answer(int n, uint32_t a0, uint32_t a1, uint32_t ttl)
{
	struct dnsbl_answer x = { .result = DR_CLEAN, .n = n, .ttl = ttl };

	x.a[0] = a0;
	x.a[1] = a1;
	return x;
}

TEST(scoring)
{
	struct dnsbl_params p = { .threshold = 3, .allow_threshold = -1 };
	struct dnsbl_answer a;
	bool m[4];
	int sc;

	parse_ok("a.example=127.0.0.[2..3]*2, a.example=127.0.0.4*1, w.example=127.0.[0..255].[1..3]*-5");
	a = answer(2, IP(127, 0, 0, 3), IP(127, 0, 0, 4), 60);
	ASSERT_EQ(dnsbl_zone_score(&ss, 0, &a, &sc, m), DR_LISTED, "listed");
	ASSERT_EQ(sc, 3, "both sites of a zone add up");
	ASSERT_TRUE(m[0] && m[1], "both matched");
	ASSERT_EQ(dnsbl_verdict_state(&p, sc), MG_VERDICT_LISTED, "3 >= 3");
	a = answer(1, IP(127, 0, 0, 9), 0, 60);
	ASSERT_EQ(dnsbl_zone_score(&ss, 0, &a, &sc, m), DR_CLEAN, "no site matches");
	ASSERT_EQ(sc, 0, "score 0");
	a = answer(1, IP(127, 0, 10, 2), 0, 60);
	ASSERT_EQ(dnsbl_zone_score(&ss, 1, &a, &sc, NULL), DR_LISTED, "dnswl");
	ASSERT_EQ(sc, -5, "negative");
	ASSERT_EQ(dnsbl_verdict_state(&p, 3 - 5), MG_VERDICT_ALLOWED, "-2 <= -1");
	ASSERT_EQ(dnsbl_verdict_state(&p, 0), MG_VERDICT_CLEAN, "0");
	ASSERT_EQ(dnsbl_verdict_state(&p, 2), MG_VERDICT_CLEAN, "2");
	p.allow_threshold = 0;
	ASSERT_EQ(dnsbl_verdict_state(&p, 0), MG_VERDICT_CLEAN, "allowlisting is off unless negative");
	a = (struct dnsbl_answer){ .result = DR_REFUSAL_CODE, .n = 1, .a = { IP(127, 255, 255, 254) } };
	ASSERT_EQ(dnsbl_zone_score(&ss, 0, &a, &sc, m), DR_REFUSAL_CODE, "refusal stays an error");
	ASSERT_EQ(sc, 0, "refusal counts 0");
	a = (struct dnsbl_answer){ .result = DR_TIMEOUT };
	ASSERT_EQ(dnsbl_zone_score(&ss, 0, &a, &sc, m), DR_TIMEOUT, "timeout");
	ASSERT_EQ(sc, 0, "timeout counts 0");
}

TEST(refusal_codes)
{
	ASSERT_TRUE(dnsbl_is_refusal_code(IP(127, 255, 255, 254)), "127.255.255.254");
	ASSERT_TRUE(dnsbl_is_refusal_code(IP(127, 255, 255, 252)), "127.255.255.252");
	ASSERT_TRUE(dnsbl_is_refusal_code(IP(127, 0, 0, 255)), "dnswl over limit");
	ASSERT_TRUE(!dnsbl_is_refusal_code(IP(127, 0, 0, 2)), "127.0.0.2");
	ASSERT_TRUE(!dnsbl_is_refusal_code(IP(127, 255, 254, 1)), "127.255.254.1");
}

TEST(ttl_clamp)
{
	struct mg_settings s = { .dnsbl_ttl_min_ns = 60 * NSEC_PER_SEC, .dnsbl_ttl_max_ns = 3600 * NSEC_PER_SEC };
	struct dnsbl_params p;
	struct dnsbl_answer a;

	dnsbl_params_from(&s, &p);
	a = answer(1, IP(127, 0, 0, 2), 0, 10);
	ASSERT_EQ(dnsbl_answer_ttl_ns(&p, &a), 60 * NSEC_PER_SEC, "raised to ttl_min");
	a.ttl = 900;
	ASSERT_EQ(dnsbl_answer_ttl_ns(&p, &a), 900 * NSEC_PER_SEC, "kept");
	a.ttl = 86400;
	ASSERT_EQ(dnsbl_answer_ttl_ns(&p, &a), 3600 * NSEC_PER_SEC, "cut to ttl_max");
	a = (struct dnsbl_answer){ .result = DR_NXDOMAIN };
	ASSERT_EQ(dnsbl_answer_ttl_ns(&p, &a), 60 * NSEC_PER_SEC, "nxdomain: ttl_min");
	a = (struct dnsbl_answer){ .result = DR_SERVFAIL };
	ASSERT_EQ(dnsbl_answer_ttl_ns(&p, &a), 60 * NSEC_PER_SEC, "error: ttl_min");
	s.dnsbl_ttl_min_ns = 0;
	s.dnsbl_ttl_max_ns = 0;
	dnsbl_params_from(&s, &p);
	ASSERT_EQ(p.ttl_min_ns, NSEC_PER_SEC, "floor 1s");
	ASSERT_EQ(p.ttl_max_ns, 3600 * NSEC_PER_SEC, "default max");
}

TEST(selftest_rule)
{
	struct dnsbl_answer listed = answer(1, IP(127, 0, 0, 2), 0, 60);
	struct dnsbl_answer nx = { .result = DR_NXDOMAIN }, nodata = { .result = DR_CLEAN };
	struct dnsbl_answer to = { .result = DR_TIMEOUT };
	struct dnsbl_answer refusal = { .result = DR_REFUSAL_CODE, .n = 1, .a = { IP(127, 255, 255, 254) } };
	char why[160];

	ASSERT_TRUE(dnsbl_selftest_family(&listed, &nx, why, sizeof(why)), "good zone");
	ASSERT_TRUE(dnsbl_selftest_family(&listed, &nodata, why, sizeof(why)), "nodata for .1 is fine");
	ASSERT_TRUE(!dnsbl_selftest_family(&listed, &listed, why, sizeof(why)), "lists everything");
	ASSERT_HAS_SUBSTR(why, "lists everything", why);
	ASSERT_TRUE(!dnsbl_selftest_family(&nx, &nx, why, sizeof(why)), "lists nothing");
	ASSERT_HAS_SUBSTR(why, "not listed (nxdomain)", why);
	ASSERT_TRUE(!dnsbl_selftest_family(&to, &to, why, sizeof(why)), "dead");
	ASSERT_HAS_SUBSTR(why, "timeout", why);
	ASSERT_TRUE(!dnsbl_selftest_family(&refusal, &nx, why, sizeof(why)), "refusal is not a listing");
	ASSERT_TRUE(!dnsbl_selftest_family(&listed, &to, why, sizeof(why)), ".1 must be answered");
}

/* the list syntax of sites and resolvers: commas and/or white space */
TEST(list_items)
{
	const char *p = " a.test,b.test\t, ,c.test\n";
	char tok[8], got[64] = "";
	int r;

	while ((r = dnsbl_list_next(&p, tok, sizeof(tok))) > 0)
		snprintf(got + strlen(got), sizeof(got) - strlen(got), "[%s]", tok);
	ASSERT_EQ(r, 0, "end");
	ASSERT_STREQ(got, "[a.test][b.test][c.test]", got);
	p = "a.test, toolong.test";
	ASSERT_EQ(dnsbl_list_next(&p, tok, sizeof(tok)), 1, "first");
	ASSERT_EQ(dnsbl_list_next(&p, tok, sizeof(tok)), -E2BIG, "too long");
	ASSERT_STREQ(p, "toolong.test", "left at the long item");
	p = " , ";
	ASSERT_EQ(dnsbl_list_next(&p, tok, sizeof(tok)), 0, "only separators");
}

TEST(resolver_lists)
{
	ASSERT_OK(dnsbl_resolvers_check("system", err, sizeof(err)), "system");
	ASSERT_OK(dnsbl_resolvers_check("", err, sizeof(err)), "empty = system");
	ASSERT_OK(dnsbl_resolvers_check("127.0.0.1:5353, [::1]:53", err, sizeof(err)), "spec example");
	ASSERT_OK(dnsbl_resolvers_check("192.0.2.53 ::1,[2001:db8::53]", err, sizeof(err)), "default ports");
	ASSERT_EQ(dnsbl_resolvers_check("system, 127.0.0.1", err, sizeof(err)), -EINVAL, "mixed");
	ASSERT_HAS_SUBSTR(err, "system", "the message");
	ASSERT_EQ(dnsbl_resolvers_check("127.0.0.1 system", err, sizeof(err)), -EINVAL, "mixed, system last");
	ASSERT_EQ(dnsbl_resolvers_check("system,", err, sizeof(err)), -EINVAL, "system and a comma");
	ASSERT_OK(dnsbl_resolvers_check(" system \t", err, sizeof(err)), "system with blanks");
	ASSERT_EQ(dnsbl_resolvers_check("127.0.0.1:99999", err, sizeof(err)), -EINVAL, "port");
	ASSERT_HAS_SUBSTR(err, "127.0.0.1:99999", "the message");
	ASSERT_EQ(dnsbl_resolvers_check("127.0.0.1:", err, sizeof(err)), -EINVAL, "empty port");
	ASSERT_EQ(dnsbl_resolvers_check("[::1", err, sizeof(err)), -EINVAL, "bracket");
	ASSERT_HAS_SUBSTR(err, "'[::1'", "the message");
	ASSERT_EQ(dnsbl_resolvers_check("ns.example.org", err, sizeof(err)), -EINVAL, "names");
	ASSERT_HAS_SUBSTR(err, "ns.example.org", "the message");
}

TEST(settings_check)
{
	struct mg_settings *s = calloc(1, sizeof(*s));
	const char *key = NULL;

	strcpy(s->dnsbl_sites, "bl.example");
	strcpy(s->dnsbl_resolvers, "127.0.0.1:53");
	s->dnsbl_threshold = 3;
	s->dnsbl_allow_threshold = -1;
	ASSERT_OK(dnsbl_settings_check(s, &key, err, sizeof(err)), "good");
	s->dnsbl_threshold = 0;
	ASSERT_EQ(dnsbl_settings_check(s, &key, err, sizeof(err)), -EINVAL, "threshold 0 blocks everyone");
	ASSERT_HAS_SUBSTR(err, "threshold 0", "the message");
	ASSERT_STREQ(key, "threshold", "key threshold");
	s->dnsbl_threshold = 3;
	s->dnsbl_allow_threshold = 3;
	ASSERT_EQ(dnsbl_settings_check(s, &key, err, sizeof(err)), -EINVAL, "allow >= threshold");
	ASSERT_HAS_SUBSTR(err, "allowlist_threshold 3", "the message");
	ASSERT_STREQ(key, "allowlist_threshold", "key allowlist_threshold");
	s->dnsbl_allow_threshold = -1;
	s->dnsbl_timeout_ns = 90 * NSEC_PER_SEC;
	ASSERT_EQ(dnsbl_settings_check(s, &key, err, sizeof(err)), -EINVAL, "timeout");
	ASSERT_STREQ(key, "timeout", "key timeout");
	s->dnsbl_timeout_ns = 0;
	strcpy(s->dnsbl_resolvers, "127.0.0.1:0");
	ASSERT_EQ(dnsbl_settings_check(s, &key, err, sizeof(err)), -EINVAL, "resolvers");
	ASSERT_STREQ(key, "resolvers", "key resolvers");
	strcpy(s->dnsbl_resolvers, "system");
	strcpy(s->dnsbl_sites, "bl.example*z");
	ASSERT_EQ(dnsbl_settings_check(s, &key, err, sizeof(err)), -EINVAL, "sites");
	ASSERT_STREQ(key, "sites", "key sites");
	ASSERT_EQ(dnsbl_settings_check(s, NULL, err, sizeof(err)), -EINVAL, "key may be NULL");
	free(s);
}

int main(int argc, char **argv)
{
	return test_main(argc, argv, NULL, NULL);
}
