/* Fuzz target: signed records (dht__get_record, dht_record_verify,
 * dht_record_key).  Invariants: a record that decodes has fields within
 * their limits, consumed exactly dht__record_len() bytes, and re-encodes
 * to the same bytes; verification never succeeds on a record whose
 * signature was then changed. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dht/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[DHT_RECORD_MAX_LEN];
	struct dht_buf b = {.p = (uint8_t *)data, .len = size};
	struct dht_buf w = {.p = out, .len = sizeof out};
	struct dht_record r;
	uint8_t key[DHT_ID_LEN];

	if (dht__get_record(&b, &r) != 0)
		return 0;
	if (r.value_len > DHT_VALUE_MAX || r.salt_len > DHT_SALT_MAX ||
	    r.kind > DHT_RECORD_KIND_MAX)
		abort();
	if (b.pos != dht__record_len(&r) || b.pos > DHT_RECORD_MAX_LEN)
		abort();
	dht__put_record(&w, &r);
	if (w.err || w.pos != b.pos || memcmp(out, data, w.pos) != 0)
		abort();
	dht_record_key(key, &r);
	if (dht_record_verify(&r) == 0) {
		r.sig[size % 64] ^= 1;
		if (dht_record_verify(&r) == 0)
			abort();
	}
	return 0;
}
