/*
 * test_runner.c - runner_* with real child processes: output and exit
 * codes, stderr, commands that cannot run, cwd and env, timeouts with
 * SIGTERM then SIGKILL to the whole process group, the output cap,
 * cancellation, and many runners at once. Every child started here ends
 * before the test does (checked), and the loop closes cleanly.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runner.h"
#include "tap.h"

static uv_loop_t loop;

/* What one runner reported. */
struct capture {
	int done;
	struct runner_result res;  /* output points at .output below */
	char *output;              /* copy of the kept output, owned */
	char *streamed[3];         /* what on_output saw per stream, owned */
	size_t streamed_len[3];
};

static void on_output(void *ud, int stream, const char *data, size_t len)
{
	struct capture *c = ud;
	char *grown;

	if (stream != 1 && stream != 2) {
		tap_ok(0, "output callback with stream %d", stream);
		return;
	}
	grown = realloc(c->streamed[stream], c->streamed_len[stream] + len + 1);
	if (!grown)
		abort();
	memcpy(grown + c->streamed_len[stream], data, len);
	c->streamed_len[stream] += len;
	grown[c->streamed_len[stream]] = '\0';
	c->streamed[stream] = grown;
}

static void on_done(void *ud, const struct runner_result *res)
{
	struct capture *c = ud;

	c->done++;
	if (c->done > 1)
		return;
	c->res = *res;
	c->output = malloc(res->output_len + 1);
	if (!c->output)
		abort();
	memcpy(c->output, res->output, res->output_len);
	c->output[res->output_len] = '\0';
	c->res.output = c->output;
}

static void capture_free(struct capture *c)
{
	free(c->output);
	free(c->streamed[1]);
	free(c->streamed[2]);
	memset(c, 0, sizeof(*c));
}

/* Start one runner and run the loop until everything has ended. */
static int run(const struct runner_spec *spec, struct capture *c)
{
	int rc;

	memset(c, 0, sizeof(*c));
	rc = runner_start(&loop, spec, on_output, on_done, c, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	return rc;
}

/* A live process (zombies, reparented and unreaped, count as gone). */
static bool alive(pid_t pid)
{
	char path[64], buf[512], *paren;
	FILE *f;
	size_t n;

	if (pid <= 0 || kill(pid, 0) < 0)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	paren = strrchr(buf, ')');
	return !(paren && paren[1] == ' ' && paren[2] == 'Z');
}

/* Gone within a second: a process that closed its pipes may still be
 * on its way out of the kernel when the runner reports. */
static bool gone(pid_t pid)
{
	int i;

	for (i = 0; i < 100 && alive(pid); i++)
		usleep(10000);
	return pid > 0 && !alive(pid);
}

static void test_echo(void)
{
	const char *argv[] = { "/bin/echo", "hello", "world", NULL };
	struct runner_spec spec = { .argv = argv };
	struct capture c;

	tap_is_int(run(&spec, &c), 0, "echo: started");
	tap_is_int(c.done, 1, "echo: done exactly once");
	tap_is_int(c.res.exit_code, 0, "echo: exit 0");
	tap_is_int(c.res.term_signal, 0, "echo: no signal");
	tap_is_int(c.res.spawn_error, 0, "echo: no spawn error");
	tap_is_str(c.output, "hello world\n", "echo: output kept");
	tap_is_str(c.streamed[1], "hello world\n", "echo: output streamed as stdout");
	tap_ok(!c.res.timed_out && !c.res.cancelled && !c.res.output_truncated,
	       "echo: no timeout, cancel or truncation");
	tap_ok(c.res.seconds > 0 && c.res.seconds < 5, "echo: wall time %.3fs", c.res.seconds);
	capture_free(&c);
}

static void test_exit_and_stderr(void)
{
	const char *exit3[] = { "sh", "-c", "exit 3", NULL };
	const char *both[] = { "sh", "-c", "echo out; echo err >&2; exit 1", NULL };
	struct runner_spec spec = { .argv = exit3 };
	struct capture c;

	run(&spec, &c);
	tap_is_int(c.res.exit_code, 3, "exit code 3 (argv[0] found in PATH)");
	capture_free(&c);
	spec.argv = both;
	run(&spec, &c);
	tap_is_int(c.res.exit_code, 1, "stderr: exit 1");
	tap_is_str(c.streamed[1], "out\n", "stderr: stdout streamed as 1");
	tap_is_str(c.streamed[2], "err\n", "stderr: stderr streamed as 2");
	tap_ok(c.output && strstr(c.output, "out\n") && strstr(c.output, "err\n") &&
	       c.res.output_len == 8, "stderr: both kept in the output");
	capture_free(&c);
}

static void test_cannot_run(const char *dir)
{
	const char *missing[] = { "/nonexistent/doctor-cmd", NULL };
	const char *bare[] = { "doctor-no-such-command-xyz", NULL };
	char script[512];
	const char *noexec[] = { script, NULL };
	struct runner_spec spec = { .argv = missing };
	struct capture c;
	FILE *f;

	tap_is_int(run(&spec, &c), 0, "missing command: start succeeds");
	tap_is_int(c.done, 1, "missing command: done once");
	tap_is_int(c.res.spawn_error, -ENOENT, "missing command: spawn_error -ENOENT");
	tap_is_int(c.res.exit_code, -1, "missing command: exit_code -1");
	capture_free(&c);
	spec.argv = bare;
	run(&spec, &c);
	tap_is_int(c.res.spawn_error, -ENOENT, "missing bare name: -ENOENT after PATH search");
	capture_free(&c);

	snprintf(script, sizeof(script), "%s/not-executable", dir);
	f = fopen(script, "w");
	if (f) {
		fputs("#!/bin/sh\necho should not run\n", f);
		fclose(f);
	}
	chmod(script, 0644);
	spec.argv = noexec;
	run(&spec, &c);
	tap_is_int(c.done, 1, "non-executable: done once");
	tap_is_int(c.res.spawn_error, -EACCES, "non-executable: spawn_error -EACCES");
	capture_free(&c);
}

static void test_cwd_and_env(const char *dir)
{
	const char *pwd[] = { "pwd", NULL };
	const char *show[] = { "sh", "-c", "echo \"$DOCTOR_T:$PATH:${HOME:-unset}\"", NULL };
	const char *env[] = { "DOCTOR_T=bar", "PATH=/usr/bin:/bin", NULL };
	struct runner_spec spec = { .argv = pwd, .cwd = dir };
	struct capture c;
	char want[600];

	run(&spec, &c);
	snprintf(want, sizeof(want), "%s\n", dir);
	tap_is_str(c.output, want, "cwd honoured");
	capture_free(&c);
	spec.cwd = "/nonexistent-doctor-dir";
	tap_is_int(run(&spec, &c), -ENOENT, "missing cwd: start fails with -ENOENT");
	tap_is_int(c.done, 0, "missing cwd: no callback");
	capture_free(&c);
	spec.cwd = NULL;
	spec.argv = show;
	spec.env = env;
	run(&spec, &c);
	tap_is_str(c.output, "bar:/usr/bin:/bin:unset\n", "env given explicitly, and only it");
	capture_free(&c);
}

/* The first line of output as a pid. */
static pid_t first_pid(const struct capture *c)
{
	return c->output ? (pid_t)atoi(c->output) : 0;
}

static void test_timeout_term(void)
{
	const char *argv[] = { "sh", "-c", "echo $$; exec sleep 30", NULL };
	struct runner_spec spec = { .argv = argv, .timeout_ms = 300, .kill_grace_ms = 200 };
	struct capture c;
	pid_t pid;

	run(&spec, &c);
	pid = first_pid(&c);
	tap_ok(c.res.timed_out, "timeout: timed_out set");
	tap_is_int(c.res.term_signal, SIGTERM, "timeout: ended by SIGTERM");
	tap_is_int(c.res.exit_code, -1, "timeout: exit_code -1");
	tap_ok(c.res.seconds >= 0.29 && c.res.seconds < 2, "timeout: after %.3fs", c.res.seconds);
	tap_ok(gone(pid), "timeout: process %d gone", (int)pid);
	capture_free(&c);
}

static void test_timeout_kill(void)
{
	const char *argv[] = { "sh", "-c", "trap '' TERM; echo $$; sleep 30; echo survived", NULL };
	struct runner_spec spec = { .argv = argv, .timeout_ms = 300, .kill_grace_ms = 200 };
	struct capture c;
	pid_t pid;

	run(&spec, &c);
	pid = first_pid(&c);
	tap_ok(c.res.timed_out, "TERM trapped: timed_out set");
	tap_is_int(c.res.term_signal, SIGKILL, "TERM trapped: ended by SIGKILL");
	tap_ok(c.res.seconds >= 0.49 && c.res.seconds < 2.5,
	       "TERM trapped: killed after the grace (%.3fs)", c.res.seconds);
	tap_ok(c.output && !strstr(c.output, "survived"), "TERM trapped: did not run on");
	tap_ok(gone(pid), "TERM trapped: process %d gone", (int)pid);
	capture_free(&c);
}

static void test_group_kill(void)
{
	const char *argv[] = { "sh", "-c", "sleep 30 & echo $!; wait", NULL };
	struct runner_spec spec = { .argv = argv, .timeout_ms = 300, .kill_grace_ms = 200 };
	struct capture c;
	pid_t grandchild;

	run(&spec, &c);
	grandchild = first_pid(&c);
	tap_ok(c.res.timed_out && c.done == 1, "grandchild: timed out, done once");
	tap_ok(c.res.seconds < 2, "grandchild: pipes closed, no wait for sleep 30 (%.3fs)",
	       c.res.seconds);
	tap_ok(gone(grandchild), "grandchild %d killed with the group",
	       (int)grandchild);
	if (grandchild > 0 && alive(grandchild))
		kill(grandchild, SIGKILL);
	capture_free(&c);
}

/* setsid(1) forks a child into a new session, out of reach of the group
 * kill, and its parent exits at once: the pipes stay open. The runner must
 * stop waiting after the grace period instead of forever. */
static void test_escaped_session(void)
{
	const char *argv[] = { "setsid", "sleep", "31.7", NULL };
	struct runner_spec spec = { .argv = argv, .timeout_ms = 500, .kill_grace_ms = 200 };
	struct capture c;

	run(&spec, &c);
	tap_ok(c.done == 1 && c.res.seconds < 2.0,
	       "a process that left the session does not hold the runner (%.3fs)", c.res.seconds);
	tap_ok(!c.res.timed_out, "the remedy itself exited: not reported as timed out");
	if (system("pkill -KILL -f '^sleep 31.7$' 2>/dev/null") < 0)
		tap_diag("pkill could not run");
	capture_free(&c);
}

static void test_waits_for_pipes(void)
{
	const char *argv[] = { "sh", "-c", "(sleep 0.3; echo late) & echo early", NULL };
	struct runner_spec spec = { .argv = argv, .timeout_ms = 5000 };
	struct capture c;

	run(&spec, &c);
	tap_is_str(c.output, "early\nlate\n", "done waits for EOF after the exit");
	tap_is_int(c.res.exit_code, 0, "background writer: exit 0");
	capture_free(&c);
}

static void test_output_cap(void)
{
	const char *argv[] = { "sh", "-c", "head -c 100000 /dev/zero | tr '\\0' a; echo tail >&2", NULL };
	struct runner_spec spec = { .argv = argv, .max_output = 1000 };
	struct capture c;

	run(&spec, &c);
	tap_is_int(c.res.output_len, 1000, "cap: output kept to max_output");
	tap_ok(c.res.output_truncated, "cap: truncated flag set");
	tap_is_int(c.streamed_len[1], 100000, "cap: every byte still streamed");
	tap_ok(c.output && strspn(c.output, "a") == 1000, "cap: the first bytes kept");
	capture_free(&c);
	spec.max_output = 0;  /* 256 KiB default holds it all */
	run(&spec, &c);
	tap_ok(c.res.output_len == 100005 && !c.res.output_truncated,
	       "default cap: all %zu bytes kept, not truncated", c.res.output_len);
	capture_free(&c);
}

static void on_cancel_timer(uv_timer_t *t)
{
	runner_cancel(t->data);
	uv_close((uv_handle_t *)t, NULL);
}

static void test_cancel(void)
{
	const char *argv[] = { "sh", "-c", "echo $$; exec sleep 30", NULL };
	const char *missing[] = { "/nonexistent/doctor-cmd", NULL };
	struct runner_spec spec = { .argv = argv, .kill_grace_ms = 200 };
	struct runner *r = NULL;
	struct capture c = { 0 };
	uv_timer_t t;

	tap_is_int(runner_start(&loop, &spec, on_output, on_done, &c, &r), 0, "cancel: started");
	uv_timer_init(&loop, &t);
	t.data = r;
	uv_timer_start(&t, on_cancel_timer, 100, 0);
	uv_run(&loop, UV_RUN_DEFAULT);
	tap_ok(c.done == 1 && c.res.cancelled && !c.res.timed_out, "cancel: cancelled, not timed out");
	tap_is_int(c.res.term_signal, SIGTERM, "cancel: SIGTERM");
	tap_ok(gone(first_pid(&c)), "cancel: process gone");
	capture_free(&c);

	spec.argv = missing;
	tap_is_int(runner_start(&loop, &spec, on_output, on_done, &c, &r), 0, "cancel before spawn error: started");
	runner_cancel(r);
	uv_run(&loop, UV_RUN_DEFAULT);
	tap_ok(c.done == 1 && c.res.spawn_error == -ENOENT && c.res.cancelled,
	       "cancel before spawn error: one done with both");
	capture_free(&c);
}

static void test_many(void)
{
	enum { N = 24 };
	static struct capture cs[N];
	static const char *argv[N][6];
	char args[N][16], want[32];
	struct runner_spec spec = { .timeout_ms = 5000 };
	int i, ok_start = 0, ok_done = 0;

	for (i = 0; i < N; i++) {
		snprintf(args[i], sizeof(args[i]), "%d", i);
		/* sh -c CMD NAME ARG: $0 is NAME, $1 is ARG */
		argv[i][0] = "sh";
		argv[i][1] = "-c";
		argv[i][2] = "echo $1; exit $(($1 % 5))";
		argv[i][3] = "sh";
		argv[i][4] = args[i];
		argv[i][5] = NULL;
		spec.argv = argv[i];
		ok_start += runner_start(&loop, &spec, on_output, on_done, &cs[i], NULL) == 0;
	}
	uv_run(&loop, UV_RUN_DEFAULT);
	for (i = 0; i < N; i++) {
		snprintf(want, sizeof(want), "%d\n", i);
		ok_done += cs[i].done == 1 && cs[i].output && !strcmp(cs[i].output, want) &&
		           cs[i].res.exit_code == i % 5;
		capture_free(&cs[i]);
	}
	tap_is_int(ok_start, N, "many: all started");
	tap_is_int(ok_done, N, "many: each done once with its own output and exit code");
}

static void test_bad_args(void)
{
	const char *empty[] = { NULL };
	struct runner_spec spec = { .argv = NULL };
	struct runner *r = (struct runner *)&spec;
	struct capture c = { 0 };

	tap_is_int(runner_start(&loop, &spec, NULL, on_done, &c, &r), -EINVAL, "NULL argv: -EINVAL");
	tap_ok(r == NULL, "NULL argv: *out cleared");
	spec.argv = empty;
	tap_is_int(runner_start(&loop, &spec, NULL, on_done, &c, NULL), -EINVAL, "empty argv: -EINVAL");
	tap_is_int(runner_start(&loop, NULL, NULL, on_done, &c, NULL), -EINVAL, "NULL spec: -EINVAL");
	uv_run(&loop, UV_RUN_DEFAULT);
	tap_is_int(c.done, 0, "failed starts: no callback");
}

int main(void)
{
	char dir[] = "/tmp/test_runner.XXXXXX", cmd[128];

	if (!mkdtemp(dir) || uv_loop_init(&loop) != 0) {
		perror("setup");
		return 99;
	}
	test_echo();
	test_exit_and_stderr();
	test_cannot_run(dir);
	test_cwd_and_env(dir);
	test_timeout_term();
	test_timeout_kill();
	test_group_kill();
	test_escaped_session();
	test_waits_for_pipes();
	test_output_cap();
	test_cancel();
	test_many();
	test_bad_args();
	tap_is_int(uv_loop_close(&loop), 0, "every handle closed: the loop closes");
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		tap_diag("could not remove %s", dir);
	return tap_done();
}
