/* Fuzz target: DHT message bodies (dht__body_parse) and the plaintext
 * header.  Input: type(1) || body.  Invariants: a body that parses
 * re-encodes to exactly the input (one encoding per message), and nothing
 * that parses exceeds its limits. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dht/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void reencode(unsigned type, const struct dht_body *b, uint8_t *out,
		     size_t *len)
{
	struct dht_buf w = {.p = out, .len = DHT_BODY_MAX};

	switch ((enum dht_msg)type) {
	case DHT_MSG_PING:
		break;
	case DHT_MSG_PONG:
		dht__put_addr(&w, &b->addr);
		if (b->has_token)
			dht__put_bytes(&w, b->token, DHT_TOKEN_LEN);
		break;
	case DHT_MSG_FIND_NODE:
		dht__put_bytes(&w, b->target, DHT_ID_LEN);
		break;
	case DHT_MSG_FIND_VALUE:
		dht__put_bytes(&w, b->target, DHT_ID_LEN);
		dht__put_u64(&w, b->min_seq);
		break;
	case DHT_MSG_NODES:
		dht__put_bytes(&w, b->token, DHT_TOKEN_LEN);
		dht__put_u8(&w, (uint8_t)b->num_nodes);
		for (unsigned i = 0; i < b->num_nodes; i++) {
			dht__put_bytes(&w, b->nodes[i].pk, 32);
			dht__put_addr(&w, &b->nodes[i].addr);
		}
		break;
	case DHT_MSG_VALUE:
	case DHT_MSG_STORE:
		dht__put_bytes(&w, b->token, DHT_TOKEN_LEN);
		dht__put_record(&w, b->record);
		break;
	case DHT_MSG_STORE_ACK:
		dht__put_u8(&w, b->status);
		break;
	}
	if (w.err)
		abort();
	*len = w.pos;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[DHT_BODY_MAX];
	struct dht_record rec;
	struct dht_body body;
	struct dht_msg_hdr h;
	size_t len = 0;
	unsigned type;

	if (size < 1)
		return 0;
	(void)dht__inner_parse(data, size, &h);
	type = data[0];
	memset(&body, 0, sizeof body);
	body.record = &rec;
	if (dht__body_parse(type, data + 1, size - 1, &body) != 0)
		return 0;
	if (type == 0 || type > DHT_MSG_MAX || body.num_nodes > DHT_K)
		abort();
	if (type == DHT_MSG_VALUE || type == DHT_MSG_STORE) {
		if (rec.value_len > DHT_VALUE_MAX ||
		    rec.salt_len > DHT_SALT_MAX)
			abort();
		(void)dht_record_verify(&rec);
	}
	reencode(type, &body, out, &len);
	if (len != size - 1 || memcmp(out, data + 1, len) != 0)
		abort();
	return 0;
}
