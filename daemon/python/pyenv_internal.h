/*
 * pyenv_internal.h - helpers shared by the pyenv*.c files: building paths,
 * testing what is on disk, reading files with a size cap, and parsing the
 * small text formats of installed distributions. Not part of the public
 * pyenv.h contract.
 */
#ifndef DOCTOR_PYENV_INTERNAL_H
#define DOCTOR_PYENV_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

/* Caps on what is read: a layout on disk is untrusted input. */
#define PYENV_SMALL_FILE_MAX   (64 * 1024)       /* pyvenv.cfg, top_level.txt */
#define PYENV_META_FILE_MAX    (256 * 1024)      /* METADATA, PKG-INFO */
#define PYENV_RECORD_FILE_MAX  (16 * 1024 * 1024) /* RECORD */
#define PYENV_MODULES_MAX      4096              /* top-level names per dist */

/* "a" + "/" + "b", newly allocated; NULL on ENOMEM. */
char *pyfs_join(const char *dir, const char *name);
/* Same as pyfs_join with two names. */
char *pyfs_join3(const char *dir, const char *name1, const char *name2);
bool pyfs_is_dir(const char *path);
bool pyfs_is_file(const char *path);
/* Read at most `cap` bytes of a regular file into a new NUL-terminated
 * buffer (*buf owned by the caller; NUL bytes kept as read, so callers
 * parse up to *len). Returns 0 or a negative errno (-EISDIR, -ENOENT...). */
int pyfs_read_capped(const char *path, size_t cap, char **buf, size_t *len);

/* Whether s[0..n) is valid UTF-8 without control characters: fit to be a
 * name or a version (and accepted by jansson). */
bool pymeta_is_text(const char *s, size_t n);
/* The value of header `key` in the RFC 822 header block of a METADATA /
 * PKG-INFO text (stops at the first empty line). Newly allocated, trimmed;
 * NULL if absent or empty. *oom set on allocation failure. */
char *pymeta_header(const char *text, size_t len, const char *key, bool *oom);
/* Append each non-empty line of a top_level.txt to the array `modules`
 * (no duplicates). Returns 0 or -ENOMEM. */
int pymeta_top_level(const char *text, size_t len, json_t *modules);
/* Append the top-level importable names found in a RECORD (first path
 * component of each row, packages and modules, not metadata or scripts).
 * Returns 0 or -ENOMEM. */
int pymeta_record_modules(const char *text, size_t len, json_t *modules);

/* A JSON string of s (a path, say), with bytes that are not printable
 * UTF-8 replaced by '?' since paths need not be UTF-8. NULL on ENOMEM. */
json_t *pymeta_json_text(const char *s);

#endif
