/*
 * test_retrieval_eval.c - the figures of `doctor eval retrieval`
 * (client/retrieval_eval.c): page keys, questions parsed from JSON Lines,
 * ranks of the first matching hit, the list of k, and recall@k and MRR
 * for a hand-made ranking whose values are worked out below.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "retrieval_eval.h"
#include "tap.h"

#define NHITS(a) (sizeof(a) / sizeof((a)[0]))

static void is_real(double got, double want, const char *name)
{
	if (!tap_ok(fabs(got - want) < 1e-12, "%s", name))
		tap_diag("got %.15g, want %.15g", got, want);
}

static void check_key(const char *page, const char *want)
{
	char *key = reval_page_key(page);

	tap_is_str(key, want, page);
	free(key);
}

static void test_page_keys(void)
{
	check_key("ray-core/tasks.rst", "ray-core/tasks");
	check_key("ray-core/tasks", "ray-core/tasks");
	check_key("./ray-core/tasks.md", "ray-core/tasks");
	check_key("/data/loading.IPYNB", "data/loading");
	check_key("a/b.markdown", "a/b");
	check_key("a/page.html", "a/page");
	check_key("a/page.htm", "a/page");
	check_key("notes.txt", "notes");
	check_key("api/ray.data.Dataset.map_batches",
	          "api/ray.data.Dataset.map_batches");    /* not an extension */
	check_key("api/ray.init.rst", "api/ray.init");
	check_key("a.rst/page", "a.rst/page");           /* a folder's name stays */
	check_key("a/.rst", "a/.rst");                   /* a dot file has no extension */
	check_key("archive.tar.gz", "archive.tar.gz");
}

/* Parse line; expect success with page and anchor, or failure (want_page
 * NULL) with an error containing want_error. */
static void check_parse(const char *line, const char *want_page, const char *want_anchor,
                        const char *want_error)
{
	struct reval_question q;
	char *error = NULL;
	int rc = reval_parse_question(line, strlen(line), &q, &error);

	if (want_page) {
		if (!tap_ok(rc == 0, "parses: %s", line))
			tap_diag("%s", error ? error : "(no error)");
		tap_is_str(q.page, want_page, "its page");
		tap_is_str(q.anchor, want_anchor, "its anchor");
		reval_question_release(&q);
	} else {
		tap_ok(rc == -EINVAL, "refused: %s", line);
		if (!tap_ok(error && strstr(error, want_error), "says why"))
			tap_diag("got '%s', want '%s'", error ? error : "(null)", want_error);
		tap_ok(q.question == NULL && q.page == NULL, "and holds nothing");
	}
	free(error);
}

static void test_parse(void)
{
	struct reval_question q;
	char *error = NULL;
	const char *line = "{\"question\": \"How do I set num_gpus?\", "
	                   "\"source\": \"ray-core/tasks.rst#specifying-resources\", \"kind\": 1}";

	tap_is_int(reval_parse_question(line, strlen(line), &q, &error), 0, "a full line");
	tap_is_str(q.question, "How do I set num_gpus?", "its question");
	tap_is_str(q.source, "ray-core/tasks.rst#specifying-resources", "its source as written");
	reval_question_release(&q);

	check_parse("{\"question\":\"q\",\"source\":\"a/b\"}", "a/b", NULL, NULL);
	check_parse("{\"question\":\"q\",\"source\":\"a/b.ipynb#\"}", "a/b", NULL, NULL);
	check_parse("{\"question\":\"q\",\"source\":\"./a/b.md#Top\"}", "a/b", "Top", NULL);
	check_parse("{\"question\":\"q\",\"source\":\"a/b#c#d\"}", "a/b", "c#d", NULL);
	check_parse("{\"question\": \"q\", \"source\": ", NULL, NULL, "not valid JSON");
	check_parse("[1, 2]", NULL, NULL, "expected a JSON object");
	check_parse("\"just text\"", NULL, NULL, "expected a JSON object");
	check_parse("{\"source\":\"a\"}", NULL, NULL, "'question' must be");
	check_parse("{\"question\":\"\",\"source\":\"a\"}", NULL, NULL, "'question' must be");
	check_parse("{\"question\":\"q\",\"source\":3}", NULL, NULL, "'source' must be");
	check_parse("{\"question\":\"q\"}", NULL, NULL, "'source' must be");
	check_parse("{\"question\":\"q\",\"source\":\"#anchor\"}", NULL, NULL,
	            "'source' names no page");
	check_parse("{\"question\":\"q\",\"source\":\"a\",\"source\":\"b\"}", NULL, NULL,
	            "not valid JSON");
}

static void check_ks(const char *text, int want_rc, const char *want)
{
	unsigned ks[REVAL_MAX_KS];
	char got[200] = "";
	size_t nk = 0, i;
	int rc = reval_parse_ks(text, ks, &nk);

	tap_is_int(rc, want_rc, text);
	if (rc < 0)
		return;
	for (i = 0; i < nk; i++)
		snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%u", i ? "," : "", ks[i]);
	tap_is_str(got, want, "values, ascending");
}

static void test_ks(void)
{
	check_ks("1,3,5,10", 0, "1,3,5,10");
	check_ks("10,1,5", 0, "1,5,10");
	check_ks("7", 0, "7");
	check_ks("1000", 0, "1000");
	check_ks("1001", -EINVAL, NULL);
	check_ks("0", -EINVAL, NULL);
	check_ks("1,1", -EINVAL, NULL);
	check_ks("1,,3", -EINVAL, NULL);
	check_ks("1,3,", -EINVAL, NULL);
	check_ks("", -EINVAL, NULL);
	check_ks("1, 3", -EINVAL, NULL);
	check_ks("-1", -EINVAL, NULL);
	check_ks("three", -EINVAL, NULL);
	check_ks("1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16", 0,
	         "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16");
	check_ks("1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17", -EINVAL, NULL);
}

static struct reval_question question(const char *source)
{
	struct reval_question q;
	char line[256], *error = NULL;

	snprintf(line, sizeof(line), "{\"question\": \"q\", \"source\": \"%s\"}", source);
	if (reval_parse_question(line, strlen(line), &q, &error) < 0) {
		tap_diag("cannot parse %s: %s", source, error ? error : "");
		memset(&q, 0, sizeof(q));
	}
	free(error);
	return q;
}

/*
 * Four questions, k = 1, 3, 5:
 *   q1 a/x.rst#s1     hits: a/x#s1 first           page 1, section 1
 *   q2 b/y (no anchor) hits: c/z, b/y.md#t          page 2, section -
 *   q3 c/z.ipynb#deep  hits: c/z#other, d, c/z#deep page 1, section 3
 *   q4 e/w#q           hits: none of e/w            page 0, section 0
 * Page recall: @1 2/4 (q1, q3), @3 3/4, @5 3/4.
 * Section recall over the 3 anchored: @1 1/3, @3 2/3, @5 2/3.
 * MRR page (1 + 1/2 + 1 + 0) / 4 = 0.625; section (1 + 1/3 + 0) / 3 = 4/9.
 */
static void test_figures(void)
{
	const struct reval_hit h1[] = { { "a/x.rst", "s1" }, { "a/x.rst", "s2" } };
	const struct reval_hit h2[] = { { "c/z.ipynb", "" }, { "b/y.md", "t" }, { "b/y.md", "u" } };
	const struct reval_hit h3[] = { { "c/z.ipynb", "other" }, { "d.rst", NULL },
	                                { "c/z.ipynb", "deep" } };
	const struct reval_hit h4[] = { { "a/x.rst", "q" }, { "b/y.md", "q" }, { "c/z.ipynb", "q" },
	                                { "d.rst", "q" }, { "e/v.rst", "q" } };
	const unsigned ks[] = { 1, 3, 5 };
	struct reval_question q[4];
	struct reval_totals t;
	size_t i;

	q[0] = question("a/x.rst#s1");
	q[1] = question("b/y");
	q[2] = question("c/z.ipynb#deep");
	q[3] = question("e/w#q");
	tap_is_int(reval_rank(&q[0], h1, NHITS(h1), false), 1, "q1: page at 1");
	tap_is_int(reval_rank(&q[0], h1, NHITS(h1), true), 1, "q1: section at 1");
	tap_is_int(reval_rank(&q[1], h2, NHITS(h2), false), 2, "q2: page at 2, extensions aside");
	tap_is_int(reval_rank(&q[1], h2, NHITS(h2), true), 0, "q2: no anchor, no section rank");
	tap_is_int(reval_rank(&q[2], h3, NHITS(h3), false), 1, "q3: page at 1");
	tap_is_int(reval_rank(&q[2], h3, NHITS(h3), true), 3, "q3: section at 3");
	tap_is_int(reval_rank(&q[3], h4, NHITS(h4), false), 0, "q4: page not found");
	tap_is_int(reval_rank(&q[3], h4, NHITS(h4), true), 0,
	           "q4: the anchor alone, on other pages, does not count");
	tap_is_int(reval_rank(&q[2], h3, 2, true), 0, "only the hits given are looked at");

	reval_init(&t, ks, 3);
	reval_add(&t, 1, 1, true);
	reval_add(&t, 2, 0, false);
	reval_add(&t, 1, 3, true);
	reval_add(&t, 0, 0, true);
	tap_is_int(t.questions, 4, "4 questions");
	tap_is_int(t.anchored, 3, "3 with an anchor");
	is_real(reval_recall(&t, 0, false), 0.5, "page recall@1");
	is_real(reval_recall(&t, 1, false), 0.75, "page recall@3");
	is_real(reval_recall(&t, 2, false), 0.75, "page recall@5");
	is_real(reval_recall(&t, 0, true), 1.0 / 3, "section recall@1");
	is_real(reval_recall(&t, 1, true), 2.0 / 3, "section recall@3");
	is_real(reval_recall(&t, 2, true), 2.0 / 3, "section recall@5");
	is_real(reval_mrr(&t, false), 0.625, "page MRR");
	is_real(reval_mrr(&t, true), 4.0 / 9, "section MRR");
	is_real(reval_recall(&t, 3, false), -1, "no fourth k");

	/* A rank past the largest k counts as not found, for MRR too. */
	reval_add(&t, 6, 6, true);
	is_real(reval_recall(&t, 2, false), 3.0 / 5, "page recall@5 after a rank-6 hit");
	is_real(reval_mrr(&t, false), 2.5 / 5, "which adds nothing to MRR");
	is_real(reval_mrr(&t, true), (4.0 / 3) / 4, "at section level either");

	reval_init(&t, ks, 3);
	reval_add(&t, 3, 0, false);
	is_real(reval_recall(&t, 1, true), -1, "no anchored question: no section figure");
	is_real(reval_mrr(&t, true), -1, "nor section MRR");
	is_real(reval_mrr(&t, false), 1.0 / 3, "page MRR of one question at rank 3");
	for (i = 0; i < 4; i++)
		reval_question_release(&q[i]);
}

int main(void)
{
	test_page_keys();
	test_parse();
	test_ks();
	test_figures();
	return tap_done();
}
