// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Walking the pinned maps from any process: one walk (batch lookups where
 * the map type has them, else get_next_key), and on it copying every entry
 * out and counting the entries. */
#include <errno.h>
#ifndef ENOTSUPP
#define ENOTSUPP 524 /* the kernel's, for "no batch ops" */
#endif
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include "mailgate.h"

#define WALK_CHUNK 4096

/* A map changing under a walk can make it start over (an LPM trie whose key
 * was deleted, get_next_key of a vanished key): after this many entries the
 * walk stops, so it always ends; an entry may then come twice. */
static size_t walk_limit(const struct bpf_map_info *info)
{
	return 2 * (size_t)info->max_entries + 16;
}

static bool no_batch_ops(int err)
{
	return err == -EINVAL || err == -ENOTSUP || err == -EOPNOTSUPP || err == -ENOTSUPP;
}

/* Batch lookups: hash maps, and LPM tries on kernels with the generic batch
 * ops. 1 when this map has none (nothing walked), else 0, -errno or fn's. */
static int walk_batch(int fd, const struct bpf_map_info *info, map_walk_fn fn, void *ctx)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	/* the batch token is the map's own business: a bucket index for hash
	 * maps, a key for the generic ops; room for either */
	size_t tok_len = info->key_size > 8 ? info->key_size : 8, done = 0;
	uint8_t *keys = NULL, *vals = NULL, *tok = malloc(2 * tok_len);
	uint32_t chunk = WALK_CHUNK;
	bool first = true;
	int err = -ENOMEM, intr = 0;

	keys = malloc((size_t)chunk * info->key_size);
	vals = malloc((size_t)chunk * info->value_size);
	while (tok && keys && vals && done < walk_limit(info)) {
		uint32_t n = chunk;

		err = bpf_map_lookup_batch(fd, first ? NULL : tok, tok + tok_len, keys, vals, &n, &opts) ? -errno : 0;
		if (err == -ENOSPC && !n && chunk < (1u << 20)) { /* a hash bucket bigger than chunk */
			void *k = realloc(keys, (size_t)chunk * 2 * info->key_size);
			void *v = k ? realloc(vals, (size_t)chunk * 2 * info->value_size) : NULL;

			keys = k ? k : keys;
			vals = v ? v : vals;
			err = -ENOMEM;
			if (!k || !v)
				break;
			chunk *= 2;
			continue;
		}
		if (first && !n && no_batch_ops(err)) {
			err = 1;
			break;
		}
		if (err && err != -ENOENT && !(err == -EINTR && ++intr < 16)) /* EINTR: entries vanishing */
			break;
		for (uint32_t i = 0; i < n; i++) {
			int r = fn(keys + (size_t)i * info->key_size, vals + (size_t)i * info->value_size, ctx);

			if (r) {
				err = r;
				goto out;
			}
		}
		done += n;
		if (err == -ENOENT || (!err && !n)) { /* the end */
			err = 0;
			break;
		}
		if (n) { /* the kernel wrote where to go on */
			memcpy(tok, tok + tok_len, tok_len);
			first = false;
		}
		err = 0;
	}
out:
	free(keys);
	free(vals);
	free(tok);
	return err;
}

/* one get_next_key and one lookup per entry */
static int walk_keys(int fd, const struct bpf_map_info *info, map_walk_fn fn, void *ctx)
{
	uint8_t *key = malloc(2 * (size_t)info->key_size + info->value_size);
	uint8_t *next = key + info->key_size, *val = next + info->key_size;
	size_t steps = 0, limit = walk_limit(info);
	void *prev = NULL;
	int err;

	if (!key)
		return -ENOMEM;
	while (steps++ < limit && !bpf_map_get_next_key(fd, prev, next)) {
		memcpy(key, next, info->key_size);
		prev = key;
		if (bpf_map_lookup_elem(fd, key, val))
			continue; /* gone in between */
		err = fn(key, val, ctx);
		if (err)
			goto out;
	}
	err = steps > limit || errno == ENOENT ? 0 : -errno;
out:
	free(key);
	return err;
}

int map_info(int fd, struct bpf_map_info *info)
{
	uint32_t len = sizeof(*info);

	memset(info, 0, sizeof(*info));
	return bpf_obj_get_info_by_fd(fd, info, &len) ? -errno : 0;
}

int map_walk(int fd, map_walk_fn fn, void *ctx)
{
	struct bpf_map_info info;
	int err = map_info(fd, &info);

	if (err)
		return err;
	if (info.type == BPF_MAP_TYPE_HASH || info.type == BPF_MAP_TYPE_LRU_HASH ||
	    info.type == BPF_MAP_TYPE_LPM_TRIE) {
		err = walk_batch(fd, &info, fn, ctx);
		if (err != 1)
			return err;
	}
	return walk_keys(fd, &info, fn, ctx);
}

/* ---- copy out ---- */
void map_dump_free(struct map_dump *d)
{
	free(d->keys);
	free(d->vals);
	memset(d, 0, sizeof(*d));
}

static int dump_one(const void *key, const void *value, void *ctx)
{
	struct map_dump *d = ctx;

	if (d->n == d->cap) {
		size_t cap = d->cap ? 2 * d->cap : 1024;
		void *k = realloc(d->keys, cap * d->key_size), *v;

		if (!k)
			return -ENOMEM;
		d->keys = k;
		v = realloc(d->vals, cap * d->val_size);
		if (!v)
			return -ENOMEM;
		d->vals = v;
		d->cap = cap;
	}
	memcpy((uint8_t *)d->keys + d->n * d->key_size, key, d->key_size);
	memcpy((uint8_t *)d->vals + d->n * d->val_size, value, d->val_size);
	d->n++;
	return 0;
}

int map_dump(int fd, struct map_dump *d)
{
	struct bpf_map_info info;
	int err;

	memset(d, 0, sizeof(*d));
	err = map_info(fd, &info);
	if (err)
		return err;
	d->key_size = info.key_size;
	d->val_size = info.value_size;
	err = map_walk(fd, dump_one, d);
	if (err)
		map_dump_free(d);
	return err;
}

/* ---- count ---- */
static int count_one(const void *key, const void *value, void *ctx)
{
	(*(long *)ctx)++;
	return 0;
}

long map_count(int fd, uint32_t *max_entries)
{
	struct bpf_map_info info;
	long n = 0;
	int err = map_info(fd, &info);

	if (err)
		return err;
	if (max_entries)
		*max_entries = info.max_entries;
	if (info.type == BPF_MAP_TYPE_ARRAY || info.type == BPF_MAP_TYPE_PERCPU_ARRAY)
		return info.max_entries;
	err = map_walk(fd, count_one, &n);
	if (err)
		return err;
	/* more than it can hold: entries seen twice while the map changed */
	return n < (long)info.max_entries ? n : (long)info.max_entries;
}
