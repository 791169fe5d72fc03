/* A buffered random generator over an injected parent rng, for hot paths
 * (ratchet nonces) where the parent costs a system call per request:
 * libsodium's randombytes on Debian is "sysrandom", one getrandom(2) per
 * call.  Construction: Bernstein's fast-key-erasure generator on ChaCha20
 * (as libsodium's own internal randombytes): a 32-byte key draws 32 + 256
 * bytes of keystream; the first 32 replace the key at once, the rest are
 * handed out and wiped as they go.  The key is refreshed from the parent
 * (key = BLAKE2b-256(key || 32 parent bytes)) every CX_DRBG_RESEED bytes.
 * Deterministic when the parent is, so tests and the simulator replay.
 * Not thread-safe: one per thread. */
#ifndef PARLEY_CRYPTO_DRBG_H
#define PARLEY_CRYPTO_DRBG_H

#include "crypto/rng.h"

#define CX_DRBG_RESEED (1u << 20)

struct cx_drbg;

/* New generator seeded from parent, which must outlive it.
 * Returns 0 or -ENOMEM. */
int cx_drbg_new(struct cx_drbg **out, const struct rng *parent);

/* The struct rng view of d, valid until cx_drbg_free(d). */
const struct rng *cx_drbg_rng(struct cx_drbg *d);

/* Wipes and frees; NULL is a no-op. */
void cx_drbg_free(struct cx_drbg *d);

#endif
