// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* mailgate synflood: a bounded SYN flood generator for test labs.
 *
 * One template SYN frame is built here (Ethernet, IPv4 or IPv6, TCP with
 * Linux's SYN options and valid checksums). The fast path runs the XDP
 * program of bpf/synflood.bpf.c with BPF_PROG_TEST_RUN and
 * BPF_F_TEST_XDP_LIVE_FRAMES: the kernel feeds it `repeat` copies of the
 * frame, the program randomises each and returns XDP_TX, and the kernel
 * sends it out of the interface. Where live frames are not supported, an
 * AF_PACKET socket sends frames rewritten here with the same code
 * (sf_rewrite in include/synflood.h), in sendmmsg batches; it is also the
 * automatic choice for a --rate of at most 1M/s per thread, which it paces
 * more evenly.
 *
 * Safety: it refuses to send unless the interface lives in a network
 * namespace other than the initial one, or --i-own-this-network is given;
 * it always needs a bound (--count and/or --duration). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <net/if_arp.h>
#include <linux/if_packet.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <json-c/json.h>
#include "mailgate.h"
#include "cli.h"

static __thread uint64_t rng_state;

/* xorshift64*: the AF_PACKET path's SF_RANDOM() */
static inline uint32_t user_random(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545F4914F6CDD1DULL) >> 32);
}
#define SF_RANDOM() user_random()
#include "synflood.h"
#include "synflood.skel.h"
#include "cli.h"

enum method { METHOD_AUTO, METHOD_LIVE, METHOD_PACKET };
static const char *const method_names[] = { "auto", "live-frames", "af_packet", NULL };

#define LIVE_CHUNK   65536 /* frames per BPF_PROG_TEST_RUN call when unpaced */
#define PACKET_BATCH 64    /* frames per sendmmsg */
#define PACKET_CHUNK 1024  /* frames between bound checks when unpaced */
#define PACKET_PACED_MAX 1e6 /* pps per thread up to which auto picks af_packet for --rate */

struct flood {
	const char *ifname;
	int ifindex;
	struct mg_addr dst;
	bool v6;
	uint16_t dport;
	uint8_t dst_mac[ETH_ALEN], src_mac[ETH_ALEN];
	bool have_dst_mac;
	struct sf_params params;
	uint32_t list[SF_MAX_LIST * 4];
	uint8_t frame[SF_FRAME6_LEN];
	uint32_t frame_len;
	/* bounds: 0 = none */
	uint64_t count;
	uint64_t duration_ns;
	double rate;
	int threads;
	uint32_t batch;
	enum method method;
	struct synflood_bpf *skel;
	uint64_t start_ns; /* CLOCK_MONOTONIC, shared by every thread */
};

struct worker {
	struct flood *f;
	pthread_t tid;
	int cpu;
	uint64_t quota;    /* frames for this thread; 0 = until the duration ends */
	double rate;       /* pps for this thread; 0 = as fast as it goes */
	uint64_t sent;
	uint64_t elapsed_ns;
	int err;           /* negative errno of a failed send */
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

static void sleep_until(uint64_t t)
{
	struct timespec ts = { .tv_sec = t / NSEC_PER_SEC, .tv_nsec = t % NSEC_PER_SEC };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* ---- parsing of the flags that are the generator's own ---- */

/* "5000", "2.5k", "5M", optionally "/s" */
static int parse_pps(const char *s, double *out)
{
	char *end;
	double v;

	if (!s || !((*s >= '0' && *s <= '9') || *s == '.'))
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno)
		return -EINVAL;
	if (*end == 'k' || *end == 'K')
		v *= 1e3, end++;
	else if (*end == 'M')
		v *= 1e6, end++;
	else if (*end == 'G')
		v *= 1e9, end++;
	if (!strcmp(end, "/s"))
		end += 2;
	if (*end || !(v >= 1) || v > 1e10)
		return -EINVAL;
	*out = v;
	return 0;
}

/* "1000", "10k", "2M", "1G" */
static int parse_count(const char *s, uint64_t *out)
{
	unsigned long long v, mult = 1;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	if (*end == 'k' || *end == 'K')
		mult = 1000, end++;
	else if (*end == 'M')
		mult = 1000000, end++;
	else if (*end == 'G')
		mult = 1000000000, end++;
	if (*end || v == 0 || v > UINT64_MAX / mult)
		return -EINVAL;
	*out = v * mult;
	return 0;
}

static int parse_mac(const char *s, uint8_t *mac)
{
	unsigned int b[ETH_ALEN];
	char tail;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
		   &tail) != 6 || strlen(s) != 17)
		return -EINVAL;
	for (int i = 0; i < ETH_ALEN; i++)
		mac[i] = b[i];
	return 0;
}

static void format_mac(const uint8_t *m, char *buf, size_t len)
{
	snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

/* --src CIDR: the network part and the random host bits */
static int set_src_cidr(struct flood *f, const char *s)
{
	struct mg_lpm_key k;
	struct mg_addr a;
	uint32_t plen;

	if (parse_cidr(s, &k))
		return fail(EXIT_USAGE, "--src: '%s' is not a CIDR (e.g. 198.51.100.0/24, 2001:db8::/32; host bits must be zero)", s);
	memcpy(a.a, k.a, 16);
	if (addr_is_v4(&a) != !f->v6)
		return fail(EXIT_USAGE, "--src: '%s' is not of the family of --dst", s);
	plen = k.prefixlen;
	memcpy(f->params.base, k.a, 16);
	for (int w = 0; w < 4; w++) {
		uint32_t bits = plen > 32u * w ? plen - 32u * w : 0;

		f->params.host[w] = bits >= 32 ? 0 : htonl(0xffffffffu >> bits);
	}
	return 0;
}

/* --src-list a,b,c */
static int set_src_list(struct flood *f, const char *s)
{
	char *dup = strdup(s), *save = NULL;
	struct mg_addr a;
	int rc = 0;

	if (!dup)
		return fail(EXIT_FAIL, "out of memory");
	for (char *tok = strtok_r(dup, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (parse_addr(tok, &a)) {
			rc = fail(EXIT_USAGE, "--src-list: '%s' is not an address", tok);
			break;
		}
		if (addr_is_v4(&a) != !f->v6) {
			rc = fail(EXIT_USAGE, "--src-list: '%s' is not of the family of --dst", tok);
			break;
		}
		if (f->params.n_list >= SF_MAX_LIST) {
			rc = fail(EXIT_USAGE, "--src-list: more than %d addresses", SF_MAX_LIST);
			break;
		}
		memcpy(&f->list[f->params.n_list++ * 4], a.a, 16);
	}
	if (!rc && f->params.n_list == 0)
		rc = fail(EXIT_USAGE, "--src-list: no address in '%s'", s);
	free(dup);
	return rc;
}

/* ---- safety: only inside a network namespace of a lab ---- */
/* The initial network namespace always has this inode number
 * (PROC_NET_INIT_INO in the kernel's include/linux/proc_ns.h). */
#define NET_INIT_INO 0xEFFFFFF9U

/* 1 when this process is in the initial network namespace, or in the one of
 * pid 1 (where /proc/1 is readable: inside a container that is the
 * container's own, and refusing there too is the safe side), else 0. */
static int netns_is_initial(void)
{
	struct stat self, init;

	if (stat("/proc/self/ns/net", &self))
		return -errno;
	if (self.st_ino == NET_INIT_INO)
		return 1;
	if (stat("/proc/1/ns/net", &init) == 0)
		return self.st_ino == init.st_ino && self.st_dev == init.st_dev;
	return 0;
}

/* ---- the interface and the destination MAC ---- */
static int iface_info(struct flood *f)
{
	struct ifreq ifr = {};
	int fd, err = 0;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", f->ifname);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) {
		err = -errno;
		goto out;
	}
	if (ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER) {
		err = -EPROTONOSUPPORT;
		goto out;
	}
	memcpy(f->src_mac, ifr.ifr_hwaddr.sa_data, ETH_ALEN);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) {
		err = -errno;
		goto out;
	}
	if (!(ifr.ifr_flags & IFF_UP))
		err = -ENETDOWN;
out:
	close(fd);
	return err;
}

struct route_ans {
	int family;
	uint8_t gw[16];
	bool have_gw;
	int oif;
};

static int route_cb(struct nlmsghdr *h, void *arg)
{
	struct route_ans *ra = arg;
	struct rtmsg *rt = NLMSG_DATA(h);
	int len = RTM_PAYLOAD(h);

	if (h->nlmsg_type != RTM_NEWROUTE)
		return 0;
	for (struct rtattr *a = RTM_RTA(rt); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type == RTA_GATEWAY && RTA_PAYLOAD(a) == (ra->family == AF_INET ? 4u : 16u)) {
			memcpy(ra->gw, RTA_DATA(a), RTA_PAYLOAD(a));
			ra->have_gw = true;
		} else if (a->rta_type == RTA_OIF) {
			ra->oif = *(int *)RTA_DATA(a);
		}
	}
	return 1;
}

struct neigh_ans {
	int family;
	int ifindex;
	uint8_t addr[16];
	uint8_t mac[ETH_ALEN];
	bool found;
};

static int neigh_cb(struct nlmsghdr *h, void *arg)
{
	struct neigh_ans *na = arg;
	struct ndmsg *nd = NLMSG_DATA(h);
	int len = h->nlmsg_len - NLMSG_LENGTH(sizeof(*nd));
	size_t alen = na->family == AF_INET ? 4 : 16;
	const uint8_t *dst = NULL, *mac = NULL;

	if (h->nlmsg_type != RTM_NEWNEIGH || nd->ndm_ifindex != na->ifindex ||
	    nd->ndm_family != na->family)
		return 0;
	if (!(nd->ndm_state & (NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE | NUD_PERMANENT)))
		return 0;
	for (struct rtattr *a = (struct rtattr *)((char *)nd + NLMSG_ALIGN(sizeof(*nd)));
	     RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type == NDA_DST && RTA_PAYLOAD(a) == alen)
			dst = RTA_DATA(a);
		else if (a->rta_type == NDA_LLADDR && RTA_PAYLOAD(a) == ETH_ALEN)
			mac = RTA_DATA(a);
	}
	if (dst && mac && !memcmp(dst, na->addr, alen)) {
		memcpy(na->mac, mac, ETH_ALEN);
		na->found = true;
		return 1;
	}
	return 0;
}

/* One empty UDP datagram to dst (the discard port) out of the flood's
 * interface: the kernel resolves the next hop's MAC to send it. */
static void kick_neighbour(const struct flood *f)
{
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6, .sin6_port = htons(9) };
	struct sockaddr_in s4 = { .sin_family = AF_INET, .sin_port = htons(9) };
	int fd = socket(f->v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return;
	setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, f->ifname, strlen(f->ifname));
	if (f->v6) {
		memcpy(&s6.sin6_addr, f->dst.a, 16);
		s6.sin6_scope_id = f->ifindex;
		sendto(fd, "", 0, MSG_DONTWAIT, (struct sockaddr *)&s6, sizeof(s6));
	} else {
		memcpy(&s4.sin_addr, &f->dst.a[12], 4);
		sendto(fd, "", 0, MSG_DONTWAIT, (struct sockaddr *)&s4, sizeof(s4));
	}
	close(fd);
}

/* The next hop for dst (its gateway, or dst itself when on link), then its
 * MAC from the neighbour table of the interface. */
static int resolve_dst_mac(struct flood *f, char *hop_str, size_t hop_len)
{
	int family = f->v6 ? AF_INET6 : AF_INET;
	size_t alen = f->v6 ? 16 : 4;
	const uint8_t *dst = f->v6 ? f->dst.a : &f->dst.a[12];
	struct route_ans ra = { .family = family };
	struct neigh_ans na = { .family = family, .ifindex = f->ifindex };
	struct {
		struct nlmsghdr h;
		struct rtmsg r;
		struct rtattr a;
		uint8_t addr[16];
	} rreq = {
		.h = { .nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg)) + RTA_LENGTH(alen),
		       .nlmsg_type = RTM_GETROUTE, .nlmsg_flags = NLM_F_REQUEST },
		.r = { .rtm_family = family, .rtm_dst_len = alen * 8 },
		.a = { .rta_len = RTA_LENGTH(alen), .rta_type = RTA_DST },
	};
	struct {
		struct nlmsghdr h;
		struct ndmsg n;
	} nreq = {
		.h = { .nlmsg_len = NLMSG_LENGTH(sizeof(struct ndmsg)), .nlmsg_type = RTM_GETNEIGH,
		       .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP },
		.n = { .ndm_family = family },
	};
	int err;

	memcpy(rreq.addr, dst, alen);
	memcpy(na.addr, dst, alen);
	/* no route is not fatal: the neighbour table may still know dst */
	if (nl_request(NETLINK_ROUTE, &rreq.h, route_cb, &ra) == 0 && ra.have_gw)
		memcpy(na.addr, ra.gw, alen);
	inet_ntop(family, na.addr, hop_str, hop_len);
	err = nl_request(NETLINK_ROUTE, &nreq.h, neigh_cb, &na);
	/* not known yet: make the kernel resolve it (ARP / neighbour
	 * discovery) and wait up to a second for the entry */
	for (int i = 0; !err && !na.found && i < 20; i++) {
		if (i == 0)
			kick_neighbour(f);
		usleep(50000);
		err = nl_request(NETLINK_ROUTE, &nreq.h, neigh_cb, &na);
	}
	if (err)
		return err;
	if (!na.found)
		return -ENOENT;
	memcpy(f->dst_mac, na.mac, ETH_ALEN);
	return 0;
}

/* ---- the template frame ---- */
static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons(~sum & 0xffff);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v);
}

/* The first frame: the program rewrites source, ports, seq, ts per frame. */
static void build_template(struct flood *f)
{
	uint8_t *eth = f->frame, *ip = eth + SF_ETH_LEN, *tcp, *o;
	uint8_t src[16], pseudo[40];
	uint32_t sum;
	size_t plen;

	memset(f->frame, 0, sizeof(f->frame));
	memcpy(src, f->params.n_list ? (uint8_t *)f->list : (uint8_t *)f->params.base, 16);
	memcpy(eth, f->dst_mac, ETH_ALEN);
	memcpy(eth + 6, f->src_mac, ETH_ALEN);
	put16(eth + 12, f->v6 ? ETH_P_IPV6 : ETH_P_IP);

	if (f->v6) {
		put32(ip, 6u << 28);
		put16(ip + 4, SF_TCP_LEN);
		ip[6] = IPPROTO_TCP;
		ip[7] = 64;
		memcpy(ip + 8, src, 16);
		memcpy(ip + 24, f->dst.a, 16);
		tcp = ip + SF_IP6_LEN;
		memcpy(pseudo, ip + 8, 32);
		put32(pseudo + 32, SF_TCP_LEN);
		memset(pseudo + 36, 0, 3);
		pseudo[39] = IPPROTO_TCP;
		plen = 40;
	} else {
		ip[0] = 0x45;
		put16(ip + 2, SF_IP4_LEN + SF_TCP_LEN);
		put16(ip + 6, 0x4000); /* DF, as Linux sends SYNs */
		ip[8] = 64;
		ip[9] = IPPROTO_TCP;
		memcpy(ip + 12, src + 12, 4);
		memcpy(ip + 16, &f->dst.a[12], 4);
		memcpy(ip + 10, (uint16_t[]){ csum_fold(csum_add(0, ip, SF_IP4_LEN)) }, 2);
		tcp = ip + SF_IP4_LEN;
		memcpy(pseudo, ip + 12, 8);
		pseudo[8] = 0;
		pseudo[9] = IPPROTO_TCP;
		put16(pseudo + 10, SF_TCP_LEN);
		plen = 12;
	}
	put16(tcp, 40000);
	put16(tcp + 2, f->dport);
	put32(tcp + 4, 1);
	tcp[12] = (SF_TCP_LEN / 4) << 4;
	tcp[13] = 0x02; /* SYN */
	put16(tcp + 14, 64240);
	o = tcp + 20;
	o[0] = 2, o[1] = 4, put16(o + 2, f->v6 ? 1440 : 1460); /* MSS */
	o[4] = 4, o[5] = 2;                                    /* SACK permitted */
	o[6] = 8, o[7] = 10, put32(o + 8, 1), put32(o + 12, 0); /* timestamps */
	o[16] = 1;                                             /* NOP */
	o[17] = 3, o[18] = 3, o[19] = 7;                       /* window scale 7 */
	sum = csum_add(csum_add(0, pseudo, plen), tcp, SF_TCP_LEN);
	memcpy(tcp + 16, (uint16_t[]){ csum_fold(sum) }, 2);
	f->frame_len = f->v6 ? SF_FRAME6_LEN : SF_FRAME4_LEN;
}

/* ---- sending ---- */
static int live_send(struct flood *f, uint32_t n)
{
	struct xdp_md ctx = { .data_end = f->frame_len, .ingress_ifindex = f->ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, o,
		    .data_in = f->frame, .data_size_in = f->frame_len,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx),
		    .repeat = n, .flags = BPF_F_TEST_XDP_LIVE_FRAMES, .batch_size = f->batch);

	return bpf_prog_test_run_opts(bpf_program__fd(f->skel->progs.sf_gen), &o) ? -errno : 0;
}

/* Live frames work here: run the probe program once (it drops). */
static int live_probe(struct flood *f)
{
	struct xdp_md ctx = { .data_end = f->frame_len, .ingress_ifindex = f->ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, o,
		    .data_in = f->frame, .data_size_in = f->frame_len,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx),
		    .repeat = 1, .flags = BPF_F_TEST_XDP_LIVE_FRAMES);

	return bpf_prog_test_run_opts(bpf_program__fd(f->skel->progs.sf_probe), &o) ? -errno : 0;
}

static int live_setup(struct flood *f)
{
	struct synflood_bpf *skel = synflood_bpf__open();
	int err;

	if (!skel)
		return -errno;
	memcpy((void *)&skel->rodata->sf, &f->params, sizeof(f->params));
	memcpy((void *)skel->rodata->sf_list, f->list, sizeof(f->list));
	err = synflood_bpf__load(skel);
	if (err) {
		synflood_bpf__destroy(skel);
		return err;
	}
	f->skel = skel;
	err = live_probe(f);
	if (err) {
		synflood_bpf__destroy(skel);
		f->skel = NULL;
	}
	return err;
}

/* frames the program generated, all CPUs together */
static int live_counted(struct flood *f, uint64_t *frames, uint64_t *short_frames)
{
	int ncpu = libbpf_num_possible_cpus();
	struct sf_stats *st;
	uint32_t zero = 0;

	if (ncpu <= 0)
		return -EINVAL;
	st = calloc(ncpu, sizeof(*st));
	if (!st)
		return -ENOMEM;
	if (bpf_map_lookup_elem(bpf_map__fd(f->skel->maps.sf_stats), &zero, st)) {
		free(st);
		return -errno;
	}
	*frames = *short_frames = 0;
	for (int c = 0; c < ncpu; c++) {
		*frames += st[c].frames;
		*short_frames += st[c].short_frames;
	}
	free(st);
	return 0;
}

struct packet_tx {
	int fd;
	uint8_t buf[PACKET_BATCH][SF_FRAME6_LEN];
	struct iovec iov[PACKET_BATCH];
	struct mmsghdr msg[PACKET_BATCH];
};

static int packet_open(struct flood *f, struct packet_tx *tx)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_ifindex = f->ifindex };
	int one = 1;

	/* protocol 0: this socket sends and never receives */
	tx->fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (tx->fd < 0)
		return -errno;
	if (bind(tx->fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		int err = -errno;

		close(tx->fd);
		return err;
	}
	/* best effort: straight to the driver, no qdisc */
	setsockopt(tx->fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one));
	for (int i = 0; i < PACKET_BATCH; i++) {
		memcpy(tx->buf[i], f->frame, f->frame_len);
		tx->iov[i] = (struct iovec){ .iov_base = tx->buf[i], .iov_len = f->frame_len };
		tx->msg[i].msg_hdr = (struct msghdr){ .msg_iov = &tx->iov[i], .msg_iovlen = 1 };
	}
	return 0;
}

/* Send exactly n frames (unless stopped); *sent counts what the kernel took. */
static int packet_send(struct flood *f, struct packet_tx *tx, uint64_t n, uint64_t *sent)
{
	while (n && !stop) {
		int b = n < PACKET_BATCH ? (int)n : PACKET_BATCH, r;

		for (int i = 0; i < b; i++)
			sf_rewrite(tx->buf[i], &f->params, f->list);
		r = sendmmsg(tx->fd, tx->msg, b, 0);
		if (r < 0) {
			if (errno == EINTR || errno == EAGAIN || errno == ENOBUFS) {
				sched_yield();
				continue;
			}
			return -errno;
		}
		n -= r;
		*sent += r;
	}
	return 0;
}

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	struct flood *f = w->f;
	struct packet_tx *tx = NULL;
	uint64_t chunk = f->method == METHOD_LIVE ? LIVE_CHUNK : PACKET_CHUNK, t0, t;
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(w->cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	rng_state = 0;
	while (!rng_state && getrandom(&rng_state, sizeof(rng_state), 0) != sizeof(rng_state))
		;
	if (f->method == METHOD_PACKET) {
		tx = calloc(1, sizeof(*tx));
		w->err = tx ? packet_open(f, tx) : -ENOMEM;
		if (w->err) {
			free(tx);
			return NULL;
		}
	}
	/* Paced: steps of about 50 us (sendmmsg) or 1 ms (live frames, whose
	 * kernel runs cost too much setup to be shorter: such a flood comes as
	 * a train of bursts, which a token bucket on the far side, e.g.
	 * mailgate's flood budget, hands out to whoever comes between them). */
	if (w->rate > 0) {
		uint64_t c = (uint64_t)(w->rate / (f->method == METHOD_LIVE ? 1000 : 20000));

		chunk = c < 1 ? 1 : c < chunk ? c : chunk;
	}
	t0 = mono_ns();
	while (!stop) {
		uint64_t n = chunk;

		if (w->quota) {
			if (w->sent >= w->quota)
				break;
			if (n > w->quota - w->sent)
				n = w->quota - w->sent;
		}
		t = mono_ns();
		if (w->rate > 0) {
			uint64_t due = t0 + (uint64_t)((double)w->sent * 1e9 / w->rate);

			if (f->duration_ns && due > f->start_ns + f->duration_ns)
				due = f->start_ns + f->duration_ns;
			if (due > t)
				sleep_until(due);
			t = mono_ns();
		}
		if (f->duration_ns && t - f->start_ns >= f->duration_ns)
			break;
		if (f->method == METHOD_LIVE) {
			w->err = live_send(f, n);
			if (w->err)
				break;
			w->sent += n;
		} else {
			w->err = packet_send(f, tx, n, &w->sent);
			if (w->err)
				break;
		}
	}
	w->elapsed_ns = mono_ns() - t0;
	if (tx) {
		close(tx->fd);
		free(tx);
	}
	return NULL;
}

/* The CPUs this process may run on, one per thread, round robin. */
static int pick_cpu(int i)
{
	cpu_set_t set;
	int n = 0;

	if (sched_getaffinity(0, sizeof(set), &set))
		return i;
	int total = CPU_COUNT(&set);

	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &set) && n++ == i % total)
			return c;
	return 0;
}

/* what the flood did */
struct flood_result {
	struct worker *ws;   /* f->threads of them */
	uint64_t total;      /* frames sent */
	uint64_t elapsed_ns;
};

static void report_json(const struct flood *f, const struct flood_result *r)
{
	double secs = r->elapsed_ns / 1e9, rate = secs > 0 ? r->total / secs : 0;
	struct json_object *o = json_object_new_object(), *arr = json_object_new_array();
	char dst[MG_ADDRSTRLEN], mac[32];

	format_addr(&f->dst, dst, sizeof(dst));
	format_mac(f->dst_mac, mac, sizeof(mac));
	json_object_object_add(o, "method", json_object_new_string(method_names[f->method]));
	json_object_object_add(o, "interface", json_object_new_string(f->ifname));
	json_object_object_add(o, "dst", json_object_new_string(dst));
	json_object_object_add(o, "dport", json_object_new_int(f->dport));
	json_object_object_add(o, "dst_mac", json_object_new_string(mac));
	json_object_object_add(o, "threads", json_object_new_int(f->threads));
	json_object_object_add(o, "frames_sent", json_object_new_uint64(r->total));
	json_object_object_add(o, "elapsed_s", json_object_new_double(secs));
	json_object_object_add(o, "rate_pps", json_object_new_double(rate));
	json_object_object_add(o, "rate_pps_per_thread", json_object_new_double(rate / f->threads));
	json_object_object_add(o, "interrupted", json_object_new_boolean(stop));
	for (int i = 0; i < f->threads; i++) {
		struct json_object *t = json_object_new_object();
		double s = r->ws[i].elapsed_ns / 1e9;

		json_object_object_add(t, "cpu", json_object_new_int(r->ws[i].cpu));
		json_object_object_add(t, "frames", json_object_new_uint64(r->ws[i].sent));
		json_object_object_add(t, "elapsed_s", json_object_new_double(s));
		json_object_object_add(t, "rate_pps", json_object_new_double(s > 0 ? r->ws[i].sent / s : 0));
		json_object_array_add(arr, t);
	}
	json_object_object_add(o, "per_thread", arr);
	json_out(o);
}

static void report_text(const struct flood *f, const struct flood_result *r)
{
	double secs = r->elapsed_ns / 1e9, rate = secs > 0 ? r->total / secs : 0;
	char dst[MG_ADDRSTRLEN], mac[32], buf[32];

	format_addr(&f->dst, dst, sizeof(dst));
	format_mac(f->dst_mac, mac, sizeof(mac));
	printf("method: %s\n", method_names[f->method]);
	printf("interface: %s -> %s port %u (dst mac %s), %d thread%s\n", f->ifname, dst, f->dport,
	       mac, f->threads, f->threads > 1 ? "s" : "");
	printf("frames sent: %llu%s\n", (unsigned long long)r->total, stop ? " (interrupted)" : "");
	printf("elapsed: %.3f s\n", secs);
	printf("rate: %s pps", format_count(rate, buf, sizeof(buf)));
	printf(" (%s pps per thread)\n", format_count(rate / f->threads, buf, sizeof(buf)));
}

/* the command line: the flood's settings and what is checked after them */
struct synflood_opts {
	struct flood f;
	const char *dst, *src, *src_list;
	uint32_t dport, threads;
	bool own;
};

static int pps_opt(const char *s, void *rate)
{
	return parse_pps(s, rate);
}

static int count_opt(const char *s, void *n)
{
	return parse_count(s, n);
}

static int mac_opt(const char *s, void *opts)
{
	struct flood *f = &((struct synflood_opts *)opts)->f;

	if (parse_mac(s, f->dst_mac))
		return -EINVAL;
	f->have_dst_mac = true;
	return 0;
}

#define SO struct synflood_opts
static const struct cli_opt synflood_table[] = {
	CLI_STRING("interface", 'i', "IFACE", SO, f.ifname, "send out of IFACE (in a lab namespace)",
		   .flags = CLI_REQUIRED),
	CLI_STRING("dst", 0, "ADDR", SO, dst, "the destination address (IPv4 or IPv6)", .flags = CLI_REQUIRED),
	CLI_U32("dport", 0, "PORT", SO, dport, 1, 65535, "the destination port (default 25)",
		"--dport: '%s' is not a port (1..65535)"),
	CLI_STRING("src", 0, "CIDR", SO, src, "random sources from CIDR (default: all of the family)"),
	CLI_STRING("src-list", 0, "A,B,...", SO, src_list, "sources from this list, in turn (not with --src)"),
	CLI_FUNC_AT("rate", 0, "PPS", SO, f.rate, pps_opt, "frames per second, all threads (default: as fast as it goes)",
		    "--rate: '%s' is not a rate in packets per second (e.g. 50000, 2.5M, 100k/s)"),
	CLI_FUNC_AT("count", 0, "N", SO, f.count, count_opt, "stop after N frames",
		    "--count: '%s' is not a positive count (e.g. 1000, 10k, 2M)"),
	CLI_DURATION("duration", 0, "DUR", SO, f.duration_ns, 1, 0, "stop after DUR (--count and/or --duration is required)",
		     "--duration: '%s' is not a duration (e.g. 500ms, 10s, 1m)"),
	CLI_U32("threads", 0, "N", SO, threads, 1, 256, "sending threads (default 1)",
		"--threads: '%s' is not a thread count (1..256)"),
	CLI_FUNC("dst-mac", 0, "MAC", mac_opt, "the next hop's MAC (default: asked by ARP / neighbour discovery)",
		 "--dst-mac: '%s' is not a MAC address (aa:bb:cc:dd:ee:ff)"),
	CLI_ENUM("method", 0, SO, f.method, method_names, "how to send (default auto)",
		 "--method: '%s' is not auto, live-frames or af_packet"),
	CLI_U32("batch", 0, "N", SO, f.batch, 1, 256, "frames per send call (default 64)",
		"--batch: '%s' is not a batch size (1..256)"),
	CLI_FLAG("i-own-this-network", 0, SO, own, "flood out of the initial network namespace too"),
	CLI_END
};
#undef SO
const struct cli_cmd cli_synflood = {
	"synflood", NULL,
	"send TCP SYNs with random sources until --count or --duration (one is required);\n"
	"refuses an interface of the initial network namespace unless --i-own-this-network",
	synflood_table
};

/* the options, checked: CLI_GO, or the exit code after a message */
static int synflood_parse(int argc, char **argv, struct synflood_opts *o)
{
	struct flood *f = &o->f;
	int rc, npos;

	o->dport = 25;
	o->threads = 1;
	f->batch = 64;
	rc = cli_parse(&cli_synflood, argc, argv, o, &npos);
	if (rc != CLI_GO)
		return rc;
	f->dport = o->dport;
	f->threads = o->threads;
	if (!f->ifname)
		return fail(EXIT_USAGE, "synflood needs -i IFACE");
	if (!o->dst)
		return fail(EXIT_USAGE, "synflood needs --dst ADDR");
	if (parse_addr(o->dst, &f->dst))
		return fail(EXIT_USAGE, "--dst: '%s' is not an IPv4 or IPv6 address", o->dst);
	f->v6 = !addr_is_v4(&f->dst);
	f->params.v6 = f->v6;
	if (o->src && o->src_list)
		return fail(EXIT_USAGE, "--src and --src-list exclude each other");
	if (o->src_list)
		rc = set_src_list(f, o->src_list);
	else
		rc = set_src_cidr(f, o->src ? o->src : f->v6 ? "::/0" : "0.0.0.0/0");
	if (rc)
		return rc;
	if (!f->count && !f->duration_ns)
		return fail(EXIT_USAGE, "synflood needs a bound: --count N and/or --duration DUR");
	return CLI_GO;
}

/* the interface, the next hop, the frame, the method: 0 or the exit code
 * after a message */
static int synflood_prepare(struct flood *f, bool own)
{
	int err;

	f->ifindex = if_nametoindex(f->ifname);
	if (!f->ifindex)
		return fail(EXIT_USAGE, "-i: no interface '%s' in this network namespace", f->ifname);
	err = netns_is_initial();
	if (err < 0)
		return fail(EXIT_FAIL, "cannot read /proc/self/ns/net: %s", strerror(-err));
	if (err && !own)
		return fail(EXIT_USAGE, "refusing to flood out of '%s': it is in the initial network namespace; "
			    "run inside a lab namespace (nsenter --net=/run/netns/NAME ...) or pass --i-own-this-network",
			    f->ifname);
	err = iface_info(f);
	if (err == -ENETDOWN)
		return fail(EXIT_FAIL, "interface '%s' is down", f->ifname);
	if (err == -EPROTONOSUPPORT)
		return fail(EXIT_USAGE, "-i: '%s' is not an Ethernet interface", f->ifname);
	if (err)
		return fail(EXIT_FAIL, "interface '%s': %s", f->ifname, strerror(-err));
	if (!f->have_dst_mac) {
		char hop[INET6_ADDRSTRLEN];

		err = resolve_dst_mac(f, hop, sizeof(hop));
		if (err == -ENOENT)
			return fail(EXIT_FAIL, "no neighbour entry for %s on %s: it did not answer ARP / neighbour discovery within 1 s; give --dst-mac",
				    hop, f->ifname);
		if (err)
			return fail(EXIT_FAIL, "neighbour lookup of %s on %s: %s", hop, f->ifname, strerror(-err));
	}
	build_template(f);

	/* Each live-frames run costs the kernel about half a millisecond of
	 * setup (its page pool), so a paced flood from it would come in bursts
	 * with idle gaps; up to PACKET_PACED_MAX per thread, sendmmsg paces
	 * evenly and keeps up. */
	if (f->method == METHOD_AUTO && f->rate > 0 && f->rate / f->threads <= PACKET_PACED_MAX)
		f->method = METHOD_PACKET;
	if (f->method != METHOD_PACKET) {
		err = live_setup(f);
		if (err && f->method == METHOD_LIVE)
			return fail(EXIT_FAIL, "live frames (BPF_PROG_RUN with BPF_F_TEST_XDP_LIVE_FRAMES) on %s: %s",
				    f->ifname, strerror(-err));
		if (err)
			pr_info("msg=\"live frames not available, using af_packet\" err=\"%s\"", strerror(-err));
		f->method = err ? METHOD_PACKET : METHOD_LIVE;
	}
	return 0;
}

/* start the workers (signals blocked in them), wait for all; the number started */
static int synflood_threads(struct flood *f, struct worker *ws)
{
	sigset_t block, old;

	/* workers never see our signals: the kernel's test run would stop
	 * half way on one, with no way to know how far it got */
	sigfillset(&block);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	f->start_ns = mono_ns();
	for (int i = 0; i < f->threads; i++) {
		ws[i].f = f;
		ws[i].cpu = pick_cpu(i);
		ws[i].quota = f->count ? f->count / f->threads + ((uint64_t)i < f->count % f->threads) : 0;
		ws[i].rate = f->rate / f->threads;
		if (f->count && !ws[i].quota) { /* more threads than frames */
			f->threads = i;
			break;
		}
		if (pthread_create(&ws[i].tid, NULL, worker_run, &ws[i])) {
			stop = 1;
			f->threads = i;
			break;
		}
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	for (int i = 0; i < f->threads; i++)
		pthread_join(ws[i].tid, NULL);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	return f->threads;
}

/* the work: send, then check every frame went out; 0 or the exit code
 * after a message */
static int synflood_send(struct flood *f, struct flood_result *r)
{
	uint64_t counted = 0, shorts = 0;
	int rc = EXIT_OK, err;

	r->ws = calloc(f->threads, sizeof(*r->ws));
	if (!r->ws)
		return fail(EXIT_FAIL, "out of memory");
	if (!synflood_threads(f, r->ws))
		return fail(EXIT_FAIL, "cannot start a sending thread");
	r->elapsed_ns = mono_ns() - f->start_ns;
	for (int i = 0; i < f->threads; i++) {
		r->total += r->ws[i].sent;
		if (r->ws[i].err && rc == EXIT_OK)
			rc = fail(EXIT_FAIL, "sending on %s (%s, thread %d): %s", f->ifname,
				  method_names[f->method], i, strerror(-r->ws[i].err));
	}
	if (f->method == METHOD_LIVE) {
		/* every frame the kernel ran the program on, counted by the program */
		err = live_counted(f, &counted, &shorts);
		if (!err && (counted != r->total || shorts) && rc == EXIT_OK)
			rc = fail(EXIT_FAIL, "the generator counted %llu frames (%llu too short), expected %llu",
				  (unsigned long long)counted, (unsigned long long)shorts,
				  (unsigned long long)r->total);
	}
	return rc;
}

int do_synflood(int argc, char **argv)
{
	static struct synflood_opts o;
	struct flood *f = &o.f;
	struct flood_result r = { 0 };
	int rc;

	memset(&o, 0, sizeof(o));
	rc = synflood_parse(argc, argv, &o);
	if (rc != CLI_GO)
		return rc;
	rc = synflood_prepare(f, o.own);
	if (!rc)
		rc = synflood_send(f, &r);
	if (!rc && opts.json)
		report_json(f, &r);
	else if (!rc)
		report_text(f, &r);
	free(r.ws);
	synflood_bpf__destroy(f->skel);
	f->skel = NULL;
	return rc;
}
