/*
 * sandbox.h - the limits every plugin runs under (internal to the plugin
 * host): a lua_State with a memory-capped allocator, an instruction and
 * wall-clock budget enforced by a count hook, an environment built from an
 * allow-list, and the one protected call every entry into Lua goes through.
 */
#ifndef DOCTOR_PLUGINS_SANDBOX_H
#define DOCTOR_PLUGINS_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <lua.h>

/* The count hook fires every this many VM instructions. */
#define SANDBOX_HOOK_EVERY 1000

/* Pattern functions (string.find/match/gmatch/gsub) refuse a call whose
 * estimated worst-case cost exceeds this many matcher steps: Lua's matcher
 * is C, the count hook cannot stop it (see sandbox_patterns.c). */
#define SANDBOX_PATTERN_BUDGET (1ull << 26)

/* One per lua_State; the allocator's user data, so reachable from any
 * thread of the state through lua_getallocf(). */
struct sandbox {
	size_t mem_used, mem_cap;       /* bytes */
	unsigned long instr_budget;     /* per call */
	unsigned long instr_used;
	unsigned wall_ms;               /* per call */
	uint64_t deadline_ns;           /* CLOCK_MONOTONIC */
	bool armed;                     /* inside a call: limits apply */
	bool aborting;                  /* a limit was hit: every hook and
	                                   every guarded pcall raises again
	                                   until the call has unwound */
	char abort_msg[96];
};

/* A new state whose allocations are counted against sb (borrowed, must
 * outlive the state), with the count hook set and the safe libraries
 * opened; the global table is replaced by the allow-listed environment
 * (see sandbox_env_push). NULL with *err (static text) on failure. */
lua_State *sandbox_state_new(struct sandbox *sb, const char **err);
/* Close the state with the limits armed, so finalizers cannot hang it. */
void sandbox_state_close(lua_State *L);
/* The sandbox of L (any thread of it). */
struct sandbox *sandbox_of(lua_State *L);

/* Arm the limits for one call / disarm them. */
void sandbox_arm(struct sandbox *sb);
void sandbox_disarm(struct sandbox *sb);
/* Milliseconds left of the current call (0 if none or over). */
unsigned sandbox_ms_left(const struct sandbox *sb);

/* Push the environment plugins see (the state's global table). */
void sandbox_env_push(lua_State *L);

/* sandbox_patterns.c: replace find/match/gmatch/gsub of the table at
 * index idx with guarded versions. Raises on out of memory. */
void sandbox_guard_patterns(lua_State *L, int idx);

/* Milliseconds of CLOCK_MONOTONIC. */
uint64_t sandbox_now_ns(void);

#endif
