/*
 * api_server.c - methods about the daemon itself: hello, status, subscribe.
 */
#include <unistd.h>

#include "agent.h"
#include "api.h"
#include "conn.h"
#include "docs_jobs.h"
#include "filewatch.h"
#include "protocol.h"
#include "rpc.h"
#include "source.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0.1.0"
#endif

void api_hello(struct conn *c, json_t *id, json_t *params)
{
	rpc_result(c, id, json_pack("{s:s, s:s, s:i, s:i}", "server", "doctord",
	                            "version", PACKAGE_VERSION, "protocol", DOCTOR_PROTOCOL_VERSION,
	                            "pid", (int)getpid()));
}

static json_t *sources_status(struct doctord *d)
{
	json_t *arr = json_array();
	struct list_head *pos, *tmp;

	list_for_each_safe(pos, tmp, &d->sources)
		json_array_append_new(arr, source_status(list_entry(pos, struct source, link)));
	return arr;
}

void api_status(struct conn *c, json_t *id, json_t *params)
{
	struct doctord *d = c->d;
	int64_t incidents = -1;

	store_count_incidents(d->st, &incidents);
	rpc_result(c, id, json_pack(
		"{s:s, s:i, s:i, s:f, s:s, s:s, s:s, s:s?, s:i, s:i, s:o, s:o, s:I, s:s, s:o, s:o}",
		"version", PACKAGE_VERSION, "protocol", DOCTOR_PROTOCOL_VERSION,
		"pid", (int)getpid(), "uptime", doctord_now() - d->started_at,
		"socket", d->socket_path, "data_dir", d->data_dir, "database", d->db_path,
		"config", d->cfg.loaded_from, "connections", d->nconns,
		"subscribers", d->nsubscribers, "sources", sources_status(d),
		"watches", filewatch_status(d), "incidents", (json_int_t)incidents,
		"log_level", config_log_level_name(d->cfg.log_level),
		"docs", docs_jobs_status(d->docs), "agent", agent_status(d)));
}

void api_subscribe(struct conn *c, json_t *id, json_t *params)
{
	if (!c->subscribed) {
		c->subscribed = true;
		c->d->nsubscribers++;
	}
	rpc_result(c, id, json_object());
}
