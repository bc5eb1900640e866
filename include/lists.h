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
	__u8 pad[4];
};

struct mg_list_meta {
	__u32 gen;         /* the live slot is gen & 1; +1 per switch */
	__u32 lock;        /* [MG_LIST_ALLOW] only: pid of the writer holding the lists lock */
	__u64 flipped_ns;  /* CLOCK_BOOTTIME of the last switch (controller's note) */
	__u64 entries[2];  /* entries written into each slot's set (controller's note) */
	struct mg_list_lens lens[2];
};

LISTS_INLINE int mg_rule_active(const struct mg_rule *r, __u64 now)
{
	return r->expires_ns == 0 || r->expires_ns > now;
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

LISTS_INLINE int mg_addr_v4(const __u8 *a)
{
	__u32 w[3];

	__builtin_memcpy(w, a, 12);
	return w[0] == 0 && w[1] == 0 && w[2] == mg_be32(0xffffu);
}

/* the key of addr's prefix of length plen (0..128): four masked words */
LISTS_INLINE void mg_list_key(struct mg_lpm_key *k, const __u8 *addr, __u32 plen)
{
	__u32 w[4];

	__builtin_memcpy(w, addr, 16);
	k->prefixlen = plen;
#ifdef __bpf__
#pragma unroll
#endif
	for (int i = 0; i < 4; i++) {
		__u32 bits = plen > 32u * i ? plen - 32u * i : 0;

		if (bits < 32)
			w[i] &= bits ? mg_be32(~0u << (32 - bits)) : 0;
	}
	__builtin_memcpy(k->a, w, 16);
}

/* which families an entry counts for: bit 0 IPv4, bit 1 IPv6 */
LISTS_INLINE __u32 mg_list_families(const struct mg_lpm_key *k)
{
	static const __u8 mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	__u32 plen = k->prefixlen, covers4 = 1;

	for (__u32 b = 0; b < 96 && b < plen; b++)
		if (((k->a[b / 8] ^ mapped[b / 8]) >> (7 - b % 8)) & 1)
			covers4 = 0;
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
 * set: the rule when the i-th longest length in use is an active match,
 * else NULL (the search goes on with i + 1; the first rule found wins).
 * mg_list_probe(set, key) is the exact lookup of each side (defined before
 * including this header): the XDP program's bpf_map_lookup_elem on the
 * set, userspace's syscall into a buffer. */
#ifdef mg_list_probe
LISTS_INLINE const struct mg_rule *mg_list_step(void *set, const struct mg_list_lens *lens, int v4,
						const __u8 *addr, __u64 now, __u32 i,
						struct mg_lpm_key *k)
{
	const struct mg_rule *r;

	if (i >= MG_LIST_LENS)
		return 0;
	mg_list_key(k, addr, v4 ? lens->v4[i] : lens->v6[i]);
	r = mg_list_probe(set, k);
	return r && mg_rule_active(r, now) ? r : 0;
}
#endif

#endif /* MAILGATE_LISTS_H */
