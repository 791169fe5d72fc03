/* Unit tests for node/relaystore over a real store in a mkdtemp()
 * directory: deposit and fetch in order with `after`; seqs that increase
 * across mailboxes and never repeat; a callback that stops a fetch; the
 * mailbox count and byte limits (-EDQUOT), the source quota (-EUSERS) and
 * the relay's byte budget (-ENOSPC), which write nothing; delete_upto and
 * expiry, counted down to the last row of the RELAY table and off the
 * source records; items stored before sources were kept (version 1);
 * corrupt stored values (-EBADMSG, and store_write aborts what the
 * transaction did before); bad blob sizes; the defaults; and a reopen. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "node/bytes.h"
#include "node/relaystore.h"
#include "store/store.h"

#include "tests/unit/store_testutil.h"

#define T0 1700000000ull

static int setup(void **state)
{
	return (*state = store_fixture_new("relay", 8u << 20)) != NULL ? 0
								      : -1;
}

static int teardown(void **state)
{
	store_fixture_free(*state);
	return 0;
}

static void mailbox_of(uint8_t mb[RELAY_MAILBOX_LEN], uint8_t fill)
{
	memset(mb, fill, RELAY_MAILBOX_LEN);
}

static struct store_txn *begin(struct store_fixture *f, bool write)
{
	struct store_txn *t = NULL;

	assert_int_equal(store_txn_begin(f->s, write, &t), 0);
	return t;
}

/* Ends a write transaction: commits it when r is 0, else aborts it. */
static int finish(struct store_txn *t, int r)
{
	if (r == 0)
		assert_int_equal(store_txn_commit(t), 0);
	else
		store_txn_abort(t);
	return r;
}

/* Ends a read transaction. */
static int finish_read(struct store_txn *t, int r)
{
	store_txn_abort(t);
	return r;
}

/* Sources (relaystore.h): opaque tags, all zero the unknown one. */
static const uint8_t src_a[RELAYSTORE_SOURCE_LEN] = {0x0a, 1};
static const uint8_t src_b[RELAYSTORE_SOURCE_LEN] = {0x0b, 2};
static const uint8_t src_c[RELAYSTORE_SOURCE_LEN] = {0, 0, 0, 0, 0, 0, 0, 3};
static const uint8_t src_unknown[RELAYSTORE_SOURCE_LEN];

/* One deposit from src in its own write transaction, committed when it
 * succeeds; the blob is len bytes of fill. */
static int deposit_from(struct store_fixture *f,
			const struct relaystore_limits *lim, const uint8_t *src,
			const uint8_t *mb, size_t len, uint8_t fill,
			uint64_t now_s, uint64_t *seq)
{
	static uint8_t blob[RELAY_BLOB_MAX + 1];
	struct store_txn *t = begin(f, true);
	uint64_t s = 0;
	int r;

	memset(blob, fill, sizeof blob);
	r = relaystore_deposit(t, lim, mb, src, blob, len, now_s, &s);
	assert_true(r == 0 ? s != 0 : s == 0);
	if (seq != NULL)
		*seq = s;
	return finish(t, r);
}

/* A deposit from src_a. */
static int deposit(struct store_fixture *f, const struct relaystore_limits *lim,
		   const uint8_t *mb, size_t len, uint8_t fill, uint64_t now_s,
		   uint64_t *seq)
{
	return deposit_from(f, lim, src_a, mb, len, fill, now_s, seq);
}

static const struct relaystore_limits no_limits; /* all defaults */

static uint64_t dep_ok(struct store_fixture *f, const uint8_t *mb, size_t len,
		       uint8_t fill, uint64_t now_s)
{
	uint64_t seq = 0;

	assert_int_equal(deposit(f, &no_limits, mb, len, fill, now_s, &seq), 0);
	return seq;
}

/* What a fetch saw: seqs, lengths, and whether every blob was all one
 * byte (the tests' blobs are), which byte. */
#define GOT_MAX 512
struct got {
	uint64_t seq[GOT_MAX];
	size_t len[GOT_MAX];
	uint8_t fill[GOT_MAX];
	size_t n;
	size_t stop_at; /* return 1 after this many (0: never) */
	int fail;	/* return this on the first call (0: never) */
};

static int got_cb(void *ctx, uint64_t seq, const uint8_t *blob, size_t len)
{
	struct got *g = ctx;

	if (g->fail != 0)
		return g->fail;
	assert_true(g->n < GOT_MAX);
	assert_true(len >= 1 && len <= RELAY_BLOB_MAX);
	for (size_t i = 1; i < len; i++)
		assert_int_equal(blob[i], blob[0]);
	g->seq[g->n] = seq;
	g->len[g->n] = len;
	g->fill[g->n] = blob[0];
	g->n++;
	return g->stop_at != 0 && g->n == g->stop_at ? 1 : 0;
}

static int fetch(struct store_fixture *f, const uint8_t *mb, uint64_t after,
		 uint64_t now_s, struct got *g)
{
	struct store_txn *t = begin(f, false);

	g->n = 0;
	return finish_read(t, relaystore_fetch(t, mb, after, now_s, got_cb, g));
}

static int delete_upto(struct store_fixture *f, const uint8_t *mb, uint64_t upto,
		       unsigned *deleted)
{
	struct store_txn *t = begin(f, true);

	return finish(t, relaystore_delete_upto(t, mb, upto, deleted));
}

static int expire(struct store_fixture *f, uint64_t now_s, unsigned max,
		  unsigned *deleted)
{
	struct store_txn *t = begin(f, true);

	return finish(t, relaystore_expire(t, now_s, max, deleted));
}

static int stats(struct store_fixture *f, struct relaystore_stats *st)
{
	struct store_txn *t = begin(f, false);

	return finish_read(t, relaystore_stats(t, st));
}

static void stats_are(struct store_fixture *f, uint64_t items, uint64_t bytes,
		      uint64_t mailboxes)
{
	struct relaystore_stats st;

	assert_int_equal(stats(f, &st), 0);
	assert_int_equal(st.items, items);
	assert_int_equal(st.bytes, bytes);
	assert_int_equal(st.mailboxes, mailboxes);
}

/* Rows in the RELAY table: "T", one "B" per mailbox, one "S" per source,
 * "I" and "X" per item. */
static uint64_t rows(struct store_fixture *f)
{
	struct store_txn *t = begin(f, false);
	uint64_t n = 0;

	assert_int_equal(finish_read(t, store_count(t, STORE_TABLE_RELAY, &n)),
			 0);
	return n;
}

/* A deposit from src refused with want inside a write transaction that is
 * then committed all the same: it wrote nothing (the same rows and
 * figures as before) and handed out no seq. */
static void refused_writes_nothing(struct store_fixture *f,
				   const struct relaystore_limits *lim,
				   const uint8_t *src, const uint8_t *mb,
				   size_t len, int want)
{
	static const uint8_t blob[RELAY_BLOB_MAX];
	struct relaystore_stats before, after;
	struct store_txn *t;
	uint64_t n = rows(f), seq = 1;

	assert_int_equal(stats(f, &before), 0);
	t = begin(f, true);
	assert_int_equal(
		relaystore_deposit(t, lim, mb, src, blob, len, T0, &seq), want);
	assert_int_equal(seq, 0);
	assert_int_equal(store_txn_commit(t), 0);
	assert_int_equal(rows(f), n);
	assert_int_equal(stats(f, &after), 0);
	assert_memory_equal(&after, &before, sizeof after);
}

static void put_raw(struct store_fixture *f, const void *key, size_t key_len,
		    const void *val, size_t val_len)
{
	struct store_txn *t = begin(f, true);

	assert_int_equal(finish(t, store_put(t, STORE_TABLE_RELAY, key, key_len,
					     val, val_len)),
			 0);
}

static void item_key(uint8_t k[41], const uint8_t *mb, uint64_t seq)
{
	k[0] = 'I';
	memcpy(k + 1, mb, RELAY_MAILBOX_LEN);
	be64_put(k + 33, seq);
}

static void source_key(uint8_t k[9], const uint8_t *src)
{
	k[0] = 'S';
	memcpy(k + 1, src, RELAYSTORE_SOURCE_LEN);
}

/* src's "S" record, read raw: 0 with its counts, or -ENOENT. */
static int source_rec(struct store_fixture *f, const uint8_t *src,
		      uint64_t *items, uint64_t *bytes)
{
	struct store_txn *t = begin(f, false);
	uint8_t k[9], v[32];
	size_t len = 0;
	int r;

	source_key(k, src);
	r = finish_read(t, store_get(t, STORE_TABLE_RELAY, k, sizeof k, v,
				     sizeof v, &len));
	if (r < 0)
		return r;
	assert_int_equal(len, 13);
	assert_int_equal(v[0], 1);
	*items = be32_get(v + 1);
	*bytes = be64_get(v + 5);
	return 0;
}

static void source_is(struct store_fixture *f, const uint8_t *src,
		      uint64_t items, uint64_t bytes)
{
	uint64_t i = 0, b = 0;

	assert_int_equal(source_rec(f, src, &i, &b), 0);
	assert_int_equal(i, items);
	assert_int_equal(b, bytes);
}

static void source_gone(struct store_fixture *f, const uint8_t *src)
{
	uint64_t i, b;

	assert_int_equal(source_rec(f, src, &i, &b), -ENOENT);
}

static void test_defaults(void **state)
{
	struct relaystore_limits l = {0};
	struct relaystore_limits k = {
		.box_items = 1, .box_bytes = 2, .total_bytes = 3, .ttl_s = 4};

	(void)state;
	relaystore_limits_default(&l);
	assert_int_equal(l.box_items, 1024);
	assert_int_equal(l.box_bytes, 1024 * 1024);
	assert_int_equal(l.total_bytes, 256ull * 1024 * 1024);
	assert_int_equal(l.ttl_s, 14 * 86400ull);
	relaystore_limits_default(&k);
	assert_int_equal(k.box_items, 1);
	assert_int_equal(k.box_bytes, 2);
	assert_int_equal(k.total_bytes, 3);
	assert_int_equal(k.ttl_s, 4);
}

static void test_round_trip(void **state)
{
	struct store_fixture *f = *state;
	uint8_t a[RELAY_MAILBOX_LEN], b[RELAY_MAILBOX_LEN];
	uint64_t s1, s2, s3;
	struct got g = {0};

	mailbox_of(a, 0xaa);
	mailbox_of(b, 0xbb);
	/* Empty relay: nothing, no records. */
	assert_int_equal(fetch(f, a, 0, T0, &g), 0);
	assert_int_equal(g.n, 0);
	stats_are(f, 0, 0, 0);
	assert_int_equal(rows(f), 0);

	s1 = dep_ok(f, a, 10, 0x01, T0);
	s2 = dep_ok(f, a, RELAY_BLOB_MAX, 0x02, T0);
	s3 = dep_ok(f, a, 1, 0x03, T0);
	assert_int_equal(s1, 1); /* the first seq handed out */
	assert_true(s1 < s2 && s2 < s3);
	stats_are(f, 3, 11 + RELAY_BLOB_MAX, 1);
	assert_int_equal(rows(f), 1 + 1 + 1 + 2 * 3);
	source_is(f, src_a, 3, 11 + RELAY_BLOB_MAX);

	assert_int_equal(fetch(f, a, 0, T0, &g), 0);
	assert_int_equal(g.n, 3);
	assert_int_equal(g.seq[0], s1);
	assert_int_equal(g.len[0], 10);
	assert_int_equal(g.fill[0], 0x01);
	assert_int_equal(g.seq[1], s2);
	assert_int_equal(g.len[1], RELAY_BLOB_MAX);
	assert_int_equal(g.fill[1], 0x02);
	assert_int_equal(g.seq[2], s3);
	assert_int_equal(g.len[2], 1);
	assert_int_equal(g.fill[2], 0x03);

	assert_int_equal(fetch(f, a, s1, T0, &g), 0);
	assert_int_equal(g.n, 2);
	assert_int_equal(g.seq[0], s2);
	assert_int_equal(g.seq[1], s3);
	assert_int_equal(fetch(f, a, s2, T0, &g), 0);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.seq[0], s3);
	assert_int_equal(fetch(f, a, s3, T0, &g), 0);
	assert_int_equal(g.n, 0);
	assert_int_equal(fetch(f, a, s3 + 100, T0, &g), 0); /* not a seq */
	assert_int_equal(g.n, 0);
	assert_int_equal(fetch(f, a, UINT64_MAX, T0, &g), 0);
	assert_int_equal(g.n, 0);
	/* Another mailbox, empty, sorted after: sees none of them. */
	assert_int_equal(fetch(f, b, 0, T0, &g), 0);
	assert_int_equal(g.n, 0);
}

static void test_seq_unique(void **state)
{
	struct store_fixture *f = *state;
	uint8_t a[RELAY_MAILBOX_LEN], b[RELAY_MAILBOX_LEN];
	uint64_t last = 0, s;
	unsigned deleted = 0;
	struct got g = {0};

	mailbox_of(a, 0x11);
	mailbox_of(b, 0x22);
	for (int i = 0; i < 10; i++) {
		s = dep_ok(f, (i % 3) == 0 ? b : a, 5, (uint8_t)i, T0);
		assert_true(s > last);
		last = s;
	}
	/* Empty both mailboxes, then fill a again: seqs go on. */
	assert_int_equal(delete_upto(f, a, UINT64_MAX, &deleted), 0);
	assert_int_equal(deleted, 6);
	assert_int_equal(delete_upto(f, b, UINT64_MAX, &deleted), 0);
	assert_int_equal(deleted, 4);
	stats_are(f, 0, 0, 0);
	assert_int_equal(rows(f), 1); /* "T" keeps next_seq */
	s = dep_ok(f, a, 5, 0x77, T0);
	assert_int_equal(s, last + 1);
	/* A client that acknowledged up to its old last seq still gets the
	 * new item. */
	assert_int_equal(fetch(f, a, last, T0, &g), 0);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.seq[0], s);
	assert_int_equal(g.fill[0], 0x77);
}

static void test_fetch_stop(void **state)
{
	struct store_fixture *f = *state;
	uint8_t a[RELAY_MAILBOX_LEN];
	struct got g = {0};

	mailbox_of(a, 0x33);
	for (int i = 0; i < 5; i++)
		dep_ok(f, a, 3, (uint8_t)(0x40 + i), T0);
	g.stop_at = 2;
	assert_int_equal(fetch(f, a, 0, T0, &g), 0);
	assert_int_equal(g.n, 2);
	assert_int_equal(g.fill[0], 0x40);
	assert_int_equal(g.fill[1], 0x41);
	g.stop_at = 1;
	assert_int_equal(fetch(f, a, g.seq[1], T0, &g), 0);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.fill[0], 0x42);
	/* A negative return comes back as it is. */
	g.stop_at = 0;
	g.fail = -EPIPE;
	assert_int_equal(fetch(f, a, 0, T0, &g), -EPIPE);
	assert_int_equal(g.n, 0);
}

static void test_box_items_limit(void **state)
{
	struct store_fixture *f = *state;
	struct relaystore_limits lim = {.box_items = 3};
	uint8_t a[RELAY_MAILBOX_LEN], b[RELAY_MAILBOX_LEN];
	uint64_t seq = 1;

	mailbox_of(a, 0x44);
	mailbox_of(b, 0x55);
	for (int i = 0; i < 3; i++)
		assert_int_equal(deposit(f, &lim, a, 8, 1, T0, NULL), 0);
	refused_writes_nothing(f, &lim, src_a, a, 8, -EDQUOT);
	stats_are(f, 3, 24, 1);
	/* The next seq was not used up either. */
	assert_int_equal(deposit(f, &lim, b, 8, 1, T0, &seq), 0);
	assert_int_equal(seq, 4);
	/* Room again after a delete. */
	assert_int_equal(delete_upto(f, a, 1, NULL), 0);
	assert_int_equal(deposit(f, &lim, a, 8, 1, T0, &seq), 0);
	assert_int_equal(seq, 5);
	assert_int_equal(deposit(f, &lim, a, 8, 1, T0, NULL), -EDQUOT);
}

static void test_box_bytes_limit(void **state)
{
	struct store_fixture *f = *state;
	struct relaystore_limits lim = {.box_bytes = 100};
	uint8_t a[RELAY_MAILBOX_LEN], b[RELAY_MAILBOX_LEN];
	uint64_t n;

	mailbox_of(a, 0x66);
	mailbox_of(b, 0x67);
	assert_int_equal(deposit(f, &lim, a, 60, 1, T0, NULL), 0);
	n = rows(f);
	assert_int_equal(deposit(f, &lim, a, 41, 1, T0, NULL), -EDQUOT);
	assert_int_equal(rows(f), n);
	stats_are(f, 1, 60, 1);
	assert_int_equal(deposit(f, &lim, a, 40, 1, T0, NULL), 0); /* = 100 */
	assert_int_equal(deposit(f, &lim, a, 1, 1, T0, NULL), -EDQUOT);
	/* Per mailbox: another one has its own 100. */
	assert_int_equal(deposit(f, &lim, b, 100, 1, T0, NULL), 0);
	stats_are(f, 3, 200, 2);
	/* A limit lowered below what a mailbox holds refuses too. */
	lim.box_bytes = 50;
	assert_int_equal(deposit(f, &lim, a, 1, 1, T0, NULL), -EDQUOT);
}

static void test_total_bytes(void **state)
{
	struct store_fixture *f = *state;
	struct relaystore_limits lim = {.total_bytes = 100};
	uint8_t a[RELAY_MAILBOX_LEN], b[RELAY_MAILBOX_LEN];
	struct relaystore_stats st;
	uint64_t n, seq = 0;

	mailbox_of(a, 0x70);
	mailbox_of(b, 0x71);
	assert_int_equal(deposit(f, &lim, a, 60, 1, T0, NULL), 0);
	n = rows(f);
	assert_int_equal(deposit(f, &lim, b, 41, 1, T0, NULL), -ENOSPC);
	assert_int_equal(rows(f), n);
	stats_are(f, 1, 60, 1);
	assert_int_equal(deposit(f, &lim, b, 40, 1, T0, &seq), 0); /* = 100 */
	assert_int_equal(seq, 2);
	assert_int_equal(deposit(f, &lim, a, 1, 1, T0, NULL), -ENOSPC);
	assert_int_equal(stats(f, &st), 0);
	assert_int_equal(st.bytes, 100);
	/* The mailbox limit is checked first. */
	lim.box_items = 1;
	assert_int_equal(deposit(f, &lim, a, 1, 1, T0, NULL), -EDQUOT);
}

static void test_delete_upto(void **state)
{
	struct store_fixture *f = *state;
	uint8_t a[RELAY_MAILBOX_LEN], b[RELAY_MAILBOX_LEN];
	uint8_t bk[1 + RELAY_MAILBOX_LEN], v[16];
	uint64_t sa[5], sb[2];
	struct store_txn *t = NULL;
	unsigned deleted = 99;
	struct got g = {0};
	size_t len;

	mailbox_of(a, 0x80);
	mailbox_of(b, 0x81);
	/* Interleaved: a1 b1 a2 a3 b2 a4 a5, a's blobs 1..5 bytes. */
	sa[0] = dep_ok(f, a, 1, 0xa1, T0);
	sb[0] = dep_ok(f, b, 100, 0xb1, T0);
	sa[1] = dep_ok(f, a, 2, 0xa2, T0);
	sa[2] = dep_ok(f, a, 3, 0xa3, T0);
	sb[1] = dep_ok(f, b, 200, 0xb2, T0);
	sa[3] = dep_ok(f, a, 4, 0xa4, T0);
	sa[4] = dep_ok(f, a, 5, 0xa5, T0);
	stats_are(f, 7, 315, 2);

	assert_int_equal(delete_upto(f, a, 0, &deleted), 0);
	assert_int_equal(deleted, 0);
	/* Up to a3: a1 a2 a3 go, b1 (a smaller seq) stays. */
	assert_int_equal(delete_upto(f, a, sa[2], &deleted), 0);
	assert_int_equal(deleted, 3);
	stats_are(f, 4, 309, 2);
	assert_int_equal(fetch(f, a, 0, T0, &g), 0);
	assert_int_equal(g.n, 2);
	assert_int_equal(g.seq[0], sa[3]);
	assert_int_equal(g.seq[1], sa[4]);
	assert_int_equal(fetch(f, b, 0, T0, &g), 0);
	assert_int_equal(g.n, 2);
	assert_int_equal(g.seq[0], sb[0]);
	assert_int_equal(g.seq[1], sb[1]);
	assert_int_equal(rows(f), 1 + 2 + 1 + 2 * 4);
	source_is(f, src_a, 4, 309);

	/* Again up to the same seq: nothing left to delete. */
	assert_int_equal(delete_upto(f, a, sa[2], &deleted), 0);
	assert_int_equal(deleted, 0);
	/* Between seqs (sa[3] < upto < sa[4]). */
	assert_int_equal(delete_upto(f, a, sa[4] - 1, &deleted), 0);
	assert_int_equal(deleted, 1);
	/* All: the box record goes. */
	assert_int_equal(delete_upto(f, a, UINT64_MAX, &deleted), 0);
	assert_int_equal(deleted, 1);
	stats_are(f, 2, 300, 1);
	mailbox_of(bk + 1, 0x80);
	bk[0] = 'B';
	t = begin(f, false);
	assert_int_equal(store_get(t, STORE_TABLE_RELAY, bk, sizeof bk, v,
				   sizeof v, &len),
			 -ENOENT);
	store_txn_abort(t);
	assert_int_equal(rows(f), 1 + 1 + 1 + 2 * 2);
	source_is(f, src_a, 2, 300);
	/* An empty mailbox. */
	assert_int_equal(delete_upto(f, a, UINT64_MAX, &deleted), 0);
	assert_int_equal(deleted, 0);
	assert_int_equal(fetch(f, b, 0, T0, &g), 0);
	assert_int_equal(g.n, 2);
}

/* More items than one delete batch (64) holds. */
static void test_delete_many(void **state)
{
	struct store_fixture *f = *state;
	uint8_t a[RELAY_MAILBOX_LEN], b[RELAY_MAILBOX_LEN];
	uint64_t seqs[300];
	unsigned deleted = 0;
	struct got g = {0};

	mailbox_of(a, 0x90);
	mailbox_of(b, 0x8f); /* sorts just before a */
	for (int i = 0; i < 300; i++)
		seqs[i] = dep_ok(f, (i % 2) == 0 ? a : b, 7, 1, T0);
	/* a holds the even ones, 150 of them; delete its first 140. */
	assert_int_equal(delete_upto(f, a, seqs[278], &deleted), 0);
	assert_int_equal(deleted, 140);
	stats_are(f, 160, 160 * 7, 2);
	assert_int_equal(fetch(f, a, 0, T0, &g), 0);
	assert_int_equal(g.n, 10);
	assert_int_equal(g.seq[0], seqs[280]);
	assert_int_equal(fetch(f, b, 0, T0, &g), 0);
	assert_int_equal(g.n, 150);
	assert_int_equal(delete_upto(f, a, UINT64_MAX, &deleted), 0);
	assert_int_equal(deleted, 10);
	assert_int_equal(delete_upto(f, b, UINT64_MAX, &deleted), 0);
	assert_int_equal(deleted, 150);
	stats_are(f, 0, 0, 0);
	assert_int_equal(rows(f), 1);
}

static void test_expire(void **state)
{
	struct store_fixture *f = *state;
	struct relaystore_limits lim = {.ttl_s = 100};
	uint8_t a[RELAY_MAILBOX_LEN], b[RELAY_MAILBOX_LEN];
	uint64_t late[2];
	unsigned deleted = 0;
	struct got g = {0};

	mailbox_of(a, 0xa0);
	mailbox_of(b, 0xb0);
	/* Five expire at T0 + 100 (three in a, two in b), two at T0 + 150
	 * (one each). */
	for (int i = 0; i < 5; i++)
		assert_int_equal(
			deposit(f, &lim, i < 3 ? a : b, 10, 1, T0, NULL), 0);
	assert_int_equal(deposit(f, &lim, a, 20, 2, T0 + 50, &late[0]), 0);
	assert_int_equal(deposit(f, &lim, b, 30, 3, T0 + 50, &late[1]), 0);
	assert_int_equal(rows(f), 1 + 2 + 1 + 2 * 7);

	/* Just before: all there. */
	assert_int_equal(fetch(f, a, 0, T0 + 99, &g), 0);
	assert_int_equal(g.n, 4);
	/* At the expiry: gone from fetch though still stored. */
	assert_int_equal(fetch(f, a, 0, T0 + 100, &g), 0);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.seq[0], late[0]);
	assert_int_equal(fetch(f, b, 0, T0 + 100, &g), 0);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.seq[0], late[1]);
	stats_are(f, 7, 100, 2);

	/* Nothing due yet. */
	assert_int_equal(expire(f, T0 + 99, 10, &deleted), 0);
	assert_int_equal(deleted, 0);
	assert_int_equal(expire(f, T0 + 100, 0, &deleted), 0);
	assert_int_equal(deleted, 0);
	/* Five due, three at a time: two calls. */
	assert_int_equal(expire(f, T0 + 100, 3, &deleted), 0);
	assert_int_equal(deleted, 3);
	stats_are(f, 4, 70, 2);
	assert_int_equal(expire(f, T0 + 100, 3, &deleted), 0);
	assert_int_equal(deleted, 2);
	stats_are(f, 2, 50, 2);
	assert_int_equal(rows(f), 1 + 2 + 1 + 2 * 2);
	source_is(f, src_a, 2, 50);
	assert_int_equal(expire(f, T0 + 100, 3, &deleted), 0);
	assert_int_equal(deleted, 0);
	assert_int_equal(fetch(f, a, 0, T0 + 100, &g), 0);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.len[0], 20);

	/* The rest, and then only "T" is left. */
	assert_int_equal(expire(f, T0 + 1000, 100, &deleted), 0);
	assert_int_equal(deleted, 2);
	stats_are(f, 0, 0, 0);
	assert_int_equal(rows(f), 1);
	assert_int_equal(fetch(f, a, 0, T0, &g), 0);
	assert_int_equal(g.n, 0);
}

/* More due items than one batch (64), over several mailboxes, some not
 * due; max both above and below the count. */
static void test_expire_many(void **state)
{
	struct store_fixture *f = *state;
	struct relaystore_limits lim = {.ttl_s = 10};
	uint8_t mb[RELAY_MAILBOX_LEN];
	unsigned deleted = 0;

	for (int i = 0; i < 200; i++) {
		mailbox_of(mb, (uint8_t)(i % 7));
		assert_int_equal(deposit(f, &lim, mb, 3, 1,
					 T0 + (i < 150 ? 0 : 100), NULL),
				 0);
	}
	stats_are(f, 200, 600, 7);
	assert_int_equal(expire(f, T0 + 10, 70, &deleted), 0);
	assert_int_equal(deleted, 70);
	assert_int_equal(expire(f, T0 + 10, 1000, &deleted), 0);
	assert_int_equal(deleted, 80);
	stats_are(f, 50, 150, 7);
	assert_int_equal(rows(f), 1 + 7 + 1 + 2 * 50);
	assert_int_equal(expire(f, T0 + 110, 1000, &deleted), 0);
	assert_int_equal(deleted, 50);
	stats_are(f, 0, 0, 0);
	assert_int_equal(rows(f), 1);
}

/* An expiry past UINT64_MAX is UINT64_MAX. */
static void test_expiry_saturates(void **state)
{
	struct store_fixture *f = *state;
	struct relaystore_limits lim = {.ttl_s = UINT64_MAX};
	uint8_t a[RELAY_MAILBOX_LEN];
	unsigned deleted = 0;
	struct got g = {0};

	mailbox_of(a, 0xc0);
	assert_int_equal(deposit(f, &lim, a, 4, 1, T0, NULL), 0);
	assert_int_equal(fetch(f, a, 0, UINT64_MAX - 1, &g), 0);
	assert_int_equal(g.n, 1);
	assert_int_equal(expire(f, UINT64_MAX - 1, 10, &deleted), 0);
	assert_int_equal(deleted, 0);
	assert_int_equal(expire(f, UINT64_MAX, 10, &deleted), 0);
	assert_int_equal(deleted, 1);
	assert_int_equal(rows(f), 1);
}

static void test_bad_args(void **state)
{
	struct store_fixture *f = *state;
	uint8_t a[RELAY_MAILBOX_LEN], blob[4] = {1, 2, 3, 4};
	struct store_txn *t = NULL;
	uint64_t seq = 7;

	mailbox_of(a, 0xd0);
	assert_int_equal(deposit(f, &no_limits, a, 0, 1, T0, NULL), -EINVAL);
	assert_int_equal(
		deposit(f, &no_limits, a, RELAY_BLOB_MAX + 1, 1, T0, NULL),
		-EINVAL);
	assert_int_equal(rows(f), 0);
	assert_int_equal(deposit(f, &no_limits, a, RELAY_BLOB_MAX, 1, T0, NULL),
			 0);
	t = begin(f, true);
	assert_int_equal(
		relaystore_deposit(t, &no_limits, a, src_a, NULL, 4, T0, &seq),
		-EINVAL);
	assert_int_equal(seq, 0);
	assert_int_equal(
		relaystore_deposit(t, NULL, a, src_a, blob, 4, T0, &seq),
		-EINVAL);
	assert_int_equal(
		relaystore_deposit(t, &no_limits, a, src_a, blob, 4, T0, NULL),
		-EINVAL);
	/* The unknown source is for items from before sources were kept:
	 * no deposit names it. */
	seq = 7;
	assert_int_equal(relaystore_deposit(t, &no_limits, a, src_unknown, blob,
					    4, T0, &seq),
			 -EINVAL);
	assert_int_equal(seq, 0);
	assert_int_equal(relaystore_fetch(t, a, 0, T0, NULL, NULL), -EINVAL);
	assert_int_equal(relaystore_stats(t, NULL), -EINVAL);
	store_txn_abort(t);
	/* A read transaction cannot deposit. */
	t = begin(f, false);
	assert_int_equal(
		relaystore_deposit(t, &no_limits, a, src_a, blob, 4, T0, &seq),
		-EINVAL);
	store_txn_abort(t);
	stats_are(f, 1, RELAY_BLOB_MAX, 1);
}

/* Deposits into a (fine), then into the mailbox whose record ctx names:
 * store_write must abort both. */
struct two_deposits {
	const uint8_t *a, *bad;
};

static int two_deposits_txn(struct store_txn *t, void *ctx)
{
	struct two_deposits *td = ctx;
	uint8_t blob[5] = {0};
	uint64_t seq;
	int r;

	if ((r = relaystore_deposit(t, &no_limits, td->a, src_a, blob,
				    sizeof blob, T0, &seq)) < 0)
		return r;
	return relaystore_deposit(t, &no_limits, td->bad, src_a, blob,
				  sizeof blob, T0, &seq);
}

static void test_corrupt(void **state)
{
	struct store_fixture *f = *state;
	uint8_t a[RELAY_MAILBOX_LEN], b[RELAY_MAILBOX_LEN];
	uint8_t c[RELAY_MAILBOX_LEN], k[64], v[64];
	struct two_deposits td = {.a = a, .bad = c};
	struct relaystore_stats st;
	struct got g = {0};
	unsigned deleted = 0;
	uint64_t sa, sb, n;

	mailbox_of(a, 0xe0);
	mailbox_of(b, 0xe1);
	mailbox_of(c, 0xe2);
	sa = dep_ok(f, a, 8, 1, T0);
	sb = dep_ok(f, b, 8, 1, T0);
	dep_ok(f, c, 8, 1, T0);

	/* Item of a: an unknown version. */
	item_key(k, a, sa);
	v[0] = 3;
	be64_put(v + 1, T0 + 1000);
	memset(v + 9, 1, 16);
	put_raw(f, k, 41, v, 25);
	assert_int_equal(fetch(f, a, 0, T0, &g), -EBADMSG);
	assert_int_equal(delete_upto(f, a, UINT64_MAX, &deleted), -EBADMSG);
	assert_int_equal(deleted, 0);
	/* Item of b: an empty blob. */
	item_key(k, b, sb);
	v[0] = 1;
	put_raw(f, k, 41, v, 9);
	assert_int_equal(fetch(f, b, 0, T0, &g), -EBADMSG);
	/* ... then too long a blob. */
	{
		uint8_t big[9 + RELAY_BLOB_MAX + 1];

		memset(big, 1, sizeof big);
		be64_put(big + 1, T0 + 1000);
		put_raw(f, k, 41, big, sizeof big);
		assert_int_equal(fetch(f, b, 0, T0, &g), -EBADMSG);
		/* expire reads the item that the index names. */
		assert_int_equal(expire(f, UINT64_MAX, 100, &deleted),
				 -EBADMSG);
		/* Exactly the largest blob is fine. */
		put_raw(f, k, 41, big, sizeof big - 1);
		assert_int_equal(fetch(f, b, 0, T0, &g), 0);
		assert_int_equal(g.n, 1);
		assert_int_equal(g.len[0], RELAY_BLOB_MAX);
	}

	/* Box of c: one byte too many; a deposit to c fails, and the one
	 * to a before it in the same store_write is not kept. */
	n = rows(f);
	assert_int_equal(stats(f, &st), 0);
	k[0] = 'B';
	memcpy(k + 1, c, RELAY_MAILBOX_LEN);
	v[0] = 1;
	be32_put(v + 1, 1);
	be32_put(v + 5, 8);
	v[9] = 0;
	put_raw(f, k, 33, v, 10);
	assert_int_equal(store_write(f->s, two_deposits_txn, &td), -EBADMSG);
	assert_int_equal(rows(f), n);
	assert_int_equal(stats(f, &st), -EBADMSG); /* stats reads boxes */
	/* A box with no item. */
	be32_put(v + 1, 0);
	put_raw(f, k, 33, v, 9);
	assert_int_equal(deposit(f, &no_limits, c, 1, 1, T0, NULL), -EBADMSG);
	/* Put right again. */
	be32_put(v + 1, 1);
	put_raw(f, k, 33, v, 9);
	assert_int_equal(stats(f, &st), 0);
	assert_int_equal(store_write(f->s, two_deposits_txn, &td), 0);

	/* Totals: short, wrong version, next_seq 0. */
	k[0] = 'T';
	v[0] = 1;
	be64_put(v + 1, 100);
	be64_put(v + 9, 5);
	be64_put(v + 17, 40);
	put_raw(f, k, 1, v, 24);
	assert_int_equal(deposit(f, &no_limits, a, 1, 1, T0, NULL), -EBADMSG);
	assert_int_equal(stats(f, &st), -EBADMSG);
	v[0] = 0;
	put_raw(f, k, 1, v, 25);
	assert_int_equal(stats(f, &st), -EBADMSG);
	v[0] = 1;
	be64_put(v + 1, 0);
	put_raw(f, k, 1, v, 25);
	assert_int_equal(stats(f, &st), -EBADMSG);
	be64_put(v + 1, 100);
	put_raw(f, k, 1, v, 25);
	stats_are(f, 5, 40, 3);
	assert_int_equal(deposit(f, &no_limits, a, 1, 1, T0, &sa), 0);
	assert_int_equal(sa, 100);
}

/* Writes a box (bytes_len 4) or source (8) record into v. */
static size_t put_counts(uint8_t *v, size_t bytes_len, uint32_t items,
			 uint64_t bytes)
{
	v[0] = 1;
	be32_put(v + 1, items);
	if (bytes_len == 4)
		be32_put(v + 5, (uint32_t)bytes);
	else
		be64_put(v + 5, bytes);
	return 1 + 4 + bytes_len;
}

/* The decoders on their own: the layouts of relaystore.h, exact lengths. */
static void test_decoders(void **state)
{
	static const struct {
		enum relaystore_counts_kind kind;
		size_t bytes_len;
	} kinds[] = {{RELAYSTORE_COUNTS_BOX, 4}, {RELAYSTORE_COUNTS_SOURCE, 8}};
	uint8_t v[17 + RELAY_BLOB_MAX + 1];
	struct relaystore_totals tot;
	struct relaystore_counts c;
	struct relaystore_item it;
	size_t len;

	(void)state;
	memset(v, 0, sizeof v);
	v[0] = 1;
	be64_put(v + 1, 7);
	be64_put(v + 9, 3);
	be64_put(v + 17, 99);
	assert_int_equal(relaystore__totals_decode(&tot, v, 25), 0);
	assert_int_equal(tot.next_seq, 7);
	assert_int_equal(tot.items, 3);
	assert_int_equal(tot.bytes, 99);
	assert_int_equal(relaystore__totals_decode(&tot, v, 24), -EBADMSG);
	assert_int_equal(relaystore__totals_decode(&tot, v, 26), -EBADMSG);

	/* Box and source: version 1 | items 4 | bytes 4 or 8. */
	for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
		enum relaystore_counts_kind kind = kinds[k].kind;
		size_t bl = kinds[k].bytes_len;

		len = put_counts(v, bl, 2, 300);
		assert_int_equal(len, 5 + bl);
		assert_int_equal(relaystore__counts_decode(&c, kind, v, len),
				 0);
		assert_int_equal(c.items, 2);
		assert_int_equal(c.bytes, 300);
		assert_int_equal(
			relaystore__counts_decode(&c, kind, v, len - 1),
			-EBADMSG);
		assert_int_equal(
			relaystore__counts_decode(&c, kind, v, len + 1),
			-EBADMSG);
		assert_int_equal(relaystore__counts_decode(&c, kind, v, 0),
				 -EBADMSG);
		v[0] = 2;
		assert_int_equal(relaystore__counts_decode(&c, kind, v, len),
				 -EBADMSG);
		put_counts(v, bl, 2, 2); /* one byte an item: the least */
		assert_int_equal(relaystore__counts_decode(&c, kind, v, len),
				 0);
		assert_int_equal(c.bytes, 2);
		put_counts(v, bl, 2, 1); /* fewer bytes than items */
		assert_int_equal(relaystore__counts_decode(&c, kind, v, len),
				 -EBADMSG);
		put_counts(v, bl, 0, 0); /* no item: no record */
		assert_int_equal(relaystore__counts_decode(&c, kind, v, len),
				 -EBADMSG);
		assert_int_equal(c.items, 2); /* refused: left as it was */
		assert_int_equal(c.bytes, 2);
	}
	/* A source's bytes may pass 2^32. */
	put_counts(v, 8, 3, (1ull << 32) + 5);
	assert_int_equal(
		relaystore__counts_decode(&c, RELAYSTORE_COUNTS_SOURCE, v, 13),
		0);
	assert_int_equal(c.bytes, (1ull << 32) + 5);
	/* A box's 9 bytes are not a source's 13, nor the other way. */
	assert_int_equal(
		relaystore__counts_decode(&c, RELAYSTORE_COUNTS_BOX, v, 13),
		-EBADMSG);
	put_counts(v, 4, 3, 5);
	assert_int_equal(
		relaystore__counts_decode(&c, RELAYSTORE_COUNTS_SOURCE, v, 9),
		-EBADMSG);

	/* Items of both versions: version 1 is expiry_s 8 | blob (the
	 * unknown source), version 2 expiry_s 8 | source 8 | blob. */
	for (uint8_t ver = 1; ver <= 2; ver++) {
		size_t hdr = ver == 1 ? 9 : 17;

		memset(v, 0x5c, sizeof v);
		v[0] = ver;
		be64_put(v + 1, T0);
		if (ver == 2)
			memcpy(v + 9, src_c, RELAYSTORE_SOURCE_LEN);
		memset(it.source, 0xff, sizeof it.source);
		assert_int_equal(relaystore__item_decode(&it, v, hdr + 1), 0);
		assert_int_equal(it.expiry_s, T0);
		assert_memory_equal(it.source, ver == 1 ? src_unknown : src_c,
				    RELAYSTORE_SOURCE_LEN);
		assert_ptr_equal(it.blob, v + hdr);
		assert_int_equal(it.blob_len, 1);
		assert_int_equal(
			relaystore__item_decode(&it, v, hdr + RELAY_BLOB_MAX),
			0);
		assert_int_equal(it.blob_len, RELAY_BLOB_MAX);
		assert_int_equal(relaystore__item_decode(&it, v, hdr),
				 -EBADMSG);
		assert_int_equal(relaystore__item_decode(
					 &it, v, hdr + RELAY_BLOB_MAX + 1),
				 -EBADMSG);
		assert_int_equal(relaystore__item_decode(&it, v, 0), -EBADMSG);
	}
	/* A version 1 value read as version 2 would not do: 10 bytes is too
	 * short for one. */
	assert_int_equal(relaystore__item_decode(&it, v, 10), -EBADMSG);
	/* Version 2 naming the unknown source: never written. */
	memset(v + 9, 0, RELAYSTORE_SOURCE_LEN);
	assert_int_equal(relaystore__item_decode(&it, v, 18), -EBADMSG);
	assert_memory_equal(it.source, src_c, RELAYSTORE_SOURCE_LEN);
	v[16] = 1;
	assert_int_equal(relaystore__item_decode(&it, v, 18), 0);
	v[0] = 0;
	assert_int_equal(relaystore__item_decode(&it, v, 18), -EBADMSG);
	v[0] = 3;
	assert_int_equal(relaystore__item_decode(&it, v, 18), -EBADMSG);
}

/* Source records after a sequence of deposits: one per source, the sum
 * of its items over all the mailboxes it deposited into. */
static void test_source_counts(void **state)
{
	struct store_fixture *f = *state;
	uint8_t a[RELAY_MAILBOX_LEN], b[RELAY_MAILBOX_LEN];

	mailbox_of(a, 0x12);
	mailbox_of(b, 0x13);
	source_gone(f, src_a);
	assert_int_equal(deposit_from(f, &no_limits, src_a, a, 10, 1, T0, NULL),
			 0);
	assert_int_equal(deposit_from(f, &no_limits, src_b, a, 20, 1, T0, NULL),
			 0);
	assert_int_equal(deposit_from(f, &no_limits, src_a, b, 30, 1, T0, NULL),
			 0);
	assert_int_equal(deposit_from(f, &no_limits, src_c, b, 1, 1, T0, NULL),
			 0);
	source_is(f, src_a, 2, 40);
	source_is(f, src_b, 1, 20);
	source_is(f, src_c, 1, 1);
	source_gone(f, src_unknown);
	stats_are(f, 4, 61, 2);
	assert_int_equal(rows(f), 1 + 2 + 3 + 2 * 4);
}

/* The source quota: reached across mailboxes, refused with -EUSERS
 * writing nothing, per source, checked after the mailbox's limits and
 * before the relay's; freed by delete_upto. */
static void test_source_quota(void **state)
{
	struct store_fixture *f = *state;
	struct relaystore_limits lim = {.source_bytes = 100,
					.total_bytes = 250};
	uint8_t a[RELAY_MAILBOX_LEN], b[RELAY_MAILBOX_LEN];
	uint8_t c[RELAY_MAILBOX_LEN];
	uint64_t seq = 1, sa[2];
	unsigned deleted = 0;
	struct got g = {0};

	mailbox_of(a, 0x20);
	mailbox_of(b, 0x21);
	mailbox_of(c, 0x22);
	/* Exactly the quota, in two mailboxes: taken. */
	assert_int_equal(deposit_from(f, &lim, src_a, a, 60, 1, T0, &sa[0]), 0);
	assert_int_equal(deposit_from(f, &lim, src_a, b, 40, 2, T0, &sa[1]), 0);
	source_is(f, src_a, 2, 100);
	/* One byte more, into a third mailbox: refused, writing nothing. */
	refused_writes_nothing(f, &lim, src_a, c, 1, -EUSERS);
	source_is(f, src_a, 2, 100);
	assert_int_equal(fetch(f, c, 0, T0, &g), 0);
	assert_int_equal(g.n, 0);
	/* Another source has its own quota; the refusal used up no seq. */
	assert_int_equal(deposit_from(f, &lim, src_b, c, 100, 3, T0, &seq), 0);
	assert_int_equal(seq, sa[1] + 1);
	assert_int_equal(deposit_from(f, &lim, src_b, a, 1, 3, T0, NULL),
			 -EUSERS);
	source_is(f, src_b, 1, 100);
	/* The mailbox's limit comes first, the relay's last: at 200 of
	 * 250, 60 more from a third source is the relay's refusal, from
	 * a source at its quota the source's. */
	lim.box_items = 1;
	assert_int_equal(deposit_from(f, &lim, src_a, a, 1, 1, T0, NULL),
			 -EDQUOT);
	lim.box_items = 0;
	assert_int_equal(deposit_from(f, &lim, src_c, c, 60, 1, T0, NULL),
			 -ENOSPC);
	assert_int_equal(deposit_from(f, &lim, src_a, c, 60, 1, T0, NULL),
			 -EUSERS);
	source_gone(f, src_c);
	/* The owner of a deletes its item: 60 bytes free for src_a, not
	 * 61; src_b is not touched. */
	assert_int_equal(delete_upto(f, a, sa[0], &deleted), 0);
	assert_int_equal(deleted, 1);
	source_is(f, src_a, 1, 40);
	source_is(f, src_b, 1, 100);
	assert_int_equal(deposit_from(f, &lim, src_a, c, 61, 1, T0, NULL),
			 -EUSERS);
	assert_int_equal(deposit_from(f, &lim, src_a, c, 60, 1, T0, NULL), 0);
	source_is(f, src_a, 2, 100);
	/* A lowered quota refuses what is above it, removes nothing. */
	lim.source_bytes = 50;
	assert_int_equal(deposit_from(f, &lim, src_b, b, 1, 1, T0, NULL),
			 -EUSERS);
	stats_are(f, 3, 200, 2); /* b: 40 of src_a; c: 100 of b, 60 of a */
	/* Everything of src_a deleted: its record goes. */
	assert_int_equal(delete_upto(f, b, UINT64_MAX, &deleted), 0);
	assert_int_equal(deleted, 1);
	assert_int_equal(delete_upto(f, c, UINT64_MAX, &deleted), 0);
	assert_int_equal(deleted, 2);
	source_gone(f, src_a);
	source_gone(f, src_b);
	assert_int_equal(rows(f), 1);
	/* The default quota: 16 MiB. */
	lim.source_bytes = 0;
	relaystore_limits_default(&lim);
	assert_int_equal(lim.source_bytes, 16u << 20);
}

/* Expiry frees a source's quota; sources are counted off apart when one
 * sweep's batches mix them. */
static void test_source_expire(void **state)
{
	struct store_fixture *f = *state;
	struct relaystore_limits lim = {.ttl_s = 10, .source_bytes = 300};
	const uint8_t *srcs[3] = {src_a, src_b, src_c};
	uint8_t mb[RELAY_MAILBOX_LEN];
	unsigned deleted = 0;

	/* 150 items of 2 bytes, the sources and mailboxes in turn: each
	 * source holds 50 items (100 bytes); 30 of each are due at T0 + 10,
	 * 20 of each at T0 + 110. */
	for (int i = 0; i < 150; i++) {
		mailbox_of(mb, (uint8_t)(0x30 + i % 5));
		assert_int_equal(deposit_from(f, &lim, srcs[i % 3], mb, 2, 1,
					      T0 + (i < 90 ? 0 : 100), NULL),
				 0);
	}
	for (int k = 0; k < 3; k++)
		source_is(f, srcs[k], 50, 100);
	/* The quota is 300: src_a has 200 left. */
	mailbox_of(mb, 0x40);
	assert_int_equal(
		deposit_from(f, &lim, src_a, mb, 201, 1, T0 + 100, NULL),
		-EUSERS);
	/* 70 of the 90 due now (more than one batch of 64). */
	assert_int_equal(expire(f, T0 + 10, 70, &deleted), 0);
	assert_int_equal(deleted, 70);
	assert_int_equal(expire(f, T0 + 10, 1000, &deleted), 0);
	assert_int_equal(deleted, 20);
	for (int k = 0; k < 3; k++)
		source_is(f, srcs[k], 20, 40);
	assert_int_equal(
		deposit_from(f, &lim, src_a, mb, 201, 1, T0 + 100, NULL), 0);
	source_is(f, src_a, 21, 241);
	/* The rest: every record goes with its last item. */
	assert_int_equal(expire(f, T0 + 1000, 1000, &deleted), 0);
	assert_int_equal(deleted, 61);
	for (int k = 0; k < 3; k++)
		source_gone(f, srcs[k]);
	stats_are(f, 0, 0, 0);
	assert_int_equal(rows(f), 1);
}

/* Writes the records a relay from before sources were kept had for one
 * item: the item (version 1), its index entry, its box, and the totals
 * given (next_seq, items, bytes). */
static void put_v1_item(struct store_fixture *f, const uint8_t *mb,
			uint64_t seq, uint64_t expiry_s, size_t len,
			uint8_t fill, const uint64_t totals[3])
{
	uint8_t k[49], v[9 + RELAY_BLOB_MAX];

	item_key(k, mb, seq);
	v[0] = 1;
	be64_put(v + 1, expiry_s);
	memset(v + 9, fill, len);
	put_raw(f, k, 41, v, 9 + len);
	k[0] = 'X';
	be64_put(k + 1, expiry_s);
	memcpy(k + 9, mb, RELAY_MAILBOX_LEN);
	be64_put(k + 41, seq);
	put_raw(f, k, 49, NULL, 0);
	k[0] = 'B';
	memcpy(k + 1, mb, RELAY_MAILBOX_LEN);
	v[0] = 1;
	be32_put(v + 1, 1);
	be32_put(v + 5, (uint32_t)len);
	put_raw(f, k, 33, v, 9);
	k[0] = 'T';
	v[0] = 1;
	be64_put(v + 1, totals[0]);
	be64_put(v + 9, totals[1]);
	be64_put(v + 17, totals[2]);
	put_raw(f, k, 1, v, 25);
}

/* What a fetch of mb at T0 answers is one item: seq, len bytes of fill. */
static void only_item_is(struct store_fixture *f, const uint8_t *mb,
			 uint64_t seq, size_t len, uint8_t fill)
{
	struct got g = {0};

	assert_int_equal(fetch(f, mb, 0, T0, &g), 0);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.seq[0], seq);
	assert_int_equal(g.len[0], len);
	assert_int_equal(g.fill[0], fill);
}

/* Items of version 1 (no source) are read, fetched, deleted and expired
 * as before, and no source record counts them. */
static void test_v1_items(void **state)
{
	struct store_fixture *f = *state;
	struct relaystore_limits lim = {.source_bytes = 10};
	uint8_t a[RELAY_MAILBOX_LEN], b[RELAY_MAILBOX_LEN];
	uint64_t tot1[3] = {2, 1, 5}, tot2[3] = {3, 2, 12}, s;
	unsigned deleted = 0;

	mailbox_of(a, 0x50);
	mailbox_of(b, 0x51);
	put_v1_item(f, a, 1, T0 + 1000, 5, 0x55, tot1);
	put_v1_item(f, b, 2, T0 + 50, 7, 0x77, tot2);
	stats_are(f, 2, 12, 2);
	only_item_is(f, a, 1, 5, 0x55);
	only_item_is(f, b, 2, 7, 0x77);
	/* They count against no source: src_a has all of its 10. */
	assert_int_equal(deposit_from(f, &lim, src_a, a, 10, 0xaa, T0, &s), 0);
	assert_int_equal(s, 3);
	source_is(f, src_a, 1, 10);
	assert_int_equal(rows(f), 1 + 2 + 1 + 2 * 3);
	/* Deleting the version 1 item of a leaves src_a's record. */
	assert_int_equal(delete_upto(f, a, 1, &deleted), 0);
	assert_int_equal(deleted, 1);
	source_is(f, src_a, 1, 10);
	stats_are(f, 2, 17, 2);
	only_item_is(f, a, 3, 10, 0xaa);
	/* Expiring the version 1 item of b: the same. */
	assert_int_equal(expire(f, T0 + 60, 100, &deleted), 0);
	assert_int_equal(deleted, 1);
	source_is(f, src_a, 1, 10);
	source_gone(f, src_unknown);
	stats_are(f, 1, 10, 1);
	assert_int_equal(rows(f), 1 + 1 + 1 + 2 * 1);
	/* A mixed batch: a version 1 item and src_a's, deleted together;
	 * src_a's record goes with its item. */
	put_v1_item(f, b, 4, T0 + 1000, 3, 0x33, (uint64_t[3]){5, 2, 13});
	assert_int_equal(expire(f, T0 + RELAYSTORE_TTL_S, 100, &deleted), 0);
	assert_int_equal(deleted, 2);
	source_gone(f, src_a);
	stats_are(f, 0, 0, 0);
	assert_int_equal(rows(f), 1);
}

/* Writes src's "S" record raw: len bytes of version | items | bytes. */
static void put_source(struct store_fixture *f, const uint8_t *src,
		       uint8_t version, uint32_t items, uint64_t bytes,
		       size_t len)
{
	uint8_t k[9], v[16] = {0};

	put_counts(v, 8, items, bytes);
	v[0] = version;
	source_key(k, src);
	put_raw(f, k, sizeof k, v, len);
}

/* Corrupt source records (-EBADMSG), and counts that disagree with the
 * items; store_write keeps nothing of a transaction that met one. */
static void test_corrupt_source(void **state)
{
	struct store_fixture *f = *state;
	uint8_t a[RELAY_MAILBOX_LEN], b[RELAY_MAILBOX_LEN], k[9];
	struct two_deposits td = {.a = a, .bad = b};
	unsigned deleted = 0;
	uint64_t n, first;
	struct got g = {0};

	mailbox_of(a, 0x60);
	mailbox_of(b, 0x61);
	first = dep_ok(f, a, 8, 1, T0);
	dep_ok(f, a, 8, 1, T0);
	source_is(f, src_a, 2, 16);
	n = rows(f);

	/* Too short, too long, another version, no item, fewer bytes than
	 * items: a deposit from src_a fails, and so does the deposit into a
	 * before it in the same store_write. */
	put_source(f, src_a, 1, 2, 16, 12);
	assert_int_equal(store_write(f->s, two_deposits_txn, &td), -EBADMSG);
	assert_int_equal(rows(f), n);
	put_source(f, src_a, 1, 2, 16, 14);
	assert_int_equal(deposit(f, &no_limits, b, 1, 1, T0, NULL), -EBADMSG);
	put_source(f, src_a, 2, 2, 16, 13);
	assert_int_equal(deposit(f, &no_limits, b, 1, 1, T0, NULL), -EBADMSG);
	put_source(f, src_a, 1, 0, 0, 13);
	assert_int_equal(deposit(f, &no_limits, b, 1, 1, T0, NULL), -EBADMSG);
	assert_int_equal(delete_upto(f, a, UINT64_MAX, &deleted), -EBADMSG);
	put_source(f, src_a, 1, 2, 1, 13);
	assert_int_equal(delete_upto(f, a, UINT64_MAX, &deleted), -EBADMSG);
	assert_int_equal(expire(f, UINT64_MAX, 10, &deleted), -EBADMSG);
	assert_int_equal(rows(f), n);
	/* Fetching reads no source record. */
	assert_int_equal(fetch(f, a, 0, T0, &g), 0);
	assert_int_equal(g.n, 2);

	/* Counts below what is deleted: one item where two are. */
	put_source(f, src_a, 1, 1, 16, 13);
	assert_int_equal(delete_upto(f, a, UINT64_MAX, &deleted), -EBADMSG);
	/* Bytes below: 2 items, 15 bytes. */
	put_source(f, src_a, 1, 2, 15, 13);
	assert_int_equal(expire(f, UINT64_MAX, 10, &deleted), -EBADMSG);
	/* Bytes left over with no item: 2 items, 17 bytes. */
	put_source(f, src_a, 1, 2, 17, 13);
	assert_int_equal(delete_upto(f, a, UINT64_MAX, &deleted), -EBADMSG);
	/* A record that would be left with fewer bytes than items: 3 items,
	 * 9 bytes, less one item of 8. */
	put_source(f, src_a, 1, 3, 9, 13);
	assert_int_equal(delete_upto(f, a, first, &deleted), -EBADMSG);
	/* No record at all for the source of stored items. */
	{
		struct store_txn *t = begin(f, true);

		source_key(k, src_a);
		assert_int_equal(
			finish(t, store_del(t, STORE_TABLE_RELAY, k, sizeof k)),
			0);
	}
	assert_int_equal(delete_upto(f, a, UINT64_MAX, &deleted), -EBADMSG);
	assert_int_equal(rows(f), n - 1);

	/* Put right: everything goes. */
	put_source(f, src_a, 1, 2, 16, 13);
	assert_int_equal(delete_upto(f, a, UINT64_MAX, &deleted), 0);
	assert_int_equal(deleted, 2);
	source_gone(f, src_a);
	assert_int_equal(rows(f), 1);
}

static void test_reopen(void **state)
{
	struct store_fixture *f = *state;
	uint8_t a[RELAY_MAILBOX_LEN], b[RELAY_MAILBOX_LEN];
	struct relaystore_limits lim = {.box_items = 2};
	unsigned deleted = 0;
	struct got g = {0};
	uint64_t s;

	mailbox_of(a, 0xf0);
	mailbox_of(b, 0xf1);
	dep_ok(f, a, 11, 0x0a, T0);
	dep_ok(f, a, 12, 0x0b, T0);
	s = dep_ok(f, b, 13, 0x0c, T0);
	assert_int_equal(delete_upto(f, b, s, NULL), 0);
	store_close(f->s);
	f->s = NULL;
	assert_int_equal(store_fixture_open(f, 8u << 20, 0), 0);

	stats_are(f, 2, 23, 1);
	assert_int_equal(fetch(f, a, 0, T0, &g), 0);
	assert_int_equal(g.n, 2);
	assert_int_equal(g.seq[0], 1);
	assert_int_equal(g.len[0], 11);
	assert_int_equal(g.fill[0], 0x0a);
	assert_int_equal(g.seq[1], 2);
	assert_int_equal(g.fill[1], 0x0b);
	/* The counters survived: a is full, seqs go on after b's 3. */
	assert_int_equal(deposit(f, &lim, a, 1, 1, T0, NULL), -EDQUOT);
	assert_int_equal(deposit(f, &lim, b, 1, 1, T0, &s), 0);
	assert_int_equal(s, 4);
	/* And the index: */
	assert_int_equal(expire(f, T0 + RELAYSTORE_TTL_S, 10, &deleted), 0);
	assert_int_equal(deleted, 3);
	assert_int_equal(rows(f), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_decoders),
		cmocka_unit_test_setup_teardown(test_round_trip, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_seq_unique, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_fetch_stop, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_box_items_limit, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_box_bytes_limit, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_total_bytes, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_delete_upto, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_delete_many, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_expire, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expire_many, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_expiry_saturates, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_bad_args, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_source_counts, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_source_quota, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_source_expire, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_v1_items, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_source, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_reopen, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
