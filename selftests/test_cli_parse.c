// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The option-table engine (user/cli.c) on a table of its own, row by row:
 * what parses, what is refused with which message and exit code, --help;
 * the global options taken out anywhere; subcommands. Then every real
 * command's table: unique names, help for each option, a message for each
 * value that can be bad. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include "test.h"
#include "mailgate.h"
#include "cli.h"

struct t_opts {
	uint64_t ttl_ns;
	uint32_t n;
	int mode;
	const char *name;
	bool all;
	int seen_odd; /* the CLI_FUNC option: its value's length when odd */
};

static int odd_len(const char *v, void *o)
{
	size_t n = strlen(v);

	if (!(n % 2))
		return -EINVAL;
	((struct t_opts *)o)->seen_odd = (int)n;
	return 0;
}

static const char *const t_modes[] = { "auto", "native", "generic", NULL };
static const struct cli_opt t_table[] = {
	CLI_DURATION("ttl", 't', "DUR", struct t_opts, ttl_ns, 1, 3600 * NSEC_PER_SEC, "expire after DUR",
		     "t: bad ttl '%s'"),
	CLI_U32("count", 'n', "N", struct t_opts, n, 1, 10, "how many", "t: bad count '%s'"),
	CLI_ENUM("mode", 0, struct t_opts, mode, t_modes, "the mode", "t: bad mode '%s'"),
	CLI_STRING("name", 0, "NAME", struct t_opts, name, "a name"),
	CLI_FLAG("all", 'a', struct t_opts, all, "everything"),
	CLI_FUNC("odd", 0, "WORD", odd_len, "a word of odd length", "t: '%s' has an even length"),
	CLI_END
};
static const struct cli_cmd t_cmd = { "t sub", "ARG...", "a test command", t_table };

static char out[8192], err[8192];

/* run f with stdout and stderr captured into out and err */
static int captured(int (*f)(void *), void *arg)
{
	char po[] = "/tmp/mgt-cli-parse-o.XXXXXX", pe[] = "/tmp/mgt-cli-parse-e.XXXXXX";
	int fo = mkstemp(po), fe = mkstemp(pe), so = dup(1), se = dup(2), rc;
	ssize_t n;

	fflush(stdout);
	fflush(stderr);
	dup2(fo, 1);
	dup2(fe, 2);
	rc = f(arg);
	fflush(stdout);
	fflush(stderr);
	dup2(so, 1);
	dup2(se, 2);
	close(so);
	close(se);
	n = pread(fo, out, sizeof(out) - 1, 0);
	out[n > 0 ? n : 0] = 0;
	n = pread(fe, err, sizeof(err) - 1, 0);
	err[n > 0 ? n : 0] = 0;
	close(fo);
	close(fe);
	unlink(po);
	unlink(pe);
	return rc;
}

struct parse_call {
	char *argv[16];
	int argc, npos;
	struct t_opts o;
};

static int call_parse(void *arg)
{
	struct parse_call *c = arg;

	return cli_parse(&t_cmd, c->argc, c->argv, &c->o, &c->npos);
}

/* split a line into argv (argv[0] = "sub"), parse it */
static int parse_line(const char *line, struct parse_call *c)
{
	static char buf[512];
	char *save = NULL;

	memset(c, 0, sizeof(*c));
	snprintf(buf, sizeof(buf), "sub %s", line);
	for (char *w = strtok_r(buf, " ", &save); w && c->argc < 15; w = strtok_r(NULL, " ", &save))
		c->argv[c->argc++] = w;
	return captured(call_parse, c);
}

static const struct {
	const char *line;
	int rc;             /* CLI_GO, EXIT_USAGE */
	const char *err;    /* what the message says (EXIT_USAGE) */
	int npos;           /* CLI_GO: positional arguments */
	const char *pos0;   /* the first of them */
	uint64_t ttl_ns;
	uint32_t n;
	int mode;
	bool all;
} rows[] = {
	{ "a b", CLI_GO, NULL, 2, "a" },
	{ "--ttl 1m a", CLI_GO, NULL, 1, "a", 60 * NSEC_PER_SEC },
	{ "a --ttl=10m b", CLI_GO, NULL, 2, "a", 600 * NSEC_PER_SEC },
	{ "-t 5s -n3 x", CLI_GO, NULL, 1, "x", 5 * NSEC_PER_SEC, 3 },
	{ "x -a --mode generic", CLI_GO, NULL, 1, "x", 0, 0, 2, true },
	{ "-- --all -x", CLI_GO, NULL, 2, "--all" },
	{ "- --count 10", CLI_GO, NULL, 1, "-", 0, 10 },
	{ "--ttl", EXIT_USAGE, "t sub: option '--ttl' needs a value" },
	{ "-t", EXIT_USAGE, "t sub: option '-t' needs a value" },
	{ "--ttl 0", EXIT_USAGE, "t: bad ttl '0'" },
	{ "--ttl 2h", EXIT_USAGE, "t: bad ttl '2h'" },
	{ "--ttl -5m", EXIT_USAGE, "t: bad ttl '-5m'" },
	{ "--count 11", EXIT_USAGE, "t: bad count '11'" },
	{ "-n x", EXIT_USAGE, "t: bad count 'x'" },
	{ "--mode warp", EXIT_USAGE, "t: bad mode 'warp'" },
	{ "--all=yes", EXIT_USAGE, "t sub: option '--all' takes no value" },
	{ "-ax", EXIT_USAGE, "t sub: unknown option '-ax'" },
	{ "--frob", EXIT_USAGE, "t sub: unknown option '--frob'" },
	{ "x -z", EXIT_USAGE, "t sub: unknown option '-z'" },
	{ "--al", EXIT_USAGE, "t sub: unknown option '--al'" },
	{ "--odd ab", EXIT_USAGE, "t: 'ab' has an even length" },
	{ "--odd abc", CLI_GO, NULL, 0 },
};

TEST(parse_rows)
{
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct parse_call c;
		int rc = parse_line(rows[i].line, &c);
		const char *l = rows[i].line;

		if (!ASSERT_EQ(rc, rows[i].rc, l))
			continue;
		if (rc != CLI_GO) {
			if (!ASSERT_TRUE(!strncmp(err, "mailgate: ", 10) && strstr(err, rows[i].err) &&
					 strchr(err, '\n') == err + strlen(err) - 1, l))
				printf("  stderr: %s", err);
			ASSERT_TRUE(!out[0], "nothing on stdout");
			continue;
		}
		ASSERT_TRUE(!err[0], l);
		ASSERT_EQ(c.npos, rows[i].npos, l);
		if (rows[i].pos0 && c.npos)
			ASSERT_TRUE(!strcmp(c.argv[1], rows[i].pos0), l);
		ASSERT_TRUE(c.argv[c.npos + 1] == NULL, "argv ends after the positionals");
		ASSERT_EQ(c.o.ttl_ns, rows[i].ttl_ns, l);
		ASSERT_EQ(c.o.n, rows[i].n, l);
		ASSERT_EQ(c.o.mode, rows[i].mode, l);
		ASSERT_EQ(c.o.all, rows[i].all, l);
	}
}

/* --help: exit 0, stdout only, the usage line and every option of the table */
TEST(help_lists_every_option)
{
	struct parse_call c;

	for (int form = 0; form < 2; form++) {
		ASSERT_EQ(parse_line(form ? "x -h" : "--help --frob", &c), EXIT_OK, "help exits 0");
		ASSERT_TRUE(!err[0], "nothing on stderr");
		ASSERT_TRUE(!strncmp(out, "usage: mailgate t sub ARG... [-t|--ttl DUR] [-n|--count N] ", 59), out);
		/* the usage line, wrapped at 100 columns */
		ASSERT_TRUE(strstr(out, "[--mode auto|native|generic]") && strstr(out, "\n     [--name NAME] [-a|--all] [--odd WORD]\n"),
			    out);
		for (const struct cli_opt *o = t_table; o->name; o++) {
			char want[64];

			snprintf(want, sizeof(want), "--%s", o->name);
			ASSERT_TRUE(strstr(out, want) && strstr(out, o->help), want);
		}
		ASSERT_TRUE(strstr(out, "-h, --help") != NULL, "--help itself");
	}
}

struct take_call {
	char *argv[16];
	int argc;
	struct mg_opts o;
};

static int set_dir(const char *v, void *o)
{
	((struct mg_opts *)o)->pin_dir = v;
	return 0;
}

static const struct cli_opt g_table[] = {
	CLI_FUNC("pin-dir", 0, "DIR", set_dir, "pins", NULL),
	CLI_FLAG("json", 0, struct mg_opts, json, "json"),
	CLI_FLAG("verbose", 'v', struct mg_opts, verbose, "debug"),
	CLI_END
};

static int call_take(void *arg)
{
	struct take_call *c = arg;

	return cli_take(g_table, &c->argc, c->argv, &c->o);
}

TEST(global_options_anywhere)
{
	struct take_call c = {
		.argv = { "mailgate", "ban", "--json", "add", "--pin-dir", "/x", "-v", "192.0.2.1", "--", "--json" },
		.argc = 10,
	};

	ASSERT_EQ(captured(call_take, &c), CLI_GO, "taken");
	ASSERT_TRUE(c.o.json && c.o.verbose && c.o.pin_dir && !strcmp(c.o.pin_dir, "/x"), "all three set");
	ASSERT_EQ(c.argc, 6, "the rest");
	ASSERT_TRUE(!strcmp(c.argv[1], "ban") && !strcmp(c.argv[2], "add") && !strcmp(c.argv[3], "192.0.2.1") &&
		    !strcmp(c.argv[4], "--") && !strcmp(c.argv[5], "--json") && !c.argv[6], "in order; -- ends them");
	c = (struct take_call){ .argv = { "mailgate", "status", "--pin-dir" }, .argc = 3 };
	ASSERT_EQ(captured(call_take, &c), EXIT_USAGE, "--pin-dir without a value");
	ASSERT_TRUE(strstr(err, "mailgate: option '--pin-dir' needs a value") != NULL, err);
}

struct sub_call {
	char *argv[4];
	int argc, which;
};

static const struct cli_cmd s_a = { "s load", "FILE", "load", NULL }, s_b = { "s export", "FILE", "export", NULL };
static const struct cli_cmd *const s_subs[] = { &s_a, &s_b };

static int call_sub(void *arg)
{
	struct sub_call *c = arg;

	return cli_sub("s", s_subs, 2, c->argc, c->argv, &c->which);
}

TEST(subcommands)
{
	struct sub_call c = { .argv = { "s", "export", "f" }, .argc = 3 };

	ASSERT_EQ(captured(call_sub, &c), CLI_GO, "export");
	ASSERT_EQ(c.which, 1, "the second");
	c = (struct sub_call){ .argv = { "s", "frob" }, .argc = 2 };
	ASSERT_EQ(captured(call_sub, &c), EXIT_USAGE, "unknown");
	ASSERT_TRUE(strstr(err, "s: unknown subcommand 'frob' (expected load or export") != NULL, err);
	c = (struct sub_call){ .argv = { "s" }, .argc = 1 };
	ASSERT_EQ(captured(call_sub, &c), EXIT_USAGE, "missing");
	ASSERT_TRUE(strstr(err, "s: missing subcommand") != NULL, err);
	c = (struct sub_call){ .argv = { "s", "--help" }, .argc = 2 };
	ASSERT_EQ(captured(call_sub, &c), EXIT_OK, "--help");
	ASSERT_TRUE(strstr(out, "usage: mailgate s load FILE") && strstr(out, "usage: mailgate s export FILE") &&
		    !err[0], out);
}

/* every command's table: one name per option, help for each, and a message
 * for every value that can be wrong */
TEST(real_tables_well_formed)
{
	const struct cli_cmd *all[] = {
		&cli_run, &cli_detach, &cli_status, &cli_stats, &cli_top, cli_allow[0], cli_allow[1], cli_allow[2],
		cli_deny[0], cli_deny[1], cli_deny[2], cli_ban[0], cli_ban[1], cli_ban[2], &cli_lookup,
		&cli_dnsbl_check, &cli_zone_load, &cli_zone_export, &cli_synflood, &cli_config_check,
	};
	int n_opts = 0;

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		const struct cli_cmd *c = all[i];

		ASSERT_TRUE(c->name && c->about, "a name and a line about it");
		for (const struct cli_opt *o = c->opts; o && o->name; o++, n_opts++) {
			char what[128];

			snprintf(what, sizeof(what), "%s --%s", c->name, o->name);
			ASSERT_TRUE(o->help && *o->help, what);
			ASSERT_TRUE(strcmp(o->name, "help") && o->short_name != 'h', what);
			ASSERT_TRUE(o->type == CLI_T_FLAG || o->type == CLI_T_STRING || (o->bad && strstr(o->bad, "'%s'")) ||
				    (o->type == CLI_T_FUNC && !o->bad), what);
			ASSERT_TRUE(o->type != CLI_T_ENUM || o->names, what);
			for (const struct cli_opt *p = o + 1; p->name; p++) {
				ASSERT_TRUE(strcmp(o->name, p->name), what);
				ASSERT_TRUE(!o->short_name || o->short_name != p->short_name, what);
			}
		}
	}
	ASSERT_RANGE(n_opts, 40, 200, "options in all tables");
}

int main(int argc, char **argv)
{
	return test_main(argc, argv, NULL, NULL);
}
