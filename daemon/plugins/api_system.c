/*
 * api_system.c - doctor.which, doctor.port_owner, doctor.disk_usage,
 * doctor.largest_dirs: facts about the machine a diagnosis may need
 * (is a command installed, who holds a port, is the disk full).
 *
 * Everything is read from the file system with stack or Lua-owned
 * buffers; nothing is run. port_owner names only the user's own
 * processes. largest_dirs walks with openat/fstatat, never follows a
 * symlink, stays on one file system, and stops after a number of entries
 * and a time budget.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "plugin_api.h"
#include "plugins_internal.h"

#define WALK_MAX_ENTRIES 200000ul
#define WALK_MAX_MS      2000u
#define WALK_MAX_DEPTH   64
#define LARGEST_MAX      100

/*
 * doctor.which(command) -> path | nil
 *   command: a bare command name ("git"); names with "/" give nil.
 * The first executable regular file of that name in the daemon's PATH.
 */
static int l_which(lua_State *L)
{
	const char *cmd = luaL_checkstring(L, 1), *path = getenv("PATH"), *end;
	char buf[PATH_MAX];
	struct stat st;
	size_t len;

	if (!*cmd || strchr(cmd, '/') || !path)
		return 0;
	for (; *path; path = *end ? end + 1 : end) {
		end = strchrnul(path, ':');
		len = (size_t)(end - path);
		if (len == 0 || path[0] != '/')
			continue;
		if (snprintf(buf, sizeof(buf), "%.*s/%s", (int)len, path, cmd) >= (int)sizeof(buf))
			continue;
		if (stat(buf, &st) == 0 && S_ISREG(st.st_mode) && access(buf, X_OK) == 0) {
			lua_pushstring(L, buf);
			return 1;
		}
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* port_owner                                                          */

/* The inode and uid of a socket listening on port in one /proc/net
 * table; 0 if found. */
static int find_listener(const char *table, unsigned port, unsigned long *inode, unsigned *uid)
{
	char line[512], local[128];
	unsigned lport, state;
	FILE *f = fopen(table, "re");
	int rc = -ENOENT;

	if (!f)
		return -errno;
	while (rc < 0 && fgets(line, sizeof(line), f)) {
		/* sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode */
		if (sscanf(line, " %*s %127s %*s %x %*s %*s %*s %u %*s %lu", local, &state, uid,
		           inode) != 4)
			continue;
		if (state != 0x0A || !strchr(local, ':'))
			continue;
		if (sscanf(strchr(local, ':') + 1, "%x", &lport) == 1 && lport == port)
			rc = 0;
	}
	fclose(f);
	return rc;
}

/* Does process pid hold socket inode? */
static bool holds_socket(const char *pid, unsigned long inode)
{
	char dir[NAME_MAX + 16], path[2 * NAME_MAX + 32], target[64], want[64];
	struct dirent *de;
	bool found = false;
	ssize_t n;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%s/fd", pid);
	snprintf(want, sizeof(want), "socket:[%lu]", inode);
	if (!(d = opendir(dir)))
		return false;
	while (!found && (de = readdir(d))) {
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		n = readlink(path, target, sizeof(target) - 1);
		if (n > 0) {
			target[n] = '\0';
			found = strcmp(target, want) == 0;
		}
	}
	closedir(d);
	return found;
}

/* The pid of the user's own process holding inode; 0 if none. */
static long owner_pid(unsigned long inode)
{
	char path[NAME_MAX + 16];
	struct dirent *de;
	struct stat st;
	long pid = 0;
	DIR *d = opendir("/proc");

	if (!d)
		return 0;
	while (!pid && (de = readdir(d))) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%s", de->d_name);
		if (stat(path, &st) < 0 || st.st_uid != getuid())
			continue;
		if (holds_socket(de->d_name, inode))
			pid = strtol(de->d_name, NULL, 10);
	}
	closedir(d);
	return pid;
}

/*
 * doctor.port_owner(port) -> { pid, command, user } | nil
 *   port: a TCP port number (1..65535)
 * Who listens on that TCP or TCP6 port. pid and command are given only
 * for the user's own processes; user is the socket owner's login name
 * (or uid). nil when nothing listens there.
 */
static int l_port_owner(lua_State *L)
{
	lua_Integer port = luaL_checkinteger(L, 1);
	char comm[64] = "", user[64], path[64], pwbuf[1024];
	struct passwd pw, *found = NULL;
	unsigned long inode = 0;
	unsigned uid = 0;
	long pid = 0;
	FILE *f;

	luaL_argcheck(L, port > 0 && port < 65536, 1, "not a port number");
	if (find_listener("/proc/net/tcp", (unsigned)port, &inode, &uid) < 0 &&
	    find_listener("/proc/net/tcp6", (unsigned)port, &inode, &uid) < 0)
		return 0;
	if (uid == getuid())
		pid = owner_pid(inode);
	if (pid && snprintf(path, sizeof(path), "/proc/%ld/comm", pid) > 0 &&
	    (f = fopen(path, "re"))) {
		if (fgets(comm, sizeof(comm), f))
			comm[strcspn(comm, "\n")] = '\0';
		fclose(f);
	}
	if (getpwuid_r(uid, &pw, pwbuf, sizeof(pwbuf), &found) == 0 && found)
		snprintf(user, sizeof(user), "%s", pw.pw_name);
	else
		snprintf(user, sizeof(user), "%u", uid);
	lua_createtable(L, 0, 3);
	if (pid) {
		lua_pushinteger(L, pid);
		lua_setfield(L, -2, "pid");
		lua_pushstring(L, comm);
		lua_setfield(L, -2, "command");
	}
	lua_pushstring(L, user);
	lua_setfield(L, -2, "user");
	return 1;
}

/* ------------------------------------------------------------------ */
/* disks                                                               */

/* path, relative ones against the call's cwd, into buf. */
static const char *resolve(lua_State *L, const char *path, char *buf, size_t len)
{
	const char *cwd = plugin_of(L)->call.cwd;

	if (path[0] == '/' || !cwd)
		return path;
	if (strcmp(path, ".") == 0)
		return cwd;
	snprintf(buf, len, "%s/%s", cwd, path);
	return buf;
}

/*
 * doctor.disk_usage(path) -> { total, free, used } | nil, err
 *   path: any path on the file system (relative: against the cwd)
 * Bytes, from statvfs: free is what an unprivileged user may still use.
 */
static int l_disk_usage(lua_State *L)
{
	const char *arg = luaL_checkstring(L, 1), *path;
	char buf[PATH_MAX];
	struct statvfs vfs;

	path = resolve(L, arg, buf, sizeof(buf));
	if (statvfs(path, &vfs) < 0)
		return api_fail(L, "%s: %s", arg, strerror(errno));
	lua_createtable(L, 0, 3);
	lua_pushinteger(L, (lua_Integer)(vfs.f_blocks * vfs.f_frsize));
	lua_setfield(L, -2, "total");
	lua_pushinteger(L, (lua_Integer)(vfs.f_bavail * vfs.f_frsize));
	lua_setfield(L, -2, "free");
	lua_pushinteger(L, (lua_Integer)((vfs.f_blocks - vfs.f_bfree) * vfs.f_frsize));
	lua_setfield(L, -2, "used");
	return 1;
}

/* The walk's bounds and results; a Lua userdata, so a raise frees it. */
struct walk {
	dev_t dev;
	unsigned long entries;
	uint64_t deadline_ns;
	bool partial;
	size_t n;
	struct { unsigned long long bytes; char name[NAME_MAX + 1]; } dir[LARGEST_MAX];
	size_t want;
};

static bool walk_over(struct walk *w)
{
	if (w->entries >= WALK_MAX_ENTRIES ||
	    ((w->entries & 255) == 0 && sandbox_now_ns() > w->deadline_ns))
		w->partial = true;
	return w->partial;
}

/* Bytes under the directory fd (which it closes). */
static unsigned long long dir_bytes(struct walk *w, int fd, int depth)
{
	unsigned long long total = 0;
	struct dirent *de;
	struct stat st;
	DIR *d = fdopendir(fd);
	int sub;

	if (!d) {
		close(fd);
		return 0;
	}
	while (!walk_over(w) && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		w->entries++;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		total += (unsigned long long)st.st_blocks * 512;
		if (!S_ISDIR(st.st_mode) || st.st_dev != w->dev || depth >= WALK_MAX_DEPTH)
			continue;
		sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub >= 0)
			total += dir_bytes(w, sub, depth + 1);
	}
	closedir(d);
	return total;
}

/* Keep the want biggest, biggest first. */
static void keep(struct walk *w, const char *name, unsigned long long bytes)
{
	size_t i;

	if (w->n == w->want && (w->n == 0 || bytes <= w->dir[w->n - 1].bytes))
		return;
	i = w->n < w->want ? w->n++ : w->n - 1;
	for (; i > 0 && w->dir[i - 1].bytes < bytes; i--)
		w->dir[i] = w->dir[i - 1];
	w->dir[i].bytes = bytes;
	snprintf(w->dir[i].name, sizeof(w->dir[i].name), "%s", name);
}

/* Size every subdirectory of the directory fd (which it closes). */
static void walk_top(struct walk *w, int fd)
{
	struct dirent *de;
	struct stat st;
	DIR *d = fdopendir(fd);
	int sub;

	if (!d) {
		close(fd);
		return;
	}
	while (!walk_over(w) && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		w->entries++;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISDIR(st.st_mode) || st.st_dev != w->dev)
			continue;
		sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub >= 0)
			keep(w, de->d_name, (unsigned long long)st.st_blocks * 512 + dir_bytes(w, sub, 1));
	}
	closedir(d);
}

/*
 * doctor.largest_dirs(path [, n]) -> { {path, bytes}, ... } | nil, err
 *   path: a folder (relative: against the cwd); n: how many (default 10,
 *   at most 100)
 * The n biggest subdirectories of path, biggest first, each with the
 * bytes used under it. The walk stays on path's file system, does not
 * follow symlinks, and stops after 200000 entries or 2 s (at most half
 * of the call's remaining time): then the first element has partial=true.
 */
static int l_largest_dirs(lua_State *L)
{
	const char *arg = luaL_checkstring(L, 1), *path;
	lua_Integer want = luaL_optinteger(L, 2, 10);
	unsigned ms = sandbox_ms_left(&plugin_of(L)->sb) / 2;
	char buf[PATH_MAX];
	struct walk *w;
	struct stat st;
	size_t i;
	int fd;

	luaL_argcheck(L, want > 0, 2, "must be positive");
	path = resolve(L, arg, buf, sizeof(buf));
	w = lua_newuserdatauv(L, sizeof(*w), 0);
	memset(w, 0, sizeof(*w));
	w->want = want > LARGEST_MAX ? LARGEST_MAX : (size_t)want;
	w->deadline_ns = sandbox_now_ns() + (uint64_t)(ms < WALK_MAX_MS ? ms : WALK_MAX_MS) * 1000000ull;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		if (fd >= 0)
			close(fd);
		return api_fail(L, "%s: %s", arg, strerror(errno));
	}
	w->dev = st.st_dev;
	walk_top(w, fd);
	lua_createtable(L, (int)w->n, 0);
	for (i = 0; i < w->n; i++) {
		lua_createtable(L, 0, 3);
		lua_pushfstring(L, "%s%s%s", path, path[strlen(path) - 1] == '/' ? "" : "/",
		                w->dir[i].name);
		lua_setfield(L, -2, "path");
		lua_pushinteger(L, (lua_Integer)w->dir[i].bytes);
		lua_setfield(L, -2, "bytes");
		if (i == 0 && w->partial) {
			lua_pushboolean(L, 1);
			lua_setfield(L, -2, "partial");
		}
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	return 1;
}

const luaL_Reg plugin_api_system[] = {
	{ "which", l_which },
	{ "port_owner", l_port_owner },
	{ "disk_usage", l_disk_usage },
	{ "largest_dirs", l_largest_dirs },
	{ NULL, NULL },
};
