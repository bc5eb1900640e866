// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* What an operator meets around the daemon, end to end with the built
 * binary (.output/mailgate --pin-dir DIR ...) on a data path loaded into the
 * test's own pin dir (/sys/fs/bpf/mgt-ops-PID): `detach` removes only
 * mailgate's pins, the CLI's output fits pipes (entries on stdout, notes on
 * stderr), bulk deletes, a pin dir that is not on a bpf filesystem. */
#define _GNU_SOURCE
#include <errno.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <json-c/json.h>
#include "test.h"
#include "mailgate.h"
#include "dnsbl.h"
#include "crowdsec.h"
#include "fixture.h"
#include "cli_run.h"

static char pin_dir[128];
static struct fixture fx;
static bool fx_loaded;
static struct mg_config base_cfg;

static int setup(void)
{
	if (cli_setup("ops"))
		return 1;
	if (fx_load(&fx, "ops", 4096))
		return 1;
	fx_loaded = true;
	snprintf(pin_dir, sizeof(pin_dir), "%.120s", fx.g.pin_dir);
	{
		struct mg_settings *st = malloc(sizeof(*st));

		if (!st)
			return 1;
		config_defaults(st);
		base_cfg = st->cfg;
		gate_write_config(&fx.g, &st->cfg);
		gate_write_ports(&fx.g, st->ports);
		free(st);
	}
	return 0;
}

static void teardown(void)
{
	if (fx_loaded)
		fx_unload(&fx);
	cli_teardown();
}

static long count(enum gate_map m)
{
	return m == GM_ALLOW || m == GM_DENY ? fx_list_count(&fx, m) : map_count(fx.g.fd[m], NULL);
}

/* `ban list` into a pipe is one address per line (header and the note
 * about expired bans on stderr), so awk | xargs ban del works */
TEST(ban_list_pipes_into_del)
{
	char cmd[1024];
	int lines = 0, rc;

	fx_map_clear(fx.g.fd[GM_BAN], sizeof(struct mg_addr));
	if (!RUN_OK("ban add 192.0.2.1 2001:db8::7") || !RUN_OK("ban add 192.0.2.9 --ttl 1s"))
		return;
	usleep(1200 * 1000);
	if (!RUN_OK("ban list"))
		return;
	for (char *p = out, *nl; (nl = strchr(p, '\n')); p = nl + 1) {
		struct mg_addr a;
		char first[64];

		lines++;
		if (sscanf(p, "%63s", first) != 1 || parse_addr(first, &a))
			test_fail(__FILE__, __LINE__, "stdout line %d is not an entry: %.*s", lines, (int)(nl - p), p);
	}
	ASSERT_EQ(lines, 2, "two bans in force on stdout");
	ASSERT_HAS_SUBSTR(err, "1 expired entry not shown", "note and header on stderr");
	ASSERT_HAS_SUBSTR(err, "ADDRESS", "note and header on stderr");
	snprintf(cmd, sizeof(cmd), "%s --pin-dir %s ban list 2>/dev/null | awk '{print $1}' | xargs %s --pin-dir %s ban del 2>/dev/null",
		 bin, pin_dir, bin, pin_dir);
	rc = system(cmd);
	ASSERT_TRUE(WIFEXITED(rc) && WEXITSTATUS(rc) == 0, "ban list | awk | xargs ban del");
	ASSERT_EQ(count(GM_BAN), 1, "only the expired ban is left");
	fx_map_clear(fx.g.fd[GM_BAN], sizeof(struct mg_addr));
}

/* del --all and del --origin ORIGIN; bad combinations exit 2 */
TEST(del_all_and_origin)
{
	struct mg_lpm_key k;
	struct mg_rule r = { .origin = MG_ORIGIN_CONFIG };
	struct mg_ban b = { .origin = MG_ORIGIN_QUOTA };
	struct json_object *o;
	struct mg_addr a;

	fx_reset(&fx, &base_cfg);
	fx_map_clear(fx.g.fd[GM_BAN], sizeof(struct mg_addr));
	if (!RUN_OK("deny add 192.0.2.0/24 198.51.100.0/24 2001:db8:1::/48"))
		return;
	parse_cidr("203.0.113.0/24", &k);
	r.prefixlen = k.prefixlen;
	list_put(&fx.g, MG_LIST_DENY, &k, &r);
	if (RUN_OK("deny del --origin cli")) {
		ASSERT_EQ(count(GM_DENY), 1, "the config entry is left");
		ASSERT_HAS_SUBSTR(err, "3 entries of origin cli", "stderr");
	}
	if (RUN_OK("deny del --all"))
		ASSERT_EQ(count(GM_DENY), 0, "--all: empty");
	/* bans: quota ones go with --origin quota, the CLI's stay */
	parse_addr("192.0.2.44", &a);
	bpf_map_update_elem(fx.g.fd[GM_BAN_QUOTA], &a, &b, BPF_ANY);
	if (!RUN_OK("ban add 192.0.2.45"))
		return;
	if (RUN_OK("--json ban del --origin quota") && (o = parse_out())) {
		ASSERT_STREQ(jstr(o, "count"), "1", "--json count");
		json_object_put(o);
	}
	ASSERT_EQ(count(GM_BAN_QUOTA), 0, "the quota ban is gone");
	ASSERT_EQ(count(GM_BAN), 1, "the CLI's ban is left");
	ASSERT_EQ(run("ban del --origin bogus"), 2, "unknown origin: exit 2");
	ASSERT_HAS_SUBSTR(err, "'bogus'", "names the value and the choices");
	ASSERT_HAS_SUBSTR(err, "quota", "names the value and the choices");
	ASSERT_EQ(run("ban del 192.0.2.45 --all"), 2, "entries and --all: exit 2");
	ASSERT_EQ(run("ban add 192.0.2.46 --origin cli"), 2, "--origin with add: exit 2");
	ASSERT_EQ(count(GM_BAN), 1, "nothing changed by the refused ones");
	fx_map_clear(fx.g.fd[GM_BAN], sizeof(struct mg_addr));
}

/* top shows what its per-source counters cannot: SYNs stopped by a ban, the
 * deny list or the allow list during the interval, and the bans created in it */
TEST(top_shows_stopped_earlier)
{
	static char buf[1 << 16];
	struct mg_lpm_key k;
	struct mg_rule deny = { .origin = MG_ORIGIN_CLI }, allow = { .origin = MG_ORIGIN_CLI };
	struct mg_ban b = { .origin = MG_ORIGIN_QUOTA, .level = 2 };
	struct mg_addr a;
	char cmd[512];
	size_t n;
	FILE *p;

	fx_reset(&fx, &base_cfg);
	parse_cidr("198.51.100.0/24", &k);
	deny.prefixlen = k.prefixlen;
	list_put(&fx.g, MG_LIST_DENY, &k, &deny);
	parse_cidr("203.0.113.0/24", &k);
	allow.prefixlen = k.prefixlen;
	list_put(&fx.g, MG_LIST_ALLOW, &k, &allow);
	snprintf(cmd, sizeof(cmd), "%s --pin-dir %s --json top --interval 1500ms", bin, pin_dir);
	p = popen(cmd, "r");
	if (!ASSERT_TRUE(p != NULL, "popen top"))
		return;
	usleep(400 * 1000); /* its first sample is taken */
	parse_addr("192.0.2.77", &a);
	b.created_ns = now_boot_ns();
	b.expires_ns = b.created_ns + 600 * NSEC_PER_SEC;
	bpf_map_update_elem(fx.g.fd[GM_BAN_QUOTA], &a, &b, BPF_ANY);
	for (int i = 0; i < 5; i++)
		fx_syn(&fx, "192.0.2.77", 25);
	for (int i = 0; i < 3; i++)
		fx_syn(&fx, "198.51.100.9", 25);
	for (int i = 0; i < 2; i++)
		fx_syn(&fx, "203.0.113.9", 25);
	n = fread(buf, 1, sizeof(buf) - 1, p);
	buf[n] = 0;
	pclose(p);
	{
		struct json_object *o = json_tokener_parse(buf), *v;

		if (!ASSERT_TRUE(o != NULL, buf))
			goto out;
#define N(path) (json_pointer_get(o, path, &v) ? -1 : json_object_get_int(v))
		ASSERT_EQ(N("/stopped_earlier/drop_ban/syns"), 5, "drop_ban SYNs");
		ASSERT_EQ(N("/stopped_earlier/drop_deny/syns"), 3, "drop_deny SYNs");
		ASSERT_EQ(N("/stopped_earlier/pass_allow/syns"), 2, "pass_allow SYNs");
		ASSERT_TRUE(!json_pointer_get(o, "/bans_created/0/address", &v) &&
			    !strcmp(json_object_get_string(v), "192.0.2.77"), "the ban created in the interval");
#undef N
		json_object_put(o);
	}
out:
	fx_reset(&fx, &base_cfg);
	fx_reset(&fx, &base_cfg);
}

/* stats --json says whether flood mode is on, as the data path has it */
TEST(stats_json_flood_mode)
{
	struct mg_global gl = {};
	struct json_object *o;
	uint32_t zero = 0;

	bpf_map_update_elem(fx.g.fd[GM_GLOBAL], &zero, &gl, BPF_ANY);
	if (RUN_OK("--json stats") && (o = parse_out())) {
		ASSERT_STREQ(jstr(o, "flood_mode"), "false", "flood_mode");
		json_object_put(o);
	}
	gl.flood_mode = 1;
	bpf_map_update_elem(fx.g.fd[GM_GLOBAL], &zero, &gl, BPF_ANY);
	if (RUN_OK("--json stats") && (o = parse_out())) {
		ASSERT_STREQ(jstr(o, "flood_mode"), "true", "flood_mode");
		json_object_put(o);
	}
	if (RUN_OK("--json stats --watch 0.2 --count 1"))
		ASSERT_HAS_SUBSTR(out, "\"flood_mode\":true", "--watch --json lines too");
	gl.flood_mode = 0;
	bpf_map_update_elem(fx.g.fd[GM_GLOBAL], &zero, &gl, BPF_ANY);
}

/* Under `ip netns exec` (a /sys of its own: no bpffs) the error says so and
 * names nsenter --net= */
TEST(pin_dir_not_on_bpffs)
{
	char ns[64], cmd[1024];
	int rc;

	snprintf(ns, sizeof(ns), "mgt-ops-%d", getpid());
	snprintf(cmd, sizeof(cmd), "ip netns add %s", ns);
	if (system(cmd)) {
		test_skip("cannot create a network namespace");
		return;
	}
	snprintf(cmd, sizeof(cmd), "ip netns exec %s %s --pin-dir %s deny list >%s 2>%s", ns, bin, pin_dir, out_path,
		 err_path);
	rc = system(cmd);
	snprintf(cmd, sizeof(cmd), "ip netns del %s", ns);
	if (system(cmd))
		printf("  cannot remove the namespace %s\n", ns);
	{
		FILE *f = fopen(err_path, "r");
		size_t n = f ? fread(err, 1, sizeof(err) - 1, f) : 0;

		err[n] = 0;
		if (f)
			fclose(f);
	}
	ASSERT_TRUE(WIFEXITED(rc) && WEXITSTATUS(rc) == 1, "exit 1");
	ASSERT_HAS_SUBSTR(err, "not on a bpf filesystem", "stderr");
	ASSERT_HAS_SUBSTR(err, "nsenter --net=", "stderr");
}

/* A pin of another program and a folder in the pin dir survive `detach`;
 * every pin of mailgate's goes (the maps, the DNSBL cache maps); the dir
 * stays while anything is left in it and goes once it is empty. Runs last:
 * it removes the fixture's maps. */
TEST(detach_leaves_foreign_pins)
{
	char path[PATH_MAX], sub[PATH_MAX];
	struct dnsbl_cache dc;
	int fd;

	if (!ASSERT_OK(dnsbl_cache_open(&dc, pin_dir, true), "dnsbl cache maps"))
		return;
	dnsbl_cache_close(&dc);
	/* the CrowdSec bouncer's state map, as it pins it (from user space) */
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, MG_MAP_CROWDSEC, 4, 8, 1, NULL);
	snprintf(path, sizeof(path), "%s/%s", pin_dir, MG_MAP_CROWDSEC);
	if (!ASSERT_TRUE(fd >= 0 && bpf_obj_pin(fd, path) == 0, "pin the CrowdSec state"))
		return;
	close(fd);
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "other_map", 4, 4, 1, NULL);
	snprintf(path, sizeof(path), "%s/other_map", pin_dir);
	if (!ASSERT_TRUE(fd >= 0 && bpf_obj_pin(fd, path) == 0, "pin a foreign map"))
		return;
	close(fd);
	snprintf(sub, sizeof(sub), "%s/other_dir", pin_dir);
	if (!ASSERT_OK(mkdir(sub, 0700), "foreign folder"))
		return;

	if (!RUN_OK("detach"))
		return;
	ASSERT_TRUE(exists(pin_dir, "other_map"), "the foreign map is still pinned");
	ASSERT_TRUE(exists(pin_dir, "other_dir"), "the foreign folder is still there");
	for (int i = 0; i < GM_MAX; i++)
		if (exists(pin_dir, gate_map_names[i]))
			test_fail(__FILE__, __LINE__, "%s is still pinned", gate_map_names[i]);
	ASSERT_TRUE(!exists(pin_dir, MG_MAP_DNSBL_CACHE) && !exists(pin_dir, MG_MAP_DNSBL_ZONES),
		    "the DNSBL cache maps removed");
	ASSERT_TRUE(!exists(pin_dir, MG_MAP_CROWDSEC), "the CrowdSec bouncer's state removed");
	ASSERT_HAS_SUBSTR(err, "other_map", "the warning names what is left");
	ASSERT_HAS_SUBSTR(err, "other_dir/", "the warning names what is left");

	/* once only foreign things are gone too, detach removes the dir */
	unlink(path);
	rmdir(sub);
	if (!RUN_OK("detach"))
		return;
	ASSERT_TRUE(access(pin_dir, F_OK) && errno == ENOENT, "the empty pin dir removed");
}

int main(int argc, char **argv)
{
	return test_main(argc, argv, setup, teardown);
}
