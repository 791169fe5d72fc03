/* Safety numbers: a fingerprint of a conversation that two people compare
 * (read aloud, or one scans the other's QR code) to rule out a
 * man-in-the-middle.  The construction follows Signal's "safety number"
 * design (iterated hashing for each party, concatenated in a fixed order):
 *
 *   fp(pk) = H^5200 where H_0 = SHA-512("parley safety v1" || 0x00 || pk)
 *            and H_i = SHA-512(H_{i-1} || pk)
 *   digits(pk) = 6 groups of 5 digits: each the big-endian 40-bit integer
 *            of bytes [5i, 5i+5) of fp(pk) modulo 100000
 *   safety number = digits of the two keys, smaller fingerprint first
 *            (60 digits, printed as 12 groups of 5 separated by spaces)
 *   QR payload = version 0x01 || fp(smaller)[0..32) || fp(larger)[0..32)
 *
 * Sorting makes it the same on both sides (order-independent) and it only
 * changes when one of the identity keys changes (stable). */
#ifndef PARLEY_CRYPTO_SAFETY_H
#define PARLEY_CRYPTO_SAFETY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/cx.h"

#define CX_SAFETY_DIGITS 60
#define CX_SAFETY_TEXT_LEN (60 + 11) /* with spaces, without NUL */
#define CX_SAFETY_QR_LEN 65
#define CX_SAFETY_ITERATIONS 5200

/* Formats the safety number of identity keys a and b (Ed25519 public
 * keys) as 12 groups of 5 digits separated by single spaces, NUL
 * terminated, into out (out_max >= CX_SAFETY_TEXT_LEN + 1).  Returns 0 or
 * -E2BIG. */
int cx_safety_number(char *out, size_t out_max,
		     const uint8_t a[static CX_ED_PK_LEN],
		     const uint8_t b[static CX_ED_PK_LEN]);

/* The QR payload for the same pair. */
void cx_safety_qr(uint8_t out[static CX_SAFETY_QR_LEN],
		  const uint8_t a[static CX_ED_PK_LEN],
		  const uint8_t b[static CX_ED_PK_LEN]);

/* True when a scanned payload matches our view of the pair (constant-time
 * compare).  Any length other than CX_SAFETY_QR_LEN is a mismatch. */
bool cx_safety_qr_verify(const uint8_t *payload, size_t len,
			 const uint8_t a[static CX_ED_PK_LEN],
			 const uint8_t b[static CX_ED_PK_LEN]);

#endif
