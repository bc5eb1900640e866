/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* rbldnsd data files (ip4set, ip4trie, ip6trie, and their $DATASET
 * sections in a combined file): parsed by zone_parse.c, loaded into and
 * exported from the deny list by zone.c. */
#ifndef MAILGATE_ZONE_H
#define MAILGATE_ZONE_H

#include "mailgate.h"

enum zone_type {
	ZT_AUTO,    /* each line by its address: IPv4 (ip4set syntax) or IPv6 */
	ZT_IP4SET,  /* prefixes, CIDRs and ranges a.b.c.d-e.f.g.h */
	ZT_IP4TRIE, /* CIDRs only */
	ZT_IP6TRIE, /* IPv6 CIDRs */
	ZT_OTHER,   /* a $DATASET of a type without addresses (generic, dnset, ...): skipped */
};

struct zone_entry {
	struct mg_lpm_key key; /* IPv4 as ::ffff:a.b.c.d, prefixlen 96 + n */
	uint32_t value;        /* the A value (host order), 0 when the file gives none */
	uint32_t excl;         /* '!' exclusion */
};

/* an IPv4 range of a line a.b.c.d-e.f.g.h, kept as a range: ranges with the
 * same value and the same '!' that overlap or touch are merged, and only the
 * load turns them into CIDRs, a batch at a time (never all at once) */
struct zone_range {
	uint32_t lo, hi;  /* host order, inclusive */
	uint32_t value;
	uint32_t excl;
};

struct zone_data {
	struct zone_entry *e;  /* CIDRs (sorted, one per prefix, after zone_parse) */
	size_t n, cap;
	struct zone_range *r;  /* ranges (sorted, merged, after zone_parse) */
	size_t nr, rcap;
	size_t lines, bad, dups, excluded;
	size_t good;           /* lines that gave an entry (bad + good: the entry lines) */
	size_t prefixes;       /* n + the CIDRs of the ranges */
};

/* Called for each bad line (skipped); line numbers start at 1. */
typedef void (*zone_bad_fn)(void *ctx, size_t line, const char *msg);

int zone_type_parse(const char *s, enum zone_type *t);
/* Parse a whole file. Bad lines are reported and skipped (the message with
 * control bytes escaped); duplicate CIDRs are dropped (an exclusion wins over
 * a listing); ranges are merged. -errno only when reading fails or memory
 * runs out. */
int zone_parse(FILE *f, enum zone_type type, struct zone_data *out, zone_bad_fn bad, void *ctx);
void zone_data_free(struct zone_data *z);
/* one line (for tests): 0 and n entries appended, or -EINVAL with a message */
int zone_parse_line(char *line, enum zone_type *type, uint32_t *def_value, uint32_t *maxrange4,
		    struct zone_data *out, char *err, size_t errlen);
int zone_key_cmp(const struct mg_lpm_key *a, const struct mg_lpm_key *b);
/* The CIDRs of a range (the fewest that cover it exactly), one per call:
 * *cur starts at r->lo; false once past the end. */
bool zone_range_next(const struct zone_range *r, uint64_t *cur, struct mg_lpm_key *k);
size_t zone_range_cidrs(const struct zone_range *r);
/* Is k one of the CIDRs of the file (a CIDR line or a piece of a range)? */
bool zone_has_key(const struct zone_data *z, const struct mg_lpm_key *k);
/* s with bytes below 0x20 and 0x7f written as \xNN, into out (always terminated) */
const char *zone_escape(const char *s, char *out, size_t len);

#endif /* MAILGATE_ZONE_H */
