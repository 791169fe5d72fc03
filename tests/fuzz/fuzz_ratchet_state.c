/* Fuzz target: the serialised Double Ratchet state (as read back from
 * LMDB).  Invariants: anything accepted re-serialises to exactly the input
 * (the encoding is canonical) within CX_RATCHET_STATE_MAX; a loaded state
 * can be used: encrypt either works or says -EAGAIN, and decrypting its own
 * output never crashes; garbage is refused without leaking (ASan). */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "crypto/cx.h"
#include "crypto/ratchet.h"
#include "tests/fuzz/cx_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool init;
	static uint8_t again[CX_RATCHET_STATE_MAX];
	struct fuzz_rng rng;
	struct cx_ratchet *r = NULL;
	uint8_t msg[256], out[256];
	size_t len, mlen, olen;
	int ret;

	if (!init) {
		cx_init();
		init = true;
	}
	fuzz_rng_init(&rng, 9);
	if (cx_ratchet_load(&r, data, size, &rng.rng) != 0)
		return 0;
	FUZZ_CHECK(size <= CX_RATCHET_STATE_MAX);
	FUZZ_CHECK(cx_ratchet_saved_len(r) == size);
	FUZZ_CHECK(cx_ratchet_save(r, again, sizeof again, &len) == 0);
	FUZZ_CHECK(len == size && memcmp(again, data, size) == 0);
	ret = cx_ratchet_encrypt(r, (const uint8_t *)"x", 1, msg, sizeof msg,
				 &mlen);
	FUZZ_CHECK(ret == 0 || ret == -EAGAIN || ret == -EOVERFLOW);
	if (ret == 0) {
		FUZZ_CHECK(mlen == 1 + CX_RATCHET_OVERHEAD);
		(void)cx_ratchet_decrypt(r, msg, mlen, out, sizeof out, &olen);
	}
	cx_ratchet_free(r);
	return 0;
}
