/*
 * main.c - doctord's entry point: command line, configuration, going to the
 * background, running the loop.
 *
 * Without --foreground the daemon forks; the parent waits until the child is
 * listening (or has failed) and exits with that outcome, so `doctord && doctor
 * status` works in scripts. systemd units use --foreground.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "doctord.h"
#include "log.h"
#include "paths.h"

struct options {
	const char *socket;
	const char *config;
	const char *data_dir;
	const char *log_level;
	bool foreground;
};

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: doctord [OPTIONS]\n"
		"Watch the output of notebooks, commands and logs for errors.\n"
		"\n"
		"  -s, --socket PATH      listen on PATH (default $XDG_RUNTIME_DIR/doctor/doctord.sock)\n"
		"  -c, --config FILE      read FILE (default $XDG_CONFIG_HOME/doctor/doctor.yaml if present)\n"
		"  -d, --data-dir DIR     keep the database in DIR (default $XDG_DATA_HOME/doctor)\n"
		"  -f, --foreground       stay in the foreground and log to stderr\n"
		"  -l, --log-level LEVEL  error, warn, info (default) or debug\n"
		"  -h, --help             show this help\n"
		"  -V, --version          show the version\n"
		"\n"
		"Environment: DOCTOR_SOCKET, DOCTOR_DATA_DIR, DOCTOR_CONFIG, DOCTOR_LOG_LEVEL.\n"
		"Signals: SIGTERM/SIGINT stop cleanly, SIGHUP reloads the configuration.\n"
		"See doctord(8).\n");
}

static int parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "config", required_argument, NULL, 'c' },
		{ "data-dir", required_argument, NULL, 'd' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "s:c:d:fl:hV", longopts, NULL)) != -1) {
		switch (ch) {
		case 's': o->socket = optarg; break;
		case 'c': o->config = optarg; break;
		case 'd': o->data_dir = optarg; break;
		case 'f': o->foreground = true; break;
		case 'l': o->log_level = optarg; break;
		case 'h': usage(stdout); exit(0);
		case 'V': printf("doctord %s\n", PACKAGE_VERSION); exit(0);
		default: usage(stderr); return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "doctord: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	return 0;
}

static char *join(const char *dir, const char *file)
{
	size_t n = strlen(dir) + strlen(file) + 2;
	char *p = malloc(n);

	if (p)
		snprintf(p, n, "%s/%s", dir, file);
	return p;
}

/* Build d's configuration from defaults, file, environment and options. */
static int configure(struct doctord *d, const struct options *o)
{
	char *err = NULL;
	int rc, level;

	d->log_level_override = -1;
	if ((rc = config_defaults(&d->cfg)) < 0)
		return rc;
	d->config_explicit = o->config != NULL || getenv("DOCTOR_CONFIG") != NULL;
	d->config_path = o->config ? strdup(o->config) : paths_config_file();
	rc = config_load_file(&d->cfg, d->config_path, &err);
	if (rc == -ENOENT && !d->config_explicit)
		rc = 0;
	else if (rc == -ENOENT)
		fprintf(stderr, "doctord: %s: no such file\n", d->config_path);
	if (rc == 0)
		rc = config_apply_env(&d->cfg, &err);
	if (rc < 0) {
		if (err)
			fprintf(stderr, "doctord: %s\n", err);
		else if (rc != -ENOENT)
			fprintf(stderr, "doctord: %s: %s\n", d->config_path, strerror(-rc));
		free(err);
		return rc;
	}
	if (o->log_level) {
		if ((level = config_parse_log_level(o->log_level)) < 0) {
			fprintf(stderr, "doctord: --log-level: expected error, warn, info or debug, got '%s'\n",
			        o->log_level);
			return -EINVAL;
		}
		d->cfg.log_level = d->log_level_override = level;
	}
	log_set_level(d->cfg.log_level);
	d->socket_path = strdup(o->socket ? o->socket : d->cfg.socket_path ? d->cfg.socket_path : "");
	if (d->socket_path && !d->socket_path[0]) {
		free(d->socket_path);
		d->socket_path = paths_socket();
	}
	d->data_dir = o->data_dir ? strdup(o->data_dir) : d->cfg.data_dir ? strdup(d->cfg.data_dir)
	                                                                 : paths_data_dir();
	d->db_path = d->data_dir ? join(d->data_dir, "doctor.db") : NULL;
	return d->socket_path && d->data_dir && d->db_path ? 0 : -ENOMEM;
}

/* Fork; the parent waits on a pipe for the child's "ready" byte and exits.
 * Returns the write end of the pipe in the child. */
static int daemonize(void)
{
	int fds[2];
	pid_t pid;
	char c;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0) {
		close(fds[1]);
		if (read(fds[0], &c, 1) == 1 && c == 'R')
			_exit(0);
		waitpid(pid, NULL, WNOHANG);
		_exit(1);
	}
	close(fds[0]);
	setsid();
	return fds[1];
}

/* Child after start: detach from the terminal and tell the parent. */
static void detach(struct doctord *d, int ready_fd)
{
	char *logfile = join(d->data_dir, "doctord.log");
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	int rc = logfile ? log_open_file(logfile) : -ENOMEM;

	if (rc < 0)
		log_warn("cannot open log file %s: %s", logfile ? logfile : "", strerror(-rc));
	free(logfile);
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		close(null);
	}
	if (write(ready_fd, "R", 1) < 0) {
		/* the parent is gone; nothing to tell */
	}
	close(ready_fd);
}

int main(int argc, char **argv)
{
	struct options o = { 0 };
	struct doctord d = { .lock_fd = -1 };
	int ready_fd = -1, rc, fd;

	/* fds 0-2 must be taken, or the lock file or socket could land there
	 * and be replaced by detach()'s dup2 */
	while ((fd = open("/dev/null", O_RDWR)) >= 0 && fd <= 2)
		;
	if (fd > 2)
		close(fd);
	if (parse_args(argc, argv, &o) < 0)
		return 2;
	if (configure(&d, &o) < 0) {
		doctord_free(&d);
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	if (!o.foreground && (ready_fd = daemonize()) < 0) {
		fprintf(stderr, "doctord: cannot go to the background: %s\n", strerror(-ready_fd));
		doctord_free(&d);
		return 1;
	}
	d.loop = uv_default_loop();
	rc = doctord_start(&d);
	if (rc < 0) {
		doctord_stop(&d);
		uv_run(d.loop, UV_RUN_DEFAULT);
		uv_loop_close(d.loop);
		doctord_free(&d);
		return 1;
	}
	if (ready_fd >= 0)
		detach(&d, ready_fd);
	uv_run(d.loop, UV_RUN_DEFAULT);
	rc = uv_loop_close(d.loop);
	if (rc < 0)
		log_warn("loop closed with handles still open: %s", uv_strerror(rc));
	log_info("doctord stopped");
	doctord_free(&d);
	log_close();
	return 0;
}
