/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Reading flood-mode state and counters of a loaded gate, for the flood
 * tests (test_synflood_mode, test_synflood_gate). */
#ifndef MAILGATE_FLOOD_COUNTS_H
#define MAILGATE_FLOOD_COUNTS_H

#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "gate.skel.h"
#include "mailgate.h"

void flood_global(struct gate *g, struct mg_global *out);

/* counter of one reason, all classes */
long long reason_total(struct gate *g, int reason);

/* SYNs that got past the flood step, whatever came of them after */
long long past_flood_step(struct gate *g);

/* The per-CPU flood state (struct mg_flood_cpu) of a gate loaded with its
 * skeleton: read and written for every CPU at once, v[0..cpus) */
#define FLOOD_CPUS_MAX 1024
int flood_cpu_get(struct gate *g, struct mg_flood_cpu *v);
int flood_cpu_set(struct gate *g, const struct mg_flood_cpu *v);
/* every CPU's state set to *one */
int flood_cpu_fill(struct gate *g, const struct mg_flood_cpu *one);

#endif /* MAILGATE_FLOOD_COUNTS_H */
