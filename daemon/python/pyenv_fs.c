/*
 * pyenv_fs.c - file helpers for reading a Python layout: path joins, type
 * tests, and reads that never take more than a cap, because a site
 * directory may hold anything (see pyenv_internal.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pyenv_internal.h"

char *pyfs_join(const char *dir, const char *name)
{
	char *s;

	if (asprintf(&s, "%s%s%s", dir,
	             dir[0] && dir[strlen(dir) - 1] == '/' ? "" : "/", name) < 0)
		return NULL;
	return s;
}

char *pyfs_join3(const char *dir, const char *name1, const char *name2)
{
	char *mid = pyfs_join(dir, name1), *s;

	if (!mid)
		return NULL;
	s = pyfs_join(mid, name2);
	free(mid);
	return s;
}

bool pyfs_is_dir(const char *path)
{
	struct stat st;

	return path && stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

bool pyfs_is_file(const char *path)
{
	struct stat st;

	return path && stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Read until EOF or `cap` bytes into buf (which has room for cap). */
static int read_all(int fd, char *buf, size_t cap, size_t *len)
{
	ssize_t n;

	*len = 0;
	while (*len < cap) {
		n = read(fd, buf + *len, cap - *len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		*len += (size_t)n;
	}
	return 0;
}

int pyfs_read_capped(const char *path, size_t cap, char **buf, size_t *len)
{
	struct stat st;
	size_t want;
	char *data = NULL;
	int fd, rc;

	*buf = NULL;
	*len = 0;
	/* O_NONBLOCK so a FIFO planted in a site dir cannot hang the daemon. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
		goto out;
	}
	want = (size_t)st.st_size < cap ? (size_t)st.st_size : cap;
	data = malloc(want + 1);
	if (!data) {
		rc = -ENOMEM;
		goto out;
	}
	rc = read_all(fd, data, want, len);
	if (rc < 0)
		goto out;
	data[*len] = '\0';
	*buf = data;
	data = NULL;
out:
	free(data);
	close(fd);
	return rc;
}
