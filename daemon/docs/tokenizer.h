/*
 * tokenizer.h - the "doctor" FTS5 tokenizer: unicode61 (case folded,
 * diacritics removed) that also understands identifiers.
 *
 * Every word is a token, as with unicode61. An identifier is indexed both
 * whole and in parts, the parts at successive positions and the whole
 * colocated (FTS5_TOKEN_COLOCATED) with its first part:
 *
 *   map_batches        -> map, map_batches (colocated), batches
 *   ray.init           -> ray, ray.init (colocated), init
 *   ActorPoolStrategy  -> actor, actorpoolstrategy (colocated), pool, strategy
 *   ray.data.Dataset.map_batches -> ray (+ the whole), data, dataset, map
 *                         (+ map_batches), batches
 *
 * so that a search for `map_batches`, `map batches`, `batches`, `ray.init`,
 * `init` or `ActorPool` finds the text. Parts come from '.' and '_' (runs of
 * them), and, when the identifier is ASCII, from case changes (fooBar,
 * HTTPServer -> http, server). Leading and trailing dots are dropped
 * ("end." -> end), underscores kept in the whole (`__init__`).
 *
 * In query mode (FTS5_TOKENIZE_QUERY) only whole tokens are produced: the
 * query builder (search.c) already lists the parts as terms of their own,
 * and a quoted term must come back as exactly one token.
 *
 * The tokenizer is registered per connection (docs_tokenizer_register) and
 * can be wrapped: `tokenize = 'porter doctor'` stems what it produces.
 * Functions return 0 or a negative errno.
 */
#ifndef DOCTOR_DOCS_TOKENIZER_H
#define DOCTOR_DOCS_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <sqlite3.h>

/* The name the tokenizer is registered under. */
#define DOCS_TOKENIZER_NAME "doctor"

/* The connection's FTS5 API (borrowed, valid while db is open): -ENOTSUP
 * when SQLite lacks FTS5, -ENOMEM. */
int docs_fts5_api(sqlite3 *db, fts5_api **out);

/* Register DOCS_TOKENIZER_NAME on db: -ENOTSUP when SQLite lacks FTS5,
 * -ENOMEM, -EIO. */
int docs_tokenizer_register(sqlite3 *db);

/* An instance of a tokenizer registered on a connection, for tokenizing
 * outside FTS5 (queries). Owned by its creator: docs_tokenizer_free. */
typedef struct docs_tokenizer docs_tokenizer;

/* spec as in FTS5's tokenize option: a name and its arguments separated
 * by spaces, e.g. "doctor" or "porter doctor" (porter stemming over
 * doctor). -ENOENT when db has no such tokenizer, -EINVAL for a spec
 * without a name, -ENOTSUP without FTS5, -ENOMEM, -EIO. */
int docs_tokenizer_new(sqlite3 *db, const char *spec, docs_tokenizer **out);
void docs_tokenizer_free(docs_tokenizer *t);

/* Called with each token, folded; token is not NUL-terminated and only
 * valid during the call. [start, end) is where it is in the text (a part of
 * a non-ASCII identifier gets the whole's). colocated: a part or whole of
 * the same identifier as the previous token. Return 0 to go on, non-zero
 * to stop. */
typedef int (*docs_token_fn)(void *ud, const char *token, size_t len, size_t start,
			     size_t end, bool colocated);

/* Tokenize text[0..len) as a document is (wholes and parts), or as a
 * query term is when query (wholes only). Text beyond INT_MAX bytes is
 * ignored. 0, the callback's non-zero value, -ENOMEM, -EIO. */
int docs_tokenize(docs_tokenizer *t, const char *text, size_t len, bool query,
		  docs_token_fn fn, void *ud);

#endif
