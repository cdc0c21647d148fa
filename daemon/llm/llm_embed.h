/*
 * llm_embed.h - OpenAI-compatible Embeddings on the libuv loop.
 *
 * llm_embed sends POST <base_url>/embeddings through an llm_client (the
 * same transport as llm_chat: libcurl's multi interface driven by the
 * loop, never blocking it), in batches one after the other, with the
 * request body and the answer's reading shared with the blocking client
 * of the documentation index (docs/embed_wire.h): floats or base64 as
 * asked, "dimensions" when set, vectors in the order of data[].index.
 *
 * Each request is retried like a chat (llm_error_retryable: 408, 409, 429
 * but insufficient_quota, 5xx, connection failures, timeouts) after
 * llm_backoff_ms with the endpoint's settings, the caller told before each
 * wait; llm_call_cancel cancels the call, llm_client_close ends it. The
 * API key is read from the environment variable the endpoint names, sent
 * only as "Authorization: Bearer", and never part of a message.
 *
 * Callbacks run on the loop's thread. Functions return 0 or a negative
 * errno; one that fails runs no callback.
 */
#ifndef DOCTOR_LLM_EMBED_H
#define DOCTOR_LLM_EMBED_H

#include <stdbool.h>
#include <stddef.h>

#include "llm_client.h"

/* What to embed. Borrowed for the llm_embed call only (every request's
 * body is built there). */
struct llm_embed_request {
	const char *model;            /* NULL or "": the endpoint's model */
	const char *const *texts;     /* n of them, none NULL; cut and repaired
	                                 as embed_wire_request says */
	size_t n;
	unsigned dimensions;          /* > 0: asked of the server */
	bool base64;                  /* encoding_format "base64", else "float" */
	unsigned batch;               /* texts per request; 0: 64; at most 2048 */
};

/* The end of a call. */
struct llm_embed_result {
	/* n x dim floats, row i the vector of texts[i] as the server sent it
	 * (not normalised); NULL on error. The done callback may take it (set
	 * it to NULL; then free it); whatever is left is freed after. */
	float *vectors;
	size_t n, dim;                /* 0 on error */
	/* LLM_ERR_NONE on success; else one line naming the endpoint (and,
	 * after retries, how many attempts), never the key. May be taken
	 * like vectors (then zero it). */
	struct llm_error error;
	unsigned attempts;            /* requests made, retries included */
	long total_ms;                /* llm_embed to the end, waits included */
};

struct llm_embed_callbacks {
	/* Before each wait for a retry (discard is always false). May be NULL. */
	void (*retry)(void *ud, const struct llm_retry *r);
	/* Exactly once per successful llm_embed, also when cancelled
	 * (LLM_ERR_CANCELLED). Required. */
	void (*done)(void *ud, struct llm_embed_result *res);
	void *ud;
};

/* Start embedding req's texts with client c at ep (borrowed for this call;
 * its base_url, model when req has none, api_key_env, timeouts, retries,
 * backoff and max_answer_bytes are used). *out (may be NULL) names the
 * call for llm_call_cancel and is valid until done returns. -EINVAL (no
 * base_url, no model, no texts, a NULL text, no done callback),
 * -ESHUTDOWN after llm_client_close, -ENOMEM. */
int llm_embed(struct llm_client *c, const struct llm_endpoint *ep,
	      const struct llm_embed_request *req, const struct llm_embed_callbacks *cb,
	      struct llm_call **out);

#endif
