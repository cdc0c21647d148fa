/*
 * chat_response.c - a Chat Completions answer put together, either from
 * the chunks of a stream or from one JSON body, and turned back into the
 * assistant message of the next turn.
 *
 * Servers differ in the details and all of them are accepted: tool-call
 * pieces merged by index (id and name usually only in the first piece, the
 * arguments' JSON cut anywhere), several calls interleaved, ids missing,
 * arguments sent as an object, usage in a last chunk with no choices or
 * inside the last chunk with them, content null, a refusal, reasoning text
 * in reasoning_content (DeepSeek, vLLM) or reasoning (OpenRouter, newer
 * vLLM) kept apart from the answer, and errors inside a 200 stream. Text is
 * only ever text: a tool call written out in the content stays content.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm_wire_internal.h"

/* A growing string: its length and capacity, the bytes living in the
 * public structure's char * field. */
struct grow {
	size_t len, cap;
};

struct call_acc {
	int64_t index;              /* the stream's "index" */
	struct grow args;
};

struct llm_response_acc {
	struct grow content, reasoning, refusal;
	struct call_acc *calls;     /* parallel to r->tool_calls */
	size_t calls_cap;
};

/* Append text[0..len) to *s, tracked by g. */
static int grow_append(char **s, struct grow *g, const char *text, size_t len)
{
	size_t ncap;
	char *n;

	if (!*s)
		g->len = g->cap = 0;
	if (g->len + len + 1 > g->cap) {
		ncap = g->cap ? g->cap : 64;
		while (ncap < g->len + len + 1)
			ncap *= 2;
		n = realloc(*s, ncap);
		if (!n)
			return -ENOMEM;
		*s = n;
		g->cap = ncap;
	}
	memcpy(*s + g->len, text, len);
	g->len += len;
	(*s)[g->len] = '\0';
	return 0;
}

static int grow_set(char **s, struct grow *g, const char *text, size_t len)
{
	if (*s)
		g->len = 0;
	return grow_append(s, g, text, len);
}

static int set_str(char **dst, const char *s)
{
	char *copy = strdup(s);

	if (!copy)
		return -ENOMEM;
	free(*dst);
	*dst = copy;
	return 0;
}

/* Nothing known, nothing allocated. */
static void clear(struct llm_response *r)
{
	memset(r, 0, sizeof(*r));
	r->usage.prompt_tokens = r->usage.completion_tokens = r->usage.total_tokens = -1;
	r->usage.cached_tokens = r->usage.reasoning_tokens = -1;
	r->error.retry_after_ms = -1;
}

/* content starts as "" (left NULL only if memory ran out: feeding and
 * finishing make it again). */
void llm_response_init(struct llm_response *r)
{
	clear(r);
	r->acc = calloc(1, sizeof(*r->acc));
	if (r->acc)
		grow_append(&r->content, &r->acc->content, "", 0);
}

void llm_response_release(struct llm_response *r)
{
	size_t i;

	for (i = 0; i < r->ncalls; i++) {
		free(r->tool_calls[i].id);
		free(r->tool_calls[i].name);
		free(r->tool_calls[i].arguments);
	}
	free(r->tool_calls);
	free(r->content);
	free(r->reasoning);
	free(r->refusal);
	free(r->finish_reason);
	free(r->model);
	llm_error_release(&r->error);
	free(r->acc ? r->acc->calls : NULL);
	free(r->acc);
	clear(r);
}

/* The accumulator, made on first use if init ran out of memory. */
static struct llm_response_acc *acc_of(struct llm_response *r)
{
	if (!r->acc)
		r->acc = calloc(1, sizeof(*r->acc));
	return r->acc;
}

/* ---------------------------------------------------------------- pieces */

/* Text given as a string, or as content parts [{type: "text", text}]. */
static int append_text(char **s, struct grow *g, json_t *v)
{
	json_t *part;
	size_t i;
	int rc = 0;

	if (json_is_string(v))
		return grow_append(s, g, json_string_value(v), json_string_length(v));
	json_array_foreach(v, i, part) {
		json_t *text = json_object_get(part, "text");

		if (rc == 0 && json_is_string(text))
			rc = grow_append(s, g, json_string_value(text), json_string_length(text));
	}
	return rc;
}

static bool same_or_unset(const char *have, const char *piece)
{
	return !have || !piece || strcmp(have, piece) == 0;
}

/* Where a piece with this index, id and name (both may be NULL) goes: the
 * last call with that index, or a new one (kept in index order) when there
 * is none or the piece names another id or function (servers that send
 * every call as index 0, or no index at all). */
static int call_slot(struct llm_response *r, int64_t index, const char *id, const char *name,
		     size_t *slot)
{
	struct llm_response_acc *a = r->acc;
	size_t i, at = r->ncalls;
	void *n;

	for (i = r->ncalls; i-- > 0;)
		if (a->calls[i].index == index) {
			if (same_or_unset(r->tool_calls[i].id, id) &&
			    same_or_unset(r->tool_calls[i].name, name)) {
				*slot = i;
				return 0;
			}
			break;
		}
	while (at > 0 && a->calls[at - 1].index > index)
		at--;
	if (r->ncalls == a->calls_cap) {
		size_t ncap = a->calls_cap ? a->calls_cap * 2 : 4;

		n = realloc(r->tool_calls, ncap * sizeof(*r->tool_calls));
		if (!n)
			return -ENOMEM;
		r->tool_calls = n;
		n = realloc(a->calls, ncap * sizeof(*a->calls));
		if (!n)
			return -ENOMEM;
		a->calls = n;
		a->calls_cap = ncap;
	}
	memmove(r->tool_calls + at + 1, r->tool_calls + at,
		(r->ncalls - at) * sizeof(*r->tool_calls));
	memmove(a->calls + at + 1, a->calls + at, (r->ncalls - at) * sizeof(*a->calls));
	memset(&r->tool_calls[at], 0, sizeof(r->tool_calls[at]));
	memset(&a->calls[at], 0, sizeof(a->calls[at]));
	a->calls[at].index = index;
	r->ncalls++;
	*slot = at;
	return 0;
}

/* The arguments: pieces of a JSON string appended, or an object (or any
 * other value) serialised whole in place of what was there. */
static int merge_arguments(struct llm_tool_call *c, struct grow *g, json_t *args)
{
	char *dump;
	int rc;

	if (!args || json_is_null(args))
		return 0;
	if (json_is_string(args))
		return grow_append(&c->arguments, g, json_string_value(args),
				   json_string_length(args));
	dump = json_dumps(args, JSON_COMPACT | JSON_ENCODE_ANY);
	if (!dump)
		return -ENOMEM;
	rc = grow_set(&c->arguments, g, dump, strlen(dump));
	free(dump);
	return rc;
}

/* One entry of tool_calls (a delta's piece, or a whole call of a
 * message); pos is its place in that array. */
static int merge_call(struct llm_response *r, json_t *piece, size_t pos)
{
	json_t *jindex = json_object_get(piece, "index");
	json_t *fn = json_object_get(piece, "function");
	const char *id = json_string_value(json_object_get(piece, "id"));
	const char *name = json_string_value(json_object_get(fn, "name"));
	struct llm_tool_call *c;
	size_t slot;
	int rc;

	if (!json_is_object(piece))
		return 0;
	if (id && !*id)
		id = NULL;
	if (name && !*name)
		name = NULL;
	rc = call_slot(r, json_is_integer(jindex) ? json_integer_value(jindex) : (int64_t)pos,
		       id, name, &slot);
	if (rc < 0)
		return rc;
	c = &r->tool_calls[slot];
	if ((id && !c->id && set_str(&c->id, id) < 0) ||
	    (name && !c->name && set_str(&c->name, name) < 0))
		return -ENOMEM;
	return merge_arguments(c, &r->acc->calls[slot].args, json_object_get(fn, "arguments"));
}

static int64_t int_or(json_t *v, int64_t keep)
{
	return json_is_integer(v) ? json_integer_value(v) : keep;
}

static void merge_usage(struct llm_usage *u, json_t *usage)
{
	json_t *details;

	if (!json_is_object(usage))
		return;
	u->prompt_tokens = int_or(json_object_get(usage, "prompt_tokens"), u->prompt_tokens);
	u->completion_tokens = int_or(json_object_get(usage, "completion_tokens"),
				      u->completion_tokens);
	u->total_tokens = int_or(json_object_get(usage, "total_tokens"), u->total_tokens);
	details = json_object_get(usage, "prompt_tokens_details");
	u->cached_tokens = int_or(json_object_get(usage, "prompt_cache_hit_tokens"),
				  u->cached_tokens);         /* DeepSeek */
	u->cached_tokens = int_or(json_object_get(details, "cached_tokens"), u->cached_tokens);
	details = json_object_get(usage, "completion_tokens_details");
	u->reasoning_tokens = int_or(json_object_get(details, "reasoning_tokens"),
				     u->reasoning_tokens);
}

/* The message or delta of one choice: content, reasoning, refusal and
 * tool calls (for a delta, pieces; for a message, whole calls). */
static int merge_message(struct llm_response *r, json_t *m, const char **delta)
{
	struct llm_response_acc *a = r->acc;
	json_t *content = json_object_get(m, "content"), *calls, *piece;
	json_t *reasoning = json_object_get(m, "reasoning_content");
	size_t i;
	int rc = 0;

	if (!json_is_string(reasoning) || json_string_length(reasoning) == 0)
		reasoning = json_object_get(m, "reasoning");
	if (delta && json_is_string(content) && json_string_length(content) > 0)
		*delta = json_string_value(content);
	if (content)
		rc = append_text(&r->content, &a->content, content);
	if (rc == 0 && reasoning)
		rc = append_text(&r->reasoning, &a->reasoning, reasoning);
	if (rc == 0 && json_object_get(m, "refusal"))
		rc = append_text(&r->refusal, &a->refusal, json_object_get(m, "refusal"));
	calls = json_object_get(m, "tool_calls");
	json_array_foreach(calls, i, piece) {
		if (rc == 0)
			rc = merge_call(r, piece, i);
	}
	return rc;
}

/* The first choice (index 0, or no index) of chunk; NULL if none. */
static json_t *first_choice(json_t *chunk)
{
	json_t *choice;
	size_t i;

	json_array_foreach(json_object_get(chunk, "choices"), i, choice) {
		json_t *index = json_object_get(choice, "index");

		if (json_is_object(choice) && (!json_is_integer(index) ||
					       json_integer_value(index) == 0))
			return choice;
	}
	return NULL;
}

/* What every chunk or body may carry besides the choice. */
static int merge_common(struct llm_response *r, json_t *obj)
{
	json_t *model = json_object_get(obj, "model");
	int rc = 0;

	merge_usage(&r->usage, json_object_get(obj, "usage"));
	if (!r->model && json_is_string(model) && json_string_length(model) > 0)
		rc = set_str(&r->model, json_string_value(model));
	if (rc == 0 && r->error.kind == LLM_ERR_NONE && llm_error_json_is_error(obj))
		rc = llm_error_from_json(LLM_ERR_API, 0, obj, &r->error);
	return rc;
}

static int merge_finish(struct llm_response *r, json_t *choice)
{
	json_t *reason = json_object_get(choice, "finish_reason");

	if (!json_is_string(reason) || json_string_length(reason) == 0)
		return 0;
	return set_str(&r->finish_reason, json_string_value(reason));
}

/* ---------------------------------------------------------------- streams */

static int protocol_error(struct llm_response *r, const char *what, const char *data,
			  size_t len)
{
	if (r->error.kind == LLM_ERR_NONE &&
	    llm_error_setf(&r->error, LLM_ERR_PROTOCOL, 0, "%s: %.*s", what,
			   (int)(len > 80 ? 80 : len), data ? data : "") < 0)
		return -ENOMEM;
	return -EPROTO;
}

int llm_response_feed_chunk(struct llm_response *r, json_t *chunk, const char **delta)
{
	json_t *choice;
	int rc;

	if (delta)
		*delta = NULL;
	if (!acc_of(r))
		return -ENOMEM;
	if (!json_is_object(chunk))
		return protocol_error(r, "a stream chunk is not a JSON object", "", 0);
	rc = merge_common(r, chunk);
	choice = first_choice(chunk);
	if (rc == 0 && choice)
		rc = merge_message(r, json_object_get(choice, "delta"), delta);
	if (rc == 0 && choice)
		rc = merge_finish(r, choice);
	return rc;
}

int llm_response_feed_sse(struct llm_response *r, const char *data, size_t len,
			  const char **delta)
{
	json_error_t jerr;
	json_t *chunk;
	size_t start = 0, end = len, before;
	int rc;

	if (delta)
		*delta = NULL;
	while (start < end && strchr(" \t\r\n", data[start]))
		start++;
	while (end > start && strchr(" \t\r\n", data[end - 1]))
		end--;
	if (start == end)
		return 0;
	if (end - start == 6 && memcmp(data + start, "[DONE]", 6) == 0) {
		r->done = true;
		return 0;
	}
	chunk = json_loadb(data + start, end - start, 0, &jerr);
	if (!chunk && json_error_code(&jerr) == json_error_premature_end_of_input) {
		/* the connection closed inside a chunk: a cut, not a bad server */
		if (r->error.kind == LLM_ERR_NONE &&
		    llm_error_setf(&r->error, LLM_ERR_TRUNCATED, 0,
				   "the stream ended inside a chunk (%zu bytes of JSON)",
				   end - start) < 0)
			return -ENOMEM;
		return -EPROTO;
	}
	if (!chunk)
		return protocol_error(r, "not JSON in the stream", data + start, end - start);
	before = r->content && r->acc ? r->acc->content.len : 0;
	rc = llm_response_feed_chunk(r, chunk, delta);
	if (rc == 0 && delta && *delta)
		*delta = r->content + before;   /* the chunk goes; content has the bytes */
	json_decref(chunk);
	return rc;
}

/* ---------------------------------------------------------------- bodies */

int llm_response_from_json(struct llm_response *r, const char *body, size_t len)
{
	json_error_t jerr;
	json_t *root, *choice;
	int rc;

	if (!acc_of(r))
		return -ENOMEM;
	root = json_loadb(body ? body : "", body ? len : 0, 0, &jerr);
	if (!json_is_object(root)) {
		rc = protocol_error(r, "the answer is not a JSON object", body, body ? len : 0);
		json_decref(root);
		return rc;
	}
	rc = merge_common(r, root);
	choice = first_choice(root);
	if (rc == 0 && choice)
		rc = merge_message(r, json_object_get(choice, "message"), NULL);
	if (rc == 0 && choice)
		rc = merge_finish(r, choice);
	if (rc == 0 && !choice && r->error.kind == LLM_ERR_NONE)
		rc = protocol_error(r, "the answer has no choices", body, len);
	if (rc == 0 && !r->content)
		rc = grow_append(&r->content, &r->acc->content, "", 0);
	if (rc == 0 && r->error.kind != LLM_ERR_NONE)
		rc = -EPROTO;
	r->done = true;
	json_decref(root);
	return rc;
}

/* ---------------------------------------------------------------- the end */

int llm_response_finish(struct llm_response *r)
{
	char id[32];
	size_t i;

	if (!acc_of(r) || (!r->content && grow_append(&r->content, &r->acc->content, "", 0) < 0))
		return -ENOMEM;
	if (r->error.kind != LLM_ERR_NONE)
		return -EPROTO;
	if (!r->done && !r->finish_reason) {
		if (llm_error_setf(&r->error, LLM_ERR_TRUNCATED, 0,
				   "the stream ended before the answer was complete "
				   "(no finish_reason, no [DONE])") < 0)
			return -ENOMEM;
		return -EPROTO;
	}
	for (i = 0; i < r->ncalls; i++) {
		struct llm_tool_call *c = &r->tool_calls[i];

		if (!c->name) {
			if (llm_error_setf(&r->error, LLM_ERR_PROTOCOL, 0,
					   "tool call %zu (%s) has no function name", i + 1,
					   c->id ? c->id : "no id") < 0)
				return -ENOMEM;
			return -EPROTO;
		}
		snprintf(id, sizeof(id), "call_%zu", i + 1);
		if (!c->id && set_str(&c->id, id) < 0)
			return -ENOMEM;
		if ((!c->arguments || !*c->arguments) &&
		    grow_set(&c->arguments, &r->acc->calls[i].args, "{}", 2) < 0)
			return -ENOMEM;
	}
	return 0;
}

json_t *llm_response_message(const struct llm_response *r)
{
	bool empty = !r->content || !*r->content;
	json_t *msg, *calls = NULL, *call;
	size_t i;

	msg = json_pack("{s:s, s:o}", "role", "assistant", "content",
			empty && r->ncalls ? json_null() :
			json_string(r->content ? r->content : ""));
	if (!msg || r->ncalls == 0)
		return msg;
	calls = json_array();
	if (!calls || json_object_set_new(msg, "tool_calls", calls) < 0)
		goto fail;
	for (i = 0; i < r->ncalls; i++) {
		const struct llm_tool_call *c = &r->tool_calls[i];

		call = json_pack("{s:s?, s:s, s:{s:s?, s:s}}", "id", c->id, "type", "function",
				 "function", "name", c->name, "arguments",
				 c->arguments && *c->arguments ? c->arguments : "{}");
		if (!call || json_array_append_new(calls, call) < 0)
			goto fail;
	}
	return msg;
fail:
	json_decref(msg);
	return NULL;
}
