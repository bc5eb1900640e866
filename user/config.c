// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The INI config file (docs/config.md, "The config file"), read with libinih, and `mailgate config check`.
 *
 * Rules (documented for users in examples/mailgate.conf and docs/config.md):
 * - `key = value`; `#` or `;` starts a comment line, ` #` an end-of-line comment.
 * - Every key belongs to a known section; unknown sections and keys are errors.
 * - A key set twice is an error (naming both lines); a section may reappear.
 * - Every value is checked (range, unit, syntax) and an error names the file,
 *   the line, the key, the bad value and what was expected.
 * - Keys that depend on each other (ban_time <= ban_time_max, ttl_min <=
 *   ttl_max, allowlist_threshold < threshold) are checked at the end and
 *   reported at the line of the later of the two.
 * - Values another module reads are checked by that module's own parser:
 *   sites and resolvers (dnsbl_sites.c, dnsbl_query.c), listen (metrics.c);
 *   with sites set, the whole [dnsbl] section as dnsbl_start() will take it
 *   (dnsbl_settings_check(): threshold >= 1, at most 8 resolvers).
 * The defaults are config_defaults(): gate_default_config() plus the rest here. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <ini.h>
#include <json-c/json.h>
#include "mailgate.h"
#include "cli.h"
#include "crowdsec.h"
#include "cli.h"
#include "metrics.h"
#include "rules.h"

#define MAX_LINE 65536 /* longer lines are an error, not silently split */

struct cfg_ctx;
typedef int (*setter_fn)(struct cfg_ctx *c, const char *v);

struct cfg_key {
	const char *section;
	const char *name;
	setter_fn set;
	const char *expected; /* for "(expected ...)" */
};

struct cfg_ctx {
	struct mg_settings *s;
	const struct cfg_key *key; /* the key being set */
	FILE *f;
	int lineno;        /* current line, counted by our reader */
	bool line_done;    /* the last read ended a line */
	char section[64];
	int *seen;         /* line where each key was set, 0 = not set */
	bool key_inline;   /* [crowdsec] api_key has a value */
	char err[1536];    /* first error, without the "FILE:LINE: " prefix */
	int err_line;
	unsigned seen_class_mask; /* per-class keys: bit 0 the plain value, 2 << class each class */
};

static void set_err(struct cfg_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- small value parsers (strict, no printing) ---- */
static int parse_s32(const char *v, int32_t min, int32_t max, int32_t *out)
{
	char *end;
	long long n;

	if (!*v || (!isdigit((unsigned char)*v) && *v != '-'))
		return -EINVAL;
	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno || *end || end == v || n < min || n > max)
		return -EINVAL;
	*out = (int32_t)n;
	return 0;
}

static int parse_bool(const char *v, bool *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };

	for (size_t i = 0; i < 4; i++) {
		if (!strcmp(v, yes[i]))
			return *out = true, 0;
		if (!strcmp(v, no[i]))
			return *out = false, 0;
	}
	return -EINVAL;
}

/* ---- list values: "a, b, c" ---- */
static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = 0;
	return s;
}

/* Call fn on every comma-separated item; stops at the first error. An empty
 * item ("a,,b", a trailing comma) is an error reported as ''. */
static int for_each_item(struct cfg_ctx *c, const char *v,
			 int (*fn)(struct cfg_ctx *c, char *item))
{
	char *copy = strdup(v), *save = NULL, *tok;
	size_t len = strlen(v);
	int err = 0;

	if (!copy)
		return -ENOMEM;
	if (len && v[len - 1] == ',') {
		free(copy);
		return fn(c, "");
	}
	for (tok = strtok_r(copy, ",", &save); tok && !err; tok = strtok_r(NULL, ",", &save))
		err = fn(c, trim(tok));
	if (!err && strstr(v, ",,"))
		err = fn(c, "");
	free(copy);
	return err;
}

/* ---- errors ---- */
static int bad(struct cfg_ctx *c, const char *value, const char *expected)
{
	if (!c->err[0]) {
		snprintf(c->err, sizeof(c->err), "key '%s': bad value '%.300s' (expected %.600s)",
			 c->key->name, value, expected ? expected : c->key->expected);
		c->err_line = c->lineno;
	}
	return -EINVAL;
}

/* ---- [gate] ---- */
static const struct {
	const char *name;
	uint16_t port;
	uint8_t class;
} services[] = {
	/* in the order of the default `ports` */
	{ "smtp", 25, MG_CLASS_SMTP },
	{ "submissions", 465, MG_CLASS_SUBMISSION },
	{ "submission", 587, MG_CLASS_SUBMISSION },
	{ "pop3", 110, MG_CLASS_POP3 },
	{ "pop3s", 995, MG_CLASS_POP3 },
	{ "imap", 143, MG_CLASS_IMAP },
	{ "imaps", 993, MG_CLASS_IMAP },
};

#define PORTS_EXPECTED "NAME[:PORT], ... with NAME one of smtp, submission, submissions, " \
		       "imap, imaps, pop3, pop3s and PORT 1..65535"

static int set_port_item(struct cfg_ctx *c, char *item)
{
	struct mg_settings *s = c->s;
	char *colon = strchr(item, ':');
	uint32_t port = 0;
	size_t i;

	if (colon)
		*colon = 0;
	for (i = 0; i < sizeof(services) / sizeof(services[0]); i++)
		if (!strcmp(item, services[i].name))
			break;
	if (colon)
		*colon = ':';
	if (i == sizeof(services) / sizeof(services[0]))
		return bad(c, item, PORTS_EXPECTED);
	port = services[i].port;
	if (colon && parse_u32(colon + 1, 1, 65535, &port))
		return bad(c, item, PORTS_EXPECTED);
	if (s->ports[port])
		return bad(c, item, "each port once");
	if (s->n_ports >= (int)(sizeof(s->port_list) / sizeof(s->port_list[0])))
		return bad(c, item, "at most 64 ports");
	s->ports[port] = services[i].class;
	snprintf(s->port_list[s->n_ports].name, sizeof(s->port_list[0].name), "%s", services[i].name);
	s->port_list[s->n_ports].port = port;
	s->port_list[s->n_ports].class = services[i].class;
	s->n_ports++;
	return 0;
}

static int set_ports(struct cfg_ctx *c, const char *v)
{
	memset(c->s->ports, 0, sizeof(c->s->ports));
	c->s->n_ports = 0;
	if (!*v)
		return bad(c, v, "at least one port: " PORTS_EXPECTED);
	return for_each_item(c, v, set_port_item);
}

static int set_mode(struct cfg_ctx *c, const char *v)
{
	if (!strcmp(v, "enforce"))
		c->s->cfg.mode = MG_MODE_ENFORCE;
	else if (!strcmp(v, "observe"))
		c->s->cfg.mode = MG_MODE_OBSERVE;
	else
		return bad(c, v, NULL);
	return 0;
}

static int set_action(struct cfg_ctx *c, const char *v)
{
	if (!strcmp(v, "drop"))
		c->s->cfg.action = MG_ACTION_DROP;
	else if (!strcmp(v, "reset"))
		c->s->cfg.action = MG_ACTION_RESET;
	else
		return bad(c, v, NULL);
	return 0;
}

static int set_unparsed(struct cfg_ctx *c, const char *v)
{
	if (!strcmp(v, "drop"))
		c->s->cfg.unparsed = MG_UNPARSED_DROP;
	else if (!strcmp(v, "pass"))
		c->s->cfg.unparsed = MG_UNPARSED_PASS;
	else
		return bad(c, v, NULL);
	return 0;
}

static int set_flood_action(struct cfg_ctx *c, const char *v)
{
	if (!strcmp(v, "cookie"))
		c->s->cfg.flood_action = MG_FLOOD_COOKIE;
	else if (!strcmp(v, "drop"))
		c->s->cfg.flood_action = MG_FLOOD_DROP;
	else
		return bad(c, v, NULL);
	return 0;
}

static int set_keep_attached(struct cfg_ctx *c, const char *v)
{
	return parse_bool(v, &c->s->keep_attached) ? bad(c, v, NULL) : 0;
}

static int set_state_dir(struct cfg_ctx *c, const char *v)
{
	if (strlen(v) >= sizeof(c->s->state_dir))
		return bad(c, "...", "a path shorter than 256 bytes");
	if (strcmp(v, "none") && v[0] != '/')
		return bad(c, v, NULL);
	snprintf(c->s->state_dir, sizeof(c->s->state_dir), "%s", v);
	return 0;
}

/* ---- [limits] ---- */
#define U32_SETTER(fn, field, lo, hi)                                      \
	static int fn(struct cfg_ctx *c, const char *v)                    \
	{                                                                  \
		return parse_u32(v, lo, hi, &c->s->field) ? bad(c, v, NULL) : 0; \
	}
#define RATE_SETTER(fn, field)                                             \
	static int fn(struct cfg_ctx *c, const char *v)                    \
	{                                                                  \
		uint64_t ns;                                               \
		if (parse_rate(v, &ns))                                    \
			return bad(c, v, NULL);                            \
		c->s->field = ns;                                          \
		return 0;                                                  \
	}
#define DURATION_SETTER(fn, field, lo, hi)                                 \
	static int fn(struct cfg_ctx *c, const char *v)                    \
	{                                                                  \
		uint64_t ns;                                               \
		if (parse_duration(v, &ns) || ns < (lo) || ns > (hi))      \
			return bad(c, v, NULL);                            \
		c->s->field = ns;                                          \
		return 0;                                                  \
	}

#define SEC NSEC_PER_SEC
#define DAY (86400 * NSEC_PER_SEC)

U32_SETTER(set_prefix_v4, cfg.prefix_v4, 8, 32)
U32_SETTER(set_prefix_v6, cfg.prefix_v6, 16, 128)
RATE_SETTER(set_prefix_rate, cfg.prefix_interval_ns)
U32_SETTER(set_prefix_burst, cfg.prefix_burst, 1, 100000)
U32_SETTER(set_ban_evidence, cfg.ban_evidence, 1, 1000000)
U32_SETTER(set_max_total_concurrent, cfg.max_total_concurrent, 0, 10000000)
U32_SETTER(set_ban_after, cfg.ban_after, 0, 1000000)
DURATION_SETTER(set_ban_window, cfg.ban_window_ns, SEC, DAY)
DURATION_SETTER(set_ban_time, cfg.ban_time_ns, SEC, 365 * DAY)
DURATION_SETTER(set_ban_time_max, cfg.ban_time_max_ns, SEC, 365 * DAY)
DURATION_SETTER(set_flood_hold, cfg.flood_hold_ns, SEC, DAY)
RATE_SETTER(set_flood_threshold, cfg.flood_interval_ns)
RATE_SETTER(set_flood_budget, cfg.flood_budget_interval_ns)
U32_SETTER(set_max_sources, max_sources, 1000, 50000000)

#define MAX_CONCURRENT_EXPECTED "N (every port class) and/or CLASS:N, ... with CLASS one of smtp, " \
				"submission, imap, pop3 and N 0..1000000 (0 = off), e.g. 20, imap:100"
#define SYN_RATE_EXPECTED "RATE (every port class) and/or CLASS:RATE, ... with CLASS one of smtp, " \
			  "submission, imap, pop3 and RATE like 10/s or 600/m, from 1 per 365 days up to " \
			  "1e9/s (0/s = off), e.g. 10/s, imap:30/s"
#define SYN_BURST_EXPECTED "N (every port class) and/or CLASS:N, ... with CLASS one of smtp, " \
			   "submission, imap, pop3 and N 1..100000, e.g. 20, imap:100"

/* The keys with a value per port class (max_concurrent, syn_rate,
 * syn_burst): "V | CLASS:V, ... | V, CLASS:V, ...", the plain value for
 * every class first, then classes of their own. One item: *cl is its class
 * (MG_CLASS_MAX for the plain value), *value its value. */
static int class_item(struct cfg_ctx *c, char *item, const char *expected, int *cl, char **value)
{
	char *colon = strchr(item, ':');

	if (!colon) {
		if (c->seen_class_mask)
			return bad(c, item, "the plain value first, then CLASS:VALUE items");
		c->seen_class_mask = 1;
		*cl = MG_CLASS_MAX;
		*value = item;
		return 0;
	}
	*colon = 0;
	for (*cl = MG_CLASS_NONE + 1; *cl < MG_CLASS_MAX; (*cl)++)
		if (!strcmp(item, mg_class_names[*cl]))
			break;
	*colon = ':';
	if (*cl == MG_CLASS_MAX)
		return bad(c, item, expected);
	if (c->seen_class_mask & (2u << *cl))
		return bad(c, item, "each class once");
	c->seen_class_mask |= 2u << *cl;
	*value = colon + 1;
	return 0;
}

/* max_concurrent = 20 | smtp:50, imap:100 | 20, imap:100: a class not
 * named keeps its default (or the plain number) */
static int set_max_concurrent_item(struct cfg_ctx *c, char *item)
{
	uint32_t *mc = c->s->cfg.max_concurrent, n;
	char *v;
	int cl, err = class_item(c, item, MAX_CONCURRENT_EXPECTED, &cl, &v);

	if (err)
		return err;
	if (parse_u32(v, 0, 1000000, &n))
		return bad(c, item, MAX_CONCURRENT_EXPECTED);
	for (int k = MG_CLASS_NONE + 1; k < MG_CLASS_MAX; k++)
		if (cl == MG_CLASS_MAX || k == cl)
			mc[k] = n;
	return 0;
}

static int set_max_concurrent(struct cfg_ctx *c, const char *v)
{
	struct mg_config d;

	gate_default_config(&d);
	memcpy(c->s->cfg.max_concurrent, d.max_concurrent, sizeof(d.max_concurrent));
	c->seen_class_mask = 0;
	if (!*v)
		return bad(c, v, NULL);
	return for_each_item(c, v, set_max_concurrent_item);
}

/* syn_rate = 10/s, imap:30/s: the plain rate is every class's that has
 * none of its own (it drops the default ones); a class named gets its own */
static int set_syn_rate_item(struct cfg_ctx *c, char *item)
{
	struct mg_config *cfg = &c->s->cfg;
	uint64_t ns;
	char *v;
	int cl, err = class_item(c, item, SYN_RATE_EXPECTED, &cl, &v);

	if (err)
		return err;
	if (parse_rate(v, &ns))
		return bad(c, item, SYN_RATE_EXPECTED);
	if (cl == MG_CLASS_MAX) {
		cfg->syn_interval_ns = ns;
		cfg->syn_rate_classes = 0;
	} else {
		cfg->syn_class_interval_ns[cl] = ns;
		cfg->syn_rate_classes |= 1u << cl;
	}
	return 0;
}

static int set_syn_burst_item(struct cfg_ctx *c, char *item)
{
	struct mg_config *cfg = &c->s->cfg;
	uint32_t n;
	char *v;
	int cl, err = class_item(c, item, SYN_BURST_EXPECTED, &cl, &v);

	if (err)
		return err;
	if (parse_u32(v, 1, 100000, &n))
		return bad(c, item, SYN_BURST_EXPECTED);
	if (cl == MG_CLASS_MAX) {
		cfg->syn_burst = n;
		cfg->syn_burst_classes = 0;
	} else {
		cfg->syn_class_burst[cl] = n;
		cfg->syn_burst_classes |= 1u << cl;
	}
	return 0;
}

static int set_syn_rate(struct cfg_ctx *c, const char *v)
{
	struct mg_config d, *cfg = &c->s->cfg;

	gate_default_config(&d);
	cfg->syn_interval_ns = d.syn_interval_ns;
	cfg->syn_rate_classes = d.syn_rate_classes;
	memcpy(cfg->syn_class_interval_ns, d.syn_class_interval_ns, sizeof(d.syn_class_interval_ns));
	c->seen_class_mask = 0;
	if (!*v)
		return bad(c, v, NULL);
	return for_each_item(c, v, set_syn_rate_item);
}

static int set_syn_burst(struct cfg_ctx *c, const char *v)
{
	struct mg_config d, *cfg = &c->s->cfg;

	gate_default_config(&d);
	cfg->syn_burst = d.syn_burst;
	cfg->syn_burst_classes = d.syn_burst_classes;
	memcpy(cfg->syn_class_burst, d.syn_class_burst, sizeof(d.syn_class_burst));
	c->seen_class_mask = 0;
	if (!*v)
		return bad(c, v, NULL);
	return for_each_item(c, v, set_syn_burst_item);
}

static int set_ban_concurrent(struct cfg_ctx *c, const char *v)
{
	bool b;

	if (parse_bool(v, &b))
		return bad(c, v, NULL);
	c->s->cfg.ban_concurrent = b;
	return 0;
}

/* ---- [dnsbl] ---- */
static int set_sites(struct cfg_ctx *c, const char *v)
{
	char why[512] = "";

	if (strlen(v) >= sizeof(c->s->dnsbl_sites))
		return bad(c, "...", "at most 4095 characters");
	if (dnsbl_sites_check(v, why, sizeof(why))) {
		if (!why[0])
			return bad(c, v, NULL);
		set_err(c, "key 'sites': bad value '%.300s': %s", v, why);
		return -EINVAL;
	}
	snprintf(c->s->dnsbl_sites, sizeof(c->s->dnsbl_sites), "%s", v);
	c->s->cfg.dnsbl_enabled = *v != 0;
	return 0;
}

static int set_threshold(struct cfg_ctx *c, const char *v)
{
	if (parse_s32(v, -1000, 1000, &c->s->dnsbl_threshold))
		return bad(c, v, NULL);
	c->s->cfg.dnsbl_threshold = c->s->dnsbl_threshold;
	return 0;
}

static int set_allowlist_threshold(struct cfg_ctx *c, const char *v)
{
	return parse_s32(v, -1000, 1000, &c->s->dnsbl_allow_threshold) ? bad(c, v, NULL) : 0;
}

static int set_pending(struct cfg_ctx *c, const char *v)
{
	if (!strcmp(v, "pass"))
		c->s->cfg.pending = MG_PENDING_PASS;
	else if (!strcmp(v, "hold"))
		c->s->cfg.pending = MG_PENDING_HOLD;
	else
		return bad(c, v, NULL);
	return 0;
}

/* [gate] denied, [gate] banned, [dnsbl] listed: drop, or reject (the
 * responder answers with the reason) */
static int set_refusal(struct cfg_ctx *c, const char *v, uint32_t bit)
{
	if (!strcmp(v, "drop"))
		c->s->cfg.reject &= ~bit;
	else if (!strcmp(v, "reject"))
		c->s->cfg.reject |= bit;
	else
		return bad(c, v, NULL);
	return 0;
}
static int set_denied(struct cfg_ctx *c, const char *v) { return set_refusal(c, v, MG_REJECT_DENY); }
static int set_banned(struct cfg_ctx *c, const char *v) { return set_refusal(c, v, MG_REJECT_BAN); }
static int set_listed(struct cfg_ctx *c, const char *v) { return set_refusal(c, v, MG_REJECT_DNSBL); }

/* one server per item, in the syntax the DNSBL module reads */
static int set_resolver_item(struct cfg_ctx *c, char *item)
{
	char why[256];

	if (!strcmp(item, "system") || strpbrk(item, " \t") || dnsbl_resolvers_check(item, why, sizeof(why)))
		return bad(c, item, NULL);
	return 0;
}

static int set_resolvers(struct cfg_ctx *c, const char *v)
{
	int err;

	if (strlen(v) >= sizeof(c->s->dnsbl_resolvers))
		return bad(c, "...", "at most 1023 characters");
	if (strcmp(v, "system")) {
		if (!*v)
			return bad(c, v, NULL);
		err = for_each_item(c, v, set_resolver_item);
		if (err)
			return err;
	}
	snprintf(c->s->dnsbl_resolvers, sizeof(c->s->dnsbl_resolvers), "%s", v);
	return 0;
}

DURATION_SETTER(set_timeout, dnsbl_timeout_ns, SEC / 10, 60 * SEC)
U32_SETTER(set_max_inflight, dnsbl_max_inflight, 1, 65536)
DURATION_SETTER(set_ttl_min, dnsbl_ttl_min_ns, SEC, DAY)
DURATION_SETTER(set_ttl_max, dnsbl_ttl_max_ns, SEC, 7 * DAY)

/* ---- [allow] ---- */
static int set_cidr_item(struct cfg_ctx *c, char *item)
{
	struct mg_settings *s = c->s;

	if (s->n_allow >= MG_MAX_ALLOW_CFG)
		return bad(c, item, "at most 1024 prefixes");
	if (parse_cidr(item, &s->allow[s->n_allow]))
		return bad(c, item, NULL);
	s->n_allow++;
	return 0;
}

static int set_cidrs(struct cfg_ctx *c, const char *v)
{
	c->s->n_allow = 0;
	return *v ? for_each_item(c, v, set_cidr_item) : 0;
}

/* ---- [metrics] ---- */
static int set_listen(struct cfg_ctx *c, const char *v)
{
	struct sockaddr_storage ss;

	if (strlen(v) >= sizeof(c->s->metrics_listen))
		return bad(c, "...", NULL);
	if (metrics_parse_listen(v, &ss) < 0)
		return bad(c, v, NULL);
	snprintf(c->s->metrics_listen, sizeof(c->s->metrics_listen), "%s", v);
	return 0;
}

/* ---- [crowdsec] (values checked by crowdsec.c) ---- */
static int set_lapi_url(struct cfg_ctx *c, const char *v)
{
	char why[256];

	if (crowdsec_url_check(v, why, sizeof(why)))
		return bad(c, strlen(v) > 300 ? "..." : v, why);
	snprintf(c->s->crowdsec_url, sizeof(c->s->crowdsec_url), "%s", v);
	return 0;
}

static int set_api_key(struct cfg_ctx *c, const char *v)
{
	char why[256];

	if (!*v)
		return 0;
	if (crowdsec_key_check(v, why, sizeof(why)))
		return bad(c, "(not shown)", why); /* a key is not echoed into logs */
	if (c->s->crowdsec_key_file[0]) {
		set_err(c, "key 'api_key': api_key_file is set too (set one of them)");
		return -EINVAL;
	}
	snprintf(c->s->crowdsec_key, sizeof(c->s->crowdsec_key), "%s", v);
	c->key_inline = true;
	return 0;
}

/* the key is read here, so that `config check` and SIGHUP see a missing or
 * empty file (and a new key after `cscli bouncers add`) */
static int set_api_key_file(struct cfg_ctx *c, const char *v)
{
	char line[512], why[256];
	FILE *f;
	size_t n;

	if (!*v) {
		c->s->crowdsec_key_file[0] = 0;
		return 0;
	}
	if (strlen(v) >= sizeof(c->s->crowdsec_key_file))
		return bad(c, "...", "a path of at most 255 characters");
	if (c->key_inline) {
		set_err(c, "key 'api_key_file': api_key is set too (set one of them)");
		return -EINVAL;
	}
	f = fopen(v, "r");
	if (!f) {
		set_err(c, "key 'api_key_file': cannot read '%s': %s", v, strerror(errno));
		return -EINVAL;
	}
	if (!fgets(line, sizeof(line), f))
		line[0] = 0;
	fclose(f);
	n = strlen(line);
	while (n && isspace((unsigned char)line[n - 1]))
		line[--n] = 0;
	if (crowdsec_key_check(line, why, sizeof(why))) {
		set_err(c, "key 'api_key_file': '%s' holds no usable key on its first line (expected %s)", v, why);
		return -EINVAL;
	}
	snprintf(c->s->crowdsec_key_file, sizeof(c->s->crowdsec_key_file), "%s", v);
	snprintf(c->s->crowdsec_key, sizeof(c->s->crowdsec_key), "%s", line);
	return 0;
}

DURATION_SETTER(set_poll, crowdsec_poll_ns, CS_POLL_MIN_NS, CS_POLL_MAX_NS)

#define DUR "a duration like 30s, 10m, 1h, 1d"
#define RATE "a rate like 10/s or 600/m, from 1 per 365 days up to 1e9/s; 0/s = off"

static const struct cfg_key keys[] = {
	{ "gate", "ports", set_ports, PORTS_EXPECTED },
	{ "gate", "mode", set_mode, "enforce or observe" },
	{ "gate", "action", set_action, "drop or reset" },
	{ "gate", "keep_attached", set_keep_attached, "yes or no" },
	{ "gate", "unparsed", set_unparsed, "drop or pass" },
	{ "gate", "state_dir", set_state_dir, "an absolute path, or none" },
	{ "limits", "syn_rate", set_syn_rate, SYN_RATE_EXPECTED },
	{ "limits", "syn_burst", set_syn_burst, SYN_BURST_EXPECTED },
	{ "limits", "prefix_v4", set_prefix_v4, "a prefix length 8..32" },
	{ "limits", "prefix_v6", set_prefix_v6, "a prefix length 16..128" },
	{ "limits", "prefix_rate", set_prefix_rate, RATE },
	{ "limits", "prefix_burst", set_prefix_burst, "an integer 1..100000" },
	{ "limits", "max_concurrent", set_max_concurrent, MAX_CONCURRENT_EXPECTED },
	{ "limits", "ban_concurrent", set_ban_concurrent, "yes or no" },
	{ "limits", "max_total_concurrent", set_max_total_concurrent, "an integer 0..10000000; 0 = off" },
	{ "limits", "ban_after", set_ban_after, "an integer 0..1000000; 0 = never ban" },
	{ "limits", "ban_window", set_ban_window, DUR ", 1s..1d" },
	{ "limits", "ban_evidence", set_ban_evidence, "an integer 1..1000000" },
	{ "limits", "ban_time", set_ban_time, DUR ", 1s..365d" },
	{ "limits", "ban_time_max", set_ban_time_max, DUR ", 1s..365d" },
	{ "limits", "flood_threshold", set_flood_threshold, RATE },
	{ "limits", "flood_budget", set_flood_budget, RATE },
	{ "limits", "flood_hold", set_flood_hold, DUR ", 1s..1d" },
	{ "limits", "max_sources", set_max_sources, "an integer 1000..50000000" },
	{ "limits", "flood_action", set_flood_action, "cookie or drop" },
	{ "dnsbl", "sites", set_sites, "postscreen syntax: domain[=filter][*weight], ..." },
	{ "dnsbl", "threshold", set_threshold, "an integer -1000..1000" },
	{ "dnsbl", "allowlist_threshold", set_allowlist_threshold, "an integer -1000..1000" },
	{ "dnsbl", "pending", set_pending, "pass or hold" },
	{ "dnsbl", "resolvers", set_resolvers, "system, or a list of ADDR[:PORT] / [IPV6]:PORT" },
	{ "dnsbl", "timeout", set_timeout, DUR ", 100ms..60s" },
	{ "dnsbl", "max_inflight", set_max_inflight, "an integer 1..65536" },
	{ "dnsbl", "ttl_min", set_ttl_min, DUR ", 1s..1d" },
	{ "dnsbl", "ttl_max", set_ttl_max, DUR ", 1s..7d" },
	{ "allow", "cidrs", set_cidrs, "a list of CIDRs with host bits zero, e.g. 192.0.2.0/24, 2001:db8::/32" },
	{ "metrics", "listen", set_listen, "none, ADDR:PORT or [IPV6]:PORT" },
	{ "crowdsec", "lapi_url", set_lapi_url, "empty, or the Local API's URL like http://127.0.0.1:8080/" },
	{ "crowdsec", "api_key", set_api_key, "the bouncer key from cscli bouncers add NAME -o raw" },
	{ "crowdsec", "api_key_file", set_api_key_file, "a file with the bouncer key on its first line" },
	{ "crowdsec", "poll", set_poll, DUR ", 1s..1h" },
	{ "gate", "denied", set_denied, "drop or reject" },
	{ "gate", "banned", set_banned, "drop or reject" },
	{ "dnsbl", "listed", set_listed, "drop or reject" },
};
#define N_KEYS ((int)(sizeof(keys) / sizeof(keys[0])))

static const char *const sections[] = { "gate", "limits", "dnsbl", "allow", "metrics", "crowdsec" };

static int key_index(const char *section, const char *name)
{
	for (int i = 0; i < N_KEYS; i++)
		if (!strcmp(keys[i].section, section) && !strcmp(keys[i].name, name))
			return i;
	return -1;
}

static bool known_section(const char *name)
{
	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
		if (!strcmp(sections[i], name))
			return true;
	return false;
}

static void set_err(struct cfg_ctx *c, const char *fmt, ...)
{
	va_list ap;

	if (c->err[0])
		return;
	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
	c->err_line = c->lineno;
}

/* fgets for inih that counts lines and checks section headers as they come
 * (inih does not tell the handler about a section with no keys in it). */
static char *reader(char *str, int num, void *stream)
{
	struct cfg_ctx *c = stream;
	char *line, *end;
	size_t len;

	if (c->err[0] || !fgets(str, num, c->f))
		return NULL;
	if (c->line_done)
		c->lineno++;
	len = strlen(str);
	c->line_done = len && str[len - 1] == '\n';
	if (!c->line_done && len == (size_t)num - 1) {
		set_err(c, "line longer than %d characters", num - 3);
		return NULL;
	}
	line = str;
	while (isspace((unsigned char)*line))
		line++;
	if (*line == '[') {
		end = strchr(line, ']');
		if (end) {
			char name[64];
			size_t n = end - line - 1;

			snprintf(name, sizeof(name), "%.*s", (int)n, line + 1);
			if (n >= sizeof(name) || !known_section(trim(name)))
				set_err(c, "unknown section [%.*s] (expected [gate], [limits], [dnsbl], [allow], [metrics] or [crowdsec])",
					(int)(n < 60 ? n : 60), line + 1);
		}
	}
	return str;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct cfg_ctx *c = user;
	int i;

	if (c->err[0])
		return 0;
	if (!*section) {
		set_err(c, "key '%s' outside a section (put it under [gate], [limits], [dnsbl], [allow], [metrics] or [crowdsec])",
			name);
		return 0;
	}
	i = key_index(section, name);
	if (i < 0) {
		set_err(c, "unknown key '%s' in section [%s]", name, section);
		return 0;
	}
	if (c->seen[i]) {
		set_err(c, "key '%s' already set on line %d", name, c->seen[i]);
		return 0;
	}
	c->seen[i] = c->lineno;
	c->key = &keys[i];
	return keys[i].set(c, value) ? 0 : 1;
}

static int seen_line(struct cfg_ctx *c, const char *section, const char *name)
{
	return c->seen[key_index(section, name)];
}

/* a rate and its burst: burst × interval within MG_RATE_MAX_SPAN_NS; cls:
 * the port class ("imap:") of a per-class pair, else "" */
static void check_span(struct cfg_ctx *c, const char *rate, const char *burst, uint64_t interval_ns,
		       uint32_t n, const char *cls)
{
	int lr = seen_line(c, "limits", rate), lb = seen_line(c, "limits", burst);
	char r[32];

	if (!rate_span_check(interval_ns, n))
		return;
	c->lineno = lr > lb ? lr : lb;
	set_err(c, "key '%s': %s = %s%u with %s = %s%s (one per %.3g s) needs %.3g years to refill, more than the %.0f years a bucket can span: lower %s or raise %s",
		lb >= lr ? burst : rate, burst, cls, n, rate, cls, format_rate(interval_ns, r, sizeof(r)),
		(double)interval_ns / NSEC_PER_SEC, (double)interval_ns * n / NSEC_PER_SEC / (365.25 * 86400),
		(double)MG_RATE_MAX_SPAN_NS / NSEC_PER_SEC / (365.25 * 86400), burst, rate);
}

/* keys that must agree with each other; reported at the later line */
static int check_pairs(struct cfg_ctx *c)
{
	const struct mg_settings *s = c->s;
	char a[32], b[32];
	int la, lb;

	if (s->cfg.ban_time_ns > s->cfg.ban_time_max_ns) {
		la = seen_line(c, "limits", "ban_time");
		lb = seen_line(c, "limits", "ban_time_max");
		c->lineno = la > lb ? la : lb;
		set_err(c, "ban_time (%s) must not exceed ban_time_max (%s)",
			format_duration(s->cfg.ban_time_ns, a, sizeof(a)),
			format_duration(s->cfg.ban_time_max_ns, b, sizeof(b)));
	} else if (s->dnsbl_ttl_min_ns > s->dnsbl_ttl_max_ns) {
		la = seen_line(c, "dnsbl", "ttl_min");
		lb = seen_line(c, "dnsbl", "ttl_max");
		c->lineno = la > lb ? la : lb;
		set_err(c, "ttl_min (%s) must not exceed ttl_max (%s)",
			format_duration(s->dnsbl_ttl_min_ns, a, sizeof(a)),
			format_duration(s->dnsbl_ttl_max_ns, b, sizeof(b)));
	} else if (s->dnsbl_allow_threshold >= s->dnsbl_threshold) {
		la = seen_line(c, "dnsbl", "allowlist_threshold");
		lb = seen_line(c, "dnsbl", "threshold");
		c->lineno = la > lb ? la : lb;
		set_err(c, "allowlist_threshold (%d) must be below threshold (%d)",
			s->dnsbl_allow_threshold, s->dnsbl_threshold);
	} else if (s->crowdsec_url[0] && !s->crowdsec_key[0]) {
		la = seen_line(c, "crowdsec", "api_key");
		lb = seen_line(c, "crowdsec", "api_key_file");
		c->lineno = la ? la : lb ? lb : seen_line(c, "crowdsec", "lapi_url");
		set_err(c, "key 'api_key': lapi_url is set, but no api_key (or api_key_file) is "
			"(expected the bouncer key from cscli bouncers add NAME -o raw)");
	}
	if (!c->err[0])
		check_span(c, "syn_rate", "syn_burst", s->cfg.syn_interval_ns, s->cfg.syn_burst, "");
	for (int cl = MG_CLASS_NONE + 1; cl < MG_CLASS_MAX && !c->err[0]; cl++) {
		char cls[16];

		if (!((s->cfg.syn_rate_classes | s->cfg.syn_burst_classes) >> cl & 1))
			continue;
		snprintf(cls, sizeof(cls), "%s:", mg_class_names[cl]);
		check_span(c, "syn_rate", "syn_burst", mg_syn_interval(&s->cfg, cl), mg_syn_burst(&s->cfg, cl), cls);
	}
	if (!c->err[0])
		check_span(c, "prefix_rate", "prefix_burst", s->cfg.prefix_interval_ns, s->cfg.prefix_burst, "");
	return c->err[0] ? -EINVAL : 0;
}

/* With DNSBL sites, the [dnsbl] section as the DNSBL module will take it
 * (threshold >= 1, at most 8 resolvers, ...), reported at the key's line. */
static int check_dnsbl(struct cfg_ctx *c)
{
	const char *key = NULL;
	char why[512];
	int line;

	if (!c->s->dnsbl_sites[0] || !dnsbl_settings_check(c->s, &key, why, sizeof(why)))
		return 0;
	if (!key)
		key = "sites";
	line = key_index("dnsbl", key) >= 0 ? seen_line(c, "dnsbl", key) : 0;
	c->lineno = line ? line : seen_line(c, "dnsbl", "sites");
	set_err(c, "key '%s': %s", key, why);
	return -EINVAL;
}

void config_defaults(struct mg_settings *s)
{
	static const char *const allow[] = { "127.0.0.0/8", "::1/128" };

	memset(s, 0, sizeof(*s));
	gate_default_config(&s->cfg);
	gate_default_ports(s->ports);
	for (size_t i = 0; i < sizeof(services) / sizeof(services[0]); i++) {
		snprintf(s->port_list[i].name, sizeof(s->port_list[i].name), "%s", services[i].name);
		s->port_list[i].port = services[i].port;
		s->port_list[i].class = services[i].class;
	}
	s->n_ports = sizeof(services) / sizeof(services[0]);
	s->keep_attached = false;
	snprintf(s->state_dir, sizeof(s->state_dir), "%s", MG_DEFAULT_STATE_DIR);
	s->max_sources = MG_DEFAULT_MAX_SOURCES;
	for (size_t i = 0; i < sizeof(allow) / sizeof(allow[0]); i++)
		parse_cidr(allow[i], &s->allow[s->n_allow++]);
	s->dnsbl_sites[0] = 0;
	s->cfg.dnsbl_enabled = 0;
	s->dnsbl_threshold = s->cfg.dnsbl_threshold;
	s->dnsbl_allow_threshold = -1;
	snprintf(s->dnsbl_resolvers, sizeof(s->dnsbl_resolvers), "system");
	s->dnsbl_timeout_ns = 2 * NSEC_PER_SEC;
	s->dnsbl_max_inflight = 512;
	s->dnsbl_ttl_min_ns = 60 * NSEC_PER_SEC;
	s->dnsbl_ttl_max_ns = 3600 * NSEC_PER_SEC;
	snprintf(s->metrics_listen, sizeof(s->metrics_listen), "127.0.0.1:9433");
	s->crowdsec_poll_ns = 10 * NSEC_PER_SEC; /* lapi_url "": the bouncer is off */
}

int config_load(const char *path, struct mg_settings *s, char *err, size_t errlen)
{
	int seen[N_KEYS] = { 0 };
	struct cfg_ctx c = { .s = s, .seen = seen, .line_done = true };
	struct stat st;
	int rc;

	config_defaults(s);
	c.f = fopen(path, "r");
	if (!c.f || fstat(fileno(c.f), &st) || S_ISDIR(st.st_mode)) {
		rc = c.f && S_ISDIR(st.st_mode) ? -EISDIR : -errno;
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(-rc));
		if (c.f)
			fclose(c.f);
		return rc;
	}
	/* Debian's libinih takes its options at run time: a heap line buffer
	 * (lines up to MAX_LINE), `#` end-of-line comments, no multi-line
	 * values (an indented line is a line of its own), stop at the first
	 * error so that the line number is the one of the first problem. */
	ini_use_stack = false;
	ini_allow_realloc = false;
	ini_max_line = MAX_LINE;
	ini_initial_alloc = MAX_LINE;
	ini_allow_multiline = false;
	ini_allow_inline_comments = true;
	ini_inline_comment_prefixes = "#";
	ini_start_comment_prefixes = ";#";
	ini_stop_on_first_error = true;
	ini_allow_no_value = false;

	rc = ini_parse_stream(reader, &c, handler, &c);
	if (!c.err[0] && ferror(c.f))
		set_err(&c, "read error: %s", strerror(errno));
	fclose(c.f);
	if (!c.err[0] && rc > 0) {
		c.lineno = rc;
		set_err(&c, "syntax error (expected 'key = value', '[section]' or a # comment)");
	} else if (!c.err[0] && rc < 0) {
		set_err(&c, "cannot parse (out of memory?)");
	}
	if (!c.err[0])
		check_pairs(&c);
	if (!c.err[0])
		check_dnsbl(&c);
	if (c.err[0]) {
		snprintf(err, errlen, "%s:%d: %s", path, c.err_line, c.err);
		return -EINVAL;
	}
	return 0;
}

/* ---- mailgate config check FILE ---- */
const struct cli_cmd cli_config_check = { "config check", "FILE", "check a config file as `run` would read it",
					  NULL };

int do_config(int argc, char **argv)
{
	static const struct cli_cmd *const subs[] = { &cli_config_check };
	struct mg_settings *s;
	struct json_object *o;
	char err[1024];
	int rc, npos, which;

	rc = cli_sub("config", subs, 1, argc, argv, &which);
	if (rc != CLI_GO)
		return rc;
	argc--;
	argv++;
	rc = cli_parse(&cli_config_check, argc, argv, NULL, &npos);
	if (rc != CLI_GO)
		return rc;
	if (npos != 1)
		return fail(EXIT_USAGE, "config check: expected one FILE, got %d arguments", npos);

	s = malloc(sizeof(*s));
	if (!s)
		return fail(EXIT_FAIL, "out of memory");
	rc = config_load(argv[1], s, err, sizeof(err));
	free(s);
	if (rc)
		return fail(rc == -EINVAL || rc == -ENOENT || rc == -EISDIR ? EXIT_USAGE : EXIT_FAIL, "%s", err);
	if (opts.json) {
		o = json_object_new_object();
		json_object_object_add(o, "file", json_object_new_string(argv[1]));
		json_object_object_add(o, "ok", json_object_new_boolean(1));
		json_out(o);
	} else {
		printf("%s: ok\n", argv[1]);
	}
	return EXIT_OK;
}
