/*
 * pyenv_dist.c - the installed distributions of a probed interpreter: each
 * *.dist-info / *.egg-info in its site directories, read for name,
 * version and the top-level modules it provides, in sys.path order with
 * the first of each (PEP 503 normalised) name winning, as importlib would
 * see them. A broken entry is read as far as it goes, never fatal.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pyenv.h"
#include "pyenv_internal.h"

enum dist_kind { DIST_NONE, DIST_INFO, EGG_INFO_DIR, EGG_INFO_FILE };

/* What kind of metadata entry `name` in `site` is. */
static enum dist_kind dist_kind_of(const char *site, const char *name)
{
	size_t n = strlen(name);
	char *path;
	enum dist_kind kind = DIST_NONE;

	if (n > 10 && !strcmp(name + n - 10, ".dist-info"))
		kind = DIST_INFO;
	else if (n > 9 && !strcmp(name + n - 9, ".egg-info"))
		kind = EGG_INFO_DIR;
	if (kind == DIST_NONE)
		return kind;
	path = pyfs_join(site, name);
	if (pyfs_is_dir(path))
		;
	else if (kind == EGG_INFO_DIR && pyfs_is_file(path))
		kind = EGG_INFO_FILE;  /* distutils wrote PKG-INFO as the entry */
	else
		kind = DIST_NONE;
	free(path);
	return kind;
}

char *py_normalize_name(const char *name)
{
	char *out = malloc(strlen(name) + 1), *o = out;
	const char *p;

	if (!out)
		return NULL;
	for (p = name; *p; p++) {
		if (*p == '-' || *p == '_' || *p == '.') {
			if (o == out || o[-1] != '-')
				*o++ = '-';
		} else {
			*o++ = (char)tolower((unsigned char)*p);
		}
	}
	*o = '\0';
	return out;
}

/* Name and version from the entry's stem "Foo_Bar-1.0" (of
 * "Foo_Bar-1.0.dist-info", or "Foo-1.0-py3.11" of an egg-info), for what
 * the metadata does not say. Leaves NULL what the stem does not say. */
static int name_from_stem(const char *stem, char **name, char **version)
{
	const char *dash = strchr(stem, '-'), *vend;
	size_t n = dash ? (size_t)(dash - stem) : strlen(stem);

	if (!*name && n && pymeta_is_text(stem, n)) {
		*name = strndup(stem, n);
		if (!*name)
			return -ENOMEM;
	}
	if (*version || !dash)
		return 0;
	vend = strchrnul(dash + 1, '-');
	n = (size_t)(vend - dash - 1);
	if (n && pymeta_is_text(dash + 1, n)) {
		*version = strndup(dash + 1, n);
		if (!*version)
			return -ENOMEM;
	}
	return 0;
}

/* Read name and version from the METADATA / PKG-INFO at path. */
static int read_meta(const char *path, char **name, char **version)
{
	char *text;
	size_t len;
	bool oom1, oom2;

	if (pyfs_read_capped(path, PYENV_META_FILE_MAX, &text, &len) < 0)
		return 0;  /* missing or unreadable: fall back to the entry name */
	*name = pymeta_header(text, len, "Name", &oom1);
	*version = pymeta_header(text, len, "Version", &oom2);
	free(text);
	return oom1 || oom2 ? -ENOMEM : 0;
}

/* Fill `modules` from top_level.txt, else RECORD. 0 or -ENOMEM. */
static int read_modules(const char *dir, enum dist_kind kind, json_t *modules)
{
	char *path = pyfs_join(dir, "top_level.txt"), *text = NULL;
	size_t len;
	int rc = -ENOMEM;

	if (!path)
		return rc;
	if (pyfs_read_capped(path, PYENV_SMALL_FILE_MAX, &text, &len) == 0) {
		rc = pymeta_top_level(text, len, modules);
		goto out;
	}
	rc = 0;
	if (kind != DIST_INFO)
		goto out;
	free(path);
	path = pyfs_join(dir, "RECORD");
	if (path && pyfs_read_capped(path, PYENV_RECORD_FILE_MAX, &text, &len) == 0)
		rc = pymeta_record_modules(text, len, modules);
	else if (!path)
		rc = -ENOMEM;
out:
	free(text);
	free(path);
	return rc;
}

/* The metadata file of an entry at path: METADATA, PKG-INFO, or the
 * entry itself. Newly allocated; NULL on ENOMEM. */
static char *meta_path(const char *path, enum dist_kind kind)
{
	if (kind == EGG_INFO_FILE)
		return strdup(path);
	return pyfs_join(path, kind == DIST_INFO ? "METADATA" : "PKG-INFO");
}

/* Read one metadata entry of `site` into a new {name, version, location,
 * top_level} object (*out owned by the caller; NULL when the entry names
 * no distribution). Returns 0 or -ENOMEM. */
static int dist_read(const char *site, const char *entry, enum dist_kind kind,
                     json_t **out)
{
	char *path = pyfs_join(site, entry), *meta = NULL, *stem = NULL;
	char *name = NULL, *version = NULL;
	size_t suffix = kind == DIST_INFO ? 10 : 9;
	json_t *modules = json_array();
	int rc = -ENOMEM;

	*out = NULL;
	if (!path || !modules || !(meta = meta_path(path, kind)) ||
	    !(stem = strndup(entry, strlen(entry) - suffix)))
		goto out;
	rc = read_meta(meta, &name, &version);
	if (rc == 0)
		rc = name_from_stem(stem, &name, &version);
	if (rc == 0 && kind != EGG_INFO_FILE)
		rc = read_modules(path, kind, modules);
	if (rc < 0 || !name)
		goto out;
	*out = json_pack("{s:s, s:o, s:o, s:O}", "name", name,
	                 "version", version ? json_string(version) : json_null(),
	                 "location", pymeta_json_text(site),
	                 "top_level", modules);
	if (!*out)
		rc = -ENOMEM;
out:
	json_decref(modules);
	free(version);
	free(name);
	free(stem);
	free(meta);
	free(path);
	return rc;
}

/* Add dist to dists unless its normalised name is in seen (a set). Takes
 * the reference to dist. Returns 0 or -ENOMEM. */
static int dist_add_first(json_t *dists, json_t *seen, json_t *dist)
{
	char *key = py_normalize_name(json_string_value(json_object_get(dist, "name")));
	int rc = -ENOMEM;

	if (!key)
		goto out;
	rc = 0;
	if (json_object_get(seen, key))
		goto out;  /* shadowed by one earlier on sys.path */
	if (json_object_set_new(seen, key, json_true()) ||
	    json_array_append(dists, dist))
		rc = -ENOMEM;
out:
	free(key);
	json_decref(dist);
	return rc;
}

/* Append the distributions of one site dir, in name order. An unreadable
 * dir reads as empty, as it would for the import system. */
static int scan_site(const char *site, json_t *dists, json_t *seen)
{
	struct dirent **ents = NULL;
	enum dist_kind kind;
	json_t *dist;
	int n, i, rc = 0;

	n = scandir(site, &ents, NULL, alphasort);
	if (n < 0)
		return errno == ENOMEM ? -ENOMEM : 0;
	for (i = 0; i < n; i++) {
		kind = rc == 0 ? dist_kind_of(site, ents[i]->d_name) : DIST_NONE;
		if (kind != DIST_NONE)
			rc = dist_read(site, ents[i]->d_name, kind, &dist);
		if (kind != DIST_NONE && rc == 0 && dist)
			rc = dist_add_first(dists, seen, dist);
		free(ents[i]);
	}
	free(ents);
	return rc;
}

int py_env_distributions(const py_env *env, json_t **out)
{
	json_t *dists = json_array(), *seen = json_object();
	size_t i;
	int rc = dists && seen ? 0 : -ENOMEM;

	*out = NULL;
	for (i = 0; rc == 0 && i < env->nsite; i++)
		rc = scan_site(env->site_dirs[i], dists, seen);
	json_decref(seen);
	if (rc < 0) {
		json_decref(dists);
		return rc;
	}
	*out = dists;
	return 0;
}

/* Whether the array `modules` holds the string name[0..n). */
static bool provides(json_t *modules, const char *name, size_t n)
{
	size_t i;
	json_t *m;

	json_array_foreach(modules, i, m) {
		if (json_string_length(m) == n && !memcmp(json_string_value(m), name, n))
			return true;
	}
	return false;
}

int py_env_module_owner(const py_env *env, const char *module, char **dist,
                        char **version)
{
	size_t n = module ? strcspn(module, ".") : 0, i;
	json_t *dists, *d, *v;
	int rc;

	*dist = *version = NULL;
	if (n == 0)
		return -EINVAL;
	rc = py_env_distributions(env, &dists);
	if (rc < 0)
		return rc;
	rc = -ENOENT;
	/* "a.b.c" is owned by whoever provides the top-level "a" */
	json_array_foreach(dists, i, d) {
		if (!provides(json_object_get(d, "top_level"), module, n))
			continue;
		v = json_object_get(d, "version");
		*dist = strdup(json_string_value(json_object_get(d, "name")));
		*version = json_is_string(v) ? strdup(json_string_value(v)) : NULL;
		rc = *dist && (*version || !json_is_string(v)) ? 0 : -ENOMEM;
		break;
	}
	if (rc == -ENOMEM) {
		free(*dist);
		free(*version);
		*dist = *version = NULL;
	}
	json_decref(dists);
	return rc;
}
