/* Codecs of node/relay_wire.h: the frames between a node and a
 * store-and-forward relay (docs/PROTOCOL-relay.md, "Frames").  Pure and
 * stateless.  A decoded blob points into the caller's frame and lives as
 * long as it does; nothing else is kept.  Every decoder is strict (the
 * right type byte, exact lengths, codes and flags in range, items in seq
 * order filling the frame) and writes its output only once the whole
 * frame is known good, so a refused frame leaves it untouched.  What a
 * decoder accepts, the matching encoder writes back byte for byte. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "node/bytes.h"
#include "node/relay_wire.h"

/* Offsets of the fields after the type byte (relay_wire.h's table). */
#define OFF_REQ 1
#define OFF_MAILBOX (OFF_REQ + 4)			 /* 5 */
#define OFF_RES_CODE OFF_MAILBOX			 /* DEPOSIT_RES: 5 */
#define OFF_ITEMS_CODE (OFF_MAILBOX + RELAY_MAILBOX_LEN) /* 37 */
#define OFF_ITEMS_FLAGS (OFF_ITEMS_CODE + 1)		 /* 38 */
/* FETCH from req to ts_s, the part the signature message repeats. */
#define FETCH_BODY_LEN (4 + RELAY_MAILBOX_LEN + 8 + 8 + 8) /* 60 */
#define OFF_FETCH_SIG (OFF_REQ + FETCH_BODY_LEN)	   /* 61 */

/* type | req 4 | mailbox 32: the head DEPOSIT, FETCH and ITEMS share. */
static void head_put(uint8_t *out, uint8_t type, uint32_t req,
		     const uint8_t mailbox[static RELAY_MAILBOX_LEN])
{
	out[0] = type;
	be32_put(out + OFF_REQ, req);
	memcpy(out + OFF_MAILBOX, mailbox, RELAY_MAILBOX_LEN);
}

static void head_get(uint32_t *req, uint8_t mailbox[static RELAY_MAILBOX_LEN],
		     const uint8_t *buf)
{
	*req = be32_get(buf + OFF_REQ);
	memcpy(mailbox, buf + OFF_MAILBOX, RELAY_MAILBOX_LEN);
}

static bool blob_ok(const uint8_t *blob, size_t len)
{
	return blob != NULL && len >= 1 && len <= RELAY_BLOB_MAX;
}

int rw_deposit_encode(uint8_t *out, size_t out_max, size_t *len,
		      const struct rw_deposit *d)
{
	if (out == NULL || len == NULL || d == NULL ||
	    !blob_ok(d->blob, d->blob_len))
		return -EINVAL;
	if (out_max < RW_DEPOSIT_HDR + d->blob_len)
		return -E2BIG;
	head_put(out, RF_DEPOSIT, d->req, d->mailbox);
	memcpy(out + RW_DEPOSIT_HDR, d->blob, d->blob_len);
	*len = RW_DEPOSIT_HDR + d->blob_len;
	return 0;
}

/* The blob is the rest of the frame, so the frame's length is its
 * length: 1..RELAY_BLOB_MAX bytes after the header. */
int rw_deposit_decode(struct rw_deposit *d, const uint8_t *buf, size_t len)
{
	if (buf == NULL || len <= RW_DEPOSIT_HDR ||
	    len > RW_DEPOSIT_HDR + RELAY_BLOB_MAX || buf[0] != RF_DEPOSIT)
		return -EBADMSG;
	head_get(&d->req, d->mailbox, buf);
	d->blob = buf + RW_DEPOSIT_HDR;
	d->blob_len = len - RW_DEPOSIT_HDR;
	return 0;
}

int rw_deposit_res_encode(uint8_t *out, size_t out_max, size_t *len,
			  const struct rw_deposit_res *r)
{
	if (out == NULL || len == NULL || r == NULL)
		return -EINVAL;
	if (out_max < RW_DEPOSIT_RES_LEN)
		return -E2BIG;
	out[0] = RF_DEPOSIT_RES;
	be32_put(out + OFF_REQ, r->req);
	out[OFF_RES_CODE] = r->code;
	*len = RW_DEPOSIT_RES_LEN;
	return 0;
}

int rw_deposit_res_decode(struct rw_deposit_res *r, const uint8_t *buf,
			  size_t len)
{
	if (buf == NULL || len != RW_DEPOSIT_RES_LEN ||
	    buf[0] != RF_DEPOSIT_RES)
		return -EBADMSG;
	r->req = be32_get(buf + OFF_REQ);
	r->code = buf[OFF_RES_CODE];
	return 0;
}

/* req | mailbox | del_upto | after | ts_s (FETCH_BODY_LEN bytes): the
 * frame after its type byte, and the signature message after the relay's
 * key. */
static void fetch_body_put(uint8_t *out, const struct rw_fetch *f)
{
	be32_put(out, f->req);
	out += 4;
	memcpy(out, f->mailbox, RELAY_MAILBOX_LEN);
	out += RELAY_MAILBOX_LEN;
	be64_put(out, f->del_upto);
	be64_put(out + 8, f->after);
	be64_put(out + 16, f->ts_s);
}

/* "parley relay fetch v1" 0x00 | relay node pk 32 | req 4 | mailbox 32 |
 * del_upto 8 | after 8 | ts_s 8 (relay_wire.h). */
void rw_fetch_sigmsg(uint8_t out[static RW_FETCH_SIGMSG_LEN],
		     const uint8_t relay_pk[static 32],
		     const struct rw_fetch *f)
{
	/* sizeof takes the label's NUL, the 0x00 separator. */
	memcpy(out, RW_FETCH_SIG_LABEL, sizeof RW_FETCH_SIG_LABEL);
	out += sizeof RW_FETCH_SIG_LABEL;
	memcpy(out, relay_pk, 32);
	fetch_body_put(out + 32, f);
}

int rw_fetch_encode(uint8_t *out, size_t out_max, size_t *len,
		    const struct rw_fetch *f)
{
	if (out == NULL || len == NULL || f == NULL)
		return -EINVAL;
	if (out_max < RW_FETCH_LEN)
		return -E2BIG;
	out[0] = RF_FETCH;
	fetch_body_put(out + OFF_REQ, f);
	memcpy(out + OFF_FETCH_SIG, f->sig, RELAY_SIG_LEN);
	*len = RW_FETCH_LEN;
	return 0;
}

/* Checks the layout only: the signature is the relay's to verify, against
 * rw_fetch_sigmsg() with its own key. */
int rw_fetch_decode(struct rw_fetch *f, const uint8_t *buf, size_t len)
{
	const uint8_t *p;

	if (buf == NULL || len != RW_FETCH_LEN || buf[0] != RF_FETCH)
		return -EBADMSG;
	head_get(&f->req, f->mailbox, buf);
	p = buf + OFF_MAILBOX + RELAY_MAILBOX_LEN;
	f->del_upto = be64_get(p);
	f->after = be64_get(p + 8);
	f->ts_s = be64_get(p + 16);
	memcpy(f->sig, buf + OFF_FETCH_SIG, RELAY_SIG_LEN);
	return 0;
}

int rw_deposit_req_encode(uint8_t *out, size_t out_max, size_t *len,
			  const struct rw_deposit_req *d)
{
	if (out == NULL || len == NULL || d == NULL ||
	    !blob_ok(d->d.blob, d->d.blob_len))
		return -EINVAL;
	if (out_max < RW_DEPOSIT_REQ_HDR + d->d.blob_len)
		return -E2BIG;
	head_put(out, RF_DEPOSIT_REQ, d->d.req, d->d.mailbox);
	be64_put(out + RW_DEPOSIT_HDR, d->stamp);
	memcpy(out + RW_DEPOSIT_REQ_HDR, d->d.blob, d->d.blob_len);
	*len = RW_DEPOSIT_REQ_HDR + d->d.blob_len;
	return 0;
}

int rw_deposit_req_decode(struct rw_deposit_req *d, const uint8_t *buf,
			  size_t len)
{
	if (buf == NULL || len <= RW_DEPOSIT_REQ_HDR ||
	    len > RW_DEPOSIT_REQ_HDR + RELAY_BLOB_MAX ||
	    buf[0] != RF_DEPOSIT_REQ)
		return -EBADMSG;
	head_get(&d->d.req, d->d.mailbox, buf);
	d->stamp = be64_get(buf + RW_DEPOSIT_HDR);
	d->d.blob = buf + RW_DEPOSIT_REQ_HDR;
	d->d.blob_len = len - RW_DEPOSIT_REQ_HDR;
	return 0;
}

/* "parley relay fetch request v1" 0x00 | relay node pk 32 | req 4 |
 * account 32 | del_upto 8 | after 8 | ts_s 8 | epoch 8 (relay_wire.h). */
void rw_fetch_req_sigmsg(uint8_t out[static RW_FETCH_REQ_SIGMSG_LEN],
			 const uint8_t relay_pk[static 32],
			 const struct rw_fetch_req *f)
{
	memcpy(out, RW_FETCH_REQ_SIG_LABEL, sizeof RW_FETCH_REQ_SIG_LABEL);
	out += sizeof RW_FETCH_REQ_SIG_LABEL;
	memcpy(out, relay_pk, 32);
	fetch_body_put(out + 32, &f->f);
	be64_put(out + 32 + FETCH_BODY_LEN, f->epoch);
}

int rw_fetch_req_encode(uint8_t *out, size_t out_max, size_t *len,
			const struct rw_fetch_req *f)
{
	if (out == NULL || len == NULL || f == NULL)
		return -EINVAL;
	if (out_max < RW_FETCH_REQ_LEN)
		return -E2BIG;
	out[0] = RF_FETCH_REQ;
	fetch_body_put(out + OFF_REQ, &f->f);
	be64_put(out + OFF_FETCH_SIG, f->epoch);
	memcpy(out + OFF_FETCH_SIG + 8, f->f.sig, RELAY_SIG_LEN);
	*len = RW_FETCH_REQ_LEN;
	return 0;
}

int rw_fetch_req_decode(struct rw_fetch_req *f, const uint8_t *buf,
			size_t len)
{
	const uint8_t *p;

	if (buf == NULL || len != RW_FETCH_REQ_LEN || buf[0] != RF_FETCH_REQ)
		return -EBADMSG;
	head_get(&f->f.req, f->f.mailbox, buf);
	p = buf + OFF_MAILBOX + RELAY_MAILBOX_LEN;
	f->f.del_upto = be64_get(p);
	f->f.after = be64_get(p + 8);
	f->f.ts_s = be64_get(p + 16);
	f->epoch = be64_get(buf + OFF_FETCH_SIG);
	memcpy(f->f.sig, buf + OFF_FETCH_SIG + 8, RELAY_SIG_LEN);
	return 0;
}

void rw_notify_encode(uint8_t out[static RW_NOTIFY_LEN],
		      const uint8_t mailbox[static RELAY_MAILBOX_LEN])
{
	out[0] = RF_NOTIFY;
	memcpy(out + 1, mailbox, RELAY_MAILBOX_LEN);
}

int rw_notify_decode(uint8_t mailbox[static RELAY_MAILBOX_LEN],
		     const uint8_t *buf, size_t len)
{
	if (buf == NULL || len != RW_NOTIFY_LEN || buf[0] != RF_NOTIFY)
		return -EBADMSG;
	memcpy(mailbox, buf + 1, RELAY_MAILBOX_LEN);
	return 0;
}

int rw_poll_encode(uint8_t *out, size_t out_max, size_t *len,
		   const struct rw_poll *p)
{
	if (out == NULL || len == NULL || p == NULL || p->mailbox == NULL ||
	    p->n < 1 || p->n > RW_POLL_MAX)
		return -EINVAL;
	if (out_max < RW_POLL_LEN(p->n))
		return -E2BIG;
	out[0] = RF_POLL;
	be32_put(out + OFF_REQ, p->req);
	out[OFF_MAILBOX] = (uint8_t)p->n;
	memcpy(out + RW_POLL_HDR, p->mailbox,
	       (size_t)p->n * RELAY_MAILBOX_LEN);
	*len = RW_POLL_LEN(p->n);
	return 0;
}

int rw_poll_decode(struct rw_poll *p, const uint8_t *buf, size_t len)
{
	unsigned n;

	if (buf == NULL || len < RW_POLL_HDR || buf[0] != RF_POLL)
		return -EBADMSG;
	n = buf[OFF_MAILBOX];
	if (n < 1 || n > RW_POLL_MAX || len != RW_POLL_LEN(n))
		return -EBADMSG;
	p->req = be32_get(buf + OFF_REQ);
	p->n = n;
	p->mailbox = buf + RW_POLL_HDR;
	return 0;
}

/* The bits past n, and any bit when the code says no, must be zero. */
static bool poll_bits_ok(uint8_t code, unsigned n, const uint8_t *bits)
{
	for (unsigned i = 0; i < RW_POLL_MAX; i++)
		if ((bits[i / 8] >> (i % 8) & 1) != 0 &&
		    (i >= n || code != RC_OK))
			return false;
	return true;
}

int rw_poll_res_encode(uint8_t *out, size_t out_max, size_t *len,
		       const struct rw_poll_res *r)
{
	size_t nb;

	if (out == NULL || len == NULL || r == NULL || r->n < 1 ||
	    r->n > RW_POLL_MAX || !poll_bits_ok(r->code, r->n, r->bits))
		return -EINVAL;
	nb = (r->n + 7) / 8;
	if (out_max < RW_POLL_RES_HDR + nb)
		return -E2BIG;
	out[0] = RF_POLL_RES;
	be32_put(out + OFF_REQ, r->req);
	out[OFF_MAILBOX] = r->code;
	out[OFF_MAILBOX + 1] = (uint8_t)r->n;
	memcpy(out + RW_POLL_RES_HDR, r->bits, nb);
	*len = RW_POLL_RES_HDR + nb;
	return 0;
}

int rw_poll_res_decode(struct rw_poll_res *r, const uint8_t *buf, size_t len)
{
	uint8_t bits[RW_POLL_MAX / 8] = {0};
	unsigned n;
	uint8_t code;

	if (buf == NULL || len < RW_POLL_RES_HDR || buf[0] != RF_POLL_RES)
		return -EBADMSG;
	code = buf[OFF_MAILBOX];
	n = buf[OFF_MAILBOX + 1];
	if (n < 1 || n > RW_POLL_MAX || len != RW_POLL_RES_HDR + (n + 7) / 8)
		return -EBADMSG;
	memcpy(bits, buf + RW_POLL_RES_HDR, (n + 7) / 8);
	if (!poll_bits_ok(code, n, bits))
		return -EBADMSG;
	r->req = be32_get(buf + OFF_REQ);
	r->code = code;
	r->n = n;
	memcpy(r->bits, bits, sizeof bits);
	return 0;
}

int rw_items_begin(uint8_t *out, size_t out_max, size_t *len,
		   const struct rw_items *h)
{
	if (out == NULL || len == NULL || h == NULL ||
	    (h->flags & ~RW_ITEMS_MORE) != 0)
		return -EINVAL;
	if (out_max < RW_ITEMS_HDR)
		return -E2BIG;
	head_put(out, RF_ITEMS, h->req, h->mailbox);
	out[OFF_ITEMS_CODE] = h->code;
	out[OFF_ITEMS_FLAGS] = h->flags;
	*len = RW_ITEMS_HDR;
	return 0;
}

/* Walks the items of buf (len bytes, header already checked) and checks
 * that they fill it with seqs strictly increasing.  *last gets the last
 * seq and *any whether there was an item.  Returns 0 or -EBADMSG. */
static int items_walk(const uint8_t *buf, size_t len, bool *any, uint64_t *last)
{
	const uint8_t *blob;
	size_t off = RW_ITEMS_HDR, blob_len;
	uint64_t seq;
	int r;

	*any = false;
	*last = 0;
	while ((r = rw_items_next(buf, len, &off, &seq, &blob, &blob_len)) >
	       0) {
		if (*any && seq <= *last)
			return -EBADMSG;
		*any = true;
		*last = seq;
	}
	return r < 0 ? -EBADMSG : 0;
}

/* Appends seq | len | blob.  The frame in out must be what rw_items_begin
 * and earlier adds made of it: an ITEMS header with code RC_OK (a frame
 * with another code carries no item) and items below seq.  Frames are
 * small, so the previous seq is found by walking them.  Returns -EINVAL
 * for a bad blob, frame or seq, -E2BIG when the item does not fit out_max;
 * out and *len are unchanged on failure. */
int rw_items_add(uint8_t *out, size_t out_max, size_t *len, uint64_t seq,
		 const uint8_t *blob, size_t blob_len)
{
	uint64_t last;
	size_t n;
	bool any;

	if (out == NULL || len == NULL || !blob_ok(blob, blob_len))
		return -EINVAL;
	n = *len;
	if (n < RW_ITEMS_HDR || n > out_max || out[0] != RF_ITEMS ||
	    out[OFF_ITEMS_CODE] != RC_OK)
		return -EINVAL;
	if (items_walk(out, n, &any, &last) < 0 || (any && seq <= last))
		return -EINVAL;
	if (out_max - n < RW_ITEM_HDR + blob_len)
		return -E2BIG;
	be64_put(out + n, seq);
	out[n + 8] = (uint8_t)(blob_len >> 8);
	out[n + 9] = (uint8_t)blob_len;
	memcpy(out + n + RW_ITEM_HDR, blob, blob_len);
	*len = n + RW_ITEM_HDR + blob_len;
	return 0;
}

void rw_items_set_flags(uint8_t *out, uint8_t flags)
{
	out[OFF_ITEMS_FLAGS] = flags;
}

int rw_items_decode(struct rw_items *h, const uint8_t *buf, size_t len)
{
	uint64_t last;
	bool any;

	if (buf == NULL || len < RW_ITEMS_HDR || buf[0] != RF_ITEMS ||
	    (buf[OFF_ITEMS_FLAGS] & ~RW_ITEMS_MORE) != 0)
		return -EBADMSG;
	if (buf[OFF_ITEMS_CODE] != RC_OK && len != RW_ITEMS_HDR)
		return -EBADMSG;
	if (items_walk(buf, len, &any, &last) < 0)
		return -EBADMSG;
	head_get(&h->req, h->mailbox, buf);
	h->code = buf[OFF_ITEMS_CODE];
	h->flags = buf[OFF_ITEMS_FLAGS];
	return 0;
}

/* One item at *off: seq 8 | len 2 | blob, len 1..RELAY_BLOB_MAX and
 * within the frame.  Returns 1 and moves *off past it, 0 at the end of
 * the frame, -EBADMSG for an item that is cut short or out of range (or
 * an *off outside the items).  The order of seqs is rw_items_decode's to
 * check. */
int rw_items_next(const uint8_t *buf, size_t len, size_t *off, uint64_t *seq,
		  const uint8_t **blob, size_t *blob_len)
{
	size_t o = *off, n;

	if (o == len && o >= RW_ITEMS_HDR)
		return 0;
	if (o < RW_ITEMS_HDR || o > len || len - o < RW_ITEM_HDR + 1)
		return -EBADMSG;
	n = (size_t)buf[o + 8] << 8 | buf[o + 9];
	if (n == 0 || n > RELAY_BLOB_MAX || n > len - o - RW_ITEM_HDR)
		return -EBADMSG;
	*seq = be64_get(buf + o);
	*blob = buf + o + RW_ITEM_HDR;
	*blob_len = n;
	*off = o + RW_ITEM_HDR + n;
	return 1;
}

const char *relay_code_str(int code)
{
	switch (code) {
	case RC_OK:
		return "ok";
	case RC_MAILBOX_FULL:
		return "mailbox full";
	case RC_RELAY_FULL:
		return "relay full";
	case RC_RATE:
		return "rate limited";
	case RC_NOT_RELAY:
		return "not a relay";
	case RC_AUTH:
		return "not authorised";
	case RC_ERROR:
		return "relay error";
	case RC_POW:
		return "proof of work too weak";
	case RC_QUOTA:
		return "source over quota";
	}
	return "unknown"; /* a code from a newer relay, or garbage */
}
