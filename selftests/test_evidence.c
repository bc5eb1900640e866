// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Bans need evidence (docs/datapath.md): forged SYNs are dropped by the
 * quotas but never ban, escalate or evict; a real abuser is still banned.
 * The data path with BPF_PROG_TEST_RUN on crafted frames; what the TCP
 * state tracer would record for real handshakes is written as it would
 * (fx_evidence, fx_verified). Real handshakes: test_conn.c. Loaded with a
 * small max_sources (mg_src 1000, mg_ban_quota 250) so that LRU churn is
 * quick to cause. */
#include "test.h"
#include "fixture.h"
#include "flood_counts.h"

#define MAX_SOURCES 1000
static struct fixture fx;

static int syn(const char *src, uint16_t dport)
{
	return fx_syn(&fx, src, dport);
}

/* a source that completed a handshake: mg_verified and its filter bit */
static int fx_verified(const char *src)
{
	struct mg_addr a = fx_addr(src);
	uint64_t now = now_boot_ns(), w = 0;
	uint32_t bit = mg_vbit(&a), idx = bit / 64;
	char path[PATH_MAX + 16];
	int fd;

	if (bpf_map_update_elem(fx.g.fd[GM_VERIFIED], &a, &now, BPF_ANY))
		return -errno;
	snprintf(path, sizeof(path), "%s/%s", fx.g.pin_dir, gate_map_names[GM_VBITS]);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	bpf_map_lookup_elem(fd, &idx, &w);
	w |= 1ULL << (bit % 64);
	bpf_map_update_elem(fd, &idx, &w, BPF_ANY);
	close(fd);
	return 0;
}

/* fx_evidence, with `earlier` of the SYNs that passed so far in the window */
static int evidence(const char *src, uint32_t handshakes, uint64_t earlier)
{
	struct mg_addr a = fx_addr(src);
	struct mg_src s;
	int err = fx_evidence(&fx, src, handshakes);

	if (err || bpf_map_lookup_elem(fx.g.fd[GM_SRC], &a, &s))
		return err ? err : -errno;
	s.passed_base -= earlier;
	return bpf_map_update_elem(fx.g.fd[GM_SRC], &a, &s, BPF_ANY) ? -errno : 0;
}

/* banned in either map (active or remembered) */
static bool has_ban(const char *src)
{
	struct mg_addr a = fx_addr(src);
	struct mg_ban b;

	return !bpf_map_lookup_elem(fx.g.fd[GM_BAN], &a, &b) || !bpf_map_lookup_elem(fx.g.fd[GM_BAN_QUOTA], &a, &b);
}

static long entries(enum gate_map m)
{
	return map_count(fx.g.fd[m], NULL);
}

static uint64_t events_lost(void)
{
	struct mg_global gl;

	flood_global(&fx.g, &gl);
	return gl.events_lost;
}

/* An MTA that completed 2 handshakes a minute ago (it is verified, and its
 * own SYNs are few); then 30 SYNs forged from its address: the first 20
 * pass (syn_burst), 10 are drop_rate, and none bans it (today's main: banned
 * after 5, ban_after). */
TEST(forged_exact_address_no_ban)
{
	struct mg_config cfg;
	int drops = 0;

	fx_config(&cfg);
	fx_reset(&fx, &cfg);
	ASSERT_EQ(syn("192.0.2.10", 25), XDP_PASS, "the MTA's own SYN");
	ASSERT_OK(fx_verified("192.0.2.10"), "verified");
	ASSERT_OK(fx_evidence(&fx, "192.0.2.10", 2), "two handshakes");
	for (int i = 0; i < 30; i++)
		drops += syn("192.0.2.10", 25) == XDP_DROP;
	ASSERT_EQ(drops, 11, "forged SYNs over the burst dropped (20 of 21 tokens used)");
	ASSERT_EQ(fx_count(&fx, MG_REASON_DROP_RATE, MG_CLASS_SMTP), 11, "as drop_rate");
	ASSERT_TRUE(!has_ban("192.0.2.10"), "not banned");
	fx_drain(&fx);
	ASSERT_EQ(fx.events[MG_EVENT_BAN], 0, "no ban event");
	/* 400 more, at any pace: still no ban, nothing escalates */
	for (int i = 0; i < 400; i++)
		syn("192.0.2.10", 25);
	ASSERT_TRUE(!has_ban("192.0.2.10"), "not banned after 430");
	ASSERT_EQ(entries(GM_BAN_QUOTA), 0, "no quota ban at all");
}

/* Enough handshakes, but most of the SYNs that passed never completed one
 * (forged on top of a busy real source): no ban. The same counts with the
 * passed SYNs completing (a real abuser): banned. */
TEST(evidence_ratio)
{
	struct mg_config cfg;

	fx_config(&cfg);
	fx_reset(&fx, &cfg);
	/* its own 10 SYNs this minute completed (the bucket refilled since) */
	for (int i = 0; i < 10; i++)
		ASSERT_EQ(syn("198.51.100.7", 25), XDP_PASS, "its own SYNs");
	ASSERT_OK(evidence("198.51.100.7", cfg.ban_evidence, 10), "ban_evidence handshakes");
	{
		struct mg_addr a = fx_addr("198.51.100.7");
		struct mg_src s;

		bpf_map_lookup_elem(fx.g.fd[GM_SRC], &a, &s);
		memset(s.tat_ns, 0, sizeof(s.tat_ns));
		bpf_map_update_elem(fx.g.fd[GM_SRC], &a, &s, BPF_ANY);
	}
	for (int i = 0; i < 40; i++)
		syn("198.51.100.7", 25); /* 20 forged pass, 20 drop */
	ASSERT_TRUE(!has_ban("198.51.100.7"), "10 handshakes of 30 passed SYNs: no ban");

	/* the real abuser: every SYN that passed completed a handshake */
	for (int i = 0; i < 20; i++)
		ASSERT_EQ(syn("198.51.100.8", 25), XDP_PASS, "abuser's burst");
	ASSERT_OK(evidence("198.51.100.8", 20, 20), "20 handshakes for its 20 passed SYNs");
	for (int i = 0; i < 5; i++)
		ASSERT_EQ(syn("198.51.100.8", 25), XDP_DROP, "over the quota");
	ASSERT_TRUE(has_ban("198.51.100.8"), "the real abuser is banned");
	ASSERT_EQ(syn("198.51.100.8", 25), XDP_DROP, "banned");
	ASSERT_EQ(fx_count(&fx, MG_REASON_DROP_BAN, MG_CLASS_SMTP), 1, "as drop_ban");
}

/* 1500 SYNs forged from random addresses of 203.0.113.0/24 (not .25): they
 * empty the /24's unverified bucket (prefix_burst 200) and none is banned;
 * the verified neighbour 203.0.113.25 keeps its bucket and passes. Today's
 * main: the neighbour's SYN is drop_prefix_rate and the /24 collects bans. */
TEST(forged_prefix_flood_verified_neighbour)
{
	struct mg_config cfg;
	char src[32];
	int drops = 0;

	fx_config(&cfg);
	fx_reset(&fx, &cfg);
	ASSERT_EQ(syn("203.0.113.25", 25), XDP_PASS, "the neighbour's own SYN");
	ASSERT_OK(fx_verified("203.0.113.25"), "verified");
	ASSERT_OK(fx_evidence(&fx, "203.0.113.25", 1), "one handshake");
	srand(9);
	for (int i = 0; i < 1500; i++) {
		int host = rand() % 254 + 1;

		if (host == 25)
			host = 26;
		snprintf(src, sizeof(src), "203.0.113.%d", host);
		drops += syn(src, 25) == XDP_DROP;
	}
	ASSERT_RANGE(drops, 1200, 1320, "forged SYNs over the prefix budget dropped");
	printf("  %d of 1500 forged SYNs dropped (drop_prefix_rate %llu, drop_rate %llu)\n", drops,
	       (unsigned long long)fx_count(&fx, MG_REASON_DROP_PREFIX_RATE, MG_CLASS_SMTP),
	       (unsigned long long)fx_count(&fx, MG_REASON_DROP_RATE, MG_CLASS_SMTP));
	ASSERT_EQ(entries(GM_BAN_QUOTA) + entries(GM_BAN), 0, "no ban");
	for (int i = 0; i < 5; i++)
		ASSERT_EQ(syn("203.0.113.25", 25), XDP_PASS, "the verified neighbour passes");
	ASSERT_EQ(fx_count(&fx, MG_REASON_PASS_OK, MG_CLASS_SMTP) >= 6, 1, "as pass_ok");
}

/* LRU churn: 3000 forged over-quota sources (more than mg_src holds, 12x
 * mg_ban_quota) against an operator's permanent ban (mg_ban) and a quota
 * ban (mg_ban_quota): both stay, the banned sources' next SYN is dropped,
 * and no forged source is banned. Today's main: each forged source is
 * banned, mg_ban (LRU) evicts both. */
TEST(lru_churn_keeps_bans)
{
	struct mg_config cfg;
	struct mg_addr op = fx_addr("192.0.2.66"), qa = fx_addr("192.0.2.77");
	struct mg_ban b = { .origin = MG_ORIGIN_CLI, .created_ns = now_boot_ns() }, q, got;
	char src[64];

	fx_config(&cfg);
	cfg.syn_burst = 1;
	cfg.syn_interval_ns = 3600 * NSEC_PER_SEC;
	cfg.prefix_interval_ns = 0;
	cfg.flood_interval_ns = 0; /* 21000 SYNs in a blink: not a flood-mode test */
	fx_reset(&fx, &cfg);
	q = (struct mg_ban){ .origin = MG_ORIGIN_QUOTA, .created_ns = now_boot_ns(),
			     .expires_ns = now_boot_ns() + 600 * NSEC_PER_SEC };
	ASSERT_OK(bpf_map_update_elem(fx.g.fd[GM_BAN], &op, &b, BPF_ANY), "operator ban (permanent)");
	ASSERT_OK(bpf_map_update_elem(fx.g.fd[GM_BAN_QUOTA], &qa, &q, BPF_ANY), "quota ban");
	for (int i = 0; i < 3000; i++) {
		snprintf(src, sizeof(src), "2001:db8:f:%x::%x", i / 256, i % 256 + 1);
		for (int k = 0; k < 7; k++) /* 1 passes, 6 violations: over ban_after */
			syn(src, 25);
	}
	ASSERT_RANGE(entries(GM_SRC), MAX_SOURCES / 2, MAX_SOURCES, "mg_src churned (full)");
	ASSERT_OK(bpf_map_lookup_elem(fx.g.fd[GM_BAN], &op, &got), "operator ban still there");
	ASSERT_OK(bpf_map_lookup_elem(fx.g.fd[GM_BAN_QUOTA], &qa, &got), "quota ban still there");
	ASSERT_EQ(entries(GM_BAN_QUOTA), 1, "no forged source banned");
	ASSERT_EQ(entries(GM_BAN), 1, "mg_ban holds the operator's ban only");
	ASSERT_EQ(syn("192.0.2.66", 25), XDP_DROP, "operator-banned source dropped");
	ASSERT_EQ(syn("192.0.2.77", 587), XDP_DROP, "quota-banned source dropped");
	ASSERT_EQ(fx_count(&fx, MG_REASON_DROP_BAN, MG_CLASS_SMTP) + fx_count(&fx, MG_REASON_DROP_BAN, MG_CLASS_SUBMISSION),
		  2, "both as drop_ban");
}

/* Ban events pass the global event budget (here burst 2, 1/s): 5 real
 * abusers banned at once give 5 bans, 2 events and 3 counted as lost.
 * Today's main: 5 events, none lost, whatever the budget. */
TEST(ban_events_under_budget)
{
	struct mg_config cfg;
	char src[32];
	uint64_t lost0;

	fx_config(&cfg);
	cfg.syn_burst = 1;
	cfg.syn_interval_ns = 3600 * NSEC_PER_SEC;
	cfg.ban_after = 2;
	cfg.ban_evidence = 1;
	cfg.event_interval_ns = NSEC_PER_SEC;
	cfg.event_burst = 2;
	fx_reset(&fx, &cfg);
	lost0 = events_lost();
	for (int i = 0; i < 5; i++) {
		snprintf(src, sizeof(src), "192.0.2.%d", 100 + i);
		syn(src, 25);
		fx_evidence(&fx, src, 1);
		syn(src, 25);
		syn(src, 25);
		ASSERT_TRUE(has_ban(src), "banned");
	}
	ASSERT_EQ(entries(GM_BAN_QUOTA), 5, "five bans");
	fx_drain(&fx);
	ASSERT_EQ(fx.events[MG_EVENT_BAN], 2, "two ban events (the budget's burst)");
	ASSERT_EQ(events_lost() - lost0, 3, "three counted as lost");
}

/* A source at its concurrency limit is not banned for it (a full server
 * is not an offence) unless ban_concurrent = yes. Today's main: banned. */
TEST(concurrency_drops_do_not_ban)
{
	struct mg_config cfg;

	fx_config(&cfg);
	fx_reset(&fx, &cfg);
	ASSERT_EQ(syn("192.0.2.30", 143), XDP_PASS, "first SYN");
	ASSERT_OK(fx_evidence(&fx, "192.0.2.30", 20), "a real client");
	ASSERT_OK(fx_conn_set(&fx, "192.0.2.30", MG_CLASS_IMAP, cfg.max_concurrent[MG_CLASS_IMAP]), "at the limit");
	for (int i = 0; i < 10; i++)
		ASSERT_EQ(syn("192.0.2.30", 143), XDP_DROP, "drop_concurrent");
	ASSERT_EQ(fx_count(&fx, MG_REASON_DROP_CONCURRENT, MG_CLASS_IMAP), 10, "counted");
	ASSERT_TRUE(!has_ban("192.0.2.30"), "not banned");

	cfg.ban_concurrent = 1;
	gate_write_config(&fx.g, &cfg);
	for (int i = 0; i < 5; i++)
		syn("192.0.2.30", 143);
	ASSERT_TRUE(has_ban("192.0.2.30"), "banned with ban_concurrent = yes");
}

/* max_concurrent per port class, counted per class: a source with 30 IMAP
 * connections (below imap's 100) still opens IMAP and SMTP; at smtp's limit
 * its SMTP SYN drops and IMAP still passes. */
TEST(max_concurrent_per_class)
{
	struct mg_config cfg;

	fx_config(&cfg);
	fx_reset(&fx, &cfg);
	ASSERT_EQ(cfg.max_concurrent[MG_CLASS_IMAP], 100, "default imap:100");
	ASSERT_EQ(cfg.max_concurrent[MG_CLASS_SMTP], 50, "default smtp:50");
	ASSERT_OK(fx_conn_set(&fx, "2001:db8::30", MG_CLASS_IMAP, 30), "30 IMAP sessions");
	ASSERT_EQ(syn("2001:db8::30", 993), XDP_PASS, "one more IMAP");
	ASSERT_EQ(syn("2001:db8::30", 25), XDP_PASS, "SMTP: its own count");
	ASSERT_OK(fx_conn_set(&fx, "2001:db8::30", MG_CLASS_SMTP, 50), "50 SMTP sessions");
	ASSERT_EQ(syn("2001:db8::30", 25), XDP_DROP, "SMTP at its limit");
	ASSERT_EQ(syn("2001:db8::30", 143), XDP_PASS, "IMAP still passes");
	ASSERT_EQ(fx_count(&fx, MG_REASON_DROP_CONCURRENT, MG_CLASS_SMTP), 1, "one drop_concurrent");
}

static int setup(void)
{
	return fx_load(&fx, "evid", MAX_SOURCES) ? 1 : 0;
}

static void teardown(void)
{
	fx_unload(&fx);
}

int main(int argc, char **argv)
{
	return test_main(argc, argv, setup, teardown);
}
