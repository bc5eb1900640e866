// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* XDP programs for the far side of a lab veth (tests and scripts/bench.sh).
 * A veth only takes frames sent with XDP (live frames, XDP_TX, redirect)
 * when its peer runs NAPI, which an attached XDP program turns on:
 * sink_pass does only that and hands every frame to the stack (the client
 * end in test_attach and scripts/lab.sh, where mailgate's XDP_TX RSTs must
 * arrive); sink_drop is the bare XDP_DROP baseline of the benchmarks
 * (scripts/bench.sh, and bench_gate through BPF_PROG_TEST_RUN);
 * sink_count drops too but first counts TCP SYNs to port 25 apart from
 * everything else (neighbour discovery and the like), for exact counts of
 * a generated flood. Attach
 * with `ip link set dev DEV xdpdrv obj .output/sink.bpf.o program sink_drop`,
 * or through the skeleton to read the counts.
 * sink_wire joins two interfaces like a cable: every frame that comes in on
 * one leaves by the other (XDP redirect), whoever sent it, so a flood and
 * real traffic share the far veth's ring the way they share a NIC's;
 * frames from B's side to a blackhole prefix (set before load) end there. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "gate.h"
#include "parse.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

__u64 syns;   /* TCP SYN (no ACK) to port 25, IPv4 or IPv6 */
/* sink_wire: the two ifindexes it joins, set before load */
const volatile __u32 wire_a = 0, wire_b = 0;
/* sink_wire: IPv6 frames that come in on wire_b for this prefix are
 * dropped (a blackhole for replies to forged sources: on the internet they
 * leave and cost the sender nothing more); prefix length 0 = none */
const volatile __u32 wire_hole[4] = {}, wire_hole_mask[4] = {};
const volatile __u32 wire_hole_len = 0;
__u64 others; /* every other frame */

SEC("xdp")
int sink_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

SEC("xdp")
int sink_drop(struct xdp_md *ctx)
{
	return XDP_DROP;
}

/* sink_parse: mailgate's own header parsing (bpf/parse.bpf.h) up to the TCP
 * header, then XDP_DROP: the floor of bench_gate ("parse-only"), what any
 * decision costs on top of reading the packet. */
SEC("xdp")
int sink_parse(struct xdp_md *ctx)
{
	struct cursor c = { .pos = (void *)(long)ctx->data, .end = (void *)(long)ctx->data_end };
	struct ethhdr *eth = NULL;
	struct iphdr *ip = NULL;
	struct ipv6hdr *ip6 = NULL;
	struct tcphdr *tcp = NULL;
	struct mg_addr src = {};
	int proto;

	proto = parse_eth(&c, &eth);
	if (proto == ETH_P_IP)
		proto = parse_ipv4(&c, &ip, &src);
	else if (proto == ETH_P_IPV6)
		proto = parse_ipv6(ctx, &c, &ip6, &src);
	if (proto == IPPROTO_TCP)
		proto = parse_tcp(&c, &tcp);
	if (tcp && tcp->syn && src.a[15] == 0xee) /* use what was parsed */
		return XDP_PASS;
	return XDP_DROP;
}

SEC("xdp")
int sink_count(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct tcphdr *tcp = NULL;
	__u8 proto = 0;

	if ((void *)(eth + 1) > end)
		goto other;
	if (eth->h_proto == bpf_htons(0x0800)) {
		struct iphdr *ip = (void *)(eth + 1);

		if ((void *)(ip + 1) > end || ip->ihl != 5)
			goto other;
		proto = ip->protocol;
		tcp = (void *)(ip + 1);
	} else if (eth->h_proto == bpf_htons(0x86DD)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) > end)
			goto other;
		proto = ip6->nexthdr;
		tcp = (void *)(ip6 + 1);
	}
	if (proto != 6 || (void *)(tcp + 1) > end || !tcp->syn || tcp->ack ||
	    tcp->dest != bpf_htons(25))
		goto other;
	__sync_fetch_and_add(&syns, 1);
	return XDP_DROP;
other:
	__sync_fetch_and_add(&others, 1);
	return XDP_DROP;
}

SEC("xdp")
int sink_wire(struct xdp_md *ctx)
{
	__u32 in_if = ctx->ingress_ifindex;
	void *data, *end;
	struct ethhdr *eth;
	struct ipv6hdr *ip6;

	asm volatile("" : "+r"(ctx)); /* the fields read from ctx itself */
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	eth = data;
	ip6 = (void *)(eth + 1);
	if (wire_hole_len && in_if == wire_b && (void *)(ip6 + 1) <= end &&
	    eth->h_proto == bpf_htons(0x86DD)) {
		const __u32 *d = (const __u32 *)&ip6->daddr;
		bool in = true;

		for (int i = 0; i < 4; i++)
			in = in && (d[i] & wire_hole_mask[i]) == wire_hole[i];
		if (in)
			return XDP_DROP;
	}
	return bpf_redirect(in_if == wire_a ? wire_b : wire_a, 0);
}

/* TC programs for a VLAN-tagged lab link (test_syncookie): this kernel has
 * no 802.1Q devices (CONFIG_VLAN_8021Q unset), so each end of the link
 * tags what it sends (egress; with tx VLAN offload off the tag goes into
 * the frame) with a priority tag (802.1Q, VID 0: the kernel's receive path
 * takes such a tag off and delivers the packet to the parent device); the client's end
 * drops on ingress what comes untagged: a reply that lost its tag does not
 * reach the client, as on a VLAN-only port. */
SEC("tc")
int sink_vlan_push(struct __sk_buff *skb)
{
	bpf_skb_vlan_push(skb, bpf_htons(ETH_P_8021Q), 0);
	return 0; /* TC_ACT_OK */
}

SEC("classifier") /* a section of its own for tc(8) */
int sink_vlan_only(struct __sk_buff *skb)
{
	return skb->vlan_present ? 0 : 2; /* TC_ACT_OK : TC_ACT_SHOT */
}

/* The same link with the tag out of the frame, VID 100 and priority 5
 * (test_syncookie): A's end sends with tx VLAN offload on, so
 * sink_vlan100_push's tag travels as metadata (skb->vlan_tci) and B's XDP
 * sees an untagged frame, as behind a NIC with rx VLAN offload; A's end
 * takes on ingress only what carries that tag, and takes the tag off (no
 * 802.1Q device would: the stack would drop a VID it has no device for);
 * B's end tags what it sends and takes the tag off what comes in
 * (sink_vlan_pop), as its 802.1Q device would. */
#define SINK_VLAN_TCI (5 << 13 | 100)
__u64 vlan_refused; /* frames sink_vlan100_only dropped */

SEC("tc")
int sink_vlan100_push(struct __sk_buff *skb)
{
	bpf_skb_vlan_push(skb, bpf_htons(ETH_P_8021Q), SINK_VLAN_TCI);
	return 0; /* TC_ACT_OK */
}

SEC("classifier")
int sink_vlan100_only(struct __sk_buff *skb)
{
	if (!skb->vlan_present || skb->vlan_proto != bpf_htons(ETH_P_8021Q) || skb->vlan_tci != SINK_VLAN_TCI) {
		__sync_fetch_and_add(&vlan_refused, 1);
		return 2; /* TC_ACT_SHOT */
	}
	bpf_skb_vlan_pop(skb);
	return 0;
}

SEC("classifier")
int sink_vlan_pop(struct __sk_buff *skb)
{
	if (skb->vlan_present)
		bpf_skb_vlan_pop(skb);
	return -1; /* TCX_NEXT: the gate's TC program runs too, before or after */
}
