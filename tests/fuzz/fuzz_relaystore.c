/* Fuzz target for the stored-value decoders of node/relaystore: the first
 * input byte picks the decoder (0 totals, 1 box, 2 item; taken mod 3), the
 * rest is the value.  Invariants (abort on a broken one):
 *   - a decoder returns 0 or -EBADMSG, and accepts exactly the values the
 *     layout in relaystore.h allows (checked against a predicate written
 *     here from that layout);
 *   - a refused value leaves the outputs untouched;
 *   - an accepted value, encoded again by hand from what was decoded,
 *     gives the same bytes;
 *   - an item's blob lies inside the input, 1..RELAY_BLOB_MAX bytes. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "node/bytes.h"
#include "node/relaystore.h"
#include "tests/fuzz/cx_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_totals(const uint8_t *v, size_t len)
{
	struct relaystore_totals tot, untouched;
	uint8_t out[25];
	bool valid = len == 25 && v[0] == 1 && be64_get(v + 1) != 0;
	int r;

	memset(&tot, 0xa5, sizeof tot);
	untouched = tot;
	r = relaystore__totals_decode(&tot, v, len);
	FUZZ_CHECK(r == 0 || r == -EBADMSG);
	FUZZ_CHECK((r == 0) == valid);
	if (r < 0) {
		FUZZ_CHECK(memcmp(&tot, &untouched, sizeof tot) == 0);
		return;
	}
	FUZZ_CHECK(tot.next_seq != 0);
	out[0] = 1;
	be64_put(out + 1, tot.next_seq);
	be64_put(out + 9, tot.items);
	be64_put(out + 17, tot.bytes);
	FUZZ_CHECK(memcmp(out, v, sizeof out) == 0);
}

static void fuzz_box(const uint8_t *v, size_t len)
{
	struct relaystore_box b, untouched;
	uint8_t out[9];
	bool valid = len == 9 && v[0] == 1 && be32_get(v + 1) != 0;
	int r;

	memset(&b, 0xa5, sizeof b);
	untouched = b;
	r = relaystore__box_decode(&b, v, len);
	FUZZ_CHECK(r == 0 || r == -EBADMSG);
	FUZZ_CHECK((r == 0) == valid);
	if (r < 0) {
		FUZZ_CHECK(memcmp(&b, &untouched, sizeof b) == 0);
		return;
	}
	FUZZ_CHECK(b.items != 0);
	out[0] = 1;
	be32_put(out + 1, b.items);
	be32_put(out + 5, b.bytes);
	FUZZ_CHECK(memcmp(out, v, sizeof out) == 0);
}

static void fuzz_item(const uint8_t *v, size_t len)
{
	static const uint8_t poison;
	static uint8_t out[9 + RELAY_BLOB_MAX];
	const uint8_t *blob = &poison;
	uint64_t expiry_s = 0xa5a5a5a5a5a5a5a5ull;
	size_t blob_len = 0xa5a5;
	bool valid = len >= 10 && len <= 9 + RELAY_BLOB_MAX && v[0] == 1;
	int r;

	r = relaystore__item_decode(&expiry_s, &blob, &blob_len, v, len);
	FUZZ_CHECK(r == 0 || r == -EBADMSG);
	FUZZ_CHECK((r == 0) == valid);
	if (r < 0) {
		FUZZ_CHECK(blob == &poison && blob_len == 0xa5a5 &&
			   expiry_s == 0xa5a5a5a5a5a5a5a5ull);
		return;
	}
	FUZZ_CHECK(blob_len >= 1 && blob_len <= RELAY_BLOB_MAX);
	FUZZ_CHECK(blob >= v && blob <= v + len && blob_len <= len &&
		   blob + blob_len == v + len);
	out[0] = 1;
	be64_put(out + 1, expiry_s);
	memcpy(out + 9, blob, blob_len);
	FUZZ_CHECK(9 + blob_len == len && memcmp(out, v, len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	switch (data[0] % 3) {
	case 0:
		fuzz_totals(data + 1, size - 1);
		break;
	case 1:
		fuzz_box(data + 1, size - 1);
		break;
	default:
		fuzz_item(data + 1, size - 1);
		break;
	}
	return 0;
}
