/* Relay mailboxes of a pair: IDs, signing keys and sealed parts
 * (node/mailbox.h, docs/PROTOCOL-relay.md "Mailboxes"). */
#include "node/mailbox.h"

#include <errno.h>
#include <string.h>

#include "crypto/cx.h"
#include "crypto/envelope.h"
#include "crypto/kdf.h"
#include "node/bytes.h"

static const char sign_label[] = "parley mailbox sign v1";
static const char seal_label[] = "parley mailbox seal v1";
static const char ad_label[] = "parley mailbox v1";
_Static_assert(sizeof sign_label == sizeof seal_label, "labels of one length");
#define INFO_MAX (sizeof sign_label - 1 + 32 + 8)
#define AD_LEN (sizeof ad_label - 1 + RELAY_MAILBOX_LEN)
_Static_assert(MAILBOX_REQ_OVERHEAD == 1 + 4 + CX_ENVELOPE_OVERHEAD,
	       "mailbox.h names the envelope's overhead");

uint64_t mailbox_epoch(uint64_t now_s)
{
	return now_s / MAILBOX_EPOCH_S;
}

/* HKDF-SHA-512 (RFC 5869) with the pair's secret as input keying
 * material and info = label || owner account key || epoch (8, BE). */
static void derive(uint8_t out[static 32], const char *label,
		   const uint8_t *pair, const uint8_t *owner_pk, uint64_t epoch)
{
	uint8_t info[INFO_MAX];
	size_t ll = sizeof sign_label - 1;

	memcpy(info, label, ll);
	memcpy(info + ll, owner_pk, 32);
	be64_put(info + ll + 32, epoch);
	/* 32 <= 255 * 64: cannot fail */
	(void)cx_hkdf_sha512(out, 32, NULL, 0, pair, MAILBOX_PAIR_LEN, info,
			     sizeof info);
}

void mailbox_id(uint8_t id[static RELAY_MAILBOX_LEN], uint8_t *sk,
		const uint8_t pair[static MAILBOX_PAIR_LEN],
		const uint8_t owner_pk[static 32], uint64_t epoch)
{
	uint8_t seed[CX_ED_SEED_LEN], tmp[CX_ED_SK_LEN];

	derive(seed, sign_label, pair, owner_pk, epoch);
	cx_sign_keypair_seed(id, sk != NULL ? sk : tmp, seed);
	cx_wipe(seed, sizeof seed);
	cx_wipe(tmp, sizeof tmp);
}

static void make_ad(uint8_t ad[static AD_LEN], const uint8_t *pair,
		    const uint8_t *owner_pk, uint64_t epoch)
{
	memcpy(ad, ad_label, sizeof ad_label - 1);
	mailbox_id(ad + sizeof ad_label - 1, NULL, pair, owner_pk, epoch);
}

/* chunk: the size of every chunk but the last (MAILBOX_CHUNK, or
 * MAILBOX_REQ_CHUNK in a request mailbox). */
static int part_ok(const struct mailbox_part *p, size_t chunk)
{
	if (p->count == 0 || p->count > MAILBOX_PARTS_MAX ||
	    p->index >= p->count || p->chunk_len == 0 || p->chunk_len > chunk)
		return -1;
	if (p->index + 1 < p->count && p->chunk_len != chunk)
		return -1;
	return 0;
}

static size_t part_put(uint8_t *pt, const struct mailbox_part *p)
{
	pt[0] = p->flags;
	be32_put(pt + 1, p->tag);
	be64_put(pt + 5, p->n);
	pt[13] = (uint8_t)(p->index >> 8);
	pt[14] = (uint8_t)p->index;
	pt[15] = (uint8_t)(p->count >> 8);
	pt[16] = (uint8_t)p->count;
	memcpy(pt + MAILBOX_PART_HDR, p->chunk, p->chunk_len);
	return MAILBOX_PART_HDR + p->chunk_len;
}

static int part_get(struct mailbox_part *p, const uint8_t *pt, size_t len,
		    size_t chunk)
{
	struct mailbox_part q;

	if (p == NULL || pt == NULL || len < MAILBOX_PART_HDR + 1)
		return -EBADMSG;
	q.flags = pt[0];
	q.tag = be32_get(pt + 1);
	q.n = be64_get(pt + 5);
	q.index = (uint16_t)(pt[13] << 8 | pt[14]);
	q.count = (uint16_t)(pt[15] << 8 | pt[16]);
	q.chunk = pt + MAILBOX_PART_HDR;
	q.chunk_len = len - MAILBOX_PART_HDR;
	if (part_ok(&q, chunk) < 0)
		return -EBADMSG;
	*p = q;
	return 0;
}

int mailbox_seal(uint8_t *blob, size_t blob_max, size_t *len,
		 const uint8_t pair[static MAILBOX_PAIR_LEN],
		 const uint8_t owner_pk[static 32], uint64_t epoch,
		 const struct mailbox_part *p, const struct rng *rng)
{
	uint8_t pt[MAILBOX_PART_HDR + MAILBOX_CHUNK], key[CX_AEAD_KEY_LEN];
	uint8_t ad[AD_LEN];
	size_t pt_len, need;
	int r;

	if (blob == NULL || len == NULL || p == NULL || rng == NULL ||
	    p->chunk == NULL || part_ok(p, MAILBOX_CHUNK) < 0)
		return -EINVAL;
	pt_len = MAILBOX_PART_HDR + p->chunk_len;
	need = MAILBOX_SEAL_OVERHEAD + pt_len;
	if (blob_max < need)
		return -E2BIG;
	part_put(pt, p);
	derive(key, seal_label, pair, owner_pk, epoch);
	make_ad(ad, pair, owner_pk, epoch);
	blob[0] = MAILBOX_VERSION;
	rng_fill(rng, blob + 1, CX_XCHACHA_NONCE_LEN);
	r = cx_xchacha_seal(blob + 1 + CX_XCHACHA_NONCE_LEN,
			    blob_max - 1 - CX_XCHACHA_NONCE_LEN, pt, pt_len, ad,
			    sizeof ad, blob + 1, key);
	cx_wipe(key, sizeof key);
	cx_wipe(pt, sizeof pt);
	if (r < 0)
		return r;
	*len = need;
	return 0;
}

int mailbox_open(struct mailbox_part *p, uint8_t *pt, size_t pt_max,
		 const uint8_t *blob, size_t len,
		 const uint8_t pair[static MAILBOX_PAIR_LEN],
		 const uint8_t owner_pk[static 32], uint64_t epoch)
{
	uint8_t key[CX_AEAD_KEY_LEN], ad[AD_LEN];
	size_t pt_len;
	int r;

	if (p == NULL || pt == NULL || blob == NULL)
		return -EINVAL;
	if (len < MAILBOX_SEAL_OVERHEAD + MAILBOX_PART_HDR + 1 ||
	    len > RELAY_BLOB_MAX || blob[0] != MAILBOX_VERSION)
		return -EBADMSG;
	pt_len = len - MAILBOX_SEAL_OVERHEAD;
	if (pt_max < pt_len)
		return -EINVAL;
	derive(key, seal_label, pair, owner_pk, epoch);
	make_ad(ad, pair, owner_pk, epoch);
	r = cx_xchacha_open(pt, pt_max, blob + 1 + CX_XCHACHA_NONCE_LEN,
			    len - 1 - CX_XCHACHA_NONCE_LEN, ad, sizeof ad,
			    blob + 1, key);
	cx_wipe(key, sizeof key);
	if (r < 0)
		return -EKEYREJECTED;
	return mailbox__part_decode(p, pt, pt_len);
}

int mailbox__part_decode(struct mailbox_part *p, const uint8_t *pt,
			 size_t len)
{
	return part_get(p, pt, len, MAILBOX_CHUNK);
}

int mailbox_req_seal(uint8_t *blob, size_t blob_max, size_t *len,
		     uint32_t spk_id, const uint8_t spk_pk[static 32],
		     const struct mailbox_part *p, const struct rng *rng)
{
	uint8_t pt[MAILBOX_PART_HDR + MAILBOX_REQ_CHUNK];
	size_t pt_len, env_len;
	int r;

	if (blob == NULL || len == NULL || p == NULL || rng == NULL ||
	    p->chunk == NULL || part_ok(p, MAILBOX_REQ_CHUNK) < 0)
		return -EINVAL;
	pt_len = part_put(pt, p);
	if (blob_max < 1 + 4 + CX_ENVELOPE_OVERHEAD + pt_len)
		return -E2BIG;
	blob[0] = MAILBOX_REQ_VERSION;
	be32_put(blob + 1, spk_id);
	r = cx_envelope_seal(blob + 5, blob_max - 5, &env_len, pt, pt_len,
			     spk_pk, rng);
	cx_wipe(pt, sizeof pt);
	if (r < 0)
		return r;
	*len = 5 + env_len;
	return 0;
}

int mailbox_req_spk_id(const uint8_t *blob, size_t len, uint32_t *spk_id)
{
	if (blob == NULL || len < MAILBOX_REQ_OVERHEAD + MAILBOX_PART_HDR + 1 ||
	    len > RELAY_BLOB_MAX || blob[0] != MAILBOX_REQ_VERSION)
		return -EBADMSG;
	*spk_id = be32_get(blob + 1);
	return 0;
}

int mailbox_req_open(struct mailbox_part *p, uint8_t *pt, size_t pt_max,
		     const uint8_t *blob, size_t len,
		     const uint8_t spk_sk[static 32],
		     const uint8_t spk_pk[static 32])
{
	uint32_t id;
	size_t pt_len;
	int r;

	if (p == NULL || pt == NULL)
		return -EINVAL;
	if ((r = mailbox_req_spk_id(blob, len, &id)) < 0)
		return r;
	if ((r = cx_envelope_open(pt, pt_max, &pt_len, blob + 5, len - 5,
				  spk_sk, spk_pk)) < 0)
		return r == -E2BIG ? -EINVAL : r;
	return part_get(p, pt, pt_len, MAILBOX_REQ_CHUNK);
}
