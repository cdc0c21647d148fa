/*
 * test_plugins.c - the Lua plugin host: loading and validating plugins,
 * match and diagnose, config merge, every sandbox escape we know of, the
 * limits (instructions, wall clock, memory, pathological patterns), the
 * doctor.* bindings against real files, a fake interpreter layout and a
 * real listening socket, Lua detectors inside a real scanner with the
 * built-ins, reload, and `doctor plugin test`.
 *
 * Plugins are written to a temporary folder; everything runs in this
 * process, so LeakSanitizer checks that disabled plugins and scanners
 * that outlive a reload release everything.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <lauxlib.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"
#include "detect.h"
#include "linebuf.h"
#include "plugins/plugins.h"
#include "plugins/plugin_test.h"
#include "plugins/plugins_log.h"

static char tmp[64];
static char last_log[1024];

/* The host's logging hook: kept for checks and shown as diagnostics. */
void plugins_log(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_log, sizeof(last_log), fmt, ap);
	va_end(ap);
	tap_diag("log %d: %.300s", level, last_log);
}

/* ---- helpers */

static char *path_in(const char *dir, const char *name)
{
	char *p = NULL;

	if (asprintf(&p, "%s/%s", dir, name) < 0)
		abort();
	return p;
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char *p = path_in(dir, name);
	FILE *f = fopen(p, "w");

	if (!f || fputs(text, f) < 0 || fclose(f) != 0)
		abort();
	free(p);
}

static void make_dir(const char *dir, const char *name)
{
	char *p = path_in(dir, name);

	mkdir(p, 0755);
	free(p);
}

/* A host with small limits so that limit tests are quick. */
static plugin_host *new_host(void)
{
	struct plugin_limits lim = { 8u << 20, 5000000, 300 };
	plugin_host *h = NULL;

	if (plugin_host_new(&lim, &h) < 0)
		abort();
	return h;
}

/* Load name (in tmp) alone into a new host; *entry is its list entry. */
static plugin_host *load_alone(const char *name, json_t *config, json_t **entry)
{
	plugin_host *h = new_host();
	char *p = path_in(tmp, name);
	json_t *list;

	plugin_host_load_file(h, p, config);
	free(p);
	list = plugin_host_list(h);
	*entry = json_incref(json_array_get(list, 0));
	json_decref(list);
	return h;
}

static const char *field(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

static json_t *incident(const char *exception, const char *message, const char *cwd)
{
	return json_pack("{s:s, s:s, s:s, s:i, s:{s:s?, s:s, s:s}}", "detector", "python.traceback",
	                 "exception", exception, "message", message, "count", 1, "source",
	                 "cwd", cwd, "python", "/opt/py/bin/python3", "kind", "notebook");
}

/* Diagnose and return the array (new reference). */
static json_t *diagnose(plugin_host *h, json_t *inc)
{
	json_t *out = NULL;

	if (plugin_host_diagnose(h, inc, &out) < 0)
		return json_array();
	return out;
}

/* ---- a valid plugin */

static const char valid_plugin[] =
	"return {\n"
	"  name = 'test.valid', version = '1.0', description = 'a test',\n"
	"  config = { greeting = 'hi', nested = { a = 1, b = 2 } },\n"
	"  match = { exception = { 'ModuleNotFoundError', 'ImportError' }, detector = 'python.traceback' },\n"
	"  diagnose = function(incident, ctx)\n"
	"    local module = incident.message:match(\"named '([^'.]+)'\")\n"
	"    return { summary = ctx.config.greeting .. ctx.config.nested.a .. ctx.config.nested.b .. ' ' .. module,\n"
	"      explanation = 'x', confidence = 0.9, references = { 'https://example.org' },\n"
	"      remedies = {\n"
	"        { key = 'pip', title = 'Install', argv = { ctx.python, '-m', 'pip', 'install', module },\n"
	"          undo = 'pip', verify = { ctx.python, '-c', 'import ' .. module } },\n"
	"        { key = 'bad', title = 'empty argv', argv = {} },\n"
	"        { key = 'pip', title = 'duplicate key', argv = { 'x' } },\n"
	"        { key = 'safe', title = 'no change', argv = { 'true' }, changes_system = false, timeout = 2.5 },\n"
	"      } }\n"
	"  end,\n"
	"  tools = { v = { description = 'd', parameters = { type = 'object' }, run = function() end } },\n"
	"}\n";

static void test_valid(void)
{
	json_t *cfg = json_pack("{s:{s:{s:i}}}", "test.valid", "nested", "b", 3);
	json_t *entry, *inc, *out, *d, *r;
	plugin_host *h;

	write_file(tmp, "valid.lua", valid_plugin);
	h = load_alone("valid.lua", cfg, &entry);
	tap_is_str(field(entry, "state"), "enabled", "valid plugin loads");
	tap_is_str(field(entry, "name"), "test.valid", "its name is listed");
	tap_is_str(json_string_value(json_array_get(json_object_get(entry, "tools"), 0)), "v",
	           "its tools are listed");
	inc = incident("ModuleNotFoundError", "No module named 'cv2'", tmp);
	out = diagnose(h, inc);
	d = json_array_get(out, 0);
	tap_is_int(json_array_size(out), 1, "a matching incident is diagnosed");
	tap_is_str(field(d, "summary"), "hi13 cv2", "config merged over the defaults (nested)");
	tap_is_str(field(d, "plugin"), "test.valid", "diagnosis names the plugin");
	tap_is_int(json_array_size(json_object_get(d, "remedies")), 2,
	           "invalid and duplicate remedies are dropped");
	r = json_array_get(json_object_get(d, "remedies"), 0);
	tap_is_str(json_string_value(json_array_get(json_object_get(r, "argv"), 0)),
	           "/opt/py/bin/python3", "argv uses ctx.python");
	tap_ok(json_is_true(json_object_get(r, "changes_system")), "changes_system defaults to true");
	tap_ok(json_is_null(json_object_get(r, "timeout")), "timeout null when not given (the daemon's default)");
	tap_is_str(field(r, "undo"), "pip", "undo pip kept");
	tap_ok(json_is_null(json_object_get(r, "cwd")), "cwd null when not given");
	r = json_array_get(json_object_get(d, "remedies"), 1);
	tap_ok(json_is_false(json_object_get(r, "changes_system")) &&
	       json_integer_value(json_object_get(r, "timeout")) == 3 &&
	       json_is_null(json_object_get(r, "verify")) && json_is_null(json_object_get(r, "undo")),
	       "second remedy: changes_system false, timeout rounded up, verify/undo null");
	json_decref(out);
	json_decref(inc);
	inc = incident("KeyError", "'x'", tmp);
	out = diagnose(h, inc);
	tap_is_int(json_array_size(out), 0, "a non-matching incident is not diagnosed");
	json_decref(out);
	json_decref(inc);
	json_decref(entry);
	json_decref(cfg);
	plugin_host_free(h);
}

/* match by function and ordering by confidence, several plugins at once */
static void test_match_function_and_order(void)
{
	const char *dirs[1] = { tmp };
	plugin_host *h = new_host();
	json_t *inc, *out;
	char *dir = path_in(tmp, "multi");

	mkdir(dir, 0755);
	write_file(dir, "a.lua", "return { name = 'a', version = '1', match = function(i) "
	           "return i.message:find('cv2', 1, true) ~= nil end, diagnose = function() "
	           "return { summary = 'low', confidence = 0.3 } end }");
	write_file(dir, "b.lua", "return { name = 'b', version = '1', match = { exception = "
	           "'ModuleNotFoundError' }, diagnose = function() return { summary = 'high', "
	           "confidence = 0.95 } end }");
	write_file(dir, "c.lua", "return { name = 'c', version = '1', diagnose = function() "
	           "return nil end }");
	write_file(dir, "d.lua", "return { name = 'd', version = '1', diagnose = function() "
	           "return { summary = 'bad confidence', confidence = 7 } end }");
	dirs[0] = dir;
	plugin_host_load_dirs(h, dirs, 1, NULL);
	inc = incident("ModuleNotFoundError", "No module named 'cv2'", tmp);
	out = diagnose(h, inc);
	tap_is_int(json_array_size(out), 2, "two diagnoses (nil and invalid ones left out)");
	tap_is_str(field(json_array_get(out, 0), "summary"), "high", "highest confidence first");
	tap_is_str(field(json_array_get(out, 1), "summary"), "low", "match function accepted");
	json_decref(out);
	json_decref(inc);
	inc = incident("ModuleNotFoundError", "No module named 'numpy'", tmp);
	out = diagnose(h, inc);
	tap_is_int(json_array_size(out), 1, "match function refusing");
	json_decref(out);
	json_decref(inc);
	plugin_host_free(h);
	free(dir);
}

/* ---- broken plugins */

static int write_chunk(lua_State *L, const void *data, size_t len, void *ud)
{
	return fwrite(data, 1, len, ud) == len ? 0 : 1;
}

/* Write a precompiled chunk (what string.dump gives) to name. */
static void write_bytecode(const char *name)
{
	static const char src[] = "return { name = 'bc', version = '1' }";
	lua_State *L = luaL_newstate();
	char *p = path_in(tmp, name);
	FILE *f = fopen(p, "wb");

	if (!L || !f || luaL_loadbuffer(L, src, sizeof(src) - 1, "bc") != LUA_OK ||
	    lua_dump(L, write_chunk, f, 0) != 0)
		abort();
	lua_close(L);
	fclose(f);
	free(p);
}

/* Load name with text; check its state and that its error contains want. */
static void expect_load(const char *name, const char *text, const char *state, const char *want,
                        const char *what)
{
	json_t *entry;
	plugin_host *h;

	if (text)
		write_file(tmp, name, text);
	h = load_alone(name, NULL, &entry);
	if (!tap_ok(strcmp(field(entry, "state"), state) == 0 && strstr(field(entry, "error"), want),
	            "%s", what))
		tap_diag("state %s, error '%s', want '%s'", field(entry, "state"),
		         field(entry, "error"), want);
	json_decref(entry);
	plugin_host_free(h);
}

static void test_broken(void)
{
	expect_load("syntax.lua", "return { name = 'x', version = '1' ", "failed", "syntax.lua:1:",
	            "syntax error names the file and line");
	expect_load("number.lua", "return 42", "failed", "must return a table, got number",
	            "a non-table is refused");
	expect_load("noname.lua", "return { version = '1' }", "failed",
	            "field 'name': expected string, got nil", "a missing name is named");
	expect_load("badname.lua", "return { name = 'Bad Name', version = '1' }", "failed",
	            "[a-z0-9_.-]", "a bad name is refused");
	expect_load("baddet.lua", "return { name = 'x', version = '1', detect = { { name = 'd' } } }",
	            "failed", "field 'detect[1].line': expected function", "detector fields are named");
	expect_load("badmatch.lua", "return { name = 'x', version = '1', match = { exception = {} , "
	            "detector = function() end }, diagnose = function() end }", "failed", "match.",
	            "a bad match table is refused");
	expect_load("raise.lua", "error('boom at load')", "failed", "boom at load",
	            "an error while loading is reported");
	write_bytecode("bytecode.lua");
	expect_load("bytecode.lua", NULL, "failed", "binary chunk", "a precompiled chunk is refused");
	expect_load("missing.lua", NULL, "failed", "cannot read", "a missing file is reported");
}

/* diagnose raising disables only that plugin */
static void test_disable_keeps_others(void)
{
	char *dir = path_in(tmp, "disable");
	const char *dirs[1] = { dir };
	plugin_host *h = new_host();
	json_t *inc, *out, *list;

	mkdir(dir, 0755);
	write_file(dir, "a.lua", "return { name = 'raiser', version = '1', diagnose = function() "
	           "error('kaboom') end }");
	write_file(dir, "b.lua", "return { name = 'fine', version = '1', diagnose = function() "
	           "return { summary = 'ok' } end }");
	plugin_host_load_dirs(h, dirs, 1, NULL);
	inc = incident("X", "y", tmp);
	out = diagnose(h, inc);
	tap_ok(json_array_size(out) == 1 && !strcmp(field(json_array_get(out, 0), "plugin"), "fine"),
	       "a raising plugin does not stop the others");
	json_decref(out);
	list = plugin_host_list(h);
	tap_is_str(field(json_array_get(list, 0), "state"), "disabled", "the raising plugin is disabled");
	tap_ok(strstr(field(json_array_get(list, 0), "error"), "kaboom") &&
	       strstr(field(json_array_get(list, 0), "error"), "traceback"),
	       "its error is kept, with a traceback");
	json_decref(list);
	out = diagnose(h, inc);
	tap_is_int(json_array_size(out), 1, "the host keeps working afterwards");
	json_decref(out);
	json_decref(inc);
	plugin_host_free(h);
	free(dir);
}

/* ---- the sandbox */

static const char escapes_plugin[] =
	"local attempts = {\n"
	"  io_open = function() return io.open('/etc/passwd') end,\n"
	"  os_execute = function() return os.execute('true') end,\n"
	"  os_getenv = function() return os.getenv('HOME') end,\n"
	"  os_remove = function() return os.remove('/tmp/x') end,\n"
	"  os_exit = function() return os.exit(1) end,\n"
	"  package_loadlib = function() return package.loadlib('libc.so.6', 'system') end,\n"
	"  require = function() return require('io') end,\n"
	"  load = function() return load('return 1')() end,\n"
	"  loadstring = function() return loadstring('return 1')() end,\n"
	"  dofile = function() return dofile('/etc/passwd') end,\n"
	"  loadfile = function() return loadfile('/etc/passwd') end,\n"
	"  debug_getregistry = function() return debug.getregistry() end,\n"
	"  string_dump = function() return string.dump(function() end) end,\n"
	"  method_dump = function() return (''):dump() end,\n"
	"  collectgarbage = function() return collectgarbage('count') end,\n"
	"  string_mt = function() local mt = getmetatable(''); mt.__index = {} end,\n"
	"  set_string_mt = function() setmetatable('', {}) end,\n"
	"  string_index_write = function() local s = 'x'; s.upper = 1 end,\n"
	"  global_io = function() return assert(rawget(_G, 'io') or rawget(_G, 'package') or rawget(_G, 'debug')) end,\n"
	"  gc_metamethod = function() setmetatable({}, { __gc = function() end }) end,\n"
	"  print = function() print('x') end,\n"
	"}\n"
	"return { name = 'escapes', version = '1', diagnose = function()\n"
	"  local escaped = {}\n"
	"  for name, f in pairs(attempts) do if pcall(f) then escaped[#escaped + 1] = name end end\n"
	"  table.sort(escaped)\n"
	"  string.upper = nil; string.rep = nil\n"
	"  local intact = ('ab'):upper() == 'AB' and ('x'):rep(2) == 'xx'\n"
	"  local ok = getmetatable('') == nil and _G._G == _G and os.time() > 0 and\n"
	"             type(os.clock()) == 'number' and type(os.date('%Y')) == 'string' and\n"
	"             utf8.char(72) == 'H' and math.max(1, 2) == 2 and coroutine.wrap(function() coroutine.yield(5) end)() == 5\n"
	"  return { summary = 'escaped:' .. table.concat(escaped, ',') .. ' intact:' ..\n"
	"           tostring(intact) .. ' ok:' .. tostring(ok) }\n"
	"end }\n";

static void test_escapes(void)
{
	json_t *entry, *inc = incident("X", "y", tmp), *out;
	plugin_host *h;

	write_file(tmp, "escapes.lua", escapes_plugin);
	h = load_alone("escapes.lua", NULL, &entry);
	out = diagnose(h, inc);
	tap_is_str(field(json_array_get(out, 0), "summary"), "escaped: intact:true ok:true",
	           "no escape works; method table intact; allowed libraries work");
	json_decref(out);
	json_decref(entry);
	json_decref(inc);
	plugin_host_free(h);
}

/* name's diagnose must be stopped with an error containing want, within
 * max_ms, and the plugin disabled. */
static void expect_stopped(const char *name, const char *body, const char *want, long max_ms)
{
	json_t *entry, *inc = incident("X", "y", tmp), *out, *list;
	struct timespec t0, t1;
	plugin_host *h;
	char *text;
	long ms;

	if (asprintf(&text, "return { name = 'limit', version = '1', diagnose = function() %s "
	             "return { summary = 'escaped the limit' } end }", body) < 0)
		abort();
	write_file(tmp, name, text);
	free(text);
	h = load_alone(name, NULL, &entry);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	out = diagnose(h, inc);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	list = plugin_host_list(h);
	if (!tap_ok(json_array_size(out) == 0 && strstr(field(json_array_get(list, 0), "error"), want)
	            && !strcmp(field(json_array_get(list, 0), "state"), "disabled") && ms <= max_ms,
	            "%s is stopped (%s) in %ld ms", name, want, ms))
		tap_diag("error: %s", field(json_array_get(list, 0), "error"));
	json_decref(list);
	json_decref(out);
	json_decref(entry);
	json_decref(inc);
	plugin_host_free(h);
}

/* A result shared as a DAG (t = {t, t}, 24 times) or one big string
 * referenced everywhere is refused by size, quickly, not expanded. */
static void expect_result_refused(const char *name, const char *build)
{
	json_t *entry, *inc = incident("X", "y", tmp), *out;
	struct timespec t0, t1;
	plugin_host *h;
	char *text;
	long ms;

	if (asprintf(&text, "return { name = 'big', version = '1', diagnose = function() %s "
	             "return { summary = 'big', explanation = 'x', references = { t } } end }",
	             build) < 0)
		abort();
	write_file(tmp, name, text);
	free(text);
	h = load_alone(name, NULL, &entry);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	out = diagnose(h, inc);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	tap_ok(json_array_size(out) == 0 && ms < 2000, "%s: a huge result is refused in %ld ms",
	       name, ms);
	json_decref(out);
	json_decref(entry);
	json_decref(inc);
	plugin_host_free(h);
}

static void test_limits(void)
{
	expect_result_refused("dag.lua", "local t = {} for i = 1, 24 do t = { t, t } end");
	expect_result_refused("strs.lua", "local s = string.rep('x', 1 << 20) local t = {} "
	                      "for i = 1, 1500 do t[i] = s end");
	expect_stopped("loop.lua", "while true do end", "limit exceeded", 2000);
	expect_stopped("pcall_loop.lua", "while true do pcall(function() while true do end end) end",
	               "limit exceeded", 2000);
	expect_stopped("xpcall_loop.lua", "while true do xpcall(function() while true do end end, "
	               "function(e) while true do end end) end", "limit", 3000);
	expect_stopped("coroutine_loop.lua", "local co = coroutine.create(function() while true do "
	               "end end) while true do coroutine.resume(co) co = coroutine.create("
	               "function() while true do end end) end", "limit exceeded", 2000);
	expect_stopped("wrap_loop.lua", "while true do pcall(coroutine.wrap(function() while true "
	               "do end end)) end", "limit exceeded", 2000);
	/* fresh coroutines start with a fresh hook counter: a tree of short
	 * ones must still be charged */
	expect_stopped("coroutine_tree.lua", "local function spawn(d) if d > 0 then for i = 1, 40 "
	               "do coroutine.wrap(spawn)(d - 1) end end end spawn(6)", "limit exceeded", 2000);
	expect_stopped("slow.lua", "local t = {} for i = 1, 1e9 do t[i % 10] = os.clock() end",
	               "limit exceeded", 2000);
	expect_stopped("rep_bomb.lua", "local s = string.rep('x', 1 << 30)", "not enough memory", 3000);
	expect_stopped("table_bomb.lua", "local t = {} local s = ('x'):rep(1 << 16) "
	               "for i = 1, 1e6 do t[i] = s .. i end", "not enough memory", 3000);
	expect_stopped("concat_bomb.lua", "local s = 'x' while true do s = s .. s end",
	               "memory", 3000);
	expect_stopped("pattern.lua", "local s = ('a'):rep(40000) s:find('[^\\n]*b')",
	               "could take too long", 500);
	expect_stopped("pattern2.lua", "local s = ('a'):rep(2000) string.match(s, '.-.-b')",
	               "could take too long", 500);
	expect_stopped("gmatch.lua", "for x in (('a'):rep(50000)):gmatch('.-b') do end",
	               "could take too long", 500);
}

/* ordinary patterns on ordinary text still work */
static void test_patterns_allowed(void)
{
	json_t *entry, *inc = incident("X", "y", tmp), *out;
	plugin_host *h;

	write_file(tmp, "patterns.lua",
	           "return { name = 'patterns', version = '1', diagnose = function()\n"
	           "  local text = ('line of text\\n'):rep(4000) .. 'version = \"1.2\"\\n'\n"
	           "  local n = 0 for l in text:gmatch('[^\\n]+') do n = n + 1 end\n"
	           "  local v = text:match('version%s*=%s*\"([^\"]+)\"')\n"
	           "  local m = ('No module named \\'cv2\\''):match(\"named '([^'.]+)'\")\n"
	           "  local k, val = ('key = value'):match('^(%S+)%s*=%s*(.-)$')\n"
	           "  return { summary = n .. ' ' .. v .. ' ' .. m .. ' ' .. k .. '=' .. val .. ' ' ..\n"
	           "    select(2, text:gsub('text', 'x')) } end }\n");
	h = load_alone("patterns.lua", NULL, &entry);
	out = diagnose(h, inc);
	tap_is_str(field(json_array_get(out, 0), "summary"), "4001 1.2 cv2 key=value 4000",
	           "ordinary patterns are allowed");
	json_decref(out);
	json_decref(entry);
	json_decref(inc);
	plugin_host_free(h);
}

/* ---- the doctor.* bindings */

static const char api_plugin[] =
	"return { name = 'api', version = '1', diagnose = function(incident, ctx)\n"
	"  local r = {}\n"
	"  r.read = doctor.read_file('ok.txt')\n"
	"  r.read_cut = doctor.read_file('ok.txt', 2)\n"
	"  r.read_abs = doctor.read_file(ctx.cwd .. '/ok.txt')\n"
	"  r.read_sub = doctor.read_file('sub/../ok.txt')\n"
	"  local _, e1 = doctor.read_file('../outside.txt'); r.dotdot = e1\n"
	"  local _, e2 = doctor.read_file('/etc/passwd'); r.absolute = e2\n"
	"  local _, e3 = doctor.read_file('escape'); r.symlink = e3\n"
	"  local _, e4 = doctor.read_file('sub'); r.notfile = e4\n"
	"  r.exists = doctor.file_exists('ok.txt'); r.exists_out = doctor.file_exists('/etc/passwd')\n"
	"  r.list = doctor.list_dir('.')\n"
	"  local _, e5 = doctor.list_dir('..'); r.list_out = e5\n"
	"  r.info = doctor.python_info(ctx.python)\n"
	"  r.dists = doctor.python_distributions(ctx.python)\n"
	"  r.owner = { doctor.module_owner(ctx.python, 'fakemod') }\n"
	"  r.no_owner = doctor.module_owner(ctx.python, 'nosuchmodule') == nil\n"
	"  r.norm = doctor.normalize_dist('Foo_Bar.baz')\n"
	"  r.which = doctor.which('sh')\n"
	"  r.no_which = doctor.which('no-such-command-here') == nil\n"
	"  r.port = doctor.port_owner(tonumber(incident.extra.port))\n"
	"  r.disk = doctor.disk_usage('.')\n"
	"  r.largest = doctor.largest_dirs('.', 2)\n"
	"  local v = { a = { 1, 2, 3 }, b = 'x', c = true, d = 1.5 }\n"
	"  local back = doctor.json_decode(doctor.json_encode(v))\n"
	"  r.json = back.a[3] == 3 and back.b == 'x' and back.c == true and back.d == 1.5\n"
	"  local _, je = doctor.json_encode({ f = function() end }); r.json_err = je\n"
	"  local _, de = doctor.json_decode('{bad'); r.json_bad = de\n"
	"  doctor.log('info', 'hello from the plugin')\n"
	"  return { summary = doctor.json_encode(r) }\n"
	"end }\n";

/* A fake venv: env/bin/python3, env/pyvenv.cfg, one dist-info. */
static void make_fake_venv(const char *dir)
{
	char *site;

	make_dir(dir, "env");
	make_dir(dir, "env/bin");
	make_dir(dir, "env/lib");
	make_dir(dir, "env/lib/python3.11");
	make_dir(dir, "env/lib/python3.11/site-packages");
	make_dir(dir, "env/lib/python3.11/site-packages/fake_dist-1.2.3.dist-info");
	write_file(dir, "env/bin/python3", "");
	write_file(dir, "env/pyvenv.cfg", "home = /usr/bin\nversion = 3.11.2\n");
	site = path_in(dir, "env/lib/python3.11/site-packages/fake_dist-1.2.3.dist-info");
	write_file(site, "METADATA", "Metadata-Version: 2.1\nName: fake-dist\nVersion: 1.2.3\n");
	write_file(site, "top_level.txt", "fakemod\n");
	free(site);
}

/* A TCP socket listening on 127.0.0.1, its port in *port. */
static int listen_socket(int *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 1) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
		return -1;
	*port = ntohs(sa.sin_port);
	return fd;
}

static void check_api_results(const json_t *r, const char *proj)
{
	char *python = path_in(proj, "env/bin/python3"), *venv = path_in(proj, "env");
	const json_t *port = json_object_get(r, "port"), *dist;

	tap_is_str(field(r, "read"), "hello", "read_file reads under the cwd");
	tap_is_str(field(r, "read_cut"), "he", "read_file honours max_bytes");
	tap_is_str(field(r, "read_abs"), "hello", "read_file takes an absolute path under the cwd");
	tap_is_str(field(r, "read_sub"), "hello", "read_file resolves .. inside the cwd");
	tap_ok(strstr(field(r, "dotdot"), "outside the working directory") != NULL, "read_file refuses ..");
	tap_ok(strstr(field(r, "absolute"), "outside") != NULL, "read_file refuses an absolute path outside");
	tap_ok(strstr(field(r, "symlink"), "outside") != NULL, "read_file refuses a symlink escaping");
	tap_ok(strstr(field(r, "notfile"), "not a regular file") != NULL, "read_file refuses a folder");
	tap_ok(json_is_true(json_object_get(r, "exists")) &&
	       json_is_false(json_object_get(r, "exists_out")), "file_exists is confined");
	tap_ok(json_array_size(json_object_get(r, "list")) == 5 &&
	       !strcmp(json_string_value(json_array_get(json_object_get(r, "list"), 0)), "big"),
	       "list_dir lists sorted names");
	tap_ok(strstr(field(r, "list_out"), "outside") != NULL, "list_dir is confined");
	tap_is_str(field(json_object_get(r, "info"), "virtualenv"), venv, "python_info finds the venv");
	tap_is_str(field(json_object_get(r, "info"), "version"), "3.11", "python_info reads the version");
	dist = json_array_get(json_object_get(r, "dists"), 0);
	tap_ok(!strcmp(field(dist, "name"), "fake-dist") && !strcmp(field(dist, "version"), "1.2.3"),
	       "python_distributions lists the dist-info");
	tap_ok(!strcmp(json_string_value(json_array_get(json_object_get(r, "owner"), 0)) ?: "", "fake-dist") &&
	       !strcmp(json_string_value(json_array_get(json_object_get(r, "owner"), 1)) ?: "", "1.2.3"),
	       "module_owner gives dist and version");
	tap_ok(json_is_true(json_object_get(r, "no_owner")), "module_owner gives nil for an unknown module");
	tap_is_str(field(r, "norm"), "foo-bar-baz", "normalize_dist");
	tap_ok(field(r, "which")[0] == '/' && json_is_true(json_object_get(r, "no_which")), "which");
	tap_is_int(json_integer_value(json_object_get(port, "pid")), getpid(), "port_owner finds our pid");
	tap_ok(*field(port, "command") && *field(port, "user"), "port_owner names command and user");
	tap_ok(json_integer_value(json_object_get(json_object_get(r, "disk"), "total")) > 0,
	       "disk_usage gives a total");
	if (!tap_ok(strstr(field(json_array_get(json_object_get(r, "largest"), 0), "path"), "/big") != NULL,
	            "largest_dirs puts the biggest folder first"))
		tap_diag("largest_dirs gave %" JSON_INTEGER_FORMAT " bytes first",
		         json_integer_value(json_object_get(json_array_get(json_object_get(r, "largest"), 0), "bytes")));
	tap_ok(json_is_true(json_object_get(r, "json")), "json round trip");
	tap_ok(strstr(field(r, "json_err"), "function") && strstr(field(r, "json_bad"), "json"),
	       "json errors are returned");
	tap_ok(strstr(last_log, "hello from the plugin") != NULL, "doctor.log reaches the log hook");
	free(python);
	free(venv);
}

static void test_api(void)
{
	char *proj = path_in(tmp, "proj"), *python, *big, *escape, *buf = calloc(1, 256 << 10);
	json_t *entry, *inc, *out, *r = NULL;
	int port = 0, fd = listen_socket(&port);
	plugin_host *h;
	char *real;

	mkdir(proj, 0755);
	write_file(tmp, "outside.txt", "secret");
	write_file(proj, "ok.txt", "hello");
	make_dir(proj, "sub");
	make_dir(proj, "big");
	big = path_in(proj, "big/data");
	memset(buf, 'x', (256 << 10) - 1);
	write_file(proj, "big/data", buf);
	free(buf);
	escape = path_in(proj, "escape");
	symlink("/etc/passwd", escape);
	make_fake_venv(proj);
	write_file(tmp, "api.lua", api_plugin);
	h = load_alone("api.lua", NULL, &entry);
	real = realpath(proj, NULL);
	python = path_in(real, "env/bin/python3");
	inc = json_pack("{s:s, s:s, s:{s:i}, s:{s:s, s:s}}", "exception", "X", "message", "y",
	                "extra", "port", port, "source", "cwd", real, "python", python);
	out = diagnose(h, inc);
	if (json_array_size(out))
		r = json_loads(field(json_array_get(out, 0), "summary"), 0, NULL);
	if (!tap_ok(r != NULL, "the api plugin ran"))
		tap_diag("%s", last_log);
	check_api_results(r ? r : json_object(), real);
	json_decref(r);
	json_decref(out);
	json_decref(inc);
	/* no cwd known: file access refused */
	write_file(tmp, "nocwd.lua", "return { name = 'nocwd', version = '1', diagnose = function() "
	           "local _, e = doctor.read_file('ok.txt') return { summary = e } end }");
	plugin_host_free(h);
	json_decref(entry);
	h = load_alone("nocwd.lua", NULL, &entry);
	inc = json_pack("{s:s, s:{}}", "exception", "X", "source");
	out = diagnose(h, inc);
	tap_ok(strstr(field(json_array_get(out, 0), "summary"), "no working directory") != NULL,
	       "read_file is refused when no cwd is known");
	json_decref(out);
	json_decref(inc);
	json_decref(entry);
	plugin_host_free(h);
	close(fd);
	free(real);
	free(python);
	free(big);
	free(escape);
	free(proj);
}

/* ---- Lua detectors in a real scanner */

static const char detect_plugin[] =
	"return { name = 'store', version = '1', detect = {\n"
	"  { name = 'full', line = function(state, text)\n"
	"      if text:find('OBJECT STORE FULL', 1, true) then\n"
	"        return { exception = 'ObjectStoreFull', message = text, extra = { node = 'n1' } }\n"
	"      end end },\n"
	"  { name = 'block', line = function(state, text)\n"
	"      if text == 'BEGIN' then state.lines = {} return true end\n"
	"      if state.lines then\n"
	"        if text == 'END' then local n = #state.lines; state.lines = nil\n"
	"          return { exception = 'Block', message = n .. ' lines' } end\n"
	"        state.lines[#state.lines + 1] = text return true end end,\n"
	"    flush = function(state) if state.lines then local n = #state.lines; state.lines = nil\n"
	"      return { exception = 'Block', message = 'unfinished ' .. n } end end },\n"
	"  { name = 'raiser', line = function(state, text) if text == 'RAISE' then error('detector bug') end end },\n"
	"} }\n";

struct errors {
	json_t *list;
	dr_scanner *s;
};

static void collect(void *ud, dr_error *e)
{
	struct errors *c = ud;

	json_array_append_new(c->list, dr_error_to_json(e));
	dr_error_free(e);
}

static void feed_line(void *ud, const dr_line *line)
{
	struct errors *c = ud;

	dr_scanner_line(c->s, line, collect, c);
}

/* Feed text and flush, as a source that goes quiet. */
static void feed(struct errors *c, const char *text)
{
	dr_linebuf lb;

	dr_linebuf_init(&lb, 0);
	dr_linebuf_feed(&lb, text, strlen(text), feed_line, c);
	dr_linebuf_free(&lb);
	dr_scanner_flush(c->s, collect, c);
}

static const char *err_field(struct errors *c, size_t i, const char *key)
{
	return field(json_array_get(c->list, i), key);
}

static void test_detectors(void)
{
	char *dir = path_in(tmp, "det");
	const char *dirs[1] = { dir };
	struct errors c = { json_array(), NULL };
	plugin_host *h = new_host();
	json_t *list;

	mkdir(dir, 0755);
	write_file(dir, "store.lua", detect_plugin);
	dr_registry_clear();
	dr_registry_add_builtins();
	plugin_host_load_dirs(h, dirs, 1, NULL);
	tap_is_int(plugin_host_register_detectors(h), 0, "detectors registered");
	tap_is_int(plugin_host_register_detectors(h), 0, "registering again is harmless");
	c.s = dr_scanner_new();
	feed(&c, "Traceback (most recent call last):\n  File \"a.py\", line 1, in <module>\n"
	     "ModuleNotFoundError: No module named 'cv2'\n"
	     "ray: OBJECT STORE FULL on node\nBEGIN\na\nb\nEND\nBEGIN\nx\n");
	tap_is_int(json_array_size(c.list), 4, "built-in and Lua detectors both emit");
	tap_is_str(err_field(&c, 0, "detector"), "python.traceback", "the built-in traceback first");
	tap_ok(!strcmp(err_field(&c, 1, "detector"), "store.full") &&
	       !strcmp(err_field(&c, 1, "exception"), "ObjectStoreFull") &&
	       !strcmp(field(json_object_get(json_array_get(c.list, 1), "extra"), "node"), "n1"),
	       "Lua detector error: name, exception, extra");
	tap_ok(!strcmp(err_field(&c, 2, "message"), "2 lines"), "state table kept across lines");
	tap_ok(!strcmp(err_field(&c, 3, "message"), "unfinished 1"), "flush emits the pending error");
	json_array_clear(c.list);
	feed(&c, "RAISE\nOBJECT STORE FULL\nbash: foo: command not found\n");
	tap_is_int(json_array_size(c.list), 1, "after a detector raises its plugin passes everything");
	tap_is_str(err_field(&c, 0, "detector"), "shell.command_not_found", "built-ins still work");
	list = plugin_host_list(h);
	tap_is_str(field(json_array_get(list, 0), "state"), "disabled", "the plugin is disabled");
	json_decref(list);
	/* reload: a scanner made before keeps its instances and may outlive the host */
	write_file(dir, "store.lua", detect_plugin);
	tap_is_int(plugin_host_reload(h, dirs, 1, NULL), 0, "reload");
	list = plugin_host_list(h);
	tap_is_str(field(json_array_get(list, 0), "state"), "enabled", "enabled again after reload");
	json_decref(list);
	json_array_clear(c.list);
	feed(&c, "OBJECT STORE FULL\n");
	tap_is_int(json_array_size(c.list), 0, "an old scanner's instance of a dropped plugin passes");
	dr_scanner_free(c.s);
	c.s = dr_scanner_new();
	feed(&c, "OBJECT STORE FULL\n");
	tap_is_int(json_array_size(c.list), 1, "a new scanner gets the reloaded detectors");
	plugin_host_free(h);
	feed(&c, "more output after the host is gone\n");
	dr_scanner_free(c.s);
	dr_registry_clear();
	json_decref(c.list);
	free(dir);
}

/* user folders override shipped plugins */
static void test_override(void)
{
	char *a = path_in(tmp, "shipped"), *b = path_in(tmp, "user");
	const char *dirs[3] = { a, "/nonexistent/doctor/plugins", b };
	plugin_host *h = new_host();
	json_t *list;

	mkdir(a, 0755);
	mkdir(b, 0755);
	write_file(a, "p.lua", "return { name = 'same', version = '1' }");
	write_file(b, "q.lua", "return { name = 'same', version = '2' }");
	tap_is_int(plugin_host_load_dirs(h, dirs, 3, NULL), 0, "missing folders are skipped");
	list = plugin_host_list(h);
	tap_ok(json_array_size(list) == 1 && !strcmp(field(json_array_get(list, 0), "version"), "2"),
	       "a later plugin of the same name replaces the earlier");
	json_decref(list);
	plugin_host_free(h);
	free(a);
	free(b);
}

/* ---- doctor plugin test */

static int run_plugin_test(const char *cases, char *out, size_t len)
{
	char *plugin = path_in(tmp, "valid.lua");
	FILE *f = tmpfile();
	size_t n;
	int rc;

	rc = plugin_test_run(plugin, cases, f);
	rewind(f);
	n = fread(out, 1, len - 1, f);
	out[n] = '\0';
	fclose(f);
	free(plugin);
	return rc;
}

static void test_plugin_test(void)
{
	char *cases = path_in(tmp, "cases"), *c1, *c2, *c3, out[4096];
	static const char tb[] = "Traceback (most recent call last):\n"
		"  File \"nb.py\", line 1, in <module>\n"
		"ModuleNotFoundError: No module named 'cv2'\n";

	mkdir(cases, 0755);
	make_dir(cases, "1-missing");
	make_dir(cases, "2-other");
	c1 = path_in(cases, "1-missing");
	c2 = path_in(cases, "2-other");
	make_dir(c1, "files");
	make_fake_venv(c1);
	write_file(c1, "input", tb);
	write_file(c1, "context.json", "{\"cwd\": \"files\", \"python\": \"env/bin/python3\"}");
	write_file(c1, "expected", "{\"summary\": {\"contains\": \"cv2\"}, \"confidence\": 0.9,"
	           " \"remedies\": [{\"key\": \"pip\", \"argv\": [\"$PYTHON\", \"-m\", \"pip\","
	           " \"install\", \"cv2\"]}, {\"key\": \"safe\"}]}");
	write_file(c2, "input", "KeyError: 'x'\nplain output\n");
	write_file(c2, "expected", "null");
	tap_is_int(run_plugin_test(cases, out, sizeof(out)), 0, "plugin test: passing cases pass");
	tap_ok(strstr(out, "1..2\nok 1 - 1-missing\nok 2 - 2-other\n") != NULL, "plugin test: TAP");
	if (!strstr(out, "ok 2"))
		tap_diag("%s", out);
	make_dir(cases, "3-wrong");
	c3 = path_in(cases, "3-wrong");
	write_file(c3, "input", tb);
	write_file(c3, "context.json", "{\"python\": \"/usr/bin/python3\"}");
	write_file(c3, "expected", "{\"summary\": \"something else\"}");
	tap_is_int(run_plugin_test(cases, out, sizeof(out)), 1, "plugin test: a failing case fails");
	if (!tap_ok(strstr(out, "not ok 3 - 3-wrong\n# first difference at: summary") &&
	            strstr(out, "# got: "), "plugin test: the difference is shown"))
		tap_diag("%s", out);
	{
		/* its "Bail out!" must not reach our own TAP stream */
		FILE *sink = tmpfile();
		tap_ok(sink && plugin_test_run("/nonexistent.lua", cases, sink) < 0,
		       "plugin test: a plugin that does not load bails out");
		if (sink)
			fclose(sink);
	}
	free(c1);
	free(c2);
	free(c3);
	free(cases);
}

/* ---- tools exported to the agent */

static const char tools_plugin[] =
	"return {\n"
	"  name = 'test.tools', version = '1', config = { greeting = 'hello' },\n"
	"  tools = {\n"
	"    greet = { description = 'Greets someone',\n"
	"      parameters = { type = 'object', properties = { who = { type = 'string' } },\n"
	"                     required = { 'who' } },\n"
	"      run = function(args, ctx)\n"
	"        return ctx.config.greeting .. ', ' .. args.who .. ' in ' .. tostring(ctx.cwd)\n"
	"      end },\n"
	"    project_files = { description = 'Lists the project',\n"
	"      run = function(args, ctx)\n"
	"        local outside = doctor.read_file('/etc/hostname')\n"
	"        return { cwd = ctx.cwd, python = ctx.python, files = doctor.list_dir('.'),\n"
	"                 outside = outside == nil, nargs = #args }\n"
	"      end },\n"
	"  },\n"
	"}\n";

static const char bad_tools_plugin[] =
	"return {\n"
	"  name = 'test.bad-tools', version = '1',\n"
	"  tools = {\n"
	"    weird = { description = 'returns a function', run = function() return { f = function() end } end },\n"
	"    fails = { description = 'raises', run = function() error('tool kaboom') end },\n"
	"  },\n"
	"}\n";

static const char spin_tools_plugin[] =
	"return {\n"
	"  name = 'test.spin', version = '1',\n"
	"  tools = { spin = { description = 'loops', run = function() while true do end end } },\n"
	"}\n";

/* The spec named name in specs, or NULL. */
static json_t *spec_named(json_t *specs, const char *name)
{
	json_t *s;
	size_t i;

	json_array_foreach(specs, i, s)
		if (!strcmp(field(json_object_get(s, "function"), "name"), name))
			return json_object_get(s, "function");
	return NULL;
}

static const char *state_of(plugin_host *h, const char *name)
{
	static char state[32];
	json_t *list = plugin_host_list(h), *p;
	size_t i;

	state[0] = '\0';
	json_array_foreach(list, i, p)
		if (!strcmp(field(p, "name"), name))
			snprintf(state, sizeof(state), "%s", field(p, "state"));
	json_decref(list);
	return state;
}

static void test_tools(void)
{
	char *dir = path_in(tmp, "tools"), *res = NULL, *longname = NULL;
	const char *dirs[1] = { dir };
	plugin_host *h = new_host();
	json_t *specs, *f, *args, *ctx, *v;
	struct timespec t0, t1;
	long ms;
	int rc;

	mkdir(dir, 0755);
	write_file(dir, "a.lua", tools_plugin);
	write_file(dir, "b.lua", bad_tools_plugin);
	write_file(dir, "c.lua", spin_tools_plugin);
	if (asprintf(&longname, "return { name = 'test.%s', version = '1', tools = { x = { "
	             "description = 'd', run = function() return 1 end } } }",
	             "a-very-long-plugin-name-that-goes-on-and-on-and-on-and-on") < 0)
		abort();
	write_file(dir, "d.lua", longname);
	free(longname);
	plugin_host_load_dirs(h, dirs, 1, NULL);

	specs = plugin_host_tool_specs(h);
	tap_is_int(json_array_size(specs), 6, "tool specs: every tool of every enabled plugin");
	f = spec_named(specs, "test_tools__greet");
	tap_ok(f && !strcmp(field(f, "description"), "[plugin test.tools] Greets someone") &&
	       !strcmp(field(json_object_get(f, "parameters"), "type"), "object") &&
	       json_is_object(json_object_get(json_object_get(json_object_get(f, "parameters"),
	                                                      "properties"), "who")) &&
	       json_array_size(json_object_get(json_object_get(f, "parameters"), "required")) == 1,
	       "greet: the name <plugin>__<tool> with '.' made '_', description, parameters");
	f = spec_named(specs, "test_tools__project_files");
	v = json_pack("{s:s, s:{}}", "type", "object", "properties");
	tap_ok(f && json_equal(json_object_get(f, "parameters"), v),
	       "no parameters: {type: object, properties: {}}");
	json_decref(v);
	tap_ok(spec_named(specs, "test_bad-tools__fails") && spec_named(specs, "test_spin__spin"),
	       "'-' is kept in names");
	{
		json_t *s;
		size_t i;
		const char *name = NULL;
		json_array_foreach(specs, i, s)
			if (strstr(field(json_object_get(s, "function"), "name"), "very-long"))
				name = field(json_object_get(s, "function"), "name");
		tap_ok(name && strlen(name) == 64 && strspn(name, "abcdefghijklmnopqrstuvwxyz"
		       "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == 64 && name[55] == '_',
		       "a long name is cut to 64 characters, ending in a hash (%s)", name ? name : "");
		tap_ok(name && plugin_host_call_tool(h, name, NULL, NULL, &res) == 0 && res &&
		       !strcmp(res, "1"), "the long name can be called; a number comes back as JSON");
		free(res);
	}
	json_decref(specs);

	args = json_pack("{s:s}", "who", "ana");
	ctx = json_pack("{s:s, s:s, s:n}", "cwd", dir, "python", "/opt/py/bin/python3",
	                "virtualenv");
	rc = plugin_host_call_tool(h, "test_tools__greet", args, ctx, &res);
	{
		char *want = NULL;
		if (asprintf(&want, "hello, ana in %s", dir) < 0)
			abort();
		tap_ok(rc == 0 && res && !strcmp(res, want), "a call with args and ctx: a string result");
		free(want);
	}
	free(res);
	rc = plugin_host_call_tool(h, "test_tools__project_files", NULL, ctx, &res);
	v = res ? json_loads(res, 0, NULL) : NULL;
	tap_ok(rc == 0 && v && !strcmp(field(v, "cwd"), dir) &&
	       !strcmp(field(v, "python"), "/opt/py/bin/python3") &&
	       json_array_size(json_object_get(v, "files")) == 4 &&
	       json_is_true(json_object_get(v, "outside")) &&
	       json_integer_value(json_object_get(v, "nargs")) == 0,
	       "a table result as JSON; doctor.* confined to ctx.cwd; no args: {}");
	if (res && !v)
		tap_diag("result: %s", res);
	json_decref(v);
	free(res);
	tap_is_int(plugin_host_call_tool(h, "test_tools__nope", args, ctx, &res), -ENOENT,
	           "an unknown tool: -ENOENT");
	tap_ok(res == NULL, "no result on failure");

	tap_is_int(plugin_host_call_tool(h, "test_bad-tools__weird", NULL, ctx, &res), -EINVAL,
	           "a result that cannot be JSON: -EINVAL");
	tap_is_str(state_of(h, "test.bad-tools"), "enabled", "... and the plugin stays enabled");
	tap_is_int(plugin_host_call_tool(h, "test_bad-tools__fails", NULL, ctx, &res), -EIO,
	           "a tool that raises: -EIO");
	tap_is_str(state_of(h, "test.bad-tools"), "disabled", "... and its plugin is disabled");
	tap_ok(strstr(last_log, "tool kaboom") != NULL, "the error is logged");
	tap_is_int(plugin_host_call_tool(h, "test_bad-tools__weird", NULL, ctx, &res), -ENOENT,
	           "a disabled plugin's tools are gone");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = plugin_host_call_tool(h, "test_spin__spin", NULL, ctx, &res);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	tap_ok(rc == -ETIMEDOUT && ms < 2000 && !strcmp(state_of(h, "test.spin"), "disabled"),
	       "a looping tool is stopped by the limit (%ld ms) and disabled", ms);
	specs = plugin_host_tool_specs(h);
	tap_ok(json_array_size(specs) == 3 && spec_named(specs, "test_tools__greet") &&
	       !spec_named(specs, "test_spin__spin"), "disabled plugins' tools leave the specs");
	json_decref(specs);
	rc = plugin_host_call_tool(h, "test_tools__greet", args, ctx, &res);
	tap_ok(rc == 0 && res, "the other plugins' tools keep working");
	free(res);
	json_decref(args);
	json_decref(ctx);
	plugin_host_free(h);
	free(dir);
}

int main(void)
{
	char cmd[128];

	snprintf(tmp, sizeof(tmp), "/tmp/doctor-plugins-XXXXXX");
	if (!mkdtemp(tmp))
		return 99;
	test_valid();
	test_match_function_and_order();
	test_broken();
	test_disable_keeps_others();
	test_escapes();
	test_limits();
	test_patterns_allowed();
	test_api();
	test_detectors();
	test_override();
	test_tools();
	test_plugin_test();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	if (system(cmd) != 0)
		tap_diag("could not remove %s", tmp);
	return tap_done();
}
