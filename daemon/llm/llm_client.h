/*
 * llm_client.h - OpenAI-compatible Chat Completions on the libuv loop.
 *
 * llm_chat sends POST <base_url>/chat/completions without ever blocking
 * the loop (http_uv.h), reads the answer streamed (SSE, each new piece of
 * the answer's text given to a delta callback as it arrives) or whole, and
 * retries what a retry can cure (llm_error_retryable: 408, 409, 429 but
 * insufficient_quota, 5xx, connection failures, timeouts, truncated
 * streams) after llm_backoff_ms, telling the caller before each wait. The
 * wire format itself (request body, SSE, chunks, errors) is llm_wire.h.
 *
 * Retries and streamed text: when an attempt fails after some of its text
 * was already given to the delta callback, the retry callback says so
 * (discard = true) and the caller must throw that text away: the next
 * attempt's deltas start the answer again from its beginning. The final
 * response only ever holds the last attempt.
 *
 * The API key is read from the environment variable the endpoint names,
 * at llm_chat, sent only as "Authorization: Bearer", and removed from
 * every error message (some servers echo it).
 *
 * Callbacks run on the loop's thread. llm_call_cancel, llm_chat and
 * llm_client_close may be called from any of them.
 *
 * Functions return 0 or a negative errno; one that fails runs no
 * callback.
 */
#ifndef DOCTOR_LLM_CLIENT_H
#define DOCTOR_LLM_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "llm_wire.h"

/* Where and how to ask. Strings are borrowed for the llm_chat call only. */
struct llm_endpoint {
	const char *base_url;         /* "http://host:port/v1" (a final '/' is allowed) */
	const char *model;            /* used when the request names none */
	const char *api_key_env;      /* the variable holding the key; NULL, "" or
	                                 unset: no Authorization header */
	long connect_timeout_ms;      /* per attempt */
	long timeout_ms;              /* a whole attempt; 0: none */
	long idle_timeout_ms;         /* no byte for this long (a model thinking
	                                 before its first token counts); 0: none */
	unsigned max_retries;         /* attempts after the first; 0: none */
	long backoff_base_ms;         /* the first retry's wait, doubled each time */
	long backoff_cap_ms;          /* the longest computed wait */
	long retry_after_cap_ms;      /* a server asking to wait longer: no retry */
	size_t max_answer_bytes;      /* of one attempt's body; 0: no cap */
};

/* The defaults: connect 10 s, timeout 300 s, idle 60 s, 3 retries,
 * backoff 500 ms doubling up to 20 s, Retry-After up to 60 s, answers up
 * to 8 MiB; base_url, model and api_key_env NULL. */
void llm_endpoint_defaults(struct llm_endpoint *ep);

/* Told before each wait for a retry. */
struct llm_retry {
	unsigned attempt;             /* the attempt that will follow (2 = first retry) */
	long wait_ms;                 /* the wait before it */
	const struct llm_error *error;/* why the last one failed; borrowed */
	bool discard;                 /* the failed attempt had given text to the delta
	                                 callback: throw it away */
};

/* The end of a call. */
struct llm_result {
	/* The last attempt's answer, error included (response.error.kind is
	 * LLM_ERR_NONE on success; its message never holds the key). The done
	 * callback may take it: copy the struct out and llm_response_init this
	 * one; whatever is left here is released when the callback returns. */
	struct llm_response response;
	unsigned attempts;            /* made, the first included */
	long first_byte_ms;           /* last attempt: start to the answer's headers; -1 none */
	long total_ms;                /* llm_chat to the end, waits included */
};

struct llm_callbacks {
	/* Text appended to the answer's content, in order; borrowed for the
	 * call. Streamed requests only. May be NULL. */
	void (*delta)(void *ud, const char *text, size_t len);
	/* Before each wait for a retry (see the top). May be NULL. */
	void (*retry)(void *ud, const struct llm_retry *r);
	/* Exactly once per successful llm_chat, also when cancelled
	 * (LLM_ERR_CANCELLED); the call is freed after it returns. Required. */
	void (*done)(void *ud, struct llm_result *res);
	void *ud;
};

struct llm_client;                /* the calls of one loop */
struct llm_call;                  /* one llm_chat, owned by the client */

/* A client on loop; *out is owned by the caller until llm_client_close. */
int llm_client_new(uv_loop_t *loop, struct llm_client **out);

/* Shutdown: every call still running ends (its done callback runs with
 * LLM_ERR_CANCELLED, normally from within this call), transfers are
 * aborted and every handle closed. Memory is freed by the loop once the
 * handles have closed: run the loop after it, then uv_loop_close
 * succeeds. No llm_chat may follow. */
void llm_client_close(struct llm_client *c);

/* Start a chat completion. req is borrowed for this call only (the body
 * is built here; req->model NULL: ep->model); ep likewise. *out (may be
 * NULL) is valid until the done callback returns. -EINVAL (no base_url,
 * no model, no messages, no done callback), -ESHUTDOWN after
 * llm_client_close, -ENOMEM. */
int llm_chat(struct llm_client *c, const struct llm_endpoint *ep, const struct llm_request *req,
	     const struct llm_callbacks *cb, struct llm_call **out);

/* Cancel a call: no delta or retry callback runs any more, and done runs
 * once with LLM_ERR_CANCELLED, later, from the loop. Harmless twice. */
void llm_call_cancel(struct llm_call *call);

#endif
