/*
 * raw_feed.h - a raw source fed without ever blocking: how `doctor run`
 * streams a command's output to the daemon.
 *
 * The feed sends `source.open` with `raw: true` (docs/protocol.md), keeps
 * output in a bounded queue until the daemon has accepted the source and
 * while its socket is full, and drops output beyond the bound with one
 * warning rather than slow the command down. At the end it shuts down its
 * writing side and waits for `source.closed`, which carries the incidents
 * found. Whatever goes wrong with the daemon is said once on stderr and
 * turns the feed into a sink that drops everything: the command's output
 * on the terminal never depends on it.
 *
 * It is driven by the caller's poll loop: raw_feed_fd() and
 * raw_feed_events() say what to poll for, raw_feed_handle() takes the
 * result.
 */
#ifndef DOCTOR_RAW_FEED_H
#define DOCTOR_RAW_FEED_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#include "rpc_client.h"

#define RAW_FEED_DEFAULT_LIMIT (8u << 20)   /* bytes queued at most */

struct raw_feed;

/* Start a raw source on rpc (stolen: freed with the feed) named name, of
 * kind kind, with context (stolen, may be NULL). Returns 0 or a negative
 * errno (rpc and context are freed then too). */
int raw_feed_open(struct rpc_client *rpc, const char *kind, const char *name,
                  json_t *context, size_t limit, struct raw_feed **out);
void raw_feed_free(struct raw_feed *f);

int raw_feed_fd(const struct raw_feed *f);
/* poll(2) events to wait for; 0 when the feed has nothing more to do. */
short raw_feed_events(const struct raw_feed *f);
/* Act on what poll returned for raw_feed_fd(). */
void raw_feed_handle(struct raw_feed *f, short revents);

/* Record output (copied). */
void raw_feed_append(struct raw_feed *f, const void *buf, size_t len);
/* No more output: once the queue is sent the writing side is shut down. */
void raw_feed_finish(struct raw_feed *f);
/* True once `source.closed` arrived or the feed failed. */
bool raw_feed_done(const struct raw_feed *f);
/* The incidents of `source.closed` (borrowed), NULL if it did not arrive. */
json_t *raw_feed_incidents(const struct raw_feed *f);

#endif
