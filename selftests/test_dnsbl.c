// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The DNSBL lookup thread against a real rbldnsd on 127.0.0.1, writing
 * verdicts into a real (pinned) data path's verdict map; one case drives the
 * XDP program itself (BPF_PROG_TEST_RUN) from SYN to event to verdict to
 * drop. Timing: lookups on loopback take about a millisecond; every wait
 * below allows 10 s on a loaded machine. */
#include <errno.h>
#include <pthread.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <json-c/json.h>
#include "test.h"
#include "dnsbl_lab.h"
#include "fixture.h"
#include "cli.h"

__attribute__((weak)) struct mg_opts opts; /* where no linked object defines it */

static struct lab lab;
static struct fixture fx;
static char resolvers[64];
static struct dnsbl_stats st;

#define WAIT_NS (10 * NSEC_PER_SEC)

static const char *const zones[] = {
	"a.test:ip4set:a", "b.test:ip4set:b", "wl.test:ip4set:wl", "odd.test:ip4set:odd",
	"v6.test:ip6trie:v6", "any.test:ip4trie:any", "any.test:ip6trie:any6", "ttl.test:ip4set:ttl",
	"flip.test:ip4trie:flip",
	/* one zone made of 12 datasets: a source all of them list gets 12 A
	 * records in one answer, in this order (rbldnsd answers from every
	 * dataset of a zone) */
	"many.test:ip4set:m1", "many.test:ip4set:m2", "many.test:ip4set:m3", "many.test:ip4set:m4",
	"many.test:ip4set:m5", "many.test:ip4set:m6", "many.test:ip4set:m7", "many.test:ip4set:m8",
	"many.test:ip4set:m9", "many.test:ip4set:m10", "many.test:ip4set:m11", "many.test:ip4set:m12",
	NULL,
};

static int setup(void)
{
	if (lab_init(&lab))
		return -1;
	lab_write(&lab, "a", "$TTL 90\n127.0.0.2\n192.0.2.1 :127.0.0.3:\n192.0.2.2 :127.0.0.12:\n"
			     "192.0.2.10\n192.0.2.20\n", 0);
	lab_write(&lab, "b", "$TTL 300\n127.0.0.2\n192.0.2.10\n192.0.2.11\n", 0);
	lab_write(&lab, "wl", ":127.0.10.2:\n127.0.0.2\n192.0.2.20\n", 0);
	lab_write(&lab, "odd", "127.0.0.2\n192.0.2.30 :127.255.255.254:\n192.0.2.31 :127.0.0.255:\n"
			       "192.0.2.32 :192.0.2.99:\n", 0);
	lab_write(&lab, "v6", "::ffff:7f00:2\n2001:db8:1::/48 :127.0.0.5:\n", 0);
	lab_write(&lab, "any", "0.0.0.0/0\n", 0);
	lab_write(&lab, "any6", "::/0\n", 0);
	lab_write(&lab, "ttl", "$TTL 1\n127.0.0.2\n192.0.2.40\n", 0);
	lab_write(&lab, "flip", "0.0.0.0/0\n", 0);
	/* m1..m12: 192.0.2.50 gets 127.0.0.1N for dataset N; 192.0.2.51 the
	 * same, except that dataset 10 answers the refusal code 127.255.255.254 */
	for (int i = 1; i <= 12; i++) {
		char name[8], text[160], code[32];

		snprintf(name, sizeof(name), "m%d", i);
		snprintf(code, sizeof(code), i == 10 ? "127.255.255.254" : "127.0.0.%d", 100 + i);
		snprintf(text, sizeof(text), "127.0.0.2\n192.0.2.50 :127.0.0.%d:\n192.0.2.51 :%s:\n", 100 + i, code);
		lab_write(&lab, name, text, 0);
	}
	if (lab_start(&lab, zones, "a.test")) {
		printf("  cannot start rbldnsd (is it installed?)\n");
		return -1;
	}
	lab_resolvers(&lab, resolvers, sizeof(resolvers));

	return fx_load(&fx, "dnsbl", 4096);
}

static void teardown(void)
{
	fx_unload(&fx);
	lab_stop(&lab);
}

static struct mg_settings *settings(const char *sites)
{
	static struct mg_settings s;

	config_defaults(&s);
	snprintf(s.dnsbl_sites, sizeof(s.dnsbl_sites), "%s", sites);
	snprintf(s.dnsbl_resolvers, sizeof(s.dnsbl_resolvers), "%s", resolvers);
	s.dnsbl_threshold = 3;
	s.dnsbl_allow_threshold = -1;
	s.dnsbl_timeout_ns = NSEC_PER_SEC;
	s.dnsbl_max_inflight = 512;
	s.dnsbl_ttl_min_ns = 60 * NSEC_PER_SEC;
	s.dnsbl_ttl_max_ns = 3600 * NSEC_PER_SEC;
	return &s;
}

static void clear_verdicts(void)
{
	struct mg_addr k;

	while (!bpf_map_get_next_key(fx.g.fd[GM_VERDICT], NULL, &k))
		bpf_map_delete_elem(fx.g.fd[GM_VERDICT], &k);
}

static bool wait_for(struct dnsbl *d, bool (*cond)(void *), void *arg)
{
	uint64_t end = now_boot_ns() + WAIT_NS;

	do {
		dnsbl_stats_get(d, &st);
		if (cond(arg))
			return true;
		usleep(2000);
	} while (now_boot_ns() < end);
	return false;
}

static bool is_ready(void *arg)
{
	return st.ready;
}

static bool done_n(void *arg)
{
	return st.lookups_done + st.fresh >= *(uint64_t *)arg;
}

static struct dnsbl *start(struct mg_settings *s, const struct dnsbl_tuning *t)
{
	struct dnsbl *d;

	clear_verdicts();
	d = dnsbl_start_tuned(s, &fx.g, t);
	if (!ASSERT_TRUE(d != NULL, "dnsbl_start"))
		return NULL;
	if (!ASSERT_TRUE(wait_for(d, is_ready, NULL), "self-tests done")) {
		dnsbl_stop(d);
		return NULL;
	}
	return d;
}

static void submit(struct dnsbl *d, const char *ip)
{
	struct mg_addr a;

	parse_addr(ip, &a);
	dnsbl_submit(d, &a);
}

/* submit and wait for the lookup to finish */
static bool look(struct dnsbl *d, const char *ip)
{
	uint64_t want;

	dnsbl_stats_get(d, &st);
	want = st.lookups_done + st.fresh + 1;
	submit(d, ip);
	return ASSERT_TRUE(wait_for(d, done_n, &want), ip);
}

static bool verdict(const char *ip, struct mg_verdict *v)
{
	struct mg_addr a;

	parse_addr(ip, &a);
	return !bpf_map_lookup_elem(fx.g.fd[GM_VERDICT], &a, v);
}

/* the verdict of ip: state, score, and its expiry within [lo_s, hi_s] from now */
static void expect(const char *ip, uint32_t state, int score, int lo_s, int hi_s)
{
	struct mg_verdict v;
	char what[128];
	int64_t left;

	snprintf(what, sizeof(what), "%s verdict", ip);
	if (!ASSERT_TRUE(verdict(ip, &v), what))
		return;
	snprintf(what, sizeof(what), "%s state (1 clean, 2 listed, 3 allowed)", ip);
	ASSERT_EQ(v.state, state, what);
	snprintf(what, sizeof(what), "%s score", ip);
	ASSERT_EQ(v.score, score, what);
	left = ((int64_t)v.expires_ns - (int64_t)now_boot_ns()) / (int64_t)NSEC_PER_SEC;
	snprintf(what, sizeof(what), "%s expires in (s)", ip);
	ASSERT_RANGE(left, lo_s, hi_s, what);
}

static char *metrics(struct dnsbl *d)
{
	static char *buf;
	size_t len;
	FILE *f;

	free(buf);
	buf = NULL;
	f = open_memstream(&buf, &len);
	dnsbl_metrics_write(d, f);
	fclose(f);
	return buf;
}

#define ASSERT_HAS(text, needle) \
	ASSERT_HAS_SUBSTR(text, needle, "metrics have: " needle)

TEST(listed_and_unlisted)
{
	struct dnsbl *d = start(settings("a.test=127.0.0.[2..11]*3"), NULL);

	if (!d)
		return;
	look(d, "192.0.2.1");    /* 127.0.0.3, TTL 90 */
	look(d, "198.51.100.1"); /* NXDOMAIN: ttl_min */
	look(d, "192.0.2.2");    /* 127.0.0.12: outside the filter */
	expect("192.0.2.1", MG_VERDICT_LISTED, 3, 80, 90);
	expect("198.51.100.1", MG_VERDICT_CLEAN, 0, 50, 60);
	expect("192.0.2.2", MG_VERDICT_CLEAN, 0, 50, 90);
	dnsbl_stats_get(d, &st);
	ASSERT_EQ(st.results[DR_LISTED], 1, "listed answers");
	ASSERT_EQ(st.results[DR_NXDOMAIN], 1, "nxdomain answers");
	ASSERT_EQ(st.results[DR_CLEAN], 1, "clean answers");
	dnsbl_stop(d);
}

TEST(weights_add_up_to_threshold)
{
	struct dnsbl *d = start(settings("a.test*2, b.test*1"), NULL);

	if (!d)
		return;
	look(d, "192.0.2.10"); /* in both */
	look(d, "192.0.2.11"); /* b only */
	look(d, "192.0.2.1");  /* a only */
	expect("192.0.2.10", MG_VERDICT_LISTED, 3, 80, 90); /* min of the zones' TTLs */
	expect("192.0.2.11", MG_VERDICT_CLEAN, 1, 50, 60);
	expect("192.0.2.1", MG_VERDICT_CLEAN, 2, 50, 60);
	dnsbl_stop(d);
}

TEST(dnswl_outweighs_listing)
{
	struct dnsbl *d = start(settings("a.test*3, wl.test=127.0.[0..255].[1..3]*-5"), NULL);

	if (!d)
		return;
	look(d, "192.0.2.20"); /* a: +3, wl: -5 */
	look(d, "192.0.2.1");  /* a only */
	expect("192.0.2.20", MG_VERDICT_ALLOWED, -2, 1, 3600);
	expect("192.0.2.1", MG_VERDICT_LISTED, 3, 1, 3600);
	dnsbl_stop(d);
}

TEST(refusal_codes_never_count)
{
	struct dnsbl *d = start(settings("odd.test*5"), NULL);
	char *m;

	char logf[] = "/tmp/mgt-dnsbl-log.XXXXXX", ln[512];
	int fd, saved, lines = 0;
	FILE *f;

	if (!d)
		return;
	/* the warnings, to a file: one per zone per minute */
	fd = mkstemp(logf);
	saved = dup(2);
	dup2(fd, 2);
	log_level = LOG_LVL_WARN;
	look(d, "192.0.2.30"); /* 127.255.255.254 */
	look(d, "192.0.2.31"); /* 127.0.0.255 */
	look(d, "192.0.2.32"); /* 192.0.2.99: not a DNSBL answer */
	log_level = LOG_LVL_ERROR;
	dup2(saved, 2);
	close(saved);
	f = fdopen(fd, "r");
	rewind(f);
	while (fgets(ln, sizeof(ln), f))
		lines += strstr(ln, "zone=odd.test") && strstr(ln, "refusal code") &&
			 strstr(ln, "127.255.255.254");
	fclose(f);
	unlink(logf);
	ASSERT_EQ(lines, 1, "one warning for three bad answers within a minute");
	expect("192.0.2.30", MG_VERDICT_CLEAN, 0, 50, 60);
	expect("192.0.2.31", MG_VERDICT_CLEAN, 0, 50, 60);
	expect("192.0.2.32", MG_VERDICT_CLEAN, 0, 50, 60);
	dnsbl_stats_get(d, &st);
	ASSERT_EQ(st.results[DR_REFUSAL_CODE], 2, "refusal codes counted");
	ASSERT_EQ(st.results[DR_GARBAGE], 1, "outside 127/8 counted");
	ASSERT_EQ(st.results[DR_LISTED], 0, "nothing listed");
	m = metrics(d);
	ASSERT_HAS(m, "mailgate_dnsbl_queries_total{zone=\"odd.test\",result=\"refusal_code\"} 2\n");
	ASSERT_HAS(m, "mailgate_dnsbl_queries_total{zone=\"odd.test\",result=\"garbage\"} 1\n");
	dnsbl_stop(d);
}

/* Every A record of an answer counts: a filter that matches only the 11th of
 * 12 records lists the source; a refusal code in the 10th makes the whole
 * answer an error, never listed, although the first 8 would score. */
TEST(every_a_record_considered)
{
	struct dnsbl_answer a;
	struct dnsbl *d;

	lab_query(lab.port, "50.2.0.192.many.test", &a);
	if (!ASSERT_EQ(a.n, 12, "rbldnsd gives 12 A records for 192.0.2.50"))
		return;
	lab_query(lab.port, "51.2.0.192.many.test", &a);
	ASSERT_EQ(a.result, DR_REFUSAL_CODE, "a refusal code in record 10 taints the answer");
	ASSERT_EQ(a.bad, 0x7fffff00 | 254, "the refusal code is the one named");

	d = start(settings("many.test=127.0.0.111*3"), NULL);
	if (!d)
		return;
	look(d, "192.0.2.50");
	expect("192.0.2.50", MG_VERDICT_LISTED, 3, 50, 3600);
	dnsbl_stop(d);

	d = start(settings("many.test*3"), NULL);
	if (!d)
		return;
	look(d, "192.0.2.51");
	expect("192.0.2.51", MG_VERDICT_CLEAN, 0, 50, 60);
	dnsbl_stats_get(d, &st);
	ASSERT_EQ(st.results[DR_REFUSAL_CODE], 1, "counted as a refusal code");
	ASSERT_EQ(st.results[DR_LISTED], 0, "never listed");
	dnsbl_stop(d);
}

TEST(ipv6_source_in_ip6trie_zone)
{
	struct dnsbl *d = start(settings("v6.test*3"), NULL);
	uint64_t before;

	if (!d)
		return;
	dnsbl_stats_get(d, &st);
	ASSERT_TRUE(!st.ok4[0], "ip6trie zone fails the IPv4 self-test");
	ASSERT_TRUE(st.ok6[0], "... and passes the IPv6 one");
	ASSERT_TRUE(!st.suspended[0], "not suspended");
	look(d, "2001:db8:1::5");
	look(d, "2001:db8:2::1");
	expect("2001:db8:1::5", MG_VERDICT_LISTED, 3, 1, 3600);
	expect("2001:db8:2::1", MG_VERDICT_CLEAN, 0, 50, 60);
	dnsbl_stats_get(d, &st);
	before = st.results[DR_LISTED] + st.results[DR_NXDOMAIN];
	look(d, "192.0.2.1"); /* IPv4: the zone is not asked */
	dnsbl_stats_get(d, &st);
	ASSERT_EQ(st.results[DR_LISTED] + st.results[DR_NXDOMAIN], before, "no IPv4 query");
	expect("192.0.2.1", MG_VERDICT_CLEAN, 0, 50, 60);
	dnsbl_stop(d);
}

TEST(zone_listing_everything_is_suspended)
{
	struct dnsbl *d = start(settings("any.test*5, a.test*3"), NULL);
	char *m;

	if (!d)
		return;
	dnsbl_stats_get(d, &st);
	ASSERT_TRUE(st.suspended[0], "any.test suspended");
	ASSERT_TRUE(!st.suspended[1], "a.test in use");
	look(d, "198.51.100.1");
	look(d, "192.0.2.1");
	expect("198.51.100.1", MG_VERDICT_CLEAN, 0, 50, 60); /* any.test would say 5 */
	expect("192.0.2.1", MG_VERDICT_LISTED, 3, 1, 90);
	m = metrics(d);
	ASSERT_HAS(m, "mailgate_dnsbl_zone_suspended{zone=\"any.test\"} 1\n");
	ASSERT_HAS(m, "mailgate_dnsbl_zone_suspended{zone=\"a.test\"} 0\n");
	ASSERT_HAS(m, "mailgate_dnsbl_selftests_total{zone=\"any.test\",family=\"ipv4\",result=\"fail\"} 1\n");
	ASSERT_HAS(m, "mailgate_dnsbl_queries_total{zone=\"any.test\",result=\"listed\"} 0\n");
	dnsbl_stop(d);
}

TEST(suspended_zone_resumes_when_it_passes)
{
	struct dnsbl_tuning t;
	struct mg_addr a;
	struct dnsbl *d;

	dnsbl_default_tuning(&t);
	t.selftest_retry_ns = NSEC_PER_SEC / 4;
	d = start(settings("flip.test*3"), &t);
	if (!d)
		return;
	dnsbl_stats_get(d, &st);
	ASSERT_TRUE(st.suspended[0], "lists everything: suspended");
	look(d, "192.0.2.50");
	expect("192.0.2.50", MG_VERDICT_CLEAN, 0, 50, 60);
	/* the operator fixes the zone */
	lab_write(&lab, "flip", "127.0.0.2/32\n192.0.2.50/32\n", 2);
	kill(lab.pid, SIGHUP);
	for (int i = 0; i < 1000 && st.suspended[0]; i++) {
		usleep(10000);
		dnsbl_stats_get(d, &st);
	}
	ASSERT_TRUE(!st.suspended[0], "resumed");
	ASSERT_TRUE(st.ok4[0], "serves IPv4");
	parse_addr("192.0.2.50", &a);
	bpf_map_delete_elem(fx.g.fd[GM_VERDICT], &a);
	look(d, "192.0.2.50");
	expect("192.0.2.50", MG_VERDICT_LISTED, 3, 1, 3600);
	ASSERT_HAS(metrics(d), "mailgate_dnsbl_zone_suspended{zone=\"flip.test\"} 0\n");
	dnsbl_stop(d);
}

/* a "resolver" that reads nothing and answers nothing */
static int silent_udp(char *res, size_t len)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl))
		return -1;
	snprintf(res, len, "127.0.0.1:%d", ntohs(sa.sin_port));
	return fd;
}

TEST(dead_resolver_fails_open)
{
	struct dnsbl_tuning t;
	struct mg_settings *s = settings("a.test*3");
	struct dnsbl *d;
	uint64_t want = 4;
	int fd;

	fd = silent_udp(s->dnsbl_resolvers, sizeof(s->dnsbl_resolvers));
	if (!ASSERT_TRUE(fd >= 0, "silent socket"))
		return;
	s->dnsbl_timeout_ns = NSEC_PER_SEC / 2;
	dnsbl_default_tuning(&t);
	t.queue_len = 4;
	clear_verdicts();
	d = dnsbl_start_tuned(s, &fx.g, &t);
	if (!ASSERT_TRUE(d != NULL, "start")) {
		close(fd);
		return;
	}
	/* the self-test takes the timeout: sources wait in a queue of 4 */
	for (int i = 1; i <= 10; i++) {
		char ip[32];

		snprintf(ip, sizeof(ip), "192.0.2.%d", i);
		submit(d, ip);
	}
	dnsbl_stats_get(d, &st);
	ASSERT_EQ(st.dropped, 6, "queue full: dropped and counted");
	ASSERT_TRUE(wait_for(d, is_ready, NULL), "self-test finished");
	ASSERT_TRUE(wait_for(d, done_n, &want), "queued sources done");
	dnsbl_stats_get(d, &st);
	ASSERT_TRUE(st.suspended[0], "dead zone suspended");
	ASSERT_EQ(st.verdicts[MG_VERDICT_LISTED], 0, "nobody listed");
	expect("192.0.2.1", MG_VERDICT_CLEAN, 0, 50, 60); /* fail-open, short verdict */
	ASSERT_HAS(metrics(d), "mailgate_dnsbl_submissions_dropped_total 6\n");
	dnsbl_stop(d);
	close(fd);
}

TEST(timeouts_counted_and_backed_off)
{
	struct dnsbl_tuning t;
	struct mg_settings *s = settings("a.test*3");
	struct dnsbl *d;
	char *m;

	s->dnsbl_timeout_ns = NSEC_PER_SEC / 2;
	dnsbl_default_tuning(&t);
	t.backoff_after = 2;
	t.backoff_base_ns = 30 * NSEC_PER_SEC;
	d = start(s, &t);
	if (!d)
		return;
	kill(lab.pid, SIGSTOP); /* the server stops answering */
	look(d, "192.0.2.1");
	look(d, "192.0.2.10");
	look(d, "192.0.2.20"); /* zone backed off: not asked */
	kill(lab.pid, SIGCONT);
	dnsbl_stats_get(d, &st);
	ASSERT_EQ(st.results[DR_TIMEOUT], 2, "timeouts counted");
	ASSERT_EQ(st.verdicts[MG_VERDICT_LISTED], 0, "fail-open: nobody listed");
	expect("192.0.2.1", MG_VERDICT_CLEAN, 0, 50, 60);
	expect("192.0.2.20", MG_VERDICT_CLEAN, 0, 50, 60);
	m = metrics(d);
	ASSERT_HAS(m, "mailgate_dnsbl_queries_total{zone=\"a.test\",result=\"timeout\"} 2\n");
	ASSERT_HAS(m, "mailgate_dnsbl_zone_backoff{zone=\"a.test\"} 1\n");
	ASSERT_HAS(m, "mailgate_dnsbl_skipped_total{zone=\"a.test\"} 1\n");
	dnsbl_stop(d);
}

TEST(ttl_expiry_and_requery)
{
	struct mg_settings *s = settings("ttl.test*3");
	struct dnsbl_answer a;
	struct mg_verdict v;
	struct dnsbl *d;

	s->dnsbl_ttl_min_ns = NSEC_PER_SEC;
	d = start(s, NULL);
	if (!d)
		return;
	look(d, "192.0.2.40");
	expect("192.0.2.40", MG_VERDICT_LISTED, 3, 0, 1);
	/* delisted at the source */
	lab_write(&lab, "ttl", "$TTL 1\n127.0.0.2\n", 2);
	kill(lab.pid, SIGHUP);
	for (int i = 0; i < 100; i++) {
		lab_query(lab.port, "40.2.0.192.ttl.test", &a);
		if (a.result == DR_NXDOMAIN)
			break;
		usleep(50000);
	}
	ASSERT_EQ(a.result, DR_NXDOMAIN, "rbldnsd reloaded");
	/* a fresh verdict is not asked again ... */
	if (verdict("192.0.2.40", &v) && v.expires_ns > now_boot_ns() + NSEC_PER_SEC / 5) {
		look(d, "192.0.2.40");
		dnsbl_stats_get(d, &st);
		ASSERT_EQ(st.fresh, 1, "fresh verdict: no new query");
	}
	/* ... an expired one is */
	while (verdict("192.0.2.40", &v) && v.expires_ns > now_boot_ns())
		usleep(20000);
	look(d, "192.0.2.40");
	expect("192.0.2.40", MG_VERDICT_CLEAN, 0, 0, 1);
	lab_write(&lab, "ttl", "$TTL 1\n127.0.0.2\n192.0.2.40\n", 4);
	kill(lab.pid, SIGHUP);
	dnsbl_stop(d);
}

TEST(max_inflight_caps_queries)
{
	struct mg_settings *s = settings("a.test*3, b.test*1");
	struct dnsbl *d;
	uint64_t want = 200;

	s->dnsbl_max_inflight = 2;
	d = start(s, NULL);
	if (!d)
		return;
	for (int i = 0; i < 200; i++) {
		char ip[32];

		snprintf(ip, sizeof(ip), "198.51.100.%d", i);
		submit(d, ip);
	}
	ASSERT_TRUE(wait_for(d, done_n, &want), "200 lookups");
	dnsbl_stats_get(d, &st);
	ASSERT_RANGE(st.inflight_peak, 1, 2, "queries in flight");
	ASSERT_EQ(st.results[DR_NXDOMAIN], 400, "two zones each");
	dnsbl_stop(d);
}

TEST(reload_adds_a_zone)
{
	struct dnsbl *d = start(settings("a.test*2"), NULL);
	uint64_t rounds;

	if (!d)
		return;
	look(d, "192.0.2.10");
	expect("192.0.2.10", MG_VERDICT_CLEAN, 2, 1, 3600);
	clear_verdicts();
	dnsbl_stats_get(d, &st);
	rounds = st.selftests_done;
	ASSERT_OK(dnsbl_reload(d, settings("a.test*2, b.test*1")), "reload");
	for (int i = 0; i < 500 && (st.n_zones != 2 || !st.ready || st.selftests_done < rounds + 2); i++) {
		usleep(10000);
		dnsbl_stats_get(d, &st);
	}
	ASSERT_EQ(st.n_zones, 2, "zones after reload");
	look(d, "192.0.2.10");
	expect("192.0.2.10", MG_VERDICT_LISTED, 3, 1, 3600);
	ASSERT_EQ(dnsbl_reload(d, settings("a.test*")), -EINVAL, "a bad reload is refused");
	dnsbl_stop(d);
}

TEST(cache_for_lookup)
{
	struct dnsbl *d = start(settings("a.test=127.0.0.[2..11]*3, b.test*1"), NULL);
	struct json_object *arr = json_object_new_array();
	struct mg_addr a;
	int n;

	if (!d)
		return;
	look(d, "192.0.2.1");
	parse_addr("192.0.2.1", &a);
	n = dnsbl_cached(fx.g.pin_dir, &a, arr);
	ASSERT_EQ(n, 2, "two zones cached");
	for (int i = 0; i < n; i++) {
		struct json_object *o = json_object_array_get_idx(arr, i), *x;
		const char *zone;

		json_object_object_get_ex(o, "zone", &x);
		zone = json_object_get_string(x);
		if (!strcmp(zone, "a.test")) {
			json_object_object_get_ex(o, "answer", &x);
			ASSERT_STREQ(json_object_get_string(x), "127.0.0.3", "a.test answer");
			json_object_object_get_ex(o, "listed", &x);
			ASSERT_TRUE(json_object_get_boolean(x), "a.test listed");
			json_object_object_get_ex(o, "weight", &x);
			ASSERT_EQ(json_object_get_int(x), 3, "a.test weight");
			json_object_object_get_ex(o, "expires_in_s", &x);
			ASSERT_RANGE(json_object_get_int(x), 80, 90, "a.test expiry");
		} else {
			json_object_object_get_ex(o, "result", &x);
			ASSERT_STREQ(json_object_get_string(x), "nxdomain", "b.test nxdomain");
		}
	}
	json_object_put(arr);
	arr = json_object_new_array();
	parse_addr("192.0.2.99", &a);
	ASSERT_EQ(dnsbl_cached(fx.g.pin_dir, &a, arr), 0, "unknown source");
	ASSERT_EQ(dnsbl_cached("/nonexistent", &a, arr), 0, "no cache");
	json_object_put(arr);
	dnsbl_stop(d);
}

TEST(metrics_text)
{
	struct dnsbl *d = start(settings("a.test*3"), NULL);
	char *m;

	if (!d)
		return;
	look(d, "192.0.2.1");
	m = metrics(d);
	ASSERT_HAS(m, "# HELP mailgate_dnsbl_queries_total ");
	ASSERT_HAS(m, "# TYPE mailgate_dnsbl_queries_total counter\n");
	ASSERT_HAS(m, "mailgate_dnsbl_queries_total{zone=\"a.test\",result=\"listed\"} 1\n");
	ASSERT_HAS(m, "# TYPE mailgate_dnsbl_query_seconds histogram\n");
	ASSERT_HAS(m, "mailgate_dnsbl_query_seconds_bucket{zone=\"a.test\",le=\"+Inf\"} 1\n");
	ASSERT_HAS(m, "mailgate_dnsbl_query_seconds_count{zone=\"a.test\"} 1\n");
	ASSERT_HAS(m, "# TYPE mailgate_dnsbl_zone_suspended gauge\n");
	ASSERT_HAS(m, "mailgate_dnsbl_verdicts_total{verdict=\"listed\"} 1\n");
	ASSERT_HAS(m, "mailgate_dnsbl_verdict_seconds_count 1\n");
	dnsbl_stop(d);
}

/* ---- from the XDP program's event to its drop ---- */

/* Hand the DNSBL query event of the last SYN to the DNSBL thread, as the
 * daemon does: how many came (one SYN raises at most one) */
static int hand_over(struct dnsbl *d)
{
	int before = fx.events[MG_EVENT_DNSBL_QUERY], n;
	const struct mg_event *e = &fx.last[MG_EVENT_DNSBL_QUERY];

	fx_drain(&fx);
	n = fx.events[MG_EVENT_DNSBL_QUERY] - before;
	if (n)
		dnsbl_submit_ts(d, &e->addr, e->ts_ns);
	return n;
}

static int syn(const char *src)
{
	return fx_syn(&fx, src, 25);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

TEST(xdp_event_to_verdict_to_drop)
{
	struct mg_settings *s = settings("a.test=127.0.0.[2..11]*3");
	struct mg_config cfg;
	uint64_t counters[MG_COUNTER_SLOTS], want, lat[256];
	struct dnsbl *d;
	int n = 0;

	gate_default_config(&cfg);
	cfg.dnsbl_enabled = 1;
	cfg.pending = MG_PENDING_PASS;
	cfg.syn_interval_ns = 0;       /* no rate limits in the way */
	cfg.prefix_interval_ns = 0;
	memset(cfg.max_concurrent, 0, sizeof(cfg.max_concurrent));
	if (!ASSERT_OK(gate_write_config(&fx.g, &cfg), "config"))
		return;
	/* this test drains the ring buffer: the controller, alive throughout */
	ASSERT_OK(gate_heartbeat(&fx.g, UINT64_MAX), "heartbeat");
	{
		static uint8_t ports[65536];

		gate_default_ports(ports);
		ASSERT_OK(gate_write_ports(&fx.g, ports), "ports");
	}
	d = start(s, NULL);
	if (!d)
		return;
	fx_drain(&fx); /* nothing old */

	ASSERT_EQ(syn("192.0.2.1"), XDP_PASS, "first SYN passes (pending = pass)");
	ASSERT_EQ(hand_over(d), 1, "one event");
	want = 1;
	ASSERT_TRUE(wait_for(d, done_n, &want), "lookup");
	ASSERT_EQ(syn("192.0.2.1"), XDP_DROP, "listed source: next SYN dropped");
	ASSERT_EQ(syn("198.51.100.1"), XDP_PASS, "unlisted source passes");
	hand_over(d);
	want = 2;
	ASSERT_TRUE(wait_for(d, done_n, &want), "lookup 2");
	ASSERT_EQ(syn("198.51.100.1"), XDP_PASS, "clean source still passes");
	ASSERT_EQ(hand_over(d), 0, "no event for a known source");
	gate_read_counters(&fx.g, counters);
	ASSERT_EQ(counters[MG_COUNTER_IDX(MG_REASON_DROP_DNSBL, MG_CLASS_SMTP)], 1, "drop_dnsbl");

	/* latency: one source at a time, SYN -> event -> ... -> verdict in the map */
	for (int i = 1; i <= 250; i++) {
		char ip[32];

		snprintf(ip, sizeof(ip), "203.0.113.%d", i);
		want = 2 + i;
		if (syn(ip) != XDP_PASS || hand_over(d) != 1 || !wait_for(d, done_n, &want))
			break;
		n = i;
	}
	ASSERT_EQ(n, 250, "250 sources");
	dnsbl_stats_get(d, &st);
	for (int i = 0; i < n; i++)
		lat[i] = st.lat[st.n_lat - n + i];
	qsort(lat, n, sizeof(lat[0]), cmp_u64);
	if (n)
		printf("  event-to-verdict latency (n=%d, one at a time): median %.3f ms, p99 %.3f ms, max %.3f ms\n",
		       n, lat[n / 2] / 1e6, lat[n * 99 / 100] / 1e6, lat[n - 1] / 1e6);
	dnsbl_stop(d);
	cfg.dnsbl_enabled = 0;
	gate_write_config(&fx.g, &cfg);
}

int main(int argc, char **argv)
{
	if (geteuid() != 0) {
		printf("SKIP test_dnsbl:all: needs root (BPF maps)\n");
		return 0;
	}
	log_level = LOG_LVL_ERROR;
	return test_main(argc, argv, setup, teardown);
}
