/* What a JSON-RPC method handler sees (node/api.c implements it; method
 * files such as node/api_dht.c use it).
 *
 * A handler gets a struct rpc_call and must return the struct rpc_result
 * that only rpc_ok(), rpc_fail() or rpc_pending() produce (all
 * warn_unused_result), so no handler can forget to answer (after Core
 * Lightning's command_result).  A pending call is answered later, exactly
 * once, with rpc_later_ok() or rpc_later_fail(); if its client has gone by
 * then, the answer is dropped and the struct freed all the same. */
#ifndef PARLEY_NODE_RPC_H
#define PARLEY_NODE_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "node/err.h"
#include "node/jsonw.h"
#include "node/node.h"

#define RPC_WARN_UNUSED __attribute__((warn_unused_result))

struct rpc_call;
struct rpc_result;
struct rpc_later;

struct rpc_method {
	const char *name;
	struct rpc_result *(*fn)(struct rpc_call *call);
};

/* The node the call is for.  Its parameters are read with rpc_param_*. */
struct node *rpc_node(const struct rpc_call *call);

/* Answers with result, a JSON object whose reference is taken (NULL is
 * answered as an internal error: it is what a failed json_pack gives). */
RPC_WARN_UNUSED struct rpc_result *rpc_ok(struct rpc_call *call,
					  json_t *result);

/* The hot methods' way to answer, without a jansson tree: rpc_jw_begin
 * initialises w with the start of the answer line, the handler appends
 * exactly one JSON object (the result) with jsonw.h, and rpc_ok_jw sends
 * it and frees w.  A failure in w (no memory, over RPC_JW_MAX) is
 * answered as an internal error.  The rpc_later_ pair does the same for
 * a pending call, and frees the later as rpc_later_ok does. */
#define RPC_JW_MAX (16 * 1024 * 1024) /* bytes of one answer line */
void rpc_jw_begin(const struct rpc_call *call, struct jw *w);
RPC_WARN_UNUSED struct rpc_result *rpc_ok_jw(struct rpc_call *call,
					     struct jw *w);
void rpc_later_jw_begin(const struct rpc_later *later, struct jw *w);
void rpc_later_ok_jw(struct rpc_later *later, struct jw *w);

/* Answers with error e; field names the offending parameter or NULL; fmt
 * (may be NULL) replaces the default message. */
RPC_WARN_UNUSED struct rpc_result *rpc_fail(struct rpc_call *call,
					    enum node_err e, const char *field,
					    const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Promises a later answer; *later is what to answer it with.  On
 * out-of-memory the call is answered with an error and *later is NULL. */
RPC_WARN_UNUSED struct rpc_result *rpc_pending(struct rpc_call *call,
					       struct rpc_later **later);
void rpc_later_ok(struct rpc_later *later, json_t *result);
void rpc_later_fail(struct rpc_later *later, enum node_err e,
		    const char *field, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Parameter checks: each returns NULL when the parameter is fine, or the
 * failure answer (-32602 naming the field) to return at once.  A string
 * stays valid until the handler returns (copy what you keep); it never
 * holds a NUL (the request reader refuses \u0000). */
struct rpc_result *rpc_params_only(struct rpc_call *call,
				   const char *const *allowed);
struct rpc_result *rpc_param_string(struct rpc_call *call, const char *field,
				    bool required, size_t max_len,
				    const char **out);
struct rpc_result *rpc_param_u64(struct rpc_call *call, const char *field,
				 uint64_t *out, bool *present);
struct rpc_result *rpc_param_bool(struct rpc_call *call, const char *field,
				  bool *out, bool *present);
/* A hex string of exactly len bytes (2*len digits). */
struct rpc_result *rpc_param_hex(struct rpc_call *call, const char *field,
				 bool required, uint8_t *out, size_t len,
				 bool *present);

/* Methods defined outside api.c. */
extern const struct rpc_method rpc_dht_methods[];
extern const size_t rpc_dht_num_methods;
extern const struct rpc_method rpc_link_methods[];
extern const size_t rpc_link_num_methods;
extern const struct rpc_method rpc_chat_methods[];
extern const size_t rpc_chat_num_methods;

#endif
