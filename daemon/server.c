/*
 * server.c - the listening socket of doctord (see server.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "conn.h"
#include "log.h"
#include "paths.h"
#include "server.h"

#define SD_LISTEN_FDS_START 3

static bool activated;   /* the socket came from systemd: not ours to unlink */
static bool bound;       /* this process bound the socket: ours to unlink */

static void on_connection(uv_stream_t *listener, int status)
{
	struct doctord *d = listener->data;
	int rc;

	if (status < 0) {
		log_warn("accept: %s", uv_strerror(status));
		return;
	}
	if ((rc = conn_accept(d)) < 0)
		log_debug("connection not served: %s", strerror(-rc));
}

/* systemd socket activation: LISTEN_PID is us and LISTEN_FDS >= 1. */
static int activation_fd(void)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");

	if (!pid || !fds || atol(pid) != (long)getpid() || atoi(fds) < 1)
		return -1;
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return SD_LISTEN_FDS_START;
}

/* The socket's directory: created 0700 if missing. An existing one must
 * belong to us (or root, like /run/user) and, if others may write in it,
 * be sticky (like /tmp): otherwise another user could replace our socket
 * with theirs and read what clients send. */
static int prepare_dir(const char *dir)
{
	struct stat st;

	if (lstat(dir, &st) < 0) {
		if (errno != ENOENT)
			return -errno;
		return paths_mkdir_p(dir, 0700);
	}
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	if (st.st_uid != geteuid() && st.st_uid != 0) {
		log_error("socket directory %s belongs to uid %u, not to you", dir, (unsigned)st.st_uid);
		return -EPERM;
	}
	if ((st.st_mode & 022) && !(st.st_mode & S_ISVTX)) {
		log_error("socket directory %s is writable by others and not sticky", dir);
		return -EPERM;
	}
	return 0;
}

/* Take the lock beside the socket. -EADDRINUSE if another daemon holds it. */
static int take_lock(struct doctord *d)
{
	char pid[32];
	size_t len = strlen(d->socket_path) + 6;
	int fd, n;

	d->lock_path = malloc(len);
	if (!d->lock_path)
		return -ENOMEM;
	snprintf(d->lock_path, len, "%s.lock", d->socket_path);
	fd = open(d->lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int err = errno;
		n = (int)read(fd, pid, sizeof pid - 1);
		pid[n > 0 ? n : 0] = '\0';
		close(fd);
		if (err != EWOULDBLOCK)
			return -err;
		log_error("another doctord (pid %s) is already serving %s",
		          pid[0] ? strtok(pid, "\n") : "?", d->socket_path);
		return -EADDRINUSE;
	}
	n = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)n, 0) < 0)
		log_warn("cannot write pid to %s: %s", d->lock_path, strerror(errno));
	d->lock_fd = fd;
	return 0;
}

/* A socket file is there: live (someone accepts) or stale? */
static int check_existing_socket(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, rc;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode)) {
		log_error("%s exists and is not a socket; refusing to replace it", path);
		return -EEXIST;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
	rc = connect(fd, (struct sockaddr *)&sa, sizeof sa);
	close(fd);
	if (rc == 0) {
		log_error("another daemon is already listening on %s", path);
		return -EADDRINUSE;
	}
	log_info("replacing stale socket %s", path);
	return unlink(path) < 0 ? -errno : 0;
}

static int bind_own(struct doctord *d)
{
	char *dir = paths_dirname(d->socket_path);
	mode_t old_umask;
	int rc;

	if (!dir)
		return -ENOMEM;
	rc = prepare_dir(dir);
	if (rc < 0) {
		log_error("cannot prepare socket directory %s: %s", dir, strerror(-rc));
		free(dir);
		return rc;
	}
	free(dir);
	if (strlen(d->socket_path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		log_error("socket path too long (max %zu bytes): %s",
		          sizeof(((struct sockaddr_un *)0)->sun_path) - 1, d->socket_path);
		return -ENAMETOOLONG;
	}
	if ((rc = take_lock(d)) < 0 || (rc = check_existing_socket(d->socket_path)) < 0)
		return rc;
	old_umask = umask(0177);       /* the socket is born 0600 */
	rc = uv_pipe_bind(&d->listener, d->socket_path);
	umask(old_umask);
	if (rc == 0)
		bound = true;
	if (rc < 0)
		log_error("cannot bind %s: %s", d->socket_path, uv_strerror(rc));
	return rc;
}

int server_listen(struct doctord *d)
{
	int fd = activation_fd();
	int rc;

	uv_pipe_init(d->loop, &d->listener, 0);
	d->listener.data = d;
	d->listening = true;
	if (fd >= 0) {
		activated = true;
		rc = uv_pipe_open(&d->listener, fd);
		if (rc < 0)
			log_error("cannot use the socket passed by systemd: %s", uv_strerror(rc));
		else
			log_info("using the socket passed by systemd");
	} else {
		rc = bind_own(d);
	}
	if (rc == 0 && (rc = uv_listen((uv_stream_t *)&d->listener, 128, on_connection)) < 0)
		log_error("cannot listen on %s: %s", d->socket_path, uv_strerror(rc));
	return rc;
}

void server_close(struct doctord *d)
{
	if (!d->listening)
		return;
	d->listening = false;
	uv_close((uv_handle_t *)&d->listener, NULL);
	if (bound && !activated)
		unlink(d->socket_path);
	bound = false;
}
