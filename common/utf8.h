/*
 * utf8.h - checking and repairing UTF-8, for text that must become a JSON
 * string (jansson refuses invalid UTF-8) but comes from outside: file
 * names, file contents.
 *
 * Pure functions, shared by doctord and the doctor command.
 */
#ifndef DOCTOR_UTF8_H
#define DOCTOR_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* The length (1 to 4) of the valid UTF-8 sequence at p[0..n), n > 0; 0
 * if the bytes there are not one (overlong forms, surrogates, code points
 * past U+10FFFF, a sequence cut short by n are not). */
size_t utf8_sequence_len(const unsigned char *p, size_t n);

/* True if s[0..len) is valid UTF-8 as jansson understands it: no overlong
 * forms, no surrogates, nothing above U+10FFFF (NUL bytes are valid). */
bool utf8_valid(const char *s, size_t len);

/* A NUL-terminated copy of s[0..len) with each byte that is not part of a
 * valid sequence replaced by U+FFFD; *out_len (may be NULL) gets its
 * length. Newly allocated; NULL when out of memory. */
char *utf8_repair(const char *s, size_t len, size_t *out_len);

#endif
