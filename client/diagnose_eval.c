/*
 * diagnose_eval.c - cases, matching, ROUGE-L, scores and the report of
 * `doctor eval diagnose` (see diagnose_eval.h for the definitions).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diagnose_eval.h"
#include "retrieval_eval.h"

/* ================================================================ cases */

static const char *const case_keys[] = {
	"name", "text", "kind", "exception", "remedy", "page", "reference", "context", "note",
	NULL,
};

static const char *const case_kinds[] = { "command", "notebook", "log", NULL };

void deval_case_release(struct deval_case *c)
{
	free(c->name);
	free(c->text);
	free(c->kind);
	free(c->exception);
	json_decref(c->remedy);
	free(c->page_source);
	free(c->page);
	free(c->anchor);
	free(c->reference);
	json_decref(c->context);
	memset(c, 0, sizeof(*c));
}

static int case_error(char **error, const char *what)
{
	*error = strdup(what);
	return *error ? -EINVAL : -ENOMEM;
}

static bool in_list(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(s, *list) == 0)
			return true;
	return false;
}

/* A non-empty string value, or NULL. */
static const char *text_of(const json_t *v)
{
	return json_is_string(v) && json_string_length(v) > 0 ? json_string_value(v) : NULL;
}

static bool remedy_valid(const json_t *remedy)
{
	const json_t *arg;
	size_t i;

	if (json_is_string(remedy))
		return json_string_length(remedy) > 0;
	if (!json_is_array(remedy) || json_array_size(remedy) == 0)
		return false;
	json_array_foreach(remedy, i, arg)
		if (!text_of(arg))
			return false;
	return true;
}

/* Checks that need no allocation; *why is a static message. */
static const char *case_problem(const json_t *obj)
{
	const json_t *v, *exception = json_object_get(obj, "exception");
	const char *key;

	json_object_foreach((json_t *)obj, key, v)
		if (!in_list(key, case_keys))
			return "unknown key (known: name, text, kind, exception, remedy, page, "
			       "reference, context, note)";
	if (!text_of(json_object_get(obj, "name")))
		return "'name' must be a non-empty string";
	if (!text_of(json_object_get(obj, "text")))
		return "'text' must be a non-empty string";
	v = json_object_get(obj, "kind");
	if (v && (!json_is_string(v) || !in_list(json_string_value(v), case_kinds)))
		return "'kind' must be \"command\", \"notebook\" or \"log\"";
	if (!exception)
		return "'exception' is required (a string, or null when no error may be detected)";
	if (!json_is_null(exception) && !text_of(exception))
		return "'exception' must be a non-empty string or null";
	v = json_object_get(obj, "remedy");
	if (v && !remedy_valid(v))
		return "'remedy' must be a non-empty string or a non-empty array of non-empty strings";
	v = json_object_get(obj, "page");
	if (v && (!text_of(v) || json_string_value(v)[0] == '#'))
		return "'page' must be a page path with an optional #anchor";
	v = json_object_get(obj, "reference");
	if (v && !text_of(v))
		return "'reference' must be a non-empty string";
	v = json_object_get(obj, "context");
	if (v && !json_is_object(v))
		return "'context' must be an object";
	v = json_object_get(obj, "note");
	if (v && !json_is_string(v))
		return "'note' must be a string";
	if (json_is_null(exception) && (json_object_get(obj, "remedy") ||
	    json_object_get(obj, "page") || json_object_get(obj, "reference")))
		return "'remedy', 'page' and 'reference' need an 'exception'";
	return NULL;
}

static int dup_field(const json_t *obj, const char *key, char **out)
{
	const char *s = text_of(json_object_get(obj, key));

	*out = NULL;
	if (!s)
		return 0;
	*out = strdup(s);
	return *out ? 0 : -ENOMEM;
}

/* c->page_source -> c->page, c->anchor. */
static int split_page(struct deval_case *c, char **error)
{
	const char *hash = strchr(c->page_source, '#');
	char *page = strndup(c->page_source,
	                     hash ? (size_t)(hash - c->page_source) : strlen(c->page_source));

	if (!page)
		return -ENOMEM;
	c->page = reval_page_key(page);
	free(page);
	if (!c->page)
		return -ENOMEM;
	if (!c->page[0])
		return case_error(error, "'page' names no page");
	if (hash && hash[1] && !(c->anchor = strdup(hash + 1)))
		return -ENOMEM;
	return 0;
}

static int fill_case(const json_t *obj, struct deval_case *c, char **error)
{
	const char *kind = text_of(json_object_get(obj, "kind"));

	if (dup_field(obj, "name", &c->name) < 0 || dup_field(obj, "text", &c->text) < 0 ||
	    dup_field(obj, "exception", &c->exception) < 0 ||
	    dup_field(obj, "page", &c->page_source) < 0 ||
	    dup_field(obj, "reference", &c->reference) < 0 ||
	    !(c->kind = strdup(kind ? kind : "command")))
		return -ENOMEM;
	c->remedy = json_incref(json_object_get(obj, "remedy"));
	c->context = json_incref(json_object_get(obj, "context"));
	return c->page_source ? split_page(c, error) : 0;
}

int deval_parse_case(const char *line, size_t len, struct deval_case *c, char **error)
{
	json_error_t jerr;
	const char *problem;
	json_t *obj;
	int rc;

	memset(c, 0, sizeof(*c));
	*error = NULL;
	obj = json_loadb(line, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
	if (!obj) {
		if (asprintf(error, "not valid JSON: %s", jerr.text) < 0) {
			*error = NULL;
			return -ENOMEM;
		}
		return -EINVAL;
	}
	if (!json_is_object(obj))
		rc = case_error(error, "expected a JSON object {\"name\", \"text\", \"exception\", ...}");
	else if ((problem = case_problem(obj)))
		rc = case_error(error, problem);
	else
		rc = fill_case(obj, c, error);
	json_decref(obj);
	if (rc < 0)
		deval_case_release(c);
	return rc;
}

/* ================================================================ matching */

/* The class of an exception name: from the last '.' before any '('. The
 * length up to the '(' goes to *base_len. */
static const char *class_of(const char *name, size_t *base_len)
{
	const char *paren = strchr(name, '(');
	const char *end = paren ? paren : name + strlen(name);
	const char *p, *start = name;

	for (p = name; p < end; p++)
		if (*p == '.')
			start = p + 1;
	*base_len = (size_t)(end - start);
	return start;
}

bool deval_exception_matches(const char *want, const char *got)
{
	size_t want_base, got_base;
	const char *w, *g;

	if (!want || !got)
		return false;
	w = class_of(want, &want_base);
	g = class_of(got, &got_base);
	if (strcmp(w, g) == 0)
		return true;
	/* the expected name without a cause: compare with got's wrapper */
	return w[want_base] == '\0' && want_base == got_base && strncmp(w, g, got_base) == 0;
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/* argv joined with single spaces; NULL when out of memory or not strings. */
static char *join_argv(const json_t *argv)
{
	const json_t *arg;
	size_t i, len = 0;
	char *out, *p;

	json_array_foreach(argv, i, arg) {
		if (!json_is_string(arg))
			return NULL;
		len += json_string_length(arg) + 1;
	}
	out = p = malloc(len + 1);
	if (!out)
		return NULL;
	json_array_foreach(argv, i, arg) {
		if (i)
			*p++ = ' ';
		memcpy(p, json_string_value(arg), json_string_length(arg));
		p += json_string_length(arg);
	}
	*p = '\0';
	return out;
}

bool deval_remedy_matches(const json_t *want, const json_t *argv)
{
	const char *w, *g;
	bool match;
	char *joined;
	size_t i;

	if (!json_is_array(argv) || json_array_size(argv) == 0)
		return false;
	if (json_is_string(want)) {
		joined = join_argv(argv);
		match = joined && strstr(joined, json_string_value(want)) != NULL;
		free(joined);
		return match;
	}
	if (!json_is_array(want) || json_array_size(want) != json_array_size(argv))
		return false;
	for (i = 0; i < json_array_size(want); i++) {
		w = json_string_value(json_array_get(want, i));
		g = json_string_value(json_array_get(argv, i));
		if (!w || !g)
			return false;
		if (i == 0 && !strchr(w, '/'))
			g = base_name(g);
		if (strcmp(w, g) != 0)
			return false;
	}
	return true;
}

/* Whether the page key key names page: equal, or ending in "/" page. */
static bool key_names(const char *key, const char *page)
{
	size_t klen = strlen(key), plen = strlen(page);

	if (klen == plen)
		return strcmp(key, page) == 0;
	return klen > plen && key[klen - plen - 1] == '/' && strcmp(key + klen - plen, page) == 0;
}

/* page (a path or URL, maybe with "#anchor" or "?query") against c. */
static int cites(const struct deval_case *c, const char *page, const char *anchor)
{
	size_t cut = strcspn(page, "#?");
	char *path, *key;
	int found = 0;

	if (!anchor && page[cut] == '#')
		anchor = page + cut + 1;
	path = strndup(page, cut);
	while (path && cut > 1 && path[cut - 1] == '/')
		path[--cut] = '\0';      /* ".../page/" as a site may link it */
	key = path ? reval_page_key(path) : NULL;
	if (key && key_names(key, c->page))
		found = c->anchor && anchor && strcmp(anchor, c->anchor) == 0 ? 2 : 1;
	free(path);
	free(key);
	return found;
}

int deval_reference_cites(const struct deval_case *c, const json_t *ref)
{
	const char *page, *anchor = NULL;

	if (!c->page)
		return 0;
	if (json_is_string(ref)) {
		page = json_string_value(ref);
	} else if (json_is_object(ref)) {
		page = json_string_value(json_object_get(ref, "page"));
		if (!page)
			page = json_string_value(json_object_get(ref, "url"));
		anchor = text_of(json_object_get(ref, "anchor"));
	} else {
		return 0;
	}
	return page && *page ? cites(c, page, anchor) : 0;
}

/* ================================================================ ROUGE-L */

/* One token: [start, start + len) of the text. */
struct token {
	const char *start;
	size_t len;
};

static bool token_byte(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch >= 0x80;
}

/* The tokens of text, at most DEVAL_ROUGE_MAX_TOKENS. *out owned by the
 * caller (free), NULL when there is none. */
static int tokenize(const char *text, struct token **out, size_t *n)
{
	struct token *toks = NULL;
	size_t count = 0, cap = 0;
	const char *p = text;

	*out = NULL;
	*n = 0;
	while (*p && count < DEVAL_ROUGE_MAX_TOKENS) {
		while (*p && !token_byte((unsigned char)*p))
			p++;
		if (!*p)
			break;
		if (count == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			struct token *grown = realloc(toks, ncap * sizeof(*toks));
			if (!grown) {
				free(toks);
				return -ENOMEM;
			}
			toks = grown;
			cap = ncap;
		}
		toks[count].start = p;
		while (*p && token_byte((unsigned char)*p))
			p++;
		toks[count].len = (size_t)(p - toks[count].start);
		count++;
	}
	*out = toks;
	*n = count;
	return 0;
}

static char lower(char ch)
{
	return ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
}

static bool same_token(const struct token *a, const struct token *b)
{
	size_t i;

	if (a->len != b->len)
		return false;
	for (i = 0; i < a->len; i++)
		if (lower(a->start[i]) != lower(b->start[i]))
			return false;
	return true;
}

/* The length of the LCS of a and b: the textbook dynamic programme, one
 * row of b's length kept. */
static int lcs_length(const struct token *a, size_t na, const struct token *b, size_t nb,
                      size_t *out)
{
	size_t *row = calloc(nb + 1, sizeof(*row));
	size_t i, j, diagonal, above;

	if (!row)
		return -ENOMEM;
	for (i = 0; i < na; i++) {
		diagonal = 0;              /* row[j - 1] of the previous row */
		for (j = 1; j <= nb; j++) {
			above = row[j];
			if (same_token(&a[i], &b[j - 1]))
				row[j] = diagonal + 1;
			else if (row[j - 1] > row[j])
				row[j] = row[j - 1];
			diagonal = above;
		}
	}
	*out = row[nb];
	free(row);
	return 0;
}

int deval_rouge_l(const char *candidate, const char *reference, struct deval_rouge *out)
{
	struct token *cand = NULL, *ref = NULL;
	size_t nc, nr, lcs = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = tokenize(candidate, &cand, &nc);
	if (rc == 0)
		rc = tokenize(reference, &ref, &nr);
	if (rc == 0 && nc && nr)
		rc = lcs_length(cand, nc, ref, nr, &lcs);
	if (rc == 0 && lcs) {
		out->recall = (double)lcs / (double)nr;
		out->precision = (double)lcs / (double)nc;
		out->f1 = 2 * out->recall * out->precision / (out->recall + out->precision);
	}
	free(cand);
	free(ref);
	return rc;
}

/* ================================================================ scoring */

static bool incident_of_case(const json_t *incidents, json_int_t id)
{
	const json_t *inc;
	size_t i;

	json_array_foreach(incidents, i, inc)
		if (json_integer_value(json_object_get(inc, "id")) == id)
			return true;
	return false;
}

static json_int_t incident_id(const json_t *obj)
{
	return json_integer_value(json_object_get(obj, "incident"));
}

/* The main incident: the first with the expected exception, else the
 * first; NULL when none. */
static const json_t *main_incident(const struct deval_case *c, const json_t *incidents)
{
	const json_t *inc;
	size_t i;

	json_array_foreach(incidents, i, inc)
		if (deval_exception_matches(c->exception,
		                            json_string_value(json_object_get(inc, "exception"))))
			return inc;
	return json_array_get(incidents, 0);
}

/* The first diagnosis of the last non-empty diagnosis.done for id. */
static const json_t *best_diagnosis(const json_t *done, json_int_t id)
{
	const json_t *d, *best = NULL, *list;
	size_t i;

	json_array_foreach(done, i, d) {
		list = json_object_get(d, "diagnoses");
		if (incident_id(d) == id && json_array_size(list) > 0)
			best = json_array_get(list, 0);
	}
	return best;
}

/* What the scoring gathers while walking the diagnoses: new references. */
struct gathered {
	json_t *remedies;     /* [argv joined] */
	json_t *cited;        /* [reference as text] */
	bool remedy, page, section;
};

static void add_text_once(json_t *list, const char *text)
{
	const json_t *v;
	size_t i;

	if (!text)
		return;
	json_array_foreach(list, i, v)
		if (strcmp(json_string_value(v), text) == 0)
			return;
	json_array_append_new(list, json_string(text));
}

static void gather_remedy(const struct deval_case *c, const json_t *remedy, struct gathered *g)
{
	const json_t *argv = json_object_get(remedy, "argv");
	char *joined;

	if (!json_is_array(argv))
		return;
	if (c->remedy && deval_remedy_matches(c->remedy, argv))
		g->remedy = true;
	joined = join_argv(argv);
	add_text_once(g->remedies, joined);
	free(joined);
}

/* A reference as one line of text for the report. */
static char *reference_text(const json_t *ref)
{
	const char *page, *anchor;
	char *out;

	if (json_is_string(ref))
		return strdup(json_string_value(ref));
	page = json_string_value(json_object_get(ref, "page"));
	if (!page)
		page = json_string_value(json_object_get(ref, "url"));
	anchor = text_of(json_object_get(ref, "anchor"));
	if (!page || asprintf(&out, "%s%s%s", page, anchor ? "#" : "", anchor ? anchor : "") < 0)
		return NULL;
	return out;
}

static void gather_references(const struct deval_case *c, const json_t *refs, struct gathered *g)
{
	const json_t *ref;
	char *text;
	size_t i;
	int level;

	json_array_foreach(refs, i, ref) {
		level = deval_reference_cites(c, ref);
		g->page |= level >= 1;
		g->section |= level == 2;
		text = reference_text(ref);
		add_text_once(g->cited, text);
		free(text);
	}
}

static void gather(const struct deval_case *c, const struct deval_observed *o, struct gathered *g)
{
	const json_t *d, *diag, *remedy;
	size_t i, j, k;

	json_array_foreach(o->done, i, d) {
		if (!incident_of_case(o->incidents, incident_id(d)))
			continue;
		gather_references(c, json_object_get(d, "citations"), g);   /* the agent's run */
		json_array_foreach(json_object_get(d, "diagnoses"), j, diag) {
			json_array_foreach(json_object_get(diag, "remedies"), k, remedy)
				gather_remedy(c, remedy, g);
			gather_references(c, json_object_get(diag, "references"), g);
			gather_references(c, json_object_get(diag, "citations"), g);
		}
	}
	json_array_foreach(o->proposed, i, remedy)
		if (incident_of_case(o->incidents, incident_id(remedy)))
			gather_remedy(c, remedy, g);
}

/* summary, a blank line and explanation; newly allocated. */
static char *diagnosis_text(const json_t *diag)
{
	const char *summary = json_string_value(json_object_get(diag, "summary"));
	const char *explanation = json_string_value(json_object_get(diag, "explanation"));
	char *out;

	if (asprintf(&out, "%s\n\n%s", summary ? summary : "", explanation ? explanation : "") < 0)
		return NULL;
	return out;
}

static json_t *mark_json(enum deval_mark m)
{
	return m == DEVAL_NA ? json_null() : json_boolean(m == DEVAL_RIGHT);
}

static enum deval_mark mark(bool scored, bool right)
{
	return !scored ? DEVAL_NA : right ? DEVAL_RIGHT : DEVAL_WRONG;
}

static json_t *want_json(const struct deval_case *c)
{
	json_t *want = json_pack("{s:o}", "exception",
	                         c->exception ? json_string(c->exception) : json_null());

	if (want && c->remedy)
		json_object_set(want, "remedy", c->remedy);
	if (want && c->page_source)
		json_object_set_new(want, "page", json_string(c->page_source));
	return want;
}

static json_t *best_json(const json_t *best)
{
	if (!best)
		return json_null();
	return json_pack("{s:O?, s:O?}", "plugin", json_object_get(best, "plugin"),
	                 "summary", json_object_get(best, "summary"));
}

/* The rouge_l, and s->rouge from the best diagnosis. */
static int score_rouge(const struct deval_case *c, const json_t *best, struct deval_score *s,
                       json_t **out)
{
	char *text;
	int rc;

	*out = json_null();
	if (!c->reference)
		return 0;
	text = best ? diagnosis_text(best) : strdup("");
	if (!text)
		return -ENOMEM;
	rc = deval_rouge_l(text, c->reference, &s->rouge);
	free(text);
	if (rc < 0)
		return rc;
	s->has_rouge = true;
	*out = json_pack("{s:f, s:f, s:f}", "recall", s->rouge.recall, "precision",
	                 s->rouge.precision, "f1", s->rouge.f1);
	return *out ? 0 : -ENOMEM;
}

int deval_score_case(const struct deval_case *c, size_t line, const struct deval_observed *o,
                     struct deval_score *s, json_t **result)
{
	struct gathered g = { json_array(), json_array(), false, false, false };
	json_t *found = json_array(), *ids = json_array(), *rouge = NULL;
	const json_t *inc, *main_inc, *best = NULL;
	bool exception_right = false;
	size_t i;
	int rc;

	memset(s, 0, sizeof(*s));
	*result = NULL;
	if (!g.remedies || !g.cited || !found || !ids) {
		rc = -ENOMEM;
		goto out;
	}
	json_array_foreach(o->incidents, i, inc) {
		const char *exception = json_string_value(json_object_get(inc, "exception"));
		json_array_append_new(found, json_string(exception ? exception : "?"));
		json_array_append(ids, json_object_get(inc, "id"));
		exception_right |= deval_exception_matches(c->exception, exception);
	}
	gather(c, o, &g);
	main_inc = main_incident(c, o->incidents);
	if (main_inc)
		best = best_diagnosis(o->done, json_integer_value(json_object_get(main_inc, "id")));
	s->detected = c->exception ? json_array_size(o->incidents) > 0
	                           : json_array_size(o->incidents) == 0;
	s->exception = mark(c->exception != NULL, exception_right);
	s->remedy = mark(c->remedy != NULL, g.remedy);
	s->page = mark(c->page != NULL, g.page);
	s->section = mark(c->anchor != NULL, g.section);
	s->timed_out = o->timed_out;
	rc = score_rouge(c, best, s, &rouge);
	if (rc < 0)
		goto out;
	*result = json_pack("{s:I, s:s, s:s, s:b, s:O, s:O, s:b, s:o, s:o, s:o, s:o, s:o, s:o,"
	                    " s:O, s:O, s:o}",
	                    "line", (json_int_t)line, "name", c->name, "kind", c->kind,
	                    "timed_out", o->timed_out, "found", found, "incidents", ids,
	                    "detected", s->detected, "exception", mark_json(s->exception),
	                    "remedy", mark_json(s->remedy), "page", mark_json(s->page),
	                    "section", mark_json(s->section), "rouge_l", rouge,
	                    "best", best_json(best), "remedies", g.remedies, "cited", g.cited,
	                    "want", want_json(c));
	rouge = NULL;
	rc = *result ? 0 : -ENOMEM;
out:
	json_decref(rouge);
	json_decref(g.remedies);
	json_decref(g.cited);
	json_decref(found);
	json_decref(ids);
	return rc;
}

/* ================================================================ totals */

void deval_add(struct deval_totals *t, const struct deval_score *s)
{
	t->cases++;
	if (s->exception != DEVAL_NA) {
		t->errors++;
		t->errors_found += s->detected;
		t->exception_cases++;
		t->exception_right += s->exception == DEVAL_RIGHT;
	} else {
		t->clean++;
		t->clean_quiet += s->detected;
	}
	t->remedy_cases += s->remedy != DEVAL_NA;
	t->remedy_right += s->remedy == DEVAL_RIGHT;
	t->page_cases += s->page != DEVAL_NA;
	t->page_right += s->page == DEVAL_RIGHT;
	t->section_cases += s->section != DEVAL_NA;
	t->section_right += s->section == DEVAL_RIGHT;
	if (s->has_rouge) {
		t->rouge_cases++;
		t->rouge_recall += s->rouge.recall;
		t->rouge_precision += s->rouge.precision;
		t->rouge_f1 += s->rouge.f1;
	}
	t->timed_out += s->timed_out;
}

double deval_share(size_t right, size_t cases)
{
	return cases ? (double)right / (double)cases : -1;
}

static json_t *figure(double v)
{
	return v < 0 ? json_null() : json_real(v);
}

static json_t *stage_json(size_t cases, size_t right)
{
	return json_pack("{s:I, s:I, s:o}", "cases", (json_int_t)cases, "right", (json_int_t)right,
	                 "share", figure(deval_share(right, cases)));
}

static json_t *mean(double sum, size_t n)
{
	return n ? json_real(sum / (double)n) : json_null();
}

json_t *deval_report(const struct deval_totals *t, size_t malformed, json_t *results)
{
	json_t *detected, *stages, *out;

	detected = stage_json(t->cases, t->errors_found + t->clean_quiet);
	if (detected) {
		json_object_set_new(detected, "errors", json_pack("{s:I, s:I}", "cases",
		                    (json_int_t)t->errors, "right", (json_int_t)t->errors_found));
		json_object_set_new(detected, "clean", json_pack("{s:I, s:I}", "cases",
		                    (json_int_t)t->clean, "right", (json_int_t)t->clean_quiet));
	}
	stages = json_pack("{s:o, s:o, s:o, s:o, s:o, s:{s:I, s:o, s:o, s:o}}",
	                   "detected", detected,
	                   "exception", stage_json(t->exception_cases, t->exception_right),
	                   "remedy", stage_json(t->remedy_cases, t->remedy_right),
	                   "page", stage_json(t->page_cases, t->page_right),
	                   "section", stage_json(t->section_cases, t->section_right),
	                   "rouge_l", "cases", (json_int_t)t->rouge_cases,
	                   "recall", mean(t->rouge_recall, t->rouge_cases),
	                   "precision", mean(t->rouge_precision, t->rouge_cases),
	                   "f1", mean(t->rouge_f1, t->rouge_cases));
	out = json_pack("{s:I, s:I, s:I, s:o, s:o}", "cases", (json_int_t)t->cases,
	                "malformed", (json_int_t)malformed, "timed_out", (json_int_t)t->timed_out,
	                "stages", stages, "results", results ? results : json_array());
	return out;
}
