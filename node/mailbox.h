/* Relay mailboxes of a pair of contacts (DESIGN.md section 7,
 * docs/PROTOCOL-relay.md "Mailboxes"): where a sender leaves texts for a
 * contact who is offline, at the contact's home relays.
 *
 * A mailbox belongs to one direction of one pair in one epoch: its ID is
 * an Ed25519 public key derived from the pair's secret, the owner's
 * (recipient's) account key and the epoch, so only the two contacts can
 * compute it, a relay cannot link it to an account, and the mailboxes of
 * two epochs cannot be linked to each other.  The owner holds the secret
 * half and signs its fetches with it.  The sender seals every blob under
 * a key derived the same way, so the relay sees only sizes.
 *
 * A blob carries one part of a chat message (the bytes a DATA frame would
 * carry, [X3DH header] | ratchet message), cut to fit a relay item:
 *   blob = version 0x01 | nonce 24 | XChaCha20-Poly1305(seal key, nonce,
 *          ad = "parley mailbox v1" | mailbox ID, part)
 *   part = flags 1 | tag 4 | n 8 | index 2 | count 2 | chunk
 * where every chunk but the last of a message is MAILBOX_CHUNK bytes.
 *
 * Pure over crypto/: no clock, randomness from the injected rng.  Errors:
 * 0 or negative errno: -EINVAL, -E2BIG, -EBADMSG (malformed),
 * -EKEYREJECTED (does not open under this mailbox). */
#ifndef PARLEY_NODE_MAILBOX_H
#define PARLEY_NODE_MAILBOX_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/prim.h"
#include "crypto/rng.h"
#include "crypto/sign.h"
#include "node/relay_wire.h"

#define MAILBOX_VERSION 1
#define MAILBOX_EPOCH_S (7 * 86400ull) /* a mailbox lives one week */
#define MAILBOX_EPOCHS_BACK 2 /* fetch this epoch and the 2 before (TTL) */
#define MAILBOX_PAIR_LEN 32
#define MAILBOX_PART_HDR (1 + 4 + 8 + 2 + 2)
#define MAILBOX_SEAL_OVERHEAD (1 + CX_XCHACHA_NONCE_LEN + CX_AEAD_TAG_LEN)
#define MAILBOX_CHUNK                                                          \
	(RELAY_BLOB_MAX - MAILBOX_SEAL_OVERHEAD - MAILBOX_PART_HDR)
#define MAILBOX_PARTS_MAX 255

/* An account's public request mailbox (relay_wire.h, DEPOSIT_REQ): where a
 * stranger leaves a contact request.  The blob is sealed to the
 * recipient's signed prekey from its card, with a fresh ephemeral key
 * (crypto/envelope.h), so the relay sees neither who asks nor what:
 *   blob = version 0x02 | spk_id 4 | cx_envelope_seal(spk, part) */
#define MAILBOX_REQ_VERSION 2
#define MAILBOX_REQ_OVERHEAD (1 + 4 + 49) /* 49: CX_ENVELOPE_OVERHEAD */
#define MAILBOX_REQ_CHUNK                                                      \
	(RELAY_BLOB_MAX - MAILBOX_REQ_OVERHEAD - MAILBOX_PART_HDR)

struct mailbox_part {
	uint8_t flags; /* the DATA flags of the message */
	uint32_t tag;
	uint64_t n;
	uint16_t index, count; /* index < count <= MAILBOX_PARTS_MAX */
	const uint8_t *chunk;
	size_t chunk_len; /* 1..MAILBOX_CHUNK */
};

/* The epoch of a Unix time. */
uint64_t mailbox_epoch(uint64_t now_s);

/* The mailbox ID of owner's mailbox for the pair in epoch, and its signing
 * key when sk != NULL (wipe it after use). */
void mailbox_id(uint8_t id[static RELAY_MAILBOX_LEN], uint8_t *sk,
		const uint8_t pair[static MAILBOX_PAIR_LEN],
		const uint8_t owner_pk[static 32], uint64_t epoch);

/* Seals one part into blob (blob_max >= its length); *len gets it. */
int mailbox_seal(uint8_t *blob, size_t blob_max, size_t *len,
		 const uint8_t pair[static MAILBOX_PAIR_LEN],
		 const uint8_t owner_pk[static 32], uint64_t epoch,
		 const struct mailbox_part *p, const struct rng *rng);

/* Opens a blob into pt (pt_max >= RELAY_BLOB_MAX) and decodes the part,
 * whose chunk points into pt.  Checks index < count, the chunk length
 * (MAILBOX_CHUNK except for the last index) and reserved bits. */
int mailbox_open(struct mailbox_part *p, uint8_t *pt, size_t pt_max,
		 const uint8_t *blob, size_t len,
		 const uint8_t pair[static MAILBOX_PAIR_LEN],
		 const uint8_t owner_pk[static 32], uint64_t epoch);

int mailbox_req_seal(uint8_t *blob, size_t blob_max, size_t *len,
		     uint32_t spk_id, const uint8_t spk_pk[static 32],
		     const struct mailbox_part *p, const struct rng *rng);
/* The spk_id a request blob was sealed to (which prekey opens it). */
int mailbox_req_spk_id(const uint8_t *blob, size_t len, uint32_t *spk_id);
/* Opens a request blob with that prekey (pt_max >= RELAY_BLOB_MAX);
 * -EBADMSG, -EKEYREJECTED as mailbox_open. */
int mailbox_req_open(struct mailbox_part *p, uint8_t *pt, size_t pt_max,
		     const uint8_t *blob, size_t len,
		     const uint8_t spk_sk[static 32],
		     const uint8_t spk_pk[static 32]);

/* The part inside an opened blob (pt, len bytes), as mailbox_open
 * decodes it; exposed for the fuzz target.  p is untouched on -EBADMSG. */
int mailbox__part_decode(struct mailbox_part *p, const uint8_t *pt,
			 size_t len);

#endif
