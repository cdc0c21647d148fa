/*
 * format.h - turning the daemon's values into text for a person: times,
 * durations, sizes, one-line fits for a terminal's width, terminal-safe
 * error text, command lines.
 *
 * Pure functions (they read only the locale's character type and time
 * zone), so they are unit-tested on their own. Functions that fill buf
 * always NUL-terminate it; those that return char * return a newly
 * allocated string the caller frees, or NULL when out of memory.
 */
#ifndef DOCTOR_FORMAT_H
#define DOCTOR_FORMAT_H

#include <stdbool.h>
#include <stddef.h>

/* How long ago then was, seen at now (Unix seconds): "just now", "42s ago",
 * "3m ago", "5h ago", "2d ago", "4mo ago", "1y ago". */
void format_relative_time(double now, double then, char *buf, size_t size);

/* A duration in its two largest units: "45s", "3m 12s", "2h 5m", "3d 4h". */
void format_duration(double seconds, char *buf, size_t size);

/* A byte count: "512 B", "5.1 KiB", "3.0 MiB", "1.2 GiB". */
void format_bytes(double bytes, char *buf, size_t size);

/* Unix seconds as local time "2025-11-26 15:00:00" ("?" if out of range). */
void format_timestamp(double t, char *buf, size_t size);

/* Columns text takes on a terminal as format_fit() prints it (UTF-8; wide
 * characters count 2 when the locale knows them; bytes that are not UTF-8
 * and control characters count 1 each; escape sequences 0). */
size_t format_display_width(const char *text);

/* text made into one line at most width columns wide (0: no limit):
 * escape sequences are dropped, every other control character becomes a
 * space, invalid UTF-8 a '?', and if it is too wide it is cut and ends with
 * an ellipsis ("…" in a UTF-8 locale, else "..."). */
char *format_fit(const char *text, size_t width);

/* Error text made safe to print: control characters other than newline and
 * tab are dropped, and so are escape sequences, except, when keep_colours
 * is true, those that only set colours and styles (SGR: ESC [ ... m). */
char *format_terminal_safe(const char *text, bool keep_colours);

/* argv joined by spaces, each argument quoted as a POSIX shell would need
 * ('it'\''s'), for showing a command. */
char *format_command_line(char *const argv[]);

#endif
