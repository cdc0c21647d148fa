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
#include "utf8.h"

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

/* A JSON string of s with invalid UTF-8 replaced; NULL on out of memory. */
static json_t *json_text(const char *s)
{
	size_t n = strlen(s), len;
	json_t *j;
	char *fixed;

	j = json_stringn(s, n);
	if (j)
		return j;
	fixed = utf8_repair(s, n, &len);
	if (!fixed)
		return NULL;
	j = json_stringn(fixed, len);
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
