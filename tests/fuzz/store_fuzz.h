/* Shared by the fuzz targets that go through a real store: an LMDB
 * environment in a temporary directory (TMPDIR or /tmp) with an identity
 * made from a fixed seed, opened on first use and removed at exit. */
#ifndef PARLEY_STORE_FUZZ_H
#define PARLEY_STORE_FUZZ_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "crypto/cx.h"
#include "crypto/keys.h"
#include "store/store.h"
#include "tests/fuzz/cx_fuzz.h"

struct fuzz_store {
	char dir[256];
	struct fuzz_rng rng;
	struct cx_identity id;
	bool has_id;
	struct store *s;
};

/* Closes the store, wipes the identity and removes the directory. */
static inline void fuzz_store_close(struct fuzz_store *f)
{
	char path[300];

	store_close(f->s);
	f->s = NULL;
	if (f->has_id)
		cx_identity_close(&f->id);
	f->has_id = false;
	snprintf(path, sizeof path, "%s/data.mdb", f->dir);
	unlink(path);
	snprintf(path, sizeof path, "%s/lock.mdb", f->dir);
	unlink(path);
	rmdir(f->dir);
}

/* 0, or -1 with everything undone. */
static inline int fuzz_store_open(struct fuzz_store *f, uint64_t seed)
{
	struct store_opts o = {.no_sync = true};
	const char *tmp = getenv("TMPDIR");

	snprintf(f->dir, sizeof f->dir, "%s/parley-fuzz-XXXXXX",
		 tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if (cx_init() < 0 || mkdtemp(f->dir) == NULL)
		return -1;
	fuzz_rng_init(&f->rng, seed);
	if (cx_identity_generate(&f->id, &f->rng.rng, 1) < 0) {
		rmdir(f->dir);
		return -1;
	}
	f->has_id = true;
	if (store_open(&f->s, f->dir, &o) < 0) {
		fuzz_store_close(f);
		return -1;
	}
	return 0;
}

#endif
