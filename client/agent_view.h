/*
 * agent_view.h - the agent's runs (an LLM diagnosis, docs/agent.md) as
 * text for `doctor run` and `doctor watch`: the answer streamed as it is
 * written (diagnosis.delta), the retries (diagnosis.retry), and one line
 * for a run's start (diagnosis.started) and for its end (diagnosis.done).
 *
 * The text comes from a model and is made safe for a terminal (no escape
 * sequences or control characters but newline and tab) before it is
 * printed. json_t arguments are borrowed; strings returned are newly
 * allocated (the caller frees them) or NULL when out of memory.
 */
#ifndef DOCTOR_AGENT_VIEW_H
#define DOCTOR_AGENT_VIEW_H

#include <stdbool.h>
#include <stdio.h>
#include <jansson.h>

/* Where a streamed answer goes, and where it stands. */
struct agent_view_stream {
	FILE *out;
	json_int_t run;         /* the run whose text was printed last; 0: none */
	bool midline;           /* printed text does not end with a newline */
	size_t newlines;        /* newlines that end the text printed */
	bool any_text;          /* some text was printed */
};

/* Print text streamed by run (of incident). When label is true and the
 * text is of another run than the last text printed, it starts on a line
 * of its own headed "[#INCIDENT] " (several runs streaming at once). */
void agent_view_text(struct agent_view_stream *s, json_int_t incident, json_int_t run,
                     const char *text, bool label);

/* Print a diagnosis.delta's text, as agent_view_text(). */
void agent_view_delta(struct agent_view_stream *s, const json_t *params, bool label);


/* End the line of streamed text, if one is open. */
void agent_view_end_line(struct agent_view_stream *s);

/* A diagnosis.retry: the failed request and the wait, and, when its
 * discard is true, that the text above is thrown away. */
void agent_view_retry(struct agent_view_stream *s, const json_t *params);

/* "#7: asking MODEL (run 3)" or "#7: MODEL answers from the cache (run 3)"
 * for a diagnosis.started. */
char *agent_view_started(const json_t *params);

/* One line for a diagnosis.done:
 * "#7: diagnosed by MODEL (run 3): SUMMARY  [1200+60 tokens, $0.001200]"
 * (the summary only if with_summary), "[from the cache, no cost]", "stopped
 * by the limit L"; for a failed or cancelled run, "#7: the diagnosis by
 * MODEL (run 3) failed: ERROR". */
char *agent_view_done(const json_t *params, bool with_summary);

/* True when a diagnosis.done's run ended without a diagnosis to show. */
bool agent_view_failed(const json_t *params);

#endif
