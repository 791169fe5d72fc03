/* msgstore: contacts, messages, the dedupe index and the outbox over
 * store/ (DESIGN.md section 6).  The byte layouts are in
 * docs/PROTOCOL-store.md; this file is their one implementation.
 *
 * Each public function runs one store_write() or store_read() with a
 * transaction function below (*_txn).  store_write() may run a function
 * again after growing the map, so those functions only read and write the
 * transaction and their own context: they draw nonces and ids from the rng
 * on every run, which is harmless, and report results only through the
 * context, which the last run overwrites.
 *
 * The struct msgstore owns the two at-rest keys (guarded memory) and
 * borrows the store and the rng.  Values read from LMDB are copied before
 * the transaction ends (store_get, store_get_alloc, or a copy inside a
 * scan callback). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/cx.h"
#include "crypto/prim.h"
#include "node/bytes.h"
#include "node/msgstore.h"

#define BODY_CTX "msgbody1" /* cx_store_subkey contexts, 8 chars */
#define CONTACT_CTX "contact1"

#define KEY_LEN (MSGSTORE_PK_LEN + 8) /* MESSAGES key: peer || seq BE */

static const char meta_schema[] = "msgstore.schema";
static const char meta_keycheck[] = "msgstore.keycheck";
static const char meta_receipts[] = "msgstore.receipts";

static const char ad_body_tag[] = "parley msgbody v1";
static const char ad_contact_tag[] = "parley contact v1";
static const char ad_keycheck[] = "parley msgstore keycheck v1";

#define AD_BODY_LEN                                                            \
	(sizeof ad_body_tag - 1 + MSGSTORE_PK_LEN + 8 + MSGSTORE_ID_LEN + 1 +  \
	 MSGSTORE_PK_LEN + 8 + 1 + MSGSTORE_ID_LEN)
#define AD_CONTACT_LEN (sizeof ad_contact_tag - 1 + MSGSTORE_PK_LEN)
#define KEYCHECK_LEN (1 + MSGSTORE_NONCE_LEN + MSGSTORE_TAG_LEN)

/* Contact plaintext: name_len (1) || name || greeting_len (2) || greeting */
#define CONTACT_PT_MAX (1 + MSGSTORE_NAME_MAX + 2 + MSGSTORE_GREETING_MAX)
#define CONTACT_CT_MIN (3 + MSGSTORE_TAG_LEN)
#define CONTACT_CT_MAX (CONTACT_PT_MAX + MSGSTORE_TAG_LEN)
#define CONTACT_REC_MAX (MSGSTORE__CONTACT_HDR_LEN + CONTACT_CT_MAX)

struct msgstore {
	struct store *s;
	const struct rng *rng;
	uint8_t *body_key;    /* CX_KEY_LEN, guarded memory */
	uint8_t *contact_key; /* CX_KEY_LEN, guarded memory */
	uint8_t self_pk[MSGSTORE_PK_LEN];
	/* The largest outbox seq this handle saw in the table or gave out.
	 * New entries take the next one, so in one run a seq is never
	 * given twice, even after the entries at the table's end left it
	 * (msgstore_outbox_hi). */
	uint64_t obx_hi;
};

/* ---- Small helpers ---- */

static bool all_zero(const uint8_t *p, size_t len)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < len; i++)
		acc |= p[i];
	return acc == 0;
}

static void msg_key(uint8_t key[KEY_LEN], const uint8_t *peer, uint64_t seq)
{
	memcpy(key, peer, MSGSTORE_PK_LEN);
	be64_put(key + MSGSTORE_PK_LEN, seq);
}

/* Largest ciphertext of a body: the zstd bound of the biggest body plus
 * the tag. */
static size_t body_ct_max(void)
{
	return store_compress_bound(MSGSTORE_BODY_MAX) + MSGSTORE_TAG_LEN;
}

bool msgstore__utf8_valid(const uint8_t *s, size_t len, bool allow_nul)
{
	size_t i = 0;

	while (i < len) {
		uint8_t c = s[i];
		uint32_t cp;
		size_t n;

		/* Eight ASCII bytes at a time (no high bit set; and no zero
		 * byte unless allowed: the "has a zero byte" test of
		 * (w - 0x01..01) & ~w & 0x80..80). */
		if (len - i >= 8) {
			uint64_t w;

			memcpy(&w, s + i, 8);
			if ((w & 0x8080808080808080ull) == 0 &&
			    (allow_nul || ((w - 0x0101010101010101ull) & ~w &
					   0x8080808080808080ull) == 0)) {
				i += 8;
				continue;
			}
		}
		if (c < 0x80) {
			if (c == 0 && !allow_nul)
				return false;
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else {
			return false; /* continuation, C0/C1 overlong, > F4 */
		}
		if (len - i <= n)
			return false;
		for (size_t k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		/* RFC 3629 section 3: shortest form, no surrogates, at most
		 * U+10FFFF. */
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return false;
		i += n + 1;
	}
	return true;
}

/* A caller's NUL-terminated string: at most max bytes, valid UTF-8. */
static int check_str(const char *s, size_t max, size_t *len)
{
	size_t n;

	if (s == NULL)
		return -EINVAL;
	n = strnlen(s, max + 1);
	if (n > max)
		return -EINVAL;
	if (!msgstore__utf8_valid((const uint8_t *)s, n, false))
		return -EINVAL;
	*len = n;
	return 0;
}

const char *msgstore_contact_state_name(enum msgstore_contact_state s)
{
	switch (s) {
	case MSGSTORE_CONTACT_REQUESTED_BY_US:
		return "requested_by_us";
	case MSGSTORE_CONTACT_REQUESTED_BY_THEM:
		return "requested_by_them";
	case MSGSTORE_CONTACT_ACCEPTED:
		return "accepted";
	case MSGSTORE_CONTACT_REJECTED:
		return "rejected";
	case MSGSTORE_CONTACT_BLOCKED:
		return "blocked";
	}
	return NULL;
}

const char *msgstore_status_name(enum msgstore_status s)
{
	switch (s) {
	case MSGSTORE_STATUS_QUEUED:
		return "queued";
	case MSGSTORE_STATUS_SENT:
		return "sent";
	case MSGSTORE_STATUS_DELIVERED:
		return "delivered";
	case MSGSTORE_STATUS_READ:
		return "read";
	case MSGSTORE_STATUS_FAILED:
		return "failed";
	case MSGSTORE_STATUS_CANCELLED:
		return "cancelled";
	case MSGSTORE_STATUS_RECEIVED:
		return "received";
	}
	return NULL;
}

const char *msgstore_dir_name(enum msgstore_dir d)
{
	switch (d) {
	case MSGSTORE_DIR_IN:
		return "in";
	case MSGSTORE_DIR_OUT:
		return "out";
	}
	return NULL;
}

static bool receipts_valid(unsigned v)
{
	return v <= MSGSTORE_RECEIPTS_OFF;
}

static bool state_valid(unsigned v)
{
	return v >= MSGSTORE_CONTACT_REQUESTED_BY_US &&
	       v <= MSGSTORE_CONTACT_BLOCKED;
}

/* ---- Record codecs ---- */

int msgstore__contact_rec_decode(struct msgstore__contact_rec *r,
				 const uint8_t *buf, size_t len)
{
	size_t ct_len;

	if (len < MSGSTORE__CONTACT_HDR_LEN || len > CONTACT_REC_MAX)
		return -EBADMSG;
	if (buf[0] != MSGSTORE_REC_VERSION || !state_valid(buf[1]) ||
	    !receipts_valid(buf[2]) || buf[3] != 0)
		return -EBADMSG;
	ct_len = (size_t)buf[52] << 8 | buf[53];
	if (ct_len != len - MSGSTORE__CONTACT_HDR_LEN ||
	    ct_len < CONTACT_CT_MIN || ct_len > CONTACT_CT_MAX)
		return -EBADMSG;
	r->state = buf[1];
	r->receipts = buf[2];
	r->created_ms = be64_get(buf + 4);
	r->updated_ms = be64_get(buf + 12);
	r->last_seen_ms = be64_get(buf + 20);
	memcpy(r->nonce, buf + 28, MSGSTORE_NONCE_LEN);
	r->ct = buf + MSGSTORE__CONTACT_HDR_LEN;
	r->ct_len = ct_len;
	return 0;
}

int msgstore__contact_rec_encode(const struct msgstore__contact_rec *r,
				 uint8_t *out, size_t out_max, size_t *len)
{
	size_t n = MSGSTORE__CONTACT_HDR_LEN + r->ct_len;

	*len = 0;
	if (r->ct_len < CONTACT_CT_MIN || r->ct_len > CONTACT_CT_MAX ||
	    !state_valid(r->state) || !receipts_valid(r->receipts))
		return -EINVAL;
	if (out_max < n)
		return -E2BIG;
	out[0] = MSGSTORE_REC_VERSION;
	out[1] = r->state;
	out[2] = r->receipts;
	out[3] = 0;
	be64_put(out + 4, r->created_ms);
	be64_put(out + 12, r->updated_ms);
	be64_put(out + 20, r->last_seen_ms);
	memcpy(out + 28, r->nonce, MSGSTORE_NONCE_LEN);
	out[52] = (uint8_t)(r->ct_len >> 8);
	out[53] = (uint8_t)r->ct_len;
	memmove(out + MSGSTORE__CONTACT_HDR_LEN, r->ct, r->ct_len);
	*len = n;
	return 0;
}

int msgstore__contact_pt_decode(struct msgstore_contact *c, const uint8_t *buf,
				size_t len)
{
	size_t name_len, greet_len;

	if (len < 3)
		return -EBADMSG;
	name_len = buf[0];
	if (name_len > MSGSTORE_NAME_MAX || len < 1 + name_len + 2)
		return -EBADMSG;
	greet_len = (size_t)buf[1 + name_len] << 8 | buf[2 + name_len];
	if (greet_len > MSGSTORE_GREETING_MAX ||
	    len != 3 + name_len + greet_len)
		return -EBADMSG;
	if (!msgstore__utf8_valid(buf + 1, name_len, false) ||
	    !msgstore__utf8_valid(buf + 3 + name_len, greet_len, false))
		return -EBADMSG;
	memcpy(c->name, buf + 1, name_len);
	c->name[name_len] = '\0';
	memcpy(c->greeting, buf + 3 + name_len, greet_len);
	c->greeting[greet_len] = '\0';
	return 0;
}

int msgstore__contact_pt_encode(const struct msgstore_contact *c, uint8_t *out,
				size_t out_max, size_t *len)
{
	size_t name_len, greet_len;
	int r;

	*len = 0;
	if ((r = check_str(c->name, MSGSTORE_NAME_MAX, &name_len)) < 0 ||
	    (r = check_str(c->greeting, MSGSTORE_GREETING_MAX, &greet_len)) < 0)
		return r;
	if (out_max < 3 + name_len + greet_len)
		return -E2BIG;
	out[0] = (uint8_t)name_len;
	memcpy(out + 1, c->name, name_len);
	out[1 + name_len] = (uint8_t)(greet_len >> 8);
	out[2 + name_len] = (uint8_t)greet_len;
	memcpy(out + 3 + name_len, c->greeting, greet_len);
	*len = 3 + name_len + greet_len;
	return 0;
}

/* Whether status is one an outgoing (or incoming) message can have, and
 * whether it keeps an outbox entry. */
static bool status_valid(unsigned dir, unsigned status)
{
	if (dir == MSGSTORE_DIR_IN)
		return status == MSGSTORE_STATUS_RECEIVED ||
		       status == MSGSTORE_STATUS_READ;
	if (dir == MSGSTORE_DIR_OUT)
		return status >= MSGSTORE_STATUS_QUEUED &&
		       status <= MSGSTORE_STATUS_CANCELLED;
	return false;
}

static bool status_in_outbox(unsigned dir, unsigned status)
{
	return dir == MSGSTORE_DIR_OUT && (status == MSGSTORE_STATUS_QUEUED ||
					   status == MSGSTORE_STATUS_SENT);
}

static int msg_rec_check(const struct msgstore__msg_rec *r)
{
	if (!status_valid(r->dir, r->status))
		return -EBADMSG;
	if ((r->flags & ~MSGSTORE__MSG_FLAGS) != 0)
		return -EBADMSG;
	if ((r->flags & MSGSTORE__MSG_FLAG_RAW) &&
	    r->ct_len > MSGSTORE__RAW_MAX + MSGSTORE_TAG_LEN)
		return -EBADMSG;
	if (!(r->flags & MSGSTORE__MSG_FLAG_REPLY) &&
	    !all_zero(r->reply_to, MSGSTORE_ID_LEN))
		return -EBADMSG;
	if (status_in_outbox(r->dir, r->status) != (r->obx_seq != 0))
		return -EBADMSG;
	if (r->ct_len < MSGSTORE_TAG_LEN || r->ct_len > body_ct_max())
		return -EBADMSG;
	return 0;
}

int msgstore__msg_rec_decode(struct msgstore__msg_rec *r, const uint8_t *buf,
			     size_t len)
{
	const uint8_t *p = buf;

	if (len < MSGSTORE__MSG_HDR_LEN || buf[0] != MSGSTORE_REC_VERSION)
		return -EBADMSG;
	r->dir = p[1];
	r->status = p[2];
	r->flags = p[3];
	p += 4;
	memcpy(r->id, p, MSGSTORE_ID_LEN);
	p += MSGSTORE_ID_LEN;
	memcpy(r->from, p, MSGSTORE_PK_LEN);
	p += MSGSTORE_PK_LEN;
	r->sent_ms = be64_get(p);
	r->stored_ms = be64_get(p + 8);
	r->status_ms = be64_get(p + 16);
	p += 24;
	memcpy(r->reply_to, p, MSGSTORE_ID_LEN);
	p += MSGSTORE_ID_LEN;
	r->obx_seq = be64_get(p);
	p += 8;
	memcpy(r->nonce, p, MSGSTORE_NONCE_LEN);
	p += MSGSTORE_NONCE_LEN;
	r->ct_len = be32_get(p);
	p += 4;
	r->ct = p;
	if (r->ct_len != len - MSGSTORE__MSG_HDR_LEN)
		return -EBADMSG;
	return msg_rec_check(r);
}

int msgstore__msg_rec_encode(const struct msgstore__msg_rec *r, uint8_t *out,
			     size_t out_max, size_t *len)
{
	uint8_t *p = out;

	*len = 0;
	if (msg_rec_check(r) < 0)
		return -EINVAL;
	if (out_max < MSGSTORE__MSG_HDR_LEN + r->ct_len)
		return -E2BIG;
	p[0] = MSGSTORE_REC_VERSION;
	p[1] = r->dir;
	p[2] = r->status;
	p[3] = r->flags;
	p += 4;
	memcpy(p, r->id, MSGSTORE_ID_LEN);
	p += MSGSTORE_ID_LEN;
	memcpy(p, r->from, MSGSTORE_PK_LEN);
	p += MSGSTORE_PK_LEN;
	be64_put(p, r->sent_ms);
	be64_put(p + 8, r->stored_ms);
	be64_put(p + 16, r->status_ms);
	p += 24;
	memcpy(p, r->reply_to, MSGSTORE_ID_LEN);
	p += MSGSTORE_ID_LEN;
	be64_put(p, r->obx_seq);
	p += 8;
	memcpy(p, r->nonce, MSGSTORE_NONCE_LEN);
	p += MSGSTORE_NONCE_LEN;
	be32_put(p, (uint32_t)r->ct_len);
	p += 4;
	memmove(p, r->ct, r->ct_len);
	*len = MSGSTORE__MSG_HDR_LEN + r->ct_len;
	return 0;
}

int msgstore__msgid_rec_decode(struct msgstore__msgid_rec *r,
			       const uint8_t *buf, size_t len)
{
	if (len != MSGSTORE__MSGID_LEN || buf[0] != MSGSTORE_REC_VERSION)
		return -EBADMSG;
	memcpy(r->peer, buf + 1, MSGSTORE_PK_LEN);
	r->seq = be64_get(buf + 1 + MSGSTORE_PK_LEN);
	if (r->seq == 0)
		return -EBADMSG;
	return 0;
}

int msgstore__msgid_rec_encode(const struct msgstore__msgid_rec *r,
			       uint8_t out[static MSGSTORE__MSGID_LEN])
{
	if (r->seq == 0)
		return -EINVAL;
	out[0] = MSGSTORE_REC_VERSION;
	memcpy(out + 1, r->peer, MSGSTORE_PK_LEN);
	be64_put(out + 1 + MSGSTORE_PK_LEN, r->seq);
	return 0;
}

int msgstore__outbox_rec_decode(struct msgstore_outbox_entry *e,
				const uint8_t *buf, size_t len)
{
	const uint8_t *p = buf + 1;

	if (len != MSGSTORE__OUTBOX_LEN || buf[0] != MSGSTORE_REC_VERSION)
		return -EBADMSG;
	memcpy(e->peer, p, MSGSTORE_PK_LEN);
	p += MSGSTORE_PK_LEN;
	e->seq = be64_get(p);
	p += 8;
	memcpy(e->id, p, MSGSTORE_ID_LEN);
	p += MSGSTORE_ID_LEN;
	e->attempts = be32_get(p);
	e->queued_ms = be64_get(p + 4);
	e->next_attempt_ms = be64_get(p + 12);
	if (e->seq == 0)
		return -EBADMSG;
	return 0;
}

int msgstore__outbox_rec_encode(const struct msgstore_outbox_entry *e,
				uint8_t out[static MSGSTORE__OUTBOX_LEN])
{
	uint8_t *p = out + 1;

	if (e->seq == 0)
		return -EINVAL;
	out[0] = MSGSTORE_REC_VERSION;
	memcpy(p, e->peer, MSGSTORE_PK_LEN);
	p += MSGSTORE_PK_LEN;
	be64_put(p, e->seq);
	p += 8;
	memcpy(p, e->id, MSGSTORE_ID_LEN);
	p += MSGSTORE_ID_LEN;
	be32_put(p, e->attempts);
	be64_put(p + 4, e->queued_ms);
	be64_put(p + 12, e->next_attempt_ms);
	return 0;
}

/* ---- Sealing ---- */

/* Associated data of a body: binds it to its record key (peer, seq) and
 * the record's immutable fields, so a sealed body moved to another record
 * or a record moved to another key fails to open. */
static void body_ad(uint8_t ad[AD_BODY_LEN], const uint8_t *peer, uint64_t seq,
		    const struct msgstore__msg_rec *r)
{
	uint8_t *p = ad;

	memcpy(p, ad_body_tag, sizeof ad_body_tag - 1);
	p += sizeof ad_body_tag - 1;
	memcpy(p, peer, MSGSTORE_PK_LEN);
	p += MSGSTORE_PK_LEN;
	be64_put(p, seq);
	p += 8;
	memcpy(p, r->id, MSGSTORE_ID_LEN);
	p += MSGSTORE_ID_LEN;
	*p++ = r->dir;
	memcpy(p, r->from, MSGSTORE_PK_LEN);
	p += MSGSTORE_PK_LEN;
	be64_put(p, r->sent_ms);
	p += 8;
	*p++ = r->flags & MSGSTORE__MSG_FLAGS;
	memcpy(p, r->reply_to, MSGSTORE_ID_LEN);
}

static void contact_ad(uint8_t ad[AD_CONTACT_LEN], const uint8_t *pk)
{
	memcpy(ad, ad_contact_tag, sizeof ad_contact_tag - 1);
	memcpy(ad + sizeof ad_contact_tag - 1, pk, MSGSTORE_PK_LEN);
}

/* ---- Open and close ---- */

struct open_ctx {
	struct msgstore *ms;
};

static int keycheck_make(struct msgstore *ms, uint8_t out[KEYCHECK_LEN])
{
	out[0] = MSGSTORE_REC_VERSION;
	rng_fill(ms->rng, out + 1, MSGSTORE_NONCE_LEN);
	return cx_xchacha_seal(out + 1 + MSGSTORE_NONCE_LEN, MSGSTORE_TAG_LEN,
			       NULL, 0, (const uint8_t *)ad_keycheck,
			       sizeof ad_keycheck - 1, out + 1, ms->body_key);
}

/* ---- Own profile (META "profile.name") ---- */

static const char meta_profile[] = "profile.name";
static const char ad_profile[] = "parley profile v1";
#define PROFILE_REC_MAX (1 + MSGSTORE_NONCE_LEN + MSGSTORE_NAME_MAX + \
			 MSGSTORE_TAG_LEN)

/* Seals name (len bytes) and writes it. */
static int profile_put(struct msgstore *ms, struct store_txn *t,
		       const char *name, size_t len)
{
	uint8_t buf[PROFILE_REC_MAX];
	int r;

	buf[0] = MSGSTORE_REC_VERSION;
	rng_fill(ms->rng, buf + 1, MSGSTORE_NONCE_LEN);
	if ((r = cx_xchacha_seal(buf + 1 + MSGSTORE_NONCE_LEN,
				 len + MSGSTORE_TAG_LEN, (const uint8_t *)name,
				 len, (const uint8_t *)ad_profile,
				 sizeof ad_profile - 1, buf + 1,
				 ms->contact_key)) < 0)
		return r;
	return store_put(t, STORE_TABLE_META, meta_profile,
			 sizeof meta_profile - 1, buf,
			 1 + MSGSTORE_NONCE_LEN + len + MSGSTORE_TAG_LEN);
}

int msgstore_profile_get_txn(struct msgstore *ms, struct store_txn *t,
			     char name[static MSGSTORE_NAME_MAX + 1])
{
	uint8_t buf[PROFILE_REC_MAX];
	size_t len = 0, n;
	int r;

	name[0] = '\0';
	r = store_get(t, STORE_TABLE_META, meta_profile,
		      sizeof meta_profile - 1, buf, sizeof buf, &len);
	if (r == -ENOENT)
		return 0;
	if (r == -E2BIG)
		return -EBADMSG;
	if (r < 0)
		return r;
	if (len < 1 + MSGSTORE_NONCE_LEN + MSGSTORE_TAG_LEN ||
	    buf[0] != MSGSTORE_REC_VERSION)
		return -EBADMSG;
	n = len - 1 - MSGSTORE_NONCE_LEN - MSGSTORE_TAG_LEN;
	r = cx_xchacha_open((uint8_t *)name, MSGSTORE_NAME_MAX,
			    buf + 1 + MSGSTORE_NONCE_LEN,
			    len - 1 - MSGSTORE_NONCE_LEN,
			    (const uint8_t *)ad_profile, sizeof ad_profile - 1,
			    buf + 1, ms->contact_key);
	if (r == 0 && !msgstore__utf8_valid((const uint8_t *)name, n, false))
		r = -EBADMSG;
	if (r < 0) {
		cx_wipe(name, MSGSTORE_NAME_MAX + 1);
		name[0] = '\0';
		return r == -E2BIG ? -EBADMSG : r;
	}
	name[n] = '\0';
	return 0;
}

struct profile_ctx {
	struct msgstore *ms;
	char *name;
	size_t len;
};

static int profile_get_txn(struct store_txn *t, void *ctx)
{
	struct profile_ctx *pc = ctx;

	return msgstore_profile_get_txn(pc->ms, t, pc->name);
}

int msgstore_profile_get(struct msgstore *ms,
			 char name[static MSGSTORE_NAME_MAX + 1])
{
	struct profile_ctx pc = {ms, name, 0};

	return store_read(ms->s, profile_get_txn, &pc);
}

static int profile_set_txn(struct store_txn *t, void *ctx)
{
	struct profile_ctx *pc = ctx;

	return profile_put(pc->ms, t, pc->name, pc->len);
}

int msgstore_profile_set(struct msgstore *ms, const char *name)
{
	struct profile_ctx pc = {ms, (char *)name, 0};
	int r;

	if ((r = check_str(name, MSGSTORE_NAME_MAX, &pc.len)) < 0)
		return r;
	return store_write(ms->s, profile_set_txn, &pc);
}

/* A name stored before profiles were sealed (plain UTF-8, which never
 * starts with the version byte 0x01) is sealed in place. */
static int profile_migrate(struct msgstore *ms, struct store_txn *t)
{
	char buf[MSGSTORE_NAME_MAX + 1];
	size_t len = 0;
	int r;

	r = store_get(t, STORE_TABLE_META, meta_profile,
		      sizeof meta_profile - 1, buf, sizeof buf, &len);
	if (r == -ENOENT || (r == 0 && len > 0 &&
			     (uint8_t)buf[0] == MSGSTORE_REC_VERSION))
		return 0;
	if (r == -E2BIG) /* longer than any name: a sealed one */
		return 0;
	if (r < 0)
		return r;
	if (len > MSGSTORE_NAME_MAX ||
	    !msgstore__utf8_valid((const uint8_t *)buf, len, false))
		return 0; /* not a name: profile.get reports it, and the next
			   * profile.set replaces it; no reason not to start */
	r = profile_put(ms, t, buf, len);
	cx_wipe(buf, sizeof buf);
	return r;
}

/* First use writes the schema version and a key check value (an empty
 * plaintext sealed under the body key); later opens verify it, so a wrong
 * storage key is reported at once and clearly, not as corrupt records. */
static int open_txn(struct store_txn *t, void *ctx)
{
	struct msgstore *ms = ((struct open_ctx *)ctx)->ms;
	uint8_t buf[KEYCHECK_LEN], empty[1];
	size_t len = 0;
	int r;

	r = store_get(t, STORE_TABLE_META, meta_schema, sizeof meta_schema - 1,
		      buf, sizeof buf, &len);
	if (r == -ENOENT) {
		buf[0] = MSGSTORE_SCHEMA;
		if ((r = store_put(t, STORE_TABLE_META, meta_schema,
				   sizeof meta_schema - 1, buf, 1)) < 0)
			return r;
	} else if (r == -E2BIG || (r == 0 && (len != 1 || buf[0] == 0))) {
		return -EBADMSG;
	} else if (r < 0) {
		return r;
	} else if (buf[0] > MSGSTORE_SCHEMA) {
		return -EPROTONOSUPPORT;
	}

	r = store_get(t, STORE_TABLE_META, meta_keycheck,
		      sizeof meta_keycheck - 1, buf, sizeof buf, &len);
	if (r == -ENOENT) {
		if ((r = keycheck_make(ms, buf)) < 0)
			return r;
		return store_put(t, STORE_TABLE_META, meta_keycheck,
				 sizeof meta_keycheck - 1, buf, sizeof buf);
	}
	if (r == -E2BIG ||
	    (r == 0 && (len != KEYCHECK_LEN || buf[0] != MSGSTORE_REC_VERSION)))
		return -EBADMSG;
	if (r < 0)
		return r;
	if ((r = cx_xchacha_open(empty, 0, buf + 1 + MSGSTORE_NONCE_LEN,
				 MSGSTORE_TAG_LEN, (const uint8_t *)ad_keycheck,
				 sizeof ad_keycheck - 1, buf + 1,
				 ms->body_key)) < 0)
		return r;
	return profile_migrate(ms, t);
}

static int last_obx_seq(struct store_txn *t, uint64_t *seq);

static int obx_hi_txn(struct store_txn *t, void *arg)
{
	struct msgstore *ms = arg;

	return last_obx_seq(t, &ms->obx_hi);
}

int msgstore_open(struct msgstore **out, struct store *s,
		  const struct cx_identity *id, const struct rng *rng)
{
	struct msgstore *ms = NULL;
	struct open_ctx oc;
	int r = -ENOMEM;

	*out = NULL;
	if (s == NULL || id == NULL || rng == NULL)
		return -EINVAL;
	ms = calloc(1, sizeof *ms);
	if (ms == NULL)
		return -ENOMEM;
	ms->s = s;
	ms->rng = rng;
	memcpy(ms->self_pk, id->account_pk, MSGSTORE_PK_LEN);
	ms->body_key = cx_secret_alloc(CX_KEY_LEN);
	ms->contact_key = cx_secret_alloc(CX_KEY_LEN);
	if (ms->body_key == NULL || ms->contact_key == NULL)
		goto out;
	if ((r = cx_store_subkey(ms->body_key, id, 1, BODY_CTX)) < 0 ||
	    (r = cx_store_subkey(ms->contact_key, id, 1, CONTACT_CTX)) < 0)
		goto out;
	oc.ms = ms;
	if ((r = store_write(s, open_txn, &oc)) < 0 ||
	    (r = store_read(s, obx_hi_txn, ms)) < 0)
		goto out;
	*out = ms;
	ms = NULL;
	r = 0;
out:
	msgstore_close(ms);
	return r;
}

void msgstore_close(struct msgstore *ms)
{
	if (ms == NULL)
		return;
	cx_secret_free(ms->body_key);
	cx_secret_free(ms->contact_key);
	free(ms);
}

/* ---- Contacts ---- */

/* Decodes and opens the stored contact record of pk. */
static int contact_load(struct msgstore *ms, const uint8_t *pk,
			const uint8_t *val, size_t val_len,
			struct msgstore_contact *c)
{
	struct msgstore__contact_rec rec;
	uint8_t pt[CONTACT_PT_MAX], ad[AD_CONTACT_LEN];
	int r;

	if ((r = msgstore__contact_rec_decode(&rec, val, val_len)) < 0)
		return r;
	contact_ad(ad, pk);
	r = cx_xchacha_open(pt, sizeof pt, rec.ct, rec.ct_len, ad, sizeof ad,
			    rec.nonce, ms->contact_key);
	if (r == -E2BIG)
		r = -EBADMSG;
	if (r < 0)
		goto out;
	memset(c, 0, sizeof *c);
	if ((r = msgstore__contact_pt_decode(
		     c, pt, rec.ct_len - MSGSTORE_TAG_LEN)) < 0)
		goto out;
	memcpy(c->pk, pk, MSGSTORE_PK_LEN);
	c->state = rec.state;
	c->receipts = rec.receipts;
	c->created_ms = rec.created_ms;
	c->updated_ms = rec.updated_ms;
	c->last_seen_ms = rec.last_seen_ms;
out:
	cx_wipe(pt, sizeof pt);
	return r;
}

static int contact_get_txn(struct msgstore *ms, struct store_txn *t,
			   const uint8_t *pk, struct msgstore_contact *c)
{
	uint8_t buf[CONTACT_REC_MAX];
	size_t len = 0;
	int r;

	r = store_get(t, STORE_TABLE_CONTACTS, pk, MSGSTORE_PK_LEN, buf,
		      sizeof buf, &len);
	if (r == -E2BIG)
		return -EBADMSG;
	if (r < 0)
		return r;
	return contact_load(ms, pk, buf, len, c);
}

/* Seals c under a fresh nonce and writes it. */
static int contact_put_txn(struct msgstore *ms, struct store_txn *t,
			   const struct msgstore_contact *c)
{
	struct msgstore__contact_rec rec;
	uint8_t pt[CONTACT_PT_MAX], ct[CONTACT_CT_MAX], ad[AD_CONTACT_LEN];
	uint8_t buf[CONTACT_REC_MAX];
	size_t pt_len = 0, len = 0;
	int r;

	if ((r = msgstore__contact_pt_encode(c, pt, sizeof pt, &pt_len)) < 0)
		goto out;
	memset(&rec, 0, sizeof rec);
	rec.state = (uint8_t)c->state;
	rec.receipts = (uint8_t)c->receipts;
	rec.created_ms = c->created_ms;
	rec.updated_ms = c->updated_ms;
	rec.last_seen_ms = c->last_seen_ms;
	rng_fill(ms->rng, rec.nonce, sizeof rec.nonce);
	contact_ad(ad, c->pk);
	if ((r = cx_xchacha_seal(ct, sizeof ct, pt, pt_len, ad, sizeof ad,
				 rec.nonce, ms->contact_key)) < 0)
		goto out;
	rec.ct = ct;
	rec.ct_len = pt_len + MSGSTORE_TAG_LEN;
	if ((r = msgstore__contact_rec_encode(&rec, buf, sizeof buf, &len)) < 0)
		goto out;
	r = store_put(t, STORE_TABLE_CONTACTS, c->pk, MSGSTORE_PK_LEN, buf,
		      len);
out:
	cx_wipe(pt, sizeof pt);
	return r;
}

enum contact_op {
	CONTACT_OP_ADD,
	CONTACT_OP_STATE,
	CONTACT_OP_NAME,
	CONTACT_OP_GREETING,
	CONTACT_OP_RECEIPTS,
	CONTACT_OP_SEEN,
	CONTACT_OP_REMOVE,
};

struct contact_ctx {
	struct msgstore *ms;
	enum contact_op op;
	const uint8_t *pk;
	const struct msgstore_contact *add;
	const char *str;
	unsigned value;
	uint64_t now_ms;
	struct msgstore_contact c; /* scratch */
};

static int contact_txn(struct store_txn *t, void *arg)
{
	struct contact_ctx *cc = arg;
	struct msgstore_contact *c = &cc->c;
	int r;

	r = contact_get_txn(cc->ms, t, cc->pk, c);
	if (cc->op == CONTACT_OP_ADD) {
		if (r == 0)
			return -EEXIST;
		if (r != -ENOENT)
			return r;
		*c = *cc->add;
		c->created_ms = cc->now_ms;
		c->updated_ms = cc->now_ms;
		return contact_put_txn(cc->ms, t, c);
	}
	if (r < 0)
		return r;
	switch (cc->op) {
	case CONTACT_OP_ADD:
		return -EINVAL; /* handled above */
	case CONTACT_OP_STATE:
		c->state = (enum msgstore_contact_state)cc->value;
		break;
	case CONTACT_OP_NAME:
		memcpy(c->name, cc->str, strlen(cc->str) + 1);
		break;
	case CONTACT_OP_GREETING:
		memcpy(c->greeting, cc->str, strlen(cc->str) + 1);
		break;
	case CONTACT_OP_RECEIPTS:
		c->receipts = (enum msgstore_receipts)cc->value;
		break;
	case CONTACT_OP_SEEN:
		if (cc->now_ms <= c->last_seen_ms)
			return 0;
		c->last_seen_ms = cc->now_ms;
		return contact_put_txn(cc->ms, t, c);
	case CONTACT_OP_REMOVE:
		return store_del(t, STORE_TABLE_CONTACTS, cc->pk,
				 MSGSTORE_PK_LEN);
	}
	c->updated_ms = cc->now_ms;
	return contact_put_txn(cc->ms, t, c);
}

static int contact_run(struct msgstore *ms, struct contact_ctx *cc)
{
	int r;

	cc->ms = ms;
	r = store_write(ms->s, contact_txn, cc);
	cx_wipe(&cc->c, sizeof cc->c);
	return r;
}

/* The same operations inside the caller's transaction. */
static int contact_in(struct msgstore *ms, struct store_txn *t,
		      struct contact_ctx *cc)
{
	int r;

	cc->ms = ms;
	r = contact_txn(t, cc);
	cx_wipe(&cc->c, sizeof cc->c);
	return r;
}

/* t NULL: a transaction of its own; else inside the caller's. */
static int contact_do(struct msgstore *ms, struct store_txn *t,
		      struct contact_ctx *cc)
{
	return t != NULL ? contact_in(ms, t, cc) : contact_run(ms, cc);
}

static int contact_add_do(struct msgstore *ms, struct store_txn *t,
			  const struct msgstore_contact *c, uint64_t now_ms)
{
	struct contact_ctx cc = {.op = CONTACT_OP_ADD, .now_ms = now_ms};
	size_t len;
	int r;

	if (c == NULL || !state_valid(c->state) || !receipts_valid(c->receipts))
		return -EINVAL;
	if ((r = check_str(c->name, MSGSTORE_NAME_MAX, &len)) < 0 ||
	    (r = check_str(c->greeting, MSGSTORE_GREETING_MAX, &len)) < 0)
		return r;
	cc.pk = c->pk;
	cc.add = c;
	return contact_do(ms, t, &cc);
}

static int contact_state_do(struct msgstore *ms, struct store_txn *t,
			    const uint8_t *pk,
			    enum msgstore_contact_state state, uint64_t now_ms)
{
	struct contact_ctx cc = {.op = CONTACT_OP_STATE,
				 .pk = pk,
				 .value = (unsigned)state,
				 .now_ms = now_ms};

	if (!state_valid((unsigned)state))
		return -EINVAL;
	return contact_do(ms, t, &cc);
}

static int contact_name_do(struct msgstore *ms, struct store_txn *t,
			   const uint8_t *pk, const char *name,
			   uint64_t now_ms)
{
	struct contact_ctx cc = {
		.op = CONTACT_OP_NAME, .pk = pk, .str = name, .now_ms = now_ms};
	size_t len;
	int r;

	if ((r = check_str(name, MSGSTORE_NAME_MAX, &len)) < 0)
		return r;
	return contact_do(ms, t, &cc);
}

int msgstore_contact_add_txn(struct msgstore *ms, struct store_txn *t,
			     const struct msgstore_contact *c, uint64_t now_ms)
{
	return contact_add_do(ms, t, c, now_ms);
}

int msgstore_contact_get_txn(struct msgstore *ms, struct store_txn *t,
			     const uint8_t pk[static MSGSTORE_PK_LEN],
			     struct msgstore_contact *out)
{
	return contact_get_txn(ms, t, pk, out);
}

int msgstore_contact_set_state_txn(struct msgstore *ms, struct store_txn *t,
				   const uint8_t pk[static MSGSTORE_PK_LEN],
				   enum msgstore_contact_state state,
				   uint64_t now_ms)
{
	return contact_state_do(ms, t, pk, state, now_ms);
}

int msgstore_contact_set_name_txn(struct msgstore *ms, struct store_txn *t,
				  const uint8_t pk[static MSGSTORE_PK_LEN],
				  const char *name, uint64_t now_ms)
{
	return contact_name_do(ms, t, pk, name, now_ms);
}

int msgstore_contact_set_seen_txn(struct msgstore *ms, struct store_txn *t,
				  const uint8_t pk[static MSGSTORE_PK_LEN],
				  uint64_t seen_ms)
{
	struct contact_ctx cc = {
		.op = CONTACT_OP_SEEN, .pk = pk, .now_ms = seen_ms};

	return contact_in(ms, t, &cc);
}

int msgstore_contact_add(struct msgstore *ms, const struct msgstore_contact *c,
			 uint64_t now_ms)
{
	return contact_add_do(ms, NULL, c, now_ms);
}

int msgstore_contact_get(struct msgstore *ms,
			 const uint8_t pk[static MSGSTORE_PK_LEN],
			 struct msgstore_contact *out)
{
	struct store_txn *t = NULL;
	int r;

	if ((r = store_txn_begin(ms->s, false, &t)) < 0)
		return r;
	r = contact_get_txn(ms, t, pk, out);
	store_txn_abort(t);
	return r;
}

int msgstore_contact_state(struct msgstore *ms,
			   const uint8_t pk[static MSGSTORE_PK_LEN],
			   enum msgstore_contact_state *state)
{
	struct msgstore__contact_rec rec;
	uint8_t buf[CONTACT_REC_MAX];
	struct store_txn *t = NULL;
	size_t len = 0;
	int r;

	if ((r = store_txn_begin(ms->s, false, &t)) < 0)
		return r;
	r = store_get(t, STORE_TABLE_CONTACTS, pk, MSGSTORE_PK_LEN, buf,
		      sizeof buf, &len);
	store_txn_abort(t);
	if (r == -E2BIG)
		return -EBADMSG;
	/* The whole record is checked as contact_load() checks it, except
	 * the sealed name and greeting: the state is in the clear header,
	 * outside the associated data, so opening them proves nothing
	 * about it. */
	if (r == 0 && (r = msgstore__contact_rec_decode(&rec, buf, len)) == 0)
		*state = (enum msgstore_contact_state)rec.state;
	return r;
}

int msgstore_contact_set_state(struct msgstore *ms,
			       const uint8_t pk[static MSGSTORE_PK_LEN],
			       enum msgstore_contact_state state,
			       uint64_t now_ms)
{
	return contact_state_do(ms, NULL, pk, state, now_ms);
}

int msgstore_contact_set_name(struct msgstore *ms,
			      const uint8_t pk[static MSGSTORE_PK_LEN],
			      const char *name, uint64_t now_ms)
{
	return contact_name_do(ms, NULL, pk, name, now_ms);
}

int msgstore_contact_set_greeting(struct msgstore *ms,
				  const uint8_t pk[static MSGSTORE_PK_LEN],
				  const char *greeting, uint64_t now_ms)
{
	struct contact_ctx cc = {.op = CONTACT_OP_GREETING,
				 .pk = pk,
				 .str = greeting,
				 .now_ms = now_ms};
	size_t len;
	int r;

	if ((r = check_str(greeting, MSGSTORE_GREETING_MAX, &len)) < 0)
		return r;
	return contact_run(ms, &cc);
}

int msgstore_contact_set_receipts(struct msgstore *ms,
				  const uint8_t pk[static MSGSTORE_PK_LEN],
				  enum msgstore_receipts receipts,
				  uint64_t now_ms)
{
	struct contact_ctx cc = {.op = CONTACT_OP_RECEIPTS,
				 .pk = pk,
				 .value = (unsigned)receipts,
				 .now_ms = now_ms};

	if (!receipts_valid((unsigned)receipts))
		return -EINVAL;
	return contact_run(ms, &cc);
}

int msgstore_contact_set_seen(struct msgstore *ms,
			      const uint8_t pk[static MSGSTORE_PK_LEN],
			      uint64_t seen_ms)
{
	struct contact_ctx cc = {
		.op = CONTACT_OP_SEEN, .pk = pk, .now_ms = seen_ms};

	return contact_run(ms, &cc);
}

int msgstore_contact_remove(struct msgstore *ms,
			    const uint8_t pk[static MSGSTORE_PK_LEN])
{
	struct contact_ctx cc = {.op = CONTACT_OP_REMOVE, .pk = pk};

	return contact_run(ms, &cc);
}

struct contact_list_ctx {
	struct msgstore *ms;
	struct store_txn *t;
	const uint8_t *after;
	struct msgstore_contact *out;
	size_t max, n;
};

static int contact_list_cb(void *arg, const void *key, size_t key_len,
			   const void *val, size_t val_len)
{
	struct contact_list_ctx *lc = arg;
	int r;

	if (key_len != MSGSTORE_PK_LEN)
		return -EBADMSG;
	if (lc->after != NULL && memcmp(key, lc->after, MSGSTORE_PK_LEN) == 0)
		return 0; /* the scan starts at after itself */
	if (lc->n == lc->max)
		return 1;
	r = contact_load(lc->ms, key, val, val_len, &lc->out[lc->n]);
	if (r < 0)
		return r;
	lc->n++;
	return 0;
}

int msgstore_contact_list(struct msgstore *ms, const uint8_t *after,
			  struct msgstore_contact *out, size_t max, size_t *n)
{
	struct contact_list_ctx lc = {
		.ms = ms, .after = after, .out = out, .max = max};
	int r;

	*n = 0;
	if (max == 0 || out == NULL)
		return -EINVAL;
	if ((r = store_txn_begin(ms->s, false, &lc.t)) < 0)
		return r;
	r = store_scan(lc.t, STORE_TABLE_CONTACTS, after,
		       after != NULL ? MSGSTORE_PK_LEN : 0, false,
		       contact_list_cb, &lc);
	store_txn_abort(lc.t);
	if (r < 0) {
		cx_wipe(out, max * sizeof *out);
		return r;
	}
	*n = lc.n;
	return 0;
}

int msgstore_contact_blocked(struct msgstore *ms,
			     const uint8_t pk[static MSGSTORE_PK_LEN],
			     bool *blocked)
{
	enum msgstore_contact_state st;
	int r;

	*blocked = true;
	r = msgstore_contact_state(ms, pk, &st);
	if (r == -ENOENT) {
		*blocked = false;
		return 0;
	}
	if (r < 0)
		return r;
	*blocked = st == MSGSTORE_CONTACT_BLOCKED;
	return 0;
}

struct receipts_ctx {
	bool on;
};

static int receipts_get_txn(struct store_txn *t, void *arg)
{
	struct receipts_ctx *rc = arg;
	uint8_t v;
	size_t len = 0;
	int r;

	r = store_get(t, STORE_TABLE_META, meta_receipts,
		      sizeof meta_receipts - 1, &v, 1, &len);
	if (r == -ENOENT) {
		rc->on = true;
		return 0;
	}
	if (r == -E2BIG || (r == 0 && (len != 1 || v > 1)))
		return -EBADMSG;
	if (r < 0)
		return r;
	rc->on = v == 1;
	return 0;
}

static int receipts_set_txn(struct store_txn *t, void *arg)
{
	struct receipts_ctx *rc = arg;
	uint8_t v = rc->on ? 1 : 0;

	return store_put(t, STORE_TABLE_META, meta_receipts,
			 sizeof meta_receipts - 1, &v, 1);
}

int msgstore_receipts_default_get(struct msgstore *ms, bool *on)
{
	struct receipts_ctx rc = {true};
	int r;

	r = store_read(ms->s, receipts_get_txn, &rc);
	*on = rc.on;
	return r;
}

int msgstore_receipts_default_set(struct msgstore *ms, bool on)
{
	struct receipts_ctx rc = {on};

	return store_write(ms->s, receipts_set_txn, &rc);
}

int msgstore_receipts_for(struct msgstore *ms,
			  const uint8_t pk[static MSGSTORE_PK_LEN], bool *on)
{
	struct msgstore_contact c;
	enum msgstore_receipts rs = MSGSTORE_RECEIPTS_DEFAULT;
	int r;

	*on = false;
	r = msgstore_contact_get(ms, pk, &c);
	if (r == 0)
		rs = c.receipts;
	else if (r != -ENOENT)
		return r;
	cx_wipe(&c, sizeof c);
	switch (rs) {
	case MSGSTORE_RECEIPTS_ON:
		*on = true;
		return 0;
	case MSGSTORE_RECEIPTS_OFF:
		*on = false;
		return 0;
	case MSGSTORE_RECEIPTS_DEFAULT:
		break;
	}
	return msgstore_receipts_default_get(ms, on);
}

/* ---- Messages ---- */

void msgstore_msg_clear(struct msgstore_msg *m)
{
	if (m == NULL)
		return;
	if (m->body != NULL) {
		cx_wipe(m->body, m->body_len);
		free(m->body);
	}
	m->body = NULL;
	m->body_len = 0;
}

/* The last seq of the conversation with peer (0: none yet), found as the
 * last MESSAGES key <= peer || 0xff..ff. */
struct last_seq_ctx {
	const uint8_t *prefix;
	size_t prefix_len;
	uint64_t seq;
	bool found;
};

static int last_key_cb(void *arg, const void *key, size_t key_len,
		       const void *val, size_t val_len)
{
	struct last_seq_ctx *lc = arg;

	(void)val;
	(void)val_len;
	if (key_len != lc->prefix_len + 8)
		return lc->prefix_len == 0 ? -EBADMSG : 1;
	if (lc->prefix_len != 0 && memcmp(key, lc->prefix, lc->prefix_len) != 0)
		return 1;
	lc->seq = be64_get((const uint8_t *)key + lc->prefix_len);
	lc->found = true;
	return 1;
}

static int last_seq(struct store_txn *t, const uint8_t *peer, uint64_t *seq)
{
	struct last_seq_ctx lc = {.prefix = peer,
				  .prefix_len = MSGSTORE_PK_LEN};
	uint8_t key[KEY_LEN];
	int r;

	msg_key(key, peer, UINT64_MAX);
	r = store_scan(t, STORE_TABLE_MESSAGES, key, sizeof key, true,
		       last_key_cb, &lc);
	*seq = lc.found ? lc.seq : 0;
	return r;
}

/* The last outbox seq (0: empty outbox).  New entries take the next one,
 * so OUTBOX key order is send order. */
static int last_obx_seq(struct store_txn *t, uint64_t *seq)
{
	struct last_seq_ctx lc = {.prefix = NULL, .prefix_len = 0};
	int r;

	r = store_scan(t, STORE_TABLE_OUTBOX, NULL, 0, true, last_key_cb, &lc);
	*seq = lc.found ? lc.seq : 0;
	return r;
}

/* Looks the id up in MSGIDS.  -ENOENT when absent. */
static int msgid_get(struct store_txn *t, const uint8_t *id,
		     struct msgstore__msgid_rec *w)
{
	uint8_t buf[MSGSTORE__MSGID_LEN];
	size_t len = 0;
	int r;

	r = store_get(t, STORE_TABLE_MSGIDS, id, MSGSTORE_ID_LEN, buf,
		      sizeof buf, &len);
	if (r == -E2BIG)
		return -EBADMSG;
	if (r < 0)
		return r;
	return msgstore__msgid_rec_decode(w, buf, len);
}

/* Reads the raw record of (peer, seq) into a malloc'd buffer and decodes
 * it (rec points into *raw). */
static int msg_get_raw(struct store_txn *t, const uint8_t *peer, uint64_t seq,
		       uint8_t **raw, struct msgstore__msg_rec *rec)
{
	uint8_t key[KEY_LEN];
	size_t len = 0;
	int r;

	*raw = NULL;
	msg_key(key, peer, seq);
	if ((r = store_get_alloc(t, STORE_TABLE_MESSAGES, key, sizeof key, raw,
				 &len)) < 0)
		return r == -ENOENT ? -EBADMSG : r; /* MSGIDS points here */
	if ((r = msgstore__msg_rec_decode(rec, *raw, len)) < 0) {
		free(*raw);
		*raw = NULL;
	}
	return r;
}

void msgstore_new_id(const struct rng *rng, uint64_t now_ms,
		     uint8_t id[static MSGSTORE_ID_LEN])
{
	for (int i = 0; i < 6; i++)
		id[i] = (uint8_t)(now_ms >> (40 - 8 * i));
	rng_fill(rng, id + 6, MSGSTORE_ID_LEN - 6);
}

/* Finds the message id: its MSGIDS entry, and its record, which must
 * carry the same id. */
static int msg_find(struct store_txn *t, const uint8_t *id,
		    struct msgstore__msgid_rec *w, uint8_t **raw,
		    struct msgstore__msg_rec *rec)
{
	int r;

	*raw = NULL;
	if ((r = msgid_get(t, id, w)) < 0)
		return r;
	if ((r = msg_get_raw(t, w->peer, w->seq, raw, rec)) < 0)
		return r;
	if (memcmp(rec->id, id, MSGSTORE_ID_LEN) != 0) {
		free(*raw);
		*raw = NULL;
		return -EBADMSG;
	}
	return 0;
}

/* msg_find with a hint of where the message is (peer, seq): one lookup
 * instead of two when the hint is right (the record there carries the
 * id), msg_find when it is not or there is none (seq 0). */
static int msg_locate(struct store_txn *t, const uint8_t *id,
		      const uint8_t *peer, uint64_t seq,
		      struct msgstore__msgid_rec *w, uint8_t **raw,
		      struct msgstore__msg_rec *rec)
{
	if (peer != NULL && seq != 0 &&
	    msg_get_raw(t, peer, seq, raw, rec) == 0) {
		if (memcmp(rec->id, id, MSGSTORE_ID_LEN) == 0) {
			memset(w, 0, sizeof *w);
			memcpy(w->peer, peer, MSGSTORE_PK_LEN);
			w->seq = seq;
			return 0;
		}
		free(*raw);
		*raw = NULL;
	}
	return msg_find(t, id, w, raw, rec);
}

/* Rewrites a record with changed clear fields (status, status_ms,
 * obx_seq); the sealed body is kept as it is, since its associated data
 * covers only fields that never change. */
static int msg_rewrite(struct store_txn *t, const uint8_t *peer, uint64_t seq,
		       const struct msgstore__msg_rec *rec)
{
	uint8_t key[KEY_LEN];
	uint8_t *buf;
	size_t cap = MSGSTORE__MSG_HDR_LEN + rec->ct_len, len = 0;
	int r;

	buf = malloc(cap);
	if (buf == NULL)
		return -ENOMEM;
	if ((r = msgstore__msg_rec_encode(rec, buf, cap, &len)) == 0) {
		msg_key(key, peer, seq);
		r = store_put(t, STORE_TABLE_MESSAGES, key, sizeof key, buf,
			      len);
	}
	free(buf);
	return r;
}

/* Opens and decompresses a record's body into a malloc'd buffer with a
 * NUL after it.  The decompressed size is capped at MSGSTORE_BODY_MAX.
 * The body is not checked for UTF-8 again: it was checked before it was
 * sealed, and the seal (AEAD over the record's key and fields) lets only
 * what this store sealed open. */
static int body_open(struct msgstore *ms, const uint8_t *peer, uint64_t seq,
		     const struct msgstore__msg_rec *rec, uint8_t **body,
		     size_t *body_len)
{
	uint8_t ad[AD_BODY_LEN];
	uint8_t *frame = NULL, *out = NULL;
	size_t frame_len = rec->ct_len - MSGSTORE_TAG_LEN, n = 0, cap = 0;
	int r = -ENOMEM;

	*body = NULL;
	*body_len = 0;
	body_ad(ad, peer, seq, rec);
	frame = malloc(frame_len + 1);
	if (frame == NULL)
		goto out;
	if ((r = cx_xchacha_open(frame, frame_len, rec->ct, rec->ct_len, ad,
				 sizeof ad, rec->nonce, ms->body_key)) < 0)
		goto out;
	if (rec->flags & MSGSTORE__MSG_FLAG_RAW) { /* the body as it is */
		r = -EBADMSG;
		if (!msgstore__utf8_valid(frame, frame_len, true))
			goto out;
		frame[frame_len] = '\0';
		*body = frame;
		*body_len = frame_len;
		return 0;
	}
	/* the frame declares its size: ask, then decode into just that */
	r = store_decompress(NULL, 0, &cap, frame, frame_len);
	if (r == 0 || (r == -E2BIG && cap <= MSGSTORE_BODY_MAX)) {
		r = -ENOMEM;
		if ((out = malloc(cap + 1)) != NULL)
			r = store_decompress(out, cap, &n, frame, frame_len);
	} else if (r == -E2BIG) {
		r = -EBADMSG;
	}
	if (r == 0 && !msgstore__utf8_valid(out, n, true))
		r = -EBADMSG; /* authentic, so never; yet bodies are UTF-8 */
	if (r < 0)
		goto out;
	out[n] = '\0';
	*body = out;
	*body_len = n;
	out = NULL;
	r = 0;
out:
	if (frame != NULL) {
		cx_wipe(frame, frame_len);
		free(frame);
	}
	if (out != NULL) {
		cx_wipe(out, cap + 1);
		free(out);
	}
	return r;
}

/* Fills m from a decoded record and opens its body when want_body. */
static int msg_fill(struct msgstore *ms, const uint8_t *peer, uint64_t seq,
		    const struct msgstore__msg_rec *rec, bool want_body,
		    struct msgstore_msg *m)
{
	int r;

	memset(m, 0, sizeof *m);
	memcpy(m->peer, peer, MSGSTORE_PK_LEN);
	m->seq = seq;
	memcpy(m->id, rec->id, MSGSTORE_ID_LEN);
	m->dir = rec->dir;
	m->status = rec->status;
	memcpy(m->from, rec->from, MSGSTORE_PK_LEN);
	m->sent_ms = rec->sent_ms;
	m->stored_ms = rec->stored_ms;
	m->status_ms = rec->status_ms;
	m->has_reply_to = (rec->flags & MSGSTORE__MSG_FLAG_REPLY) != 0;
	memcpy(m->reply_to, rec->reply_to, MSGSTORE_ID_LEN);
	if (!want_body)
		return 0;
	r = body_open(ms, peer, seq, rec, &m->body, &m->body_len);
	return r;
}

/* A new message: the body is compressed once, before the transaction
 * (compression is deterministic), and sealed inside it, where the seq
 * that the associated data binds is known. */
struct insert_ctx {
	struct msgstore *ms;
	const uint8_t *peer;
	struct msgstore__msg_rec rec; /* all but seq, nonce, ct, obx_seq */
	const uint8_t *frame;	      /* zstd frame of the body */
	size_t frame_len;
	bool out; /* outgoing: new id, outbox entry */
	bool fixed_id; /* the caller chose the id: a collision is an error */
	uint64_t now_ms;
	/* results */
	uint64_t seq;
	uint64_t obx; /* outgoing: its outbox seq */
	bool duplicate;
};

static int insert_txn(struct store_txn *t, void *arg)
{
	struct insert_ctx *ic = arg;
	struct msgstore__msg_rec rec = ic->rec;
	struct msgstore__msgid_rec w;
	struct msgstore_outbox_entry e;
	uint8_t key[KEY_LEN], ad[AD_BODY_LEN], wbuf[MSGSTORE__MSGID_LEN];
	uint8_t obuf[MSGSTORE__OUTBOX_LEN], okey[8];
	uint8_t *ct = NULL, *buf = NULL;
	size_t ct_len = ic->frame_len + MSGSTORE_TAG_LEN, len = 0;
	uint64_t seq, obx = 0;
	int r, tries = 0;

	ic->duplicate = false;
	for (;;) {
		r = msgid_get(t, rec.id, &w);
		if (r == -ENOENT)
			break;
		if (r < 0)
			return r;
		if (!ic->out) {
			/* Already stored: at-least-once delivery,
			 * exactly-once history. */
			ic->duplicate = true;
			ic->seq = w.seq;
			return 0;
		}
		/* A 128-bit random id that collides: draw again (unless
		 * the caller chose it). */
		if (ic->fixed_id || ++tries == 4)
			return -EEXIST;
		msgstore_new_id(ic->ms->rng, ic->now_ms, rec.id);
	}
	if ((r = last_seq(t, ic->peer, &seq)) < 0)
		return r;
	if (seq == UINT64_MAX)
		return -ENOSPC;
	seq++;
	if (ic->out) {
		if ((r = last_obx_seq(t, &obx)) < 0)
			return r;
		if (obx < ic->ms->obx_hi)
			obx = ic->ms->obx_hi;
		if (obx == UINT64_MAX)
			return -ENOSPC;
		obx++;
		rec.obx_seq = obx;
	}
	rng_fill(ic->ms->rng, rec.nonce, MSGSTORE_NONCE_LEN);
	body_ad(ad, ic->peer, seq, &rec);
	ct = malloc(ct_len);
	buf = malloc(MSGSTORE__MSG_HDR_LEN + ct_len);
	r = -ENOMEM;
	if (ct == NULL || buf == NULL)
		goto out;
	if ((r = cx_xchacha_seal(ct, ct_len, ic->frame, ic->frame_len, ad,
				 sizeof ad, rec.nonce, ic->ms->body_key)) < 0)
		goto out;
	rec.ct = ct;
	rec.ct_len = ct_len;
	if ((r = msgstore__msg_rec_encode(
		     &rec, buf, MSGSTORE__MSG_HDR_LEN + ct_len, &len)) < 0)
		goto out;
	msg_key(key, ic->peer, seq);
	if ((r = store_put(t, STORE_TABLE_MESSAGES, key, sizeof key, buf,
			   len)) < 0)
		goto out;
	memcpy(w.peer, ic->peer, MSGSTORE_PK_LEN);
	w.seq = seq;
	if ((r = msgstore__msgid_rec_encode(&w, wbuf)) < 0 ||
	    (r = store_put(t, STORE_TABLE_MSGIDS, rec.id, MSGSTORE_ID_LEN, wbuf,
			   sizeof wbuf)) < 0)
		goto out;
	if (ic->out) {
		memset(&e, 0, sizeof e);
		memcpy(e.peer, ic->peer, MSGSTORE_PK_LEN);
		e.seq = seq;
		memcpy(e.id, rec.id, MSGSTORE_ID_LEN);
		e.queued_ms = ic->now_ms;
		e.next_attempt_ms = ic->now_ms;
		be64_put(okey, obx);
		if ((r = msgstore__outbox_rec_encode(&e, obuf)) < 0 ||
		    (r = store_put(t, STORE_TABLE_OUTBOX, okey, sizeof okey,
				   obuf, sizeof obuf)) < 0)
			goto out;
	}
	ic->seq = seq;
	ic->obx = obx;
	if (obx > ic->ms->obx_hi)
		ic->ms->obx_hi = obx; /* given out, even if t aborts */
	memcpy(ic->rec.id, rec.id, MSGSTORE_ID_LEN);
	r = 0;
out:
	free(ct);
	free(buf);
	return r;
}

/* Compresses body into a malloc'd zstd frame, or copies it when it is
 * short (*raw set). */
static int body_frame(const uint8_t *body, size_t body_len, uint8_t **frame,
		      size_t *frame_len, bool *raw)
{
	size_t cap = store_compress_bound(body_len);
	uint8_t *f;
	int r;

	*frame = NULL;
	*raw = body_len <= MSGSTORE__RAW_MAX;
	f = malloc(*raw ? body_len + 1 : cap);
	if (f == NULL)
		return -ENOMEM;
	if (*raw) {
		if (body_len > 0)
			memcpy(f, body, body_len);
		*frame_len = body_len;
	} else if ((r = store_compress(f, cap, frame_len, body, body_len,
				       MSGSTORE__ZSTD_LEVEL)) < 0) {
		free(f);
		return r;
	}
	*frame = f;
	return 0;
}

static int check_body(const uint8_t *body, size_t body_len)
{
	if ((body == NULL && body_len != 0) || body_len > MSGSTORE_BODY_MAX)
		return -EINVAL;
	if (!msgstore__utf8_valid(body, body_len, true))
		return -EINVAL;
	return 0;
}

/* Runs insert_txn in t, or in a transaction of its own when t is NULL. */
static int insert_run(struct msgstore *ms, struct store_txn *t,
		      struct insert_ctx *ic, const uint8_t *body,
		      size_t body_len)
{
	uint8_t *frame = NULL;
	bool raw;
	int r;

	if ((r = check_body(body, body_len)) < 0)
		return r;
	if ((r = body_frame(body, body_len, &frame, &ic->frame_len, &raw)) <
	    0)
		return r;
	if (raw)
		ic->rec.flags |= MSGSTORE__MSG_FLAG_RAW;
	ic->ms = ms;
	ic->frame = frame;
	r = t != NULL ? insert_txn(t, ic) : store_write(ms->s, insert_txn, ic);
	cx_wipe(frame, ic->frame_len);
	free(frame);
	return r;
}

static int send_impl(struct msgstore *ms, struct store_txn *t,
		     const uint8_t *peer, const uint8_t *body, size_t body_len,
		     const uint8_t *reply_to, uint64_t now_ms, uint8_t *id_out,
		     uint64_t *seq_out, const uint8_t *id_in,
		     enum msgstore_status status, uint64_t *obx_out)
{
	struct insert_ctx ic;
	int r;

	if (status != MSGSTORE_STATUS_QUEUED && status != MSGSTORE_STATUS_SENT)
		return -EINVAL;
	memset(&ic, 0, sizeof ic);
	ic.peer = peer;
	ic.out = true;
	ic.now_ms = now_ms;
	ic.rec.dir = MSGSTORE_DIR_OUT;
	ic.rec.status = (uint8_t)status;
	ic.fixed_id = id_in != NULL;
	if (id_in != NULL)
		memcpy(ic.rec.id, id_in, MSGSTORE_ID_LEN);
	else
		msgstore_new_id(ms->rng, now_ms, ic.rec.id);
	memcpy(ic.rec.from, ms->self_pk, MSGSTORE_PK_LEN);
	ic.rec.sent_ms = now_ms;
	ic.rec.stored_ms = now_ms;
	ic.rec.status_ms = now_ms;
	if (reply_to != NULL) {
		ic.rec.flags = MSGSTORE__MSG_FLAG_REPLY;
		memcpy(ic.rec.reply_to, reply_to, MSGSTORE_ID_LEN);
	}
	if ((r = insert_run(ms, t, &ic, body, body_len)) < 0)
		return r;
	memcpy(id_out, ic.rec.id, MSGSTORE_ID_LEN);
	if (seq_out != NULL)
		*seq_out = ic.seq;
	if (obx_out != NULL)
		*obx_out = ic.obx;
	return 0;
}

int msgstore_send(struct msgstore *ms,
		  const uint8_t peer[static MSGSTORE_PK_LEN],
		  const uint8_t *body, size_t body_len, const uint8_t *reply_to,
		  uint64_t now_ms, uint8_t id_out[static MSGSTORE_ID_LEN],
		  uint64_t *seq_out)
{
	return send_impl(ms, NULL, peer, body, body_len, reply_to, now_ms,
			 id_out, seq_out, NULL, MSGSTORE_STATUS_QUEUED, NULL);
}

int msgstore_send_txn(struct msgstore *ms, struct store_txn *t,
		      const uint8_t peer[static MSGSTORE_PK_LEN],
		      const uint8_t *body, size_t body_len,
		      const uint8_t *reply_to, uint64_t now_ms,
		      uint8_t id_out[static MSGSTORE_ID_LEN], uint64_t *seq_out)
{
	if (t == NULL)
		return -EINVAL;
	return send_impl(ms, t, peer, body, body_len, reply_to, now_ms, id_out,
			 seq_out, NULL, MSGSTORE_STATUS_QUEUED, NULL);
}

int msgstore_send_id_txn(struct msgstore *ms, struct store_txn *t,
			 const uint8_t peer[static MSGSTORE_PK_LEN],
			 const uint8_t *body, size_t body_len,
			 const uint8_t *reply_to, uint64_t now_ms,
			 const uint8_t id[static MSGSTORE_ID_LEN],
			 enum msgstore_status status, uint64_t *seq_out,
			 uint64_t *obx_out)
{
	uint8_t id_out[MSGSTORE_ID_LEN];

	if (t == NULL)
		return -EINVAL;
	return send_impl(ms, t, peer, body, body_len, reply_to, now_ms, id_out,
			 seq_out, id, status, obx_out);
}

static int receive_impl(struct msgstore *ms, struct store_txn *t,
			const struct msgstore_incoming *in, uint64_t now_ms,
			uint64_t *seq_out, bool *duplicate)
{
	struct insert_ctx ic;
	int r;

	*duplicate = false;
	if (in == NULL || in->peer == NULL || in->id == NULL ||
	    in->from == NULL)
		return -EINVAL;
	memset(&ic, 0, sizeof ic);
	ic.peer = in->peer;
	ic.out = false;
	ic.now_ms = now_ms;
	ic.rec.dir = MSGSTORE_DIR_IN;
	ic.rec.status = MSGSTORE_STATUS_RECEIVED;
	memcpy(ic.rec.id, in->id, MSGSTORE_ID_LEN);
	memcpy(ic.rec.from, in->from, MSGSTORE_PK_LEN);
	ic.rec.sent_ms = in->sent_ms;
	ic.rec.stored_ms = now_ms;
	ic.rec.status_ms = now_ms;
	if (in->reply_to != NULL) {
		ic.rec.flags = MSGSTORE__MSG_FLAG_REPLY;
		memcpy(ic.rec.reply_to, in->reply_to, MSGSTORE_ID_LEN);
	}
	if ((r = insert_run(ms, t, &ic, in->body, in->body_len)) < 0)
		return r;
	*duplicate = ic.duplicate;
	if (seq_out != NULL)
		*seq_out = ic.seq;
	return 0;
}

int msgstore_receive(struct msgstore *ms, const struct msgstore_incoming *in,
		     uint64_t now_ms, uint64_t *seq_out, bool *duplicate)
{
	return receive_impl(ms, NULL, in, now_ms, seq_out, duplicate);
}

int msgstore_receive_txn(struct msgstore *ms, struct store_txn *t,
			 const struct msgstore_incoming *in, uint64_t now_ms,
			 uint64_t *seq_out, bool *duplicate)
{
	*duplicate = false;
	if (t == NULL)
		return -EINVAL;
	return receive_impl(ms, t, in, now_ms, seq_out, duplicate);
}

int msgstore_event_body(void *ctx, struct store_txn *t,
			const uint8_t peer[32], uint64_t seq,
			const uint8_t id[16], uint8_t **body, size_t *len)
{
	struct msgstore__msg_rec rec;
	uint8_t key[KEY_LEN], *raw = NULL;
	size_t raw_len = 0;
	int r;

	*body = NULL;
	*len = 0;
	msg_key(key, peer, seq);
	if ((r = store_get_alloc(t, STORE_TABLE_MESSAGES, key, sizeof key, &raw,
				 &raw_len)) < 0)
		return r;
	if ((r = msgstore__msg_rec_decode(&rec, raw, raw_len)) == 0)
		r = memcmp(rec.id, id, MSGSTORE_ID_LEN) != 0
			    ? -ENOENT /* another message: not there */
			    : body_open(ctx, peer, seq, &rec, body, len);
	free(raw);
	return r;
}

int msgstore_get(struct msgstore *ms, const uint8_t id[static MSGSTORE_ID_LEN],
		 struct msgstore_msg *out)
{
	return msgstore_get_at(ms, id, NULL, 0, out);
}

int msgstore_get_at(struct msgstore *ms,
		    const uint8_t id[static MSGSTORE_ID_LEN],
		    const uint8_t *peer, uint64_t seq, struct msgstore_msg *out)
{
	struct store_txn *t = NULL;
	struct msgstore__msgid_rec w;
	struct msgstore__msg_rec rec;
	uint8_t *raw = NULL;
	int r;

	memset(out, 0, sizeof *out);
	if ((r = store_txn_begin(ms->s, false, &t)) < 0)
		return r;
	r = msg_locate(t, id, peer, seq, &w, &raw, &rec);
	store_txn_abort(t);
	if (r < 0)
		return r;
	r = msg_fill(ms, w.peer, w.seq, &rec, true, out);
	free(raw);
	if (r < 0)
		msgstore_msg_clear(out);
	return r;
}

/* Paging: the raw records are copied out in the scan (newest first) and
 * opened after it, oldest first. */
struct page_item {
	uint64_t seq;
	uint8_t *raw;
	size_t len;
};

struct page_ctx {
	const uint8_t *peer;
	struct page_item *items;
	size_t limit, n;
};

static int page_cb(void *arg, const void *key, size_t key_len, const void *val,
		   size_t val_len)
{
	struct page_ctx *pc = arg;
	struct page_item *it;

	if (key_len != KEY_LEN || memcmp(key, pc->peer, MSGSTORE_PK_LEN) != 0)
		return 1; /* past the conversation */
	if (pc->n == pc->limit)
		return 1;
	it = &pc->items[pc->n];
	it->raw = malloc(val_len > 0 ? val_len : 1);
	if (it->raw == NULL)
		return -ENOMEM;
	memcpy(it->raw, val, val_len);
	it->len = val_len;
	it->seq = be64_get((const uint8_t *)key + MSGSTORE_PK_LEN);
	pc->n++;
	return 0;
}

int msgstore_list(struct msgstore *ms,
		  const uint8_t peer[static MSGSTORE_PK_LEN],
		  const uint8_t *before_id, size_t limit,
		  struct msgstore_msg *out, size_t *n)
{
	struct page_ctx pc = {.peer = peer, .limit = limit};
	struct store_txn *t = NULL;
	struct msgstore__msgid_rec w;
	struct msgstore__msg_rec rec;
	uint8_t key[KEY_LEN];
	uint64_t before = UINT64_MAX; /* exclusive bound, as a seq */
	size_t filled = 0;
	int r;

	*n = 0;
	if (limit == 0 || limit > MSGSTORE_LIST_MAX || out == NULL)
		return -EINVAL;
	pc.items = calloc(limit, sizeof *pc.items);
	if (pc.items == NULL)
		return -ENOMEM;
	if ((r = store_txn_begin(ms->s, false, &t)) < 0)
		goto out;
	if (before_id != NULL) {
		r = msgid_get(t, before_id, &w);
		if (r == 0 && memcmp(w.peer, peer, MSGSTORE_PK_LEN) != 0)
			r = -ENOENT;
		if (r < 0) {
			store_txn_abort(t);
			goto out;
		}
		before = w.seq;
	}
	r = 0;
	if (before > 1) {
		/* Newest first from seq before - 1 (or the very last). */
		msg_key(key, peer,
			before == UINT64_MAX ? UINT64_MAX : before - 1);
		r = store_scan(t, STORE_TABLE_MESSAGES, key, sizeof key, true,
			       page_cb, &pc);
	}
	store_txn_abort(t);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < pc.n; i++) {
		struct page_item *it = &pc.items[pc.n - 1 - i];

		if ((r = msgstore__msg_rec_decode(&rec, it->raw, it->len)) < 0)
			goto out;
		if ((r = msg_fill(ms, peer, it->seq, &rec, true, &out[i])) <
		    0) {
			msgstore_msg_clear(&out[i]); /* msg_fill set it up */
			goto out;
		}
		filled++;
	}
	*n = pc.n;
	r = 0;
out:
	if (r < 0)
		for (size_t i = 0; i < filled; i++)
			msgstore_msg_clear(&out[i]);
	for (size_t i = 0; i < pc.n; i++)
		free(pc.items[i].raw);
	free(pc.items);
	return r;
}

/* The status table (enum msgstore_status): 1 apply, 0 ignore (a step
 * backwards or to the same status), negative refuse. */
static int status_step(enum msgstore_status cur, enum msgstore_status next)
{
	switch (next) {
	case MSGSTORE_STATUS_QUEUED:
	case MSGSTORE_STATUS_RECEIVED:
		return -EINVAL;
	case MSGSTORE_STATUS_SENT:
	case MSGSTORE_STATUS_DELIVERED:
	case MSGSTORE_STATUS_READ:
		switch (cur) {
		case MSGSTORE_STATUS_QUEUED:
		case MSGSTORE_STATUS_SENT:
		case MSGSTORE_STATUS_DELIVERED:
		case MSGSTORE_STATUS_READ:
			return next > cur ? 1 : 0;
		case MSGSTORE_STATUS_FAILED:
		case MSGSTORE_STATUS_CANCELLED:
			/* A receipt proves delivery after all; a late
			 * "sent" changes nothing. */
			return next == MSGSTORE_STATUS_SENT ? 0 : 1;
		case MSGSTORE_STATUS_RECEIVED:
			return -EINVAL;
		}
		return -EINVAL;
	case MSGSTORE_STATUS_FAILED:
	case MSGSTORE_STATUS_CANCELLED:
		switch (cur) {
		case MSGSTORE_STATUS_QUEUED:
		case MSGSTORE_STATUS_SENT:
			return 1;
		case MSGSTORE_STATUS_FAILED:
			return next == MSGSTORE_STATUS_CANCELLED ? 1 : 0;
		case MSGSTORE_STATUS_CANCELLED:
			return 0;
		case MSGSTORE_STATUS_DELIVERED:
		case MSGSTORE_STATUS_READ:
			return -EALREADY;
		case MSGSTORE_STATUS_RECEIVED:
			return -EINVAL;
		}
		return -EINVAL;
	}
	return -EINVAL;
}

struct status_ctx {
	const uint8_t *peer; /* NULL: any conversation */
	uint64_t seq;	     /* where it is in peer's, 0: not known */
	const uint8_t *id;
	enum msgstore_status status;
	uint64_t now_ms;
	bool changed;
	enum msgstore_status old;
};

static int outbox_del(struct store_txn *t, uint64_t obx)
{
	uint8_t okey[8];
	int r;

	be64_put(okey, obx);
	r = store_del(t, STORE_TABLE_OUTBOX, okey, sizeof okey);
	return r == -ENOENT ? -EBADMSG : r; /* the record pointed here */
}

static int status_txn(struct store_txn *t, void *arg)
{
	struct status_ctx *sc = arg;
	struct msgstore__msgid_rec w;
	struct msgstore__msg_rec rec;
	uint8_t *raw = NULL;
	int r, step;

	sc->changed = false;
	if ((r = msg_locate(t, sc->id, sc->peer, sc->seq, &w, &raw, &rec)) <
	    0)
		return r;
	r = -ENOENT;
	if (sc->peer != NULL && memcmp(sc->peer, w.peer, MSGSTORE_PK_LEN) != 0)
		goto out;
	sc->old = rec.status;
	r = -EINVAL;
	if (rec.dir != MSGSTORE_DIR_OUT)
		goto out;
	step = status_step(rec.status, sc->status);
	if (step <= 0) {
		r = step;
		goto out;
	}
	rec.status = sc->status;
	rec.status_ms = sc->now_ms;
	if (!status_in_outbox(rec.dir, rec.status) && rec.obx_seq != 0) {
		if ((r = outbox_del(t, rec.obx_seq)) < 0)
			goto out;
		rec.obx_seq = 0;
	}
	if ((r = msg_rewrite(t, w.peer, w.seq, &rec)) < 0)
		goto out;
	sc->changed = true;
	r = 0;
out:
	free(raw);
	return r;
}

static int set_status_impl(struct msgstore *ms, struct store_txn *t,
			   const uint8_t *peer, uint64_t seq,
			   const uint8_t *id, enum msgstore_status status,
			   uint64_t now_ms, bool *changed,
			   enum msgstore_status *old_out)
{
	struct status_ctx sc = {.peer = peer,
				.seq = peer != NULL ? seq : 0,
				.id = id,
				.status = status,
				.now_ms = now_ms};
	int r;

	if (changed != NULL)
		*changed = false;
	if (status_step(MSGSTORE_STATUS_QUEUED, status) < 0)
		return -EINVAL;
	r = t != NULL ? status_txn(t, &sc)
		      : store_write(ms->s, status_txn, &sc);
	if (r < 0)
		return r;
	if (changed != NULL)
		*changed = sc.changed;
	if (old_out != NULL)
		*old_out = sc.old;
	return 0;
}

int msgstore_set_status(struct msgstore *ms, const uint8_t *peer,
			const uint8_t id[static MSGSTORE_ID_LEN],
			enum msgstore_status status, uint64_t now_ms,
			bool *changed, enum msgstore_status *old_out)
{
	return set_status_impl(ms, NULL, peer, 0, id, status, now_ms, changed,
			       old_out);
}

int msgstore_set_status_txn(struct msgstore *ms, struct store_txn *t,
			    const uint8_t *peer,
			    const uint8_t id[static MSGSTORE_ID_LEN],
			    enum msgstore_status status, uint64_t now_ms,
			    bool *changed, enum msgstore_status *old_out)
{
	return msgstore_set_status_at_txn(ms, t, peer, 0, id, status, now_ms,
					  changed, old_out);
}

int msgstore_set_status_at_txn(struct msgstore *ms, struct store_txn *t,
			       const uint8_t *peer, uint64_t seq,
			       const uint8_t id[static MSGSTORE_ID_LEN],
			       enum msgstore_status status, uint64_t now_ms,
			       bool *changed, enum msgstore_status *old_out)
{
	if (t == NULL)
		return -EINVAL;
	return set_status_impl(ms, t, peer, seq, id, status, now_ms, changed,
			       old_out);
}

/* mark_read: read incoming messages always form a prefix of a
 * conversation's incoming messages (only this function marks them, always
 * everything up to a point), so the scan goes back from up_to_id and stops
 * at the first incoming message already read: its cost is the number of
 * messages it changes, plus the outgoing ones between them. */
struct unread_ctx {
	const uint8_t *peer;
	uint64_t *seqs;
	size_t n, cap;
};

static int unread_cb(void *arg, const void *key, size_t key_len,
		     const void *val, size_t val_len)
{
	struct unread_ctx *uc = arg;
	const uint8_t *v = val;
	uint64_t *grown;

	if (key_len != KEY_LEN || memcmp(key, uc->peer, MSGSTORE_PK_LEN) != 0)
		return 1;
	/* Only the clear header decides: the full decode comes later. */
	if (val_len < MSGSTORE__MSG_HDR_LEN || v[0] != MSGSTORE_REC_VERSION)
		return -EBADMSG;
	if (v[1] != MSGSTORE_DIR_IN)
		return 0;
	if (v[2] == MSGSTORE_STATUS_READ)
		return 1;
	if (uc->n == uc->cap) {
		size_t cap = uc->cap ? uc->cap * 2 : 64;

		grown = realloc(uc->seqs, cap * sizeof *grown);
		if (grown == NULL)
			return -ENOMEM;
		uc->seqs = grown;
		uc->cap = cap;
	}
	uc->seqs[uc->n++] = be64_get((const uint8_t *)key + MSGSTORE_PK_LEN);
	return 0;
}

struct read_ctx {
	const uint8_t *peer;
	const uint8_t *up_to;
	uint64_t now_ms;
	uint8_t *ids; /* result, n ids */
	size_t n;
};

static int read_txn(struct store_txn *t, void *arg)
{
	struct read_ctx *rc = arg;
	struct unread_ctx uc = {.peer = rc->peer};
	struct msgstore__msgid_rec w;
	struct msgstore__msg_rec rec;
	uint8_t key[KEY_LEN];
	uint8_t *raw = NULL;
	int r;

	free(rc->ids); /* from an earlier run of this function */
	rc->ids = NULL;
	rc->n = 0;
	if ((r = msgid_get(t, rc->up_to, &w)) < 0)
		return r;
	if (memcmp(w.peer, rc->peer, MSGSTORE_PK_LEN) != 0)
		return -ENOENT;
	msg_key(key, rc->peer, w.seq);
	if ((r = store_scan(t, STORE_TABLE_MESSAGES, key, sizeof key, true,
			    unread_cb, &uc)) < 0)
		goto out;
	if (uc.n == 0)
		goto out;
	rc->ids = malloc(uc.n * MSGSTORE_ID_LEN);
	r = -ENOMEM;
	if (rc->ids == NULL)
		goto out;
	/* uc.seqs is newest first; the result is oldest first. */
	for (size_t i = 0; i < uc.n; i++) {
		uint64_t seq = uc.seqs[uc.n - 1 - i];

		if ((r = msg_get_raw(t, rc->peer, seq, &raw, &rec)) < 0)
			goto out;
		if (rec.dir != MSGSTORE_DIR_IN ||
		    rec.status != MSGSTORE_STATUS_RECEIVED) {
			r = -EBADMSG;
			goto out;
		}
		rec.status = MSGSTORE_STATUS_READ;
		rec.status_ms = rc->now_ms;
		if ((r = msg_rewrite(t, rc->peer, seq, &rec)) < 0)
			goto out;
		memcpy(rc->ids + i * MSGSTORE_ID_LEN, rec.id, MSGSTORE_ID_LEN);
		free(raw);
		raw = NULL;
	}
	rc->n = uc.n;
	r = 0;
out:
	free(raw);
	free(uc.seqs);
	if (r < 0) {
		free(rc->ids);
		rc->ids = NULL;
		rc->n = 0;
	}
	return r;
}

int msgstore_mark_read(struct msgstore *ms,
		       const uint8_t peer[static MSGSTORE_PK_LEN],
		       const uint8_t up_to_id[static MSGSTORE_ID_LEN],
		       uint64_t now_ms, uint8_t **ids, size_t *n_ids)
{
	struct read_ctx rc = {
		.peer = peer, .up_to = up_to_id, .now_ms = now_ms};
	int r;

	*ids = NULL;
	*n_ids = 0;
	if ((r = store_write(ms->s, read_txn, &rc)) < 0) {
		free(rc.ids);
		return r;
	}
	*ids = rc.ids;
	*n_ids = rc.n;
	return 0;
}

/* Inside the caller's transaction: *ids carries over from an earlier run
 * of the caller's function, and is freed and replaced here, so that a
 * rerun leaks nothing (read_txn starts by freeing it). */
int msgstore_mark_read_txn(struct msgstore *ms, struct store_txn *t,
			   const uint8_t peer[static MSGSTORE_PK_LEN],
			   const uint8_t up_to_id[static MSGSTORE_ID_LEN],
			   uint64_t now_ms, uint8_t **ids, size_t *n_ids)
{
	struct read_ctx rc = {
		.peer = peer, .up_to = up_to_id, .now_ms = now_ms, .ids = *ids};
	int r;

	(void)ms;
	*ids = NULL;
	*n_ids = 0;
	if (t == NULL) {
		free(rc.ids);
		return -EINVAL;
	}
	if ((r = read_txn(t, &rc)) < 0)
		return r; /* read_txn freed rc.ids */
	*ids = rc.ids;
	*n_ids = rc.n;
	return 0;
}

/* ---- Outbox ---- */

struct outbox_list_ctx {
	const uint8_t *peer;
	struct msgstore_outbox_entry *out;
	size_t max, n;
};

static int outbox_list_cb(void *arg, const void *key, size_t key_len,
			  const void *val, size_t val_len)
{
	struct outbox_list_ctx *oc = arg;
	struct msgstore_outbox_entry e;
	int r;

	if (key_len != 8)
		return -EBADMSG;
	if ((r = msgstore__outbox_rec_decode(&e, val, val_len)) < 0)
		return r;
	e.obx_seq = be64_get(key);
	if (oc->peer != NULL && memcmp(e.peer, oc->peer, MSGSTORE_PK_LEN) != 0)
		return 0;
	if (oc->n == oc->max)
		return 1;
	oc->out[oc->n++] = e;
	return 0;
}

struct outbox_list_args {
	struct outbox_list_ctx *oc;
	uint64_t after;
};

static int outbox_list_txn(struct store_txn *t, void *arg)
{
	struct outbox_list_args *a = arg;
	uint8_t from[8];

	be64_put(from, a->after + 1);
	return store_scan(t, STORE_TABLE_OUTBOX, from, sizeof from, false,
			  outbox_list_cb, a->oc);
}

uint64_t msgstore_outbox_hi(const struct msgstore *ms)
{
	return ms->obx_hi;
}

int msgstore_outbox_list(struct msgstore *ms, const uint8_t *peer,
			 uint64_t after, struct msgstore_outbox_entry *out,
			 size_t max, size_t *n)
{
	struct outbox_list_ctx oc = {.peer = peer, .out = out, .max = max};
	struct outbox_list_args a = {.oc = &oc, .after = after};
	int r;

	*n = 0;
	if (max == 0 || out == NULL)
		return -EINVAL;
	if (after == UINT64_MAX)
		return 0;
	if ((r = store_read(ms->s, outbox_list_txn, &a)) < 0)
		return r;
	*n = oc.n;
	return 0;
}

struct due_ctx {
	uint64_t now_ms, next_ms;
	struct msgstore_outbox_entry *out;
	size_t max, n;
};

static int due_cb(void *arg, const void *key, size_t key_len, const void *val,
		  size_t val_len)
{
	struct due_ctx *dc = arg;
	struct msgstore_outbox_entry e;
	int r;

	if (key_len != 8)
		return -EBADMSG;
	if ((r = msgstore__outbox_rec_decode(&e, val, val_len)) < 0)
		return r;
	e.obx_seq = be64_get(key);
	if (e.next_attempt_ms <= dc->now_ms && dc->n < dc->max) {
		dc->out[dc->n++] = e;
		return 0;
	}
	if (e.next_attempt_ms < dc->next_ms)
		dc->next_ms = e.next_attempt_ms;
	return 0;
}

static int due_txn(struct store_txn *t, void *arg)
{
	return store_scan(t, STORE_TABLE_OUTBOX, NULL, 0, false, due_cb, arg);
}

/* A full scan of the outbox: it holds only what is not yet delivered,
 * which stays small unless a peer is away for long; an index on
 * next_attempt_ms can come when that matters. */
int msgstore_outbox_due(struct msgstore *ms, uint64_t now_ms,
			struct msgstore_outbox_entry *out, size_t max,
			size_t *n, uint64_t *next_ms)
{
	struct due_ctx dc = {.now_ms = now_ms,
			     .next_ms = UINT64_MAX,
			     .out = out,
			     .max = max};
	int r;

	*n = 0;
	*next_ms = UINT64_MAX;
	if (max == 0 || out == NULL)
		return -EINVAL;
	if ((r = store_read(ms->s, due_txn, &dc)) < 0)
		return r;
	*n = dc.n;
	*next_ms = dc.next_ms;
	return 0;
}

struct attempt_ctx {
	const uint8_t *id;
	uint64_t next_ms;
};

static int attempt_txn(struct store_txn *t, void *arg)
{
	struct attempt_ctx *ac = arg;
	struct msgstore__msgid_rec w;
	struct msgstore__msg_rec rec;
	struct msgstore_outbox_entry e;
	uint8_t okey[8], buf[MSGSTORE__OUTBOX_LEN];
	uint8_t *raw = NULL;
	size_t len = 0;
	int r;

	if ((r = msg_find(t, ac->id, &w, &raw, &rec)) < 0)
		return r;
	r = -ENOENT;
	if (rec.obx_seq == 0)
		goto out;
	be64_put(okey, rec.obx_seq);
	r = store_get(t, STORE_TABLE_OUTBOX, okey, sizeof okey, buf, sizeof buf,
		      &len);
	if (r == -ENOENT || r == -E2BIG)
		r = -EBADMSG;
	if (r < 0 || (r = msgstore__outbox_rec_decode(&e, buf, len)) < 0)
		goto out;
	if (memcmp(e.id, ac->id, MSGSTORE_ID_LEN) != 0) {
		r = -EBADMSG;
		goto out;
	}
	if (e.attempts < UINT32_MAX)
		e.attempts++;
	e.next_attempt_ms = ac->next_ms;
	if ((r = msgstore__outbox_rec_encode(&e, buf)) < 0)
		goto out;
	r = store_put(t, STORE_TABLE_OUTBOX, okey, sizeof okey, buf,
		      sizeof buf);
out:
	free(raw);
	return r;
}

int msgstore_outbox_attempt(struct msgstore *ms,
			    const uint8_t id[static MSGSTORE_ID_LEN],
			    uint64_t next_attempt_ms)
{
	struct attempt_ctx ac = {.id = id, .next_ms = next_attempt_ms};

	return store_write(ms->s, attempt_txn, &ac);
}

/* ---- Consistency check ---- */

struct check_ctx {
	struct msgstore *ms;
	struct store_txn *t;
	uint64_t messages, in_outbox;
};

static int check_cb(void *arg, const void *key, size_t key_len, const void *val,
		    size_t val_len)
{
	struct check_ctx *cc = arg;
	struct msgstore__msg_rec rec;
	struct msgstore__msgid_rec w;
	struct msgstore_outbox_entry e;
	uint8_t okey[8], buf[MSGSTORE__OUTBOX_LEN];
	uint8_t *body = NULL;
	size_t body_len = 0, len = 0;
	uint64_t seq;
	int r;

	if (key_len != KEY_LEN)
		return -EBADMSG;
	seq = be64_get((const uint8_t *)key + MSGSTORE_PK_LEN);
	if (seq == 0 || (r = msgstore__msg_rec_decode(&rec, val, val_len)) < 0)
		return -EBADMSG;
	if ((r = body_open(cc->ms, key, seq, &rec, &body, &body_len)) < 0)
		return r;
	cx_wipe(body, body_len);
	free(body);
	if ((r = msgid_get(cc->t, rec.id, &w)) < 0)
		return r == -ENOENT ? -EBADMSG : r;
	if (memcmp(w.peer, key, MSGSTORE_PK_LEN) != 0 || w.seq != seq)
		return -EBADMSG;
	cc->messages++;
	if (rec.obx_seq == 0)
		return 0;
	be64_put(okey, rec.obx_seq);
	r = store_get(cc->t, STORE_TABLE_OUTBOX, okey, sizeof okey, buf,
		      sizeof buf, &len);
	if (r == -ENOENT || r == -E2BIG)
		return -EBADMSG;
	if (r < 0 || (r = msgstore__outbox_rec_decode(&e, buf, len)) < 0)
		return r;
	if (memcmp(e.peer, key, MSGSTORE_PK_LEN) != 0 || e.seq != seq ||
	    memcmp(e.id, rec.id, MSGSTORE_ID_LEN) != 0)
		return -EBADMSG;
	cc->in_outbox++;
	return 0;
}

int msgstore_check(struct msgstore *ms, struct msgstore_check_stats *st)
{
	struct check_ctx cc = {.ms = ms};
	uint64_t ids = 0, obx = 0, contacts = 0;
	int r;

	memset(st, 0, sizeof *st);
	if ((r = store_txn_begin(ms->s, false, &cc.t)) < 0)
		return r;
	r = store_scan(cc.t, STORE_TABLE_MESSAGES, NULL, 0, false, check_cb,
		       &cc);
	if (r == 0)
		r = store_count(cc.t, STORE_TABLE_MSGIDS, &ids);
	if (r == 0)
		r = store_count(cc.t, STORE_TABLE_OUTBOX, &obx);
	if (r == 0)
		r = store_count(cc.t, STORE_TABLE_CONTACTS, &contacts);
	store_txn_abort(cc.t);
	if (r < 0)
		return r;
	/* Every record has its MSGIDS entry and outbox entry (checked
	 * above); equal counts mean there is nothing else. */
	if (ids != cc.messages || obx != cc.in_outbox)
		return -EBADMSG;
	st->messages = cc.messages;
	st->outbox = obx;
	st->contacts = contacts;
	return 0;
}
