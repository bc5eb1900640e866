// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* selftests/flood_counts.h: the definitions (the test library, built once) */
#define _GNU_SOURCE
#include "gate.skel.h"
#include "flood_counts.h"

void flood_global(struct gate *g, struct mg_global *out)
{
	uint32_t zero = 0;

	memset(out, 0, sizeof(*out));
	bpf_map_lookup_elem(g->fd[GM_GLOBAL], &zero, out);
}

long long reason_total(struct gate *g, int reason)
{
	static uint64_t c[MG_COUNTER_SLOTS];
	long long sum = 0;

	gate_read_counters(g, c);
	for (int cl = 0; cl < MG_CLASS_MAX; cl++)
		sum += c[MG_COUNTER_IDX(reason, cl)];
	return sum;
}

long long past_flood_step(struct gate *g)
{
	return reason_total(g, MG_REASON_PASS_OK) + reason_total(g, MG_REASON_PASS_PENDING) +
	       reason_total(g, MG_REASON_DROP_RATE) + reason_total(g, MG_REASON_DROP_PREFIX_RATE) +
	       reason_total(g, MG_REASON_DROP_CONCURRENT) +
	       reason_total(g, MG_REASON_DROP_TOTAL_CONCURRENT);
}

int flood_cpu_get(struct gate *g, struct mg_flood_cpu *v)
{
	uint32_t zero = 0;

	return bpf_map_lookup_elem(bpf_map__fd(g->skel->maps.mg_flood_cpu), &zero, v);
}

int flood_cpu_set(struct gate *g, const struct mg_flood_cpu *v)
{
	uint32_t zero = 0;

	return bpf_map_update_elem(bpf_map__fd(g->skel->maps.mg_flood_cpu), &zero, v, BPF_ANY);
}

int flood_cpu_fill(struct gate *g, const struct mg_flood_cpu *one)
{
	static struct mg_flood_cpu v[FLOOD_CPUS_MAX];
	int n = libbpf_num_possible_cpus();

	for (int i = 0; i < n && i < FLOOD_CPUS_MAX; i++)
		v[i] = *one;
	return flood_cpu_set(g, v);
}
