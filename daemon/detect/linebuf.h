/*
 * linebuf.h - per-source line assembly.
 *
 * Bytes arrive in arbitrary pieces. The assembler keeps a partial line across
 * feeds, ends lines at "\n" (a "\r\n" pair counts as one end), and gives each
 * line twice: as received (raw, for display) and as a terminal would show it
 * (text: ANSI escape sequences removed, a bare "\r" returns to the start of the
 * line so progress-bar redraws keep only their last state, backspaces applied).
 * Lines longer than max_line bytes are cut into pieces of max_line bytes so
 * memory stays bounded.
 */
#ifndef DOCTOR_LINEBUF_H
#define DOCTOR_LINEBUF_H

#include <stddef.h>
#include "detect.h"

typedef void (*dr_line_cb)(void *ud, const dr_line *line);

typedef struct dr_linebuf {
	char *buf;          /* partial line, owned */
	size_t len, cap;
	size_t max_line;
	char *scratch;      /* stripped text buffer, owned */
	size_t scratch_cap;
	int pending_cr;     /* last feed ended in '\r' */
} dr_linebuf;

/* max_line 0 means the default (64 KiB). Returns 0 or -ENOMEM. */
int dr_linebuf_init(dr_linebuf *lb, size_t max_line);
/* Feed bytes; calls cb once per complete line. Returns 0 or -ENOMEM. */
int dr_linebuf_feed(dr_linebuf *lb, const char *data, size_t len, dr_line_cb cb, void *ud);
/* Emit the partial last line, if any (end of stream). Returns 0 or -ENOMEM. */
int dr_linebuf_flush(dr_linebuf *lb, dr_line_cb cb, void *ud);
void dr_linebuf_free(dr_linebuf *lb);

/* Terminal rendering of one line without its EOL: writes at most len bytes to
 * out (which must have room for len + 1) and NUL-terminates it. Returns the
 * length written. */
size_t dr_render_line(const char *in, size_t len, char *out);

#endif
