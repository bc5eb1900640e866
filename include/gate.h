/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* mailgate: definitions shared by the XDP data path (bpf/gate.bpf.c) and
 * userspace (user/). Map names, key/value structs, events and the list of
 * decision reasons live here once. */
#ifndef MAILGATE_GATE_H
#define MAILGATE_GATE_H

#ifndef __bpf__
#include <linux/types.h>
#endif

/* ---- the data path's maps, pinned under the pin dir by name ----
 * One line a map, X(ID, name): the map is defined as `name` in bpf/ and
 * pinned as "name"; userspace (user/mailgate.h, user/gate.c) makes the
 * enum gate_map (GM_ID), gate_map_names[] and gate_load()'s fds from this
 * list, so `status`, the census and `detach` know every map. Append new
 * maps at the end (the order is the enum's). */
#define MG_MAPS(X) \
	X(CONFIG, mg_config)         /* array[2] of struct mg_config: tunables; mg_ctl.config_slot's is live */ \
	X(PORTS, mg_ports)           /* array[65536] of __u8 class (0 = not gated) */ \
	X(ALLOW, mg_allow)           /* array of 2 sets (hash: mg_lpm_key -> mg_rule), include/lists.h */ \
	X(DENY, mg_deny)             /* the same for the deny list; mg_lists says which slot is live */ \
	X(BAN, mg_ban)               /* hash (never evicts): mg_addr -> mg_ban, operator bans */ \
	X(VERDICT, mg_verdict)       /* LRU hash: mg_addr -> mg_verdict (DNSBL) */ \
	X(SRC, mg_src)               /* LRU hash: mg_addr -> mg_src (bucket, violations) */ \
	X(PREFIX, mg_prefix)         /* LRU hash: mg_prefix_key -> mg_bucket */ \
	X(CONN, mg_conn)             /* LRU hash: mg_conn_key -> __u32 concurrent connections */ \
	X(CLASS_CONN, mg_class_conn) /* array[MG_CLASS_MAX] of __u32 concurrent per class */ \
	X(VERIFIED, mg_verified)     /* LRU hash: mg_addr -> __u64 last handshake (ns) */ \
	X(COUNTERS, mg_counters)     /* per-CPU array[MG_REASON_MAX * MG_CLASS_MAX] of __u64 */ \
	X(GLOBAL, mg_global)         /* array[1] of struct mg_global: event budget, flood state */ \
	X(EVENTS, mg_events)         /* ring buffer of struct mg_event */ \
	X(SOCKS, mg_socks)           /* sk storage: which sockets were counted */ \
	X(BAN_QUOTA, mg_ban_quota)   /* LRU hash: mg_addr -> mg_ban, bans the data path made */ \
	X(CTL, mg_ctl)               /* array[1] of struct mg_ctl, mmapable: written by the controller only */ \
	X(PENDING, mg_pending)       /* LRU hash: mg_addr -> __u64 pending until (ns): DNSBL questions asked */ \
	X(REJECT, mg_reject)         /* LRU hash: mg_reject_key -> mg_reject: SYNs to steer to the responder */ \
	X(LISTS, mg_lists)           /* array[MG_LISTS] of struct mg_list_meta, mmapable (include/lists.h) */ \
	X(COOKIE, mg_cookie)         /* array[1] of struct mg_cookie_keys (include/cookie.h) */ \
	X(VBITS, mg_vbits)           /* array[MG_VBITS_WORDS] of __u64, mmapable: filter over mg_verified */ \
	X(STOPPED, mg_stopped)       /* LRU hash: mg_stopped_key -> __u64 SYNs: sources allow/deny/ban/DNSBL decided (top) */ \
	X(STOPPED_CPU, mg_stopped_cpu) /* per-CPU array[1] of struct mg_stopped_cpu: mg_stopped's insert budget */
/* not pinned, so not in MG_MAPS: mg_responder (the daemon's sockets, gone with it),
 * mg_flood_cpu (per-CPU flood windows, fresh with each program) */
/* created and pinned by the controller, not by the BPF object: */
#define MG_MAP_DNSBL_CACHE "mg_dnsbl_cache" /* LRU hash: (source, zone) -> DNSBL answer (user/dnsbl.h) */
#define MG_MAP_DNSBL_ZONES "mg_dnsbl_zones" /* hash: zone id -> zone name */

/* ---- sizes ---- */
#define MG_DEFAULT_MAX_SOURCES 1000000
#define MG_MAX_ALLOW           65536
#define MG_MAX_DENY            4000000
#define MG_MAX_CONN            65536
#define MG_MAX_BAN             262144 /* operator bans (CLI, config, fail2ban, CrowdSec) */
#define MG_MAX_REJECT          65536
#define MG_MAX_STOPPED         16384  /* mg_stopped: only `top` reads it */
#define MG_STOPPED_NEW_PER_S   4096   /* new sources each CPU puts into mg_stopped a second, at most */
#define MG_EVENTS_BYTES        (1 << 20)

/* ---- port classes ---- */
#define MG_CLASSES(X) \
	X(NONE, "none") \
	X(SMTP, "smtp") \
	X(SUBMISSION, "submission") \
	X(IMAP, "imap") \
	X(POP3, "pop3")

enum mg_class {
#define MG_X(n, s) MG_CLASS_##n,
	MG_CLASSES(MG_X)
#undef MG_X
	MG_CLASS_MAX
};

/* ---- decision reasons: every packet the program sees is counted under
 * exactly one. PASS_* let the packet through, DROP_* drop it (or answer with
 * a RST), except in observe mode, where they are counted but pass. REJECT_*
 * are refusals too, but the SYN passes, marked in mg_reject, and the
 * sk_lookup program steers it to the daemon's responder socket, which
 * answers with the reason and closes. ---- */
#define MG_REASONS(X) \
	X(PASS_OTHER,        "pass_other")        /* not IP/TCP, or TCP but not a pure SYN */ \
	X(PASS_MALFORMED,    "pass_malformed")    /* truncated or inconsistent headers */ \
	X(PASS_FRAGMENT,     "pass_fragment")     /* IPv4/IPv6 fragment */ \
	X(PASS_NOT_GATED,    "pass_not_gated")    /* pure SYN to a port that is not gated */ \
	X(PASS_ALLOW,        "pass_allow")        /* allow list */ \
	X(PASS_DNSWL,        "pass_dnswl")        /* DNSBL score at/below allowlist threshold */ \
	X(PASS_PENDING,      "pass_pending")      /* DNSBL verdict pending, policy pass */ \
	X(PASS_OK,           "pass_ok")           /* passed every check */ \
	X(DROP_DENY,         "drop_deny")         /* deny list */ \
	X(DROP_BAN,          "drop_ban")          /* banned source */ \
	X(DROP_DNSBL,        "drop_dnsbl")        /* DNSBL score at/above threshold */ \
	X(DROP_PENDING,      "drop_pending")      /* DNSBL verdict pending, policy hold */ \
	X(DROP_RATE,         "drop_rate")         /* per-source token bucket */ \
	X(DROP_PREFIX_RATE,  "drop_prefix_rate")  /* per-prefix token bucket */ \
	X(DROP_CONCURRENT,   "drop_concurrent")   /* per-source concurrent connections */ \
	X(DROP_TOTAL_CONCURRENT, "drop_total_concurrent") /* per-class concurrent connections */ \
	X(DROP_FLOOD,        "drop_flood")        /* flood mode budget for unverified sources */ \
	X(PASS_UNASKED,      "pass_unasked")      /* DNSBL verdict unknown and nobody asked: the \
						   * query event could not be sent, or the daemon \
						   * shows no sign of life (mg_ctl heartbeat) */ \
	X(DROP_UNPARSED,     "drop_unparsed")     /* could be a gated SYN behind headers beyond the \
						   * walk: IPv6 chain > MG_MAX_EXTHDRS, tiny first \
						   * fragment (unparsed = drop) */ \
	X(PASS_UNPARSED,     "pass_unparsed")     /* the same, unparsed = pass */ \
	X(REJECT_DENY,       "reject_deny")       /* deny list, denied = reject: to the responder */ \
	X(REJECT_BAN,        "reject_ban")        /* banned, banned = reject: to the responder */ \
	X(REJECT_DNSBL,      "reject_dnsbl")      /* DNSBL listed, listed = reject: to the responder */ \
	X(DROP_COOKIE,       "drop_cookie")       /* flood mode: answered with a SYN cookie (XDP_TX) */

enum mg_reason {
#define MG_X(n, s) MG_REASON_##n,
	MG_REASONS(MG_X)
#undef MG_X
	MG_REASON_MAX
};

#define MG_REASON_FIRST_DROP MG_REASON_DROP_DENY
/* Reasons from MG_REASON_FIRST_DROP on drop, except the PASS_* appended
 * after them: ask this, not the order. */
#define MG_REASON_DROPS(r) ((r) >= MG_REASON_FIRST_DROP && (r) != MG_REASON_PASS_UNASKED && \
			    (r) != MG_REASON_PASS_UNPARSED)
#define MG_COUNTER_SLOTS (MG_REASON_MAX * MG_CLASS_MAX)
#define MG_COUNTER_IDX(reason, class) ((reason) * MG_CLASS_MAX + (class))

/* ---- keys ---- */
/* One address form for both families: IPv4 as IPv4-mapped IPv6 (::ffff:a.b.c.d). */
struct mg_addr {
	__u8 a[16];
};

struct mg_lpm_key {
	__u32 prefixlen; /* over the 128-bit mapped form: IPv4 /24 is 96 + 24 */
	__u8 a[16];
};

/* A prefix has two buckets: one for its sources that completed a handshake
 * (in mg_verified), one for the rest, so SYNs forged from random addresses
 * of a prefix do not spend the budget of its verified sources. */
struct mg_prefix_key {
	struct mg_addr addr; /* masked with cfg.mask_v4 / mask_v6 */
	__u32 verified;      /* 0 or 1 */
};

/* concurrent connections are counted per source and port class */
struct mg_conn_key {
	struct mg_addr addr;
	__u32 class;         /* enum mg_class */
};

/* ---- values ---- */
enum mg_origin {
	MG_ORIGIN_CLI = 0,  /* added by an operator */
	MG_ORIGIN_CONFIG,   /* from the config file */
	MG_ORIGIN_ZONE,     /* bulk-loaded from an rbldnsd data file */
	MG_ORIGIN_QUOTA,    /* repeated quota violations */
	MG_ORIGIN_DNSBL,    /* DNSBL verdict */
	MG_ORIGIN_CROWDSEC, /* a CrowdSec Local API decision (user/crowdsec.c) */
	MG_ORIGIN_MAX
};

/* allow / deny entry */
struct mg_rule {
	__u64 expires_ns; /* CLOCK_BOOTTIME; 0 = never */
	__u32 prefixlen;  /* copy of the key's, so a lookup can say which prefix matched */
	__u32 origin;     /* enum mg_origin */
	__u32 value;      /* zone loads: the entry's value (e.g. 127.0.0.2 as host order), else 0 */
	__u32 flags;      /* MG_RULE_* */
};

/* deny entry flags: an exclusion ('!' in an rbldnsd zone) matches like any
 * prefix (longest wins) but means "not denied"; zone loads keep the id of
 * the file they came from in the high 16 bits, so a reload replaces only
 * its own entries. */
#define MG_RULE_EXCLUDE    1u
#define MG_RULE_SET(flags) ((flags) >> 16)

/* A ban entry outlives its expiry for cfg.ban_time_max so that a source
 * banned again soon after gets the next level (ban_time << level). */
struct mg_ban {
	__u64 expires_ns; /* CLOCK_BOOTTIME; 0 = never */
	__u64 created_ns;
	__u32 origin;     /* enum mg_origin */
	__u32 level;      /* 0 for the first ban; +1 for each ban soon after the last */
};

enum mg_verdict_state {
	MG_VERDICT_PENDING = 0, /* an event was sent; waiting for the controller */
	MG_VERDICT_CLEAN,       /* looked up, below threshold */
	MG_VERDICT_LISTED,      /* score >= threshold: drop */
	MG_VERDICT_ALLOWED,     /* score <= allowlist threshold: skip quotas */
};

struct mg_verdict {
	__u64 expires_ns; /* CLOCK_BOOTTIME */
	__s32 score;
	__u32 state;      /* enum mg_verdict_state */
};

/* Token buckets are GCRA, lock-free (LRU maps cannot hold a spin lock):
 * tat = theoretical arrival time, updated with compare-and-swap. A SYN at
 * now is admitted iff max(tat, now) + interval - now <= burst * interval. */
struct mg_bucket {
	__u64 tat_ns;
};

/* violations and handshakes are counted in windows of ban_window, packed
 * for one compare-and-swap: window start in seconds of CLOCK_BOOTTIME (high
 * 32 bits) and the count in it (low 32 bits) */
#define MG_VIOL_WINDOW(v) ((__u32)((v) >> 32))
#define MG_VIOL_COUNT(v)  ((__u32)(v))

/* A quota ban needs evidence that the source itself sent the SYNs (docs/
 * datapath.md, bans need evidence): in the current ban_window it completed
 * at least cfg.ban_evidence handshakes, and at least 1 in MG_EVIDENCE_RATIO
 * of the SYNs that passed its quotas completed one. */
#define MG_EVIDENCE_RATIO 2

struct mg_src {
	__u64 tat_ns[MG_CLASS_MAX]; /* per-source bucket of each port class (syn_rate) */
	__u64 violations;   /* see MG_VIOL_* */
	__u64 syns;         /* gated SYNs seen */
	__u64 drops;        /* of which dropped (or would be, in observe mode) */
	__u64 last_ns;      /* last gated SYN */
	__u64 handshakes;   /* completed handshakes (MG_VIOL_*), counted by the TCP state tracer */
	__u64 passed_base;  /* syns - drops when the handshake window began */
	__u32 viol_reason;  /* enum mg_reason of the last violation */
	__u32 pad;
};

/* Runtime tunables: one entry in mg_config, changed without reload. */
enum mg_mode { MG_MODE_ENFORCE = 0, MG_MODE_OBSERVE = 1 };
enum mg_action { MG_ACTION_DROP = 0, MG_ACTION_RESET = 1 };
enum mg_pending { MG_PENDING_PASS = 0, MG_PENDING_HOLD = 1 };
enum mg_unparsed { MG_UNPARSED_DROP = 0, MG_UNPARSED_PASS = 1 };

struct mg_config {
	__u32 mode;              /* enum mg_mode */
	__u32 action;            /* enum mg_action */
	__u64 syn_interval_ns;   /* 1/rate; 0 = no per-source rate limit (a class of
				  * syn_rate_classes has its own, below) */
	__u32 syn_burst;
	__u32 prefix_v4;         /* prefix length for the per-prefix bucket (0..32) */
	__u32 prefix_v6;         /* (0..128) */
	__u32 mask_v4[4];        /* derived from prefix_v4 by the writer: the mask over */
	__u32 mask_v6[4];        /* the 128-bit key, network order words */
	__u32 prefix_burst;
	__u64 prefix_interval_ns;/* 0 = no per-prefix rate limit */
	__u32 max_concurrent[MG_CLASS_MAX]; /* per source and port class; 0 = off */
	__u32 max_total_concurrent; /* per class; 0 = off */
	__u32 ban_after;         /* violations within ban_window; 0 = never ban */
	__u32 dnsbl_enabled;     /* 0: the DNSBL step is skipped */
	__u64 ban_window_ns;
	__u64 ban_time_ns;
	__u64 ban_time_max_ns;   /* cap of the doubling; also how long a ban is remembered */
	__s32 dnsbl_threshold;   /* informational: the controller applies it */
	__u32 pending;           /* enum mg_pending */
	__u64 pending_ns;        /* one event per source per this period */
	__u64 event_interval_ns; /* global event budget: 1/rate ... */
	__u32 event_burst;       /* ... and burst */
	__u32 netns_ino;         /* network namespace whose connections count */
	/* flood mode (docs/datapath.md, "Flood mode"; bpf/gate.bpf.c) */
	__u64 flood_interval_ns; /* 1/flood_threshold: above this rate of gated SYNs past the
				  * allow list, all sources together, flood mode is on; 0 = never */
	__u64 flood_budget_interval_ns; /* 1/flood_budget, shared by never-verified sources
					 * in flood mode; 0 = none of them gets through */
	__u32 flood_budget_burst;  /* 0: a tenth of a second's worth of the budget */
	__u32 flood_pad;
	__u64 flood_hold_ns;       /* flood mode ends once the rate has stayed below half the
				    * threshold this long; 0: MG_FLOOD_HOLD_NS */
	__u32 ban_evidence;        /* handshakes a source completes within ban_window before a
				    * quota violation can ban it (MG_EVIDENCE_RATIO); 0 acts as 1 */
	__u32 ban_concurrent;      /* 1: drop_concurrent counts toward bans (default 0) */
	__u32 unparsed;            /* enum mg_unparsed: packets that could be a gated SYN
				    * behind headers the parser does not walk */
	__u32 unparsed_pad;
	__u32 reject;              /* MG_REJECT_*: refusals answered by the responder (set only
				    * while the daemon's responder runs), the others are dropped */
	__u32 reject_pad;
	__u32 flood_action;        /* enum mg_flood_action: what unverified SYNs get in flood mode */
	__u32 flood_pad2;
	/* syn_rate / syn_burst per port class ([limits] syn_rate = 10/s, imap:30/s): a class
	 * whose bit (1 << class) is set in syn_rate_classes has its own rate in
	 * syn_class_interval_ns[class], the others syn_interval_ns; the same for the burst
	 * (include/rules.h, mg_syn_interval / mg_syn_burst) */
	__u32 syn_rate_classes;
	__u32 syn_burst_classes;
	__u64 syn_class_interval_ns[MG_CLASS_MAX];
	__u32 syn_class_burst[MG_CLASS_MAX];
	__u32 syn_class_pad;
};

/* flood mode's answer to an unverified SYN: drop it (past the budget), or
 * answer it with a SYN cookie (include/cookie.h; needs the keys written and
 * the TC program attached, else as drop) */
enum mg_flood_action { MG_FLOOD_DROP = 0, MG_FLOOD_COOKIE = 1 };

/* Written by the controller only (mmapped, one field at a time), read by the
 * data path: which mg_config slot is in effect, and the daemon's heartbeat. */
struct mg_ctl {
	__u32 config_slot;         /* 0 or 1: the other slot is written, then this flips */
	__u32 changes;             /* +1 by every CLI change of the bans and lists (gate_touch):
				    * the daemon writes its state file when it moves */
	__u64 alive_until_ns;      /* CLOCK_BOOTTIME: the daemon drains the event ring buffer
				    * until then (it moves this on every second); past it
				    * nobody answers DNSBL questions, so none are asked and
				    * pending = hold holds nothing (pass_unasked) */
	__u64 top_until_ns;        /* CLOCK_BOOTTIME: `mailgate top` watches until then (it
				    * moves this forward for its interval): only then are
				    * stopped sources kept in mg_stopped */
	__u64 trouble_ns;          /* CLOCK_BOOTTIME of the daemon's last reading of the guarded
				    * namespace's TcpExt counters that found SYN trouble; 0 = never */
	__u32 trouble;             /* MG_TROUBLE_*: the counters that grew at that reading */
	__u32 trouble_pad;
};
#define MG_HEARTBEAT_NS (5 * 1000000000ULL) /* how long one heartbeat promises life */

#define MG_REJECT_DENY  1u /* [gate] denied = reject */
#define MG_REJECT_BAN   2u /* [gate] banned = reject */
#define MG_REJECT_DNSBL 4u /* [dnsbl] listed = reject */

/* mg_reject: one entry per rejected SYN (retransmissions and the SYN-cookie
 * ACK find the same one); the sk_lookup program steers a connection whose
 * entry is younger than MG_REJECT_MARK_NS. */
struct mg_reject_key {
	struct mg_addr addr; /* the source */
	__u16 sport;         /* host order */
	__u16 dport;         /* host order */
	__u32 pad;
};

struct mg_reject {
	__u64 ts_ns;  /* CLOCK_BOOTTIME of the SYN */
	__u32 reason; /* MG_REASON_REJECT_* */
	__u32 class;  /* enum mg_class */
};

#define MG_REJECT_MARK_NS 10000000000ULL

/* mg_stopped: the SYNs of each source whose decision comes from the allow
 * list, the deny list, a ban or a DNSBL "listed" verdict, by reason. Those
 * decisions are made before the per-source bucket, so mg_src never sees
 * these sources (the REJECT_* ones pass the quotas too, but mg_src does not
 * keep a reason). Kept only while `top` watches (mg_ctl.top_until_ns), in a
 * small LRU of its own: a forged flood from refused addresses recycles this
 * map and nothing else (docs/datapath.md). */
struct mg_stopped_key {
	struct mg_addr addr;
	__u32 reason;        /* enum mg_reason, one of MG_REASON_STOPPED() */
	__u32 pad;
};

/* each CPU's budget of inserts into mg_stopped (MG_STOPPED_NEW_PER_S) */
struct mg_stopped_cpu {
	__u64 win_ns;     /* start of this CPU's current second */
	__u64 new_in_win; /* sources it put into mg_stopped in that second */
	__u64 not_kept;   /* SYNs of new sources it left out (over the budget); top reports them */
};

#define MG_REASON_STOPPED(r) ((r) == MG_REASON_PASS_ALLOW || (r) == MG_REASON_DROP_DENY || \
			      (r) == MG_REASON_DROP_BAN || (r) == MG_REASON_DROP_DNSBL || \
			      (r) == MG_REASON_REJECT_DENY || (r) == MG_REASON_REJECT_BAN || \
			      (r) == MG_REASON_REJECT_DNSBL)

#define MG_FLOOD_WINDOW_NS 100000000ULL    /* the rate is measured over 100 ms windows */
#define MG_FLOOD_HOLD_NS   10000000000ULL  /* default hysteresis: 10 s below half the threshold */

/* Global state: one entry in mg_global. The flood path writes it only
 * rarely (a window's close, a switch, a batch of budget tokens): what every
 * SYN writes is in struct mg_flood_cpu, one per CPU. */
struct mg_global {
	__u64 event_tat_ns;      /* GCRA for the event budget */
	__u64 events_lost;       /* events not sent: budget or ring buffer full */
	__u32 flood_mode;        /* 1 while flood mode is on */
	__u32 pad;
	__u64 flood_changed_ns;  /* when flood_mode last changed (CLOCK_BOOTTIME) */
	__u64 flood_entries;     /* times flood mode switched on */
	__u64 flood_win_ns;      /* start of the current 100 ms measurement window: the CPU
				  * that moves it on sums the CPUs' counts of the old one */
	__u64 flood_calm_ns;     /* since when the rate stays below half the threshold; 0 = not */
	__u64 flood_budget_tat_ns; /* GCRA of the budget unverified sources share in flood mode
				    * (taken from in batches: struct mg_flood_cpu) */
	__u64 cookie_acks;       /* ACKs with a valid cookie: a request socket handed to the kernel */
	__u64 cookie_refused;    /* valid cookie, but bpf_sk_assign_tcp_reqsk refused (counted, passed) */
	__u64 flood_win_syns;    /* gated SYNs of the last closed window, all CPUs (for display) */
	__u32 flood_bad;         /* consecutive windows whose handshakes collapsed (adaptive detection) */
	__u32 flood_why;         /* enum mg_flood_why: what switched flood mode on last */
	__u64 flood_win_done;    /* handshakes completed in the last closed window, all CPUs */
	__u32 flood_kernel;      /* MG_TROUBLE_* the kernel reported when flood mode last switched on */
	__u32 flood_pad;
};

/* Per-CPU flood state (map mg_flood_cpu, a per-CPU array of one): the
 * counts of the current window and the budget tokens in hand. Only its own
 * CPU writes it, except that whichever CPU closes a window reads every
 * CPU's counts (those whose win_ns is the window closed). */
struct mg_flood_cpu {
	__u64 win_ns;    /* the window these counts belong to (mg_global.flood_win_ns) */
	__u64 syns;      /* gated SYNs this CPU counted in it */
	__u64 done;      /* handshakes to gated ports completed on this CPU in it (tracer) */
	__u64 seen_ns;   /* the last gated SYN this CPU counted */
	__u64 tokens_ns; /* when the budget tokens in hand were taken */
	__u32 tokens;    /* budget tokens in hand (at most MG_FLOOD_BATCH) */
	__u32 pad;
};
#define MG_FLOOD_BATCH 16 /* budget tokens a CPU takes from mg_global at once (at most the burst) */
#define MG_MAX_CPUS    8192 /* bound of the loop over CPUs that closes a window */

/* Adaptive detection (docs/datapath.md): flood mode also switches on,
 * whatever flood_threshold says, after MG_FLOOD_BAD_WINDOWS windows in a row
 * each with at least MG_FLOOD_ADAPT_SYNS gated SYNs of which fewer than one
 * in MG_FLOOD_ADAPT_RATIO completed a handshake: a forged flood completes none.
 * While the kernel of the guarded namespace reports SYN trouble (mg_ctl,
 * MG_TROUBLE_*), MG_FLOOD_KERNEL_SYNS such SYNs are enough. */
#define MG_FLOOD_ADAPT_SYNS   200 /* per 100 ms window: 2000/s */
#define MG_FLOOD_ADAPT_RATIO  4
#define MG_FLOOD_BAD_WINDOWS  2
#define MG_FLOOD_KERNEL_SYNS  20  /* per 100 ms window: 200/s */
enum mg_flood_why { MG_FLOOD_WHY_NONE = 0, MG_FLOOD_WHY_THRESHOLD = 1, MG_FLOOD_WHY_HANDSHAKES = 2,
		    MG_FLOOD_WHY_KERNEL = 3, MG_FLOOD_WHY_MAX };

/* The kernel's SYN trouble in the guarded namespace, as the daemon reads it
 * from /proc/net/netstat (user/netstat.c): which TcpExt counters grew. */
#define MG_TROUBLE_SYNCOOKIES   1u /* TcpExtSyncookiesSent: the SYN queue overflowed */
#define MG_TROUBLE_LISTEN_OVF   2u /* TcpExtListenOverflows: an accept queue overflowed */
#define MG_TROUBLE_REQQ_FULL    4u /* TcpExtTCPReqQFullDrop: SYNs dropped, SYN queue full */
#define MG_TROUBLE_REQQ_COOKIES 8u /* TcpExtTCPReqQFullDoCookies: SYN queue full, cookies on
				    * (counted also where the reply has no route) */
#define MG_TROUBLE_NS (2 * 1000000000ULL) /* a report holds this long after the daemon's reading */

/* ---- the verified filter ----
 * A one-probe Bloom filter in front of mg_verified: bit mg_vbit(a) of
 * mg_vbits is set for every source put into mg_verified, and only a source
 * whose bit is set is looked up there. In flood mode every spoofed SYN asks
 * "verified?"; a 256 KiB bitmap answers it without the cache miss of a
 * lookup in a large hash table. Bits are never cleared (an evicted source
 * only costs one more lookup). Userspace that adds to mg_verified must set
 * the bit too, with an atomic OR on the mmapped map. */
#define MG_VBITS_LOG2  21 /* 2M bits */
#define MG_VBITS_WORDS (1u << (MG_VBITS_LOG2 - 6))

static inline __u32 mg_vbit(const struct mg_addr *a)
{
	__u64 hi, lo;

	__builtin_memcpy(&hi, a->a, 8);
	__builtin_memcpy(&lo, a->a + 8, 8);
	hi = (hi ^ (hi >> 29)) * 0x9E3779B97F4A7C15ULL;
	lo = (lo ^ hi ^ (lo >> 31)) * 0xC2B2AE3D27D4EB4FULL;
	return (__u32)(lo >> (64 - MG_VBITS_LOG2));
}

/* ---- events (ring buffer) ---- */
enum mg_event_kind {
	MG_EVENT_DNSBL_QUERY = 1, /* unknown source: please look it up */
	MG_EVENT_BAN = 2,         /* the data path banned a source */
	MG_EVENT_FLOOD = 3,       /* flood mode switched: level = 1 on, 0 off; reason = enum mg_flood_why */
	MG_EVENT_KIND_MAX
};

struct mg_event {
	__u32 kind;     /* enum mg_event_kind */
	__u32 class;    /* enum mg_class of the SYN that caused it */
	__u64 ts_ns;    /* CLOCK_BOOTTIME */
	struct mg_addr addr;
	__u64 expires_ns; /* MG_EVENT_BAN: ban expiry */
	__u32 level;      /* MG_EVENT_BAN: ban level */
	__u32 reason;     /* MG_EVENT_BAN: the reason of the violation that tipped it */
};

/* sk storage value: set when a passive connection was counted. */
struct mg_sock {
	struct mg_addr addr;
	__u32 class;
	__u32 counted;
};

#endif /* MAILGATE_GATE_H */
