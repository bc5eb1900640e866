// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* `lookup` decides as the data path does (include/rules.h): a property test
 * that builds random map states (allow/deny entries with TTLs and
 * exclusions, operator and quota bans with expiries and levels, DNSBL
 * verdicts and pending marks, per-class and prefix buckets near their
 * limits, verified marks, connection counts, flood mode on and off with its
 * budget and SYN cookies, the daemon alive or not, random configs: rates
 * per class, burst 0, reject, pending = hold ...) and random sources and
 * ports, and asserts for each SYN that lookup_work()'s reason (lookup's own
 * work function, called here) is the reason the real XDP program counts for
 * it under BPF_PROG_TEST_RUN on the same maps (with no CPU holding flood
 * budget tokens: flood_cpu_clear). Seeded: MG_SEED=N reruns one sequence;
 * the seed and the first disagreement are printed. */
#include <time.h>
#include "test.h"
#include "fixture.h"
#include "flood_counts.h"
#include "rules.h"
#include "cookie.h"
#include "lookup.h"

#define TRIALS 250
#define SYNS 40   /* per trial: 10,000 cases */
#define EPOCH 10  /* trials per config (a config switch waits for a grace period) */
#define SEC NSEC_PER_SEC
#define HOUR (3600 * SEC)

static struct fixture fx;
static uint64_t rng;
static int vbits_fd = -1;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 11) % n;
}

/* the sources: neighbours, so that /24 and /64 entries and prefix buckets overlap */
static const char *const pool[] = { "192.0.2.1", "192.0.2.2", "192.0.2.3", "198.51.100.1",
				    "198.51.100.2", "2001:db8::1", "2001:db8::2", "2001:db8:1::1" };
static const char *const nets[] = { "192.0.2.0/24", "192.0.2.0/24", "192.0.2.0/24", "198.51.100.0/24",
				    "198.51.100.0/24", "2001:db8::/64", "2001:db8::/64", "2001:db8:1::/64" };
#define POOL ((int)(sizeof(pool) / sizeof(pool[0])))
static const uint16_t ports[] = { 25, 587, 465, 143, 993, 110, 995, 8080 };

/* an expiry: none (0), an hour ago, or in an hour (never near now: the
 * data path reads the clock a few microseconds after lookup) */
static uint64_t expiry(uint64_t now)
{
	switch (rnd(3)) {
	case 0: return 0;
	case 1: return now - HOUR;
	}
	return now + HOUR;
}

/* a bucket's tat: full, empty, or half an interval either side of its
 * last token (the intervals are 10 s: far from the clock's drift) */
static uint64_t tat(uint64_t now, uint64_t interval, uint32_t burst)
{
	uint64_t b = burst ? burst : 1;

	switch (rnd(4)) {
	case 0: return 0;
	case 1: return now + HOUR;
	case 2: return now + (b - 1) * interval - interval / 2; /* one token left */
	}
	return now + (b - 1) * interval + interval / 2;            /* none */
}

static void random_config(struct mg_config *c)
{
	fx_config(c);
	c->syn_interval_ns = rnd(4) ? 10 * SEC : 0;
	c->syn_burst = rnd(4);               /* 0 counts as 1 */
	c->syn_rate_classes = rnd(1u << MG_CLASS_MAX) & ~1u;
	c->syn_burst_classes = rnd(1u << MG_CLASS_MAX) & ~1u;
	for (int cl = 0; cl < MG_CLASS_MAX; cl++) {
		c->syn_class_interval_ns[cl] = rnd(3) ? 10 * SEC : 0;
		c->syn_class_burst[cl] = rnd(4);
		c->max_concurrent[cl] = cl ? rnd(4) : 0;
	}
	c->prefix_interval_ns = rnd(3) ? 10 * SEC : 0;
	c->prefix_burst = rnd(6);
	c->max_total_concurrent = rnd(3) ? 0 : 1 + rnd(10);
	c->dnsbl_enabled = rnd(2);
	c->pending = rnd(2) ? MG_PENDING_HOLD : MG_PENDING_PASS;
	c->reject = rnd(8);
	c->ban_after = rnd(3) ? 0 : 1 + rnd(2);
	c->ban_evidence = 1;
	c->ban_concurrent = rnd(2);
	c->event_interval_ns = 10 * SEC; /* coarse: lookup reads the clock a little before the SYN */
	c->event_burst = rnd(3);
	c->flood_interval_ns = rnd(2) ? NSEC_PER_SEC / 50000 : 0;
	c->flood_hold_ns = HOUR; /* flood mode, once on, stays on for the trial */
	c->flood_action = rnd(2) ? MG_FLOOD_COOKIE : MG_FLOOD_DROP;
	c->flood_budget_interval_ns = rnd(3) ? 10 * SEC : 0;
	c->flood_budget_burst = rnd(3);
}

static void set_verified(const struct mg_addr *a, uint64_t now)
{
	uint32_t bit = mg_vbit(a), idx = bit / 64;
	uint64_t w = 0;

	bpf_map_update_elem(fx.g.fd[GM_VERIFIED], a, &now, BPF_ANY);
	bpf_map_lookup_elem(vbits_fd, &idx, &w);
	w |= 1ULL << (bit % 64);
	bpf_map_update_elem(vbits_fd, &idx, &w, BPF_ANY);
}

/* what the maps hold about one source of the pool */
static void random_source(int i, const struct mg_config *c, uint64_t now)
{
	struct mg_addr a = fx_addr(pool[i]);
	struct mg_ban b = { .created_ns = now - HOUR };
	struct mg_verdict v = { .score = 5 };
	struct mg_src s = {};
	uint64_t until;

	if (!rnd(6))
		fx_rule(&fx, GM_ALLOW, rnd(2) ? pool[i] : nets[i], expiry(now));
	if (!rnd(3))
		fx_rule_flags(&fx, GM_DENY, pool[i], expiry(now), rnd(3) ? 0 : MG_RULE_EXCLUDE);
	if (!rnd(4))
		fx_rule(&fx, GM_DENY, nets[i], expiry(now));
	if (!rnd(4)) {
		b.expires_ns = expiry(now), b.origin = MG_ORIGIN_CLI, b.level = rnd(3);
		bpf_map_update_elem(fx.g.fd[GM_BAN], &a, &b, BPF_ANY);
	}
	if (!rnd(4)) {
		b.expires_ns = expiry(now), b.origin = MG_ORIGIN_QUOTA, b.level = rnd(40);
		bpf_map_update_elem(fx.g.fd[GM_BAN_QUOTA], &a, &b, BPF_ANY);
	}
	if (rnd(3)) {
		v.state = rnd(4), v.expires_ns = rnd(4) ? now + HOUR : now - HOUR;
		bpf_map_update_elem(fx.g.fd[GM_VERDICT], &a, &v, BPF_ANY);
	}
	if (!rnd(3)) {
		until = rnd(2) ? now + HOUR : now - HOUR;
		bpf_map_update_elem(fx.g.fd[GM_PENDING], &a, &until, BPF_ANY);
	}
	if (rnd(2)) {
		for (uint32_t cl = 0; cl < MG_CLASS_MAX; cl++)
			s.tat_ns[cl] = tat(now, 10 * SEC, mg_syn_burst(c, cl));
		s.handshakes = (uint64_t)(now / SEC) << 32 | rnd(3);
		s.syns = rnd(5);
		bpf_map_update_elem(fx.g.fd[GM_SRC], &a, &s, BPF_ANY);
	}
	if (rnd(2))
		set_verified(&a, now);
	for (uint32_t cl = 1; cl < MG_CLASS_MAX; cl++)
		if (!rnd(3))
			fx_conn_set(&fx, pool[i], cl, rnd(4));
}

/* the maps random_source and random_shared fill, emptied (fx_reset without
 * the config write) */
static void clear_state(void)
{
	static const struct { enum gate_map m; size_t key; } maps[] = {
		{ GM_BAN, sizeof(struct mg_addr) }, { GM_BAN_QUOTA, sizeof(struct mg_addr) },
		{ GM_VERDICT, sizeof(struct mg_addr) }, { GM_PENDING, sizeof(struct mg_addr) },
		{ GM_SRC, sizeof(struct mg_addr) }, { GM_PREFIX, sizeof(struct mg_prefix_key) },
		{ GM_CONN, sizeof(struct mg_conn_key) }, { GM_VERIFIED, sizeof(struct mg_addr) },
	};

	for (int l = 0; l < MG_LISTS; l++) {
		int fd = list_live_fd(&fx.g, l);

		if (fd >= 0) {
			fx_map_clear(fd, sizeof(struct mg_lpm_key));
			close(fd);
		}
	}
	for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++)
		fx_map_clear(fx.g.fd[maps[i].m], maps[i].key);
}

/* the shared state: prefix buckets, class totals, flood mode, the event
 * budget, the cookie keys, the daemon's heartbeat */
static void random_shared(const struct mg_config *c, uint64_t now)
{
	struct mg_global gl = {};
	struct mg_cookie_keys keys = { .ready = rnd(2) };
	uint32_t zero = 0;

	for (int i = 0; i < POOL; i++) {
		struct mg_addr a = fx_addr(pool[i]);
		struct mg_prefix_key k = { .verified = rnd(2) };
		struct mg_bucket bk = { .tat_ns = tat(now, 10 * SEC, c->prefix_burst) };
		const uint32_t *mask = addr_is_v4(&a) ? c->mask_v4 : c->mask_v6;

		k.addr = a;
		for (int w = 0; w < 4; w++)
			((uint32_t *)k.addr.a)[w] &= mask[w];
		bpf_map_update_elem(fx.g.fd[GM_PREFIX], &k, &bk, BPF_ANY);
	}
	for (uint32_t cl = 1; cl < MG_CLASS_MAX; cl++)
		fx_u32(&fx, GM_CLASS_CONN, &cl, rnd(12));
	gl.flood_mode = rnd(2);
	gl.flood_win_ns = gl.flood_changed_ns = now;
	gl.flood_budget_tat_ns = tat(now, 10 * SEC, mg_flood_burst(c));
	gl.event_tat_ns = rnd(2) ? 0 : now + HOUR;
	bpf_map_update_elem(fx.g.fd[GM_GLOBAL], &zero, &gl, BPF_ANY);
	bpf_map_update_elem(fx.g.fd[GM_COOKIE], &zero, &keys, BPF_ANY);
	gate_heartbeat(&fx.g, rnd(4) ? UINT64_MAX : 0);
}

/* every counter, summed over the CPUs, in one batch lookup */
static int counters(uint64_t *out)
{
	static uint64_t *vals;
	static uint32_t keys[MG_COUNTER_SLOTS];
	int ncpu = libbpf_num_possible_cpus();
	uint32_t n = MG_COUNTER_SLOTS, out_batch;

	if (!vals)
		vals = calloc((size_t)ncpu * MG_COUNTER_SLOTS, sizeof(*vals));
	if (!vals || (bpf_map_lookup_batch(fx.g.fd[GM_COUNTERS], NULL, &out_batch, keys, vals, &n, NULL) && errno != ENOENT))
		return -errno;
	memset(out, 0, MG_COUNTER_SLOTS * sizeof(*out));
	for (uint32_t i = 0; i < n; i++)
		for (int c = 0; c < ncpu; c++)
			out[keys[i]] += vals[(size_t)i * ncpu + c];
	return n == MG_COUNTER_SLOTS ? 0 : -EIO;
}

/* No CPU holds flood budget tokens (struct mg_flood_cpu: taken from the
 * shared bucket in batches, kept 100 ms): lookup cannot see them (the map is
 * not pinned), so each SYN here meets the shared bucket itself. */
static void flood_cpu_clear(void)
{
	static void *zero;
	int ncpu = libbpf_num_possible_cpus();
	uint32_t key = 0;

	if (!zero)
		zero = calloc(ncpu, sizeof(struct mg_flood_cpu));
	if (zero)
		bpf_map_update_elem(bpf_map__fd(fx.g.skel->maps.mg_flood_cpu), &key, zero, BPF_ANY);
}

/* the reason the data path counted for one SYN */
static int datapath_reason(const char *src, uint16_t port)
{
	uint64_t before[MG_COUNTER_SLOTS], after[MG_COUNTER_SLOTS];
	int got = -1;

	if (counters(before))
		return -3;
	fx_syn(&fx, src, port);
	if (counters(after))
		return -3;
	for (int i = 0; i < MG_COUNTER_SLOTS; i++)
		if (after[i] != before[i])
			got = got < 0 ? i / MG_CLASS_MAX : -2;
	return got;
}

static const char *rname(int r)
{
	return r >= 0 && r < MG_REASON_MAX ? mg_reason_names[r] : r == -2 ? "(two reasons)" :
	       r == -3 ? "(counters unread)" : "(none)";
}

/* the first disagreement, with what lookup saw */
static void show(uint64_t seed, int trial, int n, const char *src, uint16_t port, const struct lookup_result *r,
		 int dp)
{
	printf("  seed %llu, trial %d, case %d: %s port %u (%s): lookup %s (%s), data path %s\n",
	       (unsigned long long)seed, trial, n, src, port, mg_class_names[r->class], rname(r->reason), r->why,
	       rname(dp));
	for (int i = 0; i < r->nstep; i++)
		printf("    %-10s %s\n", r->steps[i].name, r->steps[i].state);
}

/* the DNSBL state of a source, after its SYN: its pending mark, the event budget */
static void show_dnsbl(const struct mg_addr *a, uint64_t now)
{
	struct mg_global gl = {};
	uint64_t until = 0;
	uint32_t zero = 0;
	int p = !bpf_map_lookup_elem(fx.g.fd[GM_PENDING], a, &until);

	bpf_map_lookup_elem(fx.g.fd[GM_GLOBAL], &zero, &gl);
	printf("    after: pending %s %+.3f s, event budget tat %+.3f s, events lost %llu\n", p ? "mark" : "none",
	       p ? ((double)until - now) / SEC : 0, ((double)gl.event_tat_ns - now) / SEC,
	       (unsigned long long)gl.events_lost);
}

TEST(property_lookup_is_datapath)
{
	uint64_t seed = getenv("MG_SEED") ? strtoull(getenv("MG_SEED"), NULL, 0) : (uint64_t)time(NULL);
	int cases = 0, bad = 0;
	uint32_t seen[MG_REASON_MAX] = {};
	struct lookup_result *r = calloc(1, sizeof(*r));

	if (!ASSERT_TRUE(r != NULL, "memory"))
		return;
	rng = seed * 0x9e3779b97f4a7c15ull | 1;
	printf("  seed %llu (MG_SEED=%llu reruns it)\n", (unsigned long long)seed, (unsigned long long)seed);
	for (int t = 0; t < TRIALS; t++) {
		struct mg_config c;
		uint64_t now = now_boot_ns();

		if (t % EPOCH == 0) {
			random_config(&c);
			fx_reset(&fx, &c);
			gate_read_config(&fx.g, &c); /* with the masks the writer derives */
		} else {
			clear_state();
		}
		for (int i = 0; i < POOL; i++)
			random_source(i, &c, now);
		random_shared(&c, now);
		for (int n = 0; n < SYNS; n++) {
			struct lookup_opts o = { .port = ports[rnd(sizeof(ports) / sizeof(ports[0]))] };
			const char *src = pool[rnd(POOL)];
			int dp;

			parse_addr(src, &o.addr);
			flood_cpu_clear();
			if (lookup_work(&fx.g, &o, r)) {
				test_fail(__FILE__, __LINE__, "lookup_work: %s", strerror(errno));
				free(r);
				return;
			}
			dp = datapath_reason(src, o.port);
			cases++;
			if (dp >= 0)
				seen[dp]++;
			if (dp != (int)r->reason && !bad++) {
				test_fail(__FILE__, __LINE__, "lookup and the data path disagree");
				show(seed, t, n, src, o.port, r, dp);
				show_dnsbl(&o.addr, r->now);
			}
			lookup_free(r);
		}
		fx_drain(&fx);
	}
	free(r);
	printf("  %d cases, %d disagreements; reasons seen:", cases, bad);
	for (int i = 0; i < MG_REASON_MAX; i++)
		if (seen[i])
			printf(" %s %u", mg_reason_names[i], seen[i]);
	printf("\n");
	ASSERT_TRUE(cases >= 10000, "at least 10,000 cases");
	ASSERT_EQ(bad, 0, "disagreements");
}

/* Flood mode off, its window just begun, every CPU one SYN short of the
 * threshold (50000/s: 5000 in a 100 ms window): the next SYN the meter
 * counts switches flood mode on and is decided by the flood step. */
static void flood_brink(uint64_t now)
{
	int ncpu = libbpf_num_possible_cpus();
	struct mg_flood_cpu *c = calloc(ncpu, sizeof(*c));
	struct mg_global gl = {};
	uint32_t zero = 0;

	bpf_map_lookup_elem(fx.g.fd[GM_GLOBAL], &zero, &gl);
	gl.flood_mode = 0;
	gl.flood_bad = 0;
	gl.flood_calm_ns = 0;
	gl.flood_win_ns = now;
	bpf_map_update_elem(fx.g.fd[GM_GLOBAL], &zero, &gl, BPF_ANY);
	for (int i = 0; c && i < ncpu; i++)
		c[i] = (struct mg_flood_cpu){ .win_ns = now, .syns = MG_FLOOD_WINDOW_NS / (NSEC_PER_SEC / 50000) };
	if (c)
		bpf_map_update_elem(bpf_map__fd(fx.g.skel->maps.mg_flood_cpu), &zero, c, BPF_ANY);
	free(c);
}

static uint32_t flood_mode_now(void)
{
	struct mg_global gl;

	flood_global(&fx.g, &gl);
	return gl.flood_mode;
}

/* Outside flood mode the meter comes after the deny and ban steps
 * (include/rules.h mg_judge): a SYN they drop is not counted (flood mode
 * stays off at the brink); one they refuse with a reject is counted and,
 * switching flood mode on, is dropped, never answered with a cookie; the
 * DNSBL step still comes after the meter, and its listed sources get no
 * cookie either. The SYN that switches flood mode on is decided in it:
 * beyond what lookup can see (it reads the mode as it is), so not in the
 * property test. */
TEST(meter_after_deny_and_ban)
{
	static const struct { const char *src; uint32_t reject, reason, mode; } rows[] = {
		{ "192.0.2.1", 0, MG_REASON_DROP_DENY, 0 },
		{ "192.0.2.2", 0, MG_REASON_DROP_BAN, 0 },
		{ "192.0.2.1", MG_REJECT_DENY, MG_REASON_DROP_DENY, 1 },
		{ "192.0.2.2", MG_REJECT_BAN, MG_REASON_DROP_BAN, 1 },
		{ "192.0.2.3", 0, MG_REASON_DROP_DNSBL, 1 },
		{ "192.0.2.3", MG_REJECT_DNSBL, MG_REASON_DROP_DNSBL, 1 },
		{ "192.0.2.9", 0, MG_REASON_DROP_COOKIE, 1 },
	};
	struct mg_cookie_keys keys = { .ready = 1 };
	uint64_t now = now_boot_ns();
	uint32_t zero = 0;
	struct mg_config c;

	fx_config(&c);
	c.flood_interval_ns = NSEC_PER_SEC / 50000;
	c.flood_action = MG_FLOOD_COOKIE;
	c.flood_hold_ns = HOUR;
	c.dnsbl_enabled = 1;
	c.syn_interval_ns = 0;
	c.prefix_interval_ns = 0;
	fx_reset(&fx, &c);
	bpf_map_update_elem(fx.g.fd[GM_COOKIE], &zero, &keys, BPF_ANY);
	gate_heartbeat(&fx.g, UINT64_MAX); /* alive: a reject is answered */
	ASSERT_EQ(fx_rule(&fx, GM_DENY, "192.0.2.1", 0), 0, "deny entry");
	ASSERT_EQ(fx_ban(&fx, "192.0.2.2", 0, 0, now), 0, "ban");
	ASSERT_EQ(fx_verdict(&fx, "192.0.2.3", MG_VERDICT_LISTED, now + HOUR), 0, "verdict");
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int got;

		c.reject = rows[i].reject;
		gate_write_config(&fx.g, &c);
		flood_brink(now_boot_ns());
		got = datapath_reason(rows[i].src, 25);
		printf("  %s reject %u: %s, flood mode %u\n", rows[i].src, rows[i].reject, rname(got),
		       flood_mode_now());
		ASSERT_EQ(got, (int)rows[i].reason, "the reason");
		ASSERT_EQ(flood_mode_now(), rows[i].mode, "flood mode after the SYN (1: it was metered)");
	}
	gate_heartbeat(&fx.g, 0);
}

static int setup(void)
{
	char path[PATH_MAX + 16];

	static const char *const lens[] = { "192.0.2.1", "192.0.2.0/24", "2001:db8::1", "2001:db8::/64" };

	if (fx_load(&fx, "rules", 10000))
		return 1;
	/* every prefix length the trials use, published once (fx_reset empties
	 * the sets and keeps them): no list switch, with its grace period, per trial */
	for (int i = 0; i < 4; i++)
		if (fx_rule(&fx, GM_ALLOW, lens[i], 0) || fx_rule(&fx, GM_DENY, lens[i], 0))
			return 1;
	snprintf(path, sizeof(path), "%s/%s", fx.g.pin_dir, gate_map_names[GM_VBITS]);
	vbits_fd = bpf_obj_get(path);
	return vbits_fd < 0;
}

static void teardown(void)
{
	if (vbits_fd >= 0)
		close(vbits_fd);
	fx_unload(&fx);
}

int main(int argc, char **argv)
{
	return test_main(argc, argv, setup, teardown);
}
