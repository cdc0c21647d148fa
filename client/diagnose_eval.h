/*
 * diagnose_eval.h - the figures of `doctor eval diagnose`: reading a case
 * (a recorded output and what the doctor should make of it), scoring what
 * the daemon did with it stage by stage, ROUGE-L, and the report
 * (docs/evaluation.md has the method).
 *
 * A case is one line of JSON Lines:
 *   {"name", "text", "kind"?: "command"|"notebook"|"log" (command),
 *    "exception": "Type" or null, "remedy"?: [argv..] or "substring",
 *    "page"?: "path/page[.ext][#anchor]", "reference"?: "answer",
 *    "context"?: {source.open's context}, "note"?: "free text"}
 * exception null means no error may be detected; remedy, page and
 * reference need an exception.
 *
 * The stages of a case, each scored only when the case has its field:
 *  - detected (every case): an error was detected, or for exception null,
 *    none was;
 *  - exception: one of the incidents has the expected exception: the same
 *    class name once a module prefix is dropped ("ray.exceptions.X" is
 *    "X"), and a wrapper's cause may be left out ("RayTaskError" matches
 *    "RayTaskError(ValueError)");
 *  - remedy: one remedy proposed in any diagnosis of the case's incidents
 *    has the expected argv (same length, equal arguments; the first
 *    compared by its base name when the expected one has no '/': "python3"
 *    matches "/usr/bin/python3"), or, for a string, its argv joined with
 *    single spaces contains it;
 *  - page / section: a reference or citation of any diagnosis names the
 *    page (extension stripped, as retrieval_eval.h compares pages; a URL or
 *    a longer path ending in "/" + page counts), and for section also its
 *    anchor; section is scored over the cases whose page has an anchor;
 *  - ROUGE-L between the best diagnosis's summary and explanation and the
 *    reference: the first diagnosis of the last non-empty diagnosis.done
 *    for the case's main incident (the first with the expected exception,
 *    else the first); no diagnosis scores 0.
 *
 * ROUGE-L (Lin, 2004): the longest common subsequence (LCS) of the two
 * texts' tokens, lower-cased runs of ASCII letters and digits (bytes of
 * UTF-8 characters count as letters); recall = LCS / reference tokens,
 * precision = LCS / candidate tokens, F1 their harmonic mean (0 when the
 * LCS is empty). Each text counts its first DEVAL_ROUGE_MAX_TOKENS tokens.
 *
 * No I/O; unit-tested in tests/unit/test_diagnose_eval.c. json_t
 * arguments are borrowed unless a comment says otherwise; functions return
 * 0 or a negative errno unless they say otherwise.
 */
#ifndef DOCTOR_DIAGNOSE_EVAL_H
#define DOCTOR_DIAGNOSE_EVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#define DEVAL_ROUGE_MAX_TOKENS 4096

/* One case. */
struct deval_case {
	char *name;             /* owned */
	char *text;             /* the output, as printed; owned */
	char *kind;             /* "command", "notebook" or "log"; owned */
	char *exception;        /* NULL: no error may be detected; owned */
	json_t *remedy;         /* NULL, a string or an array of strings; owned */
	char *page_source;      /* "page" as written; NULL when none; owned */
	char *page;             /* its page key (retrieval_eval.h); owned */
	char *anchor;           /* NULL when none; owned */
	char *reference;        /* NULL when none; owned */
	json_t *context;        /* NULL or an object; owned */
};

/* Parse one line. -EINVAL with *error (newly allocated) saying what is
 * wrong, -ENOMEM; c then holds nothing. */
int deval_parse_case(const char *line, size_t len, struct deval_case *c, char **error);
void deval_case_release(struct deval_case *c);

/* ------------------------------------------------------------ matching */

/* Whether the detected exception got is the expected want (above). */
bool deval_exception_matches(const char *want, const char *got);

/* Whether argv (an array of strings) is the expected want (a string or an
 * array, above). */
bool deval_remedy_matches(const json_t *want, const json_t *argv);

/* What one reference or citation names of c's page: 0 not its page, 1 its
 * page, 2 its page and anchor (only when c has an anchor). ref is a
 * string ("page#anchor", a URL) or an object with "page" (or "url") and
 * optional "anchor". */
int deval_reference_cites(const struct deval_case *c, const json_t *ref);

/* ------------------------------------------------------------ ROUGE-L */

struct deval_rouge {
	double recall, precision, f1;
};

/* ROUGE-L of candidate against reference (both NUL-terminated). Either
 * empty of tokens gives all 0. -ENOMEM. */
int deval_rouge_l(const char *candidate, const char *reference, struct deval_rouge *out);

/* ------------------------------------------------------------ scoring */

/* What the daemon did with a case's output. All borrowed. */
struct deval_observed {
	const json_t *incidents;  /* [summary] of the source (source.close) */
	const json_t *done;       /* [diagnosis.done params] received, in order
	                             ({incident, diagnoses}); others' ignored */
	const json_t *proposed;   /* [remedy] of remedy.proposed ({incident, argv}) */
	bool timed_out;           /* some diagnosis did not come in time */
};

/* One stage's score: not scored (the case lacks the field), wrong, right. */
enum deval_mark { DEVAL_NA = -1, DEVAL_WRONG = 0, DEVAL_RIGHT = 1 };

struct deval_score {
	bool detected;                    /* the detected stage is right */
	enum deval_mark exception, remedy, page, section;
	bool has_rouge;                   /* the case has a reference */
	struct deval_rouge rouge;
	bool timed_out;
};

/* Score case c from what was observed; *result (new reference) gets the
 * case's record for the report: {line, name, kind, timed_out, found:
 * [exception], incidents: [id], detected, exception, remedy, page,
 * section (true|false|null), rouge_l: {recall, precision, f1}|null, best:
 * {plugin, summary}|null, remedies: [argv joined], cited: [text], want:
 * {exception, remedy?, page?}}. line: the case's line in its file. */
int deval_score_case(const struct deval_case *c, size_t line, const struct deval_observed *o,
                     struct deval_score *s, json_t **result);

/* The running totals of an evaluation. */
struct deval_totals {
	size_t cases;
	size_t errors, errors_found;      /* cases with an exception; detected */
	size_t clean, clean_quiet;        /* cases without; nothing detected */
	size_t exception_cases, exception_right;
	size_t remedy_cases, remedy_right;
	size_t page_cases, page_right;
	size_t section_cases, section_right;
	size_t rouge_cases;
	double rouge_recall, rouge_precision, rouge_f1;   /* sums */
	size_t timed_out;
};

void deval_add(struct deval_totals *t, const struct deval_score *s);

/* right / cases, or -1 when cases is 0. */
double deval_share(size_t right, size_t cases);

/* The report: {cases, malformed, timed_out, stages: {detected: {cases,
 * right, share, errors: {cases, right}, clean: {cases, right}}, exception,
 * remedy, page, section: {cases, right, share}, rouge_l: {cases, recall,
 * precision, f1}}, results} (share and the means null over no case).
 * results is stolen. New reference; NULL when out of memory. */
json_t *deval_report(const struct deval_totals *t, size_t malformed, json_t *results);

/* ------------------------------------------------------------ the command */

/* `doctor eval diagnose ...` (cmd_eval_diagnose.c), called by cmd_eval.c
 * with argv[0] "diagnose"; returns the exit status. */
struct doctor_globals;
int cmd_eval_diagnose(const struct doctor_globals *g, int argc, char **argv);

#endif
