// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* mailgate synflood, end to end: the binary sends from namespace A over a
 * veth; an AF_PACKET socket in namespace B captures what arrives, and every
 * frame is checked: a valid SYN (IPv4 header checksum, TCP checksum, SYN
 * only, the options), to the right place, from inside --src. Also: exact
 * counts at full rate (from B's rx counters), the duration bound, the
 * refusal outside a lab namespace, and bad flags. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include "test.h"
#include "test_synflood_lab.h"
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include "mailgate.h"
#include "sink.skel.h"


static struct lab lab;
static bool lab_ok;
static uint8_t mac_b[6];

static int setup(void)
{
	if (lab_create(&lab, "sf") || lab_sink(&lab, "sink_pass") || lab_resolve(&lab)) {
		printf("  lab setup failed: %s\n", lab_err);
		return 0; /* the lab-less cases still run; the others skip */
	}
	sscanf(lab.mac_b, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &mac_b[0], &mac_b[1], &mac_b[2], &mac_b[3],
	       &mac_b[4], &mac_b[5]);
	lab_ok = true;
	return 0;
}

static void teardown(void)
{
	lab_destroy(&lab);
}

static void on_fatal(int sig)
{
	lab_destroy(&lab);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* ---- capture in B ---- */
static int capture_open(void)
{
	int back = lab_enter(lab.ns_b), fd, size = 64 << 20;
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL) };

	if (back < 0)
		return -1;
	sll.sll_ifindex = if_nametoindex(lab.vb);
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	if (fd >= 0 && (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) ||
			bind(fd, (struct sockaddr *)&sll, sizeof(sll)))) {
		close(fd);
		fd = -1;
	}
	lab_leave(back);
	return fd;
}

struct expect {
	bool v6;
	uint8_t dst[16];       /* v4: first 4 bytes */
	uint8_t src_net[16];   /* --src network, or the list */
	int src_plen;
	const uint8_t (*list)[16];
	int n_list;
	uint16_t dport;
};

struct tally {
	int ours;       /* TCP to dst:dport */
	int valid;
	int bad;
	int distinct_src;
	int distinct_sport;
	uint8_t seen_src[4096][16];
	uint16_t seen_sport[4096];
	uint32_t seen_seq[4096];
	int distinct_seq;
	char why[256];  /* the first reason a frame was bad */
};

static uint32_t sum16(uint32_t s, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

static bool csum_ok(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return s == 0xffff;
}

static bool in_prefix(const uint8_t *a, const uint8_t *net, int plen)
{
	for (int b = 0; b < plen; b++)
		if ((a[b / 8] ^ net[b / 8]) & (0x80 >> (b % 8)))
			return false;
	return true;
}

static void remember(struct tally *t, const uint8_t *src, size_t alen, uint16_t sport, uint32_t seq)
{
	int i;

	for (i = 0; i < t->distinct_src && i < 4096; i++)
		if (!memcmp(t->seen_src[i], src, alen))
			break;
	if (i == t->distinct_src && i < 4096)
		memcpy(t->seen_src[t->distinct_src++], src, alen);
	for (i = 0; i < t->distinct_sport && i < 4096; i++)
		if (t->seen_sport[i] == sport)
			break;
	if (i == t->distinct_sport && i < 4096)
		t->seen_sport[t->distinct_sport++] = sport;
	for (i = 0; i < t->distinct_seq && i < 4096; i++)
		if (t->seen_seq[i] == seq)
			break;
	if (i == t->distinct_seq && i < 4096)
		t->seen_seq[t->distinct_seq++] = seq;
}

#define BAD(...) do { if (!t->why[0]) snprintf(t->why, sizeof(t->why), __VA_ARGS__); t->bad++; return; } while (0)

static void check_frame(const uint8_t *f, size_t len, const struct expect *e, struct tally *t)
{
	size_t l3 = 14, iplen = e->v6 ? 40 : 20, alen = e->v6 ? 16 : 4;
	const uint8_t *ip = f + l3, *tcp, *src, *o;
	uint16_t etype = e->v6 ? ETH_P_IPV6 : ETH_P_IP, sport;
	bool mss = false, sack = false, ts = false, ws = false;
	uint32_t s;

	if (len < l3 + iplen + 20 || (f[12] << 8 | f[13]) != etype)
		return;
	if (e->v6 ? ip[6] != IPPROTO_TCP : ip[9] != IPPROTO_TCP)
		return;
	tcp = ip + iplen;
	if ((tcp[2] << 8 | tcp[3]) != e->dport || memcmp(ip + (e->v6 ? 24 : 16), e->dst, alen))
		return;
	t->ours++;
	src = ip + (e->v6 ? 8 : 12);
	if (e->v6) {
		if (ip[0] >> 4 != 6 || (ip[4] << 8 | ip[5]) != 40 || ip[7] != 64)
			BAD("IPv6 header: version %d, payload length %d, hop limit %d", ip[0] >> 4,
			    ip[4] << 8 | ip[5], ip[7]);
		if (len < l3 + 40 + 40)
			BAD("IPv6 frame of %zu bytes", len);
		uint8_t ph[40] = {};

		memcpy(ph, ip + 8, 32);
		ph[35] = 40;
		ph[39] = IPPROTO_TCP;
		s = sum16(sum16(0, ph, 40), tcp, 40);
	} else {
		if (ip[0] != 0x45 || (ip[2] << 8 | ip[3]) != 60 || ip[8] != 64 || (ip[6] & 0x3f) || ip[7])
			BAD("IPv4 header: %02x, total length %d, ttl %d, frag %02x%02x", ip[0],
			    ip[2] << 8 | ip[3], ip[8], ip[6], ip[7]);
		if (len < l3 + 60)
			BAD("IPv4 frame of %zu bytes", len);
		if (!csum_ok(sum16(0, ip, 20)))
			BAD("IPv4 header checksum");
		uint8_t ph[12] = {};

		memcpy(ph, ip + 12, 8);
		ph[9] = IPPROTO_TCP;
		ph[11] = 40;
		s = sum16(sum16(0, ph, 12), tcp, 40);
	}
	if (!csum_ok(s))
		BAD("TCP checksum");
	if (tcp[13] != 0x02)
		BAD("TCP flags %02x, not SYN only", tcp[13]);
	if (tcp[12] >> 4 != 10)
		BAD("TCP data offset %d", tcp[12] >> 4);
	for (o = tcp + 20; o < tcp + 40;) {
		if (*o == 0)
			break;
		if (*o == 1) {
			o++;
			continue;
		}
		if (o + 1 >= tcp + 40 || o[1] < 2 || o + o[1] > tcp + 40)
			BAD("TCP option %d of length %d", o[0], o[1]);
		mss |= o[0] == 2 && o[1] == 4;
		sack |= o[0] == 4 && o[1] == 2;
		ts |= o[0] == 8 && o[1] == 10;
		ws |= o[0] == 3 && o[1] == 3;
		o += o[1];
	}
	if (!mss || !sack || !ts || !ws)
		BAD("TCP options: mss %d sack %d ts %d ws %d", mss, sack, ts, ws);
	sport = tcp[0] << 8 | tcp[1];
	if (sport < 32768)
		BAD("source port %u", sport);
	if (e->n_list) {
		int i;

		for (i = 0; i < e->n_list; i++)
			if (!memcmp(src, e->list[i] + (e->v6 ? 0 : 12), alen))
				break;
		if (i == e->n_list)
			BAD("source not in --src-list");
	} else if (!in_prefix(src, e->src_net, e->src_plen)) {
		char b[64];

		inet_ntop(e->v6 ? AF_INET6 : AF_INET, src, b, sizeof(b));
		BAD("source %s outside --src", b);
	}
	if (memcmp(f, mac_b, 6))
		BAD("destination MAC %02x:%02x:%02x:%02x:%02x:%02x, not B's %s", f[0], f[1], f[2], f[3],
		    f[4], f[5], lab.mac_b);
	remember(t, src, alen, sport, (uint32_t)tcp[4] << 24 | tcp[5] << 16 | tcp[6] << 8 | tcp[7]);
	t->valid++;
}

/* Read what B received until it has been quiet for a while. */
static void capture_drain(int fd, const struct expect *e, struct tally *t)
{
	static uint8_t buf[2048];
	struct sockaddr_ll from;
	int quiet = 0;

	while (quiet < 30) { /* 300 ms of silence */
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from, &fl);

		if (n < 0) {
			usleep(10000);
			quiet++;
			continue;
		}
		quiet = 0;
		if (from.sll_pkttype != PACKET_OUTGOING)
			check_frame(buf, n, e, t);
	}
}

/* Run synflood in A with --json; returns its exit code, fills frames_sent and method */
static int flood(long long *sent, char *method, size_t mlen, const char *fmt, ...)
{
	static char out[65536];
	char args[1024];
	struct json_object *doc, *v;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	rc = lab_run(&lab, out, sizeof(out), "nsenter --net=/run/netns/%s %s synflood -i %s --json %s",
		     lab.ns_a, lab.mailgate, lab.va, args);
	*sent = -1;
	doc = json_tokener_parse(out);
	if (doc && json_object_object_get_ex(doc, "frames_sent", &v))
		*sent = json_object_get_int64(v);
	if (doc && method && json_object_object_get_ex(doc, "method", &v))
		snprintf(method, mlen, "%s", json_object_get_string(v));
	json_object_put(doc);
	if (rc)
		printf("  synflood %s: exit %d: %s%s", args, rc, lab_err, out);
	return rc;
}

#define NEED_LAB() do { if (!lab_ok) { test_skip("no lab (see setup)"); return; } } while (0)

static void expect_v4(struct expect *e)
{
	memset(e, 0, sizeof(*e));
	inet_pton(AF_INET, "192.0.2.1", e->dst);
	inet_pton(AF_INET, "198.51.100.0", e->src_net);
	e->src_plen = 24;
	e->dport = 25;
}

/* Send n paced frames with the given extra flags; check each that arrives. */
static void send_and_check(const struct expect *e, int n, const char *method_want, const char *flags)
{
	static struct tally t;
	char method[32] = "";
	long long sent;
	int fd = capture_open();

	if (!ASSERT_TRUE(fd >= 0, "capture socket in B"))
		return;
	memset(&t, 0, sizeof(t));
	if (!ASSERT_EQ(flood(&sent, method, sizeof(method), "--dst %s --count %d --rate 50k %s",
			     e->v6 ? "2001:db8::1" : "192.0.2.1", n, flags), 0, "synflood exit code"))
		goto out;
	ASSERT_EQ(sent, n, "frames_sent reported");
	if (method_want)
		ASSERT_STREQ(method, method_want, method_want);
	capture_drain(fd, e, &t);
	if (t.why[0])
		printf("  first bad frame: %s\n", t.why);
	ASSERT_EQ(t.ours, n, "SYNs to dst:25 captured in B");
	ASSERT_EQ(t.bad, 0, "invalid frames");
	ASSERT_EQ(t.valid, n, "valid SYNs");
	/* random fields: with n >= 2000 nearly every port and seq differs */
	ASSERT_RANGE(t.distinct_sport, n / 2 < 4096 ? n / 2 : 2048, 4096, "distinct source ports");
	ASSERT_RANGE(t.distinct_seq, n / 2 < 4096 ? n / 2 : 2048, 4096, "distinct sequence numbers");
	if (e->n_list)
		ASSERT_EQ(t.distinct_src, e->n_list, "every --src-list address used");
	else if (!e->v6)
		ASSERT_RANGE(t.distinct_src, 200, 256, "distinct sources in a /24");
	else
		ASSERT_RANGE(t.distinct_src, n / 2 < 4096 ? n / 2 : 2048, 4096, "distinct IPv6 sources");
out:
	close(fd);
}

TEST(v4_frames_valid)
{
	struct expect e;

	NEED_LAB();
	expect_v4(&e);
	send_and_check(&e, 3000, "live-frames", "--src 198.51.100.0/24 --method live-frames");
}

TEST(v6_frames_valid)
{
	struct expect e = { .v6 = true, .src_plen = 33, .dport = 25 };

	NEED_LAB();
	inet_pton(AF_INET6, "2001:db8::1", e.dst);
	inet_pton(AF_INET6, "2001:db8:8000::", e.src_net);
	send_and_check(&e, 3000, "live-frames", "--src 2001:db8:8000::/33 --method live-frames");
}

TEST(src_list)
{
	static const uint8_t list[3][16] = {
		{ [10] = 0xff, [11] = 0xff, 203, 0, 113, 7 },
		{ [10] = 0xff, [11] = 0xff, 203, 0, 113, 8 },
		{ [10] = 0xff, [11] = 0xff, 198, 51, 100, 250 },
	};
	struct expect e;

	NEED_LAB();
	expect_v4(&e);
	e.list = list;
	e.n_list = 3;
	e.dport = 587;
	send_and_check(&e, 2000, "live-frames",
		       "--dport 587 --src-list 203.0.113.7,203.0.113.8,198.51.100.250 --method live-frames");
}

TEST(af_packet_frames_valid)
{
	struct expect e;

	NEED_LAB();
	expect_v4(&e);
	send_and_check(&e, 2000, "af_packet", "--src 198.51.100.0/24 --method af_packet");
}

/* auto: live frames, but AF_PACKET for a paced flood (it paces evenly) */
TEST(auto_method)
{
	struct expect e;

	NEED_LAB();
	expect_v4(&e);
	send_and_check(&e, 2000, "af_packet", "--src 198.51.100.0/24");
}

/* Full rate, no capture: every frame the generator reports must show up
 * in B, counted by sink_count (a SYN to port 25) or dropped at B's ring
 * (rx_dropped: no frame that gets there is seen by XDP). */
static void exact_count(const char *flags, long long n)
{
	struct sink_bpf *sk = sink_bpf__open_and_load();
	char method[32] = "";
	int back, ifindex, err;
	long long p0, d0, p1, d1, sent;

	if (!ASSERT_TRUE(sk, "load sink.bpf.o"))
		return;
	back = lab_enter(lab.ns_b);
	ifindex = if_nametoindex(lab.vb);
	err = bpf_xdp_attach(ifindex, bpf_program__fd(sk->progs.sink_count), XDP_FLAGS_DRV_MODE, NULL);
	lab_leave(back);
	if (!ASSERT_OK(err, "sink_count on B"))
		goto out;
	if (!ASSERT_OK(lab_rx_stats(&lab, &p0, &d0), "rx stats"))
		goto out;
	if (!ASSERT_EQ(flood(&sent, method, sizeof(method), "--dst 192.0.2.1 --src 198.51.100.0/24 --count %lld %s",
			     n, flags), 0, "synflood exit code"))
		goto out;
	ASSERT_EQ(sent, n, "frames_sent reported");
	ASSERT_STREQ(method, "live-frames", "method live-frames when unpaced");
	usleep(200000);
	if (!ASSERT_OK(lab_rx_stats(&lab, &p1, &d1), "rx stats"))
		goto out;
	ASSERT_EQ((long long)sk->bss->syns + (d1 - d0), n, "SYNs B counted + frames dropped at its ring");
	/* every frame B received, give or take a stray frame of the lab's own
	 * (neighbour discovery) that crossed the attach or a stats read */
	ASSERT_RANGE((long long)(sk->bss->syns + sk->bss->others), (long long)(p1 - p0) - 2,
		     (long long)(p1 - p0) + 2, "sink_count saw every frame B received");
	if (d1 - d0)
		printf("  (%lld of them dropped at B's ring)\n", d1 - d0);
out:
	lab_sink(&lab, "sink_pass");
	sink_bpf__destroy(sk);
}

TEST(exact_count_full_rate)
{
	NEED_LAB();
	exact_count("", 300000);
}

TEST(exact_count_threads)
{
	static char out[65536];
	struct json_object *doc, *arr, *v;
	int rc;

	NEED_LAB();
	exact_count("--threads 3", 100001);
	/* and the split: 3 threads, 1001 frames: 334 + 334 + 333 */
	rc = lab_run(&lab, out, sizeof(out),
		     "nsenter --net=/run/netns/%s %s synflood -i %s --json --dst 192.0.2.1 --count 1001 --threads 3",
		     lab.ns_a, lab.mailgate, lab.va);
	if (!ASSERT_EQ(rc, 0, "synflood exit code"))
		return;
	doc = json_tokener_parse(out);
	if (ASSERT_TRUE(doc && json_object_object_get_ex(doc, "per_thread", &arr) &&
			json_object_array_length(arr) == 3, "three threads reported")) {
		for (int i = 0; i < 3; i++) {
			json_object_object_get_ex(json_object_array_get_idx(arr, i), "frames", &v);
			ASSERT_EQ(json_object_get_int64(v), i < 2 ? 334 : 333, "frames of one thread");
		}
	}
	json_object_put(doc);
}

/* --duration with --rate: about rate x duration frames. Generous bounds: a
 * loaded 2-core machine may run late, never early. More frames than rate x
 * duration, or a run out of its time, is the tool's fault at once; fewer
 * can be a generator the machine starved (it cannot catch up on what it was
 * not given the CPU for), so a short run is repeated, twice at most: a
 * pacing that sends too few fails all three. */
TEST(duration_bound)
{
	static char out[65536];
	struct json_object *doc, *v;
	long long sent = -1;
	double secs = -1;
	int rc;

	NEED_LAB();
	for (int attempt = 1; attempt <= 3; attempt++) {
		rc = lab_run(&lab, out, sizeof(out),
			     "nsenter --net=/run/netns/%s %s synflood -i %s --json --dst 192.0.2.1 --duration 500ms --rate 20k",
			     lab.ns_a, lab.mailgate, lab.va);
		if (!ASSERT_EQ(rc, 0, "synflood exit code"))
			return;
		sent = -1;
		secs = -1;
		doc = json_tokener_parse(out);
		if (doc && json_object_object_get_ex(doc, "frames_sent", &v))
			sent = json_object_get_int64(v);
		if (doc && json_object_object_get_ex(doc, "elapsed_s", &v))
			secs = json_object_get_double(v);
		json_object_put(doc);
		if (sent >= 5000 || sent < 0 || attempt == 3)
			break;
		printf("  run %d: only %lld frames in %.3f s (a starved generator?), again\n", attempt, sent, secs);
	}
	ASSERT_RANGE(sent, 5000, 10000, "frames in 500 ms at 20k/s");
	ASSERT_RANGE((long long)(secs * 1000), 450, 2000, "elapsed ms");
}

TEST(no_neighbour)
{
	NEED_LAB();
	ASSERT_EQ(lab_run(&lab, NULL, 0, "nsenter --net=/run/netns/%s %s synflood -i %s --dst 192.0.2.77 --count 1",
			  lab.ns_a, lab.mailgate, lab.va), 1, "exit code");
	ASSERT_HAS_SUBSTR(lab_err, "192.0.2.77", "message names the address and --dst-mac");
	ASSERT_HAS_SUBSTR(lab_err, "--dst-mac", "message names the address and --dst-mac");
	/* with --dst-mac it goes */
	ASSERT_EQ(lab_run(&lab, NULL, 0, "nsenter --net=/run/netns/%s %s synflood -i %s --dst 192.0.2.77 --count 1 --dst-mac 02:00:00:00:00:01",
			  lab.ns_a, lab.mailgate, lab.va), 0, "exit code with --dst-mac");
}

/* A fresh lab, no neighbour entry for the destination: synflood has the
 * kernel resolve it (ARP, neighbour discovery) and goes, without --dst-mac. */
TEST(resolves_missing_neighbour)
{
	char out[1024] = "";

	NEED_LAB();
	if (!ASSERT_OK(lab_run(&lab, NULL, 0, "ip -n %s neigh flush dev %s", lab.ns_a, lab.va), "neigh flush"))
		return;
	lab_run(&lab, out, sizeof(out), "ip -n %s neigh show dev %s", lab.ns_a, lab.va);
	if (!ASSERT_NO_SUBSTR(out, "lladdr", "no neighbour entry left"))
		return;
	ASSERT_EQ(lab_run(&lab, NULL, 0, "nsenter --net=/run/netns/%s %s synflood -i %s --dst 192.0.2.1 --count 1",
			  lab.ns_a, lab.mailgate, lab.va), 0, "IPv4 without --dst-mac");
	ASSERT_EQ(lab_run(&lab, NULL, 0, "nsenter --net=/run/netns/%s %s synflood -i %s --dst 2001:db8::1 --count 1",
			  lab.ns_a, lab.mailgate, lab.va), 0, "IPv6 without --dst-mac");
	lab_run(&lab, out, sizeof(out), "ip -n %s neigh show dev %s", lab.ns_a, lab.va);
	ASSERT_HAS_SUBSTR(out, "192.0.2.1 lladdr", "the neighbour table");
	ASSERT_HAS_SUBSTR(out, "2001:db8::1 lladdr", "the neighbour table");
}

/* Outside a lab namespace: refused, nothing sent. */
TEST(refuses_initial_netns)
{
	struct stat st;

	if (stat("/proc/self/ns/net", &st) || st.st_ino != 0xEFFFFFF9U) {
		test_skip("the tests do not run in the initial network namespace");
		return;
	}
	ASSERT_EQ(lab_run(&lab, NULL, 0, "%s synflood -i lo --dst 127.0.0.1 --count 1", lab.mailgate), 2,
		  "exit code");
	ASSERT_HAS_SUBSTR(lab_err, "refusing", "message says why and how");
	ASSERT_HAS_SUBSTR(lab_err, "--i-own-this-network", "message says why and how");
}

TEST(bad_flags_exit_2)
{
	static const struct {
		const char *args, *names;
	} cases[] = {
		{ "--dst 192.0.2.1", "bound" },                            /* no --count / --duration */
		{ "--dst 192.0.2.1 --count 0", "'0'" },
		{ "--dst 192.0.2.1 --count 12x", "'12x'" },
		{ "--dst 192.0.2.1 --count 10 --rate fast", "'fast'" },
		{ "--dst 192.0.2.1 --count 10 --rate 0", "'0'" },
		{ "--dst 192.0.2.1 --duration 5y", "'5y'" },
		{ "--dst 192.0.2.1 --count 10 --dport 70000", "'70000'" },
		{ "--dst 192.0.2.1 --count 10 --dport 0", "'0'" },
		{ "--dst 192.0.2.1 --count 10 --threads 0", "'0'" },
		{ "--dst 192.0.2.1 --count 10 --src 198.51.100.1/24", "'198.51.100.1/24'" },
		{ "--dst 192.0.2.1 --count 10 --src 2001:db8::/32", "'2001:db8::/32'" },
		{ "--dst 192.0.2.1 --count 10 --src-list 203.0.113.1,bogus", "'bogus'" },
		{ "--dst 192.0.2.1 --count 10 --src 198.51.100.0/24 --src-list 203.0.113.1", "exclude" },
		{ "--dst 192.0.2.1 --count 10 --dst-mac 02:00:00:00:00", "'02:00:00:00:00'" },
		{ "--dst 192.0.2.300 --count 10", "'192.0.2.300'" },
		{ "--count 10", "--dst" },
		{ "--dst 192.0.2.1 --count 10 --method warp", "'warp'" },
		{ "--dst 192.0.2.1 --count 10 --bogus", "'--bogus'" },
	};
	const char *ns = lab_ok ? lab.ns_a : NULL;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc;

		if (ns)
			rc = lab_run(&lab, NULL, 0, "nsenter --net=/run/netns/%s %s synflood -i %s %s", ns,
				     lab.mailgate, lab.va, cases[i].args);
		else
			rc = lab_run(&lab, NULL, 0, "%s synflood -i lo %s", lab.mailgate, cases[i].args);
		if (!ASSERT_EQ(rc, 2, cases[i].args) || !ASSERT_HAS_SUBSTR(lab_err, cases[i].names, cases[i].names))
			printf("  stderr: %s", lab_err);
	}
	ASSERT_EQ(lab_run(&lab, NULL, 0, "%s synflood --dst 192.0.2.1 --count 1", lab.mailgate), 2, "no -i");
	ASSERT_EQ(lab_run(&lab, NULL, 0, "%s synflood -i mgt-no-such-if --dst 192.0.2.1 --count 1", lab.mailgate), 2,
		  "unknown interface");
	ASSERT_HAS_SUBSTR(lab_err, "mgt-no-such-if", "message names the interface");
}

int main(int argc, char **argv)
{
	signal(SIGINT, on_fatal);
	signal(SIGTERM, on_fatal);
	return test_main(argc, argv, setup, teardown);
}
