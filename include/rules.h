/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The decision rules of the data path, written once and compiled into both
 * the XDP program (bpf/gate.bpf.c) and the binary (user/lookup.c: `lookup`,
 * `top`), as include/lists.h is for the list match and include/synflood.h
 * for the generator. Pure functions of their arguments: each side reads its
 * maps its own way (bpf_map_lookup_elem, or the bpf() syscall) and asks the
 * same rule.
 *
 * The second part, mg_judge(), is the decision order itself: first match
 * wins. It is compiled where the includer defines MG_JUDGE_CTX and the steps
 * (mg_j_*) first: the data path's steps read and update its maps as the
 * order reaches them (an unreached step costs nothing); lookup's steps
 * answer from the state it read, changing nothing. */
#ifndef MAILGATE_RULES_H
#define MAILGATE_RULES_H

#include "gate.h"

#ifndef RULES_INLINE
#define RULES_INLINE static inline
#endif

#define MG_RULES_NSEC 1000000000ULL

/* an index the verifier must see bounded where it is used: the compiler
 * may otherwise use a copy from before the check */
#ifdef __bpf__
#define MG_RULES_BOUNDED(v) asm volatile("" : "+r"(v))
#else
#define MG_RULES_BOUNDED(v) ((void)0)
#endif

/* ---- token buckets (GCRA, struct mg_bucket) ---- */
/* the backlog a bucket holds at most: burst intervals; a burst of 0 counts
 * as 1 (a rate always admits something) */
RULES_INLINE __u64 mg_gcra_limit(__u64 interval, __u32 burst)
{
	return (__u64)(burst ? burst : 1) * interval;
}

/* Does a bucket at tat admit a SYN at now? Then *next (if not NULL) is its new tat. */
RULES_INLINE int mg_gcra_admits(__u64 tat, __u64 now, __u64 interval, __u32 burst, __u64 *next)
{
	__u64 t = tat > now ? tat : now;

	if (t + interval - now > mg_gcra_limit(interval, burst))
		return 0;
	if (next)
		*next = t + interval;
	return 1;
}

/* The per-source rate of a port class: syn_rate's CLASS:RATE item when it
 * has one, else its plain rate (the same for syn_burst). 0 = no limit. */
RULES_INLINE __u64 mg_syn_interval(const struct mg_config *c, __u32 class)
{
	if (class >= MG_CLASS_MAX || !(c->syn_rate_classes & (1u << class)))
		return c->syn_interval_ns;
	MG_RULES_BOUNDED(class);
	return c->syn_class_interval_ns[class < MG_CLASS_MAX ? class : 0];
}

RULES_INLINE __u32 mg_syn_burst(const struct mg_config *c, __u32 class)
{
	if (class >= MG_CLASS_MAX || !(c->syn_burst_classes & (1u << class)))
		return c->syn_burst;
	MG_RULES_BOUNDED(class);
	return c->syn_class_burst[class < MG_CLASS_MAX ? class : 0];
}

/* flood mode's shared budget: flood_budget_burst, 0 = a tenth of a second's
 * worth of flood_budget */
RULES_INLINE __u32 mg_flood_burst(const struct mg_config *c)
{
	__u64 b;

	if (c->flood_budget_burst || !c->flood_budget_interval_ns)
		return c->flood_budget_burst;
	b = (MG_RULES_NSEC / 10) / c->flood_budget_interval_ns;
	return b > 0xffffffffULL ? 0xffffffffu : (__u32)b;
}

/* ---- bans ---- */
/* Is a ban in force? An operator's ban (mg_ban: every origin but quota)
 * with expiry 0 never expires; a quota ban (mg_ban_quota) with expiry 0 is
 * none. */
RULES_INLINE int mg_ban_active(const struct mg_ban *b, int operator_ban, __u64 now)
{
	if (!b)
		return 0;
	if (operator_ban && b->expires_ns == 0)
		return 1;
	return b->expires_ns > now;
}

/* The level of a new quota ban: one more (at most 30) for a source whose
 * last quota ban (old, NULL = none remembered) ended less than
 * ban_time_max ago, else 0. */
RULES_INLINE __u32 mg_ban_level(const struct mg_config *c, const struct mg_ban *old, __u64 now)
{
	if (old && old->expires_ns && now < old->expires_ns + c->ban_time_max_ns)
		return old->level < 30 ? old->level + 1 : 30;
	return 0;
}

/* How long a quota ban of this level lasts: ban_time << level, at most
 * ban_time_max; a shift that overflows is "very long" (2^62 ns), then
 * capped the same way. */
RULES_INLINE __u64 mg_ban_duration(const struct mg_config *c, __u32 level)
{
	__u64 dur = c->ban_time_ns;

	if (level > 63 || (dur << level) >> level != dur)
		dur = ~0ULL >> 2;
	else
		dur <<= level;
	if (c->ban_time_max_ns && dur > c->ban_time_max_ns)
		dur = c->ban_time_max_ns;
	return dur;
}

/* ---- violation and handshake windows (MG_VIOL_*) ---- */
/* ban_window in whole seconds, as the packed windows count it */
RULES_INLINE __u32 mg_window_secs(const struct mg_config *c)
{
	return (__u32)(c->ban_window_ns / MG_RULES_NSEC);
}

/* the count a packed window holds at second sec; 0 once it is over */
RULES_INLINE __u32 mg_windowed(__u64 v, __u32 sec, __u32 win)
{
	if (!MG_VIOL_COUNT(v) || sec - MG_VIOL_WINDOW(v) >= (win ? win : 1))
		return 0;
	return MG_VIOL_COUNT(v);
}

/* the packed window after counting one at sec; *fresh when it begins a new window */
RULES_INLINE __u64 mg_window_next(__u64 v, __u32 sec, __u32 win, int *fresh)
{
	*fresh = !mg_windowed(v, sec, win);
	if (*fresh)
		return (__u64)sec << 32 | 1;
	return MG_VIOL_COUNT(v) == 0xffffffffu ? v : v + 1;
}

/* SYNs of s that passed its quotas since its handshake window began */
RULES_INLINE __u64 mg_src_passed(const struct mg_src *s, __u32 sec, __u32 win)
{
	__u64 passed = s->syns - s->drops;

	if (!mg_windowed(s->handshakes, sec, win))
		return 0;
	return passed > s->passed_base ? passed - s->passed_base : 0;
}

/* Has s shown that it sends its SYNs itself (bans need evidence, docs/
 * datapath.md)? ban_evidence handshakes in the window (0 acts as 1), and
 * one per MG_EVIDENCE_RATIO of the SYNs that passed. */
RULES_INLINE int mg_evidenced(const struct mg_config *c, const struct mg_src *s, __u32 sec, __u32 win)
{
	__u32 hs = mg_windowed(s->handshakes, sec, win);

	return hs && hs >= c->ban_evidence && (__u64)hs * MG_EVIDENCE_RATIO >= mg_src_passed(s, sec, win);
}

/* Does a drop for this reason count as a violation toward a ban? The rates
 * do; a source's own concurrency only with ban_concurrent; a full server
 * (total concurrency) never: the source did nothing wrong by connecting. */
RULES_INLINE int mg_violation_counts(const struct mg_config *c, __u32 reason)
{
	if (!c->ban_after)
		return 0;
	return reason == MG_REASON_DROP_RATE || reason == MG_REASON_DROP_PREFIX_RATE ||
	       (reason == MG_REASON_DROP_CONCURRENT && c->ban_concurrent);
}

/* ---- DNSBL verdicts ---- */
RULES_INLINE int mg_verdict_listed(const struct mg_verdict *v, __u64 now)
{
	return v && v->expires_ns > now && v->state == MG_VERDICT_LISTED;
}

RULES_INLINE int mg_verdict_allowed(const struct mg_verdict *v, __u64 now)
{
	return v && v->expires_ns > now && v->state == MG_VERDICT_ALLOWED;
}

/* no answer to go by: none, expired, or still pending (the SYN asks) */
RULES_INLINE int mg_verdict_missing(const struct mg_verdict *v, __u64 now)
{
	return !v || v->expires_ns <= now || v->state == MG_VERDICT_PENDING;
}

/* ---- concurrency ---- */
/* over a limit (0 = off): n open connections already */
RULES_INLINE int mg_at_limit(__u32 n, __u32 limit)
{
	return limit && n >= limit;
}

/* the DNSBL step's outcome for mg_judge() */
enum mg_dnsbl_fact {
	MG_DNSBL_CLEAN = 0, /* clean verdict (or the step is off) */
	MG_DNSBL_LISTED,    /* listed: refused */
	MG_DNSBL_ALLOWED,   /* DNSWL: passes, skips the quotas */
	MG_DNSBL_PENDING,   /* no verdict, a question is out */
	MG_DNSBL_UNASKED,   /* no verdict and nobody asked (daemon dead, or no event sent) */
};

#endif /* MAILGATE_RULES_H */

/* ---- the decision order ----
 * The includer defines MG_JUDGE_CTX (its context type) and these steps, each
 * a function-like macro of a context pointer x:
 *   mg_j_allowed(x)    allow list match
 *   mg_j_flooding(x)   flood mode is on (no side effects; asked twice, and the
 *                      data path reads the mode each time rather than carry a
 *                      flag the verifier would have to follow through every
 *                      later step: a SYN at the very moment of a switch may be
 *                      metered twice or not at all)
 *   mg_j_flood(x)      flood step: 0, MG_REASON_DROP_FLOOD or MG_REASON_DROP_COOKIE
 *                      (the data path's meter: it counts the SYN, and may switch
 *                      flood mode on and decide this SYN; at most once per SYN)
 *   mg_j_denied(x)     deny list match (not an exclusion)
 *   mg_j_banned(x)     a ban in force
 *   mg_j_listed(x)     a DNSBL "listed" verdict (no side effects)
 *   mg_j_dnsbl(x)      the DNSBL step: enum mg_dnsbl_fact (the data path asks here)
 *   mg_j_alive(x)      the daemon shows signs of life (it answers rejected SYNs)
 *   mg_j_rate(x), mg_j_prefix(x)       the buckets admit
 *   mg_j_concurrent(x), mg_j_total(x)  below max_concurrent, max_total_concurrent
 * and mg_judge(x, cfg) returns the reason of a gated pure SYN. */
#if defined(MG_JUDGE_CTX) && !defined(MAILGATE_RULES_JUDGE)
#define MAILGATE_RULES_JUDGE

/* A deny, ban or DNSBL match whose refusal is answered (cfg->reject) still
 * meets the quotas: over them it is dropped like any source, within them it
 * is a REJECT_* reason. Only while the daemon shows signs of life: with the
 * daemon dead (kill -9) a rejected SYN let through would reach the mail
 * server itself, so then it is dropped.
 * The flood step: in flood mode right after the allow list (for its cost:
 * see bpf/gate.bpf.c, flood mode); outside flood mode after the deny and
 * ban steps, so that a SYN they drop pays no meter (the detector counts the
 * rest; a SYN they refuse with a reject is counted: it goes on to the
 * quotas and the responder). Either way a SYN cookie is never answered to
 * a source the deny, ban or DNSBL step refuses. */
RULES_INLINE __u32 mg_judge(MG_JUDGE_CTX *x, const struct mg_config *cfg)
{
	__u32 rej = 0, flood, d = MG_DNSBL_CLEAN;

	if (mg_j_allowed(x))
		return MG_REASON_PASS_ALLOW;
	if (mg_j_flooding(x)) {
		flood = mg_j_flood(x);
		if (flood == MG_REASON_DROP_COOKIE) {
			if (mg_j_denied(x))
				return MG_REASON_DROP_DENY;
			if (mg_j_banned(x))
				return MG_REASON_DROP_BAN;
			if (cfg->dnsbl_enabled && mg_j_listed(x))
				return MG_REASON_DROP_DNSBL;
		}
		if (flood)
			return flood;
	}
	if (mg_j_denied(x)) {
		if (!(cfg->reject & MG_REJECT_DENY) || !mg_j_alive(x))
			return MG_REASON_DROP_DENY;
		rej = MG_REASON_REJECT_DENY;
	} else if (mg_j_banned(x)) {
		if (!(cfg->reject & MG_REJECT_BAN) || !mg_j_alive(x))
			return MG_REASON_DROP_BAN;
		rej = MG_REASON_REJECT_BAN;
	}
	if (!mg_j_flooding(x)) {
		flood = mg_j_flood(x);
		if (flood == MG_REASON_DROP_COOKIE) {
			if (rej)
				return rej == MG_REASON_REJECT_DENY ? MG_REASON_DROP_DENY : MG_REASON_DROP_BAN;
			if (cfg->dnsbl_enabled && mg_j_listed(x))
				return MG_REASON_DROP_DNSBL;
		}
		if (flood)
			return flood;
	}
	if (rej)
		goto quotas;
	if (cfg->dnsbl_enabled) {
		d = mg_j_dnsbl(x);
		if (d == MG_DNSBL_LISTED) {
			d = MG_DNSBL_CLEAN;
			if (!(cfg->reject & MG_REJECT_DNSBL) || !mg_j_alive(x))
				return MG_REASON_DROP_DNSBL;
			rej = MG_REASON_REJECT_DNSBL;
			goto quotas;
		}
		if (d == MG_DNSBL_ALLOWED)
			return MG_REASON_PASS_DNSWL;
		if (d == MG_DNSBL_PENDING && cfg->pending == MG_PENDING_HOLD)
			return MG_REASON_DROP_PENDING;
	}
quotas:
	if (!mg_j_rate(x))
		return MG_REASON_DROP_RATE;
	if (!mg_j_prefix(x))
		return MG_REASON_DROP_PREFIX_RATE;
	if (!mg_j_concurrent(x))
		return MG_REASON_DROP_CONCURRENT;
	if (!mg_j_total(x))
		return MG_REASON_DROP_TOTAL_CONCURRENT;
	if (rej)
		return rej;
	return d == MG_DNSBL_UNASKED ? MG_REASON_PASS_UNASKED :
	       d == MG_DNSBL_PENDING ? MG_REASON_PASS_PENDING : MG_REASON_PASS_OK;
}
#endif
