/*
 * docs_index.h - the documentation index: files parsed and chunked into a
 * SQLite database with an FTS5 (BM25) table, optional embedding vectors,
 * and search over it (weighted BM25, identifier-aware tokens, reciprocal
 * rank fusion with vectors, per-page diversification).
 *
 * One database file (by default <data dir>/docs.db) holds any number of
 * roots: each PATH given to docs_index_paths is a root (a folder, or a
 * single file whose folder becomes the root) and every page is known by
 * its path relative to its root ("ray-core/tasks.rst"), which is what
 * search results and the retrieval evaluation name.
 *
 * A docs_index handle is one SQLite connection: use it from one thread at
 * a time. Ownership is named at each call; functions return 0 or a
 * negative errno unless they say otherwise.
 */
#ifndef DOCTOR_DOCS_INDEX_H
#define DOCTOR_DOCS_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "document.h"

/* An OpenAI-compatible /v1/embeddings endpoint. Disabled when base_url is
 * NULL or empty: everything then works lexically. */
struct embed_config {
	char *base_url;        /* "http://127.0.0.1:8080/v1"; owned */
	char *model;           /* owned */
	char *api_key_env;     /* name of the environment variable holding the
	                          key ("OPENAI_API_KEY"); NULL: no key; owned */
	unsigned dimensions;   /* asked of the server when > 0 */
	unsigned batch;        /* texts per request; 0: 64 */
	unsigned timeout_ms;   /* per request; 0: 30000 */
	bool base64;           /* ask for encoding_format "base64" */
};

/* What indexing and search are tuned by: the docs.* keys of the YAML
 * config, overridden by command-line options. docs_options_init sets the
 * defaults chosen with the evaluation set (tests/retrieval/). */
struct docs_options {
	char *db_path;               /* NULL: <data dir>/docs.db; owned */
	struct chunk_options chunk;  /* strategy, max_chars, overlap */
	bool notebook_outputs;       /* index stored cell outputs too */
	size_t max_file_bytes;       /* larger files are skipped with a warning;
	                                0: no limit */
	double w_title;              /* BM25 column weights */
	double w_headings;
	double w_body;
	unsigned k;                  /* results returned by default */
	unsigned per_page;           /* at most this many chunks of one page in
	                                the results; 0: no limit */
	unsigned rrf_k;              /* reciprocal rank fusion constant (60) */
	struct embed_config embed;
};

void docs_options_init(struct docs_options *o);
/* Free the owned strings (not o itself). */
void docs_options_release(struct docs_options *o);

typedef struct docs_index docs_index;

/* Open (creating it and its folder when !readonly) the database at path.
 * *out owned by the caller: docs_index_close. */
int docs_index_open(const char *path, bool readonly, docs_index **out);
void docs_index_close(docs_index *ix);
/* Why the last call on ix failed, for the user (SQLite's message, or ours);
 * borrowed, valid until the next call. */
const char *docs_index_errmsg(const docs_index *ix);

/* ---- indexing */

struct docs_progress {
	size_t done, total;          /* files handled so far, files found */
	const char *path;            /* the file just handled; borrowed */
};
typedef void (*docs_progress_fn)(const struct docs_progress *p, void *ud);
/* A file skipped or indexed with a problem; both strings borrowed. */
typedef void (*docs_warn_fn)(const char *path, const char *message, void *ud);

struct docs_index_stats {
	size_t files;        /* documentation files found under the roots */
	size_t indexed;      /* parsed and (re)written */
	size_t unchanged;    /* same content hash: skipped */
	size_t removed;      /* in the index but gone from disk */
	size_t skipped;      /* binary, too large, unreadable, unparsable */
	size_t chunks;       /* chunks written by this run */
	size_t embedded;     /* chunks given a vector by this run */
	size_t warnings;
};

/* Index every documentation file (by extension, see doc_format_of) under
 * each of paths[0..n). Unchanged files (same hash, same chunk options) are
 * skipped; files of an indexed root that are gone are removed. Each file
 * is written in its own transaction, so an interrupted run leaves a
 * consistent index. Bad files are skipped or indexed safely, each with a
 * warning naming it. progress, warn may be NULL. A path that does not
 * exist is -ENOENT before anything is written. With opt->embed enabled,
 * chunks without a vector get one; an endpoint failure is a warning and
 * the index stays lexical for those chunks.
 * Details: a path inside an indexed root joins that root (a root inside a
 * new one is merged into it); files indexed with other chunk options,
 * under any root, are indexed again so that the index holds one chunking;
 * progress and warnings name files by absolute path; a read-only handle
 * is -EROFS; a failure (-EIO, -ENOSPC...) stops the run with what was
 * committed kept, and docs_index_errmsg says why. */
int docs_index_paths(docs_index *ix, const char *const *paths, size_t n,
		     const struct docs_options *opt, docs_progress_fn progress,
		     docs_warn_fn warn, void *ud, struct docs_index_stats *stats);

/* Counts for status output. */
struct docs_index_info {
	size_t roots, files, chunks, vectors;
};
int docs_index_info(docs_index *ix, struct docs_index_info *out);

/* ---- search */

struct docs_hit {
	char *root;          /* the root the page was indexed under; owned */
	char *page;          /* path relative to the root; owned */
	char *title;         /* page title; owned */
	char *section;       /* section path joined with " > "; owned, may be "" */
	char *anchor;        /* docutils id of the section; owned, may be "" */
	char *text;          /* the chunk's text; owned */
	size_t start, end;   /* byte offsets in the page's file */
	int64_t chunk_id;
	double score;        /* higher is better (fused when vectors are used) */
	int lexical_rank;    /* 1-based rank in the BM25 list, 0: not in it */
	int vector_rank;     /* 1-based rank by cosine, 0: not in it / no vectors */
};

struct docs_query {
	const char *text;    /* the question or error text; borrowed */
	unsigned k;          /* 0: opt->k */
	bool lexical_only;   /* ignore vectors even when configured */
	/* The text's embedding when the caller has asked the endpoint itself
	 * (doctord does, on its loop: llm_embed): dim floats from opt->embed's
	 * model, borrowed. NULL: docs_search asks the endpoint (blocking) when
	 * vectors are stored for the model. */
	const float *vector;
	size_t dim;
	/* The caller asked the endpoint and it failed: why (borrowed). The
	 * endpoint is not asked again and, when vectors are stored, this is
	 * the warning. Only read when vector is NULL. */
	const char *vector_error;
};

/* The best chunks for q, best first: *out an array of *n hits owned by the
 * caller (docs_hits_free). An empty index or a query with no searchable
 * words gives 0 hits, not an error. With embeddings configured and vectors
 * stored, the query is embedded (or q->vector used) and the lists fused;
 * if the endpoint fails (or q->vector_error says it did, or q->vector has
 * another dimension than the stored vectors) the search falls back to BM25
 * and *warning (when non-NULL) is set to a newly allocated message. */
int docs_search(docs_index *ix, const struct docs_query *q,
		const struct docs_options *opt, struct docs_hit **out, size_t *n,
		char **warning);
void docs_hits_free(struct docs_hit *hits, size_t n);

#endif
