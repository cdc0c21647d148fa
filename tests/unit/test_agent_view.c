/*
 * test_agent_view.c - the agent's runs as text (client/agent_view.c): the
 * streamed answer made safe for a terminal, one blank line between turns,
 * runs labelled when several write at once, retries, and the one-line start
 * and end of a run (done, cached, limited, failed, cancelled).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE     /* open_memstream */
#endif
#include <stdlib.h>
#include <string.h>

#include "agent_view.h"
#include "tap.h"

/* What fn printed on a stream into memory. */
struct capture {
	char *buf;
	size_t len;
	struct agent_view_stream s;
};

static void capture_open(struct capture *c)
{
	memset(c, 0, sizeof(*c));
	c->s.out = open_memstream(&c->buf, &c->len);
}

static const char *capture_text(struct capture *c)
{
	fflush(c->s.out);
	return c->buf;
}

static void capture_close(struct capture *c)
{
	fclose(c->s.out);
	free(c->buf);
}

static json_t *delta(json_int_t incident, json_int_t run, const char *text)
{
	return json_pack("{s:I, s:I, s:s}", "incident", incident, "run", run, "text", text);
}

static void put(struct capture *c, json_int_t incident, json_int_t run, const char *text,
                bool label)
{
	json_t *d = delta(incident, run, text);

	agent_view_delta(&c->s, d, label);
	json_decref(d);
}

static void test_stream(void)
{
	struct capture c;
	json_t *retry;

	capture_open(&c);
	put(&c, 7, 3, "Checking the \x1b[31mdocs\x1b[0m.\n", false);
	put(&c, 7, 3, "\n\nThe answer\a.", false);
	agent_view_end_line(&c.s);
	tap_is_str(capture_text(&c), "Checking the docs.\n\nThe answer.\n",
	           "escape sequences and controls removed, one blank line between turns");
	capture_close(&c);

	capture_open(&c);
	put(&c, 7, 3, "first run ", true);
	put(&c, 8, 4, "second run", true);
	put(&c, 7, 3, "first again", true);
	agent_view_end_line(&c.s);
	tap_is_str(capture_text(&c), "[#7] first run \n[#8] second run\n[#7] first again\n",
	           "several runs: each text on its own line, headed by its incident");
	capture_close(&c);

	capture_open(&c);
	put(&c, 7, 3, "half an ans", false);
	retry = json_pack("{s:I, s:I, s:i, s:I, s:s, s:b}", "incident", (json_int_t)7, "run",
	                  (json_int_t)3, "attempt", 2, "wait_ms", (json_int_t)1500, "message",
	                  "HTTP 503\n\x1b[2Jgone", "discard", 1);
	agent_view_retry(&c.s, retry);
	json_decref(retry);
	tap_is_str(capture_text(&c), "half an ans\n[#7: the LLM request failed (HTTP 503 gone); "
	           "retrying in 1.5 s; the text above is discarded, the answer starts again]\n",
	           "a retry ends the line, says the wait and that the text is discarded");
	capture_close(&c);
}

static void test_lines(void)
{
	json_t *p;
	char *line;

	p = json_pack("{s:I, s:I, s:s, s:b}", "incident", (json_int_t)7, "run", (json_int_t)3,
	              "model", "gpt-4o-mini", "cached", 0);
	line = agent_view_started(p);
	tap_is_str(line, "#7: asking gpt-4o-mini (run 3)", "started");
	free(line);
	json_object_set_new(p, "cached", json_true());
	line = agent_view_started(p);
	tap_is_str(line, "#7: answered from the cache of gpt-4o-mini (run 3)", "started, cached");
	free(line);
	json_decref(p);

	p = json_pack("{s:I, s:I, s:s, s:s, s:[{s:s}], s:{s:i, s:i}, s:f, s:b, s:n, s:n}",
	              "incident", (json_int_t)7, "run", (json_int_t)3, "model", "m", "state", "done",
	              "diagnoses", "summary", "cv2 is not installed.\nMore.", "usage",
	              "prompt_tokens", 1200, "completion_tokens", 60, "cost_usd", 0.0012,
	              "cached", 0, "limit", "error");
	line = agent_view_done(p, true);
	tap_is_str(line, "#7: diagnosed by m (run 3): cv2 is not installed. More.  "
	           "[1200+60 tokens, $0.001200]", "done, with the summary on one line");
	free(line);
	line = agent_view_done(p, false);
	tap_is_str(line, "#7: diagnosed by m (run 3)  [1200+60 tokens, $0.001200]",
	           "done, without the summary");
	free(line);
	json_object_set_new(p, "limit", json_string("max_steps"));
	json_object_set_new(p, "state", json_string("limited"));
	line = agent_view_done(p, false);
	tap_is_str(line, "#7: diagnosed by m (run 3, stopped by the limit max_steps)  "
	           "[1200+60 tokens, $0.001200]", "limited");
	free(line);
	json_object_set_new(p, "limit", json_null());
	json_object_set_new(p, "state", json_string("done"));
	json_object_set_new(p, "cached", json_true());
	line = agent_view_done(p, false);
	tap_is_str(line, "#7: diagnosed by m (run 3)  [from the cache, no cost]", "cached");
	free(line);
	json_decref(p);

	p = json_pack("{s:I, s:I, s:s, s:s, s:[], s:{s:i, s:i}, s:f, s:b, s:s}",
	              "incident", (json_int_t)7, "run", (json_int_t)4, "model", "m", "state",
	              "failed", "diagnoses", "usage", "prompt_tokens", 0, "completion_tokens", 0,
	              "cost_usd", 0.0, "cached", 0, "error", "HTTP 401: bad key\n(set llm.api_key_env)");
	tap_ok(agent_view_failed(p), "failed is a failure");
	line = agent_view_done(p, true);
	tap_is_str(line, "#7: the diagnosis by m (run 4) failed: HTTP 401: bad key "
	           "(set llm.api_key_env)", "failed: its error on one line, no cost when none");
	free(line);
	json_object_set_new(p, "state", json_string("cancelled"));
	json_object_del(p, "error");
	line = agent_view_done(p, true);
	tap_is_str(line, "#7: the diagnosis by m (run 4) was cancelled", "cancelled");
	free(line);
	json_object_set_new(p, "state", json_string("done"));
	tap_ok(!agent_view_failed(p), "done is not a failure");
	json_decref(p);
}

int main(void)
{
	test_stream();
	test_lines();
	return tap_done();
}
