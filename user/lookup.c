// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* `mailgate lookup ADDR [--port N]`: everything the maps know about one
 * source, and what the data path would do with its next SYN. Read-only: it
 * reads the same maps, asks each step's rule of include/rules.h and
 * include/lists.h, and decides in the data path's own order (mg_judge), so
 * its answer is the data path's (test_rules checks it on random states).
 * Shape: parse (lookup_parse) -> work (lookup_work, a result) -> printers. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <json-c/json.h>
#include "listset.h"
#include "cli.h"
#include "rules.h"
#include "cookie.h"
#include "lookup.h"
#include "cli.h"

/* the decision order over what the steps found */
#define MG_JUDGE_CTX const struct lookup_facts
#define mg_j_allowed(x)    ((x)->allowed)
#define mg_j_flooding(x)   ((x)->flooding)
#define mg_j_flood(x)      ((x)->flood)
#define mg_j_denied(x)     ((x)->denied)
#define mg_j_banned(x)     ((x)->banned)
#define mg_j_listed(x)     ((x)->listed)
#define mg_j_dnsbl(x)      ((x)->dnsbl)
#define mg_j_alive(x)      ((x)->alive)
#define mg_j_rate(x)       ((x)->rate)
#define mg_j_prefix(x)     ((x)->prefix)
#define mg_j_concurrent(x) ((x)->concurrent)
#define mg_j_total(x)      ((x)->total)
#include "rules.h"

static void note(struct lookup_result *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(struct lookup_result *l, const char *fmt, ...)
{
	va_list ap;

	if (l->nnotes >= LOOKUP_NOTES)
		return;
	va_start(ap, fmt);
	vsnprintf(l->notes[l->nnotes++], LOOKUP_TEXT, fmt, ap);
	va_end(ap);
}

/* Record one step. reason: what this step decides if it is the one that
 * does (MG_REASON_MAX = nothing: the SYN goes on); why: the final answer's
 * explanation then. */
static void step(struct lookup_result *l, const char *name, struct json_object *detail, uint32_t reason,
		 const char *why, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static void step(struct lookup_result *l, const char *name, struct json_object *detail, uint32_t reason,
		 const char *why, const char *fmt, ...)
{
	struct lookup_step *s;
	va_list ap;

	if (l->nstep >= LOOKUP_STEPS) {
		json_object_put(detail);
		return;
	}
	s = &l->steps[l->nstep++];
	s->name = name;
	s->reason = reason;
	s->detail = detail;
	snprintf(s->why, sizeof(s->why), "%s", why);
	va_start(ap, fmt);
	vsnprintf(s->state, sizeof(s->state), fmt, ap);
	va_end(ap);
}

static struct json_object *jexp(uint64_t exp, uint64_t now)
{
	return exp ? json_object_new_int64(((int64_t)exp - (int64_t)now) / (int64_t)NSEC_PER_SEC) : NULL;
}

/* does the daemon answer (its heartbeat is fresh)? */
static bool daemon_alive(struct gate *g, uint64_t now, uint64_t *until)
{
	struct mg_ctl ctl = { 0 };

	gate_read_ctl(g, &ctl);
	if (until)
		*until = ctl.alive_until_ns;
	return ctl.alive_until_ns > now;
}

/* a refusal (deny, ban, DNSBL) of a step: the drop, or the reject the
 * responder answers while the daemon lives */
static uint32_t refusal(const struct lookup_result *l, uint32_t flag, uint32_t drop, uint32_t reject)
{
	return (l->cfg.reject & flag) && l->f.alive ? reject : drop;
}

/* allow and deny: the data path's rule (include/lists.h), the longest
 * active prefix; an expired longer one is skipped, a deny exclusion wins
 * and means "not denied" */
static void list_step(struct gate *g, struct lookup_result *l, enum mg_list list)
{
	const char *name = list_name(list);
	struct json_object *o = json_object_new_object();
	char cidr[MG_ADDRSTRLEN + 8], e[48], why[LOOKUP_TEXT];
	uint32_t reason;
	struct mg_lpm_key k;
	struct mg_rule r;

	if (!list_match(g, list, &l->addr, l->now, &k, &r)) {
		json_object_object_add(o, "match", NULL);
		step(l, name, o, MG_REASON_MAX, "", "no match");
		return;
	}
	format_cidr(&k, cidr, sizeof(cidr));
	format_expiry(r.expires_ns, l->now, e, sizeof(e));
	json_object_object_add(o, "match", json_object_new_string(cidr));
	json_object_object_add(o, "origin", json_object_new_string(origin_name(r.origin)));
	json_object_object_add(o, "expires_in_s", jexp(r.expires_ns, l->now));
	json_object_object_add(o, "active", json_object_new_boolean(1));
	if (!mg_rule_decides(list, &r)) {
		json_object_object_add(o, "exclude", json_object_new_boolean(1));
		step(l, name, o, MG_REASON_MAX, "", "!%s (origin %s): an exclusion, not denied", cidr,
		     origin_name(r.origin));
		return;
	}
	if (list == MG_LIST_ALLOW) {
		l->f.allowed = true;
		reason = MG_REASON_PASS_ALLOW;
	} else {
		l->f.denied = true;
		reason = refusal(l, MG_REJECT_DENY, MG_REASON_DROP_DENY, MG_REASON_REJECT_DENY);
	}
	snprintf(why, sizeof(why), "%s list %s", name, cidr);
	step(l, name, o, reason, why, "%s (origin %s, expires %s)", cidr, origin_name(r.origin),
	     !strcmp(e, "never") ? "never" : e);
}

/* The ban of a source that decides: an active operator ban (mg_ban), else
 * its quota ban (mg_ban_quota), active or remembered for its level; false
 * when neither map has it. */
bool ban_get(struct gate *g, const struct mg_addr *a, uint64_t now, struct mg_ban *b)
{
	struct mg_ban q;
	bool op = !bpf_map_lookup_elem(g->fd[GM_BAN], a, b);
	bool quota = !bpf_map_lookup_elem(g->fd[GM_BAN_QUOTA], a, &q);

	if (op && mg_ban_active(b, 1, now))
		return true;
	if (quota)
		*b = q;
	return op || quota;
}

/* is the ban ban_get found in force? (an operator's, or the quota ban) */
static bool ban_in_force(const struct mg_ban *b, uint64_t now)
{
	return mg_ban_active(b, b->origin != MG_ORIGIN_QUOTA, now);
}

static void ban_step(struct gate *g, struct lookup_result *l)
{
	struct json_object *o = json_object_new_object();
	char e[48], d[32], why[LOOKUP_TEXT];
	struct mg_ban b, q;
	bool have = ban_get(g, &l->addr, l->now, &b);
	bool have_q = !bpf_map_lookup_elem(g->fd[GM_BAN_QUOTA], &l->addr, &q);
	uint64_t next = mg_ban_duration(&l->cfg, mg_ban_level(&l->cfg, have_q ? &q : NULL, l->now));

	l->f.banned = have && ban_in_force(&b, l->now);
	json_object_object_add(o, "banned", json_object_new_boolean(l->f.banned));
	json_object_object_add(o, "next_ban_s", json_object_new_int64(next / NSEC_PER_SEC));
	if (!have) {
		step(l, "ban", o, MG_REASON_MAX, "", "not banned");
		return;
	}
	format_expiry(b.expires_ns, l->now, e, sizeof(e));
	json_object_object_add(o, "level", json_object_new_int(b.level));
	json_object_object_add(o, "origin", json_object_new_string(origin_name(b.origin)));
	json_object_object_add(o, "expires_in_s", jexp(b.expires_ns, l->now));
	if (!l->f.banned) {
		step(l, "ban", o, MG_REASON_MAX, "", "not banned (last ban %s, level %u; a new one would last %s)",
		     b.expires_ns ? e : "none", b.level, format_duration(next, d, sizeof(d)));
		return;
	}
	snprintf(why, sizeof(why), "banned (origin %s), %s%s", origin_name(b.origin),
		 b.expires_ns ? "expires " : "", b.expires_ns ? e : "no expiry");
	step(l, "ban", o, refusal(l, MG_REJECT_BAN, MG_REASON_DROP_BAN, MG_REASON_REJECT_BAN), why,
	     "banned (origin %s, level %u, expires %s)", origin_name(b.origin), b.level, b.expires_ns ? e : "never");
}

/* the zones' cached answers, as notes and in the step's JSON */
static void dnsbl_zones(struct gate *g, struct lookup_result *l, struct json_object *o)
{
	struct json_object *zones = json_object_new_array();
	size_t nz;

	dnsbl_cached(g->pin_dir, &l->addr, zones);
	nz = json_object_array_length(zones);
	for (size_t i = 0; i < nz; i++) {
		struct json_object *z = json_object_array_get_idx(zones, i), *f;
		const char *zone = json_object_get_string(json_object_object_get_ex(z, "zone", &f) ? f : NULL);
		const char *ans = json_object_object_get_ex(z, "answer", &f) ? json_object_get_string(f) : NULL;
		const char *res = json_object_object_get_ex(z, "result", &f) ? json_object_get_string(f) : "?";
		int w = json_object_object_get_ex(z, "weight", &f) ? json_object_get_int(f) : 0;
		bool listed = json_object_object_get_ex(z, "listed", &f) && json_object_get_boolean(f);
		char what[96];

		/* no A record: the result (nxdomain, timeout ...); an A record:
		 * the address, and the result when it is not a plain one */
		if (!ans)
			snprintf(what, sizeof(what), "%s", res);
		else if (strcmp(res, "listed") && strcmp(res, "clean"))
			snprintf(what, sizeof(what), "%s (%s)", ans, res);
		else
			snprintf(what, sizeof(what), "%s", ans);
		note(l, "dnsbl zone %s: %s%s (weight %d)", zone ? zone : "?", what, listed ? ", listed" : "", w);
	}
	json_object_object_add(o, "zones", zones);
}

/* No verdict: the data path asks, unless nobody answers (daemon dead), the
 * question is out already (pending), or the global event budget is spent
 * (then it is not asked: pass_unasked). */
static void dnsbl_unknown(struct gate *g, struct lookup_result *l, struct json_object *o)
{
	const char *policy = l->cfg.pending == MG_PENDING_HOLD ? "hold" : "pass";
	uint32_t hold = l->cfg.pending == MG_PENDING_HOLD ? MG_REASON_DROP_PENDING : MG_REASON_MAX;
	struct mg_global gl = { 0 };
	uint64_t until = 0;
	uint32_t zero = 0;
	char e[48];

	json_object_object_add(o, "verdict", json_object_new_string("none"));
	if (!daemon_alive(g, l->now, &until)) {
		l->f.dnsbl = MG_DNSBL_UNASKED;
		json_object_object_add(o, "daemon_alive", json_object_new_boolean(false));
		step(l, "dnsbl", o, MG_REASON_MAX, "",
		     "no verdict, and the daemon shows no sign of life (heartbeat %s): nobody is asked, the SYN goes on (pass_unasked)",
		     format_expiry(until, l->now, e, sizeof(e)));
		return;
	}
	if (!bpf_map_lookup_elem(g->fd[GM_PENDING], &l->addr, &until) && until > l->now) {
		l->f.dnsbl = MG_DNSBL_PENDING;
		json_object_object_add(o, "pending_expires_in_s", jexp(until, l->now));
		step(l, "dnsbl", o, hold, "DNSBL lookup in progress, pending = hold",
		     "lookup in progress (asked again %s); pending = %s", format_expiry(until, l->now, e, sizeof(e)),
		     policy);
		return;
	}
	bpf_map_lookup_elem(g->fd[GM_GLOBAL], &zero, &gl);
	if (l->cfg.event_interval_ns &&
	    !mg_gcra_admits(gl.event_tat_ns, l->now, l->cfg.event_interval_ns, l->cfg.event_burst, NULL)) {
		l->f.dnsbl = MG_DNSBL_UNASKED;
		step(l, "dnsbl", o, MG_REASON_MAX, "",
		     "no verdict, and the event budget is spent: not asked, the SYN goes on (pass_unasked)");
		return;
	}
	l->f.dnsbl = MG_DNSBL_PENDING;
	step(l, "dnsbl", o, hold, "DNSBL verdict not in yet, pending = hold",
	     "no verdict: the SYN asks for a lookup; pending = %s", policy);
}

static void dnsbl_step(struct gate *g, struct lookup_result *l)
{
	static const char *const states[] = { "pending", "clean", "listed", "allowlisted" };
	struct json_object *o = json_object_new_object();
	char e[48], why[LOOKUP_TEXT];
	struct mg_verdict v;
	bool have;

	json_object_object_add(o, "enabled", json_object_new_boolean(l->cfg.dnsbl_enabled));
	dnsbl_zones(g, l, o);
	if (!l->cfg.dnsbl_enabled) {
		step(l, "dnsbl", o, MG_REASON_MAX, "", "off (no [dnsbl] sites)");
		return;
	}
	have = !bpf_map_lookup_elem(g->fd[GM_VERDICT], &l->addr, &v);
	if (mg_verdict_missing(have ? &v : NULL, l->now))
		return dnsbl_unknown(g, l, o);
	format_expiry(v.expires_ns, l->now, e, sizeof(e));
	json_object_object_add(o, "verdict", json_object_new_string(v.state < 4 ? states[v.state] : "unknown"));
	json_object_object_add(o, "score", json_object_new_int(v.score));
	json_object_object_add(o, "threshold", json_object_new_int(l->cfg.dnsbl_threshold));
	json_object_object_add(o, "expires_in_s", jexp(v.expires_ns, l->now));
	if (mg_verdict_listed(&v, l->now)) {
		l->f.listed = true;
		l->f.dnsbl = MG_DNSBL_LISTED;
		snprintf(why, sizeof(why), "DNSBL score %d >= threshold %d", v.score, l->cfg.dnsbl_threshold);
		step(l, "dnsbl", o, refusal(l, MG_REJECT_DNSBL, MG_REASON_DROP_DNSBL, MG_REASON_REJECT_DNSBL), why,
		     "listed, score %d (threshold %d), verdict expires %s", v.score, l->cfg.dnsbl_threshold, e);
	} else if (mg_verdict_allowed(&v, l->now)) {
		l->f.dnsbl = MG_DNSBL_ALLOWED;
		snprintf(why, sizeof(why), "DNSWL: score %d, skips the quotas", v.score);
		step(l, "dnsbl", o, MG_REASON_PASS_DNSWL, why, "allowlisted, score %d, verdict expires %s", v.score, e);
	} else {
		step(l, "dnsbl", o, MG_REASON_MAX, "", "clean, score %d (threshold %d), verdict expires %s", v.score,
		     l->cfg.dnsbl_threshold, e);
	}
}

/* GCRA bucket: tokens left at now (include/rules.h) */
static double bucket_tokens(uint64_t tat, uint64_t now, uint64_t interval, uint32_t burst)
{
	uint64_t backlog = tat > now ? tat - now : 0;
	double full = (double)mg_gcra_limit(interval, burst);

	return backlog >= full ? 0 : (full - backlog) / interval;
}

static void bucket_json(struct json_object *o, double tokens, uint32_t burst, uint64_t interval)
{
	json_object_object_add(o, "tokens", json_object_new_double((double)(int64_t)(tokens * 10) / 10));
	json_object_object_add(o, "burst", json_object_new_int64(burst));
	json_object_object_add(o, "rate_per_s", json_rate(interval));
}

/* the source's counts: violations toward a ban, the evidence a ban needs */
static void source_notes(struct lookup_result *l, const struct mg_src *s, struct json_object *o)
{
	const struct mg_config *c = &l->cfg;
	uint32_t win = mg_window_secs(c), sec = l->now / NSEC_PER_SEC;
	uint32_t viol = mg_windowed(s->violations, sec, win), hs = mg_windowed(s->handshakes, sec, win);
	uint64_t passed = mg_src_passed(s, sec, win);
	bool ev = mg_evidenced(c, s, sec, win);
	char r[32], ago[32];

	json_object_object_add(o, "syns", json_object_new_int64(s->syns));
	json_object_object_add(o, "drops", json_object_new_int64(s->drops));
	json_object_object_add(o, "last_seen_s_ago", json_object_new_int64(
		l->now > s->last_ns ? (l->now - s->last_ns) / NSEC_PER_SEC : 0));
	json_object_object_add(o, "violations", json_object_new_int(viol));
	json_object_object_add(o, "ban_after", json_object_new_int(c->ban_after));
	json_object_object_add(o, "handshakes", json_object_new_int(hs));
	json_object_object_add(o, "passed", json_object_new_int64(passed));
	json_object_object_add(o, "ban_evidence", json_object_new_int(c->ban_evidence));
	json_object_object_add(o, "evidence", json_object_new_boolean(ev));
	note(l, "evidence: %u handshakes completed of %llu SYNs passed in the current window (a ban needs %u, "
	     "and 1 in %d of the passed): %s", hs, (unsigned long long)passed, c->ban_evidence,
	     MG_EVIDENCE_RATIO, ev ? "can be banned" : "cannot be banned now");
	note(l, "source: %llu gated SYNs, %llu dropped, last %s ago; %u of %u violations in the current %s window",
	     (unsigned long long)s->syns, (unsigned long long)s->drops,
	     format_duration(l->now > s->last_ns ? l->now - s->last_ns : 0, ago, sizeof(ago)), viol,
	     c->ban_after, format_duration(c->ban_window_ns, r, sizeof(r)));
}

/* the per-source bucket of the port class (syn_rate, syn_burst) */
static void rate_step(struct gate *g, struct lookup_result *l)
{
	struct json_object *o = json_object_new_object();
	uint64_t interval = mg_syn_interval(&l->cfg, l->class), tat;
	uint32_t burst = mg_syn_burst(&l->cfg, l->class);
	char r[32], why[LOOKUP_TEXT];
	struct mg_src s = { 0 };
	double tokens;

	if (!bpf_map_lookup_elem(g->fd[GM_SRC], &l->addr, &s))
		source_notes(l, &s, o);
	else
		note(l, "source: no gated SYN seen (or forgotten: the least recently seen go first)");
	l->f.rate = true;
	if (!interval) {
		step(l, "rate", o, MG_REASON_MAX, "", "off (syn_rate = 0/s%s)",
		     l->cfg.syn_rate_classes >> l->class & 1 ? " for this class" : "");
		return;
	}
	tat = l->class < MG_CLASS_MAX ? s.tat_ns[l->class] : 0;
	tokens = bucket_tokens(tat, l->now, interval, burst);
	bucket_json(o, tokens, burst, interval);
	format_rate(interval, r, sizeof(r));
	l->f.rate = mg_gcra_admits(tat, l->now, interval, burst, NULL);
	if (!l->f.rate) {
		snprintf(why, sizeof(why), "per-source rate of class %s: no token left (%s, burst %u)",
			 mg_class_names[l->class], r, burst);
		step(l, "rate", o, MG_REASON_DROP_RATE, why, "%.1f of %u tokens (%s): empty", tokens, burst, r);
	} else {
		step(l, "rate", o, MG_REASON_MAX, "", "%.1f of %u tokens (%s)", tokens, burst, r);
	}
}

static void prefix_step(struct gate *g, struct lookup_result *l)
{
	struct json_object *o = json_object_new_object();
	const struct mg_config *c = &l->cfg;
	const uint32_t *mask = addr_is_v4(&l->addr) ? c->mask_v4 : c->mask_v6;
	struct mg_lpm_key k;
	struct mg_bucket b = { 0 };
	struct mg_prefix_key key = { .addr = l->addr };
	char p[MG_ADDRSTRLEN + 8], r[32], why[LOOKUP_TEXT];
	uint64_t seen;
	double tokens;

	/* the bucket a verified source shares with the prefix's other verified sources */
	key.verified = !bpf_map_lookup_elem(g->fd[GM_VERIFIED], &l->addr, &seen);
	for (int i = 0; i < 4; i++)
		((uint32_t *)key.addr.a)[i] &= mask[i];
	k.prefixlen = addr_is_v4(&l->addr) ? 96 + c->prefix_v4 : c->prefix_v6;
	memcpy(k.a, key.addr.a, 16);
	format_cidr(&k, p, sizeof(p));
	json_object_object_add(o, "prefix", json_object_new_string(p));
	json_object_object_add(o, "bucket", json_object_new_string(key.verified ? "verified" : "unverified"));
	strncat(p, key.verified ? " (verified)" : " (unverified)", sizeof(p) - strlen(p) - 1);
	l->f.prefix = true;
	if (!c->prefix_interval_ns) {
		step(l, "prefix", o, MG_REASON_MAX, "", "off (prefix_rate = 0/s)");
		return;
	}
	bpf_map_lookup_elem(g->fd[GM_PREFIX], &key, &b);
	tokens = bucket_tokens(b.tat_ns, l->now, c->prefix_interval_ns, c->prefix_burst);
	bucket_json(o, tokens, c->prefix_burst, c->prefix_interval_ns);
	format_rate(c->prefix_interval_ns, r, sizeof(r));
	l->f.prefix = mg_gcra_admits(b.tat_ns, l->now, c->prefix_interval_ns, c->prefix_burst, NULL);
	if (!l->f.prefix) {
		snprintf(why, sizeof(why), "per-prefix rate of %s: no token left (%s, burst %u)", p, r, c->prefix_burst);
		step(l, "prefix", o, MG_REASON_DROP_PREFIX_RATE, why, "%s: %.1f of %u tokens (%s): empty", p, tokens,
		     c->prefix_burst, r);
	} else {
		step(l, "prefix", o, MG_REASON_MAX, "", "%s: %.1f of %u tokens (%s)", p, tokens, c->prefix_burst, r);
	}
}

/* one concurrency limit: n open of max (0 = off) */
static bool limit_step(struct lookup_result *l, const char *name, struct json_object *o, uint32_t n,
		       uint32_t max, uint32_t reason, const char *what, const char *why)
{
	char m[32];
	bool over = mg_at_limit(n, max);

	json_object_object_add(o, "connections", json_object_new_int64(n));
	json_object_object_add(o, "max", json_object_new_int64(max));
	snprintf(m, sizeof(m), max ? "%u" : "no limit", max);
	step(l, name, o, over ? reason : MG_REASON_MAX, why, "%u open connections%s (max %s)%s", n, what, m,
	     over ? ": at the limit" : "");
	return !over;
}

static void concurrent_steps(struct gate *g, struct lookup_result *l)
{
	const struct mg_config *c = &l->cfg;
	struct mg_conn_key ck = { .addr = l->addr, .class = l->class };
	uint32_t n = 0, total = 0, lim = l->class < MG_CLASS_MAX ? c->max_concurrent[l->class] : 0;
	const char *cls = mg_class_names[l->class < MG_CLASS_MAX ? l->class : 0];
	struct json_object *t;
	char why[LOOKUP_TEXT], what[64];

	bpf_map_lookup_elem(g->fd[GM_CONN], &ck, &n);
	snprintf(why, sizeof(why), "%u concurrent connections to class %s, max_concurrent %u", n, cls, lim);
	l->f.concurrent = limit_step(l, "concurrent", json_object_new_object(), n, lim, MG_REASON_DROP_CONCURRENT,
				     "", why);
	t = json_object_new_object();
	json_object_object_add(t, "class", json_object_new_string(cls));
	l->f.total = true;
	if (l->class == MG_CLASS_NONE) {
		step(l, "total", t, MG_REASON_MAX, "", "-");
		return;
	}
	bpf_map_lookup_elem(g->fd[GM_CLASS_CONN], &l->class, &total);
	snprintf(why, sizeof(why), "%u connections to class %s, max_total_concurrent %u", total, cls,
		 c->max_total_concurrent);
	snprintf(what, sizeof(what), " to class %s from all sources", cls);
	l->f.total = limit_step(l, "total", t, total, c->max_total_concurrent, MG_REASON_DROP_TOTAL_CONCURRENT,
				what, why);
}

/* flood mode (bpf/gate.bpf.c flood_step): a verified source keeps its
 * quotas; an unverified one gets a SYN cookie (flood_action = cookie, the
 * keys written; a plain SYN fits one) or shares the flood budget. The mode
 * as it is now (flood_on): the next SYN may switch it (its 100 ms window). */
static void flood_step(struct gate *g, struct lookup_result *l)
{
	struct json_object *o = json_object_new_object();
	struct mg_cookie_keys keys = { 0 };
	struct mg_global gl = { 0 };
	uint32_t zero = 0;
	uint64_t seen = 0;
	bool verified = !bpf_map_lookup_elem(g->fd[GM_VERIFIED], &l->addr, &seen), on;
	char ago[32], ver[96];

	bpf_map_lookup_elem(g->fd[GM_GLOBAL], &zero, &gl);
	on = l->f.flooding;
	json_object_object_add(o, "flood_mode", json_object_new_boolean(on));
	json_object_object_add(o, "verified", json_object_new_boolean(verified));
	if (verified) {
		json_object_object_add(o, "verified_s_ago", json_object_new_int64(
			l->now > seen ? (l->now - seen) / NSEC_PER_SEC : 0));
		snprintf(ver, sizeof(ver), "verified (last handshake %s ago)",
			 format_duration(l->now > seen ? l->now - seen : 0, ago, sizeof(ago)));
	} else {
		snprintf(ver, sizeof(ver), "never completed a handshake");
	}
	if (!on) {
		step(l, "flood", o, MG_REASON_MAX, "", "flood mode off (counted after the deny and ban steps); %s", ver);
		return;
	}
	if (verified) {
		step(l, "flood", o, MG_REASON_MAX, "", "flood mode ON (%s); %s: keeps its quotas",
		     flood_why_name(gl.flood_why), ver);
		return;
	}
	if (g->fd[GM_COOKIE] >= 0)
		bpf_map_lookup_elem(g->fd[GM_COOKIE], &zero, &keys);
	if (l->cfg.flood_action == MG_FLOOD_COOKIE && keys.ready)
		l->f.flood = MG_REASON_DROP_COOKIE;
	else if (!l->cfg.flood_budget_interval_ns ||
		 !mg_gcra_admits(gl.flood_budget_tat_ns, l->now, l->cfg.flood_budget_interval_ns, mg_flood_burst(&l->cfg), NULL))
		l->f.flood = MG_REASON_DROP_FLOOD;
	step(l, "flood", o, l->f.flood ? l->f.flood : MG_REASON_MAX,
	     l->f.flood == MG_REASON_DROP_COOKIE ? "flood mode: unverified, answered with a SYN cookie" :
	     "flood mode: unverified, the shared flood budget is spent",
	     "flood mode ON (%s); %s: %s", flood_why_name(gl.flood_why), ver,
	     l->f.flood == MG_REASON_DROP_COOKIE ? "answered with a SYN cookie (drop_cookie; the kernel completes its ACK)" :
	     l->f.flood ? "the shared flood budget is spent (drop_flood; a CPU that still holds tokens it took "
	     "from it, at most 16 for 100 ms, lets it pass)" : "within the shared flood budget");
}

/* flood mode on, as the data path's flood_on sees it: detection on and the mode set */
static bool flood_on(struct gate *g, const struct lookup_result *l)
{
	struct mg_global gl = { 0 };
	uint32_t zero = 0;

	bpf_map_lookup_elem(g->fd[GM_GLOBAL], &zero, &gl);
	return gl.flood_mode && l->cfg.flood_interval_ns;
}

/* the step that decides a reason */
static const char *decider_name(uint32_t reason)
{
	switch (reason) {
	case MG_REASON_PASS_ALLOW:
		return list_name(MG_LIST_ALLOW);
	case MG_REASON_DROP_FLOOD: case MG_REASON_DROP_COOKIE:
		return "flood";
	case MG_REASON_DROP_DENY: case MG_REASON_REJECT_DENY:
		return list_name(MG_LIST_DENY);
	case MG_REASON_DROP_BAN: case MG_REASON_REJECT_BAN:
		return "ban";
	case MG_REASON_DROP_DNSBL: case MG_REASON_REJECT_DNSBL: case MG_REASON_PASS_DNSWL: case MG_REASON_DROP_PENDING:
		return "dnsbl";
	case MG_REASON_DROP_RATE:
		return "rate";
	case MG_REASON_DROP_PREFIX_RATE:
		return "prefix";
	case MG_REASON_DROP_CONCURRENT:
		return "concurrent";
	case MG_REASON_DROP_TOTAL_CONCURRENT:
		return "total";
	}
	return NULL;
}

/* its index: -1 before them all (not gated), nstep when none decides */
static int decider(const struct lookup_result *l)
{
	const char *name = decider_name(l->reason);

	if (l->reason == MG_REASON_PASS_NOT_GATED)
		return -1;
	for (int i = 0; name && i < l->nstep; i++)
		if (!strcmp(l->steps[i].name, name))
			return i;
	return l->nstep;
}

int lookup_work(struct gate *g, const struct lookup_opts *o, struct lookup_result *l)
{
	uint8_t cls = 0;

	memset(l, 0, sizeof(*l));
	l->addr = o->addr;
	l->port = o->port;
	if (gate_read_config(g, &l->cfg))
		return -errno;
	bpf_map_lookup_elem(g->fd[GM_PORTS], &l->port, &cls);
	l->class = cls < MG_CLASS_MAX ? cls : 0;
	l->now = now_boot_ns();
	l->f.alive = daemon_alive(g, l->now, NULL);
	/* every step, in the data path's order in flood mode (the flood step
	 * right after the allow list; outside flood mode the data path meters
	 * after the ban step, include/rules.h mg_judge: the flood step stays
	 * second here, so that its index in --json does not move with the
	 * mode); each finds its fact, mg_judge decides */
	l->f.flooding = flood_on(g, l);
	list_step(g, l, MG_LIST_ALLOW);
	flood_step(g, l);
	list_step(g, l, MG_LIST_DENY);
	ban_step(g, l);
	dnsbl_step(g, l);
	rate_step(g, l);
	prefix_step(g, l);
	concurrent_steps(g, l);
	l->reason = l->class == MG_CLASS_NONE ? MG_REASON_PASS_NOT_GATED : mg_judge(&l->f, &l->cfg);
	l->decider = decider(l);
	if (l->reason == MG_REASON_PASS_NOT_GATED)
		snprintf(l->why, sizeof(l->why), "port %u is not gated", l->port);
	else if (l->decider < l->nstep)
		snprintf(l->why, sizeof(l->why), "%s", l->steps[l->decider].why);
	else
		snprintf(l->why, sizeof(l->why), "%s", l->reason == MG_REASON_PASS_UNASKED ?
			 "passed every check; no DNSBL verdict and nobody asked" : l->reason == MG_REASON_PASS_PENDING ?
			 "passed every check; DNSBL verdict pending, pending = pass" : "passed every check");
	if (l->reason == MG_REASON_REJECT_DENY || l->reason == MG_REASON_REJECT_BAN ||
	    l->reason == MG_REASON_REJECT_DNSBL)
		strncat(l->why, "; the responder answers with the reason", sizeof(l->why) - strlen(l->why) - 1);
	return 0;
}

void lookup_free(struct lookup_result *l)
{
	for (int i = 0; i < l->nstep; i++)
		json_object_put(l->steps[i].detail);
	l->nstep = 0;
}

/* ---- printers ---- */
/* the EFFECT column of step i: what it does to the SYN, or would do had the
 * decision not come before it */
static const char *effect(const struct lookup_result *l, int i)
{
	const struct lookup_step *s = &l->steps[i];

	if (i == l->decider)
		return MG_REASON_DROPS(l->reason) ? "DROP" : "PASS";
	if (i < l->decider)
		return "-";
	if (s->reason >= MG_REASON_MAX)
		return "";
	return MG_REASON_DROPS(s->reason) ? "(DROP, not reached)" : "(PASS, not reached)";
}

static const char *verdict_text(const struct lookup_result *l)
{
	bool reject = l->reason == MG_REASON_REJECT_DENY || l->reason == MG_REASON_REJECT_BAN ||
		      l->reason == MG_REASON_REJECT_DNSBL;

	if (!MG_REASON_DROPS(l->reason))
		return "PASS";
	if (l->cfg.mode == MG_MODE_OBSERVE)
		return "PASS (observe mode; counted as a drop)";
	if (reject)
		return "REJECT";
	/* bpf/gate.bpf.c may_reset: no RST to a held SYN nor in answer to flood mode's drops */
	return l->cfg.action == MG_ACTION_RESET && l->reason != MG_REASON_DROP_COOKIE &&
	       l->reason != MG_REASON_DROP_FLOOD && l->reason != MG_REASON_DROP_PENDING ? "DROP with a RST" : "DROP";
}

static void lookup_print_json(const struct lookup_result *l)
{
	struct json_object *doc = json_object_new_object(), *steps = json_object_new_array();
	bool drop = MG_REASON_DROPS(l->reason), observe = l->cfg.mode == MG_MODE_OBSERVE;
	const char *v = verdict_text(l);
	char a[MG_ADDRSTRLEN];

	for (int i = 0; i < l->nstep; i++) {
		const char *e = effect(l, i);
		struct json_object *o = json_object_new_object();

		/* step, state, effect first, then the step's own fields */
		json_object_object_add(o, "step", json_object_new_string(l->steps[i].name));
		json_object_object_add(o, "state", json_object_new_string(l->steps[i].state));
		json_object_object_add(o, "effect", json_object_new_string(
			!strcmp(e, "PASS") ? "pass" : !strcmp(e, "DROP") ? "drop" :
			strstr(e, "not reached") ? "not_reached" : "none"));
		json_object_object_foreach(l->steps[i].detail, key, val)
			json_object_object_add(o, key, json_object_get(val));
		json_object_array_add(steps, o);
	}
	json_object_object_add(doc, "address", json_object_new_string(format_addr(&l->addr, a, sizeof(a))));
	json_object_object_add(doc, "port", json_object_new_int(l->port));
	json_object_object_add(doc, "class", json_object_new_string(mg_class_names[l->class]));
	json_object_object_add(doc, "mode", json_object_new_string(observe ? "observe" : "enforce"));
	json_object_object_add(doc, "action", json_object_new_string(l->cfg.action == MG_ACTION_RESET ? "reset" : "drop"));
	json_object_object_add(doc, "steps", steps);
	json_object_object_add(doc, "decision", json_object_new_string(!strcmp(v, "REJECT") ? "reject" : drop ? "drop" : "pass"));
	json_object_object_add(doc, "reason", json_object_new_string(mg_reason_names[l->reason]));
	json_object_object_add(doc, "why", json_object_new_string(l->why));
	json_object_object_add(doc, "packet_passes", json_object_new_boolean(!drop || observe));
	json_out(doc);
}

static void lookup_print_text(const struct lookup_result *l)
{
	struct table *t = table_new(4, 1u << 0);
	char a[MG_ADDRSTRLEN], num[16];

	table_row(t, "#", "CHECK", "STATE", "EFFECT");
	for (int i = 0; i < l->nstep; i++) {
		snprintf(num, sizeof(num), "%d", i + 1);
		table_row(t, num, l->steps[i].name, l->steps[i].state, effect(l, i));
	}
	printf("%s, next SYN to port %u (%s); mode %s, action %s\n\n", format_addr(&l->addr, a, sizeof(a)), l->port,
	       l->class ? mg_class_names[l->class] : "not gated", l->cfg.mode == MG_MODE_OBSERVE ? "observe" : "enforce",
	       l->cfg.action == MG_ACTION_RESET ? "reset" : "drop");
	table_print(t, stdout, 2);
	table_free(t);
	if (l->nnotes)
		putchar('\n');
	for (int i = 0; i < l->nnotes; i++)
		printf("  %s\n", l->notes[i]);
	printf("\nnext SYN: %s (%s: %s)\n", verdict_text(l), mg_reason_names[l->reason], l->why);
}

/* ---- parse ---- */
static const struct cli_opt lookup_table[] = {
	CLI_U32("port", 'p', "N", struct lookup_opts, port, 1, 65535, "the destination port (default 25: its class)",
		"lookup: bad port '%s' (expected 1..65535)"),
	CLI_END
};
const struct cli_cmd cli_lookup = { "lookup", "ADDR", "what the data path would do with a SYN from ADDR now",
				    lookup_table };

static int lookup_parse(int argc, char **argv, struct lookup_opts *o)
{
	int npos, rc;

	o->port = 25;
	rc = cli_parse(&cli_lookup, argc, argv, o, &npos);
	if (rc != CLI_GO)
		return rc == EXIT_OK ? -1 : rc;
	if (npos != 1)
		return fail(EXIT_USAGE, "lookup: expected one address, got %d arguments (usage: mailgate lookup ADDR [--port N])",
			    npos);
	if (parse_addr(argv[1], &o->addr))
		return fail(EXIT_USAGE, "lookup: bad address '%s' (expected one IPv4 or IPv6 address%s)", argv[1],
			    strchr(argv[1], '/') ? ", not a prefix" : "");
	return 0;
}

int do_lookup(int argc, char **argv)
{
	struct lookup_opts o = { 0 };
	struct lookup_result *l;
	struct gate g;
	int rc = lookup_parse(argc, argv, &o);

	if (rc)
		return rc < 0 ? EXIT_OK : rc;
	rc = cli_open_gate(&g);
	if (rc)
		return rc;
	l = calloc(1, sizeof(*l));
	if (!l || lookup_work(&g, &o, l)) {
		rc = fail(EXIT_FAIL, "lookup: cannot read %s: %s", gate_map_names[GM_CONFIG], strerror(l ? errno : ENOMEM));
		free(l);
		gate_close(&g);
		return rc;
	}
	if (opts.json)
		lookup_print_json(l);
	else
		lookup_print_text(l);
	lookup_free(l);
	free(l);
	gate_close(&g);
	return EXIT_OK;
}

/* ---- a one-line summary of a source, for `top` ---- */
/* the list entry that decides for a (the data path's rule): its prefix */
static bool list_decides(struct gate *g, enum mg_list list, const struct mg_addr *a, uint64_t now,
			 char *cidr, size_t len)
{
	struct mg_lpm_key k;
	struct mg_rule r;

	if (!list_match(g, list, a, now, &k, &r) || !mg_rule_decides(list, &r))
		return false;
	format_cidr(&k, cidr, len);
	return true;
}

void source_brief(struct gate *g, const struct mg_config *c, const struct mg_addr *a, uint64_t now,
		  char *buf, size_t len, struct json_object *o)
{
	char cidr[MG_ADDRSTRLEN + 8], e[48];
	struct mg_src s = { 0 };
	struct mg_verdict v;
	struct mg_ban b;
	size_t off = 0;
	bool have;

#define ADD(...) (off += snprintf(buf + off, off < len ? len - off : 0, __VA_ARGS__))
	buf[0] = 0;
	if (list_decides(g, MG_LIST_ALLOW, a, now, cidr, sizeof(cidr))) {
		ADD("allow %s; ", cidr);
		json_object_object_add(o, "allow", json_object_new_string(cidr));
	}
	if (list_decides(g, MG_LIST_DENY, a, now, cidr, sizeof(cidr))) {
		ADD("deny %s; ", cidr);
		json_object_object_add(o, "deny", json_object_new_string(cidr));
	}
	have = ban_get(g, a, now, &b) && ban_in_force(&b, now);
	json_object_object_add(o, "banned", json_object_new_boolean(have));
	if (have) {
		ADD("banned %s (%s, level %u); ", format_expiry(b.expires_ns, now, e, sizeof(e)),
		    origin_name(b.origin), b.level);
		json_object_object_add(o, "ban_expires_in_s", jexp(b.expires_ns, now));
	}
	if (c->dnsbl_enabled && !bpf_map_lookup_elem(g->fd[GM_VERDICT], a, &v) && v.expires_ns > now) {
		static const char *const states[] = { "pending", "clean", "listed", "allowlisted" };
		const char *st = v.state < 4 ? states[v.state] : "unknown";

		ADD("dnsbl %s", st);
		if (v.state != MG_VERDICT_PENDING)
			ADD(" (score %d)", v.score);
		ADD("; ");
		json_object_object_add(o, "dnsbl", json_object_new_string(st));
	}
	bpf_map_lookup_elem(g->fd[GM_SRC], a, &s);
	if (mg_syn_interval(c, MG_CLASS_SMTP)) { /* the bucket of SMTP, the class most sources use */
		double t = bucket_tokens(s.tat_ns[MG_CLASS_SMTP], now, mg_syn_interval(c, MG_CLASS_SMTP),
					 mg_syn_burst(c, MG_CLASS_SMTP));

		ADD("tokens %.1f/%u", t, mg_syn_burst(c, MG_CLASS_SMTP));
		json_object_object_add(o, "tokens", json_object_new_double((double)(int64_t)(t * 10) / 10));
	}
#undef ADD
	/* drop a trailing separator */
	off = strlen(buf);
	while (off && (buf[off - 1] == ' ' || buf[off - 1] == ';'))
		buf[--off] = 0;
	if (!buf[0])
		snprintf(buf, len, "-");
}
