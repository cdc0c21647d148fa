/*
 * lua_detect.c - a plugin's `detect` entries as detectors of the detect
 * registry (dr_detector_ops), named "<plugin>.<name>".
 *
 * Each scanner instance keeps its per-source state as a Lua table in the
 * plugin state's registry (made in create, released in destroy) and a
 * reference on the plugin, since a scanner may outlive a reload. line()
 * calls the plugin's function under its limits: nil or false passes, true
 * claims the line, an error table {exception, message, extra, text}
 * becomes a dr_error (the line is then claimed too). A plugin that fails
 * is disabled by plugin_call, and its instances pass every line after.
 *
 * A line another detector already claimed is not offered, unless this
 * detector claimed the previous line (it is assembling an error and may
 * finish it); pending() is true while it is assembling and has a flush.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "plugins_internal.h"

struct lua_instance {
	struct lua_detector *det;  /* borrowed; alive while we hold a plugin ref */
	int state_ref;             /* the state table; LUA_NOREF if none */
	bool assembling;           /* the last line offered was claimed */
};

/* One call into the plugin: in and out. */
struct detect_call {
	struct lua_instance *inst;
	const char *text;          /* NULL for flush */
	size_t text_len;
	bool claimed;
	json_t *error;             /* the returned error table, owned */
};

static bool usable(const struct lua_instance *inst)
{
	return inst->det->plugin->state == PLUGIN_ENABLED && inst->state_ref != LUA_NOREF;
}

/* Protected: a new state table, its reference in *(int *)arg 1. */
static int new_state_table(lua_State *L)
{
	int *ref = lua_touserdata(L, 1);

	lua_newtable(L);
	*ref = luaL_ref(L, LUA_REGISTRYINDEX);
	return 0;
}

static void *ld_create(void *config)
{
	struct lua_detector *d = config;
	struct lua_instance *inst = calloc(1, sizeof(*inst));
	lua_State *L = d->plugin->L;

	if (!inst)
		return NULL;
	inst->det = d;
	inst->state_ref = LUA_NOREF;
	plugin_ref(d->plugin);
	if (d->plugin->state != PLUGIN_ENABLED)
		return inst;
	lua_pushcfunction(L, new_state_table);
	lua_pushlightuserdata(L, &inst->state_ref);
	if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
		/* out of the plugin's memory: this instance passes */
		lua_pop(L, 1);
		inst->state_ref = LUA_NOREF;
	}
	return inst;
}

static void ld_destroy(void *state)
{
	struct lua_instance *inst = state;
	struct plugin *p = inst->det->plugin;

	if (inst->state_ref != LUA_NOREF && p->L)
		luaL_unref(p->L, LUA_REGISTRYINDEX, inst->state_ref);
	plugin_unref(p);
	free(inst);
}

/* What a line or flush function returned (at the top): nil/false, true,
 * or an error table, validated into c->error. Raises on anything else. */
static void take_result(lua_State *L, struct detect_call *c)
{
	const char *name = c->inst->det->full_name;
	char why[160];
	json_t *e;

	if (lua_isnil(L, -1) || (lua_isboolean(L, -1) && !lua_toboolean(L, -1)))
		return;
	if (lua_isboolean(L, -1) && c->text) {
		c->claimed = true;
		return;
	}
	if (!lua_istable(L, -1))
		luaL_error(L, "detector %s: %s must return nil%s or an error table, got %s", name,
		           c->text ? "line" : "flush", c->text ? ", true" : "", luaL_typename(L, -1));
	e = lua_to_json(L, -1, why, sizeof(why));
	if (!e)
		luaL_error(L, "detector %s: the error table: %s", name, why);
	if (!json_is_string(json_object_get(e, "exception")) ||
	    !*json_string_value(json_object_get(e, "exception")) ||
	    (json_object_get(e, "message") && !json_is_string(json_object_get(e, "message"))) ||
	    (json_object_get(e, "text") && !json_is_string(json_object_get(e, "text"))) ||
	    (json_object_get(e, "extra") && !json_is_object(json_object_get(e, "extra")))) {
		json_decref(e);
		luaL_error(L, "detector %s: an error table needs exception (a non-empty string), "
		           "and may have message and text (strings) and extra (a table)", name);
	}
	c->error = e;
	c->claimed = c->text != NULL;
}

/* Protected, under the limits: call line(state, text) or flush(state). */
static int detect_tramp(lua_State *L)
{
	struct detect_call *c = lua_touserdata(L, 1);
	struct lua_detector *d = c->inst->det;

	lua_rawgeti(L, LUA_REGISTRYINDEX, c->text ? d->line_ref : d->flush_ref);
	lua_rawgeti(L, LUA_REGISTRYINDEX, c->inst->state_ref);
	if (c->text)
		lua_pushlstring(L, c->text, c->text_len);
	lua_call(L, c->text ? 2 : 1, 1);
	take_result(L, c);
	return 0;
}

static char *dup_field(const json_t *e, const char *key, const char *fallback, size_t len)
{
	const json_t *s = json_object_get(e, key);

	if (json_is_string(s))
		return strndup(json_string_value(s), json_string_length(s));
	return strndup(fallback ? fallback : "", fallback ? len : 0);
}

/* The returned table as a dr_error; NULL on out of memory. */
static dr_error *make_error(const struct lua_detector *d, const json_t *e, const dr_line *line)
{
	dr_error *err = calloc(1, sizeof(*err));
	const char *text = line ? line->text : NULL;

	if (!err)
		return NULL;
	err->detector = strdup(d->full_name);
	err->exception = dup_field(e, "exception", NULL, 0);
	err->message = dup_field(e, "message", NULL, 0);
	err->text = dup_field(e, "text", text, line ? line->text_len : 0);
	if (json_is_string(json_object_get(e, "text")) || !line)
		err->raw = strdup(err->text ? err->text : "");
	else
		err->raw = strndup(line->raw, line->raw_len);
	err->extra = json_incref(json_object_get(e, "extra"));
	if (!err->detector || !err->exception || !err->message || !err->text || !err->raw) {
		dr_error_free(err);
		return NULL;
	}
	return err;
}

/* Run one call; emits the error if one came back. 0, -ENOMEM, or the
 * plugin's failure (then it is disabled). */
static int run(struct detect_call *c, const dr_line *line, dr_emit_fn emit, void *ud)
{
	struct plugin *p = c->inst->det->plugin;
	dr_error *err;
	int rc;

	lua_pushcfunction(p->L, detect_tramp);
	lua_pushlightuserdata(p->L, c);
	rc = plugin_call(p, c->inst->det->full_name, 1, 0);
	if (rc == 0 && c->error) {
		err = make_error(c->inst->det, c->error, line);
		if (err)
			emit(ud, err);
		else
			rc = -ENOMEM;
	}
	json_decref(c->error);
	c->error = NULL;
	return rc;
}

static int ld_line(void *state, const dr_line *line, bool claimed, dr_emit_fn emit, void *ud)
{
	struct lua_instance *inst = state;
	struct detect_call c = { inst, line->text, line->text_len, false, NULL };
	int rc;

	if (!usable(inst) || (claimed && !inst->assembling))
		return DR_PASS;
	rc = run(&c, line, emit, ud);
	inst->assembling = rc == 0 && c.claimed && !c.error && inst->det->flush_ref != LUA_NOREF;
	if (rc == -ENOMEM)
		return rc;
	return rc == 0 && c.claimed ? DR_CLAIMED : DR_PASS;
}

static void ld_flush(void *state, dr_emit_fn emit, void *ud)
{
	struct lua_instance *inst = state;
	struct detect_call c = { inst, NULL, 0, false, NULL };

	inst->assembling = false;
	if (usable(inst) && inst->det->flush_ref != LUA_NOREF)
		run(&c, NULL, emit, ud);
}

static bool ld_pending(void *state)
{
	const struct lua_instance *inst = state;

	return inst->assembling && usable(inst);
}

void lua_detector_init(struct lua_detector *d, struct plugin *p)
{
	d->plugin = p;
	d->ops.name = d->full_name;
	d->ops.create = ld_create;
	d->ops.line = ld_line;
	d->ops.flush = ld_flush;
	d->ops.pending = ld_pending;
	d->ops.destroy = ld_destroy;
}

int lua_detector_register(struct lua_detector *d)
{
	int rc = dr_registry_add(&d->ops, d);

	d->registered = rc == 0;
	return rc;
}

void lua_detector_unregister(struct lua_detector *d)
{
	if (d->registered)
		dr_registry_remove(d->full_name);
	d->registered = false;
}
