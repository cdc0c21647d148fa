/*
 * api.h - the methods doctord serves, one table (api.c) naming them all.
 *
 * A handler gets the connection, the request id (NULL for a notification)
 * and the params object (never NULL: an empty object when absent), and sends
 * its own reply with rpc_result()/rpc_error() so that later methods can reply
 * asynchronously.
 */
#ifndef DOCTOR_API_H
#define DOCTOR_API_H

#include <jansson.h>

struct conn;

typedef void (*api_fn)(struct conn *c, json_t *id, json_t *params);

struct api_method {
	const char *name;
	api_fn fn;
};

/* NULL if no such method. */
const struct api_method *api_find(const char *name);

/* api_server.c */
void api_hello(struct conn *c, json_t *id, json_t *params);
void api_status(struct conn *c, json_t *id, json_t *params);
void api_subscribe(struct conn *c, json_t *id, json_t *params);
/* api_source.c */
void api_source_open(struct conn *c, json_t *id, json_t *params);
void api_source_write(struct conn *c, json_t *id, json_t *params);
void api_source_error(struct conn *c, json_t *id, json_t *params);
void api_source_close(struct conn *c, json_t *id, json_t *params);
void api_source_watch_file(struct conn *c, json_t *id, json_t *params);
void api_source_unwatch_file(struct conn *c, json_t *id, json_t *params);
/* api_remedy.c */
void api_remedy_confirm(struct conn *c, json_t *id, json_t *params);
void api_remedy_reject(struct conn *c, json_t *id, json_t *params);
void api_remedy_undo(struct conn *c, json_t *id, json_t *params);
void api_incident_diagnosis(struct conn *c, json_t *id, json_t *params);
/* api_plugins.c */
void api_plugins_list(struct conn *c, json_t *id, json_t *params);
void api_reload(struct conn *c, json_t *id, json_t *params);
/* api_docs.c */
void api_docs_index(struct conn *c, json_t *id, json_t *params);
void api_docs_search(struct conn *c, json_t *id, json_t *params);
/* api_agent.c */
void api_agent_run(struct conn *c, json_t *id, json_t *params);
void api_agent_stats(struct conn *c, json_t *id, json_t *params);
/* api_explain.c */
void api_explain(struct conn *c, json_t *id, json_t *params);
void api_diagnosis_cancel(struct conn *c, json_t *id, json_t *params);
/* api_incident.c */
void api_incident_list(struct conn *c, json_t *id, json_t *params);
void api_incident_get(struct conn *c, json_t *id, json_t *params);

#endif
