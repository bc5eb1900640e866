/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Fixture for the tests that load the data path: the program loaded with
 * gate_load() into its own pin dir (/sys/fs/bpf/mgt-<tag>-<pid>, removed at
 * the end; those of dead test processes are removed first), state maps
 * cleared between cases, frames run with BPF_PROG_TEST_RUN, ring buffer
 * events collected. */
#ifndef MAILGATE_FIXTURE_H
#define MAILGATE_FIXTURE_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "mailgate.h"
#include "listset.h"
#include "gate.skel.h"
#include "cleanup.h"
#include "frames.h"

#define FX_BPFFS "/sys/fs/bpf"

struct fixture {
	struct gate g;
	int prog;                    /* mg_xdp */
	struct ring_buffer *rb;
	int events[MG_EVENT_KIND_MAX];
	int n_events;
	struct mg_event last[MG_EVENT_KIND_MAX]; /* the last event of each kind */
	uint64_t base[MG_COUNTER_SLOTS];         /* counters at the last fx_reset */
};

int fx_load(struct fixture *fx, const char *tag, uint32_t max_sources);
void fx_unload(struct fixture *fx);

/* collect the events in the ring buffer; returns how many came */
int fx_drain(struct fixture *fx);
int fx_map_clear(int fd, size_t key_size);
int fx_array_zero(int fd, uint32_t entries, size_t value_size);

/* The config the tests start from: the documented defaults. */
void fx_config(struct mg_config *c);

/* Empty every state map, write cfg and the default ports, forget events. */
int fx_reset(struct fixture *fx, const struct mg_config *cfg);

/* Run mg_xdp once on a frame: the XDP verdict, or a negative errno when the
 * kernel refused the run. out/out_len (optional) receive the frame after. */
int fx_run(struct fixture *fx, const void *pkt, uint32_t len, void *out,
	   uint32_t *out_len);

/* one SYN from src (IPv4 or IPv6) to dport: the XDP verdict */
int fx_syn(struct fixture *fx, const char *src, uint16_t dport);

/* per-slot counter change between two reads */
void fx_counters(struct fixture *fx, uint64_t *c);

/* one counter's rise since the last fx_reset */
uint64_t fx_count(struct fixture *fx, int reason, int class);
struct mg_addr fx_addr(const char *s);

/* add an allow/deny entry; expires: 0 never, else CLOCK_BOOTTIME ns */
int fx_rule_flags(struct fixture *fx, enum gate_map m, const char *cidr, uint64_t expires,
		  uint32_t flags);
int fx_rule(struct fixture *fx, enum gate_map m, const char *cidr, uint64_t expires);

/* the list of a map (GM_ALLOW / GM_DENY) */
enum mg_list fx_list(enum gate_map m);

/* the list becomes these n entries, in one replace */
int fx_list_fill(struct fixture *fx, enum gate_map m, const struct mg_lpm_key *k,
		 const struct mg_rule *r, size_t n);

/* entries in the live set of a list */
long fx_list_count(struct fixture *fx, enum gate_map m);
int fx_ban(struct fixture *fx, const char *addr, uint64_t expires, uint32_t level,
	   uint64_t created);
int fx_verdict(struct fixture *fx, const char *addr, uint32_t state, uint64_t expires);
int fx_u32(struct fixture *fx, enum gate_map m, const void *key, uint32_t v);

/* the same max_concurrent for every port class */
void fx_max_concurrent(struct mg_config *c, uint32_t n);

/* mg_conn of src for one class (what the tracer counts), and its total */
int fx_conn_set(struct fixture *fx, const char *src, uint32_t class, uint32_t n);
uint32_t fx_conn(struct fixture *fx, const char *src);

/* What the TCP state tracer records when src completes handshakes (which
 * BPF_PROG_TEST_RUN cannot show it): n completions in the current
 * ban_window, counted from the SYNs that passed so far (mg_src is created
 * when absent). The evidence a quota ban needs. */
int fx_evidence(struct fixture *fx, const char *src, uint32_t n);

#endif /* MAILGATE_FIXTURE_H */
