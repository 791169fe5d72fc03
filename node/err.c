/* Lookup functions generated from NODE_ERR_MAP. */
#include <errno.h>

#include "node/err.h"

static const struct {
	int code;
	const char *app;
	const char *msg;
} err_table[NODE_ERR_COUNT] = {
#define NODE_ERR_ROW(name, c, a, m) [NODE_ERR_##name] = {c, a, m},
	NODE_ERR_MAP(NODE_ERR_ROW)
#undef NODE_ERR_ROW
};

int node_err_code(enum node_err e)
{
	return (unsigned)e < NODE_ERR_COUNT ? err_table[e].code : -32603;
}

const char *node_err_app(enum node_err e)
{
	return (unsigned)e < NODE_ERR_COUNT ? err_table[e].app : "internal";
}

const char *node_err_msg(enum node_err e)
{
	return (unsigned)e < NODE_ERR_COUNT ? err_table[e].msg
					    : "internal error";
}

enum node_err node_err_from_errno(int neg_errno)
{
	switch (-neg_errno) {
	case ENOENT:
		return NODE_ERR_NOT_FOUND;
	case ENOSPC:
		return NODE_ERR_STORE_FULL;
	case E2BIG:
	case EMSGSIZE:
		return NODE_ERR_TOOBIG;
	case EINVAL:
	case EBADMSG:
		return NODE_ERR_PARAMS;
	case EAGAIN:
		return NODE_ERR_BUSY;
	case EEXIST:
		return NODE_ERR_EXISTS;
	case ENOTCONN:
		return NODE_ERR_NOT_CONNECTED;
	case EPERM:
		return NODE_ERR_BAD_STATE;
	default:
		return NODE_ERR_INTERNAL;
	}
}
