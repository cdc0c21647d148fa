/*
 * api.c - the table of doctord's JSON-RPC methods (docs/protocol.md).
 *
 * Kept sorted by name so lookup is a binary search; adding a method is one
 * line here plus its handler in the api_<area>.c file of its area.
 */
#include <stdlib.h>
#include <string.h>

#include "api.h"

static const struct api_method methods[] = {
	{ "agent.run", api_agent_run },
	{ "agent.stats", api_agent_stats },
	{ "diagnosis.cancel", api_diagnosis_cancel },
	{ "docs.index", api_docs_index },
	{ "docs.search", api_docs_search },
	{ "explain", api_explain },
	{ "hello", api_hello },
	{ "incident.diagnosis", api_incident_diagnosis },
	{ "incident.get", api_incident_get },
	{ "incident.list", api_incident_list },
	{ "plugins.list", api_plugins_list },
	{ "reload", api_reload },
	{ "remedy.confirm", api_remedy_confirm },
	{ "remedy.reject", api_remedy_reject },
	{ "remedy.undo", api_remedy_undo },
	{ "source.close", api_source_close },
	{ "source.error", api_source_error },
	{ "source.open", api_source_open },
	{ "source.unwatch_file", api_source_unwatch_file },
	{ "source.watch_file", api_source_watch_file },
	{ "source.write", api_source_write },
	{ "status", api_status },
	{ "subscribe", api_subscribe },
};

static int method_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct api_method *)elem)->name);
}

const struct api_method *api_find(const char *name)
{
	return bsearch(name, methods, sizeof methods / sizeof methods[0],
	               sizeof methods[0], method_cmp);
}
