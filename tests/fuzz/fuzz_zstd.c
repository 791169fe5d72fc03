/* Fuzz target: store_decompress() on hostile frames (store/store.c).
 *
 * Input: two bytes of dst_max (little-endian, so up to 64 KiB), then the
 * frame.  Invariants (abort on a broken one):
 *  - the result is 0, -EBADMSG or -E2BIG (never a crash, never more than
 *    dst_max bytes written: the buffer is exactly dst_max long, so ASan
 *    sees any overrun);
 *  - -E2BIG only when the frame declares more than dst_max, and *out_len
 *    then says what it declares;
 *  - on success *out_len is the declared content size and the input is
 *    exactly one frame;
 * and, for the whole input as data, compress then decompress gives it
 *    back. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "store/store.h"

static void check(int ok)
{
	if (!ok)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t dst_max, out_len = 12345, clen, bound;
	const uint8_t *src;
	uint8_t *dst, *c;
	unsigned long long declared;
	int r;

	if (size < 2)
		return 0;
	dst_max = (size_t)data[0] | (size_t)data[1] << 8;
	src = data + 2;
	dst = malloc(dst_max > 0 ? dst_max : 1);
	check(dst != NULL);
	r = store_decompress(dst, dst_max, &out_len, src, size - 2);
	check(r == 0 || r == -EBADMSG || r == -E2BIG);
	declared = ZSTD_getFrameContentSize(src, size - 2);
	if (r == -E2BIG)
		check(declared != ZSTD_CONTENTSIZE_UNKNOWN &&
		      declared != ZSTD_CONTENTSIZE_ERROR &&
		      declared > dst_max && out_len == declared);
	else if (r == 0)
		check(out_len <= dst_max && out_len == declared &&
		      ZSTD_findFrameCompressedSize(src, size - 2) == size - 2);
	else
		check(out_len == 0);
	free(dst);

	/* Round trip of the input itself. */
	bound = store_compress_bound(size);
	c = malloc(bound);
	dst = malloc(size);
	check(c != NULL && dst != NULL);
	check(store_compress(c, bound, &clen, data, size, 1) == 0);
	check(store_decompress(dst, size, &out_len, c, clen) == 0);
	check(out_len == size && memcmp(dst, data, size) == 0);
	free(c);
	free(dst);
	return 0;
}
