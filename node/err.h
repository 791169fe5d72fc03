/* The daemon's error table (STYLE.md section 4, after libuv's UV_ERRNO_MAP).
 * One X-macro generates the enum, the JSON-RPC code, the stable application
 * string apps can match on, and the human message.  Codes are part of the
 * API (docs/API.md): within a major version they are only ever added. */
#ifndef PARLEY_NODE_ERR_H
#define PARLEY_NODE_ERR_H

/* X(name, json-rpc code, app string, message) */
#define NODE_ERR_MAP(X)                                                        \
	X(PARSE, -32700, "parse_error", "parse error")                         \
	X(INVALID_REQUEST, -32600, "invalid_request", "invalid request")       \
	X(METHOD, -32601, "unknown_method", "method not found")                \
	X(PARAMS, -32602, "bad_params", "invalid params")                      \
	X(INTERNAL, -32603, "internal", "internal error")                      \
	X(TOOBIG, -32001, "too_big", "request exceeds its size limit")         \
	X(NOT_FOUND, -32002, "not_found", "not found")                         \
	X(STORE_FULL, -32003, "store_full", "storage is full")                 \
	X(BUSY, -32004, "busy", "daemon is busy, try again")                   \
	X(SHUTTING_DOWN, -32005, "shutting_down", "daemon is shutting down")  \
	X(UNREACHABLE, -32006, "unreachable", "no node of the network answered") \
	X(NO_DHT, -32007, "no_dht", "the DHT is not running")                 \
	X(EXISTS, -32008, "exists", "already exists")                          \
	X(NOT_CONNECTED, -32009, "not_connected", "the contact is not online") \
	X(BAD_STATE, -32010, "bad_state",                                      \
	  "not possible in the contact's current state")

enum node_err {
#define NODE_ERR_ENUM(name, code, app, msg) NODE_ERR_##name,
	NODE_ERR_MAP(NODE_ERR_ENUM)
#undef NODE_ERR_ENUM
		NODE_ERR_COUNT
};

int node_err_code(enum node_err e);
const char *node_err_app(enum node_err e);
const char *node_err_msg(enum node_err e);

/* Maps a negative errno from a lower layer to the closest API error. */
enum node_err node_err_from_errno(int neg_errno);

#endif
