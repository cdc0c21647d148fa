/*
 * ring.h - a bounded ring of a source's recent lines (as displayed).
 *
 * Holds the last `cap` lines; older ones are overwritten. Used as the context
 * stored with an incident. Lines are copied in (owned by the ring).
 */
#ifndef DOCTOR_RING_H
#define DOCTOR_RING_H

#include <stddef.h>

typedef struct ring {
	char **lines;      /* cap slots, owned strings or NULL */
	size_t cap;
	size_t next;       /* slot the next line goes to */
	size_t count;      /* lines held, <= cap */
} ring;

/* cap 0 gives a ring that keeps nothing. Returns 0 or -ENOMEM. */
int ring_init(ring *r, size_t cap);
/* Copy len bytes in as the newest line. Returns 0 or -ENOMEM (then the line
 * is simply not kept). */
int ring_push(ring *r, const char *line, size_t len);
/* The newest `max` lines, oldest first, joined by '\n'; newly allocated
 * (an empty string when empty), NULL on out of memory. */
char *ring_join(const ring *r, size_t max);
/* Like ring_join, but the newest `skip` lines are left out. */
char *ring_join_before(const ring *r, size_t max, size_t skip);
/* The i-th newest line (0 = newest), or NULL. Borrowed. */
const char *ring_newest(const ring *r, size_t i);
void ring_free(ring *r);

#endif
