/*
 * test_index.c - the documentation index and its search (docs_index.h):
 * the identifier-aware tokenizer, indexing temporary folders (incremental
 * runs, removed files, chunk option changes, bad files with warnings,
 * roots that nest), interruption safety (a file failing half-way, a run
 * killed), hostile queries, BM25 column weights, per-page diversification,
 * read-only opens, dense retrieval fused with BM25 against the local
 * OpenAI-compatible server (tests/servers/openai_server.py), and the whole Ray corpus ($DOCTOR_CORPUS, skipped when
 * absent), timed, with query latency over the retrieval question set
 * ($DOCTOR_SRCDIR/tests/retrieval/ray_questions.jsonl) when present.
 *
 * Folders are made under $TMPDIR and removed at the end.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* asprintf */
#endif
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"
#include "docs_index.h"
#include "embed.h"
#include "openai_child.h"
#include "tokenizer.h"

static char tmpdir[512];

/* ------------------------------------------------------------ helpers */

static const char *tmp_path(const char *rel)
{
	static char buf[4][1024];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", tmpdir, rel);
	return buf[i];
}

/* Write len bytes (len < 0: strlen) to tmpdir/rel, making its folders. */
static void put(const char *rel, const char *text, long len)
{
	char path[1024], *slash;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
	for (slash = strchr(path + strlen(tmpdir) + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		mkdir(path, 0700);
		*slash = '/';
	}
	f = fopen(path, "wb");
	if (!f) {
		printf("Bail out! cannot write %s: %s\n", path, strerror(errno));
		exit(1);
	}
	fwrite(text, 1, len < 0 ? strlen(text) : (size_t)len, f);
	fclose(f);
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Warnings seen by a run. */
struct warnings {
	char paths[64][512];
	char messages[64][256];
	size_t n;
};

static void on_warn(const char *path, const char *message, void *ud)
{
	struct warnings *w = ud;

	if (!w || w->n >= 64)
		return;
	snprintf(w->paths[w->n], sizeof(w->paths[0]), "%s", path);
	snprintf(w->messages[w->n], sizeof(w->messages[0]), "%s", message);
	w->n++;
}

/* The warning about a path ending in name, or NULL. */
static const char *warning_for(const struct warnings *w, const char *name)
{
	size_t i, n = strlen(name), len;

	for (i = 0; i < w->n; i++) {
		len = strlen(w->paths[i]);
		if (len >= n && strcmp(w->paths[i] + len - n, name) == 0)
			return w->messages[i];
	}
	return NULL;
}

static int index_dir(docs_index *ix, const char *dir, const struct docs_options *opt,
		     struct docs_index_stats *st, struct warnings *w)
{
	const char *paths[] = { dir };

	if (w)
		w->n = 0;
	return docs_index_paths(ix, paths, 1, opt, NULL, on_warn, w, st);
}

/* Search; the hits are kept in *hits (freed by the caller) and counted. */
static int search(docs_index *ix, const struct docs_options *opt, const char *text,
		  unsigned k, struct docs_hit **hits, size_t *n)
{
	struct docs_query q = { .text = text, .k = k, .lexical_only = true };

	return docs_search(ix, &q, opt, hits, n, NULL);
}

/* The page of the best hit for text ("" when none; an error is "ERROR"). */
static const char *top_page(docs_index *ix, const struct docs_options *opt, const char *text)
{
	static char page[512];
	struct docs_hit *hits = NULL;
	size_t n = 0;

	if (search(ix, opt, text, 5, &hits, &n) < 0)
		return "ERROR";
	snprintf(page, sizeof(page), "%s", n ? hits[0].page : "");
	docs_hits_free(hits, n);
	return page;
}

/* ------------------------------------------------------------ tokenizer */

static int collect(void *ud, const char *tok, size_t len, size_t start, size_t end,
		   bool colocated)
{
	char *out = ud;
	size_t used = strlen(out);

	(void)start;
	(void)end;
	snprintf(out + used, 512 - used, "%s%s%.*s", used ? " " : "", colocated ? "+" : "",
		 (int)len, tok);
	return 0;
}

static int collect_spans(void *ud, const char *tok, size_t len, size_t start, size_t end,
			 bool colocated)
{
	char *out = ud;
	size_t used = strlen(out);

	(void)colocated;
	snprintf(out + used, 512 - used, "%s%.*s@%zu-%zu", used ? " " : "", (int)len, tok,
		 start, end);
	return 0;
}

static void test_tokenizer(void)
{
	static const struct { const char *in, *want; } cases[] = {
		{ "map_batches", "map +map_batches batches" },
		{ "ray.init()", "ray +ray.init init" },
		{ "ActorPoolStrategy", "actor +actorpoolstrategy pool strategy" },
		{ "num_gpus=2", "num +num_gpus gpus 2" },
		{ "Use ray.data.Dataset.map_batches.",
		  "use ray +ray.data.dataset.map_batches data dataset map +map_batches batches" },
		{ "__init__", "init +__init__" },
		{ "HTTPServer", "http +httpserver server" },
		{ "Café RÉSUMÉ", "cafe resume" },
		{ "... _ __", "" },
		{ "end. Next", "end next" },
		{ "Étéfoo_bar", "etefoo +etefoo_bar bar" },
	};
	docs_tokenizer *t = NULL;
	sqlite3 *db = NULL;
	char got[512];
	size_t i;

	tap_ok(sqlite3_open(":memory:", &db) == SQLITE_OK, "tokenizer: open a connection");
	tap_is_int(docs_tokenizer_new(db, DOCS_TOKENIZER_NAME, &t), -ENOENT, "tokenizer: not there before registration");
	tap_is_int(docs_tokenizer_register(db), 0, "tokenizer: registered");
	tap_is_int(docs_tokenizer_new(db, DOCS_TOKENIZER_NAME, &t), 0, "tokenizer: an instance");
	for (i = 0; t && i < sizeof(cases) / sizeof(cases[0]); i++) {
		got[0] = '\0';
		docs_tokenize(t, cases[i].in, strlen(cases[i].in), false, collect, got);
		tap_is_str(got, cases[i].want, cases[i].in);
	}
	if (t) {
		got[0] = '\0';
		docs_tokenize(t, "Use ray.init() now", 18, false, collect_spans, got);
		tap_is_str(got, "use@0-3 ray@4-7 ray.init@4-12 init@8-12 now@15-18",
			   "tokens come with their place in the text");
		got[0] = '\0';
		docs_tokenize(t, "ray.init map_batches", 20, true, collect, got);
		tap_is_str(got, "ray.init map_batches", "query mode: wholes only");
	}
	docs_tokenizer_free(t);
	sqlite3_close(db);
}

/* ------------------------------------------------------------ a small tree */

static const char guide_md[] =
	"# Data Guide\n\n"
	"## Transforming batches\n\n"
	"Call `ds.map_batches(fn)` to transform a dataset batch by batch.\n\n"
	"## Starting\n\n"
	"Call `ray.init()` before anything else; it connects to a cluster.\n";
static const char actors_md[] =
	"# Actors\n\n"
	"## Pools of actors\n\n"
	"The `ActorPoolStrategy` compute strategy runs a fixed number of workers.\n";
static const char resources_md[] =
	"# Resources\n\n"
	"## Accelerators\n\n"
	"Request accelerators with `@ray.remote(num_gpus=1)` on a task.\n";
static const char notebook_ipynb[] =
	"{\"cells\": [{\"cell_type\": \"markdown\", \"metadata\": {}, \"source\": "
	"[\"# Tuning walkthrough\\n\", \"\\n\", \"Hyperparameter sweeps with a Tuner.\"]},"
	"{\"cell_type\": \"code\", \"metadata\": {}, \"execution_count\": 1, \"outputs\": [],"
	" \"source\": [\"tuner = Tuner(trainable)\\n\", \"results = tuner.fit()\"]}],"
	" \"metadata\": {}, \"nbformat\": 4, \"nbformat_minor\": 5}";

static void make_tree(void)
{
	put("docs/guide.md", guide_md, -1);
	put("docs/core/actors.md", actors_md, -1);
	put("docs/core/resources.md", resources_md, -1);
	put("docs/tune/walkthrough.ipynb", notebook_ipynb, -1);
	put("docs/notes.txt", "Plain notes mention the word xylophone.\n", -1);
	put("docs/.hidden/secret.md", "# Secret\n\nhiddenword\n", -1);
	put("docs/.git/HEAD.md", "# Git\n\ngitword\n", -1);
	put("docs/node_modules/pkg/README.md", "# Pkg\n\nmoduleword\n", -1);
	put("docs/image.png", "\x89PNG\r\n\x1a\n", 8);
}

static void test_small_tree(const char *db)
{
	struct docs_options opt;
	struct docs_index_stats st;
	struct docs_index_info info;
	struct warnings w;
	struct docs_hit *hits = NULL;
	docs_index *ix = NULL;
	size_t n = 0;

	docs_options_init(&opt);
	make_tree();
	tap_is_int(docs_index_open(db, false, &ix), 0, "open a new index");
	if (!ix)
		return;
	tap_is_int(index_dir(ix, tmp_path("docs"), &opt, &st, &w), 0, "index the tree");
	tap_is_int(st.files, 5, "5 documentation files found (hidden, node_modules, .png left out)");
	tap_is_int(st.indexed, 5, "all 5 indexed");
	tap_ok(st.chunks >= 5, "chunks written (%zu)", st.chunks);
	tap_is_int(st.warnings, 0, "no warnings");
	tap_is_int(docs_index_info(ix, &info), 0, "info");
	tap_ok(info.roots == 1 && info.files == 5 && info.chunks == st.chunks && info.vectors == 0,
	       "info counts: 1 root, 5 files, %zu chunks, 0 vectors", info.chunks);

	tap_is_str(top_page(ix, &opt, "map_batches"), "guide.md", "query map_batches");
	tap_is_str(top_page(ix, &opt, "map batches"), "guide.md", "query map batches");
	tap_is_str(top_page(ix, &opt, "batches"), "guide.md", "query batches");
	tap_is_str(top_page(ix, &opt, "ray.init"), "guide.md", "query ray.init");
	tap_is_str(top_page(ix, &opt, "init"), "guide.md", "query init");
	tap_is_str(top_page(ix, &opt, "ActorPool"), "core/actors.md", "query ActorPool");
	tap_is_str(top_page(ix, &opt, "actor pool strategy"), "core/actors.md",
		   "query actor pool strategy");
	tap_is_str(top_page(ix, &opt, "num_gpus"), "core/resources.md", "query num_gpus");
	tap_is_str(top_page(ix, &opt, "How many GPUs does a task get?"), "core/resources.md",
		   "a question in English (stemmed: GPUs ~ gpus)");
	tap_is_str(top_page(ix, &opt, "tuner.fit"), "tune/walkthrough.ipynb",
		   "notebook code cells are searchable");
	tap_is_str(top_page(ix, &opt, "xylophone"), "notes.txt", "plain text is searchable");
	tap_is_str(top_page(ix, &opt, "hiddenword gitword moduleword"), "",
		   "hidden folders and node_modules are not indexed");
	tap_is_str(top_page(ix, &opt, "the of and"), "", "only stopwords: no hits");

	tap_is_int(search(ix, &opt, "ray.init", 5, &hits, &n), 0, "search ray.init");
	if (tap_ok(n >= 1, "a hit")) {
		tap_is_str(hits[0].title, "Data Guide", "hit title");
		tap_is_str(hits[0].section, "Data Guide > Starting", "hit section path");
		tap_is_str(hits[0].anchor, "starting", "hit anchor");
		tap_is_str(hits[0].root, tmp_path("docs"), "hit root");
		tap_ok(strstr(hits[0].text, "ray.init()") != NULL, "hit text");
		tap_ok(hits[0].start < hits[0].end && hits[0].end <= sizeof(guide_md) - 1 &&
		       strstr(guide_md + hits[0].start, "ray.init") != NULL &&
		       (size_t)(strstr(guide_md + hits[0].start, "ray.init") - guide_md) < hits[0].end,
		       "hit byte range covers the text in the file");
		tap_ok(hits[0].lexical_rank == 1 && hits[0].vector_rank == 0 && hits[0].score > 0 &&
		       hits[0].chunk_id > 0, "hit ranks and score");
	}
	docs_hits_free(hits, n);
	docs_index_close(ix);
	docs_options_release(&opt);
}

/* ------------------------------------------------------------ incremental */

static void test_incremental(const char *db)
{
	struct docs_options opt;
	struct docs_index_stats st;
	struct docs_index_info info;
	struct timespec times[2] = { { 0, UTIME_NOW }, { 0, 0 } };
	docs_index *ix = NULL;

	docs_options_init(&opt);
	if (docs_index_open(db, false, &ix) < 0) {
		tap_ok(0, "reopen the index");
		return;
	}
	tap_is_int(index_dir(ix, tmp_path("docs"), &opt, &st, NULL), 0, "index again");
	tap_ok(st.files == 5 && st.unchanged == 5 && st.indexed == 0 && st.removed == 0,
	       "nothing changed: all 5 unchanged (%zu indexed)", st.indexed);

	/* Same content, another modification time: read and hashed, same. */
	times[1].tv_sec = 1000000000;
	utimensat(AT_FDCWD, tmp_path("docs/guide.md"), times, 0);
	tap_is_int(index_dir(ix, tmp_path("docs"), &opt, &st, NULL), 0, "index after a touch");
	tap_ok(st.unchanged == 5 && st.indexed == 0, "a touched file with the same content is "
	       "unchanged");

	put("docs/guide.md", "# Data Guide\n\n## Streaming\n\nUse iter_batches to stream "
	    "a dataset.\n", -1);
	tap_is_int(index_dir(ix, tmp_path("docs"), &opt, &st, NULL), 0, "index after an edit");
	tap_ok(st.indexed == 1 && st.unchanged == 4, "the edited file alone is indexed again");
	tap_is_str(top_page(ix, &opt, "iter_batches"), "guide.md", "its new text is found");
	tap_is_str(top_page(ix, &opt, "connects"), "", "its old text is gone");

	unlink(tmp_path("docs/notes.txt"));
	tap_is_int(index_dir(ix, tmp_path("docs"), &opt, &st, NULL), 0, "index after a removal");
	tap_ok(st.removed == 1 && st.files == 4, "the removed file is removed from the index");
	tap_is_str(top_page(ix, &opt, "xylophone"), "", "its text is gone");

	opt.chunk.max_chars = 200;
	opt.chunk.overlap = 20;
	tap_is_int(index_dir(ix, tmp_path("docs"), &opt, &st, NULL), 0,
		   "index with other chunk options");
	tap_ok(st.indexed == 4 && st.unchanged == 0, "a chunk option change indexes all again");
	tap_is_int(index_dir(ix, tmp_path("docs"), &opt, &st, NULL), 0, "and once more");
	tap_ok(st.unchanged == 4, "then they are unchanged");

	/* A sub-folder, a single file: they join the root, no duplicates. */
	tap_is_int(index_dir(ix, tmp_path("docs/core"), &opt, &st, NULL), 0, "index a sub-folder");
	tap_ok(st.files == 2 && st.unchanged == 2, "a sub-folder joins its root: unchanged");
	tap_is_int(index_dir(ix, tmp_path("docs/core/actors.md"), &opt, &st, NULL), 0,
		   "index a single file");
	tap_ok(st.files == 1 && st.unchanged == 1 && st.removed == 0,
	       "a single file joins its root, nothing else removed");
	docs_index_info(ix, &info);
	tap_ok(info.roots == 1 && info.files == 4, "still one root and 4 files");

	tap_is_int(index_dir(ix, tmp_path("missing"), &opt, &st, NULL), -ENOENT,
		   "a missing path is ENOENT");
	docs_index_info(ix, &info);
	tap_ok(info.roots == 1 && info.files == 4, "and nothing was written");
	docs_index_close(ix);
	docs_options_release(&opt);
}

/* Files cut with other options are indexed again wherever they are, but
 * only they: the rest of a folder that was given file by file stays out. */
static void test_options_elsewhere(void)
{
	struct docs_options opt;
	struct docs_index_stats st;
	struct docs_index_info info;
	docs_index *ix = NULL;

	docs_options_init(&opt);
	put("solo/kept.md", "# Kept\n\nkestrel\n", -1);
	put("solo/gone.md", "# Gone\n\ngannet\n", -1);
	put("solo/never.md", "# Never\n\nnightjar\n", -1);
	put("other/o.md", "# Other\n\nosprey\n", -1);
	if (docs_index_open(tmp_path("solo.db"), false, &ix) < 0) {
		tap_ok(0, "open solo.db");
		return;
	}
	index_dir(ix, tmp_path("solo/kept.md"), &opt, &st, NULL);
	index_dir(ix, tmp_path("solo/gone.md"), &opt, &st, NULL);
	unlink(tmp_path("solo/gone.md"));
	opt.chunk.max_chars = 700;
	tap_is_int(index_dir(ix, tmp_path("other"), &opt, &st, NULL), 0,
		   "index another folder with other chunk options");
	tap_ok(st.files == 2 && st.indexed == 2 && st.removed == 1,
	       "the other root's file is indexed again, its deleted one removed "
	       "(%zu files, %zu indexed, %zu removed)", st.files, st.indexed, st.removed);
	tap_is_str(top_page(ix, &opt, "nightjar"), "", "and the rest of its folder stays out");
	tap_is_str(top_page(ix, &opt, "kestrel"), "kept.md", "the file given is still there");
	docs_index_info(ix, &info);
	tap_ok(info.roots == 2 && info.files == 2, "2 roots, 2 files");
	docs_index_close(ix);
	docs_options_release(&opt);
}

/* A folder indexed first, then the folder above it: one root. */
static void test_nested_roots(void)
{
	struct docs_options opt;
	struct docs_index_stats st;
	struct docs_index_info info;
	docs_index *ix = NULL;

	docs_options_init(&opt);
	put("nest/a/one.md", "# One\n\nalpha\n", -1);
	put("nest/b/two.md", "# Two\n\nbeta\n", -1);
	if (docs_index_open(tmp_path("nest.db"), false, &ix) < 0) {
		tap_ok(0, "open nest.db");
		return;
	}
	index_dir(ix, tmp_path("nest/a"), &opt, &st, NULL);
	index_dir(ix, tmp_path("nest"), &opt, &st, NULL);
	docs_index_info(ix, &info);
	tap_ok(info.roots == 1 && info.files == 2, "a root inside a new root is merged into it "
	       "(%zu roots, %zu files)", info.roots, info.files);
	tap_is_str(top_page(ix, &opt, "alpha"), "a/one.md", "its files are relative to the new root");
	docs_index_close(ix);
	docs_options_release(&opt);
}

/* ------------------------------------------------------------ bad files */

static void test_bad_files(void)
{
	static const char utf8_bad[] = "# Bad bytes\n\nbroken \xff\xfe sequence quetzal\n";
	struct docs_options opt;
	struct docs_index_stats st;
	struct warnings w;
	docs_index *ix = NULL;
	char big[6000];
	const char *msg;

	docs_options_init(&opt);
	opt.max_file_bytes = 4096;
	memset(big, 'a', sizeof(big));
	memcpy(big, "# Big\n\n", 7);
	put("bad/binary.md", "# Bin\n\0\0\0binary", 16);
	put("bad/empty.md", "", 0);
	put("bad/utf8.md", utf8_bad, sizeof(utf8_bad) - 1);
	put("bad/broken.ipynb", "{\"cells\": [ {\"cell_type\": ", -1);
	put("bad/notjson.ipynb", "this is not json", -1);
	put("bad/big.md", big, sizeof(big));
	put("bad/fine.md", "# Fine\n\nA fine page about pangolins.\n", -1);
	put("bad/unterminated.md", "# Open\n\n```python\nnever closed quokkafence\n", -1);
	if (docs_index_open(tmp_path("bad.db"), false, &ix) < 0) {
		tap_ok(0, "open bad.db");
		return;
	}
	tap_is_int(index_dir(ix, tmp_path("bad"), &opt, &st, &w), 0,
		   "a folder of bad files indexes without error");
	tap_is_int(st.files, 8, "8 files found");
	msg = warning_for(&w, "/binary.md");
	tap_ok(msg && strstr(msg, "binary"), "binary file: warning naming it (%s)", msg ? msg : "none");
	msg = warning_for(&w, "/empty.md");
	tap_ok(msg && strstr(msg, "no text"), "empty file: warning naming it (%s)", msg ? msg : "none");
	msg = warning_for(&w, "/utf8.md");
	tap_ok(msg && strstr(msg, "UTF-8") && !strstr(msg, "utf8.md"),
	       "invalid UTF-8: warning naming it once (%s)", msg ? msg : "none");
	tap_is_str(top_page(ix, &opt, "quetzal"), "utf8.md", "and the file is indexed");
	msg = warning_for(&w, "/broken.ipynb");
	tap_ok(msg && strstr(msg, "not a valid notebook"), "truncated notebook: warning naming it (%s)", msg ? msg : "none");
	msg = warning_for(&w, "/notjson.ipynb");
	tap_ok(msg && strstr(msg, "not a valid notebook"), "notebook that is not JSON: warning naming it (%s)", msg ? msg : "none");
	msg = warning_for(&w, "/big.md");
	tap_ok(msg && strstr(msg, "too large"), "oversized file: warning naming it (%s)",
	       msg ? msg : "none");
	tap_is_str(top_page(ix, &opt, "pangolins"), "fine.md", "the good file is indexed");
	tap_is_str(top_page(ix, &opt, "quokkafence"), "unterminated.md",
		   "unterminated markup is indexed");
	tap_ok(st.skipped >= 2 && st.indexed + st.skipped == st.files,
	       "skipped (%zu) and indexed (%zu) add up", st.skipped, st.indexed);

	/* A file that becomes bad loses its old index. */
	put("bad/fine.md", "\0\0\0", 3);
	tap_is_int(index_dir(ix, tmp_path("bad"), &opt, &st, &w), 0, "index again");
	tap_is_str(top_page(ix, &opt, "pangolins"), "", "a file turned binary is out of the index");
	docs_index_close(ix);
	docs_options_release(&opt);
}

/* ------------------------------------------------------------ interruption */

static int exec_on(const char *db, const char *sql)
{
	sqlite3 *conn = NULL;
	int rc;

	rc = sqlite3_open(db, &conn);
	if (rc == SQLITE_OK)
		rc = docs_tokenizer_register(conn) == 0 ? SQLITE_OK : SQLITE_ERROR;
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(conn, sql, NULL, NULL, NULL);
	sqlite3_close(conn);
	return rc;
}

/* One integer from db. */
static long long query_on(const char *db, const char *sql)
{
	sqlite3_stmt *stmt = NULL;
	sqlite3 *conn = NULL;
	long long v = -1;

	if (sqlite3_open(db, &conn) == SQLITE_OK && docs_tokenizer_register(conn) == 0 &&
	    sqlite3_prepare_v2(conn, sql, -1, &stmt, NULL) == SQLITE_OK &&
	    sqlite3_step(stmt) == SQLITE_ROW)
		v = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	sqlite3_close(conn);
	return v;
}

/* The index is whole: SQLite's and FTS5's own checks, and every file has
 * the chunks it records. */
static bool index_sound(const char *db)
{
	return exec_on(db, "INSERT INTO chunks_fts(chunks_fts) VALUES ('integrity-check')") ==
		SQLITE_OK &&
	       query_on(db, "SELECT count(*) FROM pragma_integrity_check WHERE"
			" integrity_check != 'ok'") == 0 &&
	       query_on(db, "SELECT count(*) FROM files f WHERE nchunks !="
			" (SELECT count(*) FROM chunks c WHERE c.file_id = f.id)") == 0;
}

static void test_failure_midway(void)
{
	const char *db = tmp_path("fail.db");
	struct docs_options opt;
	struct docs_index_stats st;
	docs_index *ix = NULL;
	char text[4096];
	int rc;

	docs_options_init(&opt);
	opt.chunk.strategy = CHUNK_SECTION;
	put("fail/a.md", "# A\n\n## One\n\nwombat first\n\n## Two\n\nwombat second\n", -1);
	put("fail/b.md", "# B\n\nnumbat\n", -1);
	if (docs_index_open(db, false, &ix) < 0) {
		tap_ok(0, "open fail.db");
		return;
	}
	index_dir(ix, tmp_path("fail"), &opt, &st, NULL);
	docs_index_close(ix);
	/* The database itself refuses the second chunk of the new a.md. */
	tap_is_int(exec_on(db, "CREATE TRIGGER boom BEFORE INSERT ON chunks"
			   " WHEN new.body LIKE '%EXPLODE%'"
			   " BEGIN SELECT RAISE(ABORT, 'injected failure'); END"), SQLITE_OK,
		   "failure injected");
	snprintf(text, sizeof(text), "# A\n\n## One\n\nechidna first\n\n## Two\n\nEXPLODE\n");
	put("fail/a.md", text, -1);
	put("fail/c.md", "# C\n\nplatypus\n", -1);
	docs_index_open(db, false, &ix);
	rc = index_dir(ix, tmp_path("fail"), &opt, &st, NULL);
	tap_ok(rc < 0, "the run fails (%s)", docs_index_errmsg(ix));
	tap_ok(strstr(docs_index_errmsg(ix), "injected failure") != NULL,
	       "the error message says why");
	tap_is_str(top_page(ix, &opt, "wombat"), "a.md", "the failed file keeps its previous index");
	tap_is_str(top_page(ix, &opt, "echidna"), "", "none of its new chunks is there");
	tap_is_str(top_page(ix, &opt, "numbat"), "b.md", "other files are intact");
	docs_index_close(ix);
	tap_ok(index_sound(db), "the index is sound");
	exec_on(db, "DROP TRIGGER boom");
	put("fail/a.md", "# A\n\n## One\n\nechidna first\n", -1);
	docs_index_open(db, false, &ix);
	tap_is_int(index_dir(ix, tmp_path("fail"), &opt, &st, NULL), 0, "the next run succeeds");
	tap_is_str(top_page(ix, &opt, "echidna"), "a.md", "with the new content");
	tap_is_str(top_page(ix, &opt, "platypus"), "c.md", "and the file after it");
	docs_index_close(ix);
	docs_options_release(&opt);
}

/* The child's progress: after the 40th file, tell the parent (which kills
 * the child at once, mid-run). */
static void on_progress_signal(const struct docs_progress *p, void *ud)
{
	int fd = *(int *)ud;

	if (p->done == 40 && write(fd, "x", 1) < 0)
		_exit(3);
}

static void test_killed_run(void)
{
	const char *db = tmp_path("killed.db");
	struct docs_options opt;
	struct docs_index_stats st;
	docs_index *ix = NULL;
	char rel[64], text[2048];
	const char *paths[1];
	int fds[2], status, i, j;
	pid_t pid;
	char c;

	docs_options_init(&opt);
	for (i = 0; i < 300; i++) {
		int len = snprintf(text, sizeof(text), "# Page %d\n\n", i);

		for (j = 0; j < 12; j++)
			len += snprintf(text + len, sizeof(text) - (size_t)len,
					"## Part %d\n\nword%d and filler text number %d\n\n", j, i, j);
		snprintf(rel, sizeof(rel), "many/p%03d.md", i);
		put(rel, text, len);
	}
	paths[0] = tmp_path("many");
	if (pipe(fds) < 0)
		return;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		close(fds[0]);
		if (docs_index_open(db, false, &ix) < 0)
			_exit(2);
		docs_index_paths(ix, paths, 1, &opt, on_progress_signal, NULL, &fds[1], &st);
		_exit(0);
	}
	close(fds[1]);
	if (read(fds[0], &c, 1) == 1)
		kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	close(fds[0]);
	tap_ok(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "a run killed mid-way");
	tap_ok(index_sound(db), "leaves a sound index");
	tap_ok(query_on(db, "SELECT count(*) FROM files") >= 40, "with the files it had committed "
	       "(%lld)", query_on(db, "SELECT count(*) FROM files"));
	if (docs_index_open(db, false, &ix) < 0) {
		tap_ok(0, "reopen killed.db");
		return;
	}
	tap_is_int(docs_index_paths(ix, paths, 1, &opt, NULL, NULL, NULL, &st), 0,
		   "the next run completes");
	tap_ok(st.files == 300 && st.unchanged >= 40 && st.unchanged + st.indexed == 300,
	       "keeping what was done (%zu unchanged, %zu indexed)", st.unchanged, st.indexed);
	tap_is_str(top_page(ix, &opt, "word299"), "p299.md", "the last file is there");
	docs_index_close(ix);
	tap_ok(index_sound(db), "and the index is sound");
	docs_options_release(&opt);
}

/* ------------------------------------------------------------ queries */

static void test_hostile_queries(const char *db)
{
	static const char *const queries[] = {
		"\"", "\"\"", "AND", "OR", "NOT", "NEAR(", "NEAR(a b", "*", "-x", "col:val",
		"title:foo", "{title body}: x", "^start", "a AND OR NOT b", "(((", ")",
		"\"unbalanced quote", "'single'", "x*", "+", "ray.init(", "\\", "%_", "",
		"   \t\n", "\xff\xfe invalid", "NULL", "'; DROP TABLE chunks; --",
	};
	struct docs_options opt;
	struct docs_hit *hits = NULL;
	struct docs_query q = { .text = NULL, .lexical_only = true };
	docs_index *ix = NULL;
	size_t i, n = 0, big_len = 100 * 1024;
	char *big = malloc(big_len + 1);
	bool all = true;
	double t0;
	int rc;

	docs_options_init(&opt);
	if (docs_index_open(db, true, &ix) < 0) {
		tap_ok(0, "open read-only");
		free(big);
		return;
	}
	for (i = 0; i < sizeof(queries) / sizeof(queries[0]); i++) {
		rc = search(ix, &opt, queries[i], 5, &hits, &n);
		if (rc != 0) {
			all = false;
			tap_diag("query '%s': %s (%s)", queries[i], strerror(-rc), docs_index_errmsg(ix));
		}
		docs_hits_free(hits, n);
	}
	tap_ok(all, "hostile queries are never an error (%zu tried)", i);
	tap_is_int(docs_search(ix, &q, &opt, &hits, &n, NULL), 0, "a NULL text is no error");
	tap_is_int(n, 0, "and finds nothing");
	for (i = 0; big && i < big_len; i++)
		big[i] = "ray.init map_batches \"NEAR( * -x col:val AND OR "[i % 48];
	if (big)
		big[big_len] = '\0';
	t0 = now_ms();
	rc = search(ix, &opt, big ? big : "", 5, &hits, &n);
	tap_ok(rc == 0 && n > 0, "100 KB of query text: %zu hits in %.2f ms", n, now_ms() - t0);
	docs_hits_free(hits, n);
	tap_is_int(search(ix, &opt, "ray.init NEAR(", 5, &hits, &n), 0,
		   "syntax characters beside words");
	tap_ok(n > 0 && strcmp(hits[0].page, "guide.md") == 0, "still finds the words");
	docs_hits_free(hits, n);
	docs_index_close(ix);
	docs_options_release(&opt);
	free(big);
}

static void test_weights(void)
{
	struct docs_options opt;
	struct docs_index_stats st;
	docs_index *ix = NULL;

	docs_options_init(&opt);
	put("weights/title.md", "# Zebra crossings\n\nRoads have stripes painted on them for "
	    "people to walk over.\n", -1);
	put("weights/body.md", "# Animals\n\nA zebra is an animal with stripes that people "
	    "see.\n", -1);
	if (docs_index_open(tmp_path("weights.db"), false, &ix) < 0) {
		tap_ok(0, "open weights.db");
		return;
	}
	index_dir(ix, tmp_path("weights"), &opt, &st, NULL);
	tap_is_str(top_page(ix, &opt, "zebra"), "title.md",
		   "a title match outranks a body match (default weights)");
	opt.w_title = 0.1;
	opt.w_headings = 0.1;
	opt.w_body = 10;
	tap_is_str(top_page(ix, &opt, "zebra"), "body.md", "and the weights decide it");
	docs_index_close(ix);
	docs_options_release(&opt);
}

static void test_diversify(void)
{
	struct docs_options opt;
	struct docs_index_stats st;
	struct docs_hit *hits = NULL;
	docs_index *ix = NULL;
	char text[4096];
	size_t n = 0, i, from_big;
	int len = 0, j;

	docs_options_init(&opt);
	len = snprintf(text, sizeof(text), "# Quokkas\n\n");
	for (j = 0; j < 6; j++)
		len += snprintf(text + len, sizeof(text) - (size_t)len,
				"## Quokka fact %d\n\nquokka quokka quokka fact %d\n\n", j, j);
	put("div/big.md", text, len);
	put("div/small.md", "# Marsupials\n\nThe quokka lives on an island, far from the "
	    "mainland, with many other animals around it.\n", -1);
	if (docs_index_open(tmp_path("div.db"), false, &ix) < 0) {
		tap_ok(0, "open div.db");
		return;
	}
	index_dir(ix, tmp_path("div"), &opt, &st, NULL);
	opt.per_page = 0;
	search(ix, &opt, "quokka", 3, &hits, &n);
	for (from_big = 0, i = 0; i < n; i++)
		from_big += strcmp(hits[i].page, "big.md") == 0;
	tap_ok(n == 3 && from_big == 3, "without a limit one page fills the top 3");
	docs_hits_free(hits, n);
	opt.per_page = 2;
	search(ix, &opt, "quokka", 3, &hits, &n);
	for (from_big = 0, i = 0; i < n; i++)
		from_big += strcmp(hits[i].page, "big.md") == 0;
	tap_ok(n == 3 && from_big == 2 && strcmp(hits[2].page, "small.md") == 0,
	       "per_page 2: two of it, then the other page");
	tap_ok(n == 3 && hits[0].lexical_rank == 1 && hits[2].lexical_rank > 3,
	       "ranks are the BM25 ones (%d)", n == 3 ? hits[2].lexical_rank : -1);
	docs_hits_free(hits, n);
	search(ix, &opt, "quokka", 5, &hits, &n);
	for (from_big = 0, i = 0; i < n; i++)
		from_big += strcmp(hits[i].page, "big.md") == 0;
	tap_ok(n == 5 && from_big == 4, "and the rest filled from the held-back ones when k is "
	       "larger than the pages allow");
	docs_hits_free(hits, n);
	docs_index_close(ix);
	docs_options_release(&opt);
}

static void test_readonly(const char *db)
{
	struct docs_options opt;
	struct docs_index_stats st;
	struct docs_index_info info;
	docs_index *ix = NULL;
	const char *paths[] = { tmp_path("docs") };
	sqlite3 *other = NULL;

	docs_options_init(&opt);
	tap_is_int(docs_index_open(tmp_path("nothing/here.db"), true, &ix), -ENOENT,
		   "read-only open of a missing database is ENOENT");
	tap_ok(ix == NULL && access(tmp_path("nothing"), F_OK) < 0, "and creates nothing");
	tap_is_int(docs_index_open(db, true, &ix), 0, "read-only open of an index");
	tap_is_int(docs_index_paths(ix, paths, 1, &opt, NULL, NULL, NULL, &st), -EROFS,
		   "indexing through it is EROFS");
	tap_is_str(top_page(ix, &opt, "ray.init"), "guide.md", "searching works");
	docs_index_close(ix);

	sqlite3_open(tmp_path("empty.db"), &other);
	sqlite3_close(other);
	tap_is_int(docs_index_open(tmp_path("empty.db"), true, &ix), 0,
		   "read-only open of an empty database");
	tap_is_str(top_page(ix, &opt, "ray.init"), "", "finds nothing");
	tap_ok(docs_index_info(ix, &info) == 0 && info.files == 0, "and counts nothing");
	{
		docs_index *rw = NULL;
		struct docs_index_stats st2;

		put("late/late.md", "# Late\n\nlatecomer text\n", -1);
		if (docs_index_open(tmp_path("empty.db"), false, &rw) == 0)
			index_dir(rw, tmp_path("late"), &opt, &st2, NULL);
		docs_index_close(rw);
	}
	tap_is_str(top_page(ix, &opt, "latecomer"), "late.md",
		   "the same read-only handle sees an index made since");
	docs_index_close(ix);

	sqlite3_open(tmp_path("other.db"), &other);
	sqlite3_exec(other, "CREATE TABLE t(x)", NULL, NULL, NULL);
	sqlite3_close(other);
	tap_is_int(docs_index_open(tmp_path("other.db"), false, &ix), -EPROTO,
		   "another application's database is refused");
	tap_is_int(docs_index_open(tmp_path("other.db"), true, &ix), -EPROTO,
		   "read-only too");
	docs_index_close(ix);
	docs_options_release(&opt);
}

/* A newer schema is refused, an older one rebuilt. */
static void test_schema_versions(const char *db)
{
	struct docs_index_info info;
	docs_index *ix = NULL;

	exec_on(db, "UPDATE meta SET value = '999' WHERE key = 'schema_version'");
	tap_is_int(docs_index_open(db, false, &ix), -EPROTO, "a newer schema is refused");
	tap_is_int(docs_index_open(db, true, &ix), -EPROTO, "read-only too");
	exec_on(db, "UPDATE meta SET value = '0' WHERE key = 'schema_version'");
	tap_is_int(docs_index_open(db, false, &ix), 0, "an older schema is rebuilt");
	tap_ok(ix && docs_index_info(ix, &info) == 0 && info.files == 0,
	       "empty, to be indexed again");
	docs_index_close(ix);
}

/* ------------------------------------------------------------ embeddings */

/* A query vector the caller computed (doctord embeds on its loop): used as
 * it is, without asking the endpoint; one of another dimension, or the
 * caller's endpoint failure, gives BM25 with a warning. */
static void caller_vector(docs_index *ix, const struct docs_options *opt)
{
	const char *texts[1] = { "deployed" };
	struct docs_query q = { .text = "deployed", .k = 3 };
	struct docs_hit *hits = NULL;
	char *warning = NULL;
	float *qv = NULL;
	size_t qdim = 0, n = 0, before;

	tap_is_int(embed_texts(&opt->embed, texts, 1, &qv, &qdim, NULL), 0,
		   "the caller embeds the query itself");
	q.vector = qv;
	q.dim = qdim;
	before = openai_child_log_count();
	tap_is_int(docs_search(ix, &q, opt, &hits, &n, &warning), 0, "search with its vector");
	tap_ok(n >= 1 && strcmp(hits[0].page, "deploy.md") == 0 && hits[0].vector_rank == 1 &&
	       !warning && openai_child_log_count() == before,
	       "the caller's vector finds it, the endpoint not asked (%s, warning %s)",
	       n ? hits[0].page : "-", warning ? warning : "none");
	docs_hits_free(hits, n);
	free(warning);
	warning = NULL;

	q.dim = qdim / 2;
	tap_is_int(docs_search(ix, &q, opt, &hits, &n, &warning), 0,
		   "search with a vector of another dimension");
	tap_ok(n == 0 && warning && strstr(warning, "re-index") &&
	       openai_child_log_count() == before,
	       "BM25 alone (no hit), with a warning, the endpoint not asked: %s",
	       warning ? warning : "(none)");
	docs_hits_free(hits, n);
	free(warning);
	warning = NULL;

	q.vector = NULL;
	q.dim = 0;
	q.vector_error = "embeddings endpoint http://127.0.0.1:9/v1/embeddings: HTTP 503";
	q.text = "cache size";
	tap_is_int(docs_search(ix, &q, opt, &hits, &n, &warning), 0,
		   "search after the caller's endpoint failed");
	tap_ok(n >= 1 && hits[0].vector_rank == 0 && warning &&
	       strcmp(warning, q.vector_error) == 0 && openai_child_log_count() == before,
	       "BM25, the caller's failure as the warning, the endpoint not asked again");
	docs_hits_free(hits, n);
	free(warning);
	free(qv);
}

/* Dense retrieval against the local OpenAI-compatible server, whose "bag"
 * model embeds a text as a hashed bag of its words and their trigrams:
 * "deployed" is near "deployment" although they stem apart. */
static void test_embeddings(void)
{
	struct docs_options opt;
	struct docs_index_stats st;
	struct docs_index_info info;
	struct warnings w;
	struct docs_hit *hits = NULL;
	struct docs_query q = { .text = "deployed", .k = 3 };
	docs_index *ix = NULL;
	char db[600], *warning = NULL;
	const char *input;
	size_t n = 0, before, chunks;
	json_t *log, *last;

	if (openai_child_start() < 0) {
		tap_ok(false, "the embeddings test server starts");
		return;
	}
	put("emb/deploy.md", "# Deployment\n\nThe deployment of services on a cluster.\n", -1);
	put("emb/cache.md", "# Caching\n\nThe cache size is set in the config file.\n", -1);
	put("emb/logs.md", "# Logging\n\nLog lines go to files on each node.\n", -1);
	snprintf(db, sizeof(db), "%s/emb.db", tmpdir);
	docs_options_init(&opt);
	opt.embed.base_url = strdup(openai_child_url());
	opt.embed.model = strdup("bag");
	opt.embed.batch = 2;
	tap_is_int(docs_index_open(db, false, &ix), 0, "open an index for embeddings");
	if (!ix) {
		docs_options_release(&opt);
		return;
	}
	tap_is_int(index_dir(ix, tmp_path("emb"), &opt, &st, &w), 0, "index with an endpoint");
	chunks = st.chunks;
	tap_ok(chunks >= 3 && st.embedded == chunks && st.warnings == 0,
	       "every chunk embedded (%zu of %zu), no warning", st.embedded, chunks);
	tap_is_int(openai_child_log_count(), (chunks + 1) / 2, "in batches of 2");
	log = openai_child_log();
	last = json_object_get(json_object_get(json_array_get(log, 0), "body"), "input");
	input = json_string_value(json_array_get(last, 0));
	tap_ok(input && strncmp(input, "Caching\nThe cache", 17) == 0,
	       "a chunk is embedded as its title line, then its text: %s", input ? input : "-");
	json_decref(log);
	tap_is_int(docs_index_info(ix, &info), 0, "info");
	tap_is_int(info.vectors, chunks, "one vector per chunk");

	before = openai_child_log_count();
	tap_is_int(index_dir(ix, tmp_path("emb"), &opt, &st, &w), 0, "index again");
	tap_ok(st.embedded == 0 && openai_child_log_count() == before,
	       "nothing new: no vector asked for again");

	tap_is_int(search(ix, &opt, "deployed", 3, &hits, &n), 0, "lexical search");
	tap_is_int(n, 0, "\"deployed\" stems apart from \"deployment\": no lexical hit");
	docs_hits_free(hits, n);
	tap_is_int(docs_search(ix, &q, &opt, &hits, &n, &warning), 0, "search with vectors");
	tap_ok(n >= 1 && strcmp(hits[0].page, "deploy.md") == 0 && hits[0].vector_rank == 1 &&
	       hits[0].lexical_rank == 0, "the vectors find it (%s, ranks %d/%d)",
	       n ? hits[0].page : "-", n ? hits[0].lexical_rank : -1, n ? hits[0].vector_rank : -1);
	tap_ok(warning == NULL, "no warning");
	docs_hits_free(hits, n);
	log = openai_child_log();
	last = json_object_get(json_object_get(json_array_get(log, json_array_size(log) - 1),
					       "body"), "input");
	input = json_string_value(json_is_array(last) ? json_array_get(last, 0) : last);
	tap_is_str(input, "deployed", "the query is what was embedded");
	json_decref(log);
	q.text = "cache size";
	tap_is_int(docs_search(ix, &q, &opt, &hits, &n, &warning), 0, "a fused search");
	tap_ok(n >= 1 && strcmp(hits[0].page, "cache.md") == 0 && hits[0].vector_rank == 1 &&
	       hits[0].lexical_rank == 1, "both lists put cache.md first");
	docs_hits_free(hits, n);
	q.lexical_only = true;
	before = openai_child_log_count();
	tap_is_int(docs_search(ix, &q, &opt, &hits, &n, &warning), 0, "lexical_only");
	tap_ok(n >= 1 && hits[0].vector_rank == 0 && openai_child_log_count() == before,
	       "lexical_only asks the endpoint nothing");
	docs_hits_free(hits, n);
	q.lexical_only = false;
	caller_vector(ix, &opt);

	/* an edited page: its old vectors go with its chunks */
	put("emb/deploy.md", "# Deployment\n\nDeployment of services.\n\n## Rollback\n\n"
	    "Undo a deployment.\n", -1);
	tap_is_int(index_dir(ix, tmp_path("emb"), &opt, &st, &w), 0, "re-index an edited page");
	tap_ok(st.embedded == st.chunks && st.chunks >= 1, "its new chunks embedded (%zu)",
	       st.embedded);
	tap_is_int(docs_index_info(ix, &info), 0, "info");
	tap_ok(info.vectors == info.chunks, "still one vector per chunk (%zu, %zu)", info.vectors,
	       info.chunks);

	/* another dimension is another model key: vectors of both kept apart */
	opt.embed.dimensions = 64;
	tap_is_int(index_dir(ix, tmp_path("emb"), &opt, &st, &w), 0, "index with 64 dimensions");
	tap_is_int(st.embedded, info.chunks, "every chunk embedded again at 64 dimensions");
	q.text = "deployed";
	tap_is_int(docs_search(ix, &q, &opt, &hits, &n, &warning), 0, "search at 64 dimensions");
	tap_ok(n >= 1 && hits[0].vector_rank == 1 && warning == NULL,
	       "found by its vector (%zu hits, vector rank %d, warning %s)", n,
	       n ? hits[0].vector_rank : -1, warning ? warning : "none");
	docs_hits_free(hits, n);
	opt.embed.dimensions = 0;

	/* a failing endpoint: a warning, lexical for the rest */
	put("emb/new.md", "# New page\n\nFresh words here.\n", -1);
	free(opt.embed.model);
	opt.embed.model = strdup("fail-500");
	tap_is_int(index_dir(ix, tmp_path("emb"), &opt, &st, &w), 0,
		   "an endpoint that fails is no indexing error");
	tap_ok(st.embedded == 0 && st.indexed == 1 && st.warnings == 1 && w.n == 1 &&
	       strstr(w.paths[0], "127.0.0.1") && strstr(w.messages[0], "500"),
	       "one warning naming the endpoint: %s: %s", w.n ? w.paths[0] : "-",
	       w.n ? w.messages[0] : "-");
	tap_is_str(top_page(ix, &opt, "fresh words"), "new.md", "the new page is searchable");
	before = openai_child_log_count();
	q.text = "fresh words";
	tap_is_int(docs_search(ix, &q, &opt, &hits, &n, &warning), 0,
		   "search with a model that has no vectors");
	tap_ok(n >= 1 && hits[0].vector_rank == 0 && warning == NULL &&
	       openai_child_log_count() == before, "lexical, without asking the endpoint");
	docs_hits_free(hits, n);

	/* the vectors are there but the endpoint is down: BM25 and a warning */
	free(opt.embed.model);
	opt.embed.model = strdup("bag");
	free(opt.embed.base_url);
	opt.embed.base_url = strdup("http://127.0.0.1:1/v1");
	q.text = "cache size";
	tap_is_int(docs_search(ix, &q, &opt, &hits, &n, &warning), 0, "search, endpoint down");
	tap_ok(n >= 1 && strcmp(hits[0].page, "cache.md") == 0 && hits[0].vector_rank == 0,
	       "BM25 still answers");
	tap_ok(warning && strstr(warning, "127.0.0.1:1"), "with a warning: %s",
	       warning ? warning : "(none)");
	free(warning);
	docs_hits_free(hits, n);
	docs_index_close(ix);
	docs_options_release(&opt);
	openai_child_stop();
}

/* ------------------------------------------------------------ the corpus */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Query latency over the retrieval questions, when the set is there. */
static void time_questions(docs_index *ix, const struct docs_options *opt)
{
	const char *src = getenv("DOCTOR_SRCDIR");
	struct docs_hit *hits = NULL;
	double *ms = NULL, t0;
	size_t n = 0, cap = 0, nh = 0;
	char *path = NULL, line[8192];
	json_t *j;
	FILE *f;
	bool ok = true;

	if (!src || asprintf(&path, "%s/tests/retrieval/ray_questions.jsonl", src) < 0)
		return;
	f = fopen(path, "r");
	free(path);
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		j = json_loads(line, 0, NULL);
		if (j && json_is_string(json_object_get(j, "question"))) {
			if (n == cap) {
				cap = cap ? cap * 2 : 256;
				ms = realloc(ms, cap * sizeof(*ms));
			}
			t0 = now_ms();
			ok &= search(ix, opt, json_string_value(json_object_get(j, "question")), 10,
				     &hits, &nh) == 0;
			ms[n++] = now_ms() - t0;
			docs_hits_free(hits, nh);
		}
		json_decref(j);
	}
	fclose(f);
	if (n) {
		qsort(ms, n, sizeof(*ms), cmp_double);
		tap_ok(ok, "%zu questions searched: p50 %.3f ms, p99 %.3f ms, max %.3f ms", n,
		       ms[n / 2], ms[(n * 99) / 100], ms[n - 1]);
	}
	free(ms);
}

static void test_corpus(void)
{
	const char *corpus = getenv("DOCTOR_CORPUS");
	const char *paths[1];
	struct docs_options opt;
	struct docs_index_stats st;
	struct warnings w;
	docs_index *ix = NULL;
	struct stat sb;
	double t0, t1;
	size_t i;
	int rc;

	if (!corpus || stat(corpus, &sb) < 0) {
		tap_ok(1, "# SKIP corpus not found (%s)", corpus ? corpus : "DOCTOR_CORPUS unset");
		return;
	}
	docs_options_init(&opt);
	paths[0] = corpus;
	if (docs_index_open(tmp_path("corpus.db"), false, &ix) < 0) {
		tap_ok(0, "open corpus.db");
		return;
	}
	w.n = 0;
	t0 = now_ms();
	rc = docs_index_paths(ix, paths, 1, &opt, NULL, on_warn, &w, &st);
	t1 = now_ms();
	tap_is_int(rc, 0, "the Ray corpus indexes without error");
	tap_ok(st.files > 500, "%zu files, %zu indexed, %zu skipped, %zu chunks, %zu warnings "
	       "in %.0f ms", st.files, st.indexed, st.skipped, st.chunks, st.warnings, t1 - t0);
	for (i = 0; i < w.n && i < 10; i++)
		tap_diag("warning: %s: %s", w.paths[i], w.messages[i]);
	t0 = now_ms();
	rc = docs_index_paths(ix, paths, 1, &opt, NULL, NULL, NULL, &st);
	tap_ok(rc == 0 && st.unchanged + st.skipped == st.files && st.indexed == 0,
	       "indexing it again: all unchanged in %.0f ms", now_ms() - t0);
	tap_ok(strcmp(top_page(ix, &opt, "map_batches"), "") != 0, "map_batches is found");
	time_questions(ix, &opt);
	docs_index_close(ix);
	docs_options_release(&opt);
}

int main(void)
{
	const char *base = getenv("TMPDIR");
	char db[600];

	snprintf(tmpdir, sizeof(tmpdir), "%s/test_index.XXXXXX", base && *base ? base : "/tmp");
	if (!mkdtemp(tmpdir)) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	snprintf(db, sizeof(db), "%s/index/docs.db", tmpdir);
	signal(SIGPIPE, SIG_IGN);
	/* A proxy from the environment must not stand between us and 127.0.0.1. */
	unsetenv("http_proxy");
	unsetenv("HTTP_PROXY");
	unsetenv("all_proxy");
	unsetenv("ALL_PROXY");
	if (embed_global_init() < 0) {
		printf("Bail out! curl_global_init failed\n");
		return 1;
	}
	test_tokenizer();
	test_small_tree(db);
	test_hostile_queries(db);
	test_readonly(db);
	test_incremental(db);
	test_schema_versions(db);
	test_nested_roots();
	test_options_elsewhere();
	test_bad_files();
	test_failure_midway();
	test_killed_run();
	test_weights();
	test_diversify();
	test_embeddings();
	test_corpus();
	nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	return tap_done();
}
