// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Unit tests of the XDP data path: mg_xdp run with BPF_PROG_TEST_RUN on
 * crafted frames. The tables give, per case: a frame, the map state before
 * it, the XDP verdict expected and the one counter (reason, class) that must
 * rise by one. Each table row prints its own PASS/FAIL line. */
#include <time.h>
#include "test.h"
#include "frames.h"
#include "fixture.h"

static struct fixture fx;

#define SEC_NS NSEC_PER_SEC
#define V4_ALL "0.0.0.0/0"
#define V6_ALL "::/0"

/* expiry of a map entry relative to now */
enum ttl { TTL_NONE = 0, TTL_NEVER, TTL_LIVE, TTL_DEAD };

struct rule_spec {
	const char *cidr;
	enum ttl ttl; /* TTL_NONE or TTL_NEVER: no expiry */
	bool excl;    /* a zone exclusion ('!prefix', MG_RULE_EXCLUDE) */
};

enum exhaust { EX_SRC = 1, EX_PREFIX = 2 };

struct row {
	const char *name;
	struct frame f;
	/* map state */
	struct rule_spec allow[3], deny[6];
	enum ttl ban;                 /* a ban on the frame's source */
	int verdict;                  /* 1 + enum mg_verdict_state; 0: none */
	enum ttl verdict_ttl;
	int exhaust;                  /* enum exhaust: empty buckets */
	uint32_t conn;                /* mg_conn of the source */
	uint32_t class_conn;          /* mg_class_conn[smtp] */
	void (*cfg)(struct mg_config *c);
	int runs;                     /* the frame is sent this often; the last run is checked */
	/* expected */
	int xdp;
	int reason, class;
};

static void cfg_observe(struct mg_config *c) { c->mode = MG_MODE_OBSERVE; }
static void cfg_reset(struct mg_config *c) { c->action = MG_ACTION_RESET; }
static void cfg_reset_observe(struct mg_config *c) { cfg_reset(c); cfg_observe(c); }
static void cfg_dnsbl(struct mg_config *c) { c->dnsbl_enabled = 1; }
static void cfg_hold(struct mg_config *c) { cfg_dnsbl(c); c->pending = MG_PENDING_HOLD; }
static void cfg_hold_reset(struct mg_config *c) { cfg_hold(c); cfg_reset(c); }
static void cfg_burst3(struct mg_config *c)
{
	c->syn_interval_ns = 3600 * SEC_NS;
	c->syn_burst = 3;
	c->ban_after = 0;
}
static void cfg_norate(struct mg_config *c) { c->syn_interval_ns = 0; c->prefix_interval_ns = 0; }
static void cfg_total3(struct mg_config *c) { c->max_total_concurrent = 3; }
static void cfg_noconc(struct mg_config *c) { memset(c->max_concurrent, 0, sizeof(c->max_concurrent)); }
static void cfg_unparsed_pass(struct mg_config *c) { c->unparsed = MG_UNPARSED_PASS; }
static void cfg_reject(struct mg_config *c)
{
	c->dnsbl_enabled = 1;
	c->reject = MG_REJECT_DENY | MG_REJECT_BAN | MG_REJECT_DNSBL;
}
static void cfg_reject_listed(struct mg_config *c) { cfg_dnsbl(c); c->reject = MG_REJECT_DNSBL; }
static void cfg_reject_reset(struct mg_config *c) { cfg_reject(c); cfg_reset(c); }

#define V6 .family = 6
#define PASS_AS(r, c) .xdp = XDP_PASS, .reason = MG_REASON_##r, .class = MG_CLASS_##c
#define DROP_AS(r, c) .xdp = XDP_DROP, .reason = MG_REASON_##r, .class = MG_CLASS_##c
#define DENY_ALL .deny = { { V4_ALL }, { V6_ALL } }
#define DENY_DOC .deny = { { "192.0.2.0/24" }, { "2001:db8::/32" } }

static const struct row rows[] = {
	/* gated ports and their classes; nothing in the maps: passes every check */
	{ "v4_syn_smtp", {}, PASS_AS(PASS_OK, SMTP) },
	{ "v6_syn_smtp", { V6 }, PASS_AS(PASS_OK, SMTP) },
	{ "v4_syn_465_submission", { .dport = 465 }, PASS_AS(PASS_OK, SUBMISSION) },
	{ "v4_syn_587_submission", { .dport = 587 }, PASS_AS(PASS_OK, SUBMISSION) },
	{ "v4_syn_143_imap", { .dport = 143 }, PASS_AS(PASS_OK, IMAP) },
	{ "v4_syn_993_imap", { .dport = 993 }, PASS_AS(PASS_OK, IMAP) },
	{ "v4_syn_110_pop3", { .dport = 110 }, PASS_AS(PASS_OK, POP3) },
	{ "v4_syn_995_pop3", { .dport = 995 }, PASS_AS(PASS_OK, POP3) },
	{ "v6_syn_993_imap", { V6, .dport = 993 }, PASS_AS(PASS_OK, IMAP) },
	/* not gated: passed even from a denied source */
	{ "v4_syn_80_not_gated", { .dport = 80 }, DENY_ALL, PASS_AS(PASS_NOT_GATED, NONE) },
	{ "v6_syn_8080_not_gated", { V6, .dport = 8080 }, DENY_ALL, PASS_AS(PASS_NOT_GATED, NONE) },
	{ "v4_syn_sport_25_not_gated", { .sport = 25, .dport = 40000 }, DENY_ALL,
	  PASS_AS(PASS_NOT_GATED, NONE) },
	/* TCP segments that are not a pure SYN, to a gated port, from a denied source */
	{ "v4_synack", { .flags = TH_SYN | TH_ACK }, DENY_ALL, PASS_AS(PASS_OTHER, NONE) },
	{ "v4_ack", { .flags = TH_ACK }, DENY_ALL, PASS_AS(PASS_OTHER, NONE) },
	{ "v4_psh_ack_data", { .flags = TH_PSH | TH_ACK, .payload = 100 }, DENY_ALL,
	  PASS_AS(PASS_OTHER, NONE) },
	{ "v4_rst", { .flags = TH_RST }, DENY_ALL, PASS_AS(PASS_OTHER, NONE) },
	{ "v4_rst_ack", { .flags = TH_RST | TH_ACK }, DENY_ALL, PASS_AS(PASS_OTHER, NONE) },
	{ "v4_fin", { .flags = TH_FIN }, DENY_ALL, PASS_AS(PASS_OTHER, NONE) },
	{ "v4_fin_ack", { .flags = TH_FIN | TH_ACK }, DENY_ALL, PASS_AS(PASS_OTHER, NONE) },
	{ "v4_syn_rst", { .flags = TH_SYN | TH_RST }, DENY_ALL, PASS_AS(PASS_OTHER, NONE) },
	{ "v4_syn_fin", { .flags = TH_SYN | TH_FIN }, DENY_ALL, PASS_AS(PASS_OTHER, NONE) },
	{ "v6_synack", { V6, .flags = TH_SYN | TH_ACK }, DENY_ALL, PASS_AS(PASS_OTHER, NONE) },
	{ "v6_ack", { V6, .flags = TH_ACK }, DENY_ALL, PASS_AS(PASS_OTHER, NONE) },
	{ "v6_rst", { V6, .flags = TH_RST }, DENY_ALL, PASS_AS(PASS_OTHER, NONE) },
	{ "v6_fin_ack", { V6, .flags = TH_FIN | TH_ACK }, DENY_ALL, PASS_AS(PASS_OTHER, NONE) },
	/* pure SYN may carry ECN setup flags (ECE|CWR) */
	{ "v4_syn_ecn", { .flags = TH_SYN | 0xc0 }, DENY_ALL, DROP_AS(DROP_DENY, SMTP) },
	/* not TCP */
	{ "v4_udp_25", { .proto = PROTO_UDP }, DENY_ALL, PASS_AS(PASS_OTHER, NONE) },
	{ "v4_icmp", { .proto = PROTO_ICMP }, DENY_ALL, PASS_AS(PASS_OTHER, NONE) },
	{ "v6_udp_25", { V6, .proto = PROTO_UDP }, DENY_ALL, PASS_AS(PASS_OTHER, NONE) },
	{ "arp", { .ethertype = 0x0806 }, DENY_ALL, PASS_AS(PASS_OTHER, NONE) },
	{ "three_vlan_tags", { .vlans = 3 }, DENY_ALL, PASS_AS(PASS_OTHER, NONE) },
	/* header forms that parse: a denied source is dropped (judged) */
	{ "v4_vlan", { .vlans = 1 }, DENY_DOC, DROP_AS(DROP_DENY, SMTP) },
	{ "v4_qinq", { .vlans = 2 }, DENY_DOC, DROP_AS(DROP_DENY, SMTP) },
	{ "v6_vlan", { V6, .vlans = 1 }, DENY_DOC, DROP_AS(DROP_DENY, SMTP) },
	{ "v6_qinq", { V6, .vlans = 2 }, DENY_DOC, DROP_AS(DROP_DENY, SMTP) },
	{ "v4_ip_options_4", { .ip_opts = 4 }, DENY_DOC, DROP_AS(DROP_DENY, SMTP) },
	{ "v4_ip_options_40", { .ip_opts = 40 }, DENY_DOC, DROP_AS(DROP_DENY, SMTP) },
	{ "v4_qinq_options_tcpopts", { .vlans = 2, .ip_opts = 12, .tcp_opts = 40 }, DENY_DOC,
	  DROP_AS(DROP_DENY, SMTP) },
	{ "v4_syn_with_data", { .payload = 16 }, DENY_DOC, DROP_AS(DROP_DENY, SMTP) },
	{ "v4_ethernet_padding", { .pad = 10 }, DENY_DOC, DROP_AS(DROP_DENY, SMTP) },
	{ "v6_ethernet_padding", { V6, .pad = 6 }, DENY_DOC, DROP_AS(DROP_DENY, SMTP) },
	{ "v6_hop_by_hop", { V6, .n_ext = 1, .ext = { EXT_HOP } }, DENY_DOC, DROP_AS(DROP_DENY, SMTP) },
	{ "v6_routing", { V6, .n_ext = 1, .ext = { EXT_ROUT } }, DENY_DOC, DROP_AS(DROP_DENY, SMTP) },
	{ "v6_dstopts", { V6, .n_ext = 1, .ext = { EXT_DST } }, DENY_DOC, DROP_AS(DROP_DENY, SMTP) },
	{ "v6_hop_dst_rout_dst", { V6, .n_ext = 4, .ext = { EXT_HOP, EXT_DST, EXT_ROUT, EXT_DST } },
	  DENY_DOC, DROP_AS(DROP_DENY, SMTP) },
	{ "v6_six_ext_qinq", { V6, .vlans = 2, .n_ext = 6, .tcp_opts = 20,
	  .ext = { EXT_HOP, EXT_DST, EXT_ROUT, EXT_DST, EXT_DST, EXT_DST } },
	  DENY_DOC, DROP_AS(DROP_DENY, SMTP) },
	{ "v6_seven_dstopts", { V6, .n_ext = 7,
	  .ext = { EXT_DST, EXT_DST, EXT_DST, EXT_DST, EXT_DST, EXT_DST, EXT_DST } },
	  DENY_DOC, DROP_AS(DROP_DENY, SMTP) },
	{ "v6_seven_ext", { V6, .n_ext = 7,
	  .ext = { EXT_HOP, EXT_DST, EXT_ROUT, EXT_DST, EXT_DST, EXT_DST, EXT_DST } },
	  DENY_DOC, DROP_AS(DROP_DENY, SMTP) },
	{ "v6_eight_ext", { V6, .n_ext = 8,
	  .ext = { EXT_HOP, EXT_DST, EXT_ROUT, EXT_DST, EXT_DST, EXT_DST, EXT_DST, EXT_DST } },
	  DENY_DOC, DROP_AS(DROP_DENY, SMTP) },
	{ "v6_eight_ext_allowed_source", { V6, .n_ext = 8,
	  .ext = { EXT_HOP, EXT_DST, EXT_ROUT, EXT_DST, EXT_DST, EXT_DST, EXT_DST, EXT_DST } },
	  PASS_AS(PASS_OK, SMTP) },
	{ "v6_seven_ext_and_fragment", { V6, .n_ext = 7, .frag = FRAG_ATOMIC,
	  .ext = { EXT_HOP, EXT_DST, EXT_ROUT, EXT_DST, EXT_DST, EXT_DST, EXT_DST } },
	  DENY_DOC, DROP_AS(DROP_DENY, SMTP) },
	/* more extension headers than the parser walks: it could be a gated SYN */
	{ "v6_nine_ext_dropped", { V6, .n_ext = 9, .ext = { EXT_HOP, EXT_DST, EXT_ROUT, EXT_DST,
	  EXT_DST, EXT_DST, EXT_DST, EXT_DST, EXT_DST } }, DROP_AS(DROP_UNPARSED, NONE) },
	{ "v6_nine_ext_udp_dropped", { V6, .n_ext = 9, .proto = PROTO_UDP, .ext = { EXT_DST, EXT_DST,
	  EXT_DST, EXT_DST, EXT_DST, EXT_DST, EXT_DST, EXT_DST, EXT_DST } }, DROP_AS(DROP_UNPARSED, NONE) },
	{ "v6_nine_ext_unparsed_pass", { V6, .n_ext = 9, .ext = { EXT_DST, EXT_DST, EXT_DST, EXT_DST,
	  EXT_DST, EXT_DST, EXT_DST, EXT_DST, EXT_DST } }, DENY_DOC, .cfg = cfg_unparsed_pass,
	  PASS_AS(PASS_UNPARSED, NONE) },
	{ "v6_nine_ext_observe", { V6, .n_ext = 9, .ext = { EXT_DST, EXT_DST, EXT_DST, EXT_DST,
	  EXT_DST, EXT_DST, EXT_DST, EXT_DST, EXT_DST } }, .cfg = cfg_observe,
	  PASS_AS(DROP_UNPARSED, NONE) },
	/* fragments: a first one is judged by its TCP header (the kernel
	 * reassembles and answers it), a later one passes (it opens nothing
	 * without its first) */
	{ "v4_fragment_first", { .frag = FRAG_MF }, DENY_ALL, DROP_AS(DROP_DENY, SMTP) },
	{ "v4_fragment_first_allowed_source", { .frag = FRAG_MF }, PASS_AS(PASS_OK, SMTP) },
	{ "v4_fragment_first_options", { .frag = FRAG_MF, .ip_opts = 8 }, DENY_ALL,
	  DROP_AS(DROP_DENY, SMTP) },
	{ "v4_fragment_first_not_gated", { .frag = FRAG_MF, .dport = 80 }, DENY_ALL,
	  PASS_AS(PASS_NOT_GATED, NONE) },
	{ "v4_fragment_first_ack", { .frag = FRAG_MF, .flags = TH_ACK }, DENY_ALL,
	  PASS_AS(PASS_OTHER, NONE) },
	{ "v4_fragment_first_tiny", { .frag = FRAG_MF, .l4_cut = 8 }, DENY_ALL,
	  DROP_AS(DROP_UNPARSED, NONE) },
	{ "v4_fragment_first_tiny_unparsed_pass", { .frag = FRAG_MF, .l4_cut = 16 }, DENY_ALL,
	  .cfg = cfg_unparsed_pass, PASS_AS(PASS_UNPARSED, NONE) },
	{ "v4_truncated_not_fragment", { .l4_cut = 16 }, DENY_ALL, PASS_AS(PASS_MALFORMED, NONE) },
	{ "v4_fragment_offset", { .frag = FRAG_OFFSET }, DENY_ALL, PASS_AS(PASS_FRAGMENT, NONE) },
	{ "v6_fragment_first", { V6, .frag = FRAG_MF }, DENY_ALL, DROP_AS(DROP_DENY, SMTP) },
	{ "v6_fragment_atomic", { V6, .frag = FRAG_ATOMIC }, DENY_ALL, DROP_AS(DROP_DENY, SMTP) },
	{ "v6_fragment_atomic_allowed_source", { V6, .frag = FRAG_ATOMIC }, PASS_AS(PASS_OK, SMTP) },
	{ "v6_fragment_first_tiny", { V6, .frag = FRAG_MF, .l4_cut = 12 }, DENY_ALL,
	  DROP_AS(DROP_UNPARSED, NONE) },
	{ "v6_fragment_offset", { V6, .frag = FRAG_OFFSET }, DENY_ALL, PASS_AS(PASS_FRAGMENT, NONE) },
	{ "v6_hop_then_fragment", { V6, .frag = FRAG_MF, .n_ext = 1, .ext = { EXT_HOP } }, DENY_ALL,
	  DROP_AS(DROP_DENY, SMTP) },
	{ "v6_hop_then_fragment_offset", { V6, .frag = FRAG_OFFSET, .n_ext = 1, .ext = { EXT_HOP } },
	  DENY_ALL, PASS_AS(PASS_FRAGMENT, NONE) },

	/* 1. allow: wins over everything */
	{ "allow", {}, .allow = { { "192.0.2.1/32" } }, PASS_AS(PASS_ALLOW, SMTP) },
	{ "allow_v6_prefix", { V6 }, .allow = { { "2001:db8::/48" } }, PASS_AS(PASS_ALLOW, SMTP) },
	{ "allow_beats_deny", {}, .allow = { { "192.0.2.1/32" } }, .deny = { { "192.0.2.0/24" } },
	  PASS_AS(PASS_ALLOW, SMTP) },
	{ "allow_beats_ban", {}, .allow = { { "192.0.2.0/24" } }, .ban = TTL_LIVE,
	  PASS_AS(PASS_ALLOW, SMTP) },
	{ "allow_beats_dnsbl", {}, .allow = { { "192.0.2.0/24" } }, .verdict = 1 + MG_VERDICT_LISTED,
	  .verdict_ttl = TTL_LIVE, .cfg = cfg_dnsbl, PASS_AS(PASS_ALLOW, SMTP) },
	{ "allow_beats_quotas", {}, .allow = { { "192.0.2.0/24" } }, .exhaust = EX_SRC | EX_PREFIX,
	  .conn = 100, PASS_AS(PASS_ALLOW, SMTP) },
	{ "allow_with_ttl", {}, .allow = { { "192.0.2.1/32", TTL_LIVE } }, .deny = { { V4_ALL } },
	  PASS_AS(PASS_ALLOW, SMTP) },
	{ "allow_expired_then_deny", {}, .allow = { { "192.0.2.1/32", TTL_DEAD } },
	  .deny = { { V4_ALL } }, DROP_AS(DROP_DENY, SMTP) },
	/* 2. deny */
	{ "deny_v4_host", {}, .deny = { { "192.0.2.1" } }, DROP_AS(DROP_DENY, SMTP) },
	{ "deny_v4_prefix", {}, .deny = { { "192.0.2.0/24" } }, DROP_AS(DROP_DENY, SMTP) },
	{ "deny_v4_other_prefix", {}, .deny = { { "203.0.113.0/24" } }, PASS_AS(PASS_OK, SMTP) },
	{ "deny_v6_prefix", { V6 }, .deny = { { "2001:db8::/48" } }, DROP_AS(DROP_DENY, SMTP) },
	{ "deny_v6_other_prefix", { V6, .src = "2001:db8:1:2::5" }, .deny = { { "2001:db8::/48" } },
	  PASS_AS(PASS_OK, SMTP) },
	{ "deny_v4_all_not_v6", { V6 }, .deny = { { V4_ALL } }, PASS_AS(PASS_OK, SMTP) },
	{ "deny_beats_ban", {}, .deny = { { "192.0.2.1" } }, .ban = TTL_LIVE, DROP_AS(DROP_DENY, SMTP) },
	{ "deny_with_ttl", {}, .deny = { { "192.0.2.1", TTL_LIVE } }, DROP_AS(DROP_DENY, SMTP) },
	{ "deny_expired", {}, .deny = { { "192.0.2.1", TTL_DEAD } }, PASS_AS(PASS_OK, SMTP) },
	{ "deny_expired_host_in_static_prefix", {},
	  .deny = { { "192.0.2.1", TTL_DEAD }, { "192.0.2.0/24" } }, DROP_AS(DROP_DENY, SMTP) },
	{ "deny_expired_host_in_expired_prefix", {},
	  .deny = { { "192.0.2.1", TTL_DEAD }, { "192.0.2.0/24", TTL_DEAD } }, PASS_AS(PASS_OK, SMTP) },
	/* longest active prefix: expired longer ones are skipped however many
	 * lengths lie between; exclusions win where they are the longest */
	{ "deny_v6_expired_host_in_static_prefix", { V6 },
	  .deny = { { "2001:db8::1", TTL_DEAD }, { "2001:db8::/64" } }, DROP_AS(DROP_DENY, SMTP) },
	{ "deny_expired_hosts_many_lengths", {},
	  .deny = { { "192.0.2.1", TTL_DEAD }, { "192.0.2.0/31", TTL_DEAD }, { "192.0.0.0/16" } },
	  DROP_AS(DROP_DENY, SMTP) },
	{ "deny_five_expired_lengths_in_static_prefix", {},
	  .deny = { { "192.0.2.1", TTL_DEAD }, { "192.0.2.0/31", TTL_DEAD }, { "192.0.2.0/30", TTL_DEAD },
		    { "192.0.2.0/29", TTL_DEAD }, { "192.0.2.0/28", TTL_DEAD }, { "192.0.0.0/16" } },
	  DROP_AS(DROP_DENY, SMTP) },
	{ "deny_v6_expired_many_lengths", { V6 },
	  .deny = { { "2001:db8::1", TTL_DEAD }, { "2001:db8::/127", TTL_DEAD }, { "2001:db8::/32" } },
	  DROP_AS(DROP_DENY, SMTP) },
	{ "deny_live_host_in_expired_prefix", {},
	  .deny = { { "192.0.2.1", TTL_LIVE }, { "192.0.2.0/24", TTL_DEAD } }, DROP_AS(DROP_DENY, SMTP) },
	{ "deny_exclusion_in_listed_prefix", {},
	  .deny = { { "192.0.2.1", .excl = true }, { "192.0.2.0/24" } }, PASS_AS(PASS_OK, SMTP) },
	{ "deny_v6_exclusion_in_listed_prefix", { V6 },
	  .deny = { { "2001:db8::1", .excl = true }, { "2001:db8::/48" } }, PASS_AS(PASS_OK, SMTP) },
	{ "deny_listed_host_in_excluded_prefix", {},
	  .deny = { { "192.0.2.1" }, { "192.0.2.0/28", .excl = true }, { "192.0.2.0/24" } },
	  DROP_AS(DROP_DENY, SMTP) },
	{ "deny_v6_listed_host_in_excluded_prefix", { V6 },
	  .deny = { { "2001:db8::1" }, { "2001:db8::/64", .excl = true }, { "2001:db8::/32" } },
	  DROP_AS(DROP_DENY, SMTP) },
	{ "deny_expired_exclusion_in_listed_prefix", {},
	  .deny = { { "192.0.2.1", TTL_DEAD, true }, { "192.0.2.0/24" } }, DROP_AS(DROP_DENY, SMTP) },
	{ "deny_v6_expired_exclusion_in_listed_prefix", { V6 },
	  .deny = { { "2001:db8::1", TTL_DEAD, true }, { "2001:db8::/48" } }, DROP_AS(DROP_DENY, SMTP) },
	{ "deny_exclusion_alone_passes", {}, .deny = { { "192.0.2.0/24", .excl = true } },
	  PASS_AS(PASS_OK, SMTP) },
	{ "allow_expired_host_in_static_prefix", {},
	  .allow = { { "192.0.2.1", TTL_DEAD }, { "192.0.2.0/24" } }, .deny = { { V4_ALL } },
	  PASS_AS(PASS_ALLOW, SMTP) },
	{ "allow_v6_expired_host_in_static_prefix", { V6 },
	  .allow = { { "2001:db8::1", TTL_DEAD }, { "2001:db8::/64" } }, .deny = { { V6_ALL } },
	  PASS_AS(PASS_ALLOW, SMTP) },
	/* 3. ban */
	{ "ban", {}, .ban = TTL_LIVE, DROP_AS(DROP_BAN, SMTP) },
	{ "ban_v6", { V6 }, .ban = TTL_LIVE, DROP_AS(DROP_BAN, SMTP) },
	{ "ban_forever", {}, .ban = TTL_NEVER, DROP_AS(DROP_BAN, SMTP) },
	{ "ban_expired", {}, .ban = TTL_DEAD, PASS_AS(PASS_OK, SMTP) },
	{ "ban_beats_dnsbl", {}, .ban = TTL_LIVE, .verdict = 1 + MG_VERDICT_ALLOWED,
	  .verdict_ttl = TTL_LIVE, .cfg = cfg_dnsbl, DROP_AS(DROP_BAN, SMTP) },
	/* 4. DNSBL verdict */
	{ "dnsbl_listed", {}, .verdict = 1 + MG_VERDICT_LISTED, .verdict_ttl = TTL_LIVE,
	  .cfg = cfg_dnsbl, DROP_AS(DROP_DNSBL, SMTP) },
	{ "dnsbl_listed_v6", { V6 }, .verdict = 1 + MG_VERDICT_LISTED, .verdict_ttl = TTL_LIVE,
	  .cfg = cfg_dnsbl, DROP_AS(DROP_DNSBL, SMTP) },
	{ "dnsbl_off_ignores_verdict", {}, .verdict = 1 + MG_VERDICT_LISTED, .verdict_ttl = TTL_LIVE,
	  PASS_AS(PASS_OK, SMTP) },
	{ "dnsbl_listed_beats_quotas", {}, .verdict = 1 + MG_VERDICT_LISTED, .verdict_ttl = TTL_LIVE,
	  .exhaust = EX_SRC, .cfg = cfg_dnsbl, DROP_AS(DROP_DNSBL, SMTP) },
	{ "dnsbl_listed_expired_is_pending", {}, .verdict = 1 + MG_VERDICT_LISTED,
	  .verdict_ttl = TTL_DEAD, .cfg = cfg_dnsbl, PASS_AS(PASS_PENDING, SMTP) },
	{ "dnsbl_allowed_skips_quotas", {}, .verdict = 1 + MG_VERDICT_ALLOWED, .verdict_ttl = TTL_LIVE,
	  .exhaust = EX_SRC | EX_PREFIX, .conn = 100, .class_conn = 100, .cfg = cfg_dnsbl,
	  PASS_AS(PASS_DNSWL, SMTP) },
	{ "dnsbl_clean", {}, .verdict = 1 + MG_VERDICT_CLEAN, .verdict_ttl = TTL_LIVE,
	  .cfg = cfg_dnsbl, PASS_AS(PASS_OK, SMTP) },
	{ "dnsbl_clean_keeps_quotas", {}, .verdict = 1 + MG_VERDICT_CLEAN, .verdict_ttl = TTL_LIVE,
	  .exhaust = EX_SRC, .cfg = cfg_dnsbl, DROP_AS(DROP_RATE, SMTP) },
	{ "dnsbl_unknown_pass", {}, .cfg = cfg_dnsbl, PASS_AS(PASS_PENDING, SMTP) },
	{ "dnsbl_unknown_hold", {}, .cfg = cfg_hold, DROP_AS(DROP_PENDING, SMTP) },
	{ "dnsbl_pending_hold", {}, .verdict = 1 + MG_VERDICT_PENDING, .verdict_ttl = TTL_LIVE,
	  .cfg = cfg_hold, DROP_AS(DROP_PENDING, SMTP) },
	{ "dnsbl_pending_pass_keeps_quotas", {}, .exhaust = EX_SRC, .cfg = cfg_dnsbl,
	  DROP_AS(DROP_RATE, SMTP) },
	{ "dnsbl_clean_with_hold", {}, .verdict = 1 + MG_VERDICT_CLEAN, .verdict_ttl = TTL_LIVE,
	  .cfg = cfg_hold, PASS_AS(PASS_OK, SMTP) },
	/* 5. per-source rate */
	{ "rate_exhausted", {}, .exhaust = EX_SRC, DROP_AS(DROP_RATE, SMTP) },
	{ "rate_exhausted_v6", { V6 }, .exhaust = EX_SRC, DROP_AS(DROP_RATE, SMTP) },
	{ "rate_beats_prefix", {}, .exhaust = EX_SRC | EX_PREFIX, DROP_AS(DROP_RATE, SMTP) },
	{ "rate_burst_admits_3", {}, .cfg = cfg_burst3, .runs = 3, PASS_AS(PASS_OK, SMTP) },
	{ "rate_burst_drops_4th", {}, .cfg = cfg_burst3, .runs = 4, DROP_AS(DROP_RATE, SMTP) },
	{ "rate_off", {}, .cfg = cfg_norate, .runs = 300, PASS_AS(PASS_OK, SMTP) },
	/* 6. per-prefix rate */
	{ "prefix_exhausted", {}, .exhaust = EX_PREFIX, DROP_AS(DROP_PREFIX_RATE, SMTP) },
	{ "prefix_exhausted_v6", { V6 }, .exhaust = EX_PREFIX, DROP_AS(DROP_PREFIX_RATE, SMTP) },
	{ "prefix_beats_concurrent", {}, .exhaust = EX_PREFIX, .conn = 100,
	  DROP_AS(DROP_PREFIX_RATE, SMTP) },
	/* 7. concurrent connections (default max_concurrent smtp:50) */
	{ "concurrent_below", {}, .conn = 49, PASS_AS(PASS_OK, SMTP) },
	{ "concurrent_at_max", {}, .conn = 50, DROP_AS(DROP_CONCURRENT, SMTP) },
	{ "concurrent_at_max_v6", { V6 }, .conn = 50, DROP_AS(DROP_CONCURRENT, SMTP) },
	{ "concurrent_off", {}, .conn = 1000, .cfg = cfg_noconc, PASS_AS(PASS_OK, SMTP) },
	{ "concurrent_beats_total", {}, .conn = 50, .class_conn = 3, .cfg = cfg_total3,
	  DROP_AS(DROP_CONCURRENT, SMTP) },
	{ "total_below", {}, .class_conn = 2, .cfg = cfg_total3, PASS_AS(PASS_OK, SMTP) },
	{ "total_at_max", {}, .class_conn = 3, .cfg = cfg_total3, DROP_AS(DROP_TOTAL_CONCURRENT, SMTP) },
	{ "total_other_class", { .dport = 143 }, .class_conn = 3, .cfg = cfg_total3,
	  PASS_AS(PASS_OK, IMAP) },
	{ "total_off_by_default", {}, .class_conn = 100000, PASS_AS(PASS_OK, SMTP) },

	/* mode and action */
	{ "observe_deny_passes", {}, .deny = { { V4_ALL } }, .cfg = cfg_observe,
	  PASS_AS(DROP_DENY, SMTP) },
	{ "observe_rate_passes", {}, .exhaust = EX_SRC, .cfg = cfg_observe, PASS_AS(DROP_RATE, SMTP) },
	{ "observe_pending_hold_passes", {}, .cfg = cfg_observe, .verdict = 1 + MG_VERDICT_PENDING,
	  .verdict_ttl = TTL_LIVE, PASS_AS(PASS_OK, SMTP) },
	{ "reset_v4", {}, DENY_ALL, .cfg = cfg_reset, .xdp = XDP_TX, .reason = MG_REASON_DROP_DENY,
	  .class = MG_CLASS_SMTP },
	{ "reset_v6", { V6 }, DENY_ALL, .cfg = cfg_reset, .xdp = XDP_TX, .reason = MG_REASON_DROP_DENY,
	  .class = MG_CLASS_SMTP },
	{ "reset_v4_qinq", { .vlans = 2 }, DENY_ALL, .cfg = cfg_reset, .xdp = XDP_TX,
	  .reason = MG_REASON_DROP_DENY, .class = MG_CLASS_SMTP },
	/* no RST for headers it does not rewrite: plain drop */
	{ "reset_v4_options_drops", { .ip_opts = 8 }, DENY_ALL, .cfg = cfg_reset,
	  DROP_AS(DROP_DENY, SMTP) },
	{ "reset_v6_ext_drops", { V6, .n_ext = 1, .ext = { EXT_DST } }, DENY_ALL, .cfg = cfg_reset,
	  DROP_AS(DROP_DENY, SMTP) },
	{ "reset_v4_fragment_drops", { .frag = FRAG_MF }, DENY_ALL, .cfg = cfg_reset,
	  DROP_AS(DROP_DENY, SMTP) },
	{ "reset_v6_atomic_fragment_drops", { V6, .frag = FRAG_ATOMIC }, DENY_ALL, .cfg = cfg_reset,
	  DROP_AS(DROP_DENY, SMTP) },
	{ "reset_unparsed_drops", { V6, .n_ext = 9, .ext = { EXT_DST, EXT_DST, EXT_DST, EXT_DST,
	  EXT_DST, EXT_DST, EXT_DST, EXT_DST, EXT_DST } }, .cfg = cfg_reset, DROP_AS(DROP_UNPARSED, NONE) },
	{ "reset_observe_passes", {}, DENY_ALL, .cfg = cfg_reset_observe, PASS_AS(DROP_DENY, SMTP) },
	/* a held SYN must come again: never answered with a RST */
	{ "reset_pending_hold_drops_silently", {}, .cfg = cfg_hold_reset, DROP_AS(DROP_PENDING, SMTP) },
	{ "reset_rate", {}, .exhaust = EX_SRC, .cfg = cfg_reset, .xdp = XDP_TX,
	  .reason = MG_REASON_DROP_RATE, .class = MG_CLASS_SMTP },
	/* denied / banned / listed = reject: passed for the responder, within the quotas */
	{ "reject_deny", {}, DENY_DOC, .cfg = cfg_reject, PASS_AS(REJECT_DENY, SMTP) },
	{ "reject_deny_v6", { V6 }, DENY_DOC, .cfg = cfg_reject, PASS_AS(REJECT_DENY, SMTP) },
	{ "reject_ban", {}, .ban = TTL_LIVE, .cfg = cfg_reject, PASS_AS(REJECT_BAN, SMTP) },
	{ "reject_deny_beats_ban", {}, DENY_DOC, .ban = TTL_LIVE, .cfg = cfg_reject, PASS_AS(REJECT_DENY, SMTP) },
	{ "reject_listed", {}, .verdict = 1 + MG_VERDICT_LISTED, .verdict_ttl = TTL_LIVE,
	  .cfg = cfg_reject, PASS_AS(REJECT_DNSBL, SMTP) },
	{ "reject_listed_v6_imap", { V6, .dport = 143 }, .verdict = 1 + MG_VERDICT_LISTED,
	  .verdict_ttl = TTL_LIVE, .cfg = cfg_reject, PASS_AS(REJECT_DNSBL, IMAP) },
	{ "reject_listed_keeps_rate", {}, .verdict = 1 + MG_VERDICT_LISTED, .verdict_ttl = TTL_LIVE,
	  .exhaust = EX_SRC, .cfg = cfg_reject, DROP_AS(DROP_RATE, SMTP) },
	{ "reject_deny_keeps_prefix_rate", {}, DENY_DOC, .exhaust = EX_PREFIX, .cfg = cfg_reject,
	  DROP_AS(DROP_PREFIX_RATE, SMTP) },
	{ "reject_ban_keeps_concurrency", {}, .ban = TTL_LIVE, .conn = 50, .cfg = cfg_reject,
	  DROP_AS(DROP_CONCURRENT, SMTP) },
	{ "reject_allow_wins", {}, .allow = { { "192.0.2.1" } }, .verdict = 1 + MG_VERDICT_LISTED,
	  .verdict_ttl = TTL_LIVE, .cfg = cfg_reject, PASS_AS(PASS_ALLOW, SMTP) },
	{ "reject_only_what_is_set", {}, DENY_DOC, .cfg = cfg_reject_listed, DROP_AS(DROP_DENY, SMTP) },
	{ "reject_never_resets", {}, DENY_DOC, .cfg = cfg_reject_reset, PASS_AS(REJECT_DENY, SMTP) },
};

static uint64_t ttl_ns(enum ttl t, uint64_t now)
{
	switch (t) {
	case TTL_LIVE: return now + 3600 * SEC_NS;
	case TTL_DEAD: return now - SEC_NS;
	default: return 0;
	}
}

static const char *frame_src(const struct frame *f)
{
	return f->src ? f->src : f->family == 6 ? "2001:db8::1" : "192.0.2.1";
}

/* the bucket key of src's prefix under cfg */
/* the unverified bucket of a's prefix (the table's sources never completed a handshake) */
static struct mg_prefix_key prefix_key(const struct mg_config *c, struct mg_addr a)
{
	uint32_t bits = addr_is_v4(&a) ? 96 + c->prefix_v4 : c->prefix_v6;
	struct mg_prefix_key k = { .verified = 0 };

	for (uint32_t b = bits; b < 128; b++)
		a.a[b / 8] &= (uint8_t) ~(0x80 >> (b % 8));
	k.addr = a;
	return k;
}

/* Check that exactly slot (reason, class) rose by one between before and after. */
static bool counters_moved(const uint64_t *before, const uint64_t *after, int reason, int class)
{
	uint32_t want = MG_COUNTER_IDX(reason, class);
	bool ok = true;

	for (uint32_t i = 0; i < MG_COUNTER_SLOTS; i++) {
		uint64_t d = after[i] - before[i], exp = i == want;

		if (d != exp) {
			printf("  counter %s/%s changed by %llu, expected %llu\n",
			       mg_reason_names[i / MG_CLASS_MAX], mg_class_names[i % MG_CLASS_MAX],
			       (unsigned long long)d, (unsigned long long)exp);
			ok = false;
		}
	}
	return ok;
}

static void set_state(const struct row *r, const struct mg_config *cfg)
{
	uint64_t now = now_boot_ns();
	struct mg_addr src = fx_addr(frame_src(&r->f));

	for (int i = 0; i < 6; i++) {
		if (i < 3 && r->allow[i].cidr)
			ASSERT_OK(fx_rule(&fx, GM_ALLOW, r->allow[i].cidr, ttl_ns(r->allow[i].ttl, now)),
				  "allow entry");
		if (r->deny[i].cidr)
			ASSERT_OK(fx_rule_flags(&fx, GM_DENY, r->deny[i].cidr, ttl_ns(r->deny[i].ttl, now),
						r->deny[i].excl ? MG_RULE_EXCLUDE : 0), "deny entry");
	}
	if (r->ban)
		ASSERT_OK(fx_ban(&fx, frame_src(&r->f), ttl_ns(r->ban, now), 0, now - 10 * SEC_NS),
			  "ban entry");
	if (r->verdict)
		ASSERT_OK(fx_verdict(&fx, frame_src(&r->f), r->verdict - 1, ttl_ns(r->verdict_ttl, now)),
			  "verdict entry");
	if (r->exhaust & EX_SRC) {
		struct mg_src s = {};

		for (int cl = 0; cl < MG_CLASS_MAX; cl++)
			s.tat_ns[cl] = now + 3600 * SEC_NS;

		ASSERT_OK(bpf_map_update_elem(fx.g.fd[GM_SRC], &src, &s, BPF_ANY), "mg_src entry");
	}
	if (r->exhaust & EX_PREFIX) {
		struct mg_bucket b = { .tat_ns = now + 3600 * SEC_NS };
		struct mg_prefix_key k = prefix_key(cfg, src);

		ASSERT_OK(bpf_map_update_elem(fx.g.fd[GM_PREFIX], &k, &b, BPF_ANY), "mg_prefix entry");
	}
	if (r->conn)
		ASSERT_OK(fx_conn_set(&fx, frame_src(&r->f), MG_CLASS_SMTP, r->conn), "mg_conn entry");
	if (r->class_conn) {
		uint32_t smtp = MG_CLASS_SMTP;

		ASSERT_OK(fx_u32(&fx, GM_CLASS_CONN, &smtp, r->class_conn), "mg_class_conn entry");
	}
}

static void run_row(const struct row *r)
{
	uint64_t before[MG_COUNTER_SLOTS], after[MG_COUNTER_SLOTS];
	uint8_t pkt[1024], out[1024];
	uint32_t out_len = sizeof(out);
	struct mg_config cfg;
	size_t len;
	int ret;

	fx_config(&cfg);
	if (r->cfg)
		r->cfg(&cfg);
	if (!ASSERT_OK(fx_reset(&fx, &cfg), "reset maps"))
		return;
	set_state(r, &cfg);
	len = frame_build(pkt, sizeof(pkt), &r->f, NULL);
	if (!ASSERT_TRUE(len > 0, "frame fits"))
		return;
	for (int i = 1; i < r->runs; i++)
		fx_run(&fx, pkt, len, NULL, NULL);
	fx_counters(&fx, before);
	ret = fx_run(&fx, pkt, len, out, &out_len);
	fx_counters(&fx, after);
	ASSERT_EQ(ret, r->xdp, "XDP verdict");
	counters_moved(before, after, r->reason, r->class) || (test_failed_now = 1);
}

/* Each row is a case of its own: one PASS/FAIL line per row. */
TEST(decisions)
{
	int failed = 0;

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		test_failed_now = 0;
		run_row(&rows[i]);
		printf("%s test_gate:decisions/%s\n", test_failed_now ? "FAIL" : "PASS", rows[i].name);
		failed |= test_failed_now;
	}
	test_failed_now = failed;
}

/* ---- malformed frames: never dropped, never aborted, counted as such ---- */
enum base { B_L3, B_L4 };

struct mangle {
	const char *name;
	struct frame f;
	enum base base;
	int at, size;   /* field offset from base, 1 or 2 bytes */
	uint16_t value;
	int reason;     /* expected counter (class none) */
};

static const struct mangle mangles[] = {
	{ "v4_ihl_4", {}, B_L3, 0, 1, 0x44, MG_REASON_PASS_MALFORMED },
	{ "v4_ihl_0", {}, B_L3, 0, 1, 0x40, MG_REASON_PASS_MALFORMED },
	{ "v4_ihl_15_no_options", {}, B_L3, 0, 1, 0x4f, MG_REASON_PASS_MALFORMED },
	{ "v4_version_6", {}, B_L3, 0, 1, 0x65, MG_REASON_PASS_MALFORMED },
	{ "v4_tot_len_beyond_frame", {}, B_L3, 2, 2, 1500, MG_REASON_PASS_MALFORMED },
	{ "v4_tot_len_below_ihl", {}, B_L3, 2, 2, 19, MG_REASON_PASS_MALFORMED },
	{ "v4_tot_len_0", {}, B_L3, 2, 2, 0, MG_REASON_PASS_MALFORMED },
	{ "v4_tot_len_cuts_tcp", {}, B_L3, 2, 2, 30, MG_REASON_PASS_MALFORMED },
	{ "v4_tot_len_cuts_tcp_options", { .tcp_opts = 20 }, B_L3, 2, 2, 50, MG_REASON_PASS_MALFORMED },
	{ "v4_options_tot_len_cuts_tcp", { .ip_opts = 40 }, B_L3, 2, 2, 70, MG_REASON_PASS_MALFORMED },
	{ "v4_tcp_doff_4", {}, B_L4, 12, 1, 0x40, MG_REASON_PASS_MALFORMED },
	{ "v4_tcp_doff_0", {}, B_L4, 12, 1, 0x00, MG_REASON_PASS_MALFORMED },
	{ "v4_tcp_doff_15_beyond", {}, B_L4, 12, 1, 0xf0, MG_REASON_PASS_MALFORMED },
	{ "v4_tcp_doff_beyond_tot_len_padded", { .pad = 40 }, B_L4, 12, 1, 0xf0,
	  MG_REASON_PASS_MALFORMED },
	{ "v6_payload_len_beyond_frame", { V6 }, B_L3, 4, 2, 1000, MG_REASON_PASS_MALFORMED },
	{ "v6_payload_len_cuts_tcp", { V6 }, B_L3, 4, 2, 10, MG_REASON_PASS_MALFORMED },
	{ "v6_payload_len_0", { V6 }, B_L3, 4, 2, 0, MG_REASON_PASS_MALFORMED },
	{ "v6_version_4", { V6 }, B_L3, 0, 1, 0x40, MG_REASON_PASS_MALFORMED },
	{ "v6_tcp_doff_4", { V6 }, B_L4, 12, 1, 0x40, MG_REASON_PASS_MALFORMED },
	{ "v6_tcp_doff_15_beyond", { V6 }, B_L4, 12, 1, 0xf0, MG_REASON_PASS_MALFORMED },
	/* the hop-by-hop header claims 8 * (1 + 200) bytes */
	{ "v6_ext_len_beyond", { V6, .n_ext = 1, .ext = { EXT_HOP } }, B_L3, 41, 1, 200,
	  MG_REASON_PASS_MALFORMED },
	{ "v6_ext_len_beyond_padded", { V6, .n_ext = 1, .ext = { EXT_HOP }, .pad = 200 }, B_L3, 41, 1, 20,
	  MG_REASON_PASS_MALFORMED },
	{ "v6_ext_len_beyond_payload_len", { V6, .n_ext = 1, .ext = { EXT_DST } }, B_L3, 41, 1, 3,
	  MG_REASON_PASS_MALFORMED },
};

TEST(malformed)
{
	uint64_t before[MG_COUNTER_SLOTS], after[MG_COUNTER_SLOTS];
	uint8_t pkt[1024];
	struct mg_config cfg;
	struct frame_off off;
	int failed = 0;

	fx_config(&cfg);
	for (size_t i = 0; i < sizeof(mangles) / sizeof(mangles[0]); i++) {
		const struct mangle *m = &mangles[i];
		size_t len = frame_build(pkt, sizeof(pkt), &m->f, &off);
		uint8_t *p = pkt + (m->base == B_L3 ? off.l3 : off.l4) + m->at;
		int ret;

		test_failed_now = 0;
		fx_reset(&fx, &cfg);
		fx_rule(&fx, GM_DENY, V4_ALL, 0);
		fx_rule(&fx, GM_DENY, V6_ALL, 0);
		if (m->size == 1)
			p[0] = (uint8_t)m->value;
		else
			put16(p, m->value);
		fx_counters(&fx, before);
		ret = fx_run(&fx, pkt, len, NULL, NULL);
		fx_counters(&fx, after);
		ASSERT_EQ(ret, XDP_PASS, "XDP verdict");
		counters_moved(before, after, m->reason, MG_CLASS_NONE) || (test_failed_now = 1);
		printf("%s test_gate:malformed/%s\n", test_failed_now ? "FAIL" : "PASS", m->name);
		failed |= test_failed_now;
	}
	test_failed_now = failed;
}

/* A denied SYN cut short at every length: each passes as malformed. The
 * kernel refuses XDP test runs of frames shorter than an Ethernet header
 * (14 bytes, -EINVAL); those lengths are skipped, the rest must pass. */
static void truncations(const struct frame *f, const char *name)
{
	uint64_t before[MG_COUNTER_SLOTS], after[MG_COUNTER_SLOTS];
	uint8_t pkt[1024];
	struct mg_config cfg;
	size_t full = frame_build(pkt, sizeof(pkt), f, NULL);
	int refused = 0, runs = 0;

	fx_config(&cfg);
	fx_reset(&fx, &cfg);
	fx_rule(&fx, GM_DENY, V4_ALL, 0);
	fx_rule(&fx, GM_DENY, V6_ALL, 0);
	for (size_t len = 0; len < full; len++) {
		int ret;

		fx_counters(&fx, before);
		ret = fx_run(&fx, pkt, len, NULL, NULL);
		if (ret == -EINVAL && len < 14) {
			refused++;
			continue;
		}
		runs++;
		fx_counters(&fx, after);
		if (!ASSERT_EQ(ret, XDP_PASS, name) ||
		    !counters_moved(before, after, MG_REASON_PASS_MALFORMED, MG_CLASS_NONE)) {
			printf("  at length %zu of %zu\n", len, full);
			test_failed_now = 1;
			return;
		}
	}
	/* and the whole frame is judged: the cut was what made it pass */
	ASSERT_EQ(fx_run(&fx, pkt, full, NULL, NULL), XDP_DROP, "full frame dropped");
	printf("  %s: %d lengths pass as malformed, %d below 14 refused by the kernel\n", name, runs,
	       refused);
}

TEST(truncated_v4_qinq_options)
{
	struct frame f = { .vlans = 2, .ip_opts = 8, .tcp_opts = 12 };

	truncations(&f, "v4");
}

TEST(truncated_v6_vlan_ext)
{
	struct frame f = { V6, .vlans = 1, .n_ext = 3, .ext = { EXT_HOP, EXT_ROUT, EXT_DST },
			   .tcp_opts = 12 };

	truncations(&f, "v6");
}

/* ---- the RST answer ---- */
static void check_rst(const struct frame *f)
{
	uint8_t pkt[1024], out[1024];
	uint32_t out_len = sizeof(out);
	struct frame_off off;
	struct mg_config cfg;
	size_t len = frame_build(pkt, sizeof(pkt), f, &off);
	int v6 = f->family == 6, ret;
	const uint8_t *ip = out + off.l3, *tcp = out + off.l4;

	fx_config(&cfg);
	cfg.action = MG_ACTION_RESET;
	fx_reset(&fx, &cfg);
	fx_rule(&fx, GM_DENY, V4_ALL, 0);
	fx_rule(&fx, GM_DENY, V6_ALL, 0);
	ret = fx_run(&fx, pkt, len, out, &out_len);
	if (!ASSERT_EQ(ret, XDP_TX, "verdict"))
		return;
	/* Ethernet: addresses swapped, VLAN tags kept */
	ASSERT_TRUE(memcmp(out, pkt + 6, 6) == 0 && memcmp(out + 6, pkt, 6) == 0, "MACs swapped");
	ASSERT_TRUE(memcmp(out + 12, pkt + 12, off.l3 - 12) == 0, "VLAN tags and ethertype kept");
	ASSERT_EQ(out_len, off.l4 + 20, "frame ends after a 20-byte TCP header");
	if (v6) {
		ASSERT_TRUE(memcmp(ip + 8, pkt + off.l3 + 24, 16) == 0, "v6 source = old destination");
		ASSERT_TRUE(memcmp(ip + 24, pkt + off.l3 + 8, 16) == 0, "v6 destination = old source");
		ASSERT_EQ(get16(ip + 4), 20, "v6 payload length");
		ASSERT_EQ(ip[6], PROTO_TCP, "v6 next header");
		ASSERT_EQ(ip[0] >> 4, 6, "v6 version");
	} else {
		ASSERT_TRUE(memcmp(ip + 12, pkt + off.l3 + 16, 4) == 0, "v4 source = old destination");
		ASSERT_TRUE(memcmp(ip + 16, pkt + off.l3 + 12, 4) == 0, "v4 destination = old source");
		ASSERT_EQ(get16(ip + 2), 40, "v4 total length");
		ASSERT_EQ(ip[0], 0x45, "v4 version/ihl");
		ASSERT_EQ(ip[9], PROTO_TCP, "v4 protocol");
		ASSERT_TRUE(ip[8] > 0, "v4 ttl");
		ASSERT_EQ(csum_finish(csum_add(0, ip, 20)), 0, "v4 header checksum");
	}
	ASSERT_EQ(get16(tcp), get16(pkt + off.l4 + 2), "TCP source port = old destination port");
	ASSERT_EQ(get16(tcp + 2), get16(pkt + off.l4), "TCP destination port = old source port");
	ASSERT_EQ(get32(tcp + 8), get32(pkt + off.l4 + 4) + 1 + f->payload, "ack = seq + 1 (+ data)");
	ASSERT_EQ(get32(tcp + 4), 0, "seq 0");
	ASSERT_EQ(tcp[12] >> 4, 5, "doff 5");
	ASSERT_EQ(tcp[13], TH_RST | TH_ACK, "flags RST|ACK");
	ASSERT_EQ(l4_csum(ip, v6 ? 6 : 4, tcp, 20, PROTO_TCP), 0, "TCP checksum");
}

TEST(rst_v4)
{
	struct frame f = { .tcp_opts = 20, .seq = 0xfffffffe };

	check_rst(&f);
}

TEST(rst_v4_qinq_with_data_and_padding)
{
	struct frame f = { .vlans = 2, .payload = 5, .pad = 7 };

	check_rst(&f);
}

TEST(rst_v6)
{
	struct frame f = { V6, .tcp_opts = 20, .seq = 12345 };

	check_rst(&f);
}

TEST(rst_v6_vlan)
{
	struct frame f = { V6, .vlans = 1 };

	check_rst(&f);
}

/* ---- sequences over time ---- */
static int syn_from(const char *src, int family, uint16_t dport)
{
	struct frame f = { .family = family, .src = src, .dport = dport };
	uint8_t pkt[256];
	size_t len = frame_build(pkt, sizeof(pkt), &f, NULL);

	return fx_run(&fx, pkt, len, NULL, NULL);
}

static uint64_t counter(int reason, int class)
{
	return fx_count(&fx, reason, class);
}

/* One DNSBL query event per source per pending period. */
TEST(dnsbl_event_once_per_period)
{
	struct mg_config cfg;
	struct mg_addr a = fx_addr("192.0.2.7");
	struct mg_verdict v;
	uint64_t t0, until;

	fx_config(&cfg);
	cfg.dnsbl_enabled = 1;
	cfg.pending_ns = 300 * 1000000ULL;
	fx_reset(&fx, &cfg);
	t0 = now_boot_ns();
	for (int i = 0; i < 5; i++)
		ASSERT_EQ(syn_from("192.0.2.7", 4, 587), XDP_PASS, "pending policy pass");
	ASSERT_EQ(fx_drain(&fx), 1, "one event for five SYNs");
	ASSERT_EQ(fx.last[MG_EVENT_DNSBL_QUERY].kind, MG_EVENT_DNSBL_QUERY, "event kind");
	ASSERT_TRUE(memcmp(&fx.last[MG_EVENT_DNSBL_QUERY].addr, &a, sizeof(a)) == 0, "event address");
	ASSERT_EQ(fx.last[MG_EVENT_DNSBL_QUERY].class, MG_CLASS_SUBMISSION, "event class");
	ASSERT_RANGE(fx.last[MG_EVENT_DNSBL_QUERY].ts_ns, t0, now_boot_ns(), "event time");
	if (ASSERT_OK(bpf_map_lookup_elem(fx.g.fd[GM_PENDING], &a, &until), "pending entry"))
		ASSERT_RANGE(until, t0 + cfg.pending_ns, now_boot_ns() + cfg.pending_ns, "pending until");
	ASSERT_TRUE(bpf_map_lookup_elem(fx.g.fd[GM_VERDICT], &a, &v) != 0, "no entry among the answers");
	ASSERT_EQ(counter(MG_REASON_PASS_PENDING, MG_CLASS_SUBMISSION), 5, "counted pending");
	/* another source: its own event */
	syn_from("2001:db8::7", 6, 25);
	ASSERT_EQ(fx_drain(&fx), 1, "one event for another source");
	/* the period ends without a verdict: one more event */
	usleep(350 * 1000);
	syn_from("192.0.2.7", 4, 25);
	syn_from("192.0.2.7", 4, 25);
	ASSERT_EQ(fx_drain(&fx), 1, "one event in the next period");
	/* the controller's verdict ends the pending state: no more events */
	fx_verdict(&fx, "192.0.2.7", MG_VERDICT_CLEAN, now_boot_ns() + 60 * SEC_NS);
	ASSERT_EQ(syn_from("192.0.2.7", 4, 25), XDP_PASS, "clean passes");
	ASSERT_EQ(fx_drain(&fx), 0, "no event with a verdict");
}

/* The global event budget: burst 3 at 1/h admits 3 events for 6 sources;
 * the others are counted lost, not marked pending (they retry) and pass
 * unasked. */
TEST(dnsbl_event_budget)
{
	struct mg_config cfg;
	struct mg_global g;
	uint32_t zero = 0;
	char src[32];
	int pending = 0;

	fx_config(&cfg);
	cfg.dnsbl_enabled = 1;
	cfg.event_interval_ns = 3600 * SEC_NS;
	cfg.event_burst = 3;
	fx_reset(&fx, &cfg);
	for (int i = 1; i <= 6; i++) {
		snprintf(src, sizeof(src), "203.0.113.%d", i);
		ASSERT_EQ(syn_from(src, 4, 25), XDP_PASS, "pass while pending");
	}
	ASSERT_EQ(fx_drain(&fx), 3, "events within the budget");
	bpf_map_lookup_elem(fx.g.fd[GM_GLOBAL], &zero, &g);
	ASSERT_EQ(g.events_lost, 3, "events lost to the budget");
	for (int i = 1; i <= 6; i++) {
		struct mg_addr a;
		uint64_t until;

		snprintf(src, sizeof(src), "203.0.113.%d", i);
		a = fx_addr(src);
		pending += bpf_map_lookup_elem(fx.g.fd[GM_PENDING], &a, &until) == 0;
	}
	ASSERT_EQ(pending, 3, "only sources with an event sent are pending");
	ASSERT_EQ(counter(MG_REASON_PASS_PENDING, MG_CLASS_SMTP), 3, "three pass pending");
	ASSERT_EQ(counter(MG_REASON_PASS_UNASKED, MG_CLASS_SMTP), 3, "three pass unasked");
}

/* hold: the first SYN is dropped; once the verdict is in, the retransmission passes */
TEST(dnsbl_hold_then_verdict)
{
	struct mg_config cfg;

	fx_config(&cfg);
	cfg.dnsbl_enabled = 1;
	cfg.pending = MG_PENDING_HOLD;
	fx_reset(&fx, &cfg);
	ASSERT_EQ(syn_from("192.0.2.9", 4, 25), XDP_DROP, "held");
	ASSERT_EQ(fx_drain(&fx), 1, "query sent");
	ASSERT_EQ(syn_from("192.0.2.9", 4, 25), XDP_DROP, "still held");
	ASSERT_EQ(fx_drain(&fx), 0, "no second query");
	fx_verdict(&fx, "192.0.2.9", MG_VERDICT_CLEAN, now_boot_ns() + 60 * SEC_NS);
	ASSERT_EQ(syn_from("192.0.2.9", 4, 25), XDP_PASS, "clean passes");
	fx_verdict(&fx, "192.0.2.9", MG_VERDICT_LISTED, now_boot_ns() + 60 * SEC_NS);
	ASSERT_EQ(syn_from("192.0.2.9", 4, 25), XDP_DROP, "listed dropped");
	ASSERT_EQ(counter(MG_REASON_DROP_DNSBL, MG_CLASS_SMTP), 1, "counted listed");
}

/* A rejected SYN marks its connection (source, ports) for the sk_lookup
 * program, with the reason and class; observe mode marks nothing. */
TEST(reject_marks_connection)
{
	struct frame f = { .family = 6, .src = "2001:db8::7", .sport = 41000, .dport = 110 };
	struct mg_reject_key k = { .addr = fx_addr("2001:db8::7"), .sport = 41000, .dport = 110 };
	struct mg_reject m;
	struct mg_config cfg;
	uint8_t pkt[256];
	size_t len = frame_build(pkt, sizeof(pkt), &f, NULL);
	uint64_t t0;

	fx_config(&cfg);
	cfg.reject = MG_REJECT_BAN;
	fx_reset(&fx, &cfg);
	fx_ban(&fx, "2001:db8::7", 0, 0, now_boot_ns());
	t0 = now_boot_ns();
	ASSERT_EQ(fx_run(&fx, pkt, len, NULL, NULL), XDP_PASS, "banned, rejected: passes");
	if (ASSERT_OK(bpf_map_lookup_elem(fx.g.fd[GM_REJECT], &k, &m), "marked")) {
		ASSERT_EQ(m.reason, MG_REASON_REJECT_BAN, "mark reason");
		ASSERT_EQ(m.class, MG_CLASS_POP3, "mark class");
		ASSERT_RANGE(m.ts_ns, t0, now_boot_ns(), "mark time");
	}
	cfg.mode = MG_MODE_OBSERVE;
	fx_reset(&fx, &cfg);
	fx_ban(&fx, "2001:db8::7", 0, 0, now_boot_ns());
	ASSERT_EQ(fx_run(&fx, pkt, len, NULL, NULL), XDP_PASS, "observe passes");
	ASSERT_TRUE(bpf_map_lookup_elem(fx.g.fd[GM_REJECT], &k, &m) != 0, "observe marks nothing");
	ASSERT_EQ(counter(MG_REASON_REJECT_BAN, MG_CLASS_POP3), 1, "observe counts the reject");
}

/* With the daemon dead (heartbeat run out: kill -9) nobody answers a
 * rejected SYN, and one let through would reach the mail server itself:
 * it is dropped instead, for deny, ban and listed alike; a fresh heartbeat
 * brings the reject back. */
TEST(reject_needs_a_live_daemon)
{
	struct mg_config cfg;

	fx_config(&cfg);
	cfg.reject = MG_REJECT_DENY | MG_REJECT_BAN | MG_REJECT_DNSBL;
	cfg.dnsbl_enabled = 1;
	fx_reset(&fx, &cfg);
	fx_rule(&fx, GM_DENY, "192.0.2.0/28", 0);
	fx_ban(&fx, "198.51.100.7", 0, 0, now_boot_ns());
	fx_verdict(&fx, "203.0.113.9", MG_VERDICT_LISTED, now_boot_ns() + 60 * SEC_NS);
	ASSERT_OK(gate_heartbeat(&fx.g, now_boot_ns() - SEC_NS), "the daemon died");
	ASSERT_EQ(syn_from("192.0.2.1", 4, 25), XDP_DROP, "denied: dropped");
	ASSERT_EQ(syn_from("198.51.100.7", 4, 25), XDP_DROP, "banned: dropped");
	ASSERT_EQ(syn_from("203.0.113.9", 4, 25), XDP_DROP, "listed: dropped");
	ASSERT_EQ(counter(MG_REASON_DROP_DENY, MG_CLASS_SMTP), 1, "counted drop_deny");
	ASSERT_EQ(counter(MG_REASON_DROP_BAN, MG_CLASS_SMTP), 1, "counted drop_ban");
	ASSERT_EQ(counter(MG_REASON_DROP_DNSBL, MG_CLASS_SMTP), 1, "counted drop_dnsbl");
	ASSERT_OK(gate_heartbeat(&fx.g, now_boot_ns() + 60 * SEC_NS), "the daemon is back");
	ASSERT_EQ(syn_from("192.0.2.2", 4, 25), XDP_PASS, "denied: rejected again");
	ASSERT_EQ(counter(MG_REASON_REJECT_DENY, MG_CLASS_SMTP), 1, "counted reject_deny");
}

/* per-source rate 1/h burst 1: every SYN after the first is a violation */
static void cfg_ban(struct mg_config *c)
{
	fx_config(c);
	c->syn_interval_ns = 3600 * SEC_NS;
	c->syn_burst = 1;
	c->ban_after = 3;
	c->ban_window_ns = 60 * SEC_NS;
	c->ban_time_ns = 10 * SEC_NS;
	c->ban_time_max_ns = 100 * SEC_NS;
}

/* violations until a ban; returns the ban entry */
static bool violate_until_ban(const char *src, int family, struct mg_ban *b)
{
	struct mg_addr a = fx_addr(src);

	fx_evidence(&fx, src, 10); /* it completed handshakes: a real source */
	for (int i = 0; i < 2; i++)
		if (!ASSERT_EQ(syn_from(src, family, 25), XDP_DROP, "rate drop"))
			return false;
	if (!ASSERT_TRUE(bpf_map_lookup_elem(fx.g.fd[GM_BAN_QUOTA], &a, b) || b->expires_ns < now_boot_ns(),
			 "not banned after two violations"))
		return false;
	if (!ASSERT_EQ(syn_from(src, family, 25), XDP_DROP, "third violation"))
		return false;
	return ASSERT_OK(bpf_map_lookup_elem(fx.g.fd[GM_BAN_QUOTA], &a, b), "ban entry");
}

TEST(quota_violations_ban)
{
	struct mg_config cfg;
	struct mg_ban b;
	struct mg_addr a = fx_addr("198.51.100.20");
	uint64_t t0;

	cfg_ban(&cfg);
	fx_reset(&fx, &cfg);
	t0 = now_boot_ns();
	ASSERT_EQ(syn_from("198.51.100.20", 4, 25), XDP_PASS, "first SYN");
	if (!violate_until_ban("198.51.100.20", 4, &b))
		return;
	ASSERT_EQ(b.level, 0, "first ban level");
	ASSERT_EQ(b.origin, MG_ORIGIN_QUOTA, "ban origin");
	ASSERT_RANGE(b.expires_ns, t0 + cfg.ban_time_ns, now_boot_ns() + cfg.ban_time_ns, "ban expiry");
	ASSERT_EQ(counter(MG_REASON_DROP_RATE, MG_CLASS_SMTP), 3, "three rate drops");
	ASSERT_EQ(syn_from("198.51.100.20", 4, 25), XDP_DROP, "banned");
	ASSERT_EQ(counter(MG_REASON_DROP_BAN, MG_CLASS_SMTP), 1, "counted as ban");
	ASSERT_EQ(fx_drain(&fx), 1, "one ban event");
	ASSERT_EQ(fx.events[MG_EVENT_BAN], 1, "event kind ban");
	ASSERT_TRUE(memcmp(&fx.last[MG_EVENT_BAN].addr, &a, sizeof(a)) == 0, "event address");
	ASSERT_EQ(fx.last[MG_EVENT_BAN].reason, MG_REASON_DROP_RATE, "event reason");
	ASSERT_EQ(fx.last[MG_EVENT_BAN].expires_ns, b.expires_ns, "event expiry");
	/* a full server is not the source's fault: no violation */
	cfg.max_total_concurrent = 1;
	cfg.syn_interval_ns = 0;
	gate_write_config(&fx.g, &cfg);
	fx_u32(&fx, GM_CLASS_CONN, &(uint32_t){ MG_CLASS_SMTP }, 1);
	for (int i = 0; i < 5; i++)
		ASSERT_EQ(syn_from("198.51.100.21", 4, 25), XDP_DROP, "total concurrency drop");
	a = fx_addr("198.51.100.21");
	ASSERT_EQ(bpf_map_lookup_elem(fx.g.fd[GM_BAN_QUOTA], &a, &b), -ENOENT, "no ban for a full server");
}

/* A source banned again soon after: ban_time << level, up to the cap; one
 * whose last ban ended longer than ban_time_max ago starts over at 0. */
TEST(ban_doubling)
{
	static const uint64_t want[] = { 10, 20, 40, 80, 100, 100 }; /* seconds; cap 100 */
	struct mg_config cfg;
	struct mg_addr a = fx_addr("2001:db8:5::1");
	struct mg_ban b;

	cfg_ban(&cfg);
	fx_reset(&fx, &cfg);
	syn_from("2001:db8:5::1", 6, 25);
	for (size_t lvl = 0; lvl < sizeof(want) / sizeof(want[0]); lvl++) {
		uint64_t t0 = now_boot_ns();

		if (!violate_until_ban("2001:db8:5::1", 6, &b))
			return;
		ASSERT_EQ(b.level, lvl, "level");
		ASSERT_RANGE(b.expires_ns, t0 + want[lvl] * SEC_NS, now_boot_ns() + want[lvl] * SEC_NS,
			     "ban time");
		/* the ban just ended */
		b.expires_ns = now_boot_ns() - SEC_NS;
		bpf_map_update_elem(fx.g.fd[GM_BAN_QUOTA], &a, &b, BPF_ANY);
	}
	/* ended longer ago than ban_time_max: forgiven */
	b.expires_ns = now_boot_ns() - 101 * SEC_NS;
	bpf_map_update_elem(fx.g.fd[GM_BAN_QUOTA], &a, &b, BPF_ANY);
	if (violate_until_ban("2001:db8:5::1", 6, &b))
		ASSERT_EQ(b.level, 0, "level after a long quiet time");
}

/* violations spread over more than the window do not add up */
TEST(violation_window)
{
	struct mg_config cfg;
	struct mg_addr a = fx_addr("192.0.2.44");
	struct mg_ban b;

	cfg_ban(&cfg);
	cfg.ban_window_ns = SEC_NS;
	fx_reset(&fx, &cfg);
	syn_from("192.0.2.44", 4, 25);
	syn_from("192.0.2.44", 4, 25);
	syn_from("192.0.2.44", 4, 25); /* two violations */
	usleep(2100 * 1000);           /* the window is whole seconds: wait two */
	fx_evidence(&fx, "192.0.2.44", 10);
	syn_from("192.0.2.44", 4, 25);
	syn_from("192.0.2.44", 4, 25); /* two more, in a new window */
	ASSERT_EQ(bpf_map_lookup_elem(fx.g.fd[GM_BAN_QUOTA], &a, &b), -ENOENT, "not banned");
	syn_from("192.0.2.44", 4, 25); /* the third in this window */
	ASSERT_OK(bpf_map_lookup_elem(fx.g.fd[GM_BAN_QUOTA], &a, &b), "banned");
}

/* address hopping inside one /24 (or /64) shares the prefix bucket */
static void prefix_hopping(int family, const char *fmt, const char *outside)
{
	struct mg_config cfg;
	char src[64];

	fx_config(&cfg);
	cfg.prefix_interval_ns = 3600 * SEC_NS;
	cfg.prefix_burst = 3;
	cfg.ban_after = 0;
	fx_reset(&fx, &cfg);
	for (int i = 1; i <= 5; i++) {
		snprintf(src, sizeof(src), fmt, i);
		ASSERT_EQ(syn_from(src, family, 25), i <= 3 ? XDP_PASS : XDP_DROP, src);
	}
	ASSERT_EQ(counter(MG_REASON_DROP_PREFIX_RATE, MG_CLASS_SMTP), 2, "prefix drops");
	ASSERT_EQ(syn_from(outside, family, 25), XDP_PASS, "another prefix");
}

TEST(prefix_hopping_v4)
{
	prefix_hopping(4, "192.0.2.%d", "192.0.3.1");
}

TEST(prefix_hopping_v6)
{
	prefix_hopping(6, "2001:db8:0:7::%x", "2001:db8:0:8::1");
}

TEST(prefix_length_from_config)
{
	struct mg_config cfg;

	fx_config(&cfg);
	cfg.prefix_v4 = 16;
	cfg.prefix_interval_ns = 3600 * SEC_NS;
	cfg.prefix_burst = 1;
	cfg.ban_after = 0;
	fx_reset(&fx, &cfg);
	ASSERT_EQ(syn_from("192.0.2.1", 4, 25), XDP_PASS, "first in the /16");
	ASSERT_EQ(syn_from("192.0.77.1", 4, 25), XDP_DROP, "same /16");
	ASSERT_EQ(syn_from("192.1.2.1", 4, 25), XDP_PASS, "another /16");
}

/* Runtime tunables: ports and mode change without reloading. */
TEST(runtime_ports_and_mode)
{
	static uint8_t ports[65536];
	struct mg_config cfg;

	fx_config(&cfg);
	fx_reset(&fx, &cfg);
	fx_rule(&fx, GM_DENY, V4_ALL, 0);
	ASSERT_EQ(syn_from("192.0.2.1", 4, 2525), XDP_PASS, "2525 not gated");
	gate_default_ports(ports);
	ports[2525] = MG_CLASS_SMTP;
	ports[25] = 0;
	gate_write_ports(&fx.g, ports);
	ASSERT_EQ(syn_from("192.0.2.1", 4, 2525), XDP_DROP, "2525 gated");
	ASSERT_EQ(syn_from("192.0.2.1", 4, 25), XDP_PASS, "25 no longer gated");
	cfg.mode = MG_MODE_OBSERVE;
	gate_write_config(&fx.g, &cfg);
	ASSERT_EQ(syn_from("192.0.2.1", 4, 2525), XDP_PASS, "observe");
}

/* A flood of distinct sources into small LRU maps: every SYN is handled,
 * the maps stay at their size. */
TEST(lru_flood_small_maps)
{
	struct fixture small;
	struct mg_config cfg;
	struct frame f = { V6 };
	uint8_t pkt[128];
	char src[32];
	uint8_t key[16], next[16];
	int n = 0, bad = 0;
	size_t len;

	if (!ASSERT_OK(fx_load(&small, "lru", 256), "load with 256 sources"))
		return;
	fx_config(&cfg);
	cfg.dnsbl_enabled = 1;
	fx_reset(&small, &cfg);
	f.src = src;
	for (int i = 0; i < 5000; i++) {
		snprintf(src, sizeof(src), "2001:db8:%x:%x::1", i >> 16, i & 0xffff);
		len = frame_build(pkt, sizeof(pkt), &f, NULL);
		bad += fx_run(&small, pkt, len, NULL, NULL) != XDP_PASS;
	}
	ASSERT_EQ(bad, 0, "SYNs not passed");
	for (int err = bpf_map_get_next_key(small.g.fd[GM_SRC], NULL, next); !err;
	     err = bpf_map_get_next_key(small.g.fd[GM_SRC], key, next)) {
		memcpy(key, next, sizeof(key));
		n++;
	}
	ASSERT_RANGE(n, 1, 256, "mg_src entries");
	fx_unload(&small);
}

/* pending = hold with the global event budget spent (issue 9: a forged
 * flood far below the flood threshold used it up and every new client was
 * held forever): a source whose question cannot be sent passes unasked,
 * and its retransmission too, until a question goes out. */
TEST(hold_budget_spent_passes_unasked)
{
	struct mg_config cfg;
	struct mg_addr a = fx_addr("192.0.2.20");
	uint64_t until;

	fx_config(&cfg);
	cfg.dnsbl_enabled = 1;
	cfg.pending = MG_PENDING_HOLD;
	cfg.event_interval_ns = 3600 * SEC_NS;
	cfg.event_burst = 1;
	fx_reset(&fx, &cfg);
	ASSERT_EQ(syn_from("203.0.113.9", 4, 25), XDP_DROP, "the first question spends the budget");
	ASSERT_EQ(fx_drain(&fx), 1, "its event");
	ASSERT_EQ(syn_from("192.0.2.20", 4, 25), XDP_PASS, "a new client passes unasked");
	ASSERT_EQ(syn_from("192.0.2.20", 4, 25), XDP_PASS, "and its retransmission");
	ASSERT_EQ(fx_drain(&fx), 0, "no event over the budget");
	ASSERT_EQ(counter(MG_REASON_PASS_UNASKED, MG_CLASS_SMTP), 2, "counted pass_unasked");
	ASSERT_EQ(counter(MG_REASON_DROP_PENDING, MG_CLASS_SMTP), 1, "only the asked one held");
	ASSERT_TRUE(bpf_map_lookup_elem(fx.g.fd[GM_PENDING], &a, &until) != 0, "not marked pending");
	/* answers still count: a listed source is dropped */
	fx_verdict(&fx, "192.0.2.21", MG_VERDICT_LISTED, now_boot_ns() + 60 * SEC_NS);
	ASSERT_EQ(syn_from("192.0.2.21", 4, 25), XDP_DROP, "listed still dropped");
}

/* pending = hold (and pass) while the daemon shows no sign of life: the
 * heartbeat in mg_ctl ran out, nobody drains the ring buffer, so no
 * question is asked and nothing is held; answers already in still count.
 * A fresh heartbeat brings the DNSBL step back. */
TEST(hold_daemon_silent_passes_unasked)
{
	struct mg_config cfg;
	struct mg_addr a = fx_addr("192.0.2.22");
	uint64_t until;

	fx_config(&cfg);
	cfg.dnsbl_enabled = 1;
	cfg.pending = MG_PENDING_HOLD;
	fx_reset(&fx, &cfg);
	ASSERT_OK(gate_heartbeat(&fx.g, now_boot_ns() - SEC_NS), "a heartbeat that ran out");
	ASSERT_EQ(syn_from("192.0.2.22", 4, 25), XDP_PASS, "a new client passes");
	ASSERT_EQ(syn_from("2001:db8::22", 6, 25), XDP_PASS, "a new v6 client passes");
	ASSERT_EQ(fx_drain(&fx), 0, "no question asked");
	ASSERT_TRUE(bpf_map_lookup_elem(fx.g.fd[GM_PENDING], &a, &until) != 0, "nothing pending");
	ASSERT_EQ(counter(MG_REASON_PASS_UNASKED, MG_CLASS_SMTP), 2, "counted pass_unasked");
	fx_verdict(&fx, "192.0.2.23", MG_VERDICT_LISTED, now_boot_ns() + 60 * SEC_NS);
	ASSERT_EQ(syn_from("192.0.2.23", 4, 25), XDP_DROP, "a listed answer still drops");
	/* the quotas still apply to an unasked source */
	fx_conn_set(&fx, "192.0.2.22", MG_CLASS_SMTP, cfg.max_concurrent[MG_CLASS_SMTP]);
	ASSERT_EQ(syn_from("192.0.2.22", 4, 25), XDP_DROP, "quotas after the DNSBL step");
	ASSERT_OK(gate_heartbeat(&fx.g, now_boot_ns() + 60 * SEC_NS), "the daemon is back");
	ASSERT_EQ(syn_from("192.0.2.24", 4, 25), XDP_DROP, "held again");
	ASSERT_EQ(fx_drain(&fx), 1, "asked again");
	/* a heartbeat of 0 (the daemon stopped) is no sign of life either */
	ASSERT_OK(gate_heartbeat(&fx.g, 0), "the daemon stops");
	ASSERT_EQ(syn_from("192.0.2.25", 4, 25), XDP_PASS, "passes after a clean stop");
}

/* A flood of forged sources never evicts a DNSBL answer (issue 9: pending
 * entries in mg_verdict pushed a "listed" verdict out of a small LRU map
 * and the listed source's next SYN passed): questions live in mg_pending,
 * which the flood churns, apart from the answers. */
TEST(forged_pending_churn_keeps_listed)
{
	struct fixture small;
	struct mg_config cfg;
	struct frame f = { 0 };
	struct mg_verdict v;
	struct mg_addr listed = fx_addr("192.0.2.30");
	uint8_t pkt[128];
	char src[32];
	size_t len;

	if (!ASSERT_OK(fx_load(&small, "churn", 256), "load with 256 sources"))
		return;
	fx_config(&cfg);
	cfg.dnsbl_enabled = 1;
	cfg.event_interval_ns = 0; /* no budget: every forged source asks */
	fx_reset(&small, &cfg);
	ASSERT_OK(fx_verdict(&small, "192.0.2.30", MG_VERDICT_LISTED, now_boot_ns() + 3600 * SEC_NS),
		  "listed verdict");
	ASSERT_OK(fx_verdict(&small, "192.0.2.31", MG_VERDICT_ALLOWED, now_boot_ns() + 3600 * SEC_NS),
		  "allowlisted verdict");
	f.src = src;
	for (int i = 0; i < 4000; i++) {
		snprintf(src, sizeof(src), "198.51.%d.%d", 100 + i / 250, 1 + i % 250);
		len = frame_build(pkt, sizeof(pkt), &f, NULL);
		fx_run(&small, pkt, len, NULL, NULL);
		if (i % 500 == 0)
			fx_drain(&small);
	}
	fx_drain(&small);
	ASSERT_OK(bpf_map_lookup_elem(small.g.fd[GM_VERDICT], &listed, &v), "listed verdict still there");
	ASSERT_EQ(fx_syn(&small, "192.0.2.30", 25), XDP_DROP, "the listed source stays dropped");
	ASSERT_EQ(fx_count(&small, MG_REASON_DROP_DNSBL, MG_CLASS_SMTP), 1, "as drop_dnsbl");
	ASSERT_EQ(fx_syn(&small, "192.0.2.31", 25), XDP_PASS, "the allowlisted source passes");
	ASSERT_EQ(fx_count(&small, MG_REASON_PASS_DNSWL, MG_CLASS_SMTP), 1, "as pass_dnswl");
	fx_unload(&small);
}

/* The config in effect is one of two slots: the controller writes the
 * other and flips mg_ctl.config_slot, so a packet never reads a config
 * while it is written (issue 9: mg_config was copied in place). A write
 * into the slot not in effect - a controller caught halfway - changes no
 * decision; the flip makes it the one in effect at once. */
TEST(config_slot_flip)
{
	struct mg_config cfg, half, back;
	struct mg_ctl ctl;
	uint32_t inactive;

	fx_config(&cfg);
	fx_reset(&fx, &cfg);
	ASSERT_OK(fx_rule(&fx, GM_DENY, "192.0.2.0/24", 0), "deny entry");
	ASSERT_OK(gate_read_ctl(&fx.g, &ctl), "read mg_ctl");
	inactive = (ctl.config_slot & 1) ^ 1;
	/* half a config in the slot not in effect: observe mode, nothing else */
	memset(&half, 0, sizeof(half));
	half.mode = MG_MODE_OBSERVE;
	ASSERT_OK(bpf_map_update_elem(fx.g.fd[GM_CONFIG], &inactive, &half, BPF_ANY), "write the other slot");
	ASSERT_EQ(syn_from("192.0.2.1", 4, 25), XDP_DROP, "the slot in effect decides");
	ASSERT_OK(gate_read_config(&fx.g, &back), "read back");
	ASSERT_EQ(back.mode, MG_MODE_ENFORCE, "gate_read_config reads the slot in effect");
	/* a full write flips */
	cfg.mode = MG_MODE_OBSERVE;
	ASSERT_OK(gate_write_config(&fx.g, &cfg), "write observe");
	ASSERT_OK(gate_read_ctl(&fx.g, &ctl), "read mg_ctl");
	ASSERT_EQ(ctl.config_slot, inactive, "flipped to the slot written");
	ASSERT_EQ(syn_from("192.0.2.1", 4, 25), XDP_PASS, "observe in effect at once");
	cfg.mode = MG_MODE_ENFORCE;
	ASSERT_OK(gate_write_config(&fx.g, &cfg), "write enforce");
	ASSERT_OK(gate_read_ctl(&fx.g, &ctl), "read mg_ctl");
	ASSERT_EQ(ctl.config_slot, inactive ^ 1, "flipped back");
	ASSERT_EQ(syn_from("192.0.2.1", 4, 25), XDP_DROP, "enforce in effect again");
	ASSERT_OK(gate_read_config(&fx.g, &back), "read back");
	ASSERT_TRUE(back.mask_v4[3] == htonl(0xffffff00) && back.mode == MG_MODE_ENFORCE &&
		    back.syn_burst == cfg.syn_burst, "the config read is the one written");
}

static int setup(void)
{
	return fx_load(&fx, "unit", 0);
}

static void teardown(void)
{
	fx_unload(&fx);
}

int main(int argc, char **argv)
{
	return test_main(argc, argv, setup, teardown);
}
