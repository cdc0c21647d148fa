/*
 * cmd_eval.c - `doctor eval retrieval QUESTIONS.jsonl`: how well the
 * daemon's documentation search finds the page (and section) that answers
 * each question of a file, as recall@k and MRR (client/retrieval_eval.h has
 * the definitions, docs/retrieval.md the method). `doctor eval diagnose`
 * is handed to cmd_eval_diagnose.c.
 *
 * Each question is one docs.search with k = the largest k asked for, on
 * one connection. Lines that are not a question are reported with their
 * number and skipped; the figures are still printed, and the exit status
 * is then 1 so that a script notices.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE     /* asprintf, getline */
#endif
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diagnose_eval.h"
#include "doctor.h"
#include "format.h"
#include "retrieval_eval.h"

#define MISS_SHOWN_HITS 3       /* hits listed for a miss */

struct eval_options {
	unsigned ks[REVAL_MAX_KS];
	size_t nk;
	bool as_json, lexical, show_misses;
	const char *file;
};

struct eval_question {
	struct reval_question q;
	size_t line;
};

struct eval_set {
	struct eval_question *items;   /* owned */
	size_t n, cap;
	size_t malformed;
};

static void set_free(struct eval_set *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		reval_question_release(&s->items[i].q);
	free(s->items);
}

static bool blank(const char *line)
{
	return line[strspn(line, " \t\r\n")] == '\0';
}

/* Read every question of path; malformed lines are reported and counted.
 * Returns an exit status, or -1 to go on. */
static int read_questions(const char *path, struct eval_set *s)
{
	FILE *f = fopen(path, "re");
	char *line = NULL, *error = NULL;
	size_t cap = 0, lineno = 0;
	ssize_t len;
	int rc;

	if (!f) {
		doctor_msg("%s: %s", path, strerror(errno));
		return DOCTOR_EXIT_ERROR;
	}
	while ((len = getline(&line, &cap, f)) >= 0) {
		lineno++;
		if (blank(line))
			continue;
		if (s->n == s->cap) {
			size_t ncap = s->cap ? s->cap * 2 : 64;
			struct eval_question *grown = realloc(s->items, ncap * sizeof(*grown));
			if (!grown)
				break;
			s->items = grown;
			s->cap = ncap;
		}
		rc = reval_parse_question(line, (size_t)len, &s->items[s->n].q, &error);
		if (rc == -ENOMEM)
			break;
		if (rc < 0) {
			char *safe = format_fit(error, 0);
			doctor_msg("%s:%zu: %s; line skipped", path, lineno, safe ? safe : "?");
			free(safe);
			free(error);
			s->malformed++;
			continue;
		}
		s->items[s->n++].line = lineno;
	}
	free(line);
	if (ferror(f) || !feof(f)) {
		doctor_msg("%s: %s", path, ferror(f) ? "read error" : "out of memory");
		fclose(f);
		return DOCTOR_EXIT_ERROR;
	}
	fclose(f);
	if (s->n == 0) {
		doctor_msg("%s: no questions%s", path, s->malformed ? " (every line is malformed)"
		                                                  : " (the file is empty)");
		return DOCTOR_EXIT_ERROR;
	}
	return -1;
}

/* "page#anchor" of hit. Newly allocated. */
static char *hit_name(const json_t *hit)
{
	const char *page = json_string_value(json_object_get(hit, "page"));
	const char *anchor = json_string_value(json_object_get(hit, "anchor"));
	char *out;

	if (asprintf(&out, "%s%s%s", page ? page : "?", anchor && *anchor ? "#" : "",
	             anchor && *anchor ? anchor : "") < 0)
		return NULL;
	return out;
}

/* The miss record of a question: where its page and section came, and
 * the first hits. New reference. */
static json_t *miss_json(const struct eval_question *e, const json_t *hits, size_t page_rank,
                         size_t section_rank)
{
	json_t *top = json_array();
	size_t i;
	char *name;

	for (i = 0; top && i < json_array_size(hits) && i < MISS_SHOWN_HITS; i++) {
		name = hit_name(json_array_get(hits, i));
		json_array_append_new(top, json_string(name ? name : "?"));
		free(name);
	}
	return json_pack("{s:I, s:s, s:s, s:I, s:o, s:o}", "line", (json_int_t)e->line,
	                 "question", e->q.question, "source", e->q.source,
	                 "page_rank", (json_int_t)page_rank,
	                 "section_rank", e->q.anchor ? json_integer((json_int_t)section_rank)
	                                             : json_null(),
	                 "top", top);
}

/* Search for each question and count. *misses gets the questions whose
 * page (or section) was not within the largest k. */
static int evaluate(struct rpc_client *c, const struct eval_options *o,
                    const struct eval_set *s, struct reval_totals *t, json_t *misses)
{
	struct reval_hit *hits = NULL;
	bool warned = false;
	json_t *result, *list, *h;
	const char *note;
	size_t i, j, page_rank, section_rank;
	int rc = 0;

	reval_init(t, o->ks, o->nk);
	for (i = 0; rc == 0 && i < s->n; i++) {
		const struct eval_question *e = &s->items[i];

		rc = doctor_call(c, "docs.search", json_pack("{s:s, s:I, s:b}", "query",
		                 e->q.question, "k", (json_int_t)o->ks[o->nk - 1],
		                 "lexical_only", o->lexical), &result);
		if (rc < 0)
			break;
		if ((note = json_string_value(json_object_get(result, "hint")))) {
			doctor_msg("%s", note);
			json_decref(result);
			return -ENOENT;
		}
		if (!warned && (note = json_string_value(json_object_get(result, "warning")))) {
			doctor_msg("warning: %s", note);
			warned = true;
		}
		list = json_object_get(result, "hits");
		hits = calloc(json_array_size(list) + 1, sizeof(*hits));
		if (!hits) {
			json_decref(result);
			return -ENOMEM;
		}
		json_array_foreach(list, j, h) {
			hits[j].page = json_string_value(json_object_get(h, "page"));
			hits[j].anchor = json_string_value(json_object_get(h, "anchor"));
		}
		page_rank = reval_rank(&e->q, hits, json_array_size(list), false);
		section_rank = reval_rank(&e->q, hits, json_array_size(list), true);
		reval_add(t, page_rank, section_rank, e->q.anchor != NULL);
		if (!page_rank || (e->q.anchor && !section_rank))
			json_array_append_new(misses, miss_json(e, list, page_rank, section_rank));
		free(hits);
		json_decref(result);
	}
	return rc;
}

static json_t *figure(double v)
{
	return v < 0 ? json_null() : json_real(v);
}

static json_t *totals_json(const struct eval_options *o, const struct eval_set *s,
                           const struct reval_totals *t, json_t *misses)
{
	json_t *ks = json_object(), *out;
	char key[16];
	size_t i;

	for (i = 0; i < t->nk; i++) {
		snprintf(key, sizeof(key), "%u", t->ks[i]);
		json_object_set_new(ks, key, json_pack("{s:o, s:o}", "page",
		                    figure(reval_recall(t, i, false)), "section",
		                    figure(reval_recall(t, i, true))));
	}
	out = json_pack("{s:I, s:I, s:I, s:b, s:o, s:{s:o, s:o}}", "questions",
	                (json_int_t)t->questions, "anchored", (json_int_t)t->anchored,
	                "malformed", (json_int_t)s->malformed, "lexical", o->lexical,
	                "k", ks, "mrr", "page", figure(reval_mrr(t, false)),
	                "section", figure(reval_mrr(t, true)));
	if (out && o->show_misses)
		json_object_set(out, "misses", misses);
	return out;
}

/* One column of the table; the last is not padded. */
static void put_figure(double v, bool last)
{
	if (v < 0)
		printf(last ? "  %s" : "  %-14s", "-");
	else
		printf(last ? "  %.3f" : "  %-14.3f", v);
}

static void print_misses(const json_t *misses)
{
	const json_t *m, *top, *name;
	size_t i, j;
	char *safe;

	printf("\nmisses (%zu):\n", json_array_size(misses));
	json_array_foreach(misses, i, m) {
		safe = format_fit(json_string_value(json_object_get(m, "question")), 0);
		printf("  line %" JSON_INTEGER_FORMAT ": %s\n",
		       json_integer_value(json_object_get(m, "line")), safe ? safe : "?");
		free(safe);
		safe = format_fit(json_string_value(json_object_get(m, "source")), 0);
		printf("    want %s (page %s)\n    got ", safe ? safe : "?",
		       json_integer_value(json_object_get(m, "page_rank")) ? "found, section not"
		                                                         : "not found");
		free(safe);
		top = json_object_get(m, "top");
		json_array_foreach(top, j, name) {
			safe = format_fit(json_string_value(name), 0);
			printf("%s%s", j ? ", " : "", safe ? safe : "?");
			free(safe);
		}
		printf("%s\n", json_array_size(top) ? "" : "nothing");
	}
}

static void print_totals(const struct eval_options *o, const struct eval_set *s,
                         const struct reval_totals *t, const json_t *misses)
{
	size_t i;

	printf("questions %zu (%zu with an anchor", t->questions, t->anchored);
	if (s->malformed)
		printf("; %zu malformed line%s skipped", s->malformed, s->malformed == 1 ? "" : "s");
	printf(")%s\n\n", o->lexical ? ", lexical search only" : "");
	printf("%-6s  %-14s  %s\n", "k", "page recall", "section recall");
	for (i = 0; i < t->nk; i++) {
		printf("%-6u", t->ks[i]);
		put_figure(reval_recall(t, i, false), false);
		put_figure(reval_recall(t, i, true), true);
		putchar('\n');
	}
	printf("%-6s", "MRR");
	put_figure(reval_mrr(t, false), false);
	put_figure(reval_mrr(t, true), true);
	printf("   (within the first %u hits)\n", t->ks[t->nk - 1]);
	if (o->show_misses)
		print_misses(misses);
}

static int eval_parse(int argc, char **argv, struct eval_options *o)
{
	static const struct option options[] = {
		{ "k", required_argument, NULL, 'k' },
		{ "json", no_argument, NULL, 'j' },
		{ "lexical", no_argument, NULL, 'l' },
		{ "show-misses", no_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const struct doctor_command *cmd = &cmd_eval_entry;
	static const unsigned default_ks[] = { 1, 3, 5, 10 };
	int opt;

	memcpy(o->ks, default_ks, sizeof(default_ks));
	o->nk = 4;
	while ((opt = getopt_long(argc, argv, "k:h", options, NULL)) != -1) {
		switch (opt) {
		case 'k':
			if (reval_parse_ks(optarg, o->ks, &o->nk) < 0)
				return doctor_usage_error(cmd, "--k: expected distinct numbers from 1 "
				                          "to %d separated by commas (at most %d), "
				                          "got '%s'", REVAL_K_MAX, REVAL_MAX_KS, optarg);
			break;
		case 'j':
			o->as_json = true;
			break;
		case 'l':
			o->lexical = true;
			break;
		case 'm':
			o->show_misses = true;
			break;
		case 'h':
			return doctor_command_help(cmd);
		default:
			return doctor_bad_option(cmd);
		}
	}
	if (optind >= argc || strcmp(argv[optind], "retrieval") != 0)
		return doctor_usage_error(cmd, "eval: expected 'retrieval' then "
		                          "QUESTIONS.jsonl, or 'diagnose' then CASES.jsonl");
	if (argc - optind != 2)
		return doctor_usage_error(cmd, "eval retrieval: expected one QUESTIONS.jsonl");
	o->file = argv[optind + 1];
	return -1;
}

static int cmd_eval(const struct doctor_globals *g, int argc, char **argv)
{
	struct eval_options o = { 0 };
	struct eval_set s = { 0 };
	struct reval_totals t;
	struct rpc_client *c = NULL;
	json_t *misses, *out;
	int status, rc;

	if (argc >= 2 && strcmp(argv[1], "diagnose") == 0)
		return cmd_eval_diagnose(g, argc - 1, argv + 1);
	misses = json_array();
	status = eval_parse(argc, argv, &o);
	if (status < 0)
		status = read_questions(o.file, &s);
	if (status >= 0)
		goto done;
	if (doctor_connect(g, &c) < 0) {
		status = DOCTOR_EXIT_NO_DAEMON;
		goto done;
	}
	rc = evaluate(c, &o, &s, &t, misses);
	if (rc < 0) {
		status = rc == -ENOENT ? DOCTOR_EXIT_ERROR : doctor_exit_status(rc);
		goto done;
	}
	if (o.as_json) {
		out = totals_json(&o, &s, &t, misses);
		status = out && doctor_print_json(out) == 0 ? DOCTOR_EXIT_OK : DOCTOR_EXIT_ERROR;
		json_decref(out);
	} else {
		print_totals(&o, &s, &t, misses);
		status = DOCTOR_EXIT_OK;
	}
	if (status == DOCTOR_EXIT_OK && s.malformed)
		status = DOCTOR_EXIT_ERROR;
done:
	rpc_client_free(c);
	json_decref(misses);
	set_free(&s);
	return status;
}

const struct doctor_command cmd_eval_entry = {
	.name = "eval",
	.summary = "measure retrieval (recall@k, MRR) or diagnosis (stage by stage)",
	.usage = "doctor eval retrieval [--k 1,3,5,10] [--json] [--lexical] [--show-misses]\n"
	         "                           QUESTIONS.jsonl\n"
	         "  Each line of QUESTIONS.jsonl is {\"question\": ..., \"source\": ...}, the\n"
	         "  source a page path relative to the indexed folder (extension optional)\n"
	         "  with an optional #anchor. Each question is searched for; printed per k:\n"
	         "  the share whose page is among the first k hits (page recall) and whose\n"
	         "  page and anchor are (section recall, over the questions with an\n"
	         "  anchor), then the mean reciprocal rank within the largest k.\n"
	         "  --k LIST       the k to report (default 1,3,5,10)\n"
	         "  --lexical      BM25 only, even when embeddings are configured\n"
	         "  --show-misses  list the questions not found, with the first hits\n"
	         "  --json         {questions, anchored, malformed, k: {\"1\": {page, section}},\n"
	         "                 mrr: {page, section}, misses?}\n"
	         "  Malformed lines are reported and skipped; the exit status is then 1.\n"
	         "\n"
	         "doctor eval diagnose [--timeout SECONDS] [--agent] [--json] [--show-misses]\n"
	         "                     CASES.jsonl\n"
	         "  Each line of CASES.jsonl is {\"name\", \"text\", \"kind\"?, \"exception\",\n"
	         "  \"remedy\"?, \"page\"?, \"reference\"?, \"context\"?}: an output as printed\n"
	         "  and the exception expected (null: no error may be detected), a remedy's\n"
	         "  argv (an array, or a string found in the joined argv), a documentation\n"
	         "  page#anchor a diagnosis should cite, a reference answer. Each text is\n"
	         "  written to a new source of the daemon; printed per stage: the share of\n"
	         "  cases detected right, with the right exception, the right remedy\n"
	         "  proposed, the page (and section) cited, and the mean ROUGE-L of the best\n"
	         "  diagnosis against the reference (docs/evaluation.md).\n"
	         "  --timeout S     wait at most S seconds per case for its diagnoses (60)\n"
	         "  --agent         an LLM is configured: wait for the agent's diagnosis of\n"
	         "                  errors no plugin knows\n"
	         "  --show-misses   list each case with a wrong stage, with what was found\n"
	         "  --json          {cases, malformed, timed_out, stages: {detected,\n"
	         "                  exception, remedy, page, section: {cases, right, share},\n"
	         "                  rouge_l: {cases, recall, precision, f1}}, results}",
	.run = cmd_eval,
};
