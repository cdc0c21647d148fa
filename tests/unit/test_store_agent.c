/*
 * test_store_agent.c - the agent's runs and steps in the store, against
 * real database files: the migration of a version 2 database (made by the
 * version 2 schema) that must keep its data, a run's life and its steps in
 * order, totals summed from the steps, the cache, the daily budget, the
 * statistics per day and model, and runs interrupted by a crash.
 */
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store.h"
#include "store_internal.h"
#include "tap.h"

static char tmpdir[256];

/* 2023-11-14 00:00:00 UTC and the next day. */
#define DAY1 1699920000.0
#define DAY2 (DAY1 + 86400.0)

static const char *tmp_path(const char *name)
{
	static char path[512];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	return path;
}

static int remove_entry(const char *path, const struct stat *sb, int flag,
                        struct FTW *ftw)
{
	return remove(path);
}

/* Run sql on the database file through a connection of its own (the way
 * another program would); returns the first column of the first row as an
 * integer, or -1. */
static long long sql_int(const char *path, const char *sql)
{
	sqlite3_stmt *q = NULL;
	sqlite3 *db = NULL;
	long long v = -1;

	if (sqlite3_open(path, &db) == SQLITE_OK &&
	    sqlite3_exec(db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK) {
		int rc = sqlite3_step(q);

		if (rc == SQLITE_ROW)
			v = sqlite3_column_int64(q, 0);
		else if (rc == SQLITE_DONE)
			v = 0;
	}
	sqlite3_finalize(q);
	sqlite3_close(db);
	return v;
}

static int64_t add_incident(store *st, const char *sig, const char *exception)
{
	json_t *error = json_pack("{s:s, s:s, s:s, s:[], s:[], s:s, s:s, s:n}",
	                          "detector", "python.traceback",
	                          "exception", exception, "message", "boom",
	                          "frames", "chain", "text", "Traceback...",
	                          "raw", "Traceback...", "extra");
	store_occurrence occ = { .signature = sig, .error = error, .at = DAY1 };
	int64_t id = -1, count;
	bool is_new;

	if (store_record(st, &occ, &id, &is_new, &count) < 0)
		id = -1;
	json_decref(error);
	return id;
}

static struct store_agent_step step(const char *kind, double at, int64_t in,
                                    int64_t out, double cost, const char *name,
                                    const char *body)
{
	struct store_agent_step s = {
		.kind = kind, .at = at, .latency_ms = -1, .prompt_tokens = in,
		.completion_tokens = out, .cost_usd = cost, .name = name, .body = body,
	};
	return s;
}

static json_t *get_run(store *st, int64_t id, bool with_steps)
{
	json_t *run = NULL;

	if (store_agent_run_get(st, id, with_steps, &run) < 0)
		return json_object();
	return run;
}

static const char *run_str(json_t *run, const char *key)
{
	return json_string_value(json_object_get(run, key));
}

static json_int_t run_int(json_t *run, const char *key)
{
	return json_integer_value(json_object_get(run, key));
}

/* ------------------------------------------------------------------------ */

/* A database made by the version 2 schema, with an incident, a diagnosis,
 * a remedy and the audit log, migrated on the next open. */
static void test_migration(void)
{
	const char *path = tmp_path("v2.db");
	json_t *diagnosis, *got = NULL, *remedies, *audit = NULL;
	int64_t incident, diag_id = 0, run;
	store *st = NULL;

	tap_is_int(store_open_at(path, 2, &st), 0, "migration: make a version 2 database");
	incident = add_incident(st, "00000000000000aa", "ValueError");
	diagnosis = json_pack("{s:s, s:s, s:f, s:[{s:s, s:[s, s], s:s}]}",
	                      "plugin", "python.value", "summary", "a bad value",
	                      "confidence", 0.5, "remedies", "title", "Retry",
	                      "argv", "python3", "app.py", "cwd", "/tmp");
	tap_is_int(store_diagnosis_record(st, incident, diagnosis, &diag_id), 0,
	           "migration: with a diagnosis and a remedy");
	tap_is_int(store_audit(st, incident, 0, "remedy.proposed", 1000, 42, NULL), 0,
	           "migration: and the audit log");
	json_decref(diagnosis);
	store_close(st);
	st = NULL;
	tap_is_int(sql_int(path, "PRAGMA user_version"), 2, "migration: it is version 2");
	tap_is_int(sql_int(path, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'agent_runs'"),
	           0, "migration: without the agent's tables");

	tap_is_int(store_open(path, &st), 0, "migration: open it with this doctor");
	tap_is_int(sql_int(path, "PRAGMA user_version"), STORE_SCHEMA_VERSION,
	           "migration: now the current version");
	tap_is_int(STORE_SCHEMA_VERSION, 3, "migration: which is 3");
	tap_is_int(store_incident_get(st, incident, &got), 0, "migration: the incident is kept");
	tap_is_str(json_string_value(json_object_get(got, "exception")), "ValueError",
	           "migration: with its fields");
	json_decref(got);
	got = NULL;
	tap_is_int(store_incident_diagnosis(st, incident, &got), 0,
	           "migration: its diagnosis is kept");
	remedies = json_object_get(got, "remedies");
	tap_ok(json_array_size(remedies) == 1 &&
	       strcmp(json_string_value(json_object_get(json_array_get(remedies, 0),
	                                                "state")), "proposed") == 0,
	       "migration: and its remedy");
	json_decref(got);
	tap_is_int(store_audit_list(st, incident, &audit), 0, "migration: the audit log");
	tap_is_int((int)json_array_size(audit), 1, "migration: is kept");
	json_decref(audit);
	tap_is_int(store_agent_run_start(st, incident, "fp", "m", &run), 0,
	           "migration: an agent run on the old incident");
	tap_is_int(store_agent_run_finish(st, run, "done", NULL, NULL, NULL), 0,
	           "migration: ends");
	store_close(st);
	st = NULL;
	tap_is_int(store_open(path, &st), 0, "migration: open again");
	tap_is_int(sql_int(path, "SELECT COUNT(*) FROM agent_runs"), 1,
	           "migration: nothing is migrated twice");
	store_close(st);
}

/* A run from start to end; its steps in order; totals from the steps. */
static void test_run(store *st, int64_t incident)
{
	const char *kinds[] = { "request", "response", "tool_call", "tool_result", "response" };
	struct store_agent_step s;
	json_t *run, *steps, *result, *first;
	int64_t id = 0, other = 0;
	size_t i;

	tap_is_int(store_agent_run_start(st, incident, "fp-run", "gpt-test", &id), 0,
	           "run: start");
	tap_is_int(store_agent_run_start(st, incident, "fp-run", "gpt-test", &other), 0,
	           "run: and another, to interleave steps");
	tap_is_int(store_agent_run_start(st, incident, "", "gpt-test", &other), -EINVAL,
	           "run: a fingerprint is required");
	tap_is_int(store_agent_run_start(st, incident, "fp", NULL, &other), -EINVAL,
	           "run: a model is required");
	run = get_run(st, id, false);
	tap_is_str(run_str(run, "state"), "running", "run: running");
	tap_ok(json_is_null(json_object_get(run, "ended_at")) &&
	       json_is_null(json_object_get(run, "result")) &&
	       json_is_null(json_object_get(run, "cached_from")) &&
	       run_int(run, "incident") == incident,
	       "run: not ended, no result, not cached, its incident");
	json_decref(run);

	/* Steps given times that go backwards: the order is the order added. */
	s = step("request", DAY2 + 50, 0, 0, 0, NULL, "{\"messages\":[{\"role\":\"user\"}]}");
	tap_is_int(store_agent_step_add(st, id, &s), 0, "run: a request");
	s = step("request", DAY2, 0, 0, 0, NULL, "{\"other\":true}");
	tap_is_int(store_agent_step_add(st, other, &s), 0, "run: a step of the other run");
	s = step("response", DAY2 + 40, 1000, 200, 0.25, NULL, "{\"content\":null}");
	s.latency_ms = 812.5;
	tap_is_int(store_agent_step_add(st, id, &s), 0, "run: a response");
	s = step("tool_call", DAY2 + 30, 0, 0, 0, "search_docs", "{\"query\":\"ray init\"}");
	tap_is_int(store_agent_step_add(st, id, &s), 0, "run: a tool call");
	s = step("tool_result", DAY2 + 20, 0, 0, 0, "search_docs", "not json at all");
	tap_is_int(store_agent_step_add(st, id, &s), 0, "run: its result");
	run = get_run(st, id, false);
	tap_ok(run_int(run, "prompt_tokens") == 1000 && run_int(run, "completion_tokens") == 200 &&
	       json_real_value(json_object_get(run, "cost_usd")) == 0.25,
	       "run: a running run shows what it has spent so far");
	json_decref(run);
	s = step("response", DAY2 + 10, 1500, 300, 0.5, NULL, NULL);
	tap_is_int(store_agent_step_add(st, id, &s), 0, "run: the final response");

	s = step("thought", 0, 0, 0, 0, NULL, NULL);
	tap_is_int(store_agent_step_add(st, id, &s), -EINVAL, "run: an unknown kind");
	s = step("note", 0, -1, 0, 0, NULL, NULL);
	tap_is_int(store_agent_step_add(st, id, &s), -EINVAL, "run: negative tokens");
	s = step("note", 0, 0, 0, -0.5, NULL, NULL);
	tap_is_int(store_agent_step_add(st, id, &s), -EINVAL, "run: a negative cost");
	s = step("note", 0, 0, 0, NAN, NULL, NULL);
	tap_is_int(store_agent_step_add(st, id, &s), -EINVAL, "run: a cost that is not a number");
	s = step("note", 0, 0, 0, 0, NULL, NULL);
	tap_is_int(store_agent_step_add(st, 987654, &s), -ENOENT, "run: a step of an unknown run");

	result = json_pack("{s:s, s:s, s:[{s:s, s:s, s:s}], s:[]}",
	                   "summary", "Ray was initialised twice",
	                   "explanation", "ray.init() runs once per process.",
	                   "citations", "page", "ray-core/starting-ray.rst",
	                   "anchor", "starting-ray", "title", "Starting Ray",
	                   "remedies");
	tap_is_int(store_agent_run_finish(st, id, "running", result, NULL, NULL), -EINVAL,
	           "run: 'running' is not an end state");
	tap_is_int(store_agent_run_finish(st, id, "done", result, NULL, NULL), 0, "run: finish");
	tap_is_int(store_agent_run_finish(st, id, "failed", NULL, "late", NULL), -EALREADY,
	           "run: a second finish is refused");
	tap_is_int(store_agent_run_finish(st, 987654, "done", NULL, NULL, NULL), -ENOENT,
	           "run: finishing an unknown run");

	run = get_run(st, id, true);
	tap_is_str(run_str(run, "state"), "done", "run: done");
	tap_is_str(run_str(run, "summary"), "Ray was initialised twice",
	           "run: the summary comes from the result");
	tap_ok(json_equal(json_object_get(run, "result"), result), "run: the result as given");
	tap_ok(run_int(run, "prompt_tokens") == 2500 && run_int(run, "completion_tokens") == 500 &&
	       json_real_value(json_object_get(run, "cost_usd")) == 0.75,
	       "run: tokens and cost are the sums of its steps");
	tap_ok(json_is_real(json_object_get(run, "ended_at")) &&
	       json_real_value(json_object_get(run, "ended_at")) >=
	       json_real_value(json_object_get(run, "started_at")),
	       "run: ended after it started");
	steps = json_object_get(run, "steps");
	tap_is_int((int)json_array_size(steps), 5, "run: five steps, the other run's apart");
	for (i = 0; i < json_array_size(steps) && i < 5; i++) {
		json_t *one = json_array_get(steps, i);

		if (!tap_ok(run_int(one, "seq") == (json_int_t)i + 1 &&
		            strcmp(run_str(one, "kind"), kinds[i]) == 0,
		            "run: step %zu is seq %zu, a %s", i, i + 1, kinds[i]))
			tap_diag("got seq %lld, %s", (long long)run_int(one, "seq"),
			         run_str(one, "kind"));
	}
	first = json_array_get(steps, 0);
	tap_ok(json_is_array(json_object_get(json_object_get(first, "body"), "messages")),
	       "run: a JSON body comes back decoded");
	tap_ok(json_is_null(json_object_get(first, "latency_ms")) &&
	       json_real_value(json_object_get(json_array_get(steps, 1), "latency_ms")) == 812.5,
	       "run: latency null when not measured, else as given");
	tap_is_str(run_str(json_array_get(steps, 2), "name"), "search_docs", "run: the tool's name");
	tap_is_str(json_string_value(json_object_get(json_array_get(steps, 3), "body")),
	           "not json at all", "run: a body that is not JSON comes back as text");
	tap_ok(json_is_null(json_object_get(json_array_get(steps, 4), "body")),
	       "run: no body is null");
	tap_ok(json_real_value(json_object_get(json_array_get(steps, 4), "at")) == DAY2 + 10,
	       "run: a step's time as given");
	json_decref(run);

	run = get_run(st, other, true);
	tap_ok(run_int(json_array_get(json_object_get(run, "steps"), 0), "seq") == 1,
	       "run: each run numbers its own steps");
	json_decref(run);
	tap_is_int(store_agent_run_finish(st, other, "limited", NULL, NULL, "max_steps"), 0,
	           "run: the other ends on a limit");
	run = get_run(st, other, false);
	tap_ok(strcmp(run_str(run, "state"), "limited") == 0 &&
	       strcmp(run_str(run, "limit_hit"), "max_steps") == 0 &&
	       json_is_null(json_object_get(run, "summary")) && !json_object_get(run, "steps"),
	       "run: limited, saying which limit; no steps unless asked");
	json_decref(run);
	run = NULL;
	tap_is_int(store_agent_run_get(st, 987654, false, &run), -ENOENT, "run: an unknown run");
	json_decref(result);
}

/* The cache: the latest done run of the fingerprint and model. */
static void test_cache(store *st, int64_t incident, int64_t incident2)
{
	int64_t done1, failed, other_model, done2, limited, running, copy, found = 0;
	json_t *run, *orig, *list = NULL;
	json_t *first = json_pack("{s:s}", "summary", "first");
	json_t *second = json_pack("{s:s, s:s}", "summary", "second", "explanation", "x");

	store_agent_run_start(st, incident, "fp-cache", "m1", &done1);
	store_agent_run_finish(st, done1, "done", first, NULL, NULL);
	store_agent_run_start(st, incident, "fp-cache", "m1", &failed);
	store_agent_run_finish(st, failed, "failed", NULL, "HTTP 500", NULL);
	tap_is_int(store_agent_cache_lookup(st, "fp-cache", "m1", &found), 0, "cache: a hit");
	tap_ok(found == done1, "cache: the done run, not the later failed one");
	store_agent_run_start(st, incident, "fp-cache", "m2", &other_model);
	store_agent_run_finish(st, other_model, "done", NULL, NULL, NULL);
	store_agent_run_start(st, incident, "fp-cache", "m1", &done2);
	store_agent_run_finish(st, done2, "done", second, NULL, NULL);
	store_agent_run_start(st, incident, "fp-cache", "m1", &limited);
	store_agent_run_finish(st, limited, "limited", NULL, NULL, "budget_per_diagnosis");
	store_agent_run_start(st, incident, "fp-cache", "m1", &running);
	tap_is_int(store_agent_cache_lookup(st, "fp-cache", "m1", &found), 0, "cache: again");
	tap_ok(found == done2, "cache: the latest done run (limited and running ones ignored)");
	tap_is_int(store_agent_cache_lookup(st, "fp-cache", "m2", &found), 0, "cache: by model");
	tap_ok(found == other_model, "cache: the other model's run");
	tap_is_int(store_agent_cache_lookup(st, "fp-cache", "m3", &found), -ENOENT,
	           "cache: no run of that model");
	tap_is_int(store_agent_cache_lookup(st, "fp-none", "m1", &found), -ENOENT,
	           "cache: no run of that fingerprint");

	tap_is_int(store_agent_run_cached(st, incident2, "fp-cache", "m1", done2, &copy), 0,
	           "cache: a run answered from the cache");
	run = get_run(st, copy, true);
	orig = get_run(st, done2, false);
	tap_ok(strcmp(run_str(run, "state"), "done") == 0 &&
	       run_int(run, "cached_from") == done2 && run_int(run, "incident") == incident2 &&
	       json_equal(json_object_get(run, "result"), json_object_get(orig, "result")) &&
	       strcmp(run_str(run, "summary"), "second") == 0,
	       "cache: done at once with the original's result");
	tap_ok(run_int(run, "prompt_tokens") == 0 && json_real_value(json_object_get(run,
	       "cost_usd")) == 0 && json_array_size(json_object_get(run, "steps")) == 0,
	       "cache: costing nothing");
	json_decref(run);
	json_decref(orig);
	tap_is_int(store_agent_cache_lookup(st, "fp-cache", "m1", &found), 0, "cache: lookup");
	tap_ok(found == done2, "cache: still names the run that did the work, not the copy");
	tap_is_int(store_agent_run_cached(st, incident2, "fp-cache", "m1", failed, &copy),
	           -ENOENT, "cache: a failed run cannot be copied");
	store_agent_run_finish(st, running, "cancelled", NULL, NULL, NULL);

	tap_is_int(store_agent_runs_of_incident(st, incident2, &list), 0, "cache: runs of incident 2");
	tap_ok(json_array_size(list) == 1 &&
	       run_int(json_array_get(list, 0), "cached_from") == done2,
	       "cache: only the copy");
	json_decref(list);
	list = NULL;
	tap_is_int(store_agent_runs_of_incident(st, incident, &list), 0, "cache: runs of incident 1");
	tap_ok(json_array_size(list) == 8 && run_int(json_array_get(list, 2), "id") == done1 &&
	       run_int(json_array_get(list, 7), "id") == running,
	       "cache: test_run's two and these six, oldest first");
	json_decref(list);
	json_decref(first);
	json_decref(second);
}

/* Sums: the budget by the time of each step, stats by day and model. */
static void test_sums(void)
{
	const char *path = tmp_path("sums.db");
	struct store_agent_step s;
	int64_t a, b, c, d, e;
	json_t *stats = NULL, *row;
	double usd = -1;
	store *st = NULL;
	char sql[200];

	if (store_open(path, &st) < 0) {
		tap_ok(0, "sums: open");
		return;
	}
	tap_is_int(store_agent_stats(st, 0, &stats), 0, "sums: stats of an empty store");
	tap_is_int((int)json_array_size(stats), 0, "sums: are empty");
	json_decref(stats);
	stats = NULL;
	tap_is_int(store_agent_spent(st, 0, &usd), 0, "sums: spent of an empty store");
	tap_ok(usd == 0, "sums: is 0");

	/* Day 1: a (model-b), b (model-a); day 2: c and d (model-a, d from the
	 * cache), e (model-b, still running). */
	store_agent_run_start(st, 0, "f1", "model-b", &a);
	s = step("response", DAY1 + 100, 100, 10, 0.5, NULL, NULL);
	store_agent_step_add(st, a, &s);
	store_agent_run_finish(st, a, "done", NULL, NULL, NULL);
	store_agent_run_start(st, 0, "f2", "model-a", &b);
	s = step("response", DAY1 + 200, 200, 20, 0.25, NULL, NULL);
	store_agent_step_add(st, b, &s);
	s = step("response", DAY1 + 300, 300, 30, 0.125, NULL, NULL);
	store_agent_step_add(st, b, &s);
	store_agent_run_finish(st, b, "failed", NULL, "HTTP 429", NULL);
	store_agent_run_start(st, 0, "f3", "model-a", &c);
	s = step("response", DAY2 + 100, 1000, 100, 1.0, NULL, NULL);
	store_agent_step_add(st, c, &s);
	store_agent_run_finish(st, c, "done", NULL, NULL, NULL);
	store_agent_run_cached(st, 0, "f3", "model-a", c, &d);
	store_agent_run_start(st, 0, "f4", "model-b", &e);
	s = step("response", DAY2 + 500, 7, 3, 0.0625, NULL, NULL);
	store_agent_step_add(st, e, &s);
	snprintf(sql, sizeof(sql), "UPDATE agent_runs SET started_at = CASE WHEN id <= %lld"
	         " THEN %f + id ELSE %f + id END", (long long)b, DAY1, DAY2);
	tap_ok(sql_int(path, sql) == 0, "sums: runs dated by another connection");

	tap_is_int(store_agent_spent(st, 0, &usd), 0, "sums: spent since ever");
	tap_ok(usd == 0.5 + 0.25 + 0.125 + 1.0 + 0.0625,
	       "sums: every step's cost, failed and running runs included (%g)", usd);
	tap_is_int(store_agent_spent(st, DAY2, &usd), 0, "sums: spent since day 2");
	tap_ok(usd == 1.0 + 0.0625, "sums: day 2's steps only (%g)", usd);
	tap_is_int(store_agent_spent(st, DAY1 + 250, &usd), 0, "sums: spent since mid day 1");
	tap_ok(usd == 0.125 + 1.0 + 0.0625, "sums: by the time of each step (%g)", usd);

	tap_is_int(store_agent_stats(st, 0, &stats), 0, "sums: stats");
	tap_is_int((int)json_array_size(stats), 4, "sums: one row per day and model");
	row = json_array_get(stats, 0);
	tap_ok(strcmp(run_str(row, "day"), "2023-11-14") == 0 &&
	       strcmp(run_str(row, "model"), "model-a") == 0 && run_int(row, "runs") == 1 &&
	       run_int(row, "cached") == 0 && run_int(row, "prompt_tokens") == 500 &&
	       run_int(row, "completion_tokens") == 50 &&
	       json_real_value(json_object_get(row, "cost_usd")) == 0.375,
	       "sums: day 1, model-a: the failed run's two steps");
	row = json_array_get(stats, 1);
	tap_ok(strcmp(run_str(row, "day"), "2023-11-14") == 0 &&
	       strcmp(run_str(row, "model"), "model-b") == 0 && run_int(row, "runs") == 1 &&
	       run_int(row, "prompt_tokens") == 100 &&
	       json_real_value(json_object_get(row, "cost_usd")) == 0.5,
	       "sums: day 1, model-b after model-a");
	row = json_array_get(stats, 2);
	tap_ok(strcmp(run_str(row, "day"), "2023-11-15") == 0 &&
	       strcmp(run_str(row, "model"), "model-a") == 0 && run_int(row, "runs") == 2 &&
	       run_int(row, "cached") == 1 && run_int(row, "prompt_tokens") == 1000 &&
	       run_int(row, "completion_tokens") == 100 &&
	       json_real_value(json_object_get(row, "cost_usd")) == 1.0,
	       "sums: day 2, model-a: two runs, one cached at no cost");
	row = json_array_get(stats, 3);
	tap_ok(strcmp(run_str(row, "day"), "2023-11-15") == 0 &&
	       strcmp(run_str(row, "model"), "model-b") == 0 && run_int(row, "runs") == 1 &&
	       run_int(row, "prompt_tokens") == 7 &&
	       json_real_value(json_object_get(row, "cost_usd")) == 0.0625,
	       "sums: day 2, model-b: a running run counts what it has spent");
	json_decref(stats);
	stats = NULL;
	tap_is_int(store_agent_stats(st, DAY2, &stats), 0, "sums: stats since day 2");
	tap_ok(json_array_size(stats) == 2 &&
	       strcmp(run_str(json_array_get(stats, 0), "day"), "2023-11-15") == 0,
	       "sums: only day 2's rows");
	json_decref(stats);
	store_close(st);
}

/* A crash leaves runs 'running': store_agent_recover() marks them failed. */
static void test_interrupted(void)
{
	const char *path = tmp_path("crash.db");
	struct store_agent_step s;
	int64_t done, cut, bare, incident, count = -1;
	json_t *run;
	double usd = 0;
	store *st = NULL;

	if (store_open(path, &st) < 0) {
		tap_ok(0, "interrupted: open");
		return;
	}
	incident = add_incident(st, "00000000000000cc", "RuntimeError");
	store_agent_run_start(st, incident, "fp", "m", &done);
	store_agent_run_finish(st, done, "done", NULL, NULL, NULL);
	store_agent_run_start(st, incident, "fp", "m", &cut);
	s = step("request", DAY2, 0, 0, 0, NULL, "{}");
	store_agent_step_add(st, cut, &s);
	s = step("response", DAY2 + 5, 40, 4, 0.5, NULL, "{}");
	store_agent_step_add(st, cut, &s);
	store_agent_run_start(st, incident, "fp", "m", &bare);
	store_close(st);        /* as if doctord died */
	st = NULL;
	tap_is_int(sql_int(path, "SELECT COUNT(*) FROM agent_runs WHERE state = 'running'"), 2,
	           "interrupted: two runs left running");

	tap_is_int(store_open(path, &st), 0, "interrupted: open again");
	run = get_run(st, cut, false);
	tap_is_str(run_str(run, "state"), "running",
	           "interrupted: opening alone changes nothing (another doctord may own it)");
	json_decref(run);
	tap_is_int(store_agent_recover(st, &count), 0, "interrupted: recover, as doctord at start");
	tap_is_int((int)count, 2, "interrupted: two runs");
	run = get_run(st, cut, false);
	tap_ok(strcmp(run_str(run, "state"), "failed") == 0 &&
	       strcmp(run_str(run, "error"), "interrupted") == 0,
	       "interrupted: a cut run is failed, error \"interrupted\"");
	tap_ok(json_real_value(json_object_get(run, "ended_at")) == DAY2 + 5,
	       "interrupted: ended at its last step");
	tap_ok(run_int(run, "prompt_tokens") == 40 &&
	       json_real_value(json_object_get(run, "cost_usd")) == 0.5,
	       "interrupted: with what it spent");
	json_decref(run);
	run = get_run(st, bare, false);
	tap_ok(strcmp(run_str(run, "state"), "failed") == 0 &&
	       json_real_value(json_object_get(run, "ended_at")) ==
	       json_real_value(json_object_get(run, "started_at")),
	       "interrupted: a run without steps ended when it started");
	json_decref(run);
	run = get_run(st, done, false);
	tap_ok(strcmp(run_str(run, "state"), "done") == 0 &&
	       json_is_null(json_object_get(run, "error")),
	       "interrupted: a finished run is untouched");
	json_decref(run);
	tap_is_int(store_agent_recover(st, &count), 0, "interrupted: recover again");
	tap_is_int((int)count, 0, "interrupted: finds nothing left");
	tap_is_int(store_agent_spent(st, 0, &usd), 0, "interrupted: spent");
	tap_ok(usd == 0.5, "interrupted: counts the cut run's cost");
	store_close(st);
	st = NULL;

	/* Runs outlive their incident: the money spent still counts. */
	tap_ok(sql_int(path, "DELETE FROM incidents") == 0, "interrupted: delete the incident");
	tap_is_int(store_open(path, &st), 0, "interrupted: reopen");
	run = get_run(st, cut, true);
	tap_ok(json_is_null(json_object_get(run, "incident")) &&
	       json_array_size(json_object_get(run, "steps")) == 2,
	       "interrupted: the run stays, with its steps, its incident null");
	json_decref(run);
	store_close(st);
}

int main(void)
{
	const char *base = getenv("TMPDIR");
	int64_t incident, incident2;
	store *st = NULL;

	snprintf(tmpdir, sizeof(tmpdir), "%s/test_store_agent.XXXXXX",
	         base && *base ? base : "/tmp");
	if (!mkdtemp(tmpdir)) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	test_migration();
	if (store_open(tmp_path("doctor.db"), &st) < 0) {
		printf("Bail out! cannot open the test database: %s\n", store_errmsg(NULL));
		return 1;
	}
	incident = add_incident(st, "00000000000000bb", "RayTaskError");
	incident2 = add_incident(st, "00000000000000bc", "RayActorError");
	tap_ok(incident > 0 && incident2 > incident, "two incidents");
	test_run(st, incident);
	test_cache(st, incident, incident2);
	store_close(st);
	test_sums();
	test_interrupted();
	nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	return tap_done();
}
