/*
 * cmd_run.c - `doctor run [--name NAME] [--quiet] -- CMD ARGS...`: run a
 * command as it would run without doctor, and record its output.
 *
 * The command's output is passed through unchanged and in order (spawn.h
 * says how it is caught) while the same bytes go to the daemon as a raw
 * source (raw_feed.h). The daemon never slows the command down nor changes
 * its exit status, which becomes doctor's own (128+N for signal N). While
 * the command runs, doctor ignores SIGINT and SIGQUIT (the command gets
 * them from the terminal) and passes SIGTERM and SIGHUP on to it. When it
 * has ended, doctor waits at most 5 s for the daemon's report and lists the
 * incidents found on stderr. When the daemon's agent (an LLM) diagnoses one
 * of them, its answer is streamed there as it is written (agent_follow.h),
 * for at most --agent-wait seconds; Ctrl-C stops that wait, never the
 * diagnosis. Then the diagnoses, and on a terminal a y/N question for each
 * remedy.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent_follow.h"
#include "agent_view.h"
#include "args.h"
#include "diagnosis_view.h"
#include "doctor.h"
#include "format.h"
#include "incident_view.h"
#include "raw_feed.h"
#include "spawn.h"

#define REPORT_WAIT_MS 5000    /* for source.closed once the command ended */
#define DRAIN_IDLE_MS 100      /* after the exit: output still open but quiet
                                  means a background process holds it */
#define AGENT_WAIT_DEFAULT 120 /* s: for the agent's diagnoses */
#define AGENT_WAIT_MAX 3600

struct run_options {
	const char *name;          /* --name; NULL: the command line */
	bool quiet;
	long agent_wait;           /* s to follow the agent's diagnoses */
	char **argv;               /* the command; borrowed */
};

struct run {
	struct spawn child;
	struct raw_feed *feed;     /* NULL when nothing is recorded; owned */
	struct agent_follow *agent; /* NULL without an agent to follow; owned */
	struct spawn_signals saved; /* given back to the command, and at exit */
	sigset_t watched;          /* read from signal_fd */
	int signal_fd;
	bool exited;
	int wait_status;
	long long idle_since;      /* ms: last output read after the exit */
	long long report_deadline; /* ms; 0 while the command's output goes on */
	bool interrupted;          /* stop waiting for the report */
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- signals */

/* Ignore SIGINT, SIGQUIT and SIGPIPE, take SIGCHLD back to its default,
 * read SIGCHLD, SIGTERM, SIGHUP and SIGWINCH from a signalfd. What was
 * there before is kept in r->saved. */
static int signals_setup(struct run *r)
{
	static const struct { int signo; void (*handler)(int); } changes[] = {
		{ SIGINT, SIG_IGN }, { SIGQUIT, SIG_IGN }, { SIGPIPE, SIG_IGN },
		{ SIGCHLD, SIG_DFL },
	};
	struct sigaction action = { 0 };
	size_t i;

	sigemptyset(&r->watched);
	sigaddset(&r->watched, SIGCHLD);
	sigaddset(&r->watched, SIGTERM);
	sigaddset(&r->watched, SIGHUP);
	sigaddset(&r->watched, SIGWINCH);
	if (sigprocmask(SIG_BLOCK, &r->watched, &r->saved.mask) < 0)
		return -errno;
	for (i = 0; i < sizeof(changes) / sizeof(changes[0]); i++) {
		action.sa_handler = changes[i].handler;
		r->saved.signo[i] = changes[i].signo;
		if (sigaction(changes[i].signo, &action, &r->saved.action[i]) < 0)
			return -errno;
		r->saved.n++;
	}
	r->signal_fd = signalfd(-1, &r->watched, SFD_CLOEXEC | SFD_NONBLOCK);
	return r->signal_fd < 0 ? -errno : 0;
}

static void signals_restore(struct run *r)
{
	size_t i;

	for (i = 0; i < r->saved.n; i++)
		sigaction(r->saved.signo[i], &r->saved.action[i], NULL);
	sigprocmask(SIG_SETMASK, &r->saved.mask, NULL);
	if (r->signal_fd >= 0)
		close(r->signal_fd);
	r->signal_fd = -1;
}

/* Once the command is gone Ctrl-C may cut the wait for the report short. */
static void signals_catch_interrupt(struct run *r)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigset_t intr;

	sigemptyset(&intr);
	sigaddset(&intr, SIGINT);
	sigprocmask(SIG_BLOCK, &intr, NULL);
	sigaction(SIGINT, &dfl, NULL);
	sigaddset(&r->watched, SIGINT);
	signalfd(r->signal_fd, &r->watched, 0);
}

static void reap(struct run *r)
{
	int status;

	if (r->exited || waitpid(r->child.pid, &status, WNOHANG) != r->child.pid)
		return;
	r->exited = true;
	r->wait_status = status;
	r->idle_since = now_ms();
}

static void take_signals(struct run *r)
{
	struct signalfd_siginfo info;

	while (read(r->signal_fd, &info, sizeof(info)) == sizeof(info)) {
		switch (info.ssi_signo) {
		case SIGCHLD:
			reap(r);
			break;
		case SIGTERM:
		case SIGHUP:
			if (!r->exited)
				kill(r->child.pid, (int)info.ssi_signo);
			else
				r->interrupted = true;
			break;
		case SIGINT:
			r->interrupted = true;
			break;
		case SIGWINCH:
			spawn_resize(&r->child);
			break;
		}
	}
}

/* ---- output */

/* Write all of buf to fd, waiting for room if fd is non-blocking. */
static int write_all(int fd, const char *buf, size_t len)
{
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	ssize_t n;

	while (len > 0) {
		n = write(fd, buf, len);
		if (n < 0 && errno == EAGAIN) {
			poll(&pfd, 1, -1);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Pass one read of output i through and record it. */
static void pass_output(struct run *r, size_t i)
{
	struct spawn_output *out = &r->child.outputs[i];
	char buf[64 * 1024];
	ssize_t n;
	int rc;

	n = read(out->fd, buf, sizeof(buf));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {               /* end of output; EIO from a pty too */
		spawn_close_output(&r->child, i);
		return;
	}
	if (r->exited)
		r->idle_since = now_ms();
	rc = write_all(out->dest_fd, buf, (size_t)n);
	if (rc < 0) {
		/* Nowhere to pass it: the command shall find its output closed,
		 * as it would without doctor (e.g. `doctor run -- yes | head`). */
		if (rc != -EPIPE)
			doctor_msg("cannot pass the output on: %s", strerror(-rc));
		spawn_close_output(&r->child, i);
	}
	if (r->feed)
		raw_feed_append(r->feed, buf, (size_t)n);
}

/* ---- the loop */

static bool output_ended(const struct run *r)
{
	return r->exited && (!spawn_outputs_open(&r->child)
	                     || now_ms() - r->idle_since >= DRAIN_IDLE_MS);
}

static void begin_report_wait(struct run *r)
{
	size_t i;

	for (i = 0; i < r->child.noutputs; i++)
		spawn_close_output(&r->child, i);
	if (r->feed)
		raw_feed_finish(r->feed);
	signals_catch_interrupt(r);
	r->report_deadline = now_ms() + REPORT_WAIT_MS;
}

static bool finished(const struct run *r)
{
	return r->report_deadline > 0
	       && (!r->feed || raw_feed_done(r->feed) || r->interrupted
	           || now_ms() >= r->report_deadline);
}

static int poll_timeout(const struct run *r)
{
	long long left;

	if (r->report_deadline > 0)
		left = r->report_deadline - now_ms();
	else if (r->exited)
		left = r->idle_since + DRAIN_IDLE_MS - now_ms();
	else
		return -1;
	return left < 0 ? 0 : (int)left;
}

/* Fill pfds: outputs first (their index is the output's), then the
 * signalfd, then the daemon (*feed_at, else -1), then the agent's
 * subscription (*agent_at, else -1). Returns how many. */
static nfds_t fill_pollfds(const struct run *r, struct pollfd *pfds, int *feed_at,
                           int *agent_at)
{
	nfds_t n = 0;
	size_t i;

	*feed_at = *agent_at = -1;
	for (i = 0; i < r->child.noutputs; i++)
		pfds[n++] = (struct pollfd){ .fd = r->child.outputs[i].fd, .events = POLLIN };
	pfds[n++] = (struct pollfd){ .fd = r->signal_fd, .events = POLLIN };
	if (r->feed && raw_feed_events(r->feed)) {
		*feed_at = (int)n;
		pfds[n++] = (struct pollfd){ .fd = raw_feed_fd(r->feed),
		                             .events = raw_feed_events(r->feed) };
	}
	if (r->agent) {
		*agent_at = (int)n;
		pfds[n++] = (struct pollfd){ .fd = agent_follow_fd(r->agent), .events = POLLIN };
	}
	return n;
}

/* Keep what the agent's subscription brought; a lost one is forgotten
 * (the diagnoses are still read from the daemon at the end). */
static void read_agent(struct run *r)
{
	if (agent_follow_read(r->agent) < 0) {
		agent_follow_free(r->agent);
		r->agent = NULL;
	}
}

static int run_loop(struct run *r)
{
	struct pollfd pfds[SPAWN_MAX_OUTPUTS + 3];
	size_t nout = r->child.noutputs, i;
	int feed_at, agent_at;
	nfds_t n;

	for (;;) {
		if (!r->report_deadline && output_ended(r))
			begin_report_wait(r);
		if (finished(r))
			return 0;
		n = fill_pollfds(r, pfds, &feed_at, &agent_at);
		if (poll(pfds, n, poll_timeout(r)) < 0 && errno != EINTR)
			return -errno;
		for (i = 0; i < nout; i++)
			if (pfds[i].fd >= 0 && pfds[i].revents)
				pass_output(r, i);
		if (pfds[nout].revents)
			take_signals(r);
		if (feed_at >= 0 && pfds[feed_at].revents)
			raw_feed_handle(r->feed, pfds[feed_at].revents);
		if (agent_at >= 0 && pfds[agent_at].revents)
			read_agent(r);
	}
}

/* After the report: the agent's diagnoses of the run's incidents, streamed
 * on stderr until they end, --agent-wait seconds pass or Ctrl-C (read from
 * the signalfd: it stops the wait, the diagnosis goes on in the daemon). */
static void follow_agent(struct run *r, const struct run_options *o,
                         struct agent_view_stream *view)
{
	long long deadline = now_ms() + o->agent_wait * 1000;
	struct pollfd pfds[2];
	json_int_t pending;
	long long left;

	if (!r->agent || !raw_feed_done(r->feed) || o->agent_wait <= 0 ||
	    agent_follow_select(r->agent, raw_feed_incidents(r->feed)) == 0)
		return;
	for (;;) {
		agent_follow_print(r->agent, view);
		if (!agent_follow_pending(r->agent) || r->interrupted)
			break;
		left = deadline - now_ms();
		if (left <= 0)
			break;
		pfds[0] = (struct pollfd){ .fd = r->signal_fd, .events = POLLIN };
		pfds[1] = (struct pollfd){ .fd = agent_follow_fd(r->agent), .events = POLLIN };
		if (poll(pfds, 2, (int)left) < 0 && errno != EINTR)
			break;
		if (pfds[0].revents)
			take_signals(r);
		if (pfds[1].revents)
			read_agent(r);
		if (!r->agent)
			return;
	}
	pending = agent_follow_pending_incident(r->agent);
	if (!pending)
		return;
	agent_view_end_line(view);
	if (r->interrupted)
		doctor_msg("stopped waiting; the diagnosis goes on in the daemon: doctor show %"
		           JSON_INTEGER_FORMAT, pending);
	else
		doctor_msg("the diagnosis is still running after %ld s; it goes on in the daemon: "
		           "doctor show %" JSON_INTEGER_FORMAT, o->agent_wait, pending);
}

/* ---- the daemon */

/* Connect before the command starts, so the warning comes first. */
static struct rpc_client *connect_daemon(const struct doctor_globals *g)
{
	struct rpc_client *rpc;
	int rc;

	rc = rpc_client_connect(g->socket_path, &rpc);
	if (rc == -ENOENT || rc == -ECONNREFUSED || rc == -ENOTDIR)
		doctor_msg("the daemon is not running (no socket at %s); the output is "
		           "not recorded. Start it with: doctord", g->socket_path);
	else if (rc < 0)
		doctor_msg("cannot connect to the daemon at %s (%s); the output is not "
		           "recorded", g->socket_path, strerror(-rc));
	else
		rpc_client_set_timeout(rpc, g->timeout_ms);
	return rc < 0 ? NULL : rpc;
}

/* If the command is a Python interpreter (python, python3, python3.11, a
 * venv's bin/python), its absolute path: plugins then install into that
 * interpreter and no other. Newly allocated or NULL. */
static char *python_of(const char *arg0)
{
	const char *base = strrchr(arg0, '/') ? strrchr(arg0, '/') + 1 : arg0;
	const char *path = getenv("PATH");
	char *candidate = NULL;

	if (strncmp(base, "python", 6) != 0 || strspn(base + 6, "0123456789.") != strlen(base + 6))
		return NULL;
	if (strchr(arg0, '/'))
		return args_absolute_path_here(arg0, &candidate) == 0 ? candidate : NULL;
	while (path && *path) {
		size_t n = strcspn(path, ":");
		if (n > 0 && asprintf(&candidate, "%.*s/%s", (int)n, path, arg0) >= 0) {
			if (access(candidate, X_OK) == 0)
				return candidate;
			free(candidate);
			candidate = NULL;
		}
		path += n + (path[n] == ':');
	}
	return NULL;
}

/* The source's context: {cwd, argv, pid, python?}. New reference, NULL if
 * out of memory. */
static json_t *command_context(char **argv, pid_t pid)
{
	json_t *context, *args;
	char *cwd = getcwd(NULL, 0), *python;
	size_t i;

	args = json_array();
	for (i = 0; args && argv[i]; i++)
		json_array_append_new(args, json_string(argv[i]));
	context = json_pack("{s:o?, s:I}", "argv", args, "pid", (json_int_t)pid);
	if (context && cwd)
		json_object_set_new(context, "cwd", json_string(cwd));
	python = python_of(argv[0]);
	if (context && python)
		json_object_set_new(context, "python", json_string(python));
	free(python);
	free(cwd);
	return context;
}

/* Open the raw source on rpc (stolen) for the started command. */
static void open_feed(struct run *r, struct rpc_client *rpc, const struct run_options *o)
{
	char *command_line = format_command_line(o->argv);
	json_t *context = command_context(o->argv, r->child.pid);
	int rc;

	if (!command_line || !context) {
		json_decref(context);
		rpc_client_free(rpc);
		doctor_msg("out of memory; the output is not recorded");
	} else {
		rc = raw_feed_open(rpc, "command", o->name ? o->name : command_line,
		                   context, RAW_FEED_DEFAULT_LIMIT, &r->feed);
		if (rc < 0)
			doctor_msg("cannot open a source in the daemon (%s); the output is "
			           "not recorded", strerror(-rc));
	}
	free(command_line);
}

/* The diagnoses of the run's incidents, and on a terminal a y/N question
 * for each proposed remedy: yes runs it through the daemon (remedy.confirm),
 * streaming its output. Nothing runs without that answer. */
static volatile sig_atomic_t prompt_interrupted;

static void on_prompt_interrupt(int signo)
{
	prompt_interrupted = 1;
}

static void propose(const struct doctor_globals *g, json_t *incidents,
                    const struct agent_follow *agent)
{
	/* no SA_RESTART: Ctrl-C ends the read of an answer as a no */
	struct sigaction act = { .sa_handler = on_prompt_interrupt }, old;
	bool ask = isatty(STDIN_FILENO) && isatty(STDERR_FILENO);
	struct rpc_client *c = NULL;
	json_t *incident, *result, *diag, *remedy, *brief;
	json_int_t run;
	size_t i, j, k;
	char question[96];

	if (json_array_size(incidents) == 0 || rpc_client_connect(g->socket_path, &c) < 0)
		return;
	rpc_client_set_timeout(c, g->timeout_ms);
	sigaction(SIGINT, &act, &old);
	json_array_foreach(incidents, i, incident) {
		result = NULL;
		if (rpc_client_call(c, "incident.diagnosis", json_pack("{s:O}", "id",
		                    json_object_get(incident, "id")), &result, NULL) < 0)
			continue;
		json_array_foreach(json_object_get(result, "diagnoses"), j, diag) {
			fprintf(stderr, "doctor: #%" JSON_INTEGER_FORMAT " ",
			        json_integer_value(json_object_get(incident, "id")));
			/* an answer streamed above is not printed twice */
			run = json_integer_value(json_object_get(diag, "run"));
			brief = agent && run > 0 && agent_follow_streamed(agent, run) ?
			        json_deep_copy(diag) : NULL;
			if (brief)
				json_object_del(brief, "explanation");
			diagnosis_view_print(stderr, brief ? brief : diag, "");
			json_decref(brief);
			json_array_foreach(json_object_get(diag, "remedies"), k, remedy) {
				json_int_t id = json_integer_value(json_object_get(remedy, "id"));
				const char *state = json_string_value(json_object_get(remedy, "state"));
				if (!state || strcmp(state, "proposed") != 0)
					continue;
				snprintf(question, sizeof question, "doctor: run remedy #%" JSON_INTEGER_FORMAT "?", id);
				if (ask && !prompt_interrupted && diagnosis_view_ask(question))
					diagnosis_view_run_remedy(c, id, false, false);
				else
					doctor_msg("to run it%s: doctor confirm %" JSON_INTEGER_FORMAT,
					           ask ? " later" : "", id);
			}
		}
		json_decref(result);
	}
	sigaction(SIGINT, &old, NULL);
	rpc_client_free(c);
}

/* What the daemon found, on stderr, unless --quiet. */
static void report(const struct doctor_globals *g, const struct run *r, const struct run_options *o)
{
	size_t width = doctor_terminal_width(STDERR_FILENO), n, i;
	json_t *incidents, *incident;
	json_int_t count;
	char *headline, *fitted;

	if (!r->feed || o->quiet || r->interrupted)
		return;
	if (!raw_feed_done(r->feed)) {
		doctor_msg("the daemon did not report on this run within %d s; see "
		           "'doctor incidents'", REPORT_WAIT_MS / 1000);
		return;
	}
	incidents = raw_feed_incidents(r->feed);
	n = json_array_size(incidents);
	if (n == 0)
		return;
	doctor_msg("%zu error%s in this run:", n, n == 1 ? "" : "s");
	json_array_foreach(incidents, i, incident) {
		count = json_integer_value(json_object_get(incident, "count"));
		headline = incident_view_headline(incident);
		fitted = headline ? format_fit(headline, width > 40 ? width - 30 : 0) : NULL;
		if (count > 1)
			doctor_msg("  #%" JSON_INTEGER_FORMAT " %s (seen %" JSON_INTEGER_FORMAT
			           " times)", json_integer_value(json_object_get(incident, "id")),
			           fitted ? fitted : "?", count);
		else
			doctor_msg("  #%" JSON_INTEGER_FORMAT " %s",
			           json_integer_value(json_object_get(incident, "id")),
			           fitted ? fitted : "?");
		free(headline);
		free(fitted);
	}
	doctor_msg("details: doctor show %" JSON_INTEGER_FORMAT,
	           json_integer_value(json_object_get(json_array_get(incidents, 0), "id")));
}

/* ---- the subcommand */

static int exit_status_of(int wait_status)
{
	if (WIFEXITED(wait_status))
		return WEXITSTATUS(wait_status);
	if (WIFSIGNALED(wait_status))
		return 128 + WTERMSIG(wait_status);
	return DOCTOR_EXIT_ERROR;
}

/* A closed stdin, stdout or stderr would be taken by the first pipe. */
static void ensure_standard_fds(void)
{
	int fd;

	for (fd = 0; fd <= 2; fd++)
		if (fcntl(fd, F_GETFD) < 0 && errno == EBADF)
			open("/dev/null", O_RDWR);    /* lands on fd: the lowest free */
}

/* Returns -1 to go on, else an exit status. */
static int parse_options(int argc, char **argv, struct run_options *o)
{
	static const struct option options[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "agent-wait", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	/* '+': options end at the command, whose own options are its own */
	while ((opt = getopt_long(argc, argv, "+n:qh", options, NULL)) != -1) {
		switch (opt) {
		case 'n':
			o->name = optarg;
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'w':
			if (args_parse_long(optarg, 0, AGENT_WAIT_MAX, &o->agent_wait) < 0)
				return doctor_usage_error(&cmd_run_entry, "run: --agent-wait takes "
				                          "seconds from 0 to %d", AGENT_WAIT_MAX);
			break;
		case 'h':
			return doctor_command_help(&cmd_run_entry);
		default:
			return doctor_bad_option(&cmd_run_entry);
		}
	}
	if (optind >= argc)
		return doctor_usage_error(&cmd_run_entry, "run: no command given");
	o->argv = argv + optind;
	return -1;
}

/* The loop failed (poll itself): stop reading and wait for the command. */
static void abandon(struct run *r, int rc)
{
	size_t i;

	doctor_msg("waiting for the command failed: %s", strerror(-rc));
	for (i = 0; i < r->child.noutputs; i++)
		spawn_close_output(&r->child, i);
	if (!r->exited && waitpid(r->child.pid, &r->wait_status, 0) == r->child.pid)
		r->exited = true;
	raw_feed_free(r->feed);
	r->feed = NULL;
}

static int cmd_run(const struct doctor_globals *g, int argc, char **argv)
{
	struct run_options o = { .agent_wait = AGENT_WAIT_DEFAULT };
	struct run r = { .signal_fd = -1 };
	struct agent_view_stream view = { .out = stderr };
	struct rpc_client *rpc;
	int status, rc;

	status = parse_options(argc, argv, &o);
	if (status >= 0)
		return status;
	ensure_standard_fds();
	rpc = connect_daemon(g);
	/* subscribed before the command starts: no diagnosis of its errors
	 * can begin unseen */
	if (rpc && !o.quiet && o.agent_wait > 0 &&
	    agent_follow_open(g->socket_path, g->timeout_ms, &r.agent) < 0)
		r.agent = NULL;
	rc = signals_setup(&r);
	if (rc == 0)
		rc = spawn_start(&r.child, o.argv, &r.saved);
	if (rc < 0) {
		doctor_msg("cannot run %s: %s", o.argv[0], strerror(-rc));
		rpc_client_free(rpc);
		agent_follow_free(r.agent);
		signals_restore(&r);
		return 126;
	}
	if (rpc)
		open_feed(&r, rpc, &o);
	rc = run_loop(&r);
	if (rc < 0)
		abandon(&r, rc);
	report(g, &r, &o);
	if (r.feed && !o.quiet && !r.interrupted)
		follow_agent(&r, &o, &view);
	signals_restore(&r);
	/* after the signals are restored: Ctrl-C at a y/N question means no */
	if (r.feed && !o.quiet && !r.interrupted && raw_feed_done(r.feed))
		propose(g, raw_feed_incidents(r.feed), r.agent);
	agent_follow_free(r.agent);
	raw_feed_free(r.feed);
	return r.exited ? exit_status_of(r.wait_status) : DOCTOR_EXIT_ERROR;
}

const struct doctor_command cmd_run_entry = {
	.name = "run",
	.summary = "run a command, passing its output through, and record its errors",
	.usage =
	"doctor run [--name NAME] [--quiet] [--agent-wait SECONDS] [--] COMMAND [ARGS...]\n"
	"\n"
	"Run COMMAND (no shell) with its output passed through unchanged and\n"
	"recorded by the daemon as a source of kind \"command\". The exit status\n"
	"is COMMAND's own (128+N if killed by signal N; 127 if it was not found,\n"
	"126 if it could not be run). When it ends, the errors the daemon found\n"
	"are listed on stderr. When the daemon's agent (an LLM) diagnoses one,\n"
	"its answer is streamed there as it is written, until it ends (Ctrl-C\n"
	"stops waiting; the diagnosis goes on in the daemon: doctor show ID).\n"
	"Then the diagnoses and their remedies: on a terminal doctor asks\n"
	"\"run remedy #N? [y/N]\" for each, and nothing runs without a yes.\n"
	"Without a daemon the command still runs.\n"
	"\n"
	"Options:\n"
	"  -n, --name NAME  the source's name (default: the command line)\n"
	"  -q, --quiet      print nothing after the command: no errors, no\n"
	"                   diagnoses, no questions\n"
	"  --agent-wait S   follow the agent's diagnoses for at most S seconds\n"
	"                   (default 120; 0: do not wait for them)\n"
	"  -h, --help       show this help",
	.run = cmd_run,
};
