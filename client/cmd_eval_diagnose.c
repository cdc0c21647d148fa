/*
 * cmd_eval_diagnose.c - `doctor eval diagnose CASES.jsonl`: replay recorded
 * outputs through the daemon (detection, the rule plugins and, when an LLM
 * is configured, the agent) and score each stage (client/diagnose_eval.h
 * has the definitions, docs/evaluation.md the method).
 *
 * One connection, subscribed, runs the cases one after the other. A case
 * is a fresh source (source.open with a name no other case has), its text
 * written, the source closed: the close's reply lists the incidents seen
 * in that source, new or repeats (the daemon counts the same error in two
 * cases as one incident, and sends incident.updated, not incident.new, for
 * the second, but it diagnoses every occurrence). Then the case waits, at
 * most --timeout seconds, for a diagnosis.done for each of them. When the
 * agent takes an error the daemon sends one diagnosis.done, at the end of
 * the agent's run (it has a "run"); a daemon that announces the plugins'
 * empty result first is covered by --agent, and by diagnosis.started or
 * diagnosis.delta showing the agent at work: then a diagnosis.done
 * without any diagnosis and without a run does not end the wait. An
 * incident still waiting at the timeout has its stored diagnoses read
 * with incident.diagnosis, and the case is marked as timed out.
 *
 * Notifications are kept from the moment the case's source is opened: the
 * rule plugins' diagnosis.done arrives before the close's reply.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE     /* getline */
#endif
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "args.h"
#include "diagnose_eval.h"
#include "doctor.h"
#include "format.h"

#define DEFAULT_TIMEOUT_S 60
#define MAX_TIMEOUT_S 3600

struct diag_options {
	long timeout_s;
	bool agent, as_json, show_misses;
	const char *file;
};

struct diag_case {
	struct deval_case c;
	size_t line;
};

struct diag_set {
	struct diag_case *items;   /* owned */
	size_t n, cap;
	size_t malformed;
};

/* What the notifications brought while one case runs; owned arrays. */
struct case_watch {
	json_t *done;       /* [diagnosis.done params] */
	json_t *proposed;   /* [remedy] */
	json_t *streamed;   /* [incident id] the agent works on (diagnosis.started,
	                       diagnosis.delta) */
};

static void set_free(struct diag_set *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		deval_case_release(&s->items[i].c);
	free(s->items);
}

static bool blank(const char *line)
{
	return line[strspn(line, " \t\r\n")] == '\0';
}

/* A second case of the same name: reported like a malformed line. */
static bool name_taken(const struct diag_set *s, const char *name, size_t *line)
{
	size_t i;

	for (i = 0; i < s->n; i++) {
		if (strcmp(s->items[i].c.name, name) == 0) {
			*line = s->items[i].line;
			return true;
		}
	}
	return false;
}

/* Take one non-blank line: 0, -EINVAL (reported, counted), -ENOMEM. */
static int take_line(const char *path, size_t lineno, const char *line, size_t len,
                     struct diag_set *s)
{
	struct deval_case *c;
	char *error = NULL, *safe;
	size_t first;
	int rc;

	if (s->n == s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 64;
		struct diag_case *grown = realloc(s->items, ncap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		s->items = grown;
		s->cap = ncap;
	}
	c = &s->items[s->n].c;
	rc = deval_parse_case(line, len, c, &error);
	if (rc == -ENOMEM)
		return rc;
	if (rc == 0 && name_taken(s, c->name, &first)) {
		safe = format_fit(c->name, 0);
		doctor_msg("%s:%zu: the name '%s' is taken by line %zu; line skipped", path,
		           lineno, safe ? safe : "?", first);
		free(safe);
		deval_case_release(c);
		s->malformed++;
		return -EINVAL;
	}
	if (rc < 0) {
		safe = format_fit(error, 0);
		doctor_msg("%s:%zu: %s; line skipped", path, lineno, safe ? safe : "?");
		free(safe);
		free(error);
		s->malformed++;
		return rc;
	}
	s->items[s->n++].line = lineno;
	return 0;
}

/* Read every case of path. Returns an exit status, or -1 to go on. */
static int read_cases(const char *path, struct diag_set *s)
{
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0, lineno = 0;
	ssize_t len;
	bool oom = false;

	if (!f) {
		doctor_msg("%s: %s", path, strerror(errno));
		return DOCTOR_EXIT_ERROR;
	}
	while (!oom && (len = getline(&line, &cap, f)) >= 0) {
		lineno++;
		if (!blank(line))
			oom = take_line(path, lineno, line, (size_t)len, s) == -ENOMEM;
	}
	free(line);
	if (oom || ferror(f)) {
		doctor_msg("%s: %s", path, oom ? "out of memory" : "read error");
		fclose(f);
		return DOCTOR_EXIT_ERROR;
	}
	fclose(f);
	if (s->n == 0) {
		doctor_msg("%s: no cases%s", path, s->malformed ? " (every line is malformed)"
		                                              : " (the file is empty)");
		return DOCTOR_EXIT_ERROR;
	}
	return -1;
}

/* ---------------------------------------------------------------- running */

static json_int_t incident_of(const json_t *obj)
{
	return json_integer_value(json_object_get(obj, "incident"));
}

static bool id_listed(const json_t *ids, json_int_t id)
{
	const json_t *v;
	size_t i;

	json_array_foreach(ids, i, v)
		if (json_integer_value(v) == id)
			return true;
	return false;
}

static void on_notification(const char *method, json_t *params, void *data)
{
	struct case_watch *w = data;
	json_t *remedy;

	if (strcmp(method, "diagnosis.done") == 0) {
		json_array_append(w->done, params);
	} else if (strcmp(method, "remedy.proposed") == 0) {
		remedy = json_object_get(params, "remedy");
		if (json_is_object(remedy))
			json_array_append(w->proposed, remedy);
	} else if (strcmp(method, "diagnosis.delta") == 0 ||
	           strcmp(method, "diagnosis.started") == 0) {
		if (!id_listed(w->streamed, incident_of(params)))
			json_array_append_new(w->streamed, json_integer(incident_of(params)));
	}
}

static void watch_reset(struct case_watch *w)
{
	json_array_clear(w->done);
	json_array_clear(w->proposed);
	json_array_clear(w->streamed);
}

/* Whether incident id has its final diagnosis.done (see the top). */
static bool settled(const struct case_watch *w, json_int_t id, bool agent)
{
	const json_t *d;
	size_t i;

	agent = agent || id_listed(w->streamed, id);
	json_array_foreach(w->done, i, d)
		if (incident_of(d) == id && (!agent || json_object_get(d, "run") ||
		    json_array_size(json_object_get(d, "diagnoses")) > 0))
			return true;
	return false;
}

/* The first incident of incidents not yet settled, or 0. */
static json_int_t unsettled(const struct case_watch *w, const json_t *incidents, bool agent)
{
	const json_t *inc;
	json_int_t id;
	size_t i;

	json_array_foreach(incidents, i, inc) {
		id = json_integer_value(json_object_get(inc, "id"));
		if (!settled(w, id, agent))
			return id;
	}
	return 0;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* What is stored for an incident that did not settle in time: its
 * diagnoses as one more diagnosis.done, its remedies as proposed. */
static int read_stored(struct rpc_client *c, struct case_watch *w, json_int_t id)
{
	json_t *result, *remedies;
	int rc;

	rc = doctor_call(c, "incident.diagnosis", json_pack("{s:I}", "id", id), &result);
	if (rc < 0)
		return rc;
	json_array_append_new(w->done, json_pack("{s:I, s:O}", "incident", id, "diagnoses",
	                      json_object_get(result, "diagnoses")));
	remedies = json_object_get(result, "remedies");
	if (json_is_array(remedies))
		json_array_extend(w->proposed, remedies);
	json_decref(result);
	return 0;
}

/* Wait until every incident is settled or the case's deadline passes;
 * *timed_out tells which. */
static int wait_settled(struct rpc_client *c, struct case_watch *w, const json_t *incidents,
                        bool agent, long long deadline, bool *timed_out)
{
	const json_t *inc;
	json_t *params;
	json_int_t id;
	long long left;
	size_t i;
	int rc;

	*timed_out = false;
	while (unsettled(w, incidents, agent)) {
		left = deadline - now_ms();
		rc = left > 0 ? rpc_client_wait_for(c, "diagnosis.done", (int)left, &params)
		              : -ETIMEDOUT;
		if (rc == -ETIMEDOUT) {
			*timed_out = true;
			break;
		}
		if (rc < 0)
			return rc;
		json_array_append_new(w->done, params);
	}
	if (!*timed_out)
		return 0;
	json_array_foreach(incidents, i, inc) {
		id = json_integer_value(json_object_get(inc, "id"));
		if (!settled(w, id, agent) && (rc = read_stored(c, w, id)) < 0)
			return rc;
	}
	return 0;
}

/* source.open's params for case e: a name no other case has. */
static json_t *open_params(const struct diag_case *e, size_t index)
{
	char name[512];

	snprintf(name, sizeof(name), "eval-%ld-%zu %s", (long)getpid(), index + 1, e->c.name);
	if (e->c.context)
		return json_pack("{s:s, s:s, s:O}", "kind", e->c.kind, "name", name, "context",
		                 e->c.context);
	return json_pack("{s:s, s:s}", "kind", e->c.kind, "name", name);
}

/* Replay one case: *incidents (new reference) gets the source's
 * incidents, w what came with them. */
static int replay(struct rpc_client *c, const struct diag_options *o, const struct diag_case *e,
                  size_t index, struct case_watch *w, json_t **incidents, bool *timed_out)
{
	long long deadline = now_ms() + o->timeout_s * 1000;
	json_t *opened = NULL, *written = NULL, *closed = NULL;
	json_int_t source;
	int rc;

	*incidents = NULL;
	watch_reset(w);
	rc = doctor_call(c, "source.open", open_params(e, index), &opened);
	if (rc < 0)
		return rc;
	source = json_integer_value(json_object_get(opened, "source"));
	json_decref(opened);
	rc = doctor_call(c, "source.write", json_pack("{s:I, s:s}", "source", source, "text",
	                 e->c.text), &written);
	json_decref(written);
	if (rc == 0)
		rc = doctor_call(c, "source.close", json_pack("{s:I}", "source", source), &closed);
	if (rc < 0)
		return rc;
	*incidents = json_incref(json_object_get(closed, "incidents"));
	json_decref(closed);
	if (!json_is_array(*incidents)) {
		json_decref(*incidents);
		*incidents = NULL;
		doctor_msg("the daemon's source.close reply has no incident list");
		return -EBADMSG;
	}
	return wait_settled(c, w, *incidents, o->agent, deadline, timed_out);
}

/* Run every case and score it; results gets each case's record. */
static int evaluate(struct rpc_client *c, const struct diag_options *o, const struct diag_set *s,
                    struct deval_totals *t, json_t *results)
{
	struct case_watch w = { json_array(), json_array(), json_array() };
	struct deval_observed obs;
	struct deval_score score;
	json_t *incidents = NULL, *subscribed = NULL, *record;
	bool timed_out;
	size_t i;
	int rc;

	if (!w.done || !w.proposed || !w.streamed) {
		rc = -ENOMEM;
		goto out;
	}
	rpc_client_on_notify(c, on_notification, &w);
	rc = doctor_call(c, "subscribe", json_object(), &subscribed);
	json_decref(subscribed);
	for (i = 0; rc == 0 && i < s->n; i++) {
		rc = replay(c, o, &s->items[i], i, &w, &incidents, &timed_out);
		if (rc < 0)
			break;
		obs = (struct deval_observed){ incidents, w.done, w.proposed, timed_out };
		rc = deval_score_case(&s->items[i].c, s->items[i].line, &obs, &score, &record);
		if (rc == 0) {
			deval_add(t, &score);
			json_array_append_new(results, record);
		}
		json_decref(incidents);
		incidents = NULL;
		if (!o->as_json && isatty(STDERR_FILENO))
			fprintf(stderr, "\r%zu/%zu cases", i + 1, s->n);
	}
	if (!o->as_json && isatty(STDERR_FILENO))
		fputs("\r\033[K", stderr);
out:
	rpc_client_on_notify(c, NULL, NULL);
	json_decref(w.done);
	json_decref(w.proposed);
	json_decref(w.streamed);
	return rc;
}

/* ---------------------------------------------------------------- output */

/* One row of the stage table: name, cases, right, share. */
static void put_stage(const char *name, size_t cases, size_t right)
{
	double v = deval_share(right, cases);

	if (v < 0)
		printf("%-15s %5zu  %5s  %s\n", name, cases, "-", "-");
	else
		printf("%-15s %5zu  %5zu  %.3f\n", name, cases, right, v);
}

static void print_totals(const struct diag_options *o, const struct diag_set *s,
                         const struct deval_totals *t)
{
	double n = (double)t->rouge_cases;

	printf("cases %zu", t->cases);
	if (s->malformed)
		printf(" (%zu malformed line%s skipped)", s->malformed, s->malformed == 1 ? "" : "s");
	printf(", timeout %ld s per case%s", o->timeout_s, o->agent ? ", waiting for the agent" : "");
	if (t->timed_out)
		printf(", %zu timed out", t->timed_out);
	printf("\n\n%-15s %5s  %5s  %s\n", "stage", "cases", "right", "share");
	put_stage("detected", t->cases, t->errors_found + t->clean_quiet);
	put_stage("  errors", t->errors, t->errors_found);
	put_stage("  no error", t->clean, t->clean_quiet);
	put_stage("exception", t->exception_cases, t->exception_right);
	put_stage("remedy", t->remedy_cases, t->remedy_right);
	put_stage("page cited", t->page_cases, t->page_right);
	put_stage("section cited", t->section_cases, t->section_right);
	printf("\n%-15s %5s  %-6s  %-9s  %s\n", "ROUGE-L (mean)", "cases", "recall", "precision",
	       "F1");
	if (t->rouge_cases)
		printf("%-15s %5zu  %-6.3f  %-9.3f  %.3f\n", "", t->rouge_cases, t->rouge_recall / n,
		       t->rouge_precision / n, t->rouge_f1 / n);
	else
		printf("%-15s %5d  %-6s  %-9s  %s\n", "", 0, "-", "-", "-");
}

static bool wrong(const json_t *r, const char *stage)
{
	const json_t *v = json_object_get(r, stage);

	return json_is_boolean(v) && !json_boolean_value(v);
}

/* items (an array of strings) on one line, or none. */
static void put_list(const json_t *items, const char *none)
{
	const json_t *v;
	size_t i;
	char *safe;

	json_array_foreach(items, i, v) {
		safe = format_fit(json_string_value(v), 0);
		printf("%s%s", i ? "; " : "", safe ? safe : "?");
		free(safe);
	}
	printf("%s\n", json_array_size(items) ? "" : none);
}

static void put_want(const char *label, const json_t *want)
{
	char *text = json_is_string(want) ? strdup(json_string_value(want))
	                                  : json_dumps(want, JSON_COMPACT);
	char *safe = text ? format_fit(text, 0) : NULL;

	printf("    %s: want %s, got ", label, safe ? safe : "?");
	free(safe);
	free(text);
}

static void print_miss(const json_t *r)
{
	const json_t *want = json_object_get(r, "want");
	char *safe = format_fit(json_string_value(json_object_get(r, "name")), 0);

	printf("  line %" JSON_INTEGER_FORMAT ": %s%s\n",
	       json_integer_value(json_object_get(r, "line")), safe ? safe : "?",
	       json_is_true(json_object_get(r, "timed_out")) ? " (timed out)" : "");
	free(safe);
	if (!json_is_true(json_object_get(r, "detected")) || wrong(r, "exception")) {
		printf("    %s: want %s, got ", "exception",
		       json_is_null(json_object_get(want, "exception")) ? "no error"
		       : json_string_value(json_object_get(want, "exception")));
		put_list(json_object_get(r, "found"), "no error");
	}
	if (wrong(r, "remedy")) {
		put_want("remedy", json_object_get(want, "remedy"));
		put_list(json_object_get(r, "remedies"), "no remedy");
	}
	if (wrong(r, "page") || wrong(r, "section")) {
		put_want(wrong(r, "page") ? "page" : "section", json_object_get(want, "page"));
		put_list(json_object_get(r, "cited"), "no reference");
	}
}

static void print_misses(const json_t *results)
{
	const json_t *r;
	size_t i, n = 0;

	json_array_foreach(results, i, r)
		n += !json_is_true(json_object_get(r, "detected")) || wrong(r, "exception") ||
		     wrong(r, "remedy") || wrong(r, "page") || wrong(r, "section");
	printf("\nmisses (%zu case%s):\n", n, n == 1 ? "" : "s");
	json_array_foreach(results, i, r)
		if (!json_is_true(json_object_get(r, "detected")) || wrong(r, "exception") ||
		    wrong(r, "remedy") || wrong(r, "page") || wrong(r, "section"))
			print_miss(r);
}

/* ---------------------------------------------------------------- options */

static int parse_options(int argc, char **argv, struct diag_options *o)
{
	static const struct option options[] = {
		{ "timeout", required_argument, NULL, 't' },
		{ "agent", no_argument, NULL, 'a' },
		{ "json", no_argument, NULL, 'j' },
		{ "show-misses", no_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const struct doctor_command *cmd = &cmd_eval_entry;
	int opt;

	o->timeout_s = DEFAULT_TIMEOUT_S;
	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (opt) {
		case 't':
			if (args_parse_long(optarg, 1, MAX_TIMEOUT_S, &o->timeout_s) < 0)
				return doctor_usage_error(cmd, "eval diagnose: --timeout: expected whole "
				                          "seconds from 1 to %d, got '%s'", MAX_TIMEOUT_S,
				                          optarg);
			break;
		case 'a':
			o->agent = true;
			break;
		case 'j':
			o->as_json = true;
			break;
		case 'm':
			o->show_misses = true;
			break;
		case 'h':
			return doctor_command_help(cmd);
		default:
			return doctor_bad_option(cmd);
		}
	}
	if (argc - optind != 1)
		return doctor_usage_error(cmd, "eval diagnose: expected one CASES.jsonl");
	o->file = argv[optind];
	return -1;
}

int cmd_eval_diagnose(const struct doctor_globals *g, int argc, char **argv)
{
	struct diag_options o = { 0 };
	struct diag_set s = { 0 };
	struct deval_totals t = { 0 };
	struct rpc_client *c = NULL;
	json_t *results = json_array(), *report;
	int status, rc;

	status = parse_options(argc, argv, &o);
	if (status < 0)
		status = read_cases(o.file, &s);
	if (status >= 0)
		goto done;
	if (!results || doctor_connect(g, &c) < 0) {
		status = results ? DOCTOR_EXIT_NO_DAEMON : DOCTOR_EXIT_ERROR;
		goto done;
	}
	rc = evaluate(c, &o, &s, &t, results);
	if (rc < 0) {
		if (rc == -ENOMEM)
			doctor_msg("out of memory");
		status = doctor_exit_status(rc);
		goto done;
	}
	if (o.as_json) {
		report = deval_report(&t, s.malformed, json_incref(results));
		status = report && doctor_print_json(report) == 0 ? DOCTOR_EXIT_OK : DOCTOR_EXIT_ERROR;
		json_decref(report);
	} else {
		print_totals(&o, &s, &t);
		if (o.show_misses)
			print_misses(results);
		status = DOCTOR_EXIT_OK;
	}
	if (status == DOCTOR_EXIT_OK && s.malformed)
		status = DOCTOR_EXIT_ERROR;
done:
	rpc_client_free(c);
	json_decref(results);
	set_free(&s);
	return status;
}
