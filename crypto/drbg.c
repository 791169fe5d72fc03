/* Fast-key-erasure ChaCha20 generator over an injected rng (see drbg.h).
 * The whole object lives in sodium_malloc memory. */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "crypto/drbg.h"

#define BUF_LEN 256

struct cx_drbg {
	struct rng rng;
	const struct rng *parent;
	uint8_t key[32];
	uint8_t buf[BUF_LEN];
	size_t pos;	/* next unused byte of buf; BUF_LEN = empty */
	uint64_t since; /* bytes handed out since the last reseed */
};

static void reseed(struct cx_drbg *d)
{
	uint8_t in[64];

	memcpy(in, d->key, 32);
	rng_fill(d->parent, in + 32, 32);
	crypto_generichash(d->key, 32, in, sizeof in, NULL, 0);
	sodium_memzero(in, sizeof in);
	d->since = 0;
}

static void refill(struct cx_drbg *d)
{
	static const uint8_t nonce[12] = {0};
	uint8_t out[32 + BUF_LEN];

	crypto_stream_chacha20_ietf(out, sizeof out, nonce, d->key);
	memcpy(d->key, out, 32); /* erase the old key first */
	memcpy(d->buf, out + 32, BUF_LEN);
	sodium_memzero(out, sizeof out);
	d->pos = 0;
}

static void drbg_fill(void *self, uint8_t *buf, size_t len)
{
	struct cx_drbg *d = self;

	while (len > 0) {
		size_t n;

		if (d->since >= CX_DRBG_RESEED)
			reseed(d);
		if (d->pos == BUF_LEN)
			refill(d);
		n = BUF_LEN - d->pos < len ? BUF_LEN - d->pos : len;
		memcpy(buf, d->buf + d->pos, n);
		sodium_memzero(d->buf + d->pos, n);
		d->pos += n;
		d->since += n;
		buf += n;
		len -= n;
	}
}

int cx_drbg_new(struct cx_drbg **out, const struct rng *parent)
{
	struct cx_drbg *d;

	*out = NULL;
	d = sodium_malloc(sizeof *d);
	if (d == NULL)
		return -ENOMEM;
	memset(d, 0, sizeof *d);
	d->rng.fill = drbg_fill;
	d->rng.self = d;
	d->parent = parent;
	rng_fill(parent, d->key, sizeof d->key);
	d->pos = BUF_LEN;
	*out = d;
	return 0;
}

const struct rng *cx_drbg_rng(struct cx_drbg *d)
{
	return &d->rng;
}

void cx_drbg_free(struct cx_drbg *d)
{
	sodium_free(d);
}
