/* Fuzz target: rendezvous and card records from hostile DHT nodes
 * (card_req_rv_parse, card_pair_rv_parse, card_record_parse on whatever
 * dht__get_record decodes).
 *
 * Genuine items: the encoded card record, request rendezvous and pairwise
 * rendezvous of card_fuzz.h's fixture; see there for how input bytes pick
 * and alter them.  Every decoded record goes to all three parsers.
 * Invariants: a genuine record is accepted by its own parser and refused
 * by the two others; whatever a parser accepts carries the genuine
 * content (the node key, the publication stamp, the signed prekey),
 * since neither the account's signature nor the derived signer's nor the
 * seal can be forged. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "dht/wire.h"
#include "tests/fuzz/card_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct fuzz_card_fx fx;

static size_t encode(uint8_t *out, size_t out_max, const struct dht_record *r)
{
	struct dht_buf b = {.p = out, .len = out_max};

	dht__put_record(&b, r);
	FUZZ_CHECK(!b.err);
	return b.pos;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool init;
	static uint8_t enc[3][DHT_RECORD_MAX_LEN], in[DHT_RECORD_MAX_LEN + 64];
	static const uint8_t *items[3];
	static size_t lens[3];
	struct dht_record rec;
	struct dht_buf b;
	struct card c;
	uint8_t node[CX_X_PK_LEN];
	uint64_t stamp = 0;
	size_t len;
	int genuine, accepted, r_card, r_req, r_pair;

	if (!init) {
		fuzz_card_setup(&fx);
		lens[0] = encode(enc[0], sizeof enc[0], &fx.card_rec);
		lens[1] = encode(enc[1], sizeof enc[1], &fx.req_rec);
		lens[2] = encode(enc[2], sizeof enc[2], &fx.pair_rec);
		for (int i = 0; i < 3; i++)
			items[i] = enc[i];
		init = true;
	}
	len = fuzz_card_shape(in, sizeof in, data, size, items, lens, 3,
			      &genuine);
	b = (struct dht_buf){.p = in, .len = len};
	if (dht__get_record(&b, &rec) != 0) {
		FUZZ_CHECK(genuine < 0);
		return 0;
	}

	r_card = card_record_parse(&c, &rec, fx.id.account_pk);
	if (r_card == 0) {
		FUZZ_CHECK(c.bundle.spk_id == fx.pk.cur_id);
		FUZZ_CHECK(memcmp(c.bundle.spk, fx.pk.cur_pk, CX_X_PK_LEN) ==
			   0);
	} else {
		FUZZ_CHECK(r_card == -EBADMSG || r_card == -EKEYREJECTED);
	}
	r_req = card_req_rv_parse(node, &rec, fx.id.account_pk);
	if (r_req == 0)
		FUZZ_CHECK(memcmp(node, fx.node_pk, CX_X_PK_LEN) == 0);
	else
		FUZZ_CHECK(r_req == -EBADMSG || r_req == -EKEYREJECTED);
	r_pair = card_pair_rv_parse(node, &stamp, &rec, fx.pair,
				    fx.id.account_pk, fx.epoch);
	if (r_pair == 0)
		FUZZ_CHECK(memcmp(node, fx.node_pk, CX_X_PK_LEN) == 0 &&
			   stamp == FC_T0);
	else
		FUZZ_CHECK(r_pair == -EBADMSG || r_pair == -EKEYREJECTED);

	if (genuine >= 0 && b.pos == len) {
		FUZZ_CHECK((r_card == 0) == (genuine == 0));
		FUZZ_CHECK((r_req == 0) == (genuine == 1));
		FUZZ_CHECK((r_pair == 0) == (genuine == 2));
	}
	/* Anything accepted is one of the genuine records. */
	accepted = r_card == 0 ? 0 : r_req == 0 ? 1 : r_pair == 0 ? 2 : -1;
	if (accepted >= 0)
		FUZZ_CHECK(b.pos == lens[accepted] &&
			   memcmp(in, items[accepted], b.pos) == 0);
	return 0;
}
