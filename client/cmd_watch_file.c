/*
 * cmd_watch_file.c - `doctor watch-file PATH [--name N] [--from-start]` and
 * `doctor unwatch-file PATH`: have the daemon follow a log file like
 * `tail -F` (remembered across its restarts), or stop.
 *
 * Relative paths are made absolute here, against doctor's working
 * directory, since the daemon has its own.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "doctor.h"
#include "format.h"

struct watch_options {
	const char *name;           /* NULL: the daemon names it after the path */
	bool from_start;
	bool as_json;
	char *path;                 /* absolute; owned */
};

/* Options of both commands (--name and --from-start only for watch-file).
 * Returns -1 to go on, else an exit status. */
static int parse_options(const struct doctor_command *cmd, int argc, char **argv,
                         struct watch_options *o)
{
	static const struct option watch_options[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "from-start", no_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const struct option unwatch_options[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool watching = cmd == &cmd_watch_file_entry;
	int opt, rc;

	while ((opt = getopt_long(argc, argv, watching ? "n:h" : "h",
	                          watching ? watch_options : unwatch_options, NULL)) != -1) {
		if (opt == 'n')
			o->name = optarg;
		else if (opt == 's')
			o->from_start = true;
		else if (opt == 'j')
			o->as_json = true;
		else if (opt == 'h')
			return doctor_command_help(cmd);
		else
			return doctor_bad_option(cmd);
	}
	if (argc - optind != 1 || !*argv[optind])
		return doctor_usage_error(cmd, "%s: expected one PATH", cmd->name);
	rc = args_absolute_path_here(argv[optind], &o->path);
	if (rc < 0) {
		doctor_msg("cannot make '%s' absolute: %s", argv[optind], strerror(-rc));
		return DOCTOR_EXIT_ERROR;
	}
	return -1;
}

static void print_watching(const json_t *result, const struct watch_options *o)
{
	const char *path = json_string_value(json_object_get(result, "path"));
	char *safe = format_fit(path ? path : o->path, 0);

	printf("watching %s", safe ? safe : "?");
	if (json_is_integer(json_object_get(result, "source")))
		printf(" (source #%" JSON_INTEGER_FORMAT ")",
		       json_integer_value(json_object_get(result, "source")));
	printf(o->from_start ? ", from its start\n" : ", new lines only\n");
	free(safe);
}

static int call_daemon(const struct doctor_globals *g, const char *method,
                       json_t *params, const struct watch_options *o)
{
	struct rpc_client *c = NULL;
	json_t *result = NULL;
	char *safe;
	int rc;

	if (doctor_connect(g, &c) < 0) {
		json_decref(params);
		return DOCTOR_EXIT_NO_DAEMON;
	}
	rc = doctor_call(c, method, params, &result);
	if (rc == 0 && o->as_json) {
		rc = doctor_print_json(result);
	} else if (rc == 0 && strcmp(method, "source.watch_file") == 0) {
		print_watching(result, o);
	} else if (rc == 0) {
		safe = format_fit(o->path, 0);
		printf("stopped watching %s\n", safe ? safe : "?");
		free(safe);
	}
	json_decref(result);
	rpc_client_free(c);
	return doctor_exit_status(rc);
}

static int cmd_watch_file(const struct doctor_globals *g, int argc, char **argv)
{
	struct watch_options o = { 0 };
	json_t *params;
	int status;

	status = parse_options(&cmd_watch_file_entry, argc, argv, &o);
	if (status >= 0)
		return status;
	params = json_pack("{s:s, s:b}", "path", o.path, "from_start", o.from_start);
	if (params && o.name)
		json_object_set_new(params, "name", json_string(o.name));
	status = call_daemon(g, "source.watch_file", params, &o);
	free(o.path);
	return status;
}

static int cmd_unwatch_file(const struct doctor_globals *g, int argc, char **argv)
{
	struct watch_options o = { 0 };
	int status;

	status = parse_options(&cmd_unwatch_file_entry, argc, argv, &o);
	if (status >= 0)
		return status;
	status = call_daemon(g, "source.unwatch_file", json_pack("{s:s}", "path", o.path), &o);
	free(o.path);
	return status;
}

const struct doctor_command cmd_watch_file_entry = {
	.name = "watch-file",
	.summary = "have the daemon follow a log file",
	.usage =
	"doctor watch-file PATH [--name NAME] [--from-start] [--json]\n"
	"\n"
	"Have the daemon follow the file PATH like `tail -F` (rotation and\n"
	"truncation are handled) as a source of kind \"log\", and keep doing so\n"
	"after it restarts. A relative PATH is taken from the current directory.\n"
	"\n"
	"Options:\n"
	"  -n, --name NAME  the source's name (default: the path)\n"
	"  --from-start     also read what the file holds already (default: only\n"
	"                   lines written from now on)\n"
	"  --json           print the daemon's answer as JSON\n"
	"  -h, --help       show this help",
	.run = cmd_watch_file,
};

const struct doctor_command cmd_unwatch_file_entry = {
	.name = "unwatch-file",
	.summary = "stop following a log file",
	.usage =
	"doctor unwatch-file PATH [--json]\n"
	"\n"
	"Stop following PATH (as given to watch-file; a relative PATH is taken\n"
	"from the current directory). Error -32008 if it was not followed.\n"
	"\n"
	"Options:\n"
	"  --json      print the daemon's answer as JSON\n"
	"  -h, --help  show this help",
	.run = cmd_unwatch_file,
};
