/* The client side of store-and-forward relays (DESIGN.md section 7,
 * docs/PROTOCOL-relay.md): deposits and fetches sent to relays by node
 * key, over links it opens itself (the relay's address from a DHT
 * find_node), retransmitted until answered, with bounded tables.  It does
 * not know what it carries: chat (node/chat.c) decides what to deposit
 * and what a fetched blob is.
 *
 * Sans-I/O over the link manager and the DHT: the daemon forwards link
 * callbacks and the relay's answers (frames RF_DEPOSIT_RES and RF_ITEMS)
 * here, and calls relayc_tick() by the deadline it returns.  Callbacks run
 * from inside relayc_frame(), relayc_tick(), relayc_link_down() and the
 * DHT's lookup callbacks; they may call relayc_deposit()/relayc_fetch().
 *
 * Errors: 0 or negative errno: -EINVAL, -ENOSPC (tables full), -ENOMEM,
 * -E2BIG.  Outcomes reported through callbacks: a relay_code (>= 0) from
 * the relay, or -ETIMEDOUT (no answer after RELAYC_TRIES sends),
 * -EHOSTUNREACH (the relay could not be found or linked). */
#ifndef PARLEY_NODE_RELAYC_H
#define PARLEY_NODE_RELAYC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/rng.h"
#include "dht/dht.h"
#include "node/env.h"
#include "node/link.h"
#include "node/relay_wire.h"

#define RELAYC_RELAYS_MAX 32 /* relays talked to at once */
#define RELAYC_OPS_MAX 2048  /* requests in flight */
#define RELAYC_TRIES 5
#define RELAYC_RTO_MS 500     /* first retransmit; doubles */
#define RELAYC_IDLE_MS 30000  /* a link we opened closes after this idle */
#define RELAYC_RETRY_MS 10000 /* a relay that could not be reached */
#define RELAYC_JOIN_RETRY_MS 500 /* the same while our DHT is empty */

struct relayc_callbacks {
	/* A deposit's outcome: code >= 0 is the relay's (RC_OK: stored). */
	void (*deposited)(void *arg, const uint8_t relay[LINK_PK_LEN],
			  uint64_t cookie, int code);
	/* A fetch's outcome: a validated ITEMS frame (its code may say the
	 * relay refused), or frame NULL and a negative errno. */
	void (*fetched)(void *arg, const uint8_t relay[LINK_PK_LEN],
			uint64_t cookie, const uint8_t *frame, size_t len,
			int err);
	/* A poll's outcome: a validated POLL_RES frame (its code may say the
	 * relay refused), or frame NULL and a negative errno.  May be NULL
	 * when the client never polls. */
	void (*polled)(void *arg, const uint8_t relay[LINK_PK_LEN],
		       uint64_t cookie, const uint8_t *frame, size_t len,
		       int err);
	/* The relay says something was left in mailbox (NOTIFY); may be
	 * NULL. */
	void (*notified)(void *arg, const uint8_t relay[LINK_PK_LEN],
			 const uint8_t mailbox[RELAY_MAILBOX_LEN]);
	void *arg;
};

struct relayc_config {
	const struct clock *clock;
	const struct rng *rng;
	struct link_mgr *links;
	struct dht *dht; /* may be NULL: then only relays already linked */
	struct relayc_callbacks cb;
	/* Deadlines of links or the DHT may have moved (may be NULL). */
	void (*kick)(void *self);
	void *self;
};

struct relayc_status {
	unsigned relays, ops;
	uint64_t deposits, deposits_ok, fetches, fetches_ok, polls, polls_ok,
		retransmits, failures;
};

struct relayc;

int relayc_new(struct relayc **out, const struct relayc_config *cfg);
/* Frees without calling back.  Free it after the DHT (whose lookups point
 * here) or before any DHT callback can run. */
void relayc_free(struct relayc *rc);

/* Deposits blob (1..RELAY_BLOB_MAX bytes) in mailbox at relay; the
 * outcome reaches cb.deposited with cookie, exactly once unless the
 * client is freed first. */
int relayc_deposit(struct relayc *rc, const uint8_t relay[static LINK_PK_LEN],
		   const uint8_t mailbox[static RELAY_MAILBOX_LEN],
		   const uint8_t *blob, size_t len, uint64_t cookie);

/* Fetches mailbox's items with seq > after from relay, deleting those
 * <= del_upto first; sk is the mailbox's Ed25519 secret key (64 bytes,
 * used at once, not kept).  The outcome reaches cb.fetched, exactly
 * once. */
int relayc_fetch(struct relayc *rc, const uint8_t relay[static LINK_PK_LEN],
		 const uint8_t mailbox[static RELAY_MAILBOX_LEN],
		 const uint8_t *sk, uint64_t del_upto, uint64_t after,
		 uint64_t cookie);

/* Asks relay which of n (1..RW_POLL_MAX) pairwise mailboxes (n * 32
 * bytes, copied) hold items; the outcome reaches cb.polled, exactly once.
 * -EINVAL without a polled callback. */
int relayc_poll(struct relayc *rc, const uint8_t relay[static LINK_PK_LEN],
		const uint8_t *mailboxes, unsigned n, uint64_t cookie);

/* The same for an account's public request mailbox (relay_wire.h): a
 * deposit with its proof-of-work stamp (found by the caller), and a fetch
 * signed by the account key (64 bytes, not kept) for the mailbox of
 * epoch. */
int relayc_deposit_req(struct relayc *rc,
		       const uint8_t relay[static LINK_PK_LEN],
		       const uint8_t mailbox[static RELAY_MAILBOX_LEN],
		       uint64_t stamp, const uint8_t *blob, size_t len,
		       uint64_t cookie);
int relayc_fetch_req(struct relayc *rc, const uint8_t relay[static LINK_PK_LEN],
		     const uint8_t account_pk[static 32],
		     const uint8_t *account_sk, uint64_t epoch,
		     uint64_t del_upto, uint64_t after, uint64_t cookie);

/* Keeps a link to relay up (a home relay, so that its NOTIFYs reach us):
 * not closed when idle, linked again when it goes.  Up to
 * RELAYC_RELAYS_MAX; -ENOSPC past that. */
int relayc_keep(struct relayc *rc, const uint8_t relay[static LINK_PK_LEN]);
/* Lets it go again (it closes when idle, as any). */
void relayc_unkeep(struct relayc *rc, const uint8_t relay[static LINK_PK_LEN]);

/* Link events and relay answers, forwarded by the daemon. */
void relayc_link_up(struct relayc *rc, const uint8_t pk[static LINK_PK_LEN]);
void relayc_link_down(struct relayc *rc, const uint8_t pk[static LINK_PK_LEN]);
void relayc_frame(struct relayc *rc, const uint8_t pk[static LINK_PK_LEN],
		  const uint8_t *data, size_t len);

/* Retransmits, give-ups, idle links.  Returns the next deadline (mono
 * ms), UINT64_MAX when none. */
uint64_t relayc_tick(struct relayc *rc);

void relayc_status(const struct relayc *rc, struct relayc_status *st);

#endif
