/* crypto/: every cryptographic operation parley performs, on libsodium
 * primitives only.  This header holds the sizes and the small helpers that
 * the other layers need without including <sodium.h> themselves (which only
 * crypto/ may do, DESIGN.md section 2).
 *
 * Errors: functions return 0 or a negative errno value:
 *   -EINVAL        bad argument (wrong length, NULL)
 *   -EBADMSG       malformed or corrupt input
 *   -EKEYREJECTED  authentication failed (wrong key, tampered data)
 *   -ENOMEM        out of memory */
#ifndef PARLEY_CRYPTO_CX_H
#define PARLEY_CRYPTO_CX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CX_ED_PK_LEN 32	  /* Ed25519 public key */
#define CX_ED_SK_LEN 64	  /* Ed25519 secret key (seed || pk) */
#define CX_ED_SEED_LEN 32 /* Ed25519 seed */
#define CX_SIG_LEN 64	  /* Ed25519 signature */
#define CX_X_PK_LEN 32	  /* X25519 public key */
#define CX_X_SK_LEN 32	  /* X25519 secret key */
#define CX_HASH_LEN 32	  /* BLAKE2b-256 */
#define CX_KEY_LEN 32	  /* symmetric key */

/* Initialises libsodium.  Call once before anything else; 0 or -EIO. */
int cx_init(void);

/* Wipes len bytes at p in a way the compiler cannot elide. */
void cx_wipe(void *p, size_t len);

/* Constant-time equality of two len-byte buffers. */
bool cx_equal(const void *a, const void *b, size_t len);

/* True when all len bytes are zero, in constant time. */
bool cx_is_zero(const void *p, size_t len);

/* Guarded memory for long-lived secrets (sodium_malloc): NULL on OOM.
 * cx_secret_free wipes and releases; NULL is a no-op. */
void *cx_secret_alloc(size_t len);
void cx_secret_free(void *p);

/* BLAKE2b-256 of in. */
void cx_hash(uint8_t out[static CX_HASH_LEN], const void *in, size_t in_len);

/* SipHash-2-4 of in under key (libsodium's crypto_shorthash), as a
 * 64-bit number: for hash tables whose keys others choose, under a key
 * drawn for the table, so that nobody can make their keys collide. */
#define CX_SHORTHASH_KEY_LEN 16
uint64_t cx_shorthash(const uint8_t key[static CX_SHORTHASH_KEY_LEN],
		      const void *in, size_t in_len);

/* Hex encoding of in (2*in_len chars plus NUL into out, out_max >= that).
 * Returns 0 or -EINVAL when out is too small. */
int cx_hex_encode(char *out, size_t out_max, const uint8_t *in, size_t in_len);

/* Decodes exactly out_len bytes from a hex string of 2*out_len chars.
 * Returns 0 or -EBADMSG. */
int cx_hex_decode(uint8_t *out, size_t out_len, const char *hex);

#endif
