/* X3DH (see x3dh.h).  Stateless: keys in, secrets out.  Every DH output and
 * the KDF input are wiped before returning, on every path. */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "crypto/kdf.h"
#include "crypto/prim.h"
#include "crypto/x3dh.h"

static const char spk_ctx[] = "parley x3dh spk v1"; /* + its NUL */
static const char kdf_info[] = "parley x3dh v1";

#define SPK_MSG_LEN (sizeof spk_ctx + 1 + 32 + 4 + 32)

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

/* Section 3.2: Bob publishes "Sig(IK_B, Encode(SPK_B))".  We sign a typed
 * encoding that also names the signer and the prekey id, so the signature
 * means one thing only. */
static void spk_msg(uint8_t m[SPK_MSG_LEN], const uint8_t ik[32],
		    uint32_t spk_id, const uint8_t spk[32])
{
	uint8_t *p = m;

	memcpy(p, spk_ctx, sizeof spk_ctx); /* with the NUL separator */
	p += sizeof spk_ctx;
	*p++ = 0x01; /* key type: X25519 */
	memcpy(p, ik, 32);
	p += 32;
	put32(p, spk_id);
	p += 4;
	memcpy(p, spk, 32);
}

void cx_x3dh_sign_prekey(uint8_t sig[static CX_SIG_LEN],
			 const uint8_t ik_sk[static CX_ED_SK_LEN],
			 uint32_t spk_id, const uint8_t spk[static CX_X_PK_LEN])
{
	uint8_t m[SPK_MSG_LEN];

	/* The Ed25519 secret key is seed || pk: the pk is its last half. */
	spk_msg(m, ik_sk + 32, spk_id, spk);
	crypto_sign_detached(sig, NULL, m, sizeof m, ik_sk);
}

int cx_x3dh_verify_bundle(const struct cx_x3dh_bundle *b)
{
	uint8_t m[SPK_MSG_LEN];

	spk_msg(m, b->ik, b->spk_id, b->spk);
	if (crypto_sign_verify_detached(b->spk_sig, m, sizeof m, b->ik) != 0)
		return -EKEYREJECTED;
	return 0;
}

/* Section 2.2: "KDF(KM) represents 32 bytes of output from the HKDF
 * algorithm with inputs: HKDF input key material = F || KM, where F is a
 * byte sequence containing 32 0xFF bytes ... HKDF salt = A zero-filled byte
 * sequence with length equal to the hash output length.  HKDF info = An
 * ASCII string identifying the application."  We take 96 bytes: SK, then
 * the two header keys the Double Ratchet's header encryption needs. */
static void x3dh_kdf(struct cx_x3dh_result *res, const uint8_t *km,
		     size_t km_len, const uint8_t ik_a[32],
		     const uint8_t ik_b[32])
{
	uint8_t ikm[32 + 4 * 32], salt[64] = {0}, okm[96];

	memset(ikm, 0xff, 32);
	memcpy(ikm + 32, km, km_len);
	cx_hkdf_sha512(okm, sizeof okm, salt, sizeof salt, ikm, 32 + km_len,
		       (const uint8_t *)kdf_info, sizeof kdf_info - 1);
	memcpy(res->sk, okm, 32);
	memcpy(res->hka, okm + 32, 32);
	memcpy(res->nhkb, okm + 64, 32);
	/* Section 3.3: "AD = Encode(IK_A) || Encode(IK_B)". */
	memcpy(res->ad, ik_a, 32);
	memcpy(res->ad + 32, ik_b, 32);
	sodium_memzero(ikm, sizeof ikm);
	sodium_memzero(okm, sizeof okm);
}

/* Section 3.3, Alice:
 *   DH1 = DH(IK_A, SPK_B)  DH2 = DH(EK_A, IK_B)  DH3 = DH(EK_A, SPK_B)
 *   DH4 = DH(EK_A, OPK_B)  SK = KDF(DH1 || DH2 || DH3 || DH4) */
int cx_x3dh_initiate(struct cx_x3dh_result *res, struct cx_x3dh_init *init,
		     const uint8_t ik_sk[static CX_ED_SK_LEN],
		     const struct cx_x3dh_bundle *b, const struct rng *rng)
{
	uint8_t ik_a_x[32], ik_b_x[32], ek_sk[32], km[4 * 32];
	size_t km_len = 3 * 32;
	int r;

	memset(res, 0, sizeof *res);
	memset(init, 0, sizeof *init);
	/* "Alice verifies the prekey signature and aborts the protocol if
	 * verification fails." */
	if ((r = cx_x3dh_verify_bundle(b)) < 0)
		goto out;
	if ((r = cx_ed25519_pk_to_x25519(ik_b_x, b->ik)) < 0)
		goto out;
	cx_ed25519_sk_to_x25519(ik_a_x, ik_sk);
	cx_x25519_keypair(init->ek, ek_sk, rng);
	if ((r = cx_x25519(km, ik_a_x, b->spk)) < 0 ||	   /* DH1 */
	    (r = cx_x25519(km + 32, ek_sk, ik_b_x)) < 0 || /* DH2 */
	    (r = cx_x25519(km + 64, ek_sk, b->spk)) < 0)   /* DH3 */
		goto out;
	if (b->has_opk) {
		if ((r = cx_x25519(km + 96, ek_sk, b->opk)) < 0) /* DH4 */
			goto out;
		km_len += 32;
	}
	x3dh_kdf(res, km, km_len, ik_sk + 32, b->ik);
	memcpy(init->ik, ik_sk + 32, 32);
	init->spk_id = b->spk_id;
	init->has_opk = b->has_opk;
	init->opk_id = b->has_opk ? b->opk_id : 0;
	r = 0;
out:
	if (r < 0) {
		sodium_memzero(res, sizeof *res);
		memset(init, 0, sizeof *init);
	}
	sodium_memzero(ik_a_x, sizeof ik_a_x);
	sodium_memzero(ek_sk, sizeof ek_sk);
	sodium_memzero(km, sizeof km);
	return r;
}

/* Section 3.4, Bob: "Bob ... repeats the DH and KDF calculations from the
 * previous section to derive SK". */
int cx_x3dh_respond(struct cx_x3dh_result *res, const struct cx_x3dh_init *init,
		    const uint8_t ik_sk[static CX_ED_SK_LEN],
		    const uint8_t spk_sk[static CX_X_SK_LEN],
		    const uint8_t *opk_sk)
{
	uint8_t ik_a_x[32], ik_b_x[32], km[4 * 32];
	size_t km_len = 3 * 32;
	int r = -EINVAL;

	memset(res, 0, sizeof *res);
	if (init->has_opk && opk_sk == NULL)
		goto out;
	if ((r = cx_ed25519_pk_to_x25519(ik_a_x, init->ik)) < 0)
		goto out;
	cx_ed25519_sk_to_x25519(ik_b_x, ik_sk);
	if ((r = cx_x25519(km, spk_sk, ik_a_x)) < 0 ||	      /* DH1 */
	    (r = cx_x25519(km + 32, ik_b_x, init->ek)) < 0 || /* DH2 */
	    (r = cx_x25519(km + 64, spk_sk, init->ek)) < 0)   /* DH3 */
		goto out;
	if (init->has_opk) {
		if ((r = cx_x25519(km + 96, opk_sk, init->ek)) < 0) /* DH4 */
			goto out;
		km_len += 32;
	}
	x3dh_kdf(res, km, km_len, init->ik, ik_sk + 32);
	r = 0;
out:
	if (r < 0)
		sodium_memzero(res, sizeof *res);
	sodium_memzero(ik_b_x, sizeof ik_b_x);
	sodium_memzero(km, sizeof km);
	return r;
}

void cx_x3dh_result_wipe(struct cx_x3dh_result *res)
{
	sodium_memzero(res, sizeof *res);
}

void cx_x3dh_init_encode(uint8_t out[static CX_X3DH_INIT_LEN],
			 const struct cx_x3dh_init *init)
{
	out[0] = CX_X3DH_VERSION;
	out[1] = init->has_opk ? 1 : 0;
	memcpy(out + 2, init->ik, 32);
	memcpy(out + 34, init->ek, 32);
	put32(out + 66, init->spk_id);
	put32(out + 70, init->has_opk ? init->opk_id : 0);
}

int cx_x3dh_init_parse(struct cx_x3dh_init *init, const uint8_t *buf,
		       size_t len)
{
	memset(init, 0, sizeof *init);
	if (len != CX_X3DH_INIT_LEN || buf[0] != CX_X3DH_VERSION ||
	    (buf[1] & ~1u) != 0)
		return -EBADMSG;
	init->has_opk = buf[1] & 1;
	memcpy(init->ik, buf + 2, 32);
	memcpy(init->ek, buf + 34, 32);
	init->spk_id = get32(buf + 66);
	init->opk_id = get32(buf + 70);
	if (!init->has_opk && init->opk_id != 0) {
		memset(init, 0, sizeof *init);
		return -EBADMSG;
	}
	return 0;
}
