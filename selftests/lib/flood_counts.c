// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* selftests/flood_counts.h: the definitions (the test library, built once) */
#define _GNU_SOURCE
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
