/*
 * test_detect.c - the detectors end to end: output bytes through the line
 * assembler and the scanner with the built-in detectors, compared with the
 * errors a case expects.
 *
 * Cases: tests/cases/detect/<case>/input (raw output, ANSI and all) and
 * expected (a JSON array of errors: detector, exception, message, frames,
 * chain, and extra when the error has one; text and raw are compared when
 * given). Each case runs whole and in several random splits, which must
 * all give the same errors. Then the registry, the scanner's claiming,
 * pending/flush, a message continued across a quiet period, the memory
 * bounds and the line kinds that end a message are checked directly.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* asprintf */
#endif
#include <jansson.h>

#include "tap.h"
#include "detect_cases.h"
#include "line_kinds.h"

/* tap_is_int that can be tested: the check's result. */
static int expect_n(size_t got, size_t want, const char *name)
{
	if (!tap_ok(got == want, "%s", name))
		tap_diag("got %zu, want %zu", got, want);
	return got == want;
}

/* Compare one error with what the case wants; on a difference, say which
 * field in *why (newly allocated). */
static bool error_matches(json_t *want, const dr_error *e, char **why)
{
	static const char *const required[] = {
		"detector", "exception", "message", "frames", "chain", NULL,
	};
	static const char *const optional[] = { "extra", "text", "raw", NULL };
	json_t *got = dr_error_to_json(e), *w, *g;
	bool ok = true;
	size_t k;
	char *ws, *gs;

	*why = NULL;
	if (!got) {
		*why = strdup("dr_error_to_json failed");
		return false;
	}
	for (k = 0; required[k] && ok; k++) {
		w = json_object_get(want, required[k]);
		g = json_object_get(got, required[k]);
		if (!w) {
			*why = strdup("expected lacks a required field");
			ok = false;
		} else if (!json_equal(w, g)) {
			ok = false;
			ws = json_dumps(w, JSON_ENCODE_ANY | JSON_COMPACT);
			gs = json_dumps(g, JSON_ENCODE_ANY | JSON_COMPACT);
			if (asprintf(why, "%s: want %s got %s", required[k], ws, gs) < 0)
				*why = NULL;
			free(ws);
			free(gs);
		}
	}
	for (k = 0; optional[k] && ok; k++) {
		w = json_object_get(want, optional[k]);
		g = json_object_get(got, optional[k]);
		if (!w && strcmp(optional[k], "extra") == 0)
			w = json_null(); /* no extra expected: none allowed */
		if (w && !json_equal(w, g)) {
			ok = false;
			ws = json_dumps(w, JSON_ENCODE_ANY | JSON_COMPACT);
			gs = json_dumps(g, JSON_ENCODE_ANY | JSON_COMPACT);
			if (asprintf(why, "%s: want %s got %s", optional[k], ws, gs) < 0)
				*why = NULL;
			free(ws);
			free(gs);
		}
	}
	json_decref(got);
	return ok;
}

static void show_errors(const struct detected *d)
{
	size_t i;

	for (i = 0; i < d->n; i++) {
		json_t *j = dr_error_to_json(d->v[i]);
		char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;

		tap_diag("got[%zu] %s", i, s ? s : "(null)");
		free(s);
		json_decref(j);
	}
}

static bool errors_match(json_t *want, const struct detected *d, bool verbose)
{
	char *why = NULL;
	size_t i;

	if (json_array_size(want) != d->n) {
		if (verbose) {
			tap_diag("want %zu errors, got %zu", json_array_size(want), d->n);
			show_errors(d);
		}
		return false;
	}
	for (i = 0; i < d->n; i++) {
		if (!error_matches(json_array_get(want, i), d->v[i], &why)) {
			if (verbose)
				tap_diag("error %zu: %s", i, why ? why : "(no detail)");
			free(why);
			return false;
		}
	}
	return true;
}

static void run_case(const char *dir, const char *name)
{
	static const unsigned seeds[] = { 0, 1, 7, 42, 1234 };
	char *path, *input;
	size_t len = 0, s;
	json_t *want = NULL;
	json_error_t jerr = { .text = "out of memory" };
	struct detected d;

	path = path_of(dir, name, "input");
	input = path ? read_file(path, &len) : NULL;
	free(path);
	path = path_of(dir, name, "expected");
	if (path)
		want = json_load_file(path, 0, &jerr);
	free(path);
	if (!input || !json_is_array(want)) {
		tap_ok(0, "detect/%s: input and expected readable", name);
		tap_diag("%s", input ? jerr.text : "no input");
		free(input);
		json_decref(want);
		return;
	}
	for (s = 0; s < sizeof(seeds) / sizeof(seeds[0]); s++) {
		int rc = detect_output(input, len, seeds[s], &d);

		if (!tap_ok(rc == 0 && errors_match(want, &d, false),
		            "detect/%s (%s %u)", name, seeds[s] ? "pieces, seed" : "whole", seeds[s]))
			errors_match(want, &d, true);
		detected_free(&d);
	}
	free(input);
	json_decref(want);
}

static void run_cases(const char *root)
{
	char *dir = path_of(root, "detect", NULL);
	char **names;
	size_t n = 0, i;

	names = dir ? list_cases(dir, &n) : NULL;
	if (tap_ok(dir && n >= 40, "detect cases found in %s/detect (%zu)", root, n))
		for (i = 0; i < n; i++)
			run_case(dir, names[i]);
	free_list(names, n);
	free(dir);
}

/* ---- direct checks */

/* A detector that records whether each line arrived claimed. */
struct recorder {
	char seen[64];
	size_t n;
};

static void *recorder_create(void *config)
{
	return calloc(1, sizeof(struct recorder));
}

static int recorder_line(void *state, const dr_line *line, bool claimed,
                         dr_emit_fn emit, void *ud)
{
	struct recorder *r = state;

	if (r->n < sizeof(r->seen) - 1)
		r->seen[r->n++] = claimed ? 'C' : '.';
	return DR_PASS;
}

static void recorder_destroy(void *state)
{
	free(state);
}

static const dr_detector_ops recorder_ops = {
	.name = "test.recorder",
	.create = recorder_create,
	.line = recorder_line,
	.destroy = recorder_destroy,
};

static void feed_lines(dr_scanner *s, const char *const *lines, struct detected *d)
{
	dr_line l;

	for (; *lines; lines++) {
		l.text = l.raw = *lines;
		l.text_len = l.raw_len = strlen(*lines);
		dr_scanner_line(s, &l, detected_emit, d);
	}
}

static void test_registry(void)
{
	static const char *const lines[] = {
		"starting", "Traceback (most recent call last):",
		"  File \"a.py\", line 1, in <module>", "    f()",
		"OSError: [Errno 98] Address already in use", "done", NULL,
	};
	struct detected d = { 0 };
	dr_scanner *s;

	tap_is_int(dr_registry_add_builtins(), 0, "builtins register");
	tap_is_int(dr_registry_add_builtins(), 0, "builtins register again (idempotent)");
	tap_is_int(dr_registry_add(&recorder_ops, NULL), 0, "a detector registers");
	tap_is_int(dr_registry_add(&recorder_ops, NULL), -EEXIST, "a name registers once");
	tap_is_int(dr_registry_add(NULL, NULL), -EINVAL, "no ops is refused");
	tap_is_int(dr_registry_remove("no.such"), -ENOENT, "removing an unknown name");
	tap_is_int(dr_registry_enable("no.such", false), -ENOENT, "enabling an unknown name");

	s = dr_scanner_new();
	feed_lines(s, lines, &d);
	dr_scanner_flush(s, detected_emit, &d);
	dr_scanner_free(s);
	if (expect_n(d.n, 1, "one error: the traceback, not also the address in use"))
		tap_is_str(d.v[0]->detector, "python.traceback", "it is the traceback");
	detected_free(&d);

	/* Without the python detector nobody claims the OSError line. */
	tap_is_int(dr_registry_enable("python.traceback", false), 0, "disable a detector");
	s = dr_scanner_new();
	feed_lines(s, lines, &d);
	dr_scanner_flush(s, detected_emit, &d);
	dr_scanner_free(s);
	if (expect_n(d.n, 1, "a disabled detector is not instantiated"))
		tap_is_str(d.v[0]->detector, "shell.address_in_use", "the line is no longer claimed");
	detected_free(&d);
	tap_is_int(dr_registry_enable("python.traceback", true), 0, "enable it again");
	tap_is_int(dr_registry_remove("test.recorder"), 0, "remove a detector");
	tap_is_int(dr_registry_remove("test.recorder"), -ENOENT, "it is gone");
}

/* The claimed flag reaches later detectors: checked with a recorder as the
 * only other detector. */
static struct recorder *last_recorder;

static void *spy_create(void *config)
{
	last_recorder = recorder_create(config);
	return last_recorder;
}

static const dr_detector_ops spy_ops = {
	.name = "test.spy",
	.create = spy_create,
	.line = recorder_line,
	.destroy = recorder_destroy,
};

static void test_claimed(void)
{
	static const char *const lines[] = {
		"starting", "Traceback (most recent call last):",
		"  File \"a.py\", line 1, in <module>", "    f()",
		"ValueError: x", "done", NULL,
	};
	struct detected d = { 0 };
	dr_scanner *s;

	dr_registry_clear();
	dr_registry_add_builtins();
	dr_registry_add(&spy_ops, NULL);
	s = dr_scanner_new();
	feed_lines(s, lines, &d);
	tap_is_str(last_recorder ? last_recorder->seen : NULL, ".CCCC.",
	           "later detectors see traceback lines as claimed");
	dr_scanner_free(s);
	detected_free(&d);
	dr_registry_clear();
	dr_registry_add_builtins();
}

static void test_pending(void)
{
	static const char *const body[] = {
		"Traceback (most recent call last):",
		"  File \"a.py\", line 1, in <module>", "    f()", NULL,
	};
	static const char *const exc[] = { "KeyError: 'a'", NULL };
	static const char *const next[] = { "", "During handling of the above exception, another exception occurred:",
		"", "Traceback (most recent call last):", "  File \"a.py\", line 3, in <module>",
		"    g()", "ValueError: b", NULL };
	struct detected d = { 0 };
	dr_scanner *s = dr_scanner_new();

	feed_lines(s, body, &d);
	tap_ok(!dr_scanner_pending(s), "an unfinished traceback is not pending");
	dr_scanner_flush(s, detected_emit, &d);
	tap_is_int(d.n, 0, "flush leaves an unfinished traceback alone");
	feed_lines(s, exc, &d);
	tap_ok(dr_scanner_pending(s), "after the exception line the error is pending");
	tap_is_int(d.n, 0, "and not emitted yet (a chain may follow)");
	feed_lines(s, next, &d);
	tap_is_int(d.n, 0, "the chain joined the pending error");
	dr_scanner_flush(s, detected_emit, &d);
	tap_ok(!dr_scanner_pending(s), "nothing pending after flush");
	if (expect_n(d.n, 1, "flush emits one chained error")) {
		tap_is_str(d.v[0]->exception, "ValueError", "last exception wins");
		tap_is_int(d.v[0]->nchain, 1, "one earlier link");
		tap_is_str(d.v[0]->chain[0], "KeyError: 'a'", "the earlier link");
		tap_is_int(d.v[0]->frames[0].line, 3, "frames of the last traceback");
	}
	detected_free(&d);
	dr_scanner_free(s);
}

/* A Ray message's continuation in a later write: joined while the error
 * is held (the source is not quiet yet), not once the settle timer has
 * fired (dr_scanner_flush, as source.c calls it) and reported the error. */
static void test_message_split(void)
{
	static const char *const head[] = {
		"Traceback (most recent call last):",
		"  File \"/home/ana/etl/run.py\", line 30, in <module>", "    results = ray.get(refs)",
		"ray.exceptions.OutOfMemoryError: Task was killed due to the node running low on memory.",
		NULL,
	};
	static const char *const rest[] = {
		"Memory on the node (IP: 10.0.0.9, ID: 7c0c) where the task (name=resize, pid=7) was running",
		NULL,
	};
	struct detected d = { 0 };
	dr_scanner *s = dr_scanner_new();

	feed_lines(s, head, &d);
	tap_ok(dr_scanner_pending(s), "split message: held after the exception line");
	feed_lines(s, rest, &d);
	tap_is_int(d.n, 0, "split message: the next write's line joins the held error");
	dr_scanner_flush(s, detected_emit, &d);
	if (expect_n(d.n, 1, "split message: one error"))
		tap_ok(strstr(d.v[0]->message, "\nMemory on the node (IP: 10.0.0.9") != NULL,
		       "split message: the continuation is in the message");
	detected_free(&d);

	feed_lines(s, head, &d);
	dr_scanner_flush(s, detected_emit, &d); /* settle_ms of quiet */
	feed_lines(s, rest, &d);
	dr_scanner_flush(s, detected_emit, &d);
	if (expect_n(d.n, 1, "after a quiet period: still one error, the late line starts none"))
		tap_is_str(d.v[0]->message, "Task was killed due to the node running low on memory.",
		           "after a quiet period: the message is what came before it");
	tap_ok(!dr_scanner_pending(s), "after a quiet period: nothing held");
	detected_free(&d);
	dr_scanner_free(s);
}

/* A message goes on for MSG_LINES_MAX (40) unindented lines and
 * MSG_BYTES_MAX (16 KiB) of them at most. */
static void test_message_bounds(void)
{
	size_t cap = 64 * 1024, off = 0, i, lines = 1;
	char *out = malloc(cap), row[1100];
	struct detected d;
	const char *p;

	off += (size_t)snprintf(out + off, cap - off,
	                        "Traceback (most recent call last):\n"
	                        "  File \"/srv/job.py\", line 3, in <module>\n    ray.get(r)\n"
	                        "ray.exceptions.RaySystemError: System error: table follows\n");
	for (i = 0; i < 100; i++)
		off += (size_t)snprintf(out + off, cap - off, "row %zu of the table\n", i);
	detect_output(out, off, 0, &d);
	if (expect_n(d.n, 1, "a 100-line message is one error")) {
		for (p = d.v[0]->message; (p = strchr(p, '\n')); p++)
			lines++;
		tap_is_int(lines, 41, "the first line and 40 more");
		tap_ok(strstr(d.v[0]->text, "row 39 of the table") && !strstr(d.v[0]->text, "row 40 of"),
		       "the text stops where the message does");
	}
	detected_free(&d);

	memset(row, 'x', sizeof(row) - 1);
	row[sizeof(row) - 1] = '\0';
	off = (size_t)snprintf(out, cap, "Traceback (most recent call last):\n"
	                       "  File \"/srv/job.py\", line 3, in <module>\n    ray.get(r)\n"
	                       "ray.exceptions.RaySystemError: System error: rows follow\n");
	for (i = 0; i < 30; i++)
		off += (size_t)snprintf(out + off, cap - off, "%s\n", row);
	detect_output(out, off, 0, &d);
	if (expect_n(d.n, 1, "long continuation lines: one error"))
		tap_ok(strlen(d.v[0]->message) <= 16 * 1024 + 64 &&
		       strlen(d.v[0]->message) >= 14 * 1024,
		       "at most 16 KiB of continuation (%zu bytes)", strlen(d.v[0]->message));
	detected_free(&d);
	free(out);
}

/* The lines that end a message (line_kinds.c), and prose that does not. */
static void test_line_kinds(void)
{
	static const struct { const char *line; enum lk_kind kind; } cases[] = {
		{ "2024-05-01 12:00:00,123 ERROR app: failed", LK_LOG },
		{ "[2024-05-14 09:12:35] INFO orders: next order", LK_LOG },
		{ "[12:00:01] step 3", LK_LOG },
		{ "I0514 09:12:03.118 3311 core.cc:1] x", LK_LOG },
		{ "May 14 09:12:03 box kernel: x", LK_LOG },
		{ "14/May/2024 09:12:03 \"GET / HTTP/1.1\" 500", LK_LOG },
		{ "INFO:     Started server process [1]", LK_LOG },
		{ "ERROR:root:boom", LK_LOG },
		{ "[WARNING] disk almost full", LK_LOG },
		{ "error: externally-managed-environment", LK_LOG },
		{ "/p/x.py:12: UserWarning: y", LK_LOG },
		{ "$ python x.py", LK_PROMPT },
		{ "ana@box:~/proj$ ls", LK_PROMPT },
		{ "(venv) ana@box:~$", LK_PROMPT },
		{ "[ana@box proj]$ ", LK_PROMPT },
		{ ">>> ray.shutdown()", LK_PROMPT },
		{ "In [4]: x = 1", LK_PROMPT },
		{ "PS C:\\Users\\ana> py x.py", LK_PROMPT },
		{ "(raylet) A worker died", LK_PREFIXED },
		{ "(Trainer pid=61233) epoch 1", LK_PREFIXED },
		{ "web-1  | started", LK_PREFIXED },
		{ " 45%|\xe2\x96\x88\xe2\x96\x88     | 45/100 [00:01<00:02, 30.12it/s]", LK_PROGRESS },
		{ "bash: foo: command not found", LK_STATUS },
		{ "make[1]: *** [all] Error 2", LK_STATUS },
		{ "./run.sh: line 3:   412 Killed   python x.py", LK_STATUS },
		{ "Collecting numpy>=1.26", LK_STATUS },
		{ "Killed", LK_STATUS },
		{ "Segmentation fault (core dumped)", LK_STATUS },
		{ "Exception in thread Thread-2 (worker):", LK_STATUS },
		{ "Process finished with exit code 1", LK_STATUS },
		{ "Memory on the node (IP: 10.0.0.9, ID: 7c0c) where the task", LK_NONE },
		{ "Top 10 memory users:", LK_NONE },
		{ "PID\tMEM(GB)\tCOMMAND", LK_NONE },
		{ "71120\t9.12\tray::resize_images", LK_NONE },
		{ "Refer to the documentation on how to address the out of memory issue: x", LK_NONE },
		{ "The actor is dead because its worker process has died.", LK_NONE },
		{ "learning_rate: expected a float, got 'fast'", LK_NONE },
		{ "Contact admin@example.com for access", LK_NONE },
		{ "INFORMATION is missing", LK_NONE },
		{ "2024 was a good year", LK_NONE },
		{ "$5 million", LK_NONE },
		{ "(1) The process is killed by SIGKILL", LK_NONE },
		{ "", LK_NONE },
	};
	size_t i;
	enum lk_kind got;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		got = lk_classify(cases[i].line, strlen(cases[i].line));
		if (!tap_ok(got == cases[i].kind, "line kind of \"%s\"", cases[i].line))
			tap_diag("got %s, want %s", lk_kind_name(got), lk_kind_name(cases[i].kind));
	}
}

/* A traceback of many distinct frames stays bounded. */
static void test_bounds(void)
{
	size_t nframes = 5000, i, cap = nframes * 120 + 200, off = 0;
	char *out = malloc(cap);
	struct detected d;
	const dr_error *e;
	json_t *omitted;

	off += (size_t)snprintf(out + off, cap - off, "Traceback (most recent call last):\n");
	for (i = 1; i <= nframes; i++)
		off += (size_t)snprintf(out + off, cap - off,
		                        "  File \"/srv/app/mod%zu.py\", line %zu, in f%zu\n    f%zu()\n",
		                        i, i, i, i + 1);
	off += (size_t)snprintf(out + off, cap - off, "RecursionError: maximum recursion depth exceeded\n");
	detect_output(out, off, 0, &d);
	if (expect_n(d.n, 1, "a 5000-frame traceback is one error")) {
		e = d.v[0];
		tap_is_int(e->nframes, 200, "200 frames kept");
		omitted = json_object_get(e->extra, "frames_omitted");
		tap_is_int(json_integer_value(omitted), 4800, "the rest counted in extra.frames_omitted");
		tap_is_int(e->frames[0].line, 1, "the outermost frame is kept");
		tap_is_int(e->frames[199].line, 5000, "the innermost frame is kept");
		tap_is_int(e->frames[100].line, 4901, "the tail is contiguous");
		tap_ok(strlen(e->text) <= 320 * 1024, "text bounded (%zu bytes)", strlen(e->text));
		tap_ok(strstr(e->text, "lines omitted") != NULL, "text says lines were omitted");
		tap_ok(strstr(e->text, "RecursionError: maximum recursion depth exceeded") != NULL,
		       "text keeps the exception line");
	}
	detected_free(&d);
	free(out);
}

int main(int argc, char **argv)
{
	const char *root = cases_root(argc, argv);

	dr_registry_add_builtins();
	if (!tap_ok(root != NULL, "cases folder given (DOCTOR_CASES or argv[1])"))
		return tap_done();
	run_cases(root);
	test_pending();
	test_message_split();
	test_message_bounds();
	test_line_kinds();
	test_bounds();
	test_claimed();
	test_registry();
	dr_registry_clear();
	return tap_done();
}
