// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The CrowdSec bouncer's decision handling (user/crowdsec.c) on a loaded
 * data path: stream answers go in as the Local API sends them, the maps
 * are read back, and SYNs run through the XDP program (BPF_PROG_TEST_RUN).
 * The HTTP side against a real Local API: integration/test_crowdsec.sh. */
#include <errno.h>
#include <unistd.h>
#include "test.h"
#include "fixture.h"
#include "crowdsec.h"

static struct fixture fx;
static struct mg_config cfg;
static struct crowdsec_stats st;
static struct crowdsec *cs;

/* a fresh data path and bouncer for each case */
static bool fresh(void)
{
	crowdsec_free(cs);
	memset(&st, 0, sizeof(st));
	cs = crowdsec_new(&fx.g, &st);
	fx_config(&cfg);
	cfg.syn_interval_ns = 0; /* no quotas in the way */
	cfg.prefix_interval_ns = 0;
	return ASSERT_TRUE(cs != NULL, "crowdsec_new") && ASSERT_OK(fx_reset(&fx, &cfg), "reset maps");
}

static int apply(const char *json, bool startup)
{
	return crowdsec_apply(cs, json, strlen(json), startup);
}

static bool get_ban(const char *addr, struct mg_ban *b)
{
	struct mg_addr a = fx_addr(addr);

	return !bpf_map_lookup_elem(fx.g.fd[GM_BAN], &a, b);
}

static bool get_deny(const char *cidr, struct mg_rule *r)
{
	struct mg_lpm_key k;

	return !parse_cidr(cidr, &k) && !list_get(&fx.g, MG_LIST_DENY, &k, r);
}

/* expiry in [now + lo, now + hi] seconds */
static bool expires_within(uint64_t exp, double lo, double hi)
{
	double left = ((double)exp - (double)now_boot_ns()) / 1e9;

	if (left < lo || left > hi)
		printf("  expires in %.1f s, expected %.0f..%.0f\n", left, lo, hi);
	return left >= lo && left <= hi;
}

#define DEC(id, scope, value, dur) \
	"{\"duration\":\"" dur "\",\"id\":" #id ",\"origin\":\"cscli\",\"scenario\":\"test\"," \
	"\"scope\":\"" scope "\",\"type\":\"ban\",\"value\":\"" value "\"}"

TEST(go_durations)
{
	static const struct { const char *s; int64_t ns; } good[] = {
		{ "3h59m58.7s", (3 * 3600 + 59 * 60 + 58) * 1000000000LL + 700000000LL },
		{ "-15.446525ms", -15446525 },
		{ "1h0m0s", 3600000000000LL },
		{ "0", 0 },
		{ "1.5h", 5400000000000LL },
		{ "500us", 500000 },
		{ "2\xc2\xb5s", 2000 },
		{ "167h59m20.890999684s", (167 * 3600 + 59 * 60 + 20) * 1000000000LL + 890999684LL },
	};
	static const char *const bad[] = { "", "h", "3x", "1h-2m", "-", "1 h", "abc", "1e3s" };
	int64_t ns;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (ASSERT_OK(crowdsec_parse_duration(good[i].s, &ns), good[i].s) &&
		    llabs(ns - good[i].ns) > 1000) /* a double's rounding */
			test_fail(__FILE__, __LINE__, "'%s': %lld ns, expected %lld", good[i].s, (long long)ns,
				  (long long)good[i].ns);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (!crowdsec_parse_duration(bad[i], &ns))
			test_fail(__FILE__, __LINE__, "'%s' accepted (%lld ns)", bad[i], (long long)ns);
}

/* startup: an Ip decision is a ban, a Range a deny entry, both origin
 * crowdsec with the decision's duration; the data path drops their SYNs */
TEST(startup_bans_and_denies)
{
	struct mg_ban b;
	struct mg_rule r;

	if (!fresh())
		return;
	ASSERT_EQ(fx_syn(&fx, "192.0.2.7", 25), XDP_PASS, "before: passes");
	ASSERT_OK(apply("{\"deleted\":null,\"new\":[" DEC(1, "Ip", "192.0.2.7", "3h59m58.7s") ","
			DEC(2, "Range", "198.51.100.0/24", "1h") "," DEC(3, "Ip", "2001:db8::5", "29m59.3s") "]}",
			true), "apply");
	if (ASSERT_TRUE(get_ban("192.0.2.7", &b), "ban of 192.0.2.7")) {
		ASSERT_EQ(b.origin, MG_ORIGIN_CROWDSEC, "origin crowdsec");
		ASSERT_TRUE(expires_within(b.expires_ns, 4 * 3600 - 10, 4 * 3600), "expiry from the duration");
	}
	ASSERT_TRUE(get_ban("2001:db8::5", &b) && b.origin == MG_ORIGIN_CROWDSEC, "IPv6 ban");
	if (ASSERT_TRUE(get_deny("198.51.100.0/24", &r), "deny 198.51.100.0/24")) {
		ASSERT_EQ(r.origin, MG_ORIGIN_CROWDSEC, "deny origin crowdsec");
		ASSERT_TRUE(expires_within(r.expires_ns, 3590, 3600), "deny TTL");
	}
	ASSERT_EQ(fx_syn(&fx, "192.0.2.7", 25), XDP_DROP, "banned source dropped");
	ASSERT_EQ(fx_syn(&fx, "198.51.100.77", 587), XDP_DROP, "source in the range dropped");
	ASSERT_EQ(fx_syn(&fx, "2001:db8::5", 143), XDP_DROP, "IPv6 source dropped");
	ASSERT_EQ(fx_syn(&fx, "192.0.2.8", 25), XDP_PASS, "another source passes");
	ASSERT_EQ(fx_count(&fx, MG_REASON_DROP_BAN, MG_CLASS_SMTP), 1, "drop_ban");
	ASSERT_EQ(fx_count(&fx, MG_REASON_DROP_DENY, MG_CLASS_SUBMISSION), 1, "drop_deny");
	ASSERT_EQ(st.applied, 3, "applied");
	ASSERT_EQ(st.bans, 2, "bans held");
	ASSERT_EQ(st.denies, 1, "denies held");
}

/* a deleted decision takes its entry out, and the source is back */
TEST(delta_delete)
{
	struct mg_ban b;
	struct mg_rule r;

	if (!fresh())
		return;
	ASSERT_OK(apply("{\"new\":[" DEC(1, "Ip", "192.0.2.7", "4h") "," DEC(2, "Range", "198.51.100.0/24", "4h") "]}",
			true), "startup");
	ASSERT_OK(apply("{\"deleted\":null,\"new\":null}", false), "empty delta");
	ASSERT_TRUE(get_ban("192.0.2.7", &b), "empty delta changes nothing");
	ASSERT_OK(apply("{\"deleted\":[" DEC(1, "Ip", "192.0.2.7", "-15.4ms") "," DEC(2, "Range", "198.51.100.0/24", "-1s")
			"],\"new\":null}", false), "delete");
	ASSERT_TRUE(!get_ban("192.0.2.7", &b), "ban gone");
	ASSERT_TRUE(!get_deny("198.51.100.0/24", &r), "deny entry gone");
	ASSERT_EQ(fx_syn(&fx, "192.0.2.7", 25), XDP_PASS, "source back");
	ASSERT_EQ(fx_syn(&fx, "198.51.100.77", 25), XDP_PASS, "range back");
	ASSERT_EQ(st.removed, 2, "removed");
	ASSERT_EQ(st.bans + st.denies, 0, "nothing held");
}

/* several decisions for one address: the ban lasts as long as the longest,
 * and goes with the last */
TEST(several_decisions_one_address)
{
	struct mg_ban b;

	if (!fresh())
		return;
	ASSERT_OK(apply("{\"new\":[" DEC(1, "Ip", "192.0.2.9", "1h") "," DEC(2, "Ip", "192.0.2.9", "4h") "]}", true),
		  "startup");
	ASSERT_TRUE(get_ban("192.0.2.9", &b) && expires_within(b.expires_ns, 4 * 3600 - 10, 4 * 3600),
		    "the longest decision's expiry");
	ASSERT_OK(apply("{\"deleted\":[" DEC(2, "Ip", "192.0.2.9", "-1s") "]}", false), "delete the longer");
	ASSERT_TRUE(get_ban("192.0.2.9", &b) && expires_within(b.expires_ns, 3590, 3600),
		    "still banned, for the other decision's time");
	ASSERT_OK(apply("{\"deleted\":[" DEC(1, "Ip", "192.0.2.9", "-1s") "]}", false), "delete the other");
	ASSERT_TRUE(!get_ban("192.0.2.9", &b), "then gone");
}

/* an operator's ban is never overwritten nor removed by the bouncer; once
 * it is gone, the CrowdSec decision takes the address */
TEST(other_origins_kept)
{
	struct mg_addr a = fx_addr("203.0.113.5");
	struct mg_ban cli = { .origin = MG_ORIGIN_CLI, .created_ns = now_boot_ns() }, b;
	struct mg_lpm_key k;
	struct mg_rule zr = { .origin = MG_ORIGIN_ZONE, .prefixlen = 96 + 24 }, r;

	if (!fresh())
		return;
	parse_cidr("203.0.113.0/24", &k);
	ASSERT_OK(bpf_map_update_elem(fx.g.fd[GM_BAN], &a, &cli, BPF_ANY), "cli ban");
	ASSERT_OK(list_put(&fx.g, MG_LIST_DENY, &k, &zr), "zone deny");
	ASSERT_OK(apply("{\"new\":[" DEC(1, "Ip", "203.0.113.5", "1h") "," DEC(2, "Range", "203.0.113.0/24", "1h") "]}",
			true), "startup");
	ASSERT_TRUE(get_ban("203.0.113.5", &b) && b.origin == MG_ORIGIN_CLI && !b.expires_ns, "cli ban as it was");
	ASSERT_TRUE(get_deny("203.0.113.0/24", &r) && r.origin == MG_ORIGIN_ZONE, "zone entry as it was");
	ASSERT_EQ(st.shadowed, 2, "two decisions shadowed");
	ASSERT_OK(apply("{\"deleted\":[" DEC(2, "Range", "203.0.113.0/24", "-1s") "]}", false), "delete the range");
	ASSERT_TRUE(get_deny("203.0.113.0/24", &r) && r.origin == MG_ORIGIN_ZONE, "zone entry not deleted");
	bpf_map_delete_elem(fx.g.fd[GM_BAN], &a); /* `mailgate ban del` */
	crowdsec_maintain(cs, false);
	ASSERT_TRUE(get_ban("203.0.113.5", &b) && b.origin == MG_ORIGIN_CROWDSEC, "the decision takes the address");
	ASSERT_EQ(st.shadowed, 0, "none shadowed");
}

/* a full answer is the whole set: crowdsec entries it does not list (left
 * by an earlier run) go; other origins stay */
TEST(full_answer_removes_stale)
{
	struct mg_addr old = fx_addr("192.0.2.50"), cli = fx_addr("192.0.2.51");
	struct mg_ban ob = { .origin = MG_ORIGIN_CROWDSEC, .expires_ns = now_boot_ns() + 3600 * NSEC_PER_SEC };
	struct mg_ban cb = { .origin = MG_ORIGIN_CLI }, b;
	struct mg_lpm_key k;
	struct mg_rule orr = { .origin = MG_ORIGIN_CROWDSEC, .prefixlen = 96 + 24,
			       .expires_ns = now_boot_ns() + 3600 * NSEC_PER_SEC }, r;

	if (!fresh())
		return;
	parse_cidr("192.0.2.0/24", &k);
	bpf_map_update_elem(fx.g.fd[GM_BAN], &old, &ob, BPF_ANY);
	bpf_map_update_elem(fx.g.fd[GM_BAN], &cli, &cb, BPF_ANY);
	list_put(&fx.g, MG_LIST_DENY, &k, &orr);
	ASSERT_OK(apply("{\"new\":[" DEC(7, "Ip", "192.0.2.52", "1h") "]}", true), "startup");
	ASSERT_TRUE(!get_ban("192.0.2.50", &b), "stale crowdsec ban removed");
	ASSERT_TRUE(!get_deny("192.0.2.0/24", &r), "stale crowdsec deny removed");
	ASSERT_TRUE(get_ban("192.0.2.51", &b) && b.origin == MG_ORIGIN_CLI, "cli ban kept");
	ASSERT_TRUE(get_ban("192.0.2.52", &b), "listed decision applied");
	ASSERT_EQ(st.removed, 2, "removed");
	/* a second full answer without it: the bouncer's own entry goes too */
	ASSERT_OK(apply("{\"new\":[]}", true), "empty full answer");
	ASSERT_TRUE(!get_ban("192.0.2.52", &b), "gone with the next full answer");
}

/* not for a firewall: other types and scopes; unreadable decisions are
 * skipped, a broken answer changes nothing */
TEST(skipped_and_malformed)
{
	struct mg_ban b;
	struct mg_rule r;

	if (!fresh())
		return;
	ASSERT_OK(apply("{\"new\":[{\"duration\":\"1h\",\"id\":1,\"scope\":\"Ip\",\"type\":\"captcha\",\"value\":\"192.0.2.1\"},"
			"{\"duration\":\"1h\",\"id\":2,\"scope\":\"username\",\"type\":\"ban\",\"value\":\"root\"},"
			"{\"duration\":\"1h\",\"id\":3,\"scope\":\"Ip\",\"type\":\"ban\",\"value\":\"not-an-ip\"},"
			"{\"duration\":\"soon\",\"id\":4,\"scope\":\"Ip\",\"type\":\"ban\",\"value\":\"192.0.2.4\"},"
			"{\"id\":5,\"scope\":\"Ip\",\"type\":\"ban\",\"value\":\"192.0.2.5\"},"
			"{\"duration\":\"-1s\",\"id\":6,\"scope\":\"Ip\",\"type\":\"ban\",\"value\":\"192.0.2.6\"},"
			DEC(8, "ip", "91.241.19.122/32", "1h") "," DEC(9, "Range", "2001:db8:1:2::7/48", "1h") ","
			DEC(11, "Range", "0.0.0.0/0", "1h") "," DEC(12, "Range", "10.0.0.0/7", "1h") ","
			DEC(13, "Range", "2000::/12", "1h") "," DEC(14, "Range", "10.0.0.0/8", "1h") "]}",
			true), "apply");
	ASSERT_TRUE(!get_ban("192.0.2.1", &b), "captcha not a ban");
	ASSERT_TRUE(!get_ban("192.0.2.4", &b) && !get_ban("192.0.2.5", &b), "no duration, no ban");
	ASSERT_TRUE(!get_ban("192.0.2.6", &b), "an expired decision is not applied");
	ASSERT_TRUE(get_ban("91.241.19.122", &b), "Ip scope as ADDR/32 is a ban");
	ASSERT_TRUE(get_deny("2001:db8:1::/48", &r), "a range with host bits is its prefix");
	ASSERT_TRUE(!get_deny("0.0.0.0/0", &r) && !get_deny("10.0.0.0/7", &r) && !get_deny("2000::/12", &r),
		    "ranges wider than /8 (IPv4) or /16 (IPv6) not applied");
	ASSERT_TRUE(get_deny("10.0.0.0/8", &r), "a /8 is applied");
	ASSERT_EQ(st.skipped, 8, "skipped");
	ASSERT_EQ(st.applied, 3, "applied");
	ASSERT_EQ(apply("{\"new\":[" DEC(10, "Ip", "192.0.2.10", "1h") ",", false), -EINVAL, "truncated JSON");
	ASSERT_EQ(apply("[]", false), -EINVAL, "not an object");
	ASSERT_EQ(apply("{\"new\":{}}", false), -EINVAL, "new not an array");
	ASSERT_TRUE(!get_ban("192.0.2.10", &b), "nothing applied from a broken answer");
	ASSERT_TRUE(get_ban("91.241.19.122", &b), "and nothing removed");
}

/* decisions end at their expiry even without a deletion; an entry that
 * vanished from the map (LRU eviction) is written again by a full check */
TEST(expiry_and_resync)
{
	struct mg_addr a = fx_addr("192.0.2.30");
	struct mg_ban b;

	if (!fresh())
		return;
	ASSERT_OK(apply("{\"new\":[" DEC(1, "Ip", "192.0.2.30", "1h") "," DEC(2, "Ip", "192.0.2.31", "1s") "]}", true),
		  "startup");
	bpf_map_delete_elem(fx.g.fd[GM_BAN], &a);
	usleep(1100 * 1000);
	crowdsec_maintain(cs, true);
	ASSERT_TRUE(get_ban("192.0.2.30", &b) && b.origin == MG_ORIGIN_CROWDSEC, "evicted entry written again");
	ASSERT_TRUE(!get_ban("192.0.2.31", &b), "expired decision removed");
	ASSERT_EQ(st.removed, 1, "removed");
	ASSERT_EQ(st.bans, 1, "bans held");
}

static int setup(void)
{
	return fx_load(&fx, "cs", 0);
}

static void teardown(void)
{
	crowdsec_free(cs);
	fx_unload(&fx);
}

int main(int argc, char **argv)
{
	return test_main(argc, argv, setup, teardown);
}
