// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Flood mode of the data path (docs/datapath.md, "Flood mode"), unit level: the XDP program of
 * bpf/gate.bpf.c run with BPF_PROG_TEST_RUN on crafted SYNs, the maps read
 * back. Time is the kernel's own clock, so the timing cases leave wide
 * margins (documented per case). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "test.h"
#include "cleanup.h"
#include "flood_counts.h"
#include "mailgate.h"
#include "gate.skel.h"


static struct gate g;
static char pin_dir[64];
static struct ring_buffer *rb;
static int ev_on, ev_off, ev_other;

static uint64_t *vbits; /* mg_vbits, mmapped */

/* what the data path does after a handshake: mg_verified and the filter bit */
static int mark_verified(const struct mg_addr *a)
{
	uint64_t now = now_boot_ns();
	uint32_t bit = mg_vbit(a);

	if (bpf_map_update_elem(g.fd[GM_VERIFIED], a, &now, BPF_ANY))
		return -errno;
	__atomic_fetch_or(&vbits[bit / 64], 1ULL << (bit % 64), __ATOMIC_RELAXED);
	return 0;
}

static int on_event(void *ctx, void *data, size_t len)
{
	const struct mg_event *e = data;

	if (len < sizeof(*e) || e->kind != MG_EVENT_FLOOD)
		ev_other++;
	else if (e->level)
		ev_on++;
	else
		ev_off++;
	return 0;
}

static int setup(void)
{
	struct gate_sizes sz = { .max_sources = 65536 };
	static uint8_t ports[65536];
	int err;

	rm_left_behind("/sys/fs/bpf", "mgt-fmu-"); /* ours too: a leftover of a pid reused */
	snprintf(pin_dir, sizeof(pin_dir), "/sys/fs/bpf/mgt-fmu-%d", getpid());
	err = gate_load(&g, pin_dir, &sz);
	if (err)
		return err;
	gate_default_ports(ports);
	err = gate_write_ports(&g, ports);
	if (err)
		return err;
	vbits = mmap(NULL, MG_VBITS_WORDS * 8, PROT_READ | PROT_WRITE, MAP_SHARED,
		     bpf_map__fd(g.skel->maps.mg_vbits), 0);
	if (vbits == MAP_FAILED)
		return -errno;
	rb = ring_buffer__new(g.fd[GM_EVENTS], on_event, NULL, NULL);
	return rb ? 0 : -errno;
}

static void teardown(void)
{
	ring_buffer__free(rb);
	if (vbits && vbits != MAP_FAILED)
		munmap(vbits, MG_VBITS_WORDS * 8);
	gate_close(&g);
	rm_dir(pin_dir);
}

/* A fresh start: config, no flood state, no events pending, empty maps. */
static void reset(struct mg_config *c)
{
	struct mg_global zero_g = {};
	uint8_t key[64], next[64]; /* the largest key: mg_prefix_key */
	uint32_t zero = 0;
	int maps[] = { GM_SRC, GM_PREFIX, GM_VERIFIED, GM_VERDICT, GM_BAN, GM_BAN_QUOTA };

	gate_default_config(c);
	c->flood_interval_ns = NSEC_PER_SEC / 1000; /* 1000/s: 100 SYNs in one window */
	c->flood_budget_interval_ns = 0;
	c->flood_hold_ns = NSEC_PER_SEC;
	struct mg_flood_cpu zero_c = {};

	bpf_map_update_elem(g.fd[GM_GLOBAL], &zero, &zero_g, BPF_ANY);
	flood_cpu_fill(&g, &zero_c);
	for (size_t m = 0; m < sizeof(maps) / sizeof(maps[0]); m++)
		while (bpf_map_get_next_key(g.fd[maps[m]], NULL, next) == 0) {
			memcpy(key, next, sizeof(key));
			if (bpf_map_delete_elem(g.fd[maps[m]], key))
				break;
		}
	memset(vbits, 0, MG_VBITS_WORDS * 8);
	ring_buffer__consume(rb);
	ev_on = ev_off = ev_other = 0;
}

/* Ethernet + IPv6 (or IPv4 for a mapped address) + TCP SYN to port 25 */
static size_t syn_frame(uint8_t *f, const struct mg_addr *src)
{
	size_t l4;

	memset(f, 0, 128);
	if (addr_is_v4(src)) {
		f[12] = 0x08;
		f[14] = 0x45;
		f[17] = 40;
		f[20] = 0x40;
		f[22] = 64;
		f[23] = IPPROTO_TCP;
		memcpy(f + 26, &src->a[12], 4);
		inet_pton(AF_INET, "192.0.2.1", f + 30);
		l4 = 34;
	} else {
		f[12] = 0x86, f[13] = 0xdd;
		f[14] = 0x60;
		f[19] = 20;
		f[20] = IPPROTO_TCP;
		f[21] = 64;
		memcpy(f + 22, src->a, 16);
		inet_pton(AF_INET6, "2001:db8::1", f + 38);
		l4 = 54;
	}
	f[l4] = 0x9c, f[l4 + 1] = 0x40; /* 40000 */
	f[l4 + 3] = 25;
	f[l4 + 12] = 5 << 4;
	f[l4 + 13] = 0x02;
	return l4 + 20;
}

static int run(const struct mg_addr *src, int repeat)
{
	uint8_t f[128];
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = f, .repeat = repeat);

	o.data_size_in = syn_frame(f, src);
	return bpf_prog_test_run_opts(bpf_program__fd(g.skel->progs.mg_xdp), &o) ? -errno : (int)o.retval;
}

static void random_src(struct mg_addr *a)
{
	parse_addr("2001:db8:8000::", a);
	for (int i = 4; i < 16; i++)
		a->a[i] = rand();
	a->a[4] |= 0x80;
}

/* n SYNs, each from a new spoofed source; the verdict of the last */
static int run_spoofed(int n)
{
	struct mg_addr s;
	int v = -1;

	for (int i = 0; i < n; i++) {
		random_src(&s);
		v = run(&s, 1);
	}
	return v;
}

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* the calling thread pinned to cpu (-1: to every CPU again) */
static int cpus(void)
{
	int n = libbpf_num_possible_cpus();

	return n < 1 ? 1 : n > CPU_SETSIZE ? CPU_SETSIZE : n;
}

/* every SYN of the window completed its handshake: the tracer's count, as
 * it would see them */
static void all_handshakes_done(void)
{
	static struct mg_flood_cpu fc[FLOOD_CPUS_MAX];

	flood_cpu_get(&g, fc);
	for (int i = 0; i < cpus() && i < FLOOD_CPUS_MAX; i++)
		fc[i].done = fc[i].syns;
	flood_cpu_set(&g, fc);
}

static void on_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	for (int i = 0; i < cpus(); i++)
		if (cpu < 0 || i == cpu)
			CPU_SET(i, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

/* n spoofed SYNs spread over the first two CPUs, half on each */
static void run_spread(int n)
{
	on_cpu(0);
	run_spoofed(n / 2);
	on_cpu(1);
	run_spoofed(n - n / 2);
	on_cpu(-1);
}

/* 300 spoofed SYNs at once: well over 100 in a window */
static bool flood_on(void)
{
	struct mg_global gl;

	run_spoofed(300);
	flood_global(&g, &gl);
	return gl.flood_mode == 1;
}

TEST(flood_switches_on_above_threshold)
{
	struct mg_config c;
	struct mg_global gl;
	long long d0;

	reset(&c);
	ASSERT_OK(gate_write_config(&g, &c), "config");
	d0 = reason_total(&g, MG_REASON_DROP_FLOOD);
	run_spoofed(50); /* half the threshold's window */
	flood_global(&g, &gl);
	ASSERT_EQ(gl.flood_mode, 0, "flood mode after 50 SYNs");
	ASSERT_EQ(run_spoofed(250), XDP_DROP, "verdict of the last SYN");
	flood_global(&g, &gl);
	ASSERT_EQ(gl.flood_mode, 1, "flood mode after 300 SYNs");
	ASSERT_EQ(gl.flood_entries, 1, "flood_entries");
	ASSERT_TRUE(gl.flood_changed_ns > 0 && gl.flood_changed_ns <= now_boot_ns(), "flood_changed_ns set");
	/* the 101st SYN of a window switches it on, and it and every unverified
	 * one after it is dropped (no budget); a window ending mid-run delays it */
	ASSERT_RANGE(reason_total(&g, MG_REASON_DROP_FLOOD) - d0, 100, 200, "drop_flood");
	ring_buffer__consume(rb);
	ASSERT_EQ(ev_on, 1, "flood-on events");
	ASSERT_EQ(ev_off, 0, "flood-off events");
	ASSERT_EQ(ev_other, 0, "other events");
}

TEST(verified_source_keeps_quota)
{
	struct mg_config c;
	struct mg_addr v;
	long long f0, ok0, r0;

	reset(&c);
	c.syn_burst = 20;
	c.syn_interval_ns = NSEC_PER_SEC / 10;
	c.ban_after = 0; /* count every drop_rate, no ban */
	ASSERT_OK(gate_write_config(&g, &c), "config");
	if (!ASSERT_TRUE(flood_on(), "flood mode on"))
		return;
	parse_addr("203.0.113.9", &v);
	ASSERT_OK(mark_verified(&v), "verified entry");
	f0 = reason_total(&g, MG_REASON_DROP_FLOOD);
	ok0 = reason_total(&g, MG_REASON_PASS_OK);
	r0 = reason_total(&g, MG_REASON_DROP_RATE);
	run(&v, 30);
	ASSERT_EQ(reason_total(&g, MG_REASON_DROP_FLOOD) - f0, 0, "drop_flood of a verified source");
	/* its own bucket: burst 20, 10/s; the 30 SYNs take well under 100 ms */
	ASSERT_RANGE(reason_total(&g, MG_REASON_PASS_OK) - ok0, 20, 21, "pass_ok: the burst");
	ASSERT_RANGE(reason_total(&g, MG_REASON_DROP_RATE) - r0, 9, 10, "drop_rate: the rest");
}

/* DNSWL counts as verified: a source seen passing as DNSWL is put into
 * mg_verified, so flood mode lets it through. (A verdict the controller
 * writes is seen by flood mode once the source has sent one SYN outside a
 * flood, or when the controller adds the source to mg_verified itself.) */
TEST(dnswl_source_passes_in_flood)
{
	struct mg_config c;
	struct mg_addr a;
	struct mg_verdict v = { .expires_ns = now_boot_ns() + 60 * NSEC_PER_SEC, .score = -5,
				.state = MG_VERDICT_ALLOWED };
	long long w0, f0;
	uint64_t t;

	reset(&c);
	c.dnsbl_enabled = 1;
	ASSERT_OK(gate_write_config(&g, &c), "config");
	parse_addr("203.0.113.10", &a);
	ASSERT_OK(bpf_map_update_elem(g.fd[GM_VERDICT], &a, &v, BPF_ANY), "verdict entry");
	ASSERT_EQ(run(&a, 1), XDP_PASS, "before the flood");
	ASSERT_OK(bpf_map_lookup_elem(g.fd[GM_VERIFIED], &a, &t), "in mg_verified after pass_dnswl");
	if (!ASSERT_TRUE(flood_on(), "flood mode on"))
		return;
	w0 = reason_total(&g, MG_REASON_PASS_DNSWL);
	f0 = reason_total(&g, MG_REASON_DROP_FLOOD);
	ASSERT_EQ(run(&a, 5), XDP_PASS, "verdict in flood mode");
	ASSERT_EQ(reason_total(&g, MG_REASON_PASS_DNSWL) - w0, 5, "pass_dnswl");
	ASSERT_EQ(reason_total(&g, MG_REASON_DROP_FLOOD) - f0, 0, "drop_flood");
}

/* mg_verified decides, the filter only says where not to look: an evicted
 * source whose bit stays is not verified; an entry without its bit is not
 * seen (whoever adds to mg_verified sets the bit). And the bits spread. */
TEST(verified_filter)
{
	static uint64_t bits[MG_VBITS_WORDS];
	struct mg_config c;
	struct mg_addr a, b, r;
	uint64_t when = now_boot_ns(), t;
	long long f0, set = 0;

	reset(&c);
	ASSERT_OK(gate_write_config(&g, &c), "config");
	parse_addr("2001:db8:1::1", &a);
	ASSERT_OK(mark_verified(&a), "mark a");
	ASSERT_OK(bpf_map_delete_elem(g.fd[GM_VERIFIED], &a), "evict a, its bit stays");
	parse_addr("2001:db8:1::2", &b);
	ASSERT_OK(bpf_map_update_elem(g.fd[GM_VERIFIED], &b, &when, BPF_ANY), "b without its bit");
	if (!ASSERT_TRUE(flood_on(), "flood mode on"))
		return;
	f0 = reason_total(&g, MG_REASON_DROP_FLOOD);
	ASSERT_EQ(run(&a, 1), XDP_DROP, "a, evicted");
	ASSERT_EQ(run(&b, 1), XDP_DROP, "b, no bit");
	ASSERT_EQ(reason_total(&g, MG_REASON_DROP_FLOOD) - f0, 2, "drop_flood");
	/* the data path sets the bit with the entry (tp_btf, DNSWL) */
	ASSERT_OK(mark_verified(&b), "mark b");
	ASSERT_EQ(run(&b, 1), XDP_PASS, "b, marked");
	ASSERT_OK(bpf_map_lookup_elem(g.fd[GM_VERIFIED], &b, &t), "b in mg_verified");
	/* 100k random sources into 2M bits: 1 - e^(-100k/2M) of them, 97.6k, distinct */
	memset(bits, 0, sizeof(bits));
	for (int i = 0; i < 100000; i++) {
		uint32_t bit;

		random_src(&r);
		bit = mg_vbit(&r);
		bits[bit / 64] |= 1ULL << (bit % 64);
	}
	for (uint32_t i = 0; i < MG_VBITS_WORDS; i++)
		set += __builtin_popcountll(bits[i]);
	ASSERT_RANGE(set, 97000, 98300, "distinct bits of 100k random IPv6 sources");
	memset(bits, 0, sizeof(bits));
	for (int i = 0; i < 100000; i++) { /* IPv4: 198.18.0.0/15 walked in order */
		uint32_t bit;

		parse_addr("198.18.0.0", &r);
		r.a[13] += i >> 16, r.a[14] = i >> 8, r.a[15] = i;
		bit = mg_vbit(&r);
		bits[bit / 64] |= 1ULL << (bit % 64);
	}
	set = 0;
	for (uint32_t i = 0; i < MG_VBITS_WORDS; i++)
		set += __builtin_popcountll(bits[i]);
	/* a multiplicative hash spreads consecutive keys evenly: at least random */
	ASSERT_RANGE(set, 97000, 100000, "distinct bits of 100k consecutive IPv4 sources");
}

/* Unverified sources share the budget, and the ones it turns away never
 * reach mg_src: a spoofed flood does not churn the per-source map. */
TEST(unverified_share_budget)
{
	struct mg_config c;
	struct mg_addr s;
	long long p0, f0, passed, dropped;
	double t0, secs;
	int n = 3000;

	reset(&c);
	c.flood_budget_interval_ns = NSEC_PER_SEC / 1000; /* 1000/s ... */
	c.flood_budget_burst = 10;                          /* ... burst 10 */
	ASSERT_OK(gate_write_config(&g, &c), "config");
	if (!ASSERT_TRUE(flood_on(), "flood mode on"))
		return;
	/* flood_on spent the burst (its source passed the budget a few times) */
	p0 = past_flood_step(&g);
	f0 = reason_total(&g, MG_REASON_DROP_FLOOD);
	int src0 = map_count(g.fd[GM_SRC], NULL);
	t0 = mono_s();
	for (int i = 0; i < n; i++) { /* on every CPU in turn: each takes its batches */
		if (i % 100 == 0)
			on_cpu(i / 100 % cpus());
		random_src(&s);
		run(&s, 1);
	}
	on_cpu(-1);
	secs = mono_s() - t0;
	passed = past_flood_step(&g) - p0;
	dropped = reason_total(&g, MG_REASON_DROP_FLOOD) - f0;
	ASSERT_EQ(passed + dropped, n, "every SYN counted once");
	/* at most burst + rate x time (+1 for the edges), and the tokens the
	 * CPUs held when it began: CPUs x batch (the burst, 10, here) */
	ASSERT_RANGE(passed, 1, 10 + (long long)(secs * 1000) + 1 + cpus() * 10, "SYNs past the budget");
	ASSERT_TRUE(dropped > n / 2 || secs > 1.5, "most dropped (unless the loop was very slow)");
	ASSERT_RANGE(map_count(g.fd[GM_SRC], NULL) - src0, 0, passed, "new mg_src entries");
}

/* Hysteresis: a rate between half and the whole threshold keeps flood mode
 * on; below half it ends after flood_hold. Timing margins: hold is 1 s and
 * the checks are 0.5 s before and 1.5 s after it; the keep-alive loop
 * sends 40 SYNs every 50 ms (800/s; half the threshold is 500/s), so only
 * a stall of over a second of the whole machine breaks it. */
TEST(switches_off_after_hold)
{
	struct mg_config c;
	struct mg_global gl;
	struct mg_addr s;
	double t0;

	reset(&c);
	ASSERT_OK(gate_write_config(&g, &c), "config");
	if (!ASSERT_TRUE(flood_on(), "flood mode on"))
		return;
	parse_addr("2001:db8:8000::2", &s);
	t0 = mono_s();
	while (mono_s() - t0 < 2.0) {
		run_spoofed(40);
		usleep(50000);
	}
	flood_global(&g, &gl);
	ASSERT_EQ(gl.flood_mode, 1, "flood mode after 2 s at 800/s (threshold 1000/s)");
	usleep(500000);
	run_spoofed(1);
	flood_global(&g, &gl);
	ASSERT_EQ(gl.flood_mode, 1, "flood mode 0.5 s into the calm");
	usleep(2000000);
	run_spoofed(1);
	flood_global(&g, &gl);
	ASSERT_EQ(gl.flood_mode, 0, "flood mode 2.5 s into the calm (hold 1 s)");
	ASSERT_EQ(gl.flood_entries, 1, "flood_entries");
	ring_buffer__consume(rb);
	ASSERT_EQ(ev_on, 1, "flood-on events");
	ASSERT_EQ(ev_off, 1, "flood-off events");
	/* and the unverified source passes again, under its normal quota */
	ASSERT_EQ(run(&s, 1), XDP_PASS, "verdict after flood mode");
}

/* Clock readings of different CPUs: a CPU whose reading is a little older
 * than what another CPU just stored (the window start, a CPU's last SYN
 * seen, the start of the calm) must not take the difference for a huge one
 * and switch flood mode off. Each case seeds mg_global and the per-CPU
 * state as such a CPU would have left them, 10 ms ahead of the clock, and
 * runs SYNs. */
TEST(flood_stays_on_with_skewed_clocks)
{
	static const char *what[] = { "window start ahead", "last SYN ahead, busy window over",
				      "calm start ahead, calm window over" };
	struct mg_config c;
	struct mg_global gl;
	struct mg_flood_cpu fc;
	uint32_t zero = 0;

	for (int k = 0; k < 3; k++) {
		reset(&c);
		ASSERT_OK(gate_write_config(&g, &c), "config");
		if (!ASSERT_TRUE(flood_on(), "flood mode on"))
			return;
		flood_global(&g, &gl);
		uint64_t now = now_boot_ns(), ahead = now + 10 * 1000000ULL;

		memset(&fc, 0, sizeof(fc));
		if (k == 0) {
			gl.flood_win_ns = ahead;
			fc.win_ns = ahead;
			fc.seen_ns = ahead;
		} else if (k == 1) {
			gl.flood_win_ns = now - 2 * MG_FLOOD_WINDOW_NS;
			fc.win_ns = gl.flood_win_ns;
			fc.syns = 1000; /* a busy window */
			fc.seen_ns = ahead;
		} else {
			gl.flood_win_ns = now - 2 * MG_FLOOD_WINDOW_NS;
			fc.win_ns = gl.flood_win_ns; /* a calm window: calm from its start on */
			gl.flood_calm_ns = ahead;
		}
		ASSERT_OK(bpf_map_update_elem(g.fd[GM_GLOBAL], &zero, &gl, BPF_ANY), "seed mg_global");
		ASSERT_OK(flood_cpu_fill(&g, &fc), "seed mg_flood_cpu");
		ASSERT_EQ(run_spoofed(1), XDP_DROP, what[k]);
		flood_global(&g, &gl);
		ASSERT_EQ(gl.flood_mode, 1, what[k]);
		ring_buffer__consume(rb);
		ASSERT_EQ(ev_off, 0, "flood-off events");
	}
}

/* action = reset never answers a SYN of an unverified source in flood mode:
 * a RST to a forged address is backscatter at flood rate. Neither the
 * budget's drops (drop_flood) nor an unverified source that got past the
 * budget and then broke a quota get one; a verified source over its quota
 * still does. */
TEST(reset_in_flood_mode_never_answers_unverified)
{
	struct mg_config c;
	struct mg_addr s, v;
	int tx = 0, drop = 0, verdict;
	long long f0;

	reset(&c);
	c.action = MG_ACTION_RESET;
	c.syn_burst = 1;
	c.syn_interval_ns = 10 * NSEC_PER_SEC;
	c.ban_after = 0;
	ASSERT_OK(gate_write_config(&g, &c), "config");
	if (!ASSERT_TRUE(flood_on(), "flood mode on"))
		return;
	f0 = reason_total(&g, MG_REASON_DROP_FLOOD);
	for (int i = 0; i < 2000; i++) {
		random_src(&s);
		verdict = run(&s, 1);
		tx += verdict == XDP_TX;
		drop += verdict == XDP_DROP;
	}
	ASSERT_EQ(tx, 0, "forged SYNs answered with XDP_TX");
	ASSERT_EQ(drop, 2000, "forged SYNs dropped");
	ASSERT_EQ(reason_total(&g, MG_REASON_DROP_FLOOD) - f0, 2000, "drop_flood");

	/* a budget: the unverified source gets past it, then over its own quota */
	c.flood_budget_interval_ns = NSEC_PER_SEC / 100000;
	c.flood_budget_burst = 1000;
	ASSERT_OK(gate_write_config(&g, &c), "config with budget");
	parse_addr("2001:db8:8000::77", &s);
	ASSERT_EQ(run(&s, 1), XDP_PASS, "unverified, first SYN within budget and quota");
	long long r0 = reason_total(&g, MG_REASON_DROP_RATE);
	ASSERT_EQ(run(&s, 1), XDP_DROP, "unverified, over its quota in flood mode");
	ASSERT_EQ(reason_total(&g, MG_REASON_DROP_RATE) - r0, 1, "drop_rate");

	parse_addr("203.0.113.9", &v);
	ASSERT_OK(mark_verified(&v), "verified entry");
	ASSERT_EQ(run(&v, 1), XDP_PASS, "verified, first SYN");
	ASSERT_EQ(run(&v, 1), XDP_TX, "verified, over its quota: RST");
}

/* Adaptive detection: a flood far under flood_threshold (1M/s here) whose
 * SYNs complete no handshake switches flood mode on after two windows of
 * at least MG_FLOOD_ADAPT_SYNS; the same SYNs with their handshakes
 * completed (the tracer's count, seeded here as it would count them) do
 * not. 300 SYNs per window: 3000/s. */
TEST(adaptive_engages_under_threshold)
{
	struct mg_config c;
	struct mg_global gl;
	int windows = 0;

	reset(&c);
	c.flood_interval_ns = NSEC_PER_SEC / 1000000;
	ASSERT_OK(gate_write_config(&g, &c), "config");
	for (; windows < 6; windows++) {
		run_spoofed(300);
		all_handshakes_done();
		usleep(110000);
	}
	run_spoofed(1);
	flood_global(&g, &gl);
	ASSERT_EQ(gl.flood_mode, 0, "flood mode while handshakes complete");

	for (windows = 0; windows < 6; windows++) {
		run_spoofed(300);
		flood_global(&g, &gl);
		if (gl.flood_mode)
			break;
		usleep(110000);
	}
	ASSERT_EQ(gl.flood_mode, 1, "flood mode once handshakes collapse");
	ASSERT_RANGE(windows, 2, 3, "windows it took (two bad ones, closed by the next SYN)");
	ASSERT_EQ(gl.flood_why, MG_FLOOD_WHY_HANDSHAKES, "flood_why");
	ring_buffer__consume(rb);
	ASSERT_EQ(ev_on, 1, "flood-on events");
	/* and it stays on while the flood goes on, then ends after the hold (1 s) */
	for (int i = 0; i < 15; i++) {
		run_spoofed(300);
		usleep(100000);
	}
	flood_global(&g, &gl);
	ASSERT_EQ(gl.flood_mode, 1, "still on 1.5 s into the flood (rate under half the threshold)");
	usleep(1300000);
	run_spoofed(1);
	flood_global(&g, &gl);
	ASSERT_EQ(gl.flood_mode, 0, "off after the flood and the hold");
}

TEST(threshold_zero_disables)
{
	struct mg_config c;
	struct mg_global gl;
	struct mg_addr s;
	long long f0;

	reset(&c);
	c.flood_interval_ns = 0;
	ASSERT_OK(gate_write_config(&g, &c), "config");
	f0 = reason_total(&g, MG_REASON_DROP_FLOOD);
	for (int i = 0; i < 500; i++) {
		random_src(&s);
		run(&s, 1);
	}
	flood_global(&g, &gl);
	ASSERT_EQ(gl.flood_mode, 0, "flood mode");
	ASSERT_EQ(reason_total(&g, MG_REASON_DROP_FLOOD) - f0, 0, "drop_flood");
}

/* Per-CPU windows: a flood spread over two CPUs, each of them under the
 * threshold (100 per window here), switches flood mode on when its window
 * closes, at the first SYN after it: the CPU that closes it sums all CPUs'
 * counts. One CPU alone over the threshold switches it on at once. */
TEST(flood_spread_over_cpus)
{
	struct mg_config c;
	struct mg_global gl;

	if (cpus() < 2) {
		test_skip("one CPU");
		return;
	}
	reset(&c);
	ASSERT_OK(gate_write_config(&g, &c), "config");
	run_spoofed(1); /* a window begins */
	run_spread(160); /* 80 per CPU */
	flood_global(&g, &gl);
	if (gl.flood_mode) { /* a window closed between the halves (a slow machine): once more */
		reset(&c);
		run_spoofed(1);
		run_spread(160);
		flood_global(&g, &gl);
	}
	ASSERT_EQ(gl.flood_mode, 0, "flood mode with 80 SYNs on each CPU, the window open");
	usleep(110000);
	run_spoofed(1);
	flood_global(&g, &gl);
	ASSERT_EQ(gl.flood_mode, 1, "flood mode once the window closed (161 SYNs, threshold 100)");
	ASSERT_EQ(gl.flood_why, MG_FLOOD_WHY_THRESHOLD, "flood_why");
	ASSERT_RANGE(gl.flood_win_syns, 150, 161, "SYNs of the closed window, both CPUs");

	/* the handshake evidence adds up over CPUs too: 150 SYNs per CPU and
	 * window (300 >= MG_FLOOD_ADAPT_SYNS), threshold 1M/s */
	reset(&c);
	c.flood_interval_ns = NSEC_PER_SEC / 1000000;
	ASSERT_OK(gate_write_config(&g, &c), "config");
	int windows = 0;

	for (; windows < 6; windows++) {
		run_spread(300);
		flood_global(&g, &gl);
		if (gl.flood_mode)
			break;
		usleep(110000);
	}
	ASSERT_EQ(gl.flood_mode, 1, "flood mode once handshakes collapse on both CPUs");
	ASSERT_RANGE(windows, 2, 3, "windows it took");
	ASSERT_EQ(gl.flood_why, MG_FLOOD_WHY_HANDSHAKES, "flood_why");
}

/* set the kernel's SYN trouble as the daemon would (mg_ctl) */
static void trouble(uint32_t bits)
{
	ASSERT_OK(gate_trouble(&g, bits, bits ? now_boot_ns() : 0), "mg_ctl trouble");
}

/* The kernel's word lowers the bar: 50 forged SYNs per window (500/s, under
 * MG_FLOOD_ADAPT_SYNS and the threshold) that complete no handshake do
 * not switch flood mode on alone; with the kernel reporting SYN cookies
 * sent they do, after two windows, and flood_why says "kernel". With the
 * handshakes completed they do not, trouble or not. Once on, the flood at
 * that rate keeps it on (the kernel no longer sees it), and it ends after
 * the flood and the hold (1 s). */
TEST(kernel_trouble_engages_below_adaptive)
{
	struct mg_config c;
	struct mg_global gl;
	int windows;

	reset(&c);
	c.flood_interval_ns = NSEC_PER_SEC / 1000000;
	ASSERT_OK(gate_write_config(&g, &c), "config");
	trouble(0);
	for (windows = 0; windows < 5; windows++) {
		run_spoofed(50);
		usleep(110000);
	}
	run_spoofed(1);
	flood_global(&g, &gl);
	ASSERT_EQ(gl.flood_mode, 0, "500/s, no kernel trouble");

	for (windows = 0; windows < 5; windows++) { /* trouble, handshakes complete */
		trouble(MG_TROUBLE_SYNCOOKIES);
		run_spoofed(50);
		all_handshakes_done();
		usleep(110000);
	}
	run_spoofed(1);
	flood_global(&g, &gl);
	ASSERT_EQ(gl.flood_mode, 0, "500/s, kernel trouble, handshakes completed");

	for (windows = 0; windows < 6; windows++) {
		trouble(MG_TROUBLE_SYNCOOKIES | MG_TROUBLE_LISTEN_OVF);
		run_spoofed(50);
		flood_global(&g, &gl);
		if (gl.flood_mode)
			break;
		usleep(110000);
	}
	ASSERT_EQ(gl.flood_mode, 1, "500/s, kernel trouble, no handshakes");
	ASSERT_RANGE(windows, 2, 3, "windows it took");
	ASSERT_EQ(gl.flood_why, MG_FLOOD_WHY_KERNEL, "flood_why");
	ASSERT_EQ(gl.flood_kernel, MG_TROUBLE_SYNCOOKIES | MG_TROUBLE_LISTEN_OVF, "flood_kernel");
	trouble(0);
	for (int i = 0; i < 15; i++) {
		run_spoofed(50);
		usleep(100000);
	}
	flood_global(&g, &gl);
	ASSERT_EQ(gl.flood_mode, 1, "still on 1.5 s into the flood, the kernel quiet");
	usleep(1300000);
	run_spoofed(1);
	flood_global(&g, &gl);
	ASSERT_EQ(gl.flood_mode, 0, "off after the flood and the hold");
}

int main(int argc, char **argv)
{
	srand(getpid());
	return test_main(argc, argv, setup, teardown);
}
