/*
 * parse_notebook.c - a Jupyter notebook (nbformat 4 JSON) to a document.
 *
 * Markdown cells are parsed as Markdown, their headings carrying on from
 * cell to cell; code cells become code blocks in the notebook's language
 * (metadata.kernelspec.language, else metadata.language_info.name); raw
 * cells and all outputs are skipped. A file that is not a notebook (not
 * JSON, no "cells" array) is -EINVAL; a single malformed cell is skipped
 * with a warning. JSON parsers keep no positions, so a block's byte range
 * is its whole cell: from the cell's "cell_type" key to the next cell's.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "docs_internal.h"

/* The notebook's language, borrowed from nb; NULL if it names none. */
static const char *notebook_language(json_t *nb)
{
	json_t *meta = json_object_get(nb, "metadata");
	const char *lang;

	lang = json_string_value(json_object_get(json_object_get(meta, "kernelspec"), "language"));
	if (!lang)
		lang = json_string_value(json_object_get(json_object_get(meta, "language_info"), "name"));
	return lang && *lang ? lang : NULL;
}

/* A cell's source (a string or an array of strings) joined; owned by the
 * caller. -EINVAL when it is neither. */
static int cell_source(json_t *cell, char **out)
{
	json_t *source = json_object_get(cell, "source"), *line;
	struct strbuf b = { NULL, 0, 0 };
	size_t i;

	*out = NULL;
	if (json_is_string(source))
		return (*out = strndup(json_string_value(source), json_string_length(source))) ? 0 : -ENOMEM;
	if (!json_is_array(source))
		return -EINVAL;
	json_array_foreach(source, i, line) {
		if (!json_is_string(line)) {
			sb_release(&b);
			return -EINVAL;
		}
		if (sb_add(&b, json_string_value(line), json_string_length(line)) < 0) {
			sb_release(&b);
			return -ENOMEM;
		}
	}
	return (*out = sb_take(&b, false)) ? 0 : -ENOMEM;
}

/* The byte range of cell i: its "cell_type" key to the next one. *at is
 * where the search resumes. */
static void cell_range(const struct doc_source *src, size_t *at, size_t *start, size_t *end)
{
	static const char key[] = "\"cell_type\"";
	const char *p = strstr(src->text + *at, key), *q;

	if (!p) {
		*start = docsrc_original(src, *at);
		*end = docsrc_original(src, src->len);
		return;
	}
	q = strstr(p + 1, key);
	*start = docsrc_original(src, (size_t)(p - src->text));
	*end = docsrc_original(src, q ? (size_t)(q - src->text) : src->len);
	*at = (size_t)(p - src->text) + 1;
}

/* One cell; name and index for warnings. */
static int parse_cell(doc *d, struct md_headings *h, json_t *cell, const char *name,
		      size_t index, const char *lang, size_t start, size_t end)
{
	const char *type = json_string_value(json_object_get(cell, "cell_type"));
	char *source = NULL;
	size_t len;
	int rc;

	if (!type)
		return doc_warn(d, "%s: cell %zu has no cell_type, skipped", name, index);
	if (strcmp(type, "markdown") != 0 && strcmp(type, "code") != 0)
		return 0; /* raw cells are for nbconvert, not for reading */
	rc = cell_source(cell, &source);
	if (rc == -EINVAL)
		return doc_warn(d, "%s: cell %zu: source is not text, skipped", name, index);
	if (rc < 0)
		return rc;
	len = strlen(source);
	if (strcmp(type, "markdown") == 0) {
		rc = md_parse_into(d, h, source, len, NULL, start, end);
		free(source);
		return rc;
	}
	while (len && (source[len - 1] == '\n' || source[len - 1] == ' '))
		source[--len] = '\0';
	if (!len) {
		free(source);
		return 0;
	}
	return doc_add_block(d, source, true, lang, h->section, start, end);
}

int parse_notebook(doc *d, const struct doc_source *src, const char *name)
{
	struct md_headings h;
	json_error_t err;
	json_t *nb, *cells, *cell;
	size_t i, at = 0, start, end;
	int rc = 0;

	if (!name)
		name = "notebook";
	md_headings_init(&h);
	nb = json_loadb(src->text, src->len, 0, &err);
	cells = json_object_get(nb, "cells");
	if (!json_is_array(cells)) {
		/* not a notebook: doc_parse hands out no doc, only the error */
		rc = -EINVAL;
		goto out;
	}
	json_array_foreach(cells, i, cell) {
		start = end = 0;
		if (json_is_string(json_object_get(cell, "cell_type")))
			cell_range(src, &at, &start, &end);
		if (!json_is_object(cell))
			rc = doc_warn(d, "%s: cell %zu is not an object, skipped", name, i);
		else
			rc = parse_cell(d, &h, cell, name, i, notebook_language(nb), start, end);
		if (rc < 0)
			break;
	}
out:
	md_headings_release(&h);
	json_decref(nb);
	return rc;
}
