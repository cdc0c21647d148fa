/*
 * plugins.h - the Lua plugin host: loading plugins into sandboxes, listing
 * them, asking them to diagnose incidents, and registering the line
 * detectors they declare. docs/plugins.md is the authors' reference.
 *
 * Every call into Lua runs under the plugin's limits (instructions, wall
 * clock, memory); a plugin that errors, loops or exhausts its memory is
 * stopped, logged and disabled, and the host carries on.
 *
 * json_t arguments are borrowed; json_t results are new references.
 * Functions return 0 or a negative errno.
 */
#ifndef DOCTOR_PLUGINS_H
#define DOCTOR_PLUGINS_H

#include <stddef.h>
#include <jansson.h>

typedef struct plugin_host plugin_host;

struct plugin_limits {
	size_t memory_bytes;       /* per plugin state; 0: 32 MiB */
	unsigned long instructions;/* per call, in VM instructions; 0: 50 million */
	unsigned wall_ms;          /* per call; 0: 500 */
};

int plugin_host_new(const struct plugin_limits *limits, plugin_host **out);
void plugin_host_free(plugin_host *h);

/* Load every *.lua file of each dir, dirs in order, files sorted by name
 * within a dir; a plugin whose name is already loaded replaces the earlier
 * one (user folders override shipped plugins). config is the config file's
 * `plugins` section, {plugin name: {key: value}} (may be NULL), merged over
 * each plugin's own `config` defaults. Missing dirs are skipped. A broken
 * plugin is kept in the list with state "failed" and its error. */
int plugin_host_load_dirs(plugin_host *h, const char *const *dirs, size_t ndirs, json_t *config);
/* Load one file (doctor plugin test). */
int plugin_host_load_file(plugin_host *h, const char *path, json_t *config);
/* Drop every plugin (and its detectors) and load again: `reload`. */
int plugin_host_reload(plugin_host *h, const char *const *dirs, size_t ndirs, json_t *config);

/* [{name, version, description, path, state: "enabled"|"disabled"|"failed",
 *   error?, detectors: [names], tools: [names]}] */
json_t *plugin_host_list(plugin_host *h);

/* Ask every enabled plugin whose `match` accepts the incident (the full
 * incident object of docs/protocol.md). *out is an array of diagnoses,
 * highest confidence first:
 *   {plugin, summary, explanation, confidence (0..1), references: [..],
 *    remedies: [{key, title, argv: [..], cwd, changes_system: bool,
 *                verify: [..] | null, timeout: seconds,
 *                undo: "pip" | [..argv] | null}]}
 * Remedies are validated (argv a non-empty array of strings, no NUL bytes);
 * an invalid one is dropped with a log line naming the plugin. */
int plugin_host_diagnose(plugin_host *h, json_t *incident, json_t **out);

/* The tools every enabled plugin exports, as Chat Completions specs
 * [{type: "function", function: {name, description, parameters}}]: the
 * function name is "<plugin>__<tool>" with every character outside
 * [a-zA-Z0-9_-] made '_', at most 64 characters (a longer one is cut and
 * ends in a hash of the whole name); the description is prefixed with the
 * plugin's name; parameters is the tool's JSON-schema table as JSON
 * ({type: "object"} when it has none). New reference; NULL on ENOMEM. */
json_t *plugin_host_tool_specs(plugin_host *h);

/* Run the tool a model called by function_name (a name from
 * plugin_host_tool_specs): run(args, ctx) under the plugin's limits, args
 * (borrowed, may be NULL: {}) as a Lua table, ctx (borrowed, may be NULL)
 * {cwd, python, virtualenv} as ctx.cwd, ctx.python, ctx.virtualenv, plus
 * ctx.config; doctor.read_file and the like are confined to ctx.cwd.
 * *result (owned by the caller) is a string result as is, any other value
 * as JSON text (nil: "null"); NULL on failure. -ENOENT: no enabled plugin
 * exports that tool; -ETIMEDOUT: the instruction or time limit stopped it;
 * -EIO: it raised an error or hit its memory limit (the plugin is then
 * disabled, as for diagnose); -EINVAL: its result cannot be JSON (the
 * plugin stays enabled); -ENOMEM. */
int plugin_host_call_tool(plugin_host *h, const char *function_name, json_t *args,
                          json_t *ctx, char **result);

/* Turn off the plugins with these names (config plugins.disabled): state
 * "disabled" with the reason "disabled in the configuration"; call before
 * plugin_host_register_detectors. Unknown names are ignored. */
void plugin_host_disable_names(plugin_host *h, const char *const *names, size_t n);

/* Register each enabled plugin's detectors with the detect registry
 * (dr_registry_add) under "<plugin>.<detector>"; unregister on reload/free. */
int plugin_host_register_detectors(plugin_host *h);

#endif
