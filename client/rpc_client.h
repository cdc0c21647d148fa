/*
 * rpc_client.h - the doctor command's connection to doctord.
 *
 * One Unix stream socket speaking the line protocol of docs/protocol.md:
 * JSON-RPC 2.0, one JSON object per line. Calls are synchronous (send, then
 * wait for the reply); replies are matched to requests by id, and
 * notifications the daemon sends in between are handed to a callback as
 * they are read. Lines may be of any size (the read buffer grows). Every
 * wait is a poll(2) bounded by a timeout, so a daemon that hangs can never
 * hang the command.
 *
 * Errors are negative errno values:
 *   -ENOENT, -ECONNREFUSED  connect: no daemon listens at the path
 *   -EAGAIN                 connect: the daemon's backlog is full
 *   -ECONNRESET             the daemon closed the connection
 *   -ETIMEDOUT              no reply (or no progress) within the timeout
 *   -EREMOTEIO              the daemon answered with a JSON-RPC error
 *                           (struct rpc_error says which)
 *   -EBADMSG                the daemon sent something that is not a message
 *   -ENOMEM, and others from the system calls.
 *
 * Ownership follows jansson's words: params are stolen (the client takes the
 * reference), results are new references the caller must json_decref().
 */
#ifndef DOCTOR_RPC_CLIENT_H
#define DOCTOR_RPC_CLIENT_H

#include <signal.h>
#include <stddef.h>
#include <jansson.h>

#define RPC_CLIENT_DEFAULT_TIMEOUT_MS 10000

struct rpc_client;

/* A JSON-RPC error reply. */
struct rpc_error {
	int code;             /* e.g. -32003 (protocol.h) */
	char message[512];    /* the daemon's message, cut if longer */
};

/* Called for each notification (a message with a method and no id).
 * method and params are borrowed for the duration of the call; params is
 * an empty object when the notification had none. */
typedef void (*rpc_notify_fn)(const char *method, json_t *params, void *data);

/* Connect to the daemon's socket at path. *out is owned by the caller and
 * freed with rpc_client_free(). */
int rpc_client_connect(const char *path, struct rpc_client **out);
void rpc_client_free(struct rpc_client *c);

/* Where notifications go (NULL: they are dropped). */
void rpc_client_on_notify(struct rpc_client *c, rpc_notify_fn fn, void *data);
/* Timeout for replies and for progress of writes, in ms (> 0). */
void rpc_client_set_timeout(struct rpc_client *c, int timeout_ms);
int rpc_client_timeout(const struct rpc_client *c);
int rpc_client_fd(const struct rpc_client *c);
const char *rpc_client_path(const struct rpc_client *c);   /* borrowed */

/* Send one request and wait for its reply. On success *result is a new
 * reference to the reply's result. On -EREMOTEIO *err describes the
 * daemon's error. params (an object or NULL) is stolen. */
int rpc_client_call(struct rpc_client *c, const char *method, json_t *params,
                    json_t **result, struct rpc_error *err);

/* Send one request without waiting; *id_out receives its id. params is
 * stolen. Blocks at most the timeout if the socket is full. */
int rpc_client_send(struct rpc_client *c, const char *method, json_t *params,
                    json_int_t *id_out);

/* Write bytes as they are (a raw source's output), blocking at most the
 * timeout without progress. */
int rpc_client_write(struct rpc_client *c, const void *buf, size_t len);

/* Write what the socket takes right now without blocking; *written gets
 * how much. 0 with *written < len when the socket is full. */
int rpc_client_write_some(struct rpc_client *c, const void *buf, size_t len,
                          size_t *written);

/* Shut down the writing side (end of a raw source's output). */
int rpc_client_shutdown_write(struct rpc_client *c);

/* Read what has arrived (one recv, never blocks). -EAGAIN if nothing,
 * -ECONNRESET at end of stream (messages already buffered stay readable). */
int rpc_client_receive(struct rpc_client *c);

/* Take the next complete message from what was received: *msg is a new
 * reference, or NULL when no complete line is buffered. A line that is
 * not a JSON object is consumed and reported as -EBADMSG. */
int rpc_client_next(struct rpc_client *c, json_t **msg);

/* If msg is a reply to id (or an error reply with a null id, which the
 * daemon sends when it could not read a request's id), return 0 with
 * *result (new reference) or -EREMOTEIO with *err; -ESRCH if msg is not
 * that reply; -EBADMSG if it is a malformed reply. */
int rpc_client_match_reply(json_t *msg, json_int_t id, json_t **result,
                           struct rpc_error *err);

/* If msg is a notification, hand it to the callback and return 1; else 0. */
int rpc_client_dispatch(struct rpc_client *c, json_t *msg);

/* Wait for notifications, dispatching them, until the timeout (ms, -1 for
 * none) passes (-ETIMEDOUT), a signal arrives that sigmask lets through
 * (-EINTR; see ppoll(2); NULL keeps the current mask), or the connection
 * ends (-ECONNRESET). Stray replies are ignored. */
int rpc_client_wait(struct rpc_client *c, int timeout_ms, const sigset_t *sigmask);

/* Wait until the notification named method arrives (others go to the
 * callback). *params is a new reference to its params. */
int rpc_client_wait_for(struct rpc_client *c, const char *method, int timeout_ms,
                        json_t **params);

#endif
