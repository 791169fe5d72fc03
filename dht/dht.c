/* The DHT node: routing table, shared-key cache, RPCs, iterative lookups and
 * record storage, all sans-I/O (DESIGN.md section 4, STYLE.md section 2).
 *
 * Ownership: struct dht owns everything it points at.  Buckets, stored
 * records and lookups are heap arrays bounded by struct dht_limits.  The
 * caller owns the rng (which must outlive the dht) and the I/O callbacks.
 * Nothing here keeps a pointer to a caller's packet or record after a call
 * returns.
 *
 * Flow: dht_recv() opens a sealed packet, answers requests at once and
 * hands replies to the pending request they match (by transaction id and
 * sender key).  Replies drive lookups forward; dht_tick() expires requests,
 * refreshes idle buckets, rotates token secrets, drops expired records and
 * republishes this node's own records.
 *
 * Kademlia (Maymounkov and Mazieres 2002) with the BEP 5 write tokens and
 * the BEP 44 record rules; disjoint lookups after S/Kademlia (Baumgart and
 * Mies 2007). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/box.h"
#include "crypto/cx.h"
#include "dht/dht.h"
#include "dht/wire.h"

#define NBUCKETS 64   /* cpl >= 63 shares the last bucket */
#define NONCE_RING 64 /* recent request nonces (replay filter) */
#define RATE_SLOTS 64 /* per-source token buckets */
#define BOOT_MAX 8    /* outstanding key requests */
#define TOKEN_ROTATE_MS (5 * 60 * 1000)
#define MAINT_MS (60 * 1000)	  /* housekeeping period when idle */
#define TTL_MAX_S (7 * 24 * 3600) /* farthest record expiry accepted */
#define SOFT_TIMEOUT_MIN_MS 250
#define CAND_PER_PATH 64
#define CAND_TRIES 2 /* sends per candidate (3 to the exact target) */
#define LOOKUP_QUERY_MAX_PER_PATH 120
#define STALE_MS (15 * 60 * 1000)
#define PINGS_MAX 16 /* verification pings in flight */
/* A write token is good for at least TOKEN_ROTATE_MS after it was issued
 * (the responder still accepts the previous secret), so one a contact gave
 * us is reused for this long; a STORE refused for its token asks again. */
#define TOKEN_REUSE_MS (4 * 60 * 1000)
#define TOKEN_CACHE 256 /* tokens kept, 4-way set associative by node ID */
#define TOKEN_WAYS 4
/* put: STOREs per path to head members whose place is not settled yet
 * (speculative: sent with a reused token, in parallel with FIND_NODE). */
#define SPECULATIVE_PER_PATH (2 * DHT_SETTLE)

struct contact {
	uint8_t id[DHT_ID_LEN];
	uint8_t pk[CX_X_PK_LEN];
	struct dht_addr addr;
	uint8_t fails;
	uint64_t last_seen_ms;
};

/* A write token a node gave us (tokens, below). */
struct tokent {
	uint8_t id[DHT_ID_LEN];
	uint8_t token[DHT_TOKEN_LEN];
	uint64_t ms; /* when it came; 0 = empty */
};

struct bucket {
	struct contact *c; /* DHT_K slots, allocated on first use */
	struct contact *r; /* replacement cache, limits.replacements slots */
	uint8_t n, nr, cap;
	uint64_t touched_ms; /* last time a lookup or refresh went here */
};

struct keyent {
	uint8_t pk[CX_X_PK_LEN];
	uint8_t k[CX_KEY_LEN];
	uint32_t used; /* LRU clock; 0 = empty */
};

enum cand_state {
	CAND_STATE_NEW = 0,
	CAND_STATE_WAIT,
	CAND_STATE_OK,
	CAND_STATE_FAIL,
};

struct cand {
	uint8_t id[DHT_ID_LEN];
	uint8_t pk[CX_X_PK_LEN];
	struct dht_addr addr;
	uint8_t state; /* enum cand_state */
	uint8_t path;
	uint8_t round;
	bool slow; /* past the soft timeout: no longer holds a slot */
	uint8_t tries;
	bool has_token;
	bool token_reused; /* token came from the routing table */
	bool store_reused; /* the STORE out carries a reused token */
	uint8_t store; /* enum cand_store, puts only */
	uint8_t token[DHT_TOKEN_LEN];
};

enum cand_store {
	CAND_STORE_NONE = 0,
	CAND_STORE_SENT,
	CAND_STORE_OK,	    /* acknowledged: stored, or already held */
	CAND_STORE_REFUSED, /* refused or timed out */
};

enum lookup_kind {
	LOOKUP_KIND_FIND_NODE = 0,
	LOOKUP_KIND_GET,
	LOOKUP_KIND_PUT,
	LOOKUP_KIND_REFRESH, /* internal, no callback */
};

struct lookup {
	bool used;
	uint16_t slot; /* index in d->lookups */
	uint32_t gen;
	uint8_t kind; /* enum lookup_kind */
	bool storing; /* put: search finished, last stores out */
	bool answered; /* the callback ran; the lookup goes on quietly */
	uint8_t target[DHT_ID_LEN];
	unsigned flags, npaths;
	struct dht_lookup_cb cb;
	struct cand *cands; /* sorted by distance to target */
	unsigned ncands, cap;
	unsigned queries, replies, path_queries[DHT_DISJOINT_D];
	unsigned answer_round;
	bool found;	/* get: a valid record is held (local or network) */
	bool net_found; /* get: one came from the network */
	struct dht_node_info node;
	struct dht_record *rec; /* get: best found; put: the record */
	bool has_rec;		/* put: rec is set (dht_put_commit) */
	unsigned stores_out, stored;
	unsigned speculative[DHT_DISJOINT_D]; /* put: per path */
};

struct pending {
	uint64_t txid;
	uint64_t sent_ms, deadline_ms, soft_ms;
	uint8_t pk[CX_X_PK_LEN];
	struct dht_addr addr;
	uint8_t type;
	uint16_t lookup; /* index + 1 into d->lookups, 0 = none */
	uint32_t gen;
	uint16_t cand;
};

struct stored {
	uint8_t key[DHT_ID_LEN];
	uint64_t seq, expiry_s;
	uint16_t len;
	uint8_t *enc; /* wire form of the record */
};

struct own {
	struct dht_record *rec;
	uint64_t next_ms;
};

struct boot {
	bool used;
	uint64_t cookie, deadline_ms;
	struct dht_addr addr;
};

struct rate {
	uint64_t last_ms;
	uint32_t milli_tokens;
};

struct dht {
	uint8_t id[DHT_ID_LEN];
	uint8_t pk[CX_X_PK_LEN];
	uint8_t sk[CX_X_SK_LEN];
	const struct rng *rng;
	struct dht_io io;
	struct dht_limits lim;

	struct bucket buckets[NBUCKETS];
	struct keyent *keys;
	uint32_t key_clock;
	struct tokent *tokens; /* TOKEN_CACHE, made on first use */

	struct pending *pend;
	unsigned npend, pend_cap;
	unsigned pings_out;

	struct lookup **lookups; /* lim.lookups_max slots, made on first use */
	uint32_t lookup_gen;

	struct stored *store;
	unsigned nstore, store_cap;
	size_t store_bytes;

	struct own *own;
	unsigned nown;

	struct boot boot[BOOT_MAX];

	uint8_t token_secret[2][16];
	uint64_t token_rotate_ms;

	uint64_t nonce_ring[NONCE_RING];
	unsigned nonce_pos;

	struct rate rate_all;
	struct rate rate_src[RATE_SLOTS];

	uint64_t srtt_ms; /* smoothed round-trip time, for soft timeouts */
	uint64_t last_now_ms;
	uint64_t maint_ms;
	bool in_callback;

	struct dht_status st;
};

/* --- IDs --- */

int dht_id_cmp_dist(const uint8_t target[static DHT_ID_LEN],
		    const uint8_t a[static DHT_ID_LEN],
		    const uint8_t b[static DHT_ID_LEN])
{
	for (unsigned i = 0; i < DHT_ID_LEN; i++) {
		uint8_t da = a[i] ^ target[i], db = b[i] ^ target[i];

		if (da != db)
			return da < db ? -1 : 1;
	}
	return 0;
}

unsigned dht_id_common_bits(const uint8_t a[static DHT_ID_LEN],
			    const uint8_t b[static DHT_ID_LEN])
{
	for (unsigned i = 0; i < DHT_ID_LEN; i++) {
		uint8_t x = a[i] ^ b[i];

		if (x != 0) {
			unsigned n = i * 8;

			while ((x & 0x80) == 0) {
				n++;
				x <<= 1;
			}
			return n;
		}
	}
	return DHT_ID_LEN * 8;
}

const uint8_t *dht_id(const struct dht *d)
{
	return d->id;
}

static unsigned bucket_index(const struct dht *d, const uint8_t id[32])
{
	unsigned cpl = dht_id_common_bits(d->id, id);

	return cpl >= NBUCKETS ? NBUCKETS - 1 : cpl;
}

static uint64_t rand_u64(struct dht *d)
{
	uint64_t v;

	rng_fill(d->rng, &v, sizeof v);
	return v;
}

/* A random ID that shares exactly cpl leading bits with ours. */
static void random_id_in_bucket(struct dht *d, unsigned cpl, uint8_t out[32])
{
	rng_fill(d->rng, out, DHT_ID_LEN);
	for (unsigned i = 0; i < cpl && i < 256; i++) {
		uint8_t m = (uint8_t)(0x80u >> (i % 8));

		out[i / 8] = (uint8_t)((out[i / 8] & ~m) | (d->id[i / 8] & m));
	}
	if (cpl < 256) {
		uint8_t m = (uint8_t)(0x80u >> (cpl % 8));

		out[cpl / 8] =
			(uint8_t)((out[cpl / 8] & ~m) | (~d->id[cpl / 8] & m));
	}
}

/* --- addresses --- */

/* /24 for IPv4, /48 for IPv6: the unit of the "2 per bucket" rule. */
static bool same_subnet(const struct dht_addr *a, const struct dht_addr *b)
{
	if (a->family != b->family)
		return false;
	if (a->family == DHT_FAMILY_IPV4)
		return memcmp(a->ip, b->ip, 3) == 0;
	return memcmp(a->ip, b->ip, 6) == 0;
}

static uint32_t subnet_hash(const struct dht_addr *a)
{
	size_t n = a->family == DHT_FAMILY_IPV4 ? 3 : 6;
	uint32_t h = 2166136261u ^ a->family;

	for (size_t i = 0; i < n; i++)
		h = (h ^ a->ip[i]) * 16777619u;
	return h;
}

/* --- shared-key cache --- */

/* Returns the cached crypto_box shared key with pk, computing it on a miss.
 * 4-way set associative, LRU within the set.  The cache lives in ordinary
 * heap memory, not sodium_malloc: guard pages per node would cost more than
 * the whole 64 KiB budget of a simulated node; it is wiped on free.  NULL
 * when pk is a low-order point. */
static const uint8_t *shared_key(struct dht *d, const uint8_t pk[32])
{
	unsigned sets = d->lim.key_cache / 4;
	uint32_t h = (uint32_t)pk[0] | (uint32_t)pk[1] << 8 |
		     (uint32_t)pk[2] << 16 | (uint32_t)pk[3] << 24;
	struct keyent *set = d->keys + (h % sets) * 4, *victim = set;

	d->key_clock++;
	for (unsigned i = 0; i < 4; i++) {
		if (set[i].used != 0 && memcmp(set[i].pk, pk, 32) == 0) {
			set[i].used = d->key_clock;
			d->st.key_cache_hits++;
			return set[i].k;
		}
		if (set[i].used < victim->used)
			victim = &set[i];
	}
	d->st.key_cache_misses++;
	if (cx_box_shared(victim->k, pk, d->sk) < 0) {
		victim->used = 0;
		return NULL;
	}
	memcpy(victim->pk, pk, 32);
	victim->used = d->key_clock;
	return victim->k;
}

/* --- routing table --- */

static struct contact *table_find(struct dht *d, const uint8_t id[32],
				  unsigned *bi)
{
	unsigned b = bucket_index(d, id);
	struct bucket *bk = &d->buckets[b];

	*bi = b;
	for (unsigned i = 0; i < bk->n; i++)
		if (memcmp(bk->c[i].id, id, 32) == 0)
			return &bk->c[i];
	return NULL;
}

static unsigned subnet_count(const struct bucket *bk, const struct dht_addr *a)
{
	unsigned n = 0;

	for (unsigned i = 0; i < bk->n; i++)
		if (same_subnet(&bk->c[i].addr, a))
			n++;
	return n;
}

static void contact_set(struct contact *c, const uint8_t id[32],
			const uint8_t pk[32], const struct dht_addr *a,
			uint64_t now_ms)
{
	memcpy(c->id, id, 32);
	memcpy(c->pk, pk, 32);
	c->addr = *a;
	c->fails = 0;
	c->last_seen_ms = now_ms;
}

/* Puts a contact in the replacement cache of bk (most recent last;
 * the oldest is dropped when full). */
static int repl_add(struct dht *d, struct bucket *bk, const uint8_t id[32],
		    const uint8_t pk[32], const struct dht_addr *a,
		    uint64_t now_ms)
{
	unsigned i;

	if (d->lim.replacements == 0)
		return -ENOSPC;
	if (bk->r == NULL) {
		bk->r = calloc(d->lim.replacements, sizeof *bk->r);
		if (bk->r == NULL)
			return -ENOMEM;
	}
	for (i = 0; i < bk->nr; i++)
		if (memcmp(bk->r[i].id, id, 32) == 0)
			break;
	if (i == bk->nr && bk->nr == d->lim.replacements)
		i = 0; /* drop the oldest */
	else if (i == bk->nr)
		bk->nr++;
	memmove(&bk->r[i], &bk->r[i + 1], (bk->nr - 1 - i) * sizeof *bk->r);
	contact_set(&bk->r[bk->nr - 1], id, pk, a, now_ms);
	return 0;
}

static void send_ping(struct dht *d, uint64_t now_ms, const uint8_t pk[32],
		      const struct dht_addr *a);

/* Records that a node was heard from (authenticated) at address a.  Known
 * contacts are refreshed; new ones enter the bucket when it has room and
 * the subnet rule allows, else the replacement cache, and then the stalest
 * contact of the bucket is pinged so a dead one can make way. */
static int table_seen(struct dht *d, uint64_t now_ms, const uint8_t id[32],
		      const uint8_t pk[32], const struct dht_addr *a,
		      bool verified)
{
	unsigned b;
	struct contact *c = table_find(d, id, &b);
	struct bucket *bk = &d->buckets[b];

	if (memcmp(id, d->id, 32) == 0 || !dht__addr_valid(a))
		return -EINVAL;
	if (c != NULL) {
		if (verified) {
			/* The key proves it is the same node; follow it
			 * to a new address. */
			c->addr = *a;
			c->fails = 0;
			if (now_ms > c->last_seen_ms)
				c->last_seen_ms = now_ms;
		}
		return 0;
	}
	if (bk->n < DHT_K && subnet_count(bk, a) < 2) {
		if (bk->n == bk->cap) {
			/* Grow 4, 8, 16, 20: deep buckets hold few. */
			unsigned cap = bk->cap ? bk->cap * 2u : 4u;
			struct contact *nc;

			if (cap > DHT_K)
				cap = DHT_K;
			nc = realloc(bk->c, cap * sizeof *nc);
			if (nc == NULL)
				return -ENOMEM;
			bk->c = nc;
			bk->cap = (uint8_t)cap;
		}
		if (bk->n == 0)
			bk->touched_ms = now_ms; /* refresh in refresh_ms */
		contact_set(&bk->c[bk->n++], id, pk, a, now_ms);
		if (bk->nr > 0) { /* it may have waited there */
			for (unsigned i = 0; i < bk->nr; i++) {
				if (memcmp(bk->r[i].id, id, 32) != 0)
					continue;
				memmove(&bk->r[i], &bk->r[i + 1],
					(bk->nr - 1 - i) * sizeof *bk->r);
				bk->nr--;
				break;
			}
		}
		return 0;
	}
	if (subnet_count(bk, a) >= 2)
		return -ENOSPC;
	if (repl_add(d, bk, id, pk, a, now_ms) < 0)
		return -ENOSPC;
	if (verified) {
		/* Check the stalest contact; on timeout it is replaced. */
		struct contact *old = &bk->c[0];

		for (unsigned i = 1; i < bk->n; i++)
			if (bk->c[i].last_seen_ms < old->last_seen_ms)
				old = &bk->c[i];
		if (now_ms - old->last_seen_ms > STALE_MS || old->fails > 0)
			send_ping(d, now_ms, old->pk, &old->addr);
	}
	return 0;
}

/* A request to id timed out: count it, and replace the contact by the
 * freshest replacement once it has failed twice (once when a
 * replacement is waiting). */
static void table_failed(struct dht *d, const uint8_t id[32])
{
	unsigned b;
	struct contact *c = table_find(d, id, &b);
	struct bucket *bk = &d->buckets[b];

	if (c == NULL)
		return;
	c->fails++;
	if (c->fails < 2 && bk->nr == 0)
		return;
	d->st.evictions++;
	if (bk->nr > 0) {
		*c = bk->r[--bk->nr];
		return;
	}
	*c = bk->c[--bk->n];
}

int dht_add_contact(struct dht *d, uint64_t now_ms, const uint8_t pk[32],
		    const struct dht_addr *addr)
{
	uint8_t id[DHT_ID_LEN];

	if (memcmp(pk, d->pk, 32) == 0 || !dht__addr_valid(addr))
		return -EINVAL;
	cx_hash(id, pk, 32);
	return table_seen(d, now_ms, id, pk, addr, false);
}

/* Up to max contacts nearest to target, nearest first.  Simple: gather the
 * buckets around the target's bucket outward, then sort. */
struct near {
	const struct contact *c;
};

/* qsort has no context argument; the DHT is single-threaded by contract
 * (one event loop drives it), so a file-scope target is safe. */
static const uint8_t *sort_target;

static int near_cmp(const void *a, const void *b)
{
	const struct near *x = a, *y = b;

	return dht_id_cmp_dist(sort_target, x->c->id, y->c->id);
}

static unsigned table_closest(const struct dht *d, const uint8_t target[32],
			      const struct contact **out, unsigned max)
{
	struct near tmp[NBUCKETS * DHT_K];
	unsigned n = 0;
	unsigned tb = dht_id_common_bits(d->id, target);

	if (tb >= NBUCKETS)
		tb = NBUCKETS - 1;
	/* Every contact in a bucket deeper than the target's is closer to the
	 * target than any in a shallower bucket, except the target's own
	 * bucket, which mixes; collect enough and sort. */
	for (unsigned b = tb; b < NBUCKETS; b++)
		for (unsigned i = 0; i < d->buckets[b].n; i++)
			tmp[n++].c = &d->buckets[b].c[i];
	for (int b = (int)tb - 1; b >= 0 && n < max; b--)
		for (unsigned i = 0; i < d->buckets[b].n; i++)
			tmp[n++].c = &d->buckets[b].c[i];
	sort_target = target;
	qsort(tmp, n, sizeof tmp[0], near_cmp);
	if (n > max)
		n = max;
	for (unsigned i = 0; i < n; i++)
		out[i] = tmp[i].c;
	return n;
}

void dht_foreach_contact(const struct dht *d,
			 void (*visit_cb)(void *arg,
					  const struct dht_node_info *n),
			 void *arg)
{
	struct dht_node_info ni;

	for (unsigned b = 0; b < NBUCKETS; b++) {
		for (unsigned i = 0; i < d->buckets[b].n; i++) {
			const struct contact *c = &d->buckets[b].c[i];

			memcpy(ni.id, c->id, 32);
			memcpy(ni.pk, c->pk, 32);
			ni.addr = c->addr;
			visit_cb(arg, &ni);
		}
	}
}

/* --- sending --- */

/* Seals plaintext type/flags/txid/body to the node with key pk and sends
 * it to a.  Returns 0 or a negative errno (the send error is counted
 * too). */
static int send_sealed(struct dht *d, uint64_t now_ms, const uint8_t pk[32],
		       const struct dht_addr *a, uint8_t type, uint8_t flags,
		       uint64_t txid, const uint8_t *body, size_t body_len)
{
	uint8_t pkt[DHT_PKT_MAX];
	uint8_t *plain = pkt + DHT_OUTER_LEN + CX_BOX_MAC_LEN;
	struct dht_buf b = {.p = plain, .len = DHT_PLAIN_MAX};
	const uint8_t *k;
	size_t len;
	int r;

	if (body_len > DHT_BODY_MAX)
		return -E2BIG;
	k = shared_key(d, pk);
	if (k == NULL)
		return -EKEYREJECTED;
	dht__put_u8(&b, type);
	dht__put_u8(&b, flags);
	dht__put_u64(&b, txid);
	dht__put_u64(&b, now_ms);
	dht__put_bytes(&b, body, body_len);
	pkt[0] = DHT_CLASS_SEALED;
	memcpy(pkt + 1, d->pk, CX_X_PK_LEN);
	rng_fill(d->rng, pkt + 1 + CX_X_PK_LEN, CX_BOX_NONCE_LEN);
	r = cx_box_seal(pkt + DHT_OUTER_LEN, plain, b.pos,
			pkt + 1 + CX_X_PK_LEN, k);
	if (r < 0)
		return r;
	len = DHT_OUTER_LEN + CX_BOX_MAC_LEN + b.pos;
	d->st.pkts_out++;
	d->st.bytes_out += len;
	r = d->io.send(d->io.self, a, pkt, len);
	if (r < 0)
		d->st.send_errors++;
	return r;
}

static struct pending *pending_add(struct dht *d)
{
	if (d->npend == d->pend_cap) {
		unsigned cap = d->pend_cap ? d->pend_cap * 2 : 8;
		struct pending *p;

		if (d->pend_cap >= d->lim.pending_max)
			return NULL;
		if (cap > d->lim.pending_max)
			cap = d->lim.pending_max;
		p = realloc(d->pend, cap * sizeof *p);
		if (p == NULL)
			return NULL;
		d->pend = p;
		d->pend_cap = cap;
	}
	memset(&d->pend[d->npend], 0, sizeof d->pend[0]);
	return &d->pend[d->npend++];
}

static void pending_del(struct dht *d, struct pending *p)
{
	if (p->type == DHT_MSG_PING && p->lookup == 0 && d->pings_out > 0)
		d->pings_out--;
	*p = d->pend[--d->npend];
}

static uint64_t soft_timeout(const struct dht *d)
{
	uint64_t t = d->srtt_ms * 3;

	if (t < SOFT_TIMEOUT_MIN_MS)
		t = SOFT_TIMEOUT_MIN_MS;
	if (t > d->lim.rpc_timeout_ms)
		t = d->lim.rpc_timeout_ms;
	return t;
}

/* Sends a request and records it as pending.  Returns the pending entry or
 * NULL (table full, send failed). */
static struct pending *request(struct dht *d, uint64_t now_ms,
			       const uint8_t pk[32], const struct dht_addr *a,
			       uint8_t type, const uint8_t *body,
			       size_t body_len)
{
	struct pending *p = pending_add(d);

	if (p == NULL)
		return NULL;
	p->txid = rand_u64(d);
	p->sent_ms = now_ms;
	p->deadline_ms = now_ms + d->lim.rpc_timeout_ms;
	p->soft_ms = now_ms + soft_timeout(d);
	memcpy(p->pk, pk, 32);
	p->addr = *a;
	p->type = type;
	/* A PING asks for a write token: a later put may use it
	 * (token_find) instead of asking FIND_NODE first. */
	if (send_sealed(d, now_ms, pk, a, type,
			type == DHT_MSG_PING ? DHT_FLAG_WANT_TOKEN : 0, p->txid,
			body, body_len) < 0) {
		d->npend--;
		return NULL;
	}
	return p;
}

static void send_ping(struct dht *d, uint64_t now_ms, const uint8_t pk[32],
		      const struct dht_addr *a)
{
	if (d->pings_out >= PINGS_MAX)
		return;
	for (unsigned i = 0; i < d->npend; i++)
		if (d->pend[i].type == DHT_MSG_PING &&
		    memcmp(d->pend[i].pk, pk, 32) == 0)
			return;
	if (request(d, now_ms, pk, a, DHT_MSG_PING, NULL, 0) != NULL)
		d->pings_out++;
}

/* --- tokens (BEP 5: "the token is bound to the requester's IP") --- */

static void make_token(const struct dht *d, unsigned which,
		       const struct dht_addr *a, const uint8_t pk[32],
		       uint8_t out[DHT_TOKEN_LEN])
{
	uint8_t m[16 + 1 + 16 + 32], h[CX_HASH_LEN];

	memcpy(m, d->token_secret[which], 16);
	m[16] = a->family;
	memcpy(m + 17, a->ip, 16);
	memcpy(m + 33, pk, 32);
	cx_hash(h, m, sizeof m);
	memcpy(out, h, DHT_TOKEN_LEN);
	cx_wipe(m, sizeof m);
}

static bool token_ok(const struct dht *d, const struct dht_addr *a,
		     const uint8_t pk[32], const uint8_t tok[DHT_TOKEN_LEN])
{
	uint8_t t[DHT_TOKEN_LEN];

	for (unsigned w = 0; w < 2; w++) {
		make_token(d, w, a, pk, t);
		if (cx_equal(t, tok, DHT_TOKEN_LEN))
			return true;
	}
	return false;
}

/* --- record storage --- */

static struct stored *store_find(struct dht *d, const uint8_t key[32])
{
	for (unsigned i = 0; i < d->nstore; i++)
		if (memcmp(d->store[i].key, key, 32) == 0)
			return &d->store[i];
	return NULL;
}

static void store_del(struct dht *d, struct stored *s)
{
	d->store_bytes -= s->len;
	free(s->enc);
	*s = d->store[--d->nstore];
}

static bool record_time_ok(const struct dht_record *r, uint64_t now_ms)
{
	uint64_t now_s = now_ms / 1000;

	return r->expiry_s > now_s && r->expiry_s - now_s <= TTL_MAX_S;
}

/* Stores a verified record for others (BEP 44: "the sequence number ...
 * must be greater than the one stored").  When full, a record whose key is
 * closer to us than the farthest stored one evicts that one, so the
 * records we are responsible for win.  A record not newer than the one
 * stored is refused before its signature is checked: it could change
 * nothing, and every republish and repeated STORE would cost a
 * verification (the most expensive step) for nothing. */
static enum dht_store_status store_put(struct dht *d, uint64_t now_ms,
				       const struct dht_record *r)
{
	uint8_t key[DHT_ID_LEN];
	size_t len = dht__record_len(r);
	struct stored *s;
	uint8_t *enc;
	struct dht_buf b;

	if (!record_time_ok(r, now_ms))
		return DHT_STORE_INVALID;
	dht_record_key(key, r);
	s = store_find(d, key);
	if (s != NULL && r->seq <= s->seq)
		return DHT_STORE_OLD_SEQ;
	if (dht_record_verify(r) < 0)
		return DHT_STORE_INVALID;
	if (s == NULL) {
		while (d->nstore >= d->lim.records_max ||
		       d->store_bytes + len > d->lim.record_bytes_max) {
			struct stored *far = NULL;

			for (unsigned i = 0; i < d->nstore; i++)
				if (far == NULL ||
				    dht_id_cmp_dist(d->id, d->store[i].key,
						    far->key) > 0)
					far = &d->store[i];
			if (far == NULL ||
			    dht_id_cmp_dist(d->id, key, far->key) >= 0)
				return DHT_STORE_FULL;
			store_del(d, far);
		}
	} else if (d->store_bytes - s->len + len > d->lim.record_bytes_max) {
		return DHT_STORE_FULL;
	}
	enc = malloc(len);
	if (enc == NULL)
		return DHT_STORE_FULL;
	b = (struct dht_buf){.p = enc, .len = len};
	dht__put_record(&b, r);
	if (s == NULL) {
		if (d->nstore == d->store_cap) {
			unsigned cap = d->store_cap ? d->store_cap * 2 : 4;
			struct stored *ns = realloc(d->store, cap * sizeof *ns);

			if (ns == NULL) {
				free(enc);
				return DHT_STORE_FULL;
			}
			d->store = ns;
			d->store_cap = cap;
		}
		s = &d->store[d->nstore++];
		memcpy(s->key, key, 32);
	} else {
		d->store_bytes -= s->len;
		free(s->enc);
	}
	s->enc = enc;
	s->len = (uint16_t)len;
	s->seq = r->seq;
	s->expiry_s = r->expiry_s;
	d->store_bytes += len;
	return DHT_STORE_OK;
}

static int stored_decode(const struct stored *s, struct dht_record *out)
{
	struct dht_buf b = {.p = s->enc, .len = s->len};

	return dht__get_record(&b, out);
}

int dht_record_lookup_local(const struct dht *d,
			    const uint8_t key[static DHT_ID_LEN],
			    struct dht_record *out)
{
	for (unsigned i = 0; i < d->nstore; i++)
		if (memcmp(d->store[i].key, key, 32) == 0)
			return stored_decode(&d->store[i], out);
	return -ENOENT;
}

static void store_expire(struct dht *d, uint64_t now_ms)
{
	for (unsigned i = 0; i < d->nstore;) {
		if (d->store[i].expiry_s <= now_ms / 1000)
			store_del(d, &d->store[i]);
		else
			i++;
	}
}

/* --- lookups --- */

/* Adds a candidate in distance order; a node already present (in any path)
 * is ignored, so disjoint paths never share a node.  When the list is full
 * a closer newcomer evicts the farthest unqueried candidate.  Returns the
 * new candidate, or NULL when nothing was added. */
static struct cand *cand_add(struct lookup *l, const uint8_t id[32],
			     const uint8_t pk[32], const struct dht_addr *a,
			     unsigned path, unsigned round)
{
	unsigned pos = l->ncands;

	for (unsigned i = 0; i < l->ncands; i++)
		if (memcmp(l->cands[i].id, id, 32) == 0)
			return NULL;
	for (unsigned i = 0; i < l->ncands; i++) {
		if (dht_id_cmp_dist(l->target, id, l->cands[i].id) < 0) {
			pos = i;
			break;
		}
	}
	if (l->ncands == l->cap) {
		int victim = -1;

		for (int i = (int)l->ncands - 1; i >= (int)pos; i--) {
			if (l->cands[i].state == CAND_STATE_NEW) {
				victim = i;
				break;
			}
		}
		/* Failed nodes are dead weight: drop the farthest. */
		for (int i = (int)l->ncands - 1; i >= 0 && victim < 0; i--)
			if (l->cands[i].state == CAND_STATE_FAIL)
				victim = i;
		if (victim < 0)
			return NULL;
		if ((unsigned)victim < pos)
			pos--;
		memmove(&l->cands[victim], &l->cands[victim + 1],
			(l->ncands - 1 - (unsigned)victim) * sizeof *l->cands);
		l->ncands--;
	}
	memmove(&l->cands[pos + 1], &l->cands[pos],
		(l->ncands - pos) * sizeof *l->cands);
	memset(&l->cands[pos], 0, sizeof l->cands[pos]);
	memcpy(l->cands[pos].id, id, 32);
	memcpy(l->cands[pos].pk, pk, 32);
	l->cands[pos].addr = *a;
	l->cands[pos].path = (uint8_t)path;
	l->cands[pos].round = (uint8_t)(round > 255 ? 255 : round);
	l->cands[pos].state = CAND_STATE_NEW;
	l->ncands++;
	return &l->cands[pos];
}

/* The tokens nodes gave us recently, in a cache by ID (any node that
 * answered, not only routing-table contacts: the k closest to a key are
 * often not in our table).  The slot of node id: its own, else (when
 * add) the oldest of its set, else NULL. */
static struct tokent *token_slot(struct dht *d, const uint8_t id[32],
				 bool add)
{
	struct tokent *set, *old;

	if (d->tokens == NULL)
		return NULL;
	set = &d->tokens[((unsigned)id[0] << 8 | id[1]) %
			 (TOKEN_CACHE / TOKEN_WAYS) * TOKEN_WAYS];
	old = &set[0];
	for (unsigned w = 0; w < TOKEN_WAYS; w++) {
		if (set[w].ms != 0 && memcmp(set[w].id, id, 32) == 0)
			return &set[w];
		if (set[w].ms < old->ms)
			old = &set[w];
	}
	return add ? old : NULL;
}

/* The write token node id gave us in the last TOKEN_REUSE_MS (BEP 5
 * tokens stay valid for a while), or NULL. */
static const uint8_t *token_find(struct dht *d, uint64_t now_ms,
				  const uint8_t id[32])
{
	const struct tokent *t = token_slot(d, id, false);

	if (t == NULL || now_ms < t->ms || now_ms - t->ms >= TOKEN_REUSE_MS)
		return NULL;
	return t->token;
}

/* put: a new candidate starts with the token its contact gave us
 * recently, so a STORE needs no FIND_NODE first. */
static void cand_reuse_token(struct dht *d, uint64_t now_ms,
			     const struct lookup *l, struct cand *c)
{
	const uint8_t *tok;

	if (c == NULL || l->kind != LOOKUP_KIND_PUT ||
	    (tok = token_find(d, now_ms, c->id)) == NULL)
		return;
	memcpy(c->token, tok, DHT_TOKEN_LEN);
	c->has_token = true;
	c->token_reused = true;
}

/* Keeps the token of a NODES, VALUE or PONG reply (the newest wins its
 * slot).  Without memory for the cache, tokens are just not kept. */
static void token_note(struct dht *d, uint64_t now_ms,
			     const uint8_t id[32],
			     const uint8_t tok[DHT_TOKEN_LEN])
{
	struct tokent *t;

	if (d->tokens == NULL)
		d->tokens = calloc(TOKEN_CACHE, sizeof *d->tokens);
	if ((t = token_slot(d, id, true)) == NULL)
		return;
	memcpy(t->id, id, 32);
	memcpy(t->token, tok, DHT_TOKEN_LEN);
	t->ms = now_ms == 0 ? 1 : now_ms;
}

/* A reused token was refused: forget it. */
static void token_drop(struct dht *d, const uint8_t id[32])
{
	struct tokent *t = token_slot(d, id, false);

	if (t != NULL)
		t->ms = 0;
}

static struct cand *cand_by_pk(struct lookup *l, const uint8_t pk[32])
{
	for (unsigned i = 0; i < l->ncands; i++)
		if (memcmp(l->cands[i].pk, pk, 32) == 0)
			return &l->cands[i];
	return NULL;
}

static unsigned lookup_index(const struct dht *d, const struct lookup *l)
{
	(void)d;
	return l->slot;
}

static bool query_cand(struct dht *d, uint64_t now_ms, struct lookup *l,
		       struct cand *c)
{
	uint8_t body[DHT_ID_LEN + 8];
	struct dht_buf b = {.p = body, .len = sizeof body};
	uint8_t type = DHT_MSG_FIND_NODE;
	struct pending *p;

	dht__put_bytes(&b, l->target, DHT_ID_LEN);
	if (l->kind == LOOKUP_KIND_GET) {
		type = DHT_MSG_FIND_VALUE;
		dht__put_u64(&b, 0);
	}
	l->queries++;
	l->path_queries[c->path]++;
	c->tries++;
	c->slow = false;
	p = request(d, now_ms, c->pk, &c->addr, type, body, b.pos);
	if (p == NULL) {
		c->state = CAND_STATE_FAIL;
		return false;
	}
	p->lookup = (uint16_t)(lookup_index(d, l) + 1);
	p->gen = l->gen;
	c->state = CAND_STATE_WAIT;
	return true;
}

static void lookup_finish(struct dht *d, struct lookup *l, int status);
static void lookup_answer(struct dht *d, struct lookup *l);

/* The head of path p: its first DHT_SETTLE candidates, nearest first,
 * leaving out failed ones and ones past their soft timeout (which no longer
 * hold a lookup up). */
struct head {
	unsigned n;    /* members found (fewer in a small network) */
	bool answered; /* every member answered */
	bool storing;  /* a STORE to a member is out */
	bool acked;    /* every member acknowledged our STORE */
};

static struct head path_head(const struct lookup *l, unsigned p)
{
	struct head h = {0, true, false, true};

	for (unsigned i = 0; i < l->ncands && h.n < DHT_SETTLE; i++) {
		const struct cand *c = &l->cands[i];

		if (c->path != p || c->state == CAND_STATE_FAIL)
			continue;
		if (c->state == CAND_STATE_WAIT && c->slow)
			continue;
		h.n++;
		if (c->state != CAND_STATE_OK)
			h.answered = false;
		if (c->store == CAND_STORE_SENT)
			h.storing = true;
		if (c->store != CAND_STORE_OK)
			h.acked = false;
	}
	return h;
}

/* The head of path p is settled when all its members answered.  Each of
 * them listed its own closest nodes to the target and none of those was
 * nearer (it would stand ahead, unanswered), so they are the closest
 * responsive nodes the network knows of.  With acked, each must also have
 * acknowledged our STORE. */
static bool path_settled(const struct lookup *l, unsigned p, bool acked)
{
	struct head h = path_head(l, p);

	return h.n == DHT_SETTLE && h.answered && (!acked || h.acked);
}

static bool lookup_settled(const struct lookup *l, bool acked)
{
	for (unsigned p = 0; p < l->npaths; p++)
		if (!path_settled(l, p, acked))
			return false;
	return true;
}

/* put: one STORE, with the token c gave us. */
static void put_store(struct dht *d, uint64_t now_ms, struct lookup *l,
		      struct cand *c)
{
	uint8_t body[DHT_TOKEN_LEN + DHT_RECORD_MAX_LEN];
	struct dht_buf b = {.p = body, .len = sizeof body};
	struct pending *p;

	c->store = CAND_STORE_REFUSED;
	if (!c->has_token)
		return;
	dht__put_bytes(&b, c->token, DHT_TOKEN_LEN);
	dht__put_record(&b, l->rec);
	if (b.err)
		return;
	l->queries++;
	p = request(d, now_ms, c->pk, &c->addr, DHT_MSG_STORE, body, b.pos);
	if (p == NULL)
		return;
	p->lookup = (uint16_t)(lookup_index(d, l) + 1);
	p->gen = l->gen;
	c->store = CAND_STORE_SENT;
	c->store_reused = c->token_reused;
	l->stores_out++;
}

/* put: a candidate that got a STORE with a reused token is not asked
 * FIND_NODE unless it is in the head (whose answers settle the search):
 * the acknowledgement shows it is alive, and the token was the reason to
 * ask.  seen counts the path's candidates up to and including c. */
static bool cand_needs_query(const struct cand *c, unsigned seen)
{
	return c->state == CAND_STATE_NEW &&
	       (c->store == CAND_STORE_NONE || seen <= DHT_SETTLE);
}

/* put: sends the STORE to each candidate of a path's k-wide window
 *   - whose place is settled: it answered, and so did every nearer one
 *     (failed and slow ones, and ones stored on with a reused token,
 *     aside), so the stores to the nearest nodes go out while the search
 *     still runs farther out;
 *   - that holds a reused token (token_find), once the caller was
 *     answered (before, the head's STOREs and acknowledgements must not
 *     queue behind these on a loaded host): no FIND_NODE is needed for
 *     it;
 *   - that holds a reused token and is in the head, at most
 *     SPECULATIVE_PER_PATH per path: the STORE goes with the FIND_NODE,
 *     so the put can answer one round trip earlier.
 * final (the search is over): to the first k candidates that answered or
 * hold a token.  A candidate gets one STORE at most (one more if a reused
 * token was refused), so a put's stores are bounded by its candidates. */
static void put_send_stores(struct dht *d, uint64_t now_ms, struct lookup *l,
			    bool final)
{
	for (unsigned p = 0; p < l->npaths; p++) {
		bool settled = true;
		unsigned seen = 0;

		for (unsigned i = 0; i < l->ncands && seen < DHT_K; i++) {
			struct cand *c = &l->cands[i];
			bool ok = c->state == CAND_STATE_OK;

			if (c->path != p || c->state == CAND_STATE_FAIL)
				continue;
			if (final && !ok && !c->has_token &&
			    c->store == CAND_STORE_NONE)
				continue;
			seen++;
			if (c->store == CAND_STORE_NONE) {
				if (ok && (settled || final))
					put_store(d, now_ms, l, c);
				else if (c->has_token &&
					 (l->answered || final))
					put_store(d, now_ms, l, c);
				else if (c->has_token && seen <= DHT_SETTLE &&
					 l->speculative[p] <
						 SPECULATIVE_PER_PATH) {
					l->speculative[p]++;
					put_store(d, now_ms, l, c);
				}
			}
			if (!ok && !(c->state == CAND_STATE_WAIT && c->slow) &&
			    cand_needs_query(c, seen))
				settled = false;
		}
	}
}

/* put: some path's head still has a member to ask, an answer to wait for
 * or a STORE out.  Until it has not, the search stays within the head, so
 * what the caller waits for does not queue behind the rest of the k
 * closest (on a loaded host every request costs the others CPU). */
static bool head_busy(const struct lookup *l)
{
	for (unsigned p = 0; p < l->npaths; p++) {
		struct head h = path_head(l, p);

		if (!h.answered || h.storing)
			return true;
	}
	return false;
}

static void lookup_step(struct dht *d, uint64_t now_ms, struct lookup *l);

/* put: answers the caller once the settled head of every path has
 * acknowledged the record; then goes on searching and storing (the head
 * no longer holds the window), and ends once the search is over and no
 * STORE is out any more. */
static void put_progress(struct dht *d, uint64_t now_ms, struct lookup *l)
{
	if (!l->has_rec)
		return; /* dht_put_begin: stores wait for the record */
	if (!l->answered && lookup_settled(l, true))
		lookup_answer(d, l);
	if (!l->used)
		return;
	if (!l->storing)
		lookup_step(d, now_ms, l);
	else if (l->stores_out == 0)
		lookup_finish(d, l, 0);
}

/* Advances every path: keeps DHT_ALPHA queries in flight among the k
 * closest candidates of the path that have not failed ("adaptive": a query
 * past its soft timeout frees its slot but may still answer).  A path is
 * done when its k closest live candidates have all answered.  A get that
 * holds a valid record ends earlier, as soon as the head of every path is
 * settled (path_settled): the nodes that would hold a newer record are the
 * ones a put stores on first and waits for. */
static void lookup_step(struct dht *d, uint64_t now_ms, struct lookup *l)
{
	unsigned window = DHT_K;
	bool all_done = true;

	if (!l->used || l->storing)
		return;
	if (l->kind == LOOKUP_KIND_GET && l->found) {
		if (lookup_settled(l, false)) {
			lookup_finish(d, l, 0);
			return;
		}
		/* Only the head is still needed. */
		if (!(l->flags & DHT_GET_FIRST))
			window = DHT_SETTLE;
	}
	if (l->kind == LOOKUP_KIND_PUT && l->has_rec) {
		/* The head's acknowledgements may have come before its
		 * answers (a STORE with a reused token goes with the
		 * FIND_NODE): answer as soon as both are in. */
		if (!l->answered && lookup_settled(l, true)) {
			lookup_answer(d, l);
			if (!l->used)
				return;
		}
		/* Stores first: they are what the caller waits for. */
		put_send_stores(d, now_ms, l, false);
		if (!l->answered && head_busy(l))
			window = DHT_SETTLE;
	}
	for (unsigned p = 0; p < l->npaths; p++) {
		unsigned seen = 0, inflight = 0, waiting = 0;

		for (unsigned i = 0; i < l->ncands; i++) {
			struct cand *c = &l->cands[i];

			if (c->path != p || c->state == CAND_STATE_FAIL)
				continue;
			if (c->state == CAND_STATE_WAIT) {
				waiting++;
				if (!c->slow)
					inflight++;
			}
		}
		for (unsigned i = 0; i < l->ncands && seen < window; i++) {
			struct cand *c = &l->cands[i];

			if (c->path != p || c->state == CAND_STATE_FAIL)
				continue;
			if (window < DHT_K && c->state == CAND_STATE_WAIT &&
			    c->slow)
				continue; /* not part of the head */
			seen++;
			if (!cand_needs_query(c, seen))
				continue;
			if (inflight >= DHT_ALPHA ||
			    l->path_queries[p] >= LOOKUP_QUERY_MAX_PER_PATH)
				break;
			if (query_cand(d, now_ms, l, c)) {
				inflight++;
				waiting++;
			}
		}
		if (waiting > 0)
			all_done = false;
		else {
			/* No query out; anything NEW left in reach? */
			seen = 0;
			for (unsigned i = 0; i < l->ncands && seen < DHT_K;
			     i++) {
				struct cand *c = &l->cands[i];

				if (c->path != p || c->state == CAND_STATE_FAIL)
					continue;
				seen++;
				if (cand_needs_query(c, seen) &&
				    l->path_queries[p] <
					    LOOKUP_QUERY_MAX_PER_PATH)
					all_done = false;
			}
		}
	}
	if (l->kind == LOOKUP_KIND_PUT) {
		if (all_done) {
			if (l->has_rec)
				put_send_stores(d, now_ms, l, true);
			l->storing = true;
			put_progress(d, now_ms, l);
		}
		return;
	}
	if (!all_done)
		return;
	lookup_finish(d, l,
		      l->kind == LOOKUP_KIND_REFRESH || l->found ? 0 : -ENOENT);
}

static struct lookup *lookup_start(struct dht *d, uint64_t now_ms,
				   enum lookup_kind kind,
				   const uint8_t target[32], unsigned flags,
				   struct dht_lookup_cb cb, int *err);

/* After the lookup of our own ID during a join: look up a random ID in
 * every bucket shallower than the deepest non-empty one that is not full
 * (Kademlia section 2.3, "refreshes all k-buckets further away than its
 * closest neighbor"). */
static void join_refresh(struct dht *d, uint64_t now_ms)
{
	unsigned deepest = 0;

	for (unsigned b = 0; b < NBUCKETS; b++)
		if (d->buckets[b].n > 0)
			deepest = b;
	for (unsigned b = 0; b < deepest; b++) {
		uint8_t target[DHT_ID_LEN];
		struct lookup *l;
		int r;

		if (d->buckets[b].n >= DHT_K)
			continue;
		random_id_in_bucket(d, b, target);
		l = lookup_start(d, now_ms, LOOKUP_KIND_REFRESH, target, 0,
				 (struct dht_lookup_cb){0}, &r);
		if (l == NULL)
			return;
		lookup_step(d, now_ms, l);
	}
}

/* Calls l's callback with its result so far. */
static void lookup_report(const struct lookup *l, int status)
{
	struct dht_node_info closest[DHT_K];
	struct dht_result res;
	unsigned n = 0;

	memset(&res, 0, sizeof res);
	for (unsigned i = 0; i < l->ncands && n < DHT_K; i++) {
		if (l->cands[i].state != CAND_STATE_OK)
			continue;
		memcpy(closest[n].id, l->cands[i].id, 32);
		memcpy(closest[n].pk, l->cands[i].pk, 32);
		closest[n].addr = l->cands[i].addr;
		n++;
	}
	res.status = status;
	res.rounds = l->answer_round;
	res.queries = l->queries;
	res.replies = l->replies;
	res.node = l->node;
	res.record = l->kind == LOOKUP_KIND_GET && l->found ? l->rec : NULL;
	res.stored = l->stored;
	res.closest = closest;
	res.num_closest = n;
	if (l->kind == LOOKUP_KIND_PUT)
		res.status = l->stored > 0 ? 0 : -ETIMEDOUT;
	l->cb.done_cb(l->cb.arg, &res);
}

/* put: answers the caller while the lookup goes on storing on the rest of
 * the k closest; lookup_finish() then ends it without a second call. */
static void lookup_answer(struct dht *d, struct lookup *l)
{
	(void)d;
	l->answered = true;
	if (l->cb.done_cb != NULL)
		lookup_report(l, 0);
}

/* Completes a lookup: the slot is released before the callback runs, so the
 * callback may start new lookups; the result points into a detached copy
 * freed afterwards. */
static void lookup_finish(struct dht *d, struct lookup *l, int status)
{
	struct lookup done = *l;

	l->used = false;
	l->cands = NULL;
	l->rec = NULL;

	if (status == 0 || (done.kind == LOOKUP_KIND_PUT && done.stored > 0))
		d->st.lookups_done++;
	else
		d->st.lookups_failed++;
	if (done.kind != LOOKUP_KIND_REFRESH && done.cb.done_cb != NULL &&
	    !done.answered)
		lookup_report(&done, status);
	free(done.cands);
	free(done.rec);
	if (done.kind == LOOKUP_KIND_REFRESH &&
	    memcmp(done.target, d->id, 32) == 0)
		join_refresh(d, d->last_now_ms);
}

/* Starts a lookup seeded from the routing table (and an extra node, for
 * bootstrap).  Returns the lookup or NULL with *err set. */
static struct lookup *lookup_start(struct dht *d, uint64_t now_ms,
				   enum lookup_kind kind,
				   const uint8_t target[32], unsigned flags,
				   struct dht_lookup_cb cb, int *err)
{
	/* Twice k per path: when the closest contacts are dead, the next
	 * ones move into the k-wide window instead of the lookup dying. */
	const struct contact *seed[DHT_DISJOINT_D * DHT_K * 2];
	struct lookup *l = NULL;
	unsigned nseed;

	for (unsigned i = 0; i < d->lim.lookups_max; i++) {
		if (d->lookups[i] == NULL) {
			d->lookups[i] = calloc(1, sizeof *d->lookups[i]);
			if (d->lookups[i] == NULL) {
				*err = -ENOMEM;
				return NULL;
			}
		}
		if (!d->lookups[i]->used) {
			l = d->lookups[i];
			l->slot = (uint16_t)i;
			break;
		}
	}
	if (l == NULL) {
		*err = -ENOSPC;
		return NULL;
	}
	{
		uint16_t slot = l->slot;

		memset(l, 0, sizeof *l);
		l->slot = slot;
	}
	l->npaths = (flags & DHT_LOOKUP_DISJOINT) ? DHT_DISJOINT_D : 1;
	l->cap = l->npaths * CAND_PER_PATH;
	l->cands = calloc(l->cap, sizeof *l->cands);
	if (l->cands == NULL) {
		*err = -ENOMEM;
		return NULL;
	}
	l->used = true;
	l->gen = ++d->lookup_gen;
	l->kind = (uint8_t)kind;
	l->flags = flags;
	l->cb = cb;
	memcpy(l->target, target, 32);
	d->buckets[bucket_index(d, target)].touched_ms = now_ms;
	nseed = table_closest(d, target, seed, l->npaths * DHT_K * 2);
	for (unsigned i = 0; i < nseed; i++)
		cand_reuse_token(d, now_ms, l,
				 cand_add(l, seed[i]->id, seed[i]->pk,
					  &seed[i]->addr, i % l->npaths, 1));
	*err = 0;
	return l;
}

/* A lookup reply from candidate c: NODES adds candidates to c's path (one
 * round further), VALUE may complete a get. */
static void lookup_on_nodes(struct dht *d, uint64_t now_ms, struct lookup *l,
			    struct cand *c, const struct dht_body *body)
{
	unsigned path = c->path, round = c->round + 1u;

	for (unsigned i = 0; i < body->num_nodes; i++) {
		uint8_t id[DHT_ID_LEN];
		const struct dht_wire_node *n = &body->nodes[i];

		if (memcmp(n->pk, d->pk, 32) == 0)
			continue;
		cx_hash(id, n->pk, 32);
		if (l->kind == LOOKUP_KIND_FIND_NODE && l->answer_round == 0 &&
		    memcmp(id, l->target, 32) == 0)
			l->answer_round = c->round;
		cand_reuse_token(d, now_ms, l,
				 cand_add(l, id, n->pk, &n->addr, path, round));
		{
			/* Grow the table: verify nodes for buckets with
			 * room (they enter when they answer). */
			unsigned b = bucket_index(d, id);
			struct bucket *bk = &d->buckets[b];
			unsigned tb;

			if (bk->n < DHT_K && table_find(d, id, &tb) == NULL &&
			    subnet_count(bk, &n->addr) < 2)
				send_ping(d, now_ms, n->pk, &n->addr);
		}
	}
}

/* --- lookups: public API --- */

/* The newest unexpired record under key that this node holds: stored for
 * others, or its own (kept for republishing).  0 or -ENOENT. */
static int local_record(struct dht *d, uint64_t now_ms,
			const uint8_t key[DHT_ID_LEN], struct dht_record *out)
{
	const struct stored *s = store_find(d, key);
	uint8_t k2[DHT_ID_LEN];
	bool found = false;

	if (s != NULL && s->expiry_s > now_ms / 1000 &&
	    stored_decode(s, out) == 0)
		found = true;
	for (unsigned i = 0; i < d->nown; i++) {
		const struct dht_record *o = d->own[i].rec;

		if (!record_time_ok(o, now_ms))
			continue;
		dht_record_key(k2, o);
		if (memcmp(k2, key, DHT_ID_LEN) == 0 &&
		    (!found || o->seq > out->seq)) {
			*out = *o;
			found = true;
		}
	}
	return found ? 0 : -ENOENT;
}

int dht_find_node(struct dht *d, uint64_t now_ms,
		  const uint8_t target[static DHT_ID_LEN], unsigned flags,
		  struct dht_lookup_cb cb)
{
	struct lookup *l;
	int r;

	if (cb.done_cb == NULL)
		return -EINVAL;
	l = lookup_start(d, now_ms, LOOKUP_KIND_FIND_NODE, target, flags, cb,
			 &r);
	if (l == NULL)
		return r;
	lookup_step(d, now_ms, l);
	return 0;
}

int dht_get(struct dht *d, uint64_t now_ms,
	    const uint8_t key[static DHT_ID_LEN], unsigned flags,
	    struct dht_lookup_cb cb)
{
	struct lookup *l;
	int r;

	if (cb.done_cb == NULL)
		return -EINVAL;
	l = lookup_start(d, now_ms, LOOKUP_KIND_GET, key, flags, cb, &r);
	if (l == NULL)
		return r;
	l->rec = malloc(sizeof *l->rec);
	if (l->rec == NULL) {
		free(l->cands);
		l->cands = NULL;
		l->used = false;
		return -ENOMEM;
	}
	/* A copy this node holds (stored for others, or its own) is part of
	 * the answer; the network is asked all the same. */
	l->found = local_record(d, now_ms, key, l->rec) == 0;
	lookup_step(d, now_ms, l);
	return 0;
}

/* Starts a put lookup for key; rec (NULL: it comes with dht_put_commit) is
 * copied. */
static struct lookup *put_start(struct dht *d, uint64_t now_ms,
				const uint8_t key[DHT_ID_LEN],
				const struct dht_record *rec, unsigned flags,
				struct dht_lookup_cb cb, int *err)
{
	struct lookup *l;

	l = lookup_start(d, now_ms, LOOKUP_KIND_PUT, key, flags, cb, err);
	if (l == NULL)
		return NULL;
	l->rec = malloc(sizeof *l->rec);
	if (l->rec == NULL) {
		free(l->cands);
		l->cands = NULL;
		l->used = false;
		*err = -ENOMEM;
		return NULL;
	}
	if (rec != NULL) {
		*l->rec = *rec;
		l->has_rec = true;
	}
	lookup_step(d, now_ms, l);
	return l;
}

/* Keeps rec for republishing: one entry per key, a higher seq replaces. */
static int own_keep(struct dht *d, uint64_t now_ms,
		    const struct dht_record *rec)
{
	uint8_t key[DHT_ID_LEN], k2[DHT_ID_LEN];
	struct own *o = NULL;

	dht_record_key(key, rec);
	for (unsigned i = 0; i < d->nown; i++) {
		dht_record_key(k2, d->own[i].rec);
		if (memcmp(key, k2, 32) == 0) {
			o = &d->own[i];
			break;
		}
	}
	if (o == NULL) {
		if (d->nown >= d->lim.own_records_max)
			return -ENOSPC;
		o = &d->own[d->nown];
		o->rec = malloc(sizeof *o->rec);
		if (o->rec == NULL)
			return -ENOMEM;
		d->nown++;
	} else if (rec->seq < o->rec->seq) {
		return -EINVAL;
	}
	*o->rec = *rec;
	o->next_ms = now_ms + d->lim.republish_ms;
	return 0;
}

int dht_put(struct dht *d, uint64_t now_ms, const struct dht_record *rec,
	    unsigned flags, struct dht_lookup_cb cb)
{
	uint8_t key[DHT_ID_LEN];
	int r;

	if (cb.done_cb == NULL || !record_time_ok(rec, now_ms))
		return -EINVAL;
	if ((r = dht_record_verify(rec)) < 0)
		return r;
	if ((flags & DHT_PUT_REPUBLISH) && (r = own_keep(d, now_ms, rec)) < 0)
		return r;
	dht_record_key(key, rec);
	return put_start(d, now_ms, key, rec, flags, cb, &r) != NULL ? 0 : r;
}

/* A handle names a lookup slot and its generation, so a stale handle (the
 * slot reused since) is refused. */
static struct lookup *put_by_handle(struct dht *d, uint64_t handle)
{
	uint64_t slot = handle & 0xffff;
	struct lookup *l;

	if (slot >= d->lim.lookups_max)
		return NULL;
	l = d->lookups[slot];
	if (l == NULL || !l->used || l->gen != (uint32_t)(handle >> 16) ||
	    l->kind != LOOKUP_KIND_PUT || l->has_rec)
		return NULL;
	return l;
}

int dht_put_begin(struct dht *d, uint64_t now_ms,
		  const uint8_t key[static DHT_ID_LEN], unsigned flags,
		  struct dht_lookup_cb cb, uint64_t *handle)
{
	struct lookup *l;
	int r;

	if (cb.done_cb == NULL || handle == NULL)
		return -EINVAL;
	l = put_start(d, now_ms, key, NULL, flags, cb, &r);
	if (l == NULL)
		return r;
	*handle = (uint64_t)l->gen << 16 | l->slot;
	return 0;
}

void dht_put_abort(struct dht *d, uint64_t handle)
{
	struct lookup *l = put_by_handle(d, handle);

	if (l == NULL)
		return;
	l->answered = true; /* no callback */
	lookup_finish(d, l, -ECANCELED);
}

int dht_put_commit(struct dht *d, uint64_t now_ms, uint64_t handle,
		   const struct dht_record *rec)
{
	struct lookup *l = put_by_handle(d, handle);
	uint8_t key[DHT_ID_LEN];
	int r = -EINVAL;

	if (l == NULL)
		return -EINVAL;
	if (rec == NULL || !record_time_ok(rec, now_ms))
		goto fail;
	dht_record_key(key, rec);
	if (memcmp(key, l->target, DHT_ID_LEN) != 0 ||
	    (r = dht_record_verify(rec)) < 0)
		goto fail;
	if ((l->flags & DHT_PUT_REPUBLISH) &&
	    (r = own_keep(d, now_ms, rec)) < 0)
		goto fail;
	*l->rec = *rec;
	l->has_rec = true;
	if (now_ms > d->last_now_ms)
		d->last_now_ms = now_ms;
	put_send_stores(d, now_ms, l, l->storing);
	put_progress(d, now_ms, l);
	return 0;
fail:
	dht_put_abort(d, handle);
	return r;
}

/* --- receiving --- */

static bool rate_take(struct rate *r, uint64_t now_ms, unsigned per_s,
		      unsigned burst)
{
	uint64_t cap = (uint64_t)burst * 1000;
	uint64_t t = r->milli_tokens;

	if (r->last_ms == 0 || now_ms < r->last_ms) {
		t = cap;
	} else {
		t += (now_ms - r->last_ms) * per_s;
		if (t > cap)
			t = cap;
	}
	r->last_ms = now_ms;
	if (t < 1000) {
		r->milli_tokens = (uint32_t)t;
		return false;
	}
	r->milli_tokens = (uint32_t)(t - 1000);
	return true;
}

/* Replay filter for requests: the sender's clock must be within
 * DHT_SKEW_MAX_MS of ours, and the nonce must not be among the last
 * NONCE_RING seen.  FIXME: a request replayed more than NONCE_RING
 * requests later but within the skew window is answered again; requests
 * are idempotent (a store with an equal seq is refused), so the cost is
 * one reply. */
static bool replayed(struct dht *d, uint64_t now_ms, uint64_t sent_ms,
		     const uint8_t nonce[CX_BOX_NONCE_LEN])
{
	uint64_t tag;

	if (sent_ms + DHT_SKEW_MAX_MS < now_ms ||
	    sent_ms > now_ms + DHT_SKEW_MAX_MS)
		return true;
	memcpy(&tag, nonce, sizeof tag);
	for (unsigned i = 0; i < NONCE_RING; i++)
		if (d->nonce_ring[i] == tag)
			return true;
	d->nonce_ring[d->nonce_pos] = tag;
	d->nonce_pos = (d->nonce_pos + 1) % NONCE_RING;
	return false;
}

static void answer(struct dht *d, uint64_t now_ms, const uint8_t pk[32],
		   const uint8_t id[32], const struct dht_addr *from,
		   const struct dht_msg_hdr *h, const struct dht_body *body)
{
	uint8_t out[DHT_BODY_MAX];
	struct dht_buf b = {.p = out, .len = sizeof out};
	uint8_t type = 0;

	switch ((enum dht_msg)h->type) {
	case DHT_MSG_PING:
		type = DHT_MSG_PONG;
		dht__put_addr(&b, from);
		if (h->flags & DHT_FLAG_WANT_TOKEN) {
			uint8_t tok[DHT_TOKEN_LEN];

			make_token(d, 0, from, pk, tok);
			dht__put_bytes(&b, tok, DHT_TOKEN_LEN);
		}
		break;
	case DHT_MSG_FIND_VALUE: {
		struct stored *s = store_find(d, body->target);

		if (s != NULL && s->seq >= body->min_seq &&
		    s->expiry_s > now_ms / 1000) {
			uint8_t tok[DHT_TOKEN_LEN];

			make_token(d, 0, from, pk, tok);
			type = DHT_MSG_VALUE;
			dht__put_bytes(&b, tok, DHT_TOKEN_LEN);
			dht__put_bytes(&b, s->enc, s->len);
			break;
		}
	}
		/* fall through - no value, answer with nodes */
	case DHT_MSG_FIND_NODE: {
		const struct contact *c[DHT_K];
		uint8_t tok[DHT_TOKEN_LEN];
		unsigned n = table_closest(d, body->target, c, DHT_K);

		type = DHT_MSG_NODES;
		make_token(d, 0, from, pk, tok);
		dht__put_bytes(&b, tok, DHT_TOKEN_LEN);
		dht__put_u8(&b, (uint8_t)n);
		for (unsigned i = 0; i < n; i++) {
			dht__put_bytes(&b, c[i]->pk, 32);
			dht__put_addr(&b, &c[i]->addr);
		}
		break;
	}
	case DHT_MSG_STORE: {
		enum dht_store_status s;

		type = DHT_MSG_STORE_ACK;
		if (!token_ok(d, from, pk, body->token)) {
			d->st.drop_bad_token++;
			s = DHT_STORE_BAD_TOKEN;
		} else {
			s = store_put(d, now_ms, body->record);
		}
		if (s == DHT_STORE_OK)
			d->st.stores_accepted++;
		else
			d->st.stores_rejected++;
		if (s == DHT_STORE_INVALID)
			d->st.drop_bad_record++;
		dht__put_u8(&b, (uint8_t)s);
		break;
	}
	case DHT_MSG_PONG:
	case DHT_MSG_NODES:
	case DHT_MSG_VALUE:
	case DHT_MSG_STORE_ACK:
		return; /* replies are not answered */
	}
	(void)id;
	if (!b.err)
		send_sealed(d, now_ms, pk, from, type, 0, h->txid, out, b.pos);
}

static bool reply_matches(uint8_t req, uint8_t rep)
{
	switch ((enum dht_msg)req) {
	case DHT_MSG_PING:
		return rep == DHT_MSG_PONG;
	case DHT_MSG_FIND_NODE:
		return rep == DHT_MSG_NODES;
	case DHT_MSG_FIND_VALUE:
		return rep == DHT_MSG_NODES || rep == DHT_MSG_VALUE;
	case DHT_MSG_STORE:
		return rep == DHT_MSG_STORE_ACK;
	case DHT_MSG_PONG:
	case DHT_MSG_NODES:
	case DHT_MSG_VALUE:
	case DHT_MSG_STORE_ACK:
		return false;
	}
	return false;
}

/* A matched reply for lookup slot li (generation gen). */
static void lookup_on_reply(struct dht *d, uint64_t now_ms, unsigned li,
			    uint32_t gen, const uint8_t pk[32],
			    const uint8_t id[32], uint8_t type,
			    const struct dht_body *body)
{
	struct lookup *l;
	struct cand *c;

	if (li == 0 || li > d->lim.lookups_max)
		return;
	l = d->lookups[li - 1];
	if (l == NULL || !l->used || l->gen != gen)
		return; /* the lookup ended; the reply still fed the table */
	c = cand_by_pk(l, pk);
	if (c == NULL)
		return;
	l->replies++;
	if (type == DHT_MSG_STORE_ACK) {
		if (c->store != CAND_STORE_SENT)
			return;
		if (l->stores_out > 0)
			l->stores_out--;
		c->store = CAND_STORE_REFUSED;
		if (body->status == DHT_STORE_BAD_TOKEN && c->store_reused) {
			/* The reused token is too old: forget it, and ask
			 * the node (FIND_NODE) for a fresh one. */
			token_drop(d, c->id);
			if (c->token_reused)
				c->has_token = c->token_reused = false;
			c->store = CAND_STORE_NONE;
			c->store_reused = false;
		}
		if (body->status == DHT_STORE_OK ||
		    body->status == DHT_STORE_OLD_SEQ) {
			c->store = CAND_STORE_OK;
			l->stored++;
		}
		put_progress(d, now_ms, l);
		return;
	}
	c->state = CAND_STATE_OK;
	if (type == DHT_MSG_NODES || type == DHT_MSG_VALUE) {
		memcpy(c->token, body->token, DHT_TOKEN_LEN);
		c->has_token = true;
		c->token_reused = false;
	}
	if (l->kind == LOOKUP_KIND_FIND_NODE &&
	    memcmp(id, l->target, 32) == 0) {
		/* The target itself answered: found and authenticated. */
		memcpy(l->node.id, id, 32);
		memcpy(l->node.pk, pk, 32);
		l->node.addr = c->addr;
		if (l->answer_round == 0 && c->round > 1)
			l->answer_round = c->round - 1u;
		l->found = true;
		lookup_finish(d, l, 0);
		return;
	}
	if (type == DHT_MSG_VALUE) {
		uint8_t key[DHT_ID_LEN];
		const struct dht_record *r = body->record;

		dht_record_key(key, r);
		if (l->kind != LOOKUP_KIND_GET ||
		    memcmp(key, l->target, 32) != 0 ||
		    !record_time_ok(r, now_ms)) {
			d->st.drop_bad_record++;
		} else if (l->net_found && r->seq <= l->rec->seq) {
			/* Not newer than the record held, so it cannot change
			 * the answer: its signature is not checked (one
			 * verification costs more CPU than a round trip on a
			 * LAN, and every holder sends a copy). */
		} else if (dht_record_verify(r) < 0) {
			d->st.drop_bad_record++;
		} else {
			/* BEP 44: keep the highest sequence number seen. */
			if (!l->found || r->seq > l->rec->seq)
				*l->rec = *r;
			if (!l->net_found)
				l->answer_round = c->round;
			l->found = l->net_found = true;
			if (l->flags & DHT_GET_FIRST) {
				lookup_finish(d, l, 0);
				return;
			}
		}
	} else if (type == DHT_MSG_NODES) {
		lookup_on_nodes(d, now_ms, l, c, body);
	}
	lookup_step(d, now_ms, l);
}

static int recv_keyx(struct dht *d, uint64_t now_ms,
		     const struct dht_addr *from, const uint8_t *pkt,
		     size_t len);

int dht_recv(struct dht *d, uint64_t now_ms, const struct dht_addr *from,
	     const uint8_t *pkt, size_t len)
{
	uint8_t plain[DHT_PLAIN_MAX];
	struct dht_record rec;
	struct dht_body body;
	struct dht_msg_hdr h;
	const uint8_t *spk, *nonce, *box, *k;
	uint8_t sid[DHT_ID_LEN];
	size_t box_len, plain_len;
	int r;

	if (now_ms > d->last_now_ms)
		d->last_now_ms = now_ms;
	d->st.pkts_in++;
	d->st.bytes_in += len;
	if (from == NULL || !dht__addr_valid(from)) {
		d->st.drop_malformed++;
		return -EINVAL;
	}
	if (len > DHT_PKT_MAX) {
		d->st.drop_big++;
		return -E2BIG;
	}
	if (len < 1) {
		d->st.drop_short++;
		return -EBADMSG;
	}
	if (pkt[0] == DHT_CLASS_KEYREQ || pkt[0] == DHT_CLASS_KEYRESP)
		return recv_keyx(d, now_ms, from, pkt, len);
	if (pkt[0] != DHT_CLASS_SEALED) {
		d->st.drop_version++;
		return -EBADMSG;
	}
	if ((r = dht__outer_parse(pkt, len, &spk, &nonce, &box, &box_len)) <
	    0) {
		d->st.drop_short++;
		return r;
	}
	if (memcmp(spk, d->pk, 32) == 0) {
		d->st.drop_auth++;
		return -EKEYREJECTED;
	}
	k = shared_key(d, spk);
	plain_len = box_len - CX_BOX_MAC_LEN;
	if (k == NULL || cx_box_open(plain, box, box_len, nonce, k) < 0) {
		d->st.drop_auth++;
		return -EKEYREJECTED;
	}
	if ((r = dht__inner_parse(plain, plain_len, &h)) < 0) {
		d->st.drop_malformed++;
		return r;
	}
	memset(&body, 0, sizeof body);
	body.record = &rec;
	if (dht_msg_is_request(h.type)) {
		if (replayed(d, now_ms, h.time_ms, nonce)) {
			d->st.drop_replay++;
			return -EBADMSG;
		}
		if (!rate_take(&d->rate_all, now_ms, d->lim.rate_per_s,
			       d->lim.rate_burst) ||
		    !rate_take(&d->rate_src[subnet_hash(from) % RATE_SLOTS],
			       now_ms, d->lim.rate_per_src_s,
			       d->lim.rate_per_src_s * 2)) {
			d->st.drop_rate++;
			return -EAGAIN;
		}
	}
	if ((r = dht__body_parse(h.type, plain + DHT_INNER_HDR_LEN,
				 plain_len - DHT_INNER_HDR_LEN, &body)) < 0) {
		d->st.drop_malformed++;
		return -EBADMSG;
	}
	cx_hash(sid, spk, 32);
	if (dht_msg_is_request(h.type)) {
		table_seen(d, now_ms, sid, spk, from, true);
		answer(d, now_ms, spk, sid, from, &h, &body);
		return 0;
	}
	/* A reply: it must match an outstanding request to this key. */
	for (unsigned i = 0; i < d->npend; i++) {
		struct pending *p = &d->pend[i];
		unsigned li;
		uint32_t gen;
		uint64_t rtt;

		if (p->txid != h.txid || memcmp(p->pk, spk, 32) != 0)
			continue;
		if (!reply_matches(p->type, h.type))
			break;
		li = p->lookup;
		gen = p->gen;
		rtt = now_ms >= p->sent_ms ? now_ms - p->sent_ms : 0;
		d->srtt_ms = d->srtt_ms == 0 ? rtt : (d->srtt_ms * 7 + rtt) / 8;
		pending_del(d, p);
		table_seen(d, now_ms, sid, spk, from, true);
		if (body.has_token) /* NODES, VALUE, PONG */
			token_note(d, now_ms, sid, body.token);
		lookup_on_reply(d, now_ms, li, gen, spk, sid, h.type, &body);
		return 0;
	}
	d->st.drop_unmatched++;
	return -ENOENT;
}

/* --- bootstrap from an address alone --- */

static void start_self_lookup(struct dht *d, uint64_t now_ms,
			      const uint8_t pk[32], const struct dht_addr *a)
{
	struct lookup *l;
	uint8_t id[DHT_ID_LEN];
	int r;

	l = lookup_start(d, now_ms, LOOKUP_KIND_REFRESH, d->id, 0,
			 (struct dht_lookup_cb){0}, &r);
	if (l == NULL)
		return;
	if (pk != NULL && memcmp(pk, d->pk, 32) != 0) {
		cx_hash(id, pk, 32);
		cand_add(l, id, pk, a, 0, 1);
	}
	/* Bucket refreshes follow from dht_tick(): every bucket starts
	 * "untouched", so the join fills the table in the next ticks. */
	lookup_step(d, now_ms, l);
}

static int recv_keyx(struct dht *d, uint64_t now_ms,
		     const struct dht_addr *from, const uint8_t *pkt,
		     size_t len)
{
	struct dht_buf b = {.p = (uint8_t *)pkt, .len = len};
	uint8_t cls, pk[CX_X_PK_LEN];
	uint64_t cookie;

	if (len != DHT_KEYX_LEN) {
		d->st.drop_malformed++;
		return -EBADMSG;
	}
	cls = dht__get_u8(&b);
	cookie = dht__get_u64(&b);
	dht__get_bytes(&b, pk, sizeof pk);
	if (cls == DHT_CLASS_KEYREQ) {
		uint8_t out[DHT_KEYX_LEN];
		struct dht_buf o = {.p = out, .len = sizeof out};

		if (!rate_take(&d->rate_all, now_ms, d->lim.rate_per_s,
			       d->lim.rate_burst)) {
			d->st.drop_rate++;
			return -EAGAIN;
		}
		dht__put_u8(&o, DHT_CLASS_KEYRESP);
		dht__put_u64(&o, cookie);
		dht__put_bytes(&o, d->pk, 32);
		d->st.pkts_out++;
		d->st.bytes_out += sizeof out;
		if (d->io.send(d->io.self, from, out, sizeof out) < 0)
			d->st.send_errors++;
		return 0;
	}
	for (unsigned i = 0; i < BOOT_MAX; i++) {
		struct boot *bt = &d->boot[i];

		if (!bt->used || bt->cookie != cookie ||
		    !dht__addr_equal(&bt->addr, from))
			continue;
		bt->used = false;
		start_self_lookup(d, now_ms, pk, from);
		return 0;
	}
	d->st.drop_unmatched++;
	return -ENOENT;
}

int dht_bootstrap(struct dht *d, uint64_t now_ms, const struct dht_addr *addr,
		  const uint8_t *pk)
{
	uint8_t out[DHT_KEYX_LEN] = {0};
	struct dht_buf o = {.p = out, .len = sizeof out};
	struct boot *bt = NULL;

	if (addr == NULL || !dht__addr_valid(addr))
		return -EINVAL;
	if (pk != NULL) {
		start_self_lookup(d, now_ms, pk, addr);
		return 0;
	}
	for (unsigned i = 0; i < BOOT_MAX; i++)
		if (!d->boot[i].used)
			bt = &d->boot[i];
	if (bt == NULL)
		return -ENOSPC;
	bt->used = true;
	bt->cookie = rand_u64(d);
	bt->addr = *addr;
	bt->deadline_ms = now_ms + d->lim.rpc_timeout_ms;
	dht__put_u8(&o, DHT_CLASS_KEYREQ);
	dht__put_u64(&o, bt->cookie);
	d->st.pkts_out++;
	d->st.bytes_out += sizeof out;
	if (d->io.send(d->io.self, addr, out, sizeof out) < 0)
		d->st.send_errors++;
	return 0;
}

/* --- timers --- */

static void noop_cb(void *arg, const struct dht_result *res)
{
	(void)arg;
	(void)res;
}

/* Refreshes buckets nobody looked into for refresh_ms: one find_node for
 * a random ID in the bucket's range, sent to the bucket's stalest contact
 * (which both checks that contact and brings news of the range).  A full
 * iterative lookup here would cost tens of messages per bucket; one query
 * keeps idle traffic to a few messages per node per minute. */
static void refresh_buckets(struct dht *d, uint64_t now_ms)
{
	for (unsigned b = 0; b < NBUCKETS; b++) {
		struct bucket *bk = &d->buckets[b];
		struct contact *old;
		uint8_t target[DHT_ID_LEN];
		struct pending *p;

		if (bk->n == 0 || now_ms - bk->touched_ms < d->lim.refresh_ms)
			continue;
		bk->touched_ms = now_ms;
		old = &bk->c[0];
		for (unsigned i = 1; i < bk->n; i++)
			if (bk->c[i].last_seen_ms < old->last_seen_ms)
				old = &bk->c[i];
		random_id_in_bucket(d, b, target);
		p = request(d, now_ms, old->pk, &old->addr, DHT_MSG_FIND_NODE,
			    target, sizeof target);
		(void)p;
	}
}

static void republish(struct dht *d, uint64_t now_ms)
{
	for (unsigned i = 0; i < d->nown;) {
		struct own *o = &d->own[i];

		if (o->rec->expiry_s <= now_ms / 1000) {
			free(o->rec);
			*o = d->own[--d->nown];
			continue;
		}
		if (now_ms >= o->next_ms) {
			uint8_t key[DHT_ID_LEN];
			int r;

			dht_record_key(key, o->rec);
			if (put_start(d, now_ms, key, o->rec, 0,
				      (struct dht_lookup_cb){noop_cb, NULL},
				      &r) != NULL)
				o->next_ms = now_ms + d->lim.republish_ms;
		}
		i++;
	}
}

/* Hard timeouts fail the candidate and count against the contact; soft
 * timeouts only free the lookup's parallelism slot. */
static void expire_pending(struct dht *d, uint64_t now_ms)
{
	for (unsigned i = 0; i < d->npend;) {
		struct pending *p = &d->pend[i];
		struct lookup *l = NULL;
		struct cand *c = NULL;
		uint8_t pk[32], id[DHT_ID_LEN];
		uint8_t type = p->type;

		if (p->lookup != 0) {
			l = d->lookups[p->lookup - 1];
			if (l == NULL || !l->used || l->gen != p->gen)
				l = NULL;
		}
		if (l != NULL)
			c = cand_by_pk(l, p->pk);
		if (now_ms < p->deadline_ms) {
			if (now_ms >= p->soft_ms) {
				p->soft_ms = UINT64_MAX;
				if (c != NULL && c->state == CAND_STATE_WAIT) {
					c->slow = true;
					lookup_step(d, now_ms, l);
					i = 0; /* the step may have changed
						  the table */
					continue;
				}
			}
			i++;
			continue;
		}
		d->st.timeouts++;
		memcpy(pk, p->pk, 32);
		pending_del(d, p);
		cx_hash(id, pk, 32);
		table_failed(d, id);
		if (l == NULL)
			continue;
		if (type == DHT_MSG_STORE) {
			if (c != NULL && c->store == CAND_STORE_SENT) {
				c->store = CAND_STORE_REFUSED;
				/* Never asked (a reused token): it is not
				 * one of the live k closest. */
				if (c->state == CAND_STATE_NEW)
					c->state = CAND_STATE_FAIL;
				if (l->stores_out > 0)
					l->stores_out--;
				put_progress(d, now_ms, l);
			}
			continue;
		}
		if (c != NULL && c->state == CAND_STATE_WAIT) {
			/* Lost on the way?  Ask again once (the exact target
			 * twice), then give up on it. */
			unsigned max = CAND_TRIES +
				       (memcmp(c->id, l->target, 32) == 0);

			c->state = c->tries < max ? CAND_STATE_NEW
						  : CAND_STATE_FAIL;
		}
		lookup_step(d, now_ms, l);
	}
}

uint64_t dht_next_deadline(const struct dht *d)
{
	uint64_t next = d->maint_ms;

	for (unsigned i = 0; i < d->npend; i++) {
		if (d->pend[i].deadline_ms < next)
			next = d->pend[i].deadline_ms;
		if (d->pend[i].soft_ms < next)
			next = d->pend[i].soft_ms;
	}
	for (unsigned i = 0; i < BOOT_MAX; i++)
		if (d->boot[i].used && d->boot[i].deadline_ms < next)
			next = d->boot[i].deadline_ms;
	return next;
}

uint64_t dht_tick(struct dht *d, uint64_t now_ms)
{
	if (now_ms < d->last_now_ms)
		now_ms = d->last_now_ms; /* the clock stepped back */
	d->last_now_ms = now_ms;
	expire_pending(d, now_ms);
	for (unsigned i = 0; i < BOOT_MAX; i++)
		if (d->boot[i].used && now_ms >= d->boot[i].deadline_ms)
			d->boot[i].used = false;
	if (now_ms >= d->maint_ms) {
		if (now_ms - d->token_rotate_ms >= TOKEN_ROTATE_MS) {
			memcpy(d->token_secret[1], d->token_secret[0], 16);
			rng_fill(d->rng, d->token_secret[0], 16);
			d->token_rotate_ms = now_ms;
		}
		store_expire(d, now_ms);
		refresh_buckets(d, now_ms);
		republish(d, now_ms);
		d->maint_ms = now_ms + MAINT_MS;
	}
	return dht_next_deadline(d);
}

/* --- life cycle --- */

static void limits_default(struct dht_limits *l)
{
#define DEF(f, v)                                                              \
	do {                                                                   \
		if (l->f == 0)                                                 \
			l->f = v;                                              \
	} while (0)
	DEF(replacements, 8);
	DEF(key_cache, 64);
	DEF(records_max, 512);
	DEF(record_bytes_max, 256 * 1024);
	DEF(own_records_max, DHT_OWN_RECORDS_DEFAULT);
	DEF(lookups_max, 32);
	DEF(pending_max, 512);
	DEF(rate_per_s, 100);
	DEF(rate_burst, 200);
	DEF(rate_per_src_s, 20);
	DEF(rpc_timeout_ms, 2000);
	DEF(refresh_ms, 60 * 60 * 1000);
	DEF(republish_ms, 60 * 60 * 1000);
#undef DEF
	l->key_cache = (l->key_cache + 3) / 4 * 4;
	if (l->lookups_max > 65535)
		l->lookups_max = 65535;
}

int dht_new(struct dht **out, const struct dht_config *cfg)
{
	struct dht *d = NULL;
	int r = -EINVAL;

	*out = NULL;
	if (cfg == NULL || cfg->node_pk == NULL || cfg->node_sk == NULL ||
	    cfg->rng == NULL || cfg->io.send == NULL)
		return -EINVAL;
	d = calloc(1, sizeof *d);
	if (d == NULL)
		return -ENOMEM;
	memcpy(d->pk, cfg->node_pk, 32);
	memcpy(d->sk, cfg->node_sk, 32);
	cx_hash(d->id, d->pk, 32);
	d->rng = cfg->rng;
	d->io = cfg->io;
	d->lim = cfg->limits;
	limits_default(&d->lim);
	r = -ENOMEM;
	d->keys = calloc(d->lim.key_cache, sizeof *d->keys);
	d->lookups = calloc(d->lim.lookups_max, sizeof *d->lookups);
	d->own = calloc(d->lim.own_records_max, sizeof *d->own);
	if (d->keys == NULL || d->lookups == NULL || d->own == NULL)
		goto out;
	rng_fill(d->rng, d->token_secret[0], 16);
	rng_fill(d->rng, d->token_secret[1], 16);
	*out = d;
	d = NULL; /* caller owns it now */
	r = 0;
out:
	dht_free(d);
	return r;
}

void dht_free(struct dht *d)
{
	if (d == NULL)
		return;
	for (unsigned b = 0; b < NBUCKETS; b++) {
		free(d->buckets[b].c);
		free(d->buckets[b].r);
	}
	if (d->lookups != NULL) {
		for (unsigned i = 0; i < d->lim.lookups_max; i++) {
			if (d->lookups[i] == NULL)
				continue;
			free(d->lookups[i]->cands);
			free(d->lookups[i]->rec);
			free(d->lookups[i]);
		}
	}
	for (unsigned i = 0; i < d->nstore; i++)
		free(d->store[i].enc);
	for (unsigned i = 0; i < d->nown; i++)
		free(d->own[i].rec);
	if (d->keys != NULL)
		cx_wipe(d->keys, d->lim.key_cache * sizeof *d->keys);
	free(d->keys);
	free(d->tokens);
	free(d->lookups);
	free(d->store);
	free(d->own);
	free(d->pend);
	cx_wipe(d->sk, sizeof d->sk);
	cx_wipe(d->token_secret, sizeof d->token_secret);
	free(d);
}

void dht_status(const struct dht *d, struct dht_status *st)
{
	*st = d->st;
	memcpy(st->id, d->id, 32);
	st->contacts = st->replacements = st->buckets = 0;
	for (unsigned b = 0; b < NBUCKETS; b++) {
		st->contacts += d->buckets[b].n;
		st->replacements += d->buckets[b].nr;
		if (d->buckets[b].n > 0)
			st->buckets++;
	}
	st->records = d->nstore;
	st->record_bytes = d->store_bytes;
	st->own_records = d->nown;
	st->lookups = 0;
	for (unsigned i = 0; i < d->lim.lookups_max; i++)
		if (d->lookups[i] != NULL && d->lookups[i]->used)
			st->lookups++;
	st->pending = d->npend;
}

/* --- saved routing table ---
 * "PDT1" magic(4) count(2) reserved(2), then count entries of
 * pk(32) family(1) ip(16) port(2) = 51 bytes. */

int dht_table_save(const struct dht *d, uint8_t *buf, size_t buf_max,
		   size_t *len)
{
	struct dht_buf b = {.p = buf, .len = buf_max};
	size_t room;
	unsigned n = 0, max;

	*len = 0;
	if (buf_max < DHT_TABLE_HDR_LEN)
		return -E2BIG;
	room = (buf_max - DHT_TABLE_HDR_LEN) / DHT_TABLE_ENTRY_LEN;
	max = room > 65535 ? 65535 : (unsigned)room;
	dht__put_bytes(&b, "PDT1", 4);
	dht__put_u16(&b, 0);
	dht__put_u16(&b, 0);
	for (unsigned bi = 0; bi < NBUCKETS && n < max; bi++) {
		for (unsigned i = 0; i < d->buckets[bi].n && n < max; i++) {
			const struct contact *c = &d->buckets[bi].c[i];

			dht__put_bytes(&b, c->pk, 32);
			dht__put_u8(&b, c->addr.family);
			dht__put_bytes(&b, c->addr.ip, 16);
			dht__put_u16(&b, c->addr.port);
			n++;
		}
	}
	buf[4] = (uint8_t)(n >> 8);
	buf[5] = (uint8_t)n;
	*len = b.pos;
	return 0;
}

int dht_table_load(struct dht *d, uint64_t now_ms, const uint8_t *buf,
		   size_t len)
{
	struct dht_buf b = {.p = (uint8_t *)buf, .len = len};
	uint8_t magic[4];
	unsigned n, loaded = 0;

	if (buf == NULL || len < DHT_TABLE_HDR_LEN)
		return -EBADMSG;
	dht__get_bytes(&b, magic, 4);
	n = dht__get_u16(&b);
	(void)dht__get_u16(&b);
	if (memcmp(magic, "PDT1", 4) != 0 ||
	    len != DHT_TABLE_HDR_LEN + (size_t)n * DHT_TABLE_ENTRY_LEN)
		return -EBADMSG;
	/* Validate everything before inserting anything. */
	for (unsigned i = 0; i < n; i++) {
		const uint8_t *e = buf + DHT_TABLE_HDR_LEN +
				   (size_t)i * DHT_TABLE_ENTRY_LEN;

		if (e[32] != DHT_FAMILY_IPV4 && e[32] != DHT_FAMILY_IPV6)
			return -EBADMSG;
		if (e[32] == DHT_FAMILY_IPV4 && !cx_is_zero(e + 37, 12))
			return -EBADMSG;
		if (e[49] == 0 && e[50] == 0)
			return -EBADMSG;
	}
	for (unsigned i = 0; i < n; i++) {
		uint8_t pk[32];
		struct dht_addr a;

		dht__get_bytes(&b, pk, 32);
		memset(&a, 0, sizeof a);
		a.family = dht__get_u8(&b);
		dht__get_bytes(&b, a.ip, 16);
		a.port = dht__get_u16(&b);
		/* Seen "long ago": the first refresh checks them. */
		if (dht_add_contact(d, 0, pk, &a) == 0)
			loaded++;
	}
	(void)now_ms;
	return (int)loaded;
}
