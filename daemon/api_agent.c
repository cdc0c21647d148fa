/*
 * api_agent.c - reading the agent's traces: agent.run (one LLM diagnosis
 * with its steps) and agent.stats (runs, tokens and cost per UTC day and
 * model), for `doctor show` and `doctor stats` (docs/protocol.md).
 *
 * The rows come from the store (store_agent.c); this file only checks
 * params, picks the time window and adds the totals.
 */
#include <errno.h>
#include <stdint.h>

#include "api.h"
#include "conn.h"
#include "protocol.h"
#include "rpc.h"

#define STATS_DAYS_DEFAULT 30
#define STATS_DAYS_MAX 3650         /* ten years: any older run is history */
#define SECONDS_PER_DAY 86400.0

void api_agent_run(struct conn *c, json_t *id, json_t *params)
{
	json_int_t rid = 0;
	bool steps = true;
	json_t *run = NULL;
	int rc;

	if (rpc_param_int(c, id, params, "id", true, 1, INT64_MAX, &rid) < 0 ||
	    rpc_param_bool(c, id, params, "steps", &steps) < 0)
		return;
	rc = store_agent_run_get(c->d->st, rid, steps, &run);
	if (rc == -ENOENT) {
		rpc_error(c, id, RPC_UNKNOWN_RUN, "unknown agent run",
		          json_pack("{s:I}", "run", rid));
		return;
	}
	if (rc < 0) {
		rpc_error(c, id, RPC_STORE_ERROR, "cannot read the agent run: the store failed", NULL);
		return;
	}
	rpc_result(c, id, json_pack("{s:o}", "run", run));
}

/* The sums of the rows of store_agent_stats(): {runs, cached,
 * prompt_tokens, completion_tokens, cost_usd}. New reference; NULL on
 * ENOMEM. */
static json_t *stats_total(const json_t *days)
{
	json_int_t runs = 0, cached = 0, prompt = 0, completion = 0;
	const json_t *row;
	double cost = 0;
	size_t i;

	json_array_foreach(days, i, row) {
		runs += json_integer_value(json_object_get(row, "runs"));
		cached += json_integer_value(json_object_get(row, "cached"));
		prompt += json_integer_value(json_object_get(row, "prompt_tokens"));
		completion += json_integer_value(json_object_get(row, "completion_tokens"));
		cost += json_number_value(json_object_get(row, "cost_usd"));
	}
	return json_pack("{s:I, s:I, s:I, s:I, s:f}", "runs", runs, "cached", cached,
	                 "prompt_tokens", prompt, "completion_tokens", completion,
	                 "cost_usd", cost);
}

/* The window is whole UTC days: today and the days-1 before it, so that
 * the first row is a full day like the others. */
void api_agent_stats(struct conn *c, json_t *id, json_t *params)
{
	json_int_t days = STATS_DAYS_DEFAULT;
	json_t *rows = NULL, *total;
	int64_t today;
	double since;

	if (rpc_param_int(c, id, params, "days", false, 1, STATS_DAYS_MAX, &days) < 0)
		return;
	today = (int64_t)(doctord_now() / SECONDS_PER_DAY);
	since = (double)(today - (days - 1)) * SECONDS_PER_DAY;
	if (store_agent_stats(c->d->st, since, &rows) < 0) {
		rpc_error(c, id, RPC_STORE_ERROR, "cannot sum the agent runs: the store failed", NULL);
		return;
	}
	total = stats_total(rows);
	if (!total) {
		json_decref(rows);
		rpc_error(c, id, RPC_INTERNAL_ERROR, "out of memory", NULL);
		return;
	}
	rpc_result(c, id, json_pack("{s:f, s:o, s:o}", "since", since, "days", rows,
	                            "total", total));
}
