/*
 * test_llm_wire.c - the Chat Completions wire format (daemon/llm/llm_wire.h).
 *
 * Cases: tests/cases/llm/<case>/ hold what a server sent: either stream.sse
 * (a text/event-stream body) or body.<ext> (a whole body), with optional
 * `status` (default 200) and `headers` ("Name: value" lines; Retry-After
 * and retry-after-ms are read). expected.json is the accumulated response
 * as JSON (see response_json) or, for a status >= 400, {"error": {...}}
 * alone; an optional "message" key holds the assistant message
 * llm_response_message must build for the next turn. Every stream is also
 * fed byte by byte, in seeded random pieces, and with its line ends turned
 * into \r\n and into \r: every way must give the same response, and the
 * deltas handed out must add up to the content.
 *
 * Then the SSE parser's rules, the request body, error messages,
 * Retry-After, the retry policy and backoff, and the response functions
 * are checked directly.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* asprintf */
#endif
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <strings.h>
#include <time.h>

#include "tap.h"
#include "llm_wire.h"

/* ---------------------------------------------------------------- helpers */

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *count_or_null(int64_t n)
{
	return n >= 0 ? json_integer(n) : json_null();
}

static json_t *error_json(const struct llm_error *e)
{
	if (e->kind == LLM_ERR_NONE)
		return json_null();
	return json_pack("{s:s, s:i, s:o, s:o, s:o, s:I, s:b}",
			 "kind", llm_error_kind_name(e->kind), "status", e->status,
			 "message", str_or_null(e->message), "type", str_or_null(e->type),
			 "code", str_or_null(e->code), "retry_after_ms",
			 (json_int_t)e->retry_after_ms, "retryable", llm_error_retryable(e));
}

/* The response as the expected files spell it; new reference. */
static json_t *response_json(const struct llm_response *r)
{
	const struct llm_usage *u = &r->usage;
	json_t *calls = json_array(), *usage = json_null();
	size_t i;

	for (i = 0; i < r->ncalls; i++)
		json_array_append_new(calls, json_pack("{s:o, s:o, s:o}",
			"id", str_or_null(r->tool_calls[i].id),
			"name", str_or_null(r->tool_calls[i].name),
			"arguments", str_or_null(r->tool_calls[i].arguments)));
	if (u->prompt_tokens >= 0 || u->completion_tokens >= 0 || u->total_tokens >= 0) {
		json_decref(usage);
		usage = json_pack("{s:o, s:o, s:o, s:o, s:o}",
			"prompt_tokens", count_or_null(u->prompt_tokens),
			"completion_tokens", count_or_null(u->completion_tokens),
			"total_tokens", count_or_null(u->total_tokens),
			"cached_tokens", count_or_null(u->cached_tokens),
			"reasoning_tokens", count_or_null(u->reasoning_tokens));
	}
	return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:b, s:o}",
			 "content", str_or_null(r->content), "reasoning", str_or_null(r->reasoning),
			 "refusal", str_or_null(r->refusal), "tool_calls", calls,
			 "finish_reason", str_or_null(r->finish_reason),
			 "model", str_or_null(r->model), "usage", usage, "done", r->done,
			 "error", error_json(&r->error));
}

/* A response's JSON compared with what is expected, with a diff-friendly
 * dump on failure. */
static void check_json(json_t *got, json_t *want, const char *name, const char *what)
{
	if (!tap_ok(got && want && json_equal(got, want), "%s: %s", name, what)) {
		char *g = got ? json_dumps(got, JSON_INDENT(1) | JSON_SORT_KEYS) : NULL;

		tap_diag("got %s", g ? g : "(null)");
		free(g);
	}
}

/* ---------------------------------------------------------------- streams */

struct stream_run {
	struct llm_response r;
	char *deltas;               /* every *delta, joined */
	size_t deltas_len;
	int events;
};

static int on_event(void *ud, const char *event, const char *data, size_t len)
{
	struct stream_run *s = ud;
	const char *delta = NULL;
	int rc;

	s->events++;
	rc = llm_response_feed_sse(&s->r, data, len, &delta);
	if (rc == 0 && delta) {
		size_t n = strlen(delta);
		char *j = realloc(s->deltas, s->deltas_len + n + 1);

		if (!j)
			return -ENOMEM;
		memcpy(j + s->deltas_len, delta, n + 1);
		s->deltas = j;
		s->deltas_len += n;
	}
	return rc;
}

enum feed_mode { FEED_WHOLE, FEED_BYTES, FEED_RANDOM, FEED_CRLF, FEED_CR, FEED_MODES };
static const char *const mode_names[] = { "whole", "byte by byte", "random pieces",
					  "\\r\\n line ends, byte by byte",
					  "\\r line ends, random pieces" };

/* text with each \n made \r\n (crlf) or \r; new string. */
static char *convert_newlines(const char *text, size_t len, bool crlf, size_t *out_len)
{
	char *out = malloc(len * 2 + 1);
	size_t i, n = 0;

	for (i = 0; out && i < len; i++) {
		if (text[i] == '\n') {
			out[n++] = '\r';
			if (crlf)
				out[n++] = '\n';
		} else {
			out[n++] = text[i];
		}
	}
	if (out)
		out[n] = '\0';
	*out_len = n;
	return out;
}

/* Feed the stream in the given way; returns the response as JSON. */
static json_t *run_stream(const char *text, size_t len, enum feed_mode mode,
			  char **deltas, json_t **message, int *finish_rc)
{
	struct stream_run s = { .deltas = NULL };
	struct llm_sse *p = NULL;
	char *conv = NULL;
	uint64_t seed = 42;
	size_t off = 0, step;
	int rc;
	json_t *j;

	llm_response_init(&s.r);
	if (mode == FEED_CRLF || mode == FEED_CR) {
		conv = convert_newlines(text, len, mode == FEED_CRLF, &len);
		text = conv;
	}
	rc = llm_sse_new(0, on_event, &s, &p);
	while (rc == 0 && off < len) {
		step = len - off;
		if (mode == FEED_BYTES || mode == FEED_CRLF)
			step = 1;
		else if (mode == FEED_RANDOM || mode == FEED_CR) {
			seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
			step = 1 + seed % 23;
			if (step > len - off)
				step = len - off;
		}
		rc = llm_sse_feed(p, text + off, step);
		off += step;
	}
	if (rc == 0)
		rc = llm_sse_finish(p);
	*finish_rc = llm_response_finish(&s.r);
	j = response_json(&s.r);
	if (message)
		*message = llm_response_message(&s.r);
	if (deltas)
		*deltas = s.deltas ? s.deltas : strdup("");
	else
		free(s.deltas);
	llm_response_release(&s.r);
	llm_sse_free(p);
	free(conv);
	return j;
}

static void run_stream_case(const char *name, const char *text, size_t len, json_t *want)
{
	json_t *got, *content, *msg = NULL, *want_msg = json_object_get(want, "message");
	char *deltas = NULL;
	int mode, frc;

	json_incref(want_msg);
	json_object_del(want, "message");
	for (mode = 0; mode < FEED_MODES; mode++) {
		got = run_stream(text, len, mode, mode == FEED_WHOLE ? &deltas : NULL,
				 mode == FEED_WHOLE ? &msg : NULL, &frc);
		check_json(got, want, name, mode_names[mode]);
		if (mode == FEED_WHOLE && want_msg)
			check_json(msg, want_msg, name, "assistant message for the next turn");
		if (mode == FEED_WHOLE) {
			tap_is_int(frc == 0, json_is_null(json_object_get(got, "error")),
				   "finish succeeds exactly when there is no error");
			content = json_object_get(got, "content");
			tap_is_str(deltas, json_string_value(content), "deltas add up to the content");
		}
		json_decref(got);
	}
	json_decref(msg);
	json_decref(want_msg);
	free(deltas);
}

/* ---------------------------------------------------------------- cases */

/* The value of header `name` in the headers file text; NULL if absent.
 * Points into text, which is cut at the value's end. */
static const char *header_value(char *text, const char *name)
{
	size_t n = strlen(name);
	char *line, *save = NULL, *v;

	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncasecmp(line, name, n) != 0 || line[n] != ':')
			continue;
		for (v = line + n + 1; *v == ' '; v++)
			;
		v[strcspn(v, "\r")] = '\0';
		return v;
	}
	return NULL;
}

static char *case_file(const char *dir, const char *name, size_t *len)
{
	char *path = NULL, *text;

	if (asprintf(&path, "%s/%s", dir, name) < 0)
		return NULL;
	text = tap_read_file(path, len);
	free(path);
	return text;
}

/* body.<anything> in dir; NULL if none. */
static char *find_body(const char *dir, size_t *len)
{
	DIR *dh = opendir(dir);
	struct dirent *e;
	char *text = NULL;

	while (dh && !text && (e = readdir(dh)))
		if (strncmp(e->d_name, "body.", 5) == 0)
			text = case_file(dir, e->d_name, len);
	if (dh)
		closedir(dh);
	return text;
}

static void run_http_error_case(const char *name, int status, const char *body, size_t len,
				const char *dir, json_t *want)
{
	struct llm_error e = { .retry_after_ms = -1 };
	size_t hlen = 0;
	char *h1 = case_file(dir, "headers", &hlen), *h2 = h1 ? strdup(h1) : NULL;
	const char *ra = h1 ? header_value(h1, "retry-after") : NULL;
	const char *ra_ms = h2 ? header_value(h2, "retry-after-ms") : NULL;
	json_t *got;

	tap_is_int(llm_error_from_http(status, body, len, ra, ra_ms, &e), 0,
		   "llm_error_from_http");
	got = json_pack("{s:o}", "error", error_json(&e));
	check_json(got, want, name, "error");
	tap_ok(e.message && !strpbrk(e.message, "\r\n\t") && strlen(e.message) < 400,
	       "%s: the message is one short line", name);
	json_decref(got);
	llm_error_release(&e);
	free(h1);
	free(h2);
}

static void run_body_case(const char *name, const char *body, size_t len, json_t *want)
{
	struct llm_response r;
	json_t *got, *msg, *want_msg = json_object_get(want, "message");
	int rc;

	llm_response_init(&r);
	rc = llm_response_from_json(&r, body, len);
	if (rc == 0)
		rc = llm_response_finish(&r);
	if (want_msg) {
		msg = llm_response_message(&r);
		check_json(msg, want_msg, name, "assistant message for the next turn");
		json_decref(msg);
		json_incref(want_msg);
		json_object_del(want, "message");
	}
	got = response_json(&r);
	check_json(got, want, name, "response");
	tap_is_int(rc == 0, json_is_null(json_object_get(got, "error")),
		   "the functions succeed exactly when there is no error");
	json_decref(got);
	json_decref(want_msg);
	llm_response_release(&r);
}

static void run_case(const char *dir, const char *name)
{
	size_t len = 0, slen = 0;
	char *stream = case_file(dir, "stream.sse", &len), *body = NULL, *status_text;
	char *exp_path = NULL;
	json_error_t err;
	json_t *want = NULL;
	int status = 200;

	status_text = case_file(dir, "status", &slen);
	if (status_text)
		status = atoi(status_text);
	if (asprintf(&exp_path, "%s/expected.json", dir) >= 0)
		want = json_load_file(exp_path, 0, &err);
	if (!stream)
		body = find_body(dir, &len);
	if (!tap_ok(want && (stream || body), "%s: input and expected.json readable", name)) {
		if (!want)
			tap_diag("%s", err.text);
		goto out;
	}
	if (stream)
		run_stream_case(name, stream, len, want);
	else if (status >= 400)
		run_http_error_case(name, status, body, len, dir, want);
	else
		run_body_case(name, body, len, want);
out:
	json_decref(want);
	free(stream);
	free(body);
	free(status_text);
	free(exp_path);
}

static void run_cases(const char *root)
{
	tap_each_case(root, "llm", run_case);
}

/* ---------------------------------------------------------------- SSE */

struct events {
	char log[2048];             /* "name|data\n" per event */
	int count, stop_at;
};

static int log_event(void *ud, const char *event, const char *data, size_t len)
{
	struct events *ev = ud;
	size_t used = strlen(ev->log);

	snprintf(ev->log + used, sizeof(ev->log) - used, "%s|%.*s\n", event, (int)len, data);
	ev->count++;
	return ev->stop_at && ev->count == ev->stop_at ? -ECANCELED : 0;
}

/* Parse text fed in two pieces cut at `cut` (and finish); the log. */
static int sse_parse(const char *text, size_t cut, size_t max_line, struct events *ev)
{
	struct llm_sse *p = NULL;
	size_t len = strlen(text);
	int rc;

	memset(ev->log, 0, sizeof(ev->log));
	ev->count = 0;
	rc = llm_sse_new(max_line, log_event, ev, &p);
	if (rc == 0)
		rc = llm_sse_feed(p, text, cut < len ? cut : len);
	if (rc == 0 && cut < len)
		rc = llm_sse_feed(p, text + cut, len - cut);
	if (rc == 0)
		rc = llm_sse_finish(p);
	llm_sse_free(p);
	return rc;
}

static void sse_expect(const char *text, const char *want, const char *what)
{
	struct events ev = { .stop_at = 0 };
	size_t cut, len = strlen(text);
	int bad = 0, rc;

	for (cut = 0; cut <= len; cut++) {
		rc = sse_parse(text, cut, 0, &ev);
		if (rc != 0 || strcmp(ev.log, want) != 0) {
			if (!bad++)
				tap_diag("cut at %zu: rc %d, got '%s'", cut, rc, ev.log);
		}
	}
	tap_ok(bad == 0, "sse: %s (every cut)", what);
}

static void test_sse(void)
{
	struct events ev = { .stop_at = 0 };
	struct llm_sse *p = NULL;
	char *big;
	int rc;

	sse_expect("data: a\ndata:  b\ndata\n\n", "|a\n b\n\n", "data lines joined, one space dropped");
	sse_expect("event: delta\ndata: x\n\ndata: y\n\n", "delta|x\n|y\n",
		   "event names one event only");
	sse_expect(": keep-alive\n\n:\ndata: z\n\n", "|z\n", "comments ignored, empty events not sent");
	sse_expect("id: 7\nretry: 3000\nfoo: bar\ndata:q\n\n", "|q\n", "id, retry, unknown fields ignored");
	sse_expect("data: 1\r\n\r\ndata: 2\r\rdata: 3\n\n", "|1\n|2\n|3\n", "\\r\\n, \\r and \\n mixed");
	sse_expect("data: a\r\ndata: b\r\n\r\n", "|a\nb\n", "a \\r\\n pair split is one line end");
	sse_expect("data: a\rdata: b\r\r", "|a\nb\n", "\\r alone ends lines");
	sse_expect("\xef\xbb\xbf" "data: bom\n\n", "|bom\n", "a byte order mark skipped");
	sse_expect("\xef\xbb" "data: x\n\n", "", "half a mark is not one");
	sse_expect("data: last", "|last\n", "finish dispatches an unterminated event");
	sse_expect("data: a\n\ndata: b\n", "|a\n|b\n", "finish dispatches without the empty line");
	sse_expect("data: ok\n\nerror: {\"code\":500}\n\ndata: [DONE]\n\n",
		   "|ok\nerror|{\"code\":500}\n|[DONE]\n", "llama.cpp's error: field becomes an event");
	sse_expect("data: {\"a\":\"\xc3\xa9\"}\n\n", "|{\"a\":\"\xc3\xa9\"}\n", "UTF-8 kept");

	tap_is_int(sse_parse("data: 0123456789\n\n", 100, 12, &ev), -EMSGSIZE,
		   "sse: a line over max_line is EMSGSIZE");
	tap_is_int(sse_parse("data: 0123456789\n\n", 9, 12, &ev), -EMSGSIZE,
		   "sse: a line over max_line across feeds is EMSGSIZE");
	tap_is_int(sse_parse("data: 0123456789", 100, 12, &ev), -EMSGSIZE,
		   "sse: an unterminated line over max_line is EMSGSIZE");
	tap_is_int(sse_parse("data: 0123\ndata: 4567\ndata: 89ab\n\n", 100, 12, &ev), -EMSGSIZE,
		   "sse: an event's data over max_line is EMSGSIZE");
	tap_is_int(sse_parse("data: 0123\n\n", 100, 12, &ev), 0, "sse: within max_line is fine");

	big = malloc(3u << 20);
	if (big) {
		memset(big, 'x', 3u << 20);
		memcpy(big, "data: ", 6);
		ev.count = 0;
		rc = llm_sse_new(0, log_event, &ev, &p);
		for (size_t off = 0; rc == 0 && off < (3u << 20); off += 65536)
			rc = llm_sse_feed(p, big + off, 65536);
		tap_is_int(rc, -EMSGSIZE, "sse: a 3 MiB line stops at the 1 MiB default");
		tap_is_int(llm_sse_feed(p, "\n\n", 2), -EMSGSIZE, "sse: the error is sticky");
		tap_is_int(llm_sse_finish(p), -EMSGSIZE, "sse: finish too");
		tap_is_int(ev.count, 0, "sse: no event from the oversized line");
		llm_sse_free(p);
		free(big);
	}

	ev.stop_at = 2;
	tap_is_int(sse_parse("data: 1\n\ndata: 2\n\ndata: 3\n\n", 100, 0, &ev), -ECANCELED,
		   "sse: the callback's error stops the parse");
	tap_is_int(ev.count, 2, "sse: no event after the stop");
	tap_is_int(llm_sse_new(0, NULL, NULL, &p), -EINVAL, "sse: a callback is required");
}

/* ---------------------------------------------------------------- request */

static void test_request(void)
{
	json_t *msgs = json_pack("[{s:s, s:s}]", "role", "user", "content", "why?");
	json_t *tools = json_pack("[{s:s, s:{s:s, s:s, s:{s:s}}}]", "type", "function",
				  "function", "name", "search_docs", "description", "Search",
				  "parameters", "type", "object");
	struct llm_request r = { .model = "gpt-4o-mini", .messages = msgs, .tools = tools,
				 .stream = true, .max_tokens = 800, .temperature = 0.0 };
	json_t *body = NULL, *want;

	tap_is_int(llm_request_body(&r, &body), 0, "request: built");
	want = json_pack("{s:s, s:O, s:O, s:s, s:b, s:{s:b}, s:i, s:f}", "model", "gpt-4o-mini",
			 "messages", msgs, "tools", tools, "tool_choice", "auto", "stream", 1,
			 "stream_options", "include_usage", 1, "max_tokens", 800,
			 "temperature", 0.0);
	check_json(body, want, "request", "every field, temperature 0 sent");
	tap_ok(json_object_get(body, "messages") == msgs, "request: messages shared, not copied");
	json_decref(body);
	json_decref(want);

	r.no_tool_calls = true;
	tap_is_int(llm_request_body(&r, &body), 0, "request: a last answer wanted");
	tap_is_str(json_string_value(json_object_get(body, "tool_choice")), "none",
		   "request: tools kept, tool_choice none");
	json_decref(body);
	r.no_tool_calls = false;

	r.tools = json_array();
	r.stream = false;
	r.max_tokens = 0;
	r.temperature = -1;
	r.json_mode = true;
	tap_is_int(llm_request_body(&r, &body), 0, "request: minimal built");
	want = json_pack("{s:s, s:O, s:b, s:{s:s}}", "model", "gpt-4o-mini", "messages", msgs,
			 "stream", 0, "response_format", "type", "json_object");
	check_json(body, want, "request", "no tools, no options, JSON mode");
	json_decref(body);
	json_decref(want);
	json_decref(r.tools);

	r.tools = NULL;
	r.model = NULL;
	tap_is_int(llm_request_body(&r, &body), -EINVAL, "request: no model is EINVAL");
	tap_ok(body == NULL, "request: nothing returned on error");
	r.model = "m";
	r.messages = NULL;
	tap_is_int(llm_request_body(&r, &body), -EINVAL, "request: no messages is EINVAL");
	r.messages = tools;
	r.tools = msgs;
	r.messages = json_object();
	tap_is_int(llm_request_body(&r, &body), -EINVAL, "request: messages not an array is EINVAL");
	json_decref(r.messages);
	json_decref(msgs);
	json_decref(tools);
}

/* ---------------------------------------------------------------- errors */

static void http_error(int status, const char *body, struct llm_error *e)
{
	llm_error_from_http(status, body, strlen(body), NULL, NULL, e);
}

static void check_retryable(int status, const char *body, bool want)
{
	struct llm_error e = { .retry_after_ms = -1 };

	llm_error_from_http(status, body, body ? strlen(body) : 0, NULL, NULL, &e);
	tap_is_int(llm_error_retryable(&e), want, e.message ? e.message : "(no message)");
	llm_error_release(&e);
}

static long retry_after_of(const char *ra, const char *ra_ms)
{
	struct llm_error e = { .retry_after_ms = -1 };
	long v;

	llm_error_from_http(429, "", 0, ra, ra_ms, &e);
	v = e.retry_after_ms;
	llm_error_release(&e);
	return v;
}

static void test_retry_after(void)
{
	char date[64];
	time_t when = time(NULL) + 30;
	struct tm tm;
	long v;

	tap_is_int(retry_after_of("2", NULL), 2000, "Retry-After: 2 is 2000 ms");
	tap_is_int(retry_after_of(" 0.5 ", NULL), 500, "Retry-After: 0.5 is 500 ms");
	tap_is_int(retry_after_of("6", "5400"), 5400, "retry-after-ms preferred over Retry-After");
	tap_is_int(retry_after_of(NULL, "250"), 250, "retry-after-ms alone");
	tap_is_int(retry_after_of("soon", NULL), -1, "Retry-After garbage is none");
	tap_is_int(retry_after_of("-3", NULL), -1, "Retry-After negative is none");
	tap_is_int(retry_after_of(NULL, NULL), -1, "no header is none");
	tap_is_int(retry_after_of("Wed, 21 Oct 2015 07:28:00 GMT", NULL), 0,
		   "Retry-After as a past HTTP date is 0");
	tap_is_int(retry_after_of("Wednesday, 21-Oct-15 07:28:00 GMT", NULL), 0,
		   "Retry-After in the RFC 850 form");
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", gmtime_r(&when, &tm));
	v = retry_after_of(date, NULL);
	if (!tap_ok(v >= 28000 && v <= 30000, "Retry-After as an HTTP date 30 s ahead"))
		tap_diag("%s gave %ld", date, v);
	strftime(date, sizeof(date), "%a %b %e %H:%M:%S %Y", gmtime_r(&when, &tm));
	v = retry_after_of(date, NULL);
	tap_ok(v >= 28000 && v <= 30000, "Retry-After in the asctime form");
}

static void test_error_messages(void)
{
	struct llm_error e = { .retry_after_ms = -1 };
	char *long_body = malloc(6001);
	size_t i;

	for (i = 0; long_body && i < 6000; i++)
		long_body[i] = i % 61 == 60 ? '\n' : (char)('a' + i % 26);
	if (long_body) {
		long_body[6000] = '\0';
		llm_error_from_http(500, long_body, 6000, NULL, NULL, &e);
		tap_ok(e.message && strlen(e.message) <= 320 && !strchr(e.message, '\n') &&
		       strstr(e.message, "..."), "a long text body is cut to one line");
		llm_error_release(&e);
		free(long_body);
	}
	http_error(401, "{\"error\": {\"message\": \"bad key sk-abcdefghijklmnopqrstuvwxyz012345 "
		   "or Bearer abcdefghijklmnopqrstuvwx; task-manager ok\"}}", &e);
	tap_is_str(e.message, "HTTP 401: bad key sk-[redacted] or Bearer [redacted]; task-manager ok",
		   "keys never reach the message");
	llm_error_from_http(500, "caf\xc3\xa9 ", 6, NULL, NULL, &e);
	tap_is_str(e.message, "HTTP 500: caf\xc3\xa9", "UTF-8 text kept, trailing space dropped");
	llm_error_from_http(404, "{\"unexpected\": true}", 20, NULL, NULL, &e);
	tap_is_str(e.message, "HTTP 404: {\"unexpected\":true}", "unknown JSON shown compact");
	http_error(200, "{\"error\": {\"message\": \"Overloaded\", \"type\": \"overloaded_error\"}}", &e);
	tap_is_str(llm_error_kind_name(e.kind), "api", "an error in a 200 body is API");
	tap_is_str(e.message, "API error overloaded_error: Overloaded", "API message");
	tap_ok(llm_error_retryable(&e), "overloaded_error in a 200 is retryable");

	tap_is_int(llm_error_setf(&e, LLM_ERR_CONNECT, 0, "cannot connect to %s:\n%s",
				  "http://127.0.0.1:9", "Connection refused"), 0, "setf");
	tap_is_str(e.message, "cannot connect to http://127.0.0.1:9: Connection refused",
		   "setf makes one line");
	tap_ok(llm_error_retryable(&e), "CONNECT is retryable");
	llm_error_release(&e);
	tap_is_int(e.retry_after_ms, -1, "release leaves no retry time");
	tap_ok(e.message == NULL && e.kind == LLM_ERR_NONE, "release clears");
	llm_error_release(&e);      /* twice is harmless */
	tap_is_str(llm_error_kind_name(LLM_ERR_TOO_LARGE), "too_large", "kind names");
}

static void test_retryable(void)
{
	static const struct { enum llm_error_kind kind; bool want; } kinds[] = {
		{ LLM_ERR_CONNECT, true }, { LLM_ERR_TIMEOUT, true }, { LLM_ERR_TRUNCATED, true },
		{ LLM_ERR_PROTOCOL, false }, { LLM_ERR_CANCELLED, false },
		{ LLM_ERR_TOO_LARGE, false }, { LLM_ERR_NONE, false },
	};
	static const int yes[] = { 408, 409, 429, 500, 502, 503, 504, 529, 599 };
	static const int no[] = { 400, 401, 402, 403, 404, 413, 422, 600 };
	struct llm_error e = { .retry_after_ms = -1 };
	size_t i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		check_retryable(yes[i], NULL, true);
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		check_retryable(no[i], NULL, false);
	check_retryable(429, "{\"error\":{\"message\":\"You exceeded your current quota\","
			"\"type\":\"insufficient_quota\",\"param\":null,\"code\":\"insufficient_quota\"}}",
			false);
	check_retryable(429, "{\"error\":{\"message\":\"quota\",\"code\":\"insufficient_quota\"}}", false);
	check_retryable(200, "{\"error\":{\"message\":\"bad\",\"code\":400}}", false);
	check_retryable(200, "{\"error\":{\"message\":\"down\",\"code\":502}}", true);
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		e.kind = kinds[i].kind;
		tap_is_int(llm_error_retryable(&e), kinds[i].want, llm_error_kind_name(kinds[i].kind));
	}
}

static void test_backoff(void)
{
	struct llm_error e = { .kind = LLM_ERR_HTTP, .status = 503, .retry_after_ms = -1 };
	uint64_t s1 = 7, s2 = 7, s3 = 8;
	long a[10], b[10], c[10], hi;
	int same = 1, differ = 0, bounded = 1;
	unsigned i;

	for (i = 0; i < 10; i++) {
		a[i] = llm_backoff_ms(&e, i + 1, 500, 20000, &s1);
		b[i] = llm_backoff_ms(&e, i + 1, 500, 20000, &s2);
		c[i] = llm_backoff_ms(&e, i + 1, 500, 20000, &s3);
		hi = 500L << i < 20000 ? 500L << i : 20000;
		same &= a[i] == b[i];
		differ |= a[i] != c[i];
		if (a[i] < hi / 2 || a[i] > hi || c[i] < hi / 2 || c[i] > hi) {
			bounded = 0;
			tap_diag("attempt %u: %ld, %ld not in [%ld, %ld]", i + 1, a[i], c[i], hi / 2, hi);
		}
	}
	tap_ok(same, "backoff: the same seed gives the same waits");
	tap_ok(differ, "backoff: another seed gives other waits");
	tap_ok(bounded, "backoff: each wait in [d/2, d], d = min(cap, base * 2^(n-1))");
	tap_ok(a[9] >= 10000, "backoff: capped at 20 s, at least half of it");
	s1 = 0;
	tap_ok(llm_backoff_ms(&e, 1, 1000, 5000, &s1) >= 500 && s1 != 0,
	       "backoff: a zero seed still works");
	tap_ok(llm_backoff_ms(&e, 4000000000u, 1000, 5000, &s1) <= 5000, "backoff: huge attempt capped");
	e.retry_after_ms = 3000;
	tap_is_int(llm_backoff_ms(&e, 1, 500, 20000, &s1), 3000, "backoff: Retry-After honoured");
	tap_is_int(llm_backoff_ms(&e, 5, 500, 20000, &s1), 3000, "backoff: Retry-After at any attempt");
	e.retry_after_ms = 0;
	tap_is_int(llm_backoff_ms(&e, 1, 500, 20000, &s1), 0, "backoff: Retry-After 0");
	e.retry_after_ms = 120000;
	tap_is_int(llm_backoff_ms(&e, 1, 500, 20000, &s1), -1, "backoff: Retry-After over the cap: no retry");
	tap_ok(llm_backoff_ms(NULL, 2, 100, 1000, &s1) >= 100, "backoff: without an error");
}

/* ---------------------------------------------------------------- response */

static int from_json(struct llm_response *r, const char *body)
{
	return llm_response_from_json(r, body, strlen(body));
}

static void test_response(void)
{
	struct llm_response r;
	const char *delta = NULL;
	json_t *chunk, *msg, *want;
	char huge[200];

	llm_response_init(&r);
	tap_is_str(r.content, "", "response: content starts empty");
	chunk = json_string("not an object");
	tap_is_int(llm_response_feed_chunk(&r, chunk, &delta), -EPROTO,
		   "response: a chunk that is not an object is EPROTO");
	tap_is_str(llm_error_kind_name(r.error.kind), "protocol", "response: ... a protocol error");
	json_decref(chunk);
	llm_response_release(&r);

	llm_response_init(&r);
	memset(huge, 'x', sizeof(huge) - 1);
	huge[sizeof(huge) - 1] = '\0';
	memcpy(huge, "{\"choices\": [", 13);
	tap_is_int(llm_response_feed_sse(&r, huge, strlen(huge), &delta), -EPROTO,
		   "response: data that is not JSON is EPROTO");
	tap_is_str(llm_error_kind_name(r.error.kind), "protocol", "response: LLM_ERR_PROTOCOL");
	tap_ok(r.error.message && strlen(r.error.message) < 160,
	       "response: the message quotes a short piece");
	tap_is_int(llm_response_feed_sse(&r, " [DONE]\n", 8, &delta), 0, "response: [DONE] with spaces");
	tap_ok(r.done && delta == NULL, "response: done, no delta");
	tap_is_int(llm_response_finish(&r), -EPROTO, "response: finish reports the earlier error");
	tap_is_int(llm_response_feed_sse(&r, "", 0, &delta), 0, "response: empty data ignored");
	llm_response_release(&r);
	llm_response_release(&r);  /* twice is harmless */

	/* a tool call that never got its name */
	llm_response_init(&r);
	chunk = json_pack("{s:[{s:i, s:{s:[{s:i, s:{s:s}}]}, s:s}]}", "choices", "index", 0,
			  "delta", "tool_calls", "index", 0, "function", "arguments", "{}",
			  "finish_reason", "tool_calls");
	tap_is_int(llm_response_feed_chunk(&r, chunk, NULL), 0, "response: nameless piece taken");
	tap_is_int(llm_response_finish(&r), -EPROTO, "response: a tool call with no name is EPROTO");
	tap_is_str(llm_error_kind_name(r.error.kind), "protocol", "response: ... LLM_ERR_PROTOCOL");
	json_decref(chunk);
	llm_response_release(&r);

	/* plain answers round-trip as a string; empty arguments become {} */
	llm_response_init(&r);
	tap_is_int(from_json(&r, "{\"choices\":[{\"message\":{\"role\":\"assistant\","
			     "\"content\":null,\"tool_calls\":[{\"id\":\"c1\",\"type\":"
			     "\"function\",\"function\":{\"name\":\"environment\","
			     "\"arguments\":\"\"}}]},\"finish_reason\":\"tool_calls\"}]}"), 0, "response: a body with a no-argument call");
	tap_is_int(llm_response_finish(&r), 0, "response: finished");
	msg = llm_response_message(&r);
	want = json_pack("{s:s, s:n, s:[{s:s, s:s, s:{s:s, s:s}}]}", "role", "assistant",
			 "content", "tool_calls", "id", "c1", "type", "function", "function",
			 "name", "environment", "arguments", "{}");
	check_json(msg, want, "response", "null content and {} arguments for the next turn");
	json_decref(msg);
	json_decref(want);
	llm_response_release(&r);

	llm_response_init(&r);
	tap_is_int(llm_response_finish(&r), -EPROTO, "response: nothing at all is truncated");
	tap_is_str(llm_error_kind_name(r.error.kind), "truncated", "response: LLM_ERR_TRUNCATED");
	tap_ok(llm_error_retryable(&r.error), "response: a truncated stream is retryable");
	r.error.kind = LLM_ERR_NONE;
	msg = llm_response_message(&r);
	want = json_pack("{s:s, s:s}", "role", "assistant", "content", "");
	check_json(msg, want, "response", "no tool calls: content stays a string");
	json_decref(msg);
	json_decref(want);
	llm_response_release(&r);
}

int main(int argc, char **argv)
{
	const char *cases = getenv("DOCTOR_CASES"), *src = getenv("DOCTOR_SRCDIR");
	char *from_src = NULL;

	if (!cases && src && asprintf(&from_src, "%s/tests/cases", src) >= 0)
		cases = from_src;
	if (!cases)
		cases = argc > 1 ? argv[1] : "tests/cases";
	run_cases(cases);
	free(from_src);
	test_sse();
	test_request();
	test_retry_after();
	test_error_messages();
	test_retryable();
	test_backoff();
	test_response();
	return tap_done();
}
