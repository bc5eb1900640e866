/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* mailgate synflood: what the frame generator's XDP program
 * (bpf/synflood.bpf.c) and its userspace half (user/synflood.c) share.
 *
 * Userspace builds one template SYN frame; the program rewrites, per frame,
 * the source address, source port, IPv4 id, sequence number and TCP
 * timestamp value, and patches the checksums incrementally. */
#ifndef MAILGATE_SYNFLOOD_H
#define MAILGATE_SYNFLOOD_H

#ifndef __bpf__
#include <linux/types.h>
#endif

#define SF_MAX_LIST 1024 /* --src-list entries */

/* Template layout: Ethernet, IPv4 (no options) or IPv6 (no extension
 * headers), TCP with 20 bytes of options in Linux's SYN order:
 * MSS(4) SACK-permitted(2) timestamps(10) NOP(1) window scale(3). */
#define SF_ETH_LEN   14
#define SF_IP4_LEN   20
#define SF_IP6_LEN   40
#define SF_TCP_LEN   40                  /* header 20 + options 20: doff 10 */
#define SF_TSVAL_OFF 28                  /* TS value, from the start of TCP */
#define SF_FRAME4_LEN (SF_ETH_LEN + SF_IP4_LEN + SF_TCP_LEN) /* 74 */
#define SF_FRAME6_LEN (SF_ETH_LEN + SF_IP6_LEN + SF_TCP_LEN) /* 94 */

/* Settings fixed at load (rodata). Addresses as four network-order words:
 * IPv4 in word 3 (the IPv4-mapped form of include/gate.h). */
struct sf_params {
	__u32 v6;          /* 0: IPv4 template, 1: IPv6 */
	__u32 n_list;      /* 0: random within base/mask; else pick from the list */
	__u32 base[4];     /* network part of --src */
	__u32 host[4];     /* host mask of --src: the bits that are random */
};

/* per-CPU counters of the generator program */
struct sf_stats {
	__u64 frames;      /* frames rewritten and returned as XDP_TX */
	__u64 short_frames;/* frames too short for the template: dropped (a bug) */
};

/* ---- the per-frame rewrite, one definition for both halves: the XDP
 * program, and userspace for the AF_PACKET fallback. The includer defines
 * SF_RANDOM() (a random __u32) and has checked that the frame holds
 * SF_FRAME4_LEN / SF_FRAME6_LEN bytes. ---- */
#ifdef __bpf__
#define SF_INLINE static __always_inline
#else
#define SF_INLINE static inline
#endif

/* Incremental checksum (RFC 1624): HC' = ~(~HC + ~m + m'). A ones-complement
 * sum of 16-bit words equals the folded sum of the 32-bit words they form,
 * so 32-bit fields go in whole. Byte order does not matter (RFC 1071) as
 * long as fields and checksum are read the same way: straight from memory. */
SF_INLINE __u64 sf_csum_step32(__u64 sum, __u32 old, __u32 new)
{
	return sum + (__u32)~old + new;
}

SF_INLINE __u64 sf_csum_step16(__u64 sum, __u16 old, __u16 new)
{
	return sum + (__u16)~old + new;
}

SF_INLINE __u16 sf_csum_patch(__u16 check, __u64 sum)
{
	sum += (__u16)~check;
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return ~(__u16)sum;
}

/* list: n_list entries of four words */
SF_INLINE void sf_pick_src(const volatile struct sf_params *p, const volatile __u32 *list,
			   __u32 src[4])
{
	if (p->n_list) {
		__u32 i = SF_RANDOM() % p->n_list;

		if (i >= SF_MAX_LIST)
			i = 0;
		src[0] = list[i * 4 + 0];
		src[1] = list[i * 4 + 1];
		src[2] = list[i * 4 + 2];
		src[3] = list[i * 4 + 3];
		return;
	}
	src[0] = p->base[0] | (p->host[0] ? SF_RANDOM() & p->host[0] : 0);
	src[1] = p->base[1] | (p->host[1] ? SF_RANDOM() & p->host[1] : 0);
	src[2] = p->base[2] | (p->host[2] ? SF_RANDOM() & p->host[2] : 0);
	src[3] = p->base[3] | (p->host[3] ? SF_RANDOM() & p->host[3] : 0);
}

/* Read and write a possibly unaligned field of the frame. */
#define SF_FIELD16(ptr) (*(__u16 *)(ptr))
#define SF_FIELD32(ptr) (*(__u32 *)(ptr))

/* source port (32768..65535, from the low bits of r), sequence number, TS
 * value (a scramble of the sequence number: it only has to differ);
 * returns the updated checksum delta */
SF_INLINE __u64 sf_rewrite_tcp(__u8 *tcp, __u64 sum, __u32 r)
{
	__u16 port = (__u16)(0x8000 | (r & 0x7fff));
	__u32 v = SF_RANDOM();

	port = (__u16)((port >> 8) | (port << 8)); /* to network order */
	sum = sf_csum_step16(sum, SF_FIELD16(tcp), port);
	SF_FIELD16(tcp) = port;
	sum = sf_csum_step32(sum, SF_FIELD32(tcp + 4), v);
	SF_FIELD32(tcp + 4) = v;
	v *= 0x9E3779B1u;
	sum = sf_csum_step32(sum, SF_FIELD32(tcp + SF_TSVAL_OFF), v);
	SF_FIELD32(tcp + SF_TSVAL_OFF) = v;
	return sum;
}

SF_INLINE void sf_rewrite(__u8 *frame, const volatile struct sf_params *p,
			  const volatile __u32 *list)
{
	__u64 ipsum = 0, tsum = 0;
	__u32 src[4], r = SF_RANDOM(); /* port (low 15 bits), IPv4 id (high 16) */
	__u8 *tcp;

	sf_pick_src(p, list, src);
	if (p->v6) {
		__u8 *saddr = frame + SF_ETH_LEN + 8;

		for (int k = 0; k < 4; k++) {
			tsum = sf_csum_step32(tsum, SF_FIELD32(saddr + 4 * k), src[k]);
			SF_FIELD32(saddr + 4 * k) = src[k];
		}
		tcp = frame + SF_ETH_LEN + SF_IP6_LEN;
	} else {
		__u8 *ip = frame + SF_ETH_LEN;
		__u16 id = (__u16)(r >> 16);

		/* the source address is in the IP header and the TCP pseudo header */
		ipsum = sf_csum_step32(ipsum, SF_FIELD32(ip + 12), src[3]);
		tsum = sf_csum_step32(tsum, SF_FIELD32(ip + 12), src[3]);
		SF_FIELD32(ip + 12) = src[3];
		ipsum = sf_csum_step16(ipsum, SF_FIELD16(ip + 4), id);
		SF_FIELD16(ip + 4) = id;
		SF_FIELD16(ip + 10) = sf_csum_patch(SF_FIELD16(ip + 10), ipsum);
		tcp = frame + SF_ETH_LEN + SF_IP4_LEN;
	}
	tsum = sf_rewrite_tcp(tcp, tsum, r);
	SF_FIELD16(tcp + 16) = sf_csum_patch(SF_FIELD16(tcp + 16), tsum);
}

#endif /* MAILGATE_SYNFLOOD_H */
