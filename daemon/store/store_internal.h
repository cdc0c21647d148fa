/*
 * store_internal.h - what the store's own files share: the handle, its cache
 * of prepared statements, error bookkeeping and the JSON <-> column helpers.
 *
 * Not for use outside daemon/store/: the rest of doctor sees only store.h.
 */
#ifndef DOCTOR_STORE_INTERNAL_H
#define DOCTOR_STORE_INTERNAL_H

#include <sqlite3.h>
#include <stddef.h>

#include "store.h"

/* One slot per cached statement. Each is prepared on first use with the SQL
 * given at its call site (so the SQL stays next to the code that reads its
 * columns) and kept until store_close(). */
enum store_stmt_id {
	STMT_SOURCE_ADD,
	STMT_SOURCE_CLOSE,
	STMT_INCIDENT_FIND,
	STMT_INCIDENT_INSERT,
	STMT_INCIDENT_REPEAT,
	STMT_OCCURRENCE_INSERT,
	STMT_INCIDENT_SUMMARY,
	STMT_INCIDENT_FULL,
	STMT_INCIDENT_OCCURRENCES,
	STMT_INCIDENT_LIST,
	STMT_INCIDENTS_OF_SOURCE,
	STMT_INCIDENT_COUNT,
	STMT_WATCH_ADD,
	STMT_WATCH_REMOVE,
	STMT_WATCH_LIST,
	STMT_DIAGNOSIS_UPSERT,
	STMT_DIAGNOSIS_ID,
	STMT_REMEDY_INSERT,
	STMT_REMEDY_FIND,
	STMT_REMEDY_REFRESH,
	STMT_REMEDY_GET,
	STMT_REMEDY_UPDATE,
	STMT_REMEDY_TRANSITION,
	STMT_INCIDENT_DIAGNOSES,
	STMT_INCIDENT_REMEDIES,
	STMT_AUDIT_INSERT,
	STMT_AUDIT_LIST,
	STMT_AGENT_RUN_START,
	STMT_AGENT_RUN_CACHED,
	STMT_AGENT_STEP_ADD,
	STMT_AGENT_RUN_FINISH,
	STMT_AGENT_RUN_GET,
	STMT_AGENT_STEPS,
	STMT_AGENT_RUNS_OF_INCIDENT,
	STMT_AGENT_CACHE_LOOKUP,
	STMT_AGENT_SPENT,
	STMT_AGENT_STATS,
	STMT_AGENT_RECOVER,
	STMT_BEGIN,
	STMT_COMMIT,
	STMT_ROLLBACK,
	STMT_COUNT_
};

struct store {
	sqlite3 *db;                        /* owned */
	sqlite3_stmt *stmts[STMT_COUNT_];   /* owned, NULL until first use */
	char errmsg[256];                   /* last failure, "" if none */
};

/* ---- store.c */

/* Turn an SQLite result code into 0 or a negative errno, remembering the
 * connection's message in st->errmsg (what says why). */
int store_fail(store *st, int sqlite_rc);
/* Record a message of our own (for failures SQLite did not report). */
void store_set_errmsg(store *st, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The cached statement `id`, prepared from `sql` on first use, reset and
 * with no bindings. Borrowed: it stays owned by the handle. */
int store_stmt(store *st, enum store_stmt_id id, const char *sql,
               sqlite3_stmt **out);
/* Step a statement expected to finish without rows (INSERT, UPDATE...). */
int store_step_done(store *st, sqlite3_stmt *stmt);
/* Transactions on the cached BEGIN IMMEDIATE / COMMIT / ROLLBACK. */
int store_begin(store *st);
int store_commit(store *st);
void store_rollback(store *st);

/* ---- store_schema.c */

/* Set the connection's pragmas and bring the schema to target
 * (STORE_SCHEMA_VERSION, or lower in tests of migrations; a database
 * already past target is left as it is). -EPROTO for a database from a
 * newer doctor. */
int store_schema_prepare(store *st, int target);

/* ---- store.c, for tests of migrations */

/* store_open() that migrates no further than version: to make a database
 * as an older doctor left it. */
int store_open_at(const char *path, int version, store **out);

/* ---- store_json.c */

/* Bind a string that may be NULL (then SQL NULL). */
int store_bind_text(store *st, sqlite3_stmt *stmt, int idx, const char *s);
/* Bind JSON as its compact text (SQL NULL for a NULL value). Strings that
 * jansson cannot encode (invalid UTF-8 put in with the _nocheck calls) are
 * repaired with U+FFFD instead of failing the insert. -ENOMEM on failure. */
int store_bind_json(store *st, sqlite3_stmt *stmt, int idx, json_t *value);
/* Column as a JSON string (valid UTF-8, bad bytes replaced by U+FFFD) or
 * json null for SQL NULL. New reference, NULL when out of memory. */
json_t *store_col_string(sqlite3_stmt *stmt, int col);
/* Column holding JSON text, decoded; `if_null` (stolen) when the column is
 * NULL, and the text as a string if it is not valid JSON. New reference,
 * NULL when out of memory. */
json_t *store_col_json(sqlite3_stmt *stmt, int col, json_t *if_null);
/* Column as an integer, or json null for SQL NULL. */
json_t *store_col_integer(sqlite3_stmt *stmt, int col);
/* json_object_set_new that reports failure as -ENOMEM (value stolen even
 * then, a NULL value counting as out of memory). */
int store_obj_set(json_t *obj, const char *key, json_t *value);

/* Copy of s (len bytes) with every byte that is not part of valid UTF-8
 * replaced by U+FFFD; *out_len gets the new length. NULL when out of
 * memory. The result is NUL-terminated. */
char *store_utf8_repair(const char *s, size_t len, size_t *out_len);
/* True if s[0..len) is valid UTF-8 as jansson understands it (no
 * surrogates, no overlong forms, nothing above U+10FFFF). */
bool store_utf8_valid(const char *s, size_t len);

#endif
