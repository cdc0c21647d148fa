/*
 * store.c - the store's handle: opening and closing the database, the cache
 * of prepared statements, transactions, error messages, and the two small
 * tables that need no more than that (sources and watches).
 *
 * Incidents live in store_incidents.c, the schema in store_schema.c, the
 * agent's runs in store_agent.c, and the JSON <-> column conversions in
 * store_json.c.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "store_internal.h"

/* Why the last store_open() failed: there is no handle to hold it then, so
 * store_errmsg(NULL) returns this (the daemon is single-threaded). */
static char open_errmsg[256];

/* ------------------------------------------------------------------------
 * Errors
 */

int store_fail(store *st, int sqlite_rc)
{
	const char *msg = st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(sqlite_rc);

	snprintf(st->errmsg, sizeof(st->errmsg), "%s", msg);
	return sqlite_rc == SQLITE_NOMEM ? -ENOMEM : -EIO;
}

void store_set_errmsg(store *st, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(st->errmsg, sizeof(st->errmsg), fmt, ap);
	va_end(ap);
}

const char *store_errmsg(const store *st)
{
	return st ? st->errmsg : open_errmsg;
}

/* ------------------------------------------------------------------------
 * Statements and transactions
 */

int store_stmt(store *st, enum store_stmt_id id, const char *sql,
               sqlite3_stmt **out)
{
	sqlite3_stmt *stmt = st->stmts[id];
	int rc;

	if (stmt) {
		/* Normally already reset by its last user; a no-op then. */
		sqlite3_reset(stmt);
		sqlite3_clear_bindings(stmt);
	} else {
		rc = sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
		                        &stmt, NULL);
		if (rc != SQLITE_OK)
			return store_fail(st, rc);
		st->stmts[id] = stmt;
	}
	*out = stmt;
	return 0;
}

int store_step_done(store *st, sqlite3_stmt *stmt)
{
	int rc = sqlite3_step(stmt);

	rc = rc == SQLITE_DONE ? 0 : store_fail(st, rc);
	/* Reset now: a statement left mid-step would pin a WAL snapshot. */
	sqlite3_reset(stmt);
	return rc;
}

static int exec_cached(store *st, enum store_stmt_id id, const char *sql)
{
	sqlite3_stmt *stmt;
	int rc = store_stmt(st, id, sql, &stmt);

	return rc < 0 ? rc : store_step_done(st, stmt);
}

/* IMMEDIATE takes the write lock now, so a transaction that reads and then
 * writes cannot fail half-way with SQLITE_BUSY (busy_timeout waits instead). */
int store_begin(store *st)
{
	return exec_cached(st, STMT_BEGIN, "BEGIN IMMEDIATE");
}

int store_commit(store *st)
{
	return exec_cached(st, STMT_COMMIT, "COMMIT");
}

/* Keeps st->errmsg: it says why we are rolling back. */
void store_rollback(store *st)
{
	char saved[sizeof(st->errmsg)];

	if (sqlite3_get_autocommit(st->db))
		return;     /* SQLite already rolled back (or nothing began) */
	snprintf(saved, sizeof(saved), "%s", st->errmsg);
	exec_cached(st, STMT_ROLLBACK, "ROLLBACK");
	snprintf(st->errmsg, sizeof(st->errmsg), "%s", saved);
}

/* ------------------------------------------------------------------------
 * Open and close
 */

/* Open, migrating up to version. */
static int open_at(const char *path, int version, store **out)
{
	store *st;
	int rc;

	*out = NULL;
	open_errmsg[0] = '\0';
	if (!path || !*path) {
		snprintf(open_errmsg, sizeof(open_errmsg), "no database path");
		return -EINVAL;
	}
	st = calloc(1, sizeof(*st));
	if (!st) {
		snprintf(open_errmsg, sizeof(open_errmsg), "out of memory");
		return -ENOMEM;
	}
	rc = sqlite3_open_v2(path, &st->db,
	                     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (rc != SQLITE_OK) {
		rc = store_fail(st, rc);
		goto fail;
	}
	rc = store_schema_prepare(st, version);
	if (rc < 0)
		goto fail;
	*out = st;
	return 0;
fail:
	snprintf(open_errmsg, sizeof(open_errmsg), "%s", st->errmsg);
	store_close(st);
	return rc;
}

int store_open_at(const char *path, int version, store **out)
{
	return open_at(path, version, out);
}

int store_open(const char *path, store **out)
{
	return open_at(path, STORE_SCHEMA_VERSION, out);
}

void store_close(store *st)
{
	size_t i;

	if (!st)
		return;
	for (i = 0; i < STMT_COUNT_; i++)
		sqlite3_finalize(st->stmts[i]);
	/* Everything is finalized, so this cannot fail with SQLITE_BUSY. */
	sqlite3_close(st->db);
	free(st);
}

/* ------------------------------------------------------------------------
 * Sources
 */

int store_source_add(store *st, const store_source *src, int64_t *id_out)
{
	static const char sql[] =
		"INSERT INTO sources(kind, name, cwd, python, virtualenv, context,"
		" opened_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
	const char *texts[] = {
		src->kind, src->name, src->cwd, src->python, src->virtualenv
	};
	sqlite3_stmt *stmt;
	size_t i;
	int rc;

	rc = store_stmt(st, STMT_SOURCE_ADD, sql, &stmt);
	for (i = 0; rc == 0 && i < sizeof(texts) / sizeof(texts[0]); i++)
		rc = store_bind_text(st, stmt, (int)i + 1, texts[i]);
	if (rc == 0)
		rc = store_bind_json(st, stmt, 6, src->context);
	if (rc == 0 && (rc = sqlite3_bind_double(stmt, 7, src->opened_at)))
		rc = store_fail(st, rc);
	if (rc == 0)
		rc = store_step_done(st, stmt);
	if (rc == 0)
		*id_out = sqlite3_last_insert_rowid(st->db);
	sqlite3_clear_bindings(stmt);
	return rc;
}

int store_source_close(store *st, int64_t id, double closed_at)
{
	static const char sql[] =
		"UPDATE sources SET closed_at = ?2 WHERE id = ?1";
	sqlite3_stmt *stmt;
	int rc;

	rc = store_stmt(st, STMT_SOURCE_CLOSE, sql, &stmt);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(stmt, 1, id);
	sqlite3_bind_double(stmt, 2, closed_at);
	rc = store_step_done(st, stmt);
	if (rc == 0 && sqlite3_changes(st->db) == 0)
		rc = -ENOENT;
	return rc;
}

/* ------------------------------------------------------------------------
 * Watches
 */

/* Adding a path that is already watched updates its name and from_start:
 * the daemon re-adds its watches freely and the latest request wins. */
int store_watch_add(store *st, const char *path, const char *name, bool from_start)
{
	static const char sql[] =
		"INSERT INTO watches(path, name, from_start) VALUES (?1, ?2, ?3)"
		" ON CONFLICT(path) DO UPDATE"
		" SET name = excluded.name, from_start = excluded.from_start";
	sqlite3_stmt *stmt;
	int rc;

	if (!path || !*path)
		return -EINVAL;
	rc = store_stmt(st, STMT_WATCH_ADD, sql, &stmt);
	if (rc == 0)
		rc = store_bind_text(st, stmt, 1, path);
	if (rc == 0)
		rc = store_bind_text(st, stmt, 2, name);
	if (rc == 0) {
		sqlite3_bind_int(stmt, 3, from_start);
		rc = store_step_done(st, stmt);
	}
	sqlite3_clear_bindings(stmt);
	return rc;
}

int store_watch_remove(store *st, const char *path)
{
	static const char sql[] = "DELETE FROM watches WHERE path = ?1";
	sqlite3_stmt *stmt;
	int rc;

	if (!path)
		return -EINVAL;
	rc = store_stmt(st, STMT_WATCH_REMOVE, sql, &stmt);
	if (rc == 0)
		rc = store_bind_text(st, stmt, 1, path);
	if (rc == 0)
		rc = store_step_done(st, stmt);
	if (rc == 0 && sqlite3_changes(st->db) == 0)
		rc = -ENOENT;
	sqlite3_clear_bindings(stmt);
	return rc;
}

/* One row of the watch list as {path, name, from_start}; NULL on ENOMEM. */
static json_t *watch_row(sqlite3_stmt *stmt)
{
	json_t *w = json_object();

	if (!w || store_obj_set(w, "path", store_col_string(stmt, 0)) < 0 ||
	    store_obj_set(w, "name", store_col_string(stmt, 1)) < 0 ||
	    store_obj_set(w, "from_start",
	                  json_boolean(sqlite3_column_int(stmt, 2))) < 0) {
		json_decref(w);
		return NULL;
	}
	return w;
}

int store_watch_list(store *st, json_t **out)
{
	static const char sql[] =
		"SELECT path, name, from_start FROM watches ORDER BY rowid";
	sqlite3_stmt *stmt;
	json_t *list;
	int rc;

	rc = store_stmt(st, STMT_WATCH_LIST, sql, &stmt);
	if (rc < 0)
		return rc;
	list = json_array();
	if (!list)
		return -ENOMEM;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (json_array_append_new(list, watch_row(stmt)) < 0) {
			rc = -ENOMEM;
			goto out;
		}
	}
	rc = rc == SQLITE_DONE ? 0 : store_fail(st, rc);
out:
	sqlite3_reset(stmt);
	if (rc < 0)
		json_decref(list);
	else
		*out = list;
	return rc;
}
