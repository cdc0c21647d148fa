/*
 * index.c - an indexing run (docs_index_paths): which roots and parts of
 * them to look at, each documentation file parsed, chunked and written in
 * its own transaction (or skipped when its content and the chunk options
 * are those already indexed), files gone from disk removed, and every
 * problem reported as a warning naming the file.
 *
 * A file is unchanged when its size and modification time are those
 * recorded (no read at all), or else when its content hashes to the
 * recorded 64-bit FNV-1a. FNV-1a is not a cryptographic hash: two
 * different contents of the same file colliding (about 1 in 2^64 per
 * change) would only make a run miss that change, and the next edit of the
 * file would be seen.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* vasprintf */
#endif
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "index_internal.h"

struct root {
	int64_t id;
	char *path;                        /* owned */
};

struct run {
	docs_index *ix;
	const struct docs_options *opt;
	char options_key[160];             /* what a chunking is recorded as */
	docs_progress_fn progress;
	docs_warn_fn warn;
	void *ud;
	struct docs_index_stats *stats;
	struct root *roots;                /* the roots table; owned */
	size_t nroots;
	struct walk_scope *scopes;         /* owned */
	size_t nscopes;
	struct walk_list files;
	double now;                        /* Unix seconds at the start */
	bool marked;                       /* meta optimized set to 0 (committed) */
};

static const char *const format_names[] = {
	[DOC_MARKDOWN] = "markdown", [DOC_RST] = "rst", [DOC_HTML] = "html",
	[DOC_NOTEBOOK] = "notebook", [DOC_TEXT] = "text",
};

/* ------------------------------------------------------------ helpers */

__attribute__((format(printf, 3, 4)))
static void run_warn(struct run *r, const char *path, const char *fmt, ...)
{
	char *msg = NULL;
	va_list ap;

	r->stats->warnings++;
	if (!r->warn)
		return;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	r->warn(path, msg ? msg : fmt, r->ud);
	free(msg);
}

/* 64-bit FNV-1a (Fowler/Noll/Vo): for each byte, xor it in, then multiply
 * by the FNV prime 2^40 + 2^8 + 0xb3, from the offset basis
 * 0xcbf29ce484222325. */
static uint64_t fnv1a64(const unsigned char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Whether path is dir itself or inside it (both absolute, canonical). */
static bool path_within(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	if (strncmp(path, dir, n) != 0)
		return false;
	return path[n] == '\0' || path[n] == '/' || (n == 1 && dir[0] == '/');
}

/* path relative to dir (path_within(path, dir)): "" for dir itself. */
static const char *path_rel(const char *path, const char *dir)
{
	const char *rel = path + strlen(dir);

	while (*rel == '/')
		rel++;
	return rel;
}

/* Run a statement of one integer parameter (?1) to its end: for the rare
 * writes not worth a cached statement. */
static int exec_id(docs_index *ix, const char *sql, int64_t id)
{
	sqlite3_stmt *stmt = NULL;
	int rc;

	rc = sqlite3_prepare_v2(ix->db, sql, -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		return ix_fail(ix, rc);
	sqlite3_bind_int64(stmt, 1, id);
	rc = sqlite3_step(stmt);
	rc = rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : ix_fail(ix, rc);
	sqlite3_finalize(stmt);
	return rc;
}

/* Commit a transaction that changed chunks. The first one of a run also
 * marks the index as not optimized, so that a run interrupted after it
 * still has the next run optimize it. */
static int commit_changes(struct run *r)
{
	sqlite3_stmt *stmt = NULL;
	int rc = 0;

	if (!r->marked)
		rc = ix_stmt(r->ix, IX_META_STALE,
			     "UPDATE meta SET value = '0' WHERE key = 'optimized'", &stmt);
	if (!r->marked && rc == 0)
		rc = ix_step_done(r->ix, stmt);
	if (rc == 0)
		rc = ix_commit(r->ix);
	if (rc == 0)
		r->marked = true;
	return rc;
}

/* Optimize when the index changed since it was last (in this run or in
 * one that was interrupted). */
static int optimize(struct run *r)
{
	sqlite3_stmt *stmt = NULL;
	bool stale;
	int rc;

	rc = sqlite3_prepare_v2(r->ix->db, "SELECT count(*) FROM meta"
				" WHERE key = 'optimized' AND value = '1'", -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		return ix_fail(r->ix, rc);
	rc = sqlite3_step(stmt);
	stale = rc == SQLITE_ROW && sqlite3_column_int(stmt, 0) == 0;
	rc = rc == SQLITE_ROW ? 0 : ix_fail(r->ix, rc);
	sqlite3_finalize(stmt);
	return rc == 0 && stale ? ix_optimize(r->ix) : rc;
}

/* Delete a file's chunks (the trigger takes them out of chunks_fts, the
 * foreign key their vectors) and, unless keep_file, the file. Inside the
 * caller's transaction. */
static int delete_file(docs_index *ix, int64_t id, bool keep_file)
{
	sqlite3_stmt *stmt = NULL;
	int rc;

	rc = ix_stmt(ix, IX_CHUNKS_DELETE, "DELETE FROM chunks WHERE file_id = ?1", &stmt);
	if (rc == 0)
		rc = ix_bind_int64(ix, stmt, 1, id);
	if (rc == 0)
		rc = ix_step_done(ix, stmt);
	if (rc < 0 || keep_file)
		return rc;
	rc = ix_stmt(ix, IX_FILE_DELETE, "DELETE FROM files WHERE id = ?1", &stmt);
	if (rc == 0)
		rc = ix_bind_int64(ix, stmt, 1, id);
	return rc < 0 ? rc : ix_step_done(ix, stmt);
}

/* delete_file in a transaction of its own. */
static int drop_file(struct run *r, int64_t id)
{
	int rc = ix_begin(r->ix);

	if (rc == 0)
		rc = delete_file(r->ix, id, false);
	if (rc == 0)
		rc = commit_changes(r);
	if (rc < 0)
		ix_rollback(r->ix);
	return rc;
}

/* Files ids[0..n), gone from disk, deleted in one transaction and
 * counted as removed. */
static int drop_files(struct run *r, const int64_t *ids, size_t n)
{
	size_t i;
	int rc = ix_begin(r->ix);

	for (i = 0; rc == 0 && i < n; i++)
		rc = delete_file(r->ix, ids[i], false);
	if (rc == 0)
		rc = commit_changes(r);
	if (rc < 0)
		ix_rollback(r->ix);
	else
		r->stats->removed += n;
	return rc;
}

/* ------------------------------------------------------------ roots, scopes */

static int load_roots(struct run *r)
{
	sqlite3_stmt *stmt = NULL;
	struct root *v;
	int rc;

	rc = sqlite3_prepare_v2(r->ix->db, "SELECT id, path FROM roots ORDER BY id", -1,
				&stmt, NULL);
	if (rc != SQLITE_OK)
		return ix_fail(r->ix, rc);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		v = realloc(r->roots, (r->nroots + 1) * sizeof(*v));
		if (!v) {
			rc = SQLITE_NOMEM;
			break;
		}
		r->roots = v;
		v[r->nroots].id = sqlite3_column_int64(stmt, 0);
		v[r->nroots].path = strdup((const char *)sqlite3_column_text(stmt, 1));
		if (!v[r->nroots++].path) {
			rc = SQLITE_NOMEM;
			break;
		}
	}
	rc = rc == SQLITE_DONE ? 0 : rc == SQLITE_NOMEM ? -ENOMEM : ix_fail(r->ix, rc);
	sqlite3_finalize(stmt);
	return rc;
}

static int add_scope(struct run *r, int64_t root_id, const char *root, const char *sub,
		     bool single)
{
	struct walk_scope *v = realloc(r->scopes, (r->nscopes + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	r->scopes = v;
	v = &r->scopes[r->nscopes];
	v->root_id = root_id;
	v->single = single;
	v->root = strdup(root);
	v->sub = strdup(sub);
	if (!v->root || !v->sub) {
		free(v->root);
		free(v->sub);
		return -ENOMEM;
	}
	r->nscopes++;
	return 0;
}

/* The root holding dir (itself or a folder above it), or NULL. */
static const struct root *root_of(const struct run *r, const char *dir)
{
	size_t i;

	for (i = 0; i < r->nroots; i++)
		if (r->roots[i].id >= 0 && path_within(dir, r->roots[i].path))
			return &r->roots[i];
	return NULL;
}

/* Make dir a root. Roots inside it are merged into it: their files are
 * forgotten here and found again, relative to dir, by the walk. One
 * transaction. */
static int new_root(struct run *r, const char *dir, int64_t *id)
{
	sqlite3_stmt *stmt = NULL;
	struct root *v;
	size_t i;
	int rc;

	rc = ix_begin(r->ix);
	for (i = 0; rc == 0 && i < r->nroots; i++) {
		if (r->roots[i].id < 0 || !path_within(r->roots[i].path, dir))
			continue;
		rc = exec_id(r->ix, "DELETE FROM chunks WHERE file_id IN"
			     " (SELECT id FROM files WHERE root_id = ?1)", r->roots[i].id);
		if (rc == 0)
			rc = exec_id(r->ix, "DELETE FROM roots WHERE id = ?1", r->roots[i].id);
		r->roots[i].id = -1;           /* gone (its files cascaded) */
	}
	if (rc == 0)
		rc = ix_stmt(r->ix, IX_ROOT_ADD, "INSERT INTO roots(path) VALUES (?1)", &stmt);
	if (rc == 0)
		rc = ix_bind_text(r->ix, stmt, 1, dir);
	if (rc == 0)
		rc = ix_step_done(r->ix, stmt);
	if (rc == 0)
		*id = sqlite3_last_insert_rowid(r->ix->db);
	if (rc == 0)
		rc = commit_changes(r);
	if (rc < 0) {
		ix_rollback(r->ix);
		return rc;
	}
	/* Remember it, so that a later path under it joins it. */
	v = realloc(r->roots, (r->nroots + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	r->roots = v;
	v[r->nroots].id = *id;
	if (!(v[r->nroots].path = strdup(dir)))
		return -ENOMEM;
	r->nroots++;
	return 0;
}

/* The scope for one resolved path: a folder or file under a known root
 * joins it; otherwise the folder (or the file's folder) becomes a root. */
static int scope_for(struct run *r, const char *path, bool is_dir)
{
	const char *dir = path, *base = NULL;
	const struct root *root;
	char *parent = NULL;
	int64_t id = 0;
	int rc;

	if (!is_dir) {
		base = strrchr(path, '/');
		parent = base == path ? strdup("/") : strndup(path, (size_t)(base - path));
		if (!parent)
			return -ENOMEM;
		dir = parent;
	}
	root = root_of(r, dir);
	if (root) {
		rc = add_scope(r, root->id, root->path, path_rel(path, root->path), !is_dir);
	} else {
		rc = new_root(r, dir, &id);
		if (rc == 0)
			rc = add_scope(r, id, dir, is_dir ? "" : base + 1, !is_dir);
	}
	free(parent);
	return rc;
}

/* Files cut with other options than this run's, wherever they are, are
 * indexed again (added to the run's files), so that the index holds one
 * chunking. Those gone from disk are removed; those of a root whose folder
 * is gone (an unmounted disk?) are kept as they are, with a warning. */
static int stale_files(struct run *r)
{
	sqlite3_stmt *stmt = NULL;
	int64_t *gone = NULL, *v, root_id, last_root = 0;
	bool root_ok = false;
	size_t ngone = 0;
	const char *root;
	struct stat sb;
	int rc;

	rc = ix_stmt(r->ix, IX_FILE_STALE,
		     "SELECT f.id, f.root_id, f.rel_path, r.path FROM files f"
		     " JOIN roots r ON r.id = f.root_id WHERE f.options != ?1"
		     " ORDER BY f.root_id", &stmt);
	if (rc == 0)
		rc = ix_bind_text(r->ix, stmt, 1, r->options_key);
	while (rc == 0 && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		root_id = sqlite3_column_int64(stmt, 1);
		root = (const char *)sqlite3_column_text(stmt, 3);
		if (root_id != last_root) {
			last_root = root_id;
			root_ok = stat(root, &sb) == 0 && S_ISDIR(sb.st_mode);
			if (!root_ok)
				run_warn(r, root, "the chunk options changed but this indexed "
					 "folder is gone; its index is kept as it was");
		}
		rc = root_ok ? walk_add_file(&r->files, root_id, root,
					     (const char *)sqlite3_column_text(stmt, 2)) : 0;
		if (rc == -ENOMEM)
			break;
		if (rc < 0) {                      /* gone, or no longer a document */
			if (!(v = realloc(gone, (ngone + 1) * sizeof(*v)))) {
				rc = -ENOMEM;
				break;
			}
			gone = v;
			gone[ngone++] = sqlite3_column_int64(stmt, 0);
		}
		rc = 0;
	}
	rc = rc == SQLITE_DONE ? 0 : rc > 0 ? ix_fail(r->ix, rc) : rc;
	sqlite3_reset(stmt);
	if (rc == 0 && ngone)
		rc = drop_files(r, gone, ngone);
	free(gone);
	return rc;
}

/* Whether scope a covers all of scope b. */
static bool scope_covers(const struct walk_scope *a, const struct walk_scope *b)
{
	size_t n = strlen(a->sub);

	if (a->root_id != b->root_id || a->single)
		return false;
	if (n == 0)
		return true;
	return strncmp(b->sub, a->sub, n) == 0 && (b->sub[n] == '\0' || b->sub[n] == '/');
}

/* Drop scopes another one covers (the first of equal ones is kept). */
static void merge_scopes(struct run *r)
{
	size_t i, j, n = 0;
	bool covered;

	for (i = 0; i < r->nscopes; i++) {
		covered = false;
		for (j = 0; j < r->nscopes && !covered; j++)
			covered = j != i && scope_covers(&r->scopes[j], &r->scopes[i]) &&
				  (!scope_covers(&r->scopes[i], &r->scopes[j]) || j < i);
		if (covered) {
			free(r->scopes[i].root);
			free(r->scopes[i].sub);
			continue;
		}
		r->scopes[n++] = r->scopes[i];
	}
	r->nscopes = n;
}

/* ------------------------------------------------------------ one file */

/* What the index has of a file. */
struct known {
	int64_t id;                        /* 0: not indexed */
	int64_t size, mtime_ns;
	char hash[17];
	bool same_options;
};

static int find_file(struct run *r, const struct walk_file *f, struct known *k)
{
	sqlite3_stmt *stmt = NULL;
	const char *hash;
	int rc;

	memset(k, 0, sizeof(*k));
	rc = ix_stmt(r->ix, IX_FILE_FIND,
		     "SELECT id, size, mtime_ns, hash, options = ?3 FROM files"
		     " WHERE root_id = ?1 AND rel_path = ?2", &stmt);
	if (rc == 0)
		rc = ix_bind_int64(r->ix, stmt, 1, f->root_id);
	if (rc == 0)
		rc = ix_bind_text(r->ix, stmt, 2, f->rel);
	if (rc == 0)
		rc = ix_bind_text(r->ix, stmt, 3, r->options_key);
	if (rc < 0)
		return rc;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		k->id = sqlite3_column_int64(stmt, 0);
		k->size = sqlite3_column_int64(stmt, 1);
		k->mtime_ns = sqlite3_column_int64(stmt, 2);
		hash = (const char *)sqlite3_column_text(stmt, 3);
		snprintf(k->hash, sizeof(k->hash), "%s", hash ? hash : "");
		k->same_options = sqlite3_column_int(stmt, 4) != 0;
		rc = 0;
	} else {
		rc = rc == SQLITE_DONE ? 0 : ix_fail(r->ix, rc);
	}
	sqlite3_reset(stmt);
	return rc;
}

/* The file's content, at most limit bytes (0: no limit). -EFBIG when
 * larger, with *len its size; else -errno. *out owned by the caller. */
static int read_file(const char *path, size_t limit, char **out, size_t *len)
{
	size_t cap, n = 0;
	struct stat sb;
	char *buf, *more;
	ssize_t got;
	int fd, rc = 0;

	*out = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &sb) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	*len = (size_t)sb.st_size;
	if (limit && (size_t)sb.st_size > limit) {
		close(fd);
		return -EFBIG;
	}
	/* One more byte than expected, to see a file that grew meanwhile. */
	cap = (size_t)sb.st_size + 1;
	buf = malloc(cap + 1);
	while (buf && (got = read(fd, buf + n, cap - n)) != 0) {
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			rc = -errno;
			break;
		}
		n += (size_t)got;
		if (n < cap)
			continue;
		if (limit && n > limit) {
			rc = -EFBIG;
			break;
		}
		more = cap < SIZE_MAX / 4 ? realloc(buf, cap * 2 + 1) : NULL;
		if (!more) {
			rc = -ENOMEM;
			break;
		}
		buf = more;
		cap *= 2;
	}
	close(fd);
	if (!buf)
		return -ENOMEM;
	if (rc < 0) {
		*len = n;
		free(buf);
		return rc;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

/* Each section's path joined with " > ", by section index. *out owned by
 * the caller: free each, then the array. */
static int join_sections(const doc *d, char ***out)
{
	char **v = calloc(d->nsections ? d->nsections : 1, sizeof(*v));
	size_t i, j, len;

	if (!v)
		return -ENOMEM;
	for (i = 0; i < d->nsections; i++) {
		const doc_section *s = &d->sections[i];

		for (len = 1, j = 0; j < s->depth; j++)
			len += strlen(s->path[j]) + 3;
		if (!(v[i] = malloc(len)))
			goto nomem;
		v[i][0] = '\0';
		for (j = 0; j < s->depth; j++) {
			if (j)
				strcat(v[i], " > ");
			strcat(v[i], s->path[j]);
		}
	}
	*out = v;
	return 0;
nomem:
	while (i-- > 0)
		free(v[i]);
	free(v);
	return -ENOMEM;
}

static int insert_chunk(struct run *r, int64_t file_id, size_t ordinal, const doc *d,
			char **headings, const struct doc_chunk *c)
{
	sqlite3_stmt *stmt = NULL;
	docs_index *ix = r->ix;
	bool has_section = c->section >= 0 && (size_t)c->section < d->nsections;
	int rc;

	rc = ix_stmt(ix, IX_CHUNK_INSERT,
		     "INSERT INTO chunks(file_id, ordinal, title, headings, anchor,"
		     " start_byte, end_byte, body, has_code)"
		     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)", &stmt);
	if (rc == 0)
		rc = ix_bind_int64(ix, stmt, 1, file_id);
	if (rc == 0)
		rc = ix_bind_int64(ix, stmt, 2, (int64_t)ordinal);
	if (rc == 0)
		rc = ix_bind_text(ix, stmt, 3, d->title);
	if (rc == 0)
		rc = ix_bind_text(ix, stmt, 4, has_section ? headings[c->section] : "");
	if (rc == 0)
		rc = ix_bind_text(ix, stmt, 5, has_section ? d->sections[c->section].anchor : "");
	if (rc == 0)
		rc = ix_bind_int64(ix, stmt, 6, (int64_t)c->start);
	if (rc == 0)
		rc = ix_bind_int64(ix, stmt, 7, (int64_t)c->end);
	if (rc == 0)
		rc = ix_bind_text(ix, stmt, 8, c->text);
	if (rc == 0)
		rc = ix_bind_int64(ix, stmt, 9, c->has_code);
	return rc < 0 ? rc : ix_step_done(ix, stmt);
}

/* Insert or update the file's row; its id in *id. */
static int write_file_row(struct run *r, const struct walk_file *f, const struct known *k,
			  const char *hash, const doc *d, size_t nchunks, int64_t *id)
{
	sqlite3_stmt *stmt = NULL;
	docs_index *ix = r->ix;
	int rc;

	if (k->id)
		rc = ix_stmt(ix, IX_FILE_UPDATE,
			     "UPDATE files SET abs_path = ?3, format = ?4, size = ?5,"
			     " mtime_ns = ?6, hash = ?7, options = ?8, title = ?9,"
			     " nchunks = ?10, indexed_at = ?11 WHERE id = ?1", &stmt);
	else
		rc = ix_stmt(ix, IX_FILE_INSERT,
			     "INSERT INTO files(root_id, rel_path, abs_path, format, size, mtime_ns,"
			     " hash, options, title, nchunks, indexed_at)"
			     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)", &stmt);
	/* (The update has no ?2: binding it is harmless.) */
	if (rc == 0)
		rc = ix_bind_int64(ix, stmt, 1, k->id ? k->id : f->root_id);
	if (rc == 0)
		rc = ix_bind_text(ix, stmt, 2, f->rel);
	if (rc == 0)
		rc = ix_bind_text(ix, stmt, 3, f->abs);
	if (rc == 0)
		rc = ix_bind_text(ix, stmt, 4, format_names[f->fmt]);
	if (rc == 0)
		rc = ix_bind_int64(ix, stmt, 5, f->size);
	if (rc == 0)
		rc = ix_bind_int64(ix, stmt, 6, f->mtime_ns);
	if (rc == 0)
		rc = ix_bind_text(ix, stmt, 7, hash);
	if (rc == 0)
		rc = ix_bind_text(ix, stmt, 8, r->options_key);
	if (rc == 0)
		rc = ix_bind_text(ix, stmt, 9, d->title);
	if (rc == 0)
		rc = ix_bind_int64(ix, stmt, 10, (int64_t)nchunks);
	if (rc == 0 && (rc = sqlite3_bind_double(stmt, 11, r->now)) != SQLITE_OK)
		rc = ix_fail(ix, rc);
	if (rc == 0)
		rc = ix_step_done(ix, stmt);
	if (rc == 0)
		*id = k->id ? k->id : sqlite3_last_insert_rowid(ix->db);
	return rc;
}

/* The whole of one file's new index in one transaction: its old chunks
 * out, its row, its chunks in. On failure nothing of it changed. */
static int write_file(struct run *r, const struct walk_file *f, const struct known *k,
		      const char *hash, const doc *d, const struct doc_chunk *chunks,
		      size_t nchunks)
{
	char **headings = NULL;
	int64_t id = 0;
	size_t i;
	int rc;

	rc = join_sections(d, &headings);
	if (rc < 0)
		return rc;
	rc = ix_begin(r->ix);
	if (rc == 0 && k->id)
		rc = delete_file(r->ix, k->id, true);
	if (rc == 0)
		rc = write_file_row(r, f, k, hash, d, nchunks, &id);
	for (i = 0; rc == 0 && i < nchunks; i++)
		rc = insert_chunk(r, id, i, d, headings, &chunks[i]);
	if (rc == 0)
		rc = commit_changes(r);
	if (rc < 0)
		ix_rollback(r->ix);
	for (i = 0; i < d->nsections; i++)
		free(headings[i]);
	free(headings);
	return rc;
}

/* Record the new size and time of a file whose content is unchanged, so
 * that the next run needs no read. */
static int touch_file(struct run *r, const struct walk_file *f, int64_t id)
{
	sqlite3_stmt *stmt = NULL;
	int rc;

	rc = ix_stmt(r->ix, IX_FILE_TOUCH,
		     "UPDATE files SET size = ?2, mtime_ns = ?3, abs_path = ?4 WHERE id = ?1",
		     &stmt);
	if (rc == 0)
		rc = ix_bind_int64(r->ix, stmt, 1, id);
	if (rc == 0)
		rc = ix_bind_int64(r->ix, stmt, 2, f->size);
	if (rc == 0)
		rc = ix_bind_int64(r->ix, stmt, 3, f->mtime_ns);
	if (rc == 0)
		rc = ix_bind_text(r->ix, stmt, 4, f->abs);
	return rc < 0 ? rc : ix_step_done(r->ix, stmt);
}

/* A file that is not indexed this time: warned about, counted, and its
 * earlier index (which no longer matches the disk) removed. */
static int skip_file(struct run *r, const struct known *k)
{
	r->stats->skipped++;
	return k->id ? drop_file(r, k->id) : 0;
}

/* Parse and chunk; 1 when the file is to be skipped (warned), 0 with *d,
 * *chunks set, or a fatal -errno. */
static int parse_file(struct run *r, const struct walk_file *f, const char *text, size_t len,
		      doc **d, struct doc_chunk **chunks, size_t *nchunks)
{
	size_t i;
	int rc;

	if (memchr(text, '\0', len)) {
		run_warn(r, f->abs, "binary file (it holds NUL bytes); skipped");
		return 1;
	}
	rc = doc_parse_flags(f->fmt, f->rel, text, len,
			     r->opt->notebook_outputs ? DOC_NOTEBOOK_OUTPUTS : 0, d);
	if (rc == -ENOMEM)
		return rc;
	if (rc == -EINVAL) {
		run_warn(r, f->abs, "not a valid %s file; skipped", format_names[f->fmt]);
		return 1;
	}
	if (rc == -ENOTSUP) {
		run_warn(r, f->abs, "no parser for %s files yet; skipped", format_names[f->fmt]);
		return 1;
	}
	if (rc < 0) {
		run_warn(r, f->abs, "cannot parse: %s; skipped", strerror(-rc));
		return 1;
	}
	for (i = 0; i < (*d)->nwarnings; i++) {
		/* the parsers start their warnings with the name given to
		 * doc_parse; the warning names the file already */
		const char *w = (*d)->warnings[i];
		size_t n = strlen(f->rel);

		if (strncmp(w, f->rel, n) == 0 && w[n] == ':' && w[n + 1] == ' ')
			w += n + 2;
		run_warn(r, f->abs, "%s", w);
	}
	rc = doc_chunk(*d, &r->opt->chunk, chunks, nchunks);
	if (rc == -ENOMEM)
		return rc;
	if (rc < 0) {
		run_warn(r, f->abs, "cannot cut into chunks: %s; skipped", strerror(-rc));
		return 1;
	}
	if (*nchunks == 0)
		run_warn(r, f->abs, "no text to index");
	return 0;
}

static int index_file(struct run *r, const struct walk_file *f)
{
	struct doc_chunk *chunks = NULL;
	size_t len = 0, nchunks = 0;
	char *text = NULL, hash[17];
	struct known k;
	doc *d = NULL;
	int rc;

	rc = find_file(r, f, &k);
	if (rc < 0)
		return rc;
	if (k.id && k.same_options && k.size == f->size && k.mtime_ns == f->mtime_ns) {
		r->stats->unchanged++;
		return 0;
	}
	rc = read_file(f->abs, r->opt->max_file_bytes, &text, &len);
	if (rc == -EFBIG) {
		run_warn(r, f->abs, "too large (%zu bytes, the limit is %zu); skipped",
			 len, r->opt->max_file_bytes);
		return skip_file(r, &k);
	}
	if (rc == -ENOMEM)
		return rc;
	if (rc < 0) {
		run_warn(r, f->abs, "cannot read: %s; skipped", strerror(-rc));
		return skip_file(r, &k);
	}
	snprintf(hash, sizeof(hash), "%016" PRIx64, fnv1a64((const unsigned char *)text, len));
	if (k.id && k.same_options && strcmp(k.hash, hash) == 0) {
		r->stats->unchanged++;
		free(text);
		return touch_file(r, f, k.id);
	}
	rc = parse_file(r, f, text, len, &d, &chunks, &nchunks);
	free(text);
	if (rc == 1)
		rc = skip_file(r, &k);
	else if (rc == 0 && (rc = write_file(r, f, &k, hash, d, chunks, nchunks)) == 0) {
		r->stats->indexed++;
		r->stats->chunks += nchunks;
	}
	doc_chunks_free(chunks, nchunks);
	doc_free(d);
	return rc;
}

/* ------------------------------------------------------------ removal */

/* Files of scope s in the index but not found by the walk: removed, all in
 * one transaction. */
static int remove_gone(struct run *r, const struct walk_scope *s)
{
	sqlite3_stmt *stmt = NULL;
	int64_t *gone = NULL, *v;
	size_t n = 0, sublen = strlen(s->sub);
	const char *rel;
	int rc;

	rc = ix_stmt(r->ix, IX_FILES_OF_ROOT, "SELECT id, rel_path FROM files WHERE root_id = ?1",
		     &stmt);
	if (rc == 0)
		rc = ix_bind_int64(r->ix, stmt, 1, s->root_id);
	while (rc == 0 && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		rel = (const char *)sqlite3_column_text(stmt, 1);
		rc = 0;
		if (sublen && (strncmp(rel, s->sub, sublen) != 0 || rel[sublen] != '/'))
			continue;
		if (walk_contains(&r->files, s->root_id, rel))
			continue;
		if (!(v = realloc(gone, (n + 1) * sizeof(*v)))) {
			rc = -ENOMEM;
			break;
		}
		gone = v;
		gone[n++] = sqlite3_column_int64(stmt, 0);
	}
	rc = rc == SQLITE_DONE ? 0 : rc > 0 ? ix_fail(r->ix, rc) : rc;
	sqlite3_reset(stmt);
	if (rc == 0 && n)
		rc = drop_files(r, gone, n);
	free(gone);
	return rc;
}

/* ------------------------------------------------------------ the run */

static int finish_run(struct run *r)
{
	sqlite3_stmt *stmt = NULL;
	size_t i;
	int rc;

	rc = ix_begin(r->ix);
	for (i = 0; rc == 0 && i < r->nscopes; i++) {
		if (r->scopes[i].sub[0])
			continue;
		rc = ix_stmt(r->ix, IX_ROOT_TOUCH, "UPDATE roots SET indexed_at = ?2 WHERE id = ?1",
			     &stmt);
		if (rc == 0)
			rc = ix_bind_int64(r->ix, stmt, 1, r->scopes[i].root_id);
		if (rc == 0 && (rc = sqlite3_bind_double(stmt, 2, r->now)) != SQLITE_OK)
			rc = ix_fail(r->ix, rc);
		if (rc == 0)
			rc = ix_step_done(r->ix, stmt);
	}
	if (rc == 0)
		rc = ix_stmt(r->ix, IX_META_SET,
			     "INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)", &stmt);
	if (rc == 0)
		rc = ix_bind_text(r->ix, stmt, 1, "chunk_options");
	if (rc == 0)
		rc = ix_bind_text(r->ix, stmt, 2, r->options_key);
	if (rc == 0)
		rc = ix_step_done(r->ix, stmt);
	if (rc == 0)
		rc = ix_commit(r->ix);
	if (rc < 0)
		ix_rollback(r->ix);
	return rc;
}

/* A path given to the run, resolved. */
struct given {
	char *path;                        /* absolute, canonical; owned */
	bool is_dir;
	bool skip;                         /* a file of no known format */
};

static int given_cmp(const void *a, const void *b)
{
	size_t x = strlen(((const struct given *)a)->path);
	size_t y = strlen(((const struct given *)b)->path);

	return x < y ? -1 : x > y;
}

/* Each path made absolute and canonical, and checked: -ENOENT (or another
 * -errno) naming it before anything is written. Sorted shortest first, so
 * that a folder comes before the paths inside it and they join its root.
 * *out owned by the caller. */
static int resolve_paths(struct run *r, const char *const *paths, size_t n,
			 struct given **out)
{
	struct given *g = calloc(n ? n : 1, sizeof(*g));
	enum doc_format fmt;
	struct stat sb;
	size_t i;
	int rc = 0;

	*out = g;
	if (!g)
		return -ENOMEM;
	for (i = 0; i < n && rc == 0; i++) {
		g[i].path = paths[i] ? realpath(paths[i], NULL) : NULL;
		if (!g[i].path)
			rc = paths[i] ? -errno : -EINVAL;
		else if (stat(g[i].path, &sb) < 0)
			rc = -errno;
		else if (!S_ISDIR(sb.st_mode) && !S_ISREG(sb.st_mode))
			rc = -EINVAL;
		if (rc < 0) {
			ix_set_errmsg(r->ix, "cannot index %s: %s",
				      paths[i] ? paths[i] : "(null)", strerror(-rc));
			break;
		}
		g[i].is_dir = S_ISDIR(sb.st_mode);
		if (!g[i].is_dir && doc_format_of(g[i].path, &fmt) < 0) {
			run_warn(r, g[i].path, "not a documentation file (by its name); skipped");
			r->stats->skipped++;
			g[i].skip = true;
		}
	}
	if (rc == 0)
		qsort(g, n, sizeof(*g), given_cmp);
	return rc;
}

static void run_release(struct run *r)
{
	size_t i;

	for (i = 0; i < r->nroots; i++)
		free(r->roots[i].path);
	free(r->roots);
	for (i = 0; i < r->nscopes; i++) {
		free(r->scopes[i].root);
		free(r->scopes[i].sub);
	}
	free(r->scopes);
	walk_list_release(&r->files);
}

/* The scopes of this run (the paths given) and their files, with the
 * files cut with other options, sorted. */
static int plan_run(struct run *r, const struct given *g, size_t n)
{
	size_t i;
	int rc = load_roots(r);

	for (i = 0; rc == 0 && i < n; i++)
		if (!g[i].skip)
			rc = scope_for(r, g[i].path, g[i].is_dir);
	if (rc < 0)
		return rc;
	merge_scopes(r);
	for (i = 0; rc == 0 && i < r->nscopes; i++) {
		rc = walk_scope(&r->scopes[i], &r->files, r->warn, r->ud, &r->stats->warnings);
		if (rc < 0 && rc != -ENOMEM)
			ix_set_errmsg(r->ix, "cannot index %s/%s: %s", r->scopes[i].root,
				      r->scopes[i].sub, strerror(-rc));
	}
	if (rc == 0)
		rc = stale_files(r);
	walk_sort(&r->files);
	return rc;
}

int docs_index_paths(docs_index *ix, const char *const *paths, size_t n,
		     const struct docs_options *opt, docs_progress_fn progress,
		     docs_warn_fn warn, void *ud, struct docs_index_stats *stats)
{
	struct docs_index_stats local;
	struct run r = {
		.ix = ix, .opt = opt, .progress = progress, .warn = warn, .ud = ud,
		.stats = stats ? stats : &local, .now = now_seconds(),
	};
	struct docs_progress p;
	struct given *given = NULL;
	size_t i;
	int rc;

	memset(r.stats, 0, sizeof(*r.stats));
	if (ix->readonly) {
		ix_set_errmsg(ix, "the index was opened read-only");
		return -EROFS;
	}
	snprintf(r.options_key, sizeof(r.options_key),
		 "strategy=%s max_chars=%zu overlap=%zu notebook_outputs=%d",
		 opt->chunk.strategy == CHUNK_PARAGRAPH ? "paragraph" : "section",
		 opt->chunk.max_chars, opt->chunk.overlap, opt->notebook_outputs ? 1 : 0);
	rc = resolve_paths(&r, paths, n, &given);
	if (rc == 0)
		rc = plan_run(&r, given, n);
	r.stats->files = r.files.n;
	for (i = 0; rc == 0 && i < r.files.n; i++) {
		rc = index_file(&r, &r.files.v[i]);
		if (rc == 0 && progress) {
			p.done = i + 1;
			p.total = r.files.n;
			p.path = r.files.v[i].abs;
			progress(&p, ud);
		}
	}
	for (i = 0; rc == 0 && i < r.nscopes; i++)
		if (!r.scopes[i].single)
			rc = remove_gone(&r, &r.scopes[i]);
	if (rc == 0)
		rc = finish_run(&r);
	if (rc == 0)
		rc = optimize(&r);
	if (rc == 0)
		rc = ix_embed_missing(ix, &opt->embed, warn, ud, &r.stats->embedded,
				      &r.stats->warnings);
	/* This connection's own changes do not move its data_version. */
	ix_caches_clear(ix);
	for (i = 0; given && i < n; i++)
		free(given[i].path);
	free(given);
	run_release(&r);
	return rc;
}
