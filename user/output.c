// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* One writer for --json and human output. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <linux/magic.h>
#include <json-c/json.h>
#include "mailgate.h"
#include "cli.h"

/* the global options (main.c fills them); here so that tests link without main.o */
struct mg_opts opts;

/* doubles in JSON with 10 significant digits: 0.9997552630, not 0.99975526299999995 */
__attribute__((constructor)) static void json_double_format(void)
{
	json_c_set_serialization_double_format("%.10g", JSON_C_OPTION_GLOBAL);
}

int fail(int code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (opts.json) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "error", json_object_new_string(msg));
		json_object_object_add(o, "exit_code", json_object_new_int(code));
		json_out(o);
	} else {
		fprintf(stderr, "mailgate: %s\n", msg);
	}
	return code;
}

void json_out(struct json_object *doc)
{
	puts(json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(doc);
}

const char *format_count(double v, char *buf, size_t len)
{
	static const char *const sfx[] = { "", "k", "M", "G", "T" };
	int i = 0;

	while (v >= 1000 && i < 4) {
		v /= 1000;
		i++;
	}
	/* one decimal below 10 unless it is a whole number: 2.5, 1.2k, 4M */
	if (v < 10 && fabs(v - round(v)) >= 0.05)
		snprintf(buf, len, "%.1f%s", v, sfx[i]);
	else
		snprintf(buf, len, "%.0f%s", v, sfx[i]);
	return buf;
}

const char *const mg_origin_names[MG_ORIGIN_MAX] = {
	[MG_ORIGIN_CLI] = "cli",     [MG_ORIGIN_CONFIG] = "config", [MG_ORIGIN_ZONE] = "zone",
	[MG_ORIGIN_QUOTA] = "quota", [MG_ORIGIN_DNSBL] = "dnsbl",
	[MG_ORIGIN_CROWDSEC] = "crowdsec",
};

const char *origin_name(uint32_t origin)
{
	return origin < MG_ORIGIN_MAX ? mg_origin_names[origin] : "unknown";
}

/* The pin dir, or the nearest of its parents that exists, is on a bpf
 * filesystem: 0, -EXDEV when it is not (`ip netns exec` mounts a new /sys,
 * which hides /sys/fs/bpf), else -errno. */
static int pin_dir_on_bpffs(const char *dir)
{
	char path[PATH_MAX], *slash;
	struct statfs sf;

	snprintf(path, sizeof(path), "%s", dir);
	while (statfs(path, &sf)) {
		if (errno != ENOENT || !(slash = strrchr(path, '/')) || slash == path)
			return -errno;
		*slash = 0;
	}
	return sf.f_type == BPF_FS_MAGIC ? 0 : -EXDEV;
}

int cli_open_gate(struct gate *g)
{
	int err = gate_open_pinned(g, opts.pin_dir);

	if (!err)
		return 0;
	if (pin_dir_on_bpffs(opts.pin_dir) == -EXDEV)
		return fail(EXIT_FAIL, "%s is not on a bpf filesystem here: no pinned maps can be seen. "
			    "Under `ip netns exec` (it mounts a /sys of its own, hiding /sys/fs/bpf) use "
			    "`nsenter --net=/run/netns/NAME mailgate ...` instead; else mount it: mount -t bpf bpf /sys/fs/bpf",
			    opts.pin_dir);
	if (err == -EPERM || err == -EACCES)
		return fail(EXIT_FAIL, "this command needs root (CAP_BPF/CAP_SYS_ADMIN)");
	if (err == -ENOENT)
		return fail(EXIT_FAIL, "no mailgate state under %s: is `mailgate run` running? (--pin-dir / MAILGATE_PIN_DIR)",
			    opts.pin_dir);
	return fail(EXIT_FAIL, "cannot open the pinned maps under %s: %s", opts.pin_dir, strerror(-err));
}

const char *format_expiry(uint64_t expires_ns, uint64_t now, char *buf, size_t len)
{
	char d[32];

	if (!expires_ns)
		snprintf(buf, len, "never");
	else if (expires_ns > now)
		snprintf(buf, len, "in %s", format_duration(expires_ns - now, d, sizeof(d)));
	else
		snprintf(buf, len, "expired %s ago", format_duration(now - expires_ns, d, sizeof(d)));
	return buf;
}

const char *format_rate(uint64_t interval_ns, char *buf, size_t len)
{
	static const struct { uint64_t secs; char unit; } per[] = {
		{ 1, 's' }, { 60, 'm' }, { 3600, 'h' }, { 86400, 'd' },
	};
	char n[32];
	double v = 0;
	size_t i;

	if (!interval_ns) {
		snprintf(buf, len, "off");
		return buf;
	}
	/* the smallest unit that gives at least 1: 10/s, 30/m, 2/h */
	for (i = 0; i < sizeof(per) / sizeof(per[0]); i++) {
		v = (double)per[i].secs * NSEC_PER_SEC / interval_ns;
		if (v >= 1 || i == sizeof(per) / sizeof(per[0]) - 1)
			break;
	}
	snprintf(buf, len, "%s/%c", format_count(v, n, sizeof(n)), per[i].unit);
	return buf;
}

struct json_object *json_rate(uint64_t interval_ns)
{
	return json_object_new_double(interval_ns ? (double)NSEC_PER_SEC / interval_ns : 0);
}

/* ---- aligned tables for human output ---- */
struct table {
	int ncols, nrows, cap;
	char **cells;        /* nrows * ncols */
	unsigned right;      /* bit per column: right-aligned */
};

struct table *table_new(int ncols, unsigned right_cols)
{
	struct table *t = calloc(1, sizeof(*t));

	if (t) {
		t->ncols = ncols;
		t->right = right_cols;
	}
	return t;
}

void table_row(struct table *t, ...)
{
	va_list ap;

	if (!t)
		return;
	if (t->nrows == t->cap) {
		int cap = t->cap ? t->cap * 2 : 16;
		char **c = realloc(t->cells, sizeof(*c) * cap * t->ncols);

		if (!c)
			return;
		t->cells = c;
		t->cap = cap;
	}
	va_start(ap, t);
	for (int i = 0; i < t->ncols; i++) {
		const char *s = va_arg(ap, const char *);

		t->cells[t->nrows * t->ncols + i] = strdup(s ? s : "");
	}
	va_end(ap);
	t->nrows++;
}

void table_print(struct table *t, FILE *f, int indent)
{
	int w[32] = { 0 };

	if (!t)
		return;
	for (int r = 0; r < t->nrows; r++)
		for (int i = 0; i < t->ncols && i < 32; i++) {
			const char *c = t->cells[r * t->ncols + i];
			int n = c ? (int)strlen(c) : 0;

			if (n > w[i])
				w[i] = n;
		}
	for (int r = 0; r < t->nrows; r++) {
		char line[4096];
		size_t off = 0;

		off += snprintf(line, sizeof(line), "%*s", indent, "");
		for (int i = 0; i < t->ncols && i < 32 && off < sizeof(line); i++) {
			const char *c = t->cells[r * t->ncols + i];

			off += snprintf(line + off, sizeof(line) - off, (t->right & (1u << i)) ? "%*s" : "%-*s",
					w[i], c ? c : "");
			if (i < t->ncols - 1 && off < sizeof(line))
				off += snprintf(line + off, sizeof(line) - off, "  ");
		}
		if (off >= sizeof(line))
			off = sizeof(line) - 1;
		while (off > 0 && line[off - 1] == ' ')
			off--;
		line[off] = 0;
		fprintf(f, "%s\n", line);
	}
}

void table_free(struct table *t)
{
	if (!t)
		return;
	for (int i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}
