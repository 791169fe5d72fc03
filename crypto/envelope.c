/* Sealed envelopes, mailbox IDs and proof-of-work stamps (see envelope.h).
 * Stateless; key material is wiped on every path. */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "crypto/envelope.h"
#include "crypto/prim.h"

static const char seal_ctx[] = "parley envelope v1";
static const char mailbox_ctx[] = "parley mailbox v1";
static const char request_ctx[] = "parley request mailbox v1";
static const char challenge_ctx[] = "parley pow challenge v1";
static const char pow_ctx[] = "parley pow v1";

static void put64(uint8_t p[8], uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static void seal_key(uint8_t key[32], const uint8_t shared[32],
		     const uint8_t epk[32], const uint8_t rpk[32])
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, (const uint8_t *)seal_ctx,
				  sizeof seal_ctx - 1);
	crypto_generichash_update(&st, shared, 32);
	crypto_generichash_update(&st, epk, 32);
	crypto_generichash_update(&st, rpk, 32);
	crypto_generichash_final(&st, key, 32);
	sodium_memzero(&st, sizeof st);
}

int cx_envelope_seal(uint8_t *out, size_t out_max, size_t *out_len,
		     const uint8_t *pt, size_t pt_len,
		     const uint8_t rpk[static CX_X_PK_LEN],
		     const struct rng *rng)
{
	uint8_t esk[32], shared[32], key[32];
	static const uint8_t nonce[24] = {0};
	int r;

	*out_len = 0;
	if (pt_len > CX_ENVELOPE_MAX || out_max < pt_len ||
	    out_max - pt_len < CX_ENVELOPE_OVERHEAD)
		return -E2BIG;
	out[0] = CX_ENVELOPE_VERSION;
	cx_x25519_keypair(out + 1, esk, rng);
	if ((r = cx_x25519(shared, esk, rpk)) < 0)
		goto out;
	seal_key(key, shared, out + 1, rpk);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + 33, NULL, pt, pt_len,
						   out, 33, NULL, nonce, key);
	*out_len = pt_len + CX_ENVELOPE_OVERHEAD;
	r = 0;
out:
	sodium_memzero(esk, sizeof esk);
	sodium_memzero(shared, sizeof shared);
	sodium_memzero(key, sizeof key);
	return r;
}

int cx_envelope_open(uint8_t *out, size_t out_max, size_t *out_len,
		     const uint8_t *env, size_t env_len,
		     const uint8_t rsk[static CX_X_SK_LEN],
		     const uint8_t rpk[static CX_X_PK_LEN])
{
	uint8_t shared[32], key[32];
	static const uint8_t nonce[24] = {0};
	int r;

	*out_len = 0;
	if (env_len < CX_ENVELOPE_OVERHEAD || env[0] != CX_ENVELOPE_VERSION ||
	    env_len - CX_ENVELOPE_OVERHEAD > CX_ENVELOPE_MAX)
		return -EBADMSG;
	if (env_len - CX_ENVELOPE_OVERHEAD > out_max)
		return -E2BIG;
	if ((r = cx_x25519(shared, rsk, env + 1)) < 0)
		goto out;
	seal_key(key, shared, env + 1, rpk);
	r = -EKEYREJECTED;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(
		    out, NULL, NULL, env + 33, env_len - 33, env, 33, nonce,
		    key) != 0)
		goto out;
	*out_len = env_len - CX_ENVELOPE_OVERHEAD;
	r = 0;
out:
	sodium_memzero(shared, sizeof shared);
	sodium_memzero(key, sizeof key);
	return r;
}

uint64_t cx_mailbox_epoch(uint64_t now_s, uint64_t period_s)
{
	return period_s == 0 ? 0 : now_s / period_s;
}

void cx_mailbox_id(uint8_t id[static CX_MAILBOX_ID_LEN],
		   const uint8_t pairwise[static CX_KEY_LEN],
		   const uint8_t recipient_pk[static 32], uint64_t epoch)
{
	crypto_generichash_state st;
	uint8_t e[8];

	put64(e, epoch);
	crypto_generichash_init(&st, pairwise, CX_KEY_LEN, CX_MAILBOX_ID_LEN);
	crypto_generichash_update(&st, (const uint8_t *)mailbox_ctx,
				  sizeof mailbox_ctx - 1);
	crypto_generichash_update(&st, recipient_pk, 32);
	crypto_generichash_update(&st, e, sizeof e);
	crypto_generichash_final(&st, id, CX_MAILBOX_ID_LEN);
	sodium_memzero(&st, sizeof st);
}

void cx_request_mailbox_id(uint8_t id[static CX_MAILBOX_ID_LEN],
			   const uint8_t recipient_pk[static 32],
			   uint64_t epoch)
{
	crypto_generichash_state st;
	uint8_t e[8];

	put64(e, epoch);
	crypto_generichash_init(&st, NULL, 0, CX_MAILBOX_ID_LEN);
	crypto_generichash_update(&st, (const uint8_t *)request_ctx,
				  sizeof request_ctx - 1);
	crypto_generichash_update(&st, recipient_pk, 32);
	crypto_generichash_update(&st, e, sizeof e);
	crypto_generichash_final(&st, id, CX_MAILBOX_ID_LEN);
}

void cx_pow_challenge(uint8_t challenge[static CX_POW_CHALLENGE_LEN],
		      const uint8_t mailbox_id[static CX_MAILBOX_ID_LEN],
		      const uint8_t *env, size_t env_len)
{
	crypto_generichash_state st;
	uint8_t h[32];

	crypto_generichash(h, sizeof h, env, env_len, NULL, 0);
	crypto_generichash_init(&st, NULL, 0, CX_POW_CHALLENGE_LEN);
	crypto_generichash_update(&st, (const uint8_t *)challenge_ctx,
				  sizeof challenge_ctx - 1);
	crypto_generichash_update(&st, mailbox_id, CX_MAILBOX_ID_LEN);
	crypto_generichash_update(&st, h, sizeof h);
	crypto_generichash_final(&st, challenge, CX_POW_CHALLENGE_LEN);
}

/* Number of leading zero bits of h (32 bytes), capped at 64. */
static unsigned leading_zeros(const uint8_t h[32])
{
	unsigned n = 0, i;

	for (i = 0; i < 8; i++) {
		uint8_t b = h[i];

		if (b == 0) {
			n += 8;
			continue;
		}
		while ((b & 0x80) == 0) {
			n++;
			b <<= 1;
		}
		break;
	}
	return n;
}

/* The hash input is prefixed once: a saved state after the constant part
 * makes each try one short update. */
static void pow_prefix(crypto_generichash_state *st,
		       const uint8_t challenge[CX_POW_CHALLENGE_LEN],
		       unsigned difficulty)
{
	uint8_t d = (uint8_t)difficulty;

	crypto_generichash_init(st, NULL, 0, 32);
	crypto_generichash_update(st, (const uint8_t *)pow_ctx,
				  sizeof pow_ctx - 1);
	crypto_generichash_update(st, &d, 1);
	crypto_generichash_update(st, challenge, CX_POW_CHALLENGE_LEN);
}

static unsigned pow_bits(const crypto_generichash_state *prefix, uint64_t nonce)
{
	crypto_generichash_state st = *prefix;
	uint8_t n[8], h[32];

	put64(n, nonce);
	crypto_generichash_update(&st, n, sizeof n);
	crypto_generichash_final(&st, h, sizeof h);
	return leading_zeros(h);
}

int cx_pow_solve(uint64_t *nonce,
		 const uint8_t challenge[static CX_POW_CHALLENGE_LEN],
		 unsigned difficulty, uint64_t max_tries)
{
	crypto_generichash_state prefix;
	uint64_t i;

	if (difficulty > CX_POW_MAX_DIFFICULTY)
		return -EINVAL;
	pow_prefix(&prefix, challenge, difficulty);
	for (i = 0; i < max_tries; i++, (*nonce)++)
		if (pow_bits(&prefix, *nonce) >= difficulty)
			return 0;
	return -EAGAIN;
}

bool cx_pow_verify(const uint8_t challenge[static CX_POW_CHALLENGE_LEN],
		   unsigned difficulty, uint64_t nonce)
{
	crypto_generichash_state prefix;

	if (difficulty > CX_POW_MAX_DIFFICULTY)
		return false;
	pow_prefix(&prefix, challenge, difficulty);
	return pow_bits(&prefix, nonce) >= difficulty;
}

void cx_pow_encode(uint8_t out[static CX_POW_NONCE_LEN], uint64_t nonce)
{
	put64(out, nonce);
}

uint64_t cx_pow_decode(const uint8_t in[static CX_POW_NONCE_LEN])
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | in[i];
	return v;
}
