/*
 * retrieval_eval.h - the figures of `doctor eval retrieval`: for each k,
 * the page-level and section-level hit rates (recall@k), and the mean
 * reciprocal rank, from each question's expected source and the ranked
 * hits a search returned (docs/retrieval.md, "Evaluation").
 *
 * - A question's source is a page path relative to the indexed root, its
 *   extension optional, with an optional "#anchor". Pages are compared with
 *   their documentation extension stripped (.md .markdown .rst .txt .html
 *   .htm .ipynb, any case): "ray-core/tasks" matches "ray-core/tasks.rst".
 * - Page level: a hit counts when it is on the source's page. Section level:
 *   when it is on the page and its anchor is exactly the source's. A
 *   question without an anchor counts at page level only: the section
 *   figures are over the questions that have one.
 * - recall@k: the share of questions with a counting hit among the first k.
 *   MRR: the mean of 1/rank of the first counting hit within the largest k
 *   (0 when there is none).
 *
 * Pure functions (no I/O), unit-tested in tests/unit/test_retrieval_eval.c.
 * Functions return 0 or a negative errno unless they say otherwise.
 */
#ifndef DOCTOR_RETRIEVAL_EVAL_H
#define DOCTOR_RETRIEVAL_EVAL_H

#include <stdbool.h>
#include <stddef.h>

#define REVAL_MAX_KS 16           /* k values in one evaluation */
#define REVAL_K_MAX 1000          /* the largest k (docs.search's bound) */

/* One line of a questions file. */
struct reval_question {
	char *question;           /* owned */
	char *source;             /* as written; owned */
	char *page;               /* the source's page, extension stripped; owned */
	char *anchor;             /* NULL when the source has none; owned */
};

/* Parse one line of JSON Lines: an object with the strings "question" and
 * "source" (other keys are ignored). -EINVAL with *error (newly allocated)
 * saying what is wrong, -ENOMEM; q then holds nothing. */
int reval_parse_question(const char *line, size_t len, struct reval_question *q,
                         char **error);
void reval_question_release(struct reval_question *q);

/* page without a leading "./" or "/" and without its documentation
 * extension. Newly allocated; NULL when out of memory. */
char *reval_page_key(const char *page);

/* A search hit as the evaluation sees it; both strings borrowed, anchor
 * may be NULL or "". */
struct reval_hit {
	const char *page;
	const char *anchor;
};

/* The 1-based rank of the first of hits[0..n) on q's page (with section,
 * also with q's anchor), 0 if none; with section and no anchor in q, 0. */
size_t reval_rank(const struct reval_question *q, const struct reval_hit *hits, size_t n,
                  bool section);

/* "1,3,5,10": distinct values from 1 to REVAL_K_MAX, at most REVAL_MAX_KS
 * of them, into ks[] ascending. -EINVAL on anything else. */
int reval_parse_ks(const char *text, unsigned *ks, size_t *nk);

/* The running counts of one evaluation. */
struct reval_totals {
	unsigned ks[REVAL_MAX_KS];  /* ascending */
	size_t nk;
	size_t questions;           /* counted */
	size_t anchored;            /* of which with an anchor */
	size_t page_hits[REVAL_MAX_KS], section_hits[REVAL_MAX_KS];
	double page_rr, section_rr; /* sums of reciprocal ranks */
};

/* ks: nk ascending values (reval_parse_ks). */
void reval_init(struct reval_totals *t, const unsigned *ks, size_t nk);
/* Count one question: its page found first at page_rank and its section at
 * section_rank (1-based; 0: not found). Ranks past the largest k count as
 * not found. anchored: the question has an anchor (else section_rank is
 * ignored). */
void reval_add(struct reval_totals *t, size_t page_rank, size_t section_rank, bool anchored);
/* recall@ks[i] at page or section level; -1 when nothing was counted at
 * that level. */
double reval_recall(const struct reval_totals *t, size_t i, bool section);
/* MRR at page or section level; -1 when nothing was counted. */
double reval_mrr(const struct reval_totals *t, bool section);

#endif
