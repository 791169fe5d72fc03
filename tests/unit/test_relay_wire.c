/* Unit tests of node/relay_wire.c: every frame round trips, with its bytes
 * where docs/PROTOCOL-relay.md puts them; the largest blob fills a link
 * payload exactly in one ITEMS frame; truncated, extended and retyped
 * frames are refused, as are bad codes, flags and blob lengths, seqs out
 * of order and items under a code other than OK; refused frames leave
 * the decoder's output untouched; the encoders refuse bad arguments and
 * short buffers; the FETCH signature message matches a buffer built by
 * hand, and a signature over it stops verifying when any field changes. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/cx.h"
#include "crypto/sign.h"
#include "node/relay_wire.h"

/* Larger than any frame, so that extensions and oversized items fit. */
#define BUF_MAX (2 * LINK_PAYLOAD_MAX)
#define REQ 0xa1b2c3d4u

static uint8_t blob[RELAY_BLOB_MAX + 1];

static void fill(uint8_t *p, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + i * 7);
}

static void fill_blob(void)
{
	fill(blob, sizeof blob, 0x33);
}

/* Runs the decoder for frame type t.  A refusal must be -EBADMSG and
 * leave the output as it was. */
static int decode_as(uint8_t t, const uint8_t *buf, size_t len)
{
	union {
		struct rw_deposit d;
		struct rw_deposit_res r;
		struct rw_fetch f;
		struct rw_items h;
	} u, before;
	int r = -1;

	memset(&u, 0xa5, sizeof u);
	memcpy(&before, &u, sizeof u);
	switch (t) {
	case RF_DEPOSIT:
		r = rw_deposit_decode(&u.d, buf, len);
		break;
	case RF_DEPOSIT_RES:
		r = rw_deposit_res_decode(&u.r, buf, len);
		break;
	case RF_FETCH:
		r = rw_fetch_decode(&u.f, buf, len);
		break;
	case RF_ITEMS:
		r = rw_items_decode(&u.h, buf, len);
		break;
	default:
		fail_msg("no decoder for 0x%02x", t);
	}
	if (r != 0) {
		assert_int_equal(r, -EBADMSG);
		assert_memory_equal(&u, &before, sizeof u);
	}
	return r;
}

static const uint8_t types[] = {RF_DEPOSIT, RF_DEPOSIT_RES, RF_FETCH, RF_ITEMS};

static size_t deposit_frame(uint8_t *out, size_t blob_len)
{
	struct rw_deposit d = {.req = REQ, .blob = blob, .blob_len = blob_len};
	size_t len = 0;

	fill(d.mailbox, sizeof d.mailbox, 0x40);
	assert_int_equal(rw_deposit_encode(out, BUF_MAX, &len, &d), 0);
	return len;
}

static size_t deposit_res_frame(uint8_t *out, uint8_t code)
{
	struct rw_deposit_res r = {.req = REQ, .code = code};
	size_t len = 0;

	assert_int_equal(rw_deposit_res_encode(out, BUF_MAX, &len, &r), 0);
	return len;
}

static void sample_fetch(struct rw_fetch *f)
{
	f->req = REQ;
	fill(f->mailbox, sizeof f->mailbox, 0x40);
	f->del_upto = 0x0102030405060708ull;
	f->after = 0x1112131415161718ull;
	f->ts_s = 0x2122232425262728ull;
	fill(f->sig, sizeof f->sig, 0x90);
}

static size_t fetch_frame(uint8_t *out)
{
	struct rw_fetch f;
	size_t len = 0;

	sample_fetch(&f);
	assert_int_equal(rw_fetch_encode(out, BUF_MAX, &len, &f), 0);
	return len;
}

/* An ITEMS frame with code and the n first of three items (seqs 1, 7 and
 * 2^64 - 256; blobs of 1, 300 and 50 bytes). */
static const uint64_t item_seq[3] = {1, 7, 0xffffffffffffff00ull};
static const size_t item_len[3] = {1, 300, 50};

static size_t items_frame(uint8_t *out, uint8_t code, unsigned n)
{
	struct rw_items h = {.req = REQ, .code = code};
	size_t len = 0;

	fill(h.mailbox, sizeof h.mailbox, 0x40);
	assert_int_equal(rw_items_begin(out, BUF_MAX, &len, &h), 0);
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(rw_items_add(out, BUF_MAX, &len, item_seq[i],
					      blob + i, item_len[i]),
				 0);
	return len;
}

static void test_deposit_roundtrip(void **state)
{
	static const size_t lens[] = {1, 2, 100, RELAY_BLOB_MAX};
	uint8_t out[BUF_MAX], mailbox[RELAY_MAILBOX_LEN];
	struct rw_deposit d;

	fill(mailbox, sizeof mailbox, 0x40);
	for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
		size_t len = deposit_frame(out, lens[i]);

		assert_int_equal(len, RW_DEPOSIT_HDR + lens[i]);
		assert_int_equal(out[0], 0x20);
		assert_int_equal(out[1], 0xa1);
		assert_int_equal(out[4], 0xd4);
		assert_memory_equal(out + 5, mailbox, RELAY_MAILBOX_LEN);
		assert_memory_equal(out + 37, blob, lens[i]);
		assert_int_equal(rw_deposit_decode(&d, out, len), 0);
		assert_int_equal(d.req, REQ);
		assert_memory_equal(d.mailbox, mailbox, RELAY_MAILBOX_LEN);
		assert_ptr_equal(d.blob, out + RW_DEPOSIT_HDR);
		assert_int_equal(d.blob_len, lens[i]);
	}
	/* The largest deposit still fits a link payload. */
	assert_true(RW_DEPOSIT_HDR + RELAY_BLOB_MAX <= LINK_PAYLOAD_MAX);
}

static void test_deposit_res_roundtrip(void **state)
{
	uint8_t out[BUF_MAX];
	struct rw_deposit_res r;

	for (uint8_t code = RC_OK; code <= RC_MAX_; code++) {
		const uint8_t want[] = {0x21, 0xa1, 0xb2, 0xc3, 0xd4, code};
		size_t len = deposit_res_frame(out, code);

		assert_int_equal(len, RW_DEPOSIT_RES_LEN);
		assert_memory_equal(out, want, sizeof want);
		assert_int_equal(rw_deposit_res_decode(&r, out, len), 0);
		assert_int_equal(r.req, REQ);
		assert_int_equal(r.code, code);
	}
}

static void test_fetch_roundtrip(void **state)
{
	uint8_t out[BUF_MAX];
	struct rw_fetch f, g;
	size_t len = fetch_frame(out);

	sample_fetch(&f);
	assert_int_equal(len, RW_FETCH_LEN);
	assert_int_equal(RW_FETCH_LEN, 125);
	assert_int_equal(out[0], 0x22);
	assert_int_equal(out[1], 0xa1);
	assert_memory_equal(out + 5, f.mailbox, RELAY_MAILBOX_LEN);
	for (int i = 0; i < 8; i++) {
		assert_int_equal(out[37 + i], 0x01 + i);
		assert_int_equal(out[45 + i], 0x11 + i);
		assert_int_equal(out[53 + i], 0x21 + i);
	}
	assert_memory_equal(out + 61, f.sig, RELAY_SIG_LEN);
	assert_int_equal(rw_fetch_decode(&g, out, len), 0);
	assert_int_equal(g.req, f.req);
	assert_memory_equal(g.mailbox, f.mailbox, RELAY_MAILBOX_LEN);
	assert_true(g.del_upto == f.del_upto);
	assert_true(g.after == f.after);
	assert_true(g.ts_s == f.ts_s);
	assert_memory_equal(g.sig, f.sig, RELAY_SIG_LEN);
}

static void test_items_roundtrip(void **state)
{
	uint8_t out[BUF_MAX], mailbox[RELAY_MAILBOX_LEN];
	const uint8_t *b;
	struct rw_items h;
	size_t len, off, blen;
	uint64_t seq;

	fill(mailbox, sizeof mailbox, 0x40);
	len = items_frame(out, RC_OK, 3);
	assert_int_equal(len, RW_ITEMS_HDR + 3 * RW_ITEM_HDR + 351);
	assert_int_equal(out[0], 0x23);
	assert_int_equal(out[37], RC_OK);
	assert_int_equal(out[38], 0);
	/* The first item: seq 1, len 1. */
	assert_int_equal(out[39 + 7], 1);
	assert_int_equal(out[39 + 8], 0);
	assert_int_equal(out[39 + 9], 1);
	rw_items_set_flags(out, RW_ITEMS_MORE);
	assert_int_equal(out[38], RW_ITEMS_MORE);
	assert_int_equal(rw_items_decode(&h, out, len), 0);
	assert_int_equal(h.req, REQ);
	assert_memory_equal(h.mailbox, mailbox, RELAY_MAILBOX_LEN);
	assert_int_equal(h.code, RC_OK);
	assert_int_equal(h.flags, RW_ITEMS_MORE);
	off = RW_ITEMS_HDR;
	for (int i = 0; i < 3; i++) {
		assert_int_equal(rw_items_next(out, len, &off, &seq, &b, &blen),
				 1);
		assert_true(seq == item_seq[i]);
		assert_int_equal(blen, item_len[i]);
		assert_memory_equal(b, blob + i, blen);
	}
	assert_int_equal(off, len);
	assert_int_equal(rw_items_next(out, len, &off, &seq, &b, &blen), 0);

	/* No item, and every other code (which carries none). */
	for (uint8_t code = RC_OK; code <= RC_MAX_; code++) {
		len = items_frame(out, code, 0);
		assert_int_equal(len, RW_ITEMS_HDR);
		assert_int_equal(rw_items_decode(&h, out, len), 0);
		assert_int_equal(h.code, code);
		assert_int_equal(h.flags, 0);
		off = RW_ITEMS_HDR;
		assert_int_equal(rw_items_next(out, len, &off, &seq, &b, &blen),
				 0);
	}
}

static void test_items_max_blob(void **state)
{
	uint8_t out[BUF_MAX], copy[BUF_MAX];
	struct rw_items h = {.req = REQ, .code = RC_OK};
	const uint8_t *b;
	size_t len = 0, off = RW_ITEMS_HDR, blen;
	uint64_t seq;

	assert_int_equal(RELAY_BLOB_MAX, 1151);
	assert_int_equal(rw_items_begin(out, LINK_PAYLOAD_MAX, &len, &h), 0);
	/* One byte short of room: refused, nothing changed. */
	memcpy(copy, out, len);
	assert_int_equal(rw_items_add(out, LINK_PAYLOAD_MAX - 1, &len, 9, blob,
				      RELAY_BLOB_MAX),
			 -E2BIG);
	assert_int_equal(len, RW_ITEMS_HDR);
	assert_memory_equal(out, copy, len);
	assert_int_equal(rw_items_add(out, LINK_PAYLOAD_MAX, &len, 9, blob,
				      RELAY_BLOB_MAX),
			 0);
	assert_int_equal(len, LINK_PAYLOAD_MAX);
	/* A full frame takes nothing more. */
	memcpy(copy, out, len);
	assert_int_equal(rw_items_add(out, LINK_PAYLOAD_MAX, &len, 10, blob, 1),
			 -E2BIG);
	assert_int_equal(len, LINK_PAYLOAD_MAX);
	assert_memory_equal(out, copy, len);
	assert_int_equal(rw_items_decode(&h, out, len), 0);
	assert_int_equal(rw_items_next(out, len, &off, &seq, &b, &blen), 1);
	assert_true(seq == 9);
	assert_int_equal(blen, RELAY_BLOB_MAX);
	assert_memory_equal(b, blob, RELAY_BLOB_MAX);
	assert_int_equal(rw_items_next(out, len, &off, &seq, &b, &blen), 0);
}

/* Fixed-size frames: no shorter or longer frame decodes. */
static void check_fixed(uint8_t t, uint8_t *f, size_t len)
{
	for (size_t l = 0; l < len; l++)
		assert_int_equal(decode_as(t, f, l), -EBADMSG);
	f[len] = 0x00;
	assert_int_equal(decode_as(t, f, len + 1), -EBADMSG);
	f[len] = 0xff;
	assert_int_equal(decode_as(t, f, len + 1), -EBADMSG);
	assert_int_equal(decode_as(t, f, len), 0);
}

/* An ITEMS frame cut anywhere but between two items is refused (a cut
 * between items is the frame of the first ones, and decodes); one byte
 * more is refused. */
static void check_items_cuts(uint8_t *f, size_t len, unsigned n)
{
	size_t bound[4], nb = 0, at = RW_ITEMS_HDR;

	bound[nb++] = at;
	for (unsigned i = 0; i < n; i++) {
		at += RW_ITEM_HDR + item_len[i];
		bound[nb++] = at;
	}
	assert_int_equal(at, len);
	for (size_t l = 0; l < len; l++) {
		bool between = false;

		for (size_t i = 0; i < nb; i++)
			between |= l == bound[i];
		assert_int_equal(decode_as(RF_ITEMS, f, l),
				 between ? 0 : -EBADMSG);
	}
	f[len] = 0x00;
	assert_int_equal(decode_as(RF_ITEMS, f, len + 1), -EBADMSG);
	f[len] = 0xff;
	assert_int_equal(decode_as(RF_ITEMS, f, len + 1), -EBADMSG);
}

static void test_truncate_extend(void **state)
{
	uint8_t f[BUF_MAX];
	struct rw_deposit d;
	size_t len;

	len = deposit_res_frame(f, RC_RATE);
	check_fixed(RF_DEPOSIT_RES, f, len);
	len = fetch_frame(f);
	check_fixed(RF_FETCH, f, len);

	/* DEPOSIT's blob is the rest of the frame: a cut inside the header
	 * is refused, a cut inside the blob is a shorter blob, and only a
	 * frame already at the largest blob cannot grow. */
	len = deposit_frame(f, 10);
	for (size_t l = 0; l < len; l++) {
		if (l <= RW_DEPOSIT_HDR) {
			assert_int_equal(decode_as(RF_DEPOSIT, f, l), -EBADMSG);
			continue;
		}
		assert_int_equal(rw_deposit_decode(&d, f, l), 0);
		assert_int_equal(d.blob_len, l - RW_DEPOSIT_HDR);
	}
	len = deposit_frame(f, RELAY_BLOB_MAX);
	f[len] = 0x00;
	assert_int_equal(decode_as(RF_DEPOSIT, f, len + 1), -EBADMSG);
	assert_int_equal(decode_as(RF_DEPOSIT, f, len), 0);

	for (unsigned n = 0; n <= 3; n++) {
		len = items_frame(f, RC_OK, n);
		check_items_cuts(f, len, n);
	}
	len = items_frame(f, RC_AUTH, 0);
	check_items_cuts(f, len, 0);
}

static void test_wrong_type(void **state)
{
	uint8_t f[4][BUF_MAX];
	size_t len[4];

	len[0] = deposit_frame(f[0], 10);
	len[1] = deposit_res_frame(f[1], RC_OK);
	len[2] = fetch_frame(f[2]);
	len[3] = items_frame(f[3], RC_OK, 2);
	for (int i = 0; i < 4; i++) {
		/* Each decoder takes its own frame only. */
		for (int j = 0; j < 4; j++)
			assert_int_equal(decode_as(types[j], f[i], len[i]),
					 i == j ? 0 : -EBADMSG);
		/* ... and no other first byte. */
		for (unsigned v = 0; v < 256; v++) {
			if (v == types[i])
				continue;
			f[i][0] = (uint8_t)v;
			assert_int_equal(decode_as(types[i], f[i], len[i]),
					 -EBADMSG);
		}
		f[i][0] = types[i];
	}
	/* NULL is no frame. */
	for (int j = 0; j < 4; j++)
		assert_int_equal(decode_as(types[j], NULL, len[j]), -EBADMSG);
}

/* A code this version does not know comes from a newer relay: the
 * answer is taken, as a refusal ("unknown"), so that the client moves on
 * at once instead of retrying into silence; it still carries nothing. */
static void test_unknown_code(void **state)
{
	static const uint8_t unknown[] = {RC_MAX_ + 1, 0x80, 0xff};
	uint8_t f[BUF_MAX], f2[BUF_MAX];
	struct rw_deposit_res r = {.req = REQ}, rr;
	struct rw_items h = {.req = REQ}, hh;
	size_t len, l2 = 7;

	(void)state;
	fill(h.mailbox, sizeof h.mailbox, 0x40); /* as items_frame's */
	for (size_t i = 0; i < sizeof unknown; i++) {
		len = deposit_res_frame(f, RC_OK);
		f[5] = unknown[i];
		assert_int_equal(rw_deposit_res_decode(&rr, f, len), 0);
		assert_int_equal(rr.code, unknown[i]);
		assert_string_equal(relay_code_str(rr.code), "unknown");
		r.code = unknown[i];
		assert_int_equal(rw_deposit_res_encode(f2, BUF_MAX, &l2, &r),
				 0);
		assert_memory_equal(f2, f, len);

		len = items_frame(f, RC_OK, 0);
		f[37] = unknown[i];
		assert_int_equal(rw_items_decode(&hh, f, len), 0);
		assert_int_equal(hh.code, unknown[i]);
		h.code = unknown[i];
		assert_int_equal(rw_items_begin(f2, BUF_MAX, &l2, &h), 0);
		assert_memory_equal(f2, f, len);
		/* a refusal with items is still refused */
		len = items_frame(f, RC_OK, 1);
		f[37] = unknown[i];
		assert_int_equal(rw_items_decode(&hh, f, len), -EBADMSG);
	}
}

static void test_bad_flags(void **state)
{
	uint8_t f[BUF_MAX];
	struct rw_items h = {.req = REQ};
	size_t len, l2 = 7;

	for (unsigned n = 0; n <= 2; n++) {
		len = items_frame(f, RC_OK, n);
		for (unsigned v = 0; v < 256; v++) {
			rw_items_set_flags(f, (uint8_t)v);
			assert_int_equal(decode_as(RF_ITEMS, f, len),
					 v <= RW_ITEMS_MORE ? 0 : -EBADMSG);
		}
	}
	for (unsigned v = 2; v < 256; v <<= 1) {
		h.flags = (uint8_t)v;
		assert_int_equal(rw_items_begin(f, BUF_MAX, &l2, &h), -EINVAL);
		h.flags = (uint8_t)(v | RW_ITEMS_MORE);
		assert_int_equal(rw_items_begin(f, BUF_MAX, &l2, &h), -EINVAL);
	}
	assert_int_equal(l2, 7);
	h.flags = RW_ITEMS_MORE;
	assert_int_equal(rw_items_begin(f, BUF_MAX, &l2, &h), 0);
	assert_int_equal(decode_as(RF_ITEMS, f, l2), 0);
	assert_int_equal(f[38], RW_ITEMS_MORE);
}

/* Sets the seq of the item at off. */
static void put_seq(uint8_t *f, size_t off, uint64_t seq)
{
	for (int i = 7; i >= 0; i--) {
		f[off + (size_t)i] = (uint8_t)seq;
		seq >>= 8;
	}
}

static void test_seq_order(void **state)
{
	uint8_t f[BUF_MAX], copy[BUF_MAX];
	size_t len, second = RW_ITEMS_HDR + RW_ITEM_HDR + item_len[0];
	size_t third = second + RW_ITEM_HDR + item_len[1];
	struct rw_items h = {.req = REQ};

	/* Decoding: a repeated or falling seq anywhere is refused. */
	len = items_frame(f, RC_OK, 3);
	put_seq(f, second, 1);
	assert_int_equal(decode_as(RF_ITEMS, f, len), -EBADMSG);
	put_seq(f, second, 0);
	assert_int_equal(decode_as(RF_ITEMS, f, len), -EBADMSG);
	put_seq(f, second, 2);
	assert_int_equal(decode_as(RF_ITEMS, f, len), 0);
	put_seq(f, third, 2);
	assert_int_equal(decode_as(RF_ITEMS, f, len), -EBADMSG);
	put_seq(f, third, 3);
	assert_int_equal(decode_as(RF_ITEMS, f, len), 0);
	put_seq(f, RW_ITEMS_HDR, UINT64_MAX);
	assert_int_equal(decode_as(RF_ITEMS, f, len), -EBADMSG);

	/* Encoding: rw_items_add refuses a seq not above the last one and
	 * leaves the frame as it was. */
	len = 0;
	assert_int_equal(rw_items_begin(f, BUF_MAX, &len, &h), 0);
	assert_int_equal(rw_items_add(f, BUF_MAX, &len, 5, blob, 4), 0);
	memcpy(copy, f, len);
	assert_int_equal(rw_items_add(f, BUF_MAX, &len, 5, blob, 4), -EINVAL);
	assert_int_equal(rw_items_add(f, BUF_MAX, &len, 4, blob, 4), -EINVAL);
	assert_int_equal(rw_items_add(f, BUF_MAX, &len, 0, blob, 4), -EINVAL);
	assert_int_equal(len, RW_ITEMS_HDR + RW_ITEM_HDR + 4);
	assert_memory_equal(f, copy, len);
	assert_int_equal(rw_items_add(f, BUF_MAX, &len, 6, blob, 4), 0);
	assert_int_equal(rw_items_add(f, BUF_MAX, &len, UINT64_MAX, blob, 4),
			 0);
	assert_int_equal(rw_items_add(f, BUF_MAX, &len, UINT64_MAX, blob, 4),
			 -EINVAL);
	assert_int_equal(decode_as(RF_ITEMS, f, len), 0);
}

static void test_zero_blob(void **state)
{
	uint8_t f[BUF_MAX];
	struct rw_deposit d = {.req = REQ, .blob = blob};
	struct rw_items h = {.req = REQ};
	size_t len = 0, l2 = 7, at;

	/* DEPOSIT: 1..RELAY_BLOB_MAX bytes of blob, each way. */
	d.blob_len = 0;
	assert_int_equal(rw_deposit_encode(f, BUF_MAX, &l2, &d), -EINVAL);
	d.blob_len = RELAY_BLOB_MAX + 1;
	assert_int_equal(rw_deposit_encode(f, BUF_MAX, &l2, &d), -EINVAL);
	d.blob = NULL;
	d.blob_len = 1;
	assert_int_equal(rw_deposit_encode(f, BUF_MAX, &l2, &d), -EINVAL);
	assert_int_equal(l2, 7);
	len = deposit_frame(f, RELAY_BLOB_MAX);
	f[len] = 0;
	assert_int_equal(decode_as(RF_DEPOSIT, f, RW_DEPOSIT_HDR), -EBADMSG);
	assert_int_equal(decode_as(RF_DEPOSIT, f, len + 1), -EBADMSG);

	/* ITEMS: an item of length 0, alone or before another. */
	len = 0;
	assert_int_equal(rw_items_begin(f, BUF_MAX, &len, &h), 0);
	assert_int_equal(rw_items_add(f, BUF_MAX, &len, 1, blob, 0), -EINVAL);
	assert_int_equal(rw_items_add(f, BUF_MAX, &len, 1, NULL, 1), -EINVAL);
	assert_int_equal(
		rw_items_add(f, BUF_MAX, &len, 1, blob, RELAY_BLOB_MAX + 1),
		-EINVAL);
	assert_int_equal(len, RW_ITEMS_HDR);
	memset(f + RW_ITEMS_HDR, 0, RW_ITEM_HDR);
	f[RW_ITEMS_HDR + 7] = 1; /* seq 1, len 0 */
	assert_int_equal(decode_as(RF_ITEMS, f, RW_ITEMS_HDR + RW_ITEM_HDR),
			 -EBADMSG);
	at = RW_ITEMS_HDR + RW_ITEM_HDR;
	memset(f + at, 0, RW_ITEM_HDR + 1);
	f[at + 7] = 2;
	f[at + 9] = 1; /* seq 2, len 1, one byte */
	assert_int_equal(decode_as(RF_ITEMS, f, at + RW_ITEM_HDR + 1),
			 -EBADMSG);
	f[RW_ITEMS_HDR + 9] = 1; /* the first one now has its byte too */
	memmove(f + at + 1, f + at, RW_ITEM_HDR + 1);
	assert_int_equal(decode_as(RF_ITEMS, f, at + 1 + RW_ITEM_HDR + 1), 0);

	/* An item one byte over RELAY_BLOB_MAX, in a frame long enough. */
	memset(f + RW_ITEMS_HDR, 0x5a, RW_ITEM_HDR + RELAY_BLOB_MAX + 1);
	put_seq(f, RW_ITEMS_HDR, 1);
	f[RW_ITEMS_HDR + 8] = (uint8_t)((RELAY_BLOB_MAX + 1) >> 8);
	f[RW_ITEMS_HDR + 9] = (uint8_t)(RELAY_BLOB_MAX + 1);
	len = RW_ITEMS_HDR + RW_ITEM_HDR + RELAY_BLOB_MAX + 1;
	assert_int_equal(decode_as(RF_ITEMS, f, len), -EBADMSG);
	f[RW_ITEMS_HDR + 9] = (uint8_t)RELAY_BLOB_MAX;
	assert_int_equal(decode_as(RF_ITEMS, f, len - 1), 0);
	/* A length that runs past the end of the frame. */
	assert_int_equal(decode_as(RF_ITEMS, f, len - 2), -EBADMSG);
}

static void test_items_not_ok(void **state)
{
	uint8_t f[BUF_MAX], copy[BUF_MAX];
	size_t len, full;

	for (uint8_t code = RC_OK + 1; code <= RC_MAX_; code++) {
		/* Built: the header takes no item. */
		len = items_frame(f, code, 0);
		memcpy(copy, f, len);
		assert_int_equal(rw_items_add(f, BUF_MAX, &len, 1, blob, 1),
				 -EINVAL);
		assert_int_equal(len, RW_ITEMS_HDR);
		assert_memory_equal(f, copy, len);
		assert_int_equal(decode_as(RF_ITEMS, f, len), 0);
		/* Received: items under that code are refused. */
		full = items_frame(f, RC_OK, 3);
		f[37] = code;
		assert_int_equal(decode_as(RF_ITEMS, f, full), -EBADMSG);
		assert_int_equal(
			decode_as(RF_ITEMS, f, RW_ITEMS_HDR + RW_ITEM_HDR + 1),
			-EBADMSG);
		assert_int_equal(decode_as(RF_ITEMS, f, RW_ITEMS_HDR), 0);
	}
}

static void test_encode_args(void **state)
{
	uint8_t out[BUF_MAX];
	struct rw_deposit d = {.req = REQ, .blob = blob, .blob_len = 20};
	struct rw_deposit_res r = {.req = REQ, .code = RC_OK};
	struct rw_fetch f;
	struct rw_items h = {.req = REQ};
	size_t len = 7;

	sample_fetch(&f);
	/* NULL anywhere. */
	assert_int_equal(rw_deposit_encode(NULL, BUF_MAX, &len, &d), -EINVAL);
	assert_int_equal(rw_deposit_encode(out, BUF_MAX, NULL, &d), -EINVAL);
	assert_int_equal(rw_deposit_encode(out, BUF_MAX, &len, NULL), -EINVAL);
	assert_int_equal(rw_deposit_res_encode(NULL, BUF_MAX, &len, &r),
			 -EINVAL);
	assert_int_equal(rw_deposit_res_encode(out, BUF_MAX, NULL, &r),
			 -EINVAL);
	assert_int_equal(rw_deposit_res_encode(out, BUF_MAX, &len, NULL),
			 -EINVAL);
	assert_int_equal(rw_fetch_encode(NULL, BUF_MAX, &len, &f), -EINVAL);
	assert_int_equal(rw_fetch_encode(out, BUF_MAX, NULL, &f), -EINVAL);
	assert_int_equal(rw_fetch_encode(out, BUF_MAX, &len, NULL), -EINVAL);
	assert_int_equal(rw_items_begin(NULL, BUF_MAX, &len, &h), -EINVAL);
	assert_int_equal(rw_items_begin(out, BUF_MAX, NULL, &h), -EINVAL);
	assert_int_equal(rw_items_begin(out, BUF_MAX, &len, NULL), -EINVAL);
	assert_int_equal(rw_items_add(NULL, BUF_MAX, &len, 1, blob, 1),
			 -EINVAL);
	assert_int_equal(rw_items_add(out, BUF_MAX, NULL, 1, blob, 1), -EINVAL);
	assert_int_equal(len, 7);

	/* One byte short of room, then just enough. */
	assert_int_equal(rw_deposit_encode(out, RW_DEPOSIT_HDR + 19, &len, &d),
			 -E2BIG);
	assert_int_equal(
		rw_deposit_res_encode(out, RW_DEPOSIT_RES_LEN - 1, &len, &r),
		-E2BIG);
	assert_int_equal(rw_fetch_encode(out, RW_FETCH_LEN - 1, &len, &f),
			 -E2BIG);
	assert_int_equal(rw_items_begin(out, RW_ITEMS_HDR - 1, &len, &h),
			 -E2BIG);
	assert_int_equal(len, 7);
	assert_int_equal(rw_deposit_encode(out, RW_DEPOSIT_HDR + 20, &len, &d),
			 0);
	assert_int_equal(len, RW_DEPOSIT_HDR + 20);
	assert_int_equal(
		rw_deposit_res_encode(out, RW_DEPOSIT_RES_LEN, &len, &r), 0);
	assert_int_equal(rw_fetch_encode(out, RW_FETCH_LEN, &len, &f), 0);
	assert_int_equal(rw_items_begin(out, RW_ITEMS_HDR, &len, &h), 0);
	assert_int_equal(
		rw_items_add(out, RW_ITEMS_HDR + RW_ITEM_HDR, &len, 1, blob, 1),
		-E2BIG);
	assert_int_equal(rw_items_add(out, RW_ITEMS_HDR + RW_ITEM_HDR + 1, &len,
				      1, blob, 1),
			 0);

	/* rw_items_add wants an ITEMS frame within out_max under it. */
	len = RW_ITEMS_HDR - 1;
	assert_int_equal(rw_items_add(out, BUF_MAX, &len, 9, blob, 1), -EINVAL);
	len = RW_ITEMS_HDR + RW_ITEM_HDR + 1;
	assert_int_equal(rw_items_add(out, len - 1, &len, 9, blob, 1), -EINVAL);
	out[0] = RF_DEPOSIT;
	assert_int_equal(rw_items_add(out, BUF_MAX, &len, 9, blob, 1), -EINVAL);
	out[0] = RF_ITEMS;
	/* ... whose items are sound: here the last one is cut short. */
	len--;
	assert_int_equal(rw_items_add(out, BUF_MAX, &len, 9, blob, 1), -EINVAL);
	len++;
	assert_int_equal(rw_items_add(out, BUF_MAX, &len, 9, blob, 1), 0);
}

static void test_items_next_bounds(void **state)
{
	uint8_t f[BUF_MAX];
	const uint8_t *b;
	size_t len = items_frame(f, RC_OK, 1), off, blen;
	uint64_t seq;

	/* An offset inside the header or past the end is no item. */
	off = 0;
	assert_int_equal(rw_items_next(f, len, &off, &seq, &b, &blen),
			 -EBADMSG);
	off = RW_ITEMS_HDR - 1;
	assert_int_equal(rw_items_next(f, len, &off, &seq, &b, &blen),
			 -EBADMSG);
	off = len + 1;
	assert_int_equal(rw_items_next(f, len, &off, &seq, &b, &blen),
			 -EBADMSG);
	assert_int_equal(off, len + 1);
}

/* The signature message, from relay_wire.h's comment, byte by byte. */
static void test_sigmsg_layout(void **state)
{
	uint8_t want[RW_FETCH_SIGMSG_LEN], got[RW_FETCH_SIGMSG_LEN];
	uint8_t relay_pk[32];
	struct rw_fetch f;
	size_t o = 0;

	sample_fetch(&f);
	fill(relay_pk, sizeof relay_pk, 0xc0);
	memcpy(want + o, "parley relay fetch v1", 21);
	o += 21;
	want[o++] = 0x00;
	memcpy(want + o, relay_pk, 32);
	o += 32;
	want[o++] = 0xa1;
	want[o++] = 0xb2;
	want[o++] = 0xc3;
	want[o++] = 0xd4;
	memcpy(want + o, f.mailbox, 32);
	o += 32;
	for (int i = 0; i < 8; i++)
		want[o++] = (uint8_t)(0x01 + i); /* del_upto */
	for (int i = 0; i < 8; i++)
		want[o++] = (uint8_t)(0x11 + i); /* after */
	for (int i = 0; i < 8; i++)
		want[o++] = (uint8_t)(0x21 + i); /* ts_s */
	assert_int_equal(o, RW_FETCH_SIGMSG_LEN);
	assert_int_equal(RW_FETCH_SIGMSG_LEN, 114);
	memset(got, 0xee, sizeof got);
	rw_fetch_sigmsg(got, relay_pk, &f);
	assert_memory_equal(got, want, sizeof want);
	/* The signature itself is not signed. */
	f.sig[0] ^= 1;
	rw_fetch_sigmsg(got, relay_pk, &f);
	assert_memory_equal(got, want, sizeof want);
}

/* Verifies a FETCH frame as a relay with relay_pk would. */
static int verify_frame(const uint8_t *frame, const uint8_t relay_pk[32])
{
	uint8_t msg[RW_FETCH_SIGMSG_LEN];
	struct rw_fetch f;

	assert_int_equal(rw_fetch_decode(&f, frame, RW_FETCH_LEN), 0);
	rw_fetch_sigmsg(msg, relay_pk, &f);
	return cx_sign_verify(f.sig, msg, sizeof msg, f.mailbox);
}

static void test_sign_verify(void **state)
{
	uint8_t seed[CX_ED_SEED_LEN], sk[CX_ED_SK_LEN];
	uint8_t msg[RW_FETCH_SIGMSG_LEN], frame[RW_FETCH_LEN];
	uint8_t relay_pk[32], other_pk[32];
	struct rw_fetch f;
	size_t len = 0;

	fill(seed, sizeof seed, 0x07);
	fill(relay_pk, sizeof relay_pk, 0xc0);
	memcpy(other_pk, relay_pk, 32);
	other_pk[31] ^= 0x01;
	sample_fetch(&f);
	/* The mailbox ID is the key that signs. */
	cx_sign_keypair_seed(f.mailbox, sk, seed);
	rw_fetch_sigmsg(msg, relay_pk, &f);
	cx_sign(f.sig, msg, sizeof msg, sk);
	assert_int_equal(rw_fetch_encode(frame, sizeof frame, &len, &f), 0);
	assert_int_equal(verify_frame(frame, relay_pk), 0);
	/* Made for one relay, worthless at another. */
	assert_int_equal(verify_frame(frame, other_pk), -EKEYREJECTED);
	/* Any changed bit of req, mailbox, del_upto, after, ts_s or sig. */
	for (size_t i = 1; i < RW_FETCH_LEN; i++) {
		frame[i] ^= 0x01;
		assert_int_equal(verify_frame(frame, relay_pk), -EKEYREJECTED);
		frame[i] ^= 0x01;
	}
	assert_int_equal(verify_frame(frame, relay_pk), 0);
	/* And through the struct, field by field. */
	f.after++;
	rw_fetch_sigmsg(msg, relay_pk, &f);
	assert_int_equal(cx_sign_verify(f.sig, msg, sizeof msg, f.mailbox),
			 -EKEYREJECTED);
	f.after--;
	f.ts_s++;
	rw_fetch_sigmsg(msg, relay_pk, &f);
	assert_int_equal(cx_sign_verify(f.sig, msg, sizeof msg, f.mailbox),
			 -EKEYREJECTED);
	f.ts_s--;
	rw_fetch_sigmsg(msg, relay_pk, &f);
	assert_int_equal(cx_sign_verify(f.sig, msg, sizeof msg, f.mailbox), 0);
	memset(sk, 0, sizeof sk);
}

static void test_poll(void **state)
{
	uint8_t mb[RW_POLL_MAX * RELAY_MAILBOX_LEN], f[LINK_PAYLOAD_MAX];
	struct rw_poll p = {0x01020304, 3, mb}, q;
	struct rw_poll_res r, rr;
	size_t len;

	(void)state;
	for (size_t i = 0; i < sizeof mb; i++)
		mb[i] = (uint8_t)(i * 7 + 1);
	assert_int_equal(rw_poll_encode(f, sizeof f, &len, &p), 0);
	assert_int_equal(len, RW_POLL_LEN(3));
	assert_int_equal(f[0], RF_POLL);
	assert_true(relay_frame_is_request(RF_POLL));
	assert_false(relay_frame_is_request(RF_POLL_RES));
	assert_true(relay_frame_is_answer(RF_POLL_RES));
	assert_false(relay_frame_is_answer(RF_POLL));
	for (unsigned t = 0; t < 256; t++) /* never both */
		assert_false(relay_frame_is_request((uint8_t)t) &&
			     relay_frame_is_answer((uint8_t)t));
	assert_int_equal(rw_poll_decode(&q, f, len), 0);
	assert_int_equal(q.req, 0x01020304);
	assert_int_equal(q.n, 3);
	assert_ptr_equal(q.mailbox, f + RW_POLL_HDR);
	assert_memory_equal(q.mailbox, mb, 3 * RELAY_MAILBOX_LEN);
	/* a length that disagrees with n, n out of range, another type */
	assert_int_equal(rw_poll_decode(&q, f, len - 1), -EBADMSG);
	assert_int_equal(rw_poll_decode(&q, f, len + 1), -EBADMSG);
	f[5] = 0;
	assert_int_equal(rw_poll_decode(&q, f, RW_POLL_HDR), -EBADMSG);
	f[5] = RW_POLL_MAX + 1;
	assert_int_equal(rw_poll_decode(&q, f, RW_POLL_LEN(RW_POLL_MAX + 1)),
			 -EBADMSG);
	f[5] = 3;
	f[0] = RF_FETCH;
	assert_int_equal(rw_poll_decode(&q, f, len), -EBADMSG);
	p.n = 0;
	assert_int_equal(rw_poll_encode(f, sizeof f, &len, &p), -EINVAL);
	p.n = RW_POLL_MAX + 1;
	assert_int_equal(rw_poll_encode(f, sizeof f, &len, &p), -EINVAL);
	p.n = RW_POLL_MAX; /* the largest fits a link payload */
	assert_int_equal(rw_poll_encode(f, sizeof f, &len, &p), 0);
	assert_true(len <= LINK_PAYLOAD_MAX);
	assert_int_equal(rw_poll_encode(f, len - 1, &len, &p), -E2BIG);

	/* the answer: 10 mailboxes, bits 0 and 9 */
	memset(&r, 0, sizeof r);
	r.req = 9;
	r.code = RC_OK;
	r.n = 10;
	r.bits[0] = 0x01;
	r.bits[1] = 0x02;
	assert_int_equal(rw_poll_res_encode(f, sizeof f, &len, &r), 0);
	assert_int_equal(len, RW_POLL_RES_HDR + 2);
	assert_int_equal(rw_poll_res_decode(&rr, f, len), 0);
	assert_int_equal(rr.req, 9);
	assert_int_equal(rr.n, 10);
	assert_true(rw_poll_res_has(&rr, 0));
	assert_true(rw_poll_res_has(&rr, 9));
	for (unsigned i = 1; i < 9; i++)
		assert_false(rw_poll_res_has(&rr, i));
	assert_false(rw_poll_res_has(&rr, 10));
	/* a bit past n, in the frame or asked to be written */
	f[RW_POLL_RES_HDR + 1] |= 0x04;
	assert_int_equal(rw_poll_res_decode(&rr, f, len), -EBADMSG);
	r.bits[1] = 0x04;
	assert_int_equal(rw_poll_res_encode(f, sizeof f, &len, &r), -EINVAL);
	/* a refusal carries no bit */
	memset(r.bits, 0, sizeof r.bits);
	r.code = RC_RATE;
	assert_int_equal(rw_poll_res_encode(f, sizeof f, &len, &r), 0);
	assert_int_equal(rw_poll_res_decode(&rr, f, len), 0);
	assert_int_equal(rr.code, RC_RATE);
	f[RW_POLL_RES_HDR] = 0x01;
	assert_int_equal(rw_poll_res_decode(&rr, f, len), -EBADMSG);
	r.bits[0] = 0x01;
	assert_int_equal(rw_poll_res_encode(f, sizeof f, &len, &r), -EINVAL);
	/* a code from a newer relay is a refusal: no bits either */
	r.bits[0] = 0;
	r.code = RC_MAX_ + 1;
	assert_int_equal(rw_poll_res_encode(f, sizeof f, &len, &r), 0);
	assert_int_equal(rw_poll_res_decode(&rr, f, len), 0);
	assert_int_equal(rr.code, RC_MAX_ + 1);
	f[RW_POLL_RES_HDR] = 0x01;
	assert_int_equal(rw_poll_res_decode(&rr, f, len), -EBADMSG);
	/* a short frame */
	r.code = RC_OK;
	assert_int_equal(rw_poll_res_encode(f, sizeof f, &len, &r), 0);
	assert_int_equal(rw_poll_res_decode(&rr, f, len - 1), -EBADMSG);
	f[6] = 0;
	assert_int_equal(rw_poll_res_decode(&rr, f, RW_POLL_RES_HDR),
			 -EBADMSG);
}

/* The code numbers are wire values: RC_QUOTA is 8 in a DEPOSIT_RES, and
 * 9, past the last, is a newer relay's code. */
static void test_code_quota(void **state)
{
	uint8_t f[RW_DEPOSIT_RES_LEN] = {RF_DEPOSIT_RES, 0, 0, 0, 7, 8};
	struct rw_deposit_res r = {7, RC_QUOTA}, got;
	uint8_t out[RW_DEPOSIT_RES_LEN];
	size_t len = 0;

	(void)state;
	assert_int_equal(RC_QUOTA, 8);
	assert_int_equal(RC_MAX_, RC_QUOTA);
	assert_int_equal(rw_deposit_res_encode(out, sizeof out, &len, &r), 0);
	assert_int_equal(len, sizeof f);
	assert_memory_equal(out, f, sizeof f);
	assert_int_equal(rw_deposit_res_decode(&got, f, sizeof f), 0);
	assert_int_equal(got.code, RC_QUOTA);
	f[5] = 9; /* a newer relay's: taken, as a refusal of unknown reason */
	assert_int_equal(rw_deposit_res_decode(&got, f, sizeof f), 0);
	assert_string_equal(relay_code_str(got.code), "unknown");
}

static void test_code_str(void **state)
{
	assert_string_equal(relay_code_str(RC_OK), "ok");
	assert_string_equal(relay_code_str(RC_MAILBOX_FULL), "mailbox full");
	assert_string_equal(relay_code_str(RC_RELAY_FULL), "relay full");
	assert_string_equal(relay_code_str(RC_RATE), "rate limited");
	assert_string_equal(relay_code_str(RC_NOT_RELAY), "not a relay");
	assert_string_equal(relay_code_str(RC_AUTH), "not authorised");
	assert_string_equal(relay_code_str(RC_ERROR), "relay error");
	assert_string_equal(relay_code_str(RC_POW), "proof of work too weak");
	assert_string_equal(relay_code_str(RC_QUOTA), "source over quota");
	assert_string_equal(relay_code_str(RC_MAX_ + 1), "unknown");
	assert_string_equal(relay_code_str(255), "unknown");
	assert_string_equal(relay_code_str(-1), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deposit_roundtrip),
		cmocka_unit_test(test_code_quota),
		cmocka_unit_test(test_deposit_res_roundtrip),
		cmocka_unit_test(test_fetch_roundtrip),
		cmocka_unit_test(test_items_roundtrip),
		cmocka_unit_test(test_items_max_blob),
		cmocka_unit_test(test_truncate_extend),
		cmocka_unit_test(test_wrong_type),
		cmocka_unit_test(test_unknown_code),
		cmocka_unit_test(test_bad_flags),
		cmocka_unit_test(test_seq_order),
		cmocka_unit_test(test_zero_blob),
		cmocka_unit_test(test_items_not_ok),
		cmocka_unit_test(test_encode_args),
		cmocka_unit_test(test_items_next_bounds),
		cmocka_unit_test(test_sigmsg_layout),
		cmocka_unit_test(test_sign_verify),
		cmocka_unit_test(test_poll),
		cmocka_unit_test(test_code_str),
	};

	if (cx_init() < 0)
		return 1;
	fill_blob();
	return cmocka_run_group_tests_name("relay_wire", tests, NULL, NULL);
}
