/* The relay service (node/relay.h). */
#include "node/relay.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/cx.h"
#include "crypto/envelope.h"
#include "crypto/keys.h"
#include "crypto/kdf.h"
#include "crypto/sign.h"
#include "node/bytes.h"
#include "node/log.h"
#include "node/relay_wire.h"

#define EXPIRE_BATCH 1024 /* items per sweep transaction */
#define SOURCE_KEY_CTX "relaysrc" /* cx_store_subkey context, 8 chars */

struct bucket {
	bool used;
	uint8_t pk[LINK_PK_LEN];
	uint64_t tokens_milli; /* thousandths of a request */
	uint64_t last_ms;
};

/* Who fetched a mailbox last, to be told of deposits. */
struct watcher {
	bool used;
	uint8_t skey[RELAY_MAILBOX_LEN], id[RELAY_MAILBOX_LEN];
	uint8_t pk[LINK_PK_LEN];
	uint64_t until_ms;
	bool told; /* in this flush */
};

struct req {
	uint8_t pk[LINK_PK_LEN];
	bool fetch, poll;		 /* neither: a deposit */
	bool request;			 /* for a request mailbox */
	uint8_t skey[RELAY_MAILBOX_LEN]; /* where the store keeps it */
	struct rw_deposit dep; /* dep.blob points into buf */
	uint8_t source[RELAYSTORE_SOURCE_LEN]; /* a deposit's source tag */
	struct rw_fetch fe;
	struct rw_poll po; /* po.mailbox points into buf */
	uint8_t buf[RELAY_BLOB_MAX];
	/* the answer, built by the transaction */
	uint8_t ans[LINK_PAYLOAD_MAX];
	size_t ans_len;
	unsigned deleted;
};

struct relay {
	struct relay_config cfg;
	uint64_t advert_ms; /* next publication */
	uint8_t node_pk[LINK_PK_LEN];
	struct bucket *buckets; /* RELAY_SOURCES_MAX */
	struct req *reqs;	/* RELAY_PENDING_MAX */
	size_t nreqs;
	struct watcher *watch; /* RELAY_WATCHERS_MAX */
	uint64_t sweep_ms;
	struct relay_status st;
	uint8_t *source_key; /* CX_KEY_LEN, secret memory; NULL: none */
};

static uint64_t mono(const struct relay *r)
{
	return r->cfg.clock->mono_ms(r->cfg.clock->self);
}

static uint64_t wall_s(const struct relay *r)
{
	return r->cfg.clock->wall_ms(r->cfg.clock->self) / 1000;
}

/* The store's key of a mailbox: pairwise (ns 0) and request (ns 1)
 * mailboxes apart, so that a plain DEPOSIT, without a stamp, cannot reach
 * a request mailbox whose ID anyone can compute.
 *   skey = BLAKE2b-512("parley relay store v1" || ns || id)[0..32] */
static void store_key(uint8_t out[RELAY_MAILBOX_LEN], uint8_t ns,
		      const uint8_t id[RELAY_MAILBOX_LEN])
{
	static const char label[] = "parley relay store v1";
	uint8_t h[CX_BLAKE2B_LEN];
	struct cx_buf parts[3] = {
		{label, sizeof label - 1}, {&ns, 1}, {id, RELAY_MAILBOX_LEN}};

	cx_hash_parts(CX_HASH_BLAKE2B, h, parts, 3);
	memcpy(out, h, RELAY_MAILBOX_LEN);
}

/* The source of a request, for its token bucket: the address block of
 * the peer's link (an IPv4 /24, an IPv6 /48), which a node cannot change
 * at will as it can its key; the key itself when the link has no
 * address we know. */
static void source_of(struct relay *r, const uint8_t *pk, uint64_t now,
		      uint8_t src[LINK_PK_LEN])
{
	struct link_peer_status ps;

	memset(src, 0, LINK_PK_LEN);
	if (link_peer_status(r->cfg.links, now, pk, &ps) < 0) {
		memcpy(src, pk, LINK_PK_LEN);
		return;
	}
	src[0] = 0xa5; /* not a key's first bytes by chance: tagged */
	src[1] = ps.addr.family;
	if (ps.addr.family == DHT_FAMILY_IPV4)
		memcpy(src + 2, ps.addr.ip, 3);
	else
		memcpy(src + 2, ps.addr.ip, 6);
}

/* The tag a deposit from pk is stored and counted under (relaystore.h):
 * HMAC-BLAKE2b(source key, source_of())[0..8].  Keyed, so that a copy of
 * the store does not name the depositors' address blocks (an IPv4 /24 is
 * quickly guessed from an unkeyed hash); it still shows which items share
 * a source.  Never all zero, the unknown source. */
static void source_tag(struct relay *r, const uint8_t *pk, uint64_t now,
		       uint8_t tag[RELAYSTORE_SOURCE_LEN])
{
	uint8_t src[LINK_PK_LEN], h[CX_BLAKE2B_LEN];
	struct cx_buf part = {src, sizeof src};

	source_of(r, pk, now, src);
	cx_hmac_parts(CX_HASH_BLAKE2B, h, r->source_key,
		      r->source_key != NULL ? CX_KEY_LEN : 0, &part, 1);
	memcpy(tag, h, RELAYSTORE_SOURCE_LEN);
	if (cx_is_zero(tag, RELAYSTORE_SOURCE_LEN))
		tag[0] = 1;
}

/* Takes one request's token from pk's source's bucket; false when it is
 * empty.  A full table gives the slot of the source heard from least
 * recently. */
static bool rate_take(struct relay *r, const uint8_t *pk, uint64_t now)
{
	struct bucket *b = NULL, *oldest = NULL;
	uint8_t src[LINK_PK_LEN];

	source_of(r, pk, now, src);
	pk = src;

	for (unsigned i = 0; i < RELAY_SOURCES_MAX; i++) {
		struct bucket *x = &r->buckets[i];

		if (x->used && memcmp(x->pk, pk, LINK_PK_LEN) == 0) {
			b = x;
			break;
		}
		if (oldest == NULL || !x->used ||
		    (oldest->used && x->last_ms < oldest->last_ms))
			oldest = x;
	}
	if (b == NULL) {
		b = oldest;
		b->used = true;
		memcpy(b->pk, pk, LINK_PK_LEN);
		b->tokens_milli = (uint64_t)RELAY_BURST * 1000;
		b->last_ms = now;
	}
	b->tokens_milli += (now - b->last_ms) * RELAY_RATE;
	if (b->tokens_milli > (uint64_t)RELAY_BURST * 1000)
		b->tokens_milli = (uint64_t)RELAY_BURST * 1000;
	b->last_ms = now;
	if (b->tokens_milli < 1000)
		return false;
	b->tokens_milli -= 1000;
	return true;
}

static void answer_dep(struct relay *r, const uint8_t *pk, uint32_t req,
		       int code)
{
	struct rw_deposit_res dr = {req, (uint8_t)code};
	uint8_t f[RW_DEPOSIT_RES_LEN];
	size_t len;

	if (rw_deposit_res_encode(f, sizeof f, &len, &dr) == 0)
		(void)link_send(r->cfg.links, mono(r), pk, f, len);
}

static void answer_poll(struct relay *r, const uint8_t *pk,
			const struct rw_poll *po, int code)
{
	struct rw_poll_res pr;
	uint8_t f[RW_POLL_RES_MAX];
	size_t len;

	memset(&pr, 0, sizeof pr);
	pr.req = po->req;
	pr.code = (uint8_t)code;
	pr.n = po->n;
	if (rw_poll_res_encode(f, sizeof f, &len, &pr) == 0)
		(void)link_send(r->cfg.links, mono(r), pk, f, len);
}

/* A POLL: queued like a FETCH (answered after the turn's commit, so that
 * it sees the deposits before it), for one token: it costs the relay a
 * few reads and no signature check. */
static void poll_in(struct relay *r, const uint8_t *pk, const uint8_t *data,
		    size_t len, uint64_t now)
{
	struct rw_poll po;
	struct req *q;

	if (rw_poll_decode(&po, data, len) < 0)
		return;
	if (!r->cfg.enabled) {
		answer_poll(r, pk, &po, RC_NOT_RELAY);
		return;
	}
	if (!rate_take(r, pk, now) || r->nreqs >= RELAY_PENDING_MAX) {
		r->st.rate_limited++;
		answer_poll(r, pk, &po, RC_RATE);
		return;
	}
	q = &r->reqs[r->nreqs++];
	memcpy(q->pk, pk, LINK_PK_LEN);
	q->fetch = false;
	q->poll = true;
	q->po = po;
	memcpy(q->buf, po.mailbox, (size_t)po.n * RELAY_MAILBOX_LEN);
	q->po.mailbox = q->buf;
}

static void answer_fetch(struct relay *r, const uint8_t *pk,
			 const struct rw_fetch *fe, int code)
{
	struct rw_items h;
	uint8_t f[RW_ITEMS_HDR];
	size_t len;

	memset(&h, 0, sizeof h);
	h.req = fe->req;
	memcpy(h.mailbox, fe->mailbox, RELAY_MAILBOX_LEN);
	h.code = (uint8_t)code;
	if (rw_items_begin(f, sizeof f, &len, &h) == 0)
		(void)link_send(r->cfg.links, mono(r), pk, f, len);
}

void relay_frame(struct relay *r, const uint8_t pk[static LINK_PK_LEN],
		 const uint8_t *data, size_t len)
{
	struct req *q;
	uint64_t now = mono(r);

	if (len == 0 || !relay_frame_is_request(data[0]))
		return;
	if (data[0] == RF_POLL) {
		poll_in(r, pk, data, len, now);
		return;
	}
	if (data[0] == RF_DEPOSIT || data[0] == RF_DEPOSIT_REQ) {
		struct rw_deposit_req dq;
		struct rw_deposit d;
		uint8_t ch[CX_POW_CHALLENGE_LEN];
		bool request = data[0] == RF_DEPOSIT_REQ;

		if (request ? rw_deposit_req_decode(&dq, data, len) < 0
			    : rw_deposit_decode(&dq.d, data, len) < 0)
			return;
		d = dq.d;
		if (!r->cfg.enabled) {
			answer_dep(r, pk, d.req, RC_NOT_RELAY);
			return;
		}
		if (!rate_take(r, pk, now) || r->nreqs >= RELAY_PENDING_MAX) {
			r->st.rate_limited++;
			answer_dep(r, pk, d.req, RC_RATE);
			return;
		}
		if (request) {
			cx_pow_challenge(ch, d.mailbox, d.blob, d.blob_len);
			if (!cx_pow_verify(ch, RELAY_POW_BITS, dq.stamp)) {
				r->st.pow_failed++;
				answer_dep(r, pk, d.req, RC_POW);
				return;
			}
		}
		q = &r->reqs[r->nreqs++];
		memcpy(q->pk, pk, LINK_PK_LEN);
		q->fetch = false;
		q->poll = false;
		q->dep = d;
		source_tag(r, pk, now, q->source);
		store_key(q->skey, request, d.mailbox);
		memcpy(q->buf, d.blob, d.blob_len);
		q->dep.blob = q->buf;
		return;
	}
	{
		struct rw_fetch_req fq;
		struct rw_fetch fe;
		uint8_t msg[RW_FETCH_REQ_SIGMSG_LEN], id[RELAY_MAILBOX_LEN];
		size_t msg_len;
		uint64_t ws = wall_s(r);
		bool request = data[0] == RF_FETCH_REQ;

		if (request ? rw_fetch_req_decode(&fq, data, len) < 0
			    : rw_fetch_decode(&fq.f, data, len) < 0)
			return;
		fe = fq.f;
		if (!r->cfg.enabled) {
			answer_fetch(r, pk, &fe, RC_NOT_RELAY);
			return;
		}
		if (!rate_take(r, pk, now) || r->nreqs >= RELAY_PENDING_MAX) {
			r->st.rate_limited++;
			answer_fetch(r, pk, &fe, RC_RATE);
			return;
		}
		/* the key that signs: the mailbox's own, or for a request
		 * mailbox the account's, named in place of the mailbox */
		if (request) {
			rw_fetch_req_sigmsg(msg, r->node_pk, &fq);
			msg_len = RW_FETCH_REQ_SIGMSG_LEN;
		} else {
			rw_fetch_sigmsg(msg, r->node_pk, &fe);
			msg_len = RW_FETCH_SIGMSG_LEN;
		}
		if (cx_sign_verify(fe.sig, msg, msg_len, fe.mailbox) < 0 ||
		    fe.ts_s + RELAY_FETCH_SKEW_S < ws ||
		    fe.ts_s > ws + RELAY_FETCH_SKEW_S) {
			r->st.auth_failed++;
			answer_fetch(r, pk, &fe, RC_AUTH);
			return;
		}
		if (request) {
			cx_request_mailbox_id(id, fe.mailbox, fq.epoch);
			memcpy(fe.mailbox, id, RELAY_MAILBOX_LEN);
		}
		q = &r->reqs[r->nreqs++];
		memcpy(q->pk, pk, LINK_PK_LEN);
		q->fetch = true;
		q->poll = false;
		q->request = request;
		q->fe = fe; /* answered under the mailbox's ID */
		store_key(q->skey, request, fe.mailbox);
	}
}

/* The fetcher of skey (answered as id) is pk, from now on. */
static void watch_set(struct relay *r, const uint8_t *skey, const uint8_t *id,
		      const uint8_t *pk, uint64_t now)
{
	struct watcher *w = NULL, *old = NULL;

	for (unsigned i = 0; i < RELAY_WATCHERS_MAX; i++) {
		struct watcher *x = &r->watch[i];

		if (x->used && memcmp(x->skey, skey, RELAY_MAILBOX_LEN) == 0) {
			w = x;
			break;
		}
		if (old == NULL || !x->used ||
		    (old->used && x->until_ms < old->until_ms))
			old = x;
	}
	if (w == NULL)
		w = old;
	w->used = true;
	memcpy(w->skey, skey, RELAY_MAILBOX_LEN);
	memcpy(w->id, id, RELAY_MAILBOX_LEN);
	memcpy(w->pk, pk, LINK_PK_LEN);
	w->until_ms = now + RELAY_WATCH_MS;
}

/* A deposit into skey was committed: tell its fetcher, once per flush. */
static void watch_tell(struct relay *r, const uint8_t *skey, uint64_t now)
{
	uint8_t f[RW_NOTIFY_LEN];

	for (unsigned i = 0; i < RELAY_WATCHERS_MAX; i++) {
		struct watcher *w = &r->watch[i];

		if (!w->used ||
		    memcmp(w->skey, skey, RELAY_MAILBOX_LEN) != 0)
			continue;
		if (now >= w->until_ms) {
			w->used = false;
			return;
		}
		if (w->told)
			return;
		w->told = true;
		rw_notify_encode(f, w->id);
		if (link_send(r->cfg.links, now, w->pk, f, sizeof f) == 0)
			r->st.notified++;
		return;
	}
}

struct fill {
	struct req *q;
	bool more;
};

static int fill_item(void *ctx, uint64_t seq, const uint8_t *blob, size_t len)
{
	struct fill *f = ctx;

	if (rw_items_add(f->q->ans, sizeof f->q->ans, &f->q->ans_len, seq,
			 blob, len) < 0) {
		f->more = true;
		return 1;
	}
	return 0;
}

/* Which of a POLL's mailboxes hold items: pairwise ones only (namespace
 * 0), so a request mailbox, whose ID anyone can derive, reads as empty. */
static int poll_txn(struct store_txn *t, struct req *q)
{
	struct rw_poll_res pr;
	int e;

	memset(&pr, 0, sizeof pr);
	pr.req = q->po.req;
	pr.code = RC_OK;
	pr.n = q->po.n;
	for (unsigned i = 0; i < q->po.n; i++) {
		struct relaystore_box b;
		uint8_t skey[RELAY_MAILBOX_LEN];

		store_key(skey, 0, q->po.mailbox + i * RELAY_MAILBOX_LEN);
		if ((e = relaystore_box(t, skey, &b)) < 0)
			return e;
		if (b.items > 0)
			pr.bits[i / 8] |= (uint8_t)(1u << (i % 8));
	}
	return rw_poll_res_encode(q->ans, sizeof q->ans, &q->ans_len, &pr);
}

static int flush_txn(struct store_txn *t, void *ctx)
{
	struct relay *r = ctx;
	uint64_t now_s = wall_s(r);
	int e;

	for (size_t i = 0; i < r->nreqs; i++) {
		struct req *q = &r->reqs[i];

		q->deleted = 0;
		if (q->poll) {
			if ((e = poll_txn(t, q)) < 0)
				return e;
		} else if (!q->fetch) {
			uint64_t seq;
			struct rw_deposit_res dr = {q->dep.req, RC_OK};

			e = relaystore_deposit(t, &r->cfg.limits, q->skey,
					       q->source, q->dep.blob,
					       q->dep.blob_len, now_s, &seq);
			if (e == -EDQUOT)
				dr.code = RC_MAILBOX_FULL;
			else if (e == -EUSERS)
				dr.code = RC_QUOTA;
			else if (e == -ENOSPC)
				dr.code = RC_RELAY_FULL;
			else if (e < 0)
				return e;
			if ((e = rw_deposit_res_encode(q->ans, sizeof q->ans,
						       &q->ans_len, &dr)) < 0)
				return e;
		} else {
			struct rw_items h;
			struct fill f = {q, false};

			memset(&h, 0, sizeof h);
			h.req = q->fe.req;
			memcpy(h.mailbox, q->fe.mailbox, RELAY_MAILBOX_LEN);
			h.code = RC_OK;
			if (q->fe.del_upto > 0 &&
			    (e = relaystore_delete_upto(t, q->skey,
							q->fe.del_upto,
							&q->deleted)) < 0)
				return e;
			if ((e = rw_items_begin(q->ans, sizeof q->ans,
						&q->ans_len, &h)) < 0)
				return e;
			if ((e = relaystore_fetch(t, q->skey, q->fe.after,
						  now_s, fill_item, &f)) < 0)
				return e;
			if (f.more)
				rw_items_set_flags(q->ans, RW_ITEMS_MORE);
		}
	}
	return 0;
}

void relay_flush(struct relay *r)
{
	uint64_t now = mono(r);
	int e;

	if (r->nreqs == 0)
		return;
	e = store_write(r->cfg.store, flush_txn, r);
	for (size_t i = 0; i < r->nreqs; i++) {
		struct req *q = &r->reqs[i];

		if (e < 0) {
			/* a store at its largest or a full disk: the relay
			 * is full, says so, and the sender tries another */
			int code = e == -ENOSPC ? RC_RELAY_FULL : RC_ERROR;

			r->st.errors++;
			if (q->poll)
				answer_poll(r, q->pk, &q->po, RC_ERROR);
			else if (q->fetch)
				answer_fetch(r, q->pk, &q->fe, RC_ERROR);
			else
				answer_dep(r, q->pk, q->dep.req, code);
			continue;
		}
		if (q->poll) {
			struct rw_poll_res pr;

			r->st.polls++;
			for (unsigned k = 0; k < q->po.n; k++) {
				uint8_t skey[RELAY_MAILBOX_LEN];
				const uint8_t *id =
					q->po.mailbox + k * RELAY_MAILBOX_LEN;

				store_key(skey, 0, id);
				watch_set(r, skey, id, q->pk, now);
			}
			if (rw_poll_res_decode(&pr, q->ans, q->ans_len) == 0)
				for (unsigned k = 0; k < pr.n; k++)
					r->st.polled_full +=
						rw_poll_res_has(&pr, k);
		} else if (q->fetch) {
			if (q->request)
				r->st.request_fetches++;
			else
				r->st.fetches++;
			r->st.deleted += q->deleted;
			watch_set(r, q->skey, q->fe.mailbox, q->pk, now);
			{
				struct rw_items h;
				size_t off = RW_ITEMS_HDR;
				uint64_t seq;
				const uint8_t *b;
				size_t bl;

				if (rw_items_decode(&h, q->ans, q->ans_len) ==
				    0)
					while (rw_items_next(q->ans, q->ans_len,
							     &off, &seq, &b,
							     &bl) == 1)
						r->st.items_sent++;
			}
		} else if (q->ans[RW_DEPOSIT_RES_LEN - 1] == RC_OK) {
			r->st.deposits++;
			watch_tell(r, q->skey, now);
		} else {
			r->st.deposits_refused++;
			if (q->ans[RW_DEPOSIT_RES_LEN - 1] == RC_QUOTA)
				r->st.over_quota++;
		}
		(void)link_send(r->cfg.links, now, q->pk, q->ans, q->ans_len);
	}
	if (e < 0)
		log_warn("relay: cannot commit requests: %s", strerror(-e));
	r->nreqs = 0;
	for (unsigned i = 0; i < RELAY_WATCHERS_MAX; i++)
		r->watch[i].told = false;
}

static const char advert_label[] = "parley relay advert v1";

void relay_advert_signer(uint8_t pk[static 32], uint8_t *sk, unsigned slot,
			 uint64_t hour)
{
	uint8_t seed[CX_BLAKE2B_LEN], tmp[CX_ED_SK_LEN], in[9];
	struct cx_buf parts[2] = {{advert_label, sizeof advert_label - 1},
				  {in, sizeof in}};

	/* seed = BLAKE2b-512("parley relay advert v1" || slot || hour)[0..32]:
	 * public on purpose, anyone may publish an advert */
	in[0] = (uint8_t)slot;
	for (unsigned i = 0; i < 8; i++)
		in[1 + i] = (uint8_t)(hour >> (56 - 8 * i));
	cx_hash_parts(CX_HASH_BLAKE2B, seed, parts, 2);
	cx_sign_keypair_seed(pk, sk != NULL ? sk : tmp, seed);
	cx_wipe(tmp, sizeof tmp);
}

void relay_advert_key(uint8_t key[static DHT_ID_LEN], unsigned slot,
		      uint64_t hour)
{
	struct dht_record r;

	memset(&r, 0, sizeof r);
	r.kind = DHT_RECORD_KIND_RELAY_ADVERT;
	relay_advert_signer(r.pk, NULL, slot, hour);
	dht_record_key(key, &r);
}

int relay_advert_parse(uint8_t node_pk[static 32], const struct dht_record *rec,
		       unsigned slot, uint64_t hour)
{
	uint8_t pk[32];

	relay_advert_signer(pk, NULL, slot, hour);
	if (rec->kind != DHT_RECORD_KIND_RELAY_ADVERT || rec->salt_len != 0 ||
	    rec->value_len != RELAY_ADVERT_LEN || rec->value[0] != 1)
		return -EBADMSG;
	if (memcmp(rec->pk, pk, 32) != 0 || dht_record_verify(rec) < 0)
		return -EKEYREJECTED;
	if (cx_is_zero(rec->value + 1, 32))
		return -EBADMSG;
	memcpy(node_pk, rec->value + 1, 32);
	return 0;
}

static void advert_done(void *arg, const struct dht_result *res)
{
	(void)arg;
	(void)res; /* published again later either way */
}

/* Our advert into our slot of this hour. */
unsigned relay_advert_slot(const uint8_t node_pk[static 32], uint64_t hour)
{
	static const char label[] = "parley relay slot v1";
	uint8_t h[CX_BLAKE2B_LEN], be[8];
	struct cx_buf parts[3] = {
		{label, sizeof label - 1}, {node_pk, 32}, {be, 8}};

	be64_put(be, hour);
	cx_hash_parts(CX_HASH_BLAKE2B, h, parts, 3);
	return h[0] % RELAY_ADVERT_SLOTS;
}

static void advert_publish(struct relay *r)
{
	uint64_t now_s = wall_s(r), hour = now_s / RELAY_ADVERT_HOUR_S;
	uint8_t sk[CX_ED_SK_LEN];
	struct dht_record *rec;
	struct dht_status ds;
	unsigned slot;

	dht_status(r->cfg.dht, &ds);
	if (ds.contacts == 0 || (rec = calloc(1, sizeof *rec)) == NULL)
		return;
	slot = relay_advert_slot(r->node_pk, hour);
	rec->kind = DHT_RECORD_KIND_RELAY_ADVERT;
	relay_advert_signer(rec->pk, sk, slot, hour);
	rec->seq = now_s;
	rec->expiry_s = (hour + 2) * RELAY_ADVERT_HOUR_S;
	rec->value_len = RELAY_ADVERT_LEN;
	rec->value[0] = 1;
	memcpy(rec->value + 1, r->node_pk, 32);
	if (dht_record_sign(rec, sk) == 0 &&
	    dht_put(r->cfg.dht, r->cfg.clock->wall_ms(r->cfg.clock->self), rec,
		    0, (struct dht_lookup_cb){advert_done, NULL}) == 0)
		r->st.adverts++;
	cx_wipe(sk, sizeof sk);
	free(rec);
}

struct sweep {
	uint64_t now_s;
	unsigned deleted;
};

static int sweep_txn(struct store_txn *t, void *ctx)
{
	struct sweep *s = ctx;

	return relaystore_expire(t, s->now_s, EXPIRE_BATCH, &s->deleted);
}

uint64_t relay_tick(struct relay *r)
{
	uint64_t now = mono(r);

	if (!r->cfg.enabled)
		return UINT64_MAX;
	if (r->cfg.dht != NULL && now >= r->advert_ms) {
		struct dht_status ds;

		dht_status(r->cfg.dht, &ds);
		/* not before the DHT has contacts; then every 20 minutes,
		 * and as soon as an hour begins (its slots are new keys) */
		r->advert_ms = now + (ds.contacts > 0 ? RELAY_ADVERT_EVERY_MS
						      : 1000);
		if (ds.contacts > 0) {
			uint64_t to_hour =
				(RELAY_ADVERT_HOUR_S -
				 wall_s(r) % RELAY_ADVERT_HOUR_S) * 1000 + 1000;

			if (now + to_hour < r->advert_ms)
				r->advert_ms = now + to_hour;
		}
		advert_publish(r);
	}
	if (now >= r->sweep_ms) {
		struct sweep s = {wall_s(r), 0};
		int e = store_write(r->cfg.store, sweep_txn, &s);

		if (e < 0) {
			log_warn("relay: expiry sweep failed: %s",
				 strerror(-e));
			r->sweep_ms = now + RELAY_SWEEP_MS;
		} else {
			r->st.expired += s.deleted;
			/* a full batch: more are due, go on soon */
			r->sweep_ms = now + (s.deleted == EXPIRE_BATCH
						     ? 10
						     : RELAY_SWEEP_MS);
		}
	}
	return r->sweep_ms < r->advert_ms || r->cfg.dht == NULL
		       ? r->sweep_ms
		       : r->advert_ms;
}

static int stats_txn(struct store_txn *t, void *ctx)
{
	return relaystore_stats(t, ctx);
}

void relay_status(struct relay *r, struct relay_status *st)
{
	*st = r->st;
	st->enabled = r->cfg.enabled;
	memset(&st->store, 0, sizeof st->store);
	if (r->cfg.enabled &&
	    store_read(r->cfg.store, stats_txn, &st->store) < 0)
		memset(&st->store, 0, sizeof st->store);
}

int relay_new(struct relay **out, const struct relay_config *cfg)
{
	struct relay *r;

	*out = NULL;
	if (cfg == NULL || cfg->clock == NULL || cfg->links == NULL ||
	    cfg->node_pk == NULL || (cfg->enabled && cfg->store == NULL))
		return -EINVAL;
	if ((r = calloc(1, sizeof *r)) == NULL)
		return -ENOMEM;
	r->cfg = *cfg;
	r->cfg.id = NULL; /* not kept: the source key is derived here */
	relaystore_limits_default(&r->cfg.limits);
	if (cfg->enabled && cfg->id != NULL) {
		int e = -ENOMEM;

		if ((r->source_key = cx_secret_alloc(CX_KEY_LEN)) == NULL ||
		    (e = cx_store_subkey(r->source_key, cfg->id, 1,
					 SOURCE_KEY_CTX)) < 0) {
			relay_free(r);
			return e;
		}
	}
	memcpy(r->node_pk, cfg->node_pk, LINK_PK_LEN);
	r->buckets = calloc(RELAY_SOURCES_MAX, sizeof *r->buckets);
	if (cfg->enabled) {
		r->reqs = calloc(RELAY_PENDING_MAX, sizeof *r->reqs);
		r->watch = calloc(RELAY_WATCHERS_MAX, sizeof *r->watch);
	}
	if (r->buckets == NULL ||
	    (cfg->enabled && (r->reqs == NULL || r->watch == NULL))) {
		relay_free(r);
		return -ENOMEM;
	}
	*out = r;
	return 0;
}

void relay_free(struct relay *r)
{
	if (r == NULL)
		return;
	free(r->buckets);
	free(r->reqs);
	free(r->watch);
	cx_secret_free(r->source_key);
	free(r);
}
