/* Unit tests for node/card: card, request and pairwise rendezvous records
 * round trip; tampering with any field (record signature, prekey
 * signature, device certificate, sealed rendezvous value) is rejected, as
 * are records for another account, pair, owner or epoch; the strict value
 * decoder refuses bad versions, counts, duplicates and trailing bytes; the
 * pairwise derivation matches the construction PROTOCOL-card.md states;
 * signed prekeys are made, kept, rotated and expired over simulated time
 * in a real store, sealed at rest, and survive a reopen and allocation
 * failures.  Each store test works in its own mkdtemp() directory. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "crypto/cx.h"
#include "crypto/kdf.h"
#include "crypto/keys.h"
#include "crypto/prim.h"
#include "crypto/sign.h"
#include "crypto/x3dh.h"
#include "node/card.h"
#include "store/store.h"

#define ALLOC_FAIL_SODIUM
#include "tests/unit/alloc_fail.h"
#include "tests/unit/store_testutil.h"

#define T0 1700000000ull
#define DAY 86400ull

struct fixture {
	char dir[256];
	struct store *s;
	struct cx_identity id;
	struct trng rng;
	struct card_prekeys pk;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	struct store_opts o = {.no_sync = true};
	const char *tmp = getenv("TMPDIR");

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof f->dir, "%s/parley-card-XXXXXX",
		 tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if (mkdtemp(f->dir) == NULL)
		goto fail;
	trng_init(&f->rng, 7);
	if (cx_identity_generate(&f->id, &f->rng.rng, T0 - 100) < 0)
		goto fail;
	if (store_open(&f->s, f->dir, &o) < 0)
		goto fail;
	*state = f;
	return 0;
fail:
	cx_identity_close(&f->id);
	rm_env(f->dir);
	free(f);
	return -1;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	card_prekeys_clear(&f->pk);
	store_close(f->s);
	cx_identity_close(&f->id);
	rm_env(f->dir);
	free(f);
	return 0;
}

static void load_ok(struct fixture *f, uint64_t now, bool want_changed)
{
	bool changed = !want_changed;

	assert_int_equal(card_prekeys_load(&f->pk, f->s, &f->id, &f->rng.rng,
					   now, &changed),
			 0);
	assert_int_equal(changed, want_changed);
}

/* A card with n extra devices certified by id's account key and m relays. */
static void card_full(struct card *c, const struct cx_identity *id,
		      const struct card_prekeys *pk, unsigned n, unsigned m)
{
	memset(c, 0, sizeof *c);
	memcpy(c->bundle.ik, id->account_pk, CX_ED_PK_LEN);
	c->bundle.spk_id = pk->cur_id;
	memcpy(c->bundle.spk, pk->cur_pk, CX_X_PK_LEN);
	memcpy(c->bundle.spk_sig, pk->cur_sig, CX_SIG_LEN);
	c->num_devices = n;
	for (unsigned i = 0; i < n; i++) {
		uint8_t seed[CX_ED_SEED_LEN], sk[CX_ED_SK_LEN];
		uint8_t msg[CX_DEVICE_CERT_MSG_LEN];

		memset(seed, 0x40 + (int)i, sizeof seed);
		cx_sign_keypair_seed(c->devices[i].pk, sk, seed);
		c->devices[i].created_s = T0 + i;
		cx_device_cert_msg(msg, id->account_pk, c->devices[i].pk,
				   c->devices[i].created_s);
		cx_sign(c->devices[i].sig, msg, sizeof msg, id->account_sk);
	}
	c->num_relays = m;
	for (unsigned i = 0; i < m; i++)
		memset(c->relays[i].node_pk, 0x80 + (int)i, CX_X_PK_LEN);
}

/* ---- Cards ---- */

static void test_card_roundtrip(void **state)
{
	struct fixture *f = *state;
	struct dht_record rec;
	struct card c;
	struct cx_identity alice;
	struct cx_x3dh_result ra, rb;
	struct cx_x3dh_init init;
	uint8_t key[DHT_ID_LEN], key2[DHT_ID_LEN], spk_sk[CX_X_SK_LEN];
	struct trng arng;

	load_ok(f, T0, true);
	assert_int_equal(card_record_make(&rec, &f->id, &f->pk, NULL, 0, T0 + 5), 0);
	assert_int_equal(rec.kind, DHT_RECORD_KIND_CONTACT_CARD);
	assert_int_equal(rec.salt_len, 0);
	assert_int_equal(rec.seq, T0 + 5);
	assert_int_equal(rec.expiry_s, T0 + 5 + CARD_RECORD_TTL_S);
	assert_int_equal(rec.value_len, CARD_VALUE_MIN + CARD_DEVICE_LEN);
	assert_int_equal(dht_record_verify(&rec), 0);
	card_key(key, f->id.account_pk);
	dht_record_key(key2, &rec);
	assert_memory_equal(key, key2, DHT_ID_LEN);

	assert_int_equal(card_record_parse(&c, &rec, f->id.account_pk), 0);
	assert_memory_equal(c.bundle.ik, f->id.account_pk, CX_ED_PK_LEN);
	assert_int_equal(c.bundle.spk_id, f->pk.cur_id);
	assert_memory_equal(c.bundle.spk, f->pk.cur_pk, CX_X_PK_LEN);
	assert_false(c.bundle.has_opk);
	assert_int_equal(c.num_devices, 1);
	assert_memory_equal(c.devices[0].pk, f->id.device_pk, CX_ED_PK_LEN);
	assert_int_equal(c.devices[0].created_s, f->id.created_s);
	assert_int_equal(c.num_relays, 0);
	{
		/* home relays: named in order; too many, a zero key or a
		 * repeated one are refused */
		struct card_relay rl[CARD_RELAYS_MAX + 1];
		struct card c2;

		for (unsigned i = 0; i <= CARD_RELAYS_MAX; i++)
			memset(rl[i].node_pk, (int)(i + 1), CX_X_PK_LEN);
		assert_int_equal(card_record_make(&rec, &f->id, &f->pk, rl, 3,
						  T0 + 6),
				 0);
		assert_int_equal(card_record_parse(&c2, &rec, f->id.account_pk),
				 0);
		assert_int_equal(c2.num_relays, 3);
		for (unsigned i = 0; i < 3; i++)
			assert_memory_equal(c2.relays[i].node_pk, rl[i].node_pk,
					    CX_X_PK_LEN);
		assert_int_equal(card_record_make(&rec, &f->id, &f->pk, rl,
						  CARD_RELAYS_MAX + 1, T0 + 6),
				 -EINVAL);
		assert_int_equal(card_record_make(&rec, &f->id, &f->pk, NULL,
						  1, T0 + 6),
				 -EINVAL);
		memset(rl[1].node_pk, 0, CX_X_PK_LEN);
		assert_true(card_record_make(&rec, &f->id, &f->pk, rl, 2,
					     T0 + 6) < 0);
		memcpy(rl[1].node_pk, rl[0].node_pk, CX_X_PK_LEN);
		assert_true(card_record_make(&rec, &f->id, &f->pk, rl, 2,
					     T0 + 6) < 0);
	}

	/* The card is enough for X3DH: Alice initiates from it, we answer
	 * with the secret card_prekeys_secret gives for her spk_id. */
	trng_init(&arng, 99);
	assert_int_equal(cx_identity_generate(&alice, &arng.rng, T0), 0);
	assert_int_equal(cx_x3dh_initiate(&ra, &init, alice.account_sk,
					  &c.bundle, &arng.rng),
			 0);
	assert_int_equal(init.spk_id, f->pk.cur_id);
	assert_int_equal(card_prekeys_secret(&f->pk, init.spk_id, spk_sk), 0);
	assert_int_equal(
		cx_x3dh_respond(&rb, &init, f->id.account_sk, spk_sk, NULL), 0);
	assert_memory_equal(ra.sk, rb.sk, sizeof ra.sk);
	assert_memory_equal(ra.ad, rb.ad, sizeof ra.ad);
	cx_x3dh_result_wipe(&ra);
	cx_x3dh_result_wipe(&rb);
	cx_identity_close(&alice);

	/* Not loaded: no card. */
	{
		struct card_prekeys none;

		memset(&none, 0, sizeof none);
		assert_int_equal(card_record_make(&rec, &f->id, &none, NULL, 0, T0),
				 -EINVAL);
	}
	assert_int_equal(card_record_make(&rec, &f->id, &f->pk, NULL, 0, UINT64_MAX),
			 -EINVAL);
}

/* Any change to a signed record, outside what card_record_parse checks
 * first, breaks the record signature. */
static void test_card_tamper_record(void **state)
{
	struct fixture *f = *state;
	struct dht_record rec, t;
	struct card c;
	uint8_t other[CX_ED_PK_LEN];

	load_ok(f, T0, true);
	assert_int_equal(card_record_make(&rec, &f->id, &f->pk, NULL, 0, T0), 0);
	for (size_t i = 0; i < rec.value_len; i++) {
		t = rec;
		t.value[i] ^= 0x01;
		assert_int_equal(card_record_parse(&c, &t, f->id.account_pk),
				 -EKEYREJECTED);
	}
	for (size_t i = 0; i < CX_SIG_LEN; i++) {
		t = rec;
		t.sig[i] ^= 0x20;
		assert_int_equal(card_record_parse(&c, &t, f->id.account_pk),
				 -EKEYREJECTED);
	}
	t = rec;
	t.seq++;
	assert_int_equal(card_record_parse(&c, &t, f->id.account_pk),
			 -EKEYREJECTED);
	t = rec;
	t.expiry_s++;
	assert_int_equal(card_record_parse(&c, &t, f->id.account_pk),
			 -EKEYREJECTED);
	t = rec;
	t.value_len--;
	assert_int_equal(card_record_parse(&c, &t, f->id.account_pk),
			 -EKEYREJECTED);
	/* Wrong kind or a salt: not a card at all. */
	t = rec;
	t.kind = DHT_RECORD_KIND_RENDEZVOUS;
	assert_int_equal(card_record_parse(&c, &t, f->id.account_pk), -EBADMSG);
	t = rec;
	t.salt_len = 1;
	assert_int_equal(card_record_parse(&c, &t, f->id.account_pk), -EBADMSG);
	t = rec;
	t.value_len = DHT_VALUE_MAX + 1;
	assert_int_equal(card_record_parse(&c, &t, f->id.account_pk), -EBADMSG);
	/* Another account's card under this one's name, and vice versa. */
	memcpy(other, f->id.account_pk, sizeof other);
	other[3] ^= 1;
	assert_int_equal(card_record_parse(&c, &rec, other), -EKEYREJECTED);
	t = rec;
	t.pk[3] ^= 1;
	assert_int_equal(card_record_parse(&c, &t, f->id.account_pk),
			 -EKEYREJECTED);
}

/* Tampering inside the value, then re-signing the record with the account
 * key (so only the inner signatures can notice): the prekey signature
 * and every device certificate must. */
static void test_card_tamper_inner(void **state)
{
	struct fixture *f = *state;
	struct dht_record rec, t;
	struct card c;
	size_t off;

	load_ok(f, T0, true);
	assert_int_equal(card_record_make(&rec, &f->id, &f->pk, NULL, 0, T0), 0);
	/* spk_id, spk, spk_sig, device pk, created_s, cert: bytes 1 to
	 * 1 + 4 + 32 + 64 + 1 + 104, skipping the device count. */
	for (off = 1; off < CARD_VALUE_MIN - 2 + CARD_DEVICE_LEN + 1; off++) {
		if (off == CARD_VALUE_MIN - 2)
			continue; /* n_devices */
		bool zero_id;

		t = rec;
		t.value[off] ^= 0x04;
		zero_id = cx_is_zero(t.value + 1, 4);
		assert_int_equal(dht_record_sign(&t, f->id.account_sk), 0);
		assert_int_equal(card_record_parse(&c, &t, f->id.account_pk),
				 zero_id ? -EBADMSG : -EKEYREJECTED);
	}
	/* Structural damage, re-signed: -EBADMSG. */
	t = rec;
	t.value[0] = 2; /* version */
	assert_int_equal(dht_record_sign(&t, f->id.account_sk), 0);
	assert_int_equal(card_record_parse(&c, &t, f->id.account_pk), -EBADMSG);
	t = rec;
	t.value[rec.value_len] = 0; /* trailing byte */
	t.value_len++;
	assert_int_equal(dht_record_sign(&t, f->id.account_sk), 0);
	assert_int_equal(card_record_parse(&c, &t, f->id.account_pk), -EBADMSG);
	t = rec;
	t.value_len--; /* truncated */
	assert_int_equal(dht_record_sign(&t, f->id.account_sk), 0);
	assert_int_equal(card_record_parse(&c, &t, f->id.account_pk), -EBADMSG);
	t = rec;
	t.value[rec.value_len - 1] = 1; /* claims a relay, none follows */
	assert_int_equal(dht_record_sign(&t, f->id.account_sk), 0);
	assert_int_equal(card_record_parse(&c, &t, f->id.account_pk), -EBADMSG);
}

static void test_card_codec(void **state)
{
	struct fixture *f = *state;
	struct card c, d;
	uint8_t buf[DHT_VALUE_MAX + 64], bad[DHT_VALUE_MAX + 64];
	size_t len = 0, n_off, r_off;

	load_ok(f, T0, true);
	/* The largest card fits a DHT value and round-trips. */
	card_full(&c, &f->id, &f->pk, CARD_DEVICES_MAX, CARD_RELAYS_MAX);
	assert_int_equal(card_value_encode(buf, sizeof buf, &len, &c), 0);
	assert_int_equal(len, CARD_VALUE_MAX);
	assert_true(len <= DHT_VALUE_MAX);
	assert_int_equal(card_value_decode(&d, buf, len, f->id.account_pk), 0);
	assert_int_equal(memcmp(&c, &d, sizeof c), 0);
	assert_int_equal(card_value_encode(buf, len - 1, &len, &c), -E2BIG);
	assert_int_equal(len, 0);

	/* Counts. */
	card_full(&c, &f->id, &f->pk, 2, 2);
	c.num_devices = CARD_DEVICES_MAX + 1;
	assert_int_equal(card_value_encode(buf, sizeof buf, &len, &c), -EINVAL);
	c.num_devices = 0;
	assert_int_equal(card_value_encode(buf, sizeof buf, &len, &c), -EINVAL);
	c.num_devices = 2;
	c.num_relays = CARD_RELAYS_MAX + 1;
	assert_int_equal(card_value_encode(buf, sizeof buf, &len, &c), -EINVAL);
	c.num_relays = 2;
	assert_int_equal(card_value_encode(buf, sizeof buf, &len, &c), 0);
	n_off = CARD_VALUE_MIN - 2;
	r_off = n_off + 1 + 2 * CARD_DEVICE_LEN;
	assert_int_equal(buf[n_off], 2);
	assert_int_equal(buf[r_off], 2);
	assert_int_equal(card_value_decode(&d, buf, len, f->id.account_pk), 0);
	assert_int_equal(d.num_devices, 2);
	assert_int_equal(d.num_relays, 2);

	/* Every truncation and a trailing byte. */
	for (size_t l = 0; l < len; l++)
		assert_int_equal(
			card_value_decode(&d, buf, l, f->id.account_pk),
			-EBADMSG);
	memcpy(bad, buf, len);
	bad[len] = 0;
	assert_int_equal(card_value_decode(&d, bad, len + 1, f->id.account_pk),
			 -EBADMSG);
	/* Count bytes over their maxima or zero devices. */
	for (unsigned v = 0; v < 256; v++) {
		int want;

		memcpy(bad, buf, len);
		bad[n_off] = (uint8_t)v;
		want = v == 2 ? 0 : -EBADMSG;
		assert_int_equal(
			card_value_decode(&d, bad, len, f->id.account_pk),
			want);
		memcpy(bad, buf, len);
		bad[r_off] = (uint8_t)v;
		want = v == 2 ? 0 : -EBADMSG;
		assert_int_equal(
			card_value_decode(&d, bad, len, f->id.account_pk),
			want);
	}
	/* Unknown versions, spk_id 0. */
	for (unsigned v = 0; v < 256; v++) {
		memcpy(bad, buf, len);
		bad[0] = (uint8_t)v;
		assert_int_equal(
			card_value_decode(&d, bad, len, f->id.account_pk),
			v == CARD_VERSION ? 0 : -EBADMSG);
	}
	memcpy(bad, buf, len);
	memset(bad + 1, 0, 4);
	assert_int_equal(card_value_decode(&d, bad, len, f->id.account_pk),
			 -EBADMSG);
	/* Duplicate device, duplicate or zero relay. */
	memcpy(bad, buf, len);
	memcpy(bad + n_off + 1 + CARD_DEVICE_LEN, bad + n_off + 1,
	       CARD_DEVICE_LEN);
	assert_int_equal(card_value_decode(&d, bad, len, f->id.account_pk),
			 -EBADMSG);
	memcpy(bad, buf, len);
	memcpy(bad + r_off + 1 + CX_X_PK_LEN, bad + r_off + 1, CX_X_PK_LEN);
	assert_int_equal(card_value_decode(&d, bad, len, f->id.account_pk),
			 -EBADMSG);
	memcpy(bad, buf, len);
	memset(bad + r_off + 1, 0, CX_X_PK_LEN);
	assert_int_equal(card_value_decode(&d, bad, len, f->id.account_pk),
			 -EBADMSG);
	/* The second device's certificate, the prekey signature, and the
	 * whole value under another account. */
	memcpy(bad, buf, len);
	bad[r_off - 1] ^= 0x10;
	assert_int_equal(card_value_decode(&d, bad, len, f->id.account_pk),
			 -EKEYREJECTED);
	memcpy(bad, buf, len);
	bad[1 + 4 + CX_X_PK_LEN] ^= 0x10;
	assert_int_equal(card_value_decode(&d, bad, len, f->id.account_pk),
			 -EKEYREJECTED);
	memcpy(bad, f->id.account_pk, CX_ED_PK_LEN);
	bad[0] ^= 1;
	assert_int_equal(card_value_decode(&d, buf, len, bad), -EKEYREJECTED);
}

/* ---- Request rendezvous ---- */

static void test_req_rv(void **state)
{
	struct fixture *f = *state;
	struct dht_record rec, t;
	uint8_t node[CX_X_PK_LEN], got[CX_X_PK_LEN], key[DHT_ID_LEN],
		key2[DHT_ID_LEN], other[CX_ED_PK_LEN];

	memset(node, 0x5a, sizeof node);
	assert_int_equal(card_req_rv_make(&rec, &f->id, node, T0), 0);
	assert_int_equal(rec.kind, DHT_RECORD_KIND_RENDEZVOUS);
	assert_int_equal(rec.salt_len, 7);
	assert_memory_equal(rec.salt, "request", 7);
	assert_memory_equal(rec.pk, f->id.account_pk, CX_ED_PK_LEN);
	assert_int_equal(rec.value_len, CARD_REQ_RV_LEN);
	card_req_rv_key(key, f->id.account_pk);
	dht_record_key(key2, &rec);
	assert_memory_equal(key, key2, DHT_ID_LEN);
	card_key(key2, f->id.account_pk);
	assert_memory_not_equal(key, key2, DHT_ID_LEN);
	assert_int_equal(card_req_rv_parse(got, &rec, f->id.account_pk), 0);
	assert_memory_equal(got, node, CX_X_PK_LEN);

	/* Closed: the same key, a valid signature, no node key to read,
	 * and a later seq that replaces the open record. */
	assert_int_equal(card_req_rv_close(&t, &f->id, T0 + 1), 0);
	dht_record_key(key2, &t);
	assert_memory_equal(key, key2, DHT_ID_LEN);
	assert_true(t.seq > rec.seq);
	assert_int_equal(dht_record_verify(&t), 0);
	assert_int_equal(card_req_rv_parse(got, &t, f->id.account_pk),
			 -EBADMSG);

	for (size_t i = 0; i < rec.value_len; i++) {
		t = rec;
		t.value[i] ^= 0x80;
		assert_int_equal(card_req_rv_parse(got, &t, f->id.account_pk),
				 -EKEYREJECTED);
	}
	t = rec;
	t.sig[63] ^= 1;
	assert_int_equal(card_req_rv_parse(got, &t, f->id.account_pk),
			 -EKEYREJECTED);
	memcpy(other, f->id.account_pk, sizeof other);
	other[0] ^= 1;
	assert_int_equal(card_req_rv_parse(got, &rec, other), -EKEYREJECTED);

	/* Re-signed but malformed: salt, kind, version, length, zero key. */
	t = rec;
	t.salt[0] = 'R';
	assert_int_equal(dht_record_sign(&t, f->id.account_sk), 0);
	assert_int_equal(card_req_rv_parse(got, &t, f->id.account_pk),
			 -EBADMSG);
	t = rec;
	t.kind = DHT_RECORD_KIND_CONTACT_CARD;
	assert_int_equal(dht_record_sign(&t, f->id.account_sk), 0);
	assert_int_equal(card_req_rv_parse(got, &t, f->id.account_pk),
			 -EBADMSG);
	t = rec;
	t.value[0] = 2;
	assert_int_equal(dht_record_sign(&t, f->id.account_sk), 0);
	assert_int_equal(card_req_rv_parse(got, &t, f->id.account_pk),
			 -EBADMSG);
	t = rec;
	t.value_len++;
	assert_int_equal(dht_record_sign(&t, f->id.account_sk), 0);
	assert_int_equal(card_req_rv_parse(got, &t, f->id.account_pk),
			 -EBADMSG);
	t = rec;
	memset(t.value + 1, 0, CX_X_PK_LEN);
	assert_int_equal(dht_record_sign(&t, f->id.account_sk), 0);
	assert_int_equal(card_req_rv_parse(got, &t, f->id.account_pk),
			 -EBADMSG);
	memset(node, 0, sizeof node);
	assert_int_equal(card_req_rv_make(&rec, &f->id, node, T0), -EINVAL);
}

/* ---- Pairwise rendezvous ---- */

/* The construction as PROTOCOL-card.md states it, written out again here
 * so the test checks the document as well as the code. */
static void doc_derive(uint8_t out[32], const char *label,
		       const uint8_t pair[32], const uint8_t owner[32],
		       uint64_t epoch)
{
	uint8_t info[64];
	size_t n = strlen(label);

	memcpy(info, label, n);
	memcpy(info + n, owner, 32);
	for (int i = 0; i < 8; i++)
		info[n + 32 + (size_t)i] = (uint8_t)(epoch >> (56 - 8 * i));
	assert_int_equal(
		cx_hkdf_sha512(out, 32, NULL, 0, pair, 32, info, n + 40), 0);
}

static void test_pair_rv(void **state)
{
	struct fixture *f = *state;
	struct dht_record rec, rec2, t;
	uint8_t pair[CARD_PAIR_LEN], owner[CX_ED_PK_LEN], other[CX_ED_PK_LEN];
	uint8_t node[CX_X_PK_LEN], got[CX_X_PK_LEN], key[DHT_ID_LEN],
		key2[DHT_ID_LEN];
	uint8_t seed[32], spk[CX_ED_PK_LEN], ssk[CX_ED_SK_LEN], skey[32];
	uint8_t pt[CX_X_PK_LEN + 8], ad[1 + DHT_ID_LEN];
	uint64_t epoch = card_rv_epoch(T0), stamp = 0;

	assert_int_equal(epoch, T0 / DAY);
	memset(pair, 0x11, sizeof pair);
	memcpy(owner, f->id.account_pk, sizeof owner);
	memset(other, 0x33, sizeof other);
	memset(node, 0x77, sizeof node);

	assert_int_equal(card_pair_rv_make(&rec, pair, owner, epoch, node,
					   T0 + 9, &f->rng.rng),
			 0);
	assert_int_equal(rec.kind, DHT_RECORD_KIND_RENDEZVOUS);
	assert_int_equal(rec.salt_len, 0);
	assert_int_equal(rec.value_len, CARD_PAIR_RV_LEN);
	assert_int_equal(rec.seq, T0 + 9);
	card_pair_rv_key(key, pair, owner, epoch);
	dht_record_key(key2, &rec);
	assert_memory_equal(key, key2, DHT_ID_LEN);
	assert_int_equal(
		card_pair_rv_parse(got, &stamp, &rec, pair, owner, epoch), 0);
	assert_memory_equal(got, node, CX_X_PK_LEN);
	assert_int_equal(stamp, T0 + 9);
	assert_int_equal(
		card_pair_rv_parse(got, NULL, &rec, pair, owner, epoch), 0);
	/* Nothing in the record names the owner or the node key. */
	assert_memory_not_equal(rec.pk, owner, CX_ED_PK_LEN);
	assert_null(memmem(rec.value, rec.value_len, node, 8));

	/* The signer and seal key are the documented derivation. */
	doc_derive(seed, "parley rv sign v1", pair, owner, epoch);
	cx_sign_keypair_seed(spk, ssk, seed);
	assert_memory_equal(spk, rec.pk, CX_ED_PK_LEN);
	doc_derive(skey, "parley rv seal v1", pair, owner, epoch);
	ad[0] = 1;
	memcpy(ad + 1, key, DHT_ID_LEN);
	assert_int_equal(cx_xchacha_open(pt, sizeof pt, rec.value + 25,
					 rec.value_len - 25, ad, sizeof ad,
					 rec.value + 1, skey),
			 0);
	assert_memory_equal(pt, node, CX_X_PK_LEN);

	/* Fresh nonce per record; the other direction is another record. */
	assert_int_equal(card_pair_rv_make(&rec2, pair, owner, epoch, node,
					   T0 + 9, &f->rng.rng),
			 0);
	assert_memory_not_equal(rec.value, rec2.value, rec.value_len);
	card_pair_rv_key(key2, pair, other, epoch);
	assert_memory_not_equal(key, key2, DHT_ID_LEN);
	card_pair_rv_key(key2, pair, owner, epoch + 1);
	assert_memory_not_equal(key, key2, DHT_ID_LEN);

	/* Wrong epoch, pair or owner: another signer. */
	assert_int_equal(
		card_pair_rv_parse(got, NULL, &rec, pair, owner, epoch + 1),
		-EKEYREJECTED);
	assert_int_equal(
		card_pair_rv_parse(got, NULL, &rec, pair, other, epoch),
		-EKEYREJECTED);
	pair[31] ^= 1;
	assert_int_equal(
		card_pair_rv_parse(got, NULL, &rec, pair, owner, epoch),
		-EKEYREJECTED);
	pair[31] ^= 1;

	/* The record signature covers everything. */
	for (size_t i = 0; i < rec.value_len; i++) {
		t = rec;
		t.value[i] ^= 0x02;
		assert_int_equal(
			card_pair_rv_parse(got, NULL, &t, pair, owner, epoch),
			-EKEYREJECTED);
	}
	t = rec;
	t.sig[0] ^= 1;
	assert_int_equal(card_pair_rv_parse(got, NULL, &t, pair, owner, epoch),
			 -EKEYREJECTED);

	/* Re-signed with the derived key: the seal still catches every
	 * byte of nonce, ciphertext and tag; the version is a format
	 * error. */
	for (size_t i = 0; i < rec.value_len; i++) {
		t = rec;
		t.value[i] ^= 0x02;
		assert_int_equal(dht_record_sign(&t, ssk), 0);
		assert_int_equal(
			card_pair_rv_parse(got, NULL, &t, pair, owner, epoch),
			i == 0 ? -EBADMSG : -EKEYREJECTED);
	}
	t = rec;
	t.value_len--;
	assert_int_equal(dht_record_sign(&t, ssk), 0);
	assert_int_equal(card_pair_rv_parse(got, NULL, &t, pair, owner, epoch),
			 -EBADMSG);
	/* Right signer, wrong kind or a salt. */
	t = rec;
	t.kind = DHT_RECORD_KIND_CONTACT_CARD;
	assert_int_equal(dht_record_sign(&t, ssk), 0);
	assert_int_equal(card_pair_rv_parse(got, NULL, &t, pair, owner, epoch),
			 -EBADMSG);
	t = rec;
	t.salt_len = 1;
	assert_int_equal(dht_record_sign(&t, ssk), 0);
	assert_int_equal(card_pair_rv_parse(got, NULL, &t, pair, owner, epoch),
			 -EBADMSG);
	cx_wipe(ssk, sizeof ssk);

	memset(node, 0, sizeof node);
	assert_int_equal(card_pair_rv_make(&rec, pair, owner, epoch, node, T0,
					   &f->rng.rng),
			 -EINVAL);
}

/* ---- Prekeys ---- */

static void test_prekeys_rotation(void **state)
{
	struct fixture *f = *state;
	uint8_t sk1[CX_X_SK_LEN], sk2[CX_X_SK_LEN], sk3[CX_X_SK_LEN],
		out[CX_X_SK_LEN], pub[CX_X_PK_LEN];
	uint32_t id1, id2, id3;

	load_ok(f, T0, true);
	id1 = f->pk.cur_id;
	assert_int_not_equal(id1, 0);
	assert_int_equal(f->pk.cur_created_s, T0);
	assert_int_equal(f->pk.prev_id, 0);
	assert_int_equal(f->pk.old_id, 0);
	assert_null(f->pk.prev_sk);
	assert_non_null(f->pk.cur_sk);
	memcpy(sk1, f->pk.cur_sk, sizeof sk1);
	cx_x25519_public(pub, sk1);
	assert_memory_equal(pub, f->pk.cur_pk, CX_X_PK_LEN);
	{
		struct cx_x3dh_bundle b;

		memset(&b, 0, sizeof b);
		memcpy(b.ik, f->id.account_pk, CX_ED_PK_LEN);
		b.spk_id = id1;
		memcpy(b.spk, f->pk.cur_pk, CX_X_PK_LEN);
		memcpy(b.spk_sig, f->pk.cur_sig, CX_SIG_LEN);
		assert_int_equal(cx_x3dh_verify_bundle(&b), 0);
	}

	/* Kept: same key on every load until the rotation is due, also
	 * with a clock that went back. */
	load_ok(f, T0 + 1, false);
	load_ok(f, T0 + CARD_SPK_ROTATE_S - 1, false);
	load_ok(f, T0 - 5 * DAY, false);
	assert_int_equal(f->pk.cur_id, id1);
	assert_memory_equal(f->pk.cur_sk, sk1, sizeof sk1);

	/* Rotated: the old one is prev. */
	load_ok(f, T0 + CARD_SPK_ROTATE_S, true);
	id2 = f->pk.cur_id;
	assert_int_not_equal(id2, id1);
	assert_int_equal(f->pk.prev_id, id1);
	assert_int_equal(f->pk.prev_created_s, T0);
	assert_int_equal(f->pk.cur_created_s, T0 + CARD_SPK_ROTATE_S);
	memcpy(sk2, f->pk.cur_sk, sizeof sk2);
	assert_memory_not_equal(sk1, sk2, sizeof sk1);
	assert_int_equal(card_prekeys_secret(&f->pk, id1, out), 0);
	assert_memory_equal(out, sk1, sizeof out);
	assert_int_equal(card_prekeys_secret(&f->pk, id2, out), 0);
	assert_memory_equal(out, sk2, sizeof out);

	/* Second rotation: id1 was replaced a week ago, kept as old. */
	load_ok(f, T0 + 2 * CARD_SPK_ROTATE_S, true);
	id3 = f->pk.cur_id;
	memcpy(sk3, f->pk.cur_sk, sizeof sk3);
	assert_int_equal(f->pk.prev_id, id2);
	assert_int_equal(f->pk.old_id, id1);
	assert_int_equal(f->pk.old_created_s, T0);
	assert_int_equal(card_prekeys_secret(&f->pk, id1, out), 0);
	assert_memory_equal(out, sk1, sizeof out);
	assert_int_equal(card_prekeys_secret(&f->pk, id2, out), 0);
	assert_int_equal(card_prekeys_secret(&f->pk, id3, out), 0);
	assert_memory_equal(out, sk3, sizeof out);

	/* id1 was replaced at T0 + ROTATE: kept until KEEP after that. */
	load_ok(f, T0 + CARD_SPK_ROTATE_S + CARD_SPK_KEEP_S - 1, false);
	assert_int_equal(f->pk.old_id, id1);
	/* Reopening the store changes nothing. */
	store_close(f->s);
	{
		struct store_opts o = {.no_sync = true};

		assert_int_equal(store_open(&f->s, f->dir, &o), 0);
	}
	card_prekeys_clear(&f->pk);
	load_ok(f, T0 + CARD_SPK_ROTATE_S + CARD_SPK_KEEP_S - 1, false);
	assert_int_equal(f->pk.cur_id, id3);
	assert_int_equal(f->pk.prev_id, id2);
	assert_int_equal(f->pk.old_id, id1);
	assert_memory_equal(f->pk.old_sk, sk1, sizeof sk1);
	/* ... and at that moment id1 goes.  (It coincides with the third
	 * rotation: ROTATE + KEEP = 3 * ROTATE.) */
	load_ok(f, T0 + CARD_SPK_ROTATE_S + CARD_SPK_KEEP_S, true);
	assert_int_equal(card_prekeys_secret(&f->pk, id1, out), -ENOENT);
	assert_int_equal(card_prekeys_secret(&f->pk, id2, out), 0);
	assert_int_equal(card_prekeys_secret(&f->pk, id3, out), 0);
	assert_int_equal(card_prekeys_secret(&f->pk, 0, out), -ENOENT);
	assert_int_equal(f->pk.old_id, id2);

	/* Long offline: one rotation on return; the one it replaced stays
	 * KEEP from now, the rest are gone at once. */
	{
		uint64_t back = T0 + 100 * DAY;
		uint32_t before = f->pk.cur_id;

		load_ok(f, back, true);
		assert_int_equal(f->pk.prev_id, before);
		assert_int_equal(f->pk.old_id, 0);
		assert_null(f->pk.old_sk);
		assert_int_equal(card_prekeys_secret(&f->pk, id2, out),
				 -ENOENT);
		load_ok(f, back + CARD_SPK_KEEP_S - 1, true); /* rotation */
		assert_int_equal(f->pk.old_id, before);
		load_ok(f, back + CARD_SPK_KEEP_S, true); /* expiry */
		assert_int_equal(card_prekeys_secret(&f->pk, before, out),
				 -ENOENT);
	}
	/* Nothing due, no change flag; NULL changed is fine. */
	assert_int_equal(card_prekeys_load(&f->pk, f->s, &f->id, &f->rng.rng,
					   T0 + 100 * DAY + CARD_SPK_KEEP_S,
					   NULL),
			 0);
	cx_wipe(sk1, sizeof sk1);
	cx_wipe(sk2, sizeof sk2);
	cx_wipe(sk3, sizeof sk3);
}

/* No prekey secret (nor the public key, which would tie the file to the
 * published card) is in the file. */
static void test_prekeys_sealed(void **state)
{
	struct fixture *f = *state;
	uint8_t secrets[3][CX_X_SK_LEN], pubs[3][CX_X_PK_LEN];
	uint8_t *file;
	size_t len;

	load_ok(f, T0, true);
	load_ok(f, T0 + CARD_SPK_ROTATE_S, true);
	load_ok(f, T0 + 2 * CARD_SPK_ROTATE_S, true);
	memcpy(secrets[0], f->pk.cur_sk, CX_X_SK_LEN);
	memcpy(secrets[1], f->pk.prev_sk, CX_X_SK_LEN);
	memcpy(secrets[2], f->pk.old_sk, CX_X_SK_LEN);
	for (int i = 0; i < 3; i++)
		cx_x25519_public(pubs[i], secrets[i]);
	store_close(f->s);
	f->s = NULL;
	file = slurp(f->dir, &len);
	assert_non_null(memmem(file, len, "card.prekeys", 12));
	for (int i = 0; i < 3; i++) {
		assert_null(memmem(file, len, secrets[i], CX_X_SK_LEN));
		assert_null(memmem(file, len, secrets[i] + 16, 16));
		assert_null(memmem(file, len, pubs[i], CX_X_PK_LEN));
	}
	free(file);
	{
		struct store_opts o = {.no_sync = true};

		assert_int_equal(store_open(&f->s, f->dir, &o), 0);
	}
}

struct meta_ctx {
	uint8_t buf[512];
	size_t len;
};

static int meta_get_txn(struct store_txn *t, void *arg)
{
	struct meta_ctx *m = arg;

	return store_get(t, STORE_TABLE_META, "card.prekeys", 12, m->buf,
			 sizeof m->buf, &m->len);
}

static int meta_put_txn(struct store_txn *t, void *arg)
{
	struct meta_ctx *m = arg;

	return store_put(t, STORE_TABLE_META, "card.prekeys", 12, m->buf,
			 m->len);
}

/* A damaged stored value, or one sealed by another identity, fails the
 * load and leaves pk as it was. */
static void test_prekeys_corrupt(void **state)
{
	struct fixture *f = *state;
	struct meta_ctx good, m;
	struct cx_identity other;
	struct trng orng;
	uint32_t id1;
	bool changed = true;

	load_ok(f, T0, true);
	id1 = f->pk.cur_id;
	assert_int_equal(store_read(f->s, meta_get_txn, &good), 0);
	assert_int_equal(good.len, 1 + 24 + 3 * 44 + 16);

	for (size_t i = 0; i < good.len; i++) {
		m = good;
		m.buf[i] ^= 0x01;
		assert_int_equal(store_write(f->s, meta_put_txn, &m), 0);
		assert_int_equal(card_prekeys_load(&f->pk, f->s, &f->id,
						   &f->rng.rng, T0, &changed),
				 i == 0 ? -EBADMSG : -EKEYREJECTED);
		assert_false(changed);
		assert_int_equal(f->pk.cur_id, id1);
		assert_non_null(f->pk.cur_sk);
	}
	m = good;
	m.len--;
	assert_int_equal(store_write(f->s, meta_put_txn, &m), 0);
	assert_int_equal(
		card_prekeys_load(&f->pk, f->s, &f->id, &f->rng.rng, T0, NULL),
		-EBADMSG);
	m = good;
	m.len = sizeof m.buf;
	assert_int_equal(store_write(f->s, meta_put_txn, &m), 0);
	assert_int_equal(
		card_prekeys_load(&f->pk, f->s, &f->id, &f->rng.rng, T0, NULL),
		-EBADMSG);

	/* Another identity (another storage key) cannot open it. */
	assert_int_equal(store_write(f->s, meta_put_txn, &good), 0);
	trng_init(&orng, 1234);
	assert_int_equal(cx_identity_generate(&other, &orng.rng, T0), 0);
	assert_int_equal(
		card_prekeys_load(&f->pk, f->s, &other, &orng.rng, T0, NULL),
		-EKEYREJECTED);
	cx_identity_close(&other);
	assert_int_equal(f->pk.cur_id, id1);
	load_ok(f, T0, false);
	assert_int_equal(f->pk.cur_id, id1);

	assert_int_equal(
		card_prekeys_load(&f->pk, NULL, &f->id, &f->rng.rng, T0, NULL),
		-EINVAL);
}

/* A broken rng that only gives zeros yields no prekey id. */
static void zero_fill(void *self, uint8_t *buf, size_t len)
{
	(void)self;
	memset(buf, 0, len);
}

static void test_prekeys_secret(void **state)
{
	struct fixture *f = *state;
	struct rng zero = {.fill = zero_fill, .self = NULL};
	uint8_t out[CX_X_SK_LEN];

	assert_int_equal(
		card_prekeys_load(&f->pk, f->s, &f->id, &zero, T0, NULL),
		-EINVAL);
	assert_int_equal(f->pk.cur_id, 0);
	assert_int_equal(card_prekeys_secret(&f->pk, 0, out), -ENOENT);
	assert_int_equal(card_prekeys_secret(&f->pk, 1, out), -ENOENT);
	load_ok(f, T0, true);
	assert_int_equal(card_prekeys_secret(&f->pk, f->pk.cur_id, out), 0);
	assert_memory_equal(out, f->pk.cur_sk, CX_X_SK_LEN);
	assert_int_equal(card_prekeys_secret(&f->pk, f->pk.cur_id + 1, out),
			 -ENOENT);
	assert_int_equal(card_prekeys_secret(&f->pk, 0, out), -ENOENT);
	card_prekeys_clear(&f->pk);
	assert_null(f->pk.cur_sk);
	assert_int_equal(f->pk.cur_id, 0);
	card_prekeys_clear(&f->pk);
	card_prekeys_clear(NULL);
}

/* Every allocation of a load (with a rotation, so all three secrets)
 * failing in turn: -ENOMEM, pk unchanged, nothing leaked (ASan). */
static void test_prekeys_alloc_failure(void **state)
{
	struct fixture *f = *state;
	uint32_t id1;
	int r;

	load_ok(f, T0, true);
	load_ok(f, T0 + CARD_SPK_ROTATE_S, true);
	id1 = f->pk.cur_id;
	for (long n = 0;; n++) {
		alloc_fail(n);
		r = card_prekeys_load(&f->pk, f->s, &f->id, &f->rng.rng,
				      T0 + 2 * CARD_SPK_ROTATE_S, NULL);
		if (alloc_done()) {
			assert_int_equal(r, 0);
			break;
		}
		assert_int_equal(r, -ENOMEM);
		assert_int_equal(f->pk.cur_id, id1);
		assert_non_null(f->pk.cur_sk);
		assert_true(n < 50);
	}
	assert_int_not_equal(f->pk.cur_id, id1);
	assert_int_equal(f->pk.prev_id, id1);
	assert_non_null(f->pk.old_sk);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_card_roundtrip, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_card_tamper_record, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_card_tamper_inner, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_card_codec, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_req_rv, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pair_rv, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prekeys_rotation, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_prekeys_sealed, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_prekeys_corrupt, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_prekeys_secret, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_prekeys_alloc_failure,
						setup, teardown),
	};

	if (cx_init() < 0)
		return 1;
	return cmocka_run_group_tests_name("card", tests, NULL, NULL);
}
