/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Internals of the DNSBL module, shared by its files (dnsbl_sites.c,
 * dnsbl_query.c, dnsbl_cache.c, dnsbl.c, dnsbl_check.c) and its tests.
 * The rest of mailgate uses the dnsbl.c section of mailgate.h. */
#ifndef MAILGATE_DNSBL_H
#define MAILGATE_DNSBL_H

#include <ares.h>
#include "mailgate.h"

#define DNSBL_MAX_SITES   32
#define DNSBL_MAX_ZONES   32
#define DNSBL_MAX_ALT     8     /* ';'-separated filter alternatives per site */
#define DNSBL_MAX_ANSWERS 32    /* A records scored per answer: more is garbage (a
				 * 512-byte UDP reply holds at most 31) */
#define DNSBL_ZONE_LEN    189   /* 253 minus the 64 characters of an IPv6 nibble prefix */
#define DNSBL_SITE_LEN    256
#define DNSBL_MAX_WEIGHT  1000000
#define DNSBL_QNAME_LEN   256

/* ---- dnsbl_sites.c: postscreen's domain[=filter][*weight] ---- */
/* One filter alternative: a set of allowed values per octet (bitmaps). */
struct dnsbl_pattern {
	uint8_t octet[4][32];
};

struct dnsbl_site {
	int zone;                  /* index into dnsbl_sites.zone */
	int weight;
	int n_pat;                 /* 0: any (valid) answer matches */
	struct dnsbl_pattern pat[DNSBL_MAX_ALT];
	char text[DNSBL_SITE_LEN]; /* the entry as written */
};

struct dnsbl_sites {
	int n_sites;
	int n_zones;               /* distinct domains: one query each per source */
	struct dnsbl_site site[DNSBL_MAX_SITES];
	char zone[DNSBL_MAX_ZONES][DNSBL_ZONE_LEN + 1];
};

/* The next item of a list separated by commas and/or white space (sites,
 * resolvers): copied into tok (len bytes), *p moved past it. 1, 0 at the
 * end, -E2BIG when it does not fit (*p then at the item). */
int dnsbl_list_next(const char **p, char *tok, size_t len);
/* 0, or -EINVAL with a message naming the bad entry in err. Empty spec: no sites. */
int dnsbl_sites_parse(const char *spec, struct dnsbl_sites *out, char *err, size_t errlen);
/* a: the answer's IPv4 address in host order */
bool dnsbl_site_matches(const struct dnsbl_site *s, uint32_t a);
/* The query name (RFC 5782): reversed octets of the IPv4 address in a[12..15],
 * or (nibbles) the 32 nibbles of all of a, reversed. */
int dnsbl_qname(const struct mg_addr *a, bool nibbles, const char *zone, char *buf, size_t len);

/* ---- dnsbl_query.c: c-ares channels and answers ---- */
enum dnsbl_result {
	DR_LISTED,       /* a valid answer that matched a site of the zone */
	DR_CLEAN,        /* valid answer, no site matched; or NOERROR without A records */
	DR_NXDOMAIN,
	DR_TIMEOUT,
	DR_SERVFAIL,
	DR_REFUSED,
	DR_GARBAGE,      /* malformed or truncated reply, an A record outside 127.0.0.0/8, other errors */
	DR_REFUSAL_CODE, /* 127.255.255.0/24 or 127.0.0.255: the list refuses to answer */
	DR_MAX
};
extern const char *const dnsbl_result_names[DR_MAX];
static inline bool dnsbl_result_is_error(enum dnsbl_result r)
{
	return r >= DR_TIMEOUT;
}

struct dnsbl_answer {
	enum dnsbl_result result;  /* DR_LISTED is only set by scoring; parsing gives CLEAN */
	int n;                     /* A records */
	uint32_t a[DNSBL_MAX_ANSWERS]; /* host order */
	uint32_t ttl;              /* seconds: min of the A records; 0 when none */
	uint32_t bad;              /* the first refusal code (or address outside 127/8)
				    * that made it an error; 0 when none */
	int ares_status;
};
void dnsbl_answer_parse(int status, const unsigned char *abuf, int alen, struct dnsbl_answer *ans);
/* 127.255.255.0/24 or 127.0.0.255 */
bool dnsbl_is_refusal_code(uint32_t a);

/* dnsbl_resolvers_check(): in mailgate.h (config.c uses it too) */
/* A channel for DNSBL queries: no search domains, one try per server, the
 * whole query within timeout_ns, SERVFAIL/REFUSED reported, not retried. */
int dnsbl_channel_new(ares_channel *ch, const char *resolvers, uint64_t timeout_ns,
		      char *err, size_t errlen);
/* Wait up to max_ms for c-ares sockets (and extra_fd if >= 0) and process
 * them. Returns true when extra_fd is readable. */
bool dnsbl_channel_poll(ares_channel ch, int extra_fd, int max_ms);

/* ---- scoring and the RFC 5782 self-test (dnsbl_sites.c) ---- */
struct dnsbl_params {
	int32_t threshold;
	int32_t allow_threshold;
	uint64_t ttl_min_ns;
	uint64_t ttl_max_ns;
};
/* Classify a zone's answer against its sites: result (LISTED or not), the
 * zone's contribution to the score, and per site whether it matched
 * (matched[i] for site i of the zone, may be NULL). */
enum dnsbl_result dnsbl_zone_score(const struct dnsbl_sites *ss, int zone,
				   const struct dnsbl_answer *ans, int *score, bool *matched);
/* The verdict for a score: MG_VERDICT_LISTED / ALLOWED / CLEAN */
uint32_t dnsbl_verdict_state(const struct dnsbl_params *p, int score);
extern const char *const dnsbl_verdict_names[4];
/* A zone answer's TTL in ns, clamped to [ttl_min, ttl_max]; errors and
 * negative answers get ttl_min. */
uint64_t dnsbl_answer_ttl_ns(const struct dnsbl_params *p, const struct dnsbl_answer *ans);

/* The four RFC 5782 test points, in this order: */
enum { ST_V4_LISTED, ST_V4_UNLISTED, ST_V6_LISTED, ST_V6_UNLISTED, ST_POINTS };
extern const struct mg_addr dnsbl_test_points[ST_POINTS];
/* true when the family passes; why gets a short reason when it does not */
bool dnsbl_selftest_family(const struct dnsbl_answer *listed, const struct dnsbl_answer *unlisted,
			   char *why, size_t whylen);

/* settings: fill zeros with the [dnsbl] defaults (the check is in mailgate.h) */
void dnsbl_params_from(const struct mg_settings *s, struct dnsbl_params *p);

/* ---- dnsbl_cache.c: per (source, zone) answers for `lookup` in any process ---- */
struct dnsbl_cache_key {
	struct mg_addr addr;
	uint32_t zone_id;          /* dnsbl_zone_id(name) */
};

struct dnsbl_cache_val {
	uint64_t expires_ns;       /* CLOCK_BOOTTIME */
	uint32_t answers[4];       /* host order */
	uint8_t n_answers;
	uint8_t result;            /* enum dnsbl_result */
	uint8_t listed;
	uint8_t pad;
	int32_t weight;            /* what the zone added to the score */
};

#define DNSBL_ZONE_NAME_LEN 192
#define DNSBL_CACHE_ENTRIES 131072
#define DNSBL_ZONES_ENTRIES 256

uint32_t dnsbl_zone_id(const char *zone);
struct dnsbl_cache {
	int cache_fd;
	int zones_fd;
};
/* Create (or reuse) the pinned maps under pin_dir; fds -1 on failure. */
int dnsbl_cache_open(struct dnsbl_cache *c, const char *pin_dir, bool create);
void dnsbl_cache_close(struct dnsbl_cache *c);
int dnsbl_cache_set_zones(struct dnsbl_cache *c, const struct dnsbl_sites *ss);
int dnsbl_cache_put(struct dnsbl_cache *c, const struct mg_addr *a, const char *zone,
		    const struct dnsbl_cache_val *v);

/* ---- dnsbl.c: the lookup thread ---- */
struct dnsbl_tuning {
	uint64_t selftest_interval_ns;  /* passing zones: default 5 min */
	uint64_t selftest_retry_ns;     /* failing or suspended zones: default 30 s */
	uint32_t backoff_after;         /* consecutive failures before backing off: 3 */
	uint64_t backoff_base_ns;       /* first back-off: 5 s, doubling ... */
	uint64_t backoff_max_ns;        /* ... up to 5 min */
	uint32_t queue_len;             /* submissions waiting: 16384 */
};
void dnsbl_default_tuning(struct dnsbl_tuning *t);
struct dnsbl *dnsbl_start_tuned(const struct mg_settings *s, struct gate *g,
				const struct dnsbl_tuning *t);

/* A snapshot for tests and benchmarks. */
#define DNSBL_LAT_SAMPLES 8192
struct dnsbl_stats {
	uint64_t submitted, dropped, verdicts[4], lookups_done;
	uint64_t fresh;                 /* submissions skipped: the source had a fresh verdict */
	uint32_t inflight_peak;         /* most source queries in flight at once */
	uint64_t results[DR_MAX];       /* all zones together */
	uint64_t selftests_done;        /* rounds completed (all zones) */
	bool ready;                     /* first self-test done */
	int n_zones;
	bool suspended[DNSBL_MAX_ZONES], ok4[DNSBL_MAX_ZONES], ok6[DNSBL_MAX_ZONES];
	uint32_t n_lat;                 /* event-to-verdict latencies, ns, the last n_lat */
	uint64_t lat[DNSBL_LAT_SAMPLES];
};
void dnsbl_stats_get(struct dnsbl *d, struct dnsbl_stats *st);

#endif /* MAILGATE_DNSBL_H */
