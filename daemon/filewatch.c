/*
 * filewatch.c - follow log files as sources (see filewatch.h).
 *
 * Every watch.poll_ms a timer looks at the path (stat) and the open file
 * (fstat, and the bytes before our offset): a polling timer rather than
 * uv_fs_poll, whose first stat runs on the thread pool and can miss a write
 * made just after the watch starts. That is a few system calls per watch and
 * tick. Reads are plain pread(2) calls on the loop thread: local log files answer
 * at memory speed, and each check reads at most READ_BUDGET bytes before
 * yielding to the loop (a resume timer continues), so a huge file read from
 * its start cannot stall other clients.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "filewatch.h"
#include "log.h"
#include "source.h"

#define READ_CHUNK  (64 * 1024)
#define READ_BUDGET (4 * 1024 * 1024)

struct filewatch {
	struct list_head link;       /* in doctord.watches */
	struct doctord *d;           /* borrowed */
	char *path;                  /* owned */
	char *name;                  /* owned, may be NULL */
	bool from_config;
	struct source *src;          /* owned: closed with the watch */
	uv_timer_t poll;             /* every watch.poll_ms: check() */
	uv_timer_t resume;
	int open_handles;
	int fd;                      /* -1 while the file does not exist */
	dev_t dev;
	ino_t ino;
	off_t offset;
	char tail[64];               /* the bytes just before offset, to notice a */
	size_t tail_len;             /* file rewritten to a size >= offset */
};

static void check(struct filewatch *w);
static void remember_tail(struct filewatch *w);

/* ------------------------------------------------------------ reading */

/* Read from fd at w->offset up to EOF or the budget; returns bytes read or
 * a negative errno. */
static ssize_t drain(struct filewatch *w, size_t budget)
{
	char buf[READ_CHUNK];
	size_t total = 0;

	while (total < budget) {
		ssize_t n = pread(w->fd, buf, sizeof buf, w->offset);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		w->offset += n;
		total += (size_t)n;
		source_feed(w->src, buf, (size_t)n);
	}
	return (ssize_t)total;
}

static int open_file(struct filewatch *w, bool at_end)
{
	struct stat st;
	/* O_NONBLOCK: opening a FIFO without a writer would block the loop */
	int fd = open(w->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	int rc;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;      /* only regular files are followed */
	}
	w->fd = fd;
	w->dev = st.st_dev;
	w->ino = st.st_ino;
	w->offset = at_end ? st.st_size : 0;
	remember_tail(w);
	return 0;
}

/* Remember the bytes before the offset. */
static void remember_tail(struct filewatch *w)
{
	off_t from = w->offset > (off_t)sizeof w->tail ? w->offset - (off_t)sizeof w->tail : 0;
	ssize_t n = w->offset > 0 ? pread(w->fd, w->tail, (size_t)(w->offset - from), from) : 0;

	w->tail_len = n > 0 ? (size_t)n : 0;
}

/* True if the file was truncated or rewritten under us: smaller than our
 * offset, or the bytes before the offset are no longer what we read. */
static bool rewritten(struct filewatch *w)
{
	struct stat st;
	char now[sizeof w->tail];
	ssize_t n;

	if (fstat(w->fd, &st) == 0 && st.st_size < w->offset)
		return true;
	if (w->tail_len == 0)
		return false;
	n = pread(w->fd, now, w->tail_len, w->offset - (off_t)w->tail_len);
	return n != (ssize_t)w->tail_len || memcmp(now, w->tail, w->tail_len) != 0;
}

static void on_resume(uv_timer_t *t)
{
	check(t->data);
}

/* Look at the path and the open file, follow rotation/truncation, read. */
static void check(struct filewatch *w)
{
	struct stat st;
	bool path_ok = stat(w->path, &st) == 0;
	ssize_t n;

	if (w->fd >= 0 && path_ok && (st.st_ino != w->ino || st.st_dev != w->dev)) {
		/* finish the rotated file first, a budget at a time */
		if (drain(w, READ_BUDGET) >= READ_BUDGET) {
			uv_timer_start(&w->resume, on_resume, 0, 0);
			return;
		}
		source_flush(w->src);   /* its last line may lack a newline */
		close(w->fd);
		w->fd = -1;
		log_info("watch %s: rotated, following the new file", w->path);
	}
	if (w->fd < 0) {
		if (!path_ok || open_file(w, false) < 0)
			return;
	}
	if (rewritten(w)) {
		log_info("watch %s: truncated or rewritten, reading from the start", w->path);
		source_flush(w->src);
		w->offset = 0;
		w->tail_len = 0;
	}
	n = drain(w, READ_BUDGET);
	remember_tail(w);
	if (n < 0)
		log_warn("watch %s: read failed: %s", w->path, strerror((int)-n));
	else if (n >= READ_BUDGET)
		uv_timer_start(&w->resume, on_resume, 0, 0);
}

static void on_poll(uv_timer_t *t)
{
	check(t->data);
}

/* ------------------------------------------------------------ lifetime */

static void on_handle_closed(uv_handle_t *h)
{
	struct filewatch *w = h->data;

	if (--w->open_handles > 0)
		return;
	free(w->path);
	free(w->name);
	free(w);
}

static void watch_free(struct filewatch *w)
{
	list_del(&w->link);
	w->d->nwatches--;
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
	if (w->src)
		source_close(w->src);
	w->src = NULL;
	uv_close((uv_handle_t *)&w->poll, on_handle_closed);
	uv_close((uv_handle_t *)&w->resume, on_handle_closed);
}

static struct filewatch *find(struct doctord *d, const char *path)
{
	struct list_head *pos, *tmp;

	list_for_each_safe(pos, tmp, &d->watches) {
		struct filewatch *w = list_entry(pos, struct filewatch, link);
		if (strcmp(w->path, path) == 0)
			return w;
	}
	return NULL;
}

static int watch_new(struct doctord *d, const char *path, const char *name, bool from_config,
                     struct filewatch **out)
{
	struct filewatch *w = calloc(1, sizeof *w);
	json_t *context;
	int rc;

	if (!w)
		return -ENOMEM;
	w->d = d;
	w->fd = -1;
	w->from_config = from_config;
	w->path = strdup(path);
	w->name = name ? strdup(name) : NULL;
	context = json_pack("{s:s}", "path", path);
	if (!w->path || (name && !w->name) || !context) {
		rc = -ENOMEM;
		goto fail;
	}
	rc = source_open(d, NULL, "log", name ? name : path, context, true, &w->src);
	if (rc < 0)
		goto fail;
	json_decref(context);
	*out = w;
	return 0;
fail:
	json_decref(context);
	free(w->path);
	free(w->name);
	free(w);
	return rc;
}

static int watch_start(struct filewatch *w, bool from_start)
{
	struct doctord *d = w->d;
	int rc = open_file(w, !from_start);

	if (rc < 0 && rc != -ENOENT) {
		source_close(w->src);
		free(w->path);
		free(w->name);
		free(w);
		return rc;
	}
	uv_timer_init(d->loop, &w->poll);
	uv_timer_init(d->loop, &w->resume);
	w->poll.data = w->resume.data = w;
	w->open_handles = 2;
	list_add_tail(&w->link, &d->watches);
	d->nwatches++;
	if ((rc = uv_timer_start(&w->poll, on_poll, (uint64_t)d->cfg.watch_poll_ms,
	                         (uint64_t)d->cfg.watch_poll_ms)) < 0) {
		watch_free(w);
		return rc;
	}
	if (w->fd >= 0)
		check(w);
	return 0;
}

static int add(struct doctord *d, const char *path, const char *name, bool from_start,
               bool from_config, struct source **src_out)
{
	struct filewatch *w;
	int rc;

	if (find(d, path))
		return -EEXIST;
	if ((rc = watch_new(d, path, name, from_config, &w)) < 0)
		return rc;
	if ((rc = watch_start(w, from_start)) < 0)
		return rc;
	if (src_out)
		*src_out = w->src;
	log_info("watching %s%s", path, w->fd < 0 ? " (does not exist yet)" : "");
	return 0;
}

int filewatch_add(struct doctord *d, const char *path, const char *name,
                  bool from_start, bool persist, struct source **src_out)
{
	int rc = add(d, path, name, from_start, false, src_out);

	if (rc == 0 && persist && store_watch_add(d->st, path, name, from_start) < 0)
		log_warn("store: cannot remember watch %s: %s", path, store_errmsg(d->st));
	return rc;
}

int filewatch_remove(struct doctord *d, const char *path)
{
	struct filewatch *w = find(d, path);
	int rc = store_watch_remove(d->st, path);

	if (!w)
		return rc == 0 ? 0 : -ENOENT;
	watch_free(w);
	log_info("no longer watching %s", path);
	return 0;
}

static void start_config_watches(struct doctord *d)
{
	for (size_t i = 0; i < d->cfg.nwatch; i++) {
		const config_watch *cw = &d->cfg.watch[i];
		int rc = add(d, cw->path, cw->name, cw->from_start, true, NULL);
		if (rc < 0 && rc != -EEXIST)
			log_warn("cannot watch %s: %s", cw->path, strerror(-rc));
	}
}

void filewatch_start_all(struct doctord *d)
{
	json_t *stored = NULL, *item;
	size_t i;

	start_config_watches(d);
	if (store_watch_list(d->st, &stored) < 0) {
		log_warn("store: cannot read remembered watches: %s", store_errmsg(d->st));
		return;
	}
	json_array_foreach(stored, i, item) {
		const char *path = json_string_value(json_object_get(item, "path"));
		const char *name = json_string_value(json_object_get(item, "name"));
		/* a remembered watch resumes at the end: what was written while
		 * the daemon was down is not replayed */
		int rc = path ? add(d, path, name, false, false, NULL) : -EINVAL;
		if (rc < 0 && rc != -EEXIST)
			log_warn("cannot watch %s: %s", path ? path : "(no path)", strerror(-rc));
	}
	json_decref(stored);
}

static bool in_config(const doctor_config *cfg, const char *path)
{
	for (size_t i = 0; i < cfg->nwatch; i++)
		if (strcmp(cfg->watch[i].path, path) == 0)
			return true;
	return false;
}

void filewatch_sync_config(struct doctord *d)
{
	struct list_head *pos, *tmp;

	list_for_each_safe(pos, tmp, &d->watches) {
		struct filewatch *w = list_entry(pos, struct filewatch, link);
		if (w->from_config && !in_config(&d->cfg, w->path)) {
			log_info("no longer watching %s (removed from the config)", w->path);
			watch_free(w);
		}
	}
	start_config_watches(d);
}

void filewatch_stop_all(struct doctord *d)
{
	struct list_head *pos, *tmp;

	list_for_each_safe(pos, tmp, &d->watches)
		watch_free(list_entry(pos, struct filewatch, link));
}

json_t *filewatch_status(struct doctord *d)
{
	json_t *arr = json_array();
	struct list_head *pos, *tmp;

	list_for_each_safe(pos, tmp, &d->watches) {
		struct filewatch *w = list_entry(pos, struct filewatch, link);
		json_array_append_new(arr, json_pack("{s:s, s:s, s:I, s:I, s:b, s:b}",
			"path", w->path, "name", w->name ? w->name : w->path,
			"source", (json_int_t)w->src->id, "offset", (json_int_t)w->offset,
			"exists", w->fd >= 0, "from_config", w->from_config));
	}
	return arr;
}
