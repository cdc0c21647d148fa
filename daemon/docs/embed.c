/*
 * embed.c - the blocking /v1/embeddings client: sends each batch's JSON
 * request (embed_wire.c builds it and reads the answer) with libcurl's
 * easy interface, retrying what a retry can cure, and turns every way the
 * OpenAI-compatible world reports a failure into a negative errno and one
 * line for the user that never holds the API key. See embed.h for the
 * contract.
 */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "embed.h"
#include "embed_wire.h"
#include "utf8.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0.1.0"
#endif

#define MESSAGE_MAX 480           /* bytes of a message for the user */
#define SERVER_TEXT_MAX 300       /* of the server's own words in it */

/* Waits before the second and the third attempt. */
static const long backoff_ms[EMBED_MAX_ATTEMPTS - 1] = { 200, 800 };

/* ============================================================ global init */

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_result;

static void global_init_once(void)
{
	init_result = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -EIO;
}

int embed_global_init(void)
{
	pthread_once(&init_once, global_init_once);
	return init_result;
}

bool embed_enabled(const struct embed_config *c)
{
	return c && c->base_url && *c->base_url && c->model && *c->model;
}

/* ================================================================== text */

/* s with every occurrence of secret replaced by "[redacted]"; newly
 * allocated, NULL on ENOMEM. */
static char *redact(const char *s, const char *secret)
{
	static const char mark[] = "[redacted]";
	size_t slen = secret ? strlen(secret) : 0, count = 0, len;
	const char *p, *q;
	char *out, *o;

	if (!slen)
		return strdup(s);
	for (p = s; (q = strstr(p, secret)); p = q + slen)
		count++;
	len = strlen(s) - count * slen + count * (sizeof mark - 1);
	if (!(out = malloc(len + 1)))
		return NULL;
	for (o = out, p = s; (q = strstr(p, secret)); p = q + slen) {
		memcpy(o, p, (size_t)(q - p));
		o += q - p;
		memcpy(o, mark, sizeof mark - 1);
		o += sizeof mark - 1;
	}
	strcpy(o, p);
	return out;
}

/* s made fit for a message: the secret redacted (before anything can cut
 * it in two), valid UTF-8, control characters and runs of white space made
 * one space, trimmed, and cut at max bytes with "...". Newly allocated. */
static char *one_line(const char *s, const char *secret, size_t max)
{
	char *r = redact(s, secret), *c, *o, *p;
	size_t len;

	if (!r)
		return NULL;
	c = utf8_repair(r, strlen(r), NULL);
	free(r);
	if (!c)
		return NULL;
	for (o = p = c; *p; p++) {
		unsigned char ch = (unsigned char)*p;

		if (ch < 0x20 || ch == 0x7f || ch == ' ') {
			if (o > c && o[-1] != ' ')
				*o++ = ' ';
		} else {
			*o++ = *p;
		}
	}
	while (o > c && o[-1] == ' ')
		o--;
	*o = '\0';
	len = (size_t)(o - c);
	if (len > max) {
		/* Cut between characters, then mark the cut. */
		for (len = max - 3; len > 0 && ((unsigned char)c[len] & 0xc0) == 0x80; len--)
			;
		memcpy(c + len, "...", 4);
	}
	return c;
}

/* =========================================================== one call */

/* A growable buffer for the answer's body. */
struct answer {
	char *p;
	size_t len, cap;
	bool too_big, nomem;
	long retry_after_ms;         /* -1: the answer asked for nothing */
};

/* What one embed_texts call works with. */
struct call {
	const struct embed_config *c;
	CURL *h;
	struct curl_slist *headers;  /* owned */
	char *url;                   /* <base_url>/embeddings; owned */
	char *shown;                 /* url without credentials or query; owned */
	const char *key;             /* from the environment; NULL: none sent */
	char *err;                   /* message for the user; owned */
	int attempts;                /* of the current batch */
	struct embed_rows rows;      /* filled batch by batch; owned */
	char curl_err[CURL_ERROR_SIZE];
};

/* Record the message for rc ("embeddings endpoint URL: ...") and return
 * rc. The first message wins until it is taken. */
__attribute__((format(printf, 3, 4)))
static int fail(struct call *k, int rc, const char *fmt, ...)
{
	char *detail = NULL, *full = NULL;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&detail, fmt, ap);
	va_end(ap);
	if (r < 0)
		return rc;
	r = k->shown ? asprintf(&full, "embeddings endpoint %s: %s", k->shown, detail)
		     : asprintf(&full, "embeddings: %s", detail);
	if (r >= 0) {
		free(k->err);
		k->err = one_line(full, k->key, MESSAGE_MAX);
		free(full);
	}
	free(detail);
	return rc;
}

/* The URL as messages show it: no user, password, query or fragment. */
static char *shown_url(const char *url)
{
	CURLU *u = curl_url();
	char *s = NULL, *copy = NULL;

	if (!u)
		return NULL;
	if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_set(u, CURLUPART_USER, NULL, 0) == CURLUE_OK &&
	    curl_url_set(u, CURLUPART_PASSWORD, NULL, 0) == CURLUE_OK &&
	    curl_url_set(u, CURLUPART_OPTIONS, NULL, 0) == CURLUE_OK &&
	    curl_url_set(u, CURLUPART_QUERY, NULL, 0) == CURLUE_OK &&
	    curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_URL, &s, 0) == CURLUE_OK)
		copy = strdup(s);
	curl_free(s);
	curl_url_cleanup(u);
	return copy;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
	struct answer *a = ud;
	size_t n = size * nmemb, cap;
	char *p;

	if (n > EMBED_MAX_RESPONSE_BYTES - a->len) {
		a->too_big = true;
		return 0;
	}
	if (a->len + n + 1 > a->cap) {
		cap = a->cap ? a->cap : 16384;
		while (cap < a->len + n + 1)
			cap *= 2;
		if (!(p = realloc(a->p, cap))) {
			a->nomem = true;
			return 0;
		}
		a->p = p;
		a->cap = cap;
	}
	memcpy(a->p + a->len, data, n);
	a->len += n;
	a->p[a->len] = '\0';
	return n;
}

/* The delay a Retry-After value asks for, in ms: seconds or an HTTP date;
 * -1 when unreadable. */
static long retry_after_value(const char *v)
{
	char *end;
	double secs;
	time_t when;

	while (*v == ' ' || *v == '\t')
		v++;
	if (isdigit((unsigned char)*v)) {
		secs = strtod(v, &end);
		return secs >= 0 && secs < 86400.0 * 365 ? (long)(secs * 1000) : -1;
	}
	when = curl_getdate(v, NULL);
	if (when == -1)
		return -1;
	return when > time(NULL) ? (long)(when - time(NULL)) * 1000 : 0;
}

/* Header lines: note Retry-After (or the retry-after-ms OpenAI sends). */
static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
	struct answer *a = ud;
	size_t n = size * nmemb;
	char line[256], *end;
	double ms;

	if (n >= sizeof line)
		return n;
	memcpy(line, data, n);
	line[n] = '\0';
	line[strcspn(line, "\r\n")] = '\0';
	if (strncmp(line, "HTTP/", 5) == 0)
		a->retry_after_ms = -1;   /* a new answer: forget the last one's */
	else if (strncasecmp(line, "retry-after-ms:", 15) == 0) {
		ms = strtod(line + 15, &end);
		if (end != line + 15 && ms >= 0 && ms < 1e9)
			a->retry_after_ms = (long)ms;
	} else if (strncasecmp(line, "retry-after:", 12) == 0 && a->retry_after_ms < 0)
		a->retry_after_ms = retry_after_value(line + 12);
	return n;
}

static void call_release(struct call *k)
{
	if (k->h)
		curl_easy_cleanup(k->h);
	curl_slist_free_all(k->headers);
	free(k->url);
	free(k->shown);
	free(k->err);
	free(k->rows.data);
}

/* Add one header line; -ENOMEM. */
static int add_header(struct call *k, const char *line)
{
	struct curl_slist *l = curl_slist_append(k->headers, line);

	if (!l)
		return -ENOMEM;
	k->headers = l;
	return 0;
}

/* Prepare k for c: URL, key, headers and the curl handle. */
static int call_open(struct call *k, const struct embed_config *c)
{
	const char *env = c->api_key_env;
	size_t blen = strlen(c->base_url);
	unsigned timeout = c->timeout_ms ? c->timeout_ms : EMBED_DEFAULT_TIMEOUT_MS;
	char *auth = NULL;
	const char *p;
	int rc;

	k->c = c;
	while (blen && c->base_url[blen - 1] == '/')
		blen--;
	if (asprintf(&k->url, "%.*s/embeddings", (int)blen, c->base_url) < 0) {
		k->url = NULL;
		return -ENOMEM;
	}
	k->shown = shown_url(k->url);
	if (!k->shown)
		return fail(k, -EINVAL, "base_url is not a valid URL");
	k->key = env && *env ? getenv(env) : NULL;
	if (k->key && !*k->key)
		k->key = NULL;
	for (p = k->key; p && *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f) {
			k->key = NULL;
			return fail(k, -EINVAL, "the API key in $%s holds spaces or control characters",
				    env);
		}
	if ((rc = add_header(k, "Content-Type: application/json")) < 0 ||
	    (rc = add_header(k, "Accept: application/json")) < 0 ||
	    (rc = add_header(k, "Expect:")) < 0)
		return rc;
	if (k->key) {
		if (asprintf(&auth, "Authorization: Bearer %s", k->key) < 0)
			return -ENOMEM;
		rc = add_header(k, auth);
		free(auth);
		if (rc < 0)
			return rc;
	}
	if (!(k->h = curl_easy_init()))
		return -ENOMEM;
	if (curl_easy_setopt(k->h, CURLOPT_URL, k->url) != CURLE_OK)
		return fail(k, -EINVAL, "base_url is not a valid URL");
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(k->h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(k->h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(k->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(k->h, CURLOPT_HTTPHEADER, k->headers);
	curl_easy_setopt(k->h, CURLOPT_USERAGENT, "doctor/" PACKAGE_VERSION);
	curl_easy_setopt(k->h, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(k->h, CURLOPT_TIMEOUT_MS, (long)timeout);
	curl_easy_setopt(k->h, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)(timeout < EMBED_CONNECT_TIMEOUT_MS ? timeout
							    : EMBED_CONNECT_TIMEOUT_MS));
	curl_easy_setopt(k->h, CURLOPT_ERRORBUFFER, k->curl_err);
	curl_easy_setopt(k->h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(k->h, CURLOPT_HEADERFUNCTION, on_header);
	return 0;
}

/* ============================================================ one attempt */

/* The errno for an HTTP status that is not 2xx, and whether to retry. */
static int status_errno(long status, bool *retry)
{
	*retry = status == 429 || status == 500 || status == 502 || status == 503 ||
		 status == 504;
	switch (status) {
	case 400: return -EINVAL;
	case 401: case 403: return -EACCES;
	case 404: return -ENOENT;
	case 408: return -ETIMEDOUT;
	case 413: return -EMSGSIZE;
	case 429: return -EAGAIN;
	default: return status >= 500 ? -EIO : status >= 400 ? -EINVAL : -EPROTO;
	}
}

/* The errno for a transfer that failed, and whether to retry. */
static int curl_errno(struct call *k, CURLcode cc, bool *retry)
{
	long os = 0;

	*retry = false;
	switch (cc) {
	case CURLE_COULDNT_CONNECT:
		*retry = true;
		curl_easy_getinfo(k->h, CURLINFO_OS_ERRNO, &os);
		return os > 0 ? -(int)os : -ECONNREFUSED;
	case CURLE_SEND_ERROR: case CURLE_RECV_ERROR: case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
		*retry = true;
		return -EIO;
	case CURLE_COULDNT_RESOLVE_HOST: case CURLE_COULDNT_RESOLVE_PROXY:
		return -EHOSTUNREACH;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_URL_MALFORMAT: case CURLE_UNSUPPORTED_PROTOCOL:
		return -EINVAL;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	default:
		return -EIO;
	}
}

/* Send body once. 0 with the rows filled; else a negative errno with the
 * message set, *retry telling whether another attempt may help and
 * *retry_ms what the server asked to wait (-1: nothing). */
static int attempt(struct call *k, const char *body, size_t first, size_t count,
		   bool *retry, long *retry_ms)
{
	struct answer a = { .retry_after_ms = -1 };
	CURLcode cc;
	const char *var = k->c->api_key_env && *k->c->api_key_env ? k->c->api_key_env : NULL;
	long status = 0;
	char *text, *why = NULL;
	int rc;

	*retry = false;
	k->curl_err[0] = '\0';
	curl_easy_setopt(k->h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(k->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	curl_easy_setopt(k->h, CURLOPT_WRITEDATA, &a);
	curl_easy_setopt(k->h, CURLOPT_HEADERDATA, &a);
	cc = curl_easy_perform(k->h);
	*retry_ms = a.retry_after_ms;
	if (cc != CURLE_OK) {
		if (a.too_big)
			rc = fail(k, -EMSGSIZE, "the answer is larger than %u MiB",
				  EMBED_MAX_RESPONSE_BYTES >> 20);
		else if (a.nomem)
			rc = -ENOMEM;
		else
			rc = fail(k, curl_errno(k, cc, retry), "%s",
				  k->curl_err[0] ? k->curl_err : curl_easy_strerror(cc));
		goto out;
	}
	curl_easy_getinfo(k->h, CURLINFO_RESPONSE_CODE, &status);
	if (status >= 200 && status < 300) {
		rc = embed_wire_answer(a.p, a.len, first, count, &k->rows, &why);
		if (rc < 0 && why)
			fail(k, rc, "%s", why);
		free(why);
		goto out;
	}
	rc = status_errno(status, retry);
	/* OpenAI's "You exceeded your current quota" is a 429 too, but no
	 * wait ends it: not retried. */
	if (status == 429 && a.p && memmem(a.p, a.len, "insufficient_quota", 18))
		*retry = false;
	text = a.p ? embed_wire_error_text(a.p, a.len) : NULL;
	if (status >= 300 && status < 400)
		fail(k, rc, "HTTP %ld (redirects are not followed: check base_url)", status);
	else if (status == 401 && !k->key)
		fail(k, rc, "HTTP 401: %s (no API key was sent: %s%s%s)",
		     text ? text : "unauthorized", var ? "$" : "api_key_env is not configured",
		     var ? var : "", var ? " is not set" : "");
	else
		fail(k, rc, "HTTP %ld: %s", status, text ? text : "(no message)");
	free(text);
out:
	free(a.p);
	return rc;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Embed texts[0..count) into rows first.. with retries. */
static int embed_batch(struct call *k, const char *const *texts, size_t first, size_t count)
{
	char *body = embed_wire_request(k->c->model, texts + first, count, k->c->dimensions,
					k->c->base64), *msg;
	long retry_ms, wait;
	bool retry;
	int rc;

	if (!body)
		return -ENOMEM;
	for (k->attempts = 1;; k->attempts++) {
		rc = attempt(k, body, first, count, &retry, &retry_ms);
		if (rc == 0 || !retry || k->attempts == EMBED_MAX_ATTEMPTS)
			break;
		if (retry_ms > EMBED_RETRY_AFTER_MAX_MS) {
			if (k->err && asprintf(&msg, "%s; the server asks to wait %ld s, more "
					       "than doctor waits", k->err, retry_ms / 1000) >= 0) {
				free(k->err);
				k->err = msg;
			}
			break;
		}
		wait = retry_ms >= 0 ? retry_ms : backoff_ms[k->attempts - 1];
		sleep_ms(wait);
	}
	free(body);
	if (rc < 0 && k->attempts > 1 && k->err &&
	    asprintf(&msg, "%s (after %d attempts)", k->err, k->attempts) >= 0) {
		free(k->err);
		k->err = msg;
	}
	return rc;
}

/* ================================================================== entry */

int embed_texts(const struct embed_config *c, const char *const *texts, size_t n,
		float **out, size_t *dim, char **err)
{
	struct call k = { 0 };
	size_t first, count, batch, i;
	int rc;

	*out = NULL;
	*dim = 0;
	if (err)
		*err = NULL;
	if (n == 0)
		return 0;
	k.rows.total = n;
	if (!embed_enabled(c)) {
		rc = fail(&k, -EINVAL, "no endpoint configured (base_url and model)");
		goto out;
	}
	for (i = 0; i < n; i++)
		if (!texts[i]) {
			rc = fail(&k, -EINVAL, "text %zu is NULL", i);
			goto out;
		}
	if ((rc = embed_global_init()) < 0) {
		fail(&k, rc, "libcurl could not be initialised");
		goto out;
	}
	if ((rc = call_open(&k, c)) < 0)
		goto out;
	batch = c->batch ? c->batch : EMBED_DEFAULT_BATCH;
	if (batch > EMBED_MAX_BATCH)
		batch = EMBED_MAX_BATCH;
	for (first = 0; first < n && rc == 0; first += count) {
		count = n - first < batch ? n - first : batch;
		rc = embed_batch(&k, texts, first, count);
	}
	if (rc == 0) {
		*out = k.rows.data;
		*dim = k.rows.dim;
		k.rows.data = NULL;
	}
out:
	if (rc < 0 && err) {
		if (!k.err)
			fail(&k, rc, "%s", strerror(-rc));
		*err = k.err;
		k.err = NULL;
	}
	call_release(&k);
	return rc;
}
