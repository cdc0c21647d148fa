/*
 * bench_util.c - what the benchmarks share (see bench_util.h): errors and
 * clocks, signals, child processes that never outlive the bench, the
 * temporary directory, Unix socket peers and JSON-RPC replies, doctord's
 * start and stop.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"

volatile sig_atomic_t interrupted;
const char *bench_name = "bench";
static pid_t children[MAX_CHILDREN];

/* ------------------------------------------------------------ helpers */

int fail(int rc, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", bench_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return rc;
}

double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void on_interrupt(int sig)
{
	interrupted = sig;
}

/* No SA_RESTART: a blocked poll() returns EINTR and the run unwinds through
 * the normal cleanup, which kills the children and removes the temp dir. */
void install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_interrupt;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* ------------------------------------------------------------ processes */

static void child_track(pid_t pid)
{
	for (int i = 0; i < MAX_CHILDREN; i++)
		if (!children[i]) {
			children[i] = pid;
			return;
		}
}

static void child_untrack(pid_t pid)
{
	for (int i = 0; i < MAX_CHILDREN; i++)
		if (children[i] == pid)
			children[i] = 0;
}

/* On failure: nothing we started outlives us. */
void children_kill(void)
{
	for (int i = 0; i < MAX_CHILDREN; i++)
		if (children[i]) {
			kill(children[i], SIGKILL);
			waitpid(children[i], NULL, 0);
			children[i] = 0;
		}
}

/* Drop what could make doctord use another socket, database, config,
 * plugins or LLM (DOCTOR_*, LISTEN_*, OPENAI_*); then point it at
 * config_home and, if not NULL, plugin_path. */
static void isolate_environment(const char *config_home, const char *plugin_path)
{
	extern char **environ;
	bool again = true;

	while (again) {
		again = false;
		for (char **e = environ; *e; e++) {
			char name[256];
			size_t n = strcspn(*e, "=");
			if (n >= sizeof name || (strncmp(*e, "DOCTOR_", 7) != 0 &&
			                         strncmp(*e, "LISTEN_", 7) != 0 &&
			                         strncmp(*e, "OPENAI_", 7) != 0))
				continue;
			memcpy(name, *e, n);
			name[n] = '\0';
			unsetenv(name);
			again = true;
			break;
		}
	}
	setenv("XDG_CONFIG_HOME", config_home, 1);
	if (plugin_path)
		setenv("DOCTOR_PLUGIN_PATH", plugin_path, 1);
}

/* Run path with argv; the child dies with us. config_home, plugin_path: see
 * isolate_environment (config_home NULL keeps the environment as it is). */
int spawn(const char *path, char *const argv[], const char *config_home,
          const char *plugin_path, pid_t *out)
{
	pid_t parent = getpid();
	pid_t pid = fork();

	if (pid < 0)
		return fail(-errno, "fork: %s", strerror(errno));
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		signal(SIGPIPE, SIG_DFL);
		if (config_home)
			isolate_environment(config_home, plugin_path);
		execv(path, argv);
		fprintf(stderr, "%s: cannot run %s: %s\n", bench_name, path, strerror(errno));
		_exit(127);
	}
	child_track(pid);
	*out = pid;
	return 0;
}

static int describe_exit(int status, const char *what, const char *when)
{
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status))
		return fail(-ECHILD, "%s exited with status %d%s", what, WEXITSTATUS(status), when);
	return fail(-ECHILD, "%s was killed by signal %d (%s)%s", what, WTERMSIG(status),
	            strsignal(WTERMSIG(status)), when);
}

/* 0 while pid runs; its exit described as an error once it has ended. */
static int child_check_alive(pid_t pid, const char *what, const char *when)
{
	int status;
	pid_t r = waitpid(pid, &status, WNOHANG);

	if (r == 0)
		return 0;
	child_untrack(pid);
	if (r < 0)
		return fail(-errno, "waitpid %s: %s", what, strerror(errno));
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return fail(-ECHILD, "%s exited%s", what, when);
	return describe_exit(status, what, when);
}

/* Wait up to timeout_ms for pid to exit; it must exit 0. */
int child_wait_exit(pid_t pid, const char *what, long timeout_ms)
{
	double deadline = now() + timeout_ms / 1000.0;
	int status;
	pid_t r;

	while ((r = waitpid(pid, &status, WNOHANG)) == 0) {
		if (now() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			child_untrack(pid);
			return fail(-ETIMEDOUT, "%s did not exit within %ld s", what, timeout_ms / 1000);
		}
		sleep_ms(5);
	}
	child_untrack(pid);
	if (r < 0)
		return fail(-errno, "waitpid %s: %s", what, strerror(errno));
	return describe_exit(status, what, "");
}

/* 1 if a socket bound to path is listening (__SO_ACCEPTCON in
 * /proc/net/unix), 0 if not (yet), negative errno if unreadable. */
static int is_listening(const char *path)
{
	FILE *f = fopen("/proc/net/unix", "re");
	char line[PATH_MAX + 128];
	int found = 0;

	if (!f)
		return fail(-errno, "/proc/net/unix: %s", strerror(errno));
	while (!found && fgets(line, sizeof line, f)) {
		unsigned long flags;
		int off = -1;
		if (sscanf(line, "%*s %*s %*s %lx %*s %*s %*s %n", &flags, &off) < 1 || off < 0)
			continue;
		line[strcspn(line, "\n")] = '\0';
		found = (flags & 0x10000) && strcmp(line + off, path) == 0;
	}
	fclose(f);
	return found;
}

/* Wait until pid listens on path without connecting, so the first client
 * the process ever sees is a measured one. */
int wait_listening(pid_t pid, const char *what, const char *path)
{
	double deadline = now() + START_TIMEOUT_MS / 1000.0;
	int rc;

	while ((rc = is_listening(path)) == 0) {
		if ((rc = child_check_alive(pid, what, " before listening")) < 0)
			return rc;
		if (interrupted)
			return fail(-EINTR, "interrupted");
		if (now() > deadline)
			return fail(-ETIMEDOUT, "%s is not listening on %s after %d s", what, path,
			            START_TIMEOUT_MS / 1000);
		sleep_ms(2);
	}
	return rc < 0 ? rc : 0;
}

/* Wait (best effort) until pid sleeps in epoll: its start-up is over and
 * the loop is idle. Kernels that hide wchan just cost the timeout. */
void wait_idle(pid_t pid)
{
	double deadline = now() + IDLE_TIMEOUT_MS / 1000.0;
	char path[64], wchan[128];

	snprintf(path, sizeof path, "/proc/%d/wchan", (int)pid);
	while (now() < deadline && !interrupted) {
		FILE *f = fopen(path, "re");
		size_t n = 0;
		if (f) {
			n = fread(wchan, 1, sizeof wchan - 1, f);
			fclose(f);
		}
		wchan[n] = '\0';
		if (!f || strstr(wchan, "epoll"))
			return;
		sleep_ms(2);
	}
}

int rss_kib(pid_t pid, long *kib)
{
	char path[64], line[256];
	FILE *f;
	int rc = -ENOENT;

	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	if (!(f = fopen(path, "re")))
		return fail(-errno, "%s: %s", path, strerror(errno));
	while (rc < 0 && fgets(line, sizeof line, f))
		if (sscanf(line, "VmRSS: %ld kB", kib) == 1)
			rc = 0;
	fclose(f);
	return rc < 0 ? fail(rc, "%s has no VmRSS", path) : 0;
}

/* ------------------------------------------------------------ temp dir */

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	if (remove(path) < 0)
		fprintf(stderr, "%s: cannot remove %s: %s\n", bench_name, path, strerror(errno));
	return 0;
}

void remove_tree(const char *dir)
{
	nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int make_tmpdir(char out[TMP_LEN])
{
	const char *base = getenv("TMPDIR");

	if (!base || !*base)
		base = "/tmp";
	if (snprintf(out, TMP_LEN, "%s/doctor-bench.XXXXXX", base) >= TMP_LEN) {
		out[0] = '\0';
		return fail(-ENAMETOOLONG, "TMPDIR is too long for socket paths: %s", base);
	}
	if (!mkdtemp(out)) {
		int rc = fail(-errno, "mkdtemp %s: %s", out, strerror(errno));
		out[0] = '\0';
		return rc;
	}
	return 0;
}

/* ------------------------------------------------------------ sockets */

int unix_address(const char *path, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof *sa);
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sa->sun_path)
		return fail(-ENAMETOOLONG, "socket path too long (set a shorter TMPDIR): %s", path);
	strcpy(sa->sun_path, path);
	return 0;
}

int peer_connect(struct peer *c, const char *path)
{
	struct sockaddr_un sa;
	int rc;

	memset(c, 0, sizeof *c);
	c->fd = -1;
	if ((rc = unix_address(path, &sa)) < 0)
		return rc;
	if ((c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0)
		return fail(-errno, "socket: %s", strerror(errno));
	/* A Unix stream connect completes at once or fails; it never waits. */
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		return fail(-errno, "connect %s: %s", path, strerror(errno));
	return 0;
}

void peer_close(struct peer *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->in);
	c->in = NULL;
}

/* Wait for events on c; -ETIMEDOUT after IO_TIMEOUT_MS without any. */
int peer_wait(struct peer *c, short events, short *revents)
{
	struct pollfd pfd = { .fd = c->fd, .events = events };
	int n;

	*revents = 0;
	n = poll(&pfd, 1, IO_TIMEOUT_MS);

	if (n < 0 && errno == EINTR && interrupted)
		return fail(-EINTR, "interrupted");
	if (n < 0)
		return errno == EINTR ? 0 : fail(-errno, "poll: %s", strerror(errno));
	if (n == 0)
		return fail(-ETIMEDOUT, "the peer made no progress for %d s", IO_TIMEOUT_MS / 1000);
	*revents = pfd.revents;
	return 0;
}

/* One read() into c->in; at EOF sets c->eof. */
int peer_fill(struct peer *c)
{
	ssize_t n;

	if (c->consumed) {
		memmove(c->in, c->in + c->consumed, c->inlen - c->consumed);
		c->inlen -= c->consumed;
		c->consumed = 0;
	}
	if (c->incap - c->inlen < 4096) {
		size_t cap = c->incap ? c->incap * 2 : 65536;
		char *p = realloc(c->in, cap);
		if (!p)
			return fail(-ENOMEM, "out of memory reading from the peer");
		c->in = p;
		c->incap = cap;
	}
	n = read(c->fd, c->in + c->inlen, c->incap - c->inlen);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n < 0)
		return fail(-errno, "read: %s", strerror(errno));
	c->inlen += (size_t)n;
	c->eof = n == 0;
	if (n > 0)
		c->filled_at = now();
	return 0;
}

/* Write all of data. Whatever the peer sends meanwhile is kept in c->in,
 * so neither side can block the other. */
int peer_send(struct peer *c, const char *data, size_t len)
{
	short revents = 0;
	int rc;

	while (len > 0) {
		ssize_t n = write(c->fd, data, len);
		if (n > 0) {
			data += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return fail(-errno, "write: %s", errno == EPIPE ? "the peer closed the connection"
			                                                : strerror(errno));
		if ((rc = peer_wait(c, c->eof ? POLLOUT : POLLOUT | POLLIN, &revents)) < 0)
			return rc;
		if ((revents & POLLIN) && !c->eof && (rc = peer_fill(c)) < 0)
			return rc;
	}
	return 0;
}

/* The next line the peer sent (NUL-terminated, valid until the next call):
 * 1 with *line set, 0 at EOF, negative errno on error. */
int peer_read_line(struct peer *c, char **line)
{
	short revents;
	int rc;

	for (;;) {
		char *start = c->in + c->consumed;
		char *nl = c->inlen > c->consumed ? memchr(start, '\n', c->inlen - c->consumed) : NULL;
		if (nl) {
			*nl = '\0';
			c->consumed = (size_t)(nl + 1 - c->in);
			*line = start;
			return 1;
		}
		if (c->eof)
			return 0;
		if ((rc = peer_wait(c, POLLIN, &revents)) < 0 || (rc = peer_fill(c)) < 0)
			return rc;
	}
}

/* Read until EOF, discarding: the daemon closes after source.closed. */
int peer_drain(struct peer *c)
{
	short revents;
	int rc;

	while (!c->eof) {
		c->consumed = c->inlen;
		if ((rc = peer_wait(c, POLLIN, &revents)) < 0 || (rc = peer_fill(c)) < 0)
			return rc;
	}
	return 0;
}

/* ------------------------------------------------------------ JSON-RPC */

/* Read messages from doctord until the reply to want_id (if > 0) or the
 * notification want_method (if not NULL); *out gets its result or params
 * (new reference). An error reply ends the bench: the figures would lie. */
int rpc_await(struct peer *c, json_int_t want_id, const char *want_method, json_t **out)
{
	json_error_t jerr;
	char *line;
	int rc;

	while ((rc = peer_read_line(c, &line)) == 1) {
		json_t *msg = json_loads(line, 0, &jerr);
		json_t *id = json_object_get(msg, "id"), *error = json_object_get(msg, "error");
		const char *method = json_string_value(json_object_get(msg, "method"));
		if (!msg)
			return fail(-EPROTO, "doctord sent invalid JSON (%s): %.200s", jerr.text, line);
		if (error) {
			rc = fail(-EPROTO, "doctord answered with error %lld: %s",
			          (long long)json_integer_value(json_object_get(error, "code")),
			          json_string_value(json_object_get(error, "message")));
			json_decref(msg);
			return rc;
		}
		if ((want_id > 0 && json_integer_value(id) == want_id) ||
		    (want_method && method && strcmp(method, want_method) == 0)) {
			*out = json_incref(json_object_get(msg, method ? "params" : "result"));
			json_decref(msg);
			return *out ? 0 : fail(-EPROTO, "doctord's answer has no %s",
			                       method ? "params" : "result");
		}
		json_decref(msg);
	}
	return rc < 0 ? rc : fail(-EPIPE, "doctord closed the connection before answering");
}


/* Start doctord on dir/s.sock with its database in dir/data and
 * XDG_CONFIG_HOME at dir/config (empty unless the caller wrote a
 * doctor/doctor.yaml there); plugins from plugin_path if not NULL. Returns
 * once it listens and its loop is idle. */
int daemon_start(const char *doctord, const char *dir, const char *plugin_path, pid_t *pid)
{
	char socket_path[PATH_LEN], data[PATH_LEN], config_home[PATH_LEN];
	char *argv[] = { (char *)doctord, "--foreground", "--socket", socket_path,
	                 "--data-dir", data, "--log-level", "warn", NULL };
	int rc;

	snprintf(socket_path, sizeof socket_path, "%s/s.sock", dir);
	snprintf(data, sizeof data, "%s/data", dir);
	snprintf(config_home, sizeof config_home, "%s/config", dir);
	if ((rc = spawn(doctord, argv, config_home, plugin_path, pid)) < 0 ||
	    (rc = wait_listening(*pid, "doctord", socket_path)) < 0)
		return rc;
	wait_idle(*pid);
	return 0;
}

int daemon_stop(pid_t pid)
{
	if (kill(pid, SIGTERM) < 0)
		return fail(-errno, "cannot signal doctord: %s", strerror(errno));
	return child_wait_exit(pid, "doctord (after SIGTERM)", STOP_TIMEOUT_MS);
}

int compare_doubles(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int parse_count(const char *opt, const char *text, unsigned min, unsigned max, unsigned *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(text, &end, 10);
	if (errno || end == text || *end || text[0] == '-' || v < min || v > max)
		return fail(-EINVAL, "%s: expected a whole number from %u to %u, got '%s'", opt, min,
		            max, text);
	*out = (unsigned)v;
	return 0;
}
