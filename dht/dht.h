/* dht/: Kademlia DHT with signed records, sans-I/O (DESIGN.md section 4).
 *
 * The module never touches a socket, a clock or the OS random source.  The
 * caller (node/ or the simulator) hands in:
 *   - packets, with dht_recv(), and the current time as an argument;
 *   - a struct dht_io whose send() puts one datagram on the wire;
 *   - a struct rng for nonces, transaction ids and token secrets.
 * It must call dht_tick() by the deadline that dht_tick() and dht_recv()
 * return, even when no packet arrives.
 *
 * Time: every now_ms is milliseconds since the Unix epoch (wall clock), read
 * once per event-loop turn.  Records carry absolute expiry times in Unix
 * seconds, so the DHT needs wall time; a clock that steps backwards is
 * treated as "no time passed" for timers.
 *
 * Node identity: node ID = BLAKE2b-256(X25519 node public key).  Every packet
 * is sealed with crypto_box between the two node keys (dht/wire.h).
 *
 * Errors: 0 or a negative errno value:
 *   -EINVAL   bad argument
 *   -ENOMEM   out of memory
 *   -EBADMSG  malformed input (packet, record, saved table)
 *   -EKEYREJECTED  authentication or signature failure
 *   -E2BIG    input over its limit
 *   -ENOSPC   a bounded table is full
 *   -ENOENT   not found
 *   -ETIMEDOUT  a lookup ended without an answer
 *   -EAGAIN   dropped by rate limiting */
#ifndef PARLEY_DHT_DHT_H
#define PARLEY_DHT_DHT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/cx.h"
#include "crypto/rng.h"

#define DHT_ID_LEN 32
#define DHT_K 20	   /* bucket size and replication factor */
#define DHT_ALPHA 3	   /* parallel queries per lookup path */
#define DHT_DISJOINT_D 4   /* paths of a disjoint (S/Kademlia) lookup */
/* The settled head of a lookup: its DHT_SETTLE closest responsive nodes,
 * once each has answered and none named a nearer node.  A put answers when
 * these acknowledged the record (it goes on storing on the rest of the k
 * closest); a get that holds a valid record answers when these answered. */
#define DHT_SETTLE 3
#define DHT_VALUE_MAX 1000 /* record value bytes */
#define DHT_SALT_MAX 32	   /* record salt bytes */

enum dht_family {
	DHT_FAMILY_IPV4 = 4,
	DHT_FAMILY_IPV6 = 6,
};

/* A UDP endpoint.  ip holds 4 bytes (IPv4, rest zero) or 16 (IPv6) in
 * network order; port is in host order. */
struct dht_addr {
	uint8_t family; /* enum dht_family */
	uint8_t ip[16];
	uint16_t port;
};

/* The network, injected.  send() returns 0 or a negative errno; the DHT
 * counts failures and carries on.  pkt is valid only during the call. */
struct dht_io {
	int (*send)(void *self, const struct dht_addr *to, const uint8_t *pkt,
		    size_t len);
	void *self;
};

/* Bounds of every table.  A zero field takes the default in brackets. */
#define DHT_OWN_RECORDS_DEFAULT 16
struct dht_limits {
	unsigned replacements;	  /* replacement cache per bucket [8] */
	unsigned key_cache;	  /* cached shared keys, multiple of 4 [64] */
	unsigned records_max;	  /* stored records [512] */
	size_t record_bytes_max;  /* bytes of stored records [256 KiB] */
	unsigned own_records_max; /* records this node republishes
				   * [DHT_OWN_RECORDS_DEFAULT] */
	unsigned lookups_max;	  /* concurrent lookups [32] */
	unsigned pending_max;	  /* outstanding requests [512] */
	unsigned rate_per_s;	  /* unsolicited requests per second [100] */
	unsigned rate_burst;	  /* token bucket depth [200] */
	unsigned rate_per_src_s;  /* per source /24 or /48 per second [20] */
	unsigned rpc_timeout_ms;  /* hard request timeout [2000] */
	unsigned refresh_ms;	  /* idle bucket refresh period [1 h] */
	unsigned republish_ms;	  /* own record republish period [1 h] */
};

struct dht_config {
	const uint8_t *node_pk; /* CX_X_PK_LEN, copied */
	const uint8_t *node_sk; /* CX_X_SK_LEN, copied and wiped on free */
	const struct rng *rng;	/* must outlive the dht */
	struct dht_io io;
	struct dht_limits limits;
};

/* A signed record (BEP 44 rules, DESIGN.md section 4).  key =
 * dht_record_key(kind, pk, salt).  The signature covers a typed,
 * domain-separated encoding of every other field (docs/PROTOCOL-dht.md). */
enum dht_record_kind {
	DHT_RECORD_KIND_GENERIC = 0,	  /* dht.put from the API */
	DHT_RECORD_KIND_CONTACT_CARD = 1, /* prekey bundle, devices, relays */
	DHT_RECORD_KIND_RENDEZVOUS = 2, /* encrypted, key from a pair secret */
	DHT_RECORD_KIND_RELAY_ADVERT = 3, /* a volunteer relay */
};
#define DHT_RECORD_KIND_MAX 3

struct dht_record {
	uint8_t kind;		  /* enum dht_record_kind */
	uint8_t pk[CX_ED_PK_LEN]; /* publisher (Ed25519) */
	uint8_t salt_len;	  /* <= DHT_SALT_MAX */
	uint8_t salt[DHT_SALT_MAX];
	uint64_t seq;	    /* higher replaces lower */
	uint64_t expiry_s;  /* Unix seconds */
	uint16_t value_len; /* <= DHT_VALUE_MAX */
	uint8_t value[DHT_VALUE_MAX];
	uint8_t sig[CX_SIG_LEN];
};

/* key = BLAKE2b-256("parley dht key v1" || kind || pk || salt_len || salt) */
void dht_record_key(uint8_t key[static DHT_ID_LEN], const struct dht_record *r);

/* Signs r in place with the publisher's Ed25519 secret key; r->pk must be its
 * public half.  Returns 0 or -EINVAL (a field over its limit). */
int dht_record_sign(struct dht_record *r,
		    const uint8_t sk[static CX_ED_SK_LEN]);

/* Checks limits and the signature.  Returns 0, -EINVAL or -EKEYREJECTED. */
int dht_record_verify(const struct dht_record *r);

/* Node in a result or a saved table. */
struct dht_node_info {
	uint8_t id[DHT_ID_LEN];
	uint8_t pk[CX_X_PK_LEN];
	struct dht_addr addr;
};

/* What a lookup reports to its callback.  Pointers are valid only during the
 * callback. */
struct dht_result {
	int status;	  /* 0, -ENOENT, -ETIMEDOUT, -ECANCELED */
	/* Round of the reply that gave the answer: own-table contacts are
	 * asked in round 1, contacts they return in round 2, and so on.
	 * find_node: the reply that revealed the target's contact (0 when it
	 * was in our own table; reaching the target is one more round trip);
	 * get: the first reply with a valid record. */
	unsigned rounds;
	unsigned queries; /* requests sent (each answered or timed out) */
	unsigned replies; /* authenticated replies received */
	/* find_node: the target, authenticated by its own reply. */
	struct dht_node_info node;
	/* get: the record found (highest seq of those seen, this node's own
	 * copy included), else NULL.  rounds is 0 when only the own copy was
	 * found. */
	const struct dht_record *record;
	/* put: how many nodes had acknowledged the store when the callback
	 * ran (the settled head at least; the rest of the k closest are
	 * stored on afterwards). */
	unsigned stored;
	/* the closest nodes that answered (find_node without an exact match,
	 * put), nearest first. */
	const struct dht_node_info *closest;
	unsigned num_closest;
};

/* Lookup options (bit flags). */
#define DHT_LOOKUP_DISJOINT 0x1u /* S/Kademlia, DHT_DISJOINT_D paths */
#define DHT_PUT_REPUBLISH 0x2u	 /* keep and republish until expiry */
/* get: complete at the first valid record a node sends instead of at the
 * settled head, answering the highest sequence number seen. */
#define DHT_GET_FIRST 0x4u

/* Completion callback: called exactly once, from dht_recv() or dht_tick()
 * (or from the dht_put/get/find_node call itself when nothing can be
 * asked), unless starting the lookup failed or the dht was freed first.
 * The callback may start new lookups; it must not free the dht. */
struct dht_lookup_cb {
	void (*done_cb)(void *arg, const struct dht_result *res);
	void *arg;
};

struct dht_status {
	uint8_t id[DHT_ID_LEN];
	unsigned contacts;     /* in the routing table */
	unsigned replacements; /* in replacement caches */
	unsigned buckets;      /* non-empty buckets */
	unsigned records;      /* stored for others */
	size_t record_bytes;
	unsigned own_records; /* republished by this node */
	unsigned lookups;     /* running */
	unsigned pending;     /* outstanding requests */
	uint64_t pkts_in, pkts_out, bytes_in, bytes_out;
	uint64_t send_errors;
	/* Dropped and counted, by reason. */
	uint64_t drop_short, drop_big, drop_version, drop_auth, drop_malformed;
	uint64_t drop_unmatched, drop_replay, drop_rate, drop_stale;
	uint64_t drop_bad_record, drop_bad_token;
	uint64_t timeouts, evictions;
	uint64_t lookups_done, lookups_failed;
	uint64_t stores_accepted, stores_rejected;
	uint64_t key_cache_hits, key_cache_misses;
};

struct dht;

/* Creates a node.  *out is NULL on failure.  Returns 0, -EINVAL (missing
 * key, rng or send) or -ENOMEM. */
int dht_new(struct dht **out, const struct dht_config *cfg);

/* Frees d, wiping its secrets.  Pending callbacks are not called.
 * NULL is a no-op. */
void dht_free(struct dht *d);

/* Handles one received datagram.  Hostile or malformed input is dropped and
 * counted (dht_status), never fatal.  Returns 0 when the packet was used, or
 * the negative reason it was dropped (for tests; node/ may ignore it). */
int dht_recv(struct dht *d, uint64_t now_ms, const struct dht_addr *from,
	     const uint8_t *pkt, size_t len);

/* Runs timers: request timeouts, lookup progress, bucket refresh, token
 * rotation, record expiry and republishing.  Returns the next deadline in ms
 * (absolute).  The caller may be late but must call again by then, and also
 * after any dht_recv() or API call (which may move the deadline earlier). */
uint64_t dht_tick(struct dht *d, uint64_t now_ms);

/* The earliest deadline, without running anything. */
uint64_t dht_next_deadline(const struct dht *d);

/* Joins through one node.  pk may be NULL when only the address is known:
 * the node then asks for the key in the clear first (a reply that must echo
 * a random cookie, so only an on-path attacker can lie).  Starts a lookup of
 * our own ID; its progress fills the routing table.  Returns 0 or -ENOMEM,
 * -ENOSPC. */
int dht_bootstrap(struct dht *d, uint64_t now_ms, const struct dht_addr *addr,
		  const uint8_t *pk);

/* Inserts a contact known from elsewhere (a saved table, LAN discovery,
 * the simulator's warm start) as if it had answered at now_ms.  Returns 0,
 * -EINVAL (own key, bad address), -ENOSPC (bucket and cache full). */
int dht_add_contact(struct dht *d, uint64_t now_ms, const uint8_t pk[static 32],
		    const struct dht_addr *addr);

/* Iterative lookups.  They return 0 and later call cb exactly once, or fail
 * with -EINVAL, -ENOMEM, -ENOSPC (too many lookups) without calling cb. */
int dht_find_node(struct dht *d, uint64_t now_ms,
		  const uint8_t target[static DHT_ID_LEN], unsigned flags,
		  struct dht_lookup_cb cb);
int dht_get(struct dht *d, uint64_t now_ms,
	    const uint8_t key[static DHT_ID_LEN], unsigned flags,
	    struct dht_lookup_cb cb);
/* dht_get: the node's own copy of the record (stored for others, or its
 * own) counts with the ones the network sends; without DHT_GET_FIRST the
 * lookup ends when it holds a valid record and its settled head answered
 * (DHT_SETTLE), else when the k closest answered.  dht_put: the callback
 * runs once the settled head acknowledged the store (or, failing that, when
 * the lookup ends); the lookup goes on until the k closest were stored on.
 * rec must be signed (dht_record_sign); it is copied.  With
 * DHT_PUT_REPUBLISH the node keeps it (bounded by own_records_max, a higher
 * seq under the same key replaces) and stores it again every republish_ms
 * until it expires. */
int dht_put(struct dht *d, uint64_t now_ms, const struct dht_record *rec,
	    unsigned flags, struct dht_lookup_cb cb);

/* A put in two steps, for a caller that must make the record's sequence
 * number durable before any node may see the record: dht_put_begin()
 * starts the search for the nodes closest to key (the STOREs wait) and
 * gives a handle; dht_put_commit() hands over the signed record, whose key
 * must be key, and lets the STOREs go.  The search thus runs while the
 * caller writes.  Exactly one of dht_put_commit() and dht_put_abort() must
 * follow a successful begin.  dht_put_abort(), and dht_put_commit() when it
 * fails (-EINVAL: not this put's key, expired, unknown handle;
 * -EKEYREJECTED; -ENOSPC, -ENOMEM with DHT_PUT_REPUBLISH), end the put
 * without calling cb.  After a successful commit, cb runs as for dht_put()
 * (possibly from dht_put_commit() itself). */
int dht_put_begin(struct dht *d, uint64_t now_ms,
		  const uint8_t key[static DHT_ID_LEN], unsigned flags,
		  struct dht_lookup_cb cb, uint64_t *handle);
int dht_put_commit(struct dht *d, uint64_t now_ms, uint64_t handle,
		   const struct dht_record *rec);
void dht_put_abort(struct dht *d, uint64_t handle);

/* Counters and sizes for dht.status. */
void dht_status(const struct dht *d, struct dht_status *st);

/* Own node ID. */
const uint8_t *dht_id(const struct dht *d);

/* Reads a stored record (for tests and tools).  Returns 0 or -ENOENT. */
int dht_record_lookup_local(const struct dht *d,
			    const uint8_t key[static DHT_ID_LEN],
			    struct dht_record *out);

/* Routing table as bytes, for node/ to keep in LMDB: up to max_nodes
 * contacts, most recently seen first.  Writes at most buf_max bytes;
 * *len gets the size.  Returns 0 or -E2BIG when buf_max is too small for
 * the header (DHT_TABLE_HDR_LEN + n * DHT_TABLE_ENTRY_LEN bytes). */
#define DHT_TABLE_HDR_LEN 8
#define DHT_TABLE_ENTRY_LEN 51
int dht_table_save(const struct dht *d, uint8_t *buf, size_t buf_max,
		   size_t *len);

/* Loads a saved table: each contact is inserted with dht_add_contact() and
 * counts as not yet verified (it is pinged by the next refresh).  Returns the
 * number loaded or -EBADMSG; on -EBADMSG nothing was loaded. */
int dht_table_load(struct dht *d, uint64_t now_ms, const uint8_t *buf,
		   size_t len);

/* Visits every contact of the routing table (for tests and the simulator). */
void dht_foreach_contact(const struct dht *d,
			 void (*visit_cb)(void *arg,
					  const struct dht_node_info *n),
			 void *arg);

/* XOR distance comparison: <0 when a is closer to target than b. */
int dht_id_cmp_dist(const uint8_t target[static DHT_ID_LEN],
		    const uint8_t a[static DHT_ID_LEN],
		    const uint8_t b[static DHT_ID_LEN]);

/* Number of leading bits a and b share (0..256). */
unsigned dht_id_common_bits(const uint8_t a[static DHT_ID_LEN],
			    const uint8_t b[static DHT_ID_LEN]);

#endif
