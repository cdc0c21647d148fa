/*
 * chat_request.c - the body of a Chat Completions request, built from the
 * conversation, the tools and the options the agent chose; the transport
 * serialises and sends it.
 */
#include <errno.h>

#include "llm_wire.h"

/* json_object_set_new that tells failure (jansson frees value then). */
static int put(json_t *obj, const char *key, json_t *value)
{
	return value && json_object_set_new(obj, key, value) == 0 ? 0 : -ENOMEM;
}

static int put_options(const struct llm_request *r, json_t *body)
{
	int rc = 0;

	if (r->stream && rc == 0)
		rc = put(body, "stream_options", json_pack("{s:b}", "include_usage", 1));
	if (r->max_tokens > 0 && rc == 0)
		rc = put(body, "max_tokens", json_integer(r->max_tokens));
	if (r->temperature >= 0 && rc == 0)
		rc = put(body, "temperature", json_real(r->temperature));
	if (r->json_mode && rc == 0)
		rc = put(body, "response_format", json_pack("{s:s}", "type", "json_object"));
	return rc;
}

int llm_request_body(const struct llm_request *r, json_t **out)
{
	json_t *body, *model;
	int rc;

	*out = NULL;
	if (!r || !r->model || !*r->model || !json_is_array(r->messages) ||
	    (r->tools && !json_is_array(r->tools)))
		return -EINVAL;
	model = json_string(r->model);
	if (!model)
		return -EINVAL;         /* not UTF-8 */
	body = json_object();
	rc = body ? put(body, "model", model) : -ENOMEM;
	if (!body)
		json_decref(model);
	if (rc == 0)
		rc = put(body, "messages", json_incref(r->messages));
	if (rc == 0 && r->tools && json_array_size(r->tools) > 0) {
		rc = put(body, "tools", json_incref(r->tools));
		if (rc == 0)
			rc = put(body, "tool_choice",
				 json_string(r->no_tool_calls ? "none" : "auto"));
	}
	if (rc == 0)
		rc = put(body, "stream", json_boolean(r->stream));
	if (rc == 0)
		rc = put_options(r, body);
	if (rc < 0) {
		json_decref(body);
		return rc;
	}
	*out = body;
	return 0;
}
