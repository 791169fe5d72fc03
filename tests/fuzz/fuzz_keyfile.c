/* Fuzz target: the key file parser (crypto/keyfile.c).
 *
 * Input: one mode byte, then the file.  Mode bit 0 recomputes the trailing
 * BLAKE2b checksum so the fuzzer gets past it to the fields behind; bit 1
 * supplies the passphrase "fuzz".  When both are set, the Argon2id cost is
 * first lowered to the minimum, so one input never costs more than a few
 * microseconds of hashing (the bounds themselves are fuzzed in the other
 * modes, where they are checked before the missing passphrase is).
 *
 * Invariants (abort on a broken one):
 *  - the result is 0, -EBADMSG, -ENOKEY or -EKEYREJECTED;
 *  - a file whose checksum is wrong is -EBADMSG;
 *  - on failure the identity is all zero (nothing half-loaded);
 *  - -ENOKEY only for a file cx_keyfile_is_sealed() calls sealed;
 *  - on success the identity passes cx_identity_check(), and an unsealed
 *    input is exactly what cx_keyfile_encode() writes for it (the decoder
 *    accepts one encoding per identity). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/keyfile.h"
#include "crypto/keys.h"

static void fixed_fill(void *self, uint8_t *buf, size_t len)
{
	(void)self;
	memset(buf, 0x42, len);
}

static const struct rng fixed_rng = {fixed_fill, NULL};

static void check(int ok)
{
	if (!ok)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int inited;
	uint8_t f[CX_KEYFILE_MAX + 1], sum[32];
	struct cx_identity id, zero;
	const char *pass = NULL;
	size_t len, pass_len = 0;
	bool sum_ok;
	int r;

	if (!inited) {
		if (cx_init() < 0)
			abort();
		inited = 1;
	}
	if (size < 1)
		return 0;
	len = size - 1;
	if (len > sizeof f)
		len = sizeof f; /* anything longer is refused the same way */
	memcpy(f, data + 1, len);
	if (data[0] & 2) {
		pass = "fuzz";
		pass_len = 4;
	}
	if ((data[0] & 3) == 3 && len >= 20) {
		memcpy(f + 12, "\x00\x00\x00\x01\x00\x00\x00\x08", 8);
	}
	if ((data[0] & 1) && len >= 32)
		crypto_generichash(f + len - 32, 32, f, len - 32, NULL, 0);
	sum_ok = len >= 32;
	if (sum_ok) {
		crypto_generichash(sum, 32, f, len - 32, NULL, 0);
		sum_ok = memcmp(sum, f + len - 32, 32) == 0;
	}

	memset(&zero, 0, sizeof zero);
	r = cx_keyfile_decode(&id, f, len, pass, pass_len);
	check(r == 0 || r == -EBADMSG || r == -ENOKEY || r == -EKEYREJECTED);
	if (!sum_ok || len > CX_KEYFILE_MAX)
		check(r == -EBADMSG);
	if (r == -ENOKEY)
		check(pass == NULL && cx_keyfile_is_sealed(f, len) == 1);
	if (r != 0) {
		check(memcmp(&id, &zero, sizeof id) == 0);
		return 0;
	}
	check(cx_identity_check(&id) == 0);
	if (!cx_keyfile_is_sealed(f, len)) {
		uint8_t *again = NULL;
		size_t again_len = 0;

		check(cx_keyfile_encode(&again, &again_len, &id, NULL, 0,
					&fixed_rng) == 0);
		check(again_len == len && memcmp(again, f, len) == 0);
		cx_keyfile_free(again, again_len);
	}
	cx_identity_close(&id);
	return 0;
}
