/*
 * conn.c - one client connection of doctord (see conn.h).
 *
 * Reading: in JSON mode bytes are cut into lines; a complete line in one read
 * is dispatched straight from the read buffer, a line spread over reads is
 * assembled in inbuf, bounded by limits.max_message_bytes (an oversized line
 * is answered with -32001 and skipped up to its newline). In raw mode bytes go
 * to the source untouched. Writing: uv_try_write first, the rest queued with
 * uv_write; the count of queued bytes is what limits.max_output_bytes bounds.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "log.h"
#include "protocol.h"
#include "rpc.h"
#include "source.h"

struct write_req {
	uv_write_t req;
	struct conn *c;
	size_t len;
	char *data;        /* owned; freed when the write completes */
};

static uint64_t next_serial = 1;

/* ------------------------------------------------------------ closing */

static void on_closed(uv_handle_t *h)
{
	struct conn *c = h->data;

	free(c->inbuf);
	free(c);
}

static void close_owned_sources(struct conn *c)
{
	struct list_head *pos, *tmp;

	c->raw_source = NULL;
	list_for_each_safe(pos, tmp, &c->sources)
		source_close(list_entry(pos, struct source, conn_link));
}

void conn_close(struct conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	close_owned_sources(c);
	if (c->subscribed)
		c->d->nsubscribers--;
	c->subscribed = false;
	if (c->refuse_timer)
		uv_close((uv_handle_t *)c->refuse_timer, (uv_close_cb)free);
	c->refuse_timer = NULL;
	list_del(&c->link);
	c->d->nconns--;
	log_debug("conn %llu: closed", (unsigned long long)c->serial);
	uv_close((uv_handle_t *)&c->pipe, on_closed);
}

void conn_drop(struct conn *c)
{
	if (c->closing || c->dropped)
		return;
	c->dropped = true;
	uv_read_stop((uv_stream_t *)&c->pipe);
	doctord_schedule_reap(c->d);
}

void conn_reap(struct doctord *d)
{
	struct list_head *pos;

	/* Closing one connection completes its sources' detection, which may
	 * drop others (marking only), so the walk starts over after each. */
again:
	for (pos = d->conns.next; pos != &d->conns; pos = pos->next) {
		struct conn *c = list_entry(pos, struct conn, link);
		if (c->dropped && !c->closing) {
			conn_close(c);
			goto again;
		}
	}
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
	struct conn *c = req->data;

	free(req);
	conn_close(c);
}

void conn_close_after_writes(struct conn *c)
{
	uv_shutdown_t *req;

	if (c->closing || c->shutting_down)
		return;
	uv_read_stop((uv_stream_t *)&c->pipe);
	close_owned_sources(c);
	req = malloc(sizeof *req);
	if (!req) {
		conn_close(c);
		return;
	}
	req->data = c;
	c->shutting_down = true;
	if (uv_shutdown(req, (uv_stream_t *)&c->pipe, on_shutdown) < 0) {
		free(req);
		conn_close(c);
	}
}

/* ------------------------------------------------------------ writing */

static void on_written(uv_write_t *req, int status)
{
	struct write_req *w = (struct write_req *)req;

	w->c->queued -= w->len;
	if (status < 0 && status != UV_ECANCELED)
		log_debug("conn %llu: write failed: %s", (unsigned long long)w->c->serial,
		          uv_strerror(status));
	free(w->data);
	free(w);
}

/* Queue len bytes of data (owned, taken) after trying to write them now. */
static int send_bytes(struct conn *c, char *data, size_t len)
{
	uv_buf_t buf = uv_buf_init(data, (unsigned)len);
	struct write_req *w;
	int n = 0;

	if (c->queued == 0) {
		n = uv_try_write((uv_stream_t *)&c->pipe, &buf, 1);
		if (n == (int)len) {
			free(data);
			return 0;
		}
		if (n < 0 && n != UV_EAGAIN) {
			free(data);
			return n;
		}
		if (n < 0)
			n = 0;
	}
	w = calloc(1, sizeof *w);
	if (!w) {
		free(data);
		return -ENOMEM;
	}
	w->c = c;
	w->data = data;
	w->len = len - (size_t)n;
	buf = uv_buf_init(data + n, (unsigned)w->len);
	if ((n = uv_write(&w->req, (uv_stream_t *)&c->pipe, &buf, 1, on_written)) < 0) {
		free(data);
		free(w);
		return n;
	}
	c->queued += w->len;
	return 0;
}

int conn_send(struct conn *c, json_t *msg)
{
	char *text;
	size_t len;
	int rc;

	if (!msg)
		return -ENOMEM;
	if (c->closing || c->shutting_down || c->write_dead || c->dropped) {
		json_decref(msg);
		return -EPIPE;
	}
	text = json_dumps(msg, JSON_COMPACT);
	json_decref(msg);
	if (!text)
		return -ENOMEM;
	len = strlen(text);
	text[len++] = '\n';     /* replaces the NUL: the buffer is not a string */
	rc = send_bytes(c, text, len);
	if (rc == UV_EPIPE || rc == UV_ECONNRESET) {
		/* The peer is gone or shut its reading side; what it already sent
		 * is still read and used, up to its EOF. */
		log_debug("conn %llu: peer stopped reading", (unsigned long long)c->serial);
		c->write_dead = true;
		return rc;
	}
	if (rc < 0) {
		log_debug("conn %llu: send failed: %s", (unsigned long long)c->serial, strerror(-rc));
		conn_drop(c);
		return rc;
	}
	if (c->queued > c->d->cfg.max_output_bytes) {
		log_warn("conn %llu: client is not reading (%zu bytes unsent); dropping it",
		         (unsigned long long)c->serial, c->queued);
		conn_drop(c);
		return -ENOBUFS;
	}
	return 0;
}

struct conn *conn_find(struct doctord *d, uint64_t serial)
{
	struct list_head *pos;

	for (pos = d->conns.next; pos != &d->conns; pos = pos->next) {
		struct conn *c = list_entry(pos, struct conn, link);
		if (c->serial == serial)
			return c->closing || c->dropped ? NULL : c;
	}
	return NULL;
}

void conn_broadcast(struct doctord *d, const char *method, json_t *params)
{
	json_t *msg = rpc_notification(method, params);
	struct list_head *pos, *tmp;

	if (!msg)
		return;
	list_for_each_safe(pos, tmp, &d->conns) {
		struct conn *c = list_entry(pos, struct conn, link);
		if (c->subscribed)
			conn_send(c, json_incref(msg));
	}
	json_decref(msg);
}

/* ------------------------------------------------------------ reading */

void conn_set_raw(struct conn *c, struct source *src)
{
	c->raw_source = src;
}

static void oversized(struct conn *c)
{
	size_t limit = c->d->cfg.max_message_bytes;

	rpc_error(c, json_null(), RPC_MESSAGE_TOO_LARGE,
	          "message too large: a line exceeded limits.max_message_bytes",
	          json_pack("{s:I}", "limit", (json_int_t)limit));
	c->discarding = true;
	c->inlen = 0;
}

/* Append to the partial line; -ENOMEM or 0. Caller checked the limit. */
static int inbuf_append(struct conn *c, const char *p, size_t n)
{
	if (c->inlen + n > c->incap) {
		size_t cap = c->incap ? c->incap : 4096;
		char *nb;
		while (cap < c->inlen + n)
			cap *= 2;
		nb = realloc(c->inbuf, cap);
		if (!nb)
			return -ENOMEM;
		c->inbuf = nb;
		c->incap = cap;
	}
	memcpy(c->inbuf + c->inlen, p, n);
	c->inlen += n;
	return 0;
}

static void dispatch_line(struct conn *c, const char *line, size_t len)
{
	if (len && line[len - 1] == '\r')
		len--;
	if (len == 0)
		return;
	rpc_dispatch(c, line, len);
}

/* JSON mode: consume data, dispatching complete lines. Stops early if the
 * connection switched to raw mode (the rest goes to the source) or closes. */
static void input_json(struct conn *c, const char *data, size_t len)
{
	size_t limit = c->d->cfg.max_message_bytes;

	while (len > 0 && !c->closing && !c->shutting_down && !c->dropped) {
		const char *nl;
		size_t n;

		if (c->raw_source) {
			source_feed(c->raw_source, data, len);
			return;
		}
		nl = memchr(data, '\n', len);
		n = nl ? (size_t)(nl - data) : len;
		if (c->discarding) {
			if (nl)
				c->discarding = false;
		} else if (c->inlen + n > limit) {
			oversized(c);
			if (nl)
				c->discarding = false;
		} else if (nl && c->inlen == 0) {
			dispatch_line(c, data, n);
		} else if (inbuf_append(c, data, n) < 0) {
			log_error("conn %llu: out of memory", (unsigned long long)c->serial);
			conn_close(c);
			return;
		} else if (nl) {
			size_t l = c->inlen;
			c->inlen = 0;
			dispatch_line(c, c->inbuf, l);
		}
		if (!nl)
			return;
		data = nl + 1;
		len -= n + 1;
	}
}

static void on_eof(struct conn *c)
{
	if (c->refused) {
		conn_close(c);
		return;
	}
	if (c->raw_source) {
		struct source *src = c->raw_source;
		json_t *incidents = source_finish(src);
		json_t *params = json_pack("{s:I, s:o}", "source", (json_int_t)src->id,
		                           "incidents", incidents ? incidents : json_array());
		conn_send(c, rpc_notification("source.closed", params));
	} else if (c->inlen > 0 && !c->discarding) {
		/* a last request without its newline: serve it if it is whole
		 * (a client that vanished mid-message gets a parse error nobody
		 * reads) */
		size_t l = c->inlen;
		c->inlen = 0;
		log_debug("conn %llu: last line had no newline (%zu bytes)",
		          (unsigned long long)c->serial, l);
		dispatch_line(c, c->inbuf, l);
	}
	c->inlen = 0;
	if (c->dropped || c->closing)
		return;
	conn_close_after_writes(c);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct conn *c = h->data;

	buf->base = c->rbuf;
	buf->len = sizeof c->rbuf;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct conn *c = s->data;

	if (c->dropped)
		return;
	if (n > 0) {
		if (c->refused)
			return;
		if (c->raw_source)
			source_feed(c->raw_source, buf->base, (size_t)n);
		else
			input_json(c, buf->base, (size_t)n);
	} else if (n == UV_EOF) {
		on_eof(c);
	} else if (n < 0) {
		log_debug("conn %llu: read error: %s", (unsigned long long)c->serial, uv_strerror((int)n));
		conn_close(c);
	}
}

/* ------------------------------------------------------------ accepting */

static void on_refuse_shutdown(uv_shutdown_t *req, int status)
{
	free(req);    /* the connection closes at the peer's EOF or the timer */
}

static void on_refuse_timeout(uv_timer_t *t)
{
	conn_close(t->data);
}

/* Refuse a connection politely: one error line and the end of our output.
 * What the peer sends is read and discarded (closing on unread input would
 * reset the connection and lose the error line) until it closes, or for at
 * most a second. */
static void refuse(struct conn *c, int code, const char *message)
{
	json_t *msg = json_pack("{s:s, s:n, s:{s:i, s:s}}", "jsonrpc", "2.0", "id",
	                        "error", "code", code, "message", message);
	uv_shutdown_t *req = malloc(sizeof *req);

	c->refused = true;
	conn_send(c, msg);
	c->refuse_timer = malloc(sizeof *c->refuse_timer);
	if (!req || !c->refuse_timer || uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read) < 0) {
		free(req);
		free(c->refuse_timer);
		c->refuse_timer = NULL;
		conn_close(c);
		return;
	}
	uv_timer_init(c->d->loop, c->refuse_timer);
	c->refuse_timer->data = c;
	uv_timer_start(c->refuse_timer, on_refuse_timeout, 1000, 0);
	req->data = NULL;
	if (uv_shutdown(req, (uv_stream_t *)&c->pipe, on_refuse_shutdown) < 0)
		free(req);
}

static int peer_credentials(struct conn *c)
{
	struct ucred cred;
	socklen_t len = sizeof cred;
	uv_os_fd_t fd;

	if (uv_fileno((uv_handle_t *)&c->pipe, &fd) < 0)
		return -EBADF;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return -errno;
	c->uid = cred.uid;
	c->pid = cred.pid;
	return 0;
}

int conn_accept(struct doctord *d)
{
	struct conn *c = calloc(1, sizeof *c);
	int rc;

	if (!c)
		return -ENOMEM;
	list_init(&c->sources);
	c->d = d;
	c->serial = next_serial++;
	uv_pipe_init(d->loop, &c->pipe, 0);
	c->pipe.data = c;
	list_add_tail(&c->link, &d->conns);
	d->nconns++;
	if ((rc = uv_accept((uv_stream_t *)&d->listener, (uv_stream_t *)&c->pipe)) < 0) {
		conn_close(c);
		return rc;
	}
	if ((rc = peer_credentials(c)) < 0) {
		log_warn("conn %llu: cannot read peer credentials: %s", (unsigned long long)c->serial,
		         strerror(-rc));
		conn_close(c);
		return rc;
	}
	if (c->uid != geteuid()) {
		log_warn("conn %llu: refused uid %u (pid %d): not the daemon's user",
		         (unsigned long long)c->serial, (unsigned)c->uid, (int)c->pid);
		refuse(c, RPC_PERMISSION_DENIED,
		       "permission denied: this doctord serves only its own user");
		return -EPERM;
	}
	if (d->stopping) {
		refuse(c, RPC_SHUTTING_DOWN, "doctord is shutting down");
		return -ESHUTDOWN;
	}
	if (d->nconns > d->cfg.max_connections) {
		log_warn("conn %llu: refused: %d connections (limits.max_connections)",
		         (unsigned long long)c->serial, d->nconns - 1);
		refuse(c, RPC_LIMIT_REACHED, "too many connections (limits.max_connections)");
		return -EMFILE;
	}
	log_debug("conn %llu: accepted pid %d", (unsigned long long)c->serial, (int)c->pid);
	if ((rc = uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read)) < 0) {
		conn_close(c);
		return rc;
	}
	return 0;
}
