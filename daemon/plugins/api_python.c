/*
 * api_python.c - doctor.python_info, python_distributions, module_owner,
 * normalize_dist: what an interpreter's files say (pyenv.h), never by
 * running it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin_api.h"
#include "plugins_internal.h"
#include "python/pyenv.h"

/* Probe python; on failure push nil, err and return 2 (else 0). */
static int probe(lua_State *L, const char *python, py_env **env)
{
	int rc = py_env_probe(python, env);

	if (rc < 0)
		return api_fail(L, "%s: %s", python, rc == -ENOENT ? "no such interpreter"
		                                              : strerror(-rc));
	return 0;
}

/*
 * doctor.python_info(python) -> info | nil, err
 *   python: path of an interpreter (ctx.python)
 *   info: { python, version ("3.11" or nil), prefix, virtualenv (or nil),
 *           conda (boolean), externally_managed (boolean), site_dirs = {..} }
 */
static int l_python_info(lua_State *L)
{
	const char *python = luaL_checkstring(L, 1);
	py_env *env = NULL;
	json_t *info;

	if (probe(L, python, &env))
		return 2;
	info = py_env_to_json(env);
	py_env_free(env);
	if (!info)
		return api_fail(L, "%s: out of memory", python);
	api_push_json_owned(L, info);
	return 1;
}

/*
 * doctor.python_distributions(python) -> { {name, version, location,
 *   top_level = {modules}}, ... } | nil, err
 * The installed distributions, the first found of each name in sys.path
 * order.
 */
static int l_python_distributions(lua_State *L)
{
	const char *python = luaL_checkstring(L, 1);
	py_env *env = NULL;
	json_t *dists = NULL;
	int rc;

	if (probe(L, python, &env))
		return 2;
	rc = py_env_distributions(env, &dists);
	py_env_free(env);
	if (rc < 0)
		return api_fail(L, "%s: %s", python, strerror(-rc));
	api_push_json_owned(L, dists);
	return 1;
}

/*
 * doctor.module_owner(python, module) -> dist_name, version | nil
 *   module: a top-level module name ("cv2")
 * The distribution that provides it ("opencv-python", "4.9.0.80"); nil
 * when none does or the interpreter cannot be read.
 */
static int l_module_owner(lua_State *L)
{
	const char *python = luaL_checkstring(L, 1), *module = luaL_checkstring(L, 2);
	char *dist = NULL, *version = NULL;
	py_env *env = NULL;
	json_t *pair;
	int rc;

	if (py_env_probe(python, &env) < 0) {
		lua_pushnil(L);
		return 1;
	}
	rc = py_env_module_owner(env, module, &dist, &version);
	py_env_free(env);
	if (rc < 0) {
		lua_pushnil(L);
		return 1;
	}
	pair = json_pack("[s, s?]", dist, version);
	free(dist);
	free(version);
	api_push_json_owned(L, pair);
	if (!lua_istable(L, -1))
		return 1;
	lua_rawgeti(L, -1, 1);
	lua_rawgeti(L, -2, 2);
	return 2;
}

/*
 * doctor.normalize_dist(name) -> string
 * The PEP 503 normalised name: lower case, runs of "-", "_", "." made
 * one "-" ("Foo_Bar.baz" -> "foo-bar-baz").
 */
static int l_normalize_dist(lua_State *L)
{
	char *norm = py_normalize_name(luaL_checkstring(L, 1));

	if (!norm)
		return luaL_error(L, "not enough memory");
	api_push_string_owned(L, norm);
	return 1;
}

const luaL_Reg plugin_api_python[] = {
	{ "python_info", l_python_info },
	{ "python_distributions", l_python_distributions },
	{ "module_owner", l_module_owner },
	{ "normalize_dist", l_normalize_dist },
	{ NULL, NULL },
};
