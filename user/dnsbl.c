// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The DNSBL lookup thread: sources submitted by the daemon's event loop are
 * looked up in every usable zone with c-ares, scored, and the verdict is
 * written into the data path's verdict map (and the per-zone cache). Zones
 * are self-tested (RFC 5782) at start and periodically; failing zones are
 * backed off; everything that goes wrong fails open. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <bpf/bpf.h>
#include "dnsbl.h"
#include "prom.h"

#define INC(x)     __atomic_fetch_add(&(x), 1, __ATOMIC_RELAXED)
#define ADD(x, v)  __atomic_fetch_add(&(x), (v), __ATOMIC_RELAXED)
#define LOAD(x)    __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define STORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)

#define LOG_INTERVAL_NS (60 * NSEC_PER_SEC) /* bad answers: once per zone per minute */

/* histogram buckets, seconds */
#define N_BUCKETS 14
static const double bucket_le[N_BUCKETS] = {
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};

struct hist {
	uint64_t b[N_BUCKETS + 1]; /* not cumulative; the last is +Inf */
	uint64_t sum_ns;
	uint64_t count;
};

struct dnsbl;
struct lookup;

/* the context of one c-ares query */
struct query {
	struct dnsbl *d;
	struct lookup *lk; /* NULL for self-test queries */
	int zone;
	int point;         /* self-test point */
	uint64_t sent_ns;
};

struct zone_state {
	char name[DNSBL_ZONE_LEN + 1];
	/* RFC 5782 self-test */
	bool tested, ok4, ok6, suspended;
	uint8_t fail4, fail6;       /* consecutive failing rounds */
	uint64_t next_selftest_ns;
	int st_pending;
	bool st_starting, st_cancelled;
	struct dnsbl_answer st_ans[ST_POINTS];
	struct query st_q[ST_POINTS];
	/* failures and back-off */
	uint32_t fails;
	uint64_t backoff_until_ns;
	/* counters (the metrics thread reads them) */
	uint64_t results[DR_MAX];
	uint64_t skipped;           /* not asked: backed off */
	uint64_t selftests[2][2];   /* [ipv6][pass] */
	struct hist qhist;
};

/* one source being looked up */
struct lookup {
	struct dnsbl *d;
	struct mg_addr addr;
	uint64_t ts_ns;
	int outstanding;
	bool starting, cancelled;
	bool shorten;               /* a zone failed or was backed off: keep the verdict short */
	bool asked[DNSBL_MAX_ZONES];
	struct dnsbl_answer ans[DNSBL_MAX_ZONES];
	struct query q[DNSBL_MAX_ZONES];
};

struct sub {
	struct mg_addr addr;
	uint64_t ts_ns;
};

struct dnsbl {
	/* owned by the thread (set up before it starts) */
	struct dnsbl_sites sites;
	struct dnsbl_params params;
	char resolvers[sizeof(((struct mg_settings *)0)->dnsbl_resolvers)];
	uint64_t timeout_ns;
	uint32_t max_inflight;
	struct dnsbl_tuning tune;
	int verdict_fd;
	struct dnsbl_cache cache;
	ares_channel ch;
	bool ready;                 /* every zone self-tested once */
	uint32_t inflight;          /* source queries */
	uint32_t inflight_peak;
	int n_zones;
	struct zone_state zones[DNSBL_MAX_ZONES];

	pthread_t thread;
	bool thread_started;
	int efd;
	bool stop;

	/* lock: the submission queue, a pending reload, the zone table
	 * against the metrics writer, the latency samples */
	pthread_mutex_t lock;
	struct sub *queue;
	uint32_t qcap, qhead, qlen;
	struct mg_settings *reload;

	uint64_t submitted, dropped, fresh, verdicts[4], lookups_done, selftest_rounds;
	struct hist vhist;          /* event to verdict */
	uint64_t lat[DNSBL_LAT_SAMPLES];
	uint32_t lat_n, lat_pos;
};

void dnsbl_default_tuning(struct dnsbl_tuning *t)
{
	t->selftest_interval_ns = 300 * NSEC_PER_SEC;
	t->selftest_retry_ns = 30 * NSEC_PER_SEC;
	t->backoff_after = 3;
	t->backoff_base_ns = 5 * NSEC_PER_SEC;
	t->backoff_max_ns = 300 * NSEC_PER_SEC;
	t->queue_len = 16384;
}

static void hist_add(struct hist *h, uint64_t ns)
{
	double s = (double)ns / 1e9;
	int i = 0;

	while (i < N_BUCKETS && s > bucket_le[i])
		i++;
	INC(h->b[i]);
	ADD(h->sum_ns, ns);
	INC(h->count);
}

static void wake(struct dnsbl *d)
{
	uint64_t one = 1;

	if (write(d->efd, &one, sizeof(one)) < 0) {
		/* the counter is saturated: the thread is awake anyway */
	}
}

/* ---- zones, self-test ---- */

/* bad answers and failures: once per zone per minute */
static void zone_log(struct zone_state *z, const char *what, const char *detail)
{
	char key[80];

	snprintf(key, sizeof(key), "dnsbl_zone:%s", z->name);
	log_ratelimited(key, LOG_INTERVAL_NS, LOG_LVL_WARN,
			"msg=\"DNSBL zone %s; it counts as 0 (fail-open)\" zone=%s detail=\"%s\"", what,
			z->name, detail);
}

static void update_ready(struct dnsbl *d)
{
	bool ready = true;

	for (int i = 0; i < d->n_zones; i++)
		ready &= d->zones[i].tested;
	d->ready = ready;
}

static void selftest_done(struct dnsbl *d, struct zone_state *z, uint64_t now)
{
	char why4[160] = "pass", why6[160] = "pass";
	bool p4 = dnsbl_selftest_family(&z->st_ans[ST_V4_LISTED], &z->st_ans[ST_V4_UNLISTED],
					why4, sizeof(why4));
	bool p6 = dnsbl_selftest_family(&z->st_ans[ST_V6_LISTED], &z->st_ans[ST_V6_UNLISTED],
					why6, sizeof(why6));
	bool ok4, ok6, susp, was_tested = z->tested;

	INC(z->selftests[0][p4]);
	INC(z->selftests[1][p6]);
	z->fail4 = p4 ? 0 : (z->fail4 < 255 ? z->fail4 + 1 : 255);
	z->fail6 = p6 ? 0 : (z->fail6 < 255 ? z->fail6 + 1 : 255);
	/* a family that passed before is given up after two failed rounds
	 * in a row, so that one lost packet does not switch it off */
	ok4 = p4 || (was_tested && z->ok4 && z->fail4 < 2);
	ok6 = p6 || (was_tested && z->ok6 && z->fail6 < 2);
	susp = !ok4 && !ok6;

	if (susp && (!was_tested || !z->suspended))
		pr_err("msg=\"DNSBL zone SUSPENDED: it failed the RFC 5782 self-test for IPv4 and IPv6 "
		       "(dead, hijacked or listing everything); nobody is judged by it until it passes again\" "
		       "zone=%s ipv4=\"%s\" ipv6=\"%s\"", z->name, why4, why6);
	else if (!susp && was_tested && z->suspended)
		pr_warn("msg=\"DNSBL zone resumed: passed the RFC 5782 self-test\" zone=%s ipv4=\"%s\" ipv6=\"%s\"",
			z->name, ok4 ? "on" : why4, ok6 ? "on" : why6);
	else if (!susp && (!was_tested || ok4 != z->ok4 || ok6 != z->ok6))
		pr_info("msg=\"DNSBL zone in use\" zone=%s ipv4=\"%s\" ipv6=\"%s\"", z->name,
			ok4 ? "on" : why4, ok6 ? "on" : why6);

	z->ok4 = ok4;
	z->ok6 = ok6;
	z->suspended = susp;
	z->tested = true;
	z->next_selftest_ns = now + (susp || (ok4 && !p4) || (ok6 && !p6) ? d->tune.selftest_retry_ns
									  : d->tune.selftest_interval_ns);
	INC(d->selftest_rounds);
	update_ready(d);
}

static void on_selftest(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct query *q = arg;
	struct dnsbl *d = q->d;
	struct zone_state *z = &d->zones[q->zone];

	z->st_pending--;
	if (status == ARES_ECANCELLED || status == ARES_EDESTRUCTION) {
		z->st_cancelled = true;
		return;
	}
	dnsbl_answer_parse(status, abuf, alen, &z->st_ans[q->point]);
	if (z->st_pending == 0 && !z->st_starting && !z->st_cancelled)
		selftest_done(d, z, now_boot_ns());
}

static void selftest_start(struct dnsbl *d, int zi, uint64_t now)
{
	struct zone_state *z = &d->zones[zi];
	char qname[DNSBL_QNAME_LEN];

	z->st_starting = true;
	z->st_cancelled = false;
	for (int p = 0; p < ST_POINTS; p++) {
		z->st_q[p] = (struct query){ .d = d, .zone = zi, .point = p, .sent_ns = now };
		if (dnsbl_qname(&dnsbl_test_points[p], p >= ST_V6_LISTED, z->name, qname, sizeof(qname)))
			continue;
		z->st_pending++;
		ares_query(d->ch, qname, 1 /* IN */, 1 /* A */, on_selftest, &z->st_q[p]);
	}
	z->st_starting = false;
	if (z->st_pending == 0 && !z->st_cancelled)
		selftest_done(d, z, now);
}

/* start the self-tests that are due; returns ns until the next one */
static uint64_t selftests_due(struct dnsbl *d, uint64_t now)
{
	uint64_t next = UINT64_MAX;

	for (int i = 0; i < d->n_zones; i++) {
		struct zone_state *z = &d->zones[i];

		if (z->st_pending)
			continue;
		if (now >= z->next_selftest_ns)
			selftest_start(d, i, now);
		if (!z->st_pending && z->next_selftest_ns > now && z->next_selftest_ns - now < next)
			next = z->next_selftest_ns - now;
	}
	return next;
}

/* ---- source lookups ---- */

static void zone_failed(struct dnsbl *d, struct zone_state *z, const struct dnsbl_answer *ans, enum dnsbl_result r, uint64_t now)
{
	char detail[160];

	if (r == DR_REFUSAL_CODE || r == DR_GARBAGE) {
		if (ans->bad)
			snprintf(detail, sizeof(detail), "%s: answer %u.%u.%u.%u", dnsbl_result_names[r],
				 ans->bad >> 24, (ans->bad >> 16) & 255, (ans->bad >> 8) & 255,
				 ans->bad & 255);
		else if (ans->n > 0)
			snprintf(detail, sizeof(detail), "%s: %d A records", dnsbl_result_names[r], ans->n);
		else
			snprintf(detail, sizeof(detail), "%s: %s", dnsbl_result_names[r],
				 ares_strerror(ans->ares_status));
		zone_log(z, r == DR_REFUSAL_CODE ? "answered with a refusal code (query refused, "
			 "public resolver or over limit)" : "gave an unusable answer", detail);
	} else {
		snprintf(detail, sizeof(detail), "%s", dnsbl_result_names[r]);
		zone_log(z, "did not answer", detail);
	}
	if (now < z->backoff_until_ns)
		return; /* already backing off: queries sent before it count once */
	z->fails++;
	if (z->fails >= d->tune.backoff_after) {
		uint32_t level = z->fails - d->tune.backoff_after;
		uint64_t dur = d->tune.backoff_max_ns;

		if (level < 32 && (d->tune.backoff_base_ns << level) >> level == d->tune.backoff_base_ns)
			dur = d->tune.backoff_base_ns << level;
		if (dur > d->tune.backoff_max_ns)
			dur = d->tune.backoff_max_ns;
		z->backoff_until_ns = now + dur;
		pr_warn("msg=\"DNSBL zone keeps failing: backing off\" zone=%s failures=%u backoff_s=%.1f",
			z->name, z->fails, (double)dur / 1e9);
	}
}

static void lat_record(struct dnsbl *d, uint64_t ns)
{
	hist_add(&d->vhist, ns);
	pthread_mutex_lock(&d->lock);
	d->lat[d->lat_pos] = ns;
	d->lat_pos = (d->lat_pos + 1) % DNSBL_LAT_SAMPLES;
	if (d->lat_n < DNSBL_LAT_SAMPLES)
		d->lat_n++;
	pthread_mutex_unlock(&d->lock);
}

static void finish_lookup(struct dnsbl *d, struct lookup *lk)
{
	uint64_t now = now_boot_ns(), ttl = d->params.ttl_max_ns;
	struct mg_verdict v = {};
	bool any = false;
	int score = 0;

	if (lk->cancelled) {
		free(lk);
		return;
	}
	for (int z = 0; z < d->n_zones; z++) {
		struct dnsbl_cache_val cv = {};
		uint64_t t;
		int sc;

		if (!lk->asked[z])
			continue;
		cv.result = dnsbl_zone_score(&d->sites, z, &lk->ans[z], &sc, NULL);
		t = dnsbl_answer_ttl_ns(&d->params, &lk->ans[z]);
		score += sc;
		if (t < ttl)
			ttl = t;
		any = true;
		cv.expires_ns = now + t;
		cv.listed = cv.result == DR_LISTED;
		cv.weight = sc;
		cv.n_answers = lk->ans[z].n < 4 ? lk->ans[z].n : 4;
		memcpy(cv.answers, lk->ans[z].a, cv.n_answers * sizeof(uint32_t));
		dnsbl_cache_put(&d->cache, &lk->addr, d->zones[z].name, &cv);
	}
	if (lk->shorten || !any)
		ttl = d->params.ttl_min_ns;
	v.score = score;
	v.state = dnsbl_verdict_state(&d->params, score);
	v.expires_ns = now + ttl;
	if (d->verdict_fd >= 0 && bpf_map_update_elem(d->verdict_fd, &lk->addr, &v, BPF_ANY)) {
		char a[MG_ADDRSTRLEN];

		pr_warn("msg=\"cannot write DNSBL verdict\" addr=%s err=\"%s\"",
			format_addr(&lk->addr, a, sizeof(a)), strerror(errno));
	}
	if (v.state == MG_VERDICT_LISTED && log_level >= LOG_LVL_DEBUG) {
		char a[MG_ADDRSTRLEN];

		pr_debug("msg=\"DNSBL listed\" addr=%s score=%d", format_addr(&lk->addr, a, sizeof(a)), score);
	}
	lat_record(d, now_boot_ns() - lk->ts_ns);
	INC(d->verdicts[v.state]);
	INC(d->lookups_done);
	free(lk);
}

static void on_answer(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct query *q = arg;
	struct lookup *lk = q->lk;
	struct dnsbl *d = q->d;
	struct zone_state *z = &d->zones[q->zone];

	d->inflight--;
	lk->outstanding--;
	if (status == ARES_ECANCELLED || status == ARES_EDESTRUCTION) {
		lk->cancelled = true;
	} else {
		uint64_t now = now_boot_ns();
		enum dnsbl_result r;
		int sc;

		dnsbl_answer_parse(status, abuf, alen, &lk->ans[q->zone]);
		hist_add(&z->qhist, now - q->sent_ns);
		r = dnsbl_zone_score(&d->sites, q->zone, &lk->ans[q->zone], &sc, NULL);
		INC(z->results[r]);
		if (dnsbl_result_is_error(r)) {
			zone_failed(d, z, &lk->ans[q->zone], r, now);
			lk->shorten = true;
		} else if (now >= z->backoff_until_ns) {
			z->fails = 0;
		}
	}
	if (lk->outstanding == 0 && !lk->starting)
		finish_lookup(d, lk);
}

static void start_lookup(struct dnsbl *d, const struct sub *s)
{
	uint64_t now = now_boot_ns();
	bool v4 = addr_is_v4(&s->addr);
	char qname[DNSBL_QNAME_LEN];
	struct mg_verdict cur;
	struct lookup *lk;

	/* a duplicate event for a source that already has a fresh verdict */
	if (d->verdict_fd >= 0 && !bpf_map_lookup_elem(d->verdict_fd, &s->addr, &cur) &&
	    cur.state != MG_VERDICT_PENDING && cur.expires_ns > now) {
		INC(d->fresh);
		return;
	}
	lk = calloc(1, sizeof(*lk));
	if (!lk)
		return; /* the pending entry expires; the next SYN asks again */
	lk->d = d;
	lk->addr = s->addr;
	lk->ts_ns = s->ts_ns;
	lk->starting = true;
	for (int i = 0; i < d->n_zones; i++) {
		struct zone_state *z = &d->zones[i];

		if (z->suspended || !z->tested || !(v4 ? z->ok4 : z->ok6))
			continue;
		if (now < z->backoff_until_ns) {
			INC(z->skipped);
			lk->shorten = true;
			continue;
		}
		if (dnsbl_qname(&s->addr, !v4, z->name, qname, sizeof(qname)))
			continue;
		lk->asked[i] = true;
		lk->q[i] = (struct query){ .d = d, .lk = lk, .zone = i, .sent_ns = now };
		lk->outstanding++;
		if (++d->inflight > LOAD(d->inflight_peak))
			STORE(d->inflight_peak, d->inflight);
		ares_query(d->ch, qname, 1 /* IN */, 1 /* A */, on_answer, &lk->q[i]);
	}
	lk->starting = false;
	if (lk->outstanding == 0)
		finish_lookup(d, lk);
}

static bool queue_pop(struct dnsbl *d, struct sub *s)
{
	bool ok = false;

	pthread_mutex_lock(&d->lock);
	if (d->qlen) {
		*s = d->queue[d->qhead];
		d->qhead = (d->qhead + 1) % d->qcap;
		d->qlen--;
		ok = true;
	}
	pthread_mutex_unlock(&d->lock);
	return ok;
}

static void drain_queue(struct dnsbl *d)
{
	struct sub s;

	while (d->inflight == 0 || d->inflight + d->n_zones <= d->max_inflight) {
		if (!queue_pop(d, &s))
			break;
		start_lookup(d, &s);
	}
}

/* ---- configuration ---- */

/* Take over s: sites, parameters, a new channel when the resolvers or the
 * timeout changed. Zones that stay keep their state and counters. Every
 * query in flight must have been cancelled. */
static int apply_settings(struct dnsbl *d, const struct mg_settings *s, char *err, size_t errlen)
{
	struct dnsbl_sites *ns = malloc(sizeof(*ns));
	struct zone_state *old = malloc(sizeof(d->zones));
	uint64_t timeout = s->dnsbl_timeout_ns ? s->dnsbl_timeout_ns : 2 * NSEC_PER_SEC;
	const char *res = s->dnsbl_resolvers[0] ? s->dnsbl_resolvers : "system";
	int n_old = d->n_zones, r = -ENOMEM;

	if (!ns || !old)
		goto out;
	r = dnsbl_settings_check(s, NULL, err, errlen);
	if (r)
		goto out;
	r = dnsbl_sites_parse(s->dnsbl_sites, ns, err, errlen);
	if (r)
		goto out;
	if (!d->ch || strcmp(res, d->resolvers) || timeout != d->timeout_ns) {
		ares_channel ch;

		r = dnsbl_channel_new(&ch, res, timeout, err, errlen);
		if (r)
			goto out;
		if (d->ch)
			ares_destroy(d->ch);
		d->ch = ch;
		snprintf(d->resolvers, sizeof(d->resolvers), "%s", res);
		d->timeout_ns = timeout;
	}
	memcpy(old, d->zones, sizeof(d->zones));
	pthread_mutex_lock(&d->lock);
	d->sites = *ns;
	dnsbl_params_from(s, &d->params);
	d->max_inflight = s->dnsbl_max_inflight ? s->dnsbl_max_inflight : 512;
	memset(d->zones, 0, sizeof(d->zones));
	for (int i = 0; i < ns->n_zones; i++) {
		struct zone_state *z = &d->zones[i];

		for (int j = 0; j < n_old; j++) {
			if (strcmp(old[j].name, ns->zone[i]))
				continue;
			*z = old[j];
			z->st_pending = 0;
			z->next_selftest_ns = 0; /* test again now */
			break;
		}
		snprintf(z->name, sizeof(z->name), "%s", ns->zone[i]);
	}
	d->n_zones = ns->n_zones;
	pthread_mutex_unlock(&d->lock);
	update_ready(d);
	if (d->cache.zones_fd >= 0)
		dnsbl_cache_set_zones(&d->cache, ns);
	r = 0;
out:
	free(ns);
	free(old);
	return r;
}

static void take_reload(struct dnsbl *d)
{
	struct mg_settings *s;
	char err[256];

	pthread_mutex_lock(&d->lock);
	s = d->reload;
	d->reload = NULL;
	pthread_mutex_unlock(&d->lock);
	if (!s)
		return;
	ares_cancel(d->ch); /* lookups in flight are dropped: their sources ask again */
	if (apply_settings(d, s, err, sizeof(err)))
		pr_err("msg=\"DNSBL reload failed; the old settings stay\" err=\"%s\"", err);
	else
		pr_info("msg=\"DNSBL settings reloaded\" zones=%d", d->n_zones);
	free(s);
}

static void *thread_main(void *arg)
{
	struct dnsbl *d = arg;
	int err;

	/* it parses what resolvers send: no capability at all (the maps it
	 * writes are open already) */
	err = caps_limit(0);
	if (err)
		pr_warn("msg=\"DNSBL: cannot drop capabilities\" err=\"%s\"", strerror(-err));

	while (!LOAD(d->stop)) {
		uint64_t now = now_boot_ns(), next;
		int ms;

		take_reload(d);
		next = selftests_due(d, now);
		if (d->ready)
			drain_queue(d);
		ms = next >= 1000 * 1000000ull ? 1000 : (int)(next / 1000000) + 1;
		if (dnsbl_channel_poll(d->ch, d->efd, ms)) {
			uint64_t v;

			if (read(d->efd, &v, sizeof(v)) < 0) {
				/* EAGAIN: nothing to drain */
			}
		}
	}
	ares_cancel(d->ch);
	return NULL;
}

/* ---- the interface in mailgate.h ---- */

struct dnsbl *dnsbl_start_tuned(const struct mg_settings *s, struct gate *g,
				const struct dnsbl_tuning *t)
{
	struct dnsbl *d = calloc(1, sizeof(*d));
	char err[256];
	int r;

	if (!d)
		return NULL;
	pthread_mutex_init(&d->lock, NULL);
	d->efd = -1;
	d->verdict_fd = g ? g->fd[GM_VERDICT] : -1;
	d->cache.cache_fd = d->cache.zones_fd = -1;
	if (t)
		d->tune = *t;
	else
		dnsbl_default_tuning(&d->tune);
	if (!d->tune.queue_len)
		d->tune.queue_len = 16384;
	d->qcap = d->tune.queue_len;
	d->queue = calloc(d->qcap, sizeof(*d->queue));
	d->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (!d->queue || d->efd < 0) {
		pr_err("msg=\"DNSBL: cannot allocate\" err=\"%s\"", strerror(errno));
		goto fail;
	}
	if (g) {
		r = dnsbl_cache_open(&d->cache, g->pin_dir, true);
		if (r)
			pr_warn("msg=\"DNSBL: no per-zone cache for lookup\" dir=%s err=\"%s\"", g->pin_dir,
				strerror(-r));
	}
	if (apply_settings(d, s, err, sizeof(err))) {
		pr_err("msg=\"DNSBL: bad [dnsbl] settings\" err=\"%s\"", err);
		goto fail;
	}
	r = pthread_create(&d->thread, NULL, thread_main, d);
	if (r) {
		pr_err("msg=\"DNSBL: cannot start the thread\" err=\"%s\"", strerror(r));
		goto fail;
	}
	d->thread_started = true;
	pr_info("msg=\"DNSBL started\" zones=%d sites=%d resolvers=\"%s\" threshold=%d",
		d->n_zones, d->sites.n_sites, d->resolvers, d->params.threshold);
	return d;
fail:
	dnsbl_stop(d);
	return NULL;
}

struct dnsbl *dnsbl_start(const struct mg_settings *s, struct gate *g)
{
	return dnsbl_start_tuned(s, g, NULL);
}

void dnsbl_submit_ts(struct dnsbl *d, const struct mg_addr *a, uint64_t event_ts_ns)
{
	bool ok = false;

	if (!d)
		return;
	pthread_mutex_lock(&d->lock);
	if (d->qlen < d->qcap) {
		d->queue[(d->qhead + d->qlen) % d->qcap] = (struct sub){ *a, event_ts_ns };
		d->qlen++;
		ok = true;
	}
	pthread_mutex_unlock(&d->lock);
	if (!ok) {
		INC(d->dropped);
		return;
	}
	INC(d->submitted);
	wake(d);
}

void dnsbl_submit(struct dnsbl *d, const struct mg_addr *a)
{
	dnsbl_submit_ts(d, a, now_boot_ns());
}

int dnsbl_reload(struct dnsbl *d, const struct mg_settings *s)
{
	struct mg_settings *copy;
	char err[256];

	if (!d)
		return 0;
	if (dnsbl_settings_check(s, NULL, err, sizeof(err))) {
		pr_err("msg=\"DNSBL reload refused\" err=\"%s\"", err);
		return -EINVAL;
	}
	copy = malloc(sizeof(*copy));
	if (!copy)
		return -ENOMEM;
	*copy = *s;
	pthread_mutex_lock(&d->lock);
	free(d->reload);
	d->reload = copy;
	pthread_mutex_unlock(&d->lock);
	wake(d);
	return 0;
}

void dnsbl_stop(struct dnsbl *d)
{
	if (!d)
		return;
	if (d->thread_started) {
		STORE(d->stop, true);
		wake(d);
		pthread_join(d->thread, NULL);
	}
	if (d->ch)
		ares_destroy(d->ch);
	dnsbl_cache_close(&d->cache);
	if (d->efd >= 0)
		close(d->efd);
	free(d->queue);
	free(d->reload);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

void dnsbl_stats_get(struct dnsbl *d, struct dnsbl_stats *st)
{
	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&d->lock);
	st->submitted = LOAD(d->submitted);
	st->dropped = LOAD(d->dropped);
	for (int i = 0; i < 4; i++)
		st->verdicts[i] = LOAD(d->verdicts[i]);
	st->lookups_done = LOAD(d->lookups_done);
	st->fresh = LOAD(d->fresh);
	st->inflight_peak = LOAD(d->inflight_peak);
	st->selftests_done = LOAD(d->selftest_rounds);
	st->ready = d->ready;
	st->n_zones = d->n_zones;
	for (int z = 0; z < d->n_zones; z++) {
		for (int r = 0; r < DR_MAX; r++)
			st->results[r] += LOAD(d->zones[z].results[r]);
		st->suspended[z] = d->zones[z].suspended;
		st->ok4[z] = d->zones[z].ok4;
		st->ok6[z] = d->zones[z].ok6;
	}
	st->n_lat = d->lat_n;
	for (uint32_t i = 0; i < d->lat_n; i++)
		st->lat[i] = d->lat[(d->lat_pos + DNSBL_LAT_SAMPLES - d->lat_n + i) % DNSBL_LAT_SAMPLES];
	pthread_mutex_unlock(&d->lock);
}

/* ---- Prometheus ---- */

static void hist_write(FILE *f, const char *name, const char *labels, const struct hist *h)
{
	uint64_t counts[N_BUCKETS + 1];

	for (int i = 0; i <= N_BUCKETS; i++)
		counts[i] = LOAD(h->b[i]);
	metrics_histogram(f, name, labels, bucket_le, counts, N_BUCKETS, (double)LOAD(h->sum_ns) / 1e9);
}

#define HELP(name, type, text) metrics_family(f, name, type, text)

void dnsbl_metrics_write(struct dnsbl *d, FILE *f)
{
	char lbl[DNSBL_ZONE_LEN + 16];

	if (!d)
		return;
	pthread_mutex_lock(&d->lock);
	HELP("mailgate_dnsbl_queries_total", "counter",
	     "DNSBL queries for sources by zone and result (self-tests not included).");
	for (int z = 0; z < d->n_zones; z++)
		for (int r = 0; r < DR_MAX; r++)
			fprintf(f, "mailgate_dnsbl_queries_total{zone=\"%s\",result=\"%s\"} %llu\n",
				d->zones[z].name, dnsbl_result_names[r],
				(unsigned long long)LOAD(d->zones[z].results[r]));
	HELP("mailgate_dnsbl_query_seconds", "histogram",
	     "Time from sending a DNSBL query to its answer or timeout.");
	for (int z = 0; z < d->n_zones; z++) {
		snprintf(lbl, sizeof(lbl), "zone=\"%s\"", d->zones[z].name);
		hist_write(f, "mailgate_dnsbl_query_seconds", lbl, &d->zones[z].qhist);
	}
	HELP("mailgate_dnsbl_zone_suspended", "gauge",
	     "1 while a zone is suspended for failing the RFC 5782 self-test for both address families.");
	for (int z = 0; z < d->n_zones; z++)
		fprintf(f, "mailgate_dnsbl_zone_suspended{zone=\"%s\"} %d\n", d->zones[z].name,
			d->zones[z].suspended);
	HELP("mailgate_dnsbl_zone_serving", "gauge",
	     "1 when a zone is used for an address family (it passed that family's self-test).");
	for (int z = 0; z < d->n_zones; z++) {
		fprintf(f, "mailgate_dnsbl_zone_serving{zone=\"%s\",family=\"ipv4\"} %d\n",
			d->zones[z].name, d->zones[z].ok4 && !d->zones[z].suspended);
		fprintf(f, "mailgate_dnsbl_zone_serving{zone=\"%s\",family=\"ipv6\"} %d\n",
			d->zones[z].name, d->zones[z].ok6 && !d->zones[z].suspended);
	}
	HELP("mailgate_dnsbl_zone_backoff", "gauge", "1 while a failing zone is backed off.");
	for (int z = 0; z < d->n_zones; z++)
		fprintf(f, "mailgate_dnsbl_zone_backoff{zone=\"%s\"} %d\n", d->zones[z].name,
			d->zones[z].backoff_until_ns > now_boot_ns());
	HELP("mailgate_dnsbl_skipped_total", "counter",
	     "Queries not sent because the zone was backed off (it counted as 0).");
	for (int z = 0; z < d->n_zones; z++)
		fprintf(f, "mailgate_dnsbl_skipped_total{zone=\"%s\"} %llu\n", d->zones[z].name,
			(unsigned long long)LOAD(d->zones[z].skipped));
	HELP("mailgate_dnsbl_selftests_total", "counter", "RFC 5782 self-test rounds by zone, family and result.");
	for (int z = 0; z < d->n_zones; z++)
		for (int fam = 0; fam < 2; fam++)
			for (int p = 0; p < 2; p++)
				fprintf(f, "mailgate_dnsbl_selftests_total{zone=\"%s\",family=\"%s\",result=\"%s\"} %llu\n",
					d->zones[z].name, fam ? "ipv6" : "ipv4", p ? "pass" : "fail",
					(unsigned long long)LOAD(d->zones[z].selftests[fam][p]));
	HELP("mailgate_dnsbl_verdicts_total", "counter", "Verdicts written to the data path, by verdict.");
	for (int v = MG_VERDICT_CLEAN; v <= MG_VERDICT_ALLOWED; v++)
		fprintf(f, "mailgate_dnsbl_verdicts_total{verdict=\"%s\"} %llu\n", dnsbl_verdict_names[v],
			(unsigned long long)LOAD(d->verdicts[v]));
	HELP("mailgate_dnsbl_verdict_seconds", "histogram",
	     "Time from the data path's event to the verdict in the map.");
	hist_write(f, "mailgate_dnsbl_verdict_seconds", "", &d->vhist);
	HELP("mailgate_dnsbl_submissions_dropped_total", "counter",
	     "Sources not looked up because the queue was full (their SYNs pass: fail-open).");
	fprintf(f, "mailgate_dnsbl_submissions_dropped_total %llu\n", (unsigned long long)LOAD(d->dropped));
	HELP("mailgate_dnsbl_queue_length", "gauge", "Sources waiting for a lookup.");
	fprintf(f, "mailgate_dnsbl_queue_length %u\n", d->qlen);
	pthread_mutex_unlock(&d->lock);
}
