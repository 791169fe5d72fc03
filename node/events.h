/* The event log: every event the daemon reports to apps, in LMDB, under a
 * sequence number that only grows, across restarts too (DESIGN.md 9).
 * Clients replay from any seq still kept; the log keeps the newest
 * max_keep events and prunes older ones, and a client that asks for a
 * pruned range is told so (events.overflow), never silently skipped.
 *
 * A stored event is `type NUL json`, where json is the compact object
 * {"seq":N,"type":"...","at":MS,"data":{...}} that apps receive as the
 * params of an "event" notification. */
#ifndef PARLEY_NODE_EVENTS_H
#define PARLEY_NODE_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/keys.h"
#include "crypto/rng.h"
#include "store/store.h"

#define EVENTS_TYPE_MAX 64	    /* bytes of a type name */
#define EVENTS_DATA_MAX (512 * 1024) /* bytes of one event's data JSON: a
				     * 64 KiB message body, escaped */

/* The type under which events_read passes on an event whose stored
 * value cannot be opened (data: {"reason": "..."}). */
#define EVENTS_UNREADABLE "events.unreadable"

/* The newest events stay in memory as well (plaintext, type NUL json),
 * so that the API's readers, who are usually just behind, get them
 * without a store read and an AEAD open each; bounded in count and
 * bytes, always a run of consecutive seqs ending at the newest. */
#define EVENTS_MEM_MAX 512
#define EVENTS_MEM_BYTES (1u << 20)

/* A message.received event refers to the message instead of carrying its
 * body in the log (below, events_append_ref_txn): the body is in the
 * history already, compressed and sealed, and the log kept a second,
 * larger copy of every body it holds (100,000 events by default).  The
 * reader fills it in from the history through this function, called in
 * the reader's transaction t: *body (malloc'd, NUL-terminated, the caller
 * wipes and frees it) and *len, or -ENOENT when the history no longer has
 * that message (the event then says body_omitted), or another negative
 * errno. */
typedef int (*events_body_fn)(void *ctx, struct store_txn *t,
			      const uint8_t peer[32], uint64_t seq,
			      const uint8_t id[16], uint8_t **body,
			      size_t *len);

/* Where the body of an event's data is, and whose message it is. */
struct events_ref {
	const uint8_t *peer; /* 32 bytes: the conversation */
	uint64_t seq;	     /* the message's place in it */
	const uint8_t *id;   /* 16 bytes: the message id */
	size_t body_at;	     /* offset in data_json of the body's string */
	size_t body_len;     /* its length there, quotes included */
};

struct events_mem {
	uint64_t seq;
	char *pt; /* type NUL json, malloc'd */
	size_t len;
};

struct events {
	struct store *store;
	const struct rng *rng; /* nonces */
	uint8_t *key;	       /* the sealing key, guarded memory */
	uint8_t *buf;	       /* the value being read, opened */
	size_t buf_cap;
	struct events_mem *mem; /* ring of EVENTS_MEM_MAX */
	unsigned mem_head, mem_n; /* oldest slot, count */
	size_t mem_bytes;
	struct events_mem *pend; /* a batch's, until events_batch_commit */
	unsigned pend_n, pend_cap;
	events_body_fn body_fn; /* events_set_body_fn */
	void *body_ctx;
	uint64_t first_seq; /* oldest kept; last_seq + 1 when empty */
	uint64_t last_seq;  /* newest ever written; 0 before the first */
	uint64_t max_keep;
};

/* Derives the sealing key from id's storage key, reads the log's bounds
 * from the store, and seals any event still stored in plaintext (written
 * before events were sealed).  0 or negative errno (ev is then closed).
 * Open the message store first: its key check proves id is the key file
 * the database was made with. */
int events_open(struct events *ev, struct store *s, uint64_t max_keep,
		const struct cx_identity *id, const struct rng *rng);

/* How the reader finds the bodies of events stored with a reference;
 * without it, such events are read with body_omitted. */
void events_set_body_fn(struct events *ev, events_body_fn fn, void *ctx);

/* Wipes the key and the read buffer; does not close the store.  Safe on
 * a closed or failed log. */
void events_close(struct events *ev);

/* Appends an event: type is [a-z0-9._] only, data_json a JSON object
 * (the caller's encoder made it).  Durable when this returns 0; *seq_out
 * (may be NULL) gets its number.  -EINVAL for a bad type, -E2BIG for data
 * over EVENTS_DATA_MAX, -ENOSPC when the store is full. */
int events_append(struct events *ev, uint64_t at_ms, const char *type,
		  const char *data_json, uint64_t *seq_out);

/* Appending inside a caller's write transaction, so that an event
 * commits together with the change it reports (a crash loses neither).
 * In the store_write() function, call events_batch_begin() first (the
 * function may run more than once), then events_append_txn() for each
 * event; after store_write() returned 0, events_batch_commit() makes the
 * numbers official.  If the transaction failed, just drop the batch. */
struct events_batch {
	uint64_t last_seq, first_seq;
	unsigned appended;
};
void events_batch_begin(struct events *ev, struct events_batch *b);
int events_append_txn(struct events *ev, struct store_txn *t,
		      struct events_batch *b, uint64_t at_ms, const char *type,
		      const char *data_json);
/* The same for an event whose data carries a message body where ref
 * says: apps get it whole (from memory, or filled in from the history by
 * the reader), the log stores it without the body. */
int events_append_ref_txn(struct events *ev, struct store_txn *t,
			  struct events_batch *b, uint64_t at_ms,
			  const char *type, const char *data_json,
			  const struct events_ref *ref);
void events_batch_commit(struct events *ev, const struct events_batch *b);

/* Calls cb for up to max_n events with seq > after, oldest first.  The
 * pointers are valid during the call only.  cb returns 0 to go on, > 0
 * to stop. Returns the number of events passed to cb, or negative errno. */
typedef int (*events_cb)(void *ctx, uint64_t seq, const char *type,
			 const char *json, size_t json_len);
int events_read(struct events *ev, uint64_t after, size_t max_n,
		events_cb cb, void *ctx);

#endif
