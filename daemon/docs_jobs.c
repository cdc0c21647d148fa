/*
 * docs_jobs.c - documentation indexing and search on libuv's thread pool
 * (see docs_jobs.h), a search's query embedded first on the loop.
 *
 * Threads: a job's fields are set by the loop before uv_queue_work and read
 * by it again in the completion callback, after the worker has ended. Only
 * two things are shared while a worker runs, each under a mutex: the
 * indexing's progress slot and warning queue (the worker fills them and
 * wakes the loop with uv_async_send; async sends coalesce, so the slot
 * keeps only the latest progress and the queue every warning, bounded),
 * and the pool of read-only handles searches borrow.
 *
 * A search with embeddings configured asks the endpoint for its query's
 * vector through doctord's LLM client (llm_embed: curl multi on the loop),
 * and only then takes a worker with the vector, or with the endpoint's
 * failure as its warning: a slow endpoint holds no thread.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <uv.h>

#include "conn.h"
#include "docs_jobs.h"
#include "embed.h"
#include "llm_embed.h"
#include "log.h"
#include "protocol.h"
#include "rpc.h"
#include "utf8.h"

#define PROGRESS_INTERVAL_NS (50 * 1000000ULL) /* at most ~20 reports a second */
#define MAX_QUEUED_WARNINGS 1000     /* waiting for the loop; more are counted */
#define MAX_SEARCHES 64              /* running or waiting for a thread */
#define POOL_MAX 4                   /* read-only handles kept for searches */

struct pooled {
	docs_index *ix;              /* owned */
	char *path;                  /* its database; owned */
};

struct docs_jobs {
	struct doctord *d;           /* borrowed */
	bool stopping;
	struct index_job *indexing;  /* the running one, or NULL */
	unsigned searches;           /* running or queued */
	unsigned in_flight;          /* jobs whose completion has not run */
	uv_mutex_t pool_lock;
	struct pooled pool[POOL_MAX];   /* under pool_lock */
	size_t npool;
	/* The counts status shows, and the database they are of. */
	char *info_path;             /* owned; NULL: not known yet */
	bool info_exists;
	struct docs_index_info info;
	bool info_running, info_again;
};

/* ------------------------------------------------------------ helpers */

/* s as a JSON string, invalid UTF-8 (file names are bytes) repaired. New
 * reference; NULL when out of memory. */
static json_t *json_text(const char *s)
{
	size_t len;
	char *fixed;
	json_t *j;

	if (!s)
		s = "";
	len = strlen(s);
	if (utf8_valid(s, len))
		return json_stringn(s, len);
	fixed = utf8_repair(s, len, &len);
	j = fixed ? json_stringn(fixed, len) : NULL;
	free(fixed);
	return j;
}

char *docs_jobs_db_path(const struct doctord *d)
{
	char *path;

	if (d->cfg.docs.db_path)
		return strdup(d->cfg.docs.db_path);
	if (asprintf(&path, "%s/docs.db", d->data_dir) < 0)
		return NULL;
	return path;
}

static double seconds_since(uint64_t t0)
{
	return (double)(uv_hrtime() - t0) / 1e9;
}

/* ------------------------------------------------------------ handle pool */

/* A pooled handle on path, or NULL: the caller opens one. Worker threads. */
static docs_index *pool_take(struct docs_jobs *j, const char *path)
{
	docs_index *ix = NULL;
	size_t i;

	uv_mutex_lock(&j->pool_lock);
	for (i = 0; i < j->npool; i++) {
		if (strcmp(j->pool[i].path, path) != 0)
			continue;
		ix = j->pool[i].ix;
		free(j->pool[i].path);
		j->pool[i] = j->pool[--j->npool];
		break;
	}
	uv_mutex_unlock(&j->pool_lock);
	return ix;
}

/* Give ix back (taken), or close it when the pool is full. */
static void pool_put(struct docs_jobs *j, docs_index *ix, const char *path)
{
	char *copy = strdup(path);

	uv_mutex_lock(&j->pool_lock);
	if (copy && j->npool < POOL_MAX) {
		j->pool[j->npool].ix = ix;
		j->pool[j->npool++].path = copy;
		ix = NULL;
		copy = NULL;
	}
	uv_mutex_unlock(&j->pool_lock);
	free(copy);
	if (ix)
		docs_index_close(ix);
}

/* ------------------------------------------------------------ counts */

struct info_job {
	struct docs_jobs *owner;     /* borrowed */
	uv_work_t work;
	char *db_path;               /* owned */
	bool exists;
	int rc;
	struct docs_index_info info;
};

static void info_work(uv_work_t *w)
{
	struct info_job *job = w->data;
	docs_index *ix;
	struct stat sb;

	if (stat(job->db_path, &sb) < 0) {
		job->rc = errno == ENOENT ? 0 : -errno;
		return;
	}
	job->exists = true;
	ix = pool_take(job->owner, job->db_path);
	if (!ix && (job->rc = docs_index_open(job->db_path, true, &ix)) < 0)
		return;
	job->rc = docs_index_info(ix, &job->info);
	if (job->rc < 0)
		docs_index_close(ix);
	else
		pool_put(job->owner, ix, job->db_path);
}

static void info_done(uv_work_t *w, int status)
{
	struct info_job *job = w->data;
	struct docs_jobs *j = job->owner;

	j->in_flight--;
	j->info_running = false;
	if (job->rc == 0) {
		free(j->info_path);
		j->info_path = job->db_path;
		job->db_path = NULL;
		j->info_exists = job->exists;
		j->info = job->info;
	} else {
		log_warn("docs: cannot count the index %s: %s", job->db_path, strerror(-job->rc));
	}
	free(job->db_path);
	free(job);
	if (j->info_again && !j->stopping) {
		j->info_again = false;
		docs_jobs_refresh(j);
	}
}

void docs_jobs_refresh(struct docs_jobs *j)
{
	struct info_job *job;

	if (j->stopping)
		return;
	if (j->info_running) {
		j->info_again = true;
		return;
	}
	job = calloc(1, sizeof(*job));
	if (!job || !(job->db_path = docs_jobs_db_path(j->d))) {
		free(job);
		return;
	}
	job->owner = j;
	job->work.data = job;
	if (uv_queue_work(j->d->loop, &job->work, info_work, info_done) < 0) {
		free(job->db_path);
		free(job);
		return;
	}
	j->info_running = true;
	j->in_flight++;
}

/* Counts known from a completed indexing of path. */
static void info_set(struct docs_jobs *j, const char *path, const struct docs_index_info *info)
{
	char *copy = strdup(path);

	if (!copy)
		return;
	free(j->info_path);
	j->info_path = copy;
	j->info_exists = true;
	j->info = *info;
}

/* ------------------------------------------------------------ indexing */

struct warning {
	struct warning *next;
	char *path, *message;        /* owned */
};

struct index_job {
	struct docs_jobs *owner;     /* borrowed */
	uv_work_t work;
	uv_async_t wake;             /* freed in its close callback */
	uv_mutex_t lock;
	uint64_t conn_serial;        /* who asked: replies go there */
	json_t *id;                  /* the request's id; owned reference */
	struct docs_index_request req;  /* owned */
	char *db_path;               /* owned */
	/* Shared with the worker, under lock. */
	size_t done, total;
	char *path;                  /* the latest file; owned */
	bool fresh;                  /* not yet sent */
	struct warning *warnings, **warnings_tail;
	size_t queued, dropped;
	uint64_t last_wake;
	/* The loop's own. */
	size_t shown_done, shown_total;
	uint64_t last_shown;         /* when progress was last sent */
	size_t dropped_total;
	/* The worker's results. */
	int rc;
	char *error;                 /* why it failed; owned */
	char *error_path;            /* the path it concerns, if one; owned */
	struct docs_index_stats stats;
	struct docs_index_info info;
	bool have_info;
	double seconds;
};

static void warnings_free(struct warning *w)
{
	struct warning *next;

	for (; w; w = next) {
		next = w->next;
		free(w->path);
		free(w->message);
		free(w);
	}
}

static void index_job_free(uv_handle_t *h)
{
	struct index_job *job = h->data;
	size_t i;

	json_decref(job->id);
	for (i = 0; i < job->req.npaths; i++)
		free(job->req.paths[i]);
	free(job->req.paths);
	docs_options_release(&job->req.opt);
	free(job->db_path);
	free(job->path);
	warnings_free(job->warnings);
	free(job->error);
	free(job->error_path);
	uv_mutex_destroy(&job->lock);
	free(job);
}

/* Worker: the file just handled. Wakes the loop at most every
 * PROGRESS_INTERVAL_NS, and for the last file. */
static void on_progress(const struct docs_progress *p, void *ud)
{
	struct index_job *job = ud;
	char *path = p->path ? strdup(p->path) : NULL;
	uint64_t now = uv_hrtime();
	bool wake;

	uv_mutex_lock(&job->lock);
	free(job->path);
	job->path = path;
	job->done = p->done;
	job->total = p->total;
	job->fresh = true;
	wake = p->done >= p->total || now - job->last_wake >= PROGRESS_INTERVAL_NS;
	if (wake)
		job->last_wake = now;
	uv_mutex_unlock(&job->lock);
	if (wake)
		uv_async_send(&job->wake);
}

/* Worker: a file skipped or indexed with a problem. */
static void on_warning(const char *path, const char *message, void *ud)
{
	struct index_job *job = ud;
	struct warning *w = calloc(1, sizeof(*w));

	if (w) {
		w->path = strdup(path ? path : "");
		w->message = strdup(message ? message : "");
		if (!w->path || !w->message) {
			warnings_free(w);
			w = NULL;
		}
	}
	uv_mutex_lock(&job->lock);
	if (w && job->queued < MAX_QUEUED_WARNINGS) {
		*job->warnings_tail = w;
		job->warnings_tail = &w->next;
		job->queued++;
		w = NULL;
	} else {
		job->dropped++;
	}
	uv_mutex_unlock(&job->lock);
	warnings_free(w);
	uv_async_send(&job->wake);
}

static void set_error(struct index_job *job, int rc, const char *what, const char *path)
{
	free(job->error);
	free(job->error_path);
	job->error = NULL;
	job->error_path = path ? strdup(path) : NULL;
	if (path) {
		if (asprintf(&job->error, "%s %s: %s", what, path, strerror(-rc)) < 0)
			job->error = NULL;
	} else if (asprintf(&job->error, "%s: %s", what, strerror(-rc)) < 0) {
		job->error = NULL;
	}
}

/* Worker: each path resolved (symbolic links, "..") and checked to be a
 * file or folder, so that an error names it. */
static int resolve_paths(struct index_job *job)
{
	struct stat sb;
	char *real;
	size_t i;
	int rc;

	for (i = 0; i < job->req.npaths; i++) {
		real = realpath(job->req.paths[i], NULL);
		rc = real ? 0 : -errno;
		if (rc == 0 && stat(real, &sb) < 0)
			rc = -errno;
		else if (rc == 0 && !S_ISDIR(sb.st_mode) && !S_ISREG(sb.st_mode))
			rc = -EINVAL;
		if (rc < 0) {
			set_error(job, rc, "cannot index", job->req.paths[i]);
			free(real);
			return rc;
		}
		free(job->req.paths[i]);
		job->req.paths[i] = real;
	}
	return 0;
}

static void index_work(uv_work_t *w)
{
	struct index_job *job = w->data;
	uint64_t t0 = uv_hrtime();
	docs_index *ix = NULL;
	int rc;

	rc = resolve_paths(job);
	if (rc == 0 && (rc = docs_index_open(job->db_path, false, &ix)) < 0)
		set_error(job, rc, "cannot open the documentation index", job->db_path);
	if (rc == 0) {
		rc = docs_index_paths(ix, (const char *const *)job->req.paths, job->req.npaths,
		                      &job->req.opt, on_progress, on_warning, job, &job->stats);
		if (rc < 0)
			set_error(job, rc, "indexing failed", NULL);
		else
			job->have_info = docs_index_info(ix, &job->info) == 0;
	}
	docs_index_close(ix);
	job->rc = rc;
	job->seconds = seconds_since(t0);
}

/* Loop: send what the worker queued to the asking client, if it is still
 * there: its warnings, then the latest progress - unless progress went out
 * less than PROGRESS_INTERVAL_NS ago (warnings wake the loop too), short
 * of the last file and of the final flush. */
static void index_flush(struct index_job *job, bool final)
{
	uint64_t now = uv_hrtime();
	struct conn *c = conn_find(job->owner->d, job->conn_serial);
	struct warning *list, *w;
	size_t done = 0, total = 0;
	char *path = NULL;
	bool fresh;

	uv_mutex_lock(&job->lock);
	list = job->warnings;
	job->warnings = NULL;
	job->warnings_tail = &job->warnings;
	job->queued = 0;
	job->dropped_total += job->dropped;
	job->dropped = 0;
	fresh = job->fresh && (final || job->done >= job->total ||
	                       now - job->last_shown >= PROGRESS_INTERVAL_NS);
	if (fresh) {
		job->fresh = false;
		path = job->path;
		job->path = NULL;
		done = job->done;
		total = job->total;
	}
	uv_mutex_unlock(&job->lock);
	for (w = list; w; w = w->next) {
		log_debug("docs: warning: %s: %s", w->path, w->message);
		if (c)
			conn_send(c, rpc_notification("docs.warning", json_pack("{s:o, s:o}",
			          "path", json_text(w->path), "message", json_text(w->message))));
	}
	warnings_free(list);
	if (fresh) {
		job->shown_done = done;
		job->shown_total = total;
		job->last_shown = now;
		if (c)
			conn_send(c, rpc_notification("docs.progress", json_pack("{s:I, s:I, s:o}",
			          "done", (json_int_t)done, "total", (json_int_t)total,
			          "path", json_text(path))));
	}
	free(path);
}

static void on_wake(uv_async_t *a)
{
	index_flush(a->data, false);
}

static json_t *stats_json(const struct index_job *job)
{
	const struct docs_index_stats *s = &job->stats;
	json_t *result = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:o}",
		"files", (json_int_t)s->files, "indexed", (json_int_t)s->indexed,
		"unchanged", (json_int_t)s->unchanged, "removed", (json_int_t)s->removed,
		"skipped", (json_int_t)s->skipped, "chunks", (json_int_t)s->chunks,
		"embedded", (json_int_t)s->embedded, "warnings", (json_int_t)s->warnings,
		"warnings_dropped", (json_int_t)job->dropped_total, "seconds", job->seconds,
		"database", json_text(job->db_path));

	if (result && job->have_info)
		json_object_set_new(result, "index", json_pack("{s:I, s:I, s:I, s:I}",
		                    "roots", (json_int_t)job->info.roots,
		                    "files", (json_int_t)job->info.files,
		                    "chunks", (json_int_t)job->info.chunks,
		                    "vectors", (json_int_t)job->info.vectors));
	return result;
}

static void index_reply_error(struct index_job *job, struct conn *c)
{
	const char *msg = job->error ? job->error : strerror(-job->rc);
	char *safe = utf8_repair(msg, strlen(msg), NULL);
	bool io = job->error_path && job->rc != -ENOMEM;

	rpc_error(c, job->id, io ? RPC_IO_ERROR : RPC_STORE_ERROR, safe ? safe : "indexing failed",
	          job->error_path ? json_pack("{s:o}", "path", json_text(job->error_path)) : NULL);
	free(safe);
}

static void index_done(uv_work_t *w, int status)
{
	struct index_job *job = w->data;
	struct docs_jobs *j = job->owner;
	const struct docs_index_stats *s = &job->stats;
	struct conn *c;

	index_flush(job, true);
	c = conn_find(j->d, job->conn_serial);
	if (job->rc == 0) {
		log_info("docs: indexed %zu files (%zu unchanged, %zu removed, %zu skipped, "
		         "%zu warnings), %zu chunks in %.2f s", s->indexed, s->unchanged,
		         s->removed, s->skipped, s->warnings, s->chunks, job->seconds);
		if (job->have_info)
			info_set(j, job->db_path, &job->info);
		if (c)
			rpc_result(c, job->id, stats_json(job));
	} else {
		log_warn("docs: %s", job->error ? job->error : strerror(-job->rc));
		docs_jobs_refresh(j);   /* earlier files may have been written */
		if (c)
			index_reply_error(job, c);
	}
	if (!c)
		log_info("docs: the client that asked for the indexing has gone");
	j->indexing = NULL;
	j->in_flight--;
	uv_close((uv_handle_t *)&job->wake, index_job_free);
}

int docs_jobs_index(struct docs_jobs *j, struct conn *c, json_t *id,
                    struct docs_index_request *req)
{
	struct index_job *job;
	int rc;

	if (j->stopping)
		return -ESHUTDOWN;
	if (j->indexing)
		return -EBUSY;
	job = calloc(1, sizeof(*job));
	if (!job)
		return -ENOMEM;
	if (!(job->db_path = docs_jobs_db_path(j->d)) || uv_mutex_init(&job->lock) < 0) {
		free(job->db_path);
		free(job);
		return -ENOMEM;
	}
	job->owner = j;
	job->conn_serial = c->serial;
	job->warnings_tail = &job->warnings;
	job->work.data = job;
	job->wake.data = job;
	if ((rc = uv_async_init(j->d->loop, &job->wake, on_wake)) < 0) {
		uv_mutex_destroy(&job->lock);
		free(job->db_path);
		free(job);
		return rc;
	}
	job->req = *req;
	if ((rc = uv_queue_work(j->d->loop, &job->work, index_work, index_done)) < 0) {
		memset(&job->req, 0, sizeof(job->req));    /* still the caller's */
		uv_close((uv_handle_t *)&job->wake, index_job_free);
		return rc;
	}
	memset(req, 0, sizeof(*req));
	job->id = json_incref(id);
	j->indexing = job;
	j->in_flight++;
	log_info("docs: indexing %zu path%s into %s", job->req.npaths,
	         job->req.npaths == 1 ? "" : "s", job->db_path);
	return 0;
}

bool docs_jobs_indexing(const struct docs_jobs *j, size_t *done, size_t *total)
{
	if (!j->indexing)
		return false;
	*done = j->indexing->shown_done;
	*total = j->indexing->shown_total;
	return true;
}

/* ------------------------------------------------------------ search */

struct search_job {
	struct docs_jobs *owner;     /* borrowed */
	uv_work_t work;
	uint64_t conn_serial;
	json_t *id;                  /* owned reference */
	docs_search_cb cb;           /* internal search: the hits go here, not
	                                to a connection */
	void *cb_ud;
	char *query;                 /* owned */
	unsigned k;
	bool lexical_only;
	struct docs_options opt;     /* owned */
	char *db_path;               /* owned */
	/* The query's embedding, asked on the loop before the worker runs. */
	float *vector;               /* dim floats; owned; NULL: none */
	size_t dim;
	bool embed_failed;           /* the endpoint was asked and failed */
	char *embed_error;           /* why; owned, may be NULL */
	/* The worker's results. */
	int rc;
	struct docs_hit *hits;       /* owned */
	size_t n;
	char *warning;               /* owned */
	bool no_index;
	double seconds;
};

static void search_work(uv_work_t *w)
{
	struct search_job *job = w->data;
	struct docs_query q = { .text = job->query, .k = job->k,
	                        .lexical_only = job->lexical_only,
	                        .vector = job->vector, .dim = job->dim };
	struct docs_index_info info;
	uint64_t t0 = uv_hrtime();
	docs_index *ix;
	struct stat sb;

	if (stat(job->db_path, &sb) < 0 && errno == ENOENT) {
		job->no_index = true;
		return;
	}
	if (job->embed_failed)
		q.vector_error = job->embed_error ? job->embed_error
		                                  : "the embeddings endpoint failed";
	ix = pool_take(job->owner, job->db_path);
	if (!ix && (job->rc = docs_index_open(job->db_path, true, &ix)) < 0)
		return;
	job->rc = docs_search(ix, &q, &job->opt, &job->hits, &job->n, &job->warning);
	if (job->rc == 0 && job->n == 0 && docs_index_info(ix, &info) == 0 && info.files == 0)
		job->no_index = true;
	if (job->rc < 0)
		docs_index_close(ix);
	else
		pool_put(job->owner, ix, job->db_path);
	job->seconds = seconds_since(t0);
}

static json_t *hit_json(const struct docs_hit *h)
{
	return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:f, s:i, s:i, s:I, s:I, s:I}",
		"page", json_text(h->page), "root", json_text(h->root),
		"title", json_text(h->title), "section", json_text(h->section),
		"anchor", json_text(h->anchor), "text", json_text(h->text),
		"score", h->score, "lexical_rank", h->lexical_rank,
		"vector_rank", h->vector_rank, "start", (json_int_t)h->start,
		"end", (json_int_t)h->end, "chunk", (json_int_t)h->chunk_id);
}

static json_t *search_result(const struct search_job *job)
{
	json_t *hits = json_array(), *result;
	size_t i;

	for (i = 0; hits && i < job->n; i++)
		if (json_array_append_new(hits, hit_json(&job->hits[i])) < 0) {
			json_decref(hits);
			return NULL;
		}
	result = json_pack("{s:o, s:f}", "hits", hits, "seconds", job->seconds);
	if (result && job->warning)
		json_object_set_new(result, "warning", json_text(job->warning));
	if (result && job->no_index)
		json_object_set_new(result, "hint", json_string(
			"no documentation is indexed yet: index some with `doctor index PATH...`"
			" (method docs.index)"));
	return result;
}

/* Answer the search (its worker has run, or could not be queued) and free
 * it. */
static void search_finish(struct search_job *job)
{
	struct docs_jobs *j = job->owner;
	struct conn *c = conn_find(j->d, job->conn_serial);
	json_t *result;
	char msg[200];

	j->searches--;
	j->in_flight--;
	if (job->cb) {
		if (job->rc < 0)
			log_warn("docs: search failed: %s", strerror(-job->rc));
		job->cb(job->cb_ud, job->rc, job->hits, job->n, job->warning, job->no_index);
	} else if (job->rc < 0) {
		log_warn("docs: search failed: %s", strerror(-job->rc));
		snprintf(msg, sizeof(msg), "documentation search failed: %s", strerror(-job->rc));
		if (c)
			rpc_error(c, job->id, RPC_STORE_ERROR, msg, NULL);
	} else if (c) {
		result = search_result(job);
		if (result)
			rpc_result(c, job->id, result);
		else
			rpc_error(c, job->id, RPC_INTERNAL_ERROR, "out of memory", NULL);
	}
	json_decref(job->id);
	free(job->query);
	docs_options_release(&job->opt);
	free(job->db_path);
	free(job->vector);
	free(job->embed_error);
	docs_hits_free(job->hits, job->n);
	free(job->warning);
	free(job);
}

static void search_done(uv_work_t *w, int status)
{
	search_finish(w->data);
}

/* Queue a search; the caller sets who gets its result. */
static int search_start(struct docs_jobs *j, const char *query, unsigned k, bool lexical_only,
                        struct docs_options *opt, struct search_job **out)
{
	struct search_job *job;

	if (j->stopping)
		return -ESHUTDOWN;
	if (j->searches >= MAX_SEARCHES)
		return -EAGAIN;
	job = calloc(1, sizeof(*job));
	if (!job)
		return -ENOMEM;
	job->query = strdup(query);
	job->db_path = docs_jobs_db_path(j->d);
	if (!job->query || !job->db_path) {
		free(job->query);
		free(job->db_path);
		free(job);
		return -ENOMEM;
	}
	job->owner = j;
	job->k = k;
	job->lexical_only = lexical_only;
	job->opt = *opt;
	job->work.data = job;
	*out = job;
	return 0;
}

/* Whether to ask for the query's embedding on the loop before the worker
 * runs: embeddings configured and wanted, a query with words, and vectors
 * in the index as far as the counts tell (when they say none, the worker's
 * search finds none and asks nobody). */
static bool embed_first(const struct docs_jobs *j, const struct search_job *job)
{
	if (!j->d->llm || job->lexical_only || !embed_enabled(&job->opt.embed) ||
	    !job->query[strspn(job->query, " \t\r\n")])
		return false;
	return !(j->info_path && strcmp(j->info_path, job->db_path) == 0 &&
	         (!j->info_exists || j->info.vectors == 0));
}

/* The endpoint of c with the blocking client's limits (embed.h): the
 * timeout, three attempts, waits from 200 ms, a server's Retry-After up to
 * EMBED_RETRY_AFTER_MAX_MS. Strings borrowed from c. */
static void embed_endpoint(const struct embed_config *c, struct llm_endpoint *ep)
{
	long timeout = c->timeout_ms ? (long)c->timeout_ms : EMBED_DEFAULT_TIMEOUT_MS;

	llm_endpoint_defaults(ep);
	ep->base_url = c->base_url;
	ep->model = c->model;
	ep->api_key_env = c->api_key_env;
	ep->timeout_ms = timeout;
	ep->connect_timeout_ms = timeout < EMBED_CONNECT_TIMEOUT_MS ? timeout
	                                                            : EMBED_CONNECT_TIMEOUT_MS;
	ep->idle_timeout_ms = 0;
	ep->max_retries = EMBED_MAX_ATTEMPTS - 1;
	ep->backoff_base_ms = 200;
	ep->backoff_cap_ms = 800;
	ep->retry_after_cap_ms = EMBED_RETRY_AFTER_MAX_MS;
	ep->max_answer_bytes = EMBED_MAX_RESPONSE_BYTES;
}

/* The query's embedding came, or the endpoint failed (also cancelled by a
 * shutdown): now the worker, which fuses with the vector or searches
 * lexically with the failure as its warning. */
static void on_query_embedded(void *ud, struct llm_embed_result *res)
{
	struct search_job *job = ud;
	int rc;

	if (res->error.kind == LLM_ERR_NONE) {
		job->vector = res->vectors;
		job->dim = res->dim;
		res->vectors = NULL;
		log_debug("docs: query embedded in %ld ms", res->total_ms);
	} else {
		job->embed_failed = true;
		job->embed_error = res->error.message ? strdup(res->error.message) : NULL;
		log_debug("docs: the query was not embedded: %s",
		          res->error.message ? res->error.message : "?");
	}
	rc = uv_queue_work(job->owner->d->loop, &job->work, search_work, search_done);
	if (rc < 0) {
		job->rc = rc;
		search_finish(job);
	}
}

/* Ask for the query's embedding with doctord's LLM client. */
static int embed_query(struct docs_jobs *j, struct search_job *job)
{
	const char *texts[1] = { job->query };
	struct llm_embed_request req = { .texts = texts, .n = 1,
	                                 .dimensions = job->opt.embed.dimensions,
	                                 .base64 = job->opt.embed.base64 };
	struct llm_embed_callbacks cb = { .done = on_query_embedded, .ud = job };
	struct llm_endpoint ep;

	embed_endpoint(&job->opt.embed, &ep);
	return llm_embed(j->d->llm, &ep, &req, &cb, NULL);
}

/* Hand a prepared job on: its query embedded on the loop first when
 * embed_first says so (if that cannot start, the worker asks the endpoint
 * itself, as the tools do), then the thread pool. */
static int search_queue(struct docs_jobs *j, struct search_job *job, struct docs_options *opt)
{
	bool embedding = false;
	int rc;

	if (embed_first(j, job)) {
		rc = embed_query(j, job);
		embedding = rc == 0;
		if (rc < 0)
			log_warn("docs: cannot embed the query on the loop: %s", strerror(-rc));
	}
	rc = embedding ? 0 : uv_queue_work(j->d->loop, &job->work, search_work, search_done);
	if (rc < 0) {
		json_decref(job->id);
		free(job->query);
		free(job->db_path);
		free(job);
		return rc;
	}
	memset(opt, 0, sizeof(*opt));
	j->searches++;
	j->in_flight++;
	return 0;
}

int docs_jobs_search(struct docs_jobs *j, struct conn *c, json_t *id,
                     const char *query, unsigned k, bool lexical_only,
                     struct docs_options *opt)
{
	struct search_job *job;
	int rc;

	if ((rc = search_start(j, query, k, lexical_only, opt, &job)) < 0)
		return rc;
	job->conn_serial = c->serial;
	job->id = json_incref(id);
	return search_queue(j, job, opt);
}

int docs_jobs_search_cb(struct docs_jobs *j, const char *query, unsigned k, bool lexical_only,
                        struct docs_options *opt, docs_search_cb cb, void *ud)
{
	struct search_job *job;
	int rc;

	if (!cb)
		return -EINVAL;
	if ((rc = search_start(j, query, k, lexical_only, opt, &job)) < 0)
		return rc;
	job->cb = cb;
	job->cb_ud = ud;
	return search_queue(j, job, opt);
}

/* ------------------------------------------------------------ status */

json_t *docs_jobs_status(struct docs_jobs *j)
{
	char *db = docs_jobs_db_path(j->d);
	bool known = db && j->info_path && strcmp(db, j->info_path) == 0;
	json_t *st = json_pack("{s:o}", "database", json_text(db));
	size_t done, total;

	if (!st) {
		free(db);
		return json_null();
	}
	if (known) {
		json_object_set_new(st, "exists", json_boolean(j->info_exists));
		json_object_set_new(st, "roots", json_integer((json_int_t)j->info.roots));
		json_object_set_new(st, "files", json_integer((json_int_t)j->info.files));
		json_object_set_new(st, "chunks", json_integer((json_int_t)j->info.chunks));
		json_object_set_new(st, "vectors", json_integer((json_int_t)j->info.vectors));
	} else {
		docs_jobs_refresh(j);   /* docs.db changed, or not counted yet */
	}
	if (docs_jobs_indexing(j, &done, &total))
		json_object_set_new(st, "indexing", json_pack("{s:I, s:I}", "done",
		                    (json_int_t)done, "total", (json_int_t)total));
	free(db);
	return st;
}

/* ------------------------------------------------------------ life */

int docs_jobs_new(struct doctord *d, struct docs_jobs **out)
{
	struct docs_jobs *j = calloc(1, sizeof(*j));

	if (!j)
		return -ENOMEM;
	if (uv_mutex_init(&j->pool_lock) < 0) {
		free(j);
		return -ENOMEM;
	}
	/* libcurl's global set-up is not thread-safe: do it here, before
	 * the first worker thread exists (embeddings run on workers). */
	if (embed_global_init() < 0)
		log_warn("docs: libcurl did not initialise: embeddings will fail");
	j->d = d;
	*out = j;
	docs_jobs_refresh(j);
	return 0;
}

void docs_jobs_stop(struct docs_jobs *j)
{
	if (!j || j->stopping)
		return;
	j->stopping = true;
	if (j->indexing)
		log_info("docs: waiting for the indexing to finish (%zu of %zu files done)",
		         j->indexing->shown_done, j->indexing->shown_total);
}

void docs_jobs_free(struct docs_jobs *j)
{
	size_t i;

	if (!j)
		return;
	if (j->in_flight) {
		/* the loop ended with work pending: it still points here */
		log_error("docs: %u jobs still running at exit", j->in_flight);
		return;
	}
	for (i = 0; i < j->npool; i++) {
		docs_index_close(j->pool[i].ix);
		free(j->pool[i].path);
	}
	uv_mutex_destroy(&j->pool_lock);
	free(j->info_path);
	free(j);
}
