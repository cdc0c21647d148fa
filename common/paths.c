/*
 * paths.c - where doctor keeps its socket, data, config and plugins (see
 * paths.h).
 *
 * The rules follow the XDG Base Directory specification: a variable counts
 * only when it is set to an absolute path (the spec says relative ones are
 * to be ignored), and the home directory comes from $HOME or, when that is
 * unset, from the password database. doctor's own variables (DOCTOR_*) are
 * taken as given whenever they are non-empty: the user set them on purpose.
 */
#include "paths.h"

#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Value of a DOCTOR_* variable, or NULL when unset or empty. Borrowed. */
static const char *doctor_env(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

/* Value of an XDG variable, or NULL unless it is an absolute path. */
static const char *xdg_env(const char *name)
{
	const char *v = getenv(name);

	return v && v[0] == '/' ? v : NULL;
}

const char *paths_home_dir(void)
{
	const char *home = getenv("HOME");
	struct passwd *pw;

	if (home && *home)
		return home;
	pw = getpwuid(getuid());
	return pw && pw->pw_dir && *pw->pw_dir ? pw->pw_dir : NULL;
}

/* printf into a new string; NULL when out of memory. */
__attribute__((format(printf, 1, 2)))
static char *str_printf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	return n < 0 ? NULL : s;
}

char *paths_socket(void)
{
	const char *v;

	if ((v = doctor_env("DOCTOR_SOCKET")))
		return strdup(v);
	if ((v = xdg_env("XDG_RUNTIME_DIR")))
		return str_printf("%s/doctor/doctord.sock", v);
	return str_printf("/tmp/doctor-%u/doctord.sock", (unsigned)getuid());
}

char *paths_data_dir(void)
{
	const char *v;

	if ((v = doctor_env("DOCTOR_DATA_DIR")))
		return strdup(v);
	if ((v = xdg_env("XDG_DATA_HOME")))
		return str_printf("%s/doctor", v);
	if (!(v = paths_home_dir()))
		return NULL;
	return str_printf("%s/.local/share/doctor", v);
}

char *paths_config_file(void)
{
	const char *v;

	if ((v = doctor_env("DOCTOR_CONFIG")))
		return strdup(v);
	if ((v = xdg_env("XDG_CONFIG_HOME")))
		return str_printf("%s/doctor/doctor.yaml", v);
	if (!(v = paths_home_dir()))
		return NULL;
	return str_printf("%s/.config/doctor/doctor.yaml", v);
}

void paths_free_list(char **list, size_t n)
{
	size_t i;

	if (!list)
		return;
	for (i = 0; i < n; i++)
		free(list[i]);
	free(list);
}

/* The user's plugin folder, or NULL when there is no home to put it in
 * (then *failed stays false) or no memory (*failed set). */
static char *user_plugin_dir(bool *failed)
{
	const char *v;
	char *dir;

	if ((v = xdg_env("XDG_CONFIG_HOME")))
		dir = str_printf("%s/doctor/plugins", v);
	else if ((v = paths_home_dir()))
		dir = str_printf("%s/.config/doctor/plugins", v);
	else
		return NULL;
	if (!dir)
		*failed = true;
	return dir;
}

/* Append the non-empty components of a colon-separated list. */
static void add_path_list(char **list, size_t *n, const char *colon_list,
                          bool *failed)
{
	const char *start = colon_list, *end;

	for (; !*failed; start = end + 1) {
		end = strchrnul(start, ':');
		if (end > start && !(list[(*n)++] = strndup(start, (size_t)(end - start))))
			*failed = true;
		if (!*end)
			break;
	}
}

/* Append s, a new string or NULL (nothing to add, or out of memory). */
static void add_dir(char **list, size_t *n, const char *s, bool *failed)
{
	if (s && !(list[(*n)++] = strdup(s)))
		*failed = true;
}

char **paths_plugin_dirs(const char *shipped_dir, const char *const *extra,
                         size_t nextra, size_t *n)
{
	const char *env = doctor_env("DOCTOR_PLUGIN_PATH");
	size_t cap = 4 + nextra, i;   /* 3 standard folders and a NULL */
	bool failed = false;
	char **list;
	char *user;

	*n = 0;
	for (i = 0; env && env[i]; i++)
		cap += env[i] == ':';
	list = calloc(cap, sizeof(*list));
	if (!list)
		return NULL;
	if (env) {
		add_path_list(list, n, env, &failed);
	} else {
		add_dir(list, n, shipped_dir, &failed);
		add_dir(list, n, DOCTOR_SYSCONFDIR "/doctor/plugins", &failed);
		user = user_plugin_dir(&failed);
		add_dir(list, n, user, &failed);
		free(user);
	}
	for (i = 0; i < nextra && !failed; i++)
		add_dir(list, n, extra[i], &failed);
	if (failed) {
		paths_free_list(list, *n);
		*n = 0;
		return NULL;
	}
	return list;
}

/* POSIX dirname(3) semantics without touching the argument:
 * "a/b" -> "a", "a/b/" -> "a", "/a" -> "/", "a" -> ".", "" -> ".". */
char *paths_dirname(const char *path)
{
	size_t end = strlen(path);

	while (end > 1 && path[end - 1] == '/')    /* trailing slashes */
		end--;
	while (end > 0 && path[end - 1] != '/')    /* the last component */
		end--;
	if (end == 0)
		return strdup(path[0] == '/' ? "/" : ".");
	while (end > 1 && path[end - 1] == '/')    /* slashes before it */
		end--;
	return strndup(path, end);
}

/* Create one directory. An existing directory is success and left alone;
 * a new one gets exactly `mode` (chmod, because mkdir's mode is filtered by
 * the umask and a caller asking for 0700 or 0755 means it). */
static int mkdir_one(const char *dir, unsigned mode)
{
	struct stat sb;

	if (mkdir(dir, mode) == 0)
		return chmod(dir, mode) == 0 ? 0 : -errno;
	if (errno != EEXIST)
		return -errno;
	if (stat(dir, &sb) < 0)
		return -errno;
	return S_ISDIR(sb.st_mode) ? 0 : -ENOTDIR;
}

int paths_mkdir_p(const char *path, unsigned mode)
{
	char *dir;
	char *p;
	int rc = 0;

	if (!path || !*path)
		return -EINVAL;
	dir = strdup(path);
	if (!dir)
		return -ENOMEM;
	/* Walk the components: cut the string at each '/', create the prefix. */
	for (p = dir + 1; *p; p++) {
		if (*p != '/' || p[-1] == '/')
			continue;
		*p = '\0';
		rc = mkdir_one(dir, mode);
		*p = '/';
		if (rc < 0)
			goto out;
	}
	rc = mkdir_one(dir, mode);
out:
	free(dir);
	return rc;
}
