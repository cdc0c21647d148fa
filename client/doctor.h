/*
 * doctor.h - what the files of the doctor command share: exit statuses, the
 * subcommand table's entry (one file per subcommand, collected in doctor.c
 * like tmux's command table), messages, and connecting to the daemon.
 */
#ifndef DOCTOR_CLIENT_H
#define DOCTOR_CLIENT_H

#include <stdbool.h>
#include <stdio.h>
#include <jansson.h>

#include "rpc_client.h"

/* The command's exit statuses (docs/cli.md). A wrapped command's own
 * status replaces them in `doctor run`. */
enum doctor_exit {
	DOCTOR_EXIT_OK = 0,
	DOCTOR_EXIT_ERROR = 1,      /* the daemon answered with an error, or a
	                               local failure */
	DOCTOR_EXIT_USAGE = 2,      /* bad command line */
	DOCTOR_EXIT_NO_DAEMON = 3,  /* not running, unreachable, connection
	                               lost, or no answer in time */
};

/* Options given before the subcommand. */
struct doctor_globals {
	const char *socket_path;    /* borrowed; never NULL */
	int timeout_ms;             /* for replies */
};

/* One subcommand. */
struct doctor_command {
	const char *name;
	const char *summary;        /* one line for `doctor --help` */
	const char *usage;          /* synopsis and options, for `doctor help NAME`
	                               and `doctor NAME --help` */
	/* Runs it; argv[0] is "doctor NAME", options are parsed with
	 * getopt_long. Returns the process's exit status. */
	int (*run)(const struct doctor_globals *g, int argc, char **argv);
};

extern const struct doctor_command cmd_status_entry;
extern const struct doctor_command cmd_incidents_entry;
extern const struct doctor_command cmd_show_entry;
extern const struct doctor_command cmd_watch_entry;
extern const struct doctor_command cmd_send_entry;
extern const struct doctor_command cmd_run_entry;
extern const struct doctor_command cmd_watch_file_entry;
extern const struct doctor_command cmd_unwatch_file_entry;
extern const struct doctor_command cmd_confirm_entry;
extern const struct doctor_command cmd_reject_entry;
extern const struct doctor_command cmd_undo_entry;
extern const struct doctor_command cmd_plugins_entry;
extern const struct doctor_command cmd_plugin_entry;
extern const struct doctor_command cmd_reload_entry;
extern const struct doctor_command cmd_index_entry;
extern const struct doctor_command cmd_search_entry;
extern const struct doctor_command cmd_eval_entry;
extern const struct doctor_command cmd_explain_entry;
extern const struct doctor_command cmd_stats_entry;

/* ---- output.c: what the user sees */

/* "doctor: " fmt "\n" on stderr. */
__attribute__((format(printf, 1, 2)))
void doctor_msg(const char *fmt, ...);

/* The message, then a hint to `doctor help NAME`; returns DOCTOR_EXIT_USAGE. */
__attribute__((format(printf, 2, 3)))
int doctor_usage_error(const struct doctor_command *cmd, const char *fmt, ...);

/* What getopt_long's '?' means: it has printed why; add the hint. */
int doctor_bad_option(const struct doctor_command *cmd);

void doctor_print_usage(const struct doctor_command *cmd, FILE *out);

/* For --help: the usage on stdout; returns DOCTOR_EXIT_OK. */
int doctor_command_help(const struct doctor_command *cmd);

/* Options of a command that takes only --json and --help: returns -1 to go
 * on (*as_json set, optind at the first operand), or the exit status to
 * return at once. */
int doctor_parse_json_option(const struct doctor_command *cmd, int argc, char **argv,
                             bool *as_json);

/* "label       value" on stdout, value made one line without control
 * characters. */
void doctor_print_field(const char *label, const char *value);

/* value as indented JSON and a newline on stdout (borrowed). 0 or -EIO. */
int doctor_print_json(const json_t *value);

/* Columns of the terminal on fd, 0 if fd is not a terminal (no limit). */
size_t doctor_terminal_width(int fd);

/* ---- session.c: talking to the daemon */

/* Connect to g->socket_path with g's timeout. On failure a message has
 * been printed (with how to start the daemon when none runs) and the
 * command should exit with DOCTOR_EXIT_NO_DAEMON. 0 or a negative errno. */
int doctor_connect(const struct doctor_globals *g, struct rpc_client **out);

/* rpc_client_call() that prints what went wrong; *result is a new
 * reference on success. 0 or a negative errno for doctor_exit_status(). */
int doctor_call(struct rpc_client *c, const char *method, json_t *params,
                json_t **result);

/* One message for a failed exchange (err is read for -EREMOTEIO). */
void doctor_report_failure(const struct rpc_client *c, int rc,
                           const struct rpc_error *err);

/* The exit status for an error of rpc_client or doctor_call. */
int doctor_exit_status(int rc);

#endif
