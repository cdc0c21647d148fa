/*
 * index_db.c - the documentation index's database: opening it (read-write
 * or read-only), its schema, the cache of prepared statements, errors and
 * transactions, the counts for status, and the default options.
 *
 * Indexing runs are in index.c, the folder walk in index_walk.c, search in
 * search.c; the tokenizer the FTS5 table names is tokenizer.c.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "paths.h"
#include "index_internal.h"

/* How chunks_fts tokenizes: porter stemming over doctor's identifier-aware
 * unicode61. On the evaluation set (tests/retrieval/, page and section MRR
 * at 10): porter doctor .843/.729, doctor alone .807/.704, porter over
 * plain unicode61 .821/.696. Recorded in meta: a database made with
 * another tokenizer is rebuilt like one of an older schema. */
#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)

#define DOCS_TOKENIZE "porter " DOCS_TOKENIZER_NAME

/* ------------------------------------------------------------ options */

/* The defaults were chosen with tests/retrieval/ray_questions.jsonl (191
 * questions over the Ray docs; page and section MRR at k = 10):
 * - chunks of 1500 characters (600: .80/.71, 1000: .83/.71, 1500: .84/.73,
 *   2000 and 3000: .84/.72-.73), no overlap (150 costs about .01);
 * - section chunking (paragraph: .79/.69);
 * - title and headings 4 times the body (all 1: .82/.69; 2/2/1: .83/.71;
 *   8/4/1: .83/.72; a plateau around here);
 * - at most 2 chunks of a page among the results: 1 maximises page recall
 *   (.995 at 10) but costs sections (.80), 0 the reverse (.98, .93). */
void docs_options_init(struct docs_options *o)
{
	memset(o, 0, sizeof(*o));
	o->chunk.strategy = CHUNK_SECTION;
	o->chunk.max_chars = 1500;
	o->chunk.overlap = 0;
	o->notebook_outputs = false;
	o->max_file_bytes = 16u << 20;
	o->w_title = 4.0;
	o->w_headings = 4.0;
	o->w_body = 1.0;
	o->k = 5;
	o->per_page = 2;
	o->rrf_k = 60;
}

void docs_options_release(struct docs_options *o)
{
	free(o->db_path);
	free(o->embed.base_url);
	free(o->embed.model);
	free(o->embed.api_key_env);
	o->db_path = o->embed.base_url = o->embed.model = o->embed.api_key_env = NULL;
}

/* ------------------------------------------------------------ errors */

void ix_set_errmsg(docs_index *ix, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ix->errmsg, sizeof(ix->errmsg), fmt, ap);
	va_end(ap);
}

int ix_fail(docs_index *ix, int sqlite_rc)
{
	snprintf(ix->errmsg, sizeof(ix->errmsg), "%s",
		 ix->db ? sqlite3_errmsg(ix->db) : sqlite3_errstr(sqlite_rc));
	switch (sqlite_rc & 0xff) {
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_READONLY:
		return -EROFS;
	default:
		return -EIO;
	}
}

const char *docs_index_errmsg(const docs_index *ix)
{
	return ix ? ix->errmsg : "no index";
}

/* ------------------------------------------------------------ statements */

int ix_stmt(docs_index *ix, enum ix_stmt_id id, const char *sql, sqlite3_stmt **out)
{
	sqlite3_stmt *stmt = ix->stmts[id];
	int rc;

	if (stmt) {
		sqlite3_reset(stmt);
		sqlite3_clear_bindings(stmt);
	} else {
		rc = sqlite3_prepare_v3(ix->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL);
		if (rc != SQLITE_OK)
			return ix_fail(ix, rc);
		ix->stmts[id] = stmt;
	}
	*out = stmt;
	return 0;
}

int ix_step_done(docs_index *ix, sqlite3_stmt *stmt)
{
	int rc = sqlite3_step(stmt);

	rc = rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : ix_fail(ix, rc);
	/* Reset now: a statement left mid-step would pin a WAL snapshot. */
	sqlite3_reset(stmt);
	return rc;
}

int ix_bind_text(docs_index *ix, sqlite3_stmt *stmt, int i, const char *s)
{
	int rc = sqlite3_bind_text(stmt, i, s ? s : "", -1, SQLITE_STATIC);

	return rc == SQLITE_OK ? 0 : ix_fail(ix, rc);
}

int ix_bind_int64(docs_index *ix, sqlite3_stmt *stmt, int i, int64_t v)
{
	int rc = sqlite3_bind_int64(stmt, i, v);

	return rc == SQLITE_OK ? 0 : ix_fail(ix, rc);
}

static int exec_cached(docs_index *ix, enum ix_stmt_id id, const char *sql)
{
	sqlite3_stmt *stmt = NULL;
	int rc = ix_stmt(ix, id, sql, &stmt);

	return rc < 0 ? rc : ix_step_done(ix, stmt);
}

int ix_begin(docs_index *ix)
{
	return exec_cached(ix, IX_BEGIN, "BEGIN IMMEDIATE");
}

int ix_commit(docs_index *ix)
{
	return exec_cached(ix, IX_COMMIT, "COMMIT");
}

void ix_rollback(docs_index *ix)
{
	char saved[sizeof(ix->errmsg)];

	if (sqlite3_get_autocommit(ix->db))
		return;     /* SQLite already rolled back (or nothing began) */
	snprintf(saved, sizeof(saved), "%s", ix->errmsg);
	exec_cached(ix, IX_ROLLBACK, "ROLLBACK");
	snprintf(ix->errmsg, sizeof(ix->errmsg), "%s", saved);
}

/* ------------------------------------------------------------ schema */

/* Byte offsets are the chunk's in its file; has_code 0/1; mtime_ns in
 * nanoseconds since the epoch; hash the content's 64-bit FNV-1a in 16 hex
 * digits (index.c); options the chunking the file was cut with; times in
 * Unix seconds. chunks carries the page title and the section path
 * (headings, joined with " > ") beside the text (body) because they are
 * the three columns chunks_fts indexes with their own BM25 weights. */
static const char schema_sql[] =
	"CREATE TABLE meta ("
	"  key   TEXT PRIMARY KEY NOT NULL,"
	"  value TEXT NOT NULL"
	");"
	"CREATE TABLE roots ("
	"  id         INTEGER PRIMARY KEY,"
	"  path       TEXT NOT NULL UNIQUE,"
	"  indexed_at REAL"
	");"
	"CREATE TABLE files ("
	"  id         INTEGER PRIMARY KEY,"
	"  root_id    INTEGER NOT NULL REFERENCES roots(id) ON DELETE CASCADE,"
	"  rel_path   TEXT NOT NULL,"
	"  abs_path   TEXT NOT NULL,"
	"  format     TEXT NOT NULL,"
	"  size       INTEGER NOT NULL,"
	"  mtime_ns   INTEGER NOT NULL,"
	"  hash       TEXT NOT NULL,"
	"  options    TEXT NOT NULL,"
	"  title      TEXT NOT NULL,"
	"  nchunks    INTEGER NOT NULL,"
	"  indexed_at REAL NOT NULL,"
	"  UNIQUE (root_id, rel_path)"
	");"
	"CREATE TABLE chunks ("
	"  id         INTEGER PRIMARY KEY,"
	"  file_id    INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,"
	"  ordinal    INTEGER NOT NULL,"
	"  title      TEXT NOT NULL,"
	"  headings   TEXT NOT NULL,"
	"  anchor     TEXT NOT NULL,"
	"  start_byte INTEGER NOT NULL,"
	"  end_byte   INTEGER NOT NULL,"
	"  body       TEXT NOT NULL,"
	"  has_code   INTEGER NOT NULL,"
	"  UNIQUE (file_id, ordinal)"
	");"
	"CREATE VIRTUAL TABLE chunks_fts USING fts5("
	"  title, headings, body,"
	"  content = 'chunks', content_rowid = 'id',"
	"  tokenize = '" DOCS_TOKENIZE "'"
	");"
	/* External content: the FTS index follows chunks through these. A
	 * chunk is never updated in place, only deleted and inserted. */
	"CREATE TRIGGER chunks_fts_insert AFTER INSERT ON chunks BEGIN"
	"  INSERT INTO chunks_fts(rowid, title, headings, body)"
	"  VALUES (new.id, new.title, new.headings, new.body);"
	"END;"
	"CREATE TRIGGER chunks_fts_delete AFTER DELETE ON chunks BEGIN"
	"  INSERT INTO chunks_fts(chunks_fts, rowid, title, headings, body)"
	"  VALUES ('delete', old.id, old.title, old.headings, old.body);"
	"END;"
	/* One embedding per chunk and model: dim float32 components,
	 * little-endian, in vec (the layout of vectors.h). */
	"CREATE TABLE vectors ("
	"  id       INTEGER PRIMARY KEY,"
	"  chunk_id INTEGER NOT NULL REFERENCES chunks(id) ON DELETE CASCADE,"
	"  model    TEXT NOT NULL,"
	"  dim      INTEGER NOT NULL,"
	"  vec      BLOB NOT NULL,"
	"  UNIQUE (chunk_id, model)"
	");"
	"CREATE TABLE term_df ("
	"  term TEXT PRIMARY KEY NOT NULL,"
	"  df   INTEGER NOT NULL"
	") WITHOUT ROWID;";

/* What an older index held: dropped before the schema is made again. */
static const char drop_sql[] =
	"DROP TABLE IF EXISTS term_df;"
	"DROP TABLE IF EXISTS vectors;"
	"DROP TRIGGER IF EXISTS chunks_fts_insert;"
	"DROP TRIGGER IF EXISTS chunks_fts_delete;"
	"DROP TABLE IF EXISTS chunks_fts;"
	"DROP TABLE IF EXISTS chunks;"
	"DROP TABLE IF EXISTS files;"
	"DROP TABLE IF EXISTS roots;"
	"DROP TABLE IF EXISTS meta;";

static int exec_sql(docs_index *ix, const char *sql)
{
	int rc = sqlite3_exec(ix->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : ix_fail(ix, rc);
}

/* One integer of a one-row query. */
static int query_int(docs_index *ix, const char *sql, int64_t *out)
{
	sqlite3_stmt *stmt = NULL;
	int rc;

	rc = sqlite3_prepare_v2(ix->db, sql, -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		return ix_fail(ix, rc);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		*out = sqlite3_column_int64(stmt, 0);
		rc = 0;
	} else {
		rc = ix_fail(ix, rc);
	}
	sqlite3_finalize(stmt);
	return rc;
}

/* What the database holds: *version 0 and *foreign false when it is empty,
 * 0 and true when it has tables but not ours, else our schema version;
 * *same_tokenizer whether chunks_fts was made with DOCS_TOKENIZE. */
static int read_version(docs_index *ix, int64_t *version, bool *foreign, bool *same_tokenizer)
{
	int64_t tables = 0, meta = 0, tok = 0;
	int rc;

	*version = 0;
	*foreign = false;
	*same_tokenizer = false;
	rc = query_int(ix, "SELECT count(*) FROM sqlite_master", &tables);
	if (rc == 0)
		rc = query_int(ix, "SELECT count(*) FROM sqlite_master"
			       " WHERE type = 'table' AND name = 'meta'", &meta);
	if (rc < 0 || tables == 0)
		return rc;
	if (!meta) {
		*foreign = true;
		return 0;
	}
	rc = query_int(ix, "SELECT coalesce((SELECT CAST(value AS INTEGER) FROM meta"
		       " WHERE key = 'schema_version'), -1)", version);
	if (rc == 0 && *version < 0)
		*foreign = true;
	if (rc == 0)
		rc = query_int(ix, "SELECT count(*) FROM meta WHERE key = 'tokenizer'"
			       " AND value = '" DOCS_TOKENIZE "'", &tok);
	*same_tokenizer = tok > 0;
	return rc;
}

static int refuse(docs_index *ix, int64_t version, bool foreign)
{
	if (foreign)
		ix_set_errmsg(ix, "this database is not a documentation index");
	else if (version > DOCS_SCHEMA_VERSION)
		ix_set_errmsg(ix, "documentation index of schema version %lld, newer than "
			      "this doctor knows (%d); refusing to touch it",
			      (long long)version, DOCS_SCHEMA_VERSION);
	else
		ix_set_errmsg(ix, "documentation index of an older doctor (schema version "
			      "%lld); index again to rebuild it", (long long)version);
	return -EPROTO;
}

/* Bring a writable database to DOCS_SCHEMA_VERSION, in one transaction:
 * made if empty, rebuilt (emptied) if older or made with another
 * tokenizer. */
static int prepare_schema(docs_index *ix)
{
	bool foreign, same_tok;
	int64_t version;
	int rc;

	rc = ix_begin(ix);
	if (rc < 0)
		return rc;
	rc = read_version(ix, &version, &foreign, &same_tok);
	if (rc == 0 && (foreign || version > DOCS_SCHEMA_VERSION))
		rc = refuse(ix, version, foreign);
	if (rc == 0 && (version < DOCS_SCHEMA_VERSION || !same_tok)) {
		rc = exec_sql(ix, drop_sql);
		if (rc == 0)
			rc = exec_sql(ix, schema_sql);
		if (rc == 0)
			rc = exec_sql(ix, "INSERT INTO meta(key, value) VALUES"
				      " ('tokenizer', '" DOCS_TOKENIZE "'),"
				      " ('chunk_options', ''), ('optimized', '1'),"
				      " ('schema_version', '" STRINGIFY(DOCS_SCHEMA_VERSION) "')");
	}
	if (rc == 0)
		rc = ix_commit(ix);
	if (rc < 0)
		ix_rollback(ix);
	return rc;
}

/* ------------------------------------------------------------ open, close */

static int open_db(docs_index *ix, const char *path, bool readonly)
{
	int flags = readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
	struct stat sb;
	char *dir;
	int rc;

	if (readonly && stat(path, &sb) < 0)
		return -errno;
	if (!readonly) {
		dir = paths_dirname(path);
		if (!dir)
			return -ENOMEM;
		rc = paths_mkdir_p(dir, 0700);
		free(dir);
		if (rc < 0) {
			ix_set_errmsg(ix, "cannot make the folder of %s: %s", path, strerror(-rc));
			return rc;
		}
	}
	rc = sqlite3_open_v2(path, &ix->db, flags | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		/* Not found was ruled out above: a file or folder we may not use. */
		int err = ix_fail(ix, rc);

		return rc == SQLITE_CANTOPEN ? -EACCES : err;
	}
	/* Wait for a writer (another indexing) rather than failing at once. */
	sqlite3_busy_timeout(ix->db, 5000);
	rc = exec_sql(ix, "PRAGMA foreign_keys = ON");
	if (rc == 0)
		rc = docs_tokenizer_register(ix->db);
	if (rc == 0)
		rc = rank_register(ix->db, &ix->lengths);
	if (rc == 0)
		rc = docs_tokenizer_new(ix->db, DOCS_TOKENIZER_NAME, &ix->tok);
	if (rc == 0)
		rc = docs_tokenizer_new(ix->db, DOCS_TOKENIZE, &ix->stem);
	return rc;
}

int docs_index_open(const char *path, bool readonly, docs_index **out)
{
	bool foreign, same_tok;
	docs_index *ix;
	int64_t version;
	int rc;

	*out = NULL;
	if (!path || !*path)
		return -EINVAL;
	ix = calloc(1, sizeof(*ix));
	if (!ix)
		return -ENOMEM;
	ix->readonly = readonly;
	rc = open_db(ix, path, readonly);
	if (rc == 0 && readonly) {
		rc = read_version(ix, &version, &foreign, &same_tok);
		if (rc == 0 && version == 0 && !foreign)
			ix->empty = true;
		else if (rc == 0 && (foreign || version != DOCS_SCHEMA_VERSION || !same_tok))
			rc = refuse(ix, version, foreign);
		if (rc == 0)
			rc = exec_sql(ix, "PRAGMA query_only = ON");
	} else if (rc == 0) {
		/* WAL: searches never block an indexing run; with
		 * synchronous=NORMAL a commit costs no fsync (durable at the
		 * next checkpoint), and a crash still loses no committed
		 * transaction's consistency. */
		rc = exec_sql(ix, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL");
		if (rc == 0)
			rc = prepare_schema(ix);
	}
	if (rc < 0) {
		docs_index_close(ix);
		return rc;
	}
	*out = ix;
	return 0;
}

void docs_index_close(docs_index *ix)
{
	size_t i;

	if (!ix)
		return;
	for (i = 0; i < IX_STMT_COUNT_; i++)
		sqlite3_finalize(ix->stmts[i]);
	docs_tokenizer_free(ix->tok);
	docs_tokenizer_free(ix->stem);
	/* Everything is finalized, so this cannot fail with SQLITE_BUSY. */
	sqlite3_close(ix->db);
	ix_caches_clear(ix);
	free(ix);
}

/* ------------------------------------------------------------ term counts */

int ix_optimize(docs_index *ix)
{
	char sql[512];
	int rc;

	/* fts5vocab reads the FTS index itself; a temporary table of this
	 * connection, so the schema stays as it is. */
	rc = exec_sql(ix, "CREATE VIRTUAL TABLE IF NOT EXISTS temp.chunks_vocab"
		      " USING fts5vocab(main, chunks_fts, 'row')");
	if (rc == 0)
		rc = ix_begin(ix);
	if (rc < 0)
		return rc;
	/* One segment: a query then reads each term's list in one piece
	 * rather than merging one per transaction that wrote it (about half
	 * the query time on the Ray docs; 30 ms of work for them). */
	snprintf(sql, sizeof(sql), "INSERT INTO chunks_fts(chunks_fts) VALUES ('optimize');"
		 " DELETE FROM term_df; INSERT INTO term_df(term, df)"
		 " SELECT term, doc FROM temp.chunks_vocab WHERE doc >= %d;"
		 " UPDATE meta SET value = '1' WHERE key = 'optimized'", DOCS_TERM_DF_MIN);
	rc = exec_sql(ix, sql);
	if (rc == 0)
		rc = ix_commit(ix);
	if (rc < 0)
		ix_rollback(ix);
	return rc;
}

/* ------------------------------------------------------------ counts */

int ix_check_empty(docs_index *ix)
{
	bool foreign, same_tok;
	int64_t version;
	int rc;

	if (!ix->empty)
		return 0;
	rc = read_version(ix, &version, &foreign, &same_tok);
	if (rc == 0 && (foreign || version != 0))
		rc = foreign || version != DOCS_SCHEMA_VERSION || !same_tok
			? refuse(ix, version, foreign) : 0;
	if (rc == 0 && version == DOCS_SCHEMA_VERSION)
		ix->empty = false;
	return rc;
}


int docs_index_info(docs_index *ix, struct docs_index_info *out)
{
	static const char *const sql[] = {
		"SELECT count(*) FROM roots", "SELECT count(*) FROM files",
		"SELECT count(*) FROM chunks", "SELECT count(*) FROM vectors",
	};
	size_t *fields[] = { &out->roots, &out->files, &out->chunks, &out->vectors };
	int64_t v = 0;
	size_t i;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	rc = ix_check_empty(ix);
	if (rc < 0 || ix->empty)
		return rc;
	for (i = 0; i < sizeof(sql) / sizeof(sql[0]) && rc == 0; i++) {
		rc = query_int(ix, sql[i], &v);
		*fields[i] = (size_t)v;
	}
	return rc;
}
