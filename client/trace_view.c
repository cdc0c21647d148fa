/*
 * trace_view.c - one agent run as text: its header, the trace of its steps
 * and its totals (doctor show ID, doctor show --run N).
 *
 * A step's body is the JSON the agent stored (redacted before it was
 * stored): a Chat Completions request, a response, a tool call with its
 * arguments, a tool's result, an error or a note. The excerpt takes what a
 * person wants from each: the request's last message, the response's text
 * or the tools it calls, the arguments, the result, the message. The
 * bodies are read leniently (a response may be the wire form with
 * "choices" or the agent's own {content, tool_calls}); whatever is not
 * recognised is shown as compact JSON, so nothing is hidden, only cut.
 * Every excerpt goes through format_fit: one line, no escape sequences.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE     /* asprintf */
#endif
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "trace_view.h"

#define EXCERPT_MAX 160     /* columns of an excerpt, even with no terminal */
#define EXCERPT_MIN 20      /* and at least this on a narrow one */
#define EXCERPT_INDENT "       "
#define TOOL_COLUMN_MAX 24  /* columns a tool's name may take */

static const char *text_of(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

void trace_view_cost(double usd, char *buf, size_t size)
{
	const char *dot;
	size_t len;

	if (!(usd > 0) || usd > 1e12) {
		snprintf(buf, size, "$0");
		return;
	}
	snprintf(buf, size, "$%.6f", usd);
	len = strlen(buf);
	dot = strchr(buf, '.');
	/* keep the cents: "$0.500000" -> "$0.50" */
	while (dot && len > (size_t)(dot - buf) + 3 && buf[len - 1] == '0')
		buf[--len] = '\0';
}

void trace_view_count(long long n, char *buf, size_t size)
{
	char digits[32];
	size_t len, i, o = 0;

	snprintf(digits, sizeof(digits), "%lld", n < 0 ? 0 : n);
	len = strlen(digits);
	for (i = 0; i < len && o + 2 < size; i++) {
		if (i > 0 && (len - i) % 3 == 0)
			buf[o++] = ',';
		buf[o++] = digits[i];
	}
	buf[o] = '\0';
}

/* ------------------------------------------------------------------------
 * Excerpts: the text of a body that a person wants, as lines (the caller
 * fits each to the terminal): one per tool call a response makes, else
 * one, its own line breaks made spaces. Each returns a new string, or NULL
 * when there is nothing to say or out of memory.
 */

/* JSON as one compact line (strings as they are). */
static char *compact(const json_t *v)
{
	if (json_is_string(v))
		return strdup(json_string_value(v));
	return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

/* A message's content: a string, or an array of parts whose text parts
 * are joined by spaces. NULL when it has no text. */
static char *content_text(const json_t *content)
{
	const json_t *part;
	char *text = NULL, *joined;
	const char *piece;
	size_t i;

	if (json_is_string(content))
		return *json_string_value(content) ? strdup(json_string_value(content)) : NULL;
	json_array_foreach(content, i, part) {
		piece = json_is_string(part) ? json_string_value(part) : text_of(part, "text");
		if (!piece || !*piece)
			continue;
		if (asprintf(&joined, "%s%s%s", text ? text : "", text ? " " : "", piece) < 0)
			joined = NULL;
		free(text);
		if (!(text = joined))
			return NULL;
	}
	return text;
}

/* A call's arguments: a JSON text as sent, or an object. */
static char *arguments_text(const json_t *call)
{
	const json_t *fn = json_object_get(call, "function");
	const json_t *args = json_object_get(call, "arguments");

	if (!args)
		args = json_object_get(fn, "arguments");
	if (!args)
		args = json_object_get(call, "args");
	return args && !json_is_null(args) ? compact(args) : strdup("");
}

/* "calls NAME ARGS" for one tool call, in either shape:
 * {id, name, arguments} or {id, type, function: {name, arguments}}. */
static char *call_line(const json_t *call)
{
	const char *name = text_of(call, "name");
	char *args = arguments_text(call), *line;

	if (!name)
		name = text_of(json_object_get(call, "function"), "name");
	if (!args)
		return NULL;
	if (asprintf(&line, "calls %s %s", name ? name : "?", args) < 0)
		line = NULL;
	free(args);
	return line;
}

/* s made one line in place: its line breaks become spaces. */
static char *flatten(char *s)
{
	char *p;

	for (p = s; p && *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	return s;
}

/* Append line, made one line, to *lines (newline-separated); line is
 * freed. */
static int add_line(char **lines, char *line)
{
	char *joined;

	if (!flatten(line))
		return -ENOMEM;
	if (!*lines) {
		*lines = line;
		return 0;
	}
	if (asprintf(&joined, "%s\n%s", *lines, line) < 0)
		joined = NULL;
	free(line);
	free(*lines);
	*lines = joined;
	return joined ? 0 : -ENOMEM;
}

/* A message's text and tool calls, each call on a line of its own;
 * role (may be NULL) prefixes the text. */
static char *message_lines(const json_t *msg, const char *role)
{
	const json_t *calls = json_object_get(msg, "tool_calls"), *call;
	char *lines = NULL, *text = content_text(json_object_get(msg, "content")), *line;
	const char *refusal = text_of(msg, "refusal");
	size_t i;

	if (text) {
		if (role && asprintf(&line, "%s: %s", role, text) >= 0)
			add_line(&lines, line);
		else if (!role)
			add_line(&lines, strdup(text));
		free(text);
	}
	if (refusal && *refusal && asprintf(&line, "refusal: %s", refusal) >= 0)
		add_line(&lines, line);
	json_array_foreach(calls, i, call)
		add_line(&lines, call_line(call));
	return lines;
}

/* The request's last message: "user: ...", "tool: ...". */
static char *request_excerpt(const json_t *body)
{
	const json_t *messages = json_object_get(body, "messages"), *last;
	const char *role;
	char *lines;

	if (json_array_size(messages) == 0)
		return NULL;
	last = json_array_get(messages, json_array_size(messages) - 1);
	role = text_of(last, "role");
	lines = message_lines(last, role ? role : "?");
	if (!lines && role && asprintf(&lines, "%s: (no text)", role) < 0)
		lines = NULL;
	return lines;
}

/* The response's text or its tool calls: the wire form (choices[0].
 * message) or the agent's own ({content, tool_calls, ...}). */
static char *response_excerpt(const json_t *body)
{
	const json_t *choice = json_array_get(json_object_get(body, "choices"), 0);
	const json_t *msg = json_object_get(choice, "message");

	if (!msg)
		msg = json_object_get(body, "message");
	if (!json_is_object(msg))
		msg = body;
	if (!json_object_get(msg, "content") && !json_object_get(msg, "tool_calls") &&
	    !json_object_get(msg, "refusal"))
		return NULL;
	return message_lines(msg, NULL);
}

/* A tool call's arguments (the name is on the step's line). */
static char *tool_call_excerpt(const json_t *body)
{
	if (!json_object_get(body, "arguments") && !json_object_get(body, "args") &&
	    !json_object_get(json_object_get(body, "function"), "arguments"))
		return NULL;
	return arguments_text(body);
}

/* The first of keys that body has as a string (or any value). */
static char *field_excerpt(const json_t *body, const char *const *keys)
{
	const json_t *v;

	for (; *keys; keys++) {
		v = json_object_get(body, *keys);
		if (json_is_object(v) && text_of(v, "message"))
			return strdup(text_of(v, "message"));
		if (v && !json_is_null(v))
			return compact(v);
	}
	return NULL;
}

static char *body_excerpt(const char *kind, const json_t *body)
{
	static const char *const result_keys[] = {
		"result", "content", "text", "output", "error", NULL
	};
	static const char *const message_keys[] = {
		"message", "error", "text", "note", NULL
	};
	char *lines = NULL;

	if (!body || json_is_null(body))
		return NULL;
	if (json_is_string(body))
		return flatten(compact(body));
	if (strcmp(kind, "request") == 0)
		lines = request_excerpt(body);
	else if (strcmp(kind, "response") == 0)
		lines = response_excerpt(body);
	else if (strcmp(kind, "tool_call") == 0)
		lines = flatten(tool_call_excerpt(body));
	else if (strcmp(kind, "tool_result") == 0)
		lines = flatten(field_excerpt(body, result_keys));
	else
		lines = flatten(field_excerpt(body, message_keys));
	return lines ? lines : compact(body);
}

/* ------------------------------------------------------------------------
 * The trace table
 */

/* The texts of one step's line. */
struct step_row {
	char seq[24], latency[24], in[32], out[32], cost[32];
	const char *kind;
	char *tool;                 /* fitted; owned */
};

struct step_widths {
	size_t seq, kind, tool, latency, in, out;
};

static size_t max_size(size_t a, size_t b)
{
	return a > b ? a : b;
}

static void latency_text(const json_t *ms, char *buf, size_t size)
{
	double v = json_number_value(ms);

	if (!json_is_number(ms) || !(v >= 0))
		snprintf(buf, size, "-");
	else if (v < 1000)
		snprintf(buf, size, "%.0f ms", v);
	else
		snprintf(buf, size, "%.1f s", v / 1000);
}

static void tokens_text(const json_t *n, char *buf, size_t size)
{
	if (json_integer_value(n) > 0)
		trace_view_count(json_integer_value(n), buf, size);
	else
		snprintf(buf, size, "-");
}

static int row_fill(struct step_row *r, const json_t *step)
{
	double cost = json_number_value(json_object_get(step, "cost_usd"));

	snprintf(r->seq, sizeof(r->seq), "%" JSON_INTEGER_FORMAT,
	         json_integer_value(json_object_get(step, "seq")));
	r->kind = text_of(step, "kind") ?: "?";
	r->tool = format_fit(text_of(step, "name") ?: "-", TOOL_COLUMN_MAX);
	latency_text(json_object_get(step, "latency_ms"), r->latency, sizeof(r->latency));
	tokens_text(json_object_get(step, "prompt_tokens"), r->in, sizeof(r->in));
	tokens_text(json_object_get(step, "completion_tokens"), r->out, sizeof(r->out));
	if (cost > 0)
		trace_view_cost(cost, r->cost, sizeof(r->cost));
	else
		snprintf(r->cost, sizeof(r->cost), "-");
	return r->tool ? 0 : -ENOMEM;
}

/* text, then spaces up to width columns. */
static void put_padded(FILE *out, const char *text, size_t width)
{
	size_t w = format_display_width(text);

	fputs(text, out);
	while (w++ < width)
		fputc(' ', out);
}

static void put_step(FILE *out, const struct step_widths *w, const char *seq,
                     const char *kind, const char *tool, const char *latency,
                     const char *in, const char *tokens_out, const char *cost)
{
	fprintf(out, "  %*s  ", (int)w->seq, seq);
	put_padded(out, kind, w->kind);
	fputs("  ", out);
	put_padded(out, tool, w->tool);
	fprintf(out, "  %*s  %*s  %*s  %s\n", (int)w->latency, latency, (int)w->in, in,
	        (int)w->out, tokens_out, cost);
}

/* The excerpt's lines under the step's, each cut to room columns. */
static int put_excerpt(FILE *out, const char *kind, const json_t *body, size_t room)
{
	char *lines = body_excerpt(kind, body), *line, *end, *fitted;
	int rc = 0;

	if (!lines)
		return 0;
	for (line = lines; line && *line && rc == 0; line = end ? end + 1 : NULL) {
		end = strchr(line, '\n');
		if (end)
			*end = '\0';
		fitted = format_fit(line, room);
		if (!fitted) {
			rc = -ENOMEM;
			break;
		}
		if (*fitted)
			fprintf(out, "%s%s\n", EXCERPT_INDENT, fitted);
		free(fitted);
	}
	free(lines);
	return rc;
}

static int print_steps(FILE *out, const json_t *steps, size_t width)
{
	struct step_widths w = { 3, 4, 4, 7, 2, 3 };   /* the headers' widths */
	size_t n = json_array_size(steps), i, room = EXCERPT_MAX;
	struct step_row *rows = calloc(n ? n : 1, sizeof(*rows));
	int rc = 0;

	if (!rows)
		return -ENOMEM;
	for (i = 0; i < n && rc == 0; i++)
		rc = row_fill(&rows[i], json_array_get(steps, i));
	for (i = 0; i < n && rc == 0; i++) {
		w.seq = max_size(w.seq, strlen(rows[i].seq));
		w.kind = max_size(w.kind, strlen(rows[i].kind));
		w.tool = max_size(w.tool, format_display_width(rows[i].tool));
		w.latency = max_size(w.latency, strlen(rows[i].latency));
		w.in = max_size(w.in, strlen(rows[i].in));
		w.out = max_size(w.out, strlen(rows[i].out));
	}
	if (width > 0)
		room = width > strlen(EXCERPT_INDENT) + EXCERPT_MIN
		       ? width - strlen(EXCERPT_INDENT) : EXCERPT_MIN;
	if (room > EXCERPT_MAX)
		room = EXCERPT_MAX;
	if (rc == 0)
		put_step(out, &w, "SEQ", "KIND", "TOOL", "LATENCY", "IN", "OUT", "COST");
	for (i = 0; i < n && rc == 0; i++) {
		put_step(out, &w, rows[i].seq, rows[i].kind, rows[i].tool, rows[i].latency,
		         rows[i].in, rows[i].out, rows[i].cost);
		rc = put_excerpt(out, rows[i].kind, json_object_get(json_array_get(steps, i), "body"),
		                 room);
	}
	for (i = 0; i < n; i++)
		free(rows[i].tool);
	free(rows);
	return rc;
}

/* ------------------------------------------------------------------------
 * The run
 */

/* "  label        value", value made one line. */
static void put_field(FILE *out, const char *label, const char *value)
{
	char *safe = format_fit(value, 0);

	fprintf(out, "  %-12s %s\n", label, safe ? safe : "?");
	free(safe);
}

static void put_header(FILE *out, const json_t *run)
{
	json_int_t incident = json_integer_value(json_object_get(run, "incident"));
	char started[32], *model = format_fit(text_of(run, "model") ?: "?", 0);

	format_timestamp(json_number_value(json_object_get(run, "started_at")), started,
	                 sizeof(started));
	fprintf(out, "Run %" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(run, "id")));
	if (incident > 0)
		fprintf(out, " of incident %" JSON_INTEGER_FORMAT, incident);
	fprintf(out, ": %s, started %s\n", model ? model : "?", started);
	free(model);
}

/* "done after 4s", "running", "limited after 1m 2s". */
static void put_state(FILE *out, const json_t *run)
{
	const char *state = text_of(run, "state") ?: "?";
	const json_t *ended = json_object_get(run, "ended_at");
	char took[32], *line;

	if (!json_is_number(ended)) {
		put_field(out, "state", state);
		return;
	}
	format_duration(json_number_value(ended) -
	                json_number_value(json_object_get(run, "started_at")), took, sizeof(took));
	if (asprintf(&line, "%s after %s", state, took) >= 0) {
		put_field(out, "state", line);
		free(line);
	}
}

static void put_totals(FILE *out, const json_t *run)
{
	char in[32], tokens_out[32], cost[32], *line;

	trace_view_count(json_integer_value(json_object_get(run, "prompt_tokens")), in, sizeof(in));
	trace_view_count(json_integer_value(json_object_get(run, "completion_tokens")), tokens_out,
	                 sizeof(tokens_out));
	trace_view_cost(json_number_value(json_object_get(run, "cost_usd")), cost, sizeof(cost));
	if (asprintf(&line, "%s in, %s out", in, tokens_out) >= 0) {
		put_field(out, "tokens", line);
		free(line);
	}
	put_field(out, "cost", cost);
}

/* The pages the diagnosis cites: "page#anchor, page". */
static void put_citations(FILE *out, const json_t *citations)
{
	const json_t *c;
	char *line = NULL, *joined;
	const char *page, *anchor;
	size_t i;

	json_array_foreach(citations, i, c) {
		page = text_of(c, "page");
		anchor = text_of(c, "anchor");
		if (!page)
			continue;
		if (asprintf(&joined, "%s%s%s%s%s", line ? line : "", line ? ", " : "", page,
		             anchor && *anchor ? "#" : "", anchor && *anchor ? anchor : "") < 0)
			joined = NULL;
		free(line);
		if (!(line = joined))
			return;
	}
	if (line)
		put_field(out, "cites", line);
	free(line);
}

int trace_view_run(FILE *out, const json_t *run, size_t width)
{
	const json_t *steps = json_object_get(run, "steps");
	json_int_t cached_from = json_integer_value(json_object_get(run, "cached_from"));
	char *line;
	int rc = 0;

	put_header(out, run);
	if (json_array_size(steps) > 0)
		rc = print_steps(out, steps, width);
	else if (json_is_array(steps))
		fprintf(out, "  (no steps%s)\n", cached_from > 0 ? ": answered from the cache" : "");
	if (rc < 0)
		return rc;
	put_state(out, run);
	if (text_of(run, "limit_hit"))
		put_field(out, "limit hit", text_of(run, "limit_hit"));
	if (text_of(run, "error"))
		put_field(out, "error", text_of(run, "error"));
	put_totals(out, run);
	if (cached_from > 0 &&
	    asprintf(&line, "run %" JSON_INTEGER_FORMAT " (its answer reused: no tokens, no cost)",
	             cached_from) >= 0) {
		put_field(out, "cached from", line);
		free(line);
	}
	if (text_of(run, "summary"))
		put_field(out, "summary", text_of(run, "summary"));
	put_citations(out, json_object_get(json_object_get(run, "result"), "citations"));
	return ferror(out) ? -EIO : 0;
}
