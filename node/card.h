/* Contact cards, prekeys and rendezvous records (DESIGN.md sections 3, 4
 * and 6): what a node publishes in the DHT so that a contact (and, for a
 * contact request, someone holding the contact ID) can set up an X3DH
 * session and find the node it should link to.  Wire layouts:
 * docs/PROTOCOL-card.md.
 *
 * Pure over crypto/ and store/: no sockets, no clock (times are arguments),
 * randomness from the injected struct rng.
 *
 *  - Card: DHT record kind 1 (DHT_RECORD_KIND_CONTACT_CARD), signed by the
 *    account key, salt empty.  Value: the signed prekey bundle (spk_id,
 *    spk, spk_sig), the device list (device pk, created_s, certificate by
 *    the account key) and home relays (node keys).  Never an address.
 *  - Request rendezvous: kind 2, signed by the account key, salt
 *    "request".  Value: the node key of the node that takes contact
 *    requests for this account.  Public to anyone who knows the contact
 *    ID; published only while the user accepts requests (docs explain the
 *    privacy cost until relay request mailboxes exist, DESIGN.md 7).
 *  - Pairwise rendezvous: kind 2, signed by an Ed25519 key derived from
 *    the pair's secret, the owner's account key and an epoch, so a DHT
 *    node sees a key unrelated to either account; value sealed under a key
 *    derived the same way.  Only the contact can compute the record key
 *    and read the node key in it.
 *  - Prekeys: the X25519 signed prekey, rotated every CARD_SPK_ROTATE_S,
 *    replaced ones kept CARD_SPK_KEEP_S for requests in flight; secrets
 *    sealed at rest in META under cx_store_subkey(ctx "prekey01").
 *
 * Errors: 0 or negative errno: -EINVAL, -EBADMSG (malformed), -EKEYREJECTED
 * (signature or seal does not verify), -ENOENT, -ENOMEM, store errors. */
#ifndef PARLEY_NODE_CARD_H
#define PARLEY_NODE_CARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/keys.h"
#include "crypto/rng.h"
#include "crypto/x3dh.h"
#include "dht/dht.h"
#include "store/store.h"

#define CARD_VERSION 1
/* 6 devices and 7 relays keep the largest card value (951 bytes) within
 * DHT_VALUE_MAX; 8 devices would not fit beside 7 relays. */
#define CARD_DEVICES_MAX 6
#define CARD_RELAYS_MAX 7
#define CARD_SPK_ROTATE_S (7 * 86400ull) /* new signed prekey weekly */
#define CARD_SPK_KEEP_S (14 * 86400ull)	 /* old one kept this long after */
#define CARD_RV_EPOCH_S 86400ull	 /* pairwise rendezvous epoch */
#define CARD_RECORD_TTL_S (2 * 86400ull) /* expiry of what we publish */
#define CARD_PAIR_LEN 32		 /* pairwise secret */

/* Value sizes (docs/PROTOCOL-card.md). */
#define CARD_DEVICE_LEN (CX_ED_PK_LEN + 8 + CX_SIG_LEN) /* 104 */
#define CARD_VALUE_MIN (1 + 4 + CX_X_PK_LEN + CX_SIG_LEN + 1 + 1)
#define CARD_VALUE_MAX                                                         \
	(CARD_VALUE_MIN + CARD_DEVICES_MAX * CARD_DEVICE_LEN +                 \
	 CARD_RELAYS_MAX * CX_X_PK_LEN)
#define CARD_REQ_RV_SALT "request"
#define CARD_REQ_RV_LEN (1 + CX_X_PK_LEN) /* version | node pk */
/* version | nonce 24 | sealed(node pk 32 | stamp_s 8) + tag 16 */
#define CARD_PAIR_RV_LEN (1 + 24 + CX_X_PK_LEN + 8 + 16)

struct card_device {
	uint8_t pk[CX_ED_PK_LEN];
	uint64_t created_s;
	uint8_t sig[CX_SIG_LEN]; /* cx_device_cert_verify */
};

struct card_relay {
	uint8_t node_pk[CX_X_PK_LEN];
};

/* A decoded card: everything verified against the account key. */
struct card {
	struct cx_x3dh_bundle bundle; /* ik = account pk, has_opk false */
	unsigned num_devices;
	struct card_device devices[CARD_DEVICES_MAX];
	unsigned num_relays;
	struct card_relay relays[CARD_RELAYS_MAX];
};

/* Signed prekeys: the current one and up to two replaced ones still
 * accepted.  A replaced prekey is kept CARD_SPK_KEEP_S after its
 * replacement; with weekly rotation and a 14-day keep that can be two of
 * them at once (prev, replaced by cur, and old, replaced by prev), so
 * there is a second slot.  Ids are random, non-zero and distinct. */
struct card_prekeys {
	uint32_t cur_id;
	uint8_t cur_pk[CX_X_PK_LEN];
	uint8_t cur_sig[CX_SIG_LEN];
	uint64_t cur_created_s;
	uint32_t prev_id; /* 0: none */
	uint64_t prev_created_s;
	uint32_t old_id; /* 0: none; never set while prev_id is 0 */
	uint64_t old_created_s;
	/* secrets: cx_secret_alloc'd CX_X_SK_LEN each, NULL when absent */
	uint8_t *cur_sk;
	uint8_t *prev_sk;
	uint8_t *old_sk;
};

/* Loads the prekeys from META (sealed), making the first one, or a new
 * one when the current is older than CARD_SPK_ROTATE_S (the current then
 * becomes prev, prev becomes old; a replaced one is wiped CARD_SPK_KEEP_S
 * after its replacement).  Writes back in one transaction when anything
 * changed; *changed (may be NULL) tells the caller to republish the card.
 * pk must be card_prekeys_clear'ed (or zeroed) before the first call.
 * The store is the source of truth: each call reads it again and replaces
 * *pk, which is left unchanged on failure.  A clock that went back (now_s
 * before the current prekey's creation) changes nothing.  Returns 0,
 * -EINVAL, -EBADMSG (corrupt stored value), -EKEYREJECTED (sealed under
 * another storage key), -ENOMEM or a store error. */
int card_prekeys_load(struct card_prekeys *pk, struct store *s,
		      const struct cx_identity *id, const struct rng *rng,
		      uint64_t now_s, bool *changed);

/* The secret of prekey spk_id (current, prev or old) into out.  -ENOENT
 * when none has that id (0 never matches). */
int card_prekeys_secret(const struct card_prekeys *pk, uint32_t spk_id,
			uint8_t out[static CX_X_SK_LEN]);

/* Wipes and frees the secrets; the struct may be reused. */
void card_prekeys_clear(struct card_prekeys *pk);

/* Builds our card record (kind 1, seq = now_s, expiry now_s +
 * CARD_RECORD_TTL_S), signed with the account key, naming num_relays
 * home relays (at most CARD_RELAYS_MAX, distinct, non-zero). */
int card_record_make(struct dht_record *rec, const struct cx_identity *id,
		     const struct card_prekeys *pk,
		     const struct card_relay *relays, unsigned num_relays,
		     uint64_t now_s);

/* Decodes and verifies a card record fetched from the DHT: kind, empty
 * salt, pk == account_pk, record signature, value layout, prekey
 * signature, every device certificate.  Expiry is the caller's (the DHT
 * drops expired records).  -EBADMSG for a wrong kind, salt or layout,
 * -EKEYREJECTED for another publisher or a bad signature. */
int card_record_parse(struct card *out, const struct dht_record *rec,
		      const uint8_t account_pk[static CX_ED_PK_LEN]);

/* Value codec alone (for fuzzing): decode checks layout and signatures
 * against account_pk (relays are covered only by the record signature).
 * Strict: unknown version, counts of 0 devices or over the maxima,
 * duplicate devices or relays, truncation and trailing bytes are -EBADMSG;
 * a bad prekey signature or device certificate -EKEYREJECTED.  Encode
 * copies the signatures in c (it signs nothing): -EINVAL for counts out of
 * range, -E2BIG when out_max is too small (CARD_VALUE_MAX always fits). */
int card_value_encode(uint8_t *out, size_t out_max, size_t *len,
		      const struct card *c);
int card_value_decode(struct card *out, const uint8_t *buf, size_t len,
		      const uint8_t account_pk[static CX_ED_PK_LEN]);

/* The DHT key of account_pk's card. */
void card_key(uint8_t key[static DHT_ID_LEN],
	      const uint8_t account_pk[static CX_ED_PK_LEN]);

/* ---- Request rendezvous ---- */

/* Builds our request rendezvous record naming node_pk (seq = now_s,
 * expiry now_s + CARD_RECORD_TTL_S). */
int card_req_rv_make(struct dht_record *rec, const struct cx_identity *id,
		     const uint8_t node_pk[static CX_X_PK_LEN], uint64_t now_s);
/* The same record saying "no requests" (the node key all zero), with
 * seq now_s: it replaces an open one where it is stored, so turning
 * requests off hides the node key at once, not when the record expires.
 * card_req_rv_parse refuses it (-EBADMSG), as a reader must. */
int card_req_rv_close(struct dht_record *rec, const struct cx_identity *id,
		      uint64_t now_s);
/* Its DHT key for account_pk. */
void card_req_rv_key(uint8_t key[static DHT_ID_LEN],
		     const uint8_t account_pk[static CX_ED_PK_LEN]);
/* Verifies and reads the node key out of a fetched record: kind, salt,
 * pk == account_pk, signature, value.  -EBADMSG or -EKEYREJECTED. */
int card_req_rv_parse(uint8_t node_pk[static CX_X_PK_LEN],
		      const struct dht_record *rec,
		      const uint8_t account_pk[static CX_ED_PK_LEN]);

/* ---- Pairwise rendezvous ---- */

/* The rendezvous epoch of a Unix time: now_s / CARD_RV_EPOCH_S. */
uint64_t card_rv_epoch(uint64_t now_s);

/* Builds owner's rendezvous record for the contact it shares pair with,
 * for epoch: signed by the derived key, value sealed (fresh nonce from
 * rng) around node_pk and now_s. */
int card_pair_rv_make(struct dht_record *rec,
		      const uint8_t pair[static CARD_PAIR_LEN],
		      const uint8_t owner_pk[static CX_ED_PK_LEN],
		      uint64_t epoch, const uint8_t node_pk[static CX_X_PK_LEN],
		      uint64_t now_s, const struct rng *rng);
/* The DHT key of owner's record for epoch (what the contact looks up). */
void card_pair_rv_key(uint8_t key[static DHT_ID_LEN],
		      const uint8_t pair[static CARD_PAIR_LEN],
		      const uint8_t owner_pk[static CX_ED_PK_LEN],
		      uint64_t epoch);
/* Verifies (derived signer, seal) and reads a fetched record; *stamp_s
 * (may be NULL) gets the owner's now_s at publication.  A record for
 * another pair, owner or epoch is -EKEYREJECTED (its signer differs). */
int card_pair_rv_parse(uint8_t node_pk[static CX_X_PK_LEN], uint64_t *stamp_s,
		       const struct dht_record *rec,
		       const uint8_t pair[static CARD_PAIR_LEN],
		       const uint8_t owner_pk[static CX_ED_PK_LEN],
		       uint64_t epoch);

#endif
