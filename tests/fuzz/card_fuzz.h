/* Shared fixture of the card fuzz targets (fuzz_card, fuzz_rv): genuine
 * cards and rendezvous records built once from a fixed seed, so every run
 * (and every seed file in tests/fuzz/corpus/fuzz_card and fuzz_rv, which
 * are these bytes) is the same. */
#ifndef PARLEY_CARD_FUZZ_H
#define PARLEY_CARD_FUZZ_H

#include <string.h>

#include "crypto/cx.h"
#include "crypto/keys.h"
#include "crypto/prim.h"
#include "crypto/sign.h"
#include "crypto/x3dh.h"
#include "node/card.h"
#include "tests/fuzz/cx_fuzz.h"

#define FC_T0 1700000000ull

struct fuzz_card_fx {
	struct cx_identity id;
	struct card_prekeys pk; /* public half only: cur_sk stays NULL */
	struct card full;	/* CARD_DEVICES_MAX devices, all relays */
	uint8_t node_pk[CX_X_PK_LEN];
	uint8_t pair[CARD_PAIR_LEN];
	uint64_t epoch;
	struct dht_record card_rec, req_rec, pair_rec;
};

static inline void fuzz_card_setup(struct fuzz_card_fx *fx)
{
	struct fuzz_rng rng;
	uint8_t spk_sk[CX_X_SK_LEN];

	cx_init();
	memset(fx, 0, sizeof *fx);
	fuzz_rng_init(&rng, 11);
	FUZZ_CHECK(cx_identity_generate(&fx->id, &rng.rng, FC_T0) == 0);
	fx->pk.cur_id = 0x01020304;
	fx->pk.cur_created_s = FC_T0;
	cx_x25519_keypair(fx->pk.cur_pk, spk_sk, &rng.rng);
	cx_wipe(spk_sk, sizeof spk_sk);
	cx_x3dh_sign_prekey(fx->pk.cur_sig, fx->id.account_sk, fx->pk.cur_id,
			    fx->pk.cur_pk);

	memcpy(fx->full.bundle.ik, fx->id.account_pk, CX_ED_PK_LEN);
	fx->full.bundle.spk_id = fx->pk.cur_id;
	memcpy(fx->full.bundle.spk, fx->pk.cur_pk, CX_X_PK_LEN);
	memcpy(fx->full.bundle.spk_sig, fx->pk.cur_sig, CX_SIG_LEN);
	fx->full.num_devices = CARD_DEVICES_MAX;
	for (unsigned i = 0; i < CARD_DEVICES_MAX; i++) {
		struct card_device *d = &fx->full.devices[i];
		uint8_t seed[CX_ED_SEED_LEN], sk[CX_ED_SK_LEN];
		uint8_t msg[CX_DEVICE_CERT_MSG_LEN];

		rng_fill(&rng.rng, seed, sizeof seed);
		cx_sign_keypair_seed(d->pk, sk, seed);
		d->created_s = FC_T0 + i;
		cx_device_cert_msg(msg, fx->id.account_pk, d->pk, d->created_s);
		cx_sign(d->sig, msg, sizeof msg, fx->id.account_sk);
		cx_wipe(sk, sizeof sk);
	}
	fx->full.num_relays = CARD_RELAYS_MAX;
	for (unsigned i = 0; i < CARD_RELAYS_MAX; i++)
		rng_fill(&rng.rng, fx->full.relays[i].node_pk, CX_X_PK_LEN);

	rng_fill(&rng.rng, fx->node_pk, sizeof fx->node_pk);
	rng_fill(&rng.rng, fx->pair, sizeof fx->pair);
	fx->epoch = card_rv_epoch(FC_T0);
	/* no relay: the seed corpora hold this very record */
	FUZZ_CHECK(card_record_make(&fx->card_rec, &fx->id, &fx->pk, NULL, 0,
				    FC_T0) == 0);
	FUZZ_CHECK(card_req_rv_make(&fx->req_rec, &fx->id, fx->node_pk,
				    FC_T0) == 0);
	FUZZ_CHECK(card_pair_rv_make(&fx->pair_rec, fx->pair, fx->id.account_pk,
				     fx->epoch, fx->node_pk, FC_T0,
				     &rng.rng) == 0);
}

/* Input shaping shared by both targets: byte 0 with its top bit set picks
 * genuine item (byte 0 & 3) and XORs the remaining bytes over it (bytes
 * beyond its end are appended; bit 6 cuts it to size - 1 bytes); any
 * other input is used as it is.  Returns the length in out, and whether
 * the result is byte for byte the genuine item in *genuine (-1: not). */
static inline size_t fuzz_card_shape(uint8_t *out, size_t out_max,
				     const uint8_t *data, size_t size,
				     const uint8_t *const items[],
				     const size_t item_lens[], int num_items,
				     int *genuine)
{
	size_t len;

	*genuine = -1;
	if (size > 0 && (data[0] & 0x80) != 0) {
		int i = (data[0] & 3) % num_items;

		len = item_lens[i];
		memcpy(out, items[i], len);
		for (size_t j = 1; j < size && j - 1 < out_max; j++) {
			if (j - 1 >= len)
				out[len++] = 0;
			out[j - 1] ^= data[j];
		}
		if ((data[0] & 0x40) != 0 && size - 1 < len)
			len = size - 1;
	} else {
		len = size < out_max ? size : out_max;
		memcpy(out, data, len);
	}
	for (int i = 0; i < num_items; i++)
		if (len == item_lens[i] && memcmp(out, items[i], len) == 0)
			*genuine = i;
	return len;
}

#endif
