/*
 * agent_notify.c - what a run tells: notifications to the subscribers and
 * to the connections that asked for it (the source's client, explain's
 * caller), and the steps of its trace in the store (see agent_loop.h).
 *
 * Trace bodies are redacted again here, whatever the caller did: the store
 * is read by `doctor show`, and secrets must not sit in it either. Logs get
 * ids and counts only.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "agent_loop.h"
#include "conn.h"
#include "doctord.h"
#include "log.h"
#include "redact.h"
#include "rpc.h"

double run_ms_since(uint64_t t0)
{
	return (double)(uv_hrtime() - t0) / 1e6;
}

void run_announce(struct agent_run *r, const char *method, json_t *params)
{
	struct doctord *d = r->a->d;
	struct conn *c;
	size_t i;

	if (!params)
		return;
	for (i = 0; i < r->nnotify; i++) {
		c = conn_find(d, r->notify[i]);
		if (c && !c->subscribed)
			conn_send(c, rpc_notification(method, json_incref(params)));
	}
	conn_broadcast(d, method, params);
}

void run_step(struct agent_run *r, const char *kind, const char *name, json_t *body,
              double latency_ms, int64_t prompt_tokens, int64_t completion_tokens,
              double cost_usd)
{
	struct store_agent_step s = {
		.kind = kind, .name = name, .latency_ms = latency_ms,
		.prompt_tokens = prompt_tokens > 0 ? prompt_tokens : 0,
		.completion_tokens = completion_tokens > 0 ? completion_tokens : 0,
		.cost_usd = cost_usd > 0 ? cost_usd : 0,
	};
	store *st = r->a->d->st;
	json_t *copy = body ? json_deep_copy(body) : NULL;
	char *text = NULL;
	int rc;

	if (copy && redact_json(r->a->redactor, copy, NULL) == 0)
		text = json_dumps(copy, JSON_COMPACT | JSON_ENSURE_ASCII);
	if (body && !text) {
		log_error("agent: run %lld: out of memory for a %s step", (long long)r->id, kind);
		json_decref(copy);
		return;
	}
	s.body = text;
	if ((rc = store_agent_step_add(st, r->id, &s)) < 0)
		log_error("store: run %lld: cannot add a %s step: %s", (long long)r->id, kind,
		          rc == -EIO ? store_errmsg(st) : "invalid step");
	free(text);
	json_decref(copy);
}

void run_note(struct agent_run *r, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	json_t *body;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	body = json_pack("{s:s}", "message", msg);
	run_step(r, "note", NULL, body, -1, 0, 0, 0);
	json_decref(body);
}
