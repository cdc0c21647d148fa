/*
 * embed_wire.c - the /v1/embeddings wire format (see embed_wire.h): each
 * batch's JSON request, the vectors read back in either encoding and in
 * the order of data[].index, and the server's words in an error answer in
 * every form the OpenAI-compatible world sends. Pure: no I/O.
 */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "embed_wire.h"
#include "utf8.h"
#include "vectors.h"

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

/* ============================================================ the request */

char *embed_wire_request(const char *model, const char *const *texts, size_t n,
			 unsigned dimensions, bool base64)
{
	json_t *req = json_object(), *input = json_array(), *s;
	char *clean, *body = NULL;
	size_t i;

	if (!req || !input)
		goto out;
	for (i = 0; i < n; i++) {
		clean = clean_text(texts[i], strlen(texts[i]), EMBED_MAX_INPUT_BYTES);
		if (!clean)
			goto out;
		s = json_string(*clean ? clean : " ");
		free(clean);
		if (!s || json_array_append_new(input, s) < 0)
			goto out;
	}
	if (json_object_set_new(req, "model", json_string(model)) < 0 ||
	    json_object_set(req, "input", input) < 0 ||
	    json_object_set_new(req, "encoding_format",
				json_string(base64 ? "base64" : "float")) < 0 ||
	    (dimensions > 0 &&
	     json_object_set_new(req, "dimensions", json_integer(dimensions)) < 0))
		goto out;
	body = json_dumps(req, JSON_COMPACT);
out:
	json_decref(input);
	json_decref(req);
	return body;
}

/* ============================================================= the answer */

/* Set *why to the formatted reason and return rc. */
__attribute__((format(printf, 3, 4)))
static int why_fail(char **why, int rc, const char *fmt, ...)
{
	va_list ap;

	free(*why);
	va_start(ap, fmt);
	if (vasprintf(why, fmt, ap) < 0)
		*why = NULL;
	va_end(ap);
	return rc;
}

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
static int check_dim(struct embed_rows *rows, size_t d, char **why)
{
	if (d == 0)
		return why_fail(why, -EPROTO, "the answer holds an empty embedding");
	if (rows->dim == 0) {
		if (d > SIZE_MAX / sizeof(float) / rows->total)
			return -ENOMEM;
		if (!(rows->data = malloc(rows->total * d * sizeof(float))))
			return -ENOMEM;
		rows->dim = d;
	} else if (d != rows->dim) {
		return why_fail(why, -EPROTO, "the answer mixes embeddings of %zu and %zu "
				"dimensions", rows->dim, d);
	}
	return 0;
}

/* Store the embedding of item i in row `row` of rows. */
static int read_embedding(struct embed_rows *rows, json_t *emb, size_t i, size_t row,
			  char **why)
{
	unsigned char *bytes = NULL;
	size_t len, j;
	float *dest;
	double v;
	int rc;

	if (json_is_array(emb)) {
		if ((rc = check_dim(rows, json_array_size(emb), why)) < 0)
			return rc;
		dest = rows->data + row * rows->dim;
		for (j = 0; j < rows->dim; j++) {
			v = json_number_value(json_array_get(emb, j));
			if (!json_is_number(json_array_get(emb, j)) || !(fabs(v) <= FLT_MAX))
				return why_fail(why, -EPROTO, "data[%zu].embedding[%zu] is not a "
						"float32 number", i, j);
			dest[j] = (float)v;
		}
		return 0;
	}
	if (!json_is_string(emb))
		return why_fail(why, -EPROTO, "data[%zu].embedding is neither numbers nor base64",
				i);
	rc = b64_decode(json_string_value(emb), json_string_length(emb), &bytes, &len);
	if (rc == -ENOMEM)
		return rc;
	if (rc < 0 || len % 4)
		rc = why_fail(why, -EPROTO, "data[%zu].embedding is not base64 of float32 values",
			      i);
	else if ((rc = check_dim(rows, len / 4, why)) == 0 &&
		 vec_decode(bytes, len, rows->data + row * rows->dim, rows->dim) < 0)
		rc = why_fail(why, -EPROTO, "data[%zu].embedding holds values that are not "
			      "finite", i);
	free(bytes);
	return rc;
}

/* The server's own words in a JSON error answer, or NULL (see
 * embed_wire_error_text). Newly allocated. */
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

/* What a body that is not JSON says: the <title> of an HTML page, else the
 * text without tags. Newly allocated. */
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

char *embed_wire_error_text(const char *body, size_t len)
{
	json_t *root = len ? json_loadb(body, len, 0, NULL) : NULL;
	char *text;

	if (root) {
		text = json_error_text(root);
		json_decref(root);
		return text;
	}
	if (!len)
		return NULL;
	text = plain_error_text(body, len);
	/* Only white space, or tags alone. */
	if (text && !text[strspn(text, " \t\r\n")]) {
		free(text);
		return NULL;
	}
	return text;
}

int embed_wire_answer(const char *body, size_t len, size_t first, size_t count,
		      struct embed_rows *rows, char **why)
{
	json_t *root, *data, *item, *idx;
	json_error_t jerr;
	bool *seen = NULL;
	size_t i, row;
	char *text;
	int rc = 0;

	*why = NULL;
	if (count == 0 || first > rows->total || count > rows->total - first)
		return -EINVAL;
	if (!(root = json_loadb(body ? body : "", len, 0, &jerr)))
		return why_fail(why, -EPROTO, "the answer is not JSON (%s)", jerr.text);
	data = json_object_get(root, "data");
	if (!json_is_array(data)) {
		text = json_object_get(root, "error") ? json_error_text(root) : NULL;
		rc = text ? why_fail(why, -EIO, "%s", text)
			  : why_fail(why, -EPROTO, "the answer has no \"data\" array");
		free(text);
		goto out;
	}
	if (json_array_size(data) != count) {
		rc = why_fail(why, -EPROTO, "the server returned %zu embeddings for %zu inputs",
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
			rc = why_fail(why, -EPROTO, "data[%zu].index is out of range or repeated",
				      i);
			goto out;
		}
		seen[row] = true;
		if ((rc = read_embedding(rows, json_object_get(item, "embedding"), i, first + row,
					 why)) < 0)
			goto out;
	}
out:
	free(seen);
	json_decref(root);
	if (rc == -ENOMEM) {
		free(*why);
		*why = NULL;
	}
	return rc;
}
