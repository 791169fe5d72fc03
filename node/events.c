/* Event log over store/: key = seq as 8 big-endian bytes (so LMDB's key
 * order is seq order), value = type NUL json sealed at rest (below, and
 * docs/PROTOCOL-store.md "EVENTS").  The newest number is the
 * log's last key, or META's "events.last" if that is higher: the single
 * appends (events_append) write it so that numbering survives a log
 * pruned empty; appends in a batch leave it (an append prunes only older
 * events than its own, so the batch's last key stays).  Appends prune in
 * the same transaction, so the log never holds more than max_keep. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/cx.h"
#include "crypto/keys.h"
#include "crypto/prim.h"
#include "node/bytes.h"
#include "node/events.h"
#include "node/jsonw.h"

static const char meta_last[] = "events.last";
/* Present once every event is sealed (events_open then skips the scan). */
static const char meta_sealed[] = "events.sealed";

/* Sealed value: version (1) = 0x01 || nonce (24) || XChaCha20-Poly1305(
 * events key, nonce, ad = "parley event v1" || seq (8, big-endian),
 * pt = type NUL json).  DESIGN.md section 3: "stored message bodies
 * encrypted with a key derived from it (crypto_kdf), so a copied database
 * alone reveals no content"; message.received events carry bodies and
 * contact.request events names and greetings, so every event is sealed.
 * The seq in the associated data keeps a value from being moved to
 * another seq.  One type is stored as it is (type NUL json): message.status
 * says which message moved to which status, which the MESSAGES table
 * already keeps in its clear header (docs/PROTOCOL-store.md), and it is
 * the one event of every message sent, so sealing it would cost a sender
 * a seal per status change for nothing.  A value written before sealing
 * (it starts with a type's first character, never 0x01) is sealed in
 * place by events_open unless its type is that one; any other unsealed
 * value is refused by the reader. */
#define SEAL_VERSION 0x01
/* A message.received event whose body stays in the history (see struct
 * events_ref): 0x02 || nonce (24) || XChaCha20-Poly1305(events key,
 * nonce, ad = "parley event v2" || seq (8), pt = peer (32) || msg seq
 * (8) || msg id (16) || body_at (4, big-endian) || type NUL json'), json'
 * being the event's json without the body's string value, which goes at
 * offset body_at of (type NUL json'), right after "body":. */
#define REF_VERSION 0x02
#define REF_HDR (32 + 8 + 16 + 4)
static const char body_key[] = "\"body\":";
#define BODY_KEY_LEN (sizeof body_key - 1)
static const char body_omitted[] = "\"body_omitted\":true";
#define SEAL_HDR (1 + CX_XCHACHA_NONCE_LEN)
#define SEAL_OVERHEAD (SEAL_HDR + CX_AEAD_TAG_LEN)
#define EVENTS_CTX "eventlg1" /* cx_store_subkey context, 8 chars */
static const char seal_ad_label[] = "parley event v1";
static const char ref_ad_label[] = "parley event v2"; /* same length */
#define SEAL_AD_LEN (sizeof seal_ad_label - 1 + 8)
/* The largest plaintext format_event() makes. */
#define PT_MAX (EVENTS_TYPE_MAX + 1 + EVENTS_DATA_MAX + 128)

static const char clear_type[] = "message.status";

/* Whether a value that starts with type NUL may be stored as it is. */
static bool stored_clear(const void *val, size_t len)
{
	return len > sizeof clear_type &&
	       memcmp(val, clear_type, sizeof clear_type) == 0;
}

static void seal_ad(uint8_t ad[SEAL_AD_LEN], uint64_t seq, uint8_t version)
{
	_Static_assert(sizeof seal_ad_label == sizeof ref_ad_label,
		       "both labels make SEAL_AD_LEN");
	memcpy(ad, version == REF_VERSION ? ref_ad_label : seal_ad_label,
	       sizeof seal_ad_label - 1);
	be64_put(ad + sizeof seal_ad_label - 1, seq);
}

/* Seals pt (pt_len bytes) for seq into a fresh malloc'd *out, as a value
 * of the given version (SEAL_VERSION, or REF_VERSION when pt starts with
 * the reference header). */
static int seal_value_v(const struct events *ev, uint64_t seq,
			uint8_t version, const uint8_t *pt, size_t pt_len,
			uint8_t **out, size_t *out_len)
{
	uint8_t ad[SEAL_AD_LEN], *v;
	size_t n = SEAL_OVERHEAD + pt_len;
	int r;

	if ((v = malloc(n)) == NULL)
		return -ENOMEM;
	v[0] = version;
	rng_fill(ev->rng, v + 1, CX_XCHACHA_NONCE_LEN);
	seal_ad(ad, seq, version);
	if ((r = cx_xchacha_seal(v + SEAL_HDR, n - SEAL_HDR, pt, pt_len, ad,
				 sizeof ad, v + 1, ev->key)) < 0) {
		free(v);
		return r;
	}
	*out = v;
	*out_len = n;
	return 0;
}

static int seal_value(const struct events *ev, uint64_t seq,
		      const uint8_t *pt, size_t pt_len, uint8_t **out,
		      size_t *out_len)
{
	return seal_value_v(ev, seq, SEAL_VERSION, pt, pt_len, out, out_len);
}

/* Opens the value stored under seq into ev->buf: *pt and *pt_len then
 * name type NUL json, or for a *version of REF_VERSION the reference
 * header and type NUL json'.  -EBADMSG for a value that is not a sealed
 * event, -EKEYREJECTED for one that does not authenticate. */
static int open_value(struct events *ev, uint64_t seq, const uint8_t *val,
		      size_t val_len, const char **pt, size_t *pt_len,
		      uint8_t *version)
{
	uint8_t ad[SEAL_AD_LEN];
	size_t n;
	int r;

	if (stored_clear(val, val_len)) {
		/* Unsealed, so checked: what format_event makes of a
		 * message.status is printable ASCII (hex, base32, names,
		 * digits) and names its own seq first. */
		char head[40];
		size_t hl = (size_t)snprintf(head, sizeof head, "{\"seq\":%llu,",
					     (unsigned long long)seq);
		const uint8_t *json = val + sizeof clear_type;
		size_t jl = val_len - sizeof clear_type;

		for (size_t i = 0; i < jl; i++)
			if (json[i] < 0x20 || json[i] > 0x7e)
				return -EBADMSG;
		if (jl < hl || memcmp(json, head, hl) != 0)
			return -EBADMSG;
		*pt = (const char *)val;
		*pt_len = val_len;
		*version = 0;
		return 0;
	}
	if (val_len < SEAL_OVERHEAD ||
	    (val[0] != SEAL_VERSION && val[0] != REF_VERSION) ||
	    val_len - SEAL_OVERHEAD > PT_MAX + REF_HDR)
		return -EBADMSG;
	n = val_len - SEAL_OVERHEAD;
	if (n + 1 > ev->buf_cap) {
		uint8_t *b = malloc(n + 1);

		if (b == NULL)
			return -ENOMEM;
		if (ev->buf != NULL)
			cx_wipe(ev->buf, ev->buf_cap);
		free(ev->buf);
		ev->buf = b;
		ev->buf_cap = n + 1;
	}
	seal_ad(ad, seq, val[0]);
	if ((r = cx_xchacha_open(ev->buf, ev->buf_cap, val + SEAL_HDR,
				 val_len - SEAL_HDR, ad, sizeof ad, val + 1,
				 ev->key)) < 0)
		return r == -E2BIG ? -EBADMSG : r;
	ev->buf[n] = 0;
	*pt = (const char *)ev->buf;
	*pt_len = n;
	*version = val[0];
	return 0;
}

static int first_key_cb(void *ctx, const void *key, size_t key_len,
			const void *val, size_t val_len)
{
	(void)val;
	(void)val_len;
	if (key_len != 8)
		return -EBADMSG;
	*(uint64_t *)ctx = be64_get(key);
	return 1;
}

struct bounds {
	uint64_t first, last;
};

static int read_bounds(struct store_txn *t, void *ctx)
{
	struct bounds *b = ctx;
	uint8_t buf[8];
	size_t len = 0;
	uint64_t first = 0;
	int r;

	r = store_get(t, STORE_TABLE_META, meta_last, sizeof meta_last - 1,
		      buf, sizeof buf, &len);
	if (r == -ENOENT) {
		b->last = 0;
	} else if (r < 0) {
		return r;
	} else if (len != 8) {
		return -EBADMSG;
	} else {
		b->last = be64_get(buf);
	}
	r = store_scan(t, STORE_TABLE_EVENTS, NULL, 0, false, first_key_cb,
		       &first);
	if (r < 0)
		return r;
	if (first != 0) {
		uint64_t last = 0;

		r = store_scan(t, STORE_TABLE_EVENTS, NULL, 0, true,
			       first_key_cb, &last);
		if (r < 0)
			return r;
		if (last > b->last)
			b->last = last;
	}
	b->first = first != 0 ? first : b->last + 1;
	return 0;
}

/* Seals, in one transaction, up to MIGRATE_BATCH values still stored as
 * plaintext (written before events were sealed). */
#define MIGRATE_BATCH 1024

struct migrate {
	struct events *ev;
	uint64_t from; /* the next seq to look at */
	uint64_t keys[MIGRATE_BATCH];
	unsigned n;
	bool more;
};

static int migrate_find_cb(void *ctx, const void *key, size_t key_len,
			   const void *val, size_t val_len)
{
	struct migrate *m = ctx;

	if (key_len != 8)
		return -EBADMSG;
	m->from = be64_get(key) + 1;
	if ((val_len > 0 && (((const uint8_t *)val)[0] == SEAL_VERSION ||
			     ((const uint8_t *)val)[0] == REF_VERSION)) ||
	    stored_clear(val, val_len))
		return 0;
	if (m->n == MIGRATE_BATCH) {
		m->more = true;
		return 1;
	}
	m->keys[m->n++] = be64_get(key);
	return 0;
}

static int migrate_txn(struct store_txn *t, void *ctx)
{
	struct migrate *m = ctx;
	uint8_t from[8];
	int r;

	m->n = 0;
	m->more = false;
	be64_put(from, m->from);
	if ((r = store_scan(t, STORE_TABLE_EVENTS, from, 8, false,
			    migrate_find_cb, m)) < 0)
		return r;
	for (unsigned i = 0; i < m->n; i++) {
		uint8_t key[8], *pt = NULL, *sealed = NULL;
		size_t len = 0, slen = 0;

		be64_put(key, m->keys[i]);
		r = store_get_alloc(t, STORE_TABLE_EVENTS, key, 8, &pt, &len);
		if (r == 0 && (len == 0 || memchr(pt, 0, len) == NULL))
			r = -EBADMSG; /* neither sealed nor type NUL json */
		if (r == 0)
			r = seal_value(m->ev, m->keys[i], pt, len, &sealed,
				       &slen);
		if (r == 0)
			r = store_put(t, STORE_TABLE_EVENTS, key, 8, sealed,
				      slen);
		if (pt != NULL)
			cx_wipe(pt, len);
		free(pt);
		free(sealed);
		if (r == -EBADMSG) /* left: the reader reports it */
			r = 0;
		if (r < 0)
			return r;
	}
	if (m->more)
		return 0;
	return store_put(t, STORE_TABLE_META, meta_sealed,
			 sizeof meta_sealed - 1, "\x01", 1);
}

static int sealed_get(struct store_txn *t, void *ctx)
{
	uint8_t v[1];
	size_t len = 0;
	int r = store_get(t, STORE_TABLE_META, meta_sealed,
			  sizeof meta_sealed - 1, v, sizeof v, &len);

	*(bool *)ctx = r == 0;
	return r == -ENOENT || r == -E2BIG ? 0 : r;
}

/* ---- the newest events in memory ---- */

static void mem_free_one(struct events_mem *m)
{
	if (m->pt != NULL)
		cx_wipe(m->pt, m->len);
	free(m->pt);
	m->pt = NULL;
}

static void mem_clear(struct events *ev)
{
	for (unsigned i = 0; i < ev->mem_n; i++)
		mem_free_one(&ev->mem[(ev->mem_head + i) % EVENTS_MEM_MAX]);
	ev->mem_head = ev->mem_n = 0;
	ev->mem_bytes = 0;
}

static void pend_clear(struct events *ev)
{
	for (unsigned i = 0; i < ev->pend_n; i++)
		mem_free_one(&ev->pend[i]);
	ev->pend_n = 0;
}

/* Keeps pt (owned from now on) as the newest event seq. */
static void mem_add(struct events *ev, uint64_t seq, char *pt, size_t len)
{
	struct events_mem *m;

	if (ev->mem == NULL || len > EVENTS_MEM_BYTES) {
		cx_wipe(pt, len);
		free(pt);
		mem_clear(ev); /* the run would have a hole */
		return;
	}
	if (ev->mem_n > 0 &&
	    ev->mem[(ev->mem_head + ev->mem_n - 1) % EVENTS_MEM_MAX].seq + 1 !=
		    seq)
		mem_clear(ev);
	while (ev->mem_n > 0 && (ev->mem_n == EVENTS_MEM_MAX ||
				 ev->mem_bytes + len > EVENTS_MEM_BYTES)) {
		m = &ev->mem[ev->mem_head];
		ev->mem_bytes -= m->len;
		mem_free_one(m);
		ev->mem_head = (ev->mem_head + 1) % EVENTS_MEM_MAX;
		ev->mem_n--;
	}
	m = &ev->mem[(ev->mem_head + ev->mem_n) % EVENTS_MEM_MAX];
	m->seq = seq;
	m->pt = pt;
	m->len = len;
	ev->mem_n++;
	ev->mem_bytes += len;
}

/* Passes events after `after` from memory when memory holds the next
 * one; -ENOENT when it does not (read the store). */
static int mem_read(struct events *ev, uint64_t after, size_t max_n,
		    events_cb cb, void *ctx)
{
	uint64_t oldest;
	size_t n = 0;

	if (ev->mem_n == 0)
		return -ENOENT;
	oldest = ev->mem[ev->mem_head].seq;
	if (after + 1 < oldest || after + 1 >= oldest + ev->mem_n)
		return -ENOENT;
	for (uint64_t s = after + 1; s < oldest + ev->mem_n && n < max_n;
	     s++) {
		const struct events_mem *m =
			&ev->mem[(ev->mem_head + (s - oldest)) %
				 EVENTS_MEM_MAX];
		size_t tl = strlen(m->pt);
		int r;

		r = cb(ctx, s, m->pt, m->pt + tl + 1, m->len - tl - 1);
		n++;
		if (r < 0)
			return r;
		if (r > 0)
			break;
	}
	return (int)n;
}

int events_open(struct events *ev, struct store *s, uint64_t max_keep,
		const struct cx_identity *id, const struct rng *rng)
{
	struct bounds b = {0, 0};
	struct migrate *m;
	bool done = false;
	int r;

	memset(ev, 0, sizeof *ev);
	ev->store = s;
	ev->rng = rng;
	ev->max_keep = max_keep > 0 ? max_keep : 1;
	if (id == NULL || rng == NULL)
		return -EINVAL;
	if ((ev->key = cx_secret_alloc(CX_KEY_LEN)) == NULL ||
	    (ev->mem = calloc(EVENTS_MEM_MAX, sizeof *ev->mem)) == NULL) {
		r = -ENOMEM;
		goto fail;
	}
	if ((r = cx_store_subkey(ev->key, id, 1, EVENTS_CTX)) < 0)
		goto fail;
	if ((r = store_read(s, read_bounds, &b)) < 0)
		goto fail;
	ev->first_seq = b.first;
	ev->last_seq = b.last;
	if ((r = store_read(s, sealed_get, &done)) < 0)
		goto fail;
	if (done)
		return 0;
	if ((m = calloc(1, sizeof *m)) == NULL) {
		r = -ENOMEM;
		goto fail;
	}
	m->ev = ev;
	m->from = 1;
	do {
		r = store_write(s, migrate_txn, m);
	} while (r == 0 && m->more);
	free(m);
	if (r == 0)
		return 0;
fail:
	events_close(ev);
	return r;
}

void events_set_body_fn(struct events *ev, events_body_fn fn, void *ctx)
{
	ev->body_fn = fn;
	ev->body_ctx = ctx;
}

void events_close(struct events *ev)
{
	if (ev->mem != NULL)
		mem_clear(ev);
	free(ev->mem);
	ev->mem = NULL;
	pend_clear(ev);
	free(ev->pend);
	ev->pend = NULL;
	ev->pend_cap = 0;
	cx_secret_free(ev->key);
	ev->key = NULL;
	if (ev->buf != NULL)
		cx_wipe(ev->buf, ev->buf_cap);
	free(ev->buf);
	ev->buf = NULL;
	ev->buf_cap = 0;
}

struct append {
	struct events *ev;
	uint64_t seq;
	const uint8_t *val; /* sealed */
	size_t val_len;
	uint64_t new_first;
	bool meta; /* write META's events.last too */
};

static int append_txn(struct store_txn *t, void *ctx)
{
	struct append *a = ctx;
	uint8_t key[8];
	uint64_t first = a->ev->first_seq;
	int r;

	be64_put(key, a->seq);
	if ((r = store_put(t, STORE_TABLE_EVENTS, key, 8, a->val,
			   a->val_len)) < 0)
		return r;
	if (a->meta && (r = store_put(t, STORE_TABLE_META, meta_last,
				      sizeof meta_last - 1, key, 8)) < 0)
		return r;
	/* Prune so that at most max_keep remain: seqs first..seq. */
	while (a->seq - first + 1 > a->ev->max_keep) {
		be64_put(key, first);
		r = store_del(t, STORE_TABLE_EVENTS, key, 8);
		if (r < 0 && r != -ENOENT)
			return r;
		first++;
	}
	a->new_first = first;
	return 0;
}

static bool type_ok(const char *type)
{
	size_t n = strlen(type);

	if (n == 0 || n >= EVENTS_TYPE_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = type[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_'))
			return false;
	}
	return true;
}

/* Makes the stored value of event seq: type NUL json, the json being
 * {"seq":N,"type":"T","at":MS,"data":DATA} (written with jsonw, no
 * snprintf on this path), sealed.  0, -EINVAL, -E2BIG or -ENOMEM; *val
 * and the plaintext *pt_out are malloc'd. */
/* The stored value of an event whose body stays in the history: pt
 * without the body's string (see REF_VERSION), sealed. */
static int seal_ref(const struct events *ev, uint64_t seq, const char *pt,
		    size_t len, size_t data_at, size_t data_len,
		    const struct events_ref *ref, uint8_t **val,
		    size_t *val_len)
{
	size_t at = data_at + ref->body_at, sl;
	uint8_t *sp;
	int r;

	if (ref->body_at < BODY_KEY_LEN || ref->body_len < 2 ||
	    ref->body_at + ref->body_len > data_len ||
	    memcmp(pt + at - BODY_KEY_LEN, body_key, BODY_KEY_LEN) != 0 ||
	    pt[at] != '"' || pt[at + ref->body_len - 1] != '"' ||
	    at > UINT32_MAX)
		return -EINVAL;
	sl = REF_HDR + len - ref->body_len;
	if ((sp = malloc(sl)) == NULL)
		return -ENOMEM;
	memcpy(sp, ref->peer, 32);
	be64_put(sp + 32, ref->seq);
	memcpy(sp + 40, ref->id, 16);
	be32_put(sp + 56, (uint32_t)at);
	memcpy(sp + REF_HDR, pt, at);
	memcpy(sp + REF_HDR + at, pt + at + ref->body_len,
	       len - at - ref->body_len);
	r = seal_value_v(ev, seq, REF_VERSION, sp, sl, val, val_len);
	cx_wipe(sp, sl);
	free(sp);
	return r;
}

static int format_event(const struct events *ev, uint64_t seq,
			uint64_t at_ms, const char *type,
			const char *data_json, const struct events_ref *ref,
			uint8_t **val, size_t *val_len, char **pt_out,
			size_t *pt_len)
{
	size_t type_len, data_len, len;
	struct jw w;
	char *pt;
	int err;

	if (!type_ok(type))
		return -EINVAL;
	data_len = strlen(data_json);
	if (data_len > EVENTS_DATA_MAX)
		return -E2BIG;
	type_len = strlen(type);
	jw_init(&w, type_len + 1 + data_len + 128);
	jw_raw(&w, type, type_len + 1); /* with its NUL */
	jw_lit(&w, "{\"seq\":");
	jw_u64(&w, seq);
	jw_lit(&w, ",\"type\":\"");
	jw_raw(&w, type, type_len); /* type_ok: nothing to escape */
	jw_lit(&w, "\",\"at\":");
	jw_u64(&w, at_ms);
	jw_lit(&w, ",\"data\":");
	jw_raw(&w, data_json, data_len);
	jw_lit(&w, "}");
	len = w.len;
	if ((pt = jw_finish(&w, &err)) == NULL)
		return err < 0 ? err : -ENOMEM;
	if (ref != NULL && !stored_clear(pt, len)) {
		/* the data is the last thing before the closing brace */
		err = seal_ref(ev, seq, pt, len, len - 1 - data_len, data_len,
			       ref, val, val_len);
	} else if (stored_clear(pt, len)) {
		*val = malloc(len);
		err = *val != NULL ? 0 : -ENOMEM;
		if (err == 0) {
			memcpy(*val, pt, len);
			*val_len = len;
		}
	} else {
		err = seal_value(ev, seq, (const uint8_t *)pt, len, val,
				 val_len);
	}
	if (err < 0) {
		cx_wipe(pt, len);
		free(pt);
		return err;
	}
	*pt_out = pt;
	*pt_len = len;
	return 0;
}

int events_append(struct events *ev, uint64_t at_ms, const char *type,
		  const char *data_json, uint64_t *seq_out)
{
	struct append a = {.ev = ev, .meta = true};
	uint8_t *val = NULL;
	char *pt = NULL;
	size_t pt_len = 0;
	int r;

	a.seq = ev->last_seq + 1;
	if ((r = format_event(ev, a.seq, at_ms, type, data_json, NULL, &val,
			      &a.val_len, &pt, &pt_len)) < 0)
		return r;
	a.val = val;
	r = store_write(ev->store, append_txn, &a);
	free(val);
	if (r < 0) {
		cx_wipe(pt, pt_len);
		free(pt);
		return r;
	}
	mem_add(ev, a.seq, pt, pt_len);
	ev->last_seq = a.seq;
	ev->first_seq = a.new_first;
	if (seq_out != NULL)
		*seq_out = a.seq;
	return 0;
}

void events_batch_begin(struct events *ev, struct events_batch *b)
{
	pend_clear(ev); /* a failed or repeated transaction's */
	b->last_seq = ev->last_seq;
	b->first_seq = ev->first_seq;
	b->appended = 0;
}

int events_append_txn(struct events *ev, struct store_txn *t,
		      struct events_batch *b, uint64_t at_ms, const char *type,
		      const char *data_json)
{
	return events_append_ref_txn(ev, t, b, at_ms, type, data_json, NULL);
}

int events_append_ref_txn(struct events *ev, struct store_txn *t,
			  struct events_batch *b, uint64_t at_ms,
			  const char *type, const char *data_json,
			  const struct events_ref *ref)
{
	struct append a = {.ev = ev};
	struct events shadow = *ev;
	uint8_t *val = NULL;
	char *pt = NULL;
	size_t pt_len = 0;
	int r;

	a.seq = b->last_seq + 1;
	if (ev->pend_n == ev->pend_cap) {
		unsigned cap = ev->pend_cap ? 2 * ev->pend_cap : 64;
		struct events_mem *np = realloc(ev->pend, cap * sizeof *np);

		if (np == NULL)
			return -ENOMEM;
		ev->pend = np;
		ev->pend_cap = cap;
	}
	if ((r = format_event(ev, a.seq, at_ms, type, data_json, ref, &val,
			      &a.val_len, &pt, &pt_len)) < 0)
		return r;
	a.val = val;
	/* append_txn prunes from ev->first_seq: let it see the batch's. */
	shadow.first_seq = b->first_seq;
	a.ev = &shadow;
	r = append_txn(t, &a);
	free(val);
	if (r < 0) {
		cx_wipe(pt, pt_len);
		free(pt);
		return r;
	}
	ev->pend[ev->pend_n++] =
		(struct events_mem){.seq = a.seq, .pt = pt, .len = pt_len};
	b->last_seq = a.seq;
	b->first_seq = a.new_first;
	b->appended++;
	return 0;
}

void events_batch_commit(struct events *ev, const struct events_batch *b)
{
	for (unsigned i = 0; i < ev->pend_n; i++)
		mem_add(ev, ev->pend[i].seq, ev->pend[i].pt, ev->pend[i].len);
	ev->pend_n = 0; /* the ring owns them now */
	if (b->appended == 0)
		return;
	ev->last_seq = b->last_seq;
	ev->first_seq = b->first_seq;
}

struct reader {
	struct events *ev;
	struct store_txn *t; /* the read's, for events_body_fn */
	events_cb cb;
	void *ctx;
	size_t max_n, n;
	int stop;
};

/* An event whose stored value does not open (or is not an event at all)
 * is passed on as events.unreadable, so that readers learn of it and go
 * past it instead of stopping there. */
static int unreadable(struct reader *rd, uint64_t seq, int why)
{
	char json[160];
	int n;

	n = snprintf(json, sizeof json,
		     "{\"seq\":%llu,\"type\":\"" EVENTS_UNREADABLE
		     "\",\"at\":0,\"data\":{\"reason\":\"%s\"}}",
		     (unsigned long long)seq,
		     why == -EKEYREJECTED ? "does not authenticate"
		     : why == -ENOLINK    ? "its message does not open"
					  : "not a stored event");
	return rd->cb(rd->ctx, seq, EVENTS_UNREADABLE, json, (size_t)n);
}

/* The event of a REF_VERSION value (pt: header || type NUL json') with
 * its body filled in from the history, or body_omitted when the history
 * no longer has it: a fresh malloc'd *out.  -EBADMSG for a malformed
 * header, -ENOLINK when the message is there but does not open. */
static int fill_body(struct reader *rd, const char *pt, size_t pt_len,
		     char **out, size_t *out_len)
{
	const uint8_t *h = (const uint8_t *)pt;
	const char *ev = pt + REF_HDR;
	size_t el, at;
	uint8_t *body = NULL;
	size_t blen = 0;
	struct jw w;
	int r = -ENOENT;

	if (pt_len < REF_HDR)
		return -EBADMSG;
	el = pt_len - REF_HDR;
	at = be32_get(h + 56);
	if (at < BODY_KEY_LEN || at > el ||
	    memcmp(ev + at - BODY_KEY_LEN, body_key, BODY_KEY_LEN) != 0)
		return -EBADMSG;
	if (rd->ev->body_fn != NULL)
		r = rd->ev->body_fn(rd->ev->body_ctx, rd->t, h, be64_get(h + 32),
				    h + 40, &body, &blen);
	if (r < 0 && r != -ENOENT)
		return r == -ENOMEM ? r : -ENOLINK;
	jw_init(&w, PT_MAX);
	if (r == 0) {
		jw_raw(&w, ev, at);
		jw_str(&w, (const char *)body, blen);
	} else {
		jw_raw(&w, ev, at - BODY_KEY_LEN);
		jw_lit(&w, body_omitted);
	}
	jw_raw(&w, ev + at, el - at);
	if (body != NULL) {
		cx_wipe(body, blen);
		free(body);
	}
	*out_len = w.len;
	if ((*out = jw_finish(&w, &r)) == NULL)
		return r == -ENOMEM ? r : -EBADMSG;
	return 0;
}

static int read_cb(void *ctx, const void *key, size_t key_len,
		   const void *val, size_t val_len)
{
	struct reader *rd = ctx;
	const char *v = NULL, *nul = NULL;
	char *filled = NULL;
	size_t len = 0;
	uint64_t seq;
	uint8_t version = 0;
	int r;

	if (key_len != 8)
		return -EBADMSG;
	seq = be64_get(key);
	r = open_value(rd->ev, seq, val, val_len, &v, &len, &version);
	if (r == 0 && version == REF_VERSION) {
		r = fill_body(rd, v, len, &filled, &len);
		v = filled;
		if (r < 0) {
			v = "";
			len = 0;
		}
	}
	if (r == -ENOMEM)
		return r;
	if (r == 0)
		nul = memchr(v, '\0', len);
	if (nul != NULL && !type_ok(v)) /* v is NUL-terminated at nul */
		nul = NULL;
	/* compact JSON has no raw control character; a NUL or a newline
	 * would break the line it is sent on */
	for (const char *c = nul != NULL ? nul + 1 : v + len; c < v + len; c++)
		if ((unsigned char)*c < 0x20) {
			nul = NULL;
			break;
		}
	if (nul != NULL && (v + len - nul < 3 || nul[1] != '{' ||
			    v[len - 1] != '}'))
		nul = NULL; /* not an object */
	if (nul == NULL)
		r = unreadable(rd, seq, r < 0 ? r : -EBADMSG);
	else
		r = rd->cb(rd->ctx, seq, v, nul + 1,
			   len - (size_t)(nul + 1 - v));
	if (filled != NULL) {
		cx_wipe(filled, len);
		free(filled);
	}
	rd->n++;
	if (r != 0)
		return r;
	return rd->n >= rd->max_n ? 1 : 0;
}

struct read_args {
	uint64_t after;
	struct reader *rd;
};

static int read_txn(struct store_txn *t, void *ctx)
{
	struct read_args *ra = ctx;
	uint8_t from[8];

	ra->rd->t = t;
	be64_put(from, ra->after + 1);
	return store_scan(t, STORE_TABLE_EVENTS, from, 8, false, read_cb,
			  ra->rd);
}

int events_read(struct events *ev, uint64_t after, size_t max_n,
		events_cb cb, void *ctx)
{
	struct reader rd = {.ev = ev, .cb = cb, .ctx = ctx, .max_n = max_n};
	struct read_args ra = {.after = after, .rd = &rd};
	int r;

	if (max_n == 0 || after >= ev->last_seq)
		return 0;
	if ((r = mem_read(ev, after, max_n, cb, ctx)) != -ENOENT)
		return r;
	r = store_read(ev->store, read_txn, &ra);
	if (r < 0)
		return r;
	return (int)rd.n;
}
