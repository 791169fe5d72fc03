/* Size buckets for messages and Padmé for files (see pad.h). */
#include <errno.h>
#include <string.h>

#include "crypto/pad.h"

size_t cx_pad_bucket(size_t len)
{
	size_t b = CX_PAD_MIN;

	if (len + 1 > CX_PAD_STEP)
		return (len + 1 + CX_PAD_STEP - 1) / CX_PAD_STEP * CX_PAD_STEP;
	while (b < len + 1)
		b <<= 1;
	return b;
}

/* ISO/IEC 7816-4: the data, one 0x80 byte, then zeros (as sodium_pad). */
static void put_marker(uint8_t *buf, size_t len, size_t padded_len)
{
	buf[len] = 0x80;
	memset(buf + len + 1, 0, padded_len - len - 1);
}

/* The length before the marker, or -EBADMSG if there is no marker. */
static int find_marker(const uint8_t *buf, size_t padded_len, size_t *len)
{
	size_t i = padded_len;

	while (i > 0 && buf[i - 1] == 0)
		i--;
	if (i == 0 || buf[i - 1] != 0x80)
		return -EBADMSG;
	*len = i - 1;
	return 0;
}

int cx_pad(uint8_t *buf, size_t len, size_t buf_max, size_t *padded_len)
{
	size_t b;

	if (len >= SIZE_MAX - CX_PAD_STEP)
		return -E2BIG;
	b = cx_pad_bucket(len);
	if (b > buf_max)
		return -E2BIG;
	put_marker(buf, len, b);
	*padded_len = b;
	return 0;
}

static int is_bucket(size_t n)
{
	if (n < CX_PAD_MIN)
		return 0;
	if (n > CX_PAD_STEP)
		return n % CX_PAD_STEP == 0;
	return (n & (n - 1)) == 0;
}

int cx_unpad(const uint8_t *buf, size_t padded_len, size_t *len)
{
	if (!is_bucket(padded_len) || find_marker(buf, padded_len, len) < 0)
		return -EBADMSG;
	/* A length that would have gone to a smaller bucket was not made by
	 * cx_pad: reject it so that every plaintext has one encoding. */
	if (cx_pad_bucket(*len) != padded_len)
		return -EBADMSG;
	return 0;
}

/* PURBs paper, Algorithm 1 (Padmé):
 *   E = floor(log2 L); S = floor(log2 E) + 1; lastBits = E - S;
 *   bitMask = 2^lastBits - 1; return (L + bitMask) & ~bitMask
 * applied to L = len + 1 (room for the marker byte). */
uint64_t cx_padme_len(uint64_t len)
{
	uint64_t l = len + 1, mask;
	unsigned e = 0, s = 0;

	if (l < 2)
		return l;
	while ((l >> (e + 1)) != 0)
		e++;
	while ((e >> (s + 1)) != 0)
		s++;
	s += 1;
	mask = ((uint64_t)1 << (e - s)) - 1;
	return (l + mask) & ~mask;
}

int cx_padme(uint8_t *buf, size_t len, size_t buf_max, size_t *padded_len)
{
	uint64_t p = cx_padme_len(len);

	if (len == SIZE_MAX || p > buf_max)
		return -E2BIG;
	put_marker(buf, len, (size_t)p);
	*padded_len = (size_t)p;
	return 0;
}

int cx_unpadme(const uint8_t *buf, size_t padded_len, size_t *len)
{
	size_t n;

	if (find_marker(buf, padded_len, &n) < 0 ||
	    cx_padme_len(n) != padded_len)
		return -EBADMSG;
	*len = n;
	return 0;
}
