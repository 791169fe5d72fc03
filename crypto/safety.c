/* Safety numbers (see safety.h).  Public data only: nothing to wipe. */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "crypto/safety.h"

static const char safety_ctx[] = "parley safety v1"; /* + its NUL */

static void fingerprint(uint8_t fp[64], const uint8_t pk[32])
{
	crypto_hash_sha512_state st;
	int i;

	crypto_hash_sha512_init(&st);
	crypto_hash_sha512_update(&st, (const uint8_t *)safety_ctx,
				  sizeof safety_ctx);
	crypto_hash_sha512_update(&st, pk, 32);
	crypto_hash_sha512_final(&st, fp);
	for (i = 0; i < CX_SAFETY_ITERATIONS; i++) {
		crypto_hash_sha512_init(&st);
		crypto_hash_sha512_update(&st, fp, 64);
		crypto_hash_sha512_update(&st, pk, 32);
		crypto_hash_sha512_final(&st, fp);
	}
}

/* Both fingerprints, smaller first. */
static void sorted(uint8_t lo[64], uint8_t hi[64], const uint8_t a[32],
		   const uint8_t b[32])
{
	uint8_t fa[64], fb[64];

	fingerprint(fa, a);
	fingerprint(fb, b);
	if (memcmp(fa, fb, 64) <= 0) {
		memcpy(lo, fa, 64);
		memcpy(hi, fb, 64);
	} else {
		memcpy(lo, fb, 64);
		memcpy(hi, fa, 64);
	}
}

static void digits30(char *out, const uint8_t fp[64])
{
	int g, k;

	for (g = 0; g < 6; g++) {
		uint64_t v = 0;

		for (k = 0; k < 5; k++)
			v = v << 8 | fp[5 * g + k];
		v %= 100000;
		for (k = 4; k >= 0; k--) {
			out[g * 5 + k] = (char)('0' + v % 10);
			v /= 10;
		}
	}
}

int cx_safety_number(char *out, size_t out_max,
		     const uint8_t a[static CX_ED_PK_LEN],
		     const uint8_t b[static CX_ED_PK_LEN])
{
	uint8_t lo[64], hi[64];
	char d[CX_SAFETY_DIGITS];
	size_t i, o = 0;

	if (out_max < CX_SAFETY_TEXT_LEN + 1)
		return -E2BIG;
	sorted(lo, hi, a, b);
	digits30(d, lo);
	digits30(d + 30, hi);
	for (i = 0; i < CX_SAFETY_DIGITS; i++) {
		if (i > 0 && i % 5 == 0)
			out[o++] = ' ';
		out[o++] = d[i];
	}
	out[o] = '\0';
	return 0;
}

void cx_safety_qr(uint8_t out[static CX_SAFETY_QR_LEN],
		  const uint8_t a[static CX_ED_PK_LEN],
		  const uint8_t b[static CX_ED_PK_LEN])
{
	uint8_t lo[64], hi[64];

	sorted(lo, hi, a, b);
	out[0] = 0x01;
	memcpy(out + 1, lo, 32);
	memcpy(out + 33, hi, 32);
}

bool cx_safety_qr_verify(const uint8_t *payload, size_t len,
			 const uint8_t a[static CX_ED_PK_LEN],
			 const uint8_t b[static CX_ED_PK_LEN])
{
	uint8_t mine[CX_SAFETY_QR_LEN];

	if (len != CX_SAFETY_QR_LEN)
		return false;
	cx_safety_qr(mine, a, b);
	return sodium_memcmp(mine, payload, CX_SAFETY_QR_LEN) == 0;
}
