/*
 * test_diagnose_eval.c - the figures of `doctor eval diagnose`
 * (client/diagnose_eval.c): ROUGE-L on values worked out by hand, cases
 * parsed from JSON Lines (and the malformed ones refused with a reason),
 * exception, remedy and page matching, and the scores, totals and report
 * of hand-made observations.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "diagnose_eval.h"
#include "tap.h"

static void is_real(double got, double want, const char *name)
{
	if (!tap_ok(fabs(got - want) < 1e-12, "%s", name))
		tap_diag("got %.15g, want %.15g", got, want);
}

/* ---------------------------------------------------------------- ROUGE-L */

static void check_rouge(const char *cand, const char *ref, double r, double p, double f,
                        const char *name)
{
	struct deval_rouge got;
	int rc = deval_rouge_l(cand, ref, &got);

	tap_is_int(rc, 0, name);
	is_real(got.recall, r, "  recall");
	is_real(got.precision, p, "  precision");
	is_real(got.f1, f, "  F1");
}

static void test_rouge(void)
{
	char *a, *b;
	size_t i;

	check_rouge("the cat sat on the mat", "the cat sat on the mat", 1, 1, 1, "identical");
	check_rouge("Hello, World!", "hello world", 1, 1, 1,
	            "case and punctuation do not count");
	check_rouge("alpha beta gamma", "delta epsilon", 0, 0, 0, "disjoint");
	check_rouge("", "a reference", 0, 0, 0, "empty candidate");
	check_rouge("a candidate", "...", 0, 0, 0, "reference without tokens");
	/* Lin (2004), section 3.1: reference S1 "police killed the gunman";
	 * S2 shares "police the gunman" (LCS 3 of 4 and 4), S3 only "the
	 * gunman" (LCS 2): ROUGE-L ranks S2 above S3 where bigrams cannot. */
	check_rouge("police kill the gunman", "police killed the gunman", 0.75, 0.75, 0.75,
	            "Lin 2004: S2");
	check_rouge("the gunman kill police", "police killed the gunman", 0.5, 0.5, 0.5,
	            "Lin 2004: S3");
	/* CLRS 15.4: X = ABCBDAB (the reference, 7), Y = BDCABA (6): an LCS is
	 * BCBA, 4. R = 4/7, P = 4/6, F = 2RP / (R + P) = 8/13. */
	check_rouge("b d c a b a", "a b c b d a b", 4.0 / 7, 4.0 / 6, 8.0 / 13, "CLRS 15.4");
	/* Unequal lengths: "the cat on mat" is a subsequence of the reference:
	 * R = 4/6, P = 1, F = 2 * (2/3) / (5/3) = 0.8. */
	check_rouge("the cat on mat", "the cat sat on the mat", 4.0 / 6, 1, 0.8, "subsequence");
	/* UTF-8 letters are part of words: café is not cafe. */
	check_rouge("café au lait", "cafe au lait", 2.0 / 3, 2.0 / 3, 2.0 / 3, "UTF-8 words");
	check_rouge("ModuleNotFoundError: No module named 'cv2'",
	            "modulenotfounderror no module named cv2", 1, 1, 1, "identifiers as tokens");

	/* Past DEVAL_ROUGE_MAX_TOKENS tokens the texts are cut: both the same
	 * long text then still score 1, quickly. */
	a = malloc(3 * (DEVAL_ROUGE_MAX_TOKENS + 100) + 1);
	b = malloc(3 * (DEVAL_ROUGE_MAX_TOKENS + 100) + 1);
	if (!a || !b)
		exit(99);
	for (i = 0; i < DEVAL_ROUGE_MAX_TOKENS + 100; i++) {
		memcpy(a + 3 * i, i % 2 ? "x1 " : "y2 ", 3);
		memcpy(b + 3 * i, i % 2 ? "x1 " : "y2 ", 3);
	}
	a[3 * (DEVAL_ROUGE_MAX_TOKENS + 100)] = b[3 * (DEVAL_ROUGE_MAX_TOKENS + 100)] = '\0';
	check_rouge(a, b, 1, 1, 1, "long texts are cut at the token cap");
	free(a);
	free(b);
}

/* ---------------------------------------------------------------- cases */

static void parse_ok(const char *line, struct deval_case *c, const char *name)
{
	char *error = NULL;
	int rc = deval_parse_case(line, strlen(line), c, &error);

	if (!tap_ok(rc == 0, "parses: %s", name))
		tap_diag("%s", error ? error : "(no error)");
	free(error);
}

static void parse_bad(const char *line, const char *want_error)
{
	struct deval_case c;
	char *error = NULL;
	int rc = deval_parse_case(line, strlen(line), &c, &error);

	if (!tap_ok(rc == -EINVAL && error && strstr(error, want_error), "refused: %s", line))
		tap_diag("rc %d, error '%s', want '%s'", rc, error ? error : "(none)", want_error);
	tap_ok(c.name == NULL && c.remedy == NULL, "  and holds nothing");
	free(error);
}

static void test_parse(void)
{
	struct deval_case c;

	parse_ok("{\"name\": \"n\", \"text\": \"t\\n\", \"exception\": null}", &c, "minimal");
	tap_is_str(c.kind, "command", "kind defaults to command");
	tap_ok(c.exception == NULL && c.remedy == NULL && c.page == NULL && c.reference == NULL,
	       "optional fields absent");
	deval_case_release(&c);

	parse_ok("{\"name\": \"ray\", \"text\": \"x\", \"kind\": \"notebook\", \"exception\": "
	         "\"GetTimeoutError\", \"remedy\": [\"ray\", \"status\"], \"page\": "
	         "\"ray-core/objects.rst#fetching-object-data\", \"reference\": \"Raise the "
	         "timeout.\", \"context\": {\"cwd\": \"/tmp\"}, \"note\": \"\"}", &c, "full");
	tap_is_str(c.kind, "notebook", "kind");
	tap_is_str(c.exception, "GetTimeoutError", "exception");
	tap_ok(json_is_array(c.remedy) && json_array_size(c.remedy) == 2, "remedy array");
	tap_is_str(c.page_source, "ray-core/objects.rst#fetching-object-data", "page as written");
	tap_is_str(c.page, "ray-core/objects", "page key without extension");
	tap_is_str(c.anchor, "fetching-object-data", "anchor");
	tap_is_str(c.reference, "Raise the timeout.", "reference");
	tap_ok(json_is_object(c.context), "context");
	deval_case_release(&c);

	parse_ok("{\"name\": \"s\", \"text\": \"x\", \"exception\": \"E\", \"remedy\": \"pip "
	         "install requests\", \"page\": \"a/b\"}", &c, "remedy string, page without anchor");
	tap_ok(json_is_string(c.remedy), "remedy string");
	tap_ok(c.anchor == NULL, "no anchor");
	deval_case_release(&c);

	parse_bad("{\"name\": \"n\", \"text\": ", "not valid JSON");
	parse_bad("[1, 2]", "expected a JSON object");
	parse_bad("{\"text\": \"t\", \"exception\": null}", "'name'");
	parse_bad("{\"name\": \"\", \"text\": \"t\", \"exception\": null}", "'name'");
	parse_bad("{\"name\": \"n\", \"text\": \"\", \"exception\": null}", "'text'");
	parse_bad("{\"name\": \"n\", \"text\": \"t\"}", "'exception' is required");
	parse_bad("{\"name\": \"n\", \"text\": \"t\", \"exception\": 3}", "'exception' must be");
	parse_bad("{\"name\": \"n\", \"text\": \"t\", \"exception\": \"\"}", "'exception' must be");
	parse_bad("{\"name\": \"n\", \"text\": \"t\", \"kind\": \"shell\", \"exception\": null}",
	          "'kind'");
	parse_bad("{\"name\": \"n\", \"text\": \"t\", \"exception\": \"E\", \"remedy\": []}",
	          "'remedy'");
	parse_bad("{\"name\": \"n\", \"text\": \"t\", \"exception\": \"E\", \"remedy\": [\"a\", 1]}",
	          "'remedy'");
	parse_bad("{\"name\": \"n\", \"text\": \"t\", \"exception\": \"E\", \"page\": \"#x\"}",
	          "'page'");
	parse_bad("{\"name\": \"n\", \"text\": \"t\", \"exception\": \"E\", \"page\": \"./#x\"}",
	          "names no page");
	parse_bad("{\"name\": \"n\", \"text\": \"t\", \"exception\": \"E\", \"reference\": 1}",
	          "'reference'");
	parse_bad("{\"name\": \"n\", \"text\": \"t\", \"exception\": \"E\", \"context\": []}",
	          "'context'");
	parse_bad("{\"name\": \"n\", \"text\": \"t\", \"exception\": null, \"remedy\": \"x\"}",
	          "need an 'exception'");
	parse_bad("{\"name\": \"n\", \"text\": \"t\", \"exception\": null, \"refrence\": \"x\"}",
	          "unknown key");
	parse_bad("{\"name\": \"n\", \"name\": \"m\", \"text\": \"t\", \"exception\": null}",
	          "not valid JSON");
}

/* ---------------------------------------------------------------- matching */

static void test_exceptions(void)
{
	static const struct { const char *want, *got; bool match; } t[] = {
		{ "ModuleNotFoundError", "ModuleNotFoundError", true },
		{ "GetTimeoutError", "ray.exceptions.GetTimeoutError", true },
		{ "ray.exceptions.GetTimeoutError", "GetTimeoutError", true },
		{ "RayTaskError", "ray.exceptions.RayTaskError(ZeroDivisionError)", true },
		{ "RayTaskError(ZeroDivisionError)", "ray.exceptions.RayTaskError(ZeroDivisionError)", true },
		{ "RayTaskError(ValueError)", "ray.exceptions.RayTaskError(ZeroDivisionError)", false },
		{ "ZeroDivisionError", "ray.exceptions.RayTaskError(ZeroDivisionError)", false },
		{ "OutOfMemoryError", "torch.cuda.OutOfMemoryError", true },
		{ "Error", "ValueError", false },
		{ "ValueError", "ValueErrors", false },
		{ "CommandNotFound", "CommandNotFound", true },
		{ "ImportError", "ModuleNotFoundError", false },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		tap_ok(deval_exception_matches(t[i].want, t[i].got) == t[i].match,
		       "exception %s %s %s", t[i].want, t[i].match ? "matches" : "does not match",
		       t[i].got);
	tap_ok(!deval_exception_matches(NULL, "ValueError"), "no expected exception matches nothing");
	tap_ok(!deval_exception_matches("ValueError", NULL), "nothing found matches nothing");
}

static void check_remedy(const char *want, const char *argv, bool match)
{
	json_t *w = json_loads(want, JSON_DECODE_ANY, NULL);
	json_t *a = json_loads(argv, 0, NULL);

	tap_ok(deval_remedy_matches(w, a) == match, "remedy %s %s %s", want,
	       match ? "matches" : "does not match", argv);
	json_decref(w);
	json_decref(a);
}

static void test_remedies(void)
{
	const char *pip = "[\"/home/u/.venv/bin/python3\", \"-m\", \"pip\", \"install\", \"opencv-python\"]";

	check_remedy("\"pip install opencv-python\"", pip, true);
	check_remedy("\"pip install opencv\"", pip, true);        /* a substring, as said */
	check_remedy("\"pip install cv2\"", pip, false);
	check_remedy("[\"python3\", \"-m\", \"pip\", \"install\", \"opencv-python\"]", pip, true);
	check_remedy("[\"/usr/bin/python3\", \"-m\", \"pip\", \"install\", \"opencv-python\"]", pip,
	             false);
	check_remedy("[\"python3\", \"-m\", \"pip\", \"install\"]", pip, false);
	check_remedy("[\"python3\", \"-m\", \"pip\", \"install\", \"opencv\"]", pip, false);
	check_remedy("[\"apt-get\", \"install\", \"-y\", \"ripgrep\"]",
	             "[\"apt-get\", \"install\", \"-y\", \"ripgrep\"]", true);
	check_remedy("[\"install\", \"-y\", \"ripgrep\"]",
	             "[\"apt-get\", \"install\", \"-y\", \"ripgrep\"]", false);
	check_remedy("\"ripgrep\"", "[]", false);
}

static void check_cites(const char *page, const char *ref, int want)
{
	char line[512];
	struct deval_case c;
	char *error = NULL;
	json_t *r = json_loads(ref, JSON_DECODE_ANY, NULL);
	int got;

	snprintf(line, sizeof(line), "{\"name\": \"n\", \"text\": \"t\", \"exception\": \"E\", "
	         "\"page\": \"%s\"}", page);
	if (deval_parse_case(line, strlen(line), &c, &error) < 0) {
		tap_ok(0, "case for %s", page);
		free(error);
		json_decref(r);
		return;
	}
	got = deval_reference_cites(&c, r);
	if (!tap_ok(got == want, "%s cites %s: %d", ref, page, want))
		tap_diag("got %d", got);
	deval_case_release(&c);
	json_decref(r);
}

static void test_references(void)
{
	const char *p = "ray-core/fault_tolerance/objects.rst#understanding-objectlosterrors";

	check_cites(p, "{\"page\": \"ray-core/fault_tolerance/objects.rst\", "
	            "\"anchor\": \"understanding-objectlosterrors\", \"title\": \"x\"}", 2);
	check_cites(p, "{\"page\": \"ray-core/fault_tolerance/objects.rst\", \"anchor\": \"other\"}", 1);
	check_cites(p, "{\"page\": \"ray-core/fault_tolerance/objects\"}", 1);
	check_cites(p, "{\"page\": \"ray-core/objects.rst\", "
	            "\"anchor\": \"understanding-objectlosterrors\"}", 0);
	check_cites(p, "\"ray-core/fault_tolerance/objects.rst#understanding-objectlosterrors\"", 2);
	check_cites(p, "\"https://docs.ray.io/en/latest/ray-core/fault_tolerance/objects.html"
	            "#understanding-objectlosterrors\"", 2);
	check_cites(p, "\"https://docs.ray.io/en/latest/ray-core/fault_tolerance/objects.html\"", 1);
	check_cites(p, "\"https://docs.ray.io/en/latest/ray-core/fault_tolerance/objects/\"", 1);
	check_cites(p, "\"https://example.org/xray-core/fault_tolerance/objects.html\"", 0);
	check_cites(p, "{\"url\": \"https://docs.ray.io/en/latest/ray-core/fault_tolerance/objects.html\"}", 1);
	check_cites(p, "\"fault_tolerance/objects.rst\"", 0);    /* shorter is not the page */
	check_cites(p, "42", 0);
	check_cites("ray-core/scheduling/ray-oom-prevention", "\"https://docs.ray.io/en/latest/"
	            "ray-core/scheduling/ray-oom-prevention.html\"", 1);
	check_cites("ray-core/scheduling/ray-oom-prevention", "{\"page\": "
	            "\"ray-core/scheduling/ray-oom-prevention.rst\", \"anchor\": \"x\"}", 1);
}

/* ---------------------------------------------------------------- scoring */

static json_t *load(const char *text)
{
	json_error_t e;
	json_t *v = json_loads(text, 0, &e);

	if (!v) {
		tap_diag("bad test JSON: %s", e.text);
		exit(99);
	}
	return v;
}

static void parse_or_die(const char *line, struct deval_case *c)
{
	char *error = NULL;

	if (deval_parse_case(line, strlen(line), c, &error) < 0) {
		tap_diag("bad test case: %s", error ? error : "?");
		exit(99);
	}
}

/* Two incidents in one case: the expected one second; the plugin's
 * diagnosis of it first with nothing, then the agent's. */
static void test_score_agent(struct deval_totals *t)
{
	struct deval_case c;
	struct deval_score s;
	json_t *incidents = load("[{\"id\": 4, \"exception\": \"ValueError\"},"
	                         " {\"id\": 7, \"exception\": \"ray.exceptions.GetTimeoutError\"}]");
	json_t *done = load("[{\"incident\": 7, \"diagnoses\": []},"
	                    " {\"incident\": 99, \"diagnoses\": [{\"plugin\": \"other\", \"summary\": "
	                    "\"ray get timed out\", \"remedies\": [{\"argv\": [\"ray\", \"status\"]}]}]},"
	                    " {\"incident\": 4, \"diagnoses\": [{\"plugin\": \"p\", \"summary\": \"a value\","
	                    " \"explanation\": \"\", \"references\": [\"https://docs.ray.io/en/latest/"
	                    "ray-core/objects.html\"]}]},"
	                    " {\"incident\": 7, \"run\": 3, \"citations\": [{\"page\": "
	                    "\"ray-core/objects.rst\", \"anchor\": \"fetching-object-data\"}],"
	                    " \"diagnoses\": [{\"plugin\": \"agent\", \"summary\": "
	                    "\"ray get timed out\", \"explanation\": \"the task is slow\", "
	                    "\"references\": [{\"page\": \"ray-core/tasks.rst\", \"anchor\": "
	                    "\"waiting-for-partial-results\"}], \"remedies\": []}]}]");
	json_t *proposed = load("[{\"incident\": 99, \"argv\": [\"ray\", \"status\"]},"
	                        " {\"incident\": 7, \"argv\": [\"ray\", \"memory\"]}]");
	struct deval_observed o = { incidents, done, proposed, false };
	json_t *r = NULL;

	parse_or_die("{\"name\": \"timeout\", \"text\": \"x\", \"exception\": \"GetTimeoutError\","
	             " \"remedy\": \"ray status\", \"page\": \"ray-core/objects.rst#fetching-object-data\","
	             " \"reference\": \"The ray get timed out because the task is slow\"}", &c);
	tap_is_int(deval_score_case(&c, 12, &o, &s, &r), 0, "agent case scored");
	tap_ok(s.detected, "detected");
	tap_is_int(s.exception, DEVAL_RIGHT, "the second incident has the exception");
	tap_is_int(s.remedy, DEVAL_WRONG, "another incident's remedy does not count");
	tap_is_int(s.page, DEVAL_RIGHT, "the page cited by the other incident's diagnosis counts");
	tap_is_int(s.section, DEVAL_RIGHT, "the section cited by the agent's run counts");
	/* best: the agent's; "ray get timed out\n\nthe task is slow" (8 tokens)
	 * against "The ray get timed out because the task is slow" (10): all 8
	 * in order, so R = 0.8, P = 1, F = 1.6 / 1.8 = 8/9 */
	tap_ok(s.has_rouge, "ROUGE-L scored");
	is_real(s.rouge.recall, 0.8, "ROUGE-L recall of the agent's diagnosis");
	is_real(s.rouge.precision, 1, "ROUGE-L precision");
	is_real(s.rouge.f1, 8.0 / 9, "ROUGE-L F1");
	tap_is_str(json_string_value(json_object_get(json_object_get(r, "best"), "plugin")), "agent",
	           "best diagnosis is the agent's");
	tap_is_int(json_integer_value(json_object_get(r, "line")), 12, "record: line");
	tap_is_int(json_array_size(json_object_get(r, "found")), 2, "record: two exceptions found");
	tap_is_int(json_array_size(json_object_get(r, "remedies")), 1,
	           "record: the case's one remedy (ray memory)");
	tap_is_int(json_array_size(json_object_get(r, "cited")), 3, "record: three references");
	tap_ok(json_is_false(json_object_get(r, "remedy")) && json_is_true(json_object_get(r, "page")),
	       "record: marks");
	deval_add(t, &s);
	json_decref(r);
	deval_case_release(&c);
	json_decref(incidents);
	json_decref(done);
	json_decref(proposed);
}

/* A rule-known error: remedy by argv, no page or reference. */
static void test_score_rule(struct deval_totals *t)
{
	struct deval_case c;
	struct deval_score s;
	json_t *incidents = load("[{\"id\": 1, \"exception\": \"ModuleNotFoundError\"}]");
	json_t *done = load("[{\"incident\": 1, \"diagnoses\": [{\"plugin\": \"python.missing_module\","
	                    " \"summary\": \"s\", \"remedies\": [{\"argv\": [\"/usr/bin/python3\", \"-m\","
	                    " \"pip\", \"install\", \"scikit-learn\"]}]}]}]");
	json_t *proposed = json_array();
	struct deval_observed o = { incidents, done, proposed, true };
	json_t *r = NULL;

	parse_or_die("{\"name\": \"sk\", \"text\": \"x\", \"exception\": \"ModuleNotFoundError\","
	             " \"remedy\": [\"python3\", \"-m\", \"pip\", \"install\", \"scikit-learn\"]}", &c);
	tap_is_int(deval_score_case(&c, 3, &o, &s, &r), 0, "rule case scored");
	tap_is_int(s.exception, DEVAL_RIGHT, "exception");
	tap_is_int(s.remedy, DEVAL_RIGHT, "remedy from the diagnosis");
	tap_is_int(s.page, DEVAL_NA, "page not scored");
	tap_is_int(s.section, DEVAL_NA, "section not scored");
	tap_ok(!s.has_rouge && json_is_null(json_object_get(r, "rouge_l")), "ROUGE-L not scored");
	tap_ok(json_is_true(json_object_get(r, "timed_out")), "timed out is recorded");
	deval_add(t, &s);
	json_decref(r);
	deval_case_release(&c);
	json_decref(incidents);
	json_decref(done);
	json_decref(proposed);
}

/* Outputs without errors, and an error nothing detected. */
static void test_score_clean(struct deval_totals *t)
{
	struct deval_case quiet, missed;
	struct deval_score s;
	json_t *none = json_array(), *one = load("[{\"id\": 2, \"exception\": \"CommandNotFound\"}]");
	struct deval_observed nothing = { none, none, none, false };
	struct deval_observed found = { one, none, none, false };
	json_t *r = NULL;

	parse_or_die("{\"name\": \"tqdm\", \"text\": \"x\", \"exception\": null}", &quiet);
	parse_or_die("{\"name\": \"m\", \"text\": \"x\", \"exception\": \"KeyError\", "
	             "\"reference\": \"a key is missing\", \"remedy\": \"x\"}", &missed);

	deval_score_case(&quiet, 1, &nothing, &s, &r);
	tap_ok(s.detected && s.exception == DEVAL_NA, "no error, nothing detected: right");
	deval_add(t, &s);
	json_decref(r);
	deval_score_case(&quiet, 1, &found, &s, &r);
	tap_ok(!s.detected, "no error, something detected: wrong");
	deval_add(t, &s);
	json_decref(r);
	deval_score_case(&missed, 2, &nothing, &s, &r);
	tap_ok(!s.detected && s.exception == DEVAL_WRONG && s.remedy == DEVAL_WRONG,
	       "an error not detected: every stage wrong");
	tap_ok(s.has_rouge && s.rouge.f1 == 0, "no diagnosis scores ROUGE-L 0");
	tap_ok(json_is_null(json_object_get(r, "best")), "record: no best diagnosis");
	deval_add(t, &s);
	json_decref(r);
	deval_case_release(&quiet);
	deval_case_release(&missed);
	json_decref(none);
	json_decref(one);
}

static double stage_value(const json_t *report, const char *stage, const char *key)
{
	const json_t *v = json_object_get(json_object_get(json_object_get(report, "stages"), stage), key);

	return json_is_null(v) ? -1 : json_number_value(v);
}

static void test_totals(void)
{
	struct deval_totals t = { 0 };
	json_t *report;

	test_score_agent(&t);
	test_score_rule(&t);
	test_score_clean(&t);
	tap_is_int(t.cases, 5, "5 cases counted");
	tap_ok(t.errors == 3 && t.errors_found == 2, "errors: 3, 2 found");
	tap_ok(t.clean == 2 && t.clean_quiet == 1, "no error: 2, 1 quiet");
	tap_ok(t.remedy_cases == 3 && t.remedy_right == 1, "remedy: 1 of 3");
	tap_ok(t.page_cases == 1 && t.page_right == 1, "page: 1 of 1");
	tap_ok(t.section_cases == 1 && t.section_right == 1, "section: 1 of 1");
	tap_is_int(t.rouge_cases, 2, "ROUGE-L over the 2 cases with a reference");
	tap_is_int(t.timed_out, 1, "1 timed out");

	report = deval_report(&t, 2, json_array());
	tap_ok(report != NULL, "report");
	tap_is_int(json_integer_value(json_object_get(report, "malformed")), 2, "report: malformed");
	is_real(stage_value(report, "detected", "share"), 3.0 / 5, "report: detected share");
	is_real(stage_value(report, "exception", "share"), 2.0 / 3, "report: exception share");
	is_real(stage_value(report, "remedy", "share"), 1.0 / 3, "report: remedy share");
	is_real(stage_value(report, "section", "share"), 1, "report: section share");
	is_real(stage_value(report, "rouge_l", "recall"), 0.4, "report: mean ROUGE-L recall");
	tap_is_int(json_integer_value(json_object_get(json_object_get(json_object_get(
	           json_object_get(report, "stages"), "detected"), "clean"), "right")), 1,
	           "report: clean outputs left quiet");
	tap_ok(json_is_array(json_object_get(report, "results")), "report: results");
	json_decref(report);

	memset(&t, 0, sizeof(t));
	report = deval_report(&t, 0, NULL);
	tap_ok(report && stage_value(report, "page", "share") < 0 &&
	       stage_value(report, "rouge_l", "f1") < 0, "no case: shares and means are null");
	json_decref(report);
	is_real(deval_share(1, 4), 0.25, "share");
	is_real(deval_share(0, 0), -1, "share of nothing");
}

int main(void)
{
	test_rouge();
	test_parse();
	test_exceptions();
	test_remedies();
	test_references();
	test_totals();
	return tap_done();
}
