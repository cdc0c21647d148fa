/*
 * agent_tools_exec.c - executing the tool calls of one response, in order
 * (see agent_loop.h, docs/agent.md "Tools").
 *
 * Each call is traced (tool_call, then tool_result with its latency), its
 * result wrapped as data (agent_wrap_data: redacted, capped at
 * agent.tool_result_max_bytes, in a block the model is told is never
 * instructions) and appended as the tool message answering it. search_docs
 * runs on a worker thread: the loop goes on from its callback. The others
 * are quick and run here: read_file and environment read files,
 * propose_remedy only records a proposal, plugin tools run in the plugin
 * sandbox under its limits.
 *
 * An identical call (agent_call_key: same name, same arguments) is not
 * executed again: the model is told so, and a second such repeat ends the
 * loop (limit "repeated_tool_call").
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_loop.h"
#include "docs_index.h"
#include "docs_jobs.h"
#include "doctord.h"
#include "log.h"
#include "plugins.h"

#define SEARCH_DEFAULT_K 5

/* ------------------------------------------------------------ pages */

/* Add a hit's page to those the answer may cite, and its section to those
 * consulted (each once). */
static void add_page(struct agent_run *r, const struct docs_hit *h)
{
	const char *anchor = h->anchor ? h->anchor : "", *title = h->title ? h->title : "";
	json_t *p;
	size_t i;

	if (!json_object_get(r->known_pages, h->page))
		json_object_set_new(r->known_pages, h->page, json_string(title));
	json_array_foreach(r->consulted, i, p) {
		if (strcmp(json_string_value(json_object_get(p, "page")), h->page) == 0 &&
		    strcmp(json_string_value(json_object_get(p, "anchor")), anchor) == 0)
			return;
	}
	p = json_pack("{s:s, s:s, s:s}", "page", h->page, "anchor", anchor, "title", title);
	if (p)
		json_array_append_new(r->consulted, p);
}

char *run_hits_text(struct agent_run *r, const struct docs_hit *hits, size_t n)
{
	char *buf = NULL;
	size_t len = 0, i;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	if (n == 0)
		fputs("No documentation matched the query.\n", f);
	for (i = 0; i < n; i++) {
		const struct docs_hit *h = &hits[i];
		if (!h->page)
			continue;
		add_page(r, h);
		fprintf(f, "%s--- hit %zu\npage: %s\n", i ? "\n" : "", i + 1, h->page);
		if (h->anchor && *h->anchor)
			fprintf(f, "anchor: %s\ncite as: [%s#%s]\n", h->anchor, h->page, h->anchor);
		else
			fprintf(f, "cite as: [%s]\n", h->page);
		if (h->title && *h->title)
			fprintf(f, "title: %s\n", h->title);
		if (h->section && *h->section)
			fprintf(f, "section: %s\n", h->section);
		fprintf(f, "\n%s\n", h->text ? h->text : "");
	}
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* ------------------------------------------------------------ results */

/* The tool message answering call tc, text wrapped as data; the result
 * step. text borrowed. */
static void answer_call(struct agent_run *r, const struct llm_tool_call *tc, const char *text)
{
	char label[96], *wrapped = NULL;
	bool truncated = false;
	json_t *body, *msg;
	int rc;

	snprintf(label, sizeof(label), "tool result: %.64s", tc->name);
	rc = agent_wrap_data(&r->fence, r->a->redactor, label, text, strlen(text),
	                     r->cfg.tool_result_max_bytes, &wrapped, &truncated);
	if (rc < 0) {
		log_error("agent: run %lld: cannot wrap a tool result: %s", (long long)r->id,
		          strerror(-rc));
		wrapped = strdup("(the tool's result could not be prepared)");
	}
	msg = json_pack("{s:s, s:s, s:s}", "role", "tool", "tool_call_id", tc->id,
	                "content", wrapped ? wrapped : "");
	if (msg)
		json_array_append_new(r->messages, msg);
	body = json_pack("{s:s, s:s, s:b, s:I}", "id", tc->id, "result", wrapped ? wrapped : "",
	                 "truncated", truncated, "bytes", (json_int_t)strlen(text));
	run_step(r, "tool_result", tc->name, body, run_ms_since(r->tool_t0), 0, 0, 0);
	json_decref(body);
	free(wrapped);
}

/* ------------------------------------------------------------ the tools */

static void on_search_hits(void *ud, int rc, const struct docs_hit *hits, size_t n,
                           const char *warning, bool no_index)
{
	struct agent_run *r = ud;
	const struct llm_tool_call *tc;
	char *text = NULL;

	if (r->phase == RUN_ENDED)
		goto out;
	tc = &r->pending.tool_calls[r->next_call];
	if (rc < 0) {
		if (asprintf(&text, "The documentation search failed: %s.", strerror(-rc)) < 0)
			text = NULL;
	} else if (no_index) {
		text = strdup("No documentation is indexed on this machine: search_docs cannot "
		              "help; do not call it again.");
	} else {
		text = run_hits_text(r, hits, n);
	}
	answer_call(r, tc, text ? text : "(out of memory)");
	free(text);
	r->next_call++;
	if (r->cancelled)
		run_finish_error(r, NULL);
	else
		run_exec_tools(r);
out:
	run_unref(r);
}

/* search_docs {query, k?}: 0 when the search was started (the loop goes
 * on from on_search_hits), else *text says why not. */
static int search_docs(struct agent_run *r, json_t *args, char **text)
{
	struct doctord *d = r->a->d;
	const char *query = json_string_value(json_object_get(args, "query"));
	json_t *kv = json_object_get(args, "k");
	json_int_t k = json_is_integer(kv) ? json_integer_value(kv) : SEARCH_DEFAULT_K;
	struct docs_options opt;
	int rc;

	if (!query || !*query) {
		*text = strdup("search_docs needs a non-empty \"query\" string.");
		return -EINVAL;
	}
	if (k < 1)
		k = 1;
	if (k > AGENT_SEARCH_MAX_K)
		k = AGENT_SEARCH_MAX_K;
	if (!d->docs || (rc = config_docs_copy(&opt, &d->cfg.docs)) < 0) {
		*text = strdup("The documentation search is not available.");
		return -ENOMEM;
	}
	run_ref(r);
	rc = docs_jobs_search_cb(d->docs, query, (unsigned)k, false, &opt, on_search_hits, r);
	if (rc < 0) {
		docs_options_release(&opt);
		run_unref(r);
		if (asprintf(text, "The documentation search could not start: %s.",
		             strerror(-rc)) < 0)
			*text = NULL;
	}
	return rc;
}

/* propose_remedy: the remedy kept for the diagnosis (once per argv). */
static void propose(struct agent_run *r, json_t *args, char **text)
{
	json_t *remedy = NULL, *old;
	size_t i;
	int rc = agent_tool_propose_remedy(&r->tool_ctx, args, &remedy, text);

	if (rc < 0 || !remedy)
		return;
	json_array_foreach(r->remedies, i, old) {
		if (json_equal(json_object_get(old, "argv"), json_object_get(remedy, "argv"))) {
			json_array_set(r->remedies, i, remedy);   /* the latest title wins */
			json_decref(remedy);
			return;
		}
	}
	json_array_append_new(r->remedies, remedy);
}

/* A plugin's tool (<plugin>__<tool>), run in the plugin sandbox with the
 * source's cwd, python and virtualenv as its ctx. */
static void plugin_tool(struct agent_run *r, const char *name, json_t *args, char **text)
{
	struct doctord *d = r->a->d;
	const char *why;
	int rc = -ENOENT, n;

	if (d->plugins)
		rc = plugin_host_call_tool(d->plugins, name, args,
		                           json_object_get(r->incident, "source"), text);
	if (rc == 0 && *text)
		return;
	free(*text);
	*text = NULL;
	why = rc == -ENOENT ? "there is no such tool" :
	      rc == -ETIMEDOUT ? "it ran out of time (the plugin is now disabled)" :
	      rc == -EIO ? "it failed (the plugin is now disabled)" :
	      rc == -EINVAL ? "its result is not JSON" : strerror(-rc);
	if (rc != -ENOENT)
		log_warn("agent: run %lld: plugin tool %s: %s", (long long)r->id, name, why);
	n = asprintf(text, "The tool %s did not answer: %s.", name, why);
	if (n < 0)
		*text = NULL;
}

/* ------------------------------------------------------------ one call */

/* Whether the call repeats an earlier one; remembers it if not. */
static bool repeated(struct agent_run *r, const struct llm_tool_call *tc)
{
	char *key = agent_call_key(tc->name, tc->arguments);
	bool seen;

	if (!key)
		return false;
	seen = json_object_get(r->calls_seen, key) != NULL;
	if (!seen)
		json_object_set_new(r->calls_seen, key, json_true());
	free(key);
	return seen;
}

/* Execute one call: 1 when it goes on asynchronously, else 0 (answered). */
static int exec_call(struct agent_run *r, const struct llm_tool_call *tc)
{
	json_t *args = json_loads(tc->arguments, JSON_DECODE_ANY, NULL), *body;
	char *text = NULL;
	int async = 0;

	body = json_pack("{s:s, s:o?}", "id", tc->id, "arguments",
	                 args ? json_incref(args) : json_string(tc->arguments));
	run_step(r, "tool_call", tc->name, body, -1, 0, 0, 0);
	json_decref(body);
	r->tool_t0 = uv_hrtime();
	if (r->limit) {
		text = strdup("Not executed: this diagnosis has reached a limit.");
	} else if (repeated(r, tc)) {
		if (++r->repeats >= 2) {
			r->limit = "repeated_tool_call";
			run_note(r, "limit: %s called again with the same arguments", tc->name);
		}
		if (asprintf(&text, "Not executed: you already called %s with exactly these "
		             "arguments and its result is above. Do not repeat a call; use what "
		             "you have.", tc->name) < 0)
			text = NULL;
	} else if (!json_is_object(args)) {
		text = strdup("Not executed: the arguments are not a JSON object.");
	} else if (strcmp(tc->name, "search_docs") == 0) {
		async = search_docs(r, args, &text) == 0;
	} else if (strcmp(tc->name, "read_file") == 0) {
		agent_tool_read_file(&r->tool_ctx, args, &text);
	} else if (strcmp(tc->name, "environment") == 0) {
		agent_tool_environment(&r->tool_ctx, args, &text);
	} else if (strcmp(tc->name, "propose_remedy") == 0) {
		propose(r, args, &text);
	} else {
		plugin_tool(r, tc->name, args, &text);
	}
	json_decref(args);
	if (!async)
		answer_call(r, tc, text ? text : "(the tool returned nothing)");
	free(text);
	return async;
}

void run_exec_tools(struct agent_run *r)
{
	while (r->phase != RUN_ENDED && r->next_call < r->pending.ncalls) {
		if (exec_call(r, &r->pending.tool_calls[r->next_call]))
			return;
		r->next_call++;
	}
	if (r->phase == RUN_ENDED)
		return;
	llm_response_release(&r->pending);
	llm_response_init(&r->pending);
	r->next_call = 0;
	run_next_turn(r);
}
