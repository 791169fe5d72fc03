/* Sequence numbers for this node's own DHT records (dht.put), reserved on
 * disk in blocks.
 *
 * BEP 44 replaces a record only with a higher sequence number, and a
 * restart must never sign two values with one number.  Writing each
 * number before use costs a commit (an fsync) per put; instead, numbers
 * come from one counter shared by every key, and the store holds the
 * limit below which numbers may have been used ("ownseq" in the DHT
 * table).  The limit moves OWNSEQ_BLOCK ahead in one commit when the
 * counter reaches it, so one put in OWNSEQ_BLOCK writes; after a restart
 * the counter starts at the stored limit (the unused rest of the block is
 * skipped).  A key's numbers therefore increase, but not by one.
 *
 * Databases from before kept one number per key ("own:" || key); a put
 * still reads it, so a key's next number is higher than that too. */
#ifndef PARLEY_NODE_OWNSEQ_H
#define PARLEY_NODE_OWNSEQ_H

#include <stdint.h>

#include "store/store.h"

#define OWNSEQ_BLOCK 1024

/* Embedded in struct node; all zero is the initial state (the limit is
 * read from the store by ownseq_open() or the first put). */
struct ownseq {
	uint64_t next;	       /* next number to hand out */
	uint64_t limit;	       /* numbers below this are reserved on disk */
	uint64_t reservations; /* commits made, for tests */
};

/* Reserves a block at start (a daemon calls it once the store is open),
 * so that the first put does not wait for a commit.  0 or negative errno
 * from the store. */
int ownseq_open(struct ownseq *o, struct store *s);

/* Hands out the sequence number for the next record under key (32 bytes):
 * higher than any this node used for it, across restarts too, and durable
 * (reserved in the store) when this returns 0.  Negative errno from the
 * store otherwise, with *seq unset and nothing consumed. */
int ownseq_next(struct ownseq *o, struct store *s, const uint8_t key[32],
		uint64_t *seq);

#endif
