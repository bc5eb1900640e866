// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* `mailgate run`: load, pin, attach, consume events, expire state, reload on
 * SIGHUP, detach on SIGTERM. `mailgate detach`: remove links and pins.
 *
 * What lives under the pin dir (all by name, so a new process finds it):
 *   mg_*                 the maps (gate.c)
 *   link_xdp_IFACE       the XDP link of each interface
 *   link_sock_state      the tp_btf/inet_sock_set_state link
 *   link_sock_state2     its twin (two tracers: see bpf/gate.bpf.c, sock_state())
 * The pin dir itself is the lock: a running daemon holds flock(LOCK_EX) on
 * it, so a second `run` and a `detach` refuse while it is alive.
 *
 * A restart adopts what it finds: the pinned maps (bans, counters, lists)
 * are reused by gate_load(), a pinned XDP link gets the new program through
 * bpf_link_update() (the interface is never without a program), and the
 * tracing link is replaced by a new one before the old one is dropped (the
 * sk-storage map is shared, so no connection is counted twice).
 *
 * SIGTERM/SIGINT detach the XDP links (unless keep_attached = yes) and leave
 * the maps and the tracing link pinned, so a restart resumes every ban and
 * counter and connections closing in between are still counted down. */
#include <errno.h>
#include <limits.h>
#include <dirent.h>
#include <fcntl.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/if_link.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <json-c/json.h>
#include <systemd/sd-daemon.h>
#include "listset.h"
#include "crowdsec.h"
#include "gate.skel.h"
#include "cli.h"
#include "metrics.h"

#define MAX_IFACES 16
#define SWEEP_SLICE_NS 5000000ULL /* time per map per tick (a trie of millions
				     * costs ~7 us per entry: swept over minutes) */
#define TICK_MS 1000

enum attach_mode { MODE_AUTO, MODE_NATIVE, MODE_GENERIC };
static const char *const attach_mode_names[] = { "auto", "native", "generic", NULL };

struct iface {
	char name[IF_NAMESIZE];
	int ifindex;
	int link_fd;  /* -1 when not attached */
	bool adopted; /* the link came from an earlier run */
	bool gone;    /* the interface disappeared (logged once) */
	bool bound;   /* its program is the device-bound one (attach_iface) */
	char pin[PATH_MAX];
};

/* Walks one map a slice per tick and deletes the expired entries. The key
 * last visited is deleted only after the walk has moved past it, because
 * get_next_key() from a missing key starts over. */
struct sweep {
	enum gate_map map;
	bool (*expired)(const void *val, uint64_t now, const struct mg_config *c);
	const char *what;
	bool have;
	bool cur_expired;
	union {
		struct mg_lpm_key lpm;
		struct mg_addr addr;
	} cur;
};

struct daemon {
	struct gate gate;
	struct mg_runtime rt;
	struct mg_settings *set; /* in effect */
	struct iface ifs[MAX_IFACES];
	int n_ifs;
	enum attach_mode mode;
	bool dry_run;
	bool config_given;       /* -c on the command line */
	struct bpf_link *sock_link[2]; /* mg_sock_state and its twin */
	int lock_fd;
	struct ring_buffer *rb;
	struct metrics *metrics;
	struct crowdsec *crowdsec;  /* the CrowdSec bouncer; NULL when off */
	char sd_status[256];        /* the last STATUS= sent to systemd */
	struct sweep sweeps[4];
	/* the state file (state.c); "" = none */
	char state_file[PATH_MAX];
	bool state_dirty;           /* a change the daemon made or saw (sweep, ban event) */
	bool state_lists_dirty;     /* the sweep removed a list entry */
	uint32_t state_changes;     /* mg_ctl.changes as of the last write (CLI changes) */
	uint64_t state_entries[2];  /* mg_ban, mg_ban_quota entries as of the last write */
	struct responder resp;   /* runs once a refusal is configured as reject */
	int ep;                  /* the event loop's epoll fd, -1 before it exists */
	bool stopping;           /* refusals fall back to drop: no responder after exit */
	struct cookie_tc *tc;    /* the SYN-cookie TC program, when running */
	/* the kernel's SYN trouble in this namespace (netstat.c) */
	struct netstat netstat;  /* the TcpExt counters at the last reading */
	bool netstat_ok;         /* the last reading worked */
	uint64_t next_netstat;   /* CLOCK_BOOTTIME of the next reading */
	uint64_t trouble_ns;     /* the last reading that found trouble; 0 = none now */
	struct netstat trouble_from; /* the counters when the trouble began */
};

static int remove_pins(const char *dir, int *count, char *left, size_t left_len, int *n_left);
static void warn_reset_veth(struct daemon *d);
static void cookie_start(struct daemon *d);

/* ---- small helpers ---- */

/* Root, or the capabilities loading and attaching need. */
static bool privileged(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct c[2] = {};
	uint64_t eff;

	if (geteuid() == 0)
		return true;
	if (syscall(SYS_capget, &h, c))
		return false;
	eff = (uint64_t)c[1].effective << 32 | c[0].effective;
#define HAS(cap) (eff & (1ULL << (cap)))
	return HAS(CAP_SYS_ADMIN) || (HAS(CAP_BPF) && HAS(CAP_NET_ADMIN) && HAS(CAP_PERFMON));
#undef HAS
}

static uint32_t netns_ino(void)
{
	struct stat st;

	return stat("/proc/self/ns/net", &st) ? 0 : (uint32_t)st.st_ino;
}

static int mkdir_parents(const char *path)
{
	char tmp[PATH_MAX];

	if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	for (char *p = tmp + 1; ; p++) {
		if (*p && *p != '/')
			continue;
		char c = *p;

		*p = 0;
		if (mkdir(tmp, 0700) && errno != EEXIST)
			return -errno;
		if (!c)
			return 0;
		*p = c;
	}
}

/* 0 when path is a directory on a bpf filesystem. */
static int check_bpffs(const char *path)
{
	struct statfs sf;

	if (statfs(path, &sf))
		return -errno;
	return sf.f_type == BPF_FS_MAGIC ? 0 : -EXDEV;
}

/* The pid holding an flock on the file st describes, from /proc/locks; 0 if unknown. */
static int lock_holder(const struct stat *st)
{
	FILE *f = fopen("/proc/locks", "r");
	char line[256], type[16];
	unsigned int maj, min;
	unsigned long ino;
	int pid, found = 0;

	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%*d: %15s %*s %*s %d %x:%x:%lu", type, &pid, &maj, &min, &ino) == 5 &&
		    !strcmp(type, "FLOCK") && ino == st->st_ino &&
		    maj == major(st->st_dev) && min == minor(st->st_dev))
			found = pid;
	}
	fclose(f);
	return found;
}

/* Take the pin dir's lock without waiting. Returns the locked fd, -EBUSY
 * (with *holder set) when another process holds it, or another -errno. */
static int lock_pin_dir(const char *dir, int *holder)
{
	struct stat a, b;
	int fd, err;

	for (int tries = 0; tries < 5; tries++) {
		fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		if (flock(fd, LOCK_EX | LOCK_NB)) {
			err = -errno;
			if (err == -EWOULDBLOCK) {
				fstat(fd, &a);
				*holder = lock_holder(&a);
				err = -EBUSY;
			}
			close(fd);
			return err;
		}
		/* a `detach` may have removed the directory we opened */
		if (fstat(fd, &a) == 0 && stat(dir, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev)
			return fd;
		close(fd);
		if (mkdir_parents(dir))
			break;
	}
	return -EAGAIN;
}

/* dir/name+suffix into buf (PATH_MAX); -ENAMETOOLONG when it does not fit */
static int pin_path(char *buf, const char *dir, const char *name, const char *suffix)
{
	int n = snprintf(buf, PATH_MAX, "%s/%s%s", dir, name, suffix);

	return n < 0 || n >= PATH_MAX ? -ENAMETOOLONG : 0;
}

static const char *addr_str(const struct mg_addr *a, char *buf)
{
	return format_addr(a, buf, MG_ADDRSTRLEN);
}

/* ---- configuration ---- */

static bool allow_wanted(const struct mg_settings *s, const struct mg_lpm_key *k)
{
	for (int i = 0; i < s->n_allow; i++)
		if (!memcmp(&s->allow[i], k, sizeof(*k)))
			return true;
	return false;
}

/* The config's [allow] cidrs: the allow list is rebuilt beside the live
 * one (entries of other origins, which win on the same prefix, then the
 * config's) and switched in one step, so a reload never has a moment with
 * the old entries gone and the new ones not yet there. */
struct allow_keep {
	struct mg_lpm_key *keys;
	struct mg_rule *vals;
	size_t n, cap;
	uint64_t now;
	int stale; /* config entries of the live set the new config drops (logged) */
	const struct mg_settings *s;
};

static int allow_keep_one(const void *key, const void *value, void *ctx)
{
	const struct mg_rule *r = value;
	struct allow_keep *k = ctx;

	if (r->origin == MG_ORIGIN_CONFIG) {
		if (!allow_wanted(k->s, key)) {
			char buf[MG_ADDRSTRLEN + 8];

			k->stale++;
			pr_info("msg=\"allow entry removed from config\" cidr=%s", format_cidr(key, buf, sizeof(buf)));
		}
		return 0;
	}
	if (r->expires_ns && r->expires_ns <= k->now)
		return 0;
	if (k->n == k->cap) {
		size_t cap = k->cap ? 2 * k->cap : 256;
		struct mg_lpm_key *nk = realloc(k->keys, cap * sizeof(*nk));
		struct mg_rule *nv = nk ? realloc(k->vals, cap * sizeof(*nv)) : NULL;

		if (nk)
			k->keys = nk;
		if (!nv)
			return -ENOMEM;
		k->vals = nv;
		k->cap = cap;
	}
	memcpy(&k->keys[k->n], key, sizeof(k->keys[0]));
	memcpy(&k->vals[k->n++], value, sizeof(k->vals[0]));
	return 0;
}

static int allow_apply_config(struct daemon *d, const struct mg_settings *s)
{
	struct allow_keep k = { .now = now_boot_ns(), .s = s };
	struct mg_rule r[MG_MAX_ALLOW_CFG];
	struct list_build b = { .fd = -1 };
	int lock, err;

	lock = list_lock(&d->gate);
	if (lock < 0) {
		pr_err("msg=\"cannot lock the lists\" dir=%s err=\"%s\"", d->gate.pin_dir, strerror(-lock));
		return lock;
	}
	for (int i = 0; i < s->n_allow; i++)
		r[i] = (struct mg_rule){ .prefixlen = s->allow[i].prefixlen, .origin = MG_ORIGIN_CONFIG };
	err = list_walk(&d->gate, MG_LIST_ALLOW, allow_keep_one, &k);
	err = err ?: list_build_start(MG_LIST_ALLOW, s->n_allow + k.n, &b);
	/* the config's first: an entry of another origin on the same prefix wins */
	err = err ?: list_build_add(&b, s->allow, r, s->n_allow);
	err = err ?: list_build_add(&b, k.keys, k.vals, k.n);
	err = err ?: list_build_publish(&d->gate, &b);
	list_build_abort(&b);
	list_unlock(lock);
	free(k.keys);
	free(k.vals);
	if (err)
		pr_err("msg=\"cannot write the allow list\" err=\"%s\"", strerror(-err));
	return err;
}

/* Put settings into the maps: allow additions, one mg_config write, the
 * port table, then allow removals. */
static void responder_ensure(struct daemon *d, const struct mg_settings *s)
{
	struct epoll_event ev;
	int err;

	if (!s->cfg.reject || d->resp.link || d->stopping)
		return;
	err = responder_start(&d->resp, &d->gate);
	if (err) {
		pr_warn("msg=\"cannot start the responder; rejected sources are dropped instead\" err=\"%s\"",
			strerror(-err));
		return;
	}
	pr_info("msg=\"responder started\" denied=%s banned=%s listed=%s",
		s->cfg.reject & MG_REJECT_DENY ? "reject" : "drop", s->cfg.reject & MG_REJECT_BAN ? "reject" : "drop",
		s->cfg.reject & MG_REJECT_DNSBL ? "reject" : "drop");
	for (int i = 0; d->ep >= 0 && i < 2; i++) {
		ev = (struct epoll_event){ .events = EPOLLIN, .data.fd = d->resp.fd[i] };
		epoll_ctl(d->ep, EPOLL_CTL_ADD, d->resp.fd[i], &ev);
	}
}

static int apply_settings(struct daemon *d, const struct mg_settings *s)
{
	struct mg_config c = s->cfg;
	int err;

	responder_ensure(d, s);
	/* a refusal is answered only while the responder runs */
	c.reject = d->resp.link && !d->stopping ? s->cfg.reject : 0;
	c.netns_ino = netns_ino();
	c.dnsbl_enabled = d->rt.dnsbl != NULL;
	if (!d->rt.cookies)
		c.flood_action = MG_FLOOD_DROP; /* asked for, but not running: cookie_start says why */
	if (d->dry_run)
		c.mode = MG_MODE_OBSERVE;

	err = allow_apply_config(d, s);
	if (!err)
		err = gate_write_config(&d->gate, &c);
	if (!err)
		err = gate_write_ports(&d->gate, s->ports);
	if (err) {
		pr_err("msg=\"cannot write the configuration into the maps\" err=\"%s\"", strerror(-err));
		return err;
	}
	return 0;
}

/* Read the config file into s: the file named with -c (must load), else
 * the default file when it exists, else the built-in defaults. */
static int read_settings(struct daemon *d, struct mg_settings *s, char *err, size_t errlen)
{
	if (!d->config_given && access(opts.config, F_OK)) {
		config_defaults(s);
		return 1;
	}
	return config_load(opts.config, s, err, errlen) ? -EINVAL : 0;
}

static bool dnsbl_wanted(const struct mg_settings *s)
{
	return s->dnsbl_sites[0] != 0;
}

/* SIGHUP: read the file again; a broken file changes nothing. The new
 * settings go into d->set (the one copy the threads see) and are put into
 * the maps in one pass; if that fails, the earlier settings come back. */
static void reload(struct daemon *d)
{
	struct mg_settings *s = malloc(sizeof(*s)), *prev = malloc(sizeof(*prev));
	char err[512] = "";
	bool metrics_changed;
	int r;

	if (!s || !prev) {
		pr_err("msg=\"config reload failed\" err=\"out of memory\"");
		goto out_free;
	}
	sd_notify(0, "RELOADING=1");
	r = read_settings(d, s, err, sizeof(err));
	if (r < 0) {
		pr_err("msg=\"config reload failed, keeping the config in effect\" err=\"%s\"", err);
		goto out;
	}
	if (r > 0)
		pr_info("msg=\"no config file, reloading the defaults\" path=%s", opts.config);
	if (s->max_sources != d->set->max_sources) {
		pr_warn("msg=\"max_sources changes need 'mailgate detach' and a restart (it drops all state); keeping the current size\" max_sources=%u",
			d->set->max_sources);
		s->max_sources = d->set->max_sources;
	}
	metrics_changed = strcmp(s->metrics_listen, d->set->metrics_listen) != 0;
	memcpy(prev, d->set, sizeof(*prev));
	memcpy(d->set, s, sizeof(*s));

	/* the DNSBL thread first, so mg_config says whether it runs */
	if (d->rt.dnsbl && !dnsbl_wanted(d->set)) {
		struct dnsbl *old = d->rt.dnsbl;

		metrics_set_dnsbl(d->metrics, &d->rt, NULL); /* no scrape reads it any more */
		dnsbl_stop(old);
		pr_info("msg=\"dnsbl stopped: no sites configured\"");
	} else if (d->rt.dnsbl) {
		if (dnsbl_reload(d->rt.dnsbl, d->set))
			pr_warn("msg=\"dnsbl reload failed; it keeps its earlier zones\"");
	} else if (dnsbl_wanted(d->set)) {
		metrics_set_dnsbl(d->metrics, &d->rt, dnsbl_start(d->set, &d->gate));
		if (!d->rt.dnsbl)
			pr_warn("msg=\"dnsbl did not start; the DNSBL step stays off\"");
	}
	cookie_start(d); /* flood_action = cookie now, and not running yet */
	if (apply_settings(d, d->set)) {
		memcpy(d->set, prev, sizeof(*prev));
		apply_settings(d, d->set);
		pr_err("msg=\"config reload failed, keeping the config in effect\"");
		goto out;
	}
	if (d->set->cfg.action != prev->cfg.action)
		warn_reset_veth(d);
	if (crowdsec_settings_changed(prev, d->set)) {
		/* a new bouncer starts with a full answer, which removes what
		 * the old one had and the new set has not */
		crowdsec_stop(d->crowdsec);
		d->crowdsec = NULL;
		if (d->set->crowdsec_url[0])
			d->crowdsec = crowdsec_start(d->set, &d->gate, &d->rt.crowdsec);
		else
			pr_info("msg=\"crowdsec bouncer stopped: no lapi_url; its entries stay until they expire\"");
	}
	if (metrics_changed) {
		metrics_stop(d->metrics);
		d->metrics = metrics_start(d->set, &d->rt);
	}
	pr_info("msg=\"config reloaded\" path=%s mode=%s action=%s", opts.config,
		d->dry_run || d->set->cfg.mode == MG_MODE_OBSERVE ? "observe" : "enforce",
		d->set->cfg.action == MG_ACTION_RESET ? "reset" : "drop");
out:
	sd_notify(0, "READY=1");
out_free:
	free(s);
	free(prev);
}

/* ---- attaching ---- */

static const char *xdp_mode_name(int ifindex)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);

	if (bpf_xdp_query(ifindex, 0, &q))
		return "unknown";
	switch (q.attach_mode) {
	case XDP_ATTACHED_DRV: return "native";
	case XDP_ATTACHED_SKB: return "generic";
	case XDP_ATTACHED_HW: return "offload";
	case XDP_ATTACHED_MULTI: return "multi";
	default: return "none";
	}
}

static uint32_t fd_id(int fd)
{
	struct bpf_link_info info = {};
	uint32_t len = sizeof(info);

	return bpf_obj_get_info_by_fd(fd, &info, &len) ? 0 : info.id;
}

static int xdp_create(struct iface *ifc, int prog_fd, enum attach_mode mode)
{
	static const uint32_t flags[] = { [MODE_NATIVE] = XDP_FLAGS_DRV_MODE, [MODE_GENERIC] = XDP_FLAGS_SKB_MODE };
	LIBBPF_OPTS(bpf_link_create_opts, lo);
	int fd, err;

	if (mode == MODE_AUTO) {
		fd = xdp_create(ifc, prog_fd, MODE_NATIVE);
		if (fd >= 0 || fd == -EBUSY)
			return fd;
		pr_info("msg=\"native XDP failed, trying generic\" iface=%s err=\"%s\"", ifc->name, strerror(-fd));
		return xdp_create(ifc, prog_fd, MODE_GENERIC);
	}
	lo.flags = flags[mode];
	fd = bpf_link_create(prog_fd, ifc->ifindex, BPF_XDP, &lo);
	if (fd < 0) {
		err = -errno;
		return err;
	}
	return fd;
}

#define PLAIN_NOT_LOADED INT_MIN /* any -errno is a load that failed */

/* the plain mg_xdp (gate.bpf.o), loaded when first asked for (*fd is
 * PLAIN_NOT_LOADED until then); its fd, or -errno */
static int plain_prog(struct daemon *d, int *fd)
{
	if (*fd == PLAIN_NOT_LOADED)
		*fd = gate_xdp_load(&d->gate, 0);
	return *fd;
}

/* Adopt the pinned link of an earlier run or create and pin a new one,
 * with prog_fd; where the kernel refuses it (a device-bound program in
 * generic mode), with plain. ifc->bound says which it got. */
static int attach_iface_prog(struct daemon *d, struct iface *ifc, int prog_fd, int *plain)
{
	struct bpf_link_info info = {};
	uint32_t len = sizeof(info);
	int fd, err;

	if (pin_path(ifc->pin, d->gate.pin_dir, MG_PIN_LINK_XDP, ifc->name))
		return -ENAMETOOLONG;
	fd = bpf_obj_get(ifc->pin);
	if (fd >= 0) {
		if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0 && info.type == BPF_LINK_TYPE_XDP &&
		    info.xdp.ifindex == (uint32_t)ifc->ifindex) {
			err = bpf_link_update(fd, prog_fd, NULL);
			if (err && prog_fd != plain_prog(d, plain)) { /* a link in generic mode */
				prog_fd = *plain;
				err = prog_fd < 0 ? prog_fd : bpf_link_update(fd, prog_fd, NULL);
			}
			if (err == 0) {
				ifc->bound = prog_fd != *plain;
				ifc->link_fd = fd;
				ifc->adopted = true;
				if (d->mode != MODE_AUTO && strcmp(attach_mode_names[d->mode], xdp_mode_name(ifc->ifindex)))
					pr_warn("msg=\"the adopted link keeps its attach mode; 'mailgate detach' first to change it\" iface=%s mode=%s",
						ifc->name, xdp_mode_name(ifc->ifindex));
				return 0;
			}
			err = -errno;
			pr_err("msg=\"cannot update the pinned XDP link\" iface=%s pin=%s err=\"%s\"",
			       ifc->name, ifc->pin, strerror(-err));
			close(fd);
			return err;
		}
		/* the interface went away (or is another one now): a stale pin */
		pr_warn("msg=\"replacing a stale pinned XDP link\" iface=%s pin=%s", ifc->name, ifc->pin);
		bpf_link_detach(fd);
		close(fd);
		unlink(ifc->pin);
	} else if (errno != ENOENT) {
		err = -errno;
		pr_err("msg=\"cannot open the pinned XDP link\" pin=%s err=\"%s\"", ifc->pin, strerror(-err));
		return err;
	}

	fd = xdp_create(ifc, prog_fd, d->mode);
	if (fd < 0 && fd != -EBUSY && prog_fd != plain_prog(d, plain)) {
		pr_info("msg=\"the interface takes no device-bound XDP program, attaching the plain one\" iface=%s err=\"%s\"",
			ifc->name, strerror(-fd));
		prog_fd = *plain;
		fd = prog_fd < 0 ? prog_fd : xdp_create(ifc, prog_fd, d->mode);
	}
	ifc->bound = prog_fd != *plain;
	if (fd == -EBUSY) {
		struct bpf_prog_info pinfo = {};
		uint32_t id = 0, plen = sizeof(pinfo);
		int pfd;

		bpf_xdp_query_id(ifc->ifindex, 0, &id);
		pfd = id ? bpf_prog_get_fd_by_id(id) : -1;
		if (pfd >= 0) {
			bpf_obj_get_info_by_fd(pfd, &pinfo, &plen);
			close(pfd);
		}
		if (!strcmp(pinfo.name, "mg_xdp"))
			pr_err("msg=\"another mailgate (with another pin dir) gates this interface already\" iface=%s prog_id=%u",
			       ifc->name, id);
		else
			pr_err("msg=\"the interface already has an XDP program that mailgate did not attach; remove it first (ip link set dev %s xdp off)\" iface=%s prog_id=%u prog_name=%s",
			       ifc->name, ifc->name, id, pinfo.name[0] ? pinfo.name : "?");
		return fd;
	}
	if (fd < 0) {
		pr_err("msg=\"cannot attach XDP\" iface=%s mode=%s err=\"%s\"", ifc->name,
		       attach_mode_names[d->mode], strerror(-fd));
		return fd;
	}
	if (bpf_obj_pin(fd, ifc->pin)) {
		err = -errno;
		pr_err("msg=\"cannot pin the XDP link\" pin=%s err=\"%s\"", ifc->pin, strerror(-err));
		bpf_link_detach(fd);
		close(fd);
		return err;
	}
	ifc->link_fd = fd;
	ifc->adopted = false;
	return 0;
}

/* The program for ifc is mg_xdp loaded device-bound to it (bpf/gate_dev.bpf.c:
 * its cookie SYN-ACK puts back a VLAN tag the NIC stripped), except in
 * generic mode, which takes none; where it cannot be loaded (no
 * bpf_xdp_metadata_rx_vlan_tag before Linux 6.8), the plain one. When VLAN
 * clients get no cookie-correct SYN-ACK there, the log says so. */
static int attach_iface(struct daemon *d, struct iface *ifc)
{
	int plain = PLAIN_NOT_LOADED, dev = -EOPNOTSUPP, err;
	char note[400];

	if (d->mode != MODE_GENERIC) {
		dev = gate_xdp_load(&d->gate, ifc->ifindex);
		if (dev < 0)
			pr_info("msg=\"no device-bound XDP program (Linux 6.8+): a VLAN tag the NIC strips is not put back into SYN cookie SYN-ACKs\" iface=%s err=\"%s\"",
				ifc->name, strerror(-dev));
	}
	err = dev >= 0 ? 0 : plain_prog(d, &plain);
	if (err < 0)
		pr_err("msg=\"cannot load the XDP program\" iface=%s err=\"%s\"", ifc->name, strerror(-err));
	else
		err = attach_iface_prog(d, ifc, dev >= 0 ? dev : plain, &plain);
	if (dev >= 0)
		close(dev); /* the link holds them */
	if (plain >= 0)
		close(plain);
	if (!err && d->set->cfg.flood_action == MG_FLOOD_COOKIE &&
	    gate_vlan_note(ifc->ifindex, ifc->bound, note, sizeof(note)))
		pr_warn("msg=\"%s\" iface=%s", note, ifc->name);
	return err;
}

/* A new tracing link replaces the pinned one; the old one goes last. */
static int attach_tracer(struct daemon *d, int i, struct bpf_program *prog, const char *name)
{
	char pin[PATH_MAX];
	int old, err;

	if (pin_path(pin, d->gate.pin_dir, name, ""))
		return -ENAMETOOLONG;
	old = bpf_obj_get(pin);
	d->sock_link[i] = bpf_program__attach_trace(prog);
	if (!d->sock_link[i]) {
		err = -errno;
		pr_err("msg=\"cannot attach the TCP state tracer\" prog=%s err=\"%s\"", bpf_program__name(prog),
		       strerror(-err));
		if (old >= 0)
			close(old);
		return err;
	}
	if (old >= 0)
		unlink(pin);
	err = bpf_link__pin(d->sock_link[i], pin);
	if (old >= 0)
		close(old); /* the earlier run's tracer goes away here */
	if (err) {
		pr_err("msg=\"cannot pin the TCP state tracer\" pin=%s err=\"%s\"", pin, strerror(-err));
		bpf_link__destroy(d->sock_link[i]);
		d->sock_link[i] = NULL;
		return err;
	}
	if (old >= 0)
		pr_info("msg=\"TCP state tracer replaced\" prog=%s link_id=%u", bpf_program__name(prog),
			fd_id(bpf_link__fd(d->sock_link[i])));
	return 0;
}

/* The tracer is two identical programs (bpf/gate.bpf.c, sock_state()): the
 * kernel skips a tracing program that is already running on the CPU, and
 * the twin sees what the other was skipped for. */
static int attach_sock_state(struct daemon *d)
{
	return attach_tracer(d, 0, d->gate.skel->progs.mg_sock_state, MG_PIN_LINK_SOCK_STATE) ?:
	       attach_tracer(d, 1, d->gate.skel->progs.mg_sock_state2, MG_PIN_LINK_SOCK_STATE2);
}

/* At exit: detach the XDP links (all, or only those this run created) or
 * keep them. The tracing link always stays pinned: a connection that closes
 * while no daemon runs is still subtracted from the concurrent counts (the
 * socket's mark in mg_socks says it was counted). `mailgate detach` removes
 * it with everything else. */
static void release_links(struct daemon *d, bool detach, bool only_created)
{
	for (int i = 0; i < d->n_ifs; i++) {
		struct iface *ifc = &d->ifs[i];

		if (ifc->link_fd < 0)
			continue;
		if (detach && !(only_created && ifc->adopted)) {
			bpf_link_detach(ifc->link_fd);
			unlink(ifc->pin);
			pr_info("msg=\"detached\" iface=%s", ifc->name);
		}
		close(ifc->link_fd);
		ifc->link_fd = -1;
	}
	for (int i = 0; i < 2; i++) {
		bpf_link__destroy(d->sock_link[i]); /* closes our fd; the pin keeps it */
		d->sock_link[i] = NULL;
	}
}

/* XDP links an earlier run pinned for interfaces this run does not gate
 * keep running the earlier program; say so. */
static void warn_other_links(struct daemon *d)
{
	DIR *dh = opendir(d->gate.pin_dir);
	struct dirent *e;
	size_t plen = strlen(MG_PIN_LINK_XDP);

	while (dh && (e = readdir(dh))) {
		bool ours = false;

		if (strncmp(e->d_name, MG_PIN_LINK_XDP, plen) || !e->d_name[plen])
			continue;
		for (int i = 0; i < d->n_ifs; i++)
			ours |= !strcmp(e->d_name + plen, d->ifs[i].name);
		if (!ours)
			pr_warn("msg=\"an earlier run's XDP link is still attached to an interface not given with -i; 'mailgate detach -i %s' removes it\" iface=%s",
				e->d_name + plen, e->d_name + plen);
	}
	if (dh)
		closedir(dh);
}

/* action = reset on a veth: say when the RSTs may be lost */
static void warn_reset_veth(struct daemon *d)
{
	char note[320];

	if (d->set->cfg.action != MG_ACTION_RESET)
		return;
	for (int i = 0; i < d->n_ifs; i++)
		if (reset_veth_note(d->ifs[i].ifindex, !strcmp(xdp_mode_name(d->ifs[i].ifindex), "generic"),
				    note, sizeof(note)))
			pr_warn("msg=\"%s\" iface=%s", note, d->ifs[i].name);
}

/* ---- SYN cookies (user/cookie.c) ---- */

/* detach: take the TC links off the interfaces (else they stay pinned
 * with the XDP links, keep_attached = yes) */
static void cookie_stop(struct daemon *d, bool detach)
{
	char pin[PATH_MAX];

	for (int i = 0; detach && i < d->n_ifs; i++)
		if (!pin_path(pin, d->gate.pin_dir, MG_PIN_LINK_TC, d->ifs[i].name))
			cookie_tc_detach(pin);
	cookie_tc_close(d->tc);
	d->tc = NULL;
	d->rt.cookies = false;
}

/* flood_action = cookie: load the TC program, attach it to every gated
 * interface (a pinned tcx link; an earlier run's gets the new program),
 * write the keys. Where that cannot be done, flood mode drops (the
 * budget) and the log says why. */
static void cookie_start(struct daemon *d)
{
	char why[sizeof(d->rt.cookies_why)] = "", pin[PATH_MAX];
	int err = 0, i, fd;

	if (d->rt.cookies || d->set->cfg.flood_action != MG_FLOOD_COOKIE)
		return;
	if (!d->tc)
		d->tc = cookie_tc_load(&d->gate, why, sizeof(why));
	for (i = 0; d->tc && i < d->n_ifs && !err; i++) {
		err = pin_path(pin, d->gate.pin_dir, MG_PIN_LINK_TC, d->ifs[i].name);
		fd = err ? err : cookie_tc_attach(d->tc, d->ifs[i].ifindex, pin);
		if (fd < 0) {
			err = fd;
			snprintf(why, sizeof(why), "cannot attach the TC program to %s: %s", d->ifs[i].name,
				 strerror(-err));
		} else {
			close(fd); /* the pin keeps it */
		}
	}
	if (d->tc && !err) {
		err = cookie_keys_rotate(&d->gate, now_boot_ns());
		if (err)
			snprintf(why, sizeof(why), "cannot write the cookie keys: %s", strerror(-err));
	}
	if (!d->tc || err) {
		cookie_stop(d, true);
		snprintf(d->rt.cookies_why, sizeof(d->rt.cookies_why), "%s", why);
		pr_warn("msg=\"SYN cookies unavailable: flood mode drops unverified SYNs past flood_budget instead (as flood_action = drop)\" why=\"%s\"",
			why);
		return;
	}
	d->rt.cookies = true;
	d->rt.cookies_why[0] = 0;
	pr_info("msg=\"SYN cookies ready: in flood mode unverified SYNs are answered from XDP, their ACKs completed by the kernel\" interfaces=%d",
		d->n_ifs);
}

/* ---- events ---- */

static int on_event(void *ctx, void *data, size_t len)
{
	struct daemon *d = ctx;
	const struct mg_event *e = data;
	char addr[MG_ADDRSTRLEN], dur[32], names[96];

	if (len < sizeof(*e) || e->kind == 0 || e->kind >= MG_EVENT_KIND_MAX)
		return 0;
	__atomic_fetch_add(&d->rt.events[e->kind], 1, __ATOMIC_RELAXED);
	switch (e->kind) {
	case MG_EVENT_BAN:
		d->state_dirty = true;
		__atomic_fetch_add(&d->rt.bans_created[MG_ORIGIN_QUOTA], 1, __ATOMIC_RELAXED);
		pr_info("msg=\"ban created\" addr=%s level=%u expires_in=%s reason=%s class=%s",
			addr_str(&e->addr, addr), e->level,
			format_duration(e->expires_ns > e->ts_ns ? e->expires_ns - e->ts_ns : 0, dur, sizeof(dur)),
			e->reason < MG_REASON_MAX ? mg_reason_names[e->reason] : "unknown",
			e->class < MG_CLASS_MAX ? mg_class_names[e->class] : "unknown");
		break;
	case MG_EVENT_DNSBL_QUERY:
		if (d->rt.dnsbl)
			dnsbl_submit_ts(d->rt.dnsbl, &e->addr, e->ts_ns);
		else
			pr_debug("msg=\"dnsbl query event without a dnsbl\" addr=%s", addr_str(&e->addr, addr));
		break;
	case MG_EVENT_FLOOD:
		if (e->level)
			pr_warn("msg=\"flood mode on: sources without a completed handshake %s\" why=%s kernel=%s",
				d->rt.cookies ? "are answered with SYN cookies" : "share the flood budget",
				flood_why_text(e->reason), e->class ? trouble_names(e->class, names, sizeof(names)) : "-");
		else
			pr_info("msg=\"flood mode off\"");
		break;
	}
	return 0;
}

/* ---- expiry ---- */

static bool ban_expired(const void *val, uint64_t now, const struct mg_config *c)
{
	const struct mg_ban *b = val;
	/* bans by the data path are remembered after their end, for the next level */
	uint64_t keep = b->origin == MG_ORIGIN_QUOTA ? c->ban_time_max_ns : 0;

	return b->expires_ns && now >= b->expires_ns + keep;
}

static bool rule_expired(const void *val, uint64_t now, const struct mg_config *c)
{
	const struct mg_rule *r = val;

	return r->expires_ns && now >= r->expires_ns;
}

static void sweep_delete_cur(struct daemon *d, struct sweep *s, int fd)
{
	char buf[MG_ADDRSTRLEN + 8];

	if (!s->have || !s->cur_expired)
		return;
	if (bpf_map_delete_elem(fd, &s->cur))
		return;
	d->state_dirty = true;
	d->state_lists_dirty |= s->map == GM_ALLOW || s->map == GM_DENY;
	if (s->map == GM_BAN || s->map == GM_BAN_QUOTA)
		pr_info("msg=\"ban removed\" addr=%s", addr_str(&s->cur.addr, buf));
	else
		pr_info("msg=\"%s entry expired\" cidr=%s", s->what, format_cidr(&s->cur.lpm, buf, sizeof(buf)));
	s->cur_expired = false;
}

static void sweep_tick(struct daemon *d, struct sweep *s, uint64_t now)
{
	/* the lists: their live set (a replace may have switched it since the
	 * last tick; the walk then starts over in the new one) */
	bool list = s->map == GM_ALLOW || s->map == GM_DENY;
	int fd = list ? list_live_fd(&d->gate, s->map == GM_ALLOW ? MG_LIST_ALLOW : MG_LIST_DENY)
		      : d->gate.fd[s->map];
	union { struct mg_ban ban; struct mg_rule rule; } val;
	uint64_t deadline = now_boot_ns() + SWEEP_SLICE_NS;
	typeof(s->cur) next;

	if (fd < 0)
		return;
	for (unsigned int i = 1; ; i++) {
		int err = bpf_map_get_next_key(fd, s->have ? (void *)&s->cur : NULL, &next);

		sweep_delete_cur(d, s, fd);
		if (err) { /* end of the map: the next tick starts over */
			s->have = false;
			break;
		}
		s->cur = next;
		s->have = true;
		s->cur_expired = bpf_map_lookup_elem(fd, &s->cur, &val) == 0 &&
				 s->expired(&val, now, &d->set->cfg);
		if (i % 64 == 0 && now_boot_ns() > deadline)
			break; /* go on from here next tick */
	}
	if (list)
		close(fd);
}

/* An interface that goes away takes its XDP link with it: say so once. */
static void check_links(struct daemon *d)
{
	for (int i = 0; i < d->n_ifs; i++) {
		struct iface *ifc = &d->ifs[i];
		struct bpf_link_info info = {};
		uint32_t len = sizeof(info);

		if (ifc->link_fd < 0 || ifc->gone || bpf_obj_get_info_by_fd(ifc->link_fd, &info, &len))
			continue;
		if (info.xdp.ifindex == 0) {
			ifc->gone = true;
			pr_err("msg=\"the interface is gone; it is no longer gated (restart mailgate once it is back)\" iface=%s",
			       ifc->name);
		}
	}
}

/* ---- the state file (user/state.c) ---- */

/* $MAILGATE_STATE_DIR, else [gate] state_dir; created (root's, 0700) while
 * the daemon still may; "" = none */
static void state_setup(struct daemon *d)
{
	const char *dir = getenv("MAILGATE_STATE_DIR");
	int err;

	if (!dir || !*dir)
		dir = d->set->state_dir;
	if (!strcmp(dir, "none")) {
		pr_info("msg=\"no state file (state_dir = none): bans and CLI entries do not survive a reboot or detach\"");
		return;
	}
	err = mkdir_parents(dir);
	if (!err)
		err = state_path(dir, opts.pin_dir, d->state_file, sizeof(d->state_file));
	if (err) {
		d->state_file[0] = 0;
		pr_warn("msg=\"cannot use the state dir; bans and CLI entries do not survive a reboot or detach\" dir=%s err=\"%s\"",
			dir, strerror(-err));
		return;
	}
	d->state_dirty = true; /* written on the first tick */
}

/* The pinned maps are new (a reboot, a detach): put back what the state
 * file holds. A file that does not check out is moved aside whole. */
static void state_load(struct daemon *d)
{
	char err[256], aside[PATH_MAX + 64], when[32];
	size_t n, expired;
	time_t t = time(NULL);
	int r;

	if (!d->state_file[0])
		return;
	r = state_restore(&d->gate, d->state_file, d->set->cfg.ban_time_max_ns, &n, &expired, err, sizeof(err));
	if (r == -ENOENT) {
		pr_info("msg=\"no state file yet; starting empty\" path=%s", d->state_file);
	} else if (r == -EBADMSG) {
		strftime(when, sizeof(when), "%Y%m%dT%H%M%SZ", gmtime(&t));
		snprintf(aside, sizeof(aside), "%s.corrupt-%s", d->state_file, when);
		if (rename(d->state_file, aside))
			snprintf(aside, sizeof(aside), "(not moved: %s)", strerror(errno));
		pr_err("msg=\"state file refused, nothing restored; starting empty\" path=%s err=\"%s\" moved_to=%s",
		       d->state_file, err, aside);
	} else if (r && n == 0 && expired == 0 && !err[0]) {
		pr_err("msg=\"cannot read the state file; starting empty\" path=%s err=\"%s\"", d->state_file,
		       strerror(-r));
	} else {
		if (r)
			pr_warn("msg=\"state file partly restored\" path=%s err=\"%s\"", d->state_file, err);
		pr_info("msg=\"state restored\" path=%s entries=%zu expired=%zu", d->state_file, n, expired);
	}
}

/* Once a tick (and at exit): write the state file when something changed:
 * a CLI change (mg_ctl.changes), a ban the data path made or the sweep
 * removed, or the ban maps' census (what bypasses the CLI). */
static void state_tick(struct daemon *d, bool final)
{
	uint32_t changes;
	struct census c;
	size_t n;
	int err;

	if (!d->state_file[0])
		return;
	changes = gate_changes(&d->gate);
	if (census_read(&d->gate, &c))
		c.entries[GM_BAN] = c.entries[GM_BAN_QUOTA] = 0;
	if (!final && !d->state_dirty && changes == d->state_changes &&
	    c.entries[GM_BAN] == d->state_entries[0] && c.entries[GM_BAN_QUOTA] == d->state_entries[1])
		return;
	err = state_save(&d->gate, d->state_file, final || d->state_lists_dirty || changes != d->state_changes, &n);
	if (err) {
		log_ratelimited("state_write", 60 * NSEC_PER_SEC, LOG_LVL_WARN,
				"msg=\"cannot write the state file\" path=%s err=\"%s\"", d->state_file, strerror(-err));
		return;
	}
	d->state_dirty = d->state_lists_dirty = false;
	d->state_changes = changes;
	d->state_entries[0] = c.entries[GM_BAN];
	d->state_entries[1] = c.entries[GM_BAN_QUOTA];
	pr_debug("msg=\"state written\" path=%s entries=%zu", d->state_file, n);
}

/* ---- least privilege ---- */

/* Loaded and attached: load the census iterator now (it needs CAP_BPF and
 * CAP_PERFMON; the metrics thread, which uses it, keeps nothing), then keep
 * MG_RUNTIME_CAPS only. Threads started later inherit that; the DNSBL thread
 * (already running) drops all of its own. */
static void drop_privileges(struct daemon *d)
{
	char before[256], after[256];
	uint64_t was = caps_effective();
	struct census c;
	int err;

	census_read(&d->gate, &c);
	err = caps_limit(MG_RUNTIME_CAPS);
	if (err) {
		pr_warn("msg=\"cannot drop capabilities; running with all it has\" err=\"%s\"", strerror(-err));
		return;
	}
	pr_info("msg=\"capabilities dropped\" kept=%s before=%s", caps_names(caps_effective(), after, sizeof(after)),
		caps_names(was, before, sizeof(before)));
}

/* ---- the command ---- */

static int run_add_iface(const char *v, void *o)
{
	struct daemon *d = o;
	struct iface *ifc = &d->ifs[d->n_ifs];

	if (d->n_ifs == MAX_IFACES)
		return fail(EXIT_USAGE, "run: at most %d interfaces", MAX_IFACES);
	if (!*v || strlen(v) >= IF_NAMESIZE || !(ifc->ifindex = if_nametoindex(v)))
		return fail(EXIT_USAGE, "run: unknown interface '%s'", v);
	for (int j = 0; j < d->n_ifs; j++)
		if (d->ifs[j].ifindex == ifc->ifindex)
			return fail(EXIT_USAGE, "run: interface '%s' given twice", v);
	snprintf(ifc->name, sizeof(ifc->name), "%s", v);
	ifc->link_fd = -1;
	d->n_ifs++;
	return 0;
}

static int run_set_config(const char *v, void *o)
{
	if (!*v)
		return fail(EXIT_USAGE, "run: -c needs a file name");
	opts.config = v;
	((struct daemon *)o)->config_given = true;
	return 0;
}

static const struct cli_opt run_table[] = {
	CLI_FUNC("interface", 'i', "IFACE", run_add_iface, "gate this interface (up to 16: -i A -i B)", NULL,
		 .flags = CLI_REQUIRED | CLI_REPEAT),
	CLI_FUNC("config", 'c', "FILE", run_set_config, "the config file (default " MG_DEFAULT_CONFIG ")", NULL),
	CLI_ENUM("mode", 0, struct daemon, mode, attach_mode_names, "how to attach XDP (default auto: native, else generic)",
		 "run: bad --mode '%s' (native, generic or auto)", .arg = "native|generic|auto"),
	CLI_FLAG("dry-run", 0, struct daemon, dry_run, "observe only: judge and count, drop nothing"),
	CLI_END
};
const struct cli_cmd cli_run = { "run", NULL, "the daemon: load, attach and run the gate", run_table };

static int setup_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, set, NULL))
		return -errno;
	return signalfd(-1, set, SFD_CLOEXEC | SFD_NONBLOCK);
}

/* The loop drains the event ring buffer: each tick it tells the data path
 * so (mg_ctl.alive_until_ns); once that runs out (the daemon died, hangs, or
 * stopped with keep_attached = yes), the data path asks no DNSBL question
 * and holds nothing (pass_unasked). */
static void heartbeat(struct daemon *d, uint64_t now)
{
	struct mg_ctl ctl = { 0 };
	char dur[32];

	gate_read_ctl(&d->gate, &ctl);
	if (ctl.alive_until_ns && ctl.alive_until_ns < now && d->rt.dnsbl)
		pr_warn("msg=\"the heartbeat ran out: the data path skipped the DNSBL step (pass_unasked)\" for=%s",
			format_duration(now - ctl.alive_until_ns, dur, sizeof(dur)));
	if (gate_heartbeat(&d->gate, now + MG_HEARTBEAT_NS))
		pr_warn("msg=\"cannot write the heartbeat into %s\" err=\"%s\"", gate_map_names[GM_CTL], strerror(errno));
}

/* systemd's status line (systemctl status): the interfaces, and the
 * CrowdSec bouncer's state when it runs; sent with READY=1 at start
 * (ready), then whenever it changes */
static void notify_status(struct daemon *d, bool ready)
{
	const struct crowdsec_stats *cs = &d->rt.crowdsec;
	char buf[sizeof(d->sd_status)];
	int n = snprintf(buf, sizeof(buf), "gating %d interface(s)", d->n_ifs);

	if (d->crowdsec && n > 0 && n < (int)sizeof(buf))
		snprintf(buf + n, sizeof(buf) - n, "; crowdsec %s: %llu bans, %llu deny ranges",
			 __atomic_load_n(&cs->up, __ATOMIC_RELAXED) ? "up" :
			 !__atomic_load_n(&cs->polls_failed, __ATOMIC_RELAXED) ? "connecting" : "away (retrying)",
			 (unsigned long long)__atomic_load_n(&cs->bans, __ATOMIC_RELAXED),
			 (unsigned long long)__atomic_load_n(&cs->denies, __ATOMIC_RELAXED));
	if (ready || strcmp(buf, d->sd_status)) {
		snprintf(d->sd_status, sizeof(d->sd_status), "%s", buf);
		sd_notifyf(0, "%sSTATUS=%s", ready ? "READY=1\n" : "", buf);
	}
}

#define NETSTAT_TICK_NS 100000000ULL /* the TcpExt counters are read ten times a second */

/* Read this namespace's TcpExt counters; the ones that grew since the last
 * reading go to the data path (mg_ctl.trouble). Logged when trouble starts
 * and when it has been over for MG_TROUBLE_NS, with what the counters did. */
static void netstat_tick(struct daemon *d, uint64_t now)
{
	struct netstat cur;
	uint32_t bits;
	char names[96], deltas[160] = "";
	int err = netstat_read(NULL, &cur);

	d->next_netstat = now + NETSTAT_TICK_NS;
	if (err) {
		if (d->netstat_ok)
			pr_warn("msg=\"cannot read /proc/net/netstat: the kernel's SYN trouble is not watched\" err=\"%s\"",
				strerror(-err));
		d->netstat_ok = false;
		return;
	}
	bits = d->netstat_ok ? netstat_trouble(&d->netstat, &cur) : 0;
	if (bits) {
		if (gate_trouble(&d->gate, bits, now) && !d->trouble_ns) /* once per episode */
			pr_warn("msg=\"cannot write the kernel's SYN trouble into %s\" err=\"%s\"", gate_map_names[GM_CTL],
				strerror(errno));
		if (!d->trouble_ns) {
			d->trouble_from = d->netstat;
			pr_warn("msg=\"the kernel reports SYN trouble in this namespace\" counters=%s",
				trouble_names(bits, names, sizeof(names)));
		}
		d->trouble_ns = now;
	} else if (d->trouble_ns && now - d->trouble_ns >= MG_TROUBLE_NS) {
		for (int i = 0, n = 0; i < NETSTAT_FIELDS; i++)
			n += snprintf(deltas + n, sizeof(deltas) - n, " %s=%llu", netstat_name(i),
				      (unsigned long long)(cur.v[i] - d->trouble_from.v[i]));
		pr_info("msg=\"the kernel's SYN trouble is over\"%s", deltas);
		d->trouble_ns = 0;
	}
	d->netstat = cur;
	d->netstat_ok = true;
}

/* One step of the loop; returns 0 to go on, 1 on SIGTERM/SIGINT, -errno on failure. */
static int loop_once(struct daemon *d, int ep, int sfd, uint64_t *next_tick)
{
	struct epoll_event evs[4];
	uint64_t now = now_boot_ns();
	uint64_t due = d->next_netstat < *next_tick ? d->next_netstat : *next_tick;
	int timeout = now >= due ? 0 : (int)((due - now) / 1000000) + 1;
	int n = epoll_wait(ep, evs, 4, timeout);

	if (n < 0 && errno != EINTR)
		return -errno;
	for (int i = 0; i < n; i++) {
		if (evs[i].data.fd == sfd) {
			struct signalfd_siginfo si;

			while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo == SIGHUP) {
					pr_info("msg=\"SIGHUP: reloading\" path=%s", opts.config);
					reload(d);
				} else {
					pr_info("msg=\"%s: stopping\"", si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
					return 1;
				}
			}
		} else if (d->resp.link && (evs[i].data.fd == d->resp.fd[0] || evs[i].data.fd == d->resp.fd[1])) {
			responder_answer(evs[i].data.fd, &d->gate, d->set, &d->rt);
		} else if (ring_buffer__consume(d->rb) < 0) {
			pr_warn("msg=\"ring buffer read failed\"");
		}
	}
	now = now_boot_ns();
	if (now >= d->next_netstat)
		netstat_tick(d, now);
	if (now >= *next_tick) {
		heartbeat(d, now);
		for (int i = 0; i < 4; i++)
			sweep_tick(d, &d->sweeps[i], now);
		check_links(d);
		log_map_fill(&d->gate);
		state_tick(d, false);
		notify_status(d, false);
		if (d->rt.cookies)
			cookie_keys_rotate(&d->gate, now);
		*next_tick = now + TICK_MS * 1000000ULL;
	}
	return 0;
}

static void daemon_init(struct daemon *d)
{
	memset(d, 0, sizeof(*d));
	d->lock_fd = -1;
	d->resp.fd[0] = d->resp.fd[1] = -1;
	d->ep = -1;
	for (int i = 0; i < GM_MAX; i++)
		d->gate.fd[i] = -1;
	d->sweeps[0] = (struct sweep){ .map = GM_BAN, .expired = ban_expired, .what = "ban" };
	d->sweeps[1] = (struct sweep){ .map = GM_DENY, .expired = rule_expired, .what = "deny" };
	d->sweeps[2] = (struct sweep){ .map = GM_ALLOW, .expired = rule_expired, .what = "allow" };
	d->sweeps[3] = (struct sweep){ .map = GM_BAN_QUOTA, .expired = ban_expired, .what = "ban" };
}

/* The size of the pinned maps wins over max_sources: resizing drops state. */
static uint32_t pinned_max_sources(const char *pin_dir)
{
	struct bpf_map_info info;
	char path[PATH_MAX];
	int fd;

	if (pin_path(path, pin_dir, gate_map_names[GM_SRC], ""))
		return 0;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;
	if (map_info(fd, &info))
		info.max_entries = 0;
	close(fd);
	return info.max_entries;
}

/* what do_run's steps share besides the daemon */
struct run_ctx {
	int sfd;          /* the signalfd, -1 before it exists */
	uint32_t pinned;  /* 0: the maps are new, pinned by this run */
	bool started;     /* the loop ran */
	sigset_t sigs;
};

/* Settings, pin dir, lock, signals, the data path loaded: 0, or the exit
 * code after a message (nothing attached yet). */
static int run_prepare(struct daemon *d, struct run_ctx *x)
{
	struct gate_sizes sizes;
	char err_msg[512] = "";
	int err, r, holder = 0;

	d->set = calloc(1, sizeof(*d->set));
	if (!d->set)
		return fail(EXIT_FAIL, "run: out of memory");
	r = read_settings(d, d->set, err_msg, sizeof(err_msg));
	if (r < 0)
		return fail(EXIT_USAGE, "%s", err_msg);
	if (r > 0)
		pr_info("msg=\"no config file, using the defaults\" path=%s", opts.config);

	err = mkdir_parents(opts.pin_dir);
	if (!err)
		err = check_bpffs(opts.pin_dir);
	if (err == -EXDEV)
		return fail(EXIT_FAIL, "%s is not on a bpf filesystem (mount -t bpf bpf /sys/fs/bpf)", opts.pin_dir);
	if (err)
		return fail(EXIT_FAIL, "cannot create pin dir %s: %s", opts.pin_dir, strerror(-err));
	d->lock_fd = lock_pin_dir(opts.pin_dir, &holder);
	if (d->lock_fd == -EBUSY) {
		if (holder)
			return fail(EXIT_FAIL, "another mailgate daemon (pid %d) is running on %s", holder, opts.pin_dir);
		return fail(EXIT_FAIL, "another mailgate daemon is running on %s", opts.pin_dir);
	} else if (d->lock_fd < 0) {
		return fail(EXIT_FAIL, "cannot lock %s: %s", opts.pin_dir, strerror(-d->lock_fd));
	}

	/* signals are blocked before any thread starts, so all go to the signalfd */
	x->sfd = setup_signals(&x->sigs);
	if (x->sfd < 0)
		return fail(EXIT_FAIL, "cannot set up signals: %s", strerror(errno));

	sizes.max_sources = d->set->max_sources;
	sizes.xdp_per_iface = true; /* attach_iface loads it, device-bound */
	x->pinned = pinned_max_sources(opts.pin_dir);
	if (x->pinned && x->pinned != sizes.max_sources) {
		pr_warn("msg=\"the pinned maps keep their size; 'mailgate detach' and a restart resize them (dropping all state)\" max_sources=%u pinned=%u",
			sizes.max_sources, x->pinned);
		sizes.max_sources = x->pinned;
	}
	err = gate_load(&d->gate, opts.pin_dir, &sizes);
	if (err)
		return fail(EXIT_FAIL, "cannot load the data path: %s", strerror(-err));
	d->set->max_sources = sizes.max_sources;
	err = run_config_record(opts.pin_dir, r > 0 ? NULL : opts.config);
	if (err)
		pr_warn("msg=\"cannot record the config path for the CLI\" err=\"%s\"", strerror(-err));
	return 0;
}

/* the event loop's epoll set: signals, the ring buffer, the responder */
static int run_epoll(struct daemon *d, int sfd)
{
	struct epoll_event ev;

	d->rb = ring_buffer__new(d->gate.fd[GM_EVENTS], on_event, d, NULL);
	d->ep = epoll_create1(EPOLL_CLOEXEC);
	if (!d->rb || d->ep < 0)
		return -errno;
	ev = (struct epoll_event){ .events = EPOLLIN, .data.fd = sfd };
	epoll_ctl(d->ep, EPOLL_CTL_ADD, sfd, &ev);
	ev = (struct epoll_event){ .events = EPOLLIN, .data.fd = ring_buffer__epoll_fd(d->rb) };
	epoll_ctl(d->ep, EPOLL_CTL_ADD, ev.data.fd, &ev);
	for (int i = 0; d->resp.link && i < 2; i++) {
		ev = (struct epoll_event){ .events = EPOLLIN, .data.fd = d->resp.fd[i] };
		epoll_ctl(d->ep, EPOLL_CTL_ADD, d->resp.fd[i], &ev);
	}
	return 0;
}

/* Loaded: DNSBL, settings, state, the interfaces attached, privileges
 * dropped, the event loop and the threads set up. 0, or the exit code
 * after a message (the caller removes what this attached). */
static int run_attach(struct daemon *d, struct run_ctx *x)
{
	int err;

	d->rt.gate = &d->gate;
	d->rt.start_ns = now_boot_ns();
	if (dnsbl_wanted(d->set)) {
		d->rt.dnsbl = dnsbl_start(d->set, &d->gate);
		if (!d->rt.dnsbl)
			pr_warn("msg=\"dnsbl did not start; the DNSBL step stays off\"");
	}
	cookie_start(d);
	if (apply_settings(d, d->set))
		return fail(EXIT_FAIL, "cannot apply the configuration");
	state_setup(d);
	if (!x->pinned)
		state_load(d);
	/* the first heartbeat before the program is attached: questions sent
	 * from now on wait in the ring buffer for the loop, seconds away */
	heartbeat(d, now_boot_ns());

	for (int i = 0; i < d->n_ifs; i++) {
		struct iface *ifc = &d->ifs[i];

		err = attach_iface(d, ifc);
		if (err)
			return fail(EXIT_FAIL, "cannot attach to %s: %s", ifc->name, strerror(-err));
		pr_info("msg=\"attached\" iface=%s mode=%s link=%s link_id=%u device_bound=%s", ifc->name,
			xdp_mode_name(ifc->ifindex), ifc->adopted ? "adopted" : "new", fd_id(ifc->link_fd),
			ifc->bound ? "yes" : "no");
	}
	warn_other_links(d);
	warn_reset_veth(d);
	err = attach_sock_state(d);
	if (err)
		return fail(EXIT_FAIL, "cannot attach the TCP state tracer: %s", strerror(-err));

	drop_privileges(d);

	if (run_epoll(d, x->sfd))
		return fail(EXIT_FAIL, "cannot set up the event loop: %s", strerror(errno));

	d->metrics = metrics_start(d->set, &d->rt);
	if (d->set->crowdsec_url[0]) {
		d->crowdsec = crowdsec_start(d->set, &d->gate, &d->rt.crowdsec);
		if (!d->crowdsec)
			pr_warn("msg=\"crowdsec bouncer did not start; no CrowdSec decisions are applied\"");
	}
	return 0;
}

/* Run until SIGTERM/SIGINT, then stop as keep_attached says: the exit code. */
static int run_loop(struct daemon *d, struct run_ctx *x)
{
	uint64_t next_tick;
	bool detach;
	int r, code;

	pr_info("msg=\"running\" pin_dir=%s mode=%s action=%s dnsbl=%s metrics=%s crowdsec=%s pid=%d", opts.pin_dir,
		d->dry_run || d->set->cfg.mode == MG_MODE_OBSERVE ? "observe" : "enforce",
		d->set->cfg.action == MG_ACTION_RESET ? "reset" : "drop",
		d->rt.dnsbl ? "on" : "off", d->metrics ? d->set->metrics_listen : "off",
		d->crowdsec ? "on" : "off", getpid());
	notify_status(d, true);
	x->started = true;

	next_tick = now_boot_ns();
	while ((r = loop_once(d, d->ep, x->sfd, &next_tick)) == 0)
		;
	if (r < 0) {
		pr_err("msg=\"event loop failed\" err=\"%s\"", strerror(-r));
		code = EXIT_FAIL;
	} else {
		code = EXIT_OK;
	}
	sd_notify(0, "STOPPING=1");
	if (d->resp.link) { /* a program left attached drops what it rejected */
		d->stopping = true;
		apply_settings(d, d->set);
	}
	gate_heartbeat(&d->gate, 0); /* nobody drains the ring buffer from now on */
	state_tick(d, true);
	if (d->rt.dnsbl)
		pr_info("msg=\"DNSBL step off until a daemon runs again (unknown sources pass unasked)\"");
	detach = !d->set->keep_attached;
	if (!detach)
		pr_info("msg=\"leaving the program attached (keep_attached = yes)\"");
	release_links(d, detach, false);
	cookie_stop(d, detach);
	return code;
}

/* everything do_run's steps opened, in reverse */
static void run_close(struct daemon *d, struct run_ctx *x)
{
	if (!x->started && !x->pinned) { /* the maps were new: unpin them too */
		int n = 0, n_left;
		char left[512];

		remove_pins(opts.pin_dir, &n, left, sizeof(left), &n_left);
	}
	crowdsec_stop(d->crowdsec);
	metrics_stop(d->metrics);
	responder_stop(&d->resp);
	if (d->rt.dnsbl)
		dnsbl_stop(d->rt.dnsbl);
	ring_buffer__free(d->rb);
	if (d->ep >= 0)
		close(d->ep);
	if (x->sfd >= 0)
		close(x->sfd);
	if (d->gate.skel || d->gate.fd[0] >= 0)
		gate_close(&d->gate);
	if (d->lock_fd >= 0)
		close(d->lock_fd);
	free(d->set);
}

int do_run(int argc, char **argv)
{
	static struct daemon dm;
	struct daemon *d = &dm;
	struct run_ctx x = { .sfd = -1, .pinned = 1 };
	int code, npos;

	daemon_init(d);
	code = cli_parse(&cli_run, argc, argv, d, &npos);
	if (code != CLI_GO)
		return code;
	if (!d->n_ifs)
		return fail(EXIT_USAGE, "run: no interface: give -i IFACE");
	if (strlen(opts.pin_dir) > PATH_MAX - 64)
		return fail(EXIT_USAGE, "run: --pin-dir: name too long");
	if (!privileged())
		return fail(EXIT_FAIL, "run: needs root (or CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON)");

	code = run_prepare(d, &x);
	if (!code) {
		code = run_attach(d, &x);
		if (code) {
			/* a failed start removes only what it created: adopted links keep the
			 * interface protected with the maps of the earlier run */
			release_links(d, true, true);
			cookie_stop(d, false);
		} else {
			code = run_loop(d, &x);
		}
	}
	run_close(d, &x);
	if (code == EXIT_OK)
		pr_info("msg=\"stopped\"");
	return code;
}

/* ---- `mailgate detach` ---- */

static bool is_xdp_link_pin(const char *name)
{
	return !strncmp(name, MG_PIN_LINK_XDP, strlen(MG_PIN_LINK_XDP)) && name[strlen(MG_PIN_LINK_XDP)];
}

/* Detach the link pinned at path and remove the pin; returns its id. */
static uint32_t remove_link(const char *path)
{
	int fd = bpf_obj_get(path);
	uint32_t id = 0;

	if (fd >= 0) {
		id = fd_id(fd);
		bpf_link_detach(fd); /* fails harmlessly for a link whose device is gone */
		close(fd);
	}
	unlink(path);
	return id;
}

/* Remove mailgate's pins under dir (gate_pin_is_ours()), then dir when
 * nothing else is left in it. Anything else (another program's pin, a
 * folder) stays; its names go into left ("a, b/", "" when none) and
 * *n_left counts them. */
static int remove_pins(const char *dir, int *count, char *left, size_t left_len, int *n_left)
{
	DIR *dh = opendir(dir);
	struct dirent *e;
	char path[PATH_MAX];
	size_t off = 0;
	int err = 0;

	if (left_len)
		left[0] = 0;
	*n_left = 0;
	if (!dh)
		return -errno;
	while ((e = readdir(dh))) {
		bool ours = e->d_type != DT_DIR && gate_pin_is_ours(e->d_name);

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (!ours) {
			(*n_left)++;
			if (off < left_len)
				off += snprintf(left + off, left_len - off, "%s%s%s", off ? ", " : "",
						e->d_name, e->d_type == DT_DIR ? "/" : "");
			continue;
		}
		if (pin_path(path, dir, e->d_name, ""))
			err = -ENAMETOOLONG;
		else if (unlink(path))
			err = -errno;
		else
			(*count)++;
	}
	closedir(dh);
	if (!*n_left && rmdir(dir) && !err)
		err = -errno;
	return err;
}

struct detach_opts {
	const char *want[MAX_IFACES]; /* -i: these interfaces only; none: every one */
	int n_want;
};

static int detach_add_iface(const char *v, void *opts)
{
	struct detach_opts *o = opts;

	if (!*v || strlen(v) >= IF_NAMESIZE || strchr(v, '/'))
		return fail(EXIT_USAGE, "detach: bad interface name '%s'", v);
	if (o->n_want == MAX_IFACES)
		return fail(EXIT_USAGE, "detach: at most %d interfaces", MAX_IFACES);
	o->want[o->n_want++] = v;
	return 0;
}

static const struct cli_opt detach_table[] = {
	CLI_FUNC("interface", 'i', "IFACE", detach_add_iface, "this interface only (repeatable; default: every one)",
		 NULL, .flags = CLI_REPEAT),
	CLI_END
};
const struct cli_cmd cli_detach = { "detach", NULL, "detach the gate; the last interface takes the pinned maps along",
				    detach_table };

/* what detach did */
struct detach_result {
	char names[256][NAME_MAX + 1]; /* the interfaces detached */
	uint32_t link_id[256];
	int n;
	int removed;       /* pins removed */
	int left;          /* interfaces still attached */
	int n_foreign;     /* entries of the pin dir that are not mailgate's, left in place */
	char foreign[1024];
};

/* The pins of the interfaces to detach (all with no -i) into r->names:
 * 0, or the exit code after a message. */
static int detach_pick(const struct detach_opts *o, struct detach_result *r)
{
	char path[PATH_MAX];
	struct dirent *e;
	DIR *dh;

	/* check every name before removing anything */
	for (int i = 0; i < o->n_want; i++)
		if (pin_path(path, opts.pin_dir, MG_PIN_LINK_XDP, o->want[i]) || access(path, F_OK))
			return fail(EXIT_FAIL, "%s: no mailgate link under %s", o->want[i], opts.pin_dir);
	dh = opendir(opts.pin_dir);
	if (!dh)
		return fail(EXIT_FAIL, "%s: %s", opts.pin_dir, strerror(errno));
	while ((e = readdir(dh)) && r->n < 256) {
		bool chosen = !o->n_want;

		if (!is_xdp_link_pin(e->d_name))
			continue;
		for (int i = 0; i < o->n_want; i++)
			chosen |= !strcmp(e->d_name + strlen(MG_PIN_LINK_XDP), o->want[i]);
		if (chosen)
			snprintf(r->names[r->n++], sizeof(r->names[0]), "%s", e->d_name + strlen(MG_PIN_LINK_XDP));
		else
			r->left++;
	}
	closedir(dh);
	return 0;
}

/* Detach r->names; with no interface left, the tracers and the pins too.
 * 0 or -errno (a pin that could not be removed). */
static int detach_links(struct detach_result *r)
{
	static const char *const tracers[] = { MG_PIN_LINK_SOCK_STATE, MG_PIN_LINK_SOCK_STATE2 };
	char path[PATH_MAX];
	int err;

	for (int i = 0; i < r->n; i++) {
		r->link_id[i] = pin_path(path, opts.pin_dir, MG_PIN_LINK_XDP, r->names[i]) ? 0 : remove_link(path);
		if (!pin_path(path, opts.pin_dir, MG_PIN_LINK_TC, r->names[i]))
			cookie_tc_detach(path); /* its SYN-cookie TC link, if any */
	}
	if (r->left)
		return 0;
	/* the last interface: the tracer, the maps and the pin dir go too */
	for (int i = 0; i < 2; i++) {
		if (!pin_path(path, opts.pin_dir, tracers[i], "") && !access(path, F_OK)) {
			remove_link(path);
			r->removed++;
		}
	}
	err = remove_pins(opts.pin_dir, &r->removed, r->foreign, sizeof(r->foreign), &r->n_foreign);
	if (r->n_foreign)
		fprintf(stderr, "mailgate: warning: left in place under %s, not mailgate's: %s\n", opts.pin_dir,
			r->foreign);
	return err;
}

static void detach_print_json(const struct detach_result *r)
{
	struct json_object *doc = json_object_new_object(), *list = json_object_new_array();

	json_object_object_add(doc, "pin_dir", json_object_new_string(opts.pin_dir));
	json_object_object_add(doc, "detached", list);
	for (int i = 0; i < r->n; i++) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "iface", json_object_new_string(r->names[i]));
		json_object_object_add(o, "link_id", json_object_new_int64(r->link_id[i]));
		json_object_array_add(list, o);
	}
	json_object_object_add(doc, "pins_removed", json_object_new_int(r->removed));
	json_object_object_add(doc, "pin_dir_removed", json_object_new_boolean(!r->left && !r->n_foreign));
	json_object_object_add(doc, "foreign_left", json_object_new_int(r->n_foreign));
	json_object_object_add(doc, "interfaces_left", json_object_new_int(r->left));
	json_out(doc);
}

static void detach_print_text(const struct detach_result *r)
{
	for (int i = 0; i < r->n; i++)
		printf("detached %s (link %u)\n", r->names[i], r->link_id[i]);
	if (!r->left && r->n_foreign)
		printf("removed %d pins; %s stays (%d entries that are not mailgate's)\n", r->removed, opts.pin_dir,
		       r->n_foreign);
	else if (!r->left)
		printf("removed %d pins and %s\n", r->removed, opts.pin_dir);
	else
		printf("%d interface(s) still attached; the maps stay pinned under %s\n", r->left, opts.pin_dir);
}

/* the pin dir is there, on bpffs, and no daemon runs on it: the lock's fd,
 * or the exit code after a message (as a negative number) */
static int detach_lock(void)
{
	int holder = 0, lock_fd, err = check_bpffs(opts.pin_dir);

	if (err == -ENOENT)
		return -fail(EXIT_FAIL, "nothing to detach: %s does not exist", opts.pin_dir);
	if (err == -EXDEV)
		return -fail(EXIT_FAIL, "%s is not on a bpf filesystem", opts.pin_dir);
	if (err)
		return -fail(EXIT_FAIL, "%s: %s", opts.pin_dir, strerror(-err));
	lock_fd = lock_pin_dir(opts.pin_dir, &holder);
	if (lock_fd == -EBUSY && holder)
		return -fail(EXIT_FAIL, "a mailgate daemon (pid %d) is running on %s; stop it first (SIGTERM detaches it)",
			     holder, opts.pin_dir);
	if (lock_fd == -EBUSY)
		return -fail(EXIT_FAIL, "a mailgate daemon is running on %s; stop it first (SIGTERM detaches it)",
			     opts.pin_dir);
	if (lock_fd < 0)
		return -fail(EXIT_FAIL, "cannot lock %s: %s", opts.pin_dir, strerror(-lock_fd));
	return lock_fd;
}

int do_detach(int argc, char **argv)
{
	static struct detach_result r;
	struct detach_opts o = { .n_want = 0 };
	int rc, npos, lock_fd;

	rc = cli_parse(&cli_detach, argc, argv, &o, &npos);
	if (rc != CLI_GO)
		return rc;
	if (strlen(opts.pin_dir) > PATH_MAX - 64)
		return fail(EXIT_USAGE, "detach: --pin-dir: name too long");
	if (!privileged())
		return fail(EXIT_FAIL, "detach: needs root (or CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON)");
	lock_fd = detach_lock();
	if (lock_fd < 0)
		return -lock_fd;
	memset(&r, 0, sizeof(r));
	rc = detach_pick(&o, &r);
	if (!rc && (rc = detach_links(&r)))
		rc = fail(EXIT_FAIL, "cannot remove every pin under %s: %s", opts.pin_dir, strerror(-rc));
	close(lock_fd);
	if (rc)
		return rc;
	if (opts.json)
		detach_print_json(&r);
	else
		detach_print_text(&r);
	return EXIT_OK;
}
