/*
 * docs_internal.h - what the document parsers share: the source text after
 * UTF-8 repair with its map back to the file's byte offsets, a growable
 * string, and the calls that append sections, blocks and warnings to a doc.
 * Not part of the public interface (document.h).
 */
#ifndef DOCTOR_DOCS_INTERNAL_H
#define DOCTOR_DOCS_INTERNAL_H

#include "document.h"

/* The text a parser reads. After repair each invalid byte became U+FFFD
 * (3 bytes), so positions in `text` are mapped back through fix_at/shift:
 * from repaired position fix_at[i] on, subtract fix_shift[i]. */
struct doc_source {
	const char *text;        /* repaired, NUL-terminated; borrowed */
	size_t len;
	size_t orig_len;         /* length of the file as given */
	const size_t *fix_at;    /* ascending; borrowed */
	const size_t *fix_shift;
	size_t nfix;
	const size_t *line_starts; /* start of each line of `text` */
	size_t nlines;
};

/* The file offset of repaired position pos. */
size_t docsrc_original(const struct doc_source *src, size_t pos);
/* The file offset of 1-based line and byte column in the repaired text;
 * column one past the line's end is clamped to the end. */
size_t docsrc_line_col(const struct doc_source *src, int line, int col);

struct strbuf {
	char *s;                 /* owned; NUL-terminated when non-NULL */
	size_t len, cap;
};
int sb_add(struct strbuf *b, const char *p, size_t n);
/* The string, trimmed of surrounding whitespace when trim; ownership moves
 * to the caller and b is emptied. NULL on ENOMEM. */
char *sb_take(struct strbuf *b, bool trim);
void sb_release(struct strbuf *b);

/* Append a block; text is stolen (freed on error). */
int doc_add_block(doc *d, char *text, bool code, const char *language,
		  int section, size_t start, size_t end);
/* Append a section with a copy of path[0..depth) and the anchor of the
 * last heading; its index goes to *index. */
int doc_add_section(doc *d, char *const *path, size_t depth, int *index);
__attribute__((format(printf, 2, 3)))
int doc_warn(doc *d, const char *fmt, ...);

/* ---- Markdown, also used for notebook cells */

#define MD_LEVELS 6
struct md_headings {
	char *titles[MD_LEVELS]; /* open headings by level; owned */
	int section;             /* current section index, -1 before any */
};
void md_headings_init(struct md_headings *h);
void md_headings_release(struct md_headings *h);

/* Parse Markdown text[0..len) into d. With src, text is src->text and
 * offsets come from cmark's positions; without, every block gets the
 * range [cell_start, cell_end). */
int md_parse_into(doc *d, struct md_headings *h, const char *text, size_t len,
		  const struct doc_source *src, size_t cell_start, size_t cell_end);

int parse_markdown(doc *d, const struct doc_source *src);
int parse_notebook(doc *d, const struct doc_source *src, const char *name, bool outputs);
int parse_text(doc *d, const struct doc_source *src);
int parse_rst(doc *d, const struct doc_source *src);
int parse_html(doc *d, const struct doc_source *src);

#endif
