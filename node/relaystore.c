/* relaystore: a relay's mailboxes in the store's RELAY table (see
 * relaystore.h for the keys and values, docs/PROTOCOL-relay.md "At the
 * relay" for the same in prose).
 *
 * Every function runs inside a transaction the caller owns and keeps no
 * state between calls: the totals record "T" and the box records "B" are
 * the only counters, read and written in the same transaction as the
 * items they count, so a commit keeps them in step and an abort leaves
 * all of them as they were.  store_write() may run the caller's function
 * again after growing the map; nothing here has effects outside the
 * transaction, so that is harmless.
 *
 * Values read from LMDB are decoded in place inside store_scan()
 * callbacks, or copied into stack buffers by store_get(); no pointer into
 * the map outlives the callback it was given to.  store_scan() does not
 * promise that the table may change under its cursor, so the deleting
 * functions collect a bounded batch of keys in one scan and delete them
 * after it, then scan again. */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "node/bytes.h"
#include "node/relaystore.h"

#define REC_VERSION 1

#define TAG_TOTALS 'T'
#define TAG_BOX 'B'
#define TAG_ITEM 'I'
#define TAG_INDEX 'X'

#define BOX_KEY_LEN (1 + RELAY_MAILBOX_LEN)	      /* 33 */
#define ITEM_KEY_LEN (1 + RELAY_MAILBOX_LEN + 8)      /* 41 */
#define INDEX_KEY_LEN (1 + 8 + RELAY_MAILBOX_LEN + 8) /* 49 */

#define TOTALS_LEN (1 + 8 + 8 + 8) /* 25 */
#define BOX_LEN (1 + 4 + 4)	   /* 9 */
#define ITEM_HDR_LEN (1 + 8)	   /* 9, then the blob */

/* Items removed per scan by delete_upto and expire. */
#define BATCH_MAX 64

static const uint8_t totals_key[1] = {TAG_TOTALS};

/* An item about to be deleted. */
struct victim {
	uint8_t mailbox[RELAY_MAILBOX_LEN];
	uint64_t seq, expiry_s;
	size_t len; /* blob bytes */
};

void relaystore_limits_default(struct relaystore_limits *lim)
{
	if (lim->box_items == 0)
		lim->box_items = RELAYSTORE_BOX_ITEMS;
	if (lim->box_bytes == 0)
		lim->box_bytes = RELAYSTORE_BOX_BYTES;
	if (lim->total_bytes == 0)
		lim->total_bytes = RELAYSTORE_TOTAL_BYTES;
	if (lim->ttl_s == 0)
		lim->ttl_s = RELAYSTORE_TTL_S;
}

/* ---- Keys ---- */

static void box_key(uint8_t k[BOX_KEY_LEN], const uint8_t *mailbox)
{
	k[0] = TAG_BOX;
	memcpy(k + 1, mailbox, RELAY_MAILBOX_LEN);
}

static void item_key(uint8_t k[ITEM_KEY_LEN], const uint8_t *mailbox,
		     uint64_t seq)
{
	k[0] = TAG_ITEM;
	memcpy(k + 1, mailbox, RELAY_MAILBOX_LEN);
	be64_put(k + 1 + RELAY_MAILBOX_LEN, seq);
}

static void index_key(uint8_t k[INDEX_KEY_LEN], uint64_t expiry_s,
		      const uint8_t *mailbox, uint64_t seq)
{
	k[0] = TAG_INDEX;
	be64_put(k + 1, expiry_s);
	memcpy(k + 9, mailbox, RELAY_MAILBOX_LEN);
	be64_put(k + 9 + RELAY_MAILBOX_LEN, seq);
}

/* ---- Value codecs ---- */

int relaystore__totals_decode(struct relaystore_totals *tot, const uint8_t *v,
			      size_t len)
{
	uint64_t next_seq;

	if (len != TOTALS_LEN || v[0] != REC_VERSION)
		return -EBADMSG;
	next_seq = be64_get(v + 1);
	if (next_seq == 0) /* seqs start at 1 */
		return -EBADMSG;
	tot->next_seq = next_seq;
	tot->items = be64_get(v + 9);
	tot->bytes = be64_get(v + 17);
	return 0;
}

static void totals_encode(uint8_t v[TOTALS_LEN],
			  const struct relaystore_totals *tot)
{
	v[0] = REC_VERSION;
	be64_put(v + 1, tot->next_seq);
	be64_put(v + 9, tot->items);
	be64_put(v + 17, tot->bytes);
}

int relaystore__box_decode(struct relaystore_box *b, const uint8_t *v,
			   size_t len)
{
	uint32_t items;

	if (len != BOX_LEN || v[0] != REC_VERSION)
		return -EBADMSG;
	items = be32_get(v + 1);
	if (items == 0) /* an empty mailbox has no record */
		return -EBADMSG;
	b->items = items;
	b->bytes = be32_get(v + 5);
	return 0;
}

static void box_encode(uint8_t v[BOX_LEN], const struct relaystore_box *b)
{
	v[0] = REC_VERSION;
	be32_put(v + 1, b->items);
	be32_put(v + 5, b->bytes);
}

int relaystore__item_decode(uint64_t *expiry_s, const uint8_t **blob,
			    size_t *blob_len, const uint8_t *v, size_t len)
{
	if (len < ITEM_HDR_LEN + 1 || len > ITEM_HDR_LEN + RELAY_BLOB_MAX ||
	    v[0] != REC_VERSION)
		return -EBADMSG;
	*expiry_s = be64_get(v + 1);
	*blob = v + ITEM_HDR_LEN;
	*blob_len = len - ITEM_HDR_LEN;
	return 0;
}

/* ---- Counters ---- */

/* store_get of a RELAY value into buf; a value larger than any we write
 * is corrupt. */
static int get_value(struct store_txn *t, const uint8_t *key, size_t key_len,
		     uint8_t *buf, size_t buf_max, size_t *len)
{
	int r = store_get(t, STORE_TABLE_RELAY, key, key_len, buf, buf_max,
			  len);

	return r == -E2BIG ? -EBADMSG : r;
}

/* Reads "T"; an absent record reads as a fresh relay (next_seq 1). */
static int totals_load(struct store_txn *t, struct relaystore_totals *tot,
		       bool *found)
{
	uint8_t v[TOTALS_LEN];
	size_t len = 0;
	int r;

	*found = false;
	tot->next_seq = 1;
	tot->items = 0;
	tot->bytes = 0;
	r = get_value(t, totals_key, sizeof totals_key, v, sizeof v, &len);
	if (r == -ENOENT)
		return 0;
	if (r < 0 || (r = relaystore__totals_decode(tot, v, len)) < 0)
		return r;
	*found = true;
	return 0;
}

static int totals_save(struct store_txn *t, const struct relaystore_totals *tot)
{
	uint8_t v[TOTALS_LEN];

	totals_encode(v, tot);
	return store_put(t, STORE_TABLE_RELAY, totals_key, sizeof totals_key, v,
			 sizeof v);
}

/* Reads mailbox's "B"; an absent record reads as an empty mailbox. */
static int box_load(struct store_txn *t, const uint8_t *mailbox,
		    struct relaystore_box *b, bool *found)
{
	uint8_t k[BOX_KEY_LEN], v[BOX_LEN];
	size_t len = 0;
	int r;

	*found = false;
	b->items = 0;
	b->bytes = 0;
	box_key(k, mailbox);
	r = get_value(t, k, sizeof k, v, sizeof v, &len);
	if (r == -ENOENT)
		return 0;
	if (r < 0 || (r = relaystore__box_decode(b, v, len)) < 0)
		return r;
	*found = true;
	return 0;
}

/* Takes items and bytes off mailbox's box record, deleting the record when
 * no item is left.  Counts that would go below zero, or bytes left over
 * with no item, mean the records disagree with the items: -EBADMSG. */
static int box_sub(struct store_txn *t, const uint8_t *mailbox, uint64_t items,
		   uint64_t bytes)
{
	struct relaystore_box b;
	uint8_t k[BOX_KEY_LEN], v[BOX_LEN];
	bool found;
	int r;

	if ((r = box_load(t, mailbox, &b, &found)) < 0)
		return r;
	if (!found || items > b.items || bytes > b.bytes)
		return -EBADMSG;
	b.items -= (uint32_t)items;
	b.bytes -= (uint32_t)bytes;
	box_key(k, mailbox);
	if (b.items == 0) {
		if (b.bytes != 0)
			return -EBADMSG;
		return store_del(t, STORE_TABLE_RELAY, k, sizeof k);
	}
	box_encode(v, &b);
	return store_put(t, STORE_TABLE_RELAY, k, sizeof k, v, sizeof v);
}

/* Takes items and bytes off the totals record (same rules as box_sub).
 * The record stays: it carries next_seq. */
static int totals_sub(struct store_txn *t, uint64_t items, uint64_t bytes)
{
	struct relaystore_totals tot;
	bool found;
	int r;

	if ((r = totals_load(t, &tot, &found)) < 0)
		return r;
	if (!found || items > tot.items || bytes > tot.bytes)
		return -EBADMSG;
	tot.items -= items;
	tot.bytes -= bytes;
	return totals_save(t, &tot);
}

/* Deletes the items of a batch, their index entries and their share of
 * the counters.  A missing item or index entry is a broken store:
 * -EBADMSG. */
static int remove_batch(struct store_txn *t, const struct victim *vs, size_t n)
{
	uint8_t ik[ITEM_KEY_LEN], xk[INDEX_KEY_LEN];
	uint64_t run_items = 0, run_bytes = 0, all_bytes = 0;
	int r;

	for (size_t i = 0; i < n; i++) {
		item_key(ik, vs[i].mailbox, vs[i].seq);
		index_key(xk, vs[i].expiry_s, vs[i].mailbox, vs[i].seq);
		r = store_del(t, STORE_TABLE_RELAY, ik, sizeof ik);
		if (r == 0)
			r = store_del(t, STORE_TABLE_RELAY, xk, sizeof xk);
		if (r == -ENOENT)
			return -EBADMSG;
		if (r < 0)
			return r;
		/* Blobs are at most RELAY_BLOB_MAX and a batch at most
		 * BATCH_MAX items: these sums cannot overflow. */
		run_items++;
		run_bytes += vs[i].len;
		all_bytes += vs[i].len;
		/* One box update per run of the same mailbox. */
		if (i + 1 == n || memcmp(vs[i + 1].mailbox, vs[i].mailbox,
					 RELAY_MAILBOX_LEN) != 0) {
			r = box_sub(t, vs[i].mailbox, run_items, run_bytes);
			if (r < 0)
				return r;
			run_items = 0;
			run_bytes = 0;
		}
	}
	if (n == 0)
		return 0;
	return totals_sub(t, n, all_bytes);
}

/* ---- Deposit ---- */

/* Checks the limits against the counters, then writes the item, its index
 * entry and both counters.  Nothing is written before every check has
 * passed, so a refusal leaves the transaction as it was. */
int relaystore_deposit(struct store_txn *t, const struct relaystore_limits *lim,
		       const uint8_t mailbox[static RELAY_MAILBOX_LEN],
		       const uint8_t *blob, size_t len, uint64_t now_s,
		       uint64_t *seq)
{
	struct relaystore_limits l;
	struct relaystore_totals tot;
	struct relaystore_box b;
	uint8_t ik[ITEM_KEY_LEN], xk[INDEX_KEY_LEN], bk[BOX_KEY_LEN];
	uint8_t iv[ITEM_HDR_LEN + RELAY_BLOB_MAX], bv[BOX_LEN];
	uint64_t expiry_s, s;
	bool found;
	int r;

	if (seq != NULL)
		*seq = 0;
	if (t == NULL || lim == NULL || blob == NULL || seq == NULL ||
	    len == 0 || len > RELAY_BLOB_MAX)
		return -EINVAL;
	l = *lim;
	relaystore_limits_default(&l);
	/* An expiry past the end of time is the end of time. */
	expiry_s = now_s > UINT64_MAX - l.ttl_s ? UINT64_MAX : now_s + l.ttl_s;

	if ((r = totals_load(t, &tot, &found)) < 0)
		return r;
	if ((r = box_load(t, mailbox, &b, &found)) < 0)
		return r;
	/* The mailbox's limits: -EDQUOT. */
	if ((uint64_t)b.items + 1 > l.box_items ||
	    (uint64_t)b.bytes + len > l.box_bytes)
		return -EDQUOT;
	/* The relay's: -ENOSPC, also for counters at their end (not reached
	 * in practice, but a wrapped counter would reuse seqs). */
	if (tot.bytes > l.total_bytes || len > l.total_bytes - tot.bytes ||
	    tot.items == UINT64_MAX || tot.next_seq == UINT64_MAX)
		return -ENOSPC;

	s = tot.next_seq;
	tot.next_seq = s + 1;
	tot.items++;
	tot.bytes += len;
	b.items++;		  /* <= box_items, a uint32_t */
	b.bytes += (uint32_t)len; /* <= box_bytes, a uint32_t */

	item_key(ik, mailbox, s);
	iv[0] = REC_VERSION;
	be64_put(iv + 1, expiry_s);
	memcpy(iv + ITEM_HDR_LEN, blob, len);
	if ((r = store_put(t, STORE_TABLE_RELAY, ik, sizeof ik, iv,
			   ITEM_HDR_LEN + len)) < 0)
		return r;
	index_key(xk, expiry_s, mailbox, s);
	if ((r = store_put(t, STORE_TABLE_RELAY, xk, sizeof xk, NULL, 0)) < 0)
		return r;
	box_key(bk, mailbox);
	box_encode(bv, &b);
	if ((r = store_put(t, STORE_TABLE_RELAY, bk, sizeof bk, bv,
			   sizeof bv)) < 0)
		return r;
	if ((r = totals_save(t, &tot)) < 0)
		return r;
	*seq = s;
	return 0;
}

/* ---- Fetch ---- */

struct fetch_ctx {
	const uint8_t *mailbox;
	uint64_t now_s;
	relaystore_item_cb cb;
	void *ctx;
};

/* 1 when key is an item key of mailbox, 0 when it is not of mailbox (the
 * scan has gone past its items), -EBADMSG for a key with the mailbox's
 * prefix but the wrong length: we never write one. */
static int item_of(const uint8_t *key, size_t key_len, const uint8_t *mailbox)
{
	if (key_len < 1 + RELAY_MAILBOX_LEN || key[0] != TAG_ITEM ||
	    memcmp(key + 1, mailbox, RELAY_MAILBOX_LEN) != 0)
		return 0;
	return key_len == ITEM_KEY_LEN ? 1 : -EBADMSG;
}

static int fetch_cb(void *arg, const void *key, size_t key_len, const void *val,
		    size_t val_len)
{
	struct fetch_ctx *fc = arg;
	const uint8_t *blob;
	uint64_t expiry_s;
	size_t blob_len;
	int r;

	if ((r = item_of(key, key_len, fc->mailbox)) <= 0)
		return r < 0 ? r : 1; /* past the mailbox: stop */
	if ((r = relaystore__item_decode(&expiry_s, &blob, &blob_len, val,
					 val_len)) < 0)
		return r;
	if (expiry_s <= fc->now_s)
		return 0; /* expired, not yet swept by relaystore_expire */
	r = fc->cb(fc->ctx,
		   be64_get((const uint8_t *)key + 1 + RELAY_MAILBOX_LEN), blob,
		   blob_len);
	return r > 0 ? 1 : r;
}

int relaystore_fetch(struct store_txn *t,
		     const uint8_t mailbox[static RELAY_MAILBOX_LEN],
		     uint64_t after, uint64_t now_s, relaystore_item_cb cb,
		     void *ctx)
{
	struct fetch_ctx fc = {
		.mailbox = mailbox, .now_s = now_s, .cb = cb, .ctx = ctx};
	uint8_t from[ITEM_KEY_LEN];

	if (t == NULL || cb == NULL)
		return -EINVAL;
	if (after == UINT64_MAX)
		return 0; /* no seq is larger */
	item_key(from, mailbox, after + 1);
	return store_scan(t, STORE_TABLE_RELAY, from, sizeof from, false,
			  fetch_cb, &fc);
}

/* ---- Deleting ---- */

struct upto_ctx {
	const uint8_t *mailbox;
	uint64_t upto;
	struct victim vs[BATCH_MAX];
	size_t n;
};

static int upto_cb(void *arg, const void *key, size_t key_len, const void *val,
		   size_t val_len)
{
	struct upto_ctx *uc = arg;
	struct victim *v = &uc->vs[uc->n];
	const uint8_t *blob;
	uint64_t seq;
	int r;

	if ((r = item_of(key, key_len, uc->mailbox)) <= 0)
		return r < 0 ? r : 1;
	seq = be64_get((const uint8_t *)key + 1 + RELAY_MAILBOX_LEN);
	if (seq > uc->upto)
		return 1;
	if ((r = relaystore__item_decode(&v->expiry_s, &blob, &v->len, val,
					 val_len)) < 0)
		return r;
	memcpy(v->mailbox, uc->mailbox, RELAY_MAILBOX_LEN);
	v->seq = seq;
	return ++uc->n == BATCH_MAX ? 1 : 0;
}

/* Scans the mailbox's items from seq 1 in batches of BATCH_MAX and
 * removes each batch after its scan; the next scan starts past the last
 * seq removed.  A batch that is not full was the last. */
int relaystore_delete_upto(struct store_txn *t,
			   const uint8_t mailbox[static RELAY_MAILBOX_LEN],
			   uint64_t upto, unsigned *deleted)
{
	struct upto_ctx uc;
	uint8_t from[ITEM_KEY_LEN];
	uint64_t next = 1;
	unsigned count = 0;
	int r;

	if (deleted != NULL)
		*deleted = 0;
	if (t == NULL)
		return -EINVAL;
	uc.mailbox = mailbox;
	uc.upto = upto;
	while (next <= upto) {
		uc.n = 0;
		item_key(from, mailbox, next);
		if ((r = store_scan(t, STORE_TABLE_RELAY, from, sizeof from,
				    false, upto_cb, &uc)) < 0)
			return r;
		if ((r = remove_batch(t, uc.vs, uc.n)) < 0)
			return r;
		/* A mailbox holds at most box_items (a uint32_t) items;
		 * stop counting rather than wrap all the same. */
		count = uc.n > UINT_MAX - count ? UINT_MAX
						: count + (unsigned)uc.n;
		if (uc.n < BATCH_MAX || uc.vs[uc.n - 1].seq == UINT64_MAX)
			break;
		next = uc.vs[uc.n - 1].seq + 1;
	}
	if (deleted != NULL)
		*deleted = count;
	return 0;
}

struct expire_ctx {
	uint64_t now_s;
	struct victim vs[BATCH_MAX];
	size_t n, max;
};

static int expire_cb(void *arg, const void *key, size_t key_len,
		     const void *val, size_t val_len)
{
	struct expire_ctx *ec = arg;
	const uint8_t *k = key;
	struct victim *v = &ec->vs[ec->n];
	uint64_t expiry_s;

	(void)val;
	if (k[0] != TAG_INDEX)
		return 1; /* past the index */
	if (key_len != INDEX_KEY_LEN || val_len != 0)
		return -EBADMSG;
	expiry_s = be64_get(k + 1);
	if (expiry_s > ec->now_s)
		return 1;
	v->expiry_s = expiry_s;
	memcpy(v->mailbox, k + 9, RELAY_MAILBOX_LEN);
	v->seq = be64_get(k + 9 + RELAY_MAILBOX_LEN);
	return ++ec->n == ec->max ? 1 : 0;
}

/* Reads a victim's item for its length, and checks that the item agrees
 * with the index entry that named it. */
static int victim_len(struct store_txn *t, struct victim *v)
{
	uint8_t k[ITEM_KEY_LEN], buf[ITEM_HDR_LEN + RELAY_BLOB_MAX];
	const uint8_t *blob;
	uint64_t expiry_s;
	size_t len = 0;
	int r;

	item_key(k, v->mailbox, v->seq);
	r = get_value(t, k, sizeof k, buf, sizeof buf, &len);
	if (r == -ENOENT)
		return -EBADMSG; /* an index entry without its item */
	if (r < 0)
		return r;
	if ((r = relaystore__item_decode(&expiry_s, &blob, &v->len, buf, len)) <
	    0)
		return r;
	return expiry_s == v->expiry_s ? 0 : -EBADMSG;
}

/* Walks the expiry index from its start, in batches of at most BATCH_MAX
 * entries, each scan starting again from the index's (new) first entry:
 * what the previous batch removed is gone. */
int relaystore_expire(struct store_txn *t, uint64_t now_s, unsigned max,
		      unsigned *deleted)
{
	static const uint8_t from[1] = {TAG_INDEX};
	struct expire_ctx ec;
	unsigned count = 0;
	int r;

	if (deleted != NULL)
		*deleted = 0;
	if (t == NULL)
		return -EINVAL;
	ec.now_s = now_s;
	while (count < max) {
		ec.n = 0;
		ec.max = max - count < BATCH_MAX ? max - count : BATCH_MAX;
		if ((r = store_scan(t, STORE_TABLE_RELAY, from, sizeof from,
				    false, expire_cb, &ec)) < 0)
			return r;
		for (size_t i = 0; i < ec.n; i++)
			if ((r = victim_len(t, &ec.vs[i])) < 0)
				return r;
		if ((r = remove_batch(t, ec.vs, ec.n)) < 0)
			return r;
		count += (unsigned)ec.n;
		if (ec.n < ec.max)
			break;
	}
	if (deleted != NULL)
		*deleted = count;
	return 0;
}

/* ---- Stats ---- */

static int count_box_cb(void *arg, const void *key, size_t key_len,
			const void *val, size_t val_len)
{
	uint64_t *n = arg;
	struct relaystore_box b;
	int r;

	if (((const uint8_t *)key)[0] != TAG_BOX)
		return 1;
	if (key_len != BOX_KEY_LEN)
		return -EBADMSG;
	if ((r = relaystore__box_decode(&b, val, val_len)) < 0)
		return r;
	(*n)++;
	return 0;
}

/* items and bytes come from "T"; mailboxes counts the box records, so it
 * costs a scan of them. */
int relaystore_stats(struct store_txn *t, struct relaystore_stats *st)
{
	static const uint8_t from[1] = {TAG_BOX};
	struct relaystore_totals tot;
	uint64_t boxes = 0;
	bool found;
	int r;

	if (t == NULL || st == NULL)
		return -EINVAL;
	memset(st, 0, sizeof *st);
	if ((r = totals_load(t, &tot, &found)) < 0)
		return r;
	if ((r = store_scan(t, STORE_TABLE_RELAY, from, sizeof from, false,
			    count_box_cb, &boxes)) < 0)
		return r;
	st->items = tot.items;
	st->bytes = tot.bytes;
	st->mailboxes = boxes;
	return 0;
}

int relaystore_box(struct store_txn *t,
		   const uint8_t mailbox[static RELAY_MAILBOX_LEN],
		   struct relaystore_box *b)
{
	bool found;

	if (t == NULL || mailbox == NULL || b == NULL)
		return -EINVAL;
	return box_load(t, mailbox, b, &found);
}
