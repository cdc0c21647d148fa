/*
 * parse_html.c - HTML (parsed by libxml2's HTML parser, in recovery mode)
 * to a document.
 *
 * What is kept. The title is the first <title>, else the first <h1>.
 * h1..h6 open sections, their path built like Markdown's (a skipped level
 * leaves no empty step). A section's anchor is the id Sphinx wrote when
 * there is one: the heading's own id attribute, else the id of the
 * <section> or <div class="section"> it opens (its parent, when the heading
 * is the first one directly inside it); without ids it is computed from the
 * heading's text the docutils way (doc_anchor). Prose blocks are the text
 * of block elements (p, li, dt, dd, blockquote, figcaption, caption, div,
 * body...), so text lying directly in a div or in body is prose too; a
 * block element nested in another ends the outer one's text so far, and
 * what follows it starts a new block. A table row is one block, its cells
 * joined by " | " (a table nested in a cell cuts the row there). In prose,
 * whitespace runs (and no-break spaces) collapse to one space, <br> is a
 * line break, link text is kept and targets dropped, an image is its alt
 * text, inline <code> is its text. A <pre> is one code block, its text
 * verbatim (one leading newline and trailing whitespace dropped); its
 * language comes from a class "highlight-X" (Sphinx), "language-X" or
 * "lang-X" on the pre, its two nearest ancestors or a <code> right inside
 * it ("default" and "none" mean none). Entities are decoded by libxml2.
 *
 * What is dropped: script, style, noscript, template, nav, footer,
 * embedded objects (iframe, object, embed, svg, canvas, audio, video),
 * form controls (input, select, option, textarea, button...), everything
 * in <head> but the title, a <header> outside article/section/main/aside
 * (the page banner; inside them it holds their heading), comments, and
 * navigation chrome: elements whose role is navigation, search, banner or
 * contentinfo, Sphinx's classes "sphinxsidebar", "related", "headerlink"
 * (the "¶" permalink in headings) and "viewcode-link", and the sidebars,
 * skip link and previous/next links of pydata-sphinx-theme and furo.
 *
 * Byte offsets are exact, not per line: libxml2's line numbers stop at
 * 65535 (XML_PARSE_BIG_LINES is not honoured by the 2.9 HTML parser) and a
 * long text node keeps the line where its first chunk ended, so instead
 * the parser's SAX callbacks are wrapped and record where each node starts
 * and ends in the input (_private and psvi of the node, which the HTML
 * parser leaves unused): an element from its '<' to after its end tag, a
 * text node from the end of the previous token to the end of its last
 * chunk. A prose block spans from its first character of text to its last;
 * a code block spans its whole <pre> element.
 *
 * Bad input: libxml2 recovers from unclosed elements, stray end tags and
 * missing html/body silently. Like a browser it lets an unclosed comment,
 * tag or quoted attribute value run to the end of the file, and it stops
 * at elements nested more than 256 deep: the text after is lost, and a
 * warning says so. An empty or blank file is an empty document; input
 * libxml2 turns into no document at all gets a warning.
 * Warnings cannot name the file (parse_html is not told it); they start
 * with "HTML:".
 *
 * Threads: parse_html may run in several threads at once. Each call has
 * its own parser context (and so its own SAX handler copy and dictionary)
 * and tree; xmlInitParser runs once, under pthread_once, since libxml2 2.9
 * does not guard its first call; nothing global (xmlCleanupParser, error
 * handlers) is touched. Errors are silenced per context by the options;
 * the last error libxml2 keeps per thread lives in thread-local storage,
 * freed when the thread ends.
 *
 * Ownership: the libxml2 tree and context are freed before returning;
 * everything added to the doc is owned by it.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "docs_internal.h"

#define LEVELS 6

/* ---- positions: the parser's SAX callbacks wrapped */

/* Per parse: the input and the default handlers being wrapped. */
struct sax_pos {
	const char *text;       /* what libxml2 parses (src->text) */
	size_t len;
	size_t base;            /* bytes libxml2 skips before counting: a BOM */
	size_t mark;            /* end of the last token known to have ended:
	                           where the next text or tag begins */
	startElementSAXFunc start_element;
	endElementSAXFunc end_element;
	charactersSAXFunc characters;
	ignorableWhitespaceSAXFunc whitespace;
	cdataBlockSAXFunc cdata;
	commentSAXFunc comment;
	processingInstructionSAXFunc pi;
	internalSubsetSAXFunc subset;
};

/* The parser's offset in the input. Not xmlByteConsumed: with the UTF-8
 * decoder installed, that converts the rest of the buffer back on every
 * call. UTF-8 to UTF-8 decoding keeps every byte, so the decoded count is
 * the input's (after the BOM libxml2 skips). */
static size_t sax_now(void *ctx)
{
	xmlParserCtxtPtr ctxt = ctx;
	struct sax_pos *p = ctxt->_private;
	size_t pos;

	if (!ctxt->input || !ctxt->input->cur || !ctxt->input->base)
		return p->mark;
	pos = p->base + ctxt->input->consumed + (size_t)(ctxt->input->cur - ctxt->input->base);
	return pos > p->len ? p->len : pos;
}

/* Stored as offset + 1: 0 means not recorded. */
static void *pos_tag(size_t pos)
{
	return (void *)(uintptr_t)(pos + 1);
}

/* Whether a start tag for name begins at text[lt]. */
static bool tag_at(const char *text, size_t lt, const char *name)
{
	size_t n = strlen(name);

	return text[lt] == '<' && strncasecmp(text + lt + 1, name, n) == 0 &&
	       !isalnum((unsigned char)text[lt + 1 + n]);
}

static void sax_start_element(void *ctx, const xmlChar *name, const xmlChar **atts)
{
	xmlParserCtxtPtr ctxt = ctx;
	struct sax_pos *p = ctxt->_private;
	size_t now = sax_now(ctx), lt = now;
	bool real;

	if (p->start_element)
		p->start_element(ctx, name, atts);
	/* called with the cursor on the tag's '>' (an element closed by this
	 * tag was reported in the middle of it); an implied element (html,
	 * body) has no tag of its own */
	while (lt > p->mark && !tag_at(p->text, lt, (const char *)name))
		lt--;
	real = tag_at(p->text, lt, (const char *)name);
	if (ctxt->node && ctxt->node->type == XML_ELEMENT_NODE && !ctxt->node->_private)
		ctxt->node->_private = pos_tag(real ? lt : p->mark);
	if (!real)
		return;
	if (now < p->len && p->text[now] == '>')
		now++;
	else if (now + 1 < p->len && p->text[now] == '/' && p->text[now + 1] == '>')
		now += 2;
	p->mark = now;
}

static void sax_end_element(void *ctx, const xmlChar *name)
{
	xmlParserCtxtPtr ctxt = ctx;
	struct sax_pos *p = ctxt->_private;
	size_t now = sax_now(ctx);

	if (ctxt->node && ctxt->node->type == XML_ELEMENT_NODE && ctxt->node->name &&
	    xmlStrEqual(ctxt->node->name, name))
		ctxt->node->psvi = pos_tag(now);
	if (p->end_element)
		p->end_element(ctx, name);
	/* after an end tag; an element closed by the next tag is reported
	 * in the middle of that tag, which must stay findable */
	if (now > p->mark && p->text[now - 1] == '>')
		p->mark = now;
}

static void sax_characters(void *ctx, const xmlChar *ch, int len)
{
	xmlParserCtxtPtr ctxt = ctx;
	struct sax_pos *p = ctxt->_private;
	size_t now = sax_now(ctx);
	xmlNodePtr t;

	if (p->characters)
		p->characters(ctx, ch, len);
	/* the text went to the current element's last child, new or grown */
	t = ctxt->node ? ctxt->node->last : NULL;
	if (t && t->type == XML_TEXT_NODE) {
		if (!t->_private)
			t->_private = pos_tag(p->mark);
		t->psvi = pos_tag(now);
	}
	p->mark = now;
}

/* The other tokens only move the mark past themselves. */
static void sax_past(void *ctx)
{
	struct sax_pos *p = ((xmlParserCtxtPtr)ctx)->_private;
	size_t now = sax_now(ctx);

	if (now > p->mark)
		p->mark = now;
}

static void sax_whitespace(void *ctx, const xmlChar *ch, int len)
{
	struct sax_pos *p = ((xmlParserCtxtPtr)ctx)->_private;

	if (p->whitespace)
		p->whitespace(ctx, ch, len);
	sax_past(ctx);
}

static void sax_cdata(void *ctx, const xmlChar *value, int len)
{
	struct sax_pos *p = ((xmlParserCtxtPtr)ctx)->_private;

	if (p->cdata)
		p->cdata(ctx, value, len);
	sax_past(ctx);
}

static void sax_comment(void *ctx, const xmlChar *value)
{
	struct sax_pos *p = ((xmlParserCtxtPtr)ctx)->_private;

	if (p->comment)
		p->comment(ctx, value);
	sax_past(ctx);
}

static void sax_pi(void *ctx, const xmlChar *target, const xmlChar *data)
{
	struct sax_pos *p = ((xmlParserCtxtPtr)ctx)->_private;

	if (p->pi)
		p->pi(ctx, target, data);
	sax_past(ctx);
}

static void sax_subset(void *ctx, const xmlChar *name, const xmlChar *ext, const xmlChar *sys)
{
	struct sax_pos *p = ((xmlParserCtxtPtr)ctx)->_private;

	if (p->subset)
		p->subset(ctx, name, ext, sys);
	sax_past(ctx);
}

/* Wrap ctxt's own copy of the SAX handler (never the global default). */
static void sax_wrap(htmlParserCtxtPtr ctxt, struct sax_pos *p)
{
	xmlSAXHandlerPtr sax = ctxt->sax;

	p->start_element = sax->startElement;
	p->end_element = sax->endElement;
	p->characters = sax->characters;
	p->whitespace = sax->ignorableWhitespace;
	p->cdata = sax->cdataBlock;
	p->comment = sax->comment;
	p->pi = sax->processingInstruction;
	p->subset = sax->internalSubset;
	sax->startElement = sax_start_element;
	sax->endElement = sax_end_element;
	sax->characters = sax_characters;
	sax->ignorableWhitespace = sax_whitespace;
	sax->cdataBlock = sax_cdata;
	sax->comment = sax_comment;
	sax->processingInstruction = sax_pi;
	sax->internalSubset = sax_subset;
	ctxt->_private = p;
}

/* ---- what elements are */

enum kind {
	K_INLINE,     /* a, span, code, em...: text flows on (also unknown tags) */
	K_BLOCK,      /* its text is a block of its own */
	K_SECTIONING, /* a block, and a <header> inside it is kept */
	K_DROP,       /* skipped with everything inside */
	K_HEADER,     /* dropped at page level, a block inside sectioning */
	K_HEAD, K_TITLE, K_HEADING, K_PRE, K_TABLE, K_ROW, K_CELL, K_BREAK, K_IMAGE,
};

static const struct tag {
	const char *name;
	enum kind kind;
} tags[] = { /* sorted by name for bsearch */
	{ "address", K_BLOCK }, { "article", K_SECTIONING }, { "aside", K_SECTIONING },
	{ "audio", K_DROP }, { "blockquote", K_BLOCK }, { "body", K_BLOCK },
	{ "br", K_BREAK }, { "button", K_DROP }, { "canvas", K_DROP },
	{ "caption", K_BLOCK }, { "center", K_BLOCK }, { "datalist", K_DROP },
	{ "dd", K_BLOCK }, { "details", K_BLOCK }, { "dialog", K_BLOCK },
	{ "div", K_BLOCK }, { "dl", K_BLOCK }, { "dt", K_BLOCK }, { "embed", K_DROP },
	{ "fieldset", K_BLOCK }, { "figcaption", K_BLOCK }, { "figure", K_BLOCK },
	{ "footer", K_DROP }, { "form", K_BLOCK }, { "h1", K_HEADING },
	{ "h2", K_HEADING }, { "h3", K_HEADING }, { "h4", K_HEADING },
	{ "h5", K_HEADING }, { "h6", K_HEADING }, { "head", K_HEAD },
	{ "header", K_HEADER }, { "hgroup", K_BLOCK }, { "hr", K_BLOCK },
	{ "html", K_BLOCK }, { "iframe", K_DROP }, { "img", K_IMAGE },
	{ "input", K_DROP }, { "legend", K_BLOCK }, { "li", K_BLOCK },
	{ "main", K_SECTIONING }, { "menu", K_BLOCK }, { "meter", K_DROP },
	{ "nav", K_DROP }, { "noscript", K_DROP }, { "object", K_DROP },
	{ "ol", K_BLOCK }, { "optgroup", K_DROP }, { "option", K_DROP },
	{ "output", K_DROP }, { "p", K_BLOCK }, { "pre", K_PRE },
	{ "progress", K_DROP }, { "script", K_DROP }, { "section", K_SECTIONING },
	{ "select", K_DROP }, { "style", K_DROP }, { "summary", K_BLOCK },
	{ "svg", K_DROP }, { "table", K_TABLE }, { "tbody", K_BLOCK },
	{ "td", K_CELL }, { "template", K_DROP }, { "textarea", K_DROP },
	{ "tfoot", K_BLOCK }, { "th", K_CELL }, { "thead", K_BLOCK },
	{ "title", K_TITLE }, { "tr", K_ROW }, { "ul", K_BLOCK }, { "video", K_DROP },
};

static int tag_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct tag *)elem)->name);
}

/* libxml2's HTML parser lower-cases tag and attribute names. */
static enum kind kind_of(const xmlNode *n)
{
	const struct tag *t;

	if (!n->name)
		return K_INLINE;
	t = bsearch(n->name, tags, sizeof(tags) / sizeof(tags[0]), sizeof(tags[0]), tag_cmp);
	return t ? t->kind : K_INLINE;
}

/* The value of attribute name, borrowed from n; "" when it has none, NULL
 * when absent. */
static const char *attr(const xmlNode *n, const char *name)
{
	const xmlAttr *a;

	for (a = n->properties; a; a = a->next) {
		if (!a->name || strcmp((const char *)a->name, name) != 0)
			continue;
		if (a->children && a->children->type == XML_TEXT_NODE && a->children->content)
			return (const char *)a->children->content;
		return "";
	}
	return NULL;
}

#define SPACES " \t\n\r\f\v"

/* Whether the space-separated list holds word. */
static bool has_token(const char *list, const char *word)
{
	size_t n = strlen(word), k;

	while (list && *list) {
		list += strspn(list, SPACES);
		k = strcspn(list, SPACES);
		if (k == n && strncmp(list, word, n) == 0)
			return true;
		list += k;
	}
	return false;
}

static bool has_any_token(const char *list, const char *const *words)
{
	for (; list && *words; words++)
		if (has_token(list, *words))
			return true;
	return false;
}

/* Navigation chrome, whatever the tag. */
static bool is_chrome(const xmlNode *n)
{
	static const char *const roles[] = {
		"navigation", "search", "banner", "contentinfo", NULL,
	};
	static const char *const classes[] = {
		/* Sphinx's basic themes */
		"headerlink", "sphinxsidebar", "related", "viewcode-link",
		/* pydata-sphinx-theme (Ray's) and furo */
		"bd-sidebar-primary", "bd-sidebar-secondary", "prev-next-area", "skip-link",
		"sidebar-drawer", "toc-drawer", "related-pages", NULL,
	};

	return has_any_token(attr(n, "role"), roles) || has_any_token(attr(n, "class"), classes);
}

/* The language named by a class list ("highlight-python notranslate")
 * into lang[size]; false when none. */
static bool class_language(const char *list, char *lang, size_t size)
{
	static const char *const prefixes[] = { "highlight-", "language-", "lang-", NULL };
	const char *const *pre;
	size_t k, n;

	while (list && *list) {
		list += strspn(list, SPACES);
		k = strcspn(list, SPACES);
		for (pre = prefixes; *pre; pre++) {
			n = strlen(*pre);
			if (k <= n || strncmp(list, *pre, n) != 0)
				continue;
			if ((k - n == 7 && strncmp(list + n, "default", 7) == 0) ||
			    (k - n == 4 && strncmp(list + n, "none", 4) == 0))
				continue;
			k -= n;
			if (k >= size)
				k = size - 1;
			memcpy(lang, list + n, k);
			lang[k] = '\0';
			return true;
		}
		list += k;
	}
	return false;
}

/* A <pre>'s language: classes on it, its parent and grandparent (Sphinx's
 * div.highlight-python > div.highlight > pre), then a <code> right inside. */
static const char *pre_language(const xmlNode *pre, char *lang, size_t size)
{
	const xmlNode *n = pre, *c;
	int up;

	for (up = 0; up < 3 && n && n->type == XML_ELEMENT_NODE; up++, n = n->parent)
		if (class_language(attr(n, "class"), lang, size))
			return lang;
	for (c = pre->children; c && c->type != XML_ELEMENT_NODE; c = c->next)
		;
	if (c && c->name && strcmp((const char *)c->name, "code") == 0 &&
	    class_language(attr(c, "class"), lang, size))
		return lang;
	return NULL;
}

/* The node after n in document order inside root's subtree, NULL past it;
 * with descend false, n's children are skipped. */
static xmlNode *next_in(xmlNode *n, const xmlNode *root, bool descend)
{
	if (descend && n->children && n->type == XML_ELEMENT_NODE)
		return n->children;
	while (n != root && !n->next)
		n = n->parent;
	return n == root ? NULL : n->next;
}

/* ---- collecting text */

/* Text gathered for a prose block, a heading or the title, whitespace
 * collapsed as it comes. */
struct collector {
	struct strbuf b;
	bool space;          /* whitespace met: one ' ' before more text */
	bool cell;           /* a table cell began: " | " before more text */
	size_t start, end;   /* the content's range in src->text, once b.len */
};

/* Length of the whitespace character at s (ASCII, or U+00A0), 0 if none. */
static size_t space_at(const char *s, size_t n)
{
	if (*s && strchr(SPACES, *s))
		return 1;
	return n >= 2 && (unsigned char)s[0] == 0xC2 && (unsigned char)s[1] == 0xA0 ? 2 : 0;
}

/* Append s[0..n) to c, collapsed; [start, end) is where it lies. */
static int collect(struct collector *c, const char *s, size_t n, size_t start, size_t end)
{
	size_t before = c->b.len, i = 0, j, w;
	const char *sep;
	int rc;

	while (i < n) {
		if ((w = space_at(s + i, n - i))) {
			c->space = true;
			i += w;
			continue;
		}
		for (j = i + 1; j < n && !space_at(s + j, n - j); j++)
			;
		sep = "";
		if (c->b.len && c->cell)
			sep = " | ";
		else if (c->b.len && c->space && c->b.s[c->b.len - 1] != '\n')
			sep = " ";
		if ((rc = sb_add(&c->b, sep, strlen(sep))) < 0 ||
		    (rc = sb_add(&c->b, s + i, j - i)) < 0)
			return rc;
		c->space = c->cell = false;
		i = j;
	}
	if (c->b.len == before)
		return 0; /* only whitespace: the range stays */
	if (before == 0)
		c->start = start;
	if (end > c->end)
		c->end = end;
	return 0;
}

/* <br>: a line break in prose, a space elsewhere. */
static int collect_break(struct collector *c, bool prose)
{
	if (!prose || !c->b.len || c->b.s[c->b.len - 1] == '\n') {
		c->space = true;
		return 0;
	}
	c->space = c->cell = false;
	return sb_add(&c->b, "\n", 1);
}

/* The collected text, trimmed, owned by the caller; c is emptied. */
static char *collector_take(struct collector *c)
{
	c->space = c->cell = false;
	c->start = c->end = 0;
	return sb_take(&c->b, true);
}

/* ---- the walk */

struct html_walk {
	doc *d;
	const struct doc_source *src;
	struct collector prose, heading;
	struct collector *cur;     /* &prose, or &heading inside one */
	const xmlNode *in_heading; /* the h1..h6 being read */
	char *titles[LEVELS];      /* open headings by level; owned */
	char *first_h1;            /* fallback title; owned */
	int section;               /* current section, -1 before any */
	bool in_head;
	unsigned rows;             /* open table rows */
	unsigned sectioning;       /* open article/section/main/aside */
	const xmlNode **claimed;   /* open sections whose id a heading took */
	size_t nclaimed, capclaimed;
	size_t last;               /* furthest known position, for nodes without one */
};

/* Where n begins in src->text (the last known position if unrecorded). */
static size_t node_start(struct html_walk *w, const xmlNode *n)
{
	uintptr_t v = (uintptr_t)n->_private;
	size_t pos = v ? (size_t)v - 1 : w->last;

	if (pos > w->src->len)
		pos = w->src->len;
	if (pos > w->last)
		w->last = pos;
	return pos;
}

/* Where n ends: after its end tag, or its text's last chunk. */
static size_t node_end(const struct html_walk *w, const xmlNode *n, size_t start)
{
	uintptr_t v = (uintptr_t)n->psvi;
	size_t pos = v ? (size_t)v - 1 : start;

	if (pos > w->src->len)
		pos = w->src->len;
	return pos < start ? start : pos;
}

/* The prose gathered so far becomes a block. */
static int flush(struct html_walk *w)
{
	size_t start = w->prose.start, end = w->prose.end;
	char *text;

	if (!w->prose.b.len)
		return 0;
	if (!(text = collector_take(&w->prose)))
		return -ENOMEM;
	if (!*text) {
		free(text);
		return 0;
	}
	return doc_add_block(w->d, text, false, NULL, w->section,
			     docsrc_original(w->src, start), docsrc_original(w->src, end));
}

static int on_text(struct html_walk *w, const xmlNode *n)
{
	const char *t = w->src->text;
	size_t start = node_start(w, n), end = node_end(w, n, start);

	if (!n->content)
		return 0;
	/* the range of the text itself, without surrounding whitespace */
	while (start < end && isspace((unsigned char)t[start]))
		start++;
	while (end > start && isspace((unsigned char)t[end - 1]))
		end--;
	return collect(w->cur, (const char *)n->content, strlen((const char *)n->content),
		       start, end);
}

static int on_image(struct html_walk *w, const xmlNode *n)
{
	const char *alt = attr(n, "alt");
	size_t start = node_start(w, n);

	if (!alt)
		return 0;
	w->cur->space = true; /* an image stands apart from the words around it */
	return collect(w->cur, alt, strlen(alt), start, node_end(w, n, start));
}

/* The first <title> is the page's title. */
static int on_title(struct html_walk *w, xmlNode *title)
{
	struct collector c = { { NULL, 0, 0 }, false, false, 0, 0 };
	xmlNode *n;
	char *text;
	int rc = 0;

	if (w->d->title)
		return 0;
	for (n = title->children; n && rc == 0; n = next_in(n, title, true))
		if (n->type == XML_TEXT_NODE && n->content)
			rc = collect(&c, (const char *)n->content, strlen((const char *)n->content), 0, 0);
	if (rc < 0 || !(text = collector_take(&c))) {
		sb_release(&c.b);
		return -ENOMEM;
	}
	if (*text)
		w->d->title = text;
	else
		free(text);
	return 0;
}

/* A <pre>: one code block, its text verbatim. */
static int on_pre(struct html_walk *w, xmlNode *pre)
{
	struct strbuf b = { NULL, 0, 0 };
	size_t start = node_start(w, pre), end = node_end(w, pre, start), lead, len;
	char lang[64];
	const char *language = pre_language(pre, lang, sizeof(lang));
	xmlNode *n;
	char *text;
	bool descend;
	int rc = 0;

	for (n = pre->children; n && rc == 0; n = next_in(n, pre, descend)) {
		descend = true;
		if (n->type == XML_TEXT_NODE && n->content)
			rc = sb_add(&b, (const char *)n->content, strlen((const char *)n->content));
		else if (n->type == XML_ELEMENT_NODE && kind_of(n) == K_BREAK)
			rc = sb_add(&b, "\n", 1);
		else if (n->type == XML_ELEMENT_NODE && (kind_of(n) == K_DROP || is_chrome(n)))
			descend = false;
	}
	if (rc < 0 || !(text = sb_take(&b, false))) {
		sb_release(&b);
		return -ENOMEM;
	}
	/* HTML ignores a newline right after <pre>; trailing blank lines and
	 * spaces say nothing */
	lead = text[0] == '\r' && text[1] == '\n' ? 2 : text[0] == '\n' ? 1 : 0;
	len = strlen(text);
	while (len > lead && isspace((unsigned char)text[len - 1]))
		len--;
	text[len] = '\0';
	memmove(text, text + lead, len - lead + 1);
	if (!text[strspn(text, SPACES)]) {
		free(text);
		return 0;
	}
	return doc_add_block(w->d, text, true, language, w->section,
			     docsrc_original(w->src, start), docsrc_original(w->src, end));
}

/* When heading h opens its parent section, a <section> or <div
 * class="section"> no earlier heading has claimed, *id is the section's
 * id (NULL when it has none, or h opens nothing); the claim lasts while
 * the section is open. */
static int claim_section(struct html_walk *w, const xmlNode *h, const char **id)
{
	const xmlNode *p = h->parent;
	const xmlNode **grown;
	size_t cap;

	*id = NULL;
	if (!p || p->type != XML_ELEMENT_NODE || !p->name ||
	    !(strcmp((const char *)p->name, "section") == 0 ||
	      (strcmp((const char *)p->name, "div") == 0 && has_token(attr(p, "class"), "section"))))
		return 0;
	/* claimed sections are open ancestors: the parent, if claimed, is the
	 * innermost of them */
	if (w->nclaimed && w->claimed[w->nclaimed - 1] == p)
		return 0;
	if (w->nclaimed == w->capclaimed) {
		cap = w->capclaimed ? w->capclaimed * 2 : 16;
		if (!(grown = realloc(w->claimed, cap * sizeof(*grown))))
			return -ENOMEM;
		w->claimed = grown;
		w->capclaimed = cap;
	}
	w->claimed[w->nclaimed++] = p;
	*id = attr(p, "id");
	return 0;
}

/* The end of h1..h6: a new section. */
static int end_heading(struct html_walk *w, const xmlNode *h)
{
	int level = h->name[1] - '0', i, rc;
	const char *id = attr(h, "id"), *section_id;
	char *path[LEVELS], *title, *anchor;
	size_t depth = 0;

	w->in_heading = NULL;
	w->cur = &w->prose;
	if (!(title = collector_take(&w->heading)))
		return -ENOMEM;
	if (level < 1 || level > LEVELS)
		level = LEVELS;
	for (i = level - 1; i < LEVELS; i++) {
		free(w->titles[i]);
		w->titles[i] = NULL;
	}
	w->titles[level - 1] = title;
	if (level == 1 && !w->first_h1 && !(w->first_h1 = strdup(title)))
		return -ENOMEM;
	for (i = 0; i < level; i++)
		if (w->titles[i])
			path[depth++] = w->titles[i];
	if ((rc = claim_section(w, h, &section_id)) < 0 ||
	    (rc = doc_add_section(w->d, path, depth, &w->section)) < 0)
		return rc;
	if (!id || !*id)
		id = section_id;
	if (!id || !*id)
		return 0;
	if (!(anchor = strdup(id)))
		return -ENOMEM;
	free(w->d->sections[w->section].anchor);
	w->d->sections[w->section].anchor = anchor;
	return 0;
}

/* Entering element n; *descend says whether its children are walked. */
static int enter_element(struct html_walk *w, xmlNode *n, bool *descend)
{
	enum kind k = kind_of(n);
	int rc;

	*descend = false;
	node_start(w, n);
	if (k == K_HEADER)
		k = w->sectioning ? K_BLOCK : K_DROP;
	if (k == K_DROP || (w->in_head && k != K_TITLE) || is_chrome(n))
		return 0;
	switch (k) {
	case K_HEAD:
		w->in_head = *descend = true;
		return 0;
	case K_TITLE:
		return on_title(w, n);
	case K_BREAK:
		return collect_break(w->cur, w->cur == &w->prose);
	case K_IMAGE:
		return on_image(w, n);
	default:
		break;
	}
	*descend = true;
	if (w->in_heading)
		return 0; /* inside a heading everything is its text */
	switch (k) {
	case K_HEADING:
		w->in_heading = n;
		w->cur = &w->heading;
		return flush(w);
	case K_PRE:
		*descend = false;
		if ((rc = flush(w)) < 0)
			return rc;
		return on_pre(w, n);
	case K_ROW:
		w->rows++;
		return flush(w);
	case K_TABLE:
		return flush(w);
	case K_CELL:
		if (!w->rows)
			return flush(w);
		w->prose.cell = w->prose.b.len > 0;
		return 0;
	case K_SECTIONING:
		w->sectioning++;
		return w->rows ? 0 : flush(w);
	case K_BLOCK:
		return w->rows ? 0 : flush(w);
	default:
		return 0;
	}
}

/* Leaving element n, whose children were walked. */
static int leave_element(struct html_walk *w, const xmlNode *n)
{
	enum kind k = kind_of(n);

	if (w->nclaimed && w->claimed[w->nclaimed - 1] == n)
		w->nclaimed--;
	if (w->in_heading)
		return w->in_heading == n ? end_heading(w, n) : 0;
	if (k == K_HEADER)
		k = K_BLOCK; /* walked: it was inside sectioning content */
	switch (k) {
	case K_HEAD:
		w->in_head = false;
		return 0;
	case K_ROW:
		w->rows--;
		return flush(w);
	case K_TABLE:
		return flush(w);
	case K_SECTIONING:
		w->sectioning--;
		return w->rows ? 0 : flush(w);
	case K_CELL:
	case K_BLOCK:
		return w->rows ? 0 : flush(w);
	default:
		return 0;
	}
}

static int enter(struct html_walk *w, xmlNode *n, bool *descend)
{
	*descend = false;
	switch (n->type) {
	case XML_DOCUMENT_NODE:
	case XML_HTML_DOCUMENT_NODE:
		*descend = true;
		return 0;
	case XML_ELEMENT_NODE:
		return enter_element(w, n, descend);
	case XML_TEXT_NODE:
	case XML_CDATA_SECTION_NODE:
		return w->in_head ? 0 : on_text(w, n);
	default:
		return 0; /* comments, processing instructions, the DTD */
	}
}

/* Depth-first over the tree without recursion: a deeply nested page
 * costs no stack. */
static int walk(struct html_walk *w, xmlNode *root)
{
	xmlNode *n = root;
	bool descend;
	int rc;

	for (;;) {
		if ((rc = enter(w, n, &descend)) < 0)
			return rc;
		if (descend && n->children) {
			n = n->children;
			continue;
		}
		if (descend && n->type == XML_ELEMENT_NODE && (rc = leave_element(w, n)) < 0)
			return rc;
		while (n != root && !n->next) {
			n = n->parent;
			if (n->type == XML_ELEMENT_NODE && (rc = leave_element(w, n)) < 0)
				return rc;
		}
		if (n == root)
			return 0;
		n = n->next;
	}
}

/* ---- entry point */

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void init_libxml(void)
{
	xmlInitParser();
}

/* libxml2 recovers from most bad markup silently, as browsers do, but two
 * things lose the rest of the page: a comment, tag or quoted attribute
 * value left open runs to the end of the file, and elements nested deeper
 * than libxml2's limit (256) stop the parser. Either is the last error the
 * parser met (ctxt->errNo); say so. The limit stays: XML_PARSE_HUGE would
 * lift it, but then closing tags that match nothing cost time in
 * proportion to the depth each, quadratic on hostile input. */
static int check_lost(doc *d, const struct doc_source *src, htmlParserCtxtPtr ctxt)
{
	const char *what, *msg = ctxt->lastError.message;
	long lines = 1;
	size_t i;

	switch (ctxt->errNo) {
	case XML_ERR_INTERNAL_ERROR: /* "Excessive depth in document" */
		return doc_warn(d, "HTML: the parser stopped early (%.*s); the rest of the page "
				"is not indexed", msg ? (int)strcspn(msg, ":\n") : 14,
				msg ? msg : "internal error");
	case XML_ERR_COMMENT_NOT_FINISHED:
		what = "comment";
		break;
	case XML_ERR_ATTRIBUTE_NOT_FINISHED:
	case XML_ERR_LITERAL_NOT_FINISHED:
	case XML_ERR_GT_REQUIRED:
		what = "tag or attribute value";
		break;
	default:
		return 0;
	}
	/* only when the error is on the last line: it ran to the end */
	for (i = 0; i < src->len; i++)
		lines += src->text[i] == '\n'; /* libxml2 counts lines by LF */
	if (ctxt->lastError.line < lines)
		return 0;
	return doc_warn(d, "HTML: unterminated %s at the end of the page; "
			"the text after its start is not indexed", what);
}

static bool blank(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!isspace((unsigned char)s[i]))
			return false;
	return true;
}

int parse_html(doc *d, const struct doc_source *src)
{
	const int options = HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
			    HTML_PARSE_NONET;
	struct html_walk w = { .d = d, .src = src, .section = -1 };
	struct sax_pos pos = { .text = src->text, .len = src->len };
	htmlParserCtxtPtr ctxt;
	htmlDocPtr tree;
	int rc, i;

	if (blank(src->text, src->len))
		return 0; /* an empty page */
	if (src->len > INT_MAX)
		return doc_warn(d, "HTML: %zu bytes, too large for the HTML parser", src->len);
	pthread_once(&init_once, init_libxml);
	if (!(ctxt = htmlNewParserCtxt()))
		return -ENOMEM;
	if (src->len >= 3 && memcmp(src->text, "\xEF\xBB\xBF", 3) == 0)
		pos.base = 3;
	/* htmlReadMemory's parse, on a context of our own: its SAX callbacks
	 * are wrapped for positions, its last error read afterwards */
	sax_wrap(ctxt, &pos);
	tree = htmlCtxtReadMemory(ctxt, src->text, (int)src->len, NULL, "UTF-8", options);
	if (!tree) {
		htmlFreeParserCtxt(ctxt);
		return doc_warn(d, "HTML: libxml2 could not parse the page; nothing indexed");
	}
	rc = check_lost(d, src, ctxt);
	htmlFreeParserCtxt(ctxt);
	w.cur = &w.prose;
	if (rc == 0)
		rc = walk(&w, (xmlNode *)tree);
	if (rc == 0)
		rc = flush(&w);
	if (rc == 0 && !d->title && w.first_h1) {
		d->title = w.first_h1;
		w.first_h1 = NULL;
	}
	xmlFreeDoc(tree);
	sb_release(&w.prose.b);
	sb_release(&w.heading.b);
	for (i = 0; i < LEVELS; i++)
		free(w.titles[i]);
	free(w.first_h1);
	free(w.claimed);
	return rc;
}
