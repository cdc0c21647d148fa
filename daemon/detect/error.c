/*
 * error.c - the dr_error object: construction, freeing, JSON view.
 *
 * Strings in an error come from program output and are "UTF-8 as
 * received", which may not be UTF-8 at all. jansson only accepts valid
 * UTF-8, so the JSON view replaces bad bytes with U+FFFD rather than drop
 * the field.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "detect_internal.h"

char *dr__strndup(const char *s, size_t n)
{
	char *d = malloc(n + 1);

	if (!d)
		return NULL;
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

dr_error *dr__error_new(const char *detector, const char *exception,
                        const char *message)
{
	dr_error *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->detector = strdup(detector);
	e->exception = strdup(exception);
	e->message = strdup(message ? message : "");
	e->text = strdup("");
	e->raw = strdup("");
	if (!e->detector || !e->exception || !e->message || !e->text || !e->raw) {
		dr_error_free(e);
		return NULL;
	}
	return e;
}

void dr_error_free(dr_error *e)
{
	size_t i;

	if (!e)
		return;
	free(e->detector);
	free(e->exception);
	free(e->message);
	for (i = 0; i < e->nframes; i++) {
		free(e->frames[i].file);
		free(e->frames[i].func);
	}
	free(e->frames);
	for (i = 0; i < e->nchain; i++)
		free(e->chain[i]);
	free(e->chain);
	free(e->text);
	free(e->raw);
	json_decref(e->extra);
	free(e);
}

/* Length of the valid UTF-8 sequence at p (at most n bytes), 0 if invalid. */
static size_t utf8_valid_len(const unsigned char *p, size_t n)
{
	size_t len, i;
	unsigned cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2, cp = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3, cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4, cp = p[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	/* overlong forms, surrogates, beyond U+10FFFF */
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

/* A JSON string of s with invalid UTF-8 replaced; NULL on out of memory. */
static json_t *json_text(const char *s)
{
	size_t n = strlen(s), i = 0, o = 0, k;
	json_t *j;
	char *fixed;

	j = json_stringn(s, n);
	if (j)
		return j;
	fixed = malloc(n * 3 + 1); /* each bad byte becomes 3 bytes */
	if (!fixed)
		return NULL;
	while (i < n) {
		k = utf8_valid_len((const unsigned char *)s + i, n - i);
		if (k) {
			memcpy(fixed + o, s + i, k);
			o += k;
			i += k;
		} else {
			memcpy(fixed + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		}
	}
	j = json_stringn(fixed, o);
	free(fixed);
	return j;
}

static json_t *frames_to_json(const dr_error *e)
{
	json_t *arr = json_array(), *f;
	size_t i;

	if (!arr)
		return NULL;
	for (i = 0; i < e->nframes; i++) {
		const dr_frame *fr = &e->frames[i];

		f = json_pack("{s:o, s:i, s:o, s:b}",
		              "file", json_text(fr->file ? fr->file : ""),
		              "line", fr->line,
		              "function", fr->func ? json_text(fr->func) : json_null(),
		              "library", fr->library);
		if (!f || json_array_append_new(arr, f) < 0) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

static json_t *chain_to_json(const dr_error *e)
{
	json_t *arr = json_array(), *s;
	size_t i;

	if (!arr)
		return NULL;
	for (i = 0; i < e->nchain; i++) {
		s = json_text(e->chain[i]);
		if (!s || json_array_append_new(arr, s) < 0) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

json_t *dr_error_to_json(const dr_error *e)
{
	json_t *o, *frames, *chain;

	frames = frames_to_json(e);
	chain = chain_to_json(e);
	if (!frames || !chain) {
		json_decref(frames);
		json_decref(chain);
		return NULL;
	}
	/* "o" steals frames and chain, also when json_pack fails. */
	o = json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:O}",
	              "detector", json_text(e->detector),
	              "exception", json_text(e->exception),
	              "message", json_text(e->message),
	              "frames", frames,
	              "chain", chain,
	              "text", json_text(e->text ? e->text : ""),
	              "raw", json_text(e->raw ? e->raw : ""),
	              "extra", e->extra ? e->extra : json_null());
	return o;
}
