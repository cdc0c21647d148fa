/*
 * embed.c - the blocking /v1/embeddings client: builds each batch's JSON
 * request, sends it with libcurl's easy interface (retrying what a retry
 * can cure), reads the vectors back in either encoding and in the order of
 * data[].index, and turns every way the OpenAI-compatible world reports a
 * failure into a negative errno and one line for the user that never
 * holds the API key. See embed.h for the contract.
 */
#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <math.h>
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
#include "utf8.h"
#include "vectors.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0.1.0"
#endif

#define DEFAULT_BATCH 64
#define MAX_BATCH 2048            /* OpenAI's limit on inputs per request */
#define DEFAULT_TIMEOUT_MS 30000
#define CONNECT_TIMEOUT_MS 10000
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

/* A copy of s[0..len) that is valid UTF-8 (each invalid byte becomes
 * U+FFFD) and at most cap bytes long, cut between characters. Only the
 * first cap + 4 bytes can reach the result, so only they are repaired (a
 * character starting before cap is whole in them). Newly allocated; NULL
 * on ENOMEM. */
static char *clean_text(const char *s, size_t len, size_t cap)
{
	size_t olen, take = len > cap && len - cap > 4 ? cap + 4 : len;
	char *out = utf8_repair(s, take, &olen);

	if (out && olen > cap) {
		while (cap > 0 && ((unsigned char)out[cap] & 0xc0) == 0x80)
			cap--;
		out[cap] = '\0';
	}
	return out;
}

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
	float *vecs;                 /* n x dim, filled batch by batch; owned */
	size_t n, dim;
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
	free(k->vecs);
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
	unsigned timeout = c->timeout_ms ? c->timeout_ms : DEFAULT_TIMEOUT_MS;
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
			 (long)(timeout < CONNECT_TIMEOUT_MS ? timeout : CONNECT_TIMEOUT_MS));
	curl_easy_setopt(k->h, CURLOPT_ERRORBUFFER, k->curl_err);
	curl_easy_setopt(k->h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(k->h, CURLOPT_HEADERFUNCTION, on_header);
	return 0;
}

/* ============================================================ the request */

/* The JSON body for texts[0..count); newly allocated, NULL on ENOMEM. */
static char *request_body(const struct embed_config *c, const char *const *texts,
			  size_t count)
{
	json_t *req = json_object(), *input = json_array(), *s;
	char *clean, *body = NULL;
	size_t i;

	if (!req || !input)
		goto out;
	for (i = 0; i < count; i++) {
		clean = clean_text(texts[i], strlen(texts[i]), EMBED_MAX_INPUT_BYTES);
		if (!clean)
			goto out;
		s = json_string(*clean ? clean : " ");
		free(clean);
		if (!s || json_array_append_new(input, s) < 0)
			goto out;
	}
	if (json_object_set_new(req, "model", json_string(c->model)) < 0 ||
	    json_object_set(req, "input", input) < 0 ||
	    json_object_set_new(req, "encoding_format",
				json_string(c->base64 ? "base64" : "float")) < 0 ||
	    (c->dimensions > 0 &&
	     json_object_set_new(req, "dimensions", json_integer(c->dimensions)) < 0))
		goto out;
	body = json_dumps(req, JSON_COMPACT);
out:
	json_decref(input);
	json_decref(req);
	return body;
}

/* ============================================================= the answer */

static int b64_value(unsigned char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+' || ch == '-')
		return 62;
	if (ch == '/' || ch == '_')
		return 63;
	return -1;
}

/* Decode base64 s[0..len) (standard or URL alphabet, padding optional)
 * into *out (newly allocated) of *outlen bytes. -EINVAL, -ENOMEM. */
static int b64_decode(const char *s, size_t len, unsigned char **out, size_t *outlen)
{
	unsigned char *o;
	uint32_t acc = 0;
	size_t i, n = 0, bits = 0;
	int v;

	while (len && s[len - 1] == '=')
		len--;
	if (len % 4 == 1)
		return -EINVAL;
	if (!(o = malloc(len / 4 * 3 + 3)))
		return -ENOMEM;
	for (i = 0; i < len; i++) {
		if ((v = b64_value((unsigned char)s[i])) < 0) {
			free(o);
			return -EINVAL;
		}
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			o[n++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	*out = o;
	*outlen = n;
	return 0;
}

/* The dimension of an answer's vector: the first one fixes it. */
static int check_dim(struct call *k, size_t d)
{
	if (d == 0)
		return fail(k, -EPROTO, "the answer holds an empty embedding");
	if (k->dim == 0) {
		if (d > SIZE_MAX / sizeof(float) / k->n)
			return -ENOMEM;
		if (!(k->vecs = malloc(k->n * d * sizeof(float))))
			return -ENOMEM;
		k->dim = d;
	} else if (d != k->dim) {
		return fail(k, -EPROTO, "the answer mixes embeddings of %zu and %zu dimensions",
			    k->dim, d);
	}
	return 0;
}

/* Store the embedding of item i (whose data[].index is row) in row first + row. */
static int read_embedding(struct call *k, json_t *emb, size_t i, size_t row)
{
	unsigned char *bytes = NULL;
	size_t len, j;
	float *dest;
	double v;
	int rc;

	if (json_is_array(emb)) {
		if ((rc = check_dim(k, json_array_size(emb))) < 0)
			return rc;
		dest = k->vecs + row * k->dim;
		for (j = 0; j < k->dim; j++) {
			v = json_number_value(json_array_get(emb, j));
			if (!json_is_number(json_array_get(emb, j)) || !(fabs(v) <= FLT_MAX))
				return fail(k, -EPROTO, "data[%zu].embedding[%zu] is not a float32 "
					    "number", i, j);
			dest[j] = (float)v;
		}
		return 0;
	}
	if (!json_is_string(emb))
		return fail(k, -EPROTO, "data[%zu].embedding is neither numbers nor base64", i);
	rc = b64_decode(json_string_value(emb), json_string_length(emb), &bytes, &len);
	if (rc == -ENOMEM)
		return rc;
	if (rc < 0 || len % 4)
		rc = fail(k, -EPROTO, "data[%zu].embedding is not base64 of float32 values", i);
	else if ((rc = check_dim(k, len / 4)) == 0 &&
		 vec_decode(bytes, len, k->vecs + row * k->dim, k->dim) < 0)
		rc = fail(k, -EPROTO, "data[%zu].embedding holds values that are not finite", i);
	free(bytes);
	return rc;
}

/* The server's own words in an error answer, or NULL: the forms are
 * {"error": {"message", "type", "code"}} (OpenAI), {"error": "..."}
 * (Ollama, llama.cpp), {"message": ..., "type", "code"} (vLLM) and
 * {"detail": "..." | [{"msg"}...]} (FastAPI). Newly allocated. */
static char *json_error_text(json_t *root)
{
	json_t *e = json_object_get(root, "error"), *d, *m, *code, *type;
	char *text = NULL, *detail;
	const char *msg = NULL, *tag = NULL;
	char num[32];
	size_t i;

	if (json_is_object(e)) {
		msg = json_string_value(json_object_get(e, "message"));
		code = json_object_get(e, "code");
		type = json_object_get(e, "type");
	} else if (json_is_string(e)) {
		return strdup(json_string_value(e));
	} else {
		msg = json_string_value(json_object_get(root, "message"));
		code = json_object_get(root, "code");
		type = json_object_get(root, "type");
	}
	if (json_is_string(code))
		tag = json_string_value(code);
	else if (json_is_string(type))
		tag = json_string_value(type);
	else if (json_is_integer(code)) {
		snprintf(num, sizeof num, "%lld", (long long)json_integer_value(code));
		tag = num;
	}
	if (msg) {
		if (tag && asprintf(&text, "%s (%s)", msg, tag) >= 0)
			return text;
		return strdup(msg);
	}
	d = json_object_get(root, "detail");
	if (json_is_string(d))
		return strdup(json_string_value(d));
	if (json_is_array(d)) {
		json_array_foreach(d, i, m) {
			msg = json_string_value(json_object_get(m, "msg"));
			if (!msg)
				continue;
			if (text) {
				if (asprintf(&detail, "%s; %s", text, msg) < 0)
					break;
				free(text);
				text = detail;
			} else {
				text = strdup(msg);
			}
		}
		if (text)
			return text;
	}
	if (d || e)
		return json_dumps(d ? d : e, JSON_COMPACT | JSON_ENCODE_ANY);
	return NULL;
}

/* What a body that is not JSON says: the <title> of an HTML page (proxies
 * answer 502 with one), else the text without tags. Newly allocated. */
static char *plain_error_text(const char *body, size_t len)
{
	const char *t = NULL, *e;
	char *out, *o;
	size_t i;
	bool tag = false;

	if (len > 8192)
		len = 8192;
	if ((t = memmem(body, len, "<title>", 7)) &&
	    (e = memmem(t + 7, len - (size_t)(t + 7 - body), "</title>", 8)) && e > t + 7)
		return strndup(t + 7, (size_t)(e - t - 7));
	if (!(out = malloc(len + 1)))
		return NULL;
	for (o = out, i = 0; i < len && body[i]; i++) {
		if (body[i] == '<')
			tag = true;
		else if (body[i] == '>' && tag)
			tag = false, *o++ = ' ';
		else if (!tag)
			*o++ = body[i];
	}
	*o = '\0';
	return out;
}

/* The server's words in the body, or NULL when it has none. */
static char *error_text(const struct answer *a)
{
	json_t *root = a->len ? json_loadb(a->p, a->len, 0, NULL) : NULL;
	char *text;

	if (root) {
		text = json_error_text(root);
		json_decref(root);
		return text;
	}
	if (!a->len)
		return NULL;
	text = plain_error_text(a->p, a->len);
	/* Only white space, or tags alone. */
	if (text && !text[strspn(text, " \t\r\n")]) {
		free(text);
		return NULL;
	}
	return text;
}

/* Read a 2xx answer into rows first..first+count. */
static int read_answer(struct call *k, const struct answer *a, size_t first, size_t count)
{
	json_t *root, *data, *item, *idx;
	json_error_t jerr;
	bool *seen = NULL;
	size_t i, row;
	char *text;
	int rc = 0;

	if (!(root = json_loadb(a->p ? a->p : "", a->len, 0, &jerr)))
		return fail(k, -EPROTO, "the answer is not JSON (%s)", jerr.text);
	data = json_object_get(root, "data");
	if (!json_is_array(data)) {
		text = json_object_get(root, "error") ? json_error_text(root) : NULL;
		rc = text ? fail(k, -EIO, "%s", text)
			  : fail(k, -EPROTO, "the answer has no \"data\" array");
		free(text);
		goto out;
	}
	if (json_array_size(data) != count) {
		rc = fail(k, -EPROTO, "the server returned %zu embeddings for %zu inputs",
			  json_array_size(data), count);
		goto out;
	}
	if (!(seen = calloc(count, sizeof *seen))) {
		rc = -ENOMEM;
		goto out;
	}
	json_array_foreach(data, i, item) {
		idx = json_object_get(item, "index");
		if (!idx)
			row = i;
		else if (json_is_integer(idx) && json_integer_value(idx) >= 0 &&
			 (json_int_t)json_integer_value(idx) < (json_int_t)count)
			row = (size_t)json_integer_value(idx);
		else
			row = count;
		if (row >= count || seen[row]) {
			rc = fail(k, -EPROTO, "data[%zu].index is out of range or repeated", i);
			goto out;
		}
		seen[row] = true;
		if ((rc = read_embedding(k, json_object_get(item, "embedding"), i, first + row)) < 0)
			goto out;
	}
out:
	free(seen);
	json_decref(root);
	return rc;
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
	char *text;
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
		rc = read_answer(k, &a, first, count);
		goto out;
	}
	rc = status_errno(status, retry);
	/* OpenAI's "You exceeded your current quota" is a 429 too, but no
	 * wait ends it: not retried. */
	if (status == 429 && a.p && memmem(a.p, a.len, "insufficient_quota", 18))
		*retry = false;
	text = error_text(&a);
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
	char *body = request_body(k->c, texts + first, count), *msg;
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
	k.n = n;
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
	batch = c->batch ? c->batch : DEFAULT_BATCH;
	if (batch > MAX_BATCH)
		batch = MAX_BATCH;
	for (first = 0; first < n && rc == 0; first += count) {
		count = n - first < batch ? n - first : batch;
		rc = embed_batch(&k, texts, first, count);
	}
	if (rc == 0) {
		*out = k.vecs;
		*dim = k.dim;
		k.vecs = NULL;
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
