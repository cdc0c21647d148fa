/*
 * args.c - checking and normalising what the user typed on the command
 * line: bounded integers, paths made absolute.
 *
 * Paths are made absolute lexically (no realpath) so that the same words
 * give the same path for watch-file and unwatch-file even when the file
 * does not exist yet or was removed since.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"

int args_parse_long(const char *text, long min, long max, long *out)
{
	char *end;
	long value;

	if (!text || !*text || strspn(text, " \t") > 0)
		return -EINVAL;
	errno = 0;
	value = strtol(text, &end, 10);
	if (*end != '\0')
		return -EINVAL;
	if (errno == ERANGE || value < min || value > max)
		return -ERANGE;
	*out = value;
	return 0;
}

/* Append segment (len bytes) of a path to out (length *len), which always
 * holds "/" or "/a/b" without a trailing slash. */
static void append_segment(char *out, size_t *len, const char *segment, size_t seglen)
{
	if (seglen == 0 || (seglen == 1 && segment[0] == '.'))
		return;
	if (*len > 1)
		out[(*len)++] = '/';
	memcpy(out + *len, segment, seglen);
	*len += seglen;
	out[*len] = '\0';
}

/* Add every segment of path to out. */
static void append_path(char *out, size_t *len, const char *path)
{
	size_t seglen;

	while (*path) {
		seglen = strcspn(path, "/");
		append_segment(out, len, path, seglen);
		path += seglen;
		if (*path)
			path++;
	}
}

char *args_absolute_path(const char *path, const char *cwd)
{
	size_t len = 1;
	char *out;

	out = malloc(strlen(path) + strlen(cwd) + 3);
	if (!out)
		return NULL;
	strcpy(out, "/");
	if (path[0] != '/')
		append_path(out, &len, cwd);
	append_path(out, &len, path);
	return out;
}

int args_absolute_path_here(const char *path, char **out)
{
	char *cwd = NULL;
	int rc = 0;

	*out = NULL;
	if (path[0] != '/') {
		cwd = getcwd(NULL, 0);
		if (!cwd)
			return -errno;
	}
	*out = args_absolute_path(path, cwd ? cwd : "/");
	if (!*out)
		rc = -ENOMEM;
	free(cwd);
	return rc;
}
