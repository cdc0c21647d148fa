/*
 * llm_client_internal.h - what llm_client.c offers the other kinds of call
 * built on its transport, and nothing outside daemon/llm/ needs: a
 * non-streamed JSON POST to <base_url><path> with the same retries
 * (llm_error_retryable, llm_backoff_ms, Retry-After), key handling, cancel
 * (llm_call_cancel) and shutdown (llm_client_close) as a chat. The kind
 * reads each 2xx answer and may go on with another request (the next
 * batch of an llm_embed), whose attempts are counted afresh.
 */
#ifndef DOCTOR_LLM_CLIENT_INTERNAL_H
#define DOCTOR_LLM_CLIENT_INTERNAL_H

#include "llm_client.h"

/* In both hooks, where is the URL as messages show it (without
 * credentials or query), borrowed for the hook's duration. */
struct llm_call_kind {
	const char *path;             /* appended to base_url: "/embeddings" */
	/* A whole 2xx answer to the current request, body[0..len) (NUL-
	 * terminated). 0: read; set *next (a body the call takes) to post
	 * another request, or leave it NULL to end the call with success.
	 * < 0: this attempt failed; e (empty on entry) says why when the kind
	 * knows (an LLM_ERR_API error is retried when llm_error_retryable
	 * says so), else a protocol error naming rc is made. Required. */
	int (*answer)(void *ud, const char *where, const char *body, size_t len,
		      struct llm_error *e, char **next);
	/* Exactly once per call started, from the loop (also when cancelled,
	 * LLM_ERR_CANCELLED): e is LLM_ERR_NONE on success, else the last
	 * attempt's error without the key; it may be taken (copy it out, then
	 * zero *e). attempts counts every request, retries included. No hook
	 * runs after it: ud may be freed. Required. */
	void (*end)(void *ud, const char *where, struct llm_error *e, unsigned attempts,
		    long total_ms);
};

/* Start a call of this kind (kind is borrowed for the call's life: a
 * static table). body (a JSON text) is taken, also on error; ep is
 * borrowed for this call only; retry (may be NULL) is told before each
 * wait, as llm_callbacks.retry. *out (may be NULL) is valid until end
 * returns. -EINVAL (no base_url, no hooks), -ESHUTDOWN after
 * llm_client_close, -ENOMEM; then no hook runs. */
int llm_call_start(struct llm_client *c, const struct llm_endpoint *ep,
		   const struct llm_call_kind *kind, char *body,
		   void (*retry)(void *ud, const struct llm_retry *r), void *ud,
		   struct llm_call **out);

#endif
