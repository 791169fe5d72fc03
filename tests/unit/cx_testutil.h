/* Helpers shared by the crypto unit tests: finding the shared test vectors,
 * loading JSON with jansson and decoding hex.  Header-only, static. */
#ifndef PARLEY_TEST_CX_TESTUTIL_H
#define PARLEY_TEST_CX_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <jansson.h>

#include "crypto/rng.h"

/* The first existing of $PARLEY_TESTVECTORS and
 * $abs_top_srcdir/{..,../..,../../..}/shared/testvectors; NULL if none. */
static inline const char *tv_dir(void)
{
	static char buf[4096];
	const char *env = getenv("PARLEY_TESTVECTORS");
	const char *top = getenv("abs_top_srcdir");
	const char *ups[] = {"..", "../..", "../../.."};
	struct stat st;
	size_t i;

	if (env != NULL && stat(env, &st) == 0 && S_ISDIR(st.st_mode))
		return env;
	if (top == NULL)
		top = getenv("top_srcdir");
	if (top == NULL)
		top = ".";
	for (i = 0; i < sizeof ups / sizeof ups[0]; i++) {
		snprintf(buf, sizeof buf, "%s/%s/shared/testvectors", top,
			 ups[i]);
		if (stat(buf, &st) == 0 && S_ISDIR(st.st_mode))
			return buf;
	}
	return NULL;
}

/* Loads the vector file rel (relative to tv_dir()), or skips the test when
 * the vectors are not there.  The caller json_decref()s the result. */
static inline json_t *tv_load(const char *rel)
{
	const char *dir = tv_dir();
	char path[4600];
	json_error_t err;
	json_t *j;

	if (dir == NULL) {
		print_message("# no shared/testvectors found\n");
		skip();
	}
	snprintf(path, sizeof path, "%s/%s", dir, rel);
	j = json_load_file(path, 0, &err);
	if (j == NULL)
		fail_msg("cannot load %s: %s (line %d)", path, err.text,
			 err.line);
	return j;
}

static inline int tv_nib(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes hex s into a new buffer (never NULL; at least 1 byte allocated so
 * empty strings work) and sets *len.  Fails the test on bad hex. */
static inline uint8_t *tv_hex(const char *s, size_t *len)
{
	size_t n = strlen(s), i;
	uint8_t *b;

	assert_true(n % 2 == 0);
	b = malloc(n / 2 + 1);
	assert_non_null(b);
	for (i = 0; i < n / 2; i++) {
		int hi = tv_nib(s[2 * i]), lo = tv_nib(s[2 * i + 1]);

		assert_true(hi >= 0 && lo >= 0);
		b[i] = (uint8_t)(hi << 4 | lo);
	}
	*len = n / 2;
	return b;
}

/* Hex field name of object o, decoded (see tv_hex); missing = empty. */
static inline uint8_t *tv_field(json_t *o, const char *name, size_t *len)
{
	json_t *v = json_object_get(o, name);

	return tv_hex(json_is_string(v) ? json_string_value(v) : "", len);
}

/* A deterministic test rng: xorshift64* stream (not cryptographic). */
struct test_rng {
	struct rng rng;
	uint64_t s;
};

static inline void test_rng_fill(void *self, uint8_t *buf, size_t len)
{
	struct test_rng *t = self;
	size_t i;

	for (i = 0; i < len; i++) {
		t->s ^= t->s >> 12;
		t->s ^= t->s << 25;
		t->s ^= t->s >> 27;
		buf[i] = (uint8_t)((t->s * 0x2545F4914F6CDD1DULL) >> 56);
	}
}

static inline void test_rng_init(struct test_rng *t, uint64_t seed)
{
	t->rng.fill = test_rng_fill;
	t->rng.self = t;
	t->s = seed ? seed : 0x9e3779b97f4a7c15ULL;
}

#endif
