/* Link wire format and timers: every constant in one place (STYLE.md
 * section 1, like WireGuard's messages.h).  docs/PROTOCOL-link.md is the
 * prose version.  Integers are big-endian.  Bytes 1..3 of every packet are
 * reserved: sent as zero, ignored on receipt (authenticated as AD in
 * transport packets).
 *
 * INIT   0x10  XK message 1, initiator -> responder             (88 bytes)
 *   0  1 class | 1  3 zero | 4  4 sender index
 *   8 48 Noise "e, es" (e 32, empty payload tag 16)
 *  56 16 mac1 = HMAC-BLAKE2b(BLAKE2b-256("mac1----" || responder pk),
 *                bytes 0..55), first 16 bytes
 *  72 16 mac2 = HMAC-BLAKE2b(cookie, bytes 0..71), first 16 bytes, or zero
 * RESP   0x11  XK message 2, responder -> initiator             (60 bytes)
 *   0  1 class | 1  3 zero | 4  4 sender index | 8  4 receiver index
 *  12 48 Noise "e, ee" (e 32, empty payload tag 16)
 * FINAL  0x12  XK message 3, initiator -> responder             (72 bytes)
 *   0  1 class | 1  3 zero | 4  4 receiver index
 *   8 64 Noise "s, se" (encrypted s 48, empty payload tag 16)
 * COOKIE 0x13  cookie reply to an INIT under load               (64 bytes)
 *   0  1 class | 1  3 zero | 4  4 receiver index (INIT's sender index)
 *   8 24 nonce
 *  32 32 XChaCha20-Poly1305(key = BLAKE2b-256("cookie--" || responder pk),
 *        ad = the INIT's mac1, cookie 16)
 * DATA   0x14  transport                                 (32..1232 bytes)
 *   0  1 class | 1  3 zero | 4  4 receiver index | 8  8 counter
 *  16  n+16 ChaChaPoly(k, nonce = counter, ad = bytes 0..15, payload)
 *        an empty payload is a keepalive
 * XINIT  0x15  XX message 1, when the responder's key is unknown (72 bytes)
 *   0  1 class | 1  3 zero | 4  4 sender index | 8 32 Noise "e"
 *  40 16 mac1 keyed with BLAKE2b-256("mac1----" || 32 zero bytes)
 *  56 16 mac2 (as in INIT); a COOKIE answering it is sealed under
 *        BLAKE2b-256("cookie--" || 32 zero bytes)
 * XRESP  0x16  XX message 2                                   (108 bytes)
 *   0  1 class | 1  3 zero | 4  4 sender index | 8  4 receiver index
 *  12 96 Noise "e, ee, s, es" (e 32, encrypted s 48, payload tag 16)
 * XX message 3 "s, se" has XK's size and travels as FINAL.
 * 0x17..0x1f are reserved for later link packets. */
#ifndef PARLEY_NODE_LINK_WIRE_H
#define PARLEY_NODE_LINK_WIRE_H

#include <stdint.h>

#define LINK_CLASS_MIN 0x10
#define LINK_CLASS_INIT 0x10
#define LINK_CLASS_RESP 0x11
#define LINK_CLASS_FINAL 0x12
#define LINK_CLASS_COOKIE 0x13
#define LINK_CLASS_DATA 0x14
#define LINK_CLASS_XINIT 0x15
#define LINK_CLASS_XRESP 0x16
#define LINK_CLASS_MAX 0x1f

#define LINK_NOISE_NAME "Noise_XK_25519_ChaChaPoly_BLAKE2b"
#define LINK_NOISE_NAME_XX "Noise_XX_25519_ChaChaPoly_BLAKE2b"
#define LINK_PROLOGUE "parley link v1"

#define LINK_MAC_LEN 16
#define LINK_COOKIE_LEN 16
#define LINK_COOKIE_NONCE_LEN 24
#define LINK_NOISE_MSG1_LEN 48
#define LINK_NOISE_MSG2_LEN 48
#define LINK_NOISE_MSG3_LEN 64
#define LINK_INIT_LEN (8 + LINK_NOISE_MSG1_LEN + 2 * LINK_MAC_LEN) /* 88 */
#define LINK_INIT_MAC1_OFF (8 + LINK_NOISE_MSG1_LEN)		   /* 56 */
#define LINK_INIT_MAC2_OFF (LINK_INIT_MAC1_OFF + LINK_MAC_LEN)	   /* 72 */
#define LINK_RESP_LEN (12 + LINK_NOISE_MSG2_LEN)		   /* 60 */
#define LINK_FINAL_LEN (8 + LINK_NOISE_MSG3_LEN)		   /* 72 */
#define LINK_XX_MSG1_LEN 32 /* e; the empty payload is not encrypted */
#define LINK_XX_MSG2_LEN 96 /* e, encrypted s (48), payload tag */
#define LINK_XINIT_LEN (8 + LINK_XX_MSG1_LEN + 2 * LINK_MAC_LEN) /* 72 */
#define LINK_XRESP_LEN (12 + LINK_XX_MSG2_LEN)			 /* 108 */
#define LINK_RESP_MAX LINK_XRESP_LEN
#define LINK_COOKIE_PKT_LEN (8 + LINK_COOKIE_NONCE_LEN + LINK_COOKIE_LEN + 16)
#define LINK_DATA_HDR_LEN 16
#define LINK_TAG_LEN 16
#define LINK_DATA_MIN (LINK_DATA_HDR_LEN + LINK_TAG_LEN) /* keepalive: 32 */

/* Timers and limits, after WireGuard (Donenfeld, "WireGuard: Next
 * Generation Kernel Network Tunnel", NDSS 2017): constants of section 6.1,
 * message limits of 6.2, retransmission of 6.4 (here with backoff), passive
 * keepalive of 6.5. */
#define LINK_REKEY_AFTER_MESSAGES (1ull << 60)
#define LINK_REJECT_AFTER_MESSAGES (UINT64_MAX - (1ull << 13))
#define LINK_REKEY_AFTER_TIME_MS 120000ull
#define LINK_REJECT_AFTER_TIME_MS 180000ull
#define LINK_REKEY_ATTEMPT_TIME_MS 90000ull /* give a handshake up */
#define LINK_REKEY_RESPONDER_DELAY_MS 30000ull
#define LINK_HS_RETRY_FIRST_MS 1000ull /* then doubling ... */
#define LINK_HS_RETRY_MAX_MS 16000ull  /* ... up to this */
#define LINK_HS_JITTER_MS 333u
#define LINK_FINAL_TRIES 3	       /* FINALs before starting over */
#define LINK_RESP_SLOT_TTL_MS 10000ull /* responder state lifetime */
#define LINK_KEEPALIVE_MS 10000ull     /* passive: answer data within */
#define LINK_IDLE_KEEPALIVE_MS 25000ull
#define LINK_DEAD_MS 75000ull
#define LINK_UNANSWERED_MS 15000ull /* KEEPALIVE + REKEY_TIMEOUT (5 s) */
#define LINK_COOKIE_SECRET_MS 120000ull
#define LINK_COOKIE_TTL_MS 110000ull /* initiator side, a bit shorter */

/* Replay window: RFC 6479 ring of 64-bit words; (words - 1) * 64 usable. */
#define LINK_REPLAY_WORDS 64
#define LINK_REPLAY_WINDOW ((LINK_REPLAY_WORDS - 1) * 64) /* 4032 */

#define LINK_RATE_BUCKETS 256

static inline void link__put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline uint32_t link__get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static inline void link__put_u64(uint8_t *p, uint64_t v)
{
	link__put_u32(p, (uint32_t)(v >> 32));
	link__put_u32(p + 4, (uint32_t)v);
}

static inline uint64_t link__get_u64(const uint8_t *p)
{
	return (uint64_t)link__get_u32(p) << 32 | link__get_u32(p + 4);
}

#endif
