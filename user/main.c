// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* mailgate: the command table. main() only sorts out the global options
 * and dispatches. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mailgate.h"
#include "cli.h"



static const struct cmd {
	const char *name;
	cmd_fn fn;
	const char *help;
} cmds[] = {
	{ "run",      do_run,      "run -i IFACE [-i IFACE2] [-c FILE] [--mode native|generic|auto] [--dry-run]" },
	{ "detach",   do_detach,   "detach [-i IFACE]" },
	{ "status",   do_status,   "status" },
	{ "stats",    do_stats,    "stats [-a] [--watch SECS [--count N]]" },
	{ "top",      do_top,      "top [-n N] [--interval DUR]" },
	{ "allow",    do_allow,    "allow add|del CIDR... [--ttl DUR] | allow list [--all]" },
	{ "deny",     do_deny,     "deny add|del CIDR... [--ttl DUR] | deny list [--all]" },
	{ "ban",      do_ban,      "ban add|del ADDR... [--ttl DUR] | ban list [--all]" },
	{ "lookup",   do_lookup,   "lookup ADDR [--port N]" },
	{ "dnsbl",    do_dnsbl,    "dnsbl check ADDR [-c FILE]" },
	{ "zone",     do_zone,     "zone load FILE [--ttl DUR] | zone export FILE" },
	{ "synflood", do_synflood, "synflood -i IFACE --dst ADDR [--dport 25] [--src CIDR] [--rate PPS] [--count N] [--duration DUR] [--threads N]" },
	{ "config",   do_config,   "config check FILE" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: mailgate [--pin-dir DIR] [--json] [-v] COMMAND ...\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  mailgate %s\n", cmds[i].help);
	fprintf(f, "\nglobal options (anywhere): --pin-dir DIR (or MAILGATE_PIN_DIR; default %s),\n"
		   "  --json (one JSON document on stdout), -v|--verbose (debug logs)\n"
		   "mailgate --version prints the version; mailgate COMMAND --help a command's usage\n"
		   "durations: 30s 10m 1h 1d; rates: 10/s 600/m\n"
		   "exit status: 0 ok, 1 runtime failure, 2 bad usage or input\n", MG_DEFAULT_PIN_DIR);
}

/* Take the global options out of argv wherever they stand; "--" ends them. */
static int take_global_opts(int *argc, char **argv)
{
	int out = 1;

	for (int i = 1; i < *argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--")) {
			while (i < *argc)
				argv[out++] = argv[i++];
			break;
		}
		if (!strcmp(a, "--json")) {
			opts.json = true;
		} else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
			opts.verbose = true;
		} else if (!strcmp(a, "--pin-dir") || !strncmp(a, "--pin-dir=", 10)) {
			if (a[9] == '=') {
				opts.pin_dir = a + 10;
			} else if (i + 1 < *argc) {
				opts.pin_dir = argv[++i];
			} else {
				return fail(EXIT_USAGE, "--pin-dir needs a directory");
			}
			if (!*opts.pin_dir)
				return fail(EXIT_USAGE, "--pin-dir: empty directory name");
		} else {
			argv[out++] = argv[i];
		}
	}
	*argc = out;
	argv[out] = NULL;
	return 0;
}

int main(int argc, char **argv)
{
	const char *env = getenv("MAILGATE_PIN_DIR");
	int err;

	opts.pin_dir = env && *env ? env : MG_DEFAULT_PIN_DIR;
	opts.config = MG_DEFAULT_CONFIG;
	err = take_global_opts(&argc, argv);
	if (err)
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
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].fn(argc - 1, argv + 1);
	return fail(EXIT_USAGE, "unknown command '%s' (try 'mailgate help')", argv[1]);
}
