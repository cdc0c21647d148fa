/*
 * http_uv.c - libcurl's multi interface on the libuv loop (see http_uv.h).
 *
 * curl tells us which sockets to watch (CURLMOPT_SOCKETFUNCTION: a
 * uv_poll_t per socket) and when to wake it up (CURLMOPT_TIMERFUNCTION:
 * one uv_timer_t); we tell curl what happened with
 * curl_multi_socket_action and then collect the finished transfers.
 * Nothing here waits: every callback returns to the loop at once.
 *
 * Reentrancy: callbacks of the caller run from inside curl (on_response,
 * on_data) or from our own loops (on_done). curl forbids removing handles
 * or cleaning up from inside its callbacks, so a cancel only marks the
 * transfer and ends it from a zero timer ("sweep"), and a close asked for
 * while we are busy is carried out when the outermost entry returns.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <uv.h>

#include "http_uv.h"
#include "list.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0.1.0"
#endif

#define DEFAULT_CONNECT_TIMEOUT_MS 10000L

struct http_uv {
	uv_loop_t *loop;
	CURLM *multi;
	uv_timer_t timer;             /* curl's own timeouts */
	uv_timer_t sweep;             /* ends cancelled transfers */
	uv_timer_t idle;              /* ends transfers silent for too long */
	struct list_head reqs;        /* transfers not yet ended */
	struct list_head socks;       /* struct sock, polled */
	int open_handles;             /* uv handles not yet closed */
	int busy;                     /* depth of our entries from the loop */
	bool closing;                 /* http_uv_close was called */
	bool closed;                  /* ... and carried out */
};

struct sock {
	uv_poll_t poll;
	curl_socket_t fd;
	int events;                   /* UV_READABLE | UV_WRITABLE watched */
	struct http_uv *h;
	struct list_head link;
};

struct http_req {
	struct http_uv *h;
	CURL *easy;
	struct curl_slist *headers;   /* owned; the Authorization line wiped at free */
	struct list_head link;
	int (*on_response)(void *ud, struct http_req *r, long status);
	int (*on_data)(void *ud, const char *buf, size_t len);
	void (*on_done)(void *ud, const struct http_result *res);
	void *ud;
	size_t max_bytes, received;
	uint64_t start_ns, first_byte_ns;
	uint64_t idle_ns;             /* the idle timeout; 0: none */
	uint64_t last_ns;             /* when a byte last came (or the start) */
	int cb_rc;                    /* what a callback returned to stop */
	bool responded;               /* on_response ran (or was due) */
	bool in_response;             /* http_req_header is allowed */
	bool cancelled, too_large, idle_expired;
	char errbuf[CURL_ERROR_SIZE];
};

/* ============================================================ global init */

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_result;

static void global_init_once(void)
{
	init_result = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -EIO;
}

/* ============================================================ handles */

static void maybe_free(struct http_uv *h)
{
	if (h->closed && h->open_handles == 0)
		free(h);
}

static void on_handle_closed(uv_handle_t *handle)
{
	struct http_uv *h = handle->data;

	h->open_handles--;
	maybe_free(h);
}

static void on_sock_closed(uv_handle_t *handle)
{
	struct sock *s = handle->data;
	struct http_uv *h = s->h;

	free(s);
	h->open_handles--;
	maybe_free(h);
}

static void sock_close(struct sock *s)
{
	list_del(&s->link);
	uv_close((uv_handle_t *)&s->poll, on_sock_closed);
}

/* ============================================================ ending */

static int errno_of(CURLcode cc)
{
	switch (cc) {
	case CURLE_OK:
		return 0;
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return -EHOSTUNREACH;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_PARTIAL_FILE:
	case CURLE_GOT_NOTHING:
		return -ECONNRESET;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
		return -ECONNABORTED;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		return -EINVAL;
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_BAD_CONTENT_ENCODING:
		return -EPROTO;
	default:
		return -EIO;
	}
}

static long ms_since(uint64_t start_ns, uint64_t end_ns)
{
	return (long)((end_ns - start_ns) / 1000000u);
}

/* Wipe the Authorization line, then free the request. */
static void req_free(struct http_req *r)
{
	struct curl_slist *l;

	for (l = r->headers; l; l = l->next)
		if (strncasecmp(l->data, "Authorization:", 14) == 0)
			explicit_bzero(l->data, strlen(l->data));
	curl_slist_free_all(r->headers);
	if (r->easy)
		curl_easy_cleanup(r->easy);
	free(r);
}

/* End r: take it out of the multi, run on_done once, free it. */
static void finish(struct http_req *r, CURLcode cc)
{
	struct http_uv *h = r->h;
	struct http_result res = { .first_byte_ms = -1 };
	char msg[96];

	list_del(&r->link);
	curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &res.status);
	curl_multi_remove_handle(h->multi, r->easy);
	if (r->cancelled || h->closing) {
		res.rc = -ECANCELED;
		res.error = h->closing ? "shutting down" : "cancelled";
	} else if (r->idle_expired) {
		res.rc = -ETIMEDOUT;
		snprintf(msg, sizeof msg, "nothing received for %llu ms",
			 (unsigned long long)(r->idle_ns / 1000000u));
		res.error = msg;
	} else if (r->cb_rc) {
		res.rc = r->cb_rc;
		res.error = "stopped while reading the answer";
	} else if (r->too_large) {
		res.rc = -EMSGSIZE;
		snprintf(msg, sizeof msg, "the answer is larger than %zu bytes", r->max_bytes);
		res.error = msg;
	} else {
		res.rc = errno_of(cc);
		res.error = cc == CURLE_OK ? "" : r->errbuf[0] ? r->errbuf : curl_easy_strerror(cc);
	}
	if (r->first_byte_ns)
		res.first_byte_ms = ms_since(r->start_ns, r->first_byte_ns);
	res.total_ms = ms_since(r->start_ns, uv_hrtime());
	r->on_done(r->ud, &res);
	req_free(r);
}

/* Close for good: every transfer ends cancelled, curl is cleaned up,
 * every handle closed. */
static void do_close(struct http_uv *h)
{
	struct list_head *pos, *tmp;

	h->closed = true;
	while (!list_empty(&h->reqs))
		finish(list_entry(h->reqs.next, struct http_req, link), CURLE_ABORTED_BY_CALLBACK);
	/* The socket function still closes what curl removes here. */
	curl_multi_cleanup(h->multi);
	h->multi = NULL;
	list_for_each_safe(pos, tmp, &h->socks)
		sock_close(list_entry(pos, struct sock, link));
	uv_close((uv_handle_t *)&h->timer, on_handle_closed);
	uv_close((uv_handle_t *)&h->sweep, on_handle_closed);
	uv_close((uv_handle_t *)&h->idle, on_handle_closed);
}

/* Leave one of our entries from the loop: a close asked for meanwhile is
 * carried out by the outermost one. */
static void leave(struct http_uv *h)
{
	if (--h->busy == 0 && h->closing && !h->closed)
		do_close(h);
}

/* End the transfers curl says are finished. */
static void collect(struct http_uv *h)
{
	struct http_req *r;
	CURLMsg *m;
	CURLcode cc;
	int left;

	while (!h->closing && (m = curl_multi_info_read(h->multi, &left))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		cc = m->data.result;
		r = NULL;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
		if (r)
			finish(r, cc);
	}
}

static void drive(struct http_uv *h, curl_socket_t fd, int flags)
{
	int running;

	h->busy++;
	if (!h->closing) {
		curl_multi_socket_action(h->multi, fd, flags, &running);
		collect(h);
	}
	leave(h);
}

/* ============================================================ curl's callbacks */

static void on_poll(uv_poll_t *p, int status, int events)
{
	struct sock *s = p->data;
	int flags = 0;

	if (status < 0) {
		/* An error on the socket (libuv stopped the handle): let curl
		 * read and write to find out which, so that its own recovery
		 * (a fresh connection when a reused one turns out dead) works;
		 * CURL_CSELECT_ERR would fail the transfer outright. */
		uv_poll_start(&s->poll, s->events, on_poll);
		flags = CURL_CSELECT_IN | CURL_CSELECT_OUT;
	}
	if (events & UV_READABLE)
		flags |= CURL_CSELECT_IN;
	if (events & UV_WRITABLE)
		flags |= CURL_CSELECT_OUT;
	drive(s->h, s->fd, flags);
}

static void on_timer(uv_timer_t *t)
{
	drive(t->data, CURL_SOCKET_TIMEOUT, 0);
}

static int sock_fn(CURL *easy, curl_socket_t fd, int what, void *ud, void *sockp)
{
	struct http_uv *h = ud;
	struct sock *s = sockp;
	int events = 0;

	if (what == CURL_POLL_REMOVE) {
		if (s) {
			sock_close(s);
			curl_multi_assign(h->multi, fd, NULL);
		}
		return 0;
	}
	if (h->closed)
		return 0;
	if (!s) {
		if (!(s = calloc(1, sizeof *s)))
			return -1;
		if (uv_poll_init_socket(h->loop, &s->poll, fd) < 0) {
			free(s);
			return -1;
		}
		s->fd = fd;
		s->h = h;
		s->poll.data = s;
		list_add_tail(&s->link, &h->socks);
		h->open_handles++;
		curl_multi_assign(h->multi, fd, s);
	}
	if (what & CURL_POLL_IN)
		events |= UV_READABLE;
	if (what & CURL_POLL_OUT)
		events |= UV_WRITABLE;
	s->events = events;
	return uv_poll_start(&s->poll, events, on_poll) < 0 ? -1 : 0;
}

static int timer_fn(CURLM *multi, long timeout_ms, void *ud)
{
	struct http_uv *h = ud;

	if (h->closed)
		return 0;
	if (timeout_ms < 0)
		uv_timer_stop(&h->timer);
	else
		uv_timer_start(&h->timer, on_timer, (uint64_t)timeout_ms, 0);
	return 0;
}

/* A header line; the empty one ends a block, and the block of a final
 * (not 1xx) answer is shown to on_response. */
static size_t header_fn(char *buf, size_t size, size_t n, void *ud)
{
	struct http_req *r = ud;
	size_t len = size * n;
	long status = 0;
	int rc;

	if (r->cancelled || r->h->closing)
		return 0;
	r->last_ns = uv_hrtime();
	if (r->responded || !((len == 2 && buf[0] == '\r') || (len == 1 && buf[0] == '\n')))
		return len;
	curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
	if (status < 200)
		return len;
	r->responded = true;
	r->first_byte_ns = uv_hrtime();
	if (r->on_response) {
		r->in_response = true;
		rc = r->on_response(r->ud, r, status);
		r->in_response = false;
		if (rc) {
			r->cb_rc = rc;
			return 0;
		}
	}
	return len;
}

static size_t write_fn(char *buf, size_t size, size_t n, void *ud)
{
	struct http_req *r = ud;
	size_t len = size * n;
	int rc;

	if (r->cancelled || r->h->closing || len == 0)
		return 0;
	r->last_ns = uv_hrtime();
	r->received += len;
	if (r->max_bytes && r->received > r->max_bytes) {
		r->too_large = true;
		return 0;
	}
	if (r->on_data && (rc = r->on_data(r->ud, buf, len))) {
		r->cb_rc = rc;
		return 0;
	}
	return len;
}

/* ============================================================ idle */

/* The idle timer: end the transfers silent past their idle timeout, and
 * wake up again at the next deadline. Bytes arriving only move a
 * transfer's deadline later, so the timer may fire early: it looks again. */
static void on_idle(uv_timer_t *t)
{
	struct http_uv *h = t->data;
	struct list_head *pos;
	uint64_t now, next;
	bool again = true;

	h->busy++;
	while (again && !h->closing) {
		again = false;
		now = uv_hrtime();
		next = 0;
		for (pos = h->reqs.next; pos != &h->reqs; pos = pos->next) {
			struct http_req *r = list_entry(pos, struct http_req, link);
			uint64_t due = r->last_ns + r->idle_ns;

			if (!r->idle_ns || r->cancelled)
				continue;
			if (due <= now) {
				r->idle_expired = true;
				finish(r, CURLE_OPERATION_TIMEDOUT);
				again = true;     /* on_done may have changed the list */
				break;
			}
			if (!next || due < next)
				next = due;
		}
		if (!again && next)
			uv_timer_start(&h->idle, on_idle, (next - now + 999999u) / 1000000u, 0);
	}
	leave(h);
}

/* A transfer with an idle timeout started: make sure the timer runs. */
static void idle_watch(struct http_uv *h, struct http_req *r)
{
	uint64_t ms = r->idle_ns / 1000000u;

	if (!uv_is_active((uv_handle_t *)&h->idle) || uv_timer_get_due_in(&h->idle) > ms)
		uv_timer_start(&h->idle, on_idle, ms, 0);
}

/* ============================================================ cancel */

static void on_sweep(uv_timer_t *t)
{
	struct http_uv *h = t->data;
	struct list_head *pos;
	bool again = true;

	h->busy++;
	/* on_done may cancel others: look again from the start each time. */
	while (again && !h->closing) {
		again = false;
		for (pos = h->reqs.next; pos != &h->reqs; pos = pos->next) {
			struct http_req *r = list_entry(pos, struct http_req, link);

			if (r->cancelled) {
				finish(r, CURLE_ABORTED_BY_CALLBACK);
				again = true;
				break;
			}
		}
	}
	leave(h);
}

void http_req_cancel(struct http_req *r)
{
	if (!r || r->cancelled)
		return;
	r->cancelled = true;
	if (!r->h->closing)
		uv_timer_start(&r->h->sweep, on_sweep, 0, 0);
}

/* ============================================================ public */

int http_uv_new(uv_loop_t *loop, struct http_uv **out)
{
	struct http_uv *h;

	pthread_once(&init_once, global_init_once);
	if (init_result < 0)
		return init_result;
	if (!(h = calloc(1, sizeof *h)))
		return -ENOMEM;
	if (!(h->multi = curl_multi_init())) {
		free(h);
		return -ENOMEM;
	}
	h->loop = loop;
	list_init(&h->reqs);
	list_init(&h->socks);
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, sock_fn);
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, timer_fn);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
	uv_timer_init(loop, &h->timer);
	uv_timer_init(loop, &h->sweep);
	uv_timer_init(loop, &h->idle);
	h->timer.data = h->sweep.data = h->idle.data = h;
	h->open_handles = 3;
	*out = h;
	return 0;
}

void http_uv_close(struct http_uv *h)
{
	if (!h || h->closing)
		return;
	h->closing = true;
	if (h->busy == 0)
		do_close(h);
}

/* The request's header list: the caller's, the bearer, no Expect. */
static int build_headers(struct http_req *r, const struct http_post *p)
{
	const char *const *hp;
	struct curl_slist *l;
	char *auth;

	for (hp = p->headers; hp && *hp; hp++) {
		if (!(l = curl_slist_append(r->headers, *hp)))
			return -ENOMEM;
		r->headers = l;
	}
	if (!(l = curl_slist_append(r->headers, "Expect:")))
		return -ENOMEM;
	r->headers = l;
	if (p->bearer && *p->bearer) {
		if (asprintf(&auth, "Authorization: Bearer %s", p->bearer) < 0)
			return -ENOMEM;
		l = curl_slist_append(r->headers, auth);
		explicit_bzero(auth, strlen(auth));
		free(auth);
		if (!l)
			return -ENOMEM;
		r->headers = l;
	}
	return 0;
}

static int setup_easy(struct http_req *r, const struct http_post *p)
{
	CURL *e = r->easy;
	int bad = 0;

	bad |= curl_easy_setopt(e, CURLOPT_URL, p->url);
	bad |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	bad |= curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)r);
	bad |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	bad |= curl_easy_setopt(e, CURLOPT_USERAGENT, "doctord/" PACKAGE_VERSION);
	bad |= curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
	bad |= curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)p->body_len);
	bad |= curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, p->body ? p->body : "");
	bad |= curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_fn);
	bad |= curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
	bad |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_fn);
	bad |= curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
	bad |= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
	bad |= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
				p->connect_timeout_ms > 0 ? p->connect_timeout_ms
							  : DEFAULT_CONNECT_TIMEOUT_MS);
	if (p->timeout_ms > 0)
		bad |= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, p->timeout_ms);
	return bad ? -EIO : 0;
}

int http_uv_post(struct http_uv *h, const struct http_post *p, struct http_req **out)
{
	struct http_req *r;
	int rc;

	if (!h || !p || !p->url || !p->on_done || (p->body_len && !p->body))
		return -EINVAL;
	if (h->closing)
		return -ESHUTDOWN;
	if (!(r = calloc(1, sizeof *r)))
		return -ENOMEM;
	r->h = h;
	r->on_response = p->on_response;
	r->on_data = p->on_data;
	r->on_done = p->on_done;
	r->ud = p->ud;
	r->max_bytes = p->max_bytes;
	r->idle_ns = p->idle_timeout_ms > 0 ? (uint64_t)p->idle_timeout_ms * 1000000u : 0;
	list_init(&r->link);
	if (!(r->easy = curl_easy_init())) {
		rc = -ENOMEM;
		goto fail;
	}
	if ((rc = build_headers(r, p)) < 0 || (rc = setup_easy(r, p)) < 0)
		goto fail;
	r->start_ns = r->last_ns = uv_hrtime();
	if (curl_multi_add_handle(h->multi, r->easy) != CURLM_OK) {
		rc = -EIO;
		goto fail;
	}
	list_add_tail(&r->link, &h->reqs);
	if (r->idle_ns)
		idle_watch(h, r);
	if (out)
		*out = r;
	return 0;
fail:
	req_free(r);
	return rc;
}

const char *http_req_header(struct http_req *r, const char *name)
{
	struct curl_header *hd;

	if (!r || !r->in_response || !name)
		return NULL;
	if (curl_easy_header(r->easy, name, 0, CURLH_HEADER, -1, &hd) != CURLHE_OK)
		return NULL;
	if (hd->amount > 1 &&
	    curl_easy_header(r->easy, name, hd->amount - 1, CURLH_HEADER, -1, &hd) != CURLHE_OK)
		return NULL;
	return hd->value;
}
