/* The key file: one identity as bytes, optionally sealed with a passphrase.
 * Pure: the daemon reads and writes the file (0600); this code only turns
 * a struct cx_identity into bytes and back.  docs/PROTOCOL-keyfile.md holds
 * the byte layout; in short (all integers big-endian):
 *
 *   off len
 *     0   8  magic "PARLEYK1"
 *     8   1  version, 0x01
 *     9   1  flags: 0x01 sealed; every other bit zero
 *    10   1  kdf: 0 none (unsealed), 2 Argon2id v1.3 (sealed)
 *    11   1  reserved, zero
 *    12   4  Argon2id opslimit (0 when unsealed)
 *    16   4  Argon2id memlimit in KiB (0 when unsealed)
 *    20  16  salt (zero when unsealed)
 *    36  24  XChaCha20-Poly1305 nonce (zero when unsealed)
 *    60   P  payload: 296 bytes in clear, or 296 + 16 sealed
 *   end  32  checksum: BLAKE2b-256 of every byte before it
 *
 * Sealing: key = Argon2id(passphrase, salt, opslimit, memlimit)
 * (crypto_pwhash with crypto_pwhash_ALG_ARGON2ID13), then
 * XChaCha20-Poly1305 (crypto_aead_xchacha20poly1305_ietf) of the payload
 * under that key and the nonce, with the 60 header bytes as associated
 * data, so no header field can be changed without the tag failing.
 *
 * Telling corruption from a wrong passphrase: the checksum covers the whole
 * file, so any truncation or flipped bit fails it (-EBADMSG) before the
 * passphrase is tried; once it passes, a tag failure can only mean the
 * passphrase is wrong (-EKEYREJECTED).  Someone who can rewrite the file
 * can of course recompute the checksum; they still cannot make a wrong
 * passphrase open it, nor change a sealed file undetected.
 *
 * Secrets: the clear payload lives in sodium_malloc() memory, the derived
 * key on the stack; both are wiped on every path. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/keyfile.h"

#define KF_MAGIC "PARLEYK1"
#define KF_MAGIC_LEN 8
#define KF_VERSION 0x01
#define KF_FLAG_SEALED 0x01
#define KF_KDF_NONE 0
#define KF_KDF_ARGON2ID13 2

#define KF_OFF_VERSION 8
#define KF_OFF_FLAGS 9
#define KF_OFF_KDF 10
#define KF_OFF_RESERVED 11
#define KF_OFF_OPS 12
#define KF_OFF_MEM 16
#define KF_OFF_SALT 20
#define KF_SALT_LEN 16
#define KF_OFF_NONCE 36
#define KF_NONCE_LEN 24
#define KF_HDR_LEN 60
#define KF_TAG_LEN 16
#define KF_SUM_LEN 32

/* Payload: account sk, device sk, device signature, node sk, node pk,
 * storage key, created_s.  The Ed25519 secret keys carry their public
 * halves; the node public key is stored so that a damaged node secret is
 * caught on load instead of silently becoming another node identity. */
#define PL_ACCOUNT_SK 0
#define PL_DEVICE_SK (PL_ACCOUNT_SK + CX_ED_SK_LEN)
#define PL_DEVICE_SIG (PL_DEVICE_SK + CX_ED_SK_LEN)
#define PL_NODE_SK (PL_DEVICE_SIG + CX_SIG_LEN)
#define PL_NODE_PK (PL_NODE_SK + CX_X_SK_LEN)
#define PL_STORE_KEY (PL_NODE_PK + CX_X_PK_LEN)
#define PL_CREATED (PL_STORE_KEY + CX_KEY_LEN)
#define PL_LEN (PL_CREATED + 8)

#define KF_LEN_CLEAR (KF_HDR_LEN + PL_LEN + KF_SUM_LEN)
#define KF_LEN_SEALED (KF_HDR_LEN + PL_LEN + KF_TAG_LEN + KF_SUM_LEN)

_Static_assert(PL_LEN == 296, "payload layout");
_Static_assert(KF_LEN_SEALED <= CX_KEYFILE_MAX, "key file fits its max");
_Static_assert(KF_SALT_LEN == crypto_pwhash_SALTBYTES, "salt size");
_Static_assert(KF_NONCE_LEN == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
	       "nonce size");
_Static_assert(KF_TAG_LEN == crypto_aead_xchacha20poly1305_ietf_ABYTES,
	       "tag size");
_Static_assert(KF_KDF_ARGON2ID13 == crypto_pwhash_ALG_ARGON2ID13,
	       "stored algorithm id is libsodium's");
_Static_assert(CX_KEY_LEN == crypto_aead_xchacha20poly1305_ietf_KEYBYTES,
	       "key size");
_Static_assert(CX_KEY_LEN == crypto_kdf_KEYBYTES, "storage key size");

static void put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void put_u64(uint8_t *p, uint64_t v)
{
	put_u32(p, (uint32_t)(v >> 32));
	put_u32(p + 4, (uint32_t)v);
}

static uint64_t get_u64(const uint8_t *p)
{
	return (uint64_t)get_u32(p) << 32 | get_u32(p + 4);
}

/* The Argon2id cost bounds.  libsodium's crypto_pwhash documentation:
 * "opslimit represents the maximum amount of computations to perform",
 * "memlimit is the maximum amount of RAM in bytes that the function will
 * use".  RFC 9106 section 4 names two recommended choices: t=1 pass with
 * 2 GiB ("FIRST RECOMMENDED"), and, "if much less memory is available",
 * t=3 passes with 64 MiB ("SECOND RECOMMENDED"); libsodium's interactive
 * level, which we write, is t=2 with 64 MiB.  A loader accepts up to 10
 * passes and 1 GiB (libsodium's SENSITIVE level): well above what parley
 * writes, well below what could hurt the machine that loads a hostile
 * file.  (The RFC's 2 GiB choice is thus refused; parley never writes it.) */
static bool kdf_cost_ok(uint64_t opslimit, uint64_t memlimit)
{
	return opslimit >= CX_KEYFILE_OPSLIMIT_MIN &&
	       opslimit <= CX_KEYFILE_OPSLIMIT_MAX &&
	       memlimit >= CX_KEYFILE_MEMLIMIT_MIN &&
	       memlimit <= CX_KEYFILE_MEMLIMIT_MAX && memlimit % 1024 == 0;
}

_Static_assert(CX_KEYFILE_OPSLIMIT_MIN >= crypto_pwhash_OPSLIMIT_MIN,
	       "opslimit floor");
_Static_assert(CX_KEYFILE_MEMLIMIT_MIN >= crypto_pwhash_MEMLIMIT_MIN,
	       "memlimit floor");

/* key = Argon2id(pass, salt).  -ENOMEM when libsodium cannot allocate the
 * memory (its only failure once the arguments are in range). */
static int derive_key(uint8_t key[static CX_KEY_LEN], const char *pass,
		      size_t pass_len, const uint8_t salt[static KF_SALT_LEN],
		      uint64_t opslimit, size_t memlimit)
{
	if (crypto_pwhash(key, CX_KEY_LEN, pass, pass_len, salt, opslimit,
			  memlimit, crypto_pwhash_ALG_ARGON2ID13) != 0)
		return -ENOMEM;
	return 0;
}

static void checksum(uint8_t out[static KF_SUM_LEN], const uint8_t *buf,
		     size_t len)
{
	crypto_generichash(out, KF_SUM_LEN, buf, len, NULL, 0);
}

static void payload_write(uint8_t pl[static PL_LEN],
			  const struct cx_identity *id)
{
	memcpy(pl + PL_ACCOUNT_SK, id->account_sk, CX_ED_SK_LEN);
	memcpy(pl + PL_DEVICE_SK, id->device_sk, CX_ED_SK_LEN);
	memcpy(pl + PL_DEVICE_SIG, id->device_sig, CX_SIG_LEN);
	memcpy(pl + PL_NODE_SK, id->node_sk, CX_X_SK_LEN);
	memcpy(pl + PL_NODE_PK, id->node_pk, CX_X_PK_LEN);
	memcpy(pl + PL_STORE_KEY, id->store_key, CX_KEY_LEN);
	put_u64(pl + PL_CREATED, id->created_s);
}

/* Fills an allocated identity from a clear payload and checks that it
 * holds together (the certificate verifies, each public key is its secret
 * key's); a payload that does not is corrupt: -EBADMSG. */
static int payload_read(struct cx_identity *id, const uint8_t pl[static PL_LEN])
{
	memcpy(id->account_sk, pl + PL_ACCOUNT_SK, CX_ED_SK_LEN);
	memcpy(id->device_sk, pl + PL_DEVICE_SK, CX_ED_SK_LEN);
	memcpy(id->device_sig, pl + PL_DEVICE_SIG, CX_SIG_LEN);
	memcpy(id->node_sk, pl + PL_NODE_SK, CX_X_SK_LEN);
	memcpy(id->node_pk, pl + PL_NODE_PK, CX_X_PK_LEN);
	memcpy(id->store_key, pl + PL_STORE_KEY, CX_KEY_LEN);
	id->created_s = get_u64(pl + PL_CREATED);
	/* libsodium's Ed25519 secret key is seed || public key. */
	memcpy(id->account_pk, id->account_sk + CX_ED_SEED_LEN, CX_ED_PK_LEN);
	memcpy(id->device_pk, id->device_sk + CX_ED_SEED_LEN, CX_ED_PK_LEN);
	return cx_identity_check(id) == 0 ? 0 : -EBADMSG;
}

int cx_keyfile_encode_kdf(uint8_t **out, size_t *out_len,
			  const struct cx_identity *id, const char *pass,
			  size_t pass_len, const struct rng *rng,
			  uint32_t opslimit, size_t memlimit)
{
	uint8_t key[CX_KEY_LEN];
	uint8_t *pl = NULL, *buf = NULL;
	bool sealed = pass != NULL;
	size_t len = sealed ? KF_LEN_SEALED : KF_LEN_CLEAR;
	unsigned long long ct_len = 0;
	int r = -EINVAL;

	*out = NULL;
	*out_len = 0;
	if (id == NULL || rng == NULL || (sealed && pass_len == 0))
		return -EINVAL;
	if (sealed && !kdf_cost_ok(opslimit, memlimit))
		return -EINVAL;
	if (cx_identity_check(id) != 0)
		return -EINVAL; /* never write an identity that cannot load */
	pl = sodium_malloc(PL_LEN);
	buf = calloc(1, len);
	if (pl == NULL || buf == NULL) {
		r = -ENOMEM;
		goto out;
	}
	memcpy(buf, KF_MAGIC, KF_MAGIC_LEN);
	buf[KF_OFF_VERSION] = KF_VERSION;
	payload_write(pl, id);
	if (!sealed) {
		memcpy(buf + KF_HDR_LEN, pl, PL_LEN);
	} else {
		buf[KF_OFF_FLAGS] = KF_FLAG_SEALED;
		buf[KF_OFF_KDF] = KF_KDF_ARGON2ID13;
		put_u32(buf + KF_OFF_OPS, opslimit);
		put_u32(buf + KF_OFF_MEM, (uint32_t)(memlimit / 1024));
		rng_fill(rng, buf + KF_OFF_SALT, KF_SALT_LEN);
		rng_fill(rng, buf + KF_OFF_NONCE, KF_NONCE_LEN);
		if ((r = derive_key(key, pass, pass_len, buf + KF_OFF_SALT,
				    opslimit, memlimit)) < 0)
			goto out;
		/* AD = the 60 header bytes, all final by now. */
		crypto_aead_xchacha20poly1305_ietf_encrypt(
			buf + KF_HDR_LEN, &ct_len, pl, PL_LEN, buf, KF_HDR_LEN,
			NULL, buf + KF_OFF_NONCE, key);
		if (ct_len != PL_LEN + KF_TAG_LEN) {
			r = -EINVAL;
			goto out;
		}
	}
	checksum(buf + len - KF_SUM_LEN, buf, len - KF_SUM_LEN);
	*out = buf;
	*out_len = len;
	buf = NULL;
	r = 0;
out:
	sodium_memzero(key, sizeof key);
	sodium_free(pl); /* wipes */
	cx_keyfile_free(buf, len);
	return r;
}

int cx_keyfile_encode(uint8_t **out, size_t *out_len,
		      const struct cx_identity *id, const char *pass,
		      size_t pass_len, const struct rng *rng)
{
	return cx_keyfile_encode_kdf(out, out_len, id, pass, pass_len, rng,
				     crypto_pwhash_OPSLIMIT_INTERACTIVE,
				     crypto_pwhash_MEMLIMIT_INTERACTIVE);
}

void cx_keyfile_free(uint8_t *buf, size_t len)
{
	if (buf == NULL)
		return;
	sodium_memzero(buf, len);
	free(buf);
}

int cx_keyfile_is_sealed(const uint8_t *buf, size_t len)
{
	if (buf == NULL || len < KF_HDR_LEN + KF_SUM_LEN)
		return 0;
	return memcmp(buf, KF_MAGIC, KF_MAGIC_LEN) == 0 &&
	       buf[KF_OFF_VERSION] == KF_VERSION &&
	       buf[KF_OFF_FLAGS] == KF_FLAG_SEALED;
}

/* Checks everything but the secrets: length, checksum, magic, version,
 * flags and the header fields each mode allows.  Returns 0 (with *sealed)
 * or -EBADMSG. */
static int check_frame(const uint8_t *buf, size_t len, bool *sealed)
{
	uint8_t sum[KF_SUM_LEN];
	uint64_t ops, mem;

	*sealed = false;
	if (buf == NULL || len < KF_HDR_LEN + KF_SUM_LEN ||
	    len > CX_KEYFILE_MAX)
		return -EBADMSG;
	checksum(sum, buf, len - KF_SUM_LEN);
	if (sodium_memcmp(sum, buf + len - KF_SUM_LEN, KF_SUM_LEN) != 0)
		return -EBADMSG;
	if (memcmp(buf, KF_MAGIC, KF_MAGIC_LEN) != 0 ||
	    buf[KF_OFF_VERSION] != KF_VERSION || buf[KF_OFF_RESERVED] != 0)
		return -EBADMSG;
	ops = get_u32(buf + KF_OFF_OPS);
	mem = (uint64_t)get_u32(buf + KF_OFF_MEM) * 1024;
	switch (buf[KF_OFF_FLAGS]) {
	case 0:
		if (len != KF_LEN_CLEAR || buf[KF_OFF_KDF] != KF_KDF_NONE ||
		    ops != 0 || mem != 0 ||
		    !sodium_is_zero(buf + KF_OFF_SALT,
				    KF_SALT_LEN + KF_NONCE_LEN))
			return -EBADMSG;
		return 0;
	case KF_FLAG_SEALED:
		if (len != KF_LEN_SEALED ||
		    buf[KF_OFF_KDF] != KF_KDF_ARGON2ID13 ||
		    !kdf_cost_ok(ops, mem))
			return -EBADMSG;
		*sealed = true;
		return 0;
	default:
		return -EBADMSG;
	}
}

int cx_keyfile_decode(struct cx_identity *id, const uint8_t *buf, size_t len,
		      const char *pass, size_t pass_len)
{
	uint8_t key[CX_KEY_LEN];
	uint8_t *pl = NULL;
	bool sealed;
	int r;

	memset(id, 0, sizeof *id);
	if ((r = check_frame(buf, len, &sealed)) < 0)
		return r;
	if (sealed && pass == NULL)
		return -ENOKEY;
	if (sealed && pass_len == 0)
		return -EKEYREJECTED; /* we never seal with an empty one */
	pl = sodium_malloc(PL_LEN);
	if (pl == NULL)
		return -ENOMEM;
	if (!sealed) {
		memcpy(pl, buf + KF_HDR_LEN, PL_LEN);
	} else {
		if ((r = derive_key(key, pass, pass_len, buf + KF_OFF_SALT,
				    get_u32(buf + KF_OFF_OPS),
				    (size_t)get_u32(buf + KF_OFF_MEM) * 1024)) <
		    0)
			goto out;
		if (crypto_aead_xchacha20poly1305_ietf_decrypt(
			    pl, NULL, NULL, buf + KF_HDR_LEN,
			    PL_LEN + KF_TAG_LEN, buf, KF_HDR_LEN,
			    buf + KF_OFF_NONCE, key) != 0) {
			r = -EKEYREJECTED;
			goto out;
		}
	}
	if ((r = cx_identity_alloc(id)) < 0)
		goto out;
	if ((r = payload_read(id, pl)) < 0)
		goto out;
	r = 0;
out:
	sodium_memzero(key, sizeof key);
	sodium_free(pl);
	if (r < 0)
		cx_identity_close(id);
	return r;
}
