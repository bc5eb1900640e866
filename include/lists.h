/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The allow and deny lists: their layout and their match rules, written
 * once and compiled into both the XDP program (bpf/lists.bpf.h) and the
 * binary (user/listset.c: `lookup`, `top`, the CLI), as include/synflood.h
 * is for the generator.
 *
 * Layout. A list is a hash keyed by (prefix length, address masked to it):
 * struct mg_lpm_key with the host bits zero. Which prefix lengths are in use
 * is published next to it, per address family, longest first, so a lookup
 * probes only those: an IPv4 list of /32s and /24s costs two probes, however
 * many entries it has. The pinned map of a list (mg_allow, mg_deny) is an
 * array of two slots, each holding a set (the hash); struct mg_list_meta
 * (mg_lists, one per list) says which slot is live (gen & 1) and holds the
 * lengths of each slot. A replace builds the new set in a new hash, writes it
 * and its lengths into the slot that is not live, and flips gen: one 4-byte
 * store switches the set and its lengths together. The slot left behind is
 * made a copy of the live one a grace period later (MG_LIST_GRACE_NS), which
 * frees the old set; no data path run lasts that long. Each slot's set is
 * also pinned (MG_LIST_SET_NAME_*_SLOT: bpffs refuses names with a dot) so that userspace opens it by path.
 *
 * Rules (both sides): an entry applies while it has not expired (rule
 * active); the longest ACTIVE prefix wins, so an expired /32 never hides an
 * active /24 around it (the search simply goes on to the next length); on
 * the deny list a winning exclusion (MG_RULE_EXCLUDE, '!' in a zone file)
 * means "not denied". */
#ifndef MAILGATE_LISTS_H
#define MAILGATE_LISTS_H

#include "gate.h"

#ifndef LISTS_INLINE
#define LISTS_INLINE static inline
#endif

#define MG_LIST_SET_NAME_ALLOW "mg_allow_set"
#define MG_LIST_SET_NAME_DENY  "mg_deny_set"
#define MG_LIST_GRACE_NS 20000000ULL /* 20 ms between a flip and reuse of the old slot */

enum mg_list {
	MG_LIST_ALLOW = 0,
	MG_LIST_DENY = 1,
	MG_LISTS
};

#define MG_LIST_LENS 129 /* prefix lengths 0..128 over the 128-bit key */

/* the prefix lengths in use in one set, longest first, per family of the
 * source: v4 for IPv4 sources (an entry counts for IPv4 when its prefix
 * covers an address of ::ffff:0:0/96), v6 for the others */
struct mg_list_lens {
	__u8 n4, n6;
	__u8 v4[MG_LIST_LENS];
	__u8 v6[MG_LIST_LENS];
	__u8 all4, all6;   /* the filter (below) does not apply to this family */
	__u8 pad[2];
};

/* The filter of a set: one bit per 16-bit "block" of the source address, set
 * when some entry of the set may match an address of that block (IPv4: the
 * address's /16, bits 96..111 of the key; IPv6: a fold of its /32, bits
 * 0..31). A source whose bit is clear cannot match: no probe at all. An
 * entry too short to name one block (IPv4 shorter than /8, IPv6 shorter
 * than /32) sets all4/all6 instead. Bits are only ever added to a live
 * slot (an entry is written first, then its bit); a replace builds them
 * anew. 8 KiB per slot, read as one word per lookup. */
#define MG_LIST_FILTER_BITS 65536
#define MG_LIST_FILTER_WORDS (MG_LIST_FILTER_BITS / 64)

struct mg_list_meta {
	__u32 gen;         /* the live slot is gen & 1; +1 per switch */
	__u32 lock;        /* [MG_LIST_ALLOW] only: pid of the writer holding the lists lock */
	__u64 flipped_ns;  /* CLOCK_BOOTTIME of the last switch (controller's note) */
	__u64 entries[2];  /* entries written into each slot's set (controller's note) */
	struct mg_list_lens lens[2];
	__u64 filter[2][MG_LIST_FILTER_WORDS];
};

/* The clock a search asks, CLOCK_BOOTTIME ns behind a pointer: userspace
 * passes the time it read; the data path defines mg_list_now() before
 * including this header to read the clock on first need (bpf/lists.bpf.h):
 * a rule that never expires asks no clock, so a search of a list without
 * TTLs costs no clock read. */
#ifndef mg_list_now
#define mg_list_now(clk) (*(clk))
#endif

/* Is the rule active at the clock's time? */
LISTS_INLINE int mg_rule_active_at(const struct mg_rule *r, __u64 *clk)
{
	return r->expires_ns == 0 || r->expires_ns > mg_list_now(clk);
}

LISTS_INLINE int mg_rule_active(const struct mg_rule *r, __u64 now)
{
	return mg_rule_active_at(r, &now);
}

/* Does a winning rule of this list decide the SYN? (an exclusion does not) */
LISTS_INLINE int mg_rule_decides(__u32 list, const struct mg_rule *r)
{
	return r && !(list == MG_LIST_DENY && (r->flags & MG_RULE_EXCLUDE));
}

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define mg_be32(x) __builtin_bswap32(x)
#else
#define mg_be32(x) (x)
#endif

/* An address as four 32-bit words (network order each). The data path's
 * addresses sit on its stack, 4-byte aligned, and are read a word at a
 * time (a byte-wise copy costs 16 loads and 30 shifts in BPF); userspace's
 * may be anywhere. */
struct mg_list_addr {
	__u32 w[4];
};

LISTS_INLINE void mg_list_addr(struct mg_list_addr *x, const __u8 *a)
{
#ifdef __bpf__
	const __u32 *w = (const __u32 *)a;

	x->w[0] = w[0];
	x->w[1] = w[1];
	x->w[2] = w[2];
	x->w[3] = w[3];
#else
	__builtin_memcpy(x->w, a, 16);
#endif
}

LISTS_INLINE int mg_list_addr_v4(const struct mg_list_addr *x)
{
	return (x->w[0] | x->w[1]) == 0 && x->w[2] == mg_be32(0xffffu);
}

LISTS_INLINE int mg_addr_v4(const __u8 *a)
{
	struct mg_list_addr x;

	mg_list_addr(&x, a);
	return mg_list_addr_v4(&x);
}

/* the filter bit of an address (see struct mg_list_meta) */
LISTS_INLINE __u32 mg_list_filter_bit(const struct mg_list_addr *x, int v4)
{
	__u32 w = v4 ? mg_be32(x->w[3]) : mg_be32(x->w[0]);

	return v4 ? w >> 16 : (w >> 16 ^ w) & 0xffff;
}

/* Can an entry of this set match an address of x's family and block? */
LISTS_INLINE int mg_list_may_match(const struct mg_list_lens *lens, const __u64 *filter,
				   const struct mg_list_addr *x, int v4)
{
	__u32 bit = mg_list_filter_bit(x, v4);

	if (v4 ? lens->all4 : lens->all6)
		return 1;
	return (filter[(bit / 64) & (MG_LIST_FILTER_WORDS - 1)] >> (bit % 64)) & 1;
}

/* the key of x's prefix of length plen (0..128): four masked words */
LISTS_INLINE void mg_list_key_of(struct mg_lpm_key *k, const struct mg_list_addr *x, __u32 plen)
{
	__u32 w[4];

	k->prefixlen = plen;
#ifdef __bpf__
#pragma unroll
#endif
	for (int i = 0; i < 4; i++) {
		__u32 bits = plen > 32u * i ? plen - 32u * i : 0;

		w[i] = x->w[i];
		if (bits < 32)
			w[i] &= bits ? mg_be32(~0u << (32 - bits)) : 0;
	}
#ifdef __bpf__
	/* k is on the stack, 4-byte aligned: word stores */
	((__u32 *)k->a)[0] = w[0];
	((__u32 *)k->a)[1] = w[1];
	((__u32 *)k->a)[2] = w[2];
	((__u32 *)k->a)[3] = w[3];
#else
	__builtin_memcpy(k->a, w, 16);
#endif
}

LISTS_INLINE void mg_list_key(struct mg_lpm_key *k, const __u8 *addr, __u32 plen)
{
	struct mg_list_addr x;

	mg_list_addr(&x, addr);
	mg_list_key_of(k, &x, plen);
}

/* which families an entry counts for: bit 0 IPv4, bit 1 IPv6 */
LISTS_INLINE __u32 mg_list_families(const struct mg_lpm_key *k)
{
	static const __u32 mapped[3] = { 0, 0, mg_be32(0xffffu) };
	__u32 plen = k->prefixlen, covers4 = 1, w[3];

	__builtin_memcpy(w, k->a, 12);
	/* the key's bits 0..min(plen, 96) are those of ::ffff:0:0/96 */
	for (__u32 i = 0; i < 3 && 32 * i < plen; i++) {
		__u32 bits = plen - 32 * i, mask = bits >= 32 ? ~0u : mg_be32(~0u << (32 - bits));

		if ((w[i] ^ mapped[i]) & mask)
			covers4 = 0;
	}
	/* an entry of /96 or longer inside ::ffff:0:0/96 is IPv4 only; one that
	 * covers the mapped range and more counts for both */
	return covers4 ? (plen >= 96 ? 1u : 3u) : 2u;
}

/* How many lengths a source of this family probes. */
LISTS_INLINE __u32 mg_list_count(const struct mg_list_lens *lens, int v4)
{
	__u32 n = v4 ? lens->n4 : lens->n6;

	return n < MG_LIST_LENS ? n : MG_LIST_LENS;
}

/* The i-th probe of the search for the longest active prefix of addr in a
 * set: the rule when the i-th longest length in use is an active match at
 * the clock's time (clk: see mg_list_now), else NULL (the search goes on
 * with i + 1; the first rule found wins).
 * mg_list_probe(set, key) is the exact lookup of each side (defined before
 * including this header): the XDP program's bpf_map_lookup_elem on the
 * set, userspace's syscall into a buffer. */
#ifdef mg_list_probe
LISTS_INLINE const struct mg_rule *mg_list_step(void *set, const struct mg_list_lens *lens, int v4,
						const struct mg_list_addr *x, __u64 *clk, __u32 i,
						struct mg_lpm_key *k)
{
	const struct mg_rule *r;

	if (i >= MG_LIST_LENS)
		return 0;
	mg_list_key_of(k, x, v4 ? lens->v4[i] : lens->v6[i]);
	r = mg_list_probe(set, k);
	return r && mg_rule_active_at(r, clk) ? r : 0;
}
#endif

#endif /* MAILGATE_LISTS_H */
