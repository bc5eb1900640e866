// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* mailgate: the command table. main() only sorts out the global options
 * and dispatches. Every command's options are its table (cli.h); the
 * usage lines here are made from them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mailgate.h"
#include "cli.h"

#define ONE(c) ((const struct cli_cmd *const[]){ &c }), 1
static const struct cmd {
	const char *name;
	cmd_fn fn;
	const struct cli_cmd *const *cli; /* its table, or its subcommands' */
	int n_cli;
} cmds[] = {
	{ "run",      do_run,      ONE(cli_run) },
	{ "detach",   do_detach,   ONE(cli_detach) },
	{ "status",   do_status,   ONE(cli_status) },
	{ "stats",    do_stats,    ONE(cli_stats) },
	{ "top",      do_top,      ONE(cli_top) },
	{ "allow",    do_allow,    cli_allow, 3 },
	{ "deny",     do_deny,     cli_deny, 3 },
	{ "ban",      do_ban,      cli_ban, 3 },
	{ "lookup",   do_lookup,   ONE(cli_lookup) },
	{ "dnsbl",    do_dnsbl,    ONE(cli_dnsbl_check) },
	{ "zone",     do_zone,     (const struct cli_cmd *const[]){ &cli_zone_load, &cli_zone_export }, 2 },
	{ "synflood", do_synflood, ONE(cli_synflood) },
	{ "config",   do_config,   ONE(cli_config_check) },
};
#define N_CMDS (sizeof(cmds) / sizeof(cmds[0]))

static int set_pin_dir(const char *v, void *o)
{
	if (!*v)
		return fail(EXIT_USAGE, "--pin-dir: empty directory name");
	((struct mg_opts *)o)->pin_dir = v;
	return 0;
}

static const struct cli_opt global_opts[] = {
	CLI_FUNC("pin-dir", 0, "DIR", set_pin_dir,
		 "the pinned maps' directory (or $MAILGATE_PIN_DIR; default " MG_DEFAULT_PIN_DIR ")", NULL),
	CLI_FLAG("json", 0, struct mg_opts, json, "one JSON document on stdout (errors too)"),
	CLI_FLAG("verbose", 'v', struct mg_opts, verbose, "debug logs"),
	CLI_END
};
static const struct cli_cmd cli_global = { "mailgate", "COMMAND ...", "global options, anywhere on the line",
					   global_opts };

static void usage(FILE *f)
{
	fprintf(f, "usage: mailgate [--pin-dir DIR] [--json] [-v|--verbose] COMMAND ...\n\ncommands:\n");
	for (size_t i = 0; i < N_CMDS; i++)
		for (int j = 0; j < cmds[i].n_cli; j++)
			cli_usage(cmds[i].cli[j], f, "", 2);
	fprintf(f, "\nglobal options (anywhere):\n");
	cli_options(&cli_global, f, false);
	fprintf(f, "\nmailgate --version prints the version; mailgate COMMAND --help a command's options;\n"
		   "mailgate --list-options [COMMAND...] every option, one a line (for scripts)\n"
		   "durations: 30s 10m 1h 1d; rates: 10/s 600/m\n"
		   "exit status: 0 ok, 1 runtime failure, 2 bad usage or input\n");
}

/* mailgate --list-options [COMMAND...]: every option of every table, one a
 * line (cli_list_options()), for the tests that keep the man page and the
 * completion in step with the code */
static int list_options(int argc, char **argv)
{
	int found = argc < 2;

	if (argc < 2)
		cli_list_options(&cli_global, stdout, false);
	for (size_t i = 0; i < N_CMDS; i++) {
		bool want = argc < 2;

		for (int a = 1; a < argc; a++)
			want |= !strcmp(argv[a], cmds[i].name);
		for (int j = 0; want && j < cmds[i].n_cli; j++)
			cli_list_options(cmds[i].cli[j], stdout, true);
		found += want;
	}
	return found ? EXIT_OK : fail(EXIT_USAGE, "--list-options: no such command");
}

int main(int argc, char **argv)
{
	const char *env = getenv("MAILGATE_PIN_DIR");
	int err;

	opts.pin_dir = env && *env ? env : MG_DEFAULT_PIN_DIR;
	opts.config = MG_DEFAULT_CONFIG;
	err = cli_take(global_opts, &argc, argv, &opts);
	if (err != CLI_GO)
		return err;
	if (opts.verbose)
		log_level = LOG_LVL_DEBUG;
	log_setup_libbpf();

	if (argc < 2 || !strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : EXIT_OK;
	}
	if (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version")) {
		printf("mailgate %s\n", MG_VERSION);
		return EXIT_OK;
	}
	if (!strcmp(argv[1], "--list-options"))
		return list_options(argc - 1, argv + 1);
	for (size_t i = 0; i < N_CMDS; i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].fn(argc - 1, argv + 1);
	return fail(EXIT_USAGE, "unknown command '%s' (try 'mailgate help')", argv[1]);
}
