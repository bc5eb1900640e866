// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "bench.h"
#include "fixture.h"
#include "sink.skel.h"

double bench_run_ns(int prog, const void *pkt, size_t len, int repeat, int *retval)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = len, .repeat = repeat);

	if (bpf_prog_test_run_opts(prog, &o))
		return -1;
	if (retval)
		*retval = (int)o.retval;
	return o.duration;
}

int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

double bench_median(double *v, int n)
{
	qsort(v, n, sizeof(*v), bench_cmp_double);
	return v[n / 2];
}

int bench_start(struct fixture *fx, const char *tag, uint32_t max_sources, struct sink_bpf **sink)
{
	cpu_set_t set;

	setvbuf(stdout, NULL, _IOLBF, 0);
	CPU_ZERO(&set);
	CPU_SET(0, &set);
	sched_setaffinity(0, sizeof(set), &set);
	if (fx_load(fx, tag, max_sources))
		return 1;
	*sink = sink_bpf__open_and_load();
	if (!*sink) {
		fprintf(stderr, "bench: cannot load sink_drop\n");
		fx_unload(fx);
		return 1;
	}
	return 0;
}
