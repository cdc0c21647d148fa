/*
 * cmd_watch.c - `doctor watch [--json] [--no-prompt] [--deltas]`: subscribe
 * to the daemon's events and print one line per new or repeated incident as
 * they arrive, one line when the agent (an LLM) starts diagnosing one and
 * one when it ends (with --deltas, its answer streamed in between), with
 * the remedies proposed for it, until Ctrl-C (exit 0) or until the daemon
 * goes away (exit 3).
 *
 * On a terminal each proposed remedy is asked about (y/N); yes runs it
 * through a second connection, so this one keeps its place in the event
 * stream (the daemon queues what comes meanwhile). Nothing runs without
 * that answer; off a terminal the proposals are only printed.
 *
 * SIGINT is blocked except inside ppoll(2), so it can only interrupt the
 * wait, never a line being printed, and no interrupt is lost between a
 * check and the wait. While a question waits for its answer it is let in
 * to interrupt the read; while a remedy runs it is only noted (the daemon
 * runs the remedy, and stopping here would not stop it).
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

#include "agent_view.h"
#include "diagnosis_view.h"
#include "doctor.h"
#include "format.h"
#include "incident_view.h"

struct watch {
	const struct doctor_globals *g;
	bool as_json;
	bool ask;               /* on a terminal, without --no-prompt */
	bool deltas;            /* --deltas: stream the agent's answers */
	json_t *declined;       /* {"ID": true} for remedies answered no; owned */
	struct agent_view_stream stream;   /* the answers, on stdout */
};

static volatile sig_atomic_t interrupted;

static void on_interrupt(int signo)
{
	interrupted = 1;
}

static void on_interrupt_while_running(int signo)
{
	static const char note[] = "\ndoctor: stopping once the remedy has ended\n";

	interrupted = 1;
	if (write(STDERR_FILENO, note, sizeof(note) - 1) < 0)
		return;     /* nowhere to say it; the stop still happens */
}

/* Let SIGINT in, handled by handler (with SA_RESTART or not). */
static void interrupt_allow(void (*handler)(int), int flags)
{
	struct sigaction action = { .sa_handler = handler, .sa_flags = flags };
	sigset_t intr;

	sigemptyset(&intr);
	sigaddset(&intr, SIGINT);
	sigaction(SIGINT, &action, NULL);
	sigprocmask(SIG_UNBLOCK, &intr, NULL);
}

/* Back to the waiting state: SIGINT blocked, on_interrupt. An interrupt
 * taken meanwhile is raised again, so that it is pending when the event
 * loop next waits and ends the wait at once. */
static void interrupt_block(void)
{
	struct sigaction action = { .sa_handler = on_interrupt };
	sigset_t intr;

	sigemptyset(&intr);
	sigaddset(&intr, SIGINT);
	sigprocmask(SIG_BLOCK, &intr, NULL);
	sigaction(SIGINT, &action, NULL);
	if (interrupted)
		raise(SIGINT);
}

static void clock_now(char *buf, size_t size, time_t when)
{
	struct tm tm;

	if (when > 0 && localtime_r(&when, &tm))
		strftime(buf, size, "%H:%M:%S", &tm);
}

/* "15:01:12  agent      #7: asking gpt-4o-mini (run 3)", and at its end
 * "15:01:15  agent      #7: diagnosed by gpt-4o-mini (run 3): ...  [cost]". */
static void print_agent_line(const char *method, json_t *params)
{
	bool started = strcmp(method, "diagnosis.started") == 0;
	char clock[16] = "--:--:--", *what, *line = NULL, *fitted = NULL;

	clock_now(clock, sizeof clock, time(NULL));
	what = started ? agent_view_started(params) : agent_view_done(params, true);
	if (what && asprintf(&line, "%s  %-9s  %s", clock, "agent", what) >= 0)
		fitted = format_fit(line, doctor_terminal_width(STDOUT_FILENO));
	printf("%s\n", fitted ? fitted : "(out of memory)");
	fflush(stdout);
	free(what);
	free(line);
	free(fitted);
}

/* "15:01:09  again x3  #7  demo.ipynb  ModuleNotFoundError: ..." */
static void print_incident_line(const char *method, json_t *params)
{
	json_t *inc = json_object_get(params, "incident");
	time_t when = (time_t)json_number_value(json_object_get(inc, "last_seen"));
	bool is_new = strcmp(method, "incident.new") == 0;
	char clock[16] = "--:--:--", what[32], *headline, *line = NULL, *fitted = NULL;

	clock_now(clock, sizeof clock, when);
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

/* Ask about remedy id on the terminal; yes runs it on a second
 * connection, its output streamed here. Ctrl-C while asking answers no
 * and stops watching; while it runs, stops watching once it has ended. */
static void ask_and_run(struct watch *w, json_int_t id)
{
	struct rpc_client *c = NULL;
	char question[64], key[32];
	bool yes;

	snprintf(question, sizeof(question), "doctor: run remedy #%" JSON_INTEGER_FORMAT "?", id);
	snprintf(key, sizeof(key), "%" JSON_INTEGER_FORMAT, id);
	/* No SA_RESTART: Ctrl-C ends the read. One in the instant between
	 * this check and the read is taken by the next Ctrl-C instead. */
	interrupt_allow(on_interrupt, 0);
	yes = !interrupted && diagnosis_view_ask(question);
	if (!yes && !interrupted) {
		json_object_set_new(w->declined, key, json_true());
		printf("    to run it later: doctor confirm %s\n", key);
	}
	if (yes) {
		interrupt_allow(on_interrupt_while_running, SA_RESTART);
		if (doctor_connect(w->g, &c) == 0)
			diagnosis_view_run_remedy(c, id, false, false);
		rpc_client_free(c);
	}
	interrupt_block();
	fflush(stdout);
}

/* A remedy.proposed: the remedy, under its incident's line, and either the
 * question or how to run it. */
static void print_proposal(struct watch *w, json_t *params)
{
	json_t *remedy = json_object_get(params, "remedy");
	json_int_t id = json_integer_value(json_object_get(remedy, "id"));
	char key[32];

	snprintf(key, sizeof(key), "%" JSON_INTEGER_FORMAT, id);
	diagnosis_view_remedy(stdout, remedy, "  ");
	if (w->ask && !interrupted && !json_object_get(w->declined, key)) {
		fflush(stdout);
		ask_and_run(w, id);
		return;
	}
	printf("    to run it: doctor confirm %s\n", key);
	fflush(stdout);
}

/* The text form: incidents as lines, the agent's runs as a line when
 * they start and one when they end (the answer between with --deltas),
 * proposed remedies below them. */
static void print_event(const char *method, json_t *params, void *data)
{
	struct watch *w = data;
	bool agent = json_integer_value(json_object_get(params, "run")) > 0;

	if (agent && strcmp(method, "diagnosis.delta") == 0) {
		if (w->deltas)
			agent_view_delta(&w->stream, params, true);
		return;
	}
	if (agent && strcmp(method, "diagnosis.retry") == 0) {
		if (w->deltas)
			agent_view_retry(&w->stream, params);
		return;
	}
	if (strcmp(method, "incident.new") != 0 && strcmp(method, "incident.updated") != 0 &&
	    strcmp(method, "remedy.proposed") != 0 && !(agent && (
	    strcmp(method, "diagnosis.started") == 0 || strcmp(method, "diagnosis.done") == 0)))
		return;
	/* a line of its own, and the next text says whose it is again */
	agent_view_end_line(&w->stream);
	w->stream.run = 0;
	if (strcmp(method, "incident.new") == 0 || strcmp(method, "incident.updated") == 0)
		print_incident_line(method, params);
	else if (strcmp(method, "remedy.proposed") == 0)
		print_proposal(w, params);
	else
		print_agent_line(method, params);
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

/* Returns -1 to go on, else an exit status. */
static int parse_options(int argc, char **argv, struct watch *w, bool *no_prompt)
{
	static const struct option options[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "no-prompt", no_argument, NULL, 'P' },
		{ "deltas", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		if (opt == 'j')
			w->as_json = true;
		else if (opt == 'P')
			*no_prompt = true;
		else if (opt == 'd')
			w->deltas = true;
		else if (opt == 'h')
			return doctor_command_help(&cmd_watch_entry);
		else
			return doctor_bad_option(&cmd_watch_entry);
	}
	if (optind < argc)
		return doctor_usage_error(&cmd_watch_entry, "watch: unexpected argument '%s'",
		                          argv[optind]);
	return -1;
}

static int cmd_watch(const struct doctor_globals *g, int argc, char **argv)
{
	struct watch w = { .g = g, .stream = { .out = stdout } };
	struct rpc_client *c = NULL;
	json_t *result = NULL;
	bool no_prompt = false;
	int status, rc;

	if ((status = parse_options(argc, argv, &w, &no_prompt)) >= 0)
		return status;
	w.ask = !w.as_json && !no_prompt && isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
	w.declined = json_object();
	if (!w.declined) {
		doctor_msg("out of memory");
		return DOCTOR_EXIT_ERROR;
	}
	if (doctor_connect(g, &c) < 0) {
		json_decref(w.declined);
		return DOCTOR_EXIT_NO_DAEMON;
	}
	rpc_client_on_notify(c, w.as_json ? print_event_json : print_event, &w);
	rc = doctor_call(c, "subscribe", json_object(), &result);
	json_decref(result);
	if (rc < 0)
		goto out;
	if (!w.as_json && isatty(STDOUT_FILENO))
		doctor_msg("watching for incidents%s; Ctrl-C stops",
		           w.ask ? " (proposed remedies are asked about)" : "");
	rc = follow(c);
	agent_view_end_line(&w.stream);
	if (rc == -ECONNRESET)
		doctor_msg("the daemon closed the connection");
	else if (rc < 0)
		doctor_report_failure(c, rc, NULL);
out:
	rpc_client_free(c);
	json_decref(w.declined);
	return doctor_exit_status(rc);
}

const struct doctor_command cmd_watch_entry = {
	.name = "watch",
	.summary = "print incidents and proposed remedies as they happen",
	.usage =
	"doctor watch [--json] [--no-prompt] [--deltas]\n"
	"\n"
	"Subscribe to the daemon's events and print one line per incident as\n"
	"it is seen: the time, \"new\" or \"again xN\", the incident's ID, its\n"
	"source and the error. When the agent (an LLM) diagnoses one, a line\n"
	"when it starts (the model, whether the cache answers) and one when it\n"
	"ends (its state, the summary or the error, tokens and cost). Below\n"
	"them, each remedy proposed for the incident. On a terminal (stdin and\n"
	"stdout) doctor asks \"run remedy #N? [y/N]\" for each; yes runs it as\n"
	"`doctor confirm N` would, its output streamed here. Elsewhere it\n"
	"prints how to run it. Runs until interrupted (Ctrl-C,\n"
	"exit status 0; during a remedy, once it has ended); exits with status\n"
	"3 if the daemon goes away.\n"
	"\n"
	"Options:\n"
	"  --json       print every notification as one line of JSON (nothing is\n"
	"               asked): {\"method\": \"incident.new\", \"params\": {...}},\n"
	"               also the agent's diagnosis.started, .delta, .retry and\n"
	"               .done, remedy.proposed, remedy.output and remedy.done\n"
	"  --no-prompt  print proposed remedies without asking about them\n"
	"  --deltas     also print the agent's answers as they are written\n"
	"  -h, --help   show this help",
	.run = cmd_watch,
};
