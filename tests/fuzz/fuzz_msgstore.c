/* Fuzz target for the stored-record decoders of node/msgstore (contact
 * record and its sealed plaintext, message record, MSGIDS and OUTBOX
 * values, the UTF-8 check).  The first input byte picks the decoder, the
 * rest is the stored value.  Invariants (abort on a broken one):
 *   - a decoder either refuses (-EBADMSG) or accepts;
 *   - what it accepts encodes back to exactly the same bytes (one
 *     encoding per value, so nothing odd survives a rewrite);
 *   - accepted names and greetings are valid UTF-8 within their max.
 * One more mode goes through the whole read path of a real store: the
 * input is the plaintext inside a body's seal (a zstd frame, or garbage),
 * sealed here with the right key and the documented associated data, so
 * that decompression and the body checks meet hostile content that
 * authenticates.  msgstore_list must then return the body within its max
 * and valid, or -EBADMSG, never anything else. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto/cx.h"
#include "crypto/keys.h"
#include "crypto/prim.h"
#include "node/msgstore.h"
#include "tests/fuzz/store_fuzz.h"

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

/* A store in a temporary directory, made on first use, removed at exit. */
static struct {
	struct fuzz_store fs;
	struct msgstore *ms;
	uint8_t body_key[CX_KEY_LEN];
	bool ready, failed;
} env;

static void env_free(void)
{
	msgstore_close(env.ms);
	fuzz_store_close(&env.fs);
}

static bool env_init(void)
{
	if (env.ready || env.failed)
		return env.ready;
	env.failed = true;
	if (fuzz_store_open(&env.fs, 0x1234567) < 0)
		return false;
	if (msgstore_open(&env.ms, env.fs.s, &env.fs.id, &env.fs.rng.rng) <
		    0 ||
	    cx_store_subkey(env.body_key, &env.fs.id, 1, "msgbody1") < 0) {
		env_free();
		return false;
	}
	atexit(env_free);
	env.failed = false;
	env.ready = true;
	return true;
}

struct sealed_put {
	const uint8_t *rec;
	size_t len;
};

static int sealed_put_txn(struct store_txn *t, void *arg)
{
	struct sealed_put *sp = arg;
	uint8_t key[40];

	memset(key, 0xab, 32);
	memset(key + 32, 0, 8);
	key[39] = 1;
	return store_put(t, STORE_TABLE_MESSAGES, key, sizeof key, sp->rec,
			 sp->len);
}

static void fuzz_sealed(const uint8_t *p, size_t n)
{
	static const char tag[] = "parley msgbody v1";
	struct msgstore__msg_rec r;
	struct msgstore_msg m;
	struct sealed_put sp;
	uint8_t peer[32], ad[131], *q, *ct, *rec;
	size_t len = 0, got = 0;
	int rc;

	if (n < 1 || !env_init())
		return;
	memset(peer, 0xab, sizeof peer);
	memset(&r, 0, sizeof r);
	r.dir = (p[0] & 1) ? MSGSTORE_DIR_IN : MSGSTORE_DIR_OUT;
	r.status = r.dir == MSGSTORE_DIR_IN ? MSGSTORE_STATUS_RECEIVED
					    : MSGSTORE_STATUS_DELIVERED;
	r.flags = (p[0] & 2) ? MSGSTORE__MSG_FLAG_REPLY : 0;
	if (r.flags)
		memset(r.reply_to, p[0], sizeof r.reply_to);
	if (p[0] & 4) /* the body kept raw, not a zstd frame */
		r.flags |= MSGSTORE__MSG_FLAG_RAW;
	memset(r.id, 0x11, sizeof r.id);
	memset(r.from, 0x22, sizeof r.from);
	r.sent_ms = p[0];
	memset(r.nonce, p[0], sizeof r.nonce);
	p++;
	n--;
	q = ad;
	memcpy(q, tag, 17);
	q += 17;
	memcpy(q, peer, 32);
	q += 32;
	memset(q, 0, 7);
	q[7] = 1;
	q += 8;
	memcpy(q, r.id, 16);
	q += 16;
	*q++ = r.dir;
	memcpy(q, r.from, 32);
	q += 32;
	for (int i = 7; i >= 0; i--)
		q[7 - i] = (uint8_t)(r.sent_ms >> (8 * i));
	q += 8;
	*q++ = r.flags & MSGSTORE__MSG_FLAGS;
	memcpy(q, r.reply_to, 16);
	ct = malloc(n + MSGSTORE_TAG_LEN);
	rec = malloc(MSGSTORE__MSG_HDR_LEN + n + MSGSTORE_TAG_LEN);
	if (ct == NULL || rec == NULL)
		goto out;
	if (cx_xchacha_seal(ct, n + MSGSTORE_TAG_LEN, p, n, ad, sizeof ad,
			    r.nonce, env.body_key) != 0)
		abort();
	r.ct = ct;
	r.ct_len = n + MSGSTORE_TAG_LEN;
	if (msgstore__msg_rec_encode(&r, rec, MSGSTORE__MSG_HDR_LEN + r.ct_len,
				     &len) != 0)
		goto out; /* too long for a record: nothing to test */
	sp.rec = rec;
	sp.len = len;
	if (store_write(env.fs.s, sealed_put_txn, &sp) != 0)
		abort();
	rc = msgstore_list(env.ms, peer, NULL, 1, &m, &got);
	if (rc == 0) {
		if (got != 1 || m.body_len > MSGSTORE_BODY_MAX ||
		    m.body == NULL || m.body[m.body_len] != 0 ||
		    !msgstore__utf8_valid(m.body, m.body_len, true) ||
		    m.dir != r.dir || m.seq != 1)
			abort();
		msgstore_msg_clear(&m);
	} else if (rc != -EBADMSG) {
		abort(); /* -EKEYREJECTED: the documented AD is wrong */
	}
out:
	free(ct);
	free(rec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	switch (data[0] % 7) {
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
	case 6:
		fuzz_sealed(data + 1, size - 1);
		break;
	}
	return 0;
}
