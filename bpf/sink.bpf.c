// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* XDP programs for the far side of a lab veth (tests and scripts/bench.sh).
 * A veth only takes frames sent with XDP (live frames, XDP_TX, redirect)
 * when its peer runs NAPI, which an attached XDP program turns on:
 * sink_pass does only that and hands every frame to the stack; sink_drop
 * is the bare XDP_DROP baseline of the benchmark. Attach with
 * `ip link set dev DEV xdpdrv obj .output/sink.bpf.o program sink_drop`. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

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
