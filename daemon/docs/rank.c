/*
 * rank.c - doctor_bm25, the FTS5 auxiliary function search ranks by: Okapi
 * BM25 with column weights, as FTS5's own bm25() computes it (k1 = 1.2,
 * b = 0.75, IDF log((N - n + 0.5) / (n + 0.5)), at least 1e-6), made cheap
 * enough to score every chunk an OR query matches in well under a
 * millisecond:
 *
 * - document frequencies come with the query (term_df, planned by
 *   search.c) instead of one pass over each term's rows per query; a term
 *   without one is counted here (rare terms only: the cheap ones);
 * - each chunk's length in tokens is read once from FTS5 (a lookup in its
 *   docsize table per row, the costliest part of bm25()) and then kept in
 *   a per-connection cache, cleared when the database changes.
 *
 * Called as doctor_bm25(chunks_fts, w_title, w_headings, w_body, query)
 * where query is the struct query (query.c) bound with
 * sqlite3_bind_pointer (type RANK_PLAN_TYPE), which also weighs each
 * phrase (an identifier's parts less than words). Higher is better.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "index_internal.h"

#define BM25_K1 1.2
#define BM25_B 0.75
#define NCOLUMNS 3   /* title, headings, body */

/* ------------------------------------------------------------ length cache */

static uint64_t slot_of(int64_t id, size_t cap)
{
	/* Fibonacci hashing: consecutive ids spread over the table. */
	return ((uint64_t)id * 0x9e3779b97f4a7c15ULL) >> (64 - __builtin_ctzll(cap));
}

/* The cached length of chunk id, or -1. */
static int64_t cache_get(const struct rank_cache *c, int64_t id)
{
	uint64_t i;

	if (!c->cap)
		return -1;
	for (i = slot_of(id, c->cap); c->ids[i]; i = (i + 1) & (c->cap - 1))
		if (c->ids[i] == id)
			return c->lens[i];
	return -1;
}

static void cache_put_slot(struct rank_cache *c, int64_t id, int64_t len)
{
	uint64_t i;

	for (i = slot_of(id, c->cap); c->ids[i] && c->ids[i] != id; i = (i + 1) & (c->cap - 1))
		;
	c->n += c->ids[i] == 0;
	c->ids[i] = id;
	c->lens[i] = len;
}

/* Remember len for id (rowids are >= 1: 0 marks an empty slot). Out of
 * memory only means no caching. */
static void cache_put(struct rank_cache *c, int64_t id, int64_t len)
{
	struct rank_cache bigger = { 0 };
	size_t i;

	if (id <= 0)
		return;
	if ((c->n + 1) * 2 > c->cap) {
		bigger.cap = c->cap ? c->cap * 2 : 1024;
		bigger.ids = calloc(bigger.cap, sizeof(*bigger.ids));
		bigger.lens = calloc(bigger.cap, sizeof(*bigger.lens));
		if (!bigger.ids || !bigger.lens) {
			free(bigger.ids);
			free(bigger.lens);
			return;
		}
		for (i = 0; i < c->cap; i++)
			if (c->ids[i])
				cache_put_slot(&bigger, c->ids[i], c->lens[i]);
		free(c->ids);
		free(c->lens);
		*c = bigger;
	}
	cache_put_slot(c, id, len);
}

void rank_cache_clear(struct rank_cache *c)
{
	free(c->ids);
	free(c->lens);
	memset(c, 0, sizeof(*c));
}

/* ------------------------------------------------------------ the function */

/* What one query computes once (FTS5 auxiliary data). */
struct query_data {
	int nphrases;
	double avgdl;
	double w[NCOLUMNS];
	double *idf;                       /* per phrase, times its weight */
	double *freq;                      /* per phrase, scratch for a row */
};

static void query_data_free(void *p)
{
	struct query_data *q = p;

	if (!q)
		return;
	free(q->idf);
	free(q->freq);
	free(q);
}

static int count_row(const Fts5ExtensionApi *api, Fts5Context *fts, void *ud)
{
	(void)api;
	(void)fts;
	(*(sqlite3_int64 *)ud)++;
	return SQLITE_OK;
}

static int query_data_new(const Fts5ExtensionApi *api, Fts5Context *fts, int nval,
			  sqlite3_value **vals, struct query_data **out)
{
	const struct query *plan = nval > 3 ? sqlite3_value_pointer(vals[3], RANK_PLAN_TYPE) : NULL;
	struct query_data *q = calloc(1, sizeof(*q));
	sqlite3_int64 rows = 0, tokens = 0, df;
	double weight;
	int i, rc;

	if (!q)
		return SQLITE_NOMEM;
	q->nphrases = api->xPhraseCount(fts);
	q->idf = calloc((size_t)q->nphrases + 1, sizeof(*q->idf));
	q->freq = calloc((size_t)q->nphrases + 1, sizeof(*q->freq));
	rc = q->idf && q->freq ? SQLITE_OK : SQLITE_NOMEM;
	for (i = 0; i < NCOLUMNS; i++)
		q->w[i] = i < nval ? sqlite3_value_double(vals[i]) : 1.0;
	if (rc == SQLITE_OK)
		rc = api->xRowCount(fts, &rows);
	if (rc == SQLITE_OK)
		rc = api->xColumnTotalSize(fts, -1, &tokens);
	q->avgdl = rows > 0 ? (double)tokens / (double)rows : 1.0;
	if (q->avgdl <= 0)
		q->avgdl = 1.0;
	for (i = 0; rc == SQLITE_OK && i < q->nphrases; i++) {
		if (plan && ((size_t)i < plan->skip || (size_t)i - plan->skip >= plan->n)) {
			q->idf[i] = 0;         /* a filter's repeat: not scored */
			continue;
		}
		df = plan ? plan->df[(size_t)i - plan->skip] : -1;
		weight = plan ? plan->weight[(size_t)i - plan->skip] : 1.0;
		if (df < 0) {
			df = 0;
			rc = api->xQueryPhrase(fts, i, &df, count_row);
		}
		q->idf[i] = log(((double)rows - (double)df + 0.5) / ((double)df + 0.5));
		if (!(q->idf[i] > 0))
			q->idf[i] = 1e-6;
		q->idf[i] *= weight;
	}
	if (rc != SQLITE_OK) {
		query_data_free(q);
		return rc;
	}
	*out = q;
	return SQLITE_OK;
}

/* The length of the current row in tokens, all columns together. */
static int row_length(const Fts5ExtensionApi *api, Fts5Context *fts, struct rank_cache *c,
		      int64_t *len)
{
	int64_t id = api->xRowid(fts);
	int n = 0, rc;

	*len = cache_get(c, id);
	if (*len >= 0)
		return SQLITE_OK;
	rc = api->xColumnSize(fts, -1, &n);
	if (rc != SQLITE_OK)
		return rc;
	*len = n;
	cache_put(c, id, n);
	return SQLITE_OK;
}

static void doctor_bm25(const Fts5ExtensionApi *api, Fts5Context *fts, sqlite3_context *ctx,
			int nval, sqlite3_value **vals)
{
	struct rank_cache *cache = api->xUserData(fts);
	struct query_data *q = api->xGetAuxdata(fts, 0);
	int ninst = 0, i, phrase, col, off, rc = SQLITE_OK;
	double score = 0, norm;
	int64_t len = 0;

	if (!q) {
		rc = query_data_new(api, fts, nval, vals, &q);
		if (rc == SQLITE_OK)
			rc = api->xSetAuxdata(fts, q, query_data_free);
	}
	if (rc == SQLITE_OK) {
		memset(q->freq, 0, sizeof(*q->freq) * (size_t)q->nphrases);
		rc = api->xInstCount(fts, &ninst);
	}
	for (i = 0; rc == SQLITE_OK && i < ninst; i++) {
		rc = api->xInst(fts, i, &phrase, &col, &off);
		if (rc == SQLITE_OK && phrase >= 0 && phrase < q->nphrases)
			q->freq[phrase] += col >= 0 && col < NCOLUMNS ? q->w[col] : 1.0;
	}
	if (rc == SQLITE_OK)
		rc = row_length(api, fts, cache, &len);
	if (rc != SQLITE_OK) {
		sqlite3_result_error_code(ctx, rc);
		return;
	}
	norm = BM25_K1 * (1 - BM25_B + BM25_B * (double)len / q->avgdl);
	for (i = 0; i < q->nphrases; i++)
		score += q->idf[i] * (q->freq[i] * (BM25_K1 + 1)) / (q->freq[i] + norm);
	sqlite3_result_double(ctx, score);
}

int rank_register(sqlite3 *db, struct rank_cache *cache)
{
	fts5_api *api;
	int rc = docs_fts5_api(db, &api);

	if (rc < 0)
		return rc;
	rc = api->xCreateFunction(api, "doctor_bm25", cache, doctor_bm25, NULL);
	return rc == SQLITE_OK ? 0 : rc == SQLITE_NOMEM ? -ENOMEM : -EIO;
}
