/*
 * args.h - checking and normalising what the user typed: numbers with
 * bounds, paths made absolute.
 *
 * Pure functions, unit-tested in tests/unit/test_client_args.c.
 */
#ifndef DOCTOR_ARGS_H
#define DOCTOR_ARGS_H

/* A whole decimal integer from min to max. Returns 0, -EINVAL if text is
 * not a number, -ERANGE if it is out of bounds. */
int args_parse_long(const char *text, long min, long max, long *out);

/* path made absolute against cwd (itself absolute), without touching the
 * file system: "." segments and repeated or trailing slashes go, ".." is
 * kept (a symbolic link may stand before it). Newly allocated; NULL when
 * out of memory. */
char *args_absolute_path(const char *path, const char *cwd);

/* The same against the current directory: 0, or a negative errno (from
 * getcwd, or -ENOMEM). *out is newly allocated. */
int args_absolute_path_here(const char *path, char **out);

#endif
