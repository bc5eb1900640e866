/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Packet parsing for the gate: a cursor and one function per header, each
 * bounds-checked before every access (the xdp-tools pattern). */
#ifndef MAILGATE_PARSE_BPF_H
#define MAILGATE_PARSE_BPF_H

#define ETH_P_IP     0x0800
#define ETH_P_IPV6   0x86DD
#define ETH_P_8021Q  0x8100
#define ETH_P_8021AD 0x88A8
#define IPPROTO_HOPOPTS  0
#define IPPROTO_ROUTING  43
#define IPPROTO_FRAGMENT 44
#define IPPROTO_DSTOPTS  60
#define IPPROTO_AH       51
#define IP_MF     0x2000
#define IP_OFFSET 0x1FFF
#define IP6_MF     0x0001
#define IP6_OFFSET 0xFFF8
#define MG_MAX_VLANS   2
#define MG_MAX_EXTHDRS 8 /* IPv6 extension headers walked (fragment header included) */
#define ETH_ALEN 6

struct cursor {
	void *pos;
	void *end;    /* data_end: the verifier only trusts comparisons with it */
	__u32 l4_len; /* bytes of the IP payload from pos on, as the IP header says */
	__u32 frag;   /* a first fragment (offset 0, more to come): the rest of the
		       * packet is not here, but the kernel reassembles it */
};

/* Result of a parse: < 0 means "not ours, pass", with the reason to count. */
enum parse_result {
	PARSE_OK = 0,
	PARSE_OTHER = -1,
	PARSE_MALFORMED = -2,
	PARSE_FRAGMENT = -3, /* a non-first fragment: opens nothing without its first */
	PARSE_UNPARSED = -4, /* could be a SYN, but its headers are beyond what is walked:
			      * a longer IPv6 extension chain, or a first fragment
			      * without the whole TCP header */
};

struct mg_vlan_hdr {
	__be16 tci;
	__be16 proto;
};

/* Ethernet and up to two VLAN tags; returns the L3 protocol (host order). */
static __always_inline int parse_eth(struct cursor *c, struct ethhdr **eth)
{
	struct ethhdr *e = c->pos;
	__u16 proto;

	if ((void *)(e + 1) > c->end)
		return PARSE_MALFORMED;
	*eth = e;
	c->pos = e + 1;
	proto = bpf_ntohs(e->h_proto);

#pragma unroll
	for (int i = 0; i < MG_MAX_VLANS; i++) {
		struct mg_vlan_hdr *v = c->pos;

		if (proto != ETH_P_8021Q && proto != ETH_P_8021AD)
			break;
		if ((void *)(v + 1) > c->end)
			return PARSE_MALFORMED;
		proto = bpf_ntohs(v->proto);
		c->pos = v + 1;
	}
	return proto;
}

/* IPv4 with options. Fills the mapped source address; returns the L4 protocol. */
static __always_inline int parse_ipv4(struct cursor *c, struct iphdr **iph, struct mg_addr *src)
{
	struct iphdr *ip = c->pos;
	__u32 hlen, tot;

	if ((void *)(ip + 1) > c->end)
		return PARSE_MALFORMED;
	if (ip->version != 4 || ip->ihl < 5)
		return PARSE_MALFORMED;
	hlen = ip->ihl * 4;
	tot = bpf_ntohs(ip->tot_len);
	if (tot < hlen || c->pos + tot > c->end)
		return PARSE_MALFORMED; /* a length that lies */
	if (c->pos + hlen > c->end)
		return PARSE_MALFORMED;
	/* a first fragment carries the TCP header: judged by it (the kernel
	 * reassembles and answers it); a later one opens nothing on its own */
	if (ip->frag_off & bpf_htons(IP_OFFSET))
		return PARSE_FRAGMENT;
	c->frag = !!(ip->frag_off & bpf_htons(IP_MF));
	__builtin_memset(src, 0, sizeof(*src));
	src->a[10] = 0xff;
	src->a[11] = 0xff;
	__builtin_memcpy(&src->a[12], &ip->saddr, 4);
	*iph = ip;
	c->pos += hlen;
	c->l4_len = tot - hlen; /* trailing Ethernet padding is not payload */
	return ip->protocol;
}

/* The IPv6 extension header walk, over offsets from the frame's start (no
 * packet pointers: a global function, verified once on its own, with no
 * header layout of the caller multiplying its states). w->off: where the
 * header of type next starts; w->len: the IP payload bytes left from there.
 * Walks up to MG_MAX_EXTHDRS headers (hop-by-hop, routing, destination
 * options, authentication, fragment); returns the upper-layer protocol
 * with w at its header, or a PARSE_* result. A fragment header with offset
 * 0 is walked through: an atomic fragment (M clear) is the whole packet, a
 * first fragment (M set, w->frag = 1) carries the TCP header. */
struct mg_ext6 {
	__u32 off;
	__u32 len;
	__u32 frag;
	__u32 pad;
};

__noinline int mg_walk_ext6(struct xdp_md *ctx, struct mg_ext6 *w, __u32 next)
{
	__u8 h[4]; /* next header, length, (fragment header) offset and M */
	__u32 elen;

	if (!ctx || !w)
		return PARSE_MALFORMED;
	for (int i = 0; i <= MG_MAX_EXTHDRS; i++) {
		if (next != IPPROTO_HOPOPTS && next != IPPROTO_ROUTING && next != IPPROTO_DSTOPTS &&
		    next != IPPROTO_FRAGMENT && next != IPPROTO_AH)
			return next;
		if (i == MG_MAX_EXTHDRS)
			break;
		if (w->len < 8 || bpf_xdp_load_bytes(ctx, w->off, h, sizeof(h)))
			return w->frag ? PARSE_UNPARSED : PARSE_MALFORMED;
		if (next == IPPROTO_FRAGMENT) {
			__u16 fo = (__u16)h[2] << 8 | h[3];

			if (fo & IP6_OFFSET)
				return PARSE_FRAGMENT;
			if (fo & IP6_MF)
				w->frag = 1;
			elen = 8;
		} else if (next == IPPROTO_AH) {
			elen = ((__u32)h[1] + 2) * 4;
		} else {
			elen = ((__u32)h[1] + 1) * 8;
		}
		next = h[0];
		if (elen > w->len)
			return w->frag ? PARSE_UNPARSED : PARSE_MALFORMED;
		w->len -= elen;
		w->off += elen;
	}
	/* more extension headers than we walk: it could be a SYN */
	return PARSE_UNPARSED;
}

/* IPv6 and its extension headers (mg_walk_ext6). */
static __always_inline int parse_ipv6(struct xdp_md *ctx, struct cursor *c, struct ipv6hdr **ip6h,
				      struct mg_addr *src)
{
	void *data = (void *)(long)ctx->data;
	struct ipv6hdr *ip6 = c->pos;
	struct mg_ext6 w = {};
	int r;

	if ((void *)(ip6 + 1) > c->end)
		return PARSE_MALFORMED;
	if (ip6->version != 6)
		return PARSE_MALFORMED;
	if ((void *)(ip6 + 1) + bpf_ntohs(ip6->payload_len) > c->end)
		return PARSE_MALFORMED;
	__builtin_memcpy(src->a, &ip6->saddr, 16);
	*ip6h = ip6;
	w.off = (void *)(ip6 + 1) - data;
	w.len = bpf_ntohs(ip6->payload_len);
	r = mg_walk_ext6(ctx, &w, ip6->nexthdr);
	if (r < 0)
		return r;
	if (w.off > 0x3fff) /* 16 KiB of extension headers: the walk bounds it */
		return PARSE_UNPARSED;
	c->pos = data + (w.off & 0x3fff);
	c->l4_len = w.len;
	c->frag = w.frag;
	return r;
}

static __always_inline int parse_tcp(struct cursor *c, struct tcphdr **tcph)
{
	struct tcphdr *t = c->pos;

	/* a first fragment too short for the TCP header (RFC 1858's tiny
	 * fragment): what it opens is decided by bytes that are not here */
	if ((void *)(t + 1) > c->end || c->l4_len < sizeof(*t))
		return c->frag ? PARSE_UNPARSED : PARSE_MALFORMED;
	if (t->doff < 5 || t->doff * 4 > c->l4_len || c->pos + t->doff * 4 > c->end)
		return c->frag && t->doff >= 5 ? PARSE_UNPARSED : PARSE_MALFORMED;
	*tcph = t;
	return PARSE_OK;
}

#endif /* MAILGATE_PARSE_BPF_H */
