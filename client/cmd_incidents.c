/*
 * cmd_incidents.c - `doctor incidents [--json] [--limit N] [--exception TYPE]`:
 * the incidents the daemon holds, most recently seen first, as a table cut
 * to the terminal's width.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <unistd.h>

#include "args.h"
#include "doctor.h"
#include "incident_view.h"

struct incidents_options {
	bool as_json;
	long limit;                 /* 0: the daemon's default */
	const char *exception;      /* NULL: any */
};

/* Returns -1 to go on, else an exit status. */
static int parse_options(int argc, char **argv, struct incidents_options *o)
{
	static const struct option options[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "limit", required_argument, NULL, 'n' },
		{ "exception", required_argument, NULL, 'e' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	while ((opt = getopt_long(argc, argv, "n:e:h", options, NULL)) != -1) {
		switch (opt) {
		case 'j':
			o->as_json = true;
			break;
		case 'n':
			if (args_parse_long(optarg, 1, 1000, &o->limit) < 0)
				return doctor_usage_error(&cmd_incidents_entry,
				        "--limit: expected a number from 1 to 1000, got '%s'", optarg);
			break;
		case 'e':
			o->exception = optarg;
			break;
		case 'h':
			return doctor_command_help(&cmd_incidents_entry);
		default:
			return doctor_bad_option(&cmd_incidents_entry);
		}
	}
	if (optind < argc)
		return doctor_usage_error(&cmd_incidents_entry,
		                          "incidents: unexpected argument '%s'", argv[optind]);
	return -1;
}

static json_t *list_params(const struct incidents_options *o)
{
	json_t *params = json_object();

	if (params && o->limit > 0)
		json_object_set_new(params, "limit", json_integer(o->limit));
	if (params && o->exception)
		json_object_set_new(params, "exception", json_string(o->exception));
	return params;
}

static int print_incidents(const json_t *incidents, const struct incidents_options *o)
{
	if (o->as_json)
		return doctor_print_json(incidents);
	if (json_array_size(incidents) == 0) {
		puts(o->exception ? "no incidents of that exception" : "no incidents");
		return 0;
	}
	return incident_view_table(stdout, incidents, incident_view_now(),
	                           doctor_terminal_width(STDOUT_FILENO));
}

static int cmd_incidents(const struct doctor_globals *g, int argc, char **argv)
{
	struct incidents_options o = { 0 };
	struct rpc_client *c = NULL;
	json_t *result = NULL, *incidents;
	int status, rc;

	status = parse_options(argc, argv, &o);
	if (status >= 0)
		return status;
	if (doctor_connect(g, &c) < 0)
		return DOCTOR_EXIT_NO_DAEMON;
	rc = doctor_call(c, "incident.list", list_params(&o), &result);
	if (rc == 0) {
		incidents = json_object_get(result, "incidents");
		rc = json_is_array(incidents) ? print_incidents(incidents, &o) : -EBADMSG;
		if (rc == -EBADMSG)
			doctor_report_failure(c, rc, NULL);
	}
	json_decref(result);
	rpc_client_free(c);
	return doctor_exit_status(rc);
}

const struct doctor_command cmd_incidents_entry = {
	.name = "incidents",
	.summary = "list incidents, most recently seen first",
	.usage =
	"doctor incidents [--json] [--limit N] [--exception TYPE]\n"
	"\n"
	"List the incidents (errors, deduplicated) the daemon holds, most\n"
	"recently seen first: ID, COUNT, LAST SEEN, SOURCE, EXCEPTION: MESSAGE.\n"
	"On a terminal each line is cut to its width.\n"
	"\n"
	"Options:\n"
	"  -n, --limit N         show at most N (1 to 1000; default 50)\n"
	"  -e, --exception TYPE  only incidents of this exception, e.g. KeyError\n"
	"  --json                print the list as a JSON array of summaries\n"
	"  -h, --help            show this help",
	.run = cmd_incidents,
};
