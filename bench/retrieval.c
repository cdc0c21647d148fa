/*
 * retrieval.c - how fast doctor indexes a documentation corpus and answers
 * a query, and how well, against plain SQLite FTS5 on the same chunks
 * measured in the same run.
 *
 * Two indexers, each run in a forked child so that its peak RSS
 * (ru_maxrss from wait4) is its own, each into a fresh database:
 *
 *   doctor    docs_index_paths over the corpus: walk, hash, parse, chunk,
 *             the identifier-aware tokenizer, weighted columns, the
 *             bookkeeping that makes re-indexing incremental;
 *   plain     the same files parsed and chunked with the same options
 *             (doc_parse, doc_chunk), inserted into a bare
 *             fts5(body, page UNINDEXED, anchor UNINDEXED) table with the
 *             default tokenizer, one transaction.
 *
 * A second doctor run over the unchanged corpus times the incremental path.
 *
 * Then every question of the evaluation set (tests/retrieval/
 * ray_questions.jsonl) is asked --runs times of each index: doctor through
 * docs_search (lexical, k 10, the default options), plain through
 * `... MATCH ? ORDER BY rank LIMIT 10` with the question's words OR-ed (each
 * quoted). Latency is per query, p50 and p99 over all of them; quality is
 * recall@1/5/10 and MRR at page and section level (client/retrieval_eval.c,
 * the figures of `doctor eval retrieval`).
 *
 * Ratios are doctor / plain. Exits non-zero when anything fails or doctor
 * indexes no chunks.
 */
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"
#include "docs_index.h"
#include "retrieval_eval.h"

#define DEFAULT_RUNS 20
#define K 10

struct options {
	const char *corpus, *questions;   /* borrowed from argv or the environment */
	unsigned runs;
	bool json;
};

/* The figures of one indexer run. */
struct index_run {
	double seconds;
	long peak_kib;
	long chunks;
};

/* ------------------------------------------------------------ questions */

struct question_set {
	struct reval_question *q;   /* owned */
	size_t n;
};

static void questions_free(struct question_set *s)
{
	for (size_t i = 0; i < s->n; i++)
		reval_question_release(&s->q[i]);
	free(s->q);
	s->q = NULL;
	s->n = 0;
}

static int questions_load(const char *path, struct question_set *s)
{
	FILE *f = fopen(path, "r");
	char *line = NULL, *err = NULL;
	size_t cap = 0, lineno = 0;
	ssize_t len;
	int rc = 0;

	if (!f)
		return fail(-errno, "%s: %s", path, strerror(errno));
	while (rc == 0 && (len = getline(&line, &cap, f)) >= 0) {
		struct reval_question *grown;

		lineno++;
		if (len == 0 || strspn(line, " \t\r\n") == (size_t)len)
			continue;
		grown = realloc(s->q, (s->n + 1) * sizeof *grown);
		if (!grown) {
			rc = fail(-ENOMEM, "out of memory");
			break;
		}
		s->q = grown;
		rc = reval_parse_question(line, (size_t)len, &s->q[s->n], &err);
		if (rc < 0) {
			rc = fail(rc, "%s:%zu: %s", path, lineno, err ? err : strerror(-rc));
			free(err);
			break;
		}
		s->n++;
	}
	free(line);
	fclose(f);
	if (rc == 0 && s->n == 0)
		rc = fail(-EINVAL, "%s: no questions", path);
	return rc;
}

/* ------------------------------------------------------------ children */

/* Run fn(arg) in a forked child; its exit status is its result, its time
 * and peak RSS go to *out. The child writes its chunk count to a pipe. */
static int run_child(const char *what, int (*fn)(void *arg, long *chunks), void *arg,
		     struct index_run *out)
{
	struct rusage ru;
	int fds[2], status;
	double t0;
	pid_t pid;
	long chunks = -1;

	if (pipe(fds) < 0)
		return fail(-errno, "pipe: %s", strerror(errno));
	fflush(NULL);
	t0 = now();
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return fail(-errno, "fork: %s", strerror(errno));
	}
	if (pid == 0) {
		long n = 0;
		int rc;

		close(fds[0]);
		rc = fn(arg, &n);
		if (write(fds[1], &n, sizeof n) != (ssize_t)sizeof n)
			_exit(3);
		_exit(rc < 0 ? 1 : 0);
	}
	close(fds[1]);
	if (read(fds[0], &chunks, sizeof chunks) != (ssize_t)sizeof chunks)
		chunks = -1;
	close(fds[0]);
	if (wait4(pid, &status, 0, &ru) < 0)
		return fail(-errno, "wait4: %s", strerror(errno));
	out->seconds = now() - t0;
	out->peak_kib = ru.ru_maxrss;
	out->chunks = chunks;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return fail(-EIO, "%s indexer failed (status %d)", what, status);
	return 0;
}

struct doctor_job {
	const char *db, *corpus;
};

static void on_warn(const char *path, const char *message, void *ud)
{
	(void)path;
	(void)message;
	(*(size_t *)ud)++;
}

static int doctor_index(void *arg, long *chunks)
{
	const struct doctor_job *job = arg;
	struct docs_options opt;
	struct docs_index_stats st;
	struct docs_index_info info;
	docs_index *ix = NULL;
	size_t warnings = 0;
	int rc;

	docs_options_init(&opt);
	rc = docs_index_open(job->db, false, &ix);
	if (rc == 0)
		rc = docs_index_paths(ix, &job->corpus, 1, &opt, NULL, on_warn, &warnings, &st);
	if (rc == 0)
		rc = docs_index_info(ix, &info);
	if (rc == 0)
		*chunks = (long)info.chunks;
	else
		fail(rc, "doctor index: %s", strerror(-rc));
	docs_index_close(ix);
	docs_options_release(&opt);
	return rc;
}

/* The plain indexer: every documentation file, parsed and chunked as doctor
 * does, into a bare FTS5 table. */
struct plain_job {
	const char *db_path;
	sqlite3 *db;
	sqlite3_stmt *ins;
	const char *corpus;
	struct chunk_options chunk;
	long chunks;
	int rc;
};

static struct plain_job *plain_current;   /* nftw has no user pointer */

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long size;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)size + 1))) {
		*len = fread(buf, 1, (size_t)size, f);
		buf[*len] = '\0';
	}
	fclose(f);
	return buf;
}

static int plain_file(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	struct plain_job *job = plain_current;
	struct doc_chunk *chunks = NULL;
	enum doc_format fmt;
	const char *rel;
	size_t len = 0, n = 0;
	char *text;
	doc *d = NULL;

	(void)st;
	if (type != FTW_F || doc_format_of(path, &fmt) < 0 || path[ftw->base] == '.')
		return 0;
	rel = path + strlen(job->corpus);
	rel += *rel == '/';
	text = read_file(path, &len);
	if (!text)
		return 0;
	if (doc_parse(fmt, path, text, len, &d) == 0 && doc_chunk(d, &job->chunk, &chunks, &n) == 0) {
		for (size_t i = 0; i < n && job->rc == 0; i++) {
			const char *anchor = chunks[i].section >= 0 ?
				d->sections[chunks[i].section].anchor : "";

			sqlite3_bind_text(job->ins, 1, chunks[i].text, -1, SQLITE_STATIC);
			sqlite3_bind_text(job->ins, 2, rel, -1, SQLITE_STATIC);
			sqlite3_bind_text(job->ins, 3, anchor, -1, SQLITE_STATIC);
			if (sqlite3_step(job->ins) != SQLITE_DONE)
				job->rc = fail(-EIO, "plain insert: %s", sqlite3_errmsg(job->db));
			sqlite3_reset(job->ins);
			job->chunks++;
		}
	}
	doc_chunks_free(chunks, n);
	doc_free(d);
	free(text);
	return job->rc < 0 ? 1 : 0;
}

static int plain_index(void *arg, long *chunks)
{
	struct plain_job *job = arg;
	struct docs_options opt;
	int rc = 0;

	docs_options_init(&opt);
	job->chunk = opt.chunk;
	docs_options_release(&opt);
	if (sqlite3_open(job->db_path, &job->db) != SQLITE_OK)
		return fail(-EIO, "plain: cannot open %s", job->db_path);
	if (sqlite3_exec(job->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
			 "CREATE VIRTUAL TABLE plain USING fts5(body, page UNINDEXED, anchor UNINDEXED);"
			 "BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(job->db, "INSERT INTO plain(body, page, anchor) VALUES (?, ?, ?)",
			       -1, &job->ins, NULL) != SQLITE_OK) {
		rc = fail(-EIO, "plain: %s", sqlite3_errmsg(job->db));
		goto out;
	}
	plain_current = job;
	if (nftw(job->corpus, plain_file, 16, FTW_PHYS) < 0)
		rc = fail(-errno, "plain: walking %s: %s", job->corpus, strerror(errno));
	if (rc == 0)
		rc = job->rc;
	if (rc == 0 && sqlite3_exec(job->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		rc = fail(-EIO, "plain: commit: %s", sqlite3_errmsg(job->db));
	*chunks = job->chunks;
out:
	sqlite3_finalize(job->ins);
	sqlite3_close(job->db);
	return rc;
}

/* ------------------------------------------------------------ main */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: bench/retrieval [--corpus DIR] [--questions FILE] [--runs N] [--json]\n"
		"\n"
		"Index the documentation corpus with doctor and with plain SQLite FTS5 on the\n"
		"same chunks, then ask every question of the evaluation set of both; print\n"
		"index time, peak RSS, query latency p50/p99 and recall, with ratios.\n"
		"\n"
		"  --corpus DIR      default $DOCTOR_CORPUS\n"
		"  --questions FILE  default tests/retrieval/ray_questions.jsonl\n"
		"  --runs N          times each question is asked of each index (default %d)\n"
		"  --json            one JSON object instead of the table\n",
		DEFAULT_RUNS);
}

/* ------------------------------------------------------------ queries */

/* The figures of one index under the question set. */
struct query_figures {
	double p50_ms, p99_ms;
	struct reval_totals totals;
};

static const unsigned eval_ks[] = { 1, 5, 10 };
#define N_KS (sizeof eval_ks / sizeof eval_ks[0])

static double percentile(double *v, size_t n, double p)
{
	size_t i;

	qsort(v, n, sizeof *v, compare_doubles);
	i = (size_t)(p * (double)(n - 1) + 0.5);
	return v[i < n ? i : n - 1];
}

static void count_ranks(struct reval_totals *t, const struct reval_question *q,
			const struct reval_hit *hits, size_t n)
{
	reval_add(t, reval_rank(q, hits, n, false), reval_rank(q, hits, n, true), q->anchor != NULL);
}

static int query_doctor(const char *db, const struct question_set *qs, unsigned runs,
			struct query_figures *out)
{
	struct docs_options opt;
	docs_index *ix = NULL;
	size_t nlat = 0;
	double *lat = calloc((size_t)runs * qs->n, sizeof *lat);
	int rc;

	docs_options_init(&opt);
	reval_init(&out->totals, eval_ks, N_KS);
	rc = lat ? docs_index_open(db, true, &ix) : -ENOMEM;
	if (rc < 0)
		fail(rc, "doctor: cannot open %s: %s", db, strerror(-rc));
	for (unsigned r = 0; rc == 0 && r < runs; r++) {
		for (size_t i = 0; rc == 0 && i < qs->n; i++) {
			struct docs_query q = { .text = qs->q[i].question, .k = K, .lexical_only = true };
			struct docs_hit *hits = NULL;
			size_t n = 0;
			double t0 = now();

			rc = docs_search(ix, &q, &opt, &hits, &n, NULL);
			lat[nlat++] = (now() - t0) * 1e3;
			if (rc < 0) {
				fail(rc, "doctor search: %s", strerror(-rc));
			} else if (r == 0) {
				struct reval_hit rh[K];

				for (size_t j = 0; j < n && j < K; j++) {
					rh[j].page = hits[j].page;
					rh[j].anchor = hits[j].anchor;
				}
				count_ranks(&out->totals, &qs->q[i], rh, n < K ? n : K);
			}
			docs_hits_free(hits, n);
		}
	}
	if (rc == 0) {
		out->p50_ms = percentile(lat, nlat, 0.50);
		out->p99_ms = percentile(lat, nlat, 0.99);
	}
	free(lat);
	docs_index_close(ix);
	docs_options_release(&opt);
	return rc;
}

/* The question's words, each quoted, OR-ed: what a plain FTS5 user writes.
 * Newly allocated; "" when it has no words. NULL on ENOMEM. */
static char *plain_query(const char *text)
{
	size_t len = strlen(text), o = 0;
	char *q = malloc(len * 3 + 8);

	if (!q)
		return NULL;
	for (size_t i = 0; i < len;) {
		size_t j = i;

		while (j < len && ((text[j] >= 'a' && text[j] <= 'z') || (text[j] >= 'A' && text[j] <= 'Z') ||
				   (text[j] >= '0' && text[j] <= '9') || (unsigned char)text[j] >= 0x80))
			j++;
		if (j > i) {
			if (o)
				o += (size_t)sprintf(q + o, " OR ");
			q[o++] = '"';
			memcpy(q + o, text + i, j - i);
			o += j - i;
			q[o++] = '"';
			i = j;
		} else {
			i++;
		}
	}
	q[o] = '\0';
	return q;
}

static int query_plain(const char *path, const struct question_set *qs, unsigned runs,
		       struct query_figures *out)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	size_t nlat = 0;
	double *lat = calloc((size_t)runs * qs->n, sizeof *lat);
	char **queries = calloc(qs->n, sizeof *queries);
	int rc = 0;

	reval_init(&out->totals, eval_ks, N_KS);
	if (!lat || !queries)
		rc = fail(-ENOMEM, "out of memory");
	for (size_t i = 0; rc == 0 && i < qs->n; i++)
		if (!(queries[i] = plain_query(qs->q[i].question)))
			rc = fail(-ENOMEM, "out of memory");
	if (rc == 0 && (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
			sqlite3_prepare_v2(db, "SELECT page, anchor FROM plain WHERE plain MATCH ?"
					   " ORDER BY rank LIMIT 10", -1, &st, NULL) != SQLITE_OK))
		rc = fail(-EIO, "plain: %s", db ? sqlite3_errmsg(db) : "cannot open");
	for (unsigned r = 0; rc == 0 && r < runs; r++) {
		for (size_t i = 0; rc == 0 && i < qs->n; i++) {
			struct reval_hit rh[K];
			char *keep[2 * K];
			size_t n = 0;
			double t0 = now();
			int s;

			sqlite3_bind_text(st, 1, queries[i], -1, SQLITE_STATIC);
			while ((s = sqlite3_step(st)) == SQLITE_ROW && n < K) {
				/* copied: only the first run is scored, but every run
				 * reads its rows as a user of the results would */
				keep[2 * n] = strdup((const char *)sqlite3_column_text(st, 0));
				keep[2 * n + 1] = strdup((const char *)sqlite3_column_text(st, 1));
				rh[n].page = keep[2 * n];
				rh[n].anchor = keep[2 * n + 1];
				n++;
			}
			lat[nlat++] = (now() - t0) * 1e3;
			if (s != SQLITE_DONE && s != SQLITE_ROW)
				rc = fail(-EIO, "plain query: %s", sqlite3_errmsg(db));
			sqlite3_reset(st);
			if (rc == 0 && r == 0)
				count_ranks(&out->totals, &qs->q[i], rh, n);
			for (size_t j = 0; j < 2 * n; j++)
				free(keep[j]);
		}
	}
	if (rc == 0) {
		out->p50_ms = percentile(lat, nlat, 0.50);
		out->p99_ms = percentile(lat, nlat, 0.99);
	}
	for (size_t i = 0; queries && i < qs->n; i++)
		free(queries[i]);
	free(queries);
	free(lat);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return rc;
}

/* ------------------------------------------------------------ report */

static double ratio(double a, double b)
{
	return b > 0 ? a / b : 0;
}

static void print_table(const struct options *o, size_t nq, const struct index_run *ours,
			const struct index_run *again, const struct index_run *plain,
			const struct query_figures *qo, const struct query_figures *qp)
{
	printf("retrieval bench: corpus %s, %zu questions x %u runs, k %d\n", o->corpus, nq,
	       o->runs, K);
	printf("%-28s %12s %12s %8s\n", "", "doctor", "plain FTS5", "ratio");
	printf("%-28s %12ld %12ld\n", "chunks", ours->chunks, plain->chunks);
	printf("%-28s %12.2f %12.2f %7.2fx\n", "index time (s)", ours->seconds, plain->seconds,
	       ratio(ours->seconds, plain->seconds));
	printf("%-28s %12.1f %12.1f %7.2fx\n", "index peak RSS (MiB)", ours->peak_kib / 1024.0,
	       plain->peak_kib / 1024.0, ratio((double)ours->peak_kib, (double)plain->peak_kib));
	printf("%-28s %12.3f\n", "re-index, unchanged (s)", again->seconds);
	printf("%-28s %12.3f %12.3f %7.2fx\n", "query p50 (ms)", qo->p50_ms, qp->p50_ms,
	       ratio(qo->p50_ms, qp->p50_ms));
	printf("%-28s %12.3f %12.3f %7.2fx\n", "query p99 (ms)", qo->p99_ms, qp->p99_ms,
	       ratio(qo->p99_ms, qp->p99_ms));
	for (size_t i = 0; i < N_KS; i++) {
		char label[64];

		snprintf(label, sizeof label, "recall@%u page", eval_ks[i]);
		printf("%-28s %12.3f %12.3f\n", label, reval_recall(&qo->totals, i, false),
		       reval_recall(&qp->totals, i, false));
		snprintf(label, sizeof label, "recall@%u section", eval_ks[i]);
		printf("%-28s %12.3f %12.3f\n", label, reval_recall(&qo->totals, i, true),
		       reval_recall(&qp->totals, i, true));
	}
	printf("%-28s %12.3f %12.3f\n", "MRR page", reval_mrr(&qo->totals, false),
	       reval_mrr(&qp->totals, false));
	printf("%-28s %12.3f %12.3f\n", "MRR section", reval_mrr(&qo->totals, true),
	       reval_mrr(&qp->totals, true));
}

static json_t *quality_json(const struct query_figures *q)
{
	json_t *o = json_object();

	for (size_t i = 0; i < N_KS; i++) {
		char key[32];

		snprintf(key, sizeof key, "recall@%u_page", eval_ks[i]);
		json_object_set_new(o, key, json_real(reval_recall(&q->totals, i, false)));
		snprintf(key, sizeof key, "recall@%u_section", eval_ks[i]);
		json_object_set_new(o, key, json_real(reval_recall(&q->totals, i, true)));
	}
	json_object_set_new(o, "mrr_page", json_real(reval_mrr(&q->totals, false)));
	json_object_set_new(o, "mrr_section", json_real(reval_mrr(&q->totals, true)));
	json_object_set_new(o, "query_p50_ms", json_real(q->p50_ms));
	json_object_set_new(o, "query_p99_ms", json_real(q->p99_ms));
	return o;
}

static void print_json(const struct options *o, size_t nq, const struct index_run *ours,
		       const struct index_run *again, const struct index_run *plain,
		       const struct query_figures *qo, const struct query_figures *qp)
{
	json_t *report = json_pack("{s:s, s:I, s:I, s:{s:I, s:f, s:I, s:f, s:o}, s:{s:I, s:f, s:I, s:o}, s:{s:f, s:f, s:f, s:f}}",
		"corpus", o->corpus, "questions", (json_int_t)nq, "runs", (json_int_t)o->runs,
		"doctor", "chunks", (json_int_t)ours->chunks, "index_s", ours->seconds,
		"peak_rss_kib", (json_int_t)ours->peak_kib, "reindex_unchanged_s", again->seconds,
		"queries", quality_json(qo),
		"plain", "chunks", (json_int_t)plain->chunks, "index_s", plain->seconds,
		"peak_rss_kib", (json_int_t)plain->peak_kib, "queries", quality_json(qp),
		"ratio", "index_time", ratio(ours->seconds, plain->seconds),
		"peak_rss", ratio((double)ours->peak_kib, (double)plain->peak_kib),
		"query_p50", ratio(qo->p50_ms, qp->p50_ms), "query_p99", ratio(qo->p99_ms, qp->p99_ms));
	char *text = report ? json_dumps(report, JSON_INDENT(2) | JSON_REAL_PRECISION(6)) : NULL;

	if (text)
		puts(text);
	free(text);
	json_decref(report);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "corpus", required_argument, NULL, 'c' },
		{ "questions", required_argument, NULL, 'q' },
		{ "runs", required_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct options o = { getenv("DOCTOR_CORPUS"), "tests/retrieval/ray_questions.jsonl",
			     DEFAULT_RUNS, false };
	struct index_run ours = { 0 }, again = { 0 }, plain = { 0 };
	struct query_figures qo, qp;
	struct question_set qs = { NULL, 0 };
	char tmp[TMP_LEN] = "", ours_db[PATH_LEN], plain_db[PATH_LEN];
	int c, rc;

	bench_name = "bench/retrieval";
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': o.corpus = optarg; break;
		case 'q': o.questions = optarg; break;
		case 'r':
			if (parse_count("--runs", optarg, 1, 100000, &o.runs) < 0)
				return 2;
			break;
		case 'j': o.json = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc || !o.corpus || !*o.corpus) {
		if (!o.corpus || !*o.corpus)
			fprintf(stderr, "%s: no corpus: give --corpus DIR or set DOCTOR_CORPUS\n", bench_name);
		usage(stderr);
		return 2;
	}
	install_signals();
	rc = questions_load(o.questions, &qs);
	if (rc == 0)
		rc = make_tmpdir(tmp);
	if (rc == 0) {
		struct doctor_job dj = { ours_db, o.corpus };
		struct plain_job pj = { .db_path = plain_db, .corpus = o.corpus };

		snprintf(ours_db, sizeof ours_db, "%s/docs.db", tmp);
		snprintf(plain_db, sizeof plain_db, "%s/plain.db", tmp);
		rc = run_child("plain", plain_index, &pj, &plain);
		if (rc == 0)
			rc = run_child("doctor", doctor_index, &dj, &ours);
		if (rc == 0)
			rc = run_child("doctor (unchanged)", doctor_index, &dj, &again);
		if (rc == 0 && ours.chunks <= 0)
			rc = fail(-EINVAL, "doctor indexed no chunks from %s", o.corpus);
	}
	if (rc == 0)
		rc = query_doctor(ours_db, &qs, o.runs, &qo);
	if (rc == 0)
		rc = query_plain(plain_db, &qs, o.runs, &qp);
	if (rc == 0 && o.json)
		print_json(&o, qs.n, &ours, &again, &plain, &qo, &qp);
	else if (rc == 0)
		print_table(&o, qs.n, &ours, &again, &plain, &qo, &qp);
	questions_free(&qs);
	if (tmp[0])
		remove_tree(tmp);
	return rc == 0 ? 0 : 1;
}
