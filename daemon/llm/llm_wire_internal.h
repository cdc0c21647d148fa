/*
 * llm_wire_internal.h - what the wire format's files share and nothing
 * outside daemon/llm/ needs: reading an error out of a parsed JSON body
 * (llm_error.c), used by the response accumulator (chat_response.c) for
 * error chunks in a stream and error objects in a 200 body.
 */
#ifndef DOCTOR_LLM_WIRE_INTERNAL_H
#define DOCTOR_LLM_WIRE_INTERNAL_H

#include "llm_wire.h"

/* Whether body (borrowed) has the shape of an error: {"error": non-null},
 * {"object": "error", ...}, {"detail": ...} or, when it has no "choices",
 * a top-level string "message". */
bool llm_error_json_is_error(json_t *body);

/* Replace e with the error body describes (any shape llm_error_from_http
 * reads), of this kind and status; retry_after_ms -1. -ENOMEM. */
int llm_error_from_json(enum llm_error_kind kind, int status, json_t *body,
			struct llm_error *e);

#endif
