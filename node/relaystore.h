/* What a relay keeps (DESIGN.md section 7, docs/PROTOCOL-relay.md "At the
 * relay"): mailboxes of opaque blobs in the store's RELAY table, with
 * limits per mailbox, per source and for the whole relay, and a time to
 * live.  The relay learns nothing from a blob: senders seal them (chat's
 * job).
 *
 * Every function works inside a write or read transaction the caller owns
 * (store_write / store_read), so a relay's reply goes out only after what
 * it answers for is committed.  Pure over store/: no clock (now_s is an
 * argument), no allocation that outlives a call.
 *
 * Keys in RELAY (all integers big-endian):
 *   "T"                           -> totals: version 1 | next_seq 8 |
 *                                    items 8 | bytes 8
 *   "B" | mailbox 32              -> box: version 1 | items 4 | bytes 4
 *   "S" | source 8                -> source: version 1 | items 4 | bytes 8
 *   "I" | mailbox 32 | seq 8      -> item: version 2 | expiry_s 8 |
 *                                    source 8 | blob
 *                                    (or, written before sources were
 *                                    kept, version 1 | expiry_s 8 | blob)
 *   "X" | expiry_s 8 | mailbox 32 | seq 8 -> empty (expiry index)
 * seq comes from one counter for the whole relay (next_seq), so it never
 * repeats, even in a mailbox that was emptied and filled again.  A box
 * record exists exactly while its mailbox holds items, a source record
 * exactly while its source has items stored; "bytes" counts blob bytes.
 *
 * A source is an opaque 8-byte tag the caller chooses for whoever
 * deposits (the relay: a keyed hash of the depositor's address block), so
 * that one source cannot take the whole relay through many mailboxes.
 * All zero is the unknown source: the source of a version 1 item, counted
 * against no one; a deposit must name a known one.  Decoders of stored
 * values are strict (-EBADMSG) and exposed for the fuzz target.
 *
 * Errors: 0 or negative errno: -EINVAL (bad argument), -EDQUOT (mailbox at
 * its limit), -EUSERS (the source at its quota), -ENOSPC (relay budget
 * used up; also the store's full map), -EBADMSG (corrupt stored value),
 * store errors. */
#ifndef PARLEY_NODE_RELAYSTORE_H
#define PARLEY_NODE_RELAYSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/relay_wire.h"
#include "store/store.h"

/* A zero field takes the default in brackets. */
struct relaystore_limits {
	uint32_t box_items;   /* items per mailbox [1024] */
	uint32_t box_bytes;   /* blob bytes per mailbox [1 MiB] */
	uint64_t total_bytes; /* blob bytes in all [256 MiB] */
	uint64_t ttl_s;	      /* an item's life [14 days] */
	uint64_t source_bytes; /* blob bytes from one source [16 MiB] */
};
#define RELAYSTORE_BOX_ITEMS 1024u
#define RELAYSTORE_BOX_BYTES (1u << 20)
#define RELAYSTORE_TOTAL_BYTES (256ull << 20)
#define RELAYSTORE_TTL_S (14 * 86400ull)
#define RELAYSTORE_SOURCE_BYTES (16ull << 20)

#define RELAYSTORE_SOURCE_LEN 8

/* Fills zero fields of lim with the defaults. */
void relaystore_limits_default(struct relaystore_limits *lim);

/* Stores blob (1..RELAY_BLOB_MAX bytes) from source (not all zero) in
 * mailbox with expiry now_s + ttl_s; *seq gets its seq.  Checked in this
 * order: -EDQUOT when the mailbox would exceed its count or bytes,
 * -EUSERS when the source would exceed source_bytes, -ENOSPC when the
 * relay would exceed total_bytes; nothing is written then. */
int relaystore_deposit(struct store_txn *t, const struct relaystore_limits *lim,
		       const uint8_t mailbox[static RELAY_MAILBOX_LEN],
		       const uint8_t source[static RELAYSTORE_SOURCE_LEN],
		       const uint8_t *blob, size_t len, uint64_t now_s,
		       uint64_t *seq);

/* Calls cb for each item of mailbox with seq > after and expiry > now_s,
 * oldest first, until cb returns non-zero (1: stop, negative: error,
 * returned as is).  Returns 0 or the error.  blob points into the store
 * and is valid only during the call (copy what you keep). */
typedef int (*relaystore_item_cb)(void *ctx, uint64_t seq,
				  const uint8_t *blob, size_t len);
int relaystore_fetch(struct store_txn *t,
		     const uint8_t mailbox[static RELAY_MAILBOX_LEN],
		     uint64_t after, uint64_t now_s, relaystore_item_cb cb,
		     void *ctx);

/* Deletes mailbox's items with seq <= upto; *deleted (may be NULL) gets
 * their count.  A mailbox left empty loses its box record, a source left
 * with nothing stored its source record. */
int relaystore_delete_upto(struct store_txn *t,
			   const uint8_t mailbox[static RELAY_MAILBOX_LEN],
			   uint64_t upto, unsigned *deleted);

/* Deletes at most max items whose expiry <= now_s, oldest expiry first;
 * *deleted gets their count (max reached: call again). */
int relaystore_expire(struct store_txn *t, uint64_t now_s, unsigned max,
		      unsigned *deleted);

struct relaystore_stats {
	uint64_t items, bytes; /* from the totals record */
	uint64_t mailboxes;    /* box records */
};
int relaystore_stats(struct store_txn *t, struct relaystore_stats *st);

/* Stored value codecs (strict), for the fuzz target and tests. */
struct relaystore_totals {
	uint64_t next_seq, items, bytes;
};
/* What a box ("B") or a source ("S") record counts: items non-zero,
 * bytes at least items (a blob has a byte at least). */
enum relaystore_counts_kind {
	RELAYSTORE_COUNTS_BOX,	  /* version 1 | items 4 | bytes 4 */
	RELAYSTORE_COUNTS_SOURCE, /* version 1 | items 4 | bytes 8 */
};
struct relaystore_counts {
	uint64_t items, bytes;
};
/* A decoded item; blob points into the value decoded. */
struct relaystore_item {
	uint64_t expiry_s;
	uint8_t source[RELAYSTORE_SOURCE_LEN]; /* all zero: version 1 */
	const uint8_t *blob;		       /* 1..RELAY_BLOB_MAX bytes */
	size_t blob_len;
};
struct relaystore_box {
	uint32_t items, bytes;
};
/* What mailbox holds: *b gets its box record's counts (zero when it
 * holds nothing).  Items past their expiry count until a sweep deletes
 * them. */
int relaystore_box(struct store_txn *t,
		   const uint8_t mailbox[static RELAY_MAILBOX_LEN],
		   struct relaystore_box *b);
int relaystore__totals_decode(struct relaystore_totals *tot,
			      const uint8_t *v, size_t len);
int relaystore__counts_decode(struct relaystore_counts *c,
			      enum relaystore_counts_kind kind,
			      const uint8_t *v, size_t len);
/* Version 2 with a known (non-zero) source, or version 1. */
int relaystore__item_decode(struct relaystore_item *it, const uint8_t *v,
			    size_t len);

#endif
