/* Session-level crypto tests: X3DH into the Double Ratchet (with and
 * without a one-time prekey), its signature and key checks; sealed
 * envelopes, mailbox IDs and proof-of-work stamps; safety numbers. */
#include <errno.h>

#include <sodium.h>

#include "crypto/cx.h"
#include "crypto/envelope.h"
#include "crypto/prim.h"
#include "crypto/ratchet.h"
#include "crypto/safety.h"
#include "crypto/x3dh.h"
#include "cx_testutil.h"

struct bob {
	uint8_t ik_pk[32], ik_sk[64], spk_pk[32], spk_sk[32], opk_pk[32],
		opk_sk[32];
	struct cx_x3dh_bundle bundle;
};

static void make_bob(struct bob *b, struct rng *rng, bool opk)
{
	uint8_t seed[32];

	rng_fill(rng, seed, 32);
	crypto_sign_seed_keypair(b->ik_pk, b->ik_sk, seed);
	cx_x25519_keypair(b->spk_pk, b->spk_sk, rng);
	cx_x25519_keypair(b->opk_pk, b->opk_sk, rng);
	memset(&b->bundle, 0, sizeof b->bundle);
	memcpy(b->bundle.ik, b->ik_pk, 32);
	b->bundle.spk_id = 7;
	memcpy(b->bundle.spk, b->spk_pk, 32);
	cx_x3dh_sign_prekey(b->bundle.spk_sig, b->ik_sk, 7, b->spk_pk);
	b->bundle.has_opk = opk;
	if (opk) {
		b->bundle.opk_id = 99;
		memcpy(b->bundle.opk, b->opk_pk, 32);
	}
}

static void x3dh_then_ratchet(bool opk)
{
	struct test_rng rng;
	struct bob b;
	uint8_t a_pk[32], a_sk[64], seed[32], wire[CX_X3DH_INIT_LEN];
	struct cx_x3dh_result ra, rb;
	struct cx_x3dh_init init, parsed;
	struct cx_ratchet *alice, *bobr;
	uint8_t msg[256], pt[256];
	size_t len, plen;

	test_rng_init(&rng, opk ? 21 : 22);
	make_bob(&b, &rng.rng, opk);
	rng_fill(&rng.rng, seed, 32);
	crypto_sign_seed_keypair(a_pk, a_sk, seed);

	assert_int_equal(
		cx_x3dh_initiate(&ra, &init, a_sk, &b.bundle, &rng.rng), 0);
	cx_x3dh_init_encode(wire, &init);
	assert_int_equal(cx_x3dh_init_parse(&parsed, wire, sizeof wire), 0);
	assert_int_equal(parsed.has_opk, opk);
	assert_int_equal(parsed.spk_id, 7);
	assert_int_equal(cx_x3dh_respond(&rb, &parsed, b.ik_sk, b.spk_sk,
					 opk ? b.opk_sk : NULL),
			 0);
	assert_memory_equal(&ra, &rb, sizeof ra);
	/* AD = IK_A || IK_B */
	assert_memory_equal(ra.ad, a_pk, 32);
	assert_memory_equal(ra.ad + 32, b.ik_pk, 32);

	assert_int_equal(cx_ratchet_new_alice(&alice, ra.sk, b.spk_pk, ra.hka,
					      ra.nhkb, ra.ad, sizeof ra.ad,
					      &rng.rng),
			 0);
	assert_int_equal(cx_ratchet_new_bob(&bobr, rb.sk, b.spk_sk, rb.hka,
					    rb.nhkb, rb.ad, sizeof rb.ad,
					    &rng.rng),
			 0);
	assert_int_equal(cx_ratchet_encrypt(alice, (const uint8_t *)"hi bob", 6,
					    msg, sizeof msg, &len),
			 0);
	assert_int_equal(
		cx_ratchet_decrypt(bobr, msg, len, pt, sizeof pt, &plen), 0);
	assert_memory_equal(pt, "hi bob", 6);
	assert_int_equal(cx_ratchet_encrypt(bobr, (const uint8_t *)"hi alice",
					    8, msg, sizeof msg, &len),
			 0);
	assert_int_equal(
		cx_ratchet_decrypt(alice, msg, len, pt, sizeof pt, &plen), 0);
	assert_memory_equal(pt, "hi alice", 8);
	cx_ratchet_free(alice);
	cx_ratchet_free(bobr);

	/* A different identity claiming to be Alice gets other secrets. */
	parsed.ik[0] ^= 1;
	if (cx_x3dh_respond(&rb, &parsed, b.ik_sk, b.spk_sk,
			    opk ? b.opk_sk : NULL) == 0)
		assert_memory_not_equal(rb.sk, ra.sk, 32);
	cx_x3dh_result_wipe(&ra);
	cx_x3dh_result_wipe(&rb);
}

static void test_x3dh(void **state)
{
	(void)state;
	x3dh_then_ratchet(false);
	x3dh_then_ratchet(true);
}

static void test_x3dh_rejects(void **state)
{
	struct test_rng rng;
	struct bob b, other;
	uint8_t a_pk[32], a_sk[64], seed[32], wire[CX_X3DH_INIT_LEN];
	struct cx_x3dh_result res;
	struct cx_x3dh_init init;

	(void)state;
	test_rng_init(&rng, 23);
	make_bob(&b, &rng.rng, true);
	make_bob(&other, &rng.rng, true);
	rng_fill(&rng.rng, seed, 32);
	crypto_sign_seed_keypair(a_pk, a_sk, seed);
	/* Bad signature, or signed by someone else, or for another id. */
	b.bundle.spk_sig[5] ^= 1;
	assert_int_equal(
		cx_x3dh_initiate(&res, &init, a_sk, &b.bundle, &rng.rng),
		-EKEYREJECTED);
	assert_true(cx_is_zero(&res, sizeof res));
	b.bundle.spk_sig[5] ^= 1;
	memcpy(b.bundle.spk_sig, other.bundle.spk_sig, 64);
	assert_int_equal(cx_x3dh_verify_bundle(&b.bundle), -EKEYREJECTED);
	cx_x3dh_sign_prekey(b.bundle.spk_sig, b.ik_sk, 8, b.spk_pk);
	assert_int_equal(cx_x3dh_verify_bundle(&b.bundle), -EKEYREJECTED);
	/* The signature is not over the raw key bytes. */
	crypto_sign_detached(b.bundle.spk_sig, NULL, b.spk_pk, 32, b.ik_sk);
	assert_int_equal(cx_x3dh_verify_bundle(&b.bundle), -EKEYREJECTED);
	/* A low-order signed prekey, even correctly signed, is refused. */
	memset(b.bundle.spk, 0, 32);
	cx_x3dh_sign_prekey(b.bundle.spk_sig, b.ik_sk, 7, b.bundle.spk);
	assert_int_equal(
		cx_x3dh_initiate(&res, &init, a_sk, &b.bundle, &rng.rng),
		-EKEYREJECTED);
	/* Header parsing. */
	memset(&init, 0, sizeof init);
	init.has_opk = false;
	cx_x3dh_init_encode(wire, &init);
	assert_int_equal(cx_x3dh_init_parse(&init, wire, sizeof wire - 1),
			 -EBADMSG);
	wire[1] = 2;
	assert_int_equal(cx_x3dh_init_parse(&init, wire, sizeof wire),
			 -EBADMSG);
	wire[1] = 0;
	wire[73] = 1; /* opk id without the flag */
	assert_int_equal(cx_x3dh_init_parse(&init, wire, sizeof wire),
			 -EBADMSG);
	wire[73] = 0;
	wire[0] = 2;
	assert_int_equal(cx_x3dh_init_parse(&init, wire, sizeof wire),
			 -EBADMSG);
	/* Bob without the one-time prekey the header names. */
	init.has_opk = true;
	assert_int_equal(cx_x3dh_respond(&res, &init, b.ik_sk, b.spk_sk, NULL),
			 -EINVAL);
}

static void test_envelope(void **state)
{
	struct test_rng rng;
	uint8_t pk[32], sk[32], pk2[32], sk2[32], env[300], out[300];
	size_t len, olen, i;
	const char *text = "deposit for the mailbox";

	(void)state;
	test_rng_init(&rng, 31);
	cx_x25519_keypair(pk, sk, &rng.rng);
	cx_x25519_keypair(pk2, sk2, &rng.rng);
	assert_int_equal(cx_envelope_seal(env, sizeof env, &len,
					  (const uint8_t *)text, strlen(text),
					  pk, &rng.rng),
			 0);
	assert_int_equal(len, strlen(text) + CX_ENVELOPE_OVERHEAD);
	assert_int_equal(
		cx_envelope_open(out, sizeof out, &olen, env, len, sk, pk), 0);
	assert_int_equal(olen, strlen(text));
	assert_memory_equal(out, text, olen);
	/* Someone else's key, any flipped bit, truncation: rejected. */
	assert_int_equal(
		cx_envelope_open(out, sizeof out, &olen, env, len, sk2, pk2),
		-EKEYREJECTED);
	for (i = 1; i < len; i++) {
		env[i] ^= 4;
		assert_true(cx_envelope_open(out, sizeof out, &olen, env, len,
					     sk, pk) < 0);
		env[i] ^= 4;
	}
	assert_int_equal(
		cx_envelope_open(out, sizeof out, &olen, env, 48, sk, pk),
		-EBADMSG);
	env[0] = 9;
	assert_int_equal(
		cx_envelope_open(out, sizeof out, &olen, env, len, sk, pk),
		-EBADMSG);
	/* A low-order mailbox key is refused when sealing. */
	memset(pk2, 0, 32);
	assert_int_equal(cx_envelope_seal(env, sizeof env, &len,
					  (const uint8_t *)text, 3, pk2,
					  &rng.rng),
			 -EKEYREJECTED);
	/* Two seals of the same text differ (fresh ephemeral key). */
	{
		uint8_t e1[100], e2[100];
		size_t l1, l2;

		assert_int_equal(cx_envelope_seal(e1, sizeof e1, &l1,
						  (const uint8_t *)"x", 1, pk,
						  &rng.rng),
				 0);
		assert_int_equal(cx_envelope_seal(e2, sizeof e2, &l2,
						  (const uint8_t *)"x", 1, pk,
						  &rng.rng),
				 0);
		assert_memory_not_equal(e1, e2, l1);
	}
}

static void test_mailbox_ids(void **state)
{
	uint8_t secret[32], other[32], rpk[32], a[32], b[32];

	(void)state;
	memset(secret, 1, 32);
	memset(other, 2, 32);
	memset(rpk, 3, 32);
	assert_int_equal(cx_mailbox_epoch(86400 * 5 + 3, 86400), 5);
	cx_mailbox_id(a, secret, rpk, 5);
	cx_mailbox_id(b, secret, rpk, 5);
	assert_memory_equal(a, b, 32); /* both sides agree */
	cx_mailbox_id(b, secret, rpk, 6);
	assert_memory_not_equal(a, b, 32); /* rotates per epoch */
	cx_mailbox_id(b, other, rpk, 5);
	assert_memory_not_equal(a, b, 32); /* needs the secret */
	rpk[0] ^= 1;
	cx_mailbox_id(b, secret, rpk, 5);
	assert_memory_not_equal(a, b, 32); /* one per direction */
	cx_request_mailbox_id(a, rpk, 5);
	cx_request_mailbox_id(b, rpk, 6);
	assert_memory_not_equal(a, b, 32);
}

static void test_pow(void **state)
{
	uint8_t mb[32], env[64], ch[32], ch2[32], enc[8];
	uint64_t nonce = 0, resume;
	unsigned d;

	(void)state;
	memset(mb, 7, 32);
	memset(env, 9, sizeof env);
	cx_pow_challenge(ch, mb, env, sizeof env);
	for (d = 0; d <= 16; d += 4) {
		nonce = 0;
		assert_int_equal(cx_pow_solve(&nonce, ch, d, UINT64_MAX), 0);
		assert_true(cx_pow_verify(ch, d, nonce));
		cx_pow_encode(enc, nonce);
		assert_true(cx_pow_decode(enc) == nonce);
	}
	/* A 16-bit stamp is (almost surely) not a 24-bit one, nor good for
	 * another envelope. */
	assert_false(cx_pow_verify(ch, 24, nonce) &&
		     cx_pow_verify(ch, 24, nonce + 1));
	env[0] ^= 1;
	cx_pow_challenge(ch2, mb, env, sizeof env);
	assert_false(cx_pow_verify(ch2, 16, nonce) &&
		     cx_pow_verify(ch2, 16, nonce + 1));
	/* Resumable: a bounded search returns -EAGAIN and continues. */
	resume = 0;
	while (cx_pow_solve(&resume, ch, 12, 100) == -EAGAIN)
		;
	assert_true(cx_pow_verify(ch, 12, resume));
	assert_int_equal(cx_pow_solve(&resume, ch, 41, 1), -EINVAL);
	assert_false(cx_pow_verify(ch, 41, resume));
}

static void test_safety_numbers(void **state)
{
	uint8_t a[32], b[32], c[32], qa[CX_SAFETY_QR_LEN], qb[CX_SAFETY_QR_LEN];
	char s1[80], s2[80], s3[80];
	size_t i;

	(void)state;
	memset(a, 0x11, 32);
	memset(b, 0x22, 32);
	memset(c, 0x33, 32);
	assert_int_equal(cx_safety_number(s1, sizeof s1, a, b), 0);
	assert_int_equal(cx_safety_number(s2, sizeof s2, b, a), 0);
	assert_string_equal(s1, s2); /* order-independent */
	assert_int_equal(strlen(s1), CX_SAFETY_TEXT_LEN);
	for (i = 0; i < strlen(s1); i++)
		assert_true(i % 6 == 5 ? s1[i] == ' '
				       : (s1[i] >= '0' && s1[i] <= '9'));
	assert_int_equal(cx_safety_number(s3, sizeof s3, a, c), 0);
	assert_string_not_equal(s1, s3);
	/* Stable: the same keys give the same number (golden value pins the
	 * construction against accidental change). */
	assert_string_equal(s1, "72392 34899 92576 08895 83902 72318 "
				"01032 98432 20531 83766 01348 16339");
	cx_safety_qr(qa, a, b);
	cx_safety_qr(qb, b, a);
	assert_memory_equal(qa, qb, sizeof qa);
	assert_true(cx_safety_qr_verify(qa, sizeof qa, b, a));
	assert_false(cx_safety_qr_verify(qa, sizeof qa, a, c));
	assert_false(cx_safety_qr_verify(qa, sizeof qa - 1, a, b));
	assert_int_equal(cx_safety_number(s3, CX_SAFETY_TEXT_LEN, a, b),
			 -E2BIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_x3dh),
		cmocka_unit_test(test_x3dh_rejects),
		cmocka_unit_test(test_envelope),
		cmocka_unit_test(test_mailbox_ids),
		cmocka_unit_test(test_pow),
		cmocka_unit_test(test_safety_numbers),
	};

	if (cx_init() < 0)
		return 1;
	return cmocka_run_group_tests_name("crypto_session", tests, NULL, NULL);
}
