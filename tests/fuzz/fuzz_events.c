/* Fuzz target for the event log's stored values (node/events.c): the
 * input is what the EVENTS table holds under one seq, as if the database
 * had been changed on disk.  It goes through the real read path of a real
 * store (events_read from the store, memory empty).  Invariants (abort on
 * a broken one):
 *   - events_read passes exactly one event, under that seq;
 *   - it is events.unreadable unless the value is a well-formed stored
 *     event: a sealed one (0x01 || nonce || ct that authenticates under
 *     the events key for that seq) or a message.status event stored as
 *     it is (printable ASCII that names its own seq first);
 *   - what it passes has a type of [a-z0-9._] and json without a control
 *     character (a NUL or newline would break the API's line).
 * The first input byte picks a second mode: the rest of the input is
 * taken as the plaintext of an event, sealed here with the right key and
 * the documented associated data, so that plaintexts that authenticate
 * but are malformed (no NUL, empty type) reach the reader too; and a
 * third: the rest sealed as a version 0x02 value (an event whose body the
 * history holds: header, then type NUL json without the body), read with
 * a body function that answers a body full of characters to escape, no
 * such message, or a message that does not open, as the header's first
 * byte says.  In that mode only the invariants above are checked. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/cx.h"
#include "crypto/keys.h"
#include "crypto/prim.h"
#include "node/events.h"
#include "tests/fuzz/store_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SEQ 7

static struct {
	bool ready, failed;
	struct fuzz_store fs;
	struct events ev;
	uint8_t key[CX_KEY_LEN];
} env;

static int body_fn(void *ctx, struct store_txn *t, const uint8_t peer[32],
		   uint64_t seq, const uint8_t id[16], uint8_t **body,
		   size_t *len);

static void env_free(void)
{
	events_close(&env.ev);
	fuzz_store_close(&env.fs);
}

static bool env_init(void)
{
	if (env.ready || env.failed)
		return env.ready;
	env.failed = true;
	if (fuzz_store_open(&env.fs, 0x7654321) < 0)
		return false;
	if (cx_store_subkey(env.key, &env.fs.id, 1, "eventlg1") < 0 ||
	    events_open(&env.ev, env.fs.s, 100, &env.fs.id,
			&env.fs.rng.rng) < 0) {
		fuzz_store_close(&env.fs);
		return false;
	}
	/* the log's newest seq is SEQ, with nothing kept in memory */
	env.ev.last_seq = SEQ;
	events_set_body_fn(&env.ev, body_fn, NULL);
	atexit(env_free);
	env.failed = false;
	env.ready = true;
	return true;
}

struct put {
	const uint8_t *val;
	size_t len;
};

static int put_txn(struct store_txn *t, void *arg)
{
	struct put *p = arg;
	uint8_t key[8] = {0, 0, 0, 0, 0, 0, 0, SEQ};

	return store_put(t, STORE_TABLE_EVENTS, key, 8, p->val, p->len);
}

struct got {
	int n;
	uint64_t seq;
	bool unreadable;
};

static int got_cb(void *ctx, uint64_t seq, const char *type,
		  const char *json, size_t json_len)
{
	struct got *g = ctx;

	g->n++;
	g->seq = seq;
	g->unreadable = strcmp(type, EVENTS_UNREADABLE) == 0;
	if (strlen(type) == 0)
		abort();
	for (size_t i = 0; i < json_len; i++)
		if ((unsigned char)json[i] < 0x20)
			abort();
	return 0;
}

static int body_fn(void *ctx, struct store_txn *t, const uint8_t peer[32],
		   uint64_t seq, const uint8_t id[16], uint8_t **body,
		   size_t *len)
{
	static const char b[] = "a \"quoted\"\n\\ body \x01 \xc3\xa9";

	(void)ctx;
	(void)t;
	(void)seq;
	(void)id;
	if (peer[0] % 3 == 1)
		return -ENOENT;
	if (peer[0] % 3 == 2)
		return -EBADMSG;
	if ((*body = malloc(sizeof b)) == NULL)
		return -ENOMEM;
	memcpy(*body, b, sizeof b);
	*len = sizeof b - 1;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char clear[] = "message.status";
	uint8_t *val = NULL;
	struct put p = {data, size};
	struct got g = {0};
	bool may_read;
	int r;

	if (size == 0 || size > 70000 || !env_init())
		return 0;
	if (data[0] == 0xf5 || data[0] == 0xf6) { /* seal the rest */
		uint8_t ad[15 + 8];

		val = malloc(1 + CX_XCHACHA_NONCE_LEN + size - 1 +
			     CX_AEAD_TAG_LEN);
		if (val == NULL)
			return 0;
		val[0] = data[0] == 0xf5 ? 0x01 : 0x02;
		memset(val + 1, 0x33, CX_XCHACHA_NONCE_LEN);
		memcpy(ad, data[0] == 0xf5 ? "parley event v1" : "parley event v2",
		       15);
		memset(ad + 15, 0, 8);
		ad[22] = SEQ;
		if (cx_xchacha_seal(val + 1 + CX_XCHACHA_NONCE_LEN,
				    size - 1 + CX_AEAD_TAG_LEN, data + 1,
				    size - 1, ad, sizeof ad, val + 1,
				    env.key) != 0)
			abort();
		p.val = val;
		p.len = 1 + CX_XCHACHA_NONCE_LEN + size - 1 + CX_AEAD_TAG_LEN;
		/* it opens; it reads as an event when it holds type NUL
		 * with a type of 1 to 63 characters of [a-z0-9._] */
		may_read = false;
		for (size_t i = 1; data[0] == 0xf5 && i < size &&
				   i <= EVENTS_TYPE_MAX;
		     i++) {
			uint8_t c = data[i];

			if (c == 0) {
				/* a type, then an object without control
				 * characters; a sealed events.unreadable
				 * passes as one, so it proves nothing */
				may_read = i > 1 && size - i >= 3 &&
					   data[i + 1] == '{' &&
					   data[size - 1] == '}' &&
					   !(i - 1 == strlen(EVENTS_UNREADABLE) &&
					     memcmp(data + 1, EVENTS_UNREADABLE,
						    i - 1) == 0);
				for (size_t j = i + 1; may_read && j < size;
				     j++)
					may_read = data[j] >= 0x20;
				break;
			}
			if (!((c >= 'a' && c <= 'z') ||
			      (c >= '0' && c <= '9') || c == '.' || c == '_'))
				break;
		}
	} else {
		/* stored as it is: message.status NUL, then printable ASCII
		 * starting with its own seq */
		static const char head[] = "{\"seq\":7,";

		may_read = size >= sizeof clear + sizeof head - 1 &&
			   memcmp(data, clear, sizeof clear) == 0 &&
			   memcmp(data + sizeof clear, head,
				  sizeof head - 1) == 0;
		for (size_t i = sizeof clear; may_read && i < size; i++)
			may_read = data[i] >= 0x20 && data[i] <= 0x7e;
		may_read = may_read && data[size - 1] == '}';
	}
	if (store_write(env.fs.s, put_txn, &p) < 0)
		abort();
	r = events_read(&env.ev, SEQ - 1, 5, got_cb, &g);
	if (r != 1 || g.n != 1 || g.seq != SEQ)
		abort();
	if (!may_read && !g.unreadable && data[0] != 0xf6)
		abort();
	if (may_read && g.unreadable)
		abort();
	free(val);
	return 0;
}
