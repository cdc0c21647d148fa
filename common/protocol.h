/*
 * protocol.h - constants of doctor's wire protocol, shared by doctord and clients.
 *
 * The protocol is JSON-RPC 2.0, one JSON object per line, over a Unix stream
 * socket (docs/protocol.md is the reference). Error codes below are stable:
 * clients may switch on them.
 */
#ifndef DOCTOR_PROTOCOL_H
#define DOCTOR_PROTOCOL_H

#define DOCTOR_PROTOCOL_VERSION 1

/* JSON-RPC 2.0 standard codes */
#define RPC_PARSE_ERROR        (-32700) /* the line is not valid JSON */
#define RPC_INVALID_REQUEST    (-32600) /* valid JSON, not a JSON-RPC request */
#define RPC_METHOD_NOT_FOUND   (-32601)
#define RPC_INVALID_PARAMS     (-32602)
#define RPC_INTERNAL_ERROR     (-32603)

/* doctor's own codes (-32000 .. -32099, the server-error range) */
#define RPC_MESSAGE_TOO_LARGE  (-32001) /* a line longer than limits.max_message_bytes */
#define RPC_UNKNOWN_SOURCE     (-32002) /* no open source with that id on this connection */
#define RPC_UNKNOWN_INCIDENT   (-32003)
#define RPC_PERMISSION_DENIED  (-32004) /* peer uid differs from the daemon's */
#define RPC_STORE_ERROR        (-32005) /* the SQLite store failed */
#define RPC_LIMIT_REACHED      (-32006) /* too many connections, sources or watches */
#define RPC_SOURCE_CLOSED      (-32007) /* write to a source that was closed */
#define RPC_IO_ERROR           (-32008) /* a file the request named cannot be used */
#define RPC_SHUTTING_DOWN      (-32009)
#define RPC_UNKNOWN_REMEDY     (-32010)
#define RPC_REMEDY_STATE       (-32011) /* the remedy's state does not allow it */
#define RPC_PLUGIN_ERROR       (-32012) /* the plugin host failed */
#define RPC_CONFIG_ERROR       (-32013) /* the configuration file is invalid */
#define RPC_BUSY               (-32014) /* one at a time: a documentation
                                           indexing is already running */
#define RPC_NO_LLM             (-32015) /* explain: no LLM is configured */
#define RPC_UNKNOWN_RUN        (-32016) /* agent.run, diagnosis.cancel: no such
                                           agent run (or none in flight) */

#endif
