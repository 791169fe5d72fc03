/* cli/proto.h: the JSON-RPC 2.0 messages of the local API, without I/O.
 *
 * DESIGN.md section 9: newline-delimited JSON-RPC 2.0, one compact object
 * per line, named params.  The client sends requests with integer ids; the
 * daemon answers each with a response (result or error) in request order
 * and, on a subscribed connection, sends notifications (no id). */
#ifndef PARLEY_CLI_PROTO_H
#define PARLEY_CLI_PROTO_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* JSON-RPC 2.0 section 5.1 error codes. */
#define CLI_RPC_PARSE_ERROR (-32700)
#define CLI_RPC_INVALID_REQUEST (-32600)
#define CLI_RPC_METHOD_NOT_FOUND (-32601)
#define CLI_RPC_INVALID_PARAMS (-32602)
#define CLI_RPC_INTERNAL_ERROR (-32603)

enum cli_msg_kind {
	CLI_MSG_RESULT, /* response carrying "result" */
	CLI_MSG_ERROR,	/* response carrying "error" */
	CLI_MSG_NOTIFY, /* notification: "method", no "id" */
};

/* One parsed line from the daemon.  Every pointer but root is borrowed
 * from root and lives as long as the message. */
struct cli_msg {
	enum cli_msg_kind kind;
	json_t *root;	     /* owned: the whole object */
	bool id_null;	     /* response with "id": null (request unreadable) */
	json_int_t id;	     /* response id when !id_null */
	json_t *result;	     /* CLI_MSG_RESULT: any JSON value */
	json_t *error;	     /* CLI_MSG_ERROR: the error object */
	json_int_t code;     /* CLI_MSG_ERROR: error.code */
	const char *message; /* CLI_MSG_ERROR: error.message */
	json_t *data;	     /* CLI_MSG_ERROR: error.data, or NULL */
	const char *app;     /* CLI_MSG_ERROR: error.data.app, or NULL */
	const char *field;   /* CLI_MSG_ERROR: error.data.field, or NULL */
	const char *method;  /* CLI_MSG_NOTIFY: "method" */
	json_t *params;	     /* CLI_MSG_NOTIFY: "params" (object), or NULL */
};

/* Parses one line (len bytes, need not be NUL-terminated).  It must be a
 * JSON object with "jsonrpc": "2.0" that is either a response (integer or
 * null "id", exactly one of "result" and "error"; an error has an integer
 * "code" and a string "message") or a notification (string "method",
 * object "params" if present, no "id").  Unknown members are ignored: the
 * API only adds fields.  Returns 0 and fills *m, -EBADMSG for anything
 * else, -ENOMEM.  On failure *m holds nothing to free. */
int cli_msg_parse(struct cli_msg *m, const char *line, size_t len);

/* Releases what cli_msg_parse() filled; NULL-safe, idempotent. */
void cli_msg_clear(struct cli_msg *m);

/* Encodes a request as one compact line ending in '\n'.  params must be a
 * JSON object or NULL (sent as {}).  Sets *out (caller frees) and *len.
 * Returns 0, -EINVAL (bad method or params), -ENOMEM. */
int cli_request_encode(json_int_t id, const char *method, json_t *params,
		       char **out, size_t *len);

/* Parses a params argument given on the command line: a JSON object,
 * duplicate keys refused.  Returns 0 and *out (caller decrefs), or -EINVAL
 * with a one-line reason in why (at least 160 bytes). */
int cli_params_parse(const char *text, json_t **out, char *why,
		     size_t why_size);

#endif
