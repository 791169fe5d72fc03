/* Fuzz target: dht_recv(), the whole receive path of a node.
 *
 * Input: mode(1) || rest.  Mode bit 0 clear: rest is fed as a raw datagram
 * (outer parsing, key exchange, crypto failure paths).  Set: rest is a
 * plaintext (type, flags, txid, time, body) that the harness seals with a
 * real peer key, so every message parser behind the authentication is
 * reached.  Bit 1 starts a lookup first, so replies can match.
 *
 * Invariants: no crash; every packet the node sends fits DHT_PKT_MAX;
 * every received packet is counted; nothing stays pending without a
 * deadline. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/box.h"
#include "crypto/cx.h"
#include "dht/dht.h"
#include "dht/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW 1800000000000ull

static uint64_t rng_state;
static uint8_t last_sent[DHT_PKT_MAX];
static size_t last_len;

static void frng(void *self, uint8_t *buf, size_t len)
{
	(void)self;
	for (size_t i = 0; i < len; i++) {
		rng_state = rng_state * 6364136223846793005ull +
			    1442695040888963407ull;
		buf[i] = (uint8_t)(rng_state >> 56);
	}
}

static int fsend(void *self, const struct dht_addr *to, const uint8_t *pkt,
		 size_t len)
{
	(void)self;
	(void)to;
	if (len > DHT_PKT_MAX || len == 0)
		abort();
	memcpy(last_sent, pkt, len);
	last_len = len;
	return 0;
}

static void done_cb(void *arg, const struct dht_result *res)
{
	(void)arg;
	if (res->num_closest > DHT_K)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool inited;
	static uint8_t npk[32], nsk[32], ppk[32], psk[32], k[32];
	static struct rng r = {frng, NULL};
	struct dht_config c = {0};
	struct dht_addr from = {
		.family = DHT_FAMILY_IPV4, .ip = {10, 0, 0, 2}, .port = 4000};
	struct dht *d = NULL;
	struct dht_status st;
	uint8_t pkt[DHT_PKT_MAX + 64];
	size_t len;

	if (!inited) {
		uint8_t seed[32] = {1};

		if (cx_init() < 0)
			abort();
		cx_box_keypair_seed(npk, nsk, seed);
		seed[0] = 2;
		cx_box_keypair_seed(ppk, psk, seed);
		if (cx_box_shared(k, npk, psk) < 0)
			abort();
		inited = true;
	}
	if (size < 1)
		return 0;
	rng_state = 42;
	c.node_pk = npk;
	c.node_sk = nsk;
	c.rng = &r;
	c.io.send = fsend;
	if (dht_new(&d, &c) < 0)
		abort();
	dht_add_contact(d, NOW, ppk, &from);
	if (data[0] & 2) {
		uint8_t target[32];

		cx_hash(target, ppk, 32);
		target[31] ^= 1;
		dht_find_node(d, NOW, target,
			      data[0] & 4 ? DHT_LOOKUP_DISJOINT : 0,
			      (struct dht_lookup_cb){done_cb, NULL});
	}
	if (data[0] & 1) {
		size_t plen = size - 1;

		if (plen > DHT_PLAIN_MAX + 16)
			plen = DHT_PLAIN_MAX + 16;
		pkt[0] = DHT_CLASS_SEALED;
		memcpy(pkt + 1, ppk, 32);
		memset(pkt + 33, 0x5a, CX_BOX_NONCE_LEN);
		if (plen >= 18 && (data[0] & 2) && last_len > 0 &&
		    data[1] > DHT_MSG_PING) {
			/* Make it a reply to the lookup's request: copy its
			 * txid (the harness can open it with the key). */
			uint8_t plain[DHT_PLAIN_MAX], tmp[DHT_PLAIN_MAX + 16];

			memcpy(tmp, data + 1, plen);
			if (last_len > DHT_SEALED_MIN &&
			    cx_box_open(plain, last_sent + DHT_OUTER_LEN,
					last_len - DHT_OUTER_LEN,
					last_sent + 33, k) == 0)
				memcpy(tmp + 2, plain + 2, 8);
			cx_box_seal(pkt + DHT_OUTER_LEN, tmp, plen, pkt + 33,
				    k);
		} else {
			cx_box_seal(pkt + DHT_OUTER_LEN, data + 1, plen,
				    pkt + 33, k);
		}
		len = DHT_OUTER_LEN + CX_BOX_MAC_LEN + plen;
		dht_recv(d, NOW, &from, pkt, len);
	} else {
		dht_recv(d, NOW, &from, data + 1, size - 1);
	}
	dht_status(d, &st);
	if (st.pkts_in != 1)
		abort();
	if (dht_tick(d, NOW + 1) <= NOW)
		abort();
	dht_tick(d, NOW + 10000);
	dht_status(d, &st);
	if (st.pending > 0 && dht_next_deadline(d) == UINT64_MAX)
		abort();
	dht_free(d);
	last_len = 0;
	return 0;
}
