/*
 * answer.c - reading the model's final answer into a diagnosis, and the
 * identity of a tool call for the loop's repeat check.
 *
 * With tools the answer is prose: its first line (markdown marks removed)
 * is the summary, the rest the explanation, and [page#anchor] references
 * to pages the run actually saw are its citations. Without tools the
 * model was asked for a JSON object; models wrap it in a ```json fence or
 * add a sentence around it, so the object is looked for in those places,
 * and an answer that holds none is read as prose. Nothing in the answer
 * is ever executed: a tool call written as text is just text, and JSON
 * remedies are only returned for the loop to check like any proposal.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent_internal.h"
#include "utf8.h"

#define SUMMARY_MAX     300
#define REF_MAX         300     /* longest [page#anchor] considered */
#define REMEDIES_MAX    8

/* ------------------------------------------------------------------ */
/* Citations                                                           */

/* Whether page is known, and its title (borrowed, may be NULL).
 * known: NULL (any page that looks like a path), an array of page
 * strings, or an object {page: title | null}. */
static bool page_known(json_t *known, const char *page, const char **title)
{
	json_t *v;
	size_t i;

	*title = NULL;
	if (!known)
		return strchr(page, '/') || strchr(page, '.');
	if (json_is_object(known)) {
		v = json_object_get(known, page);
		*title = json_string_value(v);
		return v != NULL;
	}
	json_array_foreach(known, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), page) == 0)
			return true;
	return false;
}

/* Append {page, anchor, title} unless the same page and anchor are in. */
static int add_citation(json_t *cites, json_t *known, const char *page, size_t plen,
			const char *anchor, size_t alen)
{
	char *p = strndup(page, plen), *a = strndup(anchor ? anchor : "", anchor ? alen : 0);
	const char *title;
	json_t *c;
	size_t i;
	int rc = 0;

	if (!p || !a) {
		rc = -ENOMEM;
		goto out;
	}
	if (!*p || !page_known(known, p, &title))
		goto out;
	json_array_foreach(cites, i, c)
		if (strcmp(json_string_value(json_object_get(c, "page")), p) == 0 &&
		    strcmp(json_string_value(json_object_get(c, "anchor")), a) == 0)
			goto out;
	c = json_pack("{s:s, s:s, s:s?}", "page", p, "anchor", a, "title", title);
	if (!c || json_array_append_new(cites, c) < 0)
		rc = -ENOMEM;
out:
	free(p);
	free(a);
	return rc;
}

/* A reference "page#anchor" or "page" in s[0..n) (no spaces). */
static int add_ref(json_t *cites, json_t *known, const char *s, size_t n)
{
	const char *hash = memchr(s, '#', n);

	if (n == 0 || n > REF_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (isspace((unsigned char)s[i]) || s[i] == '[' || s[i] == ']')
			return 0;
	if (!hash)
		return add_citation(cites, known, s, n, NULL, 0);
	return add_citation(cites, known, s, (size_t)(hash - s), hash + 1,
	                    n - (size_t)(hash - s) - 1);
}

/* Every [page#anchor] and [text](page#anchor) of text. */
static int scan_refs(const char *text, json_t *known, json_t *cites)
{
	const char *p = text, *close, *paren;
	int rc = 0;

	while (rc == 0 && (p = strchr(p, '['))) {
		close = strchr(p + 1, ']');
		if (!close)
			break;
		rc = add_ref(cites, known, p + 1, (size_t)(close - p - 1));
		if (rc == 0 && close[1] == '(' && (paren = strchr(close + 2, ')')))
			rc = add_ref(cites, known, close + 2, (size_t)(paren - close - 2));
		p = close[1] == '[' ? close + 1 : p + 1;
	}
	return rc;
}

/* ------------------------------------------------------------------ */
/* The summary line                                                    */

static bool is_label(const char *s)
{
	static const char *const labels[] = {
		"summary", "diagnosis", "answer", "cause", "root cause", "tl;dr", "tldr", NULL,
	};
	size_t n = strlen(s);

	while (n > 0 && (s[n - 1] == ':' || isspace((unsigned char)s[n - 1])))
		n--;
	for (const char *const *l = labels; *l; l++)
		if (strlen(*l) == n && strncasecmp(s, *l, n) == 0)
			return true;
	return false;
}

/* line[0..n) without markdown marks: heading hashes, list and quote
 * markers, bold/italic/code marks, a "Summary:" label. Owned. */
static char *strip_markdown(const char *line, size_t n)
{
	char *s = strndup(line, n), *w, *r;
	size_t len, lab;

	if (!s)
		return NULL;
	for (r = w = s; *r; r++) {
		if ((r[0] == '*' && r[1] == '*') || (r[0] == '_' && r[1] == '_')) {
			r++;
			continue;
		}
		if (*r == '`')
			continue;
		*w++ = *r;
	}
	*w = '\0';
	r = s;
	while (isspace((unsigned char)*r) || *r == '#' || *r == '>')
		r++;
	if ((r[0] == '-' || r[0] == '*' || r[0] == '+') && r[1] == ' ')
		r += 2;
	else if (isdigit((unsigned char)r[0]) && r[1] == '.' && r[2] == ' ')
		r += 3;
	if (*r == '*' && r[1] != ' ' && r[1])  /* a lone italic mark */
		r++;
	for (lab = 0; r[lab] && r[lab] != ':' && lab < 12; lab++)
		;
	if (r[lab] == ':') {
		char save = r[lab];
		r[lab] = '\0';
		if (is_label(r))
			r += lab + 1;
		else
			r[lab] = save;
	}
	while (isspace((unsigned char)*r))
		r++;
	memmove(s, r, strlen(r) + 1);
	len = strlen(s);
	while (len > 0 && (isspace((unsigned char)s[len - 1]) ||
	                   (s[len - 1] == '*' && len > 1 && s[len - 2] != ' ')))
		s[--len] = '\0';
	return s;
}

/* s capped at SUMMARY_MAX bytes: cut at a word when it must be, with
 * "..." (in place). */
static void cap_summary(char *s)
{
	size_t n = strlen(s), cut;

	if (n <= SUMMARY_MAX)
		return;
	cut = SUMMARY_MAX - 3;
	while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80)
		cut--;
	for (size_t k = cut; k > SUMMARY_MAX / 2; k--)
		if (s[k] == ' ') {
			cut = k;
			break;
		}
	memcpy(s + cut, "...", 4);
}

/* Split text into the summary (first meaningful line) and the rest. */
static int split_prose(const char *text, char **summary, const char **rest)
{
	const char *p = text, *end;
	char *s;

	*summary = NULL;
	while (*p) {
		end = strchr(p, '\n');
		if (!end)
			end = p + strlen(p);
		s = strip_markdown(p, (size_t)(end - p));
		if (!s)
			return -ENOMEM;
		p = *end ? end + 1 : end;
		if (*s && !is_label(s) && strspn(s, "-=*_ ") != strlen(s)) {
			cap_summary(s);
			*summary = s;
			break;
		}
		free(s);
	}
	*rest = p;
	return 0;
}

/* text[0..] without its leading and trailing blank space; owned. */
static char *trimmed(const char *text)
{
	size_t n;

	while (isspace((unsigned char)*text))
		text++;
	n = strlen(text);
	while (n > 0 && isspace((unsigned char)text[n - 1]))
		n--;
	return strndup(text, n);
}

static int parse_prose(const char *text, json_t *known, json_t **out)
{
	char *summary = NULL, *explanation = NULL;
	const char *rest;
	json_t *cites = json_array(), *o = NULL;
	int rc;

	rc = cites ? split_prose(text, &summary, &rest) : -ENOMEM;
	if (rc == 0 && !summary)
		rc = -EINVAL;
	if (rc == 0 && !(explanation = trimmed(rest)))
		rc = -ENOMEM;
	if (rc == 0)
		rc = scan_refs(text, known, cites);
	if (rc == 0) {
		o = json_pack("{s:s, s:s, s:O, s:[]}", "summary", summary, "explanation",
		              explanation, "citations", cites, "remedies");
		rc = o ? 0 : -ENOMEM;
	}
	free(summary);
	free(explanation);
	json_decref(cites);
	if (rc == 0)
		*out = o;
	return rc;
}

/* ------------------------------------------------------------------ */
/* JSON answers                                                        */

/* An object with a non-empty string "summary" from text[0..n), or NULL. */
static json_t *load_answer(const char *text, size_t n)
{
	json_t *v = json_loadb(text, n, 0, NULL);
	const char *s = json_string_value(json_object_get(v, "summary"));

	if (!json_is_object(v) || !s || !*s) {
		json_decref(v);
		return NULL;
	}
	return v;
}

/* The answer object in text: all of it, inside a ``` fence, or from
 * the first '{' to the last '}'. */
static json_t *find_answer(const char *text)
{
	const char *fence = strstr(text, "```"), *body, *end, *open, *close;
	json_t *v;

	while (isspace((unsigned char)*text))
		text++;
	if ((v = load_answer(text, strlen(text))))
		return v;
	if (fence && (body = strchr(fence, '\n')) && (end = strstr(body + 1, "```")) &&
	    (v = load_answer(body + 1, (size_t)(end - body - 1))))
		return v;
	open = strchr(text, '{');
	close = strrchr(text, '}');
	if (open && close && close > open)
		return load_answer(open, (size_t)(close - open + 1));
	return NULL;
}

/* The well-formed remedies of the answer: {title, argv: [strings]}. */
static json_t *json_remedies(json_t *list)
{
	json_t *out = json_array(), *r, *argv, *s;
	size_t i, k;
	bool ok;

	json_array_foreach(list, i, r) {
		if (!out || json_array_size(out) == REMEDIES_MAX)
			break;
		argv = json_object_get(r, "argv");
		ok = json_is_string(json_object_get(r, "title")) && json_array_size(argv) > 0;
		json_array_foreach(argv, k, s)
			ok = ok && json_is_string(s);
		if (ok && json_array_append_new(out, json_pack("{s:O, s:O}", "title",
		          json_object_get(r, "title"), "argv", argv)) < 0) {
			json_decref(out);
			return NULL;
		}
	}
	return out;
}

static int parse_json(json_t *v, json_t *known, json_t **out)
{
	const char *summary = json_string_value(json_object_get(v, "summary"));
	const char *expl = json_string_value(json_object_get(v, "explanation"));
	json_t *cites = json_array(), *c, *remedies = json_remedies(json_object_get(v, "remedies"));
	char *s = strip_markdown(summary, strlen(summary));
	const char *page, *anchor;
	size_t i;
	int rc = cites && remedies && s ? 0 : -ENOMEM;

	json_array_foreach(json_object_get(v, "citations"), i, c) {
		page = json_string_value(json_is_string(c) ? c : json_object_get(c, "page"));
		anchor = json_string_value(json_object_get(c, "anchor"));
		if (rc == 0 && page && json_is_string(c))
			rc = add_ref(cites, known, page, strlen(page));
		else if (rc == 0 && page)
			rc = add_citation(cites, known, page, strlen(page), anchor,
			                  anchor ? strlen(anchor) : 0);
	}
	if (rc == 0 && expl)
		rc = scan_refs(expl, known, cites);
	if (rc == 0 && !*s)
		rc = -EINVAL;
	if (rc == 0) {
		cap_summary(s);
		*out = json_pack("{s:s, s:s, s:O, s:O}", "summary", s, "explanation",
		                 expl ? expl : "", "citations", cites, "remedies", remedies);
		rc = *out ? 0 : -ENOMEM;
	}
	free(s);
	json_decref(cites);
	json_decref(remedies);
	return rc;
}

int agent_parse_answer(const char *content, bool json_mode, json_t *known_pages, json_t **out)
{
	char *text;
	json_t *v;
	int rc = -EINVAL;

	if (!content || !out)
		return -EINVAL;
	text = utf8_repair(content, strlen(content), NULL);
	if (!text)
		return -ENOMEM;
	if (json_mode && (v = find_answer(text))) {
		rc = parse_json(v, known_pages, out);
		json_decref(v);
	}
	if (rc == -EINVAL)
		rc = parse_prose(text, known_pages, out);
	free(text);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Tool call identity                                                  */

char *agent_call_key(const char *name, const char *arguments)
{
	json_t *v = NULL;
	char *dump = NULL, *key = NULL, *raw = NULL;
	json_error_t err;

	raw = trimmed(arguments ? arguments : "");
	if (!raw)
		return NULL;
	if (*raw && !(v = json_loads(raw, JSON_DECODE_ANY, &err)))
		dump = NULL;  /* not JSON: the text itself is the identity */
	else if (!*raw)
		v = json_object();
	if (v)
		dump = json_dumps(v, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENCODE_ANY);
	if ((!v || dump) && asprintf(&key, "%s\n%s", name ? name : "", dump ? dump : raw) < 0)
		key = NULL;
	json_decref(v);
	free(dump);
	free(raw);
	return key;
}
