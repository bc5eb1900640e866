// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Concurrent connections counted from the kernel's TCP state changes
 * (tp_btf/inet_sock_set_state), with real TCP between two namespaces over
 * a veth pair: the per-source and per-class counts follow connections that
 * open, close with FIN, die by RST or never leave a full accept queue; only
 * server-side connections to gated ports in the guarded namespace count; a
 * source at max_concurrent has its next SYN dropped by XDP on the
 * server-side veth. */
#define _GNU_SOURCE
#include <linux/if_link.h>
#include "test.h"
#include "fixture.h"
#include "netns.h"
#include "frames.h"

static struct fixture fx;
static struct netpair np;
static struct bpf_link *state_link, *state_link2; /* the tracer and its twin */
static int srv_ifindex;

#define SRV4 "192.0.2.1"
#define SRV6 "2001:db8::1"
#define WAIT_MS 3000 /* how long a count may take to follow (loaded machine) */

static void cfg_conn(struct mg_config *c)
{
	fx_config(c);
	c->netns_ino = (uint32_t)np.srv_ino;
	c->syn_interval_ns = 0;
	c->prefix_interval_ns = 0;
	memset(c->max_concurrent, 0, sizeof(c->max_concurrent));
	c->ban_after = 0;
}

static uint32_t conn_of(const char *src)
{
	return fx_conn(&fx, src);
}

static uint32_t class_conn(uint32_t cls)
{
	uint32_t n = 0;

	bpf_map_lookup_elem(fx.g.fd[GM_CLASS_CONN], &cls, &n);
	return n;
}

/* wait until src's count is want; returns the last value seen */
static uint32_t wait_conn(const char *src, uint32_t want)
{
	uint32_t n = conn_of(src);

	for (int ms = 0; n != want && ms < WAIT_MS; ms += 10) {
		usleep(10 * 1000);
		n = conn_of(src);
	}
	return n;
}

/* accept up to n connections waiting on lfd (within WAIT_MS) */
static int accept_n(int lfd, int *fds, int n)
{
	int got = 0;

	for (int ms = 0; got < n && ms < WAIT_MS;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

		if (fd >= 0) {
			fds[got++] = fd;
			continue;
		}
		usleep(10 * 1000);
		ms += 10;
	}
	return got;
}

static void close_all(int *fds, int n)
{
	for (int i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

/* n connections from src to dst:port open, then close (client first, with
 * FIN); the count of src and of cls follow */
static void open_close(const char *src, const char *dst, const char *listen_addr, uint16_t port,
		       uint32_t cls)
{
	enum { N = 5 };
	int cli[N], srv[N], lfd, got;
	struct mg_config cfg;

	cfg_conn(&cfg);
	fx_reset(&fx, &cfg);
	lfd = ns_listen(&np, np.srv_fd, listen_addr, port, 64);
	if (!ASSERT_TRUE(lfd >= 0, "listen"))
		return;
	for (int i = 0; i < N; i++) {
		cli[i] = ns_connect(&np, np.cli_fd, src, dst, port, WAIT_MS);
		if (!ASSERT_TRUE(cli[i] >= 0, "connect"))
			goto out;
	}
	ASSERT_EQ(wait_conn(src, N), N, "count after N connections");
	ASSERT_EQ(class_conn(cls), N, "class count after N connections");
	got = accept_n(lfd, srv, N);
	ASSERT_EQ(got, N, "accepted");
	/* two close: the client first (FIN), then the server */
	close(cli[0]), close(cli[1]);
	cli[0] = cli[1] = -1;
	usleep(50 * 1000);
	close(srv[0]), close(srv[1]);
	srv[0] = srv[1] = -1;
	ASSERT_EQ(wait_conn(src, N - 2), N - 2, "count after two closed");
	/* the rest: the server first */
	close_all(srv + 2, got - 2);
	close_all(cli + 2, N - 2);
	ASSERT_EQ(wait_conn(src, 0), 0, "count after all closed");
	ASSERT_EQ(class_conn(cls), 0, "class count after all closed");
	close(lfd);
	return;
out:
	close(lfd);
}

TEST(count_v4_dual_stack_listener)
{
	open_close("192.0.2.2", SRV4, "::", 25, MG_CLASS_SMTP);
}

TEST(count_v6)
{
	open_close("2001:db8::3", SRV6, "::", 993, MG_CLASS_IMAP);
}

TEST(count_v4_listener)
{
	open_close("192.0.2.4", SRV4, "0.0.0.0", 587, MG_CLASS_SUBMISSION);
}

/* connections aborted by the client (RST), accepted or still queued */
TEST(rst_abort)
{
	int cli[4], srv[4], lfd;
	struct mg_config cfg;

	cfg_conn(&cfg);
	fx_reset(&fx, &cfg);
	lfd = ns_listen(&np, np.srv_fd, "::", 25, 64);
	if (!ASSERT_TRUE(lfd >= 0, "listen"))
		return;
	for (int i = 0; i < 4; i++)
		cli[i] = ns_connect(&np, np.cli_fd, "192.0.2.5", SRV4, 25, WAIT_MS);
	ASSERT_EQ(wait_conn("192.0.2.5", 4), 4, "count after 4 connections");
	ASSERT_EQ(accept_n(lfd, srv, 2), 2, "accepted two");
	for (int i = 0; i < 4; i++)
		if (cli[i] >= 0)
			ns_abort(cli[i]);
	ASSERT_EQ(wait_conn("192.0.2.5", 0), 0, "count after RST");
	ASSERT_EQ(class_conn(MG_CLASS_SMTP), 0, "class count after RST");
	close_all(srv, 2);
	close(lfd);
}

/* the listener closes with connections in its accept queue */
TEST(listener_closes_with_queue)
{
	int cli[3], lfd;
	struct mg_config cfg;

	cfg_conn(&cfg);
	fx_reset(&fx, &cfg);
	lfd = ns_listen(&np, np.srv_fd, "::", 110, 64);
	if (!ASSERT_TRUE(lfd >= 0, "listen"))
		return;
	for (int i = 0; i < 3; i++)
		cli[i] = ns_connect(&np, np.cli_fd, "2001:db8::6", SRV6, 110, WAIT_MS);
	ASSERT_EQ(wait_conn("2001:db8::6", 3), 3, "count after 3 connections");
	close(lfd);
	ASSERT_EQ(wait_conn("2001:db8::6", 0), 0, "count after the listener closed");
	ASSERT_EQ(class_conn(MG_CLASS_POP3), 0, "class count");
	close_all(cli, 3);
}

/* A full accept queue (backlog 1, nobody accepting): connections that never
 * become server sockets are not counted, and nothing leaks at the end. */
TEST(full_accept_queue)
{
	enum { N = 6 };
	int cli[N], lfd, peak = 0;
	struct mg_config cfg;

	cfg_conn(&cfg);
	fx_reset(&fx, &cfg);
	lfd = ns_listen(&np, np.srv_fd, "0.0.0.0", 143, 1);
	if (!ASSERT_TRUE(lfd >= 0, "listen"))
		return;
	for (int i = 0; i < N; i++) {
		cli[i] = ns_connect(&np, np.cli_fd, "192.0.2.7", SRV4, 143, 300);
		if (conn_of("192.0.2.7") > (uint32_t)peak)
			peak = conn_of("192.0.2.7");
	}
	usleep(200 * 1000);
	if (conn_of("192.0.2.7") > (uint32_t)peak)
		peak = conn_of("192.0.2.7");
	printf("  peak count %d with backlog 1\n", peak);
	ASSERT_RANGE(peak, 1, 2, "only queued server sockets count");
	for (int i = 0; i < N; i++)
		if (cli[i] >= 0)
			ns_abort(cli[i]);
	close(lfd);
	ASSERT_EQ(wait_conn("192.0.2.7", 0), 0, "count at the end");
	ASSERT_EQ(class_conn(MG_CLASS_IMAP), 0, "class count at the end");
}

/* a source at max_concurrent: its next SYN is dropped by XDP, other sources
 * still connect, and once one connection closes it connects again */
TEST(max_concurrent_drops_next_syn)
{
	int cli[3], srv[3], lfd, fd, other;
	struct mg_config cfg;

	cfg_conn(&cfg);
	fx_max_concurrent(&cfg, 3);
	fx_reset(&fx, &cfg);
	lfd = ns_listen(&np, np.srv_fd, "::", 25, 64);
	if (!ASSERT_TRUE(lfd >= 0, "listen"))
		return;
	for (int i = 0; i < 3; i++)
		cli[i] = ns_connect(&np, np.cli_fd, "192.0.2.8", SRV4, 25, WAIT_MS);
	ASSERT_EQ(wait_conn("192.0.2.8", 3), 3, "count at the limit");
	ASSERT_EQ(accept_n(lfd, srv, 3), 3, "accepted");

	fd = ns_connect(&np, np.cli_fd, "192.0.2.8", SRV4, 25, 1200);
	ASSERT_EQ(fd, -ETIMEDOUT, "fourth connection from the source");
	if (fd >= 0)
		close(fd);
	ASSERT_TRUE(fx_count(&fx, MG_REASON_DROP_CONCURRENT, MG_CLASS_SMTP) >= 1,
		    "counted as drop_concurrent");
	other = ns_connect(&np, np.cli_fd, "192.0.2.9", SRV4, 25, WAIT_MS);
	ASSERT_TRUE(other >= 0, "another source connects");

	ns_abort(cli[0]);
	close(srv[0]);
	ASSERT_EQ(wait_conn("192.0.2.8", 2), 2, "count after one closed");
	fd = ns_connect(&np, np.cli_fd, "192.0.2.8", SRV4, 25, WAIT_MS);
	ASSERT_TRUE(fd >= 0, "connects again below the limit");
	ASSERT_EQ(wait_conn("192.0.2.8", 3), 3, "count back at the limit");

	if (fd >= 0)
		ns_abort(fd);
	if (other >= 0)
		ns_abort(other);
	ns_abort(cli[1]);
	ns_abort(cli[2]);
	close(srv[1]);
	close(srv[2]);
	close(lfd);
	ASSERT_EQ(wait_conn("192.0.2.8", 0), 0, "count at the end");
	ASSERT_EQ(wait_conn("192.0.2.9", 0), 0, "other source's count at the end");
}

/* not counted: a port that is not gated; a connection whose server side is
 * in another namespace; the client side of a connection */
TEST(not_counted)
{
	int lfd, lfd2, fd, fd2;
	struct mg_config cfg;

	cfg_conn(&cfg);
	fx_reset(&fx, &cfg);
	lfd = ns_listen(&np, np.srv_fd, "::", 8080, 8);
	fd = ns_connect(&np, np.cli_fd, "192.0.2.2", SRV4, 8080, WAIT_MS);
	ASSERT_TRUE(fd >= 0, "connect to 8080");
	/* server side in the client namespace, port 25 */
	lfd2 = ns_listen(&np, np.cli_fd, "::", 25, 8);
	fd2 = ns_connect(&np, np.srv_fd, SRV4, "192.0.2.2", 25, WAIT_MS);
	ASSERT_TRUE(fd2 >= 0, "connect into the client namespace");
	usleep(200 * 1000);
	ASSERT_EQ(conn_of("192.0.2.2"), 0, "8080 not counted");
	ASSERT_EQ(conn_of(SRV4), 0, "other namespace not counted");
	for (uint32_t c = 0; c < MG_CLASS_MAX; c++)
		ASSERT_EQ(class_conn(c), 0, "no class counted");
	close(fd);
	close(fd2);
	close(lfd);
	close(lfd2);
}

/* the count never goes below zero (e.g. the map was cleared under live
 * connections) */
TEST(never_negative)
{
	int cli[2], lfd;
	struct mg_config cfg;
	uint32_t smtp = MG_CLASS_SMTP;

	cfg_conn(&cfg);
	fx_reset(&fx, &cfg);
	lfd = ns_listen(&np, np.srv_fd, "::", 25, 8);
	for (int i = 0; i < 2; i++)
		cli[i] = ns_connect(&np, np.cli_fd, "2001:db8::9", SRV6, 25, WAIT_MS);
	ASSERT_EQ(wait_conn("2001:db8::9", 2), 2, "count");
	fx_conn_set(&fx, "2001:db8::9", MG_CLASS_SMTP, 0);
	fx_u32(&fx, GM_CLASS_CONN, &smtp, 0);
	ns_abort(cli[0]);
	ns_abort(cli[1]);
	usleep(300 * 1000);
	ASSERT_EQ(conn_of("2001:db8::9"), 0, "source count stays 0");
	ASSERT_EQ(class_conn(MG_CLASS_SMTP), 0, "class count stays 0");
	close(lfd);
}

/* n forged SYNs to SRV4:port from random addresses of 203.0.113.0/24,
 * through a raw socket in the client namespace */
static int forge_syns(int n, uint16_t port)
{
	struct sockaddr_in to = { .sin_family = AF_INET };
	uint8_t buf[128];
	char src[32];
	int fd, sent = 0, one = 1;

	if (ns_enter(np.cli_fd))
		return -errno;
	fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
	ns_enter(np.self_fd);
	if (fd < 0)
		return -errno;
	setsockopt(fd, IPPROTO_IP, IP_HDRINCL, &one, sizeof(one));
	inet_pton(AF_INET, SRV4, &to.sin_addr);
	for (int i = 0; i < n; i++) {
		struct frame f = { .src = src, .dst = SRV4, .dport = port,
				   .sport = (uint16_t)(1024 + i), .seq = 0x1000u + i, .tcp_opts = 4 };
		struct frame_off o;
		size_t len;

		snprintf(src, sizeof(src), "203.0.113.%d", 1 + i % 250);
		len = frame_build(buf, sizeof(buf), &f, &o);
		if (len && sendto(fd, buf + o.l3, len - o.l3, 0, (void *)&to, sizeof(to)) > 0)
			sent++;
	}
	close(fd);
	return sent;
}

/* a TcpExt counter of the server namespace (nstat), -1 when unreadable */
static long srv_stat(const char *name)
{
	char cmd[256], line[256];
	long v = -1;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "ip netns exec %s nstat -az %s 2>/dev/null", np.srv, name);
	f = popen(cmd, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, name, strlen(name)))
			v = strtol(line + strlen(name), NULL, 10);
	pclose(f);
	return v;
}

/* Real clients complete their handshakes through SYN cookies (the listener's
 * SYN queue is full of forged SYNs, and net.ipv4.tcp_syncookies = 2 in the
 * server namespace makes every handshake a cookie one), then every socket
 * closes, in every order: no count remains. */
static void cookie_round(int syncookies, int backlog)
{
	enum { N = 6 };
	const char *src[2] = { "192.0.2.3", "192.0.2.6" };
	int cli[N], srv[N], lfd, got;
	struct mg_config cfg;
	long cookies0;

	ns_sh("ip netns exec %s sysctl -qw net.ipv4.tcp_syncookies=%d net.ipv4.tcp_max_syn_backlog=16",
	      np.srv, syncookies);
	ns_sh("ip -n %s route replace 203.0.113.0/24 dev %s", np.srv, np.srv_if);
	cfg_conn(&cfg);
	fx_reset(&fx, &cfg);
	cookies0 = srv_stat("TcpExtSyncookiesRecv");
	lfd = ns_listen(&np, np.srv_fd, "0.0.0.0", 25, backlog);
	if (!ASSERT_TRUE(lfd >= 0, "listen"))
		return;
	for (int i = 0; i < N; i++) {
		ASSERT_TRUE(forge_syns(200, 25) > 0, "forged SYNs sent");
		cli[i] = ns_connect(&np, np.cli_fd, src[i % 2], SRV4, 25, WAIT_MS);
		ASSERT_TRUE(cli[i] >= 0, "a real client connects during the flood");
		got = accept_n(lfd, srv + i, 1);
		if (!got)
			srv[i] = -1;
	}
	ASSERT_EQ(wait_conn(src[0], N / 2), N / 2, "first source counted");
	ASSERT_EQ(wait_conn(src[1], N / 2), N / 2, "second source counted");
	/* close in every way: client FIN first, server first, RST */
	for (int i = 0; i < N; i++) {
		if (cli[i] < 0)
			continue;
		if (i % 3 == 0) {
			close(cli[i]);
			usleep(20 * 1000);
			if (srv[i] >= 0)
				close(srv[i]);
		} else if (i % 3 == 1) {
			if (srv[i] >= 0)
				close(srv[i]);
			usleep(20 * 1000);
			close(cli[i]);
		} else {
			ns_abort(cli[i]);
			if (srv[i] >= 0)
				close(srv[i]);
		}
	}
	ASSERT_TRUE(srv_stat("TcpExtSyncookiesRecv") - cookies0 >= N, "every handshake completed through a cookie");
	close(lfd);
	ASSERT_EQ(wait_conn(src[0], 0), 0, "first source back to 0");
	ASSERT_EQ(wait_conn(src[1], 0), 0, "second source back to 0");
	ASSERT_EQ(class_conn(MG_CLASS_SMTP), 0, "class count back to 0");
	ns_sh("ip netns exec %s sysctl -qw net.ipv4.tcp_syncookies=1", np.srv);
}

TEST(cookie_handshakes_always)
{
	cookie_round(2, 64);
}

TEST(cookie_handshakes_under_flood)
{
	cookie_round(1, 2);
}

static uint32_t link_prog(struct bpf_link *l)
{
	struct bpf_link_info info = {};
	uint32_t len = sizeof(info);

	if (!l || bpf_obj_get_info_by_fd(bpf_link__fd(l), &info, &len))
		return 0;
	return info.prog_id;
}

/* The kernel skips a tracing program that is already running on the CPU
 * (a softirq that interrupts it: the program's recursion_misses); a skipped
 * CLOSE would leak a count for good. So two identical tracers run, and a
 * transition one of them does not see is seen by the other. Here a tracer
 * misses transitions because it is detached - the same to the count as
 * being skipped: each connection opens and closes while one of the two is
 * away, and every count ends at 0, never counted twice. */
TEST(twin_tracer_sees_what_the_other_misses)
{
	struct bpf_link **links[2] = { &state_link, &state_link2 };
	struct bpf_program *progs[2] = { fx.g.skel->progs.mg_sock_state, fx.g.skel->progs.mg_sock_state2 };
	int cli, srv, lfd;
	struct mg_config cfg;

	cfg_conn(&cfg);
	fx_reset(&fx, &cfg);
	/* two programs, not one attached twice: the kernel's guard is per program */
	ASSERT_TRUE(bpf_program__fd(progs[0]) != bpf_program__fd(progs[1]) &&
		    link_prog(state_link) != link_prog(state_link2) && link_prog(state_link) && link_prog(state_link2),
		    "two tracer programs attached");
	lfd = ns_listen(&np, np.srv_fd, "0.0.0.0", 25, 8);
	if (!ASSERT_TRUE(lfd >= 0, "listen"))
		return;
	for (int away = 0; away < 2; away++) {
		for (int when = 0; when < 3; when++) {
			/* when: 0 away for the open, 1 for the close, 2 for both */
			if (when != 1) {
				bpf_link__destroy(*links[away]);
				*links[away] = NULL;
			}
			cli = ns_connect(&np, np.cli_fd, "192.0.2.5", SRV4, 25, WAIT_MS);
			ASSERT_TRUE(cli >= 0, "connect");
			ASSERT_EQ(wait_conn("192.0.2.5", 1), 1, "counted once");
			ASSERT_EQ(accept_n(lfd, &srv, 1), 1, "accepted");
			if (when == 1) {
				bpf_link__destroy(*links[away]);
				*links[away] = NULL;
			} else if (when == 0) {
				*links[away] = bpf_program__attach(progs[away]);
			}
			ns_abort(cli);
			close(srv);
			ASSERT_EQ(wait_conn("192.0.2.5", 0), 0, "counted down");
			ASSERT_EQ(class_conn(MG_CLASS_SMTP), 0, "class counted down");
			if (!*links[away])
				*links[away] = bpf_program__attach(progs[away]);
			ASSERT_TRUE(*links[away] != NULL, "tracer back");
		}
	}
	close(lfd);
}

/* Many connections opened and closed in every way, with both tracers:
 * every count ends at 0. */
TEST(many_connections_end_at_zero)
{
	enum { N = 32, ROUNDS = 8 };
	int cli[N], srv[N], lfd;
	struct mg_config cfg;

	cfg_conn(&cfg);
	fx_reset(&fx, &cfg);
	lfd = ns_listen(&np, np.srv_fd, "0.0.0.0", 25, 64);
	if (!ASSERT_TRUE(lfd >= 0, "listen"))
		return;
	for (int r = 0; r < ROUNDS; r++) {
		int got;

		for (int i = 0; i < N; i++)
			cli[i] = ns_connect(&np, np.cli_fd, i % 2 ? "192.0.2.4" : "192.0.2.6", SRV4, 25, WAIT_MS);
		got = accept_n(lfd, srv, N);
		for (int i = 0; i < N; i++) {
			if (cli[i] >= 0 && i % 3)
				ns_abort(cli[i]);
			else if (cli[i] >= 0)
				close(cli[i]);
			if (i < got)
				close(srv[i]);
		}
	}
	close(lfd);
	ASSERT_EQ(wait_conn("192.0.2.4", 0), 0, "first source at 0");
	ASSERT_EQ(wait_conn("192.0.2.6", 0), 0, "second source at 0");
	ASSERT_EQ(class_conn(MG_CLASS_SMTP), 0, "class at 0");
}

/* ---- bans need evidence, with real handshakes (the tracer counts them) ---- */
static void cfg_quota(struct mg_config *c)
{
	fx_config(c); /* the defaults: syn_rate 10/s, burst 20, ban_after 5, ban_evidence 10 */
	c->netns_ino = (uint32_t)np.srv_ino;
}

static bool quota_banned(const char *src)
{
	struct mg_addr a = fx_addr(src);
	struct mg_ban b;

	return !bpf_map_lookup_elem(fx.g.fd[GM_BAN_QUOTA], &a, &b) || !bpf_map_lookup_elem(fx.g.fd[GM_BAN], &a, &b);
}

/* A real client completes a handshake; then 30 SYNs forged from its address
 * (BPF_PROG_TEST_RUN on the same program and maps): 11 are drop_rate, the
 * client is not banned and connects again. Today's main: banned after the
 * fifth drop, and its next connection times out. */
TEST(forged_after_handshake_no_ban)
{
	struct mg_config cfg;
	int lfd, fd, drops = 0;

	cfg_quota(&cfg);
	fx_reset(&fx, &cfg);
	lfd = ns_listen(&np, np.srv_fd, "::", 25, 64);
	if (!ASSERT_TRUE(lfd >= 0, "listen"))
		return;
	fd = ns_connect(&np, np.cli_fd, "192.0.2.3", SRV4, 25, WAIT_MS);
	ASSERT_TRUE(fd >= 0, "the real client connects");
	ASSERT_EQ(wait_conn("192.0.2.3", 1), 1, "its handshake seen");
	if (fd >= 0)
		ns_abort(fd);
	for (int i = 0; i < 30; i++)
		drops += fx_syn(&fx, "192.0.2.3", 25) == XDP_DROP;
	ASSERT_EQ(drops, 11, "forged SYNs over the burst dropped");
	ASSERT_TRUE(!quota_banned("192.0.2.3"), "not banned");
	for (int i = 0; i < 400; i++)
		fx_syn(&fx, "192.0.2.3", 25);
	ASSERT_TRUE(!quota_banned("192.0.2.3"), "not banned after 430 forged");
	fd = ns_connect(&np, np.cli_fd, "192.0.2.3", SRV4, 25, WAIT_MS);
	ASSERT_TRUE(fd >= 0, "the real client connects again");
	if (fd >= 0)
		ns_abort(fd);
	close(lfd);
}

/* A verified neighbour inside a /24 that 1500 SYNs forged from its other
 * addresses flood: no ban, and the neighbour connects at once (its prefix
 * bucket is the verified one). Today's main: its SYN is drop_prefix_rate,
 * and forged addresses of the /24 (the neighbour's included, when forged)
 * collect bans. */
TEST(forged_prefix_flood_neighbour_connects)
{
	struct mg_config cfg;
	int lfd, fd, host;
	char src[32];

	cfg_quota(&cfg);
	fx_reset(&fx, &cfg);
	lfd = ns_listen(&np, np.srv_fd, "::", 25, 64);
	if (!ASSERT_TRUE(lfd >= 0, "listen"))
		return;
	fd = ns_connect(&np, np.cli_fd, "192.0.2.6", SRV4, 25, WAIT_MS);
	ASSERT_TRUE(fd >= 0, "the neighbour connects");
	ASSERT_EQ(wait_conn("192.0.2.6", 1), 1, "its handshake seen");
	if (fd >= 0)
		ns_abort(fd);
	srand(6);
	for (int i = 0; i < 1500; i++) {
		host = rand() % 250 + 2;
		snprintf(src, sizeof(src), "192.0.2.%d", host == 6 ? 7 : host);
		fx_syn(&fx, src, 25);
	}
	ASSERT_TRUE(fx_count(&fx, MG_REASON_DROP_PREFIX_RATE, MG_CLASS_SMTP) >= 1200, "the /24's budget spent");
	ASSERT_EQ(map_count(fx.g.fd[GM_BAN_QUOTA], NULL) + map_count(fx.g.fd[GM_BAN], NULL), 0, "no ban");
	fd = ns_connect(&np, np.cli_fd, "192.0.2.6", SRV4, 25, 500);
	ASSERT_TRUE(fd >= 0, "the neighbour connects at once");
	if (fd >= 0)
		ns_abort(fd);
	close(lfd);
}

/* A real abuser: connects as fast as it can (giving up on a connection
 * after 30 ms) and keeps coming. Its burst completes 20 handshakes, the
 * next SYNs are dropped, the fifth drop bans it (one ban event), and the
 * rest are drop_ban. */
TEST(real_abuser_banned)
{
	enum { N = 40 };
	int cli[N], lfd, ok = 0;
	struct mg_config cfg;

	cfg_quota(&cfg);
	fx_reset(&fx, &cfg);
	lfd = ns_listen(&np, np.srv_fd, "::", 25, 64);
	if (!ASSERT_TRUE(lfd >= 0, "listen"))
		return;
	for (int i = 0; i < N; i++) {
		cli[i] = ns_connect(&np, np.cli_fd, "2001:db8::4", SRV6, 25, 30);
		ok += cli[i] >= 0;
	}
	ASSERT_RANGE(ok, 20, 26, "its burst connected, then a token now and then");
	ASSERT_TRUE(quota_banned("2001:db8::4"), "banned");
	fx_drain(&fx);
	ASSERT_EQ(fx.events[MG_EVENT_BAN], 1, "one ban event");
	ASSERT_EQ(fx.last[MG_EVENT_BAN].reason, MG_REASON_DROP_RATE, "for drop_rate");
	ASSERT_TRUE(fx_count(&fx, MG_REASON_DROP_BAN, MG_CLASS_SMTP) >= 1, "then drop_ban");
	for (int i = 0; i < N; i++)
		if (cli[i] >= 0)
			ns_abort(cli[i]);
	close(lfd);
}

/* A NAT'd office: 30 IMAP sessions from one address, opened at 10/s and
 * held, pass the defaults (max_concurrent imap:100) and ban nobody; SMTP
 * from the same address still connects. Today's main: max_concurrent 20
 * for all ports together, the 21st session is dropped and the fifth drop
 * bans the office on every port. */
TEST(imap_sessions_not_banned)
{
	enum { N = 30 };
	int cli[N], lfd, lfd25, fd, ok = 0;
	struct mg_config cfg;

	cfg_quota(&cfg);
	fx_reset(&fx, &cfg);
	lfd = ns_listen(&np, np.srv_fd, "::", 143, 64);
	lfd25 = ns_listen(&np, np.srv_fd, "::", 25, 64);
	if (!ASSERT_TRUE(lfd >= 0 && lfd25 >= 0, "listen"))
		return;
	for (int i = 0; i < N; i++) {
		cli[i] = ns_connect(&np, np.cli_fd, "192.0.2.8", SRV4, 143, 900);
		ok += cli[i] >= 0;
		usleep(100 * 1000);
	}
	ASSERT_EQ(ok, N, "every session connected");
	ASSERT_EQ(wait_conn("192.0.2.8", N), N, "30 concurrent IMAP connections");
	ASSERT_EQ(fx_count(&fx, MG_REASON_DROP_CONCURRENT, MG_CLASS_IMAP), 0, "no drop_concurrent");
	ASSERT_TRUE(!quota_banned("192.0.2.8"), "not banned");
	fd = ns_connect(&np, np.cli_fd, "192.0.2.8", SRV4, 25, WAIT_MS);
	ASSERT_TRUE(fd >= 0, "SMTP from the office connects");
	if (fd >= 0)
		ns_abort(fd);
	for (int i = 0; i < N; i++)
		if (cli[i] >= 0)
			ns_abort(cli[i]);
	close(lfd);
	close(lfd25);
	ASSERT_EQ(wait_conn("192.0.2.8", 0), 0, "count at the end");
}

static void teardown(void);

static int setup_fail(void)
{
	teardown();
	return 1;
}

static int setup(void)
{
	LIBBPF_OPTS(bpf_xdp_attach_opts, xo);
	int err;

	if (fx_load(&fx, "conn", 0))
		return 1;
	if (netpair_create(&np, "conn"))
		return setup_fail();
	state_link = bpf_program__attach(fx.g.skel->progs.mg_sock_state);
	state_link2 = bpf_program__attach(fx.g.skel->progs.mg_sock_state2);
	if (!state_link || !state_link2) {
		printf("  attach tp_btf: %s\n", strerror(errno));
		return setup_fail();
	}
	srv_ifindex = ns_ifindex(&np, np.srv_fd, np.srv_if);
	if (srv_ifindex <= 0)
		return setup_fail();
	/* the attach is a netlink request in the interface's namespace */
	ns_enter(np.srv_fd);
	err = bpf_xdp_attach(srv_ifindex, fx.prog, XDP_FLAGS_DRV_MODE, &xo);
	ns_enter(np.self_fd);
	if (err) {
		printf("  native XDP attach on %s: %s\n", np.srv_if, strerror(-err));
		return setup_fail();
	}
	return 0;
}

static void teardown(void)
{
	bpf_link__destroy(state_link);
	bpf_link__destroy(state_link2);
	state_link = state_link2 = NULL;
	netpair_destroy(&np); /* the veth and its XDP program go with it */
	fx_unload(&fx);
}

int main(int argc, char **argv)
{
	return test_main(argc, argv, setup, teardown);
}
