/*
 * host.c - the plugin host: the list of loaded plugins, loading them from
 * folders in order (a later plugin of the same name replaces an earlier
 * one), listing, reloading, asking them to diagnose, registering their
 * detectors, and the lifetime of one plugin (reference counted, see
 * plugins_internal.h). Loading and validating one file is plugin_load.c;
 * one plugin's diagnosis is plugin_diagnose.c.
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <lauxlib.h>

#include "plugins_internal.h"
#include "plugins_log.h"

#define DEFAULT_MEMORY       (32u << 20)
#define DEFAULT_INSTRUCTIONS 50000000ul
#define DEFAULT_WALL_MS      500u

struct plugin_host {
	struct plugin_limits limits;  /* defaults applied */
	struct plugin **plugins;      /* owned references, load order */
	size_t n, cap;
	bool detectors_registered;    /* register_detectors was called */
};

/* ------------------------------------------------------------------ */
/* One plugin's lifetime                                               */

struct plugin *const *plugin_host_plugins(plugin_host *h, size_t *n)
{
	*n = h->n;
	return h->plugins;
}

void plugin_ref(struct plugin *p)
{
	p->refs++;
}

void plugin_unref(struct plugin *p)
{
	size_t i;

	if (!p || --p->refs > 0)
		return;
	sandbox_state_close(p->L);
	for (i = 0; i < p->ndetectors; i++)
		free(p->detectors[i].full_name);
	free(p->detectors);
	for (i = 0; i < p->ntools; i++)
		free(p->tools[i]);
	free(p->tools);
	free(p->path);
	free(p->name);
	free(p->version);
	free(p->description);
	free(p->error);
	free(p);
}

void plugin_disable(struct plugin *p, const char *error)
{
	size_t i;

	if (p->state != PLUGIN_ENABLED)
		return;
	p->state = PLUGIN_DISABLED;
	free(p->error);
	p->error = strdup(error);
	plugins_log(LOG_WARN, "plugin %s (%s) disabled: %s", p->name, p->path, error);
	for (i = 0; i < p->ndetectors; i++)
		if (p->detectors[i].registered)
			dr_registry_enable(p->detectors[i].full_name, false);
}

/* The file name without folder and ".lua": the plugin's name until its
 * table gives one (and in the list if it never does). */
static char *file_stem(const char *path)
{
	const char *base = strrchr(path, '/');
	size_t n;

	base = base ? base + 1 : path;
	n = strlen(base);
	if (n > 4 && strcmp(base + n - 4, ".lua") == 0)
		n -= 4;
	return strndup(base, n);
}

static struct plugin *plugin_new(const struct plugin_limits *limits, const char *path)
{
	struct plugin *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->refs = 1;
	p->state = PLUGIN_FAILED;
	p->table_ref = p->config_ref = p->match_ref = p->diagnose_ref = LUA_NOREF;
	p->sb.mem_cap = limits->memory_bytes;
	p->sb.instr_budget = limits->instructions;
	p->sb.wall_ms = limits->wall_ms;
	p->path = strdup(path);
	p->name = file_stem(path);
	if (!p->path || !p->name) {
		plugin_unref(p);
		return NULL;
	}
	return p;
}

/* ------------------------------------------------------------------ */
/* The list                                                            */

int plugin_host_new(const struct plugin_limits *limits, plugin_host **out)
{
	plugin_host *h = calloc(1, sizeof(*h));

	if (!h)
		return -ENOMEM;
	if (limits)
		h->limits = *limits;
	if (!h->limits.memory_bytes)
		h->limits.memory_bytes = DEFAULT_MEMORY;
	if (!h->limits.instructions)
		h->limits.instructions = DEFAULT_INSTRUCTIONS;
	if (!h->limits.wall_ms)
		h->limits.wall_ms = DEFAULT_WALL_MS;
	*out = h;
	return 0;
}

/* Take p out of service: unregister its detectors, stop instances that
 * scanners still hold, drop the host's reference. */
static void drop_plugin(struct plugin *p)
{
	size_t i;

	for (i = 0; i < p->ndetectors; i++)
		lua_detector_unregister(&p->detectors[i]);
	if (p->state == PLUGIN_ENABLED)
		p->state = PLUGIN_DISABLED;
	plugin_unref(p);
}

static void drop_all(plugin_host *h)
{
	size_t i;

	for (i = 0; i < h->n; i++)
		drop_plugin(h->plugins[i]);
	h->n = 0;
}

void plugin_host_free(plugin_host *h)
{
	if (!h)
		return;
	drop_all(h);
	free(h->plugins);
	free(h);
}

/* Add p (the list takes the reference); an enabled plugin replaces an
 * earlier one of the same name. */
static int add_plugin(plugin_host *h, struct plugin *p)
{
	struct plugin **grown;
	size_t i;

	for (i = 0; p->state == PLUGIN_ENABLED && i < h->n; i++) {
		if (h->plugins[i]->state == PLUGIN_FAILED || strcmp(h->plugins[i]->name, p->name))
			continue;
		plugins_log(LOG_INFO, "plugin %s: %s replaces %s", p->name, p->path,
		            h->plugins[i]->path);
		drop_plugin(h->plugins[i]);
		h->plugins[i] = p;
		return 0;
	}
	if (h->n == h->cap) {
		grown = realloc(h->plugins, (h->cap ? h->cap * 2 : 16) * sizeof(*grown));
		if (!grown) {
			plugin_unref(p);
			return -ENOMEM;
		}
		h->plugins = grown;
		h->cap = h->cap ? h->cap * 2 : 16;
	}
	h->plugins[h->n++] = p;
	return 0;
}

int plugin_host_load_file(plugin_host *h, const char *path, json_t *config)
{
	struct plugin *p = plugin_new(&h->limits, path);
	int rc;

	if (!p)
		return -ENOMEM;
	if (plugin_load(p, config) < 0)
		plugins_log(LOG_WARN, "plugin %s: %s", path, p->error ? p->error : "cannot load");
	else
		plugins_log(LOG_DEBUG, "plugin %s %s loaded from %s", p->name, p->version, path);
	rc = add_plugin(h, p);
	if (rc == 0 && h->detectors_registered)
		rc = plugin_host_register_detectors(h);
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sorted paths of dir's *.lua regular files; -ENOENT if no dir. */
static int list_lua_files(const char *dir, char ***out, size_t *n)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	struct stat st;
	char **v = NULL, **grown, *path;
	size_t len;
	int rc = 0;

	*n = 0;
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		len = strlen(de->d_name);
		if (de->d_name[0] == '.' || len < 5 || strcmp(de->d_name + len - 4, ".lua"))
			continue;
		if (asprintf(&path, "%s/%s", dir, de->d_name) < 0) {
			rc = -ENOMEM;
			break;
		}
		if (stat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
			free(path);
			continue;
		}
		grown = realloc(v, (*n + 1) * sizeof(*v));
		if (!grown) {
			free(path);
			rc = -ENOMEM;
			break;
		}
		v = grown;
		v[(*n)++] = path;
	}
	closedir(d);
	if (*n)
		qsort(v, *n, sizeof(*v), cmp_str);
	*out = v;
	return rc;
}

int plugin_host_load_dirs(plugin_host *h, const char *const *dirs, size_t ndirs, json_t *config)
{
	char **files = NULL;
	size_t i, k, n;
	int rc = 0, err;

	for (i = 0; i < ndirs && rc == 0; i++) {
		err = list_lua_files(dirs[i], &files, &n);
		if (err == -ENOENT || err == -ENOTDIR) {
			plugins_log(LOG_DEBUG, "plugins: no folder %s", dirs[i]);
			continue;
		}
		if (err < 0 && err != -ENOMEM)
			plugins_log(LOG_WARN, "plugins: cannot read %s: %s", dirs[i], strerror(-err));
		if (err == -ENOMEM)
			rc = err;
		for (k = 0; k < n; k++) {
			if (rc == 0)
				rc = plugin_host_load_file(h, files[k], config);
			free(files[k]);
		}
		free(files);
		files = NULL;
	}
	return rc;
}

int plugin_host_reload(plugin_host *h, const char *const *dirs, size_t ndirs, json_t *config)
{
	drop_all(h);
	return plugin_host_load_dirs(h, dirs, ndirs, config);
}

void plugin_host_disable_names(plugin_host *h, const char *const *names, size_t n)
{
	for (size_t i = 0; i < h->n; i++) {
		struct plugin *p = h->plugins[i];
		for (size_t k = 0; k < n; k++) {
			if (p->state == PLUGIN_ENABLED && p->name && strcmp(p->name, names[k]) == 0) {
				p->state = PLUGIN_DISABLED;
				free(p->error);
				p->error = strdup("disabled in the configuration (plugins.disabled)");
			}
		}
	}
}

int plugin_host_register_detectors(plugin_host *h)
{
	struct plugin *p;
	size_t i, k;
	int rc;

	h->detectors_registered = true;
	for (i = 0; i < h->n; i++) {
		p = h->plugins[i];
		for (k = 0; p->state == PLUGIN_ENABLED && k < p->ndetectors; k++) {
			if (p->detectors[k].registered)
				continue;
			rc = lua_detector_register(&p->detectors[k]);
			if (rc == -ENOMEM)
				return rc;
			if (rc < 0)
				plugins_log(LOG_WARN, "plugin %s: detector %s not registered: %s",
				            p->name, p->detectors[k].full_name,
				            rc == -EEXIST ? "the name is taken" : strerror(-rc));
		}
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Listing and diagnosing                                              */

static const char *const state_names[] = { "enabled", "disabled", "failed" };

static json_t *plugin_to_json(const struct plugin *p)
{
	json_t *o = json_object(), *dets = json_array(), *tools = json_array();
	size_t i;

	for (i = 0; dets && i < p->ndetectors; i++)
		json_array_append_new(dets, json_string(p->detectors[i].full_name));
	for (i = 0; tools && i < p->ntools; i++)
		json_array_append_new(tools, json_string(p->tools[i]));
	if (!o || !dets || !tools) {
		json_decref(o);
		json_decref(dets);
		json_decref(tools);
		return NULL;
	}
	json_object_set_new(o, "name", json_string(p->name));
	json_object_set_new(o, "version", p->version ? json_string(p->version) : json_null());
	json_object_set_new(o, "description",
	                    p->description ? json_string(p->description) : json_null());
	json_object_set_new(o, "path", json_string(p->path));
	json_object_set_new(o, "state", json_string(state_names[p->state]));
	if (p->error)
		json_object_set_new(o, "error", json_string(p->error));
	json_object_set_new(o, "detectors", dets);
	json_object_set_new(o, "tools", tools);
	return o;
}

json_t *plugin_host_list(plugin_host *h)
{
	json_t *list = json_array(), *item;
	size_t i;

	for (i = 0; list && i < h->n; i++) {
		item = plugin_to_json(h->plugins[i]);
		if (!item || json_array_append_new(list, item) < 0) {
			json_decref(list);
			return NULL;
		}
	}
	return list;
}

struct ranked {
	json_t *diag;     /* borrowed */
	double confidence;
	size_t order;
};

static int cmp_ranked(const void *a, const void *b)
{
	const struct ranked *x = a, *y = b;

	if (x->confidence != y->confidence)
		return x->confidence > y->confidence ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* Sort diagnoses by confidence, highest first, stable. */
static int sort_diagnoses(json_t *diags)
{
	size_t i, n = json_array_size(diags);
	struct ranked *r;
	json_t *copy;

	if (n < 2)
		return 0;
	r = calloc(n, sizeof(*r));
	copy = json_copy(diags);
	if (!r || !copy) {
		free(r);
		json_decref(copy);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		r[i].diag = json_array_get(copy, i);
		r[i].confidence = json_number_value(json_object_get(r[i].diag, "confidence"));
		r[i].order = i;
	}
	qsort(r, n, sizeof(*r), cmp_ranked);
	for (i = 0; i < n; i++)
		json_array_set(diags, i, r[i].diag);
	json_decref(copy);
	free(r);
	return 0;
}

int plugin_host_diagnose(plugin_host *h, json_t *incident, json_t **out)
{
	json_t *diags = json_array();
	size_t i;
	int rc = 0;

	if (!diags)
		return -ENOMEM;
	if (!json_is_object(incident)) {
		json_decref(diags);
		return -EINVAL;
	}
	for (i = 0; i < h->n && rc != -ENOMEM; i++)
		if (h->plugins[i]->state == PLUGIN_ENABLED)
			rc = plugin_diagnose_one(h->plugins[i], incident, diags);
	if (rc != -ENOMEM)
		rc = sort_diagnoses(diags);
	if (rc == -ENOMEM) {
		json_decref(diags);
		return rc;
	}
	*out = diags;
	return 0;
}
