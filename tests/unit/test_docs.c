/*
 * test_docs.c - documentation parsing and chunking.
 *
 * Cases: tests/cases/docs/<case>/input.<ext> (the format comes from the
 * extension) and expected: JSON {title, sections: [{path, anchor}],
 * blocks: [{text, code, language, section}]} and optionally "warnings"
 * (their count), or {"error": "EINVAL"|"ENOTSUP"} for input doc_parse must
 * refuse. Then doc_anchor, doc_format_of, the HTML parser's byte ranges
 * and speed, the reStructuredText parser's speed, and the chunker are
 * checked directly, and every .md, .rst and .ipynb file of the Ray docs
 * corpus (DOCTOR_CORPUS, else ../shared/corpus/ray-docs from the source
 * tree) is parsed and chunked: none may fail.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* asprintf */
#endif
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <jansson.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <time.h>

#include "tap.h"
#include "document.h"

/* The document as the expected files spell it; new reference. */
static json_t *doc_to_json(const doc *d)
{
	json_t *sections = json_array(), *blocks = json_array(), *path;
	size_t i, j;

	for (i = 0; i < d->nsections; i++) {
		path = json_array();
		for (j = 0; j < d->sections[i].depth; j++)
			json_array_append_new(path, json_string(d->sections[i].path[j]));
		json_array_append_new(sections, json_pack("{s:o, s:s}", "path", path,
							  "anchor", d->sections[i].anchor));
	}
	for (i = 0; i < d->nblocks; i++) {
		const doc_block *b = &d->blocks[i];

		json_array_append_new(blocks, json_pack("{s:s, s:b, s:s?, s:i}", "text", b->text,
							"code", b->code, "language", b->language,
							"section", b->section));
	}
	return json_pack("{s:s, s:o, s:o}", "title", d->title, "sections", sections,
			 "blocks", blocks);
}

/* Byte ranges inside the file and sections inside the table. */
static bool ranges_sane(const doc *d, size_t len)
{
	size_t i;

	for (i = 0; i < d->nblocks; i++)
		if (d->blocks[i].start > d->blocks[i].end || d->blocks[i].end > len ||
		    d->blocks[i].section < -1 || d->blocks[i].section >= (int)d->nsections)
			return false;
	return true;
}

static void check_parsed(const char *name, json_t *want, const doc *d, size_t len)
{
	json_t *got = doc_to_json(d), *w = json_deep_copy(want);
	char *gs, *ws;

	json_object_del(w, "warnings");
	if (!tap_ok(json_equal(got, w), "%s: document as expected", name)) {
		gs = json_dumps(got, JSON_INDENT(1) | JSON_SORT_KEYS);
		ws = json_dumps(w, JSON_INDENT(1) | JSON_SORT_KEYS);
		tap_diag("got %s", gs);
		tap_diag("want %s", ws);
		free(gs);
		free(ws);
	}
	if (json_object_get(want, "warnings"))
		tap_is_int(d->nwarnings, json_integer_value(json_object_get(want, "warnings")),
			   "warning count");
	tap_ok(ranges_sane(d, len), "%s: byte ranges and sections in bounds", name);
	json_decref(got);
	json_decref(w);
}

/* The input.<ext> file of a case folder, newly allocated; NULL if none. */
static char *find_input(const char *dir)
{
	DIR *dh = opendir(dir);
	struct dirent *e;
	char *path = NULL;

	while (dh && (e = readdir(dh)))
		if (strncmp(e->d_name, "input.", 6) == 0 && asprintf(&path, "%s/%s", dir, e->d_name) < 0)
			path = NULL;
	if (dh)
		closedir(dh);
	return path;
}

static void run_case(const char *dir, const char *name)
{
	char *input = find_input(dir), *exp_path = NULL, *text = NULL;
	json_t *want = NULL;
	json_error_t err;
	enum doc_format fmt;
	const char *error;
	size_t len = 0;
	doc *d = NULL;
	int rc;

	if (asprintf(&exp_path, "%s/expected", dir) < 0)
		exp_path = NULL;
	want = exp_path ? json_load_file(exp_path, 0, &err) : NULL;
	if (!tap_ok(input && want && (text = tap_read_file(input, &len)) &&
		    doc_format_of(input, &fmt) == 0, "%s: input and expected readable", name))
		goto out;
	/* "flags": ["notebook_outputs"] parses as the index does with
	 * docs.notebook_outputs set */
	rc = doc_parse_flags(fmt, input, text, len,
			     json_array_size(json_object_get(want, "flags")) ? DOC_NOTEBOOK_OUTPUTS : 0,
			     &d);
	json_object_del(want, "flags");
	error = json_string_value(json_object_get(want, "error"));
	if (error) {
		tap_is_int(rc, strcmp(error, "ENOTSUP") == 0 ? -ENOTSUP : -EINVAL, name);
		tap_ok(d == NULL, "%s: no document on error", name);
	} else if (tap_ok(rc == 0, "%s: parsed (rc %d)", name, rc)) {
		check_parsed(name, want, d, len);
	}
out:
	doc_free(d);
	json_decref(want);
	free(text);
	free(input);
	free(exp_path);
}

static void run_cases(const char *root)
{
	tap_each_case(root, "docs", run_case);
}

static void check_anchor(const char *title, const char *want)
{
	char *got = doc_anchor(title), *name = NULL;

	if (asprintf(&name, "doc_anchor(\"%s\")", title) < 0)
		name = NULL;
	tap_is_str(got, want, name ? name : title);
	free(got);
	free(name);
}

static void test_anchors(void)
{
	check_anchor("Ray Core: Tasks!", "ray-core-tasks");
	check_anchor("  Getting   Started  ", "getting-started");
	check_anchor("Café déjà vu", "cafe-deja-vu");
	check_anchor("Straße Æsir", "strasze-aesir");
	check_anchor("日本語 intro", "intro");
	check_anchor("a日b", "ab");
	check_anchor("1. Install 2 things", "install-2-things");
	check_anchor("ray.init()", "ray-init");
	check_anchor("--- ", "");
	check_anchor("Łódź", "lodz");
}

static void test_formats(void)
{
	static const struct { const char *path; int rc; enum doc_format fmt; } cases[] = {
		{ "a/b.md", 0, DOC_MARKDOWN }, { "x.MARKDOWN", 0, DOC_MARKDOWN },
		{ "x.rst", 0, DOC_RST }, { "x.txt", 0, DOC_TEXT }, { "x.html", 0, DOC_HTML },
		{ "x.htm", 0, DOC_HTML }, { "n.ipynb", 0, DOC_NOTEBOOK },
		{ "x.py", -ENOTSUP, DOC_TEXT }, { "noext", -ENOTSUP, DOC_TEXT },
		{ "dir.md/file", -ENOTSUP, DOC_TEXT },
	};
	enum doc_format fmt;
	size_t i;
	doc *d = (doc *)1;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = doc_format_of(cases[i].path, &fmt);

		tap_ok(rc == cases[i].rc && (rc || fmt == cases[i].fmt), "doc_format_of(%s)", cases[i].path);
	}
	tap_is_int(doc_parse(DOC_RST, "x.rst", "Title\n=====\n", 12, &d), 0, "rst parses");
	tap_ok(d && d->title && strcmp(d->title, "Title") == 0 && d->nsections == 1, "rst: its title");
	doc_free(d);
	tap_is_int(doc_parse(DOC_MARKDOWN, "bin.md", "a\0b", 3, &d), -EINVAL, "NUL byte is binary");
}

/* ---- HTML: what a case cannot say */

/* Whether a parse of 10 times the input took at most about 10 times as
 * long: no quadratic path (that would be about 100 times). Measured as
 * CPU time in this run, so neither the machine's speed nor a sanitizer or
 * valgrind changes the verdict; the times go to the log. The 20 ms allow
 * for the noise of a small input's short parse. */
static bool scales_linearly(double small_ms, double big_ms)
{
	printf("# %.1f ms for the input, %.1f ms for 10 times it\n", small_ms, big_ms);
	return big_ms <= 25.0 * small_ms + 20.0;
}

static double cpu_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* A 5 MB page parses in time linear in its size, and byte ranges point at
 * the text, also past line 65535 where libxml2's line numbers stop. */
static void test_html_large(void)
{
	static const char unit[] = "<section id=\"s\"><h2>Part<a class=\"headerlink\" href=\"#s\">"
		"\xC2\xB6</a></h2>\n<p>Some <code>ray.init()</code>\ntext &amp; more.</p>\n"
		"<pre>x = 1\n</pre>\n</section>\n";
	static const char tail[] = "<p>Last paragraph.</p>\n";
	size_t ulen = sizeof(unit) - 1, reps = 5000000 / ulen + 1, len = reps * ulen + sizeof(tail) - 1, i;
	char *html = malloc(len + 1);
	const doc_block *b;
	doc *d = NULL;
	double t0, ms, small;
	int rc;

	if (!tap_ok(html != NULL, "5 MB page built"))
		return;
	for (i = 0; i < reps; i++)
		memcpy(html + i * ulen, unit, ulen);
	memcpy(html + reps * ulen, tail, sizeof(tail));
	/* a tenth of it first, for the ratio */
	t0 = cpu_ms();
	rc = doc_parse(DOC_HTML, "tenth.html", html, reps / 10 * ulen, &d);
	small = cpu_ms() - t0;
	doc_free(d);
	d = NULL;
	t0 = cpu_ms();
	rc = rc < 0 ? rc : doc_parse(DOC_HTML, "big.html", html, len, &d);
	ms = cpu_ms() - t0;
	if (!tap_ok(rc == 0 && d, "5 MB HTML page parses (rc %d)", rc))
		goto out;
	tap_ok(scales_linearly(small, ms), "5 MB HTML page: parse time linear in the size");
	tap_ok(d->nsections == reps && d->nblocks == 2 * reps + 1 && d->nwarnings == 0,
	       "every section and block found (%zu, %zu)", d->nsections, d->nblocks);
	if (d->nblocks != 2 * reps + 1)
		goto out;
	b = &d->blocks[1];
	tap_ok(b->code && strcmp(b->text, "x = 1") == 0 && b->end - b->start == 17 &&
	       memcmp(html + b->start, "<pre>x = 1\n</pre>", 17) == 0,
	       "a code block spans its <pre> element");
	b = &d->blocks[2 * reps - 2];
	tap_ok(!b->code && strcmp(b->text, "Some ray.init() text & more.") == 0 &&
	       b->start == (reps - 1) * ulen + (size_t)(strstr(unit, "Some") - unit) &&
	       memcmp(html + b->end - 5, "more.", 5) == 0,
	       "a prose block spans its text, on line %zu", 6 * reps - 4);
	b = &d->blocks[2 * reps];
	tap_ok(strcmp(b->text, "Last paragraph.") == 0 && b->start == reps * ulen + 3 &&
	       b->end == b->start + 15, "the last block's range, at the end of the file");
out:
	doc_free(d);
	free(html);
}

/* ---- reStructuredText: speed */

/* Parse len bytes of rst built by repeating unit; CPU milliseconds to *ms. */
static doc *parse_rst_repeated(const char *unit, size_t len, double *ms)
{
	size_t ulen = strlen(unit), i;
	char *text = malloc(len + 1);
	struct timespec t0, t1;
	doc *d = NULL;

	if (!text)
		return NULL;
	for (i = 0; i < len; i++)
		text[i] = unit[i % ulen];
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
	if (doc_parse(DOC_RST, "big.rst", text, len, &d) < 0)
		d = NULL;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
	*ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	free(text);
	return d;
}

/* 5 MB of rst parse in well under a second, also when inline markup
 * that searches ahead for its end-string never finds it. */
/* Stored outputs are cut at 4 KiB: at a line end, or before a character
 * when one line is longer. */
static void test_notebook_output_cap(void)
{
	const char *ends[2] = { "many lines", "one long line" };
	char *nb = NULL, *body;
	size_t i, k, len;
	doc *d = NULL;

	for (k = 0; k < 2; k++) {
		body = calloc(1, 20000);
		if (!body)
			return;
		for (i = 0, len = 0; k == 0 && i < 1000; i++)
			len += (size_t)sprintf(body + len, "line %04zu\\n", i);
		for (i = 0; k == 1 && i < 3001; i++)
			len += (size_t)sprintf(body + len, "\xc3\xa9");
		if (asprintf(&nb, "{\"cells\": [{\"cell_type\": \"code\", \"source\": \"x\", "
			     "\"outputs\": [{\"output_type\": \"stream\", \"text\": \"%s\"}]}]}",
			     body) < 0)
			nb = NULL;
		free(body);
		if (!nb)
			return;
		tap_ok(doc_parse_flags(DOC_NOTEBOOK, "cap.ipynb", nb, strlen(nb),
				       DOC_NOTEBOOK_OUTPUTS, &d) == 0, "output cap: %s parses", ends[k]);
		if (tap_ok(d && d->nblocks == 2, "output cap: code and output blocks")) {
			len = strlen(d->blocks[1].text);
			tap_ok(len <= 4096 && len > 4000, "output cap: %s cut to %zu bytes", ends[k], len);
			if (k == 0)
				tap_is_str(d->blocks[1].text + len - 9, "line 0408",
					   "output cap: cut at the last line end that fits");
			else
				tap_ok(len % 2 == 0 && (unsigned char)d->blocks[1].text[len - 1] == 0xa9,
				       "output cap: cut before a character, not inside one");
		}
		doc_free(d);
		d = NULL;
		free(nb);
		nb = NULL;
	}
	nb = (char *)"{\"cells\": [{\"cell_type\": \"code\", \"source\": \"x\", \"outputs\":"
		" [{\"output_type\": \"stream\", \"text\": \"out\"}]}]}";
	tap_is_int(doc_parse(DOC_NOTEBOOK, "plain.ipynb", nb, strlen(nb), &d), 0,
		   "without the flag");
	tap_ok(d && d->nblocks == 1, "outputs are skipped by default");
	doc_free(d);
}

static void test_rst_large(void)
{
	static const char unit[] = "Part\n====\n\nSome *text*, :func:`ray.init`, an *unclosed start.\n\n"
		"- item ``x``\n\n  .. note::\n\n     Note body.\n\n.. code-block:: python\n\n   x = 1\n\n"
		"=====  =====\na      b\n=====  =====\n\n";
	size_t ulen = sizeof(unit) - 1, reps = 5000000 / ulen;
	double ms = 0, small = 0;
	doc *d = parse_rst_repeated(unit, reps / 10 * ulen, &small);

	doc_free(d);
	d = parse_rst_repeated(unit, reps / 10 * 10 * ulen, &ms);
	tap_ok(d && d->nsections == reps / 10 * 10 && d->nblocks == 5 * (reps / 10 * 10),
	       "5 MB rst: every section and block found");
	tap_ok(scales_linearly(small, ms), "5 MB rst: parse time linear in the size");
	tap_ok(d && d->nblocks > 1 && strcmp(d->blocks[0].text, "Some text, ray.init, an *unclosed start.") == 0 &&
	       d->blocks[3].code && strcmp(d->blocks[4].text, "a | b") == 0, "5 MB rst: blocks as expected");
	doc_free(d);
	d = parse_rst_repeated("*a **b `c |d ``e :f:`g\n", 500000, &small);
	doc_free(d);
	d = parse_rst_repeated("*a **b `c |d ``e :f:`g\n", 5000000, &ms);
	tap_ok(d && d->nblocks == 1 && scales_linearly(small, ms),
	       "a 5 MB paragraph of unclosed inline markup: parse time linear in the size");
	doc_free(d);
}

/* ---- chunker */

static doc *parse_md(const char *text)
{
	doc *d = NULL;

	if (doc_parse(DOC_MARKDOWN, "t.md", text, strlen(text), &d) < 0)
		return NULL;
	return d;
}

/* Every chunk within max, unless it is a lone code block. */
static bool within_limit(const doc *d, const struct doc_chunk *c, size_t n, size_t max)
{
	size_t i, j;

	for (i = 0; i < n; i++) {
		if (strlen(c[i].text) <= max)
			continue;
		for (j = 0; j < d->nblocks; j++)
			if (d->blocks[j].code && strcmp(d->blocks[j].text, c[i].text) == 0)
				break;
		if (j == d->nblocks)
			return false;
	}
	return true;
}

static char *repeat_words(const char *word, size_t count)
{
	size_t wl = strlen(word), i;
	char *s = malloc(count * (wl + 1) + 1);

	if (!s)
		return NULL;
	for (i = 0; i < count; i++) {
		memcpy(s + i * (wl + 1), word, wl);
		s[i * (wl + 1) + wl] = ' ';
	}
	s[count * (wl + 1)] = '\0';
	return s;
}

static void test_chunk_sections(void)
{
	doc *d = parse_md("# A\n\none\n\ntwo\n\n## B\n\nthree\n\n```py\nx = 1\n```\n\n# C\n\nfour\n");
	struct chunk_options opt = { CHUNK_SECTION, 1000, 0 };
	struct doc_chunk *c = NULL;
	size_t n = 0;

	if (!tap_ok(d && doc_chunk(d, &opt, &c, &n) == 0, "section chunking"))
		goto out;
	tap_is_int(n, 3, "one chunk per section");
	tap_ok(n == 3 && strcmp(c[0].text, "one\n\ntwo") == 0 && c[0].section == 0,
	       "section A's blocks packed together");
	tap_ok(n == 3 && strcmp(c[1].text, "three\n\nx = 1") == 0 && c[1].has_code && !c[0].has_code,
	       "section B holds the code");
	tap_ok(n == 3 && c[2].section == 2 && strcmp(c[2].text, "four") == 0, "section C");
	tap_ok(n == 3 && c[0].start < c[0].end && c[0].end <= c[1].start, "chunk ranges in order");
	opt.strategy = CHUNK_PARAGRAPH;
	doc_chunks_free(c, n);
	c = NULL;
	tap_ok(doc_chunk(d, &opt, &c, &n) == 0 && n == d->nblocks, "paragraph strategy: one chunk per block");
	tap_ok(n == 5 && strcmp(c[3].text, "x = 1") == 0 && c[3].has_code, "paragraph strategy: code alone");
out:
	doc_chunks_free(c, n);
	doc_free(d);
}

static void test_chunk_limits(void)
{
	char *words = repeat_words("alpha", 100), *md = NULL; /* 600 chars */
	struct chunk_options opt = { CHUNK_SECTION, 100, 0 };
	struct doc_chunk *c = NULL;
	size_t n = 0, i;
	bool ok = true;
	doc *d = NULL;

	if (!words || asprintf(&md, "# T\n\n%s\n\n```\n%s\n```\n\nshort\n", words, words) < 0)
		goto out;
	d = parse_md(md);
	if (!tap_ok(d && doc_chunk(d, &opt, &c, &n) == 0, "long section chunked"))
		goto out;
	tap_ok(within_limit(d, c, n, 100), "no chunk over 100 chars but the lone long code block");
	for (i = 0; i < n; i++)
		ok = ok && c[i].section == 0;
	tap_ok(ok && n > 6, "long unit split (%zu chunks) within its section", n);
	for (i = 0; i < n && !c[i].has_code; i++)
		;
	tap_ok(i < n && strcmp(c[i].text, words) == 0, "code block longer than the limit kept whole");
	for (i = 0; i + 1 < n; i++)
		ok = ok && !strstr(c[i].text, "alph ");
	tap_ok(ok, "prose cut at word boundaries");
	doc_chunks_free(c, n);
	c = NULL;
	opt.overlap = 20;
	tap_ok(doc_chunk(d, &opt, &c, &n) == 0 && n > 2, "chunked with overlap");
	tap_ok(n > 2 && within_limit(d, c, n, 100), "overlap stays within the limit");
	tap_ok(n > 2 && strncmp(c[1].text, "alpha alpha", 11) == 0 &&
	       strlen(c[1].text) > 20 && strstr(c[0].text, "alpha alpha alpha"),
	       "the second chunk repeats the end of the first");
	tap_ok(n > 2 && strchr(c[1].text, '\n') && (size_t)(strchr(c[1].text, '\n') - c[1].text) <= 20,
	       "overlap at most 20 chars");
out:
	doc_chunks_free(c, n);
	doc_free(d);
	free(md);
	free(words);
}

static void test_chunk_code_fits(void)
{
	/* a 60-char code block after 50 chars of prose: limit 100, the code
	 * fits alone so it must move to a new chunk whole */
	const char *md = "para para para para para para para para para xxxx\n\n"
		"```\n0123456789 0123456789 0123456789 0123456789 0123456789 x\n```\n";
	struct chunk_options opt = { CHUNK_SECTION, 100, 0 };
	struct doc_chunk *c = NULL;
	size_t n = 0;
	doc *d = parse_md(md);

	tap_ok(d && doc_chunk(d, &opt, &c, &n) == 0 && n == 2 && c[1].has_code && !c[0].has_code &&
	       strcmp(c[1].text, d->blocks[1].text) == 0 && c[0].section == -1,
	       "a code block that fits is never cut");
	doc_chunks_free(c, n);
	doc_free(d);
}

/* ---- the corpus */

static int corpus_files, corpus_failed;

static int parse_corpus_file(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	struct chunk_options opt = { CHUNK_SECTION, 0, 100 };
	struct doc_chunk *c = NULL;
	enum doc_format fmt;
	char *text;
	size_t len = 0, n = 0;
	doc *d = NULL;
	int rc;

	if (type != FTW_F || doc_format_of(path, &fmt) < 0 ||
	    (fmt != DOC_MARKDOWN && fmt != DOC_NOTEBOOK && fmt != DOC_RST))
		return 0;
	corpus_files++;
	if (!(text = tap_read_file(path, &len)))
		rc = -errno;
	else if ((rc = doc_parse(fmt, path, text, len, &d)) == 0 && !ranges_sane(d, len))
		rc = -ERANGE;
	if (rc == 0)
		rc = doc_chunk(d, &opt, &c, &n);
	if (rc < 0) {
		corpus_failed++;
		tap_diag("%s: %s", path, strerror(-rc));
	}
	doc_chunks_free(c, n);
	doc_free(d);
	free(text);
	return 0;
}

static void test_corpus(const char *cases_root)
{
	const char *corpus = getenv("DOCTOR_CORPUS");
	char *fallback = NULL;
	struct stat st;

	if (!corpus && asprintf(&fallback, "%s/../../../shared/corpus/ray-docs", cases_root) >= 0)
		corpus = fallback;
	if (!corpus || stat(corpus, &st) < 0) {
		tap_ok(1, "# SKIP corpus not found (%s)", corpus ? corpus : "unset");
		free(fallback);
		return;
	}
	nftw(corpus, parse_corpus_file, 16, FTW_PHYS);
	tap_ok(corpus_files > 0, "corpus has %d Markdown, notebook and rst files", corpus_files);
	tap_is_int(corpus_failed, 0, "every corpus file parses and chunks");
	free(fallback);
}

int main(int argc, char **argv)
{
	const char *cases = getenv("DOCTOR_CASES");

	if (!cases)
		cases = argc > 1 ? argv[1] : "tests/cases";
	run_cases(cases);
	test_anchors();
	test_formats();
	test_html_large();
	test_rst_large();
	test_notebook_output_cap();
	test_chunk_sections();
	test_chunk_limits();
	test_chunk_code_fits();
	test_corpus(cases);
	return tap_done();
}
