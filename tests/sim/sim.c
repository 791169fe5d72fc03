/* The DHT simulator: see sim.h.  One event heap holds packets and node
 * deadlines, ordered by (at_ms, seq).  The simulator owns every node, their
 * rngs and keys; packets are copied into events when sent and freed when
 * delivered or dropped. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/box.h"
#include "crypto/cx.h"
#include "dht/wire.h"
#include "tests/sim/sim.h"

enum ev_kind {
	EV_KIND_PACKET = 0,
	EV_KIND_TICK,
};

struct sim_ev {
	uint64_t at_ms, seq;
	uint32_t node; /* destination */
	uint32_t from; /* source node index (packets) */
	uint8_t kind;  /* enum ev_kind */
	uint16_t len;
	uint8_t *pkt;
};

struct sim_node {
	struct sim *s;
	unsigned idx;
	struct dht *d;
	struct sim_rng rng;
	struct rng rng_if;
	struct dht_addr addr;
	uint8_t pk[CX_X_PK_LEN], sk[CX_X_SK_LEN], id[DHT_ID_LEN];
	uint64_t sched_at;
	uint8_t role;
	bool up;
	uint8_t group;
};

struct sim {
	uint64_t seed, now, seq;
	struct sim_config cfg;
	struct sim_rng rng;
	struct sim_node *nodes;
	unsigned n;
	struct sim_ev *heap;
	size_t nheap, heap_cap;
	bool partitioned;
	unsigned *sorted; /* node indices by ID */
	unsigned *sybils; /* Sybil indices by ID */
	unsigned nsybils;
	struct sim_stats st;
};

/* --- rng --- */

static uint64_t splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void sim_rng_seed(struct sim_rng *r, uint64_t seed, uint64_t stream)
{
	uint64_t x = seed ^ (stream * 0xd1342543de82ef95ull);

	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix(&x);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t sim_rng_next(struct sim_rng *r)
{
	uint64_t *s = r->s;
	uint64_t out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return out;
}

uint64_t sim_rng_below(struct sim_rng *r, uint64_t n)
{
	return n == 0 ? 0 : sim_rng_next(r) % n;
}

void sim_rng_fill(void *self, uint8_t *buf, size_t len)
{
	struct sim_rng *r = self;

	while (len > 0) {
		uint64_t v = sim_rng_next(r);
		size_t n = len < 8 ? len : 8;

		memcpy(buf, &v, n);
		buf += n;
		len -= n;
	}
}

uint64_t sim_pick_seed(uint64_t dflt, bool quiet)
{
	const char *env = getenv("SIM_SEED");
	uint64_t seed = dflt;

	if (env != NULL && *env != '\0')
		seed = strtoull(env, NULL, 0);
	if (!quiet) {
		printf("# SIM_SEED=%" PRIu64 "\n", seed);
		fflush(stdout);
	}
	return seed;
}

/* libsodium's randomness, replayable: randombytes_set_implementation()
 * with a generator seeded from the run's seed. */
static struct sim_rng sodium_rng;

static const char *sodium_impl_name(void)
{
	return "parley-sim";
}

static uint32_t sodium_impl_random(void)
{
	return (uint32_t)sim_rng_next(&sodium_rng);
}

static void sodium_impl_buf(void *buf, size_t len)
{
	sim_rng_fill(&sodium_rng, buf, len);
}

static struct randombytes_implementation sodium_impl = {
	.implementation_name = sodium_impl_name,
	.random = sodium_impl_random,
	.buf = sodium_impl_buf,
};

void sim_sodium_seed(uint64_t seed)
{
	sim_rng_seed(&sodium_rng, seed, 0xffffffffull);
	randombytes_set_implementation(&sodium_impl);
}

/* --- event heap --- */

static bool ev_before(const struct sim_ev *a, const struct sim_ev *b)
{
	if (a->at_ms != b->at_ms)
		return a->at_ms < b->at_ms;
	return a->seq < b->seq; /* insertion order, never pointer order */
}

static int heap_push(struct sim *s, struct sim_ev *e)
{
	size_t i;

	if (s->nheap == s->heap_cap) {
		size_t cap = s->heap_cap ? s->heap_cap * 2 : 1024;
		struct sim_ev *h = realloc(s->heap, cap * sizeof *h);

		if (h == NULL)
			return -ENOMEM;
		s->heap = h;
		s->heap_cap = cap;
	}
	e->seq = s->seq++;
	i = s->nheap++;
	while (i > 0) {
		size_t p = (i - 1) / 2;

		if (!ev_before(e, &s->heap[p]))
			break;
		s->heap[i] = s->heap[p];
		i = p;
	}
	s->heap[i] = *e;
	return 0;
}

static void heap_pop(struct sim *s, struct sim_ev *out)
{
	struct sim_ev last;
	size_t i = 0;

	*out = s->heap[0];
	last = s->heap[--s->nheap];
	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= s->nheap)
			break;
		if (c + 1 < s->nheap && ev_before(&s->heap[c + 1], &s->heap[c]))
			c++;
		if (!ev_before(&s->heap[c], &last))
			break;
		s->heap[i] = s->heap[c];
		i = c;
	}
	if (s->nheap > 0)
		s->heap[i] = last;
}

/* --- addresses: node i lives at 10+(i>>16).(i>>8).i.1 or fd00::i --- */

static void make_addr(unsigned i, bool v6, struct dht_addr *a)
{
	memset(a, 0, sizeof *a);
	a->port = 4000;
	if (v6) {
		a->family = DHT_FAMILY_IPV6;
		a->ip[0] = 0xfd;
		a->ip[1] = (uint8_t)(i >> 16);
		a->ip[2] = (uint8_t)(i >> 8);
		a->ip[3] = (uint8_t)i; /* one /48 per node */
		a->ip[15] = 1;
	} else {
		a->family = DHT_FAMILY_IPV4;
		a->ip[0] = (uint8_t)(10 + (i >> 16));
		a->ip[1] = (uint8_t)(i >> 8);
		a->ip[2] = (uint8_t)i;
		a->ip[3] = 1;
	}
}

static int addr_node(const struct sim *s, const struct dht_addr *a)
{
	unsigned i;

	if (a->port != 4000)
		return -1;
	if (a->family == DHT_FAMILY_IPV6) {
		if (a->ip[0] != 0xfd)
			return -1;
		i = (unsigned)a->ip[1] << 16 | (unsigned)a->ip[2] << 8 |
		    a->ip[3];
	} else {
		if (a->ip[0] < 10)
			return -1;
		i = (unsigned)(a->ip[0] - 10) << 16 | (unsigned)a->ip[1] << 8 |
		    a->ip[2];
	}
	if (i >= s->n || !dht__addr_equal(&s->nodes[i].addr, a))
		return -1;
	return (int)i;
}

/* --- links --- */

static uint64_t link_latency(struct sim *s, unsigned a, unsigned b)
{
	uint64_t x =
		s->seed ^ ((uint64_t)(a < b ? a : b) << 32) ^ (a < b ? b : a);
	unsigned span = s->cfg.lat_max_ms - s->cfg.lat_min_ms + 1;

	return s->cfg.lat_min_ms + splitmix(&x) % span;
}

static void schedule(struct sim_node *n, uint64_t at)
{
	struct sim_ev e = {0};

	if (at < n->s->now)
		at = n->s->now;
	if (at >= n->sched_at)
		return;
	n->sched_at = at;
	e.at_ms = at;
	e.node = n->idx;
	e.kind = EV_KIND_TICK;
	heap_push(n->s, &e);
}

static int node_send(void *self, const struct dht_addr *to, const uint8_t *pkt,
		     size_t len)
{
	struct sim_node *n = self;
	struct sim *s = n->s;
	struct sim_ev e = {0};
	int dst = addr_node(s, to);

	s->st.sent++;
	if (dst < 0)
		return 0; /* nobody there: a real socket would not know */
	if (s->cfg.loss > 0 &&
	    (double)sim_rng_next(&s->rng) / 18446744073709551616.0 <
		    s->cfg.loss) {
		s->st.lost++;
		return 0;
	}
	if (s->partitioned && s->nodes[dst].group != n->group) {
		s->st.lost++;
		return 0;
	}
	e.pkt = malloc(len);
	if (e.pkt == NULL)
		return -ENOMEM;
	memcpy(e.pkt, pkt, len);
	e.len = (uint16_t)len;
	e.kind = EV_KIND_PACKET;
	e.node = (uint32_t)dst;
	e.from = n->idx;
	e.at_ms = s->now + link_latency(s, n->idx, (unsigned)dst);
	if (s->cfg.jitter_ms > 0)
		e.at_ms += sim_rng_below(&s->rng, s->cfg.jitter_ms + 1);
	if (heap_push(s, &e) < 0) {
		free(e.pkt);
		return -ENOMEM;
	}
	return 0;
}

/* --- Sybils --- */

static const uint8_t *sybil_target;
static const struct sim *sybil_sim;

static int dist_cmp(const void *a, const void *b)
{
	const unsigned *x = a, *y = b;

	return dht_id_cmp_dist(sybil_target, sybil_sim->nodes[*x].id,
			       sybil_sim->nodes[*y].id);
}

static int id_cmp(const void *a, const void *b)
{
	const unsigned *x = a, *y = b;

	return memcmp(sybil_sim->nodes[*x].id, sybil_sim->nodes[*y].id,
		      DHT_ID_LEN);
}

/* Up to DHT_K Sybils near target: the neighbourhood of target in ID order,
 * sorted by XOR distance (close to exact; good enough for an attacker). */
static unsigned sybils_near(const struct sim *s, const uint8_t target[32],
			    unsigned *out)
{
	unsigned lo = 0, hi = s->nsybils, n = 0, from, to;
	unsigned tmp[4 * DHT_K];

	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;

		if (memcmp(s->nodes[s->sybils[mid]].id, target, 32) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	from = lo > 2 * DHT_K ? lo - 2 * DHT_K : 0;
	to = lo + 2 * DHT_K < s->nsybils ? lo + 2 * DHT_K : s->nsybils;
	for (unsigned i = from; i < to; i++)
		tmp[n++] = s->sybils[i];
	sybil_target = target;
	sybil_sim = s;
	qsort(tmp, n, sizeof tmp[0], dist_cmp);
	if (n > DHT_K)
		n = DHT_K;
	memcpy(out, tmp, n * sizeof *out);
	return n;
}

/* Answers one packet for Sybil node n.  Uses only the public wire codec and
 * crypto_box, as an attacker with its own implementation would. */
static void sybil_recv(struct sim *s, struct sim_node *n, unsigned from,
		       const uint8_t *pkt, size_t len)
{
	const uint8_t *spk, *nonce, *box;
	uint8_t plain[DHT_PLAIN_MAX], out[DHT_BODY_MAX];
	uint8_t k[CX_KEY_LEN], pktout[DHT_PKT_MAX];
	struct dht_buf o = {.p = out, .len = sizeof out};
	struct dht_buf hb;
	struct dht_msg_hdr h;
	struct dht_record rec;
	struct dht_body body;
	size_t box_len, plen;
	uint8_t type = 0;

	if (dht__outer_parse(pkt, len, &spk, &nonce, &box, &box_len) < 0)
		return;
	if (cx_box_shared(k, spk, n->sk) < 0 ||
	    cx_box_open(plain, box, box_len, nonce, k) < 0)
		return;
	plen = box_len - CX_BOX_MAC_LEN;
	if (dht__inner_parse(plain, plen, &h) < 0 ||
	    !dht_msg_is_request(h.type))
		return;
	memset(&body, 0, sizeof body);
	body.record = &rec;
	if (dht__body_parse(h.type, plain + DHT_INNER_HDR_LEN,
			    plen - DHT_INNER_HDR_LEN, &body) < 0)
		return;
	s->st.sybil_answers++;
	switch ((enum dht_msg)h.type) {
	case DHT_MSG_PING:
		type = DHT_MSG_PONG;
		dht__put_addr(&o, &s->nodes[from].addr);
		break;
	case DHT_MSG_FIND_VALUE:
		if (sim_rng_below(&n->rng, 2) == 0) {
			/* Lie: a record under the key with a bad signature. */
			memset(&rec, 0, sizeof rec);
			rec.kind = DHT_RECORD_KIND_GENERIC;
			rec.seq = UINT64_MAX;
			rec.expiry_s = s->now / 1000 + 3600;
			rec.value_len = 4;
			memcpy(rec.value, "lies", 4);
			type = DHT_MSG_VALUE;
			dht__put_bytes(&o, body.token, DHT_TOKEN_LEN);
			dht__put_record(&o, &rec);
			break;
		}
		/* fall through - else answer with its own kind */
	case DHT_MSG_FIND_NODE: {
		unsigned near[DHT_K], nn = sybils_near(s, body.target, near);

		type = DHT_MSG_NODES;
		dht__put_bytes(&o, body.token, DHT_TOKEN_LEN); /* any */
		dht__put_u8(&o, (uint8_t)nn);
		for (unsigned i = 0; i < nn; i++) {
			dht__put_bytes(&o, s->nodes[near[i]].pk, 32);
			dht__put_addr(&o, &s->nodes[near[i]].addr);
		}
		break;
	}
	case DHT_MSG_STORE:
		type = DHT_MSG_STORE_ACK; /* "stored", and dropped */
		dht__put_u8(&o, DHT_STORE_OK);
		break;
	case DHT_MSG_PONG:
	case DHT_MSG_NODES:
	case DHT_MSG_VALUE:
	case DHT_MSG_STORE_ACK:
		return;
	}
	/* Seal the reply. */
	hb = (struct dht_buf){.p = plain, .len = sizeof plain};
	dht__put_u8(&hb, type);
	dht__put_u8(&hb, 0);
	dht__put_u64(&hb, h.txid);
	dht__put_u64(&hb, s->now);
	dht__put_bytes(&hb, out, o.pos);
	pktout[0] = DHT_CLASS_SEALED;
	memcpy(pktout + 1, n->pk, 32);
	sim_rng_fill(&n->rng, pktout + 33, CX_BOX_NONCE_LEN);
	cx_box_seal(pktout + DHT_OUTER_LEN, plain, hb.pos, pktout + 33, k);
	cx_wipe(k, sizeof k);
	node_send(n, &s->nodes[from].addr, pktout,
		  DHT_OUTER_LEN + CX_BOX_MAC_LEN + hb.pos);
}

/* --- life cycle --- */

uint64_t sim_seed(const struct sim *s)
{
	return s->seed;
}

uint64_t sim_now(const struct sim *s)
{
	return s->now;
}

unsigned sim_num_nodes(const struct sim *s)
{
	return s->n;
}

struct dht *sim_dht(struct sim *s, unsigned i)
{
	return s->nodes[i].d;
}

enum sim_role sim_role(const struct sim *s, unsigned i)
{
	return (enum sim_role)s->nodes[i].role;
}

bool sim_is_up(const struct sim *s, unsigned i)
{
	return s->nodes[i].up;
}

const uint8_t *sim_node_id(const struct sim *s, unsigned i)
{
	return s->nodes[i].id;
}

const uint8_t *sim_node_pk(const struct sim *s, unsigned i)
{
	return s->nodes[i].pk;
}

void sim_node_addr(const struct sim *s, unsigned i, struct dht_addr *a)
{
	*a = s->nodes[i].addr;
}

void sim_touch(struct sim *s, unsigned i)
{
	struct sim_node *n = &s->nodes[i];

	if (n->d != NULL && n->up)
		schedule(n, dht_next_deadline(n->d));
}

int sim_new(struct sim **out, const struct sim_config *cfg)
{
	struct sim *s = calloc(1, sizeof *s);
	unsigned nsyb;

	*out = NULL;
	if (s == NULL)
		return -ENOMEM;
	s->cfg = *cfg;
	if (s->cfg.lat_max_ms == 0) {
		s->cfg.lat_min_ms = 10;
		s->cfg.lat_max_ms = 100;
		s->cfg.jitter_ms = 10;
	}
	if (s->cfg.lat_max_ms < s->cfg.lat_min_ms)
		s->cfg.lat_max_ms = s->cfg.lat_min_ms;
	s->seed = sim_pick_seed(cfg->seed, cfg->quiet);
	sim_rng_seed(&s->rng, s->seed, 0xfffffffeull);
	s->now = SIM_EPOCH_MS;
	s->n = cfg->num_nodes;
	s->nodes = calloc(s->n, sizeof *s->nodes);
	s->sorted = calloc(s->n, sizeof *s->sorted);
	nsyb = (unsigned)(cfg->sybil_fraction * s->n);
	s->sybils = calloc(nsyb + 1, sizeof *s->sybils);
	if (s->nodes == NULL || s->sorted == NULL || s->sybils == NULL)
		goto fail;
	for (unsigned i = 0; i < s->n; i++) {
		struct sim_node *n = &s->nodes[i];
		uint8_t seed[CX_BOX_SEED_LEN];
		struct dht_config dc = {0};

		n->s = s;
		n->idx = i;
		n->up = true;
		n->sched_at = UINT64_MAX;
		sim_rng_seed(&n->rng, s->seed, i);
		n->rng_if.fill = sim_rng_fill;
		n->rng_if.self = &n->rng;
		make_addr(i, cfg->ipv6_every != 0 && i % cfg->ipv6_every == 1,
			  &n->addr);
		sim_rng_fill(&n->rng, seed, sizeof seed);
		cx_box_keypair_seed(n->pk, n->sk, seed);
		cx_hash(n->id, n->pk, 32);
		s->sorted[i] = i;
		/* Sybils are spread evenly over the indices, never node 0. */
		if (nsyb > 0 && i > 0 &&
		    (uint64_t)i * nsyb / s->n !=
			    (uint64_t)(i - 1) * nsyb / s->n &&
		    s->nsybils < nsyb) {
			n->role = SIM_ROLE_SYBIL;
			s->sybils[s->nsybils++] = i;
			continue;
		}
		dc.node_pk = n->pk;
		dc.node_sk = n->sk;
		dc.rng = &n->rng_if;
		dc.io.send = node_send;
		dc.io.self = n;
		dc.limits = cfg->limits;
		if (dht_new(&n->d, &dc) < 0)
			goto fail;
	}
	sybil_sim = s;
	qsort(s->sorted, s->n, sizeof *s->sorted, id_cmp);
	qsort(s->sybils, s->nsybils, sizeof *s->sybils, id_cmp);
	*out = s;
	return 0;
fail:
	sim_free(s);
	return -ENOMEM;
}

void sim_free(struct sim *s)
{
	if (s == NULL)
		return;
	for (unsigned i = 0; s->nodes != NULL && i < s->n; i++) {
		dht_free(s->nodes[i].d);
		cx_wipe(s->nodes[i].sk, sizeof s->nodes[i].sk);
	}
	for (size_t i = 0; i < s->nheap; i++)
		free(s->heap[i].pkt);
	free(s->heap);
	free(s->nodes);
	free(s->sorted);
	free(s->sybils);
	free(s);
}

/* --- running --- */

static void run_one(struct sim *s)
{
	struct sim_ev e;
	struct sim_node *n;

	heap_pop(s, &e);
	s->now = e.at_ms;
	s->st.events++;
	n = &s->nodes[e.node];
	if (e.kind == EV_KIND_TICK) {
		if (e.at_ms != n->sched_at || !n->up || n->d == NULL)
			return;
		n->sched_at = UINT64_MAX;
		schedule(n, dht_tick(n->d, s->now));
		return;
	}
	if (!n->up || (s->partitioned && s->nodes[e.from].group != n->group)) {
		s->st.to_down++;
		free(e.pkt);
		return;
	}
	s->st.delivered++;
	if (n->role == SIM_ROLE_SYBIL) {
		sybil_recv(s, n, e.from, e.pkt, e.len);
	} else {
		dht_recv(n->d, s->now, &s->nodes[e.from].addr, e.pkt, e.len);
		schedule(n, dht_next_deadline(n->d));
	}
	free(e.pkt);
}

void sim_run_until(struct sim *s, uint64_t t)
{
	while (s->nheap > 0 && s->heap[0].at_ms <= t)
		run_one(s);
	if (s->now < t)
		s->now = t;
}

bool sim_run_while(struct sim *s, bool (*done)(void *arg), void *arg,
		   uint64_t t)
{
	while (!done(arg)) {
		if (s->nheap == 0 || s->heap[0].at_ms > t) {
			if (s->now < t)
				s->now = t;
			return done(arg);
		}
		run_one(s);
	}
	return true;
}

void sim_join_all(struct sim *s, uint64_t step_ms)
{
	struct dht_addr a0 = s->nodes[0].addr;

	for (unsigned i = 1; i < s->n; i++) {
		struct sim_node *n = &s->nodes[i];

		if (n->d == NULL || !n->up)
			continue;
		/* Every other node bootstraps from the address alone. */
		dht_bootstrap(n->d, s->now, &a0, i % 2 ? s->nodes[0].pk : NULL);
		sim_touch(s, i);
		sim_run_until(s, s->now + step_ms);
	}
}

/* [lo, hi) of s->sorted whose IDs share the first bits bits with id. */
static void prefix_range(const struct sim *s, const uint8_t id[32],
			 unsigned bits, unsigned *lo_out, unsigned *hi_out)
{
	uint8_t lo_id[32], hi_id[32];
	unsigned lo = 0, hi = s->n;

	for (unsigned i = 0; i < 32; i++) {
		unsigned have = bits > i * 8 ? bits - i * 8 : 0;
		uint8_t mask = have >= 8 ? 0xff : (uint8_t)(0xff00u >> have);

		lo_id[i] = id[i] & mask;
		hi_id[i] = (uint8_t)(id[i] | ~mask);
	}
	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;

		if (memcmp(s->nodes[s->sorted[mid]].id, lo_id, 32) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*lo_out = lo;
	hi = s->n;
	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;

		if (memcmp(s->nodes[s->sorted[mid]].id, hi_id, 32) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*hi_out = lo;
}

void sim_warm_start(struct sim *s)
{
	for (unsigned i = 0; i < s->n; i++) {
		struct sim_node *n = &s->nodes[i];

		if (n->d == NULL)
			continue;
		for (unsigned b = 0; b < 256; b++) {
			uint8_t x[32];
			unsigned lo, hi, cnt, lo2, hi2;

			prefix_range(s, n->id, b, &lo2, &hi2);
			if (hi2 - lo2 <= 1)
				break; /* nobody else shares b bits */
			memcpy(x, n->id, 32);
			x[b / 8] ^= (uint8_t)(0x80u >> (b % 8));
			prefix_range(s, x, b + 1, &lo, &hi);
			cnt = hi - lo;
			if (cnt <= DHT_K) {
				for (unsigned j = lo; j < hi; j++) {
					struct sim_node *m =
						&s->nodes[s->sorted[j]];

					dht_add_contact(n->d, s->now, m->pk,
							&m->addr);
				}
				continue;
			}
			for (unsigned t = 0; t < DHT_K * 2; t++) {
				struct sim_node *m =
					&s->nodes[s->sorted[lo +
							    sim_rng_below(
								    &s->rng,
								    cnt)]];

				dht_add_contact(n->d, s->now, m->pk, &m->addr);
			}
		}
		sim_touch(s, i);
	}
}

void sim_set_up(struct sim *s, unsigned i, bool up)
{
	s->nodes[i].up = up;
	if (up) {
		s->nodes[i].sched_at = UINT64_MAX;
		sim_touch(s, i);
	}
}

void sim_set_group(struct sim *s, unsigned i, unsigned group)
{
	s->nodes[i].group = (uint8_t)group;
}

void sim_partition(struct sim *s, bool on)
{
	s->partitioned = on;
}

void sim_set_loss(struct sim *s, double loss)
{
	s->cfg.loss = loss;
}

void sim_stats(const struct sim *s, struct sim_stats *st)
{
	*st = s->st;
}
