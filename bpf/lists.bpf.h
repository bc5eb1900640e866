/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The allow and deny lists in the data path: their maps and the allow/deny
 * steps of judge(). Layout and rules: include/lists.h. */
#ifndef MAILGATE_LISTS_BPF_H
#define MAILGATE_LISTS_BPF_H

#define mg_list_probe(set, k) ((const struct mg_rule *)bpf_map_lookup_elem(set, k))

/* The clock of a decision (CLOCK_BOOTTIME), read on first need: *clk is 0
 * until then. A denied or allowed SYN whose rule never expires, with `top`
 * not watching, reads no clock (about 30 ns on a VM). The reading's lowest
 * bit is set (1 ns at most): the verifier then knows it is not 0 and
 * explores no second read after the first. */
static __always_inline __u64 clock_now(__u64 *clk)
{
	if (!*clk)
		*clk = bpf_ktime_get_boot_ns() | 1;
	return *clk;
}
#define mg_list_now(clk) clock_now(clk)
#define LISTS_INLINE static __always_inline
#include "lists.h"

/* a set: (prefix length, masked address) -> rule. The sets themselves are
 * created by userspace, sized to their content (user/listset.c); these are
 * the templates the slots' maps must match: type, key and value sizes and
 * flags (preallocated), not max_entries. */
struct mg_allow_set {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(struct mg_lpm_key)); /* sizes, not types: BTF would have */
	__uint(value_size, sizeof(struct mg_rule));   /* only a forward declaration here */
};

struct mg_deny_set {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(struct mg_lpm_key)); /* sizes, not types: BTF would have */
	__uint(value_size, sizeof(struct mg_rule));   /* only a forward declaration here */
};

/* allow list: two slots, the live one named by mg_lists */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 2);
	__type(key, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, struct mg_allow_set);
} mg_allow SEC(".maps");

/* deny list */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 2);
	__type(key, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, struct mg_deny_set);
} mg_deny SEC(".maps");

/* which slot is live, and the prefix lengths in use in each */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MG_LISTS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct mg_list_meta);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mg_lists SEC(".maps");

struct list_search {
	void *set;
	const struct mg_list_lens *lens;
	__u64 now;
	__u32 list;
	int v4;
	int decides; /* out: 1 when the winning rule decides (mg_rule_decides) */
	struct mg_list_addr x;
	struct mg_lpm_key k;
};

#define LIST_INLINE_PROBES 2 /* probes made in line; the rest through bpf_loop */

/* one probe of the search past the first ones (bpf_loop: verified once,
 * whatever the count) */
static long list_search_step(__u64 i, void *ctx)
{
	struct list_search *s = ctx;
	const struct mg_rule *r = mg_list_step(s->set, s->lens, s->v4, &s->x, &s->now,
					       i + LIST_INLINE_PROBES, &s->k);

	if (!r)
		return 0;
	s->decides = mg_rule_decides(s->list, r);
	return 1; /* the longest active prefix: stop */
}

/* Does the longest active prefix of src in the live set of a list decide
 * the SYN? outer is &mg_allow or &mg_deny, list the matching MG_LIST_*.
 * The set's filter first (one word of mg_lists): most sources are in no
 * block of the list and cost no probe. */
static __always_inline bool list_lookup(void *outer, __u32 list, const struct mg_addr *src, __u64 *clk)
{
	struct mg_list_meta *m = bpf_map_lookup_elem(&mg_lists, &list);
	struct list_search s;
	__u32 slot, n;

	if (!m)
		return false;
	slot = *(volatile __u32 *)&m->gen & 1;
	/* a constant offset per slot: the verifier then needs no bounds on slot */
	s.lens = slot ? &m->lens[1] : &m->lens[0];
	mg_list_addr(&s.x, src->a);
	s.v4 = mg_list_addr_v4(&s.x);
	n = mg_list_count(s.lens, s.v4);
	if (!n || !mg_list_may_match(s.lens, slot ? m->filter[1] : m->filter[0], &s.x, s.v4))
		return false;
	s.set = bpf_map_lookup_elem(outer, &slot);
	if (!s.set)
		return false;
	/* the common lists (one or two lengths per family) take no helper call */
#pragma unroll
	for (__u32 i = 0; i < LIST_INLINE_PROBES; i++) {
		const struct mg_rule *r;

		if (i >= n)
			return false;
		r = mg_list_step(s.set, s.lens, s.v4, &s.x, clk, i, &s.k);
		if (r)
			return mg_rule_decides(list, r);
	}
	s.now = clock_now(clk); /* read here: the loop's steps ask their own copy */
	s.list = list;
	s.decides = 0;
	bpf_loop(n - LIST_INLINE_PROBES, list_search_step, &s, 0);
	return s.decides;
}

/* the allow step: true when src is on the allow list */
static __always_inline bool list_allowed(const struct mg_addr *src, __u64 *clk)
{
	return list_lookup(&mg_allow, MG_LIST_ALLOW, src, clk);
}

/* the deny step: true when src is denied (its longest active match is a
 * deny entry, not an exclusion) */
static __always_inline bool list_denied(const struct mg_addr *src, __u64 *clk)
{
	return list_lookup(&mg_deny, MG_LIST_DENY, src, clk);
}

#endif /* MAILGATE_LISTS_BPF_H */
