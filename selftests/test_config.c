// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The config file (user/config.c) and the value parsers (user/util.c):
 * every key good and bad, line numbers, unknown keys and sections,
 * duplicates, and the defaults (examples/mailgate.conf must equal them). */
#include <errno.h>
#include <stddef.h>
#include <sys/socket.h>
#include <unistd.h>
#include "test.h"
#include "rules.h"
#include "mailgate.h"
#include "cli.h"
#include "metrics.h"

static char path[64];
static char err[2048];
static struct mg_settings *s, *d;

/* write text to the temp file and load it; returns config_load's result */
static int load(const char *text)
{
	FILE *f = fopen(path, "w");

	fputs(text, f);
	fclose(f);
	err[0] = 0;
	return config_load(path, s, err, sizeof(err));
}

/* the error must start with "PATH:LINE: " followed by want */
static bool err_is(int line, const char *want)
{
	char prefix[128];

	snprintf(prefix, sizeof(prefix), "%s:%d: ", path, line);
	if (strncmp(err, prefix, strlen(prefix)) || strncmp(err + strlen(prefix), want, strlen(want))) {
		printf("  error was: %s\n  expected:  %s%s...\n", err, prefix, want);
		return false;
	}
	return true;
}

static int setup(void)
{
	int fd;

	snprintf(path, sizeof(path), "/tmp/mgt-config-XXXXXX");
	fd = mkstemp(path);
	if (fd < 0)
		return 1;
	close(fd);
	s = malloc(sizeof(*s));
	d = malloc(sizeof(*d));
	return !s || !d;
}

static void teardown(void)
{
	unlink(path);
	free(s);
	free(d);
}

/* ---- defaults ---- */
TEST(defaults)
{
	config_defaults(s);
	ASSERT_EQ(s->cfg.mode, MG_MODE_ENFORCE, "mode");
	ASSERT_EQ(s->cfg.action, MG_ACTION_DROP, "action");
	ASSERT_EQ(s->keep_attached, 0, "keep_attached");
	ASSERT_EQ(s->n_ports, 7, "ports");
	ASSERT_EQ(s->ports[25], MG_CLASS_SMTP, "port 25");
	ASSERT_EQ(s->ports[465], MG_CLASS_SUBMISSION, "port 465");
	ASSERT_EQ(s->ports[587], MG_CLASS_SUBMISSION, "port 587");
	ASSERT_EQ(s->ports[143], MG_CLASS_IMAP, "port 143");
	ASSERT_EQ(s->ports[993], MG_CLASS_IMAP, "port 993");
	ASSERT_EQ(s->ports[110], MG_CLASS_POP3, "port 110");
	ASSERT_EQ(s->ports[995], MG_CLASS_POP3, "port 995");
	ASSERT_EQ(s->ports[80], 0, "port 80");
	ASSERT_EQ(s->cfg.syn_interval_ns, 100000000, "syn_rate 10/s");
	ASSERT_EQ(s->cfg.syn_burst, 20, "syn_burst");
	ASSERT_EQ(s->cfg.prefix_v4, 24, "prefix_v4");
	ASSERT_EQ(s->cfg.prefix_v6, 64, "prefix_v6");
	ASSERT_EQ(s->cfg.prefix_interval_ns, 10000000, "prefix_rate 100/s");
	ASSERT_EQ(s->cfg.prefix_burst, 200, "prefix_burst");
	ASSERT_EQ(s->cfg.max_concurrent[MG_CLASS_SMTP], 50, "max_concurrent smtp");
	ASSERT_EQ(s->cfg.max_concurrent[MG_CLASS_SUBMISSION], 20, "max_concurrent submission");
	ASSERT_EQ(s->cfg.max_concurrent[MG_CLASS_IMAP], 100, "max_concurrent imap");
	ASSERT_EQ(s->cfg.max_concurrent[MG_CLASS_POP3], 20, "max_concurrent pop3");
	ASSERT_EQ(s->cfg.max_total_concurrent, 0, "max_total_concurrent");
	ASSERT_EQ(s->cfg.ban_after, 5, "ban_after");
	ASSERT_EQ(s->cfg.ban_evidence, 10, "ban_evidence");
	ASSERT_EQ(s->cfg.ban_concurrent, 0, "ban_concurrent");
	ASSERT_EQ(s->cfg.ban_window_ns, 60 * NSEC_PER_SEC, "ban_window");
	ASSERT_EQ(s->cfg.ban_time_ns, 600 * NSEC_PER_SEC, "ban_time");
	ASSERT_EQ(s->cfg.ban_time_max_ns, 86400 * NSEC_PER_SEC, "ban_time_max");
	ASSERT_EQ(s->cfg.flood_interval_ns, NSEC_PER_SEC / 50000, "flood_threshold");
	ASSERT_EQ(s->cfg.flood_budget_interval_ns, NSEC_PER_SEC / 1000, "flood_budget");
	ASSERT_EQ(s->max_sources, 1000000, "max_sources");
	ASSERT_EQ(s->dnsbl_sites[0], 0, "sites empty");
	ASSERT_EQ(s->cfg.dnsbl_enabled, 0, "dnsbl off");
	ASSERT_EQ(s->dnsbl_threshold, 3, "threshold");
	ASSERT_EQ(s->cfg.dnsbl_threshold, 3, "cfg threshold");
	ASSERT_EQ(s->dnsbl_allow_threshold, -1, "allowlist_threshold");
	ASSERT_EQ(s->cfg.pending, MG_PENDING_PASS, "pending");
	ASSERT_STREQ(s->dnsbl_resolvers, "system", "resolvers");
	ASSERT_EQ(s->dnsbl_timeout_ns, 2 * NSEC_PER_SEC, "timeout");
	ASSERT_EQ(s->dnsbl_max_inflight, 512, "max_inflight");
	ASSERT_EQ(s->dnsbl_ttl_min_ns, 60 * NSEC_PER_SEC, "ttl_min");
	ASSERT_EQ(s->dnsbl_ttl_max_ns, 3600 * NSEC_PER_SEC, "ttl_max");
	ASSERT_EQ(s->n_allow, 2, "allow cidrs");
	ASSERT_EQ(s->allow[0].prefixlen, 96 + 8, "127.0.0.0/8");
	ASSERT_EQ(s->allow[1].prefixlen, 128, "::1/128");
	ASSERT_STREQ(s->metrics_listen, "127.0.0.1:9433", "listen");
}

/* examples/mailgate.conf sets every key to its default: it must load and
 * give exactly config_defaults(), and so must an empty file */
TEST(example_is_defaults)
{
	const char *ex = "examples/mailgate.conf";

	if (access(ex, R_OK)) {
		test_fail(__FILE__, __LINE__, "%s not found (run from the project root)", ex);
		return;
	}
	config_defaults(d);
	if (!ASSERT_OK(config_load(ex, s, err, sizeof(err)), err))
		return;
	ASSERT_TRUE(!memcmp(&s->cfg, &d->cfg, sizeof(d->cfg)), "mg_config equals the defaults");
	ASSERT_TRUE(!memcmp(s, d, sizeof(*d)), "all settings equal the defaults");
}

/* every key of the example appears in it uncommented: each key is documented */
TEST(example_has_every_key)
{
	static const char *const keys[] = {
		"ports", "mode", "action", "keep_attached", "state_dir", "syn_rate", "syn_burst", "prefix_v4",
		"prefix_v6", "prefix_rate", "prefix_burst", "max_concurrent", "max_total_concurrent",
		"ban_after", "ban_window", "ban_evidence", "ban_concurrent", "ban_time", "ban_time_max", "flood_threshold",
		"flood_budget", "max_sources", "sites", "threshold", "allowlist_threshold",
		"pending", "resolvers", "timeout", "max_inflight", "ttl_min", "ttl_max", "cidrs",
		"listen", "lapi_url", "api_key", "api_key_file", "poll",
		"denied", "banned", "listed",
	};
	char line[1024], want[64];
	FILE *f = fopen("examples/mailgate.conf", "r");
	int found;

	if (!ASSERT_TRUE(f != NULL, "open examples/mailgate.conf"))
		return;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		rewind(f);
		found = 0;
		snprintf(want, sizeof(want), "%s =", keys[i]);
		while (fgets(line, sizeof(line), f))
			if (!strncmp(line, want, strlen(want)))
				found = 1;
		if (!found)
			test_fail(__FILE__, __LINE__, "key '%s' is not set in the example", keys[i]);
	}
	fclose(f);
}

TEST(empty_file_is_defaults)
{
	config_defaults(d);
	if (!ASSERT_OK(load("# nothing\n\n"), err))
		return;
	ASSERT_TRUE(!memcmp(s, d, sizeof(*d)), "settings equal the defaults");
}

/* ---- every key with a good value ---- */
TEST(gate_keys)
{
	if (!ASSERT_OK(load("[gate]\nports = smtp, submission:2587 , imaps\nmode = observe\n"
			    "action = reset\nkeep_attached = yes\n"), err))
		return;
	ASSERT_EQ(s->n_ports, 3, "n_ports");
	ASSERT_EQ(s->ports[25], MG_CLASS_SMTP, "smtp");
	ASSERT_EQ(s->ports[2587], MG_CLASS_SUBMISSION, "submission:2587");
	ASSERT_EQ(s->ports[587], 0, "587 no longer gated");
	ASSERT_EQ(s->ports[993], MG_CLASS_IMAP, "imaps");
	ASSERT_EQ(s->ports[110], 0, "110 no longer gated");
	ASSERT_EQ(s->port_list[1].port, 2587, "port_list port");
	ASSERT_STREQ(s->port_list[1].name, "submission", "port_list name");
	ASSERT_EQ(s->cfg.mode, MG_MODE_OBSERVE, "mode");
	ASSERT_EQ(s->cfg.action, MG_ACTION_RESET, "action");
	ASSERT_EQ(s->keep_attached, 1, "keep_attached");
	if (!ASSERT_OK(load("[gate]\nmode = enforce\naction = drop\nkeep_attached = off\n"), err))
		return;
	ASSERT_EQ(s->cfg.mode, MG_MODE_ENFORCE, "mode enforce");
	ASSERT_EQ(s->cfg.action, MG_ACTION_DROP, "action drop");
	ASSERT_EQ(s->keep_attached, 0, "keep_attached off");
}

/* max_concurrent: a number for every class, CLASS:N for one, or both;
 * classes not named keep their defaults */
TEST(max_concurrent_per_class)
{
	static const struct {
		const char *value;
		uint32_t smtp, submission, imap, pop3;
	} cases[] = {
		{ "20", 20, 20, 20, 20 },
		{ "0", 0, 0, 0, 0 },
		{ "imap:300", 50, 20, 300, 20 },
		{ "smtp:0, pop3:5", 0, 20, 100, 5 },
		{ "30, imap:200", 30, 30, 200, 30 },
		{ " 40 ,submission:2 ", 40, 2, 40, 40 },
	};
	char text[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), "[limits]\nmax_concurrent = %s\n", cases[i].value);
		if (!ASSERT_OK(load(text), err))
			continue;
		ASSERT_EQ(s->cfg.max_concurrent[MG_CLASS_NONE], 0, cases[i].value);
		ASSERT_EQ(s->cfg.max_concurrent[MG_CLASS_SMTP], cases[i].smtp, cases[i].value);
		ASSERT_EQ(s->cfg.max_concurrent[MG_CLASS_SUBMISSION], cases[i].submission, cases[i].value);
		ASSERT_EQ(s->cfg.max_concurrent[MG_CLASS_IMAP], cases[i].imap, cases[i].value);
		ASSERT_EQ(s->cfg.max_concurrent[MG_CLASS_POP3], cases[i].pop3, cases[i].value);
	}
	if (ASSERT_OK(load("[limits]\nban_evidence = 3\nban_concurrent = yes\n"), err)) {
		ASSERT_EQ(s->cfg.ban_evidence, 3, "ban_evidence");
		ASSERT_EQ(s->cfg.ban_concurrent, 1, "ban_concurrent");
	}
}

/* syn_rate and syn_burst: the plain value for every class, CLASS:VALUE for
 * one; a class not named keeps its default, a plain value alone sets every
 * class; mg_syn_interval / mg_syn_burst (include/rules.h) give the value
 * of each class the data path uses */
TEST(syn_rate_per_class)
{
	static const struct {
		const char *rate, *burst;
		uint64_t smtp, imap, pop3; /* intervals, ns */
		uint32_t bsmtp, bimap;
	} cases[] = {
		{ NULL, NULL, 100000000, 33333333, 100000000, 20, 100 },           /* the defaults */
		{ "20/s", NULL, 50000000, 50000000, 50000000, 20, 100 },           /* plain: every class */
		{ "pop3:1/s", "imap:5", 100000000, 33333333, 1000000000, 20, 5 },  /* imap keeps 30/s */
		{ "5/s, imap:0/s", "7, smtp:3", 200000000, 0, 200000000, 3, 7 },   /* 0/s: no limit */
		{ " 600/m ,smtp:1/s ", "30", 1000000000, 100000000, 100000000, 30, 30 },
	};
	char text[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), "[limits]\n%s%s%s%s%s%s", cases[i].rate ? "syn_rate = " : "",
			 cases[i].rate ? cases[i].rate : "", cases[i].rate ? "\n" : "", cases[i].burst ? "syn_burst = " : "",
			 cases[i].burst ? cases[i].burst : "", cases[i].burst ? "\n" : "");
		if (!ASSERT_OK(load(text), err))
			continue;
		ASSERT_EQ(mg_syn_interval(&s->cfg, MG_CLASS_SMTP), cases[i].smtp, text);
		ASSERT_EQ(mg_syn_interval(&s->cfg, MG_CLASS_SUBMISSION), cases[i].pop3 == 1000000000 ?
			  100000000 : cases[i].pop3, text);
		ASSERT_EQ(mg_syn_interval(&s->cfg, MG_CLASS_IMAP), cases[i].imap, text);
		ASSERT_EQ(mg_syn_interval(&s->cfg, MG_CLASS_POP3), cases[i].pop3, text);
		ASSERT_EQ(mg_syn_burst(&s->cfg, MG_CLASS_SMTP), cases[i].bsmtp, text);
		ASSERT_EQ(mg_syn_burst(&s->cfg, MG_CLASS_IMAP), cases[i].bimap, text);
	}
	/* the span of each class's pair is checked, named with its class */
	ASSERT_EQ(load("[limits]\nsyn_rate = 10/s, imap:0.30695/d\nsyn_burst = 20, imap:65536\n"), -EINVAL, "imap span");
	if (err_is(3, "key 'syn_burst': syn_burst = imap:65536 with syn_rate = imap:"))
		ASSERT_TRUE(strstr(err, "lower syn_burst or raise syn_rate") != NULL, err);
	ASSERT_EQ(load("[limits]\nsyn_rate = pop3:0.30695/d\nsyn_burst = 65536\n"), -EINVAL, "pop3 rate, plain burst");
	err_is(3, "key 'syn_burst': syn_burst = pop3:65536 with syn_rate = pop3:");
	ASSERT_EQ(load("[limits]\nsyn_rate = imap:fast\n"), -EINVAL, "bad class rate");
	err_is(2, "key 'syn_rate': bad value 'imap:fast' (expected RATE (every port class) and/or CLASS:RATE");
}

TEST(limits_keys)
{
	if (!ASSERT_OK(load("[limits]\nsyn_rate = 600/m\nsyn_burst = 5\nprefix_v4 = 16\nprefix_v6 = 48\n"
			    "prefix_rate = 1/s\nprefix_burst = 7\nmax_concurrent = 0\n"
			    "max_total_concurrent = 300\nban_after = 0\nban_window = 2m\nban_time = 1h\n"
			    "ban_time_max = 7d\nflood_threshold = 0/s\nflood_budget = 10/s\n"
			    "max_sources = 5000\n"), err))
		return;
	ASSERT_EQ(s->cfg.syn_interval_ns, 100000000, "syn_rate 600/m");
	ASSERT_EQ(s->cfg.syn_burst, 5, "syn_burst");
	ASSERT_EQ(s->cfg.prefix_v4, 16, "prefix_v4");
	ASSERT_EQ(s->cfg.prefix_v6, 48, "prefix_v6");
	ASSERT_EQ(s->cfg.prefix_interval_ns, NSEC_PER_SEC, "prefix_rate");
	ASSERT_EQ(s->cfg.prefix_burst, 7, "prefix_burst");
	for (int cl = MG_CLASS_NONE + 1; cl < MG_CLASS_MAX; cl++)
		ASSERT_EQ(s->cfg.max_concurrent[cl], 0, "max_concurrent = 0: off for every class");
	ASSERT_EQ(s->cfg.max_total_concurrent, 300, "max_total_concurrent");
	ASSERT_EQ(s->cfg.ban_after, 0, "ban_after");
	ASSERT_EQ(s->cfg.ban_window_ns, 120 * NSEC_PER_SEC, "ban_window");
	ASSERT_EQ(s->cfg.ban_time_ns, 3600 * NSEC_PER_SEC, "ban_time");
	ASSERT_EQ(s->cfg.ban_time_max_ns, 7 * 86400 * NSEC_PER_SEC, "ban_time_max");
	ASSERT_EQ(s->cfg.flood_interval_ns, 0, "flood_threshold off");
	ASSERT_EQ(s->cfg.flood_budget_interval_ns, NSEC_PER_SEC / 10, "flood_budget");
	ASSERT_EQ(s->max_sources, 5000, "max_sources");
	if (!ASSERT_OK(load("[limits]\nsyn_rate = 0/s\nprefix_rate = 0/m\n"), err))
		return;
	ASSERT_EQ(s->cfg.syn_interval_ns, 0, "syn_rate off");
	ASSERT_EQ(s->cfg.prefix_interval_ns, 0, "prefix_rate off");
}

TEST(dnsbl_keys)
{
	if (!ASSERT_OK(load("[dnsbl]\nsites =\nthreshold = 5\nallowlist_threshold = -3\npending = hold\n"
			    "resolvers = 127.0.0.1:53, [::1]:5353, 192.0.2.1, 2001:db8::1\n"
			    "timeout = 500ms\nmax_inflight = 64\nttl_min = 10s\nttl_max = 2h\n"), err))
		return;
	ASSERT_EQ(s->cfg.dnsbl_enabled, 0, "no sites: off");
	ASSERT_EQ(s->dnsbl_threshold, 5, "threshold");
	ASSERT_EQ(s->cfg.dnsbl_threshold, 5, "cfg.dnsbl_threshold");
	ASSERT_EQ(s->dnsbl_allow_threshold, -3, "allowlist_threshold");
	ASSERT_EQ(s->cfg.pending, MG_PENDING_HOLD, "pending");
	ASSERT_STREQ(s->dnsbl_resolvers, "127.0.0.1:53, [::1]:5353, 192.0.2.1, 2001:db8::1", "resolvers kept as written");
	ASSERT_EQ(s->dnsbl_timeout_ns, NSEC_PER_SEC / 2, "timeout");
	ASSERT_EQ(s->dnsbl_max_inflight, 64, "max_inflight");
	ASSERT_EQ(s->dnsbl_ttl_min_ns, 10 * NSEC_PER_SEC, "ttl_min");
	ASSERT_EQ(s->dnsbl_ttl_max_ns, 7200 * NSEC_PER_SEC, "ttl_max");
	if (!ASSERT_OK(load("[dnsbl]\npending = pass\nresolvers = system\n"), err))
		return;
	ASSERT_EQ(s->cfg.pending, MG_PENDING_PASS, "pending pass");
}

TEST(refusal_keys)
{
	if (!ASSERT_OK(load(""), err))
		return;
	ASSERT_EQ(s->cfg.reject, 0, "default: every refusal dropped");
	if (!ASSERT_OK(load("[gate]\ndenied = reject\nbanned = drop\n[dnsbl]\nlisted = reject\n"), err))
		return;
	ASSERT_EQ(s->cfg.reject, MG_REJECT_DENY | MG_REJECT_DNSBL, "denied and listed rejected");
	if (!ASSERT_OK(load("[gate]\nbanned = reject\n"), err))
		return;
	ASSERT_EQ(s->cfg.reject, MG_REJECT_BAN, "banned rejected");
}

/* sites are validated by dnsbl.c; whatever it accepts must switch the DNSBL
 * step on, whatever it refuses must be a line-numbered error */
TEST(dnsbl_sites)
{
	const char *site = "list.example.org=127.0.0.[2..11]*3";
	char why[256] = "";
	int rc;

	if (dnsbl_sites_check(site, why, sizeof(why)) == 0) {
		if (!ASSERT_OK(load("[dnsbl]\nsites = list.example.org=127.0.0.[2..11]*3\n"), err))
			return;
		ASSERT_EQ(s->cfg.dnsbl_enabled, 1, "sites: DNSBL on");
		ASSERT_STREQ(s->dnsbl_sites, site, "sites kept as written");
	}
	rc = load("[dnsbl]\n\nsites = =*x\n");
	ASSERT_EQ(rc, -EINVAL, "bad sites refused");
	err_is(3, "key 'sites': bad value '=*x'");
}

TEST(allow_and_metrics_keys)
{
	if (!ASSERT_OK(load("[allow]\ncidrs = 192.0.2.0/24, 2001:db8::/32,198.51.100.7\n"
			    "[metrics]\nlisten = [::1]:9100\n"), err))
		return;
	ASSERT_EQ(s->n_allow, 3, "n_allow");
	ASSERT_EQ(s->allow[0].prefixlen, 96 + 24, "/24");
	ASSERT_EQ(s->allow[1].prefixlen, 32, "/32 v6");
	ASSERT_EQ(s->allow[2].prefixlen, 128, "bare address: /32");
	ASSERT_STREQ(s->metrics_listen, "[::1]:9100", "listen");
	if (!ASSERT_OK(load("[allow]\ncidrs =\n[metrics]\nlisten = none\n"), err))
		return;
	ASSERT_EQ(s->n_allow, 0, "empty allow list");
	ASSERT_STREQ(s->metrics_listen, "none", "listen none");
}

/* ---- every key with bad values: exit message names file, line, key, value ---- */
static const struct {
	const char *section, *key, *value;
} bad_values[] = {
	{ "gate", "ports", "" },
	{ "gate", "ports", "smtp:0" },
	{ "gate", "ports", "smtp:65536" },
	{ "gate", "ports", "http:80" },
	{ "gate", "ports", "25" },
	{ "gate", "ports", "smtp, smtp" },
	{ "gate", "ports", "smtp,,imap" },
	{ "gate", "ports", "smtp," },
	{ "gate", "mode", "enforcing" },
	{ "gate", "action", "rst" },
	{ "gate", "keep_attached", "maybe" },
	{ "gate", "state_dir", "var/lib/mailgate" },
	{ "limits", "syn_rate", "10" },
	{ "limits", "syn_rate", "10/x" },
	{ "limits", "syn_rate", "-1/s" },
	{ "limits", "syn_rate", "1e-20/s" },    /* an interval past any integer */
	{ "limits", "syn_rate", "2e9/s" },      /* an interval under 1 ns */
	{ "limits", "prefix_rate", "0.001/d" }, /* slower than one per 365 days */
	{ "limits", "syn_burst", "0" },
	{ "limits", "syn_burst", "100001" },
	{ "limits", "syn_burst", "twenty" },
	{ "limits", "syn_rate", "imaps:30/s" },
	{ "limits", "syn_rate", "imap:30" },
	{ "limits", "syn_rate", "imap:1e-20/s" },
	{ "limits", "syn_rate", "imap:30/s, 10/s" },  /* the plain value first */
	{ "limits", "syn_rate", "imap:30/s, imap:20/s" },
	{ "limits", "syn_rate", "10/s, 20/s" },
	{ "limits", "syn_rate", "imap:" },
	{ "limits", "syn_rate", "" },
	{ "limits", "syn_burst", "imap:0" },
	{ "limits", "syn_burst", "pop3:100001" },
	{ "limits", "syn_burst", "none:5" },
	{ "limits", "syn_burst", "smtp:5, smtp:6" },
	{ "limits", "prefix_v4", "33" },
	{ "limits", "prefix_v4", "7" },
	{ "limits", "prefix_v6", "129" },
	{ "limits", "prefix_rate", "fast" },
	{ "limits", "prefix_burst", "-5" },
	{ "limits", "max_concurrent", "1000001" },
	{ "limits", "max_concurrent", "imap:1000001" },
	{ "limits", "max_concurrent", "imaps:20" },
	{ "limits", "max_concurrent", "imap:20, imap:30" },
	{ "limits", "max_concurrent", "imap:50, 20" },
	{ "limits", "max_concurrent", "20, 30" },
	{ "limits", "max_concurrent", "smtp:" },
	{ "limits", "max_concurrent", "" },
	{ "limits", "ban_evidence", "0" },
	{ "limits", "ban_evidence", "ten" },
	{ "limits", "ban_concurrent", "sometimes" },
	{ "limits", "max_total_concurrent", "1e3" },
	{ "limits", "ban_after", "five" },
	{ "limits", "ban_window", "0s" },
	{ "limits", "ban_window", "2d" },
	{ "limits", "ban_time", "10 minutes" },
	{ "limits", "ban_time_max", "366d" },
	{ "limits", "flood_threshold", "50000" },
	{ "limits", "flood_budget", "1000/y" },
	{ "limits", "max_sources", "999" },
	{ "limits", "max_sources", "50000001" },
	{ "dnsbl", "threshold", "1001" },
	{ "dnsbl", "threshold", "3.5" },
	{ "dnsbl", "allowlist_threshold", "-1001" },
	{ "dnsbl", "pending", "wait" },
	{ "dnsbl", "resolvers", "" },
	{ "dnsbl", "resolvers", "127.0.0.1:0" },
	{ "dnsbl", "resolvers", "dns.example" },
	{ "dnsbl", "resolvers", "[::1" },
	{ "dnsbl", "resolvers", "127.0.0.1, system" },
	{ "dnsbl", "resolvers", "127.0.0.1 127.0.0.2" },
	{ "dnsbl", "timeout", "50ms" },
	{ "dnsbl", "timeout", "61s" },
	{ "dnsbl", "max_inflight", "0" },
	{ "dnsbl", "ttl_min", "0" },
	{ "dnsbl", "ttl_max", "8d" },
	{ "allow", "cidrs", "192.0.2.1/24" },
	{ "allow", "cidrs", "192.0.2.0/33" },
	{ "allow", "cidrs", "2001:db8::/129" },
	{ "allow", "cidrs", "192.0.2.0/24, nonsense" },
	{ "metrics", "listen", "127.0.0.1" },
	{ "metrics", "listen", "127.0.0.1:99999" },
	{ "metrics", "listen", "localhost:9433" },
	{ "metrics", "listen", "[::1]" },
	{ "metrics", "listen", "::1:9433" },
	{ "crowdsec", "lapi_url", "127.0.0.1:8080" },
	{ "crowdsec", "lapi_url", "ftp://127.0.0.1:8080/" },
	{ "crowdsec", "lapi_url", "http://" },
	{ "crowdsec", "lapi_url", "http://127.0.0.1:8080/?x=1" },
	{ "crowdsec", "lapi_url", "http://127.0.0.1:99999/" },
	{ "crowdsec", "poll", "0s" },
	{ "crowdsec", "poll", "2h" },
	{ "crowdsec", "poll", "10 s" },
	{ "gate", "denied", "refuse" },
	{ "gate", "banned", "Reject" },
	{ "dnsbl", "listed", "" },
};

TEST(bad_values)
{
	char text[512], want[256];

	for (size_t i = 0; i < sizeof(bad_values) / sizeof(bad_values[0]); i++) {
		const char *v = bad_values[i].value;
		const char *item = strrchr(v, ',') && strcmp(bad_values[i].key, "ports") ? strrchr(v, ',') + 2 : v;
		int rc;

		/* the key on line 5, after a comment and a blank line */
		snprintf(text, sizeof(text), "# test\n\n[%s]\n# the key:\n%s = %s\n",
			 bad_values[i].section, bad_values[i].key, v);
		rc = load(text);
		if (rc != -EINVAL) {
			test_fail(__FILE__, __LINE__, "[%s] %s = '%s' accepted (rc %d)",
				  bad_values[i].section, bad_values[i].key, v, rc);
			continue;
		}
		snprintf(want, sizeof(want), "key '%s': bad value '", bad_values[i].key);
		if (!err_is(5, want))
			test_fail(__FILE__, __LINE__, "[%s] %s = '%s'", bad_values[i].section,
				  bad_values[i].key, v);
		else if (!strstr(err, "(expected "))
			test_fail(__FILE__, __LINE__, "no 'expected' in: %s", err);
		else if (*item && !strstr(err, item) && strcmp(bad_values[i].key, "ports"))
			test_fail(__FILE__, __LINE__, "bad item '%s' not named in: %s", item, err);
	}
}

/* the bad item of a list is the one named */
TEST(bad_list_item_named)
{
	ASSERT_EQ(load("[allow]\ncidrs = 192.0.2.0/24, 198.51.100.1/24, 2001:db8::/32\n"), -EINVAL, "rc");
	err_is(2, "key 'cidrs': bad value '198.51.100.1/24' (expected");
	ASSERT_EQ(load("[gate]\nports = smtp, imap:99999, pop3\n"), -EINVAL, "rc");
	err_is(2, "key 'ports': bad value 'imap:99999' (expected");
	ASSERT_EQ(load("[gate]\nports = smtp, imap:143, pop3:25\n"), -EINVAL, "rc");
	err_is(2, "key 'ports': bad value 'pop3:25' (expected each port once)");
}

/* ---- structure ---- */
TEST(unknown_key)
{
	ASSERT_EQ(load("[gate]\nmode = observe\nmod = enforce\n"), -EINVAL, "rc");
	err_is(3, "unknown key 'mod' in section [gate]");
	/* a key of another section is unknown here */
	ASSERT_EQ(load("[limits]\nmode = observe\n"), -EINVAL, "rc");
	err_is(2, "unknown key 'mode' in section [limits]");
}

TEST(unknown_section)
{
	ASSERT_EQ(load("[gate]\nmode = observe\n\n[limit]\nsyn_rate = 1/s\n"), -EINVAL, "rc");
	err_is(4, "unknown section [limit]");
	/* an empty unknown section is an error too */
	ASSERT_EQ(load("[gate]\n[metric]\n"), -EINVAL, "rc");
	err_is(2, "unknown section [metric]");
}

TEST(key_outside_section)
{
	ASSERT_EQ(load("# top\nmode = observe\n"), -EINVAL, "rc");
	err_is(2, "key 'mode' outside a section");
}

TEST(duplicate_key)
{
	ASSERT_EQ(load("[gate]\nmode = observe\n[limits]\nsyn_burst = 5\n[gate]\nmode = enforce\n"),
		  -EINVAL, "rc");
	err_is(6, "key 'mode' already set on line 2");
	/* a section may reappear with other keys */
	if (!ASSERT_OK(load("[gate]\nmode = observe\n[limits]\nsyn_burst = 5\n[gate]\naction = reset\n"),
		       err))
		return;
	ASSERT_EQ(s->cfg.action, MG_ACTION_RESET, "second [gate] read");
}

TEST(syntax_error)
{
	ASSERT_EQ(load("[gate]\nmode = observe\nthis line has no equals sign\n"), -EINVAL, "rc");
	err_is(3, "syntax error");
	ASSERT_EQ(load("[gate\nmode = observe\n"), -EINVAL, "rc");
	err_is(1, "syntax error");
}

TEST(cross_key_checks)
{
	ASSERT_EQ(load("[limits]\nban_time = 2d\n"), -EINVAL, "ban_time > default max");
	err_is(2, "ban_time (2d) must not exceed ban_time_max (1d)");
	ASSERT_EQ(load("[limits]\nban_time_max = 1h\nban_time = 2h\n"), -EINVAL, "rc");
	err_is(3, "ban_time (2h) must not exceed ban_time_max (1h)");
	ASSERT_EQ(load("[dnsbl]\nttl_max = 10s\n\nttl_min = 1m\n"), -EINVAL, "rc");
	err_is(4, "ttl_min (1m) must not exceed ttl_max (10s)");
	ASSERT_EQ(load("[dnsbl]\nthreshold = 2\nallowlist_threshold = 2\n"), -EINVAL, "rc");
	err_is(3, "allowlist_threshold (2) must be below threshold (2)");
	ASSERT_OK(load("[limits]\nban_time = 2d\nban_time_max = 2d\n"), err);
}

/* A rate and its burst whose product (the time a full bucket spans) would
 * wrap the data path's sums is refused, naming the keys and values; the
 * same file passes with a burst that fits. */
TEST(rate_burst_span)
{
	ASSERT_EQ(load("[limits]\nsyn_rate = 0.30695/d\nsyn_burst = 65536\n"), -EINVAL, "syn 0.30695/d x 65536");
	if (err_is(3, "key 'syn_burst': syn_burst = 65536 with syn_rate = "))
		ASSERT_HAS_SUBSTR(err, "lower syn_burst or raise syn_rate", "the message");
	ASSERT_EQ(load("[limits]\nprefix_burst = 100000\nprefix_rate = 1/d\n"), -EINVAL, "prefix 1/d x 100000");
	err_is(3, "key 'prefix_rate': prefix_burst = 100000 with prefix_rate = 1/d");
	ASSERT_OK(load("[limits]\nsyn_rate = 0.30695/d\nsyn_burst = 1000\n"), err);
	ASSERT_OK(load("[limits]\nsyn_rate = 0/s\nsyn_burst = 100000\n"), err);
}

/* What the daemon refuses at start, config check refuses too: with sites
 * set, the [dnsbl] section as dnsbl_start() takes it (dnsbl_settings_check). */
TEST(dnsbl_checked_as_at_start)
{
	char text[1024];

	ASSERT_EQ(load("[dnsbl]\nsites = bl.example\nthreshold = 0\nallowlist_threshold = -5\n"), -EINVAL, "rc");
	err_is(3, "key 'threshold': threshold 0: must be at least 1");
	/* reported at the key's line, wherever sites stands */
	ASSERT_EQ(load("[dnsbl]\nthreshold = -2\nallowlist_threshold = -3\n\nsites = bl.example\n"), -EINVAL, "rc");
	err_is(2, "key 'threshold': threshold -2");
	/* without sites the DNSBL module does not run: nothing to refuse */
	ASSERT_OK(load("[dnsbl]\nsites =\nthreshold = 0\nallowlist_threshold = -5\n"), err);
	ASSERT_OK(load("[dnsbl]\nsites = bl.example\nthreshold = 1\nallowlist_threshold = 0\n"), err);
	/* at most 8 resolvers: a limit of the whole list */
	snprintf(text, sizeof(text), "[dnsbl]\nsites = bl.example\nresolvers = %s\n",
		 "192.0.2.1, 192.0.2.2, 192.0.2.3, 192.0.2.4, 192.0.2.5, 192.0.2.6, 192.0.2.7, 192.0.2.8");
	ASSERT_OK(load(text), err);
	snprintf(text, sizeof(text), "[dnsbl]\nsites = bl.example\n\nresolvers = %s, 192.0.2.9\n",
		 "192.0.2.1, 192.0.2.2, 192.0.2.3, 192.0.2.4, 192.0.2.5, 192.0.2.6, 192.0.2.7, 192.0.2.8");
	ASSERT_EQ(load(text), -EINVAL, "9 resolvers");
	err_is(4, "key 'resolvers': resolvers: more than 8 servers");
}

/* listen and resolvers are read by their modules' own parsers: the config
 * takes a value exactly when the daemon's module would */
TEST(values_as_the_modules_read_them)
{
	static const char *const listen[] = {
		"127.0.0.1:9433", "0.0.0.0:0", "[::1]:9100", "[::]:9433", "none", "127.0.0.1",
		"127.0.0.1:65536", "localhost:9433", "[::1]", "::1:9433", "[127.0.0.1]:80", "127.0.0.1:+80",
	};
	static const char *const servers[] = {
		"127.0.0.1", "127.0.0.1:53", "127.0.0.1:5353", "2001:db8::1", "[2001:db8::1]:53", "[::1]",
		"127.0.0.1:0", "127.0.0.1:65536", "[::1", "::1:53:x", "dns.example", "192.0.2.256",
	};
	struct sockaddr_storage ss;
	char text[256], why[256];

	for (size_t i = 0; i < sizeof(listen) / sizeof(listen[0]); i++) {
		int want = metrics_parse_listen(listen[i], &ss) < 0 ? -EINVAL : 0;

		snprintf(text, sizeof(text), "[metrics]\nlisten = %s\n", listen[i]);
		if (load(text) != want)
			test_fail(__FILE__, __LINE__, "listen = %s: config says %s, metrics_parse_listen %s",
				  listen[i], err[0] ? err : "ok", want ? "refuses" : "takes it");
	}
	for (size_t i = 0; i < sizeof(servers) / sizeof(servers[0]); i++) {
		int want = dnsbl_resolvers_check(servers[i], why, sizeof(why)) ? -EINVAL : 0;

		snprintf(text, sizeof(text), "[dnsbl]\nresolvers = %s\n", servers[i]);
		if (load(text) != want)
			test_fail(__FILE__, __LINE__, "resolvers = %s: config says %s, dnsbl_resolvers_check %s",
				  servers[i], err[0] ? err : "ok", want ? "refuses" : "takes it");
	}
}

TEST(comments_whitespace_crlf)
{
	ASSERT_EQ(load("; a comment\r\n# another\r\n[gate]   \r\n   mode   =   observe   # dry run\r\n"
		       "\tkeep_attached\t=\tyes\r\n"), 0, err);
	ASSERT_EQ(s->cfg.mode, MG_MODE_OBSERVE, "mode with comment and CRLF");
	ASSERT_EQ(s->keep_attached, 1, "tabs");
	ASSERT_EQ(load("[gate]\nmode = observe#no space before it: part of the value\n"), -EINVAL, "rc");
	err_is(2, "key 'mode': bad value 'observe#no space");
}

TEST(long_lines)
{
	size_t n = 20000;
	char *text = malloc(n + 64), *p;

	/* a long allow list on one line is fine */
	p = text + sprintf(text, "[allow]\ncidrs = ");
	for (int i = 0; i < 1000; i++)
		p += sprintf(p, "%s198.51.%d.%d/32", i ? ", " : "", i / 250, i % 250);
	strcpy(p, "\n");
	if (ASSERT_OK(load(text), err))
		ASSERT_EQ(s->n_allow, 1000, "1000 prefixes on one line");
	free(text);
	/* a line longer than the limit is an error, not split into two lines */
	n = 70000;
	text = malloc(n + 64);
	p = text + sprintf(text, "[gate]\nmode = ");
	memset(p, 'x', n);
	strcpy(p + n, "\n");
	ASSERT_EQ(load(text), -EINVAL, "over-long line refused");
	err_is(2, "line longer than");
	free(text);
}

TEST(missing_file)
{
	ASSERT_EQ(config_load("/nonexistent/mailgate.conf", s, err, sizeof(err)), -ENOENT, "rc");
	ASSERT_HAS_SUBSTR(err, "/nonexistent/mailgate.conf: cannot read", "the message");
	ASSERT_EQ(config_load("/tmp", s, err, sizeof(err)), -EISDIR, "directory");
}

/* ---- the value parsers of util.c ---- */
TEST(parse_duration_values)
{
	static const struct { const char *s; uint64_t ns; } good[] = {
		{ "30s", 30 * NSEC_PER_SEC }, { "10m", 600 * NSEC_PER_SEC }, { "1h", 3600 * NSEC_PER_SEC },
		{ "1d", 86400 * NSEC_PER_SEC }, { "45", 45 * NSEC_PER_SEC }, { "250ms", 250000000 },
		{ "0", 0 },
	};
	static const char *const bad[] = { "", "s", "-1s", "1.5h", "10 m", "1w", "10mm", "1h30m",
					   "99999999999999999999s" };
	uint64_t ns;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (ASSERT_OK(parse_duration(good[i].s, &ns), good[i].s))
			ASSERT_EQ(ns, good[i].ns, good[i].s);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ASSERT_EQ(parse_duration(bad[i], &ns), -EINVAL, bad[i]);
}

TEST(parse_rate_values)
{
	static const struct { const char *s; uint64_t ns; } good[] = {
		{ "10/s", 100000000 }, { "600/m", 100000000 }, { "1/h", 3600 * NSEC_PER_SEC },
		{ "0/s", 0 }, { "0.5/s", 2 * NSEC_PER_SEC }, { "2/d", 43200 * NSEC_PER_SEC },
	};
	static const char *const bad[] = { "", "10", "10/", "/s", "-1/s", "10/x", "10 /s", "ten/s",
					   "1e-20/s", "1e-300/s", "2e9/s", "1e9/ms", "0.001/d", "1e999/s" };
	uint64_t ns;

	/* the ends of the range */
	ASSERT_OK(parse_rate("1e9/s", &ns), "1e9/s");
	ASSERT_EQ(ns, 1, "1e9/s is 1 ns");
	ASSERT_OK(parse_rate("0.00274/d", &ns), "one per 365 days (rounded up)");

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (ASSERT_OK(parse_rate(good[i].s, &ns), good[i].s))
			ASSERT_EQ(ns, good[i].ns, good[i].s);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ASSERT_EQ(parse_rate(bad[i], &ns), -EINVAL, bad[i]);
}

TEST(parse_cidr_values)
{
	static const struct { const char *s; uint32_t len; } good[] = {
		{ "192.0.2.0/24", 120 }, { "192.0.2.7", 128 }, { "0.0.0.0/0", 96 },
		{ "2001:db8::/32", 32 }, { "2001:db8::1", 128 }, { "::/0", 0 },
		{ "::ffff:192.0.2.0/120", 120 },
	};
	static const char *const bad[] = { "", "/24", "192.0.2.0/", "192.0.2.0/33", "192.0.2.1/24",
					   "2001:db8::1/32", "2001:db8::/129", "192.0.2.0/-1",
					   "192.0.2/24", "example.org", "192.0.2.0/24x" };
	struct mg_lpm_key k;
	char buf[MG_ADDRSTRLEN + 8];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (ASSERT_OK(parse_cidr(good[i].s, &k), good[i].s))
			ASSERT_EQ(k.prefixlen, good[i].len, good[i].s);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ASSERT_EQ(parse_cidr(bad[i], &k), -EINVAL, bad[i]);
	parse_cidr("198.51.100.0/24", &k);
	ASSERT_STREQ(format_cidr(&k, buf, sizeof(buf)), "198.51.100.0/24", "format_cidr(&k, buf, sizeof(buf))");
	parse_cidr("2001:db8:1::/48", &k);
	ASSERT_STREQ(format_cidr(&k, buf, sizeof(buf)), "2001:db8:1::/48", "format_cidr(&k, buf, sizeof(buf))");
}

TEST(parse_addr_values)
{
	struct mg_addr a;
	char buf[MG_ADDRSTRLEN];

	ASSERT_OK(parse_addr("192.0.2.1", &a), "v4");
	ASSERT_TRUE(addr_is_v4(&a), "v4 is mapped");
	ASSERT_STREQ(format_addr(&a, buf, sizeof(buf)), "192.0.2.1", "format_addr(&a, buf, sizeof(buf))");
	ASSERT_OK(parse_addr("2001:db8::1", &a), "v6");
	ASSERT_TRUE(!addr_is_v4(&a), "v6 is not mapped");
	ASSERT_EQ(parse_addr("192.0.2.0/24", &a), -EINVAL, "a prefix is not an address");
	ASSERT_EQ(parse_addr("192.0.2.256", &a), -EINVAL, "octet 256");
	ASSERT_EQ(parse_addr("", &a), -EINVAL, "empty");
}

TEST(format_values)
{
	char buf[64];

	ASSERT_STREQ(format_duration(598 * NSEC_PER_SEC, buf, sizeof(buf)), "9m58s", "format_duration(598 * NSEC_PER_SEC, buf, sizeof(buf))");
	ASSERT_STREQ(format_duration(86400 * NSEC_PER_SEC, buf, sizeof(buf)), "1d", "format_duration(86400 * NSEC_PER_SEC, buf, sizeof(buf))");
	ASSERT_STREQ(format_expiry(0, 5, buf, sizeof(buf)), "never", "format_expiry(0, 5, buf, sizeof(buf))");
	ASSERT_STREQ(format_expiry(601 * NSEC_PER_SEC, NSEC_PER_SEC, buf, sizeof(buf)), "in 10m", "format_expiry(601 * NSEC_PER_SEC, NSEC_PER_SEC, buf, sizeof(buf))");
	ASSERT_STREQ(format_expiry(NSEC_PER_SEC, 4 * NSEC_PER_SEC, buf, sizeof(buf)), "expired 3s ago", "format_expiry(NSEC_PER_SEC, 4 * NSEC_PER_SEC, buf, sizeof(buf))");
	ASSERT_STREQ(format_rate(100000000, buf, sizeof(buf)), "10/s", "format_rate(100000000, buf, sizeof(buf))");
	ASSERT_STREQ(format_rate(2 * NSEC_PER_SEC, buf, sizeof(buf)), "30/m", "format_rate(2 * NSEC_PER_SEC, buf, sizeof(buf))");
	ASSERT_STREQ(format_rate(1800 * NSEC_PER_SEC, buf, sizeof(buf)), "2/h", "format_rate(1800 * NSEC_PER_SEC, buf, sizeof(buf))");
	ASSERT_STREQ(format_rate(20000, buf, sizeof(buf)), "50k/s", "format_rate(20000, buf, sizeof(buf))");
	ASSERT_STREQ(format_rate(0, buf, sizeof(buf)), "off", "format_rate(0, buf, sizeof(buf))");
	ASSERT_STREQ(format_count(1234, buf, sizeof(buf)), "1.2k", "format_count(1234, buf, sizeof(buf))");
	ASSERT_STREQ(format_count(2.5, buf, sizeof(buf)), "2.5", "format_count(2.5, buf, sizeof(buf))");
	ASSERT_STREQ(format_count(37, buf, sizeof(buf)), "37", "format_count(37, buf, sizeof(buf))");
}

/* [gate] state_dir: an absolute path or none; the state file is named
 * after the pin dir, so two pin dirs never share one */
TEST(state_dir)
{
	char a[PATH_MAX], b[PATH_MAX], c[PATH_MAX];

	config_defaults(d);
	ASSERT_STREQ(d->state_dir, "/var/lib/mailgate", "default");
	if (ASSERT_OK(load("[gate]\nstate_dir = none\n"), err))
		ASSERT_STREQ(s->state_dir, "none", "none");
	if (ASSERT_OK(load("[gate]\nstate_dir = /srv/mg state\n"), err))
		ASSERT_STREQ(s->state_dir, "/srv/mg state", s->state_dir);
	ASSERT_OK(state_path("/var/lib/mailgate", "/sys/fs/bpf/mailgate", a, sizeof(a)), "path a");
	ASSERT_OK(state_path("/var/lib/mailgate", "/sys/fs/bpf/mailgate_2", b, sizeof(b)), "path b");
	ASSERT_OK(state_path("/var/lib/mailgate", "/sys/fs/bpf/mailgate/2", c, sizeof(c)), "path c");
	ASSERT_TRUE(!strncmp(a, "/var/lib/mailgate/sys_fs_bpf_mailgate-", 38), a);
	ASSERT_HAS_SUBSTR(a, ".state", "path a");
	/* the same name after sanitizing, told apart by the hash of the path */
	ASSERT_TRUE(strcmp(a, b) && strcmp(b, c) && strcmp(a, c), c);
	ASSERT_OK(state_path("/x", "/sys/fs/bpf/mailgate/", c, sizeof(c)), "trailing slash");
	ASSERT_EQ(state_path("/x", "/sys/fs/bpf/mailgate", c, 20), -ENAMETOOLONG, "too long");
}

int main(int argc, char **argv)
{
	return test_main(argc, argv, setup, teardown);
}

/* [crowdsec]: a URL needs a key; the key comes from api_key or from the
 * first line of api_key_file, never both; a bad key is not echoed */
TEST(crowdsec_keys)
{
	char kf[64], text[512];
	FILE *f;
	int fd;

	ASSERT_EQ(load("[crowdsec]\nlapi_url = http://127.0.0.1:8080/\n"), -EINVAL, "url without key");
	err_is(2, "key 'api_key': lapi_url is set, but no api_key");
	ASSERT_EQ(load("[crowdsec]\nlapi_url = http://127.0.0.1:8080/\napi_key =\n"), -EINVAL, "empty key");
	err_is(3, "key 'api_key': lapi_url is set, but no api_key");
	ASSERT_EQ(load("[crowdsec]\napi_key = secret key\n"), -EINVAL, "key with a space");
	err_is(2, "key 'api_key': bad value '(not shown)'");
	ASSERT_NO_SUBSTR(err, "secret", "the key is not in the message");
	ASSERT_EQ(load("[crowdsec]\napi_key_file = /nonexistent/mgt.key\n"), -EINVAL, "missing key file");
	err_is(2, "key 'api_key_file': cannot read '/nonexistent/mgt.key'");

	snprintf(kf, sizeof(kf), "/tmp/mgt-cskey-XXXXXX");
	fd = mkstemp(kf);
	if (!ASSERT_TRUE(fd >= 0, "mkstemp"))
		return;
	close(fd);
	ASSERT_EQ(load("[crowdsec]\napi_key_file = /dev/null\n"), -EINVAL, "empty key file");
	err_is(2, "key 'api_key_file': '/dev/null' holds no usable key");
	f = fopen(kf, "w");
	fputs("0123abcdef\n", f);
	fclose(f);
	snprintf(text, sizeof(text), "[crowdsec]\nlapi_url = http://[::1]:8080\napi_key_file = %s\npoll = 2s\n", kf);
	if (ASSERT_OK(load(text), err)) {
		ASSERT_STREQ(s->crowdsec_key, "0123abcdef", "key read from the file");
		ASSERT_STREQ(s->crowdsec_url, "http://[::1]:8080", "url");
		ASSERT_EQ(s->crowdsec_poll_ns, 2 * NSEC_PER_SEC, "poll");
	}
	snprintf(text, sizeof(text), "[crowdsec]\napi_key = abc\napi_key_file = %s\n", kf);
	ASSERT_EQ(load(text), -EINVAL, "both");
	err_is(3, "key 'api_key_file': api_key is set too");
	ASSERT_OK(load("[crowdsec]\nlapi_url = https://lapi.example:8080/\napi_key = abc\n"), err);
	unlink(kf);
}
