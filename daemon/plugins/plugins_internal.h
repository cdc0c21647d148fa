/*
 * plugins_internal.h - what the files of the plugin host share: one
 * loaded plugin (its sandboxed state, what its table declared, its state
 * and error), its Lua detectors, the protected call, and the json <-> Lua
 * conversions.
 *
 * Lifetime: a plugin is reference counted. The host holds one reference
 * while the plugin is in its list; every detector instance a scanner made
 * holds one, because scanners keep their instances after the detector is
 * unregistered (detect.h) and an instance needs the plugin's lua_State.
 */
#ifndef DOCTOR_PLUGINS_INTERNAL_H
#define DOCTOR_PLUGINS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include <lua.h>

#include "detect.h"
#include "plugins.h"
#include "sandbox.h"

enum plugin_state { PLUGIN_ENABLED, PLUGIN_DISABLED, PLUGIN_FAILED };

struct plugin;

/* One `detect` entry; ops first so the registry's ops pointer is it. */
struct lua_detector {
	dr_detector_ops ops;     /* ops.name == full_name */
	char *full_name;         /* "<plugin>.<name>", owned */
	struct plugin *plugin;   /* borrowed: the detector is part of it */
	int line_ref, flush_ref; /* functions in the registry; LUA_NOREF */
	bool registered;
};

/* What the current call is about, read by the doctor.* bindings. */
struct plugin_call_ctx {
	const char *cwd;         /* the incident source's cwd, borrowed, may be NULL */
};

struct plugin {
	unsigned refs;
	char *path;              /* owned */
	char *name;              /* owned; the file's stem until the table says */
	char *version, *description;  /* owned, may be NULL */
	enum plugin_state state;
	char *error;             /* owned, NULL while enabled */
	lua_State *L;            /* owned; NULL if the state could not be made */
	struct sandbox sb;
	int table_ref;           /* the returned table; LUA_NOREF */
	int config_ref;          /* merged config table; LUA_NOREF */
	int match_ref, diagnose_ref;  /* LUA_NOREF when absent */
	struct lua_detector *detectors;  /* owned */
	size_t ndetectors;
	char **tools;            /* owned names */
	size_t ntools;
	struct plugin_call_ctx call;
};

/* host.c */
/* The host's plugins in load order (borrowed; valid until the next load
 * or reload); *n gets how many. */
struct plugin *const *plugin_host_plugins(plugin_host *h, size_t *n);
void plugin_ref(struct plugin *p);
/* Drop a reference; the last one closes the state and frees p. */
void plugin_unref(struct plugin *p);
/* Stop using p: state `disabled` (runtime failure) with the error, logged;
 * its registered detectors are disabled for new scanners. */
void plugin_disable(struct plugin *p, const char *error);

/* sandbox.c: run the function below nargs arguments
 * on p's stack under p's limits with a traceback handler. On failure the
 * plugin is disabled with "<what>: <error>" and the error is popped;
 * returns 0, -ETIMEDOUT (a limit), -ENOMEM or -EINVAL (an error). */
int plugin_call(struct plugin *p, const char *what, int nargs, int nresults);

/* plugin_load.c: read, run and validate the file into p (p->path set, the
 * state made). 0, or -EINVAL with p->error set. */
int plugin_load(struct plugin *p, json_t *config);

/* convert.c. json_push: push v as a Lua value (null -> nil); raises on
 * out of memory, so call it in protected mode. */
void json_push(lua_State *L, const json_t *v, int depth);
/* Merge the json object over the table at idx (objects into tables,
 * recursively; anything else replaces). Raises on out of memory. */
void json_merge_into(lua_State *L, int idx, const json_t *obj);
/* The Lua value at idx as json; never raises. NULL with err (static or
 * in errbuf) when it cannot be represented (functions, cycles, depth,
 * mixed keys, invalid UTF-8). */
json_t *lua_to_json(lua_State *L, int idx, char *errbuf, size_t errlen);

/* api.c: the global `doctor` table in the environment. Protected. */
int plugin_api_open(lua_State *L);
/* The plugin owning L (set in the state's extra space). */
struct plugin *plugin_of(lua_State *L);

/* lua_detect.c */
void lua_detector_init(struct lua_detector *d, struct plugin *p);
int lua_detector_register(struct lua_detector *d);
void lua_detector_unregister(struct lua_detector *d);

/* plugin_diagnose.c: the ctx table of a call (cwd, python, virtualenv
 * from the json object source, which may be NULL, and config); raises on
 * out of memory, so call it in protected mode. */
void plugin_push_ctx(lua_State *L, struct plugin *p, const json_t *source);

/* plugin_diagnose.c: p's diagnosis of incident appended to out (nothing when it
 * does not match or returns nil). */
int plugin_diagnose_one(struct plugin *p, json_t *incident, json_t *out);

#endif
