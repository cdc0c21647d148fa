/*
 * strbuf.h - growable byte strings with a size limit, for the detectors.
 *
 * Detectors assemble text from lines of untrusted output; a limit on every
 * buffer keeps one runaway error from taking the daemon's memory.
 */
#ifndef DOCTOR_DETECT_STRBUF_H
#define DOCTOR_DETECT_STRBUF_H

#include <stddef.h>

typedef struct dr_strbuf {
	char *s;        /* NUL-terminated once anything was added; owned */
	size_t len, cap;
	size_t limit;   /* len never exceeds it */
} dr_strbuf;

void dr_strbuf_init(dr_strbuf *b, size_t limit);
/* Append n bytes, all or nothing: 0, -ENOSPC past the limit (nothing is
 * added), or -ENOMEM. NUL bytes are stored as '?' so the result stays a C
 * string. */
int dr_strbuf_add(dr_strbuf *b, const char *p, size_t n);
/* Append a "\n" first unless the buffer is empty. Same returns. */
int dr_strbuf_add_line(dr_strbuf *b, const char *p, size_t n);
/* The contents as a newly allocated string ("" when empty); the buffer is
 * left as it was. NULL on out of memory. */
char *dr_strbuf_dup(const dr_strbuf *b);
void dr_strbuf_reset(dr_strbuf *b);   /* empty, memory kept */
void dr_strbuf_free(dr_strbuf *b);

#endif
