/*
 * api_incident.c - reading incidents: incident.list and incident.get (with
 * the incident's diagnoses, remedies, audit log and agent runs).
 */
#include <errno.h>
#include <stdint.h>

#include "api.h"
#include "conn.h"
#include "protocol.h"
#include "rpc.h"

void api_incident_list(struct conn *c, json_t *id, json_t *params)
{
	store_query q = { 0 };
	json_int_t limit = 50, before = 0, source = 0;
	const char *exception = NULL;
	json_t *list = NULL;

	if (rpc_param_int(c, id, params, "limit", false, 1, 1000, &limit) < 0 ||
	    rpc_param_int(c, id, params, "before", false, 1, INT64_MAX, &before) < 0 ||
	    rpc_param_int(c, id, params, "source", false, 1, INT64_MAX, &source) < 0 ||
	    rpc_param_string(c, id, params, "exception", false, &exception) < 0)
		return;
	q.limit = (int)limit;
	q.before_id = before;
	q.source_id = source;
	q.exception = exception;
	if (store_incident_list(c->d->st, &q, &list) < 0) {
		rpc_error(c, id, RPC_STORE_ERROR, "cannot list incidents: the store failed", NULL);
		return;
	}
	rpc_result(c, id, json_pack("{s:o}", "incidents", list));
}

/* The incident's diagnoses, remedies, audit log and agent runs (without
 * their steps: agent.run gives those), for `doctor show`. A store failure
 * here leaves them out rather than failing the whole reply. */
static void add_diagnosis(store *st, json_int_t iid, json_t *incident)
{
	json_t *diag = NULL, *audit = NULL, *runs = NULL;

	if (store_incident_diagnosis(st, iid, &diag) == 0) {
		json_object_set(incident, "diagnoses", json_object_get(diag, "diagnoses"));
		json_object_set(incident, "remedies", json_object_get(diag, "remedies"));
	}
	if (store_audit_list(st, iid, &audit) == 0)
		json_object_set_new(incident, "audit", audit);
	if (store_agent_runs_of_incident(st, iid, &runs) == 0)
		json_object_set_new(incident, "runs", runs);
	json_decref(diag);
}

void api_incident_get(struct conn *c, json_t *id, json_t *params)
{
	json_int_t iid = 0;
	json_t *incident = NULL;
	int rc;

	if (rpc_param_int(c, id, params, "id", true, 1, INT64_MAX, &iid) < 0)
		return;
	rc = store_incident_get(c->d->st, iid, &incident);
	if (rc == -ENOENT) {
		rpc_error(c, id, RPC_UNKNOWN_INCIDENT, "unknown incident", json_pack("{s:I}", "id", iid));
		return;
	}
	if (rc < 0) {
		rpc_error(c, id, RPC_STORE_ERROR, "cannot read the incident: the store failed", NULL);
		return;
	}
	add_diagnosis(c->d->st, iid, incident);
	rpc_result(c, id, json_pack("{s:o}", "incident", incident));
}
