/*
 * store_schema.c - the store's tables and how a database is brought up to
 * date.
 *
 * The schema version lives in PRAGMA user_version. migrations[i] turns a
 * version i database into version i + 1; each step runs in its own
 * transaction together with the version bump, so a crash leaves either the
 * old or the new schema, never half of one. A database whose version is
 * newer than STORE_SCHEMA_VERSION was written by a newer doctor: it is
 * refused with -EPROTO and not touched.
 *
 * To change the schema: append a script to migrations[] and raise
 * STORE_SCHEMA_VERSION in store.h. Never edit a script that has shipped.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>

#include "store_internal.h"

/* Version 0 -> 1: the initial tables. Times are Unix seconds (REAL);
 * columns noted JSON hold jansson's compact text. */
static const char schema_v1[] =
	"CREATE TABLE sources ("
	"  id          INTEGER PRIMARY KEY,"
	"  kind        TEXT,"
	"  name        TEXT,"
	"  cwd         TEXT,"
	"  python      TEXT,"
	"  virtualenv  TEXT,"
	"  context     TEXT,"                     /* JSON object as sent */
	"  opened_at   REAL NOT NULL,"
	"  closed_at   REAL"
	");"
	"CREATE TABLE incidents ("
	"  id              INTEGER PRIMARY KEY,"
	"  signature       TEXT NOT NULL UNIQUE,"
	"  detector        TEXT,"
	"  exception       TEXT,"
	"  message         TEXT,"
	"  frames          TEXT,"                 /* JSON array */
	"  chain           TEXT,"                 /* JSON array */
	"  text            TEXT,"
	"  raw             TEXT,"
	"  extra           TEXT,"                 /* JSON, NULL if none */
	"  context         TEXT,"                 /* lines before the latest */
	"  first_seen      REAL NOT NULL,"
	"  last_seen       REAL NOT NULL,"
	"  count           INTEGER NOT NULL DEFAULT 1,"
	"  state           TEXT NOT NULL DEFAULT 'open',"
	"  first_source_id INTEGER REFERENCES sources(id) ON DELETE SET NULL,"
	"  last_source_id  INTEGER REFERENCES sources(id) ON DELETE SET NULL"
	");"
	"CREATE INDEX incidents_by_last_seen ON incidents(last_seen, id);"
	"CREATE INDEX incidents_by_exception ON incidents(exception);"
	"CREATE TABLE occurrences ("
	"  id          INTEGER PRIMARY KEY,"
	"  incident_id INTEGER NOT NULL"
	"              REFERENCES incidents(id) ON DELETE CASCADE,"
	"  source_id   INTEGER REFERENCES sources(id) ON DELETE SET NULL,"
	"  at          REAL NOT NULL,"
	"  context     TEXT"
	");"
	"CREATE INDEX occurrences_by_incident ON occurrences(incident_id, at);"
	"CREATE INDEX occurrences_by_source ON occurrences(source_id, incident_id);"
	"CREATE TABLE watches ("
	"  path       TEXT PRIMARY KEY NOT NULL,"
	"  name       TEXT,"
	"  from_start INTEGER NOT NULL DEFAULT 0,"
	"  added_at   REAL NOT NULL"
	"             DEFAULT ((julianday('now') - 2440587.5) * 86400.0)"
	");";

/* Version 1 -> 2: diagnoses, remedies and the audit log. A remedy's body
 * (title, argv, cwd, changes_system, verify, timeout, undo) is the JSON the
 * plugin proposed, validated; `dedupe` is argv + cwd so that the same
 * proposal for the same incident is one remedy, however often the error
 * repeats. */
static const char schema_v2[] =
	"CREATE TABLE diagnoses ("
	"  id          INTEGER PRIMARY KEY,"
	"  incident_id INTEGER NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,"
	"  plugin      TEXT NOT NULL,"
	"  summary     TEXT,"
	"  confidence  REAL,"
	"  body        TEXT NOT NULL,"               /* JSON: the diagnosis */
	"  created_at  REAL NOT NULL,"
	"  updated_at  REAL NOT NULL,"
	"  UNIQUE (incident_id, plugin, summary)"
	");"
	"CREATE TABLE remedies ("
	"  id           INTEGER PRIMARY KEY,"
	"  incident_id  INTEGER NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,"
	"  diagnosis_id INTEGER REFERENCES diagnoses(id) ON DELETE SET NULL,"
	"  plugin       TEXT NOT NULL,"
	"  key          TEXT,"
	"  body         TEXT NOT NULL,"              /* JSON: the proposal */
	"  dedupe       TEXT NOT NULL,"
	"  state        TEXT NOT NULL DEFAULT 'proposed',"
	"  exit_code    INTEGER,"
	"  verified     INTEGER,"
	"  output       TEXT,"
	"  undo_argv    TEXT,"                       /* JSON array, computed */
	"  proposed_at  REAL NOT NULL,"
	"  updated_at   REAL NOT NULL,"
	"  UNIQUE (incident_id, dedupe)"
	");"
	"CREATE INDEX remedies_by_incident ON remedies(incident_id, id);"
	"CREATE TABLE audit ("
	"  id          INTEGER PRIMARY KEY,"
	"  at          REAL NOT NULL,"
	"  incident_id INTEGER REFERENCES incidents(id) ON DELETE CASCADE,"
	"  remedy_id   INTEGER REFERENCES remedies(id) ON DELETE CASCADE,"
	"  event       TEXT NOT NULL,"
	"  uid         INTEGER,"
	"  pid         INTEGER,"
	"  detail      TEXT"                         /* JSON */
	");"
	"CREATE INDEX audit_by_incident ON audit(incident_id, id);";

/* Version 2 -> 3: the agent's runs and their steps (store_agent.c). A run
 * is one LLM diagnosis of an incident; its steps are the requests (as sent,
 * redacted), responses, tool calls and results, with tokens, cost and
 * latency. A run's totals follow its steps through a trigger and are
 * summed again when it ends. Runs survive their incident (incident_id
 * becomes NULL): what was spent still counts against the daily budget.
 * A run copied from the cache points at the run it came from. */
static const char schema_v3[] =
	"CREATE TABLE agent_runs ("
	"  id                INTEGER PRIMARY KEY,"
	"  incident_id       INTEGER REFERENCES incidents(id) ON DELETE SET NULL,"
	"  fingerprint       TEXT NOT NULL,"
	"  model             TEXT NOT NULL,"
	"  state             TEXT NOT NULL DEFAULT 'running' CHECK (state IN"
	"                    ('running', 'done', 'failed', 'cancelled', 'limited')),"
	"  started_at        REAL NOT NULL,"
	"  ended_at          REAL,"
	"  summary           TEXT,"
	"  result            TEXT,"                  /* JSON: the diagnosis */
	"  prompt_tokens     INTEGER NOT NULL DEFAULT 0,"
	"  completion_tokens INTEGER NOT NULL DEFAULT 0,"
	"  cost_usd          REAL NOT NULL DEFAULT 0,"
	"  cached_from       INTEGER REFERENCES agent_runs(id) ON DELETE SET NULL,"
	"  error             TEXT,"
	"  limit_hit         TEXT"
	");"
	"CREATE INDEX agent_runs_by_incident ON agent_runs(incident_id, id);"
	"CREATE INDEX agent_runs_by_fingerprint ON agent_runs(fingerprint, model, state, id);"
	"CREATE INDEX agent_runs_by_start ON agent_runs(started_at);"
	"CREATE INDEX agent_runs_running ON agent_runs(state) WHERE state = 'running';"
	"CREATE TABLE agent_steps ("
	"  id                INTEGER PRIMARY KEY,"
	"  run_id            INTEGER NOT NULL REFERENCES agent_runs(id) ON DELETE CASCADE,"
	"  seq               INTEGER NOT NULL,"
	"  kind              TEXT NOT NULL CHECK (kind IN ('request', 'response',"
	"                    'tool_call', 'tool_result', 'error', 'note')),"
	"  at                REAL NOT NULL,"
	"  latency_ms        REAL,"
	"  prompt_tokens     INTEGER NOT NULL DEFAULT 0,"
	"  completion_tokens INTEGER NOT NULL DEFAULT 0,"
	"  cost_usd          REAL NOT NULL DEFAULT 0,"
	"  name              TEXT,"
	"  body              TEXT,"                  /* JSON, redacted */
	"  UNIQUE (run_id, seq)"
	");"
	"CREATE INDEX agent_steps_by_at ON agent_steps(at);"
	"CREATE TRIGGER agent_steps_total AFTER INSERT ON agent_steps BEGIN"
	"  UPDATE agent_runs SET"
	"    prompt_tokens = prompt_tokens + NEW.prompt_tokens,"
	"    completion_tokens = completion_tokens + NEW.completion_tokens,"
	"    cost_usd = cost_usd + NEW.cost_usd"
	"  WHERE id = NEW.run_id;"
	"END;";

static const char *const migrations[] = {
	schema_v1,
	schema_v2,
	schema_v3,
};

_Static_assert(sizeof(migrations) / sizeof(migrations[0]) == STORE_SCHEMA_VERSION,
               "one migration per schema version");

static int exec_sql(store *st, const char *sql)
{
	int rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : store_fail(st, rc);
}

static int read_user_version(store *st, int *out)
{
	sqlite3_stmt *stmt;
	int rc;

	rc = sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		return store_fail(st, rc);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		*out = sqlite3_column_int(stmt, 0);
		rc = 0;
	} else {
		rc = store_fail(st, rc);
	}
	sqlite3_finalize(stmt);
	return rc;
}

static int write_user_version(store *st, int version)
{
	char sql[64];

	/* PRAGMA takes no bound parameters; the number is ours. */
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", version);
	return exec_sql(st, sql);
}

/* A database from a newer doctor (or not ours at all): keep out. */
static int refuse_version(store *st, int version)
{
	store_set_errmsg(st, "database schema version %d is not one this doctor "
	                 "knows (it knows up to %d); refusing to touch it",
	                 version, STORE_SCHEMA_VERSION);
	return -EPROTO;
}

/* One transaction: look at the version and apply the next migration, if
 * any, while below target. *current is set when there is nothing left to
 * do. */
static int migrate_one(store *st, int target, bool *current)
{
	int version = 0;
	int rc;

	rc = store_begin(st);
	if (rc < 0)
		return rc;
	rc = read_user_version(st, &version);
	if (rc < 0)
		goto out;
	if (version < 0 || version > STORE_SCHEMA_VERSION) {
		rc = refuse_version(st, version);
		goto out;
	}
	if (version >= target) {
		*current = true;
		goto out;
	}
	rc = exec_sql(st, migrations[version]);
	if (rc == 0)
		rc = write_user_version(st, version + 1);
out:
	if (rc == 0)
		rc = store_commit(st);
	if (rc < 0)
		store_rollback(st);
	return rc;
}

int store_schema_prepare(store *st, int target)
{
	bool current = false;
	int version = 0;
	int rc;

	/* Wait for another writer (a second doctord, the sqlite3 shell) rather
	 * than failing at once with SQLITE_BUSY. */
	sqlite3_busy_timeout(st->db, 5000);
	rc = exec_sql(st, "PRAGMA foreign_keys = ON");
	/* The first read of the file: a file that is not a database fails here
	 * ("file is not a database"), and a newer one is refused before the
	 * journal mode below writes to its header. migrate_one() checks again
	 * under the write lock. */
	if (rc == 0)
		rc = read_user_version(st, &version);
	if (rc == 0 && (version < 0 || version > STORE_SCHEMA_VERSION))
		rc = refuse_version(st, version);
	/* WAL: readers never block the daemon's writes, and with
	 * synchronous=NORMAL a commit costs no fsync (durable at checkpoint). */
	if (rc == 0)
		rc = exec_sql(st, "PRAGMA journal_mode = WAL;"
		                  "PRAGMA synchronous = NORMAL;");
	while (rc == 0 && !current)
		rc = migrate_one(st, target, &current);
	return rc;
}
