// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The allow and deny lists (include/lists.h): a property test that builds
 * random list states (prefixes of many lengths, both families, TTLs live,
 * expired and none, exclusions) and random sources, and asserts for each
 * that the data path (BPF_PROG_TEST_RUN), a simple reference (a plain array
 * of prefixes searched linearly here) and `lookup`'s rule (list_match, and
 * the `mailgate lookup` command for a sample) agree; and the replace: a set
 * switched in one step, over capacity changing nothing. */
#include <json-c/json.h>
#include "test.h"
#include "fixture.h"

#define TRIALS 250
#define ADDRS 40  /* per trial: 10,000 cases */
#define MAX_ENT 24

static struct fixture fx;
static char mailgate[PATH_MAX];
static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 11) % n;
}

struct ref {
	struct mg_lpm_key k;
	struct mg_rule r;
	int list;
};

static struct ref ents[2 * MAX_ENT];
static int n_ents;

/* sources near each other, so that prefixes overlap, in blocks of the
 * lists' filter apart (include/lists.h): 192.0.2.0/24, 198.51.100.0/24 and
 * 203.0.113.0/24 mapped (three /16s), 2001:db8::/120, 2001:db8:1::/120 and
 * 3fff::/120 (two /32s). Only through BPF_PROG_TEST_RUN: no frame leaves. */
static void rnd_addr(struct mg_addr *a, int v6)
{
	static const uint8_t v4[3][3] = { { 192, 0, 2 }, { 198, 51, 100 }, { 203, 0, 113 } };

	memset(a, 0, sizeof(*a));
	if (v6) {
		if (rnd(4) == 0) {
			a->a[0] = 0x3f, a->a[1] = 0xff;
		} else {
			a->a[0] = 0x20, a->a[1] = 0x01, a->a[2] = 0x0d, a->a[3] = 0xb8;
			a->a[5] = rnd(2);
		}
		a->a[15] = rnd(256);
		if (rnd(4) == 0)
			a->a[14] = rnd(2);
	} else {
		const uint8_t *b = v4[rnd(3)];

		a->a[10] = a->a[11] = 0xff;
		memcpy(&a->a[12], b, 3);
		a->a[15] = rnd(256);
	}
}

static bool covers(const struct mg_lpm_key *k, const struct mg_addr *a)
{
	for (uint32_t b = 0; b < k->prefixlen; b++)
		if (((k->a[b / 8] ^ a->a[b / 8]) >> (7 - b % 8)) & 1)
			return false;
	return true;
}

/* the reference: the longest active prefix, by a linear search */
static const struct ref *ref_match(int list, const struct mg_addr *a, uint64_t now)
{
	const struct ref *best = NULL;

	for (int i = 0; i < n_ents; i++) {
		const struct ref *e = &ents[i];

		if (e->list != list || (e->r.expires_ns && e->r.expires_ns <= now) || !covers(&e->k, a))
			continue;
		if (!best || e->k.prefixlen > best->k.prefixlen)
			best = e;
	}
	return best;
}

static int ref_reason(const struct mg_addr *a, uint64_t now)
{
	const struct ref *d;

	if (ref_match(MG_LIST_ALLOW, a, now))
		return MG_REASON_PASS_ALLOW;
	d = ref_match(MG_LIST_DENY, a, now);
	if (d && !(d->r.flags & MG_RULE_EXCLUDE))
		return MG_REASON_DROP_DENY;
	return MG_REASON_PASS_OK;
}

static const uint8_t lens4[] = { 96 + 8, 96 + 16, 96 + 22, 96 + 24, 96 + 26, 96 + 28, 96 + 30, 96 + 31, 96 + 32 };
static const uint8_t lens6[] = { 32, 40, 47, 112, 118, 120, 124, 127, 128 };

static void add_entry(int list, uint64_t now)
{
	struct ref e = { .list = list };
	struct mg_addr a;
	int v6 = rnd(2), t = rnd(3);

	rnd_addr(&a, v6);
	/* now and then a prefix too short for one block of the filter (/4, /16) */
	mg_list_key(&e.k, a.a, rnd(40) == 0 ? (v6 ? 16 : 96 + 4)
			       : v6 ? lens6[rnd(sizeof(lens6))] : lens4[rnd(sizeof(lens4))]);
	e.r.prefixlen = e.k.prefixlen;
	e.r.origin = MG_ORIGIN_CLI;
	e.r.expires_ns = t == 0 ? 0 : t == 1 ? now + 3600 * NSEC_PER_SEC : now - NSEC_PER_SEC;
	if (list == MG_LIST_DENY && rnd(4) == 0)
		e.r.flags = MG_RULE_EXCLUDE;
	if (list_put(&fx.g, list, &e.k, &e.r))
		return;
	for (int i = 0; i < n_ents; i++) /* the same prefix again: overwritten */
		if (ents[i].list == list && !memcmp(&ents[i].k, &e.k, sizeof(e.k))) {
			ents[i] = e;
			return;
		}
	ents[n_ents++] = e;
}

static uint64_t slot(int reason)
{
	uint32_t i = MG_COUNTER_IDX(reason, MG_CLASS_SMTP);
	int ncpu = libbpf_num_possible_cpus();
	uint64_t v[ncpu], sum = 0;

	if (bpf_map_lookup_elem(fx.g.fd[GM_COUNTERS], &i, v))
		return 0;
	for (int c = 0; c < ncpu; c++)
		sum += v[c];
	return sum;
}

/* the data path's reason for a SYN from a */
static int datapath_reason(const struct mg_addr *a)
{
	static const int reasons[] = { MG_REASON_PASS_ALLOW, MG_REASON_DROP_DENY, MG_REASON_PASS_OK };
	uint64_t before[3];
	char s[MG_ADDRSTRLEN];
	int got = -1;

	for (int i = 0; i < 3; i++)
		before[i] = slot(reasons[i]);
	fx_syn(&fx, format_addr(a, s, sizeof(s)), 25);
	for (int i = 0; i < 3; i++)
		if (slot(reasons[i]) != before[i])
			got = got < 0 ? reasons[i] : -2;
	return got;
}

/* `mailgate lookup ADDR --json`: its reason */
static int cli_reason(const struct mg_addr *a)
{
	char cmd[3 * PATH_MAX], buf[1 << 16], s[MG_ADDRSTRLEN];
	struct json_object *o, *r;
	size_t n;
	int reason = -1;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "%s --pin-dir %s lookup %s --json", mailgate, fx.g.pin_dir,
		 format_addr(a, s, sizeof(s)));
	f = popen(cmd, "r");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	pclose(f);
	buf[n] = 0;
	o = json_tokener_parse(buf);
	if (o && json_object_object_get_ex(o, "reason", &r))
		for (int i = 0; i < MG_REASON_MAX; i++)
			if (!strcmp(mg_reason_names[i], json_object_get_string(r)))
				reason = i;
	json_object_put(o);
	return reason;
}

static void quiet_config(void)
{
	struct mg_config c;

	fx_config(&c);
	c.syn_interval_ns = 0;
	c.prefix_interval_ns = 0;
	memset(c.max_concurrent, 0, sizeof(c.max_concurrent));
	c.flood_interval_ns = 0;
	c.ban_after = 0;
	fx_reset(&fx, &c);
}

TEST(property_datapath_reference_lookup)
{
	int cases = 0, bad = 0, cli_cases = 0;

	for (int t = 0; t < TRIALS && bad < 5; t++) {
		uint64_t now;

		quiet_config(); /* empties both lists */
		n_ents = 0;
		now = now_boot_ns();
		for (int i = 0, n = 1 + rnd(MAX_ENT); i < n; i++)
			add_entry(rnd(5) == 0 ? MG_LIST_ALLOW : MG_LIST_DENY, now);
		for (int i = 0; i < ADDRS; i++) {
			struct mg_addr a;
			struct mg_lpm_key k;
			struct mg_rule r;
			int v6 = rnd(2), want, dp, lk;
			const struct ref *d;
			char s[MG_ADDRSTRLEN];

			rnd_addr(&a, v6);
			now = now_boot_ns();
			want = ref_reason(&a, now);
			dp = datapath_reason(&a);
			/* lookup's rule: list_match on each list, then the order of judge() */
			lk = list_match(&fx.g, MG_LIST_ALLOW, &a, now, &k, &r) ? MG_REASON_PASS_ALLOW
			     : list_match(&fx.g, MG_LIST_DENY, &a, now, &k, &r) && mg_rule_decides(MG_LIST_DENY, &r)
				     ? MG_REASON_DROP_DENY : MG_REASON_PASS_OK;
			d = ref_match(MG_LIST_DENY, &a, now);
			if (want != MG_REASON_PASS_ALLOW && d &&
			    (!list_match(&fx.g, MG_LIST_DENY, &a, now, &k, &r) || k.prefixlen != d->k.prefixlen))
				lk = -3; /* the wrong prefix named */
			cases++;
			if (dp != want || lk != want) {
				bad++;
				test_fail(__FILE__, __LINE__, "trial %d, %s: reference %s, data path %s, lookup %s (%d entries)",
					  t, format_addr(&a, s, sizeof(s)), mg_reason_names[want],
					  dp >= 0 ? mg_reason_names[dp] : "?", lk >= 0 ? mg_reason_names[lk] : "?", n_ents);
			}
			if (i == 0 && t % 10 == 0) { /* the command itself, for a sample */
				int c = cli_reason(&a);

				cli_cases++;
				if (c != want) {
					bad++;
					test_fail(__FILE__, __LINE__, "trial %d, %s: `mailgate lookup` says %s, want %s", t,
						  format_addr(&a, s, sizeof(s)), c >= 0 ? mg_reason_names[c] : "?",
						  mg_reason_names[want]);
				}
			}
		}
	}
	printf("  %d cases (%d through `mailgate lookup`), %d disagreements\n", cases, cli_cases, bad);
	ASSERT_TRUE(cases >= 10000 || bad, "at least 10,000 cases");
}

/* a replace switches every entry at once; the prefix lengths go with it */
TEST(replace_switches_set_and_lengths)
{
	struct mg_lpm_key k[2];
	struct mg_rule r[2] = { { .prefixlen = 96 + 32 }, { .prefixlen = 64 } };

	quiet_config();
	ASSERT_OK(fx_rule(&fx, GM_DENY, "192.0.2.0/24", 0), "a /24");
	ASSERT_EQ(fx_syn(&fx, "192.0.2.1", 25), XDP_DROP, "the /24 denies");
	parse_cidr("198.51.100.7", &k[0]);
	parse_cidr("2001:db8::/64", &k[1]);
	ASSERT_OK(fx_list_fill(&fx, GM_DENY, k, r, 2), "replace with a /32 and a /64");
	ASSERT_EQ(fx_syn(&fx, "192.0.2.1", 25), XDP_PASS, "the /24 is gone");
	ASSERT_EQ(fx_syn(&fx, "198.51.100.7", 25), XDP_DROP, "the /32 denies");
	ASSERT_EQ(fx_syn(&fx, "2001:db8::5", 25), XDP_DROP, "the /64 denies");
	ASSERT_EQ(fx_list_count(&fx, GM_DENY), 2, "two entries");
}

/* more than the list holds: the build fails, the live set stays as it was */
TEST(over_capacity_changes_nothing)
{
	uint32_t cap = list_capacity(MG_LIST_ALLOW);
	struct mg_lpm_key *k = calloc(cap + 1, sizeof(*k));
	struct mg_rule *r = calloc(cap + 1, sizeof(*r));
	int err;

	quiet_config();
	ASSERT_OK(fx_rule(&fx, GM_ALLOW, "192.0.2.0/24", 0), "a live entry");
	for (uint32_t i = 0; i <= cap; i++) {
		k[i].prefixlen = r[i].prefixlen = 128;
		k[i].a[0] = 0x20, k[i].a[1] = 0x01, k[i].a[2] = 0x0d, k[i].a[3] = 0xb8;
		k[i].a[13] = i >> 16, k[i].a[14] = i >> 8, k[i].a[15] = i;
	}
	err = fx_list_fill(&fx, GM_ALLOW, k, r, cap + 1);
	ASSERT_EQ(err, -E2BIG, "refused: over capacity");
	ASSERT_EQ(fx_list_count(&fx, GM_ALLOW), 1, "the live set is as it was");
	ASSERT_EQ(fx_syn(&fx, "192.0.2.9", 25), XDP_PASS, "and still allows");
	free(k);
	free(r);
}

static uint64_t top_until(void)
{
	struct mg_ctl c = {};
	uint32_t zero = 0;

	bpf_map_lookup_elem(fx.g.fd[GM_CTL], &zero, &c);
	return c.top_until_ns;
}

static void set_top_until(uint64_t t)
{
	struct mg_ctl c = {};
	uint32_t zero = 0;

	bpf_map_lookup_elem(fx.g.fd[GM_CTL], &zero, &c);
	c.top_until_ns = t;
	bpf_map_update_elem(fx.g.fd[GM_CTL], &zero, &c, BPF_ANY);
}

/* A denied SYN reads the clock only when it must (bpf/gate.bpf.c,
 * note_stopped): once `top` has stopped watching, the first such SYN
 * clears mg_ctl.top_until_ns, so the next ones read none; a watch that
 * still runs is left as it is. And TTLs still count: an expired /32
 * inside an active /24 is denied by the /24. */
TEST(denied_syn_clears_top_watch_gone)
{
	uint64_t now = now_boot_ns();
	struct mg_rule r = { .prefixlen = 128, .expires_ns = now - NSEC_PER_SEC };
	struct mg_lpm_key k;

	quiet_config();
	ASSERT_OK(fx_rule(&fx, GM_DENY, "192.0.2.7", 0), "a /32");
	set_top_until(now + 60 * NSEC_PER_SEC);
	ASSERT_EQ(fx_syn(&fx, "192.0.2.7", 25), XDP_DROP, "denied while top watches");
	ASSERT_EQ(top_until(), now + 60 * NSEC_PER_SEC, "a running watch stays");
	set_top_until(now - NSEC_PER_SEC);
	ASSERT_EQ(fx_syn(&fx, "192.0.2.7", 25), XDP_DROP, "denied after top left");
	ASSERT_EQ(top_until(), 0, "the watch that is over is cleared");
	ASSERT_EQ(fx_syn(&fx, "192.0.2.7", 25), XDP_DROP, "and denied again");

	ASSERT_OK(fx_rule(&fx, GM_DENY, "198.51.100.0/24", 0), "a /24");
	parse_cidr("198.51.100.9", &k);
	ASSERT_OK(list_put(&fx.g, MG_LIST_DENY, &k, &r), "an expired /32 in it");
	ASSERT_EQ(fx_syn(&fx, "198.51.100.9", 25), XDP_DROP, "the /24 denies what the expired /32 does not");
	r.prefixlen = k.prefixlen = 120;
	parse_cidr("203.0.113.0/24", &k);
	ASSERT_OK(list_put(&fx.g, MG_LIST_DENY, &k, &r), "an expired /24 alone");
	ASSERT_EQ(fx_syn(&fx, "203.0.113.9", 25), XDP_PASS, "an expired entry denies nothing");
}

static int setup(void)
{
	ssize_t n;

	if (geteuid() != 0) {
		printf("  needs root (BPF maps)\n");
		return -1;
	}
	n = readlink("/proc/self/exe", mailgate, sizeof(mailgate) - 16);
	if (n <= 0)
		return -1;
	mailgate[n] = 0;
	strcpy(strrchr(mailgate, '/'), "/../mailgate");
	return fx_load(&fx, "lists", 4096);
}

static void teardown(void)
{
	fx_unload(&fx);
}

int main(int argc, char **argv)
{
	return test_main(argc, argv, setup, teardown);
}
