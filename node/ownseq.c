/* Block reservation of own record sequence numbers (see ownseq.h).
 *
 * Store layout, DHT table: "ownseq" -> u64 BE, the reserved limit;
 * "own:" || key -> u64 BE, a key's last number (written by older
 * versions, only read now). */
#include <errno.h>
#include <string.h>

#include "node/bytes.h"
#include "node/ownseq.h"

static const char limit_key[] = "ownseq";

struct ownseq_io {
	const uint8_t *key;
	uint64_t value; /* in: the number wanted; out: as below */
	uint64_t limit; /* out (reserve): the new limit */
};

static int get_u64(struct store_txn *t, const void *k, size_t klen,
		   uint64_t *out)
{
	uint8_t buf[8];
	size_t len = 0;
	int r;

	*out = 0;
	r = store_get(t, STORE_TABLE_DHT, k, klen, buf, sizeof buf, &len);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	if (len != 8)
		return -EBADMSG;
	*out = be64_get(buf);
	return 0;
}

/* The last number an older version stored for the key, or 0. */
static int legacy_read(struct store_txn *t, void *ctx)
{
	struct ownseq_io *io = ctx;
	uint8_t k[4 + 32];

	memcpy(k, "own:", 4);
	memcpy(k + 4, io->key, 32);
	return get_u64(t, k, sizeof k, &io->value);
}

/* Moves the stored limit past the number wanted: numbers below the stored
 * limit may have been used before a restart, so the number handed out is
 * at least that limit. */
static int reserve(struct store_txn *t, void *ctx)
{
	struct ownseq_io *io = ctx;
	uint8_t buf[8];
	uint64_t stored;
	int r;

	if ((r = get_u64(t, limit_key, sizeof limit_key - 1, &stored)) < 0)
		return r;
	if (io->value < stored)
		io->value = stored;
	if (io->value > UINT64_MAX - OWNSEQ_BLOCK)
		return -EOVERFLOW;
	io->limit = io->value + OWNSEQ_BLOCK;
	be64_put(buf, io->limit);
	return store_put(t, STORE_TABLE_DHT, limit_key, sizeof limit_key - 1,
			 buf, sizeof buf);
}

/* Moves the stored limit one block past the number wanted (io->value)
 * and sets o from it. */
static int reserve_block(struct ownseq *o, struct store *s,
			 struct ownseq_io *io)
{
	int r;

	if ((r = store_write(s, reserve, io)) < 0)
		return r;
	o->limit = io->limit;
	o->reservations++;
	return 0;
}

int ownseq_open(struct ownseq *o, struct store *s)
{
	struct ownseq_io io = {.value = o->next};
	int r;

	if ((r = reserve_block(o, s, &io)) < 0)
		return r;
	o->next = io.value;
	return 0;
}

int ownseq_next(struct ownseq *o, struct store *s, const uint8_t key[32],
		uint64_t *seq)
{
	struct ownseq_io io = {.key = key};
	uint64_t want;
	int r;

	if ((r = store_read(s, legacy_read, &io)) < 0)
		return r;
	if (io.value == UINT64_MAX)
		return -EOVERFLOW;
	want = io.value + 1;
	if (want < o->next)
		want = o->next;
	if (want >= o->limit) {
		io.value = want;
		if ((r = reserve_block(o, s, &io)) < 0)
			return r;
		want = io.value;
	}
	o->next = want + 1;
	*seq = want;
	return 0;
}
