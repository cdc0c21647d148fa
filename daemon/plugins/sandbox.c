/*
 * sandbox.c - what a plugin's lua_State may do and how long: the
 * memory-capped allocator, the count hook enforcing the instruction and
 * wall-clock budget of a call, the allow-listed environment (safe base
 * functions, string without dump behind a protected metatable, table,
 * math, utf8, coroutine, os.time/clock/date), and plugin_call(), the one
 * protected call every entry into a plugin goes through.
 *
 * Why the guards look the way they do:
 * - A limit, once hit, must end the whole call, not just the innermost
 *   pcall: the hook keeps raising on every tick while `aborting`, and
 *   pcall, xpcall, coroutine.resume and coroutine.close are wrapped so
 *   that they re-raise instead of returning false. xpcall's handler runs
 *   after the unwinding, with hooks on (see safe_xpcall).
 * - Hooks are per thread, but lua_newthread copies the creator's hook, so
 *   coroutines run under the same budget.
 * - __gc metamethods are refused by setmetatable: finalizers run at times
 *   the host does not choose (lua_close); the limits are armed during
 *   lua_close anyway.
 * - The string metatable is shared by every string of the state;
 *   getmetatable("") gives nil and its __index is a read-only proxy, so a
 *   plugin cannot change what ("x"):upper() means.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>
#include <lualib.h>

#include "plugins_internal.h"
#include "plugins_log.h"
#include "sandbox.h"

/* ------------------------------------------------------------------ */
/* Allocator and hook                                                  */

/* lua_Alloc counting bytes per state; refusing an allocation makes Lua
 * run an emergency collection, then raise "not enough memory". */
static void *capped_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	struct sandbox *sb = ud;
	void *grown;

	if (!ptr)
		osize = 0;  /* then osize is a type tag, not a size */
	if (nsize == 0) {
		free(ptr);
		sb->mem_used -= osize;
		return NULL;
	}
	if (nsize > osize && sb->mem_used - osize + nsize > sb->mem_cap)
		return NULL;
	grown = realloc(ptr, nsize);
	if (!grown)
		return NULL;
	sb->mem_used = sb->mem_used - osize + nsize;
	return grown;
}

struct sandbox *sandbox_of(lua_State *L)
{
	void *ud = NULL;

	lua_getallocf(L, &ud);
	return ud;
}

uint64_t sandbox_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void sandbox_arm(struct sandbox *sb)
{
	sb->instr_used = 0;
	sb->deadline_ns = sandbox_now_ns() + (uint64_t)sb->wall_ms * 1000000ull;
	sb->aborting = false;
	sb->abort_msg[0] = '\0';
	sb->armed = true;
}

void sandbox_disarm(struct sandbox *sb)
{
	sb->armed = false;
}

unsigned sandbox_ms_left(const struct sandbox *sb)
{
	uint64_t now = sandbox_now_ns();

	if (!sb->armed || now >= sb->deadline_ns)
		return 0;
	return (unsigned)((sb->deadline_ns - now) / 1000000ull);
}

static void count_hook(lua_State *L, lua_Debug *ar)
{
	struct sandbox *sb = sandbox_of(L);

	if (!sb->armed)
		return;
	sb->instr_used += SANDBOX_HOOK_EVERY;
	if (!sb->aborting && sb->instr_used > sb->instr_budget) {
		snprintf(sb->abort_msg, sizeof(sb->abort_msg),
		         "instruction limit exceeded (%lu)", sb->instr_budget);
		sb->aborting = true;
	} else if (!sb->aborting && sandbox_now_ns() > sb->deadline_ns) {
		snprintf(sb->abort_msg, sizeof(sb->abort_msg),
		         "time limit exceeded (%u ms)", sb->wall_ms);
		sb->aborting = true;
	}
	if (sb->aborting)
		luaL_error(L, "%s", sb->abort_msg);
}

/* A new coroutine starts with a fresh hook counter, so one that runs fewer
 * than SANDBOX_HOOK_EVERY instructions is never checked: a tree of short
 * coroutines could work forever unseen. Each creation therefore costs a
 * full tick, with the same checks as the hook. */
static void charge_tick(lua_State *L)
{
	count_hook(L, NULL);
}

/* coroutine.create / coroutine.wrap: charge a tick, then the original
 * (upvalue 1). */
static int charged_create(lua_State *L)
{
	int n = lua_gettop(L);

	charge_tick(L);
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	lua_call(L, n, LUA_MULTRET);
	return lua_gettop(L);
}

/* ------------------------------------------------------------------ */
/* Replacements for the unsafe parts of the base library               */

/* After a guarded call returns: re-raise if a limit was hit inside. */
static int guard_k(lua_State *L, int status, lua_KContext ctx)
{
	struct sandbox *sb = sandbox_of(L);

	if (sb->aborting)
		return luaL_error(L, "%s", sb->abort_msg);
	return lua_gettop(L);
}

/* pcall, xpcall, coroutine.resume/close: the original (upvalue 1), then
 * the abort check; yields through it are allowed (lua_callk). */
static int guard_call(lua_State *L)
{
	int n = lua_gettop(L);

	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	lua_callk(L, n, LUA_MULTRET, 0, guard_k);
	return guard_k(L, LUA_OK, 0);
}

/* After the handler of an xpcall ran (or raised): false, its result. */
static int xpcall_handled(lua_State *L, int status, lua_KContext ctx)
{
	struct sandbox *sb = sandbox_of(L);

	if (sb->aborting)
		return luaL_error(L, "%s", sb->abort_msg);
	lua_pushboolean(L, 0);
	lua_replace(L, 1);
	return 2;
}

/* After the protected call of an xpcall: true and the results, or the
 * handler called on the error object. */
static int xpcall_done(lua_State *L, int status, lua_KContext ctx)
{
	struct sandbox *sb = sandbox_of(L);

	if (sb->aborting)
		return luaL_error(L, "%s", sb->abort_msg);
	if (status == LUA_OK || status == LUA_YIELD) {
		lua_pushboolean(L, 1);
		lua_replace(L, 1);
		return lua_gettop(L);
	}
	lua_settop(L, 2);                    /* handler, error */
	lua_pushvalue(L, 1);
	lua_insert(L, 2);                    /* handler, handler, error */
	status = lua_pcallk(L, 1, 1, 0, 0, xpcall_handled);
	return xpcall_handled(L, status, 0);
}

/* xpcall(f, handler, ...): the handler runs after the failed call has
 * unwound, never as Lua's message handler: Lua runs message handlers with
 * hooks off when the error came from a hook, so a looping handler would
 * escape the limits. Plugins have no debug library, so they cannot tell
 * the difference. */
static int safe_xpcall(lua_State *L)
{
	int n = lua_gettop(L), status;

	luaL_checktype(L, 2, LUA_TFUNCTION);
	lua_pushvalue(L, 2);
	lua_remove(L, 2);
	lua_insert(L, 1);                    /* handler, f, args... */
	status = lua_pcallk(L, n - 2, LUA_MULTRET, 0, 0, xpcall_done);
	return xpcall_done(L, status, 0);
}

/* getmetatable(v): as the base function, but nil for strings. */
static int safe_getmetatable(lua_State *L)
{
	luaL_checkany(L, 1);
	if (lua_type(L, 1) == LUA_TSTRING || !lua_getmetatable(L, 1)) {
		lua_pushnil(L);
		return 1;
	}
	luaL_getmetafield(L, 1, "__metatable");
	return 1;
}

/* setmetatable(t, mt): as the base function, refusing __gc. */
static int safe_setmetatable(lua_State *L)
{
	int t = lua_type(L, 2);

	luaL_checktype(L, 1, LUA_TTABLE);
	luaL_argexpected(L, t == LUA_TNIL || t == LUA_TTABLE, 2, "nil or table");
	if (t == LUA_TTABLE && lua_getfield(L, 2, "__gc") != LUA_TNIL)
		return luaL_error(L, "__gc metamethods are not allowed in plugins");
	if (luaL_getmetafield(L, 1, "__metatable") != LUA_TNIL)
		return luaL_error(L, "cannot change a protected metatable");
	lua_settop(L, 2);
	lua_setmetatable(L, 1);
	return 1;
}

static int refuse_write(lua_State *L)
{
	return luaL_error(L, "the string table is read-only");
}

/* ------------------------------------------------------------------ */
/* The environment                                                     */

static const char *const base_allowed[] = {
	"assert", "error", "ipairs", "next", "pairs", "rawequal", "rawget",
	"rawlen", "rawset", "select", "tonumber", "tostring", "type",
	"_VERSION", NULL,
};

/* t[name] = a guard_call closure over the function src[name]. */
static void set_guarded(lua_State *L, int t, int src, const char *name)
{
	lua_getfield(L, src, name);
	lua_pushcclosure(L, guard_call, 1);
	lua_setfield(L, t, name);
}

/* t[name] = a charged_create closure over the function src[name]. */
static void set_charged(lua_State *L, int t, int src, const char *name)
{
	lua_getfield(L, src, name);
	lua_pushcclosure(L, charged_create, 1);
	lua_setfield(L, t, name);
}

/* Push a shallow copy of the table at idx without the key `except`. */
static void push_copy(lua_State *L, int idx, const char *except)
{
	idx = lua_absindex(L, idx);
	lua_newtable(L);
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		if (except && lua_type(L, -2) == LUA_TSTRING &&
		    strcmp(lua_tostring(L, -2), except) == 0) {
			lua_pop(L, 1);
			continue;
		}
		lua_pushvalue(L, -2);
		lua_insert(L, -2);
		lua_settable(L, -4);
	}
}

/* Open a library under its own name; leaves it on the stack. */
static void open_lib(lua_State *L, const char *name, lua_CFunction open)
{
	luaL_requiref(L, name, open, 0);
}

/* The string metatable: __index a read-only proxy of a private copy of
 * the library (no dump, guarded patterns), __metatable set. */
static void protect_string_metatable(lua_State *L, int stringlib)
{
	lua_pushliteral(L, "");
	lua_getmetatable(L, -1);                 /* "" mt */
	lua_newtable(L);                         /* "" mt proxy */
	lua_newtable(L);                         /* "" mt proxy proxymt */
	push_copy(L, stringlib, "dump");
	sandbox_guard_patterns(L, -1);
	lua_setfield(L, -2, "__index");
	lua_pushcfunction(L, refuse_write);
	lua_setfield(L, -2, "__newindex");
	lua_pushliteral(L, "protected");
	lua_setfield(L, -2, "__metatable");
	lua_setmetatable(L, -2);                 /* "" mt proxy */
	lua_setfield(L, -2, "__index");
	lua_pushliteral(L, "protected");
	lua_setfield(L, -2, "__metatable");
	lua_pop(L, 2);
}

static void build_os(lua_State *L, int env, int oslib)
{
	static const char *const allowed[] = { "time", "clock", "date", NULL };
	size_t i;

	lua_newtable(L);
	for (i = 0; allowed[i]; i++) {
		lua_getfield(L, oslib, allowed[i]);
		lua_setfield(L, -2, allowed[i]);
	}
	lua_setfield(L, env, "os");
}

/* Protected: open the safe libraries and install the environment as the
 * state's global table (LUA_RIDX_GLOBALS). */
static int setup_state(lua_State *L)
{
	int base, str, env, co;
	size_t i;

	open_lib(L, "_G", luaopen_base);
	base = lua_gettop(L);
	open_lib(L, LUA_STRLIBNAME, luaopen_string);
	str = lua_gettop(L);
	lua_newtable(L);
	env = lua_gettop(L);
	for (i = 0; base_allowed[i]; i++) {
		lua_getfield(L, base, base_allowed[i]);
		lua_setfield(L, env, base_allowed[i]);
	}
	set_guarded(L, env, base, "pcall");
	lua_pushcfunction(L, safe_xpcall);
	lua_setfield(L, env, "xpcall");
	lua_pushcfunction(L, safe_getmetatable);
	lua_setfield(L, env, "getmetatable");
	lua_pushcfunction(L, safe_setmetatable);
	lua_setfield(L, env, "setmetatable");
	lua_pushvalue(L, env);
	lua_setfield(L, env, "_G");

	push_copy(L, str, "dump");
	sandbox_guard_patterns(L, -1);
	lua_setfield(L, env, "string");
	protect_string_metatable(L, str);

	open_lib(L, LUA_TABLIBNAME, luaopen_table);
	push_copy(L, -1, NULL);
	lua_setfield(L, env, "table");
	open_lib(L, LUA_MATHLIBNAME, luaopen_math);
	push_copy(L, -1, NULL);
	lua_setfield(L, env, "math");
	open_lib(L, LUA_UTF8LIBNAME, luaopen_utf8);
	push_copy(L, -1, NULL);
	lua_setfield(L, env, "utf8");
	open_lib(L, LUA_COLIBNAME, luaopen_coroutine);
	co = lua_gettop(L);
	push_copy(L, co, NULL);
	set_guarded(L, lua_gettop(L), co, "resume");
	set_guarded(L, lua_gettop(L), co, "close");
	set_charged(L, lua_gettop(L), co, "create");
	set_charged(L, lua_gettop(L), co, "wrap");
	lua_setfield(L, env, "coroutine");
	open_lib(L, LUA_OSLIBNAME, luaopen_os);
	build_os(L, env, lua_gettop(L));

	lua_pushvalue(L, env);
	lua_rawseti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
	return 0;
}

lua_State *sandbox_state_new(struct sandbox *sb, const char **err)
{
	lua_State *L;

	sb->mem_used = 0;
	sb->armed = sb->aborting = false;
	L = lua_newstate(capped_alloc, sb);
	if (!L) {
		*err = "cannot create a Lua state (memory limit too low?)";
		return NULL;
	}
	lua_sethook(L, count_hook, LUA_MASKCOUNT, SANDBOX_HOOK_EVERY);
	lua_pushcfunction(L, setup_state);
	if (lua_pcall(L, 0, 0, 0) != LUA_OK) {
		*err = "cannot set up the sandbox (memory limit too low?)";
		lua_close(L);
		return NULL;
	}
	return L;
}

void sandbox_state_close(lua_State *L)
{
	struct sandbox *sb;

	if (!L)
		return;
	sb = sandbox_of(L);
	sandbox_arm(sb);
	lua_close(L);
	sandbox_disarm(sb);
}

void sandbox_env_push(lua_State *L)
{
	lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
}

/* ------------------------------------------------------------------ */
/* The protected call                                                  */

/* Message handler: the error and a traceback (luaL_traceback reads the
 * stack from C; plugins never see the debug library). Error objects that
 * are not strings are described, not converted: a __tostring could be
 * plugin code. */
static int traceback_handler(lua_State *L)
{
	const char *msg = lua_tostring(L, 1);

	if (!msg)
		msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
	luaL_traceback(L, L, msg, 1);
	return 1;
}

int plugin_call(struct plugin *p, const char *what, int nargs, int nresults)
{
	lua_State *L = p->L;
	int base = lua_gettop(L) - nargs, status, rc;
	const char *msg;
	char *error = NULL;

	lua_pushcfunction(L, traceback_handler);
	lua_insert(L, base);
	sandbox_arm(&p->sb);
	status = lua_pcall(L, nargs, nresults, base);
	sandbox_disarm(&p->sb);
	lua_remove(L, base);
	if (status == LUA_OK)
		return 0;
	rc = p->sb.aborting ? -ETIMEDOUT : status == LUA_ERRMEM ? -ENOMEM : -EINVAL;
	msg = lua_tostring(L, -1);
	if (status == LUA_ERRMEM)
		msg = "not enough memory (the plugin's memory limit was reached)";
	if (asprintf(&error, "%s: %s", what, msg ? msg : "unknown error") < 0)
		error = NULL;
	lua_pop(L, 1);
	plugin_disable(p, error ? error : what);
	free(error);
	return rc;
}
