/* Sealed envelopes for store-and-forward relays (DESIGN.md section 7).
 *
 *  - Sealing, in the manner of crypto_box_seal but with the ephemeral key
 *    from the injected rng and XChaCha20-Poly1305:
 *      epk, esk = fresh X25519 key pair
 *      key = BLAKE2b-256("parley envelope v1" || X25519(esk, rpk) || epk ||
 * rpk) envelope = version 1 | epk 32 | XChaCha20-Poly1305(key, nonce = 0, ad =
 * version || epk, plaintext) A fresh epk makes every key single-use, so the
 * fixed nonce is safe. The relay learns nothing but the size (pad first:
 * crypto/pad.h).
 *  - Mailbox IDs, which rotate every epoch and which only the two contacts
 *    can compute:
 *      id = BLAKE2b-256(key = pairwise secret,
 *                       "parley mailbox v1" || recipient pk || epoch BE64)
 *    and the public request mailbox a stranger deposits into:
 *      id = BLAKE2b-256("parley request mailbox v1" || recipient pk ||
 *                       epoch BE64)
 *  - A hashcash stamp for first-contact envelopes: an 8-byte nonce such that
 *      BLAKE2b-256("parley pow v1" || difficulty || challenge || nonce)
 *    starts with `difficulty` zero bits; challenge = cx_pow_challenge() of
 *    the envelope and its mailbox, so a stamp is good for one deposit only.
 *    Verifying costs one hash. */
#ifndef PARLEY_CRYPTO_ENVELOPE_H
#define PARLEY_CRYPTO_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/cx.h"
#include "crypto/rng.h"

#define CX_ENVELOPE_VERSION 1
#define CX_ENVELOPE_OVERHEAD (1 + 32 + 16)
#define CX_ENVELOPE_MAX (1u << 24) /* plaintext bytes */
#define CX_MAILBOX_ID_LEN 32
#define CX_POW_CHALLENGE_LEN 32
#define CX_POW_NONCE_LEN 8
#define CX_POW_MAX_DIFFICULTY 40

/* Seals pt to the mailbox public key rpk: writes pt_len +
 * CX_ENVELOPE_OVERHEAD bytes to out (out_max at least that; no overlap
 * with pt).  Returns 0, -E2BIG or -EKEYREJECTED (low-order rpk). */
int cx_envelope_seal(uint8_t *out, size_t out_max, size_t *out_len,
		     const uint8_t *pt, size_t pt_len,
		     const uint8_t rpk[static CX_X_PK_LEN],
		     const struct rng *rng);

/* Opens an envelope with the mailbox key pair (rsk, rpk): writes env_len -
 * CX_ENVELOPE_OVERHEAD bytes to out.  Returns 0, -EBADMSG (short, wrong
 * version), -E2BIG (out too small) or -EKEYREJECTED (not for us, or
 * forged). */
int cx_envelope_open(uint8_t *out, size_t out_max, size_t *out_len,
		     const uint8_t *env, size_t env_len,
		     const uint8_t rsk[static CX_X_SK_LEN],
		     const uint8_t rpk[static CX_X_PK_LEN]);

/* The epoch number of time now_s for epochs of period_s seconds (> 0). */
uint64_t cx_mailbox_epoch(uint64_t now_s, uint64_t period_s);

/* Pairwise mailbox ID of recipient_pk for epoch (see above). */
void cx_mailbox_id(uint8_t id[static CX_MAILBOX_ID_LEN],
		   const uint8_t pairwise[static CX_KEY_LEN],
		   const uint8_t recipient_pk[static 32], uint64_t epoch);

/* Public first-contact request mailbox of recipient_pk for epoch. */
void cx_request_mailbox_id(uint8_t id[static CX_MAILBOX_ID_LEN],
			   const uint8_t recipient_pk[static 32],
			   uint64_t epoch);

/* challenge = BLAKE2b-256("parley pow challenge v1" || mailbox id ||
 * BLAKE2b-256(envelope)). */
void cx_pow_challenge(uint8_t challenge[static CX_POW_CHALLENGE_LEN],
		      const uint8_t mailbox_id[static CX_MAILBOX_ID_LEN],
		      const uint8_t *env, size_t env_len);

/* Searches nonces *nonce, *nonce + 1, ... for at most max_tries hashes.
 * Returns 0 with the stamp in *nonce, -EAGAIN when max_tries ran out
 * (*nonce is where to resume: the search can be spread over loop turns),
 * or -EINVAL (difficulty > CX_POW_MAX_DIFFICULTY). */
int cx_pow_solve(uint64_t *nonce,
		 const uint8_t challenge[static CX_POW_CHALLENGE_LEN],
		 unsigned difficulty, uint64_t max_tries);

/* One hash: true when nonce is a valid stamp of at least difficulty bits. */
bool cx_pow_verify(const uint8_t challenge[static CX_POW_CHALLENGE_LEN],
		   unsigned difficulty, uint64_t nonce);

/* Stamp wire form: 8 bytes big-endian. */
void cx_pow_encode(uint8_t out[static CX_POW_NONCE_LEN], uint64_t nonce);
uint64_t cx_pow_decode(const uint8_t in[static CX_POW_NONCE_LEN]);

#endif
