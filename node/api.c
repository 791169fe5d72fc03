/* JSON-RPC 2.0 over lines: request validation, the method table, the
 * handlers of the node's own methods, and the event pump.
 *
 * Ownership: struct api owns the list links of its clients but not the
 * clients (sys_api.c creates and frees them).  Each handler receives a
 * struct rpc_call and must return the struct rpc_result that only
 * rpc_ok() or rpc_fail() produce (warn_unused_result), so no handler can
 * forget to answer (after Core Lightning's command_result). */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "crypto/cx.h"
#include "crypto/keys.h"
#include "node/api.h"
#include "node/err.h"
#include "node/log.h"
#include "node/rpc.h"

struct api {
	struct node *node;
	struct api_client *clients;
	size_t num_clients;
};

struct api_client {
	struct api *api;
	struct api_client_ops ops;
	struct api_client *next, *prev;
	struct rpc_later *later; /* calls still to be answered */
	bool subscribed;
	uint64_t cursor; /* last event seq sent (or skipped by the filter) */
	size_t num_types;
	char *types[API_TYPES_MAX];
};

struct rpc_call {
	struct api_client *client;
	json_t *id; /* NULL for a notification: no answer is sent */
	json_t *params;
};

/* The token a handler returns; its content is never looked at. */
struct rpc_result {
	int answered;
};
static struct rpc_result answered_token = {1};

/* A call answered later; client is NULL once the client has gone. */
struct rpc_later {
	struct api_client *client;
	json_t *id;
	struct rpc_later *next, *prev;
};

struct node *rpc_node(const struct rpc_call *call)
{
	return call->client->api->node;
}

json_t *rpc_params(const struct rpc_call *call)
{
	return call->params;
}

static int send_json(struct api_client *c, json_t *obj)
{
	char *s = json_dumps(obj, JSON_COMPACT);
	size_t n;
	int r;

	if (s == NULL)
		return -ENOMEM;
	n = strlen(s);
	s[n] = '\n'; /* replaces the NUL; we pass the length */
	r = c->ops.write(c->ops.self, s, n + 1);
	free(s);
	return r;
}

static int send_error(struct api_client *c, json_t *id, enum node_err e,
		      const char *field, const char *detail)
{
	json_t *data = json_pack("{s:s}", "app", node_err_app(e));
	json_t *resp;
	int r;

	if (data != NULL && field != NULL)
		json_object_set_new(data, "field", json_string(field));
	resp = json_pack("{s:s, s:O?, s:{s:i, s:s, s:o*}}", "jsonrpc", "2.0",
			 "id", id, "error", "code", node_err_code(e),
			 "message", detail != NULL ? detail : node_err_msg(e),
			 "data", data);
	if (resp == NULL)
		return -ENOMEM;
	r = send_json(c, resp);
	json_decref(resp);
	return r;
}

static void answer_ok(struct api_client *c, json_t *id, json_t *result)
{
	json_t *resp;

	if (id == NULL || c == NULL) {
		json_decref(result);
		return;
	}
	if (result == NULL) {
		send_error(c, id, NODE_ERR_INTERNAL, NULL, "out of memory");
		return;
	}
	resp = json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id,
			 "result", result);
	if (resp != NULL) {
		send_json(c, resp);
		json_decref(resp);
	}
}

static void answer_fail(struct api_client *c, json_t *id, enum node_err e,
			const char *field, const char *fmt, va_list ap)
	__attribute__((format(printf, 5, 0)));

static void answer_fail(struct api_client *c, json_t *id, enum node_err e,
			const char *field, const char *fmt, va_list ap)
{
	char msg[256];

	if (id == NULL || c == NULL)
		return;
	if (fmt != NULL)
		vsnprintf(msg, sizeof msg, fmt, ap);
	send_error(c, id, e, field, fmt != NULL ? msg : NULL);
}

struct rpc_result *rpc_ok(struct rpc_call *call, json_t *result)
{
	answer_ok(call->client, call->id, result);
	return &answered_token;
}

struct rpc_result *rpc_fail(struct rpc_call *call, enum node_err e,
			    const char *field, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	answer_fail(call->client, call->id, e, field, fmt, ap);
	va_end(ap);
	return &answered_token;
}

struct rpc_result *rpc_pending(struct rpc_call *call, struct rpc_later **out)
{
	struct api_client *c = call->client;
	struct rpc_later *l = calloc(1, sizeof *l);

	*out = NULL;
	if (l == NULL)
		return rpc_fail(call, NODE_ERR_INTERNAL, NULL, "out of memory");
	l->client = c;
	l->id = call->id != NULL ? json_incref(call->id) : NULL;
	l->next = c->later;
	if (c->later != NULL)
		c->later->prev = l;
	c->later = l;
	*out = l;
	return &answered_token;
}

static void later_free(struct rpc_later *l)
{
	if (l->client != NULL) {
		if (l->prev != NULL)
			l->prev->next = l->next;
		else
			l->client->later = l->next;
		if (l->next != NULL)
			l->next->prev = l->prev;
	}
	json_decref(l->id);
	free(l);
}

void rpc_later_ok(struct rpc_later *l, json_t *result)
{
	answer_ok(l->client, l->id, result);
	later_free(l);
}

void rpc_later_fail(struct rpc_later *l, enum node_err e, const char *field,
		    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	answer_fail(l->client, l->id, e, field, fmt, ap);
	va_end(ap);
	later_free(l);
}

/* --- parameter helpers: NULL when fine, else the failure answer --- */

/* Fails on any member of params not in allowed (NULL-terminated). */
struct rpc_result *rpc_params_only(struct rpc_call *call,
				   const char *const *allowed)
{
	const char *key;
	json_t *v;

	json_object_foreach(call->params, key, v)
	{
		bool ok = false;

		for (size_t i = 0; allowed[i] != NULL; i++)
			ok = ok || strcmp(key, allowed[i]) == 0;
		if (!ok)
			return rpc_fail(call, NODE_ERR_PARAMS, key,
					"unknown parameter '%.64s'", key);
	}
	return NULL;
}

struct rpc_result *rpc_param_string(struct rpc_call *call, const char *field,
				    bool required, size_t max_len,
				    const char **out)
{
	json_t *v = json_object_get(call->params, field);

	*out = NULL;
	if (v == NULL) {
		if (required)
			return rpc_fail(call, NODE_ERR_PARAMS, field,
					"missing parameter '%s'", field);
		return NULL;
	}
	if (!json_is_string(v))
		return rpc_fail(call, NODE_ERR_PARAMS, field,
				"'%s' must be a string", field);
	if (json_string_length(v) > max_len)
		return rpc_fail(call, NODE_ERR_PARAMS, field,
				"'%s' is longer than %zu bytes", field,
				max_len);
	if (strlen(json_string_value(v)) != json_string_length(v))
		return rpc_fail(call, NODE_ERR_PARAMS, field,
				"'%s' contains a NUL character", field);
	*out = json_string_value(v);
	return NULL;
}

struct rpc_result *rpc_param_u64(struct rpc_call *call, const char *field,
				 uint64_t *out, bool *present)
{
	json_t *v = json_object_get(call->params, field);

	*present = v != NULL;
	if (v == NULL)
		return NULL;
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return rpc_fail(call, NODE_ERR_PARAMS, field,
				"'%s' must be a non-negative integer", field);
	*out = (uint64_t)json_integer_value(v);
	return NULL;
}

struct rpc_result *rpc_param_hex(struct rpc_call *call, const char *field,
				 bool required, uint8_t *out, size_t len,
				 bool *present)
{
	const char *hex;
	struct rpc_result *r;

	*present = false;
	if ((r = rpc_param_string(call, field, required, len * 2, &hex)) !=
	    NULL)
		return r;
	if (hex == NULL)
		return NULL;
	if (cx_hex_decode(out, len, hex) < 0)
		return rpc_fail(call, NODE_ERR_PARAMS, field,
				"'%s' must be %zu hex digits", field, len * 2);
	*present = true;
	return NULL;
}

/* --- methods --- */

static const char *const no_params[] = {NULL};

static const char *const capabilities[] = {"events", "identity", "profile",
					   "dht", "links", "contacts",
					   "messages", NULL};

static struct rpc_result *m_api_version(struct rpc_call *call)
{
	json_t *caps;
	struct rpc_result *r;

	if ((r = rpc_params_only(call, no_params)) != NULL)
		return r;
	caps = json_array();
	for (size_t i = 0; caps != NULL && capabilities[i] != NULL; i++)
		json_array_append_new(caps, json_string(capabilities[i]));
	return rpc_ok(call, json_pack("{s:s, s:i, s:i, s:s, s:o}", "version",
				      "1.0", "major", API_VERSION_MAJOR,
				      "minor", API_VERSION_MINOR, "daemon",
				      "parleyd " PACKAGE_VERSION,
				      "capabilities", caps));
}

static struct rpc_result *m_node_status(struct rpc_call *call)
{
	struct node *n = call->client->api->node;
	struct rpc_result *r;
	uint64_t now;

	if ((r = rpc_params_only(call, no_params)) != NULL)
		return r;
	now = n->env->clock->mono_ms(n->env->clock->self);
	return rpc_ok(
		call,
		json_pack("{s:s, s:I, s:i, s:s, s:s, s:I, s:I, s:I, s:s, s:I, "
			  "s:s, s:s}",
			  "version", PACKAGE_VERSION, "uptime_ms",
			  (json_int_t)(now - n->started_mono_ms), "pid",
			  n->pid, "data_dir", n->data_dir, "socket",
			  n->socket_path, "clients",
			  (json_int_t)n->api->num_clients, "events_first_seq",
			  (json_int_t)n->events.first_seq, "events_last_seq",
			  (json_int_t)n->events.last_seq, "node_id",
			  n->node_id_hex,
			  "store_map_bytes",
			  (json_int_t)store_map_size(n->store), "listen",
			  n->listen_str, "node_key", n->node_key_hex));
}

static struct rpc_result *m_identity_get(struct rpc_call *call)
{
	struct node *n = call->client->api->node;
	const struct cx_identity *id = &n->identity;
	char uri[sizeof CX_URI_PREFIX + CX_CONTACT_ID_LEN];
	char acct[CX_ED_PK_LEN * 2 + 1], dev[CX_ED_PK_LEN * 2 + 1];
	struct rpc_result *r;

	if ((r = rpc_params_only(call, no_params)) != NULL)
		return r;
	snprintf(uri, sizeof uri, "%s%s", CX_URI_PREFIX, n->contact_id);
	cx_hex_encode(acct, sizeof acct, id->account_pk, CX_ED_PK_LEN);
	cx_hex_encode(dev, sizeof dev, id->device_pk, CX_ED_PK_LEN);
	return rpc_ok(call,
		      json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:b}", "id",
				n->contact_id, "uri", uri, "account_key", acct,
				"device_key", dev, "node_id", n->node_id_hex,
				"created_at", (json_int_t)id->created_s,
				"sealed", n->identity_sealed));
}

static const char profile_key[] = "profile.name";

struct profile_io {
	char name[NODE_PROFILE_NAME_MAX + 1];
	size_t len;
};

static int profile_read(struct store_txn *t, void *ctx)
{
	struct profile_io *p = ctx;
	int r = store_get(t, STORE_TABLE_META, profile_key,
			  sizeof profile_key - 1, p->name,
			  NODE_PROFILE_NAME_MAX, &p->len);

	if (r == -ENOENT) {
		p->len = 0;
		return 0;
	}
	return r;
}

static int profile_write(struct store_txn *t, void *ctx)
{
	struct profile_io *p = ctx;

	return store_put(t, STORE_TABLE_META, profile_key,
			 sizeof profile_key - 1, p->name, p->len);
}

static struct rpc_result *m_profile_get(struct rpc_call *call)
{
	struct node *n = call->client->api->node;
	struct profile_io p;
	struct rpc_result *r;
	int e;

	if ((r = rpc_params_only(call, no_params)) != NULL)
		return r;
	if ((e = store_read(n->store, profile_read, &p)) < 0)
		return rpc_fail(call, node_err_from_errno(e), NULL, NULL);
	return rpc_ok(call, json_pack("{s:s%}", "name", p.name, p.len));
}

static struct rpc_result *m_profile_set(struct rpc_call *call)
{
	static const char *const allowed[] = {"name", NULL};
	struct node *n = call->client->api->node;
	struct profile_io p;
	struct rpc_result *r;
	const char *name;
	json_t *ev;
	char *ev_s;
	int e;

	if ((r = rpc_params_only(call, allowed)) != NULL)
		return r;
	if ((r = rpc_param_string(call, "name", true, NODE_PROFILE_NAME_MAX,
			      &name)) != NULL)
		return r;
	p.len = strlen(name);
	memcpy(p.name, name, p.len);
	if ((e = store_write(n->store, profile_write, &p)) < 0)
		return rpc_fail(call, node_err_from_errno(e), NULL, NULL);
	ev = json_pack("{s:s}", "name", name);
	ev_s = ev != NULL ? json_dumps(ev, JSON_COMPACT) : NULL;
	json_decref(ev);
	if (ev_s == NULL)
		return rpc_fail(call, NODE_ERR_INTERNAL, NULL, NULL);
	e = node_emit(n, "profile.updated", ev_s);
	free(ev_s);
	if (e < 0)
		return rpc_fail(call, node_err_from_errno(e), NULL, NULL);
	return rpc_ok(call, json_pack("{s:s}", "name", name));
}

static void client_unsubscribe(struct api_client *c)
{
	for (size_t i = 0; i < c->num_types; i++)
		free(c->types[i]);
	c->num_types = 0;
	c->subscribed = false;
}

static void client_pump(struct api_client *c);

static struct rpc_result *m_events_subscribe(struct rpc_call *call)
{
	static const char *const allowed[] = {"types", "since", NULL};
	struct api_client *c = call->client;
	struct node *n = c->api->node;
	struct rpc_result *r;
	uint64_t since = 0;
	bool has_since;
	json_t *types, *t;
	size_t i;

	if ((r = rpc_params_only(call, allowed)) != NULL)
		return r;
	if ((r = rpc_param_u64(call, "since", &since, &has_since)) != NULL)
		return r;
	types = json_object_get(call->params, "types");
	if (types != NULL && (!json_is_array(types) ||
			      json_array_size(types) > API_TYPES_MAX))
		return rpc_fail(call, NODE_ERR_PARAMS, "types",
				"'types' must be an array of at most %d "
				"strings",
				API_TYPES_MAX);
	json_array_foreach(types, i, t)
	{
		if (!json_is_string(t) ||
		    json_string_length(t) >= EVENTS_TYPE_MAX)
			return rpc_fail(call, NODE_ERR_PARAMS, "types",
					"'types' must be an array of strings");
	}
	client_unsubscribe(c);
	json_array_foreach(types, i, t)
	{
		c->types[i] = strdup(json_string_value(t));
		if (c->types[i] == NULL) {
			client_unsubscribe(c);
			return rpc_fail(call, NODE_ERR_INTERNAL, NULL, NULL);
		}
		c->num_types = i + 1;
	}
	/* Without since, only events from now on. */
	c->cursor = has_since ? since : n->events.last_seq;
	if (c->cursor > n->events.last_seq)
		c->cursor = n->events.last_seq;
	c->subscribed = true;
	r = rpc_ok(call, json_pack("{s:I, s:I}", "last_seq",
				   (json_int_t)n->events.last_seq,
				   "first_seq",
				   (json_int_t)n->events.first_seq));
	client_pump(c);
	return r;
}

static struct rpc_result *m_events_unsubscribe(struct rpc_call *call)
{
	struct rpc_result *r;
	bool was = call->client->subscribed;

	if ((r = rpc_params_only(call, no_params)) != NULL)
		return r;
	client_unsubscribe(call->client);
	return rpc_ok(call, json_pack("{s:b}", "was_subscribed", was));
}

static struct rpc_result *m_node_stop(struct rpc_call *call)
{
	struct node *n = call->client->api->node;
	struct rpc_result *r;

	if ((r = rpc_params_only(call, no_params)) != NULL)
		return r;
	r = rpc_ok(call, json_pack("{s:b}", "stopping", 1));
	if (n->request_stop != NULL)
		n->request_stop(n->stop_self);
	return r;
}

static const struct rpc_method methods[] = {
	{"api.version", m_api_version},
	{"node.status", m_node_status},
	{"node.stop", m_node_stop},
	{"identity.get", m_identity_get},
	{"profile.get", m_profile_get},
	{"profile.set", m_profile_set},
	{"events.subscribe", m_events_subscribe},
	{"events.unsubscribe", m_events_unsubscribe},
};

/* --- the event pump --- */

struct pump_ctx {
	struct api_client *c;
	int err;
};

static bool type_wanted(const struct api_client *c, const char *type)
{
	if (c->num_types == 0)
		return true;
	for (size_t i = 0; i < c->num_types; i++)
		if (strcmp(c->types[i], type) == 0)
			return true;
	return false;
}

static int pump_cb(void *ctx, uint64_t seq, const char *type,
		   const char *json, size_t json_len)
{
	static const char head[] = "{\"jsonrpc\":\"2.0\",\"method\":\"event\","
				   "\"params\":";
	struct pump_ctx *p = ctx;
	struct api_client *c = p->c;
	char *line;
	size_t n;

	c->cursor = seq;
	if (!type_wanted(c, type))
		return 0;
	n = sizeof head - 1 + json_len + 2;
	line = malloc(n);
	if (line == NULL) {
		p->err = -ENOMEM;
		return 1;
	}
	memcpy(line, head, sizeof head - 1);
	memcpy(line + sizeof head - 1, json, json_len);
	line[n - 2] = '}';
	line[n - 1] = '\n';
	p->err = c->ops.write(c->ops.self, line, n);
	free(line);
	if (p->err < 0)
		return 1;
	return c->ops.queued(c->ops.self) >= API_CLIENT_HIGH_WATER ? 1 : 0;
}

/* Sends the client what it has not seen, until it is caught up or its
 * queue reaches the high water mark.  A client whose cursor fell behind
 * the oldest kept event is told so and unsubscribed: it re-subscribes
 * with since = resume_since. */
static void client_pump(struct api_client *c)
{
	struct events *ev = &c->api->node->events;
	struct pump_ctx p = {.c = c};
	int n;

	while (c->subscribed && c->cursor < ev->last_seq &&
	       c->ops.queued(c->ops.self) < API_CLIENT_HIGH_WATER) {
		if (c->cursor + 1 < ev->first_seq) {
			json_t *o = json_pack(
				"{s:s, s:s, s:{s:I, s:I, s:I}}", "jsonrpc",
				"2.0", "method", "events.overflow", "params",
				"resume_since", (json_int_t)(ev->first_seq - 1),
				"missed_from", (json_int_t)(c->cursor + 1),
				"missed_to", (json_int_t)(ev->first_seq - 1));
			if (o != NULL) {
				send_json(c, o);
				json_decref(o);
			}
			log_warn("api: client fell behind the event log "
				 "(seq %llu pruned)",
				 (unsigned long long)(c->cursor + 1));
			client_unsubscribe(c);
			return;
		}
		n = events_read(ev, c->cursor, API_EVENT_BATCH, pump_cb, &p);
		if (n < 0 || p.err < 0) {
			log_error("api: event pump failed: %d/%d", n, p.err);
			return;
		}
		if (n == 0)
			return;
	}
}

void api_events_notify(struct api *a)
{
	for (struct api_client *c = a->clients; c != NULL; c = c->next)
		client_pump(c);
}

void api_client_drained(struct api_client *c)
{
	client_pump(c);
}

/* --- requests --- */

int api_client_line_too_big(struct api_client *c)
{
	char msg[96];

	snprintf(msg, sizeof msg, "request line over %d bytes",
		 API_LINE_MAX);
	return send_error(c, json_null(), NODE_ERR_TOOBIG, NULL, msg);
}

static bool id_valid(const json_t *id)
{
	return json_is_string(id) || json_is_integer(id) || json_is_null(id);
}

/* The first member of a request object that JSON-RPC 2.0 does not
 * define, or NULL. */
static const char *unknown_member(json_t *req)
{
	const char *k;
	json_t *v;

	json_object_foreach(req, k, v)
	{
		if (strcmp(k, "id") != 0 && strcmp(k, "jsonrpc") != 0 &&
		    strcmp(k, "method") != 0 && strcmp(k, "params") != 0)
			return k;
	}
	return NULL;
}

int api_client_line(struct api_client *c, const char *line, size_t len)
{
	struct rpc_call call = {.client = c};
	json_error_t jerr;
	json_t *req, *ver, *method, *params, *id;
	const char *name;
	char msg[200];
	int r = 0;

	/* Blank lines between requests are tolerated. */
	while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' '))
		len--;
	if (len == 0)
		return 0;
	req = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
			 &jerr);
	if (req == NULL) {
		snprintf(msg, sizeof msg, "parse error at byte %d: %s",
			 jerr.position, jerr.text);
		return send_error(c, json_null(), NODE_ERR_PARSE, NULL, msg);
	}
	if (!json_is_object(req)) {
		r = send_error(c, json_null(), NODE_ERR_INVALID_REQUEST, NULL,
			       json_is_array(req)
				       ? "batch requests are not supported"
				       : "a request is a JSON object");
		goto out;
	}
	id = json_object_get(req, "id");
	ver = json_object_get(req, "jsonrpc");
	method = json_object_get(req, "method");
	params = json_object_get(req, "params");
	if (id != NULL && !id_valid(id)) {
		r = send_error(c, json_null(), NODE_ERR_INVALID_REQUEST, "id",
			       "'id' must be a string, an integer or null");
		goto out;
	}
	call.id = id;
	if (!json_is_string(ver) || strcmp(json_string_value(ver), "2.0")) {
		r = send_error(c, id ? id : json_null(),
			       NODE_ERR_INVALID_REQUEST, "jsonrpc",
			       "'jsonrpc' must be \"2.0\"");
		goto out;
	}
	if (!json_is_string(method)) {
		r = send_error(c, id ? id : json_null(),
			       NODE_ERR_INVALID_REQUEST, "method",
			       "'method' must be a string");
		goto out;
	}
	if (params != NULL && !json_is_object(params)) {
		r = send_error(c, id ? id : json_null(), NODE_ERR_PARAMS,
			       "params",
			       "'params' must be an object (named params)");
		goto out;
	}
	if ((name = unknown_member(req)) != NULL) {
		snprintf(msg, sizeof msg, "unknown member '%.64s'", name);
		r = send_error(c, id ? id : json_null(),
			       NODE_ERR_INVALID_REQUEST, name, msg);
		goto out;
	}
	call.params = params != NULL ? params : json_object();
	name = json_string_value(method);
	for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
		if (strcmp(methods[i].name, name) == 0) {
			(void)methods[i].fn(&call);
			goto out_params;
		}
	}
	for (size_t i = 0; i < rpc_dht_num_methods; i++) {
		if (strcmp(rpc_dht_methods[i].name, name) == 0) {
			(void)rpc_dht_methods[i].fn(&call);
			goto out_params;
		}
	}
	for (size_t i = 0; i < rpc_link_num_methods; i++) {
		if (strcmp(rpc_link_methods[i].name, name) == 0) {
			(void)rpc_link_methods[i].fn(&call);
			goto out_params;
		}
	}
	for (size_t i = 0; i < rpc_chat_num_methods; i++) {
		if (strcmp(rpc_chat_methods[i].name, name) == 0) {
			(void)rpc_chat_methods[i].fn(&call);
			goto out_params;
		}
	}
	if (id != NULL) {
		snprintf(msg, sizeof msg, "method '%.64s' not found", name);
		r = send_error(c, id, NODE_ERR_METHOD, NULL, msg);
	}
out_params:
	if (params == NULL)
		json_decref(call.params);
out:
	json_decref(req);
	return r;
}

bool api_client_busy(const struct api_client *c)
{
	return c->later != NULL;
}

/* --- lifetime --- */

int api_new(struct api **out, struct node *n)
{
	struct api *a = calloc(1, sizeof *a);

	*out = NULL;
	if (a == NULL)
		return -ENOMEM;
	a->node = n;
	*out = a;
	return 0;
}

void api_free(struct api *a)
{
	free(a);
}

size_t api_num_clients(const struct api *a)
{
	return a->num_clients;
}

int api_client_new(struct api *a, const struct api_client_ops *ops,
		   struct api_client **out)
{
	struct api_client *c;

	*out = NULL;
	if (a->num_clients >= API_CLIENTS_MAX)
		return -EMFILE;
	c = calloc(1, sizeof *c);
	if (c == NULL)
		return -ENOMEM;
	c->api = a;
	c->ops = *ops;
	c->next = a->clients;
	if (a->clients != NULL)
		a->clients->prev = c;
	a->clients = c;
	a->num_clients++;
	*out = c;
	return 0;
}

void api_client_free(struct api_client *c)
{
	if (c == NULL)
		return;
	client_unsubscribe(c);
	/* Calls still running answer into the void. */
	for (struct rpc_later *l = c->later; l != NULL; l = l->next)
		l->client = NULL;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		c->api->clients = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	c->api->num_clients--;
	free(c);
}
