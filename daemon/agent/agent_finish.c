/*
 * agent_finish.c - the end of a run (see agent_loop.h, docs/agent.md "The
 * end"): the diagnosis by plugin "agent" made from the model's answer (or
 * composed here when a limit or a failure left none), recorded with
 * store_diagnosis_record so that its remedies get ids and wait for
 * remedy.confirm like any plugin's; the run finished in the store; then
 * diagnosis.done and remedy.proposed for the clients.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_loop.h"
#include "doctord.h"
#include "log.h"
#include "redact.h"

/* Most documentation pages a composed diagnosis lists. */
#define LOCAL_MAX_PAGES 5

/* ------------------------------------------------------------ helpers */

/* What the limit hit means, for the user. */
static void limit_text(const struct agent_run *r, char *buf, size_t n)
{
	const char *l = r->limit ? r->limit : "";

	if (strcmp(l, "max_steps") == 0)
		snprintf(buf, n, "the step limit was reached (agent.max_steps: %d)", r->cfg.max_steps);
	else if (strcmp(l, "repeated_tool_call") == 0)
		snprintf(buf, n, "the model kept repeating an identical tool call");
	else if (strcmp(l, "budget_per_diagnosis") == 0)
		snprintf(buf, n, "the budget of one diagnosis was spent ($%.4f of $%.4f, "
		         "agent.budget_per_diagnosis)", r->cost_usd, r->cfg.budget_per_diagnosis);
	else if (strcmp(l, "budget_daily") == 0)
		snprintf(buf, n, "today's budget was spent (agent.budget_daily: $%.2f)",
		         r->cfg.budget_daily);
	else
		snprintf(buf, n, "%s", l);
}

/* The diagnosis object. citations stolen; remedies copied. New reference,
 * NULL when out of memory. */
static json_t *diagnosis_new(const struct agent_run *r, const char *summary,
                             const char *explanation, json_t *citations, json_t *remedies,
                             double confidence)
{
	json_t *d = json_pack("{s:s, s:s, s:s, s:f, s:o, s:o, s:s, s:I}", "plugin", "agent",
	                      "summary", summary, "explanation", explanation ? explanation : "",
	                      "confidence", confidence, "references",
	                      citations ? citations : json_array(), "remedies",
	                      remedies ? json_deep_copy(remedies) : json_array(), "model",
	                      r->model, "run", (json_int_t)r->id);

	if (d && r->limit)
		json_object_set_new(d, "limit", json_string(r->limit));
	/* the run's result names them citations (store.h), a diagnosis references */
	if (d)
		json_object_set(d, "citations", json_object_get(d, "references"));
	return d;
}

/* remedy.proposed for each remedy still open. */
static void announce_remedies(struct agent_run *r, json_t *diag)
{
	json_t *remedy, *copy;
	size_t i;

	json_array_foreach(json_object_get(diag, "remedies"), i, remedy) {
		const char *state = json_string_value(json_object_get(remedy, "state"));
		if (!state || strcmp(state, "proposed") != 0 || !(copy = json_deep_copy(remedy)))
			continue;
		json_object_set_new(copy, "incident", json_integer(r->incident_id));
		json_object_set_new(copy, "plugin", json_string("agent"));
		run_announce(r, "remedy.proposed", json_pack("{s:o}", "remedy", copy));
	}
}

/* Record, finish in the store, tell. diag (borrowed, may be NULL) gets
 * its remedies' ids; error may be NULL. */
static void finish_with(struct agent_run *r, const char *state, json_t *diag, const char *error)
{
	store *st = r->a->d->st;
	char *err = NULL;
	json_t *done;

	if (r->phase == RUN_ENDED)
		return;
	if (error)
		redact_text(r->a->redactor, error, strlen(error), &err, NULL, NULL);
	if (diag && store_diagnosis_record(st, r->incident_id, diag, NULL) < 0)
		log_error("store: run %lld: cannot record the diagnosis: %s", (long long)r->id,
		          store_errmsg(st));
	if (!r->cached_from &&
	    store_agent_run_finish(st, r->id, state, diag, err, r->limit) < 0)
		log_error("store: cannot finish run %lld: %s", (long long)r->id, store_errmsg(st));
	done = json_pack("{s:I, s:I, s:s, s:o, s:o, s:{s:I, s:I}, s:f, s:s, s:b, s:i,"
	                 " s:s?, s:s?}",
	                 "incident", (json_int_t)r->incident_id, "run", (json_int_t)r->id,
	                 "state", state, "diagnoses", diag ? json_pack("[O]", diag) : json_array(),
	                 "citations", diag && json_is_array(json_object_get(diag, "references")) ?
	                 json_incref(json_object_get(diag, "references")) : json_array(),
	                 "usage", "prompt_tokens", (json_int_t)r->prompt_tokens,
	                 "completion_tokens", (json_int_t)r->completion_tokens,
	                 "cost_usd", r->cost_usd, "model", r->model,
	                 "cached", r->cached_from > 0, "steps", r->steps,
	                 "limit", r->limit, "error", err);
	if (done && r->cached_from)
		json_object_set_new(done, "cached_from", json_integer(r->cached_from));
	run_announce(r, "diagnosis.done", done);
	announce_remedies(r, diag);
	log_info("agent: run %lld for incident %lld %s after %d request%s (%lld+%lld tokens, "
	         "$%.6f)%s%s", (long long)r->id, (long long)r->incident_id, state, r->steps,
	         r->steps == 1 ? "" : "s", (long long)r->prompt_tokens,
	         (long long)r->completion_tokens, r->cost_usd, r->limit ? ", limit " : "",
	         r->limit ? r->limit : "");
	free(err);
	run_end(r);
}

/* A diagnosis composed from what the run learned: the model's last text,
 * the pages it was given or found, the remedies it proposed. */
static json_t *compose_local(struct agent_run *r, const char *summary)
{
	json_t *pages = json_array(), *p, *diag;
	char *buf = NULL;
	size_t len = 0, i;
	FILE *f = open_memstream(&buf, &len);

	if (!f || !pages) {
		if (f)
			fclose(f);
		free(buf);
		json_decref(pages);
		return NULL;
	}
	if (r->last_content)
		fprintf(f, "The model's last words:\n%s\n\n", r->last_content);
	if (json_array_size(r->consulted) > 0)
		fputs("Documentation consulted:\n", f);
	json_array_foreach(r->consulted, i, p) {
		if (i >= LOCAL_MAX_PAGES)
			break;
		const char *anchor = json_string_value(json_object_get(p, "anchor"));
		fprintf(f, "- [%s%s%s] %s\n", json_string_value(json_object_get(p, "page")),
		        anchor && *anchor ? "#" : "", anchor ? anchor : "",
		        json_string_value(json_object_get(p, "title")));
		json_array_append(pages, p);
	}
	if (json_array_size(r->remedies) > 0)
		fputs("\nThe remedies proposed before it stopped are below; none runs unless you "
		      "confirm it.\n", f);
	if (fclose(f) != 0) {
		free(buf);
		json_decref(pages);
		return NULL;
	}
	diag = diagnosis_new(r, summary, buf, pages, r->remedies, 0.2);
	free(buf);
	return diag;
}

/* The remedies of a JSON answer, checked like propose_remedy's. */
static void add_json_remedies(struct agent_run *r, json_t *list, json_t *into)
{
	json_t *item, *remedy;
	char *why;
	size_t i;

	json_array_foreach(list, i, item) {
		remedy = NULL;
		why = NULL;
		if (agent_tool_propose_remedy(&r->tool_ctx, item, &remedy, &why) == 0 && remedy)
			json_array_append_new(into, remedy);
		else
			run_note(r, "a remedy of the answer was refused: %.200s", why ? why : "?");
		free(why);
	}
}

/* ------------------------------------------------------------ ends */

void run_finish_local(struct agent_run *r)
{
	char what[200], summary[300];
	json_t *diag;

	if (r->phase == RUN_ENDED)
		return;
	if (r->limit) {
		limit_text(r, what, sizeof(what));
		snprintf(summary, sizeof(summary), "No complete diagnosis: %s.", what);
	} else {
		snprintf(summary, sizeof(summary), "No diagnosis: the model gave no answer.");
	}
	diag = compose_local(r, summary);
	finish_with(r, r->limit ? "limited" : "failed", diag,
	            r->limit ? NULL : "the model gave no answer");
	json_decref(diag);
}

void run_finish_answer(struct agent_run *r, const char *content)
{
	json_t *ans = NULL, *remedies = NULL, *diag = NULL, *conf;
	const char *summary, *explanation;
	char what[200], *text = NULL;

	if (r->phase == RUN_ENDED)
		return;
	if (!content || !*content || agent_parse_answer(content, !r->tools, r->known_pages,
	                                                &ans) < 0 ||
	    !(summary = json_string_value(json_object_get(ans, "summary"))) || !*summary) {
		json_decref(ans);
		run_finish_local(r);
		return;
	}
	explanation = json_string_value(json_object_get(ans, "explanation"));
	if (r->limit) {
		limit_text(r, what, sizeof(what));
		if (asprintf(&text, "Stopped early: %s.\n\n%s", what, explanation ? explanation : "") < 0)
			text = NULL;
		explanation = text;
	}
	remedies = json_deep_copy(r->remedies);
	if (remedies && !r->tools)
		add_json_remedies(r, json_object_get(ans, "remedies"), remedies);
	conf = json_object_get(ans, "confidence");
	diag = remedies ? diagnosis_new(r, summary, explanation,
	                                json_incref(json_object_get(ans, "citations")), remedies,
	                                json_is_number(conf) ? json_number_value(conf) :
	                                r->limit ? 0.4 : 0.6) : NULL;
	if (diag)
		finish_with(r, r->limit ? "limited" : "done", diag, NULL);
	else
		run_finish_error(r, "out of memory");
	json_decref(diag);
	json_decref(remedies);
	json_decref(ans);
	free(text);
}

void run_finish_error(struct agent_run *r, const char *error)
{
	json_t *diag = NULL;
	char summary[300];

	if (r->phase == RUN_ENDED)
		return;
	if (r->cancelled) {
		finish_with(r, "cancelled", NULL,
		            r->a->stopping ? "cancelled: doctord is stopping" : "cancelled");
		return;
	}
	/* remedies proposed before the failure are not lost */
	if (json_array_size(r->remedies) > 0) {
		snprintf(summary, sizeof(summary), "No complete diagnosis: %.200s.", error);
		diag = compose_local(r, summary);
	}
	finish_with(r, "failed", diag, error);
	json_decref(diag);
}

void run_finish_cached(struct agent_run *r)
{
	store *st = r->a->d->st;
	json_t *run = NULL, *result, *diag = NULL, *remedies;

	if (store_agent_run_get(st, r->id, false, &run) == 0 &&
	    json_is_object(result = json_object_get(run, "result")) &&
	    (diag = json_deep_copy(result)) && (remedies = json_array())) {
		/* the same proposals, checked again for this incident's source */
		add_json_remedies(r, json_object_get(result, "remedies"), remedies);
		json_object_set_new(diag, "remedies", remedies);
		json_object_set_new(diag, "plugin", json_string("agent"));
		json_object_set_new(diag, "run", json_integer(r->id));
		json_object_set_new(diag, "cached_from", json_integer(r->cached_from));
		json_object_set_new(diag, "model", json_string(r->model));
		finish_with(r, "done", diag, NULL);
	} else {
		finish_with(r, "done", NULL, "the cached diagnosis cannot be read");
	}
	json_decref(diag);
	json_decref(run);
}
