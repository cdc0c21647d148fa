/*
 * llm_embed.c - Embeddings calls on the loop (see llm_embed.h): a kind of
 * call of llm_client.c (llm_client_internal.h) whose requests are the
 * batches' bodies, built at once from the borrowed texts, and whose
 * answers fill one table of rows (docs/embed_wire.h reads them). The
 * transport, the retries, cancel and shutdown are the client's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "embed_wire.h"
#include "llm_client_internal.h"
#include "llm_embed.h"

/* One llm_embed: freed by on_end (or by llm_embed when it cannot start). */
struct embed_call {
	struct llm_embed_callbacks cb;
	char **bodies;                /* one per batch; owned until given to the call */
	size_t nbatches;
	size_t batch;                 /* texts per request */
	size_t current;               /* the batch in flight */
	struct embed_rows rows;       /* owned: the vectors so far */
	char *key_note;               /* said after a 401 when no key was sent; owned */
};

static void embed_call_free(struct embed_call *s)
{
	size_t i;

	for (i = 0; s->bodies && i < s->nbatches; i++)
		free(s->bodies[i]);
	free(s->bodies);
	free(s->rows.data);
	free(s->key_note);
	free(s);
}

/* ============================================================ the hooks */

static int on_answer(void *ud, const char *where, const char *body, size_t len,
		     struct llm_error *e, char **next)
{
	struct embed_call *s = ud;
	size_t first = s->current * s->batch;
	size_t count = s->rows.total - first < s->batch ? s->rows.total - first : s->batch;
	char *why = NULL;
	int rc;

	rc = embed_wire_answer(body, len, first, count, &s->rows, &why);
	if (rc == -EIO) {
		/* An error object in a 200 answer: its type or code decides
		 * whether to retry, as in a chat. */
		free(why);
		return llm_error_from_http(200, body, len, NULL, NULL, e) < 0 ? -ENOMEM : -EIO;
	}
	if (rc == -EPROTO) {
		rc = llm_error_setf(e, LLM_ERR_PROTOCOL, 200, "%s: %s", where,
				    why ? why : "not an embeddings answer") < 0 ? -ENOMEM : rc;
		free(why);
		return rc;
	}
	if (rc < 0)
		return rc;
	if (++s->current < s->nbatches) {
		*next = s->bodies[s->current];
		s->bodies[s->current] = NULL;
	}
	return 0;
}

static void on_retry(void *ud, const struct llm_retry *r)
{
	struct embed_call *s = ud;

	if (s->cb.retry)
		s->cb.retry(s->cb.ud, r);
}

/* The error made to name the endpoint, the missing key after a 401, and
 * the attempts made. */
static void explain(struct embed_call *s, const char *where, struct llm_error *e,
		    unsigned attempts)
{
	const char *m = e->message ? e->message : llm_error_kind_name(e->kind);
	const char *note = e->status == 401 && s->key_note ? s->key_note : "";
	char *out = NULL;
	int n;

	if (strstr(m, where))
		n = asprintf(&out, "%s%s", m, note);
	else
		n = asprintf(&out, "embeddings endpoint %s: %s%s", where, m, note);
	if (n >= 0 && attempts > 1 && e->kind != LLM_ERR_CANCELLED) {
		char *more = NULL;

		n = asprintf(&more, "%s (after %u attempts)", out, attempts);
		free(out);
		out = n >= 0 ? more : NULL;
	}
	if (n >= 0 && out) {
		free(e->message);
		e->message = out;
	}
}

static void on_end(void *ud, const char *where, struct llm_error *e, unsigned attempts,
		   long total_ms)
{
	struct embed_call *s = ud;
	struct llm_embed_result res = { .attempts = attempts, .total_ms = total_ms };

	if (e->kind == LLM_ERR_NONE) {
		res.vectors = s->rows.data;
		res.n = s->rows.total;
		res.dim = s->rows.dim;
		s->rows.data = NULL;
	} else {
		explain(s, where, e, attempts);
	}
	res.error = *e;
	memset(e, 0, sizeof *e);
	s->cb.done(s->cb.ud, &res);
	free(res.vectors);
	llm_error_release(&res.error);
	embed_call_free(s);
}

static const struct llm_call_kind embed_kind = {
	.path = "/embeddings",
	.answer = on_answer,
	.end = on_end,
};

/* ============================================================ public */

/* What a 401 should add when no key was sent. */
static int note_key(struct embed_call *s, const char *var)
{
	int n;

	if (var && *var && getenv(var) && *getenv(var))
		return 0;
	if (var && *var)
		n = asprintf(&s->key_note, " (no API key was sent: $%s is not set)", var);
	else
		n = asprintf(&s->key_note, " (no API key was sent: no key variable is configured)");
	if (n < 0) {
		s->key_note = NULL;
		return -ENOMEM;
	}
	return 0;
}

/* Every batch's body, built now: the texts are borrowed for this call only. */
static int make_bodies(struct embed_call *s, const char *model,
		       const struct llm_embed_request *req)
{
	size_t i, first, count;

	s->nbatches = (req->n + s->batch - 1) / s->batch;
	if (!(s->bodies = calloc(s->nbatches, sizeof *s->bodies)))
		return -ENOMEM;
	for (i = 0; i < s->nbatches; i++) {
		first = i * s->batch;
		count = req->n - first < s->batch ? req->n - first : s->batch;
		s->bodies[i] = embed_wire_request(model, req->texts + first, count,
						  req->dimensions, req->base64);
		if (!s->bodies[i])
			return -ENOMEM;
	}
	return 0;
}

int llm_embed(struct llm_client *c, const struct llm_endpoint *ep,
	      const struct llm_embed_request *req, const struct llm_embed_callbacks *cb,
	      struct llm_call **out)
{
	const char *model;
	struct embed_call *s;
	char *first;
	size_t i;
	int rc;

	if (!c || !ep || !req || !cb || !cb->done || !req->texts || req->n == 0)
		return -EINVAL;
	model = req->model && *req->model ? req->model : ep->model;
	if (!model || !*model || !ep->base_url || !*ep->base_url)
		return -EINVAL;
	for (i = 0; i < req->n; i++)
		if (!req->texts[i])
			return -EINVAL;
	if (!(s = calloc(1, sizeof *s)))
		return -ENOMEM;
	s->cb = *cb;
	s->batch = req->batch ? req->batch : EMBED_DEFAULT_BATCH;
	if (s->batch > EMBED_MAX_BATCH)
		s->batch = EMBED_MAX_BATCH;
	s->rows.total = req->n;
	if ((rc = make_bodies(s, model, req)) < 0 || (rc = note_key(s, ep->api_key_env)) < 0) {
		embed_call_free(s);
		return rc;
	}
	first = s->bodies[0];
	s->bodies[0] = NULL;
	/* From here on_end frees s, unless the start fails. */
	if ((rc = llm_call_start(c, ep, &embed_kind, first, on_retry, s, out)) < 0)
		embed_call_free(s);
	return rc;
}
