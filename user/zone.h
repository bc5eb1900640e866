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

struct zone_data {
	struct zone_entry *e;
	size_t n, cap;
	size_t lines, bad, dups, excluded;
};

/* Called for each bad line (skipped); line numbers start at 1. */
typedef void (*zone_bad_fn)(void *ctx, size_t line, const char *msg);

int zone_type_parse(const char *s, enum zone_type *t);
/* Parse a whole file. Bad lines are reported and skipped; duplicates are
 * dropped (the first wins; an exclusion wins over a listing). The entries
 * end up sorted by key. -errno only when reading fails or memory runs out. */
int zone_parse(FILE *f, enum zone_type type, struct zone_data *out, zone_bad_fn bad, void *ctx);
void zone_data_free(struct zone_data *z);
/* one line (for tests): 0 and n entries appended, or -EINVAL with a message */
int zone_parse_line(char *line, enum zone_type *type, uint32_t *def_value, uint32_t *maxrange4,
		    struct zone_data *out, char *err, size_t errlen);
int zone_key_cmp(const struct mg_lpm_key *a, const struct mg_lpm_key *b);

#endif /* MAILGATE_ZONE_H */
