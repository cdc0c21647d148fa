/*
 * cmd_watch.c - `doctor watch [--json]`: subscribe to the daemon's events
 * and print one line per new or repeated incident as they arrive, until
 * Ctrl-C (exit 0) or until the daemon goes away (exit 3).
 *
 * SIGINT is blocked except inside ppoll(2), so it can only interrupt the
 * wait, never a line being printed, and no interrupt is lost between a
 * check and the wait.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE     /* asprintf */
#endif
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "doctor.h"
#include "format.h"
#include "incident_view.h"

static volatile sig_atomic_t interrupted;

static void on_interrupt(int signo)
{
	interrupted = 1;
}

/* "15:01:09  again x3  #7  demo.ipynb  ModuleNotFoundError: ..." */
static void print_event_line(const char *method, json_t *params, void *data)
{
	json_t *inc = json_object_get(params, "incident");
	time_t when = (time_t)json_number_value(json_object_get(inc, "last_seen"));
	bool is_new = strcmp(method, "incident.new") == 0;
	char clock[16] = "--:--:--", what[32], *headline, *line = NULL, *fitted = NULL;
	struct tm tm;

	if (!is_new && strcmp(method, "incident.updated") != 0)
		return;
	if (when > 0 && localtime_r(&when, &tm))
		strftime(clock, sizeof(clock), "%H:%M:%S", &tm);
	if (is_new)
		snprintf(what, sizeof(what), "new");
	else
		snprintf(what, sizeof(what), "again x%" JSON_INTEGER_FORMAT,
		         json_integer_value(json_object_get(inc, "count")));
	headline = incident_view_headline(inc);
	if (headline && asprintf(&line, "%s  %-9s  #%" JSON_INTEGER_FORMAT "  %s  %s",
	                         clock, what, json_integer_value(json_object_get(inc, "id")),
	                         incident_view_source_name(inc), headline) >= 0)
		fitted = format_fit(line, doctor_terminal_width(STDOUT_FILENO));
	printf("%s\n", fitted ? fitted : "(out of memory)");
	fflush(stdout);
	free(headline);
	free(line);
	free(fitted);
}

/* Every notification as one line of JSON: {"method": ..., "params": ...}. */
static void print_event_json(const char *method, json_t *params, void *data)
{
	json_t *event = json_pack("{s:s, s:O}", "method", method, "params", params);

	if (event && json_dumpf(event, stdout, JSON_COMPACT) == 0)
		putchar('\n');
	fflush(stdout);
	json_decref(event);
}

/* Wait for events until Ctrl-C; returns 0 then, else a negative errno. */
static int follow(struct rpc_client *c)
{
	struct sigaction action = { .sa_handler = on_interrupt };
	sigset_t block, waiting;
	int rc;

	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &waiting);
	sigdelset(&waiting, SIGINT);
	sigaction(SIGINT, &action, NULL);    /* no SA_RESTART: ppoll returns */
	do
		rc = rpc_client_wait(c, -1, &waiting);
	while (rc == -EINTR && !interrupted);
	return interrupted ? 0 : rc;
}

static int cmd_watch(const struct doctor_globals *g, int argc, char **argv)
{
	struct rpc_client *c = NULL;
	json_t *result = NULL;
	bool as_json = false;
	int opt, rc;

	if ((opt = doctor_parse_json_option(&cmd_watch_entry, argc, argv, &as_json)) >= 0)
		return opt;
	if (optind < argc)
		return doctor_usage_error(&cmd_watch_entry, "watch: unexpected argument '%s'",
		                          argv[optind]);
	if (doctor_connect(g, &c) < 0)
		return DOCTOR_EXIT_NO_DAEMON;
	rpc_client_on_notify(c, as_json ? print_event_json : print_event_line, NULL);
	rc = doctor_call(c, "subscribe", json_object(), &result);
	json_decref(result);
	if (rc < 0)
		goto out;
	if (!as_json && isatty(STDOUT_FILENO))
		doctor_msg("watching for incidents; Ctrl-C stops");
	rc = follow(c);
	if (rc == -ECONNRESET)
		doctor_msg("the daemon closed the connection");
	else if (rc < 0)
		doctor_report_failure(c, rc, NULL);
out:
	rpc_client_free(c);
	return doctor_exit_status(rc);
}

const struct doctor_command cmd_watch_entry = {
	.name = "watch",
	.summary = "print incidents as they happen",
	.usage =
	"doctor watch [--json]\n"
	"\n"
	"Subscribe to the daemon's events and print one line per incident as\n"
	"it is seen: the time, \"new\" or \"again xN\", the incident's ID, its\n"
	"source and the error. Runs until interrupted (Ctrl-C, exit status 0);\n"
	"exits with status 3 if the daemon goes away.\n"
	"\n"
	"Options:\n"
	"  --json      print every notification as one line of JSON:\n"
	"              {\"method\": \"incident.new\", \"params\": {\"incident\": {...}}}\n"
	"  -h, --help  show this help",
	.run = cmd_watch,
};
