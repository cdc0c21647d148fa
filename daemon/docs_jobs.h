/*
 * docs_jobs.h - doctord's documentation work, run on libuv's thread pool so
 * that the loop never waits for SQLite, the file system or an embeddings
 * endpoint (a search's query embedding goes through the loop's curl multi
 * instead) (docs/retrieval.md, docs/protocol.md: docs.index, docs.search).
 *
 * - Indexing: one at a time. The worker opens its own docs_index handle
 *   (a handle serves one thread), sends the asking connection docs.progress
 *   (at most about 20 a second) and docs.warning notifications, then the
 *   reply with the run's figures.
 * - Search: each on a worker, with a read-only handle from a small pool.
 *   With embeddings configured, the query's vector is asked for first on
 *   the loop (doctord's LLM client, llm_embed.h), so a slow endpoint holds
 *   no worker; an endpoint failure makes the search lexical with a warning.
 * - The counts `status` shows are computed on a worker too (at start, after
 *   a reload and after each indexing) and kept here.
 *
 * Replies and notifications go to the asking connection, found again by its
 * serial when the work is done: a client that has left gets nothing, and
 * its work still completes. Shutdown waits for running work: libuv keeps
 * the loop alive until each job's completion callback has run (docs_index.h
 * offers no way to stop a run between files).
 *
 * Everything here is called on the loop's thread.
 */
#ifndef DOCTOR_DOCS_JOBS_H
#define DOCTOR_DOCS_JOBS_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#include "docs_index.h"

struct doctord;
struct conn;
struct docs_jobs;

/* *out owned by the caller: docs_jobs_free() once the loop has ended. */
int docs_jobs_new(struct doctord *d, struct docs_jobs **out);
void docs_jobs_free(struct docs_jobs *j);
/* Refuse new work (shutdown); running work completes. */
void docs_jobs_stop(struct docs_jobs *j);

/* The database for the current configuration: docs.db, else
 * <data dir>/docs.db. Newly allocated; NULL when out of memory. */
char *docs_jobs_db_path(const struct doctord *d);

/* What one docs.index asks for. All owned, taken by docs_jobs_index on
 * success (left to the caller on error). */
struct docs_index_request {
	char **paths;                /* absolute */
	size_t npaths;
	struct docs_options opt;     /* the configuration with its overrides */
};

/* Start indexing for c; id (borrowed, a reference is kept) is answered when
 * it ends. -EBUSY if an indexing runs, -ESHUTDOWN when stopping, -ENOMEM;
 * then nothing was sent. */
int docs_jobs_index(struct docs_jobs *j, struct conn *c, json_t *id,
                    struct docs_index_request *req);

/* Progress of the running indexing, for the busy error: false if none. */
bool docs_jobs_indexing(const struct docs_jobs *j, size_t *done, size_t *total);

/* Start a search for c; id is answered with {hits, warning?, hint?}.
 * opt is taken on success. -EAGAIN when too many searches wait,
 * -ESHUTDOWN, -ENOMEM; then nothing was sent and opt is the caller's. */
int docs_jobs_search(struct docs_jobs *j, struct conn *c, json_t *id,
                     const char *query, unsigned k, bool lexical_only,
                     struct docs_options *opt);

/* What an internal search (docs_jobs_search_cb) calls back with, on the
 * loop's thread: rc 0 or a negative errno (the search failed); hits[0..n)
 * best first, borrowed for the call only; warning (may be NULL) why
 * vectors were not used; no_index when no documentation is indexed. It
 * runs exactly once for each accepted search, also when doctord stops. */
typedef void (*docs_search_cb)(void *ud, int rc, const struct docs_hit *hits, size_t n,
                               const char *warning, bool no_index);

/* A search for the daemon itself (the agent's search_docs tool and the
 * documentation put in its first prompt): like docs_jobs_search, but the
 * hits go to cb instead of a connection. opt is taken on success. -EAGAIN,
 * -ESHUTDOWN, -ENOMEM: then cb does not run and opt is the caller's. */
int docs_jobs_search_cb(struct docs_jobs *j, const char *query, unsigned k, bool lexical_only,
                        struct docs_options *opt, docs_search_cb cb, void *ud);

/* The docs part of `status`. New reference. */
json_t *docs_jobs_status(struct docs_jobs *j);

/* Recount the index in the background (after a reload: docs.db may have
 * changed). */
void docs_jobs_refresh(struct docs_jobs *j);

#endif
