/*
 * pyenv.c - telling a Python interpreter's layout from its files alone:
 * whether it is a venv (pyvenv.cfg beside or above its bin dir), a conda
 * env, a Debian system python or a plain `make install` / pyenv prefix;
 * its version, prefix, PEP 668 marker, and site directories in the order
 * site.py would put them on sys.path. The interpreter is never run: the
 * daemon must not execute what a user's notebook points at just to look.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <dirent.h>
#include <unistd.h>

#include "paths.h"
#include "pyenv.h"
#include "pyenv_internal.h"

/* What a pyvenv.cfg says; strings owned. */
struct venv_cfg {
	char *home;            /* directory of the base interpreter */
	char *version;         /* "3.11" */
	bool system_site;      /* include-system-site-packages = true */
};

/* Site directories being collected, deduplicated by identity because a
 * venv's lib64 is usually a symlink to its lib. */
struct site_list {
	py_env *env;
	struct stat *seen;
};

/* ---- small path helpers ---- */

/* "3.11" from "3.11.2", "3.11.2.final.0" or "3.11"; NULL if not one. */
static char *major_minor(const char *s)
{
	unsigned major, minor;
	char *out;

	if (sscanf(s, "%u.%u", &major, &minor) != 2 || major > 99 || minor > 999)
		return NULL;
	if (asprintf(&out, "%u.%u", major, minor) < 0)
		return NULL;
	return out;
}

/* "3.11" from a file name "python3.11" (or "python3.11d"); else NULL. */
static char *version_from_name(const char *path)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	if (strncmp(base, "python", 6) || !strchr(base + 6, '.'))
		return NULL;
	return major_minor(base + 6);
}

/* The version of the one lib/pythonX.Y directory under prefix; NULL if
 * there is none or more than one (then the layout cannot tell). */
static char *version_from_lib(const char *prefix)
{
	char *lib = pyfs_join(prefix, "lib"), *found = NULL, *v;
	struct dirent *de;
	DIR *d = lib ? opendir(lib) : NULL;
	int count = 0;

	while (d && (de = readdir(d))) {
		v = version_from_name(de->d_name);
		if (!v)
			continue;
		count++;
		free(found);
		found = v;
	}
	if (d)
		closedir(d);
	free(lib);
	if (count != 1) {
		free(found);
		return NULL;
	}
	return found;
}

/* An executable named `name` in $PATH, newly allocated; NULL if none. */
static char *find_in_path(const char *name)
{
	const char *path = getenv("PATH"), *p, *end;
	char *dir, *cand;

	for (p = path; p && *p; p = *end ? end + 1 : end) {
		end = strchrnul(p, ':');
		dir = end > p ? strndup(p, (size_t)(end - p)) : strdup(".");
		cand = dir ? pyfs_join(dir, name) : NULL;
		free(dir);
		if (cand && access(cand, X_OK) == 0 && pyfs_is_file(cand))
			return cand;
		free(cand);
	}
	return NULL;
}

/* The directory part of path made absolute, without resolving symlinks in
 * the last component (a venv's python is a symlink out of the venv). */
static char *absolute_dirname(const char *path)
{
	char *dir = paths_dirname(path), *abs;

	if (!dir || dir[0] == '/')
		return dir;
	abs = realpath(dir, NULL);
	free(dir);
	return abs;
}

/* ---- pyvenv.cfg ---- */

static void venv_cfg_free(struct venv_cfg *cfg)
{
	free(cfg->home);
	free(cfg->version);
}

/* Apply one "key = value" line of pyvenv.cfg. */
static void venv_cfg_line(struct venv_cfg *cfg, char *line)
{
	char *eq = strchr(line, '='), *key = line, *val, *end;

	if (!eq)
		return;
	*eq = '\0';
	val = eq + 1;
	while (*key == ' ' || *key == '\t')
		key++;
	for (end = eq; end > key && (end[-1] == ' ' || end[-1] == '\t'); end--)
		end[-1] = '\0';
	while (*val == ' ' || *val == '\t')
		val++;
	for (end = val + strlen(val); end > val && (end[-1] == ' ' ||
	     end[-1] == '\t' || end[-1] == '\r'); end--)
		end[-1] = '\0';
	if (!strcasecmp(key, "home") && *val && !cfg->home) {
		cfg->home = strdup(val);
	} else if ((!strcasecmp(key, "version") ||
	            !strcasecmp(key, "version_info")) && !cfg->version) {
		cfg->version = major_minor(val);
	} else if (!strcasecmp(key, "include-system-site-packages")) {
		cfg->system_site = !strcasecmp(val, "true");
	}
}

static int venv_cfg_read(const char *path, struct venv_cfg *cfg)
{
	char *text, *line, *save = NULL;
	size_t len;
	int rc;

	rc = pyfs_read_capped(path, PYENV_SMALL_FILE_MAX, &text, &len);
	if (rc < 0)
		return rc;
	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save))
		venv_cfg_line(cfg, line);
	free(text);
	return 0;
}

/* The venv root: the bin dir itself or its parent, whichever holds
 * pyvenv.cfg (site.py looks in both). NULL if not a venv or ENOMEM. */
static char *find_venv_root(const char *bindir)
{
	char *cfg = pyfs_join(bindir, "pyvenv.cfg"), *parent;

	if (cfg && pyfs_is_file(cfg)) {
		free(cfg);
		return strdup(bindir);
	}
	free(cfg);
	parent = paths_dirname(bindir);
	cfg = parent ? pyfs_join(parent, "pyvenv.cfg") : NULL;
	if (cfg && pyfs_is_file(cfg)) {
		free(cfg);
		return parent;
	}
	free(cfg);
	free(parent);
	return NULL;
}

/* ---- prefix ---- */

/* The prefix an interpreter at exe belongs to: the parent of its bin dir.
 * Like getpath, follow a symlinked interpreter to where it really lives
 * (/usr/local/bin/python3 -> ~/.pyenv/versions/3.11.7/bin/python3.11),
 * unless the real place shows no lib/ while the given one does. */
static char *find_prefix(const char *exe, const char *given_bindir)
{
	char *real = realpath(exe, NULL), *bindir, *prefix, *lib;
	char *given_prefix = paths_dirname(given_bindir);

	bindir = real ? paths_dirname(real) : NULL;
	prefix = bindir ? paths_dirname(bindir) : NULL;
	lib = prefix ? pyfs_join(prefix, "lib") : NULL;
	if (!lib || !pyfs_is_dir(lib)) {
		free(prefix);
		prefix = given_prefix;
		given_prefix = NULL;
	}
	free(lib);
	free(bindir);
	free(real);
	free(given_prefix);
	return prefix;
}

/* The base prefix of a venv from its cfg's home (the base bin dir). */
static char *base_prefix_from_home(const char *home)
{
	const char *base = strrchr(home, '/');

	if (base && !strcmp(base, "/bin"))
		return paths_dirname(home);
	return strdup(home);
}

/* ---- site directories ---- */

/* Add dir/name1/name2 if it is a directory not yet listed (site.py skips
 * missing ones too). Returns 0 or -ENOMEM. */
static int site_add(struct site_list *sl, const char *dir, const char *name1,
                    const char *name2)
{
	py_env *env = sl->env;
	char *path = pyfs_join3(dir, name1, name2), **dirs;
	struct stat st, *seen;
	size_t i;

	if (!path)
		return -ENOMEM;
	if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
		goto skip;
	for (i = 0; i < env->nsite; i++) {
		if (sl->seen[i].st_dev == st.st_dev && sl->seen[i].st_ino == st.st_ino)
			goto skip;
	}
	dirs = realloc(env->site_dirs, (env->nsite + 1) * sizeof(*dirs));
	if (dirs)
		env->site_dirs = dirs;
	seen = realloc(sl->seen, (env->nsite + 1) * sizeof(*seen));
	if (seen)
		sl->seen = seen;
	if (!dirs || !seen) {
		free(path);
		return -ENOMEM;
	}
	sl->seen[env->nsite] = st;
	env->site_dirs[env->nsite++] = path;
	return 0;
skip:
	free(path);
	return 0;
}

/* A prefix's own site-packages (venv, pyenv, conda, make install). */
static int site_add_prefix(struct site_list *sl, const char *prefix,
                           const char *pyver)
{
	int rc = site_add(sl, prefix, "lib", pyver);

	if (rc == 0)
		rc = site_add(sl, prefix, "lib64", pyver);
	return rc;
}

/* Where the base interpreter's packages live. Debian patches site.py to
 * use dist-packages, recognisable by the shared lib/python3/dist-packages. */
static int site_add_system(struct site_list *sl, const char *base,
                           const char *version, const char *pyver)
{
	char *debian = pyfs_join3(base, "lib", "python3/dist-packages");
	char ver_dist[64];
	int rc;

	if (!debian)
		return -ENOMEM;
	if (!pyfs_is_dir(debian)) {
		free(debian);
		return version ? site_add_prefix(sl, base, pyver) : 0;
	}
	free(debian);
	rc = 0;
	if (version) {
		snprintf(ver_dist, sizeof(ver_dist), "python%s/dist-packages", version);
		rc = site_add(sl, base, "local/lib", ver_dist);
	}
	if (rc == 0)
		rc = site_add(sl, base, "lib", "python3/dist-packages");
	if (rc == 0 && version)
		rc = site_add(sl, base, "lib", ver_dist);
	return rc;
}

/* venv site-packages, then the user site, then the system dirs (these two
 * only outside a venv or when it includes system site packages). */
static int collect_site_dirs(py_env *env, const char *base_prefix,
                             const struct venv_cfg *cfg)
{
	struct site_list sl = { .env = env, .seen = NULL };
	bool system = !env->virtualenv || cfg->system_site;
	const char *home = paths_home_dir();
	char pyver[64] = "";
	int rc = 0;

	if (env->version)
		snprintf(pyver, sizeof(pyver), "python%s/site-packages", env->version);
	if (env->virtualenv && env->version)
		rc = site_add_prefix(&sl, env->virtualenv, pyver);
	if (rc == 0 && system && home && env->version)
		rc = site_add(&sl, home, ".local/lib", pyver);
	if (rc == 0 && system && base_prefix)
		rc = site_add_system(&sl, base_prefix, env->version, pyver);
	free(sl.seen);
	return rc;
}

/* ---- probe ---- */

/* Version, in the order of trust: the file name (python3.11, given or
 * symlinked to), pyvenv.cfg, then the one lib/pythonX.Y under a prefix. */
static char *detect_version(const char *python, const struct venv_cfg *cfg,
                            const char *prefix, const char *base_prefix)
{
	char *real = realpath(python, NULL), *v = version_from_name(python);

	if (!v && real)
		v = version_from_name(real);
	free(real);
	if (!v && cfg->version)
		v = strdup(cfg->version);
	if (!v)
		v = version_from_lib(prefix);
	if (!v && base_prefix && strcmp(prefix, base_prefix))
		v = version_from_lib(base_prefix);
	return v;
}

/* conda (and mamba) keep their package records in prefix/conda-meta. */
static bool detect_conda(const char *prefix)
{
	char *meta = pyfs_join(prefix, "conda-meta");
	bool found = pyfs_is_dir(meta);

	free(meta);
	return found;
}

/* PEP 668: the marker sits in the base stdlib dir, and installers ignore
 * it inside a venv, which is what "externally managed" is asked for. */
static bool detect_externally_managed(const py_env *env)
{
	char *marker;
	bool found;

	if (env->virtualenv || !env->version)
		return false;
	if (asprintf(&marker, "%s/lib/python%s/EXTERNALLY-MANAGED", env->prefix,
	             env->version) < 0)
		return false;
	found = pyfs_is_file(marker);
	free(marker);
	return found;
}

/* Fill env's prefix and virtualenv, *cfg and *base_prefix (owned by the
 * caller) from the layout around exe. Returns 0 or a negative errno. */
static int probe_prefixes(py_env *env, const char *exe, struct venv_cfg *cfg,
                          char **base_prefix)
{
	char *bindir = absolute_dirname(exe), *cfgpath = NULL;
	int rc = -ENOMEM;

	*base_prefix = NULL;
	if (!bindir)
		return errno && errno != ENOMEM ? -errno : -ENOMEM;
	env->virtualenv = find_venv_root(bindir);
	if (env->virtualenv) {
		cfgpath = pyfs_join(env->virtualenv, "pyvenv.cfg");
		env->prefix = strdup(env->virtualenv);
		if (!cfgpath || !env->prefix)
			goto out;
		venv_cfg_read(cfgpath, cfg);  /* unreadable: a venv all the same */
		*base_prefix = cfg->home ? base_prefix_from_home(cfg->home) :
		                           find_prefix(exe, bindir);
	} else {
		env->prefix = find_prefix(exe, bindir);
		*base_prefix = env->prefix ? strdup(env->prefix) : NULL;
	}
	if (env->prefix && *base_prefix)
		rc = 0;
out:
	free(cfgpath);
	free(bindir);
	return rc;
}

/* The file to look at: python itself, or found in $PATH if it has no '/'.
 * Returns 0 or -ENOENT (no such interpreter) / -ENOMEM. */
static int locate_python(const char *python, char **exe)
{
	struct stat st;
	int rc;

	*exe = strchr(python, '/') ? strdup(python) : find_in_path(python);
	if (!*exe)
		return strchr(python, '/') ? -ENOMEM : -ENOENT;
	if (stat(*exe, &st) < 0)
		rc = -errno;
	else if (S_ISDIR(st.st_mode))
		rc = -EISDIR;
	else
		return 0;
	free(*exe);
	*exe = NULL;
	return rc;
}

int py_env_probe(const char *python, py_env **out)
{
	struct venv_cfg cfg = { 0 };
	char *exe = NULL, *base_prefix = NULL;
	py_env *env;
	int rc;

	*out = NULL;
	if (!python || !*python)
		return -EINVAL;
	env = calloc(1, sizeof(*env));
	if (!env || !(env->python = strdup(python))) {
		rc = -ENOMEM;
		goto out;
	}
	rc = locate_python(python, &exe);
	if (rc == 0)
		rc = probe_prefixes(env, exe, &cfg, &base_prefix);
	if (rc < 0)
		goto out;
	env->version = detect_version(exe, &cfg, env->prefix, base_prefix);
	env->conda = detect_conda(env->prefix);
	env->externally_managed = detect_externally_managed(env);
	rc = collect_site_dirs(env, base_prefix, &cfg);
	if (rc == 0) {
		*out = env;
		env = NULL;
	}
out:
	py_env_free(env);
	venv_cfg_free(&cfg);
	free(base_prefix);
	free(exe);
	return rc;
}

void py_env_free(py_env *env)
{
	size_t i;

	if (!env)
		return;
	for (i = 0; i < env->nsite; i++)
		free(env->site_dirs[i]);
	free(env->site_dirs);
	free(env->python);
	free(env->version);
	free(env->prefix);
	free(env->virtualenv);
	free(env);
}

/* A JSON string of s, or null when s is NULL. NULL on ENOMEM. */
static json_t *text_or_null(const char *s)
{
	return s ? pymeta_json_text(s) : json_null();
}

json_t *py_env_to_json(const py_env *env)
{
	json_t *obj, *dirs;
	size_t i;

	dirs = json_array();
	for (i = 0; dirs && i < env->nsite; i++) {
		if (json_array_append_new(dirs, pymeta_json_text(env->site_dirs[i]))) {
			json_decref(dirs);
			return NULL;
		}
	}
	/* "o" steals and fails cleanly on a NULL member */
	obj = json_pack("{s:o, s:o, s:o, s:o, s:b, s:b, s:o}",
	                "python", text_or_null(env->python),
	                "version", text_or_null(env->version),
	                "prefix", text_or_null(env->prefix),
	                "virtualenv", text_or_null(env->virtualenv),
	                "conda", env->conda,
	                "externally_managed", env->externally_managed,
	                "site_dirs", dirs);
	return obj;
}
