/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* `mailgate lookup`: what the maps know about one source and what the data
 * path does with its next SYN. lookup_work() reads the state (changing
 * nothing) and decides with the data path's own rules and order
 * (include/rules.h, mg_judge); the printers render its result. */
#ifndef MAILGATE_LOOKUP_H
#define MAILGATE_LOOKUP_H

#include "mailgate.h"

#define LOOKUP_TEXT 256
#define LOOKUP_STEPS 10
#define LOOKUP_NOTES 8

struct lookup_opts {
	struct mg_addr addr;
	uint32_t port; /* default 25 */
};

/* what each step of the decision order finds (mg_judge's mg_j_*) */
struct lookup_facts {
	bool allowed, denied, banned, listed, alive;
	bool flooding;   /* flood mode on: the flood step comes right after the allow list */
	uint32_t flood;  /* 0, MG_REASON_DROP_FLOOD or MG_REASON_DROP_COOKIE */
	uint32_t dnsbl;  /* enum mg_dnsbl_fact */
	bool rate, prefix, concurrent, total; /* the quota admits */
};

struct lookup_step {
	const char *name;
	char state[LOOKUP_TEXT];
	uint32_t reason;           /* what it decides when it is the step that does; MG_REASON_MAX: nothing */
	char why[LOOKUP_TEXT];
	struct json_object *detail; /* the step's own fields */
};

struct lookup_result {
	struct mg_addr addr;
	uint32_t port, class;
	struct mg_config cfg;
	uint64_t now;
	struct lookup_facts f;
	uint32_t reason;           /* the data path's reason for the next SYN */
	char why[LOOKUP_TEXT];
	int decider;               /* the step that decides: -1 before the first (not gated), nstep: none */
	struct lookup_step steps[LOOKUP_STEPS];
	int nstep;
	char notes[LOOKUP_NOTES][LOOKUP_TEXT];
	int nnotes;
};

/* Fill r for a SYN to o->port from o->addr at the current time; 0 or a
 * negative errno (the config could not be read). Free with lookup_free. */
int lookup_work(struct gate *g, const struct lookup_opts *o, struct lookup_result *r);
void lookup_free(struct lookup_result *r);

#endif /* MAILGATE_LOOKUP_H */
