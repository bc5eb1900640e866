// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* `mailgate top` shows the sources the allow list, the deny list, a ban or
 * a DNSBL verdict decided, each with its reason and its SYNs in the
 * interval, and a forged flood from refused addresses recycles only the map
 * that keeps them (mg_stopped), never a real source's state. The data path
 * is attached (native XDP) to the server end of a veth pair between two
 * namespaces; real TCP connects from the client namespace and forged SYN
 * frames sent on its veth (AF_PACKET) are what it judges; the built binary
 * (.output/mailgate --pin-dir DIR --json top) is what reads them. */
#define _GNU_SOURCE
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/if_packet.h>
#include <sys/wait.h>
#include <json-c/json.h>
#include "test.h"
#include "fixture.h"
#include "netns.h"
#include "cli_run.h"
#include "sink.skel.h"

#define SRV4 "192.0.2.1"
#define SRV6 "2001:db8::1"
#define DROP_MS 150  /* a dropped SYN: no answer within this (one SYN: the first retransmit is at 1 s) */
#define OK_MS 3000   /* a connection that must succeed, on a loaded machine */

static struct fixture fx;
static struct netpair np;
static struct sink_bpf *peer;
static int srv_ifindex, cli_ifindex, lfd25;

static void cfg_lab(struct mg_config *c)
{
	fx_config(c);
	c->netns_ino = (uint32_t)np.srv_ino;
}

/* nobody watches: the data path keeps no stopped sources (mg_ctl.top_until_ns 0) */
static void unwatch(void)
{
	struct mg_ctl c;
	uint32_t zero = 0;

	if (!bpf_map_lookup_elem(fx.g.fd[GM_CTL], &zero, &c)) {
		c.top_until_ns = 0;
		bpf_map_update_elem(fx.g.fd[GM_CTL], &zero, &c, BPF_ANY);
	}
}

static void reset(const struct mg_config *cfg)
{
	fx_reset(&fx, cfg);
	fx_map_clear(fx.g.fd[GM_STOPPED], sizeof(struct mg_stopped_key));
	unwatch();
}

/* n connects from src to dst:25 that must time out (their SYN dropped) */
static int dropped(const char *src, const char *dst, int n)
{
	int timeouts = 0;

	for (int i = 0; i < n; i++)
		timeouts += ns_connect(&np, np.cli_fd, src, dst, 25, DROP_MS) == -ETIMEDOUT;
	return timeouts;
}

/* n connects from src to dst:25 that must succeed */
static int connected(const char *src, const char *dst, int n)
{
	int ok = 0;

	for (int i = 0; i < n; i++) {
		int fd = ns_connect(&np, np.cli_fd, src, dst, 25, OK_MS);

		if (fd >= 0) {
			ok++;
			close(fd);
		}
	}
	return ok;
}

/* `mailgate [--json] top ARGS` started in the background; returns once it
 * has asked the data path to keep stopped sources (before its first
 * sample), plus time for that sample */
static FILE *top_start(bool json, const char *args)
{
	char cmd[PATH_MAX + 1024];
	uint32_t zero = 0;
	struct mg_ctl c;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "%s --pin-dir %s %s top %s", bin, fx.g.pin_dir, json ? "--json" : "", args);
	p = popen(cmd, "r");
	for (int i = 0; p && i < 300; i++) {
		if (!bpf_map_lookup_elem(fx.g.fd[GM_CTL], &zero, &c) && c.top_until_ns > now_boot_ns())
			break;
		usleep(10 * 1000);
	}
	usleep(500 * 1000);
	return p;
}

static struct json_object *top_finish(FILE *p)
{
	static char buf[1 << 20];
	struct json_object *o;
	size_t n = fread(buf, 1, sizeof(buf) - 1, p);
	int st = pclose(p);

	buf[n] = 0;
	if (!ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0, "top exits 0"))
		return NULL;
	o = json_tokener_parse(buf);
	if (!o)
		test_fail(__FILE__, __LINE__, "top's output is not JSON: %.300s", buf);
	return o;
}

/* the SYNs of the row of top's "stopped" with this address and reason; -1: no such row */
static long stopped_syns(struct json_object *o, const char *addr, const char *reason)
{
	struct json_object *arr, *row, *v;

	if (json_pointer_get(o, "/stopped", &arr) || !json_object_is_type(arr, json_type_array))
		return -1;
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		row = json_object_array_get_idx(arr, i);
		if (json_object_object_get_ex(row, "address", &v) && !strcmp(json_object_get_string(v), addr) &&
		    json_object_object_get_ex(row, "reason", &v) && !strcmp(json_object_get_string(v), reason) &&
		    json_object_object_get_ex(row, "syns", &v))
			return json_object_get_int64(v);
	}
	return -1;
}

/* a denied, a banned, an allowed and a DNSBL-listed source each show up
 * with its reason and its SYNs; a source that passed every step is among
 * the busiest, not among these */
TEST(top_shows_stopped_sources)
{
	struct json_object *o, *v;
	struct mg_config cfg;
	FILE *p;

	cfg_lab(&cfg);
	cfg.dnsbl_enabled = 1;
	reset(&cfg);
	fx_rule(&fx, GM_DENY, "192.0.2.2", 0);
	fx_rule(&fx, GM_ALLOW, "192.0.2.3", 0);
	fx_ban(&fx, "2001:db8::4", 0, 0, now_boot_ns());
	fx_verdict(&fx, "192.0.2.6", MG_VERDICT_LISTED, now_boot_ns() + 600 * NSEC_PER_SEC);
	fx_verdict(&fx, "192.0.2.5", MG_VERDICT_CLEAN, now_boot_ns() + 600 * NSEC_PER_SEC);
	p = top_start(true, "--interval 3s -n 20");
	if (!ASSERT_TRUE(p != NULL, "popen top"))
		return;
	ASSERT_EQ(dropped("192.0.2.2", SRV4, 3), 3, "denied: 3 connects time out");
	ASSERT_EQ(dropped("2001:db8::4", SRV6, 2), 2, "banned: 2 connects time out");
	ASSERT_EQ(dropped("192.0.2.6", SRV4, 1), 1, "listed: 1 connect times out");
	ASSERT_EQ(connected("192.0.2.3", SRV4, 4), 4, "allowed: 4 connects");
	ASSERT_EQ(connected("192.0.2.5", SRV4, 1), 1, "a source that passes every step connects");
	o = top_finish(p);
	if (!o)
		return;
	ASSERT_EQ(stopped_syns(o, "192.0.2.2", "drop_deny"), 3, "denied source: drop_deny, 3 SYNs");
	ASSERT_EQ(stopped_syns(o, "2001:db8::4", "drop_ban"), 2, "banned source: drop_ban, 2 SYNs");
	ASSERT_EQ(stopped_syns(o, "192.0.2.6", "drop_dnsbl"), 1, "listed source: drop_dnsbl, 1 SYN");
	ASSERT_EQ(stopped_syns(o, "192.0.2.3", "pass_allow"), 4, "allowed source: pass_allow, 4 SYNs");
	ASSERT_EQ(stopped_syns(o, "192.0.2.5", "pass_ok"), -1, "a passed source is not among them");
	ASSERT_TRUE(!json_pointer_get(o, "/stopped/0/address", &v) && !strcmp(json_object_get_string(v), "192.0.2.3"),
		    "most SYNs first");
	ASSERT_TRUE(!json_pointer_get(o, "/stopped/0/state/allow", &v), "each row says the state (the allow entry)");
	ASSERT_TRUE(!json_pointer_get(o, "/top_syns/0/address", &v) && !strcmp(json_object_get_string(v), "192.0.2.5"),
		    "the passed source is in the busiest section");
	ASSERT_TRUE(!json_pointer_get(o, "/stopped_earlier/drop_deny/syns", &v) && json_object_get_int(v) == 3,
		    "the per-reason totals stay");
	json_object_put(o);
}

/* the human form has the section, one row per source with its reason */
TEST(top_text_lists_stopped_sources)
{
	static char buf[1 << 16];
	struct mg_config cfg;
	size_t n;
	FILE *p;

	cfg_lab(&cfg);
	reset(&cfg);
	fx_rule(&fx, GM_DENY, "192.0.2.7", 0);
	p = top_start(false, "--interval 2s");
	if (!ASSERT_TRUE(p != NULL, "popen top"))
		return;
	ASSERT_EQ(dropped("192.0.2.7", SRV4, 2), 2, "denied: 2 connects time out");
	n = fread(buf, 1, sizeof(buf) - 1, p);
	buf[n] = 0;
	ASSERT_TRUE(WEXITSTATUS(pclose(p)) == 0, "top exits 0");
	ASSERT_HAS_SUBSTR(buf, "decided before the quota steps", "buf");
	ASSERT_HAS_SUBSTR(buf, "REASON", "buf");
	ASSERT_HAS_SUBSTR(buf, "192.0.2.7", "buf");
	ASSERT_HAS_SUBSTR(buf, "drop_deny", "buf");
	ASSERT_HAS_SUBSTR(buf, "deny 192.0.2.7/32", "the row's state names the deny entry");
}

/* nobody runs top: refused SYNs cost one load of mg_ctl and keep nothing */
TEST(stopped_kept_only_while_top_watches)
{
	struct mg_config cfg;

	cfg_lab(&cfg);
	reset(&cfg);
	fx_rule(&fx, GM_DENY, "192.0.2.8", 0);
	ASSERT_EQ(dropped("192.0.2.8", SRV4, 2), 2, "denied: 2 connects time out");
	ASSERT_EQ(fx_count(&fx, MG_REASON_DROP_DENY, MG_CLASS_SMTP), 2, "counted drop_deny");
	ASSERT_EQ(map_count(fx.g.fd[GM_STOPPED], NULL), 0, "mg_stopped stays empty");
	ASSERT_OK(gate_watch_stopped(&fx.g, now_boot_ns() + 10 * NSEC_PER_SEC), "watch");
	ASSERT_EQ(dropped("192.0.2.8", SRV4, 1), 1, "denied: 1 connect times out");
	ASSERT_EQ(map_count(fx.g.fd[GM_STOPPED], NULL), 1, "kept while watched");
	unwatch();
}

/* n forged SYN frames to SRV6:25 from distinct addresses of 2001:db8:bad::/48,
 * sent on the client's veth (AF_PACKET); returns how many went out */
static int forge_flood(int n)
{
	struct sockaddr_ll to = { .sll_family = AF_PACKET, .sll_ifindex = cli_ifindex, .sll_halen = 6 };
	uint8_t buf[256];
	char src[64];
	int fd, sent = 0;

	if (ns_enter(np.cli_fd))
		return -errno;
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	ns_enter(np.self_fd);
	if (fd < 0)
		return -errno;
	memcpy(to.sll_addr, frame_mac_dst, 6);
	for (int i = 0; i < n; i++) {
		struct frame f = { .family = 6, .src = src, .dst = SRV6, .dport = 25,
				   .sport = (uint16_t)(1024 + i % 60000), .seq = 0x1000u + i };
		size_t len;

		snprintf(src, sizeof(src), "2001:db8:bad:%x::%x", 1 + i / 60000, 1 + i % 60000);
		len = frame_build(buf, sizeof(buf), &f, NULL);
		if (len && sendto(fd, buf, len, 0, (void *)&to, sizeof(to)) == (ssize_t)len)
			sent++;
	}
	close(fd);
	return sent;
}

/* A forged flood from three times as many denied addresses as mg_stopped
 * holds, while top watches: each CPU puts at most MG_STOPPED_NEW_PER_S new
 * sources a second into mg_stopped and top counts the SYNs left out; a real
 * source's mg_src entry, a ban and a DNSBL verdict stay, nothing is added
 * to mg_src, and the real source still connects. */
TEST(forged_flood_touches_only_stopped)
{
	struct mg_addr real = fx_addr("192.0.2.5"), banned = fx_addr("192.0.2.9");
	const int n = 3 * MG_MAX_STOPPED;
	struct json_object *o, *v;
	struct mg_src s1 = {}, s2 = {};
	struct mg_verdict vd;
	struct mg_ban b;
	struct mg_config cfg;
	long src_before, kept = -1, left = -1;
	FILE *p;
	int sent;

	cfg_lab(&cfg);
	cfg.flood_interval_ns = 0; /* flood mode would stop most of them earlier (drop_flood) */
	reset(&cfg);
	fx_rule(&fx, GM_DENY, "2001:db8:bad::/48", 0);
	fx_ban(&fx, "192.0.2.9", 0, 0, now_boot_ns());
	fx_verdict(&fx, "192.0.2.5", MG_VERDICT_CLEAN, now_boot_ns() + 600 * NSEC_PER_SEC);
	if (!ASSERT_EQ(connected("192.0.2.5", SRV4, 1), 1, "the real source connects"))
		return;
	ASSERT_OK(bpf_map_lookup_elem(fx.g.fd[GM_SRC], &real, &s1) ? -errno : 0, "its mg_src entry");
	src_before = map_count(fx.g.fd[GM_SRC], NULL);
	p = top_start(true, "--interval 3s -n 5");
	if (!ASSERT_TRUE(p != NULL, "popen top"))
		return;
	sent = forge_flood(n);
	ASSERT_EQ(sent, n, "forged frames sent");
	o = top_finish(p);
	ASSERT_TRUE(fx_count(&fx, MG_REASON_DROP_DENY, MG_CLASS_SMTP) >= (uint64_t)n * 9 / 10,
		    "the data path saw them: drop_deny");
	if (o) {
		if (!json_pointer_get(o, "/stopped_sources", &v))
			kept = json_object_get_int64(v);
		if (!json_pointer_get(o, "/stopped_map/not_kept_syns", &v))
			left = json_object_get_int64(v);
		ASSERT_RANGE(kept, 1, MG_MAX_STOPPED, "top shows some of them, at most what mg_stopped holds");
		ASSERT_TRUE(left > 0, "top counts the SYNs over the insert budget");
		ASSERT_TRUE(kept + left >= n * 9 / 10, "every forged SYN is a row or counted as left out");
		json_object_put(o);
	}
	ASSERT_OK(bpf_map_lookup_elem(fx.g.fd[GM_SRC], &real, &s2) ? -errno : 0, "the real source's mg_src entry stays");
	ASSERT_EQ(s2.syns, s1.syns, "its counts unchanged");
	ASSERT_EQ(map_count(fx.g.fd[GM_SRC], NULL), src_before, "the flood added nothing to mg_src");
	ASSERT_OK(bpf_map_lookup_elem(fx.g.fd[GM_BAN], &banned, &b) ? -errno : 0, "the ban stays");
	ASSERT_OK(bpf_map_lookup_elem(fx.g.fd[GM_VERDICT], &real, &vd) ? -errno : 0, "the verdict stays");
	ASSERT_EQ(connected("192.0.2.5", SRV4, 1), 1, "the real source still connects");
	unwatch();
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

	if (cli_find_bin(bin, sizeof(bin)))
		return 1;
	if (fx_load(&fx, "top", 4096))
		return 1;
	if (netpair_create(&np, "top"))
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
	return lfd25 < 0 ? setup_fail() : 0;
}

static void teardown(void)
{
	if (lfd25 > 0)
		close(lfd25);
	lfd25 = 0;
	netpair_destroy(&np);
	sink_bpf__destroy(peer);
	peer = NULL;
	fx_unload(&fx);
}

int main(int argc, char **argv)
{
	return test_main(argc, argv, setup, teardown);
}
