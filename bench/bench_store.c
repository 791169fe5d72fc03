/* bench_store: what a durable commit costs on this disk, and so the least
 * a chat round trip can take (issue 5's round-trip target).
 *
 * A ping-pong between two people's clients (bench_msg) waits for four
 * store commits in a row, each durable before anything depends on it:
 * the sender's outbox (messages.send answers only then, and the ratchet
 * state is on disk before a byte is sent), the recipient's history (then
 * the message.received event), the recipient's outbox for the answer,
 * and the sender's history.  This program measures, in one run:
 *
 *   store.fsync_page_p50/p99   pwrite of one 4 KiB page + fdatasync, on a
 *                              file in the same directory: one barrier;
 *   store.commit_p50/p99       store_write() of one small record into a
 *                              table of many, the store the daemon uses
 *                              (LMDB: the dirty pages and an fdatasync,
 *                              then the meta page through an O_DSYNC
 *                              descriptor: two barriers);
 *   store.round_trip_floor_p50 four commits, the least a durable round
 *                              trip waits for, before any CPU work;
 *   store.commit_nosync_p50    the same commit without syncing (what the
 *                              work costs beside the disk).
 *
 * Output lines are "store.NAME VALUE UNIT"; '#' lines are comments.
 * Usage: bench_store [--tmp DIR] [--commits N]   (default /tmp, 2000) */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/bench_util.h"
#include "store/store.h"

struct put {
	uint64_t i;
};

static int put_txn(struct store_txn *t, void *ctx)
{
	struct put *p = ctx;
	uint8_t key[8], val[120];

	for (int k = 0; k < 8; k++)
		key[k] = (uint8_t)(p->i >> (56 - 8 * k));
	memset(val, (int)(p->i & 0xff), sizeof val);
	return store_put(t, STORE_TABLE_MESSAGES, key, sizeof key, val,
			 sizeof val);
}

/* Removes dir and the files in it (the store makes no subdirectory). */
static void rm_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[4400];

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		unlink(path);
	}
	closedir(d);
	if (rmdir(dir) < 0)
		fprintf(stderr, "bench_store: could not remove %s\n", dir);
}

static void fail(const char *what, int err)
{
	fprintf(stderr, "bench_store: %s: %s\n", what, strerror(err));
	exit(1);
}

/* Commits n small records (after a warm-up of as many), each timed. */
static void commits(const char *dir, bool no_sync, long n, double *ms)
{
	struct store_opts o = {.no_sync = no_sync};
	struct store *s;
	struct put p = {0};
	int r;

	if ((r = store_open(&s, dir, &o)) < 0)
		fail("store_open", -r);
	for (long i = 0; i < 2 * n; i++) {
		double t0 = bu_now();

		p.i = (uint64_t)i * 2654435761u; /* spread over the tree */
		if ((r = store_write(s, put_txn, &p)) < 0)
			fail("store_write", -r);
		if (i >= n)
			ms[i - n] = (bu_now() - t0) * 1e3;
	}
	store_close(s);
	qsort(ms, (size_t)n, sizeof *ms, bu_cmp_double);
}

int main(int argc, char **argv)
{
	const char *tmp = "/tmp";
	long n = 2000;
	char dir[4096], dir2[4096], file[4200];
	double *ms;
	uint8_t page[4096];
	int fd;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--tmp") == 0 && i + 1 < argc) {
			tmp = argv[++i];
		} else if (strcmp(argv[i], "--commits") == 0 && i + 1 < argc) {
			n = strtol(argv[++i], NULL, 10);
		} else {
			fprintf(stderr,
				"usage: bench_store [--tmp DIR] [--commits N]\n");
			return 64;
		}
	}
	if (n < 10 || n > 1000000 || (ms = calloc((size_t)n, sizeof *ms)) == NULL)
		fail("arguments", EINVAL);
	snprintf(dir, sizeof dir, "%s/bench-store.XXXXXX", tmp);
	snprintf(dir2, sizeof dir2, "%s/bench-store.XXXXXX", tmp);
	if (mkdtemp(dir) == NULL || mkdtemp(dir2) == NULL)
		fail("mkdtemp", errno);
	printf("# %ld commits of one 120-byte record each, after as many "
	       "to warm up; data directory under %s\n",
	       n, tmp);

	/* one page and one barrier */
	snprintf(file, sizeof file, "%s/page", dir);
	if ((fd = open(file, O_RDWR | O_CREAT, 0600)) < 0)
		fail("open", errno);
	memset(page, 0x5a, sizeof page);
	for (long i = 0; i < 2 * n; i++) {
		double t0 = bu_now();

		if (pwrite(fd, page, sizeof page, (off_t)(i % 64) * 4096) !=
			    (ssize_t)sizeof page ||
		    fdatasync(fd) < 0)
			fail("pwrite/fdatasync", errno);
		if (i >= n)
			ms[i - n] = (bu_now() - t0) * 1e3;
	}
	close(fd);
	unlink(file);
	qsort(ms, (size_t)n, sizeof *ms, bu_cmp_double);
	printf("store.fsync_page_p50 %.3f ms\n", bu_pct(ms, (size_t)n, 50));
	printf("store.fsync_page_p99 %.3f ms\n", bu_pct(ms, (size_t)n, 99));

	commits(dir, false, n, ms);
	printf("store.commit_p50 %.3f ms\n", bu_pct(ms, (size_t)n, 50));
	printf("store.commit_p99 %.3f ms\n", bu_pct(ms, (size_t)n, 99));
	printf("store.round_trip_floor_p50 %.3f ms\n",
	       4 * bu_pct(ms, (size_t)n, 50));
	commits(dir2, true, n, ms);
	printf("store.commit_nosync_p50 %.3f ms\n",
	       bu_pct(ms, (size_t)n, 50));
	rm_dir(dir);
	rm_dir(dir2);
	free(ms);
	return 0;
}
