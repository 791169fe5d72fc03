/* Fuzz target for relay mailbox blobs (node/mailbox.c), what a recipient
 * takes from its relays: hostile relays return anything.  The first input
 * byte picks the mode:
 *   - even: the rest is a blob, opened with the fixture's pair, owner and
 *     epoch (mailbox_open).  The seeds are genuine blobs; every byte of a
 *     blob is authenticated, so what the fuzzer changes must be refused.
 *   - odd: the rest is the plaintext of a part (mailbox__part_decode), as
 *     if sealed by the contact: malformed but authentic parts.
 *   - 2: the rest is a request blob (version 2), opened with the
 *     fixture's prekey (mailbox_req_open).
 * Invariants (abort on a broken one): an accepted part has 1 <= count <=
 * MAILBOX_PARTS_MAX, index < count, 1 <= chunk_len <= MAILBOX_CHUNK, a
 * full chunk unless it is the last, and its chunk inside the buffer it
 * was decoded from; an accepted part re-seals and opens to the same
 * fields; a genuine blob changed anywhere is refused; a refused input
 * leaves the output untouched. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "crypto/prim.h"
#include "node/mailbox.h"
#include "tests/fuzz/cx_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t pair[MAILBOX_PAIR_LEN] = {0x70, 0x61, 0x69, 0x72};
static const uint8_t owner[32] = {0x6f, 0x77, 0x6e};
#define EPOCH 2900u

static void check_part(const struct mailbox_part *p, const uint8_t *buf,
		       size_t len)
{
	FUZZ_CHECK(p->count >= 1 && p->count <= MAILBOX_PARTS_MAX);
	FUZZ_CHECK(p->index < p->count);
	FUZZ_CHECK(p->chunk_len >= 1 && p->chunk_len <= MAILBOX_CHUNK);
	FUZZ_CHECK(p->index + 1 == p->count || p->chunk_len == MAILBOX_CHUNK);
	FUZZ_CHECK(p->chunk >= buf && p->chunk + p->chunk_len <= buf + len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t pt[RELAY_BLOB_MAX], blob[RELAY_BLOB_MAX],
		pt2[RELAY_BLOB_MAX];
	struct mailbox_part p, untouched, q;
	static uint8_t spk_sk[32], spk_pk[32];
	static bool req_ready;
	struct fuzz_rng rng;
	size_t len;
	int r;

	if (size < 1)
		return 0;
	memset(&p, 0xa5, sizeof p);
	untouched = p;
	if (data[0] == 2) {
		/* a request blob, opened with the fixture's prekey */
		uint32_t id;

		if (!req_ready) {
			memset(spk_sk, 0x35, sizeof spk_sk);
			cx_x25519_public(spk_pk, spk_sk);
			req_ready = true;
		}
		r = mailbox_req_open(&p, pt, sizeof pt, data + 1, size - 1,
				     spk_sk, spk_pk);
		if (r < 0) {
			FUZZ_CHECK(r == -EBADMSG || r == -EKEYREJECTED);
			FUZZ_CHECK(memcmp(&p, &untouched, sizeof p) == 0);
			return 0;
		}
		FUZZ_CHECK(mailbox_req_spk_id(data + 1, size - 1, &id) == 0);
		FUZZ_CHECK(p.count >= 1 && p.count <= MAILBOX_PARTS_MAX &&
			   p.index < p.count && p.chunk_len >= 1 &&
			   p.chunk_len <= MAILBOX_REQ_CHUNK);
		FUZZ_CHECK(p.index + 1 == p.count ||
			   p.chunk_len == MAILBOX_REQ_CHUNK);
		return 0;
	}
	if (data[0] & 1) {
		r = mailbox__part_decode(&p, data + 1, size - 1);
		if (r < 0) {
			FUZZ_CHECK(r == -EBADMSG);
			FUZZ_CHECK(memcmp(&p, &untouched, sizeof p) == 0);
			return 0;
		}
		check_part(&p, data + 1, size - 1);
		/* what decodes seals and opens back to itself */
		fuzz_rng_init(&rng, size);
		FUZZ_CHECK(mailbox_seal(blob, sizeof blob, &len, pair, owner,
					EPOCH, &p, &rng.rng) == 0);
		FUZZ_CHECK(mailbox_open(&q, pt2, sizeof pt2, blob, len, pair,
					owner, EPOCH) == 0);
		FUZZ_CHECK(q.flags == p.flags && q.tag == p.tag &&
			   q.n == p.n && q.index == p.index &&
			   q.count == p.count && q.chunk_len == p.chunk_len &&
			   memcmp(q.chunk, p.chunk, p.chunk_len) == 0);
		/* and any changed byte of that blob is refused */
		blob[size % len] ^= 0x01;
		FUZZ_CHECK(mailbox_open(&q, pt2, sizeof pt2, blob, len, pair,
					owner, EPOCH) < 0);
		return 0;
	}
	r = mailbox_open(&p, pt, sizeof pt, data + 1, size - 1, pair, owner,
			 EPOCH);
	if (r < 0) {
		FUZZ_CHECK(r == -EBADMSG || r == -EKEYREJECTED);
		return 0;
	}
	check_part(&p, pt, sizeof pt);
	/* another epoch's key does not open it */
	FUZZ_CHECK(mailbox_open(&q, pt2, sizeof pt2, data + 1, size - 1, pair,
				owner, EPOCH + 1) == -EKEYREJECTED);
	return 0;
}
