/* Fuzz target: link_recv(), the whole receive path of the link layer.
 *
 * A manager B holds one established link with A (set up once through a
 * real Noise XK handshake).  Input: mode(1) || rest.
 *   mode % 4 == 0: rest is a raw datagram to B (every class parser);
 *   mode % 4 == 1: rest is a payload that A sends properly; B must accept
 *                  it and hand exactly those bytes to message_cb;
 *   mode % 4 == 2: a valid packet from A is XORed with rest; B must accept
 *                  it iff nothing changed (authentication of header and
 *                  body);
 *   mode % 4 == 3: rest is a raw datagram from an address taken from the
 *                  mode byte (roaming and rate limits);
 *   mode & 0x80:   handshakes instead: C makes a real INIT (XINIT, XX,
 *                  when mode & 0x20) for D (a
 *                  responder-only manager whose clock jumps 11 s per input,
 *                  so slots and buckets free up), rest is XORed into it,
 *                  with mac1 recomputed when mode & 0x40; an INIT changed
 *                  in its MACed bytes without a new mac1 must be refused, a
 *                  changed Noise message must fail authentication, an
 *                  accepted one is carried on through RESP and FINAL, and
 *                  an unchanged one must end in an established link.
 * Invariants: no crash; every packet sent fits LINK_PKT_MAX and is a link
 * class; every drop is counted; the link to A stays established. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/cx.h"
#include "crypto/kdf.h"
#include "crypto/prim.h"
#include "node/link.h"
#include "node/link_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW 5000000ull
#define QMAX 16

struct side {
	struct link_mgr *m;
	uint8_t sk[32], pk[32];
	struct dht_addr addr;
	uint64_t rs;
	struct rng rng;
};

static struct side A, B, C, D;
static uint64_t d_now = NOW;
static struct {
	int to; /* 0 = A, 1 = B */
	struct dht_addr from;
	size_t len;
	uint8_t d[LINK_PKT_MAX];
} q[QMAX];
static unsigned qn;
static const uint8_t *want;
static size_t want_len;
static unsigned got_msgs;

static void frng(void *self, uint8_t *buf, size_t len)
{
	uint64_t *s = self;

	for (size_t i = 0; i < len; i++) {
		*s = *s * 6364136223846793005ull + 1442695040888963407ull;
		buf[i] = (uint8_t)(*s >> 56);
	}
}

static int fsend(void *self, const struct dht_addr *to, const uint8_t *pkt,
		 size_t len)
{
	struct side *s = self;

	if (len == 0 || len > LINK_PKT_MAX || !link_is_packet(pkt, len))
		abort();
	(void)to;
	if (qn < QMAX) {
		q[qn].to = s == &A ? 1 : s == &B ? 0 : s == &C ? 2 : 3;
		q[qn].from = s->addr;
		q[qn].len = len;
		memcpy(q[qn].d, pkt, len);
		qn++;
	}
	return 0;
}

static void on_msg(void *arg, const uint8_t pk[LINK_PK_LEN],
		   const uint8_t *data, size_t len)
{
	(void)arg;
	(void)pk;
	if (want != NULL && (len != want_len || memcmp(data, want, len) != 0))
		abort();
	got_msgs++;
}

static void side_init(struct side *s, uint8_t host)
{
	struct link_config cfg = {0};

	s->rs = host;
	s->rng.fill = frng;
	s->rng.self = &s->rs;
	rng_fill(&s->rng, s->sk, 32);
	cx_x25519_public(s->pk, s->sk);
	s->addr.family = DHT_FAMILY_IPV4;
	s->addr.ip[0] = 127;
	s->addr.ip[3] = host;
	s->addr.port = 4000;
	cfg.node_sk = s->sk;
	cfg.rng = &s->rng;
	cfg.io.send = fsend;
	cfg.io.self = s;
	cfg.cb.message_cb = on_msg;
	if (link_mgr_new(&s->m, &cfg) != 0)
		abort();
}

static struct side *side_of(int to)
{
	return to == 0 ? &A : to == 1 ? &B : to == 2 ? &D : &C;
}

static void pump_at(uint64_t now)
{
	while (qn > 0) {
		unsigned i = --qn;

		link_recv(side_of(q[i].to)->m, now, &q[i].from, q[i].d,
			  q[i].len);
	}
}

static void pump(void)
{
	pump_at(NOW);
}

static void setup(void)
{
	struct link_status st;

	if (cx_init() != 0)
		abort();
	side_init(&A, 1);
	side_init(&B, 2);
	if (link_connect(A.m, NOW, B.pk, &B.addr) != 0)
		abort();
	for (int i = 0; i < 4; i++)
		pump();
	link_status(B.m, &st);
	if (st.established != 1)
		abort();
	side_init(&C, 3);
	side_init(&D, 4);
}

/* Mode 0x80: a handshake from C to D with data XORed into the INIT. */
static void handshake(const uint8_t *data, size_t size)
{
	uint8_t init[LINK_INIT_LEN], key[32], in[40], full[64];
	bool macced = false, noise = false, remac = data[0] & 0x40;
	bool xx = data[0] & 0x20, changed = false;
	struct link_status st;
	size_t len, off;
	int r;

	d_now += 11000;
	qn = 0;
	r = xx ? link_connect_addr(C.m, d_now, &D.addr)
	       : link_connect(C.m, d_now, D.pk, &D.addr);
	len = xx ? LINK_XINIT_LEN : LINK_INIT_LEN;
	if (r != 0 || qn != 1 || q[0].len != len)
		abort();
	off = len - 2 * LINK_MAC_LEN;
	memcpy(init, q[0].d, len);
	qn = 0;
	for (size_t i = 0; i + 1 < size && i < len; i++) {
		init[i] ^= data[i + 1];
		changed |= data[i + 1] != 0;
		if (data[i + 1] != 0 && i < off + LINK_MAC_LEN)
			macced = true;
		if (data[i + 1] != 0 && i >= 8 && i < off)
			noise = true;
	}
	if (remac) {
		memcpy(in, "mac1----", 8);
		if (xx)
			memset(in + 8, 0, 32);
		else
			memcpy(in + 8, D.pk, 32);
		cx_hash(key, in, sizeof in);
		cx_hmac_blake2b(full, key, 32, init, off);
		memcpy(init + off, full, LINK_MAC_LEN);
	}
	r = link_recv(D.m, d_now, &C.addr, init, len);
	if (macced && !remac && r == 0)
		abort();
	/* XK message 1 is authenticated (es); XX message 1 is not, a
	 * changed e only fails at the initiator, on message 2. */
	if (remac && noise && r == 0 && !xx)
		abort();
	if (r == 0) {
		/* RESP to C (it must accept unless the index or e was
		 * changed), FINAL to D, confirmation to C. */
		for (int i = 0; i < 3 && qn > 0; i++)
			pump_at(d_now);
		link_status(D.m, &st);
		if (st.handshakes_in > 1)
			abort();
		if (!changed && st.established != 1)
			abort();
		if (noise && st.established != 0)
			abort();
	} else if (!changed) {
		abort();
	}
	/* Start C afresh: an unanswered anonymous link cannot be closed by
	 * key. */
	link_mgr_free(C.m);
	side_init(&C, 3);
	link_close(D.m, C.pk);
	qn = 0;
}

/* A sends payload; returns the packet as captured (not delivered). */
static size_t a_packet(const uint8_t *payload, size_t len, uint8_t *out)
{
	qn = 0;
	if (link_send(A.m, NOW, B.pk, payload, len) != 0 || qn != 1)
		abort();
	memcpy(out, q[0].d, q[0].len);
	len = q[0].len;
	qn = 0;
	return len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool inited;
	static uint8_t pkt[LINK_PKT_MAX];
	struct link_status before, after;
	struct dht_addr from;
	uint64_t drops_before = 0, drops_after = 0;
	unsigned msgs;
	size_t len;
	int r = 0;

	if (!inited) {
		setup();
		inited = true;
	}
	if (size < 1)
		return 0;
	if (data[0] & 0x80) {
		handshake(data, size);
		return 0;
	}
	link_status(B.m, &before);
	msgs = got_msgs;
	qn = 0;
	switch (data[0] % 4) {
	case 0:
		r = link_recv(B.m, NOW, &A.addr, data + 1, size - 1);
		break;
	case 1:
		if (size - 1 > LINK_PAYLOAD_MAX)
			return 0;
		len = a_packet(data + 1, size - 1, pkt);
		want = data + 1;
		want_len = size - 1;
		r = link_recv(B.m, NOW, &A.addr, pkt, len);
		want = NULL;
		if (r != 0 || got_msgs != msgs + (size > 1))
			abort();
		break;
	case 2: {
		bool changed = false;

		len = a_packet((const uint8_t *)"x", 1, pkt);
		for (size_t i = 0; i + 1 < size && i < len; i++) {
			pkt[i] ^= data[i + 1];
			changed |= data[i + 1] != 0;
		}
		r = link_recv(B.m, NOW, &A.addr, pkt, len);
		if ((r == 0) == changed)
			abort();
		if (changed && got_msgs != msgs)
			abort();
		break;
	}
	case 3:
		from = A.addr;
		from.ip[3] = (uint8_t)(data[0] >> 2);
		from.port = (uint16_t)(1 + data[0]);
		r = link_recv(B.m, NOW, &from, data + 1, size - 1);
		break;
	}
	link_status(B.m, &after);
	for (unsigned i = 0; i < LINK_DROP_MAX_; i++) {
		drops_before += before.drop[i];
		drops_after += after.drop[i];
	}
	if ((r < 0) != (drops_after == drops_before + 1))
		abort();
	if (after.established != 1 || after.pkts_in != before.pkts_in + 1)
		abort();
	qn = 0;
	return 0;
}
