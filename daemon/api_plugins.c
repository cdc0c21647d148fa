/*
 * api_plugins.c - plugins.list and reload.
 */
#include "api.h"
#include "conn.h"
#include "plugins.h"
#include "protocol.h"
#include "rpc.h"

void api_plugins_list(struct conn *c, json_t *id, json_t *params)
{
	struct doctord *d = c->d;

	rpc_result(c, id, json_pack("{s:b, s:o}", "enabled", d->plugins != NULL, "plugins",
	                            d->plugins ? plugin_host_list(d->plugins) : json_array()));
}

/* Re-read the config file and the plugins, as SIGHUP does. */
void api_reload(struct conn *c, json_t *id, json_t *params)
{
	struct doctord *d = c->d;
	int rc = doctord_reload(d);

	if (rc < 0) {
		rpc_error(c, id, RPC_CONFIG_ERROR,
		          "the configuration file is invalid; the running one is kept (see the log)", NULL);
		return;
	}
	rpc_result(c, id, json_pack("{s:o}", "plugins",
	                            d->plugins ? plugin_host_list(d->plugins) : json_array()));
}
