/* Fuzz target: Noise handshake messages and transport ciphertexts.
 *
 * Input: byte 0 selects a pattern (XK, XX, IK, NK) and which message of
 * the handshake the rest of the input replaces; a genuine handshake is run
 * up to that message.  If byte 1 has its top bit set, the genuine message
 * is used with the following bytes XORed over it (so most inputs are near
 * valid).  Invariants: the genuine message is always accepted (unless an
 * earlier substituted message was accepted: the unauthenticated first
 * messages of XX and NK let the two sides diverge); any
 * accepted message returns a payload no longer than the message; a
 * rejected one leaves the handshake FAILED; transport decryption accepts
 * only the genuine ciphertext. */
#include <stdbool.h>
#include <string.h>

#include "crypto/cx.h"
#include "crypto/noise.h"
#include "crypto/prim.h"
#include "tests/fuzz/cx_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *names[] = {
	"Noise_XK_25519_ChaChaPoly_BLAKE2b",
	"Noise_XX_25519_ChaChaPoly_BLAKE2b",
	"Noise_IK_25519_ChaChaPoly_BLAKE2b",
	"Noise_NK_25519_ChaChaPoly_BLAKE2b",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool init;
	static uint8_t i_s[32], i_pk[32], r_s[32], r_pk[32];
	struct fuzz_rng rng;
	struct cx_noise_keys ki = {0}, kr = {0};
	struct cx_noise_hs *hs[2] = {NULL, NULL};
	struct cx_noise_cs *send = NULL, *recv = NULL, *s2 = NULL, *r2 = NULL;
	static uint8_t msg[CX_NOISE_MAX_MSG], pl[CX_NOISE_MAX_MSG];
	size_t len, plen, target, k;
	bool diverged = false; /* an accepted non-genuine message came first */
	const char *name;
	int r;

	if (!init) {
		cx_init();
		fuzz_rng_init(&rng, 1);
		cx_x25519_keypair(i_pk, i_s, &rng.rng);
		cx_x25519_keypair(r_pk, r_s, &rng.rng);
		init = true;
	}
	if (size < 2)
		return 0;
	name = names[data[0] % 4];
	target = (data[0] >> 2) % 4; /* message index; 3 = transport */
	fuzz_rng_init(&rng, 2);
	ki.s = i_s;
	kr.s = r_s;
	if (name[7] == 'K')
		ki.rs = r_pk;
	FUZZ_CHECK(cx_noise_hs_new(&hs[0], name, CX_NOISE_INITIATOR, NULL, 0,
				   &ki, &rng.rng) == 0);
	FUZZ_CHECK(cx_noise_hs_new(&hs[1], name, CX_NOISE_RESPONDER, NULL, 0,
				   &kr, &rng.rng) == 0);
	for (k = 0;; k++) {
		struct cx_noise_hs *w, *rd;
		bool genuine = true;

		if (cx_noise_hs_action(hs[0]) == CX_NOISE_SPLIT)
			break;
		w = cx_noise_hs_action(hs[0]) == CX_NOISE_WRITE ? hs[0] : hs[1];
		rd = w == hs[0] ? hs[1] : hs[0];
		r = cx_noise_hs_write(w, (const uint8_t *)"p", 1, msg,
				      sizeof msg, &len);
		/* Only a substituted (say low-order) key can make the
		 * writer fail, and then the handshake is dead. */
		FUZZ_CHECK(r == 0 || diverged);
		if (r != 0) {
			FUZZ_CHECK(cx_noise_hs_action(w) == CX_NOISE_FAILED);
			goto out;
		}
		if (k == target) {
			if (data[1] & 0x80) {
				for (size_t j = 2; j < size && j - 2 < len; j++)
					msg[j - 2] ^= data[j];
				for (size_t j = 2; j < size && j - 2 < len; j++)
					genuine = genuine && data[j] == 0;
			} else {
				len = size - 2 < sizeof msg ? size - 2
							    : sizeof msg;
				memcpy(msg, data + 2, len);
				genuine = false;
			}
		}
		r = cx_noise_hs_read(rd, msg, len, pl, sizeof pl, &plen);
		if (genuine && !diverged)
			FUZZ_CHECK(r == 0 && plen == 1 && pl[0] == 'p');
		if (r == 0) {
			FUZZ_CHECK(plen <= len);
			diverged = diverged || !genuine;
		} else {
			FUZZ_CHECK(cx_noise_hs_action(rd) == CX_NOISE_FAILED);
			goto out;
		}
	}
	FUZZ_CHECK(cx_noise_hs_split(hs[0], &send, &recv) == 0);
	FUZZ_CHECK(cx_noise_hs_split(hs[1], &s2, &r2) == 0);
	FUZZ_CHECK(cx_noise_cs_encrypt(send, NULL, 0, (const uint8_t *)"data",
				       4, msg, sizeof msg, &len) == 0);
	if (target == 3) {
		uint8_t real[4 + 16];
		bool same;

		memcpy(real, msg, sizeof real);
		len = size - 2 < sizeof msg ? size - 2 : sizeof msg;
		memcpy(msg, data + 2, len);
		same = len == sizeof real && memcmp(msg, real, len) == 0;
		r = cx_noise_cs_decrypt(r2, NULL, 0, msg, len, pl, sizeof pl,
					&plen);
		FUZZ_CHECK((r == 0) == same);
		FUZZ_CHECK(cx_noise_cs_nonce(r2) == (same ? 1u : 0u));
	} else if (!diverged) {
		FUZZ_CHECK(cx_noise_cs_decrypt(r2, NULL, 0, msg, len, pl,
					       sizeof pl, &plen) == 0);
	}
out:
	cx_noise_cs_free(send);
	cx_noise_cs_free(recv);
	cx_noise_cs_free(s2);
	cx_noise_cs_free(r2);
	cx_noise_hs_free(hs[0]);
	cx_noise_hs_free(hs[1]);
	return 0;
}
