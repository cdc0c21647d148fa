/*
 * document.c - the document as a whole: format by file name, the parse
 * entry point (UTF-8 repair, binary rejection, line index, dispatch to the
 * per-format parsers), docutils-style anchors, and the helpers the parsers
 * share to build a doc.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* vasprintf */
#endif
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "docs_internal.h"
#include "utf8.h"

/* ---- format */

int doc_format_of(const char *path, enum doc_format *out)
{
	static const struct { const char *ext; enum doc_format fmt; } known[] = {
		{ ".md", DOC_MARKDOWN }, { ".markdown", DOC_MARKDOWN },
		{ ".rst", DOC_RST }, { ".txt", DOC_TEXT },
		{ ".html", DOC_HTML }, { ".htm", DOC_HTML },
		{ ".ipynb", DOC_NOTEBOOK },
	};
	const char *dot = path ? strrchr(path, '.') : NULL;
	size_t i;

	if (!dot || strchr(dot, '/'))
		return -ENOTSUP;
	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		if (strcasecmp(dot, known[i].ext) == 0) {
			*out = known[i].fmt;
			return 0;
		}
	}
	return -ENOTSUP;
}

/* ---- strings */

int sb_add(struct strbuf *b, const char *p, size_t n)
{
	size_t cap;
	char *s;

	if (b->len + n + 1 > b->cap) {
		cap = b->cap ? b->cap : 64;
		while (cap < b->len + n + 1)
			cap *= 2;
		s = realloc(b->s, cap);
		if (!s)
			return -ENOMEM;
		b->s = s;
		b->cap = cap;
	}
	memcpy(b->s + b->len, p, n);
	b->len += n;
	b->s[b->len] = '\0';
	return 0;
}

char *sb_take(struct strbuf *b, bool trim)
{
	size_t from = 0, to = b->len;
	char *s;

	if (!b->s)
		return strdup("");
	while (trim && from < to && isspace((unsigned char)b->s[from]))
		from++;
	while (trim && to > from && isspace((unsigned char)b->s[to - 1]))
		to--;
	memmove(b->s, b->s + from, to - from);
	b->s[to - from] = '\0';
	s = b->s;
	b->s = NULL;
	b->len = b->cap = 0;
	return s;
}

void sb_release(struct strbuf *b)
{
	free(b->s);
	b->s = NULL;
	b->len = b->cap = 0;
}

/* ---- building a doc */

/* Grow *arr (of elements of size sz) to hold one more than n. */
static int grow(void *arr, size_t n, size_t sz)
{
	void **p = arr;
	void *q;

	if (n & (n - 1) && n > 4)
		return 0; /* capacity is the next power of two >= n, >= 4 */
	q = realloc(*p, (n < 4 ? 4 : n * 2) * sz);
	if (!q)
		return -ENOMEM;
	*p = q;
	return 0;
}

int doc_add_block(doc *d, char *text, bool code, const char *language,
		  int section, size_t start, size_t end)
{
	doc_block *b;
	char *lang = NULL;

	if (language && !(lang = strdup(language)))
		goto nomem;
	if (grow(&d->blocks, d->nblocks, sizeof(*d->blocks)) < 0)
		goto nomem;
	b = &d->blocks[d->nblocks++];
	b->text = text;
	b->code = code;
	b->language = lang;
	b->section = section;
	b->start = start;
	b->end = end < start ? start : end;
	return 0;
nomem:
	free(lang);
	free(text);
	return -ENOMEM;
}

int doc_add_section(doc *d, char *const *path, size_t depth, int *index)
{
	doc_section s = { .depth = depth };
	size_t i;

	s.path = calloc(depth ? depth : 1, sizeof(*s.path));
	if (!s.path)
		goto nomem;
	for (i = 0; i < depth; i++)
		if (!(s.path[i] = strdup(path[i] ? path[i] : "")))
			goto nomem;
	s.anchor = doc_anchor(depth ? s.path[depth - 1] : "");
	if (!s.anchor || grow(&d->sections, d->nsections, sizeof(*d->sections)) < 0)
		goto nomem;
	*index = (int)d->nsections;
	d->sections[d->nsections++] = s;
	return 0;
nomem:
	for (i = 0; s.path && i < depth; i++)
		free(s.path[i]);
	free(s.path);
	free(s.anchor);
	return -ENOMEM;
}

int doc_warn(doc *d, const char *fmt, ...)
{
	va_list ap;
	char *msg;
	int rc;

	va_start(ap, fmt);
	rc = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (rc < 0)
		return -ENOMEM;
	if (grow(&d->warnings, d->nwarnings, sizeof(*d->warnings)) < 0) {
		free(msg);
		return -ENOMEM;
	}
	d->warnings[d->nwarnings++] = msg;
	return 0;
}

void doc_free(doc *d)
{
	size_t i, j;

	if (!d)
		return;
	free(d->title);
	for (i = 0; i < d->nsections; i++) {
		for (j = 0; j < d->sections[i].depth; j++)
			free(d->sections[i].path[j]);
		free(d->sections[i].path);
		free(d->sections[i].anchor);
	}
	free(d->sections);
	for (i = 0; i < d->nblocks; i++) {
		free(d->blocks[i].text);
		free(d->blocks[i].language);
	}
	free(d->blocks);
	for (i = 0; i < d->nwarnings; i++)
		free(d->warnings[i]);
	free(d->warnings);
	free(d);
}

/* ---- anchors */

/* docutils' make_id lower-cases the title, normalises it with NFKD and
 * drops what is not ASCII (so accents fall off letters and other scripts
 * vanish), then turns runs of other characters into '-' and strips leading
 * digits/'-' and trailing '-'. Without a Unicode database we approximate
 * NFKD for Latin-1 Supplement and Latin Extended-A letters (U+00C0..U+017F)
 * with the base letters below, plus docutils' digraphs (ae, oe, ij, sz, th);
 * any other non-ASCII character is dropped, as NFKD+ascii would. */
static const char latin1_base[64] =            /* U+00C0..U+00FF */
	"aaaaaa\0ceeeeiiiidnooooo\0ouuuuy\0\0aaaaaa\0ceeeeiiiidnooooo\0ouuuuy\0y";
static const char latin_ext_a[128] =            /* U+0100..U+017F */
	"aaaaaaccccccccddddeeeeeeeeeegggggggghhhhiiiiiiiiii\0\0jjkkklllll"
	"lllllnnnnnnnnnoooooo\0\0rrrrrrssssssssttttttuuuuuuuuuuuuwwyyyzzzzzzs";

/* The ASCII spelling of code point cp for an id: "" when dropped. */
static const char *ascii_of(unsigned cp, char one[2])
{
	one[0] = one[1] = '\0';
	if (cp < 0x80) {
		one[0] = (char)tolower((int)cp);
	} else if (cp == 0xC6 || cp == 0xE6) {
		return "ae";
	} else if (cp == 0xDF) {
		return "sz";
	} else if (cp == 0xDE || cp == 0xFE) {
		return "th";
	} else if (cp == 0x132 || cp == 0x133) {
		return "ij";
	} else if (cp == 0x152 || cp == 0x153) {
		return "oe";
	} else if (cp >= 0xC0 && cp <= 0xFF) {
		one[0] = latin1_base[cp - 0xC0];
	} else if (cp >= 0x100 && cp <= 0x17F) {
		one[0] = latin_ext_a[cp - 0x100];
	}
	return one;
}

/* Decode one UTF-8 sequence at s (valid or not); returns its length. */
static size_t utf8_next(const unsigned char *s, unsigned *cp)
{
	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if ((s[0] & 0xE0) == 0xC0 && (s[1] & 0xC0) == 0x80) {
		*cp = ((s[0] & 0x1Fu) << 6) | (s[1] & 0x3Fu);
		return 2;
	}
	*cp = 0xFFFD; /* any longer or broken sequence: not Latin, dropped */
	if ((s[0] & 0xF0) == 0xE0 && (s[1] & 0xC0) == 0x80 && (s[2] & 0xC0) == 0x80)
		return 3;
	if ((s[0] & 0xF8) == 0xF0 && (s[1] & 0xC0) == 0x80 &&
	    (s[2] & 0xC0) == 0x80 && (s[3] & 0xC0) == 0x80)
		return 4;
	return 1;
}

char *doc_anchor(const char *title)
{
	const unsigned char *p = (const unsigned char *)(title ? title : "");
	char *id = malloc(strlen((const char *)p) * 2 + 1), one[2];
	const char *a;
	size_t n = 0;
	unsigned cp;
	bool gap = false;

	if (!id)
		return NULL;
	while (*p) {
		p += utf8_next(p, &cp);
		for (a = ascii_of(cp, one); *a; a++) {
			if (!isalnum((unsigned char)*a)) {
				gap = true;
				continue;
			}
			/* docutils strips leading digits and '-' */
			if (n == 0 && isdigit((unsigned char)*a)) {
				gap = false;
				continue;
			}
			if (gap && n > 0)
				id[n++] = '-';
			gap = false;
			id[n++] = *a;
		}
	}
	id[n] = '\0';
	return id;
}

/* ---- source text: repair and positions */

/* The repaired copy of text and the offset map; owned by the caller. */
struct repaired {
	struct strbuf out;
	size_t *fix_at, *fix_shift;
	size_t nfix;
};

static int repair_utf8(const char *text, size_t len, struct repaired *r)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t i = 0, k;

	while (i < len) {
		k = utf8_sequence_len(s + i, len - i);
		if (k) {
			if (sb_add(&r->out, text + i, k) < 0)
				return -ENOMEM;
			i += k;
			continue;
		}
		if (sb_add(&r->out, "\xEF\xBF\xBD", 3) < 0 ||
		    grow(&r->fix_at, r->nfix, sizeof(size_t)) < 0 ||
		    grow(&r->fix_shift, r->nfix, sizeof(size_t)) < 0)
			return -ENOMEM;
		i++;
		r->fix_at[r->nfix] = r->out.len;
		r->fix_shift[r->nfix++] = r->out.len - i;
	}
	return sb_add(&r->out, "", 0);
}

size_t docsrc_original(const struct doc_source *src, size_t pos)
{
	size_t lo = 0, hi = src->nfix, mid;

	/* the last fix at or before pos */
	while (lo < hi) {
		mid = (lo + hi) / 2;
		if (src->fix_at[mid] <= pos)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo > 0)
		pos -= src->fix_shift[lo - 1];
	return pos > src->orig_len ? src->orig_len : pos;
}

size_t docsrc_line_col(const struct doc_source *src, int line, int col)
{
	size_t start, next, pos;

	if (line < 1 || src->nlines == 0)
		return docsrc_original(src, line < 1 ? 0 : src->len);
	if ((size_t)line > src->nlines)
		return docsrc_original(src, src->len);
	start = src->line_starts[line - 1];
	next = (size_t)line < src->nlines ? src->line_starts[line] : src->len;
	pos = start + (size_t)(col > 1 ? col - 1 : 0);
	return docsrc_original(src, pos > next ? next : pos);
}

/* Line starts of text: a line ends at "\n", "\r\n" or a lone "\r", as
 * cmark counts them. *starts owned by the caller. */
static int index_lines(const char *text, size_t len, size_t **starts, size_t *n)
{
	size_t i;

	*n = 0;
	*starts = NULL;
	if (grow(starts, 0, sizeof(size_t)) < 0)
		return -ENOMEM;
	(*starts)[(*n)++] = 0;
	for (i = 0; i < len; i++) {
		if (text[i] == '\r' && i + 1 < len && text[i + 1] == '\n')
			continue;
		if (text[i] != '\n' && text[i] != '\r')
			continue;
		if (i + 1 == len)
			break;
		if (grow(starts, *n, sizeof(size_t)) < 0)
			return -ENOMEM;
		(*starts)[(*n)++] = i + 1;
	}
	return 0;
}

/* ---- parsing */

static int parse_source(doc *d, enum doc_format fmt, const char *name,
			const struct doc_source *src, unsigned flags)
{
	switch (fmt) {
	case DOC_MARKDOWN:
		return parse_markdown(d, src);
	case DOC_NOTEBOOK:
		return parse_notebook(d, src, name, flags & DOC_NOTEBOOK_OUTPUTS);
	case DOC_TEXT:
		return parse_text(d, src);
	case DOC_RST:
		return parse_rst(d, src);
	case DOC_HTML:
		return parse_html(d, src);
	}
	return -EINVAL;
}

/* The title when the format gave none: the file's base name. */
static int default_title(doc *d, const char *name)
{
	const char *base = name ? strrchr(name, '/') : NULL;

	if (d->title)
		return 0;
	base = base ? base + 1 : (name ? name : "");
	d->title = strdup(base);
	return d->title ? 0 : -ENOMEM;
}

int doc_parse(enum doc_format fmt, const char *name, const char *text, size_t len, doc **out)
{
	return doc_parse_flags(fmt, name, text, len, 0, out);
}

int doc_parse_flags(enum doc_format fmt, const char *name, const char *text, size_t len,
		    unsigned flags, doc **out)
{
	struct repaired r = { { NULL, 0, 0 }, NULL, NULL, 0 };
	struct doc_source src = { .orig_len = len };
	size_t *lines = NULL;
	doc *d = NULL;
	int rc;

	*out = NULL;
	if (len && (!text || memchr(text, '\0', len)))
		return -EINVAL; /* binary, not a document */
	rc = repair_utf8(text ? text : "", len, &r);
	if (rc < 0)
		goto out;
	src.text = r.out.s;
	src.len = r.out.len;
	src.fix_at = r.fix_at;
	src.fix_shift = r.fix_shift;
	src.nfix = r.nfix;
	rc = index_lines(src.text, src.len, &lines, &src.nlines);
	if (rc < 0)
		goto out;
	src.line_starts = lines;
	rc = -ENOMEM;
	if (!(d = calloc(1, sizeof(*d))))
		goto out;
	if (r.nfix && (rc = doc_warn(d, "%s: %zu invalid UTF-8 byte(s) replaced by U+FFFD",
				     name ? name : "(input)", r.nfix)) < 0)
		goto out;
	rc = parse_source(d, fmt, name, &src, flags);
	if (rc == 0)
		rc = default_title(d, name);
	if (rc == 0) {
		*out = d;
		d = NULL;
	}
out:
	doc_free(d);
	free(lines);
	sb_release(&r.out);
	free(r.fix_at);
	free(r.fix_shift);
	return rc;
}
