/* X3DH key agreement (Signal, "The X3DH Key Agreement Protocol", revision 1,
 * 2016-11-04) with a signed prekey and an optional one-time prekey, as the
 * session setup before the Double Ratchet (DESIGN.md section 6).
 *
 * Identity keys are the parties' Ed25519 account keys (DESIGN.md section
 * 3); their X25519 form (crypto/prim.h conversion) takes part in DH1/DH2.
 * Signed prekeys are X25519 keys signed by the identity key over a typed,
 * domain-separated encoding (never the raw key bytes):
 *   "parley x3dh spk v1" 0x00 | type 0x01 (X25519) | IK (32) | spk_id (4, BE)
 *   | SPK (32)
 *
 * Output (section 3.3 KDF, with parley's parameters):
 *   SK || HKA || NHKB = HKDF-SHA-512(salt = 64 zero bytes,
 *        ikm = 32 x 0xFF || DH1 || DH2 || DH3 [|| DH4],
 *        info = "parley x3dh v1"), 96 bytes
 *   AD = IK_A || IK_B (Ed25519 public keys; section 3.3 "AD = Encode(IK_A)
 *        || Encode(IK_B)"), binding both identities into every message.
 * SK, HKA and NHKB feed cx_ratchet_new_alice/bob; Bob's signed prekey is his
 * first ratchet key pair. */
#ifndef PARLEY_CRYPTO_X3DH_H
#define PARLEY_CRYPTO_X3DH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/cx.h"
#include "crypto/rng.h"

#define CX_X3DH_AD_LEN 64
#define CX_X3DH_INIT_LEN 74 /* encoded initial-message header */
#define CX_X3DH_VERSION 1

/* What Bob publishes (in the contact card, or handed out by his relays for
 * the one-time prekey). */
struct cx_x3dh_bundle {
	uint8_t ik[CX_ED_PK_LEN]; /* identity (account) key, Ed25519 */
	uint32_t spk_id;
	uint8_t spk[CX_X_PK_LEN]; /* signed prekey, X25519 */
	uint8_t spk_sig[CX_SIG_LEN];
	bool has_opk;
	uint32_t opk_id;
	uint8_t opk[CX_X_PK_LEN]; /* one-time prekey, X25519 */
};

/* The header Alice sends in front of her first ratchet message:
 *   version 1 | flags 1 (bit 0: one-time prekey used) | IK_A 32 | EK_A 32 |
 *   spk_id 4 | opk_id 4 (zero when unused), integers big-endian. */
struct cx_x3dh_init {
	uint8_t ik[CX_ED_PK_LEN];
	uint8_t ek[CX_X_PK_LEN];
	uint32_t spk_id;
	bool has_opk;
	uint32_t opk_id;
};

/* The agreed secrets; wipe with cx_x3dh_result_wipe. */
struct cx_x3dh_result {
	uint8_t sk[32];
	uint8_t hka[32];
	uint8_t nhkb[32];
	uint8_t ad[CX_X3DH_AD_LEN];
};

/* Signs a prekey: sig over the typed encoding above with the identity
 * secret key ik_sk (Ed25519, seed || pk). */
void cx_x3dh_sign_prekey(uint8_t sig[static CX_SIG_LEN],
			 const uint8_t ik_sk[static CX_ED_SK_LEN],
			 uint32_t spk_id,
			 const uint8_t spk[static CX_X_PK_LEN]);

/* Verifies the bundle's prekey signature.  0 or -EKEYREJECTED. */
int cx_x3dh_verify_bundle(const struct cx_x3dh_bundle *b);

/* Alice: verifies b, makes her ephemeral key from rng and computes the
 * shared secrets into res and her header into init.  Returns 0 or
 * -EKEYREJECTED (bad signature or a low-order/invalid key); on failure res
 * is zeroed. */
int cx_x3dh_initiate(struct cx_x3dh_result *res, struct cx_x3dh_init *init,
		     const uint8_t ik_sk[static CX_ED_SK_LEN],
		     const struct cx_x3dh_bundle *b, const struct rng *rng);

/* Bob: computes the same secrets from Alice's header, his identity secret,
 * the secret of the signed prekey named by init->spk_id and, when
 * init->has_opk, of the one-time prekey (opk_sk, else NULL; the caller
 * deletes it afterwards: section 3.4).  Returns 0, -EINVAL (opk missing) or
 * -EKEYREJECTED; on failure res is zeroed. */
int cx_x3dh_respond(struct cx_x3dh_result *res, const struct cx_x3dh_init *init,
		    const uint8_t ik_sk[static CX_ED_SK_LEN],
		    const uint8_t spk_sk[static CX_X_SK_LEN],
		    const uint8_t *opk_sk);

void cx_x3dh_result_wipe(struct cx_x3dh_result *res);

/* Encodes init into exactly CX_X3DH_INIT_LEN bytes. */
void cx_x3dh_init_encode(uint8_t out[static CX_X3DH_INIT_LEN],
			 const struct cx_x3dh_init *init);

/* Parses a header; len must be CX_X3DH_INIT_LEN.  Returns 0 or -EBADMSG
 * (length, version, unknown flags, opk_id set without the flag). */
int cx_x3dh_init_parse(struct cx_x3dh_init *init, const uint8_t *buf,
		       size_t len);

#endif
