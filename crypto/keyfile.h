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
 * Returns 0, -EINVAL or -ENOMEM. */
int cx_keyfile_encode(uint8_t **out, size_t *out_len,
		      const struct cx_identity *id, const char *pass,
		      size_t pass_len, const struct rng *rng);

/* Wipes and frees a buffer from cx_keyfile_encode(); NULL-safe. */
void cx_keyfile_free(uint8_t *buf, size_t len);

/* Parses buf into id (which must be all-zero or closed; on success the
 * caller owns it and closes it).  Returns
 *   0             success
 *   -EBADMSG      truncated, corrupt, wrong magic or unknown version
 *   -ENOKEY       the file is sealed and pass is NULL
 *   -EKEYREJECTED the passphrase is wrong
 *   -ENOMEM       out of memory
 * On failure id holds nothing. */
int cx_keyfile_decode(struct cx_identity *id, const uint8_t *buf, size_t len,
		      const char *pass, size_t pass_len);

/* True when buf is a sealed key file (it needs a passphrase). */
int cx_keyfile_is_sealed(const uint8_t *buf, size_t len);

#endif
