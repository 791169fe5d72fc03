/* Codecs of node/chat_wire.h.  Every decoder is strict: exact lengths,
 * known versions and kinds, reserved bits zero, counts within limits. */
#include <errno.h>
#include <string.h>

#include "node/chat_wire.h"
#include "node/link_wire.h"

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

void cw_hello_encode(uint8_t out[static CW_HELLO_LEN], const struct cw_hello *h)
{
	uint8_t *p = out;

	*p++ = CF_HELLO;
	*p++ = CW_VERSION;
	*p++ = h->flags;
	memcpy(p, h->account, 32);
	p += 32;
	memcpy(p, h->device, 32);
	p += 32;
	link__put_u64(p, h->dev_created_s);
	p += 8;
	memcpy(p, h->dev_sig, 64);
	p += 64;
	link__put_u64(p, h->ts_ms);
	p += 8;
	memcpy(p, h->sig, 64);
}

int cw_hello_decode(struct cw_hello *h, const uint8_t *buf, size_t len)
{
	const uint8_t *p = buf;

	if (len != CW_HELLO_LEN || p[0] != CF_HELLO || p[1] != CW_VERSION ||
	    (p[2] & ~CW_HELLO_ACK) != 0)
		return -EBADMSG;
	h->flags = p[2];
	p += 3;
	memcpy(h->account, p, 32);
	p += 32;
	memcpy(h->device, p, 32);
	p += 32;
	h->dev_created_s = link__get_u64(p);
	p += 8;
	memcpy(h->dev_sig, p, 64);
	p += 64;
	h->ts_ms = link__get_u64(p);
	p += 8;
	memcpy(h->sig, p, 64);
	return 0;
}

void cw_hello_sigmsg(uint8_t out[static CW_HELLO_SIGMSG_LEN],
		     const uint8_t from_node[static 32],
		     const uint8_t to_node[static 32], const struct cw_hello *h)
{
	static const char ctx[16] = "parley hello v1"; /* NUL included */
	uint8_t *p = out;

	memcpy(p, ctx, 16);
	p += 16;
	memcpy(p, from_node, 32);
	p += 32;
	memcpy(p, to_node, 32);
	p += 32;
	memcpy(p, h->account, 32);
	p += 32;
	memcpy(p, h->device, 32);
	p += 32;
	link__put_u64(p, h->ts_ms);
}

void cw_data_hdr(uint8_t out[static CW_DATA_HDR], const struct cw_data *d)
{
	out[0] = CF_DATA;
	out[1] = d->flags;
	link__put_u32(out + 2, d->tag);
	link__put_u64(out + 6, d->n);
	put16(out + 14, d->index);
	put16(out + 16, d->count);
}

int cw_batch_next(const uint8_t *buf, size_t len, size_t *off,
		  const uint8_t **frame, size_t *frame_len)
{
	size_t o = *off, n;

	if (o == len)
		return 0;
	if (len - o < CW_BATCH_ENTRY_HDR + 1)
		return -EBADMSG;
	n = get16(buf + o);
	o += CW_BATCH_ENTRY_HDR;
	if (n == 0 || n > len - o || buf[o] == CF_BATCH)
		return -EBADMSG;
	*frame = buf + o;
	*frame_len = n;
	*off = o + n;
	return 1;
}

int cw_batch_check(const uint8_t *buf, size_t len)
{
	const uint8_t *f;
	size_t off = 1, flen, count = 0;
	int r;

	if (len < 1 || len > LINK_PAYLOAD_MAX || buf[0] != CF_BATCH)
		return -EBADMSG;
	while ((r = cw_batch_next(buf, len, &off, &f, &flen)) > 0)
		count++;
	if (r < 0 || count < 2)
		return -EBADMSG;
	return 0;
}

int cw_data_decode(struct cw_data *d, const uint8_t *buf, size_t len)
{
	if (len <= CW_DATA_HDR || len > LINK_PAYLOAD_MAX || buf[0] != CF_DATA)
		return -EBADMSG;
	d->flags = buf[1];
	if ((d->flags & ~(CW_DATA_INIT | CW_DATA_CTL)) != 0)
		return -EBADMSG;
	d->tag = link__get_u32(buf + 2);
	d->n = link__get_u64(buf + 6);
	d->index = get16(buf + 14);
	d->count = get16(buf + 16);
	d->chunk = buf + CW_DATA_HDR;
	d->chunk_len = len - CW_DATA_HDR;
	/* Control messages carry n = 0, texts n >= 1. */
	if (((d->flags & CW_DATA_CTL) != 0) != (d->n == 0))
		return -EBADMSG;
	if (d->count == 0 || d->count > CW_DATA_MAX_FRAGS ||
	    d->index >= d->count)
		return -EBADMSG;
	/* Every fragment but the last is full. */
	if (d->index + 1 < d->count && d->chunk_len != CW_DATA_CHUNK)
		return -EBADMSG;
	return 0;
}

int cw_env_encode(uint8_t *out, size_t out_max, size_t *len,
		  const struct cw_env *e)
{
	size_t need = CW_ENV_HDR + (e->has_reply ? 16 : 0) + e->body_len;
	uint8_t *p = out;

	if (e->body_len > MSGSTORE_BODY_MAX || need > out_max)
		return -E2BIG;
	*p++ = CW_VERSION;
	*p++ = e->kind;
	memcpy(p, e->id, 16);
	p += 16;
	link__put_u64(p, e->sent_ms);
	p += 8;
	*p++ = e->has_reply ? CW_ENV_REPLY : 0;
	if (e->has_reply) {
		memcpy(p, e->reply_to, 16);
		p += 16;
	}
	link__put_u32(p, (uint32_t)e->body_len);
	p += 4;
	if (e->body_len > 0)
		memcpy(p, e->body, e->body_len);
	*len = need;
	return 0;
}

int cw_env_decode(struct cw_env *e, const uint8_t *buf, size_t len)
{
	const uint8_t *p = buf;
	size_t rest;
	uint32_t blen;

	if (len < CW_ENV_HDR || p[0] != CW_VERSION || p[1] < CW_KIND_TEXT ||
	    p[1] > CW_KIND_ACCEPT)
		return -EBADMSG;
	e->kind = p[1];
	memcpy(e->id, p + 2, 16);
	e->sent_ms = link__get_u64(p + 18);
	if ((p[26] & ~CW_ENV_REPLY) != 0)
		return -EBADMSG;
	e->has_reply = (p[26] & CW_ENV_REPLY) != 0;
	p += 27;
	rest = len - 27;
	if (e->has_reply) {
		if (rest < 16 + 4)
			return -EBADMSG;
		memcpy(e->reply_to, p, 16);
		p += 16;
		rest -= 16;
	} else {
		memset(e->reply_to, 0, 16);
	}
	blen = link__get_u32(p);
	p += 4;
	rest -= 4;
	if (blen != rest || blen > MSGSTORE_BODY_MAX)
		return -EBADMSG;
	e->body = p;
	e->body_len = blen;
	return 0;
}

int cw_intro_encode(uint8_t *out, size_t out_max, size_t *len,
		    const char *name, const char *greeting, bool with_greeting)
{
	size_t nl = strlen(name), gl = with_greeting ? strlen(greeting) : 0;
	size_t need = 1 + nl + (with_greeting ? 2 + gl : 0);

	if (nl > MSGSTORE_NAME_MAX || gl > MSGSTORE_GREETING_MAX ||
	    need > out_max)
		return -E2BIG;
	out[0] = (uint8_t)nl;
	memcpy(out + 1, name, nl);
	if (with_greeting) {
		put16(out + 1 + nl, (uint16_t)gl);
		memcpy(out + 3 + nl, greeting, gl);
	}
	*len = need;
	return 0;
}

int cw_intro_decode(const uint8_t *buf, size_t len, bool with_greeting,
		    char name[static MSGSTORE_NAME_MAX + 1],
		    char greeting[static MSGSTORE_GREETING_MAX + 1])
{
	size_t nl, gl = 0;

	if (len < 1)
		return -EBADMSG;
	nl = buf[0];
	if (nl > MSGSTORE_NAME_MAX || 1 + nl > len ||
	    !msgstore__utf8_valid(buf + 1, nl, false))
		return -EBADMSG;
	if (with_greeting) {
		if (len < 3 + nl)
			return -EBADMSG;
		gl = get16(buf + 1 + nl);
		if (gl > MSGSTORE_GREETING_MAX || len != 3 + nl + gl ||
		    !msgstore__utf8_valid(buf + 3 + nl, gl, false))
			return -EBADMSG;
		memcpy(greeting, buf + 3 + nl, gl);
	} else if (len != 1 + nl) {
		return -EBADMSG;
	}
	greeting[gl] = '\0';
	memcpy(name, buf + 1, nl);
	name[nl] = '\0';
	return 0;
}

int cw_sess_encode(uint8_t *out, size_t out_max, size_t *len,
		   const struct cw_sess *s)
{
	size_t need = CW_SESS_FIXED + s->ratchet_len;
	uint8_t *p = out;

	if (s->nreads > CW_READS_MAX)
		return -E2BIG;
	if (s->nreads > 0)
		need += 2 + s->nreads * MSGSTORE_ID_LEN;
	if (need > out_max || s->ratchet_len > UINT32_MAX)
		return -E2BIG;
	*p++ = CW_VERSION;
	*p++ = (uint8_t)((s->flags & ~CW_SESS_READS) |
			 (s->nreads > 0 ? CW_SESS_READS : 0));
	memcpy(p, s->init, CX_X3DH_INIT_LEN);
	p += CX_X3DH_INIT_LEN;
	memcpy(p, s->pair, 32);
	p += 32;
	memcpy(p, s->node_pk, 32);
	p += 32;
	link__put_u64(p, s->acked);
	p += 8;
	link__put_u64(p, s->received);
	p += 8;
	link__put_u32(p, (uint32_t)s->ratchet_len);
	p += 4;
	if (s->ratchet_len > 0)
		memcpy(p, s->ratchet, s->ratchet_len);
	p += s->ratchet_len;
	if (s->nreads > 0) {
		put16(p, (uint16_t)s->nreads);
		memcpy(p + 2, s->reads, s->nreads * MSGSTORE_ID_LEN);
	}
	*len = need;
	return 0;
}

int cw_sess_decode(struct cw_sess *s, const uint8_t *buf, size_t len)
{
	const uint8_t *p = buf;
	uint32_t rl;

	if (len < CW_SESS_FIXED || p[0] != CW_VERSION ||
	    (p[1] & ~(CW_SESS_INITIATOR | CW_SESS_REQ_ACKED |
		      CW_SESS_ACC_ACKED | CW_SESS_HAS_NODE | CW_SESS_READS)) !=
		    0)
		return -EBADMSG;
	s->flags = p[1];
	p += 2;
	memcpy(s->init, p, CX_X3DH_INIT_LEN);
	p += CX_X3DH_INIT_LEN;
	memcpy(s->pair, p, 32);
	p += 32;
	memcpy(s->node_pk, p, 32);
	p += 32;
	s->acked = link__get_u64(p);
	p += 8;
	s->received = link__get_u64(p);
	p += 8;
	rl = link__get_u32(p);
	p += 4;
	s->reads = NULL;
	s->nreads = 0;
	if (rl == 0 || rl > len - CW_SESS_FIXED)
		return -EBADMSG;
	s->ratchet = p;
	s->ratchet_len = rl;
	p += rl;
	if (!(s->flags & CW_SESS_READS))
		return rl == len - CW_SESS_FIXED ? 0 : -EBADMSG;
	len -= CW_SESS_FIXED + rl; /* what follows the ratchet */
	if (len < 2)
		return -EBADMSG;
	s->nreads = get16(p);
	if (s->nreads == 0 || s->nreads > CW_READS_MAX ||
	    len != 2 + s->nreads * MSGSTORE_ID_LEN)
		return -EBADMSG;
	s->reads = p + 2;
	return 0;
}
