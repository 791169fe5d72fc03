/* X25519 with low-order rejection, Ed25519 -> X25519 conversion and the two
 * ChaCha20-Poly1305 AEADs, over libsodium (see prim.h).  Stateless. */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "crypto/prim.h"

void cx_x25519_keypair(uint8_t pk[static CX_X_PK_LEN],
		       uint8_t sk[static CX_X_SK_LEN], const struct rng *rng)
{
	rng_fill(rng, sk, CX_X_SK_LEN);
	crypto_scalarmult_base(pk, sk);
}

void cx_x25519_public(uint8_t pk[static CX_X_PK_LEN],
		      const uint8_t sk[static CX_X_SK_LEN])
{
	crypto_scalarmult_base(pk, sk);
}

/* RFC 7748 section 6.1: "implementations MAY check whether the shared
 * secret is the all-zero value and abort if so".  libsodium does the check
 * (in constant time) and returns -1; we always abort. */
int cx_x25519(uint8_t shared[static CX_DH_LEN],
	      const uint8_t sk[static CX_X_SK_LEN],
	      const uint8_t pk[static CX_X_PK_LEN])
{
	if (crypto_scalarmult(shared, sk, pk) != 0) {
		sodium_memzero(shared, CX_DH_LEN);
		return -EKEYREJECTED;
	}
	return 0;
}

int cx_ed25519_pk_to_x25519(uint8_t x_pk[static CX_X_PK_LEN],
			    const uint8_t ed_pk[static CX_ED_PK_LEN])
{
	if (crypto_sign_ed25519_pk_to_curve25519(x_pk, ed_pk) != 0) {
		memset(x_pk, 0, CX_X_PK_LEN);
		return -EKEYREJECTED;
	}
	return 0;
}

void cx_ed25519_sk_to_x25519(uint8_t x_sk[static CX_X_SK_LEN],
			     const uint8_t ed_sk[static CX_ED_SK_LEN])
{
	crypto_sign_ed25519_sk_to_curve25519(x_sk, ed_sk);
}

int cx_chacha_seal(uint8_t *out, size_t out_max, const uint8_t *pt,
		   size_t pt_len, const uint8_t *ad, size_t ad_len,
		   const uint8_t nonce[static CX_CHACHA_NONCE_LEN],
		   const uint8_t key[static CX_AEAD_KEY_LEN])
{
	if (pt_len > out_max || out_max - pt_len < CX_AEAD_TAG_LEN)
		return -E2BIG;
	crypto_aead_chacha20poly1305_ietf_encrypt(out, NULL, pt, pt_len, ad,
						  ad_len, NULL, nonce, key);
	return 0;
}

int cx_xchacha_seal(uint8_t *out, size_t out_max, const uint8_t *pt,
		    size_t pt_len, const uint8_t *ad, size_t ad_len,
		    const uint8_t nonce[static CX_XCHACHA_NONCE_LEN],
		    const uint8_t key[static CX_AEAD_KEY_LEN])
{
	if (pt_len > out_max || out_max - pt_len < CX_AEAD_TAG_LEN)
		return -E2BIG;
	crypto_aead_xchacha20poly1305_ietf_encrypt(out, NULL, pt, pt_len, ad,
						   ad_len, NULL, nonce, key);
	return 0;
}

int cx_chacha_open(uint8_t *out, size_t out_max, const uint8_t *ct,
		   size_t ct_len, const uint8_t *ad, size_t ad_len,
		   const uint8_t nonce[static CX_CHACHA_NONCE_LEN],
		   const uint8_t key[static CX_AEAD_KEY_LEN])
{
	if (ct_len < CX_AEAD_TAG_LEN)
		return -EBADMSG;
	if (ct_len - CX_AEAD_TAG_LEN > out_max)
		return -E2BIG;
	if (crypto_aead_chacha20poly1305_ietf_decrypt(
		    out, NULL, NULL, ct, ct_len, ad, ad_len, nonce, key) != 0)
		return -EKEYREJECTED;
	return 0;
}

int cx_xchacha_open(uint8_t *out, size_t out_max, const uint8_t *ct,
		    size_t ct_len, const uint8_t *ad, size_t ad_len,
		    const uint8_t nonce[static CX_XCHACHA_NONCE_LEN],
		    const uint8_t key[static CX_AEAD_KEY_LEN])
{
	if (ct_len < CX_AEAD_TAG_LEN)
		return -EBADMSG;
	if (ct_len - CX_AEAD_TAG_LEN > out_max)
		return -E2BIG;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(
		    out, NULL, NULL, ct, ct_len, ad, ad_len, nonce, key) != 0)
		return -EKEYREJECTED;
	return 0;
}
