/*
 * rpc_client.c - the doctor command's connection to doctord: framing of
 * JSON-RPC 2.0 lines over a Unix socket, replies matched by id,
 * notifications handed to a callback, every wait bounded with poll(2).
 *
 * The socket is non-blocking; every wait is a poll with a timeout so that
 * no call can hang past it, and writes use MSG_NOSIGNAL so a daemon that
 * goes away is an error (-EPIPE), not a SIGPIPE.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE     /* ppoll */
#endif
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "rpc_client.h"

#define READ_CHUNK (64 * 1024)

struct rpc_client {
	int fd;
	char *path;              /* owned */
	char *in;                /* received bytes, owned; valid: [start, start+len) */
	size_t start, len, cap;
	size_t scanned;          /* bytes of the valid region known to hold no '\n' */
	bool eof;                /* the daemon closed its side */
	json_int_t next_id;
	int timeout_ms;
	rpc_notify_fn notify;
	void *notify_data;
};

/* What the wait loop stops at: a reply to reply_id, or a notification
 * called method; neither (0 / NULL) for rpc_client_wait(). */
struct wait_goal {
	json_int_t reply_id;
	const char *method;
	json_t *found;           /* result or params, new reference */
	struct rpc_error *err;
	int rc;
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds left before deadline (-1: none), never negative. */
static int remaining_ms(long long deadline)
{
	long long left;

	if (deadline < 0)
		return -1;
	left = deadline - now_ms();
	return left < 0 ? 0 : (int)left;
}

int rpc_client_connect(const char *path, struct rpc_client **out)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct rpc_client *c;
	int rc;

	*out = NULL;
	if (strlen(path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	strcpy(addr.sun_path, path);
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->fd = -1;
	c->next_id = 1;
	c->timeout_ms = RPC_CLIENT_DEFAULT_TIMEOUT_MS;
	c->path = strdup(path);
	if (!c->path) {
		rc = -ENOMEM;
		goto fail;
	}
	/* Non-blocking: a daemon whose backlog is full gives -EAGAIN at once
	 * instead of hanging the command. */
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		rc = -errno;
		goto fail;
	}
	*out = c;
	return 0;
fail:
	rpc_client_free(c);
	return rc;
}

void rpc_client_free(struct rpc_client *c)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	free(c->path);
	free(c->in);
	free(c);
}

void rpc_client_on_notify(struct rpc_client *c, rpc_notify_fn fn, void *data)
{
	c->notify = fn;
	c->notify_data = data;
}

void rpc_client_set_timeout(struct rpc_client *c, int timeout_ms)
{
	if (timeout_ms > 0)
		c->timeout_ms = timeout_ms;
}

int rpc_client_timeout(const struct rpc_client *c)
{
	return c->timeout_ms;
}

int rpc_client_fd(const struct rpc_client *c)
{
	return c->fd;
}

const char *rpc_client_path(const struct rpc_client *c)
{
	return c->path;
}

/* ---- writing */

int rpc_client_write_some(struct rpc_client *c, const void *buf, size_t len,
                          size_t *written)
{
	ssize_t n;

	*written = 0;
	while (*written < len) {
		n = send(c->fd, (const char *)buf + *written, len - *written,
		         MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n < 0)
			return -errno;
		*written += (size_t)n;
	}
	return 0;
}

int rpc_client_write(struct rpc_client *c, const void *buf, size_t len)
{
	struct pollfd pfd = { .fd = c->fd, .events = POLLOUT };
	size_t done = 0, n;
	int rc;

	while (done < len) {
		rc = rpc_client_write_some(c, (const char *)buf + done, len - done, &n);
		if (rc < 0)
			return rc;
		done += n;
		if (done == len)
			break;
		/* The socket is full: wait for room, but only as long as the
		 * timeout allows without any progress. */
		rc = poll(&pfd, 1, c->timeout_ms);
		if (rc < 0 && errno != EINTR)
			return -errno;
		if (rc == 0)
			return -ETIMEDOUT;
	}
	return 0;
}

int rpc_client_shutdown_write(struct rpc_client *c)
{
	return shutdown(c->fd, SHUT_WR) < 0 ? -errno : 0;
}

int rpc_client_send(struct rpc_client *c, const char *method, json_t *params,
                    json_int_t *id_out)
{
	json_int_t id = c->next_id++;
	json_t *req;
	char *line = NULL;
	size_t len;
	int rc;

	req = json_pack("{s:s, s:I, s:s}", "jsonrpc", "2.0", "id", id, "method", method);
	if (!req) {
		rc = -ENOMEM;
		goto out;
	}
	if (params) {
		/* set_new steals params, on failure too */
		rc = json_object_set_new(req, "params", params) < 0 ? -ENOMEM : 0;
		params = NULL;
		if (rc < 0)
			goto out;
	}
	line = json_dumps(req, JSON_COMPACT);
	if (!line) {
		rc = -ENOMEM;
		goto out;
	}
	/* json_dumps leaves room only for its NUL; add the line's end. */
	len = strlen(line);
	line[len] = '\n';
	rc = rpc_client_write(c, line, len + 1);
	if (rc == 0 && id_out)
		*id_out = id;
out:
	json_decref(params);
	json_decref(req);
	free(line);
	return rc;
}

/* ---- reading */

/* Make room for at least READ_CHUNK more bytes after the valid region. */
static int reserve_input(struct rpc_client *c)
{
	size_t need, cap;
	char *grown;

	if (c->start > 0 && c->cap - c->start - c->len < READ_CHUNK) {
		memmove(c->in, c->in + c->start, c->len);
		c->start = 0;
	}
	need = c->start + c->len + READ_CHUNK;
	if (need <= c->cap)
		return 0;
	cap = c->cap ? c->cap : READ_CHUNK;
	while (cap < need)
		cap *= 2;
	grown = realloc(c->in, cap);
	if (!grown)
		return -ENOMEM;
	c->in = grown;
	c->cap = cap;
	return 0;
}

int rpc_client_receive(struct rpc_client *c)
{
	ssize_t n;
	int rc;

	if (c->eof)
		return -ECONNRESET;
	rc = reserve_input(c);
	if (rc < 0)
		return rc;
	do
		n = recv(c->fd, c->in + c->start + c->len, c->cap - c->start - c->len,
		         MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	if (n == 0) {
		c->eof = true;
		return -ECONNRESET;
	}
	c->len += (size_t)n;
	return 0;
}

static void consume_input(struct rpc_client *c, size_t n)
{
	c->start += n;
	c->len -= n;
	c->scanned = 0;
	if (c->len == 0)
		c->start = 0;
}

/* Find the next complete line: its length without "\n" (and "\r") in
 * *line_len, the bytes to consume in *used. False if none is complete; at
 * the end of the stream an unterminated rest counts as a line. */
static bool next_line(struct rpc_client *c, size_t *line_len, size_t *used)
{
	const char *base = c->in + c->start;
	const char *nl = NULL;

	if (c->len > c->scanned)
		nl = memchr(base + c->scanned, '\n', c->len - c->scanned);
	if (nl) {
		*line_len = (size_t)(nl - base);
		*used = *line_len + 1;
	} else if (c->eof && c->len > 0) {
		*line_len = *used = c->len;
	} else {
		c->scanned = c->len;
		return false;
	}
	if (*line_len > 0 && base[*line_len - 1] == '\r')
		(*line_len)--;
	return true;
}

int rpc_client_next(struct rpc_client *c, json_t **msg)
{
	size_t line_len, used;
	json_t *value;

	*msg = NULL;
	while (next_line(c, &line_len, &used)) {
		if (line_len == 0) {          /* blank lines are allowed */
			consume_input(c, used);
			continue;
		}
		value = json_loadb(c->in + c->start, line_len, 0, NULL);
		consume_input(c, used);
		if (!json_is_object(value)) {
			json_decref(value);
			return -EBADMSG;
		}
		*msg = value;
		return 0;
	}
	return 0;
}

int rpc_client_match_reply(json_t *msg, json_int_t id, json_t **result,
                           struct rpc_error *err)
{
	json_t *msg_id = json_object_get(msg, "id");
	json_t *error = json_object_get(msg, "error");
	json_t *res = json_object_get(msg, "result");
	const char *text;

	if (!msg_id || json_object_get(msg, "method"))
		return -ESRCH;
	if (json_is_null(msg_id) ? !error
	    : !json_is_integer(msg_id) || json_integer_value(msg_id) != id)
		return -ESRCH;
	if (error) {
		if (!json_is_object(error))
			return -EBADMSG;
		text = json_string_value(json_object_get(error, "message"));
		err->code = (int)json_integer_value(json_object_get(error, "code"));
		snprintf(err->message, sizeof(err->message), "%s",
		         text ? text : "(no message)");
		return -EREMOTEIO;
	}
	if (!res)
		return -EBADMSG;
	*result = json_incref(res);
	return 0;
}

int rpc_client_dispatch(struct rpc_client *c, json_t *msg)
{
	const char *method = json_string_value(json_object_get(msg, "method"));
	json_t *params, *empty = NULL;

	if (!method || json_object_get(msg, "id"))
		return 0;
	params = json_object_get(msg, "params");
	if (!json_is_object(params))
		params = empty = json_object();
	if (c->notify && params)
		c->notify(method, params, c->notify_data);
	json_decref(empty);
	return 1;
}

/* ---- waiting */

/* Take one message toward goal: true when the goal is reached (goal->rc
 * then holds the outcome). Other notifications go to the callback; stray
 * replies are dropped. */
static bool handle_message(struct rpc_client *c, json_t *msg, struct wait_goal *goal)
{
	const char *method = json_string_value(json_object_get(msg, "method"));
	json_t *params;
	int rc;

	if (goal->method && method && !json_object_get(msg, "id")
	    && strcmp(method, goal->method) == 0) {
		params = json_object_get(msg, "params");
		goal->found = json_is_object(params) ? json_incref(params) : json_object();
		goal->rc = goal->found ? 0 : -ENOMEM;
		return true;
	}
	if (rpc_client_dispatch(c, msg) || goal->reply_id <= 0)
		return false;
	rc = rpc_client_match_reply(msg, goal->reply_id, &goal->found, goal->err);
	if (rc == -ESRCH)
		return false;
	goal->rc = rc;
	return true;
}

/* Read and handle messages until goal is reached, the connection ends,
 * timeout_ms passes (-1: never) or ppoll is interrupted under sigmask. */
static int wait_loop(struct rpc_client *c, struct wait_goal *goal, int timeout_ms,
                     const sigset_t *sigmask)
{
	long long deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
	struct timespec ts;
	json_t *msg;
	int rc, left;
	bool reached;

	for (;;) {
		rc = rpc_client_next(c, &msg);
		if (rc < 0)
			return rc;
		if (msg) {
			reached = handle_message(c, msg, goal);
			json_decref(msg);
			if (reached)
				return goal->rc;
			continue;
		}
		if (c->eof)
			return -ECONNRESET;
		left = remaining_ms(deadline);
		if (left == 0)
			return -ETIMEDOUT;
		ts.tv_sec = left / 1000;
		ts.tv_nsec = (left % 1000) * 1000000L;
		rc = ppoll(&pfd, 1, left < 0 ? NULL : &ts, sigmask);
		if (rc < 0 && errno == EINTR && !sigmask)
			continue;
		if (rc < 0)
			return -errno;
		if (rc == 0)
			continue;
		rc = rpc_client_receive(c);
		if (rc < 0 && rc != -EAGAIN && rc != -ECONNRESET)
			return rc;
	}
}

int rpc_client_call(struct rpc_client *c, const char *method, json_t *params,
                    json_t **result, struct rpc_error *err)
{
	struct wait_goal goal = { .err = err };
	int rc;

	*result = NULL;
	rc = rpc_client_send(c, method, params, &goal.reply_id);
	if (rc < 0)
		return rc;
	rc = wait_loop(c, &goal, c->timeout_ms, NULL);
	if (rc == 0)
		*result = goal.found;
	return rc;
}

int rpc_client_wait(struct rpc_client *c, int timeout_ms, const sigset_t *sigmask)
{
	struct wait_goal goal = { 0 };

	return wait_loop(c, &goal, timeout_ms, sigmask);
}

int rpc_client_wait_for(struct rpc_client *c, const char *method, int timeout_ms,
                        json_t **params)
{
	struct wait_goal goal = { .method = method };
	int rc;

	*params = NULL;
	rc = wait_loop(c, &goal, timeout_ms, NULL);
	if (rc == 0)
		*params = goal.found;
	return rc;
}
