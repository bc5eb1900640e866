/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Reading flood-mode state and counters of a loaded gate, for the flood
 * tests (test_synflood_mode, test_synflood_gate). */
#ifndef MAILGATE_FLOOD_COUNTS_H
#define MAILGATE_FLOOD_COUNTS_H

#include <string.h>
#include <bpf/bpf.h>
#include "mailgate.h"

void flood_global(struct gate *g, struct mg_global *out);

/* counter of one reason, all classes */
long long reason_total(struct gate *g, int reason);

/* SYNs that got past the flood step, whatever came of them after */
long long past_flood_step(struct gate *g);

#endif /* MAILGATE_FLOOD_COUNTS_H */
