/* Identities (DESIGN.md section 3).
 *
 *  - account key: Ed25519, the user's identity; the contact ID is its public
 *    key in base32 with a version byte and a checksum;
 *  - device key: Ed25519, one per device, certified by the account key with a
 *    typed, domain-separated signature (never over raw key bytes alone);
 *  - node key: X25519, the DHT and link identity of a running node, unrelated
 *    to the account key; node ID = BLAKE2b-256(node public key);
 *  - storage key: 32 random bytes from which the keys that encrypt history
 *    at rest are derived (crypto_kdf).
 *
 * Secret halves live in cx_secret_alloc() memory owned by the struct and are
 * wiped by cx_identity_close(). */
#ifndef PARLEY_CRYPTO_KEYS_H
#define PARLEY_CRYPTO_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/cx.h"
#include "crypto/rng.h"

/* Contact ID: RFC 4648 base32, lowercase, no padding, of
 * version (1 byte, 0x01) || account public key (32) || checksum (2 bytes,
 * the first two bytes of BLAKE2b-256("parley contact id v1" || version || pk)).
 * 35 bytes -> exactly 56 characters. */
#define CX_CONTACT_ID_LEN 56
#define CX_CONTACT_ID_VERSION 0x01
#define CX_URI_PREFIX "parley:"

struct cx_identity {
	uint8_t account_pk[CX_ED_PK_LEN];
	uint8_t *account_sk; /* CX_ED_SK_LEN bytes, secret memory */
	uint8_t device_pk[CX_ED_PK_LEN];
	uint8_t *device_sk; /* CX_ED_SK_LEN bytes, secret memory */
	/* Ed25519 by the account key over cx_device_cert_msg(). */
	uint8_t device_sig[CX_SIG_LEN];
	uint8_t node_pk[CX_X_PK_LEN];
	uint8_t *node_sk;   /* CX_X_SK_LEN bytes, secret memory */
	uint8_t *store_key; /* CX_KEY_LEN bytes, secret memory */
	uint64_t created_s; /* Unix seconds at generation */
};

/* Makes a fresh identity from rng.  On failure nothing is allocated.
 * Returns 0 or -ENOMEM. */
int cx_identity_generate(struct cx_identity *id, const struct rng *rng,
			 uint64_t now_s);

/* Allocates the secret buffers of an all-zero identity (used by the key
 * file loader).  Returns 0 or -ENOMEM. */
int cx_identity_alloc(struct cx_identity *id);

/* Wipes and frees the secrets; the struct may be reused. NULL-safe. */
void cx_identity_close(struct cx_identity *id);

/* Checks the device certificate and that every public key matches its
 * secret key, and that the storage key is not all zero.  Returns 0 or
 * -EKEYREJECTED (-EINVAL when the secrets were never allocated). */
int cx_identity_check(const struct cx_identity *id);

/* The device certificate message, what the account key signs:
 *   "parley device cert v1" (21 bytes, no NUL) || 0x00
 *   || version (1 byte, CX_DEVICE_CERT_VERSION)
 *   || account public key (32) || device public key (32)
 *   || created_s (8 bytes, big-endian)
 * 95 bytes.  The context string keeps this signature from ever being valid
 * as any other parley message, the version lets the layout change. */
#define CX_DEVICE_CERT_MSG_LEN 95
#define CX_DEVICE_CERT_VERSION 0x01
void cx_device_cert_msg(uint8_t out[static CX_DEVICE_CERT_MSG_LEN],
			const uint8_t account_pk[static CX_ED_PK_LEN],
			const uint8_t device_pk[static CX_ED_PK_LEN],
			uint64_t created_s);

/* Verifies a device certificate (for a contact's device list).  Returns 0
 * or -EKEYREJECTED. */
int cx_device_cert_verify(const uint8_t account_pk[static CX_ED_PK_LEN],
			  const uint8_t device_pk[static CX_ED_PK_LEN],
			  uint64_t created_s,
			  const uint8_t sig[static CX_SIG_LEN]);

/* node ID = BLAKE2b-256(node public key) */
void cx_node_id(uint8_t out[static CX_HASH_LEN],
		const uint8_t node_pk[static CX_X_PK_LEN]);

/* Encodes the contact ID (56 chars + NUL; out_max >= 57).  0 or -EINVAL. */
int cx_contact_id_encode(char *out, size_t out_max,
			 const uint8_t account_pk[static CX_ED_PK_LEN]);

/* Decodes a contact ID, with or without the "parley:" prefix, case
 * insensitive.  Returns 0, or -EBADMSG for wrong length, alphabet, version
 * or checksum. */
int cx_contact_id_decode(uint8_t account_pk[static CX_ED_PK_LEN],
			 const char *s);

/* Derives subkey number id of the storage key for context ctx (8 chars,
 * as crypto_kdf_derive_from_key).  0 or -EINVAL. */
int cx_store_subkey(uint8_t out[static CX_KEY_LEN],
		    const struct cx_identity *identity, uint64_t subkey_id,
		    const char ctx[static 8]);

#endif
