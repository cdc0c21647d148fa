/*
 * test_store.c - the SQLite store against real database files in a
 * temporary directory: schema, recording, the JSON shapes of docs/protocol.md,
 * list filters, reopening, refusing foreign or broken files, watches, and
 * bytes that are not UTF-8.
 */
#include <errno.h>
#include <ftw.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store.h"
#include "tap.h"

static char tmpdir[256];

/* Path of a file in the temporary directory (static buffer, one at a time). */
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

/* An error object as dr_error_to_json() makes it. New reference. */
static json_t *make_error(const char *exception, const char *message)
{
	return json_pack("{s:s, s:s, s:s, s:[{s:s, s:i, s:s, s:b}, {s:s, s:i, s:s, s:b}],"
	                 " s:[s], s:s, s:s, s:n}",
	                 "detector", "python.traceback",
	                 "exception", exception,
	                 "message", message,
	                 "frames",
	                 "file", "app.py", "line", 3, "function", "<module>", "library", 0,
	                 "file", "/usr/lib/python3/dist-packages/x.py", "line", 10,
	                 "function", "load", "library", 1,
	                 "chain", "KeyError: 'a'",
	                 "text", "Traceback...\nValueError: x",
	                 "raw", "\x1b[31mTraceback...\x1b[0m",
	                 "extra");
}

/* Record one occurrence; returns the incident id or -1 on failure. */
static int64_t record(store *st, const char *sig, json_t *error, int64_t source,
                      const char *context, double at, bool *is_new, int64_t *count)
{
	store_occurrence occ = {
		.signature = sig, .error = error, .source_id = source,
		.context = context, .at = at,
	};
	int64_t id = -1;
	bool fresh;
	int64_t n;

	if (store_record(st, &occ, &id, is_new ? is_new : &fresh, count ? count : &n) < 0)
		return -1;
	return id;
}

static int64_t add_source(store *st, const char *kind, const char *name, double at)
{
	json_t *ctx = json_pack("{s:s, s:s}", "cwd", "/home/u/proj", "python", "/usr/bin/python3");
	store_source src = {
		.kind = kind, .name = name, .cwd = "/home/u/proj",
		.python = "/usr/bin/python3", .virtualenv = NULL,
		.context = ctx, .opened_at = at,
	};
	int64_t id = -1;

	if (store_source_add(st, &src, &id) < 0)
		id = -1;
	json_decref(ctx);
	return id;
}

/* Sorted list of an object's keys joined by ',' (static buffer). */
static const char *keys_of(json_t *obj)
{
	static char buf[512];
	const char *names[64];
	const char *key;
	json_t *v;
	size_t n = 0, i, j;

	json_object_foreach(obj, key, v) {
		if (n < 64)
			names[n++] = key;
	}
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
			const char *t = names[j];
			names[j] = names[j - 1];
			names[j - 1] = t;
		}
	buf[0] = '\0';
	for (i = 0; i < n; i++) {
		strncat(buf, names[i], sizeof(buf) - strlen(buf) - 2);
		if (i + 1 < n)
			strcat(buf, ",");
	}
	return buf;
}

/* The text of a one-row pragma ("PRAGMA user_version") read without the
 * store, on a read-only connection. Static buffer; "" on failure. */
static const char *pragma_of(const char *path, const char *pragma)
{
	static char value[64];
	sqlite3 *db;
	sqlite3_stmt *stmt;

	value[0] = '\0';
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, pragma, -1, &stmt, NULL) == SQLITE_OK) {
		if (sqlite3_step(stmt) == SQLITE_ROW)
			snprintf(value, sizeof(value), "%s", sqlite3_column_text(stmt, 0));
		sqlite3_finalize(stmt);
	}
	sqlite3_close(db);
	return value;
}

static int user_version_of(const char *path)
{
	const char *v = pragma_of(path, "PRAGMA user_version");

	return *v ? atoi(v) : -1;
}

/* ------------------------------------------------------------------------ */

static void test_open_and_schema(void)
{
	store *st = NULL;
	const char *path = tmp_path("doctor.db");
	int64_t n = -1;

	tap_is_int(store_open(path, &st), 0, "open creates a new database");
	tap_ok(access(path, F_OK) == 0, "the file exists");
	tap_is_int(user_version_of(path), STORE_SCHEMA_VERSION, "user_version is the schema version");
	tap_is_int(store_count_incidents(st, &n), 0, "count works on an empty db");
	tap_is_int(n, 0, "no incidents yet");
	tap_is_str(store_errmsg(st), "", "no error message after success");
	tap_is_str(pragma_of(path, "PRAGMA journal_mode"), "wal", "the database is in WAL mode");
	store_close(st);
}

static void test_record(store *st, int64_t src1, int64_t src2)
{
	json_t *e1 = make_error("ValueError", "bad value 1");
	json_t *e2 = make_error("KeyError", "'k'");
	int64_t id1, id1b, id2, count = 0, n = 0;
	bool is_new = false;

	id1 = record(st, "00000000000000a1", e1, src1, "line a\nline b", 100.0, &is_new, &count);
	tap_ok(id1 > 0, "record a new incident");
	tap_ok(is_new, "first sight is new");
	tap_is_int(count, 1, "count starts at 1");
	id1b = record(st, "00000000000000a1", e1, src2, "line c", 105.5, &is_new, &count);
	tap_is_int(id1b, id1, "a repeat has the same id");
	tap_ok(!is_new, "a repeat is not new");
	tap_is_int(count, 2, "a repeat counts");
	id2 = record(st, "00000000000000b2", e2, src1, NULL, 103.0, &is_new, &count);
	tap_ok(id2 > 0 && id2 != id1 && is_new && count == 1, "another signature is another incident");
	tap_is_int(store_count_incidents(st, &n), 0, "count incidents");
	tap_is_int(n, 2, "two incidents");
	json_decref(e1);
	json_decref(e2);
}

static void test_summary_shape(store *st, int64_t src2)
{
	json_t *sum = NULL;

	tap_is_int(store_incident_summary(st, 1, &sum), 0, "summary of incident 1");
	tap_is_str(keys_of(sum), "count,detector,exception,first_seen,id,last_seen,"
	           "message,signature,source,state", "summary has exactly the documented keys");
	tap_is_int(json_integer_value(json_object_get(sum, "id")), 1, "summary id");
	tap_is_str(json_string_value(json_object_get(sum, "signature")), "00000000000000a1", "summary signature");
	tap_is_str(json_string_value(json_object_get(sum, "detector")), "python.traceback", "summary detector");
	tap_is_str(json_string_value(json_object_get(sum, "exception")), "ValueError", "summary exception");
	tap_is_str(json_string_value(json_object_get(sum, "message")), "bad value 1", "summary message");
	tap_is_int(json_integer_value(json_object_get(sum, "count")), 2, "summary count");
	tap_ok(json_real_value(json_object_get(sum, "first_seen")) == 100.0, "first_seen is the first time");
	tap_ok(json_real_value(json_object_get(sum, "last_seen")) == 105.5, "last_seen is the latest time");
	tap_is_str(json_string_value(json_object_get(sum, "state")), "open", "state starts open");
	tap_is_str(keys_of(json_object_get(sum, "source")), "id,kind,name", "summary source keys");
	tap_is_int(json_integer_value(json_object_get(json_object_get(sum, "source"), "id")),
	           src2, "summary source is the latest occurrence's");
	tap_is_str(json_string_value(json_object_get(json_object_get(sum, "source"), "name")),
	           "run.sh", "summary source name");
	json_decref(sum);
	sum = NULL;
	tap_is_int(store_incident_summary(st, 999, &sum), -ENOENT, "summary of an unknown id is -ENOENT");
	tap_ok(sum == NULL, "and leaves out alone");
}

static void test_full_shape(store *st, int64_t src1, int64_t src2)
{
	json_t *inc = NULL, *want_frames, *occ, *src;
	json_t *e = make_error("ValueError", "x");

	tap_is_int(store_incident_get(st, 1, &inc), 0, "get incident 1");
	tap_is_str(keys_of(inc), "chain,context,count,detector,exception,extra,first_seen,"
	           "frames,id,last_seen,message,occurrences,raw,signature,source,state,text",
	           "full incident has exactly the documented keys");
	want_frames = json_object_get(e, "frames");
	tap_ok(json_equal(json_object_get(inc, "frames"), want_frames), "frames round-trip");
	tap_ok(json_equal(json_object_get(inc, "chain"), json_object_get(e, "chain")), "chain round-trip");
	tap_is_str(json_string_value(json_object_get(inc, "text")), "Traceback...\nValueError: x", "text");
	tap_is_str(json_string_value(json_object_get(inc, "raw")), "\x1b[31mTraceback...\x1b[0m", "raw keeps ANSI");
	tap_ok(json_is_null(json_object_get(inc, "extra")), "extra null when none");
	tap_is_str(json_string_value(json_object_get(inc, "context")), "line c", "context of the latest occurrence");
	src = json_object_get(inc, "source");
	tap_is_str(keys_of(src), "context,cwd,id,kind,name,python,virtualenv", "full source keys");
	tap_is_str(json_string_value(json_object_get(src, "cwd")), "/home/u/proj", "source cwd");
	tap_ok(json_is_null(json_object_get(src, "virtualenv")), "source virtualenv null when not given");
	tap_is_str(json_string_value(json_object_get(json_object_get(src, "context"), "python")),
	           "/usr/bin/python3", "source context object round-trips");
	occ = json_object_get(inc, "occurrences");
	tap_is_int(json_array_size(occ), 2, "two occurrences");
	tap_is_str(keys_of(json_array_get(occ, 0)), "at,source_id,source_name", "occurrence keys");
	tap_is_int(json_integer_value(json_object_get(json_array_get(occ, 0), "source_id")), src2,
	           "occurrences newest first");
	tap_is_str(json_string_value(json_object_get(json_array_get(occ, 1), "source_name")),
	           "demo.ipynb", "older occurrence's source name");
	tap_ok(json_real_value(json_object_get(json_array_get(occ, 1), "at")) == 100.0, "occurrence time");
	json_decref(inc);
	tap_is_int(store_incident_get(st, 12345, &inc), -ENOENT, "get of an unknown id is -ENOENT");
	json_decref(e);
	(void)src1;
}

static void test_no_source_and_bad_input(store *st)
{
	json_t *e = make_error("OSError", "no source"), *sum = NULL, *inc = NULL;
	store_occurrence bad = { .signature = NULL, .error = e, .at = 1 };
	store_occurrence fk = { .signature = "00000000000000ff", .error = e,
	                        .source_id = 4242, .at = 1 };
	int64_t id, n0 = 0, n1 = 0, count;
	bool is_new;

	id = record(st, "00000000000000c3", e, 0, NULL, 90.0, NULL, NULL);
	tap_ok(id > 0, "record without a source");
	store_incident_summary(st, id, &sum);
	tap_ok(json_is_null(json_object_get(sum, "source")), "summary source is null without a source");
	store_incident_get(st, id, &inc);
	tap_ok(json_is_null(json_object_get(json_array_get(json_object_get(inc, "occurrences"), 0),
	                                    "source_id")), "occurrence source_id null without a source");
	tap_ok(json_is_null(json_object_get(inc, "context")), "context null when none was given");
	json_decref(sum);
	json_decref(inc);
	tap_is_int(store_record(st, &bad, &id, &is_new, &count), -EINVAL, "no signature is -EINVAL");
	bad.signature = "00000000000000fe";
	bad.error = NULL;
	tap_is_int(store_record(st, &bad, &id, &is_new, &count), -EINVAL, "no error object is -EINVAL");
	store_count_incidents(st, &n0);
	tap_is_int(store_record(st, &fk, &id, &is_new, &count), -EIO, "an unknown source id fails");
	tap_ok(strstr(store_errmsg(st), "FOREIGN KEY") != NULL, "and says why: %s", store_errmsg(st));
	store_count_incidents(st, &n1);
	tap_is_int(n1, n0, "the failed record was rolled back");
	tap_ok(record(st, "00000000000000c4", e, 0, NULL, 91.0, NULL, NULL) > 0,
	       "the handle works after a failed transaction");
	json_decref(e);
}

/* By now: a1 last seen at 105.5 (sources 1 and 2), b2 at 103 (source 1),
 * c4 at 91 and c3 at 90 (no source). */
static void test_list(store *st, int64_t src1, int64_t src2)
{
	store_query q = { 0 };
	json_t *list = NULL;
	int64_t seen = 0;

	tap_is_int(store_incident_list(st, &q, &list), 0, "list everything");
	tap_is_int(json_array_size(list), 4, "four incidents");
	tap_is_str(json_string_value(json_object_get(json_array_get(list, 0), "signature")),
	           "00000000000000a1", "most recently seen first");
	tap_is_str(json_string_value(json_object_get(json_array_get(list, 3), "signature")),
	           "00000000000000c3", "least recently seen last");
	json_decref(list);

	q.limit = 2;
	store_incident_list(st, &q, &list);
	tap_is_int(json_array_size(list), 2, "limit");
	q.before_id = json_integer_value(json_object_get(json_array_get(list, 1), "id"));
	json_decref(list);
	store_incident_list(st, &q, &list);
	tap_is_int(json_array_size(list), 2, "second page");
	tap_is_str(json_string_value(json_object_get(json_array_get(list, 0), "signature")),
	           "00000000000000c4", "second page starts after the first");
	json_decref(list);
	q.before_id = 9999;
	store_incident_list(st, &q, &list);
	tap_is_int(json_array_size(list), 0, "unknown before id matches nothing");
	json_decref(list);

	q = (store_query){ .source_id = src2 };
	store_incident_list(st, &q, &list);
	tap_is_int(json_array_size(list), 1, "filter by source");
	json_decref(list);
	q = (store_query){ .source_id = src1 };
	store_incident_list(st, &q, &list);
	tap_is_int(json_array_size(list), 2, "incidents seen in source 1 (also if last seen elsewhere)");
	json_decref(list);
	q = (store_query){ .exception = "KeyError" };
	store_incident_list(st, &q, &list);
	tap_ok(json_array_size(list) == 1 &&
	       strcmp(json_string_value(json_object_get(json_array_get(list, 0), "exception")),
	              "KeyError") == 0, "filter by exception");
	json_decref(list);
	q = (store_query){ .exception = "KeyError", .source_id = src2 };
	store_incident_list(st, &q, &list);
	tap_is_int(json_array_size(list), 0, "filters combine");
	json_decref(list);
	tap_is_int(store_incident_list(st, NULL, &list), 0, "a NULL query lists everything");
	tap_is_int(json_array_size(list), 4, "all four");
	json_decref(list);

	tap_is_int(store_incidents_of_source(st, src1, &list), 0, "incidents of source 1");
	tap_ok(json_array_size(list) == 2 &&
	       json_integer_value(json_object_get(json_array_get(list, 0), "id")) <
	       json_integer_value(json_object_get(json_array_get(list, 1), "id")),
	       "two, ordered by id");
	json_decref(list);
	store_incidents_of_source(st, 777, &list);
	tap_is_int(json_array_size(list), 0, "an unknown source has none");
	json_decref(list);
	store_count_incidents(st, &seen);
	tap_is_int(seen, 4, "count matches the list");
}

static void test_sources(store *st, int64_t src1)
{
	tap_is_int(store_source_close(st, src1, 200.0), 0, "close a source");
	tap_is_int(store_source_close(st, 31337, 200.0), -ENOENT, "closing an unknown source is -ENOENT");
}

static void test_watches(store *st)
{
	json_t *list = NULL, *w, *want;

	tap_is_int(store_watch_add(st, "/var/log/a.log", "a", false), 0, "add a watch");
	tap_is_int(store_watch_add(st, "/var/log/b.log", NULL, true), 0, "add another");
	tap_is_int(store_watch_add(st, "/var/log/a.log", "A", true), 0, "re-adding updates");
	tap_is_int(store_watch_add(st, NULL, NULL, false), -EINVAL, "a NULL path is -EINVAL");
	tap_is_int(store_watch_list(st, &list), 0, "list watches");
	tap_is_int(json_array_size(list), 2, "two watches");
	w = json_array_get(list, 0);
	tap_is_str(keys_of(w), "from_start,name,path", "watch keys");
	want = json_pack("{s:s, s:s, s:b}", "path", "/var/log/a.log", "name", "A",
	                 "from_start", 1);
	tap_ok(json_equal(w, want), "first watch updated in place");
	json_decref(want);
	w = json_array_get(list, 1);
	tap_ok(json_is_null(json_object_get(w, "name")) && json_is_true(json_object_get(w, "from_start")),
	       "second watch: no name, from_start");
	json_decref(list);
	tap_is_int(store_watch_remove(st, "/var/log/b.log"), 0, "remove a watch");
	tap_is_int(store_watch_remove(st, "/var/log/b.log"), -ENOENT, "removing again is -ENOENT");
	store_watch_list(st, &list);
	tap_is_int(json_array_size(list), 1, "one watch left");
	json_decref(list);
}

static void test_reopen(void)
{
	store *st = NULL;
	json_t *sum = NULL, *list = NULL;
	int64_t n = 0;

	tap_is_int(store_open(tmp_path("doctor.db"), &st), 0, "reopen");
	store_count_incidents(st, &n);
	tap_is_int(n, 4, "incidents kept");
	store_incident_summary(st, 1, &sum);
	tap_is_int(json_integer_value(json_object_get(sum, "count")), 2, "counts kept");
	store_watch_list(st, &list);
	tap_ok(json_array_size(list) == 1 &&
	       strcmp(json_string_value(json_object_get(json_array_get(list, 0), "path")),
	              "/var/log/a.log") == 0, "watches kept");
	tap_is_int(user_version_of(tmp_path("doctor.db")), STORE_SCHEMA_VERSION, "version unchanged");
	json_decref(sum);
	json_decref(list);
	store_close(st);
}

static void test_refusals(void)
{
	const char *newer = tmp_path("newer.db");
	store *st = (store *)&st;   /* must be reset to NULL on failure */
	sqlite3 *db;
	FILE *f;
	int rc;

	sqlite3_open(newer, &db);
	sqlite3_exec(db, "CREATE TABLE t(x); PRAGMA user_version = 99;", NULL, NULL, NULL);
	sqlite3_close(db);
	tap_is_int(store_open(newer, &st), -EPROTO, "a newer schema is refused with -EPROTO");
	tap_ok(st == NULL, "no handle on failure");
	tap_ok(strstr(store_errmsg(NULL), "99") != NULL, "store_errmsg(NULL) says why: %s",
	       store_errmsg(NULL));
	tap_is_int(user_version_of(newer), 99, "the newer database keeps its version");
	tap_is_str(pragma_of(newer, "PRAGMA journal_mode"), "delete", "and its journal mode");

	f = fopen(tmp_path("garbage.db"), "w");
	for (rc = 0; rc < 4096; rc++)
		fputc((rc * 7919) & 0xff, f);
	fclose(f);
	st = NULL;
	rc = store_open(tmp_path("garbage.db"), &st);
	tap_is_int(rc, -EIO, "a file of garbage is -EIO, not a crash");
	tap_ok(st == NULL && *store_errmsg(NULL), "with a message: %s", store_errmsg(NULL));

	rc = store_open(tmp_path("no/such/dir/doctor.db"), &st);
	tap_is_int(rc, -EIO, "a missing directory is -EIO");
	tap_is_int(store_open("", &st), -EINVAL, "an empty path is -EINVAL");
}

static void test_invalid_utf8(void)
{
	store *st = NULL;
	json_t *e, *inc = NULL;
	store_source src = { .kind = "log", .name = "bad\xc3(name", .opened_at = 1 };
	int64_t sid = 0, id;
	char *dump;

	store_open(tmp_path("utf8.db"), &st);
	tap_is_int(store_source_add(st, &src, &sid), 0, "a source name with invalid UTF-8 is stored");
	e = make_error("UnicodeError", "x");
	json_object_set_new(e, "message", json_string_nocheck("bad \xff\xfe byte"));
	json_array_append_new(json_object_get(e, "chain"), json_string_nocheck("E: \xed\xa0\x80 surrogate"));
	json_object_set_new_nocheck(e, "extra", json_pack("{s:o}", "k", json_string_nocheck("\xc0\xaf")));
	id = record(st, "0000000000000bad", e, sid, "ctx \xe2\x82 cut", 5.0, NULL, NULL);
	tap_ok(id > 0, "an error with invalid UTF-8 is recorded");
	tap_is_int(store_incident_get(st, id, &inc), 0, "and read back");
	tap_is_str(json_string_value(json_object_get(inc, "message")),
	           "bad \xef\xbf\xbd\xef\xbf\xbd byte", "bad bytes become U+FFFD");
	tap_is_str(json_string_value(json_object_get(inc, "context")),
	           "ctx \xef\xbf\xbd\xef\xbf\xbd cut", "in the context too");
	tap_is_str(json_string_value(json_object_get(json_object_get(inc, "source"), "name")),
	           "bad\xef\xbf\xbd(name", "and in the source name");
	tap_is_str(json_string_value(json_array_get(json_object_get(inc, "chain"), 1)),
	           "E: \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd surrogate", "and inside JSON columns");
	dump = json_dumps(inc, 0);
	tap_ok(dump != NULL, "the result encodes as JSON");
	free(dump);
	json_decref(inc);
	json_decref(e);
	store_close(st);
}

/* Many records: checks the counts hold up and shows the speed. */
static void test_many(void)
{
	store *st = NULL;
	json_t *e = make_error("RuntimeError", "loop"), *list = NULL;
	struct timespec t0, t1;
	store_query q = { 0 };
	char sig[17];
	int64_t sid, id, count = 0, n = 0;
	bool is_new;
	int i, failures = 0, fresh = 0;

	store_open(tmp_path("many.db"), &st);
	sid = add_source(st, "command", "loop", 1.0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < 10000; i++) {
		snprintf(sig, sizeof(sig), "%016x", i % 2000);
		id = record(st, sig, e, sid, "context line", 10.0 + i, &is_new, &count);
		failures += id <= 0;
		fresh += is_new;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	tap_diag("10000 store_record calls: %.3f s",
	         (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	tap_is_int(failures, 0, "10000 records succeed");
	tap_is_int(fresh, 2000, "2000 of them new");
	tap_is_int(count, 5, "each signature seen 5 times");
	store_count_incidents(st, &n);
	tap_is_int(n, 2000, "2000 incidents");
	store_incident_list(st, &q, &list);
	tap_is_int(json_array_size(list), 50, "default limit is 50");
	json_decref(list);
	q.limit = 5000;
	store_incident_list(st, &q, &list);
	tap_is_int(json_array_size(list), 1000, "limit is capped at 1000");
	json_decref(list);
	store_incident_get(st, 1, &list);
	tap_is_int(json_array_size(json_object_get(list, "occurrences")), 5, "occurrences of one");
	json_decref(list);
	json_decref(e);
	store_close(st);
}

/* A database whose header is fine but whose pages are garbage: opening may
 * work, but every call must fail cleanly rather than crash. */
static void test_corrupt_pages(void)
{
	store *st = NULL;
	json_t *e = make_error("E", "m"), *out = NULL;
	store_query q = { .limit = 1000 };
	int64_t n = 0, i;
	int rcs[4], failures = 0, k;
	FILE *f = fopen(tmp_path("many.db"), "r+b");

	/* Pages 3.. of the 2000-incident database from test_many(). */
	fseek(f, 8192, SEEK_SET);
	for (i = 0; i < 65536; i++)
		fputc((int)((i * 2654435761u) >> 13) & 0xff, f);
	fclose(f);
	if (store_open(tmp_path("many.db"), &st) < 0) {
		tap_ok(*store_errmsg(NULL) != '\0', "a corrupt database is refused at open: %s",
		       store_errmsg(NULL));
		json_decref(e);
		return;
	}
	rcs[0] = store_count_incidents(st, &n);
	rcs[1] = store_incident_list(st, &q, &out);
	if (rcs[1] == 0)
		json_decref(out);
	rcs[2] = record(st, "2222222222222222", e, 0, NULL, 1.0, NULL, NULL) > 0 ? 0 : -EIO;
	rcs[3] = store_incident_get(st, 1500, &out);
	if (rcs[3] == 0)
		json_decref(out);
	for (k = 0; k < 4; k++)
		failures += rcs[k] == -EIO;
	tap_ok(failures > 0, "a database with corrupt pages gives -EIO, not a crash (%d of 4 "
	       "calls failed; last message: %s)", failures, store_errmsg(st));
	store_close(st);
	json_decref(e);
}

/* Two handles on one file, as when `doctor` reads while doctord writes. */
static void test_two_handles(void)
{
	store *a = NULL, *b = NULL;
	json_t *e = make_error("E", "m");
	int64_t n = 0;

	store_open(tmp_path("shared.db"), &a);
	tap_is_int(store_open(tmp_path("shared.db"), &b), 0, "a second handle opens the same file");
	record(a, "1111111111111111", e, 0, NULL, 1.0, NULL, NULL);
	store_count_incidents(b, &n);
	tap_is_int(n, 1, "and sees the first handle's writes");
	tap_ok(record(b, "1111111111111111", e, 0, NULL, 2.0, NULL, NULL) > 0, "and can write too");
	store_close(a);
	store_close(b);
	json_decref(e);
}

int main(void)
{
	const char *base = getenv("TMPDIR");
	store *st = NULL;
	int64_t src1, src2;

	snprintf(tmpdir, sizeof(tmpdir), "%s/test_store.XXXXXX", base && *base ? base : "/tmp");
	if (!mkdtemp(tmpdir)) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	test_open_and_schema();
	if (store_open(tmp_path("doctor.db"), &st) < 0) {
		printf("Bail out! cannot open the test database: %s\n", store_errmsg(NULL));
		return 1;
	}
	src1 = add_source(st, "notebook", "demo.ipynb", 99.0);
	src2 = add_source(st, "command", "run.sh", 99.5);
	tap_ok(src1 > 0 && src2 > src1, "add sources");
	test_record(st, src1, src2);
	test_summary_shape(st, src2);
	test_full_shape(st, src1, src2);
	test_no_source_and_bad_input(st);
	test_list(st, src1, src2);
	test_sources(st, src1);
	test_watches(st);
	store_close(st);
	test_reopen();
	test_refusals();
	test_invalid_utf8();
	test_many();
	test_corrupt_pages();
	test_two_handles();
	nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	return tap_done();
}
