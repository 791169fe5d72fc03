/* Public-key and AEAD primitives the protocols in crypto/ are built on,
 * as thin, checked wrappers over libsodium 1.0.18:
 *
 *  - X25519 (RFC 7748) that refuses low-order points: crypto_scalarmult()
 *    returns -1 when the shared secret is all zero, and so do we
 *    (-EKEYREJECTED), never an all-zero "secret";
 *  - Ed25519 -> X25519 conversion, for the one place the design needs it
 *    (safety numbers and X3DH take Ed25519 identity keys and compute DH with
 *    their Montgomery form);
 *  - ChaCha20-Poly1305 (RFC 8439, 12-byte nonce) and XChaCha20-Poly1305
 *    (draft-irtf-cfrg-xchacha, 24-byte nonce), combined mode: ciphertext is
 *    plaintext length + 16 tag bytes.
 *
 * Randomness, where needed, comes from the injected struct rng. */
#ifndef PARLEY_CRYPTO_PRIM_H
#define PARLEY_CRYPTO_PRIM_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/cx.h"
#include "crypto/rng.h"

#define CX_DH_LEN 32	   /* X25519 shared secret */
#define CX_AEAD_KEY_LEN 32 /* both AEADs */
#define CX_AEAD_TAG_LEN 16 /* both AEADs */
#define CX_CHACHA_NONCE_LEN 12
#define CX_XCHACHA_NONCE_LEN 24

/* New X25519 key pair: 32 secret bytes from rng (clamped by X25519 itself),
 * pk = X25519(sk, 9). */
void cx_x25519_keypair(uint8_t pk[static CX_X_PK_LEN],
		       uint8_t sk[static CX_X_SK_LEN], const struct rng *rng);

/* pk = X25519(sk, 9). */
void cx_x25519_public(uint8_t pk[static CX_X_PK_LEN],
		      const uint8_t sk[static CX_X_SK_LEN]);

/* shared = X25519(sk, pk).  Returns 0, or -EKEYREJECTED when pk is a
 * low-order point (the result would be all zero); shared is then zeroed. */
int cx_x25519(uint8_t shared[static CX_DH_LEN],
	      const uint8_t sk[static CX_X_SK_LEN],
	      const uint8_t pk[static CX_X_PK_LEN]);

/* Birational map of an Ed25519 public key to its X25519 form.  Returns 0 or
 * -EKEYREJECTED (not a valid point, or small order). */
int cx_ed25519_pk_to_x25519(uint8_t x_pk[static CX_X_PK_LEN],
			    const uint8_t ed_pk[static CX_ED_PK_LEN]);

/* X25519 secret scalar of an Ed25519 secret key (seed || pk). */
void cx_ed25519_sk_to_x25519(uint8_t x_sk[static CX_X_SK_LEN],
			     const uint8_t ed_sk[static CX_ED_SK_LEN]);

/* AEAD seal: out (pt_len + 16 bytes, out_max at least that) =
 * Enc(key, nonce, ad, pt).  out may equal pt.  Returns 0 or -E2BIG. */
int cx_chacha_seal(uint8_t *out, size_t out_max, const uint8_t *pt,
		   size_t pt_len, const uint8_t *ad, size_t ad_len,
		   const uint8_t nonce[static CX_CHACHA_NONCE_LEN],
		   const uint8_t key[static CX_AEAD_KEY_LEN]);
int cx_xchacha_seal(uint8_t *out, size_t out_max, const uint8_t *pt,
		    size_t pt_len, const uint8_t *ad, size_t ad_len,
		    const uint8_t nonce[static CX_XCHACHA_NONCE_LEN],
		    const uint8_t key[static CX_AEAD_KEY_LEN]);

/* AEAD open: out (ct_len - 16 bytes, out_max at least that) =
 * Dec(key, nonce, ad, ct).  out may equal ct.  Returns 0, -EBADMSG (ct
 * shorter than a tag), -E2BIG (out too small) or -EKEYREJECTED (forged); on
 * failure out holds nothing useful. */
int cx_chacha_open(uint8_t *out, size_t out_max, const uint8_t *ct,
		   size_t ct_len, const uint8_t *ad, size_t ad_len,
		   const uint8_t nonce[static CX_CHACHA_NONCE_LEN],
		   const uint8_t key[static CX_AEAD_KEY_LEN]);
int cx_xchacha_open(uint8_t *out, size_t out_max, const uint8_t *ct,
		    size_t ct_len, const uint8_t *ad, size_t ad_len,
		    const uint8_t nonce[static CX_XCHACHA_NONCE_LEN],
		    const uint8_t key[static CX_AEAD_KEY_LEN]);

#endif
