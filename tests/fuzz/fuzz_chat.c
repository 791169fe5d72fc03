/* Fuzz target: the codecs of node/chat_wire.c (frames on links, the
 * envelope inside the ratchet, request/accept bodies, session records).
 * Input: selector(1) || bytes.  Invariants: no crash, no read outside the
 * input; whatever a decoder accepts encodes back to exactly the same
 * bytes (so there is one encoding of everything it accepts). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "node/chat_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void same(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	if (alen != blen || memcmp(a, b, alen) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[CW_SESS_FIXED + 70000];
	const uint8_t *p = data + 1;
	size_t n = size - 1, len = 0;

	if (size < 1)
		return 0;
	switch (data[0] % 7) {
	case 0: {
		struct cw_hello h;

		if (cw_hello_decode(&h, p, n) == 0) {
			cw_hello_encode(out, &h);
			same(out, CW_HELLO_LEN, p, n);
		}
		break;
	}
	case 1: {
		struct cw_data d;

		if (cw_data_decode(&d, p, n) == 0) {
			cw_data_hdr(out, &d);
			memcpy(out + CW_DATA_HDR, d.chunk, d.chunk_len);
			same(out, CW_DATA_HDR + d.chunk_len, p, n);
			if (d.chunk_len > CW_DATA_CHUNK || d.index >= d.count)
				abort();
		}
		break;
	}
	case 2: {
		struct cw_env e;

		if (cw_env_decode(&e, p, n) == 0) {
			if (cw_env_encode(out, sizeof out, &len, &e) != 0)
				abort();
			same(out, len, p, n);
		}
		break;
	}
	case 3:
	case 4: {
		char name[MSGSTORE_NAME_MAX + 1];
		char greet[MSGSTORE_GREETING_MAX + 1];
		bool with = data[0] % 7 == 3;

		if (cw_intro_decode(p, n, with, name, greet) == 0) {
			if (cw_intro_encode(out, sizeof out, &len, name, greet,
					    with) != 0)
				abort();
			same(out, len, p, n);
		}
		break;
	}
	case 5: {
		struct cw_sess s;

		if (n <= sizeof out && cw_sess_decode(&s, p, n) == 0) {
			if (cw_sess_encode(out, sizeof out, &len, &s) != 0)
				abort();
			same(out, len, p, n);
		}
		break;
	}
	case 6: {
		/* a batch: what check accepts walks to its end in frames
		 * that rebuild it byte for byte */
		const uint8_t *f;
		size_t off = 1, flen;
		int r;

		if (cw_batch_check(p, n) != 0)
			break;
		out[0] = CF_BATCH;
		len = 1;
		while ((r = cw_batch_next(p, n, &off, &f, &flen)) > 0) {
			if (flen == 0 || flen > CW_BATCH_FRAME_MAX ||
			    f[0] == CF_BATCH)
				abort();
			out[len] = (uint8_t)(flen >> 8);
			out[len + 1] = (uint8_t)flen;
			memcpy(out + len + 2, f, flen);
			len += 2 + flen;
		}
		if (r != 0)
			abort();
		same(out, len, p, n);
		break;
	}
	}
	return 0;
}
