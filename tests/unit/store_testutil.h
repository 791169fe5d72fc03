/* Helpers shared by the unit tests that use a real store in a temporary
 * directory: a deterministic rng, removing the LMDB files, and reading the
 * data file back (to check what is and is not in it).  Header-only;
 * include after <cmocka.h>. */
#ifndef PARLEY_TEST_STORE_TESTUTIL_H
#define PARLEY_TEST_STORE_TESTUTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "crypto/rng.h"
#include "store/store.h"

/* Deterministic test rng: xorshift64* (not cryptographic). */
struct trng {
	struct rng rng;
	uint64_t s;
};

static inline uint64_t trng_next(struct trng *t)
{
	uint64_t x = t->s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	t->s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

static inline void trng_fill(void *self, uint8_t *buf, size_t len)
{
	struct trng *t = self;

	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(trng_next(t) >> 56);
}

static inline void trng_init(struct trng *t, uint64_t seed)
{
	t->rng.fill = trng_fill;
	t->rng.self = t;
	t->s = seed != 0 ? seed : 1;
}

/* Removes an environment's files and its (then empty) directory. */
static inline void rm_env(const char *dir)
{
	char path[512];

	snprintf(path, sizeof path, "%s/data.mdb", dir);
	unlink(path);
	snprintf(path, sizeof path, "%s/lock.mdb", dir);
	unlink(path);
	rmdir(dir);
}

/* A real store in its own temporary directory (under $TMPDIR), for the
 * fixtures of the tests that work on one. */
struct store_fixture {
	char dir[256];
	struct store *s;
};

/* (Re)opens f's store; map sizes 0 take the defaults. */
static inline int store_fixture_open(struct store_fixture *f, size_t initial,
				     size_t max)
{
	struct store_opts o = {
		.map_initial = initial, .map_max = max, .no_sync = true};

	return store_open(&f->s, f->dir, &o);
}

/* A new directory named after name, and the store in it; NULL on
 * failure (nothing left behind). */
static inline struct store_fixture *store_fixture_new(const char *name,
						      size_t initial)
{
	struct store_fixture *f = calloc(1, sizeof *f);
	const char *tmp = getenv("TMPDIR");

	if (f == NULL)
		return NULL;
	snprintf(f->dir, sizeof f->dir, "%s/parley-%s-XXXXXX",
		 tmp != NULL && *tmp != '\0' ? tmp : "/tmp", name);
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return NULL;
	}
	if (store_fixture_open(f, initial, 0) < 0) {
		rm_env(f->dir);
		free(f);
		return NULL;
	}
	return f;
}

static inline void store_fixture_free(struct store_fixture *f)
{
	store_close(f->s);
	rm_env(f->dir);
	free(f);
}

/* Reads the whole data file into a malloc'd buffer the caller frees. */
static inline uint8_t *slurp(const char *dir, size_t *len)
{
	char path[512];
	uint8_t *buf = NULL;
	FILE *fp;
	long sz;

	snprintf(path, sizeof path, "%s/data.mdb", dir);
	fp = fopen(path, "rb");
	assert_non_null(fp);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	sz = ftell(fp);
	assert_true(sz > 0);
	rewind(fp);
	buf = malloc((size_t)sz);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)sz, fp), (size_t)sz);
	fclose(fp);
	*len = (size_t)sz;
	return buf;
}

#endif
