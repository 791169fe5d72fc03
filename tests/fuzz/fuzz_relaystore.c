/* Fuzz target for the stored-value decoders of node/relaystore: the first
 * input byte picks the decoder (0 totals, 1 box, 2 item, 3 source; taken
 * mod 4), the rest is the value.  Invariants (abort on a broken one):
 *   - a decoder returns 0 or -EBADMSG, and accepts exactly the values the
 *     layout in relaystore.h allows (checked against a predicate written
 *     here from that layout);
 *   - a refused value leaves the outputs untouched;
 *   - an accepted value, encoded again by hand from what was decoded,
 *     gives the same bytes (an item in the version it was read in);
 *   - an item's blob lies inside the input, 1..RELAY_BLOB_MAX bytes; its
 *     source is all zero exactly when it is of version 1. */
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

/* Box (bytes_len 4) and source (8): version 1 | items 4 | bytes. */
static void fuzz_counts(enum relaystore_counts_kind kind, size_t bytes_len,
			const uint8_t *v, size_t len)
{
	struct relaystore_counts c, untouched;
	uint8_t out[13];
	uint64_t items = len == 5 + bytes_len ? be32_get(v + 1) : 0;
	uint64_t bytes = len != 5 + bytes_len ? 0
			 : bytes_len == 4     ? be32_get(v + 5)
					      : be64_get(v + 5);
	bool valid = len == 5 + bytes_len && v[0] == 1 && items != 0 &&
		     bytes >= items;
	int r;

	memset(&c, 0xa5, sizeof c);
	untouched = c;
	r = relaystore__counts_decode(&c, kind, v, len);
	FUZZ_CHECK(r == 0 || r == -EBADMSG);
	FUZZ_CHECK((r == 0) == valid);
	if (r < 0) {
		FUZZ_CHECK(memcmp(&c, &untouched, sizeof c) == 0);
		return;
	}
	FUZZ_CHECK(c.items != 0 && c.bytes >= c.items && c.items <= UINT32_MAX);
	out[0] = 1;
	be32_put(out + 1, (uint32_t)c.items);
	if (bytes_len == 4) {
		FUZZ_CHECK(c.bytes <= UINT32_MAX);
		be32_put(out + 5, (uint32_t)c.bytes);
	} else {
		be64_put(out + 5, c.bytes);
	}
	FUZZ_CHECK(memcmp(out, v, len) == 0);
}

static bool all_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != 0)
			return false;
	return true;
}

/* Version 1: expiry 8 | blob; version 2: expiry 8 | source 8 (not all
 * zero) | blob. */
static void fuzz_item(const uint8_t *v, size_t len)
{
	static const uint8_t poison;
	static uint8_t out[17 + RELAY_BLOB_MAX];
	struct relaystore_item it, untouched;
	size_t hdr = len > 0 && v[0] == 2 ? 17 : 9;
	bool valid = len > 0 && (v[0] == 1 || v[0] == 2) && len >= hdr + 1 &&
		     len <= hdr + RELAY_BLOB_MAX &&
		     (v[0] == 1 || !all_zero(v + 9, RELAYSTORE_SOURCE_LEN));
	int r;

	memset(&it, 0xa5, sizeof it);
	it.blob = &poison;
	untouched = it;
	r = relaystore__item_decode(&it, v, len);
	FUZZ_CHECK(r == 0 || r == -EBADMSG);
	FUZZ_CHECK((r == 0) == valid);
	if (r < 0) {
		FUZZ_CHECK(memcmp(&it, &untouched, sizeof it) == 0);
		return;
	}
	FUZZ_CHECK(it.blob_len >= 1 && it.blob_len <= RELAY_BLOB_MAX);
	FUZZ_CHECK(it.blob >= v && it.blob <= v + len && it.blob_len <= len &&
		   it.blob + it.blob_len == v + len);
	FUZZ_CHECK(all_zero(it.source, RELAYSTORE_SOURCE_LEN) == (v[0] == 1));
	out[0] = v[0];
	be64_put(out + 1, it.expiry_s);
	if (v[0] == 2)
		memcpy(out + 9, it.source, RELAYSTORE_SOURCE_LEN);
	memcpy(out + hdr, it.blob, it.blob_len);
	FUZZ_CHECK(hdr + it.blob_len == len && memcmp(out, v, len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	switch (data[0] % 4) {
	case 0:
		fuzz_totals(data + 1, size - 1);
		break;
	case 1:
		fuzz_counts(RELAYSTORE_COUNTS_BOX, 4, data + 1, size - 1);
		break;
	case 2:
		fuzz_item(data + 1, size - 1);
		break;
	default:
		fuzz_counts(RELAYSTORE_COUNTS_SOURCE, 8, data + 1, size - 1);
		break;
	}
	return 0;
}
