/*
 * pyenv_meta.c - parsing the text formats of installed distributions:
 * the RFC 822 headers of METADATA / PKG-INFO, top_level.txt, and the CSV
 * rows of RECORD. Everything read here comes from disk unchecked, so every
 * string handed out is first checked to be valid, printable UTF-8.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pyenv_internal.h"

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if none. */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
	size_t need, i;
	unsigned cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		need = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		need = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		need = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (need > n)
		return 0;
	for (i = 1; i < need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* overlong forms, surrogates, beyond U+10FFFF */
	if ((need == 3 && cp < 0x800) || (need == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return need;
}

/* Valid UTF-8 without control characters (jansson refuses the former,
 * and the latter have no business in a name or a version). */
bool pymeta_is_text(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, k;

	while (i < n) {
		if (p[i] < 0x20 || p[i] == 0x7f)
			return false;
		k = utf8_seq_len(p + i, n - i);
		if (!k)
			return false;
		i += k;
	}
	return true;
}

/* A plausible Python identifier: letters, digits, '_', non-ASCII. */
static bool is_module_name(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || isdigit((unsigned char)s[0]))
		return false;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!(isalnum(c) || c == '_' || c >= 0x80))
			return false;
	}
	return pymeta_is_text(s, n);
}

/* The next line of text[*pos..len), without its "\n" or "\r\n". */
static bool next_line(const char *text, size_t len, size_t *pos,
                      const char **line, size_t *n)
{
	const char *end;

	if (*pos >= len)
		return false;
	*line = text + *pos;
	end = memchr(*line, '\n', len - *pos);
	*n = end ? (size_t)(end - *line) : len - *pos;
	*pos += *n + (end ? 1 : 0);
	if (*n && (*line)[*n - 1] == '\r')
		(*n)--;
	return true;
}

static void trim(const char **s, size_t *n)
{
	while (*n && isspace((unsigned char)**s))
		(*s)++, (*n)--;
	while (*n && isspace((unsigned char)(*s)[*n - 1]))
		(*n)--;
}

char *pymeta_header(const char *text, size_t len, const char *key, bool *oom)
{
	size_t pos = 0, n, klen = strlen(key);
	const char *line, *val;
	char *out;

	*oom = false;
	while (next_line(text, len, &pos, &line, &n)) {
		if (n == 0)
			break;  /* end of the header block; the body follows */
		if (n <= klen || line[klen] != ':' || strncasecmp(line, key, klen))
			continue;
		val = line + klen + 1;
		n -= klen + 1;
		trim(&val, &n);
		if (n == 0 || !pymeta_is_text(val, n))
			return NULL;
		out = strndup(val, n);
		if (!out)
			*oom = true;
		return out;
	}
	return NULL;
}

/* Append name[0..n) to modules unless present. 0 or -ENOMEM. */
static int add_module(json_t *modules, const char *name, size_t n)
{
	size_t i;
	json_t *v;

	json_array_foreach(modules, i, v) {
		if (json_string_length(v) == n && !memcmp(json_string_value(v), name, n))
			return 0;
	}
	if (json_array_size(modules) >= PYENV_MODULES_MAX)
		return 0;
	return json_array_append_new(modules, json_stringn(name, n)) ? -ENOMEM : 0;
}

int pymeta_top_level(const char *text, size_t len, json_t *modules)
{
	size_t pos = 0, n;
	const char *line;
	int rc;

	while (next_line(text, len, &pos, &line, &n)) {
		trim(&line, &n);
		if (!is_module_name(line, n))
			continue;  /* blank, or a path like "foo/bar" from old tools */
		rc = add_module(modules, line, n);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* The first CSV field of a RECORD row, unquoted into buf (size cap).
 * Returns its length, or 0 if it does not fit or is empty. */
static size_t record_path(const char *line, size_t n, char *buf, size_t cap)
{
	size_t i = 0, o = 0;
	bool quoted = n && line[0] == '"';

	for (i = quoted ? 1 : 0; i < n; i++) {
		if (quoted && line[i] == '"') {
			if (i + 1 < n && line[i + 1] == '"')
				i++;
			else
				break;
		} else if (!quoted && line[i] == ',') {
			break;
		}
		if (o + 1 >= cap)
			return 0;
		buf[o++] = line[i];
	}
	buf[o] = '\0';
	return o;
}

/* Length of the importable name a top-level file provides ("six.py",
 * "_foo.cpython-311-x86_64-linux-gnu.so"), 0 if it provides none. */
static size_t file_module_len(const char *file)
{
	static const char *const exts[] = { ".py", ".so", ".pyd", ".pyc" };
	size_t n = strlen(file), i, e;
	const char *dot = strchr(file, '.');

	if (!dot)
		return 0;
	for (i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
		e = strlen(exts[i]);
		if (n > e && !strcmp(file + n - e, exts[i]))
			return (size_t)(dot - file);
	}
	return 0;
}

int pymeta_record_modules(const char *text, size_t len, json_t *modules)
{
	size_t pos = 0, n, plen, mlen;
	const char *line, *slash;
	char path[4096];
	int rc;

	while (next_line(text, len, &pos, &line, &n)) {
		plen = record_path(line, n, path, sizeof(path));
		/* absolute paths and "../../bin/x" are scripts and data */
		if (!plen || path[0] == '/' || path[0] == '.')
			continue;
		slash = strchr(path, '/');
		/* a directory: a package unless it is metadata, *.data or
		 * __pycache__ (none of which is an identifier) */
		mlen = slash ? (size_t)(slash - path) : file_module_len(path);
		if (!is_module_name(path, mlen) ||
		    (mlen == 11 && !memcmp(path, "__pycache__", 11)))
			continue;
		rc = add_module(modules, path, mlen);
		if (rc < 0)
			return rc;
	}
	return 0;
}

json_t *pymeta_json_text(const char *s)
{
	size_t n = strlen(s), i = 0, k;
	json_t *j;
	char *copy;

	if (pymeta_is_text(s, n))
		return json_stringn(s, n);
	copy = strdup(s);
	if (!copy)
		return NULL;
	while (i < n) {
		k = utf8_seq_len((const unsigned char *)copy + i, n - i);
		if (k && (unsigned char)copy[i] >= 0x20 && copy[i] != 0x7f) {
			i += k;
			continue;
		}
		copy[i++] = '?';
	}
	j = json_stringn(copy, n);
	free(copy);
	return j;
}
