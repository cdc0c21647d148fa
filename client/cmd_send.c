/*
 * cmd_send.c - `doctor send --kind KIND --name NAME [--cwd DIR] [--json]`:
 * give the daemon a finished output (a log, a saved terminal session) on
 * stdin as a raw source, and print the incidents it found there.
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

/* Returns -1 to go on, else an exit status. */
static int parse_options(int argc, char **argv, struct send_options *o)
{
	static const struct option options[] = {
		{ "kind", required_argument, NULL, 'k' },
		{ "name", required_argument, NULL, 'n' },
		{ "cwd", required_argument, NULL, 'C' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	while ((opt = getopt_long(argc, argv, "k:n:C:h", options, NULL)) != -1) {
		switch (opt) {
		case 'k':
			o->kind = optarg;
			break;
		case 'n':
			o->name = optarg;
			break;
		case 'C':
			o->cwd = optarg;
			break;
		case 'j':
			o->as_json = true;
			break;
		case 'h':
			return doctor_command_help(&cmd_send_entry);
		default:
			return doctor_bad_option(&cmd_send_entry);
		}
	}
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

/* source.open's params, with context.cwd made absolute. */
static int open_params(const struct send_options *o, json_t **out)
{
	char *cwd;
	int rc;

	*out = NULL;
	rc = args_absolute_path_here(o->cwd ? o->cwd : ".", &cwd);
	if (rc < 0)
		return rc;
	*out = json_pack("{s:s, s:s, s:{s:s}, s:b}", "kind", o->kind, "name", o->name,
	                 "context", "cwd", cwd, "raw", 1);
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
	"doctor send --kind log|command|notebook|shell --name NAME [--cwd DIR] [--json] < FILE\n"
	"\n"
	"Send stdin to the daemon as a source of that kind and name, wait until\n"
	"it has been read, and print the incidents found in it (or \"no errors\n"
	"found\"). The incidents stay in the daemon like any others.\n"
	"\n"
	"Options:\n"
	"  -k, --kind KIND  log, command, notebook or shell (required)\n"
	"  -n, --name NAME  the source's name, e.g. the file's (required)\n"
	"  -C, --cwd DIR    the directory the output was made in, for relative\n"
	"                   paths in it (default: the current directory)\n"
	"  --json           print the incidents found as a JSON array\n"
	"  -h, --help       show this help",
	.run = cmd_send,
};
