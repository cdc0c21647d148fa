/*
 * convert.c - json (jansson) values to Lua values and back.
 *
 * json -> Lua allocates in the plugin's state and may raise "not enough
 * memory", so callers run it in protected mode (inside plugin_call).
 * Lua -> json uses only functions that never raise (no metamethods, no
 * in-place number to string conversions), so it is safe anywhere; a value
 * json cannot hold is an error message, never a crash: functions and
 * other non-data values, cycles (caught by the depth limit), tables
 * mixing list and record keys, invalid UTF-8, NaN and infinities.
 * json null becomes nil (so a null field is an absent field); an empty
 * table becomes an empty object.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>

#include "plugins_internal.h"

#define CONVERT_MAX_DEPTH 32

/* ------------------------------------------------------------------ */
/* json -> Lua                                                         */

void json_push(lua_State *L, const json_t *v, int depth)
{
	const char *key;
	json_t *item;
	size_t i;

	if (depth > CONVERT_MAX_DEPTH)
		luaL_error(L, "json nested deeper than %d levels", CONVERT_MAX_DEPTH);
	luaL_checkstack(L, 3, "json nested too deeply");
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		lua_createtable(L, 0, (int)json_object_size(v));
		json_object_foreach((json_t *)v, key, item) {
			if (json_is_null(item))
				continue;
			json_push(L, item, depth + 1);
			lua_setfield(L, -2, key);
		}
		break;
	case JSON_ARRAY:
		lua_createtable(L, (int)json_array_size(v), 0);
		json_array_foreach(v, i, item) {
			json_push(L, item, depth + 1);
			lua_rawseti(L, -2, (lua_Integer)i + 1);
		}
		break;
	case JSON_STRING:
		lua_pushlstring(L, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		lua_pushinteger(L, (lua_Integer)json_integer_value(v));
		break;
	case JSON_REAL:
		lua_pushnumber(L, json_real_value(v));
		break;
	case JSON_TRUE:
	case JSON_FALSE:
		lua_pushboolean(L, json_is_true(v));
		break;
	default:
		lua_pushnil(L);
	}
}

void json_merge_into(lua_State *L, int idx, const json_t *obj)
{
	const char *key;
	json_t *item;

	idx = lua_absindex(L, idx);
	luaL_checkstack(L, 3, "config nested too deeply");
	json_object_foreach((json_t *)obj, key, item) {
		lua_pushstring(L, key);
		if (json_is_object(item) && lua_rawget(L, idx) == LUA_TTABLE) {
			json_merge_into(L, -1, item);
			lua_pop(L, 1);
			continue;
		}
		lua_pop(L, 1);
		lua_pushstring(L, key);
		json_push(L, item, 1);
		lua_rawset(L, idx);
	}
}

/* ------------------------------------------------------------------ */
/* Lua -> json                                                         */

/* A plugin's result becomes JSON in C, outside its limits: a table shared
 * many times (t = {t, t} twenty times) or one big string referenced
 * everywhere would otherwise cost exponential time or gigabytes. */
#define CONVERT_MAX_VALUES 100000
#define CONVERT_MAX_BYTES  (4u * 1024 * 1024)

struct conv {
	char *err;
	size_t errlen;
	size_t values;   /* converted so far */
	size_t bytes;    /* string and key bytes so far */
};

__attribute__((format(printf, 2, 3)))
static json_t *fail(struct conv *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, c->errlen, fmt, ap);
	va_end(ap);
	return NULL;
}

static json_t *to_json(lua_State *L, int idx, int depth, struct conv *c);

/* 1: a list of n items (keys 1..n), 0: a record (string keys), -1: error. */
static int table_shape(lua_State *L, int idx, size_t *n, struct conv *c)
{
	size_t count = 0, strings = 0;
	lua_Integer k, max = 0;

	lua_pushnil(L);
	while (lua_next(L, idx)) {
		lua_pop(L, 1);
		count++;
		if (lua_type(L, -1) == LUA_TSTRING) {
			strings++;
		} else if (lua_isinteger(L, -1) && (k = lua_tointeger(L, -1)) > 0) {
			if (k > max)
				max = k;
		} else {
			fail(c, "a table has a %s key (only strings and list indexes convert)",
			     lua_typename(L, lua_type(L, -1)));
			lua_pop(L, 1);
			return -1;
		}
	}
	if (strings && strings != count) {
		fail(c, "%s", "a table mixes list and record keys");
		return -1;
	}
	if (!strings && count && (size_t)max != count) {
		fail(c, "%s", "a list has holes");
		return -1;
	}
	*n = count;
	return strings || !count ? 0 : 1;
}

static json_t *list_to_json(lua_State *L, int idx, size_t n, int depth, struct conv *c)
{
	json_t *arr = json_array(), *item;
	size_t i;

	for (i = 1; arr && i <= n; i++) {
		lua_rawgeti(L, idx, (lua_Integer)i);
		item = to_json(L, lua_gettop(L), depth + 1, c);
		lua_pop(L, 1);
		if (!item || json_array_append_new(arr, item) < 0) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr ? arr : fail(c, "%s", "out of memory");
}

static json_t *record_to_json(lua_State *L, int idx, int depth, struct conv *c)
{
	json_t *obj = json_object(), *item;
	size_t klen;
	const char *key;

	if (!obj)
		return fail(c, "%s", "out of memory");
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		key = lua_tolstring(L, -2, &klen);
		if ((c->bytes += klen) > CONVERT_MAX_BYTES) {
			lua_pop(L, 2);
			json_decref(obj);
			return fail(c, "the result is too large (more than %u bytes of text)",
			            CONVERT_MAX_BYTES);
		}
		item = to_json(L, lua_gettop(L), depth + 1, c);
		lua_pop(L, 1);
		if (!item || json_object_setn_new(obj, key, klen, item) < 0) {
			if (item)
				fail(c, "%s", "a key is not valid UTF-8");
			lua_pop(L, 1);
			json_decref(obj);
			return NULL;
		}
	}
	return obj;
}

static json_t *to_json(lua_State *L, int idx, int depth, struct conv *c)
{
	const char *s;
	json_t *str;
	size_t n;
	double d;
	int shape;

	if (++c->values > CONVERT_MAX_VALUES)
		return fail(c, "the result is too large (more than %d values)", CONVERT_MAX_VALUES);
	switch (lua_type(L, idx)) {
	case LUA_TNIL:
		return json_null();
	case LUA_TBOOLEAN:
		return json_boolean(lua_toboolean(L, idx));
	case LUA_TNUMBER:
		if (lua_isinteger(L, idx))
			return json_integer((json_int_t)lua_tointeger(L, idx));
		d = lua_tonumber(L, idx);
		return isfinite(d) ? json_real(d) : fail(c, "%s", "a number is not finite");
	case LUA_TSTRING:
		s = lua_tolstring(L, idx, &n);
		if ((c->bytes += n) > CONVERT_MAX_BYTES)
			return fail(c, "the result is too large (more than %u bytes of text)",
			            CONVERT_MAX_BYTES);
		str = json_stringn(s, n);
		return str ? str : fail(c, "%s", "a string is not valid UTF-8");
	case LUA_TTABLE:
		if (depth > CONVERT_MAX_DEPTH)
			return fail(c, "%s", "tables nested too deeply (or a cycle)");
		if (!lua_checkstack(L, 4))
			return fail(c, "%s", "out of Lua stack");
		shape = table_shape(L, idx, &n, c);
		if (shape < 0)
			return NULL;
		return shape ? list_to_json(L, idx, n, depth, c) : record_to_json(L, idx, depth, c);
	default:
		return fail(c, "a %s value cannot be converted", lua_typename(L, lua_type(L, idx)));
	}
}

json_t *lua_to_json(lua_State *L, int idx, char *errbuf, size_t errlen)
{
	struct conv c = { errbuf, errlen, 0, 0 };

	errbuf[0] = '\0';
	return to_json(L, lua_absindex(L, idx), 0, &c);
}
