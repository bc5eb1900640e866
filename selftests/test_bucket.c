// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Token-bucket (GCRA) accuracy of the per-source and per-prefix quotas, with
 * BPF_PROG_TEST_RUN in real time, from one CPU and from two at once.
 *
 * The bound: with rate R and burst B, over a window of T seconds the program
 * admits at most B + R*T SYNs. GCRA gives this exactly: after n admissions
 * the theoretical arrival time is at least t_first + n/R, and the n-th needs
 * it to be within B/R of now, so n <= B + R*(t_n - t_first). T is measured
 * from before the first run to after the last, so it covers the program's
 * own clock readings. Slack allowed:
 *  - above: +1 SYN (one token arriving during the last test run's syscall);
 *  - below: 10% of R*T + 1 (the bucket only loses tokens while it is full,
 *    i.e. when this process is off the CPU for longer than B/R; B/R is
 *    500 ms here, and a lost compare-and-swap race drops, never admits).
 * Two CPUs: the same upper bound (the count is shared through one
 * compare-and-swap); both CPUs must have run SYNs during the window. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <time.h>
#include "test.h"
#include "frames.h"
#include "fixture.h"

#define RATE  200   /* per second */
#define BURST 100
#define T_SEC 2
#define REPEAT 20000 /* runs per test_run syscall: a syscall with repeat > 1 costs about
		      * 1 ms of XDP dispatcher update, so make the runs dominate */

static struct fixture fx;

static void cfg_bucket(struct mg_config *c, bool prefix)
{
	fx_config(c);
	c->syn_interval_ns = prefix ? 0 : NSEC_PER_SEC / RATE;
	c->syn_burst = BURST;
	c->prefix_interval_ns = prefix ? NSEC_PER_SEC / RATE : 0;
	c->prefix_burst = BURST;
	c->ban_after = 0;
	memset(c->max_concurrent, 0, sizeof(c->max_concurrent));
	c->flood_interval_ns = 0; /* millions of SYNs a second would be a flood */
}

static size_t syn(uint8_t *pkt, size_t cap, const char *src)
{
	struct frame f = { .src = src };

	return frame_build(pkt, cap, &f, NULL);
}

static int run_repeat(const uint8_t *pkt, size_t len, int repeat)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = len, .repeat = repeat);

	return bpf_prog_test_run_opts(fx.prog, &o) ? -errno : 0;
}

/* A burst admits exactly B: 3*B SYNs in well under a millisecond, at a rate
 * of 1/s (under 0.001 token refills meanwhile). */
TEST(burst_admits_exactly_b)
{
	struct mg_config cfg;
	uint8_t pkt[128];
	size_t len = syn(pkt, sizeof(pkt), "192.0.2.10");

	cfg_bucket(&cfg, false);
	cfg.syn_interval_ns = NSEC_PER_SEC;
	fx_reset(&fx, &cfg);
	ASSERT_OK(run_repeat(pkt, len, 3 * BURST), "test run");
	ASSERT_EQ(fx_count(&fx, MG_REASON_PASS_OK, MG_CLASS_SMTP), BURST, "admitted");
	ASSERT_EQ(fx_count(&fx, MG_REASON_DROP_RATE, MG_CLASS_SMTP), 2 * BURST, "dropped");
}

struct hammer {
	const uint8_t *pkt;
	size_t len;
	int cpu;
	uint64_t until_ns;
	pthread_barrier_t *start;
	long runs;
	int err;
};

static void *hammer_fn(void *arg)
{
	struct hammer *h = arg;
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(h->cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		h->err = -errno;
	pthread_barrier_wait(h->start);
	while (!h->err && now_boot_ns() < h->until_ns) {
		h->err = run_repeat(h->pkt, h->len, REPEAT);
		h->runs += REPEAT;
	}
	return NULL;
}

/* per-CPU values of one counter slot */
static int percpu_slot(int reason, int class, uint64_t *vals)
{
	uint32_t idx = MG_COUNTER_IDX(reason, class);

	return bpf_map_lookup_elem(fx.g.fd[GM_COUNTERS], &idx, vals);
}

/* n threads, thread i on cpu i, hammer for T_SEC; checks the bound. Only
 * the lower bound depends on this process getting the CPU: when a busy
 * machine starves it (no SYN for longer than B/R, so a full bucket wastes
 * tokens), the measurement is taken again, at most twice. The upper bound
 * is never retried. */
static bool hammer_once(int n, const char *const *srcs, bool prefix, bool last_try);

static void hammer(int n, const char *const *srcs, bool prefix)
{
	for (int try = 0; try < 3; try++)
		if (hammer_once(n, srcs, prefix, try == 2))
			return;
}

static bool hammer_once(int n, const char *const *srcs, bool prefix, bool last_try)
{
	bool low_ok;
	int ncpu = libbpf_num_possible_cpus(), drop_reason;
	uint8_t pkt[4][128];
	struct hammer h[4] = {};
	pthread_t th[4];
	pthread_barrier_t start;
	struct mg_config cfg;
	uint64_t t0, t1, admitted, dropped, *before, *after;
	double expect;

	if (n > 1 && sysconf(_SC_NPROCESSORS_ONLN) < n) {
		test_skip("needs %d online CPUs", n);
		return true;
	}
	before = calloc(ncpu, sizeof(*before));
	after = calloc(ncpu, sizeof(*after));
	cfg_bucket(&cfg, prefix);
	fx_reset(&fx, &cfg);
	drop_reason = prefix ? MG_REASON_DROP_PREFIX_RATE : MG_REASON_DROP_RATE;
	percpu_slot(drop_reason, MG_CLASS_SMTP, before);
	pthread_barrier_init(&start, NULL, n + 1);
	for (int i = 0; i < n; i++) {
		h[i].len = syn(pkt[i], sizeof(pkt[i]), srcs[i]);
		h[i].pkt = pkt[i];
		h[i].cpu = i;
		h[i].start = &start;
	}
	t0 = now_boot_ns();
	for (int i = 0; i < n; i++) {
		h[i].until_ns = t0 + T_SEC * NSEC_PER_SEC;
		pthread_create(&th[i], NULL, hammer_fn, &h[i]);
	}
	pthread_barrier_wait(&start);
	for (int i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	t1 = now_boot_ns();
	pthread_barrier_destroy(&start);

	admitted = fx_count(&fx, MG_REASON_PASS_OK, MG_CLASS_SMTP);
	dropped = fx_count(&fx, drop_reason, MG_CLASS_SMTP);
	expect = BURST + RATE * (double)(t1 - t0) / NSEC_PER_SEC;
	printf("  %d cpu(s), %.3f s: %llu admitted of %llu, bound B+R*T = %.1f\n", n,
	       (double)(t1 - t0) / NSEC_PER_SEC, (unsigned long long)admitted,
	       (unsigned long long)(admitted + dropped), expect);
	for (int i = 0; i < n; i++)
		ASSERT_OK(h[i].err, "test run");
	ASSERT_TRUE(admitted + dropped > 10 * expect, "the load exceeds the rate tenfold");
	ASSERT_TRUE(admitted <= expect + 1, "admitted <= B + R*T + 1");
	low_ok = admitted >= expect - 0.1 * RATE * T_SEC - 1;
	if (!low_ok && !last_try) {
		printf("  fewer than B + R*T - 10%%: this process was starved, measuring again\n");
		free(before);
		free(after);
		return false;
	}
	ASSERT_TRUE(low_ok, "admitted >= B + R*T - 10%");
	if (n > 1 && percpu_slot(drop_reason, MG_CLASS_SMTP, after) == 0)
		for (int i = 0; i < n; i++)
			ASSERT_TRUE(after[i] > before[i], "every CPU ran over-quota SYNs");
	free(before);
	free(after);
	return true;
}

TEST(steady_one_cpu)
{
	static const char *const src[] = { "192.0.2.11" };

	hammer(1, src, false);
}

TEST(steady_two_cpus_one_source)
{
	static const char *const src[] = { "192.0.2.12", "192.0.2.12" };

	hammer(2, src, false);
}

/* two CPUs, two addresses of one /24: the per-prefix bucket holds */
TEST(steady_two_cpus_one_prefix)
{
	static const char *const src[] = { "198.51.100.1", "198.51.100.2" };

	hammer(2, src, true);
}

/* Two CPUs hammer one unknown source with DNSBL on: each pending period is
 * claimed by one CPU only, so the events are at most 1 + T / pending_ns
 * (a claim needs the previous one's expiry, now + pending_ns, to be past). */
TEST(dnsbl_events_two_cpus)
{
	enum { PENDING_MS = 2 };
	uint8_t pkt[128];
	struct hammer h[2] = {};
	pthread_t th[2];
	pthread_barrier_t start;
	struct mg_config cfg;
	struct mg_global g;
	uint32_t zero = 0;
	uint64_t t0, t1;
	size_t len = syn(pkt, sizeof(pkt), "203.0.113.50");
	int events;
	double bound;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2) {
		test_skip("needs 2 online CPUs");
		return;
	}
	fx_config(&cfg);
	cfg.syn_interval_ns = 0;
	cfg.prefix_interval_ns = 0;
	cfg.dnsbl_enabled = 1;
	cfg.pending_ns = PENDING_MS * 1000000ULL;
	cfg.event_interval_ns = 0; /* no global budget: only the period limits */
	fx_reset(&fx, &cfg);
	pthread_barrier_init(&start, NULL, 3);
	t0 = now_boot_ns();
	for (int i = 0; i < 2; i++) {
		h[i] = (struct hammer){ .pkt = pkt, .len = len, .cpu = i, .start = &start,
					.until_ns = t0 + NSEC_PER_SEC };
		pthread_create(&th[i], NULL, hammer_fn, &h[i]);
	}
	pthread_barrier_wait(&start);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	t1 = now_boot_ns();
	pthread_barrier_destroy(&start);
	events = fx_drain(&fx);
	bound = 1 + (double)(t1 - t0) / cfg.pending_ns;
	printf("  %d events in %.3f s for %ld SYNs, bound %.0f\n", events,
	       (double)(t1 - t0) / NSEC_PER_SEC, h[0].runs + h[1].runs, bound);
	ASSERT_OK(h[0].err || h[1].err, "test runs");
	ASSERT_TRUE(events >= 2 && events <= bound, "events <= 1 + T / pending");
	bpf_map_lookup_elem(fx.g.fd[GM_GLOBAL], &zero, &g);
	ASSERT_EQ(g.events_lost, 0, "no event lost (ring buffer large enough)");
}

static int setup(void)
{
	return fx_load(&fx, "bucket", 0);
}

static void teardown(void)
{
	fx_unload(&fx);
}

int main(int argc, char **argv)
{
	return test_main(argc, argv, setup, teardown);
}
