// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Parsing of rbldnsd data files into prefixes for the deny list:
 *   ip4set   a.b.c.d, a.b.c (= /24), a.b (= /16), a.b.c.d/n, a.b/n,
 *            ranges a.b.c.d-e.f.g.h, a.b.c-e.f.g, a.b.c.d-h (last octet)
 *   ip4trie  CIDRs (and the a.b.c prefix forms)
 *   ip6trie  IPv6 CIDRs, "::" compressed or rbldnsd's short form
 *            (2001:db8:1 = 2001:db8:1::/48)
 *   values   ":A:TXT" (A as 127.0.0.2 or just 2), or TXT alone
 *   lines    !exclusion, :default value, $DATASET sections of combined
 *            files, $MAXRANGE4, other $ specials, # and ; comments
 * Ranges become the fewest CIDRs that cover them exactly. */
#include <arpa/inet.h>
#include <ctype.h>
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "zone.h"

static bool mg_addr_v4_key(const struct mg_lpm_key *k)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	return !memcmp(k->a, mapped, 12);
}

#define ERR(...) (snprintf(err, errlen, __VA_ARGS__), -EINVAL)

int zone_type_parse(const char *s, enum zone_type *t)
{
	if (!strcmp(s, "auto"))
		*t = ZT_AUTO;
	else if (!strcmp(s, "ip4set") || !strcmp(s, "ip4tset"))
		*t = ZT_IP4SET;
	else if (!strcmp(s, "ip4trie"))
		*t = ZT_IP4TRIE;
	else if (!strcmp(s, "ip6trie") || !strcmp(s, "ip6tset"))
		*t = ZT_IP6TRIE;
	else
		return -EINVAL;
	return 0;
}

static int push(struct zone_data *z, const struct mg_lpm_key *k, uint32_t value, bool excl)
{
	if (z->n == z->cap) {
		size_t cap = z->cap ? z->cap * 2 : 4096;
		struct zone_entry *e = realloc(z->e, cap * sizeof(*e));

		if (!e)
			return -ENOMEM;
		z->e = e;
		z->cap = cap;
	}
	z->e[z->n].key = *k;
	z->e[z->n].value = excl ? 0 : value;
	z->e[z->n].excl = excl;
	z->n++;
	return 0;
}

/* 1..4 dotted decimal octets, left-aligned in *a; the count, or -1 */
static int v4_octets(const char **p, uint32_t *a)
{
	const char *s = *p;
	int n = 0;

	*a = 0;
	for (;;) {
		unsigned v = 0, d = 0;

		while (isdigit((unsigned char)*s) && d < 4) {
			v = v * 10 + (*s++ - '0');
			d++;
		}
		if (!d || d > 3 || v > 255 || n == 4)
			return -1;
		*a |= v << (24 - 8 * n);
		n++;
		if (*s != '.' || !isdigit((unsigned char)s[1]))
			break;
		s++;
	}
	*p = s;
	return n;
}

static uint32_t mask_of(int bits)
{
	return bits ? 0xffffffffu << (32 - bits) : 0;
}

static int add_v4_cidr(struct zone_data *z, uint32_t a, int bits, uint32_t value, bool excl)
{
	struct mg_lpm_key k = { .prefixlen = 96 + bits };

	k.a[10] = k.a[11] = 0xff;
	k.a[12] = a >> 24;
	k.a[13] = a >> 16;
	k.a[14] = a >> 8;
	k.a[15] = a;
	return push(z, &k, value, excl);
}

/* the CIDR at cur of the fewest that cover [cur, end): its length */
static int piece_bits(uint64_t cur, uint64_t end)
{
	int bits = 32;

	while (bits > 0) {
		uint64_t size = 1ull << (33 - bits);

		if ((cur & (size - 1)) || cur + size > end)
			break;
		bits--;
	}
	return bits;
}

bool zone_range_next(const struct zone_range *r, uint64_t *cur, struct mg_lpm_key *k)
{
	uint64_t end = (uint64_t)r->hi + 1;
	int bits;

	if (*cur >= end)
		return false;
	bits = piece_bits(*cur, end);
	memset(k, 0, sizeof(*k));
	k->prefixlen = 96 + bits;
	k->a[10] = k->a[11] = 0xff;
	k->a[12] = *cur >> 24;
	k->a[13] = *cur >> 16;
	k->a[14] = *cur >> 8;
	k->a[15] = *cur;
	*cur += 1ull << (32 - bits);
	return true;
}

size_t zone_range_cidrs(const struct zone_range *r)
{
	uint64_t cur = r->lo, end = (uint64_t)r->hi + 1;
	size_t n = 0;

	while (cur < end) {
		cur += 1ull << (32 - piece_bits(cur, end));
		n++;
	}
	return n;
}

static int push_range(struct zone_data *z, uint32_t lo, uint32_t hi, uint32_t value, bool excl)
{
	if (z->nr == z->rcap) {
		size_t cap = z->rcap ? z->rcap * 2 : 1024;
		struct zone_range *r = realloc(z->r, cap * sizeof(*r));

		if (!r)
			return -ENOMEM;
		z->r = r;
		z->rcap = cap;
	}
	z->r[z->nr++] = (struct zone_range){ .lo = lo, .hi = hi, .value = excl ? 0 : value, .excl = excl };
	return 0;
}

/* an IPv4 entry; *lo..*hi and whether it was a plain CIDR */
static int parse_v4(const char *tok, bool ranges, uint32_t *lo, uint32_t *hi, int *cidr_bits,
		    char *err, size_t errlen)
{
	const char *s = tok;
	uint32_t a, b;
	int n, m;

	n = v4_octets(&s, &a);
	if (n < 0)
		return ERR("'%s': not an IPv4 address, prefix or range", tok);
	if (*s == '/') {
		uint32_t bits;

		if (parse_u32(s + 1, 0, 32, &bits))
			return ERR("'%s': prefix length must be 0..32", tok);
		if (a & ~mask_of(bits))
			return ERR("'%s': host bits set (the network is %u.%u.%u.%u/%u)", tok, a >> 24,
				   (a >> 16) & 255, (a >> 8) & 255, a & mask_of(bits) & 255, bits);
		*lo = a;
		*hi = a | ~mask_of(bits);
		*cidr_bits = bits;
		return 0;
	}
	if (*s == '-') {
		if (!ranges)
			return ERR("'%s': ranges are not allowed in ip4trie (use CIDRs)", tok);
		s++;
		m = v4_octets(&s, &b);
		if (m < 0 || *s)
			return ERR("'%s': the end of the range is not an address or prefix", tok);
		if (m == 1 && n > 1) /* 127.0.0.1-255: the last given octet */
			b = (b >> (8 * (n - 1))) | (a & mask_of(8 * (n - 1)));
		else if (m != n)
			return ERR("'%s': both ends of a range need the same number of octets", tok);
		*lo = a;
		*hi = b | ~mask_of(8 * n);
		if (*lo > *hi)
			return ERR("'%s': the range ends before it starts", tok);
		*cidr_bits = -1;
		return 0;
	}
	if (*s)
		return ERR("'%s': unexpected '%s'", tok, s);
	if (n == 1)
		return ERR("'%s': a bare number is not a prefix (write %s/8 or %s.0.0.0/8)", tok, tok, tok);
	*lo = a;
	*hi = a | ~mask_of(8 * n);
	*cidr_bits = 8 * n;
	return 0;
}

/* an IPv6 CIDR: "::" form (default /128) or rbldnsd's short form (16 bits per group) */
static int parse_v6(const char *tok, struct mg_lpm_key *k, char *err, size_t errlen)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	char addr[INET6_ADDRSTRLEN + 8];
	const char *slash = strchr(tok, '/');
	size_t len = slash ? (size_t)(slash - tok) : strlen(tok);
	uint32_t bits = 128;
	int colons = 0;

	if (len == 0 || len >= sizeof(addr))
		return ERR("'%s': not an IPv6 address or prefix", tok);
	memcpy(addr, tok, len);
	addr[len] = 0;
	for (size_t i = 0; i < len; i++)
		colons += addr[i] == ':';
	memset(k, 0, sizeof(*k));
	if (strstr(addr, "::") || colons == 7 || strchr(addr, '.')) {
		if (inet_pton(AF_INET6, addr, k->a) != 1)
			return ERR("'%s': not an IPv6 address", tok);
	} else {
		const char *p = addr;
		int g = 0;

		while (*p) {
			unsigned v = 0, d = 0;

			while (isxdigit((unsigned char)*p) && d < 5) {
				v = v * 16 + (isdigit((unsigned char)*p) ? *p - '0' : (tolower(*p) - 'a' + 10));
				p++;
				d++;
			}
			if (!d || d > 4 || g == 8)
				return ERR("'%s': not an IPv6 prefix", tok);
			k->a[2 * g] = v >> 8;
			k->a[2 * g + 1] = v;
			g++;
			if (*p == ':')
				p++;
			else if (*p)
				return ERR("'%s': not an IPv6 prefix", tok);
		}
		if (g == 1 && !slash)
			return ERR("'%s': a bare number is not a prefix (write %s::/16)", tok, addr);
		bits = 16 * g;
	}
	if (slash && parse_u32(slash + 1, 0, 128, &bits))
		return ERR("'%s': prefix length must be 0..128", tok);
	for (uint32_t b = bits; b < 128; b++)
		if (k->a[b / 8] & (0x80 >> (b % 8)))
			return ERR("'%s': host bits set beyond /%u", tok, bits);
	/* mailgate keeps IPv4 as ::ffff:0:0/96: a shorter prefix over it
	 * would also deny IPv4, which an rbldnsd ip6trie never does */
	if (bits < 96) {
		bool covers = true;

		for (uint32_t b = 0; b < bits && covers; b++)
			covers = !(((k->a[b / 8] ^ mapped[b / 8]) >> (7 - b % 8)) & 1);
		if (covers)
			return ERR("'%s': covers the IPv4-mapped range ::ffff:0:0/96, where mailgate keeps "
				   "IPv4; split it around that range", tok);
	}
	k->prefixlen = bits;
	return 0;
}

/* ":A:TXT" -> A; 1 to 4 octets, rbldnsd-style (":2" is 127.0.0.2) */
static int parse_value(const char *s, uint32_t *out, char *err, size_t errlen)
{
	const char *p = s + 1;
	uint32_t a;
	int n = v4_octets(&p, &a);

	if (n < 0 || a == 0)
		return ERR("'%s': invalid A value", s);
	switch (n) {
	case 1: a = 0x7f000000u | (a >> 24); break;
	case 2: a = (a & 0xff000000u) | ((a >> 16) & 255); break;
	case 3: a = (a & 0xffff0000u) | ((a >> 8) & 255); break;
	}
	while (*p == ' ' || *p == '\t')
		p++;
	if (a == 0 || (*p && *p != ':' && *p != '#'))
		return ERR("'%s': invalid A value", s);
	*out = a;
	return 0;
}

static int directive(const char *d, enum zone_type *type, uint32_t *def, uint32_t *maxr, char *err,
		     size_t errlen)
{
	char word[32], arg[64] = "";
	enum zone_type t;

	if (sscanf(d, "%31s %63s", word, arg) < 1)
		return ERR("'$%s': empty directive", d);
	if (!strcasecmp(word, "DATASET")) {
		char *colon = strchr(arg, ':');

		if (!arg[0])
			return ERR("'$%s': $DATASET needs a type", d);
		if (colon)
			*colon = 0;
		*type = zone_type_parse(arg, &t) || !strcmp(arg, "auto") ? ZT_OTHER : t;
		*def = 0;
		*maxr = 0;
		return 0;
	}
	if (!strcasecmp(word, "MAXRANGE4")) {
		uint32_t v;

		if (arg[0] == '/' ? parse_u32(arg + 1, 0, 32, &v) : parse_u32(arg, 1, UINT32_MAX, &v))
			return ERR("'$%s': $MAXRANGE4 wants a count or /bits", d);
		if (arg[0] == '/') /* /n: 2^(32-n) addresses */
			v = v ? (uint32_t)(1ull << (32 - v)) : UINT32_MAX;
		if (!*maxr || v < *maxr)
			*maxr = v; /* can be lowered, not raised */
		return 0;
	}
	if (!strcasecmp(word, "SOA") || !strcasecmp(word, "NS") || !strcasecmp(word, "TTL") ||
	    !strcasecmp(word, "TIMESTAMP") || (isdigit((unsigned char)word[0]) && !word[1]) ||
	    word[0] == '=')
		return 0; /* DNS matters, not deny-list ones */
	return ERR("'$%s': unknown special entry", word);
}

int zone_parse_line(char *line, enum zone_type *type, uint32_t *def, uint32_t *maxr,
		    struct zone_data *out, char *err, size_t errlen)
{
	char *s = line, *e, *tok;
	bool excl = false, v6;
	uint32_t value = *def;
	char save;
	int r;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = 0;
	if (!*s)
		return 0;
	if (s[0] == '$' || ((s[0] == '#' || s[0] == ':') && s[1] == '$'))
		return directive(s + (s[0] == '$' ? 1 : 2), type, def, maxr, err, errlen);
	if (*type == ZT_OTHER || s[0] == '#' || s[0] == ';')
		return 0;
	if (s[0] == ':' && s[1] != ':')
		return parse_value(s, def, err, errlen);
	if (s[0] == '!') {
		excl = true;
		s++;
		while (*s == ' ' || *s == '\t')
			s++;
	}
	/* the address ends at blanks or a comment; an IPv4 one also at ':' */
	if (*type == ZT_AUTO) {
		size_t n = strcspn(s, " \t#;"), d = strcspn(s, ".:");

		v6 = d < n && s[d] == ':';
	} else {
		v6 = *type == ZT_IP6TRIE;
	}
	tok = s;
	s += strcspn(s, v6 ? " \t#;" : " \t#;:");
	save = *s;
	*s = 0;
	if (!*tok) {
		*s = save;
		return ERR("'%s': no address", line);
	}
	if (v6) {
		struct mg_lpm_key k;

		r = parse_v6(tok, &k, err, errlen);
		*s = save;
		if (r)
			return r;
		r = 0;
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == ':' && parse_value(s, &value, err, errlen))
			return -EINVAL;
		return push(out, &k, value, excl);
	} else {
		uint32_t lo, hi;
		int bits;

		r = parse_v4(tok, *type != ZT_IP4TRIE, &lo, &hi, &bits, err, errlen);
		*s = save;
		if (r)
			return r;
		if (*maxr && (uint64_t)hi - lo + 1 > *maxr)
			return ERR("'%s': %llu addresses, more than $MAXRANGE4 %u", tok,
				   (unsigned long long)hi - lo + 1, *maxr);
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == ':' && parse_value(s, &value, err, errlen))
			return -EINVAL;
		if (bits >= 0)
			return add_v4_cidr(out, lo, bits, value, excl);
		return push_range(out, lo, hi, value, excl);
	}
}

/* the address's two halves as numbers: the order of memcmp, without a call
 * per comparison (a load takes 1M entries through qsort and bsearch) */
static inline void key_halves(const struct mg_lpm_key *k, uint64_t h[2])
{
	memcpy(h, k->a, 16);
	h[0] = be64toh(h[0]);
	h[1] = be64toh(h[1]);
}

int zone_key_cmp(const struct mg_lpm_key *a, const struct mg_lpm_key *b)
{
	uint64_t x[2], y[2];

	key_halves(a, x);
	key_halves(b, y);
	if (x[0] != y[0])
		return x[0] < y[0] ? -1 : 1;
	if (x[1] != y[1])
		return x[1] < y[1] ? -1 : 1;
	return a->prefixlen < b->prefixlen ? -1 : a->prefixlen > b->prefixlen;
}

static int entry_cmp(const void *x, const void *y)
{
	const struct zone_entry *a = x, *b = y;
	int c = zone_key_cmp(&a->key, &b->key);

	if (c)
		return c;
	return (int)b->excl - (int)a->excl; /* exclusions first: they win */
}

static int range_cmp(const void *x, const void *y)
{
	const struct zone_range *a = x, *b = y;

	if (a->excl != b->excl)
		return a->excl ? -1 : 1; /* exclusions first: they win */
	if (a->value != b->value)
		return a->value < b->value ? -1 : 1;
	return a->lo < b->lo ? -1 : a->lo > b->lo;
}

const char *zone_escape(const char *s, char *out, size_t len)
{
	size_t o = 0;

	for (const unsigned char *p = (const unsigned char *)s; *p && o + 5 < len; p++) {
		if (*p < 0x20 || *p == 0x7f)
			o += snprintf(out + o, len - o, "\\x%02x", *p);
		else
			out[o++] = *p;
	}
	if (len)
		out[o < len ? o : len - 1] = 0;
	return out;
}

int zone_parse(FILE *f, enum zone_type type, struct zone_data *z, zone_bad_fn bad, void *ctx)
{
	uint32_t def = 0, maxr = 0;
	char *line = NULL, err[320], msg[4 * sizeof(err)];
	size_t cap = 0, out = 0;
	int r = 0;

	memset(z, 0, sizeof(*z));
	while (getline(&line, &cap, f) > 0) {
		size_t before = z->n, before_r = z->nr;

		z->lines++;
		r = zone_parse_line(line, &type, &def, &maxr, z, err, sizeof(err));
		if (r == -ENOMEM)
			break;
		if (r) {
			z->n = before;
			z->nr = before_r;
			z->bad++;
			if (bad)
				bad(ctx, z->lines, zone_escape(err, msg, sizeof(msg)));
		} else if (z->n != before || z->nr != before_r) {
			z->good++;
		}
		r = 0;
	}
	if (!r && ferror(f))
		r = -EIO;
	free(line);
	if (r)
		return r;
	/* one entry per prefix, sorted */
	if (z->n)
		qsort(z->e, z->n, sizeof(z->e[0]), entry_cmp);
	for (size_t i = 0; i < z->n; i++) {
		if (out && !zone_key_cmp(&z->e[out - 1].key, &z->e[i].key)) {
			z->dups++;
			continue;
		}
		z->e[out++] = z->e[i];
		z->excluded += z->e[i].excl;
	}
	z->n = out;
	/* ranges of the same kind and value that overlap or touch: one */
	out = 0;
	if (z->nr)
		qsort(z->r, z->nr, sizeof(z->r[0]), range_cmp);
	for (size_t i = 0; i < z->nr; i++) {
		struct zone_range *p = out ? &z->r[out - 1] : NULL;

		if (p && p->excl == z->r[i].excl && p->value == z->r[i].value &&
		    (uint64_t)z->r[i].lo <= (uint64_t)p->hi + 1) {
			if (z->r[i].hi > p->hi)
				p->hi = z->r[i].hi;
			z->dups++;
			continue;
		}
		z->r[out++] = z->r[i];
	}
	z->nr = out;
	z->prefixes = z->n;
	for (size_t i = 0; i < z->nr; i++) {
		size_t c = zone_range_cidrs(&z->r[i]);

		z->prefixes += c;
		if (z->r[i].excl)
			z->excluded += c;
	}
	return 0;
}

static bool range_has(const struct zone_range *r, size_t n, uint32_t lo, uint32_t hi, int bits)
{
	for (size_t i = 0; i < n; i++) { /* ranges of each kind are sorted by lo: few kinds */
		size_t a = i, b = n;

		/* [i, b): the run of this kind */
		while (b > a + 1 && (r[b - 1].excl != r[i].excl || r[b - 1].value != r[i].value))
			b--;
		while (a < b) {
			size_t m = (a + b) / 2;

			if (r[m].hi < lo) {
				a = m + 1;
			} else if (r[m].lo > hi) {
				b = m;
			} else {
				/* a piece of r[m] iff inside it and its parent block is not */
				uint64_t size = 1ull << (32 - bits), plo = bits ? lo & ~((size << 1) - 1) : 0;

				if (r[m].lo <= lo && hi <= r[m].hi &&
				    (!bits || plo < r[m].lo || plo + 2 * size - 1 > r[m].hi))
					return true;
				break;
			}
		}
		while (i + 1 < n && r[i + 1].excl == r[i].excl && r[i + 1].value == r[i].value)
			i++;
	}
	return false;
}

bool zone_has_key(const struct zone_data *z, const struct mg_lpm_key *k)
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
	if (z->nr && k->prefixlen >= 96 && mg_addr_v4_key(k)) {
		uint32_t a = (uint32_t)k->a[12] << 24 | k->a[13] << 16 | k->a[14] << 8 | k->a[15];
		int bits = k->prefixlen - 96;
		uint32_t hi4 = a | (bits ? (uint32_t)((1ull << (32 - bits)) - 1) : 0xffffffffu);

		return range_has(z->r, z->nr, a, hi4, bits);
	}
	return false;
}

void zone_data_free(struct zone_data *z)
{
	free(z->e);
	free(z->r);
	memset(z, 0, sizeof(*z));
}
