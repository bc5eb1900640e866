/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Crafting Ethernet frames for the data path tests: one description
 * (struct frame) in, the bytes out, with correct IPv4 and TCP checksums and
 * the offsets of each header so that a test can break one field. */
#ifndef MAILGATE_FRAMES_H
#define MAILGATE_FRAMES_H

#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_PSH 0x08
#define TH_ACK 0x10

#define PROTO_TCP  6
#define PROTO_UDP  17
#define PROTO_ICMP 1
#define EXT_HOP  0
#define EXT_ROUT 43
#define EXT_FRAG 44
#define EXT_DST  60

/* FRAG_MF: a first fragment (offset 0, more fragments); FRAG_OFFSET: a later
 * one; FRAG_ATOMIC: IPv6 fragment header with offset 0 and M clear */
enum frag { FRAG_NONE, FRAG_MF, FRAG_OFFSET, FRAG_ATOMIC };

struct frame {
	int family;            /* 4 (default) or 6 */
	int vlans;             /* 0..3 tags: first 802.1ad, the rest 802.1Q */
	const char *src, *dst; /* default 192.0.2.1 -> 198.51.100.1, 2001:db8::1 -> 2001:db8:1::1 */
	uint16_t sport, dport; /* default 40000 -> 25 */
	uint8_t flags;         /* TCP flags; 0 means TH_SYN */
	uint8_t proto;         /* L4 protocol; 0 means TCP */
	uint16_t ethertype;    /* 0 means by family */
	int ip_opts;           /* IPv4 option bytes (multiple of 4, <= 40) */
	int n_ext;             /* IPv6 extension headers, in order, from ext[] */
	uint8_t ext[12];
	int frag;              /* enum frag: IPv4 MF / offset; IPv6 adds a fragment header */
	int tcp_opts;          /* TCP option bytes (multiple of 4, <= 40) */
	int payload;           /* L4 payload bytes */
	int pad;               /* Ethernet trailer bytes after the IP packet */
	int l4_cut;            /* > 0: the IP packet ends this many bytes into the L4 header
				* (a tiny first fragment); no L4 checksum then */
	uint32_t seq;
};

struct frame_off {
	int l3, l4, len; /* where IP and the L4 header start; the frame's length */
};

extern const uint8_t frame_mac_src[6];
extern const uint8_t frame_mac_dst[6];

uint32_t csum_add(uint32_t sum, const void *p, size_t len);
uint16_t csum_finish(uint32_t sum);

/* L4 checksum over the pseudo header; p points at the IP header, l4 at the
 * L4 header, len bytes of it. Returns the folded sum: 0 when the stored
 * checksum is right (for verifying), else use it with the field zeroed. */
uint16_t l4_csum(const uint8_t *ip, int family, const uint8_t *l4, size_t len,
		 uint8_t proto);
static inline void put16(uint8_t *p, uint16_t v) { p[0] = v >> 8; p[1] = (uint8_t)v; }
static inline void put32(uint8_t *p, uint32_t v) { put16(p, v >> 16); put16(p + 2, (uint16_t)v); }
static inline uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t get32(const uint8_t *p) { return (uint32_t)get16(p) << 16 | get16(p + 2); }

/* Build f into buf (cap bytes); returns the length, 0 if it does not fit. */
size_t frame_build(uint8_t *buf, size_t cap, const struct frame *f, struct frame_off *off);

#endif /* MAILGATE_FRAMES_H */
