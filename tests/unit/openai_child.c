/*
 * openai_child.c - runs tests/servers/openai_server.py for a unit test
 * (see openai_child.h).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pipe2 */
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "openai_child.h"

static pid_t server_pid = -1;
static int server_port;
static char tmp_dir[] = "/tmp/doctor-test-openai-XXXXXX";
static bool tmp_made;
static char log_path[PATH_MAX];
static char base_url[64];

void openai_child_stop(void)
{
	int status, i;

	if (server_pid > 0) {
		kill(server_pid, SIGTERM);
		for (i = 0; i < 500; i++) {
			if (waitpid(server_pid, &status, WNOHANG) == server_pid)
				break;
			usleep(10000);
		}
		if (i == 500) {
			kill(server_pid, SIGKILL);
			waitpid(server_pid, &status, 0);
		}
		server_pid = -1;
	}
	if (tmp_made) {
		unlink(log_path);
		rmdir(tmp_dir);
		tmp_made = false;
	}
}

int openai_child_start(void)
{
	const char *src = getenv("DOCTOR_SRCDIR");
	char script[PATH_MAX], line[64];
	pid_t parent = getpid();
	struct pollfd pfd;
	size_t len = 0;
	ssize_t r;
	int fds[2];

	atexit(openai_child_stop);
	snprintf(script, sizeof script, "%s/tests/servers/openai_server.py", src ? src : ".");
	if (access(script, R_OK) < 0) {
		printf("Bail out! %s not found (is DOCTOR_SRCDIR set?)\n", script);
		return -1;
	}
	if (!mkdtemp(tmp_dir)) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		return -1;
	}
	tmp_made = true;
	if (pipe2(fds, O_CLOEXEC) < 0) {
		printf("Bail out! pipe: %s\n", strerror(errno));
		return -1;
	}
	snprintf(log_path, sizeof log_path, "%s/requests.jsonl", tmp_dir);
	fflush(stdout);
	server_pid = fork();
	if (server_pid < 0) {
		printf("Bail out! fork: %s\n", strerror(errno));
		return -1;
	}
	if (server_pid == 0) {
		/* Die with the test even if it crashes before its atexit. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(1);
		dup2(fds[1], STDOUT_FILENO);
		execlp("python3", "python3", script, "--log", log_path, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	pfd = (struct pollfd){ .fd = fds[0], .events = POLLIN };
	while (len < sizeof line - 1 && !memchr(line, '\n', len)) {
		if (poll(&pfd, 1, 20000) <= 0 || (r = read(fds[0], line + len,
							   sizeof line - 1 - len)) <= 0)
			break;
		len += (size_t)r;
	}
	close(fds[0]);
	line[len] = '\0';
	if (sscanf(line, "PORT %d", &server_port) != 1 || server_port <= 0) {
		printf("Bail out! the server did not start (said '%s')\n", line);
		return -1;
	}
	snprintf(base_url, sizeof base_url, "http://127.0.0.1:%d/v1", server_port);
	return 0;
}

const char *openai_child_url(void)
{
	return base_url;
}

int openai_child_port(void)
{
	return server_port;
}

json_t *openai_child_log(void)
{
	json_t *all = json_array(), *entry;
	FILE *f = fopen(log_path, "r");
	char *line = NULL;
	size_t cap = 0;

	while (f && getline(&line, &cap, f) > 0)
		if ((entry = json_loads(line, 0, NULL)))
			json_array_append_new(all, entry);
	free(line);
	if (f)
		fclose(f);
	return all;
}

size_t openai_child_log_count(void)
{
	json_t *all = openai_child_log();
	size_t n = json_array_size(all);

	json_decref(all);
	return n;
}

int openai_child_free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = 0;

	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}
