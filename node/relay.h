/* The relay service (DESIGN.md section 7, docs/PROTOCOL-relay.md): what a
 * node run with --relay does for others.  It takes DEPOSIT and FETCH
 * frames from any linked node, keeps the blobs in its mailbox store
 * (node/relaystore.h) within its limits, and answers each request once
 * what it answers for is committed.  A node that does not relay answers
 * every request RC_NOT_RELAY, so a client learns it at once.
 *
 * Sans-I/O like chat: the daemon forwards frames 0x20..0x2f that are
 * requests (relay_frame), calls relay_flush() once per loop turn (one
 * transaction for all the turn's requests, then the answers) and
 * relay_tick() by its deadline (expiry sweeps).
 *
 * Per source (the address block of the requester's link: IPv4 /24, IPv6
 * /48) a token bucket bounds requests (RC_RATE past it), and the store
 * bounds the blob bytes it holds from the source (limits.source_bytes,
 * RC_QUOTA past it; items are stored under a tag keyed from the
 * identity's storage key, so the store names no address block).  At most
 * RELAY_PENDING_MAX requests wait for a flush.  FETCH signatures are
 * checked before anything is queued: the mailbox key over the request,
 * with this relay's node key in it, and a time within RELAY_FETCH_SKEW_S
 * of ours (RC_AUTH otherwise).
 *
 * The node that fetched a mailbox is told (NOTIFY) when a deposit lands
 * there within RELAY_WATCH_MS of that fetch, so a recipient online does
 * not wait for its next poll; at most RELAY_WATCHERS_MAX mailboxes are
 * watched, the oldest forgotten first. */
#ifndef PARLEY_NODE_RELAY_H
#define PARLEY_NODE_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dht/dht.h"
#include "node/env.h"
#include "node/link.h"
#include "node/relaystore.h"
#include "store/store.h"

#define RELAY_PENDING_MAX 512
#define RELAY_SOURCES_MAX 256	     /* token buckets */
#define RELAY_RATE 200		     /* requests per second per source */
#define RELAY_BURST 800		     /* bucket depth */
#define RELAY_FETCH_SKEW_S 600	     /* FETCH time vs ours */
#define RELAY_SWEEP_MS (10 * 60000ull) /* expiry sweeps */
#define RELAY_WATCHERS_MAX 1024	     /* mailboxes whose fetcher is told */
#define RELAY_WATCH_MS (15 * 60000ull) /* after its last fetch */

/* Relay adverts (DHT record kind 3), so that people can find volunteers:
 * RELAY_ADVERT_SLOTS records per hour, each under a publisher key anyone
 * can derive from (slot, hour), holding one relay's node key.  A relay
 * publishes into its slot of the hour (relay_advert_slot) at start, every
 * RELAY_ADVERT_EVERY_MS and when an hour begins; the newest publication
 * in a slot wins.  Keys that change every hour bound how long anyone can
 * squat a slot (an advert is not proof of anything: a client probes a
 * candidate before it chooses it). */
#define RELAY_ADVERT_SLOTS 16
#define RELAY_ADVERT_HOUR_S 3600ull
#define RELAY_ADVERT_EVERY_MS (20 * 60000ull)
#define RELAY_ADVERT_LEN (1 + 32) /* version 1 | relay node key */

/* The slot a relay publishes its advert in during an hour: from a hash of
 * its node key and the hour, so that two relays that share a slot one
 * hour most likely do not the next. */
unsigned relay_advert_slot(const uint8_t node_pk[static 32], uint64_t hour);

/* The signing key of a slot in an hour (sk may be NULL). */
void relay_advert_signer(uint8_t pk[static 32], uint8_t *sk, unsigned slot,
			 uint64_t hour);
/* The DHT key to look up for a slot in an hour. */
void relay_advert_key(uint8_t key[static DHT_ID_LEN], unsigned slot,
		      uint64_t hour);
/* The relay node key in an advert record fetched for (slot, hour):
 * checks kind, publisher, signature, layout.  0, -EBADMSG or
 * -EKEYREJECTED. */
int relay_advert_parse(uint8_t node_pk[static 32], const struct dht_record *rec,
		       unsigned slot, uint64_t hour);

struct cx_identity;

struct relay_config {
	const struct clock *clock;
	struct store *store;
	struct link_mgr *links;
	const uint8_t *node_pk; /* ours, 32 bytes; copied */
	/* Keys the source tags of stored items (cx_store_subkey "relaysrc");
	 * used in relay_new only.  NULL: an unkeyed hash (tests). */
	const struct cx_identity *id;
	struct dht *dht;	/* where adverts go (may be NULL: none) */
	bool enabled;		/* --relay */
	struct relaystore_limits limits;
};

struct relay_status {
	bool enabled;
	uint64_t deposits, deposits_refused, fetches, items_sent, deleted,
		expired, auth_failed, rate_limited, errors, pow_failed,
		notified, adverts, polls, polled_full, request_fetches;
	uint64_t over_quota; /* of deposits_refused: the source's quota */
	struct relaystore_stats store;
};

struct relay;

int relay_new(struct relay **out, const struct relay_config *cfg);
void relay_free(struct relay *r);

/* A DEPOSIT, FETCH or POLL (or their request-mailbox forms) from pk;
 * other frames are ignored. */
void relay_frame(struct relay *r, const uint8_t pk[static LINK_PK_LEN],
		 const uint8_t *data, size_t len);

/* Commits what the turn's requests ask and sends the answers. */
void relay_flush(struct relay *r);

/* Expiry sweeps.  Returns the next deadline (mono ms). */
uint64_t relay_tick(struct relay *r);

/* Counters, and the store's figures when enabled (a read transaction). */
void relay_status(struct relay *r, struct relay_status *st);

#endif
