/*
 * embed.h - a blocking client for OpenAI-compatible /v1/embeddings
 * endpoints (OpenAI, vLLM, Ollama, llama.cpp's server, text-embeddings-
 * inference...), on libcurl's easy interface.
 *
 * It blocks the calling thread for the length of the requests, so it is
 * for indexing and for a libuv thread-pool worker, never for the event
 * loop itself. Each call uses its own curl handle: any number of threads
 * may call it at once once embed_global_init has run.
 */
#ifndef DOCTOR_EMBED_H
#define DOCTOR_EMBED_H

#include <stdbool.h>
#include <stddef.h>

#include "docs_index.h"
#include "embed_wire.h"      /* EMBED_MAX_INPUT_BYTES, the wire format */

/* A request that meets a rate limit (429), a server error (500, 502, 503,
 * 504) or a connection failure is sent again, at most EMBED_MAX_ATTEMPTS
 * times in all, after 200 ms then 800 ms, or after the delay the server
 * asks for in Retry-After when that is at most EMBED_RETRY_AFTER_MAX_MS
 * (a longer one ends the call at once with -EAGAIN). 400, 401, 403 and
 * other client errors, a 429 whose error is "insufficient_quota" (no wait
 * ends it), a timeout, and a malformed answer are not retried.
 * So one batch takes at most EMBED_MAX_ATTEMPTS * timeout_ms plus
 * 2 * EMBED_RETRY_AFTER_MAX_MS. */
#define EMBED_MAX_ATTEMPTS 3
#define EMBED_RETRY_AFTER_MAX_MS 10000

/* An answer larger than this is refused (-EMSGSIZE): 64 inputs of 3072
 * dimensions as JSON text are about 4 MiB. */
#define EMBED_MAX_RESPONSE_BYTES (64u << 20)

/* A request's time when embed_config.timeout_ms is 0, and the longest
 * time to connect (shorter when the timeout is). */
#define EMBED_DEFAULT_TIMEOUT_MS 30000
#define EMBED_CONNECT_TIMEOUT_MS 10000

/* Initialise libcurl for the whole process. Call it once at program
 * start, before any thread exists (curl_global_init is not thread-safe on
 * every libcurl build); later calls, which embed_texts also makes, only
 * return the first call's result. 0 or -EIO. */
int embed_global_init(void);

/* Whether c names an endpoint at all (base_url and model not empty). */
bool embed_enabled(const struct embed_config *c);

/* The embeddings of texts[0..n), in order: *out (owned by the caller:
 * free) gets n * *dim floats, row i the vector of texts[i], as the server
 * sent it (not normalised). n == 0 gives 0 with *out NULL and *dim 0.
 *
 * The texts go in batches of c->batch (0: 64) to <base_url>/embeddings
 * (base_url ends with /v1, as in the OpenAI clients), as
 * {"model", "input": [...], "encoding_format": "float"|"base64",
 * "dimensions" (when c->dimensions > 0)}, with "Authorization: Bearer
 * <key>" when the variable c->api_key_env is set and not empty. Texts are
 * cut at EMBED_MAX_INPUT_BYTES, invalid UTF-8 is replaced by U+FFFD, and
 * an empty text is sent as one space (servers refuse empty input). The
 * answer may carry floats or base64 whatever was asked, in any order of
 * its data[].index; it must hold one vector for every input, all of the
 * same dimension, in every batch.
 *
 * Errors: -EINVAL (no endpoint or model, bad URL, HTTP 400 or another 4xx
 * not below), -EACCES (401, 403), -ENOENT (404), -EAGAIN (429 after the
 * retries), -EIO (5xx after the retries, other transfer errors),
 * -ECONNREFUSED, -EHOSTUNREACH (name not resolved), -ETIMEDOUT (no
 * complete answer within c->timeout_ms, 0: 30000), -EPROTO (an answer that
 * is not the wire format: not JSON, wrong count, mixed dimensions, bad
 * base64), -EMSGSIZE, -ENOMEM. Then *out is NULL and, when err is not
 * NULL, *err is a newly allocated (free) one-line message for the user
 * naming the endpoint and what went wrong - the server's own message when
 * it sent one. The API key never appears in it, even when the server
 * echoes it back. */
int embed_texts(const struct embed_config *c, const char *const *texts, size_t n,
		float **out, size_t *dim, char **err);

#endif
