// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* What `top`'s stopped sources (mg_stopped) cost a denied SYN, measured with
 * BPF_PROG_TEST_RUN against a bare `return XDP_DROP` program in the same
 * run, as bench_gate does:
 * - nobody watches (the normal case): one load of mg_ctl;
 * - top watches, the source is in mg_stopped: a lookup and an atomic add;
 * - top watches, every SYN from a new source (a forged flood from a denied
 *   prefix): a lookup, and an insert (which evicts once mg_stopped is full)
 *   for the first MG_STOPPED_NEW_PER_S of each second, which is what the
 *   figure holds, amortised.
 * The one-source cases run one frame `repeat` times in one syscall; the
 * new-source cases run each of twice as many distinct frames as mg_stopped
 * holds once (the kernel's time of that one run: every one a miss), so
 * their figures carry more of the test-run loop's own overhead: compare
 * them with each other and with their bare line. Medians over the rounds.
 *
 * Usage: bench_top [--quick] */
#include "frames.h"
#include "fixture.h"
#include "bench.h"
#include "sink.skel.h"

#define DISTINCT (MG_MAX_STOPPED * 2)

static struct fixture fx;
static int bare_fd;
static uint8_t pkts[2][DISTINCT][128];
static size_t lens[2][DISTINCT];

/* one frame, repeat times per round */
static void same_source(const char *name, const uint8_t *pkt, size_t len, int rounds, int repeat)
{
	double ns[32], bare[32];

	for (int r = 0; r < rounds; r++) {
		bare[r] = bench_run_ns(bare_fd, pkt, len, repeat, NULL);
		ns[r] = bench_run_ns(fx.prog, pkt, len, repeat, NULL);
	}
	printf("  %-56s %7.1f ns  bare %5.1f  extra %6.1f\n", name, bench_median(ns, rounds), bench_median(bare, rounds),
	       bench_median(ns, rounds) - bench_median(bare, rounds));
}

/* each of n distinct frames once per round: the mean over the frames */
static void new_sources(const char *name, int set, int n, int rounds)
{
	double ns[32], bare[32];

	for (int r = 0; r < rounds; r++) {
		double s = 0, b = 0;

		for (int i = 0; i < n; i++) {
			b += bench_run_ns(bare_fd, pkts[set][i], lens[set][i], 1, NULL);
			s += bench_run_ns(fx.prog, pkts[set][i], lens[set][i], 1, NULL);
		}
		ns[r] = s / n;
		bare[r] = b / n;
	}
	printf("  %-56s %7.1f ns  bare %5.1f  extra %6.1f\n", name, bench_median(ns, rounds), bench_median(bare, rounds),
	       bench_median(ns, rounds) - bench_median(bare, rounds));
}

static void build_frames(void)
{
	char src[64];

	for (int set = 0; set < 2; set++)
		for (int i = 0; i < DISTINCT; i++) {
			struct frame f = { .family = 6, .src = src, .dport = 25 };

			snprintf(src, sizeof(src), "2001:db8:bad:%x::%x", 1 + set * 4 + i / 60000, 1 + i % 60000);
			lens[set][i] = frame_build(pkts[set][i], sizeof(pkts[set][i]), &f, NULL);
		}
}

int main(int argc, char **argv)
{
	bool quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
	int rounds = quick ? 5 : 9, repeat = quick ? 200000 : 1000000;
	uint64_t c0[MG_COUNTER_SLOTS], c1[MG_COUNTER_SLOTS];
	uint32_t slot = MG_COUNTER_IDX(MG_REASON_DROP_DENY, MG_CLASS_SMTP);
	struct sink_bpf *bare;
	struct mg_config cfg;
	int ret = -1;

	if (argc > 1 && !quick) {
		fprintf(stderr, "usage: %s [--quick]\n", argv[0]);
		return 2;
	}
	if (bench_start(&fx, "benchtop", 65536, &bare))
		return 1;
	bare_fd = bpf_program__fd(bare->progs.sink_drop);
	fx_config(&cfg);
	cfg.flood_interval_ns = 0; /* a flood of them would be drop_flood before the deny step */
	fx_reset(&fx, &cfg);
	fx_map_clear(fx.g.fd[GM_STOPPED], sizeof(struct mg_stopped_key));
	fx_rule(&fx, GM_DENY, "2001:db8:bad::/48", 0);
	build_frames();
	gate_read_counters(&fx.g, c0);
	bench_run_ns(fx.prog, pkts[0][0], lens[0][0], 1, &ret);
	gate_read_counters(&fx.g, c1);
	if (ret != XDP_DROP || c1[slot] != c0[slot] + 1) {
		fprintf(stderr, "bench: the frame is not a denied SYN (verdict %d)\n", ret);
		return 1;
	}
	printf("denied SYN (deny list: one /48), per packet, median of %d rounds:\n", rounds);
	same_source("nobody watches (one source, repeat)", pkts[0][0], lens[0][0], rounds, repeat);
	new_sources("nobody watches (a new source each)", 1, DISTINCT, rounds);
	gate_watch_stopped(&fx.g, UINT64_MAX);
	same_source("top watches, the source kept (one source, repeat)", pkts[0][0], lens[0][0], rounds,
		    repeat);
	for (int i = 0; i < DISTINCT; i++) /* other sources in mg_stopped */
		bench_run_ns(fx.prog, pkts[0][i], lens[0][i], 1, NULL);
	new_sources("top watches, a new source each (a flood)", 1, DISTINCT, rounds);
	printf("mg_stopped: %ld entries of %u (each CPU inserts %u new sources a second at most)\n",
	       map_count(fx.g.fd[GM_STOPPED], NULL), MG_MAX_STOPPED, MG_STOPPED_NEW_PER_S);
	sink_bpf__destroy(bare);
	fx_unload(&fx);
	return 0;
}
