// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#define _GNU_SOURCE
/* The allow and deny lists from userspace: the live set of each, the match
 * rule shared with the data path (include/lists.h), single changes, and
 * replaces switched in one step. Layout: include/lists.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <signal.h>
#include <sys/mman.h>
#include <bpf/bpf.h>
#include "gate.h"

struct probe_ctx {
	int fd;
	struct mg_rule r;
};
#define mg_list_probe(set, k) listset_probe(set, k)
static const struct mg_rule *listset_probe(void *set, const struct mg_lpm_key *k);
#include "listset.h"

#define BATCH 16384

static const struct mg_rule *listset_probe(void *set, const struct mg_lpm_key *k)
{
	struct probe_ctx *p = set;

	return bpf_map_lookup_elem(p->fd, k, &p->r) ? NULL : &p->r;
}

enum gate_map list_map(enum mg_list l)
{
	return l == MG_LIST_ALLOW ? GM_ALLOW : GM_DENY;
}

uint32_t list_capacity(enum mg_list l)
{
	return l == MG_LIST_ALLOW ? MG_MAX_ALLOW : MG_MAX_DENY;
}

const char *list_name(enum mg_list l)
{
	return l == MG_LIST_ALLOW ? "allow" : "deny";
}

static int read_meta(struct gate *g, enum mg_list l, struct mg_list_meta *m)
{
	uint32_t k = l;

	return bpf_map_lookup_elem(g->fd[GM_LISTS], &k, m) ? -errno : 0;
}

/* Each slot's set is also pinned, as mg_allow_set_0 ... mg_deny_set_1, so
 * that any process opens it by path (an inner map's id would need
 * CAP_SYS_ADMIN to become an fd, which the daemon gives up). */
static void slot_path(struct gate *g, enum mg_list l, uint32_t slot, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s_%u", g->pin_dir, l == MG_LIST_ALLOW ? MG_LIST_SET_NAME_ALLOW : MG_LIST_SET_NAME_DENY,
		 slot);
}

static int slot_fd(struct gate *g, enum mg_list l, uint32_t slot)
{
	char path[PATH_MAX + 32];
	int fd;

	slot_path(g, l, slot, path, sizeof(path));
	fd = bpf_obj_get(path);
	return fd < 0 ? -errno : fd;
}

/* slot's pin names set_fd (the slot is not live while this runs) */
static int slot_pin(struct gate *g, enum mg_list l, uint32_t slot, int set_fd)
{
	char path[PATH_MAX + 32];

	slot_path(g, l, slot, path, sizeof(path));
	if (unlink(path) && errno != ENOENT)
		return -errno;
	return bpf_obj_pin(set_fd, path) ? -errno : 0;
}

int list_live_fd(struct gate *g, enum mg_list l)
{
	struct mg_list_meta m;
	int err = read_meta(g, l, &m);

	return err ? err : slot_fd(g, l, m.gen & 1);
}

bool list_match(struct gate *g, enum mg_list l, const struct mg_addr *a, uint64_t now,
		struct mg_lpm_key *key, struct mg_rule *rule)
{
	struct mg_list_meta *m = malloc(sizeof(*m));
	const struct mg_list_lens *lens;
	const struct mg_rule *r = NULL;
	struct mg_list_addr x;
	struct probe_ctx p;
	__u64 clk = now;
	uint32_t n, slot;
	int v4;

	if (!m || read_meta(g, l, m))
		goto out;
	slot = m->gen & 1;
	p.fd = slot_fd(g, l, slot);
	if (p.fd < 0)
		goto out;
	lens = &m->lens[slot];
	mg_list_addr(&x, a->a);
	v4 = mg_list_addr_v4(&x);
	n = mg_list_may_match(lens, m->filter[slot], &x, v4) ? mg_list_count(lens, v4) : 0;
	for (uint32_t i = 0; i < n && !r; i++)
		r = mg_list_step(&p, lens, v4, &x, &clk, i, key);
	close(p.fd);
	if (r)
		*rule = *r;
out:
	free(m);
	return r != NULL;
}

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = { .tv_sec = ns / NSEC_PER_SEC, .tv_nsec = ns % NSEC_PER_SEC };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static size_t meta_len(void)
{
	size_t len = (size_t)MG_LISTS * ((sizeof(struct mg_list_meta) + 7) & ~7ul);
	long page = sysconf(_SC_PAGESIZE);

	return (len + page - 1) / page * page;
}

static struct mg_list_meta *meta_map(struct gate *g)
{
	void *base = mmap(NULL, meta_len(), PROT_READ | PROT_WRITE, MAP_SHARED, g->fd[GM_LISTS], 0);

	return base == MAP_FAILED ? NULL : base;
}

static struct mg_list_meta *meta_of(struct mg_list_meta *base, enum mg_list l)
{
	return (struct mg_list_meta *)((char *)base + l * ((sizeof(*base) + 7) & ~7ul));
}

/* The lists lock: the pid of its holder in mg_lists, taken by compare and
 * swap (writers are separate processes: CLI, zone load, the daemon, whose
 * own lock on the pin dir is for the daemon alone). A holder that died (kill
 * -9) is noticed and replaced. */
static __thread struct mg_list_meta *lock_base;

int list_lock(struct gate *g)
{
	uint32_t me = gettid(), holder; /* a thread id: the daemon's threads are writers apart */
	struct mg_list_meta *base = meta_map(g);

	if (!base)
		return -errno;
	for (;;) {
		holder = 0;
		if (__atomic_compare_exchange_n(&base->lock, &holder, me, false, __ATOMIC_ACQUIRE,
						__ATOMIC_RELAXED))
			break;
		if (kill(holder, 0) && errno == ESRCH) { /* its holder died */
			if (__atomic_compare_exchange_n(&base->lock, &holder, me, false, __ATOMIC_ACQUIRE,
							__ATOMIC_RELAXED))
				break;
			continue;
		}
		sleep_ns(NSEC_PER_SEC / 1000);
	}
	lock_base = base;
	return 0;
}

void list_unlock(int lock)
{
	uint32_t me = gettid();

	if (lock < 0 || !lock_base)
		return;
	__atomic_compare_exchange_n(&lock_base->lock, &me, 0, false, __ATOMIC_RELEASE, __ATOMIC_RELAXED);
	munmap(lock_base, meta_len());
	lock_base = NULL;
}

static void lens_from_shape(const struct list_shape *sh, struct mg_list_lens *lens)
{
	memset(lens, 0, sizeof(*lens));
	for (int p = MG_LIST_LENS - 1; p >= 0; p--) {
		if (sh->used[0][p])
			lens->v4[lens->n4++] = p;
		if (sh->used[1][p])
			lens->v6[lens->n6++] = p;
	}
	lens->all4 = sh->all[0];
	lens->all6 = sh->all[1];
}

/* the shape of a published slot (lengths, filter) */
static void shape_from_slot(const struct mg_list_meta *m, uint32_t slot, struct list_shape *sh)
{
	const struct mg_list_lens *lens = &m->lens[slot];

	memset(sh, 0, sizeof(*sh));
	for (int i = 0; i < lens->n4 && i < MG_LIST_LENS; i++)
		sh->used[0][lens->v4[i]] = 1;
	for (int i = 0; i < lens->n6 && i < MG_LIST_LENS; i++)
		sh->used[1][lens->v6[i]] = 1;
	sh->all[0] = lens->all4;
	sh->all[1] = lens->all6;
	memcpy(sh->filter, m->filter[slot], sizeof(sh->filter));
}

static void filter_set(uint64_t *filter, uint32_t bit)
{
	filter[bit / 64] |= 1ull << (bit % 64);
}

/* the entry k in a shape: its length per family it counts for, its
 * filter bits (include/lists.h) */
static void shape_mark(struct list_shape *sh, const struct mg_lpm_key *k)
{
	uint32_t fam = mg_list_families(k), p = k->prefixlen;
	struct mg_list_addr x;

	if (p > 128)
		return;
	mg_list_addr(&x, k->a);
	if (fam & 1) {
		sh->used[0][p] = 1;
		if (p < 96 + 8) {
			sh->all[0] = 1;
		} else {
			uint32_t bit = mg_list_filter_bit(&x, 1), span = p >= 112 ? 1 : 1u << (112 - p);

			for (uint32_t b = bit & ~(span - 1); b < (bit & ~(span - 1)) + span; b++)
				filter_set(sh->filter, b);
		}
	}
	if (fam & 2) {
		sh->used[1][p] = 1;
		if (p < 32)
			sh->all[1] = 1;
		else
			filter_set(sh->filter, mg_list_filter_bit(&x, 0));
	}
}

/* Switch list l to the set set_fd with these lengths: written into the
 * slot that is not live, then one store of gen. A grace period later the
 * old slot gets the same set, which frees the old one. */
static int publish(struct gate *g, enum mg_list l, int set_fd, const struct list_shape *sh,
		   uint64_t entries)
{
	struct mg_list_lens lens_v, *lens = &lens_v;
	struct mg_list_meta *base = meta_map(g), *m;
	uint32_t live, other, gen;
	uint64_t now;
	int err = 0;

	if (!base)
		return -errno;
	lens_from_shape(sh, lens);
	m = meta_of(base, l);
	gen = __atomic_load_n(&m->gen, __ATOMIC_ACQUIRE);
	live = gen & 1;
	other = live ^ 1;
	now = now_boot_ns();
	if (m->flipped_ns && now < m->flipped_ns + MG_LIST_GRACE_NS)
		sleep_ns(m->flipped_ns + MG_LIST_GRACE_NS - now);
	m->lens[other] = *lens;
	memcpy(m->filter[other], sh->filter, sizeof(sh->filter));
	m->entries[other] = entries;
	__atomic_thread_fence(__ATOMIC_RELEASE);
	err = slot_pin(g, l, other, set_fd);
	if (err)
		goto out;
	if (bpf_map_update_elem(g->fd[list_map(l)], &other, &set_fd, BPF_ANY)) {
		err = -errno;
		goto out;
	}
	__atomic_store_n(&m->gen, gen + 1, __ATOMIC_RELEASE);
	m->flipped_ns = now_boot_ns();
	/* the old slot: a copy of the live one once no run can still use it */
	sleep_ns(MG_LIST_GRACE_NS);
	m->lens[live] = *lens;
	memcpy(m->filter[live], sh->filter, sizeof(sh->filter));
	m->entries[live] = entries;
	if (!slot_pin(g, l, live, set_fd) && !bpf_map_update_elem(g->fd[list_map(l)], &live, &set_fd, BPF_ANY))
		m->flipped_ns = 0; /* both slots alike: the next switch need not wait */
out:
	munmap(base, meta_len());
	return err;
}

#define MIN_SET 16384

/* A set for about n entries: room for a quarter more (single adds; a set
 * that fills up is regrown by list_put), at least MIN_SET, at most the
 * list's capacity. Preallocated: the kernel reserves every element when
 * the set is created and an insert takes one from a free list, twice as
 * fast as allocating it (0.8 against 1.6 us of CPU per entry on the
 * development VM); a full set of either kind takes about the same memory.
 * Sets of one list may differ in size: the data path does not care (a
 * hash's max_entries is not part of the inner map's type, its flags are:
 * bpf/lists.bpf.h). */
static int create_set(enum mg_list l, size_t n)
{
	size_t size = n + n / 4 < MIN_SET ? MIN_SET : n + n / 4;
	int fd;

	if (size > list_capacity(l))
		size = list_capacity(l);
	fd = bpf_map_create(BPF_MAP_TYPE_HASH, l == MG_LIST_ALLOW ? MG_LIST_SET_NAME_ALLOW : MG_LIST_SET_NAME_DENY,
			    sizeof(struct mg_lpm_key), sizeof(struct mg_rule), size, NULL);
	return fd < 0 ? -errno : fd;
}

static int max_entries(int fd)
{
	struct bpf_map_info info;

	return map_info(fd, &info) ? 0 : (int)info.max_entries;
}

struct copy {
	struct list_build *b;
	struct mg_lpm_key k[BATCH];
	struct mg_rule v[BATCH];
	uint32_t n;
	int err;
};

static int copy_one(const void *key, const void *value, void *ctx)
{
	struct copy *c = ctx;

	memcpy(&c->k[c->n], key, sizeof(c->k[0]));
	memcpy(&c->v[c->n++], value, sizeof(c->v[0]));
	if (c->n == BATCH) {
		c->err = list_build_add(c->b, c->k, c->v, c->n);
		c->n = 0;
	}
	return c->err;
}

/* the live set is full below the list's capacity: the same entries in a
 * set 2.5 times as big (within the capacity), switched in */
static int grow(struct gate *g, enum mg_list l, int fd)
{
	struct list_build b;
	struct copy *c = calloc(1, sizeof(*c));
	int err = c ? list_build_start(l, 2 * (size_t)max_entries(fd), &b) : -ENOMEM;

	if (!err) {
		c->b = &b;
		err = map_walk(fd, copy_one, c);
		err = err ?: (c->n ? list_build_add(&b, c->k, c->v, c->n) : 0);
		err = err ?: list_build_publish(g, &b);
		list_build_abort(&b);
	}
	free(c);
	return err;
}

int list_get(struct gate *g, enum mg_list l, const struct mg_lpm_key *k, struct mg_rule *r)
{
	int fd = list_live_fd(g, l), err = 0;

	if (fd < 0)
		return fd;
	if (bpf_map_lookup_elem(fd, k, r))
		err = -errno;
	close(fd);
	return err;
}

/* bits of sh's filter the live slots lack, set in place: a filter only
 * widens between replaces (the entry is in the set already) */
static int filter_widen(struct gate *g, enum mg_list l, const struct list_shape *sh)
{
	struct mg_list_meta *base = meta_map(g), *m;

	if (!base)
		return -errno;
	m = meta_of(base, l);
	for (int slot = 0; slot < 2; slot++)
		for (int i = 0; i < MG_LIST_FILTER_WORDS; i++)
			if (sh->filter[i] & ~m->filter[slot][i])
				__atomic_fetch_or(&m->filter[slot][i], sh->filter[i], __ATOMIC_RELEASE);
	munmap(base, meta_len());
	return 0;
}

int list_put(struct gate *g, enum mg_list l, const struct mg_lpm_key *k, const struct mg_rule *r)
{
	struct list_shape *before = calloc(2, sizeof(*before)), *after = before + 1;
	struct mg_list_meta *m = malloc(sizeof(*m));
	bool fresh = false;
	int fd = -1, err;

	err = before && m ? read_meta(g, l, m) : -ENOMEM;
	if (err)
		goto out;
	fd = slot_fd(g, l, m->gen & 1);
	if (fd == -ENOENT) { /* the first entry ever: a set for it */
		fd = create_set(l, 0);
		fresh = true;
	}
	if (fd < 0) {
		err = fd;
		goto out;
	}
	/* the entry first: invisible until its length and filter bit are published */
	if (bpf_map_update_elem(fd, k, r, BPF_ANY)) {
		err = -errno;
		if (err == -E2BIG && !fresh && (uint32_t)max_entries(fd) < list_capacity(l)) {
			err = grow(g, l, fd);
			err = err ?: list_put(g, l, k, r);
		}
		goto out;
	}
	if (!fresh)
		shape_from_slot(m, m->gen & 1, before);
	*after = *before;
	shape_mark(after, k);
	if (fresh || memcmp(before->used, after->used, sizeof(after->used)) ||
	    memcmp(before->all, after->all, sizeof(after->all)))
		err = publish(g, l, fd, after, m->entries[m->gen & 1] + 1);
	else if (memcmp(before->filter, after->filter, sizeof(after->filter)))
		err = filter_widen(g, l, after);
out:
	if (fd >= 0)
		close(fd);
	free(before);
	free(m);
	return err;
}

int list_del(struct gate *g, enum mg_list l, const struct mg_lpm_key *k)
{
	int fd = list_live_fd(g, l), err = 0;

	if (fd < 0)
		return fd;
	/* a length no entry uses any more stays published (one probe more)
	 * until the next replace */
	if (bpf_map_delete_elem(fd, k))
		err = -errno;
	close(fd);
	return err;
}

int list_walk(struct gate *g, enum mg_list l, map_walk_fn fn, void *ctx)
{
	int fd = list_live_fd(g, l), err;

	if (fd == -ENOENT)
		return 0;
	if (fd < 0)
		return fd;
	err = map_walk(fd, fn, ctx);
	close(fd);
	return err;
}

int list_build_start(enum mg_list l, size_t expect, struct list_build *b)
{
	memset(b, 0, sizeof(*b));
	b->list = l;
	b->fd = create_set(l, expect);
	return b->fd < 0 ? b->fd : 0;
}

int list_build_add(struct list_build *b, const struct mg_lpm_key *keys, const struct mg_rule *vals,
		   size_t n)
{
	LIBBPF_OPTS(bpf_map_batch_opts, o);
	size_t i = 0;

	while (i < n) {
		uint32_t cnt = n - i < BATCH ? n - i : BATCH;
		int err = bpf_map_update_batch(b->fd, keys + i, vals + i, &cnt, &o) ? -errno : 0;

		for (uint32_t j = 0; j < cnt; j++)
			shape_mark(&b->shape, &keys[i + j]);
		b->n += cnt;
		i += cnt;
		if (err)
			return err == -ENOMEM || err == -ENOSPC ? -E2BIG : err;
	}
	return 0;
}

int list_build_publish(struct gate *g, struct list_build *b)
{
	int err;

	err = publish(g, b->list, b->fd, &b->shape, b->n);
	list_build_abort(b); /* our fd: the slots hold the set now */
	return err;
}

void list_build_abort(struct list_build *b)
{
	if (b->fd >= 0)
		close(b->fd);
	b->fd = -1;
}
