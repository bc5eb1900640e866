// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* /metrics end to end without a daemon: the gate is loaded into a pin dir of
 * its own, SYNs go through the XDP program with BPF_PROG_TEST_RUN, the
 * metrics server runs on a free loopback port, and selftests/test_metrics.py
 * scrapes it with prometheus_client's parser and checks every family and
 * the exact counts. Also: a reload on the same pins keeps the counters, bad
 * and slow HTTP clients, the map census, label escaping, logging. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "mailgate.h"
#include "listset.h"
#include "gate.skel.h"
#include "test.h"
#include "cleanup.h"
#include "metrics.h"
#include "prom.h"

#define PIN_PREFIX "/sys/fs/bpf/mgt-metrics-"
#define TEST_MAX_SOURCES 4096 /* mg_ban etc. get 1024 */


static char pin_dir[PATH_MAX];
static char tmp_dir[256];
static char script[PATH_MAX];
static char dashboard[PATH_MAX];
static const char *python = "python3";

/* ---- setup: a pin dir and a temp dir of our own; those of dead runs go ---- */
static int setup(void)
{
	char exe[PATH_MAX / 2], *slash;
	ssize_t n;

	rm_left_behind("/sys/fs/bpf", "mgt-metrics-");
	rm_left_behind("/tmp", "mgt-metrics-");
	snprintf(pin_dir, sizeof(pin_dir), PIN_PREFIX "%d", getpid());
	snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/mgt-metrics-%d", getpid());
	if (mkdir(tmp_dir, 0700) && errno != EEXIST)
		return -errno;
	/* the script sits next to this test's source: ROOT/selftests/; the
	 * binary is ROOT/.output/selftests/test_metrics */
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = 0;
		for (int i = 0; i < 3 && (slash = strrchr(exe, '/')); i++)
			*slash = 0;
		snprintf(script, sizeof(script), "%s/selftests/test_metrics.py", exe);
		snprintf(dashboard, sizeof(dashboard), "%s/dashboards/grafana-mailgate.json", exe);
	}
	if (access(script, R_OK)) {
		snprintf(script, sizeof(script), "selftests/test_metrics.py");
		snprintf(dashboard, sizeof(dashboard), "dashboards/grafana-mailgate.json");
	}
	/* Debian's python3 has python3-prometheus-client; a python3 earlier
	 * in PATH (pyenv, venv) may not */
	if (!access("/usr/bin/python3", X_OK))
		python = "/usr/bin/python3";
	log_level = LOG_LVL_WARN;
	return 0;
}

static void teardown(void)
{
	rm_dir(pin_dir);
	rm_dir(tmp_dir);
}

/* ---- the gate and packets ---- */
static int gate_up(struct gate *g, bool fresh)
{
	struct gate_sizes sizes = { .max_sources = TEST_MAX_SOURCES };
	static uint8_t ports[65536];
	struct mg_config cfg;
	int err;

	err = gate_load(g, pin_dir, &sizes);
	if (err || !fresh)
		return err;
	gate_default_config(&cfg);
	gate_default_ports(ports);
	err = gate_write_config(g, &cfg);
	return err ? err : gate_write_ports(g, ports);
}

/* one TCP segment from src to dport through the XDP program; the verdict */
static int send_tcp(struct gate *g, const char *src, uint16_t dport, uint8_t flags)
{
	uint8_t pkt[128] = { 0 }, *ip = pkt + 14, *tcp;
	struct mg_addr a;
	size_t len;
	int err;

	if (parse_addr(src, &a))
		return -EINVAL;
	memcpy(pkt, "\x02\0\0\0\0\x01\x02\0\0\0\0\x02", 12);
	if (addr_is_v4(&a)) {
		pkt[12] = 0x08, pkt[13] = 0x00;
		ip[0] = 0x45, ip[3] = 40, ip[6] = 0x40, ip[8] = 64, ip[9] = 6;
		memcpy(ip + 12, &a.a[12], 4);
		memcpy(ip + 16, "\xcb\x00\x71\x19", 4); /* 203.0.113.25 */
		tcp = ip + 20;
	} else {
		pkt[12] = 0x86, pkt[13] = 0xdd;
		ip[0] = 0x60, ip[5] = 20, ip[6] = 6, ip[7] = 64;
		memcpy(ip + 8, a.a, 16);
		memcpy(ip + 24, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x25", 16); /* 2001:db8::25 */
		tcp = ip + 40;
	}
	tcp[0] = 40000 >> 8, tcp[1] = 40000 & 0xff;
	tcp[2] = dport >> 8, tcp[3] = dport & 0xff;
	tcp[7] = 1;        /* seq */
	tcp[12] = 5 << 4;  /* doff */
	tcp[13] = flags;
	tcp[14] = 0xff;    /* window */
	len = tcp + 20 - pkt;

	LIBBPF_OPTS(bpf_test_run_opts, t, .data_in = pkt, .data_size_in = len, .repeat = 1);
	err = bpf_prog_test_run_opts(bpf_program__fd(g->skel->progs.mg_xdp), &t);
	return err ? -errno : (int)t.retval;
}

#define SYN 0x02
#define ACK 0x10

/* n segments from fmt with %d = 1..n (or n from one address without a %d) */
static int send_n(struct gate *g, const char *fmt, int n, uint16_t dport, uint8_t flags, int want)
{
	char src[64];

	for (int i = 1; i <= n; i++) {
		int r;

		snprintf(src, sizeof(src), fmt, i);
		r = send_tcp(g, src, dport, flags);
		if (!ASSERT_EQ(r, want, src))
			return -1;
	}
	return 0;
}

static int deny_add(struct gate *g, const char *cidr)
{
	struct mg_lpm_key k;
	struct mg_rule r = { .origin = MG_ORIGIN_CLI };

	if (parse_cidr(cidr, &k))
		return -EINVAL;
	r.prefixlen = k.prefixlen;
	return list_put(g, MG_LIST_DENY, &k, &r);
}

static int ban_add(struct gate *g, const char *addr, uint32_t origin, int64_t expires_in_s)
{
	struct mg_ban b = { .origin = origin, .created_ns = now_boot_ns() };
	struct mg_addr a;

	if (parse_addr(addr, &a))
		return -EINVAL;
	if (expires_in_s)
		b.expires_ns = now_boot_ns() + expires_in_s * (int64_t)NSEC_PER_SEC;
	return bpf_map_update_elem(g->fd[ban_map(origin)], &a, &b, BPF_ANY) ? -errno : 0;
}

/* ---- HTTP over a raw socket ---- */
static int connect_to(uint16_t port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct timeval tv = { .tv_sec = 40 }; /* beyond every limit a test allows */
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin))) {
		close(fd);
		return -errno;
	}
	return fd;
}

/* send req, read the answer until the server closes; the status code */
static int http_raw(uint16_t port, const char *req, size_t req_len, char *resp, size_t resp_len)
{
	size_t have = 0;
	ssize_t n = 0;
	int fd = connect_to(port), status = -1;

	if (fd < 0)
		return fd;
	if (send(fd, req, req_len, MSG_NOSIGNAL) != (ssize_t)req_len) {
		close(fd);
		return -EIO;
	}
	while (have < resp_len - 1 && (n = recv(fd, resp + have, resp_len - 1 - have, 0)) > 0)
		have += n;
	resp[have] = 0;
	close(fd);
	if (n < 0 && errno == EAGAIN)
		return -ETIMEDOUT; /* the server never closed */
	if (sscanf(resp, "HTTP/1.%*d %d", &status) != 1)
		return -EPROTO;
	return status;
}

static int http(uint16_t port, const char *method, const char *path, char *resp, size_t resp_len)
{
	char req[512];
	int n = snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
			 method, path);

	return http_raw(port, req, n, resp, resp_len);
}

static const char *http_body(const char *resp)
{
	const char *b = strstr(resp, "\r\n\r\n");

	return b ? b + 4 : "";
}

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- the Prometheus parser half ---- */
static bool have_parser(void)
{
	char cmd[PATH_MAX + 128];

	snprintf(cmd, sizeof(cmd), "%s -c 'import prometheus_client.parser' 2>/dev/null", python);
	return system(cmd) == 0;
}

/* run test_metrics.py on source with the expectations; true when it is happy */
static bool py_check(const char *source, const char *expect_json)
{
	char exp_path[PATH_MAX], out_path[PATH_MAX], cmd[4 * PATH_MAX], line[512];
	FILE *f;
	int rc;

	snprintf(exp_path, sizeof(exp_path), "%s/expect.json", tmp_dir);
	snprintf(out_path, sizeof(out_path), "%s/check.out", tmp_dir);
	f = fopen(exp_path, "w");
	if (!ASSERT_TRUE(f != NULL, "write expect.json"))
		return false;
	fputs(expect_json, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "%s %s '%s' %s >%s 2>&1", python, script, source, exp_path, out_path);
	rc = system(cmd);
	if (rc == 0)
		return true;
	f = fopen(out_path, "r");
	while (f && fgets(line, sizeof(line), f))
		printf("  test_metrics.py: %s", line);
	if (f)
		fclose(f);
	test_fail(__FILE__, __LINE__, "test_metrics.py %s: exit %d", source, rc);
	return false;
}

static struct metrics *serve(struct mg_runtime *rt, const char *listen)
{
	struct mg_settings *s = calloc(1, sizeof(*s));
	struct metrics *m;

	snprintf(s->metrics_listen, sizeof(s->metrics_listen), "%s", listen);
	m = metrics_start(s, rt);
	free(s);
	return m;
}

/* ---- logging ---- */
/* run fn with stderr going to a file; its text in out */
static void capture_stderr(void (*fn)(void *), void *arg, char *out, size_t len)
{
	char path[PATH_MAX];
	int fd, saved;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/stderr", tmp_dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	saved = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	fn(arg);
	dup2(saved, STDERR_FILENO);
	close(saved);
	n = pread(fd, out, len - 1, 0);
	out[n > 0 ? n : 0] = 0;
	close(fd);
}

static int count_lines(const char *s, const char *needle)
{
	int n = 0;

	for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* ================= tests ================= */

TEST(parse_listen)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	static const char *const bad[] = {
		"", "9433", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1",
		"127.0.0.1:94x", "localhost:9433", "::1:9433", "[::1]9433", "[::1]:",
		"[127.0.0.1]:9433", "[::1:9433", "256.0.0.1:1", " 127.0.0.1:9433", "None",
	};

	ASSERT_EQ(metrics_parse_listen("none", &ss), 1, "none");
	ASSERT_EQ(metrics_parse_listen("127.0.0.1:9433", &ss), 0, "127.0.0.1:9433");
	ASSERT_EQ(ss.ss_family, AF_INET, "v4 family");
	ASSERT_EQ(ntohs(sin->sin_port), 9433, "v4 port");
	ASSERT_EQ(ntohl(sin->sin_addr.s_addr), INADDR_LOOPBACK, "v4 addr");
	ASSERT_EQ(metrics_parse_listen("0.0.0.0:0", &ss), 0, "0.0.0.0:0");
	ASSERT_EQ(metrics_parse_listen("[::1]:9433", &ss), 0, "[::1]:9433");
	ASSERT_EQ(ss.ss_family, AF_INET6, "v6 family");
	ASSERT_EQ(ntohs(sin6->sin6_port), 9433, "v6 port");
	ASSERT_TRUE(IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr), "v6 addr");
	ASSERT_EQ(metrics_parse_listen("[2001:db8::1]:65535", &ss), 0, "[2001:db8::1]:65535");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ASSERT_EQ(metrics_parse_listen(bad[i], &ss), -EINVAL, bad[i]);
}

/* exact bytes of the helpers other modules use, then the real parser on them */
TEST(text_format_helpers)
{
	static const double bounds[] = { 0.005, 0.1, 1 };
	static const uint64_t counts[] = { 2, 0, 3, 1 };
	char *buf = NULL, path[PATH_MAX];
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	metrics_family(f, "mailgate_test_total", "counter", "back\\slash\nnewline \"quoted\"");
	fputs("mailgate_test_total{zone=\"", f);
	metrics_label(f, "a\\b\"c\nd");
	fputs("\"} 7\n", f);
	metrics_family(f, "mailgate_test_seconds", "histogram", "h");
	metrics_histogram(f, "mailgate_test_seconds", "zone=\"z\"", bounds, counts, 3, 1.25);
	metrics_family(f, "mailgate_test2_seconds", "histogram", "h2");
	metrics_histogram(f, "mailgate_test2_seconds", "", bounds, counts, 3, 0.5);
	fclose(f);
	ASSERT_STREQ(buf, "# HELP mailgate_test_total back\\\\slash\\nnewline \"quoted\"\n"
		"# TYPE mailgate_test_total counter\n"
		"mailgate_test_total{zone=\"a\\\\b\\\"c\\nd\"} 7\n"
		"# HELP mailgate_test_seconds h\n"
		"# TYPE mailgate_test_seconds histogram\n"
		"mailgate_test_seconds_bucket{zone=\"z\",le=\"0.005\"} 2\n"
		"mailgate_test_seconds_bucket{zone=\"z\",le=\"0.1\"} 2\n"
		"mailgate_test_seconds_bucket{zone=\"z\",le=\"1\"} 5\n"
		"mailgate_test_seconds_bucket{zone=\"z\",le=\"+Inf\"} 6\n"
		"mailgate_test_seconds_sum{zone=\"z\"} 1.25\n"
		"mailgate_test_seconds_count{zone=\"z\"} 6\n"
		"# HELP mailgate_test2_seconds h2\n"
		"# TYPE mailgate_test2_seconds histogram\n"
		"mailgate_test2_seconds_bucket{le=\"0.005\"} 2\n"
		"mailgate_test2_seconds_bucket{le=\"0.1\"} 2\n"
		"mailgate_test2_seconds_bucket{le=\"1\"} 5\n"
		"mailgate_test2_seconds_bucket{le=\"+Inf\"} 6\n"
		"mailgate_test2_seconds_sum 0.5\n"
		"mailgate_test2_seconds_count 6\n", "exposition bytes");
	if (test_failed_now)
		printf("  got:\n%s", buf);

	/* the real parser reads the label back as written */
	if (have_parser()) {
		snprintf(path, sizeof(path), "%s/helpers.prom", tmp_dir);
		f = fopen(path, "w");
		if (ASSERT_TRUE(f != NULL, "write helpers.prom")) {
			fputs(buf, f);
			fclose(f);
			char cmd[2 * PATH_MAX];

			snprintf(cmd, sizeof(cmd),
				 "%s -c 'import sys; from prometheus_client.parser import text_string_to_metric_families as p\n"
				 "fs = {m.name: m for m in p(open(sys.argv[1]).read())}\n"
				 "assert fs[\"mailgate_test\"].samples[0].labels == {\"zone\": \"a\\\\b\\\"c\\nd\"}, fs[\"mailgate_test\"].samples\n"
				 "assert fs[\"mailgate_test\"].documentation == \"back\\\\slash\\nnewline \\\"quoted\\\"\"\n"
				 "b = [s.value for s in fs[\"mailgate_test_seconds\"].samples if s.name.endswith(\"_bucket\")]\n"
				 "assert b == [2, 2, 5, 6], b' %s",
				 python, path);
			ASSERT_EQ(system(cmd), 0, "prometheus_client reads the helpers' output back");
		}
	}
	free(buf);
}

/* the census (iterator or walk) against counts we know */
TEST(census_counts)
{
	struct census fast, slow;
	struct gate g;
	char a[64];
	int err;

	err = gate_up(&g, true);
	if (!ASSERT_OK(err, "gate_load"))
		return;
	for (int i = 0; i < 300; i++) {
		struct mg_src v = {};
		struct mg_addr k;

		snprintf(a, sizeof(a), "2001:db8:1::%x", i + 1);
		parse_addr(a, &k);
		bpf_map_update_elem(g.fd[GM_SRC], &k, &v, BPF_ANY);
	}
	for (int i = 0; i < 1000; i++) {
		snprintf(a, sizeof(a), "10.%d.%d.0/24", i / 256, i % 256);
		deny_add(&g, a);
	}
	for (int i = 0; i < 40; i++) {
		snprintf(a, sizeof(a), "198.51.100.%d", i + 1);
		ban_add(&g, a, MG_ORIGIN_CLI, 600);
	}
	err = census_read(&g, &fast);
	if (ASSERT_OK(err, "census_read")) {
		err = census_walk(&g, &slow);
		ASSERT_OK(err, "census_walk");
		printf("  census by %s\n", fast.walked ? "walking (no map iterator)" : "map iterator");
		ASSERT_EQ(fast.entries[GM_SRC], 300, "mg_src (census_read)");
		ASSERT_EQ(fast.entries[GM_DENY], 1000, "mg_deny (census_read)");
		ASSERT_EQ(fast.entries[GM_BAN], 40, "mg_ban (census_read)");
		ASSERT_EQ(fast.entries[GM_ALLOW], 0, "mg_allow (census_read)");
		ASSERT_EQ(fast.capacity[GM_SRC], TEST_MAX_SOURCES, "mg_src capacity");
		ASSERT_EQ(fast.capacity[GM_BAN], MG_MAX_BAN, "mg_ban capacity");
		ASSERT_EQ(fast.capacity[GM_BAN_QUOTA], TEST_MAX_SOURCES / 4, "mg_ban_quota capacity");
		ASSERT_EQ(fast.capacity[GM_DENY], MG_MAX_DENY, "mg_deny capacity");
		ASSERT_TRUE(!fast.counted[GM_COUNTERS] && !fast.counted[GM_EVENTS], "arrays not counted");
		for (int m = 0; m < GM_MAX; m++)
			ASSERT_EQ(slow.entries[m], fast.entries[m], gate_map_names[m]);
	}
	gate_close(&g);
	rm_dir(pin_dir);
}

/* The fallback for kernels without the iterator: a walk, cached */
TEST(census_walk_cached)
{
	struct census c1, c2;
	struct gate g;
	pid_t pid;
	int status;

	if (!ASSERT_OK(gate_up(&g, true), "gate_load"))
		return;
	ASSERT_OK(deny_add(&g, "192.0.2.0/24"), "deny");
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		/* a process of its own: the census picks its way once per process */
		setenv("MAILGATE_CENSUS_WALK", "1", 1);
		if (census_read(&g, &c1) || !c1.walked || c1.entries[GM_DENY] != 1)
			_exit(1);
		deny_add(&g, "198.51.100.0/24");
		if (census_read(&g, &c2) || c2.taken_ns != c1.taken_ns || c2.entries[GM_DENY] != 1)
			_exit(2); /* within CENSUS_WALK_TTL_NS: the cached count */
		if (census_walk(&g, &c2) || c2.entries[GM_DENY] != 2)
			_exit(3);
		_exit(0);
	}
	ASSERT_TRUE(pid > 0, "fork");
	if (pid > 0) {
		waitpid(pid, &status, 0);
		ASSERT_EQ(WIFEXITED(status) ? WEXITSTATUS(status) : 100, 0,
			  "child (1: first walk, 2: not cached, 3: fresh walk)");
	}
	gate_close(&g);
	rm_dir(pin_dir);
}

/* The main one: exact counts per reason and class through /metrics, read
 * by the real parser; then a reload of the gate on the same pins. */
TEST(scrape_counts_and_restart)
{
	struct mg_runtime rt = { 0 };
	struct metrics *m = NULL;
	char url[128], expect[8192], resp[4096];
	struct mg_global glob;
	uint32_t zero = 0, smtp = MG_CLASS_SMTP, three = 3;
	struct gate g;
	int err;

	if (!have_parser()) {
		test_skip("%s has no prometheus_client (Debian: python3-prometheus-client)", python);
		return;
	}
	err = gate_up(&g, true);
	if (!ASSERT_OK(err, "gate_load"))
		return;
	ASSERT_OK(deny_add(&g, "192.0.2.0/24"), "deny 192.0.2.0/24");
	ASSERT_OK(ban_add(&g, "203.0.113.5", MG_ORIGIN_CLI, 0), "ban (cli, forever)");
	ASSERT_OK(ban_add(&g, "203.0.113.6", MG_ORIGIN_CLI, 600), "ban (cli)");
	ASSERT_OK(ban_add(&g, "2001:db8:bad::1", MG_ORIGIN_QUOTA, 600), "ban (quota)");
	ASSERT_OK(ban_add(&g, "203.0.113.7", MG_ORIGIN_DNSBL, -1), "ban (dnsbl, expired)");
	bpf_map_update_elem(g.fd[GM_CLASS_CONN], &smtp, &three, BPF_ANY);
	bpf_map_lookup_elem(g.fd[GM_GLOBAL], &zero, &glob);
	glob.flood_mode = 1;
	glob.events_lost = 11;
	bpf_map_update_elem(g.fd[GM_GLOBAL], &zero, &glob, BPF_ANY);

	/* 7 denied, 5 + 3 passed, 1 banned, 2 not SYNs, 4 to a port not gated */
	if (send_n(&g, "192.0.2.%d", 7, 25, SYN, XDP_DROP) ||
	    send_n(&g, "198.51.100.%d", 5, 587, SYN, XDP_PASS) ||
	    send_n(&g, "2001:db8::%d", 3, 993, SYN, XDP_PASS) ||
	    send_n(&g, "203.0.113.5", 1, 110, SYN, XDP_DROP) ||
	    send_n(&g, "198.51.100.9", 2, 25, SYN | ACK, XDP_PASS) ||
	    send_n(&g, "198.51.100.%d", 4, 8080, SYN, XDP_PASS))
		goto out;

	rt.gate = &g;
	rt.events[MG_EVENT_DNSBL_QUERY] = 5;
	rt.events[MG_EVENT_BAN] = 2;
	rt.bans_created[MG_ORIGIN_QUOTA] = 4;
	rt.start_ns = now_boot_ns() - 30 * NSEC_PER_SEC;
	m = serve(&rt, "127.0.0.1:0");
	if (!ASSERT_TRUE(m != NULL, "metrics_start on 127.0.0.1:0"))
		goto out;
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/metrics", metrics_port(m));
	snprintf(expect, sizeof(expect),
		"{\"dashboard\": \"%s\", \"families\": {"
		"\"mailgate_packets_total\": {\"exact\": true, \"samples\": ["
		"  [{\"reason\": \"drop_deny\", \"class\": \"smtp\"}, 7],"
		"  [{\"reason\": \"pass_ok\", \"class\": \"submission\"}, 5],"
		"  [{\"reason\": \"pass_ok\", \"class\": \"imap\"}, 3],"
		"  [{\"reason\": \"drop_ban\", \"class\": \"pop3\"}, 1],"
		"  [{\"reason\": \"pass_other\", \"class\": \"none\"}, 2],"
		"  [{\"reason\": \"pass_not_gated\", \"class\": \"none\"}, 4],"
		"  [{\"reason\": \"drop_rate\", \"class\": \"smtp\"}, 0],"
		"  [{\"reason\": \"pass_malformed\", \"class\": \"none\"}, 0]]},"
		"\"mailgate_events_total\": {\"exact\": true, \"samples\": ["
		"  [{\"kind\": \"dnsbl_query\"}, 5], [{\"kind\": \"ban\"}, 2]]},"
		"\"mailgate_events_lost_total\": {\"samples\": [[{}, 11]]},"
		"\"mailgate_bans_created_total\": {\"exact\": true, \"samples\": [[{\"origin\": \"quota\"}, 4]]},"
		"\"mailgate_bans\": {\"exact\": true, \"samples\": ["
		"  [{\"origin\": \"cli\"}, 2], [{\"origin\": \"quota\"}, 1], [{\"origin\": \"dnsbl\"}, 0]]},"
		"\"mailgate_sources\": {\"exact\": true, \"samples\": ["
		"  [{\"map\": \"mg_deny\"}, 1], [{\"map\": \"mg_ban\"}, 3], [{\"map\": \"mg_src\"}, 8],"
		"  [{\"map\": \"mg_ban_quota\"}, 1],"
		"  [{\"map\": \"mg_prefix\"}, 2], [{\"map\": \"mg_allow\"}, 0], [{\"map\": \"mg_verdict\"}, 0],"
		"  [{\"map\": \"mg_conn\"}, 0], [{\"map\": \"mg_verified\"}, 0]]},"
		"\"mailgate_map_capacity\": {\"samples\": ["
		"  [{\"map\": \"mg_src\"}, %d], [{\"map\": \"mg_ban\"}, %d], [{\"map\": \"mg_deny\"}, %d],"
		"  [{\"map\": \"mg_ban_quota\"}, %d]]},"
		"\"mailgate_flood_mode\": {\"samples\": [[{}, 1]]},"
		"\"mailgate_concurrent_connections\": {\"exact\": true, \"samples\": [[{\"class\": \"smtp\"}, 3]]},"
		"\"mailgate_build_info\": {\"samples\": [[{\"version\": \"%s\"}, 1]]},"
		"\"mailgate_config_info\": {\"samples\": [[{\"mode\": \"enforce\", \"action\": \"drop\"}, 1]]},"
		"\"mailgate_start_time_seconds\": {\"samples\": [[{}, %.0f, 5]]}"
		"}}", dashboard, TEST_MAX_SOURCES, MG_MAX_BAN, MG_MAX_DENY, TEST_MAX_SOURCES / 4, MG_VERSION,
		(double)time(NULL) - 30);
	if (!py_check(url, expect))
		goto out;

	/* a restart: the daemon's own counts start again, the pinned ones do not */
	metrics_stop(m);
	gate_close(&g);
	err = gate_up(&g, false);
	if (!ASSERT_OK(err, "gate_load again on the same pins"))
		return;
	memset(&rt, 0, sizeof(rt));
	rt.gate = &g;
	m = serve(&rt, "127.0.0.1:0");
	if (!ASSERT_TRUE(m != NULL, "metrics_start again"))
		goto out;
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/metrics", metrics_port(m));
	if (send_n(&g, "192.0.2.%d", 2, 25, SYN, XDP_DROP))
		goto out;
	snprintf(expect, sizeof(expect),
		"{\"families\": {"
		"\"mailgate_packets_total\": {\"exact\": true, \"samples\": ["
		"  [{\"reason\": \"drop_deny\", \"class\": \"smtp\"}, 9],"
		"  [{\"reason\": \"pass_ok\", \"class\": \"submission\"}, 5],"
		"  [{\"reason\": \"pass_ok\", \"class\": \"imap\"}, 3],"
		"  [{\"reason\": \"drop_ban\", \"class\": \"pop3\"}, 1],"
		"  [{\"reason\": \"pass_other\", \"class\": \"none\"}, 2],"
		"  [{\"reason\": \"pass_not_gated\", \"class\": \"none\"}, 4]]},"
		"\"mailgate_events_lost_total\": {\"samples\": [[{}, 11]]},"
		"\"mailgate_events_total\": {\"exact\": true, \"samples\": []},"
		"\"mailgate_bans\": {\"samples\": [[{\"origin\": \"cli\"}, 2]]},"
		"\"mailgate_sources\": {\"samples\": [[{\"map\": \"mg_deny\"}, 1]]}"
		"}}");
	py_check(url, expect);
	/* HEAD: the headers, no body */
	err = http(metrics_port(m), "HEAD", "/metrics", resp, sizeof(resp));
	ASSERT_EQ(err, 200, "HEAD /metrics");
	ASSERT_HAS_SUBSTR(resp, "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n", "HEAD content type");
	ASSERT_EQ(strlen(http_body(resp)), 0, "HEAD body length");
out:
	metrics_stop(m);
	gate_close(&g);
	rm_dir(pin_dir);
}

/* wrong paths, methods and requests get their status; the server lives on */
TEST(http_statuses)
{
	struct mg_runtime rt = { 0 };
	char resp[8192], *big;
	struct metrics *m;
	struct gate g;
	uint16_t port;
	size_t n;

	if (!ASSERT_OK(gate_up(&g, true), "gate_load"))
		return;
	rt.gate = &g;
	m = serve(&rt, "127.0.0.1:0");
	if (!ASSERT_TRUE(m != NULL, "metrics_start"))
		goto out;
	port = metrics_port(m);
	ASSERT_TRUE(port != 0, "a port");

	ASSERT_EQ(http(port, "GET", "/metrics", resp, sizeof(resp)), 200, "GET /metrics");
	ASSERT_HAS_SUBSTR(http_body(resp), "# TYPE mailgate_packets_total counter\n", "body");
	ASSERT_EQ(http(port, "GET", "/metrics?x=1", resp, sizeof(resp)), 200, "GET /metrics?x=1");
	ASSERT_EQ(http(port, "GET", "/", resp, sizeof(resp)), 200, "GET /");
	ASSERT_HAS_SUBSTR(resp, "Content-Type: text/html; charset=utf-8\r\n", "/ is html");
	ASSERT_HAS_SUBSTR(http_body(resp), "<a href=\"/metrics\">", "/ links /metrics");
	ASSERT_EQ(http(port, "GET", "/nope", resp, sizeof(resp)), 404, "GET /nope");
	ASSERT_EQ(http(port, "GET", "/metrics/", resp, sizeof(resp)), 404, "GET /metrics/");
	ASSERT_EQ(http(port, "POST", "/nope", resp, sizeof(resp)), 404, "POST /nope");
	ASSERT_EQ(http(port, "DELETE", "/metrics", resp, sizeof(resp)), 405, "DELETE /metrics");
	ASSERT_HAS_SUBSTR(resp, "Allow: GET, HEAD\r\n", "405 says Allow: GET, HEAD");
	ASSERT_EQ(http(port, "PUT", "/", resp, sizeof(resp)), 405, "PUT /");
	ASSERT_EQ(http(port, "OPTIONS", "/metrics", resp, sizeof(resp)), 405, "OPTIONS /metrics");

	/* POST with a body: refused before reading it */
	{
		static const char req[] = "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
					  "Connection: close\r\n\r\nhello";

		ASSERT_EQ(http_raw(port, req, sizeof(req) - 1, resp, sizeof(resp)), 405, "POST /metrics with a body");
		ASSERT_HAS_SUBSTR(resp, "Allow: GET, HEAD\r\n", "POST 405 Allow");
	}
	/* malformed: no HTTP version, an empty URI, a header line without a
	 * colon, HTTP/1.1 without Host, an unknown HTTP version */
	{
		static const char *const bad[][2] = {
			{ "GET /metrics\r\n\r\n", "400" },
			{ "GET  HTTP/1.1\r\nHost: x\r\n\r\n", "400" },
			{ "GET /metrics HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n", "400" },
			{ "GET /metrics HTTP/1.1\r\n\r\n", "400" },
			{ "GET /metrics HTTP/9.9\r\nHost: x\r\n\r\n", "505" },
		};

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			ASSERT_EQ(http_raw(port, bad[i][0], strlen(bad[i][0]), resp, sizeof(resp)),
				  atoi(bad[i][1]), bad[i][0]);
	}
	/* no request line libmicrohttpd can make sense of: closed without an
	 * answer, at once when the line ends, else (a TLS hello on the plain
	 * port) after the idle timeout, 5 s (30 s allowed: a busy machine) */
	{
		static const char garbage[] = "GARBAGE\r\n\r\n";
		static const char tls[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03";
		double t = mono_s();

		ASSERT_EQ(http_raw(port, garbage, sizeof(garbage) - 1, resp, sizeof(resp)), -EPROTO,
			  "GARBAGE: no status line");
		ASSERT_EQ(strlen(resp), 0, "GARBAGE: nothing sent back");
		ASSERT_RANGE((mono_s() - t) * 1000, 0, 3000, "GARBAGE: ms until closed");
		t = mono_s();
		ASSERT_EQ(http_raw(port, tls, sizeof(tls) - 1, resp, sizeof(resp)), -EPROTO,
			  "TLS hello: no status line");
		ASSERT_RANGE((mono_s() - t) * 1000, 0, 30000, "TLS hello: ms until closed");
	}
	n = 64 * 1024;
	big = malloc(n + 64);
	if (big) {
		int len = snprintf(big, 64, "GET /");

		memset(big + len, 'a', n);
		len += n;
		len += snprintf(big + len, 64, " HTTP/1.1\r\nHost: x\r\n\r\n");
		ASSERT_EQ(http_raw(port, big, len, resp, sizeof(resp)), 414, "64 KiB request line");
		free(big);
	}
	/* and after all that it still serves */
	ASSERT_EQ(http(port, "GET", "/metrics", resp, sizeof(resp)), 200, "GET /metrics after the bad ones");
out:
	metrics_stop(m);
	gate_close(&g);
	rm_dir(pin_dir);
}

/* Clients that send half a request and stall hold no one else up, and are
 * closed after the idle timeout (5 s; up to 30 s allowed: a loaded machine). */
TEST(slow_clients)
{
	struct mg_runtime rt = { 0 };
	static const char half[] = "GET /metrics HTTP/1.1\r\nHost: x\r\n";
	int stalled[10];
	char resp[65536];
	struct metrics *m;
	struct gate g;
	double t0, t;
	int i, closed = 0;

	for (i = 0; i < 10; i++)
		stalled[i] = -1;
	if (!ASSERT_OK(gate_up(&g, true), "gate_load"))
		return;
	rt.gate = &g;
	m = serve(&rt, "127.0.0.1:0");
	if (!ASSERT_TRUE(m != NULL, "metrics_start"))
		goto out;
	t0 = mono_s();
	for (i = 0; i < 10; i++) {
		stalled[i] = connect_to(metrics_port(m));
		if (!ASSERT_TRUE(stalled[i] >= 0, "connect a slow client"))
			goto out;
		send(stalled[i], half, i % 2 ? sizeof(half) - 1 : 3, MSG_NOSIGNAL);
	}
	/* meanwhile, others are served at once (2 s: slack for a busy machine) */
	for (i = 0; i < 3; i++) {
		t = mono_s();
		ASSERT_EQ(http(metrics_port(m), "GET", "/metrics", resp, sizeof(resp)), 200,
			  "GET /metrics while 10 clients stall");
		ASSERT_RANGE((mono_s() - t) * 1000, 0, 2000, "ms to answer");
	}
	/* the stalled ones get closed */
	for (i = 0; i < 10; i++) {
		struct pollfd p = { .fd = stalled[i], .events = POLLIN };
		int left = 30000 - (int)((mono_s() - t0) * 1000);

		if (left > 0 && poll(&p, 1, left) == 1 && recv(stalled[i], resp, sizeof(resp), 0) <= 0)
			closed++;
	}
	t = mono_s() - t0;
	ASSERT_EQ(closed, 10, "stalled clients closed by the server within 30 s");
	ASSERT_RANGE(t * 1000, 4000, 30000, "ms until the stalled clients were closed");
	printf("  stalled clients closed after %.1f s\n", t);
	ASSERT_EQ(http(metrics_port(m), "GET", "/metrics", resp, sizeof(resp)), 200, "GET /metrics after");
out:
	for (i = 0; i < 10; i++)
		if (stalled[i] >= 0)
			close(stalled[i]);
	metrics_stop(m);
	gate_close(&g);
	rm_dir(pin_dir);
}

/* one client that sent half a request, from source address 127.0.0.src */
static int stall_from(uint16_t port, int src)
{
	static const char half[] = "GET /metrics HTTP/1.1\r\nHost: x\r\n";
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct sockaddr_in me = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	me.sin_addr.s_addr = htonl(0x7f000000 | src);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&me, sizeof(me)) ||
	    connect(fd, (struct sockaddr *)&sin, sizeof(sin))) {
		close(fd);
		return -errno;
	}
	send(fd, half, sizeof(half) - 1, MSG_NOSIGNAL);
	return fd;
}

/* One local process holds 24 half-sent requests from 127.0.0.1 (and 40 more
 * from 127.0.0.2..41): a scrape from another process still answers at once,
 * three times in a row (it fails before: 16 from one address filled the
 * per-address limit and every later client was refused until the timeout). */
TEST(stalled_process_cannot_starve_scraper)
{
	struct mg_runtime rt = { 0 };
	int stalled[64], n = 0, st = -1;
	struct metrics *m;
	struct gate g;
	pid_t child;

	if (!ASSERT_OK(gate_up(&g, true), "gate_load"))
		return;
	rt.gate = &g;
	m = serve(&rt, "127.0.0.1:0");
	if (!ASSERT_TRUE(m != NULL, "metrics_start"))
		goto out;
	for (int i = 0; i < 64; i++) {
		stalled[n] = stall_from(metrics_port(m), i < 24 ? 1 : i - 22);
		if (!ASSERT_TRUE(stalled[n] >= 0, "connect a stalling client"))
			goto out;
		n++;
	}
	usleep(100 * 1000);
	child = fork();
	if (child == 0) {
		char resp[65536];

		for (int i = 0; i < 3; i++) {
			double t = mono_s();

			if (http(metrics_port(m), "GET", "/metrics", resp, sizeof(resp)) != 200 ||
			    mono_s() - t > 2.0)
				_exit(10 + i);
		}
		_exit(0);
	}
	if (ASSERT_TRUE(child > 0, "fork the scraper")) {
		waitpid(child, &st, 0);
		ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0,
			    "another process's 3 scrapes answered, each within 2 s");
		if (test_failed_now)
			printf("  scraper exit status %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	}
out:
	for (int i = 0; i < n; i++)
		close(stalled[i]);
	metrics_stop(m);
	gate_close(&g);
	rm_dir(pin_dir);
}

struct serve_arg {
	struct mg_runtime *rt;
	const char *listen;
	struct metrics *m;
	int err;
};

static void serve_quiet(void *arg)
{
	struct serve_arg *a = arg;

	a->m = serve(a->rt, a->listen);
	a->err = errno;
}

static void serve_any(void *arg)
{
	log_level = LOG_LVL_INFO;
	serve_quiet(arg);
	log_level = LOG_LVL_WARN;
}

/* listen on a non-loopback address: a warning at start (no authentication) */
TEST(warn_when_not_loopback)
{
	struct mg_runtime rt = { 0 };
	struct serve_arg a;
	char log[4096];
	struct gate g;

	if (!ASSERT_OK(gate_up(&g, true), "gate_load"))
		return;
	rt.gate = &g;
	a.rt = &rt;
	a.listen = "0.0.0.0:0";
	capture_stderr(serve_any, &a, log, sizeof(log));
	ASSERT_TRUE(a.m != NULL, "0.0.0.0:0 serves");
	ASSERT_HAS_SUBSTR(log, "level=warn msg=\"metrics listen on a non-loopback address", "0.0.0.0: warned");
	metrics_stop(a.m);
	a.listen = "127.0.0.1:0";
	capture_stderr(serve_any, &a, log, sizeof(log));
	ASSERT_TRUE(a.m != NULL, "127.0.0.1: started");
	ASSERT_NO_SUBSTR(log, "non-loopback", "127.0.0.1: no warning");
	metrics_stop(a.m);
	gate_close(&g);
	rm_dir(pin_dir);
}


TEST(listen_variants)
{
	struct mg_runtime rt = { 0 };
	struct serve_arg sa;
	struct metrics *m, *m2;
	char listen[64], resp[4096], log[2048];
	struct gate g;
	int fd;

	if (!ASSERT_OK(gate_up(&g, true), "gate_load"))
		return;
	rt.gate = &g;
	errno = 1;
	ASSERT_TRUE(serve(&rt, "none") == NULL, "none: not started");
	ASSERT_EQ(errno, 0, "none: errno 0");
	sa.rt = &rt;
	sa.listen = "localhost:9433";
	capture_stderr(serve_quiet, &sa, log, sizeof(log));
	ASSERT_TRUE(sa.m == NULL, "bad listen");
	ASSERT_EQ(sa.err, EINVAL, "bad listen: EINVAL");
	ASSERT_HAS_SUBSTR(log, "level=error msg=\"bad [metrics] listen", "bad listen: logged with the value");
	ASSERT_HAS_SUBSTR(log, "listen=\"localhost:9433\"", "bad listen: logged with the value");

	m = serve(&rt, "127.0.0.1:0");
	if (ASSERT_TRUE(m != NULL, "127.0.0.1:0")) {
		/* the same port again: taken */
		snprintf(listen, sizeof(listen), "127.0.0.1:%u", metrics_port(m));
		sa.listen = listen;
		capture_stderr(serve_quiet, &sa, log, sizeof(log));
		m2 = sa.m;
		ASSERT_TRUE(m2 == NULL, "a port in use");
		ASSERT_EQ(sa.err, EADDRINUSE, "a port in use: errno");
		ASSERT_HAS_SUBSTR(log, "level=error msg=\"cannot serve metrics\"", "a port in use: logged");
		ASSERT_HAS_SUBSTR(log, "err=\"Address already in use\"", "a port in use: logged");
		if (test_failed_now)
			printf("  stderr was:\n%s", log);
		metrics_stop(m2);
		/* stop and start on the same port at once (a daemon restart) */
		metrics_stop(m);
		m = serve(&rt, listen);
		ASSERT_TRUE(m != NULL, "the same port right after stop");
		metrics_stop(m);
	}

	/* IPv6 loopback, when this namespace has it */
	fd = socket(AF_INET6, SOCK_STREAM, 0);
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	if (fd < 0 || bind(fd, (struct sockaddr *)&s6, sizeof(s6))) {
		test_skip("no IPv6 loopback here");
	} else {
		m = serve(&rt, "[::1]:0");
		if (ASSERT_TRUE(m != NULL, "[::1]:0")) {
			int c = socket(AF_INET6, SOCK_STREAM, 0);
			static const char req[] = "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
			ssize_t n, have = 0;

			s6.sin6_port = htons(metrics_port(m));
			ASSERT_OK(connect(c, (struct sockaddr *)&s6, sizeof(s6)) ? -errno : 0, "connect [::1]");
			send(c, req, sizeof(req) - 1, MSG_NOSIGNAL);
			while ((n = recv(c, resp + have, sizeof(resp) - 1 - have, 0)) > 0 && have < (ssize_t)sizeof(resp) - 1)
				have += n;
			resp[have] = 0;
			ASSERT_TRUE(!strncmp(resp, "HTTP/1.1 200", 12), "GET over [::1]");
			close(c);
			metrics_stop(m);
		}
	}
	if (fd >= 0)
		close(fd);
	gate_close(&g);
	rm_dir(pin_dir);
}

static void log_burst(void *arg)
{
	for (int i = 0; i < 5; i++)
		log_ratelimited("test:burst", 300 * 1000000ULL, LOG_LVL_WARN,
				"msg=\"zone failing\" zone=%s n=%d", "bl.example", i);
	log_ratelimited("test:other", 300 * 1000000ULL, LOG_LVL_WARN, "msg=\"other key\"");
	usleep(400 * 1000);
	log_ratelimited("test:burst", 300 * 1000000ULL, LOG_LVL_WARN, "msg=\"zone failing\" zone=%s n=%d",
			"bl.example", 5);
	pr_info("msg=\"line\nbreak\" x=1");
	pr_debug("msg=\"not shown at info\"");
}

TEST(log_format_and_ratelimit)
{
	char out[8192];

	log_level = LOG_LVL_INFO;
	capture_stderr(log_burst, NULL, out, sizeof(out));
	log_level = LOG_LVL_WARN;
	ASSERT_EQ(count_lines(out, "\n"), 4, "lines written");
	ASSERT_EQ(count_lines(out, "msg=\"zone failing\""), 2, "burst printed twice");
	ASSERT_EQ(count_lines(out, "level=warn msg=\"zone failing\" zone=bl.example n=0\n"), 1,
		  "first line as is");
	ASSERT_EQ(count_lines(out, "level=warn msg=\"zone failing\" zone=bl.example n=5 suppressed=4\n"), 1,
		  "after the pause: suppressed=4");
	ASSERT_EQ(count_lines(out, "msg=\"other key\""), 1, "another key is not held back");
	ASSERT_EQ(count_lines(out, "level=info msg=\"line\\nbreak\" x=1\n"), 1, "newline escaped");
	ASSERT_EQ(count_lines(out, "not shown"), 0, "debug hidden at info");
	ASSERT_EQ(count_lines(out, "ts="), 4, "every line has ts=");
	if (test_failed_now)
		printf("  stderr was:\n%s", out);
}

static const char *text_of(char *buf, size_t len, const char *fmt, ...)
{
	const char *r;
	va_list ap;

	va_start(ap, fmt);
	r = log_text(buf, len, fmt, ap);
	va_end(ap);
	return r;
}

/* other libraries' messages in a text="..." field: one line, no '"' */
TEST(log_text_of_other_libraries)
{
	char buf[64];

	ASSERT_STREQ(text_of(buf, sizeof(buf), "bad \"%s\" from %d\n\n", "GET", 7), "bad 'GET' from 7", "text_of(buf, sizeof(buf), 'bad \'%s\' from %d\n\n', 'GET', 7)");
	ASSERT_STREQ(text_of(buf, 8, "%s", "truncated here\n"), "truncat", "text_of(buf, 8, '%s', 'truncated here\n')");
	ASSERT_STREQ(text_of(buf, sizeof(buf), "\n"), "", "only a newline");
}

struct fill_arg {
	struct gate *g;
	int ret;
};

static void fill_check(void *arg)
{
	struct fill_arg *a = arg;

	a->ret = log_map_fill(a->g);
}

/* Where full means refusal (the allow list) the daemon warns near full; an
 * LRU map (mg_ban_quota here) full is only recycling: no warning for the fill, but
 * its turnover is estimated, and when every sampled entry is gone within a
 * check interval (10 s: entries live less than a minute) it warns. */
TEST(map_fill_warning)
{
	struct fill_arg a;
	struct census c;
	struct gate g;
	char out[4096], addr[64], want[160];
	int cap = TEST_MAX_SOURCES / 4, n = cap * 95 / 100, na = MG_MAX_ALLOW * 95 / 100;
	struct mg_rule r = { .prefixlen = 128, .origin = MG_ORIGIN_CLI };
	struct mg_lpm_key k = { .prefixlen = 128 };
	double t0, per_s = 0;

	if (!ASSERT_OK(gate_up(&g, true), "gate_load"))
		return;
	for (int i = 0; i < n; i++) {
		snprintf(addr, sizeof(addr), "2001:db8:2::%x", i + 1);
		ban_add(&g, addr, MG_ORIGIN_QUOTA, 600);
	}
	k.a[0] = 0x20;
	k.a[1] = 0x01;
	k.a[2] = 0x0d;
	k.a[3] = 0xb8;
	for (int i = 0; i < na; i++) {
		k.a[12] = i >> 24;
		k.a[13] = i >> 16;
		k.a[14] = i >> 8;
		k.a[15] = i;
		int e = list_put(&g, MG_LIST_ALLOW, &k, &r);

		if (e) {
			ASSERT_OK(e, "fill mg_allow");
			goto out;
		}
	}
	if (!ASSERT_OK(census_read(&g, &c), "census_read"))
		goto out;
	ASSERT_RANGE(c.entries[GM_BAN_QUOTA], cap * 90 / 100, cap, "mg_ban_quota entries");
	a.g = &g;
	t0 = mono_s();
	capture_stderr(fill_check, &a, out, sizeof(out));
	ASSERT_EQ(a.ret, 1, "maps warned about: mg_allow only");
	snprintf(want, sizeof(want), "map=mg_allow entries=%d capacity=%d fill_pct=%d", na, MG_MAX_ALLOW,
		 (int)((int64_t)na * 100 / MG_MAX_ALLOW));
	ASSERT_EQ(count_lines(out, "level=warn msg=\"map nearly full: once full, new entries are refused"), 1,
		  "one warning");
	ASSERT_EQ(count_lines(out, want), 1, want);
	ASSERT_EQ(count_lines(out, "mg_ban"), 0, "the full LRU map is not warned about");
	if (test_failed_now)
		printf("  stderr was:\n%s", out);
	/* right after: not counted again, nothing logged */
	capture_stderr(fill_check, &a, out, sizeof(out));
	ASSERT_EQ(a.ret, 1, "the last result");
	ASSERT_EQ(strlen(out), 0, "quiet on the next call");

	/* churn: twice its capacity of new quota bans recycles all of mg_ban_quota */
	for (int i = 0; i < 2 * cap; i++) {
		snprintf(addr, sizeof(addr), "2001:db8:3::%x", i + 1);
		ban_add(&g, addr, MG_ORIGIN_QUOTA, 600);
	}
	while (mono_s() - t0 < (double)LOG_MAP_FILL_CHECK_NS / NSEC_PER_SEC + 0.1)
		usleep(100 * 1000);
	capture_stderr(fill_check, &a, out, sizeof(out));
	ASSERT_EQ(count_lines(out, "level=warn msg=\"map full and recycled fast"), 1, "turnover warning");
	ASSERT_EQ(count_lines(out, "map=mg_ban_quota"), 1, "for mg_ban_quota");
	if (ASSERT_TRUE(log_map_turnover(GM_BAN_QUOTA, &per_s), "turnover known"))
		ASSERT_RANGE(per_s, cap * 8 / 100, cap * 11 / 10 / 10, "evictions/s: all of ~cap in ~10 s");
	if (test_failed_now)
		printf("  stderr was:\n%s", out);
out:
	gate_close(&g);
	rm_dir(pin_dir);
}

int main(int argc, char **argv)
{
	return test_main(argc, argv, setup, teardown);
}
