/*
 * store_remedies.c - diagnoses, remedies and the audit log in the store.
 *
 * A remedy moves proposed -> running -> succeeded | failed, or proposed ->
 * rejected, and succeeded -> undoing -> undone. The move out of a state is
 * one UPDATE ... WHERE state IN (...) so that a second confirmation of the
 * same remedy finds it already running and cannot start it again.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "store_internal.h"

static double now(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* ------------------------------------------------------------ diagnoses */

/* The fields of a remedy proposal kept in its body. New reference. */
static json_t *remedy_body(json_t *remedy)
{
	static const char *const keys[] = {
		"title", "argv", "cwd", "changes_system", "verify", "timeout", "undo", NULL,
	};
	json_t *body = json_object();

	for (const char *const *k = keys; body && *k; k++) {
		json_t *v = json_object_get(remedy, *k);
		if (v && json_object_set(body, *k, v) < 0) {
			json_decref(body);
			return NULL;
		}
	}
	return body;
}

static int remedy_find(store *st, int64_t incident_id, const char *dedupe, int64_t *id,
                       char **state)
{
	sqlite3_stmt *q;
	int rc = store_stmt(st, STMT_REMEDY_FIND,
		"SELECT id, state FROM remedies WHERE incident_id = ? AND dedupe = ?", &q);

	if (rc < 0)
		return rc;
	sqlite3_bind_int64(q, 1, incident_id);
	if ((rc = store_bind_text(st, q, 2, dedupe)) < 0)
		return rc;
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		*id = sqlite3_column_int64(q, 0);
		*state = strdup((const char *)sqlite3_column_text(q, 1));
		sqlite3_reset(q);
		return *state ? 0 : -ENOMEM;
	}
	sqlite3_reset(q);
	return rc == SQLITE_DONE ? -ENOENT : store_fail(st, rc);
}

/* Insert one remedy of a diagnosis (or find the same one), then write its
 * id and state into the remedy object. */
static int remedy_record(store *st, int64_t incident_id, int64_t diagnosis_id,
                         const char *plugin, json_t *remedy)
{
	json_t *body = remedy_body(remedy), *key = json_pack("[OO]",
		json_object_get(remedy, "argv"), json_object_get(remedy, "cwd") ?
		json_object_get(remedy, "cwd") : json_null());
	char *dedupe = key ? json_dumps(key, JSON_COMPACT) : NULL, *state = NULL;
	sqlite3_stmt *q;
	int64_t id = 0;
	double t = now();
	int rc = (body && dedupe) ? 0 : -ENOMEM;

	if (rc == 0)
		rc = remedy_find(st, incident_id, dedupe, &id, &state);
	if (rc == 0 && strcmp(state, "proposed") == 0) {
		/* what is shown must be what runs: a re-proposal with another
		 * title, verify, undo or timeout replaces the stored body */
		rc = store_stmt(st, STMT_REMEDY_REFRESH,
			"UPDATE remedies SET body = ?, updated_at = ? WHERE id = ? AND state = 'proposed'",
			&q);
		if (rc == 0 && (rc = store_bind_json(st, q, 1, body)) == 0) {
			sqlite3_bind_double(q, 2, t);
			sqlite3_bind_int64(q, 3, id);
			rc = store_step_done(st, q);
		}
	}
	if (rc == -ENOENT) {
		rc = store_stmt(st, STMT_REMEDY_INSERT,
			"INSERT INTO remedies (incident_id, diagnosis_id, plugin, key, body, dedupe,"
			" proposed_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", &q);
		if (rc == 0) {
			sqlite3_bind_int64(q, 1, incident_id);
			sqlite3_bind_int64(q, 2, diagnosis_id);
			rc = store_bind_text(st, q, 3, plugin);
		}
		if (rc == 0)
			rc = store_bind_text(st, q, 4, json_string_value(json_object_get(remedy, "key")));
		if (rc == 0)
			rc = store_bind_json(st, q, 5, body);
		if (rc == 0)
			rc = store_bind_text(st, q, 6, dedupe);
		if (rc == 0) {
			sqlite3_bind_double(q, 7, t);
			sqlite3_bind_double(q, 8, t);
			rc = store_step_done(st, q);
		}
		id = sqlite3_last_insert_rowid(st->db);
		state = rc == 0 ? strdup("proposed") : NULL;
	}
	if (rc == 0 && (store_obj_set(remedy, "id", json_integer(id)) < 0 ||
	                store_obj_set(remedy, "state", json_string(state ? state : "proposed")) < 0))
		rc = -ENOMEM;
	free(state);
	free(dedupe);
	json_decref(key);
	json_decref(body);
	return rc;
}

static int diagnosis_upsert(store *st, int64_t incident_id, json_t *diagnosis, int64_t *id_out)
{
	const char *plugin = json_string_value(json_object_get(diagnosis, "plugin"));
	const char *summary = json_string_value(json_object_get(diagnosis, "summary"));
	sqlite3_stmt *q;
	double t = now();
	int rc;

	rc = store_stmt(st, STMT_DIAGNOSIS_UPSERT,
		"INSERT INTO diagnoses (incident_id, plugin, summary, confidence, body, created_at,"
		" updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
		" ON CONFLICT (incident_id, plugin, summary) DO UPDATE SET"
		" body = excluded.body, confidence = excluded.confidence,"
		" updated_at = excluded.updated_at", &q);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(q, 1, incident_id);
	if ((rc = store_bind_text(st, q, 2, plugin ? plugin : "?")) < 0 ||
	    (rc = store_bind_text(st, q, 3, summary)) < 0)
		return rc;
	sqlite3_bind_double(q, 4, json_number_value(json_object_get(diagnosis, "confidence")));
	if ((rc = store_bind_json(st, q, 5, diagnosis)) < 0)
		return rc;
	sqlite3_bind_double(q, 6, t);
	sqlite3_bind_double(q, 7, t);
	if ((rc = store_step_done(st, q)) < 0)
		return rc;
	rc = store_stmt(st, STMT_DIAGNOSIS_ID,
		"SELECT id FROM diagnoses WHERE incident_id = ? AND plugin = ? AND summary IS ?", &q);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(q, 1, incident_id);
	if ((rc = store_bind_text(st, q, 2, plugin ? plugin : "?")) < 0 ||
	    (rc = store_bind_text(st, q, 3, summary)) < 0)
		return rc;
	rc = sqlite3_step(q);
	*id_out = rc == SQLITE_ROW ? sqlite3_column_int64(q, 0) : 0;
	sqlite3_reset(q);
	return rc == SQLITE_ROW ? 0 : store_fail(st, rc);
}

int store_diagnosis_record(store *st, int64_t incident_id, json_t *diagnosis, int64_t *id_out)
{
	json_t *remedies = json_object_get(diagnosis, "remedies"), *r;
	const char *plugin = json_string_value(json_object_get(diagnosis, "plugin"));
	int64_t id = 0;
	size_t i;
	int rc;

	if ((rc = store_begin(st)) < 0)
		return rc;
	rc = diagnosis_upsert(st, incident_id, diagnosis, &id);
	json_array_foreach(remedies, i, r) {
		if (rc == 0)
			rc = remedy_record(st, incident_id, id, plugin ? plugin : "?", r);
	}
	/* the body kept the remedies without ids; store them with ids now */
	if (rc == 0 && json_array_size(remedies) > 0)
		rc = diagnosis_upsert(st, incident_id, diagnosis, &id);
	if (rc == 0)
		rc = store_commit(st);
	if (rc < 0) {
		store_rollback(st);
		return rc;
	}
	if (id_out)
		*id_out = id;
	return 0;
}

/* ------------------------------------------------------------ remedies */

#define REMEDY_COLUMNS \
	"id, incident_id, plugin, key, state, body, exit_code, verified, undo_argv," \
	" proposed_at, updated_at, output"

/* One row of REMEDY_COLUMNS as the remedy object. New reference. */
static json_t *remedy_row(sqlite3_stmt *q, bool with_output)
{
	json_t *r = store_col_json(q, 5, json_object());

	if (!json_is_object(r)) {
		json_decref(r);
		r = json_object();
	}
	if (!r ||
	    store_obj_set(r, "id", json_integer(sqlite3_column_int64(q, 0))) < 0 ||
	    store_obj_set(r, "incident", json_integer(sqlite3_column_int64(q, 1))) < 0 ||
	    store_obj_set(r, "plugin", store_col_string(q, 2)) < 0 ||
	    store_obj_set(r, "key", store_col_string(q, 3)) < 0 ||
	    store_obj_set(r, "state", store_col_string(q, 4)) < 0 ||
	    store_obj_set(r, "exit_code", store_col_integer(q, 6)) < 0 ||
	    store_obj_set(r, "verified", sqlite3_column_type(q, 7) == SQLITE_NULL ? json_null() :
	                  json_boolean(sqlite3_column_int(q, 7))) < 0 ||
	    store_obj_set(r, "undo_argv", store_col_json(q, 8, json_null())) < 0 ||
	    store_obj_set(r, "proposed_at", json_real(sqlite3_column_double(q, 9))) < 0 ||
	    store_obj_set(r, "updated_at", json_real(sqlite3_column_double(q, 10))) < 0 ||
	    (with_output && store_obj_set(r, "output", store_col_string(q, 11)) < 0)) {
		json_decref(r);
		return NULL;
	}
	return r;
}

int store_remedy_get(store *st, int64_t id, bool with_output, json_t **out)
{
	sqlite3_stmt *q;
	int rc = store_stmt(st, STMT_REMEDY_GET,
		"SELECT " REMEDY_COLUMNS " FROM remedies WHERE id = ?", &q);

	if (rc < 0)
		return rc;
	sqlite3_bind_int64(q, 1, id);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		*out = remedy_row(q, with_output);
		rc = *out ? 0 : -ENOMEM;
	} else {
		rc = rc == SQLITE_DONE ? -ENOENT : store_fail(st, rc);
	}
	sqlite3_reset(q);
	return rc;
}

int store_remedy_update(store *st, int64_t id, const struct store_remedy_result *r)
{
	sqlite3_stmt *q;
	int rc = store_stmt(st, STMT_REMEDY_UPDATE,
		"UPDATE remedies SET state = COALESCE(?, state),"
		" exit_code = CASE WHEN ? THEN ? ELSE exit_code END,"
		" verified = CASE WHEN ? THEN ? ELSE verified END,"
		" output = COALESCE(?, output), undo_argv = COALESCE(?, undo_argv),"
		" updated_at = ? WHERE id = ?", &q);

	if (rc < 0)
		return rc;
	if ((rc = store_bind_text(st, q, 1, r->state)) < 0)
		return rc;
	sqlite3_bind_int(q, 2, r->exit_code != NULL);
	if (r->exit_code)
		sqlite3_bind_int(q, 3, *r->exit_code);
	sqlite3_bind_int(q, 4, r->verified != NULL);
	if (r->verified)
		sqlite3_bind_int(q, 5, *r->verified);
	if (r->output) {
		size_t len = 0;
		char *fixed = store_utf8_repair(r->output, r->output_len, &len);
		if (!fixed)
			return -ENOMEM;
		sqlite3_bind_text(q, 6, fixed, (int)len, free);
	}
	if (r->undo_argv && (rc = store_bind_json(st, q, 7, r->undo_argv)) < 0)
		return rc;
	sqlite3_bind_double(q, 8, now());
	sqlite3_bind_int64(q, 9, id);
	return store_step_done(st, q);
}

/* The remedy's current state (owned by the caller): one read of the row
 * store_remedy_get already knows how to make. */
static int remedy_state(store *st, int64_t id, char **state)
{
	json_t *r = NULL;
	const char *v;
	int rc = store_remedy_get(st, id, false, &r);

	if (rc < 0)
		return rc;
	v = json_string_value(json_object_get(r, "state"));
	*state = strdup(v ? v : "");
	json_decref(r);
	return *state ? 0 : -ENOMEM;
}

int store_remedy_transition(store *st, int64_t id, const char *const *from, const char *to,
                            char **was)
{
	sqlite3_stmt *q;
	json_t *states = json_array();
	char *list = NULL, *current = NULL;
	int rc;

	for (const char *const *f = from; states && *f; f++)
		json_array_append_new(states, json_string(*f));
	list = states ? json_dumps(states, JSON_COMPACT) : NULL;
	json_decref(states);
	if (!list)
		return -ENOMEM;
	/* a new run starts from nothing: no result or undo of an earlier run
	 * may survive it (undo would otherwise reverse the wrong thing) */
	rc = store_stmt(st, STMT_REMEDY_TRANSITION,
		"UPDATE remedies SET state = ?1, updated_at = ?2,"
		" exit_code = CASE WHEN ?1 = 'running' THEN NULL ELSE exit_code END,"
		" verified = CASE WHEN ?1 = 'running' THEN NULL ELSE verified END,"
		" output = CASE WHEN ?1 = 'running' THEN NULL ELSE output END,"
		" undo_argv = CASE WHEN ?1 = 'running' THEN NULL ELSE undo_argv END"
		" WHERE id = ?3 AND state IN (SELECT value FROM json_each(?4))", &q);
	if (rc == 0 && (rc = store_bind_text(st, q, 1, to)) == 0) {
		sqlite3_bind_double(q, 2, now());
		sqlite3_bind_int64(q, 3, id);
		rc = store_bind_text(st, q, 4, list);
	}
	if (rc == 0)
		rc = store_step_done(st, q);
	free(list);
	if (rc < 0)
		return rc;
	if (sqlite3_changes(st->db) == 1)
		return 0;
	rc = remedy_state(st, id, &current);
	if (rc < 0)
		return rc;
	if (was)
		*was = current;
	else
		free(current);
	return -EALREADY;
}

/* ------------------------------------------------------------ per incident */

int store_incident_diagnosis(store *st, int64_t incident_id, json_t **out)
{
	json_t *diagnoses = json_array(), *remedies = json_array();
	sqlite3_stmt *q;
	int rc = diagnoses && remedies ? 0 : -ENOMEM;

	if (rc == 0)
		rc = store_stmt(st, STMT_INCIDENT_DIAGNOSES,
			"SELECT body FROM diagnoses WHERE incident_id = ?"
			" ORDER BY confidence DESC, updated_at DESC LIMIT 50", &q);
	if (rc == 0) {
		sqlite3_bind_int64(q, 1, incident_id);
		while ((rc = sqlite3_step(q)) == SQLITE_ROW)
			json_array_append_new(diagnoses, store_col_json(q, 0, json_null()));
		sqlite3_reset(q);
		rc = rc == SQLITE_DONE ? 0 : store_fail(st, rc);
	}
	if (rc == 0)
		rc = store_stmt(st, STMT_INCIDENT_REMEDIES,
			"SELECT " REMEDY_COLUMNS " FROM remedies WHERE incident_id = ?"
			" ORDER BY id LIMIT 200", &q);
	if (rc == 0) {
		sqlite3_bind_int64(q, 1, incident_id);
		while ((rc = sqlite3_step(q)) == SQLITE_ROW)
			json_array_append_new(remedies, remedy_row(q, false));
		sqlite3_reset(q);
		rc = rc == SQLITE_DONE ? 0 : store_fail(st, rc);
	}
	if (rc == 0 && !(*out = json_pack("{s:o, s:o}", "diagnoses", diagnoses, "remedies", remedies)))
		return -ENOMEM;
	if (rc < 0) {
		json_decref(diagnoses);
		json_decref(remedies);
	}
	return rc;
}

/* ------------------------------------------------------------ audit */

int store_audit(store *st, int64_t incident_id, int64_t remedy_id, const char *event,
                int uid, int pid, json_t *detail)
{
	sqlite3_stmt *q;
	int rc = store_stmt(st, STMT_AUDIT_INSERT,
		"INSERT INTO audit (at, incident_id, remedy_id, event, uid, pid, detail)"
		" VALUES (?, ?, ?, ?, ?, ?, ?)", &q);

	if (rc < 0)
		return rc;
	sqlite3_bind_double(q, 1, now());
	if (incident_id > 0)
		sqlite3_bind_int64(q, 2, incident_id);
	if (remedy_id > 0)
		sqlite3_bind_int64(q, 3, remedy_id);
	if ((rc = store_bind_text(st, q, 4, event)) < 0)
		return rc;
	if (uid >= 0)
		sqlite3_bind_int(q, 5, uid);
	if (pid >= 0)
		sqlite3_bind_int(q, 6, pid);
	if (detail && (rc = store_bind_json(st, q, 7, detail)) < 0)
		return rc;
	return store_step_done(st, q);
}

int store_audit_list(store *st, int64_t incident_id, json_t **out)
{
	json_t *list = json_array();
	sqlite3_stmt *q;
	int rc = list ? 0 : -ENOMEM;

	if (rc == 0)
		rc = store_stmt(st, STMT_AUDIT_LIST,
			"SELECT at, event, remedy_id, uid, pid, detail FROM audit"
			" WHERE incident_id = ? ORDER BY id LIMIT 500", &q);
	if (rc == 0) {
		sqlite3_bind_int64(q, 1, incident_id);
		while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
			json_t *e = json_pack("{s:f, s:o, s:o, s:o, s:o, s:o}",
				"at", sqlite3_column_double(q, 0), "event", store_col_string(q, 1),
				"remedy", store_col_integer(q, 2), "uid", store_col_integer(q, 3),
				"pid", store_col_integer(q, 4), "detail", store_col_json(q, 5, json_null()));
			if (!e || json_array_append_new(list, e) < 0) {
				rc = -ENOMEM;
				break;
			}
		}
		sqlite3_reset(q);
		if (rc != -ENOMEM)
			rc = rc == SQLITE_DONE ? 0 : store_fail(st, rc);
	}
	if (rc < 0) {
		json_decref(list);
		return rc;
	}
	*out = list;
	return 0;
}
