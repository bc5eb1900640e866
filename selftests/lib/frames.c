// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* selftests/frames.h: the definitions (the test library, built once) */
#define _GNU_SOURCE
#include "frames.h"

const uint8_t frame_mac_src[6] = { 0x02, 0, 0, 0, 0, 0x01 };

const uint8_t frame_mac_dst[6] = { 0x02, 0, 0, 0, 0, 0x02 };

uint32_t csum_add(uint32_t sum, const void *p, size_t len)
{
	const uint8_t *b = p;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)b[i] << 8 | b[i + 1];
	if (len & 1)
		sum += (uint32_t)b[len - 1] << 8;
	return sum;
}

uint16_t csum_finish(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

uint16_t l4_csum(const uint8_t *ip, int family, const uint8_t *l4, size_t len,
		 uint8_t proto)
{
	uint32_t sum = 0;
	uint8_t tail[4] = { 0, 0, 0, proto };

	if (family == 4)
		sum = csum_add(sum, ip + 12, 8);
	else
		sum = csum_add(sum, ip + 8, 32);
	sum += (uint32_t)len >> 16;
	sum += (uint32_t)len & 0xffff;
	sum = csum_add(sum, tail, 4);
	sum = csum_add(sum, l4, len);
	return csum_finish(sum);
}

size_t frame_build(uint8_t *buf, size_t cap, const struct frame *f, struct frame_off *off)
{
	int v6 = f->family == 6;
	uint8_t proto = f->proto ? f->proto : PROTO_TCP;
	int l4hdr = proto == PROTO_TCP ? 20 + f->tcp_opts : 8;
	int ip_hl = v6 ? 40 : 20 + f->ip_opts;
	int n_ext = f->n_ext + (v6 && f->frag ? 1 : 0);
	int ext_len = 0, p = 0, l3, l4, ip_end;
	uint8_t sa[16], da[16];

	if (v6) {
		ext_len = n_ext * 8;
		inet_pton(AF_INET6, f->src ? f->src : "2001:db8::1", sa);
		inet_pton(AF_INET6, f->dst ? f->dst : "2001:db8:1::1", da);
	} else {
		inet_pton(AF_INET, f->src ? f->src : "192.0.2.1", sa);
		inet_pton(AF_INET, f->dst ? f->dst : "198.51.100.1", da);
	}
	if ((size_t)(14 + 4 * f->vlans + ip_hl + ext_len + l4hdr + f->payload + f->pad) > cap)
		return 0;
	memset(buf, 0, cap);

	memcpy(buf, frame_mac_dst, 6);
	memcpy(buf + 6, frame_mac_src, 6);
	p = 12;
	for (int i = 0; i < f->vlans; i++) {
		put16(buf + p, i == 0 && f->vlans > 1 ? 0x88A8 : 0x8100);
		put16(buf + p + 2, (uint16_t)(100 + i)); /* TCI: VLAN id */
		p += 4;
	}
	put16(buf + p, f->ethertype ? f->ethertype : v6 ? 0x86DD : 0x0800);
	p += 2;
	l3 = p;

	if (v6) {
		uint8_t next = proto;

		buf[l3] = 0x60;
		memcpy(buf + l3 + 8, sa, 16);
		memcpy(buf + l3 + 24, da, 16);
		buf[l3 + 7] = 64;
		p = l3 + 40;
		/* chain: ext[0..n_ext) then the fragment header, each 8 bytes */
		for (int i = n_ext - 1; i >= 0; i--) {
			uint8_t *h = buf + l3 + 40 + 8 * i;
			uint8_t type = i < f->n_ext ? f->ext[i] : EXT_FRAG;

			h[0] = next;
			if (type == EXT_FRAG) {
				put16(h + 2, f->frag == FRAG_OFFSET ? 8 << 3 : f->frag == FRAG_ATOMIC ? 0 : 1);
				put32(h + 4, 0x1234);
			} else {
				h[1] = 0; /* 8 bytes; hop/dst options: PadN of 4 after 2 bytes */
				if (type != EXT_ROUT) {
					h[2] = 1;
					h[3] = 4;
				} else {
					h[2] = 0; /* routing type 0 header, segments left 0 */
				}
			}
			next = type;
		}
		buf[l3 + 6] = next;
		p = l3 + 40 + ext_len;
	} else {
		buf[l3] = 0x40 | (uint8_t)(ip_hl / 4);
		put16(buf + l3 + 4, 0x1234);
		put16(buf + l3 + 6, f->frag == FRAG_MF ? 0x2000 : f->frag == FRAG_OFFSET ? 0x0010 : 0x4000);
		buf[l3 + 8] = 64;
		buf[l3 + 9] = proto;
		memcpy(buf + l3 + 12, sa, 4);
		memcpy(buf + l3 + 16, da, 4);
		for (int i = 0; i < f->ip_opts; i++)
			buf[l3 + 20 + i] = 1; /* NOP options */
		p = l3 + ip_hl;
	}
	l4 = p;

	if (proto == PROTO_TCP) {
		put16(buf + l4, f->sport ? f->sport : 40000);
		put16(buf + l4 + 2, f->dport ? f->dport : 25);
		put32(buf + l4 + 4, f->seq ? f->seq : 0x11223344);
		put32(buf + l4 + 8, (f->flags & TH_ACK) ? 0x55667788 : 0);
		buf[l4 + 12] = (uint8_t)((l4hdr / 4) << 4);
		buf[l4 + 13] = f->flags ? f->flags : TH_SYN;
		put16(buf + l4 + 14, 64240);
		for (int i = 0; i < f->tcp_opts; i++)
			buf[l4 + 20 + i] = 1; /* NOP */
		if (f->tcp_opts >= 4) { /* MSS 1460 */
			buf[l4 + 20] = 2;
			buf[l4 + 21] = 4;
			put16(buf + l4 + 22, 1460);
		}
	} else if (proto == PROTO_UDP) {
		put16(buf + l4, f->sport ? f->sport : 40000);
		put16(buf + l4 + 2, f->dport ? f->dport : 25);
		put16(buf + l4 + 4, (uint16_t)(8 + f->payload));
	}
	for (int i = 0; i < f->payload; i++)
		buf[l4 + l4hdr + i] = (uint8_t)('a' + i % 26);
	ip_end = f->l4_cut > 0 ? l4 + f->l4_cut : l4 + l4hdr + f->payload;

	if (v6) {
		put16(buf + l3 + 4, (uint16_t)(ip_end - l3 - 40));
	} else {
		put16(buf + l3 + 2, (uint16_t)(ip_end - l3));
		uint16_t c = csum_finish(csum_add(0, buf + l3, ip_hl)); /* field is 0 here */

		memcpy(buf + l3 + 10, &c, 2);
	}
	if (proto == PROTO_TCP && f->l4_cut <= 0) {
		uint16_t c = l4_csum(buf + l3, v6 ? 6 : 4, buf + l4, ip_end - l4, PROTO_TCP);

		memcpy(buf + l4 + 16, &c, 2);
	}
	if (off) {
		off->l3 = l3;
		off->l4 = l4;
		off->len = ip_end + f->pad;
	}
	return ip_end + f->pad;
}
