/*
 * runner.c - one remedy command as a child process on libuv (see runner.h).
 *
 * A runner owns four handles: the process, a pipe each for stdout and
 * stderr, and one timer that serves, in turn, as the timeout, the SIGTERM
 * -> SIGKILL grace period, and the zero delay that turns a synchronous
 * spawn failure into the same deferred completion as any other end. The
 * child gets its own session and process group (UV_PROCESS_DETACHED) so a
 * signal reaches everything it started. Completion waits for the exit AND
 * EOF on both pipes, then closes all four handles; the done callback runs
 * from the last close callback, after which the runner frees itself, so
 * no libuv callback can ever see freed memory.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "runner.h"

#define RUNNER_DEFAULT_GRACE_MS   2000
#define RUNNER_DEFAULT_MAX_OUTPUT (256 * 1024)
#define RUNNER_READ_CHUNK         65536

struct runner {
	uv_process_t proc;
	uv_pipe_t out, err;            /* stdout, stderr */
	uv_timer_t timer;
	runner_output_cb on_output;    /* may be NULL */
	runner_done_cb on_done;
	void *ud;

	char *output;                  /* owned, kept up to max_output bytes */
	size_t output_len, output_cap, max_output;
	char chunk[RUNNER_READ_CHUNK]; /* reads land here, one at a time */

	struct runner_result res;
	uint64_t started_ns;
	unsigned kill_grace_ms;
	int open_handles;              /* closed by close callbacks */
	int open_streams;              /* pipes not yet at EOF */
	bool exited;                   /* or never started */
	bool term_sent;
	bool kill_sent;
	bool closing;
	bool silent;                   /* start failed: free, no callback */
};

/* ---- ending ---- */

static void on_close(uv_handle_t *handle)
{
	struct runner *r = handle->data;

	if (--r->open_handles > 0)
		return;
	if (!r->silent) {
		r->res.seconds = (double)(uv_hrtime() - r->started_ns) / 1e9;
		r->res.output = r->output ? r->output : "";
		r->res.output_len = r->output_len;
		r->on_done(r->ud, &r->res);
	}
	free(r->output);
	free(r);
}

static void close_all(struct runner *r)
{
	r->closing = true;
	uv_close((uv_handle_t *)&r->proc, on_close);
	uv_close((uv_handle_t *)&r->out, on_close);
	uv_close((uv_handle_t *)&r->err, on_close);
	uv_close((uv_handle_t *)&r->timer, on_close);
}

/* Done once the child is gone and nothing more can be read. */
static void maybe_finish(struct runner *r)
{
	if (r->closing || !r->exited || r->open_streams > 0)
		return;
	close_all(r);
}

/* ---- signals ---- */

/* The whole group: a shell's children die with it. The group id cannot
 * be reused while any member lives, and once all are gone kill() just
 * fails with ESRCH, so this is safe even after the leader exited. */
static void signal_group(struct runner *r, int sig)
{
	if (r->proc.pid > 0)
		kill(-r->proc.pid, sig);
}

static void on_timer(uv_timer_t *timer);

/* SIGTERM now, SIGKILL after the grace period unless everything ended. */
static void terminate(struct runner *r)
{
	if (r->term_sent || r->closing)
		return;
	r->term_sent = true;
	signal_group(r, SIGTERM);
	uv_timer_start(&r->timer, on_timer, r->kill_grace_ms, 0);
}

/* Stop waiting: a process that left the group (setsid) may hold the pipes
 * open forever, and one in uninterruptible sleep may outlive SIGKILL. What
 * was read is kept; the handles close. */
static void force_finish(struct runner *r)
{
	if (r->closing)
		return;
	uv_read_stop((uv_stream_t *)&r->out);
	uv_read_stop((uv_stream_t *)&r->err);
	r->open_streams = 0;
	r->exited = true;
	close_all(r);
}

static void on_timer(uv_timer_t *timer)
{
	struct runner *r = timer->data;

	if (r->res.spawn_error) {
		maybe_finish(r);       /* the deferred end of a failed spawn */
	} else if (r->exited) {
		/* exited, but something still holds its pipes: what is left of
		 * its group goes too (the group id cannot have been reused while
		 * a member lives); what escaped the group is no longer waited for */
		signal_group(r, SIGKILL);
		force_finish(r);
	} else if (!r->term_sent) {
		r->res.timed_out = true;
		terminate(r);
	} else if (!r->kill_sent) {
		r->kill_sent = true;
		signal_group(r, SIGKILL);
		uv_timer_start(&r->timer, on_timer, r->kill_grace_ms, 0);
	} else {
		force_finish(r);
	}
}

void runner_cancel(struct runner *r)
{
	if (!r || r->closing)
		return;
	r->res.cancelled = true;
	if (!r->res.spawn_error)
		terminate(r);
}

/* ---- child events ---- */

static void on_child_exit(uv_process_t *proc, int64_t exit_status, int term_signal)
{
	struct runner *r = proc->data;

	r->exited = true;
	r->res.term_signal = term_signal;
	r->res.exit_code = term_signal ? -1 : (int)exit_status;
	maybe_finish(r);
	/* the pipes are still open: a descendant has them; give it the grace
	 * period to finish writing, then stop waiting */
	if (!r->closing && r->open_streams > 0)
		uv_timer_start(&r->timer, on_timer, r->kill_grace_ms, 0);
}

/* Keep data up to max_output bytes; past that only note the loss. */
static void keep_output(struct runner *r, const char *data, size_t len)
{
	size_t room = r->max_output - r->output_len, want, ncap;
	char *grown;

	if (len > room) {
		r->res.output_truncated = true;
		len = room;
	}
	if (len == 0)
		return;
	want = r->output_len + len + 1;
	if (want > r->output_cap) {
		ncap = r->output_cap ? r->output_cap : 4096;
		while (ncap < want)
			ncap *= 2;
		if (ncap > r->max_output + 1)
			ncap = r->max_output + 1;
		grown = realloc(r->output, ncap);
		if (!grown) {
			r->res.output_truncated = true;  /* the record is short */
			return;
		}
		r->output = grown;
		r->output_cap = ncap;
	}
	memcpy(r->output + r->output_len, data, len);
	r->output_len += len;
	r->output[r->output_len] = '\0';
}

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
	struct runner *r = handle->data;

	*buf = uv_buf_init(r->chunk, sizeof(r->chunk));
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
	struct runner *r = stream->data;
	int which = stream == (uv_stream_t *)&r->out ? 1 : 2;

	if (nread > 0) {
		keep_output(r, buf->base, (size_t)nread);
		if (r->on_output)
			r->on_output(r->ud, which, buf->base, (size_t)nread);
		return;
	}
	if (nread == 0)
		return;                /* EAGAIN: nothing this time */
	/* EOF, or an error that ends this stream just the same */
	uv_read_stop(stream);
	r->open_streams--;
	maybe_finish(r);
}

/* ---- starting ---- */

/* Errors that mean "this command cannot run here", which the caller hears
 * about through the done callback; others (no memory, no file
 * descriptors) fail the start. */
static bool is_exec_error(int err)
{
	switch (-err) {
	case ENOENT: case EACCES: case EPERM: case ENOTDIR: case ELOOP:
	case ENAMETOOLONG: case ENOEXEC: case ETXTBSY: case EISDIR:
		return true;
	}
	return false;
}

static void on_close_silent(uv_handle_t *handle)
{
	struct runner *r = handle->data;

	if (--r->open_handles == 0)
		free(r);
}

/* Initialise the timer and both pipes; on failure close what was opened
 * (freeing r from the last close callback) and return the error. */
static int init_handles(uv_loop_t *loop, struct runner *r)
{
	uv_handle_t *opened[3];
	int rc, n = 0, i;

	r->proc.data = r->out.data = r->err.data = r->timer.data = r;
	rc = uv_timer_init(loop, &r->timer);
	if (rc == 0) {
		opened[n++] = (uv_handle_t *)&r->timer;
		rc = uv_pipe_init(loop, &r->out, 0);
	}
	if (rc == 0) {
		opened[n++] = (uv_handle_t *)&r->out;
		rc = uv_pipe_init(loop, &r->err, 0);
	}
	if (rc == 0) {
		r->open_handles = 3;
		return 0;
	}
	r->open_handles = n;
	for (i = 0; i < n; i++)
		uv_close(opened[i], on_close_silent);
	if (n == 0)
		free(r);
	return rc;
}

/* Start reading both pipes and the timeout. */
static void watch_child(struct runner *r, unsigned timeout_ms)
{
	r->open_streams = 2;
	if (uv_read_start((uv_stream_t *)&r->out, on_alloc, on_read) < 0)
		r->open_streams--;
	if (uv_read_start((uv_stream_t *)&r->err, on_alloc, on_read) < 0)
		r->open_streams--;
	if (timeout_ms)
		uv_timer_start(&r->timer, on_timer, timeout_ms, 0);
}

static int spawn_child(uv_loop_t *loop, struct runner *r,
                       const struct runner_spec *spec)
{
	uv_stdio_container_t stdio[3];
	uv_process_options_t opts;

	memset(&opts, 0, sizeof(opts));
	/* UV_IGNORE on fd 0 gives the child /dev/null: a remedy must never
	 * wait for input nobody will type. */
	stdio[0].flags = UV_IGNORE;
	stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
	stdio[1].data.stream = (uv_stream_t *)&r->out;
	stdio[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
	stdio[2].data.stream = (uv_stream_t *)&r->err;
	opts.exit_cb = on_child_exit;
	opts.file = spec->argv[0];
	opts.args = (char **)spec->argv;
	opts.env = (char **)spec->env;
	opts.cwd = spec->cwd;
	opts.flags = UV_PROCESS_DETACHED;  /* setsid: its own process group */
	opts.stdio_count = 3;
	opts.stdio = stdio;
	return uv_spawn(loop, &r->proc, &opts);
}

/* A missing cwd would make the child's chdir fail with ENOENT, which
 * would read as "no such command": say it here, as a start failure. */
static int check_cwd(const char *cwd)
{
	struct stat st;

	if (!cwd)
		return 0;
	if (stat(cwd, &st) < 0)
		return -errno;
	return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

int runner_start(uv_loop_t *loop, const struct runner_spec *spec,
                 runner_output_cb on_output, runner_done_cb on_done, void *ud,
                 struct runner **out)
{
	struct runner *r;
	int rc;

	if (out)
		*out = NULL;
	if (!loop || !spec || !spec->argv || !spec->argv[0] ||
	    !spec->argv[0][0] || !on_done)
		return -EINVAL;
	rc = check_cwd(spec->cwd);
	if (rc < 0)
		return rc;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->on_output = on_output;
	r->on_done = on_done;
	r->ud = ud;
	r->max_output = spec->max_output ? spec->max_output : RUNNER_DEFAULT_MAX_OUTPUT;
	r->kill_grace_ms = spec->kill_grace_ms ? spec->kill_grace_ms :
	                   RUNNER_DEFAULT_GRACE_MS;
	r->started_ns = uv_hrtime();
	rc = init_handles(loop, r);
	if (rc < 0)
		return rc;
	rc = spawn_child(loop, r, spec);
	r->open_handles++;  /* uv_spawn initialises the handle even on failure */
	if (rc == 0) {
		watch_child(r, spec->timeout_ms);
	} else if (is_exec_error(rc)) {
		r->res.spawn_error = rc;
		r->res.exit_code = -1;
		r->exited = true;
		uv_timer_start(&r->timer, on_timer, 0, 0);
	} else {
		r->silent = true;
		close_all(r);
		return rc;
	}
	if (out)
		*out = r;
	return 0;
}
