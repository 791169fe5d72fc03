/* bench/dht: figures for issue 3 from the deterministic simulator.
 *
 * For each N (default 1,000, 10,000 and 100,000 nodes; or the arguments):
 *   - lookups: 1,000 find_node lookups from random nodes to random node
 *     IDs: rounds until the target's contact was learned (p50/p95), the
 *     same plus the round that reached the target itself, packets per
 *     lookup (requests + replies), success, wall time;
 *   - records: puts, then gets from random nodes: success, round of the
 *     first stored copy (p50/p95), packets per get;
 *   - memory: resident set growth per simulated node (everything: the
 *     node's dht, the simulator's per-node state and queued packets);
 *   - idle: packets sent and received per node per minute over 65
 *     virtual minutes with no lookups (one hourly bucket-refresh cycle;
 *     skipped at 100,000 unless BENCH_DHT_IDLE_ALL=1, for wall time);
 *   - vanish: 30%, 50%, 70% of nodes gone at once, no repair: get success;
 *   - Sybils: 20% hostile nodes (IDs bound to keys): lookup success, plain
 *     and with disjoint paths (d = 4).
 * Every node runs the real code path: real crypto_box sealing with cached
 * shared keys, real Ed25519 records.  Routing tables start warm (filled
 * from global knowledge, sim_warm_start) so a run measures lookups, not
 * N joins.  Prints SIM_SEED; SIM_SEED=n replays. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/cx.h"
#include "crypto/sign.h"
#include "dht/dht.h"
#include "tests/sim/sim.h"

static uint64_t seed;

static double wall_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static long rss_kib(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	long pages = 0, rss = 0;

	if (f == NULL)
		return 0;
	if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
		rss = 0;
	fclose(f);
	return rss * 4;
}

struct samples {
	unsigned *v;
	unsigned n, cap;
};

static void add(struct samples *s, unsigned x)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 1024;
		s->v = realloc(s->v, s->cap * sizeof *s->v);
		if (s->v == NULL)
			abort();
	}
	s->v[s->n++] = x;
}

static int ucmp(const void *a, const void *b)
{
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;

	return x < y ? -1 : x > y;
}

static unsigned pct(struct samples *s, unsigned p)
{
	if (s->n == 0)
		return 0;
	qsort(s->v, s->n, sizeof *s->v, ucmp);
	return s->v[(size_t)(s->n - 1) * p / 100];
}

static double mean(const struct samples *s)
{
	double t = 0;

	for (unsigned i = 0; i < s->n; i++)
		t += s->v[i];
	return s->n ? t / s->n : 0;
}

struct batch {
	unsigned started, done, found;
	struct samples rounds, rounds_v, msgs;
};

static void find_cb(void *arg, const struct dht_result *res)
{
	struct batch *b = arg;

	b->done++;
	add(&b->msgs, res->queries + res->replies);
	if (res->status == 0) {
		b->found++;
		add(&b->rounds, res->rounds);
		add(&b->rounds_v, res->rounds + 1);
	}
}

static void get_cb(void *arg, const struct dht_result *res)
{
	struct batch *b = arg;

	b->done++;
	add(&b->msgs, res->queries + res->replies);
	if (res->status == 0 && res->record != NULL) {
		b->found++;
		add(&b->rounds, res->rounds);
	}
}

static void put_cb(void *arg, const struct dht_result *res)
{
	struct batch *b = arg;

	b->done++;
	if (res->status == 0)
		b->found++;
	add(&b->rounds, res->stored);
}

static bool batch_done(void *arg)
{
	struct batch *b = arg;

	return b->done == b->started;
}

static void batch_free(struct batch *b)
{
	free(b->rounds.v);
	free(b->rounds_v.v);
	free(b->msgs.v);
	memset(b, 0, sizeof *b);
}

static unsigned pick(struct sim *s, struct sim_rng *r)
{
	for (;;) {
		unsigned i = (unsigned)sim_rng_below(r, sim_num_nodes(s));

		if (sim_is_up(s, i) && sim_role(s, i) == SIM_ROLE_HONEST)
			return i;
	}
}

#define CONCURRENT 50

/* n find_node lookups, CONCURRENT at a time. */
static void run_lookups(struct sim *s, struct sim_rng *r, unsigned n,
			unsigned flags, struct batch *b)
{
	for (unsigned k = 0; k < n;) {
		for (unsigned c = 0; c < CONCURRENT && k < n; c++, k++) {
			unsigned from = pick(s, r), to;

			do
				to = pick(s, r);
			while (to == from);
			b->started++;
			if (dht_find_node(sim_dht(s, from), sim_now(s),
					  sim_node_id(s, to), flags,
					  (struct dht_lookup_cb){find_cb, b}) <
			    0) {
				b->done++;
				continue;
			}
			sim_touch(s, from);
		}
		sim_run_while(s, batch_done, b, sim_now(s) + 600000);
	}
}

static void make_record(struct dht_record *rec, unsigned i, uint64_t now_ms)
{
	uint8_t sd[32] = {0}, sk[64];

	memset(rec, 0, sizeof *rec);
	memcpy(sd, &seed, sizeof seed);
	sd[8] = (uint8_t)i;
	sd[9] = (uint8_t)(i >> 8);
	sd[10] = (uint8_t)(i >> 16);
	cx_sign_keypair_seed(rec->pk, sk, sd);
	rec->kind = DHT_RECORD_KIND_GENERIC;
	rec->seq = 1;
	rec->expiry_s = now_ms / 1000 + 7200;
	rec->value_len = 100;
	memset(rec->value, 'v', rec->value_len);
	dht_record_sign(rec, sk);
	cx_wipe(sk, sizeof sk);
}

static void run_puts(struct sim *s, struct sim_rng *r, unsigned n,
		     uint8_t (*keys)[DHT_ID_LEN], struct batch *b)
{
	for (unsigned k = 0; k < n;) {
		for (unsigned c = 0; c < CONCURRENT && k < n; c++, k++) {
			struct dht_record rec;
			unsigned from = pick(s, r);

			make_record(&rec, k, sim_now(s));
			dht_record_key(keys[k], &rec);
			b->started++;
			if (dht_put(sim_dht(s, from), sim_now(s), &rec, 0,
				    (struct dht_lookup_cb){put_cb, b}) < 0) {
				b->done++;
				continue;
			}
			sim_touch(s, from);
		}
		sim_run_while(s, batch_done, b, sim_now(s) + 600000);
	}
}

static void run_gets_flags(struct sim *s, struct sim_rng *r, unsigned n,
			   unsigned nkeys, uint8_t (*keys)[DHT_ID_LEN],
			   unsigned flags, struct batch *b)
{
	for (unsigned k = 0; k < n;) {
		for (unsigned c = 0; c < CONCURRENT && k < n; c++, k++) {
			unsigned from = pick(s, r);

			b->started++;
			if (dht_get(sim_dht(s, from), sim_now(s),
				    keys[k % nkeys], flags,
				    (struct dht_lookup_cb){get_cb, b}) < 0) {
				b->done++;
				continue;
			}
			sim_touch(s, from);
		}
		sim_run_while(s, batch_done, b, sim_now(s) + 600000);
	}
}

static void run_gets(struct sim *s, struct sim_rng *r, unsigned n,
		     unsigned nkeys, uint8_t (*keys)[DHT_ID_LEN],
		     struct batch *b)
{
	run_gets_flags(s, r, n, nkeys, keys, DHT_GET_FIRST, b);
}

/* Nodes holding a copy of each key, on average. */
static double copies(struct sim *s, unsigned nkeys, uint8_t (*keys)[DHT_ID_LEN])
{
	struct dht_record tmp;
	unsigned long held = 0;

	for (unsigned k = 0; k < nkeys; k++)
		for (unsigned i = 0; i < sim_num_nodes(s); i++)
			if (sim_is_up(s, i) &&
			    dht_record_lookup_local(sim_dht(s, i), keys[k],
						    &tmp) == 0)
				held++;
	return nkeys ? (double)held / nkeys : 0;
}

static struct sim *make(unsigned n, double sybils, double *setup_s)
{
	struct sim_config c = {0};
	struct sim *s;
	double t0 = wall_s();

	c.seed = seed;
	c.num_nodes = n;
	c.sybil_fraction = sybils;
	c.quiet = true;
	if (sim_new(&s, &c) < 0) {
		fprintf(stderr, "sim_new failed\n");
		exit(1);
	}
	sim_warm_start(s);
	if (setup_s != NULL)
		*setup_s = wall_s() - t0;
	return s;
}

#define LOOKUPS 1000
#define RECORDS 200
#define GETS 1000

static void bench_n(unsigned n, bool full)
{
	struct sim_rng r;
	struct batch b = {0};
	struct sim *s;
	struct sim_stats st0, st1;
	uint8_t(*keys)[DHT_ID_LEN] = calloc(RECORDS, DHT_ID_LEN);
	long rss0 = rss_kib(), rss1;
	double setup, t0, t_lookups;
	unsigned idle_min = 65;
	static const unsigned vanish[] = {30, 50, 70};

	sim_rng_seed(&r, seed, n);
	printf("\n== N = %u nodes\n", n);
	s = make(n, 0, &setup);
	printf("setup (keys + warm tables): %.1f s\n", setup);

	t0 = wall_s();
	run_lookups(s, &r, LOOKUPS, 0, &b);
	t_lookups = wall_s() - t0;
	rss1 = rss_kib();
	printf("lookups: %u, found %u (%.2f%%)\n", LOOKUPS, b.found,
	       100.0 * b.found / LOOKUPS);
	printf("  rounds to learn the target: p50 %u, p95 %u (mean %.2f)\n",
	       pct(&b.rounds, 50), pct(&b.rounds, 95), mean(&b.rounds));
	printf("  rounds incl. reaching the target: p50 %u, p95 %u\n",
	       pct(&b.rounds_v, 50), pct(&b.rounds_v, 95));
	printf("  packets per lookup (requests + replies): mean %.1f, p50 "
	       "%u, p95 %u\n",
	       mean(&b.msgs), pct(&b.msgs, 50), pct(&b.msgs, 95));
	printf("  wall time for %u lookups: %.2f s\n", LOOKUPS, t_lookups);
	printf("memory per node: %.1f KiB (RSS growth %ld KiB / %u)\n",
	       (double)(rss1 - rss0) / n, rss1 - rss0, n);
	batch_free(&b);

	sim_stats(s, &st0);
	run_puts(s, &r, RECORDS, keys, &b);
	/* A put answers when the nearest nodes acknowledged; its lookup goes
	 * on storing on the rest of the k closest.  Let those end (10 virtual
	 * seconds: five request timeouts) before counting. */
	sim_run_until(s, sim_now(s) + 10000);
	sim_stats(s, &st1);
	printf("puts: %u, ok %u, acknowledged when answered mean %.1f, "
	       "copies held after mean %.1f; packets per put %.1f\n",
	       RECORDS, b.found, mean(&b.rounds), copies(s, RECORDS, keys),
	       (double)(st1.sent - st0.sent) / RECORDS);
	batch_free(&b);
	run_gets(s, &r, GETS, RECORDS, keys, &b);
	printf("gets: %u, found %u (%.2f%%); round of first copy p50 %u, "
	       "p95 %u; packets per get mean %.1f\n",
	       GETS, b.found, 100.0 * b.found / GETS, pct(&b.rounds, 50),
	       pct(&b.rounds, 95), mean(&b.msgs));
	batch_free(&b);
	/* The default get: the highest seq among the nearest nodes. */
	run_gets_flags(s, &r, GETS, RECORDS, keys, 0, &b);
	printf("gets converging (default): found %u (%.2f%%); packets per "
	       "get mean %.1f, p95 %u\n",
	       b.found, 100.0 * b.found / GETS, mean(&b.msgs),
	       pct(&b.msgs, 95));
	batch_free(&b);

	if (n >= 100000 && getenv("BENCH_DHT_IDLE_ALL") == NULL) {
		/* Every idle packet is a real crypto_box to a mostly
		 * uncached peer: 100,000 nodes x 16 minutes is several
		 * minutes of wall time.  BENCH_DHT_IDLE_ALL=1 runs it. */
		printf("idle: skipped at this N (BENCH_DHT_IDLE_ALL=1 runs "
		       "it)\n");
		sim_free(s);
		goto vanish;
	}
	if (n >= 100000)
		idle_min = 65;
	t0 = wall_s();
	sim_stats(s, &st0);
	sim_run_until(s, sim_now(s) + idle_min * 60000ull);
	sim_stats(s, &st1);
	printf("idle: %.2f packets sent and %.2f received per node per minute "
	       "(%u min, %.1f s wall)\n",
	       (double)(st1.sent - st0.sent) / n / idle_min,
	       (double)(st1.delivered - st0.delivered) / n / idle_min, idle_min,
	       wall_s() - t0);
	sim_free(s);
vanish:
	if (!full)
		goto out;
	for (unsigned v = 0; v < 3; v++) {
		unsigned gone = 0;

		s = make(n, 0, NULL);
		sim_rng_seed(&r, seed, n + v + 1);
		run_puts(s, &r, RECORDS, keys, &b);
		batch_free(&b);
		/* The scenario is stored records meeting a mass failure: let
		 * the puts, which answer at the settled head, place their
		 * last copies first (as above). */
		sim_run_until(s, sim_now(s) + 10000);
		for (unsigned i = 0; i < n; i++) {
			if (sim_rng_below(&r, 100) < vanish[v]) {
				sim_set_up(s, i, false);
				gone++;
			}
		}
		t0 = wall_s();
		run_gets(s, &r, GETS, RECORDS, keys, &b);
		printf("vanish %u%% at once (%u nodes), no repair: get success "
		       "%.2f%% (%u/%u), first-copy round p50 %u, packets "
		       "per get %.1f, %.1f s\n",
		       vanish[v], gone, 100.0 * b.found / GETS, b.found, GETS,
		       pct(&b.rounds, 50), mean(&b.msgs), wall_s() - t0);
		batch_free(&b);
		sim_free(s);
	}

	s = make(n, 0.2, NULL);
	sim_rng_seed(&r, seed, n + 10);
	run_lookups(s, &r, LOOKUPS, 0, &b);
	printf("20%% Sybils: plain lookups found %.2f%%",
	       100.0 * b.found / LOOKUPS);
	batch_free(&b);
	t0 = wall_s();
	run_lookups(s, &r, LOOKUPS, DHT_LOOKUP_DISJOINT, &b);
	printf("; disjoint (d = 4) found %.2f%%, packets per lookup %.1f, "
	       "p50 rounds %u (%.1f s)\n",
	       100.0 * b.found / LOOKUPS, mean(&b.msgs), pct(&b.rounds, 50),
	       wall_s() - t0);
	batch_free(&b);
	sim_free(s);
out:
	free(keys);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	static const unsigned dflt[] = {1000, 10000, 100000};
	bool full = getenv("BENCH_DHT_QUICK") == NULL;
	double t0 = wall_s();

	setvbuf(stdout, NULL, _IOLBF, 0); /* figures as they come */
	seed = sim_pick_seed(20261127, false);
	sim_sodium_seed(seed);
	if (cx_init() < 0)
		return 1;
	if (argc > 1) {
		for (int i = 1; i < argc; i++)
			bench_n((unsigned)strtoul(argv[i], NULL, 10), full);
	} else {
		for (unsigned i = 0; i < 3; i++)
			bench_n(dflt[i], full);
	}
	printf("\ntotal wall time %.1f s\n", wall_s() - t0);
	return 0;
}
