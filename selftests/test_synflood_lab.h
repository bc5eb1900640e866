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
#include "mailgate.h"

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

/* ---- the gate in B, for the lab tests of flood mode (test_synflood_gate,
 * test_syncookie) ---- */
struct lab_gate {
	struct gate g;
	char pin_dir[64];         /* /sys/fs/bpf/mgt-TAG-PID */
	struct bpf_link *tp_link; /* the TCP state tracer (mg_sock_state) */
	int listen_fd;            /* the mail server's socket on [::]:25 (dual stack), -1 when closed */
	int ifindex;              /* B's veth */
};
/* Call inside B (lab_enter(l->ns_b)): the gate loaded into its own pin dir
 * (those of dead runs of TAG removed first), the default ports, the
 * default config (B's namespace) changed by tune (may be NULL), XDP in
 * native mode on B's veth, the tracer, the listener (sock_flags for
 * socket(): SOCK_NONBLOCK or 0). 0 or -errno; lab_gate_stop undoes any part. */
int lab_gate_start(struct lab_gate *lg, struct lab *l, const char *tag, void (*tune)(struct mg_config *c),
		   int sock_flags);
void lab_gate_stop(struct lab_gate *lg);
/* SIGINT and SIGTERM stop the flood, remove the gate's pin dir and the lab, then kill us */
void lab_gate_on_fatal(struct lab_gate *lg, struct lab *l, pid_t *flood_pid);
/* `mailgate synflood` in A: rate SYNs/s for duration ("15s") to
 * 2001:db8::1 from random sources in 2001:db8:8000::/33, its output to
 * /dev/null; the pid, -1 when it could not start */
pid_t lab_flood_start(struct lab *l, int rate, const char *duration);
void lab_flood_stop(pid_t *pid); /* SIGINT and wait; *pid = -1 */
/* A TCP connect from src (an address of A) to dst:25 (B); 0 when it
 * completes within timeout_ms, with the time it took in *ms */
int lab_connect(struct lab *l, const char *src, const char *dst, int timeout_ms, double *ms);
double lab_mono_ms(void); /* CLOCK_MONOTONIC in ms */

#endif /* MAILGATE_TEST_SYNFLOOD_LAB_H */
