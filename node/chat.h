/* One-to-one messaging (DESIGN.md sections 3 to 6): contact requests and
 * acceptance over X3DH, Double Ratchet sessions per contact, numbered and
 * acknowledged message streams over links, receipts, presence and typing.
 * Wire formats: docs/PROTOCOL-chat.md.
 *
 * Sans-I/O over the other sans-I/O parts: it calls link_send() and
 * link_connect() on the node's link manager, dht_get()/dht_put()/
 * dht_find_node() on its DHT, and msgstore/events/store for everything
 * durable.  Time comes from the injected clock, randomness from the rng.
 * The daemon (node/main.c) feeds it link callbacks and calls chat_tick()
 * by the deadline it returns; tests do the same over a simulated network.
 *
 * What is durable, and when (DESIGN.md 6, "nothing is lost"):
 *   - a message is in the outbox (msgstore_send) before chat_send returns;
 *   - a ratchet step is committed with what caused it: encrypting a new
 *     message commits the state and the status "sent" before a byte goes
 *     out; a received message, the new state, the in-order counter and
 *     its events commit in one transaction before the acknowledgement;
 *   - a crash between commit and send only delays: unacknowledged
 *     messages are encrypted again and resent, and the receiver's
 *     counter and the message id make the second copy a no-op.
 *
 * Relays (DESIGN.md 7, docs/PROTOCOL-relay.md): when a contact stays
 * offline and its card names home relays, the texts in flight are also
 * left, sealed, in the pair's mailbox at those relays; a node fetches its
 * own mailboxes at its home relays at start and every few minutes, takes
 * what it finds as if it came over a link, and deletes it at the relay
 * only after the commit.  Frames 0x21 and 0x23 (relay answers) go to the
 * relay client inside; requests (0x20, 0x22) are the relay service's
 * (node/relay.h), which the daemon feeds itself.
 *
 * Errors: 0 or negative errno: -EINVAL (bad argument, own key), -ENOENT
 * (not a contact), -EEXIST (already a contact), -EPERM (wrong contact
 * state for this), -E2BIG, -ENOMEM, store errors. */
#ifndef PARLEY_NODE_CHAT_H
#define PARLEY_NODE_CHAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/keys.h"
#include "crypto/rng.h"
#include "dht/dht.h"
#include "node/env.h"
#include "node/events.h"
#include "node/link.h"
#include "node/msgstore.h"
#include "store/store.h"

#define CHAT_PK_LEN 32
#define CHAT_ID_LEN MSGSTORE_ID_LEN

struct chat_config {
	const struct clock *clock;
	const struct rng *rng;
	const struct cx_identity *id;
	struct store *store;
	struct msgstore *msgs;
	struct events *events;
	struct link_mgr *links;
	struct dht *dht;
	/* Our home relays (node keys): published in the card, fetched from
	 * for texts left while we were offline.  May be none. */
	const uint8_t (*home_relays)[32];
	unsigned num_home_relays;
	/* with none named: choose up to 3 from the relay adverts in the DHT
	 * (kept in META, so the choice stays across restarts) */
	bool home_relays_auto;
	/* Events were appended: wake subscribed clients (may be NULL). */
	void (*notify)(void *self);
	/* Deadlines of links or the DHT may have moved (may be NULL). */
	void (*kick)(void *self);
	void *self;
};

struct chat;

/* Creates the engine and loads its settings and prekeys.  cfg's pointers
 * must outlive it.  Returns 0, -ENOMEM or a store error. */
int chat_new(struct chat **out, const struct chat_config *cfg);
void chat_free(struct chat *c);

/* Starts what runs in the background: card and rendezvous publication,
 * reconnecting to contacts.  Call once the DHT is bootstrapping. */
void chat_start(struct chat *c);

/* Link callbacks, forwarded by the daemon. */
void chat_link_up(struct chat *c, const uint8_t node_pk[static LINK_PK_LEN]);
void chat_link_data(struct chat *c, const uint8_t node_pk[static LINK_PK_LEN],
		    const uint8_t *data, size_t len);
void chat_link_down(struct chat *c, const uint8_t node_pk[static LINK_PK_LEN]);

/* Commits what the calls since the last flush received or decided (in
 * one transaction: one fsync per loop turn however many messages came
 * in), then sends what it allows: acknowledgements, new and resent
 * messages.  The daemon calls it once per loop turn after I/O; the link
 * callbacks above never write to the store themselves. */
void chat_flush(struct chat *c);

/* Runs timers (retransmits, lookups, republication).  Returns the next
 * deadline in monotonic ms, UINT64_MAX when none. */
uint64_t chat_tick(struct chat *c);

/* Sends a goodbye to online contacts (clean stop: presence offline). */
void chat_goodbye(struct chat *c);

/* ---- What the API calls ---- */

int chat_contact_add(struct chat *c, const uint8_t pk[static CHAT_PK_LEN],
		     const char *name, const char *greeting);
int chat_contact_accept(struct chat *c, const uint8_t pk[static CHAT_PK_LEN]);
int chat_contact_reject(struct chat *c, const uint8_t pk[static CHAT_PK_LEN]);
int chat_contact_remove(struct chat *c, const uint8_t pk[static CHAT_PK_LEN]);
int chat_contact_block(struct chat *c, const uint8_t pk[static CHAT_PK_LEN],
		       bool block);

/* Queues a text message (durable on return). */
int chat_send(struct chat *c, const uint8_t to[static CHAT_PK_LEN],
	      const uint8_t *body, size_t len, const uint8_t *reply_to,
	      uint8_t id_out[static CHAT_ID_LEN]);

/* The outcome of chat_send_async: err 0 and the message's id and first
 * status (MSGSTORE_STATUS_QUEUED, or _SENT when it went out in the same
 * commit), or a negative errno and id NULL. */
typedef void (*chat_send_cb)(void *arg, int err, const uint8_t *id,
			     int status);

/* Queues a text message for the next flush, which stores it (and, when
 * the contact is online with room in flight, encrypts and sends it) in
 * its one transaction, then calls cb.  Checks (contact state, size,
 * UTF-8) fail at once, without cb.  -EAGAIN when too much is pending. */
int chat_send_async(struct chat *c, const uint8_t to[static CHAT_PK_LEN],
		    const uint8_t *body, size_t len, const uint8_t *reply_to,
		    chat_send_cb cb, void *arg);

/* Marks incoming messages read up to up_to (NULL: the newest) and sends
 * read receipts when they are on for that contact.  *marked gets the
 * count. */
int chat_mark_read(struct chat *c, const uint8_t with[static CHAT_PK_LEN],
		   const uint8_t *up_to, size_t *marked);

/* Typing indicator to an online contact (ephemeral).  -ENOTCONN when the
 * contact is not online. */
int chat_typing(struct chat *c, const uint8_t to[static CHAT_PK_LEN],
		bool typing);

/* Whether the contact has a link to us now. */
bool chat_online(const struct chat *c, const uint8_t pk[static CHAT_PK_LEN]);

struct chat_settings {
	bool read_receipts;   /* global default */
	bool accept_requests; /* publish the request rendezvous */
};
void chat_settings_get(const struct chat *c, struct chat_settings *s);
int chat_settings_set(struct chat *c, const struct chat_settings *s);

/* Counters for node.status / tests. */
struct chat_status {
	unsigned sessions_loaded;
	unsigned peers;	/* contacts (and strangers asking) held in memory */
	unsigned peers_online;
	uint64_t frames_in, frames_out, frames_dropped;
	uint64_t msgs_in, msgs_out, retransmits, dup_in, acks_in;
	uint64_t lookups;
	/* each contact's records put in the DHT, and of them those that
	 * some node stored */
	uint64_t records_put, records_published;
	uint64_t msgs_out_cached; /* queued texts sent from memory */
	/* relays: texts left at a contact's relays (all parts stored by at
	 * least one), texts taken from ours, fetch requests answered */
	uint64_t relay_deposited, relay_taken, relay_fetches;
	uint64_t relay_ctl_deposited; /* requests and acceptances left */
	uint64_t relay_notified;      /* NOTIFYs from our home relays */
	uint64_t relay_acks_out, relay_acks_in; /* acks through relays */
	uint64_t relay_reads_out, relay_reads_in; /* read receipts, too */
	uint64_t relay_deposit_failed, relay_fetch_failed;
	uint64_t relay_polls, relay_poll_failed; /* POLLs answered, failed */
	/* advertised relays that failed the probe before --home-relay auto
	 * could choose them */
	uint64_t relay_probes_failed;
	uint64_t relay_notify_fetches; /* mailboxes fetched at a NOTIFY */
};
void chat_status(const struct chat *c, struct chat_status *st);

/* Our home relays now (named, or chosen with auto): up to max node keys
 * into out; returns how many. */
unsigned chat_home_relays(const struct chat *c, uint8_t (*out)[32],
			  unsigned max);

#endif
