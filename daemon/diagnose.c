/*
 * diagnose.c - ask the plugins, store their diagnoses, announce remedies;
 * hand what no plugin knows to the agent (see diagnose.h).
 */
#include <string.h>

#include "agent.h"
#include "conn.h"
#include "diagnose.h"
#include "log.h"
#include "plugins.h"
#include "rpc.h"
#include "source.h"

/* To subscribers, and to the source's client if it is not one. params
 * stolen. */
static void announce(struct doctord *d, struct source *src, const char *method, json_t *params)
{
	if (!params)
		return;
	if (src && src->owner && !src->owner->subscribed && !src->closed)
		conn_send(src->owner, rpc_notification(method, json_incref(params)));
	conn_broadcast(d, method, params);
}

static void announce_remedies(struct doctord *d, struct source *src, int64_t incident_id,
                              json_t *diagnoses)
{
	json_t *diag, *remedy;
	size_t i, j;

	json_array_foreach(diagnoses, i, diag) {
		json_array_foreach(json_object_get(diag, "remedies"), j, remedy) {
			const char *state = json_string_value(json_object_get(remedy, "state"));
			if (!state || strcmp(state, "proposed") != 0)
				continue;
			json_object_set_new(remedy, "incident", json_integer(incident_id));
			json_object_set(remedy, "plugin", json_object_get(diag, "plugin"));
			announce(d, src, "remedy.proposed", json_pack("{s:O}", "remedy", remedy));
		}
	}
}

/* An error no plugin knows goes to the agent, when it is on: its run
 * sends diagnosis.done when it ends. False if it did not take it. */
static bool to_agent(struct doctord *d, struct source *src, int64_t incident_id)
{
	struct agent_request req = { .incident_id = incident_id };
	int64_t run = 0;
	int rc;

	if (!agent_enabled(d))
		return false;
	if (src && src->owner && !src->closed)
		req.notify_serial = src->owner->serial;
	if ((rc = agent_diagnose(d->agent, &req, &run)) < 0) {
		log_warn("incident %lld: the agent cannot take it: %s", (long long)incident_id,
		         strerror(-rc));
		return false;
	}
	return true;
}

void diagnose_incident(struct doctord *d, struct source *src, int64_t incident_id)
{
	json_t *incident = NULL, *diagnoses = NULL, *diag, *params;
	size_t i;

	if (d->plugins && store_incident_get(d->st, incident_id, &incident) == 0 &&
	    plugin_host_diagnose(d->plugins, incident, &diagnoses) < 0) {
		log_warn("incident %lld: the plugins failed to diagnose it", (long long)incident_id);
		json_decref(diagnoses);
		diagnoses = NULL;
	}
	json_decref(incident);
	if (!diagnoses)
		diagnoses = json_array();
	json_array_foreach(diagnoses, i, diag) {
		if (!json_is_string(json_object_get(diag, "summary")))
			json_object_set_new(diag, "summary", json_string(""));
		if (store_diagnosis_record(d->st, incident_id, diag, NULL) < 0)
			log_error("store: cannot record a diagnosis of incident %lld: %s",
			          (long long)incident_id, store_errmsg(d->st));
	}
	if (json_array_size(diagnoses) > 0)
		log_info("incident %lld: %zu diagnos%s, best by %s", (long long)incident_id,
		         json_array_size(diagnoses), json_array_size(diagnoses) == 1 ? "is" : "es",
		         json_string_value(json_object_get(json_array_get(diagnoses, 0), "plugin")));
	if (json_array_size(diagnoses) == 0 && to_agent(d, src, incident_id)) {
		json_decref(diagnoses);
		return;
	}
	params = json_pack("{s:I, s:O}", "incident", (json_int_t)incident_id, "diagnoses", diagnoses);
	announce(d, src, "diagnosis.done", params);
	announce_remedies(d, src, incident_id, diagnoses);
	json_decref(diagnoses);
}
