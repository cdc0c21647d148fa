/*
 * pyenv.h - what doctor can tell about a Python interpreter by reading its
 * files, without running it: version, prefix, virtualenv or conda,
 * externally managed (PEP 668), the site directories, and the installed
 * distributions (*.dist-info / *.egg-info) with the top-level modules each
 * provides.
 *
 * Used by plugins (through the Lua API: which distribution provides a
 * module, which versions are installed) and by remedies (a snapshot of the
 * distributions before and after a pip install is what undo removes).
 * All functions return 0 or a negative errno; json_t results are new
 * references owned by the caller.
 */
#ifndef DOCTOR_PYENV_H
#define DOCTOR_PYENV_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

typedef struct py_env {
	char *python;          /* the interpreter path as given, owned */
	char *version;         /* "3.11"; NULL if it cannot be told, owned */
	char *prefix;          /* sys.prefix as the layout shows it, owned */
	char *virtualenv;      /* the venv root (pyvenv.cfg), or NULL; owned */
	bool conda;            /* prefix has conda-meta/ */
	bool externally_managed; /* the stdlib dir has EXTERNALLY-MANAGED */
	char **site_dirs;      /* directories to scan for distributions, in
	                          sys.path order (venv site-packages, then user
	                          site, then system dist/site-packages when the
	                          venv includes them); owned */
	size_t nsite;
} py_env;

/* Read what the layout around `python` says. -ENOENT if python does not
 * exist. */
int py_env_probe(const char *python, py_env **out);
void py_env_free(py_env *env);
/* {python, version, prefix, virtualenv, conda, externally_managed, site_dirs} */
json_t *py_env_to_json(const py_env *env);

/* Installed distributions: [{name, version, location, top_level:[modules]}],
 * the first found of each name (as Python would import it). */
int py_env_distributions(const py_env *env, json_t **out);
/* The installed distribution that provides top-level module `module`
 * (top_level.txt, else RECORD's paths). -ENOENT if none. Strings owned by
 * the caller. */
int py_env_module_owner(const py_env *env, const char *module, char **dist, char **version);
/* PEP 503 normalised name ("Foo_Bar.baz" -> "foo-bar-baz"); NULL on ENOMEM. */
char *py_normalize_name(const char *name);

#endif
