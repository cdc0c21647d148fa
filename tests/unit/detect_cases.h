/*
 * detect_cases.h - shared by the detect library's tests: finding the
 * data-driven case folders, reading their files, and running output
 * through the real line assembler and scanner the way a source does.
 * Header-only so each test program stays one file plus this.
 */
#ifndef DOCTOR_TEST_DETECT_CASES_H
#define DOCTOR_TEST_DETECT_CASES_H

#include <dirent.h>
#include <stdbool.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "detect.h"
#include "linebuf.h"

/* The cases folder: $DOCTOR_CASES, else argv[1]; NULL if neither. */
__attribute__((unused))
static const char *cases_root(int argc, char **argv)
{
	const char *env = getenv("DOCTOR_CASES");

	if (env && *env)
		return env;
	return argc > 1 ? argv[1] : NULL;
}

/* "dir/name" or "dir/name/file" as a new string; NULL on out of memory. */
__attribute__((unused))
static char *path_of(const char *dir, const char *name, const char *file)
{
	size_t n = strlen(dir) + strlen(name) + (file ? strlen(file) : 0) + 3;
	char *p = malloc(n);

	if (p)
		snprintf(p, n, file ? "%s/%s/%s" : "%s/%s", dir, name, file ? file : "");
	return p;
}

/* The whole file, NUL-terminated (binary safe through *len); NULL if it
 * cannot be read. */
__attribute__((unused))
static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL, *grown;
	size_t n = 0, cap = 0, got;

	if (!f)
		return NULL;
	for (;;) {
		if (cap - n < 4096) {
			cap = cap ? cap * 2 : 8192;
			grown = realloc(buf, cap + 1);
			if (!grown) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = grown;
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0)
			break;
	}
	fclose(f);
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names of the subfolders of dir; NULL (and *n = 0) if none. */
__attribute__((unused))
static char **list_cases(const char *dir, size_t *n)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	struct stat st;
	char *path, **names = NULL, **grown;
	bool is_dir;

	*n = 0;
	if (!d)
		return NULL;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		path = path_of(dir, de->d_name, NULL);
		is_dir = path && stat(path, &st) == 0 && S_ISDIR(st.st_mode);
		free(path);
		if (!is_dir)
			continue;
		grown = realloc(names, (*n + 1) * sizeof(*names));
		if (!grown)
			break;
		names = grown;
		names[(*n)++] = strdup(de->d_name);
	}
	closedir(d);
	if (names)
		qsort(names, *n, sizeof(*names), cmp_names);
	return names;
}

__attribute__((unused))
static void free_list(char **names, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* ---- running detection */

struct detected {
	dr_error **v;        /* owned */
	size_t n;
	dr_scanner *scanner; /* while running */
	int rc;
};

static void detected_emit(void *ud, dr_error *e)
{
	struct detected *d = ud;
	dr_error **grown = realloc(d->v, (d->n + 1) * sizeof(*d->v));

	if (!grown) {
		dr_error_free(e);
		d->rc = -ENOMEM;
		return;
	}
	d->v = grown;
	d->v[d->n++] = e;
}

static void detected_line(void *ud, const dr_line *line)
{
	struct detected *d = ud;
	int rc = dr_scanner_line(d->scanner, line, detected_emit, d);

	if (rc < 0)
		d->rc = rc;
}

__attribute__((unused))
static void detected_free(struct detected *d)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		dr_error_free(d->v[i]);
	free(d->v);
	memset(d, 0, sizeof(*d));
}

/* Small deterministic generator so a failing split can be replayed. */
static unsigned next_rand(unsigned *state)
{
	*state = *state * 1103515245u + 12345u;
	return (*state >> 16) & 0x7fff;
}

/* Detect errors in data with the registered detectors. seed 0 feeds the
 * data whole, any other seed in random pieces of 1..97 bytes. Returns 0
 * or a negative errno; d gets the errors in order. */
__attribute__((unused))
static int detect_output(const char *data, size_t len, unsigned seed, struct detected *d)
{
	dr_linebuf lb;
	size_t off = 0, piece;
	int rc;

	memset(d, 0, sizeof(*d));
	d->scanner = dr_scanner_new();
	if (!d->scanner || dr_linebuf_init(&lb, 0) < 0)
		return -ENOMEM;
	while (off < len && d->rc == 0) {
		piece = seed ? 1 + next_rand(&seed) % 97 : len;
		if (piece > len - off)
			piece = len - off;
		rc = dr_linebuf_feed(&lb, data + off, piece, detected_line, d);
		if (rc < 0)
			d->rc = rc;
		off += piece;
	}
	if (d->rc == 0)
		d->rc = dr_linebuf_flush(&lb, detected_line, d);
	dr_scanner_flush(d->scanner, detected_emit, d);
	dr_linebuf_free(&lb);
	dr_scanner_free(d->scanner);
	d->scanner = NULL;
	return d->rc;
}

#endif
