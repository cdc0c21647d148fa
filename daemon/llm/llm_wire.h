/*
 * llm_wire.h - the OpenAI-compatible Chat Completions wire format, with no
 * I/O: the request body built from messages and tools, an incremental
 * Server-Sent Events parser, a response accumulated from stream chunks or
 * read from one JSON body, the many shapes of an error, and the retry
 * policy (which failures are worth another attempt, and after how long).
 *
 * The transport (llm_client.h) feeds bytes in and gets structures out; the
 * agent only ever sees struct llm_response. Everything here is pure and
 * unit-tested on recorded server output (tests/cases/llm/).
 *
 * Ownership: json_t arguments are borrowed unless said otherwise; strings
 * in structures are owned by the structure and freed by its _release.
 * Functions return 0 or a negative errno.
 */
#ifndef DOCTOR_LLM_WIRE_H
#define DOCTOR_LLM_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* ---------------------------------------------------------------- request */

struct llm_request {
	const char *model;          /* borrowed */
	json_t *messages;           /* [{role, content, tool_calls?, tool_call_id?}];
	                               borrowed */
	json_t *tools;              /* [{type: "function", function: {name,
	                               description, parameters}}] or NULL; borrowed */
	bool stream;                /* ask for SSE, with stream_options.include_usage */
	unsigned max_tokens;        /* 0: not sent */
	double temperature;         /* < 0: not sent */
	bool json_mode;             /* response_format {type: json_object}: the
	                               prompt-only fallback for models without tools */
	bool no_tool_calls;         /* tools are sent (earlier turns used them) but
	                               tool_choice is "none": a last answer wanted */
};

/* The request body (a new reference): {model, messages, tools?,
 * tool_choice: "auto" (when tools; "none" with no_tool_calls), stream, stream_options?, max_tokens?,
 * temperature?, response_format?}. -EINVAL without model or messages,
 * -ENOMEM. */
int llm_request_body(const struct llm_request *r, json_t **out);

/* ---------------------------------------------------------------- SSE */

/* An incremental parser of text/event-stream (the WHATWG rules): lines end
 * in \n, \r\n or \r (even split across feeds); "data:" lines of one event
 * are joined with \n; "event:" names it; lines starting with ':' are
 * comments; an empty line dispatches. A line (or an event's joined data)
 * longer than max_line bytes is -EMSGSIZE (a server gone wrong must not
 * take the daemon's memory); an error is sticky. One refinement: the
 * non-standard "error: {...}" line llama.cpp's server writes when a
 * stream fails is dispatched at once as an event named "error". A UTF-8
 * byte order mark opening the stream is skipped. */
struct llm_sse;
typedef int (*llm_sse_event_fn)(void *ud, const char *event /* "" if none */,
				const char *data, size_t len);
/* *out owned by the caller: llm_sse_free. max_line 0: 1 MiB. */
int llm_sse_new(size_t max_line, llm_sse_event_fn fn, void *ud, struct llm_sse **out);
/* Feed bytes; the callback runs for each complete event, and a non-zero
 * return from it stops the parse and is returned. */
int llm_sse_feed(struct llm_sse *p, const char *buf, size_t len);
/* The stream ended: an event without its final empty line is dispatched
 * (servers often omit it before closing). */
int llm_sse_finish(struct llm_sse *p);
void llm_sse_free(struct llm_sse *p);

/* ---------------------------------------------------------------- errors */

enum llm_error_kind {
	LLM_ERR_NONE = 0,
	LLM_ERR_HTTP,               /* a status >= 400 with or without a body */
	LLM_ERR_API,                /* an error object in a 200 body or stream */
	LLM_ERR_CONNECT,            /* refused, unreachable, DNS, TLS */
	LLM_ERR_TIMEOUT,            /* no (complete) answer in time */
	LLM_ERR_TRUNCATED,          /* the stream closed before [DONE]/finish_reason */
	LLM_ERR_PROTOCOL,           /* not the wire format: not JSON, no choices... */
	LLM_ERR_CANCELLED,
	LLM_ERR_TOO_LARGE,          /* answer over the size cap */
};

struct llm_error {
	enum llm_error_kind kind;
	int status;                 /* HTTP status, 0 when none */
	char *message;              /* one line for the user; owned; never the key */
	char *type;                 /* "insufficient_quota", "rate_limit_error"...; owned, may be NULL */
	char *code;                 /* owned, may be NULL */
	long retry_after_ms;        /* from Retry-After / retry-after-ms; -1: none */
};

void llm_error_release(struct llm_error *e);

/* "none", "http", "api", "connect", "timeout", "truncated", "protocol",
 * "cancelled", "too_large": for traces and logs. Static storage. */
const char *llm_error_kind_name(enum llm_error_kind kind);

/* Replace e with an error of this kind whose message is the formatted
 * text (made one line and capped; for the transport's CONNECT, TIMEOUT,
 * CANCELLED, TOO_LARGE errors). type and code NULL, retry_after_ms -1.
 * -ENOMEM (e then has kind set and message NULL). */
__attribute__((format(printf, 4, 5)))
int llm_error_setf(struct llm_error *e, enum llm_error_kind kind, int status,
		   const char *fmt, ...);

/* Fill e from an HTTP answer with status >= 400 (or a 200 whose body is an
 * error): body may be {"error": {message, type, code, param}}, {"error":
 * "text"}, {"message", "type", "code"} (legacy/vLLM top level),
 * {"detail": ...} (FastAPI), HTML or plain text (cut to one line of at
 * most 300 bytes), or empty. retry_after / retry_after_ms are the raw
 * header values or NULL: Retry-After in seconds or as an HTTP date, or
 * retry-after-ms in milliseconds (preferred when both). -ENOMEM. */
int llm_error_from_http(int status, const char *body, size_t len, const char *retry_after,
			const char *retry_after_ms, struct llm_error *e);

/* Whether another attempt may succeed: 408, 409, 429 (unless type or code
 * is "insufficient_quota"), 500-599, CONNECT, TIMEOUT, TRUNCATED. Never
 * 400, 401, 403, 404, 422, PROTOCOL, CANCELLED, TOO_LARGE. An API error
 * (inside a 200 answer) is retryable when its code is one of those
 * statuses or its type/code says server_error, overloaded_error,
 * rate_limit_error or rate_limit_exceeded (again never insufficient_quota). */
bool llm_error_retryable(const struct llm_error *e);

/* The wait before attempt number `attempt` (1 = the first retry):
 * the server's retry_after_ms when it gave one (a value above cap_ms means
 * "do not retry": returns -1), else min(cap_ms, base_ms * 2^(attempt-1))
 * with full jitter: a uniform value in [that/2, that] drawn from *seed
 * (a xorshift state the caller keeps, so tests are reproducible). */
long llm_backoff_ms(const struct llm_error *e, unsigned attempt, long base_ms, long cap_ms,
		    uint64_t *seed);

/* ---------------------------------------------------------------- response */

struct llm_tool_call {
	char *id;                   /* owned; generated "call_<n>" when the server sent none */
	char *name;                 /* owned */
	char *arguments;            /* owned; the JSON text as sent (an object
	                               sent instead of a string is serialised) */
};

struct llm_usage {
	int64_t prompt_tokens, completion_tokens, total_tokens;  /* -1: not sent */
	int64_t cached_tokens, reasoning_tokens;                 /* -1: not sent */
};

struct llm_response {
	char *content;              /* the answer text; owned, "" when none */
	char *reasoning;            /* reasoning_content / reasoning: kept apart,
	                               never part of the answer; owned, may be NULL */
	char *refusal;              /* owned, NULL when none */
	struct llm_tool_call *tool_calls;   /* owned, ncalls of them, by index order */
	size_t ncalls;
	char *finish_reason;        /* owned, NULL until known */
	char *model;                /* as the server named it; owned, may be NULL */
	struct llm_usage usage;
	bool done;                  /* [DONE] seen, or a complete JSON body read */
	struct llm_error error;     /* kind LLM_ERR_NONE unless an error came */
	struct llm_response_acc *acc;   /* private to chat_response.c (string
	                                   lengths, stream indexes); owned */
};

void llm_response_init(struct llm_response *r);
void llm_response_release(struct llm_response *r);

/* Fold one stream chunk (the JSON of one SSE "data:", already parsed) into
 * r: choices[0].delta.content / reasoning_content / reasoning / refusal
 * appended; delta.tool_calls merged by their "index" (several in parallel;
 * id, name and the arguments' pieces arriving in any number of chunks; an
 * index missing means the piece's position in that delta's array; a piece
 * carrying an id or a function name other than the one its index already
 * has starts a new call, for servers that reuse index 0); finish_reason; usage from the chunk's "usage"
 * whether or not it has choices (a final chunk with "choices": []); an
 * {"error": ...} chunk, an {"object": "error", "message"...} chunk (vLLM)
 * or a chunk of {"message", "code"...} with no choices (llama.cpp's error
 * event) sets r->error (LLM_ERR_API; the first error is kept). *delta (may be NULL)
 * gets the text this chunk added to content, borrowed from the chunk, for
 * streaming to clients. -EPROTO for a chunk that is not an object (with
 * r->error set to LLM_ERR_PROTOCOL), -ENOMEM. */
int llm_response_feed_chunk(struct llm_response *r, json_t *chunk, const char **delta);
/* Feed one SSE event's data: "[DONE]" sets done; otherwise parsed as JSON
 * (-EPROTO with r->error set to LLM_ERR_PROTOCOL when it is not, or to
 * LLM_ERR_TRUNCATED when the JSON stops short: the connection closed
 * inside a chunk, and llm_sse_finish dispatched the piece) and fed
 * to llm_response_feed_chunk; empty data is ignored. Here *delta points
 * into r->content (the chunk is gone), valid until the next feed. */
int llm_response_feed_sse(struct llm_response *r, const char *data, size_t len,
			  const char **delta);
/* A non-streamed answer: the whole JSON body (choices[0].message with
 * content (may be null), reasoning, refusal, tool_calls; usage; or an
 * error object). Sets done once the body is JSON; -EPROTO with r->error
 * set (LLM_ERR_PROTOCOL) when it is not JSON or has no choices, or
 * (LLM_ERR_API) when it is an error object. */
int llm_response_from_json(struct llm_response *r, const char *body, size_t len);
/* After the transport ended without error: a stream with no [DONE] and no
 * finish_reason is LLM_ERR_TRUNCATED; tool calls with no name are
 * LLM_ERR_PROTOCOL; ids missing are generated, empty arguments become
 * "{}". 0, or -EPROTO with r->error set (also when an error came before). */
int llm_response_finish(struct llm_response *r);

/* The assistant message to append to the conversation for the next turn:
 * {role: "assistant", content (null when empty and there are tool calls),
 * tool_calls: [{id, type: "function", function: {name, arguments}}]}.
 * Reasoning is not included. A new reference, or NULL (ENOMEM). */
json_t *llm_response_message(const struct llm_response *r);

#endif
