/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* mailgate userspace: the interfaces between the binary's modules.
 * One section per file in user/. */
#ifndef MAILGATE_USER_H
#define MAILGATE_USER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <limits.h>
#include <stdio.h>
#include "gate.h"

#define MG_DEFAULT_PIN_DIR "/sys/fs/bpf/mailgate"
#define MG_DEFAULT_CONFIG  "/etc/mailgate/mailgate.conf"
#define NSEC_PER_SEC 1000000000ULL

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

/* ---- util.c: parsing and formatting of user values ---- */
/* All parsers return 0 or -EINVAL and never print. */
int parse_addr(const char *s, struct mg_addr *out);                 /* IPv4 or IPv6 */
int parse_cidr(const char *s, struct mg_lpm_key *out);              /* addr[/len]; host bits must be 0 */
int parse_duration(const char *s, uint64_t *ns);                    /* 30s 10m 1h 1d, plain = seconds */
int parse_rate(const char *s, uint64_t *interval_ns);               /* 10/s 600/m 100/h; 0 = off */
int parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out);
bool addr_is_v4(const struct mg_addr *a);
/* "192.0.2.1" / "2001:db8::1"; buf at least MG_ADDRSTRLEN */
#define MG_ADDRSTRLEN 64
const char *format_addr(const struct mg_addr *a, char *buf, size_t len);
const char *format_cidr(const struct mg_lpm_key *k, char *buf, size_t len); /* "192.0.2.0/24" */
const char *format_duration(uint64_t ns, char *buf, size_t len);          /* "10m", "1h30m" */
uint64_t now_boot_ns(void);                                          /* the clock the data path uses */

/* ---- gate.c: load, pin and attach the data path; open pinned maps ---- */
enum gate_map {
	GM_CONFIG, GM_PORTS, GM_ALLOW, GM_DENY, GM_BAN, GM_VERDICT, GM_SRC, GM_PREFIX,
	GM_CONN, GM_CLASS_CONN, GM_VERIFIED, GM_COUNTERS, GM_GLOBAL, GM_EVENTS, GM_SOCKS,
	GM_MAX
};
extern const char *const gate_map_names[GM_MAX];
/* links pinned under the pin dir by `mailgate run` (daemon.c) */
#define MG_PIN_LINK_XDP        "link_xdp_"       /* + interface name, one per interface */
#define MG_PIN_LINK_SOCK_STATE "link_sock_state" /* tp_btf/inet_sock_set_state */

struct gate_sizes {
	uint32_t max_sources; /* mg_src, mg_verdict; mg_ban, mg_prefix, mg_verified get 1/4 */
};

struct gate_bpf;
struct gate {
	struct gate_bpf *skel; /* NULL when only the pinned maps were opened */
	char pin_dir[PATH_MAX];
	int fd[GM_MAX];        /* map fds, -1 when not open */
};

/* Open and load the programs; maps are pinned under pin_dir by name and
 * reused when already pinned (a restart keeps all state). pin_dir is created. */
int gate_load(struct gate *g, const char *pin_dir, const struct gate_sizes *sizes);
/* Open every pinned map of a running (or dead) gate; -ENOENT when not there. */
int gate_open_pinned(struct gate *g, const char *pin_dir);
void gate_close(struct gate *g);
/* Fill an mg_config with the documented defaults. */
void gate_default_config(struct mg_config *c);
int gate_write_config(struct gate *g, const struct mg_config *c);
int gate_read_config(struct gate *g, struct mg_config *c);
/* ports[p] = class, for all 65536 ports (0 = not gated) */
int gate_write_ports(struct gate *g, const uint8_t *ports);
/* the default gated ports: smtp 25, submission 465 587, imap 143 993, pop3 110 995 */
void gate_default_ports(uint8_t *ports);
/* Sum the per-CPU counters: out[MG_COUNTER_SLOTS] */
int gate_read_counters(struct gate *g, uint64_t *out);
extern const char *const mg_reason_names[MG_REASON_MAX];
extern const char *const mg_class_names[MG_CLASS_MAX];

/* ---- main.c: global options (may stand anywhere on the command line) ---- */
struct mg_opts {
	const char *pin_dir;     /* --pin-dir, $MAILGATE_PIN_DIR, default MG_DEFAULT_PIN_DIR */
	const char *config;      /* -c/--config, default MG_DEFAULT_CONFIG */
	bool json;               /* --json */
	bool verbose;            /* -v */
};
extern struct mg_opts opts;
/* Every subcommand: argv[0] is the subcommand's name; returns the exit code
 * (0 ok, 1 runtime failure, 2 bad usage or input). */
typedef int (*cmd_fn)(int argc, char **argv);

/* ---- output.c: one writer for --json and human output ---- */
struct json_object;
#define EXIT_OK 0
#define EXIT_FAIL 1
#define EXIT_USAGE 2
/* Print an error (a JSON object {"error": ...} in JSON mode, else one line on
 * stderr prefixed "mailgate: ") and return code. */
int fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print doc as one JSON document on stdout and release it. */
void json_out(struct json_object *doc);
/* Human units: "1.2k", "3.4M"; rates "1.2k/s" */
const char *format_count(double v, char *buf, size_t len);

/* ---- config.c: the INI config file (SPEC 3) ---- */
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
};
void config_defaults(struct mg_settings *s);
/* defaults, then the file; on error err names the line: "FILE:LINE: ..." */
int config_load(const char *path, struct mg_settings *s, char *err, size_t errlen);

/* ---- daemon.c: what the daemon shares with its threads ---- */
struct dnsbl;
struct mg_runtime {
	struct gate *gate;
	struct dnsbl *dnsbl;                        /* NULL when no DNSBL zone is configured */
	uint64_t events[MG_EVENT_KIND_MAX];         /* ring buffer events consumed, by kind (atomic) */
	uint64_t bans_created[MG_ORIGIN_MAX];       /* bans the daemon saw created, by origin (atomic) */
	uint64_t start_ns;                          /* CLOCK_BOOTTIME at start */
};

/* ---- dnsbl.c: DNSBL lookups (c-ares), its own thread ---- */
/* Validate postscreen-syntax sites; 0 or -EINVAL with a message in err. */
int dnsbl_sites_check(const char *sites, char *err, size_t errlen);
struct dnsbl *dnsbl_start(const struct mg_settings *s, struct gate *g);
void dnsbl_submit(struct dnsbl *d, const struct mg_addr *a); /* from the event loop; never blocks */
int dnsbl_reload(struct dnsbl *d, const struct mg_settings *s);
void dnsbl_stop(struct dnsbl *d);
/* Per-zone cached answers for one source, for `lookup` in any process:
 * appends objects {zone, answer, weight, listed, expires_in_s} to zones (a
 * json array). 0 when nothing is cached or the cache is not there. */
int dnsbl_cached(const char *pin_dir, const struct mg_addr *a, struct json_object *zones);
/* Prometheus families of the DNSBL module (queries_total, query_seconds ...) */
void dnsbl_metrics_write(struct dnsbl *d, FILE *f);

/* ---- metrics.c: Prometheus /metrics (libmicrohttpd), its own thread ---- */
struct metrics;
struct metrics *metrics_start(const struct mg_settings *s, struct mg_runtime *rt);
void metrics_stop(struct metrics *m);

/* ---- subcommands, one file per concern ---- */
int do_run(int argc, char **argv);      /* daemon.c */
int do_detach(int argc, char **argv);   /* daemon.c */
int do_status(int argc, char **argv);   /* status.c */
int do_stats(int argc, char **argv);    /* stats.c */
int do_top(int argc, char **argv);      /* stats.c */
int do_allow(int argc, char **argv);    /* lists.c */
int do_deny(int argc, char **argv);     /* lists.c */
int do_ban(int argc, char **argv);      /* lists.c */
int do_lookup(int argc, char **argv);   /* lookup.c */
int do_dnsbl(int argc, char **argv);    /* dnsbl.c */
int do_zone(int argc, char **argv);     /* zone.c */
int do_synflood(int argc, char **argv); /* synflood.c */
int do_config(int argc, char **argv);   /* config.c */

#endif /* MAILGATE_USER_H */
