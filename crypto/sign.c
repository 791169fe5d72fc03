/* Thin wrapper over libsodium's crypto_sign detached Ed25519.  No state. */
#include <errno.h>

#include <sodium.h>

#include "crypto/sign.h"

_Static_assert(CX_SIG_LEN == crypto_sign_BYTES, "signature length");
_Static_assert(CX_ED_SK_LEN == crypto_sign_SECRETKEYBYTES, "sk length");
_Static_assert(CX_ED_SEED_LEN == crypto_sign_SEEDBYTES, "seed length");

void cx_sign_keypair_seed(uint8_t pk[static CX_ED_PK_LEN],
			  uint8_t sk[static CX_ED_SK_LEN],
			  const uint8_t seed[static CX_ED_SEED_LEN])
{
	crypto_sign_seed_keypair(pk, sk, seed);
}

void cx_sign(uint8_t sig[static CX_SIG_LEN], const uint8_t *m, size_t m_len,
	     const uint8_t sk[static CX_ED_SK_LEN])
{
	crypto_sign_detached(sig, NULL, m, m_len, sk);
}

int cx_sign_verify(const uint8_t sig[static CX_SIG_LEN], const uint8_t *m,
		   size_t m_len, const uint8_t pk[static CX_ED_PK_LEN])
{
	if (crypto_sign_verify_detached(sig, m, m_len, pk) != 0)
		return -EKEYREJECTED;
	return 0;
}
