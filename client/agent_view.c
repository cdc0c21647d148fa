/*
 * agent_view.c - the agent's runs as text: streamed answers, retries, and
 * the one-line start and end of a run (see agent_view.h).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE     /* asprintf */
#endif
#include <stdlib.h>
#include <string.h>

#include "agent_view.h"
#include "format.h"

static const char *text_of(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

void agent_view_end_line(struct agent_view_stream *s)
{
	if (s->midline) {
		fputc('\n', s->out);
		s->newlines = 1;
	}
	s->midline = false;
	fflush(s->out);
}

void agent_view_text(struct agent_view_stream *s, json_int_t incident, json_int_t run,
                     const char *text, bool label)
{
	char *safe;
	const char *p;
	size_t n, lead, keep, trail;

	if (!text || !*text || !(safe = format_terminal_safe(text, false)))
		return;
	p = safe;
	if (label && run != s->run) {
		agent_view_end_line(s);
		fprintf(s->out, "[#%" JSON_INTEGER_FORMAT "] ", incident);
		s->newlines = 0;
		p += strspn(p, "\n");
	} else if (s->any_text && run == s->run) {
		/* a turn's paragraph after text that ended its line: one blank
		 * line between them, not two */
		lead = strspn(p, "\n");
		keep = s->newlines >= 2 ? 0 : 2 - s->newlines;
		if (lead > keep)
			p += lead - keep;
	}
	s->run = run;
	fputs(p, s->out);
	n = strlen(p);
	if (n > 0) {
		for (trail = 0; trail < n && p[n - 1 - trail] == '\n'; trail++)
			;
		s->newlines = trail == n ? s->newlines + trail : trail;
		s->midline = p[n - 1] != '\n';
		s->any_text = true;
	}
	fflush(s->out);
	free(safe);
}

void agent_view_delta(struct agent_view_stream *s, const json_t *params, bool label)
{
	agent_view_text(s, json_integer_value(json_object_get(params, "incident")),
	                json_integer_value(json_object_get(params, "run")),
	                text_of(params, "text"), label);
}

void agent_view_retry(struct agent_view_stream *s, const json_t *params)
{
	const char *message = text_of(params, "message");
	char *safe = format_fit(message ? message : "?", 0);

	agent_view_end_line(s);
	fprintf(s->out, "[#%" JSON_INTEGER_FORMAT ": the LLM request failed (%s); retrying in %.1f s%s]\n",
	        json_integer_value(json_object_get(params, "incident")), safe ? safe : "?",
	        (double)json_integer_value(json_object_get(params, "wait_ms")) / 1000.0,
	        json_is_true(json_object_get(params, "discard")) ?
	        "; the text above is discarded, the answer starts again" : "");
	fflush(s->out);
	s->run = 0;
	free(safe);
}

char *agent_view_started(const json_t *params)
{
	const char *model = text_of(params, "model");
	char *line = NULL;

	if (asprintf(&line, "#%" JSON_INTEGER_FORMAT ": %s %s (run %" JSON_INTEGER_FORMAT ")",
	             json_integer_value(json_object_get(params, "incident")),
	             json_is_true(json_object_get(params, "cached")) ? "answered from the cache of" :
	             "asking", model ? model : "the LLM",
	             json_integer_value(json_object_get(params, "run"))) < 0)
		return NULL;
	return line;
}

bool agent_view_failed(const json_t *params)
{
	const char *state = text_of(params, "state");

	return state && (strcmp(state, "failed") == 0 || strcmp(state, "cancelled") == 0);
}

/* "[1200+60 tokens, $0.001200]", "[from the cache]"; into buf. */
static void cost_note(const json_t *params, char *buf, size_t size)
{
	const json_t *usage = json_object_get(params, "usage");

	if (json_is_true(json_object_get(params, "cached")))
		snprintf(buf, size, "[from the cache, no cost]");
	else
		snprintf(buf, size, "[%" JSON_INTEGER_FORMAT "+%" JSON_INTEGER_FORMAT
		         " tokens, $%.6f]",
		         json_integer_value(json_object_get(usage, "prompt_tokens")),
		         json_integer_value(json_object_get(usage, "completion_tokens")),
		         json_number_value(json_object_get(params, "cost_usd")));
}

char *agent_view_done(const json_t *params, bool with_summary)
{
	const json_t *diag = json_array_get(json_object_get(params, "diagnoses"), 0);
	const char *model = text_of(params, "model"), *state = text_of(params, "state");
	const char *limit = text_of(params, "limit"), *error = text_of(params, "error");
	const char *summary = text_of(diag, "summary");
	json_int_t incident = json_integer_value(json_object_get(params, "incident"));
	json_int_t run = json_integer_value(json_object_get(params, "run"));
	char cost[96], *line = NULL, *said;
	int rc;

	cost_note(params, cost, sizeof cost);
	if (!json_is_true(json_object_get(params, "cached")) &&
	    json_number_value(json_object_get(params, "cost_usd")) <= 0 &&
	    json_integer_value(json_object_get(json_object_get(params, "usage"), "prompt_tokens")) <= 0)
		cost[0] = '\0';        /* nothing was spent: nothing to say */
	if (!model)
		model = "the LLM";
	if (agent_view_failed(params)) {
		said = format_fit(error ? error : "", 0);
		rc = asprintf(&line, "#%" JSON_INTEGER_FORMAT ": the diagnosis by %s (run %"
		              JSON_INTEGER_FORMAT ") %s%s%s%s%s", incident, model, run,
		              strcmp(state, "failed") == 0 ? "failed" : "was cancelled",
		              said && *said ? ": " : "", said ? said : "", *cost ? "  " : "", cost);
	} else {
		said = with_summary ? format_fit(summary ? summary : "(no summary)", 0) : NULL;
		rc = asprintf(&line, "#%" JSON_INTEGER_FORMAT ": diagnosed by %s (run %"
		              JSON_INTEGER_FORMAT "%s%s)%s%s%s%s", incident, model, run,
		              limit ? ", stopped by the limit " : "", limit ? limit : "",
		              said ? ": " : "", said ? said : "", *cost ? "  " : "", cost);
	}
	free(said);
	return rc < 0 ? NULL : line;
}
