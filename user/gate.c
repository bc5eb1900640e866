// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Load the data path, pin its maps by name, open pinned maps. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <linux/ethtool.h>
#include <linux/genetlink.h>
#include <linux/membarrier.h>
#include <linux/netlink.h>
#include <linux/sockios.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "mailgate.h"
#include "cookie.h"
#include "gate.skel.h"
#include "gate_dev.skel.h"
#include "crowdsec.h"
#include "lists.h"

const char *const gate_map_names[GM_MAX] = {
#define MG_X(id, name) [GM_##id] = #name,
	MG_MAPS(MG_X)
#undef MG_X
};

const char *const mg_reason_names[MG_REASON_MAX] = {
#define MG_X(n, s) [MG_REASON_##n] = s,
	MG_REASONS(MG_X)
#undef MG_X
};

const char *const mg_class_names[MG_CLASS_MAX] = {
#define MG_X(n, s) [MG_CLASS_##n] = s,
	MG_CLASSES(MG_X)
#undef MG_X
};

/* Pins mailgate makes besides the BPF object's maps (those pinned by name,
 * found in the object itself): every module that pins something under the
 * pin dir names it here, so that `detach` removes it and nothing else.
 * A name ending in '*' is a prefix. */
static const char *const gate_user_pins[] = {
	MG_PIN_LINK_XDP "*", MG_PIN_LINK_SOCK_STATE, MG_PIN_LINK_SOCK_STATE2, MG_MAP_DNSBL_CACHE, MG_MAP_DNSBL_ZONES,
	MG_PIN_RUN_CONFIG, MG_MAP_CROWDSEC, MG_PIN_LINK_TC "*",
	MG_LIST_SET_NAME_ALLOW "_*", MG_LIST_SET_NAME_DENY "_*", /* the lists' sets, by slot (user/listset.c) */
};

static bool name_matches(const char *pattern, const char *name)
{
	size_t n = strlen(pattern);

	if (n && pattern[n - 1] == '*')
		return !strncmp(pattern, name, n - 1) && name[n - 1];
	return !strcmp(pattern, name);
}

bool gate_pin_is_ours(const char *name)
{
	static struct gate_bpf *obj; /* opened, never loaded: just the map names */
	struct bpf_map *m;

	for (size_t i = 0; i < sizeof(gate_user_pins) / sizeof(gate_user_pins[0]); i++)
		if (name_matches(gate_user_pins[i], name))
			return true;
	if (!obj)
		obj = gate_bpf__open();
	if (!obj)
		return false;
	bpf_object__for_each_map(m, obj->obj)
		if (bpf_map__pin_path(m) && !strcmp(bpf_map__name(m), name))
			return true;
	return false;
}

const char *flood_why_name(uint32_t why)
{
	return why == MG_FLOOD_WHY_THRESHOLD ? "threshold" : why == MG_FLOOD_WHY_HANDSHAKES ? "handshakes" :
	       why == MG_FLOOD_WHY_KERNEL ? "kernel" : "";
}

const char *flood_why_text(uint32_t why)
{
	switch (why) {
	case MG_FLOOD_WHY_THRESHOLD:
		return "threshold (gated SYNs above flood_threshold)";
	case MG_FLOOD_WHY_HANDSHAKES:
		return "handshakes (gated SYNs stopped completing handshakes)";
	case MG_FLOOD_WHY_KERNEL:
		return "kernel (the kernel reported SYN trouble and gated SYNs stopped completing handshakes)";
	}
	return "";
}

static int mkdir_p(const char *path)
{
	char tmp[PATH_MAX];

	if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(tmp, 0700) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

static void fds_reset(struct gate *g)
{
	for (int i = 0; i < GM_MAX; i++)
		g->fd[i] = -1;
}

int gate_load(struct gate *g, const char *pin_dir, const struct gate_sizes *sizes)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = pin_dir);
	uint32_t n = sizes && sizes->max_sources ? sizes->max_sources : MG_DEFAULT_MAX_SOURCES;
	uint32_t quarter = n / 4 ? n / 4 : 1;
	struct gate_bpf *skel;
	int err;

	memset(g, 0, sizeof(*g));
	fds_reset(g);
	snprintf(g->pin_dir, sizeof(g->pin_dir), "%s", pin_dir);
	err = mkdir_p(pin_dir);
	if (err) {
		pr_err("msg=\"cannot create pin dir\" dir=%s err=\"%s\"", pin_dir, strerror(-err));
		return err;
	}
	skel = gate_bpf__open_opts(&opts);
	if (!skel) {
		err = -errno;
		pr_err("msg=\"cannot open BPF object\" err=\"%s\"", strerror(-err));
		return err;
	}
	bpf_map__set_max_entries(skel->maps.mg_src, n);
	bpf_map__set_max_entries(skel->maps.mg_verdict, n);
	bpf_map__set_max_entries(skel->maps.mg_pending, n);
	bpf_map__set_max_entries(skel->maps.mg_ban_quota, quarter);
	bpf_map__set_max_entries(skel->maps.mg_prefix, quarter);
	bpf_map__set_max_entries(skel->maps.mg_verified, quarter);
	if (sizes && sizes->xdp_per_iface)
		bpf_program__set_autoload(skel->progs.mg_xdp, false);

	err = gate_bpf__load(skel);
	if (err) {
		pr_err("msg=\"cannot load the data path (pinned maps of another size or version under %s?)\" err=\"%s\"",
		       pin_dir, strerror(-err));
		gate_bpf__destroy(skel);
		return err;
	}
	g->skel = skel;
#define MG_X(id, name) g->fd[GM_##id] = bpf_map__fd(skel->maps.name);
	MG_MAPS(MG_X)
#undef MG_X
	return 0;
}

#ifndef BPF_F_XDP_DEV_BOUND_ONLY
#define BPF_F_XDP_DEV_BOUND_ONLY (1U << 6)
#endif

/* mg_xdp of obj loaded on g's maps (by fd: nothing created, nothing
 * pinned), alone; bound to ifindex when > 0. Its fd or -errno. */
static int xdp_load_on(struct gate *g, struct bpf_object *obj, struct bpf_program *xdp, int ifindex)
{
	struct bpf_program *p;
	struct bpf_map *m;
	int err, fd;

	bpf_object__for_each_program(p, obj)
		bpf_program__set_autoload(p, p == xdp);
	bpf_object__for_each_map(m, obj) {
		struct bpf_map *own = bpf_object__find_map_by_name(g->skel->obj, bpf_map__name(m));

		err = !own ? -ENOENT : bpf_map__set_pin_path(m, NULL) ?: bpf_map__reuse_fd(m, bpf_map__fd(own));
		if (err)
			return err;
	}
	if (ifindex > 0) {
		bpf_program__set_ifindex(xdp, ifindex);
		bpf_program__set_flags(xdp, bpf_program__flags(xdp) | BPF_F_XDP_DEV_BOUND_ONLY);
	}
	err = bpf_object__load(obj);
	if (err)
		return err;
	fd = fcntl(bpf_program__fd(xdp), F_DUPFD_CLOEXEC, 0);
	return fd < 0 ? -errno : fd;
}

int gate_xdp_load(struct gate *g, int ifindex)
{
	int fd;

	if (!g->skel || ifindex < 0)
		return -EINVAL;
	if (ifindex > 0) {
		struct gate_dev_bpf *skel = gate_dev_bpf__open();

		if (!skel)
			return -errno;
		fd = xdp_load_on(g, skel->obj, skel->progs.mg_xdp, ifindex);
		gate_dev_bpf__destroy(skel);
	} else {
		struct gate_bpf *skel = gate_bpf__open();

		if (!skel)
			return -errno;
		fd = xdp_load_on(g, skel->obj, skel->progs.mg_xdp, 0);
		gate_bpf__destroy(skel);
	}
	return fd;
}

/* rx VLAN offload (802.1Q) of the interface: 1 on, 0 off, -errno */
static int rx_vlan_offload(int ifindex)
{
	struct ethtool_value v = { .cmd = ETHTOOL_GFLAGS };
	struct ifreq ifr = { .ifr_data = (void *)&v };
	int s, err = 0;

	if (!if_indextoname(ifindex, ifr.ifr_name))
		return -errno;
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	if (ioctl(s, SIOCETHTOOL, &ifr))
		err = -errno;
	close(s);
	return err ? err : !!(v.data & ETH_FLAG_RXVLAN);
}

/* the netdev generic netlink family (include/uapi/linux/netdev.h, Linux
 * 6.3+; the VLAN tag bit 6.8+), which Debian's headers may not have */
#define MG_NETDEV_CMD_DEV_GET 1
#define MG_NETDEV_A_DEV_IFINDEX 1
#define MG_NETDEV_A_DEV_XDP_RX_METADATA_FEATURES 5
#define MG_NETDEV_XDP_RX_METADATA_VLAN_TAG 4

struct nlreq {
	struct nlmsghdr n;
	struct genlmsghdr g;
	char buf[64];
};

static void nl_put(struct nlreq *r, uint16_t type, const void *data, uint16_t len)
{
	struct nlattr *a = (void *)((char *)r + NLMSG_ALIGN(r->n.nlmsg_len));

	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + len;
	memcpy((char *)a + NLA_HDRLEN, data, len);
	r->n.nlmsg_len = NLMSG_ALIGN(r->n.nlmsg_len) + NLA_ALIGN(a->nla_len);
}

/* the payload of attribute type of a generic netlink answer (at most len
 * bytes) into out; got: its length, -ENOENT while not found */
struct nl_attr_want {
	uint16_t type;
	void *out;
	size_t len;
	int got;
};

static int attr_cb(struct nlmsghdr *n, void *arg)
{
	struct nl_attr_want *w = arg;

	for (struct nlattr *a = (void *)((char *)NLMSG_DATA(n) + GENL_HDRLEN);
	     (char *)a + NLA_HDRLEN <= (char *)n + n->nlmsg_len && a->nla_len >= NLA_HDRLEN;
	     a = (void *)((char *)a + NLA_ALIGN(a->nla_len)))
		if ((a->nla_type & NLA_TYPE_MASK) == w->type) {
			size_t l = a->nla_len - NLA_HDRLEN;

			memcpy(w->out, (char *)a + NLA_HDRLEN, l < w->len ? l : w->len);
			w->got = (int)l;
			return 1;
		}
	return 0;
}

/* one request, one answer: the payload of attribute want (at most len
 * bytes) into out; its length, or -errno */
static int nl_ask(struct nlreq *r, uint16_t want, void *out, size_t len)
{
	struct nl_attr_want w = { .type = want, .out = out, .len = len, .got = -ENOENT };
	int err = nl_request(NETLINK_GENERIC, &r->n, attr_cb, &w);

	return err ? err : w.got;
}

/* Does the driver give XDP the stripped VLAN tag (its xdp-rx-metadata
 * features)? 1 yes, 0 no, -errno when this kernel cannot say. */
static int driver_vlan_hint(int ifindex)
{
	struct nlreq r = { .n = { .nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN), .nlmsg_type = GENL_ID_CTRL,
				  .nlmsg_flags = NLM_F_REQUEST }, .g = { .cmd = CTRL_CMD_GETFAMILY, .version = 1 } };
	uint64_t feat = 0;
	uint16_t family = 0;
	uint32_t idx = (uint32_t)ifindex;
	int err;

	nl_put(&r, CTRL_ATTR_FAMILY_NAME, "netdev", sizeof("netdev"));
	err = nl_ask(&r, CTRL_ATTR_FAMILY_ID, &family, sizeof(family));
	if (err >= 0) {
		memset(&r, 0, sizeof(r));
		r.n.nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN);
		r.n.nlmsg_type = family;
		r.n.nlmsg_flags = NLM_F_REQUEST;
		r.g.cmd = MG_NETDEV_CMD_DEV_GET;
		r.g.version = 1;
		nl_put(&r, MG_NETDEV_A_DEV_IFINDEX, &idx, sizeof(idx));
		err = nl_ask(&r, MG_NETDEV_A_DEV_XDP_RX_METADATA_FEATURES, &feat, sizeof(feat));
	}
	if (err == -ENOENT && family)
		return 0; /* a kernel without the attribute: no hints */
	return err < 0 ? err : !!(feat & MG_NETDEV_XDP_RX_METADATA_VLAN_TAG);
}

/* The kernel says of a device-bound program only what it says of any
 * (bpf_prog_info has no ifindex for it): the program's BTF names the
 * metadata kfunc it calls, which only the device-bound build does. */
bool gate_prog_dev_bound(int prog_fd)
{
	struct bpf_prog_info info = {};
	uint32_t len = sizeof(info);
	struct btf *btf;
	bool r;

	if (bpf_obj_get_info_by_fd(prog_fd, &info, &len) || !info.btf_id)
		return false;
	btf = btf__load_from_kernel_by_id(info.btf_id);
	if (!btf)
		return false;
	r = btf__find_by_name_kind(btf, "bpf_xdp_metadata_rx_vlan_tag", BTF_KIND_FUNC) > 0;
	btf__free(btf);
	return r;
}

bool gate_prog_id_dev_bound(uint32_t prog_id)
{
	int fd = bpf_prog_get_fd_by_id(prog_id);
	bool r = fd >= 0 && gate_prog_dev_bound(fd);

	if (fd >= 0)
		close(fd);
	return r;
}

const char *gate_vlan_note(int ifindex, bool dev_bound, char *buf, size_t len)
{
	char name[IF_NAMESIZE] = "DEV";
	int rx = rx_vlan_offload(ifindex), hint;

	if (rx <= 0) /* off, or no ethtool (then no offload to speak of) */
		return NULL;
	hint = driver_vlan_hint(ifindex);
	if (dev_bound && hint > 0)
		return NULL;
	if_indextoname(ifindex, name);
	snprintf(buf, len, "rx VLAN offload is on and the XDP program %s: in flood mode a client on a VLAN gets its SYN cookie SYN-ACK without its tag and cannot connect (ethtool -K %s rxvlan off; on a veth, txvlan off on its peer; or flood_action = drop)",
		 !dev_bound ? "is not device-bound (native mode, Linux 6.8+), so it cannot read the tag the NIC strips" :
		 "cannot read the tag the NIC strips (the driver gives XDP no VLAN tag hint)", name);
	return buf;
}

int gate_open_pinned(struct gate *g, const char *pin_dir)
{
	char path[PATH_MAX];
	int err;

	memset(g, 0, sizeof(*g));
	fds_reset(g);
	snprintf(g->pin_dir, sizeof(g->pin_dir), "%s", pin_dir);
	for (int i = 0; i < GM_MAX; i++) {
		snprintf(path, sizeof(path), "%s/%s", pin_dir, gate_map_names[i]);
		g->fd[i] = bpf_obj_get(path);
		if (g->fd[i] < 0) {
			err = -errno;
			gate_close(g);
			return err;
		}
	}
	return 0;
}

void gate_close(struct gate *g)
{
	if (g->ctl) {
		munmap(g->ctl, (size_t)sysconf(_SC_PAGESIZE));
		g->ctl = NULL;
	}
	if (g->skel) {
		gate_bpf__destroy(g->skel); /* closes the map fds it owns */
		g->skel = NULL;
	} else {
		for (int i = 0; i < GM_MAX; i++)
			if (g->fd[i] >= 0)
				close(g->fd[i]);
	}
	fds_reset(g);
}

void gate_default_config(struct mg_config *c)
{
	memset(c, 0, sizeof(*c));
	c->mode = MG_MODE_ENFORCE;
	c->action = MG_ACTION_DROP;
	/* per source and port class (docs/postfix.md: next to the servers' own
	 * limits): syn_rate = 10/s, imap:30/s (a webmail front end logs in per
	 * page view); syn_burst = 20, imap:100 (an office behind NAT opens its
	 * clients' sessions at once: the whole max_concurrent of IMAP) */
	c->syn_interval_ns = NSEC_PER_SEC / 10; /* 10/s */
	c->syn_burst = 20;
	c->syn_rate_classes = 1u << MG_CLASS_IMAP;
	c->syn_class_interval_ns[MG_CLASS_IMAP] = NSEC_PER_SEC / 30;
	c->syn_burst_classes = 1u << MG_CLASS_IMAP;
	c->syn_class_burst[MG_CLASS_IMAP] = 100;
	c->prefix_v4 = 24;
	c->prefix_v6 = 64;
	c->prefix_interval_ns = NSEC_PER_SEC / 100; /* 100/s */
	c->prefix_burst = 200;
	c->max_concurrent[MG_CLASS_SMTP] = 50;       /* Postfix's smtpd_client_connection_count_limit */
	c->max_concurrent[MG_CLASS_SUBMISSION] = 20;
	c->max_concurrent[MG_CLASS_IMAP] = 100;      /* a NAT'd office, a webmail front end */
	c->max_concurrent[MG_CLASS_POP3] = 20;
	c->max_total_concurrent = 0;
	c->ban_after = 5;
	c->ban_window_ns = 60 * NSEC_PER_SEC;
	c->ban_time_ns = 600 * NSEC_PER_SEC;
	c->ban_time_max_ns = 86400 * NSEC_PER_SEC;
	c->ban_evidence = 10;
	c->ban_concurrent = 0;
	c->dnsbl_enabled = 0;
	c->dnsbl_threshold = 3;
	c->pending = MG_PENDING_PASS;
	c->pending_ns = 5 * NSEC_PER_SEC;
	c->event_interval_ns = NSEC_PER_SEC / 2000; /* 2000 events/s ... */
	c->event_burst = 500;                        /* ... burst 500 */
	c->flood_interval_ns = NSEC_PER_SEC / 50000;
	c->flood_budget_interval_ns = NSEC_PER_SEC / 1000;
	c->flood_hold_ns = MG_FLOOD_HOLD_NS;
	c->flood_action = MG_FLOOD_COOKIE; /* as drop until the keys are written (cookie_start) */
	{
		struct stat st;

		if (stat("/proc/self/ns/net", &st) == 0)
			c->netns_ino = st.st_ino;
	}
}

static void prefix_mask(uint32_t bits, uint32_t *mask)
{
	for (int i = 0; i < 4; i++) {
		uint32_t b = bits > 32u * i ? bits - 32u * i : 0;

		mask[i] = htonl(b >= 32 ? 0xffffffffu : (uint32_t)(0xffffffff00000000ull >> b));
	}
}

/* mg_ctl, mmapped: each field is written on its own (config slot by the
 * config writer, heartbeat by the daemon's loop), never the whole entry */
static struct mg_ctl *gate_ctl(struct gate *g)
{
	void *p;

	if (g->ctl)
		return g->ctl;
	if (g->fd[GM_CTL] < 0) {
		errno = EBADF;
		return NULL;
	}
	p = mmap(NULL, (size_t)sysconf(_SC_PAGESIZE), PROT_READ | PROT_WRITE, MAP_SHARED, g->fd[GM_CTL], 0);
	if (p == MAP_FAILED)
		return NULL;
	g->ctl = p;
	return g->ctl;
}

int gate_read_ctl(struct gate *g, struct mg_ctl *c)
{
	uint32_t zero = 0;

	return bpf_map_lookup_elem(g->fd[GM_CTL], &zero, c) ? -errno : 0;
}

/* Wait until every BPF program that may have read the old slot is done:
 * they run in RCU read-side sections, and MEMBARRIER_CMD_GLOBAL is
 * synchronize_rcu(). Without it (nohz_full), a generous sleep. */
static void config_grace_period(void)
{
	if (syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0))
		usleep(100 * 1000);
}

int gate_write_config(struct gate *g, const struct mg_config *c)
{
	struct mg_config d = *c;
	struct mg_ctl *ctl = gate_ctl(g);
	uint32_t next;

	if (!ctl)
		return -errno;
	prefix_mask(96 + d.prefix_v4, d.mask_v4);
	prefix_mask(d.prefix_v6, d.mask_v6);
	next = (__atomic_load_n(&ctl->config_slot, __ATOMIC_ACQUIRE) & 1) ^ 1;
	if (bpf_map_update_elem(g->fd[GM_CONFIG], &next, &d, BPF_ANY))
		return -errno;
	__atomic_store_n(&ctl->config_slot, next, __ATOMIC_RELEASE);
	config_grace_period(); /* the old slot is free for the next write */
	return 0;
}

int gate_read_config(struct gate *g, struct mg_config *c)
{
	struct mg_ctl ctl;
	int err = gate_read_ctl(g, &ctl);

	if (err)
		return err;
	ctl.config_slot &= 1;
	return bpf_map_lookup_elem(g->fd[GM_CONFIG], &ctl.config_slot, c) ? -errno : 0;
}

int gate_heartbeat(struct gate *g, uint64_t until_ns)
{
	struct mg_ctl *ctl = gate_ctl(g);

	if (!ctl)
		return -errno;
	__atomic_store_n(&ctl->alive_until_ns, until_ns ? until_ns : now_boot_ns(), __ATOMIC_RELEASE);
	return 0;
}

/* The kernel's SYN trouble in the guarded namespace (MG_TROUBLE_* bits, as
 * of the reading at now): the bits first, then the time the data path
 * checks, so it never pairs a fresh time with stale bits for long. */
int gate_trouble(struct gate *g, uint32_t trouble, uint64_t now)
{
	struct mg_ctl *ctl = gate_ctl(g);

	if (!ctl)
		return -errno;
	__atomic_store_n(&ctl->trouble, trouble, __ATOMIC_RELEASE);
	__atomic_store_n(&ctl->trouble_ns, now, __ATOMIC_RELEASE);
	return 0;
}

void gate_touch(struct gate *g)
{
	struct mg_ctl *ctl = gate_ctl(g);

	if (ctl)
		__atomic_fetch_add(&ctl->changes, 1, __ATOMIC_RELEASE);
}

uint32_t gate_changes(struct gate *g)
{
	struct mg_ctl *ctl = gate_ctl(g);

	return ctl ? __atomic_load_n(&ctl->changes, __ATOMIC_ACQUIRE) : 0;
}

int gate_watch_stopped(struct gate *g, uint64_t until_ns)
{
	struct mg_ctl *ctl = gate_ctl(g);
	uint64_t cur;

	if (!ctl)
		return -errno;
	cur = __atomic_load_n(&ctl->top_until_ns, __ATOMIC_ACQUIRE);
	while (cur < until_ns &&
	       !__atomic_compare_exchange_n(&ctl->top_until_ns, &cur, until_ns, false, __ATOMIC_RELEASE,
					    __ATOMIC_ACQUIRE))
		;
	return 0;
}

void gate_default_ports(uint8_t *ports)
{
	memset(ports, 0, 65536);
	ports[25] = MG_CLASS_SMTP;
	ports[465] = MG_CLASS_SUBMISSION;
	ports[587] = MG_CLASS_SUBMISSION;
	ports[143] = MG_CLASS_IMAP;
	ports[993] = MG_CLASS_IMAP;
	ports[110] = MG_CLASS_POP3;
	ports[995] = MG_CLASS_POP3;
}

int gate_write_ports(struct gate *g, const uint8_t *ports)
{
	static uint32_t keys[65536];
	uint32_t count = 65536;
	LIBBPF_OPTS(bpf_map_batch_opts, opts);

	for (uint32_t i = 0; i < 65536; i++)
		keys[i] = i;
	return bpf_map_update_batch(g->fd[GM_PORTS], keys, ports, &count, &opts) ? -errno : 0;
}

int gate_read_counters(struct gate *g, uint64_t *out)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *vals;

	if (ncpu <= 0)
		return ncpu ? ncpu : -EINVAL;
	vals = calloc(ncpu, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	for (uint32_t i = 0; i < MG_COUNTER_SLOTS; i++) {
		out[i] = 0;
		if (bpf_map_lookup_elem(g->fd[GM_COUNTERS], &i, vals))
			continue;
		for (int c = 0; c < ncpu; c++)
			out[i] += vals[c];
	}
	free(vals);
	return 0;
}
