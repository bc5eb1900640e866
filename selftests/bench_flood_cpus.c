// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The flood path's cost per packet on one CPU and on two at once: mg_xdp
 * run with BPF_PROG_TEST_RUN repeat by one thread pinned to CPU 0, then by
 * two threads pinned to CPU 0 and CPU 1 at the same time, on the same
 * maps. A cache line every packet writes bounces between the two CPUs and
 * shows as a higher cost per packet on two than on one.
 *
 * Cases (spoofed-looking SYNs from unverified sources, one source per
 * thread, as a NIC's receive queues would see different sources):
 *   meter     flood mode armed (threshold 1e9/s), off: every SYN is counted
 *   drop      flood mode on, flood_action = drop, budget 1000/s: the budget's
 *             bucket is asked for every SYN
 *   budget    flood mode on, budget 1e9/s: every SYN takes a budget token
 * (The cookie path rewrites the frame, so repeat runs would not measure it.)
 *
 * Usage: bench_flood_cpus [--quick] */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include "frames.h"
#include "fixture.h"
#include "bench.h"

static struct fixture fx;
static uint8_t pkt[2][256];
static size_t pkt_len[2];
static int repeat;

struct worker {
	int cpu;
	double ns;
	pthread_barrier_t *bar;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	cpu_set_t set;
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt[w->cpu], .data_size_in = pkt_len[w->cpu],
		    .repeat = repeat);

	CPU_ZERO(&set);
	CPU_SET(w->cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	pthread_barrier_wait(w->bar);
	w->ns = bpf_prog_test_run_opts(fx.prog, &o) ? -1 : o.duration;
	return NULL;
}

/* ns per packet with n threads at once (the mean of their figures) */
static double run_on(int n)
{
	pthread_barrier_t bar;
	struct worker w[2];
	pthread_t t[2];
	double sum = 0;

	pthread_barrier_init(&bar, NULL, n);
	for (int i = 0; i < n; i++) {
		w[i] = (struct worker){ .cpu = i, .bar = &bar };
		pthread_create(&t[i], NULL, work, &w[i]);
	}
	for (int i = 0; i < n; i++) {
		pthread_join(t[i], NULL);
		sum += w[i].ns;
	}
	pthread_barrier_destroy(&bar);
	return sum / n;
}

static void measure(const char *name, int rounds)
{
	double one[16], two[16];

	for (int r = 0; r < rounds; r++) {
		one[r] = run_on(1);
		two[r] = run_on(2);
	}
	qsort(one, rounds, sizeof(double), bench_cmp_double);
	qsort(two, rounds, sizeof(double), bench_cmp_double);
	printf("  %-8s 1 CPU %6.1f ns/packet   2 CPUs %6.1f ns/packet each (x%.2f)\n", name,
	       one[rounds / 2], two[rounds / 2], two[rounds / 2] / one[rounds / 2]);
}

static void still_on(const char *name)
{
	struct mg_global now;
	uint32_t zero = 0;

	bpf_map_lookup_elem(fx.g.fd[GM_GLOBAL], &zero, &now);
	if (!now.flood_mode)
		printf("  (flood mode went off during the %s case: its figures are of the meter)\n", name);
}

int main(int argc, char **argv)
{
	bool quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
	struct frame f[2] = { { .family = 6, .src = "2001:db8:8000::1", .dst = "2001:db8::1" },
			      { .family = 6, .src = "2001:db8:8000::2", .dst = "2001:db8::1" } };
	int rounds = quick ? 3 : 7;
	struct mg_config cfg;
	struct mg_global gl = {};
	uint32_t zero = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	repeat = quick ? 200000 : 2000000;
	if (libbpf_num_possible_cpus() < 2) {
		printf("bench_flood_cpus: one CPU only, nothing to compare\n");
		return 0;
	}
	if (fx_load(&fx, "bfc", 65536))
		return 1;
	for (int i = 0; i < 2; i++)
		pkt_len[i] = frame_build(pkt[i], sizeof(pkt[i]), &f[i], NULL);
	printf("flood path, per packet, median of %d rounds of %d runs per thread:\n", rounds, repeat);

	fx_config(&cfg);
	cfg.flood_interval_ns = 1; /* 1e9/s: never on */
	cfg.syn_interval_ns = 1;
	cfg.syn_burst = 1u << 30;
	cfg.prefix_interval_ns = 0;
	fx_reset(&fx, &cfg);
	measure("meter", rounds);

	fx_config(&cfg);
	cfg.flood_action = MG_FLOOD_DROP;
	cfg.flood_budget_interval_ns = NSEC_PER_SEC / 1000;
	cfg.flood_hold_ns = 86400 * NSEC_PER_SEC;
	fx_reset(&fx, &cfg);
	gl.flood_mode = 1;
	gl.flood_win_ns = now_boot_ns();
	bpf_map_update_elem(fx.g.fd[GM_GLOBAL], &zero, &gl, BPF_ANY);
	measure("drop", rounds);
	still_on("drop");

	cfg.flood_budget_interval_ns = 1; /* 1e9/s */
	cfg.syn_interval_ns = 1;
	cfg.syn_burst = 1u << 30;
	cfg.prefix_interval_ns = 0;
	fx_reset(&fx, &cfg);
	bpf_map_update_elem(fx.g.fd[GM_GLOBAL], &zero, &gl, BPF_ANY);
	measure("budget", rounds);
	still_on("budget");
	fx_unload(&fx);
	return 0;
}
