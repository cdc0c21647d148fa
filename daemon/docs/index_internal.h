/*
 * index_internal.h - what the documentation index's files share (index_db.c,
 * index_walk.c, index.c, search.c): the handle, its cache of prepared
 * statements, error mapping and transactions, and the folder walk. Not part
 * of the public interface (docs_index.h).
 *
 * The tables (index_db.c has the full schema):
 *   meta(key, value)       schema_version, tokenizer, chunk_options,
 *                          optimized (0 from the first change of a run to
 *                          ix_optimize at its end)
 *   roots(id, path)        each folder indexed, absolute
 *   files(id, root_id, rel_path, abs_path, format, size, mtime_ns, hash,
 *         options, title, nchunks, indexed_at)
 *   chunks(id, file_id, ordinal, title, headings, anchor, start_byte,
 *          end_byte, body, has_code)
 *   chunks_fts             FTS5 over chunks(title, headings, body), external
 *                          content, kept in step by triggers on chunks
 *   vectors(chunk_id, model, dim, vec)  one embedding per chunk and model
 *   term_df(term, df)      how many chunks hold each indexed term (as
 *                          stemmed), for the terms in at least
 *                          DOCS_TERM_DF_MIN: what a query's cost is planned
 *                          by (search.c), rebuilt by ix_optimize
 */
#ifndef DOCTOR_DOCS_INDEX_INTERNAL_H
#define DOCTOR_DOCS_INDEX_INTERNAL_H

#include <sqlite3.h>
#include <stdint.h>

#include "docs_index.h"
#include "tokenizer.h"
#include "vectors.h"

/* The schema this code writes and reads. The index is derived data: a
 * database of an older version is emptied and rebuilt when opened for
 * writing (re-indexing refills it); a newer one is refused (-EPROTO). */
#define DOCS_SCHEMA_VERSION 1

/* Terms in fewer chunks than this are not in term_df: they are cheap. */
#define DOCS_TERM_DF_MIN 8

/* Prepared statements, prepared on first use and kept. */
enum ix_stmt_id {
	IX_BEGIN,
	IX_BEGIN_READ,
	IX_COMMIT,
	IX_ROLLBACK,
	IX_META_SET,
	IX_META_STALE,
	IX_ROOT_ADD,
	IX_ROOT_TOUCH,
	IX_FILE_FIND,
	IX_FILE_TOUCH,
	IX_FILE_INSERT,
	IX_FILE_UPDATE,
	IX_FILE_DELETE,
	IX_FILE_STALE,
	IX_FILES_OF_ROOT,
	IX_CHUNKS_DELETE,
	IX_CHUNK_INSERT,
	IX_SEARCH,
	IX_HIT,
	IX_TERM_DF,
	IX_DATA_VERSION,
	IX_EMBED_MISSING,
	IX_VECTOR_INSERT,
	IX_VECTORS_LOAD,
	IX_CHUNK_FILE,
	IX_STMT_COUNT_
};

/* Chunk lengths in tokens by chunk id (rank.c): an open-addressing hash
 * table, ids 0 marking empty slots. */
struct rank_cache {
	int64_t *ids;                      /* owned */
	int64_t *lens;                     /* owned */
	size_t n, cap;                     /* cap: 0 or a power of two */
};

/* A search's FTS5 query (query.c): the MATCH expression, and what
 * doctor_bm25 needs to know of its phrases, in their order in it: phrases
 * skip to skip + n - 1 are scored, phrase skip + i with weight[i] and
 * df[i] chunks holding it (-1 when unknown: counted then); the others
 * only filter (repeats of scored ones) and weigh nothing. */
struct query {
	char *match;                       /* NULL: nothing to search for; owned */
	int64_t *df;                       /* owned */
	double *weight;                    /* owned */
	size_t skip, n;
};

/* The query for a user's text (any text: NULL, empty, FTS5 syntax, huge).
 * out->match NULL when it holds no searchable word. -ENOMEM, -EIO. */
int query_build(docs_index *ix, const char *text, struct query *out);
void query_release(struct query *q);

/* doctor_bm25's fifth argument: a struct query bound as a pointer of this
 * type. */
#define RANK_PLAN_TYPE "doctor_query"

struct docs_index {
	sqlite3 *db;                       /* owned */
	bool readonly;
	bool empty;                        /* read-only on a database that has no
	                                      index in it yet: searches find nothing */
	docs_tokenizer *tok;               /* "doctor", for query terms; owned */
	docs_tokenizer *stem;              /* the table's tokenizer ("porter
	                                      doctor"): a term as indexed; owned */
	sqlite3_stmt *stmts[IX_STMT_COUNT_]; /* owned */
	struct rank_cache lengths;         /* valid for data_version */
	struct vec_matrix vecs;            /* the stored vectors of vecs_model,
	                                      valid for data_version (search.c) */
	char *vecs_model;                  /* NULL: vecs not loaded; owned */
	int64_t data_version;              /* PRAGMA data_version when filled */
	char errmsg[256];                  /* why the last call failed */
};

/* Record SQLite's message for rc; -ENOMEM, -EBUSY (locked past the busy
 * timeout), -ENOSPC, -EROFS, else -EIO. */
int ix_fail(docs_index *ix, int sqlite_rc);
__attribute__((format(printf, 2, 3)))
void ix_set_errmsg(docs_index *ix, const char *fmt, ...);

/* The cached statement id (prepared from sql the first time), reset and
 * with its bindings cleared. Borrowed: the handle keeps it. */
int ix_stmt(docs_index *ix, enum ix_stmt_id id, const char *sql, sqlite3_stmt **out);
/* Step a statement that returns no row, then reset it. */
int ix_step_done(docs_index *ix, sqlite3_stmt *stmt);
int ix_bind_text(docs_index *ix, sqlite3_stmt *stmt, int i, const char *s);
int ix_bind_int64(docs_index *ix, sqlite3_stmt *stmt, int i, int64_t v);

/* BEGIN IMMEDIATE (the write lock at once, so nothing fails half-way with
 * SQLITE_BUSY), COMMIT, and ROLLBACK keeping the error message. */
int ix_begin(docs_index *ix);
int ix_commit(docs_index *ix);
void ix_rollback(docs_index *ix);

/* A read-only handle opened on a database with no index yet: whether one
 * has been made since (then ix->empty is cleared). 0, -EPROTO when what was
 * made is not an index this code reads, -EIO. */
int ix_check_empty(docs_index *ix);

/* Register doctor_bm25 on db (rank.c); it caches lengths in cache, which
 * must outlive db. -ENOTSUP without FTS5, -ENOMEM, -EIO. */
int rank_register(sqlite3 *db, struct rank_cache *cache);
/* Forget every cached length (the index changed); c stays usable. */
void rank_cache_clear(struct rank_cache *c);

/* Forget what searches cached (chunk lengths, vectors): the index changed. */
void ix_caches_clear(docs_index *ix);

/* ---- embeddings (index_embed.c) */

/* The name vectors from c are stored under in vectors.model: the model,
 * with "@<dimensions>" when c asks for a dimension (so that vectors of two
 * sizes from one model are never compared). */
void ix_vector_model(const struct embed_config *c, char *buf, size_t size);
/* Embed every chunk without a vector for c's model and store the vectors
 * (unit length), one transaction per batch. An endpoint failure ends the
 * pass with one warning (named by c->base_url) counted in *warnings: not an
 * error. *embedded counts the vectors stored. Nothing when c is disabled.
 * -ENOMEM, or a database error (docs_index_errmsg). */
int ix_embed_missing(docs_index *ix, const struct embed_config *c, docs_warn_fn warn,
		     void *ud, size_t *embedded, size_t *warnings);

/* Merge the FTS index into one segment and rebuild term_df from it (one
 * transaction). */
int ix_optimize(docs_index *ix);

/* ---- finding the files (index_walk.c) */

/* Part of a root to look at: all of it (sub ""), a folder in it, or one
 * file. */
struct walk_scope {
	int64_t root_id;
	char *root;                        /* absolute folder; owned */
	char *sub;                         /* relative to root, "" for all of it;
	                                      owned */
	bool single;                       /* sub is one file */
};

struct walk_file {
	char *abs;                         /* absolute path; owned */
	const char *rel;                   /* relative to its root: points into abs */
	int64_t root_id;
	enum doc_format fmt;
	int64_t size, mtime_ns;
};

struct walk_list {
	struct walk_file *v;               /* owned, with each abs */
	size_t n, cap;
};

/* Append the documentation files (by extension, doc_format_of) of scope s
 * to out. Hidden files and folders (a name starting with '.'),
 * node_modules and __pycache__ are not entered; symbolic links to files
 * are followed, to folders not (no loops). A folder that cannot be read,
 * or a tree too deep, is a warning (warn may be NULL) counted in
 * *warnings. A single file: as walk_add_file. -ENOMEM. */
int walk_scope(const struct walk_scope *s, struct walk_list *out,
	       docs_warn_fn warn, void *ud, size_t *warnings);
/* Append the file root/rel: -errno when it cannot be stat'ed, -ENOTSUP
 * when its name is of no known format, -EINVAL when it is not a regular
 * file, -ENOMEM. */
int walk_add_file(struct walk_list *out, int64_t root_id, const char *root, const char *rel);
/* Sort by (root_id, rel) and drop duplicates. */
void walk_sort(struct walk_list *l);
/* Whether root_id/rel is in the sorted list. */
bool walk_contains(const struct walk_list *l, int64_t root_id, const char *rel);
void walk_list_release(struct walk_list *l);

#endif
