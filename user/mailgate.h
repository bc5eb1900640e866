/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* mailgate userspace: the interfaces between the binary's modules, one
 * section per file in user/. A module with an interface of its own has its
 * own header: cli.h (options, output, subcommands), metrics.h (the /metrics
 * server), prom.h (the Prometheus text format), dnsbl.h (the DNSBL module's
 * internals), crowdsec.h, listset.h, zone.h. */
#ifndef MAILGATE_USER_H
#define MAILGATE_USER_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <limits.h>
#include <stdio.h>
#include "gate.h"

#define MG_DEFAULT_PIN_DIR "/sys/fs/bpf/mailgate"
#define MG_DEFAULT_CONFIG  "/etc/mailgate/mailgate.conf"
#define NSEC_PER_SEC 1000000000ULL

struct json_object;

/* ---- log.c: one logging module, key=value fields, to stderr ---- */
enum log_level { LOG_LVL_ERROR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };
extern enum log_level log_level;
void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define pr_err(...)   log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define pr_warn(...)  log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define pr_info(...)  log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define pr_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)
/* route libbpf's messages through log_msg (shown with -v only) */
void log_setup_libbpf(void);
/* another library's message (libbpf, libmicrohttpd) made fit for a
 * text="..." field: formatted into buf, trailing newlines cut, double
 * quotes made single; returns buf */
const char *log_text(char *buf, size_t len, const char *fmt, va_list ap);

/* Log at most once per interval_ns for each key (a short fixed string, e.g.
 * "map_full:mg_src" or "dnsbl_zone:zen.spamhaus.org"). The first line after
 * a quiet spell carries suppressed=N: N similar messages were dropped since
 * the last one printed. Thread-safe; true when the line was printed. */
bool log_ratelimited(const char *key, uint64_t interval_ns, enum log_level lvl,
		     const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Warn about maps where full means refusal (the lists; any map that is not
 * LRU) at or over LOG_MAP_FULL_PCT % of their capacity, and say when one is
 * back under. For LRU maps (full = the oldest entries are recycled) estimate
 * the turnover instead (log_map_turnover()); when full, say so at info
 * level, and warn only when entries live shorter than LOG_MAP_SHORT_LIFE_NS.
 * At most once per LOG_MAP_FULL_EVERY_NS per map. The daemon calls it every
 * few seconds; it counts at most every LOG_MAP_FILL_CHECK_NS. Returns how
 * many maps are warned about, or -errno. */
#define LOG_MAP_FULL_PCT       90
#define LOG_MAP_FULL_EVERY_NS  (600 * NSEC_PER_SEC)
#define LOG_MAP_FILL_CHECK_NS  (10 * NSEC_PER_SEC)
#define LOG_MAP_SHORT_LIFE_NS  (60 * NSEC_PER_SEC)
struct gate;
int log_map_fill(struct gate *g);
/* the last turnover estimate of an LRU map (entries evicted or removed per
 * second, from 64 sampled keys between two checks); false when not known */
bool log_map_turnover(int map /* enum gate_map */, double *per_s);

/* ---- util.c: parsing and formatting of user values ---- */
/* All parsers return 0 or -EINVAL and never print. */
int parse_addr(const char *s, struct mg_addr *out);                 /* IPv4 or IPv6 */
int parse_cidr(const char *s, struct mg_lpm_key *out);              /* addr[/len]; host bits must be 0 */
int parse_duration(const char *s, uint64_t *ns);                    /* 30s 10m 1h 1d, plain = seconds */
/* 10/s 600/m 100/h, 0 = off; the interval (1/rate) 1 ns .. MG_RATE_MAX_INTERVAL_NS */
int parse_rate(const char *s, uint64_t *interval_ns);
#define MG_RATE_MAX_INTERVAL_NS (365 * 86400 * NSEC_PER_SEC) /* one per 365 days */
/* a token bucket's burst × interval: at most 2^62 ns (146 years), so that
 * the data path's sums of times never wrap */
#define MG_RATE_MAX_SPAN_NS (1ULL << 62)
/* 0 when burst × interval_ns fits MG_RATE_MAX_SPAN_NS (an interval of 0 = off fits) */
int rate_span_check(uint64_t interval_ns, uint32_t burst);
int parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out);
bool addr_is_v4(const struct mg_addr *a);
/* "192.0.2.1" / "2001:db8::1"; buf at least MG_ADDRSTRLEN */
#define MG_ADDRSTRLEN 64
const char *format_addr(const struct mg_addr *a, char *buf, size_t len);
const char *format_cidr(const struct mg_lpm_key *k, char *buf, size_t len); /* "192.0.2.0/24" */
const char *format_duration(uint64_t ns, char *buf, size_t len);          /* "10m", "1h30m" */
uint64_t now_boot_ns(void);                                          /* the clock the data path uses */

/* ---- gate.c: load the data path and pin its maps; open pinned maps ---- */
/* the data path's pinned maps, from MG_MAPS (include/gate.h): GM_CONFIG ... */
enum gate_map {
#define MG_X(id, name) GM_##id,
	MG_MAPS(MG_X)
#undef MG_X
	GM_MAX
};
/* Bans live in two maps: GM_BAN_QUOTA for the data path's own (origin
 * quota, LRU), GM_BAN for every other origin (a hash nothing evicts). */
static inline enum gate_map ban_map(uint32_t origin)
{
	return origin == MG_ORIGIN_QUOTA ? GM_BAN_QUOTA : GM_BAN;
}
extern const char *const gate_map_names[GM_MAX]; /* "mg_config" ...: the pin names */
/* links pinned under the pin dir by `mailgate run` (daemon.c) */
#define MG_PIN_LINK_XDP        "link_xdp_"       /* + interface name, one per interface */
#define MG_PIN_LINK_SOCK_STATE "link_sock_state" /* tp_btf/inet_sock_set_state */
#define MG_PIN_LINK_SOCK_STATE2 "link_sock_state2" /* its twin (bpf/gate.bpf.c, sock_state()) */
#define MG_PIN_LINK_TC         "link_tc_"        /* + interface name: the SYN-cookie TC program */

/* true when a pin named name (an entry of the pin dir) is one mailgate makes:
 * the BPF object's maps pinned by name, the links above, the DNSBL cache
 * maps (gate.c's one list of them). */
bool gate_pin_is_ours(const char *name);

struct gate_sizes {
	uint32_t max_sources; /* mg_src, mg_verdict; mg_ban_quota, mg_prefix, mg_verified get 1/4 */
	bool xdp_per_iface;   /* mg_xdp not loaded (skel->progs.mg_xdp has no fd): the
			       * daemon loads one per interface, gate_xdp_load() */
};

struct gate_bpf;
struct gate {
	struct gate_bpf *skel; /* NULL when only the pinned maps were opened */
	char pin_dir[PATH_MAX];
	int fd[GM_MAX];        /* map fds, -1 when not open */
	struct mg_ctl *ctl;    /* mg_ctl mmapped on first write (gate_ctl), else NULL */
};

/* Open and load the programs; maps are pinned under pin_dir by name and
 * reused when already pinned (a restart keeps all state). pin_dir is created. */
int gate_load(struct gate *g, const char *pin_dir, const struct gate_sizes *sizes);
/* mg_xdp loaded on its own, on g's maps (g loaded): device-bound to
 * ifindex (bpf/gate_dev.bpf.c: its cookie SYN-ACK puts back a VLAN tag the
 * NIC stripped; it attaches in native mode to that interface only, and
 * BPF_PROG_TEST_RUN refuses it), or with ifindex 0 the plain one of
 * gate.bpf.o. The program's fd (the caller's), or -errno (no such kfunc
 * before Linux 6.8, refused). */
int gate_xdp_load(struct gate *g, int ifindex);
bool gate_prog_dev_bound(int prog_fd);
bool gate_prog_id_dev_bound(uint32_t prog_id);
/* When VLAN clients behind ifindex get no cookie-correct SYN-ACK (rx VLAN
 * offload on, and the program is not device-bound or the driver has no
 * VLAN tag hint): a note in buf, else NULL. */
const char *gate_vlan_note(int ifindex, bool dev_bound, char *buf, size_t len);
/* Open every pinned map of a running (or dead) gate; -ENOENT when not there. */
int gate_open_pinned(struct gate *g, const char *pin_dir);
void gate_close(struct gate *g);
/* Fill an mg_config with the documented defaults. */
void gate_default_config(struct mg_config *c);
/* Write c into the mg_config slot not in effect, flip mg_ctl.config_slot to
 * it and wait until no packet can still be reading the old one (an RCU grace
 * period): the data path never sees a half-written config. */
int gate_write_config(struct gate *g, const struct mg_config *c);
/* The config in effect (the slot mg_ctl names). */
int gate_read_config(struct gate *g, struct mg_config *c);
/* The daemon's heartbeat: the data path asks DNSBL questions until
 * until_ns (CLOCK_BOOTTIME); 0 = now (nobody answers). */
int gate_heartbeat(struct gate *g, uint64_t until_ns);
/* the kernel's SYN trouble (MG_TROUBLE_* bits) as read at now, into mg_ctl */
int gate_trouble(struct gate *g, uint32_t trouble, uint64_t now);
/* A CLI change of the bans or lists: mg_ctl.changes + 1, so the daemon
 * writes its state file (state.c); gate_changes() reads the count. */
void gate_touch(struct gate *g);
uint32_t gate_changes(struct gate *g);
/* `top` watches until until_ns (CLOCK_BOOTTIME): the data path keeps the
 * sources the allow, deny, ban and DNSBL steps decided in mg_stopped until
 * then. Only ever moves the time forward (several tops at once). */
int gate_watch_stopped(struct gate *g, uint64_t until_ns);
/* mg_ctl as it is now (config slot, heartbeat) */
int gate_read_ctl(struct gate *g, struct mg_ctl *c);
/* ports[p] = class, for all 65536 ports (0 = not gated) */
int gate_write_ports(struct gate *g, const uint8_t *ports);
/* the default gated ports: smtp 25, submission 465 587, imap 143 993, pop3 110 995 */
void gate_default_ports(uint8_t *ports);
/* Sum the per-CPU counters: out[MG_COUNTER_SLOTS] */
int gate_read_counters(struct gate *g, uint64_t *out);
extern const char *const mg_reason_names[MG_REASON_MAX];
/* enum mg_flood_why: "threshold", "handshakes", "kernel" ("" for none) */
const char *flood_why_name(uint32_t why);
/* the same with what it means: "handshakes (gated SYNs stopped completing handshakes)" */
const char *flood_why_text(uint32_t why);
extern const char *const mg_class_names[MG_CLASS_MAX];

/* ---- runinfo.c: the config file the daemon runs with ---- */
/* pinned as an array map (one entry, the absolute path; "" = the built-in defaults) */
#define MG_PIN_RUN_CONFIG "mg_run_config"
int run_config_record(const char *pin_dir, const char *config); /* config NULL: defaults */
/* 0 with the path in buf; -ENOENT when no daemon recorded one */
int run_config_read(const char *pin_dir, char *buf, size_t len);

/* ---- census.c: how many entries each map holds ---- */
/* A BPF map iterator reads the kernel's own counts (Linux 6.6+, < 1 ms);
 * older kernels (or $MAILGATE_CENSUS_WALK set) walk the maps, and the
 * result is cached this long. */
#define CENSUS_WALK_TTL_NS (10 * NSEC_PER_SEC)
struct census {
	uint64_t entries[GM_MAX];  /* entries held, for the maps with counted[] */
	uint32_t capacity[GM_MAX]; /* max_entries (the ring buffer: bytes), every open map */
	uint32_t type[GM_MAX];     /* enum bpf_map_type, every open map (0: not open) */
	bool counted[GM_MAX];      /* the hash maps and tries (not arrays, ring buffer) */
	bool walked;               /* counted by walking: as of taken_ns */
	uint64_t taken_ns;         /* CLOCK_BOOTTIME */
};
int census_read(struct gate *g, struct census *c);
/* the slow way, uncached (what census_read falls back to): map_count() */
int census_walk(struct gate *g, struct census *c);

/* ---- maps.c: walk a map from any process ---- */
/* fn(key, value, ctx) for every entry: in batches where the map type has
 * batch lookups (hash maps; LPM tries on newer kernels), else one
 * get_next_key and lookup per entry. A non-zero return from fn stops the
 * walk and is returned; else 0 or -errno. A map changing under the walk may
 * give an entry twice, never loops forever. */
typedef int (*map_walk_fn)(const void *key, const void *value, void *ctx);
int map_walk(int fd, map_walk_fn fn, void *ctx);
/* the map's type, sizes, id ...: 0 or -errno */
struct bpf_map_info;
int map_info(int fd, struct bpf_map_info *info);
struct map_dump {
	size_t n, cap;         /* entries copied out */
	uint32_t key_size, val_size;
	void *keys, *vals;     /* n keys and n values, back to back */
};
/* Copy out every entry (map_walk). */
int map_dump(int fd, struct map_dump *d);
void map_dump_free(struct map_dump *d);
/* Number of entries (map_walk; max_entries for arrays) and the capacity;
 * < 0 on error. For all the gate's maps at once, census_read() is faster. */
long map_count(int fd, uint32_t *max_entries);

/* ---- state.c: bans and CLI list entries kept in a file (reboots, detach) ---- */
#define MG_DEFAULT_STATE_DIR "/var/lib/mailgate"
/* The state file of a pin dir under state_dir: the pin dir's absolute path
 * made a name ("sys_fs_bpf_mailgate") and a hash of it, so that two pin
 * dirs never share one: DIR/sys_fs_bpf_mailgate-1a2b3c4d.state */
int state_path(const char *state_dir, const char *pin_dir, char *buf, size_t len);
/* Every ban (both maps) and the allow/deny entries of origin cli, times in
 * CLOCK_REALTIME, written atomically (temp file, fsync, rename, fsync of the
 * dir). The lists are walked when walk_lists (their CLI entries may have
 * changed), else their part of the last file is written again (a deny list
 * of millions of zone entries is not walked for a ban). 0 or -errno. n (may
 * be NULL): entries written. */
int state_save(struct gate *g, const char *path, bool walk_lists, size_t *n);
/* Read a state file whole, check its version, count and checksum, then put
 * what has not run out into the maps (times back in CLOCK_BOOTTIME; quota
 * bans are kept ban_time_max_ns past their end, as the data path does, for
 * their level). -ENOENT: no file; -EBADMSG: refused (err says why), nothing
 * applied; else 0 with n restored and n_expired left out. */
int state_restore(struct gate *g, const char *path, uint64_t ban_time_max_ns, size_t *n, size_t *n_expired,
		  char *err, size_t errlen);

/* ---- netlink.c: one request to the kernel ---- */
struct nlmsghdr;
/* send req on a NETLINK_<proto> socket; every answer to cb until the dump
 * (or the reply) ends or cb returns > 0; 0 or -errno (the kernel's error;
 * no answer within 1 s: -EAGAIN) */
int nl_request(int proto, struct nlmsghdr *req, int (*cb)(struct nlmsghdr *, void *), void *arg);

/* ---- veth.c: action = reset on a veth ---- */
/* NULL when a natively attached program's RSTs reach the wire (not a veth,
 * generic mode, or a peer in this namespace that runs an XDP program); else
 * why they may not, in buf */
const char *reset_veth_note(int ifindex, bool generic, char *buf, size_t len);

/* ---- caps.c: least privilege (capabilities are per thread) ---- */
/* what the daemon's main thread keeps once loaded and attached: maps and
 * programs (a DNSBL zone added by a reload creates its cache maps), the
 * census iterator, links; the DNSBL and metrics threads keep nothing */
#define MG_RUNTIME_CAPS ((1ULL << 39 /* CAP_BPF */) | (1ULL << 38 /* CAP_PERFMON */) | \
			 (1ULL << 12 /* CAP_NET_ADMIN */))
/* Keep only keep (a mask of 1 << CAP_*) in the calling thread: effective,
 * permitted and bounding sets; inheritable and ambient emptied. 0 or -errno. */
int caps_limit(uint64_t keep);
uint64_t caps_effective(void);                              /* the calling thread's */
const char *caps_names(uint64_t set, char *buf, size_t len); /* "bpf,perfmon,net_admin" */

/* ---- config.c: the INI config file (docs/config.md) ---- */
#define MG_MAX_ALLOW_CFG 1024
struct mg_port_entry {
	char name[32];
	uint16_t port;
	uint8_t class;
};
struct mg_settings {
	struct mg_config cfg;            /* data path tunables */
	uint8_t ports[65536];            /* port -> enum mg_class */
	struct mg_port_entry port_list[64];
	int n_ports;
	bool keep_attached;
	char state_dir[256];             /* "none" = no state file */
	uint32_t max_sources;
	struct mg_lpm_key allow[MG_MAX_ALLOW_CFG];
	int n_allow;
	/* [dnsbl] */
	char dnsbl_sites[4096];          /* raw, postscreen syntax; parsed by dnsbl.c */
	int32_t dnsbl_threshold;
	int32_t dnsbl_allow_threshold;
	char dnsbl_resolvers[1024];      /* "system" or "addr:port, ..." */
	uint64_t dnsbl_timeout_ns;
	uint32_t dnsbl_max_inflight;
	uint64_t dnsbl_ttl_min_ns;
	uint64_t dnsbl_ttl_max_ns;
	/* [metrics] */
	char metrics_listen[256];        /* "none" = off */
	/* [crowdsec] (crowdsec.c) */
	char crowdsec_url[512];          /* lapi_url; "" = off */
	char crowdsec_key[256];          /* api_key, or the first line of api_key_file */
	char crowdsec_key_file[256];     /* api_key_file as written ("" = none) */
	uint64_t crowdsec_poll_ns;
};
void config_defaults(struct mg_settings *s);
/* defaults, then the file; on error err names the line: "FILE:LINE: ..." */
int config_load(const char *path, struct mg_settings *s, char *err, size_t errlen);

/* ---- daemon.c: what the daemon shares with its threads ---- */
struct dnsbl;
/* the CrowdSec bouncer's counters (crowdsec.c writes them, atomics; they
 * survive a SIGHUP that restarts the bouncer) */
struct crowdsec_stats {
	uint64_t polls_ok, polls_failed;     /* stream requests answered / not */
	uint64_t applied, removed, skipped;  /* decisions: put into the maps; taken out
					      * (deleted, expired); not for us (type, scope) */
	uint64_t last_ok_unix_ms;            /* last successful poll, CLOCK_REALTIME ms; 0 = none */
	uint64_t bans, denies, shadowed;     /* entries held now; decisions covered by
					      * another origin's entry */
	uint32_t up;                         /* the last poll succeeded */
	uint32_t running;                    /* the bouncer is configured and running */
};
struct mg_runtime {
	struct gate *gate;
	struct dnsbl *dnsbl;                        /* NULL when no DNSBL zone is configured */
	uint64_t events[MG_EVENT_KIND_MAX];         /* ring buffer events consumed, by kind (atomic) */
	uint64_t bans_created[MG_ORIGIN_MAX];       /* bans the daemon saw created, by origin (atomic) */
	uint64_t start_ns;                          /* CLOCK_BOOTTIME at start */
	struct crowdsec_stats crowdsec;             /* the CrowdSec bouncer (crowdsec.h) */
	uint64_t rejects_answered[MG_REASON_MAX];   /* connections the responder answered (atomic) */
	bool cookies;                               /* SYN cookies running (flood_action = cookie in effect) */
	char cookies_why[160];                      /* why not, when flood_action = cookie was asked for */
};

/* ---- responder.c: answers the connections the data path rejected ---- */
struct responder {
	int fd[2];             /* listening sockets, IPv4 and IPv6; -1 when not running */
	struct bpf_link *link; /* sk_lookup on the daemon's network namespace */
};
/* Listen on 127.0.0.1 and [::1] (any port), put the sockets into
 * mg_responder and attach the sk_lookup program to the current network
 * namespace. */
int responder_start(struct responder *r, struct gate *g);
/* Accept what is waiting on fd; each gets one line naming the reason, then close. */
void responder_answer(int fd, struct gate *g, const struct mg_settings *s, struct mg_runtime *rt);
void responder_stop(struct responder *r);

/* ---- dnsbl*.c: DNSBL lookups (c-ares), its own thread (internals: dnsbl.h) ---- */
/* Validate postscreen-syntax sites; 0 or -EINVAL with a message in err. */
int dnsbl_sites_check(const char *sites, char *err, size_t errlen);
/* Validate [dnsbl] resolvers: "system" or "addr[:port], [v6addr]:port, ..." */
int dnsbl_resolvers_check(const char *list, char *err, size_t errlen);
/* Validate the whole [dnsbl] section as dnsbl_start() will (sites, resolvers,
 * threshold >= 1, allowlist_threshold < threshold, timeout 100ms..60s, ...);
 * on error *key (when key is not NULL) names the [dnsbl] key at fault. */
int dnsbl_settings_check(const struct mg_settings *s, const char **key, char *err, size_t errlen);
struct dnsbl *dnsbl_start(const struct mg_settings *s, struct gate *g);
void dnsbl_submit(struct dnsbl *d, const struct mg_addr *a); /* from the event loop; never blocks */
/* the same with the event's ts_ns (CLOCK_BOOTTIME), so that the event-to-verdict
 * latency (mailgate_dnsbl_verdict_seconds) includes the ring buffer's part */
void dnsbl_submit_ts(struct dnsbl *d, const struct mg_addr *a, uint64_t event_ts_ns);
int dnsbl_reload(struct dnsbl *d, const struct mg_settings *s);
void dnsbl_stop(struct dnsbl *d);
/* Per-zone cached answers for one source, for `lookup` in any process:
 * appends objects {zone, answer, weight, listed, expires_in_s} to zones (a
 * json array). 0 when nothing is cached or the cache is not there. */
int dnsbl_cached(const char *pin_dir, const struct mg_addr *a, struct json_object *zones);
/* Prometheus families of the DNSBL module (queries_total, query_seconds ...) */
void dnsbl_metrics_write(struct dnsbl *d, FILE *f);

/* ---- lookup.c: one source as the data path sees it ---- */
/* "deny 192.0.2.0/24; banned in 9m (quota, level 1); tokens 3.2/20"
 * for one source, and the same as fields of o */
void source_brief(struct gate *g, const struct mg_config *c, const struct mg_addr *a, uint64_t now,
		  char *buf, size_t len, struct json_object *o);
/* the ban that decides for a source (GM_BAN, else GM_BAN_QUOTA);
 * false when neither map holds one */
bool ban_get(struct gate *g, const struct mg_addr *a, uint64_t now, struct mg_ban *b);

/* ---- cookie.c: SYN cookies (include/cookie.h, bpf/syncookie.bpf.c) ---- */
/* Write the keys (all four the first time, then the key of slot + 2 once
 * per slot); call at least once per slot (34 s). */
int cookie_keys_rotate(struct gate *g, uint64_t now);
int cookie_keys_clear(struct gate *g); /* no keys: the data path sends no cookies */
int cookie_syncookies_sysctl(void);   /* net.ipv4.tcp_syncookies here, or -errno */
struct cookie_tc;
/* Load the TC program onto g's pinned maps; NULL with why filled when
 * this kernel (or its net.ipv4.tcp_syncookies) cannot do cookies. */
struct cookie_tc *cookie_tc_load(struct gate *g, char *why, size_t whylen);
/* TC ingress link (tcx) on ifindex, pinned at pin (adopted when there) or
 * not (pin NULL); returns the link fd or -errno */
int cookie_tc_attach(struct cookie_tc *c, int ifindex, const char *pin);
int cookie_tc_detach(const char *pin); /* detach the pinned link, remove the pin */
void cookie_tc_close(struct cookie_tc *c);

/* ---- netstat.c: the kernel's SYN trouble (TcpExt counters) ---- */
#define NETSTAT_FIELDS 4 /* SyncookiesSent, ListenOverflows, TCPReqQFullDrop, TCPReqQFullDoCookies */
struct netstat {
	uint64_t v[NETSTAT_FIELDS];
	uint32_t seen; /* bit i: field i was in the file */
};
/* Read path (NULL: /proc/net/netstat, this namespace's); -ENOENT when it
 * has no TcpExt fields, else -errno */
int netstat_read(const char *path, struct netstat *out);
/* MG_TROUBLE_* of the counters that grew from before to now */
uint32_t netstat_trouble(const struct netstat *before, const struct netstat *now);
const char *netstat_name(int i); /* "SyncookiesSent", ... */
/* "SyncookiesSent,ListenOverflows" for MG_TROUBLE_* bits ("" for none) */
const char *trouble_names(uint32_t bits, char *buf, size_t len);

#endif /* MAILGATE_USER_H */
