/* DHT wire codecs and signed records.  Pure functions over caller buffers:
 * no allocation, no state.  The layouts are documented in dht/wire.h and
 * docs/PROTOCOL-dht.md; this file is the only place that reads or writes
 * them. */
#include <errno.h>
#include <string.h>

#include "crypto/cx.h"
#include "crypto/sign.h"
#include "dht/wire.h"

static bool room(struct dht_buf *b, size_t n)
{
	if (b->err || b->len - b->pos < n) {
		b->err = true;
		return false;
	}
	return true;
}

void dht__put_u8(struct dht_buf *b, uint8_t v)
{
	if (room(b, 1))
		b->p[b->pos++] = v;
}

void dht__put_u16(struct dht_buf *b, uint16_t v)
{
	if (!room(b, 2))
		return;
	b->p[b->pos++] = (uint8_t)(v >> 8);
	b->p[b->pos++] = (uint8_t)v;
}

void dht__put_u64(struct dht_buf *b, uint64_t v)
{
	if (!room(b, 8))
		return;
	for (int i = 7; i >= 0; i--)
		b->p[b->pos++] = (uint8_t)(v >> (i * 8));
}

void dht__put_bytes(struct dht_buf *b, const void *v, size_t n)
{
	if (n == 0 || !room(b, n))
		return;
	memcpy(b->p + b->pos, v, n);
	b->pos += n;
}

uint8_t dht__get_u8(struct dht_buf *b)
{
	return room(b, 1) ? b->p[b->pos++] : 0;
}

uint16_t dht__get_u16(struct dht_buf *b)
{
	uint16_t v;

	if (!room(b, 2))
		return 0;
	v = (uint16_t)((b->p[b->pos] << 8) | b->p[b->pos + 1]);
	b->pos += 2;
	return v;
}

uint64_t dht__get_u64(struct dht_buf *b)
{
	uint64_t v = 0;

	if (!room(b, 8))
		return 0;
	for (int i = 0; i < 8; i++)
		v = (v << 8) | b->p[b->pos++];
	return v;
}

void dht__get_bytes(struct dht_buf *b, void *v, size_t n)
{
	if (n == 0)
		return;
	if (!room(b, n)) {
		memset(v, 0, n);
		return;
	}
	memcpy(v, b->p + b->pos, n);
	b->pos += n;
}

bool dht__addr_valid(const struct dht_addr *a)
{
	if (a->port == 0)
		return false;
	if (a->family == DHT_FAMILY_IPV4)
		return true;
	return a->family == DHT_FAMILY_IPV6;
}

bool dht__addr_equal(const struct dht_addr *a, const struct dht_addr *b)
{
	size_t n = a->family == DHT_FAMILY_IPV4 ? 4 : 16;

	return a->family == b->family && a->port == b->port &&
	       memcmp(a->ip, b->ip, n) == 0;
}

void dht__put_addr(struct dht_buf *b, const struct dht_addr *a)
{
	dht__put_u8(b, a->family);
	dht__put_bytes(b, a->ip, a->family == DHT_FAMILY_IPV4 ? 4 : 16);
	dht__put_u16(b, a->port);
}

int dht__get_addr(struct dht_buf *b, struct dht_addr *a)
{
	memset(a, 0, sizeof *a);
	a->family = dht__get_u8(b);
	if (a->family != DHT_FAMILY_IPV4 && a->family != DHT_FAMILY_IPV6) {
		b->err = true;
		return -EBADMSG;
	}
	dht__get_bytes(b, a->ip, a->family == DHT_FAMILY_IPV4 ? 4 : 16);
	a->port = dht__get_u16(b);
	if (b->err || a->port == 0) {
		b->err = true;
		return -EBADMSG;
	}
	return 0;
}

/* Domain separation: a record signature can never be confused with any
 * other Ed25519 signature made by the same account key. */
static const char record_domain[] = "parley dht record v1";
static const char key_domain[] = "parley dht key v1";

void dht_record_key(uint8_t key[static DHT_ID_LEN], const struct dht_record *r)
{
	uint8_t m[sizeof key_domain + 1 + CX_ED_PK_LEN + 1 + DHT_SALT_MAX];
	size_t salt_len = r->salt_len <= DHT_SALT_MAX ? r->salt_len : 0;
	struct dht_buf b = {.p = m, .len = sizeof m};

	dht__put_bytes(&b, key_domain, sizeof key_domain); /* with NUL */
	dht__put_u8(&b, r->kind);
	dht__put_bytes(&b, r->pk, CX_ED_PK_LEN);
	dht__put_u8(&b, (uint8_t)salt_len);
	dht__put_bytes(&b, r->salt, salt_len);
	cx_hash(key, m, b.pos);
}

static bool record_in_limits(const struct dht_record *r)
{
	return r->kind <= DHT_RECORD_KIND_MAX && r->salt_len <= DHT_SALT_MAX &&
	       r->value_len <= DHT_VALUE_MAX;
}

/* The signed message: domain || key || seq || expiry || value_len || value.
 * The key already binds kind, publisher and salt. */
static size_t record_tbs(const struct dht_record *r, uint8_t *m, size_t max)
{
	struct dht_buf b = {.p = m, .len = max};
	uint8_t key[DHT_ID_LEN];

	dht_record_key(key, r);
	dht__put_bytes(&b, record_domain, sizeof record_domain);
	dht__put_bytes(&b, key, sizeof key);
	dht__put_u64(&b, r->seq);
	dht__put_u64(&b, r->expiry_s);
	dht__put_u16(&b, r->value_len);
	dht__put_bytes(&b, r->value, r->value_len);
	return b.err ? 0 : b.pos;
}

#define TBS_MAX (sizeof record_domain + DHT_ID_LEN + 8 + 8 + 2 + DHT_VALUE_MAX)

int dht_record_sign(struct dht_record *r, const uint8_t sk[static CX_ED_SK_LEN])
{
	uint8_t m[TBS_MAX];
	size_t n;

	if (!record_in_limits(r))
		return -EINVAL;
	n = record_tbs(r, m, sizeof m);
	cx_sign(r->sig, m, n, sk);
	return 0;
}

int dht_record_verify(const struct dht_record *r)
{
	uint8_t m[TBS_MAX];
	size_t n;

	if (!record_in_limits(r))
		return -EINVAL;
	n = record_tbs(r, m, sizeof m);
	return cx_sign_verify(r->sig, m, n, r->pk);
}

size_t dht__record_len(const struct dht_record *r)
{
	return DHT_RECORD_MIN_LEN + r->salt_len + r->value_len;
}

void dht__put_record(struct dht_buf *b, const struct dht_record *r)
{
	if (!record_in_limits(r)) {
		b->err = true;
		return;
	}
	dht__put_u8(b, r->kind);
	dht__put_bytes(b, r->pk, CX_ED_PK_LEN);
	dht__put_u8(b, r->salt_len);
	dht__put_bytes(b, r->salt, r->salt_len);
	dht__put_u64(b, r->seq);
	dht__put_u64(b, r->expiry_s);
	dht__put_u16(b, r->value_len);
	dht__put_bytes(b, r->value, r->value_len);
	dht__put_bytes(b, r->sig, CX_SIG_LEN);
}

int dht__get_record(struct dht_buf *b, struct dht_record *r)
{
	r->kind = dht__get_u8(b);
	dht__get_bytes(b, r->pk, CX_ED_PK_LEN);
	r->salt_len = dht__get_u8(b);
	if (b->err || r->kind > DHT_RECORD_KIND_MAX ||
	    r->salt_len > DHT_SALT_MAX)
		goto bad;
	memset(r->salt, 0, sizeof r->salt);
	dht__get_bytes(b, r->salt, r->salt_len);
	r->seq = dht__get_u64(b);
	r->expiry_s = dht__get_u64(b);
	r->value_len = dht__get_u16(b);
	if (b->err || r->value_len > DHT_VALUE_MAX)
		goto bad;
	dht__get_bytes(b, r->value, r->value_len);
	dht__get_bytes(b, r->sig, CX_SIG_LEN);
	if (b->err)
		goto bad;
	return 0;
bad:
	b->err = true;
	return -EBADMSG;
}

int dht__outer_parse(const uint8_t *pkt, size_t len, const uint8_t **sender_pk,
		     const uint8_t **nonce, const uint8_t **box,
		     size_t *box_len)
{
	if (len > DHT_PKT_MAX)
		return -E2BIG;
	if (len < DHT_SEALED_MIN || pkt[0] != DHT_CLASS_SEALED)
		return -EBADMSG;
	*sender_pk = pkt + 1;
	*nonce = pkt + 1 + CX_X_PK_LEN;
	*box = pkt + DHT_OUTER_LEN;
	*box_len = len - DHT_OUTER_LEN;
	return 0;
}

int dht__inner_parse(const uint8_t *plain, size_t len, struct dht_msg_hdr *h)
{
	struct dht_buf b = {.p = (uint8_t *)plain, .len = len};

	if (len < DHT_INNER_HDR_LEN)
		return -EBADMSG;
	h->type = dht__get_u8(&b);
	h->flags = dht__get_u8(&b);
	h->txid = dht__get_u64(&b);
	h->time_ms = dht__get_u64(&b);
	if (h->type == 0 || h->type > DHT_MSG_MAX)
		return -EBADMSG;
	return 0;
}

int dht__body_parse(unsigned type, const uint8_t *p, size_t len,
		    struct dht_body *out)
{
	struct dht_buf b = {.p = (uint8_t *)p, .len = len};

	if (len > DHT_BODY_MAX)
		return -EBADMSG;
	switch ((enum dht_msg)type) {
	case DHT_MSG_PING:
		break;
	case DHT_MSG_PONG:
		dht__get_addr(&b, &out->addr);
		if (!b.err && b.len - b.pos == DHT_TOKEN_LEN) {
			dht__get_bytes(&b, out->token, DHT_TOKEN_LEN);
			out->has_token = true;
		}
		break;
	case DHT_MSG_FIND_NODE:
		dht__get_bytes(&b, out->target, DHT_ID_LEN);
		break;
	case DHT_MSG_FIND_VALUE:
		dht__get_bytes(&b, out->target, DHT_ID_LEN);
		out->min_seq = dht__get_u64(&b);
		break;
	case DHT_MSG_NODES:
		dht__get_bytes(&b, out->token, DHT_TOKEN_LEN);
		out->has_token = true;
		out->num_nodes = dht__get_u8(&b);
		if (out->num_nodes > DHT_K)
			return -EBADMSG;
		for (unsigned i = 0; i < out->num_nodes && !b.err; i++) {
			dht__get_bytes(&b, out->nodes[i].pk, CX_X_PK_LEN);
			dht__get_addr(&b, &out->nodes[i].addr);
		}
		break;
	case DHT_MSG_VALUE:
	case DHT_MSG_STORE:
		if (out->record == NULL)
			return -EINVAL;
		dht__get_bytes(&b, out->token, DHT_TOKEN_LEN);
		out->has_token = true;
		dht__get_record(&b, out->record);
		break;
	case DHT_MSG_STORE_ACK:
		out->status = dht__get_u8(&b);
		break;
	default:
		return -EBADMSG;
	}
	if (b.err || b.pos != len)
		return -EBADMSG;
	return 0;
}
