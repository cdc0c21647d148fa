/*
 * parse_notebook.c - a Jupyter notebook (nbformat 4 JSON) to a document.
 *
 * Markdown cells are parsed as Markdown, their headings carrying on from
 * cell to cell; code cells become code blocks in the notebook's language
 * (metadata.kernelspec.language, else metadata.language_info.name); raw
 * cells are skipped, and so are the stored outputs unless asked for
 * (DOC_NOTEBOOK_OUTPUTS): then each code cell's text outputs (streams,
 * text/plain results, an error's name and value; never images) follow it
 * as one code block of language "output", cut at NB_OUTPUT_MAX bytes. A
 * file that is not a notebook (not
 * JSON, no "cells" array) is -EINVAL; a single malformed cell is skipped
 * with a warning. JSON parsers keep no positions, so a block's byte range
 * is its whole cell: from the cell's "cell_type" key to the next cell's.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "docs_internal.h"

/* The most bytes of one cell's outputs indexed: a cell that printed a
 * training log must not drown the page's prose. */
#define NB_OUTPUT_MAX 4096

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

/* A multi-line string of nbformat (a string or an array of strings)
 * joined; owned by the caller. -EINVAL when it is neither. */
static int nb_text(json_t *source, char **out)
{
	json_t *line;
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

/* The text of one output, appended to b: a stream's text, a result's
 * text/plain, an error's "name: value". Others (images, HTML only) add
 * nothing. */
static int output_text(json_t *out, struct strbuf *b)
{
	const char *type = json_string_value(json_object_get(out, "output_type"));
	char *text = NULL;
	int rc = 0;

	if (!type)
		return 0;
	if (strcmp(type, "stream") == 0)
		rc = nb_text(json_object_get(out, "text"), &text);
	else if (strcmp(type, "execute_result") == 0 || strcmp(type, "display_data") == 0)
		rc = nb_text(json_object_get(json_object_get(out, "data"), "text/plain"), &text);
	else if (strcmp(type, "error") == 0) {
		const char *name = json_string_value(json_object_get(out, "ename"));
		const char *value = json_string_value(json_object_get(out, "evalue"));

		if (name && (rc = sb_add(b, name, strlen(name))) == 0 && value && *value &&
		    (rc = sb_add(b, ": ", 2)) == 0)
			rc = sb_add(b, value, strlen(value));
		return rc == 0 ? sb_add(b, "\n", 1) : rc;
	}
	if (rc == -EINVAL)
		return 0;                      /* malformed: nothing to read */
	if (rc == 0 && text && *text)
		rc = sb_add(b, text, strlen(text));
	if (rc == 0 && text && *text && text[strlen(text) - 1] != '\n')
		rc = sb_add(b, "\n", 1);
	free(text);
	return rc;
}

/* A code cell's outputs as one block of language "output", at most
 * NB_OUTPUT_MAX bytes (cut at a line end, else at a character start). */
static int parse_outputs(doc *d, struct md_headings *h, json_t *cell, size_t start,
			 size_t end)
{
	json_t *outputs = json_object_get(cell, "outputs"), *out;
	struct strbuf b = { NULL, 0, 0 };
	char *text, *nl;
	size_t i, len;
	int rc = 0;

	json_array_foreach(outputs, i, out) {
		if (json_is_object(out) && (rc = output_text(out, &b)) < 0)
			break;
		if (b.len > NB_OUTPUT_MAX)
			break;
	}
	text = rc == 0 ? sb_take(&b, true) : NULL;
	sb_release(&b);
	if (rc < 0 || !text)
		return rc < 0 ? rc : -ENOMEM;
	len = strlen(text);
	if (len > NB_OUTPUT_MAX) {
		len = NB_OUTPUT_MAX;
		nl = memrchr(text, '\n', len);
		if (nl && nl > text)
			len = (size_t)(nl - text);
		else
			while (len > 0 && ((unsigned char)text[len] & 0xC0) == 0x80)
				len--;  /* cut before a character, not inside one */
		text[len] = '\0';
	}
	if (!*text) {
		free(text);
		return 0;
	}
	return doc_add_block(d, text, true, "output", h->section, start, end);
}

/* One cell; name and index for warnings. */
static int parse_cell(doc *d, struct md_headings *h, json_t *cell, const char *name,
		      size_t index, const char *lang, bool outputs, size_t start, size_t end)
{
	const char *type = json_string_value(json_object_get(cell, "cell_type"));
	char *source = NULL;
	size_t len;
	int rc;

	if (!type)
		return doc_warn(d, "%s: cell %zu has no cell_type, skipped", name, index);
	if (strcmp(type, "markdown") != 0 && strcmp(type, "code") != 0)
		return 0; /* raw cells are for nbconvert, not for reading */
	rc = nb_text(json_object_get(cell, "source"), &source);
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
	if (!len)
		free(source);
	else if ((rc = doc_add_block(d, source, true, lang, h->section, start, end)) < 0)
		return rc;
	return outputs ? parse_outputs(d, h, cell, start, end) : 0;
}

int parse_notebook(doc *d, const struct doc_source *src, const char *name, bool outputs)
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
			rc = parse_cell(d, &h, cell, name, i, notebook_language(nb), outputs,
					start, end);
		if (rc < 0)
			break;
	}
out:
	md_headings_release(&h);
	json_decref(nb);
	return rc;
}
