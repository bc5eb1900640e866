// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Bare XDP programs: the baseline the benchmark measures mg_xdp against
 * (xdp_drop), and a pass-through for the client end of a test veth pair
 * (a veth delivers XDP_TX frames only to a peer running XDP). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("xdp")
int xdp_drop(struct xdp_md *ctx)
{
	return XDP_DROP;
}

SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}
