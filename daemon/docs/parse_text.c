/*
 * parse_text.c - plain text to a document: paragraphs are runs of
 * non-blank lines, each a prose block kept as written (trailing spaces
 * trimmed); the title is the first non-blank line. Plain text has no
 * headings, so every block is outside any section (-1).
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "docs_internal.h"

static bool line_blank(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!isspace((unsigned char)s[i]))
			return false;
	return true;
}

/* A paragraph from src->text[start..end): trimmed, then added. */
static int add_paragraph(doc *d, const struct doc_source *src, size_t start, size_t end)
{
	char *text;

	while (end > start && isspace((unsigned char)src->text[end - 1]))
		end--;
	while (start < end && isspace((unsigned char)src->text[start]))
		start++;
	if (!(text = strndup(src->text + start, end - start)))
		return -ENOMEM;
	if (!d->title) {
		d->title = strndup(text, strcspn(text, "\r\n"));
		if (!d->title) {
			free(text);
			return -ENOMEM;
		}
	}
	return doc_add_block(d, text, false, NULL, -1, docsrc_original(src, start),
			     docsrc_original(src, end));
}

int parse_text(doc *d, const struct doc_source *src)
{
	size_t i, line_start, line_end, para = 0;
	bool in_para = false;
	int rc;

	for (i = 0; i < src->nlines; i++) {
		line_start = src->line_starts[i];
		line_end = i + 1 < src->nlines ? src->line_starts[i + 1] : src->len;
		if (!line_blank(src->text + line_start, line_end - line_start)) {
			if (!in_para)
				para = line_start;
			in_para = true;
			continue;
		}
		if (in_para && (rc = add_paragraph(d, src, para, line_start)) < 0)
			return rc;
		in_para = false;
	}
	if (in_para)
		return add_paragraph(d, src, para, src->len);
	return 0;
}
