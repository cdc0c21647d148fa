/*
 * http_uv.h - asynchronous HTTP POST on the libuv loop: libcurl's multi
 * interface driven by one uv_timer_t and a uv_poll_t per socket, so a
 * request never blocks the daemon. The answer's status and headers, then
 * its body bytes as they arrive, then its end, go to callbacks; a request
 * has a connect, a total and an idle (no bytes for a while) timeout and a
 * cap on the body's size; it can be cancelled, and closing the engine
 * aborts every transfer and closes every handle, so uv_loop_close succeeds
 * once the loop has run the close callbacks.
 *
 * The API key is given apart (bearer) and sent only in the Authorization
 * header; it is never part of an error text and its copy is wiped when the
 * request is freed. Functions return 0 or a negative errno; a function
 * that fails never runs a callback.
 */
#ifndef DOCTOR_HTTP_UV_H
#define DOCTOR_HTTP_UV_H

#include <stddef.h>

#include <uv.h>

struct http_uv;               /* one engine: a curl multi on one loop */
struct http_req;              /* one transfer, owned by the engine */

/* How a transfer ended. */
struct http_result {
	/* 0: a whole answer came (whatever its status). Else -ECANCELED
	 * (http_req_cancel, or the engine closed), -ETIMEDOUT (a timeout),
	 * -ECONNREFUSED (could not connect), -EHOSTUNREACH (could not resolve
	 * the host or proxy), -ECONNRESET (the connection broke mid-answer),
	 * -EMSGSIZE (the body went over max_bytes), -EPROTO (TLS or HTTP
	 * protocol error), -EIO (anything else), or the non-zero value a
	 * callback returned to stop the transfer. */
	int rc;
	long status;              /* HTTP status; 0 when no answer came */
	const char *error;        /* one line, "" when rc == 0; borrowed for
	                             the callback's duration */
	long first_byte_ms;       /* start to the end of the headers; -1: none */
	long total_ms;            /* start to end */
};

/* One POST. Every pointer is borrowed for the http_uv_post call only:
 * what is needed is copied. */
struct http_post {
	const char *url;
	const char *const *headers;   /* "Name: value" strings, NULL-ended; may be NULL */
	const char *bearer;           /* the API key, sent as "Authorization: Bearer
	                                 <key>"; NULL or "": no Authorization header */
	const char *body;
	size_t body_len;
	long connect_timeout_ms;      /* 0: 10 s */
	long timeout_ms;              /* the whole transfer; 0: none */
	long idle_timeout_ms;         /* no byte received for this long, from the
	                                 start or the last byte: -ETIMEDOUT; 0: none */
	size_t max_bytes;             /* of the body; 0: no cap */

	/* Once, when the headers of the final answer are in (before any body
	 * byte). http_req_header may be called from it. A non-zero return
	 * stops the transfer and becomes the result's rc. May be NULL. */
	int (*on_response)(void *ud, struct http_req *r, long status);
	/* Body bytes as they arrive (after on_response). Non-zero stops the
	 * transfer and becomes the result's rc. May be NULL. */
	int (*on_data)(void *ud, const char *buf, size_t len);
	/* Exactly once per successful http_uv_post; the request is freed when
	 * it returns. Required. */
	void (*on_done)(void *ud, const struct http_result *res);
	void *ud;
};

/* A new engine on loop; *out is owned by the caller until http_uv_close. */
int http_uv_new(uv_loop_t *loop, struct http_uv **out);

/* Abort every transfer (each on_done runs with -ECANCELED, from within
 * this call unless it is called from inside a curl callback, in which case
 * as soon as curl returns), then close every handle. The engine's memory
 * is freed by the loop once the handles have closed: run the loop after
 * this call. No http_uv_post may follow. */
void http_uv_close(struct http_uv *h);

/* Start a POST. *out (may be NULL) names the transfer for
 * http_req_cancel, and stays valid until its on_done returns. -EINVAL
 * without url or on_done, -ESHUTDOWN once the engine is closing, -ENOMEM,
 * -EIO when curl refuses. */
int http_uv_post(struct http_uv *h, const struct http_post *p, struct http_req **out);

/* The value of the named header (case-insensitive; the last one when
 * repeated) of the answer, or NULL. Only from on_response; the string is
 * borrowed until it returns. */
const char *http_req_header(struct http_req *r, const char *name);

/* Cancel a transfer: no on_response or on_data runs any more, and on_done
 * runs once with -ECANCELED, later, from the loop (never from inside this
 * call). Harmless on a transfer already cancelled. */
void http_req_cancel(struct http_req *r);

#endif
