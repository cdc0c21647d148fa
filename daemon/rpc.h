/*
 * rpc.h - the JSON-RPC 2.0 envelope: parsing request lines, dispatching them
 * to the method table (api.h), building replies, errors and notifications,
 * and reading typed parameters with uniform "invalid params" errors.
 *
 * Replies to a request without id (a notification) are never sent, per
 * JSON-RPC 2.0: every reply helper is a no-op when id is NULL.
 */
#ifndef DOCTOR_RPC_H
#define DOCTOR_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

struct conn;

/* Parse and run one request line (without its '\n'). */
void rpc_dispatch(struct conn *c, const char *line, size_t len);

/* Reply with result (stolen). */
void rpc_result(struct conn *c, json_t *id, json_t *result);
/* Reply with an error; data (stolen) may be NULL. id may be json_null() for
 * errors about unparseable lines: such errors are always sent. */
void rpc_error(struct conn *c, json_t *id, int code, const char *message, json_t *data);
/* Build a notification object; params stolen. */
json_t *rpc_notification(const char *method, json_t *params);

/* Typed parameter readers. On a missing required parameter or a wrong type
 * they reply -32602 naming the parameter and return -EINVAL; a missing
 * optional parameter leaves *out untouched and returns 0. */
int rpc_param_string(struct conn *c, json_t *id, json_t *params, const char *key,
                     bool required, const char **out);
int rpc_param_int(struct conn *c, json_t *id, json_t *params, const char *key,
                  bool required, json_int_t min, json_int_t max, json_int_t *out);
int rpc_param_bool(struct conn *c, json_t *id, json_t *params, const char *key,
                   bool *out);

#endif
