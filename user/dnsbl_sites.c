// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* DNSBL sites in postscreen's syntax, query names (RFC 5782), scoring of
 * answers, the RFC 5782 self-test rule and the [dnsbl] settings check. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dnsbl.h"

/* ---- sites: domain[=filter][*weight], comma or space separated ---- */

#define ERR(...) (snprintf(err, errlen, __VA_ARGS__), -EINVAL)

static void bit_set(uint8_t *bm, unsigned lo, unsigned hi)
{
	for (unsigned v = lo; v <= hi; v++)
		bm[v / 8] |= 1 << (v % 8);
}

static bool bit_get(const uint8_t *bm, unsigned v)
{
	return bm[v / 8] & (1 << (v % 8));
}

/* a decimal 0..255 at *p; advances *p */
static int octet_num(const char **p, unsigned *out)
{
	const char *s = *p;
	unsigned v = 0;
	int n = 0;

	while (isdigit((unsigned char)*s) && n < 4) {
		v = v * 10 + (*s++ - '0');
		n++;
	}
	if (n == 0 || n > 3 || isdigit((unsigned char)*s))
		return -EINVAL;
	*p = s;
	*out = v;
	return v > 255 ? -ERANGE : 0;
}

/* one octet: N or [N;N..M;...] */
static int parse_octet(const char **p, uint8_t *bm, const char *tok, char *err, size_t errlen)
{
	const char *s = *p;
	unsigned lo, hi;
	int r;

	if (*s != '[') {
		r = octet_num(&s, &lo);
		if (r == -ERANGE)
			return ERR("sites entry '%s': octet value %u is out of range 0..255", tok, lo);
		if (r)
			return ERR("sites entry '%s': expected a number or [range] at '%s'", tok, *p);
		bit_set(bm, lo, lo);
		*p = s;
		return 0;
	}
	s++;
	for (;;) {
		const char *item = s;

		r = octet_num(&s, &lo);
		if (r == -ERANGE)
			return ERR("sites entry '%s': octet value %u is out of range 0..255", tok, lo);
		if (r)
			return ERR("sites entry '%s': expected a number in [...] at '%s'", tok, item);
		hi = lo;
		if (s[0] == '.' && s[1] == '.') {
			s += 2;
			r = octet_num(&s, &hi);
			if (r == -ERANGE)
				return ERR("sites entry '%s': octet value %u is out of range 0..255", tok, hi);
			if (r)
				return ERR("sites entry '%s': expected a number after '..' at '%s'", tok, item);
			if (hi < lo)
				return ERR("sites entry '%s': empty range [%u..%u]", tok, lo, hi);
		}
		bit_set(bm, lo, hi);
		if (*s == ';') {
			s++;
			continue;
		}
		if (*s == ']')
			break;
		return ERR("sites entry '%s': expected ';' or ']' at '%s'", tok, s);
	}
	*p = s + 1;
	return 0;
}

/* one alternative: four octets separated by dots, up to ';' (outside []) or the end */
static int parse_pattern(const char **p, const char *end, struct dnsbl_pattern *pat,
			 const char *tok, char *err, size_t errlen)
{
	const char *s = *p;
	int r;

	memset(pat, 0, sizeof(*pat));
	for (int i = 0; i < 4; i++) {
		if (i > 0) {
			if (s >= end || *s != '.')
				return ERR("sites entry '%s': filter needs four octets (d.d.d.d)", tok);
			s++;
		}
		r = parse_octet(&s, pat->octet[i], tok, err, errlen);
		if (r)
			return r;
		if (s > end)
			return ERR("sites entry '%s': malformed filter", tok);
	}
	if (s != end && *s != ';')
		return ERR("sites entry '%s': unexpected '%.*s' after the filter", tok,
			   (int)(end - s), s);
	*p = s;
	return 0;
}

static int parse_domain(const char *s, size_t n, char *out, const char *tok, char *err,
			size_t errlen)
{
	size_t label = 0;

	if (n > 0 && s[n - 1] == '.')
		n--; /* absolute form */
	if (n == 0)
		return ERR("sites entry '%s': empty domain", tok);
	if (n > DNSBL_ZONE_LEN)
		return ERR("sites entry '%s': domain longer than %d characters", tok, DNSBL_ZONE_LEN);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = s[i];

		if (c == '.') {
			if (label == 0)
				return ERR("sites entry '%s': empty label in the domain", tok);
			label = 0;
		} else if (isalnum(c) || c == '-' || c == '_') {
			if (++label > 63)
				return ERR("sites entry '%s': domain label longer than 63 characters", tok);
		} else {
			return ERR("sites entry '%s': invalid character '%c' in the domain", tok, c);
		}
		out[i] = tolower(c);
	}
	if (!memchr(s, '.', n))
		return ERR("sites entry '%s': '%.*s' is not a DNS zone (no dot)", tok, (int)n, s);
	out[n] = 0;
	return 0;
}

static int parse_weight(const char *s, int *w, const char *tok, char *err, size_t errlen)
{
	char *end;
	long v;

	if (!*s)
		return ERR("sites entry '%s': '*' needs a weight", tok);
	if (!isdigit((unsigned char)*s) && !((*s == '-' || *s == '+') && isdigit((unsigned char)s[1])))
		return ERR("sites entry '%s': weight '%s' is not an integer", tok, s);
	errno = 0;
	v = strtol(s, &end, 10);
	if (*end)
		return ERR("sites entry '%s': weight '%s' is not an integer", tok, s);
	if (errno || v > DNSBL_MAX_WEIGHT || v < -DNSBL_MAX_WEIGHT)
		return ERR("sites entry '%s': weight %s is out of range -%d..%d", tok, s,
			   DNSBL_MAX_WEIGHT, DNSBL_MAX_WEIGHT);
	*w = (int)v;
	return 0;
}

static int parse_site(const char *tok, struct dnsbl_sites *ss, char *err, size_t errlen)
{
	struct dnsbl_site *site;
	char zone[DNSBL_ZONE_LEN + 1];
	const char *eq = strchr(tok, '='), *star = strrchr(tok, '*');
	const char *dom_end, *filt_end;
	int r, z;

	if (ss->n_sites >= DNSBL_MAX_SITES)
		return ERR("sites: more than %d entries (at '%s')", DNSBL_MAX_SITES, tok);
	if (strlen(tok) >= DNSBL_SITE_LEN)
		return ERR("sites entry '%.40s...': longer than %d characters", tok, DNSBL_SITE_LEN - 1);
	if (star && eq && star < eq)
		return ERR("sites entry '%s': the weight (*N) must come after the filter (=...)", tok);
	site = &ss->site[ss->n_sites];
	memset(site, 0, sizeof(*site));
	snprintf(site->text, sizeof(site->text), "%s", tok);
	site->weight = 1;

	dom_end = eq ? eq : star ? star : tok + strlen(tok);
	r = parse_domain(tok, dom_end - tok, zone, tok, err, errlen);
	if (r)
		return r;
	if (star) {
		r = parse_weight(star + 1, &site->weight, tok, err, errlen);
		if (r)
			return r;
	}
	if (eq) {
		const char *p = eq + 1;

		filt_end = star ? star : tok + strlen(tok);
		if (p == filt_end)
			return ERR("sites entry '%s': '=' needs a filter such as 127.0.0.2", tok);
		for (;;) {
			if (site->n_pat >= DNSBL_MAX_ALT)
				return ERR("sites entry '%s': more than %d filter alternatives", tok,
					   DNSBL_MAX_ALT);
			r = parse_pattern(&p, filt_end, &site->pat[site->n_pat++], tok, err, errlen);
			if (r)
				return r;
			if (p == filt_end)
				break;
			p++; /* ';' */
			if (p == filt_end)
				return ERR("sites entry '%s': empty filter alternative after ';'", tok);
		}
	}
	for (z = 0; z < ss->n_zones; z++)
		if (!strcmp(ss->zone[z], zone))
			break;
	if (z == ss->n_zones) {
		if (ss->n_zones >= DNSBL_MAX_ZONES)
			return ERR("sites: more than %d distinct zones (at '%s')", DNSBL_MAX_ZONES, tok);
		strcpy(ss->zone[ss->n_zones++], zone);
	}
	site->zone = z;
	ss->n_sites++;
	return 0;
}

static bool list_sep(char c)
{
	return c == ',' || isspace((unsigned char)c);
}

int dnsbl_list_next(const char **p, char *tok, size_t len)
{
	const char *s = *p;
	size_t n = 0;

	while (list_sep(*s))
		s++;
	*p = s;
	if (!*s)
		return 0;
	while (s[n] && !list_sep(s[n]))
		n++;
	if (n >= len)
		return -E2BIG;
	memcpy(tok, s, n);
	tok[n] = 0;
	*p = s + n;
	return 1;
}

int dnsbl_sites_parse(const char *spec, struct dnsbl_sites *ss, char *err, size_t errlen)
{
	char tok[DNSBL_SITE_LEN + 64];
	const char *p = spec;
	int r;

	memset(ss, 0, offsetof(struct dnsbl_sites, site));
	ss->n_sites = ss->n_zones = 0;
	while ((r = dnsbl_list_next(&p, tok, sizeof(tok))) > 0) {
		r = parse_site(tok, ss, err, errlen);
		if (r)
			return r;
	}
	if (r < 0)
		return ERR("sites entry '%.40s...': too long", p);
	return 0;
}

int dnsbl_sites_check(const char *sites, char *err, size_t errlen)
{
	struct dnsbl_sites *ss = malloc(sizeof(*ss));
	int r;

	if (!ss) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	r = dnsbl_sites_parse(sites, ss, err, errlen);
	free(ss);
	return r;
}

bool dnsbl_site_matches(const struct dnsbl_site *s, uint32_t a)
{
	if (s->n_pat == 0)
		return true;
	for (int i = 0; i < s->n_pat; i++) {
		const struct dnsbl_pattern *p = &s->pat[i];

		if (bit_get(p->octet[0], a >> 24) && bit_get(p->octet[1], (a >> 16) & 255) &&
		    bit_get(p->octet[2], (a >> 8) & 255) && bit_get(p->octet[3], a & 255))
			return true;
	}
	return false;
}

int dnsbl_qname(const struct mg_addr *a, bool nibbles, const char *zone, char *buf, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	char pfx[80];
	int n = 0;

	if (!nibbles) {
		n = snprintf(pfx, sizeof(pfx), "%u.%u.%u.%u", a->a[15], a->a[14], a->a[13], a->a[12]);
	} else {
		for (int i = 15; i >= 0; i--) {
			pfx[n++] = hex[a->a[i] & 15];
			pfx[n++] = '.';
			pfx[n++] = hex[a->a[i] >> 4];
			pfx[n++] = '.';
		}
		pfx[--n] = 0;
	}
	if ((size_t)snprintf(buf, len, "%s.%s", pfx, zone) >= len)
		return -ENAMETOOLONG;
	return 0;
}

/* ---- scoring ---- */

const char *const dnsbl_verdict_names[4] = {
	[MG_VERDICT_PENDING] = "pending",
	[MG_VERDICT_CLEAN] = "clean",
	[MG_VERDICT_LISTED] = "listed",
	[MG_VERDICT_ALLOWED] = "allowed",
};

enum dnsbl_result dnsbl_zone_score(const struct dnsbl_sites *ss, int zone,
				   const struct dnsbl_answer *ans, int *score, bool *matched)
{
	bool any = false;
	int k = 0;

	*score = 0;
	for (int i = 0; i < ss->n_sites; i++) {
		const struct dnsbl_site *s = &ss->site[i];
		bool m = false;

		if (s->zone != zone)
			continue;
		if (ans->result == DR_CLEAN)
			for (int j = 0; j < ans->n && !m; j++)
				m = dnsbl_site_matches(s, ans->a[j]);
		if (m) {
			*score += s->weight;
			any = true;
		}
		if (matched)
			matched[k] = m;
		k++;
	}
	if (ans->result != DR_CLEAN)
		return ans->result;
	return any ? DR_LISTED : DR_CLEAN;
}

uint32_t dnsbl_verdict_state(const struct dnsbl_params *p, int score)
{
	if (score >= p->threshold)
		return MG_VERDICT_LISTED;
	/* as postscreen: allowlisting is on only with a negative threshold, so
	 * that "no zone said anything" (score 0) never verifies a source */
	if (p->allow_threshold < 0 && score <= p->allow_threshold)
		return MG_VERDICT_ALLOWED;
	return MG_VERDICT_CLEAN;
}

uint64_t dnsbl_answer_ttl_ns(const struct dnsbl_params *p, const struct dnsbl_answer *ans)
{
	uint64_t t;

	if (ans->result != DR_CLEAN || ans->n == 0)
		return p->ttl_min_ns; /* negative answers and errors */
	t = (uint64_t)ans->ttl * NSEC_PER_SEC;
	if (t < p->ttl_min_ns)
		t = p->ttl_min_ns;
	if (t > p->ttl_max_ns)
		t = p->ttl_max_ns;
	return t;
}

/* ---- RFC 5782 self-test ---- */

/* ::ffff:127.0.0.2 is also ::FFFF:7F00:2: the same 16 bytes, asked once as
 * reversed octets (IPv4 test) and once as nibbles (IPv6 test). */
#define TP(last) { .a = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, last } }
const struct mg_addr dnsbl_test_points[ST_POINTS] = {
	[ST_V4_LISTED] = TP(2), [ST_V4_UNLISTED] = TP(1),
	[ST_V6_LISTED] = TP(2), [ST_V6_UNLISTED] = TP(1),
};

static void answer_str(const struct dnsbl_answer *a, char *buf, size_t len)
{
	if (a->n > 0)
		snprintf(buf, len, "%s %u.%u.%u.%u", a->result == DR_CLEAN ? "answer" :
			 dnsbl_result_names[a->result], a->a[0] >> 24, (a->a[0] >> 16) & 255,
			 (a->a[0] >> 8) & 255, a->a[0] & 255);
	else if (a->result == DR_CLEAN)
		snprintf(buf, len, "no A record");
	else
		snprintf(buf, len, "%s", dnsbl_result_names[a->result]);
}

bool dnsbl_selftest_family(const struct dnsbl_answer *listed, const struct dnsbl_answer *unlisted,
			   char *why, size_t whylen)
{
	char a[64];

	if (!(listed->result == DR_CLEAN && listed->n > 0)) {
		answer_str(listed, a, sizeof(a));
		snprintf(why, whylen, "test point 2 not listed (%s)", a);
		return false;
	}
	if (unlisted->result == DR_NXDOMAIN || (unlisted->result == DR_CLEAN && unlisted->n == 0))
		return true;
	answer_str(unlisted, a, sizeof(a));
	if (unlisted->result == DR_CLEAN)
		snprintf(why, whylen, "test point 1 listed (%s): the zone lists everything", a);
	else
		snprintf(why, whylen, "test point 1 not answered (%s)", a);
	return false;
}

/* ---- [dnsbl] settings ---- */

void dnsbl_params_from(const struct mg_settings *s, struct dnsbl_params *p)
{
	p->threshold = s->dnsbl_threshold;
	p->allow_threshold = s->dnsbl_allow_threshold;
	p->ttl_min_ns = s->dnsbl_ttl_min_ns;
	p->ttl_max_ns = s->dnsbl_ttl_max_ns ? s->dnsbl_ttl_max_ns : 3600 * NSEC_PER_SEC;
	if (p->ttl_min_ns < NSEC_PER_SEC)
		p->ttl_min_ns = NSEC_PER_SEC; /* a verdict lives at least 1 s */
	if (p->ttl_max_ns < p->ttl_min_ns)
		p->ttl_max_ns = p->ttl_min_ns;
}

/* r for the key at fault (named in *key when key is not NULL) */
static int key_err(const char **key, const char *name, int r)
{
	if (key)
		*key = name;
	return r;
}

int dnsbl_settings_check(const struct mg_settings *s, const char **key, char *err, size_t errlen)
{
	int r;

	r = dnsbl_sites_check(s->dnsbl_sites, err, errlen);
	if (r)
		return key_err(key, "sites", r);
	r = dnsbl_resolvers_check(s->dnsbl_resolvers, err, errlen);
	if (r)
		return key_err(key, "resolvers", r);
	if (s->dnsbl_threshold < 1)
		return key_err(key, "threshold",
			       ERR("threshold %d: must be at least 1 (0 or less would block every source)",
				   s->dnsbl_threshold));
	if (s->dnsbl_allow_threshold >= s->dnsbl_threshold)
		return key_err(key, "allowlist_threshold",
			       ERR("allowlist_threshold %d: must be below threshold %d",
				   s->dnsbl_allow_threshold, s->dnsbl_threshold));
	if (s->dnsbl_timeout_ns && (s->dnsbl_timeout_ns < NSEC_PER_SEC / 10 ||
				    s->dnsbl_timeout_ns > 60 * NSEC_PER_SEC))
		return key_err(key, "timeout", ERR("timeout: must be between 100ms and 60s"));
	if (s->dnsbl_max_inflight > 65536)
		return key_err(key, "max_inflight",
			       ERR("max_inflight %u: must be at most 65536", s->dnsbl_max_inflight));
	if (s->dnsbl_ttl_max_ns && s->dnsbl_ttl_min_ns > s->dnsbl_ttl_max_ns)
		return key_err(key, "ttl_min", ERR("ttl_min must not exceed ttl_max"));
	return 0;
}
