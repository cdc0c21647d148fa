/*
 * plugin_test.c - `doctor plugin test FILE CASES`.
 *
 * Each case folder has `input` (the output a source saw), optionally
 * `context.json` ({cwd, python, virtualenv, kind}; relative paths are
 * resolved against the case folder, so a case can ship a fake project
 * and a fake interpreter layout) and `expected` (JSON: null, or an object
 * matched as a subset of the first diagnosis). A case runs in a fresh
 * host with only the plugin loaded: the input goes through the line
 * assembler and a scanner with the built-in detectors and the plugin's
 * own; the first error becomes the incident, built as the daemon builds
 * it (dr_error_to_json plus id, count, signature and source).
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "linebuf.h"
#include "plugin_test.h"
#include "plugins.h"

/* What a case resolved: absolute paths (owned), NULL when not given. */
struct case_env {
	char *dir, *cwd, *python, *virtualenv;
	json_t *context;     /* context.json, owned, may be NULL */
};

/* ------------------------------------------------------------------ */
/* Files                                                               */

static char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t n = 0;
	long size;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)size + 1)))
		n = fread(buf, 1, (size_t)size, f);
	fclose(f);
	if (buf)
		buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sorted names of the case folders; -errno if dir cannot be read. */
static int list_cases(const char *dir, char ***out, size_t *n)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	struct stat st;
	char path[PATH_MAX], **grown;

	*out = NULL;
	*n = 0;
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (de->d_name[0] == '.' || stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
			continue;
		grown = realloc(*out, (*n + 1) * sizeof(*grown));
		if (!grown || !(grown[*n] = strdup(de->d_name))) {
			*out = grown ? grown : *out;
			break;
		}
		*out = grown;
		(*n)++;
	}
	closedir(d);
	if (*n)
		qsort(*out, *n, sizeof(**out), cmp_str);
	return 0;
}

/* A context.json path made absolute against the case folder. */
static char *case_path(const struct case_env *env, const char *key)
{
	const char *v = json_string_value(json_object_get(env->context, key));
	char *abs = NULL;

	if (!v)
		return NULL;
	if (v[0] == '/')
		return strdup(v);
	if (asprintf(&abs, "%s/%s", env->dir, v) < 0)
		return NULL;
	return abs;
}

static void case_env_free(struct case_env *env)
{
	free(env->dir);
	free(env->cwd);
	free(env->python);
	free(env->virtualenv);
	json_decref(env->context);
}

static int case_env_load(const char *case_dir, struct case_env *env, char **why)
{
	char path[PATH_MAX];
	json_error_t err;

	memset(env, 0, sizeof(*env));
	env->dir = realpath(case_dir, NULL);
	if (!env->dir)
		return asprintf(why, "%s: %s", case_dir, strerror(errno)), -errno;
	snprintf(path, sizeof(path), "%s/context.json", env->dir);
	if (access(path, F_OK) == 0) {
		env->context = json_load_file(path, 0, &err);
		if (!json_is_object(env->context))
			return asprintf(why, "context.json:%d: %s", err.line,
			                env->context ? "not an object" : err.text), -EINVAL;
	}
	env->cwd = case_path(env, "cwd");
	env->python = case_path(env, "python");
	env->virtualenv = case_path(env, "virtualenv");
	return 0;
}

/* ------------------------------------------------------------------ */
/* Detection                                                           */

struct detection {
	dr_scanner *scanner;
	dr_error *first;     /* owned */
	int rc;
};

static void keep_first(void *ud, dr_error *e)
{
	struct detection *d = ud;

	if (d->first)
		dr_error_free(e);
	else
		d->first = e;
}

static void offer_line(void *ud, const dr_line *line)
{
	struct detection *d = ud;
	int rc = dr_scanner_line(d->scanner, line, keep_first, d);

	if (rc < 0 && d->rc == 0)
		d->rc = rc;
}

/* The first error the input shows, or NULL. */
static dr_error *detect_first(const char *input, size_t len, int *rc)
{
	struct detection d = { dr_scanner_new(), NULL, 0 };
	dr_linebuf lb;

	*rc = -ENOMEM;
	if (!d.scanner)
		return NULL;
	if (dr_linebuf_init(&lb, 0) == 0) {
		d.rc = dr_linebuf_feed(&lb, input, len, offer_line, &d);
		if (d.rc == 0)
			d.rc = dr_linebuf_flush(&lb, offer_line, &d);
		dr_scanner_flush(d.scanner, keep_first, &d);
		dr_linebuf_free(&lb);
		*rc = d.rc;
	}
	dr_scanner_free(d.scanner);
	return d.first;
}

/* The incident as the daemon would give it to plugins. */
static json_t *make_incident(const dr_error *e, const struct case_env *env,
                             const char *name, const char *input)
{
	json_t *inc = dr_error_to_json(e), *src;
	const char *kind = json_string_value(json_object_get(env->context, "kind"));
	char sig[17];

	if (!inc)
		return NULL;
	dr_signature(e, sig);
	src = json_pack("{s:i, s:s, s:s, s:s?, s:s?, s:s?, s:o}", "id", 1,
	                "kind", kind ? kind : "command", "name", name, "cwd", env->cwd,
	                "python", env->python, "virtualenv", env->virtualenv,
	                "context", env->context ? json_incref(env->context) : json_object());
	if (!src || json_object_set_new(inc, "source", src) < 0 ||
	    json_object_set_new(inc, "id", json_integer(1)) < 0 ||
	    json_object_set_new(inc, "count", json_integer(1)) < 0 ||
	    json_object_set_new(inc, "signature", json_string(sig)) < 0 ||
	    json_object_set_new(inc, "context", json_string(input)) < 0) {
		json_decref(inc);
		return NULL;
	}
	return inc;
}

/* ------------------------------------------------------------------ */
/* Matching the expectation                                            */

/* s with $PYTHON and $CWD replaced; newly allocated. */
static char *expand(const char *s, const struct case_env *env)
{
	static const char *const names[] = { "$PYTHON", "$CWD" };
	const char *values[] = { env->python ? env->python : "", env->cwd ? env->cwd : "" };
	char *out = strdup(s), *hit, *next;
	size_t k, at;

	for (k = 0; out && k < 2; k++) {
		for (at = 0; out && (hit = strstr(out + at, names[k]));) {
			at = (size_t)(hit - out);
			if (asprintf(&next, "%.*s%s%s", (int)at, out, values[k],
			             hit + strlen(names[k])) < 0)
				next = NULL;
			at += strlen(values[k]);
			free(out);
			out = next;
		}
	}
	return out;
}

static bool subset(const json_t *want, const json_t *got, const struct case_env *env,
                   char *where, size_t wlen);

static bool subset_object(const json_t *want, const json_t *got, const struct case_env *env,
                          char *where, size_t wlen)
{
	size_t len = strlen(where);
	const char *key;
	json_t *w;

	if (!json_is_object(got))
		return false;
	json_object_foreach((json_t *)want, key, w) {
		snprintf(where + len, wlen - len, "%s%s", len ? "." : "", key);
		if (!subset(w, json_object_get(got, key), env, where, wlen))
			return false;
	}
	where[len] = '\0';
	return true;
}

static bool subset_array(const json_t *want, const json_t *got, const struct case_env *env,
                         char *where, size_t wlen)
{
	size_t len = strlen(where), i;
	json_t *w;

	if (!json_is_array(got) || json_array_size(got) != json_array_size(want))
		return false;
	json_array_foreach(want, i, w) {
		snprintf(where + len, wlen - len, "[%zu]", i);
		if (!subset(w, json_array_get(got, i), env, where, wlen))
			return false;
	}
	where[len] = '\0';
	return true;
}

static bool subset_string(const char *want, const json_t *got, const struct case_env *env,
                          bool contains)
{
	char *w = expand(want, env);
	bool ok = w && json_is_string(got) &&
	          (contains ? strstr(json_string_value(got), w) != NULL
	                    : strcmp(json_string_value(got), w) == 0);

	free(w);
	return ok;
}

/* Is want a subset of got? where gets the path of the first difference. */
static bool subset(const json_t *want, const json_t *got, const struct case_env *env,
                   char *where, size_t wlen)
{
	const json_t *contains = json_object_get(want, "contains");

	if (json_is_object(want) && json_object_size(want) == 1 && json_is_string(contains))
		return subset_string(json_string_value(contains), got, env, true);
	if (json_is_object(want))
		return subset_object(want, got, env, where, wlen);
	if (json_is_array(want))
		return subset_array(want, got, env, where, wlen);
	if (json_is_string(want))
		return subset_string(json_string_value(want), got, env, false);
	if (json_is_number(want))
		return json_is_number(got) && json_number_value(got) == json_number_value(want);
	if (json_is_null(want))
		return !got || json_is_null(got);
	return json_equal(want, got);
}

/* ------------------------------------------------------------------ */
/* One case                                                            */

static void diag_json(FILE *tap, const char *label, const json_t *v)
{
	char *text = v ? json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;

	fprintf(tap, "# %s: %s\n", label, text ? text : "null");
	free(text);
}

/* The plugin's error, if it failed or was disabled. */
static void diag_plugin(FILE *tap, plugin_host *h)
{
	json_t *list = plugin_host_list(h), *p = json_array_get(list, 0);

	if (json_is_string(json_object_get(p, "error")))
		fprintf(tap, "# plugin %s: %s\n", json_string_value(json_object_get(p, "state")),
		        json_string_value(json_object_get(p, "error")));
	json_decref(list);
}

/* The first diagnosis of the case's incident (NULL if none); *why for a
 * failure to run. */
static json_t *diagnose_case(plugin_host *h, const struct case_env *env, const char *name,
                             char **why)
{
	char path[PATH_MAX], *input;
	json_t *incident, *diags = NULL, *first = NULL;
	dr_error *e;
	size_t len;
	int rc;

	snprintf(path, sizeof(path), "%s/input", env->dir);
	if (!(input = read_all(path, &len)))
		return asprintf(why, "cannot read %s", path), NULL;
	e = detect_first(input, len, &rc);
	if (!e) {
		free(input);
		if (rc < 0)
			asprintf(why, "detection failed: %s", strerror(-rc));
		return NULL;
	}
	incident = make_incident(e, env, name, input);
	dr_error_free(e);
	free(input);
	if (incident && plugin_host_diagnose(h, incident, &diags) == 0)
		first = json_incref(json_array_get(diags, 0));
	else
		asprintf(why, "out of memory");
	json_decref(diags);
	json_decref(incident);
	return first;
}

/* A fresh host with the plugin's detectors next to the built-ins. */
static int host_for(const char *plugin_file, plugin_host **h)
{
	int rc = plugin_host_new(NULL, h);

	dr_registry_clear();
	if (rc == 0)
		rc = dr_registry_add_builtins();
	if (rc == 0)
		rc = plugin_host_load_file(*h, plugin_file, NULL);
	if (rc == 0)
		rc = plugin_host_register_detectors(*h);
	return rc;
}

static bool run_case(const char *plugin_file, const char *cases_dir, const char *name,
                     int n, FILE *tap)
{
	char dir[PATH_MAX], path[PATH_MAX], where[512] = "", *why = NULL;
	json_t *want = NULL, *got = NULL;
	struct case_env env;
	plugin_host *h = NULL;
	json_error_t err;
	bool ok = false;

	snprintf(dir, sizeof(dir), "%s/%s", cases_dir, name);
	if (case_env_load(dir, &env, &why) == 0) {
		snprintf(path, sizeof(path), "%s/expected", env.dir);
		want = json_load_file(path, JSON_DECODE_ANY, &err);
		if (!want)
			asprintf(&why, "expected:%d: %s", err.line, err.text);
	}
	if (want && host_for(plugin_file, &h) < 0)
		asprintf(&why, "cannot set up the plugin host");
	if (want && !why)
		got = diagnose_case(h, &env, name, &why);
	if (!why && json_is_null(want))
		ok = got == NULL;
	else if (!why)
		ok = got && subset(want, got, &env, where, sizeof(where));
	fprintf(tap, "%sok %d - %s\n", ok ? "" : "not ", n, name);
	if (!ok && why)
		fprintf(tap, "# %s\n", why);
	if (!ok && !why) {
		if (*where)
			fprintf(tap, "# first difference at: %s\n", where);
		diag_json(tap, "expected", want);
		diag_json(tap, "got", got);
	}
	if (!ok && h)
		diag_plugin(tap, h);
	free(why);
	json_decref(want);
	json_decref(got);
	plugin_host_free(h);
	dr_registry_clear();
	case_env_free(&env);
	return ok;
}

/* Load the plugin once: a plugin that does not load fails every case
 * the same way, so say it once. */
static int check_loads(const char *plugin_file, FILE *tap)
{
	plugin_host *h = NULL;
	json_t *list, *p;
	int rc = plugin_host_new(NULL, &h);

	if (rc < 0)
		return rc;
	rc = plugin_host_load_file(h, plugin_file, NULL);
	list = plugin_host_list(h);
	p = json_array_get(list, 0);
	if (rc == 0 && !json_is_string(json_object_get(p, "state")))
		rc = -ENOMEM;
	else if (rc == 0 && strcmp(json_string_value(json_object_get(p, "state")), "enabled"))
		rc = -EINVAL;
	if (rc < 0)
		fprintf(tap, "Bail out! %s\n", json_string_value(json_object_get(p, "error"))
		        ? json_string_value(json_object_get(p, "error")) : strerror(-rc));
	json_decref(list);
	plugin_host_free(h);
	return rc;
}

int plugin_test_run(const char *plugin_file, const char *cases_dir, FILE *tap_out)
{
	char **names = NULL;
	size_t n = 0, i;
	int rc, failed = 0;

	rc = list_cases(cases_dir, &names, &n);
	if (rc == 0 && n == 0)
		rc = -ENOENT;
	if (rc < 0)
		fprintf(tap_out, "Bail out! %s: no case folders (%s)\n", cases_dir, strerror(-rc));
	if (rc == 0)
		rc = check_loads(plugin_file, tap_out);
	if (rc == 0) {
		fprintf(tap_out, "1..%zu\n", n);
		for (i = 0; i < n; i++)
			failed += !run_case(plugin_file, cases_dir, names[i], (int)i + 1, tap_out);
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	fflush(tap_out);
	return rc < 0 ? rc : failed ? 1 : 0;
}
