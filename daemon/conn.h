/*
 * conn.h - one client connection of doctord.
 *
 * A connection reads newline-framed JSON-RPC requests and dispatches them
 * (rpc.c), or, after a raw source.open, hands every byte to its source. It
 * queues replies and notifications for writing and drops a client whose unsent
 * output passes limits.max_output_bytes (a subscriber that stopped reading
 * must not grow the daemon without bound).
 *
 * Lifetime: created by server.c on accept, linked in doctord.conns; freed in
 * its uv_close callback after its sources are closed. A connection that is
 * closing accepts no more output.
 */
#ifndef DOCTOR_CONN_H
#define DOCTOR_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>
#include <uv.h>

#include "doctord.h"
#include "list.h"

struct conn {
	struct list_head link;       /* in doctord.conns */
	struct doctord *d;           /* borrowed */
	uv_pipe_t pipe;
	uint64_t serial;             /* for log lines */
	uid_t uid;
	pid_t pid;                   /* peer pid from SO_PEERCRED */
	char *inbuf;                 /* partial request line, owned */
	size_t inlen, incap;
	bool discarding;             /* dropping an oversized line up to its '\n' */
	bool subscribed;
	struct source *raw_source;   /* raw mode: every byte goes here (borrowed) */
	struct list_head sources;    /* sources this connection owns (source.conn_link) */
	size_t queued;               /* bytes handed to uv_write, not yet written */
	bool closing;
	bool shutting_down;          /* uv_shutdown issued; close when it completes */
	bool write_dead;             /* the peer stopped reading for good (EPIPE):
	                                keep reading what it sent, send nothing */
	bool refused;                /* refused with an error: input is discarded */
	bool dropped;                /* to be closed by the reaper (conn_reap) */
	uv_timer_t *refuse_timer;    /* closes a refused connection; owned */
	char rbuf[65536];            /* read buffer, reused for every read */
};

/* Accept a pending connection on the listener and start serving it.
 * Returns 0 or a negative errno (the pending connection is then dropped). */
int conn_accept(struct doctord *d);

/* Queue msg (stolen reference) as one line. Returns 0, -EPIPE if the
 * connection is closing, -ENOBUFS if the client was dropped for not reading. */
int conn_send(struct conn *c, json_t *msg);

/* Close now: owned sources are closed (their pending detection completes),
 * queued writes are abandoned. Safe to call twice. Never call it from code
 * that a source's detection can reach (sending, broadcasting): closing
 * frees the connection's sources; use conn_drop there. */
void conn_close(struct conn *c);

/* Stop serving c and close it at the next turn of the loop. Safe from any
 * callback, including the detection of one of c's own sources. */
void conn_drop(struct conn *c);

/* Close every dropped connection (the reaper timer's work). */
void conn_reap(struct doctord *d);

/* Finish writing what is queued, then close (used at EOF). */
void conn_close_after_writes(struct conn *c);

/* Switch to raw mode: the rest of this connection's bytes belong to src. */
void conn_set_raw(struct conn *c, struct source *src);

/* The live connection with that serial, or NULL if it has gone (or is
 * closing): how work that outlives a request finds its client again. */
struct conn *conn_find(struct doctord *d, uint64_t serial);

/* Send a notification (no id) to every subscribed connection; params stolen. */
void conn_broadcast(struct doctord *d, const char *method, json_t *params);

#endif
