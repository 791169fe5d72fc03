/* Thin wrapper over libsodium's crypto_box "afternm" family.  No state; the
 * DHT keeps the shared-key cache (dht/), this file only does the math. */
#include <errno.h>

#include <sodium.h>

#include "crypto/box.h"

_Static_assert(CX_BOX_NONCE_LEN == crypto_box_NONCEBYTES, "nonce length");
_Static_assert(CX_BOX_MAC_LEN == crypto_box_MACBYTES, "mac length");
_Static_assert(CX_KEY_LEN == crypto_box_BEFORENMBYTES, "shared key length");
_Static_assert(CX_BOX_SEED_LEN == crypto_box_SEEDBYTES, "seed length");

void cx_box_keypair_seed(uint8_t pk[static CX_X_PK_LEN],
			 uint8_t sk[static CX_X_SK_LEN],
			 const uint8_t seed[static CX_BOX_SEED_LEN])
{
	crypto_box_seed_keypair(pk, sk, seed);
}

void cx_box_public(uint8_t pk[static CX_X_PK_LEN],
		   const uint8_t sk[static CX_X_SK_LEN])
{
	crypto_scalarmult_base(pk, sk);
}

int cx_box_shared(uint8_t k[static CX_KEY_LEN],
		  const uint8_t peer_pk[static CX_X_PK_LEN],
		  const uint8_t own_sk[static CX_X_SK_LEN])
{
	/* Fails on low-order points (an all-zero shared secret). */
	if (crypto_box_beforenm(k, peer_pk, own_sk) != 0) {
		sodium_memzero(k, CX_KEY_LEN);
		return -EKEYREJECTED;
	}
	return 0;
}

int cx_box_seal(uint8_t *c, const uint8_t *m, size_t m_len,
		const uint8_t nonce[static CX_BOX_NONCE_LEN],
		const uint8_t k[static CX_KEY_LEN])
{
	if (m_len > SIZE_MAX - CX_BOX_MAC_LEN)
		return -EINVAL;
	if (crypto_box_easy_afternm(c, m, m_len, nonce, k) != 0)
		return -EINVAL;
	return 0;
}

int cx_box_open(uint8_t *m, const uint8_t *c, size_t c_len,
		const uint8_t nonce[static CX_BOX_NONCE_LEN],
		const uint8_t k[static CX_KEY_LEN])
{
	if (c_len < CX_BOX_MAC_LEN)
		return -EINVAL;
	if (crypto_box_open_easy_afternm(m, c, c_len, nonce, k) != 0)
		return -EKEYREJECTED;
	return 0;
}
