/*
 * llm_error.c - what went wrong with an LLM request, said in one line for
 * the user, and whether (and when) to try again.
 *
 * Servers report errors in many shapes: OpenAI's {"error": {message, type,
 * code, param}}, Ollama's {"error": "text"}, vLLM's top-level {"object":
 * "error", "message", "type", "code"}, FastAPI's {"detail": ...}, Gemini's
 * one-element array around an error object, an HTML page from a proxy, or
 * nothing at all. All become a struct llm_error whose message reads like
 * "HTTP 429 rate_limit_exceeded: Rate limit reached ... (retry after 2 s)":
 * one line, at most ERR_TEXT_MAX bytes of the server's words, with
 * anything that looks like an API key blanked out.
 *
 * The retry policy: which failures are transient (408, 409, 429 but not an
 * exhausted quota, 5xx, connection trouble, timeouts, cut streams), the
 * server's Retry-After / retry-after-ms honoured up to a cap, otherwise
 * exponential backoff with jitter drawn from a caller-kept xorshift state.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "llm_wire_internal.h"

#define ERR_TEXT_MAX 300            /* bytes of the server's text kept */
#define RETRY_AFTER_MAX_MS 1000000000000.0   /* clamp absurd values */

/* ---------------------------------------------------------------- names */

const char *llm_error_kind_name(enum llm_error_kind kind)
{
	switch (kind) {
	case LLM_ERR_NONE: return "none";
	case LLM_ERR_HTTP: return "http";
	case LLM_ERR_API: return "api";
	case LLM_ERR_CONNECT: return "connect";
	case LLM_ERR_TIMEOUT: return "timeout";
	case LLM_ERR_TRUNCATED: return "truncated";
	case LLM_ERR_PROTOCOL: return "protocol";
	case LLM_ERR_CANCELLED: return "cancelled";
	case LLM_ERR_TOO_LARGE: return "too_large";
	}
	return "unknown";
}

static const char *reason_phrase(int status)
{
	switch (status) {
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 402: return "Payment Required";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 422: return "Unprocessable Entity";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 529: return "Overloaded";
	}
	return status >= 500 ? "server error" : "no details";
}

void llm_error_release(struct llm_error *e)
{
	if (!e)
		return;
	free(e->message);
	free(e->type);
	free(e->code);
	memset(e, 0, sizeof(*e));
	e->retry_after_ms = -1;
}

/* ---------------------------------------------------------------- one line */

static bool key_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '-' || c == '*';
}

/* Blank what looks like a secret: "sk-" keys (OpenAI, Anthropic,
 * OpenRouter; masked or not) and bearer tokens. In place; only shrinks. */
static void redact(char *s)
{
	static const char *const prefixes[] = { "sk-", "Bearer " };
	const size_t min_tail = 16;
	size_t i, p, tail, plen;

	for (i = 0; s[i]; i++) {
		for (p = 0; p < sizeof(prefixes) / sizeof(prefixes[0]); p++) {
			plen = strlen(prefixes[p]);
			if (strncmp(s + i, prefixes[p], plen) != 0 ||
			    (i > 0 && (isalnum((unsigned char)s[i - 1]) || s[i - 1] == '-')))
				continue;
			for (tail = 0; key_char(s[i + plen + tail]); tail++)
				;
			if (tail < min_tail)
				continue;
			memcpy(s + i + plen, "[redacted]", 10);
			memmove(s + i + plen + 10, s + i + plen + tail,
				strlen(s + i + plen + tail) + 1);
			i += plen + 9;
			break;
		}
	}
}

/* Cut s to at most max bytes on a UTF-8 character boundary, marking the
 * cut with "...". In place. */
static void cap_text(char *s, size_t max)
{
	size_t len = strlen(s), cut;

	if (len <= max)
		return;
	cut = max - 3;
	while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80)
		cut--;
	while (cut > 0 && s[cut - 1] == ' ')
		cut--;
	memcpy(s + cut, "...", 4);
}

/* text[0..len) as one line (control characters and runs of white space
 * become one space), secrets blanked, at most ERR_TEXT_MAX bytes. A new
 * string (the caller frees it), or NULL (ENOMEM). */
static char *one_line(const char *text, size_t len)
{
	char *out = malloc(len + 1);
	size_t i, n = 0;
	bool space = false;

	if (!out)
		return NULL;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];

		if (c < 0x20 || c == 0x7f || c == ' ') {
			space = n > 0;
			continue;
		}
		if (space)
			out[n++] = ' ';
		space = false;
		out[n++] = (char)c;
	}
	out[n] = '\0';
	redact(out);
	cap_text(out, ERR_TEXT_MAX);
	return out;
}

/* ---------------------------------------------------------------- bodies */

/* What an HTML error page says: its <title>, else its text without tags. */
static char *html_text(const char *body, size_t len)
{
	const char *end = body + len, *t, *close;
	char *text, *o;
	bool in_tag = false;

	for (t = body; t + 7 <= end; t++) {
		if (strncasecmp(t, "<title>", 7) != 0)
			continue;
		for (close = t + 7; close + 8 <= end; close++)
			if (strncasecmp(close, "</title>", 8) == 0)
				break;
		if (close + 8 <= end && close > t + 7)
			return one_line(t + 7, (size_t)(close - t - 7));
		break;
	}
	text = malloc(len + 1);
	if (!text)
		return NULL;
	for (o = text, t = body; t < end; t++) {
		if (*t == '<')
			in_tag = true;
		else if (*t == '>' && in_tag)
			in_tag = false, *o++ = ' ';
		else if (!in_tag)
			*o++ = *t;
	}
	o = one_line(text, (size_t)(o - text));
	free(text);
	return o;
}

static bool looks_like_html(const char *body, size_t len)
{
	while (len > 0 && isspace((unsigned char)*body))
		body++, len--;
	return len > 0 && *body == '<';
}

/* FastAPI's "detail": a string, or validation errors [{loc, msg}] told as
 * "body.messages.0.content: Field required; ...". */
static char *detail_text(json_t *detail)
{
	char *buf = NULL, *text;
	size_t size = 0, i, j;
	json_t *item, *part;
	FILE *f;

	if (json_is_string(detail))
		return one_line(json_string_value(detail), json_string_length(detail));
	f = open_memstream(&buf, &size);
	if (!f)
		return NULL;
	if (json_is_array(detail)) {
		json_array_foreach(detail, i, item) {
			const char *msg = json_string_value(json_object_get(item, "msg"));

			fputs(i ? "; " : "", f);
			json_array_foreach(json_object_get(item, "loc"), j, part) {
				if (json_is_string(part))
					fprintf(f, "%s%s", j ? "." : "", json_string_value(part));
				else if (json_is_integer(part))
					fprintf(f, "%s%lld", j ? "." : "",
						(long long)json_integer_value(part));
			}
			fprintf(f, "%s%s", json_object_get(item, "loc") ? ": " : "",
				msg ? msg : "invalid");
		}
	} else {
		json_dumpf(detail, f, JSON_COMPACT);
	}
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	text = one_line(buf, size);
	free(buf);
	return text;
}

static int set_str(char **dst, const char *s)
{
	free(*dst);
	*dst = s ? strdup(s) : NULL;
	return s && !*dst ? -ENOMEM : 0;
}

/* An error object's code: a string, or a number told in digits. */
static int set_code(struct llm_error *e, json_t *code)
{
	char num[32];

	if (json_is_string(code) && json_string_length(code) > 0)
		return set_str(&e->code, json_string_value(code));
	if (json_is_integer(code)) {
		snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(code));
		return set_str(&e->code, num);
	}
	return 0;
}

/* {message, type, code, status?, metadata.raw?} (OpenAI, vLLM, Azure,
 * LiteLLM, Gemini's "status" word, OpenRouter's provider text). */
static int from_object(json_t *o, struct llm_error *e, char **text)
{
	json_t *type = json_object_get(o, "type"), *raw;
	const char *msg = json_string_value(json_object_get(o, "message"));
	char *joined = NULL;
	int rc;

	if (!json_is_string(type) || json_string_length(type) == 0)
		type = json_object_get(o, "status");
	rc = set_str(&e->type, json_is_string(type) && json_string_length(type) > 0 ?
		     json_string_value(type) : NULL);
	if (rc == 0)
		rc = set_code(e, json_object_get(o, "code"));
	if (rc < 0)
		return rc;
	raw = json_object_get(json_object_get(o, "metadata"), "raw");
	if (msg && json_is_string(raw) && strcmp(json_string_value(raw), msg) != 0) {
		if (asprintf(&joined, "%s: %s", msg, json_string_value(raw)) < 0)
			return -ENOMEM;
		msg = joined;
	}
	*text = msg ? one_line(msg, strlen(msg)) : NULL;
	rc = msg && !*text ? -ENOMEM : 0;
	free(joined);
	return rc;
}

bool llm_error_json_is_error(json_t *body)
{
	json_t *err;

	if (json_is_array(body) && json_array_size(body) == 1)
		body = json_array_get(body, 0);     /* Gemini */
	if (!json_is_object(body))
		return false;
	err = json_object_get(body, "error");
	if (err && !json_is_null(err))
		return true;
	if (json_object_get(body, "detail"))
		return true;
	if (json_is_string(json_object_get(body, "object")) &&
	    strcmp(json_string_value(json_object_get(body, "object")), "error") == 0)
		return true;
	return !json_object_get(body, "choices") &&
	       json_is_string(json_object_get(body, "message"));
}

/* The server's words about the error in root, with type and code. */
static int extract(json_t *root, struct llm_error *e, char **text)
{
	json_t *err;
	char *dump;

	*text = NULL;
	if (json_is_array(root) && json_array_size(root) == 1)
		root = json_array_get(root, 0);
	err = json_object_get(root, "error");
	if (json_is_string(err)) {
		*text = one_line(json_string_value(err), json_string_length(err));
	} else if (json_is_object(err)) {
		return from_object(err, e, text);
	} else if (json_object_get(root, "detail")) {
		*text = detail_text(json_object_get(root, "detail"));
	} else if (json_is_string(json_object_get(root, "message"))) {
		return from_object(root, e, text);
	} else {
		dump = json_dumps(root, JSON_COMPACT);
		if (!dump)
			return -ENOMEM;
		*text = one_line(dump, strlen(dump));
		free(dump);
	}
	return *text ? 0 : -ENOMEM;
}

/* ---------------------------------------------------------------- message */

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

/* e->message: "HTTP 429 rate_limit_exceeded: text (retry after 2 s)". */
static int compose(struct llm_error *e, const char *text)
{
	const char *label = e->code && !all_digits(e->code) ? e->code : e->type;
	char head[48], wait[48] = "";
	int n;

	if (e->kind == LLM_ERR_HTTP)
		snprintf(head, sizeof(head), "HTTP %d", e->status);
	else
		snprintf(head, sizeof(head), "API error");
	if (!text || !*text)
		text = e->kind == LLM_ERR_HTTP ? reason_phrase(e->status) : "no details";
	if (e->retry_after_ms >= 0 && e->retry_after_ms % 1000 == 0)
		snprintf(wait, sizeof(wait), " (retry after %ld s)", e->retry_after_ms / 1000);
	else if (e->retry_after_ms >= 0)
		snprintf(wait, sizeof(wait), " (retry after %.1f s)",
			 (double)e->retry_after_ms / 1000.0);
	free(e->message);
	n = asprintf(&e->message, "%s%s%.40s: %s%s", head, label ? " " : "",
		     label ? label : "", text, wait);
	if (n < 0) {
		e->message = NULL;
		return -ENOMEM;
	}
	return 0;
}

int llm_error_from_json(enum llm_error_kind kind, int status, json_t *body,
			struct llm_error *e)
{
	char *text = NULL;
	int rc;

	llm_error_release(e);
	e->kind = kind;
	e->status = status;
	rc = extract(body, e, &text);
	if (rc == 0)
		rc = compose(e, text);
	free(text);
	return rc;
}

int llm_error_setf(struct llm_error *e, enum llm_error_kind kind, int status,
		   const char *fmt, ...)
{
	char *raw = NULL;
	va_list ap;
	int n;

	llm_error_release(e);
	e->kind = kind;
	e->status = status;
	va_start(ap, fmt);
	n = vasprintf(&raw, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	e->message = one_line(raw, (size_t)n);
	free(raw);
	return e->message ? 0 : -ENOMEM;
}

/* ---------------------------------------------------------------- Retry-After */

/* "120", "1.5" -> milliseconds (scale 1000 for seconds, 1 for ms); -1. */
static long parse_number(const char *s, double scale)
{
	char *end;
	double v;

	while (isspace((unsigned char)*s))
		s++;
	if (!isdigit((unsigned char)*s))
		return -1;
	v = strtod(s, &end);
	while (isspace((unsigned char)*end))
		end++;
	if (*end || v < 0)
		return -1;
	v *= scale;
	return (long)(v > RETRY_AFTER_MAX_MS ? RETRY_AFTER_MAX_MS : v + 0.5);
}

/* An HTTP date (IMF-fixdate, or the obsolete RFC 850 and asctime forms)
 * -> milliseconds from now, 0 when past; -1 if not a date. */
static long parse_http_date(const char *s)
{
	static const char *const formats[] = {
		"%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y",
	};
	struct tm tm;
	const char *end;
	size_t i;
	time_t when, now = time(NULL);

	while (isspace((unsigned char)*s))
		s++;
	for (i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		memset(&tm, 0, sizeof(tm));
		end = strptime(s, formats[i], &tm);
		if (!end)
			continue;
		while (isspace((unsigned char)*end))
			end++;
		if (*end)
			continue;
		when = timegm(&tm);
		if (when == (time_t)-1)
			return -1;
		return when <= now ? 0 : (long)(when - now) * 1000;
	}
	return -1;
}

static long retry_after(const char *seconds_or_date, const char *ms)
{
	long v = ms ? parse_number(ms, 1.0) : -1;

	if (v >= 0 || !seconds_or_date)
		return v;
	v = parse_number(seconds_or_date, 1000.0);
	return v >= 0 ? v : parse_http_date(seconds_or_date);
}

/* ---------------------------------------------------------------- HTTP */

int llm_error_from_http(int status, const char *body, size_t len, const char *retry_after_s,
			const char *retry_after_ms, struct llm_error *e)
{
	json_t *root = body && len ? json_loadb(body, len, 0, NULL) : NULL;
	char *text = NULL;
	int rc = 0;

	llm_error_release(e);
	e->kind = status >= 400 || status < 200 ? LLM_ERR_HTTP : LLM_ERR_API;
	e->status = status;
	e->retry_after_ms = retry_after(retry_after_s, retry_after_ms);
	if (json_is_object(root) || json_is_array(root)) {
		rc = extract(root, e, &text);
	} else if (body && len > 0) {
		text = looks_like_html(body, len) ? html_text(body, len) : one_line(body, len);
		rc = text ? 0 : -ENOMEM;
	}
	if (rc == 0)
		rc = compose(e, text);
	free(text);
	json_decref(root);
	return rc;
}

/* ---------------------------------------------------------------- retries */

static bool is_quota(const struct llm_error *e)
{
	return (e->type && strcmp(e->type, "insufficient_quota") == 0) ||
	       (e->code && strcmp(e->code, "insufficient_quota") == 0);
}

static bool status_retryable(long status)
{
	return status == 408 || status == 409 || status == 429 ||
	       (status >= 500 && status <= 599);
}

static bool word_retryable(const char *w)
{
	static const char *const words[] = {
		"server_error", "overloaded_error", "rate_limit_error", "rate_limit_exceeded",
	};
	size_t i;

	for (i = 0; w && i < sizeof(words) / sizeof(words[0]); i++)
		if (strcmp(w, words[i]) == 0)
			return true;
	return false;
}

bool llm_error_retryable(const struct llm_error *e)
{
	switch (e->kind) {
	case LLM_ERR_CONNECT:
	case LLM_ERR_TIMEOUT:
	case LLM_ERR_TRUNCATED:
		return true;
	case LLM_ERR_HTTP:
		return status_retryable(e->status) && !is_quota(e);
	case LLM_ERR_API:
		if (is_quota(e))
			return false;
		return (e->code && all_digits(e->code) && status_retryable(atol(e->code))) ||
		       word_retryable(e->code) || word_retryable(e->type);
	default:
		return false;
	}
}

/* xorshift64: the next value of the caller's state (never left at 0). */
static uint64_t next_random(uint64_t *state)
{
	uint64_t x = *state ? *state : 0x9E3779B97F4A7C15ull;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*state = x;
	return x;
}

long llm_backoff_ms(const struct llm_error *e, unsigned attempt, long base_ms, long cap_ms,
		    uint64_t *seed)
{
	long d = base_ms > 0 ? base_ms : 1, low;
	unsigned i;

	if (cap_ms < 1)
		cap_ms = 1;
	if (e && e->retry_after_ms >= 0)
		return e->retry_after_ms > cap_ms ? -1 : e->retry_after_ms;
	for (i = 1; i < attempt && d < cap_ms; i++)
		d = d > LONG_MAX / 2 ? LONG_MAX : d * 2;
	if (d > cap_ms)
		d = cap_ms;
	low = d / 2;
	return low + (long)(next_random(seed) % (uint64_t)(d - low + 1));
}
