/*
 * store_agent.c - the agent's runs and their steps in the store: the trace
 * of every LLM diagnosis, the cache of diagnoses by error fingerprint, and
 * the sums behind the daily budget and `doctor stats`.
 *
 * A run starts 'running' and ends once, in 'done', 'failed', 'cancelled' or
 * 'limited' (a limit stopped it, with a diagnosis all the same). Steps are
 * appended with the next sequence number of their run, and a trigger adds
 * their tokens and cost to the run's totals as they come (so a running run
 * shows what it has spent); finishing sums them again from the steps. A run
 * still 'running' when doctord starts was cut short by a crash and is
 * marked failed ("interrupted") by store_agent_recover(), which doctord
 * calls once it holds its lock.
 *
 * Money is counted where it was spent: store_agent_spent() sums the steps'
 * costs by the time of each step, whatever became of their run.
 */
#include <errno.h>
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

static bool one_of(const char *s, const char *const *set)
{
	for (; s && *set; set++)
		if (strcmp(s, *set) == 0)
			return true;
	return false;
}

static const char *const end_states[] = {
	"done", "failed", "cancelled", "limited", NULL
};
static const char *const step_kinds[] = {
	"request", "response", "tool_call", "tool_result", "error", "note", NULL
};

/* The columns of a run, in the order run_row() reads them. */
#define RUN_COLUMNS \
	"id, incident_id, fingerprint, model, state, started_at, ended_at," \
	" summary, result, prompt_tokens, completion_tokens, cost_usd," \
	" cached_from, error, limit_hit"

/* A REAL column as a number, or json null for SQL NULL. */
static json_t *col_real(sqlite3_stmt *stmt, int col)
{
	if (sqlite3_column_type(stmt, col) == SQLITE_NULL)
		return json_null();
	return json_real(sqlite3_column_double(stmt, col));
}

/* ------------------------------------------------------------------------
 * Runs and steps as they happen
 */

int store_agent_run_start(store *st, int64_t incident_id, const char *fingerprint,
                          const char *model, int64_t *run_id)
{
	sqlite3_stmt *q;
	int rc;

	if (!fingerprint || !*fingerprint || !model || !*model)
		return -EINVAL;
	rc = store_stmt(st, STMT_AGENT_RUN_START,
		"INSERT INTO agent_runs (incident_id, fingerprint, model, started_at)"
		" VALUES (?1, ?2, ?3, ?4)", &q);
	if (rc < 0)
		return rc;
	if (incident_id > 0)
		sqlite3_bind_int64(q, 1, incident_id);
	if ((rc = store_bind_text(st, q, 2, fingerprint)) == 0 &&
	    (rc = store_bind_text(st, q, 3, model)) == 0) {
		sqlite3_bind_double(q, 4, now());
		rc = store_step_done(st, q);
	}
	if (rc == 0)
		*run_id = sqlite3_last_insert_rowid(st->db);
	sqlite3_clear_bindings(q);
	return rc;
}

int store_agent_run_cached(store *st, int64_t incident_id, const char *fingerprint,
                           const char *model, int64_t from_run_id, int64_t *run_id)
{
	sqlite3_stmt *q;
	int rc;

	if (!fingerprint || !*fingerprint || !model || !*model)
		return -EINVAL;
	rc = store_stmt(st, STMT_AGENT_RUN_CACHED,
		"INSERT INTO agent_runs (incident_id, fingerprint, model, state,"
		" started_at, ended_at, summary, result, cached_from)"
		" SELECT ?1, ?2, ?3, 'done', ?4, ?4, summary, result, id"
		" FROM agent_runs WHERE id = ?5 AND state = 'done'", &q);
	if (rc < 0)
		return rc;
	if (incident_id > 0)
		sqlite3_bind_int64(q, 1, incident_id);
	if ((rc = store_bind_text(st, q, 2, fingerprint)) == 0 &&
	    (rc = store_bind_text(st, q, 3, model)) == 0) {
		sqlite3_bind_double(q, 4, now());
		sqlite3_bind_int64(q, 5, from_run_id);
		rc = store_step_done(st, q);
	}
	if (rc == 0 && sqlite3_changes(st->db) == 0)
		rc = -ENOENT;
	if (rc == 0)
		*run_id = sqlite3_last_insert_rowid(st->db);
	sqlite3_clear_bindings(q);
	return rc;
}

int store_agent_step_add(store *st, int64_t run_id, const struct store_agent_step *s)
{
	sqlite3_stmt *q;
	int rc;

	if (!one_of(s->kind, step_kinds) || s->prompt_tokens < 0 ||
	    s->completion_tokens < 0 || !(s->cost_usd >= 0))
		return -EINVAL;
	/* One statement: the sequence number cannot be taken twice, and an
	 * unknown run inserts nothing. */
	rc = store_stmt(st, STMT_AGENT_STEP_ADD,
		"INSERT INTO agent_steps (run_id, seq, kind, at, latency_ms,"
		" prompt_tokens, completion_tokens, cost_usd, name, body)"
		" SELECT id, (SELECT COALESCE(MAX(seq), 0) + 1 FROM agent_steps"
		"             WHERE run_id = ?1),"
		"        ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9"
		" FROM agent_runs WHERE id = ?1", &q);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(q, 1, run_id);
	if ((rc = store_bind_text(st, q, 2, s->kind)) < 0)
		goto out;
	sqlite3_bind_double(q, 3, s->at > 0 ? s->at : now());
	if (s->latency_ms >= 0)
		sqlite3_bind_double(q, 4, s->latency_ms);
	sqlite3_bind_int64(q, 5, s->prompt_tokens);
	sqlite3_bind_int64(q, 6, s->completion_tokens);
	sqlite3_bind_double(q, 7, s->cost_usd);
	if ((rc = store_bind_text(st, q, 8, s->name)) < 0 ||
	    (rc = store_bind_text(st, q, 9, s->body)) < 0)
		goto out;
	rc = store_step_done(st, q);
	if (rc == 0 && sqlite3_changes(st->db) == 0)
		rc = -ENOENT;
out:
	sqlite3_clear_bindings(q);
	return rc;
}

/* Why an UPDATE ... WHERE id = ? AND state = 'running' changed nothing:
 * -ENOENT for an unknown run, -EALREADY for one that has ended. */
static int not_running(store *st, int64_t run_id)
{
	sqlite3_stmt *q;
	int rc = store_stmt(st, STMT_AGENT_RUN_GET,
		"SELECT " RUN_COLUMNS " FROM agent_runs WHERE id = ?1", &q);

	if (rc < 0)
		return rc;
	sqlite3_bind_int64(q, 1, run_id);
	rc = sqlite3_step(q);
	sqlite3_reset(q);
	return rc == SQLITE_ROW ? -EALREADY : rc == SQLITE_DONE ? -ENOENT
	                                                       : store_fail(st, rc);
}

int store_agent_run_finish(store *st, int64_t run_id, const char *state,
                           json_t *result, const char *error, const char *limit_hit)
{
	const char *summary = json_string_value(json_object_get(result, "summary"));
	sqlite3_stmt *q;
	int rc;

	if (!one_of(state, end_states))
		return -EINVAL;
	rc = store_stmt(st, STMT_AGENT_RUN_FINISH,
		"UPDATE agent_runs SET state = ?2, ended_at = ?3, summary = ?4,"
		" result = ?5, error = ?6, limit_hit = ?7,"
		" prompt_tokens = (SELECT COALESCE(SUM(prompt_tokens), 0)"
		"                  FROM agent_steps WHERE run_id = ?1),"
		" completion_tokens = (SELECT COALESCE(SUM(completion_tokens), 0)"
		"                      FROM agent_steps WHERE run_id = ?1),"
		" cost_usd = (SELECT COALESCE(SUM(cost_usd), 0)"
		"             FROM agent_steps WHERE run_id = ?1)"
		" WHERE id = ?1 AND state = 'running'", &q);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(q, 1, run_id);
	sqlite3_bind_double(q, 3, now());
	if ((rc = store_bind_text(st, q, 2, state)) < 0 ||
	    (rc = store_bind_text(st, q, 4, summary)) < 0 ||
	    (rc = store_bind_json(st, q, 5, result)) < 0 ||
	    (rc = store_bind_text(st, q, 6, error)) < 0 ||
	    (rc = store_bind_text(st, q, 7, limit_hit)) < 0)
		goto out;
	rc = store_step_done(st, q);
	if (rc == 0 && sqlite3_changes(st->db) == 0)
		rc = not_running(st, run_id);
out:
	sqlite3_clear_bindings(q);
	return rc;
}

int store_agent_recover(store *st, int64_t *count)
{
	sqlite3_stmt *q;
	int rc;

	/* ended_at: the last sign of life, not now (which may be days later). */
	rc = store_stmt(st, STMT_AGENT_RECOVER,
		"UPDATE agent_runs SET state = 'failed', error = 'interrupted',"
		" ended_at = COALESCE((SELECT MAX(at) FROM agent_steps"
		"                      WHERE run_id = agent_runs.id), started_at),"
		" prompt_tokens = (SELECT COALESCE(SUM(prompt_tokens), 0)"
		"                  FROM agent_steps WHERE run_id = agent_runs.id),"
		" completion_tokens = (SELECT COALESCE(SUM(completion_tokens), 0)"
		"                      FROM agent_steps WHERE run_id = agent_runs.id),"
		" cost_usd = (SELECT COALESCE(SUM(cost_usd), 0)"
		"             FROM agent_steps WHERE run_id = agent_runs.id)"
		" WHERE state = 'running'", &q);
	if (rc == 0)
		rc = store_step_done(st, q);
	if (rc == 0 && count)
		*count = sqlite3_changes(st->db);
	return rc;
}

/* ------------------------------------------------------------------------
 * Reading runs back
 */

/* The current row of a RUN_COLUMNS query as a run object; NULL on ENOMEM. */
static json_t *run_row(sqlite3_stmt *q)
{
	json_t *run = json_object();

	if (!run ||
	    store_obj_set(run, "id", json_integer(sqlite3_column_int64(q, 0))) < 0 ||
	    store_obj_set(run, "incident", store_col_integer(q, 1)) < 0 ||
	    store_obj_set(run, "fingerprint", store_col_string(q, 2)) < 0 ||
	    store_obj_set(run, "model", store_col_string(q, 3)) < 0 ||
	    store_obj_set(run, "state", store_col_string(q, 4)) < 0 ||
	    store_obj_set(run, "started_at", col_real(q, 5)) < 0 ||
	    store_obj_set(run, "ended_at", col_real(q, 6)) < 0 ||
	    store_obj_set(run, "summary", store_col_string(q, 7)) < 0 ||
	    store_obj_set(run, "result", store_col_json(q, 8, json_null())) < 0 ||
	    store_obj_set(run, "prompt_tokens", json_integer(sqlite3_column_int64(q, 9))) < 0 ||
	    store_obj_set(run, "completion_tokens",
	                  json_integer(sqlite3_column_int64(q, 10))) < 0 ||
	    store_obj_set(run, "cost_usd", json_real(sqlite3_column_double(q, 11))) < 0 ||
	    store_obj_set(run, "cached_from", store_col_integer(q, 12)) < 0 ||
	    store_obj_set(run, "error", store_col_string(q, 13)) < 0 ||
	    store_obj_set(run, "limit_hit", store_col_string(q, 14)) < 0) {
		json_decref(run);
		return NULL;
	}
	return run;
}

/* The current row of the steps query; NULL on ENOMEM. */
static json_t *step_row(sqlite3_stmt *q)
{
	json_t *step = json_object();

	if (!step ||
	    store_obj_set(step, "seq", json_integer(sqlite3_column_int64(q, 0))) < 0 ||
	    store_obj_set(step, "kind", store_col_string(q, 1)) < 0 ||
	    store_obj_set(step, "at", col_real(q, 2)) < 0 ||
	    store_obj_set(step, "latency_ms", col_real(q, 3)) < 0 ||
	    store_obj_set(step, "prompt_tokens", json_integer(sqlite3_column_int64(q, 4))) < 0 ||
	    store_obj_set(step, "completion_tokens",
	                  json_integer(sqlite3_column_int64(q, 5))) < 0 ||
	    store_obj_set(step, "cost_usd", json_real(sqlite3_column_double(q, 6))) < 0 ||
	    store_obj_set(step, "name", store_col_string(q, 7)) < 0 ||
	    store_obj_set(step, "body", store_col_json(q, 8, json_null())) < 0) {
		json_decref(step);
		return NULL;
	}
	return step;
}

/* Every row of q (bound, not yet stepped) through row() into a new array
 * in *out. */
static int collect(store *st, sqlite3_stmt *q, json_t *(*row)(sqlite3_stmt *),
                   json_t **out)
{
	json_t *list = json_array();
	int rc;

	if (!list)
		return -ENOMEM;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		if (json_array_append_new(list, row(q)) < 0) {
			rc = -ENOMEM;
			goto out;
		}
	}
	rc = rc == SQLITE_DONE ? 0 : store_fail(st, rc);
out:
	sqlite3_reset(q);
	if (rc < 0)
		json_decref(list);
	else
		*out = list;
	return rc;
}

static int run_steps(store *st, int64_t run_id, json_t **out)
{
	sqlite3_stmt *q;
	int rc = store_stmt(st, STMT_AGENT_STEPS,
		"SELECT seq, kind, at, latency_ms, prompt_tokens, completion_tokens,"
		" cost_usd, name, body FROM agent_steps WHERE run_id = ?1 ORDER BY seq",
		&q);

	if (rc < 0)
		return rc;
	sqlite3_bind_int64(q, 1, run_id);
	return collect(st, q, step_row, out);
}

int store_agent_run_get(store *st, int64_t run_id, bool with_steps, json_t **out)
{
	json_t *run = NULL, *steps = NULL;
	sqlite3_stmt *q;
	int rc;

	rc = store_stmt(st, STMT_AGENT_RUN_GET,
		"SELECT " RUN_COLUMNS " FROM agent_runs WHERE id = ?1", &q);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(q, 1, run_id);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		run = run_row(q);
	rc = rc == SQLITE_ROW ? (run ? 0 : -ENOMEM)
	                      : rc == SQLITE_DONE ? -ENOENT : store_fail(st, rc);
	sqlite3_reset(q);
	if (rc == 0 && with_steps && (rc = run_steps(st, run_id, &steps)) == 0)
		rc = store_obj_set(run, "steps", steps);
	if (rc < 0) {
		json_decref(run);
		return rc;
	}
	*out = run;
	return 0;
}

int store_agent_runs_of_incident(store *st, int64_t incident_id, json_t **out)
{
	sqlite3_stmt *q;
	int rc = store_stmt(st, STMT_AGENT_RUNS_OF_INCIDENT,
		"SELECT " RUN_COLUMNS " FROM agent_runs WHERE incident_id = ?1"
		" ORDER BY id", &q);

	if (rc < 0)
		return rc;
	sqlite3_bind_int64(q, 1, incident_id);
	return collect(st, q, run_row, out);
}

/* ------------------------------------------------------------------------
 * The cache, the budget and the statistics
 */

int store_agent_cache_lookup(store *st, const char *fingerprint, const char *model,
                             int64_t *run_id)
{
	sqlite3_stmt *q;
	int rc;

	if (!fingerprint || !model)
		return -EINVAL;
	/* Copies made from the cache are skipped: the answer is the run that
	 * did the work, so every copy points straight at it. */
	rc = store_stmt(st, STMT_AGENT_CACHE_LOOKUP,
		"SELECT id FROM agent_runs WHERE fingerprint = ?1 AND model = ?2"
		" AND state = 'done' AND cached_from IS NULL ORDER BY id DESC LIMIT 1",
		&q);
	if (rc < 0)
		return rc;
	if ((rc = store_bind_text(st, q, 1, fingerprint)) < 0 ||
	    (rc = store_bind_text(st, q, 2, model)) < 0)
		goto out;
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		*run_id = sqlite3_column_int64(q, 0);
	rc = rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : store_fail(st, rc);
out:
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	return rc;
}

int store_agent_spent(store *st, double since_unix, double *usd)
{
	sqlite3_stmt *q;
	int rc = store_stmt(st, STMT_AGENT_SPENT,
		"SELECT COALESCE(SUM(cost_usd), 0) FROM agent_steps WHERE at >= ?1", &q);

	if (rc < 0)
		return rc;
	sqlite3_bind_double(q, 1, since_unix);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		*usd = sqlite3_column_double(q, 0);
	rc = rc == SQLITE_ROW ? 0 : store_fail(st, rc);
	sqlite3_reset(q);
	return rc;
}

/* One row of the statistics; NULL on ENOMEM. */
static json_t *stats_row(sqlite3_stmt *q)
{
	json_t *row = json_object();

	if (!row ||
	    store_obj_set(row, "day", store_col_string(q, 0)) < 0 ||
	    store_obj_set(row, "model", store_col_string(q, 1)) < 0 ||
	    store_obj_set(row, "runs", json_integer(sqlite3_column_int64(q, 2))) < 0 ||
	    store_obj_set(row, "cached", json_integer(sqlite3_column_int64(q, 3))) < 0 ||
	    store_obj_set(row, "prompt_tokens", json_integer(sqlite3_column_int64(q, 4))) < 0 ||
	    store_obj_set(row, "completion_tokens",
	                  json_integer(sqlite3_column_int64(q, 5))) < 0 ||
	    store_obj_set(row, "cost_usd", json_real(sqlite3_column_double(q, 6))) < 0) {
		json_decref(row);
		return NULL;
	}
	return row;
}

int store_agent_stats(store *st, double since_unix, json_t **out)
{
	sqlite3_stmt *q;
	int rc = store_stmt(st, STMT_AGENT_STATS,
		"SELECT strftime('%Y-%m-%d', started_at, 'unixepoch') AS day, model,"
		" COUNT(*), SUM(cached_from IS NOT NULL), SUM(prompt_tokens),"
		" SUM(completion_tokens), SUM(cost_usd)"
		" FROM agent_runs WHERE started_at >= ?1"
		" GROUP BY day, model ORDER BY day, model", &q);

	if (rc < 0)
		return rc;
	sqlite3_bind_double(q, 1, since_unix);
	return collect(st, q, stats_row, out);
}
