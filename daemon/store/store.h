/*
 * store.h - doctor's SQLite store: sources, incidents, occurrences, watches,
 * diagnoses, remedies, the audit log, and the agent's runs and steps.
 *
 * One database file (doctor.db under the data dir) in WAL mode. The schema is
 * versioned with PRAGMA user_version and migrated forward on open; a database
 * from a newer doctor is refused (-EPROTO) rather than damaged.
 *
 * JSON in and out uses jansson. Ownership: json_t arguments are borrowed;
 * json_t results are new references the caller must json_decref().
 * All functions return 0 or a negative errno (-EIO for an SQLite failure,
 * with the message available from store_errmsg()).
 */
#ifndef DOCTOR_STORE_H
#define DOCTOR_STORE_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#define STORE_SCHEMA_VERSION 3

typedef struct store store;

/* Open (creating if needed) the database at path. */
int store_open(const char *path, store **out);
void store_close(store *st);
/* Last SQLite error message of this handle (borrowed, never NULL). */
const char *store_errmsg(const store *st);

/* A source as opened by a client. Strings may be NULL. */
typedef struct store_source {
	const char *kind;        /* notebook | command | log | shell */
	const char *name;
	const char *cwd;
	const char *python;      /* interpreter path */
	const char *virtualenv;
	json_t *context;         /* the whole context object as sent; may be NULL */
	double opened_at;        /* unix time, seconds */
} store_source;

int store_source_add(store *st, const store_source *src, int64_t *id_out);
int store_source_close(store *st, int64_t id, double closed_at);

/* One occurrence of an error. `error` is dr_error_to_json()'s object:
 * {detector, exception, message, frames, chain, text, raw, extra}. */
typedef struct store_occurrence {
	const char *signature;   /* 16 hex digits */
	json_t *error;
	int64_t source_id;       /* 0 when not from a source */
	const char *context;     /* recent lines of the source before the error (raw) */
	double at;
} store_occurrence;

/* Insert a new incident for an unseen signature, or count a repeat of a
 * known one (count+1, last_seen, last source/context updated). Every call adds
 * an occurrence row. On success *id_out is the incident id, *is_new tells
 * which case happened and *count_out the new count. */
int store_record(store *st, const store_occurrence *occ,
                 int64_t *id_out, bool *is_new, int64_t *count_out);

/* Summary of one incident: {id, signature, detector, exception, message,
 * count, first_seen, last_seen, state, source:{id,kind,name}}. -ENOENT if
 * unknown. */
int store_incident_summary(store *st, int64_t id, json_t **out);
/* Everything: the summary plus frames, chain, text, raw, extra, context,
 * source:{id,kind,name,cwd,python,virtualenv,context}, and occurrences:
 * [{source_id, source_name, at}] (latest 100). -ENOENT if unknown. */
int store_incident_get(store *st, int64_t id, json_t **out);

typedef struct store_query {
	int limit;            /* <= 0: 50; capped at 1000 */
	int64_t before_id;    /* 0: newest first from the top */
	int64_t source_id;    /* 0: any source; else incidents seen in that source */
	const char *exception; /* NULL: any */
} store_query;
/* Array of summaries, newest (by last_seen) first. */
int store_incident_list(store *st, const store_query *q, json_t **out);
/* Incidents with an occurrence in source_id, as an array of summaries
 * ordered by id. */
int store_incidents_of_source(store *st, int64_t source_id, json_t **out);
int store_count_incidents(store *st, int64_t *out);

/* Followed log files, kept across restarts. */
int store_watch_add(store *st, const char *path, const char *name, bool from_start);
int store_watch_remove(store *st, const char *path);    /* -ENOENT if absent */
/* Array of {path, name, from_start}. */
int store_watch_list(store *st, json_t **out);

/* ---- diagnoses, remedies, audit (store_remedies.c) */

/* Record a plugin's diagnosis of an incident (the same plugin and summary
 * again only updates it) and each of its remedies: a remedy with the same
 * argv and cwd as an existing one of this incident is that remedy. On
 * success the remedies inside `diagnosis` (borrowed, modified) get their
 * "id" and "state"; *id_out is the diagnosis id. */
int store_diagnosis_record(store *st, int64_t incident_id, json_t *diagnosis, int64_t *id_out);
/* {id, incident, plugin, key, state, title, argv, cwd, changes_system,
 *  verify, timeout, undo, exit_code, verified, undo_argv, proposed_at,
 *  updated_at} plus "output" when with_output. -ENOENT if unknown. */
int store_remedy_get(store *st, int64_t id, bool with_output, json_t **out);
/* Set state and, when given (not NULL / >= INT_MIN+1), the result fields. */
struct store_remedy_result {
	const char *state;
	const int *exit_code;     /* NULL: unchanged */
	const int *verified;      /* NULL: unchanged; 0/1 */
	const char *output;       /* NULL: unchanged */
	size_t output_len;
	json_t *undo_argv;        /* NULL: unchanged; borrowed */
};
int store_remedy_update(store *st, int64_t id, const struct store_remedy_result *r);
/* Move a remedy from one of `from` (NULL-terminated) states to `to`, only
 * if it is in one of them: the check and the change are one statement, so
 * two confirmations cannot both start it. -EALREADY if it was in another
 * state (*was, if not NULL, gets it, owned by the caller). */
int store_remedy_transition(store *st, int64_t id, const char *const *from, const char *to,
                            char **was);
/* The incident's diagnoses (newest first, each with its remedies) and all
 * its remedies: {diagnoses: [...], remedies: [...]}. */
int store_incident_diagnosis(store *st, int64_t incident_id, json_t **out);
/* Append to the audit log. detail borrowed, may be NULL; uid/pid -1 if
 * unknown; incident_id/remedy_id 0 if none. */
int store_audit(store *st, int64_t incident_id, int64_t remedy_id, const char *event,
                int uid, int pid, json_t *detail);
/* [{at, event, remedy, uid, pid, detail}] oldest first (at most 500). */
int store_audit_list(store *st, int64_t incident_id, json_t **out);

/* ---- the agent's runs and their steps (store_agent.c)
 *
 * A run is one LLM diagnosis: 'running' from store_agent_run_start() until
 * store_agent_run_finish() sets 'done', 'failed', 'cancelled' or 'limited'
 * (a limit was hit; the result says so). Runs left 'running' by a doctord
 * that died are ended by store_agent_recover(). Times are Unix seconds;
 * costs US dollars. */

/* Mark every run still 'running' as 'failed' with error "interrupted",
 * ended at its last step (or its start), totals summed from its steps;
 * *count (if not NULL) gets how many. For doctord at start, once it holds
 * its lock (server_listen()): only then is no other doctord running
 * diagnoses in this database. Not done by store_open() for that reason. */
int store_agent_recover(store *st, int64_t *count);

/* One step of a run. Strings borrowed. */
struct store_agent_step {
	const char *kind;         /* request | response | tool_call | tool_result
	                             | error | note */
	double at;                /* when; <= 0: now */
	double latency_ms;        /* < 0: not measured (null) */
	int64_t prompt_tokens;    /* >= 0 */
	int64_t completion_tokens; /* >= 0 */
	double cost_usd;          /* >= 0 */
	const char *name;         /* the tool's name; NULL if none */
	const char *body;         /* JSON text, already redacted by the caller
	                             (stored as given); NULL if none */
};

/* Start a run for incident_id (0: none, e.g. an evaluation) with the
 * incident's fingerprint and the model asked. -EINVAL without either. */
int store_agent_run_start(store *st, int64_t incident_id, const char *fingerprint,
                          const char *model, int64_t *run_id);
/* A run answered from the cache: 'done' at once with the summary and
 * result of from_run_id, no tokens, no cost, cached_from = from_run_id.
 * -ENOENT if from_run_id is not a 'done' run. */
int store_agent_run_cached(store *st, int64_t incident_id, const char *fingerprint,
                           const char *model, int64_t from_run_id, int64_t *run_id);
/* Append a step, numbered (seq) after the run's last one; its tokens and
 * cost are added to the run's totals at once. -ENOENT for an unknown run,
 * -EINVAL for an unknown kind or negative counts. */
int store_agent_step_add(store *st, int64_t run_id, const struct store_agent_step *s);
/* End a run: state (one of the four end states, else -EINVAL), result
 * (borrowed, may be NULL: the diagnosis {summary, explanation, citations:
 * [{page, anchor, title}], remedies}; its "summary" becomes the run's),
 * error and limit_hit (NULL if none). The run's tokens and cost are summed
 * from its steps. -ENOENT if unknown, -EALREADY if it has already ended. */
int store_agent_run_finish(store *st, int64_t run_id, const char *state,
                           json_t *result, const char *error, const char *limit_hit);
/* {id, incident, fingerprint, model, state, started_at, ended_at, summary,
 *  result, prompt_tokens, completion_tokens, cost_usd, cached_from, error,
 *  limit_hit} (null where unset) and, with_steps, "steps": [{seq, kind, at,
 *  latency_ms, prompt_tokens, completion_tokens, cost_usd, name, body}] in
 * seq order (body decoded). -ENOENT if unknown. */
int store_agent_run_get(store *st, int64_t run_id, bool with_steps, json_t **out);
/* The incident's runs (without steps), oldest first. */
int store_agent_runs_of_incident(store *st, int64_t incident_id, json_t **out);
/* The latest 'done' run for fingerprint and model that did the work itself
 * (copies from the cache are skipped). -ENOENT if none. */
int store_agent_cache_lookup(store *st, const char *fingerprint, const char *model,
                             int64_t *run_id);
/* US dollars spent by steps since since_unix, whatever their run's state:
 * for the daily budget. */
int store_agent_spent(store *st, double since_unix, double *usd);
/* Per UTC day (of a run's start) and model, runs started since since_unix:
 * [{day: "YYYY-MM-DD", model, runs, cached, prompt_tokens,
 *   completion_tokens, cost_usd}] ordered by day, then model. */
int store_agent_stats(store *st, double since_unix, json_t **out);

#endif
