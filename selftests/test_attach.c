// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The data path attached (native XDP, through the skeleton and libbpf) to
 * the server end of a veth pair between two namespaces, with real TCP: a
 * denied source's SYN to port 25 is dropped (the connect times out) while
 * the same source reaches port 8080 and an allowed source (inside the
 * denied prefix) reaches port 25; with action reset the denied source gets
 * a RST its kernel accepts (connection refused at once). */
#define _GNU_SOURCE
#include <linux/if_link.h>
#include "test.h"
#include "fixture.h"
#include "netns.h"
#include "sink.skel.h"

static struct fixture fx;
static struct netpair np;
static struct sink_bpf *peer;
static int srv_ifindex, cli_ifindex, lfd25, lfd8080;

#define DROP_MS 1000 /* a dropped SYN: no answer within this (first retransmit is at 1 s) */
#define OK_MS 3000   /* a connection that must succeed, on a loaded machine */

static void cfg_attach(struct mg_config *c, uint32_t action)
{
	fx_config(c);
	c->netns_ino = (uint32_t)np.srv_ino;
	c->action = action;
}

static void lists(void)
{
	fx_rule(&fx, GM_DENY, "192.0.2.0/24", 0);
	fx_rule(&fx, GM_DENY, "2001:db8::/64", 0);
	fx_rule(&fx, GM_ALLOW, "192.0.2.3", 0);
	fx_rule(&fx, GM_ALLOW, "2001:db8::3", 0);
}

/* connect and close; returns the connect result (fd >= 0 or -errno) */
static int try_connect(const char *src, const char *dst, uint16_t port, int ms)
{
	int fd = ns_connect(&np, np.cli_fd, src, dst, port, ms);

	if (fd >= 0)
		close(fd);
	return fd;
}

TEST(attached_native)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);

	if (!ASSERT_OK(ns_enter(np.srv_fd), "enter server namespace"))
		return;
	ASSERT_OK(bpf_xdp_query(srv_ifindex, 0, &q), "query");
	ns_enter(np.self_fd);
	ASSERT_EQ(q.attach_mode, XDP_ATTACHED_DRV, "native (driver) mode");
}

static void denied_and_allowed(const char *denied, const char *allowed, const char *srv)
{
	struct mg_config cfg;
	uint64_t t0;
	int r;

	cfg_attach(&cfg, MG_ACTION_DROP);
	fx_reset(&fx, &cfg);
	lists();
	t0 = now_boot_ns();
	r = try_connect(denied, srv, 25, DROP_MS);
	ASSERT_EQ(r, -ETIMEDOUT, "denied source to port 25 times out");
	ASSERT_TRUE(now_boot_ns() - t0 >= DROP_MS * 1000000ULL * 9 / 10, "waited the whole timeout");
	ASSERT_TRUE(fx_count(&fx, MG_REASON_DROP_DENY, MG_CLASS_SMTP) >= 1, "counted drop_deny");
	ASSERT_TRUE(try_connect(denied, srv, 8080, OK_MS) >= 0, "denied source reaches port 8080");
	ASSERT_TRUE(fx_count(&fx, MG_REASON_PASS_NOT_GATED, MG_CLASS_NONE) >= 1, "counted not gated");
	ASSERT_TRUE(try_connect(allowed, srv, 25, OK_MS) >= 0, "allowed source reaches port 25");
	ASSERT_TRUE(fx_count(&fx, MG_REASON_PASS_ALLOW, MG_CLASS_SMTP) >= 1, "counted pass_allow");
}

TEST(v4_denied_dropped_allowed_passes)
{
	denied_and_allowed("192.0.2.2", "192.0.2.3", "192.0.2.1");
}

TEST(v6_denied_dropped_allowed_passes)
{
	denied_and_allowed("2001:db8::2", "2001:db8::3", "2001:db8::1");
}

/* observe mode: the same denied SYN is counted but reaches the server */
TEST(observe_mode_passes)
{
	struct mg_config cfg;

	cfg_attach(&cfg, MG_ACTION_DROP);
	cfg.mode = MG_MODE_OBSERVE;
	fx_reset(&fx, &cfg);
	lists();
	ASSERT_TRUE(try_connect("192.0.2.2", "192.0.2.1", 25, OK_MS) >= 0, "connects");
	ASSERT_TRUE(fx_count(&fx, MG_REASON_DROP_DENY, MG_CLASS_SMTP) >= 1, "counted drop_deny");
}

/* action reset: the client kernel takes the RST (valid checksums, ack =
 * seq + 1) and fails the connect with ECONNREFUSED right away */
static void reset(const char *denied, const char *srv)
{
	struct mg_config cfg;
	uint64_t t0;

	cfg_attach(&cfg, MG_ACTION_RESET);
	fx_reset(&fx, &cfg);
	lists();
	t0 = now_boot_ns();
	ASSERT_EQ(try_connect(denied, srv, 25, OK_MS), -ECONNREFUSED, "refused");
	ASSERT_TRUE(now_boot_ns() - t0 < 500 * 1000000ULL, "refused within 500 ms");
	ASSERT_EQ(fx_count(&fx, MG_REASON_DROP_DENY, MG_CLASS_SMTP), 1, "one SYN, counted drop_deny");
}

TEST(v4_reset)
{
	reset("192.0.2.2", "192.0.2.1");
}

TEST(v6_reset)
{
	reset("2001:db8::2", "2001:db8::1");
}

static void teardown(void);

static int setup_fail(void)
{
	teardown();
	return 1;
}

static int setup(void)
{
	int err;

	if (fx_load(&fx, "attach", 0))
		return 1;
	if (netpair_create(&np, "attach"))
		return setup_fail();
	srv_ifindex = ns_ifindex(&np, np.srv_fd, np.srv_if);
	cli_ifindex = ns_ifindex(&np, np.cli_fd, np.cli_if);
	peer = sink_bpf__open_and_load();
	if (srv_ifindex <= 0 || cli_ifindex <= 0 || !peer)
		return setup_fail();
	err = ns_xdp_attach(&np, np.srv_fd, srv_ifindex, fx.prog);
	err = err ?: ns_xdp_attach(&np, np.cli_fd, cli_ifindex, bpf_program__fd(peer->progs.sink_pass));
	if (err) {
		printf("  native XDP attach: %s\n", strerror(-err));
		return setup_fail();
	}
	lfd25 = ns_listen(&np, np.srv_fd, "::", 25, 64);
	lfd8080 = ns_listen(&np, np.srv_fd, "::", 8080, 64);
	if (lfd25 < 0 || lfd8080 < 0)
		return setup_fail();
	return 0;
}

static void teardown(void)
{
	if (lfd25 > 0)
		close(lfd25);
	if (lfd8080 > 0)
		close(lfd8080);
	lfd25 = lfd8080 = 0;
	netpair_destroy(&np); /* the veth pair and its XDP programs go with it */
	sink_bpf__destroy(peer);
	peer = NULL;
	fx_unload(&fx);
}

int main(int argc, char **argv)
{
	return test_main(argc, argv, setup, teardown);
}
