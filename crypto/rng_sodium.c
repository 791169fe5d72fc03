/* The production random source: libsodium's randombytes_buf().  Kept in its
 * own library (crypto/libcx_sys.a) so that code linked into the simulator
 * cannot reach the OS random source by accident. */
#include <sodium.h>

#include "crypto/rng.h"

static void sodium_fill(void *self, uint8_t *buf, size_t len)
{
	(void)self;
	randombytes_buf(buf, len);
}

static const struct rng system_rng = {.fill = sodium_fill, .self = NULL};

const struct rng *rng_system(void)
{
	return &system_rng;
}
