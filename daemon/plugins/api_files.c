/*
 * api_files.c - doctor.read_file, doctor.file_exists, doctor.list_dir:
 * reading the project the failing code ran in, and nothing else.
 *
 * Confinement: a path (relative ones against the incident source's cwd)
 * is resolved with realpath, which follows every symlink and "..", and
 * must be the real cwd or under it; with no cwd known everything is
 * refused. Results are read into Lua-owned memory (a luaL_Buffer, a
 * userdata scratch), so no C allocation or descriptor is live while a Lua
 * call could raise.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plugin_api.h"
#include "plugins_internal.h"

#define READ_DEFAULT (64u << 10)
#define READ_MAX     (1u << 20)
#define LIST_MAX     1000

/* Resolve path into real (PATH_MAX bytes) inside the call's cwd. 0, or
 * -EPERM (outside, or no cwd), or the errno of realpath. */
static int confine(lua_State *L, const char *path, char *real)
{
	const char *cwd = plugin_of(L)->call.cwd;
	char root[PATH_MAX], joined[PATH_MAX];
	size_t rl;

	if (!cwd || !realpath(cwd, root))
		return -EPERM;
	if (snprintf(joined, sizeof(joined), "%s%s%s", path[0] == '/' ? "" : root,
	             path[0] == '/' ? "" : "/", path) >= (int)sizeof(joined))
		return -ENAMETOOLONG;
	if (!realpath(joined, real))
		return -errno;
	rl = strlen(root);
	if (strcmp(root, "/") == 0 ||
	    (strncmp(real, root, rl) == 0 && (real[rl] == '/' || real[rl] == '\0')))
		return 0;
	return -EPERM;
}

/* Open what confine() resolved, then check the object actually opened:
 * between realpath() and open() a process writing in the project could
 * swap a component for a symlink, so the check that counts is on the fd
 * (its /proc/self/fd link names where it really is). Returns the fd or a
 * negative errno (-EPERM when it turned out to be outside). */
static int open_confined(lua_State *L, const char *real, int flags)
{
	const char *cwd = plugin_of(L)->call.cwd;
	char root[PATH_MAX], link[64], at[PATH_MAX];
	int fd = open(real, flags | O_NOFOLLOW | O_CLOEXEC);
	ssize_t n;
	size_t rl;

	if (fd < 0)
		return -errno;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, at, sizeof(at) - 1);
	if (n < 0 || !cwd || !realpath(cwd, root)) {
		close(fd);
		return -EPERM;
	}
	at[n] = '\0';
	rl = strlen(root);
	if (strcmp(root, "/") == 0 ||
	    (strncmp(at, root, rl) == 0 && (at[rl] == '/' || at[rl] == '\0')))
		return fd;
	close(fd);
	return -EPERM;
}

static int confine_fail(lua_State *L, const char *path, int rc)
{
	if (rc == -EPERM && !plugin_of(L)->call.cwd)
		return api_fail(L, "%s: no working directory is known for this incident", path);
	if (rc == -EPERM)
		return api_fail(L, "%s: outside the working directory", path);
	return api_fail(L, "%s: %s", path, strerror(-rc));
}

/*
 * doctor.read_file(path [, max_bytes]) -> string | nil, err
 *   path: relative to the incident source's cwd, or absolute under it
 *   max_bytes: at most this many bytes are returned (default 65536,
 *   at most 1048576); a longer file is cut.
 * Fails when no cwd is known, outside it (.., symlinks), not a regular
 * file, unreadable.
 */
static int l_read_file(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	lua_Integer max = luaL_optinteger(L, 2, READ_DEFAULT);
	char real[PATH_MAX], *buf;
	size_t got = 0;
	luaL_Buffer b;
	struct stat st;
	ssize_t n;
	int fd, rc;

	luaL_argcheck(L, max > 0, 2, "must be positive");
	if (max > READ_MAX)
		max = READ_MAX;
	if ((rc = confine(L, path, real)) < 0)
		return confine_fail(L, path, rc);
	buf = luaL_buffinitsize(L, &b, (size_t)max);   /* before the fd: it may raise */
	fd = open_confined(L, real, O_RDONLY | O_NONBLOCK);
	if (fd < 0)
		return confine_fail(L, path, fd);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return api_fail(L, "%s: not a regular file", path);
	}
	while (got < (size_t)max && (n = read(fd, buf + got, (size_t)max - got)) > 0)
		got += (size_t)n;
	close(fd);
	luaL_pushresultsize(&b, got);
	return 1;
}

/*
 * doctor.file_exists(path) -> boolean
 *   path: as for read_file. False when it does not exist or is outside
 *   the cwd (or no cwd is known).
 */
static int l_file_exists(lua_State *L)
{
	char real[PATH_MAX];

	lua_pushboolean(L, confine(L, luaL_checkstring(L, 1), real) == 0);
	return 1;
}

struct names {
	size_t n;
	char name[LIST_MAX][NAME_MAX + 1];
};

static int cmp_name(const void *a, const void *b)
{
	return strcmp(a, b);
}

/*
 * doctor.list_dir(path) -> { names } | nil, err
 *   path: a folder, confined as for read_file. The names (without "." and
 *   ".."), sorted, at most 1000 (the rest are left out).
 */
static int l_list_dir(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	char real[PATH_MAX];
	struct names *names;
	struct dirent *de;
	size_t i;
	DIR *d;
	int rc, fd;

	if ((rc = confine(L, path, real)) < 0)
		return confine_fail(L, path, rc);
	/* allocated first: a Lua memory error must not leak the open dir */
	names = lua_newuserdatauv(L, sizeof(*names), 0);
	names->n = 0;
	if ((fd = open_confined(L, real, O_RDONLY | O_DIRECTORY)) < 0)
		return confine_fail(L, path, fd);
	if (!(d = fdopendir(fd))) {
		rc = errno;
		close(fd);
		return api_fail(L, "%s: %s", path, strerror(rc));
	}
	while ((de = readdir(d)) && names->n < LIST_MAX) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			memcpy(names->name[names->n++], de->d_name, strlen(de->d_name) + 1);
	}
	closedir(d);
	qsort(names->name, names->n, sizeof(names->name[0]), cmp_name);
	lua_createtable(L, (int)names->n, 0);
	for (i = 0; i < names->n; i++) {
		lua_pushstring(L, names->name[i]);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	return 1;
}

const luaL_Reg plugin_api_files[] = {
	{ "read_file", l_read_file },
	{ "file_exists", l_file_exists },
	{ "list_dir", l_list_dir },
	{ NULL, NULL },
};
