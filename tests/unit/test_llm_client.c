/*
 * test_llm_client.c - the Chat Completions transport (llm_client.c over
 * http_uv.c) on a real libuv loop against the local OpenAI-compatible
 * server (tests/servers/openai_server.py) playing the scripts of
 * tests/servers/chat_scripts/.
 *
 * Checks streamed and whole answers, tool calls cut in pieces, deltas in
 * order, what the server received (the body, the key as Bearer), every
 * failure and its retries with their waits (429 with Retry-After, 503
 * twice, 401, an exhausted quota, a wait over the cap, a slow server, a
 * stalled and a truncated stream, invalid JSON, an error in a 200 stream,
 * an answer over the size cap, a refused connection), cancelling in the
 * middle of a stream and during a wait, and a shutdown with transfers in
 * flight after which uv_loop_close succeeds. The key never shows in a
 * message. Leaks are the sanitizer build's to find.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "tap.h"
#include "llm_client.h"
#include "loop_util.h"
#include "openai_child.h"

#define KEY_VAR "DOCTOR_TEST_LLM_KEY"
#define SECRET "sk-test-Hq3wPz8RkV2mN6yT"
#define HELLO "Hello from the script: the object store is full, so Ray spills objects to disk."
#define MAX_RETRIES 8

static uv_loop_t loop;
static struct llm_client *client;

/* ================================================================ one call */

/* Everything the callbacks saw of one call. */
struct outcome {
	struct llm_call *call;
	int ndone;
	struct llm_response resp;     /* taken from the result */
	unsigned attempts;
	long first_byte_ms, total_ms;

	char text[4096];              /* deltas joined since the last discard */
	size_t text_len;
	int ndeltas, deltas_after_cancel;

	int nretries;
	long waits[MAX_RETRIES];
	unsigned next_attempt[MAX_RETRIES];
	bool discards[MAX_RETRIES];
	char retry_msg[512];          /* the first retry's error message */

	int cancel_after_deltas;      /* > 0: cancel at that delta */
	bool cancel_in_retry;
	bool cancelled;
};

static void on_delta(void *ud, const char *text, size_t len)
{
	struct outcome *o = ud;

	if (o->cancelled)
		o->deltas_after_cancel++;
	o->ndeltas++;
	if (o->text_len + len < sizeof o->text) {
		memcpy(o->text + o->text_len, text, len);
		o->text_len += len;
		o->text[o->text_len] = '\0';
	}
	if (o->cancel_after_deltas && o->ndeltas == o->cancel_after_deltas) {
		o->cancelled = true;
		llm_call_cancel(o->call);
		llm_call_cancel(o->call);       /* harmless twice */
	}
}

static void on_retry(void *ud, const struct llm_retry *r)
{
	struct outcome *o = ud;

	if (o->nretries < MAX_RETRIES) {
		o->waits[o->nretries] = r->wait_ms;
		o->next_attempt[o->nretries] = r->attempt;
		o->discards[o->nretries] = r->discard;
	}
	if (o->nretries == 0 && r->error->message)
		snprintf(o->retry_msg, sizeof o->retry_msg, "%s", r->error->message);
	o->nretries++;
	if (r->discard) {
		o->text_len = 0;
		o->text[0] = '\0';
	}
	if (o->cancel_in_retry) {
		o->cancelled = true;
		llm_call_cancel(o->call);
	}
}

static void on_done(void *ud, struct llm_result *res)
{
	struct outcome *o = ud;

	if (o->ndone++ == 0) {
		llm_response_release(&o->resp);
		o->resp = res->response;                /* taken */
		llm_response_init(&res->response);
		o->attempts = res->attempts;
		o->first_byte_ms = res->first_byte_ms;
		o->total_ms = res->total_ms;
	}
}

static const struct llm_callbacks callbacks = {
	.delta = on_delta, .retry = on_retry, .done = on_done,
};

static struct llm_endpoint endpoint(void)
{
	struct llm_endpoint ep;

	llm_endpoint_defaults(&ep);
	ep.base_url = openai_child_url();
	ep.model = "script:hello";
	ep.api_key_env = KEY_VAR;
	ep.connect_timeout_ms = 2000;
	ep.timeout_ms = 10000;
	ep.idle_timeout_ms = 0;
	ep.backoff_base_ms = 50;
	ep.backoff_cap_ms = 200;
	ep.retry_after_cap_ms = 5000;
	return ep;
}

static json_t *messages(void)
{
	return json_pack("[{s:s, s:s}, {s:s, s:s}]", "role", "system", "content",
			 "You are doctor.", "role", "user", "content", "Why did my job fail?");
}

static void outcome_init(struct outcome *o)
{
	memset(o, 0, sizeof *o);
	llm_response_init(&o->resp);
}

static void outcome_release(struct outcome *o)
{
	llm_response_release(&o->resp);
}

/* Start a call on the shared client: 0 or what llm_chat returned. */
static int start(struct llm_client *c, const struct llm_endpoint *ep, const char *model,
		 bool stream, struct outcome *o)
{
	json_t *msgs = messages();
	struct llm_request req = { .model = model, .messages = msgs, .stream = stream,
				   .temperature = -1 };
	struct llm_callbacks cb = callbacks;
	int rc;

	cb.ud = o;
	rc = llm_chat(c, ep, &req, &cb, &o->call);
	json_decref(msgs);
	return rc;
}

/* Run the loop until o is done. */
static void wait_done(uv_loop_t *l, struct outcome *o)
{
	while (o->ndone == 0)
		if (uv_run(l, UV_RUN_ONCE) == 0 && o->ndone == 0)
			break;
}

/* One call, to its end. */
static int chat(const struct llm_endpoint *ep, const char *model, bool stream, struct outcome *o)
{
	int rc = start(client, ep, model, stream, o);

	if (rc == 0)
		wait_done(&loop, o);
	return rc;
}

/* ================================================================ the log */

/* How many requests the server got for this model name. */
static int requests_for(const char *model)
{
	json_t *all = openai_child_log(), *e;
	size_t i;
	int n = 0;

	json_array_foreach(all, i, e) {
		const char *m = json_string_value(json_object_get(json_object_get(e, "body"),
								  "model"));
		if (m && strcmp(m, model) == 0)
			n++;
	}
	json_decref(all);
	return n;
}

/* The last request for this model (new reference), or NULL. */
static json_t *last_request(const char *model)
{
	json_t *all = openai_child_log(), *e, *found = NULL;
	size_t i;

	json_array_foreach(all, i, e) {
		const char *m = json_string_value(json_object_get(json_object_get(e, "body"),
								  "model"));
		if (m && strcmp(m, model) == 0)
			found = e;
	}
	json_incref(found);
	json_decref(all);
	return found;
}

static bool contains(const char *s, const char *part)
{
	return s && strstr(s, part);
}

static const char *msg_of(const struct outcome *o)
{
	return o->resp.error.message ? o->resp.error.message : "(none)";
}

/* ================================================================ answers */

static void test_whole_answer(void)
{
	struct llm_endpoint ep = endpoint();
	struct outcome o;
	json_t *req;

	outcome_init(&o);
	tap_is_int(chat(&ep, "script:hello:whole", false, &o), 0, "whole: llm_chat starts");
	tap_is_int(o.ndone, 1, "whole: done once");
	tap_is_int(o.resp.error.kind, LLM_ERR_NONE, "whole: no error");
	tap_is_str(o.resp.content, HELLO, "whole: the content");
	tap_is_str(o.resp.reasoning, "The user wants a greeting.", "whole: reasoning kept apart");
	tap_is_str(o.resp.finish_reason, "stop", "whole: finish_reason");
	tap_ok(o.resp.usage.prompt_tokens == 21 && o.resp.usage.completion_tokens == 17 &&
	       o.resp.usage.total_tokens == 38, "whole: usage");
	tap_is_int(o.attempts, 1, "whole: one attempt");
	tap_is_int(o.ndeltas, 0, "whole: no deltas when not streamed");
	tap_ok(o.first_byte_ms >= 0 && o.total_ms >= o.first_byte_ms,
	       "whole: latencies (first byte %ld ms, total %ld ms)", o.first_byte_ms, o.total_ms);

	req = last_request("script:hello:whole");
	tap_is_str(json_string_value(json_object_get(json_object_get(req, "headers"),
						     "Authorization")),
		   "Bearer " SECRET, "the key goes as Bearer");
	tap_ok(json_is_false(json_object_get(json_object_get(req, "body"), "stream")),
	       "whole: stream false in the body");
	tap_is_int(json_array_size(json_object_get(json_object_get(req, "body"), "messages")), 2,
		   "the messages are sent");
	tap_is_str(json_string_value(json_object_get(req, "path")), "/v1/chat/completions",
		   "the path");
	json_decref(req);
	outcome_release(&o);
}

static void test_streamed_answer(void)
{
	struct llm_endpoint ep = endpoint();
	struct outcome o;
	json_t *req, *body;

	outcome_init(&o);
	tap_is_int(chat(&ep, "script:hello:stream", true, &o), 0, "stream: llm_chat starts");
	tap_is_int(o.resp.error.kind, LLM_ERR_NONE, "stream: no error");
	tap_is_str(o.resp.content, HELLO, "stream: the content");
	tap_ok(o.ndeltas >= 10, "stream: the text came in pieces (%d deltas)", o.ndeltas);
	tap_is_str(o.text, HELLO, "stream: the deltas, in order, join to the content");
	tap_is_str(o.resp.reasoning, "The user wants a greeting.",
		   "stream: reasoning apart, not in the deltas");
	tap_ok(o.resp.usage.total_tokens == 38, "stream: usage from the last chunk");
	tap_ok(o.resp.done, "stream: [DONE] seen");
	tap_is_int(o.attempts, 1, "stream: one attempt");

	req = last_request("script:hello:stream");
	body = json_object_get(req, "body");
	tap_ok(json_is_true(json_object_get(body, "stream")) &&
	       json_is_true(json_object_get(json_object_get(body, "stream_options"),
					    "include_usage")),
	       "stream: stream and stream_options.include_usage sent");
	tap_is_str(json_string_value(json_object_get(json_object_get(req, "headers"), "Accept")),
		   "text/event-stream", "stream: Accept text/event-stream");
	json_decref(req);
	outcome_release(&o);
}

static void check_tools(const struct outcome *o, const char *what)
{
	json_t *a0 = NULL, *a1 = NULL, *w0, *w1;
	char name[128];

	snprintf(name, sizeof name, "%s: two tool calls", what);
	tap_is_int(o->resp.ncalls, 2, name);
	if (o->resp.ncalls != 2)
		return;
	w0 = json_pack("{s:s, s:i}", "query", "ray object store full", "k", 5);
	w1 = json_pack("{s:s, s:[i,i]}", "path", "train.py", "lines", 1, 40);
	a0 = json_loads(o->resp.tool_calls[0].arguments, 0, NULL);
	a1 = json_loads(o->resp.tool_calls[1].arguments, 0, NULL);
	tap_ok(strcmp(o->resp.tool_calls[0].name, "search_docs") == 0 &&
	       strcmp(o->resp.tool_calls[1].name, "read_file") == 0, "%s: names by index", what);
	tap_ok(strcmp(o->resp.tool_calls[0].id, "call_docs") == 0 &&
	       strcmp(o->resp.tool_calls[1].id, "call_file") == 0, "%s: ids", what);
	tap_ok(json_equal(a0, w0) && json_equal(a1, w1), "%s: arguments whole (%s | %s)", what,
	       o->resp.tool_calls[0].arguments, o->resp.tool_calls[1].arguments);
	tap_is_str(o->resp.finish_reason, "tool_calls", "tool calls: finish_reason");
	json_decref(a0);
	json_decref(a1);
	json_decref(w0);
	json_decref(w1);
}

static void test_tool_calls(void)
{
	struct llm_endpoint ep = endpoint();
	struct outcome o;

	outcome_init(&o);
	chat(&ep, "script:tools:stream", true, &o);
	tap_is_int(o.resp.error.kind, LLM_ERR_NONE, "tools streamed: no error");
	check_tools(&o, "tools streamed in pieces");
	tap_is_str(o.resp.content, "", "tools streamed: no content");
	tap_is_int(o.ndeltas, 0, "tools streamed: no text deltas");
	outcome_release(&o);

	outcome_init(&o);
	chat(&ep, "script:tools:whole", false, &o);
	tap_is_int(o.resp.error.kind, LLM_ERR_NONE, "tools whole: no error");
	check_tools(&o, "tools whole");
	outcome_release(&o);
}

static void test_loop_and_default_model(void)
{
	struct llm_endpoint ep = endpoint();
	struct outcome o;
	int i, same = 0;

	for (i = 0; i < 3; i++) {
		outcome_init(&o);
		chat(&ep, "script:loop", i % 2 == 0, &o);
		if (o.resp.ncalls == 1 && strcmp(o.resp.tool_calls[0].name, "search_docs") == 0 &&
		    strstr(o.resp.tool_calls[0].arguments, "ObjectStoreFullError"))
			same++;
		outcome_release(&o);
	}
	tap_is_int(same, 3, "the loop model calls the same tool every time");

	outcome_init(&o);
	chat(&ep, "any-model", false, &o);
	tap_is_str(o.resp.content, "You said: Why did my job fail?",
		   "a model with no script echoes the last user message");
	outcome_release(&o);

	/* The request's model empty: the endpoint's is used. */
	outcome_init(&o);
	ep.model = "script:hello:from-endpoint";
	chat(&ep, NULL, false, &o);
	tap_is_int(requests_for("script:hello:from-endpoint"), 1,
		   "no model in the request: the endpoint's is sent");
	outcome_release(&o);
}

/* ================================================================ retries */

static void test_rate_limit(void)
{
	struct llm_endpoint ep = endpoint();
	struct outcome o;

	outcome_init(&o);
	chat(&ep, "script:rate_limit", true, &o);
	tap_is_int(o.resp.error.kind, LLM_ERR_NONE, "429 then OK: success");
	tap_is_str(o.resp.content, "Answer after the rate limit.", "429 then OK: the answer");
	tap_is_int(o.attempts, 2, "429 then OK: two attempts");
	tap_is_int(o.nretries, 1, "429 then OK: the caller told once");
	tap_is_int(o.waits[0], 1000, "429 then OK: Retry-After: 1 is the wait");
	tap_is_int(o.next_attempt[0], 2, "429 then OK: the retry is attempt 2");
	tap_ok(!o.discards[0], "429 then OK: nothing to discard");
	tap_ok(contains(o.retry_msg, "429"), "429 then OK: the retry says why (%s)", o.retry_msg);
	tap_ok(o.total_ms >= 1000 && o.total_ms < 4000, "429 then OK: the wait was honoured (%ld ms)",
	       o.total_ms);
	tap_is_int(requests_for("script:rate_limit"), 2, "429 then OK: two requests arrived");
	outcome_release(&o);
}

static void test_overloaded(void)
{
	struct llm_endpoint ep = endpoint();
	struct outcome o;

	outcome_init(&o);
	chat(&ep, "script:overloaded", false, &o);
	tap_is_int(o.resp.error.kind, LLM_ERR_NONE, "503 twice then OK: success");
	tap_is_str(o.resp.content, "Answer after two 503s.", "503 twice then OK: the answer");
	tap_is_int(o.attempts, 3, "503 twice then OK: three attempts");
	tap_is_int(o.nretries, 2, "503 twice then OK: two retries told");
	tap_ok(o.waits[0] >= 25 && o.waits[0] <= 50 && o.waits[1] >= 50 && o.waits[1] <= 100,
	       "503 twice then OK: backoff doubles with jitter (%ld, %ld ms)", o.waits[0],
	       o.waits[1]);
	tap_ok(contains(o.retry_msg, "503"), "503: the retry says why (%s)", o.retry_msg);
	outcome_release(&o);
}

static void test_no_retry(void)
{
	struct llm_endpoint ep = endpoint();
	struct outcome o;

	outcome_init(&o);
	chat(&ep, "script:unauthorized", false, &o);
	tap_is_int(o.resp.error.kind, LLM_ERR_HTTP, "401: an HTTP error");
	tap_is_int(o.resp.error.status, 401, "401: the status");
	tap_is_int(o.attempts, 1, "401: no retry");
	tap_is_int(requests_for("script:unauthorized"), 1, "401: one request");
	tap_ok(contains(msg_of(&o), "401") && contains(msg_of(&o), "Incorrect API key"),
	       "401: a clear message (%s)", msg_of(&o));
	tap_ok(!contains(msg_of(&o), SECRET) && !contains(msg_of(&o), "Hq3wPz8RkV2mN6yT"),
	       "401: the key the server echoed is not in the message");
	outcome_release(&o);

	outcome_init(&o);
	chat(&ep, "script:quota", true, &o);
	tap_is_int(o.resp.error.status, 429, "insufficient_quota: status 429");
	tap_is_int(o.attempts, 1, "insufficient_quota: no retry");
	tap_ok(contains(msg_of(&o), "quota"), "insufficient_quota: said (%s)", msg_of(&o));
	outcome_release(&o);

	outcome_init(&o);
	chat(&ep, "script:retry_after_long", false, &o);
	tap_is_int(o.attempts, 1, "Retry-After over the cap: no retry");
	tap_ok(contains(msg_of(&o), "not retrying"), "Retry-After over the cap: said (%s)",
	       msg_of(&o));
	outcome_release(&o);
}

/* ================================================================ failures */

static void test_timeouts(void)
{
	struct llm_endpoint ep = endpoint();
	struct outcome o;

	ep.timeout_ms = 1000;
	ep.max_retries = 1;
	outcome_init(&o);
	chat(&ep, "script:slow", false, &o);
	tap_is_int(o.resp.error.kind, LLM_ERR_TIMEOUT, "slow: a timeout");
	tap_is_int(o.attempts, 2, "slow: retried once");
	tap_ok(o.total_ms >= 2000 && o.total_ms < 4500, "slow: each attempt cut at 1 s (%ld ms)",
	       o.total_ms);
	tap_ok(contains(msg_of(&o), "in time"), "slow: said (%s)", msg_of(&o));
	outcome_release(&o);

	/* A stream that stalls: the idle timeout, a retry whose caller must
	 * drop the first attempt's text, then the whole answer. */
	ep = endpoint();
	ep.idle_timeout_ms = 1000;
	ep.timeout_ms = 0;
	outcome_init(&o);
	chat(&ep, "script:stall_then_ok", true, &o);
	tap_is_int(o.resp.error.kind, LLM_ERR_NONE, "stall: then success");
	tap_is_int(o.attempts, 2, "stall: two attempts");
	tap_ok(o.nretries == 1 && o.discards[0], "stall: the retry says to discard the text");
	tap_is_str(o.text, "The second attempt goes through.",
		   "stall: the deltas after the discard are the answer");
	tap_is_str(o.resp.content, "The second attempt goes through.", "stall: the content");
	tap_ok(o.total_ms < 4000, "stall: the idle timeout cut it (%ld ms)", o.total_ms);
	outcome_release(&o);
}

static void test_broken_answers(void)
{
	struct llm_endpoint ep = endpoint();
	struct outcome o;
	int i, fine = 0;

	ep.max_retries = 1;
	outcome_init(&o);
	chat(&ep, "script:truncated", true, &o);
	tap_is_int(o.resp.error.kind, LLM_ERR_TRUNCATED, "truncated: said so");
	tap_is_int(o.attempts, 2, "truncated: retried");
	tap_ok(o.nretries == 1 && o.discards[0], "truncated: the retry says to discard");
	outcome_release(&o);

	ep.max_retries = 0;
	outcome_init(&o);
	chat(&ep, "script:truncated_clean", true, &o);
	tap_is_int(o.resp.error.kind, LLM_ERR_TRUNCATED,
		   "ended without finish_reason or [DONE]: truncated");
	tap_is_int(o.attempts, 1, "max_retries 0: one attempt");
	outcome_release(&o);

	/* The server closed that connection without saying so: the next
	 * requests must not fail on it (curl finds it dead, connects anew). */
	ep = endpoint();
	ep.max_retries = 0;
	for (i = 0; i < 8; i++) {
		outcome_init(&o);
		chat(&ep, "script:truncated_clean", true, &o);
		outcome_release(&o);
		outcome_init(&o);
		chat(&ep, "script:hello:after-close", i % 2 == 0, &o);
		if (o.resp.error.kind == LLM_ERR_NONE)
			fine++;
		else
			tap_diag("after a closed connection: %s", msg_of(&o));
		outcome_release(&o);
	}
	tap_is_int(fine, 8, "a connection the server closed is not reused into a failure");

	ep = endpoint();
	outcome_init(&o);
	chat(&ep, "script:invalid_chunk", true, &o);
	tap_is_int(o.resp.error.kind, LLM_ERR_PROTOCOL, "invalid JSON chunk: a protocol error");
	tap_is_int(o.attempts, 1, "invalid JSON chunk: no retry");
	if (o.attempts != 1)
		tap_diag("the first attempt: %s", o.retry_msg);
	outcome_release(&o);

	outcome_init(&o);
	chat(&ep, "script:stream_error", true, &o);
	tap_is_int(o.resp.error.kind, LLM_ERR_API, "error in a 200 stream: an API error");
	tap_ok(contains(msg_of(&o), "invalid content"), "error in a 200 stream: said (%s)",
	       msg_of(&o));
	outcome_release(&o);

	outcome_init(&o);
	chat(&ep, "script:bad_json", false, &o);
	tap_is_int(o.resp.error.kind, LLM_ERR_PROTOCOL, "a body that is not JSON: protocol");
	outcome_release(&o);

	ep.max_answer_bytes = 100;
	outcome_init(&o);
	chat(&ep, "script:hello:big", false, &o);
	tap_is_int(o.resp.error.kind, LLM_ERR_TOO_LARGE, "an answer over the cap: too large");
	tap_is_int(o.attempts, 1, "too large: no retry");
	outcome_release(&o);
}

static void test_refused(void)
{
	struct llm_endpoint ep = endpoint();
	struct outcome o;
	char url[64];

	snprintf(url, sizeof url, "http://user:pw@127.0.0.1:%d/v1/?q=1", openai_child_free_port());
	ep.base_url = url;
	ep.max_retries = 2;
	outcome_init(&o);
	chat(&ep, "script:hello", false, &o);
	tap_is_int(o.resp.error.kind, LLM_ERR_CONNECT, "refused: a connection error");
	tap_is_int(o.attempts, 3, "refused: retried twice");
	tap_is_int(o.nretries, 2, "refused: the caller told twice");
	tap_ok(contains(msg_of(&o), "cannot reach http://127.0.0.1:"),
	       "refused: a clear message (%s)", msg_of(&o));
	tap_ok(!contains(msg_of(&o), "pw") && !contains(msg_of(&o), SECRET),
	       "refused: no credentials in the message");
	outcome_release(&o);
}

/* ================================================================ ends */

static void test_cancel(void)
{
	struct llm_endpoint ep = endpoint();
	struct outcome o;

	outcome_init(&o);
	o.cancel_after_deltas = 2;
	start(client, &ep, "script:stall_long:a", true, &o);
	wait_done(&loop, &o);
	run_for(&loop, 200);
	tap_is_int(o.ndone, 1, "cancel mid-stream: done once");
	tap_is_int(o.resp.error.kind, LLM_ERR_CANCELLED, "cancel mid-stream: cancelled");
	tap_is_int(o.deltas_after_cancel, 0, "cancel mid-stream: no delta after the cancel");
	tap_ok(o.total_ms < 3000, "cancel mid-stream: at once (%ld ms)", o.total_ms);
	tap_is_int(o.attempts, 1, "cancel mid-stream: no retry");
	outcome_release(&o);

	ep.backoff_base_ms = ep.backoff_cap_ms = 5000;
	outcome_init(&o);
	o.cancel_in_retry = true;
	start(client, &ep, "script:overloaded:cancel", false, &o);
	wait_done(&loop, &o);
	tap_is_int(o.ndone, 1, "cancel during the wait: done once");
	tap_is_int(o.resp.error.kind, LLM_ERR_CANCELLED, "cancel during the wait: cancelled");
	tap_ok(o.total_ms < 2000, "cancel during the wait: not after the wait (%ld ms)",
	       o.total_ms);
	outcome_release(&o);
}

static void test_bad_calls(void)
{
	struct llm_endpoint ep = endpoint();
	struct llm_request req = { .model = "m", .messages = NULL };
	struct llm_callbacks cb = callbacks;
	struct outcome o;

	outcome_init(&o);
	cb.ud = &o;
	tap_is_int(llm_chat(client, &ep, &req, &cb, NULL), -EINVAL, "no messages: -EINVAL");
	ep.base_url = NULL;
	tap_is_int(start(client, &ep, "m", false, &o), -EINVAL, "no base URL: -EINVAL");
	tap_is_int(o.ndone, 0, "a call that failed to start runs no callback");
	outcome_release(&o);
}

static void test_shutdown(void)
{
	struct llm_endpoint ep = endpoint();
	struct outcome streaming, slow, waiting;
	struct llm_client *c;
	uv_loop_t l;

	uv_loop_init(&l);
	tap_is_int(llm_client_new(&l, &c), 0, "shutdown: a second client");
	outcome_init(&streaming);
	outcome_init(&slow);
	outcome_init(&waiting);
	ep.backoff_base_ms = ep.backoff_cap_ms = 10000;
	start(c, &ep, "script:stall_long:b", true, &streaming);
	start(c, &ep, "script:slow:b", false, &slow);
	start(c, &ep, "script:overloaded:b", false, &waiting);
	while ((streaming.ndeltas < 2 || waiting.nretries < 1) && streaming.ndone == 0)
		uv_run(&l, UV_RUN_ONCE);
	tap_ok(streaming.ndeltas >= 2 && waiting.nretries == 1 && slow.ndone == 0,
	       "shutdown: a stream in flight, a slow answer awaited, a retry waiting");
	llm_client_close(c);
	tap_ok(streaming.ndone == 1 && slow.ndone == 1 && waiting.ndone == 1,
	       "shutdown: every done ran, once, within the close");
	tap_ok(streaming.resp.error.kind == LLM_ERR_CANCELLED &&
	       slow.resp.error.kind == LLM_ERR_CANCELLED &&
	       waiting.resp.error.kind == LLM_ERR_CANCELLED, "shutdown: all cancelled");
	tap_ok(contains(streaming.resp.error.message, "shutting down"), "shutdown: said (%s)",
	       streaming.resp.error.message);
	uv_run(&l, UV_RUN_DEFAULT);
	tap_is_int(uv_loop_close(&l), 0, "shutdown: uv_loop_close succeeds afterwards");
	outcome_release(&streaming);
	outcome_release(&slow);
	outcome_release(&waiting);
}

int main(void)
{
	alarm(120);
	if (openai_child_start() < 0)
		return 1;
	setenv(KEY_VAR, SECRET, 1);
	uv_loop_init(&loop);
	if (!tap_ok(llm_client_new(&loop, &client) == 0, "a client on the loop"))
		return tap_done();

	test_whole_answer();
	test_streamed_answer();
	test_tool_calls();
	test_loop_and_default_model();
	test_rate_limit();
	test_overloaded();
	test_no_retry();
	test_timeouts();
	test_broken_answers();
	test_refused();
	test_cancel();
	test_bad_calls();
	test_shutdown();

	llm_client_close(client);
	uv_run(&loop, UV_RUN_DEFAULT);
	tap_is_int(uv_loop_close(&loop), 0, "the idle client closes; uv_loop_close succeeds");
	return tap_done();
}
