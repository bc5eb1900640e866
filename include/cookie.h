/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* mailgate SYN cookies (docs/datapath.md, SYN cookies): in flood mode the
 * XDP program answers a SYN of an unverified source itself with a SYN-ACK
 * whose sequence number is a cookie, and the TC ingress program
 * (bpf/syncookie.bpf.c) checks the client's ACK and hands the kernel a
 * request socket (bpf_sk_assign_tcp_reqsk). The cookie is computed here
 * once, for the data path and for userspace (tests, lookup).
 *
 * The cookie (the SYN-ACK's sequence number):
 *   bits 31..4  SipHash-2-4 of (source, destination, ports, the client's
 *               ISN, the time slot, the MSS index, the options), keyed with
 *               the key of the slot
 *   bits  3..2  MSS index (mg_cookie_mss4 / mg_cookie_mss6)
 *   bits  1..0  the slot's low two bits (which of the four keys)
 * The options travel as the kernel's own cookies carry them: only when the
 * client sent timestamps, in the low 6 bits of our TSval (echoed in the
 * ACK's TSecr): window scale (4 bits, 15 = none), SACK (bit 4), bit 5 (ECN)
 * always 0. Without timestamps the connection has no window scaling and
 * no SACK (the SYN-ACK does not offer them). The option bits are hashed, so
 * a changed TSecr fails the check.
 *
 * A slot lasts 2^MG_COOKIE_SLOT_SHIFT ns (34.4 s); a cookie is valid in
 * its slot and the next, so it expires 34 to 69 s after it was sent. The
 * daemon writes the key of slot s+2 during slot s (mailgate_cookie_rotate),
 * so each key is replaced while no valid cookie uses it. */
#ifndef MAILGATE_COOKIE_H
#define MAILGATE_COOKIE_H

#ifndef __bpf__
#include <linux/types.h>
#endif

#define MG_INLINE static inline __attribute__((always_inline))

#define MG_COOKIE_SLOT_SHIFT 35
#define MG_COOKIE_KEYS       4
#define MG_COOKIE_WSCALE     7    /* the window scale our SYN-ACK offers */
#define MG_COOKIE_WS_NONE    0xf
#define MG_COOKIE_TCP_LEN    40   /* our SYN-ACK's TCP header: 20 + 20 bytes of options */

struct mg_cookie_keys {
	__u64 key[MG_COOKIE_KEYS][2]; /* SipHash keys, key[slot % 4] */
	__u64 slot[MG_COOKIE_KEYS];   /* the slot each key was written for (informational) */
	__u32 ready;                  /* 0 until the daemon wrote the keys: no cookies */
	__u32 pad;
};

/* The client's MSS is rounded down to one of four (the index is in the
 * cookie): IPv4 536, 1300, 1440, 1460; IPv6 1220, 1420, 1440, 8940. */
MG_INLINE __u32 mg_cookie_mss(__u32 i, int v6)
{
	switch (i & 3) {
	case 0: return v6 ? 1220 : 536;
	case 1: return v6 ? 1420 : 1300;
	case 2: return 1440;
	default: return v6 ? 8940 : 1460;
	}
}

MG_INLINE __u32 mg_cookie_mssind(__u32 mss, int v6)
{
	__u32 i = 0;

	if (mss >= mg_cookie_mss(1, v6))
		i = 1;
	if (mss >= mg_cookie_mss(2, v6))
		i = 2;
	if (mss >= mg_cookie_mss(3, v6))
		i = 3;
	return i;
}

MG_INLINE __u64 mg_rotl64(__u64 x, int b)
{
	return (x << b) | (x >> (64 - b));
}

#define MG_SIPROUND(v0, v1, v2, v3)                                          \
	do {                                                                 \
		v0 += v1; v1 = mg_rotl64(v1, 13); v1 ^= v0; v0 = mg_rotl64(v0, 32); \
		v2 += v3; v3 = mg_rotl64(v3, 16); v3 ^= v2;                   \
		v0 += v3; v3 = mg_rotl64(v3, 21); v3 ^= v0;                   \
		v2 += v1; v1 = mg_rotl64(v1, 17); v1 ^= v2; v2 = mg_rotl64(v2, 32); \
	} while (0)

#define MG_SIPHASH_WORDS 6

/* SipHash-2-4 of MG_SIPHASH_WORDS 64-bit words (48 bytes) */
MG_INLINE __u64 mg_siphash(const __u64 *key, const __u64 *m)
{
	__u64 v0 = 0x736f6d6570736575ULL ^ key[0], v1 = 0x646f72616e646f6dULL ^ key[1];
	__u64 v2 = 0x6c7967656e657261ULL ^ key[0], v3 = 0x7465646279746573ULL ^ key[1];
	__u64 b = (__u64)(MG_SIPHASH_WORDS * 8) << 56;

#ifdef __bpf__
#pragma unroll
#endif
	for (int i = 0; i < MG_SIPHASH_WORDS; i++) {
		v3 ^= m[i];
		MG_SIPROUND(v0, v1, v2, v3);
		MG_SIPROUND(v0, v1, v2, v3);
		v0 ^= m[i];
	}
	v3 ^= b;
	MG_SIPROUND(v0, v1, v2, v3);
	MG_SIPROUND(v0, v1, v2, v3);
	v0 ^= b;
	v2 ^= 0xff;
	MG_SIPROUND(v0, v1, v2, v3);
	MG_SIPROUND(v0, v1, v2, v3);
	MG_SIPROUND(v0, v1, v2, v3);
	MG_SIPROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

/* The option bits as TSval carries them and the hash covers them. */
MG_INLINE __u32 mg_cookie_opts(__u32 wscale, __u32 sack, __u32 ts)
{
	return (wscale & 0xf) | (sack ? 1u << 4 : 0) | (ts ? 1u << 6 : 0);
}

/* The cookie. src/dst: the client's and our address, 16 bytes each
 * (IPv4-mapped for IPv4); sport/dport: the client's and our port (host
 * order); isn: the client's initial sequence number (the SYN's seq). */
MG_INLINE __u32 mg_cookie_make(const __u64 *key, const __u8 *src, const __u8 *dst, __u16 sport,
				   __u16 dport, __u32 isn, __u64 slot, __u32 mssind, __u32 opts)
{
	__u64 m[MG_SIPHASH_WORDS];
	__u32 h;

	__builtin_memcpy(&m[0], src, 16);
	__builtin_memcpy(&m[2], dst, 16);
	m[4] = (__u64)sport << 48 | (__u64)dport << 32 | isn;
	m[5] = slot << 16 | (__u64)(opts & 0xff) << 8 | (mssind & 3);
	h = (__u32)mg_siphash(key, m);
	return (h & ~0xfu) | (mssind & 3) << 2 | (__u32)(slot & 3);
}

/* The slot a cookie was made in, seen at slot now_slot: the newest slot
 * with the cookie's low two bits; valid iff it is now_slot or the one
 * before (mg_cookie_valid_slot). */
MG_INLINE __u64 mg_cookie_slot_of(__u32 cookie, __u64 now_slot)
{
	return now_slot - ((now_slot - cookie) & 3);
}

MG_INLINE int mg_cookie_valid_slot(__u64 slot, __u64 now_slot)
{
	return now_slot - slot <= 1;
}

#endif /* MAILGATE_COOKIE_H */
