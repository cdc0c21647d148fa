/*
 * index_embed.c - the embedding pass of an indexing run: every chunk that
 * has no vector for the configured model is sent, in batches, to the
 * OpenAI-compatible /v1/embeddings endpoint (embed.c), and its vector,
 * normalised to unit length, is stored in the vectors table (the layout of
 * vectors.h). Also the model key vectors are stored under, which search.c
 * reads them by.
 *
 * The requests are made outside any transaction (they may take seconds);
 * each batch's vectors are then written in one short transaction, so an
 * interrupted pass keeps what it got and the next run embeds the rest. The
 * first failure of the endpoint ends the pass with one warning: the chunks
 * left stay lexical.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* asprintf */
#endif
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "embed.h"
#include "index_internal.h"
#include "vectors.h"

void ix_vector_model(const struct embed_config *c, char *buf, size_t size)
{
	if (c->dimensions > 0)
		snprintf(buf, size, "%s@%u", c->model ? c->model : "", c->dimensions);
	else
		snprintf(buf, size, "%s", c->model ? c->model : "");
}

/* One batch of chunks to embed: their ids and texts (owned). */
struct batch {
	int64_t *ids;
	char **texts;
	size_t n;
};

static void batch_release(struct batch *b)
{
	size_t i;

	for (i = 0; i < b->n; i++)
		free(b->texts[i]);
	b->n = 0;
}

/* What a chunk is embedded as: where it is (its section path, which
 * starts with the page title, or the title alone) on a line of its own,
 * then its text, so that a chunk of a page about tasks is near a question
 * about tasks even when its body never says so. */
static char *chunk_text(const char *title, const char *headings, const char *body)
{
	const char *where = headings && headings[0] ? headings : title ? title : "";
	char *s = NULL;

	return asprintf(&s, "%s\n%s", where, body ? body : "") < 0 ? NULL : s;
}

/* The next up to cap chunks after *after (by id) without a vector for
 * model; *after moves to the last one. */
static int next_batch(docs_index *ix, const char *model, int64_t *after, size_t cap,
		      struct batch *b)
{
	sqlite3_stmt *stmt = NULL;
	int rc;

	rc = ix_stmt(ix, IX_EMBED_MISSING,
		     "SELECT c.id, c.title, c.headings, c.body FROM chunks c"
		     " WHERE c.id > ?2 AND NOT EXISTS (SELECT 1 FROM vectors v"
		     "  WHERE v.chunk_id = c.id AND v.model = ?1)"
		     " ORDER BY c.id LIMIT ?3", &stmt);
	if (rc == 0)
		rc = ix_bind_text(ix, stmt, 1, model);
	if (rc == 0)
		rc = ix_bind_int64(ix, stmt, 2, *after);
	if (rc == 0)
		rc = ix_bind_int64(ix, stmt, 3, (int64_t)cap);
	while (rc == 0 && b->n < cap && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		rc = 0;
		b->ids[b->n] = sqlite3_column_int64(stmt, 0);
		b->texts[b->n] = chunk_text((const char *)sqlite3_column_text(stmt, 1),
					    (const char *)sqlite3_column_text(stmt, 2),
					    (const char *)sqlite3_column_text(stmt, 3));
		if (!b->texts[b->n]) {
			rc = -ENOMEM;
			break;
		}
		*after = b->ids[b->n++];
	}
	rc = rc == 0 || rc == SQLITE_DONE ? 0 : rc < 0 ? rc : ix_fail(ix, rc);
	sqlite3_reset(stmt);
	return rc;
}

/* Store the n vectors of dim floats (row i for b->ids[i]), normalised, in
 * one transaction. A chunk deleted meanwhile (by another writer) is
 * passed over. *stored counts the rows written. */
static int store_batch(docs_index *ix, const char *model, const struct batch *b,
		       float *vecs, size_t dim, size_t *stored)
{
	sqlite3_stmt *stmt = NULL;
	unsigned char *blob = malloc(VEC_BYTES(dim));
	size_t i;
	int rc;

	if (!blob)
		return -ENOMEM;
	rc = ix_begin(ix);
	for (i = 0; rc == 0 && i < b->n; i++) {
		/* A zero vector stays zero: stored all the same, so the chunk
		 * is not sent again, and never found (vec_top_k skips it). */
		vec_normalize(vecs + i * dim, dim);
		vec_encode(vecs + i * dim, dim, blob);
		rc = ix_stmt(ix, IX_VECTOR_INSERT,
			     "INSERT OR REPLACE INTO vectors(chunk_id, model, dim, vec)"
			     " SELECT ?1, ?2, ?3, ?4 WHERE EXISTS"
			     " (SELECT 1 FROM chunks WHERE id = ?1)", &stmt);
		if (rc == 0)
			rc = ix_bind_int64(ix, stmt, 1, b->ids[i]);
		if (rc == 0)
			rc = ix_bind_text(ix, stmt, 2, model);
		if (rc == 0)
			rc = ix_bind_int64(ix, stmt, 3, (int64_t)dim);
		if (rc == 0 && (rc = sqlite3_bind_blob(stmt, 4, blob, (int)VEC_BYTES(dim),
						       SQLITE_TRANSIENT)) != SQLITE_OK)
			rc = ix_fail(ix, rc);
		if (rc == 0)
			rc = ix_step_done(ix, stmt);
		if (rc == 0)
			*stored += (size_t)sqlite3_changes(ix->db) > 0;
	}
	if (rc == 0)
		rc = ix_commit(ix);
	if (rc < 0)
		ix_rollback(ix);
	free(blob);
	return rc;
}

int ix_embed_missing(docs_index *ix, const struct embed_config *c, docs_warn_fn warn,
		     void *ud, size_t *embedded, size_t *warnings)
{
	size_t cap = c->batch ? c->batch : 64, dim = 0;
	struct batch b = { 0 };
	char model[512], *err = NULL;
	int64_t after = 0;
	float *vecs = NULL;
	int rc = 0;

	if (!embed_enabled(c))
		return 0;
	ix_vector_model(c, model, sizeof(model));
	b.ids = calloc(cap, sizeof(*b.ids));
	b.texts = calloc(cap, sizeof(*b.texts));
	if (!b.ids || !b.texts)
		rc = -ENOMEM;
	while (rc == 0) {
		rc = next_batch(ix, model, &after, cap, &b);
		if (rc < 0 || b.n == 0)
			break;
		rc = embed_texts(c, (const char *const *)b.texts, b.n, &vecs, &dim, &err);
		if (rc < 0 && rc != -ENOMEM) {
			/* The endpoint failed: what is stored stays, the rest
			 * is lexical until a later run. Not an indexing error. */
			(*warnings)++;
			if (warn)
				warn(c->base_url, err ? err : "the embeddings endpoint failed;"
				     " chunks left without vectors", ud);
			free(err);
			rc = 0;
			break;
		}
		if (rc == 0)
			rc = store_batch(ix, model, &b, vecs, dim, embedded);
		free(vecs);
		vecs = NULL;
		batch_release(&b);
	}
	batch_release(&b);
	free(b.ids);
	free(b.texts);
	return rc;
}
