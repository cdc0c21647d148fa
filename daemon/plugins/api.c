/*
 * api.c - the global `doctor` table, the only way out of the sandbox:
 * installing it, and its general bindings (log, json). Files are
 * api_files.c, Python interpreters api_python.c, the system (which,
 * ports, disks) api_system.c. Each binding is documented above its C
 * function: Lua signature, arguments, returns, errors.
 *
 * Bindings return nil and a message for failures a plugin should handle
 * (a missing file) and raise for misuse (a wrong argument type), which
 * disables the plugin like any other error. Memory the C side owns is
 * handed to Lua through protected helpers, so a "not enough memory" raised
 * by the plugin's cap never leaks it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin_api.h"
#include "plugins_internal.h"
#include "plugins_log.h"

struct plugin *plugin_of(lua_State *L)
{
	return *(struct plugin **)lua_getextraspace(L);
}

int api_fail(lua_State *L, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	lua_pushnil(L);
	lua_pushstring(L, msg);
	return 2;
}

static int push_json_tramp(lua_State *L)
{
	json_push(L, lua_touserdata(L, 1), 0);
	return 1;
}

static int push_string_tramp(lua_State *L)
{
	lua_pushstring(L, lua_touserdata(L, 1));
	return 1;
}

/* Run tramp(ud) protected; on error release and re-raise. */
static void push_owned(lua_State *L, lua_CFunction tramp, void *ud, void (*release)(void *))
{
	int status;

	lua_pushcfunction(L, tramp);
	lua_pushlightuserdata(L, ud);
	status = lua_pcall(L, 1, 1, 0);
	release(ud);
	if (status != LUA_OK)
		lua_error(L);
}

static void release_json(void *v)
{
	json_decref(v);
}

void api_push_json_owned(lua_State *L, json_t *v)
{
	if (!v) {
		lua_pushnil(L);
		return;
	}
	push_owned(L, push_json_tramp, v, release_json);
}

void api_push_string_owned(lua_State *L, char *s)
{
	if (!s) {
		lua_pushnil(L);
		return;
	}
	push_owned(L, push_string_tramp, s, free);
}

/*
 * doctor.log(level, message)
 *   level: "debug" | "info" | "warn" | "error"
 *   message: string (cut at 1000 bytes)
 * Writes "plugin <name>: <message>" to the daemon's log. Returns nothing.
 * Errors: an unknown level.
 */
static int l_log(lua_State *L)
{
	static const char *const levels[] = { "error", "warn", "info", "debug", NULL };
	int level = luaL_checkoption(L, 1, NULL, levels);
	const char *msg = luaL_checkstring(L, 2);

	plugins_log(level, "plugin %s: %.1000s", plugin_of(L)->name, msg);
	return 0;
}

/*
 * doctor.json_decode(text) -> value | nil, err
 *   text: a JSON document (any value at the top)
 * Objects become tables with string keys, arrays lists, null nil.
 */
static int l_json_decode(lua_State *L)
{
	size_t len;
	const char *text = luaL_checklstring(L, 1, &len);
	json_error_t err;
	json_t *v = json_loadb(text, len, JSON_DECODE_ANY, &err);

	if (!v)
		return api_fail(L, "json: line %d, column %d: %s", err.line, err.column, err.text);
	api_push_json_owned(L, v);
	return 1;
}

/*
 * doctor.json_encode(value) -> string | nil, err
 *   value: nil, boolean, number, string or a table of them (a list has
 *   keys 1..n, a record string keys; an empty table is {}).
 * Fails on functions, cycles, mixed keys, NaN, invalid UTF-8.
 */
static int l_json_encode(lua_State *L)
{
	char why[160];
	json_t *v;
	char *text;

	luaL_checkany(L, 1);
	v = lua_to_json(L, 1, why, sizeof(why));
	if (!v)
		return api_fail(L, "json: %s", why);
	text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
	json_decref(v);
	if (!text)
		return api_fail(L, "json: out of memory");
	api_push_string_owned(L, text);
	return 1;
}

static const luaL_Reg api_misc[] = {
	{ "log", l_log },
	{ "json_decode", l_json_decode },
	{ "json_encode", l_json_encode },
	{ NULL, NULL },
};

int plugin_api_open(lua_State *L)
{
	sandbox_env_push(L);
	lua_newtable(L);
	luaL_setfuncs(L, api_misc, 0);
	luaL_setfuncs(L, plugin_api_files, 0);
	luaL_setfuncs(L, plugin_api_python, 0);
	luaL_setfuncs(L, plugin_api_system, 0);
	lua_setfield(L, -2, "doctor");
	lua_pop(L, 1);
	return 0;
}
