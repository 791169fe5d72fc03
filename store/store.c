/* store/: the one LMDB environment of a parley node and its named tables,
 * plus the zstd helpers for bodies kept at rest.  This is the only file that
 * includes <lmdb.h> and <zstd.h> (DESIGN.md section 2).
 *
 * Ownership: struct store owns the MDB_env and the table handles; a struct
 * store_txn owns one MDB_txn until store_txn_commit() or store_txn_abort()
 * frees it.  No MDB_val leaves this file: values are copied into the
 * caller's buffers, or handed to a scan callback that may only look at them
 * during the call ("valid only until a subsequent update operation, or the
 * end of the transaction", lmdb.h, mdb_get).
 *
 * Map growth.  lmdb.h, mdb_put: "MDB_MAP_FULL - the database is full, see
 * mdb_env_set_mapsize()", and after such an error the transaction can only
 * be aborted.  lmdb.h, mdb_env_set_mapsize: "It may be called at later times
 * if no transactions are active in this process.  Note that the library does
 * not check for this condition, the caller must ensure it explicitly."  We
 * ensure it by counting open transactions under a mutex: store_grow() resizes
 * only when the count is zero (else -EBUSY), and a transaction cannot begin
 * while a resize runs.  store_write() aborts its own transaction first, so
 * its retry works as long as the caller holds no other transaction open on
 * the same store.  MDB_MAP_RESIZED (another process grew the map) is handled
 * by adopting the new size, as the same page says: "This function may be
 * called with a size of zero to adopt the new size."
 *
 * Durability: without no_sync every commit is fsync'ed by LMDB before
 * mdb_txn_commit() returns, and a commit becomes visible only when its meta
 * page is written, so a crash (kill -9) loses nothing committed and leaves
 * nothing half-written.  A commit that fails (ENOSPC from the disk, or
 * MDB_MAP_FULL while saving the free list) leaves the previous state. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <lmdb.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "store/store.h"

#define STORE_MAP_INITIAL_DEFAULT ((size_t)1 << 20) /* 1 MiB */
/* 64 GiB, or 1 GiB where size_t (and so the address space) is 32 bits. */
#define STORE_MAP_MAX_DEFAULT                                                  \
	(SIZE_MAX > 0xffffffffu ? (size_t)64 << 30 : (size_t)1 << 30)

struct store {
	MDB_env *env;
	MDB_dbi dbi[STORE_TABLE_COUNT];
	size_t map_size;
	size_t map_max;
	size_t page_size;
	pthread_mutex_t lock; /* guards num_txns and resizing */
	unsigned num_txns;    /* live MDB_txn of this process */
	uint64_t commits;     /* write commits */
	long mapped_base;     /* mapped file pages after the last release */
	void *map_addr;	      /* LMDB's map (found once; NULL: look again) */
	size_t map_len;
	int (*fault)(void *ctx); /* store_set_commit_fault */
	void *fault_ctx;
};

struct store_txn {
	struct store *s;
	MDB_txn *txn; /* NULL once LMDB's transaction is gone */
	bool write;
	bool map_full; /* a put or commit hit MDB_MAP_FULL */
	int failed;    /* sticky error of a write txn: later calls return it */
};

static const char *const table_names[STORE_TABLE_COUNT] = {
#define STORE_X_NAME(name, str) [STORE_TABLE_##name] = str,
	STORE_TABLE_MAP(STORE_X_NAME)
#undef STORE_X_NAME
};

const char *store_table_name(enum store_table t)
{
	if ((unsigned)t >= STORE_TABLE_COUNT)
		return NULL;
	return table_names[t];
}

/* Maps an LMDB or system error to our negative errno.  MDB_MAP_FULL and a
 * full disk both mean "no space"; the callers tell them apart before this
 * when they need to (only a full map is helped by growing it). */
static int map_err(int rc)
{
	switch (rc) {
	case MDB_SUCCESS:
		return 0;
	case MDB_NOTFOUND:
		return -ENOENT;
	case MDB_MAP_FULL:
	case ENOSPC:
	case EDQUOT:
	case EFBIG: /* the file size limit: no more room either */
		return -ENOSPC;
	case MDB_BAD_VALSIZE:
		return -EINVAL;
	case MDB_CORRUPTED:
	case MDB_PAGE_NOTFOUND:
	case MDB_INVALID:
	case MDB_VERSION_MISMATCH:
		return -EBADMSG;
	case ENOMEM:
		return -ENOMEM;
	case EACCES:
	case EPERM:
	case ENOENT:
	case ENOTDIR:
		return -rc;
	default:
		return -EIO;
	}
}

static size_t round_up(size_t n, size_t to)
{
	size_t r = n % to;

	if (r == 0)
		return n;
	if (n > SIZE_MAX - (to - r))
		return n - r; /* cannot round up: round down instead */
	return n + (to - r);
}

static size_t round_down(size_t n, size_t to)
{
	return n - n % to;
}

/* Reads back the map size LMDB actually uses: it may be larger than what we
 * asked for when an existing environment recorded a larger one. */
static void refresh_map_size(struct store *s)
{
	MDB_envinfo info;

	s->map_addr = NULL; /* the map may have moved */

	if (mdb_env_info(s->env, &info) == MDB_SUCCESS)
		s->map_size = info.me_mapsize;
}

static void txns_enter(struct store *s)
{
	pthread_mutex_lock(&s->lock);
	s->num_txns++;
	pthread_mutex_unlock(&s->lock);
}

static void txns_leave(struct store *s)
{
	pthread_mutex_lock(&s->lock);
	s->num_txns--;
	pthread_mutex_unlock(&s->lock);
}

/* Sets the map size to size (0: adopt the size another process set) if no
 * transaction is open.  Called with s->lock held.  Returns 0, -EBUSY or an
 * error from LMDB. */
static int resize_locked(struct store *s, size_t size)
{
	int rc;

	if (s->num_txns != 0)
		return -EBUSY;
	rc = mdb_env_set_mapsize(s->env, size);
	if (rc != MDB_SUCCESS)
		return map_err(rc);
	refresh_map_size(s);
	return 0;
}

/* Opening: create the environment, set its limits, open the directory, then
 * create every named table in one write transaction so that later read
 * transactions find them all (mdb_dbi_open: "The database handle will be
 * private to the current transaction until the transaction is successfully
 * committed"). */
static int open_tables(struct store *s)
{
	MDB_txn *txn = NULL;
	int rc;

	rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	if (rc != MDB_SUCCESS)
		return map_err(rc);
	for (unsigned i = 0; i < STORE_TABLE_COUNT; i++) {
		rc = mdb_dbi_open(txn, table_names[i], MDB_CREATE, &s->dbi[i]);
		if (rc != MDB_SUCCESS) {
			mdb_txn_abort(txn);
			return map_err(rc);
		}
	}
	rc = mdb_txn_commit(txn);
	return map_err(rc);
}

int store_open(struct store **out, const char *dir,
	       const struct store_opts *opts)
{
	struct store *s = NULL;
	unsigned flags = MDB_NOTLS;
	size_t initial, max;
	long page;
	int r = -EIO, rc;

	*out = NULL;
	if (dir == NULL)
		return -EINVAL;
	page = sysconf(_SC_PAGESIZE);
	if (page <= 0)
		page = 4096;
	initial = opts != NULL && opts->map_initial != 0
			  ? opts->map_initial
			  : STORE_MAP_INITIAL_DEFAULT;
	max = opts != NULL && opts->map_max != 0 ? opts->map_max
						 : STORE_MAP_MAX_DEFAULT;
	/* lmdb.h: "The size should be a multiple of the OS page size." */
	initial = round_up(initial, (size_t)page);
	max = round_down(max, (size_t)page);
	if (max < initial)
		return -EINVAL;
	if (opts != NULL && opts->no_sync)
		flags |= MDB_NOSYNC;

	s = calloc(1, sizeof *s);
	if (s == NULL)
		return -ENOMEM;
	s->page_size = (size_t)page;
	s->mapped_base = -1;
	s->map_max = max;
	if (pthread_mutex_init(&s->lock, NULL) != 0) {
		free(s);
		return -ENOMEM;
	}
	rc = mdb_env_create(&s->env);
	if (rc != MDB_SUCCESS) {
		s->env = NULL;
		r = map_err(rc);
		goto out;
	}
	if ((rc = mdb_env_set_maxdbs(s->env, STORE_TABLE_COUNT)) != 0 ||
	    (rc = mdb_env_set_mapsize(s->env, initial)) != 0 ||
	    (rc = mdb_env_open(s->env, dir, flags, 0600)) != 0) {
		r = map_err(rc);
		goto out;
	}
	refresh_map_size(s);
	if ((r = open_tables(s)) < 0)
		goto out;
	*out = s;
	s = NULL;
	r = 0;
out:
	store_close(s);
	return r;
}

void store_close(struct store *s)
{
	if (s == NULL)
		return;
	/* mdb_env_close also closes the table handles. */
	if (s->env != NULL)
		mdb_env_close(s->env);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

size_t store_map_size(const struct store *s)
{
	return s->map_size;
}

/* Doubles the map, capped at map_max; -ENOSPC when already there, -EBUSY
 * while any transaction of this store is open. */
int store_grow(struct store *s)
{
	size_t next;
	int r;

	pthread_mutex_lock(&s->lock);
	if (s->map_size >= s->map_max) {
		r = -ENOSPC;
		goto out;
	}
	next = s->map_size > s->map_max / 2 ? s->map_max : s->map_size * 2;
	next = round_up(next, s->page_size);
	if (next > s->map_max)
		next = s->map_max;
	r = resize_locked(s, next);
out:
	pthread_mutex_unlock(&s->lock);
	return r;
}

int store_txn_begin(struct store *s, bool write, struct store_txn **out)
{
	struct store_txn *t;
	int rc, r;

	*out = NULL;
	t = calloc(1, sizeof *t);
	if (t == NULL)
		return -ENOMEM;
	t->s = s;
	t->write = write;
	txns_enter(s);
	rc = mdb_txn_begin(s->env, NULL, write ? 0 : MDB_RDONLY, &t->txn);
	if (rc == MDB_MAP_RESIZED) {
		/* Another process grew the map: adopt its size, once.  Our
		 * own count excludes this transaction, which has not begun. */
		pthread_mutex_lock(&s->lock);
		s->num_txns--;
		r = resize_locked(s, 0);
		s->num_txns++;
		pthread_mutex_unlock(&s->lock);
		if (r < 0) {
			txns_leave(s);
			free(t);
			return r;
		}
		rc = mdb_txn_begin(s->env, NULL, write ? 0 : MDB_RDONLY,
				   &t->txn);
	}
	if (rc != MDB_SUCCESS) {
		txns_leave(s);
		free(t);
		return map_err(rc);
	}
	*out = t;
	return 0;
}

/* Ends LMDB's side of a write transaction after an error that leaves it
 * unusable; the struct stays for the caller to free, and every later call
 * on it returns err. */
static void txn_fail(struct store_txn *t, int rc)
{
	if (rc == MDB_MAP_FULL)
		t->map_full = true;
	t->failed = map_err(rc);
	if (t->txn != NULL) {
		mdb_txn_abort(t->txn);
		t->txn = NULL;
		txns_leave(t->s);
	}
}

/* Commits and reports LMDB's code, so that store_write() can tell a full
 * map (grow and retry) from a full disk (give up).  Frees t. */
static int txn_commit_raw(struct store_txn *t, bool *map_full)
{
	int rc;

	*map_full = t->map_full;
	if (t->txn == NULL) {
		rc = t->failed;
		free(t);
		return rc < 0 ? rc : -EIO;
	}
	if (t->write && t->s->fault != NULL && t->s->fault(t->s->fault_ctx)) {
		mdb_txn_abort(t->txn); /* as a disk that failed the write */
		txns_leave(t->s);
		free(t);
		return -EIO;
	}
	/* lmdb.h, mdb_txn_commit: "The transaction handle is freed.  It and
	 * its cursors must not be used again after this call", on failure
	 * too: LMDB aborts it. */
	rc = mdb_txn_commit(t->txn);
	txns_leave(t->s);
	if (rc == MDB_MAP_FULL)
		*map_full = true;
	free(t);
	return map_err(rc);
}

/* Releasing the map.  LMDB reads the database through a read-only shared
 * map of the file and writes with pwrite(2).  A write transaction copies
 * the pages it changes out of the map, and the copies land on pages taken
 * from the free list, anywhere in the file; the next transactions fault
 * them in through the map, each fault mapping its neighbours too (the
 * kernel's fault-around).  So the pages this process maps spread over the
 * whole file, all staying in its page tables: a busy daemon's RSS grows
 * to the size of its database (76 MiB after bench_msg's 200,000 messages)
 * although it needs a few dozen pages at a time.  store_trim(), called by
 * the daemon a little after a burst of commits, drops the map's pages
 * from our page tables with madvise(MADV_DONTNEED) once this process maps
 * STORE_RELEASE_BYTES more of files than after the last release.
 * madvise(2): for a shared file mapping "subsequent accesses of pages in
 * the range will succeed, but will result in repopulating the memory
 * contents from the up-to-date contents of the underlying mapped file", so
 * nothing changes for LMDB (pointers into the map stay valid, the pages
 * stay in the page cache); the next reads fault the hot pages back in.
 * Not after every commit: the pages a commit needs move each time, and
 * releasing often made every commit fault them in again (a round trip of
 * bench_msg cost 50% more CPU with a release every ~20 commits). */
#define STORE_RELEASE_BYTES ((size_t)4 << 20)

/* Finds LMDB's map of data.mdb in /proc/self/maps by the file's device
 * and inode (mdb_env_info gives the map's address only for MDB_FIXEDMAP). */
static int find_map(struct store *s, void **addr, size_t *len)
{
	char line[512];
	struct stat st;
	mdb_filehandle_t fd;
	FILE *fp;
	int r = -ENOENT;

	if (mdb_env_get_fd(s->env, &fd) != MDB_SUCCESS || fstat(fd, &st) != 0)
		return -EIO;
	if ((fp = fopen("/proc/self/maps", "re")) == NULL)
		return -errno;
	while (fgets(line, sizeof line, fp) != NULL) {
		unsigned long lo, hi, off, ino;
		unsigned maj, mnr;
		char perms[8];

		if (sscanf(line, "%lx-%lx %7s %lx %x:%x %lu", &lo, &hi, perms,
			   &off, &maj, &mnr, &ino) != 7 ||
		    makedev(maj, mnr) != st.st_dev || ino != st.st_ino ||
		    off != 0)
			continue;
		if (r == 0 && hi - lo <= *len)
			continue;
		*addr = (void *)lo;
		*len = hi - lo;
		r = 0;
	}
	fclose(fp);
	return r;
}

int store_release_map(struct store *s)
{
	MDB_envinfo info;
	size_t len = 0, used;
	void *addr = NULL;
	int r;

	/* Under the lock: no resize (which remaps) can run meanwhile. */
	pthread_mutex_lock(&s->lock);
	if (mdb_env_info(s->env, &info) != MDB_SUCCESS)
		r = -EIO;
	else if (s->map_addr != NULL ||
		 (r = find_map(s, &s->map_addr, &s->map_len)) == 0) {
		r = 0;
		addr = s->map_addr;
		len = s->map_len;
		used = ((size_t)info.me_last_pgno + 1) * s->page_size;
		if (madvise(addr, used < len ? used : len, MADV_DONTNEED) != 0)
			r = -errno;
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

/* Pages of files this process maps (statm's third field), or -1. */
static long mapped_file_pages(void)
{
	char buf[128];
	long size, res, shared;
	ssize_t n;
	int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	if (sscanf(buf, "%ld %ld %ld", &size, &res, &shared) != 3)
		return -1;
	return shared;
}

int store_trim(struct store *s)
{
	long now = mapped_file_pages(), grown;

	if (now < 0)
		return -EIO;
	pthread_mutex_lock(&s->lock);
	if (s->mapped_base < 0 || now < s->mapped_base)
		s->mapped_base = now;
	grown = now - s->mapped_base;
	pthread_mutex_unlock(&s->lock);
	if ((size_t)grown * s->page_size < STORE_RELEASE_BYTES)
		return 0;
	if (store_release_map(s) < 0)
		return -EIO;
	now = mapped_file_pages();
	pthread_mutex_lock(&s->lock);
	s->mapped_base = now;
	pthread_mutex_unlock(&s->lock);
	return 1;
}

uint64_t store_commits(struct store *s)
{
	uint64_t n;

	pthread_mutex_lock(&s->lock);
	n = s->commits;
	pthread_mutex_unlock(&s->lock);
	return n;
}

static void count_commit(struct store *s)
{
	pthread_mutex_lock(&s->lock);
	s->commits++;
	pthread_mutex_unlock(&s->lock);
}

int store_txn_commit(struct store_txn *t)
{
	struct store *s = t->s;
	bool map_full, write = t->write;
	int r = txn_commit_raw(t, &map_full);

	if (r == 0 && write)
		count_commit(s);
	return r;
}

void store_txn_abort(struct store_txn *t)
{
	if (t == NULL)
		return;
	if (t->txn != NULL) {
		mdb_txn_abort(t->txn);
		txns_leave(t->s);
	}
	free(t);
}

int store_write(struct store *s, int (*fn)(struct store_txn *t, void *ctx),
		void *ctx)
{
	struct store_txn *t = NULL;
	bool map_full;
	int r;

	for (;;) {
		if ((r = store_txn_begin(s, true, &t)) < 0)
			return r;
		r = fn(t, ctx);
		if (t->map_full) {
			/* Whatever fn made of the error, the transaction is
			 * gone: grow and run fn again from the start. */
			store_txn_abort(t);
			if ((r = store_grow(s)) < 0)
				return r;
			continue;
		}
		if (r < 0) {
			store_txn_abort(t);
			return r;
		}
		r = txn_commit_raw(t, &map_full);
		if (r == -ENOSPC && map_full) {
			if ((r = store_grow(s)) < 0)
				return r;
			continue;
		}
		if (r == 0)
			count_commit(s);
		return r;
	}
}

void store_set_commit_fault(struct store *s, int (*fault)(void *ctx),
			    void *ctx)
{
	s->fault = fault;
	s->fault_ctx = ctx;
}

int store_read(struct store *s, int (*fn)(struct store_txn *t, void *ctx),
	       void *ctx)
{
	struct store_txn *t = NULL;
	int r;

	if ((r = store_txn_begin(s, false, &t)) < 0)
		return r;
	r = fn(t, ctx);
	store_txn_abort(t); /* read-only: abort is the way to end it */
	return r;
}

/* Common argument checks: a usable transaction, a known table and a key
 * LMDB accepts (1 .. mdb_env_get_maxkeysize() bytes). */
static int check_key(struct store_txn *t, enum store_table tbl, const void *key,
		     size_t key_len)
{
	if (t->txn == NULL)
		return t->failed < 0 ? t->failed : -EIO;
	if ((unsigned)tbl >= STORE_TABLE_COUNT)
		return -EINVAL;
	if (key == NULL || key_len == 0 ||
	    key_len > (size_t)mdb_env_get_maxkeysize(t->s->env))
		return -EINVAL;
	return 0;
}

int store_put(struct store_txn *t, enum store_table tbl, const void *key,
	      size_t key_len, const void *val, size_t val_len)
{
	MDB_val k = {.mv_size = key_len, .mv_data = (void *)key};
	MDB_val v = {.mv_size = val_len, .mv_data = (void *)val};
	int r, rc;

	if ((r = check_key(t, tbl, key, key_len)) < 0)
		return r;
	if (!t->write)
		return -EINVAL;
	if (val == NULL && val_len != 0)
		return -EINVAL;
	if (val_len > 0xffffffffu)
		return -E2BIG; /* LMDB's limit for a single value */
	rc = mdb_put(t->txn, t->s->dbi[tbl], &k, &v, 0);
	if (rc == MDB_SUCCESS)
		return 0;
	/* Any mdb_put failure leaves the write transaction in an error
	 * state (mdb_txn_commit would refuse it): end it now. */
	txn_fail(t, rc);
	return t->failed;
}

/* Looks key up; *v points into the map until the transaction ends. */
static int get_raw(struct store_txn *t, enum store_table tbl, const void *key,
		   size_t key_len, MDB_val *v)
{
	MDB_val k = {.mv_size = key_len, .mv_data = (void *)key};
	int r, rc;

	if ((r = check_key(t, tbl, key, key_len)) < 0)
		return r;
	rc = mdb_get(t->txn, t->s->dbi[tbl], &k, v);
	return map_err(rc);
}

int store_get(struct store_txn *t, enum store_table tbl, const void *key,
	      size_t key_len, void *buf, size_t buf_max, size_t *val_len)
{
	MDB_val v;
	int r;

	*val_len = 0;
	if ((r = get_raw(t, tbl, key, key_len, &v)) < 0)
		return r;
	*val_len = v.mv_size;
	if (v.mv_size > buf_max)
		return -E2BIG;
	if (v.mv_size > 0)
		memcpy(buf, v.mv_data, v.mv_size);
	return 0;
}

int store_get_alloc(struct store_txn *t, enum store_table tbl, const void *key,
		    size_t key_len, uint8_t **val, size_t *val_len)
{
	MDB_val v;
	uint8_t *p;
	int r;

	*val = NULL;
	*val_len = 0;
	if ((r = get_raw(t, tbl, key, key_len, &v)) < 0)
		return r;
	p = malloc(v.mv_size > 0 ? v.mv_size : 1);
	if (p == NULL)
		return -ENOMEM;
	if (v.mv_size > 0)
		memcpy(p, v.mv_data, v.mv_size);
	*val = p;
	*val_len = v.mv_size;
	return 0;
}

int store_del(struct store_txn *t, enum store_table tbl, const void *key,
	      size_t key_len)
{
	MDB_val k = {.mv_size = key_len, .mv_data = (void *)key};
	int r, rc;

	if ((r = check_key(t, tbl, key, key_len)) < 0)
		return r;
	if (!t->write)
		return -EINVAL;
	rc = mdb_del(t->txn, t->s->dbi[tbl], &k, NULL);
	if (rc == MDB_SUCCESS)
		return 0;
	if (rc == MDB_NOTFOUND)
		return -ENOENT; /* leaves the transaction usable */
	txn_fail(t, rc);
	return t->failed;
}

/* Positions cur on the first entry to visit: the first key >= from going
 * forward, the last key <= from going backward (MDB_SET_RANGE finds the
 * first key >= from; when it is not from itself we step back one). */
static int scan_start(MDB_cursor *cur, MDB_txn *txn, MDB_dbi dbi,
		      const void *from, size_t from_len, bool reverse,
		      MDB_val *k, MDB_val *v)
{
	MDB_val f = {.mv_size = from_len, .mv_data = (void *)from};
	int rc;

	if (from == NULL)
		return mdb_cursor_get(cur, k, v,
				      reverse ? MDB_LAST : MDB_FIRST);
	*k = f;
	rc = mdb_cursor_get(cur, k, v, MDB_SET_RANGE);
	if (!reverse)
		return rc;
	if (rc == MDB_NOTFOUND)
		return mdb_cursor_get(cur, k, v, MDB_LAST);
	if (rc != MDB_SUCCESS)
		return rc;
	if (mdb_cmp(txn, dbi, k, &f) == 0)
		return MDB_SUCCESS;
	return mdb_cursor_get(cur, k, v, MDB_PREV);
}

int store_scan(struct store_txn *t, enum store_table tbl, const void *from,
	       size_t from_len, bool reverse, store_scan_cb cb, void *ctx)
{
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	int r, rc;

	if (t->txn == NULL)
		return t->failed < 0 ? t->failed : -EIO;
	if ((unsigned)tbl >= STORE_TABLE_COUNT || cb == NULL)
		return -EINVAL;
	if (from != NULL &&
	    (from_len == 0 ||
	     from_len > (size_t)mdb_env_get_maxkeysize(t->s->env)))
		return -EINVAL;
	rc = mdb_cursor_open(t->txn, t->s->dbi[tbl], &cur);
	if (rc != MDB_SUCCESS)
		return map_err(rc);
	rc = scan_start(cur, t->txn, t->s->dbi[tbl], from, from_len, reverse,
			&k, &v);
	r = 0;
	while (rc == MDB_SUCCESS) {
		r = cb(ctx, k.mv_data, k.mv_size, v.mv_data, v.mv_size);
		if (r != 0)
			break;
		rc = mdb_cursor_get(cur, &k, &v, reverse ? MDB_PREV : MDB_NEXT);
	}
	mdb_cursor_close(cur);
	if (r > 0)
		return 0;
	if (r < 0)
		return r;
	return rc == MDB_NOTFOUND ? 0 : map_err(rc);
}

int store_count(struct store_txn *t, enum store_table tbl, uint64_t *count)
{
	MDB_stat st;
	int rc;

	*count = 0;
	if (t->txn == NULL)
		return t->failed < 0 ? t->failed : -EIO;
	if ((unsigned)tbl >= STORE_TABLE_COUNT)
		return -EINVAL;
	rc = mdb_stat(t->txn, t->s->dbi[tbl], &st);
	if (rc != MDB_SUCCESS)
		return map_err(rc);
	*count = st.ms_entries;
	return 0;
}

/* zstd.  Frames are written with the content size in the header and a
 * content checksum (RFC 8878 section 3.1.1.1.1: Frame_Content_Size_Flag,
 * Content_Checksum_flag), so the reader can bound its output before it
 * decodes a byte and corruption is detected. */
size_t store_compress_bound(size_t src_len)
{
	return ZSTD_compressBound(src_len);
}

static int zstd_err(size_t code)
{
	switch (ZSTD_getErrorCode(code)) {
	case ZSTD_error_dstSize_tooSmall:
		return -E2BIG;
	case ZSTD_error_memory_allocation:
		return -ENOMEM;
	case ZSTD_error_parameter_outOfBound:
	case ZSTD_error_parameter_unsupported:
		return -EINVAL;
	default:
		return -EBADMSG;
	}
}

/* One compression and one decompression context per thread, made on
 * first use and kept: making a context costs more than compressing a
 * chat message.  Each call resets the context (session and parameters),
 * so nothing of one call leaks into the next but allocated memory, which
 * zstd reuses.  They live until the thread ends (the daemon has one). */
static _Thread_local ZSTD_CCtx *tl_cctx;
static _Thread_local ZSTD_DCtx *tl_dctx;

int store_compress(void *dst, size_t dst_max, size_t *out_len, const void *src,
		   size_t src_len, int level)
{
	ZSTD_CCtx *cctx;
	size_t n;

	*out_len = 0;
	if ((dst == NULL && dst_max != 0) || (src == NULL && src_len != 0))
		return -EINVAL;
	if (level < ZSTD_minCLevel() || level > ZSTD_maxCLevel())
		return -EINVAL;
	if (tl_cctx == NULL && (tl_cctx = ZSTD_createCCtx()) == NULL)
		return -ENOMEM;
	cctx = tl_cctx;
	n = ZSTD_CCtx_reset(cctx, ZSTD_reset_session_and_parameters);
	if (!ZSTD_isError(n))
		n = ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel,
					   level);
	if (!ZSTD_isError(n))
		n = ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 1);
	if (!ZSTD_isError(n))
		n = ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
	if (!ZSTD_isError(n))
		n = ZSTD_compress2(cctx, dst, dst_max, src, src_len);
	if (ZSTD_isError(n))
		return zstd_err(n);
	*out_len = n;
	return 0;
}

/* Refuses, before decoding anything: data that is not exactly one zstd
 * frame (RFC 8878 section 3.1.1: Magic_Number 0xFD2FB528; skippable frames
 * and trailing bytes are refused), a frame that does not declare its
 * content size (-EBADMSG), and one declaring more than dst_max (-E2BIG,
 * *out_len = the declared size).  Decoding then writes straight into dst,
 * so zstd allocates no window buffer whatever the frame header asks for. */
int store_decompress(void *dst, size_t dst_max, size_t *out_len,
		     const void *src, size_t src_len)
{
	const uint8_t *p = src;
	ZSTD_DCtx *dctx;
	unsigned long long declared;
	size_t n;

	*out_len = 0;
	if (src == NULL || (dst == NULL && dst_max != 0))
		return -EINVAL;
	if (src_len < 4 ||
	    ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	     (uint32_t)p[3] << 24) != ZSTD_MAGICNUMBER)
		return -EBADMSG;
	declared = ZSTD_getFrameContentSize(src, src_len);
	if (declared == ZSTD_CONTENTSIZE_UNKNOWN ||
	    declared == ZSTD_CONTENTSIZE_ERROR)
		return -EBADMSG;
	if (declared > dst_max) {
		*out_len = declared > SIZE_MAX ? SIZE_MAX : (size_t)declared;
		return -E2BIG;
	}
	n = ZSTD_findFrameCompressedSize(src, src_len);
	if (ZSTD_isError(n) || n != src_len)
		return -EBADMSG;
	if (tl_dctx == NULL && (tl_dctx = ZSTD_createDCtx()) == NULL)
		return -ENOMEM;
	dctx = tl_dctx;
	n = ZSTD_DCtx_reset(dctx, ZSTD_reset_session_and_parameters);
	if (ZSTD_isError(n))
		return -ENOMEM;
	n = ZSTD_decompressDCtx(dctx, dst, (size_t)declared, src, src_len);
	if (ZSTD_isError(n)) {
		/* The frame lied about its size or is corrupt: either way
		 * the data is bad, not our buffer too small. */
		return ZSTD_getErrorCode(n) == ZSTD_error_memory_allocation
			       ? -ENOMEM
			       : -EBADMSG;
	}
	if (n != declared)
		return -EBADMSG;
	*out_len = n;
	return 0;
}
