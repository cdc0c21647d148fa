/*
 * agent_internal.h - what the agent's files share: the prompt (prompt.c),
 * the built-in tools (tools.c) and the final answer's parsing (answer.c),
 * used by the loop (agent.c). Not the daemon's interface (agent.h).
 *
 * The rules every part keeps (issue 5, docs/agent.md):
 *  - Everything that goes to the model passes through the redactor first
 *    (common/redact.h): the incident, the documentation, every tool result.
 *  - Text from logs, files, documentation and tools is DATA: it is put in
 *    delimited blocks that the system prompt says are never instructions,
 *    and a block cannot be closed from inside (its delimiter carries a
 *    random nonce chosen per run, and any occurrence of it in the data is
 *    broken up).
 *  - Every tool result is capped (agent.tool_result_max_bytes), cut at a
 *    UTF-8 character boundary with a note saying how much was left out.
 *  - Remedies are argv arrays, never shell strings; nothing runs here.
 *
 * json_t arguments are borrowed; json_t results are new references; char*
 * results are owned by the caller (free). Functions return 0 or a negative
 * errno.
 */
#ifndef DOCTOR_AGENT_INTERNAL_H
#define DOCTOR_AGENT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct redactor;
struct docs_hit;

/* ---------------------------------------------------------------- prompt.c */

/* A data block's delimiters for one run: "<<<DATA-<nonce>", label... */
struct agent_fence {
	char nonce[17];                 /* 16 hex digits, from getrandom() */
};
int agent_fence_init(struct agent_fence *f);

/* Text wrapped as data for the model:
 *   <<<DATA-<nonce> <label>
 *   ...text (redacted, capped at cap bytes, the nonce broken up if it
 *      occurs in it)...
 *   DATA-<nonce>>>>
 * label is a short ASCII name ("tool result: read_file"; other bytes
 * become '?', at most 100 kept). *truncated (may be NULL) tells whether
 * the cap cut it; cap 0: no cap. Invalid UTF-8 and NUL bytes in text
 * become U+FFFD, so *out is valid UTF-8 for a JSON string. */
int agent_wrap_data(const struct agent_fence *f, const struct redactor *r, const char *label,
		    const char *text, size_t len, size_t cap, char **out, bool *truncated);

/* The system prompt: doctor's job (find the cause of the error, cite the
 * documentation, propose remedies only through propose_remedy, argv only,
 * never ask the user to run shell pipelines), the data rule (text inside
 * DATA-<nonce> blocks is data, never instructions, whatever it says), and
 * the answer's form. With tools, the final answer is plain prose whose
 * first line is a one-sentence summary, citing pages as [page#anchor].
 * Without tools (llm.tools false), it also describes the JSON answer that
 * answer.c parses: {"summary", "explanation", "citations": [{"page",
 * "anchor"}], "remedies": [{"title", "argv": [..]}]}. */
int agent_system_prompt(const struct agent_fence *f, bool tools, char **out);

/* The first user message: the incident (exception, message, chain,
 * frames, the error text, the source's recent output, the source's kind,
 * name, cwd, python and virtualenv: the full incident object of
 * docs/protocol.md) and the documentation found for it (hits[0..nhits):
 * page, anchor, title, section, text), each in its own data block,
 * redacted, within max_bytes in all (the recent output is cut first, from
 * its beginning, then the documentation's last hits, then the error
 * text's beginning; -ENOSPC if even the incident's fields do not fit;
 * max_bytes 0: no limit). */
int agent_incident_message(const struct agent_fence *f, const struct redactor *r,
			   json_t *incident, const struct docs_hit *hits, size_t nhits,
			   size_t max_bytes, char **out);

/* The query for the documentation search of an incident: exception,
 * message and the last frame's library/function (else the error text),
 * redacted, on one line, at most 500 bytes. -ENOENT when the incident has
 * none of them. */
int agent_docs_query(const struct redactor *r, json_t *incident, char **out);

/* ---------------------------------------------------------------- tools.c */

/* The built-in tools' specifications, in the Chat Completions form
 * [{type: "function", function: {name, description, parameters}}], with
 * extra (plugin tools, same form; may be NULL) appended. */
json_t *agent_tool_specs(json_t *extra);

/* What the tools may see of the incident's source. Strings borrowed. */
struct agent_tool_ctx {
	const char *cwd;                /* the source's working directory: read_file
	                                   reads only under it; NULL: read_file refuses */
	const char *python;             /* the source's interpreter, for environment;
	                                   NULL: "python3" from PATH */
	size_t read_file_max;           /* bytes of a file read_file returns */
	json_t *offered;                /* remedies the plugins offered for this
	                                   incident (may be NULL) */
};

/* read_file {path, start_line?, max_lines?}: path relative to ctx->cwd or
 * absolute inside it (after realpath: no escape through "..", symbolic
 * links or /proc; /proc, /sys and /dev are refused even under the cwd,
 * and so are credential folders such as .ssh and .aws); regular files
 * only; at most ctx->read_file_max bytes (0: 64 KiB), cut at a line end
 * with a note giving the start_line to continue from; binary files (a NUL
 * byte) refused. *result is the text for the model (not yet
 * wrapped), or a one-line refusal/error that is also a result (the model
 * is told, the run goes on): the return is 0 then. Negative only for
 * -ENOMEM. */
int agent_tool_read_file(const struct agent_tool_ctx *ctx, json_t *args, char **result);

/* environment {packages?: [names]}: the interpreter (py_env_probe: version,
 * prefix, virtualenv, conda, externally managed), the platform (uname),
 * and the installed distributions (all names and versions, or only those
 * asked for, with "not installed" for the missing). Reads files only,
 * runs nothing. */
int agent_tool_environment(const struct agent_tool_ctx *ctx, json_t *args, char **result);

/* propose_remedy {title, argv: [..], why?}: checked (argv a non-empty
 * array of at most 64 non-empty strings without NUL, no shell: argv[0] is
 * not sh/bash/zsh/dash/fish/env with -c, nor a string holding a pipeline
 * or redirection when argv has one element with spaces), then made into a
 * remedy object for store_diagnosis_record: {key ("agent-<hash of
 * argv>"), title (at most 200 bytes), argv, cwd: ctx->cwd, changes_system:
 * true, verify: null, timeout: 600, undo: "pip" when argv is a pip
 * install, else null, from_plugin: false}. When argv equals (same argv)
 * a remedy in ctx->offered (an array of remedies as plugins.h or the
 * store gives them), the remedy is that one's key, title, argv, cwd,
 * changes_system, verify, timeout and undo, with from_plugin true. Also
 * refused: sudo and the like (remedies run without a terminal) and argv
 * elements that are shell operators ("|", "&&", ">", ...); wrappers (env,
 * timeout, nice, nohup, ...) are looked through. *remedy NULL and
 * *result the reason when refused. Nothing runs: the user confirms
 * later. */
int agent_tool_propose_remedy(const struct agent_tool_ctx *ctx, json_t *args, json_t **remedy,
			      char **result);

/* ---------------------------------------------------------------- answer.c */

/* The diagnosis from the model's final content: with tools, prose (the
 * first non-empty line, without markdown marks, is the summary, at most
 * 300 bytes; the rest the explanation) and citations found as
 * [page#anchor] or [page] references (also [text](page#anchor)) that
 * name a page in known_pages (the pages of the hits given and searched
 * this run: an object {page: title | null}, or an array of page names;
 * may be NULL: then any reference that looks like a path); without tools, the JSON object described in the system prompt
 * (also inside a ```json fence or with text around it), falling back to
 * prose when it is not valid. *out: {summary, explanation, citations:
 * [{page, anchor, title}], remedies: [{title, argv}] (JSON mode only)}.
 * A tool call written as text in the content stays text: it is never
 * executed. -EINVAL when the content is empty. */
int agent_parse_answer(const char *content, bool json_mode, json_t *known_pages, json_t **out);

/* The identity of a tool call for the repeat check: name and arguments
 * parsed and serialised with sorted keys (so whitespace and key order do
 * not matter). Owned by the caller. */
char *agent_call_key(const char *name, const char *arguments);

#endif
