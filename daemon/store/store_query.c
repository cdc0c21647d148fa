/*
 * store_query.c - reading incidents back as the JSON objects of
 * docs/protocol.md ("Objects"): the summary, the full incident, and lists of
 * summaries (newest first, by source, by exception).
 *
 * Every string column goes through store_col_string(), so output is valid
 * UTF-8 whatever bytes the watched program wrote.
 */
#include <errno.h>

#include "store_internal.h"

/* The summary's columns, shared by every query that returns summaries; the
 * source is the one of the latest occurrence. */
#define SUMMARY_COLUMNS                                                   \
	"i.id, i.signature, i.detector, i.exception, i.message, i.count,"     \
	" i.first_seen, i.last_seen, i.state, s.id, s.kind, s.name"
#define SUMMARY_NCOLUMNS 12
#define SUMMARY_FROM                                                      \
	" FROM incidents i LEFT JOIN sources s ON s.id = i.last_source_id"

/* {id, kind, name} of the summary's source, or null. */
static json_t *source_brief(sqlite3_stmt *stmt)
{
	json_t *src;

	if (sqlite3_column_type(stmt, 9) == SQLITE_NULL)
		return json_null();
	src = json_object();
	if (!src || store_obj_set(src, "id", store_col_integer(stmt, 9)) < 0 ||
	    store_obj_set(src, "kind", store_col_string(stmt, 10)) < 0 ||
	    store_obj_set(src, "name", store_col_string(stmt, 11)) < 0) {
		json_decref(src);
		return NULL;
	}
	return src;
}

/* The first columns of SUMMARY_COLUMNS, in order, as summary fields (the
 * source's three follow, see source_brief()). */
static const struct {
	const char *key;
	enum { COL_INTEGER, COL_REAL, COL_STRING } kind;
} summary_fields[] = {
	{ "id", COL_INTEGER }, { "signature", COL_STRING },
	{ "detector", COL_STRING }, { "exception", COL_STRING },
	{ "message", COL_STRING }, { "count", COL_INTEGER },
	{ "first_seen", COL_REAL }, { "last_seen", COL_REAL },
	{ "state", COL_STRING },
};

static json_t *summary_field(sqlite3_stmt *stmt, int col)
{
	switch (summary_fields[col].kind) {
	case COL_INTEGER:
		return store_col_integer(stmt, col);
	case COL_REAL:
		return json_real(sqlite3_column_double(stmt, col));
	default:
		return store_col_string(stmt, col);
	}
}

/* A summary from a row starting with SUMMARY_COLUMNS. New reference, NULL
 * when out of memory. */
static json_t *summary_from_row(sqlite3_stmt *stmt)
{
	const int nfields = (int)(sizeof(summary_fields) / sizeof(summary_fields[0]));
	json_t *sum = json_object();
	int rc = sum ? 0 : -ENOMEM, col;

	for (col = 0; rc == 0 && col < nfields; col++)
		rc = store_obj_set(sum, summary_fields[col].key, summary_field(stmt, col));
	if (rc == 0)
		rc = store_obj_set(sum, "source", source_brief(stmt));
	if (rc < 0) {
		json_decref(sum);
		return NULL;
	}
	return sum;
}

/* Step stmt to the end, collecting one summary per row; resets stmt. */
static int collect_summaries(store *st, sqlite3_stmt *stmt, json_t **out)
{
	json_t *list = json_array();
	int rc;

	if (!list) {
		sqlite3_reset(stmt);
		return -ENOMEM;
	}
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (json_array_append_new(list, summary_from_row(stmt)) < 0) {
			rc = -ENOMEM;
			goto out;
		}
	}
	rc = rc == SQLITE_DONE ? 0 : store_fail(st, rc);
out:
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	if (rc < 0)
		json_decref(list);
	else
		*out = list;
	return rc;
}

/* Step a single-incident query: -ENOENT when there is no row. */
static int step_one(store *st, sqlite3_stmt *stmt)
{
	int rc = sqlite3_step(stmt);

	if (rc == SQLITE_ROW)
		return 0;
	return rc == SQLITE_DONE ? -ENOENT : store_fail(st, rc);
}

int store_incident_summary(store *st, int64_t id, json_t **out)
{
	static const char sql[] =
		"SELECT " SUMMARY_COLUMNS SUMMARY_FROM " WHERE i.id = ?1";
	sqlite3_stmt *stmt;
	json_t *sum;
	int rc;

	rc = store_stmt(st, STMT_INCIDENT_SUMMARY, sql, &stmt);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(stmt, 1, id);
	rc = step_one(st, stmt);
	if (rc == 0) {
		sum = summary_from_row(stmt);
		rc = sum ? 0 : -ENOMEM;
		if (sum)
			*out = sum;
	}
	sqlite3_reset(stmt);
	return rc;
}

/* ------------------------------------------------------------------------
 * The full incident
 */

/* Columns of the full incident after the summary's. */
#define FULL_COLUMNS                                                      \
	", i.frames, i.chain, i.text, i.raw, i.extra, i.context,"             \
	" s.cwd, s.python, s.virtualenv, s.context"

/* Add the full incident's own fields to inc, a summary of the same row. */
static int add_full_fields(json_t *inc, sqlite3_stmt *stmt)
{
	const int c = SUMMARY_NCOLUMNS;
	json_t *src = json_object_get(inc, "source");
	int rc;

	rc = store_obj_set(inc, "frames", store_col_json(stmt, c, json_array()));
	if (rc == 0)
		rc = store_obj_set(inc, "chain", store_col_json(stmt, c + 1, json_array()));
	if (rc == 0)
		rc = store_obj_set(inc, "text", store_col_string(stmt, c + 2));
	if (rc == 0)
		rc = store_obj_set(inc, "raw", store_col_string(stmt, c + 3));
	if (rc == 0)
		rc = store_obj_set(inc, "extra", store_col_json(stmt, c + 4, json_null()));
	if (rc == 0)
		rc = store_obj_set(inc, "context", store_col_string(stmt, c + 5));
	if (rc < 0 || !json_is_object(src))
		return rc;
	rc = store_obj_set(src, "cwd", store_col_string(stmt, c + 6));
	if (rc == 0)
		rc = store_obj_set(src, "python", store_col_string(stmt, c + 7));
	if (rc == 0)
		rc = store_obj_set(src, "virtualenv", store_col_string(stmt, c + 8));
	if (rc == 0)
		rc = store_obj_set(src, "context", store_col_json(stmt, c + 9, json_null()));
	return rc;
}

/* {source_id, source_name, at}; ids and names are null without a source. */
static json_t *occurrence_from_row(sqlite3_stmt *stmt)
{
	json_t *occ = json_object();

	if (!occ || store_obj_set(occ, "source_id", store_col_integer(stmt, 0)) < 0 ||
	    store_obj_set(occ, "source_name", store_col_string(stmt, 1)) < 0 ||
	    store_obj_set(occ, "at", json_real(sqlite3_column_double(stmt, 2))) < 0) {
		json_decref(occ);
		return NULL;
	}
	return occ;
}

/* inc.occurrences: the latest 100, newest first. */
static int add_occurrences(store *st, json_t *inc, int64_t id)
{
	static const char sql[] =
		"SELECT o.source_id, s.name, o.at FROM occurrences o"
		" LEFT JOIN sources s ON s.id = o.source_id"
		" WHERE o.incident_id = ?1 ORDER BY o.at DESC, o.id DESC LIMIT 100";
	sqlite3_stmt *stmt;
	json_t *list;
	int rc;

	rc = store_stmt(st, STMT_INCIDENT_OCCURRENCES, sql, &stmt);
	if (rc < 0)
		return rc;
	list = json_array();
	if (store_obj_set(inc, "occurrences", list) < 0)
		return -ENOMEM;
	sqlite3_bind_int64(stmt, 1, id);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (json_array_append_new(list, occurrence_from_row(stmt)) < 0) {
			rc = -ENOMEM;
			goto out;
		}
	}
	rc = rc == SQLITE_DONE ? 0 : store_fail(st, rc);
out:
	sqlite3_reset(stmt);
	return rc;
}

int store_incident_get(store *st, int64_t id, json_t **out)
{
	static const char sql[] =
		"SELECT " SUMMARY_COLUMNS FULL_COLUMNS SUMMARY_FROM " WHERE i.id = ?1";
	sqlite3_stmt *stmt;
	json_t *inc = NULL;
	int rc;

	rc = store_stmt(st, STMT_INCIDENT_FULL, sql, &stmt);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(stmt, 1, id);
	rc = step_one(st, stmt);
	if (rc == 0) {
		inc = summary_from_row(stmt);
		rc = inc ? add_full_fields(inc, stmt) : -ENOMEM;
	}
	sqlite3_reset(stmt);
	if (rc == 0)
		rc = add_occurrences(st, inc, id);
	if (rc < 0) {
		json_decref(inc);
		return rc;
	}
	*out = inc;
	return 0;
}

/* ------------------------------------------------------------------------
 * Lists and counts
 */

int store_incident_list(store *st, const store_query *q, json_t **out)
{
	/* Pages are keyed on (last_seen, id), the sort order: "before" an
	 * incident means after it in the list, even if it has been seen again
	 * since. An unknown `before` id matches nothing. Each filter is off
	 * when its parameter is 0 / NULL, so one cached statement serves all. */
	static const char sql[] =
		"SELECT " SUMMARY_COLUMNS SUMMARY_FROM
		" WHERE (?1 <= 0 OR (i.last_seen, i.id) <"
		"        (SELECT b.last_seen, b.id FROM incidents b WHERE b.id = ?1))"
		"   AND (?2 <= 0 OR EXISTS (SELECT 1 FROM occurrences o"
		"        WHERE o.source_id = ?2 AND o.incident_id = i.id))"
		"   AND (?3 IS NULL OR i.exception = ?3)"
		" ORDER BY i.last_seen DESC, i.id DESC LIMIT ?4";
	static const store_query all = { 0 };
	sqlite3_stmt *stmt;
	int limit, rc;

	if (!q)
		q = &all;
	limit = q->limit <= 0 ? 50 : q->limit > 1000 ? 1000 : q->limit;
	rc = store_stmt(st, STMT_INCIDENT_LIST, sql, &stmt);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(stmt, 1, q->before_id);
	sqlite3_bind_int64(stmt, 2, q->source_id);
	sqlite3_bind_int(stmt, 4, limit);
	rc = store_bind_text(st, stmt, 3, q->exception);
	if (rc < 0)
		return rc;
	return collect_summaries(st, stmt, out);
}

int store_incidents_of_source(store *st, int64_t source_id, json_t **out)
{
	static const char sql[] =
		"SELECT " SUMMARY_COLUMNS SUMMARY_FROM
		" WHERE i.id IN (SELECT incident_id FROM occurrences"
		"                WHERE source_id = ?1)"
		" ORDER BY i.id";
	sqlite3_stmt *stmt;
	int rc;

	rc = store_stmt(st, STMT_INCIDENTS_OF_SOURCE, sql, &stmt);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(stmt, 1, source_id);
	return collect_summaries(st, stmt, out);
}

int store_count_incidents(store *st, int64_t *out)
{
	static const char sql[] = "SELECT count(*) FROM incidents";
	sqlite3_stmt *stmt;
	int rc;

	rc = store_stmt(st, STMT_INCIDENT_COUNT, sql, &stmt);
	if (rc < 0)
		return rc;
	rc = step_one(st, stmt);
	if (rc == 0)
		*out = sqlite3_column_int64(stmt, 0);
	sqlite3_reset(stmt);
	return rc;
}
