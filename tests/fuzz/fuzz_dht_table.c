/* Fuzz target: the saved routing table (dht_table_load).  Invariants: a
 * rejected table loads nothing; an accepted one accepts at most its entries
 * (duplicates and subnet-limited ones are accepted but not added twice),
 * and saving it again produces a table that loads to the same contacts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/box.h"
#include "crypto/cx.h"
#include "dht/dht.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void frng(void *self, uint8_t *buf, size_t len)
{
	(void)self;
	memset(buf, 7, len);
}

static int fsend(void *self, const struct dht_addr *to, const uint8_t *pkt,
		 size_t len)
{
	(void)self;
	(void)to;
	(void)pkt;
	(void)len;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t pk[32], sk[32], buf[65536];
	static struct rng r = {frng, NULL};
	struct dht_config c = {0};
	struct dht_status st;
	struct dht *d = NULL;
	size_t len;
	int n;

	if (pk[0] == 0) {
		uint8_t seed[32] = {9};

		if (cx_init() < 0)
			abort();
		cx_box_keypair_seed(pk, sk, seed);
	}
	c.node_pk = pk;
	c.node_sk = sk;
	c.rng = &r;
	c.io.send = fsend;
	if (dht_new(&d, &c) < 0)
		abort();
	n = dht_table_load(d, 1800000000000ull, data, size);
	dht_status(d, &st);
	if (n < 0 && st.contacts != 0)
		abort();
	if (n >= 0) {
		if ((size_t)n >
			    (size - DHT_TABLE_HDR_LEN) / DHT_TABLE_ENTRY_LEN ||
		    st.contacts > (unsigned)n)
			abort();
		if (dht_table_save(d, buf, sizeof buf, &len) != 0)
			abort();
		dht_free(d);
		if (dht_new(&d, &c) < 0)
			abort();
		if (dht_table_load(d, 1800000000000ull, buf, len) !=
		    (int)st.contacts)
			abort();
	}
	dht_free(d);
	return 0;
}
