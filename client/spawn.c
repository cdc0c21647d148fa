/*
 * spawn.c - start the command `doctor run` wraps, its stdout and stderr
 * caught through pipes or pseudo-terminals (see spawn.h for which).
 *
 * The pseudo-terminal is NOT made the command's controlling terminal: the
 * command stays in doctor's session and process group on the real
 * terminal, so Ctrl-C, Ctrl-\ and Ctrl-Z reach it as without doctor, and
 * stdin keeps working. The pty only serves as its stdout/stderr. Output
 * post-processing (OPOST, e.g. "\n" -> "\r\n") is turned off on it so that
 * doctor reads exactly the bytes the command wrote; the real terminal then
 * applies its own processing when doctor passes them on.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE     /* ptsname_r */
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "spawn.h"

static bool same_open_file(int a, int b)
{
	struct stat sa, sb;

	return fstat(a, &sa) == 0 && fstat(b, &sb) == 0
	       && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* A pseudo-terminal whose slave looks like the terminal like_fd: same
 * settings except output processing, same window size. */
static int open_pty(int like_fd, int *master, int *slave)
{
	struct termios tio;
	struct winsize ws;
	char name[128];
	int rc;

	*slave = -1;
	*master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (*master < 0)
		return -errno;
	if (grantpt(*master) < 0 || unlockpt(*master) < 0) {
		rc = -errno;
		goto fail;
	}
	rc = -ptsname_r(*master, name, sizeof(name));
	if (rc < 0)
		goto fail;
	*slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (*slave < 0) {
		rc = -errno;
		goto fail;
	}
	if (tcgetattr(like_fd, &tio) == 0 || tcgetattr(*slave, &tio) == 0) {
		tio.c_oflag &= ~(tcflag_t)OPOST;
		tcsetattr(*slave, TCSANOW, &tio);
	}
	if (ioctl(like_fd, TIOCGWINSZ, &ws) == 0)
		ioctl(*master, TIOCSWINSZ, &ws);
	return 0;
fail:
	close_fd(master);
	close_fd(slave);
	return rc;
}

/* A channel for output going to dest_fd: ours is kept in sp, *theirs is
 * the end the command writes to. */
static int add_output(struct spawn *sp, int dest_fd, int *theirs)
{
	struct spawn_output *out = &sp->outputs[sp->noutputs];
	int fds[2];

	out->dest_fd = dest_fd;
	/* Without pseudo-terminals (some containers) a pipe still works. */
	out->pty = isatty(dest_fd) && open_pty(dest_fd, &out->fd, theirs) == 0;
	if (!out->pty) {
		if (pipe2(fds, O_CLOEXEC) < 0)
			return -errno;
		out->fd = fds[0];
		*theirs = fds[1];
	}
	sp->noutputs++;
	if (fcntl(out->fd, F_SETFL, fcntl(out->fd, F_GETFL) | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

/* In the child: give back the signal state, put the channels in place,
 * exec. Never returns. */
__attribute__((noreturn))
static void child_exec(char *const argv[], const int theirs[2],
                       const struct spawn_signals *restore)
{
	size_t i;
	int err;

	for (i = 0; i < restore->n; i++)
		sigaction(restore->signo[i], &restore->action[i], NULL);
	sigprocmask(SIG_SETMASK, &restore->mask, NULL);
	if (dup2(theirs[0], STDOUT_FILENO) < 0 || dup2(theirs[1], STDERR_FILENO) < 0)
		_exit(126);
	execvp(argv[0], argv);
	err = errno;
	if (err == ENOENT && !strchr(argv[0], '/'))
		dprintf(STDERR_FILENO, "doctor: %s: command not found\n", argv[0]);
	else
		dprintf(STDERR_FILENO, "doctor: %s: %s\n", argv[0], strerror(err));
	_exit(err == ENOENT ? 127 : 126);
}

int spawn_start(struct spawn *sp, char *const argv[], const struct spawn_signals *restore)
{
	int theirs[2] = { -1, -1 };
	bool shared = same_open_file(STDOUT_FILENO, STDERR_FILENO);
	pid_t pid;
	int rc;
	size_t i;

	memset(sp, 0, sizeof(*sp));
	sp->pid = -1;
	for (i = 0; i < SPAWN_MAX_OUTPUTS; i++)
		sp->outputs[i].fd = -1;
	rc = add_output(sp, STDOUT_FILENO, &theirs[0]);
	if (rc == 0 && !shared)
		rc = add_output(sp, STDERR_FILENO, &theirs[1]);
	if (rc < 0)
		goto out;
	pid = fork();
	if (pid < 0) {
		rc = -errno;
		goto out;
	}
	if (pid == 0)
		child_exec(argv, shared ? (int[2]){ theirs[0], theirs[0] } : theirs, restore);
	sp->pid = pid;
out:
	close_fd(&theirs[0]);
	close_fd(&theirs[1]);
	for (i = 0; rc < 0 && i < sp->noutputs; i++)
		spawn_close_output(sp, i);
	return rc;
}

void spawn_resize(const struct spawn *sp)
{
	struct winsize ws;
	bool resized = false;
	size_t i;

	for (i = 0; i < sp->noutputs; i++) {
		const struct spawn_output *out = &sp->outputs[i];

		if (out->pty && out->fd >= 0 && ioctl(out->dest_fd, TIOCGWINSZ, &ws) == 0
		    && ioctl(out->fd, TIOCSWINSZ, &ws) == 0)
			resized = true;
	}
	/* The command got SIGWINCH from the real terminal too, but maybe before
	 * its pty had the new size: tell it again now that it has. */
	if (resized && sp->pid > 0)
		kill(sp->pid, SIGWINCH);
}

void spawn_close_output(struct spawn *sp, size_t i)
{
	close_fd(&sp->outputs[i].fd);
}

bool spawn_outputs_open(const struct spawn *sp)
{
	size_t i;

	for (i = 0; i < sp->noutputs; i++)
		if (sp->outputs[i].fd >= 0)
			return true;
	return false;
}
