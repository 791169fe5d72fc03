/* crypto_box with precomputed shared keys, for the DHT (DESIGN.md section 4).
 *
 * Every DHT packet is sealed between two node keys (X25519).  The shared key
 * k = crypto_box_beforenm(peer_pk, own_sk) is computed once per peer and kept
 * in the caller's bounded cache; each packet is then sealed with a fresh
 * random 24-byte nonce (XSalsa20-Poly1305).  The nonce comes from the
 * caller's injected rng, never from here.
 *
 * Errors: 0 or a negative errno:
 *   -EINVAL        bad length
 *   -EKEYREJECTED  peer key is a low-order point, or the MAC does not verify */
#ifndef PARLEY_CRYPTO_BOX_H
#define PARLEY_CRYPTO_BOX_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/cx.h"

#define CX_BOX_NONCE_LEN 24
#define CX_BOX_MAC_LEN 16
#define CX_BOX_SEED_LEN 32

/* X25519 key pair from a 32-byte seed (crypto_box_seed_keypair), so that
 * tests and the simulator can make node keys from their seeded rng. */
void cx_box_keypair_seed(uint8_t pk[static CX_X_PK_LEN],
			 uint8_t sk[static CX_X_SK_LEN],
			 const uint8_t seed[static CX_BOX_SEED_LEN]);

/* Public key of a secret key (X25519 base-point multiplication). */
void cx_box_public(uint8_t pk[static CX_X_PK_LEN],
		   const uint8_t sk[static CX_X_SK_LEN]);

/* Shared key between own secret key and a peer's public key.  The result is
 * a secret: the caller wipes it.  Returns 0 or -EKEYREJECTED. */
int cx_box_shared(uint8_t k[static CX_KEY_LEN],
		  const uint8_t peer_pk[static CX_X_PK_LEN],
		  const uint8_t own_sk[static CX_X_SK_LEN]);

/* Seals m (m_len bytes) into c, which receives m_len + CX_BOX_MAC_LEN bytes
 * (MAC first).  c and m may be the same buffer.  Returns 0 or -EINVAL. */
int cx_box_seal(uint8_t *c, const uint8_t *m, size_t m_len,
		const uint8_t nonce[static CX_BOX_NONCE_LEN],
		const uint8_t k[static CX_KEY_LEN]);

/* Opens c (c_len bytes, MAC first) into m (c_len - CX_BOX_MAC_LEN bytes).
 * Returns 0, -EINVAL when c_len < CX_BOX_MAC_LEN, or -EKEYREJECTED when
 * the MAC does not verify (m is then undefined). */
int cx_box_open(uint8_t *m, const uint8_t *c, size_t c_len,
		const uint8_t nonce[static CX_BOX_NONCE_LEN],
		const uint8_t k[static CX_KEY_LEN]);

#endif
