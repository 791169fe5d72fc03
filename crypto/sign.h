/* Ed25519 detached signatures, for DHT records (DESIGN.md section 4).
 * Callers sign a typed, domain-separated encoding, never raw key bytes; the
 * encoding is theirs (dht/record.c).
 *
 * Errors: 0 or -EKEYREJECTED (a signature that does not verify). */
#ifndef PARLEY_CRYPTO_SIGN_H
#define PARLEY_CRYPTO_SIGN_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/cx.h"

/* Key pair from a 32-byte seed; sk is seed || pk (CX_ED_SK_LEN bytes) and a
 * secret the caller wipes. */
void cx_sign_keypair_seed(uint8_t pk[static CX_ED_PK_LEN],
			  uint8_t sk[static CX_ED_SK_LEN],
			  const uint8_t seed[static CX_ED_SEED_LEN]);

/* Signs m (m_len bytes) with sk into sig. */
void cx_sign(uint8_t sig[static CX_SIG_LEN], const uint8_t *m, size_t m_len,
	     const uint8_t sk[static CX_ED_SK_LEN]);

/* Verifies sig over m under pk.  Returns 0 or -EKEYREJECTED. */
int cx_sign_verify(const uint8_t sig[static CX_SIG_LEN], const uint8_t *m,
		   size_t m_len, const uint8_t pk[static CX_ED_PK_LEN]);

#endif
