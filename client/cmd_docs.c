/*
 * cmd_docs.c - `doctor index` (have the daemon index documentation, with a
 * progress bar on a terminal) and `doctor search` (ask it for the chunks
 * that answer a question), over the methods docs.index and docs.search
 * (docs/protocol.md, docs/retrieval.md).
 *
 * Paths are made absolute here, against doctor's working directory, since
 * the daemon has its own. Indexing may take a while: doctor waits for the
 * reply as long as progress keeps coming (see index_wait). Interrupting it
 * does not stop the daemon, which finishes the indexing on its own.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE     /* asprintf */
#endif
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "doctor.h"
#include "format.h"
#include "protocol.h"

#define BAR_WIDTH 20
/* doctor index waits at least this long between two reports. */
#define INDEX_IDLE_MIN_MS (10 * 60 * 1000)
#define SNIPPET_LINES 3

/* ------------------------------------------------------------ index */

struct index_view {
	bool tty;                   /* stderr is a terminal: draw the bar */
	bool bar_shown;             /* a bar is on the current line */
	size_t done, total;
	char *path;                 /* the latest file, for redrawing; owned */
	char *const *roots;         /* the paths given, absolute; borrowed */
	size_t nroots;
	size_t warnings;
};

static volatile sig_atomic_t interrupted;

static void on_interrupt(int signo)
{
	interrupted = 1;
}

/* "…" where the locale can show it, as format_fit() does. */
static const char *ellipsis(void)
{
	return MB_CUR_MAX > 1 ? "\u2026" : "...";
}

/* path shown relative to the root it is under, if one of those given. */
static const char *shown_path(const struct index_view *v, const char *path)
{
	size_t i, len;

	for (i = 0; i < v->nroots; i++) {
		len = strlen(v->roots[i]);
		if (strncmp(path, v->roots[i], len) == 0 && path[len] == '/')
			return path + len + 1;
	}
	return path;
}

/* The end of text that fits in width columns, with "…" before it when
 * something was cut. Newly allocated. */
static char *fit_tail(const char *text, size_t width)
{
	char *whole = format_fit(text, 0), *out;
	const char *p;

	if (!whole || format_display_width(whole) <= width)
		return whole;
	for (p = whole; *p && format_display_width(p) + 1 > width; p++)
		while ((p[1] & 0xc0) == 0x80)
			p++;
	if (asprintf(&out, "%s%s", ellipsis(), p) < 0)
		out = NULL;
	free(whole);
	return out;
}

static void bar_erase(struct index_view *v)
{
	if (v->bar_shown)
		fputs("\r\033[K", stderr);
	v->bar_shown = false;
}

/* [#####.....] 123/538 ray-core/tasks.rst, redrawn in place. */
static void bar_draw(struct index_view *v)
{
	size_t width = doctor_terminal_width(STDERR_FILENO), filled, used;
	char counts[64], *path;
	int i;

	if (!v->tty)
		return;
	filled = v->total ? v->done * BAR_WIDTH / v->total : BAR_WIDTH;
	if (filled > BAR_WIDTH)
		filled = BAR_WIDTH;
	snprintf(counts, sizeof(counts), "%zu/%zu", v->done, v->total);
	fputs("\r[", stderr);
	for (i = 0; i < BAR_WIDTH; i++)
		fputc(i < (int)filled ? '#' : '.', stderr);
	fprintf(stderr, "] %s", counts);
	used = BAR_WIDTH + 3 + strlen(counts) + 1;
	if (v->path && (width == 0 || width > used + 4)) {
		path = fit_tail(shown_path(v, v->path), width ? width - used - 1 : 60);
		fprintf(stderr, " %s", path ? path : "");
		free(path);
	}
	fputs("\033[K", stderr);
	fflush(stderr);
	v->bar_shown = true;
}

static void on_index_note(const char *method, json_t *params, void *data)
{
	struct index_view *v = data;
	const char *path = json_string_value(json_object_get(params, "path"));
	const char *message = json_string_value(json_object_get(params, "message"));
	char *safe_path, *safe_message;

	if (strcmp(method, "docs.progress") == 0) {
		v->done = (size_t)json_integer_value(json_object_get(params, "done"));
		v->total = (size_t)json_integer_value(json_object_get(params, "total"));
		free(v->path);
		v->path = path ? strdup(path) : NULL;
		bar_draw(v);
	} else if (strcmp(method, "docs.warning") == 0) {
		v->warnings++;
		safe_path = format_fit(path ? shown_path(v, path) : "?", 0);
		safe_message = format_fit(message ? message : "", 0);
		bar_erase(v);
		doctor_msg("warning: %s: %s", safe_path ? safe_path : "?",
		           safe_message ? safe_message : "");
		free(safe_path);
		free(safe_message);
		if (v->done)
			bar_draw(v);
	}
}

/* Wait for the reply to id, handing notifications to the callback, for as
 * long as the daemon sends something at least every idle_ms. */
static int index_wait(struct rpc_client *c, json_int_t id, int idle_ms, json_t **result,
                      struct rpc_error *err)
{
	struct pollfd pfd = { .fd = rpc_client_fd(c), .events = POLLIN };
	bool eof = false;
	json_t *msg;
	int rc;

	for (;;) {
		while ((rc = rpc_client_next(c, &msg)) == 0 && msg) {
			if (rpc_client_dispatch(c, msg)) {
				json_decref(msg);
				continue;
			}
			rc = rpc_client_match_reply(msg, id, result, err);
			json_decref(msg);
			if (rc != -ESRCH)
				return rc;
		}
		if (rc < 0)
			return rc;
		if (eof)
			return -ECONNRESET;
		rc = poll(&pfd, 1, idle_ms);
		if (rc < 0 && errno == EINTR && !interrupted)
			continue;
		if (rc < 0)
			return -errno;
		if (rc == 0)
			return -ETIMEDOUT;
		rc = rpc_client_receive(c);
		if (rc == -ECONNRESET)
			eof = true;
		else if (rc < 0 && rc != -EAGAIN)
			return rc;
	}
}

struct index_options {
	const char *strategy;
	long max_chars, overlap;    /* -1: not given */
	bool as_json;
	char **paths;               /* absolute; owned */
	size_t npaths;
};

static int index_parse(int argc, char **argv, struct index_options *o)
{
	static const struct option options[] = {
		{ "strategy", required_argument, NULL, 's' },
		{ "max-chars", required_argument, NULL, 'm' },
		{ "overlap", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const struct doctor_command *cmd = &cmd_index_entry;
	int opt, rc, i;

	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (opt) {
		case 's':
			if (strcmp(optarg, "section") != 0 && strcmp(optarg, "paragraph") != 0)
				return doctor_usage_error(cmd, "--strategy: expected section or "
				                          "paragraph, got '%s'", optarg);
			o->strategy = optarg;
			break;
		case 'm':
			if (args_parse_long(optarg, 100, 100000, &o->max_chars) < 0)
				return doctor_usage_error(cmd, "--max-chars: expected a number "
				                          "from 100 to 100000, got '%s'", optarg);
			break;
		case 'o':
			if (args_parse_long(optarg, 0, 50000, &o->overlap) < 0)
				return doctor_usage_error(cmd, "--overlap: expected a number "
				                          "from 0 to 50000, got '%s'", optarg);
			break;
		case 'j':
			o->as_json = true;
			break;
		case 'h':
			return doctor_command_help(cmd);
		default:
			return doctor_bad_option(cmd);
		}
	}
	if (optind >= argc)
		return doctor_usage_error(cmd, "index: expected at least one PATH");
	o->paths = calloc((size_t)(argc - optind), sizeof(*o->paths));
	if (!o->paths) {
		doctor_msg("out of memory");
		return DOCTOR_EXIT_ERROR;
	}
	for (i = optind; i < argc; i++) {
		if (!*argv[i])
			return doctor_usage_error(cmd, "index: an empty PATH");
		rc = args_absolute_path_here(argv[i], &o->paths[o->npaths]);
		if (rc < 0) {
			doctor_msg("cannot make '%s' absolute: %s", argv[i], strerror(-rc));
			return DOCTOR_EXIT_ERROR;
		}
		o->npaths++;
	}
	return -1;
}

static json_t *index_params(const struct index_options *o)
{
	json_t *paths = json_array(), *chunk = json_object(), *params;
	size_t i;

	for (i = 0; paths && i < o->npaths; i++)
		json_array_append_new(paths, json_string(o->paths[i]));
	if (chunk && o->strategy)
		json_object_set_new(chunk, "strategy", json_string(o->strategy));
	if (chunk && o->max_chars >= 0)
		json_object_set_new(chunk, "max_chars", json_integer(o->max_chars));
	if (chunk && o->overlap >= 0)
		json_object_set_new(chunk, "overlap", json_integer(o->overlap));
	params = json_pack("{s:o}", "paths", paths);
	if (params && json_object_size(chunk))
		json_object_set(params, "chunk", chunk);
	json_decref(chunk);
	return params;
}

static json_int_t count_of(const json_t *obj, const char *key)
{
	return json_integer_value(json_object_get(obj, key));
}

static void print_summary(const json_t *r)
{
	printf("indexed %" JSON_INTEGER_FORMAT " files (%" JSON_INTEGER_FORMAT " unchanged, %"
	       JSON_INTEGER_FORMAT " removed, %" JSON_INTEGER_FORMAT " skipped), %"
	       JSON_INTEGER_FORMAT " chunks in %.1f s", count_of(r, "indexed"),
	       count_of(r, "unchanged"), count_of(r, "removed"), count_of(r, "skipped"),
	       count_of(r, "chunks"), json_number_value(json_object_get(r, "seconds")));
	if (count_of(r, "warnings"))
		printf(", %" JSON_INTEGER_FORMAT " warning%s", count_of(r, "warnings"),
		       count_of(r, "warnings") == 1 ? "" : "s");
	if (count_of(r, "embedded"))
		printf(", %" JSON_INTEGER_FORMAT " embedded", count_of(r, "embedded"));
	putchar('\n');
}

static int index_run(const struct doctor_globals *g, const struct index_options *o)
{
	struct index_view v = { .tty = isatty(STDERR_FILENO) == 1,
	                        .roots = o->paths, .nroots = o->npaths };
	struct sigaction action = { .sa_handler = on_interrupt }, saved;
	struct rpc_client *c = NULL;
	struct rpc_error err;
	json_t *result = NULL;
	json_int_t id;
	int rc;

	if (doctor_connect(g, &c) < 0)
		return DOCTOR_EXIT_NO_DAEMON;
	rpc_client_on_notify(c, on_index_note, &v);
	sigaction(SIGINT, &action, &saved);
	rc = rpc_client_send(c, "docs.index", index_params(o), &id);
	if (rc == 0)
		rc = index_wait(c, id, g->timeout_ms > INDEX_IDLE_MIN_MS ? g->timeout_ms
		                                                        : INDEX_IDLE_MIN_MS,
		                &result, &err);
	sigaction(SIGINT, &saved, NULL);
	bar_erase(&v);
	if (interrupted) {
		doctor_msg("interrupted; the daemon goes on indexing in the background");
		rc = 128 + SIGINT;
		goto out;
	}
	if (rc == 0 && !json_is_object(result))
		rc = -EBADMSG;
	if (rc < 0) {
		doctor_report_failure(c, rc, &err);
		rc = doctor_exit_status(rc);
		goto out;
	}
	if (o->as_json)
		rc = doctor_print_json(result) < 0 ? DOCTOR_EXIT_ERROR : DOCTOR_EXIT_OK;
	else
		print_summary(result);
out:
	free(v.path);
	json_decref(result);
	rpc_client_free(c);
	return rc;
}

static int cmd_index(const struct doctor_globals *g, int argc, char **argv)
{
	struct index_options o = { .max_chars = -1, .overlap = -1 };
	size_t i;
	int status;

	status = index_parse(argc, argv, &o);
	if (status < 0 && o.max_chars >= 0 && o.overlap >= o.max_chars)
		status = doctor_usage_error(&cmd_index_entry, "--overlap must be less than "
		                            "--max-chars");
	if (status < 0)
		status = index_run(g, &o);
	for (i = 0; i < o.npaths; i++)
		free(o.paths[i]);
	free(o.paths);
	return status;
}

const struct doctor_command cmd_index_entry = {
	.name = "index",
	.summary = "index documentation (Markdown, reST, HTML, notebooks, text) for search",
	.usage = "doctor index [--strategy section|paragraph] [--max-chars N] [--overlap N]\n"
	         "                    [--json] PATH...\n"
	         "  Have the daemon parse, chunk and index every documentation file under\n"
	         "  each PATH (a folder, or a file) into its index (docs.db in its data\n"
	         "  dir). Files unchanged since the last run are skipped; files gone from\n"
	         "  an indexed folder are removed. On a terminal a progress bar shows on\n"
	         "  stderr; warnings name the files skipped or indexed with a problem.\n"
	         "  --strategy     section: a chunk never crosses a section; paragraph:\n"
	         "                 each block is a unit (default: docs.chunk.strategy)\n"
	         "  --max-chars N  longest chunk in characters, 100 to 100000\n"
	         "  --overlap N    characters repeated when a unit is split, below N\n"
	         "  --json         print the daemon's figures as JSON",
	.run = cmd_index,
};

/* ------------------------------------------------------------ search */

/* text's words, wrapped to width columns, at most SNIPPET_LINES lines,
 * each printed after indent; "…" ends the last if text goes on. */
static void print_snippet(const char *text, size_t width, const char *indent)
{
	char *flat = format_fit(text, 0), *p, *word, *line = NULL;
	size_t lines = 0, used = 0, len = 0, wlen;
	bool more = false;

	if (!flat)
		return;
	line = calloc(1, strlen(flat) + 4);
	for (p = flat; line && (word = strsep(&p, " ")); ) {
		if (!*word)
			continue;
		wlen = format_display_width(word);
		if (used && used + 1 + wlen > width) {
			if (++lines == SNIPPET_LINES) {
				more = true;
				break;
			}
			printf("%s%s\n", indent, line);
			used = len = 0;
		}
		if (used) {
			line[len++] = ' ';
			used++;
		}
		memcpy(line + len, word, strlen(word));
		len += strlen(word);
		line[len] = '\0';
		used += wlen;
	}
	if (line && len) {
		char *cut = format_fit(line, width);
		printf("%s%s%s%s\n", indent, cut ? cut : line,
		       more && cut && format_display_width(cut) < width ? " " : "",
		       more && cut && format_display_width(cut) < width ? ellipsis() : "");
		free(cut);
	}
	free(line);
	free(flat);
}

static const char *text_of(const json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return s ? s : "";
}

static void print_hit(size_t rank, const json_t *hit, size_t width)
{
	const char *anchor = text_of(hit, "anchor"), *section = text_of(hit, "section");
	const char *title = text_of(hit, "title");
	char *where, *heading;

	if (asprintf(&where, "%s%s%s", text_of(hit, "page"), *anchor ? "#" : "", anchor) < 0)
		return;
	heading = format_fit(*section ? section : title, width ? width - 4 : 0);
	printf("%2zu  %8.4g  %s\n", rank, json_number_value(json_object_get(hit, "score")),
	       where);
	if (*section && *title && !strstr(section, title))
		printf("    %s: %s\n", title, heading ? heading : "");
	else
		printf("    %s\n", heading ? heading : "");
	print_snippet(text_of(hit, "text"), (width ? width : 100) - 4, "    ");
	free(heading);
	free(where);
}

static void print_hits(const json_t *result)
{
	const json_t *hits = json_object_get(result, "hits"), *hit;
	size_t width = doctor_terminal_width(STDOUT_FILENO), i;

	if (width && width < 40)
		width = 40;
	if (json_array_size(hits) == 0) {
		printf("no results\n");
		return;
	}
	json_array_foreach(hits, i, hit) {
		if (i)
			putchar('\n');
		print_hit(i + 1, hit, width);
	}
}

/* The words of argv[first..argc) joined by spaces. Newly allocated. */
static char *join_words(int argc, char **argv, int first)
{
	size_t len = 1;
	char *out;
	int i;

	for (i = first; i < argc; i++)
		len += strlen(argv[i]) + 1;
	out = calloc(1, len);
	for (i = first; out && i < argc; i++) {
		if (i > first)
			strcat(out, " ");
		strcat(out, argv[i]);
	}
	return out;
}

static int cmd_search(const struct doctor_globals *g, int argc, char **argv)
{
	static const struct option options[] = {
		{ "k", required_argument, NULL, 'k' },
		{ "json", no_argument, NULL, 'j' },
		{ "lexical", no_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const struct doctor_command *cmd = &cmd_search_entry;
	struct rpc_client *c = NULL;
	json_t *params, *result = NULL;
	bool as_json = false, lexical = false;
	const char *note;
	long k = 0;
	char *query;
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "k:h", options, NULL)) != -1) {
		if (opt == 'k' && args_parse_long(optarg, 1, 1000, &k) < 0)
			return doctor_usage_error(cmd, "--k: expected a number from 1 to 1000, "
			                          "got '%s'", optarg);
		else if (opt == 'j')
			as_json = true;
		else if (opt == 'l')
			lexical = true;
		else if (opt == 'h')
			return doctor_command_help(cmd);
		else if (opt != 'k')
			return doctor_bad_option(cmd);
	}
	if (optind >= argc)
		return doctor_usage_error(cmd, "search: expected a QUERY");
	query = join_words(argc, argv, optind);
	params = query ? json_pack("{s:s, s:b}", "query", query, "lexical_only", lexical) : NULL;
	free(query);
	if (!params) {
		doctor_msg("the query is not valid UTF-8 text");
		return DOCTOR_EXIT_USAGE;
	}
	if (k)
		json_object_set_new(params, "k", json_integer(k));
	if (doctor_connect(g, &c) < 0) {
		json_decref(params);
		return DOCTOR_EXIT_NO_DAEMON;
	}
	rc = doctor_call(c, "docs.search", params, &result);
	if (rc == 0 && as_json) {
		rc = doctor_print_json(result);
	} else if (rc == 0) {
		if ((note = json_string_value(json_object_get(result, "warning"))))
			doctor_msg("warning: %s", note);
		if ((note = json_string_value(json_object_get(result, "hint"))))
			doctor_msg("%s", note);
		print_hits(result);
	}
	json_decref(result);
	rpc_client_free(c);
	return rc == -EIO ? DOCTOR_EXIT_ERROR : doctor_exit_status(rc);
}

const struct doctor_command cmd_search_entry = {
	.name = "search",
	.summary = "search the indexed documentation",
	.usage = "doctor search [--k N] [--json] [--lexical] QUERY...\n"
	         "  The chunks of documentation that best answer QUERY (its words joined),\n"
	         "  best first: rank, score, page#anchor, section and a few lines of text.\n"
	         "  --k N      how many (1 to 1000; default: the daemon's docs.k)\n"
	         "  --lexical  BM25 only, even when embeddings are configured\n"
	         "  --json     the daemon's result as JSON",
	.run = cmd_search,
};
