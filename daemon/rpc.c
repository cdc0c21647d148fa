/*
 * rpc.c - JSON-RPC 2.0 envelope handling for doctord (see rpc.h).
 */
#include <errno.h>
#include <string.h>

#include "api.h"
#include "conn.h"
#include "log.h"
#include "protocol.h"
#include "rpc.h"

/* ------------------------------------------------------------ replies */

void rpc_result(struct conn *c, json_t *id, json_t *result)
{
	if (!id) {
		json_decref(result);
		return;
	}
	conn_send(c, json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id,
	                       "result", result ? result : json_object()));
}

void rpc_error(struct conn *c, json_t *id, int code, const char *message, json_t *data)
{
	json_t *err;

	if (!id) {
		json_decref(data);
		return;
	}
	err = json_pack("{s:i, s:s}", "code", code, "message", message);
	if (!err)   /* a message that is not valid UTF-8: still answer */
		err = json_pack("{s:i, s:s}", "code", code, "message", "error");
	if (err && data)
		json_object_set_new(err, "data", data);
	else
		json_decref(data);
	conn_send(c, json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id, "error", err));
}

json_t *rpc_notification(const char *method, json_t *params)
{
	return json_pack("{s:s, s:s, s:o}", "jsonrpc", "2.0", "method", method,
	                 "params", params ? params : json_object());
}

/* ------------------------------------------------------------ dispatch */

static bool valid_id(const json_t *id)
{
	return json_is_string(id) || json_is_integer(id) || json_is_real(id) || json_is_null(id);
}

void rpc_dispatch(struct conn *c, const char *line, size_t len)
{
	json_error_t jerr;
	json_t *req, *id, *method, *params, *version;
	const struct api_method *m;
	json_t *null_id = json_null();

	/* DECODE_ANY: a bare scalar is valid JSON, so it is an invalid
	 * request (-32600), not a parse error */
	req = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (!req) {
		/* jansson may quote invalid UTF-8 from the line in its text */
		json_t *data = json_pack("{s:s, s:i}", "reason", jerr.text, "column", jerr.column);
		if (!data)
			data = json_pack("{s:i}", "column", jerr.column);
		rpc_error(c, null_id, RPC_PARSE_ERROR, "parse error: the line is not valid JSON", data);
		return;
	}
	if (!json_is_object(req)) {
		rpc_error(c, null_id, RPC_INVALID_REQUEST,
		          "invalid request: expected a JSON object (batches are not supported)", NULL);
		goto out;
	}
	id = json_object_get(req, "id");
	version = json_object_get(req, "jsonrpc");
	method = json_object_get(req, "method");
	params = json_object_get(req, "params");
	if (id && !valid_id(id)) {
		rpc_error(c, null_id, RPC_INVALID_REQUEST,
		          "invalid request: id must be a string or a number", NULL);
		goto out;
	}
	if (!json_is_string(version) || strcmp(json_string_value(version), "2.0") != 0 ||
	    !json_is_string(method)) {
		rpc_error(c, id ? id : null_id, RPC_INVALID_REQUEST,
		          "invalid request: need \"jsonrpc\": \"2.0\" and a string \"method\"", NULL);
		goto out;
	}
	if (params && !json_is_object(params)) {
		rpc_error(c, id, RPC_INVALID_PARAMS, "invalid params: params must be an object", NULL);
		goto out;
	}
	m = api_find(json_string_value(method));
	if (!m) {
		rpc_error(c, id, RPC_METHOD_NOT_FOUND, "method not found",
		          json_pack("{s:s}", "method", json_string_value(method)));
		goto out;
	}
	if (!params) {
		params = json_object();
		json_object_set_new(req, "params", params);
	}
	m->fn(c, id, params);
out:
	json_decref(req);
}

/* ------------------------------------------------------------ params */

static int bad_param(struct conn *c, json_t *id, const char *key, const char *want)
{
	char msg[200];

	snprintf(msg, sizeof msg, "invalid params: '%s' %s", key, want);
	rpc_error(c, id, RPC_INVALID_PARAMS, msg, json_pack("{s:s}", "param", key));
	return -EINVAL;
}

int rpc_param_string(struct conn *c, json_t *id, json_t *params, const char *key,
                     bool required, const char **out)
{
	json_t *v = json_object_get(params, key);

	if (!v || json_is_null(v))
		return required ? bad_param(c, id, key, "is required (a string)") : 0;
	if (!json_is_string(v))
		return bad_param(c, id, key, "must be a string");
	*out = json_string_value(v);
	return 0;
}

int rpc_param_int(struct conn *c, json_t *id, json_t *params, const char *key,
                  bool required, json_int_t min, json_int_t max, json_int_t *out)
{
	json_t *v = json_object_get(params, key);
	char want[120];

	snprintf(want, sizeof want, "must be an integer from %lld to %lld",
	         (long long)min, (long long)max);
	if (!v || json_is_null(v))
		return required ? bad_param(c, id, key, want) : 0;
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
		return bad_param(c, id, key, want);
	*out = json_integer_value(v);
	return 0;
}

int rpc_param_bool(struct conn *c, json_t *id, json_t *params, const char *key, bool *out)
{
	json_t *v = json_object_get(params, key);

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_boolean(v))
		return bad_param(c, id, key, "must be true or false");
	*out = json_is_true(v);
	return 0;
}
