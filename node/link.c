/* Link manager: authenticated, encrypted datagram links between nodes
 * (DESIGN.md section 5), sans-I/O.  Noise XK when the peer's node key is
 * known (link_connect), XX when only its address is (link_connect_addr;
 * such an "anonymous" link gets its key from XX message 2).
 *
 * A link is the state we keep for one peer node key: its address, up to
 * three transport sessions and at most one handshake that we initiated.
 *   cur   the session we send on;
 *   prev  the session cur replaced, kept for receiving only, so packets in
 *         flight during a rekey still decrypt (WireGuard paper section 6.3:
 *         the previous keypair);
 *   next  a session we initiated whose handshake finished on our side but
 *         that the responder has not confirmed yet (the "next" keypair);
 *         it becomes cur when the first authenticated packet arrives on it.
 * Handshakes we answer live in a separate, bounded table of responder
 * slots, because Noise XK reveals the initiator's identity only in its
 * third message: until then we cannot know which link they belong to.
 *
 * Ownership: the manager owns every link, slot, Noise object and key; it
 * allocates them all in link_mgr_new() (tables of fixed size) except the
 * Noise objects, which crypto/noise.c allocates and we free.  Secrets that
 * are ours (node key, cookie secret) live in cx_secret_alloc() memory.
 *
 * Denial of service (WireGuard paper section 5.3, adapted to XK):
 *  - every INIT carries mac1, keyed with a hash of the responder's public
 *    key, checked before any Diffie-Hellman; only someone who knows our key
 *    (from the DHT) makes us work;
 *  - handshake packets are rate limited per source address with token
 *    buckets (jech/dht style), before mac1;
 *  - responder state is created only for an INIT whose Noise message 1
 *    authenticates ("es": it was made for our static key); that is as far
 *    as XK allows, since the initiator's static key comes in message 3.
 *    The slots are bounded; when more than half are busy, an INIT must
 *    carry mac2 made with a cookie bound to its source address, otherwise
 *    we answer with an encrypted COOKIE packet and keep no state, so a
 *    flood from spoofed addresses cannot fill the table.  A fully stateless
 *    responder (re-deriving message 2 from message 1 echoed in message 3)
 *    was considered and rejected: it turns message 3 into a replayable
 *    full handshake unless we remember every accepted one.
 *
 * Simultaneous open: both sides initiate; each answers the other's INIT as
 * usual.  When a FINAL completes a responder handshake while we still have
 * our own initiation in flight to the same key, the side with the lower
 * public key (memcmp) keeps its own initiation and drops the other's; the
 * higher side accepts it and abandons its own.  Both end on the session
 * initiated by the lower key. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/cx.h"
#include "crypto/kdf.h"
#include "crypto/noise.h"
#include "crypto/prim.h"
#include "node/link.h"
#include "node/link_wire.h"

struct replay {
	uint64_t next; /* highest accepted counter + 1; 0 = none yet */
	uint64_t bm[LINK_REPLAY_WORDS];
};

struct session {
	bool used;
	bool initiator;
	struct cx_noise_cs *tx, *rx;
	uint32_t local_idx, remote_idx;
	uint64_t send_ctr;
	uint64_t created_ms;
	struct replay rw;
};

enum hs_phase {
	HS_NONE,
	HS_WAIT_RESP,	 /* INIT sent, hs holds the initiator state */
	HS_WAIT_CONFIRM, /* FINAL sent, next holds the session */
};

struct link {
	bool used;
	uint8_t pk[LINK_PK_LEN];
	struct dht_addr addr;
	struct session cur, prev, next;
	enum hs_phase phase;
	struct cx_noise_hs *hs; /* NULL in WAIT_RESP after a forged RESP */
	uint32_t hs_idx;
	bool anon; /* XX to an address: pk unknown (zero) until XRESP */
	uint8_t hs_pkt[LINK_INIT_LEN]; /* (X)INIT or FINAL, for retransmits */
	size_t hs_pkt_len;
	uint64_t hs_started_ms, hs_next_ms;
	unsigned hs_tries;
	uint8_t cookie[LINK_COOKIE_LEN];
	uint64_t cookie_ms;
	bool have_cookie;
	uint64_t last_recv_ms, last_sent_ms, last_data_recv_ms;
	uint64_t unanswered_ms; /* first data sent since the last receipt */
};

struct resp_slot {
	bool used;
	struct cx_noise_hs *hs;
	uint32_t local_idx, remote_idx;
	struct dht_addr from;
	uint64_t created_ms;
	uint8_t init_mac1[LINK_MAC_LEN];
	uint8_t resp_pkt[LINK_RESP_MAX];
	size_t resp_len;
};

struct bucket {
	uint64_t last_ms;
	uint64_t milli; /* thousandths of a token */
};

struct link_secrets {
	uint8_t sk[CX_X_SK_LEN];
	uint8_t cookie_secret[CX_KEY_LEN];
	uint8_t bucket_key[CX_KEY_LEN];
};

struct link_mgr {
	const struct rng *rng;
	struct dht_io io;
	struct link_callbacks cb;
	struct link_limits lim;
	uint8_t pk[LINK_PK_LEN];
	uint8_t mac1_key[CX_HASH_LEN];	    /* H("mac1----" || our pk) */
	uint8_t cookie_key[CX_HASH_LEN];    /* H("cookie--" || our pk) */
	uint8_t mac1_key_xx[CX_HASH_LEN];   /* H("mac1----" || zero) */
	uint8_t cookie_key_xx[CX_HASH_LEN]; /* H("cookie--" || zero) */
	struct link_secrets *sec;
	uint64_t cookie_rotated_ms;
	bool cookie_set;
	uint64_t last_now_ms; /* time never goes back in here */
	struct link *links;
	struct resp_slot *slots;
	struct bucket buckets[LINK_RATE_BUCKETS];
	struct link_status st;
};

/* ---- small helpers ---------------------------------------------------- */

/* Handshake payloads are empty.  Passed as a real pointer: crypto/noise.c
 * copies a payload with memmove even when its length is 0 (XX message 1
 * has no key yet), and a NULL there is undefined behaviour. */
static const uint8_t no_payload[1];

static bool addr_valid(const struct dht_addr *a)
{
	return a != NULL && a->port != 0 &&
	       (a->family == DHT_FAMILY_IPV4 || a->family == DHT_FAMILY_IPV6);
}

static bool addr_equal(const struct dht_addr *a, const struct dht_addr *b)
{
	size_t n = a->family == DHT_FAMILY_IPV4 ? 4 : 16;

	return a->family == b->family && a->port == b->port &&
	       memcmp(a->ip, b->ip, n) == 0;
}

/* family(1) ip(16) port(2): the bytes cookies and buckets are keyed on. */
static void addr_bytes(uint8_t out[19], const struct dht_addr *a)
{
	memset(out, 0, 19);
	out[0] = a->family;
	memcpy(out + 1, a->ip, a->family == DHT_FAMILY_IPV4 ? 4 : 16);
	out[17] = (uint8_t)(a->port >> 8);
	out[18] = (uint8_t)a->port;
}

static bool is_init(uint8_t cls)
{
	return cls == LINK_CLASS_INIT || cls == LINK_CLASS_XINIT;
}

/* Offset of mac1 in an INIT or XINIT; mac2 follows, then the end. */
static size_t mac1_off(uint8_t cls)
{
	return cls == LINK_CLASS_XINIT ? 8 + LINK_XX_MSG1_LEN
				       : LINK_INIT_MAC1_OFF;
}

/* H(label8 || pk), the mac1 and cookie keys of WireGuard section 5.4.4. */
static void label_key(uint8_t out[static CX_HASH_LEN], const char *label8,
		      const uint8_t pk[static LINK_PK_LEN])
{
	uint8_t in[8 + LINK_PK_LEN];

	memcpy(in, label8, 8);
	memcpy(in + 8, pk, LINK_PK_LEN);
	cx_hash(out, in, sizeof in);
}

/* First 16 bytes of HMAC-BLAKE2b(key, msg). */
static void mac16(uint8_t out[static LINK_MAC_LEN], const uint8_t *key,
		  size_t key_len, const uint8_t *msg, size_t len)
{
	uint8_t full[CX_BLAKE2B_LEN];

	cx_hmac_blake2b(full, key, key_len, msg, len);
	memcpy(out, full, LINK_MAC_LEN);
	cx_wipe(full, sizeof full);
}

static uint64_t rand_below(struct link_mgr *m, uint64_t n)
{
	uint8_t b[4];

	rng_fill(m->rng, b, sizeof b);
	return n == 0 ? 0 : link__get_u32(b) % n;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* Every timer is "now - then >= limit" on unsigned values: a clock that
 * stepped back would make that huge and expire everything, so now_ms is
 * clamped to the latest value seen (the caller should pass a monotonic
 * clock anyway). */
static uint64_t mono(struct link_mgr *m, uint64_t now_ms)
{
	if (now_ms < m->last_now_ms)
		return m->last_now_ms;
	m->last_now_ms = now_ms;
	return now_ms;
}

static int pkt_send(struct link_mgr *m, const struct dht_addr *to,
		    const uint8_t *pkt, size_t len)
{
	int r;

	m->st.pkts_out++;
	m->st.bytes_out += len;
	r = m->io.send(m->io.self, to, pkt, len);
	if (r < 0)
		m->st.send_errors++;
	return r;
}

static int drop(struct link_mgr *m, enum link_drop why, int err)
{
	m->st.drop[why]++;
	return err;
}

/* ---- replay window (RFC 6479 section 2, WireGuard section 5.4.6) -----
 * A ring of 64-bit words; bit c % 64 of word (c / 64) % WORDS says counter
 * c was seen.  Moving the top forward clears the words it passes, so the
 * window costs no shifting.  Only the last (WORDS - 1) * 64 counters are
 * judged; anything older is refused. */

static bool replay_ok(const struct replay *rw, uint64_t c)
{
	if (c >= LINK_REJECT_AFTER_MESSAGES)
		return false;
	if (c >= rw->next)
		return true;
	if (rw->next - c > LINK_REPLAY_WINDOW)
		return false;
	return !(rw->bm[(c / 64) % LINK_REPLAY_WORDS] >> (c % 64) & 1);
}

/* Marks c seen; call only after replay_ok(c) and authentication. */
static void replay_mark(struct replay *rw, uint64_t c)
{
	if (c >= rw->next) {
		uint64_t top = c / 64;

		if (rw->next > 0) {
			uint64_t cur = (rw->next - 1) / 64;
			uint64_t diff = top - cur;

			if (diff > LINK_REPLAY_WORDS)
				diff = LINK_REPLAY_WORDS;
			for (uint64_t i = 1; i <= diff; i++)
				rw->bm[(cur + i) % LINK_REPLAY_WORDS] = 0;
		}
		rw->next = c + 1;
	}
	rw->bm[(c / 64) % LINK_REPLAY_WORDS] |= 1ull << (c % 64);
}

/* ---- sessions --------------------------------------------------------- */

static void session_clear(struct session *s)
{
	cx_noise_cs_free(s->tx);
	cx_noise_cs_free(s->rx);
	memset(s, 0, sizeof *s);
}

static void link_wipe(struct link *l)
{
	session_clear(&l->cur);
	session_clear(&l->prev);
	session_clear(&l->next);
	cx_noise_hs_free(l->hs);
	cx_wipe(l, sizeof *l);
}

static bool idx_taken(const struct link_mgr *m, uint32_t idx)
{
	for (unsigned i = 0; i < m->lim.links_max; i++) {
		const struct link *l = &m->links[i];

		if (!l->used)
			continue;
		if ((l->phase != HS_NONE && l->hs_idx == idx) ||
		    (l->cur.used && l->cur.local_idx == idx) ||
		    (l->prev.used && l->prev.local_idx == idx) ||
		    (l->next.used && l->next.local_idx == idx))
			return true;
	}
	for (unsigned i = 0; i < m->lim.handshakes_max; i++)
		if (m->slots[i].used && m->slots[i].local_idx == idx)
			return true;
	return false;
}

/* A fresh, unused, non-zero receiver index (random, so an off-path
 * attacker cannot guess it; WireGuard section 5.4.2). */
static uint32_t idx_new(struct link_mgr *m)
{
	uint8_t b[4];
	uint32_t idx;

	do {
		rng_fill(m->rng, b, sizeof b);
		idx = link__get_u32(b);
	} while (idx == 0 || idx_taken(m, idx));
	return idx;
}

/* FIXME: linear in links_max (64 by default); a hash of receiver indexes
 * when links_max grows into the thousands. */
static struct session *session_find(struct link_mgr *m, uint32_t idx,
				    struct link **lp)
{
	for (unsigned i = 0; i < m->lim.links_max; i++) {
		struct link *l = &m->links[i];

		if (!l->used)
			continue;
		*lp = l;
		if (l->cur.used && l->cur.local_idx == idx)
			return &l->cur;
		if (l->next.used && l->next.local_idx == idx)
			return &l->next;
		if (l->prev.used && l->prev.local_idx == idx)
			return &l->prev;
	}
	*lp = NULL;
	return NULL;
}

/* Noise section 5.2 Split(): the initiator sends with the first key.  The
 * hs object is consumed either way. */
static int session_from_hs(struct session *s, struct cx_noise_hs *hs,
			   bool initiator, uint32_t local_idx,
			   uint32_t remote_idx, uint64_t now_ms)
{
	struct session n = {0};
	int r;

	if ((r = cx_noise_hs_split(hs, &n.tx, &n.rx)) < 0)
		return r;
	n.used = true;
	n.initiator = initiator;
	n.local_idx = local_idx;
	n.remote_idx = remote_idx;
	n.created_ms = now_ms;
	session_clear(s);
	*s = n;
	return 0;
}

static bool session_usable(const struct session *s, uint64_t now_ms)
{
	return s->used && now_ms - s->created_ms < LINK_REJECT_AFTER_TIME_MS &&
	       s->send_ctr < LINK_REJECT_AFTER_MESSAGES;
}

/* DATA: class, zero(3), receiver index, counter; the header is the AEAD's
 * associated data and the counter its nonce.  Noise section 11.4 (out of
 * order transport messages) has a lossy transport send the nonce with
 * each message and the receiver track seen nonces itself: the counter
 * field and the replay window above. */
static int session_send(struct link_mgr *m, struct link *l, struct session *s,
			uint64_t now_ms, const uint8_t *data, size_t len)
{
	uint8_t pkt[LINK_PKT_MAX];
	size_t n = 0;
	int r;

	memset(pkt, 0, LINK_DATA_HDR_LEN);
	pkt[0] = LINK_CLASS_DATA;
	link__put_u32(pkt + 4, s->remote_idx);
	link__put_u64(pkt + 8, s->send_ctr);
	r = cx_noise_cs_encrypt_n(s->tx, s->send_ctr, pkt, LINK_DATA_HDR_LEN,
				  data, len, pkt + LINK_DATA_HDR_LEN,
				  sizeof pkt - LINK_DATA_HDR_LEN, &n);
	if (r < 0)
		return r;
	s->send_ctr++;
	l->last_sent_ms = now_ms;
	if (len > 0 && l->unanswered_ms == 0)
		l->unanswered_ms = now_ms;
	if (len > 0)
		m->st.data_out++;
	else
		m->st.keepalives_out++;
	return pkt_send(m, &l->addr, pkt, LINK_DATA_HDR_LEN + n);
}

/* ---- rate limit ------------------------------------------------------- */

/* Token bucket of the source address: hs_rate per second, hs_burst deep.
 * Buckets are shared by addresses that hash alike (keyed hash, so an
 * attacker cannot aim at someone else's bucket on purpose).
 * FIXME: one table for all; a busy NAT shares a bucket. */
static bool rate_ok(struct link_mgr *m, uint64_t now_ms,
		    const struct dht_addr *from)
{
	uint8_t ab[19], h[CX_BLAKE2B_LEN];
	struct bucket *b;
	uint64_t cap = (uint64_t)m->lim.hs_burst * 1000;

	addr_bytes(ab, from);
	cx_hmac_blake2b(h, m->sec->bucket_key, CX_KEY_LEN, ab, sizeof ab);
	b = &m->buckets[(h[0] | (unsigned)h[1] << 8) % LINK_RATE_BUCKETS];
	if (b->last_ms == 0 && b->milli == 0)
		b->milli = cap;
	else if (now_ms > b->last_ms)
		b->milli = min_u64(cap, b->milli + (now_ms - b->last_ms) *
							   m->lim.hs_rate);
	b->last_ms = now_ms;
	if (b->milli < 1000)
		return false;
	b->milli -= 1000;
	return true;
}

/* ---- cookies (WireGuard section 5.4.7) -------------------------------- */

static void cookie_secret_update(struct link_mgr *m, uint64_t now_ms)
{
	if (m->cookie_set &&
	    now_ms - m->cookie_rotated_ms < LINK_COOKIE_SECRET_MS)
		return;
	rng_fill(m->rng, m->sec->cookie_secret, CX_KEY_LEN);
	m->cookie_rotated_ms = now_ms;
	m->cookie_set = true;
}

static void cookie_for(struct link_mgr *m, uint64_t now_ms,
		       const struct dht_addr *from,
		       uint8_t out[static LINK_COOKIE_LEN])
{
	uint8_t ab[19];

	cookie_secret_update(m, now_ms);
	addr_bytes(ab, from);
	mac16(out, m->sec->cookie_secret, CX_KEY_LEN, ab, sizeof ab);
}

static void cookie_reply(struct link_mgr *m, uint64_t now_ms,
			 const struct dht_addr *from, const uint8_t *init)
{
	uint8_t pkt[LINK_COOKIE_PKT_LEN], cookie[LINK_COOKIE_LEN];

	memset(pkt, 0, 8);
	pkt[0] = LINK_CLASS_COOKIE;
	memcpy(pkt + 4, init + 4, 4); /* the INIT's sender index */
	rng_fill(m->rng, pkt + 8, LINK_COOKIE_NONCE_LEN);
	size_t off = mac1_off(init[0]);

	cookie_for(m, now_ms, from, cookie);
	/* WireGuard section 5.4.7: the cookie is sealed with XAEAD under a
	 * hash of a label and the responder's public key, with a random
	 * nonce and the mac1 of the message it answers as associated data,
	 * so only the sender of that INIT can use it. */
	if (cx_xchacha_seal(pkt + 8 + LINK_COOKIE_NONCE_LEN,
			    LINK_COOKIE_LEN + LINK_TAG_LEN, cookie,
			    LINK_COOKIE_LEN, init + off, LINK_MAC_LEN, pkt + 8,
			    init[0] == LINK_CLASS_XINIT ? m->cookie_key_xx
							: m->cookie_key) == 0) {
		m->st.cookies_out++;
		pkt_send(m, from, pkt, sizeof pkt);
	}
	cx_wipe(cookie, sizeof cookie);
}

/* ---- our initiation --------------------------------------------------- */

static uint64_t retry_delay(struct link_mgr *m, unsigned tries)
{
	uint64_t d = LINK_HS_RETRY_FIRST_MS << (tries < 5 ? tries : 5);

	return min_u64(d, LINK_HS_RETRY_MAX_MS) +
	       rand_below(m, LINK_HS_JITTER_MS);
}

/* Noise XK message 1, "-> e, es" (Noise section 7.5), framed as INIT. */
static int init_build(struct link_mgr *m, struct link *l)
{
	struct cx_noise_keys keys = {.s = m->sec->sk,
				     .rs = l->anon ? NULL : l->pk};
	size_t msg_len = l->anon ? LINK_XX_MSG1_LEN : LINK_NOISE_MSG1_LEN;
	size_t n = 0;
	int r;

	cx_noise_hs_free(l->hs);
	l->hs = NULL;
	r = cx_noise_hs_new(&l->hs,
			    l->anon ? LINK_NOISE_NAME_XX : LINK_NOISE_NAME,
			    CX_NOISE_INITIATOR, (const uint8_t *)LINK_PROLOGUE,
			    sizeof LINK_PROLOGUE - 1, &keys, m->rng);
	if (r < 0)
		return r;
	l->hs_idx = idx_new(m);
	memset(l->hs_pkt, 0, sizeof l->hs_pkt);
	l->hs_pkt[0] = l->anon ? LINK_CLASS_XINIT : LINK_CLASS_INIT;
	link__put_u32(l->hs_pkt + 4, l->hs_idx);
	r = cx_noise_hs_write(l->hs, no_payload, 0, l->hs_pkt + 8, msg_len, &n);
	if (r < 0 || n != msg_len) {
		cx_noise_hs_free(l->hs);
		l->hs = NULL;
		return r < 0 ? r : -EINVAL;
	}
	l->hs_pkt_len = mac1_off(l->hs_pkt[0]) + 2 * LINK_MAC_LEN;
	return 0;
}

/* Sends the pending INIT or FINAL.  An INIT gets fresh macs: mac2 only
 * with a cookie younger than LINK_COOKIE_TTL_MS. */
static void hs_send(struct link_mgr *m, struct link *l, uint64_t now_ms)
{
	if (is_init(l->hs_pkt[0])) {
		size_t off = mac1_off(l->hs_pkt[0]);
		uint8_t key[CX_HASH_LEN];

		if (l->anon)
			memcpy(key, m->mac1_key_xx, sizeof key);
		else
			label_key(key, "mac1----", l->pk);
		mac16(l->hs_pkt + off, key, sizeof key, l->hs_pkt, off);
		off += LINK_MAC_LEN;
		if (l->have_cookie &&
		    now_ms - l->cookie_ms < LINK_COOKIE_TTL_MS)
			mac16(l->hs_pkt + off, l->cookie, LINK_COOKIE_LEN,
			      l->hs_pkt, off);
		else
			memset(l->hs_pkt + off, 0, LINK_MAC_LEN);
		m->st.hs_init_out++;
	} else {
		m->st.hs_final_out++;
	}
	pkt_send(m, &l->addr, l->hs_pkt, l->hs_pkt_len);
}

static void hs_transmit(struct link_mgr *m, struct link *l, uint64_t now_ms)
{
	hs_send(m, l, now_ms);
	l->hs_next_ms = now_ms + retry_delay(m, l->hs_tries);
	l->hs_tries++;
}

static int hs_begin(struct link_mgr *m, struct link *l, uint64_t now_ms)
{
	int r;

	if ((r = init_build(m, l)) < 0)
		return r;
	l->phase = HS_WAIT_RESP;
	l->hs_started_ms = now_ms;
	l->hs_tries = 0;
	hs_transmit(m, l, now_ms);
	return 0;
}

static void hs_cancel(struct link *l)
{
	cx_noise_hs_free(l->hs);
	l->hs = NULL;
	session_clear(&l->next);
	l->phase = HS_NONE;
	l->hs_idx = 0;
}

/* ---- links ------------------------------------------------------------ */

static struct link *link_find(struct link_mgr *m,
			      const uint8_t pk[static LINK_PK_LEN])
{
	for (unsigned i = 0; i < m->lim.links_max; i++)
		if (m->links[i].used && !m->links[i].anon &&
		    memcmp(m->links[i].pk, pk, LINK_PK_LEN) == 0)
			return &m->links[i];
	return NULL;
}

static struct link *link_alloc(struct link_mgr *m,
			       const uint8_t pk[static LINK_PK_LEN],
			       const struct dht_addr *addr)
{
	for (unsigned i = 0; i < m->lim.links_max; i++) {
		struct link *l = &m->links[i];

		if (l->used)
			continue;
		memset(l, 0, sizeof *l);
		l->used = true;
		memcpy(l->pk, pk, LINK_PK_LEN);
		l->addr = *addr;
		return l;
	}
	return NULL;
}

/* Removes l and tells the owner why. */
static void link_drop(struct link_mgr *m, struct link *l, int reason)
{
	uint8_t pk[LINK_PK_LEN];

	memcpy(pk, l->pk, LINK_PK_LEN);
	link_wipe(l);
	switch ((enum link_close_reason)reason) {
	case LINK_CLOSE_HANDSHAKE_TIMEOUT:
		m->st.closed_timeout++;
		break;
	case LINK_CLOSE_DEAD:
		m->st.closed_dead++;
		break;
	case LINK_CLOSE_EXPIRED:
		m->st.closed_expired++;
		break;
	case LINK_CLOSE_SELF:
		break;
	}
	if (m->cb.closed_cb != NULL)
		m->cb.closed_cb(m->cb.arg, pk, reason);
}

/* The session becomes cur; the old cur is kept as prev for packets still
 * in flight (WireGuard section 6.3). */
static void session_install(struct link *l, struct session *s)
{
	session_clear(&l->prev);
	l->prev = l->cur;
	l->cur = *s;
	memset(s, 0, sizeof *s);
}

/* ---- receive paths ---------------------------------------------------- */

static void slots_expire(struct link_mgr *m, uint64_t now_ms)
{
	for (unsigned i = 0; i < m->lim.handshakes_max; i++) {
		struct resp_slot *s = &m->slots[i];

		if (s->used &&
		    now_ms - s->created_ms >= LINK_RESP_SLOT_TTL_MS) {
			cx_noise_hs_free(s->hs);
			memset(s, 0, sizeof *s);
		}
	}
}

static unsigned slots_busy(const struct link_mgr *m)
{
	unsigned n = 0;

	for (unsigned i = 0; i < m->lim.handshakes_max; i++)
		n += m->slots[i].used;
	return n;
}

/* INIT: Noise XK message 1 to us.  Checks in order of cost: size, rate,
 * mac1, (under load) mac2, then "e, es" (one DH); answers "<- e, ee".
 * XINIT, XX message 1 "-> e", goes the same way (its mac1 proves nothing,
 * so only the rate limit and cookies protect it) and is answered with
 * "<- e, ee, s, es" (XRESP). */
static int recv_init(struct link_mgr *m, uint64_t now_ms,
		     const struct dht_addr *from, const uint8_t *pkt,
		     size_t len)
{
	uint8_t mac[LINK_MAC_LEN], cookie[LINK_COOKIE_LEN], payload[16];
	struct cx_noise_keys keys = {.s = m->sec->sk};
	struct resp_slot *slot = NULL;
	struct cx_noise_hs *hs = NULL;
	bool xx = pkt[0] == LINK_CLASS_XINIT;
	size_t off = mac1_off(pkt[0]);
	size_t msg1_len = xx ? LINK_XX_MSG1_LEN : LINK_NOISE_MSG1_LEN;
	size_t msg2_len = xx ? LINK_XX_MSG2_LEN : LINK_NOISE_MSG2_LEN;
	size_t n = 0;
	int r;

	if (len != off + 2 * LINK_MAC_LEN)
		return drop(m, LINK_DROP_MALFORMED, -EBADMSG);
	if (!rate_ok(m, now_ms, from))
		return drop(m, LINK_DROP_RATE, -EBUSY);
	mac16(mac, xx ? m->mac1_key_xx : m->mac1_key, CX_HASH_LEN, pkt, off);
	if (!cx_equal(mac, pkt + off, LINK_MAC_LEN))
		return drop(m, LINK_DROP_MAC1, -EKEYREJECTED);
	slots_expire(m, now_ms);
	/* A retransmitted INIT (our RESP was lost): same answer, no state. */
	for (unsigned i = 0; i < m->lim.handshakes_max; i++) {
		struct resp_slot *s = &m->slots[i];

		if (s->used && addr_equal(&s->from, from) &&
		    cx_equal(s->init_mac1, pkt + off, LINK_MAC_LEN)) {
			m->st.hs_resp_out++;
			pkt_send(m, from, s->resp_pkt, s->resp_len);
			return 0;
		}
	}
	if (slots_busy(m) * 2 >= m->lim.handshakes_max) {
		cookie_for(m, now_ms, from, cookie);
		mac16(mac, cookie, sizeof cookie, pkt, off + LINK_MAC_LEN);
		cx_wipe(cookie, sizeof cookie);
		if (!cx_equal(mac, pkt + off + LINK_MAC_LEN, LINK_MAC_LEN)) {
			cookie_reply(m, now_ms, from, pkt);
			return drop(m, LINK_DROP_COOKIE, -EBUSY);
		}
	}
	for (unsigned i = 0; i < m->lim.handshakes_max && slot == NULL; i++)
		if (!m->slots[i].used)
			slot = &m->slots[i];
	if (slot == NULL)
		return drop(m, LINK_DROP_FULL, -ENOSPC);
	r = cx_noise_hs_new(&hs, xx ? LINK_NOISE_NAME_XX : LINK_NOISE_NAME,
			    CX_NOISE_RESPONDER, (const uint8_t *)LINK_PROLOGUE,
			    sizeof LINK_PROLOGUE - 1, &keys, m->rng);
	if (r < 0)
		return r;
	/* "-> e, es" (XX: "-> e") */
	r = cx_noise_hs_read(hs, pkt + 8, msg1_len, payload, sizeof payload,
			     &n);
	if (r < 0) {
		cx_noise_hs_free(hs);
		return drop(m, LINK_DROP_AUTH, -EKEYREJECTED);
	}
	memset(slot, 0, sizeof *slot);
	slot->local_idx = idx_new(m);
	slot->remote_idx = link__get_u32(pkt + 4);
	slot->resp_pkt[0] = xx ? LINK_CLASS_XRESP : LINK_CLASS_RESP;
	link__put_u32(slot->resp_pkt + 4, slot->local_idx);
	link__put_u32(slot->resp_pkt + 8, slot->remote_idx);
	/* "<- e, ee" (XX: "<- e, ee, s, es") */
	r = cx_noise_hs_write(hs, no_payload, 0, slot->resp_pkt + 12, msg2_len,
			      &n);
	if (r < 0 || n != msg2_len) {
		cx_noise_hs_free(hs);
		memset(slot, 0, sizeof *slot);
		return r < 0 ? r : -EINVAL;
	}
	slot->used = true;
	slot->hs = hs;
	slot->from = *from;
	slot->created_ms = now_ms;
	slot->resp_len = 12 + msg2_len;
	memcpy(slot->init_mac1, pkt + off, LINK_MAC_LEN);
	m->st.hs_resp_out++;
	pkt_send(m, from, slot->resp_pkt, slot->resp_len);
	return 0;
}

static struct link *link_by_hs_idx(struct link_mgr *m, uint32_t idx,
				   enum hs_phase phase)
{
	for (unsigned i = 0; i < m->lim.links_max; i++) {
		struct link *l = &m->links[i];

		if (l->used && l->phase == phase && l->hs_idx == idx)
			return l;
	}
	return NULL;
}

/* RESP: "<- e, ee" to our INIT; we answer "-> s, se" (FINAL).  XRESP,
 * "<- e, ee, s, es", also tells an anonymous (XX) link whose key it is. */
static int recv_resp(struct link_mgr *m, uint64_t now_ms,
		     const struct dht_addr *from, const uint8_t *pkt,
		     size_t len)
{
	uint8_t payload[16], pk[LINK_PK_LEN];
	bool xx = pkt[0] == LINK_CLASS_XRESP;
	size_t msg2_len = xx ? LINK_XX_MSG2_LEN : LINK_NOISE_MSG2_LEN;
	struct session s = {0};
	struct link *l, *o;
	size_t n = 0;
	int r;

	if (len != 12 + msg2_len)
		return drop(m, LINK_DROP_MALFORMED, -EBADMSG);
	if (!rate_ok(m, now_ms, from))
		return drop(m, LINK_DROP_RATE, -EBUSY);
	l = link_by_hs_idx(m, link__get_u32(pkt + 8), HS_WAIT_RESP);
	if (l == NULL || l->hs == NULL || l->anon != xx)
		return drop(m, LINK_DROP_UNKNOWN, -ENOENT);
	r = cx_noise_hs_read(l->hs, pkt + 12, msg2_len, payload, sizeof payload,
			     &n);
	if (r == 0 && xx)
		r = cx_noise_hs_remote_static(l->hs, pk);
	if (r < 0) {
		/* The handshake object is dead (Noise section 5.3); the next
		 * retransmit starts over with a fresh ephemeral. */
		cx_noise_hs_free(l->hs);
		l->hs = NULL;
		return drop(m, LINK_DROP_AUTH, -EKEYREJECTED);
	}
	if (xx) {
		/* The anonymous link now has a key.  Our own, or one we are
		 * linked to already: the attempt ends here. */
		if (memcmp(pk, m->pk, LINK_PK_LEN) == 0) {
			link_drop(m, l, LINK_CLOSE_SELF);
			return drop(m, LINK_DROP_SELF, -EINVAL);
		}
		if ((o = link_find(m, pk)) != NULL) {
			/* Authenticated: where that peer is now.  Move the
			 * existing link there (with a rekey, as link_connect
			 * does for a new address). */
			link_wipe(l);
			if (!addr_equal(&o->addr, from)) {
				o->addr = *from;
				m->st.roams++;
				if (o->phase == HS_NONE)
					hs_begin(m, o, now_ms);
			}
			return drop(m, LINK_DROP_TIEBREAK, -EBUSY);
		}
		memcpy(l->pk, pk, LINK_PK_LEN);
		l->anon = false;
	}
	memset(l->hs_pkt, 0, sizeof l->hs_pkt);
	l->hs_pkt[0] = LINK_CLASS_FINAL;
	link__put_u32(l->hs_pkt + 4, link__get_u32(pkt + 4));
	r = cx_noise_hs_write(l->hs, no_payload, 0, l->hs_pkt + 8,
			      LINK_NOISE_MSG3_LEN, &n);
	if (r == 0)
		r = session_from_hs(&s, l->hs, true, l->hs_idx,
				    link__get_u32(pkt + 4), now_ms);
	cx_noise_hs_free(l->hs);
	l->hs = NULL;
	if (r < 0) {
		/* Out of memory: start over at the next retransmit (with
		 * XK, should the key be known now). */
		l->hs_pkt[0] = LINK_CLASS_INIT;
		return r;
	}
	session_clear(&l->next);
	l->next = s;
	l->hs_pkt_len = LINK_FINAL_LEN;
	l->phase = HS_WAIT_CONFIRM;
	l->hs_tries = 0;
	l->addr = *from;
	hs_transmit(m, l, now_ms);
	return 0;
}

/* COOKIE: the responder is under load; store the cookie and resend. */
static int recv_cookie(struct link_mgr *m, uint64_t now_ms,
		       const struct dht_addr *from, const uint8_t *pkt,
		       size_t len)
{
	uint8_t key[CX_HASH_LEN], cookie[LINK_COOKIE_LEN];
	struct link *l;

	if (len != LINK_COOKIE_PKT_LEN)
		return drop(m, LINK_DROP_MALFORMED, -EBADMSG);
	if (!rate_ok(m, now_ms, from))
		return drop(m, LINK_DROP_RATE, -EBUSY);
	l = link_by_hs_idx(m, link__get_u32(pkt + 4), HS_WAIT_RESP);
	if (l == NULL || !is_init(l->hs_pkt[0]))
		return drop(m, LINK_DROP_UNKNOWN, -ENOENT);
	if (l->anon)
		memcpy(key, m->cookie_key_xx, sizeof key);
	else
		label_key(key, "cookie--", l->pk);
	if (cx_xchacha_open(cookie, sizeof cookie, pkt + 32,
			    LINK_COOKIE_LEN + LINK_TAG_LEN,
			    l->hs_pkt + mac1_off(l->hs_pkt[0]), LINK_MAC_LEN,
			    pkt + 8, key) < 0)
		return drop(m, LINK_DROP_AUTH, -EKEYREJECTED);
	memcpy(l->cookie, cookie, sizeof cookie);
	cx_wipe(cookie, sizeof cookie);
	l->cookie_ms = now_ms;
	l->have_cookie = true;
	if (l->hs != NULL)
		hs_send(m, l, now_ms);
	return 0;
}

/* FINAL: "-> s, se" completes a responder handshake and reveals the
 * initiator.  Applies the simultaneous-open rule, installs the session and
 * confirms it with a keepalive. */
static int recv_final(struct link_mgr *m, uint64_t now_ms,
		      const struct dht_addr *from, const uint8_t *pkt,
		      size_t len)
{
	uint8_t payload[16], pk[LINK_PK_LEN];
	struct resp_slot *slot = NULL;
	struct session s = {0};
	struct link *l;
	uint32_t idx;
	bool fresh = false, rekey;
	size_t n = 0;
	int r;

	if (len != LINK_FINAL_LEN)
		return drop(m, LINK_DROP_MALFORMED, -EBADMSG);
	if (!rate_ok(m, now_ms, from))
		return drop(m, LINK_DROP_RATE, -EBUSY);
	slots_expire(m, now_ms);
	idx = link__get_u32(pkt + 4);
	for (unsigned i = 0; i < m->lim.handshakes_max && slot == NULL; i++)
		if (m->slots[i].used && m->slots[i].local_idx == idx)
			slot = &m->slots[i];
	if (slot == NULL) {
		/* A retransmitted FINAL: our confirming keepalive was lost. */
		for (unsigned i = 0; i < m->lim.links_max; i++) {
			l = &m->links[i];
			if (l->used && l->cur.used && !l->cur.initiator &&
			    l->cur.local_idx == idx &&
			    session_usable(&l->cur, now_ms)) {
				session_send(m, l, &l->cur, now_ms, NULL, 0);
				return 0;
			}
		}
		return drop(m, LINK_DROP_UNKNOWN, -ENOENT);
	}
	r = cx_noise_hs_read(slot->hs, pkt + 8, LINK_NOISE_MSG3_LEN, payload,
			     sizeof payload, &n);
	if (r == 0)
		r = cx_noise_hs_remote_static(slot->hs, pk);
	if (r < 0) {
		r = drop(m, LINK_DROP_AUTH, -EKEYREJECTED);
		goto out;
	}
	if (memcmp(pk, m->pk, LINK_PK_LEN) == 0) {
		r = drop(m, LINK_DROP_SELF, -EINVAL);
		goto out;
	}
	l = link_find(m, pk);
	if (l == NULL) {
		l = link_alloc(m, pk, from);
		fresh = true;
		if (l == NULL) {
			r = drop(m, LINK_DROP_FULL, -ENOSPC);
			goto out;
		}
	}
	if (l->phase != HS_NONE && memcmp(m->pk, pk, LINK_PK_LEN) < 0) {
		/* Simultaneous open, and our key is the lower: our own
		 * initiation wins.  Push it along to where the peer is. */
		l->addr = *from;
		if (!is_init(l->hs_pkt[0]) || l->hs != NULL)
			hs_send(m, l, now_ms);
		r = drop(m, LINK_DROP_TIEBREAK, -EBUSY);
		goto out;
	}
	r = session_from_hs(&s, slot->hs, false, slot->local_idx,
			    slot->remote_idx, now_ms);
	slot->hs = NULL;
	if (r < 0) {
		if (fresh)
			link_wipe(l);
		goto out;
	}
	if (l->phase != HS_NONE)
		hs_cancel(l);
	rekey = l->cur.used;
	session_install(l, &s);
	if (!addr_equal(&l->addr, from) && !fresh)
		m->st.roams++;
	l->addr = *from;
	l->last_recv_ms = now_ms;
	l->unanswered_ms = 0;
	m->st.hs_done++;
	if (rekey)
		m->st.rekeys++;
	else
		l->last_sent_ms = now_ms;
	/* Key confirmation for the initiator (it waits in HS_WAIT_CONFIRM). */
	session_send(m, l, &l->cur, now_ms, NULL, 0);
	r = 0;
	if (!rekey && m->cb.established_cb != NULL) {
		struct dht_addr a = l->addr;

		cx_noise_hs_free(slot->hs);
		memset(slot, 0, sizeof *slot);
		m->cb.established_cb(m->cb.arg, pk, &a);
		return 0;
	}
out:
	cx_noise_hs_free(slot->hs);
	memset(slot, 0, sizeof *slot);
	return r;
}

/* DATA: look up the session by receiver index, check the window, then
 * authenticate; only an authenticated packet moves the window, promotes a
 * "next" session, or changes the peer's address (roaming as in WireGuard
 * section 2.1: the peer's endpoint is the source of the latest correctly
 * authenticated packet). */
static int recv_data(struct link_mgr *m, uint64_t now_ms,
		     const struct dht_addr *from, const uint8_t *pkt,
		     size_t len)
{
	uint8_t buf[LINK_PKT_MAX], pk[LINK_PK_LEN];
	struct session *s;
	struct link *l;
	bool announce = false;
	uint64_t c;
	size_t n = 0;

	if (len < LINK_DATA_MIN || len > LINK_PKT_MAX)
		return drop(m, LINK_DROP_MALFORMED, -EBADMSG);
	s = session_find(m, link__get_u32(pkt + 4), &l);
	if (s == NULL)
		return drop(m, LINK_DROP_UNKNOWN, -ENOENT);
	if (now_ms - s->created_ms >= LINK_REJECT_AFTER_TIME_MS)
		return drop(m, LINK_DROP_EXPIRED, -ESTALE);
	c = link__get_u64(pkt + 8);
	if (!replay_ok(&s->rw, c))
		return drop(m, LINK_DROP_REPLAY, -EALREADY);
	if (cx_noise_cs_decrypt_n(
		    s->rx, c, pkt, LINK_DATA_HDR_LEN, pkt + LINK_DATA_HDR_LEN,
		    len - LINK_DATA_HDR_LEN, buf, sizeof buf, &n) < 0)
		return drop(m, LINK_DROP_AUTH, -EKEYREJECTED);
	replay_mark(&s->rw, c);
	if (s == &l->next) {
		/* Key confirmation: the responder used the new session. */
		bool rekey = l->cur.used;

		session_install(l, &l->next);
		l->phase = HS_NONE;
		l->hs_idx = 0;
		m->st.hs_done++;
		if (rekey) {
			m->st.rekeys++;
		} else {
			announce = true;
			l->last_sent_ms = now_ms;
		}
	}
	if (!addr_equal(&l->addr, from)) {
		l->addr = *from;
		m->st.roams++;
	}
	l->last_recv_ms = now_ms;
	l->unanswered_ms = 0;
	if (n > 0) {
		l->last_data_recv_ms = now_ms;
		m->st.data_in++;
	} else {
		m->st.keepalives_in++;
	}
	memcpy(pk, l->pk, LINK_PK_LEN);
	if (announce && m->cb.established_cb != NULL) {
		struct dht_addr a = l->addr;

		m->cb.established_cb(m->cb.arg, pk, &a);
	}
	if (n > 0 && m->cb.message_cb != NULL)
		m->cb.message_cb(m->cb.arg, pk, buf, n);
	return 0;
}

/* ---- API -------------------------------------------------------------- */

bool link_is_packet(const uint8_t *pkt, size_t len)
{
	return len > 0 && pkt[0] >= LINK_CLASS_MIN && pkt[0] <= LINK_CLASS_MAX;
}

int link_mgr_new(struct link_mgr **out, const struct link_config *cfg)
{
	uint8_t zero[LINK_PK_LEN];
	struct link_mgr *m = NULL;
	int r = -ENOMEM;

	*out = NULL;
	if (cfg == NULL || cfg->node_sk == NULL || cfg->rng == NULL ||
	    cfg->io.send == NULL)
		return -EINVAL;
	m = calloc(1, sizeof *m);
	if (m == NULL)
		return -ENOMEM;
	m->rng = cfg->rng;
	m->io = cfg->io;
	m->cb = cfg->cb;
	m->lim = cfg->limits;
	if (m->lim.links_max == 0)
		m->lim.links_max = 64;
	if (m->lim.handshakes_max == 0)
		m->lim.handshakes_max = 32;
	if (m->lim.hs_rate == 0)
		m->lim.hs_rate = 10;
	if (m->lim.hs_burst == 0)
		m->lim.hs_burst = 20;
	m->sec = cx_secret_alloc(sizeof *m->sec);
	m->links = calloc(m->lim.links_max, sizeof *m->links);
	m->slots = calloc(m->lim.handshakes_max, sizeof *m->slots);
	if (m->sec == NULL || m->links == NULL || m->slots == NULL)
		goto out;
	memcpy(m->sec->sk, cfg->node_sk, CX_X_SK_LEN);
	cx_x25519_public(m->pk, m->sec->sk);
	rng_fill(m->rng, m->sec->bucket_key, CX_KEY_LEN);
	label_key(m->mac1_key, "mac1----", m->pk);
	label_key(m->cookie_key, "cookie--", m->pk);
	memset(zero, 0, sizeof zero);
	label_key(m->mac1_key_xx, "mac1----", zero);
	label_key(m->cookie_key_xx, "cookie--", zero);
	*out = m;
	m = NULL;
	r = 0;
out:
	link_mgr_free(m);
	return r;
}

void link_mgr_free(struct link_mgr *m)
{
	if (m == NULL)
		return;
	if (m->links != NULL)
		for (unsigned i = 0; i < m->lim.links_max; i++)
			link_wipe(&m->links[i]);
	if (m->slots != NULL)
		for (unsigned i = 0; i < m->lim.handshakes_max; i++)
			cx_noise_hs_free(m->slots[i].hs);
	free(m->links);
	free(m->slots);
	cx_secret_free(m->sec);
	cx_wipe(m, sizeof *m);
	free(m);
}

int link_connect(struct link_mgr *m, uint64_t now_ms,
		 const uint8_t pk[static LINK_PK_LEN],
		 const struct dht_addr *addr)
{
	struct link *l;
	int r;

	if (!addr_valid(addr) || memcmp(pk, m->pk, LINK_PK_LEN) == 0)
		return -EINVAL;
	now_ms = mono(m, now_ms);
	l = link_find(m, pk);
	if (l != NULL) {
		bool moved = !addr_equal(&l->addr, addr);

		l->addr = *addr;
		if (!moved)
			return 0;
		/* Reconnect after an address change: rekey over the new
		 * path, or push the running handshake there now. */
		if (l->phase == HS_NONE)
			return hs_begin(m, l, now_ms);
		if (!is_init(l->hs_pkt[0]) || l->hs != NULL)
			hs_send(m, l, now_ms);
		return 0;
	}
	l = link_alloc(m, pk, addr);
	if (l == NULL)
		return -ENOSPC;
	if ((r = hs_begin(m, l, now_ms)) < 0)
		link_wipe(l);
	return r;
}

int link_connect_addr(struct link_mgr *m, uint64_t now_ms,
		      const struct dht_addr *addr)
{
	struct link *l = NULL;
	uint8_t zero[LINK_PK_LEN] = {0};
	int r;

	if (!addr_valid(addr))
		return -EINVAL;
	now_ms = mono(m, now_ms);
	for (unsigned i = 0; i < m->lim.links_max; i++)
		if (m->links[i].used && addr_equal(&m->links[i].addr, addr) &&
		    (m->links[i].anon || m->links[i].cur.used))
			return 0; /* already linked or on the way */
	l = link_alloc(m, zero, addr);
	if (l == NULL)
		return -ENOSPC;
	l->anon = true;
	if ((r = hs_begin(m, l, now_ms)) < 0)
		link_wipe(l);
	return r;
}

int link_recv(struct link_mgr *m, uint64_t now_ms, const struct dht_addr *from,
	      const uint8_t *pkt, size_t len)
{
	if (pkt == NULL || !addr_valid(from))
		return drop(m, LINK_DROP_MALFORMED, -EBADMSG);
	now_ms = mono(m, now_ms);
	m->st.pkts_in++;
	m->st.bytes_in += len;
	if (!link_is_packet(pkt, len))
		return drop(m, LINK_DROP_MALFORMED, -EBADMSG);
	switch (pkt[0]) {
	case LINK_CLASS_INIT:
	case LINK_CLASS_XINIT:
		return recv_init(m, now_ms, from, pkt, len);
	case LINK_CLASS_RESP:
	case LINK_CLASS_XRESP:
		return recv_resp(m, now_ms, from, pkt, len);
	case LINK_CLASS_FINAL:
		return recv_final(m, now_ms, from, pkt, len);
	case LINK_CLASS_COOKIE:
		return recv_cookie(m, now_ms, from, pkt, len);
	case LINK_CLASS_DATA:
		return recv_data(m, now_ms, from, pkt, len);
	}
	return drop(m, LINK_DROP_MALFORMED, -EBADMSG);
}

/* Rekey (WireGuard sections 6.2 and 6.3): the initiator of the current session
 * starts a new handshake after REKEY_AFTER_TIME; the responder does so
 * REKEY_RESPONDER_DELAY later, should the initiator be silent, so both do
 * not start together.  Either side after REKEY_AFTER_MESSAGES. */
static uint64_t rekey_due(const struct link *l)
{
	uint64_t due;

	if (!l->cur.used || l->phase != HS_NONE)
		return UINT64_MAX;
	if (l->cur.send_ctr >= LINK_REKEY_AFTER_MESSAGES)
		return 0;
	due = l->cur.created_ms + LINK_REKEY_AFTER_TIME_MS +
	      (l->cur.initiator ? 0 : LINK_REKEY_RESPONDER_DELAY_MS);
	/* WireGuard section 6.5: data sent and nothing at all heard back for
	 * KEEPALIVE + REKEY_TIMEOUT means the peer may have lost the session
	 * (a restart): handshake again, whoever initiated before. */
	if (l->unanswered_ms != 0)
		due = min_u64(due, l->unanswered_ms + LINK_UNANSWERED_MS);
	return due;
}

/* Keepalives (WireGuard section 6.5, adapted): answer received data
 * within KEEPALIVE when we had nothing to send ("passive keepalive"), and
 * send one at most every IDLE_KEEPALIVE when the link is otherwise idle, so
 * that each side hears from the other well within LINK_DEAD_MS. */
static uint64_t keepalive_due(const struct link *l)
{
	uint64_t due = l->last_sent_ms + LINK_IDLE_KEEPALIVE_MS;

	if (!l->cur.used)
		return UINT64_MAX;
	if (l->last_data_recv_ms > l->last_sent_ms)
		due = min_u64(due, l->last_data_recv_ms + LINK_KEEPALIVE_MS);
	return due;
}

int link_send(struct link_mgr *m, uint64_t now_ms,
	      const uint8_t pk[static LINK_PK_LEN], const uint8_t *data,
	      size_t len)
{
	struct link *l = link_find(m, pk);
	int r;

	if (len > LINK_PAYLOAD_MAX)
		return -E2BIG;
	if (data == NULL && len > 0)
		return -EINVAL;
	now_ms = mono(m, now_ms);
	if (l == NULL || !session_usable(&l->cur, now_ms))
		return -ENOTCONN;
	r = session_send(m, l, &l->cur, now_ms, data, len);
	if (rekey_due(l) <= now_ms)
		hs_begin(m, l, now_ms);
	return r;
}

/* Runs one link's timers; returns its next deadline, or 0 when the link
 * was dropped. */
static uint64_t link_timers(struct link_mgr *m, struct link *l, uint64_t now_ms)
{
	uint64_t next = UINT64_MAX;

	if (l->phase != HS_NONE &&
	    now_ms - l->hs_started_ms >= LINK_REKEY_ATTEMPT_TIME_MS) {
		hs_cancel(l);
		if (!l->cur.used) {
			link_drop(m, l, LINK_CLOSE_HANDSHAKE_TIMEOUT);
			return 0;
		}
	}
	if (l->phase == HS_WAIT_CONFIRM && now_ms >= l->hs_next_ms &&
	    l->hs_tries >= LINK_FINAL_TRIES) {
		/* FINAL keeps going unanswered: the responder lost its state
		 * (restart, full table).  Start over from message 1. */
		session_clear(&l->next);
		l->phase = HS_WAIT_RESP;
		cx_noise_hs_free(l->hs);
		l->hs = NULL;
	}
	if (l->phase != HS_NONE && now_ms >= l->hs_next_ms) {
		if (l->phase == HS_WAIT_RESP && l->hs == NULL &&
		    init_build(m, l) < 0)
			l->hs_pkt_len = 0; /* FIXME: out of memory, retry */
		if (l->hs_pkt_len > 0)
			hs_transmit(m, l, now_ms);
		else
			l->hs_next_ms = now_ms + retry_delay(m, l->hs_tries);
	}
	if (l->prev.used &&
	    now_ms - l->prev.created_ms >= LINK_REJECT_AFTER_TIME_MS)
		session_clear(&l->prev);
	if (l->cur.used && !session_usable(&l->cur, now_ms)) {
		link_drop(m, l, LINK_CLOSE_EXPIRED);
		return 0;
	}
	if (l->cur.used && now_ms - l->last_recv_ms >= LINK_DEAD_MS) {
		link_drop(m, l, LINK_CLOSE_DEAD);
		return 0;
	}
	if (keepalive_due(l) <= now_ms)
		session_send(m, l, &l->cur, now_ms, NULL, 0);
	if (rekey_due(l) <= now_ms)
		hs_begin(m, l, now_ms);

	if (l->phase != HS_NONE) {
		next = min_u64(next, l->hs_next_ms);
		next = min_u64(next,
			       l->hs_started_ms + LINK_REKEY_ATTEMPT_TIME_MS);
	}
	if (l->prev.used)
		next = min_u64(next,
			       l->prev.created_ms + LINK_REJECT_AFTER_TIME_MS);
	if (l->cur.used) {
		next = min_u64(next,
			       l->cur.created_ms + LINK_REJECT_AFTER_TIME_MS);
		next = min_u64(next, l->last_recv_ms + LINK_DEAD_MS);
		next = min_u64(next, keepalive_due(l));
		next = min_u64(next, rekey_due(l));
	}
	return next;
}

uint64_t link_tick(struct link_mgr *m, uint64_t now_ms)
{
	uint64_t next = UINT64_MAX;

	now_ms = mono(m, now_ms);
	slots_expire(m, now_ms);
	for (unsigned i = 0; i < m->lim.handshakes_max; i++)
		if (m->slots[i].used)
			next = min_u64(next, m->slots[i].created_ms +
						     LINK_RESP_SLOT_TTL_MS);
	for (unsigned i = 0; i < m->lim.links_max; i++) {
		uint64_t t;

		if (!m->links[i].used)
			continue;
		t = link_timers(m, &m->links[i], now_ms);
		if (t != 0)
			next = min_u64(next, t);
	}
	return next;
}

int link_close(struct link_mgr *m, const uint8_t pk[static LINK_PK_LEN])
{
	struct link *l = link_find(m, pk);

	if (l == NULL)
		return -ENOENT;
	link_wipe(l);
	return 0;
}

int link_close_addr(struct link_mgr *m, const struct dht_addr *addr)
{
	int r = -ENOENT;

	if (!addr_valid(addr))
		return -EINVAL;
	for (unsigned i = 0; i < m->lim.links_max; i++)
		if (m->links[i].used && m->links[i].anon &&
		    addr_equal(&m->links[i].addr, addr)) {
			link_wipe(&m->links[i]);
			r = 0;
		}
	return r;
}

void link_status(const struct link_mgr *m, struct link_status *st)
{
	*st = m->st;
	st->links = st->established = st->handshakes_out = 0;
	for (unsigned i = 0; i < m->lim.links_max; i++) {
		const struct link *l = &m->links[i];

		st->links += l->used;
		st->established += l->used && l->cur.used;
		st->handshakes_out += l->used && l->phase != HS_NONE;
	}
	st->handshakes_in = slots_busy(m);
}

int link_peer_status(const struct link_mgr *m, uint64_t now_ms,
		     const uint8_t pk[static LINK_PK_LEN],
		     struct link_peer_status *st)
{
	const struct link *l = NULL;

	for (unsigned i = 0; i < m->lim.links_max && l == NULL; i++)
		if (m->links[i].used && !m->links[i].anon &&
		    memcmp(m->links[i].pk, pk, LINK_PK_LEN) == 0)
			l = &m->links[i];
	if (l == NULL)
		return -ENOENT;
	if (now_ms < m->last_now_ms)
		now_ms = m->last_now_ms;
	memset(st, 0, sizeof *st);
	st->established = l->cur.used;
	st->handshaking = l->phase != HS_NONE;
	st->addr = l->addr;
	st->last_recv_ms = l->last_recv_ms;
	st->last_sent_ms = l->last_sent_ms;
	if (l->cur.used) {
		st->session_age_ms = now_ms - l->cur.created_ms;
		st->send_counter = l->cur.send_ctr;
		st->initiator = l->cur.initiator;
	}
	return 0;
}

const char *link_drop_str(enum link_drop d)
{
	switch (d) {
	case LINK_DROP_MALFORMED:
		return "malformed";
	case LINK_DROP_RATE:
		return "rate limited";
	case LINK_DROP_MAC1:
		return "bad mac1";
	case LINK_DROP_COOKIE:
		return "cookie required";
	case LINK_DROP_FULL:
		return "table full";
	case LINK_DROP_UNKNOWN:
		return "unknown index";
	case LINK_DROP_AUTH:
		return "authentication failed";
	case LINK_DROP_REPLAY:
		return "replayed or too old";
	case LINK_DROP_EXPIRED:
		return "session expired";
	case LINK_DROP_TIEBREAK:
		return "simultaneous open lost";
	case LINK_DROP_SELF:
		return "own key";
	case LINK_DROP_MAX_:
		break;
	}
	return "unknown";
}

const char *link_close_str(int reason)
{
	switch ((enum link_close_reason)reason) {
	case LINK_CLOSE_HANDSHAKE_TIMEOUT:
		return "handshake timeout";
	case LINK_CLOSE_DEAD:
		return "peer silent";
	case LINK_CLOSE_EXPIRED:
		return "session expired";
	case LINK_CLOSE_SELF:
		return "connected to ourselves";
	}
	return "unknown";
}
