/*
 * cmd_explain.c - `doctor explain ID [--fresh] [--json]`: ask the agent (the
 * configured LLM) about an incident, whatever the plugins said, and show
 * its answer as it is written: the streamed text, then the diagnosis with
 * the documentation it cites, the remedies it proposed (with their ids, to
 * confirm: nothing runs here), the tokens and the cost.
 *
 * Ctrl-C asks the daemon to cancel the diagnosis (diagnosis.cancel) and
 * waits for it to end; a second Ctrl-C leaves at once.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "diagnosis_view.h"
#include "doctor.h"
#include "format.h"

/* How often the wait looks whether the diagnosis has ended. */
#define POLL_MS 100

struct explain {
	json_int_t incident;
	json_int_t run;              /* 0 until explain has answered */
	bool as_json;
	bool streamed;               /* text was printed and no newline yet */
	bool any_text;               /* some text was streamed */
	json_t *done;                /* diagnosis.done's params; owned */
};

static volatile sig_atomic_t interrupted;

static void on_interrupt(int signo)
{
	interrupted++;
}

/* A notification about our run (or our incident, before the run is known). */
static bool ours(const struct explain *e, json_t *params)
{
	json_int_t run = json_integer_value(json_object_get(params, "run"));

	if (json_integer_value(json_object_get(params, "incident")) != e->incident)
		return false;
	return e->run == 0 || run == e->run;
}

static void print_text(const char *text)
{
	char *s = format_terminal_safe(text ? text : "", false);

	if (s)
		fputs(s, stdout);
	fflush(stdout);
	free(s);
}

static void end_stream(struct explain *e)
{
	if (e->streamed)
		putchar('\n');
	e->streamed = false;
}

static void on_event(const char *method, json_t *params, void *data)
{
	struct explain *e = data;
	const char *text;

	if (!ours(e, params) || e->done)
		return;
	if (strcmp(method, "diagnosis.done") == 0) {
		e->done = json_incref(params);
		return;
	}
	if (e->as_json)
		return;
	if (strcmp(method, "diagnosis.delta") == 0) {
		text = json_string_value(json_object_get(params, "text"));
		if (text && *text) {
			print_text(text);
			e->streamed = text[strlen(text) - 1] != '\n';
			e->any_text = true;
		}
	} else if (strcmp(method, "diagnosis.retry") == 0) {
		end_stream(e);
		if (json_is_true(json_object_get(params, "discard")))
			puts("[the text above was cut short and is discarded; the answer starts again]");
		fflush(stdout);
		doctor_msg("the LLM request failed (%s); retrying in %.1f s",
		           json_string_value(json_object_get(params, "message")) ?
		           json_string_value(json_object_get(params, "message")) : "?",
		           (double)json_integer_value(json_object_get(params, "wait_ms")) / 1000.0);
	} else if (strcmp(method, "diagnosis.started") == 0 && isatty(STDERR_FILENO)) {
		doctor_msg("asking %s about incident #%" JSON_INTEGER_FORMAT "%s...",
		           json_string_value(json_object_get(params, "model")) ?
		           json_string_value(json_object_get(params, "model")) : "the LLM",
		           e->incident, json_is_true(json_object_get(params, "cached")) ?
		           " (answered from the cache)" : "");
	}
}

/* Wait for diagnosis.done; Ctrl-C cancels. 0 or a negative errno. */
static int wait_done(struct rpc_client *c, struct explain *e)
{
	struct sigaction action = { .sa_handler = on_interrupt };
	sigset_t block, waiting;
	bool cancel_sent = false;
	json_int_t id;
	int rc = 0;

	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &waiting);
	sigdelset(&waiting, SIGINT);
	sigaction(SIGINT, &action, NULL);
	while (!e->done) {
		if (interrupted > 1)
			return -EINTR;
		if (interrupted && !cancel_sent) {
			cancel_sent = true;
			end_stream(e);
			doctor_msg("cancelling the diagnosis (Ctrl-C again to leave now)");
			rc = rpc_client_send(c, "diagnosis.cancel",
			                     json_pack("{s:I}", "run", e->run), &id);
			if (rc < 0)
				return rc;
		}
		rc = rpc_client_wait(c, POLL_MS, &waiting);
		if (rc == -ETIMEDOUT || rc == -EINTR)
			rc = 0;
		if (rc < 0 && !e->done)
			return rc;
	}
	return 0;
}

/* ------------------------------------------------------------ the end */

static void print_citations(json_t *cites)
{
	json_t *c;
	size_t i;

	if (json_array_size(cites) == 0)
		return;
	puts("\nDocumentation:");
	json_array_foreach(cites, i, c) {
		const char *page = json_string_value(json_object_get(c, "page"));
		const char *anchor = json_string_value(json_object_get(c, "anchor"));
		const char *title = json_string_value(json_object_get(c, "title"));
		char *line = NULL;
		if (asprintf(&line, "  [%zu] %s%s%s%s%s", i + 1, page ? page : "?",
		             anchor && *anchor ? "#" : "", anchor ? anchor : "",
		             title && *title ? "  " : "", title ? title : "") < 0)
			continue;
		print_text(line);
		putchar('\n');
		free(line);
	}
}

static void print_remedies(json_t *remedies)
{
	json_t *r;
	size_t i;

	if (json_array_size(remedies) == 0)
		return;
	puts("\nRemedies (nothing runs until you confirm one):");
	json_array_foreach(remedies, i, r) {
		diagnosis_view_remedy(stdout, r, "  ");
		if (strcmp(json_string_value(json_object_get(r, "state")) ?
		           json_string_value(json_object_get(r, "state")) : "", "proposed") == 0)
			printf("    to run it: doctor confirm %" JSON_INTEGER_FORMAT "\n",
			       json_integer_value(json_object_get(r, "id")));
	}
}

/* The diagnosis, after the streamed text. */
static void print_done(struct explain *e)
{
	json_t *done = e->done, *diag = json_array_get(json_object_get(done, "diagnoses"), 0);
	json_t *usage = json_object_get(done, "usage");
	const char *limit = json_string_value(json_object_get(done, "limit"));
	const char *summary = json_string_value(json_object_get(diag, "summary"));
	const char *explanation = json_string_value(json_object_get(diag, "explanation"));

	end_stream(e);
	if (!diag)
		return;
	if (e->any_text)
		putchar('\n');
	printf("Diagnosis (run %" JSON_INTEGER_FORMAT ", %s%s%s%s):\n  ", e->run,
	       json_string_value(json_object_get(done, "model")) ?
	       json_string_value(json_object_get(done, "model")) : "?",
	       json_is_true(json_object_get(done, "cached")) ? ", from the cache" : "",
	       limit ? ", stopped by the limit " : "", limit ? limit : "");
	print_text(summary ? summary : "");
	putchar('\n');
	/* the streamed text was the model's answer; what was composed
	 * otherwise (cache, a limit) is shown here */
	if (explanation && *explanation && (!e->any_text || limit)) {
		putchar('\n');
		print_text(explanation);
		putchar('\n');
	}
	print_citations(json_object_get(done, "citations"));
	print_remedies(json_object_get(diag, "remedies"));
	printf("\n%" JSON_INTEGER_FORMAT " prompt + %" JSON_INTEGER_FORMAT
	       " completion tokens, $%.6f, %" JSON_INTEGER_FORMAT " request%s\n",
	       json_integer_value(json_object_get(usage, "prompt_tokens")),
	       json_integer_value(json_object_get(usage, "completion_tokens")),
	       json_number_value(json_object_get(done, "cost_usd")),
	       json_integer_value(json_object_get(done, "steps")),
	       json_integer_value(json_object_get(done, "steps")) == 1 ? "" : "s");
}

/* ------------------------------------------------------------ command */

static int parse_options(int argc, char **argv, struct explain *e, bool *fresh)
{
	static const struct option options[] = {
		{ "fresh", no_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	long id;
	int opt;

	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		if (opt == 'f')
			*fresh = true;
		else if (opt == 'j')
			e->as_json = true;
		else if (opt == 'h')
			return doctor_command_help(&cmd_explain_entry);
		else
			return doctor_bad_option(&cmd_explain_entry);
	}
	if (optind != argc - 1)
		return doctor_usage_error(&cmd_explain_entry, optind >= argc ?
		                          "explain: an incident ID is required" :
		                          "explain: one incident ID only");
	if (args_parse_long(argv[optind], 1, LONG_MAX, &id) < 0)
		return doctor_usage_error(&cmd_explain_entry, "explain: '%s' is not an incident ID",
		                          argv[optind]);
	e->incident = id;
	return -1;
}

static int cmd_explain(const struct doctor_globals *g, int argc, char **argv)
{
	struct explain e = { 0 };
	struct rpc_client *c = NULL;
	json_t *result = NULL;
	const char *state, *error;
	bool fresh = false;
	int status, rc;

	if ((status = parse_options(argc, argv, &e, &fresh)) >= 0)
		return status;
	status = DOCTOR_EXIT_OK;
	if (doctor_connect(g, &c) < 0)
		return DOCTOR_EXIT_NO_DAEMON;
	rpc_client_on_notify(c, on_event, &e);
	rc = doctor_call(c, "explain", json_pack("{s:I, s:b}", "id", e.incident, "fresh", fresh),
	                 &result);
	if (rc < 0) {           /* doctor_call said why */
		rpc_client_free(c);
		return doctor_exit_status(rc);
	}
	e.run = json_integer_value(json_object_get(result, "run"));
	json_decref(result);
	if ((rc = wait_done(c, &e)) < 0) {
		end_stream(&e);
		if (rc == -EINTR)
			doctor_msg("left before the diagnosis ended (run %" JSON_INTEGER_FORMAT ")", e.run);
		else
			doctor_report_failure(c, rc, NULL);
		rpc_client_free(c);
		return rc == -EINTR ? DOCTOR_EXIT_ERROR : doctor_exit_status(rc);
	}
	state = json_string_value(json_object_get(e.done, "state"));
	error = json_string_value(json_object_get(e.done, "error"));
	if (e.as_json)
		status = doctor_print_json(e.done) < 0 ? DOCTOR_EXIT_ERROR : DOCTOR_EXIT_OK;
	else
		print_done(&e);
	if (state && (strcmp(state, "failed") == 0 || strcmp(state, "cancelled") == 0)) {
		if (!e.as_json)
			doctor_msg("the diagnosis %s: %s", strcmp(state, "failed") == 0 ? "failed" :
			           "was cancelled", error ? error : state);
		status = DOCTOR_EXIT_ERROR;
	}
	json_decref(e.done);
	rpc_client_free(c);
	return status;
}

const struct doctor_command cmd_explain_entry = {
	.name = "explain",
	.summary = "ask the LLM agent about an incident",
	.usage =
	"doctor explain ID [--fresh] [--json]\n"
	"\n"
	"Ask the agent (the LLM configured by llm.base_url and llm.model) to\n"
	"diagnose incident ID, whatever the plugins said about it. Its answer is\n"
	"printed as it is written, then the diagnosis: its summary, the\n"
	"documentation it cites, the remedies it proposed (each with its ID:\n"
	"nothing runs until you `doctor confirm ID`), the tokens used and the\n"
	"cost. An error seen before with the same fingerprint is answered from\n"
	"the cache, at no cost. Ctrl-C cancels the diagnosis.\n"
	"\n"
	"Exit status: 0 with a diagnosis (also one cut short by a limit), 1 if\n"
	"it failed or was cancelled (or no LLM is configured), 3 without a\n"
	"daemon.\n"
	"\n"
	"Options:\n"
	"  --fresh     ask the model again, even if the cache has an answer\n"
	"  --json      print only the final diagnosis.done notification as JSON\n"
	"  -h, --help  show this help",
	.run = cmd_explain,
};
