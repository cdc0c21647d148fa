/*
 * plugin_diagnose.c - one plugin's look at one incident: `match` (a table
 * of exact field values, a field's value may be a list of accepted
 * values, checked in C against the json; or a function, called in Lua),
 * then `diagnose(incident, ctx)` under the plugin's limits, and the
 * returned table converted to json and validated into the diagnosis
 * object of plugins.h. An invalid diagnosis is dropped, an invalid remedy
 * is dropped from it; both are logged naming the plugin. Errors inside
 * the plugin disable it (plugin_call).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>

#include "plugins_internal.h"
#include "plugins_log.h"

#define MAX_TIMEOUT     86400

/* ------------------------------------------------------------------ */
/* match                                                               */

/* Is the Lua value at idx (string, number or boolean) equal to v? */
static bool value_equals(lua_State *L, int idx, const json_t *v)
{
	size_t n;
	const char *s;

	switch (lua_type(L, idx)) {
	case LUA_TSTRING:
		s = lua_tolstring(L, idx, &n);
		return json_is_string(v) && json_string_length(v) == n &&
		       memcmp(json_string_value(v), s, n) == 0;
	case LUA_TNUMBER:
		return json_is_number(v) && json_number_value(v) == lua_tonumber(L, idx);
	case LUA_TBOOLEAN:
		return json_is_boolean(v) && json_is_true(v) == lua_toboolean(L, idx);
	default:
		return false;
	}
}

/* The match table at the top against the incident. Never raises: keys
 * are strings and values plain (checked when loading). */
static bool table_matches(lua_State *L, const json_t *incident)
{
	int t = lua_gettop(L);
	const json_t *field;
	bool ok = true, any;
	size_t i, n;

	lua_pushnil(L);
	while (ok && lua_next(L, t)) {
		field = json_object_get(incident, lua_tostring(L, -2));
		if (lua_istable(L, -1)) {
			n = lua_rawlen(L, -1);
			for (any = false, i = 1; !any && i <= n; i++) {
				lua_rawgeti(L, -1, (lua_Integer)i);
				any = value_equals(L, -1, field);
				lua_pop(L, 1);
			}
			ok = any;
		} else {
			ok = value_equals(L, -1, field);
		}
		lua_pop(L, 1);
	}
	if (!ok)
		lua_pop(L, 1);  /* the key lua_next left */
	return ok;
}

/* ------------------------------------------------------------------ */
/* The call                                                            */

struct diagnose_call {
	struct plugin *p;
	const json_t *incident;
	bool matched;
};

void plugin_push_ctx(lua_State *L, struct plugin *p, const json_t *source)
{
	static const char *const keys[] = { "cwd", "python", "virtualenv" };
	const json_t *v;
	size_t i;

	lua_createtable(L, 0, 4);
	for (i = 0; i < 3; i++) {
		v = json_object_get(source, keys[i]);
		if (json_is_string(v)) {
			lua_pushstring(L, json_string_value(v));
			lua_setfield(L, -2, keys[i]);
		}
	}
	lua_rawgeti(L, LUA_REGISTRYINDEX, p->config_ref);
	lua_setfield(L, -2, "config");
}

/* Protected, under the limits: match function, then diagnose; leaves
 * diagnose's result (or nil). */
static int diagnose_tramp(lua_State *L)
{
	struct diagnose_call *c = lua_touserdata(L, 1);
	struct plugin *p = c->p;

	lua_settop(L, 0);
	json_push(L, c->incident, 0);                   /* 1: incident */
	plugin_push_ctx(L, p, json_object_get(c->incident, "source"));  /* 2: ctx */
	if (lua_rawgeti(L, LUA_REGISTRYINDEX, p->match_ref) != LUA_TFUNCTION) {
		lua_pop(L, 1);
	} else {
		lua_pushvalue(L, 1);
		lua_call(L, 1, 1);
		if (!lua_toboolean(L, -1)) {
			lua_pushnil(L);
			return 1;
		}
		lua_pop(L, 1);
	}
	c->matched = true;
	lua_rawgeti(L, LUA_REGISTRYINDEX, p->diagnose_ref);
	lua_insert(L, 1);
	lua_call(L, 2, 1);
	return 1;
}

/* ------------------------------------------------------------------ */
/* Validating the result                                               */

static bool is_text(const json_t *v)
{
	return json_is_string(v) && json_string_length(v) > 0 &&
	       strlen(json_string_value(v)) == json_string_length(v);
}

/* A list: an array, or {} (how Lua's empty table converts). */
static bool is_list(const json_t *v)
{
	return json_is_array(v) || (json_is_object(v) && json_object_size(v) == 0);
}

/* argv: a non-empty array of strings without NUL bytes. */
static bool is_argv(const json_t *v)
{
	const json_t *s;
	size_t i;

	if (!json_is_array(v) || json_array_size(v) == 0)
		return false;
	json_array_foreach(v, i, s)
		if (!json_is_string(s) || strlen(json_string_value(s)) != json_string_length(s) ||
		    (i == 0 && json_string_length(s) == 0))
			return false;
	return true;
}

static json_t *remedy_timeout(const json_t *t, const char **why)
{
	double secs = json_number_value(t);

	if (!t)   /* the daemon applies its remedies.timeout */
		return json_null();
	if (!json_is_number(t) || !(secs > 0) || secs > MAX_TIMEOUT) {
		*why = "timeout must be a number of seconds from 1 to 86400";
		return NULL;
	}
	return json_integer((json_int_t)ceil(secs));
}

static json_t *remedy_undo(const json_t *u, const char **why)
{
	if (!u)
		return json_null();
	if (json_is_string(u) && strcmp(json_string_value(u), "pip") == 0)
		return json_string("pip");
	if (is_argv(u))
		return json_incref((json_t *)u);
	*why = "undo must be \"pip\", an argv table or nil";
	return NULL;
}

/* The validated remedy, or NULL with *why. */
static json_t *check_remedy(const json_t *r, const char **why)
{
	const json_t *cwd = json_object_get(r, "cwd"), *verify = json_object_get(r, "verify"),
	             *changes = json_object_get(r, "changes_system");
	json_t *timeout, *undo;

	*why = NULL;
	if (!json_is_object(r))
		*why = "a remedy must be a table";
	else if (!is_text(json_object_get(r, "key")))
		*why = "key must be a non-empty string";
	else if (!is_text(json_object_get(r, "title")))
		*why = "title must be a non-empty string";
	else if (!is_argv(json_object_get(r, "argv")))
		*why = "argv must be a non-empty list of strings without NUL bytes";
	else if (cwd && !is_text(cwd))
		*why = "cwd must be a non-empty string";
	else if (changes && !json_is_boolean(changes))
		*why = "changes_system must be a boolean";
	else if (verify && !is_argv(verify))
		*why = "verify must be an argv table or nil";
	if (*why)
		return NULL;
	timeout = remedy_timeout(json_object_get(r, "timeout"), why);
	undo = timeout ? remedy_undo(json_object_get(r, "undo"), why) : NULL;
	if (!timeout || !undo) {
		json_decref(timeout);
		return NULL;
	}
	/* changes_system defaults to true: claiming less needs saying so */
	return json_pack("{s:O, s:O, s:O, s:O, s:b, s:O, s:o, s:o}",
	                 "key", json_object_get(r, "key"), "title", json_object_get(r, "title"),
	                 "argv", json_object_get(r, "argv"), "cwd", cwd ? cwd : json_null(),
	                 "changes_system", changes ? json_is_true(changes) : 1,
	                 "verify", verify ? verify : json_null(), "timeout", timeout, "undo", undo);
}

static bool key_taken(const json_t *remedies, const json_t *key)
{
	const json_t *r;
	size_t i;

	json_array_foreach(remedies, i, r)
		if (json_equal(json_object_get(r, "key"), key))
			return true;
	return false;
}

/* The remedies that pass; invalid ones are logged and left out. */
static json_t *check_remedies(struct plugin *p, const json_t *list)
{
	json_t *out = json_array(), *r;
	const json_t *item;
	const char *why;
	size_t i;

	json_array_foreach(list, i, item) {
		r = check_remedy(item, &why);
		if (r && key_taken(out, json_object_get(r, "key"))) {
			why = "a second remedy with the same key";
			json_decref(r);
			r = NULL;
		}
		if (r)
			json_array_append_new(out, r);
		else
			plugins_log(LOG_WARN, "plugin %s: remedy %zu dropped: %s", p->name, i + 1,
			            why ? why : "out of memory");
	}
	return out;
}

static bool check_references(const json_t *refs)
{
	const json_t *s;
	size_t i;

	if (!is_list(refs))
		return false;
	json_array_foreach(refs, i, s)
		if (!is_text(s))
			return false;
	return true;
}

/* The diagnosis object of plugins.h, or NULL with *why. */
static json_t *check_diagnosis(struct plugin *p, const json_t *d, const char **why)
{
	const json_t *expl = json_object_get(d, "explanation"),
	             *conf = json_object_get(d, "confidence"),
	             *refs = json_object_get(d, "references"),
	             *remedies = json_object_get(d, "remedies");
	double confidence = conf ? json_number_value(conf) : 0.5;
	json_t *explanation;

	*why = NULL;
	if (!json_is_object(d))
		*why = "diagnose must return a table or nil";
	else if (!is_text(json_object_get(d, "summary")))
		*why = "summary must be a non-empty string";
	else if (expl && !json_is_string(expl))
		*why = "explanation must be a string";
	else if ((conf && !json_is_number(conf)) || !(confidence >= 0 && confidence <= 1))
		*why = "confidence must be a number from 0 to 1";
	else if (refs && !check_references(refs))
		*why = "references must be a list of strings";
	else if (remedies && !is_list(remedies))
		*why = "remedies must be a list";
	if (*why)
		return NULL;
	explanation = expl ? json_incref((json_t *)expl) : json_string("");
	return json_pack("{s:s, s:O, s:o, s:f, s:o, s:o}", "plugin", p->name,
	                 "summary", json_object_get(d, "summary"),
	                 "explanation", explanation,
	                 "confidence", confidence,
	                 "references", json_is_array(refs) ? json_incref((json_t *)refs) : json_array(),
	                 "remedies", check_remedies(p, remedies));
}

/* Convert and validate the result at the top of p's stack into out. */
static int take_diagnosis(struct plugin *p, json_t *out)
{
	char errbuf[160];
	const char *why = NULL;
	json_t *raw, *diag = NULL;

	raw = lua_to_json(p->L, -1, errbuf, sizeof(errbuf));
	if (raw)
		diag = check_diagnosis(p, raw, &why);
	else
		why = errbuf;
	json_decref(raw);
	if (!diag) {
		plugins_log(LOG_WARN, "plugin %s: diagnosis dropped: %s", p->name,
		            why ? why : "out of memory");
		return why ? 0 : -ENOMEM;
	}
	return json_array_append_new(out, diag) < 0 ? -ENOMEM : 0;
}

int plugin_diagnose_one(struct plugin *p, json_t *incident, json_t *out)
{
	struct diagnose_call c = { p, incident, false };
	lua_State *L = p->L;
	bool matched = true;
	int rc;

	if (p->diagnose_ref == LUA_NOREF)
		return 0;
	if (p->match_ref != LUA_NOREF && lua_rawgeti(L, LUA_REGISTRYINDEX, p->match_ref) == LUA_TTABLE) {
		matched = table_matches(L, incident);
		lua_pop(L, 1);
		if (!matched)
			return 0;
	} else if (p->match_ref != LUA_NOREF) {
		lua_pop(L, 1);
	}
	p->call.cwd = json_string_value(json_object_get(json_object_get(incident, "source"), "cwd"));
	lua_pushcfunction(L, diagnose_tramp);
	lua_pushlightuserdata(L, &c);
	rc = plugin_call(p, "diagnose", 1, 1);
	p->call.cwd = NULL;
	if (rc < 0)
		return 0;
	rc = lua_isnil(L, -1) ? 0 : take_diagnosis(p, out);
	lua_pop(L, 1);
	return rc;
}
