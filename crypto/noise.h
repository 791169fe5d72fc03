/* The Noise Protocol Framework, revision 34 (noiseprotocol.org/noise.html),
 * for links between nodes (DESIGN.md section 5).
 *
 * Supported names: Noise_<pattern>_25519_<cipher>_<hash> with
 *   pattern  every one-way (N, K, X), fundamental interactive (NN ... IX)
 *            and deferred (NK1 ... I1X1) pattern of sections 7.4 and 7.5,
 *            optionally with psk modifiers (section 9), e.g. XXpsk3 or
 *            NNpsk0+psk2;
 *   cipher   ChaChaPoly, or AESGCM where the CPU has AES-NI (libsodium only
 *            offers it there);
 *   hash     BLAKE2b (what parley uses), SHA256 or SHA512 (for the test
 *            vectors).
 * parley's links use Noise_XK_25519_ChaChaPoly_BLAKE2b when the peer's node
 * key is known, Noise_XX_... otherwise, and Noise_NK_... for anonymous
 * deposits at relays; IK is available for 0-RTT.  BLAKE2s and Curve448 are
 * out of libsodium's reach (-ENOTSUP).
 *
 * A handshake object is sans-I/O: messages in and out as byte buffers.
 * Messages are at most CX_NOISE_MAX_MSG bytes.  Any failure (bad tag, short
 * message, low-order key) leaves the handshake in CX_NOISE_FAILED; per the
 * spec (section 5.3) it cannot be resumed, start a new one.
 *
 * Errors: -EINVAL (bad argument, missing key, call in the wrong state),
 * -ENOTSUP (unsupported name), -EBADMSG (malformed message), -EKEYREJECTED
 * (authentication failed, or a low-order public key), -E2BIG (output buffer
 * or message size), -ENOMEM, -EOVERFLOW (nonce exhausted). */
#ifndef PARLEY_CRYPTO_NOISE_H
#define PARLEY_CRYPTO_NOISE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/rng.h"

#define CX_NOISE_MAX_MSG 65535 /* section 3: message size limit */
#define CX_NOISE_KEY_LEN 32    /* X25519 keys, psks, cipher keys */
#define CX_NOISE_TAG_LEN 16
#define CX_NOISE_MAX_HASH 64
#define CX_NOISE_MAX_PSKS 4
#define CX_NOISE_MAX_NAME 64

enum cx_noise_role {
	CX_NOISE_INITIATOR,
	CX_NOISE_RESPONDER,
};

enum cx_noise_action {
	CX_NOISE_WRITE,	 /* call cx_noise_hs_write next */
	CX_NOISE_READ,	 /* call cx_noise_hs_read next */
	CX_NOISE_SPLIT,	 /* handshake complete: cx_noise_hs_split */
	CX_NOISE_FAILED, /* dead; free it */
};

/* Keys for a handshake; every pointer may be NULL when the pattern does not
 * need it.  The handshake copies what it needs into secret memory. */
struct cx_noise_keys {
	const uint8_t *s;  /* local static X25519 secret key, 32 bytes */
	const uint8_t *rs; /* remote static public key, 32 bytes (known
			    * in advance: the <- s pre-message of XK, IK, NK) */
	const uint8_t *e;  /* fixed ephemeral secret: test vectors only;
			    * NULL = fresh from rng (always in production) */
	const uint8_t (*psks)[CX_NOISE_KEY_LEN]; /* in the order used */
	size_t num_psks;
};

struct cx_noise_hs;
struct cx_noise_cs;

/* Creates a handshake for protocol_name in role, with prologue (may be
 * empty) and keys; rng supplies ephemeral keys and must outlive the
 * handshake.  Returns 0, -ENOTSUP, -EINVAL (a pre-message key or psk
 * missing, prologue > CX_NOISE_MAX_MSG) or -ENOMEM.  Free with
 * cx_noise_hs_free. */
int cx_noise_hs_new(struct cx_noise_hs **out, const char *protocol_name,
		    enum cx_noise_role role, const uint8_t *prologue,
		    size_t prologue_len, const struct cx_noise_keys *keys,
		    const struct rng *rng);

/* Wipes and frees; NULL is a no-op. */
void cx_noise_hs_free(struct cx_noise_hs *hs);

/* What the handshake expects next. */
enum cx_noise_action cx_noise_hs_action(const struct cx_noise_hs *hs);

/* WriteMessage (section 5.3): writes the next handshake message carrying
 * payload into out (out_max bytes) and sets *out_len.  Returns 0 or an
 * error (the handshake is then FAILED, except for -EINVAL on a call in the
 * wrong state, which changes nothing). */
int cx_noise_hs_write(struct cx_noise_hs *hs, const uint8_t *payload,
		      size_t payload_len, uint8_t *out, size_t out_max,
		      size_t *out_len);

/* ReadMessage: processes msg and puts its payload in payload (payload_max
 * bytes), setting *payload_len.  Same return convention as write. */
int cx_noise_hs_read(struct cx_noise_hs *hs, const uint8_t *msg, size_t msg_len,
		     uint8_t *payload, size_t payload_max, size_t *payload_len);

/* Split (section 5.2) once the action is SPLIT: *send encrypts what this
 * side sends, *recv decrypts what it receives (for one-way patterns only
 * the initiator's send / responder's recv carry traffic).  The caller frees
 * both.  Returns 0, -EINVAL (not complete) or -ENOMEM. */
int cx_noise_hs_split(struct cx_noise_hs *hs, struct cx_noise_cs **send,
		      struct cx_noise_cs **recv);

/* The handshake hash h (section 5.2 GetHandshakeHash), HASHLEN bytes (32 or
 * 64) into out (out_max >= that), *len set.  Only meaningful for channel
 * binding once the handshake is complete.  Returns 0 or -E2BIG. */
int cx_noise_hs_hash(const struct cx_noise_hs *hs, uint8_t *out, size_t out_max,
		     size_t *len);

/* The remote static public key once known (pre-message or received).
 * Returns 0 or -ENOENT. */
int cx_noise_hs_remote_static(const struct cx_noise_hs *hs,
			      uint8_t out[static CX_NOISE_KEY_LEN]);

/* Transport (section 5.1 CipherState).  Encrypts pt with the next nonce:
 * out = ciphertext (pt_len + 16 bytes).  Returns 0, -E2BIG (out too
 * small, or result over CX_NOISE_MAX_MSG) or -EOVERFLOW when the nonce
 * reached 2^64-1 (rekey will not help: make a new session). */
int cx_noise_cs_encrypt(struct cx_noise_cs *cs, const uint8_t *ad,
			size_t ad_len, const uint8_t *pt, size_t pt_len,
			uint8_t *out, size_t out_max, size_t *out_len);

/* Decrypts with the next nonce; the nonce advances only on success.
 * Returns 0, -EBADMSG (shorter than a tag), -E2BIG, -EOVERFLOW or
 * -EKEYREJECTED. */
int cx_noise_cs_decrypt(struct cx_noise_cs *cs, const uint8_t *ad,
			size_t ad_len, const uint8_t *ct, size_t ct_len,
			uint8_t *out, size_t out_max, size_t *out_len);

/* As above with an explicit nonce n (datagram transports carry n on the
 * wire and keep their own replay window, section 11.4); the internal
 * counter is neither used nor changed.  n = 2^64-1 is refused
 * (-EOVERFLOW). */
int cx_noise_cs_encrypt_n(const struct cx_noise_cs *cs, uint64_t n,
			  const uint8_t *ad, size_t ad_len, const uint8_t *pt,
			  size_t pt_len, uint8_t *out, size_t out_max,
			  size_t *out_len);
int cx_noise_cs_decrypt_n(const struct cx_noise_cs *cs, uint64_t n,
			  const uint8_t *ad, size_t ad_len, const uint8_t *ct,
			  size_t ct_len, uint8_t *out, size_t out_max,
			  size_t *out_len);

/* The next nonce, and SetNonce (section 5.1). */
uint64_t cx_noise_cs_nonce(const struct cx_noise_cs *cs);
void cx_noise_cs_set_nonce(struct cx_noise_cs *cs, uint64_t n);

/* Rekey (sections 4.2 and 11.3): k = first 32 bytes of
 * ENCRYPT(k, 2^64-1, "", 32 zero bytes).  The nonce is unchanged. */
void cx_noise_cs_rekey(struct cx_noise_cs *cs);

/* Wipes and frees; NULL is a no-op. */
void cx_noise_cs_free(struct cx_noise_cs *cs);

#endif
