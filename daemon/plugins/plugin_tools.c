/*
 * plugin_tools.c - the tools plugins export to the LLM agent: their
 * Chat Completions specifications (the name the model sees is
 * "<plugin>__<tool>", made safe for the API), and running one when the
 * model calls it: run(args, ctx) under the plugin's limits, the result a
 * string or a table turned into JSON text.
 *
 * The `tools` table was validated when the plugin loaded (plugin_load.c:
 * each entry has run and description, parameters optional); it is read
 * again here with raw accesses, inside the protected call, since the
 * plugin may have changed it since. A failure inside run disables the
 * plugin as a failing diagnose does (plugin_call).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "plugins_internal.h"
#include "plugins_log.h"

#define FUNCTION_NAME_MAX 64

/* ------------------------------------------------------------------ */
/* Names                                                               */

/* "<plugin>__<tool>" with characters outside [a-zA-Z0-9_-] made '_';
 * when longer than 64, its first 55 characters, '_' and 8 hex digits of
 * a hash of the whole name. out has room for 65 bytes. */
static int function_name(const char *plugin, const char *tool, char *out)
{
	char *full = NULL;
	unsigned h = 2166136261u;
	size_t i, n;

	if (asprintf(&full, "%s__%s", plugin, tool) < 0)
		return -ENOMEM;
	n = strlen(full);
	for (i = 0; i < n; i++) {
		char c = full[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			full[i] = '_';
		h = (h ^ (unsigned char)full[i]) * 16777619u;
	}
	if (n <= FUNCTION_NAME_MAX)
		memcpy(out, full, n + 1);
	else
		snprintf(out, FUNCTION_NAME_MAX + 1, "%.55s_%08x", full, h);
	free(full);
	return 0;
}

/* Push tools[name] of p's table (raw); raises when it is not a table. */
static void push_tool(lua_State *L, struct plugin *p, const char *name)
{
	lua_rawgeti(L, LUA_REGISTRYINDEX, p->table_ref);
	lua_pushliteral(L, "tools");
	if (lua_rawget(L, -2) != LUA_TTABLE)
		luaL_error(L, "field 'tools' is no longer a table");
	lua_pushstring(L, name);
	if (lua_rawget(L, -2) != LUA_TTABLE)
		luaL_error(L, "field 'tools.%s' is no longer a table", name);
	lua_replace(L, -3);
	lua_pop(L, 1);
}

/* ------------------------------------------------------------------ */
/* Specifications                                                      */

/* Protected: (tool name) -> description, parameters of that tool. */
static int spec_tramp(lua_State *L)
{
	struct plugin *p = plugin_of(L);
	const char *name = lua_touserdata(L, 1);

	lua_settop(L, 0);
	push_tool(L, p, name);
	lua_pushliteral(L, "description");
	lua_rawget(L, 1);
	lua_pushliteral(L, "parameters");
	lua_rawget(L, 1);
	return 2;
}

/* The parameters schema: the table as JSON, {type: object} by default. */
static json_t *parameters_json(struct plugin *p, const char *tool)
{
	char errbuf[160];
	json_t *v = NULL;

	if (lua_istable(p->L, -1)) {
		v = lua_to_json(p->L, -1, errbuf, sizeof(errbuf));
		if (!v)
			plugins_log(LOG_WARN, "plugin %s: tool %s: parameters ignored: %s", p->name, tool,
			            errbuf);
	}
	if (!json_is_object(v)) {
		json_decref(v);
		v = json_object();
	}
	if (v && !json_object_get(v, "type") && json_object_set_new(v, "type", json_string("object")) < 0) {
		json_decref(v);
		v = NULL;
	}
	if (v && !json_object_get(v, "properties") && json_object_size(v) == 1 &&
	    json_object_set_new(v, "properties", json_object()) < 0) {
		json_decref(v);
		v = NULL;
	}
	return v;
}

static bool name_taken(json_t *specs, const char *name)
{
	json_t *s;
	size_t i;

	json_array_foreach(specs, i, s)
		if (strcmp(json_string_value(json_object_get(json_object_get(s, "function"), "name")),
		           name) == 0)
			return true;
	return false;
}

/* Append the spec of p's tool k; a plugin that fails is skipped (it was
 * disabled by plugin_call). */
static int add_spec(json_t *specs, struct plugin *p, size_t k)
{
	const char *tool = p->tools[k];
	char name[FUNCTION_NAME_MAX + 1], *desc = NULL;
	json_t *params, *spec;
	int rc;

	if ((rc = function_name(p->name, tool, name)) < 0)
		return rc;
	if (name_taken(specs, name)) {
		plugins_log(LOG_WARN, "plugin %s: tool %s left out: the name %s is taken", p->name,
		            tool, name);
		return 0;
	}
	lua_pushcfunction(p->L, spec_tramp);
	lua_pushlightuserdata(p->L, (void *)tool);
	if (plugin_call(p, "tool specification", 1, 2) < 0)
		return 0;
	params = parameters_json(p, tool);
	if (asprintf(&desc, "[plugin %s] %s", p->name,
	             lua_type(p->L, -2) == LUA_TSTRING ? lua_tostring(p->L, -2) : tool) < 0)
		desc = NULL;
	lua_pop(p->L, 2);
	spec = params && desc ? json_pack("{s:s, s:{s:s, s:s, s:o}}", "type", "function",
	                                  "function", "name", name, "description", desc,
	                                  "parameters", params) : NULL;
	if (!spec && !(params && desc))
		json_decref(params);
	free(desc);
	if (!spec)
		return -ENOMEM;
	return json_array_append_new(specs, spec) < 0 ? -ENOMEM : 0;
}

json_t *plugin_host_tool_specs(plugin_host *h)
{
	json_t *specs = json_array();
	struct plugin *const *list;
	size_t n, i, k;
	int rc = specs ? 0 : -ENOMEM;

	list = plugin_host_plugins(h, &n);
	for (i = 0; rc == 0 && i < n; i++)
		for (k = 0; rc == 0 && list[i]->state == PLUGIN_ENABLED && k < list[i]->ntools; k++)
			rc = add_spec(specs, list[i], k);
	if (rc < 0) {
		json_decref(specs);
		return NULL;
	}
	return specs;
}

/* ------------------------------------------------------------------ */
/* Calling a tool                                                      */

struct tool_call {
	struct plugin *p;
	const char *tool;
	const json_t *args;       /* may be NULL */
	const json_t *ctx;        /* may be NULL */
};

/* Protected, under the limits: run(args, ctx); leaves its result. */
static int call_tramp(lua_State *L)
{
	struct tool_call *c = lua_touserdata(L, 1);

	lua_settop(L, 0);
	push_tool(L, c->p, c->tool);
	lua_pushliteral(L, "run");
	if (lua_rawget(L, 1) != LUA_TFUNCTION)
		return luaL_error(L, "tools.%s.run is no longer a function", c->tool);
	if (c->args)
		json_push(L, c->args, 0);
	if (!c->args || lua_isnil(L, -1)) {
		lua_settop(L, 2);
		lua_newtable(L);
	}
	plugin_push_ctx(L, c->p, c->ctx);
	lua_call(L, 2, 1);
	return 1;
}

/* The plugin and tool behind function_name; -ENOENT if none enabled. */
static int find_tool(plugin_host *h, const char *function_name_, struct plugin **p,
		     const char **tool)
{
	char name[FUNCTION_NAME_MAX + 1];
	struct plugin *const *list;
	size_t n, i, k;
	int rc;

	list = plugin_host_plugins(h, &n);
	for (i = 0; i < n; i++) {
		for (k = 0; list[i]->state == PLUGIN_ENABLED && k < list[i]->ntools; k++) {
			if ((rc = function_name(list[i]->name, list[i]->tools[k], name)) < 0)
				return rc;
			if (strcmp(name, function_name_) == 0) {
				*p = list[i];
				*tool = list[i]->tools[k];
				return 0;
			}
		}
	}
	return -ENOENT;
}

/* The value at the top of p's stack as the tool's result text. */
static int take_result(struct plugin *p, const char *tool, char **result)
{
	lua_State *L = p->L;
	char errbuf[160];
	const char *s;
	size_t len, i;
	json_t *v;

	if (lua_type(L, -1) == LUA_TSTRING) {
		s = lua_tolstring(L, -1, &len);
		if (!(*result = malloc(len + 1)))
			return -ENOMEM;
		for (i = 0; i < len; i++)   /* a C string: NUL bytes become '?' */
			(*result)[i] = s[i] ? s[i] : '?';
		(*result)[len] = '\0';
		return 0;
	}
	if (lua_isnil(L, -1))
		return (*result = strdup("null")) ? 0 : -ENOMEM;
	v = lua_to_json(L, -1, errbuf, sizeof(errbuf));
	if (!v) {
		plugins_log(LOG_WARN, "plugin %s: tool %s: result dropped: %s", p->name, tool, errbuf);
		return -EINVAL;
	}
	*result = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(v);
	return *result ? 0 : -ENOMEM;
}

int plugin_host_call_tool(plugin_host *h, const char *function_name_, json_t *args,
                          json_t *ctx, char **result)
{
	struct tool_call c = { NULL, NULL, args, ctx };
	char what[128];
	int rc;

	*result = NULL;
	if (!function_name_)
		return -EINVAL;
	if ((rc = find_tool(h, function_name_, &c.p, &c.tool)) < 0)
		return rc;
	snprintf(what, sizeof(what), "tool %s", c.tool);
	c.p->call.cwd = json_string_value(json_object_get(ctx, "cwd"));
	lua_pushcfunction(c.p->L, call_tramp);
	lua_pushlightuserdata(c.p->L, &c);
	rc = plugin_call(c.p, what, 1, 1);
	c.p->call.cwd = NULL;
	if (rc < 0)
		return rc == -ETIMEDOUT ? -ETIMEDOUT : -EIO;
	rc = take_result(c.p, c.tool, result);
	lua_pop(c.p->L, 1);
	return rc;
}
