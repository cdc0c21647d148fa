/*
 * parse_markdown.c - Markdown (CommonMark, parsed by cmark) to a document.
 *
 * Headings open sections; each paragraph (also those inside list items and
 * block quotes; tables, which CommonMark lacks, arrive as paragraphs) is a
 * prose block with its markup removed: emphasis dropped, link text kept
 * and targets dropped, images reduced to their alt text, inline code kept
 * as its text, raw HTML dropped. Fenced and indented code blocks are code
 * blocks whose language is the info string's first word; for a MyST
 * directive fence such as "{code-block} python" it is the word after the
 * directive. The body of other MyST directives ({note}, {tip}...) is
 * parsed as Markdown prose, their ":option:" lines dropped. Also used for
 * the Markdown cells of notebooks.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cmark.h>

#include "docs_internal.h"

void md_headings_init(struct md_headings *h)
{
	memset(h, 0, sizeof(*h));
	h->section = -1;
}

void md_headings_release(struct md_headings *h)
{
	int i;

	for (i = 0; i < MD_LEVELS; i++) {
		free(h->titles[i]);
		h->titles[i] = NULL;
	}
}

/* The plain text of inline content under node, markup removed; owned by
 * the caller, NULL on ENOMEM. */
static char *inline_text(cmark_node *node)
{
	cmark_iter *it = cmark_iter_new(node);
	struct strbuf b = { NULL, 0, 0 };
	cmark_event_type ev;
	const char *lit;
	int rc = 0;

	if (!it)
		return NULL;
	while (rc == 0 && (ev = cmark_iter_next(it)) != CMARK_EVENT_DONE) {
		cmark_node *n = cmark_iter_get_node(it);

		if (ev != CMARK_EVENT_ENTER)
			continue;
		switch (cmark_node_get_type(n)) {
		case CMARK_NODE_TEXT:
		case CMARK_NODE_CODE:
			lit = cmark_node_get_literal(n);
			rc = lit ? sb_add(&b, lit, strlen(lit)) : 0;
			break;
		case CMARK_NODE_SOFTBREAK:
			rc = sb_add(&b, " ", 1);
			break;
		case CMARK_NODE_LINEBREAK:
			rc = sb_add(&b, "\n", 1);
			break;
		default:
			break; /* emphasis, links, images: their children carry the text */
		}
	}
	cmark_iter_free(it);
	if (rc < 0) {
		sb_release(&b);
		return NULL;
	}
	return sb_take(&b, true);
}

/* Where a Markdown walk puts its blocks. */
struct md_walk {
	doc *d;
	struct md_headings *h;
	const struct doc_source *src; /* NULL: a notebook cell */
	size_t cell_start, cell_end;
};

static void node_range(const struct md_walk *w, cmark_node *n, size_t *start, size_t *end)
{
	if (!w->src) {
		*start = w->cell_start;
		*end = w->cell_end;
		return;
	}
	*start = docsrc_line_col(w->src, cmark_node_get_start_line(n),
				 cmark_node_get_start_column(n));
	/* end_column is the last byte's column: one past it is exclusive */
	*end = docsrc_line_col(w->src, cmark_node_get_end_line(n),
			       cmark_node_get_end_column(n) + 1);
}

static int on_heading(struct md_walk *w, cmark_node *n)
{
	int level = cmark_node_get_heading_level(n), i;
	char *title = inline_text(n);
	char *path[MD_LEVELS];
	size_t depth = 0;

	if (!title)
		return -ENOMEM;
	if (level < 1 || level > MD_LEVELS)
		level = MD_LEVELS;
	for (i = level - 1; i < MD_LEVELS; i++) {
		free(w->h->titles[i]);
		w->h->titles[i] = NULL;
	}
	w->h->titles[level - 1] = title;
	if (level == 1 && !w->d->title && !(w->d->title = strdup(title)))
		return -ENOMEM;
	/* skipped levels (# then ###) leave no empty step in the path */
	for (i = 0; i < level; i++)
		if (w->h->titles[i])
			path[depth++] = w->h->titles[i];
	return doc_add_section(w->d, path, depth, &w->h->section);
}

static int on_paragraph(struct md_walk *w, cmark_node *n)
{
	char *text = inline_text(n);
	size_t start, end;

	if (!text)
		return -ENOMEM;
	if (!*text) {
		free(text);
		return 0; /* only raw HTML or images without alt text */
	}
	node_range(w, n, &start, &end);
	return doc_add_block(w->d, text, false, NULL, w->h->section, start, end);
}

/* The language of a fence's info string into lang[size]; "" for none. */
static void fence_language(const char *info, char *lang, size_t size)
{
	size_t n;

	lang[0] = '\0';
	if (!info)
		return;
	info += strspn(info, " \t");
	if (!*info)
		return;
	if (*info == '{') { /* MyST directive: "{code-block} python" */
		n = strcspn(info, " \t");
		if (info[n - 1] != '}')
			return;
		info += n;
		info += strspn(info, " \t");
	}
	n = strcspn(info, " \t{");
	if (n >= size)
		n = size - 1;
	memcpy(lang, info, n);
	lang[n] = '\0';
}

/* Past the ":option: value" lines (and the blank line after them) that
 * open a MyST directive's body: they configure Sphinx, they are not code. */
static const char *skip_directive_options(const char *lit)
{
	const char *eol, *body = lit;

	while (body[strspn(body, " \t")] == ':' && (eol = strchr(body, '\n')) &&
	       memchr(body + strspn(body, " \t") + 1, ':', (size_t)(eol - body - 1)))
		body = eol + 1;
	while (body != lit && *body == '\n')
		body++;
	return body;
}

static int walk(struct md_walk *w, cmark_node *root);

/* Whether a MyST directive fence ("{note}", "{code-block} python") holds
 * code; admonitions and the like hold Markdown. */
static bool directive_is_code(const char *info)
{
	static const char *const code[] = {
		"{code-block}", "{code}", "{sourcecode}", "{code-cell}", "{literalinclude}",
		"{testcode}", "{testoutput}", "{doctest}", "{ipython}", NULL,
	};
	size_t i, n = strcspn(info, " \t");

	for (i = 0; code[i]; i++)
		if (strlen(code[i]) == n && strncmp(info, code[i], n) == 0)
			return true;
	return false;
}

static int on_code(struct md_walk *w, cmark_node *n)
{
	const char *lit = cmark_node_get_literal(n), *info = cmark_node_get_fence_info(n);
	size_t len, start, end;
	char lang[64], *text;

	lit = lit ? lit : "";
	if (info && info[0] == '{')
		lit = skip_directive_options(lit);
	len = strlen(lit);
	node_range(w, n, &start, &end);
	if (info && info[0] == '{' && !directive_is_code(info)) {
		/* the body of a note, tip, ... is prose: parse it, with the
		 * whole directive as every block's range */
		struct md_walk inner = { w->d, w->h, NULL, start, end };
		cmark_node *root = cmark_parse_document(lit, len, CMARK_OPT_DEFAULT);
		int rc;

		if (!root)
			return -ENOMEM;
		rc = walk(&inner, root);
		cmark_node_free(root);
		return rc;
	}
	fence_language(info, lang, sizeof(lang));
	if (len && lit[len - 1] == '\n')
		len--;
	if (!(text = strndup(lit, len)))
		return -ENOMEM;
	return doc_add_block(w->d, text, true, *lang ? lang : NULL, w->h->section,
			     start, end);
}

static int walk(struct md_walk *w, cmark_node *root)
{
	cmark_iter *it = cmark_iter_new(root);
	cmark_event_type ev;
	cmark_node *n;
	int rc = 0;

	if (!it)
		return -ENOMEM;
	while (rc == 0 && (ev = cmark_iter_next(it)) != CMARK_EVENT_DONE) {
		if (ev != CMARK_EVENT_ENTER)
			continue;
		n = cmark_iter_get_node(it);
		switch (cmark_node_get_type(n)) {
		case CMARK_NODE_HEADING:
			rc = on_heading(w, n);
			cmark_iter_reset(it, n, CMARK_EVENT_EXIT);
			break;
		case CMARK_NODE_PARAGRAPH:
			rc = on_paragraph(w, n);
			cmark_iter_reset(it, n, CMARK_EVENT_EXIT);
			break;
		case CMARK_NODE_CODE_BLOCK:
			rc = on_code(w, n);
			break;
		default:
			break; /* containers: their paragraphs follow */
		}
	}
	cmark_iter_free(it);
	return rc;
}

int md_parse_into(doc *d, struct md_headings *h, const char *text, size_t len,
		  const struct doc_source *src, size_t cell_start, size_t cell_end)
{
	struct md_walk w = { d, h, src, cell_start, cell_end };
	cmark_node *root = cmark_parse_document(text, len, CMARK_OPT_DEFAULT);
	int rc;

	if (!root)
		return -ENOMEM;
	rc = walk(&w, root);
	cmark_node_free(root);
	return rc;
}

int parse_markdown(doc *d, const struct doc_source *src)
{
	struct md_headings h;
	int rc;

	md_headings_init(&h);
	rc = md_parse_into(d, &h, src->text, src->len, src, 0, 0);
	md_headings_release(&h);
	return rc;
}
