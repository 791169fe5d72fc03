/* Hashes, MACs and key derivation on libsodium 1.0.18.
 *
 *  - HMAC-SHA-256 and HMAC-SHA-512 (RFC 2104) are libsodium's
 *    crypto_auth_hmacsha256/512 streaming API, which takes keys of any length;
 *  - HMAC-BLAKE2b is the HMAC construction of RFC 2104 over unkeyed
 *    BLAKE2b-512 with a 128-byte block, as the Noise specification (rev 34,
 *    section 4.3) defines it.  It is *not* BLAKE2b's built-in keyed mode;
 *  - HKDF (RFC 5869) is built on the HMACs above, because libsodium 1.0.18
 *    has no crypto_kdf_hkdf.
 *
 * Nothing here keeps state or allocates.  Output buffers may not overlap
 * inputs unless stated. */
#ifndef PARLEY_CRYPTO_KDF_H
#define PARLEY_CRYPTO_KDF_H

#include <stddef.h>
#include <stdint.h>

enum cx_hash_alg {
	CX_HASH_SHA256,	 /* HASHLEN 32, BLOCKLEN 64 */
	CX_HASH_SHA512,	 /* HASHLEN 64, BLOCKLEN 128 */
	CX_HASH_BLAKE2B, /* BLAKE2b-512: HASHLEN 64, BLOCKLEN 128 */
};

#define CX_HASH_MAX_LEN 64 /* the largest HASHLEN above */
#define CX_SHA256_LEN 32
#define CX_SHA512_LEN 64
#define CX_BLAKE2B_LEN 64

/* One piece of a message given in parts (HMAC over a concatenation without
 * copying it together first). */
struct cx_buf {
	const void *p;
	size_t len;
};

/* HASHLEN of alg in bytes (32 or 64). */
size_t cx_hash_len(enum cx_hash_alg alg);

/* out = HASH(parts[0] || ... || parts[n-1]); out holds cx_hash_len(alg). */
void cx_hash_parts(enum cx_hash_alg alg, uint8_t *out,
		   const struct cx_buf *parts, size_t num_parts);

/* out = HMAC-alg(key, parts[0] || ... ), cx_hash_len(alg) bytes.  key may be
 * of any length (also 0).  out may alias key or a part. */
void cx_hmac_parts(enum cx_hash_alg alg, uint8_t *out, const uint8_t *key,
		   size_t key_len, const struct cx_buf *parts,
		   size_t num_parts);

/* Single-message conveniences of cx_hmac_parts. */
void cx_hmac_sha256(uint8_t out[static CX_SHA256_LEN], const uint8_t *key,
		    size_t key_len, const void *msg, size_t msg_len);
void cx_hmac_sha512(uint8_t out[static CX_SHA512_LEN], const uint8_t *key,
		    size_t key_len, const void *msg, size_t msg_len);
void cx_hmac_blake2b(uint8_t out[static CX_BLAKE2B_LEN], const uint8_t *key,
		     size_t key_len, const void *msg, size_t msg_len);

/* RFC 5869 section 2.2, HKDF-Extract: prk = HMAC-alg(salt, ikm); a NULL or
 * empty salt means HASHLEN zero bytes.  prk holds cx_hash_len(alg). */
void cx_hkdf_extract(enum cx_hash_alg alg, uint8_t *prk, const uint8_t *salt,
		     size_t salt_len, const uint8_t *ikm, size_t ikm_len);

/* RFC 5869 section 2.3, HKDF-Expand: out_len bytes of OKM from prk
 * (prk_len >= HASHLEN recommended, any length accepted) and info.
 * Returns 0, or -EINVAL when out_len > 255 * HASHLEN (out untouched). */
int cx_hkdf_expand(enum cx_hash_alg alg, uint8_t *out, size_t out_len,
		   const uint8_t *prk, size_t prk_len, const uint8_t *info,
		   size_t info_len);

/* Extract then expand.  Returns 0 or -EINVAL (out_len too large). */
int cx_hkdf(enum cx_hash_alg alg, uint8_t *out, size_t out_len,
	    const uint8_t *salt, size_t salt_len, const uint8_t *ikm,
	    size_t ikm_len, const uint8_t *info, size_t info_len);

/* HKDF-SHA-256 and HKDF-SHA-512 by name; same contract as cx_hkdf. */
int cx_hkdf_sha256(uint8_t *out, size_t out_len, const uint8_t *salt,
		   size_t salt_len, const uint8_t *ikm, size_t ikm_len,
		   const uint8_t *info, size_t info_len);
int cx_hkdf_sha512(uint8_t *out, size_t out_len, const uint8_t *salt,
		   size_t salt_len, const uint8_t *ikm, size_t ikm_len,
		   const uint8_t *info, size_t info_len);

#endif
