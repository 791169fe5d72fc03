/* HMAC and HKDF over libsodium's hashes (see kdf.h).  SHA-256 and SHA-512
 * HMACs are libsodium's own; HMAC-BLAKE2b is assembled here from unkeyed
 * crypto_generichash, because Noise defines HMAC over the plain hash
 * function.  Every intermediate key is wiped before returning. */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "crypto/kdf.h"

#define B2B_BLOCKLEN 128

size_t cx_hash_len(enum cx_hash_alg alg)
{
	switch (alg) {
	case CX_HASH_SHA256:
		return CX_SHA256_LEN;
	case CX_HASH_SHA512:
		return CX_SHA512_LEN;
	case CX_HASH_BLAKE2B:
		return CX_BLAKE2B_LEN;
	}
	return 0;
}

void cx_hash_parts(enum cx_hash_alg alg, uint8_t *out,
		   const struct cx_buf *parts, size_t num_parts)
{
	crypto_hash_sha256_state s256;
	crypto_hash_sha512_state s512;
	crypto_generichash_state b2b;
	size_t i;

	switch (alg) {
	case CX_HASH_SHA256:
		crypto_hash_sha256_init(&s256);
		for (i = 0; i < num_parts; i++)
			crypto_hash_sha256_update(&s256, parts[i].p,
						  parts[i].len);
		crypto_hash_sha256_final(&s256, out);
		sodium_memzero(&s256, sizeof s256);
		break;
	case CX_HASH_SHA512:
		crypto_hash_sha512_init(&s512);
		for (i = 0; i < num_parts; i++)
			crypto_hash_sha512_update(&s512, parts[i].p,
						  parts[i].len);
		crypto_hash_sha512_final(&s512, out);
		sodium_memzero(&s512, sizeof s512);
		break;
	case CX_HASH_BLAKE2B:
		crypto_generichash_init(&b2b, NULL, 0, CX_BLAKE2B_LEN);
		for (i = 0; i < num_parts; i++)
			crypto_generichash_update(&b2b, parts[i].p,
						  parts[i].len);
		crypto_generichash_final(&b2b, out, CX_BLAKE2B_LEN);
		sodium_memzero(&b2b, sizeof b2b);
		break;
	}
}

/* RFC 2104 over BLAKE2b-512, Noise rev 34 section 4.3:
 *   HMAC(K, text) = H((K' ^ opad) || H((K' ^ ipad) || text))
 * with K' = K zero-padded to BLOCKLEN = 128 (K hashed first if longer). */
static void hmac_blake2b(uint8_t out[CX_BLAKE2B_LEN], const uint8_t *key,
			 size_t key_len, const struct cx_buf *parts,
			 size_t num_parts)
{
	uint8_t kpad[B2B_BLOCKLEN];
	uint8_t inner[CX_BLAKE2B_LEN];
	crypto_generichash_state st;
	size_t i;

	memset(kpad, 0, sizeof kpad);
	if (key_len > B2B_BLOCKLEN)
		crypto_generichash(kpad, CX_BLAKE2B_LEN, key, key_len, NULL, 0);
	else if (key_len > 0)
		memcpy(kpad, key, key_len);

	for (i = 0; i < sizeof kpad; i++)
		kpad[i] ^= 0x36;
	crypto_generichash_init(&st, NULL, 0, CX_BLAKE2B_LEN);
	crypto_generichash_update(&st, kpad, sizeof kpad);
	for (i = 0; i < num_parts; i++)
		crypto_generichash_update(&st, parts[i].p, parts[i].len);
	crypto_generichash_final(&st, inner, sizeof inner);

	for (i = 0; i < sizeof kpad; i++)
		kpad[i] ^= 0x36 ^ 0x5c;
	crypto_generichash_init(&st, NULL, 0, CX_BLAKE2B_LEN);
	crypto_generichash_update(&st, kpad, sizeof kpad);
	crypto_generichash_update(&st, inner, sizeof inner);
	crypto_generichash_final(&st, out, CX_BLAKE2B_LEN);

	sodium_memzero(kpad, sizeof kpad);
	sodium_memzero(inner, sizeof inner);
	sodium_memzero(&st, sizeof st);
}

void cx_hmac_parts(enum cx_hash_alg alg, uint8_t *out, const uint8_t *key,
		   size_t key_len, const struct cx_buf *parts, size_t num_parts)
{
	crypto_auth_hmacsha256_state s256;
	crypto_auth_hmacsha512_state s512;
	uint8_t tmp[CX_HASH_MAX_LEN];
	size_t i;

	/* HKDF without a salt passes no key: HMAC pads the key with zeros,
	 * so an empty key is the RFC 5869 default of HashLen zeros, and
	 * libsodium's init wants a pointer all the same. */
	static const uint8_t no_key[1];

	if (key == NULL) {
		key = no_key;
		key_len = 0;
	}
	/* tmp, so that out may alias the key or a part. */
	switch (alg) {
	case CX_HASH_SHA256:
		crypto_auth_hmacsha256_init(&s256, key, key_len);
		for (i = 0; i < num_parts; i++)
			crypto_auth_hmacsha256_update(&s256, parts[i].p,
						      parts[i].len);
		crypto_auth_hmacsha256_final(&s256, tmp);
		sodium_memzero(&s256, sizeof s256);
		break;
	case CX_HASH_SHA512:
		crypto_auth_hmacsha512_init(&s512, key, key_len);
		for (i = 0; i < num_parts; i++)
			crypto_auth_hmacsha512_update(&s512, parts[i].p,
						      parts[i].len);
		crypto_auth_hmacsha512_final(&s512, tmp);
		sodium_memzero(&s512, sizeof s512);
		break;
	case CX_HASH_BLAKE2B:
		hmac_blake2b(tmp, key, key_len, parts, num_parts);
		break;
	}
	memcpy(out, tmp, cx_hash_len(alg));
	sodium_memzero(tmp, sizeof tmp);
}

void cx_hmac_sha256(uint8_t out[static CX_SHA256_LEN], const uint8_t *key,
		    size_t key_len, const void *msg, size_t msg_len)
{
	struct cx_buf b = {msg, msg_len};

	cx_hmac_parts(CX_HASH_SHA256, out, key, key_len, &b, 1);
}

void cx_hmac_sha512(uint8_t out[static CX_SHA512_LEN], const uint8_t *key,
		    size_t key_len, const void *msg, size_t msg_len)
{
	struct cx_buf b = {msg, msg_len};

	cx_hmac_parts(CX_HASH_SHA512, out, key, key_len, &b, 1);
}

void cx_hmac_blake2b(uint8_t out[static CX_BLAKE2B_LEN], const uint8_t *key,
		     size_t key_len, const void *msg, size_t msg_len)
{
	struct cx_buf b = {msg, msg_len};

	cx_hmac_parts(CX_HASH_BLAKE2B, out, key, key_len, &b, 1);
}

/* RFC 5869 section 2.2:
 *   PRK = HMAC-Hash(salt, IKM)
 *   salt: "if not provided, it is set to a string of HashLen zeros".
 * HMAC pads short keys with zeros, so an empty salt gives the same PRK. */
void cx_hkdf_extract(enum cx_hash_alg alg, uint8_t *prk, const uint8_t *salt,
		     size_t salt_len, const uint8_t *ikm, size_t ikm_len)
{
	struct cx_buf b = {ikm, ikm_len};

	cx_hmac_parts(alg, prk, salt, salt == NULL ? 0 : salt_len, &b, 1);
}

/* RFC 5869 section 2.3:
 *   N = ceil(L/HashLen)
 *   T(0) = empty string
 *   T(i) = HMAC-Hash(PRK, T(i-1) | info | i)
 *   OKM = first L octets of T(1) | T(2) | ... | T(N)
 * with L <= 255*HashLen. */
int cx_hkdf_expand(enum cx_hash_alg alg, uint8_t *out, size_t out_len,
		   const uint8_t *prk, size_t prk_len, const uint8_t *info,
		   size_t info_len)
{
	size_t hlen = cx_hash_len(alg);
	uint8_t t[CX_HASH_MAX_LEN];
	size_t t_len = 0, done = 0, n;
	uint8_t ctr = 0;

	if (hlen == 0 || out_len > 255 * hlen)
		return -EINVAL;
	while (done < out_len) {
		struct cx_buf parts[3];

		ctr++;
		parts[0] = (struct cx_buf){t, t_len};
		parts[1] = (struct cx_buf){info, info == NULL ? 0 : info_len};
		parts[2] = (struct cx_buf){&ctr, 1};
		cx_hmac_parts(alg, t, prk, prk_len, parts, 3);
		t_len = hlen;
		n = out_len - done < hlen ? out_len - done : hlen;
		memcpy(out + done, t, n);
		done += n;
	}
	sodium_memzero(t, sizeof t);
	return 0;
}

int cx_hkdf(enum cx_hash_alg alg, uint8_t *out, size_t out_len,
	    const uint8_t *salt, size_t salt_len, const uint8_t *ikm,
	    size_t ikm_len, const uint8_t *info, size_t info_len)
{
	uint8_t prk[CX_HASH_MAX_LEN];
	size_t hlen = cx_hash_len(alg);
	int r;

	if (hlen == 0 || out_len > 255 * hlen)
		return -EINVAL;
	cx_hkdf_extract(alg, prk, salt, salt_len, ikm, ikm_len);
	r = cx_hkdf_expand(alg, out, out_len, prk, hlen, info, info_len);
	sodium_memzero(prk, sizeof prk);
	return r;
}

int cx_hkdf_sha256(uint8_t *out, size_t out_len, const uint8_t *salt,
		   size_t salt_len, const uint8_t *ikm, size_t ikm_len,
		   const uint8_t *info, size_t info_len)
{
	return cx_hkdf(CX_HASH_SHA256, out, out_len, salt, salt_len, ikm,
		       ikm_len, info, info_len);
}

int cx_hkdf_sha512(uint8_t *out, size_t out_len, const uint8_t *salt,
		   size_t salt_len, const uint8_t *ikm, size_t ikm_len,
		   const uint8_t *info, size_t info_len)
{
	return cx_hkdf(CX_HASH_SHA512, out, out_len, salt, salt_len, ikm,
		       ikm_len, info, info_len);
}
