/* The durable data layer of one-to-one messaging (DESIGN.md sections 3 and
 * 6): contacts, messages per conversation, the dedupe index and the outbox,
 * in the LMDB tables CONTACTS, MESSAGES, MSGIDS, OUTBOX and META of store/.
 * Record layouts: docs/PROTOCOL-store.md.
 *
 * Pure over store/: no sockets, no clock (times are arguments, in Unix
 * milliseconds, *_ms), randomness from the injected struct rng (message ids
 * and nonces).  Every public function is one LMDB transaction (but the
 * *_txn variants, which join the caller's): when it returns 0 the change
 * is durable (unless the store was opened no_sync), and when it fails
 * nothing of it was written.
 *
 * At rest, message bodies are zstd-compressed and then sealed with
 * XChaCha20-Poly1305 under a key derived from the identity's storage key
 * (cx_store_subkey, context "msgbody1"); contact names and greetings are
 * sealed likewise (context "contact1").  The associated data binds each
 * sealed blob to its record key and immutable fields, so records cannot be
 * swapped or moved.  A copied database without the key file reveals no
 * body, name or greeting (it does reveal who, when and how much).
 *
 * Ownership: msgstore_open() returns a struct msgstore that borrows the
 * store (which must outlive it) and owns copies of the derived keys (in
 * guarded memory, wiped by msgstore_close()).  Message bodies handed out
 * are malloc'd and owned by the struct msgstore_msg; msgstore_msg_clear()
 * frees them.
 *
 * Errors: 0 or negative errno:
 *   -EINVAL       bad argument (length over its max, invalid UTF-8, NULL,
 *                 an enum value out of range, a forbidden transition)
 *   -ENOENT       no such contact or message
 *   -EEXIST       contact already present (msgstore_contact_add)
 *   -EALREADY     status change refused: the message was already
 *                 delivered or read (cancel, fail)
 *   -EBADMSG      a stored record is malformed (corrupt database)
 *   -EKEYREJECTED a sealed record does not authenticate: tampered or
 *                 moved record, or (msgstore_open) the storage key is not
 *                 the one this database was written with
 *   -EPROTONOSUPPORT the database was written by a newer schema
 *   -ENOMEM, -ENOSPC, -EIO from store/ */
#ifndef PARLEY_NODE_MSGSTORE_H
#define PARLEY_NODE_MSGSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/keys.h"
#include "crypto/rng.h"
#include "store/store.h"

#define MSGSTORE_PK_LEN 32	      /* account public key, Ed25519 */
#define MSGSTORE_ID_LEN 16	      /* message id, 128 random bits */
#define MSGSTORE_NAME_MAX 64	      /* bytes of a display name */
#define MSGSTORE_GREETING_MAX 1024    /* bytes of a request greeting */
#define MSGSTORE_BODY_MAX (64 * 1024) /* bytes of a message body */
#define MSGSTORE_LIST_MAX 1000	      /* messages per msgstore_list */
#define MSGSTORE_SCHEMA 1	      /* META "msgstore.schema" */

enum msgstore_contact_state {
	MSGSTORE_CONTACT_REQUESTED_BY_US = 1,
	MSGSTORE_CONTACT_REQUESTED_BY_THEM = 2,
	MSGSTORE_CONTACT_ACCEPTED = 3,
	MSGSTORE_CONTACT_REJECTED = 4,
	MSGSTORE_CONTACT_BLOCKED = 5,
};

/* Per-contact read-receipt setting; DEFAULT follows the global default
 * (msgstore_receipts_default_set). */
enum msgstore_receipts {
	MSGSTORE_RECEIPTS_DEFAULT = 0,
	MSGSTORE_RECEIPTS_ON = 1,
	MSGSTORE_RECEIPTS_OFF = 2,
};

enum msgstore_dir {
	MSGSTORE_DIR_IN = 1,
	MSGSTORE_DIR_OUT = 2,
};

/* Outgoing: QUEUED -> SENT -> DELIVERED -> READ, only forward; FAILED and
 * CANCELLED end the attempts (and a late receipt may still move them to
 * DELIVERED or READ, since it proves delivery).  Incoming: RECEIVED ->
 * READ (msgstore_mark_read). */
enum msgstore_status {
	MSGSTORE_STATUS_QUEUED = 1,
	MSGSTORE_STATUS_SENT = 2,
	MSGSTORE_STATUS_DELIVERED = 3,
	MSGSTORE_STATUS_READ = 4,
	MSGSTORE_STATUS_FAILED = 5,
	MSGSTORE_STATUS_CANCELLED = 6,
	MSGSTORE_STATUS_RECEIVED = 7,
};

/* Stable lower-case names ("requested_by_us", "queued", "in", ...) for
 * the API; NULL for a value out of range. */
const char *msgstore_contact_state_name(enum msgstore_contact_state s);
const char *msgstore_status_name(enum msgstore_status s);
const char *msgstore_dir_name(enum msgstore_dir d);

struct msgstore;

/* Opens the messaging layer over store s for the identity id: derives the
 * at-rest keys, and checks them against the key check value in META (or
 * writes one on first use).  rng (kept, must outlive the msgstore) gives
 * nonces and message ids.  Returns 0 and *out, -EKEYREJECTED when the
 * storage key is not the one this database was written with,
 * -EPROTONOSUPPORT for a newer schema, -EINVAL, -ENOMEM or a store error. */
int msgstore_open(struct msgstore **out, struct store *s,
		  const struct cx_identity *id, const struct rng *rng);

/* Wipes the keys and frees; NULL-safe.  Does not close the store. */
void msgstore_close(struct msgstore *ms);

/* ---- Contacts (CONTACTS: account pk -> record) ---- */

struct msgstore_contact {
	uint8_t pk[MSGSTORE_PK_LEN];
	enum msgstore_contact_state state;
	enum msgstore_receipts receipts;
	char name[MSGSTORE_NAME_MAX + 1];	  /* UTF-8, NUL-terminated */
	char greeting[MSGSTORE_GREETING_MAX + 1]; /* UTF-8, may be empty */
	uint64_t created_ms;
	uint64_t updated_ms;
	uint64_t last_seen_ms; /* 0: never */
};

/* Adds c (pk, state, receipts, name, greeting, last_seen_ms are taken from
 * it; created_ms and updated_ms are set to now_ms).  Name and greeting
 * must be valid UTF-8 without NUL within their max.  -EEXIST if the pk is
 * already a contact. */
int msgstore_contact_add(struct msgstore *ms, const struct msgstore_contact *c,
			 uint64_t now_ms);

/* Copies the contact into *out.  -ENOENT when absent. */
int msgstore_contact_get(struct msgstore *ms,
			 const uint8_t pk[static MSGSTORE_PK_LEN],
			 struct msgstore_contact *out);

/* The user's own display name (profile.set / profile.get), sealed under
 * the contact key in META "profile.name"; "" when never set.  set takes
 * UTF-8 without NUL, at most MSGSTORE_NAME_MAX bytes (-EINVAL otherwise);
 * get answers -EBADMSG or -EKEYREJECTED for a stored value that does not
 * open.  get_txn reads inside the caller's transaction. */
int msgstore_profile_set(struct msgstore *ms, const char *name);
int msgstore_profile_get(struct msgstore *ms,
			 char name[static MSGSTORE_NAME_MAX + 1]);
int msgstore_profile_get_txn(struct msgstore *ms, struct store_txn *t,
			     char name[static MSGSTORE_NAME_MAX + 1]);

/* The contact's state alone, without opening its sealed fields (the
 * send path's check).  -ENOENT when absent. */
int msgstore_contact_state(struct msgstore *ms,
			   const uint8_t pk[static MSGSTORE_PK_LEN],
			   enum msgstore_contact_state *state);

/* Setters; each sets updated_ms = now_ms (set_seen only sets last_seen_ms,
 * never backwards).  -ENOENT when absent. */
int msgstore_contact_set_state(struct msgstore *ms,
			       const uint8_t pk[static MSGSTORE_PK_LEN],
			       enum msgstore_contact_state state,
			       uint64_t now_ms);
int msgstore_contact_set_name(struct msgstore *ms,
			      const uint8_t pk[static MSGSTORE_PK_LEN],
			      const char *name, uint64_t now_ms);
int msgstore_contact_set_greeting(struct msgstore *ms,
				  const uint8_t pk[static MSGSTORE_PK_LEN],
				  const char *greeting, uint64_t now_ms);
int msgstore_contact_set_receipts(struct msgstore *ms,
				  const uint8_t pk[static MSGSTORE_PK_LEN],
				  enum msgstore_receipts receipts,
				  uint64_t now_ms);
int msgstore_contact_set_seen(struct msgstore *ms,
			      const uint8_t pk[static MSGSTORE_PK_LEN],
			      uint64_t seen_ms);

/* The contact operations inside the caller's write transaction t (see
 * the *_txn note below for how to use them from a store_write()). */
int msgstore_contact_add_txn(struct msgstore *ms, struct store_txn *t,
			     const struct msgstore_contact *c, uint64_t now_ms);
int msgstore_contact_get_txn(struct msgstore *ms, struct store_txn *t,
			     const uint8_t pk[static MSGSTORE_PK_LEN],
			     struct msgstore_contact *out);
int msgstore_contact_set_state_txn(struct msgstore *ms, struct store_txn *t,
				   const uint8_t pk[static MSGSTORE_PK_LEN],
				   enum msgstore_contact_state state,
				   uint64_t now_ms);
int msgstore_contact_set_name_txn(struct msgstore *ms, struct store_txn *t,
				  const uint8_t pk[static MSGSTORE_PK_LEN],
				  const char *name, uint64_t now_ms);
int msgstore_contact_set_seen_txn(struct msgstore *ms, struct store_txn *t,
				  const uint8_t pk[static MSGSTORE_PK_LEN],
				  uint64_t seen_ms);

/* Removes the contact record (the conversation's messages stay).
 * -ENOENT when absent. */
int msgstore_contact_remove(struct msgstore *ms,
			    const uint8_t pk[static MSGSTORE_PK_LEN]);

/* Lists up to max contacts with pk > after (after NULL: from the first),
 * in public key order, which is stable across calls and restarts: page by
 * passing the last pk returned.  *n gets the count. */
int msgstore_contact_list(struct msgstore *ms, const uint8_t *after,
			  struct msgstore_contact *out, size_t max, size_t *n);

/* *blocked = whether pk is a contact in state BLOCKED.  0 or an error; on
 * error *blocked is true (fail closed: the caller drops the message). */
int msgstore_contact_blocked(struct msgstore *ms,
			     const uint8_t pk[static MSGSTORE_PK_LEN],
			     bool *blocked);

/* Global read-receipt default (META), true when never set. */
int msgstore_receipts_default_get(struct msgstore *ms, bool *on);
int msgstore_receipts_default_set(struct msgstore *ms, bool on);

/* Whether to send read receipts to pk: its own setting, else the global
 * default (also for a pk that is not a contact). */
int msgstore_receipts_for(struct msgstore *ms,
			  const uint8_t pk[static MSGSTORE_PK_LEN], bool *on);

/* ---- Messages (MESSAGES: peer || seq -> record; MSGIDS: id -> where) ---- */

struct msgstore_msg {
	uint8_t peer[MSGSTORE_PK_LEN]; /* the conversation */
	uint64_t seq;		       /* local order in it, from 1 */
	uint8_t id[MSGSTORE_ID_LEN];
	enum msgstore_dir dir;
	enum msgstore_status status;
	uint8_t from[MSGSTORE_PK_LEN]; /* sender's account pk */
	uint64_t sent_ms;	       /* sender's timestamp */
	uint64_t stored_ms;	       /* when we stored it */
	uint64_t status_ms;	       /* last status change */
	bool has_reply_to;
	uint8_t reply_to[MSGSTORE_ID_LEN];
	uint8_t *body; /* malloc'd, body_len bytes + a NUL; NULL if not read */
	size_t body_len;
};

/* Frees the body; NULL-safe. */
void msgstore_msg_clear(struct msgstore_msg *m);

/* Stores a new outgoing message to peer in ONE transaction: the message
 * (status QUEUED, from = our account, sent_ms = now_ms) and its outbox
 * entry (attempts 0, next attempt now_ms).  Durable when this returns 0
 * (DESIGN.md 6: "a message is in the LMDB outbox before messages.send
 * returns").  reply_to may be NULL.  id_out gets the new random id,
 * *seq_out (may be NULL) its sequence number. */
int msgstore_send(struct msgstore *ms,
		  const uint8_t peer[static MSGSTORE_PK_LEN],
		  const uint8_t *body, size_t body_len, const uint8_t *reply_to,
		  uint64_t now_ms, uint8_t id_out[static MSGSTORE_ID_LEN],
		  uint64_t *seq_out);

/* An incoming message as the session layer decrypted it. */
struct msgstore_incoming {
	const uint8_t *peer; /* conversation (MSGSTORE_PK_LEN) */
	const uint8_t *id;   /* MSGSTORE_ID_LEN */
	const uint8_t *from; /* sender account (MSGSTORE_PK_LEN) */
	uint64_t sent_ms;
	const uint8_t *reply_to; /* NULL: none */
	const uint8_t *body;
	size_t body_len;
};

/* Stores an incoming message (status RECEIVED, stored_ms = now_ms).  If a
 * message with the same id is already stored (from anyone, in either
 * direction), nothing changes and *duplicate is set: delivery is
 * at-least-once, history exactly-once (DESIGN.md 6).  *seq_out (may be
 * NULL) gets the new message's seq, or the stored one's on a duplicate
 * (which is in another conversation if another peer used that id first). */
int msgstore_receive(struct msgstore *ms, const struct msgstore_incoming *in,
		     uint64_t now_ms, uint64_t *seq_out, bool *duplicate);

/* A new message id: the creation time in milliseconds (48 bits, big
 * endian) then 80 random bits.  Ids made on one node sort by time, so the
 * id index grows at its end (one page a commit) instead of at random
 * places (a page per message); 80 random bits keep ids unguessable and,
 * within one millisecond, apart. */
void msgstore_new_id(const struct rng *rng, uint64_t now_ms,
		     uint8_t id[static MSGSTORE_ID_LEN]);

/* The body of the message at (peer, seq), which must carry id, read in a
 * caller's transaction t: for the event log, whose message.received
 * events refer to the history (events_body_fn, node/events.h; ctx is the
 * struct msgstore).  *body is malloc'd and NUL-terminated; the caller
 * wipes and frees it.  -ENOENT when no such message is there. */
int msgstore_event_body(void *ctx, struct store_txn *t,
			const uint8_t peer[32], uint64_t seq,
			const uint8_t id[16], uint8_t **body, size_t *len);

/* Reads one message by id (with its body).  -ENOENT when absent. */
int msgstore_get(struct msgstore *ms, const uint8_t id[static MSGSTORE_ID_LEN],
		 struct msgstore_msg *out);
/* The same with a hint of where it is (its peer and seq, as the outbox
 * lists them): one lookup instead of two when the hint is right, the
 * lookup by id when it is not (or peer is NULL or seq 0). */
int msgstore_get_at(struct msgstore *ms,
		    const uint8_t id[static MSGSTORE_ID_LEN],
		    const uint8_t *peer, uint64_t seq, struct msgstore_msg *out);

/* Lists, oldest first, the limit (1..MSGSTORE_LIST_MAX) messages of the
 * conversation with peer that come just before before_id (NULL: the
 * newest limit).  out must hold limit entries; *n gets how many were
 * filled, each with its body (msgstore_msg_clear each).  -ENOENT when
 * before_id is not a message of this conversation.  On failure nothing
 * is left allocated in out. */
int msgstore_list(struct msgstore *ms,
		  const uint8_t peer[static MSGSTORE_PK_LEN],
		  const uint8_t *before_id, size_t limit,
		  struct msgstore_msg *out, size_t *n);

/* Moves an outgoing message's status (see enum msgstore_status).  A step
 * backwards or to the same status (receipts arrive out of order) changes
 * nothing and sets *changed false; QUEUED as a target, or an incoming
 * message, is -EINVAL; FAILED or CANCELLED after DELIVERED is -EALREADY.
 * Reaching DELIVERED, READ, FAILED or CANCELLED removes the outbox entry
 * in the same transaction.  peer: for a receipt, the account it came
 * from; the message must belong to that conversation, else -ENOENT (a
 * peer cannot move the status of messages sent to someone else); NULL for
 * local actions (cancel).  *changed and *old_out may be NULL. */
int msgstore_set_status(struct msgstore *ms, const uint8_t *peer,
			const uint8_t id[static MSGSTORE_ID_LEN],
			enum msgstore_status status, uint64_t now_ms,
			bool *changed, enum msgstore_status *old_out);

/* Marks as READ every incoming message of the conversation with peer up to
 * and including up_to_id (which may be of either direction).  *ids gets a
 * malloc'd array of *n_ids message ids (MSGSTORE_ID_LEN bytes each, oldest
 * first) that changed, so the caller can send receipts and emit events;
 * NULL when none.  -ENOENT when up_to_id is not in this conversation. */
int msgstore_mark_read(struct msgstore *ms,
		       const uint8_t peer[static MSGSTORE_PK_LEN],
		       const uint8_t up_to_id[static MSGSTORE_ID_LEN],
		       uint64_t now_ms, uint8_t **ids, size_t *n_ids);

/* The same writes inside the caller's write transaction t, so that
 * they commit together with the caller's own writes (say the event that
 * announces them: events.* in the same transaction, so that a crash can
 * lose neither).  Run them from a store_write() function: that function
 * may run more than once (store_write grows the map and starts again), so
 * outputs are valid only after store_write() returned 0, and each run
 * draws a new id (send).  On any error, part of the writes may be in t:
 * the caller aborts it (its function returns the error).  Nothing is
 * written for a status step that changes nothing. */
int msgstore_send_txn(struct msgstore *ms, struct store_txn *t,
		      const uint8_t peer[static MSGSTORE_PK_LEN],
		      const uint8_t *body, size_t body_len,
		      const uint8_t *reply_to, uint64_t now_ms,
		      uint8_t id_out[static MSGSTORE_ID_LEN],
		      uint64_t *seq_out);
/* As msgstore_send_txn with the id chosen by the caller (drawn before the
 * transaction, so that a rerun keeps it) and the first status QUEUED or
 * SENT (already encrypted for the wire in the same transaction).  The id
 * must be new: a collision is -EEXIST.  *obx_out (if not NULL) gets the
 * text's outbox seq. */
int msgstore_send_id_txn(struct msgstore *ms, struct store_txn *t,
			 const uint8_t peer[static MSGSTORE_PK_LEN],
			 const uint8_t *body, size_t body_len,
			 const uint8_t *reply_to, uint64_t now_ms,
			 const uint8_t id[static MSGSTORE_ID_LEN],
			 enum msgstore_status status, uint64_t *seq_out,
			 uint64_t *obx_out);
int msgstore_receive_txn(struct msgstore *ms, struct store_txn *t,
			 const struct msgstore_incoming *in, uint64_t now_ms,
			 uint64_t *seq_out, bool *duplicate);
int msgstore_set_status_txn(struct msgstore *ms, struct store_txn *t,
			    const uint8_t *peer,
			    const uint8_t id[static MSGSTORE_ID_LEN],
			    enum msgstore_status status, uint64_t now_ms,
			    bool *changed, enum msgstore_status *old_out);
/* ... with the hint of msgstore_get_at (seq in peer's conversation). */
int msgstore_set_status_at_txn(struct msgstore *ms, struct store_txn *t,
			       const uint8_t *peer, uint64_t seq,
			       const uint8_t id[static MSGSTORE_ID_LEN],
			       enum msgstore_status status, uint64_t now_ms,
			       bool *changed, enum msgstore_status *old_out);
/* As msgstore_mark_read, in t.  *ids must be NULL on the first run: each
 * run frees what the previous one left in *ids and sets it anew, so the
 * caller frees only the final one (also after an error: it is NULL). */
int msgstore_mark_read_txn(struct msgstore *ms, struct store_txn *t,
			   const uint8_t peer[static MSGSTORE_PK_LEN],
			   const uint8_t up_to_id[static MSGSTORE_ID_LEN],
			   uint64_t now_ms, uint8_t **ids, size_t *n_ids);

/* ---- Outbox (OUTBOX: outbox seq -> entry) ---- */

struct msgstore_outbox_entry {
	uint64_t obx_seq; /* send order over all peers */
	uint8_t peer[MSGSTORE_PK_LEN];
	uint64_t seq; /* of the message in its conversation */
	uint8_t id[MSGSTORE_ID_LEN];
	uint32_t attempts;
	uint64_t queued_ms;
	uint64_t next_attempt_ms;
};

/* The largest outbox seq given out or found by this handle: every entry
 * in the outbox now has one at most this, and entries made later get
 * larger ones (within one run a seq is never given twice). */
uint64_t msgstore_outbox_hi(const struct msgstore *ms);

/* Lists up to max outbox entries with obx_seq > after (0: from the first),
 * in send order; peer NULL for all, else only that peer's.  Fewer than
 * max: there are no more past the last one listed. */
int msgstore_outbox_list(struct msgstore *ms, const uint8_t *peer,
			 uint64_t after, struct msgstore_outbox_entry *out,
			 size_t max, size_t *n);

/* Lists, in send order, up to max outbox entries due at now_ms
 * (next_attempt_ms <= now_ms), and sets *next_ms to the earliest
 * next_attempt_ms of the entries not listed (UINT64_MAX: none), so the
 * caller knows when to look again. */
int msgstore_outbox_due(struct msgstore *ms, uint64_t now_ms,
			struct msgstore_outbox_entry *out, size_t max,
			size_t *n, uint64_t *next_ms);

/* Records a send attempt of message id: attempts + 1, next attempt at
 * next_attempt_ms (the caller's backoff).  -ENOENT when it is not in the
 * outbox. */
int msgstore_outbox_attempt(struct msgstore *ms,
			    const uint8_t id[static MSGSTORE_ID_LEN],
			    uint64_t next_attempt_ms);

/* ---- Consistency ---- */

struct msgstore_check_stats {
	uint64_t messages; /* records in MESSAGES */
	uint64_t outbox;   /* entries in OUTBOX */
	uint64_t contacts;
};

/* Checks the whole layer: every message record parses and its body
 * authenticates, MSGIDS and MESSAGES map one-to-one, every outgoing
 * message in QUEUED or SENT has exactly its outbox entry and no other
 * message has one.  0, or -EBADMSG / -EKEYREJECTED at the first fault. */
int msgstore_check(struct msgstore *ms, struct msgstore_check_stats *st);

/* ---- Record codecs, for tests and fuzzing (docs/PROTOCOL-store.md) ----
 *
 * Decoders check everything (version, enums, reserved bits, lengths,
 * canonical forms) and return 0 or -EBADMSG; anything they accept encodes
 * back to the same bytes.  Pointers in the decoded structs point into the
 * input buffer. */

#define MSGSTORE_REC_VERSION 1
#define MSGSTORE_NONCE_LEN 24
#define MSGSTORE_TAG_LEN 16

struct msgstore__contact_rec {
	uint8_t state;
	uint8_t receipts;
	uint64_t created_ms, updated_ms, last_seen_ms;
	uint8_t nonce[MSGSTORE_NONCE_LEN];
	const uint8_t *ct; /* sealed name and greeting */
	size_t ct_len;
};
#define MSGSTORE__CONTACT_HDR_LEN 54
int msgstore__contact_rec_decode(struct msgstore__contact_rec *r,
				 const uint8_t *buf, size_t len);
int msgstore__contact_rec_encode(const struct msgstore__contact_rec *r,
				 uint8_t *out, size_t out_max, size_t *len);

/* The plaintext inside a contact's seal: name_len (1) || name ||
 * greeting_len (2, BE) || greeting. */
int msgstore__contact_pt_decode(struct msgstore_contact *c, const uint8_t *buf,
				size_t len);
int msgstore__contact_pt_encode(const struct msgstore_contact *c, uint8_t *out,
				size_t out_max, size_t *len);

struct msgstore__msg_rec {
	uint8_t dir, status, flags;
	uint8_t id[MSGSTORE_ID_LEN];
	uint8_t from[MSGSTORE_PK_LEN];
	uint64_t sent_ms, stored_ms, status_ms;
	uint8_t reply_to[MSGSTORE_ID_LEN];
	uint64_t obx_seq; /* 0: not in the outbox */
	uint8_t nonce[MSGSTORE_NONCE_LEN];
	const uint8_t *ct; /* sealed zstd frame of the body (the body as it
			    * is with MSGSTORE__MSG_FLAG_RAW) */
	size_t ct_len;
};
#define MSGSTORE__MSG_HDR_LEN 128
#define MSGSTORE__MSG_FLAG_REPLY 0x01
#define MSGSTORE__MSG_FLAG_RAW 0x02 /* body not compressed (short) */
#define MSGSTORE__MSG_FLAGS (MSGSTORE__MSG_FLAG_REPLY | MSGSTORE__MSG_FLAG_RAW)
/* Bodies up to this many bytes are kept as they are: zstd's frame costs
 * more than it can save on them, and the time on both sides of a chat. */
#define MSGSTORE__RAW_MAX 128
/* The zstd level of longer bodies.  On a 1,372-byte chat text (bench/
 * bench_util.h's generator, which compresses like English) level 1 gives
 * 835 bytes in 3.9 us, the default (3) 839 bytes in 6.4 us: on bodies this
 * short the higher levels' larger tables cost time and find nothing more.
 * Negative (fast) levels leave such text uncompressed. */
#define MSGSTORE__ZSTD_LEVEL 1
int msgstore__msg_rec_decode(struct msgstore__msg_rec *r, const uint8_t *buf,
			     size_t len);
int msgstore__msg_rec_encode(const struct msgstore__msg_rec *r, uint8_t *out,
			     size_t out_max, size_t *len);

struct msgstore__msgid_rec {
	uint8_t peer[MSGSTORE_PK_LEN];
	uint64_t seq;
};
#define MSGSTORE__MSGID_LEN 41
int msgstore__msgid_rec_decode(struct msgstore__msgid_rec *r,
			       const uint8_t *buf, size_t len);
int msgstore__msgid_rec_encode(const struct msgstore__msgid_rec *r,
			       uint8_t out[static MSGSTORE__MSGID_LEN]);

#define MSGSTORE__OUTBOX_LEN 77
int msgstore__outbox_rec_decode(struct msgstore_outbox_entry *e,
				const uint8_t *buf, size_t len);
/* e->obx_seq is the key, not part of the value. */
int msgstore__outbox_rec_encode(const struct msgstore_outbox_entry *e,
				uint8_t out[static MSGSTORE__OUTBOX_LEN]);

/* Strict UTF-8 (RFC 3629: no overlongs, surrogates or values above
 * U+10FFFF); NUL allowed only when allow_nul. */
bool msgstore__utf8_valid(const uint8_t *s, size_t len, bool allow_nul);

#endif
