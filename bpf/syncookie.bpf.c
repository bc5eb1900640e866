// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* mailgate SYN cookies, the ACK side (include/cookie.h): a TC ingress
 * program (clsact) on the interfaces the XDP program gates. The client's
 * ACK to a SYN-ACK the XDP program sent carries the cookie (ack - 1); when
 * it checks, the listener is found with bpf_skc_lookup_tcp and the kernel
 * gets a request socket with the options the SYN-ACK advertised
 * (bpf_sk_assign_tcp_reqsk, Linux 6.9+), so it creates the connection as
 * if it had answered the SYN itself. Everything else passes untouched: a
 * wrong or expired cookie is the kernel's to answer (it finds no request
 * and resets). Maps: the gate's own, reused by pin (user/cookie.c). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "gate.h"
#include "shared_maps.bpf.h"
#include "cookie.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* what it returns, always: TCX_NEXT (TC_ACT_UNSPEC), the next program of
 * the tcx chain and the interface's tc filters still see the packet (an
 * operator's, a VLAN device's stand-in in test_syncookie); TC_ACT_OK would
 * end the chain at mailgate */
#define TCX_NEXT (-1)
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define TCP_LISTEN 10
#define BPF_F_CURRENT_NETNS (-1)

extern int bpf_sk_assign_tcp_reqsk(struct __sk_buff *skb, struct sock *sk,
				   struct bpf_tcp_req_attrs *attrs, int attrs__sz) __ksym;

/* Cookies may be out there while flood mode is on and for two slots after
 * it ended (a cookie lives its slot and the next). */
static __always_inline bool cookies_out(const struct mg_global *g, __u64 now)
{
	return g->flood_mode || (__s64)(now - g->flood_changed_ns) < (__s64)(2ULL << MG_COOKIE_SLOT_SHIFT);
}

SEC("tc")
int mg_tc_cookie(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *data_end = (void *)(long)skb->data_end;
	struct bpf_tcp_req_attrs attrs = {};
	struct bpf_sock_tuple t = {};
	struct mg_optwalk w = {};
	struct mg_cookie_keys *keys;
	struct mg_addr src = {}, dst = {};
	struct ethhdr *eth = data;
	struct iphdr *ip = NULL;
	struct ipv6hdr *ip6 = NULL;
	struct tcphdr *tcp;
	struct mg_config *cfg;
	struct mg_global *g;
	struct bpf_sock *skc;
	struct tcp_sock *tp;
	__u32 zero = 0, port, l4_off, cookie, mssind, wscale, sack, opts, tsize;
	__u8 *class;
	__u64 now, slot, cur;
	int v6;

	if ((void *)(eth + 1) > data_end)
		return TCX_NEXT;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		ip = (void *)(eth + 1);
		if ((void *)(ip + 1) > data_end || ip->ihl != 5 || ip->protocol != IPPROTO_TCP ||
		    (ip->frag_off & bpf_htons(0x3fff)))
			return TCX_NEXT;
		l4_off = sizeof(*eth) + sizeof(*ip);
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		ip6 = (void *)(eth + 1);
		if ((void *)(ip6 + 1) > data_end || ip6->nexthdr != IPPROTO_TCP)
			return TCX_NEXT;
		l4_off = sizeof(*eth) + sizeof(*ip6);
	} else {
		return TCX_NEXT;
	}
	tcp = data + l4_off;
	if ((void *)(tcp + 1) > data_end || !tcp->ack || tcp->syn || tcp->rst)
		return TCX_NEXT;
	port = bpf_ntohs(tcp->dest);
	class = bpf_map_lookup_elem(&mg_ports, &port);
	{
		struct mg_ctl *ctl = bpf_map_lookup_elem(&mg_ctl, &zero);
		__u32 slot = ctl ? *(volatile __u32 *)&ctl->config_slot & 1 : 0;

		cfg = bpf_map_lookup_elem(&mg_config, &slot); /* the slot in effect */
	}
	g = bpf_map_lookup_elem(&mg_global, &zero);
	keys = bpf_map_lookup_elem(&mg_cookie, &zero);
	if (!class || !*class || !cfg || !g || !keys || !keys->ready || cfg->flood_action != MG_FLOOD_COOKIE)
		return TCX_NEXT;
	now = bpf_ktime_get_boot_ns();
	if (!cookies_out(g, now))
		return TCX_NEXT;

	/* the cookie: its slot still valid, its hash right */
	cookie = bpf_ntohl(tcp->ack_seq) - 1;
	cur = cookie_slot(now);
	slot = mg_cookie_slot_of(cookie, cur);
	if (!mg_cookie_valid_slot(slot, cur))
		return TCX_NEXT;
	w.len = tcp->doff * 4;
	if (w.len < sizeof(*tcp))
		return TCX_NEXT;
	w.len -= sizeof(*tcp);
	if (w.len > 40)
		return TCX_NEXT;
	if (w.len && bpf_skb_load_bytes(skb, l4_off + sizeof(*tcp), w.buf, w.len))
		return TCX_NEXT;
	tcpopt_parse(&w);
	if (w.o.ts) {
		wscale = w.o.tsecr & 0xf;
		sack = (w.o.tsecr >> 4) & 1;
	} else {
		wscale = MG_COOKIE_WS_NONE;
		sack = 0;
	}
	opts = mg_cookie_opts(wscale, sack, w.o.ts);
	mssind = (cookie >> 2) & 3;
	v6 = ip6 != NULL;
	if (ip) {
		src.a[10] = src.a[11] = dst.a[10] = dst.a[11] = 0xff;
		__builtin_memcpy(&src.a[12], &ip->saddr, 4);
		__builtin_memcpy(&dst.a[12], &ip->daddr, 4);
		t.ipv4.saddr = ip->saddr;
		t.ipv4.daddr = ip->daddr;
		t.ipv4.sport = tcp->source;
		t.ipv4.dport = tcp->dest;
		tsize = sizeof(t.ipv4);
	} else if (ip6) {
		__builtin_memcpy(src.a, &ip6->saddr, 16);
		__builtin_memcpy(dst.a, &ip6->daddr, 16);
		__builtin_memcpy(t.ipv6.saddr, &ip6->saddr, 16);
		__builtin_memcpy(t.ipv6.daddr, &ip6->daddr, 16);
		t.ipv6.sport = tcp->source;
		t.ipv6.dport = tcp->dest;
		tsize = sizeof(t.ipv6);
	} else {
		return TCX_NEXT;
	}
	if (mg_cookie_make(keys->key[slot & 3], src.a, dst.a, bpf_ntohs(tcp->source), bpf_ntohs(tcp->dest),
			   bpf_ntohl(tcp->seq) - 1, slot, mssind, opts) != cookie)
		return TCX_NEXT;

	/* the listener; a socket of this 4-tuple that exists already keeps it */
	skc = bpf_skc_lookup_tcp(skb, &t, tsize, BPF_F_CURRENT_NETNS, 0);
	if (!skc)
		return TCX_NEXT;
	if (skc->state != TCP_LISTEN)
		goto out;
	tp = bpf_skc_to_tcp_sock(skc);
	if (!tp)
		goto out;
	attrs.mss = mg_cookie_mss(mssind, v6);
	attrs.tstamp_ok = w.o.ts;
	attrs.rcv_tsval = w.o.tsval;
	attrs.rcv_tsecr = w.o.tsecr;
	attrs.sack_ok = sack;
	if (wscale != MG_COOKIE_WS_NONE) {
		attrs.wscale_ok = 1;
		attrs.snd_wscale = wscale;
		attrs.rcv_wscale = MG_COOKIE_WSCALE;
	}
	if (bpf_sk_assign_tcp_reqsk(skb, (struct sock *)tp, &attrs, sizeof(attrs)) == 0)
		__sync_fetch_and_add(&g->cookie_acks, 1);
	else
		__sync_fetch_and_add(&g->cookie_refused, 1);
out:
	bpf_sk_release(skc);
	return TCX_NEXT;
}
