/*
 * api_explain.c - asking the agent: explain (an LLM diagnosis of an
 * incident, whatever the plugins said) and diagnosis.cancel
 * (docs/protocol.md, docs/agent.md).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "agent.h"
#include "api.h"
#include "conn.h"
#include "protocol.h"
#include "rpc.h"

/* explain {id, fresh?} -> {run}: the run's notifications follow. */
void api_explain(struct conn *c, json_t *id, json_t *params)
{
	struct doctord *d = c->d;
	struct agent_request req = { .notify_serial = c->serial };
	json_int_t iid = 0;
	int64_t run = 0;
	char msg[160];
	int rc;

	if (rpc_param_int(c, id, params, "id", true, 1, INT64_MAX, &iid) < 0 ||
	    rpc_param_bool(c, id, params, "fresh", &req.fresh) < 0)
		return;
	if (!agent_configured(d)) {
		rpc_error(c, id, RPC_NO_LLM, "no LLM is configured: set llm.base_url and llm.model "
		          "(or OPENAI_BASE_URL and OPENAI_MODEL)", NULL);
		return;
	}
	req.incident_id = iid;
	rc = d->agent ? agent_diagnose(d->agent, &req, &run) : -ESHUTDOWN;
	if (rc == 0) {
		rpc_result(c, id, json_pack("{s:I, s:I}", "run", (json_int_t)run, "incident", iid));
	} else if (rc == -ENOENT) {
		rpc_error(c, id, RPC_UNKNOWN_INCIDENT, "unknown incident", json_pack("{s:I}", "id", iid));
	} else if (rc == -ESHUTDOWN) {
		rpc_error(c, id, RPC_SHUTTING_DOWN, "doctord is shutting down", NULL);
	} else if (rc == -EIO) {
		rpc_error(c, id, RPC_STORE_ERROR, "the store failed", NULL);
	} else {
		snprintf(msg, sizeof(msg), "cannot start the diagnosis: %s", strerror(-rc));
		rpc_error(c, id, RPC_INTERNAL_ERROR, msg, NULL);
	}
}

/* diagnosis.cancel {run} -> {run, cancelled: true}. */
void api_diagnosis_cancel(struct conn *c, json_t *id, json_t *params)
{
	json_int_t run = 0;

	if (rpc_param_int(c, id, params, "run", true, 1, INT64_MAX, &run) < 0)
		return;
	if (!c->d->agent || agent_cancel(c->d->agent, run) < 0) {
		rpc_error(c, id, RPC_UNKNOWN_RUN, "no such diagnosis in flight",
		          json_pack("{s:I}", "run", run));
		return;
	}
	rpc_result(c, id, json_pack("{s:I, s:b}", "run", run, "cancelled", 1));
}
