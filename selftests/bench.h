/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* What the BPF_PROG_TEST_RUN benchmarks share (selftests/lib/bench.c). */
#ifndef MAILGATE_BENCH_H
#define MAILGATE_BENCH_H

#include <stddef.h>
#include <stdint.h>

struct fixture;
struct sink_bpf;

/* average ns per run of prog on the frame over repeat runs (-1 on error);
 * *retval (if not NULL) = the program's verdict */
double bench_run_ns(int prog, const void *pkt, size_t len, int repeat, int *retval);
/* qsort() comparison of doubles */
int bench_cmp_double(const void *a, const void *b);
/* the median of v[0 .. n) (sorts v) */
double bench_median(double *v, int n);

/* The benchmarks' start: stdout line-buffered, this thread pinned to CPU 0,
 * the gate loaded into fx (fx_load(fx, tag, max_sources)) and the lab's
 * sink programs beside it (bare XDP_DROP, parse-only) in *sink. 0, or 1
 * after a message (nothing left loaded). */
int bench_start(struct fixture *fx, const char *tag, uint32_t max_sources, struct sink_bpf **sink);

#endif /* MAILGATE_BENCH_H */
