/*
 * tap.h - a tiny TAP producer for doctor's C unit tests.
 *
 * Each test program prints "1..N" at the end (tap_done) and one "ok"/"not ok"
 * line per check; automake's tap-driver.sh counts them. Header-only so each
 * test program stays a single file.
 */
#ifndef DOCTOR_TAP_H
#define DOCTOR_TAP_H

#include <dirent.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_n, tap_failed;

/* Record one check; returns cond so callers can chain diagnostics. */
__attribute__((format(printf, 2, 3), unused))
static int tap_ok(int cond, const char *fmt, ...)
{
	va_list ap;
	tap_n++;
	if (!cond)
		tap_failed++;
	printf("%sok %d - ", cond ? "" : "not ", tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	return cond;
}

/* A diagnostic line ("# ..."), shown by the driver in the log. */
__attribute__((format(printf, 1, 2), unused))
static void tap_diag(const char *fmt, ...)
{
	va_list ap;
	fputs("# ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

#define tap_is_str(got, want, name)                                        \
	do {                                                                   \
		const char *g_ = (got), *w_ = (want);                              \
		if (!tap_ok(g_ && w_ ? strcmp(g_, w_) == 0 : g_ == w_, "%s", name)) \
			tap_diag("got '%s', want '%s'", g_ ? g_ : "(null)",           \
			         w_ ? w_ : "(null)");                                  \
	} while (0)

#define tap_is_int(got, want, name)                                        \
	do {                                                                   \
		long long g_ = (got), w_ = (want);                                 \
		if (!tap_ok(g_ == w_, "%s", name))                                 \
			tap_diag("got %lld, want %lld", g_, w_);                      \
	} while (0)

/* The whole file at path, NUL-terminated, owned by the caller (free);
 * *len (may be NULL) its size. NULL if it cannot be read. For the case
 * files the tests compare against. */
__attribute__((unused))
static char *tap_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t got = 0;
	long size;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 &&
	    fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)size + 1))) {
		got = fread(buf, 1, (size_t)size, f);
		buf[got] = '\0';
	}
	fclose(f);
	if (len)
		*len = got;
	return buf;
}

/* Run fn on each case folder of root/suite (tests/cases/<suite>/<case>/),
 * in name order, with its path and its name; a check that some were found.
 * For the data-driven tests. */
__attribute__((unused))
static void tap_each_case(const char *root, const char *suite,
			  void (*fn)(const char *dir, const char *name))
{
	char dir[PATH_MAX], sub[PATH_MAX];
	struct dirent **names;
	int n, i;

	snprintf(dir, sizeof dir, "%s/%s", root, suite);
	n = scandir(dir, &names, NULL, alphasort);
	tap_ok(n > 2, "cases found in %s", dir);
	for (i = 0; i < n; i++) {
		if (names[i]->d_name[0] != '.' &&
		    (size_t)snprintf(sub, sizeof sub, "%s/%s", dir, names[i]->d_name) < sizeof sub)
			fn(sub, names[i]->d_name);
		free(names[i]);
	}
	if (n >= 0)
		free(names);
}

/* Print the plan and return the exit status for main(). */
__attribute__((unused))
static int tap_done(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}

#endif
