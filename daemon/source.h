/*
 * source.h - a stream of output doctord watches: a notebook, a command, a
 * shell, or a followed log file.
 *
 * A source assembles lines (linebuf), keeps the recent ones in a ring for
 * context, and runs them through its scanner of detectors; each error found
 * becomes an incident (incidents.h). When a detector holds an unfinished
 * error (a traceback whose chain may continue), a settle timer completes it
 * after sources.settle_ms of quiet.
 *
 * Lifetime: created by source_open, linked in doctord.sources and, when a
 * connection owns it, in that connection's list. source_close unlinks it and
 * completes detection; the memory is freed in the settle timer's close
 * callback.
 */
#ifndef DOCTOR_SOURCE_H
#define DOCTOR_SOURCE_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include <uv.h>

#include "detect.h"
#include "doctord.h"
#include "linebuf.h"
#include "list.h"
#include "ring.h"

struct conn;
struct filewatch;

struct source {
	struct list_head link;       /* in doctord.sources */
	struct list_head conn_link;  /* in owner->sources, or self-linked */
	struct doctord *d;           /* borrowed */
	struct conn *owner;          /* borrowed; NULL for a followed file */
	int64_t id;                  /* the store's id, also the protocol's */
	char *kind;                  /* owned */
	char *name;                  /* owned */
	json_t *context;             /* owned reference */
	bool raw;
	bool closed;
	bool closing;                /* inside source_close */
	dr_linebuf lb;
	dr_scanner *scanner;         /* owned */
	ring recent;
	uv_timer_t settle;
	uint64_t lines, bytes, errors;
	const dr_line *scanning;     /* the line being scanned, during on_line */
};

/* Open a source; owner may be NULL. context (borrowed) may be NULL.
 * Returns 0 with *out set, or a negative errno (-EIO: the store failed,
 * -EMFILE: limits.max_sources reached). */
int source_open(struct doctord *d, struct conn *owner, const char *kind, const char *name,
                json_t *context, bool raw, struct source **out);
/* Feed output bytes. */
void source_feed(struct source *src, const char *data, size_t len);
/* End of a stream within the source (a rotated log file): emit the partial
 * last line and complete pending errors. */
void source_flush(struct source *src);
/* End of output: complete every pending error, then return the summaries of
 * the incidents seen in this source (new reference; NULL on failure). The
 * source stays open until source_close. */
json_t *source_finish(struct source *src);
/* Complete pending detection and close. Safe to call twice. */
void source_close(struct source *src);
/* The open source with this id, or NULL. */
struct source *source_find(struct doctord *d, int64_t id);
/* Status view {id, kind, name, lines, bytes, errors, raw}; new reference. */
json_t *source_status(const struct source *src);
/* Recent context lines as one string (owned by caller). */
char *source_context(const struct source *src);

#endif
