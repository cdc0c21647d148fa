/*
 * plugin_api.h - what the files of the `doctor` Lua table share (internal
 * to the plugin host): each binding area's functions, and helpers to hand
 * C-owned results to Lua without leaking them when Lua raises.
 */
#ifndef DOCTOR_PLUGIN_API_H
#define DOCTOR_PLUGIN_API_H

#include <jansson.h>
#include <lauxlib.h>

extern const luaL_Reg plugin_api_files[];   /* api_files.c */
extern const luaL_Reg plugin_api_python[];  /* api_python.c */
extern const luaL_Reg plugin_api_system[];  /* api_system.c */

/* Push v (json -> Lua, null -> nil) and drop the reference to it, even
 * when pushing raises (then the error is re-raised after the decref). */
void api_push_json_owned(lua_State *L, json_t *v);
/* Push s (malloc'd, may be NULL -> nil) and free it, raising safely. */
void api_push_string_owned(lua_State *L, char *s);
/* Return nil, message: the soft failure of a binding. */
int api_fail(lua_State *L, const char *fmt, ...);

#endif
