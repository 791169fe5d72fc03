/* relaystore: a relay's mailboxes in the store's RELAY table (see
 * relaystore.h for the keys and values, docs/PROTOCOL-relay.md "At the
 * relay" for the same in prose).
 *
 * Every function runs inside a transaction the caller owns and keeps no
 * state between calls: the totals record "T", the box records "B" and
 * the source records "S" are the only counters, read and written in the
 * same transaction as the items they count, so a commit keeps them in
 * step and an abort leaves all of them as they were.  Each item names its
 * source, so that whatever removes it knows whose record to count it off;
 * items of the unknown source (version 1, from before sources were kept)
 * are counted by "T" and "B" only.  store_write() may run the caller's
 * function again after growing the map; nothing here has effects outside
 * the transaction, so that is harmless.
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
#define ITEM_VERSION_V1 1 /* no source: read, never written */
#define ITEM_VERSION 2

#define TAG_TOTALS 'T'
#define TAG_BOX 'B'
#define TAG_SOURCE 'S'
#define TAG_ITEM 'I'
#define TAG_INDEX 'X'

#define BOX_KEY_LEN (1 + RELAY_MAILBOX_LEN)	      /* 33 */
#define SOURCE_KEY_LEN (1 + RELAYSTORE_SOURCE_LEN)    /* 9 */
#define ITEM_KEY_LEN (1 + RELAY_MAILBOX_LEN + 8)      /* 41 */
#define INDEX_KEY_LEN (1 + 8 + RELAY_MAILBOX_LEN + 8) /* 49 */

#define TOTALS_LEN (1 + 8 + 8 + 8) /* 25 */
#define SOURCE_LEN (1 + 4 + 8)	   /* 13; a box's is 9 */
#define ITEM_V1_HDR_LEN (1 + 8)	   /* 9, then the blob */
#define ITEM_HDR_LEN (1 + 8 + RELAYSTORE_SOURCE_LEN) /* 17, then the blob */

/* Items removed per scan by delete_upto and expire. */
#define BATCH_MAX 64

static const uint8_t totals_key[1] = {TAG_TOTALS};

/* An item about to be deleted. */
struct victim {
	uint8_t mailbox[RELAY_MAILBOX_LEN];
	uint8_t source[RELAYSTORE_SOURCE_LEN];
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
	if (lim->source_bytes == 0)
		lim->source_bytes = RELAYSTORE_SOURCE_BYTES;
}

/* All zero is the unknown source (relaystore.h). */
static bool source_known(const uint8_t *source)
{
	uint8_t any = 0;

	for (size_t i = 0; i < RELAYSTORE_SOURCE_LEN; i++)
		any |= source[i];
	return any != 0;
}

/* ---- Keys ---- */

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

/* A box record ("B", a mailbox's) or a source record ("S"): its key and
 * what it counts.  Either exists exactly while it counts an item.  The
 * two share a layout but for the width of bytes:
 *   version 1 | items 4 (non-zero) | bytes 4 (box) or 8 (source)
 * and bytes is at least items (a blob has a byte at least).  Callers keep
 * the counts within the fields: a box's within box_items and box_bytes
 * (uint32_t), a source's items within UINT32_MAX. */
struct counter {
	enum relaystore_counts_kind kind;
	uint8_t key[BOX_KEY_LEN]; /* the longer of the two keys */
	size_t key_len;
	struct relaystore_counts n;
};

/* c for the record of kind of id (a mailbox ID or a source), counting
 * nothing yet. */
static void counter_init(struct counter *c, enum relaystore_counts_kind kind,
			 const uint8_t *id)
{
	memset(c, 0, sizeof *c);
	c->kind = kind;
	switch (kind) {
	case RELAYSTORE_COUNTS_BOX:
		c->key[0] = TAG_BOX;
		c->key_len = BOX_KEY_LEN;
		break;
	case RELAYSTORE_COUNTS_SOURCE:
		c->key[0] = TAG_SOURCE;
		c->key_len = SOURCE_KEY_LEN;
		break;
	}
	memcpy(c->key + 1, id, c->key_len - 1);
}

/* The width of the bytes field of a kind of record. */
static size_t counts_bytes_len(enum relaystore_counts_kind kind)
{
	switch (kind) {
	case RELAYSTORE_COUNTS_BOX:
		return 4;
	case RELAYSTORE_COUNTS_SOURCE:
		return 8;
	}
	return 8; /* not reached */
}

int relaystore__counts_decode(struct relaystore_counts *c,
			      enum relaystore_counts_kind kind,
			      const uint8_t *v, size_t len)
{
	size_t bytes_len = counts_bytes_len(kind);
	uint64_t items, bytes;

	if (len != 1 + 4 + bytes_len || v[0] != REC_VERSION)
		return -EBADMSG;
	items = be32_get(v + 1);
	bytes = bytes_len == 4 ? be32_get(v + 5) : be64_get(v + 5);
	if (items == 0 || bytes < items)
		return -EBADMSG;
	c->items = items;
	c->bytes = bytes;
	return 0;
}

/* Encodes what c counts as its kind of record; returns the length. */
static size_t counts_encode(uint8_t v[SOURCE_LEN], const struct counter *c)
{
	size_t bytes_len = counts_bytes_len(c->kind);

	v[0] = REC_VERSION;
	be32_put(v + 1, (uint32_t)c->n.items);
	if (bytes_len == 4)
		be32_put(v + 5, (uint32_t)c->n.bytes);
	else
		be64_put(v + 5, c->n.bytes);
	return 1 + 4 + bytes_len;
}

/* Version 2 names its source, which must be a known one (we never write
 * the unknown source, so that every item has one encoding); version 1
 * has none, and reads as the unknown source. */
int relaystore__item_decode(struct relaystore_item *it, const uint8_t *v,
			    size_t len)
{
	size_t hdr;

	if (len == 0)
		return -EBADMSG;
	if (v[0] == ITEM_VERSION)
		hdr = ITEM_HDR_LEN;
	else if (v[0] == ITEM_VERSION_V1)
		hdr = ITEM_V1_HDR_LEN;
	else
		return -EBADMSG;
	if (len < hdr + 1 || len > hdr + RELAY_BLOB_MAX)
		return -EBADMSG;
	if (v[0] == ITEM_VERSION && !source_known(v + ITEM_V1_HDR_LEN))
		return -EBADMSG;
	it->expiry_s = be64_get(v + 1);
	if (v[0] == ITEM_VERSION)
		memcpy(it->source, v + ITEM_V1_HDR_LEN, RELAYSTORE_SOURCE_LEN);
	else
		memset(it->source, 0, RELAYSTORE_SOURCE_LEN);
	it->blob = v + hdr;
	it->blob_len = len - hdr;
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

/* Reads c's record; an absent one counts nothing. */
static int counter_load(struct store_txn *t, struct counter *c)
{
	uint8_t v[SOURCE_LEN]; /* the longer of the two values */
	size_t len = 0;
	int r;

	c->n.items = 0;
	c->n.bytes = 0;
	r = get_value(t, c->key, c->key_len, v, sizeof v, &len);
	if (r == -ENOENT)
		return 0;
	return r < 0 ? r : relaystore__counts_decode(&c->n, c->kind, v, len);
}

/* Writes c's record, or deletes it when it counts no item.  Bytes left
 * over with no item, or fewer bytes than items, mean the records disagree
 * with the items: -EBADMSG. */
static int counter_save(struct store_txn *t, const struct counter *c)
{
	uint8_t v[SOURCE_LEN];
	size_t len;

	if (c->n.items == 0 && c->n.bytes == 0)
		return store_del(t, STORE_TABLE_RELAY, c->key, c->key_len);
	if (c->n.items == 0 || c->n.bytes < c->n.items)
		return -EBADMSG;
	len = counts_encode(v, c);
	return store_put(t, STORE_TABLE_RELAY, c->key, c->key_len, v, len);
}

/* Takes items and bytes off c's record (read here), deleting it when no
 * item is left.  Counts that would go below zero (a record missing counts
 * zero) mean the records disagree with the items: -EBADMSG. */
static int counter_sub(struct store_txn *t, struct counter *c, uint64_t items,
		       uint64_t bytes)
{
	int r;

	if ((r = counter_load(t, c)) < 0)
		return r;
	if (items > c->n.items || bytes > c->n.bytes)
		return -EBADMSG;
	c->n.items -= items;
	c->n.bytes -= bytes;
	return counter_save(t, c);
}

/* What one batch takes off each source. */
struct source_sum {
	uint8_t source[RELAYSTORE_SOURCE_LEN];
	uint64_t items, bytes;
};

/* Takes each sum off its source's record. */
static int sources_sub(struct store_txn *t, const struct source_sum *sums,
		       size_t n)
{
	struct counter c;
	int r;

	for (size_t i = 0; i < n; i++) {
		counter_init(&c, RELAYSTORE_COUNTS_SOURCE, sums[i].source);
		if ((r = counter_sub(t, &c, sums[i].items, sums[i].bytes)) < 0)
			return r;
	}
	return 0;
}

/* Adds a victim to the sums of its source; the unknown source (version 1
 * items) is counted against no one.  sums holds room for a batch. */
static void source_add(struct source_sum *sums, size_t *n,
		       const struct victim *v)
{
	size_t i;

	if (!source_known(v->source))
		return;
	for (i = 0; i < *n; i++)
		if (memcmp(sums[i].source, v->source, RELAYSTORE_SOURCE_LEN) ==
		    0)
			break;
	if (i == *n) {
		memcpy(sums[i].source, v->source, RELAYSTORE_SOURCE_LEN);
		sums[i].items = 0;
		sums[i].bytes = 0;
		(*n)++;
	}
	sums[i].items++;
	sums[i].bytes += v->len;
}

/* Takes items and bytes off the totals record (same rules as counter_sub).
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
 * the counters (box, source, totals).  A missing item or index entry is a
 * broken store: -EBADMSG. */
static int remove_batch(struct store_txn *t, const struct victim *vs, size_t n)
{
	uint8_t ik[ITEM_KEY_LEN], xk[INDEX_KEY_LEN];
	uint64_t run_items = 0, run_bytes = 0, all_bytes = 0;
	struct source_sum sums[BATCH_MAX]; /* n <= BATCH_MAX */
	size_t nsums = 0;
	struct counter box;
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
		source_add(sums, &nsums, &vs[i]);
		/* One box update per run of the same mailbox. */
		if (i + 1 == n || memcmp(vs[i + 1].mailbox, vs[i].mailbox,
					 RELAY_MAILBOX_LEN) != 0) {
			counter_init(&box, RELAYSTORE_COUNTS_BOX,
				     vs[i].mailbox);
			r = counter_sub(t, &box, run_items, run_bytes);
			if (r < 0)
				return r;
			run_items = 0;
			run_bytes = 0;
		}
	}
	if (n == 0)
		return 0;
	if ((r = sources_sub(t, sums, nsums)) < 0)
		return r;
	return totals_sub(t, n, all_bytes);
}

/* ---- Deposit ---- */

/* Checks the limits against the counters, then writes the item, its index
 * entry and the three counters.  Nothing is written before every check
 * has passed, so a refusal leaves the transaction as it was. */
int relaystore_deposit(struct store_txn *t, const struct relaystore_limits *lim,
		       const uint8_t mailbox[static RELAY_MAILBOX_LEN],
		       const uint8_t source[static RELAYSTORE_SOURCE_LEN],
		       const uint8_t *blob, size_t len, uint64_t now_s,
		       uint64_t *seq)
{
	struct relaystore_limits l;
	struct relaystore_totals tot;
	struct counter box, src;
	uint8_t ik[ITEM_KEY_LEN], xk[INDEX_KEY_LEN];
	uint8_t iv[ITEM_HDR_LEN + RELAY_BLOB_MAX];
	uint64_t expiry_s, s;
	bool found;
	int r;

	if (seq != NULL)
		*seq = 0;
	if (t == NULL || lim == NULL || source == NULL || blob == NULL ||
	    seq == NULL || len == 0 || len > RELAY_BLOB_MAX ||
	    !source_known(source))
		return -EINVAL;
	l = *lim;
	relaystore_limits_default(&l);
	/* An expiry past the end of time is the end of time. */
	expiry_s = now_s > UINT64_MAX - l.ttl_s ? UINT64_MAX : now_s + l.ttl_s;

	counter_init(&box, RELAYSTORE_COUNTS_BOX, mailbox);
	counter_init(&src, RELAYSTORE_COUNTS_SOURCE, source);
	if ((r = totals_load(t, &tot, &found)) < 0 ||
	    (r = counter_load(t, &box)) < 0 || (r = counter_load(t, &src)) < 0)
		return r;
	/* The mailbox's limits: -EDQUOT.  (Both counts come from uint32_t
	 * fields: no overflow here.) */
	if (box.n.items + 1 > l.box_items || box.n.bytes + len > l.box_bytes)
		return -EDQUOT;
	/* The source's quota: -EUSERS, also for a count at its end. */
	if (src.n.bytes > l.source_bytes ||
	    len > l.source_bytes - src.n.bytes || src.n.items >= UINT32_MAX)
		return -EUSERS;
	/* The relay's: -ENOSPC, also for counters at their end (not reached
	 * in practice, but a wrapped counter would reuse seqs). */
	if (tot.bytes > l.total_bytes || len > l.total_bytes - tot.bytes ||
	    tot.items == UINT64_MAX || tot.next_seq == UINT64_MAX)
		return -ENOSPC;

	s = tot.next_seq;
	tot.next_seq = s + 1;
	tot.items++;
	tot.bytes += len;
	box.n.items++;	    /* <= box_items, a uint32_t */
	box.n.bytes += len; /* <= box_bytes, a uint32_t */
	src.n.items++;	    /* <= UINT32_MAX */
	src.n.bytes += len; /* <= source_bytes */

	item_key(ik, mailbox, s);
	iv[0] = ITEM_VERSION;
	be64_put(iv + 1, expiry_s);
	memcpy(iv + ITEM_V1_HDR_LEN, source, RELAYSTORE_SOURCE_LEN);
	memcpy(iv + ITEM_HDR_LEN, blob, len);
	if ((r = store_put(t, STORE_TABLE_RELAY, ik, sizeof ik, iv,
			   ITEM_HDR_LEN + len)) < 0)
		return r;
	index_key(xk, expiry_s, mailbox, s);
	if ((r = store_put(t, STORE_TABLE_RELAY, xk, sizeof xk, NULL, 0)) < 0)
		return r;
	if ((r = counter_save(t, &box)) < 0 || (r = counter_save(t, &src)) < 0)
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
	struct relaystore_item it;
	int r;

	if ((r = item_of(key, key_len, fc->mailbox)) <= 0)
		return r < 0 ? r : 1; /* past the mailbox: stop */
	if ((r = relaystore__item_decode(&it, val, val_len)) < 0)
		return r;
	if (it.expiry_s <= fc->now_s)
		return 0; /* expired, not yet swept by relaystore_expire */
	r = fc->cb(fc->ctx,
		   be64_get((const uint8_t *)key + 1 + RELAY_MAILBOX_LEN),
		   it.blob, it.blob_len);
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
	struct relaystore_item it;
	uint64_t seq;
	int r;

	if ((r = item_of(key, key_len, uc->mailbox)) <= 0)
		return r < 0 ? r : 1;
	seq = be64_get((const uint8_t *)key + 1 + RELAY_MAILBOX_LEN);
	if (seq > uc->upto)
		return 1;
	if ((r = relaystore__item_decode(&it, val, val_len)) < 0)
		return r;
	v->expiry_s = it.expiry_s;
	v->len = it.blob_len;
	memcpy(v->source, it.source, RELAYSTORE_SOURCE_LEN);
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

/* Reads a victim's item for its length and source, and checks that the
 * item agrees with the index entry that named it. */
static int victim_read(struct store_txn *t, struct victim *v)
{
	uint8_t k[ITEM_KEY_LEN], buf[ITEM_HDR_LEN + RELAY_BLOB_MAX];
	struct relaystore_item it;
	size_t len = 0;
	int r;

	item_key(k, v->mailbox, v->seq);
	r = get_value(t, k, sizeof k, buf, sizeof buf, &len);
	if (r == -ENOENT)
		return -EBADMSG; /* an index entry without its item */
	if (r < 0)
		return r;
	if ((r = relaystore__item_decode(&it, buf, len)) < 0)
		return r;
	if (it.expiry_s != v->expiry_s)
		return -EBADMSG;
	v->len = it.blob_len;
	memcpy(v->source, it.source, RELAYSTORE_SOURCE_LEN);
	return 0;
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
			if ((r = victim_read(t, &ec.vs[i])) < 0)
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
	struct relaystore_counts b;
	int r;

	if (((const uint8_t *)key)[0] != TAG_BOX)
		return 1;
	if (key_len != BOX_KEY_LEN)
		return -EBADMSG;
	if ((r = relaystore__counts_decode(&b, RELAYSTORE_COUNTS_BOX, val,
					   val_len)) < 0)
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
	struct counter c;
	int r;

	if (t == NULL || mailbox == NULL || b == NULL)
		return -EINVAL;
	counter_init(&c, RELAYSTORE_COUNTS_BOX, mailbox);
	if ((r = counter_load(t, &c)) < 0)
		return r;
	b->items = (uint32_t)c.n.items; /* a box's counts are uint32_t */
	b->bytes = (uint32_t)c.n.bytes;
	return 0;
}
