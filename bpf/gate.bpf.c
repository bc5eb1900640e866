// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* mailgate data path: judge every TCP SYN to a gated mail port (XDP), and
 * keep per-source concurrent connection counts from the kernel's own TCP
 * state changes (tp_btf/inet_sock_set_state). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "gate.h"
#define RULES_INLINE static __always_inline
#include "rules.h"
#include "parse.bpf.h"
#include "shared_maps.bpf.h"
#include "lists.bpf.h"
#include "cookie.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define AF_INET 2
#define AF_INET6 10
#define TCP_ESTABLISHED 1
#define TCP_SYN_RECV 3
#define TCP_CLOSE 7
#define NSEC_PER_SEC 1000000000ULL

/* ---- maps: sizes of the LRU maps are set at load by the controller ---- */
/* operator bans (CLI, config, fail2ban, CrowdSec): a plain hash, so that
 * nothing evicts them; only userspace writes it, and it refuses when full */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MG_MAX_BAN);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct mg_addr);
	__type(value, struct mg_ban);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mg_ban SEC(".maps");

/* bans from quota violations, with expiry and level; only evidenced sources
 * are written here (ban_source), so forged SYNs cannot churn it */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MG_DEFAULT_MAX_SOURCES / 4);
	__type(key, struct mg_addr);
	__type(value, struct mg_ban);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mg_ban_quota SEC(".maps");

/* DNSBL verdicts, written by the controller (pending entries by us) */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MG_DEFAULT_MAX_SOURCES);
	__type(key, struct mg_addr);
	__type(value, struct mg_verdict);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mg_verdict SEC(".maps");

/* DNSBL questions asked (pending until), apart from the answers: a flood
 * of forged sources churns this map, never mg_verdict */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MG_DEFAULT_MAX_SOURCES);
	__type(key, struct mg_addr);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mg_pending SEC(".maps");

/* per-source bucket and violations */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MG_DEFAULT_MAX_SOURCES);
	__type(key, struct mg_addr);
	__type(value, struct mg_src);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mg_src SEC(".maps");

/* per-prefix bucket */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MG_DEFAULT_MAX_SOURCES / 4);
	__type(key, struct mg_prefix_key);
	__type(value, struct mg_bucket);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mg_prefix SEC(".maps");

/* concurrent server-side connections per source */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MG_MAX_CONN);
	__type(key, struct mg_conn_key);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mg_conn SEC(".maps");

/* concurrent server-side connections per port class */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MG_CLASS_MAX);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mg_class_conn SEC(".maps");

/* sources that completed a handshake to a gated port */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MG_DEFAULT_MAX_SOURCES / 4);
	__type(key, struct mg_addr);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mg_verified SEC(".maps");

/* filter over mg_verified (include/gate.h, the verified filter) */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MG_VBITS_WORDS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mg_vbits SEC(".maps");

/* per-CPU flood state (include/gate.h, struct mg_flood_cpu): what every
 * gated SYN writes on the flood path; not pinned (a new program starts
 * with fresh windows) */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mg_flood_cpu);
} mg_flood_cpu SEC(".maps");

/* packet counters by reason and class */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MG_COUNTER_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mg_counters SEC(".maps");

/* events to the controller */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, MG_EVENTS_BYTES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mg_events SEC(".maps");

/* which sockets were counted in mg_conn */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct mg_sock);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mg_socks SEC(".maps");

/* refused SYNs passed for the responder: which connections sk_lookup steers */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MG_MAX_REJECT);
	__type(key, struct mg_reject_key);
	__type(value, struct mg_reject);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mg_reject SEC(".maps");

/* the sources the allow, deny, ban and DNSBL steps decided, SYNs by
 * reason, while `top` watches (note_stopped): a small LRU of its own, so
 * refused SYNs, forged ones too, recycle this map and nothing else */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MG_MAX_STOPPED);
	__type(key, struct mg_stopped_key);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mg_stopped SEC(".maps");

/* each CPU's budget of new sources for mg_stopped, and what it left out */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mg_stopped_cpu);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mg_stopped_cpu SEC(".maps");

/* the daemon's responder sockets, [0] IPv4 and [1] IPv6 (not pinned: they
 * go away with the daemon) */
struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} mg_responder SEC(".maps");

/* ---- helpers ---- */
static __always_inline __u64 now_ns(void)
{
	return bpf_ktime_get_boot_ns();
}

static __always_inline struct mg_ctl *ctl(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&mg_ctl, &zero);
}

/* The config in effect: the slot mg_ctl names (the controller never writes
 * it while it is in effect). */
static __always_inline struct mg_config *cur_config(void)
{
	struct mg_ctl *c = ctl();
	__u32 slot = c ? *(volatile __u32 *)&c->config_slot & 1 : 0;

	return bpf_map_lookup_elem(&mg_config, &slot);
}

static __always_inline void count(__u32 reason, __u32 class)
{
	__u32 idx = MG_COUNTER_IDX(reason, class);
	__u64 *c = bpf_map_lookup_elem(&mg_counters, &idx);

	if (c)
		*c += 1;
}

static __always_inline bool is_v4(const struct mg_addr *a)
{
	const __u32 *w = (const __u32 *)a->a;

	return w[0] == 0 && w[1] == 0 && w[2] == bpf_htonl(0xffff);
}

/* GCRA: admit iff the bucket has a token (include/rules.h, mg_gcra_admits).
 * Lock-free: a compare-and-swap that keeps losing to other CPUs drops, so
 * contention never over-admits. */
static __always_inline bool gcra(__u64 *tat, __u64 now, __u64 interval, __u32 burst)
{
	__u64 old = *(volatile __u64 *)tat, next, cur;

#pragma unroll
	for (int i = 0; i < 8; i++) {
		if (!mg_gcra_admits(old, now, interval, burst, &next))
			return false;
		cur = __sync_val_compare_and_swap(tat, old, next);
		if (cur == old)
			return true;
		old = cur;
	}
	return false;
}

/* ---- decision steps ---- */
/* A zeroed event of this kind from the ring buffer, under the global event
 * budget (DNSBL queries and bans share it); NULL when over the budget or the
 * ring buffer is full, counted in mg_global.events_lost. */
static __always_inline struct mg_event *event_reserve(const struct mg_config *cfg, __u32 kind,
						      __u32 class, const struct mg_addr *src, __u64 now)
{
	__u32 zero = 0;
	struct mg_global *g = bpf_map_lookup_elem(&mg_global, &zero);
	struct mg_event *e = NULL;

	if (!g)
		return NULL;
	if (!cfg->event_interval_ns || gcra(&g->event_tat_ns, now, cfg->event_interval_ns, cfg->event_burst))
		e = bpf_ringbuf_reserve(&mg_events, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&g->events_lost, 1);
		return NULL;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->class = class;
	e->ts_ns = now;
	e->addr = *src;
	return e;
}

/* Send a DNSBL query event under the global budget. */
static __always_inline bool send_query(const struct mg_config *cfg, const struct mg_addr *src,
				       __u32 class, __u64 now)
{
	struct mg_event *e = event_reserve(cfg, MG_EVENT_DNSBL_QUERY, class, src, now);

	if (!e)
		return false;
	bpf_ringbuf_submit(e, 0);
	return true;
}

/* Mark src pending for one pending period in mg_pending; true for the one
 * CPU that did (only it sends the query event). */
static __always_inline bool claim_query(const struct mg_config *cfg, const struct mg_addr *src, __u64 now)
{
	__u64 exp = now + cfg->pending_ns, old, *p;

	p = bpf_map_lookup_elem(&mg_pending, src);
	if (!p)
		return bpf_map_update_elem(&mg_pending, src, &exp, BPF_NOEXIST) == 0;
	old = *(volatile __u64 *)p;
	return old <= now && __sync_val_compare_and_swap(p, old, exp) == old;
}

/* Is src's question still open (asked within its pending period)? */
static __always_inline bool is_pending(const struct mg_addr *src, __u64 now)
{
	__u64 *p = bpf_map_lookup_elem(&mg_pending, src);

	return p && *p > now;
}

/* Does the daemon answer DNSBL questions (its heartbeat is fresh)? */
static __always_inline bool controller_alive(__u64 now)
{
	struct mg_ctl *c = ctl();

	return c && *(volatile __u64 *)&c->alive_until_ns > now;
}

/* Ban a source for ban_time << level, level rising for a source banned
 * again within ban_time_max of its last ban's end (include/rules.h). */
static __always_inline void ban_source(const struct mg_config *cfg, const struct mg_addr *src,
				       __u32 class, __u32 reason, __u64 now)
{
	struct mg_ban nb = { .created_ns = now, .origin = MG_ORIGIN_QUOTA };
	struct mg_ban *old = bpf_map_lookup_elem(&mg_ban_quota, src);
	struct mg_event *e;

	nb.level = mg_ban_level(cfg, old, now);
	nb.expires_ns = now + mg_ban_duration(cfg, nb.level);
	bpf_map_update_elem(&mg_ban_quota, src, &nb, BPF_ANY);

	e = event_reserve(cfg, MG_EVENT_BAN, class, src, now);
	if (e) {
		e->expires_ns = nb.expires_ns;
		e->level = nb.level;
		e->reason = reason;
		bpf_ringbuf_submit(e, 0);
	}
}

/* Per-source bucket of the port class: admits or not, and counts the SYN. */
static __always_inline bool source_bucket(const struct mg_config *cfg, const struct mg_addr *src,
					  __u32 class, __u64 now)
{
	struct mg_src *s = bpf_map_lookup_elem(&mg_src, src);
	__u64 interval = mg_syn_interval(cfg, class);
	bool ok = true;

	if (!s) {
		struct mg_src init = {};

		bpf_map_update_elem(&mg_src, src, &init, BPF_NOEXIST);
		s = bpf_map_lookup_elem(&mg_src, src);
		if (!s)
			return true; /* cannot track: fail open */
	}
	__sync_fetch_and_add(&s->syns, 1);
	s->last_ns = now;
	if (interval && class < MG_CLASS_MAX) {
		MG_RULES_BOUNDED(class);
		ok = gcra(&s->tat_ns[class < MG_CLASS_MAX ? class : 0], now, interval, mg_syn_burst(cfg, class));
	}
	return ok;
}

/* verified: src is in mg_verified (its own bucket of the prefix) */
static __always_inline bool prefix_bucket(const struct mg_config *cfg, const struct mg_addr *src,
					  bool verified, __u64 now)
{
	struct mg_prefix_key key = { .addr = *src, .verified = verified };
	struct mg_bucket *b;

	if (!cfg->prefix_interval_ns)
		return true;
	const __u32 *mask = is_v4(src) ? cfg->mask_v4 : cfg->mask_v6;
	__u32 *w = (__u32 *)key.addr.a;

	w[0] &= mask[0];
	w[1] &= mask[1];
	w[2] &= mask[2];
	w[3] &= mask[3];
	b = bpf_map_lookup_elem(&mg_prefix, &key);
	if (!b) {
		struct mg_bucket init = {};

		bpf_map_update_elem(&mg_prefix, &key, &init, BPF_NOEXIST);
		b = bpf_map_lookup_elem(&mg_prefix, &key);
		if (!b)
			return true;
	}
	return gcra(&b->tat_ns, now, cfg->prefix_interval_ns, cfg->prefix_burst);
}

/* ---- bans need evidence ----
 * A quota drop is a violation of the packet's source address, but anyone
 * can forge that. So a source is banned only when, in the current
 * ban_window, it has both ban_after violations and evidence that it sent
 * SYNs itself: the TCP state tracer saw it complete at least ban_evidence
 * handshakes, and at least 1 in MG_EVIDENCE_RATIO of the SYNs that passed
 * its quotas completed one (a forged SYN that passes gets a SYN-ACK that
 * the real owner of the address answers with a RST). Both counts are
 * checked whenever either rises: at a violation here, at a completion in
 * the tracer, so the order in which they arrive does not matter. The
 * window and evidence rules: include/rules.h. */

/* count one in a packed window (MG_VIOL_*); true when a new window began */
static __always_inline bool window_add(__u64 *word, __u32 sec, __u32 win)
{
	__u64 old = *(volatile __u64 *)word, next, cur;
	int fresh;

#pragma unroll
	for (int i = 0; i < 8; i++) {
		next = mg_window_next(old, sec, win, &fresh);
		cur = __sync_val_compare_and_swap(word, old, next);
		if (cur == old)
			return fresh;
		old = cur;
	}
	return false;
}

/* Ban src if it has ban_after violations and the evidence; the one CPU that
 * resets the violation count bans (the ban starts a fresh count). */
static __always_inline void maybe_ban(const struct mg_config *cfg, struct mg_src *s,
				      const struct mg_addr *src, __u32 class, __u64 now)
{
	__u32 sec = now / NSEC_PER_SEC, win = mg_window_secs(cfg);
	__u64 old = *(volatile __u64 *)&s->violations;

	if (!cfg->ban_after || mg_windowed(old, sec, win) < cfg->ban_after || !mg_evidenced(cfg, s, sec, win))
		return;
	if (__sync_val_compare_and_swap(&s->violations, old, 0) != old)
		return;
	ban_source(cfg, src, class, s->viol_reason, now);
}

/* Account a quota drop on the source; then ban it if it has earned it
 * (mg_violation_counts: which drops count toward a ban). */
static __always_inline void violation(const struct mg_config *cfg, const struct mg_addr *src,
				      __u32 class, __u32 reason, __u64 now)
{
	struct mg_src *s = bpf_map_lookup_elem(&mg_src, src);

	if (!s)
		return;
	__sync_fetch_and_add(&s->drops, 1);
	if (!mg_violation_counts(cfg, reason))
		return;
	s->viol_reason = reason;
	window_add(&s->violations, now / NSEC_PER_SEC, mg_window_secs(cfg));
	maybe_ban(cfg, s, src, class, now);
}

/* The tracer saw src complete a handshake to a gated port of this class. */
static __always_inline void handshake_done(const struct mg_config *cfg, const struct mg_addr *src,
					   __u32 class, __u64 now)
{
	struct mg_src *s = bpf_map_lookup_elem(&mg_src, src);
	__u64 passed;

	if (!s) /* no SYN of it was judged (allow list, DNSWL, forgotten): nothing to ban */
		return;
	if (window_add(&s->handshakes, now / NSEC_PER_SEC, mg_window_secs(cfg))) {
		passed = s->syns - s->drops;
		s->passed_base = passed ? passed - 1 : 0; /* this handshake's SYN passed in the window */
	}
	maybe_ban(cfg, s, src, class, now);
}

/* Has src completed a handshake to a gated port (or passed as DNSWL)? The
 * filter first: for a spoofed source one bit answers. */
static __always_inline bool is_verified(const struct mg_addr *src)
{
	__u32 bit = mg_vbit(src), idx = bit / 64;
	__u64 *w = bpf_map_lookup_elem(&mg_vbits, &idx);

	if (w && !(*w & (1ULL << (bit % 64))))
		return false;
	return bpf_map_lookup_elem(&mg_verified, src) != NULL;
}

static __always_inline void mark_verified(const struct mg_addr *src, __u64 now)
{
	__u32 bit = mg_vbit(src), idx = bit / 64;
	__u64 *w = bpf_map_lookup_elem(&mg_vbits, &idx);

	bpf_map_update_elem(&mg_verified, src, &now, BPF_ANY);
	if (w)
		__sync_fetch_and_or(w, 1ULL << (bit % 64));
}

/* ---- flood mode (docs/datapath.md, "Flood mode") ----
 * A spoofed flood brings a new source with every SYN, so per-source quotas
 * never trigger. The rate of gated SYNs past the allow list (all sources
 * together; outside flood mode only those the deny and ban steps do not
 * drop) is counted in 100 ms windows; above cfg.flood_interval_ns flood
 * mode switches on. Then sources that never completed a handshake share one
 * GCRA budget and the rest of them are dropped (drop_flood), or are answered
 * with SYN cookies; verified sources (mg_verified, which only the TCP state
 * tracking and DNSWL verdicts fill, so a spoofed flood cannot churn it; asked
 * through the mg_vbits filter) go on to the normal steps and quotas.
 *
 * Where in judge(): in flood mode right after the allow list (flood_on),
 * else after the deny and ban steps, so that outside flood mode a SYN they
 * drop pays no meter (its call, clock read and per-CPU count: most of a
 * denied SYN's cost otherwise). In flood mode an unverified SYN over the
 * budget is dropped whatever a later step would say, so the later lookups
 * are skipped for it: no mg_ban or mg_verdict lookup per spoofed SYN (each
 * a cache miss in a large hash table; skipping them about doubled the
 * rate the gate absorbed in the lab), no pending mg_verdict entry and no
 * DNSBL event spent on it, and nothing inserted into mg_src or mg_prefix,
 * so neither is churned. The
 * price: in flood mode an unverified deny-listed or banned source over the
 * budget is counted as drop_flood, and deny-listed or banned SYNs count
 * toward the flood rate (they keep it on; outside flood mode the ones the
 * deny and ban steps drop are not counted, a flood of them does not switch
 * it on: the deny step drops it at its own cost).
 *
 * Per CPU: every SYN writes only its own CPU's struct mg_flood_cpu (the
 * window's counts, the budget tokens in hand); mg_global is read by every
 * SYN and written by one CPU per window (the one that closes it and sums
 * the CPUs' counts), at a switch, and once per batch of budget tokens. A
 * CPU whose own count passes the threshold switches flood mode on at once;
 * a flood spread over CPUs is seen when its window closes.
 *
 * Flood mode is decided on SYNs only (no timer, no cost on other packets):
 * it switches off at the first gated SYN once the rate has stayed below
 * half the threshold for cfg.flood_hold_ns. Each switch emits one
 * MG_EVENT_FLOOD. */
static __always_inline void flood_switch(struct mg_global *g, __u32 from, __u32 to, __u32 why,
					 __u32 trouble, __u64 now)
{
	struct mg_event *e;

	if (__sync_val_compare_and_swap(&g->flood_mode, from, to) != from)
		return; /* another CPU did it */
	g->flood_changed_ns = now;
	if (to) {
		__sync_fetch_and_add(&g->flood_entries, 1);
		g->flood_why = why;
		g->flood_kernel = trouble;
	}
	e = bpf_ringbuf_reserve(&mg_events, sizeof(*e), 0);
	if (e) {
		__builtin_memset(e, 0, sizeof(*e));
		e->kind = MG_EVENT_FLOOD;
		e->ts_ns = now;
		e->level = to;
		e->reason = to ? why : 0;
		e->class = to ? trouble : 0;
		bpf_ringbuf_submit(e, 0);
	}
}

/* How long since then, for two clock readings that may come from different
 * CPUs: one whose reading is a little older than what another CPU just
 * stored gets a negative difference, not a huge unsigned one, so "not yet"
 * (never "long ago"). */
static __always_inline __s64 since(__u64 now, __u64 then)
{
	return (__s64)(now - then);
}

/* The kernel's SYN trouble the daemon last reported (mg_ctl), while it holds */
static __always_inline __u32 kernel_trouble(__u64 now)
{
	struct mg_ctl *c = ctl();
	__u64 at;

	if (!c)
		return 0;
	at = *(volatile __u64 *)&c->trouble_ns;
	if (!at || since(now, at) >= (__s64)MG_TROUBLE_NS)
		return 0;
	return *(volatile __u32 *)&c->trouble;
}

/* This CPU's flood state, its counts moved on to the current window */
static __always_inline struct mg_flood_cpu *flood_cpu(const struct mg_global *g)
{
	__u32 zero = 0;
	struct mg_flood_cpu *c = bpf_map_lookup_elem(&mg_flood_cpu, &zero);
	__u64 win = *(volatile const __u64 *)&g->flood_win_ns;

	if (c && c->win_ns != win) {
		c->win_ns = win;
		c->syns = 0;
		c->done = 0;
	}
	return c;
}

/* The closed window's counts, all CPUs together */
struct flood_sum {
	__u64 start, syns, done, seen;
};

static long flood_sum_cpu(__u32 cpu, void *ctx)
{
	struct flood_sum *s = ctx;
	__u32 zero = 0;
	struct mg_flood_cpu *c = bpf_map_lookup_percpu_elem(&mg_flood_cpu, &zero, cpu);

	if (!c)
		return 1; /* past the last CPU */
	if (c->win_ns == s->start) {
		s->syns += c->syns;
		s->done += c->done;
	}
	if (since(c->seen_ns, s->seen) > 0)
		s->seen = c->seen_ns;
	return 0;
}

/* Close the window once it is over; the CPU that closes it sums the CPUs'
 * counts (a CPU that counts into the window while it is being summed may
 * lose that SYN: a few in a window) and decides whether flood mode goes on
 * or ends. A window with fewer SYNs than half the threshold's share is calm
 * from its start; a busier one is calm only from its last SYN on, if a
 * whole window of silence has followed (that is how a flood that stopped,
 * or pauses between bursts, is told apart from a steady one). */
static __always_inline void flood_window(const struct mg_config *cfg, struct mg_global *g, __u64 now)
{
	__u64 start = g->flood_win_ns, n, hold, floor;
	struct flood_sum s = {};
	__u32 bad, trouble;
	bool collapsed;

	if (since(now, start) < (__s64)MG_FLOOD_WINDOW_NS)
		return;
	if (__sync_val_compare_and_swap(&g->flood_win_ns, start, now) != start)
		return;
	s.start = start;
	s.seen = start;
	bpf_loop(MG_MAX_CPUS, flood_sum_cpu, &s, 0);
	n = s.syns;
	g->flood_win_syns = n;
	g->flood_win_done = s.done;
	trouble = kernel_trouble(now);
	collapsed = s.done * MG_FLOOD_ADAPT_RATIO < n;
	if (!g->flood_mode) {
		if (n * cfg->flood_interval_ns > MG_FLOOD_WINDOW_NS) { /* spread over CPUs */
			g->flood_bad = 0;
			g->flood_calm_ns = 0;
			flood_switch(g, 0, 1, MG_FLOOD_WHY_THRESHOLD, trouble, now);
			return;
		}
		/* adaptive detection: many SYNs, few of them complete a handshake;
		 * with the kernel reporting SYN trouble, fewer SYNs are enough */
		bad = collapsed && (n >= MG_FLOOD_ADAPT_SYNS || (trouble && n >= MG_FLOOD_KERNEL_SYNS)) ?
		      g->flood_bad + 1 : 0;
		g->flood_bad = bad;
		if (bad >= MG_FLOOD_BAD_WINDOWS) {
			g->flood_bad = 0;
			g->flood_calm_ns = 0;
			flood_switch(g, 0, 1, n >= MG_FLOOD_ADAPT_SYNS ? MG_FLOOD_WHY_HANDSHAKES : MG_FLOOD_WHY_KERNEL,
				     trouble, now);
			return;
		}
	}
	/* calm: below half the threshold, and too few SYNs for the handshake
	 * evidence (the kernel's lower bar while it switched flood mode on:
	 * with the gate answering the flood, the kernel sees none of it) */
	floor = g->flood_why == MG_FLOOD_WHY_KERNEL || trouble ? MG_FLOOD_KERNEL_SYNS : MG_FLOOD_ADAPT_SYNS;
	if (n * cfg->flood_interval_ns * 2 < MG_FLOOD_WINDOW_NS && n < floor) {
		if (!g->flood_calm_ns)
			g->flood_calm_ns = start ? start : now;
	} else {
		g->flood_calm_ns = since(now, s.seen) >= (__s64)MG_FLOOD_WINDOW_NS ? s.seen : 0;
	}
	hold = cfg->flood_hold_ns ? cfg->flood_hold_ns : MG_FLOOD_HOLD_NS;
	if (g->flood_mode && g->flood_calm_ns && since(now, g->flood_calm_ns) >= (__s64)hold)
		flood_switch(g, 1, 0, 0, 0, now);
}

/* Count this SYN on this CPU; true while flood mode is on. */
static __always_inline bool flood_meter(const struct mg_config *cfg, struct mg_global *g,
					struct mg_flood_cpu **cpu, __u64 now)
{
	struct mg_flood_cpu *c;

	if (!cfg->flood_interval_ns) {
		if (g->flood_mode)
			flood_switch(g, 1, 0, 0, 0, now);
		return false;
	}
	flood_window(cfg, g, now);
	c = flood_cpu(g);
	if (!c)
		return g->flood_mode;
	*cpu = c;
	c->syns++;
	c->seen_ns = now;
	if (g->flood_mode)
		return true;
	if (c->syns * cfg->flood_interval_ns <= MG_FLOOD_WINDOW_NS)
		return false;
	g->flood_calm_ns = 0; /* this CPU alone is over the threshold */
	flood_switch(g, 0, 1, MG_FLOOD_WHY_THRESHOLD, kernel_trouble(now), now);
	return true;
}

/* A token of the budget unverified sources share in flood mode, from this
 * CPU's batch; an empty batch takes up to MG_FLOOD_BATCH tokens from the
 * bucket in mg_global with one compare-and-swap (a bucket without tokens is
 * only read). Tokens in hand expire after a window. The bucket's own bound
 * holds for the tokens taken; the tokens in hand add at most CPUs x batch
 * to any interval (docs/datapath.md). */
static __always_inline bool flood_budget(const struct mg_config *cfg, struct mg_global *g,
					 struct mg_flood_cpu *c, __u64 now)
{
	__u64 interval = cfg->flood_budget_interval_ns, old, t, cur, limit;
	__u32 burst = mg_flood_burst(cfg), k;

	if (!burst)
		burst = 1;
	if (!c)
		return gcra(&g->flood_budget_tat_ns, now, interval, burst);
	if (c->tokens && since(now, c->tokens_ns) < (__s64)MG_FLOOD_WINDOW_NS) {
		c->tokens--;
		return true;
	}
	c->tokens = 0;
	k = burst < MG_FLOOD_BATCH ? burst : MG_FLOOD_BATCH;
	limit = (__u64)burst * interval;
	old = *(volatile __u64 *)&g->flood_budget_tat_ns;
#pragma unroll
	for (int i = 0; i < 4; i++) {
		t = old > now ? old : now;
		/* as many as the bucket has, up to k */
		if (t + interval - now > limit)
			return false;
		if (t + (__u64)k * interval - now > limit)
			k = (limit + now - t) / interval;
		cur = __sync_val_compare_and_swap(&g->flood_budget_tat_ns, old, t + (__u64)k * interval);
		if (cur == old) {
			c->tokens = k - 1;
			c->tokens_ns = now;
			return true;
		}
		old = cur;
	}
	return false;
}

/* The flood step of judge(): 0 to go on, else the SYN's reason. In flood
 * mode an unverified SYN that can carry a cookie (cookie_ok: see
 * cookie_fits) is answered with one when flood_action = cookie and the keys
 * are there; the rest share the budget. */
static __always_inline __u32 flood_step(const struct mg_config *cfg, const struct mg_addr *src,
					bool cookie_ok, __u64 now)
{
	__u32 zero = 0;
	struct mg_global *g = bpf_map_lookup_elem(&mg_global, &zero);
	struct mg_flood_cpu *c = NULL;
	struct mg_cookie_keys *keys;

	if (!g || !flood_meter(cfg, g, &c, now))
		return 0;
	if (is_verified(src))
		return 0;
	if (cookie_ok && cfg->flood_action == MG_FLOOD_COOKIE) {
		keys = bpf_map_lookup_elem(&mg_cookie, &zero);
		if (keys && keys->ready)
			return MG_REASON_DROP_COOKIE;
	}
	if (!cfg->flood_budget_interval_ns)
		return MG_REASON_DROP_FLOOD;
	return flood_budget(cfg, g, c, now) ? 0 : MG_REASON_DROP_FLOOD;
}

/* An operator's ban (mg_ban) or a quota ban in force (mg_ban_active) */
static __always_inline bool banned(const struct mg_addr *src, __u64 now)
{
	if (mg_ban_active(bpf_map_lookup_elem(&mg_ban, src), 1, now))
		return true;
	return mg_ban_active(bpf_map_lookup_elem(&mg_ban_quota, src), 0, now);
}

/* ---- judge(): the decision order of include/rules.h (mg_judge), its
 * steps reading and updating the maps as the order reaches them ---- */
struct judge_ctx {
	const struct mg_config *cfg;
	const struct mg_addr *src;
	__u32 class;
	bool cookie_ok;
	__u64 *clk; /* the decision's clock, read on first need (clock_now) */
};

/* The DNSBL step: the verdict; with none, ask (once per pending period).
 * Nobody to ask, or the question cannot be sent: it passes on (fail open).
 * Global functions (this one and the buckets below): the verifier checks
 * each once, not once per path of judge() that reaches it. */
__noinline int gate_dnsbl(const struct mg_config *cfg, const struct mg_addr *src, __u32 class, __u64 now)
{
	struct mg_verdict *v;

	if (!cfg || !src)
		return MG_DNSBL_CLEAN;
	v = bpf_map_lookup_elem(&mg_verdict, src);
	if (mg_verdict_listed(v, now))
		return MG_DNSBL_LISTED;
	if (mg_verdict_allowed(v, now)) {
		if (!is_verified(src)) /* DNSWL counts as verified in flood mode */
			mark_verified(src, now);
		return MG_DNSBL_ALLOWED;
	}
	if (!mg_verdict_missing(v, now))
		return MG_DNSBL_CLEAN;
	if (!controller_alive(now))
		return MG_DNSBL_UNASKED;
	if (claim_query(cfg, src, now)) {
		if (send_query(cfg, src, class, now))
			return MG_DNSBL_PENDING;
		bpf_map_delete_elem(&mg_pending, src); /* the next SYN retries */
		return MG_DNSBL_UNASKED;
	}
	/* asked by another SYN; not pending: lost a race to a CPU that just failed */
	return is_pending(src, now) ? MG_DNSBL_PENDING : MG_DNSBL_UNASKED;
}

/* the per-source bucket of the class admits (and counts) the SYN */
__noinline int gate_rate(const struct mg_config *cfg, const struct mg_addr *src, __u32 class, __u64 now)
{
	if (!cfg || !src)
		return 1;
	return source_bucket(cfg, src, class, now);
}

/* the bucket of the source's prefix (its verified or unverified one) admits the SYN */
__noinline int gate_prefix(const struct mg_config *cfg, const struct mg_addr *src, __u64 now)
{
	if (!cfg || !src || !cfg->prefix_interval_ns)
		return 1;
	return prefix_bucket(cfg, src, is_verified(src), now);
}

/* the flood step (flood mode, above): a global function too, its stack apart from judge()'s */
__noinline int gate_flood(const struct mg_config *cfg, const struct mg_addr *src, int cookie_ok, __u64 now)
{
	if (!cfg || !src)
		return 0;
	return flood_step(cfg, src, cookie_ok, now);
}

/* mg_global's flood mode, as it is now (one load) */
static __always_inline bool flood_mode_on(void)
{
	__u32 zero = 0;
	struct mg_global *g = bpf_map_lookup_elem(&mg_global, &zero);

	return g && *(volatile __u32 *)&g->flood_mode;
}

/* Flood detection off and flood mode off: the flood step has nothing to do
 * (gate_flood would return 0), so judge() skips its call and its clock read. */
static __always_inline bool flood_idle(const struct mg_config *cfg)
{
	return !cfg->flood_interval_ns && !flood_mode_on();
}

/* Flood mode on (and detection on: with it off the step only switches the
 * mode off): the flood step comes first, right after the allow list; else
 * after the deny and ban steps (include/rules.h mg_judge). One load of
 * mg_global, no clock read. Flood mode may switch on between this read and
 * the step: the step then decides in flood mode, only later. */
static __always_inline bool flood_on(const struct mg_config *cfg)
{
	return cfg->flood_interval_ns && flood_mode_on();
}

/* below the source's max_concurrent of the class */
static __always_inline bool conn_below(const struct judge_ctx *x)
{
	struct mg_conn_key ck = { .addr = *x->src, .class = x->class };
	__u32 class = x->class, max, *n;

	if (class >= MG_CLASS_MAX)
		return true;
	MG_RULES_BOUNDED(class);
	max = x->cfg->max_concurrent[class < MG_CLASS_MAX ? class : 0];
	if (!max)
		return true;
	n = bpf_map_lookup_elem(&mg_conn, &ck);
	return !n || !mg_at_limit(*n, max);
}

/* below max_total_concurrent of the class */
static __always_inline bool total_below(const struct judge_ctx *x)
{
	__u32 class = x->class, *n;

	if (!x->cfg->max_total_concurrent)
		return true;
	n = bpf_map_lookup_elem(&mg_class_conn, &class);
	return !n || !mg_at_limit(*n, x->cfg->max_total_concurrent);
}

#define MG_JUDGE_CTX const struct judge_ctx
#define jnow(x) clock_now((x)->clk)
#define mg_j_allowed(x)    list_allowed((x)->src, (x)->clk)
#define mg_j_flooding(x)   flood_on((x)->cfg)
#define mg_j_flood(x)      (flood_idle((x)->cfg) ? 0 : gate_flood((x)->cfg, (x)->src, (x)->cookie_ok, jnow(x)))
#define mg_j_denied(x)     list_denied((x)->src, (x)->clk) /* the longest active match; an exclusion is none */
#define mg_j_banned(x)     banned((x)->src, jnow(x))
#define mg_j_listed(x)     mg_verdict_listed(bpf_map_lookup_elem(&mg_verdict, (x)->src), jnow(x))
#define mg_j_dnsbl(x)      gate_dnsbl((x)->cfg, (x)->src, (x)->class, jnow(x))
#define mg_j_alive(x)      controller_alive(jnow(x))
#define mg_j_rate(x)       gate_rate((x)->cfg, (x)->src, (x)->class, jnow(x))
#define mg_j_prefix(x)     gate_prefix((x)->cfg, (x)->src, jnow(x))
#define mg_j_concurrent(x) conn_below(x)
#define mg_j_total(x)      total_below(x)
#include "rules.h"

/* The decision for a gated pure SYN from src (first match wins) */
static __always_inline __u32 judge(const struct mg_config *cfg, const struct mg_addr *src,
				   __u32 class, bool cookie_ok, __u64 *clk)
{
	const struct judge_ctx x = { .cfg = cfg, .src = src, .class = class, .cookie_ok = cookie_ok, .clk = clk };

	return mg_judge(&x, cfg);
}

static __always_inline bool is_reject(__u32 reason)
{
	return reason == MG_REASON_REJECT_DENY || reason == MG_REASON_REJECT_BAN ||
	       reason == MG_REASON_REJECT_DNSBL;
}

/* While `top` watches (mg_ctl.top_until_ns), count this SYN of a source
 * the allow, deny, ban or DNSBL step decided in mg_stopped; otherwise one
 * load of mg_ctl is all it costs (the first SYN after top stopped also
 * reads the clock and clears top_until_ns). A source already there costs a
 * lookup and an add; a new one an insert, which evicts the oldest entry
 * once the map is full (about 1 us), so each CPU inserts at most
 * MG_STOPPED_NEW_PER_S a second and counts the SYNs it leaves out: a flood
 * of distinct refused sources costs a lookup per SYN beyond that. */
static __always_inline void note_stopped(const struct mg_addr *src, __u32 reason, __u64 *clk)
{
	struct mg_ctl *c = ctl();
	struct mg_stopped_key k;
	struct mg_stopped_cpu *b;
	__u64 one = 1, *n, until, now;
	__u32 zero = 0;

	until = c ? *(volatile __u64 *)&c->top_until_ns : 0;
	if (!until) /* nobody watches: no clock read */
		return;
	now = clock_now(clk);
	if (until <= now) {
		/* top is gone: 0 again (unless it just moved it), so that the
		 * next SYNs read no clock here; anyone's SYN may do it, it only
		 * clears a time that has passed */
		__sync_val_compare_and_swap(&c->top_until_ns, until, 0);
		return;
	}
	k = (struct mg_stopped_key){ .addr = *src, .reason = reason };
	n = bpf_map_lookup_elem(&mg_stopped, &k);
	if (n) {
		__sync_fetch_and_add(n, 1);
		return;
	}
	b = bpf_map_lookup_elem(&mg_stopped_cpu, &zero);
	if (!b)
		return;
	if (now - b->win_ns >= NSEC_PER_SEC) {
		b->win_ns = now;
		b->new_in_win = 0;
	}
	if (b->new_in_win >= MG_STOPPED_NEW_PER_S) {
		b->not_kept++;
		return;
	}
	b->new_in_win++;
	if (!bpf_map_update_elem(&mg_stopped, &k, &one, BPF_NOEXIST))
		return;
	n = bpf_map_lookup_elem(&mg_stopped, &k); /* another CPU inserted it first */
	if (n)
		__sync_fetch_and_add(n, 1);
}

/* Decide on a gated pure SYN from src under cfg (the config in effect, read
 * once by mg_xdp), account for it (violations, ban, counter) and return the
 * reason. A global function: the verifier checks it once, not once per
 * header layout the parser can leave behind. The clock is read only when a
 * step needs it (clock_now): a deny or allow entry without TTL asks none. */
__noinline int gate_decide(const struct mg_config *cfg, const struct mg_addr *src, __u32 class, bool cookie_ok)
{
	__u64 clk = 0;
	__u32 reason;

	if (!src || !cfg || class >= MG_CLASS_MAX)
		return MG_REASON_PASS_OK;
	reason = judge(cfg, src, class, cookie_ok, &clk);
	if (MG_REASON_STOPPED(reason))
		note_stopped(src, reason, &clk);

	/* quota violations of this source; a full server (total concurrency)
	 * is not the source's doing and does not count toward its ban */
	if (reason == MG_REASON_DROP_RATE || reason == MG_REASON_DROP_PREFIX_RATE ||
	    reason == MG_REASON_DROP_CONCURRENT)
		violation(cfg, src, class, reason, clock_now(&clk));
	count(reason, class);
	return reason;
}

/* ---- RST reply ---- */
static __always_inline __u16 csum_fold(__u64 s)
{
#pragma unroll
	for (int i = 0; i < 4; i++)
		s = (s & 0xffff) + (s >> 16);
	return ~s;
}

struct pseudo6 {
	struct in6_addr saddr;
	struct in6_addr daddr;
	__be32 len;
	__u8 zero[3];
	__u8 nexthdr;
};

struct pseudo4 {
	__be32 saddr;
	__be32 daddr;
	__u8 zero;
	__u8 proto;
	__be16 len;
};

/* Turn the SYN in place into a RST+ACK back to the sender. Only for headers
 * without IPv4 options, IPv6 extension headers (fragment headers among
 * them) or IPv4 fragmentation; false means "just drop". */
static __always_inline bool make_rst(struct xdp_md *ctx, struct ethhdr *eth, struct iphdr *ip,
				     struct ipv6hdr *ip6, struct tcphdr *tcp, __u32 seg_len)
{
	__u8 mac[ETH_ALEN];
	__u32 payload;
	__u64 sum;
	int shrink;
	__u16 tmp;

	if (seg_len < tcp->doff * 4)
		return false;
	payload = seg_len - tcp->doff * 4;
	if (ip && (ip->ihl != 5 || (ip->frag_off & bpf_htons(IP_MF | IP_OFFSET))))
		return false; /* options, or a fragment: its length is not the segment's */
	if (ip6 && ip6->nexthdr != IPPROTO_TCP)
		return false;

	__builtin_memcpy(mac, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, mac, ETH_ALEN);

	tmp = tcp->source;
	tcp->source = tcp->dest;
	tcp->dest = tmp;
	tcp->ack_seq = bpf_htonl(bpf_ntohl(tcp->seq) + 1 + payload);
	tcp->seq = 0;
	/* doff = 5, flags = RST|ACK */
	((__u8 *)tcp)[12] = 5 << 4;
	((__u8 *)tcp)[13] = 0x14;
	tcp->window = 0;
	tcp->urg_ptr = 0;
	tcp->check = 0;

	if (ip) {
		struct pseudo4 ph = {};
		__be32 a = ip->saddr;

		ip->saddr = ip->daddr;
		ip->daddr = a;
		ip->tot_len = bpf_htons(sizeof(*ip) + sizeof(*tcp));
		ip->ttl = 64;
		ip->id = 0;
		ip->frag_off = bpf_htons(0x4000); /* DF */
		ip->check = 0;
		ip->check = csum_fold(bpf_csum_diff(NULL, 0, (__be32 *)ip, sizeof(*ip), 0));
		ph.saddr = ip->saddr;
		ph.daddr = ip->daddr;
		ph.proto = IPPROTO_TCP;
		ph.len = bpf_htons(sizeof(*tcp));
		sum = bpf_csum_diff(NULL, 0, (__be32 *)&ph, sizeof(ph), 0);
	} else if (ip6) {
		struct pseudo6 ph = {};
		struct in6_addr a = ip6->saddr;

		ip6->saddr = ip6->daddr;
		ip6->daddr = a;
		ip6->payload_len = bpf_htons(sizeof(*tcp));
		ip6->hop_limit = 64;
		ph.saddr = ip6->saddr;
		ph.daddr = ip6->daddr;
		ph.len = bpf_htonl(sizeof(*tcp));
		ph.nexthdr = IPPROTO_TCP;
		sum = bpf_csum_diff(NULL, 0, (__be32 *)&ph, sizeof(ph), 0);
	} else {
		return false;
	}
	tcp->check = csum_fold(bpf_csum_diff(NULL, 0, (__be32 *)tcp, sizeof(*tcp), sum));

	shrink = (void *)(long)ctx->data_end - (void *)(tcp + 1);
	if (shrink > 0 && bpf_xdp_adjust_tail(ctx, -shrink))
		return false;
	return true;
}

#define MG_COOKIE_XDP
#include "cookie.bpf.h"

/* action = reset: may this drop be answered with a RST? Not a held SYN
 * (DNSBL pending: the client must retransmit it, not give up on a RST), and
 * in flood mode not a SYN of an unverified source, whatever the reason
 * (drop_flood, or a quota after the budget): its address is likely forged,
 * and a RST to it is backscatter at flood rate. */
static __always_inline bool may_reset(__u32 reason, const struct mg_addr *src)
{
	__u32 zero = 0;
	struct mg_global *g;

	if (reason == MG_REASON_DROP_PENDING || reason == MG_REASON_DROP_FLOOD ||
	    reason == MG_REASON_DROP_COOKIE)
		return false;
	g = bpf_map_lookup_elem(&mg_global, &zero);
	return !g || !g->flood_mode || is_verified(src);
}

/* ---- the XDP program ---- */
SEC("xdp")
int mg_xdp(struct xdp_md *ctx)
{
	struct cursor c = { .pos = (void *)(long)ctx->data, .end = (void *)(long)ctx->data_end };
	struct ethhdr *eth = NULL;
	struct iphdr *ip = NULL;
	struct ipv6hdr *ip6 = NULL;
	struct tcphdr *tcp = NULL;
	struct mg_config *cfg;
	struct mg_addr src;
	__u32 port, reason;
	__u8 *classp, class;
	int proto;

	proto = parse_eth(&c, &eth);
	if (proto == ETH_P_IP)
		proto = parse_ipv4(&c, &ip, &src);
	else if (proto == ETH_P_IPV6)
		proto = parse_ipv6(ctx, &c, &ip6, &src);
	else if (proto >= 0)
		proto = PARSE_OTHER;

	if (proto == IPPROTO_TCP)
		proto = parse_tcp(&c, &tcp);
	else if (proto >= 0)
		proto = PARSE_OTHER;

	if (proto == PARSE_MALFORMED) {
		count(MG_REASON_PASS_MALFORMED, MG_CLASS_NONE);
		return XDP_PASS;
	}
	if (proto == PARSE_FRAGMENT) {
		count(MG_REASON_PASS_FRAGMENT, MG_CLASS_NONE);
		return XDP_PASS;
	}
	if (proto == PARSE_UNPARSED) {
		/* it could be a SYN to a gated port: what it is, the walk did not reach */
		cfg = cur_config();
		if (cfg && cfg->unparsed == MG_UNPARSED_PASS) {
			count(MG_REASON_PASS_UNPARSED, MG_CLASS_NONE);
			return XDP_PASS;
		}
		count(MG_REASON_DROP_UNPARSED, MG_CLASS_NONE);
		return cfg && cfg->mode == MG_MODE_OBSERVE ? XDP_PASS : XDP_DROP;
	}
	/* only a pure SYN opens a connection: SYN with ACK, RST or FIN is not
	 * judged (a listener discards SYN|RST and SYN|FIN anyway) */
	if (proto != PARSE_OK || !tcp || !tcp->syn || tcp->ack || tcp->rst || tcp->fin) {
		count(MG_REASON_PASS_OTHER, MG_CLASS_NONE);
		return XDP_PASS;
	}

	port = bpf_ntohs(tcp->dest);
	classp = bpf_map_lookup_elem(&mg_ports, &port);
	class = classp ? *classp : 0;
	if (class == MG_CLASS_NONE || class >= MG_CLASS_MAX) {
		count(MG_REASON_PASS_NOT_GATED, MG_CLASS_NONE);
		return XDP_PASS;
	}

	cfg = cur_config();
	reason = gate_decide(cfg, &src, class, cookie_fits(eth, ip, ip6, tcp));
	if (!cfg || !MG_REASON_DROPS(reason) || cfg->mode == MG_MODE_OBSERVE)
		return XDP_PASS;
	if (is_reject(reason)) { /* for the responder: mark this connection, let it pass */
		struct mg_reject_key k = { .addr = src, .sport = bpf_ntohs(tcp->source), .dport = port };
		struct mg_reject r = { .ts_ns = now_ns(), .reason = reason, .class = class };

		bpf_map_update_elem(&mg_reject, &k, &r, BPF_ANY);
		return XDP_PASS;
	}
	asm volatile("" : "+r"(eth)); /* a fresh check of eth, for the verifier */
	if (!eth)
		return XDP_DROP;
	if (reason == MG_REASON_DROP_COOKIE) /* gate_decide saw cookie_fits() */
		return cookie_answer(ctx, (void *)(ip ? (void *)ip : (void *)ip6) - (void *)eth, !ip) ?
		       XDP_TX : XDP_DROP;
	if (cfg->action == MG_ACTION_RESET && may_reset(reason, &src) &&
	    make_rst(ctx, eth, ip, ip6, tcp, c.l4_len))
		return XDP_TX;
	return XDP_DROP;
}

/* ---- concurrent connections from TCP state changes ---- */
static __always_inline void conn_add(const struct mg_addr *a, __u32 class)
{
	struct mg_conn_key k = { .addr = *a, .class = class };
	__u32 one = 1, *n;

	n = bpf_map_lookup_elem(&mg_conn, &k);
	if (n)
		__sync_fetch_and_add(n, 1);
	else if (bpf_map_update_elem(&mg_conn, &k, &one, BPF_NOEXIST)) {
		n = bpf_map_lookup_elem(&mg_conn, &k);
		if (n)
			__sync_fetch_and_add(n, 1);
	}
	n = bpf_map_lookup_elem(&mg_class_conn, &class);
	if (n)
		__sync_fetch_and_add(n, 1);
}

/* decrement, never below zero; retried until it lands (a lost decrement
 * would leak a count: the loop bound only keeps the verifier content) */
static __always_inline void dec_floor(__u32 *n)
{
	__u32 old = *(volatile __u32 *)n, cur;

	for (int i = 0; i < 1024 && old; i++) {
		cur = __sync_val_compare_and_swap(n, old, old - 1);
		if (cur == old)
			break;
		old = cur;
	}
}

static __always_inline void conn_del(const struct mg_addr *a, __u32 class)
{
	struct mg_conn_key k = { .addr = *a, .class = class };
	__u32 *n = bpf_map_lookup_elem(&mg_conn, &k);

	if (n)
		dec_floor(n);
	n = bpf_map_lookup_elem(&mg_class_conn, &class);
	if (n)
		dec_floor(n);
}

/* One TCP state change. Two identical programs run it (below): a tracing
 * program already running on a CPU is skipped when the tracepoint fires
 * again there (a softirq interrupting it: the program's recursion_misses),
 * which would lose a count or, worse, a decrement. The other program is
 * never the one interrupted at the same time, so every transition is seen
 * at least once; the socket's mark makes the second sight a no-op (both
 * run one after the other for a socket, under its lock). */
static __always_inline int sock_state(struct sock *s, int oldstate, int newstate)
{
	struct mg_config *cfg;
	struct mg_sock *st;

	if (s->sk_protocol != IPPROTO_TCP)
		return 0;

	if (newstate == TCP_CLOSE) {
		st = bpf_sk_storage_get(&mg_socks, s, 0, 0);
		if (st && __sync_lock_test_and_set(&st->counted, 0))
			conn_del(&st->addr, st->class);
		return 0;
	}
	if (oldstate != TCP_SYN_RECV || newstate != TCP_ESTABLISHED)
		return 0;

	cfg = cur_config();
	if (!cfg || s->__sk_common.skc_net.net->ns.inum != cfg->netns_ino)
		return 0;

	__u32 port = s->__sk_common.skc_num;
	__u8 *classp = bpf_map_lookup_elem(&mg_ports, &port);
	if (!classp || *classp == MG_CLASS_NONE || *classp >= MG_CLASS_MAX)
		return 0;

	st = bpf_sk_storage_get(&mg_socks, s, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!st || st->counted)
		return 0;
	__builtin_memset(&st->addr, 0, sizeof(st->addr));
	if (s->__sk_common.skc_family == AF_INET) {
		st->addr.a[10] = 0xff;
		st->addr.a[11] = 0xff;
		__builtin_memcpy(&st->addr.a[12], &s->__sk_common.skc_daddr, 4);
	} else {
		__builtin_memcpy(st->addr.a, &s->__sk_common.skc_v6_daddr, 16);
	}
	st->class = *classp;
	if (__sync_val_compare_and_swap(&st->counted, 0, 1) != 0)
		return 0;
	conn_add(&st->addr, st->class);
	{
		__u32 gk = 0;
		struct mg_global *g = bpf_map_lookup_elem(&mg_global, &gk);
		struct mg_flood_cpu *fc = g ? flood_cpu(g) : NULL;

		if (fc) /* the handshake evidence of flood mode's adaptive detection */
			__sync_fetch_and_add(&fc->done, 1);
	}

	__u64 now = now_ns();

	mark_verified(&st->addr, now);
	handshake_done(cfg, &st->addr, st->class, now);
	return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(mg_sock_state, const struct sock *sk, const int oldstate, const int newstate)
{
	return sock_state((struct sock *)sk, oldstate, newstate);
}

/* the twin: see sock_state() */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(mg_sock_state2, const struct sock *sk, const int oldstate, const int newstate)
{
	return sock_state((struct sock *)sk, oldstate, newstate);
}

/* ---- the responder: sk_lookup on the gated namespace ----
 * A connection whose SYN the XDP program marked as rejected goes to the
 * daemon's responder socket instead of the server's listener: the kernel
 * completes the handshake there (so a forged source never gets further than
 * a SYN-ACK), the daemon writes one line with the reason and closes. */
SEC("sk_lookup")
int mg_sk_lookup(struct bpf_sk_lookup *ctx)
{
	struct mg_reject_key k = {};
	struct mg_reject *r;
	struct bpf_sock *sk;
	__u32 idx = 0;

	if (ctx->protocol != IPPROTO_TCP)
		return SK_PASS;
	/* each context field read on its own (the verifier refuses a load
	 * through a ctx pointer the compiler moved) */
	if (ctx->family == AF_INET) {
		__u32 ip = ctx->remote_ip4;

		k.addr.a[10] = 0xff;
		k.addr.a[11] = 0xff;
		__builtin_memcpy(&k.addr.a[12], &ip, 4);
	} else if (ctx->family == AF_INET6) {
		__u32 w0 = ctx->remote_ip6[0], w1 = ctx->remote_ip6[1];
		__u32 w2 = ctx->remote_ip6[2], w3 = ctx->remote_ip6[3];

		__builtin_memcpy(&k.addr.a[0], &w0, 4);
		__builtin_memcpy(&k.addr.a[4], &w1, 4);
		__builtin_memcpy(&k.addr.a[8], &w2, 4);
		__builtin_memcpy(&k.addr.a[12], &w3, 4);
		idx = 1;
	} else {
		return SK_PASS;
	}
	k.sport = bpf_ntohs(ctx->remote_port);
	k.dport = ctx->local_port;
	r = bpf_map_lookup_elem(&mg_reject, &k);
	if (!r || now_ns() - r->ts_ns > MG_REJECT_MARK_NS)
		return SK_PASS;
	sk = bpf_map_lookup_elem(&mg_responder, &idx);
	if (!sk)
		return SK_PASS; /* no responder: the server's listener gets it */
	bpf_sk_assign(ctx, sk, 0);
	bpf_sk_release(sk);
	return SK_PASS;
}
