// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* How many entries each BPF map holds, read from the kernel's own counts in
 * one pass over the maps (a bpf_map iterator), instead of walking a million
 * entries from userspace. Hash and LRU hash maps keep an element count the
 * kfunc bpf_map_sum_elem_count() sums (Linux 6.6+); an LPM trie keeps
 * n_entries. Output: one struct census_rec per map (include/census.h). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "census.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

extern s64 bpf_map_sum_elem_count(const struct bpf_map *map) __ksym;

SEC("iter/bpf_map")
int census_maps(struct bpf_iter__bpf_map *ctx)
{
	struct bpf_map *map = ctx->map;
	struct census_rec rec = {};

	if (!map)
		return 0;
	rec.id = map->id;
	if (map->map_type == BPF_MAP_TYPE_LPM_TRIE) {
		struct lpm_trie *t = container_of(map, struct lpm_trie, map);

		rec.entries = BPF_CORE_READ(t, n_entries);
	} else {
		rec.entries = bpf_map_sum_elem_count(map);
	}
	bpf_seq_write(ctx->meta->seq, &rec, sizeof(rec));
	return 0;
}
