/*
 * api_remedy.c - the remedy.* methods (confirm, reject, undo) and
 * incident.diagnosis (docs/protocol.md).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "conn.h"
#include "protocol.h"
#include "remedies.h"
#include "rpc.h"

typedef int (*remedy_action)(struct doctord *d, struct conn *c, int64_t id, json_t **reply,
                             char **state_out);

/* Turn a remedy_* result into the reply or the error. */
static void answer(struct conn *c, json_t *id, json_int_t rid, int rc, json_t *reply,
                   char *state, const char *verb)
{
	char msg[160];

	if (rc == 0) {
		rpc_result(c, id, reply);
	} else if (rc == -ENOENT) {
		rpc_error(c, id, RPC_UNKNOWN_REMEDY, "unknown remedy", json_pack("{s:I}", "id", rid));
	} else if (rc == -EALREADY) {
		snprintf(msg, sizeof msg, "cannot %s remedy %lld: it is %s", verb, (long long)rid,
		         state ? state : "in another state");
		rpc_error(c, id, RPC_REMEDY_STATE, msg,
		          json_pack("{s:I, s:s?}", "id", rid, "state", state));
	} else if (rc == -EIO) {
		rpc_error(c, id, RPC_STORE_ERROR, "the store failed", NULL);
	} else {
		snprintf(msg, sizeof msg, "cannot %s remedy %lld: %s", verb, (long long)rid, strerror(-rc));
		rpc_error(c, id, RPC_INTERNAL_ERROR, msg, NULL);
	}
	free(state);
}

static int confirm_run(struct doctord *d, struct conn *c, int64_t id, json_t **reply, char **st)
{
	return remedy_confirm(d, c, id, false, reply, st);
}

static int confirm_dry(struct doctord *d, struct conn *c, int64_t id, json_t **reply, char **st)
{
	return remedy_confirm(d, c, id, true, reply, st);
}

static void act(struct conn *c, json_t *id, json_t *params, remedy_action fn, const char *verb)
{
	json_int_t rid = 0;
	json_t *reply = NULL;
	char *state = NULL;
	int rc;

	if (rpc_param_int(c, id, params, "id", true, 1, INT64_MAX, &rid) < 0)
		return;
	rc = fn(c->d, c, rid, &reply, &state);
	answer(c, id, rid, rc, reply, state, verb);
}

void api_remedy_confirm(struct conn *c, json_t *id, json_t *params)
{
	bool dry_run = false;

	if (rpc_param_bool(c, id, params, "dry_run", &dry_run) < 0)
		return;
	act(c, id, params, dry_run ? confirm_dry : confirm_run, "confirm");
}

void api_remedy_reject(struct conn *c, json_t *id, json_t *params)
{
	act(c, id, params, remedy_reject, "reject");
}

void api_remedy_undo(struct conn *c, json_t *id, json_t *params)
{
	act(c, id, params, remedy_undo, "undo");
}

void api_incident_diagnosis(struct conn *c, json_t *id, json_t *params)
{
	json_int_t iid = 0;
	json_t *out = NULL, *summary = NULL;
	int rc;

	if (rpc_param_int(c, id, params, "id", true, 1, INT64_MAX, &iid) < 0)
		return;
	rc = store_incident_summary(c->d->st, iid, &summary);
	if (rc == -ENOENT) {
		rpc_error(c, id, RPC_UNKNOWN_INCIDENT, "unknown incident", json_pack("{s:I}", "id", iid));
		return;
	}
	json_decref(summary);
	if (rc < 0 || store_incident_diagnosis(c->d->st, iid, &out) < 0) {
		rpc_error(c, id, RPC_STORE_ERROR, "cannot read the diagnosis: the store failed", NULL);
		return;
	}
	rpc_result(c, id, out);
}
