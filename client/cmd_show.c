/*
 * cmd_show.c - `doctor show ID [--json]`: everything the daemon knows of
 * one incident, for a person to read: headline, source and its context,
 * counts and times, the exception chain, the frames (your code marked
 * apart from libraries), the error as it was displayed, the lines before
 * it, where it occurred, and the agent's runs with their traces
 * (trace_view.c). `doctor show --run N` shows one run.
 *
 * Text from the watched programs is printed through format_terminal_safe:
 * colours survive on a terminal, other escape sequences never reach it.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE     /* asprintf */
#endif
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "diagnosis_view.h"
#include "doctor.h"
#include "format.h"
#include "incident_view.h"
#include "trace_view.h"

struct show_options {
	bool as_json;
	long run;                   /* --run N; 0: show an incident */
	long incident;
};

static const char *text_of(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

/* text with every line indented by two spaces; colours kept if asked. */
static void print_block(const char *text, bool colours)
{
	char *safe = format_terminal_safe(text, colours);
	const char *line, *end;

	if (!safe)
		return;
	for (line = safe; *line; line = *end ? end + 1 : end) {
		end = line + strcspn(line, "\n");
		printf("  %.*s\n", (int)(end - line), line);
	}
	if (colours)
		fputs("\033[0m", stdout);
	free(safe);
}

static void print_times(const json_t *inc, double now)
{
	char first[32], last[32], first_ago[32], last_ago[32], *line;
	double first_seen = json_number_value(json_object_get(inc, "first_seen"));
	double last_seen = json_number_value(json_object_get(inc, "last_seen"));
	json_int_t count = json_integer_value(json_object_get(inc, "count"));

	format_timestamp(first_seen, first, sizeof(first));
	format_timestamp(last_seen, last, sizeof(last));
	format_relative_time(now, first_seen, first_ago, sizeof(first_ago));
	format_relative_time(now, last_seen, last_ago, sizeof(last_ago));
	if (asprintf(&line, "%" JSON_INTEGER_FORMAT " time%s", count,
	             count == 1 ? "" : "s") >= 0) {
		doctor_print_field("seen", line);
		free(line);
	}
	printf("%-12s %s (%s)\n", "first seen", first, first_ago);
	printf("%-12s %s (%s)\n", "last seen", last, last_ago);
}

/* A context value: strings as they are, argv as a command line, the
 * rest as compact JSON. */
static void print_context_value(const char *key, const json_t *value)
{
	char **argv, *text = NULL;
	size_t i, n;

	if (json_is_string(value)) {
		doctor_print_field(key, json_string_value(value));
		return;
	}
	if (strcmp(key, "argv") == 0 && json_is_array(value)) {
		n = json_array_size(value);
		argv = calloc(n + 1, sizeof(*argv));
		for (i = 0; argv && i < n; i++)
			argv[i] = (char *)(json_string_value(json_array_get(value, i)) ?: "?");
		text = argv ? format_command_line(argv) : NULL;
		free(argv);
		key = "command line";
	} else {
		text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
	}
	doctor_print_field(key, text ? text : "?");
	free(text);
}

static void print_source(const json_t *src)
{
	static const char *const known[] = { "cwd", "python", "virtualenv" };
	const json_t *context = json_object_get(src, "context");
	const json_t *value;
	const char *key;
	char *line;
	size_t i;

	if (!json_is_object(src)) {
		doctor_print_field("source", "none (reported without one)");
		return;
	}
	if (asprintf(&line, "%s %s (#%" JSON_INTEGER_FORMAT ")", text_of(src, "kind") ?: "?",
	             text_of(src, "name") ?: "-",
	             json_integer_value(json_object_get(src, "id"))) >= 0) {
		doctor_print_field("source", line);
		free(line);
	}
	/* cwd, python, virtualenv may sit beside the context or inside it */
	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (text_of(src, known[i]) && !json_object_get(context, known[i]))
			doctor_print_field(known[i], text_of(src, known[i]));
	json_object_foreach((json_t *)context, key, value)
		if (!json_is_null(value))
			print_context_value(key, value);
}

static void print_extra(const json_t *extra)
{
	const json_t *value;
	const char *key;

	json_object_foreach((json_t *)extra, key, value)
		print_context_value(key, value);
}

static void print_chain(const json_t *chain)
{
	const json_t *link;
	char *safe;
	size_t i;

	if (json_array_size(chain) == 0)
		return;
	printf("\nChain (oldest first, each leading to the next):\n");
	json_array_foreach(chain, i, link) {
		safe = format_fit(json_string_value(link) ?: "?", 0);
		printf("  %s\n", safe ? safe : "?");
		free(safe);
	}
}

static void print_frames(const json_t *frames)
{
	const json_t *frame;
	json_int_t line;
	const char *function;
	char *file, *func;
	size_t i;

	if (json_array_size(frames) == 0)
		return;
	printf("\nFrames (outermost first; > marks your code, the rest is libraries):\n");
	json_array_foreach(frames, i, frame) {
		file = format_fit(text_of(frame, "file") ?: "?", 0);
		function = text_of(frame, "function");
		func = function ? format_fit(function, 0) : NULL;
		line = json_integer_value(json_object_get(frame, "line"));
		printf("  %c %s", json_is_true(json_object_get(frame, "library")) ? ' ' : '>',
		       file ? file : "?");
		if (line > 0)
			printf(":%" JSON_INTEGER_FORMAT, line);
		if (func)
			printf(" in %s", func);
		putchar('\n');
		free(file);
		free(func);
	}
}

/* The error as displayed (colours kept) on a terminal, else its text. */
static void print_error_text(const json_t *inc)
{
	bool tty = isatty(STDOUT_FILENO);
	const char *raw = text_of(inc, "raw"), *text = text_of(inc, "text");

	if (!raw && !text)
		return;
	printf("\nError:\n");
	if (tty && raw)
		print_block(raw, true);
	else
		print_block(text ? text : raw, false);
}

static void print_context_lines(const json_t *context)
{
	bool tty = isatty(STDOUT_FILENO);
	const json_t *line;
	size_t i;

	if (json_is_string(context) && *json_string_value(context)) {
		printf("\nContext (the lines before the error):\n");
		print_block(json_string_value(context), tty);
	} else if (json_array_size(context) > 0) {
		printf("\nContext (the lines before the error):\n");
		json_array_foreach(context, i, line)
			if (json_is_string(line))
				print_block(json_string_value(line), tty);
	}
}

static void print_occurrences(const json_t *occurrences)
{
	const json_t *occ;
	char at[32], *name;
	size_t i;

	if (json_array_size(occurrences) == 0)
		return;
	printf("\nOccurrences:\n");
	json_array_foreach(occurrences, i, occ) {
		format_timestamp(json_number_value(json_object_get(occ, "at")), at, sizeof(at));
		name = format_fit(text_of(occ, "source_name") ?: "-", 0);
		printf("  %s  %s", at, name ? name : "?");
		if (json_integer_value(json_object_get(occ, "source_id")) > 0)
			printf(" (#%" JSON_INTEGER_FORMAT ")",
			       json_integer_value(json_object_get(occ, "source_id")));
		putchar('\n');
		free(name);
	}
}

/* What the plugins said, and every remedy with its state and result. */
static void print_diagnoses(const json_t *inc)
{
	const json_t *diag, *remedy;
	size_t i;

	if (json_array_size(json_object_get(inc, "diagnoses")) > 0) {
		printf("\nDiagnosis:\n");
		json_array_foreach(json_object_get(inc, "diagnoses"), i, diag)
			diagnosis_view_print(stdout, diag, "  ");
	}
	if (json_array_size(json_object_get(inc, "remedies")) == 0)
		return;
	printf("\nRemedies:\n");
	json_array_foreach(json_object_get(inc, "remedies"), i, remedy) {
		diagnosis_view_remedy(stdout, remedy, "  ");
		if (json_is_integer(json_object_get(remedy, "exit_code")))
			printf("      exit status %" JSON_INTEGER_FORMAT "%s\n",
			       json_integer_value(json_object_get(remedy, "exit_code")),
			       json_is_true(json_object_get(remedy, "verified")) ? ", verified" :
			       json_is_false(json_object_get(remedy, "verified")) ? ", verification failed" : "");
		if (json_is_array(json_object_get(remedy, "undo_argv"))) {
			char *undo = diagnosis_view_argv(json_object_get(remedy, "undo_argv"));
			char *safe = undo ? format_terminal_safe(undo, false) : NULL;
			printf("      undo: %s\n", safe ? safe : "?");
			free(undo);
			free(safe);
		}
	}
}

/* The audit log: proposals confirmed, rejected, run, undone, by whom. */
static void print_audit(const json_t *audit)
{
	const json_t *e;
	char at[32];
	size_t i;

	if (json_array_size(audit) == 0)
		return;
	printf("\nAudit log:\n");
	json_array_foreach(audit, i, e) {
		format_timestamp(json_number_value(json_object_get(e, "at")), at, sizeof(at));
		printf("  %s  %-14s remedy #%" JSON_INTEGER_FORMAT, at, text_of(e, "event") ?: "?",
		       json_integer_value(json_object_get(e, "remedy")));
		if (json_is_integer(json_object_get(e, "uid")))
			printf("  by uid %" JSON_INTEGER_FORMAT " pid %" JSON_INTEGER_FORMAT,
			       json_integer_value(json_object_get(e, "uid")),
			       json_integer_value(json_object_get(e, "pid")));
		if (text_of(json_object_get(e, "detail"), "result"))
			printf("  %s", text_of(json_object_get(e, "detail"), "result"));
		putchar('\n');
	}
}

static void print_incident(const json_t *inc)
{
	char *headline = incident_view_headline(inc), *safe;
	const json_t *extra = json_object_get(inc, "extra");

	safe = headline ? format_fit(headline, 0) : NULL;
	printf("Incident %" JSON_INTEGER_FORMAT ": %s\n",
	       json_integer_value(json_object_get(inc, "id")), safe ? safe : "?");
	free(headline);
	free(safe);
	doctor_print_field("state", text_of(inc, "state") ?: "-");
	doctor_print_field("detector", text_of(inc, "detector") ?: "-");
	doctor_print_field("signature", text_of(inc, "signature") ?: "-");
	print_times(inc, incident_view_now());
	print_source(json_object_get(inc, "source"));
	if (json_is_object(extra))
		print_extra(extra);
	print_chain(json_object_get(inc, "chain"));
	print_frames(json_object_get(inc, "frames"));
	print_error_text(inc);
	print_context_lines(json_object_get(inc, "context"));
	print_occurrences(json_object_get(inc, "occurrences"));
	print_diagnoses(inc);
	print_audit(json_object_get(inc, "audit"));
}

/* The agent's runs of the incident, each with its trace. */
static int print_runs(const json_t *runs)
{
	size_t width = doctor_terminal_width(STDOUT_FILENO), i;
	const json_t *run;
	int rc = 0;

	if (json_array_size(runs) == 0)
		return 0;
	printf("\nAgent runs:\n");
	json_array_foreach(runs, i, run) {
		if (i > 0)
			putchar('\n');
		if ((rc = trace_view_run(stdout, run, width)) < 0)
			break;
	}
	return rc;
}

/* Replace each run of the incident (as incident.get lists them, without
 * steps) by agent.run's, with its steps. */
static int fetch_traces(struct rpc_client *c, json_t *incident)
{
	json_t *runs = json_object_get(incident, "runs"), *result = NULL, *run;
	json_int_t rid;
	size_t i;
	int rc = 0;

	for (i = 0; i < json_array_size(runs) && rc == 0; i++) {
		rid = json_integer_value(json_object_get(json_array_get(runs, i), "id"));
		rc = doctor_call(c, "agent.run", json_pack("{s:I}", "id", rid), &result);
		run = json_object_get(result, "run");
		if (rc == 0 && !json_is_object(run)) {
			rc = -EBADMSG;
			doctor_report_failure(c, rc, NULL);
		}
		if (rc == 0 && json_array_set(runs, i, run) < 0)
			rc = -ENOMEM;
		json_decref(result);
		result = NULL;
	}
	return rc;
}

static int show_incident(struct rpc_client *c, const struct show_options *o)
{
	json_t *result = NULL, *incident;
	int rc;

	rc = doctor_call(c, "incident.get", json_pack("{s:I}", "id", (json_int_t)o->incident),
	                 &result);
	incident = json_object_get(result, "incident");
	if (rc == 0 && !json_is_object(incident)) {
		rc = -EBADMSG;
		doctor_report_failure(c, rc, NULL);
	}
	if (rc == 0)
		rc = fetch_traces(c, incident);
	if (rc == 0 && o->as_json) {
		rc = doctor_print_json(incident);
	} else if (rc == 0) {
		print_incident(incident);
		rc = print_runs(json_object_get(incident, "runs"));
	}
	json_decref(result);
	return rc;
}

static int show_run(struct rpc_client *c, const struct show_options *o)
{
	json_t *result = NULL, *run;
	int rc;

	rc = doctor_call(c, "agent.run", json_pack("{s:I}", "id", (json_int_t)o->run), &result);
	run = json_object_get(result, "run");
	if (rc == 0 && !json_is_object(run)) {
		rc = -EBADMSG;
		doctor_report_failure(c, rc, NULL);
	}
	if (rc == 0 && o->as_json)
		rc = doctor_print_json(run);
	else if (rc == 0)
		rc = trace_view_run(stdout, run, doctor_terminal_width(STDOUT_FILENO));
	json_decref(result);
	return rc;
}

/* Returns -1 to go on, else an exit status. */
static int parse_options(int argc, char **argv, struct show_options *o)
{
	static const struct option options[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "run", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (opt) {
		case 'j':
			o->as_json = true;
			break;
		case 'r':
			if (args_parse_long(optarg, 1, LONG_MAX, &o->run) < 0)
				return doctor_usage_error(&cmd_show_entry,
				        "--run: '%s' is not a run ID (a number)", optarg);
			break;
		case 'h':
			return doctor_command_help(&cmd_show_entry);
		default:
			return doctor_bad_option(&cmd_show_entry);
		}
	}
	if (o->run > 0) {
		if (optind < argc)
			return doctor_usage_error(&cmd_show_entry,
			        "show: --run takes no incident ID ('%s')", argv[optind]);
		return -1;
	}
	if (argc - optind != 1)
		return doctor_usage_error(&cmd_show_entry,
		                          "show: expected one incident ID, or --run N");
	if (args_parse_long(argv[optind], 1, LONG_MAX, &o->incident) < 0)
		return doctor_usage_error(&cmd_show_entry,
		                          "show: '%s' is not an incident ID (a number)", argv[optind]);
	return -1;
}

static int cmd_show(const struct doctor_globals *g, int argc, char **argv)
{
	struct show_options o = { 0 };
	struct rpc_client *c = NULL;
	int status, rc;

	status = parse_options(argc, argv, &o);
	if (status >= 0)
		return status;
	if (doctor_connect(g, &c) < 0)
		return DOCTOR_EXIT_NO_DAEMON;
	rc = o.run > 0 ? show_run(c, &o) : show_incident(c, &o);
	rpc_client_free(c);
	return doctor_exit_status(rc);
}

const struct doctor_command cmd_show_entry = {
	.name = "show",
	.summary = "show everything about one incident, or one agent run",
	.usage =
	"doctor show ID [--json]\n"
	"       doctor show --run N [--json]\n"
	"\n"
	"Show incident ID in full: the exception and message, state, detector,\n"
	"how often and when it was seen, its source (kind, name, working\n"
	"directory, Python, command line), the exception chain, the frames\n"
	"(> marks your code, the others are libraries), the error as it was\n"
	"displayed (with its colours on a terminal), the lines before it and\n"
	"its latest occurrences; then the plugins' diagnoses, the remedies and\n"
	"the audit log; then the agent's runs (LLM diagnoses), each with its\n"
	"trace: a line per step (SEQ, KIND, TOOL, LATENCY, tokens IN and OUT,\n"
	"COST) and an excerpt of what was sent, answered, called or returned,\n"
	"then the run's state, limit hit, error, totals, and the run a cached\n"
	"answer came from.\n"
	"\n"
	"Options:\n"
	"  --run N     show agent run N (its trace) instead of an incident\n"
	"  --json      print the incident as JSON, its runs with their steps\n"
	"              (with --run: the run)\n"
	"  -h, --help  show this help",
	.run = cmd_show,
};
