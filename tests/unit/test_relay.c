/* Unit tests of store-and-forward relays: the pair's mailboxes
 * (node/mailbox.c), the relay service (node/relay.c) over a real store,
 * and the client side (node/relayc.c).  Client and relay are real link
 * managers joined by an in-memory network with a virtual clock; the
 * relay's answers are the real frames. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/cx.h"
#include "crypto/envelope.h"
#include "crypto/prim.h"
#include "crypto/sign.h"
#include "node/env.h"
#include "node/link.h"
#include "node/mailbox.h"
#include "node/relay.h"
#include "node/relay_wire.h"
#include "node/relayc.h"
#include "store/store.h"
#include "tests/unit/store_testutil.h"

#define T0_WALL 1800000000000ull
#define QMAX 4096

/* ---- mailboxes ---- */

static void mailbox_seal_open(void **state)
{
	uint8_t pair[32], other[32], owner[32], id1[32], id2[32], sk[64];
	uint8_t chunk[MAILBOX_CHUNK], blob[RELAY_BLOB_MAX], pt[RELAY_BLOB_MAX];
	uint8_t sig[64];
	struct mailbox_part p = {0}, q;
	struct trng r;
	size_t len;

	(void)state;
	trng_init(&r, 7);
	trng_fill(&r, pair, sizeof pair);
	trng_fill(&r, other, sizeof other);
	trng_fill(&r, owner, sizeof owner);
	trng_fill(&r, chunk, sizeof chunk);
	/* IDs: deterministic, different per epoch and per owner, and the
	 * secret half signs for the ID */
	mailbox_id(id1, sk, pair, owner, 100);
	mailbox_id(id2, NULL, pair, owner, 100);
	assert_memory_equal(id1, id2, 32);
	mailbox_id(id2, NULL, pair, owner, 101);
	assert_memory_not_equal(id1, id2, 32);
	mailbox_id(id2, NULL, pair, other, 100);
	assert_memory_not_equal(id1, id2, 32);
	cx_sign(sig, (const uint8_t *)"x", 1, sk);
	assert_int_equal(cx_sign_verify(sig, (const uint8_t *)"x", 1, id1), 0);
	assert_int_equal(mailbox_epoch(MAILBOX_EPOCH_S * 5 + 1), 5);

	p.flags = 0;
	p.tag = 0xa1b2c3d4;
	p.n = 77;
	p.index = 1;
	p.count = 3;
	p.chunk = chunk;
	p.chunk_len = MAILBOX_CHUNK;
	assert_int_equal(mailbox_seal(blob, sizeof blob, &len, pair, owner,
				      100, &p, &r.rng),
			 0);
	assert_int_equal(len, RELAY_BLOB_MAX); /* a full part fills an item */
	assert_int_equal(mailbox_open(&q, pt, sizeof pt, blob, len, pair,
				      owner, 100),
			 0);
	assert_int_equal(q.tag, p.tag);
	assert_int_equal(q.n, 77);
	assert_int_equal(q.index, 1);
	assert_int_equal(q.count, 3);
	assert_int_equal(q.chunk_len, MAILBOX_CHUNK);
	assert_memory_equal(q.chunk, chunk, MAILBOX_CHUNK);
	/* another epoch, owner or pair does not open it; nor a changed byte */
	assert_int_equal(mailbox_open(&q, pt, sizeof pt, blob, len, pair,
				      owner, 101),
			 -EKEYREJECTED);
	assert_int_equal(mailbox_open(&q, pt, sizeof pt, blob, len, pair,
				      other, 100),
			 -EKEYREJECTED);
	assert_int_equal(mailbox_open(&q, pt, sizeof pt, blob, len, other,
				      owner, 100),
			 -EKEYREJECTED);
	for (size_t i = 1; i < len; i += 97) {
		blob[i] ^= 0x20;
		assert_int_equal(mailbox_open(&q, pt, sizeof pt, blob, len,
					      pair, owner, 100),
				 -EKEYREJECTED);
		blob[i] ^= 0x20;
	}
	blob[0] = 2; /* unknown version */
	assert_int_equal(
		mailbox_open(&q, pt, sizeof pt, blob, len, pair, owner, 100),
		-EBADMSG);
	/* parts: only the last may be short; index < count; count > 0 */
	p.chunk_len = 10;
	assert_int_equal(mailbox_seal(blob, sizeof blob, &len, pair, owner,
				      100, &p, &r.rng),
			 -EINVAL);
	p.index = 2;
	assert_int_equal(mailbox_seal(blob, sizeof blob, &len, pair, owner,
				      100, &p, &r.rng),
			 0);
	assert_int_equal(mailbox_open(&q, pt, sizeof pt, blob, len, pair,
				      owner, 100),
			 0);
	assert_int_equal(q.chunk_len, 10);
	p.index = 3;
	assert_int_equal(mailbox_seal(blob, sizeof blob, &len, pair, owner,
				      100, &p, &r.rng),
			 -EINVAL);
	p.index = 0;
	p.count = 0;
	assert_int_equal(mailbox_seal(blob, sizeof blob, &len, pair, owner,
				      100, &p, &r.rng),
			 -EINVAL);
	p.count = 1;
	assert_int_equal(mailbox_seal(blob, 20, &len, pair, owner, 100, &p,
				      &r.rng),
			 -E2BIG);
	cx_wipe(sk, sizeof sk);
}

/* ---- relay adverts ---- */

static void adverts(void **state)
{
	uint8_t pk[32], pk2[32], sk[64], key[DHT_ID_LEN], key2[DHT_ID_LEN];
	uint8_t node[32], got[32];
	struct dht_record rec;

	(void)state;
	memset(node, 0x5a, sizeof node);
	/* slot keys: anyone derives them, per slot and per hour */
	relay_advert_signer(pk, sk, 3, 500000);
	relay_advert_signer(pk2, NULL, 3, 500000);
	assert_memory_equal(pk, pk2, 32);
	relay_advert_signer(pk2, NULL, 4, 500000);
	assert_memory_not_equal(pk, pk2, 32);
	relay_advert_signer(pk2, NULL, 3, 500001);
	assert_memory_not_equal(pk, pk2, 32);
	relay_advert_key(key, 3, 500000);
	relay_advert_key(key2, 3, 500001);
	assert_memory_not_equal(key, key2, DHT_ID_LEN);
	/* a well-formed advert parses to its node key, under its key */
	memset(&rec, 0, sizeof rec);
	rec.kind = DHT_RECORD_KIND_RELAY_ADVERT;
	memcpy(rec.pk, pk, 32);
	rec.seq = 1;
	rec.expiry_s = 500002ull * 3600;
	rec.value_len = RELAY_ADVERT_LEN;
	rec.value[0] = 1;
	memcpy(rec.value + 1, node, 32);
	assert_int_equal(dht_record_sign(&rec, sk), 0);
	dht_record_key(key2, &rec);
	assert_memory_equal(key, key2, DHT_ID_LEN);
	assert_int_equal(relay_advert_parse(got, &rec, 3, 500000), 0);
	assert_memory_equal(got, node, 32);
	/* another slot or hour, a changed value, a bad layout: refused */
	assert_int_equal(relay_advert_parse(got, &rec, 4, 500000),
			 -EKEYREJECTED);
	assert_int_equal(relay_advert_parse(got, &rec, 3, 499999),
			 -EKEYREJECTED);
	rec.value[5] ^= 1;
	assert_int_equal(relay_advert_parse(got, &rec, 3, 500000),
			 -EKEYREJECTED);
	rec.value[5] ^= 1;
	rec.value[0] = 2;
	assert_int_equal(relay_advert_parse(got, &rec, 3, 500000), -EBADMSG);
	rec.value[0] = 1;
	rec.value_len = RELAY_ADVERT_LEN + 1;
	assert_int_equal(relay_advert_parse(got, &rec, 3, 500000), -EBADMSG);
	rec.value_len = RELAY_ADVERT_LEN;
	memset(rec.value + 1, 0, 32); /* no node key */
	assert_int_equal(dht_record_sign(&rec, sk), 0);
	assert_int_equal(relay_advert_parse(got, &rec, 3, 500000), -EBADMSG);
	rec.kind = DHT_RECORD_KIND_GENERIC;
	assert_int_equal(relay_advert_parse(got, &rec, 3, 500000), -EBADMSG);
	cx_wipe(sk, sizeof sk);
}

/* ---- a client node and a relay node on an in-memory network ---- */

struct pkt {
	uint64_t at;
	unsigned to;
	struct dht_addr from;
	size_t len;
	uint8_t data[LINK_PKT_MAX];
};

struct tn {
	struct tnet *net;
	unsigned idx;
	struct trng rng;
	struct clock clock;
	struct dht_addr addr;
	uint8_t sk[32], pk[32];
	struct link_mgr *links;
	struct store *store;
	char dir[64];
	struct relay *relay;
	struct relayc *rc;
	/* answers seen by the client */
	uint8_t ans[64][LINK_PAYLOAD_MAX];
	size_t ans_len[64];
	unsigned nans;
	/* relayc outcomes */
	int dep_code[64];
	unsigned ndep;
	int fetch_err[64];
	uint8_t fetch_frame[64][LINK_PAYLOAD_MAX];
	size_t fetch_len[64];
	unsigned nfetch;
	uint8_t notified[RELAY_MAILBOX_LEN];
	unsigned nnotify;
	int poll_err[8];
	struct rw_poll_res poll_res[8];
	uint64_t poll_cookie[8];
	unsigned npoll;
};

struct tnet {
	struct tn n[2]; /* 0: client, 1: relay */
	struct pkt *q;
	unsigned qlen;
	uint64_t now;
	bool blackhole; /* drop everything to the relay */
};

static uint64_t c_mono(void *self)
{
	return ((struct tn *)self)->net->now;
}

static uint64_t c_wall(void *self)
{
	return T0_WALL + ((struct tn *)self)->net->now;
}

static int nsend(void *self, const struct dht_addr *to, const uint8_t *pkt,
		 size_t len)
{
	struct tn *t = self;
	struct tnet *n = t->net;
	struct pkt *p;

	if (n->blackhole && to->ip[3] == 2)
		return 0;
	assert_true(n->qlen < QMAX);
	p = &n->q[n->qlen++];
	p->at = n->now + 1;
	p->to = to->ip[3] - 1;
	p->from = t->addr;
	p->len = len;
	memcpy(p->data, pkt, len);
	return 0;
}

static void l_est(void *arg, const uint8_t pk[LINK_PK_LEN],
		  const struct dht_addr *a)
{
	struct tn *t = arg;

	(void)a;
	if (t->rc != NULL)
		relayc_link_up(t->rc, pk);
}

static void l_msg(void *arg, const uint8_t pk[LINK_PK_LEN],
		  const uint8_t *data, size_t len)
{
	struct tn *t = arg;

	if (relay_frame_is_request(data[0])) {
		relay_frame(t->relay, pk, data, len);
		return;
	}
	if (t->rc != NULL)
		relayc_frame(t->rc, pk, data, len);
	if (data[0] == RF_NOTIFY)
		return; /* seen through relayc's callback */
	if (t->nans < 64) {
		memcpy(t->ans[t->nans], data, len);
		t->ans_len[t->nans++] = len;
	}
}

static void l_closed(void *arg, const uint8_t pk[LINK_PK_LEN], int reason)
{
	struct tn *t = arg;

	(void)reason;
	if (t->rc != NULL)
		relayc_link_down(t->rc, pk);
}

static void on_dep(void *arg, const uint8_t relay[LINK_PK_LEN],
		   uint64_t cookie, int code)
{
	struct tn *t = arg;

	(void)relay;
	assert_int_equal(cookie, 1000 + t->ndep);
	t->dep_code[t->ndep++] = code;
}

static void on_fetch(void *arg, const uint8_t relay[LINK_PK_LEN],
		     uint64_t cookie, const uint8_t *frame, size_t len, int err)
{
	struct tn *t = arg;

	(void)relay;
	(void)cookie;
	t->fetch_err[t->nfetch] = err;
	if (frame != NULL)
		memcpy(t->fetch_frame[t->nfetch], frame, len);
	t->fetch_len[t->nfetch++] = len;
}

static void on_poll(void *arg, const uint8_t relay[LINK_PK_LEN],
		    uint64_t cookie, const uint8_t *frame, size_t len, int err)
{
	struct tn *t = arg;

	(void)relay;
	assert_true(t->npoll < 8);
	t->poll_err[t->npoll] = err;
	t->poll_cookie[t->npoll] = cookie;
	if (frame != NULL)
		assert_int_equal(rw_poll_res_decode(&t->poll_res[t->npoll],
						    frame, len),
				 0);
	t->npoll++;
}

static void on_notify(void *arg, const uint8_t relay[LINK_PK_LEN],
		      const uint8_t mailbox[RELAY_MAILBOX_LEN])
{
	struct tn *t = arg;

	(void)relay;
	memcpy(t->notified, mailbox, RELAY_MAILBOX_LEN);
	t->nnotify++;
}

static void step(struct tnet *n)
{
	for (unsigned k = 0; k < n->qlen;) {
		if (n->q[k].at > n->now) {
			k++;
			continue;
		}
		{
			struct pkt p = n->q[k];

			memmove(n->q + k, n->q + k + 1,
				(n->qlen - k - 1) * sizeof n->q[0]);
			n->qlen--;
			link_recv(n->n[p.to].links, n->now, &p.from, p.data,
				  p.len);
			relay_flush(n->n[p.to].relay);
		}
	}
	for (unsigned i = 0; i < 2; i++) {
		link_tick(n->n[i].links, n->now);
		if (n->n[i].rc != NULL)
			relayc_tick(n->n[i].rc);
		relay_tick(n->n[i].relay);
		relay_flush(n->n[i].relay);
	}
	n->now += 1;
}

static void run(struct tnet *n, unsigned ms)
{
	for (unsigned i = 0; i < ms; i++)
		step(n);
}

static size_t g_map_max; /* the relay's store, 0: default */
static uint64_t g_source_bytes; /* the relay's source quota, 0: default */

static struct tnet *tnet_new(bool relay_enabled, uint32_t box_items)
{
	struct tnet *n = calloc(1, sizeof *n);

	assert_non_null(n);
	n->q = calloc(QMAX, sizeof *n->q);
	assert_non_null(n->q);
	n->now = 1000;
	for (unsigned i = 0; i < 2; i++) {
		struct tn *t = &n->n[i];
		struct link_config lc;
		struct relay_config rc;
		struct store_opts so = {.no_sync = true};

		if (i == 1)
			so.map_max = g_map_max;

		t->net = n;
		t->idx = i;
		trng_init(&t->rng, 99 + i);
		t->clock = (struct clock){c_mono, c_wall, t};
		t->addr.family = DHT_FAMILY_IPV4;
		t->addr.ip[0] = 10;
		t->addr.ip[3] = (uint8_t)(i + 1);
		t->addr.port = 5000;
		trng_fill(&t->rng, t->sk, 32);
		cx_x25519_public(t->pk, t->sk);
		memset(&lc, 0, sizeof lc);
		lc.node_sk = t->sk;
		lc.rng = &t->rng.rng;
		lc.io.send = nsend;
		lc.io.self = t;
		lc.cb = (struct link_callbacks){l_est, l_msg, l_closed, t};
		assert_int_equal(link_mgr_new(&t->links, &lc), 0);
		snprintf(t->dir, sizeof t->dir, "/tmp/ptrelay.XXXXXX");
		assert_non_null(mkdtemp(t->dir));
		assert_int_equal(store_open(&t->store, t->dir, &so), 0);
		memset(&rc, 0, sizeof rc);
		rc.clock = &t->clock;
		rc.store = t->store;
		rc.links = t->links;
		rc.node_pk = t->pk;
		rc.enabled = i == 1 && relay_enabled;
		rc.limits.box_items = box_items;
		rc.limits.source_bytes = g_source_bytes;
		assert_int_equal(relay_new(&t->relay, &rc), 0);
	}
	{
		struct relayc_config cc;

		memset(&cc, 0, sizeof cc);
		cc.clock = &n->n[0].clock;
		cc.rng = &n->n[0].rng.rng;
		cc.links = n->n[0].links;
		cc.cb = (struct relayc_callbacks){on_dep, on_fetch, on_poll,
						  on_notify, &n->n[0]};
		assert_int_equal(relayc_new(&n->n[0].rc, &cc), 0);
	}
	return n;
}

static void tnet_link(struct tnet *n)
{
	struct link_peer_status ps;

	assert_int_equal(link_connect(n->n[0].links, n->now, n->n[1].pk,
				      &n->n[1].addr),
			 0);
	run(n, 50);
	assert_int_equal(link_peer_status(n->n[0].links, n->now, n->n[1].pk,
					  &ps),
			 0);
	assert_true(ps.established);
}

static void tnet_free(struct tnet *n)
{
	for (unsigned i = 0; i < 2; i++) {
		struct tn *t = &n->n[i];

		relayc_free(t->rc);
		relay_free(t->relay);
		link_mgr_free(t->links);
		store_close(t->store);
		rm_env(t->dir);
	}
	free(n->q);
	free(n);
}

static void send_deposit(struct tnet *n, uint32_t req, const uint8_t *mbox,
			 const char *blob)
{
	struct rw_deposit d = {req, {0}, (const uint8_t *)blob, strlen(blob)};
	uint8_t f[LINK_PAYLOAD_MAX];
	size_t len;

	memcpy(d.mailbox, mbox, RELAY_MAILBOX_LEN);
	assert_int_equal(rw_deposit_encode(f, sizeof f, &len, &d), 0);
	assert_int_equal(link_send(n->n[0].links, n->now, n->n[1].pk, f, len),
			 0);
}

/* A DEPOSIT_REQ of blob into mbox with a stamp that is good enough (good)
 * or one that is not. */
static void send_deposit_req(struct tnet *n, uint32_t req, const uint8_t *mbox,
			     const char *blob, bool good)
{
	struct rw_deposit_req d;
	uint8_t f[LINK_PAYLOAD_MAX], ch[CX_POW_CHALLENGE_LEN];
	size_t len;

	memset(&d, 0, sizeof d);
	d.d.req = req;
	memcpy(d.d.mailbox, mbox, RELAY_MAILBOX_LEN);
	d.d.blob = (const uint8_t *)blob;
	d.d.blob_len = strlen(blob);
	cx_pow_challenge(ch, mbox, d.d.blob, d.d.blob_len);
	if (good)
		assert_int_equal(
			cx_pow_solve(&d.stamp, ch, RELAY_POW_BITS, UINT64_MAX),
			0);
	else
		while (cx_pow_verify(ch, RELAY_POW_BITS, d.stamp))
			d.stamp++; /* a nonce that is not a stamp */
	assert_int_equal(rw_deposit_req_encode(f, sizeof f, &len, &d), 0);
	assert_int_equal(link_send(n->n[0].links, n->now, n->n[1].pk, f, len),
			 0);
}

/* A FETCH signed for relay_pk (NULL: the relay it goes to). */
static void send_fetch_for(struct tnet *n, const uint8_t *relay_pk,
			   uint32_t req, const uint8_t *mbox, const uint8_t *sk,
			   uint64_t del, uint64_t after, uint64_t ts_s)
{
	struct rw_fetch fe;
	uint8_t msg[RW_FETCH_SIGMSG_LEN], f[LINK_PAYLOAD_MAX];
	size_t len;

	memset(&fe, 0, sizeof fe);
	fe.req = req;
	memcpy(fe.mailbox, mbox, RELAY_MAILBOX_LEN);
	fe.del_upto = del;
	fe.after = after;
	fe.ts_s = ts_s;
	rw_fetch_sigmsg(msg, relay_pk != NULL ? relay_pk : n->n[1].pk, &fe);
	cx_sign(fe.sig, msg, sizeof msg, sk);
	assert_int_equal(rw_fetch_encode(f, sizeof f, &len, &fe), 0);
	assert_int_equal(link_send(n->n[0].links, n->now, n->n[1].pk, f, len),
			 0);
}

static void send_fetch(struct tnet *n, uint32_t req, const uint8_t *mbox,
		       const uint8_t *sk, uint64_t del, uint64_t after,
		       uint64_t ts_s)
{
	send_fetch_for(n, NULL, req, mbox, sk, del, after, ts_s);
}

/* The last answer: a DEPOSIT_RES's code. */
static int dep_answer(struct tn *t, unsigned i)
{
	struct rw_deposit_res r;

	assert_true(i < t->nans);
	assert_int_equal(rw_deposit_res_decode(&r, t->ans[i], t->ans_len[i]),
			 0);
	return r.code;
}

/* One DEPOSIT, sent and answered: its code. */
static int deposit_code(struct tnet *n, uint32_t req, const uint8_t *mbox,
			const char *blob)
{
	struct tn *c = &n->n[0];
	unsigned before = c->nans;

	send_deposit(n, req, mbox, blob);
	run(n, 5);
	assert_int_equal(c->nans, before + 1);
	return dep_answer(c, before);
}

static void relay_service(void **state)
{
	struct tnet *n = tnet_new(true, 3);
	struct tn *c = &n->n[0];
	uint8_t mbox[32], sk[64], seed[32] = {1, 2, 3}, bad_sk[64];
	uint8_t bad_pk[32], seed2[32] = {9};
	struct rw_items h;
	struct relay_status rs;
	uint64_t now_s, seq[3];
	size_t off;
	const uint8_t *b;
	size_t bl;

	(void)state;
	cx_sign_keypair_seed(mbox, sk, seed);
	cx_sign_keypair_seed(bad_pk, bad_sk, seed2);
	tnet_link(n);
	now_s = (T0_WALL + n->now) / 1000;
	/* four deposits into a mailbox that holds three */
	send_deposit(n, 1, mbox, "one");
	send_deposit(n, 2, mbox, "two");
	send_deposit(n, 3, mbox, "three");
	run(n, 5);
	send_deposit(n, 4, mbox, "four");
	run(n, 5);
	assert_int_equal(c->nans, 4);
	assert_int_equal(dep_answer(c, 0), RC_OK);
	assert_int_equal(dep_answer(c, 1), RC_OK);
	assert_int_equal(dep_answer(c, 2), RC_OK);
	assert_int_equal(dep_answer(c, 3), RC_MAILBOX_FULL);
	/* fetches that do not verify: another key, stale, for another relay
	 * (a signature over our own key instead of the relay's) */
	send_fetch(n, 10, mbox, bad_sk, 0, 0, now_s);
	send_fetch(n, 11, mbox, sk, 0, 0, now_s - RELAY_FETCH_SKEW_S - 5);
	send_fetch_for(n, c->pk, 14, mbox, sk, 0, 0, now_s);
	run(n, 5);
	assert_int_equal(c->nans, 7);
	for (unsigned i = 4; i < 7; i++) {
		assert_int_equal(rw_items_decode(&h, c->ans[i], c->ans_len[i]),
				 0);
		assert_int_equal(h.code, RC_AUTH);
	}
	/* the real fetch: three items, in order */
	send_fetch(n, 12, mbox, sk, 0, 0, now_s);
	run(n, 5);
	assert_int_equal(c->nans, 8);
	assert_int_equal(rw_items_decode(&h, c->ans[7], c->ans_len[7]), 0);
	assert_int_equal(h.code, RC_OK);
	assert_int_equal(h.req, 12);
	assert_int_equal(h.flags, 0);
	off = RW_ITEMS_HDR;
	for (unsigned i = 0; i < 3; i++) {
		static const char *const want[] = {"one", "two", "three"};

		assert_int_equal(rw_items_next(c->ans[7], c->ans_len[7], &off,
					       &seq[i], &b, &bl),
				 1);
		assert_int_equal(bl, strlen(want[i]));
		assert_memory_equal(b, want[i], bl);
	}
	assert_int_equal(rw_items_next(c->ans[7], c->ans_len[7], &off, &seq[0],
				       &b, &bl),
			 0);
	/* delete the first two, fetch the rest */
	send_fetch(n, 13, mbox, sk, seq[1], seq[1], now_s);
	run(n, 5);
	assert_int_equal(c->nans, 9);
	assert_int_equal(rw_items_decode(&h, c->ans[8], c->ans_len[8]), 0);
	off = RW_ITEMS_HDR;
	assert_int_equal(rw_items_next(c->ans[8], c->ans_len[8], &off, &seq[0],
				       &b, &bl),
			 1);
	assert_memory_equal(b, "three", 5);
	relay_status(n->n[1].relay, &rs);
	assert_true(rs.enabled);
	assert_int_equal(rs.store.items, 1);
	assert_int_equal(rs.deposits, 3);
	assert_int_equal(rs.deposits_refused, 1);
	assert_int_equal(rs.auth_failed, 3);
	assert_int_equal(rs.deleted, 2);
	/* room again: a deposit is taken */
	send_deposit(n, 5, mbox, "five");
	run(n, 5);
	assert_int_equal(dep_answer(c, 9), RC_OK);
	/* items expire after the TTL, swept by relay_tick */
	n->now += (RELAYSTORE_TTL_S + 1) * 1000 + RELAY_SWEEP_MS;
	run(n, 2);
	relay_status(n->n[1].relay, &rs);
	assert_int_equal(rs.store.items, 0);
	assert_int_equal(rs.expired, 2);
	cx_wipe(sk, sizeof sk);
	tnet_free(n);
}

/* An account's public request mailbox: deposits need a stamp, only the
 * account fetches, plain deposits cannot reach it; and the fetcher of a
 * mailbox is told of what lands there. */
static void request_mailbox(void **state)
{
	struct tnet *n = tnet_new(true, 0);
	struct tn *c = &n->n[0];
	uint8_t acct[32], sk[64], seed[32] = {4, 2}, bad_pk[32], bad_sk[64];
	uint8_t seed2[32] = {6}, rid[32], f[LINK_PAYLOAD_MAX];
	const char *blob = "a sealed request";
	struct rw_fetch_req fq;
	uint8_t msg[RW_FETCH_REQ_SIGMSG_LEN];
	struct rw_items h;
	struct relay_status rs;
	uint64_t now_s, seq, epoch = 2900;
	size_t len, off, bl;
	const uint8_t *b;

	(void)state;
	cx_sign_keypair_seed(acct, sk, seed);
	cx_sign_keypair_seed(bad_pk, bad_sk, seed2);
	cx_request_mailbox_id(rid, acct, epoch);
	tnet_link(n);
	assert_int_equal(relayc_keep(c->rc, n->n[1].pk), 0); /* hears NOTIFY */
	now_s = (T0_WALL + n->now) / 1000;
	/* a stamp too weak, then a good one; a plain deposit to the same
	 * ID lands elsewhere */
	send_deposit_req(n, 1, rid, blob, false);
	run(n, 5);
	assert_int_equal(dep_answer(c, 0), RC_POW);
	send_deposit_req(n, 2, rid, blob, true);
	send_deposit(n, 3, rid, "no stamp");
	run(n, 5);
	assert_int_equal(dep_answer(c, 1), RC_OK);
	assert_int_equal(dep_answer(c, 2), RC_OK);
	/* fetched by the account: only the stamped one; another key: no */
	for (unsigned k = 0; k < 2; k++) {
		memset(&fq, 0, sizeof fq);
		fq.f.req = 10 + k;
		memcpy(fq.f.mailbox, acct, 32);
		fq.f.ts_s = now_s;
		fq.epoch = epoch;
		rw_fetch_req_sigmsg(msg, n->n[1].pk, &fq);
		cx_sign(fq.f.sig, msg, sizeof msg, k == 0 ? bad_sk : sk);
		assert_int_equal(rw_fetch_req_encode(f, sizeof f, &len, &fq),
				 0);
		assert_int_equal(
			link_send(c->links, n->now, n->n[1].pk, f, len), 0);
		run(n, 5);
	}
	assert_int_equal(c->nans, 5);
	assert_int_equal(rw_items_decode(&h, c->ans[3], c->ans_len[3]), 0);
	assert_int_equal(h.code, RC_AUTH);
	assert_int_equal(rw_items_decode(&h, c->ans[4], c->ans_len[4]), 0);
	assert_int_equal(h.code, RC_OK);
	assert_memory_equal(h.mailbox, rid, 32);
	off = RW_ITEMS_HDR;
	assert_int_equal(rw_items_next(c->ans[4], c->ans_len[4], &off, &seq,
				       &b, &bl),
			 1);
	assert_int_equal(bl, strlen(blob));
	assert_memory_equal(b, blob, bl);
	assert_int_equal(rw_items_next(c->ans[4], c->ans_len[4], &off, &seq,
				       &b, &bl),
			 0);
	/* the account fetched it: the next stamped deposit is told */
	assert_int_equal(c->nnotify, 0);
	send_deposit_req(n, 4, rid, blob, true);
	run(n, 5);
	assert_int_equal(c->nnotify, 1);
	assert_memory_equal(c->notified, rid, 32);
	relay_status(n->n[1].relay, &rs);
	assert_int_equal(rs.pow_failed, 1);
	assert_int_equal(rs.notified, 1);
	assert_int_equal(rs.auth_failed, 1);
	cx_wipe(sk, sizeof sk);
	tnet_free(n);
}

/* A relay whose disk is full (its store at its largest) says "relay
 * full" (so the sender tries another relay), and keeps what it had. */
static void disk_full(void **state)
{
	struct tnet *n;
	struct tn *c;
	uint8_t mbox[32], sk[64], seed[32] = {8};
	char blob[RELAY_BLOB_MAX + 1];
	struct relay_status rs;
	unsigned full = 0;

	(void)state;
	g_map_max = 1u << 20;
	n = tnet_new(true, 0);
	g_map_max = 0;
	c = &n->n[0];
	cx_sign_keypair_seed(mbox, sk, seed);
	tnet_link(n);
	memset(blob, 'z', RELAY_BLOB_MAX);
	blob[RELAY_BLOB_MAX] = '\0';
	for (uint32_t i = 0; i < 2000 && full == 0; i++) {
		uint8_t box[32];

		/* many mailboxes: no mailbox limit is reached first */
		memcpy(box, mbox, 32);
		box[0] ^= (uint8_t)i;
		box[1] ^= (uint8_t)(i >> 8);
		c->nans = 0;
		send_deposit(n, i + 1, box, blob);
		run(n, 3);
		assert_int_equal(c->nans, 1);
		if (dep_answer(c, 0) == RC_RELAY_FULL)
			full++;
		else
			assert_int_equal(dep_answer(c, 0), RC_OK);
	}
	assert_int_equal(full, 1);
	relay_status(n->n[1].relay, &rs);
	assert_true(rs.store.items > 100); /* what fitted stays */
	assert_int_equal(rs.errors, 1);
	cx_wipe(sk, sizeof sk);
	tnet_free(n);
}

/* A source over its storage quota is told "source over quota", whatever
 * the mailbox and for stamped requests too, until the owner of a mailbox
 * it filled fetches and deletes; the client hands the code on. */
static void source_quota(void **state)
{
	struct tnet *n;
	struct tn *c;
	uint8_t mbox[32], sk[64], seed[32] = {3, 1}, other[32];
	struct relay_status rs;
	struct rw_items h;
	uint64_t now_s, seq = 0;
	size_t off, bl;
	const uint8_t *b;

	(void)state;
	g_source_bytes = 10;
	n = tnet_new(true, 0);
	g_source_bytes = 0;
	c = &n->n[0];
	cx_sign_keypair_seed(mbox, sk, seed);
	memset(other, 0x42, sizeof other);
	tnet_link(n);
	now_s = (T0_WALL + n->now) / 1000;
	/* 10 bytes are the quota: 5 + 5 taken, then nothing more, not in
	 * another mailbox either */
	assert_int_equal(deposit_code(n, 1, mbox, "12345"), RC_OK);
	assert_int_equal(deposit_code(n, 2, mbox, "abcde"), RC_OK);
	assert_int_equal(deposit_code(n, 3, mbox, "x"), RC_QUOTA);
	assert_int_equal(deposit_code(n, 4, other, "y"), RC_QUOTA);
	/* nor into a request mailbox, with a good stamp */
	send_deposit_req(n, 5, other, "req", true);
	run(n, 5);
	assert_int_equal(c->nans, 5);
	assert_int_equal(dep_answer(c, 4), RC_QUOTA);
	relay_status(n->n[1].relay, &rs);
	assert_int_equal(rs.deposits, 2);
	assert_int_equal(rs.deposits_refused, 3);
	assert_int_equal(rs.over_quota, 3);
	assert_int_equal(rs.store.items, 2);
	assert_int_equal(rs.store.bytes, 10);
	/* the client gets the code as it is */
	assert_int_equal(relayc_deposit(c->rc, n->n[1].pk, other,
					(const uint8_t *)"z", 1, 1000),
			 0);
	run(n, 10);
	assert_int_equal(c->ndep, 1);
	assert_int_equal(c->dep_code[0], RC_QUOTA);
	assert_string_equal(relay_code_str(c->dep_code[0]),
			    "source over quota");
	/* the owner takes both items and deletes the first: 5 bytes free */
	c->nans = 0;
	send_fetch(n, 10, mbox, sk, 0, 0, now_s);
	run(n, 5);
	assert_int_equal(c->nans, 1);
	assert_int_equal(rw_items_decode(&h, c->ans[0], c->ans_len[0]), 0);
	assert_int_equal(h.code, RC_OK);
	off = RW_ITEMS_HDR;
	assert_int_equal(
		rw_items_next(c->ans[0], c->ans_len[0], &off, &seq, &b, &bl),
		1);
	assert_int_equal(bl, 5);
	assert_memory_equal(b, "12345", bl);
	send_fetch(n, 11, mbox, sk, seq, seq, now_s);
	run(n, 5);
	assert_int_equal(c->nans, 2);
	relay_status(n->n[1].relay, &rs);
	assert_int_equal(rs.deleted, 1);
	assert_int_equal(rs.store.bytes, 5);
	assert_int_equal(deposit_code(n, 6, other, "vwxy"), RC_OK);
	assert_int_equal(deposit_code(n, 7, other, "zz"), RC_QUOTA);
	relay_status(n->n[1].relay, &rs);
	assert_int_equal(rs.deposits, 3);
	assert_int_equal(rs.over_quota, 5);
	assert_int_equal(rs.store.bytes, 9);
	cx_wipe(sk, sizeof sk);
	tnet_free(n);
}

/* A source that sends too fast is told "rate limited" past its bucket,
 * and served again once the bucket has filled. */
static void rate_limited(void **state)
{
	struct tnet *n = tnet_new(true, 0);
	struct tn *c = &n->n[0];
	uint8_t mbox[32], sk[64], seed[32] = {9};
	unsigned ok = 0, limited = 0;
	struct relay_status rs;

	(void)state;
	cx_sign_keypair_seed(mbox, sk, seed);
	tnet_link(n);
	/* 1,000 requests in 60 ms: the burst of 800 and a few tokens more */
	for (unsigned batch = 0; batch < 20; batch++) {
		c->nans = 0;
		for (unsigned i = 0; i < 50; i++)
			send_deposit(n, batch * 50 + i + 1, mbox, "r");
		run(n, 3);
		assert_int_equal(c->nans, 50);
		for (unsigned i = 0; i < 50; i++) {
			int code = dep_answer(c, i);

			assert_true(code == RC_OK || code == RC_RATE);
			ok += code == RC_OK;
			limited += code == RC_RATE;
		}
	}
	assert_true(ok >= RELAY_BURST && ok < RELAY_BURST + 50);
	assert_true(limited > 0);
	relay_status(n->n[1].relay, &rs);
	assert_int_equal(rs.rate_limited >= limited, true);
	/* a second later the bucket holds tokens again */
	run(n, 1000);
	c->nans = 0;
	send_deposit(n, 1, mbox, "r");
	run(n, 3);
	assert_int_equal(dep_answer(c, 0), RC_OK);
	cx_wipe(sk, sizeof sk);
	tnet_free(n);
}

static void not_a_relay(void **state)
{
	struct tnet *n = tnet_new(false, 0);
	uint8_t mbox[32], sk[64], seed[32] = {5};
	struct rw_items h;

	(void)state;
	cx_sign_keypair_seed(mbox, sk, seed);
	tnet_link(n);
	send_deposit(n, 1, mbox, "x");
	send_fetch(n, 2, mbox, sk, 0, 0, (T0_WALL + n->now) / 1000);
	{
		struct rw_poll po = {3, 1, mbox};
		uint8_t f[RW_POLL_LEN(1)];
		size_t len;

		assert_int_equal(rw_poll_encode(f, sizeof f, &len, &po), 0);
		assert_int_equal(
			link_send(n->n[0].links, n->now, n->n[1].pk, f, len), 0);
	}
	run(n, 5);
	assert_int_equal(n->n[0].nans, 3);
	assert_int_equal(dep_answer(&n->n[0], 0), RC_NOT_RELAY);
	assert_int_equal(rw_items_decode(&h, n->n[0].ans[1],
					 n->n[0].ans_len[1]),
			 0);
	assert_int_equal(h.code, RC_NOT_RELAY);
	{
		struct rw_poll_res pr;

		assert_int_equal(rw_poll_res_decode(&pr, n->n[0].ans[2],
						    n->n[0].ans_len[2]),
				 0);
		assert_int_equal(pr.code, RC_NOT_RELAY);
		assert_int_equal(pr.req, 3);
		assert_false(rw_poll_res_has(&pr, 0));
	}
	tnet_free(n);
}

/* POLL: which mailboxes hold items, pairwise ones only; the poller
 * becomes the one NOTIFY tells. */
static void poll_mailboxes(void **state)
{
	struct tnet *n = tnet_new(true, 0);
	struct tn *c = &n->n[0];
	uint8_t mb[3 * 32], sk[64], seed_a[32] = {8}, seed_b[32] = {9};
	uint8_t acct[32], asecret[64], seed_c[32] = {10}, ch[32];
	uint8_t f[LINK_PAYLOAD_MAX];
	struct rw_deposit_req d;
	struct relay_status rs;
	struct relayc_status cs;
	uint64_t stamp = 0, epoch = 2901;
	size_t len;

	(void)state;
	cx_sign_keypair_seed(mb, sk, seed_a);	   /* 0: holds an item */
	cx_sign_keypair_seed(mb + 32, sk, seed_b); /* 1: empty, for now */
	cx_sign_keypair_seed(acct, asecret, seed_c);
	cx_request_mailbox_id(mb + 64, acct, epoch); /* 2: a request mailbox */
	tnet_link(n);
	assert_int_equal(relayc_keep(c->rc, n->n[1].pk), 0);
	assert_int_equal(relayc_deposit(c->rc, n->n[1].pk, mb,
					(const uint8_t *)"for a", 5, 1000),
			 0);
	/* a stamped request in the request mailbox */
	memset(&d, 0, sizeof d);
	d.d.req = 1;
	memcpy(d.d.mailbox, mb + 64, 32);
	d.d.blob = (const uint8_t *)"a request";
	d.d.blob_len = 9;
	cx_pow_challenge(ch, d.d.mailbox, d.d.blob, d.d.blob_len);
	assert_int_equal(cx_pow_solve(&stamp, ch, RELAY_POW_BITS, UINT64_MAX),
			 0);
	d.stamp = stamp;
	assert_int_equal(rw_deposit_req_encode(f, sizeof f, &len, &d), 0);
	assert_int_equal(link_send(c->links, n->now, n->n[1].pk, f, len), 0);
	run(n, 10);
	assert_int_equal(c->ndep, 1);
	assert_int_equal(c->dep_code[0], RC_OK);
	assert_int_equal(dep_answer(c, c->nans - 1), RC_OK);

	/* bad arguments */
	assert_int_equal(relayc_poll(c->rc, n->n[1].pk, mb, 0, 1), -EINVAL);
	assert_int_equal(relayc_poll(c->rc, n->n[1].pk, mb, RW_POLL_MAX + 1, 1),
			 -EINVAL);
	assert_int_equal(relayc_poll(c->rc, n->n[1].pk, mb, 3, 77), 0);
	assert_int_equal(c->npoll, 0); /* never from inside the call */
	run(n, 10);
	assert_int_equal(c->npoll, 1);
	assert_int_equal(c->poll_err[0], 0);
	assert_int_equal(c->poll_cookie[0], 77);
	assert_int_equal(c->poll_res[0].code, RC_OK);
	assert_int_equal(c->poll_res[0].n, 3);
	assert_true(rw_poll_res_has(&c->poll_res[0], 0));
	assert_false(rw_poll_res_has(&c->poll_res[0], 1));
	/* the request mailbox holds one, but a POLL does not say so */
	assert_false(rw_poll_res_has(&c->poll_res[0], 2));
	relay_status(n->n[1].relay, &rs);
	assert_int_equal(rs.polls, 1);
	assert_int_equal(rs.polled_full, 1);
	assert_int_equal(rs.fetches, 0);
	relayc_status(c->rc, &cs);
	assert_int_equal(cs.polls, 1);
	assert_int_equal(cs.polls_ok, 1);

	/* the poll made us mailbox 1's watcher: a deposit there is told */
	assert_int_equal(c->nnotify, 0);
	assert_int_equal(relayc_deposit(c->rc, n->n[1].pk, mb + 32,
					(const uint8_t *)"for b", 5, 1001),
			 0);
	run(n, 10);
	assert_int_equal(c->dep_code[1], RC_OK);
	assert_int_equal(c->nnotify, 1);
	assert_memory_equal(c->notified, mb + 32, 32);
	assert_int_equal(relayc_poll(c->rc, n->n[1].pk, mb, 3, 78), 0);
	run(n, 10);
	assert_int_equal(c->npoll, 2);
	assert_true(rw_poll_res_has(&c->poll_res[1], 0));
	assert_true(rw_poll_res_has(&c->poll_res[1], 1));
	assert_false(rw_poll_res_has(&c->poll_res[1], 2));

	/* no answer (the relay gone silent): the poll times out */
	n->blackhole = true;
	assert_int_equal(relayc_poll(c->rc, n->n[1].pk, mb, 1, 79), 0);
	run(n, 60000);
	assert_int_equal(c->npoll, 3);
	assert_int_equal(c->poll_err[2], -ETIMEDOUT);
	assert_int_equal(c->poll_cookie[2], 79);
	tnet_free(n);
}

/* The client: outcomes come back once each, through callbacks, never
 * from inside the call that started them. */
static void client(void **state)
{
	struct tnet *n = tnet_new(true, 0);
	struct tn *c = &n->n[0];
	uint8_t mbox[32], sk[64], seed[32] = {7};
	struct rw_items h;
	struct relayc_status st;

	(void)state;
	cx_sign_keypair_seed(mbox, sk, seed);
	/* no link and no DHT to find the relay: unreachable, at the tick */
	assert_int_equal(relayc_deposit(c->rc, n->n[1].pk, mbox,
					(const uint8_t *)"a", 1, 1000),
			 0);
	assert_int_equal(c->ndep, 0);
	run(n, 2);
	assert_int_equal(c->ndep, 1);
	assert_int_equal(c->dep_code[0], -EHOSTUNREACH);
	/* linked: a deposit and a fetch go through */
	run(n, 20000); /* past the retry pause */
	tnet_link(n);
	assert_int_equal(relayc_deposit(c->rc, n->n[1].pk, mbox,
					(const uint8_t *)"bb", 2, 1001),
			 0);
	run(n, 10);
	assert_int_equal(c->ndep, 2);
	assert_int_equal(c->dep_code[1], RC_OK);
	assert_int_equal(relayc_fetch(c->rc, n->n[1].pk, mbox, sk, 0, 0, 5),
			 0);
	run(n, 10);
	assert_int_equal(c->nfetch, 1);
	assert_int_equal(c->fetch_err[0], 0);
	assert_int_equal(rw_items_decode(&h, c->fetch_frame[0],
					 c->fetch_len[0]),
			 0);
	assert_int_equal(h.code, RC_OK);
	/* the relay stops answering: the deposit times out after the
	 * retransmits */
	n->blackhole = true;
	assert_int_equal(relayc_deposit(c->rc, n->n[1].pk, mbox,
					(const uint8_t *)"c", 1, 1002),
			 0);
	run(n, 30000);
	assert_int_equal(c->ndep, 3);
	assert_int_equal(c->dep_code[2], -ETIMEDOUT);
	relayc_status(c->rc, &st);
	assert_int_equal(st.deposits, 3);
	assert_int_equal(st.deposits_ok, 1);
	assert_int_equal(st.retransmits, RELAYC_TRIES - 1);
	assert_int_equal(st.ops, 0);
	cx_wipe(sk, sizeof sk);
	tnet_free(n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(mailbox_seal_open),
		cmocka_unit_test(adverts),
		cmocka_unit_test(relay_service),
		cmocka_unit_test(request_mailbox),
		cmocka_unit_test(not_a_relay),
		cmocka_unit_test(disk_full),
		cmocka_unit_test(source_quota),
		cmocka_unit_test(rate_limited),
		cmocka_unit_test(poll_mailboxes),
		cmocka_unit_test(client),
	};

	if (cx_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
