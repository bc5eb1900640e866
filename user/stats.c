// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* `mailgate stats [--watch DUR]` and `mailgate top`: the per-CPU counters
 * by decision reason and port class, as totals or as live rates, and the
 * busiest sources over the last interval with the sources the allow list,
 * the deny list, a ban or DNSBL decided. Everything comes from the pinned
 * maps, so both work with or without the daemon. */
#define _GNU_SOURCE /* qsort_r */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <json-c/json.h>
#include "mailgate.h"
#include "cli.h"

/* a duration (2s, 500ms, 2 = seconds) or decimal seconds (0.5) */
static int parse_interval(const char *s, uint64_t *ns)
{
	char *end;
	double v;

	if (!parse_duration(s, ns))
		return 0;
	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || v > 86400)
		return -EINVAL;
	*ns = (uint64_t)(v * NSEC_PER_SEC);
	return 0;
}

static bool is_pass(int r)
{
	return !MG_REASON_DROPS(r);
}

static uint64_t reason_total(const uint64_t *c, int r)
{
	uint64_t t = 0;

	for (int k = 0; k < MG_CLASS_MAX; k++)
		t += c[MG_COUNTER_IDX(r, k)];
	return t;
}

/* flood mode as the data path has it: true/false, null when unreadable */
static struct json_object *flood_json(struct gate *g)
{
	struct mg_global gl;
	uint32_t zero = 0;

	if (bpf_map_lookup_elem(g->fd[GM_GLOBAL], &zero, &gl))
		return NULL;
	return json_object_new_boolean(gl.flood_mode != 0);
}

/* {"pass_ok": {"none": 0, "smtp": 37, ..., "total": 37}, ...} */
static struct json_object *counters_json(const uint64_t *c)
{
	struct json_object *o = json_object_new_object();

	for (int r = 0; r < MG_REASON_MAX; r++) {
		struct json_object *row = json_object_new_object();

		for (int k = 0; k < MG_CLASS_MAX; k++)
			json_object_object_add(row, mg_class_names[k], json_object_new_int64(c[MG_COUNTER_IDX(r, k)]));
		json_object_object_add(row, "total", json_object_new_int64(reason_total(c, r)));
		json_object_object_add(o, mg_reason_names[r], row);
	}
	return o;
}

static struct json_object *rates_json(const double *rate)
{
	struct json_object *o = json_object_new_object();

	for (int r = 0; r < MG_REASON_MAX; r++) {
		struct json_object *row = json_object_new_object();
		double t = 0;

		for (int k = 0; k < MG_CLASS_MAX; k++) {
			json_object_object_add(row, mg_class_names[k], json_object_new_double(rate[MG_COUNTER_IDX(r, k)]));
			t += rate[MG_COUNTER_IDX(r, k)];
		}
		json_object_object_add(row, "total", json_object_new_double(t));
		json_object_object_add(o, mg_reason_names[r], row);
	}
	return o;
}

static const char *mode_note(struct gate *g)
{
	struct mg_config c;

	if (!gate_read_config(g, &c) && c.mode == MG_MODE_OBSERVE)
		return "mode observe: drop_* are counted, the packets pass";
	return NULL;
}

/* ---- stats (totals) ---- */
static void stats_table(const uint64_t *c, const double *rate, bool all, int width)
{
	/* columns: REASON, TOTAL, [/s], one per gated class (counts or rates) */
	bool per_class = width <= 0 || width >= 80;
	int ncols = 2 + (rate ? 1 : 0) + (per_class ? MG_CLASS_MAX - 1 : 0);
	struct table *t = table_new(ncols, ~1u);
	const char *cells[16] = { 0 };
	char buf[16][32];
	uint64_t sum[2][MG_CLASS_MAX + 1] = { { 0 } };
	double rsum[2] = { 0 };
	int n;

	n = 0;
	cells[n++] = "REASON";
	cells[n++] = "TOTAL";
	if (rate)
		cells[n++] = "/s";
	for (int k = 1; per_class && k < MG_CLASS_MAX; k++) {
		snprintf(buf[n], sizeof(buf[n]), "%s", mg_class_names[k]);
		for (char *p = buf[n]; *p; p++)
			*p = *p >= 'a' && *p <= 'z' ? *p - 32 : *p;
		if (rate)
			strcat(buf[n], "/s");
		cells[n] = buf[n];
		n++;
	}
	table_row(t, cells[0], cells[1], cells[2], cells[3], cells[4], cells[5], cells[6], cells[7]);

	for (int r = 0; r < MG_REASON_MAX; r++) {
		uint64_t tot = reason_total(c, r);
		double rt = 0;

		for (int k = 0; k < MG_CLASS_MAX; k++) {
			sum[!is_pass(r)][k] += c[MG_COUNTER_IDX(r, k)];
			if (rate)
				rt += rate[MG_COUNTER_IDX(r, k)];
		}
		sum[!is_pass(r)][MG_CLASS_MAX] += tot;
		rsum[!is_pass(r)] += rt;
		if (!all && !tot)
			continue;
		n = 0;
		cells[n++] = mg_reason_names[r];
		cells[n] = format_count(tot, buf[n], sizeof(buf[n]));
		n++;
		if (rate) {
			cells[n] = format_count(rt, buf[n], sizeof(buf[n]));
			n++;
		}
		for (int k = 1; per_class && k < MG_CLASS_MAX; k++) {
			/* the ungated reasons are counted without a class */
			if (r < MG_REASON_PASS_ALLOW)
				cells[n] = "-";
			else if (rate)
				cells[n] = format_count(rate[MG_COUNTER_IDX(r, k)], buf[n], sizeof(buf[n]));
			else
				cells[n] = format_count(c[MG_COUNTER_IDX(r, k)], buf[n], sizeof(buf[n]));
			n++;
		}
		table_row(t, cells[0], cells[1], cells[2], cells[3], cells[4], cells[5], cells[6], cells[7]);
	}
	for (int d = 0; d < 2; d++) {
		n = 0;
		cells[n++] = d ? "all drops" : "all passes";
		cells[n] = format_count(sum[d][MG_CLASS_MAX], buf[n], sizeof(buf[n]));
		n++;
		if (rate) {
			cells[n] = format_count(rsum[d], buf[n], sizeof(buf[n]));
			n++;
		}
		for (int k = 1; per_class && k < MG_CLASS_MAX; k++) {
			if (rate) {
				double x = 0;

				for (int r = 0; r < MG_REASON_MAX; r++)
					if (is_pass(r) == !d)
						x += rate[MG_COUNTER_IDX(r, k)];
				cells[n] = format_count(x, buf[n], sizeof(buf[n]));
			} else {
				cells[n] = format_count(sum[d][k], buf[n], sizeof(buf[n]));
			}
			n++;
		}
		table_row(t, cells[0], cells[1], cells[2], cells[3], cells[4], cells[5], cells[6], cells[7]);
	}
	table_print(t, stdout, 0);
	table_free(t);
}

static int stats_once(struct gate *g, bool all)
{
	uint64_t c[MG_COUNTER_SLOTS];
	const char *note = mode_note(g);
	int err = gate_read_counters(g, c);

	if (err)
		return fail(EXIT_FAIL, "stats: cannot read %s: %s", gate_map_names[GM_COUNTERS], strerror(-err));
	if (opts.json) {
		struct json_object *o = json_object_new_object();
		uint64_t sum[2] = { 0 };

		for (int r = 0; r < MG_REASON_MAX; r++)
			sum[!is_pass(r)] += reason_total(c, r);
		json_object_object_add(o, "counters", counters_json(c));
		json_object_object_add(o, "pass", json_object_new_int64(sum[0]));
		json_object_object_add(o, "drop", json_object_new_int64(sum[1]));
		json_object_object_add(o, "observe", json_object_new_boolean(note != NULL));
		json_object_object_add(o, "flood_mode", flood_json(g));
		json_out(o);
		return EXIT_OK;
	}
	stats_table(c, NULL, all, 0);
	if (note)
		printf("(%s)\n", note);
	return EXIT_OK;
}

/* ---- stats --watch ---- */
static int term_width(void)
{
	struct winsize ws;

	return ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) || !ws.ws_col ? 0 : ws.ws_col;
}

static void watch_frame(struct gate *g, bool tty, const uint64_t *c, const double *rate, double dt,
			uint64_t interval_ns, bool all, const char *note)
{
	char ts[32], d[32];
	time_t now = time(NULL);

	strftime(ts, sizeof(ts), "%H:%M:%S", localtime(&now));
	if (opts.json) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "time", json_object_new_int64(now));
		json_object_object_add(o, "interval_s", rate ? json_object_new_double(dt) : NULL);
		json_object_object_add(o, "counters", counters_json(c));
		json_object_object_add(o, "rates", rate ? rates_json(rate) : NULL);
		json_object_object_add(o, "flood_mode", flood_json(g));
		/* one document per line (JSON Lines) */
		puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(o);
		fflush(stdout);
		return;
	}
	if (tty)
		fputs("\033[H\033[2J", stdout); /* home, clear screen */
	printf("mailgate stats  %s  every %s%s%s\n\n", ts, format_duration(interval_ns, d, sizeof(d)),
	       rate ? "" : " (rates after the first interval)", tty ? "  (Ctrl-C quits)" : "");
	stats_table(c, rate, all, tty ? term_width() : 0);
	if (note)
		printf("(%s)\n", note);
	if (!tty)
		putchar('\n');
	fflush(stdout);
}

static int stats_watch(struct gate *g, uint64_t interval_ns, long count, bool all)
{
	uint64_t prev[MG_COUNTER_SLOTS], cur[MG_COUNTER_SLOTS];
	double rate[MG_COUNTER_SLOTS];
	bool tty = isatty(STDOUT_FILENO), have_rate = false;
	uint64_t t_prev, t_cur, deadline;
	struct signalfd_siginfo si;
	sigset_t set;
	int sfd, err;
	long frames = 0;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGWINCH);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (sfd < 0)
		return fail(EXIT_FAIL, "stats --watch: signalfd: %s", strerror(errno));

	err = gate_read_counters(g, prev);
	if (err) {
		close(sfd);
		return fail(EXIT_FAIL, "stats: cannot read %s: %s", gate_map_names[GM_COUNTERS], strerror(-err));
	}
	t_prev = now_boot_ns();
	memcpy(cur, prev, sizeof(cur));
	watch_frame(g, tty, cur, NULL, 0, interval_ns, all, mode_note(g));
	deadline = t_prev + interval_ns;
	for (;;) {
		uint64_t now = now_boot_ns();
		int ms = now >= deadline ? 0 : (int)((deadline - now + 999999) / 1000000);
		struct pollfd p = { .fd = sfd, .events = POLLIN };

		if (poll(&p, 1, ms) > 0 && read(sfd, &si, sizeof(si)) == sizeof(si)) {
			if (si.ssi_signo == SIGWINCH) { /* redraw at the new size */
				if (tty && !opts.json)
					watch_frame(g, tty, cur, have_rate ? rate : NULL, 0, interval_ns, all, mode_note(g));
				continue;
			}
			break; /* SIGINT / SIGTERM: leave the last frame on screen */
		}
		if (now_boot_ns() < deadline)
			continue;
		if (gate_read_counters(g, cur))
			break;
		t_cur = now_boot_ns();
		for (int i = 0; i < MG_COUNTER_SLOTS; i++) /* a counter reset (new maps) counts as 0 */
			rate[i] = cur[i] >= prev[i] ? (double)(cur[i] - prev[i]) * NSEC_PER_SEC / (t_cur - t_prev) : 0;
		have_rate = true;
		watch_frame(g, tty, cur, rate, (double)(t_cur - t_prev) / NSEC_PER_SEC, interval_ns, all, mode_note(g));
		memcpy(prev, cur, sizeof(prev));
		t_prev = t_cur;
		deadline += interval_ns;
		if (deadline < t_cur) /* fell behind (suspend, slow terminal): skip, do not burst */
			deadline = t_cur + interval_ns;
		if (count > 0 && ++frames >= count)
			break;
	}
	close(sfd);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	return EXIT_OK;
}

/* seconds or a duration, 100ms..1h */
static int watch_interval(const char *s, void *ns)
{
	return parse_interval(s, ns) || *(uint64_t *)ns < NSEC_PER_SEC / 10 || *(uint64_t *)ns > 3600 * NSEC_PER_SEC
		       ? -EINVAL : 0;
}

struct stats_opts {
	uint64_t interval_ns; /* --watch; 0 = once */
	uint32_t count;       /* --count: that many times; 0 = until stopped */
	bool all;
};

static const struct cli_opt stats_opt_table[] = {
	CLI_FLAG("all", 'a', struct stats_opts, all, "every reason and class, also those at zero"),
	CLI_FUNC_AT("watch", 'w', "SECS", struct stats_opts, interval_ns, watch_interval,
		    "print the rates over each SECS (seconds or a duration, 100ms..1h) until stopped",
		    "stats: bad interval '%s' for --watch (expected seconds or a duration, 100ms..1h, e.g. 2 or 500ms)"),
	CLI_U32("count", 'n', "N", struct stats_opts, count, 1, UINT32_MAX, "with --watch: stop after N",
		"stats: bad count '%s' for --count (expected a number >= 1)"),
	CLI_END
};
const struct cli_cmd cli_stats = { "stats", NULL, "the data path's counters: verdicts by reason and class",
				   stats_opt_table };

int do_stats(int argc, char **argv)
{
	struct stats_opts o = { 0 };
	uint64_t interval_ns;
	uint32_t count;
	bool all;
	struct gate g;
	int rc, npos;

	rc = cli_parse(&cli_stats, argc, argv, &o, &npos);
	if (rc != CLI_GO)
		return rc;
	interval_ns = o.interval_ns;
	count = o.count;
	all = o.all;
	if (count && !interval_ns)
		return fail(EXIT_USAGE, "stats: --count only applies to --watch");
	rc = cli_open_gate(&g);
	if (rc)
		return rc;
	rc = interval_ns ? stats_watch(&g, interval_ns, count, all) : stats_once(&g, all);
	gate_close(&g);
	return rc;
}

/* ---- top ----
 * top_parse (options) -> top_collect (two samples of mg_src, mg_stopped and
 * the counters, an interval apart: a struct top_result) -> top_print_text
 * or top_print_json. */
struct top_opts {
	uint32_t max;         /* -n: rows per section */
	uint64_t interval_ns; /* --interval */
};

/* a source's SYNs and drops at the quota steps (mg_src) */
struct src_delta {
	struct mg_addr addr;
	uint64_t syns, drops;       /* in the interval */
	uint64_t syns_total, drops_total;
};

/* a source's SYNs one of the allow, deny, ban and DNSBL steps decided (mg_stopped) */
struct stopped_delta {
	struct mg_addr addr;
	uint32_t reason;            /* MG_REASON_STOPPED() */
	uint64_t syns;              /* in the interval */
};

struct top_ban {
	struct mg_addr addr;
	struct mg_ban b;
};

struct top_result {
	uint64_t t1, t2;
	double secs;
	struct src_delta *by_syns, *by_drops; /* the sources active in the interval, sorted twice */
	size_t n_src, known;                  /* active; in mg_src */
	struct stopped_delta *stopped;        /* most SYNs first */
	size_t n_stopped;
	uint64_t stopped_entries;             /* in mg_stopped at the end, of ... */
	uint32_t stopped_capacity;
	uint64_t not_kept;                    /* SYNs of new sources over the insert budget */
	int watch_err;                        /* the data path could not be asked to keep them */
	uint64_t c1[MG_COUNTER_SLOTS], c2[MG_COUNTER_SLOTS];
	struct top_ban *bans;                 /* created in the interval */
	size_t n_bans;
};

/* A map's entries, each key followed by its value, sorted by key. */
struct sample {
	size_t n, ksz, vsz;
	uint8_t *rec;
};

static const uint8_t *sample_key(const struct sample *s, size_t i)
{
	return s->rec + i * (s->ksz + s->vsz);
}

static const void *sample_val(const struct sample *s, size_t i)
{
	return sample_key(s, i) + s->ksz;
}

static int key_cmp(const void *a, const void *b, void *ksz)
{
	return memcmp(a, b, *(const size_t *)ksz);
}

static int take_sample(int fd, size_t ksz, size_t vsz, struct sample *s)
{
	struct map_dump d;
	int err = map_dump(fd, &d);

	memset(s, 0, sizeof(*s));
	if (err)
		return err;
	if (d.key_size != ksz || d.val_size != vsz) {
		map_dump_free(&d);
		return -EPROTO;
	}
	s->ksz = ksz;
	s->vsz = vsz;
	s->rec = malloc((d.n ? d.n : 1) * (ksz + vsz));
	if (!s->rec) {
		map_dump_free(&d);
		return -ENOMEM;
	}
	s->n = d.n;
	for (size_t i = 0; i < d.n; i++) {
		memcpy(s->rec + i * (ksz + vsz), (uint8_t *)d.keys + i * ksz, ksz);
		memcpy(s->rec + i * (ksz + vsz) + ksz, (uint8_t *)d.vals + i * vsz, vsz);
	}
	map_dump_free(&d);
	qsort_r(s->rec, s->n, ksz + vsz, key_cmp, &s->ksz);
	return 0;
}

/* the value of key in s, NULL when it has none */
static const void *sample_find(const struct sample *s, const void *key)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = memcmp(sample_key(s, mid), key, s->ksz);

		if (!c)
			return sample_val(s, mid);
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int by_syns(const void *pa, const void *pb)
{
	const struct src_delta *a = pa, *b = pb;

	return a->syns != b->syns ? (a->syns < b->syns ? 1 : -1) : (a->drops < b->drops) - (a->drops > b->drops);
}

static int by_drops(const void *pa, const void *pb)
{
	const struct src_delta *a = pa, *b = pb;

	return a->drops != b->drops ? (a->drops < b->drops ? 1 : -1) : (a->syns < b->syns) - (a->syns > b->syns);
}

static int by_stopped(const void *pa, const void *pb)
{
	const struct stopped_delta *a = pa, *b = pb;

	if (a->syns != b->syns)
		return a->syns < b->syns ? 1 : -1;
	return memcmp(&a->addr, &b->addr, sizeof(a->addr));
}

/* the sources whose gated SYNs rose in mg_src between the samples */
static int src_deltas(const struct sample *s1, const struct sample *s2, struct top_result *r)
{
	r->by_syns = calloc(s2->n ? s2->n : 1, sizeof(*r->by_syns));
	r->by_drops = calloc(s2->n ? s2->n : 1, sizeof(*r->by_drops));
	if (!r->by_syns || !r->by_drops)
		return -ENOMEM;
	for (size_t i = 0; i < s2->n; i++) {
		const struct mg_src *c = sample_val(s2, i), *p = sample_find(s1, sample_key(s2, i));
		uint64_t ps = p && p->syns <= c->syns ? p->syns : 0;
		uint64_t pd = p && p->drops <= c->drops ? p->drops : 0;
		struct src_delta *v = &r->by_syns[r->n_src];

		if (c->syns == ps)
			continue;
		memcpy(&v->addr, sample_key(s2, i), sizeof(v->addr));
		v->syns = c->syns - ps;
		v->drops = c->drops - pd;
		v->syns_total = c->syns;
		v->drops_total = c->drops;
		r->n_src++;
	}
	r->known = s2->n;
	memcpy(r->by_drops, r->by_syns, r->n_src * sizeof(*r->by_syns));
	qsort(r->by_syns, r->n_src, sizeof(*r->by_syns), by_syns);
	qsort(r->by_drops, r->n_src, sizeof(*r->by_drops), by_drops);
	return 0;
}

/* The (source, reason) counts that rose in mg_stopped. An entry the LRU
 * recycled within the interval counts from its new start: low, never high. */
static int stopped_deltas(const struct sample *s1, const struct sample *s2, struct top_result *r)
{
	r->stopped = calloc(s2->n ? s2->n : 1, sizeof(*r->stopped));
	if (!r->stopped)
		return -ENOMEM;
	for (size_t i = 0; i < s2->n; i++) {
		const struct mg_stopped_key *k = (const struct mg_stopped_key *)sample_key(s2, i);
		const uint64_t *c = sample_val(s2, i), *p = sample_find(s1, k);
		uint64_t n = p && *p <= *c ? *c - *p : *c;

		if (!n)
			continue;
		r->stopped[r->n_stopped++] = (struct stopped_delta){ .addr = k->addr, .reason = k->reason, .syns = n };
	}
	r->stopped_entries = s2->n;
	qsort(r->stopped, r->n_stopped, sizeof(*r->stopped), by_stopped);
	return 0;
}

/* the bans (both maps) created between t1 and t2 */
static int bans_created(struct gate *g, struct top_result *r)
{
	struct map_dump d;

	for (int mi = 0; mi < 2; mi++) { /* operator bans, quota bans */
		if (map_dump(g->fd[mi ? GM_BAN_QUOTA : GM_BAN], &d))
			continue;
		if (d.key_size != sizeof(struct mg_addr) || d.val_size != sizeof(struct mg_ban)) {
			map_dump_free(&d);
			continue;
		}
		for (size_t i = 0; i < d.n; i++) {
			const struct mg_ban *b = (const struct mg_ban *)((uint8_t *)d.vals + i * d.val_size);
			struct top_ban *nb;

			if (b->created_ns < r->t1 || b->created_ns > r->t2)
				continue;
			nb = realloc(r->bans, (r->n_bans + 1) * sizeof(*r->bans));
			if (!nb) {
				map_dump_free(&d);
				return -ENOMEM;
			}
			r->bans = nb;
			memcpy(&nb[r->n_bans].addr, (uint8_t *)d.keys + i * d.key_size, sizeof(struct mg_addr));
			nb[r->n_bans++].b = *b;
		}
		map_dump_free(&d);
	}
	return 0;
}

static void top_result_free(struct top_result *r)
{
	free(r->by_syns);
	free(r->by_drops);
	free(r->stopped);
	free(r->bans);
}

/* SYNs of new sources the data path left out of mg_stopped, all CPUs */
static uint64_t stopped_not_kept(struct gate *g)
{
	int ncpu = libbpf_num_possible_cpus();
	struct mg_stopped_cpu *v = ncpu > 0 ? calloc(ncpu, sizeof(*v)) : NULL;
	uint32_t zero = 0;
	uint64_t t = 0;

	if (v && !bpf_map_lookup_elem(g->fd[GM_STOPPED_CPU], &zero, v))
		for (int i = 0; i < ncpu; i++)
			t += v[i].not_kept;
	free(v);
	return t;
}

/* Two samples an interval apart, the data path asked to keep the stopped
 * sources meanwhile. On failure: -errno, *what names the map (NULL: memory). */
static int top_collect(struct gate *g, const struct top_opts *o, struct top_result *r, const char **what)
{
	struct timespec ts = { o->interval_ns / NSEC_PER_SEC, o->interval_ns % NSEC_PER_SEC };
	struct sample s1 = { 0 }, s2 = { 0 }, p1 = { 0 }, p2 = { 0 };
	const size_t ks = sizeof(struct mg_stopped_key);
	struct bpf_map_info info;
	uint64_t n2;
	int err;

	r->t1 = now_boot_ns();
	r->watch_err = gate_watch_stopped(g, r->t1 + o->interval_ns + NSEC_PER_SEC);
	gate_read_counters(g, r->c1);
	r->not_kept = stopped_not_kept(g);
	*what = gate_map_names[GM_SRC];
	err = take_sample(g->fd[GM_SRC], sizeof(struct mg_addr), sizeof(struct mg_src), &s1);
	if (!err) {
		*what = gate_map_names[GM_STOPPED];
		err = take_sample(g->fd[GM_STOPPED], ks, sizeof(uint64_t), &p1);
	}
	if (!err) {
		while (nanosleep(&ts, &ts) && errno == EINTR)
			;
		r->t2 = now_boot_ns();
		*what = gate_map_names[GM_SRC];
		err = take_sample(g->fd[GM_SRC], sizeof(struct mg_addr), sizeof(struct mg_src), &s2);
	}
	if (!err) {
		*what = gate_map_names[GM_STOPPED];
		err = take_sample(g->fd[GM_STOPPED], ks, sizeof(uint64_t), &p2);
		gate_read_counters(g, r->c2);
		n2 = stopped_not_kept(g);
		r->not_kept = n2 >= r->not_kept ? n2 - r->not_kept : 0;
	}
	r->secs = (double)(r->t2 - r->t1) / NSEC_PER_SEC;
	if (!err) {
		r->stopped_capacity = map_info(g->fd[GM_STOPPED], &info) ? 0 : info.max_entries;
		*what = NULL; /* from here on, only memory can fail */
		err = src_deltas(&s1, &s2, r) ?: stopped_deltas(&p1, &p2, r) ?: bans_created(g, r);
	}
	free(s1.rec);
	free(s2.rec);
	free(p1.rec);
	free(p2.rec);
	return err;
}

/* a reason's SYNs in the interval, from the counters */
static uint64_t top_reason_syns(const struct top_result *r, int reason)
{
	uint64_t n1 = reason_total(r->c1, reason), n2 = reason_total(r->c2, reason);

	return n2 >= n1 ? n2 - n1 : 0;
}

/* mg_stopped recycled entries in the interval: its counts can be low */
static bool top_stopped_full(const struct top_result *r)
{
	return r->stopped_capacity && r->stopped_entries * 10 >= (uint64_t)r->stopped_capacity * 9;
}

/* ---- top: text ---- */
static void text_src_section(struct gate *g, const struct mg_config *cfg, const char *title,
			     const struct src_delta *v, size_t n, uint32_t max, double secs, bool drops)
{
	struct table *t = table_new(6, (1u << 1) | (1u << 2) | (1u << 3) | (1u << 4));
	char a[MG_ADDRSTRLEN], s1[32], s2[32], s3[32], s4[32], st[512];
	uint64_t now = now_boot_ns();
	uint32_t shown = 0;

	table_row(t, "SOURCE", "SYN/s", "DROP/s", "SYNS", "DROPS", "STATE");
	for (size_t i = 0; i < n && shown < max && (drops ? v[i].drops : v[i].syns); i++, shown++) {
		struct json_object *so = json_object_new_object();

		source_brief(g, cfg, &v[i].addr, now, st, sizeof(st), so);
		json_object_put(so);
		table_row(t, format_addr(&v[i].addr, a, sizeof(a)), format_count(v[i].syns / secs, s1, sizeof(s1)),
			  format_count(v[i].drops / secs, s2, sizeof(s2)), format_count(v[i].syns_total, s3, sizeof(s3)),
			  format_count(v[i].drops_total, s4, sizeof(s4)), st);
	}
	printf("%s:\n", title);
	if (shown)
		table_print(t, stdout, 2);
	else
		printf("  none\n");
	table_free(t);
}

static void text_stopped(struct gate *g, const struct mg_config *cfg, const struct top_result *r, uint32_t max)
{
	struct table *t = table_new(5, (1u << 2) | (1u << 3));
	char a[MG_ADDRSTRLEN], s1[32], s2[32], st[512];
	uint64_t now = now_boot_ns();
	size_t shown = 0;

	printf("\ndecided before the quota steps (allow list, deny list, ban, DNSBL), by source:\n");
	table_row(t, "SOURCE", "REASON", "SYN/s", "SYNS", "STATE");
	for (; shown < r->n_stopped && shown < max; shown++) {
		const struct stopped_delta *v = &r->stopped[shown];
		struct json_object *so = json_object_new_object();

		source_brief(g, cfg, &v->addr, now, st, sizeof(st), so);
		json_object_put(so);
		table_row(t, format_addr(&v->addr, a, sizeof(a)), mg_reason_names[v->reason],
			  format_count(r->secs > 0 ? v->syns / r->secs : 0, s1, sizeof(s1)),
			  format_count(v->syns, s2, sizeof(s2)), st);
	}
	if (shown)
		table_print(t, stdout, 2);
	else
		printf("  none\n");
	if (r->n_stopped > shown)
		printf("  (%zu more)\n", r->n_stopped - shown);
	table_free(t);
	if (r->watch_err)
		printf("  (cannot ask the data path to keep them: %s: %s)\n", gate_map_names[GM_CTL], strerror(-r->watch_err));
	if (top_stopped_full(r))
		printf("  (%s is full, %llu entries: many distinct refused sources, a forged flood perhaps, "
		       "recycle it; these counts can be low and a source missing)\n",
		       gate_map_names[GM_STOPPED], (unsigned long long)r->stopped_entries);
	if (r->not_kept)
		printf("  (%llu SYNs of new sources not kept: more than %u new refused sources a second on a CPU, "
		       "a flood of distinct sources, forged perhaps)\n",
		       (unsigned long long)r->not_kept, MG_STOPPED_NEW_PER_S);
}

static void top_print_text(struct gate *g, const struct mg_config *cfg, const struct top_opts *o,
			   const struct top_result *r)
{
	char d[32], e[48], a[MG_ADDRSTRLEN], x[32];
	int shown = 0;

	printf("sources over the last %s: %zu sent gated SYNs (%zu known)\n"
	       "(SYNs and drops as counted at the quota steps; the sources the allow list, deny list, "
	       "a ban or DNSBL decided are listed after these)\n\n",
	       format_duration(r->t2 - r->t1, d, sizeof(d)), r->n_src, r->known);
	text_src_section(g, cfg, "most SYNs", r->by_syns, r->n_src, o->max, r->secs, false);
	putchar('\n');
	text_src_section(g, cfg, "most drops", r->by_drops, r->n_src, o->max, r->secs, true);
	text_stopped(g, cfg, r, o->max);
	printf("\nall of them, per reason:\n");
	for (int reason = 0; reason < MG_REASON_MAX; reason++) {
		uint64_t n = MG_REASON_STOPPED(reason) ? top_reason_syns(r, reason) : 0;

		if (!n)
			continue;
		printf("  %-12s %8llu SYNs  %s/s\n", mg_reason_names[reason], (unsigned long long)n,
		       format_count(r->secs > 0 ? n / r->secs : 0, x, sizeof(x)));
		shown++;
	}
	if (!shown)
		printf("  none\n");
	for (size_t i = 0; i < r->n_bans; i++) {
		const struct mg_ban *b = &r->bans[i].b;

		if (!i)
			printf("\nbans created in the interval:\n");
		printf("  %-39s %-6s level %u, %s\n", format_addr(&r->bans[i].addr, a, sizeof(a)),
		       origin_name(b->origin), b->level, format_expiry(b->expires_ns, r->t2, e, sizeof(e)));
	}
}

/* ---- top: JSON ---- */
static struct json_object *json_src_rows(struct gate *g, const struct mg_config *cfg, const struct src_delta *v,
					 size_t n, uint32_t max, double secs, bool drops)
{
	struct json_object *arr = json_object_new_array();
	char a[MG_ADDRSTRLEN], st[512];
	uint64_t now = now_boot_ns();

	for (size_t i = 0; i < n && i < max && (drops ? v[i].drops : v[i].syns); i++) {
		struct json_object *o = json_object_new_object(), *so = json_object_new_object();

		source_brief(g, cfg, &v[i].addr, now, st, sizeof(st), so);
		json_object_object_add(o, "address", json_object_new_string(format_addr(&v[i].addr, a, sizeof(a))));
		json_object_object_add(o, "syns", json_object_new_int64(v[i].syns));
		json_object_object_add(o, "drops", json_object_new_int64(v[i].drops));
		json_object_object_add(o, "syns_per_s", json_object_new_double(v[i].syns / secs));
		json_object_object_add(o, "drops_per_s", json_object_new_double(v[i].drops / secs));
		json_object_object_add(o, "syns_total", json_object_new_int64(v[i].syns_total));
		json_object_object_add(o, "drops_total", json_object_new_int64(v[i].drops_total));
		json_object_object_add(o, "state", so);
		json_object_array_add(arr, o);
	}
	return arr;
}

static struct json_object *json_stopped_rows(struct gate *g, const struct mg_config *cfg,
					     const struct top_result *r, uint32_t max)
{
	struct json_object *arr = json_object_new_array();
	char a[MG_ADDRSTRLEN], st[512];
	uint64_t now = now_boot_ns();

	for (size_t i = 0; i < r->n_stopped && i < max; i++) {
		const struct stopped_delta *v = &r->stopped[i];
		struct json_object *o = json_object_new_object(), *so = json_object_new_object();

		source_brief(g, cfg, &v->addr, now, st, sizeof(st), so);
		json_object_object_add(o, "address", json_object_new_string(format_addr(&v->addr, a, sizeof(a))));
		json_object_object_add(o, "reason", json_object_new_string(mg_reason_names[v->reason]));
		json_object_object_add(o, "syns", json_object_new_int64(v->syns));
		json_object_object_add(o, "syns_per_s", json_object_new_double(r->secs > 0 ? v->syns / r->secs : 0));
		json_object_object_add(o, "state", so);
		json_object_array_add(arr, o);
	}
	return arr;
}

static void top_print_json(struct gate *g, const struct mg_config *cfg, const struct top_opts *o,
			   const struct top_result *r)
{
	struct json_object *doc = json_object_new_object(), *per = json_object_new_object(),
			   *bans = json_object_new_array(), *m = json_object_new_object();
	char a[MG_ADDRSTRLEN];

	for (int reason = 0; reason < MG_REASON_MAX; reason++) {
		struct json_object *x;
		uint64_t n = top_reason_syns(r, reason);

		if (!MG_REASON_STOPPED(reason))
			continue;
		x = json_object_new_object();
		json_object_object_add(x, "syns", json_object_new_int64(n));
		json_object_object_add(x, "per_s", json_object_new_double(r->secs > 0 ? n / r->secs : 0));
		json_object_object_add(per, mg_reason_names[reason], x);
	}
	for (size_t i = 0; i < r->n_bans; i++) {
		struct json_object *x = json_object_new_object();

		json_object_object_add(x, "address", json_object_new_string(format_addr(&r->bans[i].addr, a, sizeof(a))));
		json_object_object_add(x, "origin", json_object_new_string(origin_name(r->bans[i].b.origin)));
		json_object_object_add(x, "level", json_object_new_int(r->bans[i].b.level));
		json_object_array_add(bans, x);
	}
	json_object_object_add(m, "entries", json_object_new_int64(r->stopped_entries));
	json_object_object_add(m, "capacity", json_object_new_int64(r->stopped_capacity));
	json_object_object_add(m, "full", json_object_new_boolean(top_stopped_full(r)));
	json_object_object_add(m, "kept", json_object_new_boolean(!r->watch_err));
	json_object_object_add(m, "not_kept_syns", json_object_new_int64(r->not_kept));
	json_object_object_add(doc, "interval_s", json_object_new_double(r->secs));
	json_object_object_add(doc, "active_sources", json_object_new_int64(r->n_src));
	json_object_object_add(doc, "known_sources", json_object_new_int64(r->known));
	json_object_object_add(doc, "top_syns", json_src_rows(g, cfg, r->by_syns, r->n_src, o->max, r->secs, false));
	json_object_object_add(doc, "top_drops", json_src_rows(g, cfg, r->by_drops, r->n_src, o->max, r->secs, true));
	json_object_object_add(doc, "stopped", json_stopped_rows(g, cfg, r, o->max));
	json_object_object_add(doc, "stopped_sources", json_object_new_int64(r->n_stopped));
	json_object_object_add(doc, "stopped_map", m);
	json_object_object_add(doc, "stopped_earlier", per);
	json_object_object_add(doc, "bans_created", bans);
	json_out(doc);
}

/* ---- top: options and the command ---- */
/* a duration 100ms..10m */
static int top_interval(const char *s, void *ns)
{
	return parse_interval(s, ns) || *(uint64_t *)ns < NSEC_PER_SEC / 10 || *(uint64_t *)ns > 600 * NSEC_PER_SEC
		       ? -EINVAL : 0;
}

static const struct cli_opt top_table[] = {
	CLI_U32("count", 'n', "N", struct top_opts, max, 1, 100000, "the N busiest sources (default 10)",
		"top: bad count '%s' for -n (expected 1..100000)"),
	CLI_FUNC_AT("interval", 'i', "DUR", struct top_opts, interval_ns, top_interval,
		    "measure over DUR (100ms..10m, default 1s)",
		    "top: bad interval '%s' (expected a duration 100ms..10m, e.g. 1s)"),
	CLI_END
};
const struct cli_cmd cli_top = { "top", NULL, "the busiest sources over an interval, and the sources stopped",
				 top_table };

int do_top(int argc, char **argv)
{
	static struct top_result r; /* the counters are large */
	const char *what = gate_map_names[GM_SRC];
	struct top_opts o = { .max = 10, .interval_ns = NSEC_PER_SEC };
	struct mg_config cfg;
	struct gate g;
	int rc, err, npos;

	rc = cli_parse(&cli_top, argc, argv, &o, &npos);
	if (rc != CLI_GO)
		return rc;
	rc = cli_open_gate(&g);
	if (rc)
		return rc;
	if (gate_read_config(&g, &cfg))
		memset(&cfg, 0, sizeof(cfg));
	memset(&r, 0, sizeof(r));
	err = top_collect(&g, &o, &r, &what);
	if (err && what) {
		rc = fail(EXIT_FAIL, "top: cannot read %s: %s", what, strerror(-err));
	} else if (err) {
		rc = fail(EXIT_FAIL, "top: out of memory");
	} else {
		if (opts.json)
			top_print_json(&g, &cfg, &o, &r);
		else
			top_print_text(&g, &cfg, &o, &r);
		rc = EXIT_OK;
	}
	top_result_free(&r);
	gate_close(&g);
	return rc;
}
