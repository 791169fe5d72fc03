/* Contact cards, signed prekeys and rendezvous records (DESIGN.md sections
 * 3, 4 and 6).  The byte layouts and derivations are specified in
 * docs/PROTOCOL-card.md; this file is their one implementation.
 *
 * Everything here is a pure function of its arguments, except
 * card_prekeys_load(), which runs one store_write() over the META table.
 * Secrets: prekey secrets live in cx_secret_alloc memory owned by struct
 * card_prekeys; the derived rendezvous signing keys and seal keys, and the
 * plaintext of the stored prekeys, are stack or guarded buffers wiped
 * before return. */
#include <errno.h>
#include <string.h>

#include "crypto/cx.h"
#include "crypto/kdf.h"
#include "crypto/prim.h"
#include "crypto/sign.h"
#include "node/bytes.h"
#include "node/card.h"

_Static_assert(CARD_VALUE_MAX <= DHT_VALUE_MAX, "a full card must fit");
_Static_assert(CARD_PAIR_RV_LEN <= DHT_VALUE_MAX, "rendezvous must fit");
_Static_assert(CARD_DEVICES_MAX <= 255 && CARD_RELAYS_MAX <= 255,
	       "counts are one byte");
/* Two replaced slots suffice only if a prekey replaced two rotations ago
 * has always expired by the next rotation. */
_Static_assert(CARD_SPK_KEEP_S <= 2 * CARD_SPK_ROTATE_S,
	       "prekey slots cannot hold every kept prekey");

#define NONCE_LEN CX_XCHACHA_NONCE_LEN
#define TAG_LEN CX_AEAD_TAG_LEN
_Static_assert(CARD_PAIR_RV_LEN == 1 + NONCE_LEN + CX_X_PK_LEN + 8 + TAG_LEN,
	       "pairwise rendezvous layout");

/* ---- Small helpers ---- */

/* Fills the header of a record we publish: seq = now_s, expiry = now_s +
 * CARD_RECORD_TTL_S.  -EINVAL when that would overflow. */
static int record_init(struct dht_record *rec, uint8_t kind,
		       const uint8_t pk[static CX_ED_PK_LEN], uint64_t now_s)
{
	if (now_s > UINT64_MAX - CARD_RECORD_TTL_S)
		return -EINVAL;
	memset(rec, 0, sizeof *rec);
	rec->kind = kind;
	memcpy(rec->pk, pk, CX_ED_PK_LEN);
	rec->seq = now_s;
	rec->expiry_s = now_s + CARD_RECORD_TTL_S;
	return 0;
}

/* The DHT key of a record with this kind, publisher and salt. */
static void key_of(uint8_t key[static DHT_ID_LEN], uint8_t kind,
		   const uint8_t pk[static CX_ED_PK_LEN], const char *salt,
		   size_t salt_len)
{
	struct dht_record r;

	memset(&r, 0, sizeof r);
	r.kind = kind;
	memcpy(r.pk, pk, CX_ED_PK_LEN);
	r.salt_len = (uint8_t)salt_len;
	if (salt_len > 0)
		memcpy(r.salt, salt, salt_len);
	dht_record_key(key, &r);
}

/* Checks what every fetched record must satisfy before its value is read:
 * kind, salt, publisher, signature. */
static int record_check(const struct dht_record *rec, uint8_t kind,
			const char *salt, size_t salt_len,
			const uint8_t pk[static CX_ED_PK_LEN])
{
	int r;

	if (rec->kind != kind || rec->salt_len != salt_len ||
	    (salt_len > 0 && memcmp(rec->salt, salt, salt_len) != 0) ||
	    rec->value_len > DHT_VALUE_MAX)
		return -EBADMSG;
	if (!cx_equal(rec->pk, pk, CX_ED_PK_LEN))
		return -EKEYREJECTED;
	r = dht_record_verify(rec);
	if (r == -EINVAL)
		return -EBADMSG;
	return r < 0 ? -EKEYREJECTED : 0;
}

/* ---- Card value ---- */

int card_value_encode(uint8_t *out, size_t out_max, size_t *len,
		      const struct card *c)
{
	size_t need;
	uint8_t *p = out;

	*len = 0;
	if (c->num_devices == 0 || c->num_devices > CARD_DEVICES_MAX ||
	    c->num_relays > CARD_RELAYS_MAX || c->bundle.spk_id == 0)
		return -EINVAL;
	need = CARD_VALUE_MIN + c->num_devices * CARD_DEVICE_LEN +
	       c->num_relays * CX_X_PK_LEN;
	if (out_max < need)
		return -E2BIG;
	/* version | spk_id | spk | spk_sig */
	*p++ = CARD_VERSION;
	be32_put(p, c->bundle.spk_id);
	p += 4;
	memcpy(p, c->bundle.spk, CX_X_PK_LEN);
	p += CX_X_PK_LEN;
	memcpy(p, c->bundle.spk_sig, CX_SIG_LEN);
	p += CX_SIG_LEN;
	/* n_devices | (device pk | created_s | cert)* */
	*p++ = (uint8_t)c->num_devices;
	for (unsigned i = 0; i < c->num_devices; i++) {
		memcpy(p, c->devices[i].pk, CX_ED_PK_LEN);
		p += CX_ED_PK_LEN;
		be64_put(p, c->devices[i].created_s);
		p += 8;
		memcpy(p, c->devices[i].sig, CX_SIG_LEN);
		p += CX_SIG_LEN;
	}
	/* n_relays | (relay node pk)* */
	*p++ = (uint8_t)c->num_relays;
	for (unsigned i = 0; i < c->num_relays; i++) {
		memcpy(p, c->relays[i].node_pk, CX_X_PK_LEN);
		p += CX_X_PK_LEN;
	}
	*len = (size_t)(p - out);
	return 0;
}

/* Layout first (cheap, and no signature work for junk), then the prekey
 * signature and every device certificate.  Decodes into a local copy so
 * that *out is written only on success. */
int card_value_decode(struct card *out, const uint8_t *buf, size_t len,
		      const uint8_t account_pk[static CX_ED_PK_LEN])
{
	struct card c;
	const uint8_t *p = buf, *end = buf + len;
	size_t rest;

	if (len < CARD_VALUE_MIN || len > CARD_VALUE_MAX)
		return -EBADMSG;
	if (*p++ != CARD_VERSION)
		return -EBADMSG;
	memset(&c, 0, sizeof c);
	memcpy(c.bundle.ik, account_pk, CX_ED_PK_LEN);
	c.bundle.spk_id = be32_get(p);
	p += 4;
	if (c.bundle.spk_id == 0)
		return -EBADMSG;
	memcpy(c.bundle.spk, p, CX_X_PK_LEN);
	p += CX_X_PK_LEN;
	memcpy(c.bundle.spk_sig, p, CX_SIG_LEN);
	p += CX_SIG_LEN;

	c.num_devices = *p++;
	if (c.num_devices == 0 || c.num_devices > CARD_DEVICES_MAX)
		return -EBADMSG;
	/* The minimum length counted one byte for n_relays. */
	rest = (size_t)(end - p);
	if (rest < c.num_devices * CARD_DEVICE_LEN + 1)
		return -EBADMSG;
	for (unsigned i = 0; i < c.num_devices; i++) {
		struct card_device *d = &c.devices[i];

		memcpy(d->pk, p, CX_ED_PK_LEN);
		p += CX_ED_PK_LEN;
		d->created_s = be64_get(p);
		p += 8;
		memcpy(d->sig, p, CX_SIG_LEN);
		p += CX_SIG_LEN;
		for (unsigned j = 0; j < i; j++)
			if (memcmp(c.devices[j].pk, d->pk, CX_ED_PK_LEN) == 0)
				return -EBADMSG;
	}

	c.num_relays = *p++;
	if (c.num_relays > CARD_RELAYS_MAX ||
	    (size_t)(end - p) != c.num_relays * CX_X_PK_LEN)
		return -EBADMSG;
	for (unsigned i = 0; i < c.num_relays; i++) {
		memcpy(c.relays[i].node_pk, p, CX_X_PK_LEN);
		p += CX_X_PK_LEN;
		if (cx_is_zero(c.relays[i].node_pk, CX_X_PK_LEN))
			return -EBADMSG;
		for (unsigned j = 0; j < i; j++)
			if (memcmp(c.relays[j].node_pk, c.relays[i].node_pk,
				   CX_X_PK_LEN) == 0)
				return -EBADMSG;
	}

	if (cx_x3dh_verify_bundle(&c.bundle) < 0)
		return -EKEYREJECTED;
	for (unsigned i = 0; i < c.num_devices; i++)
		if (cx_device_cert_verify(account_pk, c.devices[i].pk,
					  c.devices[i].created_s,
					  c.devices[i].sig) < 0)
			return -EKEYREJECTED;
	*out = c;
	return 0;
}

/* ---- Card record ---- */

void card_key(uint8_t key[static DHT_ID_LEN],
	      const uint8_t account_pk[static CX_ED_PK_LEN])
{
	key_of(key, DHT_RECORD_KIND_CONTACT_CARD, account_pk, NULL, 0);
}

int card_record_make(struct dht_record *rec, const struct cx_identity *id,
		     const struct card_prekeys *pk,
		     const struct card_relay *relays, unsigned num_relays,
		     uint64_t now_s)
{
	struct card c;
	size_t len = 0;
	int r;

	if (id == NULL || id->account_sk == NULL || pk == NULL ||
	    pk->cur_id == 0 || num_relays > CARD_RELAYS_MAX ||
	    (num_relays > 0 && relays == NULL))
		return -EINVAL;
	memset(&c, 0, sizeof c);
	memcpy(c.bundle.ik, id->account_pk, CX_ED_PK_LEN);
	c.bundle.spk_id = pk->cur_id;
	memcpy(c.bundle.spk, pk->cur_pk, CX_X_PK_LEN);
	memcpy(c.bundle.spk_sig, pk->cur_sig, CX_SIG_LEN);
	c.num_devices = 1;
	memcpy(c.devices[0].pk, id->device_pk, CX_ED_PK_LEN);
	c.devices[0].created_s = id->created_s;
	memcpy(c.devices[0].sig, id->device_sig, CX_SIG_LEN);
	c.num_relays = num_relays;
	for (unsigned i = 0; i < num_relays; i++) {
		/* what card_value_decode would refuse: zero or repeated */
		if (cx_is_zero(relays[i].node_pk, CX_X_PK_LEN))
			return -EINVAL;
		for (unsigned j = 0; j < i; j++)
			if (memcmp(relays[j].node_pk, relays[i].node_pk,
				   CX_X_PK_LEN) == 0)
				return -EINVAL;
		c.relays[i] = relays[i];
	}
	if ((r = record_init(rec, DHT_RECORD_KIND_CONTACT_CARD, id->account_pk,
			     now_s)) < 0)
		return r;
	if ((r = card_value_encode(rec->value, sizeof rec->value, &len, &c)) <
	    0)
		return r;
	rec->value_len = (uint16_t)len;
	return dht_record_sign(rec, id->account_sk);
}

int card_record_parse(struct card *out, const struct dht_record *rec,
		      const uint8_t account_pk[static CX_ED_PK_LEN])
{
	int r;

	if ((r = record_check(rec, DHT_RECORD_KIND_CONTACT_CARD, NULL, 0,
			      account_pk)) < 0)
		return r;
	return card_value_decode(out, rec->value, rec->value_len, account_pk);
}

/* ---- Request rendezvous ----
 * kind 2, publisher = account key, salt "request", value = version |
 * node pk. */

#define REQ_SALT_LEN (sizeof CARD_REQ_RV_SALT - 1)

void card_req_rv_key(uint8_t key[static DHT_ID_LEN],
		     const uint8_t account_pk[static CX_ED_PK_LEN])
{
	key_of(key, DHT_RECORD_KIND_RENDEZVOUS, account_pk, CARD_REQ_RV_SALT,
	       REQ_SALT_LEN);
}

/* The request rendezvous naming node_pk, or closed (NULL: zeros). */
static int req_rv_build(struct dht_record *rec, const struct cx_identity *id,
			const uint8_t *node_pk, uint64_t now_s)
{
	int r;

	if (id == NULL || id->account_sk == NULL)
		return -EINVAL;
	if ((r = record_init(rec, DHT_RECORD_KIND_RENDEZVOUS, id->account_pk,
			     now_s)) < 0)
		return r;
	rec->salt_len = REQ_SALT_LEN;
	memcpy(rec->salt, CARD_REQ_RV_SALT, REQ_SALT_LEN);
	rec->value[0] = CARD_VERSION;
	if (node_pk != NULL)
		memcpy(rec->value + 1, node_pk, CX_X_PK_LEN);
	else
		memset(rec->value + 1, 0, CX_X_PK_LEN);
	rec->value_len = CARD_REQ_RV_LEN;
	return dht_record_sign(rec, id->account_sk);
}

int card_req_rv_make(struct dht_record *rec, const struct cx_identity *id,
		     const uint8_t node_pk[static CX_X_PK_LEN], uint64_t now_s)
{
	if (cx_is_zero(node_pk, CX_X_PK_LEN))
		return -EINVAL;
	return req_rv_build(rec, id, node_pk, now_s);
}

int card_req_rv_close(struct dht_record *rec, const struct cx_identity *id,
		      uint64_t now_s)
{
	return req_rv_build(rec, id, NULL, now_s);
}

int card_req_rv_parse(uint8_t node_pk[static CX_X_PK_LEN],
		      const struct dht_record *rec,
		      const uint8_t account_pk[static CX_ED_PK_LEN])
{
	int r;

	if ((r = record_check(rec, DHT_RECORD_KIND_RENDEZVOUS, CARD_REQ_RV_SALT,
			      REQ_SALT_LEN, account_pk)) < 0)
		return r;
	if (rec->value_len != CARD_REQ_RV_LEN ||
	    rec->value[0] != CARD_VERSION ||
	    cx_is_zero(rec->value + 1, CX_X_PK_LEN))
		return -EBADMSG;
	memcpy(node_pk, rec->value + 1, CX_X_PK_LEN);
	return 0;
}

/* ---- Pairwise rendezvous ----
 *
 * PROTOCOL-card.md, "Pairwise rendezvous": for label L in {"parley rv
 * sign v1", "parley rv seal v1"},
 *   OUT_L = HKDF-SHA-512(salt = empty, ikm = pair (32),
 *                        info = L || owner_pk (32) || epoch (8, BE)), 32 B
 * OUT_sign is the Ed25519 seed of the record's signer; OUT_seal is the
 * XChaCha20-Poly1305 key of its value.  Both parties know pair, so each
 * can compute the other's signer (and so the record key) and seal key;
 * a DHT node sees only a signer public key that changes every epoch and
 * is unrelated to either account. */

static const char rv_sign_label[] = "parley rv sign v1";
static const char rv_seal_label[] = "parley rv seal v1";
#define RV_INFO_MAX (sizeof rv_sign_label - 1 + CX_ED_PK_LEN + 8)
_Static_assert(sizeof rv_sign_label == sizeof rv_seal_label,
	       "labels of one length");

uint64_t card_rv_epoch(uint64_t now_s)
{
	return now_s / CARD_RV_EPOCH_S;
}

static void rv_derive(uint8_t out[static 32], const char *label,
		      size_t label_len, const uint8_t *pair,
		      const uint8_t *owner_pk, uint64_t epoch)
{
	uint8_t info[RV_INFO_MAX];

	memcpy(info, label, label_len);
	memcpy(info + label_len, owner_pk, CX_ED_PK_LEN);
	be64_put(info + label_len + CX_ED_PK_LEN, epoch);
	/* 32 <= 255 * 64: cannot fail. */
	(void)cx_hkdf_sha512(out, 32, NULL, 0, pair, CARD_PAIR_LEN, info,
			     label_len + CX_ED_PK_LEN + 8);
}

/* The derived signer: public key, and the secret key when sk != NULL. */
static void rv_signer(uint8_t pk[static CX_ED_PK_LEN], uint8_t *sk,
		      const uint8_t *pair, const uint8_t *owner_pk,
		      uint64_t epoch)
{
	uint8_t seed[CX_ED_SEED_LEN], tmp[CX_ED_SK_LEN];

	rv_derive(seed, rv_sign_label, sizeof rv_sign_label - 1, pair, owner_pk,
		  epoch);
	cx_sign_keypair_seed(pk, sk != NULL ? sk : tmp, seed);
	cx_wipe(seed, sizeof seed);
	cx_wipe(tmp, sizeof tmp);
}

/* AD of the seal: version || the record's DHT key, which binds the
 * ciphertext to the record (and so to its signer) it was published in. */
static void rv_ad(uint8_t ad[static 1 + DHT_ID_LEN],
		  const uint8_t signer_pk[static CX_ED_PK_LEN])
{
	ad[0] = CARD_VERSION;
	key_of(ad + 1, DHT_RECORD_KIND_RENDEZVOUS, signer_pk, NULL, 0);
}

void card_pair_rv_key(uint8_t key[static DHT_ID_LEN],
		      const uint8_t pair[static CARD_PAIR_LEN],
		      const uint8_t owner_pk[static CX_ED_PK_LEN],
		      uint64_t epoch)
{
	uint8_t pk[CX_ED_PK_LEN];

	rv_signer(pk, NULL, pair, owner_pk, epoch);
	key_of(key, DHT_RECORD_KIND_RENDEZVOUS, pk, NULL, 0);
}

int card_pair_rv_make(struct dht_record *rec,
		      const uint8_t pair[static CARD_PAIR_LEN],
		      const uint8_t owner_pk[static CX_ED_PK_LEN],
		      uint64_t epoch, const uint8_t node_pk[static CX_X_PK_LEN],
		      uint64_t now_s, const struct rng *rng)
{
	uint8_t pk[CX_ED_PK_LEN], sk[CX_ED_SK_LEN], key[CX_AEAD_KEY_LEN];
	uint8_t pt[CX_X_PK_LEN + 8], ad[1 + DHT_ID_LEN];
	int r;

	if (rng == NULL || cx_is_zero(node_pk, CX_X_PK_LEN))
		return -EINVAL;
	rv_signer(pk, sk, pair, owner_pk, epoch);
	rv_derive(key, rv_seal_label, sizeof rv_seal_label - 1, pair, owner_pk,
		  epoch);
	if ((r = record_init(rec, DHT_RECORD_KIND_RENDEZVOUS, pk, now_s)) < 0)
		goto out;
	/* value: version | nonce | XChaCha20-Poly1305(node_pk | stamp_s) */
	memcpy(pt, node_pk, CX_X_PK_LEN);
	be64_put(pt + CX_X_PK_LEN, now_s);
	rec->value[0] = CARD_VERSION;
	rng_fill(rng, rec->value + 1, NONCE_LEN);
	rv_ad(ad, pk);
	if ((r = cx_xchacha_seal(rec->value + 1 + NONCE_LEN,
				 CARD_PAIR_RV_LEN - 1 - NONCE_LEN, pt,
				 sizeof pt, ad, sizeof ad, rec->value + 1,
				 key)) < 0)
		goto out;
	rec->value_len = CARD_PAIR_RV_LEN;
	r = dht_record_sign(rec, sk);
out:
	cx_wipe(sk, sizeof sk);
	cx_wipe(key, sizeof key);
	cx_wipe(pt, sizeof pt);
	return r;
}

int card_pair_rv_parse(uint8_t node_pk[static CX_X_PK_LEN], uint64_t *stamp_s,
		       const struct dht_record *rec,
		       const uint8_t pair[static CARD_PAIR_LEN],
		       const uint8_t owner_pk[static CX_ED_PK_LEN],
		       uint64_t epoch)
{
	uint8_t pk[CX_ED_PK_LEN], key[CX_AEAD_KEY_LEN];
	uint8_t pt[CX_X_PK_LEN + 8], ad[1 + DHT_ID_LEN];
	int r;

	rv_signer(pk, NULL, pair, owner_pk, epoch);
	if ((r = record_check(rec, DHT_RECORD_KIND_RENDEZVOUS, NULL, 0, pk)) <
	    0)
		return r;
	if (rec->value_len != CARD_PAIR_RV_LEN || rec->value[0] != CARD_VERSION)
		return -EBADMSG;
	rv_derive(key, rv_seal_label, sizeof rv_seal_label - 1, pair, owner_pk,
		  epoch);
	rv_ad(ad, pk);
	r = cx_xchacha_open(pt, sizeof pt, rec->value + 1 + NONCE_LEN,
			    CARD_PAIR_RV_LEN - 1 - NONCE_LEN, ad, sizeof ad,
			    rec->value + 1, key);
	if (r < 0) {
		r = -EKEYREJECTED;
		goto out;
	}
	if (cx_is_zero(pt, CX_X_PK_LEN)) {
		r = -EBADMSG;
		goto out;
	}
	memcpy(node_pk, pt, CX_X_PK_LEN);
	if (stamp_s != NULL)
		*stamp_s = be64_get(pt + CX_X_PK_LEN);
	r = 0;
out:
	cx_wipe(key, sizeof key);
	cx_wipe(pt, sizeof pt);
	return r;
}

/* ---- Signed prekeys ----
 *
 * META "card.prekeys" = version (1) | nonce (24) |
 *   XChaCha20-Poly1305(key = cx_store_subkey(1, "prekey01"),
 *                      AD = "parley prekeys v1" || account pk,
 *                      pt = 3 slots (cur, prev, old) of
 *                           id (4, BE) | created_s (8, BE) | secret (32))
 * An absent slot is all zero.  Public keys and prekey signatures are not
 * stored: X25519 and Ed25519 are deterministic, so they are recomputed. */

#define SPK_CTX "prekey01"
#define SPK_SLOTS 3
#define SLOT_LEN (4 + 8 + CX_X_SK_LEN)
#define SPK_PT_LEN (SPK_SLOTS * SLOT_LEN)
#define SPK_REC_LEN (1 + NONCE_LEN + SPK_PT_LEN + TAG_LEN)

static const char spk_meta_key[] = "card.prekeys";
static const char spk_ad_tag[] = "parley prekeys v1";
#define SPK_AD_LEN (sizeof spk_ad_tag - 1 + CX_ED_PK_LEN)

struct spk_slot {
	uint32_t id; /* 0: empty */
	uint64_t created_s;
	uint8_t sk[CX_X_SK_LEN];
};

/* The whole prekey state; lives in guarded memory. */
struct spk_state {
	struct spk_slot slot[SPK_SLOTS]; /* cur, prev, old */
	uint8_t pt[SPK_PT_LEN];		 /* plaintext scratch */
};

struct load_ctx {
	struct spk_state *st;
	const struct cx_identity *id;
	const uint8_t *key; /* seal key, guarded memory */
	const struct rng *rng;
	uint64_t now_s;
	bool changed;
};

static void spk_ad(uint8_t ad[static SPK_AD_LEN], const uint8_t *account_pk)
{
	memcpy(ad, spk_ad_tag, sizeof spk_ad_tag - 1);
	memcpy(ad + sizeof spk_ad_tag - 1, account_pk, CX_ED_PK_LEN);
}

/* Checks the slot invariants a stored state must satisfy: cur present;
 * an empty slot is all zero and only followed by empty slots; ids
 * distinct; creation times strictly decreasing. */
static bool spk_state_valid(const struct spk_state *st)
{
	bool empty_seen = false;

	for (unsigned i = 0; i < SPK_SLOTS; i++) {
		const struct spk_slot *s = &st->slot[i];

		if (s->id == 0) {
			if (i == 0 || s->created_s != 0 ||
			    !cx_is_zero(s->sk, CX_X_SK_LEN))
				return false;
			empty_seen = true;
			continue;
		}
		if (empty_seen || cx_is_zero(s->sk, CX_X_SK_LEN))
			return false;
		for (unsigned j = 0; j < i; j++)
			if (st->slot[j].id == s->id ||
			    st->slot[j].created_s <= s->created_s)
				return false;
	}
	return true;
}

static int spk_open(struct load_ctx *c, const uint8_t *buf, size_t len)
{
	struct spk_state *st = c->st;
	uint8_t ad[SPK_AD_LEN];
	const uint8_t *p = st->pt;
	int r;

	if (len != SPK_REC_LEN || buf[0] != CARD_VERSION)
		return -EBADMSG;
	spk_ad(ad, c->id->account_pk);
	r = cx_xchacha_open(st->pt, sizeof st->pt, buf + 1 + NONCE_LEN,
			    SPK_PT_LEN + TAG_LEN, ad, sizeof ad, buf + 1,
			    c->key);
	if (r < 0)
		return r == -EKEYREJECTED ? r : -EBADMSG;
	for (unsigned i = 0; i < SPK_SLOTS; i++) {
		st->slot[i].id = be32_get(p);
		st->slot[i].created_s = be64_get(p + 4);
		memcpy(st->slot[i].sk, p + 12, CX_X_SK_LEN);
		p += SLOT_LEN;
	}
	cx_wipe(st->pt, sizeof st->pt);
	return spk_state_valid(st) ? 0 : -EBADMSG;
}

static int spk_seal_put(struct load_ctx *c, struct store_txn *t)
{
	struct spk_state *st = c->st;
	uint8_t buf[SPK_REC_LEN], ad[SPK_AD_LEN];
	uint8_t *p = st->pt;
	int r;

	for (unsigned i = 0; i < SPK_SLOTS; i++) {
		be32_put(p, st->slot[i].id);
		be64_put(p + 4, st->slot[i].created_s);
		memcpy(p + 12, st->slot[i].sk, CX_X_SK_LEN);
		p += SLOT_LEN;
	}
	buf[0] = CARD_VERSION;
	rng_fill(c->rng, buf + 1, NONCE_LEN);
	spk_ad(ad, c->id->account_pk);
	r = cx_xchacha_seal(buf + 1 + NONCE_LEN, SPK_PT_LEN + TAG_LEN, st->pt,
			    SPK_PT_LEN, ad, sizeof ad, buf + 1, c->key);
	cx_wipe(st->pt, sizeof st->pt);
	if (r < 0)
		return r;
	return store_put(t, STORE_TABLE_META, spk_meta_key,
			 sizeof spk_meta_key - 1, buf, sizeof buf);
}

/* A fresh prekey into slot 0: random secret, random non-zero id distinct
 * from the other slots.  -EINVAL if the rng gives no usable id in a few
 * tries (only a broken rng does). */
static int spk_new(struct load_ctx *c)
{
	struct spk_state *st = c->st;
	uint8_t pk[CX_X_PK_LEN], idb[4];

	for (int tries = 0; tries < 16; tries++) {
		uint32_t id;
		bool clash = false;

		rng_fill(c->rng, idb, sizeof idb);
		id = be32_get(idb);
		for (unsigned i = 1; i < SPK_SLOTS; i++)
			clash |= st->slot[i].id == id;
		if (id == 0 || clash)
			continue;
		st->slot[0].id = id;
		st->slot[0].created_s = c->now_s;
		cx_x25519_keypair(pk, st->slot[0].sk, c->rng);
		return 0;
	}
	return -EINVAL;
}

/* The transaction: read, rotate or expire, write back when changed.  It
 * may run again after map growth; it starts from the store each time and
 * reports through c only. */
static int load_txn(struct store_txn *t, void *arg)
{
	struct load_ctx *c = arg;
	struct spk_state *st = c->st;
	uint8_t buf[SPK_REC_LEN];
	size_t len = 0;
	int r;

	c->changed = false;
	cx_wipe(st, sizeof *st);
	r = store_get(t, STORE_TABLE_META, spk_meta_key,
		      sizeof spk_meta_key - 1, buf, sizeof buf, &len);
	if (r == -E2BIG)
		return -EBADMSG;
	if (r < 0 && r != -ENOENT)
		return r;
	if (r == -ENOENT) {
		if ((r = spk_new(c)) < 0)
			return r;
		c->changed = true;
	} else if ((r = spk_open(c, buf, len)) < 0) {
		return r;
	}
	/* Rotation: cur becomes prev, prev becomes old, old is dropped (it
	 * was replaced at least two rotations ago, so at least
	 * 2 * CARD_SPK_ROTATE_S >= CARD_SPK_KEEP_S before now). */
	if (c->now_s >= st->slot[0].created_s &&
	    c->now_s - st->slot[0].created_s >= CARD_SPK_ROTATE_S) {
		memmove(&st->slot[1], &st->slot[0],
			(SPK_SLOTS - 1) * sizeof st->slot[0]);
		cx_wipe(&st->slot[0], sizeof st->slot[0]);
		if ((r = spk_new(c)) < 0)
			return r;
		c->changed = true;
	}
	/* Expiry: slot i was replaced when slot i - 1 was created. */
	for (unsigned i = 1; i < SPK_SLOTS; i++) {
		uint64_t replaced = st->slot[i - 1].created_s;

		if (st->slot[i].id != 0 && c->now_s >= replaced &&
		    c->now_s - replaced >= CARD_SPK_KEEP_S) {
			for (unsigned j = i; j < SPK_SLOTS; j++)
				cx_wipe(&st->slot[j], sizeof st->slot[j]);
			c->changed = true;
			break;
		}
	}
	if (!c->changed)
		return 0;
	return spk_seal_put(c, t);
}

void card_prekeys_clear(struct card_prekeys *pk)
{
	if (pk == NULL)
		return;
	cx_secret_free(pk->cur_sk);
	cx_secret_free(pk->prev_sk);
	cx_secret_free(pk->old_sk);
	memset(pk, 0, sizeof *pk);
}

/* Copies slot i's secret into fresh guarded memory (*sk NULL for an empty
 * slot).  -ENOMEM. */
static int slot_secret(uint8_t **sk, const struct spk_slot *s)
{
	*sk = NULL;
	if (s->id == 0)
		return 0;
	*sk = cx_secret_alloc(CX_X_SK_LEN);
	if (*sk == NULL)
		return -ENOMEM;
	memcpy(*sk, s->sk, CX_X_SK_LEN);
	return 0;
}

int card_prekeys_load(struct card_prekeys *pk, struct store *s,
		      const struct cx_identity *id, const struct rng *rng,
		      uint64_t now_s, bool *changed)
{
	struct card_prekeys np;
	struct load_ctx c;
	uint8_t *key = NULL;
	int r = -ENOMEM;

	if (changed != NULL)
		*changed = false;
	if (pk == NULL || s == NULL || id == NULL || id->account_sk == NULL ||
	    rng == NULL)
		return -EINVAL;
	memset(&np, 0, sizeof np);
	memset(&c, 0, sizeof c);
	c.id = id;
	c.rng = rng;
	c.now_s = now_s;
	c.st = cx_secret_alloc(sizeof *c.st);
	key = cx_secret_alloc(CX_AEAD_KEY_LEN);
	if (c.st == NULL || key == NULL)
		goto out;
	if ((r = cx_store_subkey(key, id, 1, SPK_CTX)) < 0)
		goto out;
	c.key = key;
	if ((r = store_write(s, load_txn, &c)) < 0)
		goto out;

	np.cur_id = c.st->slot[0].id;
	np.cur_created_s = c.st->slot[0].created_s;
	np.prev_id = c.st->slot[1].id;
	np.prev_created_s = c.st->slot[1].created_s;
	np.old_id = c.st->slot[2].id;
	np.old_created_s = c.st->slot[2].created_s;
	cx_x25519_public(np.cur_pk, c.st->slot[0].sk);
	cx_x3dh_sign_prekey(np.cur_sig, id->account_sk, np.cur_id, np.cur_pk);
	if ((r = slot_secret(&np.cur_sk, &c.st->slot[0])) < 0 ||
	    (r = slot_secret(&np.prev_sk, &c.st->slot[1])) < 0 ||
	    (r = slot_secret(&np.old_sk, &c.st->slot[2])) < 0)
		goto out;
	card_prekeys_clear(pk);
	*pk = np;
	memset(&np, 0, sizeof np); /* pk owns the secrets now */
	if (changed != NULL)
		*changed = c.changed;
	r = 0;
out:
	card_prekeys_clear(&np);
	cx_secret_free(c.st);
	cx_secret_free(key);
	return r;
}

int card_prekeys_secret(const struct card_prekeys *pk, uint32_t spk_id,
			uint8_t out[static CX_X_SK_LEN])
{
	const uint8_t *sk = NULL;

	if (spk_id == 0)
		return -ENOENT;
	if (spk_id == pk->cur_id)
		sk = pk->cur_sk;
	else if (spk_id == pk->prev_id)
		sk = pk->prev_sk;
	else if (spk_id == pk->old_id)
		sk = pk->old_sk;
	if (sk == NULL)
		return -ENOENT;
	memcpy(out, sk, CX_X_SK_LEN);
	return 0;
}
