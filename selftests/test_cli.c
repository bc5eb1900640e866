// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The management commands end to end: this test loads the data path into
 * its own pin dir (/sys/fs/bpf/mgt-cli-PID), runs the built binary
 * (.output/mailgate --pin-dir DIR ...) as an operator would, and checks the
 * effect on the maps and on the real XDP program, fed with SYN frames
 * through BPF_PROG_TEST_RUN: deny/allow/ban take effect on the next SYN and
 * are undone by del, TTLs expire, input is all-or-nothing, bad input exits 2
 * naming the value, --json parses, and lookup's verdict is the data path's.
 * The status case attaches to a veth in a network namespace of its own. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <json-c/json.h>
#include "test.h"
#include "mailgate.h"
#include "dnsbl.h"
#include "fixture.h"
#include "cli_run.h"

static char pin_dir[128];
static struct fixture fx;
static struct mg_config base_cfg;

/* ---- feeding the data path ---- */
static int syn(const char *src, uint16_t dport)
{
	return fx_syn(&fx, src, dport);
}

static uint64_t counter(int reason)
{
	uint64_t c[MG_COUNTER_SLOTS], t = 0;

	gate_read_counters(&fx.g, c);
	for (int k = 0; k < MG_CLASS_MAX; k++)
		t += c[MG_COUNTER_IDX(reason, k)];
	return t;
}

static void set_cfg(void (*change)(struct mg_config *c))
{
	struct mg_config c = base_cfg;

	if (change)
		change(&c);
	gate_write_config(&fx.g, &c);
}

/* forget per-source state between cases; the base config */
static void reset_state(void)
{
	fx_reset(&fx, &base_cfg);
}

static long entries(enum gate_map m)
{
	return m == GM_ALLOW || m == GM_DENY ? fx_list_count(&fx, m) : map_count(fx.g.fd[m], NULL);
}

/* ---- setup ---- */
static int setup(void)
{
	struct mg_settings *s = malloc(sizeof(*s));

	if (!s || cli_setup("cli"))
		return 1;
	if (fx_load(&fx, "cli", 4096))
		return 1;
	snprintf(pin_dir, sizeof(pin_dir), "%.120s", fx.g.pin_dir);
	config_defaults(s);
	base_cfg = s->cfg;
	gate_write_config(&fx.g, &base_cfg);
	gate_write_ports(&fx.g, s->ports);
	free(s);
	return 0;
}

static void teardown(void)
{
	fx_unload(&fx);
	cli_teardown();
}

/* ---- lists take effect on the next SYN ---- */
TEST(deny_add_del)
{
	uint64_t d0;

	reset_state();
	if (!ASSERT_EQ(syn("192.0.2.10", 25), XDP_PASS, "before: pass"))
		return;
	d0 = counter(MG_REASON_DROP_DENY);
	if (!RUN_OK("deny add 192.0.2.0/24 2001:db8:1::/48"))
		return;
	ASSERT_HAS_SUBSTR(err, "192.0.2.0/24", "add confirms the prefix (stderr)");
	ASSERT_EQ(syn("192.0.2.10", 25), XDP_DROP, "v4 in the prefix: drop");
	ASSERT_EQ(syn("192.0.2.99", 587), XDP_DROP, "another address, another gated port: drop");
	ASSERT_EQ(syn("192.0.3.10", 25), XDP_PASS, "outside: pass");
	ASSERT_EQ(syn("2001:db8:1:2::5", 25), XDP_DROP, "v6 in the prefix: drop");
	ASSERT_EQ(syn("192.0.2.10", 80), XDP_PASS, "port not gated: pass");
	ASSERT_EQ(counter(MG_REASON_DROP_DENY) - d0, 3, "drop_deny counted 3");
	if (!RUN_OK("deny del 192.0.2.0/24"))
		return;
	ASSERT_EQ(syn("192.0.2.10", 25), XDP_PASS, "after del: pass");
	ASSERT_EQ(syn("2001:db8:1:2::5", 25), XDP_DROP, "the other entry stays");
	ASSERT_EQ(entries(GM_DENY), 1, "one entry left");
}

TEST(allow_wins)
{
	reset_state();
	if (!RUN_OK("deny add 198.51.100.0/24") || !RUN_OK("allow add 198.51.100.7"))
		return;
	ASSERT_EQ(syn("198.51.100.7", 25), XDP_PASS, "allowed address inside a denied prefix: pass");
	ASSERT_EQ(syn("198.51.100.8", 25), XDP_DROP, "its neighbour: drop");
	if (!RUN_OK("allow del 198.51.100.7/32"))
		return;
	ASSERT_EQ(syn("198.51.100.7", 25), XDP_DROP, "allow removed: drop");
}

TEST(ban_add_del)
{
	struct mg_addr a;
	struct mg_ban b;

	reset_state();
	if (!RUN_OK("ban add 203.0.113.5 2001:db8::bad --ttl 1h"))
		return;
	ASSERT_EQ(syn("203.0.113.5", 25), XDP_DROP, "banned v4: drop");
	ASSERT_EQ(syn("203.0.113.6", 25), XDP_PASS, "neighbour: pass");
	ASSERT_EQ(syn("2001:db8::bad", 993), XDP_DROP, "banned v6: drop");
	parse_addr("203.0.113.5", &a);
	if (ASSERT_OK(bpf_map_lookup_elem(fx.g.fd[GM_BAN], &a, &b), "ban entry")) {
		uint64_t left = b.expires_ns - now_boot_ns();

		ASSERT_RANGE(left / NSEC_PER_SEC, 3500, 3600, "expires in about 1h");
		ASSERT_EQ(b.origin, MG_ORIGIN_CLI, "origin cli");
	}
	if (!RUN_OK("ban list"))
		return;
	ASSERT_HAS_SUBSTR(out, "203.0.113.5", "list shows the ban and its expiry");
	ASSERT_HAS_SUBSTR(out, "in 59m", "list shows the ban and its expiry");
	if (!RUN_OK("ban del 203.0.113.5"))
		return;
	ASSERT_EQ(syn("203.0.113.5", 25), XDP_PASS, "after del: pass");
	ASSERT_EQ(syn("2001:db8::bad", 993), XDP_DROP, "the other ban stays");
}

/* Bans are in two maps: the operator's (mg_ban) and the data path's quota
 * bans (mg_ban_quota). list, del, lookup and zone export cover both; one
 * address may have one of each. */
TEST(ban_both_maps)
{
	struct mg_addr a = {}, q = {};
	struct mg_ban qb = { .origin = MG_ORIGIN_QUOTA, .level = 1, .created_ns = now_boot_ns(),
			     .expires_ns = now_boot_ns() + 600 * NSEC_PER_SEC };

	reset_state();
	parse_addr("198.51.100.50", &q);
	parse_addr("198.51.100.51", &a);
	ASSERT_OK(bpf_map_update_elem(fx.g.fd[GM_BAN_QUOTA], &q, &qb, BPF_ANY), "quota ban .50");
	ASSERT_OK(bpf_map_update_elem(fx.g.fd[GM_BAN_QUOTA], &a, &qb, BPF_ANY), "quota ban .51");
	if (!RUN_OK("ban add 198.51.100.51"))
		return;
	ASSERT_EQ(entries(GM_BAN), 1, "the operator's ban in mg_ban");
	if (RUN_OK("ban list --json")) {
		struct json_object *o = parse_out(), *c;

		ASSERT_TRUE(o && json_object_object_get_ex(o, "count", &c) && json_object_get_int(c) == 3,
			    "three bans listed (.50 quota, .51 cli and quota)");
		json_object_put(o);
	}
	if (RUN_OK("ban list"))
		ASSERT_HAS_SUBSTR(out, "198.51.100.50  quota", "the quota ban shown with its origin");
	if (RUN_OK("lookup 198.51.100.50"))
		ASSERT_HAS_SUBSTR(out, "banned (origin quota, level 1", "lookup sees the quota ban");
	if (RUN_OK("zone export -")) {
		const char *p = strstr(out, "198.51.100.51/32");

		ASSERT_HAS_SUBSTR(out, "198.51.100.50/32", "zone export has the quota ban");
		if (ASSERT_TRUE(p != NULL, "the address with two bans exported"))
			ASSERT_NO_SUBSTR(p + 1, "198.51.100.51/32", "and the address with two bans once");
	}
	if (!RUN_OK("ban del 198.51.100.50 198.51.100.51"))
		return;
	ASSERT_EQ(entries(GM_BAN) + entries(GM_BAN_QUOTA), 0, "del removes both maps' bans");
	ASSERT_EQ(syn("198.51.100.51", 25), XDP_PASS, "after del: pass");
}

/* mg_ban never evicts: when full, `ban add` fails naming the map and its
 * capacity, and adds nothing (all or nothing) */
TEST(ban_map_full)
{
	uint32_t n = MG_MAX_BAN - 1, count = n;
	struct mg_addr *keys = calloc(n, sizeof(*keys));
	struct mg_ban *vals = calloc(n, sizeof(*vals));
	LIBBPF_OPTS(bpf_map_batch_opts, bo);
	int rc;

	reset_state();
	if (!ASSERT_TRUE(keys && vals, "memory"))
		goto out;
	for (uint32_t i = 0; i < n; i++) {
		keys[i].a[0] = 0x20, keys[i].a[1] = 0x01, keys[i].a[2] = 0x0d, keys[i].a[3] = 0xb8;
		memcpy(&keys[i].a[12], &i, 4);
		vals[i].origin = MG_ORIGIN_CLI;
	}
	if (!ASSERT_OK(bpf_map_update_batch(fx.g.fd[GM_BAN], keys, vals, &count, &bo) ? -errno : 0, "fill mg_ban"))
		goto out;
	rc = run("ban add 192.0.2.200 192.0.2.201");
	check_rc(rc, 1, "ban add into a full map");
	ASSERT_HAS_SUBSTR(err, "mg_ban is full", "the message names the map and its capacity");
	ASSERT_HAS_SUBSTR(err, "262144", "the message names the map and its capacity");
	ASSERT_HAS_SUBSTR(err, "nothing added", "and says nothing was added");
	ASSERT_EQ(entries(GM_BAN), n, "the first of the two rolled back");
	ASSERT_EQ(syn("192.0.2.200", 25), XDP_PASS, "not banned");
	count = n;
	bpf_map_delete_batch(fx.g.fd[GM_BAN], keys, &count, &bo);
	ASSERT_EQ(entries(GM_BAN), 0, "emptied");
out:
	free(keys);
	free(vals);
}

/* TTL: the data path stops applying the entry when it expires, list hides
 * it; 1s TTL, checked 2.5s later (generous for a loaded machine) */
TEST(ttl_expires)
{
	reset_state();
	if (!RUN_OK("deny add 192.0.2.0/25 --ttl 1s") || !RUN_OK("ban add 192.0.2.200 --ttl 1s"))
		return;
	ASSERT_EQ(syn("192.0.2.1", 25), XDP_DROP, "denied while the TTL runs");
	ASSERT_EQ(syn("192.0.2.200", 25), XDP_DROP, "banned while the TTL runs");
	usleep(2500000);
	ASSERT_EQ(syn("192.0.2.1", 25), XDP_PASS, "deny expired: pass");
	ASSERT_EQ(syn("192.0.2.200", 25), XDP_PASS, "ban expired: pass");
	if (RUN_OK("deny list")) {
		ASSERT_NO_SUBSTR(out, "192.0.2.0/25", "list hides the expired entry");
		ASSERT_HAS_SUBSTR(err, "1 expired entry not shown", "the note on stderr");
	}
	if (RUN_OK("deny list --all")) {
		ASSERT_HAS_SUBSTR(out, "192.0.2.0/25", "--all shows it");
		ASSERT_HAS_SUBSTR(out, "expired", "--all shows it as expired");
	}
	if (RUN_OK("ban list")) {
		ASSERT_NO_SUBSTR(out, "192.0.2.200", "expired ban hidden");
		ASSERT_HAS_SUBSTR(err, "1 expired entry not shown", "the note on stderr");
	}
	if (RUN_OK("ban list --all")) {
		ASSERT_HAS_SUBSTR(out, "192.0.2.200", "--all shows the expired ban");
		ASSERT_HAS_SUBSTR(out, "expired", "--all shows it as expired");
	}
}

/* a map update failing half way (the allow list is full) rolls back */
TEST(full_list_rolls_back)
{
	uint32_t max = list_capacity(MG_LIST_ALLOW);
	struct mg_lpm_key *k = calloc(max, sizeof(*k));
	struct mg_rule *r = calloc(max, sizeof(*r));
	struct mg_rule got;
	long n;

	reset_state();
	for (uint32_t i = 0; i + 1 < max; i++) { /* one slot left */
		k[i].prefixlen = r[i].prefixlen = 128;
		k[i].a[0] = 0x20, k[i].a[1] = 0x01, k[i].a[2] = 0x0d, k[i].a[3] = 0xb8, k[i].a[4] = 0x77;
		k[i].a[13] = i >> 16, k[i].a[14] = i >> 8, k[i].a[15] = i;
	}
	ASSERT_OK(fx_list_fill(&fx, GM_ALLOW, k, r, max - 1), "fill");
	free(k);
	free(r);
	if (!ASSERT_EQ(entries(GM_ALLOW), max - 1, "one slot left"))
		return;
	check_rc(run("allow add 192.0.2.1 192.0.2.2 192.0.2.3"), 1, "the second does not fit");
	ASSERT_HAS_SUBSTR(err, "cannot add 192.0.2.2/32", "stderr");
	ASSERT_HAS_SUBSTR(err, "nothing added", "stderr");
	n = entries(GM_ALLOW);
	ASSERT_EQ(n, max - 1, "the first was rolled back");
	{
		struct mg_lpm_key q;

		parse_cidr("192.0.2.1", &q);
		ASSERT_TRUE(list_get(&fx.g, MG_LIST_ALLOW, &q, &got) != 0, "192.0.2.1 is not in the allow list");
	}
	if (RUN_OK("allow add 192.0.2.1"))
		ASSERT_EQ(entries(GM_ALLOW), max, "one still fits");
	reset_state();
}

/* more entries than one batch of the map walk (4096), listed and counted once */
TEST(large_list)
{
	struct json_object *o;
	int n = 10000;

	static struct mg_lpm_key k[10000];
	static struct mg_rule r[10000];

	reset_state();
	for (int i = 0; i < n; i++) {
		k[i] = (struct mg_lpm_key){ .prefixlen = 128 };
		r[i] = (struct mg_rule){ .prefixlen = 128, .origin = MG_ORIGIN_ZONE };
		k[i].a[0] = 0x20, k[i].a[1] = 0x01, k[i].a[2] = 0x0d, k[i].a[3] = 0xb8;
		k[i].a[14] = i >> 8, k[i].a[15] = i;
	}
	ASSERT_OK(fx_list_fill(&fx, GM_DENY, k, r, n), "fill");
	if (RUN_OK("deny list --json") && (o = parse_out())) {
		ASSERT_EQ(json_object_get_int(jget(o, "count")), n, "count");
		ASSERT_EQ(json_object_array_length(jget(o, "entries")), n, "entries");
		ASSERT_STREQ(jstr(o, "entries.0.cidr"), "2001:db8::/128", "sorted: first");
		ASSERT_STREQ(jstr(o, "entries.9999.cidr"), "2001:db8::270f/128", "sorted: last");
		ASSERT_STREQ(jstr(o, "entries.0.origin"), "zone", "origin zone");
		json_object_put(o);
	}
	if (RUN_OK("status --json") && (o = parse_out())) {
		ASSERT_STREQ(jstr(o, "maps.3.name"), "mg_deny", "mg_deny row (gate_map order)");
		ASSERT_EQ(json_object_get_int(jget(o, "maps.3.entries")), n, "mg_deny entries");
		json_object_put(o);
	}
	if (RUN_OK("deny list")) {
		int lines = 0;

		for (char *p = out; (p = strchr(p, '\n')); p++)
			lines++;
		ASSERT_EQ(lines, n, "human list into a pipe: one line each (the header on stderr)");
	}
	reset_state();
}

/* ---- all or nothing ---- */
TEST(all_or_nothing_add)
{
	int rc;

	reset_state();
	rc = run("deny add 192.0.2.0/28 192.0.2.16/28 192.0.2.32/28 192.0.2.48/28 192.0.2.64/28 "
		 "192.0.2.80/28 192.0.2.96/28 192.0.2.113/28 192.0.2.128/28 192.0.2.144/28");
	if (!check_rc(rc, 2, "one bad CIDR among ten"))
		return;
	ASSERT_HAS_SUBSTR(err, "'192.0.2.113/28'", "message names the bad value");
	ASSERT_EQ(strchr(err, '\n') - err + 1, (long)strlen(err), "one line on stderr");
	ASSERT_EQ(entries(GM_DENY), 0, "none added");
	ASSERT_EQ(syn("192.0.2.1", 25), XDP_PASS, "first prefix not applied");
	rc = run("ban add 198.51.100.1 198.51.100.2 198.51.100.300");
	check_rc(rc, 2, "one bad address among three");
	ASSERT_HAS_SUBSTR(err, "'198.51.100.300'", "message names the bad address");
	ASSERT_EQ(entries(GM_BAN), 0, "no ban added");
}

TEST(all_or_nothing_del)
{
	reset_state();
	if (!RUN_OK("deny add 192.0.2.0/24 198.51.100.0/24"))
		return;
	check_rc(run("deny del 192.0.2.0/24 203.0.113.0/24"), 1, "del with one entry not in the list");
	ASSERT_HAS_SUBSTR(err, "203.0.113.0/24 is not in the deny list", "stderr");
	ASSERT_EQ(entries(GM_DENY), 2, "nothing deleted");
	/* a longer prefix of a listed one is not the listed one */
	check_rc(run("deny del 192.0.2.0/25"), 1, "del of a sub-prefix");
	ASSERT_EQ(entries(GM_DENY), 2, "still nothing deleted");
}

/* ---- bad input: exit 2, one line naming the value; JSON errors are JSON ---- */
static const struct {
	const char *args;
	int rc;
	const char *named;
} bad_inputs[] = {
	{ "deny add 192.0.2.0/33", 2, "'192.0.2.0/33'" },
	{ "deny add 192.0.2.1/24", 2, "'192.0.2.1/24'" },
	{ "allow add not-an-address", 2, "'not-an-address'" },
	{ "allow del 2001:db8::/129", 2, "'2001:db8::/129'" },
	{ "ban add 192.0.2.0/24", 2, "'192.0.2.0/24'" },
	{ "ban add 192.0.2.256", 2, "'192.0.2.256'" },
	{ "deny add 192.0.2.0/24 --ttl 10x", 2, "'10x'" },
	{ "deny add 192.0.2.0/24 --ttl 0", 2, "'0'" },
	{ "ban add 192.0.2.1 --ttl -5m", 2, "'-5m'" },
	{ "deny add 192.0.2.0/24 --frobnicate", 2, "'--frobnicate'" },
	{ "deny add 192.0.2.0/24 -z", 2, "'-z'" },
	{ "deny add 192.0.2.0/24 --ttl", 2, "'--ttl'" },
	{ "deny delete 192.0.2.0/24", 2, "'delete'" },
	{ "deny", 2, "missing subcommand" },
	{ "deny add", 2, "no CIDR" },
	{ "deny list --ttl 1h", 2, "--ttl" },
	{ "frobnicate", 2, "'frobnicate'" },
	{ "lookup 192.0.2.0/24", 2, "'192.0.2.0/24'" },
	{ "lookup 192.0.2.1 --port 70000", 2, "'70000'" },
	{ "lookup", 2, "one address" },
	{ "stats --watch 0s", 2, "'0s'" },
	{ "stats --watch soon", 2, "'soon'" },
	{ "stats --bogus", 2, "'--bogus'" },
	{ "top -n many", 2, "'many'" },
	{ "top --interval 1y", 2, "'1y'" },
	{ "status extra", 2, "'extra'" },
	{ "config check", 2, "one FILE" },
	{ "config verify x", 2, "'verify'" },
	{ "config check /nonexistent/mailgate.conf", 2, "/nonexistent/mailgate.conf" },
};

TEST(bad_input)
{
	reset_state();
	for (size_t i = 0; i < sizeof(bad_inputs) / sizeof(bad_inputs[0]); i++) {
		struct json_object *o, *e;
		int rc = run("%s", bad_inputs[i].args);

		if (rc != bad_inputs[i].rc || !strstr(err, bad_inputs[i].named) || strncmp(err, "mailgate: ", 10) ||
		    strchr(err, '\n') != err + strlen(err) - 1 || out[0]) {
			test_fail(__FILE__, __LINE__, "'%s': exit %d (want %d), stderr '%s' (want one line naming %s)",
				  bad_inputs[i].args, rc, bad_inputs[i].rc, err, bad_inputs[i].named);
			continue;
		}
		/* the same in JSON mode: a JSON error on stdout, same exit code */
		rc = run("%s --json", bad_inputs[i].args);
		o = json_tokener_parse(out);
		if (rc != bad_inputs[i].rc || !o || !json_object_object_get_ex(o, "error", &e) ||
		    !strstr(json_object_get_string(e), bad_inputs[i].named))
			test_fail(__FILE__, __LINE__, "'%s --json': exit %d, stdout '%s'", bad_inputs[i].args, rc, out);
		json_object_put(o);
	}
	ASSERT_EQ(entries(GM_DENY) + entries(GM_BAN) + entries(GM_ALLOW), 0, "nothing was added by bad input");
}

/* config check: ok, or exit 2 with FILE:LINE naming the bad value */
TEST(config_check_cmd)
{
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/mgt-cli-%d.conf", getpid());
	f = fopen(path, "w");
	fputs("[limits]\nsyn_rate = 20/s\n", f);
	fclose(f);
	if (RUN_OK("config check %s", path))
		ASSERT_HAS_SUBSTR(out, ": ok", "stdout");
	f = fopen(path, "w");
	fputs("[gate]\nmode = observe\n[limits]\nsyn_rate = 20/x\n", f);
	fclose(f);
	check_rc(run("config check %s", path), 2, "bad rate");
	ASSERT_HAS_SUBSTR(err, ":4: key 'syn_rate': bad value '20/x'", "stderr");
	check_rc(run("config check %s --json", path), 2, "bad rate, JSON");
	ASSERT_HAS_SUBSTR(out, "\"error\"", "stdout");
	ASSERT_HAS_SUBSTR(out, "'20/x'", "stdout");
	/* what the daemon would refuse at start: threshold 0 with sites set */
	f = fopen(path, "w");
	fputs("[dnsbl]\nsites = bl.example\nthreshold = 0\nallowlist_threshold = -1\n", f);
	fclose(f);
	check_rc(run("config check %s", path), 2, "threshold 0 with sites");
	ASSERT_HAS_SUBSTR(err, ":3: key 'threshold': threshold 0: must be at least 1", "stderr");
	f = fopen(path, "w");
	fputs("[metrics]\nlisten = 127.0.0.1:http\n", f);
	fclose(f);
	check_rc(run("config check %s", path), 2, "listen without a numeric port");
	ASSERT_HAS_SUBSTR(err, ":2: key 'listen': bad value '127.0.0.1:http'", "stderr");
	unlink(path);
}

/* options may stand before or after the arguments, global ones anywhere */
TEST(options_anywhere)
{
	char cmd[2048];
	int st;

	reset_state();
	snprintf(cmd, sizeof(cmd), "%s deny add 192.0.2.0/24 --pin-dir %s >/dev/null", bin, pin_dir);
	st = system(cmd);
	ASSERT_EQ(WEXITSTATUS(st), 0, "--pin-dir after the arguments");
	snprintf(cmd, sizeof(cmd), "%s --ttl 1h ban --pin-dir=%s add 203.0.113.9 >/dev/null 2>&1", bin, pin_dir);
	st = system(cmd);
	ASSERT_EQ(WEXITSTATUS(st), 2, "a subcommand option before the command is refused");
	snprintf(cmd, sizeof(cmd), "MAILGATE_PIN_DIR=%s %s ban add --ttl 1h 203.0.113.9 --json >/dev/null", pin_dir, bin);
	st = system(cmd);
	ASSERT_EQ(WEXITSTATUS(st), 0, "MAILGATE_PIN_DIR, --ttl before the address, --json last");
	ASSERT_EQ(syn("192.0.2.3", 25), XDP_DROP, "deny applied");
	ASSERT_EQ(syn("203.0.113.9", 25), XDP_DROP, "ban applied");
}

TEST(missing_state_and_not_root)
{
	char cmd[2048];
	FILE *f;
	char line[512] = "";
	int st;

	snprintf(cmd, sizeof(cmd), "%s --pin-dir /sys/fs/bpf/mgt-cli-none deny list 2>&1", bin);
	f = popen(cmd, "r");
	if (!fgets(line, sizeof(line), f))
		line[0] = 0;
	st = pclose(f);
	ASSERT_EQ(WEXITSTATUS(st), 1, "no pin dir: exit 1");
	ASSERT_HAS_SUBSTR(line, "no mailgate state under /sys/fs/bpf/mgt-cli-none: is `mailgate run` running?", "line");
	snprintf(cmd, sizeof(cmd), "setpriv --reuid=65534 --regid=65534 --clear-groups %s --pin-dir %s deny list 2>&1",
		 bin, pin_dir);
	f = popen(cmd, "r");
	if (!fgets(line, sizeof(line), f))
		line[0] = 0;
	st = pclose(f);
	ASSERT_EQ(WEXITSTATUS(st), 1, "not root: exit 1");
	ASSERT_HAS_SUBSTR(line, "this command needs root (CAP_BPF/CAP_SYS_ADMIN)", "line");
}

/* ---- list output ---- */
TEST(list_columns_and_json)
{
	struct json_object *o;
	char *l1, *l2;

	reset_state();
	if (!RUN_OK("deny add 2001:db8:abcd::/48 192.0.2.0/24 --ttl 10m") || !RUN_OK("deny add 198.51.100.0/24"))
		return;
	if (!RUN_OK("deny list"))
		return;
	/* v4 sorted, then v6; columns aligned */
	l1 = strstr(out, "192.0.2.0/24");
	l2 = strstr(out, "2001:db8:abcd::/48");
	ASSERT_TRUE(!strncmp(err, "PREFIX", 6), "header (stderr when not a terminal)");
	ASSERT_NO_SUBSTR(out, "PREFIX", "no header on stdout");
	ASSERT_TRUE(l1 && l2 && l1 < strstr(out, "198.51.100.0/24") && strstr(out, "198.51.100.0/24") < l2, "sorted");
	ASSERT_HAS_SUBSTR(out, "never", "expiry shown");
	ASSERT_HAS_SUBSTR(out, "in 9m5", "expiry shown");
	if (l1 && l2)
		ASSERT_EQ(strstr(l1, "cli") - l1, strstr(l2, "cli") - l2, "ORIGIN column aligned");
	if (!RUN_OK("deny list --json"))
		return;
	o = parse_out();
	if (!o)
		return;
	ASSERT_EQ(json_object_get_int(jget(o, "count")), 3, "count");
	ASSERT_STREQ(jstr(o, "entries.0.cidr"), "192.0.2.0/24", "first entry");
	ASSERT_RANGE(json_object_get_int(jget(o, "entries.0.expires_in_s")), 590, 600, "expires_in_s");
	ASSERT_TRUE(jget(o, "entries.1.expires_in_s") == NULL, "never: null");
	ASSERT_STREQ(jstr(o, "entries.2.origin"), "cli", "origin");
	json_object_put(o);
}

/* every command that prints data prints one JSON document with --json */
TEST(json_everywhere)
{
	static const char *const cmds[] = { "status", "stats", "stats -a", "top --interval 100ms", "lookup 192.0.2.1",
					    "lookup 2001:db8::1 --port 993", "allow list", "deny list", "ban list",
					    "ban list --all", "deny add 192.0.2.0/24", "deny del 192.0.2.0/24",
					    "stats --watch 100ms --count 1" };
	char cmd[2048];

	reset_state();
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		struct json_object *o;
		int rc = run("%s --json", cmds[i]);

		o = json_tokener_parse(out);
		if (rc || !o) {
			test_fail(__FILE__, __LINE__, "'%s --json': exit %d, not JSON: %.200s", cmds[i], rc, out);
			json_object_put(o);
			continue;
		}
		json_object_put(o);
		if (strstr(cmds[i], "--watch")) /* JSON Lines: one document per line */
			continue;
		snprintf(cmd, sizeof(cmd), "python3 -m json.tool <%s >/dev/null 2>&1", out_path);
		if (WEXITSTATUS(system(cmd)))
			test_fail(__FILE__, __LINE__, "'%s --json': python3 -m json.tool refuses it", cmds[i]);
	}
}

/* Every map of the loaded BPF object that is pinned is in the registry
 * (MG_MAPS: gate_map_names, the fds) and in `status --json` with its type
 * and capacity; the maps not pinned are the ones include/gate.h names. */
TEST(status_lists_every_map)
{
	struct json_object *o, *maps;
	struct bpf_map *m;
	int n = 0;

	if (!RUN_OK("status --json") || !(o = parse_out()))
		return;
	maps = jget(o, "maps");
	if (!ASSERT_TRUE(maps && json_object_is_type(maps, json_type_array), "status --json has maps[]")) {
		json_object_put(o);
		return;
	}
	bpf_object__for_each_map(m, fx.g.skel->obj) {
		const char *name = bpf_map__name(m);
		bool in_registry = false, in_status = false;

		if (bpf_map__is_internal(m)) /* .rodata, .bss: not state of ours */
			continue;
		if (!bpf_map__pin_path(m)) {
			if (strcmp(name, "mg_responder") && strcmp(name, "mg_flood_cpu"))
				test_fail(__FILE__, __LINE__, "%s: not pinned, and not one of the two that are not", name);
			continue;
		}
		n++;
		for (int i = 0; i < GM_MAX; i++)
			in_registry |= !strcmp(gate_map_names[i], name) && fx.g.fd[i] == bpf_map__fd(m);
		for (size_t i = 0; i < json_object_array_length(maps); i++) {
			struct json_object *e = json_object_array_get_idx(maps, i);

			in_status |= !strcmp(jstr(e, "name"), name) && strcmp(jstr(e, "type"), "(missing)") &&
				     jget(e, "capacity");
		}
		if (!in_registry)
			test_fail(__FILE__, __LINE__, "%s: not in gate_map_names with its fd", name);
		if (!in_status)
			test_fail(__FILE__, __LINE__, "%s: not in status --json maps[]: %.300s", name, out);
	}
	ASSERT_EQ(n, GM_MAX, "pinned maps in the object = maps in the registry");
	ASSERT_EQ(json_object_array_length(maps), GM_MAX, "status --json lists every map");
	json_object_put(o);
}

/* ---- lookup says what the data path does ---- */
static void cfg_small_buckets(struct mg_config *c)
{
	c->syn_interval_ns = 10 * NSEC_PER_SEC; /* 6/m */
	c->syn_burst = 3;
	c->prefix_interval_ns = 10 * NSEC_PER_SEC;
	c->prefix_burst = 5;
	c->ban_after = 0;
}

static void cfg_dnsbl_hold(struct mg_config *c)
{
	cfg_small_buckets(c);
	c->dnsbl_enabled = 1;
	c->pending = MG_PENDING_HOLD;
}

static void cfg_dnsbl_pass(struct mg_config *c)
{
	cfg_small_buckets(c);
	c->dnsbl_enabled = 1;
	c->pending = MG_PENDING_PASS;
}

static void cfg_observe(struct mg_config *c)
{
	cfg_small_buckets(c);
	c->mode = MG_MODE_OBSERVE;
}

/* lookup ADDR --json, then one SYN: same decision, same counter */
static bool lookup_agrees(const char *addr, uint16_t port, const char *want_reason)
{
	uint64_t before[MG_COUNTER_SLOTS], after[MG_COUNTER_SLOTS];
	struct json_object *o;
	const char *reason;
	int verdict, got = -1;
	bool ok;

	if (!check_rc(run("lookup %s --port %u --json", addr, port), 0, "lookup"))
		return false;
	o = parse_out();
	if (!o)
		return false;
	reason = jstr(o, "reason");
	gate_read_counters(&fx.g, before);
	verdict = syn(addr, port);
	gate_read_counters(&fx.g, after);
	for (int r = 0; r < MG_REASON_MAX; r++)
		for (int k = 0; k < MG_CLASS_MAX; k++)
			if (after[MG_COUNTER_IDX(r, k)] != before[MG_COUNTER_IDX(r, k)])
				got = r;
	ok = !strcmp(reason, want_reason) && got >= 0 && !strcmp(mg_reason_names[got], reason) &&
	     (verdict == XDP_PASS) == json_object_get_boolean(jget(o, "packet_passes")) &&
	     !strcmp(jstr(o, "decision"), want_reason[0] == 'd' ? "drop" : "pass");
	if (!ok)
		test_fail(__FILE__, __LINE__, "%s: lookup said %s (%s), want %s; the data path counted %s, verdict %d",
			  addr, reason, jstr(o, "why"), want_reason, got >= 0 ? mg_reason_names[got] : "nothing", verdict);
	json_object_put(o);
	return ok;
}

TEST(lookup_matches_data_path)
{
	struct mg_addr a;
	uint32_t n;

	reset_state();
	set_cfg(cfg_small_buckets);
	RUN_OK("deny add 192.0.2.0/24");
	RUN_OK("allow add 192.0.2.7");
	RUN_OK("ban add 198.51.100.66");
	lookup_agrees("192.0.2.7", 25, "pass_allow");
	lookup_agrees("192.0.2.8", 25, "drop_deny");
	/* an expired /32 inside the active /24: the /24 decides (lookup said pass) */
	fx_rule(&fx, GM_DENY, "192.0.2.9", now_boot_ns() - NSEC_PER_SEC);
	lookup_agrees("192.0.2.9", 25, "drop_deny");
	/* a zone exclusion !ADDR inside the listed /24: not denied (lookup said drop) */
	fx_rule_flags(&fx, GM_DENY, "192.0.2.10", 0, MG_RULE_EXCLUDE);
	lookup_agrees("192.0.2.10", 25, "pass_ok");
	fx_rule(&fx, GM_DENY, "2001:db8:9::/48", 0);
	fx_rule(&fx, GM_DENY, "2001:db8:9::9", now_boot_ns() - NSEC_PER_SEC);
	fx_rule_flags(&fx, GM_DENY, "2001:db8:9::10", 0, MG_RULE_EXCLUDE);
	lookup_agrees("2001:db8:9::9", 25, "drop_deny");
	lookup_agrees("2001:db8:9::10", 25, "pass_ok");
	lookup_agrees("198.51.100.66", 587, "drop_ban");
	lookup_agrees("192.0.2.8", 8080, "pass_not_gated");
	/* the per-source bucket: burst 3, then empty */
	for (int i = 0; i < 3; i++)
		lookup_agrees("203.0.113.1", 25, "pass_ok");
	lookup_agrees("203.0.113.1", 25, "drop_rate");
	/* the per-prefix bucket (burst 5): 203.0.113.1 took 3 and 2 more from .2 */
	lookup_agrees("203.0.113.2", 25, "pass_ok");
	lookup_agrees("203.0.113.2", 25, "pass_ok");
	lookup_agrees("203.0.113.3", 25, "drop_prefix_rate");
	/* concurrent connections at the limit */
	n = base_cfg.max_concurrent[MG_CLASS_POP3];
	fx_conn_set(&fx, "2001:db8:5::1", MG_CLASS_POP3, n);
	lookup_agrees("2001:db8:5::1", 110, "drop_concurrent");
	lookup_agrees("2001:db8:5::1", 25, "pass_ok"); /* counted per class */
	fx_conn_set(&fx, "2001:db8:5::1", MG_CLASS_POP3, n - 1);
	lookup_agrees("2001:db8:5::1", 110, "pass_ok");
	/* the human form names the matched prefix and the final answer */
	if (RUN_OK("lookup 192.0.2.8")) {
		ASSERT_HAS_SUBSTR(out, "192.0.2.0/24 (origin cli, expires never)", "deny prefix shown");
		ASSERT_HAS_SUBSTR(out, "next SYN: DROP (drop_deny: deny list 192.0.2.0/24)", "final answer");
	}
	if (RUN_OK("lookup 203.0.113.1"))
		ASSERT_HAS_SUBSTR(out, "of 3 tokens (6/m): empty", "bucket tokens shown");
	/* DNSBL verdicts, as the controller writes them */
	{
		struct mg_verdict v = { .expires_ns = now_boot_ns() + 600 * NSEC_PER_SEC };

		set_cfg(cfg_dnsbl_hold);
		parse_addr("198.51.100.20", &a);
		v.state = MG_VERDICT_LISTED, v.score = 5;
		bpf_map_update_elem(fx.g.fd[GM_VERDICT], &a, &v, BPF_ANY);
		lookup_agrees("198.51.100.20", 25, "drop_dnsbl");
		parse_addr("198.51.100.21", &a);
		v.state = MG_VERDICT_ALLOWED, v.score = -5;
		bpf_map_update_elem(fx.g.fd[GM_VERDICT], &a, &v, BPF_ANY);
		lookup_agrees("198.51.100.21", 25, "pass_dnswl");
		parse_addr("198.51.100.22", &a);
		v.state = MG_VERDICT_CLEAN, v.score = 0;
		bpf_map_update_elem(fx.g.fd[GM_VERDICT], &a, &v, BPF_ANY);
		lookup_agrees("198.51.100.22", 25, "pass_ok");
		lookup_agrees("198.51.100.23", 25, "drop_pending"); /* unknown, pending = hold */
		set_cfg(cfg_dnsbl_pass);
		lookup_agrees("198.51.100.24", 25, "pass_pending"); /* unknown, pending = pass */
		if (RUN_OK("lookup 198.51.100.20"))
			ASSERT_HAS_SUBSTR(out, "listed, score 5 (threshold 3)", "score shown");
	}
	set_cfg(cfg_small_buckets);
	/* observe mode: the same reason, but the packet passes */
	set_cfg(cfg_observe);
	lookup_agrees("192.0.2.8", 25, "drop_deny");
	if (RUN_OK("lookup 192.0.2.8"))
		ASSERT_HAS_SUBSTR(out, "next SYN: PASS (observe mode; counted as a drop)", "observe answer");
}

/* lookup shows each zone's cached answer, as the DNSBL thread stores it
 * (dnsbl_cache.c): the A record, or the result when there is none */
TEST(lookup_shows_zone_answers)
{
	static const struct {
		const char *zone;
		enum dnsbl_result result;
		uint32_t a;
		bool listed;
		int weight;
		const char *shown;
	} zs[] = {
		{ "a.test", DR_LISTED, 0x7f000002, true, 2, "dnsbl zone a.test: 127.0.0.2, listed (weight 2)" },
		{ "b.test", DR_NXDOMAIN, 0, false, 0, "dnsbl zone b.test: nxdomain (weight 0)" },
		{ "c.test", DR_TIMEOUT, 0, false, 0, "dnsbl zone c.test: timeout (weight 0)" },
		{ "d.test", DR_REFUSAL_CODE, 0x7fffff01, false, 0,
		  "dnsbl zone d.test: 127.255.255.1 (refusal_code) (weight 0)" },
	};
	struct dnsbl_sites *ss = calloc(1, sizeof(*ss));
	struct dnsbl_cache c = { -1, -1 };
	struct json_object *o;
	struct mg_addr a;
	char why[128];

	reset_state();
	parse_addr("198.51.100.30", &a);
	if (!ASSERT_TRUE(ss != NULL, "calloc") ||
	    !ASSERT_OK(dnsbl_sites_parse("a.test*2, b.test, c.test, d.test", ss, why, sizeof(why)), why) ||
	    !ASSERT_OK(dnsbl_cache_open(&c, pin_dir, true), "cache maps") ||
	    !ASSERT_OK(dnsbl_cache_set_zones(&c, ss), "zones"))
		goto out;
	for (size_t i = 0; i < sizeof(zs) / sizeof(zs[0]); i++) {
		struct dnsbl_cache_val v = { .expires_ns = now_boot_ns() + 600 * NSEC_PER_SEC,
					     .result = zs[i].result, .listed = zs[i].listed,
					     .weight = zs[i].weight, .n_answers = !!zs[i].a,
					     .answers = { zs[i].a } };

		ASSERT_OK(dnsbl_cache_put(&c, &a, zs[i].zone, &v), zs[i].zone);
	}
	if (RUN_OK("lookup 198.51.100.30"))
		for (size_t i = 0; i < sizeof(zs) / sizeof(zs[0]); i++)
			ASSERT_HAS_SUBSTR(out, zs[i].shown, zs[i].shown);
	ASSERT_NO_SUBSTR(out, "no answer", "every zone says what it answered");
	if (RUN_OK("lookup 198.51.100.30 --json") && (o = parse_out())) {
		struct json_object *z = jget(o, "steps");
		int seen = 0;

		/* the dnsbl step's zones carry dnsbl_cached()'s fields */
		for (size_t i = 0; z && i < json_object_array_length(z); i++) {
			struct json_object *st = json_object_array_get_idx(z, i), *zones = jget(st, "zones");

			for (size_t j = 0; zones && j < json_object_array_length(zones); j++) {
				struct json_object *e = json_object_array_get_idx(zones, j);

				for (size_t k = 0; k < sizeof(zs) / sizeof(zs[0]); k++)
					if (!strcmp(jstr(e, "zone"), zs[k].zone))
						seen += !strcmp(jstr(e, "result"), dnsbl_result_names[zs[k].result]);
			}
		}
		ASSERT_EQ(seen, 4, "each zone's result in --json");
		json_object_put(o);
	}
out:
	dnsbl_cache_close(&c);
	free(ss);
}

/* ---- stats and top ---- */
TEST(stats_counts)
{
	struct json_object *o;
	uint64_t before;

	reset_state();
	if (!RUN_OK("stats --json") || !(o = parse_out()))
		return;
	before = json_object_get_int64(jget(o, "counters.drop_deny.smtp"));
	json_object_put(o);
	RUN_OK("deny add 192.0.2.0/24");
	for (int i = 0; i < 7; i++)
		syn("192.0.2.50", 25);
	if (!RUN_OK("stats --json") || !(o = parse_out()))
		return;
	ASSERT_EQ(json_object_get_int64(jget(o, "counters.drop_deny.smtp")) - before, 7, "drop_deny/smtp +7");
	/* the human table has a row for a reason iff its total is not zero */
	if (RUN_OK("stats")) {
		ASSERT_HAS_SUBSTR(out, "all drops", "human table");
		for (int r = 0; r < MG_REASON_MAX; r++) {
			char name[64], *row;
			int64_t total;

			snprintf(name, sizeof(name), "counters.%s.total", mg_reason_names[r]);
			total = json_object_get_int64(jget(o, name));
			snprintf(name, sizeof(name), "\n%s ", mg_reason_names[r]);
			row = strstr(out, name);
			if ((total != 0) != (row != NULL))
				test_fail(__FILE__, __LINE__, "%s: total %lld, row %s", mg_reason_names[r],
					  (long long)total, row ? "shown" : "hidden");
		}
	}
	if (RUN_OK("stats -a"))
		for (int r = 0; r < MG_REASON_MAX; r++)
			if (!strstr(out, mg_reason_names[r]))
				test_fail(__FILE__, __LINE__, "-a: no row %s", mg_reason_names[r]);
	json_object_put(o);
}

/* not a terminal: plain frames, no escape codes, ends after --count */
TEST(stats_watch_plain)
{
	int frames = 0;

	if (!RUN_OK("stats --watch 200ms --count 2"))
		return;
	for (char *p = out; (p = strstr(p, "mailgate stats")); p++)
		frames++;
	ASSERT_EQ(frames, 3, "first frame and two updates");
	ASSERT_TRUE(strchr(out, '\033') == NULL, "no escape codes when not a tty");
	ASSERT_HAS_SUBSTR(out, "/s", "rates in the updates");
}

/* a terminal: clears the screen, redraws on resize, quits cleanly on Ctrl-C */
TEST(stats_watch_tty)
{
	struct winsize ws = { .ws_row = 40, .ws_col = 120 };
	char buf[65536];
	size_t n = 0;
	int master, st = -1, clears = 0;
	uint64_t t0;
	pid_t pid;

	pid = forkpty(&master, NULL, NULL, &ws);
	if (pid < 0) {
		test_skip("forkpty: %s", strerror(errno));
		return;
	}
	if (pid == 0) {
		execl(bin, bin, "--pin-dir", pin_dir, "stats", "--watch", "300ms", "-a", (char *)NULL);
		_exit(127);
	}
	/* read for 1s, resize, read, then Ctrl-C */
	t0 = now_boot_ns();
	for (int phase = 0; phase < 3;) {
		struct pollfd p = { .fd = master, .events = POLLIN };
		ssize_t r;

		if (poll(&p, 1, 50) > 0) {
			r = read(master, buf + n, sizeof(buf) - 1 - n);
			if (r > 0)
				n += r;
		}
		if (phase == 0 && now_boot_ns() - t0 > NSEC_PER_SEC) {
			ws.ws_col = 60; /* narrow: the per-class columns go */
			ioctl(master, TIOCSWINSZ, &ws);
			phase = 1;
		} else if (phase == 1 && now_boot_ns() - t0 > 2 * NSEC_PER_SEC) {
			kill(pid, SIGINT);
			phase = 2;
		} else if (phase == 2 && (waitpid(pid, &st, WNOHANG) == pid || now_boot_ns() - t0 > 5 * NSEC_PER_SEC)) {
			phase = 3;
		}
	}
	buf[n] = 0;
	if (st == -1) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		test_fail(__FILE__, __LINE__, "did not exit within 3s of SIGINT");
	} else {
		ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit 0 on Ctrl-C");
	}
	close(master);
	for (char *p = buf; (p = strstr(p, "\033[2J")); p++)
		clears++;
	ASSERT_RANGE(clears, 4, 30, "screen cleared for each frame");
	ASSERT_HAS_SUBSTR(buf, "SUBMISSION/s", "wide: per-class columns");
	ASSERT_NO_SUBSTR(strrchr(buf, '\033'), "SUBMISSION", "narrow after resize: no per-class columns");
}

TEST(top_busiest)
{
	struct json_object *o;
	char cmd[2048];
	FILE *f;
	size_t n;

	reset_state();
	set_cfg(cfg_small_buckets);
	/* top samples, waits 3s, samples again; the SYNs come 1s into the wait */
	snprintf(cmd, sizeof(cmd), "%s --pin-dir %s top --interval 3s -n 2 --json", bin, pin_dir);
	f = popen(cmd, "r");
	usleep(1000000);
	for (int i = 0; i < 9; i++)
		syn("192.0.2.77", 25);   /* 3 pass, 6 drop */
	for (int i = 0; i < 2; i++)
		syn("2001:db8::77", 143);
	syn("198.51.100.1", 25);
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = 0;
	pclose(f);
	o = parse_out();
	if (!o)
		return;
	ASSERT_STREQ(jstr(o, "top_syns.0.address"), "192.0.2.77", "busiest first");
	ASSERT_EQ(json_object_get_int(jget(o, "top_syns.0.syns")), 9, "its SYNs in the interval");
	ASSERT_EQ(json_object_get_int(jget(o, "top_syns.0.drops")), 6, "its drops");
	ASSERT_STREQ(jstr(o, "top_syns.1.address"), "2001:db8::77", "second");
	ASSERT_TRUE(jget(o, "top_syns.2") == NULL, "-n 2");
	ASSERT_EQ(json_object_array_length(jget(o, "top_drops")), 1, "one source dropped");
	ASSERT_TRUE(json_object_get_double(jget(o, "top_syns.0.state.tokens")) < 1, "its bucket is empty");
	json_object_put(o);
	/* human form, quick */
	if (RUN_OK("top --interval 100ms")) {
		ASSERT_HAS_SUBSTR(out, "most SYNs", "two sections");
		ASSERT_HAS_SUBSTR(out, "most drops", "two sections");
	}
}

/* ---- status with a real attachment ---- */
static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return WEXITSTATUS(system(cmd));
}

TEST(status_shows_attachment)
{
	char ns[32], nspath[64], link_pin[PATH_MAX], sock_pin[PATH_MAX];
	struct bpf_link *link = NULL, *tl = NULL;
	struct json_object *o;
	int nsfd = -1, self = -1, ifindex;
	pid_t pid = getpid();

	snprintf(ns, sizeof(ns), "mgt-cli-%d", pid);
	snprintf(nspath, sizeof(nspath), "/run/netns/%s", ns);
	/* leftovers of killed runs */
	sh("for n in $(ip netns list | awk '/^mgt-cli-/{print $1}'); do p=${n#mgt-cli-}; "
	   "kill -0 $p 2>/dev/null || ip netns del $n; done");
	if (sh("ip netns add %s && ip -n %s link add mgtc0 type veth peer name mgtc1 && "
	       "ip -n %s link set mgtc0 up && ip -n %s link set mgtc1 up", ns, ns, ns, ns)) {
		test_fail(__FILE__, __LINE__, "cannot make the netns and veth");
		goto out;
	}
	nsfd = open(nspath, O_RDONLY);
	self = open("/proc/self/ns/net", O_RDONLY);
	if (nsfd < 0 || self < 0 || setns(nsfd, CLONE_NEWNET)) {
		test_fail(__FILE__, __LINE__, "setns: %s", strerror(errno));
		goto out;
	}
	ifindex = if_nametoindex("mgtc0");
	link = bpf_program__attach_xdp(fx.g.skel->progs.mg_xdp, ifindex);
	setns(self, CLONE_NEWNET);
	if (!ASSERT_TRUE(link != NULL, "attach XDP to the veth"))
		goto out;
	/* pinned as the daemon pins them */
	snprintf(link_pin, sizeof(link_pin), "%s/link_xdp_mgtc0", pin_dir);
	snprintf(sock_pin, sizeof(sock_pin), "%s/link_sock_state", pin_dir);
	if (!ASSERT_OK(bpf_link__pin(link, link_pin), "pin the XDP link"))
		goto out;
	tl = bpf_program__attach(fx.g.skel->progs.mg_sock_state);
	if (tl)
		bpf_link__pin(tl, sock_pin);

	{
		char cmd[2048];
		FILE *f;
		size_t n;

		snprintf(cmd, sizeof(cmd), "nsenter --net=%s %s --pin-dir %s status --json", nspath, bin, pin_dir);
		f = popen(cmd, "r");
		n = fread(out, 1, sizeof(out) - 1, f);
		out[n] = 0;
		pclose(f);
	}
	o = parse_out();
	if (o) {
		struct bpf_link_info info = {};
		uint32_t len = sizeof(info);

		bpf_obj_get_info_by_fd(bpf_link__fd(link), &info, &len);
		ASSERT_STREQ(jstr(o, "interfaces.0.name"), "mgtc0", "interface");
		ASSERT_STREQ(jstr(o, "interfaces.0.mode"), "native", "native XDP on veth");
		ASSERT_EQ(json_object_get_int64(jget(o, "interfaces.0.prog_id")), info.prog_id, "prog id");
		ASSERT_EQ(json_object_get_int64(jget(o, "interfaces.0.link_id")), info.id, "link id");
		ASSERT_STREQ(jstr(o, "interfaces.0.prog_name"), "mg_xdp", "program name");
		if (tl)
			ASSERT_TRUE(jget(o, "sock_state_link.prog_id") != NULL, "tracing link shown");
		ASSERT_STREQ(jstr(o, "config.mode"), "enforce", "config in effect");
		ASSERT_TRUE(jget(o, "maps.0.capacity") != NULL, "map fill levels");
		json_object_put(o);
	}
	/* from outside the netns the mode cannot be read, and says so */
	if (RUN_OK("status")) {
		ASSERT_HAS_SUBSTR(out, "mgtc0", "outside the netns");
		ASSERT_HAS_SUBSTR(out, "another network namespace", "outside the netns");
	}
out:
	unlink(link_pin);
	unlink(sock_pin);
	bpf_link__destroy(link);
	bpf_link__destroy(tl);
	if (nsfd >= 0)
		close(nsfd);
	if (self >= 0)
		close(self);
	sh("ip netns del %s 2>/dev/null", ns);
}

/* ---- real TCP over a veth between two namespaces ----
 * server ns: mgtcs0 192.0.2.1, XDP attached, a listener on 25 that keeps
 * every connection; client ns: mgtcc0 192.0.2.2. */
static const char *const LISTENER =
	"import socket\n"
	"s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
	"import select\n"
	"s.bind(('0.0.0.0', 25)); s.listen(64); conns = []\n"
	"while True:\n"
	"    for x in select.select([s] + conns, [], [])[0]:\n"
	"        if x is s: conns.append(s.accept()[0])\n"
	"        elif not x.recv(100): conns.remove(x); x.close()\n";
/* connect with a timeout, print ok/timeout/refused, keep it open HOLD s */
static const char *const CLIENT =
	"import socket, sys, time\n"
	"c = socket.socket(); c.settimeout(float(sys.argv[1]))\n"
	"try:\n"
	"    c.connect(('192.0.2.1', 25)); print('ok', flush=True); time.sleep(float(sys.argv[2]))\n"
	"except socket.timeout: print('timeout')\n"
	"except ConnectionRefusedError: print('refused')\n";

static char srv_ns[64], cli_ns[64];

static char hold_path[64];

/* background: the output goes to hold_path */
static int client(double timeout, double hold, bool background)
{
	char cmd[2048], redir[128];
	FILE *f;
	char line[64] = "";

	snprintf(redir, sizeof(redir), "> %s 2>&1 &", hold_path);
	snprintf(cmd, sizeof(cmd), "nsenter --net=/run/netns/%s python3 -c \"$MGT_CLIENT\" %.1f %.1f %s", cli_ns,
		 timeout, hold, background ? redir : "2>&1");
	f = popen(cmd, "r");
	if (!f)
		return -1;
	if (!background && !fgets(line, sizeof(line), f))
		line[0] = 0;
	pclose(f);
	if (background)
		return 0;
	return !strncmp(line, "ok", 2) ? 0 : !strncmp(line, "timeout", 7) ? 1 : 2;
}

TEST(real_tcp_connections)
{
	char nspath[96], link_pin[PATH_MAX] = "";
	struct bpf_link *link = NULL, *tl = NULL;
	struct json_object *o;
	struct stat st;
	int nsfd = -1, self = -1, ok = 0;
	uint32_t ino = base_cfg.netns_ino;
	pid_t pid = getpid();

	reset_state();
	snprintf(srv_ns, sizeof(srv_ns), "mgt-cli-%d-s", pid);
	snprintf(cli_ns, sizeof(cli_ns), "mgt-cli-%d-c", pid);
	setenv("MGT_LISTENER", LISTENER, 1);
	setenv("MGT_CLIENT", CLIENT, 1);
	sh("for n in $(ip netns list | awk '/^mgt-cli-[0-9]+-[sc]/{print $1}'); do p=${n#mgt-cli-}; p=${p%%-*}; "
	   "kill -0 $p 2>/dev/null || ip netns del $n; done");
	if (sh("ip netns add %s && ip netns add %s && "
	       "ip -n %s link add mgtcs0 type veth peer name mgtcc0 netns %s && "
	       "ip -n %s addr add 192.0.2.1/24 dev mgtcs0 && ip -n %s addr add 192.0.2.2/24 dev mgtcc0 && "
	       "ip -n %s link set mgtcs0 up && ip -n %s link set mgtcc0 up && "
	       "ip -n %s link set lo up && ip -n %s link set lo up",
	       srv_ns, cli_ns, srv_ns, cli_ns, srv_ns, cli_ns, srv_ns, cli_ns, srv_ns, cli_ns)) {
		test_fail(__FILE__, __LINE__, "cannot make the namespaces and veth");
		goto out;
	}
	snprintf(nspath, sizeof(nspath), "/run/netns/%s", srv_ns);
	/* connections count in the server's namespace only */
	if (stat(nspath, &st) == 0) {
		base_cfg.netns_ino = st.st_ino;
		set_cfg(NULL);
	}
	nsfd = open(nspath, O_RDONLY);
	self = open("/proc/self/ns/net", O_RDONLY);
	if (nsfd < 0 || self < 0 || setns(nsfd, CLONE_NEWNET)) {
		test_fail(__FILE__, __LINE__, "setns: %s", strerror(errno));
		goto out;
	}
	link = bpf_program__attach_xdp(fx.g.skel->progs.mg_xdp, if_nametoindex("mgtcs0"));
	setns(self, CLONE_NEWNET);
	tl = bpf_program__attach(fx.g.skel->progs.mg_sock_state);
	if (!ASSERT_TRUE(link && tl, "attach XDP and the TCP state tracer"))
		goto out;
	snprintf(link_pin, sizeof(link_pin), "%s/link_xdp_mgtcs0", pin_dir);
	bpf_link__pin(link, link_pin);
	sh("nsenter --net=/run/netns/%s python3 -c \"$MGT_LISTENER\" >/dev/null 2>&1 &", srv_ns);
	for (int i = 0; i < 50 && (ok = client(2, 0, false)) != 0; i++)
		usleep(100000); /* the listener is starting */
	if (!ASSERT_EQ(ok, 0, "a client connects through the gate"))
		goto out;

	/* one connection held open (4s): lookup sees it, and the handshake */
	snprintf(hold_path, sizeof(hold_path), "/tmp/mgt-cli-%d.hold", pid);
	unlink(hold_path);
	client(2, 4, true);
	for (int i = 0; i < 30; i++) { /* up to 3s for python to start and connect */
		FILE *f = fopen(hold_path, "r");
		char line[16] = "";

		if (f && fgets(line, sizeof(line), f) && !strncmp(line, "ok", 2)) {
			fclose(f);
			break;
		}
		if (f)
			fclose(f);
		usleep(100000);
	}
	if (RUN_OK("lookup 192.0.2.2 --json") && (o = parse_out())) {
		if (!ASSERT_EQ(json_object_get_int(jget(o, "steps.7.connections")), 1, "one open connection"))
			printf("%s\n", out);
		ASSERT_TRUE(json_object_get_boolean(jget(o, "steps.1.verified")), "verified by its handshake");
		ASSERT_STREQ(jstr(o, "reason"), "pass_ok", "would pass");
		json_object_put(o);
	}
	/* deny: the next connection times out; del: it connects again */
	if (RUN_OK("deny add 192.0.2.2/32")) {
		ASSERT_EQ(client(1.5, 0, false), 1, "denied: connect times out");
		if (RUN_OK("lookup 192.0.2.2"))
			ASSERT_HAS_SUBSTR(out, "next SYN: DROP (drop_deny: deny list 192.0.2.2/32)", "stdout");
	}
	if (RUN_OK("deny del 192.0.2.2"))
		ASSERT_EQ(client(2, 0, false), 0, "deleted: connects again");
	if (RUN_OK("ban add 192.0.2.2 --ttl 1h"))
		ASSERT_EQ(client(1.5, 0, false), 1, "banned: connect times out");
	if (RUN_OK("ban del 192.0.2.2"))
		ASSERT_EQ(client(2, 0, false), 0, "unbanned: connects again");
	if (RUN_OK("stats --json") && (o = parse_out())) {
		ASSERT_TRUE(json_object_get_int64(jget(o, "counters.drop_deny.smtp")) >= 1, "drop_deny counted");
		ASSERT_TRUE(json_object_get_int64(jget(o, "counters.drop_ban.smtp")) >= 1, "drop_ban counted");
		ASSERT_TRUE(json_object_get_int64(jget(o, "counters.pass_ok.smtp")) >= 3, "pass_ok counted");
		json_object_put(o);
	}
	/* after the held connection closed, the count goes back to 0 (it was
	 * held 4s; the checks above took at least 3s; wait 4s more) */
	usleep(4000000);
	if (RUN_OK("lookup 192.0.2.2 --json") && (o = parse_out())) {
		ASSERT_EQ(json_object_get_int(jget(o, "steps.7.connections")), 0, "connection closed");
		json_object_put(o);
	}
out:
	unlink(link_pin);
	bpf_link__destroy(link);
	bpf_link__destroy(tl);
	if (nsfd >= 0)
		close(nsfd);
	if (self >= 0)
		close(self);
	/* deleting the namespaces ends their processes' sockets; kill them by netns */
	sh("for n in %s %s; do for p in $(ip netns pids $n 2>/dev/null); do kill $p; done; ip netns del $n 2>/dev/null; done",
	   srv_ns, cli_ns);
	base_cfg.netns_ino = ino;
	reset_state();
	unlink(hold_path);
}

int main(int argc, char **argv)
{
	return test_main(argc, argv, setup, teardown);
}
