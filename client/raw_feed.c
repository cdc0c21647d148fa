/*
 * raw_feed.c - a raw source fed without blocking (raw_feed.h): a bounded
 * byte queue in front of the daemon's socket and the small state machine
 * of a raw source's life.
 *
 *   OPENING --reply--> OPEN --finish, queue sent--> CLOSING --source.closed--> CLOSED
 *      any state --error, refusal, connection lost--> FAILED
 *
 * Output is held back while OPENING: if the daemon refused the source it
 * would read those bytes as JSON-RPC requests.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "doctor.h"
#include "raw_feed.h"

enum feed_state { FEED_OPENING, FEED_OPEN, FEED_CLOSING, FEED_CLOSED, FEED_FAILED };

struct raw_feed {
	struct rpc_client *rpc;     /* owned */
	enum feed_state state;
	json_int_t open_id;         /* id of the source.open request */
	char *queue;                /* owned; pending bytes are [head, head+len) */
	size_t head, len, cap, limit;
	bool finishing;             /* no more output will come */
	bool dropped;               /* the drop warning was given */
	json_t *incidents;          /* from source.closed; owned */
};

int raw_feed_open(struct rpc_client *rpc, const char *kind, const char *name,
                  json_t *context, size_t limit, struct raw_feed **out)
{
	struct raw_feed *f;
	json_t *params;
	int rc;

	*out = NULL;
	params = json_pack("{s:s, s:s, s:b}", "kind", kind, "name", name, "raw", 1);
	f = calloc(1, sizeof(*f));
	if (!params || !f
	    || (context && json_object_set(params, "context", context) < 0)) {
		rc = -ENOMEM;
		goto fail;
	}
	f->rpc = rpc;
	f->limit = limit;
	rc = rpc_client_send(rpc, "source.open", params, &f->open_id);
	params = NULL;              /* stolen by rpc_client_send */
	if (rc < 0) {
		f->rpc = NULL;
		goto fail;
	}
	json_decref(context);
	*out = f;
	return 0;
fail:
	json_decref(params);
	json_decref(context);
	rpc_client_free(rpc);
	free(f);
	return rc;
}

void raw_feed_free(struct raw_feed *f)
{
	if (!f)
		return;
	rpc_client_free(f->rpc);
	free(f->queue);
	json_decref(f->incidents);
	free(f);
}

int raw_feed_fd(const struct raw_feed *f)
{
	return rpc_client_fd(f->rpc);
}

short raw_feed_events(const struct raw_feed *f)
{
	switch (f->state) {
	case FEED_OPENING:
	case FEED_CLOSING:
		return POLLIN;
	case FEED_OPEN:
		/* POLLIN too: a daemon that goes away shows as end of stream */
		return POLLIN | (f->len > 0 ? POLLOUT : 0);
	default:
		return 0;
	}
}

bool raw_feed_done(const struct raw_feed *f)
{
	return f->state == FEED_CLOSED || f->state == FEED_FAILED;
}

json_t *raw_feed_incidents(const struct raw_feed *f)
{
	return f->incidents;
}

/* Give up on the daemon, saying why once. */
static void fail(struct raw_feed *f, const char *reason)
{
	if (f->state == FEED_FAILED)
		return;
	doctor_msg("%s", reason);
	f->state = FEED_FAILED;
	free(f->queue);
	f->queue = NULL;
	f->head = f->len = f->cap = 0;
}

static void lost(struct raw_feed *f)
{
	fail(f, f->finishing
	        ? "the daemon closed the connection before reporting on this run"
	        : "lost the connection to the daemon; the output is no longer recorded");
}

/* Send what the socket takes now; shut down once all is sent at the end. */
static void flush(struct raw_feed *f)
{
	size_t written;
	int rc;

	if (f->state != FEED_OPEN)
		return;
	if (f->len > 0) {
		rc = rpc_client_write_some(f->rpc, f->queue + f->head, f->len, &written);
		if (rc < 0) {
			lost(f);
			return;
		}
		f->head += written;
		f->len -= written;
		if (f->len == 0)
			f->head = 0;
	}
	if (f->len == 0 && f->finishing) {
		if (rpc_client_shutdown_write(f->rpc) < 0) {
			lost(f);
			return;
		}
		f->state = FEED_CLOSING;
	}
}

/* The reply to source.open, or source.closed; anything else is ignored. */
static void take_message(struct raw_feed *f, json_t *msg)
{
	const char *method = json_string_value(json_object_get(msg, "method"));
	json_t *result = NULL, *incidents;
	struct rpc_error err;
	char reason[sizeof(err.message) + 100];
	int rc;

	if (method && strcmp(method, "source.closed") == 0) {
		incidents = json_object_get(json_object_get(msg, "params"), "incidents");
		f->incidents = json_is_array(incidents) ? json_incref(incidents) : json_array();
		f->state = FEED_CLOSED;
		return;
	}
	if (f->state != FEED_OPENING)
		return;
	rc = rpc_client_match_reply(msg, f->open_id, &result, &err);
	json_decref(result);
	if (rc == -ESRCH)
		return;
	if (rc == -EREMOTEIO) {
		snprintf(reason, sizeof(reason),
		         "the daemon refused the source: %s (error %d); the output is not recorded",
		         err.message, err.code);
		fail(f, reason);
	} else if (rc < 0) {
		fail(f, "the daemon sent a reply that is not JSON-RPC 2.0; the output is not recorded");
	} else {
		f->state = FEED_OPEN;
	}
}

void raw_feed_handle(struct raw_feed *f, short revents)
{
	json_t *msg;
	int rc = 0, next;

	if (raw_feed_done(f))
		return;
	if (revents & (POLLIN | POLLHUP | POLLERR)) {
		rc = rpc_client_receive(f->rpc);
		while (!raw_feed_done(f)) {
			next = rpc_client_next(f->rpc, &msg);
			if (next < 0)
				fail(f, "the daemon sent something that is not JSON-RPC 2.0; the output is no longer recorded");
			if (next < 0 || !msg)
				break;
			take_message(f, msg);
			json_decref(msg);
		}
		if (rc < 0 && rc != -EAGAIN && !raw_feed_done(f)) {
			lost(f);
			return;
		}
	}
	flush(f);
}

/* Room for add more queued bytes. */
static int reserve(struct raw_feed *f, size_t add)
{
	size_t cap = f->cap ? f->cap : 64 * 1024;
	char *grown;

	if (f->head > 0 && f->head + f->len + add > f->cap) {
		memmove(f->queue, f->queue + f->head, f->len);
		f->head = 0;
	}
	if (f->len + add <= f->cap)
		return 0;
	while (cap < f->len + add)
		cap *= 2;
	grown = realloc(f->queue, cap);
	if (!grown)
		return -ENOMEM;
	f->queue = grown;
	f->cap = cap;
	return 0;
}

void raw_feed_append(struct raw_feed *f, const void *buf, size_t len)
{
	if (f->state != FEED_OPENING && f->state != FEED_OPEN)
		return;
	if (f->len + len > f->limit) {
		if (!f->dropped)
			doctor_msg("the daemon is not keeping up; dropping output "
			           "(it is still shown here)");
		f->dropped = true;
		return;
	}
	if (reserve(f, len) < 0) {
		fail(f, "out of memory; the output is no longer recorded");
		return;
	}
	memcpy(f->queue + f->head + f->len, buf, len);
	f->len += len;
	flush(f);
}

void raw_feed_finish(struct raw_feed *f)
{
	f->finishing = true;
	flush(f);
}
