/* Fuzz target: the card value decoder (card_value_decode).
 *
 * Genuine items: the value of a real card record (one device, no relay)
 * and a full card (CARD_DEVICES_MAX devices, CARD_RELAYS_MAX relays), both
 * under the fixture's account key; see card_fuzz.h for how input bytes
 * pick and alter them.  Invariants: a genuine value always decodes; an
 * accepted input re-encodes to exactly its own bytes, carries the one
 * signed prekey and only certified devices (signatures cannot be forged,
 * so every accepted device is one of the genuine ones); a rejected input
 * leaves the output untouched. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "tests/fuzz/card_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct fuzz_card_fx fx;
static uint8_t full_value[CARD_VALUE_MAX];
static size_t full_len;

static bool device_known(const struct card_device *d)
{
	if (memcmp(d->pk, fx.id.device_pk, CX_ED_PK_LEN) == 0)
		return d->created_s == fx.id.created_s;
	for (unsigned i = 0; i < fx.full.num_devices; i++)
		if (memcmp(d->pk, fx.full.devices[i].pk, CX_ED_PK_LEN) == 0)
			return d->created_s == fx.full.devices[i].created_s;
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool init;
	static uint8_t in[DHT_VALUE_MAX + 64], out[CARD_VALUE_MAX];
	static const uint8_t *items[2];
	static size_t lens[2];
	struct card c, untouched;
	size_t len, olen = 0;
	int genuine, r;

	if (!init) {
		fuzz_card_setup(&fx);
		FUZZ_CHECK(card_value_encode(full_value, sizeof full_value,
					     &full_len, &fx.full) == 0);
		items[0] = fx.card_rec.value;
		lens[0] = fx.card_rec.value_len;
		items[1] = full_value;
		lens[1] = full_len;
		init = true;
	}
	len = fuzz_card_shape(in, sizeof in, data, size, items, lens, 2,
			      &genuine);
	memset(&c, 0xa5, sizeof c);
	untouched = c;
	r = card_value_decode(&c, in, len, fx.id.account_pk);
	if (genuine >= 0)
		FUZZ_CHECK(r == 0);
	if (r < 0) {
		FUZZ_CHECK(r == -EBADMSG || r == -EKEYREJECTED);
		FUZZ_CHECK(memcmp(&c, &untouched, sizeof c) == 0);
		return 0;
	}
	FUZZ_CHECK(card_value_encode(out, sizeof out, &olen, &c) == 0);
	FUZZ_CHECK(olen == len && memcmp(out, in, len) == 0);
	FUZZ_CHECK(c.bundle.spk_id == fx.pk.cur_id);
	FUZZ_CHECK(memcmp(c.bundle.spk, fx.pk.cur_pk, CX_X_PK_LEN) == 0);
	FUZZ_CHECK(c.num_devices >= 1 && c.num_devices <= CARD_DEVICES_MAX);
	FUZZ_CHECK(c.num_relays <= CARD_RELAYS_MAX);
	for (unsigned i = 0; i < c.num_devices; i++)
		FUZZ_CHECK(device_known(&c.devices[i]));
	return 0;
}
