/* The Double Ratchet with header encryption (Signal, "The Double Ratchet
 * Algorithm", revision 1, 2016-11-20, sections 3 and 4), for one-to-one
 * sessions after X3DH (DESIGN.md section 6).
 *
 * Constructions (docs/PROTOCOL-crypto.md has the byte layouts):
 *   KDF_RK_HE(rk, dh) = HKDF-SHA-512(salt = rk, ikm = dh,
 *                        info = "parley ratchet rk v1") -> rk, ck, nhk
 *   KDF_CK(ck)        = first 64 bytes of ChaCha20 keystream (RFC 8439)
 *                        under key ck, nonce "parley ck v1", counter 0
 *                        -> mk (first 32 bytes), next ck (last 32)
 *   ENCRYPT, HENCRYPT = XChaCha20-Poly1305 with a fresh random 24-byte
 *                        nonce (from the injected rng) in front
 *   AD of the body    = session AD (from X3DH) || version || enc_header
 *
 * Limits: at most CX_RATCHET_MAX_STORED skipped message keys are kept
 * (oldest dropped first) and at most CX_RATCHET_MAX_SKIP may be skipped by
 * one message; past that the message is refused.
 *
 * pt and out (and msg and out) must not overlap.
 *
 * Transactions: cx_ratchet_decrypt changes the state only when the message
 * authenticated; on any error the state is exactly as before.  The caller
 * saves the state (cx_ratchet_save) after each successful decrypt, and
 * after each encrypt before sending (DESIGN.md section 6).
 *
 * The state lives in sodium_malloc memory (it holds keys), wiped when
 * freed: a small fixed part, plus the skipped-key store and a scratch ring,
 * each allocated on first need and grown up to CX_RATCHET_MAX_STORED
 * entries (about 136 KB and 74 KB at most), so a session that never skips
 * stays small.  A decryption that needs to grow them and cannot returns
 * -ENOMEM, state unchanged. */
#ifndef PARLEY_CRYPTO_RATCHET_H
#define PARLEY_CRYPTO_RATCHET_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/rng.h"

#define CX_RATCHET_KEY_LEN 32
#define CX_RATCHET_MAX_STORED 2000 /* skipped keys kept */
#define CX_RATCHET_MAX_SKIP 25000  /* skipped by one message */
#define CX_RATCHET_MAX_AD 128	   /* session associated data */
#define CX_RATCHET_VERSION 1	   /* wire and saved-state version */
/* version (1) + encrypted header (24 + 40 + 16) + body nonce (24) + tag */
#define CX_RATCHET_OVERHEAD (1 + 80 + 24 + 16)
#define CX_RATCHET_MAX_MSG (1u << 20) /* plaintext bytes per message */
/* Saved state: fixed part plus 68 bytes per stored skipped key. */
#define CX_RATCHET_STATE_FIXED                                                 \
	(1 + 1 + 32 + 32 + 32 + 32 + 32 + 12 + 4 * 32 + 1 +                    \
	 CX_RATCHET_MAX_AD + 2)
#define CX_RATCHET_STATE_MAX                                                   \
	(CX_RATCHET_STATE_FIXED + CX_RATCHET_MAX_STORED * 68)

struct cx_ratchet;

/* RatchetInitAliceHE: the X3DH initiator.  sk is the shared secret, hka and
 * nhkb the two shared header keys (all from X3DH), bob_pk Bob's ratchet
 * public key (his signed prekey), ad the session associated data
 * (ad_len <= CX_RATCHET_MAX_AD).  rng must outlive the state.
 * Returns 0, -EINVAL, -EKEYREJECTED (low-order bob_pk) or -ENOMEM. */
int cx_ratchet_new_alice(struct cx_ratchet **out,
			 const uint8_t sk[static CX_RATCHET_KEY_LEN],
			 const uint8_t bob_pk[static CX_RATCHET_KEY_LEN],
			 const uint8_t hka[static CX_RATCHET_KEY_LEN],
			 const uint8_t nhkb[static CX_RATCHET_KEY_LEN],
			 const uint8_t *ad, size_t ad_len,
			 const struct rng *rng);

/* RatchetInitBobHE: the responder, with his ratchet key pair's secret
 * (bob_sk: the signed prekey's secret).  Bob can send only after the first
 * message from Alice decrypted.  Returns 0, -EINVAL or -ENOMEM. */
int cx_ratchet_new_bob(struct cx_ratchet **out,
		       const uint8_t sk[static CX_RATCHET_KEY_LEN],
		       const uint8_t bob_sk[static CX_RATCHET_KEY_LEN],
		       const uint8_t hka[static CX_RATCHET_KEY_LEN],
		       const uint8_t nhkb[static CX_RATCHET_KEY_LEN],
		       const uint8_t *ad, size_t ad_len, const struct rng *rng);

/* Wipes and frees; NULL is a no-op. */
void cx_ratchet_free(struct cx_ratchet *r);

/* RatchetEncryptHE: writes pt_len + CX_RATCHET_OVERHEAD bytes to out
 * (out_max at least that), sets *out_len, and advances the sending chain.
 * Returns 0, -E2BIG (pt_len > CX_RATCHET_MAX_MSG or out too small),
 * -EAGAIN (Bob before his first received message) or -EOVERFLOW (2^32
 * messages in one chain). */
int cx_ratchet_encrypt(struct cx_ratchet *r, const uint8_t *pt, size_t pt_len,
		       uint8_t *out, size_t out_max, size_t *out_len);

/* RatchetDecryptHE: writes the plaintext (msg_len - CX_RATCHET_OVERHEAD
 * bytes) to out.  Returns
 *   0              decrypted; the state advanced (save it)
 *   -EBADMSG       malformed (short, wrong version, inconsistent header)
 *   -EKEYREJECTED  no header key opens it, or the body is forged
 *   -EALREADY      a duplicate or replay of a message already decrypted in
 *                  the current chain (its key is gone)
 *   -E2BIG         more than CX_RATCHET_MAX_SKIP keys would be skipped, or
 *                  out too small
 *   -ENOMEM        the skipped-key store could not grow
 * and on every error the state is unchanged. */
int cx_ratchet_decrypt(struct cx_ratchet *r, const uint8_t *msg, size_t msg_len,
		       uint8_t *out, size_t out_max, size_t *out_len);

/* Work done ahead of need, for a caller with nothing else to do (the
 * daemon calls it once a turn's messages are committed and announced):
 *  - after a received message turned the ratchet, the second half of the
 *    DH ratchet step (a new DHs and the sending chain), which encrypt
 *    would otherwise do first;
 *  - else, a key pair made in advance for the next step's GENERATE_DH(),
 *    kept in memory only.
 * Returns 1 when the saved state changed (save it before sending under
 * it), 0 when it did not, or a negative errno. */
int cx_ratchet_prepare(struct cx_ratchet *r);

/* Number of skipped message keys currently stored. */
size_t cx_ratchet_num_skipped(const struct cx_ratchet *r);

/* Serialised size of the state now (<= CX_RATCHET_STATE_MAX). */
size_t cx_ratchet_saved_len(const struct cx_ratchet *r);

/* Serialises the state (a version byte first) into out.  The bytes are
 * secret: store them encrypted and wipe copies.  Returns 0 or -E2BIG. */
int cx_ratchet_save(const struct cx_ratchet *r, uint8_t *out, size_t out_max,
		    size_t *out_len);

/* Rebuilds a state from cx_ratchet_save output.  Returns 0, -EBADMSG
 * (truncated, trailing bytes, unknown version, inconsistent fields) or
 * -ENOMEM. */
int cx_ratchet_load(struct cx_ratchet **out, const uint8_t *buf, size_t len,
		    const struct rng *rng);

#endif
