/*
 * api_source.c - the source.* methods: open, write, error, close, and
 * following log files (docs/protocol.md).
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "conn.h"
#include "filewatch.h"
#include "incidents.h"
#include "protocol.h"
#include "rpc.h"
#include "source.h"

static const char *const source_kinds[] = { "notebook", "command", "log", "shell", NULL };

static bool known_kind(const char *kind)
{
	for (const char *const *k = source_kinds; *k; k++)
		if (strcmp(*k, kind) == 0)
			return true;
	return false;
}

/* The open source named by params.source that this connection owns, or NULL
 * after replying with the error. */
static struct source *owned_source(struct conn *c, json_t *id, json_t *params, bool required)
{
	json_int_t sid = 0;
	struct source *src;

	if (rpc_param_int(c, id, params, "source", required, 1, INT64_MAX, &sid) < 0)
		return NULL;
	if (!sid)
		return NULL;
	src = source_find(c->d, sid);
	if (!src || src->owner != c) {
		rpc_error(c, id, RPC_UNKNOWN_SOURCE, "unknown source: no open source with that id on this connection",
		          json_pack("{s:I}", "source", sid));
		return NULL;
	}
	return src;
}

void api_source_open(struct conn *c, json_t *id, json_t *params)
{
	const char *kind = NULL, *name = NULL;
	json_t *context = json_object_get(params, "context");
	bool raw = false;
	struct source *src;
	int rc;

	if (rpc_param_string(c, id, params, "kind", true, &kind) < 0 ||
	    rpc_param_string(c, id, params, "name", true, &name) < 0 ||
	    rpc_param_bool(c, id, params, "raw", &raw) < 0)
		return;
	if (!known_kind(kind)) {
		rpc_error(c, id, RPC_INVALID_PARAMS,
		          "invalid params: 'kind' must be one of notebook, command, log, shell",
		          json_pack("{s:s}", "param", "kind"));
		return;
	}
	if (context && !json_is_object(context)) {
		rpc_error(c, id, RPC_INVALID_PARAMS, "invalid params: 'context' must be an object",
		          json_pack("{s:s}", "param", "context"));
		return;
	}
	rc = source_open(c->d, c, kind, name, context, raw, &src);
	if (rc == -EMFILE) {
		rpc_error(c, id, RPC_LIMIT_REACHED, "too many open sources (limits.max_sources)", NULL);
		return;
	}
	if (rc < 0) {
		rpc_error(c, id, RPC_STORE_ERROR, "cannot open source: the store failed", NULL);
		return;
	}
	rpc_result(c, id, json_pack("{s:I}", "source", (json_int_t)src->id));
	if (raw)
		conn_set_raw(c, src);
}

void api_source_write(struct conn *c, json_t *id, json_t *params)
{
	json_t *text = json_object_get(params, "text");
	struct source *src = owned_source(c, id, params, true);

	if (!src)
		return;
	if (!json_is_string(text)) {
		rpc_error(c, id, RPC_INVALID_PARAMS, "invalid params: 'text' is required (a string)",
		          json_pack("{s:s}", "param", "text"));
		return;
	}
	source_feed(src, json_string_value(text), json_string_length(text));
	rpc_result(c, id, json_object());
}

/* traceback: an array of strings or one string; NULL-terminated copy of the
 * pointers (borrowed from params) in *lines. */
static int traceback_lines(json_t *tb, const char ***lines, size_t *n)
{
	size_t i;

	*lines = NULL;
	*n = 0;
	if (!tb || json_is_null(tb))
		return 0;
	if (json_is_string(tb)) {
		*lines = malloc(sizeof **lines);
		if (!*lines)
			return -ENOMEM;
		(*lines)[0] = json_string_value(tb);
		*n = 1;
		return 0;
	}
	if (!json_is_array(tb))
		return -EINVAL;
	*lines = calloc(json_array_size(tb) + 1, sizeof **lines);
	if (!*lines)
		return -ENOMEM;
	for (i = 0; i < json_array_size(tb); i++) {
		json_t *l = json_array_get(tb, i);
		if (!json_is_string(l)) {
			free(*lines);
			*lines = NULL;
			return -EINVAL;
		}
		(*lines)[i] = json_string_value(l);
	}
	*n = i;
	return 0;
}

void api_source_error(struct conn *c, json_t *id, json_t *params)
{
	const char *ename = NULL, *evalue = "";
	const char **lines;
	size_t n;
	struct source *src = NULL;
	struct incident_result res;
	char *context = NULL;
	dr_error *e;
	json_t *sv = json_object_get(params, "source");

	if (sv && !json_is_null(sv) && !(src = owned_source(c, id, params, false)))
		return;
	if (rpc_param_string(c, id, params, "ename", true, &ename) < 0 ||
	    rpc_param_string(c, id, params, "evalue", false, &evalue) < 0)
		return;
	if (traceback_lines(json_object_get(params, "traceback"), &lines, &n) < 0) {
		rpc_error(c, id, RPC_INVALID_PARAMS,
		          "invalid params: 'traceback' must be a string or an array of strings",
		          json_pack("{s:s}", "param", "traceback"));
		return;
	}
	e = dr_error_from_structured(ename, evalue, lines, n);
	free(lines);
	if (!e) {
		rpc_error(c, id, RPC_INTERNAL_ERROR, "out of memory", NULL);
		return;
	}
	if (src)
		context = source_context(src);
	if (incidents_report(c->d, src, e, context, &res) < 0)
		rpc_error(c, id, RPC_STORE_ERROR, "cannot record the error: the store failed", NULL);
	else
		rpc_result(c, id, json_pack("{s:I, s:b, s:I}", "incident", (json_int_t)res.id,
		                            "new", res.is_new, "count", (json_int_t)res.count));
	free(context);
}

void api_source_close(struct conn *c, json_t *id, json_t *params)
{
	struct source *src = owned_source(c, id, params, true);
	json_t *incidents;
	int64_t sid;

	if (!src)
		return;
	sid = src->id;
	incidents = source_finish(src);
	source_close(src);
	rpc_result(c, id, json_pack("{s:I, s:o}", "source", (json_int_t)sid,
	                            "incidents", incidents ? incidents : json_array()));
}

void api_source_watch_file(struct conn *c, json_t *id, json_t *params)
{
	const char *path = NULL, *name = NULL;
	bool from_start = false;
	struct source *src;
	char msg[200];
	int rc;

	if (rpc_param_string(c, id, params, "path", true, &path) < 0 ||
	    rpc_param_string(c, id, params, "name", false, &name) < 0 ||
	    rpc_param_bool(c, id, params, "from_start", &from_start) < 0)
		return;
	if (path[0] != '/') {
		rpc_error(c, id, RPC_INVALID_PARAMS, "invalid params: 'path' must be absolute",
		          json_pack("{s:s}", "param", "path"));
		return;
	}
	rc = filewatch_add(c->d, path, name, from_start, true, &src);
	if (rc == -EEXIST) {
		rpc_error(c, id, RPC_IO_ERROR, "that file is already watched", json_pack("{s:s}", "path", path));
		return;
	}
	if (rc < 0) {
		/* the path goes in data: cut into the message it could split a
		 * UTF-8 sequence */
		snprintf(msg, sizeof msg, "cannot watch the file: %s",
		         rc == -EINVAL ? "not a regular file" : strerror(-rc));
		rpc_error(c, id, rc == -EMFILE ? RPC_LIMIT_REACHED : RPC_IO_ERROR, msg,
		          json_pack("{s:s}", "path", path));
		return;
	}
	rpc_result(c, id, json_pack("{s:s, s:I}", "path", path, "source", (json_int_t)src->id));
}

void api_source_unwatch_file(struct conn *c, json_t *id, json_t *params)
{
	const char *path = NULL;

	if (rpc_param_string(c, id, params, "path", true, &path) < 0)
		return;
	if (filewatch_remove(c->d, path) < 0) {
		rpc_error(c, id, RPC_IO_ERROR, "that file is not watched", json_pack("{s:s}", "path", path));
		return;
	}
	rpc_result(c, id, json_object());
}
