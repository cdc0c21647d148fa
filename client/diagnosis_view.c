/*
 * diagnosis_view.c - diagnoses and remedies as text, and running one remedy
 * with its output streamed (see diagnosis_view.h).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE     /* asprintf */
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "diagnosis_view.h"
#include "doctor.h"
#include "format.h"

char *diagnosis_view_argv(const json_t *argv)
{
	size_t n = json_array_size(argv), i;
	char **v = calloc(n + 1, sizeof *v);
	char *line;

	if (!v)
		return NULL;
	for (i = 0; i < n; i++) {
		const char *a = json_string_value(json_array_get(argv, i));
		v[i] = (char *)(a ? a : "?");
	}
	line = format_command_line(v);
	free(v);
	return line;
}

/* Text from plugins (which may quote the error) made safe for a terminal;
 * owned by the caller. */
static char *safe(const char *text)
{
	return format_terminal_safe(text ? text : "", false);
}

void diagnosis_view_remedy(FILE *out, const json_t *remedy, const char *indent)
{
	json_t *verify = json_object_get(remedy, "verify");
	char *title = safe(json_string_value(json_object_get(remedy, "title")));
	const char *state = json_string_value(json_object_get(remedy, "state"));
	char *cwd = json_is_string(json_object_get(remedy, "cwd")) ?
	            safe(json_string_value(json_object_get(remedy, "cwd"))) : NULL;
	char *cmd0 = diagnosis_view_argv(json_object_get(remedy, "argv"));
	char *cmd = cmd0 ? safe(cmd0) : NULL;

	fprintf(out, "%s[remedy #%" JSON_INTEGER_FORMAT "%s%s] %s\n", indent,
	        json_integer_value(json_object_get(remedy, "id")), state ? ", " : "",
	        state ? state : "", title && *title ? title : "(untitled)");
	fprintf(out, "%s    runs:     %s\n", indent, cmd ? cmd : "?");
	if (cwd)
		fprintf(out, "%s    in:       %s\n", indent, cwd);
	if (json_is_true(json_object_get(remedy, "changes_system")))
		fprintf(out, "%s    changes your system (installs, removes or writes outside the project)\n",
		        indent);
	if (json_is_array(verify)) {
		char *v0 = diagnosis_view_argv(verify), *v = v0 ? safe(v0) : NULL;
		fprintf(out, "%s    verified: %s\n", indent, v ? v : "?");
		free(v0);
		free(v);
	}
	free(cmd0);
	free(cmd);
	free(cwd);
	free(title);
}

/* "see: page#anchor  title" per reference: the agent's are {page, anchor,
 * title}, a plugin's are strings (URLs). */
static void print_references(FILE *out, const json_t *refs, const char *indent)
{
	const char *page, *anchor, *title;
	const json_t *ref;
	char *line = NULL, *fitted;
	size_t i;

	json_array_foreach(refs, i, ref) {
		page = json_is_string(ref) ? json_string_value(ref) :
		       json_string_value(json_object_get(ref, "page"));
		anchor = json_string_value(json_object_get(ref, "anchor"));
		title = json_string_value(json_object_get(ref, "title"));
		if (!page || asprintf(&line, "%s%s%s%s%s", page, anchor && *anchor ? "#" : "",
		                      anchor ? anchor : "", title && *title ? "  " : "",
		                      title ? title : "") < 0)
			continue;
		fitted = format_fit(line, 0);
		fprintf(out, "%s  see: %s\n", indent, fitted ? fitted : "?");
		free(fitted);
		free(line);
	}
}

void diagnosis_view_print(FILE *out, const json_t *diagnosis, const char *indent)
{
	char *summary = safe(json_string_value(json_object_get(diagnosis, "summary")));
	char *explanation = safe(json_string_value(json_object_get(diagnosis, "explanation")));
	const char *plugin = json_string_value(json_object_get(diagnosis, "plugin"));
	json_t *remedy;
	size_t i;

	fprintf(out, "%s%s  (%s, confidence %.0f%%)\n", indent, summary ? summary : "",
	        plugin ? plugin : "?",
	        100.0 * json_number_value(json_object_get(diagnosis, "confidence")));
	if (explanation && *explanation)
		fprintf(out, "%s  %s\n", indent, explanation);
	print_references(out, json_object_get(diagnosis, "references"), indent);
	json_array_foreach(json_object_get(diagnosis, "remedies"), i, remedy)
		diagnosis_view_remedy(out, remedy, indent);
	free(summary);
	free(explanation);
}

/* ------------------------------------------------------------ running */

struct stream_state {
	long long id;
	bool quiet;
};

static void on_remedy_event(const char *method, json_t *params, void *data)
{
	struct stream_state *s = data;
	const char *text = json_string_value(json_object_get(params, "text"));
	bool to_err = json_string_value(json_object_get(params, "stream")) &&
	              strcmp(json_string_value(json_object_get(params, "stream")), "stderr") == 0;

	if (strcmp(method, "remedy.output") != 0 || s->quiet || !text ||
	    json_integer_value(json_object_get(params, "id")) != s->id)
		return;
	fputs(text, to_err ? stderr : stdout);
	fflush(to_err ? stderr : stdout);
}

int diagnosis_view_run_remedy(struct rpc_client *c, long long id, bool undo, bool quiet_output)
{
	struct stream_state s = { id, quiet_output };
	json_t *result = NULL, *done = NULL;
	const char *res, *state;
	int rc;

	rpc_client_on_notify(c, on_remedy_event, &s);
	rc = doctor_call(c, undo ? "remedy.undo" : "remedy.confirm",
	                 json_pack("{s:I}", "id", (json_int_t)id), &result);
	json_decref(result);
	if (rc == -EREMOTEIO)
		return 1;
	if (rc < 0)
		return rc;
	doctor_msg("%s remedy #%lld...", undo ? "undoing" : "running", id);
	for (;;) {
		rc = rpc_client_wait_for(c, "remedy.done", -1, &done);
		if (rc < 0) {
			doctor_msg("lost the daemon while the remedy ran: %s", strerror(-rc));
			return rc;
		}
		if (json_integer_value(json_object_get(json_object_get(done, "remedy"), "id")) == id)
			break;
		json_decref(done);
	}
	res = json_string_value(json_object_get(done, "result"));
	state = json_string_value(json_object_get(json_object_get(done, "remedy"), "state"));
	if (undo) {
		rc = state && strcmp(state, "undone") == 0 ? 0 : 1;
		doctor_msg("remedy #%lld %s", id, rc == 0 ? "undone" : "could not be undone");
	} else if (res && strcmp(res, "succeeded") == 0) {
		rc = 0;
		doctor_msg("remedy #%lld succeeded%s", id,
		           json_is_true(json_object_get(done, "verified")) ? " and was verified" : "");
	} else {
		rc = 1;
		doctor_msg("remedy #%lld %s (exit status %" JSON_INTEGER_FORMAT ")%s", id,
		           res ? res : "ended", json_integer_value(json_object_get(done, "exit_code")),
		           json_is_false(json_object_get(done, "verified")) ? ", verification failed" : "");
	}
	json_decref(done);
	return rc;
}

bool diagnosis_view_ask(const char *question)
{
	char answer[16] = "";
	int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
	ssize_t n;

	if (fd < 0)
		return false;
	if (write(fd, question, strlen(question)) < 0 || write(fd, " [y/N] ", 7) < 0) {
		close(fd);
		return false;
	}
	n = read(fd, answer, sizeof answer - 1);
	close(fd);
	return n > 0 && (answer[0] == 'y' || answer[0] == 'Y');
}
