// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The option tables' engine (cli.h): parsing, --help and usage lines. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include "mailgate.h"
#include "cli.h"

static const struct cli_opt help_opt = {
	.name = "help", .short_name = 'h', .type = CLI_T_FLAG, .help = "show this help",
};

/* the table's options, then --help: NULL after the last */
static const struct cli_opt *next_opt(const struct cli_cmd *c, const struct cli_opt *o)
{
	if (!o)
		return c->opts && c->opts->name ? c->opts : &help_opt;
	if (o == &help_opt)
		return NULL;
	return o[1].name ? o + 1 : &help_opt;
}

static bool takes_value(const struct cli_opt *o)
{
	return o->type != CLI_T_FLAG;
}

/* the value's name: arg, or for an enum its names joined by | */
static const char *arg_name(const struct cli_opt *o, char *buf, size_t len)
{
	size_t off = 0;

	if (o->arg || o->type != CLI_T_ENUM)
		return o->arg ? o->arg : "";
	buf[0] = 0;
	for (int i = 0; o->names[i] && off < len; i++)
		off += snprintf(buf + off, len - off, "%s%s", i ? "|" : "", o->names[i]);
	return buf;
}

/* the option named by a (without its "=value"), NULL when none */
static const struct cli_opt *find_opt(const struct cli_opt *t, const char *a, size_t n, bool with_help)
{
	if (a[1] != '-') { /* -x */
		for (; t && t->name; t++)
			if (t->short_name && t->short_name == a[1])
				return t;
		return with_help && a[1] == 'h' ? &help_opt : NULL;
	}
	for (; t && t->name; t++)
		if (strlen(t->name) == n - 2 && !strncmp(a + 2, t->name, n - 2))
			return t;
	return with_help && n == 6 && !strncmp(a, "--help", 6) ? &help_opt : NULL;
}

/* store value into opts by o's type: 0 or EXIT_USAGE after a message */
static int set_value(const char *cmd, const struct cli_opt *o, const char *v, void *opts)
{
	void *field = (char *)opts + o->off;
	uint64_t ns;
	uint32_t u;
	int r;

	switch (o->type) {
	case CLI_T_FLAG:
		*(bool *)field = true;
		return 0;
	case CLI_T_STRING:
		*(const char **)field = v;
		return 0;
	case CLI_T_U32:
		if (parse_u32(v, (uint32_t)o->min, (uint32_t)o->max, &u))
			break;
		*(uint32_t *)field = u;
		return 0;
	case CLI_T_DURATION:
		if (parse_duration(v, &ns) || ns < o->min || (o->max && ns > o->max))
			break;
		*(uint64_t *)field = ns;
		return 0;
	case CLI_T_ENUM:
		for (int i = 0; o->names[i]; i++)
			if (!strcmp(v, o->names[i])) {
				*(int *)field = i;
				return 0;
			}
		break;
	case CLI_T_FUNC:
		r = o->parse(v, field);
		if (r != -EINVAL)
			return r;
		break;
	}
	if (o->bad)
		return fail(EXIT_USAGE, o->bad, v);
	return fail(EXIT_USAGE, "%s%sbad value '%s' for --%s", cmd, *cmd ? ": " : "", v, o->name);
}

/* argv[*i] is an option of t: take it (and its value); CLI_GO, a parsed
 * option, 0 after --help, else the exit code after a message. *o is the
 * option taken (NULL: not one of t's). */
static int take_opt(const char *cmd, const struct cli_opt *t, bool with_help, int argc, char **argv, int *i,
		    void *opts, const struct cli_opt **found)
{
	const char *a = argv[*i], *v = NULL;
	const char *eq = strchr(a, '=');
	size_t n = a[1] == '-' ? (eq ? (size_t)(eq - a) : strlen(a)) : 2;
	const struct cli_opt *o = find_opt(t, a, n, with_help);

	*found = o;
	if (!o || o == &help_opt)
		return CLI_GO;
	if (a[1] == '-' && eq)
		v = eq + 1;
	else if (a[1] != '-' && a[2])
		v = a + 2;
	if (!takes_value(o)) {
		if (v)
			return a[1] == '-' ? fail(EXIT_USAGE, "%s%soption '%.*s' takes no value", cmd, *cmd ? ": " : "",
						  (int)n, a)
					   : fail(EXIT_USAGE, "%s%sunknown option '%s'", cmd, *cmd ? ": " : "", a);
	} else if (!v) {
		if (*i + 1 >= argc)
			return fail(EXIT_USAGE, "%s%soption '%s' needs a value", cmd, *cmd ? ": " : "", a);
		v = argv[++*i];
	}
	return set_value(cmd, o, v, opts) ? EXIT_USAGE : CLI_GO;
}

int cli_parse(const struct cli_cmd *c, int argc, char **argv, void *opts, int *npos)
{
	int out = 1;

	for (int i = 1; i < argc; i++) {
		const struct cli_opt *o;
		char *a = argv[i];
		int rc;

		if (!strcmp(a, "--")) {
			while (++i < argc)
				argv[out++] = argv[i];
			break;
		}
		if (a[0] != '-' || !a[1]) { /* "-" is a positional argument (stdout, stdin) */
			argv[out++] = a;
			continue;
		}
		rc = take_opt(c->name, c->opts, true, argc, argv, &i, opts, &o);
		if (rc != CLI_GO)
			return rc;
		if (!o)
			return fail(EXIT_USAGE, "%s: unknown option '%s'", c->name, a);
		if (o == &help_opt) {
			cli_help(c, stdout);
			return EXIT_OK;
		}
	}
	*npos = out - 1;
	argv[out] = NULL;
	if (!c->args && *npos)
		return fail(EXIT_USAGE, "%s: unexpected argument '%s'", c->name, argv[1]);
	return CLI_GO;
}

int cli_take(const struct cli_opt *t, int *argc, char **argv, void *opts)
{
	int out = 1;

	for (int i = 1; i < *argc; i++) {
		const struct cli_opt *o = NULL;
		int rc;

		if (!strcmp(argv[i], "--")) {
			while (i < *argc)
				argv[out++] = argv[i++];
			break;
		}
		if (argv[i][0] == '-' && argv[i][1]) {
			rc = take_opt("", t, false, *argc, argv, &i, opts, &o);
			if (rc != CLI_GO)
				return rc;
		}
		if (!o)
			argv[out++] = argv[i];
	}
	*argc = out;
	argv[out] = NULL;
	return CLI_GO;
}

static const char *last_word(const char *name)
{
	const char *sp = strrchr(name, ' ');

	return sp ? sp + 1 : name;
}

int cli_sub(const char *cmd, const struct cli_cmd *const *subs, int n, int argc, char **argv, int *which)
{
	char names[256];
	size_t off = 0;

	if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		for (int i = 0; i < n; i++) {
			if (i)
				putchar('\n');
			cli_help(subs[i], stdout);
		}
		return EXIT_OK;
	}
	for (int i = 0; i < n; i++) {
		if (argc >= 2 && !strcmp(argv[1], last_word(subs[i]->name))) {
			*which = i;
			return CLI_GO;
		}
		off += snprintf(names + off, sizeof(names) - off, "%s%s", i == 0 ? "" : i == n - 1 ? " or " : ", ",
				last_word(subs[i]->name));
	}
	if (argc < 2)
		return fail(EXIT_USAGE, "%s: missing subcommand (%s; 'mailgate %s --help' shows the usage)", cmd, names,
			    cmd);
	return fail(EXIT_USAGE, "%s: unknown subcommand '%s' (expected %s; 'mailgate %s --help' shows the usage)", cmd,
		    argv[1], names, cmd);
}

/* one option as the usage line shows it: "[-t|--ttl DUR]" */
static void opt_synopsis(const struct cli_opt *o, char *buf, size_t len)
{
	char names[256];
	const char *arg = arg_name(o, names, sizeof(names));
	bool req = o->flags & CLI_REQUIRED;
	char sh[4] = "";

	if (o->short_name)
		snprintf(sh, sizeof(sh), "-%c|", o->short_name);
	snprintf(buf, len, "%s%s--%s%s%s%s%s", req ? "" : "[", sh, o->name, *arg ? " " : "", arg,
		 o->flags & CLI_REPEAT ? "..." : "", req ? "" : "]");
}

void cli_usage(const struct cli_cmd *c, FILE *f, const char *prefix, int indent)
{
	int col = fprintf(f, "%*s%smailgate %s%s%s", indent, "", prefix, c->name, c->args ? " " : "",
			  c->args ? c->args : "");

	for (const struct cli_opt *o = c->opts; o && o->name; o++) {
		char s[512];

		opt_synopsis(o, s, sizeof(s));
		if (col + 1 + (int)strlen(s) > 100)
			col = fprintf(f, "\n%*s", indent + 4, "") - 1;
		col += fprintf(f, " %s", s);
	}
	fputc('\n', f);
}

void cli_options(const struct cli_cmd *c, FILE *f, bool with_help)
{
	char names[256], left[320];
	int w = 0;

	for (int pass = 0; pass < 2; pass++) {
		for (const struct cli_opt *p = next_opt(c, NULL); p; p = next_opt(c, p)) {
			const char *arg = arg_name(p, names, sizeof(names));
			int n;

			if (p == &help_opt && !with_help)
				continue;
			if (p->short_name)
				n = snprintf(left, sizeof(left), "-%c, --%s%s%s", p->short_name, p->name, *arg ? " " : "", arg);
			else
				n = snprintf(left, sizeof(left), "    --%s%s%s", p->name, *arg ? " " : "", arg);
			if (pass == 0 && n > w)
				w = n;
			if (pass == 1)
				fprintf(f, "  %-*s  %s\n", w, left, p->help ? p->help : "");
		}
	}
}

void cli_help(const struct cli_cmd *c, FILE *f)
{
	cli_usage(c, f, "usage: ", 0);
	if (c->about)
		fprintf(f, "%s\n", c->about);
	fprintf(f, "\noptions:\n");
	cli_options(c, f, true);
}

void cli_list_options(const struct cli_cmd *c, FILE *f, bool with_help)
{
	char names[256];

	for (const struct cli_opt *p = next_opt(c, NULL); p; p = next_opt(c, p)) {
		const char *arg = arg_name(p, names, sizeof(names));
		char sh[3] = { '-', p->short_name, 0 };

		if (p == &help_opt && !with_help)
			continue;

		fprintf(f, "%s\t--%s\t%s\t%s\n", c->name, p->name, p->short_name ? sh : "-", *arg ? arg : "-");
	}
}
