/* Unit tests for dht/ and the crypto wrappers it uses (crypto/box,
 * crypto/sign).  Two or three struct dht talk through an in-memory queue
 * here; the simulator (tests/sim/) covers networks. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/box.h"
#include "crypto/cx.h"
#include "crypto/sign.h"
#include "dht/dht.h"
#include "dht/wire.h"

#define T0 1800000000000ull

/* --- a seeded rng --- */

struct trng {
	uint64_t s;
};

static void trng_fill(void *self, uint8_t *buf, size_t len)
{
	struct trng *r = self;

	for (size_t i = 0; i < len; i++) {
		r->s ^= r->s << 13;
		r->s ^= r->s >> 7;
		r->s ^= r->s << 17;
		buf[i] = (uint8_t)r->s;
	}
}

/* --- an in-memory network of up to 4 nodes --- */

#define QMAX 256

struct pkt {
	unsigned from, to;
	size_t len;
	uint8_t b[DHT_PKT_MAX];
};

struct net;

struct tnode {
	struct net *net;
	unsigned idx;
	struct dht *d;
	struct trng rng;
	struct rng rng_if;
	uint8_t pk[32], sk[32];
	struct dht_addr addr;
};

struct net {
	struct tnode n[4];
	unsigned count;
	struct pkt q[QMAX];
	unsigned nq;
	struct pkt last; /* last packet sent, for replays */
	uint64_t now;
};

static int tsend(void *self, const struct dht_addr *to, const uint8_t *pkt,
		 size_t len)
{
	struct tnode *n = self;
	struct net *net = n->net;

	assert_true(len <= DHT_PKT_MAX);
	for (unsigned i = 0; i < net->count; i++) {
		if (!dht__addr_equal(&net->n[i].addr, to))
			continue;
		if (net->nq == QMAX)
			return -ENOBUFS;
		net->q[net->nq] =
			(struct pkt){.from = n->idx, .to = i, .len = len};
		memcpy(net->q[net->nq].b, pkt, len);
		net->last = net->q[net->nq];
		net->nq++;
		return 0;
	}
	return 0;
}

static void addr_of(unsigned i, struct dht_addr *a)
{
	memset(a, 0, sizeof *a);
	a->family = DHT_FAMILY_IPV4;
	a->ip[0] = 10;
	a->ip[1] = (uint8_t)i;
	a->ip[2] = 1;
	a->ip[3] = 1;
	a->port = 4000;
}

static struct net *net_new_lim(unsigned count, const struct dht_limits *lim)
{
	struct net *net = calloc(1, sizeof *net);

	assert_non_null(net);
	net->count = count;
	net->now = T0;
	for (unsigned i = 0; i < count; i++) {
		struct tnode *n = &net->n[i];
		struct dht_config c = {0};
		uint8_t seed[32] = {0};

		n->net = net;
		n->idx = i;
		n->rng.s = 0x1234567 + i * 7919;
		n->rng_if.fill = trng_fill;
		n->rng_if.self = &n->rng;
		seed[0] = (uint8_t)(i + 1);
		cx_box_keypair_seed(n->pk, n->sk, seed);
		addr_of(i, &n->addr);
		c.node_pk = n->pk;
		c.node_sk = n->sk;
		c.rng = &n->rng_if;
		c.io.send = tsend;
		c.io.self = n;
		if (lim != NULL)
			c.limits = *lim;
		assert_int_equal(dht_new(&n->d, &c), 0);
	}
	return net;
}

static struct net *net_new(unsigned count)
{
	return net_new_lim(count, NULL);
}

static void net_free(struct net *net)
{
	for (unsigned i = 0; i < net->count; i++)
		dht_free(net->n[i].d);
	free(net);
}

/* Delivers queued packets (and those they cause) in order. */
static void net_run(struct net *net)
{
	unsigned guard = 0;

	while (net->nq > 0 && guard++ < 10000) {
		struct pkt p = net->q[0];

		memmove(net->q, net->q + 1, (net->nq - 1) * sizeof net->q[0]);
		net->nq--;
		net->now += 5;
		dht_recv(net->n[p.to].d, net->now, &net->n[p.from].addr, p.b,
			 p.len);
	}
}

static void link_all(struct net *net)
{
	for (unsigned i = 0; i < net->count; i++)
		for (unsigned j = 0; j < net->count; j++)
			if (i != j)
				assert_int_equal(
					dht_add_contact(net->n[i].d, net->now,
							net->n[j].pk,
							&net->n[j].addr),
					0);
}

/* --- crypto wrappers --- */

static void test_box_roundtrip(void **state)
{
	uint8_t apk[32], ask[32], bpk[32], bsk[32], k1[32], k2[32];
	uint8_t seed[32] = {1}, nonce[24] = {9}, m[40] = "hello dht",
		c[40 + CX_BOX_MAC_LEN], out[40], pk2[32];

	(void)state;
	cx_box_keypair_seed(apk, ask, seed);
	seed[0] = 2;
	cx_box_keypair_seed(bpk, bsk, seed);
	cx_box_public(pk2, ask);
	assert_memory_equal(pk2, apk, 32);
	assert_int_equal(cx_box_shared(k1, bpk, ask), 0);
	assert_int_equal(cx_box_shared(k2, apk, bsk), 0);
	assert_memory_equal(k1, k2, 32);
	assert_int_equal(cx_box_seal(c, m, sizeof m, nonce, k1), 0);
	assert_int_equal(cx_box_open(out, c, sizeof c, nonce, k2), 0);
	assert_memory_equal(out, m, sizeof m);
	c[20] ^= 1;
	assert_int_equal(cx_box_open(out, c, sizeof c, nonce, k2),
			 -EKEYREJECTED);
	assert_int_equal(cx_box_open(out, c, 10, nonce, k2), -EINVAL);
	/* A low-order point gives no shared key. */
	memset(pk2, 0, sizeof pk2);
	assert_int_equal(cx_box_shared(k1, pk2, ask), -EKEYREJECTED);
}

static void test_sign(void **state)
{
	uint8_t pk[32], sk[64], sig[64], seed[32] = {7};
	const uint8_t m[] = "typed message";

	(void)state;
	cx_sign_keypair_seed(pk, sk, seed);
	cx_sign(sig, m, sizeof m, sk);
	assert_int_equal(cx_sign_verify(sig, m, sizeof m, pk), 0);
	sig[0] ^= 1;
	assert_int_equal(cx_sign_verify(sig, m, sizeof m, pk), -EKEYREJECTED);
}

/* --- records --- */

static void mk_record(struct dht_record *r, uint8_t sk[64], uint64_t seq,
		      uint64_t now_ms, uint16_t vlen)
{
	uint8_t seed[32] = {3};

	memset(r, 0, sizeof *r);
	cx_sign_keypair_seed(r->pk, sk, seed);
	r->kind = DHT_RECORD_KIND_CONTACT_CARD;
	r->salt_len = 4;
	memcpy(r->salt, "salt", 4);
	r->seq = seq;
	r->expiry_s = now_ms / 1000 + 3600;
	r->value_len = vlen;
	memset(r->value, 'x', vlen);
	assert_int_equal(dht_record_sign(r, sk), 0);
}

static void test_record(void **state)
{
	struct dht_record r, r2;
	uint8_t sk[64], buf[DHT_RECORD_MAX_LEN], k1[32], k2[32];
	struct dht_buf b = {.p = buf, .len = sizeof buf};

	(void)state;
	mk_record(&r, sk, 1, T0, DHT_VALUE_MAX);
	assert_int_equal(dht_record_verify(&r), 0);
	dht__put_record(&b, &r);
	assert_false(b.err);
	assert_int_equal(b.pos, dht__record_len(&r));
	b = (struct dht_buf){.p = buf, .len = dht__record_len(&r)};
	assert_int_equal(dht__get_record(&b, &r2), 0);
	assert_int_equal(dht_record_verify(&r2), 0);
	dht_record_key(k1, &r);
	dht_record_key(k2, &r2);
	assert_memory_equal(k1, k2, 32);
	/* Each signed field matters. */
	r2.seq++;
	assert_int_equal(dht_record_verify(&r2), -EKEYREJECTED);
	r2 = r;
	r2.expiry_s++;
	assert_int_equal(dht_record_verify(&r2), -EKEYREJECTED);
	r2 = r;
	r2.kind = DHT_RECORD_KIND_RELAY_ADVERT; /* another key */
	assert_int_equal(dht_record_verify(&r2), -EKEYREJECTED);
	dht_record_key(k2, &r2);
	assert_memory_not_equal(k1, k2, 32);
	r2 = r;
	r2.salt[0] ^= 1;
	assert_int_equal(dht_record_verify(&r2), -EKEYREJECTED);
	/* Limits. */
	r2 = r;
	r2.value_len = DHT_VALUE_MAX + 1;
	assert_int_equal(dht_record_verify(&r2), -EINVAL);
	assert_int_equal(dht_record_sign(&r2, sk), -EINVAL);
	r2 = r;
	r2.salt_len = DHT_SALT_MAX + 1;
	assert_int_equal(dht_record_verify(&r2), -EINVAL);
	/* Truncated encodings never decode. */
	for (size_t n = 0; n < dht__record_len(&r); n += 7) {
		b = (struct dht_buf){.p = buf, .len = n};
		assert_int_equal(dht__get_record(&b, &r2), -EBADMSG);
	}
	/* The largest STORE fits one packet. */
	assert_true(DHT_OUTER_LEN + CX_BOX_MAC_LEN + DHT_INNER_HDR_LEN +
			    DHT_TOKEN_LEN + DHT_RECORD_MAX_LEN <=
		    DHT_PKT_MAX);
}

static void test_body_parse(void **state)
{
	uint8_t buf[DHT_BODY_MAX];
	struct dht_body body;
	struct dht_record rec;

	(void)state;
	memset(buf, 0, sizeof buf);
	memset(&body, 0, sizeof body);
	body.record = &rec;
	assert_int_equal(dht__body_parse(DHT_MSG_PING, buf, 0, &body), 0);
	assert_int_equal(dht__body_parse(DHT_MSG_PING, buf, 1, &body),
			 -EBADMSG);
	assert_int_equal(dht__body_parse(DHT_MSG_FIND_NODE, buf, 32, &body), 0);
	/* PONG: addr, and a token only if asked (DHT_FLAG_WANT_TOKEN). */
	buf[0] = 4;
	buf[6] = 1; /* port 1 */
	assert_int_equal(dht__body_parse(DHT_MSG_PONG, buf, 7, &body), 0);
	assert_false(body.has_token);
	memset(buf + 7, 0xab, DHT_TOKEN_LEN);
	assert_int_equal(dht__body_parse(DHT_MSG_PONG, buf, 7 + DHT_TOKEN_LEN,
					 &body),
			 0);
	assert_true(body.has_token);
	assert_int_equal(body.token[DHT_TOKEN_LEN - 1], 0xab);
	assert_int_equal(dht__body_parse(DHT_MSG_PONG, buf, 7 + 5, &body),
			 -EBADMSG);
	memset(buf, 0, sizeof buf);
	assert_int_equal(dht__body_parse(DHT_MSG_FIND_NODE, buf, 31, &body),
			 -EBADMSG);
	/* NODES with more than k entries is refused. */
	buf[DHT_TOKEN_LEN] = DHT_K + 1;
	assert_int_equal(
		dht__body_parse(DHT_MSG_NODES, buf, DHT_TOKEN_LEN + 1, &body),
		-EBADMSG);
	buf[DHT_TOKEN_LEN] = 0;
	assert_int_equal(
		dht__body_parse(DHT_MSG_NODES, buf, DHT_TOKEN_LEN + 1, &body),
		0);
	/* A node with an unknown address family is refused. */
	buf[DHT_TOKEN_LEN] = 1;
	buf[DHT_TOKEN_LEN + 1 + 32] = 5;
	assert_int_equal(dht__body_parse(DHT_MSG_NODES, buf,
					 DHT_TOKEN_LEN + 1 + 32 + 7, &body),
			 -EBADMSG);
	assert_int_equal(dht__body_parse(0, buf, 0, &body), -EBADMSG);
	assert_int_equal(dht__body_parse(99, buf, 0, &body), -EBADMSG);
}

/* --- nodes talking --- */

struct got {
	int calls, status;
	unsigned stored, rounds, queries;
	uint64_t seq;
	uint8_t id[32];
};

static void got_cb(void *arg, const struct dht_result *res)
{
	struct got *g = arg;

	g->calls++;
	g->status = res->status;
	g->stored = res->stored;
	g->rounds = res->rounds;
	g->queries = res->queries;
	if (res->record != NULL)
		g->seq = res->record->seq;
	memcpy(g->id, res->node.id, 32);
}

/* A put of rec (or, rec NULL, a get of key) from node from, delivered to
 * the end. */
static void op_run(struct net *net, unsigned from, const struct dht_record *rec,
		   const uint8_t *key, unsigned flags, struct got *g)
{
	struct dht_lookup_cb cb = {got_cb, g};
	struct dht *d = net->n[from].d;

	memset(g, 0, sizeof *g);
	assert_int_equal(rec != NULL ? dht_put(d, net->now, rec, flags, cb)
				     : dht_get(d, net->now, key, flags, cb),
			 0);
	net_run(net);
}

static void test_find_node(void **state)
{
	struct net *net = net_new(3);
	struct got g = {0};
	struct dht_status st;

	(void)state;
	/* 0 knows 1, 1 knows 2: 0 finds 2 through 1. */
	assert_int_equal(dht_add_contact(net->n[0].d, net->now, net->n[1].pk,
					 &net->n[1].addr),
			 0);
	assert_int_equal(dht_add_contact(net->n[1].d, net->now, net->n[2].pk,
					 &net->n[2].addr),
			 0);
	assert_int_equal(dht_find_node(net->n[0].d, net->now,
				       dht_id(net->n[2].d), 0,
				       (struct dht_lookup_cb){got_cb, &g}),
			 0);
	net_run(net);
	assert_int_equal(g.calls, 1);
	assert_int_equal(g.status, 0);
	assert_memory_equal(g.id, dht_id(net->n[2].d), 32);
	dht_status(net->n[0].d, &st);
	assert_true(st.contacts >= 2); /* learned 2 when it answered */
	assert_int_equal(st.pending, 0);
	net_free(net);
}

static void test_bootstrap_by_address(void **state)
{
	struct net *net = net_new(3);
	struct dht_status st;

	(void)state;
	assert_int_equal(dht_add_contact(net->n[1].d, net->now, net->n[2].pk,
					 &net->n[2].addr),
			 0);
	/* Only the address of 1: the key comes from the cookie exchange. */
	assert_int_equal(
		dht_bootstrap(net->n[0].d, net->now, &net->n[1].addr, NULL), 0);
	net_run(net);
	dht_status(net->n[0].d, &st);
	assert_int_equal(st.contacts, 2);
	net_free(net);
}

/* Links every node and puts a record (seq, vlen value bytes) from node 0;
 * its key goes to key. */
static void linked_put(struct net *net, struct dht_record *r, uint8_t sk[64],
		       uint64_t seq, uint16_t vlen, uint8_t key[32],
		       struct got *g)
{
	link_all(net);
	mk_record(r, sk, seq, net->now, vlen);
	dht_record_key(key, r);
	op_run(net, 0, r, key, 0, g); /* key: unused by a put */
	assert_int_equal(g->status, 0);
}

static void test_put_get_seq(void **state)
{
	struct net *net = net_new(4);
	struct dht_record r;
	uint8_t sk[64], key[32];
	struct got g = {0};
	struct dht_status st;

	(void)state;
	linked_put(net, &r, sk, 5, 100, key, &g);
	assert_int_equal(g.calls, 1);
	assert_int_equal(g.stored, 3);
	/* Lower sequence number: acknowledged as "old", not stored. */
	mk_record(&r, sk, 4, net->now, 100);
	g.calls = 0;
	op_run(net, 1, &r, NULL, 0, &g);
	op_run(net, 3, NULL, key, 0, &g);
	assert_int_equal(g.calls, 1);
	assert_int_equal(g.status, 0);
	assert_int_equal(g.seq, 5);
	dht_status(net->n[2].d, &st);
	assert_true(st.stores_rejected >= 1);
	/* Not found. */
	key[0] ^= 1;
	op_run(net, 3, NULL, key, 0, &g);
	assert_int_equal(g.calls, 1);
	assert_int_equal(g.status, -ENOENT);
	/* Expiry drops it. */
	dht_tick(net->n[2].d, net->now + 3601 * 1000ull);
	dht_status(net->n[2].d, &st);
	assert_int_equal(st.records, 0);
	/* A put of an unsigned or expired record fails at once. */
	r.sig[0] ^= 1;
	assert_int_equal(dht_put(net->n[0].d, net->now, &r, 0,
				 (struct dht_lookup_cb){got_cb, &g}),
			 -EKEYREJECTED);
	net_free(net);
}

/* A node's own copies count in its gets: records it stores for others and
 * its own (kept for republishing); the network is asked all the same, and
 * a newer network copy wins. */
static void test_get_local(void **state)
{
	struct net *net = net_new(2);
	struct dht_record r;
	uint8_t sk[64], key[32];
	struct got g = {0}, gp = {0};
	unsigned flags[2] = {0, DHT_GET_FIRST};

	(void)state;
	link_all(net);
	/* 0 publishes seq 5 without keeping it: only 1 holds it. */
	mk_record(&r, sk, 5, net->now, 50);
	dht_record_key(key, &r);
	op_run(net, 0, &r, NULL, 0, &g);
	assert_int_equal(g.stored, 1);
	for (unsigned i = 0; i < 2; i++) {
		op_run(net, 1, NULL, key, flags[i], &g);
		assert_int_equal(g.calls, 1);
		assert_int_equal(g.status, 0);
		assert_int_equal(g.seq, 5);
		assert_int_equal(g.rounds, 0);	/* the own copy */
		assert_int_equal(g.queries, 1); /* 0 was asked */
	}
	/* 1 publishes seq 6 from elsewhere: 0 stores it, 1 keeps 5. */
	mk_record(&r, sk, 6, net->now, 50);
	op_run(net, 1, &r, NULL, 0, &g);
	op_run(net, 1, NULL, key, 0, &g);
	assert_int_equal(g.status, 0);
	assert_int_equal(g.seq, 6); /* the network's newer copy */
	assert_int_equal(g.rounds, 1);
	/* 0 republishes seq 7 itself: its own copy counts for it. */
	mk_record(&r, sk, 7, net->now, 50);
	assert_int_equal(dht_put(net->n[0].d, net->now, &r, DHT_PUT_REPUBLISH,
				 (struct dht_lookup_cb){got_cb, &gp}),
			 0);
	net->nq = 0; /* lost on the way: nobody else has 7 */
	op_run(net, 0, NULL, key, 0, &g);
	assert_int_equal(g.calls, 1);
	assert_int_equal(g.status, 0);
	assert_int_equal(g.seq, 7);
	net_free(net);
}

/* dht_put_begin() searches without storing; dht_put_commit() stores;
 * dht_put_abort() and a failed commit end the put without a callback. */
static void test_put_two_step(void **state)
{
	struct net *net = net_new(4);
	struct dht_record r, other;
	uint8_t sk[64], key[32];
	struct got g = {0};
	struct dht_status st;
	uint64_t h;

	(void)state;
	link_all(net);
	mk_record(&r, sk, 1, net->now, 80);
	dht_record_key(key, &r);
	assert_int_equal(dht_put_begin(net->n[0].d, net->now, key, 0,
				       (struct dht_lookup_cb){got_cb, &g}, &h),
			 0);
	net_run(net);
	assert_int_equal(g.calls, 0);
	for (unsigned i = 1; i < 4; i++) {
		dht_status(net->n[i].d, &st);
		assert_int_equal(st.records, 0); /* nothing stored yet */
	}
	assert_int_equal(dht_put_commit(net->n[0].d, net->now, h, &r), 0);
	net_run(net);
	assert_int_equal(g.calls, 1);
	assert_int_equal(g.status, 0);
	assert_int_equal(g.stored, 3);
	for (unsigned i = 1; i < 4; i++) {
		dht_status(net->n[i].d, &st);
		assert_int_equal(st.records, 1);
	}
	/* A used handle is dead. */
	assert_int_equal(dht_put_commit(net->n[0].d, net->now, h, &r), -EINVAL);
	/* A record under another key is refused and ends the put. */
	memset(&g, 0, sizeof g);
	assert_int_equal(dht_put_begin(net->n[0].d, net->now, key, 0,
				       (struct dht_lookup_cb){got_cb, &g}, &h),
			 0);
	other = r;
	other.salt[0] ^= 1;
	assert_int_equal(dht_record_sign(&other, sk), 0);
	assert_int_equal(dht_put_commit(net->n[0].d, net->now, h, &other),
			 -EINVAL);
	/* So is a bad signature. */
	assert_int_equal(dht_put_begin(net->n[0].d, net->now, key, 0,
				       (struct dht_lookup_cb){got_cb, &g}, &h),
			 0);
	other = r;
	other.seq = 2;
	assert_int_equal(dht_put_commit(net->n[0].d, net->now, h, &other),
			 -EKEYREJECTED);
	/* And an abort. */
	assert_int_equal(dht_put_begin(net->n[0].d, net->now, key, 0,
				       (struct dht_lookup_cb){got_cb, &g}, &h),
			 0);
	dht_put_abort(net->n[0].d, h);
	dht_put_abort(net->n[0].d, h); /* stale: nothing */
	net_run(net);
	assert_int_equal(g.calls, 0);
	dht_status(net->n[0].d, &st);
	assert_int_equal(st.lookups, 0);
	assert_int_equal(dht_put_begin(net->n[0].d, net->now, key, 0,
				       (struct dht_lookup_cb){NULL, NULL}, &h),
			 -EINVAL);
	net_free(net);
}

/* Forged, replayed, truncated, oversized and unmatched packets are dropped
 * and counted. */
static void test_hostile_packets(void **state)
{
	struct net *net = net_new(2);
	struct dht *d1 = net->n[1].d;
	struct dht_addr *a0 = &net->n[0].addr;
	struct dht_status st;
	struct got g = {0};
	struct pkt req;
	uint8_t big[DHT_PKT_MAX + 1] = {DHT_CLASS_SEALED};

	(void)state;
	link_all(net);
	assert_int_equal(dht_find_node(net->n[0].d, net->now,
				       dht_id(net->n[1].d), 0,
				       (struct dht_lookup_cb){got_cb, &g}),
			 0);
	assert_int_equal(net->nq, 1);
	req = net->q[0];
	net_run(net);
	assert_int_equal(g.status, 0);
	/* Replayed request. */
	assert_int_equal(dht_recv(d1, net->now, a0, req.b, req.len), -EBADMSG);
	dht_status(d1, &st);
	assert_int_equal(st.drop_replay, 1);
	/* Replayed reply: no outstanding request matches. */
	assert_int_equal(dht_recv(net->n[0].d, net->now, &net->n[1].addr,
				  net->last.b, net->last.len),
			 -ENOENT);
	dht_status(net->n[0].d, &st);
	assert_int_equal(st.drop_unmatched, 1);
	/* Forged: one flipped bit anywhere in the box. */
	req.b[req.len - 3] ^= 0x20;
	assert_int_equal(dht_recv(d1, net->now, a0, req.b, req.len),
			 -EKEYREJECTED);
	/* Truncated at every length. */
	for (size_t n = 0; n < req.len; n++)
		assert_true(dht_recv(d1, net->now, a0, req.b, n) < 0);
	/* Oversized. */
	assert_int_equal(dht_recv(d1, net->now, a0, big, sizeof big), -E2BIG);
	/* Unknown class. */
	big[0] = 0x77;
	assert_int_equal(dht_recv(d1, net->now, a0, big, 100), -EBADMSG);
	dht_status(d1, &st);
	assert_true(st.drop_auth >= 1);
	assert_true(st.drop_short >= 1);
	assert_int_equal(st.drop_big, 1);
	assert_int_equal(st.drop_version, 1);
	net_free(net);
}

/* A request that stays unanswered times out, the lookup completes. */
static void test_timeout(void **state)
{
	struct net *net = net_new(2);
	struct got g = {0};
	struct dht_status st;
	uint64_t t;

	(void)state;
	link_all(net);
	assert_int_equal(dht_find_node(net->n[0].d, net->now,
				       dht_id(net->n[1].d), 0,
				       (struct dht_lookup_cb){got_cb, &g}),
			 0);
	net->nq = 0; /* lost */
	t = dht_tick(net->n[0].d, net->now);
	assert_true(t > net->now && t <= net->now + 2000);
	for (int i = 0; i < 10 && g.calls == 0; i++) {
		t = dht_tick(net->n[0].d, t);
		net->nq = 0;
	}
	assert_int_equal(g.calls, 1);
	assert_int_equal(g.status, -ENOENT);
	dht_status(net->n[0].d, &st);
	assert_true(st.timeouts >= 3);
	net_free(net);
}

/* Every lookup slot in use: the next lookup is refused with ENOSPC (the
 * daemon answers "busy"), nothing is sent for it, and a slot freed by a
 * finished lookup can be used again. */
static void test_lookups_full(void **state)
{
	struct dht_limits lim = {.lookups_max = 2};
	struct net *net = net_new_lim(2, &lim);
	struct got g[3] = {{0}};
	uint8_t target[DHT_ID_LEN];
	unsigned before;

	(void)state;
	link_all(net);
	memset(target, 0x5a, sizeof target);
	for (int i = 0; i < 2; i++)
		assert_int_equal(dht_find_node(net->n[0].d, net->now, target,
					       0,
					       (struct dht_lookup_cb){got_cb,
								      &g[i]}),
				 0);
	before = net->nq;
	assert_int_equal(dht_find_node(net->n[0].d, net->now, target, 0,
				       (struct dht_lookup_cb){got_cb, &g[2]}),
			 -ENOSPC);
	assert_int_equal(net->nq, before);
	assert_int_equal(g[2].calls, 0);
	net_run(net);
	assert_int_equal(g[0].calls, 1);
	assert_int_equal(g[1].calls, 1);
	assert_int_equal(dht_find_node(net->n[0].d, net->now, target, 0,
				       (struct dht_lookup_cb){got_cb, &g[2]}),
			 0);
	net_run(net);
	assert_int_equal(g[2].calls, 1);
	net_free(net);
}

static void test_subnet_limit(void **state)
{
	struct net *net = net_new(1);
	uint8_t pk[32], sk[32], seed[32] = {0};
	struct dht_addr a;
	unsigned accepted = 0;
	struct dht_status st;

	(void)state;
	/* Many keys from one /24: at most 2 per bucket. */
	for (unsigned i = 0; i < 200; i++) {
		seed[0] = (uint8_t)i;
		seed[1] = 0xaa;
		cx_box_keypair_seed(pk, sk, seed);
		addr_of(77, &a);
		a.ip[3] = (uint8_t)i;
		if (dht_add_contact(net->n[0].d, net->now, pk, &a) == 0)
			accepted++;
	}
	dht_status(net->n[0].d, &st);
	assert_true(st.contacts <= 2 * st.buckets);
	assert_true(st.contacts >= 2);
	net_free(net);
}

static void test_rate_limit(void **state)
{
	struct net *net = net_new(2);
	struct dht_status st;
	struct got g = {0};
	uint8_t target[32] = {0};

	(void)state;
	link_all(net);
	/* 200 lookups from one source within about a second: the per-source
	 * token bucket (20/s, burst 40) must drop some.  Failures to start
	 * (all lookup slots waiting on dropped requests) are expected. */
	for (int i = 0; i < 200; i++) {
		target[0] = (uint8_t)i;
		(void)dht_find_node(net->n[0].d, net->now, target, 0,
				    (struct dht_lookup_cb){got_cb, &g});
		net_run(net);
	}
	dht_status(net->n[1].d, &st);
	assert_true(st.drop_rate > 0);
	net_free(net);
}

static void test_table_save_load(void **state)
{
	struct net *net = net_new(4);
	uint8_t buf[1024];
	size_t len;
	struct dht_status st;

	(void)state;
	link_all(net);
	assert_int_equal(dht_table_save(net->n[0].d, buf, sizeof buf, &len), 0);
	assert_int_equal(len, DHT_TABLE_HDR_LEN + 3 * DHT_TABLE_ENTRY_LEN);
	dht_free(net->n[0].d);
	net->n[0].d = NULL;
	{
		struct dht_config c = {0};

		c.node_pk = net->n[0].pk;
		c.node_sk = net->n[0].sk;
		c.rng = &net->n[0].rng_if;
		c.io.send = tsend;
		c.io.self = &net->n[0];
		assert_int_equal(dht_new(&net->n[0].d, &c), 0);
	}
	assert_int_equal(dht_table_load(net->n[0].d, net->now, buf, len), 3);
	dht_status(net->n[0].d, &st);
	assert_int_equal(st.contacts, 3);
	/* Broken inputs load nothing. */
	assert_int_equal(dht_table_load(net->n[0].d, net->now, buf, len - 1),
			 -EBADMSG);
	buf[0] = 'X';
	assert_int_equal(dht_table_load(net->n[0].d, net->now, buf, len),
			 -EBADMSG);
	assert_int_equal(dht_table_save(net->n[0].d, buf, 4, &len), -E2BIG);
	net_free(net);
}

/* Storage is bounded: with room for 2 records, a third is refused or
 * evicts the one farthest from the node's ID, never more than 2 kept. */
static void test_storage_limit(void **state)
{
	struct dht_limits lim = {.records_max = 2};
	struct net *net = net_new_lim(2, &lim);
	struct dht_status st;

	(void)state;
	link_all(net);
	for (unsigned i = 0; i < 5; i++) {
		struct dht_record r;
		uint8_t sk[64], seed[32] = {0};
		struct got g = {0};

		memset(&r, 0, sizeof r);
		seed[0] = (uint8_t)(40 + i);
		cx_sign_keypair_seed(r.pk, sk, seed);
		r.seq = 1;
		r.expiry_s = net->now / 1000 + 600;
		r.value_len = 10;
		assert_int_equal(dht_record_sign(&r, sk), 0);
		assert_int_equal(dht_put(net->n[0].d, net->now, &r, 0,
					 (struct dht_lookup_cb){got_cb, &g}),
				 0);
		net_run(net);
		assert_int_equal(g.calls, 1);
	}
	dht_status(net->n[1].d, &st);
	assert_int_equal(st.records, 2);
	assert_int_equal(st.stores_accepted + st.stores_rejected, 5);
	net_free(net);
}

/* A STORE with a token that was not issued to the sender is refused. */
/* A put reuses the write tokens of recent replies; a node that forgot its
 * token secret (restarted) refuses the reused one, and the put asks it
 * FIND_NODE for a fresh token and stores there all the same. */
static void test_stale_reused_token(void **state)
{
	struct net *net = net_new(4);
	struct dht_record r, held;
	struct dht_config c = {0};
	struct tnode *n1 = &net->n[1];
	uint8_t sk[64], key[32];
	struct dht_status st;
	struct got g;

	(void)state;
	linked_put(net, &r, sk, 1, 20, key, &g);
	/* Node 1 restarts: same key and address, new token secret. */
	dht_free(n1->d);
	c.node_pk = n1->pk;
	c.node_sk = n1->sk;
	c.rng = &n1->rng_if;
	c.io.send = tsend;
	c.io.self = n1;
	assert_int_equal(dht_new(&n1->d, &c), 0);
	mk_record(&r, sk, 2, net->now, 20);
	op_run(net, 0, &r, NULL, 0, &g);
	assert_int_equal(g.status, 0);
	dht_status(n1->d, &st);
	assert_int_equal(st.drop_bad_token, 1);
	assert_int_equal(dht_record_lookup_local(n1->d, key, &held), 0);
	assert_int_equal(held.seq, 2);
	for (unsigned i = 2; i < 4; i++) {
		assert_int_equal(
			dht_record_lookup_local(net->n[i].d, key, &held), 0);
		assert_int_equal(held.seq, 2);
	}
	net_free(net);
}

static void test_bad_token(void **state)
{
	struct net *net = net_new(2);
	struct dht_record r;
	uint8_t sk[64], k[32], body[DHT_TOKEN_LEN + DHT_RECORD_MAX_LEN];
	uint8_t plain[DHT_PLAIN_MAX], pkt[DHT_PKT_MAX];
	struct dht_buf b = {.p = body, .len = sizeof body};
	struct dht_buf h = {.p = plain, .len = sizeof plain};
	struct dht_status st;

	(void)state;
	mk_record(&r, sk, 1, net->now, 20);
	dht__put_bytes(&b, "not a real token", DHT_TOKEN_LEN);
	dht__put_record(&b, &r);
	dht__put_u8(&h, DHT_MSG_STORE);
	dht__put_u8(&h, 0);
	dht__put_u64(&h, 77);
	dht__put_u64(&h, net->now);
	dht__put_bytes(&h, body, b.pos);
	assert_false(h.err);
	pkt[0] = DHT_CLASS_SEALED;
	memcpy(pkt + 1, net->n[0].pk, 32);
	memset(pkt + 33, 0x42, CX_BOX_NONCE_LEN);
	assert_int_equal(cx_box_shared(k, net->n[1].pk, net->n[0].sk), 0);
	assert_int_equal(
		cx_box_seal(pkt + DHT_OUTER_LEN, plain, h.pos, pkt + 33, k), 0);
	assert_int_equal(dht_recv(net->n[1].d, net->now, &net->n[0].addr, pkt,
				  DHT_OUTER_LEN + CX_BOX_MAC_LEN + h.pos),
			 0);
	dht_status(net->n[1].d, &st);
	assert_int_equal(st.drop_bad_token, 1);
	assert_int_equal(st.records, 0);
	assert_int_equal(net->nq, 1); /* a STORE_ACK saying why */
	net_free(net);
}

static void test_id_math(void **state)
{
	uint8_t a[32] = {0}, b[32] = {0}, t[32] = {0};

	(void)state;
	b[0] = 0x10;
	assert_int_equal(dht_id_common_bits(a, b), 3);
	assert_int_equal(dht_id_common_bits(a, a), 256);
	t[0] = 0x11;
	assert_true(dht_id_cmp_dist(t, b, a) < 0);
	assert_int_equal(dht_id_cmp_dist(t, a, a), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_box_roundtrip),
		cmocka_unit_test(test_sign),
		cmocka_unit_test(test_record),
		cmocka_unit_test(test_body_parse),
		cmocka_unit_test(test_id_math),
		cmocka_unit_test(test_find_node),
		cmocka_unit_test(test_bootstrap_by_address),
		cmocka_unit_test(test_put_get_seq),
		cmocka_unit_test(test_get_local),
		cmocka_unit_test(test_put_two_step),
		cmocka_unit_test(test_hostile_packets),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_lookups_full),
		cmocka_unit_test(test_subnet_limit),
		cmocka_unit_test(test_rate_limit),
		cmocka_unit_test(test_table_save_load),
		cmocka_unit_test(test_storage_limit),
		cmocka_unit_test(test_bad_token),
		cmocka_unit_test(test_stale_reused_token),
	};

	if (cx_init() < 0)
		return 1;
	return cmocka_run_group_tests_name("dht", tests, NULL, NULL);
}
