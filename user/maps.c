// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Walking the pinned maps from a command: copy out every entry (batch
 * lookups where the map type has them, else get_next_key), count entries. */
#include <errno.h>
#ifndef ENOTSUPP
#define ENOTSUPP 524 /* the kernel's, for "no batch ops" */
#endif
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include "mailgate.h"

void map_dump_free(struct map_dump *d)
{
	free(d->keys);
	free(d->vals);
	memset(d, 0, sizeof(*d));
}

static int grow(struct map_dump *d, size_t want)
{
	size_t cap = d->cap ? d->cap : 1024;
	void *k, *v;

	if (want <= d->cap)
		return 0;
	while (cap < want)
		cap *= 2;
	k = realloc(d->keys, cap * d->key_size);
	if (!k)
		return -ENOMEM;
	d->keys = k;
	v = realloc(d->vals, cap * d->val_size);
	if (!v)
		return -ENOMEM;
	d->vals = v;
	d->cap = cap;
	return 0;
}

/* Batch lookups (hash maps, and LPM tries on kernels with the generic batch
 * ops). A trie walk restarts when its key is deleted under it: the limit on
 * entries copied keeps that finite, like dump_walk()'s step limit. */
static int dump_batch(int fd, struct map_dump *d, uint32_t max_entries)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	uint8_t token[64];
	uint32_t count, chunk = 4096;
	size_t limit = 2 * (size_t)max_entries + 16;
	bool first = true;
	int err, intr = 0;

	while (d->n < limit) {
		err = grow(d, d->n + chunk);
		if (err)
			return err;
		count = chunk;
		err = bpf_map_lookup_batch(fd, first ? NULL : token, token,
					   (uint8_t *)d->keys + d->n * d->key_size,
					   (uint8_t *)d->vals + d->n * d->val_size, &count, &opts);
		err = err ? -errno : 0;
		if (err == -EINTR && ++intr < 16) { /* entries vanishing under the walk */
			d->n += count;
			continue;
		}
		if (err && err != -ENOENT) {
			if (err == -ENOSPC && chunk < (1u << 20)) { /* a bucket bigger than chunk */
				chunk *= 2;
				continue;
			}
			return err;
		}
		d->n += count;
		first = false;
		if (err == -ENOENT)
			return 0;
	}
	return 0;
}

static int dump_walk(int fd, struct map_dump *d, uint32_t max_entries)
{
	uint8_t key[64], next[64];
	void *prev = NULL;
	size_t steps = 0, limit = 2 * (size_t)max_entries + 16;
	int err;

	/* an entry deleted under us makes get_next_key start over; the step
	 * limit keeps that finite (duplicates are the caller's to tolerate) */
	while (steps++ < limit && !bpf_map_get_next_key(fd, prev, next)) {
		err = grow(d, d->n + 1);
		if (err)
			return err;
		memcpy(key, next, d->key_size);
		prev = key;
		if (bpf_map_lookup_elem(fd, key, (uint8_t *)d->vals + d->n * d->val_size))
			continue; /* gone in between */
		memcpy((uint8_t *)d->keys + d->n * d->key_size, key, d->key_size);
		d->n++;
	}
	return errno == ENOENT || steps > limit ? 0 : -errno;
}

int map_dump(int fd, struct map_dump *d)
{
	struct bpf_map_info info = {};
	uint32_t len = sizeof(info);
	int err;

	memset(d, 0, sizeof(*d));
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	if (info.key_size > 64)
		return -EINVAL;
	d->key_size = info.key_size;
	d->val_size = info.value_size;
	if (info.type == BPF_MAP_TYPE_HASH || info.type == BPF_MAP_TYPE_LRU_HASH ||
	    info.type == BPF_MAP_TYPE_LPM_TRIE) {
		err = dump_batch(fd, d, info.max_entries);
		if (err != -EINVAL && err != -ENOTSUP && err != -EOPNOTSUPP && err != -ENOTSUPP)
			return err;
		d->n = 0; /* no batch ops here: walk */
	}
	err = dump_walk(fd, d, info.max_entries);
	if (err)
		map_dump_free(d);
	return err;
}

/* count with batch lookups into one scratch buffer; < 0 when unsupported */
static long count_batch(int fd, const struct bpf_map_info *info, long limit)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	const uint32_t chunk = 4096;
	uint8_t token[64];
	void *keys = malloc((size_t)chunk * info->key_size), *vals = malloc((size_t)chunk * info->value_size);
	bool first = true;
	long n = 0;
	int err = -ENOMEM, intr = 0;

	if (info->type != BPF_MAP_TYPE_HASH && info->type != BPF_MAP_TYPE_LRU_HASH &&
	    info->type != BPF_MAP_TYPE_LPM_TRIE) {
		free(keys);
		free(vals);
		return -EOPNOTSUPP;
	}
	while (keys && vals && n < limit) {
		uint32_t count = chunk;

		err = bpf_map_lookup_batch(fd, first ? NULL : token, token, keys, vals, &count, &opts) ? -errno : 0;
		n += count;
		first = false;
		if (err == -EINTR && ++intr < 16)
			continue;
		if (err)
			break;
	}
	free(keys);
	free(vals);
	if (err == -ENOENT || !err)
		return n;
	return err;
}

long map_count(int fd, uint32_t *max_entries)
{
	struct bpf_map_info info = {};
	uint32_t len = sizeof(info);
	uint8_t key[64], next[64];
	void *prev = NULL;
	long n = 0, limit;

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	if (max_entries)
		*max_entries = info.max_entries;
	if (info.type == BPF_MAP_TYPE_ARRAY || info.type == BPF_MAP_TYPE_PERCPU_ARRAY)
		return info.max_entries;
	if (info.key_size > 64)
		return -EINVAL;
	limit = (long)info.max_entries + 16;
	n = count_batch(fd, &info, limit);
	if (n >= 0)
		return n < limit ? n : (long)info.max_entries;
	n = 0; /* no batch ops: walk */
	while (n < limit && !bpf_map_get_next_key(fd, prev, next)) {
		memcpy(key, next, info.key_size);
		prev = key;
		n++;
	}
	return n < limit ? n : (long)info.max_entries;
}
