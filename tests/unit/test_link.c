/* Unit tests of node/link.c: managers wired through an in-memory network
 * with a virtual clock, seeded randomness, and filters for loss,
 * duplication, reordering and partition.  Events (packets and node
 * deadlines) run in (time, sequence) order, so every run is the same. */
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
#include "crypto/prim.h"
#include "node/link.h"
#include "node/link_wire.h"

#define MAX_NODES 4
#define MAX_QUEUE 8192
#define MAX_CAPTURE 512
#define T0 1000000ull

struct tnode;

struct pkt {
	uint64_t at, seq;
	struct dht_addr from, to;
	size_t len;
	uint8_t data[LINK_PKT_MAX];
};

struct net {
	struct tnode *nodes[MAX_NODES];
	unsigned num_nodes;
	struct pkt *q; /* unordered; the earliest is searched */
	unsigned qlen;
	uint64_t now, seq, rng;
	unsigned loss_pct, dup_pct, jitter_ms;
	bool blackhole; /* drop everything */
	/* Every packet sent, for replay tests. */
	struct pkt *cap;
	unsigned ncap;
	uint64_t delivered;
};

struct tnode {
	struct net *net;
	struct link_mgr *m;
	uint8_t sk[32], pk[32];
	struct dht_addr addr;
	uint64_t rng_state;
	struct rng rng;
	uint64_t deadline;
	unsigned established, closed;
	int last_close;
	uint8_t est_pk[32], closed_pk[32];
	unsigned msgs;
	uint32_t last_seq_seen; /* messages carry a 4-byte sequence */
	uint8_t seen[4096];	/* seq -> times received */
};

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void trng_fill(void *self, uint8_t *buf, size_t len)
{
	uint64_t *s = self;

	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)splitmix(s);
}

static struct dht_addr mkaddr(unsigned host, uint16_t port)
{
	struct dht_addr a = {.family = DHT_FAMILY_IPV4, .port = port};

	a.ip[0] = 127;
	a.ip[3] = (uint8_t)host;
	return a;
}

static bool addr_eq(const struct dht_addr *a, const struct dht_addr *b)
{
	return a->family == b->family && a->port == b->port &&
	       memcmp(a->ip, b->ip, 16) == 0;
}

static void enqueue(struct net *n, const struct dht_addr *from,
		    const struct dht_addr *to, const uint8_t *pkt, size_t len)
{
	struct pkt *p;

	assert_true(n->qlen < MAX_QUEUE);
	p = &n->q[n->qlen++];
	p->at = n->now + 5 +
		(n->jitter_ms ? splitmix(&n->rng) % n->jitter_ms : 0);
	p->seq = n->seq++;
	p->from = *from;
	p->to = *to;
	p->len = len;
	memcpy(p->data, pkt, len);
}

static int tsend(void *self, const struct dht_addr *to, const uint8_t *pkt,
		 size_t len)
{
	struct tnode *t = self;
	struct net *n = t->net;

	assert_true(len > 0 && len <= LINK_PKT_MAX);
	assert_true(link_is_packet(pkt, len));
	if (n->ncap < MAX_CAPTURE) {
		struct pkt *c = &n->cap[n->ncap++];

		c->from = t->addr;
		c->to = *to;
		c->len = len;
		memcpy(c->data, pkt, len);
	}
	if (n->blackhole || splitmix(&n->rng) % 100 < n->loss_pct)
		return 0;
	enqueue(n, &t->addr, to, pkt, len);
	if (splitmix(&n->rng) % 100 < n->dup_pct)
		enqueue(n, &t->addr, to, pkt, len);
	return 0;
}

static void on_est(void *arg, const uint8_t pk[LINK_PK_LEN],
		   const struct dht_addr *addr)
{
	struct tnode *t = arg;

	assert_true(addr->port != 0);
	memcpy(t->est_pk, pk, 32);
	t->established++;
}

static void on_msg(void *arg, const uint8_t pk[LINK_PK_LEN],
		   const uint8_t *data, size_t len)
{
	struct tnode *t = arg;

	(void)pk;
	t->msgs++;
	if (len >= 4) {
		uint32_t s = (uint32_t)data[0] << 24 | (uint32_t)data[1] << 16 |
			     (uint32_t)data[2] << 8 | data[3];

		if (s < sizeof t->seen && t->seen[s] < 255)
			t->seen[s]++;
		t->last_seq_seen = s;
	}
}

static void on_closed(void *arg, const uint8_t pk[LINK_PK_LEN], int reason)
{
	struct tnode *t = arg;

	memcpy(t->closed_pk, pk, 32);
	t->closed++;
	t->last_close = reason;
}

static struct tnode *node_add(struct net *n, unsigned host,
			      const struct link_limits *lim)
{
	struct tnode *t = calloc(1, sizeof *t);
	struct link_config cfg = {0};

	assert_non_null(t);
	t->net = n;
	t->rng_state = 0x1234 + host * 7919;
	t->rng.fill = trng_fill;
	t->rng.self = &t->rng_state;
	rng_fill(&t->rng, t->sk, 32);
	cx_x25519_public(t->pk, t->sk);
	t->addr = mkaddr(host, 4000);
	cfg.node_sk = t->sk;
	cfg.rng = &t->rng;
	cfg.io.send = tsend;
	cfg.io.self = t;
	cfg.cb.established_cb = on_est;
	cfg.cb.message_cb = on_msg;
	cfg.cb.closed_cb = on_closed;
	cfg.cb.arg = t;
	if (lim != NULL)
		cfg.limits = *lim;
	assert_int_equal(link_mgr_new(&t->m, &cfg), 0);
	t->deadline = UINT64_MAX;
	n->nodes[n->num_nodes++] = t;
	return t;
}

static struct net *net_new(uint64_t seed)
{
	struct net *n = calloc(1, sizeof *n);

	assert_non_null(n);
	n->q = calloc(MAX_QUEUE, sizeof *n->q);
	n->cap = calloc(MAX_CAPTURE, sizeof *n->cap);
	assert_non_null(n->q);
	assert_non_null(n->cap);
	n->now = T0;
	n->rng = seed;
	return n;
}

static void net_free(struct net *n)
{
	for (unsigned i = 0; i < n->num_nodes; i++) {
		link_mgr_free(n->nodes[i]->m);
		free(n->nodes[i]);
	}
	free(n->q);
	free(n->cap);
	free(n);
}

static struct tnode *node_at(struct net *n, const struct dht_addr *a)
{
	for (unsigned i = 0; i < n->num_nodes; i++)
		if (addr_eq(&n->nodes[i]->addr, a))
			return n->nodes[i];
	return NULL;
}

static void node_tick(struct tnode *t)
{
	t->deadline = link_tick(t->m, t->net->now);
	assert_true(t->deadline > t->net->now);
}

/* Delivers pkt to whoever is at its address now; returns link_recv's. */
static int deliver(struct net *n, const struct dht_addr *from,
		   const struct dht_addr *to, const uint8_t *data, size_t len)
{
	struct tnode *t = node_at(n, to);
	int r;

	if (t == NULL)
		return -EHOSTUNREACH;
	r = link_recv(t->m, n->now, from, data, len);
	n->delivered++;
	node_tick(t);
	return r;
}

/* Runs events up to and including `until`. */
static void net_run(struct net *n, uint64_t until)
{
	for (;;) {
		uint64_t best = UINT64_MAX, bseq = UINT64_MAX;
		int bq = -1;
		struct tnode *bt = NULL;

		for (unsigned i = 0; i < n->qlen; i++)
			if (n->q[i].at < best ||
			    (n->q[i].at == best && n->q[i].seq < bseq)) {
				best = n->q[i].at;
				bseq = n->q[i].seq;
				bq = (int)i;
			}
		for (unsigned i = 0; i < n->num_nodes; i++)
			if (n->nodes[i]->deadline < best) {
				best = n->nodes[i]->deadline;
				bt = n->nodes[i];
				bq = -1;
			}
		if (best > until)
			break;
		if (best > n->now)
			n->now = best;
		if (bt != NULL) {
			node_tick(bt);
		} else {
			struct pkt p = n->q[bq];

			n->q[bq] = n->q[--n->qlen];
			deliver(n, &p.from, &p.to, p.data, p.len);
		}
	}
	n->now = until;
}

static void run_for(struct net *n, uint64_t ms)
{
	net_run(n, n->now + ms);
}

static void connect_nodes(struct tnode *a, struct tnode *b)
{
	assert_int_equal(link_connect(a->m, a->net->now, b->pk, &b->addr), 0);
	node_tick(a);
}

static int send_seq(struct tnode *from, struct tnode *to, uint32_t seq,
		    size_t len)
{
	uint8_t buf[LINK_PAYLOAD_MAX] = {0};
	int r;

	buf[0] = (uint8_t)(seq >> 24);
	buf[1] = (uint8_t)(seq >> 16);
	buf[2] = (uint8_t)(seq >> 8);
	buf[3] = (uint8_t)seq;
	r = link_send(from->m, from->net->now, to->pk, buf, len);
	node_tick(from);
	return r;
}

static struct link_status stat_of(struct tnode *t)
{
	struct link_status st;

	link_status(t->m, &st);
	return st;
}

static int setup(void **state)
{
	(void)state;
	return cx_init() == 0 ? 0 : -1;
}

/* Two nodes, a clean network: XK completes, data flows both ways. */
static void test_connect(void **state)
{
	struct net *n = net_new(1);
	struct tnode *a = node_add(n, 1, NULL), *b = node_add(n, 2, NULL);
	struct link_peer_status ps;
	struct link_status sa, sb;

	(void)state;
	assert_int_equal(send_seq(a, b, 0, 10), -ENOTCONN);
	connect_nodes(a, b);
	run_for(n, 1000);
	assert_int_equal(a->established, 1);
	assert_int_equal(b->established, 1);
	assert_int_equal(send_seq(a, b, 1, 100), 0);
	assert_int_equal(send_seq(b, a, 2, LINK_PAYLOAD_MAX), 0);
	run_for(n, 100);
	assert_int_equal(b->msgs, 1);
	assert_int_equal(a->msgs, 1);
	assert_int_equal(link_peer_status(a->m, n->now, b->pk, &ps), 0);
	assert_true(ps.established && ps.initiator);
	assert_true(addr_eq(&ps.addr, &b->addr));
	assert_int_equal(link_peer_status(b->m, n->now, a->pk, &ps), 0);
	assert_true(ps.established && !ps.initiator);
	sa = stat_of(a);
	sb = stat_of(b);
	assert_int_equal(sa.hs_init_out, 1);
	assert_int_equal(sb.hs_resp_out, 1);
	assert_int_equal(sa.hs_final_out, 1);
	assert_int_equal(sa.established, 1);
	for (unsigned i = 0; i < LINK_DROP_MAX_; i++) {
		assert_int_equal(sa.drop[i], 0);
		assert_int_equal(sb.drop[i], 0);
	}
	net_free(n);
}

/* The first INITs are lost: retransmitted with backoff until answered. */
static void test_retransmit(void **state)
{
	struct net *n = net_new(2);
	struct tnode *a = node_add(n, 1, NULL), *b = node_add(n, 2, NULL);

	(void)state;
	n->blackhole = true;
	connect_nodes(a, b);
	run_for(n, 2500);
	assert_int_equal(stat_of(a).hs_init_out, 2); /* t = 0 and ~1 s */
	n->blackhole = false;
	run_for(n, 5000);
	assert_int_equal(stat_of(a).hs_init_out, 3); /* ~3 s */
	assert_int_equal(a->established, 1);
	assert_int_equal(b->established, 1);
	net_free(n);
}

/* Lost FINAL: the initiator repeats it until the responder confirms. */
static void test_lost_final(void **state)
{
	struct net *n = net_new(3);
	struct tnode *a = node_add(n, 1, NULL), *b = node_add(n, 2, NULL);

	(void)state;
	connect_nodes(a, b);
	run_for(n, 7); /* INIT delivered at +5, RESP in flight */
	n->blackhole = true;
	run_for(n, 10); /* FINAL lost */
	assert_int_equal(stat_of(a).hs_final_out, 1);
	assert_int_equal(b->established, 0);
	n->blackhole = false;
	run_for(n, 3000);
	assert_int_equal(stat_of(a).hs_final_out, 2);
	assert_int_equal(a->established, 1);
	assert_int_equal(b->established, 1);
	net_free(n);
}

/* Nobody answers: backoff, give up after REKEY_ATTEMPT_TIME, closed_cb. */
static void test_handshake_timeout(void **state)
{
	struct net *n = net_new(4);
	struct tnode *a = node_add(n, 1, NULL), *b = node_add(n, 2, NULL);
	struct dht_addr nowhere = mkaddr(99, 9);
	uint64_t inits;

	(void)state;
	assert_int_equal(link_connect(a->m, n->now, b->pk, &nowhere), 0);
	node_tick(a);
	run_for(n, LINK_REKEY_ATTEMPT_TIME_MS - 1000);
	assert_int_equal(a->closed, 0);
	run_for(n, 2000);
	assert_int_equal(a->closed, 1);
	assert_int_equal(a->last_close, LINK_CLOSE_HANDSHAKE_TIMEOUT);
	inits = stat_of(a).hs_init_out;
	/* 1, 2, 4, 8, 16, then every 16 s: about 9 in 90 s, not 90. */
	assert_in_range(inits, 7, 11);
	assert_int_equal(stat_of(a).links, 0);
	assert_int_equal(a->deadline, UINT64_MAX);
	net_free(n);
}

/* Loss, duplication and reordering: every message arrives at most once,
 * duplicates are counted as replays. */
static void test_lossy(void **state)
{
	struct net *n = net_new(5);
	struct tnode *a = node_add(n, 1, NULL), *b = node_add(n, 2, NULL);
	unsigned got = 0;

	(void)state;
	n->loss_pct = 20;
	n->dup_pct = 20;
	n->jitter_ms = 60;
	connect_nodes(a, b);
	run_for(n, 20000);
	assert_int_equal(a->established, 1);
	assert_int_equal(b->established, 1);
	for (uint32_t i = 0; i < 1000; i++) {
		assert_int_equal(send_seq(a, b, i, 64), 0);
		run_for(n, 3);
	}
	run_for(n, 1000);
	for (unsigned i = 0; i < 1000; i++) {
		assert_true(b->seen[i] <= 1);
		got += b->seen[i];
	}
	assert_in_range(got, 700, 900);
	assert_true(stat_of(b).drop[LINK_DROP_REPLAY] > 100);
	assert_int_equal(stat_of(b).drop[LINK_DROP_AUTH], 0);
	net_free(n);
}

static const struct pkt *find_cap(struct net *n, uint8_t cls, unsigned nth)
{
	for (unsigned i = 0; i < n->ncap; i++)
		if (n->cap[i].data[0] == cls && nth-- == 0)
			return &n->cap[i];
	return NULL;
}

/* Captured packets replayed later: data refused, handshakes harmless. */
static void test_replay(void **state)
{
	struct net *n = net_new(6);
	struct tnode *a = node_add(n, 1, NULL), *b = node_add(n, 2, NULL);
	const struct pkt *p;
	struct pkt c;

	(void)state;
	connect_nodes(a, b);
	run_for(n, 1000);
	n->ncap = 0;
	assert_int_equal(send_seq(a, b, 7, 50), 0);
	run_for(n, 100);
	assert_int_equal(b->msgs, 1);
	p = find_cap(n, LINK_CLASS_DATA, 0);
	assert_non_null(p);
	c = *p;
	assert_int_equal(deliver(n, &c.from, &c.to, c.data, c.len), -EALREADY);
	assert_int_equal(b->msgs, 1);
	assert_int_equal(stat_of(b).drop[LINK_DROP_REPLAY], 1);
	/* From another address too: no roaming on a replay. */
	c.from = mkaddr(66, 6666);
	assert_int_equal(deliver(n, &c.from, &c.to, c.data, c.len), -EALREADY);
	assert_int_equal(stat_of(b).roams, 0);
	net_free(n);
}

/* Old handshake messages replayed: INIT opens a slot that goes nowhere,
 * FINAL of a finished handshake only re-confirms. */
static void test_replay_handshake(void **state)
{
	struct net *n = net_new(7);
	struct tnode *a = node_add(n, 1, NULL), *b = node_add(n, 2, NULL);
	const struct pkt *init, *fin;
	struct pkt c;

	(void)state;
	connect_nodes(a, b);
	run_for(n, 1000);
	init = find_cap(n, LINK_CLASS_INIT, 0);
	fin = find_cap(n, LINK_CLASS_FINAL, 0);
	assert_non_null(init);
	assert_non_null(fin);
	c = *fin;
	assert_int_equal(deliver(n, &c.from, &c.to, c.data, c.len), 0);
	c = *init;
	run_for(n, LINK_RESP_SLOT_TTL_MS + 1000);
	assert_int_equal(deliver(n, &c.from, &c.to, c.data, c.len), 0);
	run_for(n, 100); /* its RESP reaches A, which has no such index */
	assert_int_equal(stat_of(a).drop[LINK_DROP_UNKNOWN], 1);
	c = *fin;
	run_for(n, LINK_RESP_SLOT_TTL_MS + 1000);
	assert_int_equal(deliver(n, &c.from, &c.to, c.data, c.len), 0);
	assert_int_equal(a->established, 1);
	assert_int_equal(b->established, 1);
	assert_int_equal(stat_of(b).rekeys, 0);
	net_free(n);
}

/* Every single-bit change of a data packet is refused; the original
 * still passes afterwards (failed packets do not move the window). */
static void test_tamper(void **state)
{
	struct net *n = net_new(8);
	struct tnode *a = node_add(n, 1, NULL), *b = node_add(n, 2, NULL);
	struct pkt c;

	(void)state;
	connect_nodes(a, b);
	run_for(n, 1000);
	n->blackhole = true;
	n->ncap = 0;
	assert_int_equal(send_seq(a, b, 1, 40), 0);
	c = *find_cap(n, LINK_CLASS_DATA, 0);
	n->blackhole = false;
	for (size_t i = 0; i < c.len; i++) {
		struct pkt t = c;
		int r;

		t.data[i] ^= 0x20;
		r = deliver(n, &t.from, &t.to, t.data, t.len);
		assert_true(r < 0);
	}
	assert_int_equal(b->msgs, 0);
	assert_true(stat_of(b).drop[LINK_DROP_AUTH] >= c.len - 8);
	assert_int_equal(deliver(n, &c.from, &c.to, c.data, c.len), 0);
	assert_int_equal(b->msgs, 1);
	/* Truncated and oversized. */
	assert_int_equal(deliver(n, &c.from, &c.to, c.data, LINK_DATA_MIN - 1),
			 -EBADMSG);
	assert_int_equal(deliver(n, &c.from, &c.to, c.data, 0), -EBADMSG);
	net_free(n);
}

/* Window: reordering within it is accepted, counters older than it are
 * refused. */
static void test_window(void **state)
{
	struct net *n = net_new(9);
	struct tnode *a = node_add(n, 1, NULL), *b = node_add(n, 2, NULL);
	struct pkt held[3];

	(void)state;
	connect_nodes(a, b);
	run_for(n, 1000);
	n->blackhole = true;
	n->ncap = 0;
	for (uint32_t i = 0; i < 3; i++) {
		assert_int_equal(send_seq(a, b, i, 8), 0);
		held[i] = *find_cap(n, LINK_CLASS_DATA, i);
	}
	n->blackhole = false;
	for (uint32_t i = 3; i < LINK_REPLAY_WINDOW + 2; i++)
		assert_int_equal(send_seq(a, b, i, 8), 0);
	run_for(n, 100);
	/* A's counters 0..2 were held back; 3 .. WINDOW+1 arrived, so 2 is
	 * the oldest counter still inside the window and 0 is outside. */
	assert_int_equal(deliver(n, &held[0].from, &held[0].to, held[0].data,
				 held[0].len),
			 -EALREADY);
	assert_int_equal(deliver(n, &held[2].from, &held[2].to, held[2].data,
				 held[2].len),
			 0);
	assert_int_equal(deliver(n, &held[2].from, &held[2].to, held[2].data,
				 held[2].len),
			 -EALREADY);
	assert_int_equal(b->seen[2], 1);
	assert_int_equal(b->seen[0], 0);
	net_free(n);
}

/* A moves: its next authenticated packet updates B's view, no handshake. */
static void test_roaming(void **state)
{
	struct net *n = net_new(10);
	struct tnode *a = node_add(n, 1, NULL), *b = node_add(n, 2, NULL);
	struct link_peer_status ps;
	uint64_t hs_a, hs_b;

	(void)state;
	connect_nodes(a, b);
	run_for(n, 1000);
	hs_a = stat_of(a).hs_init_out;
	hs_b = stat_of(b).hs_resp_out;
	a->addr = mkaddr(11, 5555);
	assert_int_equal(send_seq(a, b, 1, 30), 0);
	run_for(n, 100);
	assert_int_equal(b->msgs, 1);
	assert_int_equal(link_peer_status(b->m, n->now, a->pk, &ps), 0);
	assert_true(addr_eq(&ps.addr, &a->addr));
	assert_int_equal(stat_of(b).roams, 1);
	assert_int_equal(send_seq(b, a, 2, 30), 0);
	run_for(n, 100);
	assert_int_equal(a->msgs, 1);
	assert_int_equal(stat_of(a).hs_init_out, hs_a);
	assert_int_equal(stat_of(b).hs_resp_out, hs_b);
	net_free(n);
}

/* B moves and A learns it elsewhere (the DHT): link_connect with the new
 * address rekeys over the new path. */
static void test_reconnect_moved(void **state)
{
	struct net *n = net_new(11);
	struct tnode *a = node_add(n, 1, NULL), *b = node_add(n, 2, NULL);

	(void)state;
	connect_nodes(a, b);
	run_for(n, 1000);
	b->addr = mkaddr(12, 6000);
	assert_int_equal(send_seq(a, b, 1, 30), 0);
	run_for(n, 100);
	assert_int_equal(b->msgs, 0); /* sent to the old address */
	connect_nodes(a, b);
	run_for(n, 1000);
	assert_int_equal(stat_of(a).rekeys, 1);
	assert_int_equal(send_seq(a, b, 2, 30), 0);
	assert_int_equal(send_seq(b, a, 3, 30), 0);
	run_for(n, 100);
	assert_int_equal(b->msgs, 1);
	assert_int_equal(a->msgs, 1);
	assert_int_equal(a->established, 1);
	assert_int_equal(a->closed + b->closed, 0);
	net_free(n);
}

/* Both sides connect at (nearly) the same instant, for both key orders and
 * several offsets: one link, initiated by the lower key when both
 * handshakes cross, each side announced once, data both ways. */
static void simultaneous(uint64_t seed, uint64_t offset_ms)
{
	struct net *n = net_new(seed);
	struct tnode *a = node_add(n, 1 + (unsigned)seed % 50, NULL),
		     *b = node_add(n, 60 + (unsigned)seed % 50, NULL);
	struct link_peer_status pa, pb;
	bool a_low = memcmp(a->pk, b->pk, 32) < 0;

	connect_nodes(a, b);
	run_for(n, offset_ms);
	connect_nodes(b, a);
	run_for(n, 2000);
	assert_int_equal(a->established, 1);
	assert_int_equal(b->established, 1);
	assert_int_equal(link_peer_status(a->m, n->now, b->pk, &pa), 0);
	assert_int_equal(link_peer_status(b->m, n->now, a->pk, &pb), 0);
	assert_true(pa.established && pb.established);
	assert_false(pa.handshaking || pb.handshaking);
	assert_int_equal(pa.initiator, !pb.initiator);
	if (offset_ms == 0) {
		assert_int_equal(pa.initiator, a_low);
		assert_int_equal(
			stat_of(a_low ? a : b).drop[LINK_DROP_TIEBREAK], 1);
	}
	assert_int_equal(send_seq(a, b, 1, 30), 0);
	assert_int_equal(send_seq(b, a, 2, 30), 0);
	run_for(n, 100);
	assert_int_equal(a->msgs, 1);
	assert_int_equal(b->msgs, 1);
	net_free(n);
}

static void test_simultaneous(void **state)
{
	static const uint64_t offsets[] = {0, 1, 3, 5, 8, 10, 12, 15, 30};

	(void)state;
	for (uint64_t seed = 12; seed < 18; seed++)
		for (size_t i = 0; i < sizeof offsets / sizeof offsets[0]; i++)
			simultaneous(seed, offsets[i]);
}

/* Idle for ten minutes: at most one keepalive per 25 s per side, the
 * link stays up, sessions are rekeyed. */
static void test_idle_keepalive(void **state)
{
	struct net *n = net_new(13);
	struct tnode *a = node_add(n, 1, NULL), *b = node_add(n, 2, NULL);
	struct link_status sa, sb;
	uint64_t before;

	(void)state;
	connect_nodes(a, b);
	run_for(n, 1000);
	before = n->delivered;
	sa = stat_of(a);
	sb = stat_of(b);
	run_for(n, 600000);
	assert_int_equal(a->closed + b->closed, 0);
	assert_int_equal(stat_of(a).established, 1);
	sa.keepalives_out = stat_of(a).keepalives_out - sa.keepalives_out;
	sb.keepalives_out = stat_of(b).keepalives_out - sb.keepalives_out;
	print_message("# idle 10 min: keepalives a=%llu b=%llu, packets %llu,"
		      " rekeys a=%llu b=%llu\n",
		      (unsigned long long)sa.keepalives_out,
		      (unsigned long long)sb.keepalives_out,
		      (unsigned long long)(n->delivered - before),
		      (unsigned long long)stat_of(a).rekeys,
		      (unsigned long long)stat_of(b).rekeys);
	assert_true(sa.keepalives_out <= 600 / 25 + 1);
	assert_true(sb.keepalives_out <= 600 / 25 + 1);
	assert_true(sa.keepalives_out >= 10);
	/* 24 keepalives per side + 4 packets per rekey (every 2 min). */
	assert_true(n->delivered - before <= 2 * 25 + 6 * 4);
	assert_true(stat_of(a).rekeys + stat_of(b).rekeys >= 4);
	assert_int_equal(a->established, 1);
	net_free(n);
}

/* Passive keepalive: B got data and had nothing to say: it answers with a
 * keepalive after KEEPALIVE (10 s), once. */
static void test_passive_keepalive(void **state)
{
	struct net *n = net_new(14);
	struct tnode *a = node_add(n, 1, NULL), *b = node_add(n, 2, NULL);
	uint64_t k0;

	(void)state;
	connect_nodes(a, b);
	run_for(n, 1000);
	run_for(n, 25500); /* just past B's first idle keepalive */
	k0 = stat_of(b).keepalives_out;
	assert_int_equal(send_seq(a, b, 1, 30), 0);
	run_for(n, 9000);
	assert_int_equal(stat_of(b).keepalives_out, k0);
	run_for(n, 1100);
	assert_int_equal(stat_of(b).keepalives_out, k0 + 1);
	run_for(n, 9000);
	assert_int_equal(stat_of(b).keepalives_out, k0 + 1);
	net_free(n);
}

/* A partition: both sides declare the link dead after 75 s. */
static void test_dead(void **state)
{
	struct net *n = net_new(15);
	struct tnode *a = node_add(n, 1, NULL), *b = node_add(n, 2, NULL);

	(void)state;
	connect_nodes(a, b);
	run_for(n, 1000);
	n->blackhole = true;
	run_for(n, LINK_DEAD_MS - 1000);
	assert_int_equal(a->closed + b->closed, 0);
	run_for(n, 2000);
	assert_int_equal(a->closed, 1);
	assert_int_equal(b->closed, 1);
	assert_int_equal(a->last_close, LINK_CLOSE_DEAD);
	assert_int_equal(b->last_close, LINK_CLOSE_DEAD);
	assert_int_equal(send_seq(a, b, 1, 10), -ENOTCONN);
	net_free(n);
}

/* Constant traffic both ways across several rekeys with reordering: not
 * one message lost (the old session decrypts what is in flight). */
static void test_rekey_no_loss(void **state)
{
	struct net *n = net_new(16);
	struct tnode *a = node_add(n, 1, NULL), *b = node_add(n, 2, NULL);
	const uint32_t count = 4000; /* every 100 ms: 400 s */

	(void)state;
	n->jitter_ms = 40;
	connect_nodes(a, b);
	run_for(n, 1000);
	for (uint32_t i = 0; i < count; i++) {
		assert_int_equal(send_seq(a, b, i, 100), 0);
		assert_int_equal(send_seq(b, a, i, 100), 0);
		run_for(n, 100);
	}
	run_for(n, 1000);
	for (uint32_t i = 0; i < count; i++) {
		assert_int_equal(b->seen[i], 1);
		assert_int_equal(a->seen[i], 1);
	}
	assert_true(stat_of(a).rekeys + stat_of(b).rekeys >= 3);
	assert_int_equal(stat_of(a).drop[LINK_DROP_AUTH], 0);
	assert_int_equal(stat_of(b).drop[LINK_DROP_UNKNOWN], 0);
	assert_int_equal(a->closed + b->closed, 0);
	net_free(n);
}

/* Limits: payload size, link table, own key, bad address. */
static void test_limits(void **state)
{
	struct link_limits lim = {.links_max = 2};
	struct net *n = net_new(17);
	struct tnode *a = node_add(n, 1, &lim), *b = node_add(n, 2, NULL),
		     *c = node_add(n, 3, NULL), *d = node_add(n, 4, NULL);
	uint8_t big[LINK_PAYLOAD_MAX + 1] = {0};
	struct dht_addr bad = {0};

	(void)state;
	connect_nodes(a, b);
	connect_nodes(a, c);
	assert_int_equal(link_connect(a->m, n->now, d->pk, &d->addr), -ENOSPC);
	assert_int_equal(link_connect(a->m, n->now, a->pk, &d->addr), -EINVAL);
	assert_int_equal(link_connect(a->m, n->now, d->pk, &bad), -EINVAL);
	run_for(n, 1000);
	assert_int_equal(link_send(a->m, n->now, b->pk, big, sizeof big),
			 -E2BIG);
	assert_int_equal(link_send(a->m, n->now, b->pk, big, 0), 0);
	/* D connects to A, whose table is full: refused after message 3. */
	connect_nodes(d, a);
	run_for(n, 1000);
	assert_int_equal(d->established, 0);
	assert_true(stat_of(a).drop[LINK_DROP_FULL] >= 1);
	assert_int_equal(link_close(a->m, c->pk), 0);
	assert_int_equal(link_close(a->m, c->pk), -ENOENT);
	run_for(n, 20000); /* D retries and gets in */
	assert_int_equal(d->established, 1);
	assert_int_equal(stat_of(a).links, 2);
	net_free(n);
}

/* Handshake flood: INITs from many spoofed sources fill half the slots,
 * then cookies are required; a real peer still gets through, with the
 * cookie.  One source sending many INITs hits its rate limit. */
static void test_flood(void **state)
{
	struct link_limits lim = {.handshakes_max = 8};
	struct net *n = net_new(18);
	struct tnode *a = node_add(n, 1, NULL), *b = node_add(n, 2, &lim),
		     *c = node_add(n, 3, NULL);
	struct pkt inits[40];
	struct link_status sb;

	(void)state;
	/* C makes 40 valid INITs for B that never reach it. */
	n->blackhole = true;
	for (unsigned i = 0; i < 40; i++) {
		n->ncap = 0;
		connect_nodes(c, b);
		inits[i] = *find_cap(n, LINK_CLASS_INIT, 0);
		assert_int_equal(link_close(c->m, b->pk), 0);
	}
	n->blackhole = false;
	for (unsigned i = 0; i < 40; i++) {
		struct dht_addr spoof = mkaddr(100 + i, 7000);

		deliver(n, &spoof, &b->addr, inits[i].data, inits[i].len);
	}
	sb = stat_of(b);
	assert_int_equal(sb.handshakes_in, 4);
	assert_int_equal(sb.cookies_out, 36);
	assert_int_equal(sb.drop[LINK_DROP_COOKIE], 36);
	connect_nodes(a, b);
	run_for(n, 1000);
	assert_int_equal(a->established, 1);
	assert_int_equal(b->established, 1);
	assert_int_equal(stat_of(b).cookies_out, 37);
	/* Rate limit: 40 INITs in one instant from one source. */
	for (unsigned i = 0; i < 40; i++)
		deliver(n, &inits[0].from, &b->addr, inits[i].data,
			inits[i].len);
	assert_true(stat_of(b).drop[LINK_DROP_RATE] >= 40 - 20);
	/* An INIT for another key fails mac1 before any work. */
	inits[0].data[LINK_INIT_MAC1_OFF] ^= 1;
	deliver(n, &(struct dht_addr){.family = 4, .port = 1, .ip = {1}},
		&b->addr, inits[0].data, inits[0].len);
	assert_int_equal(stat_of(b).drop[LINK_DROP_MAC1], 1);
	net_free(n);
}

/* Garbage of every size and class is dropped and counted. */
static void test_garbage(void **state)
{
	struct net *n = net_new(19);
	struct tnode *a = node_add(n, 1, NULL), *b = node_add(n, 2, NULL);
	uint8_t buf[LINK_PKT_MAX + 10];
	uint64_t s = 99;
	struct link_status st;
	uint64_t drops = 0;

	(void)state;
	connect_nodes(a, b);
	run_for(n, 1000);
	for (unsigned i = 0; i < 3000; i++) {
		size_t len = splitmix(&s) % sizeof buf;

		trng_fill(&s, buf, len);
		if (len > 0)
			buf[0] = (uint8_t)(0x10 + i % 6);
		assert_true(link_recv(b->m, n->now, &a->addr, buf, len) < 0);
	}
	st = stat_of(b);
	for (unsigned i = 0; i < LINK_DROP_MAX_; i++)
		drops += st.drop[i];
	assert_int_equal(drops, 3000);
	assert_int_equal(b->msgs, 0);
	assert_int_equal(st.established, 1);
	assert_string_equal(link_drop_str(LINK_DROP_REPLAY),
			    "replayed or too old");
	assert_string_equal(link_close_str(LINK_CLOSE_DEAD), "peer silent");
	net_free(n);
}

/* Three nodes, a triangle, under loss: every pair links. */
static void test_three(void **state)
{
	struct net *n = net_new(20);
	struct tnode *a = node_add(n, 1, NULL), *b = node_add(n, 2, NULL),
		     *c = node_add(n, 3, NULL);

	(void)state;
	n->loss_pct = 30;
	connect_nodes(a, b);
	connect_nodes(b, c);
	connect_nodes(c, a);
	run_for(n, 60000);
	assert_int_equal(a->established, 2);
	assert_int_equal(b->established, 2);
	assert_int_equal(c->established, 2);
	assert_int_equal(stat_of(a).established, 2);
	net_free(n);
}

/* A forged RESP carrying the right index (an on-path attacker saw the
 * INIT) fails authentication; the handshake starts over and succeeds. */
static void test_forged_resp(void **state)
{
	struct net *n = net_new(21);
	struct tnode *a = node_add(n, 1, NULL), *b = node_add(n, 2, NULL);
	uint8_t fake[LINK_RESP_LEN];
	uint64_t s = 5;

	(void)state;
	n->blackhole = true;
	connect_nodes(a, b);
	trng_fill(&s, fake, sizeof fake);
	fake[0] = LINK_CLASS_RESP;
	memcpy(fake + 8, find_cap(n, LINK_CLASS_INIT, 0)->data + 4, 4);
	assert_int_equal(deliver(n, &b->addr, &a->addr, fake, sizeof fake),
			 -EKEYREJECTED);
	assert_int_equal(stat_of(a).drop[LINK_DROP_AUTH], 1);
	/* The same index is dead now: a second forgery is unknown. */
	assert_int_equal(deliver(n, &b->addr, &a->addr, fake, sizeof fake),
			 -ENOENT);
	n->blackhole = false;
	run_for(n, 3000);
	assert_int_equal(a->established, 1);
	assert_int_equal(b->established, 1);
	net_free(n);
}

/* Same seed, same run: every counter and every captured byte equal. */
static void scenario(uint64_t seed, struct link_status *sa, uint8_t *cap,
		     size_t *cap_len)
{
	struct net *n = net_new(seed);
	struct tnode *a = node_add(n, 1, NULL), *b = node_add(n, 2, NULL);

	n->loss_pct = 10;
	n->dup_pct = 10;
	n->jitter_ms = 30;
	connect_nodes(a, b);
	connect_nodes(b, a);
	run_for(n, 5000);
	for (uint32_t i = 0; i < 200; i++) {
		send_seq(a, b, i, 1 + i);
		run_for(n, 50);
	}
	run_for(n, 200000);
	*sa = stat_of(a);
	*cap_len = 0;
	for (unsigned i = 0; i < n->ncap; i++) {
		memcpy(cap + *cap_len, n->cap[i].data, n->cap[i].len);
		*cap_len += n->cap[i].len;
	}
	net_free(n);
}

static void test_deterministic(void **state)
{
	static uint8_t c1[MAX_CAPTURE * LINK_PKT_MAX], c2[sizeof c1];
	struct link_status s1, s2;
	size_t l1, l2;

	(void)state;
	scenario(77, &s1, c1, &l1);
	scenario(77, &s2, c2, &l2);
	assert_memory_equal(&s1, &s2, sizeof s1);
	assert_int_equal(l1, l2);
	assert_memory_equal(c1, c2, l1);
	assert_true(s1.rekeys >= 1);
}

/* The caller's clock steps back: nothing expires, the link keeps working. */
static void test_clock_back(void **state)
{
	struct net *n = net_new(22);
	struct tnode *a = node_add(n, 1, NULL), *b = node_add(n, 2, NULL);

	(void)state;
	connect_nodes(a, b);
	run_for(n, 1000);
	assert_true(link_tick(a->m, n->now - 500000) > n->now - 500000);
	assert_int_equal(link_send(a->m, n->now - 400000, b->pk,
				   (const uint8_t *)"\0\0\0\1", 4),
			 0);
	run_for(n, 100);
	assert_int_equal(b->msgs, 1);
	assert_int_equal(a->closed + b->closed, 0);
	assert_int_equal(stat_of(a).established, 1);
	net_free(n);
}

/* Many seeds: both sides connect under loss, duplication and reordering,
 * with random offsets; every run converges on one session within a
 * minute, and data flows both ways through later rekeys. */
static void test_converge(void **state)
{
	(void)state;
	for (uint64_t seed = 100; seed < 160; seed++) {
		struct net *n = net_new(seed);
		struct tnode *a = node_add(n, 1 + (unsigned)seed % 90, NULL),
			     *b = node_add(n, 100 + (unsigned)seed % 90, NULL);
		struct link_peer_status pa, pb;

		n->loss_pct = 25;
		n->dup_pct = 15;
		n->jitter_ms = 80;
		connect_nodes(a, b);
		run_for(n, splitmix(&n->rng) % 300);
		connect_nodes(b, a);
		run_for(n, 60000);
		assert_int_equal(a->established, 1);
		assert_int_equal(b->established, 1);
		for (uint32_t i = 0; i < 300; i++) {
			assert_int_equal(send_seq(a, b, i, 20), 0);
			assert_int_equal(send_seq(b, a, i, 20), 0);
			run_for(n, 1000);
		}
		assert_int_equal(link_peer_status(a->m, n->now, b->pk, &pa), 0);
		assert_int_equal(link_peer_status(b->m, n->now, a->pk, &pb), 0);
		assert_int_equal(pa.initiator, !pb.initiator);
		assert_in_range(a->msgs, 150, 300);
		assert_in_range(b->msgs, 150, 300);
		assert_int_equal(a->closed + b->closed, 0);
		net_free(n);
	}
}

/* B restarts (all link state lost, same key and address).  A, still
 * holding the old session, sends data that B cannot read; hearing nothing
 * back for 15 s it handshakes again, and traffic resumes well before the
 * 75 s dead timer. */
static void test_peer_restart(void **state)
{
	struct net *n = net_new(23);
	struct tnode *a = node_add(n, 1, NULL), *b = node_add(n, 2, NULL);
	struct link_config cfg = {0};

	(void)state;
	connect_nodes(a, b);
	run_for(n, 1000);
	link_mgr_free(b->m);
	cfg.node_sk = b->sk;
	cfg.rng = &b->rng;
	cfg.io.send = tsend;
	cfg.io.self = b;
	cfg.cb.established_cb = on_est;
	cfg.cb.message_cb = on_msg;
	cfg.cb.closed_cb = on_closed;
	cfg.cb.arg = b;
	assert_int_equal(link_mgr_new(&b->m, &cfg), 0);
	b->deadline = UINT64_MAX;
	b->established = 0;
	for (uint32_t i = 0; i < 20; i++) {
		assert_int_equal(send_seq(a, b, i, 20), 0);
		run_for(n, 1000);
	}
	assert_int_equal(b->established, 1);
	assert_true(b->seen[19] == 1);
	assert_true(b->seen[0] == 0);
	assert_true(stat_of(b).drop[LINK_DROP_UNKNOWN] >= 10);
	assert_int_equal(a->closed, 0);
	assert_int_equal(a->established, 1); /* a rekey for A */
	net_free(n);
}

/* XX to a bare address: the key is learnt from the handshake, the link
 * then behaves like any other (data, rekeys with XK). */
static void test_xx(void **state)
{
	struct net *n = net_new(24);
	struct tnode *a = node_add(n, 1, NULL), *b = node_add(n, 2, NULL);
	static const uint8_t zero[32];

	(void)state;
	assert_int_equal(link_connect_addr(a->m, n->now, &b->addr), 0);
	node_tick(a);
	assert_int_equal(link_connect_addr(a->m, n->now, &b->addr), 0);
	run_for(n, 1000);
	assert_int_equal(a->established, 1);
	assert_int_equal(b->established, 1);
	assert_memory_equal(a->est_pk, b->pk, 32);
	assert_memory_equal(b->est_pk, a->pk, 32);
	assert_int_equal(stat_of(a).hs_init_out, 1);
	for (uint32_t i = 0; i < 300; i++) {
		assert_int_equal(send_seq(a, b, i, 20), 0);
		assert_int_equal(send_seq(b, a, i, 20), 0);
		run_for(n, 1000);
	}
	assert_int_equal(a->msgs, 300);
	assert_int_equal(b->msgs, 300);
	assert_true(stat_of(a).rekeys >= 2);
	/* Already linked to that address: nothing new. */
	assert_int_equal(link_connect_addr(a->m, n->now, &b->addr), 0);
	assert_int_equal(stat_of(a).handshakes_out, 0);
	/* Our own address: refused once the key shows. */
	assert_int_equal(link_connect_addr(a->m, n->now, &a->addr), 0);
	node_tick(a);
	run_for(n, 1000);
	assert_int_equal(a->closed, 1);
	assert_int_equal(a->last_close, LINK_CLOSE_SELF);
	assert_memory_equal(a->closed_pk, zero, 32);
	/* Abandoned before an answer: quietly gone. */
	{
		struct dht_addr far = mkaddr(97, 9);
		unsigned links = stat_of(a).links;

		assert_int_equal(link_connect_addr(a->m, n->now, &far), 0);
		assert_int_equal(stat_of(a).links, links + 1);
		assert_int_equal(link_close_addr(a->m, &far), 0);
		assert_int_equal(link_close_addr(a->m, &far), -ENOENT);
		assert_int_equal(stat_of(a).links, links);
		assert_int_equal(a->closed, 1);
	}
	/* Nobody there: closed after REKEY_ATTEMPT_TIME, key unknown. */
	assert_int_equal(
		link_connect_addr(a->m, n->now,
				  &(struct dht_addr){.family = 4,
						     .ip = {127, 0, 0, 99},
						     .port = 9}),
		0);
	node_tick(a);
	run_for(n, LINK_REKEY_ATTEMPT_TIME_MS + 1000);
	assert_int_equal(a->closed, 2);
	assert_int_equal(a->last_close, LINK_CLOSE_HANDSHAKE_TIMEOUT);
	assert_memory_equal(a->closed_pk, zero, 32);
	assert_int_equal(b->closed, 0);
	net_free(n);
}

/* XX to a node we already have a link with under another address: the
 * anonymous attempt ends quietly, the link stays and moves to the address
 * that answered. */
static void test_xx_duplicate(void **state)
{
	struct net *n = net_new(25);
	struct tnode *a = node_add(n, 1, NULL), *b = node_add(n, 2, NULL);
	struct dht_addr old = b->addr;

	(void)state;
	connect_nodes(a, b);
	run_for(n, 1000);
	b->addr = mkaddr(33, 4000); /* moved; A does not know yet */
	assert_int_equal(link_connect_addr(a->m, n->now, &b->addr), 0);
	node_tick(a);
	run_for(n, 1000);
	assert_int_equal(stat_of(a).drop[LINK_DROP_TIEBREAK], 1);
	assert_int_equal(stat_of(a).links, 1);
	assert_int_equal(a->established, 1);
	assert_int_equal(a->closed, 0);
	/* ... and now points at B's new address. */
	assert_int_equal(send_seq(a, b, 1, 20), 0);
	run_for(n, 100);
	assert_int_equal(b->msgs, 1);
	(void)old;
	net_free(n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_connect),
		cmocka_unit_test(test_retransmit),
		cmocka_unit_test(test_lost_final),
		cmocka_unit_test(test_handshake_timeout),
		cmocka_unit_test(test_lossy),
		cmocka_unit_test(test_replay),
		cmocka_unit_test(test_replay_handshake),
		cmocka_unit_test(test_tamper),
		cmocka_unit_test(test_window),
		cmocka_unit_test(test_roaming),
		cmocka_unit_test(test_reconnect_moved),
		cmocka_unit_test(test_simultaneous),
		cmocka_unit_test(test_idle_keepalive),
		cmocka_unit_test(test_passive_keepalive),
		cmocka_unit_test(test_dead),
		cmocka_unit_test(test_rekey_no_loss),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_flood),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_three),
		cmocka_unit_test(test_forged_resp),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_clock_back),
		cmocka_unit_test(test_converge),
		cmocka_unit_test(test_peer_restart),
		cmocka_unit_test(test_xx),
		cmocka_unit_test(test_xx_duplicate),
	};

	return cmocka_run_group_tests_name("link", tests, setup, NULL);
}
