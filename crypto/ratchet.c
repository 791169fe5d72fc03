/* Double Ratchet with header encryption (Signal's specification, revision
 * 1, section 4), made transactional: decryption computes every new key into
 * a staging area and commits it to the state only after the message body
 * authenticated.  Skipped message keys live in a FIFO (oldest first) of at
 * most CX_RATCHET_MAX_STORED entries inside the state's own sodium_malloc
 * block, so the state is one allocation of fixed size. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include <sodium.h>

#include "crypto/kdf.h"
#include "crypto/prim.h"
#include "crypto/ratchet.h"

#define KEY CX_RATCHET_KEY_LEN
#define HDR_LEN (32 + 4 + 4) /* dh || pn || n */
#define NONCE_LEN 24
#define EHDR_LEN (NONCE_LEN + HDR_LEN + 16) /* 80 */
#define PREFIX_LEN (1 + EHDR_LEN)	    /* version || enc_header */

static const char rk_info[] = "parley ratchet rk v1";
static const char ck_nonce[12] = "parley ck v1"; /* no NUL */

enum {
	F_DHR = 1 << 0,
	F_CKS = 1 << 1,
	F_CKR = 1 << 2,
	F_HKS = 1 << 3,
	F_HKR = 1 << 4,
	/* The second half of a DH ratchet step is due (see send_step): DHs,
	 * CKs and NHKs are absent (zero) until it is done. */
	F_SENDSTEP = 1 << 5,
};

struct skipped {
	uint8_t hk[KEY];
	uint32_t n;
	uint8_t mk[KEY];
};

/* A staged skipped key: which header key (0 = the old HKr, 1 = the new one
 * after a DH ratchet) and the message number. */
struct staged {
	uint8_t which;
	uint32_t n;
	uint8_t mk[KEY];
};

struct cx_ratchet {
	/* Section 3.2 / 4.2 state variables. */
	uint8_t dhs_sk[KEY], dhs_pk[KEY]; /* DHs */
	uint8_t dhr[KEY];		  /* DHr */
	uint8_t rk[KEY];		  /* RK */
	uint8_t cks[KEY], ckr[KEY];	  /* CKs, CKr */
	uint32_t ns, nr, pn;		  /* Ns, Nr, PN */
	uint8_t hks[KEY], hkr[KEY];	  /* HKs, HKr */
	uint8_t nhks[KEY], nhkr[KEY];	  /* NHKs, NHKr */
	uint8_t flags;
	/* A key pair made ahead of need (cx_ratchet_prepare) for the next
	 * GENERATE_DH(); memory only, never saved. */
	uint8_t nxt_sk[KEY], nxt_pk[KEY];
	bool has_nxt;
	uint8_t ad[CX_RATCHET_MAX_AD];
	size_t ad_len;
	const struct rng *rng;
	/* MKSKIPPED, oldest first, in its own sodium_malloc block that grows
	 * on demand up to CX_RATCHET_MAX_STORED entries: a session that never
	 * skips costs a few hundred bytes, not 136 KB. */
	size_t num_skipped, skipped_cap;
	struct skipped *skipped;
	/* Scratch for one decryption: a ring of the newest staged keys, of
	 * ring_len <= staged_cap entries (also grown on demand). */
	size_t num_staged; /* total staged, may exceed the ring */
	size_t ring_len, staged_cap;
	struct staged *staged;
};

/* Grows a sodium_malloc array of elem-byte entries to hold need entries
 * (capacity doubles, at most CX_RATCHET_MAX_STORED).  0 or -ENOMEM; on
 * failure nothing changes. */
static int grow(void **arr, size_t *cap, size_t need, size_t elem, size_t used)
{
	size_t n = *cap < 16 ? 16 : *cap;
	void *p;

	if (need <= *cap)
		return 0;
	while (n < need)
		n *= 2;
	if (n > CX_RATCHET_MAX_STORED)
		n = CX_RATCHET_MAX_STORED;
	p = sodium_malloc(n * elem);
	if (p == NULL)
		return -ENOMEM;
	memset(p, 0, n * elem);
	if (*arr != NULL)
		memcpy(p, *arr, used * elem);
	sodium_free(*arr);
	*arr = p;
	*cap = n;
	return 0;
}

/* Makes room for staging `total` keys and for committing them: the ring
 * holds the newest min(total, MAX_STORED) and MKSKIPPED must hold its
 * current entries plus those (at most MAX_STORED).  Done before anything
 * is decided, so a commit after authentication cannot fail. */
static int reserve(struct cx_ratchet *r, uint64_t total)
{
	size_t ring = total < CX_RATCHET_MAX_STORED ? (size_t)total
						    : CX_RATCHET_MAX_STORED;
	size_t need = r->num_skipped + ring;
	int ret;

	if (need > CX_RATCHET_MAX_STORED)
		need = CX_RATCHET_MAX_STORED;
	if ((ret = grow((void **)&r->staged, &r->staged_cap, ring,
			sizeof *r->staged, 0)) < 0 ||
	    (ret = grow((void **)&r->skipped, &r->skipped_cap, need,
			sizeof *r->skipped, r->num_skipped)) < 0)
		return ret;
	r->ring_len = ring;
	return 0;
}

/* KDF_RK_HE(rk, dh_out): "HKDF with SHA-256 or SHA-512 ... using rk as
 * HKDF salt, dh_out as HKDF input key material, and an application-specific
 * byte sequence as HKDF info" (section 5.2), 96 bytes: rk, ck, nhk. */
static void kdf_rk(uint8_t rk[KEY], uint8_t ck[KEY], uint8_t nhk[KEY],
		   const uint8_t rk_in[KEY], const uint8_t dh[KEY])
{
	uint8_t okm[3 * KEY];

	cx_hkdf_sha512(okm, sizeof okm, rk_in, KEY, dh, KEY,
		       (const uint8_t *)rk_info, sizeof rk_info - 1);
	memcpy(rk, okm, KEY);
	memcpy(ck, okm + KEY, KEY);
	memcpy(nhk, okm + 2 * KEY, KEY);
	sodium_memzero(okm, sizeof okm);
}

/* KDF_CK(ck): section 5.2 asks for a PRF keyed by ck with separate outputs
 * for the message key and the next chain key.  We use the first 64 bytes
 * of the ChaCha20 keystream under ck (RFC 8439 block function, nonce
 * "parley ck v1", counter 0): mk is the first half, the next ck the second
 * (Bernstein's "fast-key-erasure" construction).  One ChaCha20 block per
 * message instead of the four hash compressions of two HMACs: this is what
 * keeps a ratchet message within 3x a bare AEAD. */
static void kdf_ck(uint8_t ck_out[KEY], uint8_t mk[KEY], const uint8_t ck[KEY])
{
	uint8_t out[2 * KEY];

	crypto_stream_chacha20_ietf(out, sizeof out, (const uint8_t *)ck_nonce,
				    ck);
	memcpy(mk, out, KEY);
	memcpy(ck_out, out + KEY, KEY);
	sodium_memzero(out, sizeof out);
}

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

static int alloc_state(struct cx_ratchet **out, const uint8_t *ad,
		       size_t ad_len, const struct rng *rng)
{
	struct cx_ratchet *r;

	*out = NULL;
	if (ad_len > CX_RATCHET_MAX_AD || (ad == NULL && ad_len > 0) ||
	    rng == NULL)
		return -EINVAL;
	r = sodium_malloc(sizeof *r);
	if (r == NULL)
		return -ENOMEM;
	memset(r, 0, sizeof *r);
	if (ad_len > 0)
		memcpy(r->ad, ad, ad_len);
	r->ad_len = ad_len;
	r->rng = rng;
	*out = r;
	return 0;
}

/* RatchetInitAliceHE:
 *   state.DHs = GENERATE_DH(); state.DHr = bob_dh_public_key
 *   state.RK, state.CKs, state.NHKs = KDF_RK_HE(SK, DH(state.DHs, state.DHr))
 *   state.CKr = None; state.Ns = state.Nr = state.PN = 0
 *   state.HKs = shared_hka; state.HKr = None; state.NHKr = shared_nhkb */
int cx_ratchet_new_alice(struct cx_ratchet **out,
			 const uint8_t sk[static CX_RATCHET_KEY_LEN],
			 const uint8_t bob_pk[static CX_RATCHET_KEY_LEN],
			 const uint8_t hka[static CX_RATCHET_KEY_LEN],
			 const uint8_t nhkb[static CX_RATCHET_KEY_LEN],
			 const uint8_t *ad, size_t ad_len,
			 const struct rng *rng)
{
	struct cx_ratchet *r = NULL;
	uint8_t dh[KEY];
	int ret;

	if ((ret = alloc_state(&r, ad, ad_len, rng)) < 0)
		return ret;
	cx_x25519_keypair(r->dhs_pk, r->dhs_sk, rng);
	memcpy(r->dhr, bob_pk, KEY);
	if ((ret = cx_x25519(dh, r->dhs_sk, r->dhr)) < 0)
		goto out;
	kdf_rk(r->rk, r->cks, r->nhks, sk, dh);
	memcpy(r->hks, hka, KEY);
	memcpy(r->nhkr, nhkb, KEY);
	r->flags = F_DHR | F_CKS | F_HKS;
	*out = r;
	r = NULL;
	ret = 0;
out:
	sodium_memzero(dh, sizeof dh);
	cx_ratchet_free(r);
	return ret;
}

/* RatchetInitBobHE:
 *   state.DHs = bob_dh_key_pair; state.DHr = None; state.RK = SK
 *   state.CKs = state.CKr = None; state.Ns = state.Nr = state.PN = 0
 *   state.HKs = None; state.NHKs = shared_nhkb; state.HKr = None;
 *   state.NHKr = shared_hka */
int cx_ratchet_new_bob(struct cx_ratchet **out,
		       const uint8_t sk[static CX_RATCHET_KEY_LEN],
		       const uint8_t bob_sk[static CX_RATCHET_KEY_LEN],
		       const uint8_t hka[static CX_RATCHET_KEY_LEN],
		       const uint8_t nhkb[static CX_RATCHET_KEY_LEN],
		       const uint8_t *ad, size_t ad_len, const struct rng *rng)
{
	struct cx_ratchet *r = NULL;
	int ret;

	if ((ret = alloc_state(&r, ad, ad_len, rng)) < 0)
		return ret;
	memcpy(r->dhs_sk, bob_sk, KEY);
	cx_x25519_public(r->dhs_pk, r->dhs_sk);
	memcpy(r->rk, sk, KEY);
	memcpy(r->nhks, nhkb, KEY);
	memcpy(r->nhkr, hka, KEY);
	r->flags = 0;
	*out = r;
	return 0;
}

void cx_ratchet_free(struct cx_ratchet *r)
{
	if (r == NULL)
		return;
	sodium_free(r->skipped); /* each wipes */
	sodium_free(r->staged);
	sodium_free(r);
}

size_t cx_ratchet_num_skipped(const struct cx_ratchet *r)
{
	return r->num_skipped;
}

/* The AD of a body: session AD || version || enc_header.  buf holds
 * CX_RATCHET_MAX_AD + PREFIX_LEN bytes; returns the length used. */
static size_t body_ad(const struct cx_ratchet *r, uint8_t *buf,
		      const uint8_t *prefix)
{
	memcpy(buf, r->ad, r->ad_len);
	memcpy(buf + r->ad_len, prefix, PREFIX_LEN);
	return r->ad_len + PREFIX_LEN;
}

/* RatchetEncryptHE:
 *   state.CKs, mk = KDF_CK(state.CKs)
 *   header = HEADER(state.DHs, state.PN, state.Ns)
 *   enc_header = HENCRYPT(state.HKs, header)
 *   state.Ns += 1
 *   return enc_header, ENCRYPT(mk, plaintext, CONCAT(AD, enc_header)) */
/* DHRatchetHE, second half, done apart from the first (which needs the
 * received header) so that it can run while nothing waits for it:
 *   state.DHs = GENERATE_DH()
 *   state.RK, state.CKs, state.NHKs =
 *       KDF_RK_HE(state.RK, DH(state.DHs, state.DHr))
 * Until it is done the sending chain does not exist; the result is the
 * state the specification reaches in one go. */
static int send_step(struct cx_ratchet *r)
{
	uint8_t dh[KEY];
	int ret;

	if (r->has_nxt) {
		memcpy(r->dhs_sk, r->nxt_sk, KEY);
		memcpy(r->dhs_pk, r->nxt_pk, KEY);
		sodium_memzero(r->nxt_sk, KEY);
		r->has_nxt = false;
	} else {
		cx_x25519_keypair(r->dhs_pk, r->dhs_sk, r->rng);
	}
	if ((ret = cx_x25519(dh, r->dhs_sk, r->dhr)) < 0) {
		/* unreachable: DHr gave a valid DH when it arrived */
		sodium_memzero(r->dhs_sk, KEY);
		sodium_memzero(r->dhs_pk, KEY);
		return ret;
	}
	kdf_rk(r->rk, r->cks, r->nhks, r->rk, dh);
	r->flags = (uint8_t)((r->flags & ~F_SENDSTEP) | F_CKS);
	sodium_memzero(dh, sizeof dh);
	return 0;
}

int cx_ratchet_prepare(struct cx_ratchet *r)
{
	int ret;

	if (r->flags & F_SENDSTEP) {
		if ((ret = send_step(r)) < 0)
			return ret;
		return 1;
	}
	if (!r->has_nxt && (r->flags & F_DHR)) {
		cx_x25519_keypair(r->nxt_pk, r->nxt_sk, r->rng);
		r->has_nxt = true;
	}
	return 0;
}

int cx_ratchet_encrypt(struct cx_ratchet *r, const uint8_t *pt, size_t pt_len,
		       uint8_t *out, size_t out_max, size_t *out_len)
{
	uint8_t hdr[HDR_LEN], mk[KEY], ck[KEY];
	uint8_t ad[CX_RATCHET_MAX_AD + PREFIX_LEN];
	uint8_t nonces[2 * NONCE_LEN];
	size_t ad_len;
	int ret;

	*out_len = 0;
	if ((r->flags & F_SENDSTEP) && (ret = send_step(r)) < 0)
		return ret;
	if (!(r->flags & F_CKS))
		return -EAGAIN;
	if (pt_len > CX_RATCHET_MAX_MSG || out_max < pt_len ||
	    out_max - pt_len < CX_RATCHET_OVERHEAD)
		return -E2BIG;
	if (r->ns == UINT32_MAX)
		return -EOVERFLOW;
	kdf_ck(ck, mk, r->cks);
	memcpy(hdr, r->dhs_pk, KEY);
	put32(hdr + KEY, r->pn);
	put32(hdr + KEY + 4, r->ns);

	out[0] = CX_RATCHET_VERSION;
	/* Both random nonces with one call: the rng may be a system call. */
	rng_fill(r->rng, nonces, sizeof nonces);
	memcpy(out + 1, nonces, NONCE_LEN);
	memcpy(out + PREFIX_LEN, nonces + NONCE_LEN, NONCE_LEN);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + 1 + NONCE_LEN, NULL,
						   hdr, HDR_LEN, out, 1, NULL,
						   out + 1, r->hks);
	ad_len = body_ad(r, ad, out);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + PREFIX_LEN + NONCE_LEN,
						   NULL, pt, pt_len, ad, ad_len,
						   NULL, out + PREFIX_LEN, mk);
	memcpy(r->cks, ck, KEY);
	r->ns++;
	*out_len = pt_len + CX_RATCHET_OVERHEAD;
	sodium_memzero(mk, sizeof mk);
	sodium_memzero(ck, sizeof ck);
	return 0;
}

/* HDECRYPT(hk, enc_header): 0 and the header, or -1. */
static int open_header(const uint8_t hk[KEY], const uint8_t *msg,
		       uint8_t hdr[HDR_LEN])
{
	return crypto_aead_xchacha20poly1305_ietf_decrypt(
		hdr, NULL, NULL, msg + 1 + NONCE_LEN, HDR_LEN + 16, msg, 1,
		msg + 1, hk);
}

/* DECRYPT(mk, ciphertext, CONCAT(AD, enc_header)). */
static int open_body(const struct cx_ratchet *r, const uint8_t mk[KEY],
		     const uint8_t *msg, size_t msg_len, uint8_t *out)
{
	uint8_t ad[CX_RATCHET_MAX_AD + PREFIX_LEN];
	size_t ad_len = body_ad(r, ad, msg);

	if (crypto_aead_xchacha20poly1305_ietf_decrypt(
		    out, NULL, NULL, msg + PREFIX_LEN + NONCE_LEN,
		    msg_len - PREFIX_LEN - NONCE_LEN, ad, ad_len,
		    msg + PREFIX_LEN, mk) != 0)
		return -EKEYREJECTED;
	return 0;
}

static void remove_skipped(struct cx_ratchet *r, size_t i)
{
	memmove(&r->skipped[i], &r->skipped[i + 1],
		(r->num_skipped - i - 1) * sizeof r->skipped[0]);
	r->num_skipped--;
	sodium_memzero(&r->skipped[r->num_skipped], sizeof r->skipped[0]);
}

/* Index of the stored key (hk, n) searching from first, or -1. */
static long find_skipped(const struct cx_ratchet *r, const uint8_t hk[KEY],
			 uint32_t n, size_t first)
{
	size_t i;

	for (i = first; i < r->num_skipped; i++)
		if (r->skipped[i].n == n &&
		    sodium_memcmp(r->skipped[i].hk, hk, KEY) == 0)
			return (long)i;
	return -1;
}

/* TrySkippedMessageKeysHE, for the header keys of earlier chains (the
 * current HKr is handled by the caller):
 *   for ((hk, n), mk) in state.MKSKIPPED.items():
 *       header = HDECRYPT(hk, enc_header)
 *       if header != None and header.n == n:
 *           del state.MKSKIPPED[hk, n]
 *           return DECRYPT(mk, ciphertext, CONCAT(AD, enc_header))
 * Keys of one chain are contiguous in the FIFO, so each header key is
 * tried once.  Returns 1 when the message was decrypted, 0 when no stored
 * header key opens the header, or an error (state unchanged). */
static int try_skipped(struct cx_ratchet *r, const uint8_t *msg, size_t msg_len,
		       uint8_t *out)
{
	uint8_t hdr[HDR_LEN];
	size_t i;
	long j;
	int ret = 0;

	for (i = 0; i < r->num_skipped; i++) {
		const uint8_t *hk = r->skipped[i].hk;

		if (i > 0 && sodium_memcmp(hk, r->skipped[i - 1].hk, KEY) == 0)
			continue;
		if ((r->flags & F_HKR) && sodium_memcmp(hk, r->hkr, KEY) == 0)
			continue;
		if (open_header(hk, msg, hdr) != 0)
			continue;
		j = find_skipped(r, hk, get32(hdr + KEY + 4), i);
		if (j < 0) {
			ret = -EALREADY;
			goto out;
		}
		if ((ret = open_body(r, r->skipped[j].mk, msg, msg_len, out)) <
		    0)
			goto out;
		remove_skipped(r, (size_t)j);
		ret = 1;
		goto out;
	}
out:
	sodium_memzero(hdr, sizeof hdr);
	return ret;
}

/* SkipMessageKeysHE into the staging ring: advances ck from message number
 * from to until, staging each message key. */
static void stage_chain(struct cx_ratchet *r, uint8_t ck[KEY], uint32_t from,
			uint32_t until, uint8_t which)
{
	uint32_t i;

	for (i = from; i < until; i++) {
		struct staged *s = &r->staged[r->num_staged % r->ring_len];

		kdf_ck(ck, s->mk, ck);
		s->which = which;
		s->n = i;
		r->num_staged++;
	}
}

static void clear_staged(struct cx_ratchet *r)
{
	size_t used = r->num_staged < r->ring_len ? r->num_staged : r->ring_len;

	if (used > 0)
		sodium_memzero(r->staged, used * sizeof r->staged[0]);
	r->num_staged = 0;
}

/* Moves the newest staged keys (at most CX_RATCHET_MAX_STORED) into
 * MKSKIPPED, dropping the oldest stored ones to make room. */
static void commit_staged(struct cx_ratchet *r, const uint8_t *hk0,
			  const uint8_t *hk1)
{
	size_t count =
		r->num_staged < r->ring_len ? r->num_staged : r->ring_len;
	size_t start =
		r->num_staged <= r->ring_len ? 0 : r->num_staged % r->ring_len;
	size_t drop, k;

	if (count == 0) {
		r->num_staged = 0;
		return;
	}
	if (r->num_skipped + count > CX_RATCHET_MAX_STORED) {
		drop = r->num_skipped + count - CX_RATCHET_MAX_STORED;
		memmove(&r->skipped[0], &r->skipped[drop],
			(r->num_skipped - drop) * sizeof r->skipped[0]);
		r->num_skipped -= drop;
	}
	for (k = 0; k < count; k++) {
		const struct staged *s = &r->staged[(start + k) % r->ring_len];
		struct skipped *d = &r->skipped[r->num_skipped++];

		memcpy(d->hk, s->which == 0 ? hk0 : hk1, KEY);
		d->n = s->n;
		memcpy(d->mk, s->mk, KEY);
	}
	/* No stale copies remain: drop <= count, so the appended entries
	 * overwrite every slot the memmove left behind. */
	clear_staged(r);
}

/* RatchetDecryptHE, transactional:
 *   plaintext = TrySkippedMessageKeysHE(state, enc_header, ciphertext, AD)
 *   if plaintext != None: return plaintext
 *   header, dh_ratchet = DecryptHeader(state, enc_header)
 *   if dh_ratchet:
 *       SkipMessageKeysHE(state, header.pn)
 *       DHRatchetHE(state, header)
 *   SkipMessageKeysHE(state, header.n)
 *   state.CKr, mk = KDF_CK(state.CKr)
 *   state.Nr += 1
 *   return DECRYPT(mk, ciphertext, CONCAT(AD, enc_header))
 * Every new value is computed into locals and the staging ring first and
 * written to the state only once DECRYPT succeeded. */
int cx_ratchet_decrypt(struct cx_ratchet *r, const uint8_t *msg, size_t msg_len,
		       uint8_t *out, size_t out_max, size_t *out_len)
{
	uint8_t hdr[HDR_LEN], mk[KEY], ck[KEY], rk1[KEY], nhkr[KEY], dh[KEY];
	bool ratchet;
	uint32_t pn, n;
	size_t body_len;
	long j;
	int ret;

	*out_len = 0;
	if (msg_len < CX_RATCHET_OVERHEAD ||
	    msg_len - CX_RATCHET_OVERHEAD > CX_RATCHET_MAX_MSG ||
	    msg[0] != CX_RATCHET_VERSION)
		return -EBADMSG;
	body_len = msg_len - CX_RATCHET_OVERHEAD;
	if (body_len > out_max)
		return -E2BIG;
	clear_staged(r);

	if ((ret = try_skipped(r, msg, msg_len, out)) != 0) {
		if (ret > 0) {
			*out_len = body_len;
			ret = 0;
		}
		return ret;
	}

	/* DecryptHeader:
	 *   header = HDECRYPT(state.HKr, enc_header)
	 *   if header != None: return header, False
	 *   header = HDECRYPT(state.NHKr, enc_header)
	 *   if header != None: return header, True
	 *   raise Error() */
	if ((r->flags & F_HKR) && open_header(r->hkr, msg, hdr) == 0)
		ratchet = false;
	else if (open_header(r->nhkr, msg, hdr) == 0)
		ratchet = true;
	else
		return -EKEYREJECTED;
	pn = get32(hdr + KEY);
	n = get32(hdr + KEY + 4);
	ret = -EBADMSG;
	if (n == UINT32_MAX)
		goto out;

	if (!ratchet) {
		if (n < r->nr) {
			/* A key skipped earlier in this chain, or a replay. */
			j = find_skipped(r, r->hkr, n, 0);
			ret = -EALREADY;
			if (j < 0)
				goto out;
			if ((ret = open_body(r, r->skipped[j].mk, msg, msg_len,
					     out)) < 0)
				goto out;
			remove_skipped(r, (size_t)j);
			*out_len = body_len;
			ret = 0;
			goto out;
		}
		ret = -E2BIG;
		if (n - r->nr > CX_RATCHET_MAX_SKIP)
			goto out;
		if ((ret = reserve(r, n - r->nr)) < 0)
			goto out;
		memcpy(ck, r->ckr, KEY);
		stage_chain(r, ck, r->nr, n, 0);
		kdf_ck(ck, mk, ck);
	} else {
		uint64_t total = n;

		/* Another DH ratchet before our half of the last one: finish
		 * that first (the state the specification would be in; kept
		 * whatever this message turns out to be). */
		if ((r->flags & F_SENDSTEP) && (ret = send_step(r)) < 0)
			goto out;
		ret = -EBADMSG;
		if (r->flags & F_CKR) {
			/* SkipMessageKeysHE(state, header.pn) on the old
			 * chain. */
			ret = -EBADMSG;
			if (pn < r->nr)
				goto out;
			total += pn - r->nr;
		}
		ret = -E2BIG;
		if (total > CX_RATCHET_MAX_SKIP)
			goto out;
		if ((ret = reserve(r, total)) < 0)
			goto out;
		if (r->flags & F_CKR) {
			memcpy(ck, r->ckr, KEY);
			stage_chain(r, ck, r->nr, pn, 0);
		}
		/* DHRatchetHE, first half:
		 *   state.DHr = header.dh
		 *   state.RK, state.CKr, state.NHKr =
		 *       KDF_RK_HE(state.RK, DH(state.DHs, state.DHr)) */
		if ((ret = cx_x25519(dh, r->dhs_sk, hdr)) < 0)
			goto out;
		kdf_rk(rk1, ck, nhkr, r->rk, dh);
		stage_chain(r, ck, 0, n, 1);
		kdf_ck(ck, mk, ck);
	}
	if ((ret = open_body(r, mk, msg, msg_len, out)) < 0)
		goto out;

	/* Authenticated: commit. */
	if (!ratchet) {
		commit_staged(r, r->hkr, NULL);
	} else {
		commit_staged(r, r->hkr, r->nhkr);
		/* DHRatchetHE:
		 *   state.PN = state.Ns; state.Ns = 0; state.Nr = 0
		 *   state.HKs = state.NHKs; state.HKr = state.NHKr
		 *   ... (first half above) ...
		 *   state.DHs = GENERATE_DH()
		 *   state.RK, state.CKs, state.NHKs =
		 *       KDF_RK_HE(state.RK, DH(state.DHs, state.DHr)) */
		r->pn = r->ns;
		r->ns = 0;
		memcpy(r->hks, r->nhks, KEY);
		memcpy(r->hkr, r->nhkr, KEY);
		memcpy(r->dhr, hdr, KEY);
		memcpy(r->nhkr, nhkr, KEY);
		memcpy(r->rk, rk1, KEY);
		/* DHs is spent: wiped now, replaced by send_step */
		sodium_memzero(r->dhs_sk, KEY);
		sodium_memzero(r->dhs_pk, KEY);
		sodium_memzero(r->cks, KEY);
		sodium_memzero(r->nhks, KEY);
		r->flags = (uint8_t)((r->flags & ~F_CKS) | F_DHR | F_CKR |
				     F_HKS | F_HKR | F_SENDSTEP);
	}
	memcpy(r->ckr, ck, KEY);
	r->nr = n + 1;
	*out_len = body_len;
	ret = 0;
out:
	if (ret < 0)
		clear_staged(r);
	sodium_memzero(hdr, sizeof hdr);
	sodium_memzero(mk, sizeof mk);
	sodium_memzero(ck, sizeof ck);
	sodium_memzero(rk1, sizeof rk1);
	sodium_memzero(nhkr, sizeof nhkr);
	sodium_memzero(dh, sizeof dh);
	return ret;
}

/* Saved layout (all integers big-endian):
 *   version 1 | flags 1 | DHs.sk 32 | DHr 32 | RK 32 | CKs 32 | CKr 32 |
 *   Ns 4 | Nr 4 | PN 4 | HKs 32 | HKr 32 | NHKs 32 | NHKr 32 |
 *   ad_len 1 | ad 128 (zero-padded) | count 2 |
 *   count x (hk 32 | n 4 | mk 32)
 * Fields whose flag is clear are zero, so the encoding is canonical. */
size_t cx_ratchet_saved_len(const struct cx_ratchet *r)
{
	return CX_RATCHET_STATE_FIXED + r->num_skipped * 68;
}

int cx_ratchet_save(const struct cx_ratchet *r, uint8_t *out, size_t out_max,
		    size_t *out_len)
{
	size_t need = cx_ratchet_saved_len(r), i;
	uint8_t *p = out;

	*out_len = 0;
	if (out_max < need)
		return -E2BIG;
	*p++ = CX_RATCHET_VERSION;
	*p++ = r->flags;
#define PUT(x)                                                                 \
	do {                                                                   \
		memcpy(p, x, KEY);                                             \
		p += KEY;                                                      \
	} while (0)
	PUT(r->dhs_sk);
	PUT(r->dhr);
	PUT(r->rk);
	PUT(r->cks);
	PUT(r->ckr);
	put32(p, r->ns);
	put32(p + 4, r->nr);
	put32(p + 8, r->pn);
	p += 12;
	PUT(r->hks);
	PUT(r->hkr);
	PUT(r->nhks);
	PUT(r->nhkr);
	*p++ = (uint8_t)r->ad_len;
	memcpy(p, r->ad, CX_RATCHET_MAX_AD);
	p += CX_RATCHET_MAX_AD;
	*p++ = (uint8_t)(r->num_skipped >> 8);
	*p++ = (uint8_t)r->num_skipped;
	for (i = 0; i < r->num_skipped; i++) {
		PUT(r->skipped[i].hk);
		put32(p, r->skipped[i].n);
		p += 4;
		PUT(r->skipped[i].mk);
	}
#undef PUT
	*out_len = need;
	return 0;
}

int cx_ratchet_load(struct cx_ratchet **out, const uint8_t *buf, size_t len,
		    const struct rng *rng)
{
	struct cx_ratchet *r = NULL;
	const uint8_t *p = buf;
	size_t i, count;
	uint8_t flags;
	int ret = -EBADMSG;

	*out = NULL;
	if (rng == NULL)
		return -EINVAL;
	if (len < CX_RATCHET_STATE_FIXED || buf[0] != CX_RATCHET_VERSION)
		return -EBADMSG;
	count = (size_t)buf[CX_RATCHET_STATE_FIXED - 2] << 8 |
		buf[CX_RATCHET_STATE_FIXED - 1];
	if (count > CX_RATCHET_MAX_STORED ||
	    len != CX_RATCHET_STATE_FIXED + count * 68)
		return -EBADMSG;
	flags = buf[1];
	/* Only known flags; a receiving chain implies its header key and DHr,
	 * a sending chain its header key. */
	if ((flags & ~(F_DHR | F_CKS | F_CKR | F_HKS | F_HKR | F_SENDSTEP)) !=
		    0 ||
	    ((flags & F_CKR) && (flags & (F_HKR | F_DHR)) != (F_HKR | F_DHR)) ||
	    ((flags & F_CKS) && !(flags & F_HKS)) ||
	    ((flags & F_SENDSTEP) &&
	     (flags & (F_DHR | F_CKS | F_HKS)) != (F_DHR | F_HKS)))
		return -EBADMSG;
	if ((ret = alloc_state(&r, NULL, 0, rng)) < 0)
		return ret;
	ret = -EBADMSG;
	r->flags = flags;
	p = buf + 2;
#define GET(x)                                                                 \
	do {                                                                   \
		memcpy(x, p, KEY);                                             \
		p += KEY;                                                      \
	} while (0)
	GET(r->dhs_sk);
	GET(r->dhr);
	GET(r->rk);
	GET(r->cks);
	GET(r->ckr);
	r->ns = get32(p);
	r->nr = get32(p + 4);
	r->pn = get32(p + 8);
	p += 12;
	GET(r->hks);
	GET(r->hkr);
	GET(r->nhks);
	GET(r->nhkr);
	r->ad_len = *p++;
	if (r->ad_len > CX_RATCHET_MAX_AD)
		goto out;
	memcpy(r->ad, p, CX_RATCHET_MAX_AD);
	p += CX_RATCHET_MAX_AD;
	if (!sodium_is_zero(r->ad + r->ad_len, CX_RATCHET_MAX_AD - r->ad_len))
		goto out;
	p += 2;
	if (grow((void **)&r->skipped, &r->skipped_cap, count,
		 sizeof *r->skipped, 0) < 0) {
		ret = -ENOMEM;
		goto out;
	}
	/* Canonical: the fields of absent values are zero. */
	if ((!(flags & F_DHR) && !sodium_is_zero(r->dhr, KEY)) ||
	    (!(flags & F_CKS) && !sodium_is_zero(r->cks, KEY)) ||
	    (!(flags & F_CKR) && !sodium_is_zero(r->ckr, KEY)) ||
	    (!(flags & F_HKS) && !sodium_is_zero(r->hks, KEY)) ||
	    (!(flags & F_HKR) && !sodium_is_zero(r->hkr, KEY)) ||
	    ((flags & F_SENDSTEP) && (!sodium_is_zero(r->dhs_sk, KEY) ||
				      !sodium_is_zero(r->nhks, KEY))))
		goto out;
	for (i = 0; i < count; i++) {
		GET(r->skipped[i].hk);
		r->skipped[i].n = get32(p);
		p += 4;
		GET(r->skipped[i].mk);
	}
#undef GET
	r->num_skipped = count;
	if (!(flags & F_SENDSTEP)) /* else DHs is absent */
		cx_x25519_public(r->dhs_pk, r->dhs_sk);
	*out = r;
	r = NULL;
	ret = 0;
out:
	cx_ratchet_free(r);
	return ret;
}
