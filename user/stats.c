// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* `mailgate stats [--watch DUR]` and `mailgate top`: the per-CPU counters
 * by decision reason and port class, as totals or as live rates, and the
 * busiest sources over the last interval. Everything comes from the pinned
 * maps, so both work with or without the daemon. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <bpf/bpf.h>
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

int do_stats(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "watch", required_argument, NULL, 'w' },
		{ "count", required_argument, NULL, 'n' },
		{ "all", no_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	uint64_t interval_ns = 0;
	uint32_t count = 0;
	bool all = false;
	struct gate g;
	int opt, rc;

	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":w:n:ah", lo, NULL)) != -1) {
		switch (opt) {
		case 'w':
			if (parse_interval(optarg, &interval_ns) || interval_ns < NSEC_PER_SEC / 10 ||
			    interval_ns > 3600 * NSEC_PER_SEC)
				return fail(EXIT_USAGE, "stats: bad interval '%s' for --watch (expected seconds "
					    "or a duration, 100ms..1h, e.g. 2 or 500ms)", optarg);
			break;
		case 'n':
			if (parse_u32(optarg, 1, UINT32_MAX, &count))
				return fail(EXIT_USAGE, "stats: bad count '%s' for --count (expected a number >= 1)", optarg);
			break;
		case 'a':
			all = true;
			break;
		case 'h':
			printf("usage: mailgate stats [-a|--all] [--watch SECS [--count N]]\n");
			return EXIT_OK;
		default:
			return bad_option(opt, argv);
		}
	}
	if (optind < argc)
		return fail(EXIT_USAGE, "stats: unexpected argument '%s'", argv[optind]);
	if (count && !interval_ns)
		return fail(EXIT_USAGE, "stats: --count only applies to --watch");
	rc = cli_open_gate(&g);
	if (rc)
		return rc;
	rc = interval_ns ? stats_watch(&g, interval_ns, count, all) : stats_once(&g, all);
	gate_close(&g);
	return rc;
}

/* ---- top ---- */
struct src_delta {
	struct mg_addr addr;
	uint64_t syns, drops;       /* in the interval */
	uint64_t syns_total, drops_total;
};

static int addr_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct mg_addr));
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

/* sorted copy of the keys and values of mg_src */
struct src_sample {
	size_t n;
	struct { struct mg_addr addr; struct mg_src s; } *e;
};

static int sample_cmp(const void *a, const void *b)
{
	return addr_cmp(a, b);
}

static int take_sample(struct gate *g, struct src_sample *out)
{
	struct map_dump d;
	int err = map_dump(g->fd[GM_SRC], &d);

	if (err)
		return err;
	if (d.key_size != sizeof(struct mg_addr) || d.val_size != sizeof(struct mg_src)) {
		map_dump_free(&d);
		return -EPROTO;
	}
	out->n = d.n;
	out->e = calloc(d.n ? d.n : 1, sizeof(*out->e));
	if (!out->e) {
		map_dump_free(&d);
		return -ENOMEM;
	}
	for (size_t i = 0; i < d.n; i++) {
		memcpy(&out->e[i].addr, (uint8_t *)d.keys + i * d.key_size, sizeof(struct mg_addr));
		memcpy(&out->e[i].s, (uint8_t *)d.vals + i * d.val_size, sizeof(struct mg_src));
	}
	map_dump_free(&d);
	qsort(out->e, out->n, sizeof(*out->e), sample_cmp);
	return 0;
}

static void top_section(struct gate *g, const struct mg_config *cfg, const char *title, struct src_delta *v,
			size_t n, uint32_t max, double secs, bool drops, struct json_object *arr)
{
	struct table *t = table_new(6, (1u << 1) | (1u << 2) | (1u << 3) | (1u << 4));
	char a[MG_ADDRSTRLEN], s1[32], s2[32], s3[32], s4[32], st[512];
	uint64_t now = now_boot_ns();
	uint32_t shown = 0;

	table_row(t, "SOURCE", "SYN/s", "DROP/s", "SYNS", "DROPS", "STATE");
	for (size_t i = 0; i < n && shown < max; i++) {
		struct json_object *o, *so;

		if (drops ? !v[i].drops : !v[i].syns)
			break;
		shown++;
		so = json_object_new_object();
		source_brief(g, cfg, &v[i].addr, now, st, sizeof(st), so);
		format_addr(&v[i].addr, a, sizeof(a));
		table_row(t, a, format_count(v[i].syns / secs, s1, sizeof(s1)),
			  format_count(v[i].drops / secs, s2, sizeof(s2)), format_count(v[i].syns_total, s3, sizeof(s3)),
			  format_count(v[i].drops_total, s4, sizeof(s4)), st);
		o = json_object_new_object();
		json_object_object_add(o, "address", json_object_new_string(a));
		json_object_object_add(o, "syns", json_object_new_int64(v[i].syns));
		json_object_object_add(o, "drops", json_object_new_int64(v[i].drops));
		json_object_object_add(o, "syns_per_s", json_object_new_double(v[i].syns / secs));
		json_object_object_add(o, "drops_per_s", json_object_new_double(v[i].drops / secs));
		json_object_object_add(o, "syns_total", json_object_new_int64(v[i].syns_total));
		json_object_object_add(o, "drops_total", json_object_new_int64(v[i].drops_total));
		json_object_object_add(o, "state", so);
		json_object_array_add(arr, o);
	}
	if (!opts.json) {
		printf("%s:\n", title);
		if (shown)
			table_print(t, stdout, 2);
		else
			printf("  none\n");
	}
	table_free(t);
}

/* What top's per-source counters cannot see: the SYNs stopped before the
 * quota steps (allow, deny, ban: counted per reason only), and the bans
 * created during the interval (who was stopped by a ban, and why). */
static void top_stopped_earlier(struct gate *g, const uint64_t *c1, const uint64_t *c2, uint64_t t1,
				uint64_t t2, double secs, struct json_object *doc)
{
	static const int reasons[] = { MG_REASON_DROP_BAN, MG_REASON_DROP_DENY, MG_REASON_PASS_ALLOW };
	struct json_object *o = json_object_new_object(), *bans = json_object_new_array();
	char a[MG_ADDRSTRLEN], e[48], r[32];
	struct map_dump d = { 0 };
	size_t nb = 0;

	if (!opts.json)
		printf("\nstopped before the quota steps (per reason; these sources are not counted above):\n");
	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
		uint64_t n1 = reason_total(c1, reasons[i]), n2 = reason_total(c2, reasons[i]);
		uint64_t n = n2 >= n1 ? n2 - n1 : 0;
		struct json_object *x = json_object_new_object();

		json_object_object_add(x, "syns", json_object_new_int64(n));
		json_object_object_add(x, "per_s", json_object_new_double(secs > 0 ? n / secs : 0));
		json_object_object_add(o, mg_reason_names[reasons[i]], x);
		if (!opts.json)
			printf("  %-12s %8llu SYNs  %s/s\n", mg_reason_names[reasons[i]], (unsigned long long)n,
			       format_count(secs > 0 ? n / secs : 0, r, sizeof(r)));
	}
	for (int mi = 0; mi < 2; mi++) { /* operator bans, quota bans */
		if (map_dump(g->fd[mi ? GM_BAN_QUOTA : GM_BAN], &d) || d.key_size != sizeof(struct mg_addr) ||
		    d.val_size != sizeof(struct mg_ban)) {
			map_dump_free(&d);
			continue;
		}
		for (size_t i = 0; i < d.n; i++) {
			const struct mg_ban *b = (const struct mg_ban *)((uint8_t *)d.vals + i * d.val_size);
			const struct mg_addr *k = (const struct mg_addr *)((uint8_t *)d.keys + i * d.key_size);
			struct json_object *x;

			if (b->created_ns < t1 || b->created_ns > t2)
				continue;
			format_addr(k, a, sizeof(a));
			format_expiry(b->expires_ns, t2, e, sizeof(e));
			if (!opts.json) {
				if (!nb)
					printf("\nbans created in the interval:\n");
				printf("  %-39s %-6s level %u, %s\n", a, origin_name(b->origin), b->level, e);
			}
			x = json_object_new_object();
			json_object_object_add(x, "address", json_object_new_string(a));
			json_object_object_add(x, "origin", json_object_new_string(origin_name(b->origin)));
			json_object_object_add(x, "level", json_object_new_int(b->level));
			json_object_array_add(bans, x);
			nb++;
		}
		map_dump_free(&d);
	}
	if (opts.json) {
		json_object_object_add(doc, "stopped_earlier", o);
		json_object_object_add(doc, "bans_created", bans);
	} else {
		json_object_put(o);
		json_object_put(bans);
	}
}

int do_top(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "interval", required_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct src_sample s1 = { 0 }, s2 = { 0 };
	uint64_t interval_ns = NSEC_PER_SEC, t1, t2;
	static uint64_t c1[MG_COUNTER_SLOTS], c2[MG_COUNTER_SLOTS];
	struct src_delta *v = NULL;
	struct mg_config cfg;
	uint32_t max = 10;
	size_t nv = 0;
	double secs;
	struct gate g;
	int opt, rc, err;
	char d[32];

	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":n:i:h", lo, NULL)) != -1) {
		switch (opt) {
		case 'n':
			if (parse_u32(optarg, 1, 100000, &max))
				return fail(EXIT_USAGE, "top: bad count '%s' for -n (expected 1..100000)", optarg);
			break;
		case 'i':
			if (parse_interval(optarg, &interval_ns) || interval_ns < NSEC_PER_SEC / 10 ||
			    interval_ns > 600 * NSEC_PER_SEC)
				return fail(EXIT_USAGE, "top: bad interval '%s' (expected a duration 100ms..10m, e.g. 1s)",
					    optarg);
			break;
		case 'h':
			printf("usage: mailgate top [-n N] [--interval DUR]   (default 10 sources over 1s)\n");
			return EXIT_OK;
		default:
			return bad_option(opt, argv);
		}
	}
	if (optind < argc)
		return fail(EXIT_USAGE, "top: unexpected argument '%s'", argv[optind]);
	rc = cli_open_gate(&g);
	if (rc)
		return rc;
	if (gate_read_config(&g, &cfg))
		memset(&cfg, 0, sizeof(cfg));

	t1 = now_boot_ns();
	gate_read_counters(&g, c1);
	err = take_sample(&g, &s1);
	if (!err) {
		struct timespec ts = { interval_ns / NSEC_PER_SEC, interval_ns % NSEC_PER_SEC };

		while (nanosleep(&ts, &ts) && errno == EINTR)
			;
		t2 = now_boot_ns();
		err = take_sample(&g, &s2);
		gate_read_counters(&g, c2);
	}
	if (err) {
		rc = fail(EXIT_FAIL, "top: cannot read %s: %s", gate_map_names[GM_SRC], strerror(-err));
		goto out;
	}
	secs = (double)(t2 - t1) / NSEC_PER_SEC;
	v = calloc(s2.n ? s2.n : 1, sizeof(*v));
	if (!v) {
		rc = fail(EXIT_FAIL, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < s2.n; i++) {
		const struct mg_src *c = &s2.e[i].s;
		typeof(s1.e) p = s1.n ? bsearch(&s2.e[i].addr, s1.e, s1.n, sizeof(*s1.e), sample_cmp) : NULL;
		uint64_t ps = p && p->s.syns <= c->syns ? p->s.syns : 0;
		uint64_t pd = p && p->s.drops <= c->drops ? p->s.drops : 0;

		if (c->syns == ps)
			continue;
		v[nv].addr = s2.e[i].addr;
		v[nv].syns = c->syns - ps;
		v[nv].drops = c->drops >= pd ? c->drops - pd : 0;
		v[nv].syns_total = c->syns;
		v[nv].drops_total = c->drops;
		nv++;
	}

	struct json_object *doc = json_object_new_object(), *a1 = json_object_new_array(),
			   *a2 = json_object_new_array();

	if (!opts.json)
		printf("sources over the last %s: %zu sent gated SYNs (%zu known)\n"
		       "(SYNs and drops as counted at the quota steps: allowed, denied and banned sources stop earlier; see the end)\n\n",
		       format_duration(t2 - t1, d, sizeof(d)), nv, s2.n);
	qsort(v, nv, sizeof(*v), by_syns);
	top_section(&g, &cfg, "most SYNs", v, nv, max, secs, false, a1);
	if (!opts.json)
		putchar('\n');
	qsort(v, nv, sizeof(*v), by_drops);
	top_section(&g, &cfg, "most drops", v, nv, max, secs, true, a2);
	top_stopped_earlier(&g, c1, c2, t1, t2, secs, doc);
	if (opts.json) {
		json_object_object_add(doc, "interval_s", json_object_new_double(secs));
		json_object_object_add(doc, "active_sources", json_object_new_int64(nv));
		json_object_object_add(doc, "known_sources", json_object_new_int64(s2.n));
		json_object_object_add(doc, "top_syns", a1);
		json_object_object_add(doc, "top_drops", a2);
		json_out(doc);
	} else {
		json_object_put(doc);
		json_object_put(a1);
		json_object_put(a2);
	}
	rc = EXIT_OK;
out:
	free(v);
	free(s1.e);
	free(s2.e);
	gate_close(&g);
	return rc;
}
