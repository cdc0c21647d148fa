/*
 * search.c - docs_search: a question or an error message turned into an
 * FTS5 query, the chunks ranked by weighted BM25 (title, headings, body),
 * diversified so that one page does not fill the results, and returned
 * with everything a citation needs.
 *
 * The query is built in query.c and scored by doctor_bm25 (rank.c); this
 * file runs it in one read transaction, ranks the stored vectors by cosine
 * against the query's embedding (the caller's, or asked of the endpoint
 * here) when an endpoint is configured, fuses the two lists by reciprocal
 * rank fusion (vectors.c), diversifies and loads the hits.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "embed.h"
#include "index_internal.h"

/* Candidates ranked before diversification: enough to fill k results
 * when the best pages each hold many matching chunks. */
#define CANDIDATES(k) ((k) * 5 + 20)
#define MAX_K 1000

/* ------------------------------------------------------------ ranking */

/* One chunk in the running. */
struct cand {
	int64_t id, file_id;
	double score;                      /* higher is better */
	int lexical_rank, vector_rank;     /* 1-based; 0: not in that list */
};

/* The best n chunks by weighted BM25 (doctor_bm25, rank.c). *out owned by
 * the caller. */
static int lexical_candidates(docs_index *ix, const struct query *query,
			      const struct docs_options *opt, size_t n, struct cand **out,
			      size_t *nout)
{
	sqlite3_stmt *stmt = NULL;
	struct cand *c;
	size_t got = 0;
	int rc;

	*out = NULL;
	*nout = 0;
	c = calloc(n, sizeof(*c));
	if (!c)
		return -ENOMEM;
	rc = ix_stmt(ix, IX_SEARCH,
		     "SELECT s.id, c.file_id, s.score FROM"
		     " (SELECT rowid AS id, doctor_bm25(chunks_fts, ?2, ?3, ?4, ?6) AS score"
		     "  FROM chunks_fts WHERE chunks_fts MATCH ?1 ORDER BY score DESC LIMIT ?5) AS s"
		     " JOIN chunks c ON c.id = s.id ORDER BY s.score DESC, s.id", &stmt);
	if (rc == 0)
		rc = ix_bind_text(ix, stmt, 1, query->match);
	if (rc == 0 && ((rc = sqlite3_bind_double(stmt, 2, opt->w_title)) ||
			(rc = sqlite3_bind_double(stmt, 3, opt->w_headings)) ||
			(rc = sqlite3_bind_double(stmt, 4, opt->w_body)) ||
			(rc = sqlite3_bind_pointer(stmt, 6, (void *)query, RANK_PLAN_TYPE, NULL))))
		rc = ix_fail(ix, rc);
	if (rc == 0)
		rc = ix_bind_int64(ix, stmt, 5, (int64_t)n);
	while (rc == 0 && got < n && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		c[got].id = sqlite3_column_int64(stmt, 0);
		c[got].file_id = sqlite3_column_int64(stmt, 1);
		c[got].score = sqlite3_column_double(stmt, 2);
		c[got].lexical_rank = (int)got + 1;
		got++;
		rc = 0;
	}
	rc = rc == 0 || rc == SQLITE_DONE ? 0 : rc < 0 ? rc : ix_fail(ix, rc);
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);      /* query is about to be freed */
	if (rc < 0) {
		free(c);
		return rc;
	}
	*out = c;
	*nout = got;
	return 0;
}

/* At most per_page candidates of one page among the first k, in rank
 * order; then, if fewer than k, the best of those held back. sel (room
 * for k) gets indexes into c. */
static size_t diversify(const struct cand *c, size_t n, size_t k, unsigned per_page,
			size_t *sel)
{
	size_t nsel = 0, i, j, same;
	bool *taken = calloc(n ? n : 1, sizeof(*taken));

	if (!taken)
		per_page = 0;                  /* out of memory: plain top k */
	for (i = 0; i < n && nsel < k; i++) {
		for (same = 0, j = 0; per_page && j < nsel; j++)
			same += c[sel[j]].file_id == c[i].file_id;
		if (per_page && same >= per_page)
			continue;
		sel[nsel++] = i;
		if (taken)
			taken[i] = true;
	}
	for (i = 0; taken && i < n && nsel < k; i++)
		if (!taken[i])
			sel[nsel++] = i;
	free(taken);
	return nsel;
}

/* ------------------------------------------------------------ vectors */

void ix_caches_clear(docs_index *ix)
{
	rank_cache_clear(&ix->lengths);
	vec_matrix_release(&ix->vecs);
	ix->vecs.dim = 0;                  /* the next load sets it */
	free(ix->vecs_model);
	ix->vecs_model = NULL;
}

/* Load the vectors stored for model into ix->vecs, unless they are there
 * already (the cache is cleared when the database changes). Rows of
 * another length than the first (a server that changed its dimension)
 * are passed over: a re-index with a model key naming the dimension fixes
 * them. */
static int load_vectors(docs_index *ix, const char *model)
{
	sqlite3_stmt *stmt = NULL;
	const void *blob;
	int len, rc;

	if (ix->vecs_model && strcmp(ix->vecs_model, model) == 0)
		return 0;
	ix_caches_clear(ix);
	rc = ix_stmt(ix, IX_VECTORS_LOAD,
		     "SELECT chunk_id, vec FROM vectors WHERE model = ?1 ORDER BY chunk_id", &stmt);
	if (rc == 0)
		rc = ix_bind_text(ix, stmt, 1, model);
	while (rc == 0 && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		rc = 0;
		blob = sqlite3_column_blob(stmt, 1);
		len = sqlite3_column_bytes(stmt, 1);
		if (len <= 0 || len % 4)
			continue;
		if (ix->vecs.dim == 0 && (rc = vec_matrix_init(&ix->vecs, (size_t)len / 4)) < 0)
			break;
		rc = vec_matrix_append(&ix->vecs, sqlite3_column_int64(stmt, 0), blob, (size_t)len);
		if (rc == -EINVAL)
			rc = 0;
	}
	rc = rc == 0 || rc == SQLITE_DONE ? 0 : rc < 0 ? rc : ix_fail(ix, rc);
	sqlite3_reset(stmt);
	if (rc == 0 && !(ix->vecs_model = strdup(model)))
		rc = -ENOMEM;
	if (rc < 0)
		ix_caches_clear(ix);
	return rc;
}

/* The query's embedding: the caller's (q->vector, copied), its failure
 * (q->vector_error), or asked of the endpoint now. *qv owned by the
 * caller; on an endpoint failure rc < 0 and *err (owned) may say why. */
static int query_vector(const struct docs_query *q, const struct embed_config *c, float **qv,
			size_t *dim, char **err)
{
	const char *texts[1] = { q->text };

	if (q->vector) {
		if (q->dim == 0 || !(*qv = malloc(q->dim * sizeof(float))))
			return q->dim == 0 ? -EINVAL : -ENOMEM;
		memcpy(*qv, q->vector, q->dim * sizeof(float));
		*dim = q->dim;
		return 0;
	}
	if (q->vector_error) {
		*err = strdup(q->vector_error);
		return -EIO;
	}
	return embed_texts(c, texts, 1, qv, dim, err);
}

/* The ids of the n stored chunks nearest to the query's embedding, best
 * first: *ids owned by the caller, none when no vector is stored for the
 * model (then the endpoint is not asked). An endpoint failure is no
 * error: *warning gets its message and the list is empty. */
static int vector_candidates(docs_index *ix, const struct docs_query *q,
			     const struct embed_config *c, size_t n, int64_t **ids, size_t *nids,
			     char **warning)
{
	char model[512], *err = NULL;
	struct vec_hit *top = NULL;
	float *qv = NULL;
	size_t dim = 0, got = 0, i;
	int rc;

	*ids = NULL;
	*nids = 0;
	ix_vector_model(c, model, sizeof(model));
	rc = load_vectors(ix, model);
	if (rc < 0 || ix->vecs.rows == 0)
		return rc;
	rc = query_vector(q, c, &qv, &dim, &err);
	if (rc == -ENOMEM) {
		free(err);
		return rc;
	}
	if (rc == 0 && dim != ix->vecs.dim) {
		rc = -EPROTO;
		if (asprintf(&err, "the embeddings endpoint %s answered %zu dimensions,"
			     " the index holds %zu: re-index with this model", c->base_url,
			     dim, ix->vecs.dim) < 0)
			err = NULL;
	}
	if (rc < 0) {
		if (warning && !*warning)
			*warning = err ? err : strdup("the embeddings endpoint failed");
		else
			free(err);
		free(qv);
		return 0;
	}
	top = calloc(n, sizeof(*top));
	*ids = calloc(n, sizeof(**ids));
	if (!top || !*ids)
		rc = -ENOMEM;
	if (rc == 0)
		rc = vec_top_k(ix->vecs.data, ix->vecs.rows, dim, qv, n, top, &got);
	for (i = 0; rc == 0 && i < got; i++)
		(*ids)[i] = ix->vecs.ids[top[i].row];
	free(top);
	free(qv);
	if (rc < 0) {
		free(*ids);
		*ids = NULL;
		return rc;
	}
	*nids = got;
	return 0;
}

/* The file of chunk id, for a chunk that only the vectors found: 1 when it
 * is gone. */
static int chunk_file(docs_index *ix, int64_t id, int64_t *file_id)
{
	sqlite3_stmt *stmt = NULL;
	int rc;

	rc = ix_stmt(ix, IX_CHUNK_FILE, "SELECT file_id FROM chunks WHERE id = ?1", &stmt);
	if (rc == 0)
		rc = ix_bind_int64(ix, stmt, 1, id);
	if (rc < 0)
		return rc;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		*file_id = sqlite3_column_int64(stmt, 0);
	rc = rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? 1 : ix_fail(ix, rc);
	sqlite3_reset(stmt);
	return rc;
}

/* Replace the BM25 candidates *cands by their fusion with the vector list
 * ids[0..nids) (reciprocal rank fusion, BM25 first so it breaks ties):
 * scores become the fused ones, both ranks are set. */
static int fuse(docs_index *ix, unsigned rrf_k, struct cand **cands, size_t *n,
		const int64_t *ids, size_t nids)
{
	int64_t *lex = NULL;
	struct rrf_list lists[2];
	struct rrf_hit *fused = NULL;
	struct cand *out = NULL;
	size_t nfused = 0, nout = 0, i, j;
	int rc = 0;

	if (*n && !(lex = calloc(*n, sizeof(*lex))))
		return -ENOMEM;
	for (i = 0; i < *n; i++)
		lex[i] = (*cands)[i].id;
	lists[0] = (struct rrf_list){ .ids = lex, .n = *n };
	lists[1] = (struct rrf_list){ .ids = ids, .n = nids };
	rc = rrf_fuse(lists, 2, rrf_k ? rrf_k : 60, &fused, &nfused);
	if (rc == 0 && nfused && !(out = calloc(nfused, sizeof(*out))))
		rc = -ENOMEM;
	for (i = 0; rc == 0 && i < nfused; i++) {
		struct cand *c = &out[nout];

		c->id = fused[i].id;
		c->score = fused[i].score;
		for (j = 0; j < *n && (*cands)[j].id != c->id; j++)
			;
		if (j < *n) {
			c->file_id = (*cands)[j].file_id;
			c->lexical_rank = (*cands)[j].lexical_rank;
		} else if ((rc = chunk_file(ix, c->id, &c->file_id)) != 0) {
			rc = rc > 0 ? 0 : rc;  /* gone: left out */
			continue;
		}
		for (j = 0; j < nids && ids[j] != c->id; j++)
			;
		c->vector_rank = j < nids ? (int)j + 1 : 0;
		nout++;
	}
	free(lex);
	free(fused);
	if (rc < 0) {
		free(out);
		return rc;
	}
	free(*cands);
	*cands = out;
	*n = nout;
	return 0;
}

/* ------------------------------------------------------------ hits */

static char *column_dup(sqlite3_stmt *stmt, int col)
{
	const char *s = (const char *)sqlite3_column_text(stmt, col);

	return strdup(s ? s : "");
}

/* Fill h from chunk c. 1 when the chunk is gone (a concurrent re-index). */
static int load_hit(docs_index *ix, const struct cand *c, struct docs_hit *h)
{
	sqlite3_stmt *stmt = NULL;
	int rc;

	rc = ix_stmt(ix, IX_HIT,
		     "SELECT r.path, f.rel_path, c.title, c.headings, c.anchor, c.body,"
		     " c.start_byte, c.end_byte FROM chunks c"
		     " JOIN files f ON f.id = c.file_id JOIN roots r ON r.id = f.root_id"
		     " WHERE c.id = ?1", &stmt);
	if (rc == 0)
		rc = ix_bind_int64(ix, stmt, 1, c->id);
	if (rc < 0)
		return rc;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		h->root = column_dup(stmt, 0);
		h->page = column_dup(stmt, 1);
		h->title = column_dup(stmt, 2);
		h->section = column_dup(stmt, 3);
		h->anchor = column_dup(stmt, 4);
		h->text = column_dup(stmt, 5);
		h->start = (size_t)sqlite3_column_int64(stmt, 6);
		h->end = (size_t)sqlite3_column_int64(stmt, 7);
		h->chunk_id = c->id;
		h->score = c->score;
		h->lexical_rank = c->lexical_rank;
		h->vector_rank = c->vector_rank;
		rc = h->root && h->page && h->title && h->section && h->anchor && h->text
			? 0 : -ENOMEM;
	} else {
		rc = rc == SQLITE_DONE ? 1 : ix_fail(ix, rc);
	}
	sqlite3_reset(stmt);
	return rc;
}

static void hit_release(struct docs_hit *h)
{
	free(h->root);
	free(h->page);
	free(h->title);
	free(h->section);
	free(h->anchor);
	free(h->text);
}

void docs_hits_free(struct docs_hit *hits, size_t n)
{
	size_t i;

	for (i = 0; hits && i < n; i++)
		hit_release(&hits[i]);
	free(hits);
}

/* ------------------------------------------------------------ search */

/* Begin the read transaction a search runs in (one snapshot for all its
 * statements), and forget the cached chunk lengths when another
 * connection has changed the database since they were read. */
static int begin_search(docs_index *ix)
{
	sqlite3_stmt *stmt = NULL;
	int64_t version = 0;
	int rc;

	rc = ix_stmt(ix, IX_BEGIN_READ, "BEGIN", &stmt);
	if (rc == 0)
		rc = ix_step_done(ix, stmt);
	if (rc == 0)
		rc = ix_stmt(ix, IX_DATA_VERSION, "PRAGMA data_version", &stmt);
	if (rc < 0)
		return rc;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		version = sqlite3_column_int64(stmt, 0);
	rc = rc == SQLITE_ROW ? 0 : ix_fail(ix, rc);
	sqlite3_reset(stmt);
	if (rc == 0 && version != ix->data_version) {
		ix_caches_clear(ix);
		ix->data_version = version;
	}
	return rc;
}

/* The ranked candidates for q: *cands (owned by the caller) and *n, none
 * when the text has nothing to search for. BM25 alone, or fused with the
 * vectors' ranking when embeddings are configured and stored (an endpoint
 * failure sets *warning and leaves BM25 alone). */
static int rank(docs_index *ix, const struct docs_query *q, const struct docs_options *opt,
		size_t k, struct cand **cands, size_t *n, char **warning)
{
	struct query query;
	int64_t *ids = NULL;
	size_t nids = 0;
	int rc;

	*cands = NULL;
	*n = 0;
	rc = query_build(ix, q->text, &query);
	if (rc == 0 && query.match)
		rc = lexical_candidates(ix, &query, opt, CANDIDATES(k), cands, n);
	query_release(&query);
	if (rc < 0 || q->lexical_only || !embed_enabled(&opt->embed) || !q->text ||
	    !q->text[strspn(q->text, " \t\r\n")])
		return rc;
	rc = vector_candidates(ix, q, &opt->embed, CANDIDATES(k), &ids, &nids, warning);
	if (rc == 0 && nids)
		rc = fuse(ix, opt->rrf_k, cands, n, ids, nids);
	free(ids);
	return rc;
}

int docs_search(docs_index *ix, const struct docs_query *q,
		const struct docs_options *opt, struct docs_hit **out, size_t *n,
		char **warning)
{
	struct cand *cands = NULL;
	struct docs_hit *hits = NULL;
	size_t k, ncands = 0, nsel, nhits = 0, i, *sel = NULL;
	int rc;

	*out = NULL;
	*n = 0;
	if (warning)
		*warning = NULL;
	k = q->k ? q->k : opt->k;
	k = k == 0 ? 1 : k > MAX_K ? MAX_K : k;
	rc = ix_check_empty(ix);
	if (rc < 0 || ix->empty)
		return rc;
	rc = begin_search(ix);
	if (rc == 0)
		rc = rank(ix, q, opt, k, &cands, &ncands, warning);
	if (rc < 0 || ncands == 0)
		goto out;
	sel = calloc(k, sizeof(*sel));
	hits = calloc(k, sizeof(*hits));
	if (!sel || !hits) {
		rc = -ENOMEM;
		goto out;
	}
	nsel = diversify(cands, ncands, k, opt->per_page, sel);
	for (i = 0; i < nsel; i++) {
		rc = load_hit(ix, &cands[sel[i]], &hits[nhits]);
		if (rc < 0) {
			hit_release(&hits[nhits]);
			goto out;
		}
		if (rc == 0)
			nhits++;
		rc = 0;
	}
out:
	/* Only reads were made: ending the transaction cannot lose anything. */
	if (!sqlite3_get_autocommit(ix->db) && ix_commit(ix) < 0)
		ix_rollback(ix);
	free(sel);
	free(cands);
	if (rc < 0 && warning) {
		free(*warning);
		*warning = NULL;
	}
	if (rc < 0 || nhits == 0) {
		docs_hits_free(hits, nhits);
		return rc;
	}
	*out = hits;
	*n = nhits;
	return 0;
}
