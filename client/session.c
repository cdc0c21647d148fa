/*
 * session.c - a subcommand's conversation with the daemon: connecting,
 * calling, and turning every failure into one clear message and the exit
 * status docs/cli.md promises (1 for the daemon's errors, 3 when the daemon
 * cannot be reached or stops answering).
 */
#include <errno.h>
#include <string.h>

#include "doctor.h"

int doctor_connect(const struct doctor_globals *g, struct rpc_client **out)
{
	int rc;

	rc = rpc_client_connect(g->socket_path, out);
	if (rc == -ENOENT || rc == -ECONNREFUSED || rc == -ENOTDIR) {
		doctor_msg("the daemon is not running (%s at %s). Start it with: doctord",
		           rc == -ECONNREFUSED ? "nothing listens" : "no socket",
		           g->socket_path);
	} else if (rc == -EAGAIN) {
		doctor_msg("the daemon at %s is not accepting connections (too busy?)",
		           g->socket_path);
	} else if (rc < 0) {
		doctor_msg("cannot connect to the daemon at %s: %s", g->socket_path,
		           strerror(-rc));
	} else {
		rpc_client_set_timeout(*out, g->timeout_ms);
	}
	return rc;
}

void doctor_report_failure(const struct rpc_client *c, int rc,
                           const struct rpc_error *err)
{
	switch (rc) {
	case -EREMOTEIO:
		doctor_msg("%s (error %d)", err->message, err->code);
		break;
	case -ECONNRESET:
	case -EPIPE:
	case -ENOTCONN:
		doctor_msg("lost the connection to the daemon (%s)", rpc_client_path(c));
		break;
	case -ETIMEDOUT:
		doctor_msg("the daemon did not answer within %g s",
		           rpc_client_timeout(c) / 1000.0);
		break;
	case -EBADMSG:
		doctor_msg("the daemon sent a reply that is not JSON-RPC 2.0");
		break;
	default:
		doctor_msg("talking to the daemon failed: %s", strerror(-rc));
		break;
	}
}

int doctor_call(struct rpc_client *c, const char *method, json_t *params,
                json_t **result)
{
	struct rpc_error err;
	int rc;

	rc = rpc_client_call(c, method, params, result, &err);
	if (rc == 0 && !json_is_object(*result)) {
		json_decref(*result);
		*result = NULL;
		rc = -EBADMSG;
	}
	if (rc < 0)
		doctor_report_failure(c, rc, &err);
	return rc;
}

int doctor_exit_status(int rc)
{
	switch (rc) {
	case 0:
		return DOCTOR_EXIT_OK;
	case -ECONNRESET:
	case -EPIPE:
	case -ENOTCONN:
	case -ETIMEDOUT:
		return DOCTOR_EXIT_NO_DAEMON;
	default:
		return DOCTOR_EXIT_ERROR;
	}
}
