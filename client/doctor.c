/*
 * doctor.c - the doctor command: global options, the table of subcommands,
 * and dispatch to the one named (each lives in its own cmd_*.c file).
 *
 * doctor talks to the daemon doctord over its Unix socket (docs/protocol.md);
 * docs/cli.md and man/doctor.1 describe every subcommand and exit status.
 */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE     /* asprintf */
#endif
#include <errno.h>
#include <getopt.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "doctor.h"
#include "paths.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0.1.0"
#endif

static const struct doctor_command *const commands[] = {
	&cmd_status_entry,
	&cmd_incidents_entry,
	&cmd_show_entry,
	&cmd_watch_entry,
	&cmd_send_entry,
	&cmd_run_entry,
	&cmd_watch_file_entry,
	&cmd_unwatch_file_entry,
	&cmd_confirm_entry,
	&cmd_reject_entry,
	&cmd_undo_entry,
	&cmd_plugins_entry,
	&cmd_plugin_entry,
	&cmd_reload_entry,
	&cmd_index_entry,
	&cmd_search_entry,
	&cmd_eval_entry,
	&cmd_explain_entry,
	&cmd_stats_entry,
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void print_help(FILE *out)
{
	size_t i;

	fputs("usage: doctor [--socket PATH] [--timeout SECONDS] COMMAND [ARGS...]\n"
	      "       doctor help [COMMAND]\n"
	      "\n"
	      "Talk to doctord, the daemon that watches notebooks, commands and logs\n"
	      "for errors and keeps them as incidents.\n"
	      "\n"
	      "Commands:\n", out);
	for (i = 0; i < NCOMMANDS; i++)
		fprintf(out, "  %-12s  %s\n", commands[i]->name, commands[i]->summary);
	fputs("\n"
	      "Options:\n"
	      "  --socket PATH      the daemon's socket (default: $DOCTOR_SOCKET, else\n"
	      "                     $XDG_RUNTIME_DIR/doctor/doctord.sock)\n"
	      "  --timeout SECONDS  how long to wait for a reply (default 10)\n"
	      "  -h, --help         show this help\n"
	      "  -V, --version      show the version\n"
	      "\n"
	      "Exit status: 0 ok, 1 error (from the daemon or local), 2 usage,\n"
	      "3 daemon not running, connection lost or no answer in time.\n"
	      "'doctor help COMMAND' shows a command's options.\n", out);
}

static const struct doctor_command *find_command(const char *name)
{
	size_t i;

	for (i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i]->name, name) == 0)
			return commands[i];
	return NULL;
}

static int unknown_command(const char *name)
{
	doctor_msg("'%s' is not a doctor command. See 'doctor --help'.", name);
	return DOCTOR_EXIT_USAGE;
}

/* `doctor help [COMMAND]` */
static int help_command(int argc, char **argv)
{
	const struct doctor_command *cmd;

	if (argc < 2) {
		print_help(stdout);
		return DOCTOR_EXIT_OK;
	}
	cmd = find_command(argv[1]);
	if (!cmd)
		return unknown_command(argv[1]);
	doctor_print_usage(cmd, stdout);
	return DOCTOR_EXIT_OK;
}

/* Parse the options before the subcommand; returns -1 to go on, else an
 * exit status. */
static int parse_globals(int argc, char **argv, struct doctor_globals *g,
                         const char **socket_opt)
{
	static const struct option options[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	long seconds;
	int opt;

	while ((opt = getopt_long(argc, argv, "+hV", options, NULL)) != -1) {
		switch (opt) {
		case 's':
			*socket_opt = optarg;
			break;
		case 't':
			if (args_parse_long(optarg, 1, 86400, &seconds) < 0) {
				doctor_msg("--timeout: expected whole seconds from 1 to 86400, got '%s'",
				           optarg);
				return DOCTOR_EXIT_USAGE;
			}
			g->timeout_ms = (int)seconds * 1000;
			break;
		case 'h':
			print_help(stdout);
			return DOCTOR_EXIT_OK;
		case 'V':
			printf("doctor %s\n", PACKAGE_VERSION);
			return DOCTOR_EXIT_OK;
		default:
			fputs("Try 'doctor --help'.\n", stderr);
			return DOCTOR_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		print_help(stderr);
		return DOCTOR_EXIT_USAGE;
	}
	return -1;
}

/* Run cmd with argv[0] replaced by "doctor NAME" so that getopt's own
 * messages name the subcommand. */
static int run_command(const struct doctor_command *cmd, const struct doctor_globals *g,
                       int argc, char **argv)
{
	char *argv0;
	int status;

	if (asprintf(&argv0, "doctor %s", cmd->name) < 0) {
		doctor_msg("out of memory");
		return DOCTOR_EXIT_ERROR;
	}
	argv[0] = argv0;
	optind = 0;         /* getopt starts afresh for the subcommand */
	status = cmd->run(g, argc, argv);
	free(argv0);
	return status;
}

/* A full disk or a closed pipe must not pass silently as success. */
static int close_stdout(int status)
{
	if (fflush(stdout) == EOF || ferror(stdout)) {
		doctor_msg("cannot write to standard output: %s", strerror(errno));
		return status == DOCTOR_EXIT_OK ? DOCTOR_EXIT_ERROR : status;
	}
	return status;
}

int main(int argc, char **argv)
{
	struct doctor_globals g = { .timeout_ms = RPC_CLIENT_DEFAULT_TIMEOUT_MS };
	const struct doctor_command *cmd;
	const char *socket_opt = NULL;
	char *socket_path = NULL;
	int status;

	setlocale(LC_CTYPE, "");    /* terminal widths of non-ASCII text */
	argv[0] = (char *)"doctor"; /* getopt's messages name it so */
	status = parse_globals(argc, argv, &g, &socket_opt);
	if (status >= 0)
		return close_stdout(status);
	argc -= optind;
	argv += optind;
	if (strcmp(argv[0], "help") == 0)
		return close_stdout(help_command(argc, argv));
	cmd = find_command(argv[0]);
	if (!cmd)
		return unknown_command(argv[0]);
	socket_path = socket_opt ? strdup(socket_opt) : paths_socket();
	if (!socket_path) {
		doctor_msg("out of memory");
		return DOCTOR_EXIT_ERROR;
	}
	g.socket_path = socket_path;
	status = run_command(cmd, &g, argc, argv);
	free(socket_path);
	return close_stdout(status);
}
