/*
 * cmd_send.c - `doctor send --kind KIND --name NAME [--cwd DIR] [--json]`:
 * give the daemon a finished output (a log, a saved terminal session) on
 * stdin as a raw source, and print the incidents it found there.
 *
 * What is known about where the output came from goes into the source's
 * context (docs/protocol.md: free-form): the directory, and from the shell
 * hooks the command line, its exit status, the shell, and the Python
 * interpreter that ran, so that plugins propose remedies for that
 * interpreter and no other.
 *
 * Unlike `doctor run`, nothing is dropped here: the input is a file, so the
 * daemon may set the pace (each write waits at most the reply timeout for
 * progress).
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "doctor.h"
#include "incident_view.h"

struct send_options {
	const char *kind;
	const char *name;
	const char *cwd;            /* NULL: the current directory */
	const char *python;         /* NULL: not known; relative to cwd */
	const char *command;        /* the command line; NULL: not known */
	const char *shell;          /* NULL: not known */
	long exit_status;           /* -1: not known */
	bool as_json;
};

static bool kind_known(const char *kind)
{
	static const char *const kinds[] = { "log", "command", "notebook", "shell" };
	size_t i;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(kind, kinds[i]) == 0)
			return true;
	return false;
}

/* An option's value that must not be empty: -1 to go on, else an exit
 * status. */
static int take_text(const char *option, const char **out)
{
	if (!*optarg)
		return doctor_usage_error(&cmd_send_entry, "send: %s must not be empty", option);
	*out = optarg;
	return -1;
}

/* One option; -1 to go on, else an exit status. */
static int take_option(int opt, struct send_options *o)
{
	switch (opt) {
	case 'k':
		o->kind = optarg;
		return -1;
	case 'n':
		o->name = optarg;
		return -1;
	case 'C':
		o->cwd = optarg;
		return -1;
	case 'P':
		return take_text("--python", &o->python);
	case 'c':
		return take_text("--command", &o->command);
	case 'S':
		return take_text("--shell", &o->shell);
	case 'x':
		if (args_parse_long(optarg, 0, 255, &o->exit_status) < 0)
			return doctor_usage_error(&cmd_send_entry, "send: --exit-status: expected "
			                          "a number from 0 to 255, got '%s'", optarg);
		return -1;
	case 'j':
		o->as_json = true;
		return -1;
	case 'h':
		return doctor_command_help(&cmd_send_entry);
	default:
		return doctor_bad_option(&cmd_send_entry);
	}
}

/* Returns -1 to go on, else an exit status. */
static int parse_options(int argc, char **argv, struct send_options *o)
{
	static const struct option options[] = {
		{ "kind", required_argument, NULL, 'k' },
		{ "name", required_argument, NULL, 'n' },
		{ "cwd", required_argument, NULL, 'C' },
		{ "python", required_argument, NULL, 'P' },
		{ "command", required_argument, NULL, 'c' },
		{ "exit-status", required_argument, NULL, 'x' },
		{ "shell", required_argument, NULL, 'S' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt, status;

	o->exit_status = -1;
	while ((opt = getopt_long(argc, argv, "k:n:C:h", options, NULL)) != -1)
		if ((status = take_option(opt, o)) >= 0)
			return status;
	if (optind < argc)
		return doctor_usage_error(&cmd_send_entry, "send: unexpected argument '%s' "
		                          "(the input is read from stdin)", argv[optind]);
	if (!o->kind || !kind_known(o->kind))
		return doctor_usage_error(&cmd_send_entry, "send: --kind must be one of log, "
		                          "command, notebook, shell");
	if (!o->name || !*o->name)
		return doctor_usage_error(&cmd_send_entry, "send: --name NAME is required");
	return -1;
}

/* The source's context: {cwd, python?, command?, exit_status?, shell?},
 * the paths absolute (python against cwd, as a shell would have run it).
 * New reference, or NULL when out of memory. */
static json_t *context_of(const struct send_options *o, const char *cwd)
{
	char *python = o->python ? args_absolute_path(o->python, cwd) : NULL;
	json_t *context = json_pack("{s:s}", "cwd", cwd);

	if (context && python)
		json_object_set_new(context, "python", json_string(python));
	if (context && o->command)
		json_object_set_new(context, "command", json_string(o->command));
	if (context && o->exit_status >= 0)
		json_object_set_new(context, "exit_status", json_integer(o->exit_status));
	if (context && o->shell)
		json_object_set_new(context, "shell", json_string(o->shell));
	if (o->python && !python) {
		json_decref(context);
		context = NULL;
	}
	free(python);
	return context;
}

/* source.open's params, with the context's paths made absolute. */
static int open_params(const struct send_options *o, json_t **out)
{
	json_t *context;
	char *cwd;
	int rc;

	*out = NULL;
	rc = args_absolute_path_here(o->cwd ? o->cwd : ".", &cwd);
	if (rc < 0)
		return rc;
	context = context_of(o, cwd);
	if (context)    /* "o" steals context, even when packing fails */
		*out = json_pack("{s:s, s:s, s:o, s:b}", "kind", o->kind, "name", o->name,
		                 "context", context, "raw", 1);
	free(cwd);
	return *out ? 0 : -ENOMEM;
}

/* Copy stdin to the daemon. Read errors are said here (exit 1); the
 * daemon's are returned for doctor_report_failure. */
static int stream_stdin(struct rpc_client *c, bool *read_failed)
{
	char buf[64 * 1024];
	ssize_t n;
	int rc;

	for (;;) {
		n = read(STDIN_FILENO, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*read_failed = true;
			doctor_msg("cannot read standard input: %s", strerror(errno));
			return -errno;
		}
		if (n == 0)
			return rpc_client_shutdown_write(c);
		rc = rpc_client_write(c, buf, (size_t)n);
		if (rc < 0)
			return rc;
	}
}

static int print_found(const json_t *closed, bool as_json)
{
	const json_t *incidents = json_object_get(closed, "incidents");

	if (!json_is_array(incidents))
		return -EBADMSG;
	if (as_json)
		return doctor_print_json(incidents);
	if (json_array_size(incidents) == 0) {
		puts("no errors found");
		return 0;
	}
	return incident_view_table(stdout, incidents, incident_view_now(),
	                           doctor_terminal_width(STDOUT_FILENO));
}

static int cmd_send(const struct doctor_globals *g, int argc, char **argv)
{
	struct send_options o = { 0 };
	struct rpc_client *c = NULL;
	json_t *params = NULL, *opened = NULL, *closed = NULL;
	bool read_failed = false;
	int status, rc;

	status = parse_options(argc, argv, &o);
	if (status >= 0)
		return status;
	rc = open_params(&o, &params);
	if (rc < 0) {
		doctor_msg("cannot make the working directory absolute: %s", strerror(-rc));
		return DOCTOR_EXIT_ERROR;
	}
	if (doctor_connect(g, &c) < 0) {
		json_decref(params);
		return DOCTOR_EXIT_NO_DAEMON;
	}
	rc = doctor_call(c, "source.open", params, &opened);
	if (rc < 0)
		goto out;
	if (isatty(STDIN_FILENO))
		doctor_msg("reading the output to check from the terminal; end it with Ctrl-D");
	rc = stream_stdin(c, &read_failed);
	if (rc == 0)
		rc = rpc_client_wait_for(c, "source.closed", rpc_client_timeout(c), &closed);
	if (rc == 0)
		rc = print_found(closed, o.as_json);
	if (rc < 0 && !read_failed && rc != -EIO)
		doctor_report_failure(c, rc, NULL);
out:
	json_decref(opened);
	json_decref(closed);
	rpc_client_free(c);
	return read_failed ? DOCTOR_EXIT_ERROR : doctor_exit_status(rc);
}

const struct doctor_command cmd_send_entry = {
	.name = "send",
	.summary = "check output given on stdin for errors",
	.usage =
	"doctor send --kind log|command|notebook|shell --name NAME [--cwd DIR]\n"
	"            [--python PATH] [--command LINE] [--exit-status N] [--shell NAME]\n"
	"            [--json] < FILE\n"
	"\n"
	"Send stdin to the daemon as a source of that kind and name, wait until\n"
	"it has been read, and print the incidents found in it (or \"no errors\n"
	"found\"). The incidents stay in the daemon like any others. What is\n"
	"known about where the output came from is recorded in the source's\n"
	"context; the shell hooks give all of it.\n"
	"\n"
	"Options:\n"
	"  -k, --kind KIND     log, command, notebook or shell (required)\n"
	"  -n, --name NAME     the source's name, e.g. the file's (required)\n"
	"  -C, --cwd DIR       the directory the output was made in, for relative\n"
	"                      paths in it (default: the current directory)\n"
	"  --python PATH       the Python interpreter that wrote the output; remedies\n"
	"                      then install into it (relative: to the --cwd DIR)\n"
	"  --command LINE      the command line that wrote it\n"
	"  --exit-status N     its exit status (0 to 255)\n"
	"  --shell NAME        the shell it ran in, e.g. bash\n"
	"  --json              print the incidents found as a JSON array\n"
	"  -h, --help          show this help",
	.run = cmd_send,
};
