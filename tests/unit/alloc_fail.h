/* Allocation-failure injection for unit tests (STYLE.md section 7, after
 * curl's runtests.pl -t).  A test program that includes this header once
 * is linked with -Wl,--wrap=malloc,--wrap=calloc (and, with
 * ALLOC_FAIL_SODIUM defined, --wrap=sodium_malloc): every such call made
 * by the statically linked code (our libraries and the test) passes here,
 * and alloc_fail(n) makes the nth one from then on return NULL.  Shared
 * libraries (LMDB, zstd, libsodium's insides) are not counted.
 *
 *	for (n = 0;; n++) {
 *		alloc_fail(n);
 *		r = thing_new(&x);
 *		if (alloc_done())
 *			break;		// ran without reaching failure n
 *		assert r == -ENOMEM and nothing leaked
 *	}
 */
#ifndef PARLEY_TESTS_ALLOC_FAIL_H
#define PARLEY_TESTS_ALLOC_FAIL_H

#include <stdbool.h>
#include <stddef.h>

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);

static long alloc_fail_at = -1; /* index of the allocation to fail */
static long alloc_count;

static bool alloc_should_fail(void)
{
	return alloc_fail_at >= 0 && alloc_count++ == alloc_fail_at;
}

void *__wrap_malloc(size_t n)
{
	return alloc_should_fail() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
	return alloc_should_fail() ? NULL : __real_calloc(n, size);
}

#ifdef ALLOC_FAIL_SODIUM
void *__real_sodium_malloc(size_t n);
void *__wrap_sodium_malloc(size_t n);

void *__wrap_sodium_malloc(size_t n)
{
	return alloc_should_fail() ? NULL : __real_sodium_malloc(n);
}
#endif

/* Fails the allocation number at (0 = the next one) from now on. */
static void alloc_fail(long at)
{
	alloc_count = 0;
	alloc_fail_at = at;
}

/* Ends the injection; true when the allocation set to fail was never
 * reached (the call under test ran to its end). */
static bool alloc_done(void)
{
	bool done = alloc_count <= alloc_fail_at;

	alloc_fail_at = -1;
	return done;
}

#endif
