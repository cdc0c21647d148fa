/*
 * test_config.c - the configuration loader and the path helpers.
 *
 * Data-driven: every folder tests/cases/config/<case>/ holds input.yaml and
 * expected, a JSON object that is either {"error": "FILE:LINE: ..."} (the
 * exact message, the file's path written as FILE) or the values of interest
 * by dotted key ({"limits.max_connections": 8, "watch.files": [...]}).
 * Then: etc/doctor.yaml equals the defaults (the docs.* ones come from
 * docs_options_init()), a failed load changes nothing,
 * environment overrides (and the OPENAI_* variables that only fill the
 * LLM's unset keys), llm.prices, plugins.settings as JSON values, and paths.h's
 * rules for each environment (plugin folders included).
 *
 * HOME is set to /home/tester so that "~/" expands predictably.
 */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "config.h"
#include "config_internal.h"
#include "paths.h"
#include "tap.h"

#define TEST_HOME "/home/tester"

/* n strings as a JSON array. New reference. */
static json_t *strings_to_json(char *const *list, size_t n)
{
	json_t *array = json_array();
	size_t i;

	for (i = 0; i < n; i++)
		json_array_append_new(array, json_string(list[i]));
	return array;
}

/* The docs.* settings as {dotted key: value}. New reference. */
static json_t *docs_to_json(const struct docs_options *o)
{
	return json_pack("{s:s?, s:s, s:I, s:I, s:b, s:I, s:f, s:f, s:f, s:i, s:i, s:i,"
	                 " s:s?, s:s?, s:s?, s:i, s:i, s:i, s:s}",
	                 "docs.db", o->db_path,
	                 "docs.chunk.strategy",
	                 o->chunk.strategy == CHUNK_SECTION ? "section" :
	                 o->chunk.strategy == CHUNK_PARAGRAPH ? "paragraph" : "?",
	                 "docs.chunk.max_chars", (json_int_t)o->chunk.max_chars,
	                 "docs.chunk.overlap", (json_int_t)o->chunk.overlap,
	                 "docs.notebook_outputs", o->notebook_outputs,
	                 "docs.max_file_bytes", (json_int_t)o->max_file_bytes,
	                 "docs.weights.title", o->w_title,
	                 "docs.weights.headings", o->w_headings,
	                 "docs.weights.body", o->w_body,
	                 "docs.k", (int)o->k,
	                 "docs.per_page", (int)o->per_page,
	                 "docs.rrf_k", (int)o->rrf_k,
	                 "docs.embeddings.base_url", o->embed.base_url,
	                 "docs.embeddings.model", o->embed.model,
	                 "docs.embeddings.api_key_env", o->embed.api_key_env,
	                 "docs.embeddings.dimensions", (int)o->embed.dimensions,
	                 "docs.embeddings.batch", (int)o->embed.batch,
	                 "docs.embeddings.timeout_ms", (int)o->embed.timeout_ms,
	                 "docs.embeddings.encoding", o->embed.base64 ? "base64" : "float");
}

/* The llm.* and agent.* settings as {dotted key: value}; llm.prices as
 * {model: {input, output}}. New reference. */
static json_t *llm_agent_to_json(const struct llm_config *l, const struct agent_config *a)
{
	json_t *prices = json_object();
	size_t i;

	for (i = 0; i < l->nprices; i++)
		json_object_set_new(prices, l->prices[i].model,
		                    json_pack("{s:f, s:f}", "input", l->prices[i].input,
		                              "output", l->prices[i].output));
	return json_pack("{s:s?, s:s?, s:s?, s:b, s:b, s:i, s:i, s:i, s:i, s:i, s:o,"
	                 " s:b, s:i, s:i, s:f, s:f, s:i, s:I, s:I, s:b}",
	                 "llm.base_url", l->base_url,
	                 "llm.model", l->model,
	                 "llm.api_key_env", l->api_key_env,
	                 "llm.stream", l->stream,
	                 "llm.tools", l->tools,
	                 "llm.timeout", l->timeout,
	                 "llm.connect_timeout", l->connect_timeout,
	                 "llm.idle_timeout", l->idle_timeout,
	                 "llm.max_retries", l->max_retries,
	                 "llm.retry_after_cap", l->retry_after_cap,
	                 "llm.prices", prices,
	                 "agent.enabled", a->enabled,
	                 "agent.max_steps", a->max_steps,
	                 "agent.max_tokens", a->max_tokens,
	                 "agent.budget_per_diagnosis", a->budget_per_diagnosis,
	                 "agent.budget_daily", a->budget_daily,
	                 "agent.docs_k", a->docs_k,
	                 "agent.read_file_max_bytes", (json_int_t)a->read_file_max_bytes,
	                 "agent.tool_result_max_bytes", (json_int_t)a->tool_result_max_bytes,
	                 "agent.cache", a->cache);
}

/* The whole configuration as {dotted key: value}: what the cases compare.
 * Written out by hand (not from config.c's table) so the table's offsets
 * are checked too. New reference. */
static json_t *config_to_json(const doctor_config *c)
{
	json_t *files = json_array(), *all, *docs;
	size_t i;

	for (i = 0; i < c->nwatch; i++)
		json_array_append_new(files, json_pack("{s:s, s:s?, s:b}",
		                      "path", c->watch[i].path, "name", c->watch[i].name,
		                      "from_start", c->watch[i].from_start));
	all = json_pack("{s:s?, s:s?, s:s, s:I, s:i, s:I, s:i, s:i, s:I, s:i,"
	                " s:b, s:b, s:i, s:i, s:o, s:b, s:o, s:o, s:I, s:I, s:i,"
	                " s:O?, s:i, s:i}",
	                "socket", c->socket_path,
	                "data_dir", c->data_dir,
	                "log_level", config_log_level_name(c->log_level),
	                "limits.max_message_bytes", (json_int_t)c->max_message_bytes,
	                "limits.max_connections", c->max_connections,
	                "limits.max_output_bytes", (json_int_t)c->max_output_bytes,
	                "limits.max_sources", c->max_sources,
	                "sources.context_lines", c->context_lines,
	                "sources.max_line_bytes", (json_int_t)c->max_line_bytes,
	                "sources.settle_ms", c->settle_ms,
	                "detect.python", c->detect_python,
	                "detect.shell", c->detect_shell,
	                "incidents.context_lines", c->incident_context_lines,
	                "watch.poll_ms", c->watch_poll_ms,
	                "watch.files", files,
	                "plugins.enabled", c->plugins_enabled,
	                "plugins.dirs", strings_to_json(c->plugin_dirs, c->nplugin_dirs),
	                "plugins.disabled", strings_to_json(c->plugins_disabled,
	                                                    c->nplugins_disabled),
	                "plugins.memory", (json_int_t)c->plugin_memory,
	                "plugins.instructions", (json_int_t)c->plugin_instructions,
	                "plugins.wall_ms", c->plugin_wall_ms,
	                "plugins.settings", c->plugin_settings,
	                "remedies.timeout", c->remedy_timeout,
	                "remedies.verify_timeout", c->remedy_verify_timeout);
	docs = docs_to_json(&c->docs);
	json_object_update(all, docs);
	json_decref(docs);
	docs = llm_agent_to_json(&c->llm, &c->agent);
	json_object_update(all, docs);
	json_decref(docs);
	return all;
}

/* True if a and b hold the same settings (loaded_from aside). */
static int config_equal(const doctor_config *a, const doctor_config *b)
{
	json_t *ja = config_to_json(a), *jb = config_to_json(b);
	int eq = json_equal(ja, jb);

	json_decref(ja);
	json_decref(jb);
	return eq;
}

/* msg with the first occurrence of path replaced by "FILE". Owned. */
static char *replace_path(const char *msg, const char *path)
{
	const char *at = strstr(msg, path);
	char *out;

	if (!at)
		return strdup(msg);
	if (asprintf(&out, "%.*sFILE%s", (int)(at - msg), msg, at + strlen(path)) < 0)
		return NULL;
	return out;
}

static void check_values(const char *name, const doctor_config *c, json_t *expected)
{
	json_t *got = config_to_json(c), *want;
	const char *key;
	char *g, *w;

	json_object_foreach(expected, key, want) {
		json_t *value = json_object_get(got, key);

		if (tap_ok(value && json_equal(value, want), "%s: %s", name, key))
			continue;
		g = value ? json_dumps(value, JSON_ENCODE_ANY) : strdup("(no such key)");
		w = json_dumps(want, JSON_ENCODE_ANY);
		tap_diag("got %s, want %s", g, w);
		free(g);
		free(w);
	}
	json_decref(got);
}

static void run_case(const char *dir, const char *name)
{
	doctor_config c, defaults;
	char input[2048], expected_path[2048];
	json_t *expected;
	json_error_t jerr;
	char *err = NULL, *shown;
	int rc;

	snprintf(input, sizeof(input), "%s/%s/input.yaml", dir, name);
	snprintf(expected_path, sizeof(expected_path), "%s/%s/expected", dir, name);
	expected = json_load_file(expected_path, 0, &jerr);
	if (!tap_ok(json_is_object(expected), "%s: expected file is a JSON object", name)) {
		tap_diag("%s:%d: %s", expected_path, jerr.line, jerr.text);
		json_decref(expected);
		return;
	}
	config_defaults(&c);
	config_defaults(&defaults);
	rc = config_load_file(&c, input, &err);
	if (json_object_get(expected, "error")) {
		shown = err ? replace_path(err, input) : NULL;
		tap_is_int(rc, -EINVAL, name);
		tap_is_str(shown, json_string_value(json_object_get(expected, "error")), name);
		tap_ok(config_equal(&c, &defaults) && !c.loaded_from,
		       "%s: the configuration is unchanged", name);
		free(shown);
	} else {
		if (!tap_ok(rc == 0, "%s: loads", name))
			tap_diag("rc %d: %s", rc, err ? err : "(no message)");
		check_values(name, &c, expected);
	}
	free(err);
	json_decref(expected);
	config_free(&c);
	config_free(&defaults);
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every case folder, in name order. Returns how many ran. */
static int run_cases(const char *cases)
{
	char dir[1024];
	char *names[256];
	struct dirent *de;
	size_t n = 0, i;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/config", cases);
	d = opendir(dir);
	if (!d)
		return 0;
	while ((de = readdir(d)) && n < 256)
		if (de->d_name[0] != '.')
			names[n++] = strdup(de->d_name);
	closedir(d);
	qsort(names, n, sizeof(names[0]), compare_names);
	for (i = 0; i < n; i++) {
		run_case(dir, names[i]);
		free(names[i]);
	}
	return (int)n;
}

/* ------------------------------------------------------------------------ */

static void test_default_file(const char *cases)
{
	doctor_config c, defaults;
	char path[1024];
	char *err = NULL;
	int rc;

	snprintf(path, sizeof(path), "%s/../../etc/doctor.yaml", cases);
	config_defaults(&defaults);
	config_defaults(&c);
	/* Start from something else, so that every key must come from the file. */
	c.max_connections = 3;
	c.detect_shell = false;
	c.log_level = LOG_DEBUG;
	c.max_line_bytes = 999;
	c.socket_path = strdup("/run/elsewhere.sock");
	c.watch = calloc(1, sizeof(*c.watch));
	c.watch[0].path = strdup("/var/log/old.log");
	c.nwatch = 1;
	c.plugins_enabled = false;
	c.plugin_dirs = calloc(1, sizeof(*c.plugin_dirs));
	c.plugin_dirs[0] = strdup("/opt/old/plugins");
	c.nplugin_dirs = 1;
	c.plugin_instructions = 1234;
	json_object_set_new(c.plugin_settings, "old", json_object());
	c.remedy_verify_timeout = 7;
	free(c.docs.db_path);
	c.docs.db_path = strdup("/old/docs.db");
	c.docs.chunk.strategy = c.docs.chunk.strategy == CHUNK_SECTION ? CHUNK_PARAGRAPH
	                                                               : CHUNK_SECTION;
	c.docs.chunk.max_chars += 7;
	c.docs.w_headings += 0.5;
	c.docs.k += 3;
	c.docs.embed.base64 = !c.docs.embed.base64;
	free(c.docs.embed.api_key_env);
	c.docs.embed.api_key_env = strdup("OLD_KEY");
	c.llm.base_url = strdup("http://old.example/v1");
	c.llm.model = strdup("old-model");
	free(c.llm.api_key_env);
	c.llm.api_key_env = strdup("OLD_LLM_KEY");
	c.llm.stream = false;
	c.llm.timeout = 5;
	c.llm.prices = calloc(1, sizeof(*c.llm.prices));
	c.llm.prices[0].model = strdup("old-model");
	c.llm.nprices = 1;
	c.agent.cache = false;
	c.agent.max_steps = 2;
	c.agent.budget_daily = 99;
	c.agent.tool_result_max_bytes = 4096;
	rc = config_load_file(&c, path, &err);
	if (!tap_ok(rc == 0, "etc/doctor.yaml loads"))
		tap_diag("rc %d: %s", rc, err ? err : "");
	tap_ok(config_equal(&c, &defaults), "etc/doctor.yaml holds exactly the defaults");
	tap_is_str(c.loaded_from, path, "loaded_from names the file");
	free(err);
	config_free(&c);
	config_free(&defaults);
}

/* The key table is the reference: every key it declares must be in the
 * documentation's table and in etc/doctor.yaml, and have help text. */
static void test_documented(const char *cases)
{
	char path[1024], needle[128];
	char *docs, *yaml;
	const char *key, *leaf;
	size_t i;
	int missing = 0;

	snprintf(path, sizeof(path), "%s/../../docs/configuration.md", cases);
	docs = tap_read_file(path, NULL);
	snprintf(path, sizeof(path), "%s/../../etc/doctor.yaml", cases);
	yaml = tap_read_file(path, NULL);
	tap_ok(docs && yaml, "read docs/configuration.md and etc/doctor.yaml");
	for (i = 0; docs && yaml && i < cfg_config_nkeys; i++) {
		key = cfg_config_keys[i].key;
		leaf = strrchr(key, '.') ? strrchr(key, '.') + 1 : key;
		snprintf(needle, sizeof(needle), "| `%s` |", key);
		if (!strstr(docs, needle) || !cfg_config_keys[i].help ||
		    !*cfg_config_keys[i].help) {
			tap_diag("%s is not in the documentation's table or has no help", key);
			missing++;
		}
		snprintf(needle, sizeof(needle), "%s:", leaf);
		if (!strstr(yaml, needle)) {
			tap_diag("%s is not in etc/doctor.yaml", key);
			missing++;
		}
	}
	tap_is_int(missing, 0, "every key is documented");
	free(docs);
	free(yaml);
}

static void test_defaults(void)
{
	struct docs_options docs;
	json_t *got, *want;
	doctor_config c;

	tap_is_int(config_defaults(&c), 0, "defaults");
	tap_ok(c.socket_path == NULL && c.data_dir == NULL && c.loaded_from == NULL,
	       "socket and data_dir default to NULL (paths.h decides)");
	tap_ok(c.log_level == LOG_INFO && c.max_message_bytes == 1024 * 1024 &&
	       c.max_connections == 256 && c.max_output_bytes == 16 * 1024 * 1024 &&
	       c.max_sources == 1024 && c.context_lines == 200 &&
	       c.max_line_bytes == 65536 && c.settle_ms == 30 && c.detect_python &&
	       c.detect_shell && c.incident_context_lines == 50 &&
	       c.watch_poll_ms == 250 && c.nwatch == 0 && c.watch == NULL,
	       "defaults are the documented values");
	tap_ok(c.plugins_enabled && c.plugin_dirs == NULL && c.nplugin_dirs == 0 &&
	       c.plugins_disabled == NULL && c.nplugins_disabled == 0 &&
	       c.plugin_memory == 32 * 1024 * 1024 &&
	       c.plugin_instructions == 50000000 && c.plugin_wall_ms == 500 &&
	       c.remedy_timeout == 600 && c.remedy_verify_timeout == 120,
	       "plugins and remedies defaults are the documented values");
	tap_ok(json_is_object(c.plugin_settings) && json_object_size(c.plugin_settings) == 0,
	       "plugins.settings defaults to an empty object");
	docs_options_init(&docs);
	tap_ok(c.docs.embed.batch == 64 && c.docs.embed.timeout_ms == 30000,
	       "the embeddings' batch and timeout show what 0 means in docs_index.h");
	if (!docs.embed.batch)
		docs.embed.batch = 64;
	if (!docs.embed.timeout_ms)
		docs.embed.timeout_ms = 30000;
	got = docs_to_json(&c.docs);
	want = docs_to_json(&docs);
	if (!tap_ok(json_equal(got, want), "docs.* defaults are docs_options_init()'s")) {
		char *g = json_dumps(got, JSON_SORT_KEYS), *w = json_dumps(want, JSON_SORT_KEYS);
		tap_diag("got %s\nwant %s", g, w);
		free(g);
		free(w);
	}
	tap_ok(c.docs.db_path == NULL && c.docs.chunk.overlap < c.docs.chunk.max_chars,
	       "docs.db defaults to the data dir; the default overlap fits the chunks");
	json_decref(got);
	json_decref(want);
	docs_options_release(&docs);
	tap_ok(!c.llm.base_url && !c.llm.model && c.llm.api_key_env &&
	       strcmp(c.llm.api_key_env, "OPENAI_API_KEY") == 0 && c.llm.stream &&
	       c.llm.tools && c.llm.timeout == 120 && c.llm.connect_timeout == 10 &&
	       c.llm.idle_timeout == 60 && c.llm.max_retries == 4 &&
	       c.llm.retry_after_cap == 60 && c.llm.nprices == 0 && !c.llm.prices,
	       "llm defaults are the documented values");
	tap_ok(!config_llm_configured(&c.llm), "no LLM is configured by default");
	tap_ok(c.agent.enabled && c.agent.max_steps == 8 && c.agent.max_tokens == 2048 &&
	       c.agent.budget_per_diagnosis == 0.10 && c.agent.budget_daily == 2.00 &&
	       c.agent.docs_k == 4 && c.agent.read_file_max_bytes == 65536 &&
	       c.agent.tool_result_max_bytes == 16384 && c.agent.cache,
	       "agent defaults are the documented values");
	config_free(&c);
}

static void test_unchanged_on_error(const char *tmp)
{
	doctor_config c;
	char good[600], bad[600];
	char *err = NULL;
	FILE *f;

	snprintf(good, sizeof(good), "%s/good.yaml", tmp);
	snprintf(bad, sizeof(bad), "%s/bad.yaml", tmp);
	f = fopen(good, "w");
	fputs("socket: /run/x.sock\nwatch:\n  files: [/var/log/a.log]\n"
	      "plugins:\n  dirs: [/opt/a]\n  settings: {pip: {retries: 1}}\n", f);
	fclose(f);
	f = fopen(bad, "w");
	fputs("socket: /run/y.sock\nwatch:\n  files: [/var/log/b.log]\n"
	      "plugins:\n  dirs: [/opt/b]\n  settings: {conda: {}}\n"
	      "limits:\n  max_sources: 0\n", f);
	fclose(f);
	config_defaults(&c);
	tap_is_int(config_load_file(&c, good, &err), 0, "load a file");
	tap_is_int(config_load_file(&c, bad, &err), -EINVAL, "then a bad one");
	tap_ok(c.socket_path && strcmp(c.socket_path, "/run/x.sock") == 0 && c.nwatch == 1 &&
	       strcmp(c.watch[0].path, "/var/log/a.log") == 0 && c.max_sources == 1024,
	       "the bad file changed nothing, though its first keys were fine");
	tap_ok(c.nplugin_dirs == 1 && strcmp(c.plugin_dirs[0], "/opt/a") == 0 &&
	       json_integer_value(json_object_get(json_object_get(c.plugin_settings, "pip"),
	                                          "retries")) == 1 &&
	       json_object_size(c.plugin_settings) == 1,
	       "nor the plugin folders and settings");
	tap_is_str(c.loaded_from, good, "loaded_from still names the good file");
	free(err);
	err = (char *)"untouched";
	tap_is_int(config_load_file(&c, "/nonexistent/doctor.yaml", &err), -ENOENT,
	           "a missing file is -ENOENT");
	tap_ok(err == NULL, "with no message to free");
	tap_is_int(config_load_file(&c, tmp, &err), -EISDIR, "a directory is -EISDIR");
	config_free(&c);
}

/* watch.files is bounded (a generated file: too big to keep as a case). */
static void test_too_many_watches(const char *tmp)
{
	doctor_config c;
	char path[600];
	char *err = NULL;
	FILE *f;
	int i;

	snprintf(path, sizeof(path), "%s/many.yaml", tmp);
	f = fopen(path, "w");
	fputs("watch:\n  files:\n", f);
	for (i = 0; i < 10001; i++)
		fprintf(f, "    - /var/log/f%d.log\n", i);
	fclose(f);
	config_defaults(&c);
	tap_is_int(config_load_file(&c, path, &err), -EINVAL, "10001 watched files are too many");
	tap_ok(err && strstr(err, ":3: watch.files: expected a list of at most 10000 files"),
	       "says so: %s", err ? err : "(null)");
	free(err);
	f = fopen(path, "w");
	fputs("watch:\n  files:\n", f);
	for (i = 0; i < 10000; i++)
		fprintf(f, "    - /var/log/f%d.log\n", i);
	fclose(f);
	tap_is_int(config_load_file(&c, path, &err), 0, "10000 are fine");
	tap_ok(c.nwatch == 10000 && strcmp(c.watch[9999].path, "/var/log/f9999.log") == 0,
	       "all of them, in order");
	config_free(&c);
}

/* plugins.dirs is bounded too. */
static void test_too_many_plugin_dirs(const char *tmp)
{
	doctor_config c;
	char path[600];
	char *err = NULL;
	FILE *f;
	int i, max;

	snprintf(path, sizeof(path), "%s/dirs.yaml", tmp);
	config_defaults(&c);
	for (max = 65; max >= 64; max--) {
		f = fopen(path, "w");
		fputs("plugins:\n  dirs:\n", f);
		for (i = 0; i < max; i++)
			fprintf(f, "    - /opt/p%d\n", i);
		fclose(f);
		err = NULL;
		tap_is_int(config_load_file(&c, path, &err), max == 65 ? -EINVAL : 0,
		           max == 65 ? "65 plugin folders are too many" : "64 are fine");
		if (max == 65)
			tap_ok(err && strstr(err, ":3: plugins.dirs: expected a list of at most 64 "),
			       "says so: %s", err ? err : "(null)");
		free(err);
	}
	tap_ok(c.nplugin_dirs == 64 && strcmp(c.plugin_dirs[63], "/opt/p63") == 0,
	       "all of them, in order");
	config_free(&c);
}

/* Write text to tmp/name and load it over c. Returns config_load_file's. */
static int load_text(doctor_config *c, const char *tmp, const char *name,
                     const char *text)
{
	char path[600];
	char *err = NULL;
	FILE *f;
	int rc;

	snprintf(path, sizeof(path), "%s/%s", tmp, name);
	f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	rc = config_load_file(c, path, &err);
	if (rc < 0)
		tap_diag("%s: %s", name, err ? err : "(no message)");
	free(err);
	return rc;
}

/* plugins.settings as the plugin host sees it: JSON values of each type. */
static void test_plugin_settings(const char *tmp)
{
	doctor_config c, copy;
	json_t *pip, *mirrors, *value;

	config_defaults(&c);
	tap_is_int(load_text(&c, tmp, "settings.yaml",
	           "plugins:\n  settings:\n    pip:\n      retries: 3\n"
	           "      backoff: 0.25\n      big: 10000000000\n"
	           "      nul: \"a\\0b\"\n      off: off\n      none:\n"
	           "      mirrors:\n        - {url: https://m.example, weight: 2}\n"
	           "    conda:\n"), 0, "load plugin settings");
	pip = json_object_get(c.plugin_settings, "pip");
	tap_ok(json_is_object(pip) && json_object_size(c.plugin_settings) == 2,
	       "an object per plugin");
	value = json_object_get(pip, "retries");
	tap_ok(json_is_integer(value) && json_integer_value(value) == 3, "an integer");
	value = json_object_get(pip, "backoff");
	tap_ok(json_is_real(value) && json_real_value(value) == 0.25, "a real");
	value = json_object_get(pip, "big");
	tap_ok(json_is_integer(value) && json_integer_value(value) == 10000000000LL,
	       "a 64-bit integer");
	value = json_object_get(pip, "nul");
	tap_ok(json_is_string(value) && json_string_length(value) == 3 &&
	       memcmp(json_string_value(value), "a\0b", 3) == 0,
	       "a quoted string keeps its NUL byte");
	tap_is_str(json_string_value(json_object_get(pip, "off")), "off",
	           "off is a string in free-form settings");
	tap_ok(json_is_null(json_object_get(pip, "none")), "an empty value is null");
	mirrors = json_object_get(pip, "mirrors");
	tap_ok(json_is_array(mirrors) && json_array_size(mirrors) == 1 &&
	       json_integer_value(json_object_get(json_array_get(mirrors, 0), "weight")) == 2,
	       "a list of mappings");
	value = json_object_get(c.plugin_settings, "conda");
	tap_ok(json_is_object(value) && json_object_size(value) == 0,
	       "a plugin with nothing under it has an empty object");

	tap_is_int(cfg_copy(&copy, &c), 0, "copy the configuration");
	json_object_set_new(json_object_get(copy.plugin_settings, "pip"), "retries",
	                    json_integer(9));
	tap_is_int(json_integer_value(json_object_get(pip, "retries")), 3,
	           "the copy's settings are its own");
	config_free(&copy);

	tap_is_int(load_text(&c, tmp, "settings2.yaml",
	           "plugins.settings: {conda: {channel: main}}\n"), 0, "load other settings");
	tap_ok(json_object_size(c.plugin_settings) == 1 &&
	       !json_object_get(c.plugin_settings, "pip"),
	       "a file's settings replace the earlier ones whole");
	tap_is_int(load_text(&c, tmp, "settings3.yaml", "log_level: warn\n"), 0,
	           "load a file without settings");
	tap_ok(json_object_get(c.plugin_settings, "conda") != NULL,
	       "which leaves them as they were");
	config_free(&c);
}

static void test_env(void)
{
	doctor_config c;
	char *err = NULL;

	config_defaults(&c);
	setenv("DOCTOR_SOCKET", "/run/doctor/test.sock", 1);
	setenv("DOCTOR_DATA_DIR", "~/data", 1);
	setenv("DOCTOR_LOG_LEVEL", "debug", 1);
	tap_is_int(config_apply_env(&c, &err), 0, "apply the environment");
	tap_is_str(c.socket_path, "/run/doctor/test.sock", "DOCTOR_SOCKET");
	tap_is_str(c.data_dir, TEST_HOME "/data", "DOCTOR_DATA_DIR, ~ expanded");
	tap_is_int(c.log_level, LOG_DEBUG, "DOCTOR_LOG_LEVEL");

	setenv("DOCTOR_LOG_LEVEL", "loud", 1);
	setenv("DOCTOR_SOCKET", "/run/other.sock", 1);
	tap_is_int(config_apply_env(&c, &err), -EINVAL, "a bad DOCTOR_LOG_LEVEL");
	tap_is_str(err, "DOCTOR_LOG_LEVEL: expected one of error, warn, info, debug, got 'loud'",
	           "says what is wrong");
	tap_is_str(c.socket_path, "/run/doctor/test.sock", "and changes nothing");
	free(err);

	setenv("DOCTOR_LOG_LEVEL", "", 1);
	setenv("DOCTOR_SOCKET", "relative.sock", 1);
	tap_is_int(config_apply_env(&c, &err), -EINVAL, "a relative DOCTOR_SOCKET");
	tap_is_str(err, "DOCTOR_SOCKET: expected an absolute path (or one starting with ~/) "
	           "of at most 107 bytes, got 'relative.sock'", "says what is wrong");
	free(err);

	unsetenv("DOCTOR_SOCKET");
	unsetenv("DOCTOR_DATA_DIR");
	tap_is_int(config_apply_env(&c, &err), 0, "empty and unset variables are ignored");
	tap_ok(c.log_level == LOG_DEBUG && strcmp(c.socket_path, "/run/doctor/test.sock") == 0,
	       "and override nothing");
	unsetenv("DOCTOR_LOG_LEVEL");
	config_free(&c);

	tap_is_int(config_parse_log_level("warn"), LOG_WARN, "parse a log level");
	tap_is_int(config_parse_log_level("WARN"), LOG_WARN, "in any case");
	tap_is_int(config_parse_log_level("verbose"), -EINVAL, "an unknown level is -EINVAL");
	tap_is_str(config_log_level_name(LOG_ERROR), "error", "level names");
	tap_is_str(config_log_level_name(42), "unknown", "an unknown level has a name too");
}

/* The LLM from the environment: DOCTOR_LLM_MODEL overrides the file,
 * OPENAI_BASE_URL and OPENAI_MODEL only fill what it left unset. */
static void test_llm_env(const char *tmp)
{
	doctor_config c;
	char *err = NULL;

	unsetenv("OPENAI_BASE_URL");
	unsetenv("OPENAI_MODEL");
	unsetenv("DOCTOR_LLM_MODEL");
	config_defaults(&c);
	tap_is_int(config_apply_env(&c, &err), 0, "llm: no variables");
	tap_ok(!c.llm.base_url && !c.llm.model && !config_llm_configured(&c.llm),
	       "llm: nothing configured");

	setenv("OPENAI_BASE_URL", "http://127.0.0.1:8080/v1", 1);
	setenv("OPENAI_MODEL", "qwen2.5-coder", 1);
	tap_is_int(config_apply_env(&c, &err), 0, "llm: with no file, OPENAI_* apply");
	tap_is_str(c.llm.base_url, "http://127.0.0.1:8080/v1", "llm: OPENAI_BASE_URL");
	tap_is_str(c.llm.model, "qwen2.5-coder", "llm: OPENAI_MODEL");
	tap_ok(config_llm_configured(&c.llm), "llm: configured");
	setenv("DOCTOR_LLM_MODEL", "llama3.1:8b", 1);
	config_free(&c);
	config_defaults(&c);
	tap_is_int(config_apply_env(&c, &err), 0, "llm: DOCTOR_LLM_MODEL too");
	tap_is_str(c.llm.model, "llama3.1:8b", "llm: DOCTOR_LLM_MODEL comes before OPENAI_MODEL");
	config_free(&c);

	/* A file that names its endpoint and model keeps them against OPENAI_*,
	 * but DOCTOR_LLM_MODEL overrides it like the other DOCTOR_ variables. */
	unsetenv("DOCTOR_LLM_MODEL");
	config_defaults(&c);
	tap_is_int(load_text(&c, tmp, "llm.yaml", "llm:\n  base_url: https://api.example/v1\n"
	           "  model: file-model\n"), 0, "llm: load a file with an endpoint");
	tap_is_int(config_apply_env(&c, &err), 0, "llm: then the environment");
	tap_is_str(c.llm.base_url, "https://api.example/v1", "llm: the file's base_url wins");
	tap_is_str(c.llm.model, "file-model", "llm: the file's model wins over OPENAI_MODEL");
	setenv("DOCTOR_LLM_MODEL", "override", 1);
	tap_is_int(config_apply_env(&c, &err), 0, "llm: DOCTOR_LLM_MODEL");
	tap_is_str(c.llm.model, "override", "llm: DOCTOR_LLM_MODEL wins over the file");
	unsetenv("DOCTOR_LLM_MODEL");
	config_free(&c);

	/* A file with a model only gets its URL from the environment. */
	config_defaults(&c);
	tap_is_int(load_text(&c, tmp, "llm2.yaml", "llm.model: only-model\n"), 0,
	           "llm: a file with a model only");
	tap_is_int(config_apply_env(&c, &err), 0, "llm: the environment fills the rest");
	tap_is_str(c.llm.base_url, "http://127.0.0.1:8080/v1", "llm: OPENAI_BASE_URL fills base_url");
	tap_is_str(c.llm.model, "only-model", "llm: the model stays the file's");
	config_free(&c);

	/* An endpoint in the file without a model anywhere is an error. */
	unsetenv("OPENAI_MODEL");
	config_defaults(&c);
	tap_is_int(load_text(&c, tmp, "llm3.yaml", "llm.base_url: http://h/v1\n"), 0,
	           "llm: a file with an endpoint only loads");
	tap_is_int(config_apply_env(&c, &err), -EINVAL, "llm: but has no model");
	tap_is_str(err, "llm.model: required when llm.base_url is set (in the file, or by "
	           "DOCTOR_LLM_MODEL or OPENAI_MODEL)", "llm: says so");
	tap_ok(c.llm.base_url && !c.llm.model, "llm: and changes nothing");
	free(err);
	err = NULL;
	config_free(&c);
	/* ...while OPENAI_BASE_URL alone only leaves the LLM unconfigured. */
	config_defaults(&c);
	tap_is_int(config_apply_env(&c, &err), 0, "llm: OPENAI_BASE_URL without a model");
	tap_ok(c.llm.base_url && !c.llm.model && !config_llm_configured(&c.llm),
	       "llm: is not an error, and configures nothing");
	config_free(&c);

	setenv("OPENAI_BASE_URL", "api.openai.com/v1", 1);
	config_defaults(&c);
	tap_is_int(config_apply_env(&c, &err), -EINVAL, "llm: a bad OPENAI_BASE_URL");
	tap_is_str(err, "OPENAI_BASE_URL: expected an http:// or https:// URL of at most "
	           "2048 bytes, got 'api.openai.com/v1'", "llm: says what is wrong");
	free(err);
	err = NULL;
	setenv("OPENAI_BASE_URL", "", 1);
	setenv("DOCTOR_LLM_MODEL", "", 1);
	tap_is_int(config_apply_env(&c, &err), 0, "llm: empty variables are unset");
	tap_ok(!c.llm.base_url && !c.llm.model, "llm: and set nothing");
	unsetenv("OPENAI_BASE_URL");
	unsetenv("DOCTOR_LLM_MODEL");
	config_free(&c);
}

/* Prices: the lookup, and a copy that is its own. */
static void test_llm_prices(const char *tmp)
{
	struct llm_config copy;
	doctor_config c;
	double in = -1, out = -1;

	config_defaults(&c);
	tap_is_int(load_text(&c, tmp, "prices.yaml", "llm:\n  base_url: http://h/v1\n"
	           "  model: gpt-4.1\n  api_key_env: null\n  prices:\n"
	           "    gpt-4.1: {input: 2, output: 8}\n    local: {input: 0, output: 0}\n"),
	           0, "prices: load");
	tap_ok(c.llm.api_key_env == NULL, "prices: api_key_env null means no key");
	tap_is_int(config_llm_price(&c.llm, "gpt-4.1", &in, &out), 0, "prices: a model with dots");
	tap_ok(in == 2 && out == 8, "prices: its input and output");
	tap_is_int(config_llm_price(&c.llm, "gpt-4", &in, &out), -ENOENT,
	           "prices: an unknown model (no prefix match)");
	tap_ok(in == 0 && out == 0, "prices: costs 0");
	tap_is_int(config_llm_copy(&copy, &c.llm), 0, "prices: copy the llm settings");
	free(copy.prices[0].model);
	copy.prices[0].model = strdup("changed");
	tap_is_str(c.llm.prices[0].model, "gpt-4.1", "prices: the copy is its own");
	tap_is_str(copy.base_url, "http://h/v1", "prices: the copy has the URL");
	tap_ok(copy.base_url != c.llm.base_url, "prices: in its own memory");
	config_llm_release(&copy);
	tap_ok(copy.prices == NULL && copy.nprices == 0 && !copy.model, "prices: released");
	tap_is_int(load_text(&c, tmp, "prices2.yaml", "llm.prices: ~\n"), 0,
	           "prices: null");
	tap_ok(c.llm.nprices == 0 && !c.llm.prices && c.llm.model,
	       "prices: empties the list, and keeps the rest");
	config_free(&c);
}

/* ------------------------------------------------------------------------ */

static void check_path(char *got, const char *want, const char *name)
{
	tap_is_str(got, want, name);
	free(got);
}

static void test_paths(void)
{
	char want[512];
	struct passwd *pw = getpwuid(getuid());

	setenv("DOCTOR_SOCKET", "/x/doctor.sock", 1);
	check_path(paths_socket(), "/x/doctor.sock", "socket: DOCTOR_SOCKET first");
	unsetenv("DOCTOR_SOCKET");
	setenv("XDG_RUNTIME_DIR", "/run/user/1000", 1);
	check_path(paths_socket(), "/run/user/1000/doctor/doctord.sock", "socket: XDG_RUNTIME_DIR");
	snprintf(want, sizeof(want), "/tmp/doctor-%u/doctord.sock", (unsigned)getuid());
	setenv("XDG_RUNTIME_DIR", "relative/run", 1);
	check_path(paths_socket(), want, "socket: a relative XDG_RUNTIME_DIR is ignored");
	unsetenv("XDG_RUNTIME_DIR");
	check_path(paths_socket(), want, "socket: /tmp/doctor-$UID without XDG_RUNTIME_DIR");
	setenv("DOCTOR_SOCKET", "", 1);
	check_path(paths_socket(), want, "socket: an empty DOCTOR_SOCKET is unset");
	unsetenv("DOCTOR_SOCKET");

	setenv("DOCTOR_DATA_DIR", "/d", 1);
	check_path(paths_data_dir(), "/d", "data: DOCTOR_DATA_DIR first");
	unsetenv("DOCTOR_DATA_DIR");
	setenv("XDG_DATA_HOME", "/xdg/data", 1);
	check_path(paths_data_dir(), "/xdg/data/doctor", "data: XDG_DATA_HOME");
	unsetenv("XDG_DATA_HOME");
	check_path(paths_data_dir(), TEST_HOME "/.local/share/doctor", "data: ~/.local/share");
	unsetenv("HOME");
	snprintf(want, sizeof(want), "%s/.local/share/doctor", pw ? pw->pw_dir : "?");
	check_path(paths_data_dir(), want, "data: HOME from the password database when unset");
	setenv("HOME", TEST_HOME, 1);

	setenv("DOCTOR_CONFIG", "/c/d.yaml", 1);
	check_path(paths_config_file(), "/c/d.yaml", "config: DOCTOR_CONFIG first");
	unsetenv("DOCTOR_CONFIG");
	setenv("XDG_CONFIG_HOME", "/xdg/config", 1);
	check_path(paths_config_file(), "/xdg/config/doctor/doctor.yaml", "config: XDG_CONFIG_HOME");
	unsetenv("XDG_CONFIG_HOME");
	check_path(paths_config_file(), TEST_HOME "/.config/doctor/doctor.yaml", "config: ~/.config");

	check_path(paths_dirname("/a/b/c.sock"), "/a/b", "dirname");
	check_path(paths_dirname("/a/b/"), "/a", "dirname with a trailing slash");
	check_path(paths_dirname("/a"), "/", "dirname of a top-level entry");
	check_path(paths_dirname("/"), "/", "dirname of /");
	check_path(paths_dirname("file"), ".", "dirname of a bare name");
	check_path(paths_dirname("a//b"), "a", "dirname with doubled slashes");
}

/* paths_plugin_dirs()'s list as one string, "a|b|c"; checks that the
 * array is NULL-terminated after *n entries, then frees it. */
static char *plugin_dirs_joined(const char *shipped, const char *const *extra,
                                size_t nextra)
{
	size_t n = 99, i, len = 1;
	char **dirs = paths_plugin_dirs(shipped, extra, nextra, &n);
	char *out;

	if (!dirs)
		return NULL;
	for (i = 0; i < n; i++)
		len += strlen(dirs[i]) + 1;
	out = calloc(1, len);
	for (i = 0; i < n; i++)
		sprintf(out + strlen(out), "%s%s", i ? "|" : "", dirs[i]);
	if (dirs[n] != NULL) {
		free(out);
		out = strdup("(not NULL-terminated)");
	}
	paths_free_list(dirs, n);
	return out;
}

static void test_plugin_dirs(void)
{
	const char *const extra[] = { "/opt/extra", TEST_HOME "/more" };
	const char *sys = DOCTOR_SYSCONFDIR "/doctor/plugins";
	char want[1024];

	unsetenv("DOCTOR_PLUGIN_PATH");
	unsetenv("XDG_CONFIG_HOME");
	snprintf(want, sizeof(want), "/usr/share/doctor/plugins|%s|%s", sys,
	         TEST_HOME "/.config/doctor/plugins");
	check_path(plugin_dirs_joined("/usr/share/doctor/plugins", NULL, 0), want,
	           "plugin dirs: shipped, system, then ~/.config");
	snprintf(want, sizeof(want), "/usr/share/doctor/plugins|%s|%s|/opt/extra|%s",
	         sys, TEST_HOME "/.config/doctor/plugins", TEST_HOME "/more");
	check_path(plugin_dirs_joined("/usr/share/doctor/plugins", extra, 2), want,
	           "plugin dirs: plugins.dirs come last, in order");
	setenv("XDG_CONFIG_HOME", "/xdg/config", 1);
	snprintf(want, sizeof(want), "/s|%s|/xdg/config/doctor/plugins|/opt/extra", sys);
	check_path(plugin_dirs_joined("/s", extra, 1), want,
	           "plugin dirs: XDG_CONFIG_HOME for the user folder");
	setenv("XDG_CONFIG_HOME", "relative/config", 1);
	snprintf(want, sizeof(want), "%s|%s", sys, TEST_HOME "/.config/doctor/plugins");
	check_path(plugin_dirs_joined(NULL, NULL, 0), want,
	           "plugin dirs: a relative XDG_CONFIG_HOME is ignored; no shipped dir");

	setenv("DOCTOR_PLUGIN_PATH", "/build/plugins::/test/plugins:", 1);
	check_path(plugin_dirs_joined("/s", extra, 1),
	           "/build/plugins|/test/plugins|/opt/extra",
	           "plugin dirs: DOCTOR_PLUGIN_PATH replaces the standard folders");
	setenv("DOCTOR_PLUGIN_PATH", "plugins", 1);
	check_path(plugin_dirs_joined("/s", NULL, 0), "plugins",
	           "plugin dirs: DOCTOR_PLUGIN_PATH taken as given");
	setenv("DOCTOR_PLUGIN_PATH", ":", 1);
	check_path(plugin_dirs_joined("/s", NULL, 0), "",
	           "plugin dirs: can be empty");
	setenv("DOCTOR_PLUGIN_PATH", "", 1);
	snprintf(want, sizeof(want), "/s|%s|%s", sys, TEST_HOME "/.config/doctor/plugins");
	check_path(plugin_dirs_joined("/s", NULL, 0), want,
	           "plugin dirs: an empty DOCTOR_PLUGIN_PATH is unset");
	unsetenv("DOCTOR_PLUGIN_PATH");
	unsetenv("XDG_CONFIG_HOME");
	paths_free_list(NULL, 0);
}

static void test_mkdir_p(const char *tmp)
{
	char path[600], file[600];
	struct stat sb;
	mode_t old = umask(077);
	FILE *f;

	snprintf(path, sizeof(path), "%s/m/n/o", tmp);
	tap_is_int(paths_mkdir_p(path, 0750), 0, "mkdir -p");
	tap_ok(stat(path, &sb) == 0 && S_ISDIR(sb.st_mode) && (sb.st_mode & 0777) == 0750,
	       "created with exactly the mode, whatever the umask");
	snprintf(path, sizeof(path), "%s/m", tmp);
	tap_ok(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0750, "intermediate directories too");
	chmod(path, 0755);
	snprintf(path, sizeof(path), "%s/m/n/o/", tmp);
	tap_is_int(paths_mkdir_p(path, 0700), 0, "existing directories are fine");
	snprintf(path, sizeof(path), "%s/m", tmp);
	tap_ok(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0755, "and left alone");
	snprintf(file, sizeof(file), "%s/plain", tmp);
	f = fopen(file, "w");
	fclose(f);
	snprintf(path, sizeof(path), "%s/plain/sub", tmp);
	tap_is_int(paths_mkdir_p(path, 0700), -ENOTDIR, "a file in the way is -ENOTDIR");
	tap_is_int(paths_mkdir_p("", 0700), -EINVAL, "an empty path is -EINVAL");
	umask(old);
}

static int remove_entry(const char *path, const struct stat *sb, int flag,
                        struct FTW *ftw)
{
	return remove(path);
}

int main(int argc, char **argv)
{
	const char *cases = getenv("DOCTOR_CASES");
	const char *base = getenv("TMPDIR");
	char tmp[512];
	int n;

	if (!cases || !*cases)
		cases = argc > 1 ? argv[1] : "tests/cases";
	snprintf(tmp, sizeof(tmp), "%s/test_config.XXXXXX", base && *base ? base : "/tmp");
	if (!mkdtemp(tmp)) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	/* A known environment: ~ and the XDG rules must not see the caller's. */
	setenv("HOME", TEST_HOME, 1);
	unsetenv("DOCTOR_SOCKET");
	unsetenv("DOCTOR_DATA_DIR");
	unsetenv("DOCTOR_LOG_LEVEL");
	unsetenv("DOCTOR_CONFIG");
	unsetenv("DOCTOR_PLUGIN_PATH");
	unsetenv("DOCTOR_LLM_MODEL");
	unsetenv("OPENAI_BASE_URL");
	unsetenv("OPENAI_MODEL");

	test_defaults();
	n = run_cases(cases);
	tap_ok(n >= 15, "found %d config cases under %s/config", n, cases);
	test_default_file(cases);
	test_documented(cases);
	test_unchanged_on_error(tmp);
	test_too_many_watches(tmp);
	test_too_many_plugin_dirs(tmp);
	test_plugin_settings(tmp);
	test_env();
	test_llm_env(tmp);
	test_llm_prices(tmp);
	test_paths();
	test_plugin_dirs();
	test_mkdir_p(tmp);
	nftw(tmp, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	return tap_done();
}
