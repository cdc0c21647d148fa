/*
 * incident_view.h - incident summaries (docs/protocol.md, "Objects") as
 * text: the headline "Type: message", and the table of `doctor incidents`
 * and `doctor send`.
 *
 * json_t arguments are borrowed.
 */
#ifndef DOCTOR_INCIDENT_VIEW_H
#define DOCTOR_INCIDENT_VIEW_H

#include <stddef.h>
#include <stdio.h>
#include <jansson.h>

/* "ModuleNotFoundError: No module named 'cv2'" (just the exception when the
 * message is empty). Newly allocated; NULL when out of memory. */
char *incident_view_headline(const json_t *incident);

/* The name of the incident's source, "-" when it has none. Borrowed. */
const char *incident_view_source_name(const json_t *incident);

/* The current time as Unix seconds, for relative times. */
double incident_view_now(void);

/* A table of summaries: ID, COUNT, LAST SEEN (relative to now), SOURCE,
 * EXCEPTION: MESSAGE, each row cut to width columns (0: no limit).
 * Returns 0, -ENOMEM, or -EIO when out cannot be written. */
int incident_view_table(FILE *out, const json_t *incidents, double now, size_t width);

#endif
