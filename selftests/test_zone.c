// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* `mailgate zone load` / `zone export`: the rbldnsd file parser, loading
 * into a real pinned deny list judged by the real XDP program
 * (BPF_PROG_TEST_RUN), reload without a window, round trips through a real
 * rbldnsd, and a million prefixes. */
#include <errno.h>
#include <pthread.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <json-c/json.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include "test.h"
#include "dnsbl_lab.h"
#include "zone.h"
#include "fixture.h"
#include "cli.h"

__attribute__((weak)) struct mg_opts opts; /* where no linked object defines it */

static struct lab lab; /* the directory for files; rbldnsd when a case needs it */
static struct fixture fx;
static char pin_dir[128], mailgate[PATH_MAX], out_buf[1 << 16];

/* ---- the parser alone ---- */

static struct zone_data zd;
static char perr[320];

static int line(const char *text, enum zone_type type)
{
	uint32_t def = 0, maxr = 0;
	char buf[256];

	int r;

	snprintf(buf, sizeof(buf), "%s", text);
	zone_data_free(&zd);
	r = zone_parse_line(buf, &type, &def, &maxr, &zd, perr, sizeof(perr));
	/* a range line: its CIDRs, as the load writes them */
	for (size_t i = 0; !r && i < zd.nr; i++) {
		struct zone_entry e = { .value = zd.r[i].value, .excl = zd.r[i].excl };
		uint64_t cur = zd.r[i].lo;

		while (zone_range_next(&zd.r[i], &cur, &e.key)) {
			zd.e = realloc(zd.e, (zd.n + 1) * sizeof(e));
			zd.e[zd.n++] = e;
		}
	}
	return r;
}

static const char *cidr(size_t i)
{
	static char buf[8][MG_ADDRSTRLEN + 8];

	return format_cidr(&zd.e[i].key, buf[i % 8], sizeof(buf[0]));
}

#define ASSERT_CIDR(i, want) (ASSERT_TRUE(zd.n > (i), want) ? ASSERT_STREQ(cidr(i), want, want) : false)

TEST(parse_ip4set_forms)
{
	ASSERT_OK(line("192.0.2.7", ZT_IP4SET), "address");
	ASSERT_CIDR(0, "192.0.2.7/32");
	ASSERT_OK(line("192.0.2", ZT_IP4SET), "3 octets");
	ASSERT_CIDR(0, "192.0.2.0/24");
	ASSERT_OK(line("10.1", ZT_IP4SET), "2 octets");
	ASSERT_CIDR(0, "10.1.0.0/16");
	ASSERT_OK(line("10/8", ZT_IP4SET), "short CIDR");
	ASSERT_CIDR(0, "10.0.0.0/8");
	ASSERT_OK(line("198.51.100.0/22 :127.0.0.4: spam", ZT_IP4SET), "CIDR with value");
	ASSERT_CIDR(0, "198.51.100.0/22");
	ASSERT_EQ(zd.e[0].value, 0x7f000004, "value");
	ASSERT_OK(line("192.0.2.1-192.0.2.6", ZT_IP4SET), "range");
	ASSERT_EQ(zd.n, 4, "1-6 is .1/32 .2/31 .4/31 .6/32");
	ASSERT_CIDR(0, "192.0.2.1/32");
	ASSERT_CIDR(1, "192.0.2.2/31");
	ASSERT_CIDR(2, "192.0.2.4/31");
	ASSERT_CIDR(3, "192.0.2.6/32");
	ASSERT_OK(line("192.0.2.0-255", ZT_IP4SET), "last-octet range");
	ASSERT_EQ(zd.n, 1, "a whole /24");
	ASSERT_CIDR(0, "192.0.2.0/24");
	ASSERT_OK(line("127.16-31 :2", ZT_IP4SET), "two-octet range with suffix");
	ASSERT_EQ(zd.n, 1, "127.16.0.0/12");
	ASSERT_CIDR(0, "127.16.0.0/12");
	ASSERT_EQ(zd.e[0].value, 0x7f000002, ":2 is 127.0.0.2");
	ASSERT_OK(line("!192.0.2.5 ; not this one", ZT_IP4SET), "exclusion");
	ASSERT_TRUE(zd.n == 1 && zd.e[0].excl, "excl flag");
	ASSERT_OK(line("192.0.2.9:127.0.0.9:txt", ZT_IP4SET), "value right after the address");
	ASSERT_EQ(zd.e[0].value, 0x7f000009, "value");
	ASSERT_OK(line("192.0.2.10 listed for spam", ZT_IP4SET), "text only");
	ASSERT_EQ(zd.e[0].value, 0, "no A value given");
	ASSERT_OK(line("   # comment", ZT_IP4SET), "comment");
	ASSERT_EQ(zd.n, 0, "nothing");
}

TEST(parse_bad_lines)
{
	ASSERT_EQ(line("192.0.2.300", ZT_IP4SET), -EINVAL, "octet");
	ASSERT_HAS_SUBSTR(perr, "'192.0.2.300'", "perr");
	ASSERT_EQ(line("192.0.2.1/24", ZT_IP4SET), -EINVAL, "host bits");
	ASSERT_HAS_SUBSTR(perr, "host bits", "perr");
	ASSERT_HAS_SUBSTR(perr, "192.0.2.0/24", "perr");
	ASSERT_EQ(line("10", ZT_IP4SET), -EINVAL, "bare number");
	ASSERT_EQ(line("192.0.2.9-192.0.2.1", ZT_IP4SET), -EINVAL, "reversed range");
	ASSERT_HAS_SUBSTR(perr, "ends before", "perr");
	ASSERT_EQ(line("192.0.2.1-192.0.3", ZT_IP4SET), -EINVAL, "uneven range");
	ASSERT_EQ(line("192.0.2.1-6", ZT_IP4TRIE), -EINVAL, "range in ip4trie");
	ASSERT_HAS_SUBSTR(perr, "ip4trie", "perr");
	ASSERT_EQ(line("192.0.2.1/33", ZT_IP4SET), -EINVAL, "/33");
	ASSERT_EQ(line("192.0.2.1 :0:", ZT_IP4SET), -EINVAL, "A value 0");
	ASSERT_HAS_SUBSTR(perr, "invalid A value", "perr");
	ASSERT_EQ(line("$FOO bar", ZT_IP4SET), -EINVAL, "unknown special");
	ASSERT_EQ(line("::/0", ZT_IP6TRIE), -EINVAL, "covers IPv4");
	ASSERT_HAS_SUBSTR(perr, "::ffff:0:0/96", "perr");
	ASSERT_EQ(line("2001:db8::1/32", ZT_IP6TRIE), -EINVAL, "v6 host bits");
	ASSERT_EQ(line("2001", ZT_IP6TRIE), -EINVAL, "v6 bare number");
	ASSERT_EQ(line("2001:db8::g", ZT_IP6TRIE), -EINVAL, "v6 junk");
}

TEST(parse_ip6trie_forms)
{
	ASSERT_OK(line("2001:db8:1::/48 :127.0.0.5:", ZT_IP6TRIE), "compressed CIDR");
	ASSERT_CIDR(0, "2001:db8:1::/48");
	ASSERT_EQ(zd.e[0].value, 0x7f000005, "value");
	ASSERT_OK(line("2001:db8:c000/36", ZT_IP6TRIE), "short form with length");
	ASSERT_CIDR(0, "2001:db8:c000::/36");
	ASSERT_OK(line("2001:db8:def7:4242 :127.0.1.3: smells", ZT_IP6TRIE), "short form: 4 groups = /64");
	ASSERT_CIDR(0, "2001:db8:def7:4242::/64");
	ASSERT_OK(line("!2001:db8:42::bead", ZT_IP6TRIE), "exclusion, /128");
	ASSERT_TRUE(zd.n == 1 && zd.e[0].excl && zd.e[0].key.prefixlen == 128, "excluded /128");
	ASSERT_OK(line("2001:db8::/32", ZT_AUTO), "auto: IPv6");
	ASSERT_OK(line("192.0.2.1:127.0.0.2:", ZT_AUTO), "auto: IPv4 with value");
	ASSERT_CIDR(0, "192.0.2.1/32");
	ASSERT_OK(line("::ffff:192.0.2.0/120", ZT_AUTO), "IPv4-mapped");
	ASSERT_CIDR(0, "192.0.2.0/24");
}

/* ---- with the data path ---- */

static int setup(void)
{
	struct mg_config cfg;
	static uint8_t ports[65536];
	ssize_t n;

	if (lab_init(&lab))
		return -1;
	n = readlink("/proc/self/exe", mailgate, sizeof(mailgate) - 20);
	if (n <= 0)
		return -1;
	mailgate[n] = 0;
	strcpy(strrchr(mailgate, '/'), "/../mailgate");
	if (access(mailgate, X_OK)) {
		printf("  %s not built\n", mailgate);
		return -1;
	}
	if (fx_load(&fx, "zone", 4096))
		return -1;
	snprintf(pin_dir, sizeof(pin_dir), "%.120s", fx.g.pin_dir);
	gate_default_config(&cfg);
	cfg.syn_interval_ns = cfg.prefix_interval_ns = 0;
	memset(cfg.max_concurrent, 0, sizeof(cfg.max_concurrent));
	gate_default_ports(ports);
	if (gate_write_config(&fx.g, &cfg) || gate_write_ports(&fx.g, ports))
		return -1;
	return 0;
}

static void teardown(void)
{
	fx_unload(&fx);
	lab_stop(&lab);
}

/* run mailgate with args (a printf format); its stdout+stderr in out_buf; the exit status */
static int run(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	size_t len = 0;
	FILE *p;
	int st;

	len = snprintf(cmd, sizeof(cmd), "%s --pin-dir %s ", mailgate, pin_dir);
	va_start(ap, fmt);
	vsnprintf(cmd + len, sizeof(cmd) - len, fmt, ap);
	va_end(ap);
	strncat(cmd, " 2>&1", sizeof(cmd) - strlen(cmd) - 1);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	len = fread(out_buf, 1, sizeof(out_buf) - 1, p);
	out_buf[len] = 0;
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static const char *path(const char *name)
{
	static char buf[4][256];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", lab.dir, name);
	return buf[i];
}

static int syn(const char *src)
{
	return fx_syn(&fx, src, 25);
}

/* every key of the deny list (batched lookups); the count */
static size_t deny_keys(struct mg_lpm_key **out)
{
	static struct mg_rule vals[16384];
	LIBBPF_OPTS(bpf_map_batch_opts, o);
	struct mg_lpm_key cur, next;
	size_t n = 0, cap = 0;
	bool first = true;
	int fd = list_live_fd(&fx.g, MG_LIST_DENY);

	*out = NULL;
	if (fd < 0)
		return 0;
	for (;;) {
		uint32_t cnt = 16384;
		int r;

		if (n + cnt > cap) {
			cap = cap ? cap * 2 : 65536;
			*out = realloc(*out, cap * sizeof(**out));
		}
		r = fd < 0 ? -1 : bpf_map_lookup_batch(fd, first ? NULL : &cur, &next, *out + n, vals, &cnt, &o);
		first = false;
		cur = next;
		n += cnt;
		if (r)
			break;
	}
	if (fd >= 0)
		close(fd);
	return n;
}

static size_t deny_count(void)
{
	struct mg_lpm_key *k;
	size_t n = deny_keys(&k);

	free(k);
	return n;
}

static void clear_deny(void)
{
	LIBBPF_OPTS(bpf_map_batch_opts, o);
	struct mg_lpm_key *k;
	size_t n = deny_keys(&k);
	int fd = list_live_fd(&fx.g, MG_LIST_DENY);

	for (size_t i = 0; fd >= 0 && i < n; i += 16384) {
		uint32_t cnt = n - i < 16384 ? n - i : 16384;

		bpf_map_delete_batch(fd, k + i, &cnt, &o);
	}
	if (fd >= 0)
		close(fd);
	free(k);
}

static bool deny_get(const char *c, struct mg_rule *r)
{
	struct mg_lpm_key k;

	return !parse_cidr(c, &k) && !list_get(&fx.g, MG_LIST_DENY, &k, r);
}

static const char ip4set_file[] =
	"# a test zone\n"                       /* 1 */
	"$SOA 3600 ns.example. hostmaster.example. 0 600 300 86400 60\n"
	"$TTL 300\n"
	":127.0.0.4:Listed, see http://example/$\n"
	"192.0.2.0/24\n"                       /* 5 */
	"!192.0.2.5\n"
	"198.51.100.16-198.51.100.23 :127.0.0.6:\n"
	"203.0.113.300\n"                      /* 8: bad */
	"203.0.113.7 ; comment\n"
	"203.0.113.1/24\n"                     /* 10: bad (host bits) */
	"\n"
	"10\n";                                /* 12: bad (bare number) */

/* `deny list` marks an exclusion: "!PREFIX" in the human list, "exclude"
 * in --json; a plain listing is not marked */
static void deny_list_shows_exclusions(const char *excl, const char *listed)
{
	struct json_object *o, *entries;
	char want[80];
	int marked = 0, plain = 0;

	ASSERT_EQ(run("deny list"), 0, "deny list");
	snprintf(want, sizeof(want), "\n!%s ", excl);
	ASSERT_HAS_SUBSTR(out_buf, want, "exclusion shown as !PREFIX");
	snprintf(want, sizeof(want), "\n%s ", listed);
	ASSERT_HAS_SUBSTR(out_buf, want, "listing shown without !");
	ASSERT_HAS_SUBSTR(out_buf, "(!PREFIX: an exclusion", "the mark explained");
	ASSERT_EQ(run("deny list --json"), 0, "deny list --json");
	o = json_tokener_parse(out_buf);
	if (!ASSERT_TRUE(o && json_object_object_get_ex(o, "entries", &entries), out_buf))
		goto out;
	for (size_t i = 0; i < json_object_array_length(entries); i++) {
		struct json_object *e = json_object_array_get_idx(entries, i), *c, *x;

		if (!json_object_object_get_ex(e, "cidr", &c) || !json_object_object_get_ex(e, "exclude", &x))
			continue;
		marked += !strcmp(json_object_get_string(c), excl) && json_object_get_boolean(x);
		plain += !strcmp(json_object_get_string(c), listed) && !json_object_get_boolean(x);
	}
	ASSERT_EQ(marked, 1, "exclusion: \"exclude\": true");
	ASSERT_EQ(plain, 1, "listing: \"exclude\": false");
out:
	json_object_put(o);
}

TEST(load_ip4set_and_judge)
{
	struct mg_rule r;
	int rc;

	clear_deny();
	lab_write(&lab, "z4", ip4set_file, 0);
	rc = run("zone load %s", path("z4"));
	ASSERT_EQ(rc, 0, out_buf);
	ASSERT_HAS_SUBSTR(out_buf, "z4:8: '203.0.113.300'", "line 8 reported");
	ASSERT_HAS_SUBSTR(out_buf, "z4:10: '203.0.113.1/24': host bits", "line 10 reported");
	ASSERT_HAS_SUBSTR(out_buf, "z4:12: '10'", "line 12 reported");
	ASSERT_HAS_SUBSTR(out_buf, "3 bad lines", "bad lines counted");
	ASSERT_EQ(deny_count(), 4, "prefixes: /24, exclusion, /29, /32");
	ASSERT_TRUE(deny_get("192.0.2.0/24", &r) && r.value == 0x7f000004 && r.origin == MG_ORIGIN_ZONE &&
		    r.expires_ns == 0 && !(r.flags & MG_RULE_EXCLUDE), "192.0.2.0/24 with default value");
	ASSERT_TRUE(deny_get("192.0.2.5/32", &r) && (r.flags & MG_RULE_EXCLUDE), "exclusion");
	ASSERT_TRUE(deny_get("198.51.100.16/29", &r) && r.value == 0x7f000006, "range as /29");
	ASSERT_EQ(syn("192.0.2.9"), XDP_DROP, "listed /24 dropped");
	ASSERT_EQ(syn("192.0.2.5"), XDP_PASS, "excluded address passes");
	ASSERT_EQ(syn("198.51.100.23"), XDP_DROP, "range end dropped");
	ASSERT_EQ(syn("198.51.100.24"), XDP_PASS, "after the range passes");
	ASSERT_EQ(syn("203.0.113.7"), XDP_DROP, "/32 dropped");
	ASSERT_EQ(syn("203.0.113.8"), XDP_PASS, "neighbour passes");
	deny_list_shows_exclusions("192.0.2.5/32", "192.0.2.0/24");

	rc = run("zone load %s --ttl 1h --json", path("z4"));
	ASSERT_EQ(rc, 0, "reload with --ttl");
	ASSERT_HAS_SUBSTR(out_buf, "\"removed\":0", "same set: nothing removed");
	ASSERT_TRUE(deny_get("192.0.2.0/24", &r), "still there");
	ASSERT_RANGE((int64_t)(r.expires_ns - now_boot_ns()) / (int64_t)NSEC_PER_SEC, 3590, 3600, "expiry 1h");
}

TEST(load_bad_usage)
{
	ASSERT_EQ(run("zone load"), 2, "no file");
	ASSERT_EQ(run("zone load %s --ttl soon", path("z4")), 2, "bad ttl");
	ASSERT_HAS_SUBSTR(out_buf, "'soon'", "the message");
	ASSERT_EQ(run("zone load %s --type ip5set", path("z4")), 2, "bad type");
	ASSERT_HAS_SUBSTR(out_buf, "'ip5set'", "the message");
	ASSERT_EQ(run("zone load /nonexistent/zone"), 1, "missing file");
	lab_write(&lab, "junk", "not an address\nneither\n", 0);
	ASSERT_EQ(run("zone load %s", path("junk")), 2, "nothing valid");
	ASSERT_EQ(run("zone frobnicate"), 2, "unknown subcommand");
	ASSERT_EQ(run("zone export"), 2, "export without file");
	ASSERT_EQ(run("zone export %s --family 5", path("x")), 2, "bad family");
}

TEST(reload_replaces_own_set_only)
{
	struct mg_lpm_key k;
	struct mg_rule r, cli = { .origin = MG_ORIGIN_CLI, .prefixlen = 96 + 32 };

	clear_deny();
	lab_write(&lab, "a", "192.0.2.1\n192.0.2.2\n192.0.2.3\n", 0);
	lab_write(&lab, "b", "198.51.100.1\n", 0);
	ASSERT_EQ(run("zone load %s", path("a")), 0, "load a");
	ASSERT_EQ(run("zone load %s", path("b")), 0, "load b");
	/* an operator's entry on a prefix the file also has */
	parse_cidr("192.0.2.9/32", &k);
	list_put(&fx.g, MG_LIST_DENY, &k, &cli);
	lab_write(&lab, "a", "192.0.2.2\n192.0.2.3\n192.0.2.4\n192.0.2.9\n", 0);
	ASSERT_EQ(run("zone load %s --json", path("a")), 0, "reload a");
	ASSERT_HAS_SUBSTR(out_buf, "\"removed\":1", "192.0.2.1 removed");
	ASSERT_HAS_SUBSTR(out_buf, "\"kept_operator_entries\":1", "operator entry kept");
	ASSERT_TRUE(!deny_get("192.0.2.1/32", &r), "192.0.2.1 gone");
	ASSERT_TRUE(deny_get("192.0.2.4/32", &r), "192.0.2.4 added");
	ASSERT_TRUE(deny_get("192.0.2.9/32", &r) && r.origin == MG_ORIGIN_CLI, "operator entry untouched");
	ASSERT_TRUE(deny_get("198.51.100.1/32", &r), "the other file's entry stays");
	ASSERT_EQ(syn("192.0.2.1"), XDP_PASS, "removed passes");
	ASSERT_EQ(syn("192.0.2.4"), XDP_DROP, "added drops");
}

/* SYNs from a source in both the old and the new set, during a reload */
struct prober {
	const char *src;
	volatile bool stop;
	uint64_t sent, passed;
};

static void *probe(void *arg)
{
	struct prober *p = arg;

	while (!p->stop) {
		int r = syn(p->src);

		p->sent++;
		p->passed += r != XDP_DROP;
	}
	return NULL;
}

static void gen_file(const char *name, uint32_t n, uint32_t seed, const char *extra)
{
	FILE *f = fopen(path(name), "w");
	uint32_t x = seed;

	for (uint32_t i = 0; i < n; i++) {
		x = x * 1664525u + 1013904223u; /* LCG: distinct addresses */
		/* 1.0.0.0 - 126.255.255.255 and 128.0.0.0 - 223.x, as /32 and some /24 */
		uint32_t a = (x >> 1) % 0xDE000000u + 0x01000000u;

		if ((a >> 24) == 127)
			a ^= 0x01000000u;
		if (i % 8 == 0)
			fprintf(f, "%u.%u.%u.0/24\n", a >> 24, (a >> 16) & 255, (a >> 8) & 255);
		else
			fprintf(f, "%u.%u.%u.%u\n", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
	}
	if (extra)
		fputs(extra, f);
	fclose(f);
	chmod(path(name), 0644);
}

TEST(reload_has_no_window)
{
	struct prober p = { .src = "192.0.2.77" };
	pthread_t t;

	clear_deny();
	gen_file("big", 200000, 1, "192.0.2.77\n");
	ASSERT_EQ(run("zone load %s", path("big")), 0, "first load");
	ASSERT_EQ(syn("192.0.2.77"), XDP_DROP, "listed");
	gen_file("big", 200000, 2, "192.0.2.77\n"); /* every other entry changes */
	pthread_create(&t, NULL, probe, &p);
	ASSERT_EQ(run("zone load %s --json", path("big")), 0, "reload");
	p.stop = true;
	pthread_join(t, NULL);
	printf("  %llu SYNs from a listed source during the reload, %llu passed\n",
	       (unsigned long long)p.sent, (unsigned long long)p.passed);
	ASSERT_TRUE(p.sent > 100, "probed during the reload");
	ASSERT_EQ(p.passed, 0, "never passed");
	ASSERT_HAS_SUBSTR(out_buf, "\"removed\":", "old set removed");
	ASSERT_NO_SUBSTR(out_buf, "\"removed\":0,", "old set removed");
}

TEST(load_ip6trie)
{
	struct mg_rule r;

	clear_deny();
	lab_write(&lab, "z6", ":127.0.1.2:\n2001:db8:1::/48\n2001:db8:2:3 :127.0.0.9: one /64\n"
			      "!2001:db8:1::bead\n::/0\n", 0);
	ASSERT_EQ(run("zone load %s --type ip6trie", path("z6")), 0, "load");
	ASSERT_HAS_SUBSTR(out_buf, "z6:5: '::/0'", "::/0 refused with its line");
	ASSERT_EQ(deny_count(), 3, "3 prefixes");
	ASSERT_TRUE(deny_get("2001:db8:2:3::/64", &r) && r.value == 0x7f000009, "/64 with value");
	ASSERT_EQ(syn("2001:db8:1::1"), XDP_DROP, "listed /48");
	ASSERT_EQ(syn("2001:db8:1::bead"), XDP_PASS, "excluded");
	ASSERT_EQ(syn("2001:db8:2:3::99"), XDP_DROP, "listed /64");
	ASSERT_EQ(syn("2001:db8:2:4::99"), XDP_PASS, "next /64");
	ASSERT_EQ(syn("192.0.2.200"), XDP_PASS, "IPv4 untouched");
	deny_list_shows_exclusions("2001:db8:1::bead/128", "2001:db8:1::/48");
}

static int lab_answer(const char *q, uint32_t *a)
{
	struct dnsbl_answer x;

	lab_query(lab.port, q, &x);
	*a = x.n ? x.a[0] : 0;
	return x.result;
}

/* the export's lines without the comment header */
static char *body(const char *file)
{
	static char buf[2][1 << 16];
	static int i;
	FILE *f = fopen(file, "r");
	char ln[512];
	size_t o = 0;

	i ^= 1;
	buf[i][0] = 0;
	while (f && fgets(ln, sizeof(ln), f))
		if (ln[0] != '#')
			o += snprintf(buf[i] + o, sizeof(buf[i]) - o, "%s", ln);
	if (f)
		fclose(f);
	return buf[i];
}

TEST(export_served_by_rbldnsd_and_round_trip)
{
	static const char *const zones[] = {
		"exp.test:combined:exp", "exp4.test:ip4trie:exp4", "exp6.test:ip6trie:exp6", NULL,
	};
	struct gate g2 = {};
	struct gate_sizes sizes = { .max_sources = 4096 };
	struct mg_ban ban = { .origin = MG_ORIGIN_CLI };
	struct mg_addr ba;
	char pin2[128], saved[128];
	uint32_t a;

	clear_deny();
	lab_write(&lab, "z4", ip4set_file, 0);
	lab_write(&lab, "z6", "2001:db8:1::/48 :127.0.0.5:\n!2001:db8:1::bead\n", 0);
	ASSERT_EQ(run("zone load %s", path("z4")), 0, "load v4");
	ASSERT_EQ(run("zone load %s", path("z6")), 0, "load v6");
	parse_addr("203.0.113.99", &ba);
	bpf_map_update_elem(fx.g.fd[GM_BAN], &ba, &ban, BPF_ANY);
	ASSERT_EQ(run("zone export %s", path("exp")), 0, "export");
	ASSERT_HAS_SUBSTR(out_buf, "exported 7 entries", "the message");
	ASSERT_EQ(run("zone export %s --family 4", path("exp4")), 0, "export v4");
	ASSERT_EQ(run("zone export %s --family 6", path("exp6")), 0, "export v6");
	ASSERT_HAS_SUBSTR(body(path("exp")), "!192.0.2.5/32\n", "exclusion exported");

	if (!ASSERT_OK(lab_start(&lab, zones, "exp.test"), "rbldnsd loads the exports"))
		goto out;
	ASSERT_EQ(lab_answer("9.2.0.192.exp.test", &a), DR_CLEAN, "listed /24");
	ASSERT_EQ(a, 0x7f000004, "its value");
	ASSERT_EQ(lab_answer("5.2.0.192.exp.test", &a), DR_NXDOMAIN, "excluded");
	ASSERT_EQ(lab_answer("20.100.51.198.exp4.test", &a), DR_CLEAN, "range, ip4trie file");
	ASSERT_EQ(a, 0x7f000006, "its value");
	ASSERT_EQ(lab_answer("99.113.0.203.exp.test", &a), DR_CLEAN, "ban");
	ASSERT_EQ(a, 0x7f000003, "bans answer 127.0.0.3");
	ASSERT_EQ(lab_answer("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.exp.test", &a),
		  DR_CLEAN, "IPv6 listed");
	ASSERT_EQ(a, 0x7f000005, "its value");
	ASSERT_EQ(lab_answer("d.a.e.b.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.exp6.test", &a),
		  DR_NXDOMAIN, "IPv6 exclusion, ip6trie file");
	ASSERT_EQ(lab_answer("1.0.0.127.exp.test", &a), DR_NXDOMAIN, "unlisted");

	/* round trip: the export into an empty gate, exported again: the same */
	snprintf(pin2, sizeof(pin2), "%.100s-2", pin_dir);
	if (!ASSERT_OK(gate_load(&g2, pin2, &sizes), "second gate"))
		goto out;
	snprintf(saved, sizeof(saved), "%s", pin_dir);
	snprintf(pin_dir, sizeof(pin_dir), "%s", pin2);
	ASSERT_EQ(run("zone load %s", path("exp")), 0, "load the export");
	ASSERT_EQ(run("zone export %s", path("exp2")), 0, "export again");
	snprintf(pin_dir, sizeof(pin_dir), "%s", saved);
	ASSERT_STREQ(body(path("exp")), body(path("exp2")), "round trip keeps every entry and value");
	gate_close(&g2);
	rm_dir(pin2);
out:
	bpf_map_delete_elem(fx.g.fd[GM_BAN], &ba);
}

static void print_times(const char *what, uint64_t wall)
{
	double parse = 0, rd = 0, upd = 0, rm = 0;
	const char *p;

	if ((p = strstr(out_buf, "\"parse_s\":")))
		parse = atof(p + 10);
	if ((p = strstr(out_buf, "\"read_s\":")))
		rd = atof(p + 9);
	if ((p = strstr(out_buf, "\"update_s\":")))
		upd = atof(p + 11);
	if ((p = strstr(out_buf, "\"switch_s\":")))
		rm = atof(p + 11);
	printf("  %s: %.2f s (parse %.2f, read the deny list %.2f, build the new set %.2f, switch %.2f)\n",
	       what, wall / 1e9, parse, rd, upd, rm);
}

/* a feed that lost more than half of its entries: refused, nothing changes;
 * --force loads it */
TEST(truncated_feed_refused_unless_force)
{
	clear_deny();
	gen_file("feed", 1000, 11, "192.0.2.77\n");
	ASSERT_EQ(run("zone load %s", path("feed")), 0, "first load");
	ASSERT_EQ(deny_count(), 1001, "1001 entries");
	gen_file("feed", 400, 11, NULL); /* the first 400 lines: a truncated download */
	ASSERT_EQ(run("zone load %s", path("feed")), 1, "truncated feed refused");
	ASSERT_HAS_SUBSTR(out_buf, "lost more than half", "the message");
	ASSERT_HAS_SUBSTR(out_buf, "--force", "the message");
	ASSERT_HAS_SUBSTR(out_buf, "nothing changed", "the message");
	ASSERT_EQ(deny_count(), 1001, "the live set as it was");
	ASSERT_EQ(syn("192.0.2.77"), XDP_DROP, "an entry the truncated file lacks still drops");
	ASSERT_EQ(run("zone load %s --force --json", path("feed")), 0, "--force");
	ASSERT_EQ(deny_count(), 400, "400 entries");
	ASSERT_EQ(syn("192.0.2.77"), XDP_PASS, "gone with --force");
	clear_deny();
}

static int key_order(const void *x, const void *y)
{
	return memcmp(x, y, sizeof(struct mg_lpm_key));
}

/* the live deny set's keys, sorted, and their count */
static size_t deny_sorted(struct mg_lpm_key **k)
{
	size_t n = deny_keys(k);

	qsort(*k, n, sizeof(**k), key_order);
	return n;
}

/* n lines that are no entry (a download that got an HTML error page
 * appended, or garbage): what gen_file appends */
static char *garbage(int n)
{
	char *s = calloc(n, 64), *p = s;

	for (int i = 0; s && i < n; i++)
		p += sprintf(p, "<td class=\"row%d\">not an address</td>\n", i);
	return s;
}

/* more than 10 bad lines and more than 10% of the entry lines: refused,
 * the live set exactly as it was; --force loads the good lines; 10 bad
 * lines, or 50 of 1050 (under 10%), load */
TEST(too_many_bad_lines_refused_unless_force)
{
	struct mg_lpm_key *before = NULL, *after = NULL;
	char *g200 = garbage(200), *g12 = garbage(12), *g10 = garbage(10), *g50 = garbage(50);
	size_t nb, na;

	clear_deny();
	gen_file("bad", 1000, 13, "192.0.2.77\n");
	ASSERT_EQ(run("zone load %s", path("bad")), 0, "first load");
	nb = deny_sorted(&before);
	ASSERT_EQ(nb, 1001, "1001 entries");
	gen_file("bad", 1000, 17, g200); /* other addresses, 200 bad lines of 1200 */
	ASSERT_EQ(run("zone load %s", path("bad")), 1, "200 bad lines of 1200 refused");
	ASSERT_HAS_SUBSTR(out_buf, "200 bad lines of 1200 entry lines", "the message");
	ASSERT_HAS_SUBSTR(out_buf, "--force", "the message");
	ASSERT_HAS_SUBSTR(out_buf, "nothing changed", "the message");
	na = deny_sorted(&after);
	ASSERT_TRUE(na == nb && !memcmp(before, after, nb * sizeof(*before)), "the live set exactly as it was");
	ASSERT_EQ(syn("192.0.2.77"), XDP_DROP, "an entry of the live set still drops");
	gen_file("bad", 100, 17, g12); /* 12 bad lines of 112 */
	ASSERT_EQ(run("zone load %s --force", path("bad")), 0, "--force");
	ASSERT_HAS_SUBSTR(out_buf, "12 bad lines", "the message");
	ASSERT_EQ(deny_count(), 100, "the good lines loaded");
	ASSERT_EQ(syn("192.0.2.77"), XDP_PASS, "gone with --force");
	gen_file("bad", 100, 19, g12);
	ASSERT_EQ(run("zone load %s", path("bad")), 1, "12 bad lines of 112 refused");
	gen_file("bad", 50, 19, g10); /* 10 bad lines of 60: tolerated */
	ASSERT_EQ(run("zone load %s", path("bad")), 0, out_buf);
	ASSERT_EQ(deny_count(), 50, "10 bad lines: loaded");
	gen_file("bad", 1000, 23, g50); /* 50 of 1050: under 10% */
	ASSERT_EQ(run("zone load %s", path("bad")), 0, out_buf);
	ASSERT_EQ(deny_count(), 1000, "50 bad lines of 1050: loaded");
	free(before);
	free(after);
	free(g200);
	free(g12);
	free(g10);
	free(g50);
	clear_deny();
}

/* lines of ranges, each many CIDRs: more prefixes than the deny list holds.
 * Refused before anything is written, counted without expanding them. */
TEST(over_capacity_refused)
{
	FILE *f = fopen(path("huge"), "w");
	uint32_t lines = 300000;

	clear_deny();
	ASSERT_EQ(run("deny add 203.0.113.0/24"), 0, "an operator entry");
	for (uint32_t i = 0; i < lines; i++) { /* a.b.c.1 - a.b.(c+1).254: 14 CIDRs each */
		uint32_t a = 0x0b000000u + i * 512;

		fprintf(f, "%u.%u.%u.1-%u.%u.%u.254\n", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a >> 24,
			(a >> 16) & 255, ((a >> 8) & 255) + 1);
	}
	fclose(f);
	chmod(path("huge"), 0644);
	ASSERT_EQ(run("zone load %s", path("huge")), 1, "refused");
	ASSERT_HAS_SUBSTR(out_buf, "more than its capacity", "the message");
	ASSERT_HAS_SUBSTR(out_buf, "nothing changed", "the message");
	ASSERT_EQ(deny_count(), 1, "the live set as it was");
	ASSERT_EQ(syn("203.0.113.5"), XDP_DROP, "and still denies");
	unlink(path("huge"));
	clear_deny();
}

/* a load killed half way (kill -9) changes nothing */
TEST(killed_load_changes_nothing)
{
	char cmd[3 * PATH_MAX];
	pid_t pid;
	int st;

	clear_deny();
	lab_write(&lab, "small", "192.0.2.77\n198.51.100.0/24\n", 0);
	ASSERT_EQ(run("zone load %s --name feed", path("small")), 0, "first load");
	gen_file("kill", 1000000, 5, NULL);
	snprintf(cmd, sizeof(cmd), "exec %s --pin-dir %s zone load %s --name feed --force >/dev/null 2>&1",
		 mailgate, pin_dir, path("kill"));
	pid = fork();
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	usleep(700000); /* parsing or building, not yet switched */
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	if (!WIFSIGNALED(st)) {
		test_skip("the load finished within 0.7 s: nothing to kill");
	} else {
		ASSERT_EQ(deny_count(), 2, "the live set as it was");
		ASSERT_EQ(syn("192.0.2.77"), XDP_DROP, "still denied");
		ASSERT_EQ(syn("198.51.100.9"), XDP_DROP, "still denied (/24)");
	}
	unlink(path("kill"));
	clear_deny();
}

/* refused lines with control bytes: escaped in the message */
TEST(bad_line_escaped)
{
	lab_write(&lab, "ctl", "192.0.2.1\n\x1b[31mevil\x07\n", 0);
	ASSERT_EQ(run("zone load %s --name ctl", path("ctl")), 0, "load");
	ASSERT_HAS_SUBSTR(out_buf, "\\x1b[31mevil\\x07", "the message");
	ASSERT_TRUE(!strchr(out_buf, 0x1b) && !strchr(out_buf, 0x07), "no raw control byte");
	lab_write(&lab, "empty", "# nothing\n", 0);
	ASSERT_EQ(run("zone load %s --name empty", path("empty")), 0, "a file without entries");
	clear_deny();
}

/* peak memory of a load of 1M lines, a quarter of them ranges */
TEST(range_heavy_load_memory)
{
	FILE *f = fopen(path("ranges"), "w");
	struct rusage ru;
	uint64_t t0;

	clear_deny();
	for (uint32_t i = 0; i < 1000000; i++) {
		uint32_t a = 0x0b000000u + i * 16;

		if (i % 4 == 0) /* a.b.c.d+1 - a.b.c.d+6: 4 CIDRs */
			fprintf(f, "%u.%u.%u.%u-%u\n", a >> 24, (a >> 16) & 255, (a >> 8) & 255, (a & 255) + 1,
				(a & 255) + 6);
		else
			fprintf(f, "%u.%u.%u.%u\n", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
	}
	fclose(f);
	chmod(path("ranges"), 0644);
	t0 = now_boot_ns();
	ASSERT_EQ(run("zone load %s --json", path("ranges")), 0, "load");
	getrusage(RUSAGE_CHILDREN, &ru);
	printf("  1M lines (250k ranges), %zu prefixes: %.2f s, peak RSS of the children so far %ld MiB\n",
	       deny_count(), (now_boot_ns() - t0) / 1e9, ru.ru_maxrss / 1024);
	ASSERT_EQ(deny_count(), 1750000, "1.75M prefixes");
	ASSERT_TRUE(ru.ru_maxrss < 200 * 1024, "peak RSS under 200 MB");
	unlink(path("ranges"));
	clear_deny();
}

static off_t file_size(const char *p)
{
	struct stat st;

	return stat(p, &st) ? -1 : st.st_size;
}

static long children_peak_mib(void)
{
	struct rusage ru;

	return getrusage(RUSAGE_CHILDREN, &ru) ? -1 : ru.ru_maxrss / 1024;
}

/* CPU seconds (user + system) of the children so far: on a shared machine
 * the wall time of a command also counts the other jobs' */
static double children_cpu(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_CHILDREN, &ru))
		return 0;
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* 1M prefixes (ZONE_PREFIXES=N for another size, e.g. 4000000 by hand: the
 * figures of docs/zone.md): load, reload, export, deny list, the census */
TEST(million_prefixes)
{
	const char *env = getenv("ZONE_PREFIXES");
	uint32_t want = env && atoi(env) > 0 ? (uint32_t)atoi(env) : 1000000;
	const char *p;
	double cpu;
	uint64_t t0;
	size_t n;

	clear_deny();
	gen_file("m", want, 7, NULL);
	t0 = now_boot_ns();
	cpu = children_cpu();
	ASSERT_EQ(run("zone load %s --json", path("m")), 0, "load");
	print_times("load (wall, whole command)", now_boot_ns() - t0);
	printf("    CPU time of the command %.2f s\n", children_cpu() - cpu);
	n = deny_count();
	ASSERT_RANGE(n, want / 100 * 99, want, "prefixes in the deny list (LCG repeats are duplicates)");
	t0 = now_boot_ns();
	cpu = children_cpu();
	ASSERT_EQ(run("zone load %s --json", path("m")), 0, "reload");
	print_times("reload of the same file", now_boot_ns() - t0);
	printf("    CPU time of the command %.2f s\n", children_cpu() - cpu);
	ASSERT_EQ(deny_count(), n, "same count after reload");
	ASSERT_HAS_SUBSTR(out_buf, "\"removed\":0,", "nothing removed");
	t0 = now_boot_ns();
	cpu = children_cpu();
	ASSERT_EQ(run("zone export %s", path("m.exp")), 0, "export");
	printf("  %zu prefixes; export: %.2f s (CPU %.2f s); peak RSS of the children so far %ld MiB\n", n,
	       (now_boot_ns() - t0) / 1e9, children_cpu() - cpu, children_peak_mib());
	ASSERT_HAS_SUBSTR(out_buf, "exported", "out_buf");
	t0 = now_boot_ns();
	cpu = children_cpu();
	ASSERT_EQ(run("deny list --json > %s", path("m.list")), 0, "deny list");
	printf("  deny list --json: %.2f s (CPU %.2f s), %.0f MiB of output\n", (now_boot_ns() - t0) / 1e9,
	       children_cpu() - cpu, file_size(path("m.list")) / 1048576.0);
	ASSERT_TRUE(file_size(path("m.list")) > (off_t)n * 20, "deny list: every entry");
	t0 = now_boot_ns();
	cpu = children_cpu();
	ASSERT_EQ(run("status --json"), 0, "status");
	printf("  status --json (the census): %.2f s (CPU %.2f s); peak RSS of the children so far %ld MiB\n",
	       (now_boot_ns() - t0) / 1e9, children_cpu() - cpu, children_peak_mib());
	p = strstr(out_buf, "\"mg_deny\"");
	p = p ? strstr(p, "\"entries\":") : NULL;
	ASSERT_TRUE(p && strtoull(p + 10, NULL, 10) == n, "the census counts the deny set");
	clear_deny();
	unlink(path("m"));
	unlink(path("m.exp"));
	unlink(path("m.list"));
}

int main(int argc, char **argv)
{
	if (geteuid() != 0) {
		printf("SKIP test_zone:all: needs root (BPF maps)\n");
		return 0;
	}
	return test_main(argc, argv, setup, teardown);
}
