/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The allow and deny lists from userspace (user/listset.c): the live set of
 * a list, its match rule (the one of the data path, include/lists.h), single
 * changes, and a replace built beside the live set and switched in one step. */
#ifndef MAILGATE_LISTSET_H
#define MAILGATE_LISTSET_H

#include "mailgate.h"
#include "lists.h"

/* the map (GM_ALLOW / GM_DENY) of a list, and how many entries its set holds at most */
enum gate_map list_map(enum mg_list l);
uint32_t list_capacity(enum mg_list l);
const char *list_name(enum mg_list l); /* "allow", "deny" */

/* A new fd of the live set (the caller closes it); -ENOENT when the list
 * never had a set (nothing was ever added). */
int list_live_fd(struct gate *g, enum mg_list l);

/* The data path's decision rule: the longest active prefix of a in the live
 * set. true with its key (masked) and rule; an exclusion is returned too
 * (mg_rule_decides() tells). */
bool list_match(struct gate *g, enum mg_list l, const struct mg_addr *a, uint64_t now,
		struct mg_lpm_key *key, struct mg_rule *rule);

/* Writers take the lists lock (a word in mg_lists, with the holder's pid: a
 * dead holder is taken over) so that a replace never loses a concurrent
 * single change: 0 (pass it to list_unlock), or -errno. */
int list_lock(struct gate *g);
void list_unlock(int fd);

/* One entry, exact key (host bits zero). get: 0 or -ENOENT; put: overwrite
 * or add (a new prefix length is published first); del: 0, -ENOENT. */
int list_get(struct gate *g, enum mg_list l, const struct mg_lpm_key *k, struct mg_rule *r);
int list_put(struct gate *g, enum mg_list l, const struct mg_lpm_key *k, const struct mg_rule *r);
int list_del(struct gate *g, enum mg_list l, const struct mg_lpm_key *k);

/* Every entry of the live set: fn(struct mg_lpm_key *, struct mg_rule *, ctx). */
int list_walk(struct gate *g, enum mg_list l, map_walk_fn fn, void *ctx);

/* A replace: a new, empty set beside the live one; entries added to it; one
 * switch. Nothing the data path sees changes before list_build_publish; an
 * abort (or the process dying) frees the new set and leaves the live one as
 * it was. */
struct list_shape {                      /* what a slot publishes besides its set */
	uint8_t used[2][MG_LIST_LENS];   /* [family][prefix length]: in use */
	uint8_t all[2];                  /* [family]: the filter does not apply */
	uint64_t filter[MG_LIST_FILTER_WORDS];
};
struct list_build {
	enum mg_list list;
	int fd;                          /* the new set */
	size_t n;                        /* entries written (an overwrite counts too) */
	struct list_shape shape;
};
/* expect: about how many entries it will get (the set, preallocated, is
 * sized for a quarter more, within the list's capacity, so that single adds
 * find room; a set that fills up is regrown by list_put) */
int list_build_start(enum mg_list l, size_t expect, struct list_build *b);
/* Add n entries, in batches; an entry of the same key added before is
 * overwritten (so add in the order of precedence, the strongest last). Over
 * the capacity: -E2BIG, and the build is to be aborted. */
int list_build_add(struct list_build *b, const struct mg_lpm_key *keys, const struct mg_rule *vals,
		   size_t n);
int list_build_publish(struct gate *g, struct list_build *b);
void list_build_abort(struct list_build *b);

#endif /* MAILGATE_LISTSET_H */
