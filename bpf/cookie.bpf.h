/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* SYN cookies, the BPF side (include/cookie.h has the cookie itself):
 * the key map both programs share, TCP option parsing, and (for the XDP
 * program, MG_COOKIE_XDP) the SYN-ACK built in place of a SYN. */
#ifndef MAILGATE_COOKIE_BPF_H
#define MAILGATE_COOKIE_BPF_H

#include "cookie.h"

/* keys, written by the daemon (user/cookie.c) */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mg_cookie_keys);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mg_cookie SEC(".maps");

#define MG_TCPOPT_BUF 64 /* options are at most 40 bytes; indexes are masked into this */

struct mg_tcpopt {
	__u32 mss;   /* 0: none */
	__u32 tsval; /* with ts */
	__u32 tsecr;
	__u8 ws;     /* with has_ws */
	__u8 has_ws;
	__u8 sack;   /* SACK permitted */
	__u8 ts;     /* timestamps seen */
};

static __always_inline __u32 opt_be16(const __u8 *b, __u32 i)
{
	return (__u32)b[i & (MG_TCPOPT_BUF - 1)] << 8 | b[(i + 1) & (MG_TCPOPT_BUF - 1)];
}

static __always_inline __u32 opt_be32(const __u8 *b, __u32 i)
{
	return opt_be16(b, i) << 16 | opt_be16(b, i + 2);
}

/* bpf_loop's step of tcpopt_parse: one option */
struct mg_optwalk {
	__u8 buf[MG_TCPOPT_BUF]; /* the options, zero beyond len */
	__u32 i, len;
	struct mg_tcpopt o;
};

static long tcpopt_step(__u64 n, void *arg)
{
	struct mg_optwalk *w = arg;
	__u32 i = w->i, kind, olen;

	if (i >= w->len || i >= 40)
		return 1;
	kind = w->buf[i & (MG_TCPOPT_BUF - 1)];
	if (kind == 0)
		return 1;
	if (kind == 1) {
		w->i = i + 1;
		return 0;
	}
	olen = w->buf[(i + 1) & (MG_TCPOPT_BUF - 1)];
	if (olen < 2 || i + olen > w->len)
		return 1;
	if (kind == 2 && olen == 4) {
		w->o.mss = opt_be16(w->buf, i + 2);
	} else if (kind == 3 && olen == 3) {
		w->o.ws = w->buf[(i + 2) & (MG_TCPOPT_BUF - 1)];
		w->o.has_ws = 1;
	} else if (kind == 4 && olen == 2) {
		w->o.sack = 1;
	} else if (kind == 8 && olen == 10) {
		w->o.tsval = opt_be32(w->buf, i + 2);
		w->o.tsecr = opt_be32(w->buf, i + 6);
		w->o.ts = 1;
	}
	w->i = i + olen;
	return 0;
}

/* Parse w->len bytes of TCP options in w->buf into w->o. A malformed list
 * ends the walk; what was read before it stays. */
static __always_inline void tcpopt_parse(struct mg_optwalk *w)
{
	w->i = 0;
	__builtin_memset(&w->o, 0, sizeof(w->o));
	bpf_loop(40, tcpopt_step, w, 0);
}

static __always_inline __u64 cookie_slot(__u64 now)
{
	return now >> MG_COOKIE_SLOT_SHIFT;
}

#endif /* MAILGATE_COOKIE_BPF_H */

/* The XDP side: include again with MG_COOKIE_XDP defined, after csum_fold
 * and struct pseudo4/pseudo6 (bpf/gate.bpf.c). */
#if defined(MG_COOKIE_XDP) && !defined(MAILGATE_COOKIE_XDP_DONE)
#define MAILGATE_COOKIE_XDP_DONE
#ifdef MG_XDP_DEV_BOUND
/* The VLAN tag the NIC took off the frame (rx VLAN offload; a veth whose
 * peer sends with tx VLAN offload): Linux 6.8+, drivers with the hint
 * (veth, ice, mlx5), and only from a device-bound program (the verifier
 * refuses it in any other): bpf/gate_dev.bpf.c, loaded per interface by
 * user/gate.c. 0 and the tag, -ENODATA without one, -EOPNOTSUPP where the
 * driver does not say. */
extern int bpf_xdp_metadata_rx_vlan_tag(const struct xdp_md *ctx, __be16 *vlan_proto,
					__u16 *vlan_tci) __ksym;
#endif

/* our SYN-ACK's TCP header */
struct mg_synack {
	struct tcphdr th;
	__be32 opt[5];
};

/* Can this SYN be answered with a cookie? One VLAN tag at most (the TC
 * side sees the packet after the kernel took the outer tag), no IPv4
 * options, no IPv6 extension headers: what the kernel's request socket
 * can take and the SYN-ACK below rebuilds. */
static __always_inline bool cookie_fits(struct ethhdr *eth, struct iphdr *ip, struct ipv6hdr *ip6,
					struct tcphdr *tcp)
{
	if (!eth || !tcp)
		return false;
	if (ip)
		return (void *)ip - (void *)eth <= (long)sizeof(*eth) + 4 && ip->ihl == 5;
	if (ip6)
		return (void *)ip6 - (void *)eth <= (long)sizeof(*eth) + 4 && ip6->nexthdr == IPPROTO_TCP;
	return false;
}

/* Turn the SYN in place into a SYN-ACK whose sequence number is a cookie
 * (include/cookie.h). l3_off: where the IP header starts (14 or 18, a
 * frame cookie_fits took). The frame is cut or grown to the headers, with
 * our 20 bytes of options. A tag in the frame stays where it is; in the
 * device-bound build (MG_XDP_DEV_BOUND) a tag the NIC stripped is pushed
 * back into the reply (same TPID, VID and priority), so the SYN-ACK leaves
 * on the client's VLAN; a SYN with a stripped tag and one in the frame
 * (QinQ) is not answered. A global function: the verifier checks it once.
 * Returns 1 when done (XDP_TX it), 0 when not (drop the SYN). */
__noinline int cookie_answer(struct xdp_md *ctx, __u32 l3_off, __u32 v6)
{
	struct mg_optwalk w = {};
	struct mg_synack sa = {};
	struct mg_cookie_keys *keys;
	struct mg_addr src = {}, dst = {};
	struct ethhdr *eth;
	struct iphdr *ip = NULL;
	struct ipv6hdr *ip6 = NULL;
	struct tcphdr *tcp;
	__u8 mac[ETH_ALEN];
	__u32 zero = 0, optlen, mssind, wscale, sack, opts, cookie, isn, mss, l4_off, tsval;
	__u16 sport, dport;
	__u64 slot, sum;
	void *data, *data_end;
	int delta;
#ifdef MG_XDP_DEV_BOUND
	__be16 vproto = 0;
	__u16 vtci = 0;
#endif

	if (!ctx || (l3_off != 14 && l3_off != 18))
		return 0;
	keys = bpf_map_lookup_elem(&mg_cookie, &zero);
	if (!keys || !keys->ready)
		return 0;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	if (v6) {
		ip6 = data + l3_off;
		if ((void *)(ip6 + 1) > data_end)
			return 0;
		__builtin_memcpy(src.a, &ip6->saddr, 16);
		__builtin_memcpy(dst.a, &ip6->daddr, 16);
		l4_off = l3_off + sizeof(*ip6);
	} else {
		ip = data + l3_off;
		if ((void *)(ip + 1) > data_end)
			return 0;
		src.a[10] = src.a[11] = dst.a[10] = dst.a[11] = 0xff;
		__builtin_memcpy(&src.a[12], &ip->saddr, 4);
		__builtin_memcpy(&dst.a[12], &ip->daddr, 4);
		l4_off = l3_off + sizeof(*ip);
	}
	tcp = data + l4_off;
	if ((void *)(tcp + 1) > data_end)
		return 0;
	optlen = tcp->doff * 4;
	if (optlen < sizeof(*tcp))
		return 0;
	optlen -= sizeof(*tcp);
	if (optlen > 40)
		return 0;
	if (optlen && bpf_xdp_load_bytes(ctx, l4_off + sizeof(*tcp), w.buf, optlen))
		return 0;
	w.len = optlen;
	tcpopt_parse(&w);

	/* what the cookie carries */
	mss = w.o.mss ? w.o.mss : 536;
	mssind = mg_cookie_mssind(mss, v6);
	mss = mg_cookie_mss(mssind, v6);
	wscale = w.o.ts && w.o.has_ws ? (w.o.ws > 14 ? 14 : w.o.ws) : MG_COOKIE_WS_NONE;
	sack = w.o.ts && w.o.sack;
	opts = mg_cookie_opts(wscale, sack, w.o.ts);
	slot = cookie_slot(bpf_ktime_get_boot_ns());
	isn = bpf_ntohl(tcp->seq);
	sport = bpf_ntohs(tcp->source);
	dport = bpf_ntohs(tcp->dest);
	cookie = mg_cookie_make(keys->key[slot & 3], src.a, dst.a, sport, dport, isn, slot, mssind, opts);

	/* the SYN-ACK's TCP header */
	sa.th.source = tcp->dest;
	sa.th.dest = tcp->source;
	sa.th.seq = bpf_htonl(cookie);
	sa.th.ack_seq = bpf_htonl(isn + 1);
	sa.th.doff = MG_COOKIE_TCP_LEN / 4;
	sa.th.syn = 1;
	sa.th.ack = 1;
	sa.th.window = bpf_htons(mss * 10 > 65535 ? 65535 : mss * 10);
	sa.opt[0] = bpf_htonl(2u << 24 | 4u << 16 | mss);
	sa.opt[1] = wscale != MG_COOKIE_WS_NONE ? bpf_htonl(0x01030300u | MG_COOKIE_WSCALE) : 0x01010101;
	if (w.o.ts) {
		tsval = (bpf_get_prandom_u32() & ~0x3fu) | (opts & 0x1f);
		sa.opt[2] = bpf_htonl(sack ? 0x0402080au : 0x0101080au);
		sa.opt[3] = bpf_htonl(tsval);
		sa.opt[4] = bpf_htonl(w.o.tsval);
	} else {
		sa.opt[2] = sa.opt[3] = sa.opt[4] = 0x01010101;
	}

	/* the frame: cut or grow to the headers, then rewrite them */
	delta = (int)(l4_off + MG_COOKIE_TCP_LEN) - (int)(data_end - data);
	if (delta && bpf_xdp_adjust_tail(ctx, delta))
		return 0;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	eth = data;
	if ((void *)(eth + 1) > data_end)
		return 0;
	__builtin_memcpy(mac, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, mac, ETH_ALEN);
	if (v6) {
		struct pseudo6 ph = {};
		struct in6_addr a;

		ip6 = data + l3_off;
		if ((void *)(ip6 + 1) > data_end)
			return 0;
		a = ip6->saddr;
		ip6->saddr = ip6->daddr;
		ip6->daddr = a;
		*(__be32 *)ip6 = bpf_htonl(0x60000000);
		ip6->payload_len = bpf_htons(MG_COOKIE_TCP_LEN);
		ip6->hop_limit = 64;
		ph.saddr = ip6->saddr;
		ph.daddr = ip6->daddr;
		ph.len = bpf_htonl(MG_COOKIE_TCP_LEN);
		ph.nexthdr = IPPROTO_TCP;
		sum = bpf_csum_diff(NULL, 0, (__be32 *)&ph, sizeof(ph), 0);
	} else {
		struct pseudo4 ph = {};
		__be32 a;

		ip = data + l3_off;
		if ((void *)(ip + 1) > data_end)
			return 0;
		a = ip->saddr;
		ip->saddr = ip->daddr;
		ip->daddr = a;
		ip->tos = 0;
		ip->tot_len = bpf_htons(sizeof(*ip) + MG_COOKIE_TCP_LEN);
		ip->id = 0;
		ip->frag_off = bpf_htons(0x4000); /* DF */
		ip->ttl = 64;
		ip->check = 0;
		ip->check = csum_fold(bpf_csum_diff(NULL, 0, (__be32 *)ip, sizeof(*ip), 0));
		ph.saddr = ip->saddr;
		ph.daddr = ip->daddr;
		ph.proto = IPPROTO_TCP;
		ph.len = bpf_htons(MG_COOKIE_TCP_LEN);
		sum = bpf_csum_diff(NULL, 0, (__be32 *)&ph, sizeof(ph), 0);
	}
	sa.th.check = csum_fold(bpf_csum_diff(NULL, 0, (__be32 *)&sa, sizeof(sa), sum));
	tcp = data + l4_off;
	if ((void *)tcp + sizeof(sa) > data_end)
		return 0;
	__builtin_memcpy(tcp, &sa, sizeof(sa));
#ifdef MG_XDP_DEV_BOUND
	/* last, so that the verifier walks the rest once */
	if (bpf_xdp_metadata_rx_vlan_tag(ctx, &vproto, &vtci) == 0) {
		if (l3_off != 14)
			return 0; /* two tags: the TC side would not see the inner one */
		/* the tag back in: 4 bytes before the frame, the MACs moved up */
		if (vproto != bpf_htons(ETH_P_8021AD))
			vproto = bpf_htons(ETH_P_8021Q);
		if (bpf_xdp_adjust_head(ctx, -4))
			return 0;
		data = (void *)(long)ctx->data;
		data_end = (void *)(long)ctx->data_end;
		if (data + sizeof(struct ethhdr) + 4 > data_end)
			return 0;
		__builtin_memcpy(mac, data + 4, ETH_ALEN);
		__builtin_memcpy(data, mac, ETH_ALEN);
		__builtin_memcpy(mac, data + 4 + ETH_ALEN, ETH_ALEN);
		__builtin_memcpy(data + ETH_ALEN, mac, ETH_ALEN);
		*(__be16 *)(data + 12) = vproto;
		*(__be16 *)(data + 14) = bpf_htons(vtci);
	}
#endif
	return 1;
}
#endif /* MG_COOKIE_XDP */
