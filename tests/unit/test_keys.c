/* Unit tests for crypto/keys.c (identities, device certificate, node ID,
 * contact ID, storage subkeys) and crypto/keyfile.c (the key file).
 * Randomness comes from a seeded generator, so every run is the same. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "crypto/keyfile.h"
#include "crypto/keys.h"
#define ALLOC_FAIL_SODIUM
#include "tests/unit/alloc_fail.h"

/* Seeded rng: block i = randombytes_buf_deterministic(seed', len) with
 * seed' = BLAKE2b-256(seed || i). */
struct seeded {
	uint8_t seed[32];
	uint64_t ctr;
};

static void seeded_fill(void *self, uint8_t *buf, size_t len)
{
	struct seeded *s = self;
	uint8_t in[40], k[32];

	memcpy(in, s->seed, 32);
	memcpy(in + 32, &s->ctr, 8);
	s->ctr++;
	crypto_generichash(k, sizeof k, in, sizeof in, NULL, 0);
	randombytes_buf_deterministic(buf, len, k);
}

static struct seeded seeded_state[4];
static const struct rng seeded_rngs[4] = {
	{seeded_fill, &seeded_state[0]},
	{seeded_fill, &seeded_state[1]},
	{seeded_fill, &seeded_state[2]},
	{seeded_fill, &seeded_state[3]},
};

static const struct rng *rng_seeded(int i, uint8_t seed_byte)
{
	memset(seeded_state[i].seed, seed_byte, 32);
	seeded_state[i].ctr = 0;
	return &seeded_rngs[i];
}

static void gen(struct cx_identity *id, uint8_t seed_byte, uint64_t now_s)
{
	assert_int_equal(
		cx_identity_generate(id, rng_seeded(0, seed_byte), now_s), 0);
}

static void assert_same_identity(const struct cx_identity *a,
				 const struct cx_identity *b)
{
	assert_memory_equal(a->account_pk, b->account_pk, CX_ED_PK_LEN);
	assert_memory_equal(a->account_sk, b->account_sk, CX_ED_SK_LEN);
	assert_memory_equal(a->device_pk, b->device_pk, CX_ED_PK_LEN);
	assert_memory_equal(a->device_sk, b->device_sk, CX_ED_SK_LEN);
	assert_memory_equal(a->device_sig, b->device_sig, CX_SIG_LEN);
	assert_memory_equal(a->node_pk, b->node_pk, CX_X_PK_LEN);
	assert_memory_equal(a->node_sk, b->node_sk, CX_X_SK_LEN);
	assert_memory_equal(a->store_key, b->store_key, CX_KEY_LEN);
	assert_int_equal(a->created_s, b->created_s);
}

static void assert_empty_identity(const struct cx_identity *id)
{
	struct cx_identity zero;

	memset(&zero, 0, sizeof zero);
	assert_memory_equal(id, &zero, sizeof zero);
}

static void test_generate(void **state)
{
	struct cx_identity a, b, c;

	(void)state;
	gen(&a, 1, 1700000000);
	gen(&b, 1, 1700000000);
	gen(&c, 2, 1700000000);
	assert_int_equal(cx_identity_check(&a), 0);
	assert_int_equal(cx_identity_check(&c), 0);
	/* The rng alone decides the identity. */
	assert_same_identity(&a, &b);
	assert_memory_not_equal(a.account_pk, c.account_pk, CX_ED_PK_LEN);
	/* Four distinct keys, none zero. */
	assert_memory_not_equal(a.account_pk, a.device_pk, CX_ED_PK_LEN);
	assert_memory_not_equal(a.node_sk, a.store_key, CX_KEY_LEN);
	assert_false(sodium_is_zero(a.store_key, CX_KEY_LEN));
	assert_int_equal(a.created_s, 1700000000);
	/* libsodium layout: the secret key ends with the public key. */
	assert_memory_equal(a.account_sk + 32, a.account_pk, 32);
	cx_identity_close(&a);
	cx_identity_close(&b);
	cx_identity_close(&c);
	assert_empty_identity(&a);
	cx_identity_close(&a); /* closing twice is harmless */
	cx_identity_close(NULL);
}

/* Every part of an identity is checked: break one at a time. */
static void test_identity_check(void **state)
{
	struct cx_identity id;
	uint8_t *sk_fields[] = {NULL, NULL, NULL};

	(void)state;
	gen(&id, 3, 42);
	sk_fields[0] = id.account_sk;
	sk_fields[1] = id.device_sk;
	sk_fields[2] = id.node_sk;
#define FLIP_CHECK(p, i)                                                       \
	do {                                                                   \
		(p)[i] ^= 1;                                                   \
		assert_int_equal(cx_identity_check(&id), -EKEYREJECTED);       \
		(p)[i] ^= 1;                                                   \
		assert_int_equal(cx_identity_check(&id), 0);                   \
	} while (0)
	FLIP_CHECK(id.account_pk, 0);
	FLIP_CHECK(id.device_pk, 31);
	FLIP_CHECK(id.node_pk, 5);
	FLIP_CHECK(id.device_sig, 0);
	FLIP_CHECK(id.device_sig, 63);
	FLIP_CHECK(sk_fields[0], 0);  /* seed */
	FLIP_CHECK(sk_fields[0], 40); /* cached public half */
	FLIP_CHECK(sk_fields[1], 3);
	FLIP_CHECK(sk_fields[2], 17);
#undef FLIP_CHECK
	id.created_s++;
	assert_int_equal(cx_identity_check(&id), -EKEYREJECTED);
	id.created_s--;
	{
		uint8_t save[CX_KEY_LEN];

		memcpy(save, id.store_key, sizeof save);
		memset(id.store_key, 0, CX_KEY_LEN);
		assert_int_equal(cx_identity_check(&id), -EKEYREJECTED);
		memcpy(id.store_key, save, sizeof save);
	}
	assert_int_equal(cx_identity_check(&id), 0);
	cx_identity_close(&id);
	/* Never filled. */
	assert_int_equal(cx_identity_check(&id), -EINVAL);
	assert_int_equal(cx_identity_alloc(&id), 0);
	assert_int_equal(cx_identity_check(&id), -EKEYREJECTED);
	cx_identity_close(&id);
}

static void test_device_cert(void **state)
{
	struct cx_identity id;
	uint8_t msg[CX_DEVICE_CERT_MSG_LEN], raw[64], sig[64];
	static const uint8_t head[] = "parley device cert v1\0\x01";

	(void)state;
	gen(&id, 4, 0x0102030405060708ULL);
	cx_device_cert_msg(msg, id.account_pk, id.device_pk, id.created_s);
	assert_memory_equal(msg, head, 23);
	assert_memory_equal(msg + 23, id.account_pk, 32);
	assert_memory_equal(msg + 55, id.device_pk, 32);
	assert_memory_equal(msg + 87, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
	assert_int_equal(crypto_sign_verify_detached(id.device_sig, msg,
						     sizeof msg, id.account_pk),
			 0);
	assert_int_equal(cx_device_cert_verify(id.account_pk, id.device_pk,
					       id.created_s, id.device_sig),
			 0);
	assert_int_equal(cx_device_cert_verify(id.device_pk, id.account_pk,
					       id.created_s, id.device_sig),
			 -EKEYREJECTED);
	assert_int_equal(cx_device_cert_verify(id.account_pk, id.device_pk,
					       id.created_s + 1, id.device_sig),
			 -EKEYREJECTED);
	/* A signature over the raw key bytes is not a certificate. */
	memcpy(raw, id.account_pk, 32);
	memcpy(raw + 32, id.device_pk, 32);
	crypto_sign_detached(sig, NULL, raw, sizeof raw, id.account_sk);
	assert_int_equal(cx_device_cert_verify(id.account_pk, id.device_pk,
					       id.created_s, sig),
			 -EKEYREJECTED);
	cx_identity_close(&id);
}

static void test_node_id(void **state)
{
	struct cx_identity id;
	uint8_t nid[CX_HASH_LEN], want[CX_HASH_LEN];

	(void)state;
	gen(&id, 5, 0);
	cx_node_id(nid, id.node_pk);
	crypto_generichash(want, sizeof want, id.node_pk, 32, NULL, 0);
	assert_memory_equal(nid, want, sizeof want);
	/* The node key is an X25519 pair. */
	crypto_scalarmult_base(want, id.node_sk);
	assert_memory_equal(want, id.node_pk, 32);
	cx_identity_close(&id);
}

/* An independent base32 encoder (RFC 4648 section 6, upper case, with
 * padding), checked against the RFC's section 10 vectors, to cross-check
 * the contact ID code. */
static void ref_b32(char *out, const uint8_t *in, size_t len)
{
	static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
	size_t o = 0;

	for (size_t i = 0; i < len; i += 5) {
		uint8_t g[5] = {0};
		size_t n = len - i < 5 ? len - i : 5;
		size_t chars = (n * 8 + 4) / 5;
		uint64_t v = 0;

		memcpy(g, in + i, n);
		for (int k = 0; k < 5; k++)
			v = v << 8 | g[k];
		for (size_t k = 0; k < 8; k++)
			out[o++] =
				k < chars ? A[(v >> (35 - 5 * k)) & 31] : '=';
	}
	out[o] = '\0';
}

static void test_base32_reference(void **state)
{
	static const char *const vec[][2] = {
		{"", ""},
		{"f", "MY======"},
		{"fo", "MZXQ===="},
		{"foo", "MZXW6==="},
		{"foob", "MZXW6YQ="},
		{"fooba", "MZXW6YTB"},
		{"foobar", "MZXW6YTBOI======"},
	};
	char out[64];

	(void)state;
	for (size_t i = 0; i < sizeof vec / sizeof vec[0]; i++) {
		ref_b32(out, (const uint8_t *)vec[i][0], strlen(vec[i][0]));
		assert_string_equal(out, vec[i][1]);
	}
}

static void ref_contact_id(char out[64], const uint8_t pk[32], uint8_t version)
{
	uint8_t raw[35], h[32], in[20 + 1 + 32];

	memcpy(in, "parley contact id v1", 20);
	in[20] = version;
	memcpy(in + 21, pk, 32);
	crypto_generichash(h, sizeof h, in, sizeof in, NULL, 0);
	raw[0] = version;
	memcpy(raw + 1, pk, 32);
	raw[33] = h[0];
	raw[34] = h[1];
	ref_b32(out, raw, sizeof raw);
	for (char *p = out; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
}

/* The contact ID of the all-zero key, fixed here so that a change of the
 * format cannot go unnoticed (also in docs/PROTOCOL-keyfile.md); checked
 * with Python: base64.b32encode(b"\x01" + pk + blake2b(...)[:2]). */
#define ZERO_PK_CONTACT_ID                                                     \
	"aeaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaabus5"

static void test_contact_id(void **state)
{
	uint8_t pk[32], back[32];
	char id[CX_CONTACT_ID_LEN + 1], ref[64], buf[128];

	(void)state;
	memset(pk, 0, sizeof pk);
	assert_int_equal(cx_contact_id_encode(id, sizeof id, pk), 0);
	assert_string_equal(id, ZERO_PK_CONTACT_ID);
	assert_int_equal(cx_contact_id_encode(id, sizeof id - 1, pk), -EINVAL);
	for (int i = 0; i < 200; i++) {
		struct seeded s = {{(uint8_t)i}, 0};

		seeded_fill(&s, pk, sizeof pk);
		assert_int_equal(cx_contact_id_encode(id, sizeof id, pk), 0);
		assert_int_equal(strlen(id), CX_CONTACT_ID_LEN);
		ref_contact_id(ref, pk, CX_CONTACT_ID_VERSION);
		assert_string_equal(id, ref);
		memset(back, 0xee, sizeof back);
		assert_int_equal(cx_contact_id_decode(back, id), 0);
		assert_memory_equal(back, pk, 32);
	}
	/* Upper case, mixed case, the URI prefix in either case. */
	for (size_t i = 0; i < CX_CONTACT_ID_LEN; i++)
		buf[i] = (char)(i % 3 ? id[i]
				      : (id[i] >= 'a' ? id[i] - 32 : id[i]));
	buf[CX_CONTACT_ID_LEN] = '\0';
	assert_int_equal(cx_contact_id_decode(back, buf), 0);
	assert_memory_equal(back, pk, 32);
	snprintf(buf, sizeof buf, "parley:%s", id);
	assert_int_equal(cx_contact_id_decode(back, buf), 0);
	assert_memory_equal(back, pk, 32);
	snprintf(buf, sizeof buf, "PARLEY:%s", id);
	assert_int_equal(cx_contact_id_decode(back, buf), 0);
}

static void test_contact_id_bad(void **state)
{
	uint8_t pk[32], back[32];
	char id[CX_CONTACT_ID_LEN + 1], buf[128];
	static const char bad_chars[] = "0189=@[`{ -_/:\x80\xff";
	int missed = 0;

	(void)state;
	memset(pk, 0x5a, sizeof pk);
	assert_int_equal(cx_contact_id_encode(id, sizeof id, pk), 0);
	/* Wrong lengths. */
	assert_int_equal(cx_contact_id_decode(back, ""), -EBADMSG);
	assert_int_equal(cx_contact_id_decode(back, "parley:"), -EBADMSG);
	snprintf(buf, sizeof buf, "%.55s", id);
	assert_int_equal(cx_contact_id_decode(back, buf), -EBADMSG);
	snprintf(buf, sizeof buf, "%sa", id);
	assert_int_equal(cx_contact_id_decode(back, buf), -EBADMSG);
	snprintf(buf, sizeof buf, "parley:parley:%s", id);
	assert_int_equal(cx_contact_id_decode(back, buf), -EBADMSG);
	snprintf(buf, sizeof buf, " %s", id);
	assert_int_equal(cx_contact_id_decode(back, buf), -EBADMSG);
	assert_int_equal(cx_contact_id_decode(back, NULL), -EBADMSG);
	/* Characters outside the alphabet, at every position. */
	for (size_t i = 0; i < CX_CONTACT_ID_LEN; i++) {
		for (size_t k = 0; k < sizeof bad_chars - 1; k++) {
			memcpy(buf, id, sizeof id);
			buf[i] = bad_chars[k];
			assert_int_equal(cx_contact_id_decode(back, buf),
					 -EBADMSG);
		}
	}
	/* Every single-character substitution: the checksum is 16 bits of
	 * BLAKE2b, so a rare one may pass; count them, and require every
	 * change of the checksum characters themselves to be caught. */
	for (size_t i = 0; i < CX_CONTACT_ID_LEN; i++) {
		for (const char *c = "abcdefghijklmnopqrstuvwxyz234567"; *c;
		     c++) {
			if (*c == id[i])
				continue;
			memcpy(buf, id, sizeof id);
			buf[i] = *c;
			if (cx_contact_id_decode(back, buf) == 0) {
				assert_true(i < 52);
				missed++;
			}
		}
	}
	assert_true(missed <= 2);
	/* A right checksum over a wrong version is still refused. */
	{
		char ref[64];

		ref_contact_id(ref, pk, 0x02);
		assert_int_equal(cx_contact_id_decode(back, ref), -EBADMSG);
		ref_contact_id(ref, pk, 0x01);
		assert_int_equal(cx_contact_id_decode(back, ref), 0);
	}
}

static void test_store_subkey(void **state)
{
	struct cx_identity id, empty;
	uint8_t k1[32], k2[32], k3[32], want[32];

	(void)state;
	gen(&id, 6, 0);
	assert_int_equal(cx_store_subkey(k1, &id, 1, "messages"), 0);
	assert_int_equal(cx_store_subkey(k2, &id, 2, "messages"), 0);
	assert_int_equal(cx_store_subkey(k3, &id, 1, "sessions"), 0);
	assert_memory_not_equal(k1, k2, 32);
	assert_memory_not_equal(k1, k3, 32);
	crypto_kdf_derive_from_key(want, 32, 1, "messages", id.store_key);
	assert_memory_equal(k1, want, 32);
	memset(&empty, 0, sizeof empty);
	assert_int_equal(cx_store_subkey(k1, &empty, 1, "messages"), -EINVAL);
	cx_identity_close(&id);
}

/* Key file.  Most sealed files here use the cheapest Argon2id cost so the
 * suite stays fast; one round trip uses the default (interactive) cost. */
#define FAST_OPS CX_KEYFILE_OPSLIMIT_MIN
#define FAST_MEM CX_KEYFILE_MEMLIMIT_MIN
static const char pass[] = "correct horse battery staple";

static void encode(uint8_t **buf, size_t *len, const struct cx_identity *id,
		   bool sealed)
{
	assert_int_equal(
		cx_keyfile_encode_kdf(buf, len, id, sealed ? pass : NULL,
				      sealed ? strlen(pass) : 0,
				      rng_seeded(1, 0x77), FAST_OPS, FAST_MEM),
		0);
	assert_true(*len <= CX_KEYFILE_MAX);
}

/* Recomputes the trailing checksum after a test has edited the file, to
 * reach the checks behind it (the layout is docs/PROTOCOL-keyfile.md's). */
static void fix_sum(uint8_t *buf, size_t len)
{
	crypto_generichash(buf + len - 32, 32, buf, len - 32, NULL, 0);
}

static void test_keyfile_round_trip(void **state)
{
	struct cx_identity id, back;
	uint8_t *buf = NULL;
	size_t len = 0;

	(void)state;
	gen(&id, 8, 1234567890);
	for (int sealed = 0; sealed <= 1; sealed++) {
		encode(&buf, &len, &id, sealed);
		assert_int_equal(cx_keyfile_is_sealed(buf, len), sealed);
		assert_int_equal(len, sealed ? 404 : 388);
		assert_memory_equal(buf, "PARLEYK1", 8);
		memset(&back, 0x55, sizeof back);
		assert_int_equal(cx_keyfile_decode(&back, buf, len,
						   sealed ? pass : NULL,
						   sealed ? strlen(pass) : 0),
				 0);
		assert_same_identity(&id, &back);
		assert_int_equal(cx_identity_check(&back), 0);
		cx_identity_close(&back);
		if (sealed) {
			/* No secret and no public key appears in clear. */
			assert_null(memmem(buf, len, id.account_pk, 8));
			assert_null(memmem(buf, len, id.store_key, 8));
			assert_null(memmem(buf, len, id.node_sk, 8));
		} else {
			/* A passphrase given for a clear file is ignored. */
			assert_int_equal(
				cx_keyfile_decode(&back, buf, len, "x", 1), 0);
			cx_identity_close(&back);
		}
		cx_keyfile_free(buf, len);
	}
	cx_keyfile_free(NULL, 0);
	cx_identity_close(&id);
}

static void test_keyfile_default_cost(void **state)
{
	struct cx_identity id, back;
	uint8_t *buf = NULL;
	size_t len = 0;

	(void)state;
	gen(&id, 9, 1);
	assert_int_equal(cx_keyfile_encode(&buf, &len, &id, pass, strlen(pass),
					   rng_seeded(1, 1)),
			 0);
	/* crypto_pwhash_OPSLIMIT_INTERACTIVE, MEMLIMIT_INTERACTIVE in KiB */
	assert_memory_equal(buf + 12, "\x00\x00\x00\x02", 4);
	assert_memory_equal(buf + 16, "\x00\x01\x00\x00", 4);
	assert_int_equal(crypto_pwhash_OPSLIMIT_INTERACTIVE, 2);
	assert_int_equal(crypto_pwhash_MEMLIMIT_INTERACTIVE, 64 << 20);
	assert_int_equal(cx_keyfile_decode(&back, buf, len, pass, strlen(pass)),
			 0);
	assert_same_identity(&id, &back);
	cx_identity_close(&back);
	cx_keyfile_free(buf, len);
	/* Unsealed, cx_keyfile_encode gives the same bytes as the _kdf form
	 * (the cost is unused). */
	assert_int_equal(
		cx_keyfile_encode(&buf, &len, &id, NULL, 0, rng_seeded(1, 1)),
		0);
	assert_int_equal(len, 388);
	cx_keyfile_free(buf, len);
	cx_identity_close(&id);
}

static void test_keyfile_passphrase(void **state)
{
	struct cx_identity id, back;
	uint8_t *buf = NULL;
	size_t len = 0;

	(void)state;
	gen(&id, 10, 5);
	encode(&buf, &len, &id, true);
	assert_int_equal(cx_keyfile_decode(&back, buf, len, NULL, 0), -ENOKEY);
	assert_empty_identity(&back);
	assert_int_equal(cx_keyfile_decode(&back, buf, len, "wrong", 5),
			 -EKEYREJECTED);
	assert_empty_identity(&back);
	/* One byte short, one byte more: still wrong. */
	assert_int_equal(
		cx_keyfile_decode(&back, buf, len, pass, strlen(pass) - 1),
		-EKEYREJECTED);
	assert_int_equal(cx_keyfile_decode(&back, buf, len, "", 0),
			 -EKEYREJECTED);
	assert_empty_identity(&back);
	assert_int_equal(cx_keyfile_decode(&back, buf, len, pass, strlen(pass)),
			 0);
	cx_identity_close(&back);
	cx_keyfile_free(buf, len);
	cx_identity_close(&id);
}

/* Every truncation and every single-bit flip is corruption (-EBADMSG),
 * never a wrong passphrase and never an identity: the checksum covers
 * every byte, and is checked before anything else. */
static void test_keyfile_corrupt(void **state)
{
	struct cx_identity id, back;
	uint8_t *buf = NULL, *copy;
	size_t len = 0;

	(void)state;
	gen(&id, 11, 77);
	for (int sealed = 0; sealed <= 1; sealed++) {
		const char *p = sealed ? pass : NULL;
		size_t pl = sealed ? strlen(pass) : 0;

		encode(&buf, &len, &id, sealed);
		copy = malloc(len + 1);
		assert_non_null(copy);
		for (size_t n = 0; n < len; n++) {
			memcpy(copy, buf, n);
			assert_int_equal(
				cx_keyfile_decode(&back, copy, n, p, pl),
				-EBADMSG);
			assert_empty_identity(&back);
		}
		memcpy(copy, buf, len);
		copy[len] = 0;
		assert_int_equal(cx_keyfile_decode(&back, copy, len + 1, p, pl),
				 -EBADMSG);
		for (size_t bit = 0; bit < len * 8; bit++) {
			memcpy(copy, buf, len);
			copy[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			assert_int_equal(
				cx_keyfile_decode(&back, copy, len, p, pl),
				-EBADMSG);
			assert_empty_identity(&back);
		}
		assert_int_equal(cx_keyfile_decode(&back, NULL, 0, p, pl),
				 -EBADMSG);
		free(copy);
		cx_keyfile_free(buf, len);
	}
	cx_identity_close(&id);
}

/* Files whose checksum is right but whose content is not: what a hostile
 * or buggy writer could produce.  Each field is refused for what it is. */
static void test_keyfile_hostile(void **state)
{
	struct cx_identity id, back;
	uint8_t *clear = NULL, *sealed = NULL, f[CX_KEYFILE_MAX];
	size_t clen = 0, slen = 0;

	(void)state;
	gen(&id, 12, 99);
	encode(&clear, &clen, &id, false);
	encode(&sealed, &slen, &id, true);

#define EDIT(src, n, off, val, want)                                           \
	do {                                                                   \
		memcpy(f, src, n);                                             \
		f[off] = (uint8_t)(val);                                       \
		fix_sum(f, n);                                                 \
		assert_int_equal(                                              \
			cx_keyfile_decode(&back, f, n, pass, strlen(pass)),    \
			want);                                                 \
		assert_empty_identity(&back);                                  \
	} while (0)
	EDIT(clear, clen, 0, 'X', -EBADMSG);	  /* magic */
	EDIT(clear, clen, 8, 2, -EBADMSG);	  /* version */
	EDIT(clear, clen, 9, 2, -EBADMSG);	  /* unknown flag */
	EDIT(clear, clen, 9, 1, -EBADMSG);	  /* sealed flag, clear size */
	EDIT(clear, clen, 10, 2, -EBADMSG);	  /* kdf on a clear file */
	EDIT(clear, clen, 11, 1, -EBADMSG);	  /* reserved */
	EDIT(clear, clen, 15, 1, -EBADMSG);	  /* opslimit on a clear file */
	EDIT(clear, clen, 25, 1, -EBADMSG);	  /* salt on a clear file */
	EDIT(clear, clen, 59, 1, -EBADMSG);	  /* nonce on a clear file */
	EDIT(clear, clen, 60, 0x80, -EBADMSG);	  /* account seed */
	EDIT(clear, clen, 60 + 40, 1, -EBADMSG);  /* account pk copy */
	EDIT(clear, clen, 60 + 64, 1, -EBADMSG);  /* device seed */
	EDIT(clear, clen, 60 + 130, 1, -EBADMSG); /* certificate */
	EDIT(clear, clen, 60 + 200, 1, -EBADMSG); /* node sk */
	EDIT(clear, clen, 60 + 230, 1, -EBADMSG); /* node pk */
	EDIT(clear, clen, 60 + 295, 1, -EBADMSG); /* created_s */
	EDIT(sealed, slen, 9, 0, -EBADMSG);	  /* clear flag, sealed size */
	EDIT(sealed, slen, 10, 1, -EBADMSG);	  /* Argon2i, not Argon2id */
	EDIT(sealed, slen, 12, 0xff, -EBADMSG);	  /* opslimit 2^32 - ... */
	EDIT(sealed, slen, 15, 0, -EBADMSG);	  /* opslimit 0 */
	EDIT(sealed, slen, 15, 11, -EBADMSG);	  /* opslimit above max */
	EDIT(sealed, slen, 16, 0xff, -EBADMSG);	  /* memlimit ~4 TiB */
	EDIT(sealed, slen, 17, 0x10, -EBADMSG);	  /* memlimit 1 GiB + 8 KiB */
	EDIT(sealed, slen, 19, 7, -EBADMSG);	  /* memlimit below min */
	/* Header fields inside the bounds change the derived key or the
	 * associated data: the tag fails.  With a right checksum this is
	 * indistinguishable from a wrong passphrase, and said so. */
	EDIT(sealed, slen, 15, 2, -EKEYREJECTED);	       /* opslimit 2 */
	EDIT(sealed, slen, 20, sealed[20] ^ 1, -EKEYREJECTED); /* salt */
	EDIT(sealed, slen, 40, sealed[40] ^ 1, -EKEYREJECTED); /* nonce */
	EDIT(sealed, slen, 100, sealed[100] ^ 1, -EKEYREJECTED); /* ct */
#undef EDIT
	/* The maximum cost is accepted (checked with a wrong passphrase is
	 * too slow for a unit test; cx_keyfile_encode_kdf takes it). */
	{
		uint8_t *b = NULL;
		size_t n = 0;

		assert_int_equal(cx_keyfile_encode_kdf(
					 &b, &n, &id, pass, 4, rng_seeded(1, 2),
					 CX_KEYFILE_OPSLIMIT_MAX + 1, FAST_MEM),
				 -EINVAL);
		assert_int_equal(
			cx_keyfile_encode_kdf(&b, &n, &id, pass, 4,
					      rng_seeded(1, 2), FAST_OPS,
					      CX_KEYFILE_MEMLIMIT_MAX + 1024),
			-EINVAL);
		assert_int_equal(cx_keyfile_encode_kdf(&b, &n, &id, pass, 4,
						       rng_seeded(1, 2),
						       FAST_OPS, FAST_MEM + 1),
				 -EINVAL);
		assert_null(b);
	}
	cx_keyfile_free(clear, clen);
	cx_keyfile_free(sealed, slen);
	cx_identity_close(&id);
}

static void test_keyfile_encode_bad(void **state)
{
	struct cx_identity id, empty;
	uint8_t *buf = NULL;
	size_t len = 99;

	(void)state;
	gen(&id, 13, 3);
	assert_int_equal(
		cx_keyfile_encode(&buf, &len, &id, pass, 0, rng_seeded(1, 3)),
		-EINVAL);
	assert_null(buf);
	assert_int_equal(len, 0);
	memset(&empty, 0, sizeof empty);
	assert_int_equal(cx_keyfile_encode(&buf, &len, &empty, NULL, 0,
					   rng_seeded(1, 3)),
			 -EINVAL);
	/* An identity that does not hold together is never written. */
	id.device_sig[0] ^= 1;
	assert_int_equal(
		cx_keyfile_encode(&buf, &len, &id, NULL, 0, rng_seeded(1, 3)),
		-EINVAL);
	id.device_sig[0] ^= 1;
	assert_int_equal(cx_keyfile_is_sealed(NULL, 0), 0);
	assert_int_equal(cx_keyfile_is_sealed((const uint8_t *)"PARLEYK1", 8),
			 0);
	cx_identity_close(&id);
}

/* Fails each allocation of generate, encode and decode in turn: each says
 * -ENOMEM, hands back nothing and leaks nothing (ASan, valgrind). */
static void test_alloc_failure(void **state)
{
	struct cx_identity id, got;
	uint8_t *bufs[2] = {NULL, NULL}, *out;
	size_t lens[2] = {0, 0}, out_len;
	long n;
	int r;

	(void)state;
	for (n = 0;; n++) {
		alloc_fail(n);
		r = cx_identity_generate(&id, rng_seeded(0, 20), 1);
		if (alloc_done()) {
			assert_int_equal(r, 0);
			break;
		}
		assert_int_equal(r, -ENOMEM);
		assert_empty_identity(&id);
	}
	assert_true(n >= 4);
	for (int sealed = 0; sealed <= 1; sealed++) {
		for (n = 0;; n++) {
			alloc_fail(n);
			r = cx_keyfile_encode_kdf(
				&out, &out_len, &id, sealed ? pass : NULL,
				sealed ? strlen(pass) : 0, rng_seeded(1, 21),
				FAST_OPS, FAST_MEM);
			if (alloc_done()) {
				assert_int_equal(r, 0);
				break;
			}
			assert_int_equal(r, -ENOMEM);
			assert_null(out);
			assert_int_equal(out_len, 0);
		}
		assert_true(n >= 2);
		bufs[sealed] = out;
		lens[sealed] = out_len;
		for (n = 0;; n++) {
			alloc_fail(n);
			r = cx_keyfile_decode(&got, out, out_len, pass,
					      strlen(pass));
			if (alloc_done()) {
				assert_int_equal(r, 0);
				break;
			}
			assert_int_equal(r, -ENOMEM);
			assert_empty_identity(&got);
		}
		assert_true(n >= 5);
		assert_same_identity(&id, &got);
		cx_identity_close(&got);
	}
	cx_keyfile_free(bufs[0], lens[0]);
	cx_keyfile_free(bufs[1], lens[1]);
	cx_identity_close(&id);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_generate),
		cmocka_unit_test(test_identity_check),
		cmocka_unit_test(test_device_cert),
		cmocka_unit_test(test_node_id),
		cmocka_unit_test(test_base32_reference),
		cmocka_unit_test(test_contact_id),
		cmocka_unit_test(test_contact_id_bad),
		cmocka_unit_test(test_store_subkey),
		cmocka_unit_test(test_keyfile_round_trip),
		cmocka_unit_test(test_keyfile_default_cost),
		cmocka_unit_test(test_keyfile_passphrase),
		cmocka_unit_test(test_keyfile_corrupt),
		cmocka_unit_test(test_keyfile_hostile),
		cmocka_unit_test(test_keyfile_encode_bad),
		cmocka_unit_test(test_alloc_failure),
	};

	if (cx_init() < 0)
		return 1;
	return cmocka_run_group_tests_name("keys", tests, NULL, NULL);
}
