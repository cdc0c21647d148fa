/*
 * parse_rst.c - reStructuredText to a document, read the way docutils and
 * Sphinx read it.
 *
 * The text is cut into lines with their indentation (a tab goes to the
 * next multiple of 8 columns). A body parser walks a view of lines at one
 * indentation and recurses into indented blocks (block quotes, list
 * items, directive bodies) up to RST_MAX_DEPTH levels; deeper text is
 * read as plain paragraphs. Each line is looked at a bounded number of
 * times per level, and inline markup is removed in one pass that
 * remembers failed searches for end-strings, so parsing is linear.
 *
 * What becomes what:
 * - Sections: a title underlined, or over- and underlined, with any
 *   punctuation character. Levels follow the order in which styles first
 *   appear, as docutils assigns them ("=" over and under is another style
 *   than "=" under only). An underline shorter than its title still
 *   makes a title when it is at least 4 characters long (with a warning)
 *   and is plain text when shorter, as in docutils. A title whose style
 *   skips a level goes one level below the current section, with a
 *   warning; a title inside an indented block stays as prose, with a
 *   warning. The first top-level title is the document's title, and a
 *   section's anchor is the docutils id of its title (a label ".. _x:"
 *   before it does not change that).
 * - Prose, inline markup removed: paragraphs, the items of bullet,
 *   enumerated, definition and field lists (a field keeps its name, as
 *   "name: body"), line blocks (a line each), block quotes, footnote
 *   bodies, the cells of grid and simple tables (one block per table, a
 *   row per line, cells joined by " | "), the bodies of admonitions and
 *   of unknown directives, the titles of tab-item, dropdown, card and
 *   the like, image alt text and figure captions, the object names of
 *   auto* and object directives, the names an autosummary lists.
 * - Code, verbatim: literal blocks after "::" (in the language set by
 *   ".. highlight::", else none), doctest blocks (">>>", python),
 *   code-block, code and sourcecode (their argument is the language),
 *   testcode, testsetup, testcleanup, doctest, ipython, jupyter-execute
 *   (python), testoutput (no language), parsed-literal (inline markup
 *   removed). The "::" ending a paragraph becomes ":" after a word and
 *   goes away after a space or alone, as docutils renders it.
 * - Dropped: comments, hyperlink targets and labels, substitution
 *   definitions, transitions, directive options, toctree, include, raw,
 *   literalinclude (no file access), contents, currentmodule and the
 *   like, and the file-wide metadata field list that comes before any
 *   text.
 * Inline: emphasis, strong, literals, interpreted text and roles lose
 * their markup; an explicit title wins (":ref:`Text <target>`" gives
 * "Text"), "~a.b.C" gives "C", hyperlink references keep their text,
 * footnote and citation references are dropped, substitution references
 * keep their name, backslash escapes are resolved. Unterminated inline
 * markup stays as written, as docutils shows it, with a warning.
 *
 * Deviations from docutils, where it would reject the input or show
 * markup the author did not mean: a quoted literal block never starts
 * with explicit markup (a directive after "Text::" stays a directive); a
 * literal block may follow "Text::" without a blank line; code directives
 * take lines right under them, without a blank line, as code (with a
 * warning); a literal glued to a word ("the``x``") and markup inside
 * emphasis or strong are removed; "name<http://...>" keeps the name.
 * Warnings (malformed titles, tables, literal blocks and inline markup,
 * directives without content, unexpected indentation) name the line; at
 * most RST_MAX_WARNINGS per document.
 *
 * Ownership: the parser's own state (lines, open titles) is freed before
 * parse_rst returns; what it finds goes into the doc.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "docs_internal.h"

#define RST_MAX_DEPTH 32      /* nested blocks parsed as structure */
#define RST_MAX_LEVELS 64     /* title styles: 32 characters, with or without overline */
#define RST_MAX_WARNINGS 50   /* per document */
#define RST_MAX_COLUMNS 256   /* table columns told apart */
#define RST_TAB 8
#define NOPOS ((size_t)-1)

struct rst_line {
	size_t start;        /* first byte of the line in the source text */
	size_t text;         /* first byte after the indentation */
	size_t end;          /* end of the text: break and trailing blanks excluded */
	int indent;          /* columns before text; -1 for a blank line */
};

/* Lines [lo, hi) read at indentation base. With first, line lo starts
 * at byte first (a list item's text after its marker) and counts as
 * indented by base. */
struct rst_view {
	size_t lo, hi;
	int base;
	size_t first;        /* NOPOS: none */
	int depth;
};

struct rst_style {
	char ch;
	bool over;
};

struct rst {
	doc *d;
	const struct doc_source *src;
	const char *t;                        /* src->text */
	struct rst_line *lines;               /* owned */
	size_t nlines;
	struct rst_style styles[RST_MAX_LEVELS]; /* by level - 1 */
	int nstyles;
	char *titles[RST_MAX_LEVELS];         /* open titles by level - 1; owned */
	int level;                            /* of the current section, 0 before any */
	int section;                          /* index in d->sections, -1 before any */
	char lang[32];                        /* of literal blocks (.. highlight::) */
	size_t nwarn;
};

static int parse_body(struct rst *rs, const struct rst_view *v);

/* ---- characters */

static bool is_space_char(char c)
{
	return c == ' ' || c == '\t' || c == '\f' || c == '\v';
}

/* ASCII letters and digits, and any byte of a non-ASCII character. */
static bool is_word(char c)
{
	return isalnum((unsigned char)c) || (unsigned char)c >= 0x80;
}

static bool in_set(char c, const char *set)
{
	return c && strchr(set, c);
}

/* Whether s[0..n) holds only characters of set. */
static bool only_chars(const char *s, size_t n, const char *set)
{
	size_t k;

	for (k = 0; k < n; k++)
		if (!in_set(s[k], set))
			return false;
	return true;
}

/* Characters shown, not bytes: what docutils compares underlines with. */
static size_t text_width(const char *s, size_t n)
{
	size_t k, w = 0;

	for (k = 0; k < n; k++)
		w += ((unsigned char)s[k] & 0xC0) != 0x80;
	return w;
}

static int next_col(char c, int col)
{
	if (col > (1 << 24))
		return col; /* absurd indentation: stop counting */
	return c == '\t' ? (col / RST_TAB + 1) * RST_TAB : col + 1;
}

__attribute__((format(printf, 3, 4)))
static int rs_warn(struct rst *rs, size_t line, const char *fmt, ...)
{
	char msg[200];
	va_list ap;

	if (rs->nwarn++ >= RST_MAX_WARNINGS)
		return rs->nwarn == RST_MAX_WARNINGS + 1 ?
			doc_warn(rs->d, "more reStructuredText warnings not shown") : 0;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return doc_warn(rs->d, "line %zu: %s", line + 1, msg);
}

/* ---- lines and views */

static int cut_lines(struct rst *rs)
{
	const struct doc_source *src = rs->src;
	size_t i, next, p;
	int col;

	rs->lines = calloc(src->nlines ? src->nlines : 1, sizeof(*rs->lines));
	if (!rs->lines)
		return -ENOMEM;
	for (i = 0; i < src->nlines; i++) {
		struct rst_line *l = &rs->lines[i];

		l->start = src->line_starts[i];
		next = i + 1 < src->nlines ? src->line_starts[i + 1] : src->len;
		if (next > l->start && rs->t[next - 1] == '\n')
			next--;
		if (next > l->start && rs->t[next - 1] == '\r')
			next--;
		if (i == 0 && next - l->start >= 3 && memcmp(rs->t, "\xEF\xBB\xBF", 3) == 0)
			l->start += 3; /* byte order mark */
		while (next > l->start && is_space_char(rs->t[next - 1]))
			next--;
		col = 0;
		for (p = l->start; p < next && is_space_char(rs->t[p]); p++)
			col = next_col(rs->t[p], col);
		l->text = p;
		l->end = next;
		l->indent = p < next ? col : -1;
	}
	rs->nlines = src->nlines;
	return 0;
}

static bool is_first(const struct rst_view *v, size_t i)
{
	return i == v->lo && v->first != NOPOS;
}

static size_t rs_pos(const struct rst *rs, const struct rst_view *v, size_t i)
{
	return is_first(v, i) ? v->first : rs->lines[i].text;
}

static bool rs_blank(const struct rst *rs, const struct rst_view *v, size_t i)
{
	return rs_pos(rs, v, i) >= rs->lines[i].end;
}

/* Line i's indentation as the view sees it; -1 if blank. */
static int rs_ind(const struct rst *rs, const struct rst_view *v, size_t i)
{
	if (rs_blank(rs, v, i))
		return -1;
	return is_first(v, i) ? v->base : rs->lines[i].indent;
}

/* Line i's text (after its indentation) and its length. */
static const char *rs_text(const struct rst *rs, const struct rst_view *v, size_t i, size_t *n)
{
	size_t p = rs_pos(rs, v, i);

	*n = rs->lines[i].end > p ? rs->lines[i].end - p : 0;
	return rs->t + p;
}

/* The column of byte pos of line i. */
static int col_at(const struct rst *rs, size_t i, size_t pos)
{
	int col = 0;
	size_t p;

	for (p = rs->lines[i].start; p < pos && p < rs->lines[i].end; p++)
		if (((unsigned char)rs->t[p] & 0xC0) != 0x80)
			col = next_col(rs->t[p], col);
	return col;
}

/* The end of the block indented deeper than base that starts at line
 * from: the first non-blank line at base or less (blank lines before it
 * left out). *abrupt: that line directly follows text. */
static size_t block_end(const struct rst *rs, const struct rst_view *v, size_t from,
			int base, bool *abrupt)
{
	size_t k, end;
	int ind;

	for (k = from; k < v->hi; k++) {
		ind = rs_ind(rs, v, k);
		if (ind >= 0 && ind <= base)
			break;
	}
	if (abrupt)
		*abrupt = k < v->hi && k > 0 && !rs_blank(rs, v, k - 1);
	end = k;
	while (end > from && rs_blank(rs, v, end - 1))
		end--;
	return end;
}

/* The least indentation of the non-blank lines [lo, hi), a view's first
 * line not counted; -1 if none. */
static int min_indent(const struct rst *rs, const struct rst_view *v, size_t lo, size_t hi)
{
	int m = -1;
	size_t k;

	for (k = lo; k < hi; k++)
		if (!is_first(v, k) && !rs_blank(rs, v, k) &&
		    (m < 0 || rs->lines[k].indent < m))
			m = rs->lines[k].indent;
	return m;
}

/* Parse lines [lo, hi) of v as a nested body at their own indentation;
 * with first, line lo starts there. */
static int parse_part(struct rst *rs, const struct rst_view *v, size_t lo, size_t hi,
		      size_t first)
{
	struct rst_view s = { lo, hi, 0, first, v->depth + 1 };
	int m;

	if (lo >= hi)
		return 0;
	if (first == NOPOS && is_first(v, lo))
		s.first = v->first;
	if (s.first != NOPOS && s.first > rs->lines[lo].end)
		s.first = rs->lines[lo].end;
	m = min_indent(rs, &s, lo, hi);
	s.base = m >= 0 ? m : v->base + 1;
	return parse_body(rs, &s);
}

/* ---- inline markup */

enum inl_kind { IK_EMPH, IK_STRONG, IK_LITERAL, IK_INTERP, IK_SUBST, IK_KINDS };

struct inl {
	struct rst *rs;
	const char *s;
	size_t n;
	size_t line;                 /* for warnings */
	size_t nofind[IK_KINDS];     /* an end-string search from here on fails */
	struct strbuf *o;
	bool nested;                 /* inside emphasis or strong */
};

static int inline_run(struct rst *rs, const char *s, size_t n, size_t line,
		      struct strbuf *o, bool nested);

/* The length of the Unicode punctuation or space docutils accepts
 * around inline markup starting at s[i] (general punctuation
 * U+2010..U+205E, no-break space, guillemets, CJK marks); 0 if none. */
static size_t upunct_at(const char *s, size_t n, size_t i)
{
	const unsigned char *u = (const unsigned char *)s + i;

	if (i + 2 <= n && u[0] == 0xC2 && (u[1] == 0xA0 || u[1] == 0xAB || u[1] == 0xBB))
		return 2;
	if (i + 3 <= n && u[0] == 0xE2 &&
	    ((u[1] == 0x80 && u[2] >= 0x90) || (u[1] == 0x81 && u[2] <= 0x9E)))
		return 3;
	if (i + 3 <= n && u[0] == 0xE3 && u[1] == 0x80 && u[2] <= 0x83)
		return 3;
	return 0;
}

/* Whether inline markup may start at s[i], by what precedes it. */
static bool start_boundary(const char *s, size_t i)
{
	if (i == 0 || isspace((unsigned char)s[i - 1]) || in_set(s[i - 1], "-:/'\"<([{"))
		return true;
	return (i >= 2 && upunct_at(s, i, i - 2) == 2) || (i >= 3 && upunct_at(s, i, i - 3) == 3);
}

/* Whether inline markup may end just before s[i], by what follows. */
static bool end_boundary(const char *s, size_t n, size_t i)
{
	if (i >= n || isspace((unsigned char)s[i]) || in_set(s[i], "-.,:;!?\\/'\")]}>"))
		return true;
	return upunct_at(s, n, i) > 0;
}

/* Whether the start-string s[i..i+len) opens markup: at a boundary,
 * followed by text, and not quoted as in '*' or (*). */
static bool start_ok(const char *s, size_t n, size_t i, size_t len)
{
	static const char open[] = "'\"<([{", close[] = "'\">)]}";
	const char *q;
	size_t j = i + len;

	if (j >= n || isspace((unsigned char)s[j]) || !start_boundary(s, i))
		return false;
	if (i > 0 && (q = in_set(s[i - 1], open) ? strchr(open, s[i - 1]) : NULL) &&
	    s[j] == close[q - open])
		return false;
	return true;
}

/* Whether s[p] is escaped by an odd run of backslashes. */
static bool escaped(const char *s, size_t p)
{
	size_t k = 0;

	while (k < p && s[p - 1 - k] == '\\')
		k++;
	return k & 1;
}

/* The length of a role ":name:" at s[i], 0 if none. */
static size_t role_len(const char *s, size_t n, size_t i)
{
	size_t j = i + 1;

	if (j >= n || !isalnum((unsigned char)s[j]))
		return 0;
	while (j < n && j - i < 64 && (isalnum((unsigned char)s[j]) || in_set(s[j], "-_.+:")))
		j++;
	if (s[j - 1] != ':' || j - i < 3)
		return 0;
	return j - i;
}

/* Whether what follows a closing backquote at q - 1 ends interpreted
 * text: a boundary, "_" or "__" (a reference), or a ":role:". */
static bool interp_end_ok(const char *s, size_t n, size_t q)
{
	size_t r;

	if (q < n && s[q] == '_')
		return end_boundary(s, n, q + 1) ||
		       (q + 1 < n && s[q + 1] == '_' && end_boundary(s, n, q + 2));
	if (q < n && s[q] == ':' && (r = role_len(s, n, q)))
		return end_boundary(s, n, q + r);
	return end_boundary(s, n, q);
}

static bool end_at(const char *s, size_t n, size_t p, enum inl_kind k)
{
	switch (k) {
	case IK_EMPH:
		return s[p] == '*' && end_boundary(s, n, p + 1) && !escaped(s, p);
	case IK_STRONG:
		return s[p] == '*' && p + 1 < n && s[p + 1] == '*' &&
		       end_boundary(s, n, p + 2) && !escaped(s, p);
	case IK_LITERAL:
		return s[p] == '`' && p + 1 < n && s[p + 1] == '`' && end_boundary(s, n, p + 2);
	case IK_INTERP:
		return s[p] == '`' && interp_end_ok(s, n, p + 1) && !escaped(s, p);
	case IK_SUBST:
		return s[p] == '|' && !escaped(s, p) &&
		       (end_boundary(s, n, p + 1) || interp_end_ok(s, n, p + 1));
	case IK_KINDS:
		break;
	}
	return false;
}

/* Where the end-string of kind k closing content that starts at from
 * is; NOPOS if none. A failed search is remembered: one from later on
 * would fail too, since an end-string does not depend on its start. */
static size_t find_end(struct inl *in, enum inl_kind k, size_t from)
{
	size_t p;

	if (from >= in->nofind[k])
		return NOPOS;
	for (p = from + 1; p < in->n; p++)
		if (!isspace((unsigned char)in->s[p - 1]) && end_at(in->s, in->n, p, k))
			return p;
	in->nofind[k] = from;
	return NOPOS;
}

/* Append s[0..n) with backslash escapes resolved. */
static int add_unescaped(struct strbuf *o, const char *s, size_t n)
{
	const char *bs;
	size_t k = 0;
	int rc = 0;

	while (k < n && rc == 0) {
		bs = memchr(s + k, '\\', n - k);
		if (!bs)
			return sb_add(o, s + k, n - k);
		rc = sb_add(o, s + k, (size_t)(bs - s) - k);
		k = (size_t)(bs - s) + 1;
		if (rc == 0 && k < n && !isspace((unsigned char)s[k]))
			rc = sb_add(o, s + k, 1);
		k++;
	}
	return rc;
}

static int warn_unterminated(struct inl *in, const char *what)
{
	return rs_warn(in->rs, in->line, "%s start-string without end-string", what);
}

/* Roles whose text is shown as written: no "title <target>", no "~". */
static bool verbatim_role(const char *role, size_t len)
{
	static const char *const names[] = {
		"math", "abbr", "kbd", "samp", "code", "literal", "file", "guilabel",
		"menuselection", "command", "program", "envvar", "dfn", "sub", "sup",
		"subscript", "superscript", "emphasis", "strong", "title-reference",
		"regexp", "mimetype", "makevar", "manpage", "pep", "rfc", NULL,
	};
	const char *colon;
	size_t i;

	/* "py:func" is "func": the domain does not matter here */
	while ((colon = memchr(role, ':', len))) {
		len -= (size_t)(colon - role) + 1;
		role = colon + 1;
	}
	for (i = 0; names[i]; i++)
		if (strlen(names[i]) == len && strncasecmp(role, names[i], len) == 0)
			return true;
	return false;
}

/* Where the '<' of an explicit target ("title <target>") is in t[0..n),
 * n if none. Sphinx roles split at the first '<' after some title, a
 * space before it optional; docutils references want a space before the
 * last '<', or a URL after it ("name<http://...>" is meant the same). */
static size_t target_open(const char *t, size_t n, bool role)
{
	const char *lt;
	size_t k;

	if (n < 2 || t[n - 1] != '>')
		return n;
	if (role) {
		lt = memchr(t + 1, '<', n - 2);
		return lt ? (size_t)(lt - t) : t[0] == '<' ? 0 : n;
	}
	for (k = n - 1; k > 0 && t[k - 1] != '<'; k--)
		;
	if (k-- == 0)
		return n;
	if (k == 0 || isspace((unsigned char)t[k - 1]) || memmem(t + k, n - k, "://", 3))
		return k;
	return n;
}

/* Append what docutils/Sphinx shows of interpreted text t[0..n) with
 * role (NULL: the default role) or, when ref, of a hyperlink reference. */
static int add_shown(struct strbuf *o, const char *role, size_t rlen, bool ref,
		     const char *t, size_t n)
{
	size_t lt, a, b;

	if (role && verbatim_role(role, rlen)) {
		if (rlen == 3 && strncasecmp(role, "pep", 3) == 0 && sb_add(o, "PEP ", 4) < 0)
			return -ENOMEM;
		if (rlen == 3 && strncasecmp(role, "rfc", 3) == 0 && sb_add(o, "RFC ", 4) < 0)
			return -ENOMEM;
		return sb_add(o, t, n);
	}
	lt = target_open(t, n, role != NULL);
	if (lt < n) {
		/* "title <target>": the title, or the target without one */
		for (b = lt; b > 0 && isspace((unsigned char)t[b - 1]); b--)
			;
		return b > 0 ? sb_add(o, t, b) : sb_add(o, t + lt + 1, n - lt - 2);
	}
	if (!ref) {
		/* "!name" is not linked; "~a.b.c" shows the last component */
		a = 0;
		if (a < n && t[a] == '!')
			a++;
		if (a < n && t[a] == '~') {
			a++;
			for (b = n; b > a && t[b - 1] != '.'; b--)
				;
			a = b > a ? b : a;
		}
		return sb_add(o, t + a, n - a);
	}
	return sb_add(o, t, n);
}

/* Interpreted text whose content is s[c0..c1). */
static int add_interp(struct inl *in, const char *role, size_t rlen, bool ref,
		      size_t c0, size_t c1)
{
	struct strbuf t = { NULL, 0, 0 };
	int rc = add_unescaped(&t, in->s + c0, c1 - c0);

	if (rc == 0 && t.len)
		rc = add_shown(in->o, role, rlen, ref, t.s, t.len);
	sb_release(&t);
	return rc < 0 ? rc : 1;
}

/* The markup handlers below look at s[i]: 1 when they consumed markup up
 * to *next (having appended what it shows), 0 when s[i] is plain text,
 * or a negative errno. */

static int escape_at(struct inl *in, size_t i, size_t *next)
{
	*next = i + 2 < in->n ? i + 2 : in->n;
	if (i + 1 >= in->n || isspace((unsigned char)in->s[i + 1]))
		return 1; /* an escaped space, or a lone final backslash, is nothing */
	return sb_add(in->o, in->s + i + 1, 1) < 0 ? -ENOMEM : 1;
}

/* Emphasis, strong or an inline literal opened by len characters.
 * Two leniencies where docutils would show the markup: a literal glued
 * to what precedes it ("the``x``", ",``x``", a common slip) counts, with
 * a space put after a word, and markup inside emphasis or strong
 * ("**a ``b``**") is removed too. */
static int span_at(struct inl *in, size_t i, size_t len, enum inl_kind k, size_t *next)
{
	static const char *const what[] = { "inline emphasis", "inline strong", "inline literal" };
	const char *s = in->s;
	bool slip = false;
	size_t e;
	int rc = 0;

	if (!start_ok(s, in->n, i, len)) {
		slip = k == IK_LITERAL && i > 0 && !end_boundary(s, in->n, i + len);
		if (!slip)
			return 0;
	}
	e = find_end(in, k, i + len);
	if (e == NOPOS) {
		rc = slip ? 0 : warn_unterminated(in, what[k]);
		return rc < 0 ? rc : 0;
	}
	*next = e + len;
	if (slip && is_word(s[i - 1]))
		rc = sb_add(in->o, " ", 1);
	if (rc == 0 && k == IK_LITERAL)
		rc = sb_add(in->o, s + i + len, e - i - len);
	else if (rc == 0 && in->nested)
		rc = add_unescaped(in->o, s + i + len, e - i - len);
	else if (rc == 0)
		rc = inline_run(in->rs, s + i + len, e - i - len, in->line, in->o, true);
	return rc < 0 ? rc : 1;
}

/* Interpreted text or a phrase reference opening with the backquote at
 * i, after a role prefix when role is not NULL. */
static int interp_at(struct inl *in, size_t i, const char *role, size_t rlen, size_t *next)
{
	const char *s = in->s;
	size_t n = in->n, e, q, r;
	bool ref = false;
	int rc;

	if (role ? i + 1 >= n || isspace((unsigned char)s[i + 1]) : !start_ok(s, n, i, 1))
		return 0;
	e = find_end(in, IK_INTERP, i + 1);
	if (e == NOPOS) {
		/* without its role the backquote is tried again, and warned about */
		rc = role ? 0 : warn_unterminated(in, "inline interpreted text or phrase reference");
		return rc < 0 ? rc : 0;
	}
	q = e + 1;
	if (q < n && s[q] == '_') {
		ref = true;
		q += q + 1 < n && s[q + 1] == '_' ? 2 : 1;
	} else if (!role && q < n && s[q] == ':' && (r = role_len(s, n, q)) &&
		   end_boundary(s, n, q + r)) {
		role = s + q + 1;
		rlen = r - 2;
		q += r;
	}
	*next = q;
	return add_interp(in, role, rlen, ref, i + 1, e);
}

static int role_at(struct inl *in, size_t i, size_t *next)
{
	size_t r;

	if (!start_boundary(in->s, i) || !(r = role_len(in->s, in->n, i)) ||
	    i + r >= in->n || in->s[i + r] != '`' ||
	    (i + r + 1 < in->n && in->s[i + r + 1] == '`'))
		return 0;
	return interp_at(in, i + r, in->s + i + 1, r - 2, next);
}

static int subst_at(struct inl *in, size_t i, size_t *next)
{
	size_t e, q;
	int rc;

	if (!start_ok(in->s, in->n, i, 1))
		return 0;
	e = find_end(in, IK_SUBST, i + 1);
	if (e == NOPOS) {
		rc = warn_unterminated(in, "inline substitution reference");
		return rc < 0 ? rc : 0;
	}
	q = e + 1;
	while (q < in->n && in->s[q] == '_' && q < e + 3)
		q++;
	*next = q;
	rc = add_unescaped(in->o, in->s + i + 1, e - i - 1);
	return rc < 0 ? rc : 1;
}

/* Whether the word before the underscore at s[i] is a reference name
 * (docutils' simple name) standing at a markup boundary. */
static bool refname_before(const char *s, size_t i)
{
	size_t p = i, steps = 0;

	for (;;) {
		size_t run = p;

		while (p > 0 && is_word(s[p - 1]) && steps++ < 256)
			p--;
		if (p == run || steps >= 256)
			return false;
		if (p >= 2 && in_set(s[p - 1], "-_.+:") && is_word(s[p - 2])) {
			p--;
			continue;
		}
		return start_boundary(s, p);
	}
}

/* "name_" and "name__" references, and inline targets _`text`. */
static int underscore_at(struct inl *in, size_t i, size_t *next)
{
	const char *s = in->s;
	size_t n = in->n, q, e;
	int rc;

	if (i + 1 < n && s[i + 1] == '`') {
		if (!start_ok(s, n, i, 2) || (e = find_end(in, IK_INTERP, i + 2)) == NOPOS)
			return 0;
		*next = e + 1;
		rc = add_unescaped(in->o, s + i + 2, e - i - 2);
		return rc < 0 ? rc : 1;
	}
	if (i == 0 || !is_word(s[i - 1]))
		return 0;
	q = i + 1 < n && s[i + 1] == '_' ? i + 2 : i + 1;
	if (!end_boundary(s, n, q) || !refname_before(s, i))
		return 0;
	*next = q; /* the name is already out: drop the underscores */
	return 1;
}

/* Footnote and citation references: [1]_ [#]_ [#name]_ [*]_ [CIT]_. */
static int footnote_at(struct inl *in, size_t i, size_t *next)
{
	const char *s = in->s;
	size_t n = in->n, j;
	struct strbuf *o = in->o;

	if (!start_boundary(s, i))
		return 0;
	for (j = i + 1; j < n && j - i <= 64 && (isalnum((unsigned char)s[j]) ||
						  in_set(s[j], "#*-_.+:")); j++)
		;
	if (j == i + 1 || j + 1 >= n || s[j] != ']' || s[j + 1] != '_' ||
	    !end_boundary(s, n, j + 2))
		return 0;
	while (o->len && isspace((unsigned char)o->s[o->len - 1]))
		o->s[--o->len] = '\0'; /* "text [1]_." reads "text." */
	*next = j + 2;
	return 1;
}

static int markup_at(struct inl *in, size_t i, size_t *next)
{
	const char *s = in->s;
	bool twice = i + 1 < in->n && s[i + 1] == s[i];

	switch (s[i]) {
	case '\\':
		return escape_at(in, i, next);
	case '*':
		return twice ? span_at(in, i, 2, IK_STRONG, next) : span_at(in, i, 1, IK_EMPH, next);
	case '`':
		return twice ? span_at(in, i, 2, IK_LITERAL, next) : interp_at(in, i, NULL, 0, next);
	case '|':
		return subst_at(in, i, next);
	case ':':
		return role_at(in, i, next);
	case '_':
		return underscore_at(in, i, next);
	case '[':
		return footnote_at(in, i, next);
	default:
		return 0;
	}
}

/* Append the text of inline markup s[0..n) to o, markup removed. */
static int inline_run(struct rst *rs, const char *s, size_t n, size_t line,
		      struct strbuf *o, bool nested)
{
	struct inl in = { rs, s, n, line, { 0 }, o, nested };
	size_t i = 0, run = 0, next;
	int k, rc;

	for (k = 0; k < IK_KINDS; k++)
		in.nofind[k] = NOPOS;
	while (i < n) {
		if (!in_set(s[i], "\\*`|:_[")) {
			i++;
			continue;
		}
		if ((rc = sb_add(o, s + run, i - run)) < 0)
			return rc;
		run = i;
		next = i + 1;
		rc = markup_at(&in, i, &next);
		if (rc < 0)
			return rc;
		if (rc == 0) {
			i++; /* plain: it goes out with the run */
			continue;
		}
		i = run = next > i ? next : i + 1;
	}
	return sb_add(o, s + run, n - run);
}

static int inline_text(struct rst *rs, const char *s, size_t n, size_t line, struct strbuf *o)
{
	return inline_run(rs, s, n, line, o, false);
}

/* Runs of white space to one space (a line break when keep_lines and
 * the run holds one), none at either end. */
static void collapse(struct strbuf *b, bool keep_lines)
{
	size_t r, w = 0;
	bool gap = false, nl = false;

	for (r = 0; r < b->len; r++) {
		char c = b->s[r];

		if (isspace((unsigned char)c)) {
			gap = true;
			nl = nl || c == '\n';
			continue;
		}
		if (gap && w > 0)
			b->s[w++] = keep_lines && nl ? '\n' : ' ';
		gap = nl = false;
		b->s[w++] = c;
	}
	b->len = w;
	if (b->s)
		b->s[w] = '\0';
}

/* ---- blocks */

/* A prose block of the inline markup s[0..n) (read from line) covering
 * text bytes [from, to); nothing if no text remains. */
static int add_prose(struct rst *rs, const char *s, size_t n, size_t line,
		     size_t from, size_t to, bool keep_lines)
{
	struct strbuf o = { NULL, 0, 0 };
	char *text;
	int rc = inline_text(rs, s, n, line, &o);

	if (rc == 0)
		collapse(&o, keep_lines);
	if (rc < 0 || o.len == 0) {
		sb_release(&o);
		return rc;
	}
	if (!(text = sb_take(&o, false)))
		return -ENOMEM;
	return doc_add_block(rs->d, text, false, NULL, rs->section,
			     docsrc_original(rs->src, from), docsrc_original(rs->src, to));
}

/* Append the texts of lines [lo, hi) of v to b, a line break between. */
static int join_lines(const struct rst *rs, const struct rst_view *v, size_t lo, size_t hi,
		      struct strbuf *b)
{
	const char *s;
	size_t k, n;
	int rc = 0;

	for (k = lo; k < hi && rc == 0; k++) {
		s = rs_text(rs, v, k, &n);
		if (b->len)
			rc = sb_add(b, "\n", 1);
		if (rc == 0)
			rc = sb_add(b, s, n);
	}
	return rc;
}

/* Lines [lo, hi) of v as one prose block. */
static int add_lines_prose(struct rst *rs, const struct rst_view *v, size_t lo, size_t hi)
{
	struct strbuf raw = { NULL, 0, 0 };
	int rc;

	if (lo >= hi)
		return 0;
	rc = join_lines(rs, v, lo, hi, &raw);
	if (rc == 0 && raw.len)
		rc = add_prose(rs, raw.s, raw.len, lo, rs_pos(rs, v, lo), rs->lines[hi - 1].end,
			       false);
	sb_release(&raw);
	return rc;
}

/* Append line i without its first strip columns of indentation (a tab
 * that straddles the cut leaves spaces). */
static int add_dedented(const struct rst *rs, size_t i, int strip, struct strbuf *b)
{
	const struct rst_line *l = &rs->lines[i];
	size_t p = l->start;
	int col = 0, nc;

	while (p < l->end && col < strip && is_space_char(rs->t[p])) {
		nc = next_col(rs->t[p++], col);
		for (; nc > strip && col < nc - strip; col++)
			if (sb_add(b, " ", 1) < 0)
				return -ENOMEM;
		col = nc;
	}
	return sb_add(b, rs->t + p, l->end - p);
}

/* A code block of lines [lo, hi) of v, their common indentation
 * removed; with parsed, its inline markup removed too (parsed-literal). */
static int add_code(struct rst *rs, const struct rst_view *v, size_t lo, size_t hi,
		    const char *lang, bool parsed)
{
	struct strbuf b = { NULL, 0, 0 }, o = { NULL, 0, 0 };
	size_t i, from;
	int m, rc = 0;
	char *text;

	while (lo < hi && rs_blank(rs, v, lo))
		lo++;
	while (hi > lo && rs_blank(rs, v, hi - 1))
		hi--;
	if (lo >= hi)
		return 0;
	m = min_indent(rs, v, lo, hi);
	for (i = lo; i < hi && rc == 0; i++) {
		if (i > lo)
			rc = sb_add(&b, "\n", 1);
		if (rc == 0 && is_first(v, i))
			rc = sb_add(&b, rs->t + v->first, rs->lines[i].end - v->first);
		else if (rc == 0)
			rc = add_dedented(rs, i, m < 0 ? 0 : m, &b);
	}
	if (rc == 0 && parsed && (rc = inline_text(rs, b.s, b.len, lo, &o)) == 0) {
		sb_release(&b);
		b = o;
		o.s = NULL;
	}
	sb_release(&o);
	if (rc < 0 || !(text = sb_take(&b, false))) {
		sb_release(&b);
		return rc < 0 ? rc : -ENOMEM;
	}
	from = rs_pos(rs, v, lo);
	return doc_add_block(rs->d, text, true, lang && *lang ? lang : NULL, rs->section,
			     docsrc_original(rs->src, from),
			     docsrc_original(rs->src, rs->lines[hi - 1].end));
}

/* ---- sections */

/* The character an adornment line repeats, 0 if s[0..n) is not one. */
static char adornment(const char *s, size_t n)
{
	size_t k;

	if (n == 0 || (unsigned char)s[0] >= 0x80 || !ispunct((unsigned char)s[0]))
		return 0;
	for (k = 1; k < n; k++)
		if (s[k] != s[0])
			return 0;
	return s[0];
}

/* The level of a title in style (ch, over), as docutils assigns it:
 * known styles keep their level, a new one opens the next level. */
static int title_level(struct rst *rs, char ch, bool over, size_t line, int *level)
{
	int k;

	for (k = 0; k < rs->nstyles; k++)
		if (rs->styles[k].ch == ch && rs->styles[k].over == over)
			break;
	if (k == rs->nstyles && rs->nstyles == rs->level && rs->nstyles < RST_MAX_LEVELS) {
		rs->styles[rs->nstyles].ch = ch;
		rs->styles[rs->nstyles].over = over;
		*level = ++rs->nstyles;
		return 0;
	}
	*level = k + 1;
	if (k < rs->nstyles && *level <= rs->level + 1)
		return 0;
	*level = rs->level < RST_MAX_LEVELS ? rs->level + 1 : RST_MAX_LEVELS;
	return rs_warn(rs, line, "title level inconsistent with the titles before it, "
		       "placed under the current section");
}

/* Open the section titled s[0..n) (line line); 1 on success. */
static int add_title(struct rst *rs, const struct rst_view *v, size_t line,
		     const char *s, size_t n, char ch, bool over)
{
	struct strbuf o = { NULL, 0, 0 };
	int rc, level, k;
	char *title;

	if (v->depth > 0) {
		/* docutils refuses titles in indented blocks: keep the text */
		rc = rs_warn(rs, line, "section title inside an indented block, kept as text");
		if (rc == 0)
			rc = add_prose(rs, s, n, line, (size_t)(s - rs->t), (size_t)(s - rs->t) + n,
				       false);
		return rc < 0 ? rc : 1;
	}
	rc = inline_text(rs, s, n, line, &o);
	collapse(&o, false);
	if (rc < 0 || !(title = sb_take(&o, false))) {
		sb_release(&o);
		return rc < 0 ? rc : -ENOMEM;
	}
	if ((rc = title_level(rs, ch, over, line, &level)) < 0) {
		free(title);
		return rc;
	}
	for (k = level - 1; k < RST_MAX_LEVELS; k++) {
		free(rs->titles[k]);
		rs->titles[k] = NULL;
	}
	rs->titles[level - 1] = title;
	rs->level = level;
	if (level == 1 && !rs->d->title && *title && !(rs->d->title = strdup(title)))
		return -ENOMEM;
	rc = doc_add_section(rs->d, rs->titles, (size_t)level, &rs->section);
	return rc < 0 ? rc : 1;
}

/* A section title (underlined, or over- and underlined) or a transition
 * at line i: 1 when consumed up to *next, 0 if not one. */
static int section_title(struct rst *rs, const struct rst_view *v, size_t i, size_t *next)
{
	size_t n, tn, un;
	const char *s = rs_text(rs, v, i, &n), *t, *u;
	char c = adornment(s, n), uc;
	int rc = 0;

	if (c && i + 2 < v->hi && !rs_blank(rs, v, i + 1) && !rs_blank(rs, v, i + 2)) {
		t = rs_text(rs, v, i + 1, &tn);
		u = rs_text(rs, v, i + 2, &un);
		uc = adornment(u, un);
		if (uc && !adornment(t, tn) && rs_ind(rs, v, i + 2) == v->base &&
		    (text_width(t, tn) <= n || n >= 4)) {
			if (uc != c || un != n)
				rc = rs_warn(rs, i, "title overline and underline differ");
			else if (text_width(t, tn) > n)
				rc = rs_warn(rs, i, "title overline too short");
			*next = i + 3;
			return rc < 0 ? rc : add_title(rs, v, i + 1, t, tn, c, true);
		}
	}
	if (c && n >= 4) {
		/* a transition (dropped), or an overline missing its title */
		if (i + 1 < v->hi && !rs_blank(rs, v, i + 1))
			rc = rs_warn(rs, i, "section title overline without a matching underline");
		*next = i + 1;
		return rc < 0 ? rc : 1;
	}
	if (c || i + 1 >= v->hi || rs_blank(rs, v, i + 1) || rs_ind(rs, v, i + 1) != v->base)
		return 0;
	u = rs_text(rs, v, i + 1, &un);
	if (!(uc = adornment(u, un)))
		return 0;
	if (un < text_width(s, n)) {
		if (un < 4)
			return 0; /* too short to be meant as an underline: text */
		if ((rc = rs_warn(rs, i + 1, "title underline too short")) < 0)
			return rc;
	}
	*next = i + 2;
	return add_title(rs, v, i, s, n, uc, false);
}

/* ---- markers */

static bool is_explicit(const char *s, size_t n)
{
	return n >= 2 && s[0] == '.' && s[1] == '.' && (n == 2 || is_space_char(s[2]));
}

/* The length of a bullet marker, 0 if none. */
static size_t bullet(const char *s, size_t n)
{
	size_t m = 0;

	if (n >= 1 && in_set(s[0], "-*+"))
		m = 1;
	else if (n >= 3 && (memcmp(s, "\xE2\x80\xA2", 3) == 0 || memcmp(s, "\xE2\x80\xA3", 3) == 0 ||
			    memcmp(s, "\xE2\x81\x83", 3) == 0))
		m = 3;
	return m && (m == n || is_space_char(s[m])) ? m : 0;
}

/* The length of an enumerator ("1.", "a)", "(iv)", "#."), 0 if none. */
static size_t enumerator(const char *s, size_t n)
{
	size_t p = n > 0 && s[0] == '(', q = p;

	if (q < n && s[q] == '#') {
		q++;
	} else if (q < n && isdigit((unsigned char)s[q])) {
		while (q < n && isdigit((unsigned char)s[q]) && q - p < 9)
			q++;
	} else {
		while (q < n && isalpha((unsigned char)s[q]) && q - p < 8)
			q++;
		if (q - p > 1 && strspn(s + p, "ivxlcdm") < q - p && strspn(s + p, "IVXLCDM") < q - p)
			return 0; /* several letters: only a Roman numeral */
	}
	if (q == p || q >= n || (p ? s[q] != ')' : s[q] != '.' && s[q] != ')'))
		return 0;
	q++;
	return q == n || is_space_char(s[q]) ? q : 0;
}

/* An enumerator at line i starts a list only when the next line is
 * blank, indented or another item (else "A. Name wrote" is text). */
static size_t list_enumerator(const struct rst *rs, const struct rst_view *v, size_t i,
			      const char *s, size_t n)
{
	size_t m = enumerator(s, n), nn;
	const char *ns;

	if (!m || i + 1 >= v->hi || rs_blank(rs, v, i + 1) || rs_ind(rs, v, i + 1) > v->base)
		return m;
	ns = rs_text(rs, v, i + 1, &nn);
	return enumerator(ns, nn) ? m : 0;
}

/* The length of a field marker ":name:" followed by a blank, 0 if none
 * (":ref:`x`" is a role, not a field). */
static size_t field_marker(const char *s, size_t n)
{
	size_t q;

	if (n < 3 || s[0] != ':' || s[1] == ':' || isspace((unsigned char)s[1]))
		return 0;
	for (q = 1; q < n; q++) {
		if (s[q] == '\\') {
			q++;
			continue;
		}
		if (s[q] != ':')
			continue;
		if (q + 1 == n || is_space_char(s[q + 1]))
			return isspace((unsigned char)s[q - 1]) ? 0 : q + 1;
		if (s[q + 1] == '`')
			return 0;
	}
	return 0;
}

static bool line_is_field(const struct rst *rs, const struct rst_view *v, size_t i)
{
	size_t n;
	const char *s = rs_text(rs, v, i, &n);

	return field_marker(s, n) > 0;
}

/* ---- body elements */

/* An item (field, footnote) whose text starts at byte text of line i,
 * its body the lines indented under it, read at their least indentation. */
static int list_item(struct rst *rs, const struct rst_view *v, size_t i, size_t text,
		     size_t *next)
{
	size_t end = block_end(rs, v, i + 1, v->base, NULL);

	while (text < rs->lines[i].end && is_space_char(rs->t[text]))
		text++;
	*next = end;
	return parse_part(rs, v, i, end, text);
}

/* A bullet or enumerated list item. As in docutils, when text follows
 * the marker its column is the item's indentation: the item goes on
 * while lines are indented that far, and lines indented further (a
 * literal block under "text ::") are nested blocks. */
static int bullet_item(struct rst *rs, const struct rst_view *v, size_t i, size_t text,
		       size_t *next)
{
	struct rst_view s;
	size_t k, end;
	int col;

	while (text < rs->lines[i].end && is_space_char(rs->t[text]))
		text++;
	if (text >= rs->lines[i].end)
		return list_item(rs, v, i, text, next);
	col = col_at(rs, i, text);
	for (k = i + 1; k < v->hi && (rs_blank(rs, v, k) || rs->lines[k].indent >= col); k++)
		;
	for (end = k; end > i + 1 && rs_blank(rs, v, end - 1); end--)
		;
	*next = end;
	s = (struct rst_view){ i, end, col, text, v->depth + 1 };
	return parse_body(rs, &s);
}

static int block_quote(struct rst *rs, const struct rst_view *v, size_t i, size_t *next)
{
	bool abrupt;
	size_t end = block_end(rs, v, i, v->base, &abrupt);
	int rc = abrupt ? rs_warn(rs, end, "block quote ends without a blank line") : 0;

	*next = end;
	return rc < 0 ? rc : parse_part(rs, v, i, end, NOPOS);
}

static int line_block(struct rst *rs, const struct rst_view *v, size_t i, size_t *next)
{
	struct strbuf raw = { NULL, 0, 0 };
	const char *s;
	size_t k, n;
	int rc = 0;

	for (k = i; rc == 0 && k < v->hi && !rs_blank(rs, v, k); k++) {
		s = rs_text(rs, v, k, &n);
		if (rs_ind(rs, v, k) > v->base) {
			rc = sb_add(&raw, " ", 1); /* a long line continued */
		} else if (s[0] == '|' && (n == 1 || s[1] == ' ')) {
			rc = k > i ? sb_add(&raw, "\n", 1) : 0;
			s++;
			n--;
		} else {
			break;
		}
		if (rc == 0)
			rc = sb_add(&raw, s, n);
	}
	*next = k;
	if (rc == 0 && raw.len)
		rc = add_prose(rs, raw.s, raw.len, i, rs_pos(rs, v, i), rs->lines[k - 1].end, true);
	sb_release(&raw);
	return rc;
}

static int doctest_block(struct rst *rs, const struct rst_view *v, size_t i, size_t *next)
{
	size_t k = i;

	while (k < v->hi && !rs_blank(rs, v, k))
		k++;
	*next = k;
	return add_code(rs, v, i, k, "python", false);
}

/* The literal block expected after a paragraph that ended in "::" at
 * line k - 1: indented, or quoted (each line starting with the same
 * punctuation character). */
static int literal_block(struct rst *rs, const struct rst_view *v, size_t k, size_t *next)
{
	size_t nb = k, end, n, qn;
	const char *s, *q;

	*next = k;
	while (nb < v->hi && rs_blank(rs, v, nb))
		nb++;
	if (nb < v->hi && rs_ind(rs, v, nb) > v->base) {
		end = block_end(rs, v, nb, v->base, NULL);
		*next = end;
		return add_code(rs, v, nb, end, rs->lang, false);
	}
	if (nb < v->hi && nb > k) {
		s = rs_text(rs, v, nb, &n);
		if (ispunct((unsigned char)s[0]) && !is_explicit(s, n)) {
			for (end = nb; end < v->hi && !rs_blank(rs, v, end) &&
			     rs_ind(rs, v, end) == v->base; end++) {
				q = rs_text(rs, v, end, &qn);
				if (q[0] != s[0])
					break;
			}
			*next = end;
			return add_code(rs, v, nb, end, rs->lang, false);
		}
	}
	return rs_warn(rs, k - 1, "literal block expected after \"::\", none found");
}

/* Remove the "::" that announces a literal block as docutils renders
 * it: "Text::" -> "Text:", "Text ::" -> "Text", "::" -> "". */
static void strip_literal_marker(struct strbuf *b)
{
	if (b->len == 2) {
		b->len = 0;
	} else if (isspace((unsigned char)b->s[b->len - 3])) {
		b->len -= 2;
		while (b->len && isspace((unsigned char)b->s[b->len - 1]))
			b->len--;
	} else {
		b->len--;
	}
	b->s[b->len] = '\0';
}

/* A paragraph from line i, or a definition list item (a one-line term
 * with its definition indented right under it). */
static int paragraph(struct rst *rs, const struct rst_view *v, size_t i, size_t *next)
{
	struct strbuf raw = { NULL, 0, 0 };
	size_t k = i + 1, end;
	bool deeper, literal;
	int rc;

	while (k < v->hi && rs_ind(rs, v, k) == v->base)
		k++;
	deeper = k < v->hi && rs_ind(rs, v, k) > v->base;
	*next = k;
	rc = join_lines(rs, v, i, k, &raw);
	literal = rc == 0 && raw.len >= 2 && memcmp(raw.s + raw.len - 2, "::", 2) == 0;
	if (rc == 0 && deeper && !literal && k == i + 1) {
		end = block_end(rs, v, k, v->base, NULL);
		*next = end;
		rc = add_prose(rs, raw.s, raw.len, i, rs_pos(rs, v, i), rs->lines[i].end, false);
		sb_release(&raw);
		return rc < 0 ? rc : parse_part(rs, v, k, end, NOPOS);
	}
	if (rc == 0 && deeper && !literal)
		rc = rs_warn(rs, k, "unexpected indentation");
	if (rc == 0 && literal)
		strip_literal_marker(&raw);
	if (rc == 0 && raw.len)
		rc = add_prose(rs, raw.s, raw.len, i, rs_pos(rs, v, i), rs->lines[k - 1].end, false);
	sb_release(&raw);
	if (rc == 0 && literal)
		rc = literal_block(rs, v, k, next);
	return rc;
}

/* ---- tables */

/* "+---+---+": the top of a grid table. */
static bool grid_border(const char *s, size_t n)
{
	return n >= 5 && s[0] == '+' && s[1] == '-' && s[n - 2] == '-' && s[n - 1] == '+' &&
	       only_chars(s, n, "+-");
}

/* "===  ===": a border of a simple table (two columns at least). */
static bool simple_border(const char *s, size_t n)
{
	size_t k = 0, runs = 0;

	while (k < n) {
		if (s[k] == '=') {
			runs++;
			k += strspn(s + k, "=");
		} else if (s[k] == ' ') {
			k++;
		} else {
			return false;
		}
	}
	return runs >= 2;
}

struct seg {
	size_t from, to;
};

/* Cut line i into the column ranges [lo[c], hi[c]) (in columns), byte
 * ranges into seg. */
static void split_columns(const struct rst *rs, size_t i, const int *lo, const int *hi,
			  size_t ncols, struct seg *seg)
{
	const struct rst_line *l = &rs->lines[i];
	size_t p = l->start, q, c;
	int col = 0;

	for (c = 0; c < ncols; c++)
		seg[c].from = seg[c].to = NOPOS;
	c = 0;
	while (p < l->end && c < ncols) {
		if (col >= hi[c]) {
			c++;
			continue;
		}
		for (q = p + 1; q < l->end && ((unsigned char)rs->t[q] & 0xC0) == 0x80; q++)
			; /* the whole character */
		if (col >= lo[c]) {
			if (seg[c].from == NOPOS)
				seg[c].from = p;
			seg[c].to = q;
		}
		col = next_col(rs->t[p], col);
		p = q;
	}
}

/* Whether a cut holds nothing but blanks. */
static bool seg_blank(const struct rst *rs, const struct seg *g)
{
	size_t p;

	for (p = g->from; g->from != NOPOS && p < g->to; p++)
		if (!isspace((unsigned char)rs->t[p]))
			return false;
	return true;
}

static int add_cell_text(const struct rst *rs, struct strbuf *cell, const struct seg *g)
{
	size_t a = g->from, b = g->to;
	int rc = 0;

	if (a == NOPOS)
		return 0;
	while (a < b && isspace((unsigned char)rs->t[a]))
		a++;
	while (b > a && isspace((unsigned char)rs->t[b - 1]))
		b--;
	if (a == b)
		return 0;
	if (cell->len)
		rc = sb_add(cell, "\n", 1);
	return rc < 0 ? rc : sb_add(cell, rs->t + a, b - a);
}

/* Append the row held in cells to table: cell texts joined by " | ". */
static int flush_row(struct rst *rs, struct strbuf *cells, size_t ncols, size_t line,
		     struct strbuf *table)
{
	struct strbuf o = { NULL, 0, 0 };
	bool first = true;
	size_t c;
	int rc = 0;

	for (c = 0; c < ncols && rc == 0; c++) {
		o.len = 0;
		if (cells[c].len == 0)
			continue;
		rc = inline_text(rs, cells[c].s, cells[c].len, line, &o);
		cells[c].len = 0;
		collapse(&o, false);
		if (rc < 0 || o.len == 0)
			continue;
		if (first && table->len)
			rc = sb_add(table, "\n", 1);
		else if (!first)
			rc = sb_add(table, " | ", 3);
		if (rc == 0)
			rc = sb_add(table, o.s, o.len);
		first = false;
	}
	sb_release(&o);
	return rc;
}

/* The cell text of a table of lines [i, end) as one prose block. */
static int add_table(struct rst *rs, const struct rst_view *v, size_t i, size_t end,
		     struct strbuf *table)
{
	char *text;

	if (table->len == 0)
		return 0;
	if (!(text = sb_take(table, false)))
		return -ENOMEM;
	return doc_add_block(rs->d, text, false, NULL, rs->section,
			     docsrc_original(rs->src, rs_pos(rs, v, i)),
			     docsrc_original(rs->src, rs->lines[end - 1].end));
}

static void release_cells(struct strbuf *cells, size_t n)
{
	size_t c;

	for (c = 0; cells && c < n; c++)
		sb_release(&cells[c]);
	free(cells);
}

static int grid_table(struct rst *rs, const struct rst_view *v, size_t i, size_t *next)
{
	int lo[RST_MAX_COLUMNS], hi[RST_MAX_COLUMNS], plus = -1, col;
	struct strbuf *cells = NULL, table = { NULL, 0, 0 };
	struct seg seg[RST_MAX_COLUMNS];
	size_t n, k, end, c, ncols = 0;
	const char *s = rs_text(rs, v, i, &n);
	int rc = 0;

	col = col_at(rs, i, rs_pos(rs, v, i));
	for (k = 0; k < n; k++, col++) {
		if (s[k] != '+')
			continue;
		if (plus >= 0 && ncols < RST_MAX_COLUMNS) {
			lo[ncols] = plus + 1;
			hi[ncols++] = col;
		} else if (plus >= 0) {
			hi[ncols - 1] = col; /* too many columns: the last takes the rest */
		}
		plus = col;
	}
	for (end = i + 1; end < v->hi && rs_ind(rs, v, end) == v->base; end++) {
		s = rs_text(rs, v, end, &n);
		if (s[0] != '+' && s[0] != '|')
			break;
	}
	*next = end;
	if (!(cells = calloc(ncols, sizeof(*cells))))
		return -ENOMEM;
	for (k = i + 1; k < end && rc == 0; k++) {
		s = rs_text(rs, v, k, &n);
		if (s[0] == '+') {
			rc = flush_row(rs, cells, ncols, k, &table);
			continue;
		}
		split_columns(rs, k, lo, hi, ncols, seg);
		for (c = 0; c < ncols && rc == 0; c++)
			rc = add_cell_text(rs, &cells[c], &seg[c]);
	}
	if (rc == 0)
		rc = flush_row(rs, cells, ncols, end - 1, &table);
	s = rs_text(rs, v, end - 1, &n);
	if (rc == 0 && s[0] != '+')
		rc = rs_warn(rs, end - 1, "grid table without a bottom border");
	if (rc == 0)
		rc = add_table(rs, v, i, end, &table);
	sb_release(&table);
	release_cells(cells, ncols);
	return rc;
}

/* Where the simple table whose top border is line i ends (after its
 * bottom border), NOPOS if it has none. As in docutils the second border
 * after the top, or one followed by a blank line, is the bottom. A search
 * that fails saw at most one border line up to the view's end, so at
 * most one more table can start in the view: failures stay linear. */
static size_t simple_table_end(const struct rst *rs, const struct rst_view *v, size_t i)
{
	size_t k, n, found = 0;
	const char *s;

	for (k = i + 1; k < v->hi; k++) {
		if (rs_blank(rs, v, k))
			continue;
		s = rs_text(rs, v, k, &n);
		if (simple_border(s, n) &&
		    (++found == 2 || k + 1 == v->hi || rs_blank(rs, v, k + 1)))
			return k + 1;
	}
	return NOPOS;
}

static int simple_table(struct rst *rs, const struct rst_view *v, size_t i, size_t *next)
{
	int lo[RST_MAX_COLUMNS], hi[RST_MAX_COLUMNS], col;
	struct strbuf *cells = NULL, table = { NULL, 0, 0 };
	struct seg seg[RST_MAX_COLUMNS];
	size_t n, k, c, ncols = 0, end = simple_table_end(rs, v, i);
	const char *s = rs_text(rs, v, i, &n);
	bool row = false;
	int rc = 0;

	*next = i + 1;
	if (end == NOPOS)
		return rs_warn(rs, i, "simple table without a bottom border");
	*next = end;
	col = col_at(rs, i, rs_pos(rs, v, i));
	for (k = 0; k < n; k++) {
		if (s[k] == '=' && (k == 0 || s[k - 1] == ' ') && ncols < RST_MAX_COLUMNS) {
			lo[ncols] = col + (int)k;
			hi[ncols++] = 1 << 30;
			if (ncols > 1)
				hi[ncols - 2] = col + (int)k;
		}
	}
	if (!(cells = calloc(ncols, sizeof(*cells))))
		return -ENOMEM;
	for (k = i + 1; k + 1 < end && rc == 0; k++) {
		if (rs_blank(rs, v, k))
			continue;
		s = rs_text(rs, v, k, &n);
		if (simple_border(s, n) || only_chars(s, n, "- ")) {
			rc = flush_row(rs, cells, ncols, k, &table);
			row = false;
			continue;
		}
		split_columns(rs, k, lo, hi, ncols, seg);
		/* text in the first column starts a row; without, it continues one */
		if (row && !seg_blank(rs, &seg[0]))
			rc = flush_row(rs, cells, ncols, k, &table);
		row = true;
		for (c = 0; c < ncols && rc == 0; c++)
			rc = add_cell_text(rs, &cells[c], &seg[c]);
	}
	if (rc == 0)
		rc = flush_row(rs, cells, ncols, end - 1, &table);
	if (rc == 0)
		rc = add_table(rs, v, i, end, &table);
	sb_release(&table);
	release_cells(cells, ncols);
	return rc;
}

/* ---- directives */

enum arg_mode {
	ARG_PROSE,    /* the argument is prose (a title, an object name) */
	ARG_CONTENT,  /* no argument: text after "::" is the start of the body */
	ARG_DROP,     /* the argument is a path, a target, a layout: dropped */
	ARG_LANG,     /* the argument is the code's language */
};

enum body_mode {
	BODY_PROSE,   /* parsed as reStructuredText */
	BODY_CODE,    /* verbatim code */
	BODY_PARSED,  /* code with inline markup (parsed-literal) */
	BODY_NAMES,   /* one object name a line (autosummary) */
	BODY_CARD,    /* prose in parts cut by ^^^ and +++ lines (sphinx-design) */
	BODY_NONE,    /* no body: only the argument and options count */
	BODY_SKIP,    /* the whole directive is dropped */
	BODY_HIGHLIGHT, /* sets the language of literal blocks */
};

struct dspec {
	const char *name;
	unsigned char arg, body;
	const char *lang;    /* BODY_CODE without ARG_LANG */
	bool alt;            /* keep the :alt: option as prose */
};

static const struct dspec directives[] = {
	{ "code-block", ARG_LANG, BODY_CODE, NULL, false },
	{ "code", ARG_LANG, BODY_CODE, NULL, false },
	{ "sourcecode", ARG_LANG, BODY_CODE, NULL, false },
	{ "testcode", ARG_DROP, BODY_CODE, "python", false },
	{ "testsetup", ARG_DROP, BODY_CODE, "python", false },
	{ "testcleanup", ARG_DROP, BODY_CODE, "python", false },
	{ "doctest", ARG_DROP, BODY_CODE, "python", false },
	{ "ipython", ARG_DROP, BODY_CODE, "python", false },
	{ "jupyter-execute", ARG_DROP, BODY_CODE, "python", false },
	{ "testoutput", ARG_DROP, BODY_CODE, NULL, false },
	{ "parsed-literal", ARG_CONTENT, BODY_PARSED, NULL, false },
	{ "highlight", ARG_LANG, BODY_HIGHLIGHT, NULL, false },
	{ "image", ARG_DROP, BODY_NONE, NULL, true },
	{ "figure", ARG_DROP, BODY_PROSE, NULL, true },
	{ "autosummary", ARG_CONTENT, BODY_NAMES, NULL, false },
	{ "card", ARG_PROSE, BODY_CARD, NULL, false },
	{ "grid-item-card", ARG_PROSE, BODY_CARD, NULL, false },
	/* containers whose argument is a layout or a link target */
	{ "grid", ARG_DROP, BODY_PROSE, NULL, false },
	{ "grid-item", ARG_DROP, BODY_PROSE, NULL, false },
	{ "container", ARG_DROP, BODY_PROSE, NULL, false },
	{ "button-ref", ARG_DROP, BODY_PROSE, NULL, false },
	{ "button-link", ARG_DROP, BODY_PROSE, NULL, false },
	{ "query-param-ref", ARG_DROP, BODY_PROSE, NULL, false },
	{ "only", ARG_DROP, BODY_PROSE, NULL, false },
	{ "ifconfig", ARG_DROP, BODY_PROSE, NULL, false },
	/* no argument: the text after "::" is body */
	{ "note", ARG_CONTENT, BODY_PROSE, NULL, false },
	{ "tip", ARG_CONTENT, BODY_PROSE, NULL, false },
	{ "hint", ARG_CONTENT, BODY_PROSE, NULL, false },
	{ "important", ARG_CONTENT, BODY_PROSE, NULL, false },
	{ "warning", ARG_CONTENT, BODY_PROSE, NULL, false },
	{ "caution", ARG_CONTENT, BODY_PROSE, NULL, false },
	{ "danger", ARG_CONTENT, BODY_PROSE, NULL, false },
	{ "error", ARG_CONTENT, BODY_PROSE, NULL, false },
	{ "attention", ARG_CONTENT, BODY_PROSE, NULL, false },
	{ "seealso", ARG_CONTENT, BODY_PROSE, NULL, false },
	{ "todo", ARG_CONTENT, BODY_PROSE, NULL, false },
	{ "tab-set", ARG_CONTENT, BODY_PROSE, NULL, false },
	{ "tabs", ARG_CONTENT, BODY_PROSE, NULL, false },
	{ "glossary", ARG_CONTENT, BODY_PROSE, NULL, false },
	{ "callout", ARG_CONTENT, BODY_PROSE, NULL, false },
	{ "annotations", ARG_CONTENT, BODY_PROSE, NULL, false },
	{ "hlist", ARG_CONTENT, BODY_PROSE, NULL, false },
	{ "compound", ARG_CONTENT, BODY_PROSE, NULL, false },
	{ "epigraph", ARG_CONTENT, BODY_PROSE, NULL, false },
	{ "highlights", ARG_CONTENT, BODY_PROSE, NULL, false },
	{ "pull-quote", ARG_CONTENT, BODY_PROSE, NULL, false },
	/* dropped whole */
	{ "literalinclude", ARG_DROP, BODY_SKIP, NULL, false },
	{ "include", ARG_DROP, BODY_SKIP, NULL, false },
	{ "raw", ARG_DROP, BODY_SKIP, NULL, false },
	{ "toctree", ARG_DROP, BODY_SKIP, NULL, false },
	{ "contents", ARG_DROP, BODY_SKIP, NULL, false },
	{ "currentmodule", ARG_DROP, BODY_SKIP, NULL, false },
	{ "module", ARG_DROP, BODY_SKIP, NULL, false },
	{ "py:module", ARG_DROP, BODY_SKIP, NULL, false },
	{ "py:currentmodule", ARG_DROP, BODY_SKIP, NULL, false },
	{ "index", ARG_DROP, BODY_SKIP, NULL, false },
	{ "meta", ARG_DROP, BODY_SKIP, NULL, false },
	{ "title", ARG_DROP, BODY_SKIP, NULL, false },
	{ "sectnum", ARG_DROP, BODY_SKIP, NULL, false },
	{ "sectionauthor", ARG_DROP, BODY_SKIP, NULL, false },
	{ "moduleauthor", ARG_DROP, BODY_SKIP, NULL, false },
	{ "codeauthor", ARG_DROP, BODY_SKIP, NULL, false },
	{ "default-role", ARG_DROP, BODY_SKIP, NULL, false },
	{ "role", ARG_DROP, BODY_SKIP, NULL, false },
	{ "target-notes", ARG_DROP, BODY_SKIP, NULL, false },
	{ NULL, 0, 0, NULL, false },
};

/* Any other directive (tab-item, dropdown, admonition, topic, rubric,
 * versionadded, auto*, py:function, unknown ones): its argument is prose
 * (a title, an object name) and its body is parsed. */
static const struct dspec other_directive = { "", ARG_PROSE, BODY_PROSE, NULL, false };

static const struct dspec *directive_spec(const char *name, size_t len)
{
	size_t i;

	for (i = 0; directives[i].name; i++)
		if (strlen(directives[i].name) == len && strncasecmp(directives[i].name, name, len) == 0)
			return &directives[i];
	return &other_directive;
}

/* A directive block [i, end): the argument after "::" on line i, more
 * argument lines [i + 1, opt_lo), option lines [opt_lo, opt_end), and
 * the body from body_lo on (after the blank line that ends the header). */
struct dparts {
	size_t arg0;
	size_t opt_lo, opt_end, head_end, body_lo, end;
};

static void split_directive(const struct rst *rs, const struct rst_view *v, size_t i,
			    size_t end, size_t arg0, struct dparts *p)
{
	size_t k;
	int oi;

	p->arg0 = arg0;
	p->end = end;
	for (p->head_end = i + 1; p->head_end < end && !rs_blank(rs, v, p->head_end); p->head_end++)
		;
	for (p->opt_lo = i + 1; p->opt_lo < p->head_end && !line_is_field(rs, v, p->opt_lo);
	     p->opt_lo++)
		;
	p->opt_end = p->opt_lo;
	if (p->opt_lo < p->head_end) {
		/* option lines, and the lines that continue their values */
		oi = rs->lines[p->opt_lo].indent;
		for (k = p->opt_lo + 1; k < p->head_end &&
		     (line_is_field(rs, v, k) || rs->lines[k].indent > oi); k++)
			;
		p->opt_end = k;
	}
	p->body_lo = p->opt_end < p->head_end ? p->opt_end : p->head_end;
}

/* The argument (line i after "::" and the lines up to the options) as
 * one prose block. */
static int argument_prose(struct rst *rs, const struct rst_view *v, size_t i,
			  const struct dparts *p)
{
	struct rst_view av = { i, p->opt_lo, v->base, p->arg0, v->depth };

	return add_lines_prose(rs, &av, i, p->opt_lo);
}

/* The value of option name (":alt: text") as prose. */
static int option_prose(struct rst *rs, const struct rst_view *v, const struct dparts *p,
			const char *name)
{
	struct rst_view ov = *v;
	size_t k, j, n, m, len = strlen(name);
	const char *s;

	for (k = p->opt_lo; k < p->opt_end; k++) {
		s = rs_text(rs, v, k, &n);
		m = field_marker(s, n);
		if (m != len + 2 || strncasecmp(s + 1, name, len) != 0)
			continue;
		for (j = k + 1; j < p->opt_end && !line_is_field(rs, v, j); j++)
			;
		ov.lo = k;
		ov.hi = j;
		ov.first = (size_t)(s - rs->t) + m;
		while (ov.first < rs->lines[k].end && is_space_char(rs->t[ov.first]))
			ov.first++;
		return add_lines_prose(rs, &ov, k, j);
	}
	return 0;
}

/* autosummary: the names listed, "~" dropped, one a line. */
static int names_block(struct rst *rs, const struct rst_view *v, size_t lo, size_t hi)
{
	struct strbuf b = { NULL, 0, 0 };
	size_t k, n, from = NOPOS, to = 0;
	const char *s;
	char *text;
	int rc = 0;

	for (k = lo; k < hi && rc == 0; k++) {
		if (rs_blank(rs, v, k) || line_is_field(rs, v, k))
			continue;
		s = rs_text(rs, v, k, &n);
		if (s[0] == '~') {
			s++;
			n--;
		}
		if (b.len)
			rc = sb_add(&b, "\n", 1);
		if (rc == 0)
			rc = sb_add(&b, s, n);
		from = from == NOPOS ? rs_pos(rs, v, k) : from;
		to = rs->lines[k].end;
	}
	if (rc < 0 || b.len == 0) {
		sb_release(&b);
		return rc;
	}
	if (!(text = sb_take(&b, false)))
		return -ENOMEM;
	return doc_add_block(rs->d, text, false, NULL, rs->section,
			     docsrc_original(rs->src, from), docsrc_original(rs->src, to));
}

/* A sphinx-design card body: header, body and footer parts. */
static int card_body(struct rst *rs, const struct rst_view *v, size_t lo, size_t hi)
{
	size_t k, n, from = lo;
	const char *s;
	int rc = 0;

	for (k = lo; k < hi && rc == 0; k++) {
		s = rs_text(rs, v, k, &n);
		if (n >= 3 && (only_chars(s, n, "^") || only_chars(s, n, "+"))) {
			rc = parse_part(rs, v, from, k, NOPOS);
			from = k + 1;
		}
	}
	return rc < 0 ? rc : parse_part(rs, v, from, hi, NOPOS);
}

/* Code or parsed-literal content: what follows the options, or lines
 * right under the directive when it has no blank line (which docutils
 * would take for arguments: a warning). */
static int directive_code(struct rst *rs, const struct rst_view *v, size_t i,
			  const struct dparts *p, const char *lang, bool parsed)
{
	int rc = 0;

	if (p->opt_lo > i + 1) {
		if (!parsed) /* parsed-literal takes no argument: these are its content */
			rc = rs_warn(rs, i + 1, "directive content without a blank line before it");
		if (rc == 0 && p->opt_lo < p->opt_end)
			rc = add_code(rs, v, i + 1, p->opt_lo, lang, parsed);
		else if (rc == 0)
			return add_code(rs, v, i + 1, p->end, lang, parsed);
	}
	return rc < 0 ? rc : add_code(rs, v, p->body_lo, p->end, lang, parsed);
}

/* The language word of the argument into lang[size]. */
static void argument_word(const struct rst *rs, size_t i, size_t arg0, char *lang, size_t size)
{
	size_t n = 0;

	while (arg0 + n < rs->lines[i].end && n + 1 < size && !is_space_char(rs->t[arg0 + n]))
		n++;
	memcpy(lang, rs->t + arg0, n);
	lang[n] = '\0';
}

/* Whether the directive at line i has any text besides its options
 * (and besides its argument, unless the argument is content). */
static bool has_content(const struct rst *rs, size_t i, const struct dspec *ds,
			const struct dparts *p)
{
	return (ds->arg == ARG_CONTENT && p->arg0 < rs->lines[i].end) || p->opt_lo > i + 1 ||
	       p->body_lo < p->end;
}

static int directive(struct rst *rs, const struct rst_view *v, size_t i, size_t end,
		     const struct dspec *ds, size_t arg0)
{
	struct dparts p;
	char lang[32] = "";
	int rc = 0;

	if (ds->body == BODY_SKIP)
		return 0;
	split_directive(rs, v, i, end, arg0, &p);
	if (!has_content(rs, i, ds, &p) && (ds->arg == ARG_CONTENT || ds->body == BODY_CODE) &&
	    (rc = rs_warn(rs, i, "directive without content")) < 0)
		return rc; /* docutils: "content block expected" */
	if (ds->arg == ARG_LANG)
		argument_word(rs, i, arg0, lang, sizeof(lang));
	if (ds->body == BODY_HIGHLIGHT) {
		bool plain = strcasecmp(lang, "default") == 0 || strcasecmp(lang, "none") == 0;

		snprintf(rs->lang, sizeof(rs->lang), "%s", plain ? "" : lang);
		return 0;
	}
	if (ds->arg == ARG_PROSE)
		rc = argument_prose(rs, v, i, &p);
	if (rc == 0 && ds->alt)
		rc = option_prose(rs, v, &p, "alt");
	if (rc < 0)
		return rc;
	switch (ds->body) {
	case BODY_CODE:
		if (ds->arg == ARG_LANG && !*lang)
			snprintf(lang, sizeof(lang), "%s", rs->lang); /* .. highlight:: */
		return directive_code(rs, v, i, &p, ds->arg == ARG_LANG ? lang : ds->lang, false);
	case BODY_PARSED:
		return directive_code(rs, v, i, &p, NULL, true);
	case BODY_NAMES:
		return names_block(rs, v, i + 1, end);
	case BODY_CARD:
		return card_body(rs, v, p.body_lo, end);
	case BODY_NONE:
		return 0;
	default:
		break;
	}
	if (ds->arg == ARG_CONTENT) {
		/* the text after "::" and the lines under it begin the body */
		rc = arg0 < rs->lines[i].end ? parse_part(rs, v, i, p.opt_lo, arg0)
					     : parse_part(rs, v, i + 1, p.opt_lo, NOPOS);
	}
	return rc < 0 ? rc : parse_part(rs, v, p.body_lo, end, NOPOS);
}

/* The length of a directive name followed by "::" at s[0..n), 0 if none. */
static size_t directive_name(const char *s, size_t n)
{
	size_t k = 0;

	while (k < n && is_word(s[k]))
		k++;
	if (k == 0)
		return 0;
	while (k + 1 < n && in_set(s[k], "-_.+:") && is_word(s[k + 1]))
		for (k++; k < n && is_word(s[k]); k++)
			;
	if (k + 2 > n || s[k] != ':' || s[k + 1] != ':' || (k + 2 < n && !is_space_char(s[k + 2])))
		return 0;
	return k;
}

/* The label of a footnote or citation ".. [x] " at s, its length with
 * the brackets, 0 if none. */
static size_t footnote_label(const char *s, size_t n)
{
	size_t k;

	if (n < 3 || s[0] != '[')
		return 0;
	for (k = 1; k < n && k <= 64 && s[k] != ']' && !isspace((unsigned char)s[k]); k++)
		;
	if (k == 1 || k >= n || s[k] != ']' || (k + 1 < n && !is_space_char(s[k + 1])))
		return 0;
	return k + 1;
}

/* ".. " at line i: a directive, footnote, target, substitution
 * definition or comment, with the lines indented under it. */
static int explicit_markup(struct rst *rs, const struct rst_view *v, size_t i, size_t *next)
{
	size_t n, p = 2, m, end, nn;
	const char *s = rs_text(rs, v, i, &n), *ns;
	bool abrupt;
	int rc = 0;

	while (p < n && is_space_char(s[p]))
		p++;
	if (p == n && (i + 1 >= v->hi || rs_blank(rs, v, i + 1))) {
		*next = i + 1; /* an empty comment: what follows is not part of it */
		return 0;
	}
	end = block_end(rs, v, i + 1, v->base, &abrupt);
	*next = end;
	if (abrupt) {
		ns = rs_text(rs, v, end, &nn);
		if (!is_explicit(ns, nn) && !(nn >= 2 && ns[0] == '_' && ns[1] == '_'))
			rc = rs_warn(rs, end, "explicit markup ends without a blank line");
	}
	if (rc < 0 || p == n || s[p] == '_' || s[p] == '|')
		return rc; /* comments, targets and labels, substitution definitions */
	if ((m = footnote_label(s + p, n - p)))
		return list_item(rs, v, i, (size_t)(s - rs->t) + p + m, next);
	if ((m = directive_name(s + p, n - p))) {
		size_t arg0 = (size_t)(s - rs->t) + p + m + 2;

		while (arg0 < rs->lines[i].end && is_space_char(rs->t[arg0]))
			arg0++;
		return directive(rs, v, i, end, directive_spec(s + p, m), arg0);
	}
	return 0; /* a comment */
}

/* ---- the body */

/* Read the element that starts at line i (not blank); *next is the line
 * after it. */
static int parse_element(struct rst *rs, const struct rst_view *v, size_t i, size_t *next)
{
	size_t n, m, pos = rs_pos(rs, v, i);
	const char *s = rs_text(rs, v, i, &n);
	int rc;

	*next = i + 1;
	if (rs_ind(rs, v, i) > v->base)
		return block_quote(rs, v, i, next);
	if (is_explicit(s, n))
		return explicit_markup(rs, v, i, next);
	if (n >= 2 && s[0] == '_' && s[1] == '_' && (n == 2 || is_space_char(s[2]))) {
		*next = block_end(rs, v, i + 1, v->base, NULL); /* anonymous target */
		return 0;
	}
	if ((rc = section_title(rs, v, i, next)) != 0)
		return rc < 0 ? rc : 0;
	if (grid_border(s, n))
		return grid_table(rs, v, i, next);
	if (simple_border(s, n))
		return simple_table(rs, v, i, next);
	if (n >= 3 && memcmp(s, ">>>", 3) == 0 && (n == 3 || is_space_char(s[3])))
		return doctest_block(rs, v, i, next);
	if (s[0] == '|' && (n == 1 || is_space_char(s[1])))
		return line_block(rs, v, i, next);
	if ((m = bullet(s, n)) || (m = list_enumerator(rs, v, i, s, n)))
		return bullet_item(rs, v, i, pos + m, next);
	if (field_marker(s, n)) {
		if (v->depth == 0 && rs->d->nblocks == 0) {
			/* file-wide metadata (:orphan:, :tocdepth:...), not text */
			*next = block_end(rs, v, i + 1, v->base, NULL);
			return 0;
		}
		return list_item(rs, v, i, pos + 1, next); /* "name: body" */
	}
	return paragraph(rs, v, i, next);
}

/* Past RST_MAX_DEPTH: every run of non-blank lines is a paragraph. */
static int parse_flat(struct rst *rs, const struct rst_view *v)
{
	size_t i = v->lo, k;
	int rc = 0;

	while (i < v->hi && rc == 0) {
		if (rs_blank(rs, v, i)) {
			i++;
			continue;
		}
		for (k = i; k < v->hi && !rs_blank(rs, v, k); k++)
			;
		rc = add_lines_prose(rs, v, i, k);
		i = k;
	}
	return rc;
}

static int parse_body(struct rst *rs, const struct rst_view *v)
{
	size_t i = v->lo, next;
	int rc;

	if (v->depth > RST_MAX_DEPTH)
		return parse_flat(rs, v);
	while (i < v->hi) {
		if (rs_blank(rs, v, i)) {
			i++;
			continue;
		}
		next = i + 1;
		if ((rc = parse_element(rs, v, i, &next)) < 0)
			return rc;
		i = next > i ? next : i + 1;
	}
	return 0;
}

int parse_rst(doc *d, const struct doc_source *src)
{
	struct rst rs;
	struct rst_view top;
	int rc, k;

	memset(&rs, 0, sizeof(rs));
	rs.d = d;
	rs.src = src;
	rs.t = src->text;
	rs.section = -1;
	rc = cut_lines(&rs);
	if (rc == 0) {
		top = (struct rst_view){ 0, rs.nlines, 0, NOPOS, 0 };
		rc = parse_body(&rs, &top);
	}
	for (k = 0; k < RST_MAX_LEVELS; k++)
		free(rs.titles[k]);
	free(rs.lines);
	return rc;
}
