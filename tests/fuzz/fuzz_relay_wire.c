/* Fuzz target: the relay frame codecs (node/relay_wire.c).  Every decoder
 * runs on the whole input.  Invariants: no crash, no read outside the
 * input; at most one decoder accepts it (each wants its own type byte); a
 * refusal is -EBADMSG and leaves the output untouched; whatever a decoder
 * accepts encodes back to exactly the same bytes, and an accepted ITEMS
 * frame walks to its end in items that rw_items_begin and rw_items_add
 * rebuild byte for byte (so every frame has one encoding). */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "node/relay_wire.h"
#include "tests/fuzz/cx_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Room for any ITEMS frame the fuzzer sends (run.sh caps inputs at 64 KiB,
 * the stand-alone driver at 2 KiB of random bytes). */
static uint8_t out[1u << 17];

static void same(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	FUZZ_CHECK(alen == blen && memcmp(a, b, alen) == 0);
}

#define UNTOUCHED 0xa5 /* what outputs hold before a decoder runs */

/* A decoder's verdict on an output of o_len bytes that held UNTOUCHED
 * everywhere: 1 accepted; 0 refused as it should be, with -EBADMSG and
 * nothing written. */
static int verdict(int r, const void *o, size_t o_len)
{
	const uint8_t *p = o;

	if (r == 0)
		return 1;
	FUZZ_CHECK(r == -EBADMSG);
	for (size_t i = 0; i < o_len; i++)
		FUZZ_CHECK(p[i] == UNTOUCHED);
	return 0;
}

static int try_deposit(const uint8_t *data, size_t size)
{
	struct rw_deposit d;
	size_t len = 0;

	memset(&d, UNTOUCHED, sizeof d);
	if (!verdict(rw_deposit_decode(&d, data, size), &d, sizeof d))
		return 0;
	FUZZ_CHECK(d.blob == data + RW_DEPOSIT_HDR);
	FUZZ_CHECK(d.blob_len >= 1 && d.blob_len <= RELAY_BLOB_MAX);
	FUZZ_CHECK(rw_deposit_encode(out, sizeof out, &len, &d) == 0);
	same(out, len, data, size);
	return 1;
}

static int try_deposit_res(const uint8_t *data, size_t size)
{
	struct rw_deposit_res r;
	size_t len = 0;

	memset(&r, UNTOUCHED, sizeof r);
	if (!verdict(rw_deposit_res_decode(&r, data, size), &r, sizeof r))
		return 0;
	FUZZ_CHECK((r.code <= RC_MAX_) ==
		   (strcmp(relay_code_str(r.code), "unknown") != 0));
	FUZZ_CHECK(rw_deposit_res_encode(out, sizeof out, &len, &r) == 0);
	same(out, len, data, size);
	return 1;
}

static int try_fetch(const uint8_t *data, size_t size)
{
	static const uint8_t relay_pk[32] = {0x42};
	uint8_t msg[RW_FETCH_SIGMSG_LEN];
	struct rw_fetch f;
	size_t len = 0;

	memset(&f, UNTOUCHED, sizeof f);
	if (!verdict(rw_fetch_decode(&f, data, size), &f, sizeof f))
		return 0;
	FUZZ_CHECK(rw_fetch_encode(out, sizeof out, &len, &f) == 0);
	same(out, len, data, size);
	/* The signed message repeats the frame from req to ts_s. */
	rw_fetch_sigmsg(msg, relay_pk, &f);
	FUZZ_CHECK(memcmp(msg, RW_FETCH_SIG_LABEL, sizeof RW_FETCH_SIG_LABEL) ==
		   0);
	FUZZ_CHECK(memcmp(msg + sizeof RW_FETCH_SIG_LABEL, relay_pk, 32) == 0);
	same(msg + sizeof RW_FETCH_SIG_LABEL + 32,
	     RW_FETCH_SIGMSG_LEN - sizeof RW_FETCH_SIG_LABEL - 32, data + 1,
	     RW_FETCH_LEN - 1 - RELAY_SIG_LEN);
	return 1;
}

static int try_items(const uint8_t *data, size_t size)
{
	struct rw_items h;
	const uint8_t *blob;
	size_t len = 0, off = RW_ITEMS_HDR, blob_len;
	uint64_t seq;
	int r;

	memset(&h, UNTOUCHED, sizeof h);
	if (!verdict(rw_items_decode(&h, data, size), &h, sizeof h))
		return 0;
	FUZZ_CHECK((h.flags & ~RW_ITEMS_MORE) == 0);
	if (size > sizeof out)
		return 1;
	FUZZ_CHECK(rw_items_begin(out, sizeof out, &len, &h) == 0);
	while ((r = rw_items_next(data, size, &off, &seq, &blob, &blob_len)) >
	       0) {
		FUZZ_CHECK(h.code == RC_OK);
		FUZZ_CHECK(blob_len >= 1 && blob_len <= RELAY_BLOB_MAX);
		/* Refuses a seq not above the previous one, so this also
		 * checks that the decoder saw them strictly increasing. */
		FUZZ_CHECK(rw_items_add(out, sizeof out, &len, seq, blob,
					blob_len) == 0);
	}
	FUZZ_CHECK(r == 0 && off == size);
	same(out, len, data, size);
	return 1;
}

/* The request mailbox frames and NOTIFY: the same round trip. */
static int try_requests(const uint8_t *data, size_t size)
{
	struct rw_deposit_req d;
	struct rw_fetch_req f;
	uint8_t mbox[RELAY_MAILBOX_LEN];
	size_t len = 0;
	int n = 0;

	memset(&d, UNTOUCHED, sizeof d);
	if (verdict(rw_deposit_req_decode(&d, data, size), &d, sizeof d)) {
		FUZZ_CHECK(d.d.blob == data + RW_DEPOSIT_REQ_HDR);
		FUZZ_CHECK(d.d.blob_len >= 1 && d.d.blob_len <= RELAY_BLOB_MAX);
		FUZZ_CHECK(rw_deposit_req_encode(out, sizeof out, &len, &d) ==
			   0);
		same(out, len, data, size);
		n++;
	}
	memset(&f, UNTOUCHED, sizeof f);
	if (verdict(rw_fetch_req_decode(&f, data, size), &f, sizeof f)) {
		FUZZ_CHECK(rw_fetch_req_encode(out, sizeof out, &len, &f) ==
			   0);
		same(out, len, data, size);
		n++;
	}
	memset(mbox, UNTOUCHED, sizeof mbox);
	if (verdict(rw_notify_decode(mbox, data, size), mbox, sizeof mbox)) {
		rw_notify_encode(out, mbox);
		same(out, RW_NOTIFY_LEN, data, size);
		n++;
	}
	return n;
}

/* POLL and POLL_RES: the same round trip; the answer's bits past n (and
 * all of them when the code refuses) are zero. */
static int try_polls(const uint8_t *data, size_t size)
{
	struct rw_poll p;
	struct rw_poll_res r;
	size_t len = 0;
	int n = 0;

	memset(&p, UNTOUCHED, sizeof p);
	if (verdict(rw_poll_decode(&p, data, size), &p, sizeof p)) {
		FUZZ_CHECK(p.n >= 1 && p.n <= RW_POLL_MAX);
		FUZZ_CHECK(p.mailbox == data + RW_POLL_HDR);
		FUZZ_CHECK(rw_poll_encode(out, sizeof out, &len, &p) == 0);
		same(out, len, data, size);
		n++;
	}
	memset(&r, UNTOUCHED, sizeof r);
	if (verdict(rw_poll_res_decode(&r, data, size), &r, sizeof r)) {
		FUZZ_CHECK(r.n >= 1 && r.n <= RW_POLL_MAX);
		for (unsigned i = r.n; i < RW_POLL_MAX; i++)
			FUZZ_CHECK(!rw_poll_res_has(&r, i) &&
				   (r.bits[i / 8] >> (i % 8) & 1) == 0);
		FUZZ_CHECK(rw_poll_res_encode(out, sizeof out, &len, &r) == 0);
		same(out, len, data, size);
		n++;
	}
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int accepted = 0;

	accepted += try_requests(data, size);
	accepted += try_polls(data, size);

	accepted += try_deposit(data, size);
	accepted += try_deposit_res(data, size);
	accepted += try_fetch(data, size);
	accepted += try_items(data, size);
	FUZZ_CHECK(accepted <= 1);
	return 0;
}
