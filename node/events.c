/* Event log over store/: key = seq as 8 big-endian bytes (so LMDB's key
 * order is seq order), value = type NUL json.  The newest number is the
 * log's last key, or META's "events.last" if that is higher: the single
 * appends (events_append) write it so that numbering survives a log
 * pruned empty; appends in a batch leave it (an append prunes only older
 * events than its own, so the batch's last key stays).  Appends prune in
 * the same transaction, so the log never holds more than max_keep. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "node/bytes.h"
#include "node/events.h"
#include "node/jsonw.h"

static const char meta_last[] = "events.last";

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

int events_open(struct events *ev, struct store *s, uint64_t max_keep)
{
	struct bounds b = {0, 0};
	int r;

	memset(ev, 0, sizeof *ev);
	ev->store = s;
	ev->max_keep = max_keep > 0 ? max_keep : 1;
	if ((r = store_read(s, read_bounds, &b)) < 0)
		return r;
	ev->first_seq = b.first;
	ev->last_seq = b.last;
	return 0;
}

struct append {
	struct events *ev;
	uint64_t seq;
	const char *val;
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

/* Formats the stored value of event seq: type NUL json, the json being
 * {"seq":N,"type":"T","at":MS,"data":DATA} (written with jsonw, no
 * snprintf on this path).  0, -EINVAL, -E2BIG or -ENOMEM; *val is
 * malloc'd. */
static int format_event(uint64_t seq, uint64_t at_ms, const char *type,
			const char *data_json, char **val, size_t *val_len)
{
	size_t type_len, data_len, len;
	struct jw w;
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
	if ((*val = jw_finish(&w, &err)) == NULL)
		return err < 0 ? err : -ENOMEM;
	*val_len = len;
	return 0;
}

int events_append(struct events *ev, uint64_t at_ms, const char *type,
		  const char *data_json, uint64_t *seq_out)
{
	struct append a = {.ev = ev, .meta = true};
	char *val = NULL;
	int r;

	a.seq = ev->last_seq + 1;
	if ((r = format_event(a.seq, at_ms, type, data_json, &val,
			      &a.val_len)) < 0)
		return r;
	a.val = val;
	r = store_write(ev->store, append_txn, &a);
	free(val);
	if (r < 0)
		return r;
	ev->last_seq = a.seq;
	ev->first_seq = a.new_first;
	if (seq_out != NULL)
		*seq_out = a.seq;
	return 0;
}

void events_batch_begin(const struct events *ev, struct events_batch *b)
{
	b->last_seq = ev->last_seq;
	b->first_seq = ev->first_seq;
	b->appended = 0;
}

int events_append_txn(struct events *ev, struct store_txn *t,
		      struct events_batch *b, uint64_t at_ms, const char *type,
		      const char *data_json)
{
	struct append a = {.ev = ev};
	struct events shadow = *ev;
	char *val = NULL;
	int r;

	a.seq = b->last_seq + 1;
	if ((r = format_event(a.seq, at_ms, type, data_json, &val,
			      &a.val_len)) < 0)
		return r;
	a.val = val;
	/* append_txn prunes from ev->first_seq: let it see the batch's. */
	shadow.first_seq = b->first_seq;
	a.ev = &shadow;
	r = append_txn(t, &a);
	free(val);
	if (r < 0)
		return r;
	b->last_seq = a.seq;
	b->first_seq = a.new_first;
	b->appended++;
	return 0;
}

void events_batch_commit(struct events *ev, const struct events_batch *b)
{
	if (b->appended == 0)
		return;
	ev->last_seq = b->last_seq;
	ev->first_seq = b->first_seq;
}

struct reader {
	events_cb cb;
	void *ctx;
	size_t max_n, n;
	int stop;
};

static int read_cb(void *ctx, const void *key, size_t key_len,
		   const void *val, size_t val_len)
{
	struct reader *rd = ctx;
	const char *v = val;
	const char *nul;
	int r;

	if (key_len != 8)
		return -EBADMSG;
	nul = memchr(v, '\0', val_len);
	if (nul == NULL)
		return -EBADMSG;
	r = rd->cb(rd->ctx, be64_get(key), v, nul + 1,
		   val_len - (size_t)(nul + 1 - v));
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

	be64_put(from, ra->after + 1);
	return store_scan(t, STORE_TABLE_EVENTS, from, 8, false, read_cb,
			  ra->rd);
}

int events_read(struct events *ev, uint64_t after, size_t max_n,
		events_cb cb, void *ctx)
{
	struct reader rd = {.cb = cb, .ctx = ctx, .max_n = max_n};
	struct read_args ra = {.after = after, .rd = &rd};
	int r;

	if (max_n == 0 || after >= ev->last_seq)
		return 0;
	r = store_read(ev->store, read_txn, &ra);
	if (r < 0)
		return r;
	return (int)rd.n;
}
