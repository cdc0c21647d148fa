/*
 * spawn.h - starting the command that `doctor run` wraps, with its output
 * caught so that it can be passed through to the terminal and recorded.
 *
 * How the output is caught follows where doctor's own output goes, so the
 * command behaves as it would without doctor:
 *   - stdout and stderr are the same open file (e.g. `2>&1`, or both the
 *     terminal): ONE channel for both, so their order is kept exactly;
 *   - otherwise one channel each.
 * A channel is a pseudo-terminal when its destination is a terminal (the
 * command keeps colours and line buffering; window size copied), else a
 * pipe. stdin is inherited. The command stays in doctor's process group,
 * so keys like Ctrl-C reach it from the terminal directly.
 */
#ifndef DOCTOR_SPAWN_H
#define DOCTOR_SPAWN_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum { SPAWN_MAX_OUTPUTS = 2, SPAWN_MAX_SIGNALS = 8 };

/* One channel of the command's output. */
struct spawn_output {
	int fd;          /* our end, non-blocking; -1 once closed */
	int dest_fd;     /* where it is passed through: 1 or 2 */
	bool pty;        /* a pseudo-terminal master: EIO on read is the end */
};

struct spawn {
	pid_t pid;
	struct spawn_output outputs[SPAWN_MAX_OUTPUTS];
	size_t noutputs;
};

/* Signal state doctor had before it changed any, for the command to get
 * back: the mask, and the actions of the signals whose action changed. */
struct spawn_signals {
	sigset_t mask;
	int signo[SPAWN_MAX_SIGNALS];
	struct sigaction action[SPAWN_MAX_SIGNALS];
	size_t n;
};

/* Run argv (argv[0] looked up in PATH; no shell) with its output caught as
 * above and the signal state `restore`. If exec fails, the child says so on
 * its stderr ("doctor: NAME: command not found") and exits 127 when the
 * command was not found, 126 when it cannot be run, as a shell does.
 * Returns 0, or a negative errno with nothing left open. */
int spawn_start(struct spawn *sp, char *const argv[], const struct spawn_signals *restore);

/* Copy the terminals' window sizes to the pseudo-terminals and tell the
 * command (SIGWINCH), after the user resized the window. */
void spawn_resize(const struct spawn *sp);

/* Close our end of output i (the command then gets SIGPIPE or EIO if it
 * writes there again). */
void spawn_close_output(struct spawn *sp, size_t i);

/* True while any output is open. */
bool spawn_outputs_open(const struct spawn *sp);

#endif
