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

static struct fixture fx;
static struct netpair np;
static struct bpf_link *state_link;
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
	if (!state_link) {
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
	state_link = NULL;
	netpair_destroy(&np); /* the veth and its XDP program go with it */
	fx_unload(&fx);
}

int main(int argc, char **argv)
{
	return test_main(argc, argv, setup, teardown);
}
