/* Injected randomness (STYLE.md section 2).  Core code never calls
 * randombytes_buf(); it is handed a struct rng.  The daemon passes
 * rng_system() (crypto/rng_sodium.c, in libcx_sys.a); the simulator and
 * tests pass a seeded generator so every run replays. */
#ifndef PARLEY_CRYPTO_RNG_H
#define PARLEY_CRYPTO_RNG_H

#include <stddef.h>
#include <stdint.h>

struct rng {
	/* Fills buf with len random bytes.  Never fails. */
	void (*fill)(void *self, uint8_t *buf, size_t len);
	void *self;
};

static inline void rng_fill(const struct rng *r, void *buf, size_t len)
{
	r->fill(r->self, (uint8_t *)buf, len);
}

/* libsodium's CSPRNG.  Lives in crypto/libcx_sys.a, which only the daemon,
 * the CLI and the benchmarks link. */
const struct rng *rng_system(void);

#endif
