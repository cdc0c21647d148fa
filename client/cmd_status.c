/*
 * cmd_status.c - `doctor status [--json]`: what the daemon is doing: its
 * version, pid, uptime, where it keeps things, its connections, open
 * sources, followed files, how many incidents it holds and what its
 * documentation index holds.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdlib.h>

#include "doctor.h"
#include "format.h"

static const char *text_of(const json_t *obj, const char *key)
{
	const char *text = json_string_value(json_object_get(obj, key));

	return text ? text : "-";
}

static json_int_t int_of(const json_t *obj, const char *key)
{
	return json_integer_value(json_object_get(obj, key));
}

static void put_sources(const json_t *sources)
{
	const json_t *src;
	char size[32], *name;
	size_t i;

	printf("%-12s %zu open\n", "sources", json_array_size(sources));
	json_array_foreach(sources, i, src) {
		format_bytes(json_number_value(json_object_get(src, "bytes")), size, sizeof(size));
		name = format_fit(text_of(src, "name"), 0);
		printf("  #%" JSON_INTEGER_FORMAT "  %-8s  %s  (%" JSON_INTEGER_FORMAT
		       " lines, %s%s)\n", int_of(src, "id"), text_of(src, "kind"),
		       name ? name : "?", int_of(src, "lines"), size,
		       json_is_true(json_object_get(src, "raw")) ? ", raw" : "");
		free(name);
	}
}

static void put_watches(const json_t *watches)
{
	const json_t *w;
	char *path, *name;
	size_t i;

	printf("%-12s %zu\n", "watches", json_array_size(watches));
	json_array_foreach(watches, i, w) {
		path = format_fit(text_of(w, "path"), 0);
		name = format_fit(text_of(w, "name"), 0);
		printf("  %s  as %s", path ? path : "?", name ? name : "?");
		if (json_is_integer(json_object_get(w, "source")))
			printf(" (source #%" JSON_INTEGER_FORMAT ")", int_of(w, "source"));
		putchar('\n');
		free(path);
		free(name);
	}
}

/* The documentation index: "docs  3946 chunks of 533 files in 1 root
 * (/x/docs.db)", or that it is empty, and an indexing in progress. */
static void put_docs(const json_t *docs)
{
	const json_t *indexing = json_object_get(docs, "indexing");
	char *db = format_fit(text_of(docs, "database"), 0);

	if (!json_is_object(docs))
		goto out;
	if (!json_is_integer(json_object_get(docs, "files")))
		printf("%-12s %s\n", "docs", db ? db : "?");
	else if (int_of(docs, "files") == 0)
		printf("%-12s nothing indexed yet (%s)\n", "docs", db ? db : "?");
	else
		printf("%-12s %" JSON_INTEGER_FORMAT " chunks of %" JSON_INTEGER_FORMAT
		       " files in %" JSON_INTEGER_FORMAT " root%s, %" JSON_INTEGER_FORMAT
		       " with vectors (%s)\n", "docs", int_of(docs, "chunks"),
		       int_of(docs, "files"), int_of(docs, "roots"),
		       int_of(docs, "roots") == 1 ? "" : "s", int_of(docs, "vectors"),
		       db ? db : "?");
	if (json_is_object(indexing))
		printf("  indexing: %" JSON_INTEGER_FORMAT " of %" JSON_INTEGER_FORMAT " files\n",
		       int_of(indexing, "done"), int_of(indexing, "total"));
out:
	free(db);
}

/* The LLM agent: "agent  gpt-4o-mini at https://..., 1 diagnosis running,
 * $0.0123 of $2.00 today", or that none is configured or it is off. */
static void put_agent(const json_t *agent)
{
	char *url;

	if (!json_is_object(agent))
		return;
	if (!json_is_true(json_object_get(agent, "configured"))) {
		printf("%-12s no LLM configured (llm.base_url and llm.model)\n", "agent");
		return;
	}
	url = format_fit(text_of(agent, "base_url"), 0);
	printf("%-12s %s at %s%s%s\n", "agent", text_of(agent, "model"), url ? url : "?",
	       json_is_true(json_object_get(agent, "enabled")) ? "" : " (explain only: agent.enabled off)",
	       json_is_true(json_object_get(agent, "tools")) ? "" : ", JSON answers (llm.tools off)");
	printf("  %" JSON_INTEGER_FORMAT " diagnos%s running, $%.4f spent today",
	       int_of(agent, "in_flight"), int_of(agent, "in_flight") == 1 ? "is" : "es",
	       json_number_value(json_object_get(agent, "spent_today_usd")));
	if (json_is_true(json_object_get(agent, "priced")))
		printf(" of a daily budget of $%.2f\n",
		       json_number_value(json_object_get(agent, "budget_daily_usd")));
	else
		printf(" (no price for this model in llm.prices: budgets do not apply)\n");
	free(url);
}

static void print_status(const json_t *st)
{
	char uptime[32];

	format_duration(json_number_value(json_object_get(st, "uptime")), uptime,
	                sizeof(uptime));
	printf("doctord %s, protocol %" JSON_INTEGER_FORMAT ", pid %" JSON_INTEGER_FORMAT
	       ", up %s\n", text_of(st, "version"), int_of(st, "protocol"),
	       int_of(st, "pid"), uptime);
	doctor_print_field("socket", text_of(st, "socket"));
	doctor_print_field("data dir", text_of(st, "data_dir"));
	doctor_print_field("database", text_of(st, "database"));
	doctor_print_field("config", json_is_string(json_object_get(st, "config"))
	                    ? text_of(st, "config") : "(built-in defaults)");
	doctor_print_field("log level", text_of(st, "log_level"));
	printf("%-12s %" JSON_INTEGER_FORMAT " (%" JSON_INTEGER_FORMAT " subscribed)\n",
	       "connections", int_of(st, "connections"), int_of(st, "subscribers"));
	printf("%-12s %" JSON_INTEGER_FORMAT "\n", "incidents", int_of(st, "incidents"));
	put_sources(json_object_get(st, "sources"));
	put_watches(json_object_get(st, "watches"));
	put_docs(json_object_get(st, "docs"));
	put_agent(json_object_get(st, "agent"));
}

static int cmd_status(const struct doctor_globals *g, int argc, char **argv)
{
	struct rpc_client *c = NULL;
	json_t *status = NULL;
	bool as_json = false;
	int opt, rc;

	if ((opt = doctor_parse_json_option(&cmd_status_entry, argc, argv, &as_json)) >= 0)
		return opt;
	if (optind < argc)
		return doctor_usage_error(&cmd_status_entry, "status: unexpected argument '%s'",
		                          argv[optind]);
	if (doctor_connect(g, &c) < 0)
		return DOCTOR_EXIT_NO_DAEMON;
	rc = doctor_call(c, "status", NULL, &status);
	if (rc == 0 && as_json)
		rc = doctor_print_json(status);
	else if (rc == 0)
		print_status(status);
	json_decref(status);
	rpc_client_free(c);
	return doctor_exit_status(rc);
}

const struct doctor_command cmd_status_entry = {
	.name = "status",
	.summary = "show the daemon's state",
	.usage =
	"doctor status [--json]\n"
	"\n"
	"Show the daemon's version, pid, uptime, socket, data directory,\n"
	"database, connections, open sources, followed files, the number\n"
	"of incidents and the documentation index.\n"
	"\n"
	"Options:\n"
	"  --json      print the daemon's answer as JSON\n"
	"  -h, --help  show this help",
	.run = cmd_status,
};
