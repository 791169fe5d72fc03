/* Identities (DESIGN.md section 3): the account, device and node keys, the
 * storage key, the device certificate and the contact ID.
 *
 * Ownership: a struct cx_identity is embedded by its user; its secret
 * halves sit in cx_secret_alloc() (sodium_malloc) memory that the struct
 * owns and cx_identity_close() wipes and frees.  Every temporary that holds
 * a secret (seeds, re-derived keys) lives on the stack and is wiped with
 * sodium_memzero() before the function returns, on every path.
 *
 * Randomness comes from the injected struct rng only (STYLE.md section 2),
 * so tests and the simulator derive the same identity from the same seed. */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "crypto/keys.h"

static const char cert_ctx[] = "parley device cert v1";
static const char contact_ctx[] = "parley contact id v1";

int cx_identity_alloc(struct cx_identity *id)
{
	memset(id, 0, sizeof *id);
	id->account_sk = cx_secret_alloc(CX_ED_SK_LEN);
	id->device_sk = cx_secret_alloc(CX_ED_SK_LEN);
	id->node_sk = cx_secret_alloc(CX_X_SK_LEN);
	id->store_key = cx_secret_alloc(CX_KEY_LEN);
	if (id->account_sk == NULL || id->device_sk == NULL ||
	    id->node_sk == NULL || id->store_key == NULL) {
		cx_identity_close(id);
		return -ENOMEM;
	}
	/* sodium_malloc fills with a canary pattern, not zeros. */
	sodium_memzero(id->account_sk, CX_ED_SK_LEN);
	sodium_memzero(id->device_sk, CX_ED_SK_LEN);
	sodium_memzero(id->node_sk, CX_X_SK_LEN);
	sodium_memzero(id->store_key, CX_KEY_LEN);
	return 0;
}

void cx_identity_close(struct cx_identity *id)
{
	if (id == NULL)
		return;
	cx_secret_free(id->account_sk); /* sodium_free wipes first */
	cx_secret_free(id->device_sk);
	cx_secret_free(id->node_sk);
	cx_secret_free(id->store_key);
	sodium_memzero(id, sizeof *id);
}

static void put_u64_be(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

void cx_device_cert_msg(uint8_t out[static CX_DEVICE_CERT_MSG_LEN],
			const uint8_t account_pk[static CX_ED_PK_LEN],
			const uint8_t device_pk[static CX_ED_PK_LEN],
			uint64_t created_s)
{
	uint8_t *p = out;

	memcpy(p, cert_ctx, sizeof cert_ctx - 1);
	p += sizeof cert_ctx - 1;
	*p++ = 0x00;
	*p++ = CX_DEVICE_CERT_VERSION;
	memcpy(p, account_pk, CX_ED_PK_LEN);
	p += CX_ED_PK_LEN;
	memcpy(p, device_pk, CX_ED_PK_LEN);
	p += CX_ED_PK_LEN;
	put_u64_be(p, created_s);
}

int cx_device_cert_verify(const uint8_t account_pk[static CX_ED_PK_LEN],
			  const uint8_t device_pk[static CX_ED_PK_LEN],
			  uint64_t created_s,
			  const uint8_t sig[static CX_SIG_LEN])
{
	uint8_t msg[CX_DEVICE_CERT_MSG_LEN];

	cx_device_cert_msg(msg, account_pk, device_pk, created_s);
	if (crypto_sign_verify_detached(sig, msg, sizeof msg, account_pk) != 0)
		return -EKEYREJECTED;
	return 0;
}

/* An Ed25519 key pair from 32 rng bytes (crypto_sign_seed_keypair), so the
 * rng alone decides the key. */
static int ed_keypair(uint8_t pk[static CX_ED_PK_LEN], uint8_t *sk,
		      const struct rng *rng)
{
	uint8_t seed[CX_ED_SEED_LEN];
	int r;

	rng_fill(rng, seed, sizeof seed);
	r = crypto_sign_seed_keypair(pk, sk, seed) == 0 ? 0 : -EINVAL;
	sodium_memzero(seed, sizeof seed);
	return r;
}

int cx_identity_generate(struct cx_identity *id, const struct rng *rng,
			 uint64_t now_s)
{
	uint8_t msg[CX_DEVICE_CERT_MSG_LEN];
	int r;

	if ((r = cx_identity_alloc(id)) < 0)
		return r;
	if ((r = ed_keypair(id->account_pk, id->account_sk, rng)) < 0 ||
	    (r = ed_keypair(id->device_pk, id->device_sk, rng)) < 0)
		goto out;
	/* X25519: any 32 bytes are a secret key; crypto_scalarmult_base
	 * clamps it (RFC 7748 section 5, decodeScalar25519). */
	rng_fill(rng, id->node_sk, CX_X_SK_LEN);
	if (crypto_scalarmult_base(id->node_pk, id->node_sk) != 0) {
		r = -EINVAL;
		goto out;
	}
	rng_fill(rng, id->store_key, CX_KEY_LEN);
	id->created_s = now_s;
	cx_device_cert_msg(msg, id->account_pk, id->device_pk, now_s);
	if (crypto_sign_detached(id->device_sig, NULL, msg, sizeof msg,
				 id->account_sk) != 0) {
		r = -EINVAL;
		goto out;
	}
	r = 0;
out:
	if (r < 0)
		cx_identity_close(id);
	return r;
}

/* True when sk (seed || pk, libsodium's layout) is the key pair that its
 * seed generates and pk is its public half.  Compares in constant time. */
static bool ed_pair_ok(const uint8_t pk[static CX_ED_PK_LEN],
		       const uint8_t sk[static CX_ED_SK_LEN])
{
	uint8_t pk2[CX_ED_PK_LEN], sk2[CX_ED_SK_LEN];
	bool ok;

	/* The first 32 bytes of a libsodium Ed25519 secret key are its
	 * seed (crypto_sign_ed25519_sk_to_seed). */
	ok = crypto_sign_seed_keypair(pk2, sk2, sk) == 0;
	ok &= sodium_memcmp(pk2, pk, CX_ED_PK_LEN) == 0;
	ok &= sodium_memcmp(sk2, sk, CX_ED_SK_LEN) == 0;
	sodium_memzero(sk2, sizeof sk2);
	sodium_memzero(pk2, sizeof pk2);
	return ok;
}

int cx_identity_check(const struct cx_identity *id)
{
	uint8_t node_pk[CX_X_PK_LEN];
	bool ok;

	if (id->account_sk == NULL || id->device_sk == NULL ||
	    id->node_sk == NULL || id->store_key == NULL)
		return -EINVAL;
	ok = cx_device_cert_verify(id->account_pk, id->device_pk, id->created_s,
				   id->device_sig) == 0;
	ok &= ed_pair_ok(id->account_pk, id->account_sk);
	ok &= ed_pair_ok(id->device_pk, id->device_sk);
	ok &= crypto_scalarmult_base(node_pk, id->node_sk) == 0;
	ok &= sodium_memcmp(node_pk, id->node_pk, CX_X_PK_LEN) == 0;
	ok &= sodium_is_zero(id->store_key, CX_KEY_LEN) == 0;
	sodium_memzero(node_pk, sizeof node_pk);
	return ok ? 0 : -EKEYREJECTED;
}

void cx_node_id(uint8_t out[static CX_HASH_LEN],
		const uint8_t node_pk[static CX_X_PK_LEN])
{
	cx_hash(out, node_pk, CX_X_PK_LEN);
}

/* Contact ID.
 *
 * RFC 4648 section 6: "The Base 32 encoding is designed to represent
 * arbitrary sequences of octets in a form that needs to be case insensitive
 * but that need not be human readable.  A 33-character subset of US-ASCII
 * is used, enabling 5 bits to be represented per printable character."
 * "The encoding process represents 40-bit groups of input bits as output
 * strings of 8 encoded characters."  Our 35 bytes are exactly seven such
 * groups, so no padding ever arises and none is written.  We write the
 * alphabet of its Table 3 in lower case (A-Z -> a-z, then 2-7) and accept
 * either case, as the section's purpose allows. */
#define CONTACT_RAW_LEN (1 + CX_ED_PK_LEN + 2)

static const char b32_alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";

static void contact_checksum(uint8_t out[2], uint8_t version,
			     const uint8_t pk[static CX_ED_PK_LEN])
{
	crypto_generichash_state st;
	uint8_t h[CX_HASH_LEN];

	crypto_generichash_init(&st, NULL, 0, sizeof h);
	crypto_generichash_update(&st, (const uint8_t *)contact_ctx,
				  sizeof contact_ctx - 1);
	crypto_generichash_update(&st, &version, 1);
	crypto_generichash_update(&st, pk, CX_ED_PK_LEN);
	crypto_generichash_final(&st, h, sizeof h);
	out[0] = h[0];
	out[1] = h[1];
}

int cx_contact_id_encode(char *out, size_t out_max,
			 const uint8_t account_pk[static CX_ED_PK_LEN])
{
	uint8_t raw[CONTACT_RAW_LEN];
	uint32_t bits = 0;
	unsigned nbits = 0;
	size_t o = 0;

	if (out == NULL || out_max < CX_CONTACT_ID_LEN + 1)
		return -EINVAL;
	raw[0] = CX_CONTACT_ID_VERSION;
	memcpy(raw + 1, account_pk, CX_ED_PK_LEN);
	contact_checksum(raw + 1 + CX_ED_PK_LEN, CX_CONTACT_ID_VERSION,
			 account_pk);
	/* Most significant bits first: "the first octet is the most
	 * significant 8 bits of the group" (RFC 4648 section 6). */
	for (size_t i = 0; i < sizeof raw; i++) {
		bits = (bits << 8) | raw[i];
		nbits += 8;
		while (nbits >= 5) {
			nbits -= 5;
			out[o++] = b32_alphabet[(bits >> nbits) & 31];
		}
	}
	out[o] = '\0';
	return 0;
}

/* Value of one base32 character, or -1, without branching on the
 * character (WireGuard encoding.c style): each range test yields an
 * all-ones mask when c is inside it. */
static int b32_value(unsigned char ch)
{
	int c = ch, v = -1;

	/* 'a'..'z' and 'A'..'Z' -> 0..25, '2'..'7' -> 26..31 */
	v += (((0x60 - c) & (c - 0x7b)) >> 8) & (c - 'a' + 1);
	v += (((0x40 - c) & (c - 0x5b)) >> 8) & (c - 'A' + 1);
	v += (((0x31 - c) & (c - 0x38)) >> 8) & (c - '2' + 27);
	return v;
}

int cx_contact_id_decode(uint8_t account_pk[static CX_ED_PK_LEN], const char *s)
{
	const size_t prefix_len = sizeof CX_URI_PREFIX - 1;
	uint8_t raw[CONTACT_RAW_LEN], sum[2];
	uint32_t bits = 0;
	unsigned nbits = 0;
	size_t len, o = 0;
	int bad = 0;

	if (s == NULL)
		return -EBADMSG;
	/* RFC 3986 section 3.1: "schemes are case-insensitive". */
	if (strncasecmp(s, CX_URI_PREFIX, prefix_len) == 0)
		s += prefix_len;
	len = strnlen(s, CX_CONTACT_ID_LEN + 1);
	if (len != CX_CONTACT_ID_LEN)
		return -EBADMSG;
	for (size_t i = 0; i < CX_CONTACT_ID_LEN; i++) {
		int v = b32_value((unsigned char)s[i]);

		bad |= v; /* -1 sets every bit */
		bits = (bits << 5) | ((uint32_t)v & 31);
		nbits += 5;
		if (nbits >= 8) {
			nbits -= 8;
			raw[o++] = (uint8_t)(bits >> nbits);
		}
	}
	if (bad < 0 || raw[0] != CX_CONTACT_ID_VERSION)
		return -EBADMSG;
	contact_checksum(sum, raw[0], raw + 1);
	if (sodium_memcmp(sum, raw + 1 + CX_ED_PK_LEN, sizeof sum) != 0)
		return -EBADMSG;
	memcpy(account_pk, raw + 1, CX_ED_PK_LEN);
	return 0;
}

int cx_store_subkey(uint8_t out[static CX_KEY_LEN],
		    const struct cx_identity *identity, uint64_t subkey_id,
		    const char ctx[static 8])
{
	if (identity == NULL || identity->store_key == NULL)
		return -EINVAL;
	/* libsodium key derivation: crypto_kdf_derive_from_key(subkey,
	 * subkey_len, subkey_id, ctx[crypto_kdf_CONTEXTBYTES], key). */
	if (crypto_kdf_derive_from_key(out, CX_KEY_LEN, subkey_id, ctx,
				       identity->store_key) != 0)
		return -EINVAL;
	return 0;
}
