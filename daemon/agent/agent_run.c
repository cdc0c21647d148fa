/*
 * agent_run.c - one run's state machine (see agent_loop.h, docs/agent.md):
 *
 *   start -> cached? -> the end, copied from the cache
 *         -> daily budget spent? -> the end, composed here
 *         -> documentation search for the incident (agent.docs_k hits)
 *         -> system prompt + incident message
 *         -> turn: limits checked, the request (redacted as a whole) sent
 *              -> deltas and retries told to clients as they come
 *              -> response with tool calls: executed (agent_tools_exec.c),
 *                 then the next turn
 *              -> response without: the end (agent_finish.c)
 *
 * Limits end the loop with a diagnosis all the same: max_steps and a
 * repeated tool call by one last request without tools asking for the
 * answer; a budget (per diagnosis, daily) by a diagnosis composed here
 * from what was learned, since asking again would spend more.
 *
 * Every callback first looks whether the run has ended meanwhile
 * (cancelled, doctord stopping); then it only drops its reference.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_loop.h"
#include "docs_jobs.h"
#include "doctord.h"
#include "log.h"
#include "plugins.h"
#include "redact.h"

/* ------------------------------------------------------------ budgets */

/* A budget limits what costs money: it is reached when the model has a
 * price and what was spent is at least the budget (a budget of 0 allows
 * no request). A model without a price is free and never reaches one. */
static bool reached(const struct agent_run *r, double spent, double budget)
{
	double in = 0, out = 0;

	if (config_llm_price(&r->llm, r->model, &in, &out) < 0 || (in <= 0 && out <= 0))
		return false;
	return spent >= budget;
}

static bool daily_budget_reached(struct agent_run *r)
{
	double now = doctord_now(), spent = 0;

	if (store_agent_spent(r->a->d->st, now - fmod(now, 86400.0), &spent) < 0) {
		log_warn("store: cannot sum today's spending: %s", store_errmsg(r->a->d->st));
		return false;
	}
	return reached(r, spent, r->cfg.budget_daily);
}

/* ------------------------------------------------------------ the LLM */

static void on_delta(void *ud, const char *text, size_t len)
{
	struct agent_run *r = ud;
	char *sep = NULL;
	json_t *t;

	/* in JSON mode the text is a JSON object: the diagnosis shows it */
	if (r->phase == RUN_ENDED || len == 0 || !r->tools)
		return;
	/* the text of a new turn starts a new paragraph */
	if (r->spoke && !r->turn_spoke && asprintf(&sep, "\n\n%.*s", (int)len, text) >= 0) {
		text = sep;
		len += 2;
	}
	r->turn_spoke = true;
	t = json_stringn(text, len);
	free(sep);
	if (!t)
		return;
	run_announce(r, "diagnosis.delta", json_pack("{s:I, s:I, s:o}", "incident",
	             (json_int_t)r->incident_id, "run", (json_int_t)r->id, "text", t));
}

static void on_retry(void *ud, const struct llm_retry *rt)
{
	struct agent_run *r = ud;
	const struct llm_error *e = rt->error;
	const char *msg = e->message ? e->message : llm_error_kind_name(e->kind);
	json_t *body;

	if (r->phase == RUN_ENDED)
		return;
	if (rt->discard)
		r->turn_spoke = false;
	log_info("agent: run %lld: %s error (status %d), attempt %u in %ld ms", (long long)r->id,
	         llm_error_kind_name(e->kind), e->status, rt->attempt, rt->wait_ms);
	body = json_pack("{s:s, s:i, s:s, s:s?, s:s?, s:i, s:I}", "kind",
	                 llm_error_kind_name(e->kind), "status", e->status, "message", msg,
	                 "type", e->type, "code", e->code, "next_attempt", (int)rt->attempt,
	                 "wait_ms", (json_int_t)rt->wait_ms);
	run_step(r, "error", NULL, body, -1, 0, 0, 0);
	json_decref(body);
	run_announce(r, "diagnosis.retry", json_pack("{s:I, s:I, s:i, s:I, s:s, s:b}",
	             "incident", (json_int_t)r->incident_id, "run", (json_int_t)r->id,
	             "attempt", (int)rt->attempt, "wait_ms", (json_int_t)rt->wait_ms,
	             "message", msg, "discard", rt->discard));
}

/* What an LLM failure means for the user, one line. Owned by the caller. */
static char *error_text(const struct agent_run *r, const struct llm_error *e)
{
	const char *msg = e->message ? e->message : "", *hint = "";
	const char *type = e->type ? e->type : "", *code = e->code ? e->code : "";
	char *out = NULL;
	int n;

	if (strcmp(type, "insufficient_quota") == 0 || strcmp(code, "insufficient_quota") == 0)
		hint = " (the account's quota is used up)";
	else if (e->status == 401 || e->status == 403)
		hint = r->llm.api_key_env ? " (check the API key in the variable named by "
		       "llm.api_key_env)" : " (the endpoint wants an API key: set llm.api_key_env)";
	else if (e->kind == LLM_ERR_TIMEOUT)
		hint = " (llm.timeout, llm.idle_timeout)";
	else if (e->kind == LLM_ERR_CONNECT)
		hint = " (is llm.base_url right and the server running?)";

	if (e->status > 0)
		n = asprintf(&out, "the LLM request failed: HTTP %d: %s%s", e->status, msg, hint);
	else
		n = asprintf(&out, "the LLM request failed (%s): %s%s",
		             llm_error_kind_name(e->kind), msg, hint);
	if (n < 0)
		out = NULL;
	return out;
}

/* The price of the tokens of one response. */
static double response_cost(const struct agent_run *r, const struct llm_response *resp,
                            int64_t in, int64_t out)
{
	double pin = 0, pout = 0;

	if (config_llm_price(&r->llm, r->model, &pin, &pout) < 0 && resp->model)
		config_llm_price(&r->llm, resp->model, &pin, &pout);
	return ((double)in * pin + (double)out * pout) / 1e6;
}

static json_t *usage_json(const struct llm_usage *u)
{
	return json_pack("{s:I, s:I, s:I}", "prompt_tokens", (json_int_t)u->prompt_tokens,
	                 "completion_tokens", (json_int_t)u->completion_tokens,
	                 "total_tokens", (json_int_t)u->total_tokens);
}

static json_t *calls_json(const struct llm_response *resp)
{
	json_t *calls = json_array();
	size_t i;

	for (i = 0; calls && i < resp->ncalls; i++)
		json_array_append_new(calls, json_pack("{s:s, s:s, s:s}",
		                      "id", resp->tool_calls[i].id, "name", resp->tool_calls[i].name,
		                      "arguments", resp->tool_calls[i].arguments));
	return calls;
}

/* The response step: what came back, its tokens, cost and latency. */
static void record_response(struct agent_run *r, const struct llm_result *res)
{
	const struct llm_response *resp = &res->response;
	int64_t in = resp->usage.prompt_tokens > 0 ? resp->usage.prompt_tokens : 0;
	int64_t out = resp->usage.completion_tokens > 0 ? resp->usage.completion_tokens : 0;
	double cost = response_cost(r, resp, in, out);
	json_t *body;

	r->prompt_tokens += in;
	r->completion_tokens += out;
	r->cost_usd += cost;
	body = json_pack("{s:s, s:s?, s:o, s:s?, s:s?, s:o, s:i, s:I}",
	                 "content", resp->content ? resp->content : "",
	                 "refusal", resp->refusal, "tool_calls", calls_json(resp),
	                 "finish_reason", resp->finish_reason, "model", resp->model,
	                 "usage", usage_json(&resp->usage), "attempts", (int)res->attempts,
	                 "first_byte_ms", (json_int_t)res->first_byte_ms);
	if (body && resp->reasoning)
		json_object_set_new(body, "reasoning_bytes",
		                    json_integer((json_int_t)strlen(resp->reasoning)));
	run_step(r, "response", NULL, body, (double)res->total_ms, in, out, cost);
	json_decref(body);
}

static void on_done(void *ud, struct llm_result *res)
{
	struct agent_run *r = ud;
	struct llm_response *resp = &res->response;
	const struct llm_error *e = &resp->error;
	json_t *msg, *body;
	char *text;

	r->call = NULL;
	if (r->phase == RUN_ENDED)
		goto out;
	if (e->kind == LLM_ERR_CANCELLED || r->cancelled) {
		run_finish_error(r, NULL);
		goto out;
	}
	if (e->kind != LLM_ERR_NONE) {
		body = json_pack("{s:s, s:i, s:s?, s:s?, s:s?, s:i}", "kind",
		                 llm_error_kind_name(e->kind), "status", e->status, "message",
		                 e->message, "type", e->type, "code", e->code,
		                 "attempts", (int)res->attempts);
		run_step(r, "error", NULL, body, (double)res->total_ms, 0, 0, 0);
		json_decref(body);
		text = error_text(r, e);
		run_finish_error(r, text ? text : "the LLM request failed");
		free(text);
		goto out;
	}
	record_response(r, res);
	free(r->last_content);
	r->last_content = resp->content && *resp->content ? strdup(resp->content) : NULL;
	if (resp->finish_reason && strcmp(resp->finish_reason, "length") == 0)
		run_note(r, "the response was cut at agent.max_tokens (%d)", r->cfg.max_tokens);
	if (r->final_request || !r->tools || resp->ncalls == 0) {
		if (r->final_request && resp->ncalls > 0)
			run_note(r, "tool calls in the last response were ignored");
		if (!r->last_content && resp->refusal && *resp->refusal)
			r->last_content = strdup(resp->refusal);
		run_finish_answer(r, r->last_content);
		goto out;
	}
	/* the assistant's turn, then one answer per tool call */
	msg = llm_response_message(resp);
	if (!msg || json_array_append_new(r->messages, msg) < 0) {
		run_finish_error(r, "out of memory");
		goto out;
	}
	llm_response_release(&r->pending);
	r->pending = *resp;
	llm_response_init(resp);
	r->next_call = 0;
	r->phase = RUN_TOOLS;
	run_exec_tools(r);
out:
	run_unref(r);
}

/* Send the next request; final: the last one, where no tool may be called
 * (the tools are still sent, with tool_choice "none": the conversation
 * holds calls to them, which some servers refuse without their specs). */
static void send_request(struct agent_run *r, bool final)
{
	struct llm_callbacks cb = { on_delta, on_retry, on_done, r };
	struct llm_request req = {
		.model = r->model, .messages = r->messages,
		.tools = !r->tools ? NULL : r->tool_specs, .no_tool_calls = final,
		.stream = r->llm.stream, .max_tokens = (unsigned)r->cfg.max_tokens,
		.temperature = -1, .json_mode = !r->tools,
	};
	json_t *body = NULL;
	char *ask = NULL;
	int rc;

	if (final) {
		r->final_request = true;
		if (asprintf(&ask, "A limit of this diagnosis was reached (%s). Do not call tools "
		             "any more: give your final diagnosis now, from what you have learned.",
		             r->limit) < 0)
			ask = NULL;
		if (!ask || json_array_append_new(r->messages, json_pack("{s:s, s:s}", "role",
		                                  "user", "content", ask)) < 0) {
			free(ask);
			run_finish_error(r, "out of memory");
			return;
		}
		free(ask);
	}
	/* nothing unredacted leaves the machine: the whole conversation again
	 * (the model's own turns and tool results included) */
	if ((rc = redact_json(r->a->redactor, r->messages, NULL)) < 0 ||
	    (req.tools && (rc = redact_json(r->a->redactor, req.tools, NULL)) < 0) ||
	    (rc = llm_request_body(&req, &body)) < 0) {
		run_finish_error(r, "cannot build the request");
		return;
	}
	run_step(r, "request", NULL, body, -1, 0, 0, 0);
	json_decref(body);
	if (!r->a->llm) {
		run_finish_error(r, "doctord is stopping");
		return;
	}
	run_ref(r);
	r->phase = RUN_LLM;
	r->spoke = r->spoke || r->turn_spoke;
	r->turn_spoke = false;
	r->steps++;
	r->request_t0 = uv_hrtime();
	if ((rc = llm_chat(r->a->llm, &r->ep, &req, &cb, &r->call)) < 0) {
		r->call = NULL;
		run_finish_error(r, rc == -ESHUTDOWN ? "doctord is stopping" :
		                 "the LLM request could not be started");
		run_unref(r);
	}
}

/* ------------------------------------------------------------ turns */

void run_next_turn(struct agent_run *r)
{
	if (r->phase == RUN_ENDED)
		return;
	if (r->cancelled) {
		run_finish_error(r, NULL);
		return;
	}
	if (reached(r, r->cost_usd, r->cfg.budget_per_diagnosis)) {
		r->limit = "budget_per_diagnosis";
		run_note(r, "limit: this diagnosis cost $%.6f, its budget is $%.6f", r->cost_usd,
		         r->cfg.budget_per_diagnosis);
		run_finish_local(r);
		return;
	}
	if (daily_budget_reached(r)) {
		r->limit = "budget_daily";
		run_note(r, "limit: today's budget of $%.6f is spent", r->cfg.budget_daily);
		run_finish_local(r);
		return;
	}
	if (!r->limit && r->steps >= r->cfg.max_steps) {
		r->limit = "max_steps";
		run_note(r, "limit: %d steps (agent.max_steps)", r->cfg.max_steps);
	}
	send_request(r, r->limit != NULL);
}

/* The first prompt: the system prompt and the incident with the
 * documentation found for it. */
static void first_prompt(struct agent_run *r, const struct docs_hit *hits, size_t n)
{
	struct doctord *d = r->a->d;
	char *system = NULL, *incident = NULL;
	json_t *extra = NULL;
	int rc;

	rc = agent_system_prompt(&r->fence, r->tools, &system);
	if (rc == 0)
		rc = agent_incident_message(&r->fence, r->a->redactor, r->incident, hits, n,
		                            AGENT_INCIDENT_MAX_BYTES, &incident);
	if (rc == 0 && (json_array_append_new(r->messages, json_pack("{s:s, s:s}", "role",
	                "system", "content", system)) < 0 ||
	                json_array_append_new(r->messages, json_pack("{s:s, s:s}", "role",
	                "user", "content", incident)) < 0))
		rc = -ENOMEM;
	free(system);
	free(incident);
	if (rc == 0 && r->tools) {
		if (d->plugins)
			extra = plugin_host_tool_specs(d->plugins);
		r->tool_specs = agent_tool_specs(extra);
		json_decref(extra);
		if (!r->tool_specs)
			rc = -ENOMEM;
	}
	if (rc < 0) {
		log_error("agent: run %lld: cannot build the prompt: %s", (long long)r->id,
		          strerror(-rc));
		run_finish_error(r, "cannot build the prompt");
		return;
	}
	run_next_turn(r);
}

static void on_first_docs(void *ud, int rc, const struct docs_hit *hits, size_t n,
                          const char *warning, bool no_index)
{
	struct agent_run *r = ud;
	char *text;
	json_t *body;

	if (r->phase != RUN_ENDED) {
		text = rc == 0 ? run_hits_text(r, hits, n) : NULL;   /* the pages, known */
		free(text);
		body = json_pack("{s:i, s:b, s:s?, s:O}", "hits", (int)(rc == 0 ? n : 0),
		                 "no_index", no_index, "warning", warning, "pages", r->consulted);
		run_step(r, "tool_result", "search_docs", body, run_ms_since(r->tool_t0), 0, 0, 0);
		json_decref(body);
		if (r->cancelled)
			run_finish_error(r, NULL);
		else
			first_prompt(r, rc == 0 ? hits : NULL, rc == 0 ? n : 0);
	}
	run_unref(r);
}

/* The documentation for the first prompt, searched on a worker. */
static void search_first_docs(struct agent_run *r)
{
	struct doctord *d = r->a->d;
	struct docs_options opt;
	char *query = NULL;
	json_t *body;
	int rc;

	if (r->cfg.docs_k <= 0 || !d->docs) {
		first_prompt(r, NULL, 0);
		return;
	}
	if ((rc = agent_docs_query(r->a->redactor, r->incident, &query)) < 0 ||
	    (rc = config_docs_copy(&opt, &d->cfg.docs)) < 0) {
		free(query);
		first_prompt(r, NULL, 0);
		return;
	}
	body = json_pack("{s:s, s:i, s:b}", "query", query, "k", r->cfg.docs_k, "initial", 1);
	run_step(r, "tool_call", "search_docs", body, -1, 0, 0, 0);
	json_decref(body);
	r->phase = RUN_DOCS;
	r->tool_t0 = uv_hrtime();
	run_ref(r);
	rc = docs_jobs_search_cb(d->docs, query, (unsigned)r->cfg.docs_k, false, &opt,
	                         on_first_docs, r);
	free(query);
	if (rc < 0) {
		docs_options_release(&opt);
		run_unref(r);
		run_note(r, "no documentation search for the prompt: %s", strerror(-rc));
		first_prompt(r, NULL, 0);
	}
}

void run_begin(uv_timer_t *t)
{
	struct agent_run *r = t->data;
	json_t *started;

	if (r->phase != RUN_STARTING)
		return;
	started = json_pack("{s:I, s:I, s:s, s:b}", "incident", (json_int_t)r->incident_id,
	                    "run", (json_int_t)r->id, "model", r->model, "cached",
	                    r->cached_from > 0);
	run_announce(r, "diagnosis.started", started);
	if (r->cached_from > 0) {
		run_finish_cached(r);
		return;
	}
	if (daily_budget_reached(r)) {
		r->limit = "budget_daily";
		run_note(r, "limit: today's budget of $%.6f is spent: no request made",
		         r->cfg.budget_daily);
		run_finish_local(r);
		return;
	}
	search_first_docs(r);
}

void run_cancel(struct agent_run *r)
{
	if (r->phase == RUN_ENDED)
		return;
	r->cancelled = true;
	if (r->call)
		llm_call_cancel(r->call);    /* its done callback only drops its reference */
	run_finish_error(r, NULL);
}
