/*
 * query.c - a question or an error message turned into a planned FTS5
 * query for doctor_bm25 (rank.c).
 *
 * The terms are the text's words as the index has them (tokenizer.c),
 * English stopwords dropped. An identifier counts whole, and its parts
 * count too but for less (PART_WEIGHT), and only when they are rare:
 * `map_batches` asks for map_batches, and a little for batches, so that
 * `ActorPool` still finds ActorPoolStrategy without an identifier
 * outweighing the words around it. Words stemming alike are one term.
 * Each term is quoted, so FTS5's syntax characters in the text are only
 * ever data, and the terms are OR'ed: BM25 ranks by how many of the
 * rarer ones a chunk holds.
 *
 * Every chunk the query matches is scored, about a microsecond each, and
 * common terms ("ray", "use" in the Ray docs) match most chunks. So the
 * query is (rare terms) AND (all terms): the rare terms are the rarest
 * while the chunks holding them add up to at most TERM_ROW_BUDGET, and at
 * least MIN_RARE_TERMS of them. Only chunks with a rare term are scored,
 * but by all the terms; a chunk holding only common terms would score
 * little anyway, their IDF being low. On the Ray docs this keeps the
 * evaluation's figures and divides the query time by 2.5.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "index_internal.h"

/* Distinct terms a query keeps, in the order they come: a long text (a
 * whole traceback) stops being read there, which bounds the work. */
#define MAX_QUERY_TERMS 48
/* Longer tokens (base64, hashes) are not searched for. */
#define MAX_TERM_BYTES 128
/* On the evaluation set (tests/retrieval, page and section MRR at 10):
 * parts weighing as much as words .831/.704; 0.5: .837/.728; 0.3:
 * .843/.729; 0.1: .841/.725. */
#define PART_WEIGHT 0.3
/* On the Ray docs (3890 chunks), median query time and MRR: no filter
 * 1.06 ms, .842/.726; 1000 rows: 0.63 ms, same; 400: 0.39 ms, .843/.729;
 * 200: 0.29 ms but .836/.724. */
#define TERM_ROW_BUDGET 400
#define MIN_RARE_TERMS 2

/* Words too common in questions to tell chunks apart, folded as the
 * tokenizer folds. Sorted (bsearch). */
static const char *const stopwords[] = {
	"a", "about", "all", "also", "am", "an", "and", "any", "are", "as", "at",
	"be", "been", "but", "by", "can", "could", "did", "do", "does", "doing",
	"for", "from", "get", "got", "had", "has", "have", "how", "i", "if", "in",
	"into", "is", "it", "its", "just", "me", "my", "need", "of", "on", "or",
	"our", "should", "so", "some", "such", "than", "that", "the", "their",
	"them", "then", "there", "these", "they", "this", "those", "to", "us",
	"want", "was", "way", "we", "were", "what", "when", "where", "which",
	"while", "who", "why", "will", "with", "would", "you", "your",
};

struct term {
	char *text;                        /* folded, as in the query; owned */
	char *stem;                        /* as the index has it; owned */
	double weight;
	int64_t df;                        /* chunks holding it; -1: dropped */
	bool df_known;                     /* df from term_df, not a guess */
	bool rare;                         /* in the filter */
};

struct terms {
	struct term v[MAX_QUERY_TERMS];
	size_t n;
	int error;                         /* -ENOMEM */
};

/* The whole words of the text (query mode), before they are split. */
struct words {
	char *v[MAX_QUERY_TERMS];          /* folded; owned */
	size_t start[MAX_QUERY_TERMS];     /* where each first is in the text */
	size_t end[MAX_QUERY_TERMS];
	size_t n;
	int error;
};

static int word_cmp(const void *key, const void *elem)
{
	const char *const *w = elem;

	return strcmp(key, *w);
}

static bool is_stopword(const char *t)
{
	return bsearch(t, stopwords, sizeof(stopwords) / sizeof(stopwords[0]),
		       sizeof(stopwords[0]), word_cmp) != NULL;
}

/* Tokenizer callback: each new whole word, stopwords left out. */
static int add_word(void *ud, const char *tok, size_t len, size_t start, size_t end,
		    bool colocated)
{
	struct words *w = ud;
	char *s;
	size_t i;

	(void)colocated;
	if (len == 0 || len > MAX_TERM_BYTES)
		return 0;
	if (!(s = strndup(tok, len))) {
		w->error = -ENOMEM;
		return 1;
	}
	for (i = 0; i < w->n && strcmp(w->v[i], s) != 0; i++)
		;
	if (i < w->n || is_stopword(s)) {
		free(s);
		return 0;
	}
	w->start[w->n] = start;
	w->end[w->n] = end;
	w->v[w->n++] = s;
	return w->n == MAX_QUERY_TERMS;    /* enough: stop reading */
}

/* Add a term (a copy of s[0..len)) with weight, or raise the weight of the
 * same term already there. 1 when the list is full. */
static int add_term(struct terms *t, const char *s, size_t len, double weight)
{
	size_t i;

	for (i = 0; i < t->n; i++) {
		if (strlen(t->v[i].text) == len && memcmp(t->v[i].text, s, len) == 0) {
			if (t->v[i].weight < weight)
				t->v[i].weight = weight;
			return 0;
		}
	}
	if (t->n == MAX_QUERY_TERMS)
		return 1;
	if (!(t->v[t->n].text = strndup(s, len))) {
		t->error = -ENOMEM;
		return 1;
	}
	t->v[t->n++].weight = weight;
	return 0;
}

/* Tokenizer callback: the parts of an identifier (its whole comes too, and
 * is already a term). */
struct parts {
	struct terms *t;
	const char *whole;
};

static int add_part(void *ud, const char *tok, size_t len, size_t start, size_t end,
		    bool colocated)
{
	struct parts *p = ud;
	char buf[MAX_TERM_BYTES + 1];

	(void)start;
	(void)end;
	(void)colocated;
	if (len == 0 || len > MAX_TERM_BYTES)
		return 0;
	memcpy(buf, tok, len);
	buf[len] = '\0';
	if (strcmp(buf, p->whole) == 0 || is_stopword(buf))
		return 0;
	return add_term(p->t, tok, len, PART_WEIGHT);
}

/* Tokenizer callback: the first token is the stem. */
static int take_stem(void *ud, const char *tok, size_t len, size_t start, size_t end,
		     bool colocated)
{
	char **stem = ud;

	(void)start;
	(void)end;
	(void)colocated;
	*stem = strndup(tok, len);
	return *stem ? 1 : -ENOMEM;
}

static void terms_release(struct terms *t)
{
	while (t->n) {
		t->n--;
		free(t->v[t->n].text);
		free(t->v[t->n].stem);
	}
}

/* The terms of text: its words, then each word's parts (from the word as
 * written: its case tells camelCase parts apart). */
static int collect_terms(docs_index *ix, const char *text, struct terms *t)
{
	struct words w = { .n = 0 };
	struct parts p = { t, NULL };
	size_t i;
	int rc;

	rc = docs_tokenize(ix->tok, text, strlen(text), true, add_word, &w);
	if (rc > 0)
		rc = w.error;      /* stopped: full, or out of memory */
	for (i = 0; rc == 0 && i < w.n; i++)
		if (add_term(t, w.v[i], strlen(w.v[i]), 1.0))
			rc = t->error;
	for (i = 0; rc == 0 && i < w.n; i++) {
		p.whole = w.v[i];
		rc = docs_tokenize(ix->tok, text + w.start[i], w.end[i] - w.start[i], false,
				   add_part, &p);
		if (rc > 0)
			rc = t->error;
	}
	for (i = 0; i < w.n; i++)
		free(w.v[i]);
	return rc;
}

/* How many chunks hold t's stem: from term_df, or, when it is not there,
 * a guess below DOCS_TERM_DF_MIN (doctor_bm25 counts those itself). */
static int term_df(docs_index *ix, struct term *t)
{
	sqlite3_stmt *stmt = NULL;
	int rc;

	t->df = DOCS_TERM_DF_MIN - 1;
	t->df_known = false;
	rc = ix_stmt(ix, IX_TERM_DF, "SELECT df FROM term_df WHERE term = ?1", &stmt);
	if (rc == 0)
		rc = ix_bind_text(ix, stmt, 1, t->stem);
	if (rc < 0)
		return rc;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		t->df = sqlite3_column_int64(stmt, 0);
		t->df_known = true;
	}
	rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : ix_fail(ix, rc);
	sqlite3_reset(stmt);
	return rc;
}

/* Each term's stem (terms stemming alike are one: the first stays, with
 * the higher weight) and document frequency; then which are rare. */
static int plan_terms(docs_index *ix, struct terms *t)
{
	size_t i, j, best, nrare = 0;
	int64_t rows = 0;
	int rc;

	for (i = 0; i < t->n; i++) {
		rc = docs_tokenize(ix->stem, t->v[i].text, strlen(t->v[i].text), true,
				   take_stem, &t->v[i].stem);
		if (rc < 0)
			return rc;
		t->v[i].df = -1;
		if (!t->v[i].stem)
			continue;           /* no token at all */
		for (j = 0; j < i; j++)
			if (t->v[j].df >= 0 && strcmp(t->v[j].stem, t->v[i].stem) == 0)
				break;
		if (j < i) {
			if (t->v[j].weight < t->v[i].weight)
				t->v[j].weight = t->v[i].weight;
			continue;
		}
		rc = term_df(ix, &t->v[i]);
		if (rc < 0)
			return rc;
	}
	/* Rarest first (a selection over at most MAX_QUERY_TERMS). */
	for (;;) {
		for (best = t->n, i = 0; i < t->n; i++)
			if (t->v[i].df >= 0 && !t->v[i].rare &&
			    (best == t->n || t->v[i].df < t->v[best].df))
				best = i;
		if (best == t->n ||
		    (nrare >= MIN_RARE_TERMS && rows + t->v[best].df > TERM_ROW_BUDGET))
			break;
		t->v[best].rare = true;
		rows += t->v[best].df;
		nrare++;
	}
	/* A common part (get, error of GetTimeoutError) says next to nothing
	 * and costs a long list to read: not scored. */
	for (i = 0; i < t->n; i++)
		if (!t->v[i].rare && t->v[i].weight < 1.0)
			t->v[i].df = -1;
	return 0;
}

/* Append the terms (all, or the rare ones) as "t1" OR "t2"... to q at *k;
 * how many. */
static size_t put_terms(const struct terms *t, bool rare_only, char *q, size_t *k)
{
	size_t i, j, n = 0;

	for (i = 0; i < t->n; i++) {
		if (t->v[i].df < 0 || (rare_only && !t->v[i].rare))
			continue;
		if (n++) {
			memcpy(q + *k, " OR ", 4);
			*k += 4;
		}
		q[(*k)++] = '"';
		for (j = 0; t->v[i].text[j]; j++) {
			if (t->v[i].text[j] == '"')
				q[(*k)++] = '"';
			q[(*k)++] = t->v[i].text[j];
		}
		q[(*k)++] = '"';
	}
	return n;
}

/* The MATCH expression and the plan from the planned terms. */
static int write_query(const struct terms *t, struct query *out)
{
	size_t len = 16, i, k = 0;
	bool filter = false;

	for (i = 0; i < t->n; i++) {
		if (t->v[i].df < 0)
			continue;
		/* Twice (the filter), quotes doubled, "", " OR ". */
		len += 2 * (2 * strlen(t->v[i].text) + 6);
		filter |= !t->v[i].rare;
		out->n++;
	}
	if (out->n == 0)
		return 0;
	out->match = malloc(len);
	out->df = calloc(out->n, sizeof(*out->df));
	out->weight = calloc(out->n, sizeof(*out->weight));
	if (!out->match || !out->df || !out->weight)
		return -ENOMEM;
	for (i = 0, out->n = 0; i < t->n; i++) {
		if (t->v[i].df < 0)
			continue;
		out->df[out->n] = t->v[i].df_known ? t->v[i].df : -1;
		out->weight[out->n++] = t->v[i].weight;
	}
	/* The filter first: FTS5's AND steps through its first operand and
	 * seeks in the others, so the few chunks of the rare terms lead. */
	if (filter) {
		out->match[k++] = '(';
		out->skip = put_terms(t, true, out->match, &k);
		memcpy(out->match + k, ") AND ", 6);
		k += 6;
	}
	out->match[k++] = '(';
	put_terms(t, false, out->match, &k);
	out->match[k++] = ')';
	out->match[k] = '\0';
	return 0;
}

int query_build(docs_index *ix, const char *text, struct query *out)
{
	struct terms t = { .n = 0 };
	int rc;

	memset(out, 0, sizeof(*out));
	rc = collect_terms(ix, text ? text : "", &t);
	if (rc == 0)
		rc = plan_terms(ix, &t);
	if (rc == 0)
		rc = write_query(&t, out);
	terms_release(&t);
	if (rc < 0)
		query_release(out);
	return rc;
}

void query_release(struct query *q)
{
	free(q->match);
	free(q->df);
	free(q->weight);
	memset(q, 0, sizeof(*q));
}
