/*
 * cmd_remedy.c - `doctor confirm ID [--dry-run]`, `doctor reject ID` and
 * `doctor undo ID`: act on a remedy the daemon proposed. Nothing runs
 * without `confirm` naming the remedy; its output streams here as it runs.
 */
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "diagnosis_view.h"
#include "doctor.h"

struct remedy_options {
	bool dry_run, as_json, quiet;
	long id;
};

static int parse(const struct doctor_command *cmd, int argc, char **argv, struct remedy_options *o)
{
	static const struct option options[] = {
		{ "dry-run", no_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	while ((opt = getopt_long(argc, argv, "nqh", options, NULL)) != -1) {
		if (opt == 'n' && cmd == &cmd_confirm_entry)
			o->dry_run = true;
		else if (opt == 'j')
			o->as_json = true;
		else if (opt == 'q')
			o->quiet = true;
		else if (opt == 'h')
			return doctor_command_help(cmd);
		else
			return doctor_bad_option(cmd);
	}
	if (argc - optind != 1)
		return doctor_usage_error(cmd, "%s: expected one remedy ID", cmd->name);
	if (args_parse_long(argv[optind], 1, LONG_MAX, &o->id) < 0)
		return doctor_usage_error(cmd, "%s: '%s' is not a remedy ID (a number)", cmd->name,
		                          argv[optind]);
	return -1;
}

/* The dry run: what would run, nothing run. */
static int dry_run(struct rpc_client *c, const struct remedy_options *o)
{
	json_t *result = NULL;
	int rc = doctor_call(c, "remedy.confirm",
	                     json_pack("{s:I, s:b}", "id", (json_int_t)o->id, "dry_run", 1), &result);

	if (rc == 0 && o->as_json) {
		rc = doctor_print_json(result);
	} else if (rc == 0) {
		printf("dry run: nothing was run. Confirming would run:\n");
		diagnosis_view_remedy(stdout, json_object_get(result, "remedy"), "  ");
	}
	json_decref(result);
	return doctor_exit_status(rc);
}

/* confirm and undo stream; reject only answers. */
static int act(const struct doctor_globals *g, const struct doctor_command *cmd,
               int argc, char **argv)
{
	struct remedy_options o = { 0 };
	struct rpc_client *c = NULL;
	json_t *result = NULL;
	int status = parse(cmd, argc, argv, &o), rc;

	if (status >= 0)
		return status;
	if (doctor_connect(g, &c) < 0)
		return DOCTOR_EXIT_NO_DAEMON;
	if (o.dry_run) {
		status = dry_run(c, &o);
	} else if (cmd == &cmd_reject_entry) {
		rc = doctor_call(c, "remedy.reject", json_pack("{s:I}", "id", (json_int_t)o.id), &result);
		if (rc == 0 && o.as_json)
			rc = doctor_print_json(result);
		else if (rc == 0)
			printf("remedy #%ld rejected\n", o.id);
		json_decref(result);
		status = doctor_exit_status(rc);
	} else {
		rc = diagnosis_view_run_remedy(c, o.id, cmd == &cmd_undo_entry, o.quiet);
		status = rc < 0 ? doctor_exit_status(rc) : rc;
	}
	rpc_client_free(c);
	return status;
}

static int cmd_confirm(const struct doctor_globals *g, int argc, char **argv)
{
	return act(g, &cmd_confirm_entry, argc, argv);
}

static int cmd_reject(const struct doctor_globals *g, int argc, char **argv)
{
	return act(g, &cmd_reject_entry, argc, argv);
}

static int cmd_undo(const struct doctor_globals *g, int argc, char **argv)
{
	return act(g, &cmd_undo_entry, argc, argv);
}

const struct doctor_command cmd_confirm_entry = {
	.name = "confirm",
	.summary = "run a proposed remedy (nothing runs without this)",
	.usage = "doctor confirm [--dry-run] [--quiet] [--json] ID\n"
	         "  Run remedy ID exactly as proposed (its argv, no shell), stream its\n"
	         "  output, then its verify step. Exit 0 if it succeeded.\n"
	         "  --dry-run  show what would run; run nothing\n"
	         "  --quiet    do not show the remedy's output\n"
	         "  --json     with --dry-run: the daemon's answer as JSON",
	.run = cmd_confirm,
};

const struct doctor_command cmd_reject_entry = {
	.name = "reject",
	.summary = "turn down a proposed remedy",
	.usage = "doctor reject [--json] ID\n"
	         "  Mark remedy ID rejected; it can no longer be confirmed.",
	.run = cmd_reject,
};

const struct doctor_command cmd_undo_entry = {
	.name = "undo",
	.summary = "reverse a remedy that ran (e.g. uninstall what a pip install added)",
	.usage = "doctor undo [--quiet] ID\n"
	         "  Run the undo the daemon recorded for remedy ID (for a pip install:\n"
	         "  uninstall exactly the distributions it added), streaming its output.",
	.run = cmd_undo,
};
