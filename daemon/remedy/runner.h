/*
 * runner.h - running one remedy command as a child process, never through a
 * shell: uv_spawn of an argv in a cwd, stdout and stderr streamed to a
 * callback as they come and kept (capped) for the record, a timeout that
 * sends SIGTERM and then, after a grace period, SIGKILL to the child's whole
 * process group, and one completion callback once the process has exited and
 * both pipes are drained.
 *
 * Lifetime: a runner frees itself after its done callback returns. A runner
 * whose start fails never calls back. runner_cancel() ends it early (the
 * done callback still comes, with `cancelled` set).
 */
#ifndef DOCTOR_RUNNER_H
#define DOCTOR_RUNNER_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

struct runner;

struct runner_spec {
	const char *const *argv;   /* argv[0] looked up in PATH if it has no '/' */
	const char *cwd;           /* NULL: the daemon's cwd */
	const char *const *env;    /* NULL: the daemon's environment */
	unsigned timeout_ms;       /* 0: no timeout */
	unsigned kill_grace_ms;    /* after SIGTERM, before SIGKILL; 0: 2000 */
	size_t max_output;         /* bytes kept in the result; 0: 256 KiB */
};

struct runner_result {
	int exit_code;             /* -1 if killed by a signal or not started */
	int term_signal;           /* 0 unless killed by a signal */
	bool timed_out;
	bool cancelled;
	int spawn_error;           /* negative errno if argv[0] could not run */
	double seconds;            /* wall time */
	const char *output;        /* stdout and stderr interleaved as read,
	                              borrowed for the callback's duration */
	size_t output_len;
	bool output_truncated;
};

/* stream: 1 stdout, 2 stderr; data borrowed. */
typedef void (*runner_output_cb)(void *ud, int stream, const char *data, size_t len);
typedef void (*runner_done_cb)(void *ud, const struct runner_result *res);

/* Start; on success *out (may be NULL) names the runner until done. A
 * command that cannot be executed (ENOENT, EACCES) is NOT a start failure:
 * it completes with spawn_error set, so callers have one path. Returns 0 or
 * a negative errno (then no callback comes). */
int runner_start(uv_loop_t *loop, const struct runner_spec *spec,
                 runner_output_cb on_output, runner_done_cb on_done, void *ud,
                 struct runner **out);
/* SIGTERM now, SIGKILL after the grace period. */
void runner_cancel(struct runner *r);

#endif
