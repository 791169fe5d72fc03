/* Length hiding before encryption.
 *
 *  - Messages: ISO/IEC 7816-4 padding (libsodium's sodium_pad: one 0x80
 *    byte, then zeros) up to a size bucket: the smallest power of two that
 *    is >= len + 1 and >= CX_PAD_MIN, and above CX_PAD_STEP a multiple of
 *    CX_PAD_STEP.  An observer learns only the bucket.
 *  - Files: Padmé (Nikitin et al., "Reducing Metadata Leakage from Encrypted
 *    Files and Communication with PURBs", PETS 2019, section 4): at most
 *    ~12% overhead, leaking O(log log L) bits of the length.  The same
 *    0x80-then-zeros marker makes it removable.
 *
 * Padding and unpadding take time that depends on the length they hide
 * (a memset, a scan from the end).  What the bucket hides, it hides from
 * the network; the only ones who see these run are this process, the app
 * that gave it the text, and the peer that sent it: all know the length.
 * libsodium's constant-time sodium_pad/sodium_unpad touch each byte of the
 * bucket through a volatile barrier: 8% of a sender's CPU per 1,372-byte
 * message (bench_msg under perf), for nothing here. */
#ifndef PARLEY_CRYPTO_PAD_H
#define PARLEY_CRYPTO_PAD_H

#include <stddef.h>
#include <stdint.h>

#define CX_PAD_MIN 64		  /* smallest message bucket */
#define CX_PAD_STEP (64u * 1024u) /* buckets above this are multiples */

/* The bucket a message of len bytes pads to (always > len). */
size_t cx_pad_bucket(size_t len);

/* Pads the len bytes at buf in place to cx_pad_bucket(len) bytes.  buf must
 * hold buf_max bytes.  Returns 0 and sets *padded_len, or -E2BIG when
 * buf_max is too small. */
int cx_pad(uint8_t *buf, size_t len, size_t buf_max, size_t *padded_len);

/* Finds the original length of a buffer padded by cx_pad.  Returns 0 and
 * sets *len, or -EBADMSG when the padding is malformed or padded_len is not
 * a bucket size. */
int cx_unpad(const uint8_t *buf, size_t padded_len, size_t *len);

/* Padmé length for a payload of len bytes plus the one marker byte:
 * the padded file size (> len). */
uint64_t cx_padme_len(uint64_t len);

/* Pads a file of len bytes in place to cx_padme_len(len) bytes (marker,
 * zeros).  Returns 0 and sets *padded_len, or -E2BIG. */
int cx_padme(uint8_t *buf, size_t len, size_t buf_max, size_t *padded_len);

/* Removes Padmé padding: 0 and *len, or -EBADMSG. */
int cx_unpadme(const uint8_t *buf, size_t padded_len, size_t *len);

#endif
