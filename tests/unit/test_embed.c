/*
 * test_embed.c - the /v1/embeddings client against a real local server.
 *
 * Starts tests/servers/openai_server.py (openai_child.c) with a request
 * log, then checks
 * exact values in both encodings, order by data[].index, batching (counted
 * in the log), dimensions, the Authorization header, every failure the
 * server can script (errno, message, no API key in it, how many requests),
 * retries and their waits, the timeout, a refused connection, bad
 * configurations, and what is done to long, invalid and empty texts. The
 * server is stopped and reaped by an atexit handler, and told to die with
 * this process (PR_SET_PDEATHSIG) should it crash instead.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"
#include "embed.h"
#include "openai_child.h"

#define KEY_VAR "DOCTOR_TEST_EMBED_KEY"
#define SECRET "sk-test-Zq8sLr2VbN41xQ"

/* Request i of the log (new reference), or NULL. */
static json_t *log_entry(size_t i)
{
	json_t *all = openai_child_log(), *e = json_incref(json_array_get(all, i));

	json_decref(all);
	return e;
}

/* ================================================================ helpers */

static struct embed_config config(const char *model)
{
	return (struct embed_config){ .base_url = (char *)openai_child_url(), .model = (char *)model,
				      .api_key_env = (char *)KEY_VAR };
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double norm(const float *v, size_t dim)
{
	double s = 0;
	size_t i;

	for (i = 0; i < dim; i++)
		s += (double)v[i] * v[i];
	return sqrt(s);
}

static double cosine(const float *a, const float *b, size_t dim)
{
	double s = 0;
	size_t i;

	for (i = 0; i < dim; i++)
		s += (double)a[i] * b[i];
	return s / (norm(a, dim) * norm(b, dim));
}

/* ================================================================= values */

/* The "echo" model sends back the numbers of the text: exact values. */
static void test_exact_values(bool b64)
{
	const char *texts[2] = { "1 -2.5 0.1 3.4028235e38 1.4e-45",
				 "0 0.5 -0 7 1e-10" };
	struct embed_config c = config("echo");
	float want[10], *v = NULL;
	size_t dim = 0, i;
	char *err = NULL, *p, *end;
	int rc;

	for (i = 0, p = (char *)texts[0]; i < 5; i++, p = end)
		want[i] = strtof(p, &end);
	for (p = (char *)texts[1]; i < 10; i++, p = end)
		want[i] = strtof(p, &end);
	c.base64 = b64;
	rc = embed_texts(&c, texts, 2, &v, &dim, &err);
	tap_is_int(rc, 0, b64 ? "base64: two vectors" : "float: two vectors");
	if (err)
		tap_diag("%s", err);
	tap_is_int(dim, 5, "of five components");
	tap_ok(v && dim == 5 && memcmp(v, want, sizeof want) == 0,
	       "%s: every value exact, -0, FLT_MAX and the smallest subnormal too",
	       b64 ? "base64" : "float");
	free(v);
	free(err);
}

/* The hashed bag of words: unit length, related texts closer. */
static void test_meaning(void)
{
	const char *texts[3] = { "How do I start a Ray cluster?",
				 "Starting a Ray cluster with ray start --head",
				 "pandas dataframe merge on two columns" };
	struct embed_config c = config("text-embedding-test");
	float *f = NULL, *b = NULL;
	size_t df = 0, db = 0;

	tap_is_int(embed_texts(&c, texts, 3, &f, &df, NULL), 0, "embed three texts (float)");
	c.base64 = true;
	tap_is_int(embed_texts(&c, texts, 3, &b, &db, NULL), 0, "embed them again (base64)");
	tap_is_int(df, 256, "256 dimensions by default");
	if (f && b && df == 256 && db == 256) {
		tap_ok(memcmp(f, b, 3 * 256 * sizeof(float)) == 0,
		       "both encodings carry the same bits");
		tap_ok(fabs(norm(f, 256) - 1) < 1e-5 && fabs(norm(f + 512, 256) - 1) < 1e-5,
		       "vectors come normalised");
		tap_ok(cosine(f, f + 256, 256) > 0.3 &&
		       cosine(f, f + 256, 256) > cosine(f, f + 512, 256) + 0.2,
		       "a related text is closer than an unrelated one (%.3f vs %.3f)",
		       cosine(f, f + 256, 256), cosine(f, f + 512, 256));
	} else {
		tap_ok(0, "vectors to compare");
	}
	free(f);
	free(b);
}

/* ================================================= order, batches, options */

static const char *ten[10] = {
	"ray.init starts a local cluster", "num_gpus reserves GPUs for a task",
	"map_batches applies a function to batches", "actors keep state between calls",
	"ray.get blocks until the object is ready", "placement groups reserve bundles",
	"the dashboard listens on port 8265", "runtime_env installs pip packages",
	"object spilling writes to local disk", "serve deployments scale replicas",
};

static void test_order_and_batches(void)
{
	struct embed_config c = config("plain");
	float *ref = NULL, *rev = NULL, *bat = NULL;
	size_t dref = 0, drev = 0, dbat = 0, before, i;
	json_t *e;
	bool sizes = true;

	tap_is_int(embed_texts(&c, ten, 10, &ref, &dref, NULL), 0, "ten texts in one batch");
	c.model = (char *)"reverse";
	tap_is_int(embed_texts(&c, ten, 5, &rev, &drev, NULL), 0,
		   "five texts from a server answering in reverse order");
	tap_ok(ref && rev && drev == dref && memcmp(rev, ref, 5 * dref * sizeof(float)) == 0,
	       "rows follow data[].index, not the answer's order");

	c.model = (char *)"plain";
	c.batch = 3;
	before = openai_child_log_count();
	tap_is_int(embed_texts(&c, ten, 10, &bat, &dbat, NULL), 0, "ten texts in batches of 3");
	tap_is_int(openai_child_log_count() - before, 4, "four requests");
	for (i = 0; i < 4; i++) {
		e = log_entry(before + i);
		sizes = sizes && json_array_size(json_object_get(json_object_get(e, "body"),
								 "input")) == (i < 3 ? 3 : 1);
		json_decref(e);
	}
	tap_ok(sizes, "of 3, 3, 3 and 1 inputs");
	tap_ok(ref && bat && dbat == dref && memcmp(bat, ref, 10 * dref * sizeof(float)) == 0,
	       "the same vectors as one batch, in order");
	free(ref);
	free(rev);
	free(bat);
}

static void test_request_options(void)
{
	const char *one[1] = { "dimensions of a vector" };
	struct embed_config c = config("plain");
	char slashed[80];
	float *v = NULL;
	size_t dim = 0;
	json_t *e, *body;

	c.dimensions = 64;
	c.base64 = true;
	tap_is_int(embed_texts(&c, one, 1, &v, &dim, NULL), 0, "ask for 64 dimensions, base64");
	tap_is_int(dim, 64, "64 dimensions came back");
	free(v);
	e = log_entry(openai_child_log_count() - 1);
	body = json_object_get(e, "body");
	tap_is_int(json_integer_value(json_object_get(body, "dimensions")), 64,
		   "the request says \"dimensions\": 64");
	tap_is_str(json_string_value(json_object_get(body, "encoding_format")), "base64",
		   "and \"encoding_format\": \"base64\"");
	tap_is_str(json_string_value(json_object_get(body, "model")), "plain", "and the model");
	tap_is_str(json_string_value(json_object_get(e, "path")), "/v1/embeddings",
		   "posted to <base_url>/embeddings");
	tap_is_str(json_string_value(json_object_get(json_object_get(e, "headers"),
						     "Content-Type")),
		   "application/json", "as application/json");
	json_decref(e);

	c.dimensions = 0;
	c.base64 = false;
	snprintf(slashed, sizeof(slashed), "%s/", openai_child_url());
	c.base_url = slashed;    /* a trailing slash changes nothing */
	tap_is_int(embed_texts(&c, one, 1, &v, &dim, NULL), 0, "no dimensions, float");
	free(v);
	e = log_entry(openai_child_log_count() - 1);
	body = json_object_get(e, "body");
	tap_ok(json_object_get(body, "dimensions") == NULL, "no \"dimensions\" key is sent");
	tap_is_str(json_string_value(json_object_get(body, "encoding_format")), "float",
		   "\"encoding_format\": \"float\"");
	tap_is_str(json_string_value(json_object_get(e, "path")), "/v1/embeddings",
		   "a base_url ending in / still posts to /v1/embeddings");
	json_decref(e);
}

/* The key goes in the Authorization header and nowhere else. */
static void test_authorization(void)
{
	const char *one[1] = { "who am I" };
	struct embed_config c = config("plain");
	float *v = NULL;
	size_t dim = 0;
	json_t *e, *headers;
	char *dump;
	const char *p;
	int count = 0;

	setenv(KEY_VAR, SECRET, 1);
	tap_is_int(embed_texts(&c, one, 1, &v, &dim, NULL), 0, "a request with the key set");
	free(v);
	e = log_entry(openai_child_log_count() - 1);
	headers = json_object_get(e, "headers");
	tap_is_str(json_string_value(json_object_get(headers, "Authorization")),
		   "Bearer " SECRET, "Authorization: Bearer <key>");
	dump = json_dumps(e, JSON_COMPACT);
	for (p = dump; p && (p = strstr(p, SECRET)); p++)
		count++;
	tap_is_int(count, 1, "the key appears once in the whole request: in that header");
	free(dump);
	json_decref(e);

	c.api_key_env = (char *)"DOCTOR_TEST_EMBED_UNSET_VARIABLE";
	unsetenv("DOCTOR_TEST_EMBED_UNSET_VARIABLE");
	tap_is_int(embed_texts(&c, one, 1, &v, &dim, NULL), 0, "the key variable unset");
	free(v);
	e = log_entry(openai_child_log_count() - 1);
	tap_ok(json_object_get(json_object_get(e, "headers"), "Authorization") == NULL,
	       "no Authorization header");
	json_decref(e);
	c.api_key_env = NULL;
	tap_is_int(embed_texts(&c, one, 1, &v, &dim, NULL), 0, "no key variable configured");
	free(v);
	e = log_entry(openai_child_log_count() - 1);
	tap_ok(json_object_get(json_object_get(e, "headers"), "Authorization") == NULL,
	       "no Authorization header either");
	json_decref(e);
}

/* ================================================================ failures */

/* One failing call: its errno, a one-line message holding want (and the
 * endpoint, without the key), and how many requests it made. */
static void check_failure(struct embed_config *c, const char *const *texts, size_t n,
			  int want_rc, const char *want, size_t want_requests)
{
	char *err = NULL, where[96];
	float *v = (float *)1;
	size_t dim = 7, before = openai_child_log_count();
	int rc = embed_texts(c, texts, n, &v, &dim, &err);

	tap_ok(rc == want_rc, "%s: %s (%d)", c->model, strerror(-want_rc), rc);
	tap_ok(v == NULL && dim == 0, "%s: no vectors", c->model);
	tap_ok(err && strstr(err, want), "%s: the message says '%s'", c->model, want);
	tap_diag("message: %s", err ? err : "(none)");
	snprintf(where, sizeof where, "127.0.0.1:%d/v1/embeddings", openai_child_port());
	tap_ok(err && strstr(err, where), "%s: and names the endpoint", c->model);
	tap_ok(err && !strchr(err, '\n') && !strchr(err, '\r'), "%s: on one line", c->model);
	tap_ok(err && !strstr(err, SECRET), "%s: without the API key", c->model);
	tap_is_int(openai_child_log_count() - before, want_requests, "requests made");
	free(err);
}

static void test_failures(void)
{
	static const struct {
		const char *model;
		int rc;
		const char *message;
		size_t requests;
	} cases[] = {
		{ "fail-401", -EACCES, "HTTP 401: Incorrect API key provided: [redacted]", 1 },
		{ "string-error", -ENOENT, "HTTP 404: model \"string-error\" not found", 1 },
		{ "detail-error", -EINVAL, "HTTP 422: field required", 1 },
		{ "vllm-error", -EINVAL, "maximum context length is 512 tokens (BadRequestError)", 1 },
		{ "bad-json", -EPROTO, "the answer is not JSON", 1 },
		{ "wrong-count", -EPROTO, "returned 1 embeddings for 2 inputs", 1 },
		{ "mixed-dim", -EPROTO, "mixes embeddings of 256 and 255 dimensions", 1 },
		{ "fail-500", -EIO, "error while processing your request (server_error) "
				    "(after 3 attempts)", 3 },
		{ "html-502", -EIO, "HTTP 502: 502 Bad Gateway (after 3 attempts)", 3 },
		/* insufficient_quota: not retried, whatever Retry-After says */
		{ "retry-after-long", -EAGAIN, "HTTP 429: You exceeded your current quota "
					       "(insufficient_quota)", 1 },
	};
	const char *two[2] = { "first text", "second text" };
	struct embed_config c;
	size_t i;

	setenv(KEY_VAR, SECRET, 1);
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		c = config(cases[i].model);
		check_failure(&c, two, 2, cases[i].rc, cases[i].message, cases[i].requests);
	}
	unsetenv(KEY_VAR);
	c = config("fail-401");
	check_failure(&c, two, 1, -EACCES, "no API key was sent: $" KEY_VAR " is not set", 1);
}

static void test_retries(void)
{
	const char *one[1] = { "retry me" };
	struct embed_config c = config("fail-429-once:retry");
	float *v = NULL;
	size_t dim = 0, before = openai_child_log_count();
	char *err = NULL;
	double t0;
	int rc;

	rc = embed_texts(&c, one, 1, &v, &dim, &err);
	tap_is_int(rc, 0, "a 429 with Retry-After: 0 is retried and succeeds");
	tap_is_int(openai_child_log_count() - before, 2, "in two requests");
	tap_ok(v && dim == 256, "with the vector");
	free(v);
	free(err);

	c.model = (char *)"fail-503-twice:retry";
	before = openai_child_log_count();
	t0 = now_s();
	rc = embed_texts(&c, one, 1, &v, &dim, NULL);
	t0 = now_s() - t0;
	tap_is_int(rc, 0, "503 twice, then an answer: the third attempt succeeds");
	tap_is_int(openai_child_log_count() - before, 3, "in three requests");
	tap_ok(t0 >= 0.95 && t0 < 5, "after backing off 200 then 800 ms (%.2f s)", t0);
	free(v);
}

static void test_timeout(void)
{
	const char *one[1] = { "slow" };
	struct embed_config c = config("slow");
	double t0;

	c.timeout_ms = 300;
	t0 = now_s();
	check_failure(&c, one, 1, -ETIMEDOUT, "Operation timed out", 1);
	t0 = now_s() - t0;
	tap_ok(t0 >= 0.25 && t0 < 2.5, "a timeout of 300 ms ends the call, unretried (%.2f s)",
	       t0);
}

static void test_connection_refused(void)
{
	const char *one[1] = { "anyone there" };
	struct embed_config c = config("plain");
	char url[64], *err = NULL;
	float *v = NULL;
	size_t dim = 0;
	double t0;
	int rc;

	snprintf(url, sizeof url, "http://127.0.0.1:%d/v1", openai_child_free_port());
	c.base_url = url;
	setenv(KEY_VAR, SECRET, 1);
	t0 = now_s();
	rc = embed_texts(&c, one, 1, &v, &dim, &err);
	t0 = now_s() - t0;
	tap_is_int(rc, -ECONNREFUSED, "nobody listening: ECONNREFUSED");
	if (!tap_ok(err && strstr(err, "after 3 attempts") && !strchr(err, '\n'),
		    "retried, then said in one line"))
		tap_diag("message: %s", err ? err : "(none)");
	tap_ok(err && !strstr(err, SECRET), "without the API key");
	tap_ok(t0 >= 0.95 && t0 < 5, "backing off 200 then 800 ms (%.2f s)", t0);
	free(err);
	unsetenv(KEY_VAR);
}

static void test_bad_configs(void)
{
	const char *one[1] = { "x" };
	struct embed_config c = config("plain");
	float *v = (float *)1;
	size_t dim = 3, before = openai_child_log_count();
	char *err = NULL;

	tap_ok(embed_texts(&c, one, 0, &v, &dim, &err) == 0 && !v && dim == 0 && !err,
	       "no texts: nothing to do, no request");
	c.base_url = NULL;
	tap_is_int(embed_texts(&c, one, 1, &v, &dim, &err), -EINVAL, "no base_url: EINVAL");
	tap_ok(err && strstr(err, "no endpoint configured"), "saying so");
	free(err);
	c = config("");
	tap_is_int(embed_texts(&c, one, 1, &v, &dim, NULL), -EINVAL, "an empty model: EINVAL");
	c = config("plain");
	c.base_url = (char *)"ftp://127.0.0.1/v1";
	tap_is_int(embed_texts(&c, one, 1, &v, &dim, &err), -EINVAL, "an ftp URL: EINVAL");
	free(err);
	c.base_url = (char *)"not a url";
	tap_is_int(embed_texts(&c, one, 1, &v, &dim, &err), -EINVAL, "not a URL: EINVAL");
	free(err);
	c = config("plain");
	setenv(KEY_VAR, "abc\r\nX-Injected: 1", 1);
	tap_is_int(embed_texts(&c, one, 1, &v, &dim, &err), -EINVAL,
		   "a key with a line break: EINVAL");
	tap_ok(err && strstr(err, "$" KEY_VAR) && !strstr(err, "Injected"),
	       "the message names the variable, not its value");
	free(err);
	unsetenv(KEY_VAR);
	tap_is_int(openai_child_log_count() - before, 0, "none of these sent a request");
}

/* ================================================================== inputs */

static void test_inputs(void)
{
	struct embed_config c = config("plain");
	size_t big = 100000, dim = 0, i, before = openai_child_log_count(), len;
	char *words = malloc(big + 1), *accents = malloc(20002);
	const char *texts[4];
	float *v = NULL;
	json_t *e, *input;
	const char *s;
	char *err = NULL;
	int rc;

	for (i = 0; i < big; i++)
		words[i] = "word "[i % 5];
	words[big] = '\0';
	accents[0] = 'a';   /* so that the cap falls inside a character */
	for (i = 1; i < 20000; i += 2)
		memcpy(accents + i, "\xc3\xa9", 2);   /* é */
	accents[20001] = '\0';
	texts[0] = words;
	texts[1] = accents;
	texts[2] = "abc\xff\xfe" "def";
	texts[3] = "";
	rc = embed_texts(&c, texts, 4, &v, &dim, &err);
	tap_is_int(rc, 0, "a 100 kB text, a long accented one, invalid UTF-8, an empty one");
	if (err)
		tap_diag("%s", err);
	tap_is_int(openai_child_log_count() - before, 1, "in one request");
	e = log_entry(before);
	input = json_object_get(json_object_get(e, "body"), "input");
	len = strlen(json_string_value(json_array_get(input, 0)) ?: "");
	tap_ok(len <= EMBED_MAX_INPUT_BYTES && len > EMBED_MAX_INPUT_BYTES - 8,
	       "the long text was cut to EMBED_MAX_INPUT_BYTES (%zu bytes)", len);
	s = json_string_value(json_array_get(input, 1));
	tap_ok(s && strlen(s) == EMBED_MAX_INPUT_BYTES - 1 &&
	       strcmp(s + EMBED_MAX_INPUT_BYTES - 3, "\xc3\xa9") == 0,
	       "the accented text was cut before the character the cap falls in");
	tap_is_str(json_string_value(json_array_get(input, 2)), "abc\xef\xbf\xbd\xef\xbf\xbd" "def",
		   "invalid bytes became U+FFFD");
	tap_is_str(json_string_value(json_array_get(input, 3)), " ",
		   "the empty text went as one space");
	json_decref(e);
	free(v);
	free(err);
	free(words);
	free(accents);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	/* A proxy from the environment must not stand between us and 127.0.0.1. */
	unsetenv("http_proxy");
	unsetenv("HTTP_PROXY");
	unsetenv("all_proxy");
	unsetenv("ALL_PROXY");
	unsetenv(KEY_VAR);
	if (embed_global_init() < 0) {
		printf("Bail out! curl_global_init failed\n");
		return 1;
	}
	if (openai_child_start() < 0)
		return 1;
	test_exact_values(false);
	test_exact_values(true);
	test_meaning();
	test_order_and_batches();
	test_request_options();
	test_authorization();
	test_failures();
	test_retries();
	test_timeout();
	test_connection_refused();
	test_bad_configs();
	test_inputs();
	return tap_done();
}
