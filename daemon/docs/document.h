/*
 * document.h - a documentation page as doctor's retrieval sees it, and the
 * parsers that produce it.
 *
 * A parser turns one file (Markdown, reStructuredText, HTML, a Jupyter
 * notebook, plain text) into a document: its title and a flat list of
 * blocks in reading order. Each block belongs to a section (its path of
 * headings, and the anchor Sphinx/docutils would give the innermost one) and
 * is either prose or code. Markup is gone from prose: link text kept and
 * targets dropped, images reduced to their alt text; code blocks are kept
 * whole. Byte offsets point into the source file.
 *
 * Ownership: a document owns all its strings; free with doc_free().
 * Functions return 0 or a negative errno.
 */
#ifndef DOCTOR_DOCUMENT_H
#define DOCTOR_DOCUMENT_H

#include <stdbool.h>
#include <stddef.h>

enum doc_format { DOC_MARKDOWN, DOC_RST, DOC_HTML, DOC_NOTEBOOK, DOC_TEXT };

typedef struct doc_block {
	char *text;          /* prose (markup removed) or code (verbatim) */
	bool code;
	char *language;      /* code: "python", "bash"...; may be NULL */
	int section;         /* index into doc.sections, -1 before any heading */
	size_t start, end;   /* byte offsets in the source */
} doc_block;

typedef struct doc_section {
	char **path;         /* headings from the top, e.g. {"Ray Core", "Tasks"} */
	size_t depth;
	char *anchor;        /* docutils id of the innermost heading ("ray-core") */
} doc_section;

typedef struct doc {
	char *title;         /* first top-level heading, else the file name */
	doc_section *sections;
	size_t nsections;
	doc_block *blocks;
	size_t nblocks;
	char **warnings;     /* problems met (malformed input...), owned */
	size_t nwarnings;
} doc;

/* The format by file name (.md, .markdown, .rst, .txt, .html, .htm,
 * .ipynb); -ENOTSUP for others. */
int doc_format_of(const char *path, enum doc_format *out);

/* Parse len bytes of text (need not be NUL-terminated) read from `name`
 * (used for the fallback title and warnings). Invalid UTF-8 is repaired
 * (U+FFFD), binary input (NUL bytes) is -EINVAL. *out owned by caller. */
int doc_parse(enum doc_format fmt, const char *name, const char *text, size_t len, doc **out);
/* doc_parse with flags: DOC_NOTEBOOK_OUTPUTS indexes a notebook's stored
 * text outputs too (each code cell's, as a code block of language
 * "output", at most 4 KiB), which are skipped by default. */
#define DOC_NOTEBOOK_OUTPUTS 1u
int doc_parse_flags(enum doc_format fmt, const char *name, const char *text, size_t len,
		    unsigned flags, doc **out);
void doc_free(doc *d);

/* The id docutils/Sphinx gives a section title: lower-case, runs of
 * characters other than ASCII letters and digits become one '-', leading
 * and trailing '-' dropped ("Ray Core: Tasks!" -> "ray-core-tasks").
 * Newly allocated; NULL on ENOMEM. */
char *doc_anchor(const char *title);

/* ---- chunking */

enum chunk_strategy { CHUNK_SECTION, CHUNK_PARAGRAPH };

struct chunk_options {
	enum chunk_strategy strategy;  /* SECTION: a chunk never crosses a section;
	                                  PARAGRAPH: each block is a unit */
	size_t max_chars;              /* 0: 1500 */
	size_t overlap;                /* chars repeated from the previous chunk
	                                  when a unit is split; 0: none */
};

/* A struct, not a typedef: the name doc_chunk is the function below. */
struct doc_chunk {
	char *text;          /* owned */
	int section;         /* index into the document's sections, or -1 */
	size_t start, end;   /* byte offsets in the source */
	bool has_code;
};

/* Cut d into chunks: units (a section's blocks, or single blocks) are packed
 * up to max_chars; a longer unit is split at paragraph, then line, then word
 * boundaries, never inside a code block that fits in max_chars on its own.
 * *out is an array of *n chunks, owned by the caller (doc_chunks_free). */
int doc_chunk(const doc *d, const struct chunk_options *opt, struct doc_chunk **out, size_t *n);
void doc_chunks_free(struct doc_chunk *c, size_t n);

#endif
