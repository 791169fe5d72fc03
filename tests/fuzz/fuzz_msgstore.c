/* Fuzz target for the stored-record decoders of node/msgstore (contact
 * record and its sealed plaintext, message record, MSGIDS and OUTBOX
 * values, the UTF-8 check).  The first input byte picks the decoder, the
 * rest is the stored value.  Invariants (abort on a broken one):
 *   - a decoder either refuses (-EBADMSG) or accepts;
 *   - what it accepts encodes back to exactly the same bytes (one
 *     encoding per value, so nothing odd survives a rewrite);
 *   - accepted names and greetings are valid UTF-8 within their max. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "node/msgstore.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_same(const uint8_t *a, size_t a_len, const uint8_t *b,
		       size_t b_len)
{
	if (a_len != b_len || memcmp(a, b, a_len) != 0)
		abort();
}

static void fuzz_contact_rec(const uint8_t *p, size_t n)
{
	struct msgstore__contact_rec r;
	uint8_t *out;
	size_t len = 0;
	int rc = msgstore__contact_rec_decode(&r, p, n);

	if (rc == -EBADMSG)
		return;
	if (rc != 0)
		abort();
	out = malloc(n);
	if (out == NULL)
		return;
	if (msgstore__contact_rec_encode(&r, out, n, &len) != 0)
		abort();
	check_same(p, n, out, len);
	free(out);
}

static void fuzz_contact_pt(const uint8_t *p, size_t n)
{
	struct msgstore_contact c;
	uint8_t out[1 + MSGSTORE_NAME_MAX + 2 + MSGSTORE_GREETING_MAX];
	size_t len = 0;
	int rc;

	memset(&c, 0, sizeof c);
	rc = msgstore__contact_pt_decode(&c, p, n);
	if (rc == -EBADMSG)
		return;
	if (rc != 0)
		abort();
	if (strlen(c.name) > MSGSTORE_NAME_MAX ||
	    strlen(c.greeting) > MSGSTORE_GREETING_MAX ||
	    !msgstore__utf8_valid((const uint8_t *)c.name, strlen(c.name),
				  false) ||
	    !msgstore__utf8_valid((const uint8_t *)c.greeting,
				  strlen(c.greeting), false))
		abort();
	if (msgstore__contact_pt_encode(&c, out, sizeof out, &len) != 0)
		abort();
	check_same(p, n, out, len);
}

static void fuzz_msg_rec(const uint8_t *p, size_t n)
{
	struct msgstore__msg_rec r;
	uint8_t *out;
	size_t len = 0;
	int rc = msgstore__msg_rec_decode(&r, p, n);

	if (rc == -EBADMSG)
		return;
	if (rc != 0)
		abort();
	if (r.ct_len < MSGSTORE_TAG_LEN)
		abort();
	out = malloc(n);
	if (out == NULL)
		return;
	if (msgstore__msg_rec_encode(&r, out, n, &len) != 0)
		abort();
	check_same(p, n, out, len);
	free(out);
}

static void fuzz_msgid(const uint8_t *p, size_t n)
{
	struct msgstore__msgid_rec r;
	uint8_t out[MSGSTORE__MSGID_LEN];
	int rc = msgstore__msgid_rec_decode(&r, p, n);

	if (rc == -EBADMSG)
		return;
	if (rc != 0 || r.seq == 0)
		abort();
	if (msgstore__msgid_rec_encode(&r, out) != 0)
		abort();
	check_same(p, n, out, sizeof out);
}

static void fuzz_outbox(const uint8_t *p, size_t n)
{
	struct msgstore_outbox_entry e;
	uint8_t out[MSGSTORE__OUTBOX_LEN];
	int rc = msgstore__outbox_rec_decode(&e, p, n);

	if (rc == -EBADMSG)
		return;
	if (rc != 0)
		abort();
	if (msgstore__outbox_rec_encode(&e, out) != 0)
		abort();
	check_same(p, n, out, sizeof out);
}

/* The validator against a plain reference decoder. */
static void fuzz_utf8(const uint8_t *p, size_t n)
{
	bool ok = msgstore__utf8_valid(p, n, true);
	bool ref = true;
	size_t i = 0;

	while (i < n && ref) {
		uint32_t cp;
		size_t k;

		if (p[i] < 0x80) {
			i++;
			continue;
		}
		if ((p[i] & 0xe0) == 0xc0) {
			k = 1;
			cp = p[i] & 0x1f;
		} else if ((p[i] & 0xf0) == 0xe0) {
			k = 2;
			cp = p[i] & 0x0f;
		} else if ((p[i] & 0xf8) == 0xf0) {
			k = 3;
			cp = p[i] & 0x07;
		} else {
			ref = false;
			break;
		}
		if (i + k >= n) {
			ref = false;
			break;
		}
		for (size_t j = 1; j <= k; j++) {
			if ((p[i + j] & 0xc0) != 0x80)
				ref = false;
			cp = cp << 6 | (p[i + j] & 0x3f);
		}
		if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) ||
		    (k == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			ref = false;
		i += k + 1;
	}
	if (ok != ref)
		abort();
	if (msgstore__utf8_valid(p, n, false) &&
	    (!ok || memchr(p, 0, n) != NULL))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	switch (data[0] % 6) {
	case 0:
		fuzz_contact_rec(data + 1, size - 1);
		break;
	case 1:
		fuzz_contact_pt(data + 1, size - 1);
		break;
	case 2:
		fuzz_msg_rec(data + 1, size - 1);
		break;
	case 3:
		fuzz_msgid(data + 1, size - 1);
		break;
	case 4:
		fuzz_outbox(data + 1, size - 1);
		break;
	case 5:
		fuzz_utf8(data + 1, size - 1);
		break;
	}
	return 0;
}
