/* Fuzz target: sealed envelopes, X3DH initial-message headers, proof-of-
 * work stamps and padding.
 *
 * Byte 0 picks the parser.  Invariants: an envelope opens only if it is
 * byte-for-byte the genuine one (optionally reached by XORing the input
 * over it, all-zero XOR = genuine); an accepted X3DH header re-encodes to
 * the input; an accepted padded buffer re-pads to the input; stamp
 * verification agrees with itself at lower difficulty. */
#include <stdbool.h>
#include <string.h>

#include "crypto/cx.h"
#include "crypto/envelope.h"
#include "crypto/pad.h"
#include "crypto/prim.h"
#include "crypto/x3dh.h"
#include "tests/fuzz/cx_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t pk[32], sk[32], env[64];
static size_t env_len;

static void setup(void)
{
	struct fuzz_rng rng;

	cx_init();
	fuzz_rng_init(&rng, 3);
	cx_x25519_keypair(pk, sk, &rng.rng);
	FUZZ_CHECK(cx_envelope_seal(env, sizeof env, &env_len,
				    (const uint8_t *)"sealed", 6, pk,
				    &rng.rng) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool init;
	static uint8_t in[1 << 16], out[1 << 16];
	size_t len, olen, plen;
	bool genuine;
	int r;

	if (!init) {
		setup();
		init = true;
	}
	if (size == 0)
		return 0;
	len = size - 1 < sizeof in - 256 ? size - 1 : sizeof in - 256;
	memcpy(in, data + 1, len);
	switch (data[0] % 5) {
	case 0: /* raw envelope */
		genuine = len == env_len && memcmp(in, env, len) == 0;
		r = cx_envelope_open(out, sizeof out, &olen, in, len, sk, pk);
		FUZZ_CHECK((r == 0) == genuine);
		break;
	case 1: /* genuine envelope with the input XORed over it */
		memcpy(out, env, env_len);
		genuine = true;
		for (size_t j = 0; j < len && j < env_len; j++) {
			out[j] ^= in[j];
			genuine = genuine && in[j] == 0;
		}
		r = cx_envelope_open(in, sizeof in, &olen, out, env_len, sk,
				     pk);
		FUZZ_CHECK((r == 0) == genuine);
		if (r == 0)
			FUZZ_CHECK(olen == 6 && memcmp(in, "sealed", 6) == 0);
		break;
	case 2: { /* X3DH initial-message header */
		struct cx_x3dh_init init_msg;
		uint8_t enc[CX_X3DH_INIT_LEN];

		if (cx_x3dh_init_parse(&init_msg, in, len) == 0) {
			cx_x3dh_init_encode(enc, &init_msg);
			FUZZ_CHECK(len == sizeof enc &&
				   memcmp(enc, in, len) == 0);
		}
		break;
	}
	case 3: /* message padding */
		if (cx_unpad(in, len, &olen) == 0) {
			memcpy(out, in, olen);
			FUZZ_CHECK(cx_pad(out, olen, sizeof out, &plen) == 0);
			FUZZ_CHECK(plen == len && memcmp(out, in, len) == 0);
		}
		if (cx_unpadme(in, len, &olen) == 0) {
			memcpy(out, in, olen);
			FUZZ_CHECK(cx_padme(out, olen, sizeof out, &plen) == 0);
			FUZZ_CHECK(plen == len && memcmp(out, in, len) == 0);
		}
		break;
	case 4: /* stamps: challenge || difficulty || nonce */
		if (len >= 32 + 1 + 8) {
			unsigned d = in[32] % (CX_POW_MAX_DIFFICULTY + 1);
			uint64_t n = cx_pow_decode(in + 33);

			if (cx_pow_verify(in, d, n) && d > 0)
				FUZZ_CHECK(
					in[32] % (CX_POW_MAX_DIFFICULTY + 1) ==
					d);
			FUZZ_CHECK(!cx_pow_verify(in, CX_POW_MAX_DIFFICULTY + 1,
						  n));
		}
		break;
	}
	return 0;
}
