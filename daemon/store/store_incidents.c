/*
 * store_incidents.c - recording errors: incidents and their occurrences.
 *
 * An incident is one signature; every time it is seen adds an occurrence
 * row and bumps the incident's count. The incident keeps the error as first
 * seen (message, frames, text...) and the source and context of the latest
 * occurrence: that is what a user looking at a repeat wants to see.
 */
#include <errno.h>

#include "store_internal.h"

/* A string field of the error object, NULL if absent or not a string. */
static const char *error_field(const store_occurrence *occ, const char *key)
{
	return json_string_value(json_object_get(occ->error, key));
}

/* Source ids: 0 means "no source", stored as NULL. */
static void bind_source_id(sqlite3_stmt *stmt, int idx, int64_t source_id)
{
	if (source_id > 0)
		sqlite3_bind_int64(stmt, idx, source_id);
	else
		sqlite3_bind_null(stmt, idx);
}

static int find_incident(store *st, const char *signature, bool *found,
                         int64_t *id, int64_t *count)
{
	static const char sql[] =
		"SELECT id, count FROM incidents WHERE signature = ?1";
	sqlite3_stmt *stmt;
	int rc;

	rc = store_stmt(st, STMT_INCIDENT_FIND, sql, &stmt);
	if (rc == 0)
		rc = store_bind_text(st, stmt, 1, signature);
	if (rc < 0)
		return rc;
	rc = sqlite3_step(stmt);
	*found = rc == SQLITE_ROW;
	if (rc == SQLITE_ROW) {
		*id = sqlite3_column_int64(stmt, 0);
		*count = sqlite3_column_int64(stmt, 1);
		rc = 0;
	} else {
		rc = rc == SQLITE_DONE ? 0 : store_fail(st, rc);
	}
	sqlite3_reset(stmt);
	return rc;
}

static int insert_incident(store *st, const store_occurrence *occ, int64_t *id)
{
	static const char sql[] =
		"INSERT INTO incidents(signature, detector, exception, message,"
		" text, raw, context, frames, chain, extra, first_seen, last_seen,"
		" first_source_id, last_source_id)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11, ?12, ?12)";
	const char *texts[] = {
		occ->signature, error_field(occ, "detector"),
		error_field(occ, "exception"), error_field(occ, "message"),
		error_field(occ, "text"), error_field(occ, "raw"), occ->context,
	};
	const char *json_keys[] = { "frames", "chain", "extra" };
	sqlite3_stmt *stmt;
	int rc, col = 1;
	size_t i;

	rc = store_stmt(st, STMT_INCIDENT_INSERT, sql, &stmt);
	for (i = 0; rc == 0 && i < sizeof(texts) / sizeof(texts[0]); i++)
		rc = store_bind_text(st, stmt, col++, texts[i]);
	for (i = 0; rc == 0 && i < sizeof(json_keys) / sizeof(json_keys[0]); i++)
		rc = store_bind_json(st, stmt, col++,
		                     json_object_get(occ->error, json_keys[i]));
	if (rc == 0) {
		sqlite3_bind_double(stmt, 11, occ->at);
		bind_source_id(stmt, 12, occ->source_id);
		rc = store_step_done(st, stmt);
	}
	if (rc == 0)
		*id = sqlite3_last_insert_rowid(st->db);
	sqlite3_clear_bindings(stmt);   /* drop the borrowed strings */
	return rc;
}

static int count_repeat(store *st, int64_t id, const store_occurrence *occ)
{
	static const char sql[] =
		"UPDATE incidents SET count = count + 1,"
		" last_seen = max(last_seen, ?2), last_source_id = ?3, context = ?4"
		" WHERE id = ?1";
	sqlite3_stmt *stmt;
	int rc;

	rc = store_stmt(st, STMT_INCIDENT_REPEAT, sql, &stmt);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(stmt, 1, id);
	sqlite3_bind_double(stmt, 2, occ->at);
	bind_source_id(stmt, 3, occ->source_id);
	rc = store_bind_text(st, stmt, 4, occ->context);
	if (rc == 0)
		rc = store_step_done(st, stmt);
	sqlite3_clear_bindings(stmt);
	return rc;
}

static int insert_occurrence(store *st, int64_t id, const store_occurrence *occ)
{
	static const char sql[] =
		"INSERT INTO occurrences(incident_id, source_id, at, context)"
		" VALUES (?1, ?2, ?3, ?4)";
	sqlite3_stmt *stmt;
	int rc;

	rc = store_stmt(st, STMT_OCCURRENCE_INSERT, sql, &stmt);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(stmt, 1, id);
	bind_source_id(stmt, 2, occ->source_id);
	sqlite3_bind_double(stmt, 3, occ->at);
	rc = store_bind_text(st, stmt, 4, occ->context);
	if (rc == 0)
		rc = store_step_done(st, stmt);
	sqlite3_clear_bindings(stmt);
	return rc;
}

int store_record(store *st, const store_occurrence *occ,
                 int64_t *id_out, bool *is_new, int64_t *count_out)
{
	int64_t id = 0, count = 0;
	bool found = false;
	int rc;

	if (!occ->signature || !*occ->signature || !json_is_object(occ->error)) {
		store_set_errmsg(st, "an occurrence needs a signature and an error object");
		return -EINVAL;
	}
	/* One write transaction: the look-up and the insert or update cannot be
	 * split by another writer, and the occurrence lands with its count. */
	rc = store_begin(st);
	if (rc < 0)
		return rc;
	rc = find_incident(st, occ->signature, &found, &id, &count);
	if (rc == 0 && found) {
		rc = count_repeat(st, id, occ);
		count++;
	} else if (rc == 0) {
		rc = insert_incident(st, occ, &id);
		count = 1;
	}
	if (rc == 0)
		rc = insert_occurrence(st, id, occ);
	if (rc == 0)
		rc = store_commit(st);
	if (rc < 0) {
		store_rollback(st);
		return rc;
	}
	*id_out = id;
	*is_new = !found;
	*count_out = count;
	return 0;
}
