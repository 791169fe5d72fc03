/* Noise tests: every cacophony vector libsodium can run (25519 with
 * ChaChaPoly, and AESGCM where the CPU has it; SHA256, SHA512 or BLAKE2b;
 * every base, deferred and psk pattern in the file), checking each
 * ciphertext, each payload and the handshake hash; then the properties
 * parley relies on: failures are final, nonces are bounded, rekey agrees,
 * low-order keys are refused. */
#include <errno.h>

#include <sodium.h>

#include "crypto/cx.h"
#include "crypto/noise.h"
#include "crypto/prim.h"
#include "cx_testutil.h"

#define BUF 70000

struct party {
	uint8_t s[32], e[32], rs[32];
	uint8_t psks[CX_NOISE_MAX_PSKS][32];
	struct cx_noise_keys keys;
};

static void load_party(struct party *p, json_t *v, const char *pre)
{
	char name[64];
	const char *fields[] = {"static", "ephemeral", "remote_static"};
	uint8_t *dst[] = {p->s, p->e, p->rs};
	const uint8_t **keyp[] = {&p->keys.s, &p->keys.e, &p->keys.rs};
	json_t *psks, *x;
	size_t i, n;

	memset(p, 0, sizeof *p);
	for (i = 0; i < 3; i++) {
		json_t *f;
		uint8_t *b;

		snprintf(name, sizeof name, "%s_%s", pre, fields[i]);
		f = json_object_get(v, name);
		if (!json_is_string(f))
			continue;
		b = tv_hex(json_string_value(f), &n);
		assert_int_equal(n, 32);
		memcpy(dst[i], b, 32);
		*keyp[i] = dst[i];
		free(b);
	}
	snprintf(name, sizeof name, "%s_psks", pre);
	psks = json_object_get(v, name);
	json_array_foreach(psks, i, x)
	{
		uint8_t *b = tv_hex(json_string_value(x), &n);

		assert_true(i < CX_NOISE_MAX_PSKS);
		assert_int_equal(n, 32);
		memcpy(p->psks[i], b, 32);
		free(b);
		p->keys.num_psks = i + 1;
	}
	p->keys.psks = (const uint8_t(*)[32])p->psks;
}

/* Whether the vector's name is one libsodium can run on this machine. */
static bool runnable(const char *name)
{
	if (strstr(name, "_25519_") == NULL || strstr(name, "BLAKE2s") != NULL)
		return false;
	if (strstr(name, "_AESGCM_") != NULL)
		return crypto_aead_aes256gcm_is_available();
	return strstr(name, "_ChaChaPoly_") != NULL;
}

/* One-way patterns (N, K, X and their psk variants) send transport
 * messages from the initiator only. */
static bool one_way(const char *name)
{
	const char *p = name + strlen("Noise_");

	return (p[0] == 'N' || p[0] == 'K' || p[0] == 'X') &&
	       (p[1] == '_' || (p[1] >= 'a' && p[1] <= 'z'));
}

/* Runs one vector; returns the number of mismatches. */
static int run_vector(json_t *v, const struct rng *rng)
{
	const char *name =
		json_string_value(json_object_get(v, "protocol_name"));
	struct party pi, pr;
	struct cx_noise_hs *hi = NULL, *hr = NULL;
	struct cx_noise_cs *i_send = NULL, *i_recv = NULL, *r_send = NULL,
			   *r_recv = NULL;
	uint8_t *ipro, *rpro, *hh;
	size_t ipro_len, rpro_len, hh_len, k, len, plen;
	uint8_t *out = malloc(BUF), *pt = malloc(BUF);
	uint8_t h1[64], h2[64];
	size_t h1_len, h2_len;
	json_t *m;
	int bad = 0;

	load_party(&pi, v, "init");
	load_party(&pr, v, "resp");
	ipro = tv_field(v, "init_prologue", &ipro_len);
	rpro = tv_field(v, "resp_prologue", &rpro_len);
	hh = tv_field(v, "handshake_hash", &hh_len);
	assert_int_equal(cx_noise_hs_new(&hi, name, CX_NOISE_INITIATOR, ipro,
					 ipro_len, &pi.keys, rng),
			 0);
	assert_int_equal(cx_noise_hs_new(&hr, name, CX_NOISE_RESPONDER, rpro,
					 rpro_len, &pr.keys, rng),
			 0);
	json_array_foreach(json_object_get(v, "messages"), k, m)
	{
		size_t pl_len, ct_len;
		uint8_t *pl = tv_field(m, "payload", &pl_len);
		uint8_t *ct = tv_field(m, "ciphertext", &ct_len);
		bool from_init;
		int r;

		if (cx_noise_hs_action(hi) != CX_NOISE_SPLIT) {
			struct cx_noise_hs *w = k % 2 == 0 ? hi : hr;
			struct cx_noise_hs *rd = k % 2 == 0 ? hr : hi;

			assert_int_equal(cx_noise_hs_action(w), CX_NOISE_WRITE);
			assert_int_equal(cx_noise_hs_write(w, pl, pl_len, out,
							   BUF, &len),
					 0);
			r = cx_noise_hs_read(rd, out, len, pt, BUF, &plen);
			if (r != 0 || len != ct_len ||
			    memcmp(out, ct, len) != 0 || plen != pl_len ||
			    memcmp(pt, pl, plen) != 0)
				bad++;
			if (cx_noise_hs_action(hi) == CX_NOISE_SPLIT) {
				assert_int_equal(cx_noise_hs_action(hr),
						 CX_NOISE_SPLIT);
				assert_int_equal(
					cx_noise_hs_split(hi, &i_send, &i_recv),
					0);
				assert_int_equal(
					cx_noise_hs_split(hr, &r_send, &r_recv),
					0);
			}
		} else {
			from_init = one_way(name) || k % 2 == 0;
			assert_int_equal(
				cx_noise_cs_encrypt(from_init ? i_send : r_send,
						    NULL, 0, pl, pl_len, out,
						    BUF, &len),
				0);
			r = cx_noise_cs_decrypt(from_init ? r_recv : i_recv,
						NULL, 0, out, len, pt, BUF,
						&plen);
			if (r != 0 || len != ct_len ||
			    memcmp(out, ct, len) != 0 || plen != pl_len ||
			    memcmp(pt, pl, plen) != 0)
				bad++;
		}
		free(pl);
		free(ct);
	}
	assert_int_equal(cx_noise_hs_action(hi), CX_NOISE_SPLIT);
	assert_int_equal(cx_noise_hs_hash(hi, h1, sizeof h1, &h1_len), 0);
	assert_int_equal(cx_noise_hs_hash(hr, h2, sizeof h2, &h2_len), 0);
	if (h1_len != hh_len || h2_len != hh_len ||
	    memcmp(h1, hh, hh_len) != 0 || memcmp(h2, hh, hh_len) != 0)
		bad++;
	if (bad)
		print_message("# mismatch in %s\n", name);
	cx_noise_cs_free(i_send);
	cx_noise_cs_free(i_recv);
	cx_noise_cs_free(r_send);
	cx_noise_cs_free(r_recv);
	cx_noise_hs_free(hi);
	cx_noise_hs_free(hr);
	free(ipro);
	free(rpro);
	free(hh);
	free(out);
	free(pt);
	return bad;
}

static void test_cacophony(void **state)
{
	json_t *root = tv_load("noise/cacophony.txt"), *v;
	struct test_rng rng;
	size_t i;
	int run = 0, psk = 0, skipped = 0, bad = 0;

	(void)state;
	test_rng_init(&rng, 1);
	json_array_foreach(json_object_get(root, "vectors"), i, v)
	{
		const char *name =
			json_string_value(json_object_get(v, "protocol_name"));

		assert_non_null(name);
		if (!runnable(name)) {
			skipped++;
			continue;
		}
		bad += run_vector(v, &rng.rng);
		run++;
		psk += strstr(name, "psk") != NULL;
	}
	print_message("# cacophony: %d vectors run (%d with psk), %d out of "
		      "libsodium's reach (448, BLAKE2s%s), %d failed\n",
		      run, psk, skipped,
		      crypto_aead_aes256gcm_is_available() ? "" : ", AESGCM",
		      bad);
	assert_true(run >= 177);
	assert_int_equal(bad, 0);
	json_decref(root);
}

/* A complete handshake between two fresh parties; returns the split
 * states.  pattern is e.g. "XK". */
struct pair {
	struct cx_noise_hs *hi, *hr;
	struct cx_noise_cs *i_send, *i_recv, *r_send, *r_recv;
	uint8_t i_s[32], i_pk[32], r_s[32], r_pk[32];
};

static void pair_free(struct pair *p)
{
	cx_noise_hs_free(p->hi);
	cx_noise_hs_free(p->hr);
	cx_noise_cs_free(p->i_send);
	cx_noise_cs_free(p->i_recv);
	cx_noise_cs_free(p->r_send);
	cx_noise_cs_free(p->r_recv);
	memset(p, 0, sizeof *p);
}

static void handshake(struct pair *p, const char *pattern, struct rng *rng)
{
	char name[64];
	struct cx_noise_keys ki = {0}, kr = {0};
	uint8_t msg[512], pl[512], h1[64], h2[64], rs[32];
	size_t len, plen, hl1, hl2;
	const char *hello = "payload";

	memset(p, 0, sizeof *p);
	snprintf(name, sizeof name, "Noise_%s_25519_ChaChaPoly_BLAKE2b",
		 pattern);
	cx_x25519_keypair(p->i_pk, p->i_s, rng);
	cx_x25519_keypair(p->r_pk, p->r_s, rng);
	ki.s = p->i_s;
	kr.s = p->r_s;
	if (pattern[1] == 'K')
		ki.rs = p->r_pk;
	assert_int_equal(cx_noise_hs_new(&p->hi, name, CX_NOISE_INITIATOR,
					 (const uint8_t *)"pro", 3, &ki, rng),
			 0);
	assert_int_equal(cx_noise_hs_new(&p->hr, name, CX_NOISE_RESPONDER,
					 (const uint8_t *)"pro", 3, &kr, rng),
			 0);
	while (cx_noise_hs_action(p->hi) != CX_NOISE_SPLIT) {
		struct cx_noise_hs *w =
			cx_noise_hs_action(p->hi) == CX_NOISE_WRITE ? p->hi
								    : p->hr;
		struct cx_noise_hs *r = w == p->hi ? p->hr : p->hi;

		assert_int_equal(cx_noise_hs_action(r), CX_NOISE_READ);
		assert_int_equal(cx_noise_hs_write(w, (const uint8_t *)hello, 7,
						   msg, sizeof msg, &len),
				 0);
		assert_int_equal(
			cx_noise_hs_read(r, msg, len, pl, sizeof pl, &plen), 0);
		assert_int_equal(plen, 7);
		assert_memory_equal(pl, hello, 7);
	}
	assert_int_equal(cx_noise_hs_action(p->hr), CX_NOISE_SPLIT);
	assert_int_equal(cx_noise_hs_hash(p->hi, h1, sizeof h1, &hl1), 0);
	assert_int_equal(cx_noise_hs_hash(p->hr, h2, sizeof h2, &hl2), 0);
	assert_int_equal(hl1, 64);
	assert_memory_equal(h1, h2, 64);
	/* Both learned the other's static key where the pattern sends it. */
	if (pattern[0] != 'N') {
		assert_int_equal(cx_noise_hs_remote_static(p->hr, rs), 0);
		assert_memory_equal(rs, p->i_pk, 32);
	}
	assert_int_equal(cx_noise_hs_remote_static(p->hi, rs), 0);
	assert_memory_equal(rs, p->r_pk, 32);
	assert_int_equal(cx_noise_hs_split(p->hi, &p->i_send, &p->i_recv), 0);
	assert_int_equal(cx_noise_hs_split(p->hr, &p->r_send, &p->r_recv), 0);
}

static void test_parley_patterns(void **state)
{
	const char *pats[] = {"XK", "XX", "IK", "NK"};
	struct test_rng rng;
	struct pair p;
	uint8_t ct[100], pt[100];
	size_t i, len, plen;

	(void)state;
	test_rng_init(&rng, 7);
	for (i = 0; i < 4; i++) {
		handshake(&p, pats[i], &rng.rng);
		assert_int_equal(cx_noise_cs_encrypt(p.i_send, NULL, 0,
						     (const uint8_t *)"hi", 2,
						     ct, sizeof ct, &len),
				 0);
		assert_int_equal(cx_noise_cs_decrypt(p.r_recv, NULL, 0, ct, len,
						     pt, sizeof pt, &plen),
				 0);
		assert_int_equal(cx_noise_cs_encrypt(p.r_send, NULL, 0,
						     (const uint8_t *)"yo", 2,
						     ct, sizeof ct, &len),
				 0);
		assert_int_equal(cx_noise_cs_decrypt(p.i_recv, NULL, 0, ct, len,
						     pt, sizeof pt, &plen),
				 0);
		assert_memory_equal(pt, "yo", 2);
		pair_free(&p);
	}
}

/* A tampered handshake message fails with -EKEYREJECTED and the handshake
 * is dead afterwards; a truncated one is -EBADMSG. */
static void test_tamper(void **state)
{
	struct test_rng rng;
	struct cx_noise_hs *hi, *hr;
	struct cx_noise_keys ki = {0}, kr = {0};
	uint8_t i_s[32], i_pk[32], r_s[32], r_pk[32], msg[256], pl[256];
	size_t len, plen, pos;
	const char *name = "Noise_XK_25519_ChaChaPoly_BLAKE2b";

	(void)state;
	test_rng_init(&rng, 9);
	cx_x25519_keypair(i_pk, i_s, &rng.rng);
	cx_x25519_keypair(r_pk, r_s, &rng.rng);
	ki.s = i_s;
	ki.rs = r_pk;
	kr.s = r_s;
	for (pos = 0; pos < 48 + 4; pos += 5) {
		assert_int_equal(cx_noise_hs_new(&hi, name, CX_NOISE_INITIATOR,
						 NULL, 0, &ki, &rng.rng),
				 0);
		assert_int_equal(cx_noise_hs_new(&hr, name, CX_NOISE_RESPONDER,
						 NULL, 0, &kr, &rng.rng),
				 0);
		assert_int_equal(cx_noise_hs_write(hi, (const uint8_t *)"abcd",
						   4, msg, sizeof msg, &len),
				 0);
		assert_int_equal(len, 32 + 4 + 16);
		msg[pos] ^= 1;
		assert_int_equal(
			cx_noise_hs_read(hr, msg, len, pl, sizeof pl, &plen),
			-EKEYREJECTED);
		assert_int_equal(cx_noise_hs_action(hr), CX_NOISE_FAILED);
		msg[pos] ^= 1;
		assert_int_equal(
			cx_noise_hs_read(hr, msg, len, pl, sizeof pl, &plen),
			-EINVAL);
		cx_noise_hs_free(hr);
		assert_int_equal(cx_noise_hs_new(&hr, name, CX_NOISE_RESPONDER,
						 NULL, 0, &kr, &rng.rng),
				 0);
		assert_int_equal(
			cx_noise_hs_read(hr, msg, 20, pl, sizeof pl, &plen),
			-EBADMSG);
		cx_noise_hs_free(hi);
		cx_noise_hs_free(hr);
	}
}

/* An all-zero (low-order) ephemeral key from the initiator is refused. */
static void test_low_order(void **state)
{
	struct test_rng rng;
	struct cx_noise_hs *hr;
	struct cx_noise_keys kr = {0};
	uint8_t r_s[32], r_pk[32], msg[64] = {0}, pl[64];
	size_t plen;

	(void)state;
	test_rng_init(&rng, 11);
	cx_x25519_keypair(r_pk, r_s, &rng.rng);
	kr.s = r_s;
	assert_int_equal(
		cx_noise_hs_new(&hr, "Noise_NK_25519_ChaChaPoly_BLAKE2b",
				CX_NOISE_RESPONDER, NULL, 0, &kr, &rng.rng),
		0);
	assert_int_equal(cx_noise_hs_read(hr, msg, 48, pl, sizeof pl, &plen),
			 -EKEYREJECTED);
	cx_noise_hs_free(hr);
}

static void test_nonce_limit_and_rekey(void **state)
{
	struct test_rng rng;
	struct pair p;
	uint8_t ct[64], pt[64];
	size_t len, plen;

	(void)state;
	test_rng_init(&rng, 13);
	handshake(&p, "XX", &rng.rng);
	/* A forged message does not advance the receiver's nonce. */
	assert_int_equal(cx_noise_cs_encrypt(p.i_send, NULL, 0,
					     (const uint8_t *)"a", 1, ct,
					     sizeof ct, &len),
			 0);
	ct[0] ^= 1;
	assert_int_equal(cx_noise_cs_decrypt(p.r_recv, NULL, 0, ct, len, pt,
					     sizeof pt, &plen),
			 -EKEYREJECTED);
	assert_int_equal(cx_noise_cs_nonce(p.r_recv), 0);
	ct[0] ^= 1;
	assert_int_equal(cx_noise_cs_decrypt(p.r_recv, NULL, 0, ct, len, pt,
					     sizeof pt, &plen),
			 0);
	/* Rekey on both sides keeps them in step. */
	cx_noise_cs_rekey(p.i_send);
	cx_noise_cs_rekey(p.r_recv);
	assert_int_equal(cx_noise_cs_encrypt(p.i_send, NULL, 0,
					     (const uint8_t *)"b", 1, ct,
					     sizeof ct, &len),
			 0);
	assert_int_equal(cx_noise_cs_decrypt(p.r_recv, NULL, 0, ct, len, pt,
					     sizeof pt, &plen),
			 0);
	assert_memory_equal(pt, "b", 1);
	/* Rekey on one side only: the other cannot read. */
	cx_noise_cs_rekey(p.i_send);
	assert_int_equal(cx_noise_cs_encrypt(p.i_send, NULL, 0,
					     (const uint8_t *)"c", 1, ct,
					     sizeof ct, &len),
			 0);
	assert_int_equal(cx_noise_cs_decrypt(p.r_recv, NULL, 0, ct, len, pt,
					     sizeof pt, &plen),
			 -EKEYREJECTED);
	/* 2^64-1 is reserved: the last usable nonce is 2^64-2. */
	cx_noise_cs_set_nonce(p.r_send, UINT64_MAX - 1);
	assert_int_equal(cx_noise_cs_encrypt(p.r_send, NULL, 0,
					     (const uint8_t *)"d", 1, ct,
					     sizeof ct, &len),
			 0);
	assert_int_equal(cx_noise_cs_encrypt(p.r_send, NULL, 0,
					     (const uint8_t *)"d", 1, ct,
					     sizeof ct, &len),
			 -EOVERFLOW);
	assert_int_equal(cx_noise_cs_encrypt_n(p.r_send, UINT64_MAX, NULL, 0,
					       (const uint8_t *)"d", 1, ct,
					       sizeof ct, &len),
			 -EOVERFLOW);
	/* Explicit nonces: out-of-order datagrams decrypt. */
	assert_int_equal(cx_noise_cs_encrypt_n(p.i_send, 77, NULL, 0,
					       (const uint8_t *)"e", 1, ct,
					       sizeof ct, &len),
			 0);
	cx_noise_cs_rekey(p.r_recv);
	assert_int_equal(cx_noise_cs_decrypt_n(p.r_recv, 77, NULL, 0, ct, len,
					       pt, sizeof pt, &plen),
			 0);
	assert_int_equal(cx_noise_cs_decrypt_n(p.r_recv, 78, NULL, 0, ct, len,
					       pt, sizeof pt, &plen),
			 -EKEYREJECTED);
	pair_free(&p);
}

static void test_bad_names(void **state)
{
	struct test_rng rng;
	struct cx_noise_hs *hs;
	struct cx_noise_keys k = {0};
	uint8_t psk[1][32] = {{0}};
	const char *bad[] = {
		"Noise_XK_448_ChaChaPoly_BLAKE2b",
		"Noise_XK_25519_ChaChaPoly_BLAKE2s",
		"Noise_QQ_25519_ChaChaPoly_BLAKE2b",
		"Noise_XKfallback_25519_ChaChaPoly_BLAKE2b",
		"Noise_XXpsk9_25519_ChaChaPoly_BLAKE2b",
		"Noise_XK_25519_ChaChaPoly",
		"Nois_XK_25519_ChaChaPoly_BLAKE2b",
		"Noise_XK_25519_ChaChaPoly_BLAKE2b_x",
	};
	size_t i;

	(void)state;
	test_rng_init(&rng, 3);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_true(cx_noise_hs_new(&hs, bad[i], CX_NOISE_INITIATOR,
					    NULL, 0, &k, &rng.rng) < 0);
	/* XK needs the responder's static key in advance. */
	assert_int_equal(
		cx_noise_hs_new(&hs, "Noise_XK_25519_ChaChaPoly_BLAKE2b",
				CX_NOISE_INITIATOR, NULL, 0, &k, &rng.rng),
		-EINVAL);
	/* The psk count must match the modifiers. */
	assert_int_equal(
		cx_noise_hs_new(&hs, "Noise_NNpsk0_25519_ChaChaPoly_BLAKE2b",
				CX_NOISE_INITIATOR, NULL, 0, &k, &rng.rng),
		-EINVAL);
	k.psks = (const uint8_t(*)[32])psk;
	k.num_psks = 1;
	assert_int_equal(
		cx_noise_hs_new(&hs, "Noise_NNpsk0_25519_ChaChaPoly_BLAKE2b",
				CX_NOISE_INITIATOR, NULL, 0, &k, &rng.rng),
		0);
	cx_noise_hs_free(hs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parley_patterns),
		cmocka_unit_test(test_tamper),
		cmocka_unit_test(test_low_order),
		cmocka_unit_test(test_nonce_limit_and_rekey),
		cmocka_unit_test(test_bad_names),
		cmocka_unit_test(test_cacophony),
	};
	size_t n = sizeof tests / sizeof tests[0];

	if (cx_init() < 0)
		return 1;
	if (tv_dir() == NULL) {
		printf("# SKIP cacophony: no shared/testvectors found\n");
		n--;
	}
	return _cmocka_run_group_tests("noise", tests, n, NULL, NULL);
}
