/*
 * plugin_load.c - one plugin file into a fresh sandbox: read it (text
 * only: a precompiled chunk is refused), run it under the limits, and
 * validate the table it returns, with errors naming the file and the
 * field ("x.lua: field 'detect[2].line': expected a function, got nil").
 * The table is read with raw accesses, so validation runs no plugin code.
 * The config section plugins.<name> is merged over the table's `config`.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "plugins_internal.h"

#define PLUGIN_MAX_FILE (1u << 20)

/* The whole file, at most PLUGIN_MAX_FILE bytes; NULL with *err. */
static char *read_source(const char *path, size_t *len, const char **err)
{
	FILE *f = fopen(path, "rb");
	char *buf;

	*err = NULL;
	if (!f) {
		*err = strerror(errno);
		return NULL;
	}
	buf = malloc(PLUGIN_MAX_FILE + 1);
	if (buf) {
		*len = fread(buf, 1, PLUGIN_MAX_FILE + 1, f);
		if (ferror(f))
			*err = strerror(errno ? errno : EIO);
		else if (*len > PLUGIN_MAX_FILE)
			*err = "larger than 1 MiB";
	} else {
		*err = strerror(ENOMEM);
	}
	fclose(f);
	if (*err) {
		free(buf);
		return NULL;
	}
	return buf;
}

static bool valid_name(const char *s, bool dots)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!islower((unsigned char)*s) && !isdigit((unsigned char)*s) &&
		    *s != '_' && *s != '-' && !(dots && *s == '.'))
			return false;
	return true;
}

/* ------------------------------------------------------------------ */
/* Validation (protected; the plugin table at index 1)                 */

struct load_ctx {
	struct plugin *p;
	json_t *config;       /* the config's plugins section, borrowed */
};

static int type_error(lua_State *L, struct plugin *p, const char *field, const char *want, int idx)
{
	return luaL_error(L, "%s: field '%s': expected %s, got %s", p->path, field, want,
	                  luaL_typename(L, idx));
}

/* Push t[key] (raw) and check its type; `optional` allows nil. */
static int get_field(lua_State *L, struct plugin *p, int t, const char *key,
                     const char *field, int type, bool optional)
{
	int got;

	t = lua_absindex(L, t);
	lua_pushstring(L, key);
	got = lua_rawget(L, t);
	if (got == type || (optional && got == LUA_TNIL))
		return got;
	return type_error(L, p, field, lua_typename(L, type), -1);
}

/* Field string into *out (strdup'd, owned by p). */
static void get_string(lua_State *L, struct plugin *p, const char *key, char **out, bool optional)
{
	if (get_field(L, p, 1, key, key, LUA_TSTRING, optional) == LUA_TSTRING) {
		free(*out);
		*out = strdup(lua_tostring(L, -1));
		if (!*out)
			luaL_error(L, "not enough memory");
	}
	lua_pop(L, 1);
}

static void check_name(lua_State *L, struct plugin *p)
{
	get_string(L, p, "name", &p->name, false);
	if (!valid_name(p->name, true))
		luaL_error(L, "%s: field 'name': '%s' is not made of [a-z0-9_.-]", p->path, p->name);
	get_string(L, p, "version", &p->version, false);
	get_string(L, p, "description", &p->description, true);
}

/* config defaults with the config file's plugins.<name> merged over. */
static void load_config(lua_State *L, struct load_ctx *lc)
{
	struct plugin *p = lc->p;
	json_t *section = json_object_get(lc->config, p->name);

	if (get_field(L, p, 1, "config", "config", LUA_TTABLE, true) == LUA_TNIL) {
		lua_pop(L, 1);
		lua_newtable(L);
	}
	if (section && !json_is_object(section))
		luaL_error(L, "%s: the config file's plugins.%s must be a mapping", p->path, p->name);
	if (section)
		json_merge_into(L, -1, section);
	p->config_ref = luaL_ref(L, LUA_REGISTRYINDEX);
}

/* A function field of detect[i] into *ref. */
static void detector_fn(lua_State *L, struct plugin *p, size_t i, const char *key, int *ref,
                        bool optional)
{
	char field[64];

	snprintf(field, sizeof(field), "detect[%zu].%s", i + 1, key);
	if (get_field(L, p, -1, key, field, LUA_TFUNCTION, optional) == LUA_TNIL)
		lua_pop(L, 1);
	else
		*ref = luaL_ref(L, LUA_REGISTRYINDEX);
}

static void load_detector(lua_State *L, struct plugin *p, size_t i)
{
	struct lua_detector *d = &p->detectors[i];
	char field[64];
	size_t k;

	snprintf(field, sizeof(field), "detect[%zu]", i + 1);
	if (lua_rawgeti(L, -1, (lua_Integer)i + 1) != LUA_TTABLE)
		type_error(L, p, field, "a table", -1);
	snprintf(field, sizeof(field), "detect[%zu].name", i + 1);
	get_field(L, p, lua_gettop(L), "name", field, LUA_TSTRING, false);
	if (!valid_name(lua_tostring(L, -1), false))
		luaL_error(L, "%s: field '%s': '%s' is not made of [a-z0-9_-]", p->path, field,
		           lua_tostring(L, -1));
	if (asprintf(&d->full_name, "%s.%s", p->name, lua_tostring(L, -1)) < 0) {
		d->full_name = NULL;
		luaL_error(L, "not enough memory");
	}
	lua_pop(L, 1);
	for (k = 0; k < i; k++)
		if (strcmp(p->detectors[k].full_name, d->full_name) == 0)
			luaL_error(L, "%s: field '%s': a second detector named %s", p->path, field,
			           d->full_name);
	detector_fn(L, p, i, "line", &d->line_ref, false);
	detector_fn(L, p, i, "flush", &d->flush_ref, true);
	lua_pop(L, 1);
	lua_detector_init(d, p);
}

static void load_detectors(lua_State *L, struct plugin *p)
{
	size_t i, n;

	if (get_field(L, p, 1, "detect", "detect", LUA_TTABLE, true) == LUA_TNIL) {
		lua_pop(L, 1);
		return;
	}
	n = lua_rawlen(L, -1);
	p->detectors = calloc(n ? n : 1, sizeof(*p->detectors));
	if (!p->detectors)
		luaL_error(L, "not enough memory");
	for (i = 0; i < n; i++)
		p->detectors[i].line_ref = p->detectors[i].flush_ref = LUA_NOREF;
	p->ndetectors = n;
	for (i = 0; i < n; i++)
		load_detector(L, p, i);
	lua_pop(L, 1);
}

/* A match table: each value a string, number or boolean, or a list of them. */
static void check_match_table(lua_State *L, struct plugin *p, int t)
{
	int vt, et;
	size_t i;

	lua_pushnil(L);
	while (lua_next(L, t)) {
		if (lua_type(L, -2) != LUA_TSTRING)
			luaL_error(L, "%s: field 'match': keys must be incident field names", p->path);
		vt = lua_type(L, -1);
		for (i = 1; vt == LUA_TTABLE && i <= lua_rawlen(L, -1); i++) {
			et = lua_rawgeti(L, -1, (lua_Integer)i);
			lua_pop(L, 1);
			if (et != LUA_TSTRING && et != LUA_TNUMBER && et != LUA_TBOOLEAN)
				vt = LUA_TNONE;
		}
		if (vt != LUA_TSTRING && vt != LUA_TNUMBER && vt != LUA_TBOOLEAN && vt != LUA_TTABLE)
			luaL_error(L, "%s: field 'match.%s': expected a string, number, boolean or "
			           "a list of them", p->path, lua_tostring(L, -2));
		lua_pop(L, 1);
	}
}

static void load_match_diagnose(lua_State *L, struct plugin *p)
{
	int mt;

	lua_pushliteral(L, "match");
	mt = lua_rawget(L, 1);
	if (mt != LUA_TNIL && mt != LUA_TTABLE && mt != LUA_TFUNCTION)
		type_error(L, p, "match", "a table or a function", -1);
	if (mt == LUA_TTABLE)
		check_match_table(L, p, lua_gettop(L));
	if (get_field(L, p, 1, "diagnose", "diagnose", LUA_TFUNCTION, true) == LUA_TNIL) {
		if (mt != LUA_TNIL)
			luaL_error(L, "%s: field 'match' is given but 'diagnose' is not", p->path);
		lua_pop(L, 2);
		return;
	}
	p->diagnose_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	if (mt == LUA_TNIL)
		lua_pop(L, 1);
	else
		p->match_ref = luaL_ref(L, LUA_REGISTRYINDEX);
}

static void load_tool(lua_State *L, struct plugin *p, const char *name)
{
	char field[128];
	char **grown;

	snprintf(field, sizeof(field), "tools.%s", name);
	if (lua_type(L, -1) != LUA_TTABLE)
		type_error(L, p, field, "a table", -1);
	snprintf(field, sizeof(field), "tools.%s.run", name);
	get_field(L, p, lua_gettop(L), "run", field, LUA_TFUNCTION, false);
	snprintf(field, sizeof(field), "tools.%s.description", name);
	get_field(L, p, lua_gettop(L) - 1, "description", field, LUA_TSTRING, false);
	snprintf(field, sizeof(field), "tools.%s.parameters", name);
	get_field(L, p, lua_gettop(L) - 2, "parameters", field, LUA_TTABLE, true);
	lua_pop(L, 3);
	grown = realloc(p->tools, (p->ntools + 1) * sizeof(*grown));
	if (!grown)
		luaL_error(L, "not enough memory");
	p->tools = grown;
	p->tools[p->ntools] = strdup(name);
	if (!p->tools[p->ntools])
		luaL_error(L, "not enough memory");
	p->ntools++;
}

static void load_tools(lua_State *L, struct plugin *p)
{
	if (get_field(L, p, 1, "tools", "tools", LUA_TTABLE, true) == LUA_TNIL) {
		lua_pop(L, 1);
		return;
	}
	lua_pushnil(L);
	while (lua_next(L, -2)) {
		if (lua_type(L, -2) != LUA_TSTRING || !valid_name(lua_tostring(L, -2), false))
			luaL_error(L, "%s: field 'tools': keys must be tool names made of [a-z0-9_-]",
			           p->path);
		load_tool(L, p, lua_tostring(L, -2));
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
}

/* Protected: (table, load_ctx) -> validated into p. */
static int validate(lua_State *L)
{
	struct load_ctx *lc = lua_touserdata(L, 2);
	struct plugin *p = lc->p;

	lua_settop(L, 1);
	if (!lua_istable(L, 1))
		return luaL_error(L, "%s: the file must return a table, got %s", p->path,
		                  luaL_typename(L, 1));
	check_name(L, p);
	load_config(L, lc);
	load_detectors(L, p);
	load_match_diagnose(L, p);
	load_tools(L, p);
	lua_pushvalue(L, 1);
	p->table_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	return 0;
}

/* ------------------------------------------------------------------ */

__attribute__((format(printf, 2, 3)))
static int load_failed(struct plugin *p, const char *fmt, ...)
{
	va_list ap;

	free(p->error);
	va_start(ap, fmt);
	if (vasprintf(&p->error, fmt, ap) < 0)
		p->error = NULL;
	va_end(ap);
	p->state = PLUGIN_FAILED;
	return -EINVAL;
}

/* Run the chunk on the stack; its first result stays. */
static int run_chunk(struct plugin *p)
{
	p->state = PLUGIN_ENABLED;  /* so plugin_call's failure is recorded */
	if (plugin_call(p, "loading", 0, 1) < 0) {
		p->state = PLUGIN_FAILED;
		return -EINVAL;
	}
	return 0;
}

int plugin_load(struct plugin *p, json_t *config)
{
	struct load_ctx lc = { p, config };
	const char *err = NULL;
	char *src, *chunkname = NULL;
	size_t len = 0;
	int rc;

	src = read_source(p->path, &len, &err);
	if (!src)
		return load_failed(p, "%s: cannot read: %s", p->path, err);
	p->L = sandbox_state_new(&p->sb, &err);
	if (!p->L) {
		free(src);
		return load_failed(p, "%s: %s", p->path, err);
	}
	*(struct plugin **)lua_getextraspace(p->L) = p;
	lua_pushcfunction(p->L, plugin_api_open);
	rc = lua_pcall(p->L, 0, 0, 0) == LUA_OK ? 0 : -ENOMEM;
	if (rc == 0 && asprintf(&chunkname, "@%s", p->path) < 0)
		rc = -ENOMEM;
	if (rc == 0 && luaL_loadbufferx(p->L, src, len, chunkname, "t") != LUA_OK) {
		err = lua_tostring(p->L, -1);
		/* syntax errors already start with "path:line:" */
		rc = strncmp(err, p->path, strlen(p->path)) == 0
		     ? load_failed(p, "%s%s", "", err) : load_failed(p, "%s: %s", p->path, err);
		lua_settop(p->L, 0);
	}
	free(src);
	free(chunkname);
	if (rc == -ENOMEM)
		return load_failed(p, "%s: %s", p->path, "out of memory setting up the sandbox");
	if (rc < 0 || run_chunk(p) < 0)
		return -EINVAL;
	lua_pushcfunction(p->L, validate);
	lua_insert(p->L, -2);
	lua_pushlightuserdata(p->L, &lc);
	sandbox_arm(&p->sb);
	rc = lua_pcall(p->L, 2, 0, 0);
	sandbox_disarm(&p->sb);
	if (rc != LUA_OK) {
		load_failed(p, "%s%s", lua_tostring(p->L, -1), "");
		lua_settop(p->L, 0);
		return -EINVAL;
	}
	p->state = PLUGIN_ENABLED;
	free(p->error);
	p->error = NULL;
	return 0;
}
