// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* How full the maps are. Counting the entries of a million-entry map from
 * userspace (map_count()) takes 0.2 s (hash, batch lookups) to 2 s (an LPM
 * trie without batch ops: syscalls per key), so the census asks the kernel
 * instead: a bpf_map iterator (bpf/census.bpf.c) reads every map's own
 * element count in well under a millisecond. Kernels without that (before
 * 6.6) get the walk, cached for CENSUS_WALK_TTL_NS so that scrapes and
 * checks every few seconds stay cheap. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "listset.h"
#include "census.h"
#include "census.skel.h"

static pthread_mutex_t census_lock = PTHREAD_MUTEX_INITIALIZER;
static struct census_bpf *census_skel;
static struct bpf_link *census_link;
static int census_mode;             /* 0 not tried yet, 1 iterator, -1 walk */
static struct census walk_cache;
static uint32_t walk_cache_id;      /* id of the mg_src map the cache is for */

static bool counted_map(enum gate_map m)
{
	switch (m) {
	case GM_ALLOW: case GM_DENY: case GM_BAN: case GM_VERDICT:
	case GM_SRC: case GM_PREFIX: case GM_CONN: case GM_VERIFIED:
	case GM_BAN_QUOTA: case GM_REJECT:
	case GM_STOPPED:
		return true;
	default:
		return false;
	}
}

/* the map to count: the live set for the allow and deny lists (a new fd,
 * *owned set; -ENOENT: the list never had one), else the gate's */
static int census_fd(struct gate *g, int m, bool *owned)
{
	*owned = m == GM_ALLOW || m == GM_DENY;
	return *owned ? list_live_fd(g, m == GM_ALLOW ? MG_LIST_ALLOW : MG_LIST_DENY) : g->fd[m];
}

/* capacities and which maps count; the ids for matching iterator records */
static int census_prepare(struct gate *g, struct census *c, uint32_t *ids)
{
	struct bpf_map_info info;
	bool owned;
	int err, fd;

	memset(c, 0, sizeof(*c));
	c->taken_ns = now_boot_ns();
	for (int m = 0; m < GM_MAX; m++) {
		ids[m] = 0;
		if (g->fd[m] < 0)
			continue;
		if (!counted_map(m)) { /* arrays, ring buffer, sk storage: a type and a size */
			err = map_info(g->fd[m], &info);
			if (err)
				return err;
			c->type[m] = info.type;
			c->capacity[m] = info.max_entries;
			continue;
		}
		fd = census_fd(g, m, &owned);
		if (fd == -ENOENT) { /* a list without a set: empty */
			c->type[m] = BPF_MAP_TYPE_HASH;
			c->capacity[m] = list_capacity(m == GM_ALLOW ? MG_LIST_ALLOW : MG_LIST_DENY);
			c->counted[m] = true;
			continue;
		}
		if (fd < 0)
			return fd;
		err = map_info(fd, &info);
		if (owned)
			close(fd);
		if (err)
			return err;
		ids[m] = info.id;
		c->type[m] = info.type;
		/* a list's set is sized to its entries: the list's capacity is the limit */
		c->capacity[m] = owned ? list_capacity(m == GM_ALLOW ? MG_LIST_ALLOW : MG_LIST_DENY)
				       : info.max_entries;
		c->counted[m] = true;
	}
	return 0;
}

int census_walk(struct gate *g, struct census *c)
{
	uint32_t ids[GM_MAX];
	int err = census_prepare(g, c, ids);

	for (int m = 0; m < GM_MAX && !err; m++) {
		bool owned;
		long n;
		int fd;

		if (!c->counted[m] || !ids[m])
			continue;
		fd = census_fd(g, m, &owned);
		if (fd < 0) {
			err = fd;
			break;
		}
		n = map_count(fd, NULL);
		if (owned)
			close(fd);
		if (n < 0)
			err = (int)n;
		else
			c->entries[m] = n;
	}
	c->walked = true;
	return err;
}

static int census_iter(struct gate *g, struct census *c)
{
	uint32_t ids[GM_MAX];
	struct census_rec recs[256];
	size_t have = 0;
	ssize_t got;
	int fd, err;

	err = census_prepare(g, c, ids);
	if (err)
		return err;
	fd = bpf_iter_create(bpf_link__fd(census_link));
	if (fd < 0)
		return -errno;
	/* whole records only; a read may end inside one */
	while ((got = read(fd, (char *)recs + have, sizeof(recs) - have)) > 0) {
		size_t n;

		have += got;
		n = have / sizeof(recs[0]);
		for (size_t i = 0; i < n; i++)
			for (int m = 0; m < GM_MAX; m++)
				if (ids[m] && recs[i].id == ids[m])
					c->entries[m] = recs[i].entries > 0 ? recs[i].entries : 0;
		have -= n * sizeof(recs[0]);
		memmove(recs, (char *)recs + n * sizeof(recs[0]), have);
	}
	err = got < 0 ? -errno : 0;
	close(fd);
	return err;
}

/* Load the iterator once per process; false when this kernel cannot. */
static bool census_iter_ready(void)
{
	if (census_mode)
		return census_mode > 0;
	census_skel = census_bpf__open_and_load();
	if (census_skel)
		census_link = bpf_program__attach_iter(census_skel->progs.census_maps, NULL);
	if (!census_skel || !census_link) {
		pr_info("msg=\"map census: no BPF map iterator with element counts (Linux 6.6+); counting by walking the maps, cached\" ttl_s=%llu",
			CENSUS_WALK_TTL_NS / NSEC_PER_SEC);
		census_bpf__destroy(census_skel);
		census_skel = NULL;
		census_link = NULL;
		census_mode = -1;
		return false;
	}
	census_mode = 1;
	return true;
}

int census_read(struct gate *g, struct census *c)
{
	uint32_t src_id = 0;
	struct bpf_map_info info;
	int err;

	pthread_mutex_lock(&census_lock);
	/* $MAILGATE_CENSUS_WALK: for tests, and a kernel whose counts look wrong */
	if (!getenv("MAILGATE_CENSUS_WALK") && census_iter_ready()) {
		err = census_iter(g, c);
		goto out;
	}
	if (g->fd[GM_SRC] >= 0 && !map_info(g->fd[GM_SRC], &info))
		src_id = info.id;
	if (src_id && src_id == walk_cache_id &&
	    now_boot_ns() - walk_cache.taken_ns < CENSUS_WALK_TTL_NS) {
		*c = walk_cache;
		err = 0;
		goto out;
	}
	err = census_walk(g, c);
	if (!err) {
		walk_cache = *c;
		walk_cache_id = src_id;
	}
out:
	pthread_mutex_unlock(&census_lock);
	return err;
}
