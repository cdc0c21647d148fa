/*
 * retrieval_eval.c - recall@k and MRR of documentation retrieval (see
 * retrieval_eval.h for the definitions).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <jansson.h>

#include "retrieval_eval.h"

/* The extensions doctor indexes (document.h's doc_format_of). */
static const char *const doc_extensions[] = {
	".md", ".markdown", ".rst", ".txt", ".html", ".htm", ".ipynb", NULL,
};

char *reval_page_key(const char *page)
{
	const char *base, *dot;
	size_t len;
	size_t i;

	while (page[0] == '.' && page[1] == '/')
		page += 2;
	while (page[0] == '/')
		page++;
	len = strlen(page);
	base = strrchr(page, '/');
	base = base ? base + 1 : page;
	dot = strrchr(base, '.');
	for (i = 0; dot && dot != base && doc_extensions[i]; i++) {
		if (strcasecmp(dot, doc_extensions[i]) == 0) {
			len = (size_t)(dot - page);
			break;
		}
	}
	return strndup(page, len);
}

void reval_question_release(struct reval_question *q)
{
	free(q->question);
	free(q->source);
	free(q->page);
	free(q->anchor);
	memset(q, 0, sizeof(*q));
}

static int parse_error(char **error, const char *what)
{
	*error = strdup(what);
	return *error ? -EINVAL : -ENOMEM;
}

/* source -> q->page, q->anchor. */
static int split_source(const char *source, struct reval_question *q, char **error)
{
	const char *hash = strchr(source, '#');
	char *page = strndup(source, hash ? (size_t)(hash - source) : strlen(source));

	if (!page)
		return -ENOMEM;
	q->page = reval_page_key(page);
	free(page);
	if (!q->page)
		return -ENOMEM;
	if (!q->page[0])
		return parse_error(error, "'source' names no page");
	if (hash && hash[1] && !(q->anchor = strdup(hash + 1)))
		return -ENOMEM;
	return 0;
}

int reval_parse_question(const char *line, size_t len, struct reval_question *q,
                         char **error)
{
	json_error_t jerr;
	json_t *obj, *question, *source;
	int rc;

	memset(q, 0, sizeof(*q));
	*error = NULL;
	obj = json_loadb(line, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
	if (!obj) {
		if (asprintf(error, "not valid JSON: %s", jerr.text) < 0) {
			*error = NULL;
			return -ENOMEM;
		}
		return -EINVAL;
	}
	question = json_object_get(obj, "question");
	source = json_object_get(obj, "source");
	if (!json_is_object(obj))
		rc = parse_error(error, "expected a JSON object {\"question\", \"source\"}");
	else if (!json_is_string(question) || !json_string_length(question))
		rc = parse_error(error, "'question' must be a non-empty string");
	else if (!json_is_string(source) || !json_string_length(source))
		rc = parse_error(error, "'source' must be a non-empty string");
	else if (!(q->question = strdup(json_string_value(question))) ||
	         !(q->source = strdup(json_string_value(source))))
		rc = -ENOMEM;
	else
		rc = split_source(q->source, q, error);
	json_decref(obj);
	if (rc < 0)
		reval_question_release(q);
	return rc;
}

size_t reval_rank(const struct reval_question *q, const struct reval_hit *hits, size_t n,
                  bool section)
{
	size_t i;
	char *key;
	bool match;

	if (section && !q->anchor)
		return 0;
	for (i = 0; i < n; i++) {
		if (!hits[i].page)
			continue;
		key = reval_page_key(hits[i].page);
		match = key && strcmp(key, q->page) == 0 &&
		        (!section || (hits[i].anchor && strcmp(hits[i].anchor, q->anchor) == 0));
		free(key);
		if (match)
			return i + 1;
	}
	return 0;
}

static int compare_unsigned(const void *a, const void *b)
{
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;

	return x < y ? -1 : x > y;
}

int reval_parse_ks(const char *text, unsigned *ks, size_t *nk)
{
	const char *p = text;
	unsigned long v;
	char *end;
	size_t n = 0, i;

	for (;;) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		errno = 0;
		v = strtoul(p, &end, 10);
		if (errno || v < 1 || v > REVAL_K_MAX || n == REVAL_MAX_KS)
			return -EINVAL;
		for (i = 0; i < n; i++)
			if (ks[i] == v)
				return -EINVAL;
		ks[n++] = (unsigned)v;
		if (*end == '\0')
			break;
		if (*end != ',')
			return -EINVAL;
		p = end + 1;
	}
	qsort(ks, n, sizeof(*ks), compare_unsigned);
	*nk = n;
	return 0;
}

void reval_init(struct reval_totals *t, const unsigned *ks, size_t nk)
{
	memset(t, 0, sizeof(*t));
	if (nk > REVAL_MAX_KS)
		nk = REVAL_MAX_KS;
	memcpy(t->ks, ks, nk * sizeof(*ks));
	t->nk = nk;
}

void reval_add(struct reval_totals *t, size_t page_rank, size_t section_rank, bool anchored)
{
	size_t max_k = t->nk ? t->ks[t->nk - 1] : 0, i;

	if (page_rank > max_k)
		page_rank = 0;
	if (section_rank > max_k || !anchored)
		section_rank = 0;
	t->questions++;
	t->anchored += anchored;
	for (i = 0; i < t->nk; i++) {
		t->page_hits[i] += page_rank && page_rank <= t->ks[i];
		t->section_hits[i] += section_rank && section_rank <= t->ks[i];
	}
	if (page_rank)
		t->page_rr += 1.0 / (double)page_rank;
	if (section_rank)
		t->section_rr += 1.0 / (double)section_rank;
}

double reval_recall(const struct reval_totals *t, size_t i, bool section)
{
	size_t base = section ? t->anchored : t->questions;

	if (i >= t->nk || base == 0)
		return -1;
	return (double)(section ? t->section_hits[i] : t->page_hits[i]) / (double)base;
}

double reval_mrr(const struct reval_totals *t, bool section)
{
	size_t base = section ? t->anchored : t->questions;

	if (base == 0)
		return -1;
	return (section ? t->section_rr : t->page_rr) / (double)base;
}
