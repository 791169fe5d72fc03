/* The contacts.*, messages.* and settings.* methods (docs/API.md): thin
 * JSON over node/chat.c and node/msgstore.c. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "crypto/safety.h"
#include "node/chat.h"
#include "node/msgstore.h"
#include "node/rpc.h"

#define LIST_DEFAULT 50

static struct rpc_result *need_chat(struct rpc_call *call)
{
	if (rpc_node(call)->chat == NULL || rpc_node(call)->msgs == NULL)
		return rpc_fail(call, NODE_ERR_NO_DHT, NULL,
				"messaging needs the UDP socket");
	return NULL;
}

/* A contact ID parameter into pk. */
static struct rpc_result *param_contact(struct rpc_call *call,
					const char *field, uint8_t pk[32])
{
	struct rpc_result *r;
	const char *s;

	if ((r = rpc_param_string(call, field, true, 200, &s)) != NULL)
		return r;
	if (cx_contact_id_decode(pk, s) < 0)
		return rpc_fail(call, NODE_ERR_PARAMS, field,
				"'%s' is not a contact ID (56 characters of "
				"base32, optionally after \"parley:\")",
				field);
	if (memcmp(pk, rpc_node(call)->identity.account_pk, 32) == 0)
		return rpc_fail(call, NODE_ERR_PARAMS, field,
				"'%s' is your own contact ID", field);
	return NULL;
}

static void id_str(char out[CX_CONTACT_ID_LEN + 1], const uint8_t pk[32])
{
	cx_contact_id_encode(out, CX_CONTACT_ID_LEN + 1, pk);
}

static const char *receipts_name(enum msgstore_receipts r)
{
	return r == MSGSTORE_RECEIPTS_ON    ? "on"
	       : r == MSGSTORE_RECEIPTS_OFF ? "off"
					    : "default";
}

static json_t *contact_json(struct node *n, const struct msgstore_contact *mc)
{
	char id[CX_CONTACT_ID_LEN + 1];
	json_t *o;

	id_str(id, mc->pk);
	o = json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:I}", "id", id, "name",
		      mc->name, "state",
		      msgstore_contact_state_name(mc->state), "presence",
		      chat_online(n->chat, mc->pk) ? "online" : "offline",
		      "last_seen", (json_int_t)mc->last_seen_ms, "receipts",
		      receipts_name(mc->receipts), "added_at",
		      (json_int_t)mc->created_ms);
	if (o != NULL && mc->greeting[0] != '\0')
		json_object_set_new(o, "greeting", json_string(mc->greeting));
	return o;
}

static struct rpc_result *fail_errno(struct rpc_call *call, int e,
				     const char *what)
{
	switch (-e) {
	case ENOENT:
		return rpc_fail(call, NODE_ERR_NOT_FOUND, "id",
				"no such contact");
	case EEXIST:
		return rpc_fail(call, NODE_ERR_EXISTS, "id",
				"already a contact (state shown by "
				"contacts.get)");
	case EPERM:
		return rpc_fail(call, NODE_ERR_BAD_STATE, "id",
				"cannot %s in the contact's current state",
				what);
	case ENOTCONN:
		return rpc_fail(call, NODE_ERR_NOT_CONNECTED, "id",
				"the contact is not online");
	default:
		return rpc_fail(call, node_err_from_errno(e), NULL,
				"cannot %s: %s", what, strerror(-e));
	}
}

static struct rpc_result *contact_answer(struct rpc_call *call,
					 const uint8_t pk[32])
{
	struct node *n = rpc_node(call);
	struct msgstore_contact mc;
	int e = msgstore_contact_get(n->msgs, pk, &mc);

	if (e < 0)
		return fail_errno(call, e, "read the contact");
	return rpc_ok(call, contact_json(n, &mc));
}

static struct rpc_result *m_contacts_add(struct rpc_call *call)
{
	static const char *const allowed[] = {"id", "name", "greeting", NULL};
	const char *name = NULL, *greeting = NULL;
	struct rpc_result *r;
	uint8_t pk[32];
	int e;

	if ((r = rpc_params_only(call, allowed)) != NULL ||
	    (r = need_chat(call)) != NULL ||
	    (r = param_contact(call, "id", pk)) != NULL ||
	    (r = rpc_param_string(call, "name", false, MSGSTORE_NAME_MAX,
				  &name)) != NULL ||
	    (r = rpc_param_string(call, "greeting", false,
				  MSGSTORE_GREETING_MAX, &greeting)) != NULL)
		return r;
	if ((name != NULL &&
	     !msgstore__utf8_valid((const uint8_t *)name, strlen(name),
				   false)) ||
	    (greeting != NULL &&
	     !msgstore__utf8_valid((const uint8_t *)greeting,
				   strlen(greeting), false)))
		return rpc_fail(call, NODE_ERR_PARAMS, NULL,
				"name and greeting must be valid UTF-8");
	if ((e = chat_contact_add(rpc_node(call)->chat, pk, name, greeting)) <
	    0)
		return fail_errno(call, e, "add the contact");
	return contact_answer(call, pk);
}

static struct rpc_result *one_id(struct rpc_call *call, uint8_t pk[32])
{
	static const char *const allowed[] = {"id", NULL};
	struct rpc_result *r;

	if ((r = rpc_params_only(call, allowed)) != NULL ||
	    (r = need_chat(call)) != NULL ||
	    (r = param_contact(call, "id", pk)) != NULL)
		return r;
	return NULL;
}

static struct rpc_result *m_contacts_accept(struct rpc_call *call)
{
	uint8_t pk[32];
	struct rpc_result *r;
	int e;

	if ((r = one_id(call, pk)) != NULL)
		return r;
	if ((e = chat_contact_accept(rpc_node(call)->chat, pk)) < 0)
		return fail_errno(call, e, "accept (no pending request)");
	return contact_answer(call, pk);
}

static struct rpc_result *m_contacts_reject(struct rpc_call *call)
{
	uint8_t pk[32];
	struct rpc_result *r;
	int e;

	if ((r = one_id(call, pk)) != NULL)
		return r;
	if ((e = chat_contact_reject(rpc_node(call)->chat, pk)) < 0)
		return fail_errno(call, e, "reject (no pending request)");
	return contact_answer(call, pk);
}

static struct rpc_result *m_contacts_remove(struct rpc_call *call)
{
	char id[CX_CONTACT_ID_LEN + 1];
	uint8_t pk[32];
	struct rpc_result *r;
	int e;

	if ((r = one_id(call, pk)) != NULL)
		return r;
	if ((e = chat_contact_remove(rpc_node(call)->chat, pk)) < 0)
		return fail_errno(call, e, "remove the contact");
	id_str(id, pk);
	return rpc_ok(call, json_pack("{s:s, s:b}", "id", id, "removed", 1));
}

static struct rpc_result *block(struct rpc_call *call, bool on)
{
	uint8_t pk[32];
	struct rpc_result *r;
	int e;

	if ((r = one_id(call, pk)) != NULL)
		return r;
	if ((e = chat_contact_block(rpc_node(call)->chat, pk, on)) < 0)
		return fail_errno(call, e, on ? "block" : "unblock");
	return contact_answer(call, pk);
}

static struct rpc_result *m_contacts_block(struct rpc_call *call)
{
	return block(call, true);
}

static struct rpc_result *m_contacts_unblock(struct rpc_call *call)
{
	return block(call, false);
}

static struct rpc_result *m_contacts_get(struct rpc_call *call)
{
	uint8_t pk[32];
	struct rpc_result *r;

	if ((r = one_id(call, pk)) != NULL)
		return r;
	return contact_answer(call, pk);
}

static struct rpc_result *m_contacts_list(struct rpc_call *call)
{
	static const char *const allowed[] = {NULL};
	struct node *n = rpc_node(call);
	struct msgstore_contact *list;
	uint8_t after[32];
	struct rpc_result *r;
	json_t *arr;
	bool first = true;
	size_t got;
	int e = 0;

	if ((r = rpc_params_only(call, allowed)) != NULL ||
	    (r = need_chat(call)) != NULL)
		return r;
	list = malloc(64 * sizeof *list);
	arr = json_array();
	if (list == NULL || arr == NULL) {
		free(list);
		json_decref(arr);
		return rpc_fail(call, NODE_ERR_INTERNAL, NULL, "out of memory");
	}
	do {
		e = msgstore_contact_list(n->msgs, first ? NULL : after, list,
					  64, &got);
		if (e < 0)
			break;
		for (size_t i = 0; i < got; i++)
			json_array_append_new(arr, contact_json(n, &list[i]));
		if (got > 0)
			memcpy(after, list[got - 1].pk, 32);
		first = false;
	} while (got == 64);
	free(list);
	if (e < 0) {
		json_decref(arr);
		return fail_errno(call, e, "list contacts");
	}
	return rpc_ok(call, json_pack("{s:o}", "contacts", arr));
}

static struct rpc_result *m_contacts_set(struct rpc_call *call)
{
	static const char *const allowed[] = {"id", "name", "receipts", NULL};
	struct node *n = rpc_node(call);
	const char *name = NULL, *rc = NULL;
	uint64_t now = n->env->clock->wall_ms(n->env->clock->self);
	struct rpc_result *r;
	uint8_t pk[32];
	int e = 0;

	if ((r = rpc_params_only(call, allowed)) != NULL ||
	    (r = need_chat(call)) != NULL ||
	    (r = param_contact(call, "id", pk)) != NULL ||
	    (r = rpc_param_string(call, "name", false, MSGSTORE_NAME_MAX,
				  &name)) != NULL ||
	    (r = rpc_param_string(call, "receipts", false, 16, &rc)) != NULL)
		return r;
	if (rc != NULL && strcmp(rc, "on") != 0 && strcmp(rc, "off") != 0 &&
	    strcmp(rc, "default") != 0)
		return rpc_fail(call, NODE_ERR_PARAMS, "receipts",
				"'receipts' must be \"on\", \"off\" or "
				"\"default\"");
	if (name != NULL)
		e = msgstore_contact_set_name(n->msgs, pk, name, now);
	if (e == 0 && rc != NULL)
		e = msgstore_contact_set_receipts(
			n->msgs, pk,
			strcmp(rc, "on") == 0	 ? MSGSTORE_RECEIPTS_ON
			: strcmp(rc, "off") == 0 ? MSGSTORE_RECEIPTS_OFF
						 : MSGSTORE_RECEIPTS_DEFAULT,
			now);
	if (e < 0)
		return fail_errno(call, e, "change the contact");
	return contact_answer(call, pk);
}

static struct rpc_result *m_contacts_verify(struct rpc_call *call)
{
	struct node *n = rpc_node(call);
	char id[CX_CONTACT_ID_LEN + 1], num[CX_SAFETY_TEXT_LEN + 1];
	char qrhex[CX_SAFETY_QR_LEN * 2 + 1];
	uint8_t pk[32], qr[CX_SAFETY_QR_LEN];
	struct msgstore_contact mc;
	struct rpc_result *r;
	int e;

	if ((r = one_id(call, pk)) != NULL)
		return r;
	if ((e = msgstore_contact_get(n->msgs, pk, &mc)) < 0)
		return fail_errno(call, e, "verify");
	if (cx_safety_number(num, sizeof num, n->identity.account_pk, pk) < 0)
		return rpc_fail(call, NODE_ERR_INTERNAL, NULL,
				"safety number");
	cx_safety_qr(qr, n->identity.account_pk, pk);
	cx_hex_encode(qrhex, sizeof qrhex, qr, sizeof qr);
	id_str(id, pk);
	return rpc_ok(call, json_pack("{s:s, s:s, s:s}", "id", id,
				      "safety_number", num, "qr", qrhex));
}

static struct rpc_result *m_contacts_typing(struct rpc_call *call)
{
	static const char *const allowed[] = {"id", "typing", NULL};
	struct rpc_result *r;
	uint8_t pk[32];
	bool on = false, present;
	int e;

	if ((r = rpc_params_only(call, allowed)) != NULL ||
	    (r = need_chat(call)) != NULL ||
	    (r = param_contact(call, "id", pk)) != NULL ||
	    (r = rpc_param_bool(call, "typing", &on, &present)) != NULL)
		return r;
	if (!present)
		return rpc_fail(call, NODE_ERR_PARAMS, "typing",
				"missing parameter 'typing'");
	if ((e = chat_typing(rpc_node(call)->chat, pk, on)) < 0)
		return fail_errno(call, e, "send typing");
	return rpc_ok(call, json_object());
}

static void send_done(void *arg, int err, const uint8_t *id, int status)
{
	struct rpc_later *later = arg;
	char ids[MSGSTORE_ID_LEN * 2 + 1];
	const char *st;
	struct jw w;

	if (err < 0) {
		rpc_later_fail(later, node_err_from_errno(err), NULL,
			       "the message was not stored: %s",
			       strerror(-err));
		return;
	}
	/* The hot path of messages.send: no jansson tree. */
	cx_hex_encode(ids, sizeof ids, id, MSGSTORE_ID_LEN);
	rpc_later_jw_begin(later, &w);
	jw_lit(&w, "{\"id\":\"");
	jw_lit(&w, ids);
	jw_lit(&w, "\",\"status\":\"");
	st = msgstore_status_name((enum msgstore_status)status);
	jw_lit(&w, st != NULL ? st : "unknown"); /* NULL: not a status */
	jw_lit(&w, "\"}");
	rpc_later_ok_jw(later, &w);
}

static struct rpc_result *m_messages_send(struct rpc_call *call)
{
	static const char *const allowed[] = {"to", "body", "reply_to", NULL};
	uint8_t pk[32], reply[MSGSTORE_ID_LEN];
	struct rpc_later *later;
	struct rpc_result *r;
	const char *body;
	bool has_reply = false;
	int e;

	if ((r = rpc_params_only(call, allowed)) != NULL ||
	    (r = need_chat(call)) != NULL ||
	    (r = param_contact(call, "to", pk)) != NULL ||
	    (r = rpc_param_string(call, "body", true, MSGSTORE_BODY_MAX,
				  &body)) != NULL ||
	    (r = rpc_param_hex(call, "reply_to", false, reply, sizeof reply,
			       &has_reply)) != NULL)
		return r;
	/* Answered after the commit that makes it durable (shared by all
	 * the sends of this loop turn). */
	r = rpc_pending(call, &later);
	if (later == NULL)
		return r;
	e = chat_send_async(rpc_node(call)->chat, pk, (const uint8_t *)body,
			    strlen(body), has_reply ? reply : NULL, send_done,
			    later);
	if (e == -ENOENT)
		rpc_later_fail(later, NODE_ERR_NOT_FOUND, "to",
			       "not a contact: add it first");
	else if (e == -EPERM)
		rpc_later_fail(later, NODE_ERR_BAD_STATE, "to",
			       "the contact is blocked or turned down");
	else if (e == -EINVAL)
		rpc_later_fail(later, NODE_ERR_PARAMS, "body",
			       "'body' must be valid UTF-8");
	else if (e < 0)
		rpc_later_fail(later, node_err_from_errno(e), NULL,
			       "cannot send: %s", strerror(-e));
	return r;
}

static json_t *msg_json(struct node *n, const struct msgstore_msg *m)
{
	char ids[MSGSTORE_ID_LEN * 2 + 1], from[CX_CONTACT_ID_LEN + 1];
	json_t *o;

	cx_hex_encode(ids, sizeof ids, m->id, sizeof m->id);
	id_str(from, m->dir == MSGSTORE_DIR_OUT ? n->identity.account_pk
						: m->from);
	o = json_pack("{s:s, s:s, s:s, s:s%, s:I, s:s, s:I}", "id", ids,
		      "from", from, "dir", msgstore_dir_name(m->dir), "body",
		      m->body != NULL ? (const char *)m->body : "",
		      m->body != NULL ? m->body_len : 0, "sent_at",
		      (json_int_t)m->sent_ms, "status",
		      msgstore_status_name(m->status), "stored_at",
		      (json_int_t)m->stored_ms);
	if (o != NULL && m->has_reply_to) {
		cx_hex_encode(ids, sizeof ids, m->reply_to, sizeof m->reply_to);
		json_object_set_new(o, "reply_to", json_string(ids));
	}
	return o;
}

static struct rpc_result *m_messages_list(struct rpc_call *call)
{
	static const char *const allowed[] = {"with", "before", "limit", NULL};
	struct node *n = rpc_node(call);
	uint8_t pk[32], before[MSGSTORE_ID_LEN];
	struct msgstore_msg *out;
	struct rpc_result *r;
	uint64_t limit = LIST_DEFAULT;
	bool has_before = false, has_limit;
	size_t got = 0;
	json_t *arr;
	int e;

	if ((r = rpc_params_only(call, allowed)) != NULL ||
	    (r = need_chat(call)) != NULL ||
	    (r = param_contact(call, "with", pk)) != NULL ||
	    (r = rpc_param_hex(call, "before", false, before, sizeof before,
			       &has_before)) != NULL ||
	    (r = rpc_param_u64(call, "limit", &limit, &has_limit)) != NULL)
		return r;
	if (limit < 1 || limit > MSGSTORE_LIST_MAX)
		return rpc_fail(call, NODE_ERR_PARAMS, "limit",
				"'limit' must be 1 to %d", MSGSTORE_LIST_MAX);
	out = calloc(limit, sizeof *out);
	if (out == NULL)
		return rpc_fail(call, NODE_ERR_INTERNAL, NULL, "out of memory");
	e = msgstore_list(n->msgs, pk, has_before ? before : NULL, limit, out,
			  &got);
	if (e < 0) {
		free(out);
		if (e == -ENOENT)
			return rpc_fail(call, NODE_ERR_NOT_FOUND, "before",
					"'before' is not a message of this "
					"conversation");
		return fail_errno(call, e, "list messages");
	}
	arr = json_array();
	for (size_t i = 0; i < got; i++) {
		if (arr != NULL)
			json_array_append_new(arr, msg_json(n, &out[i]));
		msgstore_msg_clear(&out[i]);
	}
	free(out);
	return rpc_ok(call, json_pack("{s:o}", "messages", arr));
}

static struct rpc_result *m_messages_mark_read(struct rpc_call *call)
{
	static const char *const allowed[] = {"with", "up_to", NULL};
	uint8_t pk[32], up[MSGSTORE_ID_LEN];
	struct rpc_result *r;
	bool has_up = false;
	size_t marked = 0;
	int e;

	if ((r = rpc_params_only(call, allowed)) != NULL ||
	    (r = need_chat(call)) != NULL ||
	    (r = param_contact(call, "with", pk)) != NULL ||
	    (r = rpc_param_hex(call, "up_to", false, up, sizeof up,
			       &has_up)) != NULL)
		return r;
	e = chat_mark_read(rpc_node(call)->chat, pk, has_up ? up : NULL,
			   &marked);
	if (e == -ENOENT)
		return rpc_fail(call, NODE_ERR_NOT_FOUND, has_up ? "up_to" : "with",
				has_up ? "'up_to' is not a message of this "
					 "conversation"
				       : "not a contact");
	if (e < 0)
		return fail_errno(call, e, "mark read");
	return rpc_ok(call, json_pack("{s:I}", "marked", (json_int_t)marked));
}

static struct rpc_result *settings_answer(struct rpc_call *call)
{
	struct chat_settings s;

	chat_settings_get(rpc_node(call)->chat, &s);
	return rpc_ok(call, json_pack("{s:b, s:b}", "read_receipts",
				      s.read_receipts, "accept_requests",
				      s.accept_requests));
}

static struct rpc_result *m_settings_get(struct rpc_call *call)
{
	static const char *const allowed[] = {NULL};
	struct rpc_result *r;

	if ((r = rpc_params_only(call, allowed)) != NULL ||
	    (r = need_chat(call)) != NULL)
		return r;
	return settings_answer(call);
}

static struct rpc_result *m_settings_set(struct rpc_call *call)
{
	static const char *const allowed[] = {"read_receipts",
					      "accept_requests", NULL};
	struct chat_settings s;
	struct rpc_result *r;
	bool p1, p2;
	int e;

	if ((r = rpc_params_only(call, allowed)) != NULL ||
	    (r = need_chat(call)) != NULL)
		return r;
	chat_settings_get(rpc_node(call)->chat, &s);
	if ((r = rpc_param_bool(call, "read_receipts", &s.read_receipts, &p1)) !=
		    NULL ||
	    (r = rpc_param_bool(call, "accept_requests", &s.accept_requests,
			    &p2)) != NULL)
		return r;
	if ((e = chat_settings_set(rpc_node(call)->chat, &s)) < 0)
		return fail_errno(call, e, "save the settings");
	return settings_answer(call);
}

const struct rpc_method rpc_chat_methods[] = {
	{"contacts.add", m_contacts_add},
	{"contacts.accept", m_contacts_accept},
	{"contacts.reject", m_contacts_reject},
	{"contacts.remove", m_contacts_remove},
	{"contacts.block", m_contacts_block},
	{"contacts.unblock", m_contacts_unblock},
	{"contacts.get", m_contacts_get},
	{"contacts.list", m_contacts_list},
	{"contacts.set", m_contacts_set},
	{"contacts.verify", m_contacts_verify},
	{"contacts.typing", m_contacts_typing},
	{"messages.send", m_messages_send},
	{"messages.list", m_messages_list},
	{"messages.mark_read", m_messages_mark_read},
	{"settings.get", m_settings_get},
	{"settings.set", m_settings_set},
};
const size_t rpc_chat_num_methods =
	sizeof rpc_chat_methods / sizeof rpc_chat_methods[0];
