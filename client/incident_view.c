/*
 * incident_view.c - incident summaries as text: headlines and the table
 * shared by `doctor incidents` and `doctor send`.
 *
 * Column widths follow the data (no fixed layout breaks on a 7-digit id);
 * only the last column, the error itself, is cut to the terminal's width.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE     /* asprintf */
#endif
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "format.h"
#include "incident_view.h"

#define SOURCE_COLUMN_MAX 24   /* columns a source name may take */
#define HEADLINE_MIN 20        /* the error keeps at least this much */

/* The texts of one row. */
struct row {
	char id[24], count[24], seen[24];
	char *source;              /* fitted to SOURCE_COLUMN_MAX; owned */
	char *headline;            /* owned */
};

struct widths {
	size_t id, count, seen, source;
};

char *incident_view_headline(const json_t *incident)
{
	const char *exception = json_string_value(json_object_get(incident, "exception"));
	const char *message = json_string_value(json_object_get(incident, "message"));
	char *line;

	if (!exception || !*exception)
		exception = "error";
	if (!message || !*message)
		return strdup(exception);
	if (asprintf(&line, "%s: %s", exception, message) < 0)
		return NULL;
	return line;
}

const char *incident_view_source_name(const json_t *incident)
{
	const char *name;

	name = json_string_value(json_object_get(json_object_get(incident, "source"), "name"));
	return name && *name ? name : "-";
}

double incident_view_now(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (double)tv.tv_sec + tv.tv_usec / 1e6;
}

static int row_fill(struct row *r, const json_t *incident, double now)
{
	double last_seen = json_number_value(json_object_get(incident, "last_seen"));

	snprintf(r->id, sizeof(r->id), "%" JSON_INTEGER_FORMAT,
	         json_integer_value(json_object_get(incident, "id")));
	snprintf(r->count, sizeof(r->count), "%" JSON_INTEGER_FORMAT,
	         json_integer_value(json_object_get(incident, "count")));
	format_relative_time(now, last_seen, r->seen, sizeof(r->seen));
	r->source = format_fit(incident_view_source_name(incident), SOURCE_COLUMN_MAX);
	r->headline = incident_view_headline(incident);
	return r->source && r->headline ? 0 : -ENOMEM;
}

static void rows_free(struct row *rows, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(rows[i].source);
		free(rows[i].headline);
	}
	free(rows);
}

static size_t max_size(size_t a, size_t b)
{
	return a > b ? a : b;
}

/* text, then spaces up to width columns. */
static void put_padded(FILE *out, const char *text, size_t width)
{
	size_t w = format_display_width(text);

	fputs(text, out);
	while (w++ < width)
		fputc(' ', out);
}

static void put_row(FILE *out, const struct widths *w, const char *id,
                    const char *count, const char *seen, const char *source,
                    const char *headline)
{
	fprintf(out, "%*s  %*s  ", (int)w->id, id, (int)w->count, count);
	put_padded(out, seen, w->seen);
	fputs("  ", out);
	put_padded(out, source, w->source);
	fprintf(out, "  %s\n", headline);
}

/* Print rows; the headline is fitted into what width leaves (0: all). */
static int print_rows(FILE *out, const struct row *rows, size_t n, size_t width)
{
	struct widths w = { 2, 5, 9, 6 };   /* the headers' own widths */
	size_t i, used, room = 0;
	char *fitted;

	for (i = 0; i < n; i++) {
		w.id = max_size(w.id, strlen(rows[i].id));
		w.count = max_size(w.count, strlen(rows[i].count));
		w.seen = max_size(w.seen, strlen(rows[i].seen));
		w.source = max_size(w.source, format_display_width(rows[i].source));
	}
	used = w.id + w.count + w.seen + w.source + 8;
	if (width > 0)
		room = width > used + HEADLINE_MIN ? width - used : HEADLINE_MIN;
	put_row(out, &w, "ID", "COUNT", "LAST SEEN", "SOURCE", "EXCEPTION: MESSAGE");
	for (i = 0; i < n; i++) {
		fitted = format_fit(rows[i].headline, room);
		if (!fitted)
			return -ENOMEM;
		put_row(out, &w, rows[i].id, rows[i].count, rows[i].seen,
		        rows[i].source, fitted);
		free(fitted);
	}
	return fflush(out) == EOF || ferror(out) ? -EIO : 0;
}

int incident_view_table(FILE *out, const json_t *incidents, double now, size_t width)
{
	size_t n = json_array_size(incidents), i;
	struct row *rows;
	int rc = 0;

	rows = calloc(n ? n : 1, sizeof(*rows));
	if (!rows)
		return -ENOMEM;
	for (i = 0; i < n && rc == 0; i++)
		rc = row_fill(&rows[i], json_array_get(incidents, i), now);
	if (rc == 0)
		rc = print_rows(out, rows, n, width);
	rows_free(rows, n);
	return rc;
}
