// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The gate's data path once more, built to be loaded device-bound (one
 * program per interface, BPF_F_XDP_DEV_BOUND_ONLY, user/gate.c
 * gate_xdp_load): the same source with MG_XDP_DEV_BOUND, whose cookie
 * SYN-ACK puts back a VLAN tag the NIC stripped (bpf/cookie.bpf.h). A
 * program of its own because the verifier refuses the metadata kfunc in a
 * program that is not device-bound, and BPF_PROG_TEST_RUN refuses a
 * device-bound program: gate.bpf.o stays what the tests and benchmarks
 * run. Its maps are gate.bpf.o's (the loader hands it their fds). */
#define MG_XDP_DEV_BOUND
#include "gate.bpf.c"
