/*
 * api_docs.c - the documentation methods: docs.index and docs.search
 * (docs/protocol.md). Parameters are checked here, against the same bounds
 * as the docs.* settings; the work itself runs off the loop (docs_jobs.c),
 * which replies when it is done.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "conn.h"
#include "docs_jobs.h"
#include "protocol.h"
#include "rpc.h"

#define MAX_PATHS 256
#define MAX_QUERY_BYTES 65536
/* As the docs.* keys allow (config.c). */
#define MAX_CHARS_MIN 100
#define MAX_CHARS_MAX 100000
#define OVERLAP_MAX 50000
#define K_MAX 1000

static void invalid(struct conn *c, json_t *id, const char *message, const char *param)
{
	rpc_error(c, id, RPC_INVALID_PARAMS, message, json_pack("{s:s}", "param", param));
}

/* paths: a list of 1 to MAX_PATHS absolute paths, copied to req. Replies
 * and returns -EINVAL when it is not; -ENOMEM without replying. */
static int take_paths(struct conn *c, json_t *id, json_t *params,
                      struct docs_index_request *req)
{
	json_t *paths = json_object_get(params, "paths"), *p;
	char msg[200];
	size_t i, n = json_array_size(paths);

	if (!json_is_array(paths) || n == 0 || n > MAX_PATHS) {
		snprintf(msg, sizeof(msg), "invalid params: 'paths' must be a list of 1 to %d "
		         "absolute paths", MAX_PATHS);
		invalid(c, id, msg, "paths");
		return -EINVAL;
	}
	json_array_foreach(paths, i, p) {
		const char *path = json_string_value(p);

		if (!path || !*path || strlen(path) >= PATH_MAX) {
			snprintf(msg, sizeof(msg), "invalid params: paths[%zu] must be a path "
			         "(a non-empty string shorter than %d bytes)", i, PATH_MAX);
			invalid(c, id, msg, "paths");
			return -EINVAL;
		}
		if (path[0] != '/') {
			snprintf(msg, sizeof(msg), "invalid params: paths[%zu] is relative: "
			         "paths must be absolute (the daemon does not share the "
			         "client's working directory)", i);
			rpc_error(c, id, RPC_INVALID_PARAMS, msg,
			          json_pack("{s:s, s:s}", "param", "paths", "path", path));
			return -EINVAL;
		}
	}
	req->paths = calloc(n, sizeof(*req->paths));
	if (!req->paths)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		req->paths[i] = strdup(json_string_value(json_array_get(paths, i)));
		if (!req->paths[i])
			return -ENOMEM;
		req->npaths++;
	}
	return 0;
}

/* chunk: optional {strategy, max_chars, overlap} over the configured
 * chunking. Replies and returns -EINVAL on a bad value. */
static int take_chunk(struct conn *c, json_t *id, json_t *params, struct chunk_options *chunk)
{
	json_t *o = json_object_get(params, "chunk");
	const char *strategy = NULL;
	json_int_t max_chars = (json_int_t)chunk->max_chars, overlap = (json_int_t)chunk->overlap;
	char msg[200];

	if (!o || json_is_null(o))
		return 0;
	if (!json_is_object(o)) {
		invalid(c, id, "invalid params: 'chunk' must be an object {strategy, max_chars, "
		        "overlap}", "chunk");
		return -EINVAL;
	}
	if (rpc_param_string(c, id, o, "strategy", false, &strategy) < 0 ||
	    rpc_param_int(c, id, o, "max_chars", false, MAX_CHARS_MIN, MAX_CHARS_MAX,
	                  &max_chars) < 0 ||
	    rpc_param_int(c, id, o, "overlap", false, 0, OVERLAP_MAX, &overlap) < 0)
		return -EINVAL;
	if (strategy && strcasecmp(strategy, "section") == 0) {
		chunk->strategy = CHUNK_SECTION;
	} else if (strategy && strcasecmp(strategy, "paragraph") == 0) {
		chunk->strategy = CHUNK_PARAGRAPH;
	} else if (strategy) {
		invalid(c, id, "invalid params: 'strategy' must be \"section\" or \"paragraph\"",
		        "strategy");
		return -EINVAL;
	}
	if (overlap >= max_chars) {
		snprintf(msg, sizeof(msg), "invalid params: 'overlap' (%lld) must be less than "
		         "'max_chars' (%lld)", (long long)overlap, (long long)max_chars);
		invalid(c, id, msg, "overlap");
		return -EINVAL;
	}
	chunk->max_chars = (size_t)max_chars;
	chunk->overlap = (size_t)overlap;
	return 0;
}

static void request_release(struct docs_index_request *req)
{
	size_t i;

	for (i = 0; i < req->npaths; i++)
		free(req->paths[i]);
	free(req->paths);
	docs_options_release(&req->opt);
}

void api_docs_index(struct conn *c, json_t *id, json_t *params)
{
	struct doctord *d = c->d;
	struct docs_index_request req = { 0 };
	size_t done = 0, total = 0;
	int rc;

	if ((rc = config_docs_copy(&req.opt, &d->cfg.docs)) < 0)
		goto fail;
	if ((rc = take_paths(c, id, params, &req)) < 0 ||
	    (rc = take_chunk(c, id, params, &req.opt.chunk)) < 0) {
		if (rc == -EINVAL)
			goto replied;
		goto fail;
	}
	rc = docs_jobs_index(d->docs, c, id, &req);
fail:
	if (rc == -EBUSY) {
		docs_jobs_indexing(d->docs, &done, &total);
		rpc_error(c, id, RPC_BUSY, "busy: a documentation indexing is already running; "
		          "try again when it has finished", json_pack("{s:I, s:I}",
		          "done", (json_int_t)done, "total", (json_int_t)total));
	} else if (rc == -ESHUTDOWN) {
		rpc_error(c, id, RPC_SHUTTING_DOWN, "doctord is shutting down", NULL);
	} else if (rc < 0) {
		rpc_error(c, id, RPC_INTERNAL_ERROR, strerror(-rc), NULL);
	}
replied:
	request_release(&req);
}

void api_docs_search(struct conn *c, json_t *id, json_t *params)
{
	struct doctord *d = c->d;
	struct docs_options opt;
	const char *query = NULL;
	json_int_t k = d->cfg.docs.k;
	bool lexical_only = false;
	char msg[120];
	int rc;

	if (rpc_param_string(c, id, params, "query", true, &query) < 0 ||
	    rpc_param_int(c, id, params, "k", false, 1, K_MAX, &k) < 0 ||
	    rpc_param_bool(c, id, params, "lexical_only", &lexical_only) < 0)
		return;
	if (strlen(query) > MAX_QUERY_BYTES) {
		snprintf(msg, sizeof(msg), "invalid params: 'query' is too long (at most %d bytes)",
		         MAX_QUERY_BYTES);
		invalid(c, id, msg, "query");
		return;
	}
	if (config_docs_copy(&opt, &d->cfg.docs) < 0) {
		rpc_error(c, id, RPC_INTERNAL_ERROR, "out of memory", NULL);
		return;
	}
	rc = docs_jobs_search(d->docs, c, id, query, (unsigned)k, lexical_only, &opt);
	if (rc == -EAGAIN)
		rpc_error(c, id, RPC_LIMIT_REACHED, "too many documentation searches at once; "
		          "try again", NULL);
	else if (rc == -ESHUTDOWN)
		rpc_error(c, id, RPC_SHUTTING_DOWN, "doctord is shutting down", NULL);
	else if (rc < 0)
		rpc_error(c, id, RPC_INTERNAL_ERROR, strerror(-rc), NULL);
	if (rc < 0)
		docs_options_release(&opt);
}
