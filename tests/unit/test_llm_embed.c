/*
 * test_llm_embed.c - Embeddings on the libuv loop (llm_embed.c over
 * llm_client.c and http_uv.c) against the local OpenAI-compatible server
 * (tests/servers/openai_server.py), whose model name picks a behaviour.
 *
 * Checks exact values in both encodings, what the server received (the
 * body, the path, the key as Bearer and nowhere else), the same vectors as
 * the blocking client (embed.c: one wire format), batches in order and
 * out of order, dimensions, a 429 then success and 503 twice then success
 * (the retry callback told), no retry for 401 (with and without a key),
 * an exhausted quota or a malformed answer, retries used up on 500, a
 * timeout, a refused connection, cancelling in flight and during a wait,
 * bad arguments, a chat and embeddings at once on one client, and a
 * shutdown with calls in flight after which uv_loop_close succeeds. The
 * key never shows in a message. Leaks are the sanitizer build's to find.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "tap.h"
#include "embed.h"
#include "llm_embed.h"
#include "loop_util.h"
#include "openai_child.h"

#define KEY_VAR "DOCTOR_TEST_LLM_EMBED_KEY"
#define SECRET "sk-embed-Jr4tYq9WmX2cL7vB"
#define MAX_RETRIES 8

static uv_loop_t loop;
static struct llm_client *client;

/* ================================================================ one call */

/* Everything the callbacks saw of one call. */
struct outcome {
	struct llm_call *call;
	int ndone;
	float *vectors;               /* taken from the result */
	size_t n, dim;
	struct llm_error error;       /* taken from the result */
	unsigned attempts;
	long total_ms;

	int nretries;
	long waits[MAX_RETRIES];
	unsigned next_attempt[MAX_RETRIES];
	bool cancel_in_retry;
};

static void on_retry(void *ud, const struct llm_retry *r)
{
	struct outcome *o = ud;

	if (o->nretries < MAX_RETRIES) {
		o->waits[o->nretries] = r->wait_ms;
		o->next_attempt[o->nretries] = r->attempt;
	}
	o->nretries++;
	if (o->cancel_in_retry)
		llm_call_cancel(o->call);
}

static void on_done(void *ud, struct llm_embed_result *res)
{
	struct outcome *o = ud;

	if (o->ndone++ == 0) {
		o->vectors = res->vectors;              /* taken */
		res->vectors = NULL;
		o->n = res->n;
		o->dim = res->dim;
		o->error = res->error;                  /* taken */
		memset(&res->error, 0, sizeof res->error);
		o->attempts = res->attempts;
		o->total_ms = res->total_ms;
	}
}

static void outcome_release(struct outcome *o)
{
	free(o->vectors);
	llm_error_release(&o->error);
	memset(o, 0, sizeof *o);
}

static struct llm_endpoint endpoint(void)
{
	struct llm_endpoint ep;

	llm_endpoint_defaults(&ep);
	ep.base_url = openai_child_url();
	ep.model = "bag";
	ep.api_key_env = KEY_VAR;
	ep.connect_timeout_ms = 2000;
	ep.timeout_ms = 10000;
	ep.idle_timeout_ms = 0;
	ep.max_retries = 2;
	ep.backoff_base_ms = 50;
	ep.backoff_cap_ms = 200;
	ep.retry_after_cap_ms = 5000;
	return ep;
}

/* Start embedding texts[0..n) on c: 0 or what llm_embed returned. */
static int start(struct llm_client *c, const struct llm_endpoint *ep, const char *model,
		 const char *const *texts, size_t n, bool b64, unsigned batch, struct outcome *o)
{
	struct llm_embed_request req = { .model = model, .texts = texts, .n = n,
					 .base64 = b64, .batch = batch };
	struct llm_embed_callbacks cb = { .retry = on_retry, .done = on_done, .ud = o };

	return llm_embed(c, ep, &req, &cb, &o->call);
}

/* Run the loop until o is done. */
static void wait_done(uv_loop_t *l, struct outcome *o)
{
	while (o->ndone == 0)
		if (uv_run(l, UV_RUN_ONCE) == 0 && o->ndone == 0)
			break;
}

/* One call, to its end. */
static int embed(const struct llm_endpoint *ep, const char *model, const char *const *texts,
		 size_t n, bool b64, unsigned batch, struct outcome *o)
{
	int rc = start(client, ep, model, texts, n, b64, batch, o);

	if (rc == 0)
		wait_done(&loop, o);
	return rc;
}

/* ================================================================ the log */

/* The requests the server got for this model name, in order (new
 * reference). */
static json_t *requests_for(const char *model)
{
	json_t *all = openai_child_log(), *mine = json_array(), *e;
	size_t i;

	json_array_foreach(all, i, e) {
		const char *m = json_string_value(json_object_get(json_object_get(e, "body"),
								  "model"));
		if (m && strcmp(m, model) == 0)
			json_array_append(mine, e);
	}
	json_decref(all);
	return mine;
}

static size_t count_for(const char *model)
{
	json_t *r = requests_for(model);
	size_t n = json_array_size(r);

	json_decref(r);
	return n;
}

static bool contains(const char *s, const char *part)
{
	return s && strstr(s, part);
}

static const char *msg_of(const struct outcome *o)
{
	return o->error.message ? o->error.message : "(none)";
}

/* ================================================================ answers */

/* The "echo" model sends back the numbers of the text: exact values. */
static void test_exact(bool b64)
{
	const char *texts[2] = { "1 -2.5 0.1 3.4028235e38 1.4e-45", "0 0.5 -0 7 1e-10" };
	const char *model = b64 ? "echo:b64" : "echo:float";
	struct llm_endpoint ep = endpoint();
	const char *what = b64 ? "base64" : "float";
	struct outcome o = { 0 };
	float want[10];
	char *p, *end, *dump;
	json_t *reqs, *req, *body;
	size_t i;

	for (i = 0, p = (char *)texts[0]; i < 5; i++, p = end)
		want[i] = strtof(p, &end);
	for (p = (char *)texts[1]; i < 10; i++, p = end)
		want[i] = strtof(p, &end);
	tap_ok(embed(&ep, model, texts, 2, b64, 0, &o) == 0, "%s: started", what);
	tap_ok(o.ndone == 1 && o.error.kind == LLM_ERR_NONE, "%s: done once, no error (%s)",
	       what, msg_of(&o));
	tap_ok(o.n == 2 && o.dim == 5, "%s: two vectors of five components", what);
	tap_ok(o.vectors && o.n == 2 && o.dim == 5 && memcmp(o.vectors, want, sizeof want) == 0,
	       "%s: every value exact, -0, FLT_MAX and the smallest subnormal too", what);
	tap_ok(o.attempts == 1, "%s: one request (%u)", what, o.attempts);

	reqs = requests_for(model);
	req = json_array_get(reqs, 0);
	body = json_object_get(req, "body");
	tap_ok(json_array_size(reqs) == 1 &&
	       strcmp(json_string_value(json_object_get(req, "path")) ?: "", "/v1/embeddings") == 0,
	       "%s: posted to <base_url>/embeddings", what);
	tap_ok(strcmp(json_string_value(json_object_get(body, "encoding_format")) ?: "",
		      what) == 0 && json_array_size(json_object_get(body, "input")) == 2 &&
	       !json_object_get(body, "dimensions"),
	       "%s: the body asks for %s, two inputs, no dimensions", what, what);
	tap_ok(contains(json_string_value(json_object_get(json_object_get(req, "headers"),
							 "Authorization")), "Bearer " SECRET),
	       "%s: the key as Bearer", what);
	dump = json_dumps(req, 0);
	p = dump ? strstr(dump, SECRET) : NULL;
	tap_ok(p && !strstr(p + 1, SECRET), "%s: the key once in the request: in its header", what);
	free(dump);
	json_decref(reqs);
	outcome_release(&o);
}

/* The very vectors of the blocking client: one wire format. */
static void test_same_as_blocking(void)
{
	const char *texts[3] = { "How do I start a Ray cluster?",
				 "Starting a Ray cluster with ray start --head",
				 "pandas dataframe merge on two columns" };
	struct embed_config c = { .base_url = (char *)openai_child_url(), .model = "bag:blocking",
				  .api_key_env = (char *)KEY_VAR, .dimensions = 64 };
	struct llm_endpoint ep = endpoint();
	struct llm_embed_request req = { .model = "bag:loop", .texts = texts, .n = 3,
					 .dimensions = 64, .base64 = true };
	struct llm_embed_callbacks cb = { .done = on_done };
	struct outcome o = { 0 };
	float *b = NULL;
	size_t dim = 0;
	json_t *reqs;

	cb.ud = &o;
	tap_is_int(embed_texts(&c, texts, 3, &b, &dim, NULL), 0, "blocking client: three vectors");
	tap_is_int(llm_embed(client, &ep, &req, &cb, &o.call), 0, "on the loop: started");
	wait_done(&loop, &o);
	tap_ok(o.error.kind == LLM_ERR_NONE && o.dim == 64 && dim == 64,
	       "64 dimensions as asked, both ways (%s)", msg_of(&o));
	tap_ok(b && o.vectors && dim == o.dim &&
	       memcmp(b, o.vectors, 3 * dim * sizeof(float)) == 0,
	       "the same bits as the blocking client's");
	reqs = requests_for("bag:loop");
	tap_ok(json_integer_value(json_object_get(json_object_get(json_array_get(reqs, 0), "body"),
						  "dimensions")) == 64,
	       "the body says \"dimensions\": 64");
	json_decref(reqs);
	free(b);
	outcome_release(&o);
}

/* Ten texts in batches of 3, from a server answering in reverse order. */
static void test_batches(void)
{
	const char *texts[10] = { "ray start --head", "object store full", "spilling to disk",
				  "placement group", "actor died", "out of memory", "GPU not found",
				  "task retried", "worker crashed", "dashboard port" };
	struct llm_endpoint ep = endpoint();
	struct outcome one = { 0 }, many = { 0 };
	json_t *reqs;
	size_t i, sizes[4] = { 0 };

	embed(&ep, "bag:one", texts, 10, false, 0, &one);
	embed(&ep, "reverse:batches", texts, 10, true, 3, &many);
	tap_ok(one.error.kind == LLM_ERR_NONE && many.error.kind == LLM_ERR_NONE,
	       "ten texts at once and in batches of 3 (%s)", msg_of(&many));
	reqs = requests_for("reverse:batches");
	for (i = 0; i < 4 && i < json_array_size(reqs); i++)
		sizes[i] = json_array_size(json_object_get(
			json_object_get(json_array_get(reqs, i), "body"), "input"));
	tap_ok(json_array_size(reqs) == 4 && sizes[0] == 3 && sizes[1] == 3 && sizes[2] == 3 &&
	       sizes[3] == 1, "four requests of 3, 3, 3 and 1 inputs (%zu requests)",
	       json_array_size(reqs));
	tap_is_int(many.attempts, 4, "four attempts counted, none retried");
	tap_ok(one.vectors && many.vectors && one.n == 10 && many.n == 10 &&
	       one.dim == many.dim &&
	       memcmp(one.vectors, many.vectors, 10 * one.dim * sizeof(float)) == 0,
	       "the same vectors, each in its text's row (data[].index, not the answer's order)");
	json_decref(reqs);
	outcome_release(&one);
	outcome_release(&many);
}

/* A chat and embeddings at once on one client. */
struct chat_outcome {
	int ndone;
	enum llm_error_kind kind;
	char content[256];
};

static void on_chat_done(void *ud, struct llm_result *res)
{
	struct chat_outcome *o = ud;

	o->ndone++;
	o->kind = res->response.error.kind;
	snprintf(o->content, sizeof o->content, "%s", res->response.content ?: "");
}

static void test_with_chat(void)
{
	const char *texts[1] = { "the object store is full" };
	struct llm_endpoint ep = endpoint();
	json_t *msgs = json_pack("[{s:s, s:s}]", "role", "user", "content", "ping");
	struct llm_request req = { .model = "plain", .messages = msgs, .temperature = -1 };
	struct llm_callbacks cb = { .done = on_chat_done };
	struct chat_outcome chat = { 0 };
	struct outcome o = { 0 };

	cb.ud = &chat;
	tap_is_int(llm_chat(client, &ep, &req, &cb, NULL), 0, "a chat on the same client");
	tap_is_int(start(client, &ep, "bag:with-chat", texts, 1, false, 0, &o), 0,
		   "and embeddings beside it");
	json_decref(msgs);
	while (chat.ndone == 0 || o.ndone == 0)
		uv_run(&loop, UV_RUN_ONCE);
	tap_ok(chat.kind == LLM_ERR_NONE && contains(chat.content, "ping") &&
	       o.error.kind == LLM_ERR_NONE && o.n == 1 && o.dim == 256,
	       "both answered (%s / %s)", chat.content, msg_of(&o));
	outcome_release(&o);
}

/* ================================================================ failures */

static void test_retried(void)
{
	const char *texts[1] = { "retry me" };
	struct llm_endpoint ep = endpoint();
	struct outcome o = { 0 };

	embed(&ep, "fail-429-once:e", texts, 1, false, 0, &o);
	tap_ok(o.error.kind == LLM_ERR_NONE && o.n == 1 && o.vectors,
	       "a 429 with Retry-After: 0, then success (%s)", msg_of(&o));
	tap_is_int(o.attempts, 2, "429: two attempts");
	tap_ok(o.nretries == 1 && o.waits[0] == 0 && o.next_attempt[0] == 2,
	       "429: the caller told once, the wait the server asked (%ld ms)", o.waits[0]);
	tap_is_int((int)count_for("fail-429-once:e"), 2, "429: two requests");
	outcome_release(&o);

	embed(&ep, "fail-503-twice:e", texts, 1, false, 0, &o);
	tap_ok(o.error.kind == LLM_ERR_NONE && o.n == 1, "503 twice, then success (%s)",
	       msg_of(&o));
	tap_ok(o.attempts == 3 && o.nretries == 2 && o.waits[0] >= 25 && o.waits[0] <= 50 &&
	       o.waits[1] >= 50 && o.waits[1] <= 100,
	       "503: three attempts, backing off with jitter (%ld, %ld ms)", o.waits[0],
	       o.waits[1]);
	outcome_release(&o);
}

/* A call that fails: kind, attempts, and a message naming the endpoint
 * without the key. */
static void check_failure(const char *model, enum llm_error_kind kind, unsigned attempts,
			  const char *says)
{
	const char *texts[2] = { "one text", "another text" };
	struct llm_endpoint ep = endpoint();
	struct outcome o = { 0 };

	embed(&ep, model, texts, 2, false, 0, &o);
	tap_ok(o.ndone == 1 && o.error.kind == kind && !o.vectors && o.n == 0,
	       "%s: %s, no vectors", model, llm_error_kind_name(o.error.kind));
	tap_ok(o.attempts == attempts, "%s: %u attempt(s) (%u)", model, attempts, o.attempts);
	tap_ok(contains(msg_of(&o), says) && contains(msg_of(&o), "/v1/embeddings") &&
	       !contains(msg_of(&o), SECRET), "%s: '%s' said, the endpoint named, no key (%s)",
	       model, says, msg_of(&o));
	outcome_release(&o);
}

static void test_failures(void)
{
	check_failure("fail-401:a", LLM_ERR_HTTP, 1, "Incorrect API key provided: sk-[redacted]");
	unsetenv(KEY_VAR);
	check_failure("fail-401:b", LLM_ERR_HTTP, 1,
		      "no API key was sent: $" KEY_VAR " is not set");
	setenv(KEY_VAR, SECRET, 1);
	check_failure("retry-after-long", LLM_ERR_HTTP, 1, "insufficient_quota");
	check_failure("detail-error", LLM_ERR_HTTP, 1, "field required");
	check_failure("bad-json", LLM_ERR_PROTOCOL, 1, "not JSON");
	check_failure("wrong-count", LLM_ERR_PROTOCOL, 1, "returned 1 embeddings for 2 inputs");
	check_failure("mixed-dim", LLM_ERR_PROTOCOL, 1, "mixes embeddings of 256 and 255");
	check_failure("fail-500", LLM_ERR_HTTP, 3, "(after 3 attempts)");
	check_failure("html-502", LLM_ERR_HTTP, 3, "502 Bad Gateway");
}

static void test_timeout(void)
{
	const char *texts[1] = { "slowly" };
	struct llm_endpoint ep = endpoint();
	struct outcome o = { 0 };

	ep.timeout_ms = 300;
	ep.max_retries = 0;
	embed(&ep, "slow:timeout", texts, 1, false, 0, &o);
	tap_ok(o.error.kind == LLM_ERR_TIMEOUT, "a slow server: a timeout (%s)", msg_of(&o));
	tap_ok(o.total_ms >= 250 && o.total_ms < 2000, "after the 300 ms asked (%ld ms)",
	       o.total_ms);
	outcome_release(&o);
}

static void test_refused(void)
{
	const char *texts[1] = { "nobody there" };
	struct llm_endpoint ep = endpoint();
	struct outcome o = { 0 };
	char url[80];

	snprintf(url, sizeof url, "http://user:pw@127.0.0.1:%d/v1/?q=1", openai_child_free_port());
	ep.base_url = url;
	embed(&ep, NULL, texts, 1, false, 0, &o);
	tap_is_int(o.error.kind, LLM_ERR_CONNECT, "refused: a connection error");
	tap_ok(o.attempts == 3 && o.nretries == 2, "refused: retried twice, the caller told");
	tap_ok(contains(msg_of(&o), "cannot reach http://127.0.0.1:") &&
	       contains(msg_of(&o), "(after 3 attempts)"), "refused: a clear message (%s)",
	       msg_of(&o));
	tap_ok(!contains(msg_of(&o), "pw") && !contains(msg_of(&o), SECRET),
	       "refused: no credentials in the message");
	outcome_release(&o);
}

/* ================================================================ ends */

static void test_cancel(void)
{
	const char *texts[1] = { "never mind" };
	struct llm_endpoint ep = endpoint();
	struct outcome o = { 0 };

	tap_is_int(start(client, &ep, "slow:cancel", texts, 1, false, 0, &o), 0,
		   "cancel in flight: started");
	run_for(&loop, 200);
	tap_is_int(o.ndone, 0, "cancel in flight: still waiting for the slow server");
	llm_call_cancel(o.call);
	llm_call_cancel(o.call);                 /* harmless twice */
	wait_done(&loop, &o);
	run_for(&loop, 100);
	tap_ok(o.ndone == 1 && o.error.kind == LLM_ERR_CANCELLED && !o.vectors,
	       "cancel in flight: done once, cancelled (%s)", msg_of(&o));
	tap_ok(o.total_ms < 2000, "cancel in flight: at once (%ld ms)", o.total_ms);
	outcome_release(&o);

	ep.backoff_base_ms = ep.backoff_cap_ms = 5000;
	o.cancel_in_retry = true;
	start(client, &ep, "fail-503-twice:cancel", texts, 1, false, 0, &o);
	wait_done(&loop, &o);
	tap_ok(o.ndone == 1 && o.error.kind == LLM_ERR_CANCELLED && o.nretries == 1,
	       "cancel during the wait: done once, cancelled");
	tap_ok(o.total_ms < 2000, "cancel during the wait: not after it (%ld ms)", o.total_ms);
	outcome_release(&o);
}

static void test_bad_calls(void)
{
	const char *texts[2] = { "a", NULL };
	struct llm_endpoint ep = endpoint();
	struct outcome o = { 0 };

	tap_is_int(start(client, &ep, NULL, texts, 0, false, 0, &o), -EINVAL, "no texts: -EINVAL");
	tap_is_int(start(client, &ep, NULL, texts, 2, false, 0, &o), -EINVAL,
		   "a NULL text: -EINVAL");
	ep.model = NULL;
	tap_is_int(start(client, &ep, NULL, texts, 1, false, 0, &o), -EINVAL, "no model: -EINVAL");
	ep = endpoint();
	ep.base_url = "";
	tap_is_int(start(client, &ep, NULL, texts, 1, false, 0, &o), -EINVAL,
		   "no base URL: -EINVAL");
	tap_is_int(o.ndone, 0, "a call that failed to start runs no callback");
}

static void test_shutdown(void)
{
	const char *texts[1] = { "shutting down" };
	struct llm_endpoint ep = endpoint();
	struct outcome slow = { 0 }, waiting = { 0 }, late = { 0 };
	struct llm_client *c;
	uv_loop_t l;

	uv_loop_init(&l);
	tap_is_int(llm_client_new(&l, &c), 0, "shutdown: a second client");
	ep.backoff_base_ms = ep.backoff_cap_ms = 10000;
	start(c, &ep, "slow:shutdown", texts, 1, false, 0, &slow);
	start(c, &ep, "fail-503-twice:shutdown", texts, 1, false, 0, &waiting);
	while (waiting.nretries < 1 && waiting.ndone == 0)
		uv_run(&l, UV_RUN_ONCE);
	tap_ok(waiting.nretries == 1 && slow.ndone == 0,
	       "shutdown: a slow answer awaited, a retry waiting");
	llm_client_close(c);
	tap_ok(slow.ndone == 1 && waiting.ndone == 1, "shutdown: every done ran, once, within "
	       "the close");
	tap_ok(slow.error.kind == LLM_ERR_CANCELLED && waiting.error.kind == LLM_ERR_CANCELLED,
	       "shutdown: both cancelled");
	tap_ok(contains(slow.error.message, "shutting down"), "shutdown: said (%s)",
	       msg_of(&slow));
	tap_is_int(start(c, &ep, NULL, texts, 1, false, 0, &late), -ESHUTDOWN,
		   "shutdown: no call after the close");
	uv_run(&l, UV_RUN_DEFAULT);
	tap_is_int(uv_loop_close(&l), 0, "shutdown: uv_loop_close succeeds afterwards");
	outcome_release(&slow);
	outcome_release(&waiting);
}

int main(void)
{
	alarm(120);
	if (openai_child_start() < 0)
		return 1;
	setenv(KEY_VAR, SECRET, 1);
	if (embed_global_init() < 0)
		return tap_ok(0, "libcurl initialises"), tap_done();
	uv_loop_init(&loop);
	if (!tap_ok(llm_client_new(&loop, &client) == 0, "a client on the loop"))
		return tap_done();

	test_exact(false);
	test_exact(true);
	test_same_as_blocking();
	test_batches();
	test_with_chat();
	test_retried();
	test_failures();
	test_timeout();
	test_refused();
	test_cancel();
	test_bad_calls();
	test_shutdown();

	llm_client_close(client);
	uv_run(&loop, UV_RUN_DEFAULT);
	tap_is_int(uv_loop_close(&loop), 0, "the idle client closes; uv_loop_close succeeds");
	return tap_done();
}
