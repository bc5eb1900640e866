/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* A two-namespace lab for the synflood and flood-mode tests: namespace A
 * (the "internet", where the generator runs) and B (the mail server), one
 * veth pair between them, documentation addresses only:
 *   A: 192.0.2.2/24 2001:db8::2/64      B: 192.0.2.1/24 2001:db8::1/64
 * Names carry the test's pid (mgt-<tag>a-<pid>); labs of dead pids are
 * removed first, so a test killed half way does not break the next run. */
#ifndef MAILGATE_TEST_SYNFLOOD_LAB_H
#define MAILGATE_TEST_SYNFLOOD_LAB_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <json-c/json.h>

struct lab {
	char ns_a[32], ns_b[32]; /* network namespace names */
	char va[16], vb[16];     /* veth in A, veth in B */
	char mac_b[18];
	char mailgate[PATH_MAX]; /* the binary under test */
	char tmp[64];            /* scratch dir for outputs */
	bool up;
};

extern char lab_err[8192]; /* stderr of the last lab_run */

/* Run a shell command; stdout into out (if given), stderr into lab_err.
 * Returns the exit code, or -1 when it did not exit normally. */
int lab_run(struct lab *l, char *out, size_t outlen, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Remove labs of this tag whose test process is gone. */
void lab_remove_stale(const char *tag);
void lab_destroy(struct lab *l);

/* Enter a lab namespace; returns an fd of the namespace we came from. */
int lab_enter(const char *ns);
void lab_leave(int self);

/* Put an XDP program of .output/sink.bpf.o (sink_pass, sink_drop) on B's veth. */
int lab_sink(struct lab *l, const char *prog);

/* Resolve B's addresses from A for real (ARP / neighbour discovery), by
 * sending one UDP datagram to each and waiting for the neighbour entries. */
int lab_resolve(struct lab *l);

/* tag: two letters naming the test binary */
int lab_create(struct lab *l, const char *tag);

/* rx packets and rx dropped of B's veth */
int lab_rx_stats(struct lab *l, long long *packets, long long *dropped);

#endif /* MAILGATE_TEST_SYNFLOOD_LAB_H */
