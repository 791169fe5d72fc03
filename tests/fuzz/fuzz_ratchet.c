/* Fuzz target: Double Ratchet messages (encrypted headers and bodies).
 *
 * A fixed session is set up once: Alice sends four messages, Bob has
 * decrypted none, and his state is kept as bytes.  Each input is given to a
 * fresh copy of Bob.  If byte 0 has its top bit set, genuine message
 * (byte 0 & 3) is used with the remaining bytes XORed over it.
 * Invariants: a genuine message always decrypts to its plaintext; any
 * accepted input is byte-for-byte a genuine message (forgeries never pass);
 * a rejected input leaves Bob's saved state unchanged. */
#include <stdbool.h>
#include <string.h>

#include "crypto/cx.h"
#include "crypto/prim.h"
#include "crypto/ratchet.h"
#include "tests/fuzz/cx_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define N_MSGS 4
static uint8_t msgs[N_MSGS][64 + CX_RATCHET_OVERHEAD];
static size_t msg_lens[N_MSGS];
static uint8_t bob_state[CX_RATCHET_STATE_MAX];
static size_t bob_len;
static struct fuzz_rng bob_rng;

static void setup(void)
{
	struct fuzz_rng rng;
	uint8_t sk[32], hka[32], nhkb[32], bpk[32], bsk[32];
	struct cx_ratchet *a, *b;
	int i;

	cx_init();
	fuzz_rng_init(&rng, 5);
	fuzz_rng_init(&bob_rng, 6);
	rng_fill(&rng.rng, sk, 32);
	rng_fill(&rng.rng, hka, 32);
	rng_fill(&rng.rng, nhkb, 32);
	cx_x25519_keypair(bpk, bsk, &rng.rng);
	FUZZ_CHECK(cx_ratchet_new_alice(&a, sk, bpk, hka, nhkb,
					(const uint8_t *)"ad", 2,
					&rng.rng) == 0);
	FUZZ_CHECK(cx_ratchet_new_bob(&b, sk, bsk, hka, nhkb,
				      (const uint8_t *)"ad", 2,
				      &bob_rng.rng) == 0);
	for (i = 0; i < N_MSGS; i++) {
		uint8_t pt[16];

		memset(pt, 'a' + i, sizeof pt);
		FUZZ_CHECK(cx_ratchet_encrypt(a, pt, 8 + (size_t)i, msgs[i],
					      sizeof msgs[i],
					      &msg_lens[i]) == 0);
	}
	FUZZ_CHECK(cx_ratchet_save(b, bob_state, sizeof bob_state, &bob_len) ==
		   0);
	cx_ratchet_free(a);
	cx_ratchet_free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool init;
	static uint8_t in[1 << 16], out[1 << 16], after[CX_RATCHET_STATE_MAX];
	struct cx_ratchet *b = NULL;
	size_t len, olen, alen;
	int genuine = -1, i, r;

	if (!init) {
		setup();
		init = true;
	}
	if (size == 0)
		return 0;
	if (data[0] & 0x80) {
		i = data[0] & 3;
		len = msg_lens[i];
		memcpy(in, msgs[i], len);
		genuine = i;
		for (size_t j = 1; j < size && j - 1 < len; j++) {
			in[j - 1] ^= data[j];
			if (data[j] != 0)
				genuine = -1;
		}
	} else {
		len = size - 1 < sizeof in ? size - 1 : sizeof in;
		memcpy(in, data + 1, len);
		for (i = 0; i < N_MSGS; i++)
			if (len == msg_lens[i] && memcmp(in, msgs[i], len) == 0)
				genuine = i;
	}
	FUZZ_CHECK(cx_ratchet_load(&b, bob_state, bob_len, &bob_rng.rng) == 0);
	r = cx_ratchet_decrypt(b, in, len, out, sizeof out, &olen);
	if (genuine >= 0) {
		FUZZ_CHECK(r == 0);
		FUZZ_CHECK(olen == 8 + (size_t)genuine);
		FUZZ_CHECK(out[0] == 'a' + genuine);
		FUZZ_CHECK(cx_ratchet_num_skipped(b) == (size_t)genuine);
	} else {
		FUZZ_CHECK(r < 0);
		FUZZ_CHECK(cx_ratchet_save(b, after, sizeof after, &alen) == 0);
		FUZZ_CHECK(alen == bob_len &&
			   memcmp(after, bob_state, alen) == 0);
	}
	cx_ratchet_free(b);
	return 0;
}
