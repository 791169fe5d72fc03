/* JSON-RPC 2.0 over lines: request validation, the method table, the
 * handlers of the node's own methods, and the event pump.
 *
 * Ownership: struct api owns the list links of its clients but not the
 * clients (sys_api.c creates and frees them).  Each handler receives a
 * struct rpc_call and must return the struct rpc_result that only
 * rpc_ok() or rpc_fail() produce (warn_unused_result), so no handler can
 * forget to answer (after Core Lightning's command_result).
 *
 * Requests are read with node/jsonr.c into struct api's token array, and
 * the strings handlers ask for are unescaped into struct api's scratch
 * buffer; both are reused by the next line, so a handler must copy what
 * it keeps (as it had to with the jansson tree freed after each line).
 * Answers are built with jansson but for the hot ones (node.status, the
 * messages.send answer), written with node/jsonw.c through rpc_ok_jw. */
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
#include "node/chat.h"
#include "node/err.h"
#include "node/jsonr.h"
#include "node/log.h"
#include "node/msgstore.h"
#include "node/rpc.h"

/* Scratch for one line's strings: a line of len bytes holds at most len
 * bytes of unescaped strings with their NULs, so 2 * len + 2 lets every
 * string be read twice.  A buffer grown over SCRATCH_KEEP by a big line is
 * freed after it. */
#define SCRATCH_KEEP (64 * 1024)

struct api {
	struct node *node;
	struct api_client *clients;
	size_t num_clients;
	struct jsonr req; /* the line being handled */
	char *scratch;
	size_t scratch_len, scratch_cap;
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
	const struct jsonr *req;
	int params; /* token of the params object, or -1 (absent: {}) */
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

/* The unescaped text of string token t as a C string in the scratch
 * buffer (valid until the next line), or NULL when the buffer is full. */
static const char *scratch_str(struct api *a, int t)
{
	char *out = a->scratch + a->scratch_len;
	size_t n;

	if (jsonr_str(&a->req, t, out, a->scratch_cap - a->scratch_len, &n) < 0)
		return NULL;
	a->scratch_len += n + 1;
	return out;
}

/* The value of parameter field, or -1 when it is absent. */
static int param(const struct rpc_call *call, const char *field)
{
	return call->params < 0 ? -1
				: jsonr_get(call->req, call->params, field);
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

/* Starts an answer line written with jsonw: the envelope up to the
 * result, with id as jansson would write it (an integer, a string or
 * null; NULL for a notification, whose line is never sent). */
static void jw_begin(struct jw *w, const json_t *id)
{
	jw_init(w, RPC_JW_MAX);
	jw_lit(w, "{\"jsonrpc\":\"2.0\",\"id\":");
	if (json_is_integer(id) && json_integer_value(id) < 0) {
		jw_lit(w, "-");
		jw_u64(w, 0 - (uint64_t)json_integer_value(id));
	} else if (json_is_integer(id)) {
		jw_u64(w, (uint64_t)json_integer_value(id));
	} else if (json_is_string(id)) {
		jw_str(w, json_string_value(id), json_string_length(id));
	} else {
		jw_lit(w, "null");
	}
	jw_lit(w, ",\"result\":");
}

/* Ends and sends the line jw_begin started (and the handler went on). */
static void answer_ok_jw(struct api_client *c, json_t *id, struct jw *w)
{
	char *line;
	size_t len;
	int err;

	if (id == NULL || c == NULL) {
		jw_free(w);
		return;
	}
	jw_lit(w, "}\n");
	len = w->len;
	if ((line = jw_finish(w, &err)) == NULL) {
		send_error(c, id, NODE_ERR_INTERNAL, NULL,
			   err == -E2BIG ? "answer too big" : "out of memory");
		return;
	}
	c->ops.write(c->ops.self, line, len);
	free(line);
}

void rpc_jw_begin(const struct rpc_call *call, struct jw *w)
{
	jw_begin(w, call->id);
}

struct rpc_result *rpc_ok_jw(struct rpc_call *call, struct jw *w)
{
	answer_ok_jw(call->client, call->id, w);
	return &answered_token;
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

void rpc_later_jw_begin(const struct rpc_later *l, struct jw *w)
{
	jw_begin(w, l->id);
}

void rpc_later_ok_jw(struct rpc_later *l, struct jw *w)
{
	answer_ok_jw(l->client, l->id, w);
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
	const struct jsonr *j = call->req;
	const char *key;

	for (int k = jsonr_first(j, call->params); k >= 0;
	     k = jsonr_next(j, call->params, k)) {
		bool ok = false;

		for (size_t i = 0; allowed[i] != NULL && !ok; i++)
			ok = jsonr_str_eq(j, k, allowed[i]);
		if (ok)
			continue;
		if ((key = scratch_str(call->client->api, k)) == NULL)
			return rpc_fail(call, NODE_ERR_INTERNAL, NULL, NULL);
		return rpc_fail(call, NODE_ERR_PARAMS, key,
				"unknown parameter '%.64s'", key);
	}
	return NULL;
}

struct rpc_result *rpc_param_string(struct rpc_call *call, const char *field,
				    bool required, size_t max_len,
				    const char **out)
{
	int v = param(call, field);

	*out = NULL;
	if (v < 0) {
		if (required)
			return rpc_fail(call, NODE_ERR_PARAMS, field,
					"missing parameter '%s'", field);
		return NULL;
	}
	if (jsonr_type(call->req, v) != JSONR_STRING)
		return rpc_fail(call, NODE_ERR_PARAMS, field,
				"'%s' must be a string", field);
	if (jsonr_str_len(call->req, v) > max_len)
		return rpc_fail(call, NODE_ERR_PARAMS, field,
				"'%s' is longer than %zu bytes", field,
				max_len);
	/* jsonr refuses \u0000, so the string has no NUL inside. */
	if ((*out = scratch_str(call->client->api, v)) == NULL)
		return rpc_fail(call, NODE_ERR_INTERNAL, NULL, NULL);
	return NULL;
}

struct rpc_result *rpc_param_u64(struct rpc_call *call, const char *field,
				 uint64_t *out, bool *present)
{
	int v = param(call, field);
	int64_t i;

	*present = v >= 0;
	if (v < 0)
		return NULL;
	if (jsonr_int(call->req, v, &i) < 0 || i < 0)
		return rpc_fail(call, NODE_ERR_PARAMS, field,
				"'%s' must be a non-negative integer", field);
	*out = (uint64_t)i;
	return NULL;
}

struct rpc_result *rpc_param_bool(struct rpc_call *call, const char *field,
				  bool *out, bool *present)
{
	int v = param(call, field);

	*present = v >= 0;
	if (v >= 0 && jsonr_bool(call->req, v, out) < 0)
		return rpc_fail(call, NODE_ERR_PARAMS, field,
				"'%s' must be true or false", field);
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
					   "messages", "relay", NULL};

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

/* ,"key":"s" for a result written with jsonw; null when s is NULL. */
static void put_str(struct jw *w, const char *key, const char *s, int first)
{
	jw_key(w, key, first);
	if (s != NULL)
		jw_str(w, s, strlen(s));
	else
		jw_lit(w, "null");
}

static void put_u64(struct jw *w, const char *key, uint64_t v)
{
	jw_key(w, key, 0);
	jw_u64(w, v);
}

/* node.status is what monitors poll: written with jsonw (bench/bench_rpc
 * measures it). */
static struct rpc_result *m_node_status(struct rpc_call *call)
{
	struct node *n = call->client->api->node;
	struct rpc_result *r;
	struct jw w;
	uint64_t now;

	if ((r = rpc_params_only(call, no_params)) != NULL)
		return r;
	now = n->env->clock->mono_ms(n->env->clock->self);
	rpc_jw_begin(call, &w);
	jw_lit(&w, "{");
	put_str(&w, "version", PACKAGE_VERSION, 1);
	put_u64(&w, "uptime_ms", now - n->started_mono_ms);
	put_u64(&w, "pid", (uint64_t)n->pid);
	put_str(&w, "data_dir", n->data_dir, 0);
	put_str(&w, "socket", n->socket_path, 0);
	put_u64(&w, "clients", n->api->num_clients);
	put_u64(&w, "events_first_seq", n->events.first_seq);
	put_u64(&w, "events_last_seq", n->events.last_seq);
	put_str(&w, "node_id", n->node_id_hex, 0);
	put_u64(&w, "store_map_bytes", store_map_size(n->store));
	put_str(&w, "listen", n->listen_str, 0);
	put_str(&w, "node_key", n->node_key_hex, 0);
	if (n->chat != NULL) {
		static const char *const keys[] = {
			"contacts_held", "contacts_online", "texts_in",
			"texts_out", "texts_out_cached", "retransmits",
			"duplicates_in", "acks_in", "frames_in", "frames_out",
			"frames_dropped", "lookups", "records_put",
			"records_stored"};
		struct chat_status cs;

		chat_status(n->chat, &cs);
		const uint64_t vals[] = {
			cs.peers, cs.peers_online, cs.msgs_in, cs.msgs_out,
			cs.msgs_out_cached, cs.retransmits, cs.dup_in,
			cs.acks_in, cs.frames_in, cs.frames_out,
			cs.frames_dropped, cs.lookups, cs.records_put,
			cs.records_published};

		_Static_assert(sizeof keys / sizeof keys[0] ==
				       sizeof vals / sizeof vals[0],
			       "one key per value");
		jw_key(&w, "messaging", 0);
		jw_lit(&w, "{");
		for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
			jw_key(&w, keys[i], i == 0);
			jw_u64(&w, vals[i]);
		}
		jw_lit(&w, "}");
	}
	jw_lit(&w, "}");
	return rpc_ok_jw(call, &w);
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

static struct rpc_result *m_profile_get(struct rpc_call *call)
{
	struct node *n = call->client->api->node;
	char name[MSGSTORE_NAME_MAX + 1];
	struct rpc_result *r;
	int e;

	if ((r = rpc_params_only(call, no_params)) != NULL)
		return r;
	if ((e = msgstore_profile_get(n->msgs, name)) < 0)
		return rpc_fail(call, node_err_from_errno(e), NULL,
				"the stored profile does not open: %s",
				strerror(-e));
	return rpc_ok(call, json_pack("{s:s}", "name", name));
}

static struct rpc_result *m_profile_set(struct rpc_call *call)
{
	static const char *const allowed[] = {"name", NULL};
	struct node *n = call->client->api->node;
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
	if ((e = msgstore_profile_set(n->msgs, name)) < 0)
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
	const struct jsonr *j = call->req;
	struct rpc_result *r;
	uint64_t since = 0;
	bool has_since;
	int types, t;
	size_t i = 0;

	if ((r = rpc_params_only(call, allowed)) != NULL)
		return r;
	if ((r = rpc_param_u64(call, "since", &since, &has_since)) != NULL)
		return r;
	types = param(call, "types");
	if (types >= 0 && (jsonr_type(j, types) != JSONR_ARRAY ||
			   jsonr_count(j, types) > API_TYPES_MAX))
		return rpc_fail(call, NODE_ERR_PARAMS, "types",
				"'types' must be an array of at most %d "
				"strings",
				API_TYPES_MAX);
	for (t = jsonr_first(j, types); t >= 0; t = jsonr_next(j, types, t)) {
		if (jsonr_type(j, t) != JSONR_STRING ||
		    jsonr_str_len(j, t) >= EVENTS_TYPE_MAX)
			return rpc_fail(call, NODE_ERR_PARAMS, "types",
					"'types' must be an array of strings");
	}
	client_unsubscribe(c);
	for (t = jsonr_first(j, types); t >= 0; t = jsonr_next(j, types, t)) {
		char type[EVENTS_TYPE_MAX];
		size_t len;

		if (jsonr_str(j, t, type, sizeof type, &len) < 0 ||
		    (c->types[i] = strdup(type)) == NULL) {
			client_unsubscribe(c);
			return rpc_fail(call, NODE_ERR_INTERNAL, NULL, NULL);
		}
		c->num_types = ++i;
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

	snprintf(msg, sizeof msg, "request line over %d bytes", API_LINE_MAX);
	return send_error(c, json_null(), NODE_ERR_TOOBIG, NULL, msg);
}

/* The id of a request as jansson will write it back: an integer, a
 * string or null (id_valid() said so).  NULL when out of memory. */
static json_t *id_json(struct api *a, int id)
{
	const char *s;
	int64_t v;

	switch (jsonr_type(&a->req, id)) {
	case JSONR_INT:
		(void)jsonr_int(&a->req, id, &v);
		return json_integer((json_int_t)v);
	case JSONR_STRING:
		s = scratch_str(a, id);
		return s != NULL ? json_string(s) : NULL;
	case JSONR_NULL:
	case JSONR_FALSE:
	case JSONR_TRUE:
	case JSONR_REAL:
	case JSONR_ARRAY:
	case JSONR_OBJECT:
		break;
	}
	return json_null();
}

static bool id_valid(const struct jsonr *j, int id)
{
	enum jsonr_type type = jsonr_type(j, id);

	return type == JSONR_STRING || type == JSONR_INT || type == JSONR_NULL;
}

/* The key token of the first member of a request object that JSON-RPC
 * 2.0 does not define, or -1. */
static int unknown_member(const struct jsonr *j)
{
	static const char *const known[] = {"id", "jsonrpc", "method",
					    "params"};

	for (int k = jsonr_first(j, 0); k >= 0; k = jsonr_next(j, 0, k)) {
		bool ok = false;

		for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
			ok = ok || jsonr_str_eq(j, k, known[i]);
		if (!ok)
			return k;
	}
	return -1;
}

/* The method called name, or NULL. */
static const struct rpc_method *method_find(const char *name)
{
	static const struct {
		const struct rpc_method *table;
		const size_t *num;
	} tables[] = {
		{rpc_dht_methods, &rpc_dht_num_methods},
		{rpc_link_methods, &rpc_link_num_methods},
		{rpc_chat_methods, &rpc_chat_num_methods},
	};

	for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
		if (strcmp(methods[i].name, name) == 0)
			return &methods[i];
	for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++)
		for (size_t i = 0; i < *tables[t].num; i++)
			if (strcmp(tables[t].table[i].name, name) == 0)
				return &tables[t].table[i];
	return NULL;
}

/* Makes room in the scratch buffer for the strings of a line of len
 * bytes (see SCRATCH_KEEP). */
static int scratch_reserve(struct api *a, size_t len)
{
	size_t need = 2 * len + 2;
	char *b;

	a->scratch_len = 0;
	if (a->scratch_cap >= need)
		return 0;
	b = realloc(a->scratch, need);
	if (b == NULL)
		return -ENOMEM;
	a->scratch = b;
	a->scratch_cap = need;
	return 0;
}

static void scratch_trim(struct api *a)
{
	if (a->scratch_cap > SCRATCH_KEEP) {
		free(a->scratch);
		a->scratch = NULL;
		a->scratch_cap = 0;
	}
	a->scratch_len = 0;
}

/* Checks the envelope of the request parsed into a->req and calls its
 * method.  Returns what the answer's write returned (0 or -ENOMEM). */
static int handle(struct api_client *c, struct rpc_call *call)
{
	struct api *a = c->api;
	const struct jsonr *j = &a->req;
	const struct rpc_method *m;
	int ver, method, params, id, k;
	json_t *eid;
	const char *name;
	char msg[200];

	if (jsonr_type(j, 0) != JSONR_OBJECT)
		return send_error(c, json_null(), NODE_ERR_INVALID_REQUEST,
				  NULL,
				  jsonr_type(j, 0) == JSONR_ARRAY
					  ? "batch requests are not supported"
					  : "a request is a JSON object");
	id = jsonr_get(j, 0, "id");
	ver = jsonr_get(j, 0, "jsonrpc");
	method = jsonr_get(j, 0, "method");
	params = jsonr_get(j, 0, "params");
	if (id >= 0 && !id_valid(j, id))
		return send_error(c, json_null(), NODE_ERR_INVALID_REQUEST,
				  "id",
				  "'id' must be a string, an integer or null");
	if (id >= 0 && (call->id = id_json(a, id)) == NULL)
		return -ENOMEM;
	eid = call->id != NULL ? call->id : json_null();
	if (!jsonr_str_eq(j, ver, "2.0"))
		return send_error(c, eid, NODE_ERR_INVALID_REQUEST, "jsonrpc",
				  "'jsonrpc' must be \"2.0\"");
	if (method < 0 || jsonr_type(j, method) != JSONR_STRING)
		return send_error(c, eid, NODE_ERR_INVALID_REQUEST, "method",
				  "'method' must be a string");
	if (params >= 0 && jsonr_type(j, params) != JSONR_OBJECT)
		return send_error(c, eid, NODE_ERR_PARAMS, "params",
				  "'params' must be an object (named params)");
	if ((k = unknown_member(j)) >= 0) {
		if ((name = scratch_str(a, k)) == NULL)
			return -ENOMEM;
		snprintf(msg, sizeof msg, "unknown member '%.64s'", name);
		return send_error(c, eid, NODE_ERR_INVALID_REQUEST, name, msg);
	}
	if ((name = scratch_str(a, method)) == NULL)
		return -ENOMEM;
	call->req = j;
	call->params = params;
	if ((m = method_find(name)) != NULL) {
		(void)m->fn(call);
		return 0;
	}
	if (call->id == NULL)
		return 0;
	snprintf(msg, sizeof msg, "method '%.64s' not found", name);
	return send_error(c, call->id, NODE_ERR_METHOD, NULL, msg);
}

int api_client_line(struct api_client *c, const char *line, size_t len)
{
	struct api *a = c->api;
	struct rpc_call call = {.client = c, .params = -1};
	char msg[200];
	int r;

	/* Blank lines between requests are tolerated. */
	while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' '))
		len--;
	if (len == 0)
		return 0;
	if (jsonr_parse(&a->req, line, len) < 0) {
		snprintf(msg, sizeof msg, "parse error at byte %zu: %s",
			 a->req.err_pos, a->req.err_msg);
		return send_error(c, json_null(), NODE_ERR_PARSE, NULL, msg);
	}
	if ((r = scratch_reserve(a, len)) == 0)
		r = handle(c, &call);
	json_decref(call.id);
	scratch_trim(a);
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
	if (a == NULL)
		return;
	free(a->scratch);
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
