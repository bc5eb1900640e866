// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* mailgate synflood: the frame generator's XDP program, run by userspace
 * with BPF_PROG_TEST_RUN + BPF_F_TEST_XDP_LIVE_FRAMES. Each run gets the
 * template SYN (or the same page again, with our last changes in it: live
 * frames are not reset between runs), gives it a fresh source address,
 * source port, IPv4 id, sequence number and timestamp value, patches both
 * checksums incrementally from whatever the frame holds now (sf_rewrite in
 * include/synflood.h), and returns XDP_TX: the kernel sends the frame out of
 * the interface of ctx->ingress_ifindex. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define SF_RANDOM() bpf_get_prandom_u32()
#include "synflood.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* set by userspace before load */
const volatile struct sf_params sf = {};
const volatile __u32 sf_list[SF_MAX_LIST * 4] = {};

/* frames generated, per CPU */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sf_stats);
} sf_stats SEC(".maps");

SEC("xdp")
int sf_gen(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	bool ok = data + (sf.v6 ? SF_FRAME6_LEN : SF_FRAME4_LEN) <= end;
	struct sf_stats *st;
	__u32 zero = 0;

	if (ok)
		sf_rewrite(data, &sf, sf_list);
	st = bpf_map_lookup_elem(&sf_stats, &zero);
	if (st) {
		if (ok)
			st->frames++;
		else
			st->short_frames++;
	}
	return ok ? XDP_TX : XDP_DROP;
}

/* Probe: proves live frames work on this kernel and interface without
 * sending anything. */
SEC("xdp")
int sf_probe(struct xdp_md *ctx)
{
	return XDP_DROP;
}
