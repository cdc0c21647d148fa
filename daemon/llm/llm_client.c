/*
 * llm_client.c - Chat Completions calls on the loop, with retries (see
 * llm_client.h), and the same transport for the other kinds of call
 * (llm_client_internal.h: embeddings, llm_embed.c).
 *
 * A call is a small state machine: an attempt in flight (call->req set),
 * or a wait for the next attempt on the call's timer, or its end. An
 * attempt's answer goes to the SSE parser when it is an event stream with
 * a 2xx status, else into a buffer read whole at the end (a JSON
 * completion, or an error body with its Retry-After headers). Every failure
 * becomes the response's struct llm_error; the wire format's retry policy
 * decides whether another attempt follows. A call of another kind is never
 * an event stream: its kind reads each whole 2xx answer, and may give the
 * body of a next request (attempts counted afresh), or end it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>
#include <uv.h>

#include "http_uv.h"
#include "list.h"
#include "llm_client.h"
#include "llm_client_internal.h"

struct llm_client {
	uv_loop_t *loop;
	struct http_uv *http;         /* owned; closed by llm_client_close */
	struct list_head calls;       /* not yet ended */
	int open;                     /* calls not yet freed */
	bool closing;
};

struct llm_call {
	struct llm_client *c;
	struct list_head link;
	uv_timer_t timer;             /* the wait before a retry; a deferred cancel */
	struct llm_callbacks cb;      /* of a kind: retry and ud only */
	const struct llm_call_kind *kind;   /* NULL: a chat */

	/* What every attempt sends; all owned. */
	char *url;                    /* <base_url>/chat/completions, or the kind's path */
	char *shown;                  /* the URL without credentials or query */
	char *key;                    /* wiped before it is freed; NULL: none */
	char *body;
	size_t body_len;
	char *next_body;              /* a kind's next request, once this one is read */
	bool stream;
	struct llm_endpoint ep;       /* its strings not kept (NULL) */
	uint64_t seed;                /* the backoff's jitter */

	/* The attempt. */
	struct http_req *req;         /* in flight, or NULL */
	struct llm_response resp;     /* of a kind: only its error is used */
	struct llm_sse *sse;          /* owned; the answer is an event stream */
	char *buf;                    /* owned; any other answer, whole */
	size_t len, cap;
	long status;
	char *retry_after, *retry_after_ms;   /* header values; owned */
	bool delivered;               /* deltas were given for this attempt */
	long first_byte_ms;

	unsigned attempts;            /* of the current request */
	unsigned total_attempts;      /* of all of them */
	uint64_t start_ns;
	bool cancelled, ended;
};

static int start_attempt(struct llm_call *k);

/* ============================================================ defaults */

void llm_endpoint_defaults(struct llm_endpoint *ep)
{
	*ep = (struct llm_endpoint){
		.connect_timeout_ms = 10000,
		.timeout_ms = 300000,
		.idle_timeout_ms = 60000,
		.max_retries = 3,
		.backoff_base_ms = 500,
		.backoff_cap_ms = 20000,
		.retry_after_cap_ms = 60000,
		.max_answer_bytes = 8u << 20,
	};
}

/* ============================================================ errors */

/* Every occurrence of key in *s replaced by "[redacted]", in a new string
 * that replaces *s. 0 or -ENOMEM (then *s is left as it was). */
static int redact_key(char **s, const char *key)
{
	static const char mark[] = "[redacted]";
	size_t klen = key ? strlen(key) : 0, count = 0;
	const char *p, *q;
	char *out, *o;

	if (!*s || klen == 0)
		return 0;
	for (p = *s; (q = strstr(p, key)); p = q + klen)
		count++;
	if (!count)
		return 0;
	if (!(out = malloc(strlen(*s) - count * klen + count * (sizeof mark - 1) + 1)))
		return -ENOMEM;
	for (o = out, p = *s; (q = strstr(p, key)); p = q + klen) {
		memcpy(o, p, (size_t)(q - p));
		o += q - p;
		memcpy(o, mark, sizeof mark - 1);
		o += sizeof mark - 1;
	}
	strcpy(o, p);
	free(*s);
	*s = out;
	return 0;
}

/* Replace the response's error with one of ours. */
__attribute__((format(printf, 3, 4)))
static void set_error(struct llm_call *k, enum llm_error_kind kind, const char *fmt, ...)
{
	struct llm_error *e = &k->resp.error;
	va_list ap;
	int n;

	llm_error_release(e);
	e->kind = kind;
	e->status = (int)k->status;
	va_start(ap, fmt);
	n = vasprintf(&e->message, fmt, ap);
	va_end(ap);
	if (n < 0)
		e->message = NULL;    /* the kind still tells */
}

static bool failed(const struct llm_call *k)
{
	return k->resp.error.kind != LLM_ERR_NONE;
}

/* The wire format returned rc < 0: make sure an error says so. */
static void wire_failed(struct llm_call *k, int rc, const char *what)
{
	if (!failed(k))
		set_error(k, LLM_ERR_PROTOCOL, "%s: %s %s", k->shown, what, strerror(-rc));
}

/* A transfer that ended with rc < 0 (not a cancel). */
static void transport_error(struct llm_call *k, const struct http_result *res)
{
	switch (res->rc) {
	case -ETIMEDOUT:
		set_error(k, LLM_ERR_TIMEOUT, "%s: no %sanswer in time (%s)", k->shown,
			  res->status ? "complete " : "", res->error);
		break;
	case -EMSGSIZE:
		set_error(k, LLM_ERR_TOO_LARGE, "%s: %s", k->shown, res->error);
		break;
	case -ECONNRESET:
		if (res->status)
			set_error(k, LLM_ERR_TRUNCATED, "%s: the answer was cut off (%s)",
				  k->shown, res->error);
		else
			set_error(k, LLM_ERR_CONNECT, "%s: the connection failed (%s)",
				  k->shown, res->error);
		break;
	case -EINVAL:
	case -EPROTO:
	case -ENOMEM:
		set_error(k, LLM_ERR_PROTOCOL, "%s: %s", k->shown, res->error);
		break;
	default:
		set_error(k, LLM_ERR_CONNECT, "cannot reach %s: %s", k->shown, res->error);
		break;
	}
}

/* An HTTP error status: the body says why, the headers when to retry. */
static void http_error(struct llm_call *k)
{
	struct llm_error e = { .retry_after_ms = -1 };
	int rc;

	rc = llm_error_from_http((int)k->status, k->buf ? k->buf : "", k->len, k->retry_after,
				 k->retry_after_ms, &e);
	if (rc < 0) {
		llm_error_release(&e);
		set_error(k, LLM_ERR_HTTP, "%s: HTTP %ld", k->shown, k->status);
		return;
	}
	llm_error_release(&k->resp.error);
	k->resp.error = e;
}

/* ============================================================ the answer */

static int on_event(void *ud, const char *event, const char *data, size_t len)
{
	struct llm_call *k = ud;
	const char *delta = NULL;
	int rc;

	if (k->cancelled)
		return -ECANCELED;
	rc = llm_response_feed_sse(&k->resp, data, len, &delta);
	if (rc < 0)
		return rc;
	if (delta && *delta && k->cb.delta) {
		k->delivered = true;
		k->cb.delta(k->cb.ud, delta, strlen(delta));
	}
	return 0;
}

static int on_response(void *ud, struct http_req *r, long status)
{
	struct llm_call *k = ud;
	const char *ctype = http_req_header(r, "Content-Type");
	const char *ra = http_req_header(r, "Retry-After");
	const char *ra_ms = http_req_header(r, "retry-after-ms");

	k->status = status;
	if ((ra && !(k->retry_after = strdup(ra))) || (ra_ms && !(k->retry_after_ms = strdup(ra_ms))))
		return -ENOMEM;
	if (!k->kind && status >= 200 && status < 300 && ctype &&
	    strncasecmp(ctype, "text/event-stream", 17) == 0)
		return llm_sse_new(0, on_event, k, &k->sse);
	return 0;
}

static int on_data(void *ud, const char *buf, size_t len)
{
	struct llm_call *k = ud;
	size_t cap;
	char *p;

	if (k->sse)
		return llm_sse_feed(k->sse, buf, len);
	if (k->len + len + 1 > k->cap) {
		for (cap = k->cap ? k->cap : 4096; cap < k->len + len + 1; cap *= 2)
			;
		if (!(p = realloc(k->buf, cap)))
			return -ENOMEM;
		k->buf = p;
		k->cap = cap;
	}
	memcpy(k->buf + k->len, buf, len);
	k->len += len;
	k->buf[k->len] = '\0';
	return 0;
}

/* A whole 2xx answer to a call of another kind: the kind reads it. */
static void read_kind_answer(struct llm_call *k)
{
	char *next = NULL;
	int rc;

	rc = k->kind->answer(k->cb.ud, k->shown, k->buf ? k->buf : "", k->len, &k->resp.error,
			     &next);
	if (rc < 0) {
		free(next);
		wire_failed(k, rc, "bad answer:");
		return;
	}
	k->next_body = next;
}

/* A whole 2xx answer: finish the stream, or read the body. */
static void read_answer(struct llm_call *k)
{
	int rc;

	if (k->kind) {
		read_kind_answer(k);
		return;
	}
	if (k->sse) {
		if ((rc = llm_sse_finish(k->sse)) < 0)
			wire_failed(k, rc, "bad event stream:");
	} else if ((rc = llm_response_from_json(&k->resp, k->buf ? k->buf : "", k->len)) < 0) {
		wire_failed(k, rc, "bad answer:");
	}
	if (!failed(k) && (rc = llm_response_finish(&k->resp)) < 0)
		wire_failed(k, rc, "bad answer:");
}

/* Forget the attempt's answer before the next one. */
static void reset_attempt(struct llm_call *k)
{
	llm_response_release(&k->resp);
	llm_response_init(&k->resp);
	llm_sse_free(k->sse);
	k->sse = NULL;
	free(k->buf);
	k->buf = NULL;
	k->len = k->cap = 0;
	free(k->retry_after);
	free(k->retry_after_ms);
	k->retry_after = k->retry_after_ms = NULL;
	k->status = 0;
	k->delivered = false;
	k->first_byte_ms = -1;
}

/* ============================================================ the end */

static void maybe_free_client(struct llm_client *c)
{
	if (c->closing && c->open == 0)
		free(c);
}

static void on_call_closed(uv_handle_t *h)
{
	struct llm_call *k = h->data;
	struct llm_client *c = k->c;

	reset_attempt(k);
	llm_response_release(&k->resp);
	if (k->key) {
		explicit_bzero(k->key, strlen(k->key));
		free(k->key);
	}
	free(k->url);
	free(k->shown);
	free(k->body);
	free(k->next_body);
	free(k);
	c->open--;
	maybe_free_client(c);
}

/* Run done once with the response (the key out of its error), then free
 * the call once its timer has closed. */
static void end_call(struct llm_call *k)
{
	struct llm_result res;

	k->ended = true;
	list_del(&k->link);
	uv_timer_stop(&k->timer);
	redact_key(&k->resp.error.message, k->key);
	redact_key(&k->resp.error.type, k->key);
	redact_key(&k->resp.error.code, k->key);
	res = (struct llm_result){
		.response = k->resp,
		.attempts = k->attempts,
		.first_byte_ms = k->first_byte_ms,
		.total_ms = (long)((uv_hrtime() - k->start_ns) / 1000000u),
	};
	llm_response_init(&k->resp);
	if (k->kind)
		k->kind->end(k->cb.ud, k->shown, &res.response.error, k->total_attempts,
			     res.total_ms);
	else
		k->cb.done(k->cb.ud, &res);
	llm_response_release(&res.response);
	uv_close((uv_handle_t *)&k->timer, on_call_closed);
}

static void end_cancelled(struct llm_call *k)
{
	set_error(k, LLM_ERR_CANCELLED, "%s", k->c->closing ? "cancelled: the daemon is shutting down"
							      : "cancelled");
	end_call(k);
}

/* ============================================================ retries */

static void on_wait_over(uv_timer_t *t)
{
	struct llm_call *k = t->data;
	int rc;

	if (k->cancelled || k->c->closing) {
		end_cancelled(k);
		return;
	}
	reset_attempt(k);
	if ((rc = start_attempt(k)) < 0) {
		set_error(k, LLM_ERR_CONNECT, "%s: cannot start a request: %s", k->shown,
			  strerror(-rc));
		end_call(k);
	}
}

/* After a failed attempt: wait and try again, or end. */
static void retry_or_end(struct llm_call *k)
{
	struct llm_error *e = &k->resp.error;
	long cap, wait;
	char *note;

	if (k->cancelled || k->c->closing || !llm_error_retryable(e) ||
	    k->attempts > k->ep.max_retries) {
		end_call(k);
		return;
	}
	cap = e->retry_after_ms >= 0 ? k->ep.retry_after_cap_ms : k->ep.backoff_cap_ms;
	wait = llm_backoff_ms(e, k->attempts, k->ep.backoff_base_ms, cap, &k->seed);
	if (wait < 0) {
		if (asprintf(&note, "%s (longer than the %ld s allowed: not retrying)",
			     e->message ? e->message : "the server asks to wait",
			     k->ep.retry_after_cap_ms / 1000) >= 0) {
			free(e->message);
			e->message = note;
		}
		end_call(k);
		return;
	}
	redact_key(&e->message, k->key);
	if (k->cb.retry) {
		struct llm_retry r = {
			.attempt = k->attempts + 1,
			.wait_ms = wait,
			.error = e,
			.discard = k->delivered,
		};
		k->cb.retry(k->cb.ud, &r);
		if (k->ended)
			return;    /* llm_client_close from the callback */
	}
	/* A cancel from the retry callback has started the timer already. */
	if (!k->cancelled && !k->c->closing)
		uv_timer_start(&k->timer, on_wait_over, (uint64_t)wait, 0);
	else if (k->c->closing)
		end_cancelled(k);
}

/* A kind's request was answered and it asks for another: post it, its
 * attempts counted afresh. */
static void next_request(struct llm_call *k)
{
	int rc;

	free(k->body);
	k->body = k->next_body;
	k->body_len = strlen(k->body);
	k->next_body = NULL;
	k->attempts = 0;
	reset_attempt(k);
	if ((rc = start_attempt(k)) < 0) {
		set_error(k, LLM_ERR_CONNECT, "%s: cannot start a request: %s", k->shown,
			  strerror(-rc));
		end_call(k);
	}
}

static void on_done(void *ud, const struct http_result *res)
{
	struct llm_call *k = ud;

	k->req = NULL;
	k->first_byte_ms = res->first_byte_ms;
	if (res->rc == -ECANCELED || k->cancelled) {
		end_cancelled(k);
		return;
	}
	if (failed(k))
		;      /* the stream said so already (an error chunk, invalid JSON) */
	else if (res->rc < 0)
		transport_error(k, res);
	else if (k->status >= 400)
		http_error(k);
	else if (k->status < 200 || k->status >= 300)
		set_error(k, LLM_ERR_PROTOCOL, "%s: unexpected HTTP status %ld", k->shown,
			  k->status);
	else
		read_answer(k);
	if (failed(k))
		retry_or_end(k);
	else if (k->next_body)
		next_request(k);
	else
		end_call(k);
}

static int start_attempt(struct llm_call *k)
{
	const char *headers[] = {
		"Content-Type: application/json",
		k->stream ? "Accept: text/event-stream" : "Accept: application/json",
		NULL,
	};
	struct http_post p = {
		.url = k->url,
		.headers = headers,
		.bearer = k->key,
		.body = k->body,
		.body_len = k->body_len,
		.connect_timeout_ms = k->ep.connect_timeout_ms,
		.timeout_ms = k->ep.timeout_ms,
		.idle_timeout_ms = k->ep.idle_timeout_ms,
		.max_bytes = k->ep.max_answer_bytes,
		.on_response = on_response,
		.on_data = on_data,
		.on_done = on_done,
		.ud = k,
	};

	k->attempts++;
	k->total_attempts++;
	return http_uv_post(k->c->http, &p, &k->req);
}

/* ============================================================ public */

int llm_client_new(uv_loop_t *loop, struct llm_client **out)
{
	struct llm_client *c = calloc(1, sizeof *c);
	int rc;

	if (!c)
		return -ENOMEM;
	if ((rc = http_uv_new(loop, &c->http)) < 0) {
		free(c);
		return rc;
	}
	c->loop = loop;
	list_init(&c->calls);
	*out = c;
	return 0;
}

void llm_client_close(struct llm_client *c)
{
	struct list_head *pos;
	bool again = true;

	if (!c || c->closing)
		return;
	c->closing = true;
	/* Calls waiting for a retry end here; done may touch other calls, so
	 * look again from the start each time. */
	while (again) {
		again = false;
		for (pos = c->calls.next; pos != &c->calls; pos = pos->next) {
			struct llm_call *k = list_entry(pos, struct llm_call, link);

			if (!k->req) {
				end_cancelled(k);
				again = true;
				break;
			}
		}
	}
	/* Calls in flight end from the engine's on_done, cancelled. */
	http_uv_close(c->http);
	c->http = NULL;
	maybe_free_client(c);
}

/* <base><path>, and the same without credentials or query. */
static int make_urls(struct llm_call *k, const char *base, const char *path)
{
	size_t len = strlen(base);
	CURLU *u;
	char *s = NULL;

	while (len > 0 && base[len - 1] == '/')
		len--;
	if (asprintf(&k->url, "%.*s%s", (int)len, base, path) < 0) {
		k->url = NULL;
		return -ENOMEM;
	}
	if ((u = curl_url())) {
		if (curl_url_set(u, CURLUPART_URL, k->url, 0) == CURLUE_OK &&
		    curl_url_set(u, CURLUPART_USER, NULL, 0) == CURLUE_OK &&
		    curl_url_set(u, CURLUPART_PASSWORD, NULL, 0) == CURLUE_OK &&
		    curl_url_set(u, CURLUPART_QUERY, NULL, 0) == CURLUE_OK &&
		    curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0) == CURLUE_OK &&
		    curl_url_get(u, CURLUPART_URL, &s, 0) == CURLUE_OK) {
			k->shown = strdup(s);
			curl_free(s);
		}
		curl_url_cleanup(u);
	}
	if (!k->shown)
		k->shown = strdup("the LLM endpoint");
	return k->shown ? 0 : -ENOMEM;
}

/* The chat request body, as compact JSON. */
static int make_body(struct llm_call *k, const struct llm_endpoint *ep,
		     const struct llm_request *req)
{
	struct llm_request r = *req;
	json_t *body = NULL;
	int rc;

	if (!r.model || !*r.model)
		r.model = ep->model;
	if ((rc = llm_request_body(&r, &body)) < 0)
		return rc;
	k->body = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	if (!k->body)
		return -ENOMEM;
	k->body_len = strlen(k->body);
	k->stream = r.stream;
	return 0;
}

/* Free a call that never started. */
static void call_discard(struct llm_call *k)
{
	if (k->key)
		explicit_bzero(k->key, strlen(k->key));
	free(k->key);
	free(k->url);
	free(k->shown);
	free(k->body);
	llm_response_release(&k->resp);
	free(k);
}

/* A call of c to <base_url><path>, not started, without its body: the
 * endpoint's settings, the key from the environment, the URLs. *out owned
 * by the caller until call_start (call_discard). */
static int call_new(struct llm_client *c, const struct llm_endpoint *ep, const char *path,
		    const struct llm_callbacks *cb, struct llm_call **out)
{
	const char *key = NULL;
	struct llm_call *k;
	struct timespec ts;

	if (!(k = calloc(1, sizeof *k)))
		return -ENOMEM;
	k->c = c;
	k->cb = *cb;
	k->ep = *ep;
	k->ep.base_url = k->ep.model = k->ep.api_key_env = NULL;
	k->start_ns = uv_hrtime();
	clock_gettime(CLOCK_MONOTONIC, &ts);
	k->seed = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ (uintptr_t)k;
	if (!k->seed)
		k->seed = 0x9e3779b97f4a7c15u;
	llm_response_init(&k->resp);
	k->first_byte_ms = -1;
	list_init(&k->link);
	if (ep->api_key_env && *ep->api_key_env)
		key = getenv(ep->api_key_env);
	if ((key && *key && !(k->key = strdup(key))) || make_urls(k, ep->base_url, path) < 0) {
		call_discard(k);
		return -ENOMEM;
	}
	*out = k;
	return 0;
}

/* Start k's first attempt: from now on it is the client's, and it ends
 * with its done (or end) callback. On failure it is freed, no callback. */
static int call_start(struct llm_call *k, struct llm_call **out)
{
	struct llm_client *c = k->c;
	int rc;

	uv_timer_init(c->loop, &k->timer);
	k->timer.data = k;
	c->open++;
	list_add_tail(&k->link, &c->calls);
	if ((rc = start_attempt(k)) < 0) {
		/* No callback: the call goes with its timer. */
		k->ended = true;
		list_del(&k->link);
		uv_close((uv_handle_t *)&k->timer, on_call_closed);
		return rc;
	}
	if (out)
		*out = k;
	return 0;
}

int llm_chat(struct llm_client *c, const struct llm_endpoint *ep, const struct llm_request *req,
	     const struct llm_callbacks *cb, struct llm_call **out)
{
	struct llm_call *k;
	int rc;

	if (!c || !ep || !req || !cb || !cb->done || !ep->base_url || !*ep->base_url)
		return -EINVAL;
	if (c->closing)
		return -ESHUTDOWN;
	if ((rc = call_new(c, ep, "/chat/completions", cb, &k)) < 0)
		return rc;
	if ((rc = make_body(k, ep, req)) < 0) {
		call_discard(k);
		return rc;
	}
	return call_start(k, out);
}

int llm_call_start(struct llm_client *c, const struct llm_endpoint *ep,
		   const struct llm_call_kind *kind, char *body,
		   void (*retry)(void *ud, const struct llm_retry *r), void *ud,
		   struct llm_call **out)
{
	struct llm_callbacks cb = { .retry = retry, .ud = ud };
	struct llm_call *k;
	int rc;

	if (!c || !ep || !kind || !kind->path || !kind->answer || !kind->end || !body ||
	    !ep->base_url || !*ep->base_url) {
		free(body);
		return -EINVAL;
	}
	if (c->closing) {
		free(body);
		return -ESHUTDOWN;
	}
	if ((rc = call_new(c, ep, kind->path, &cb, &k)) < 0) {
		free(body);
		return rc;
	}
	k->kind = kind;
	k->body = body;
	k->body_len = strlen(body);
	return call_start(k, out);
}

void llm_call_cancel(struct llm_call *k)
{
	if (!k || k->cancelled || k->ended)
		return;
	k->cancelled = true;
	if (k->req)
		http_req_cancel(k->req);
	else
		uv_timer_start(&k->timer, on_wait_over, 0, 0);
}
