/*
 * index_walk.c - finding the documentation files of a root: a walk of its
 * folders (opendir, no global state, so that any thread may walk), the
 * files kept by extension with their size and modification time, sorted so
 * that a run handles them in a stable order and can tell which indexed
 * files are gone.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* asprintf */
#endif
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "index_internal.h"

/* Deeper folders are not entered (with a warning): no documentation tree
 * nests this far, and it bounds the recursion. */
#define WALK_MAX_DEPTH 64
#define WALK_MAX_DEPTH_TEXT "64"

/* Folder names never entered besides hidden ones: dependency and cache
 * folders, which hold other projects' READMEs, not this documentation. */
static const char *const skipped_dirs[] = { "node_modules", "__pycache__" };

struct walk {
	const struct walk_scope *s;
	size_t root_len;                   /* strlen(s->root), 0 for "/" */
	struct walk_list *out;
	docs_warn_fn warn;
	void *ud;
	size_t *warnings;
};

/* what: the problem, detail: its cause ("cannot read the folder", "No
 * such file or directory"). */
static void walk_warn(struct walk *w, const char *path, const char *what, const char *detail)
{
	char *msg = NULL;

	(*w->warnings)++;
	if (!w->warn)
		return;
	if (asprintf(&msg, "%s: %s", what, detail) < 0)
		msg = NULL;
	w->warn(path, msg ? msg : what, w->ud);
	free(msg);
}

static int add_file(struct walk_list *l, char *abs, size_t root_len, int64_t root_id,
		    enum doc_format fmt, const struct stat *sb)
{
	struct walk_file *f;
	size_t cap;

	if (l->n == l->cap) {
		cap = l->cap ? l->cap * 2 : 64;
		f = realloc(l->v, cap * sizeof(*f));
		if (!f) {
			free(abs);
			return -ENOMEM;
		}
		l->v = f;
		l->cap = cap;
	}
	f = &l->v[l->n++];
	f->abs = abs;
	f->rel = abs + root_len + 1;
	f->root_id = root_id;
	f->fmt = fmt;
	f->size = (int64_t)sb->st_size;
	f->mtime_ns = (int64_t)sb->st_mtim.tv_sec * 1000000000 + sb->st_mtim.tv_nsec;
	return 0;
}

static bool skip_name(const char *name)
{
	size_t i;

	if (name[0] == '.')
		return true;
	for (i = 0; i < sizeof(skipped_dirs) / sizeof(skipped_dirs[0]); i++)
		if (strcmp(name, skipped_dirs[i]) == 0)
			return true;
	return false;
}

/* One entry of a folder; path is newly allocated and taken. */
static int walk_entry(struct walk *w, char *path, unsigned char type, int depth);

static int walk_dir(struct walk *w, const char *dir, int depth)
{
	struct dirent *e;
	DIR *d;
	char *path;
	int rc = 0;

	if (depth > WALK_MAX_DEPTH) {
		walk_warn(w, dir, "not entered", "folder nested more than "
			  WALK_MAX_DEPTH_TEXT " levels deep");
		return 0;
	}
	d = opendir(dir);
	if (!d) {
		walk_warn(w, dir, "cannot read the folder", strerror(errno));
		return 0;
	}
	while (rc == 0 && (errno = 0, e = readdir(d))) {
		if (skip_name(e->d_name))
			continue;
		if (asprintf(&path, "%s%s%s", dir, strcmp(dir, "/") == 0 ? "" : "/",
			     e->d_name) < 0) {
			rc = -ENOMEM;
			break;
		}
		rc = walk_entry(w, path, e->d_type, depth);
	}
	if (rc == 0 && errno)
		walk_warn(w, dir, "cannot read the folder", strerror(errno));
	closedir(d);
	return rc;
}

static int walk_entry(struct walk *w, char *path, unsigned char type, int depth)
{
	enum doc_format fmt;
	struct stat sb;
	int rc = 0;

	if (type == DT_UNKNOWN) {          /* a file system without d_type */
		if (lstat(path, &sb) < 0)
			type = DT_UNKNOWN;
		else if (S_ISDIR(sb.st_mode))
			type = DT_DIR;
		else if (S_ISLNK(sb.st_mode))
			type = DT_LNK;
		else if (S_ISREG(sb.st_mode))
			type = DT_REG;
	}
	if (type == DT_DIR) {
		rc = walk_dir(w, path, depth + 1);
	} else if ((type == DT_REG || type == DT_LNK) && doc_format_of(path, &fmt) == 0 &&
		   stat(path, &sb) == 0 && S_ISREG(sb.st_mode)) {
		/* (A dangling link, or a file gone since readdir, fails stat:
		 * nothing to index.) add_file takes path. */
		return add_file(w->out, path, w->root_len, w->s->root_id, fmt, &sb);
	}
	free(path);
	return rc;
}

int walk_add_file(struct walk_list *out, int64_t root_id, const char *root, const char *rel)
{
	enum doc_format fmt;
	struct stat sb;
	char *path;
	int rc;

	if (asprintf(&path, "%s/%s", strcmp(root, "/") == 0 ? "" : root, rel) < 0)
		return -ENOMEM;
	rc = stat(path, &sb) < 0 ? -errno : 0;
	if (rc == 0)
		rc = doc_format_of(path, &fmt);
	if (rc == 0 && !S_ISREG(sb.st_mode))
		rc = -EINVAL;
	if (rc < 0) {
		free(path);
		return rc;
	}
	return add_file(out, path, strlen(path) - strlen(rel) - 1, root_id, fmt, &sb);
}

int walk_scope(const struct walk_scope *s, struct walk_list *out,
	       docs_warn_fn warn, void *ud, size_t *warnings)
{
	struct walk w = { s, strcmp(s->root, "/") == 0 ? 0 : strlen(s->root), out, warn, ud,
			  warnings };
	char *path;
	int rc;

	if (s->single)
		return walk_add_file(out, s->root_id, s->root, s->sub);
	if (asprintf(&path, "%s%s%s", w.root_len ? s->root : "", s->sub[0] ? "/" : "",
		     s->sub) < 0)
		return -ENOMEM;
	rc = walk_dir(&w, path[0] ? path : "/", 0);
	free(path);
	return rc;
}

static int file_cmp(const void *a, const void *b)
{
	const struct walk_file *x = a, *y = b;

	if (x->root_id != y->root_id)
		return x->root_id < y->root_id ? -1 : 1;
	return strcmp(x->rel, y->rel);
}

void walk_sort(struct walk_list *l)
{
	size_t i, n = 0;

	if (l->n == 0)
		return;
	qsort(l->v, l->n, sizeof(*l->v), file_cmp);
	for (i = 0; i < l->n; i++) {
		if (n > 0 && file_cmp(&l->v[n - 1], &l->v[i]) == 0) {
			free(l->v[i].abs);
			continue;
		}
		l->v[n++] = l->v[i];
	}
	l->n = n;
}

bool walk_contains(const struct walk_list *l, int64_t root_id, const char *rel)
{
	struct walk_file key = { .rel = rel, .root_id = root_id };

	return l->n && bsearch(&key, l->v, l->n, sizeof(*l->v), file_cmp) != NULL;
}

void walk_list_release(struct walk_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i].abs);
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}
