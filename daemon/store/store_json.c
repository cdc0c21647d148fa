/*
 * store_json.c - moving values between SQLite columns and jansson, safely.
 *
 * Output of the watched programs is stored byte for byte, and it is not
 * always UTF-8 (a latin-1 log, a binary dumped to a terminal). SQLite keeps
 * such bytes without complaint, but jansson refuses to build or encode a
 * string that is not valid UTF-8. So everything that leaves the store as
 * JSON is repaired here: each byte that is not part of a valid UTF-8
 * sequence becomes U+FFFD. The same repair lets a json_t carrying invalid
 * bytes (made with jansson's _nocheck calls) be stored instead of failing.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

/* ------------------------------------------------------------------------
 * UTF-8
 */

/* Length of the valid UTF-8 sequence at s (n bytes available), 0 if the
 * bytes there are not one. Rejects what jansson rejects: overlong forms,
 * surrogates and code points above U+10FFFF. */
static size_t utf8_sequence_len(const unsigned char *s, size_t n)
{
	uint32_t cp;
	size_t len, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

bool store_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n;

	while (i < len) {
		n = utf8_sequence_len(p + i, len - i);
		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

char *store_utf8_repair(const char *s, size_t len, size_t *out_len)
{
	static const char replacement[] = "\xef\xbf\xbd";   /* U+FFFD */
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, o = 0, n;
	char *out;

	/* Worst case every byte becomes three. */
	if (len > (SIZE_MAX - 1) / 3)
		return NULL;
	out = malloc(len * 3 + 1);
	if (!out)
		return NULL;
	while (i < len) {
		n = utf8_sequence_len(p + i, len - i);
		if (n == 0) {
			memcpy(out + o, replacement, 3);
			o += 3;
			i++;
		} else {
			memcpy(out + o, p + i, n);
			o += n;
			i += n;
		}
	}
	out[o] = '\0';
	*out_len = o;
	return out;
}

/* A JSON string of s[0..len), repaired if needed. New reference or NULL. */
static json_t *string_repaired(const char *s, size_t len)
{
	json_t *str;
	size_t fixed_len;
	char *fixed;

	if (store_utf8_valid(s, len))
		return json_stringn_nocheck(s, len);
	fixed = store_utf8_repair(s, len, &fixed_len);
	if (!fixed)
		return NULL;
	str = json_stringn_nocheck(fixed, fixed_len);
	free(fixed);
	return str;
}

/* ------------------------------------------------------------------------
 * JSON into columns
 */

/* A deep copy of v with every string and object key repaired. New
 * reference, NULL when out of memory. Recursion depth is bounded by the
 * value's nesting, which jansson's own parser caps. */
static json_t *json_repaired(json_t *v)
{
	const char *key;
	size_t key_len, i;
	json_t *copy = NULL, *item, *fixed_key;

	switch (json_typeof(v)) {
	case JSON_STRING:
		return string_repaired(json_string_value(v), json_string_length(v));
	case JSON_ARRAY:
		copy = json_array();
		json_array_foreach(v, i, item) {
			if (!copy || json_array_append_new(copy, json_repaired(item)) < 0)
				goto fail;
		}
		return copy;
	case JSON_OBJECT:
		copy = json_object();
		json_object_keylen_foreach(v, key, key_len, item) {
			fixed_key = copy ? string_repaired(key, key_len) : NULL;
			if (!fixed_key)
				goto fail;
			if (json_object_setn_new_nocheck(copy, json_string_value(fixed_key),
			                                 json_string_length(fixed_key),
			                                 json_repaired(item)) < 0) {
				json_decref(fixed_key);
				goto fail;
			}
			json_decref(fixed_key);
		}
		return copy;
	default:
		return json_incref(v);
	}
fail:
	json_decref(copy);
	return NULL;
}

int store_bind_text(store *st, sqlite3_stmt *stmt, int idx, const char *s)
{
	/* SQLITE_STATIC: the string is the caller's and outlives the step,
	 * which happens inside the same store call. */
	int rc = s ? sqlite3_bind_text(stmt, idx, s, -1, SQLITE_STATIC)
	           : sqlite3_bind_null(stmt, idx);

	return rc == SQLITE_OK ? 0 : store_fail(st, rc);
}

int store_bind_json(store *st, sqlite3_stmt *stmt, int idx, json_t *value)
{
	const size_t flags = JSON_COMPACT | JSON_ENCODE_ANY;
	json_t *fixed;
	char *text;
	int rc;

	if (!value)
		return store_bind_text(st, stmt, idx, NULL);
	text = json_dumps(value, flags);
	if (!text) {
		/* Either out of memory or a string jansson will not encode. */
		fixed = json_repaired(value);
		text = fixed ? json_dumps(fixed, flags) : NULL;
		json_decref(fixed);
	}
	if (!text) {
		store_set_errmsg(st, "out of memory");
		return -ENOMEM;
	}
	/* SQLite frees text with free(), also when the bind fails. */
	rc = sqlite3_bind_text(stmt, idx, text, -1, free);
	return rc == SQLITE_OK ? 0 : store_fail(st, rc);
}

/* ------------------------------------------------------------------------
 * Columns into JSON
 */

json_t *store_col_string(sqlite3_stmt *stmt, int col)
{
	const char *text;

	if (sqlite3_column_type(stmt, col) == SQLITE_NULL)
		return json_null();
	text = (const char *)sqlite3_column_text(stmt, col);
	if (!text)
		return NULL;    /* SQLite ran out of memory converting it */
	return string_repaired(text, (size_t)sqlite3_column_bytes(stmt, col));
}

json_t *store_col_json(sqlite3_stmt *stmt, int col, json_t *if_null)
{
	const char *text;
	json_t *value;
	size_t len, fixed_len;
	char *fixed;

	if (sqlite3_column_type(stmt, col) == SQLITE_NULL)
		return if_null;
	json_decref(if_null);
	text = (const char *)sqlite3_column_text(stmt, col);
	if (!text)
		return NULL;
	len = (size_t)sqlite3_column_bytes(stmt, col);
	value = json_loadb(text, len, JSON_DECODE_ANY, NULL);
	if (value)
		return value;
	/* Invalid UTF-8 (stored by an older writer or by hand) or not JSON at
	 * all: repair and try again, else hand back the text itself. */
	fixed = store_utf8_repair(text, len, &fixed_len);
	if (!fixed)
		return NULL;
	value = json_loadb(fixed, fixed_len, JSON_DECODE_ANY, NULL);
	if (!value)
		value = json_stringn_nocheck(fixed, fixed_len);
	free(fixed);
	return value;
}

json_t *store_col_integer(sqlite3_stmt *stmt, int col)
{
	if (sqlite3_column_type(stmt, col) == SQLITE_NULL)
		return json_null();
	return json_integer(sqlite3_column_int64(stmt, col));
}

int store_obj_set(json_t *obj, const char *key, json_t *value)
{
	if (!value)
		return -ENOMEM;
	return json_object_set_new(obj, key, value) < 0 ? -ENOMEM : 0;
}
