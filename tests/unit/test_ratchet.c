/* Double Ratchet tests: long randomized conversations with loss,
 * reordering, duplication, replay and tampering (every message decrypts at
 * most once; first deliveries always succeed; every failure leaves the
 * saved state byte-for-byte unchanged); save/load round trips mid-
 * conversation; the skip limits; and a cross-check of the first message
 * against an independent reimplementation of the key schedule written here
 * with libsodium calls only. */
#include <errno.h>

#include <sodium.h>

#include "crypto/cx.h"
#include "crypto/prim.h"
#include "crypto/ratchet.h"
#include "cx_testutil.h"

#define AD "alice-ik|bob-ik"

struct session {
	struct test_rng rng_a, rng_b;
	struct cx_ratchet *a, *b;
	uint8_t sk[32], hka[32], nhkb[32], bob_sk[32], bob_pk[32];
};

static void session_init(struct session *s, uint64_t seed)
{
	struct test_rng setup;

	test_rng_init(&setup, seed);
	test_rng_init(&s->rng_a, seed * 3 + 1);
	test_rng_init(&s->rng_b, seed * 5 + 2);
	rng_fill(&setup.rng, s->sk, 32);
	rng_fill(&setup.rng, s->hka, 32);
	rng_fill(&setup.rng, s->nhkb, 32);
	cx_x25519_keypair(s->bob_pk, s->bob_sk, &setup.rng);
	assert_int_equal(cx_ratchet_new_alice(&s->a, s->sk, s->bob_pk, s->hka,
					      s->nhkb, (const uint8_t *)AD,
					      strlen(AD), &s->rng_a.rng),
			 0);
	assert_int_equal(cx_ratchet_new_bob(&s->b, s->sk, s->bob_sk, s->hka,
					    s->nhkb, (const uint8_t *)AD,
					    strlen(AD), &s->rng_b.rng),
			 0);
}

static void session_close(struct session *s)
{
	cx_ratchet_free(s->a);
	cx_ratchet_free(s->b);
}

/* Saved bytes of r (caller frees). */
static uint8_t *snapshot(const struct cx_ratchet *r, size_t *len)
{
	uint8_t *b = malloc(CX_RATCHET_STATE_MAX);

	assert_non_null(b);
	assert_int_equal(cx_ratchet_save(r, b, CX_RATCHET_STATE_MAX, len), 0);
	return b;
}

/* Decrypts and, on failure, checks that the state did not change. */
static int decrypt_checked(struct cx_ratchet *r, const uint8_t *msg, size_t len,
			   uint8_t *out, size_t *out_len)
{
	size_t l1, l2;
	uint8_t *before = snapshot(r, &l1), *after;
	int ret = cx_ratchet_decrypt(r, msg, len, out, 4096, out_len);

	if (ret < 0) {
		after = snapshot(r, &l2);
		assert_int_equal(l1, l2);
		assert_memory_equal(before, after, l1);
		free(after);
	}
	free(before);
	return ret;
}

/* Saves r, frees it and loads it back; checks the encoding is stable. */
static void reload(struct cx_ratchet **r, const struct rng *rng)
{
	size_t len, len2;
	uint8_t *b = snapshot(*r, &len), *b2;

	cx_ratchet_free(*r);
	assert_int_equal(cx_ratchet_load(r, b, len, rng), 0);
	b2 = snapshot(*r, &len2);
	assert_int_equal(len, len2);
	assert_memory_equal(b, b2, len);
	free(b);
	free(b2);
}

static void test_basic(void **state)
{
	struct session s;
	uint8_t msg[256], pt[256];
	size_t len, plen;
	int i;

	(void)state;
	session_init(&s, 1);
	/* Bob cannot speak first. */
	assert_int_equal(cx_ratchet_encrypt(s.b, (const uint8_t *)"x", 1, msg,
					    sizeof msg, &len),
			 -EAGAIN);
	for (i = 0; i < 10; i++) {
		struct cx_ratchet *from = i % 3 == 2 ? s.b : s.a;
		struct cx_ratchet *to = from == s.a ? s.b : s.a;
		char text[32];

		snprintf(text, sizeof text, "message %d", i);
		assert_int_equal(cx_ratchet_encrypt(from, (const uint8_t *)text,
						    strlen(text), msg,
						    sizeof msg, &len),
				 0);
		assert_int_equal(len, strlen(text) + CX_RATCHET_OVERHEAD);
		assert_int_equal(
			cx_ratchet_decrypt(to, msg, len, pt, sizeof pt, &plen),
			0);
		assert_int_equal(plen, strlen(text));
		assert_memory_equal(pt, text, plen);
		/* The same message again is a replay. */
		assert_int_equal(
			cx_ratchet_decrypt(to, msg, len, pt, sizeof pt, &plen),
			-EALREADY);
	}
	/* An empty message may be passed as NULL. */
	assert_int_equal(
		cx_ratchet_encrypt(s.a, NULL, 0, msg, sizeof msg, &len), 0);
	assert_int_equal(len, CX_RATCHET_OVERHEAD);
	assert_int_equal(
		cx_ratchet_decrypt(s.b, msg, len, pt, sizeof pt, &plen), 0);
	assert_int_equal(plen, 0);
	session_close(&s);
}

/* A message in flight. */
struct flight {
	uint8_t *msg;
	size_t len;
	uint32_t id;
	bool to_b;
};

#define MAX_FLIGHT 4096

/* One randomized conversation of n_ops steps. */
static void conversation(uint64_t seed, int n_ops, int loss_pct)
{
	struct session s;
	struct test_rng dice;
	struct flight *net = calloc(MAX_FLIGHT, sizeof *net);
	struct flight *old = calloc(MAX_FLIGHT, sizeof *old); /* delivered */
	uint8_t *seen_a = calloc(n_ops + 1, 1), *seen_b = calloc(n_ops + 1, 1);
	size_t n_net = 0, n_old = 0;
	uint32_t next_id = 0;
	bool b_can_send = false;
	int ok = 0, rejected = 0, reloads = 0, tampers = 0, prepared = 0;

	assert_true(net && old && seen_a && seen_b);
	session_init(&s, seed);
	test_rng_init(&dice, seed ^ 0xabcdef);
	for (int op = 0; op < n_ops; op++) {
		uint8_t r8[4];
		uint32_t r;

		rng_fill(&dice.rng, r8, 4);
		r = (uint32_t)r8[0] << 24 | (uint32_t)r8[1] << 16 |
		    (uint32_t)r8[2] << 8 | r8[3];
		if (r % 11 == 5) {
			/* work ahead of need; a second call right after has
			 * no step left to do */
			struct cx_ratchet *side = (r >> 4) % 2 ? s.a : s.b;
			int pr = cx_ratchet_prepare(side);

			assert_true(pr == 0 || pr == 1);
			assert_int_equal(cx_ratchet_prepare(side), 0);
			prepared += pr;
		}
		if ((r % 100 < 45 || n_net == 0) && n_net < MAX_FLIGHT) {
			/* Send from A or B. */
			bool from_a = !b_can_send || (r >> 8) % 2 == 0;
			struct flight *f = &net[n_net];
			uint8_t body[64];
			size_t blen = 8 + (r >> 16) % 40;

			memset(body, (int)(next_id & 0xff), blen);
			memcpy(body, &next_id, 4);
			f->msg = malloc(blen + CX_RATCHET_OVERHEAD);
			assert_int_equal(
				cx_ratchet_encrypt(
					from_a ? s.a : s.b, body, blen, f->msg,
					blen + CX_RATCHET_OVERHEAD, &f->len),
				0);
			f->id = next_id++;
			f->to_b = from_a;
			if ((r >> 20) % 100 < (uint32_t)loss_pct) {
				free(f->msg); /* lost on the wire */
				continue;
			}
			n_net++;
		} else if (r % 100 < 85) {
			/* Deliver a random in-flight message (reordering). */
			size_t i = (r >> 8) % n_net;
			struct flight f = net[i];
			uint8_t out[4096];
			size_t olen;
			uint8_t *seen = f.to_b ? seen_b : seen_a;
			int ret;

			net[i] = net[--n_net];
			ret = decrypt_checked(f.to_b ? s.b : s.a, f.msg, f.len,
					      out, &olen);
			/* First delivery of every message succeeds. */
			assert_int_equal(ret, 0);
			assert_int_equal(olen, f.len - CX_RATCHET_OVERHEAD);
			assert_memory_equal(out, &f.id, 4);
			assert_false(seen[f.id]);
			seen[f.id] = 1;
			ok++;
			if (f.to_b)
				b_can_send = true;
			if (n_old < MAX_FLIGHT && (r >> 24) % 2 == 0)
				old[n_old++] = f; /* kept for replay */
			else
				free(f.msg);
		} else if (r % 100 < 93 && n_old > 0) {
			/* Replay or duplicate an already delivered message. */
			struct flight *f = &old[(r >> 8) % n_old];
			uint8_t out[4096];
			size_t olen;
			int ret = decrypt_checked(f->to_b ? s.b : s.a, f->msg,
						  f->len, out, &olen);

			assert_true(ret == -EALREADY || ret == -EKEYREJECTED);
			rejected++;
		} else if (r % 100 < 97 && n_net > 0) {
			/* Tamper with a copy of an in-flight message. */
			struct flight *f = &net[(r >> 8) % n_net];
			uint8_t *c = malloc(f->len), out[4096];
			size_t olen;
			int ret;

			memcpy(c, f->msg, f->len);
			c[(r >> 12) % f->len] ^= (uint8_t)(1u << (r % 8));
			ret = decrypt_checked(f->to_b ? s.b : s.a, c, f->len,
					      out, &olen);
			assert_true(ret < 0);
			free(c);
			tampers++;
		} else {
			/* Crash and restart: state through bytes. */
			reload(&s.a, &s.rng_a.rng);
			reload(&s.b, &s.rng_b.rng);
			reloads++;
		}
	}
	/* Drain: everything still in flight decrypts exactly once. */
	while (n_net > 0) {
		struct flight f = net[--n_net];
		uint8_t out[4096], *seen = f.to_b ? seen_b : seen_a;
		size_t olen;

		assert_int_equal(decrypt_checked(f.to_b ? s.b : s.a, f.msg,
						 f.len, out, &olen),
				 0);
		assert_memory_equal(out, &f.id, 4);
		assert_false(seen[f.id]);
		seen[f.id] = 1;
		ok++;
		free(f.msg);
	}
	print_message("# seed %llu: %u sent, %d delivered, %d replays and "
		      "%d forgeries rejected, %d reloads, %d steps done ahead, "
		      "%zu keys stored\n",
		      (unsigned long long)seed, next_id, ok, rejected, tampers,
		      reloads, prepared,
		      cx_ratchet_num_skipped(s.a) +
			      cx_ratchet_num_skipped(s.b));
	for (size_t i = 0; i < n_old; i++)
		free(old[i].msg);
	free(net);
	free(old);
	free(seen_a);
	free(seen_b);
	session_close(&s);
}

static void test_conversations(void **state)
{
	(void)state;
	conversation(11, 6000, 0);
	conversation(12, 6000, 5);
	conversation(13, 6000, 20);
	conversation(14, 3000, 50);
}

/* Tampering anywhere in header or body is rejected without a change. */
static void test_tamper_every_byte(void **state)
{
	struct session s;
	uint8_t msg[256], c[256], out[256];
	size_t len, olen, i;

	(void)state;
	session_init(&s, 2);
	assert_int_equal(cx_ratchet_encrypt(s.a, (const uint8_t *)"hello", 5,
					    msg, sizeof msg, &len),
			 0);
	for (i = 0; i < len; i++) {
		memcpy(c, msg, len);
		c[i] ^= 0x40;
		assert_true(decrypt_checked(s.b, c, len, out, &olen) < 0);
	}
	assert_int_equal(decrypt_checked(s.b, msg, len - 1, out, &olen),
			 -EKEYREJECTED);
	assert_int_equal(decrypt_checked(s.b, msg, 50, out, &olen), -EBADMSG);
	memcpy(c, msg, len);
	c[0] = 2;
	assert_int_equal(decrypt_checked(s.b, c, len, out, &olen), -EBADMSG);
	assert_int_equal(decrypt_checked(s.b, msg, len, out, &olen), 0);
	assert_memory_equal(out, "hello", 5);
	session_close(&s);
}

/* At most CX_RATCHET_MAX_SKIP skipped by one message, at most
 * CX_RATCHET_MAX_STORED kept, oldest dropped first. */
static void test_skip_limits(void **state)
{
	struct session s;
	size_t n = CX_RATCHET_MAX_SKIP + 2, i, olen;
	uint8_t(*msgs)[CX_RATCHET_OVERHEAD + 4] = malloc(n * sizeof *msgs);
	size_t len;
	uint8_t out[64];

	(void)state;
	assert_non_null(msgs);
	session_init(&s, 3);
	for (i = 0; i < n; i++) {
		uint32_t id = (uint32_t)i;

		assert_int_equal(cx_ratchet_encrypt(s.a, (uint8_t *)&id, 4,
						    msgs[i], sizeof msgs[i],
						    &len),
				 0);
	}
	/* Message MAX_SKIP + 1 would skip MAX_SKIP + 1 keys. */
	assert_int_equal(decrypt_checked(s.b, msgs[n - 1], len, out, &olen),
			 -E2BIG);
	assert_int_equal(cx_ratchet_num_skipped(s.b), 0);
	/* Message MAX_SKIP skips exactly MAX_SKIP: allowed, newest kept. */
	assert_int_equal(decrypt_checked(s.b, msgs[n - 2], len, out, &olen), 0);
	assert_int_equal(cx_ratchet_num_skipped(s.b), CX_RATCHET_MAX_STORED);
	/* The oldest skipped keys were dropped ... */
	assert_int_equal(decrypt_checked(s.b, msgs[0], len, out, &olen),
			 -EALREADY);
	/* ... the newest are kept and each works once. */
	i = n - 2 - CX_RATCHET_MAX_STORED;
	assert_int_equal(decrypt_checked(s.b, msgs[i], len, out, &olen), 0);
	assert_int_equal(decrypt_checked(s.b, msgs[i], len, out, &olen),
			 -EALREADY);
	assert_int_equal(decrypt_checked(s.b, msgs[n - 3], len, out, &olen), 0);
	assert_int_equal(cx_ratchet_num_skipped(s.b),
			 CX_RATCHET_MAX_STORED - 2);
	/* Across a DH ratchet: Bob replies, Alice ratchets; the skipped keys
	 * of the old chain count toward the same limit. */
	reload(&s.b, &s.rng_b.rng);
	assert_int_equal(decrypt_checked(s.b, msgs[n - 1], len, out, &olen), 0);
	assert_int_equal(cx_ratchet_num_skipped(s.b),
			 CX_RATCHET_MAX_STORED - 2);
	free(msgs);
	session_close(&s);
}

static void test_load_rejects(void **state)
{
	struct session s;
	struct cx_ratchet *r;
	uint8_t *b;
	size_t len;

	(void)state;
	session_init(&s, 4);
	b = snapshot(s.a, &len);
	assert_int_equal(cx_ratchet_load(&r, b, len - 1, &s.rng_a.rng),
			 -EBADMSG);
	b[0] = 9;
	assert_int_equal(cx_ratchet_load(&r, b, len, &s.rng_a.rng), -EBADMSG);
	b[0] = CX_RATCHET_VERSION;
	b[1] |= 0x80;
	assert_int_equal(cx_ratchet_load(&r, b, len, &s.rng_a.rng), -EBADMSG);
	b[1] &= 0x7f;
	b[len - 1] = 1; /* count 1 without an entry */
	assert_int_equal(cx_ratchet_load(&r, b, len, &s.rng_a.rng), -EBADMSG);
	b[len - 1] = 0;
	assert_int_equal(cx_ratchet_load(&r, b, len, &s.rng_a.rng), 0);
	cx_ratchet_free(r);
	free(b);
	session_close(&s);
}

/* The first message re-derived by a second implementation of the
 * specification's key schedule, written here from libsodium calls only:
 * HDECRYPT with HKa, DH with Bob's prekey, KDF_RK_HE as RFC 5869 HKDF over
 * crypto_auth_hmacsha512, KDF_CK as the ChaCha20 keystream, then DECRYPT. */
static void test_cross_check(void **state)
{
	struct session s;
	uint8_t msg[256], hdr[40], dh[32], prk[64], t[64], okm[96], mk[64];
	uint8_t ad[256], pt[64], ctr;
	const char info[] = "parley ratchet rk v1";
	crypto_auth_hmacsha512_state h;
	size_t len, i, off;

	(void)state;
	session_init(&s, 5);
	assert_int_equal(cx_ratchet_encrypt(s.a, (const uint8_t *)"cross", 5,
					    msg, sizeof msg, &len),
			 0);
	assert_int_equal(msg[0], 1);
	assert_int_equal(
		crypto_aead_xchacha20poly1305_ietf_decrypt(
			hdr, NULL, NULL, msg + 25, 56, msg, 1, msg + 1, s.hka),
		0);
	/* pn = 0, n = 0 */
	for (i = 32; i < 40; i++)
		assert_int_equal(hdr[i], 0);
	assert_int_equal(crypto_scalarmult(dh, s.bob_sk, hdr), 0);
	/* HKDF-Extract(salt = SK, IKM = dh) */
	crypto_auth_hmacsha512_init(&h, s.sk, 32);
	crypto_auth_hmacsha512_update(&h, dh, 32);
	crypto_auth_hmacsha512_final(&h, prk);
	/* HKDF-Expand, two blocks for 96 bytes. */
	for (ctr = 1, off = 0; off < 96; ctr++, off += 64) {
		crypto_auth_hmacsha512_init(&h, prk, 64);
		if (ctr > 1)
			crypto_auth_hmacsha512_update(&h, t, 64);
		crypto_auth_hmacsha512_update(&h, (const uint8_t *)info,
					      strlen(info));
		crypto_auth_hmacsha512_update(&h, &ctr, 1);
		crypto_auth_hmacsha512_final(&h, t);
		memcpy(okm + off, t, 96 - off < 64 ? 96 - off : 64);
	}
	/* okm = RK || CKr || NHKr; mk = first half of KDF_CK(CKr). */
	crypto_stream_chacha20_ietf(mk, 64, (const uint8_t *)"parley ck v1",
				    okm + 32);
	memcpy(ad, AD, strlen(AD));
	memcpy(ad + strlen(AD), msg, 81);
	assert_int_equal(crypto_aead_xchacha20poly1305_ietf_decrypt(
				 pt, NULL, NULL, msg + 81 + 24, len - 81 - 24,
				 ad, strlen(AD) + 81, msg + 81, mk),
			 0);
	assert_memory_equal(pt, "cross", 5);
	session_close(&s);
}

/* ---- A second implementation, for cross-checking ------------------------
 * A direct transcription of the specification's pseudocode (section 4,
 * header encryption) with raw libsodium calls: not transactional, no
 * limits, skipped keys in a plain list.  It shares no code with
 * crypto/ratchet.c; conversations between the two, in both roles, must
 * agree on every message. */

#define REF_MAX_SKIPPED 4096

struct ref_skipped {
	uint8_t hk[32], mk[32];
	uint32_t n;
	bool used;
};

struct ref {
	uint8_t dhs_sk[32], dhs_pk[32], dhr[32], rk[32], cks[32], ckr[32];
	uint8_t hks[32], hkr[32], nhks[32], nhkr[32];
	bool has_cks, has_ckr, has_hkr;
	uint32_t ns, nr, pn;
	struct ref_skipped skipped[REF_MAX_SKIPPED];
	size_t num_skipped;
	uint8_t ad[64];
	size_t ad_len;
	const struct rng *rng;
};

/* HKDF-SHA-512 (RFC 5869) straight on crypto_auth_hmacsha512. */
static void ref_kdf_rk(uint8_t rk[32], uint8_t ck[32], uint8_t nhk[32],
		       const uint8_t rk_in[32], const uint8_t dh[32])
{
	const char info[] = "parley ratchet rk v1";
	crypto_auth_hmacsha512_state h;
	uint8_t prk[64], t[64], okm[128];
	uint8_t ctr;

	crypto_auth_hmacsha512_init(&h, rk_in, 32);
	crypto_auth_hmacsha512_update(&h, dh, 32);
	crypto_auth_hmacsha512_final(&h, prk);
	for (ctr = 1; ctr <= 2; ctr++) {
		crypto_auth_hmacsha512_init(&h, prk, 64);
		if (ctr > 1)
			crypto_auth_hmacsha512_update(&h, t, 64);
		crypto_auth_hmacsha512_update(&h, (const uint8_t *)info,
					      strlen(info));
		crypto_auth_hmacsha512_update(&h, &ctr, 1);
		crypto_auth_hmacsha512_final(&h, t);
		memcpy(okm + 64 * (ctr - 1), t, 64);
	}
	memcpy(rk, okm, 32);
	memcpy(ck, okm + 32, 32);
	memcpy(nhk, okm + 64, 32);
}

static void ref_kdf_ck(uint8_t ck[32], uint8_t mk[32])
{
	uint8_t out[64];

	crypto_stream_chacha20_ietf(out, 64, (const uint8_t *)"parley ck v1",
				    ck);
	memcpy(mk, out, 32);
	memcpy(ck, out + 32, 32);
}

static void ref_init(struct ref *r, bool alice, const struct session *s,
		     const struct rng *rng)
{
	uint8_t dh[32];

	memset(r, 0, sizeof *r);
	r->rng = rng;
	memcpy(r->ad, AD, strlen(AD));
	r->ad_len = strlen(AD);
	if (alice) {
		rng_fill(rng, r->dhs_sk, 32);
		crypto_scalarmult_base(r->dhs_pk, r->dhs_sk);
		memcpy(r->dhr, s->bob_pk, 32);
		assert_int_equal(crypto_scalarmult(dh, r->dhs_sk, r->dhr), 0);
		ref_kdf_rk(r->rk, r->cks, r->nhks, s->sk, dh);
		r->has_cks = true;
		memcpy(r->hks, s->hka, 32);
		memcpy(r->nhkr, s->nhkb, 32);
	} else {
		memcpy(r->dhs_sk, s->bob_sk, 32);
		crypto_scalarmult_base(r->dhs_pk, r->dhs_sk);
		memcpy(r->rk, s->sk, 32);
		memcpy(r->nhks, s->nhkb, 32);
		memcpy(r->nhkr, s->hka, 32);
	}
}

static size_t ref_encrypt(struct ref *r, const uint8_t *pt, size_t len,
			  uint8_t *out)
{
	uint8_t mk[32], hdr[40], ad[256];

	assert_true(r->has_cks);
	ref_kdf_ck(r->cks, mk);
	memcpy(hdr, r->dhs_pk, 32);
	hdr[32] = (uint8_t)(r->pn >> 24), hdr[33] = (uint8_t)(r->pn >> 16);
	hdr[34] = (uint8_t)(r->pn >> 8), hdr[35] = (uint8_t)r->pn;
	hdr[36] = (uint8_t)(r->ns >> 24), hdr[37] = (uint8_t)(r->ns >> 16);
	hdr[38] = (uint8_t)(r->ns >> 8), hdr[39] = (uint8_t)r->ns;
	out[0] = 1;
	rng_fill(r->rng, out + 1, 24);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + 25, NULL, hdr, 40, out,
						   1, NULL, out + 1, r->hks);
	r->ns++;
	rng_fill(r->rng, out + 81, 24);
	memcpy(ad, r->ad, r->ad_len);
	memcpy(ad + r->ad_len, out, 81);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + 105, NULL, pt, len, ad,
						   r->ad_len + 81, NULL,
						   out + 81, mk);
	return len + 121;
}

static int ref_open(const struct ref *r, const uint8_t mk[32],
		    const uint8_t *msg, size_t len, uint8_t *out)
{
	uint8_t ad[256];

	memcpy(ad, r->ad, r->ad_len);
	memcpy(ad + r->ad_len, msg, 81);
	return crypto_aead_xchacha20poly1305_ietf_decrypt(
		out, NULL, NULL, msg + 105, len - 105, ad, r->ad_len + 81,
		msg + 81, mk);
}

static int ref_hdec(const uint8_t hk[32], const uint8_t *msg, uint8_t hdr[40])
{
	return crypto_aead_xchacha20poly1305_ietf_decrypt(
		hdr, NULL, NULL, msg + 25, 56, msg, 1, msg + 1, hk);
}

/* SkipMessageKeysHE(state, until) */
static void ref_skip(struct ref *r, uint32_t until)
{
	while (r->has_ckr && r->nr < until) {
		struct ref_skipped *k = &r->skipped[r->num_skipped++];

		assert_true(r->num_skipped < REF_MAX_SKIPPED);
		ref_kdf_ck(r->ckr, k->mk);
		memcpy(k->hk, r->hkr, 32);
		k->n = r->nr++;
		k->used = false;
	}
}

static int ref_decrypt(struct ref *r, const uint8_t *msg, size_t len,
		       uint8_t *out)
{
	uint8_t hdr[40], mk[32], dh[32];
	uint32_t pn, n;
	size_t i;

	/* TrySkippedMessageKeysHE */
	for (i = 0; i < r->num_skipped; i++) {
		struct ref_skipped *k = &r->skipped[i];

		if (!k->used && ref_hdec(k->hk, msg, hdr) == 0 &&
		    ((uint32_t)hdr[36] << 24 | (uint32_t)hdr[37] << 16 |
		     (uint32_t)hdr[38] << 8 | hdr[39]) == k->n) {
			k->used = true;
			return ref_open(r, k->mk, msg, len, out);
		}
	}
	/* DecryptHeader */
	if (!(r->has_hkr && ref_hdec(r->hkr, msg, hdr) == 0)) {
		if (ref_hdec(r->nhkr, msg, hdr) != 0)
			return -1;
		pn = (uint32_t)hdr[32] << 24 | (uint32_t)hdr[33] << 16 |
		     (uint32_t)hdr[34] << 8 | hdr[35];
		ref_skip(r, pn);
		/* DHRatchetHE */
		r->pn = r->ns;
		r->ns = 0;
		r->nr = 0;
		memcpy(r->hks, r->nhks, 32);
		memcpy(r->hkr, r->nhkr, 32);
		r->has_hkr = true;
		memcpy(r->dhr, hdr, 32);
		assert_int_equal(crypto_scalarmult(dh, r->dhs_sk, r->dhr), 0);
		ref_kdf_rk(r->rk, r->ckr, r->nhkr, r->rk, dh);
		r->has_ckr = true;
		rng_fill(r->rng, r->dhs_sk, 32);
		crypto_scalarmult_base(r->dhs_pk, r->dhs_sk);
		assert_int_equal(crypto_scalarmult(dh, r->dhs_sk, r->dhr), 0);
		ref_kdf_rk(r->rk, r->cks, r->nhks, r->rk, dh);
		r->has_cks = true;
	}
	n = (uint32_t)hdr[36] << 24 | (uint32_t)hdr[37] << 16 |
	    (uint32_t)hdr[38] << 8 | hdr[39];
	ref_skip(r, n);
	ref_kdf_ck(r->ckr, mk);
	r->nr++;
	return ref_open(r, mk, msg, len, out);
}

/* cx_ratchet on one side, the reference on the other, messages delivered
 * in random order; every plaintext must come through. */
static void cross_conversation(bool cx_is_alice, uint64_t seed)
{
	struct session s;
	struct test_rng dice, ref_rng;
	struct ref *ref = calloc(1, sizeof *ref);
	struct {
		uint8_t msg[200];
		size_t len;
		uint32_t id;
		bool from_cx;
	} net[64];
	size_t n_net = 0;
	uint32_t next_id = 0;
	bool bob_spoke = false;
	int delivered = 0;

	assert_non_null(ref);
	session_init(&s, seed);
	test_rng_init(&dice, seed + 100);
	test_rng_init(&ref_rng, seed + 200);
	ref_init(ref, !cx_is_alice, &s, &ref_rng.rng);
	for (int step = 0; step < 3000 || n_net > 0; step++) {
		uint8_t r8[2];

		rng_fill(&dice.rng, r8, 2);
		/* Work ahead of need now and then (cx_ratchet_prepare): the
		 * reference does each DH step in one go, so agreement shows
		 * the split step reaches the same state. */
		if (r8[0] % 7 == 3) {
			int pr = cx_ratchet_prepare(cx_is_alice ? s.a : s.b);

			assert_true(pr == 0 || pr == 1);
		}
		if (step < 3000 && n_net < 64 &&
		    (r8[0] % 2 == 0 || n_net == 0)) {
			/* Alice always may send; Bob once he heard her. */
			bool alice = !bob_spoke || r8[1] % 2 == 0;
			bool from_cx = alice == cx_is_alice;
			uint8_t pt[32];

			memset(pt, 0, sizeof pt);
			memcpy(pt, &next_id, 4);
			if (from_cx) {
				assert_int_equal(
					cx_ratchet_encrypt(
						cx_is_alice ? s.a : s.b, pt,
						4 + r8[1] % 28, net[n_net].msg,
						200, &net[n_net].len),
					0);
			} else {
				net[n_net].len =
					ref_encrypt(ref, pt, 4 + r8[1] % 28,
						    net[n_net].msg);
			}
			net[n_net].id = next_id++;
			net[n_net].from_cx = from_cx;
			n_net++;
		} else {
			size_t i = r8[1] % n_net;
			uint8_t out[200];
			size_t olen;
			bool to_bob;

			if (net[i].from_cx) {
				assert_int_equal(ref_decrypt(ref, net[i].msg,
							     net[i].len, out),
						 0);
				to_bob = cx_is_alice;
			} else {
				assert_int_equal(
					cx_ratchet_decrypt(
						cx_is_alice ? s.a : s.b,
						net[i].msg, net[i].len, out,
						sizeof out, &olen),
					0);
				to_bob = !cx_is_alice;
			}
			assert_memory_equal(out, &net[i].id, 4);
			if (to_bob)
				bob_spoke = true;
			net[i] = net[--n_net];
			delivered++;
		}
	}
	assert_int_equal(delivered, (int)next_id);
	print_message("# cross-check (cx is %s): %d messages both ways\n",
		      cx_is_alice ? "Alice" : "Bob", delivered);
	free(ref);
	session_close(&s);
}

static void test_cross_implementation(void **state)
{
	(void)state;
	cross_conversation(true, 61);
	cross_conversation(false, 62);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_tamper_every_byte),
		cmocka_unit_test(test_load_rejects),
		cmocka_unit_test(test_cross_check),
		cmocka_unit_test(test_cross_implementation),
		cmocka_unit_test(test_skip_limits),
		cmocka_unit_test(test_conversations),
	};

	if (cx_init() < 0)
		return 1;
	return cmocka_run_group_tests_name("ratchet", tests, NULL, NULL);
}
