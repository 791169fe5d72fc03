/* Shared bits of the crypto fuzz targets: a deterministic rng (so every
 * run builds the same genuine messages) and an abort-on-broken-invariant
 * check that survives NDEBUG. */
#ifndef PARLEY_CX_FUZZ_H
#define PARLEY_CX_FUZZ_H

#include <stdio.h>
#include <stdlib.h>

#include "crypto/rng.h"

#define FUZZ_CHECK(cond)                                                       \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: invariant broken: %s\n",       \
				__FILE__, __LINE__, #cond);                    \
			abort();                                               \
		}                                                              \
	} while (0)

struct fuzz_rng {
	struct rng rng;
	uint64_t s;
};

static inline void fuzz_rng_fill(void *self, uint8_t *buf, size_t len)
{
	struct fuzz_rng *f = self;

	for (size_t i = 0; i < len; i++) {
		f->s = f->s * 6364136223846793005ULL + 1442695040888963407ULL;
		buf[i] = (uint8_t)(f->s >> 56);
	}
}

static inline void fuzz_rng_init(struct fuzz_rng *f, uint64_t seed)
{
	f->rng.fill = fuzz_rng_fill;
	f->rng.self = f;
	f->s = seed;
}

#endif
