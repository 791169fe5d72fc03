/* The dht.* methods: status, bootstrap, put, get, find_node.
 *
 * Lookups are asynchronous: the handler starts one with rpc_pending() and
 * the DHT's completion callback answers.  A struct dht_call carries the
 * promise to the callback and is freed there (the DHT calls it exactly
 * once, or never when starting failed, in which case we free it here).
 *
 * dht.put signs with the account key.  Sequence numbers come from
 * node/ownseq.c (one counter for every key, reserved on disk in blocks),
 * so a put after a restart still replaces the previous value (BEP 44:
 * only a higher seq replaces). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "crypto/keys.h"
#include "dht/dht.h"
#include "node/addr.h"
#include "node/ownseq.h"
#include "node/rpc.h"

#define DHT_TTL_DEFAULT_S (24 * 3600)
#define DHT_TTL_MAX_S (7 * 24 * 3600)

struct dht_call {
	struct rpc_later *later;
	struct node *node;
	uint8_t key[DHT_ID_LEN];
	uint64_t seq;
};

static uint64_t now_ms(const struct node *n)
{
	return n->env->clock->wall_ms(n->env->clock->self);
}

static void kick(struct node *n)
{
	if (n->dht_kick != NULL)
		n->dht_kick(n->dht_kick_self);
}

static json_t *node_json(const struct dht_node_info *ni)
{
	char id[DHT_ID_LEN * 2 + 1], key[CX_X_PK_LEN * 2 + 1];
	char addr[ADDR_STR_MAX];

	cx_hex_encode(id, sizeof id, ni->id, DHT_ID_LEN);
	cx_hex_encode(key, sizeof key, ni->pk, CX_X_PK_LEN);
	addr_format(&ni->addr, addr);
	return json_pack("{s:s, s:s, s:s}", "id", id, "key", key, "addr",
			 addr);
}

static json_t *closest_json(const struct dht_result *res)
{
	json_t *a = json_array();

	for (unsigned i = 0; a != NULL && i < res->num_closest; i++)
		json_array_append_new(a, node_json(&res->closest[i]));
	return a;
}

static struct rpc_result *need_dht(struct rpc_call *call)
{
	if (rpc_node(call)->dht == NULL)
		return rpc_fail(call, NODE_ERR_NO_DHT, NULL, NULL);
	return NULL;
}

static struct rpc_result *m_dht_status(struct rpc_call *call)
{
	static const char *const none[] = {NULL};
	struct node *n = rpc_node(call);
	struct dht_status st;
	struct rpc_result *r;
	char id[DHT_ID_LEN * 2 + 1];

	if ((r = rpc_params_only(call, none)) != NULL ||
	    (r = need_dht(call)) != NULL)
		return r;
	dht_status(n->dht, &st);
	cx_hex_encode(id, sizeof id, st.id, DHT_ID_LEN);
	return rpc_ok(
		call,
		json_pack("{s:s, s:s, s:i, s:i, s:i, s:i, s:I, s:i, s:i, s:i,"
			  " s:{s:I, s:I, s:I, s:I, s:I},"
			  " s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I,"
			  " s:I, s:I},"
			  " s:I, s:I, s:I, s:I, s:I, s:I, s:{s:I, s:I}}",
			  "id", id, "listen", n->listen_str, "contacts",
			  st.contacts, "replacements", st.replacements,
			  "buckets", st.buckets, "records", st.records,
			  "record_bytes", (json_int_t)st.record_bytes,
			  "own_records", st.own_records, "lookups", st.lookups,
			  "pending", st.pending, "traffic", "pkts_in",
			  (json_int_t)st.pkts_in, "pkts_out",
			  (json_int_t)st.pkts_out, "bytes_in",
			  (json_int_t)st.bytes_in, "bytes_out",
			  (json_int_t)st.bytes_out, "send_errors",
			  (json_int_t)st.send_errors, "dropped", "short",
			  (json_int_t)st.drop_short, "big",
			  (json_int_t)st.drop_big, "version",
			  (json_int_t)st.drop_version, "auth",
			  (json_int_t)st.drop_auth, "malformed",
			  (json_int_t)st.drop_malformed, "unmatched",
			  (json_int_t)st.drop_unmatched, "replay",
			  (json_int_t)st.drop_replay, "rate",
			  (json_int_t)st.drop_rate, "stale",
			  (json_int_t)st.drop_stale, "bad_record",
			  (json_int_t)st.drop_bad_record, "bad_token",
			  (json_int_t)st.drop_bad_token, "timeouts",
			  (json_int_t)st.timeouts, "evictions",
			  (json_int_t)st.evictions, "lookups_done",
			  (json_int_t)st.lookups_done, "lookups_failed",
			  (json_int_t)st.lookups_failed, "stores_accepted",
			  (json_int_t)st.stores_accepted, "stores_rejected",
			  (json_int_t)st.stores_rejected, "key_cache", "hits",
			  (json_int_t)st.key_cache_hits, "misses",
			  (json_int_t)st.key_cache_misses));
}

static struct rpc_result *m_dht_bootstrap(struct rpc_call *call)
{
	static const char *const allowed[] = {"addr", NULL};
	struct node *n = rpc_node(call);
	uint8_t key[CX_X_PK_LEN];
	struct dht_addr a;
	struct rpc_result *r;
	const char *s;
	bool has_key;
	int e;

	if ((r = rpc_params_only(call, allowed)) != NULL ||
	    (r = need_dht(call)) != NULL ||
	    (r = rpc_param_string(call, "addr", true, 200, &s)) != NULL)
		return r;
	if (addr_parse(s, &a, key, &has_key, false) < 0)
		return rpc_fail(call, NODE_ERR_PARAMS, "addr",
				"'addr' must be host:port, [v6]:port or "
				"NODEKEY@host:port with a numeric host");
	e = dht_bootstrap(n->dht, now_ms(n), &a, has_key ? key : NULL);
	kick(n);
	if (e < 0)
		return rpc_fail(call, node_err_from_errno(e), NULL,
				"bootstrap failed: %s", strerror(-e));
	return rpc_ok(call, json_pack("{s:b}", "started", 1));
}

static void find_done(void *arg, const struct dht_result *res)
{
	struct dht_call *dc = arg;

	if (res->status == 0)
		rpc_later_ok(dc->later,
			     json_pack("{s:b, s:o, s:i, s:i, s:o}", "found", 1,
				       "node", node_json(&res->node), "rounds",
				       res->rounds, "queries", res->queries,
				       "closest", closest_json(res)));
	else
		rpc_later_ok(dc->later,
			     json_pack("{s:b, s:i, s:i, s:o}", "found", 0,
				       "rounds", res->rounds, "queries",
				       res->queries, "closest",
				       closest_json(res)));
	free(dc);
}

/* A lookup the DHT would not start: every lookup slot in use (ENOSPC
 * from the DHT, not a full disk) is "busy, try again". */
static void lookup_not_started(struct rpc_later *later, int e)
{
	if (e == -ENOSPC)
		rpc_later_fail(later, NODE_ERR_BUSY, NULL,
			       "every lookup slot is in use; try again");
	else
		rpc_later_fail(later, node_err_from_errno(e), NULL,
			       "lookup not started: %s", strerror(-e));
}

static struct rpc_result *start_lookup(struct rpc_call *call,
				       struct dht_call *dc,
				       int (*start)(struct dht_call *dc,
						    void *arg),
				       void *arg)
{
	struct node *n = dc->node;
	struct rpc_result *r;
	int e;

	r = rpc_pending(call, &dc->later);
	if (dc->later == NULL) {
		free(dc);
		return r;
	}
	/* The DHT may complete at once (no contacts at all): then dc is
	 * already answered and freed when start() returns 0. */
	e = start(dc, arg);
	kick(n);
	if (e < 0) {
		lookup_not_started(dc->later, e);
		free(dc);
	}
	return r;
}

static int start_find(struct dht_call *dc, void *arg)
{
	(void)arg;
	return dht_find_node(dc->node->dht, now_ms(dc->node), dc->key, 0,
			     (struct dht_lookup_cb){find_done, dc});
}

static struct rpc_result *m_dht_find_node(struct rpc_call *call)
{
	static const char *const allowed[] = {"id", NULL};
	struct dht_call *dc;
	struct rpc_result *r;
	uint8_t id[DHT_ID_LEN];
	bool present;

	if ((r = rpc_params_only(call, allowed)) != NULL ||
	    (r = need_dht(call)) != NULL ||
	    (r = rpc_param_hex(call, "id", true, id, sizeof id, &present)) !=
		    NULL)
		return r;
	dc = calloc(1, sizeof *dc);
	if (dc == NULL)
		return rpc_fail(call, NODE_ERR_INTERNAL, NULL, NULL);
	dc->node = rpc_node(call);
	memcpy(dc->key, id, sizeof id);
	return start_lookup(call, dc, start_find, NULL);
}

static bool is_utf8_text(const uint8_t *p, size_t n)
{
	json_t *s = json_stringn((const char *)p, n);
	bool ok = s != NULL && memchr(p, 0, n) == NULL;

	json_decref(s);
	return ok;
}

static void get_done(void *arg, const struct dht_result *res)
{
	struct dht_call *dc = arg;
	const struct dht_record *rec = res->record;
	char hex[DHT_VALUE_MAX * 2 + 1];
	char pub[CX_CONTACT_ID_LEN + 1];
	json_t *o;

	if (res->status != 0 || rec == NULL) {
		rpc_later_fail(dc->later,
			       res->status == -ETIMEDOUT && res->replies == 0
				       ? NODE_ERR_UNREACHABLE
				       : NODE_ERR_NOT_FOUND,
			       NULL, "no record under that key (%u nodes asked)",
			       res->queries);
		free(dc);
		return;
	}
	cx_hex_encode(hex, sizeof hex, rec->value, rec->value_len);
	cx_contact_id_encode(pub, sizeof pub, rec->pk);
	o = json_pack("{s:s, s:I, s:s, s:I, s:i}", "value_hex", hex, "seq",
		      (json_int_t)rec->seq, "publisher", pub, "expires_at",
		      (json_int_t)rec->expiry_s, "rounds", res->rounds);
	if (o != NULL && is_utf8_text(rec->value, rec->value_len))
		json_object_set_new(o, "value",
				    json_stringn((const char *)rec->value,
						 rec->value_len));
	rpc_later_ok(dc->later, o);
	free(dc);
}

static int start_get(struct dht_call *dc, void *arg)
{
	unsigned flags = *(const unsigned *)arg;

	return dht_get(dc->node->dht, now_ms(dc->node), dc->key, flags,
		       (struct dht_lookup_cb){get_done, dc});
}

static struct rpc_result *m_dht_get(struct rpc_call *call)
{
	static const char *const allowed[] = {"key", "first", NULL};
	bool first = false, has_first;
	unsigned flags = 0;
	struct dht_call *dc;
	struct rpc_result *r;
	uint8_t key[DHT_ID_LEN];
	bool present;

	if ((r = rpc_params_only(call, allowed)) != NULL ||
	    (r = need_dht(call)) != NULL ||
	    (r = rpc_param_hex(call, "key", true, key, sizeof key,
			       &present)) != NULL)
		return r;
	if ((r = rpc_param_bool(call, "first", &first, &has_first)) != NULL)
		return r;
	/* first: answer with the first valid record found, not the highest
	 * sequence number among the closest nodes (faster; may be older). */
	if (first)
		flags |= DHT_GET_FIRST;
	dc = calloc(1, sizeof *dc);
	if (dc == NULL)
		return rpc_fail(call, NODE_ERR_INTERNAL, NULL, NULL);
	dc->node = rpc_node(call);
	memcpy(dc->key, key, sizeof key);
	return start_lookup(call, dc, start_get, &flags);
}

/* --- put --- */

static void put_done(void *arg, const struct dht_result *res)
{
	struct dht_call *dc = arg;
	char key[DHT_ID_LEN * 2 + 1];

	cx_hex_encode(key, sizeof key, dc->key, DHT_ID_LEN);
	if (res->status != 0 || res->stored == 0)
		rpc_later_fail(dc->later, NODE_ERR_UNREACHABLE, NULL,
			       "no node stored the record (%u asked)",
			       res->queries);
	else
		rpc_later_ok(dc->later,
			     json_pack("{s:s, s:I, s:i, s:i}", "key", key,
				       "seq", (json_int_t)dc->seq, "stored",
				       res->stored, "rounds", res->rounds));
	free(dc);
}

static struct rpc_result *m_dht_put(struct rpc_call *call)
{
	static const char *const allowed[] = {"value", "salt", "ttl_s", NULL};
	struct node *n = rpc_node(call);
	struct dht_record rec;
	struct dht_call *dc;
	struct rpc_result *r;
	const char *value, *salt;
	uint64_t ttl = DHT_TTL_DEFAULT_S, h;
	bool has_ttl;
	int e;

	if ((r = rpc_params_only(call, allowed)) != NULL ||
	    (r = need_dht(call)) != NULL ||
	    (r = rpc_param_string(call, "value", true, DHT_VALUE_MAX,
				  &value)) != NULL ||
	    (r = rpc_param_string(call, "salt", false, DHT_SALT_MAX,
				  &salt)) != NULL ||
	    (r = rpc_param_u64(call, "ttl_s", &ttl, &has_ttl)) != NULL)
		return r;
	if (ttl == 0 || ttl > DHT_TTL_MAX_S)
		return rpc_fail(call, NODE_ERR_PARAMS, "ttl_s",
				"'ttl_s' must be 1 to %d seconds",
				DHT_TTL_MAX_S);
	memset(&rec, 0, sizeof rec);
	rec.kind = DHT_RECORD_KIND_GENERIC;
	memcpy(rec.pk, n->identity.account_pk, CX_ED_PK_LEN);
	if (salt != NULL) {
		rec.salt_len = (uint8_t)strlen(salt);
		memcpy(rec.salt, salt, rec.salt_len);
	}
	rec.value_len = (uint16_t)strlen(value);
	memcpy(rec.value, value, rec.value_len);
	rec.expiry_s = now_ms(n) / 1000 + ttl;
	dc = calloc(1, sizeof *dc);
	if (dc == NULL)
		return rpc_fail(call, NODE_ERR_INTERNAL, NULL, NULL);
	dc->node = n;
	dht_record_key(dc->key, &rec);
	r = rpc_pending(call, &dc->later);
	if (dc->later == NULL) {
		free(dc);
		return r;
	}
	/* The search for the closest nodes goes out first and runs while the
	 * sequence number is reserved (an fsync once per OWNSEQ_BLOCK puts);
	 * the record is signed and handed over, so stored anywhere, only once
	 * its number is durable: a restart never signs two values with one
	 * seq. */
	e = dht_put_begin(n->dht, now_ms(n), dc->key, DHT_PUT_REPUBLISH,
			  (struct dht_lookup_cb){put_done, dc}, &h);
	if (e < 0) {
		lookup_not_started(dc->later, e);
		free(dc);
		return r;
	}
	if ((e = ownseq_next(&n->ownseq, n->store, dc->key, &dc->seq)) == 0) {
		rec.seq = dc->seq;
		if (dht_record_sign(&rec, n->identity.account_sk) < 0)
			e = -EFAULT;
	}
	if (e < 0) {
		dht_put_abort(n->dht, h);
		rpc_later_fail(dc->later,
			       e == -EFAULT ? NODE_ERR_INTERNAL
					    : node_err_from_errno(e),
			       NULL, NULL);
		free(dc);
	} else if ((e = dht_put_commit(n->dht, now_ms(n), h, &rec)) < 0) {
		/* dc is ours again: the commit failed without the callback */
		if (e == -ENOSPC)
			rpc_later_fail(dc->later, NODE_ERR_STORE_FULL, NULL,
				       "this node republishes at most %u "
				       "records of its own (its contact card "
				       "and request rendezvous among them)",
				       DHT_OWN_RECORDS_DEFAULT);
		else
			lookup_not_started(dc->later, e);
		free(dc);
	}
	kick(n);
	return r;
}

const struct rpc_method rpc_dht_methods[] = {
	{"dht.status", m_dht_status},	  {"dht.bootstrap", m_dht_bootstrap},
	{"dht.find_node", m_dht_find_node}, {"dht.get", m_dht_get},
	{"dht.put", m_dht_put},
};
const size_t rpc_dht_num_methods =
	sizeof rpc_dht_methods / sizeof rpc_dht_methods[0];
