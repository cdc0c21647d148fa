/*
 * cmd_stats.c - `doctor stats [--days N] [--json]`: what the agent's LLM
 * diagnoses cost, per UTC day and model (runs, answers from the cache,
 * tokens in and out, US dollars), and the totals, from agent.stats.
 */
#include <errno.h>
#include <stdio.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "args.h"
#include "doctor.h"
#include "format.h"
#include "trace_view.h"

#define MODEL_COLUMN_MAX 32    /* columns a model's name may take */
#define NCOLUMNS 7

struct stats_options {
	bool as_json;
	long days;                  /* 0: the daemon's default */
};

/* One line of the table: its cells, owned. */
struct stats_row {
	char *cell[NCOLUMNS];
};

/* Columns after the first two are numbers: right-aligned. */
static const char *const headers[NCOLUMNS] = {
	"DAY", "MODEL", "RUNS", "CACHED", "TOKENS IN", "TOKENS OUT", "COST"
};

/* Returns -1 to go on, else an exit status. */
static int parse_options(int argc, char **argv, struct stats_options *o)
{
	static const struct option options[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "days", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	while ((opt = getopt_long(argc, argv, "d:h", options, NULL)) != -1) {
		switch (opt) {
		case 'j':
			o->as_json = true;
			break;
		case 'd':
			if (args_parse_long(optarg, 1, 3650, &o->days) < 0)
				return doctor_usage_error(&cmd_stats_entry,
				        "--days: expected a number from 1 to 3650, got '%s'", optarg);
			break;
		case 'h':
			return doctor_command_help(&cmd_stats_entry);
		default:
			return doctor_bad_option(&cmd_stats_entry);
		}
	}
	if (optind < argc)
		return doctor_usage_error(&cmd_stats_entry,
		                          "stats: unexpected argument '%s'", argv[optind]);
	return -1;
}

static char *count_cell(const json_t *obj, const char *key)
{
	char buf[32];

	trace_view_count(json_integer_value(json_object_get(obj, key)), buf, sizeof(buf));
	return strdup(buf);
}

/* The cells of a day's row, or of the totals (day "total", no model). */
static int row_fill(struct stats_row *r, const json_t *row, const char *day,
                    const char *model)
{
	double usd = json_number_value(json_object_get(row, "cost_usd"));
	char cost[48];
	int i;

	/* six decimals always: the column's points line up */
	snprintf(cost, sizeof(cost), "$%.6f", usd >= 0 && usd < 1e15 ? usd : 0);
	r->cell[0] = format_fit(day, 0);
	r->cell[1] = format_fit(model, MODEL_COLUMN_MAX);
	r->cell[2] = count_cell(row, "runs");
	r->cell[3] = count_cell(row, "cached");
	r->cell[4] = count_cell(row, "prompt_tokens");
	r->cell[5] = count_cell(row, "completion_tokens");
	r->cell[6] = strdup(cost);
	for (i = 0; i < NCOLUMNS; i++)
		if (!r->cell[i])
			return -ENOMEM;
	return 0;
}

static void put_row(const char *const *cell, const size_t *width)
{
	size_t w;
	int i;

	for (i = 0; i < NCOLUMNS; i++) {
		w = format_display_width(cell[i]);
		if (i >= 2)
			printf("%*s", (int)(width[i] - w), "");
		fputs(cell[i], stdout);
		if (i < 2)
			printf("%*s", (int)(width[i] - w), "");
		fputs(i + 1 < NCOLUMNS ? "  " : "\n", stdout);
	}
}

/* "since 2025-10-28 (UTC)": the first day counted. */
static void put_title(const json_t *result, long days)
{
	time_t since = (time_t)json_number_value(json_object_get(result, "since"));
	char day[16];
	struct tm tm;

	if (!gmtime_r(&since, &tm) || !strftime(day, sizeof(day), "%Y-%m-%d", &tm))
		snprintf(day, sizeof(day), "?");
	printf("Agent runs since %s (UTC), the last %ld day%s:\n", day, days,
	       days == 1 ? "" : "s");
}

static int print_table(const json_t *result, long days)
{
	const json_t *list = json_object_get(result, "days"), *row;
	size_t n = json_array_size(list), i, width[NCOLUMNS];
	struct stats_row *rows = calloc(n + 1, sizeof(*rows));
	int rc = 0, col;

	if (!rows)
		return -ENOMEM;
	json_array_foreach(list, i, row) {
		if ((rc = row_fill(&rows[i], row, json_string_value(json_object_get(row, "day")) ?: "?",
		                   json_string_value(json_object_get(row, "model")) ?: "?")) < 0)
			goto out;
	}
	if ((rc = row_fill(&rows[n], json_object_get(result, "total"), "total", "")) < 0)
		goto out;
	for (col = 0; col < NCOLUMNS; col++) {
		width[col] = strlen(headers[col]);
		for (i = 0; i <= n; i++)
			if (format_display_width(rows[i].cell[col]) > width[col])
				width[col] = format_display_width(rows[i].cell[col]);
	}
	put_title(result, days);
	put_row(headers, width);
	for (i = 0; i <= n; i++)
		put_row((const char *const *)rows[i].cell, width);
out:
	for (i = 0; i <= n; i++)
		for (col = 0; col < NCOLUMNS; col++)
			free(rows[i].cell[col]);
	free(rows);
	return rc;
}

static int print_stats(const json_t *result, const struct stats_options *o)
{
	long days = o->days > 0 ? o->days : 30;     /* the daemon's default */

	if (o->as_json)
		return doctor_print_json(result);
	if (json_array_size(json_object_get(result, "days")) == 0) {
		printf("no agent runs in the last %ld day%s\n", days, days == 1 ? "" : "s");
		return 0;
	}
	return print_table(result, days);
}

static int cmd_stats(const struct doctor_globals *g, int argc, char **argv)
{
	struct stats_options o = { 0 };
	struct rpc_client *c = NULL;
	json_t *result = NULL, *params;
	int status, rc;

	status = parse_options(argc, argv, &o);
	if (status >= 0)
		return status;
	if (doctor_connect(g, &c) < 0)
		return DOCTOR_EXIT_NO_DAEMON;
	params = o.days > 0 ? json_pack("{s:i}", "days", (int)o.days) : json_object();
	rc = doctor_call(c, "agent.stats", params, &result);
	if (rc == 0 && !json_is_array(json_object_get(result, "days"))) {
		rc = -EBADMSG;
		doctor_report_failure(c, rc, NULL);
	}
	if (rc == 0)
		rc = print_stats(result, &o);
	json_decref(result);
	rpc_client_free(c);
	return doctor_exit_status(rc);
}

const struct doctor_command cmd_stats_entry = {
	.name = "stats",
	.summary = "tokens and cost of the agent's LLM diagnoses, per day and model",
	.usage =
	"doctor stats [--days N] [--json]\n"
	"\n"
	"Sum the agent's runs (LLM diagnoses) per UTC day and model: RUNS,\n"
	"CACHED (answered from the cache of earlier diagnoses, at no cost),\n"
	"TOKENS IN (prompt), TOKENS OUT (completion) and COST in US dollars,\n"
	"then the totals. A run counts on the day it started.\n"
	"\n"
	"Options:\n"
	"  -d, --days N  today and the N-1 days before it (1 to 3650; default 30)\n"
	"  --json        print the daemon's result: {since, days: [...], total}\n"
	"  -h, --help    show this help",
	.run = cmd_stats,
};
