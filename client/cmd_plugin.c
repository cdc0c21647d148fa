/*
 * cmd_plugin.c - `doctor plugin test FILE CASES`: run a plugin against a
 * folder of cases without a daemon (the plugin host runs in this
 * process), printing TAP. The cases format is in docs/plugins.md.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "doctor.h"
#include "plugins/plugin_test.h"
#include "plugins/plugins_log.h"

/* Also declared in doctor.h with the other entries. */

static bool plugin_verbose;

/* The plugin host's log: warnings and errors on stderr (with -v all),
 * so a dropped diagnosis or a disabled plugin says why. */
void plugins_log(int level, const char *fmt, ...)
{
	va_list ap;

	if (level > LOG_WARN && !plugin_verbose)
		return;
	fputs("doctor: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int cmd_plugin(const struct doctor_globals *g, int argc, char **argv)
{
	static const struct option options[] = {
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "+vh", options, NULL)) != -1) {
		if (opt == 'v')
			plugin_verbose = true;
		else if (opt == 'h')
			return doctor_command_help(&cmd_plugin_entry);
		else
			return doctor_bad_option(&cmd_plugin_entry);
	}
	if (optind >= argc)
		return doctor_usage_error(&cmd_plugin_entry, "plugin: expected 'test FILE CASES'");
	if (strcmp(argv[optind], "test") != 0)
		return doctor_usage_error(&cmd_plugin_entry, "plugin: unknown action '%s'",
		                          argv[optind]);
	if (argc - optind != 3)
		return doctor_usage_error(&cmd_plugin_entry,
		                          "plugin test: expected a plugin FILE and a CASES folder");
	rc = plugin_test_run(argv[optind + 1], argv[optind + 2], stdout);
	return rc == 0 ? DOCTOR_EXIT_OK : DOCTOR_EXIT_ERROR;
}

const struct doctor_command cmd_plugin_entry = {
	.name = "plugin",
	.summary = "test a plugin against example cases",
	.usage =
	"doctor plugin test [-v] FILE CASES\n"
	"\n"
	"Load the Lua plugin FILE alone (no daemon needed) and run it on every\n"
	"case folder of CASES, in name order. A case has `input` (the output a\n"
	"program printed), optionally `context.json` ({\"cwd\", \"python\",\n"
	"\"virtualenv\", \"kind\"}, paths relative to the case folder) and\n"
	"`expected` (null, or JSON matched as a subset of the first diagnosis;\n"
	"{\"contains\": TEXT} matches part of a string; $PYTHON and $CWD stand for\n"
	"the case's paths). Prints TAP; exits 1 if any case fails or the plugin\n"
	"does not load. See docs/plugins.md.\n"
	"\n"
	"Options:\n"
	"  -v, --verbose  show the plugin host's info and debug log too\n"
	"  -h, --help     show this help",
	.run = cmd_plugin,
};
