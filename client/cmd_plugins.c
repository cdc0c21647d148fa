/*
 * cmd_plugins.c - `doctor plugins [--json]` (the loaded plugins and their
 * state) and `doctor reload` (re-read the config file and the plugins).
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "doctor.h"
#include "format.h"

static void print_plugins(const json_t *plugins)
{
	json_t *p;
	size_t i;

	if (json_array_size(plugins) == 0) {
		printf("no plugins loaded\n");
		return;
	}
	printf("%-28s %-9s %-8s %s\n", "NAME", "STATE", "VERSION", "PATH / ERROR");
	json_array_foreach(plugins, i, p) {
		const char *error = json_string_value(json_object_get(p, "error"));
		const char *path = json_string_value(json_object_get(p, "path"));
		char *safe = format_terminal_safe(error ? error : path ? path : "", false);
		printf("%-28s %-9s %-8s %s\n", json_string_value(json_object_get(p, "name")) ?
		       json_string_value(json_object_get(p, "name")) : "?",
		       json_string_value(json_object_get(p, "state")) ?
		       json_string_value(json_object_get(p, "state")) : "?",
		       json_string_value(json_object_get(p, "version")) ?
		       json_string_value(json_object_get(p, "version")) : "-", safe ? safe : "");
		free(safe);
	}
}

static int plugins_call(const struct doctor_globals *g, const struct doctor_command *cmd,
                        const char *method, int argc, char **argv)
{
	struct rpc_client *c = NULL;
	json_t *result = NULL;
	bool as_json = false;
	int opt, rc;

	if ((opt = doctor_parse_json_option(cmd, argc, argv, &as_json)) >= 0)
		return opt;
	if (optind < argc)
		return doctor_usage_error(cmd, "%s: unexpected argument '%s'", cmd->name, argv[optind]);
	if (doctor_connect(g, &c) < 0)
		return DOCTOR_EXIT_NO_DAEMON;
	rc = doctor_call(c, method, NULL, &result);
	if (rc == 0 && as_json)
		rc = doctor_print_json(result);
	else if (rc == 0 && strcmp(method, "reload") == 0)
		printf("configuration and plugins reloaded: %zu plugins\n",
		       json_array_size(json_object_get(result, "plugins")));
	else if (rc == 0)
		print_plugins(json_object_get(result, "plugins"));
	json_decref(result);
	rpc_client_free(c);
	return doctor_exit_status(rc);
}

static int cmd_plugins(const struct doctor_globals *g, int argc, char **argv)
{
	return plugins_call(g, &cmd_plugins_entry, "plugins.list", argc, argv);
}

static int cmd_reload(const struct doctor_globals *g, int argc, char **argv)
{
	return plugins_call(g, &cmd_reload_entry, "reload", argc, argv);
}

const struct doctor_command cmd_plugins_entry = {
	.name = "plugins",
	.summary = "list the daemon's plugins and their state",
	.usage = "doctor plugins [--json]\n"
	         "  Each plugin's name, state (enabled, disabled, failed), version and\n"
	         "  file, or the error that stopped it.",
	.run = cmd_plugins,
};

const struct doctor_command cmd_reload_entry = {
	.name = "reload",
	.summary = "re-read the configuration file and the plugins",
	.usage = "doctor reload [--json]\n"
	         "  Like sending SIGHUP to doctord; an invalid config file is reported\n"
	         "  and the running one kept.",
	.run = cmd_reload,
};
