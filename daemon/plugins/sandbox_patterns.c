/*
 * sandbox_patterns.c - a cost bound for Lua's pattern functions.
 *
 * Lua's matcher (lstrlib.c) is C and backtracks: the count hook never
 * fires inside it, so ("a"):rep(40000):find("[^\n]*b") runs for seconds
 * whatever the plugin's limits. string.find, match, gmatch and gsub are
 * therefore wrapped: before calling the original, the worst-case number
 * of matcher steps is estimated and the call refused with an error when it
 * exceeds SANDBOX_PATTERN_BUDGET.
 *
 * The estimate: starting positions (1 if anchored with ^, the occurrences
 * of the first character if the pattern starts with a literal, else every
 * position) times (n+1) for each "wide" repeated item that is not the last
 * item of the pattern. Wide items are those that can run over ordinary
 * text: `.`, a complemented set `[^...]`, an upper-case class (%S, %D,
 * ...), and %b. Repeats of narrow items (%s*, %d+, [abc]-, x*) are not
 * counted: they are bounded by runs of those characters, which text rarely
 * has; docs/plugins.md states the rule.
 */
#include <ctype.h>
#include <stdbool.h>
#include <string.h>

#include <lauxlib.h>

#include "sandbox.h"

enum pattern_fn { PAT_FIND, PAT_MATCH, PAT_GMATCH, PAT_GSUB };

/* Index just past the set starting at p[i] == '['; *negated if [^. */
static size_t skip_set(const char *p, size_t lp, size_t i, bool *negated)
{
	i++;
	*negated = i < lp && p[i] == '^';
	if (*negated)
		i++;
	if (i < lp && p[i] == ']')   /* a leading ] is a member */
		i++;
	while (i < lp && p[i] != ']')
		i += p[i] == '%' ? 2 : 1;
	return i + 1;
}

/* True if only captures' parentheses and a final $ follow position i. */
static bool is_last_item(const char *p, size_t lp, size_t i)
{
	while (i < lp && (p[i] == ')' || p[i] == '('))
		i++;
	return i == lp || (p[i] == '$' && i + 1 == lp);
}

/* Parse one single-character class at p[i]; returns the index after it,
 * *wide set for classes that match most text, *literal (-1 if none) for a
 * plain character. */
static size_t scan_class(const char *p, size_t lp, size_t i, bool *wide, int *literal)
{
	bool negated;

	*wide = false;
	*literal = -1;
	if (p[i] == '.') {
		*wide = true;
		return i + 1;
	}
	if (p[i] == '[') {
		i = skip_set(p, lp, i, &negated);
		*wide = negated;
		return i;
	}
	if (p[i] == '%' && i + 1 < lp) {
		if (isalpha((unsigned char)p[i + 1]))
			*wide = isupper((unsigned char)p[i + 1]) != 0;
		else
			*literal = (unsigned char)p[i + 1];
		return i + 2;
	}
	*literal = (unsigned char)p[i];
	return i + 1;
}

/* Number of wide repeated items that are not last; *first_literal is the
 * first item's character if it is a literal matched at least once. */
static unsigned count_wide(const char *p, size_t lp, size_t i, int *first_literal)
{
	unsigned wide_repeats = 0;
	bool wide, first = true, negated;
	int literal;

	*first_literal = -1;
	while (i < lp) {
		if (p[i] == '(' || p[i] == ')') {
			i++;
			continue;
		}
		if (p[i] == '%' && i + 1 < lp && p[i + 1] == 'b') {
			i += 4;
			if (!is_last_item(p, lp, i))
				wide_repeats++;
			first = false;
			continue;
		}
		if (p[i] == '%' && i + 1 < lp && p[i + 1] == 'f') {
			i = i + 2 < lp && p[i + 2] == '[' ? skip_set(p, lp, i + 2, &negated) : i + 2;
			continue;
		}
		i = scan_class(p, lp, i, &wide, &literal);
		if (i < lp && strchr("*+-?", p[i])) {
			if (p[i] != '?' && wide && !is_last_item(p, lp, i + 1))
				wide_repeats++;
			if (first && p[i] == '+')
				*first_literal = literal;
			i++;
		} else if (first) {
			*first_literal = literal;
		}
		first = false;
	}
	return wide_repeats;
}

/* The estimated worst-case steps of matching p against s. */
static double pattern_cost(const char *s, size_t n, const char *p, size_t lp, bool can_anchor)
{
	int first_literal;
	unsigned wide, k;
	double starts, cost;
	const char *hit;
	size_t i = 0;

	if (can_anchor && lp > 0 && p[0] == '^')
		i = 1;
	wide = count_wide(p, lp, i, &first_literal);
	if (wide == 0)
		return 0;
	if (i == 1) {
		starts = 1;
	} else if (first_literal >= 0) {
		starts = 1;
		for (hit = memchr(s, first_literal, n); hit;
		     hit = memchr(hit + 1, first_literal, n - (size_t)(hit + 1 - s)))
			starts++;
	} else {
		starts = (double)n + 1;
	}
	cost = starts;
	for (k = 0; k < wide; k++)
		cost *= (double)n + 1;
	return cost;
}

static const char *const fn_names[] = { "find", "match", "gmatch", "gsub" };

/* The wrapper: upvalue 1 the original function, upvalue 2 its kind. */
static int guarded_pattern(lua_State *L)
{
	enum pattern_fn kind = (enum pattern_fn)lua_tointeger(L, lua_upvalueindex(2));
	size_t n, lp;
	const char *s = luaL_checklstring(L, 1, &n);
	const char *p = luaL_checklstring(L, 2, &lp);
	int nargs = lua_gettop(L);

	if (!(kind == PAT_FIND && lua_toboolean(L, 4)) &&
	    pattern_cost(s, n, p, lp, kind != PAT_GMATCH) > (double)SANDBOX_PATTERN_BUDGET)
		return luaL_error(L, "string.%s: pattern '%s' could take too long on %d bytes "
		                  "(see 'Patterns' in docs/plugins.md)", fn_names[kind], p, (int)n);
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	lua_call(L, nargs, LUA_MULTRET);
	return lua_gettop(L);
}

void sandbox_guard_patterns(lua_State *L, int idx)
{
	int k;

	idx = lua_absindex(L, idx);
	for (k = PAT_FIND; k <= PAT_GSUB; k++) {
		lua_getfield(L, idx, fn_names[k]);
		lua_pushinteger(L, k);
		lua_pushcclosure(L, guarded_pattern, 2);
		lua_setfield(L, idx, fn_names[k]);
	}
}
