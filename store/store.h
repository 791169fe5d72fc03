/* store/: parley's one LMDB environment and its named tables, plus zstd for
 * bodies kept at rest.  The only module that includes <lmdb.h>/<zstd.h>.
 *
 * Ownership: store_open() returns a struct store the caller frees with
 * store_close().  Values are always copied out before a transaction ends;
 * pointers handed to a store_scan() callback are valid only inside that
 * call ("valid only until ... the end of the transaction", lmdb.h).
 *
 * Map growth: LMDB fails a write with MDB_MAP_FULL when the memory map is
 * too small; the transaction is then unusable.  store_write() handles it:
 * it aborts, grows the map (doubling, up to opts.map_max), and runs the
 * transaction function again from the start.  Transaction functions must
 * therefore have no effects outside the transaction.
 *
 * LMDB may resize the map only while no transaction is open in this process
 * (lmdb.h, mdb_env_set_mapsize).  So store_grow() returns -EBUSY while any
 * transaction of this store is open, and store_write() grows only after
 * aborting its own: a caller that holds another transaction open (say a
 * read transaction around a store_write) gets -EBUSY instead of growth.
 * Never nest store_write() calls (LMDB has one writer at a time).
 *
 * Errors: 0 or negative errno:
 *   -ENOENT  key not found          -E2BIG   value larger than the buffer
 *   -ENOSPC  map at its maximum or disk full (a full disk can also show
 *            as -EIO: LMDB treats a short write as EIO and does not retry;
 *            either way the transaction is aborted and none of it stays)
 *   -EBADMSG corrupt stored value   -EIO     other LMDB failure
 *   -EINVAL  bad argument (key empty or longer than LMDB's 511 bytes)
 *   -EBUSY   the map must grow but a transaction is still open */
#ifndef PARLEY_STORE_STORE_H
#define PARLEY_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Named tables (LMDB named databases).  Append only: the name is on disk. */
#define STORE_TABLE_MAP(X)                                                     \
	X(META, "meta")		/* schema version, counters */                 \
	X(EVENTS, "events")	/* u64 big-endian seq -> event JSON */         \
	X(CONTACTS, "contacts") /* account pk -> contact record */             \
	X(MESSAGES, "messages") /* conversation||seq -> message record */      \
	X(MSGIDS, "msgids")	/* message id -> key in MESSAGES (dedupe) */   \
	X(OUTBOX, "outbox")	/* message id -> pending outgoing envelope */  \
	X(SESSIONS, "sessions") /* peer -> ratchet state */                    \
	X(DHT, "dht")		/* routing table, stored records */            \
	X(RELAY, "relay")	/* relayed mailboxes (relay mode) */

enum store_table {
#define STORE_X_ENUM(name, str) STORE_TABLE_##name,
	STORE_TABLE_MAP(STORE_X_ENUM)
#undef STORE_X_ENUM
		STORE_TABLE_COUNT
};

/* Name of a table as stored in LMDB. */
const char *store_table_name(enum store_table t);

struct store_opts {
	size_t map_initial; /* bytes; 0 -> 1 MiB */
	size_t map_max;	    /* bytes; 0 -> 64 GiB */
	bool no_sync;	    /* MDB_NOSYNC, for tests and benchmarks only */
};

struct store;
struct store_txn;

/* Opens (creating if needed) the environment in directory dir, which must
 * exist.  Returns 0 and *out, or a negative errno.  Open a directory at
 * most once per process at a time, and never use a store across fork()
 * (lmdb.h, caveats: "Do not have open an LMDB database twice in the same
 * process at the same time", "Use an MDB_env* in the process which opened
 * it, not after fork()").  A reopened store maps at least what its file
 * holds, and grows from there. */
int store_open(struct store **out, const char *dir,
	       const struct store_opts *opts);

/* Closes the environment; NULL-safe.  No transaction may be open. */
void store_close(struct store *s);

/* Current map size in bytes (grows on demand). */
size_t store_map_size(const struct store *s);

/* Runs fn inside a write transaction and commits it.  fn returns 0 to
 * commit, negative to abort (that value is returned).  On MDB_MAP_FULL the
 * map is grown and fn runs again.  Returns 0 or a negative errno. */
int store_write(struct store *s, int (*fn)(struct store_txn *t, void *ctx),
		void *ctx);

/* Runs fn inside a read-only transaction; returns what fn returns. */
int store_read(struct store *s, int (*fn)(struct store_txn *t, void *ctx),
	       void *ctx);

/* Explicit transactions, for callers that cannot use a function.  A write
 * transaction that fails with -ENOSPC from put or commit is aborted by the
 * store; the caller may call store_grow() and start again.  After a failed
 * put or del (other than -ENOENT) the LMDB transaction is already gone:
 * every later call on t returns the same error, and the caller still frees
 * t with store_txn_abort() (or store_txn_commit(), which returns it). */
int store_txn_begin(struct store *s, bool write, struct store_txn **out);
int store_txn_commit(struct store_txn *t); /* frees t, success or not */
void store_txn_abort(struct store_txn *t); /* frees t; NULL-safe */
/* Drops the map's pages from this process's page tables (they stay in the
 * page cache; LMDB faults back what it reads).  0 or -errno; data are
 * never affected.  store_trim() does it only when this process maps 4 MiB
 * more of files than after the last release (1 then, else 0): the daemon
 * calls it a little after commits, so that the pages that commits move
 * around the file do not pile up in its RSS. */
int store_trim(struct store *s);
uint64_t store_commits(struct store *s); /* write commits since open */
int store_release_map(struct store *s);
int store_grow(struct store *s);	   /* doubles the map; -ENOSPC at max */

/* For tests: before each write commit, fault(ctx) is asked, and when it
 * answers nonzero the transaction is dropped and the commit fails with
 * -EIO, as it would on a disk that failed the write.  NULL: never. */
void store_set_commit_fault(struct store *s, int (*fault)(void *ctx),
			    void *ctx);

int store_put(struct store_txn *t, enum store_table tbl, const void *key,
	      size_t key_len, const void *val, size_t val_len);

/* Copies the value into buf (buf_max bytes) and sets *val_len.  When the
 * value is larger, returns -E2BIG with *val_len set to its size. */
int store_get(struct store_txn *t, enum store_table tbl, const void *key,
	      size_t key_len, void *buf, size_t buf_max, size_t *val_len);

/* Like store_get, into a fresh malloc'd buffer the caller frees. */
int store_get_alloc(struct store_txn *t, enum store_table tbl,
		    const void *key, size_t key_len, uint8_t **val,
		    size_t *val_len);

/* Deletes key; -ENOENT when absent. */
int store_del(struct store_txn *t, enum store_table tbl, const void *key,
	      size_t key_len);

/* Calls cb for each entry with key >= from (or <= from when reverse; from
 * NULL means the first or last entry), in key order.  cb returns 0 to go
 * on, > 0 to stop (store_scan then returns 0), < 0 to fail (returned).
 * Pointers passed to cb are valid only during the call. */
typedef int (*store_scan_cb)(void *ctx, const void *key, size_t key_len,
			     const void *val, size_t val_len);
int store_scan(struct store_txn *t, enum store_table tbl, const void *from,
	       size_t from_len, bool reverse, store_scan_cb cb, void *ctx);

/* Number of entries in a table. */
int store_count(struct store_txn *t, enum store_table tbl, uint64_t *count);

/* zstd, for bodies at rest (never before encryption on the wire).
 * store_compress writes at most dst_max bytes (store_compress_bound()
 * gives enough).  store_decompress refuses frames whose declared content
 * size exceeds dst_max, or that do not declare it, before decoding
 * anything: -E2BIG / -EBADMSG. Both set *out_len (0 on failure, except
 * store_decompress's -E2BIG, which reports the declared size).
 * store_compress writes frames that carry their content size and a
 * checksum; level is a zstd level (0: zstd's default), else -EINVAL. */
size_t store_compress_bound(size_t src_len);
int store_compress(void *dst, size_t dst_max, size_t *out_len,
		   const void *src, size_t src_len, int level);
int store_decompress(void *dst, size_t dst_max, size_t *out_len,
		     const void *src, size_t src_len);

#endif
