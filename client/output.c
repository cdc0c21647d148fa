/*
 * output.c - what the doctor command shows the user outside of a
 * subcommand's own data: "doctor: " messages on stderr, usage texts, JSON
 * documents on stdout, and the terminal's width for tables.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "doctor.h"
#include "format.h"

void doctor_msg(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);                 /* keep order when both go to one file */
	fputs("doctor: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int doctor_usage_error(const struct doctor_command *cmd, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("doctor: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return doctor_bad_option(cmd);
}

int doctor_bad_option(const struct doctor_command *cmd)
{
	fprintf(stderr, "Try 'doctor help %s'.\n", cmd->name);
	return DOCTOR_EXIT_USAGE;
}

int doctor_parse_json_option(const struct doctor_command *cmd, int argc, char **argv,
                             bool *as_json)
{
	static const struct option options[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		if (opt == 'j')
			*as_json = true;
		else if (opt == 'h')
			return doctor_command_help(cmd);
		else
			return doctor_bad_option(cmd);
	}
	return -1;
}

void doctor_print_usage(const struct doctor_command *cmd, FILE *out)
{
	fprintf(out, "usage: %s\n", cmd->usage);
}

int doctor_command_help(const struct doctor_command *cmd)
{
	doctor_print_usage(cmd, stdout);
	return DOCTOR_EXIT_OK;
}

void doctor_print_field(const char *label, const char *value)
{
	char *safe = format_fit(value, 0);

	printf("%-12s %s\n", label, safe ? safe : "?");
	free(safe);
}

int doctor_print_json(const json_t *value)
{
	if (json_dumpf(value, stdout, JSON_INDENT(2)) < 0 || putchar('\n') == EOF
	    || fflush(stdout) == EOF)
		return -EIO;
	return 0;
}

size_t doctor_terminal_width(int fd)
{
	struct winsize ws;

	if (!isatty(fd) || ioctl(fd, TIOCGWINSZ, &ws) < 0 || ws.ws_col == 0)
		return 0;
	return ws.ws_col;
}
