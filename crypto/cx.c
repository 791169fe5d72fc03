/* Small helpers over libsodium for the layers that may not include it.
 * Nothing here holds state. */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "crypto/cx.h"

int cx_init(void)
{
	return sodium_init() < 0 ? -EIO : 0;
}

void cx_wipe(void *p, size_t len)
{
	sodium_memzero(p, len);
}

bool cx_equal(const void *a, const void *b, size_t len)
{
	return sodium_memcmp(a, b, len) == 0;
}

bool cx_is_zero(const void *p, size_t len)
{
	return sodium_is_zero(p, len) == 1;
}

void *cx_secret_alloc(size_t len)
{
	return sodium_malloc(len);
}

void cx_secret_free(void *p)
{
	sodium_free(p); /* NULL-safe; wipes before release */
}

void cx_hash(uint8_t out[static CX_HASH_LEN], const void *in, size_t in_len)
{
	crypto_generichash(out, CX_HASH_LEN, in, in_len, NULL, 0);
}

uint64_t cx_shorthash(const uint8_t key[static CX_SHORTHASH_KEY_LEN],
		      const void *in, size_t in_len)
{
	uint8_t h[crypto_shorthash_BYTES];
	uint64_t v = 0;

	crypto_shorthash(h, in, in_len, key);
	for (int i = 0; i < 8; i++)
		v = v << 8 | h[i];
	return v;
}

int cx_hex_encode(char *out, size_t out_max, const uint8_t *in, size_t in_len)
{
	if (out_max < in_len * 2 + 1)
		return -EINVAL;
	sodium_bin2hex(out, out_max, in, in_len);
	return 0;
}

int cx_hex_decode(uint8_t *out, size_t out_len, const char *hex)
{
	size_t bin_len = 0;
	const char *end = NULL;

	if (strlen(hex) != out_len * 2)
		return -EBADMSG;
	if (sodium_hex2bin(out, out_len, hex, out_len * 2, NULL, &bin_len,
			   &end) != 0 ||
	    bin_len != out_len || *end != '\0')
		return -EBADMSG;
	return 0;
}
