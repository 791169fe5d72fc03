/* The links.* methods: diagnostics of the Noise links between nodes
 * (node/link.c).  Messaging uses links itself; these let a tool or a test
 * open one by hand and look at the counters. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "crypto/cx.h"
#include "node/addr.h"
#include "node/chat.h"
#include "node/link.h"
#include "node/relay.h"
#include "node/rpc.h"

static struct rpc_result *need_links(struct rpc_call *call)
{
	if (rpc_node(call)->links == NULL)
		return rpc_fail(call, NODE_ERR_NO_DHT, NULL,
				"links need the UDP socket");
	return NULL;
}

static void kick(struct node *n)
{
	if (n->dht_kick != NULL)
		n->dht_kick(n->dht_kick_self);
}

static struct rpc_result *m_links_connect(struct rpc_call *call)
{
	static const char *const allowed[] = {"key", "addr", NULL};
	struct node *n = rpc_node(call);
	uint8_t key[LINK_PK_LEN];
	struct dht_addr a;
	struct rpc_result *r;
	const char *s;
	bool present;
	int e;

	if ((r = rpc_params_only(call, allowed)) != NULL ||
	    (r = need_links(call)) != NULL ||
	    (r = rpc_param_hex(call, "key", true, key, sizeof key,
			       &present)) != NULL ||
	    (r = rpc_param_string(call, "addr", true, 200, &s)) != NULL)
		return r;
	if (addr_parse(s, &a, NULL, NULL, false) < 0)
		return rpc_fail(call, NODE_ERR_PARAMS, "addr",
				"'addr' must be host:port or [v6]:port, "
				"numeric");
	e = link_connect(n->links, n->env->clock->mono_ms(n->env->clock->self),
			 key, &a);
	kick(n);
	if (e < 0)
		return rpc_fail(call, node_err_from_errno(e), NULL,
				"cannot start the handshake: %s", strerror(-e));
	return rpc_ok(call, json_pack("{s:b}", "started", 1));
}

static struct rpc_result *m_links_status(struct rpc_call *call)
{
	static const char *const allowed[] = {"key", NULL};
	struct node *n = rpc_node(call);
	uint8_t key[LINK_PK_LEN];
	struct link_peer_status ps;
	struct link_status st;
	struct rpc_result *r;
	char addr[ADDR_STR_MAX];
	bool present;
	json_t *o;

	if ((r = rpc_params_only(call, allowed)) != NULL ||
	    (r = need_links(call)) != NULL ||
	    (r = rpc_param_hex(call, "key", false, key, sizeof key,
			       &present)) != NULL)
		return r;
	link_status(n->links, &st);
	o = json_pack("{s:i, s:i, s:i, s:i, s:I, s:I, s:I, s:I, s:I, s:I, "
		      "s:I, s:I}",
		      "links", st.links, "established", st.established,
		      "handshakes_out", st.handshakes_out, "handshakes_in",
		      st.handshakes_in, "pkts_in", (json_int_t)st.pkts_in,
		      "pkts_out", (json_int_t)st.pkts_out, "data_in",
		      (json_int_t)st.data_in, "data_out",
		      (json_int_t)st.data_out, "keepalives_out",
		      (json_int_t)st.keepalives_out, "handshakes_done",
		      (json_int_t)st.hs_done, "rekeys",
		      (json_int_t)st.rekeys, "roams", (json_int_t)st.roams);
	if (o != NULL && present) {
		uint64_t now = n->env->clock->mono_ms(n->env->clock->self);

		if (link_peer_status(n->links, now, key, &ps) < 0) {
			json_decref(o);
			return rpc_fail(call, NODE_ERR_NOT_FOUND, "key",
					"no link with that node");
		}
		addr_format(&ps.addr, addr);
		json_object_set_new(
			o, "peer",
			json_pack("{s:b, s:b, s:s, s:I, s:b}", "established",
				  ps.established, "handshaking",
				  ps.handshaking, "addr", addr,
				  "session_age_ms",
				  (json_int_t)ps.session_age_ms, "initiator",
				  ps.initiator));
	}
	return rpc_ok(call, o);
}

/* relay.status: the relay service's figures (a volunteer's) and the
 * client side's (texts left at contacts' relays, taken from ours). */
static struct rpc_result *m_relay_status(struct rpc_call *call)
{
	static const char *const allowed[] = {NULL};
	struct node *n = rpc_node(call);
	struct relay_status rs;
	struct chat_status cs;
	struct rpc_result *r;
	json_t *o, *home;
	char hex[65];

	if ((r = rpc_params_only(call, allowed)) != NULL ||
	    (r = need_links(call)) != NULL)
		return r;
	memset(&rs, 0, sizeof rs);
	memset(&cs, 0, sizeof cs);
	if (n->relay != NULL)
		relay_status(n->relay, &rs);
	if (n->chat != NULL)
		chat_status(n->chat, &cs);
	home = json_array();
	if (n->chat != NULL) {
		uint8_t keys[CONFIG_HOME_RELAYS_MAX][32];
		unsigned nk = chat_home_relays(n->chat, keys,
					       CONFIG_HOME_RELAYS_MAX);

		for (unsigned i = 0; home != NULL && i < nk; i++) {
			cx_hex_encode(hex, sizeof hex, keys[i], 32);
			json_array_append_new(home, json_string(hex));
		}
	}
	o = json_pack(
		"{s:b, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
		"s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}, s:{s:o, s:I, "
		"s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
		"s:I, s:I, s:I, s:I, s:I, s:I, s:I}}",
		"enabled", rs.enabled, "service", "mailboxes",
		(json_int_t)rs.store.mailboxes, "items",
		(json_int_t)rs.store.items, "bytes",
		(json_int_t)rs.store.bytes, "deposits",
		(json_int_t)rs.deposits, "deposits_refused",
		(json_int_t)rs.deposits_refused, "fetches",
		(json_int_t)rs.fetches, "items_sent",
		(json_int_t)rs.items_sent, "deleted", (json_int_t)rs.deleted,
		"expired", (json_int_t)rs.expired, "auth_failed",
		(json_int_t)rs.auth_failed, "rate_limited",
		(json_int_t)rs.rate_limited, "errors", (json_int_t)rs.errors,
		"pow_failed", (json_int_t)rs.pow_failed, "notified",
		(json_int_t)rs.notified, "adverts", (json_int_t)rs.adverts,
		"polls", (json_int_t)rs.polls, "polled_full",
		(json_int_t)rs.polled_full, "request_fetches",
		(json_int_t)rs.request_fetches, "over_quota",
		(json_int_t)rs.over_quota,
		"client", "home_relays", home != NULL ? home : json_array(),
		"deposited", (json_int_t)cs.relay_deposited, "requests_left",
		(json_int_t)cs.relay_ctl_deposited, "deposit_failed",
		(json_int_t)cs.relay_deposit_failed, "fetches",
		(json_int_t)cs.relay_fetches, "fetch_failed",
		(json_int_t)cs.relay_fetch_failed, "polls",
		(json_int_t)cs.relay_polls, "poll_failed",
		(json_int_t)cs.relay_poll_failed, "probes_failed",
		(json_int_t)cs.relay_probes_failed, "taken",
		(json_int_t)cs.relay_taken, "notified",
		(json_int_t)cs.relay_notified, "notify_fetches",
		(json_int_t)cs.relay_notify_fetches, "acks_out",
		(json_int_t)cs.relay_acks_out, "acks_in",
		(json_int_t)cs.relay_acks_in, "reads_out",
		(json_int_t)cs.relay_reads_out, "reads_in",
		(json_int_t)cs.relay_reads_in);
	return rpc_ok(call, o);
}

/* relay.find: the volunteers whose adverts are in the DHT this hour. */
struct find_call;
struct find_slot {
	struct find_call *fc;
	unsigned slot;
};
struct find_call {
	struct rpc_later *later;
	unsigned pending; /* lookups, plus one while starting them */
	uint64_t hour;
	unsigned n;
	uint8_t keys[RELAY_ADVERT_SLOTS][32];
	struct find_slot slots[RELAY_ADVERT_SLOTS];
};

static void find_answer(struct find_call *fc)
{
	json_t *a = json_array();
	char hex[65];

	for (unsigned i = 0; a != NULL && i < fc->n; i++) {
		cx_hex_encode(hex, sizeof hex, fc->keys[i], 32);
		json_array_append_new(a, json_string(hex));
	}
	rpc_later_ok(fc->later, json_pack("{s:o, s:I}", "relays",
					  a != NULL ? a : json_array(), "hour",
					  (json_int_t)fc->hour));
	free(fc);
}

static void find_slot_done(void *arg, const struct dht_result *res)
{
	struct find_slot *fs = arg;
	struct find_call *fc = fs->fc;
	uint8_t pk[32];
	unsigned i;

	if (res->status == 0 && res->record != NULL &&
	    relay_advert_parse(pk, res->record, fs->slot, fc->hour) == 0) {
		for (i = 0; i < fc->n; i++)
			if (memcmp(fc->keys[i], pk, 32) == 0)
				break;
		if (i == fc->n)
			memcpy(fc->keys[fc->n++], pk, 32);
	}
	if (--fc->pending == 0)
		find_answer(fc);
}

static struct rpc_result *m_relay_find(struct rpc_call *call)
{
	static const char *const allowed[] = {NULL};
	struct node *n = rpc_node(call);
	struct find_call *fc;
	struct rpc_result *r;
	uint64_t now = n->env->clock->wall_ms(n->env->clock->self);
	uint8_t key[DHT_ID_LEN];

	if ((r = rpc_params_only(call, allowed)) != NULL ||
	    (r = need_links(call)) != NULL)
		return r;
	if (n->dht == NULL)
		return rpc_fail(call, NODE_ERR_NO_DHT, NULL, "no DHT");
	if ((fc = calloc(1, sizeof *fc)) == NULL)
		return rpc_fail(call, NODE_ERR_INTERNAL, NULL, "out of memory");
	r = rpc_pending(call, &fc->later);
	if (fc->later == NULL) {
		free(fc);
		return r;
	}
	fc->hour = now / 1000 / RELAY_ADVERT_HOUR_S;
	fc->pending = 1;
	for (unsigned s = 0; s < RELAY_ADVERT_SLOTS; s++) {
		fc->slots[s] = (struct find_slot){fc, s};
		relay_advert_key(key, s, fc->hour);
		fc->pending++;
		/* a lookup that cannot start (the DHT is busy) is skipped */
		if (dht_get(n->dht, now, key, DHT_GET_FIRST,
			    (struct dht_lookup_cb){find_slot_done,
						   &fc->slots[s]}) < 0)
			fc->pending--;
	}
	kick(n);
	if (--fc->pending == 0)
		find_answer(fc);
	return r;
}

const struct rpc_method rpc_link_methods[] = {
	{"links.connect", m_links_connect},
	{"links.status", m_links_status},
	{"relay.status", m_relay_status},
	{"relay.find", m_relay_find},
};
const size_t rpc_link_num_methods =
	sizeof rpc_link_methods / sizeof rpc_link_methods[0];
