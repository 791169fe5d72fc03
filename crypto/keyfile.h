/* The key file: one identity, serialised, optionally sealed with a
 * passphrase (Argon2id via crypto_pwhash, then XChaCha20-Poly1305).
 * Pure: bytes in, bytes out; the daemon does the file I/O (0600).
 *
 * Loading never invents an identity: a wrong passphrase, a missing one, a
 * truncated or corrupt file each give their own error, so the daemon can
 * say which and refuse to start. */
#ifndef PARLEY_CRYPTO_KEYFILE_H
#define PARLEY_CRYPTO_KEYFILE_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/keys.h"
#include "crypto/rng.h"

/* Upper bound of an encoded key file, for readers to size their buffer
 * and reject anything larger before parsing. */
#define CX_KEYFILE_MAX 1024

/* Serialises id into a new buffer (*out, *out_len; the caller frees it
 * with cx_keyfile_free()).  When pass is not NULL (pass_len may be 0 only
 * when pass is NULL) the secrets are sealed with a key derived from it with
 * Argon2id; salt and nonce come from rng.
 * id must pass cx_identity_check().  Returns 0, -EINVAL or -ENOMEM. */
int cx_keyfile_encode(uint8_t **out, size_t *out_len,
		      const struct cx_identity *id, const char *pass,
		      size_t pass_len, const struct rng *rng);

/* Bounds on the Argon2id cost a key file may ask for.  A file asking for
 * more is refused as corrupt (-EBADMSG) before any work is done, so a
 * hostile file cannot make the loader allocate or compute without bound.
 * memlimit is in bytes and a multiple of 1024; the minimums are
 * libsodium's crypto_pwhash_OPSLIMIT_MIN / crypto_pwhash_MEMLIMIT_MIN. */
#define CX_KEYFILE_OPSLIMIT_MIN 1
#define CX_KEYFILE_OPSLIMIT_MAX 10
#define CX_KEYFILE_MEMLIMIT_MIN 8192
#define CX_KEYFILE_MEMLIMIT_MAX ((size_t)1 << 30) /* 1 GiB */

/* Like cx_keyfile_encode() with an explicit Argon2id cost (within the
 * bounds above, else -EINVAL; ignored when pass is NULL).
 * cx_keyfile_encode() uses libsodium's interactive cost
 * (crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE:
 * 2 passes, 64 MiB). */
int cx_keyfile_encode_kdf(uint8_t **out, size_t *out_len,
			  const struct cx_identity *id, const char *pass,
			  size_t pass_len, const struct rng *rng,
			  uint32_t opslimit, size_t memlimit);

/* Wipes and frees a buffer from cx_keyfile_encode(); NULL-safe. */
void cx_keyfile_free(uint8_t *buf, size_t len);

/* Parses buf into id (which must be all-zero or closed; on success the
 * caller owns it and closes it).  Returns
 *   0             success
 *   -EBADMSG      truncated, corrupt, wrong magic or unknown version
 *   -ENOKEY       the file is sealed and pass is NULL
 *   -EKEYREJECTED the passphrase is wrong
 *   -ENOMEM       out of memory
 * On failure id holds nothing.  pass is ignored for an unsealed file. */
int cx_keyfile_decode(struct cx_identity *id, const uint8_t *buf, size_t len,
		      const char *pass, size_t pass_len);

/* True (1) when buf looks like a sealed key file (it needs a passphrase):
 * magic, version and the sealed flag; the checksum is not verified here.
 * 0 otherwise. */
int cx_keyfile_is_sealed(const uint8_t *buf, size_t len);

#endif
