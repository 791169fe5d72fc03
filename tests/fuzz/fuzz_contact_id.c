/* Fuzz target: the contact ID decoder (crypto/keys.c).
 *
 * The input, cut at 255 bytes and NUL-terminated, is decoded.
 * Invariants (abort on a broken one):
 *  - the result is 0 or -EBADMSG;
 *  - on success the input is the canonical encoding of the key, up to the
 *    case of its letters and an optional "parley:" prefix, so no two
 *    accepted strings name different keys by accident;
 * and, with the first 32 input bytes as a key, encoding gives 56 lower-case
 *    alphabet characters that decode back to the same key. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crypto/keys.h"

static void check(int ok)
{
	if (!ok)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
	static int inited;
	char s[256], id[CX_CONTACT_ID_LEN + 1];
	uint8_t pk[CX_ED_PK_LEN], back[CX_ED_PK_LEN];
	const char *body;
	size_t len = size < sizeof s - 1 ? size : sizeof s - 1;
	int r;

	if (!inited) {
		if (cx_init() < 0)
			abort();
		inited = 1;
	}
	memcpy(s, data, len);
	s[len] = '\0';
	r = cx_contact_id_decode(pk, s);
	check(r == 0 || r == -EBADMSG);
	if (r == 0) {
		body = strncasecmp(s, "parley:", 7) == 0 ? s + 7 : s;
		check(cx_contact_id_encode(id, sizeof id, pk) == 0);
		check(strlen(body) == CX_CONTACT_ID_LEN);
		check(strcasecmp(body, id) == 0);
	}
	if (size >= CX_ED_PK_LEN) {
		check(cx_contact_id_encode(id, sizeof id, data) == 0);
		check(strlen(id) == CX_CONTACT_ID_LEN);
		check(strspn(id, alphabet) == CX_CONTACT_ID_LEN);
		check(cx_contact_id_decode(back, id) == 0);
		check(memcmp(back, data, CX_ED_PK_LEN) == 0);
	}
	return 0;
}
