// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* `mailgate lookup ADDR [--port N]`: everything the maps know about one
 * source, and what the data path would do with its next SYN, step by step
 * in the decision order of bpf/gate.bpf.c judge() (docs/datapath.md, "Decision order"). Read-only:
 * it reads the same maps with the same rules, and changes nothing. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <json-c/json.h>
#include "listset.h"
#include "cli.h"

#define STATE_LEN 256

struct lookup {
	struct gate *g;
	struct mg_config cfg;
	struct mg_addr addr;
	uint32_t port, class;
	uint64_t now;
	/* the decision: the first step that decides */
	bool decided;
	uint32_t reason;
	char why[STATE_LEN];
	bool pending;          /* DNSBL verdict pending, policy pass */
	bool unasked;          /* no DNSBL verdict and nobody to ask (pass_unasked) */
	struct table *t;
	struct json_object *steps;
	int nstep;
	char notes[8][STATE_LEN]; /* extra lines under the table */
	int nnotes;
};

static void note(struct lookup *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(struct lookup *l, const char *fmt, ...)
{
	va_list ap;

	if (l->nnotes >= 8)
		return;
	va_start(ap, fmt);
	vsnprintf(l->notes[l->nnotes++], STATE_LEN, fmt, ap);
	va_end(ap);
}

/* Record one step. reason: what this step decides (MG_REASON_MAX = nothing,
 * the SYN goes on to the next step). */
static void step(struct lookup *l, const char *name, struct json_object *detail, uint32_t reason,
		 const char *why, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static void step(struct lookup *l, const char *name, struct json_object *detail, uint32_t reason,
		 const char *why, const char *fmt, ...)
{
	char state[STATE_LEN], num[16];
	struct json_object *o;
	const char *effect;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(state, sizeof(state), fmt, ap);
	va_end(ap);
	if (l->decided)
		effect = reason >= MG_REASON_MAX ? "" : !MG_REASON_DROPS(reason) ? "(PASS, not reached)"
										   : "(DROP, not reached)";
	else if (reason < MG_REASON_MAX)
		effect = !MG_REASON_DROPS(reason) ? "PASS" : "DROP";
	else
		effect = "-";
	if (!l->decided && reason < MG_REASON_MAX) {
		l->decided = true;
		l->reason = reason;
		snprintf(l->why, sizeof(l->why), "%s", why);
	}
	snprintf(num, sizeof(num), "%d", ++l->nstep);
	table_row(l->t, num, name, state, effect);
	/* step, state, effect first, then the step's own fields */
	o = json_object_new_object();
	json_object_object_add(o, "step", json_object_new_string(name));
	json_object_object_add(o, "state", json_object_new_string(state));
	json_object_object_add(o, "effect", json_object_new_string(
		!strcmp(effect, "PASS") ? "pass" : !strcmp(effect, "DROP") ? "drop" :
		strstr(effect, "not reached") ? "not_reached" : "none"));
	json_object_object_foreach(detail, key, val)
		json_object_object_add(o, key, json_object_get(val));
	json_object_put(detail);
	json_object_array_add(l->steps, o);
}

static struct json_object *jexp(uint64_t exp, uint64_t now)
{
	return exp ? json_object_new_int64(((int64_t)exp - (int64_t)now) / (int64_t)NSEC_PER_SEC) : NULL;
}

/* allow and deny: the data path's rule (include/lists.h), the longest
 * active prefix; an expired longer one is skipped, a deny exclusion wins
 * and means "not denied" */
static void list_step(struct lookup *l, enum mg_list list, uint32_t reason)
{
	const char *name = list_name(list);
	struct json_object *o = json_object_new_object();
	char cidr[MG_ADDRSTRLEN + 8], e[48], why[STATE_LEN];
	struct mg_lpm_key k;
	struct mg_rule r;

	if (!list_match(l->g, list, &l->addr, l->now, &k, &r)) {
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
	snprintf(why, sizeof(why), "%s list %s", name, cidr);
	step(l, name, o, reason, why, "%s (origin %s, expires %s)", cidr, origin_name(r.origin),
	     !strcmp(e, "never") ? "never" : e);
}

/* how long the next ban of this source would last (bpf ban_source()) */
static uint64_t next_ban_ns(const struct mg_config *c, const struct mg_ban *old, uint64_t now)
{
	uint32_t level = 0;
	uint64_t dur = c->ban_time_ns;

	if (old && old->expires_ns && now < old->expires_ns + c->ban_time_max_ns)
		level = old->level < 30 ? old->level + 1 : 30;
	if ((dur << level) >> level != dur)
		dur = c->ban_time_max_ns;
	else
		dur <<= level;
	if (c->ban_time_max_ns && dur > c->ban_time_max_ns)
		dur = c->ban_time_max_ns;
	return dur;
}

/* The ban of a source that decides: an active operator ban (mg_ban), else
 * its quota ban (mg_ban_quota), active or remembered for its level; false
 * when neither map has it. */
bool ban_get(struct gate *g, const struct mg_addr *a, uint64_t now, struct mg_ban *b)
{
	struct mg_ban q;
	bool op = !bpf_map_lookup_elem(g->fd[GM_BAN], a, b);
	bool quota = !bpf_map_lookup_elem(g->fd[GM_BAN_QUOTA], a, &q);

	if (op && (!b->expires_ns || b->expires_ns > now))
		return true;
	if (quota)
		*b = q;
	return op || quota;
}

static void ban_step(struct lookup *l)
{
	struct json_object *o = json_object_new_object();
	char e[48], d[32], why[STATE_LEN];
	struct mg_ban b, q;
	bool have = ban_get(l->g, &l->addr, l->now, &b);
	bool have_q = !bpf_map_lookup_elem(l->g->fd[GM_BAN_QUOTA], &l->addr, &q);

	json_object_object_add(o, "banned", json_object_new_boolean(have && (!b.expires_ns || b.expires_ns > l->now)));
	json_object_object_add(o, "next_ban_s", json_object_new_int64(
		next_ban_ns(&l->cfg, have_q ? &q : NULL, l->now) / NSEC_PER_SEC));
	if (!have) {
		step(l, "ban", o, MG_REASON_MAX, "", "not banned");
		return;
	}
	format_expiry(b.expires_ns, l->now, e, sizeof(e));
	json_object_object_add(o, "level", json_object_new_int(b.level));
	json_object_object_add(o, "origin", json_object_new_string(origin_name(b.origin)));
	json_object_object_add(o, "expires_in_s", jexp(b.expires_ns, l->now));
	if (b.expires_ns && b.expires_ns <= l->now) {
		step(l, "ban", o, MG_REASON_MAX, "", "not banned (last ban %s, level %u; a new one would last %s)",
		     e, b.level, format_duration(next_ban_ns(&l->cfg, have_q ? &q : NULL, l->now), d, sizeof(d)));
		return;
	}
	snprintf(why, sizeof(why), "banned (origin %s), %s%s", origin_name(b.origin),
		 b.expires_ns ? "expires " : "", b.expires_ns ? e : "no expiry");
	step(l, "ban", o, MG_REASON_DROP_BAN, why, "banned (origin %s, level %u, expires %s)",
	     origin_name(b.origin), b.level, b.expires_ns ? e : "never");
}

static void dnsbl_step(struct lookup *l)
{
	static const char *const states[] = { "pending", "clean", "listed", "allowlisted" };
	struct json_object *o = json_object_new_object(), *zones = json_object_new_array();
	const char *policy = l->cfg.pending == MG_PENDING_HOLD ? "hold" : "pass";
	char e[48], why[STATE_LEN];
	struct mg_verdict v;
	size_t nz;

	json_object_object_add(o, "enabled", json_object_new_boolean(l->cfg.dnsbl_enabled));
	dnsbl_cached(l->g->pin_dir, &l->addr, zones);
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
	if (!l->cfg.dnsbl_enabled) {
		step(l, "dnsbl", o, MG_REASON_MAX, "", "off (no [dnsbl] sites)");
		return;
	}
	if (bpf_map_lookup_elem(l->g->fd[GM_VERDICT], &l->addr, &v) || v.expires_ns <= l->now ||
	    v.state == MG_VERDICT_PENDING) {
		struct mg_ctl ctl = { 0 };
		uint64_t until = 0;

		json_object_object_add(o, "verdict", json_object_new_string("none"));
		gate_read_ctl(l->g, &ctl);
		if (ctl.alive_until_ns <= l->now) {
			l->unasked = true;
			json_object_object_add(o, "daemon_alive", json_object_new_boolean(false));
			step(l, "dnsbl", o, MG_REASON_MAX, "",
			     "no verdict, and the daemon shows no sign of life (heartbeat %s): nobody is asked, the SYN goes on (pass_unasked)",
			     format_expiry(ctl.alive_until_ns, l->now, e, sizeof(e)));
			return;
		}
		if (!bpf_map_lookup_elem(l->g->fd[GM_PENDING], &l->addr, &until) && until > l->now) {
			format_expiry(until, l->now, e, sizeof(e));
			json_object_object_add(o, "pending_expires_in_s", jexp(until, l->now));
			if (l->cfg.pending == MG_PENDING_HOLD) {
				step(l, "dnsbl", o, MG_REASON_DROP_PENDING, "DNSBL lookup in progress, pending = hold",
				     "lookup in progress (asked again %s); pending = hold", e);
			} else {
				l->pending = true;
				step(l, "dnsbl", o, MG_REASON_MAX, "", "lookup in progress (asked again %s); pending = %s", e,
				     policy);
			}
			return;
		}
		if (l->cfg.pending == MG_PENDING_HOLD) {
			step(l, "dnsbl", o, MG_REASON_DROP_PENDING, "DNSBL verdict not in yet, pending = hold",
			     "no verdict: the SYN asks for a lookup; pending = hold");
		} else {
			l->pending = true;
			step(l, "dnsbl", o, MG_REASON_MAX, "", "no verdict: the SYN asks for a lookup; pending = pass");
		}
		return;
	}
	format_expiry(v.expires_ns, l->now, e, sizeof(e));
	json_object_object_add(o, "verdict", json_object_new_string(v.state < 4 ? states[v.state] : "unknown"));
	json_object_object_add(o, "score", json_object_new_int(v.score));
	json_object_object_add(o, "threshold", json_object_new_int(l->cfg.dnsbl_threshold));
	json_object_object_add(o, "expires_in_s", jexp(v.expires_ns, l->now));
	switch (v.state) {
	case MG_VERDICT_LISTED:
		snprintf(why, sizeof(why), "DNSBL score %d >= threshold %d", v.score, l->cfg.dnsbl_threshold);
		step(l, "dnsbl", o, MG_REASON_DROP_DNSBL, why, "listed, score %d (threshold %d), verdict expires %s",
		     v.score, l->cfg.dnsbl_threshold, e);
		break;
	case MG_VERDICT_ALLOWED:
		snprintf(why, sizeof(why), "DNSWL: score %d, skips the quotas", v.score);
		step(l, "dnsbl", o, MG_REASON_PASS_DNSWL, why, "allowlisted, score %d, verdict expires %s", v.score, e);
		break;
	default:
		step(l, "dnsbl", o, MG_REASON_MAX, "", "clean, score %d (threshold %d), verdict expires %s", v.score,
		     l->cfg.dnsbl_threshold, e);
	}
}

/* GCRA bucket: tokens left at now (bpf gcra()) */
static double bucket_tokens(uint64_t tat, uint64_t now, uint64_t interval, uint32_t burst)
{
	uint64_t backlog = tat > now ? tat - now : 0;
	double full = (double)burst * interval;

	return backlog >= full ? 0 : (full - backlog) / interval;
}

static bool bucket_admits(uint64_t tat, uint64_t now, uint64_t interval, uint32_t burst)
{
	uint64_t t = tat > now ? tat : now;

	return t + interval - now <= (uint64_t)burst * interval;
}

static void bucket_json(struct json_object *o, double tokens, uint32_t burst, uint64_t interval)
{
	json_object_object_add(o, "tokens", json_object_new_double((double)(int64_t)(tokens * 10) / 10));
	json_object_object_add(o, "burst", json_object_new_int64(burst));
	json_object_object_add(o, "rate_per_s", json_rate(interval));
}

static void rate_step(struct lookup *l)
{
	struct json_object *o = json_object_new_object();
	const struct mg_config *c = &l->cfg;
	char r[32], why[STATE_LEN], ago[32];
	struct mg_src s;
	bool have = !bpf_map_lookup_elem(l->g->fd[GM_SRC], &l->addr, &s);
	double tokens;

	if (have) {
		uint32_t win = c->ban_window_ns / NSEC_PER_SEC, sec = l->now / NSEC_PER_SEC;
		uint32_t viol = MG_VIOL_COUNT(s.violations);

		if (!viol || sec - MG_VIOL_WINDOW(s.violations) >= (win ? win : 1))
			viol = 0;
		json_object_object_add(o, "syns", json_object_new_int64(s.syns));
		json_object_object_add(o, "drops", json_object_new_int64(s.drops));
		json_object_object_add(o, "last_seen_s_ago", json_object_new_int64(
			l->now > s.last_ns ? (l->now - s.last_ns) / NSEC_PER_SEC : 0));
		uint32_t hs = MG_VIOL_COUNT(s.handshakes);
		uint64_t passed = s.syns - s.drops;

		if (!hs || sec - MG_VIOL_WINDOW(s.handshakes) >= (win ? win : 1))
			hs = 0, passed = 0;
		else
			passed = passed > s.passed_base ? passed - s.passed_base : 0;
		json_object_object_add(o, "violations", json_object_new_int(viol));
		json_object_object_add(o, "ban_after", json_object_new_int(c->ban_after));
		json_object_object_add(o, "handshakes", json_object_new_int(hs));
		json_object_object_add(o, "passed", json_object_new_int64(passed));
		json_object_object_add(o, "ban_evidence", json_object_new_int(c->ban_evidence));
		json_object_object_add(o, "evidence", json_object_new_boolean(
			hs && hs >= c->ban_evidence && (uint64_t)hs * MG_EVIDENCE_RATIO >= passed));
		note(l, "evidence: %u handshakes completed of %llu SYNs passed in the current window (a ban needs %u, "
		     "and 1 in %d of the passed): %s", hs, (unsigned long long)passed, c->ban_evidence,
		     MG_EVIDENCE_RATIO, hs && hs >= c->ban_evidence && (uint64_t)hs * MG_EVIDENCE_RATIO >= passed
		     ? "can be banned" : "cannot be banned now");
		note(l, "source: %llu gated SYNs, %llu dropped, last %s ago; %u of %u violations in the current %s window",
		     (unsigned long long)s.syns, (unsigned long long)s.drops,
		     format_duration(l->now > s.last_ns ? l->now - s.last_ns : 0, ago, sizeof(ago)), viol,
		     c->ban_after, format_duration(c->ban_window_ns, r, sizeof(r)));
	} else {
		s.tat_ns = 0;
		note(l, "source: no gated SYN seen (or forgotten: the least recently seen go first)");
	}
	if (!c->syn_interval_ns) {
		step(l, "rate", o, MG_REASON_MAX, "", "off (syn_rate = 0/s)");
		return;
	}
	tokens = bucket_tokens(s.tat_ns, l->now, c->syn_interval_ns, c->syn_burst);
	bucket_json(o, tokens, c->syn_burst, c->syn_interval_ns);
	format_rate(c->syn_interval_ns, r, sizeof(r));
	if (!bucket_admits(s.tat_ns, l->now, c->syn_interval_ns, c->syn_burst)) {
		snprintf(why, sizeof(why), "per-source rate: no token left (%s, burst %u)", r, c->syn_burst);
		step(l, "rate", o, MG_REASON_DROP_RATE, why, "%.1f of %u tokens (%s): empty", tokens, c->syn_burst, r);
	} else {
		step(l, "rate", o, MG_REASON_MAX, "", "%.1f of %u tokens (%s)", tokens, c->syn_burst, r);
	}
}

static void prefix_step(struct lookup *l)
{
	struct json_object *o = json_object_new_object();
	const struct mg_config *c = &l->cfg;
	const uint32_t *mask = addr_is_v4(&l->addr) ? c->mask_v4 : c->mask_v6;
	struct mg_lpm_key k;
	struct mg_bucket b = { 0 };
	struct mg_prefix_key key = { .addr = l->addr };
	char p[MG_ADDRSTRLEN + 8], r[32], why[STATE_LEN];
	uint64_t seen;
	double tokens;

	key.verified = !bpf_map_lookup_elem(l->g->fd[GM_VERIFIED], &l->addr, &seen);
	for (int i = 0; i < 4; i++)
		((uint32_t *)key.addr.a)[i] &= mask[i];
	k.prefixlen = addr_is_v4(&l->addr) ? 96 + c->prefix_v4 : c->prefix_v6;
	memcpy(k.a, key.addr.a, 16);
	format_cidr(&k, p, sizeof(p));
	json_object_object_add(o, "prefix", json_object_new_string(p));
	json_object_object_add(o, "bucket", json_object_new_string(key.verified ? "verified" : "unverified"));
	/* the bucket a verified source shares with the prefix's other verified sources */
	strncat(p, key.verified ? " (verified)" : " (unverified)", sizeof(p) - strlen(p) - 1);
	if (!c->prefix_interval_ns) {
		step(l, "prefix", o, MG_REASON_MAX, "", "off (prefix_rate = 0/s)");
		return;
	}
	bpf_map_lookup_elem(l->g->fd[GM_PREFIX], &key, &b);
	tokens = bucket_tokens(b.tat_ns, l->now, c->prefix_interval_ns, c->prefix_burst);
	bucket_json(o, tokens, c->prefix_burst, c->prefix_interval_ns);
	format_rate(c->prefix_interval_ns, r, sizeof(r));
	if (!bucket_admits(b.tat_ns, l->now, c->prefix_interval_ns, c->prefix_burst)) {
		snprintf(why, sizeof(why), "per-prefix rate of %s: no token left (%s, burst %u)", p, r, c->prefix_burst);
		step(l, "prefix", o, MG_REASON_DROP_PREFIX_RATE, why, "%s: %.1f of %u tokens (%s): empty", p, tokens,
		     c->prefix_burst, r);
	} else {
		step(l, "prefix", o, MG_REASON_MAX, "", "%s: %.1f of %u tokens (%s)", p, tokens, c->prefix_burst, r);
	}
}

static void concurrent_steps(struct lookup *l)
{
	struct json_object *o = json_object_new_object(), *t = json_object_new_object();
	const struct mg_config *c = &l->cfg;
	struct mg_conn_key ck = { .addr = l->addr, .class = l->class };
	uint32_t n = 0, total = 0, lim = l->class < MG_CLASS_MAX ? c->max_concurrent[l->class] : 0;
	char why[STATE_LEN], max[32];

	bpf_map_lookup_elem(l->g->fd[GM_CONN], &ck, &n);
	json_object_object_add(o, "connections", json_object_new_int64(n));
	json_object_object_add(o, "max", json_object_new_int64(lim));
	snprintf(max, sizeof(max), lim ? "%u" : "no limit", lim);
	if (lim && n >= lim) {
		snprintf(why, sizeof(why), "%u concurrent connections to class %s, max_concurrent %u", n,
			 mg_class_names[l->class], lim);
		step(l, "concurrent", o, MG_REASON_DROP_CONCURRENT, why, "%u open connections (max %s): at the limit",
		     n, max);
	} else {
		step(l, "concurrent", o, MG_REASON_MAX, "", "%u open connections (max %s)", n, max);
	}

	if (l->class == MG_CLASS_NONE) {
		json_object_object_add(t, "class", json_object_new_string("none"));
		step(l, "total", t, MG_REASON_MAX, "", "-");
		return;
	}
	bpf_map_lookup_elem(l->g->fd[GM_CLASS_CONN], &l->class, &total);
	json_object_object_add(t, "class", json_object_new_string(mg_class_names[l->class]));
	json_object_object_add(t, "connections", json_object_new_int64(total));
	json_object_object_add(t, "max", json_object_new_int64(c->max_total_concurrent));
	snprintf(max, sizeof(max), c->max_total_concurrent ? "%u" : "no limit", c->max_total_concurrent);
	if (c->max_total_concurrent && total >= c->max_total_concurrent) {
		snprintf(why, sizeof(why), "%u connections to class %s, max_total_concurrent %u", total,
			 mg_class_names[l->class], c->max_total_concurrent);
		step(l, "total", t, MG_REASON_DROP_TOTAL_CONCURRENT, why,
		     "%u open connections to class %s from all sources (max %s): at the limit", total,
		     mg_class_names[l->class], max);
	} else {
		step(l, "total", t, MG_REASON_MAX, "", "%u open connections to class %s from all sources (max %s)",
		     total, mg_class_names[l->class], max);
	}
}

static void flood_step(struct lookup *l)
{
	struct json_object *o = json_object_new_object();
	struct mg_global gl = { 0 };
	uint32_t zero = 0;
	uint64_t seen = 0;
	bool verified = !bpf_map_lookup_elem(l->g->fd[GM_VERIFIED], &l->addr, &seen);
	char ago[32], ver[96];

	bpf_map_lookup_elem(l->g->fd[GM_GLOBAL], &zero, &gl);
	json_object_object_add(o, "flood_mode", json_object_new_boolean(gl.flood_mode));
	json_object_object_add(o, "verified", json_object_new_boolean(verified));
	if (verified)
		json_object_object_add(o, "verified_s_ago", json_object_new_int64(
			l->now > seen ? (l->now - seen) / NSEC_PER_SEC : 0));
	if (verified)
		snprintf(ver, sizeof(ver), "verified (last handshake %s ago)",
			 format_duration(l->now > seen ? l->now - seen : 0, ago, sizeof(ago)));
	else
		snprintf(ver, sizeof(ver), "never completed a handshake");
	if (!gl.flood_mode)
		step(l, "flood", o, MG_REASON_MAX, "", "flood mode off; %s", ver);
	else if (verified)
		step(l, "flood", o, MG_REASON_MAX, "", "flood mode ON (%s); %s: keeps its quotas",
		     flood_why_name(gl.flood_why), ver);
	else if (l->cfg.flood_action == MG_FLOOD_COOKIE)
		step(l, "flood", o, MG_REASON_MAX, "", "flood mode ON (%s); %s: answered with a SYN cookie (drop_cookie; the kernel completes its ACK)",
		     flood_why_name(gl.flood_why), ver);
	else
		/* whether the shared budget has a token is global and changes by the microsecond */
		step(l, "flood", o, MG_REASON_MAX, "", "flood mode ON (%s); %s: shares the flood budget (drop_flood when spent)",
		     flood_why_name(gl.flood_why), ver);
}

static int parse_port(const char *s, uint32_t *port)
{
	return parse_u32(s, 1, 65535, port);
}

int do_lookup(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct lookup l = { .port = 25 };
	struct gate g;
	struct json_object *doc;
	char a[MG_ADDRSTRLEN];
	uint8_t cls = 0;
	uint32_t zero = 0;
	int opt, rc;

	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":p:h", lo, NULL)) != -1) {
		switch (opt) {
		case 'p':
			if (parse_port(optarg, &l.port))
				return fail(EXIT_USAGE, "lookup: bad port '%s' (expected 1..65535)", optarg);
			break;
		case 'h':
			printf("usage: mailgate lookup ADDR [--port N]   (default port 25)\n");
			return EXIT_OK;
		default:
			return bad_option(opt, argv);
		}
	}
	if (argc - optind != 1)
		return fail(EXIT_USAGE, "lookup: expected one address, got %d arguments (usage: mailgate lookup ADDR [--port N])",
			    argc - optind);
	if (parse_addr(argv[optind], &l.addr))
		return fail(EXIT_USAGE, "lookup: bad address '%s' (expected one IPv4 or IPv6 address%s)", argv[optind],
			    strchr(argv[optind], '/') ? ", not a prefix" : "");
	rc = cli_open_gate(&g);
	if (rc)
		return rc;
	l.g = &g;
	if (gate_read_config(&g, &l.cfg)) {
		gate_close(&g);
		return fail(EXIT_FAIL, "lookup: cannot read %s: %s", gate_map_names[GM_CONFIG], strerror(errno));
	}
	bpf_map_lookup_elem(g.fd[GM_PORTS], &l.port, &cls);
	l.class = cls < MG_CLASS_MAX ? cls : 0;
	l.now = now_boot_ns();
	l.t = table_new(4, 1u << 0);
	l.steps = json_object_new_array();
	table_row(l.t, "#", "CHECK", "STATE", "EFFECT");

	if (l.class == MG_CLASS_NONE) {
		l.decided = true;
		l.reason = MG_REASON_PASS_NOT_GATED;
		snprintf(l.why, sizeof(l.why), "port %u is not gated", l.port);
	}
	list_step(&l, MG_LIST_ALLOW, MG_REASON_PASS_ALLOW);
	flood_step(&l); /* right after the allow list, as in the data path */
	list_step(&l, MG_LIST_DENY, MG_REASON_DROP_DENY);
	ban_step(&l);
	dnsbl_step(&l);
	rate_step(&l);
	prefix_step(&l);
	concurrent_steps(&l);
	if (!l.decided) {
		l.reason = l.unasked ? MG_REASON_PASS_UNASKED : l.pending ? MG_REASON_PASS_PENDING : MG_REASON_PASS_OK;
		snprintf(l.why, sizeof(l.why), "%s",
			 l.unasked ? "passed every check; no DNSBL verdict and nobody to ask" :
			 l.pending ? "passed every check; DNSBL verdict pending, pending = pass" : "passed every check");
	}
	{
		struct mg_global gl = { 0 };

		bpf_map_lookup_elem(g.fd[GM_GLOBAL], &zero, &gl);
		if (gl.flood_mode && !MG_REASON_DROPS(l.reason) && l.reason != MG_REASON_PASS_ALLOW &&
		    l.reason != MG_REASON_PASS_NOT_GATED && l.reason != MG_REASON_PASS_DNSWL) {
			uint64_t seen;

			if (bpf_map_lookup_elem(g.fd[GM_VERIFIED], &l.addr, &seen))
				strncat(l.why, "; unless the shared flood budget is spent", sizeof(l.why) - strlen(l.why) - 1);
		}
	}

	/* denied / banned / listed = reject: answered by the responder instead
	 * (the quotas after the step still apply; the data path checks them),
	 * while the daemon that runs the responder shows signs of life */
	struct mg_ctl ctl = { 0 };
	bool alive = !gate_read_ctl(&g, &ctl) && ctl.alive_until_ns > l.now;
	bool rejected = alive && ((l.reason == MG_REASON_DROP_DENY && (l.cfg.reject & MG_REJECT_DENY)) ||
			(l.reason == MG_REASON_DROP_BAN && (l.cfg.reject & MG_REJECT_BAN)) ||
			(l.reason == MG_REASON_DROP_DNSBL && (l.cfg.reject & MG_REJECT_DNSBL)));
	if (rejected) {
		l.reason = l.reason == MG_REASON_DROP_DENY ? MG_REASON_REJECT_DENY :
			   l.reason == MG_REASON_DROP_BAN ? MG_REASON_REJECT_BAN : MG_REASON_REJECT_DNSBL;
		strncat(l.why, "; the responder answers with the reason (unless the SYN is over a quota)",
			sizeof(l.why) - strlen(l.why) - 1);
	}
	bool drop = MG_REASON_DROPS(l.reason);
	bool observe = l.cfg.mode == MG_MODE_OBSERVE;
	const char *verdict = !drop ? "PASS" : observe ? "PASS (observe mode; counted as a drop)" :
			      rejected ? "REJECT" :
			      l.cfg.action == MG_ACTION_RESET ? "DROP with a RST" : "DROP";

	if (opts.json) {
		doc = json_object_new_object();
		json_object_object_add(doc, "address", json_object_new_string(format_addr(&l.addr, a, sizeof(a))));
		json_object_object_add(doc, "port", json_object_new_int(l.port));
		json_object_object_add(doc, "class", json_object_new_string(mg_class_names[l.class]));
		json_object_object_add(doc, "mode", json_object_new_string(observe ? "observe" : "enforce"));
		json_object_object_add(doc, "action", json_object_new_string(
			l.cfg.action == MG_ACTION_RESET ? "reset" : "drop"));
		json_object_object_add(doc, "steps", l.steps);
		json_object_object_add(doc, "decision", json_object_new_string(
			rejected && !observe ? "reject" : drop ? "drop" : "pass"));
		json_object_object_add(doc, "reason", json_object_new_string(mg_reason_names[l.reason]));
		json_object_object_add(doc, "why", json_object_new_string(l.why));
		json_object_object_add(doc, "packet_passes", json_object_new_boolean(!drop || observe));
		json_out(doc);
	} else {
		printf("%s, next SYN to port %u (%s); mode %s, action %s\n\n", format_addr(&l.addr, a, sizeof(a)), l.port,
		       l.class ? mg_class_names[l.class] : "not gated", observe ? "observe" : "enforce",
		       l.cfg.action == MG_ACTION_RESET ? "reset" : "drop");
		table_print(l.t, stdout, 2);
		if (l.nnotes)
			putchar('\n');
		for (int i = 0; i < l.nnotes; i++)
			printf("  %s\n", l.notes[i]);
		printf("\nnext SYN: %s (%s: %s)\n", verdict, mg_reason_names[l.reason], l.why);
		json_object_put(l.steps);
	}
	table_free(l.t);
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
	have = ban_get(g, a, now, &b) && (!b.expires_ns || b.expires_ns > now);
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
	if (c->syn_interval_ns) {
		double t = bucket_tokens(s.tat_ns, now, c->syn_interval_ns, c->syn_burst);

		ADD("tokens %.1f/%u", t, c->syn_burst);
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
