/*
 * source.c - output streams watched by doctord (see source.h).
 *
 * Data path: source_feed -> linebuf (lines, ANSI-free text) -> on_line:
 * scanner (detectors) -> errors -> incidents_report; each line then enters
 * the context ring. Kept allocation-free per line except for the ring copy.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "incidents.h"
#include "log.h"
#include "source.h"

/* Does e's raw text end with the line being scanned? */
static bool ends_on_current_line(const struct source *src, const dr_error *e)
{
	const dr_line *l = src->scanning;
	size_t len = e->raw ? strlen(e->raw) : 0;

	return l && len >= l->raw_len && memcmp(e->raw + len - l->raw_len, l->raw, l->raw_len) == 0;
}

/* How many of the ring's newest lines belong to e, so that the context is
 * what came before it: its lines already pushed (a line detector emits while
 * its line is scanned, before it enters the ring), and blank lines after it
 * (while a chain marker was awaited). */
static size_t error_lines_in_ring(const struct source *src, const dr_error *e)
{
	size_t n = 1, blank = 0;
	const char *l;

	for (const char *p = e->raw; p && *p; p++)
		n += *p == '\n';
	if (ends_on_current_line(src, e))
		return n - 1;
	while ((l = ring_newest(&src->recent, blank)) && (l[0] == '\0' || strcmp(l, "\r") == 0))
		blank++;
	return n + blank;
}

static void on_error(void *ud, dr_error *e)
{
	struct source *src = ud;
	char *context = ring_join_before(&src->recent, (size_t)src->d->cfg.incident_context_lines,
	                                 error_lines_in_ring(src, e));

	incidents_report(src->d, src, e, context, NULL);
	free(context);
}

static void on_line(void *ud, const dr_line *line)
{
	struct source *src = ud;

	src->lines++;
	src->scanning = line;
	if (dr_scanner_line(src->scanner, line, on_error, src) < 0)
		log_warn("source %lld: out of memory in detection", (long long)src->id);
	src->scanning = NULL;
	ring_push(&src->recent, line->raw, line->raw_len);
}

static void on_settle(uv_timer_t *t)
{
	struct source *src = t->data;

	dr_scanner_flush(src->scanner, on_error, src);
}

void source_feed(struct source *src, const char *data, size_t len)
{
	if (src->closed)
		return;
	src->bytes += len;
	if (dr_linebuf_feed(&src->lb, data, len, on_line, src) < 0)
		log_warn("source %lld: out of memory assembling lines", (long long)src->id);
	if (dr_scanner_pending(src->scanner))
		uv_timer_start(&src->settle, on_settle, (uint64_t)src->d->cfg.settle_ms, 0);
	else
		uv_timer_stop(&src->settle);
}

void source_flush(struct source *src)
{
	if (src->closed)
		return;
	dr_linebuf_flush(&src->lb, on_line, src);
	dr_scanner_flush(src->scanner, on_error, src);
	uv_timer_stop(&src->settle);
}

json_t *source_finish(struct source *src)
{
	json_t *incidents = NULL;

	source_flush(src);
	if (store_incidents_of_source(src->d->st, src->id, &incidents) < 0)
		log_error("store: cannot list incidents of source %lld: %s", (long long)src->id,
		          store_errmsg(src->d->st));
	return incidents;
}

static void on_timer_closed(uv_handle_t *h)
{
	struct source *src = h->data;

	free(src->kind);
	free(src->name);
	json_decref(src->context);
	free(src);
}

void source_close(struct source *src)
{
	if (src->closed || src->closing)
		return;
	src->closing = true;     /* detection below must not close it again */
	source_flush(src);
	src->closed = true;
	if (store_source_close(src->d->st, src->id, doctord_now()) < 0)
		log_warn("store: cannot mark source %lld closed: %s", (long long)src->id,
		         store_errmsg(src->d->st));
	log_debug("source %lld (%s) closed: %llu lines, %llu bytes, %llu errors",
	          (long long)src->id, src->kind, (unsigned long long)src->lines,
	          (unsigned long long)src->bytes, (unsigned long long)src->errors);
	if (src->owner && src->owner->raw_source == src)
		src->owner->raw_source = NULL;
	list_del(&src->link);
	list_del(&src->conn_link);
	src->d->nsources--;
	dr_linebuf_free(&src->lb);
	dr_scanner_free(src->scanner);
	src->scanner = NULL;
	ring_free(&src->recent);
	uv_close((uv_handle_t *)&src->settle, on_timer_closed);
}

/* Free a source that never got its timer or list links. */
static void source_free_unopened(struct source *src)
{
	free(src->kind);
	free(src->name);
	json_decref(src->context);
	dr_scanner_free(src->scanner);
	dr_linebuf_free(&src->lb);
	ring_free(&src->recent);
	free(src);
}

static int source_alloc(struct doctord *d, const char *kind, const char *name,
                        json_t *context, struct source **out)
{
	struct source *src = calloc(1, sizeof *src);

	if (!src)
		return -ENOMEM;
	src->d = d;
	src->kind = strdup(kind);
	src->name = strdup(name);
	src->context = context ? json_incref(context) : json_object();
	src->scanner = dr_scanner_new();
	if (!src->kind || !src->name || !src->scanner ||
	    dr_linebuf_init(&src->lb, d->cfg.max_line_bytes) < 0 ||
	    ring_init(&src->recent, (size_t)d->cfg.context_lines) < 0) {
		source_free_unopened(src);
		return -ENOMEM;
	}
	*out = src;
	return 0;
}

static const char *ctx_string(json_t *context, const char *key)
{
	return json_string_value(json_object_get(context, key));
}

int source_open(struct doctord *d, struct conn *owner, const char *kind, const char *name,
                json_t *context, bool raw, struct source **out)
{
	store_source row = { 0 };
	struct source *src;
	int rc;

	if (d->nsources >= d->cfg.max_sources)
		return -EMFILE;
	if ((rc = source_alloc(d, kind, name, context, &src)) < 0)
		return rc;
	row.kind = kind;
	row.name = name;
	row.cwd = ctx_string(context, "cwd");
	row.python = ctx_string(context, "python");
	row.virtualenv = ctx_string(context, "virtualenv");
	row.context = context;
	row.opened_at = doctord_now();
	if (store_source_add(d->st, &row, &src->id) < 0) {
		log_error("store: cannot add source: %s", store_errmsg(d->st));
		source_free_unopened(src);
		return -EIO;
	}
	uv_timer_init(d->loop, &src->settle);
	src->settle.data = src;
	src->owner = owner;
	src->raw = raw;
	list_add_tail(&src->link, &d->sources);
	if (owner)
		list_add_tail(&src->conn_link, &owner->sources);
	else
		list_init(&src->conn_link);
	d->nsources++;
	log_debug("source %lld opened: %s%s", (long long)src->id, kind, raw ? " (raw)" : "");
	*out = src;
	return 0;
}

struct source *source_find(struct doctord *d, int64_t id)
{
	struct list_head *pos, *tmp;

	list_for_each_safe(pos, tmp, &d->sources) {
		struct source *src = list_entry(pos, struct source, link);
		if (src->id == id)
			return src;
	}
	return NULL;
}

json_t *source_status(const struct source *src)
{
	return json_pack("{s:I, s:s, s:s, s:I, s:I, s:I, s:b}", "id", (json_int_t)src->id,
	                 "kind", src->kind, "name", src->name,
	                 "lines", (json_int_t)src->lines, "bytes", (json_int_t)src->bytes,
	                 "errors", (json_int_t)src->errors, "raw", src->raw);
}

char *source_context(const struct source *src)
{
	return ring_join(&src->recent, (size_t)src->d->cfg.incident_context_lines);
}
