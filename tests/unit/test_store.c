/* Unit tests for store/: put/get/del, aborts, reopen, map growth and its
 * limit, scans, counts, and the zstd helpers on good and hostile frames.
 * Every test works in its own mkdtemp() directory, removed at teardown. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <zstd.h>

#include "store/store.h"
#include "tests/unit/alloc_fail.h"
#include "tests/unit/store_testutil.h"

static int setup(void **state)
{
	return (*state = store_fixture_new("store", 0)) != NULL ? 0 : -1;
}

static int teardown(void **state)
{
	store_fixture_free(*state);
	return 0;
}

static void reopen(struct store_fixture *f, size_t initial, size_t max)
{
	store_close(f->s);
	f->s = NULL;
	assert_int_equal(store_fixture_open(f, initial, max), 0);
}

/* A write of one key/value pair, as a store_write() function. */
struct kv {
	enum store_table tbl;
	const void *key;
	size_t key_len;
	const void *val;
	size_t val_len;
	int runs;
};

static int put_fn(struct store_txn *t, void *ctx)
{
	struct kv *kv = ctx;

	kv->runs++;
	return store_put(t, kv->tbl, kv->key, kv->key_len, kv->val,
			 kv->val_len);
}

static int put1(struct store *s, enum store_table tbl, const char *key,
		const void *val, size_t val_len)
{
	struct kv kv = {tbl, key, strlen(key), val, val_len, 0};

	return store_write(s, put_fn, &kv);
}

/* Reads key into buf with a fresh read transaction. */
static int get1(struct store *s, enum store_table tbl, const char *key,
		void *buf, size_t buf_max, size_t *len)
{
	struct store_txn *t = NULL;
	int r;

	r = store_txn_begin(s, false, &t);
	assert_int_equal(r, 0);
	r = store_get(t, tbl, key, strlen(key), buf, buf_max, len);
	store_txn_abort(t);
	return r;
}

static void test_table_names(void **state)
{
	(void)state;
	assert_string_equal(store_table_name(STORE_TABLE_META), "meta");
	assert_string_equal(store_table_name(STORE_TABLE_RELAY), "relay");
	assert_null(store_table_name(STORE_TABLE_COUNT));
	for (int i = 0; i < STORE_TABLE_COUNT; i++)
		for (int j = i + 1; j < STORE_TABLE_COUNT; j++)
			assert_string_not_equal(store_table_name(i),
						store_table_name(j));
}

static void test_put_get_del(void **state)
{
	struct store_fixture *f = *state;
	struct store_txn *t = NULL;
	char buf[64];
	uint8_t *big = NULL;
	size_t len = 0;

	assert_int_equal(put1(f->s, STORE_TABLE_META, "k1", "hello", 5), 0);
	assert_int_equal(put1(f->s, STORE_TABLE_CONTACTS, "k1", "other", 5), 0);
	assert_int_equal(put1(f->s, STORE_TABLE_META, "empty", "", 0), 0);

	assert_int_equal(
		get1(f->s, STORE_TABLE_META, "k1", buf, sizeof buf, &len), 0);
	assert_int_equal(len, 5);
	assert_memory_equal(buf, "hello", 5);
	/* Tables are separate namespaces. */
	assert_int_equal(
		get1(f->s, STORE_TABLE_CONTACTS, "k1", buf, sizeof buf, &len),
		0);
	assert_memory_equal(buf, "other", 5);
	assert_int_equal(
		get1(f->s, STORE_TABLE_MESSAGES, "k1", buf, sizeof buf, &len),
		-ENOENT);
	assert_int_equal(
		get1(f->s, STORE_TABLE_META, "empty", buf, sizeof buf, &len),
		0);
	assert_int_equal(len, 0);

	/* -E2BIG tells the size; store_get_alloc fetches any size. */
	assert_int_equal(get1(f->s, STORE_TABLE_META, "k1", buf, 4, &len),
			 -E2BIG);
	assert_int_equal(len, 5);
	assert_int_equal(store_txn_begin(f->s, false, &t), 0);
	assert_int_equal(
		store_get_alloc(t, STORE_TABLE_META, "k1", 2, &big, &len), 0);
	assert_int_equal(len, 5);
	assert_memory_equal(big, "hello", 5);
	free(big);
	assert_int_equal(
		store_get_alloc(t, STORE_TABLE_META, "nope", 4, &big, &len),
		-ENOENT);
	assert_null(big);
	/* Writes in a read transaction are refused. */
	assert_int_equal(store_put(t, STORE_TABLE_META, "x", 1, "y", 1),
			 -EINVAL);
	store_txn_abort(t);

	/* Overwrite, then delete. */
	assert_int_equal(put1(f->s, STORE_TABLE_META, "k1", "bye", 3), 0);
	assert_int_equal(
		get1(f->s, STORE_TABLE_META, "k1", buf, sizeof buf, &len), 0);
	assert_int_equal(len, 3);
	assert_int_equal(store_txn_begin(f->s, true, &t), 0);
	assert_int_equal(store_del(t, STORE_TABLE_META, "k1", 2), 0);
	/* -ENOENT from del leaves the transaction usable. */
	assert_int_equal(store_del(t, STORE_TABLE_META, "k1", 2), -ENOENT);
	assert_int_equal(store_put(t, STORE_TABLE_META, "k2", 2, "v", 1), 0);
	assert_int_equal(store_txn_commit(t), 0);
	assert_int_equal(
		get1(f->s, STORE_TABLE_META, "k1", buf, sizeof buf, &len),
		-ENOENT);
	assert_int_equal(
		get1(f->s, STORE_TABLE_META, "k2", buf, sizeof buf, &len), 0);
}

static void test_bad_args(void **state)
{
	struct store_fixture *f = *state;
	struct store_txn *t = NULL;
	char key[600];
	char buf[8];
	size_t len;

	memset(key, 'k', sizeof key);
	assert_int_equal(store_txn_begin(f->s, true, &t), 0);
	assert_int_equal(store_put(t, STORE_TABLE_META, key, 0, "v", 1),
			 -EINVAL);
	assert_int_equal(store_put(t, STORE_TABLE_META, key, 512, "v", 1),
			 -EINVAL);
	assert_int_equal(store_put(t, STORE_TABLE_COUNT, key, 1, "v", 1),
			 -EINVAL);
	assert_int_equal(
		store_get(t, STORE_TABLE_META, key, 0, buf, sizeof buf, &len),
		-EINVAL);
	/* The longest key LMDB takes works. */
	assert_int_equal(store_put(t, STORE_TABLE_META, key, 511, "v", 1), 0);
	assert_int_equal(store_txn_commit(t), 0);
	{
		struct store_opts o = {.map_initial = 1 << 22,
				       .map_max = 1 << 21};
		struct store *s2 = NULL;

		assert_int_equal(store_open(&s2, f->dir, &o), -EINVAL);
		assert_null(s2);
	}
	{
		struct store *s2 = NULL;
		char path[300];

		snprintf(path, sizeof path, "%s/does-not-exist", f->dir);
		assert_true(store_open(&s2, path, NULL) < 0);
		assert_null(s2);
	}
}

static int fail_fn(struct store_txn *t, void *ctx)
{
	int r = store_put(t, STORE_TABLE_META, "gone", 4, "x", 1);

	(void)ctx;
	assert_int_equal(r, 0);
	return -ECANCELED;
}

static void test_abort_discards(void **state)
{
	struct store_fixture *f = *state;
	struct store_txn *t = NULL;
	char buf[8];
	size_t len;

	assert_int_equal(store_txn_begin(f->s, true, &t), 0);
	assert_int_equal(store_put(t, STORE_TABLE_META, "a", 1, "1", 1), 0);
	/* Visible inside its own transaction... */
	assert_int_equal(
		store_get(t, STORE_TABLE_META, "a", 1, buf, sizeof buf, &len),
		0);
	store_txn_abort(t);
	/* ...and gone after the abort. */
	assert_int_equal(
		get1(f->s, STORE_TABLE_META, "a", buf, sizeof buf, &len),
		-ENOENT);
	/* A failing function's writes are discarded, its error returned. */
	assert_int_equal(store_write(f->s, fail_fn, NULL), -ECANCELED);
	assert_int_equal(
		get1(f->s, STORE_TABLE_META, "gone", buf, sizeof buf, &len),
		-ENOENT);
	store_txn_abort(NULL);
}

static void test_reopen_keeps_data(void **state)
{
	struct store_fixture *f = *state;
	char buf[16];
	size_t len;

	assert_int_equal(put1(f->s, STORE_TABLE_OUTBOX, "msg", "pending", 7),
			 0);
	reopen(f, 0, 0);
	assert_int_equal(
		get1(f->s, STORE_TABLE_OUTBOX, "msg", buf, sizeof buf, &len),
		0);
	assert_int_equal(len, 7);
	assert_memory_equal(buf, "pending", 7);
}

/* Deterministic filler so data can be checked after growth. */
static void fill(uint8_t *p, size_t len, uint32_t seed)
{
	uint32_t x = seed * 2654435761u + 1;

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (uint8_t)x;
	}
}

#define GROW_VAL (100 * 1024)
#define GROW_N 80 /* 8 MB in all */

struct many {
	uint32_t from, to;
	uint8_t *val;
	int runs;
};

static int put_many_fn(struct store_txn *t, void *ctx)
{
	struct many *m = ctx;
	char key[16];
	int r;

	m->runs++;
	for (uint32_t i = m->from; i < m->to; i++) {
		snprintf(key, sizeof key, "v%05u", (unsigned)i);
		fill(m->val, GROW_VAL, i);
		if ((r = store_put(t, STORE_TABLE_MESSAGES, key, strlen(key),
				   m->val, GROW_VAL)) < 0)
			return r;
	}
	return 0;
}

static void check_many(struct store *s, uint32_t n)
{
	uint8_t *want = malloc(GROW_VAL), *got = malloc(GROW_VAL);
	char key[16];
	size_t len;

	assert_non_null(want);
	assert_non_null(got);
	for (uint32_t i = 0; i < n; i++) {
		snprintf(key, sizeof key, "v%05u", (unsigned)i);
		fill(want, GROW_VAL, i);
		assert_int_equal(
			get1(s, STORE_TABLE_MESSAGES, key, got, GROW_VAL, &len),
			0);
		assert_int_equal(len, GROW_VAL);
		assert_memory_equal(got, want, GROW_VAL);
	}
	free(want);
	free(got);
}

static void test_map_growth(void **state)
{
	struct store_fixture *f = *state;
	struct many m = {0, 0, malloc(GROW_VAL), 0};
	size_t before;

	assert_non_null(m.val);
	reopen(f, 64 * 1024, 0);
	before = store_map_size(f->s);
	assert_true(before < 1024 * 1024);
	/* One value per transaction for half, then one large transaction:
	 * growth must work from put and on the retry of a whole batch. */
	for (uint32_t i = 0; i < GROW_N / 2; i++) {
		m.from = i;
		m.to = i + 1;
		assert_int_equal(store_write(f->s, put_many_fn, &m), 0);
	}
	m.from = GROW_N / 2;
	m.to = GROW_N;
	m.runs = 0;
	assert_int_equal(store_write(f->s, put_many_fn, &m), 0);
	assert_true(m.runs > 1); /* it had to grow mid-batch */
	assert_true(store_map_size(f->s) >= (size_t)GROW_N * GROW_VAL);
	check_many(f->s, GROW_N);
	/* The data survives a reopen with a small initial size: LMDB then
	 * maps at least what is in use, and growth starts again from there. */
	reopen(f, 64 * 1024, 0);
	assert_true(store_map_size(f->s) >= (size_t)GROW_N * GROW_VAL);
	check_many(f->s, GROW_N);
	m.from = GROW_N;
	m.to = GROW_N + 8;
	assert_int_equal(store_write(f->s, put_many_fn, &m), 0);
	check_many(f->s, GROW_N + 8);
	free(m.val);
}

/* Resident kB of this process's map of DIR/data.mdb (/proc/self/smaps). */
static long map_rss_kb(const char *dir)
{
	char line[512], want[300];
	FILE *fp = fopen("/proc/self/smaps", "r");
	bool in = false;
	long kb = -1;

	assert_non_null(fp);
	snprintf(want, sizeof want, "%s/data.mdb", dir);
	while (fgets(line, sizeof line, fp) != NULL) {
		size_t n = strcspn(line, "\n");
		unsigned long lo, hi;

		line[n] = '\0';
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) { /* a mapping */
			in = n >= strlen(want) &&
			     strcmp(line + n - strlen(want), want) == 0;
			continue;
		}
		if (in && strncmp(line, "Rss:", 4) == 0) {
			kb = strtol(line + 4, NULL, 10);
			break;
		}
	}
	fclose(fp);
	return kb;
}

/* The map's pages leave the page tables on store_release_map(), and on
 * store_trim() once 4 MiB more are mapped; the data read afterwards is
 * the same; commits are counted. */
static void test_release_map(void **state)
{
	struct store_fixture *f = *state;
	struct many m = {0, 0, malloc(GROW_VAL), 0};
	long full, after;

	assert_non_null(m.val);
	for (uint32_t i = 0; i < GROW_N; i++) {
		m.from = i;
		m.to = i + 1;
		assert_int_equal(store_write(f->s, put_many_fn, &m), 0);
	}
	check_many(f->s, GROW_N); /* reads 8 MB through the map */
	full = map_rss_kb(f->dir);
	assert_true(full >= GROW_N * GROW_VAL / 1024);
	assert_int_equal(store_release_map(f->s), 0);
	after = map_rss_kb(f->dir);
	assert_true(after >= 0 && after < full / 8);
	check_many(f->s, GROW_N);
	assert_true(map_rss_kb(f->dir) >= full);
	/* store_trim: nothing to do right after a release, then 8 MB more */
	assert_int_equal(store_release_map(f->s), 0);
	assert_int_equal(store_trim(f->s), 0);
	check_many(f->s, GROW_N);
	assert_int_equal(store_trim(f->s), 1);
	assert_int_equal(store_commits(f->s), GROW_N);
	assert_true(map_rss_kb(f->dir) < full / 8);
	check_many(f->s, GROW_N);
	free(m.val);
}

static void test_map_max(void **state)
{
	struct store_fixture *f = *state;
	size_t big_len = 2 * 1024 * 1024, len;
	uint8_t *big = malloc(big_len);
	struct store_txn *t = NULL;
	char buf[8];

	assert_non_null(big);
	fill(big, big_len, 7);
	reopen(f, 64 * 1024, 1024 * 1024);
	assert_int_equal(put1(f->s, STORE_TABLE_META, "before", "b", 1), 0);
	assert_int_equal(put1(f->s, STORE_TABLE_META, "huge", big, big_len),
			 -ENOSPC);
	assert_int_equal(store_map_size(f->s), 1024 * 1024);
	assert_int_equal(store_grow(f->s), -ENOSPC);
	/* Still usable: small writes go in, old data is there, the failed
	 * value is not. */
	assert_int_equal(put1(f->s, STORE_TABLE_META, "after", "a", 1), 0);
	assert_int_equal(
		get1(f->s, STORE_TABLE_META, "before", buf, sizeof buf, &len),
		0);
	assert_int_equal(
		get1(f->s, STORE_TABLE_META, "after", buf, sizeof buf, &len),
		0);
	assert_int_equal(
		get1(f->s, STORE_TABLE_META, "huge", buf, sizeof buf, &len),
		-ENOENT);

	/* Explicit transaction: the failed put ends LMDB's transaction;
	 * later calls repeat the error; commit reports it and frees t. */
	assert_int_equal(store_txn_begin(f->s, true, &t), 0);
	assert_int_equal(
		store_put(t, STORE_TABLE_META, "huge", 4, big, big_len),
		-ENOSPC);
	assert_int_equal(store_put(t, STORE_TABLE_META, "x", 1, "y", 1),
			 -ENOSPC);
	assert_int_equal(store_get(t, STORE_TABLE_META, "before", 6, buf,
				   sizeof buf, &len),
			 -ENOSPC);
	assert_int_equal(store_txn_commit(t), -ENOSPC);
	assert_int_equal(
		get1(f->s, STORE_TABLE_META, "x", buf, sizeof buf, &len),
		-ENOENT);
	free(big);
}

/* Growth needs every transaction closed: with a read transaction held
 * open, store_grow and a store_write that must grow say -EBUSY; once it is
 * closed, the same write succeeds. */
static void test_grow_busy(void **state)
{
	struct store_fixture *f = *state;
	size_t big_len = 512 * 1024;
	uint8_t *big = malloc(big_len);
	struct store_txn *rd = NULL, *t = NULL;

	assert_non_null(big);
	fill(big, big_len, 3);
	reopen(f, 64 * 1024, 0);
	assert_int_equal(store_txn_begin(f->s, false, &rd), 0);
	assert_int_equal(store_grow(f->s), -EBUSY);
	assert_int_equal(put1(f->s, STORE_TABLE_META, "big", big, big_len),
			 -EBUSY);
	store_txn_abort(rd);
	assert_int_equal(put1(f->s, STORE_TABLE_META, "big", big, big_len), 0);
	/* A failed explicit write no longer counts as open: the caller can
	 * grow before freeing it, as the header allows. */
	big = realloc(big, 4 * big_len);
	assert_non_null(big);
	fill(big, 4 * big_len, 4);
	assert_int_equal(store_txn_begin(f->s, true, &t), 0);
	assert_int_equal(
		store_put(t, STORE_TABLE_META, "bigger", 6, big, 4 * big_len),
		-ENOSPC);
	assert_int_equal(store_grow(f->s), 0);
	assert_int_equal(store_grow(f->s), 0);
	store_txn_abort(t);
	assert_int_equal(store_txn_begin(f->s, true, &t), 0);
	assert_int_equal(
		store_put(t, STORE_TABLE_META, "bigger", 6, big, 4 * big_len),
		0);
	assert_int_equal(store_txn_commit(t), 0);
	free(big);
}

struct seen {
	char keys[16][8];
	int n;
	int stop_at;
	int fail_at;
};

static int seen_cb(void *ctx, const void *key, size_t key_len, const void *val,
		   size_t val_len)
{
	struct seen *s = ctx;

	assert_true(key_len < 8);
	assert_int_equal(val_len, 1);
	(void)val;
	if (s->n == s->fail_at)
		return -EPROTO;
	memcpy(s->keys[s->n], key, key_len);
	s->keys[s->n][key_len] = '\0';
	s->n++;
	return s->n == s->stop_at ? 1 : 0;
}

static void scan(struct store_txn *t, const char *from, bool reverse,
		 int stop_at, const char *want)
{
	struct seen s = {.stop_at = stop_at, .fail_at = -1};
	char got[64] = "";

	assert_int_equal(store_scan(t, STORE_TABLE_EVENTS, from,
				    from != NULL ? strlen(from) : 0, reverse,
				    seen_cb, &s),
			 0);
	for (int i = 0; i < s.n; i++) {
		if (i > 0)
			strncat(got, ",", sizeof got - strlen(got) - 1);
		strncat(got, s.keys[i], sizeof got - strlen(got) - 1);
	}
	assert_string_equal(got, want);
}

static int put_keys_fn(struct store_txn *t, void *ctx)
{
	static const char *const keys[] = {"b", "d", "f", "h"};
	int r;

	(void)ctx;
	for (size_t i = 0; i < 4; i++)
		if ((r = store_put(t, STORE_TABLE_EVENTS, keys[i], 1, "v", 1)) <
		    0)
			return r;
	return 0;
}

static void test_scan_count(void **state)
{
	struct store_fixture *f = *state;
	struct store_txn *t = NULL;
	struct seen s = {.stop_at = -1, .fail_at = 1};
	uint64_t n = 99;

	assert_int_equal(store_txn_begin(f->s, false, &t), 0);
	assert_int_equal(store_count(t, STORE_TABLE_EVENTS, &n), 0);
	assert_int_equal(n, 0);
	scan(t, NULL, false, -1, "");
	scan(t, NULL, true, -1, "");
	store_txn_abort(t);

	assert_int_equal(store_write(f->s, put_keys_fn, NULL), 0);
	assert_int_equal(store_txn_begin(f->s, false, &t), 0);
	assert_int_equal(store_count(t, STORE_TABLE_EVENTS, &n), 0);
	assert_int_equal(n, 4);
	assert_int_equal(store_count(t, STORE_TABLE_META, &n), 0);
	assert_int_equal(n, 0);
	scan(t, NULL, false, -1, "b,d,f,h");
	scan(t, NULL, true, -1, "h,f,d,b");
	scan(t, "d", false, -1, "d,f,h");
	scan(t, "c", false, -1, "d,f,h");
	scan(t, "i", false, -1, "");
	scan(t, "a", false, -1, "b,d,f,h");
	scan(t, "d", true, -1, "d,b");
	scan(t, "e", true, -1, "d,b");
	scan(t, "z", true, -1, "h,f,d,b");
	scan(t, "a", true, -1, "");
	scan(t, "ca", true, -1, "b");
	scan(t, NULL, false, 2, "b,d");
	scan(t, "g", true, 1, "f");
	assert_int_equal(
		store_scan(t, STORE_TABLE_EVENTS, NULL, 0, false, seen_cb, &s),
		-EPROTO);
	assert_int_equal(s.n, 1);
	store_txn_abort(t);
}

static void test_compress_round_trip(void **state)
{
	size_t src_len = 100000, bound, clen = 0, dlen = 0;
	uint8_t *src = malloc(src_len), *c, *d = malloc(src_len);

	(void)state;
	assert_non_null(src);
	assert_non_null(d);
	for (size_t i = 0; i < src_len; i++)
		src[i] = (uint8_t)("parley stores bodies "[i % 21]);
	bound = store_compress_bound(src_len);
	c = malloc(bound);
	assert_non_null(c);
	assert_int_equal(store_compress(c, bound, &clen, src, src_len, 3), 0);
	assert_true(clen < src_len / 10);
	assert_int_equal(store_decompress(d, src_len, &dlen, c, clen), 0);
	assert_int_equal(dlen, src_len);
	assert_memory_equal(d, src, src_len);
	/* Too small a destination for compression is -E2BIG. */
	assert_int_equal(store_compress(c, 4, &clen, src, src_len, 3), -E2BIG);
	assert_int_equal(clen, 0);
	assert_int_equal(store_compress(c, bound, &clen, src, src_len, 1000),
			 -EINVAL);
	/* Empty input round-trips too. */
	assert_int_equal(store_compress(c, bound, &clen, "", 0, 0), 0);
	assert_int_equal(store_decompress(d, src_len, &dlen, c, clen), 0);
	assert_int_equal(dlen, 0);
	free(src);
	free(c);
	free(d);
}

static void test_decompress_refuses(void **state)
{
	size_t src_len = 4096, bound = ZSTD_compressBound(4096), clen = 0,
	       dlen = 1;
	uint8_t src[4096], d[4096], c[8192], junk[64];
	ZSTD_CCtx *cctx = ZSTD_createCCtx();

	(void)state;
	assert_true(bound <= sizeof c);
	fill(src, src_len, 9);
	assert_int_equal(store_compress(c, sizeof c, &clen, src, src_len, 1),
			 0);
	/* Declared size above dst_max: refused, size reported. */
	assert_int_equal(store_decompress(d, src_len - 1, &dlen, c, clen),
			 -E2BIG);
	assert_int_equal(dlen, src_len);
	/* Truncated frames, every length. */
	for (size_t n = 0; n < clen; n++) {
		int r = store_decompress(d, sizeof d, &dlen, c, n);

		assert_int_equal(r, -EBADMSG);
		assert_int_equal(dlen, 0);
	}
	/* Trailing bytes after the frame. */
	c[clen] = 0;
	assert_int_equal(store_decompress(d, sizeof d, &dlen, c, clen + 1),
			 -EBADMSG);
	/* A flipped byte in the body: the checksum or the decoder catch it. */
	c[clen - 10] ^= 0x40;
	assert_int_equal(store_decompress(d, sizeof d, &dlen, c, clen),
			 -EBADMSG);
	/* Garbage. */
	fill(junk, sizeof junk, 11);
	assert_int_equal(
		store_decompress(d, sizeof d, &dlen, junk, sizeof junk),
		-EBADMSG);
	/* A valid frame that does not declare its size. */
	assert_non_null(cctx);
	assert_false(ZSTD_isError(
		ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 0)));
	clen = ZSTD_compress2(cctx, c, sizeof c, src, src_len);
	assert_false(ZSTD_isError(clen));
	assert_int_equal(ZSTD_getFrameContentSize(c, clen),
			 ZSTD_CONTENTSIZE_UNKNOWN);
	assert_int_equal(store_decompress(d, sizeof d, &dlen, c, clen),
			 -EBADMSG);
	ZSTD_freeCCtx(cctx);
	/* A skippable frame (magic 0x184D2A50, 4-byte size, no content). */
	{
		const uint8_t skip[12] = {0x50, 0x2a, 0x4d, 0x18, 4, 0,
					  0,	0,    1,    2,	  3, 4};

		assert_int_equal(
			store_decompress(d, sizeof d, &dlen, skip, sizeof skip),
			-EBADMSG);
	}
	/* A frame header declaring 2^40 bytes: refused before decoding. */
	{
		/* Magic, descriptor FCS_Flag=3 + Single_Segment, 8-byte size.
		 */
		const uint8_t hdr[14] = {0x28, 0xb5, 0x2f, 0xfd, 0xe0, 0, 0,
					 0,    0,    0,	   0x01, 0,    0, 0};

		assert_int_equal(
			store_decompress(d, sizeof d, &dlen, hdr, sizeof hdr),
			-E2BIG);
		assert_int_equal(dlen, (size_t)1 << 40);
	}
}

/* A full disk, simulated with RLIMIT_FSIZE at the current file size (so a
 * write past it fails with EFBIG; SIGXFSZ ignored): the commit fails with
 * -ENOSPC, nothing of it is visible, and once there is room again the
 * store works and reopens with exactly the old data. */
static void test_disk_full(void **state)
{
	struct store_fixture *f = *state;
	size_t big_len = 1024 * 1024, len;
	uint8_t *big = malloc(big_len);
	struct rlimit old, lim;
	struct sigaction ign = {.sa_handler = SIG_IGN}, prev;
	char path[300], buf[8];
	off_t size;
	FILE *fp;
	int r;

	assert_non_null(big);
	fill(big, big_len, 5);
	reopen(f, 8 * 1024 * 1024, 0); /* no growth in the way */
	assert_int_equal(put1(f->s, STORE_TABLE_META, "old", "o", 1), 0);
	snprintf(path, sizeof path, "%s/data.mdb", f->dir);
	fp = fopen(path, "rb");
	assert_non_null(fp);
	assert_int_equal(fseeko(fp, 0, SEEK_END), 0);
	size = ftello(fp);
	fclose(fp);
	assert_true(size > 0);

	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = (rlim_t)size;
	assert_int_equal(sigaction(SIGXFSZ, &ign, &prev), 0);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	r = put1(f->s, STORE_TABLE_META, "big", big, big_len);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	assert_int_equal(sigaction(SIGXFSZ, &prev, NULL), 0);
	assert_int_equal(r, -ENOSPC);

	assert_int_equal(
		get1(f->s, STORE_TABLE_META, "big", buf, sizeof buf, &len),
		-ENOENT);
	assert_int_equal(put1(f->s, STORE_TABLE_META, "new", "n", 1), 0);
	reopen(f, 0, 0);
	assert_int_equal(
		get1(f->s, STORE_TABLE_META, "old", buf, sizeof buf, &len), 0);
	assert_int_equal(
		get1(f->s, STORE_TABLE_META, "new", buf, sizeof buf, &len), 0);
	assert_int_equal(
		get1(f->s, STORE_TABLE_META, "big", buf, sizeof buf, &len),
		-ENOENT);
	free(big);
}

/* kill -9 in the middle of writing: a child commits numbered values (with
 * fsync, as the daemon does) and reports each commit on a pipe; the parent
 * kills it with SIGKILL at some point, likely inside a transaction that
 * holds LMDB's writer lock.  Reopening must then find every reported
 * commit intact, no torn value, and take new writes (LMDB's robust mutex
 * recovers the dead writer's lock). */
#define KILL_VAL 4000

struct del_ctx {
	char keys[512][16];
	int n;
};

static int collect_cb(void *ctx, const void *key, size_t key_len,
		      const void *val, size_t val_len)
{
	struct del_ctx *d = ctx;

	(void)val;
	(void)val_len;
	if (d->n == 512 || key_len >= 16)
		return -E2BIG;
	memcpy(d->keys[d->n], key, key_len);
	d->keys[d->n][key_len] = '\0';
	d->n++;
	return 0;
}

/* Deletes every OUTBOX entry: collect the keys, then delete them (LMDB
 * cursors must not be used across deletes from another handle). */
static int clear_outbox_fn(struct store_txn *t, void *ctx)
{
	static struct del_ctx d;
	int r;

	(void)ctx;
	d.n = 0;
	if ((r = store_scan(t, STORE_TABLE_OUTBOX, NULL, 0, false, collect_cb,
			    &d)) < 0)
		return r;
	for (int i = 0; i < d.n; i++)
		if ((r = store_del(t, STORE_TABLE_OUTBOX, d.keys[i],
				   strlen(d.keys[i]))) < 0)
			return r;
	return 0;
}

static void kill_child(const char *dir, int fd)
{
	struct store_opts o = {.map_initial = 64 * 1024};
	struct store *s = NULL;
	uint8_t val[KILL_VAL];
	char key[16];

	if (store_open(&s, dir, &o) < 0)
		_exit(2);
	for (uint32_t i = 0;; i++) {
		snprintf(key, sizeof key, "k%08u", (unsigned)i);
		fill(val, sizeof val, i);
		if (put1(s, STORE_TABLE_OUTBOX, key, val, sizeof val) < 0)
			_exit(3);
		if (write(fd, &i, sizeof i) != sizeof i)
			_exit(4);
	}
}

struct kill_check {
	uint32_t n;
	uint8_t val[KILL_VAL];
};

static int kill_check_cb(void *ctx, const void *key, size_t key_len,
			 const void *val, size_t val_len)
{
	struct kill_check *kc = ctx;
	char want[16];

	snprintf(want, sizeof want, "k%08u", (unsigned)kc->n);
	assert_int_equal(key_len, strlen(want));
	assert_memory_equal(key, want, key_len);
	assert_int_equal(val_len, KILL_VAL);
	fill(kc->val, KILL_VAL, kc->n);
	assert_memory_equal(val, kc->val, KILL_VAL);
	kc->n++;
	return 0;
}

static int kill_scan_fn(struct store_txn *t, void *ctx)
{
	return store_scan(t, STORE_TABLE_OUTBOX, NULL, 0, false, kill_check_cb,
			  ctx);
}

static void test_kill9(void **state)
{
	struct store_fixture *f = *state;
	struct store_opts o = {0};
	struct kill_check *kc = calloc(1, sizeof *kc);
	uint32_t last = 0, got;
	int fds[2], status;
	pid_t pid;

	assert_non_null(kc);
	store_close(f->s); /* LMDB environments do not survive fork() */
	f->s = NULL;
	for (int round = 0; round < 3; round++) {
		assert_int_equal(pipe(fds), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(fds[0]);
			kill_child(f->dir, fds[1]);
		}
		close(fds[1]);
		/* Let it commit a while (more each round), then kill. */
		for (uint32_t n = 0; n < 40 + 30 * (uint32_t)round; n++) {
			assert_int_equal(read(fds[0], &got, sizeof got),
					 sizeof got);
			last = got;
		}
		assert_int_equal(kill(pid, SIGKILL), 0);
		/* Commits reported after our last read count too. */
		while (read(fds[0], &got, sizeof got) == sizeof got)
			last = got;
		close(fds[0]);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFSIGNALED(status));

		assert_int_equal(store_open(&f->s, f->dir, &o), 0);
		kc->n = 0;
		assert_int_equal(store_read(f->s, kill_scan_fn, kc), 0);
		/* Every reported commit is there; at most one more (committed
		 * but not yet reported when the signal hit). */
		assert_true(kc->n == last + 1 || kc->n == last + 2);
		assert_int_equal(put1(f->s, STORE_TABLE_META, "after", "a", 1),
				 0);
		/* The next child starts numbering from 0 again: clear. */
		assert_int_equal(store_write(f->s, clear_outbox_fn, NULL), 0);
		store_close(f->s);
		f->s = NULL;
	}
	assert_int_equal(store_fixture_open(f, 0, 0), 0);
	free(kc);
}

/* Fails each allocation of store_open, store_write, store_get_alloc in
 * turn: each returns -ENOMEM, leaks nothing (ASan, valgrind), and the
 * store keeps working afterwards. */
static void test_alloc_failure(void **state)
{
	struct store_fixture *f = *state;
	struct store_txn *t = NULL;
	struct store *s2;
	uint8_t *val;
	size_t len;
	long n;
	int r;

	store_close(f->s);
	f->s = NULL;
	for (n = 0;; n++) {
		s2 = (struct store *)1;
		alloc_fail(n);
		r = store_open(&s2, f->dir, NULL);
		if (alloc_done()) {
			assert_int_equal(r, 0);
			break;
		}
		assert_int_equal(r, -ENOMEM);
		assert_null(s2);
	}
	assert_true(n >= 1);
	f->s = s2;
	for (n = 0;; n++) {
		alloc_fail(n);
		r = put1(f->s, STORE_TABLE_META, "k", "v", 1);
		if (alloc_done()) {
			assert_int_equal(r, 0);
			break;
		}
		assert_int_equal(r, -ENOMEM);
	}
	assert_true(n >= 1);
	assert_int_equal(store_txn_begin(f->s, false, &t), 0);
	for (n = 0;; n++) {
		alloc_fail(n);
		r = store_get_alloc(t, STORE_TABLE_META, "k", 1, &val, &len);
		if (alloc_done()) {
			assert_int_equal(r, 0);
			break;
		}
		assert_int_equal(r, -ENOMEM);
		assert_null(val);
	}
	assert_int_equal(len, 1);
	free(val);
	store_txn_abort(t);
	/* No transaction was left counted as open: growth still works. */
	assert_int_equal(store_grow(f->s), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_names),
		cmocka_unit_test_setup_teardown(test_put_get_del, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_bad_args, setup, teardown),
		cmocka_unit_test_setup_teardown(test_abort_discards, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_reopen_keeps_data, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_map_growth, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_map_max, setup, teardown),
		cmocka_unit_test_setup_teardown(test_release_map, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_grow_busy, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_scan_count, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_disk_full, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_kill9, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alloc_failure, setup,
						teardown),
		cmocka_unit_test(test_compress_round_trip),
		cmocka_unit_test(test_decompress_refuses),
	};

	return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
