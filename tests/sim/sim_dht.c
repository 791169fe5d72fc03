/* Simulation tests for dht/ (TAP).  Each scenario reads like the protocol:
 * nodes join from one address, find each other, store and fetch signed
 * records, and keep working under loss, reordering, partitions, churn,
 * mass departure and Sybils.  Everything is seeded: the first line is
 * "# SIM_SEED=n", and SIM_SEED=n reruns a failing run exactly.  No wall
 * clock, no sleeps, no retries. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/cx.h"
#include "crypto/sign.h"
#include "dht/dht.h"
#include "tests/sim/sim.h"

static int test_num;
static int failed;
static uint64_t seed;

/* One TAP line: "what (v)". */
static void ok(bool cond, const char *what, double v)
{
	test_num++;
	printf("%s %d - %s (%g)\n", cond ? "ok" : "not ok", test_num, what, v);
	if (!cond) {
		failed = 1;
		printf("# failed; rerun with SIM_SEED=%" PRIu64 "\n", seed);
	}
}

/* --- lookup bookkeeping --- */

struct tally {
	unsigned started, done, found, stored;
	unsigned rounds_sum, queries_sum;
	uint64_t last_seq;
	uint64_t done_ms; /* virtual time of the last callback */
	struct sim *s;	  /* set when done_ms is wanted */
	uint8_t want[DHT_ID_LEN];
};

static void find_cb(void *arg, const struct dht_result *res)
{
	struct tally *t = arg;

	t->done++;
	if (res->status == 0)
		t->found++;
	t->rounds_sum += res->rounds;
}

static void get_cb(void *arg, const struct dht_result *res)
{
	struct tally *t = arg;

	t->done++;
	t->queries_sum += res->queries;
	if (res->status == 0 && res->record != NULL) {
		t->found++;
		t->last_seq = res->record->seq;
	}
}

static void put_cb(void *arg, const struct dht_result *res)
{
	struct tally *t = arg;

	t->done++;
	if (res->status == 0)
		t->found++;
	t->stored += res->stored;
	t->queries_sum += res->queries;
	if (t->s != NULL)
		t->done_ms = sim_now(t->s);
}

static bool tally_done(void *arg)
{
	struct tally *t = arg;

	return t->done == t->started;
}

/* The node's lookups have all ended (a put answers before its last
 * stores are acknowledged). */
struct idle_node {
	struct sim *s;
	unsigned i;
};

static bool node_idle(void *arg)
{
	const struct idle_node *n = arg;
	struct dht_status st;

	dht_status(sim_dht(n->s, n->i), &st);
	return st.lookups == 0;
}

static unsigned pick_up(struct sim *s, struct sim_rng *r, bool honest)
{
	for (;;) {
		unsigned i = (unsigned)sim_rng_below(r, sim_num_nodes(s));

		if (sim_is_up(s, i) &&
		    (!honest || sim_role(s, i) == SIM_ROLE_HONEST))
			return i;
	}
}

/* n lookups from random up honest nodes to random up honest targets,
 * one after the other; returns the share found. */
static double lookups(struct sim *s, struct sim_rng *r, unsigned n,
		      unsigned flags, double *avg_rounds)
{
	struct tally t = {0};

	for (unsigned k = 0; k < n; k++) {
		unsigned from = pick_up(s, r, true), to;

		do
			to = pick_up(s, r, true);
		while (to == from);
		t.started++;
		if (dht_find_node(sim_dht(s, from), sim_now(s),
				  sim_node_id(s, to), flags,
				  (struct dht_lookup_cb){find_cb, &t}) < 0) {
			t.done++;
			continue;
		}
		sim_touch(s, from);
		sim_run_while(s, tally_done, &t, sim_now(s) + 120000);
	}
	if (avg_rounds != NULL)
		*avg_rounds = t.found ? (double)t.rounds_sum / t.found : 0;
	return (double)t.found / n;
}

static void make_record(struct dht_record *rec, uint8_t sk[64], unsigned i,
			uint64_t seq, uint64_t now_ms)
{
	uint8_t seedb[32] = {0};

	memset(rec, 0, sizeof *rec);
	seedb[0] = (uint8_t)i;
	seedb[1] = (uint8_t)(i >> 8);
	seedb[2] = 0x5a;
	cx_sign_keypair_seed(rec->pk, sk, seedb);
	rec->kind = DHT_RECORD_KIND_GENERIC;
	rec->seq = seq;
	rec->expiry_s = now_ms / 1000 + 7200;
	rec->value_len = (uint16_t)snprintf((char *)rec->value, DHT_VALUE_MAX,
					    "value %u seq %" PRIu64, i, seq);
	dht_record_sign(rec, sk);
}

static unsigned put_records(struct sim *s, struct sim_rng *r, unsigned n,
			    uint64_t seq, uint8_t keys[][DHT_ID_LEN])
{
	struct tally t = {0};

	for (unsigned k = 0; k < n; k++) {
		struct dht_record rec;
		uint8_t sk[64];
		unsigned from = pick_up(s, r, true);

		make_record(&rec, sk, k, seq, sim_now(s));
		dht_record_key(keys[k], &rec);
		t.started++;
		if (dht_put(sim_dht(s, from), sim_now(s), &rec, 0,
			    (struct dht_lookup_cb){put_cb, &t}) < 0) {
			t.done++;
			continue;
		}
		sim_touch(s, from);
		sim_run_while(s, tally_done, &t, sim_now(s) + 120000);
	}
	return t.found;
}

static unsigned get_queries; /* requests of the last get_records() */

static unsigned get_records(struct sim *s, struct sim_rng *r, unsigned n,
			    uint8_t keys[][DHT_ID_LEN], unsigned flags,
			    uint64_t *seq_sum)
{
	struct tally t = {0};

	*seq_sum = 0;
	for (unsigned k = 0; k < n; k++) {
		unsigned from = pick_up(s, r, true);

		t.started++;
		t.last_seq = 0;
		if (dht_get(sim_dht(s, from), sim_now(s), keys[k], flags,
			    (struct dht_lookup_cb){get_cb, &t}) < 0) {
			t.done++;
			continue;
		}
		sim_touch(s, from);
		sim_run_while(s, tally_done, &t, sim_now(s) + 120000);
		*seq_sum += t.last_seq;
	}
	get_queries = t.queries_sum;
	return t.found;
}

static struct sim *make_sim(unsigned n, double loss, double sybils, unsigned v6)
{
	struct sim_config c = {0};
	struct sim *s;

	c.seed = seed;
	c.num_nodes = n;
	c.loss = loss;
	c.ipv6_every = v6;
	c.sybil_fraction = sybils;
	c.quiet = true;
	if (sim_new(&s, &c) < 0) {
		printf("Bail out! sim_new failed\n");
		exit(1);
	}
	return s;
}

/* --- scenarios --- */

static void t_join_and_find(void)
{
	struct sim *s = make_sim(100, 0, 0, 3);
	struct sim_rng r;
	struct dht_status st;
	unsigned small = 0;
	double share, rounds;

	sim_rng_seed(&r, seed, 1);
	sim_join_all(s, 2000);
	sim_run_until(s, sim_now(s) + 60000);
	for (unsigned i = 0; i < sim_num_nodes(s); i++) {
		dht_status(sim_dht(s, i), &st);
		if (st.contacts < 20)
			small++;
	}
	ok(small == 0, "100 nodes (IPv4 and IPv6) join from one address",
	   small);
	share = lookups(s, &r, 100, 0, &rounds);
	ok(share == 1.0, "every find_node finds its target", share);
	ok(rounds <= 3.0, "in few rounds on average", rounds);
	sim_free(s);
}

static void t_records(void)
{
	struct sim *s = make_sim(80, 0, 0, 0);
	struct sim_rng r;
	uint8_t keys[30][DHT_ID_LEN];
	uint64_t seq_sum;
	unsigned n;
	struct dht_record rec;
	uint8_t sk[64];
	struct tally t = {0};

	sim_rng_seed(&r, seed, 2);
	sim_join_all(s, 1000);
	sim_run_until(s, sim_now(s) + 30000);
	n = put_records(s, &r, 30, 5, keys);
	ok(n == 30, "30 puts are stored", n);
	n = get_records(s, &r, 30, keys, 0, &seq_sum);
	ok(n == 30, "30 gets from other nodes find them", n);
	ok(seq_sum == 30 * 5, "with the stored sequence numbers", 0);
	/* A lower sequence number never replaces a stored one. */
	put_records(s, &r, 30, 3, keys);
	get_records(s, &r, 30, keys, 0, &seq_sum);
	ok(seq_sum == 30 * 5, "seq 3 does not replace seq 5", (double)seq_sum);
	put_records(s, &r, 30, 9, keys);
	get_records(s, &r, 30, keys, 0, &seq_sum);
	ok(seq_sum == 30 * 9, "seq 9 replaces seq 5", (double)seq_sum);
	/* They answer at the settled head, not after the k closest. */
	ok(get_queries <= 30 * DHT_K / 2,
	   "converging gets ask fewer than k/2 nodes on average",
	   get_queries / 30.0);
	/* Expiry: after the record's lifetime nobody returns it. */
	sim_run_until(s, sim_now(s) + 7300 * 1000ull);
	n = get_records(s, &r, 10, keys, 0, &seq_sum);
	ok(n == 0, "expired records are dropped", n);
	/* Republishing: a record kept by its publisher outlives the loss
	 * of every node that held it. */
	make_record(&rec, sk, 999, 1, sim_now(s));
	rec.expiry_s = sim_now(s) / 1000 + 6 * 3600;
	dht_record_sign(&rec, sk);
	t.started = 1;
	dht_put(sim_dht(s, 7), sim_now(s), &rec, DHT_PUT_REPUBLISH,
		(struct dht_lookup_cb){put_cb, &t});
	sim_touch(s, 7);
	sim_run_while(s, tally_done, &t, sim_now(s) + 60000);
	ok(t.stored >= DHT_SETTLE, "the put answers once the nearest acked",
	   t.stored);
	{
		struct idle_node in = {s, 7};

		sim_run_while(s, node_idle, &in, sim_now(s) + 60000);
	}
	{
		uint8_t key[DHT_ID_LEN];
		unsigned holders = 0, later = 0;

		dht_record_key(key, &rec);
		for (unsigned i = 0; i < sim_num_nodes(s); i++) {
			struct dht_record tmp;

			if (i != 7 && dht_record_lookup_local(sim_dht(s, i),
							      key, &tmp) == 0) {
				holders++;
				/* wipe it: simulate the holders losing it */
				sim_set_up(s, i, false);
			}
		}
		ok(holders >= 15, "a put reaches the k closest", holders);
		sim_run_until(s, sim_now(s) + 3600 * 1000ull + 120000);
		for (unsigned i = 0; i < sim_num_nodes(s); i++) {
			struct dht_record tmp;

			if (sim_is_up(s, i) &&
			    dht_record_lookup_local(sim_dht(s, i), key, &tmp) ==
				    0)
				later++;
		}
		/* Every live node near the key still lists the dead holders
		 * (no repair), so the republish reaches those it finds
		 * alive. */
		ok(later >= 5, "the publisher republishes to live nodes",
		   later);
		{
			uint8_t one[1][DHT_ID_LEN];
			uint64_t seq_sum2;

			memcpy(one[0], key, DHT_ID_LEN);
			n = 0;
			for (unsigned k = 0; k < 10; k++)
				n += get_records(s, &r, 1, one, 0, &seq_sum2);
			ok(n == 10, "and gets find the republished record", n);
		}
	}
	sim_free(s);
}

/* How many of the k live nodes closest to key hold a record under it with
 * a sequence number of at least seq. */
static unsigned k_closest_holders(struct sim *s, const uint8_t key[32],
				  uint64_t seq)
{
	unsigned order[256], n = 0, held = 0;

	for (unsigned i = 0; i < sim_num_nodes(s) && n < 256; i++)
		if (sim_is_up(s, i))
			order[n++] = i;
	for (unsigned a = 1; a < n; a++) /* insertion sort by distance */
		for (unsigned b = a;
		     b > 0 && dht_id_cmp_dist(key, sim_node_id(s, order[b]),
					      sim_node_id(s, order[b - 1])) < 0;
		     b--) {
			unsigned t = order[b];

			order[b] = order[b - 1];
			order[b - 1] = t;
		}
	for (unsigned i = 0; i < n && i < DHT_K; i++) {
		struct dht_record tmp;

		if (dht_record_lookup_local(sim_dht(s, order[i]), key, &tmp) ==
			    0 &&
		    tmp.seq >= seq)
			held++;
	}
	return held;
}

/* One put from node 7 of rec; returns the packets node 7 sent until the
 * put's background stores were over, and sets *answer_ms (time to the
 * callback) and *queries (requests sent by then). */
static uint64_t put_one(struct sim *s, const struct dht_record *rec,
			uint64_t *answer_ms, unsigned *queries)
{
	struct tally t = {.started = 1, .s = s};
	struct idle_node in = {s, 7};
	struct dht_status st;
	uint64_t t0 = sim_now(s), before;

	dht_status(sim_dht(s, 7), &st);
	before = st.pkts_out;
	if (dht_put(sim_dht(s, 7), sim_now(s), rec, 0,
		    (struct dht_lookup_cb){put_cb, &t}) < 0)
		return 0;
	sim_touch(s, 7);
	sim_run_while(s, tally_done, &t, sim_now(s) + 60000);
	sim_run_while(s, node_idle, &in, sim_now(s) + 60000);
	dht_status(sim_dht(s, 7), &st);
	*answer_ms = t.done_ms - t0;
	*queries = t.queries_sum;
	return st.pkts_out - before;
}

/* The put answers once the settled head acknowledged, and goes on in the
 * background: it still ends with a copy on every one of the k closest.
 * A second put near the first reuses the write tokens the first
 * collected: STOREs go out with the head's FIND_NODEs (one round trip
 * less) and to the rest of the k closest without a FIND_NODE. */
static void t_tokens(void)
{
	struct sim *s = make_sim(80, 0, 0, 0);
	struct dht_record rec;
	uint8_t sk[64], key[DHT_ID_LEN];
	uint64_t pkts1, pkts2, ms1, ms2;
	unsigned q1, q2, held1;

	sim_join_all(s, 1000);
	sim_run_until(s, sim_now(s) + 30000);
	make_record(&rec, sk, 500, 1, sim_now(s));
	dht_record_key(key, &rec);
	pkts1 = put_one(s, &rec, &ms1, &q1);
	/* With some seeds one of the 20 closest gets no copy, as before
	 * tokens were reused (SIM_SEED=4): the lookup does not meet it. */
	held1 = k_closest_holders(s, key, 1);
	ok(held1 >= DHT_K - 1,
	   "a put answered at the head ends with the k closest holding it",
	   held1);
	sim_run_until(s, sim_now(s) + 10000);
	make_record(&rec, sk, 500, 2, sim_now(s));
	pkts2 = put_one(s, &rec, &ms2, &q2);
	printf("# first put %" PRIu64 " packets, %u requests, %" PRIu64
	       " ms; second %" PRIu64 " packets, %u requests, %" PRIu64
	       " ms\n",
	       pkts1, q1, ms1, pkts2, q2, ms2);
	ok(k_closest_holders(s, key, 2) == held1,
	   "a put with reused tokens reaches them all as well",
	   k_closest_holders(s, key, 2));
	ok(pkts2 <= DHT_K + 2 * DHT_SETTLE,
	   "it asks FIND_NODE of the head only", (double)pkts2);
	ok(ms2 < ms1, "and answers sooner", (double)ms2);
	/* Past TOKEN_REUSE_MS the tokens are not reused: a full put again. */
	sim_run_until(s, sim_now(s) + 5 * 60 * 1000);
	make_record(&rec, sk, 500, 3, sim_now(s));
	pkts2 = put_one(s, &rec, &ms2, &q2);
	ok(k_closest_holders(s, key, 3) == held1,
	   "after the tokens aged, the put still reaches them all",
	   (double)pkts2);
	sim_free(s);
}

static void t_loss_and_reorder(void)
{
	struct sim *s = make_sim(150, 0, 0, 0);
	struct sim_rng r;
	double share;

	sim_rng_seed(&r, seed, 3);
	sim_join_all(s, 1000);
	sim_run_until(s, sim_now(s) + 30000);
	sim_set_loss(s, 0.15);
	share = lookups(s, &r, 100, 0, NULL);
	ok(share >= 0.90, "15% loss, jitter: lookups still find", share);
	sim_set_loss(s, 0);
	sim_free(s);
}

static void t_partition(void)
{
	struct sim *s = make_sim(120, 0, 0, 0);
	struct sim_rng r;
	struct tally t = {0};
	unsigned cross_found;

	sim_rng_seed(&r, seed, 4);
	sim_join_all(s, 1000);
	sim_run_until(s, sim_now(s) + 30000);
	for (unsigned i = 0; i < sim_num_nodes(s); i++)
		sim_set_group(s, i, i % 2);
	sim_partition(s, true);
	for (unsigned k = 0; k < 20; k++) {
		unsigned a = 2 * (unsigned)sim_rng_below(&r, 60);
		unsigned b = 2 * (unsigned)sim_rng_below(&r, 60) + 1;

		t.started++;
		dht_find_node(sim_dht(s, a), sim_now(s), sim_node_id(s, b), 0,
			      (struct dht_lookup_cb){find_cb, &t});
		sim_touch(s, a);
		sim_run_while(s, tally_done, &t, sim_now(s) + 120000);
	}
	cross_found = t.found;
	ok(cross_found == 0, "partitioned: nothing found across the cut",
	   cross_found);
	sim_partition(s, false);
	sim_run_until(s, sim_now(s) + 20 * 60 * 1000ull);
	ok(lookups(s, &r, 50, 0, NULL) >= 0.98, "healed: lookups find again",
	   0);
	sim_free(s);
}

static void t_churn(void)
{
	struct sim *s = make_sim(150, 0, 0, 0);
	struct sim_rng r;
	double share;

	sim_rng_seed(&r, seed, 5);
	/* The first 120 join, 30 wait. */
	for (unsigned i = 120; i < 150; i++)
		sim_set_up(s, i, false);
	sim_join_all(s, 1000);
	sim_run_until(s, sim_now(s) + 30000);
	/* 36 leave, the 30 others join through a random survivor. */
	for (unsigned k = 0; k < 36; k++)
		sim_set_up(s, 1 + (unsigned)sim_rng_below(&r, 119), false);
	for (unsigned i = 120; i < 150; i++) {
		struct dht_addr a;
		unsigned via = pick_up(s, &r, true);

		sim_set_up(s, i, true);
		sim_node_addr(s, via, &a);
		dht_bootstrap(sim_dht(s, i), sim_now(s), &a,
			      sim_node_pk(s, via));
		sim_touch(s, i);
		sim_run_until(s, sim_now(s) + 3000);
	}
	sim_run_until(s, sim_now(s) + 60000);
	share = lookups(s, &r, 100, 0, NULL);
	ok(share >= 0.98,
	   "churn (up to 36 leave, 30 join): lookups find live nodes", share);
	sim_free(s);
}

static void t_vanish(void)
{
	struct sim *s = make_sim(300, 0, 0, 0);
	struct sim_rng r;
	uint8_t keys[40][DHT_ID_LEN];
	uint64_t seq_sum;
	unsigned n;

	sim_rng_seed(&r, seed, 6);
	sim_warm_start(s);
	n = put_records(s, &r, 40, 1, keys);
	for (unsigned i = 0; i < sim_num_nodes(s); i++)
		if (sim_rng_below(&r, 100) < 50)
			sim_set_up(s, i, false);
	n = get_records(s, &r, 40, keys, 0, &seq_sum);
	ok(n == 40, "half the network vanishes at once: gets still succeed", n);
	sim_free(s);
}

static void t_sybil(void)
{
	struct sim *s = make_sim(400, 0, 0.2, 0);
	struct sim_rng r;
	double plain, disjoint;

	sim_rng_seed(&r, seed, 7);
	sim_warm_start(s);
	plain = lookups(s, &r, 60, 0, NULL);
	disjoint = lookups(s, &r, 60, DHT_LOOKUP_DISJOINT, NULL);
	printf("# 20%% Sybils: plain %.3f, disjoint %.3f\n", plain, disjoint);
	ok(disjoint >= 0.95, "20% Sybils: disjoint lookups find their target",
	   disjoint);
	sim_free(s);
}

/* Two runs from one seed are the same run. */
static uint64_t digest_run(void)
{
	struct sim *s = make_sim(80, 0.05, 0.1, 2);
	struct sim_rng r;
	struct sim_stats st;
	uint64_t h;

	sim_rng_seed(&r, seed, 8);
	sim_join_all(s, 500);
	lookups(s, &r, 20, DHT_LOOKUP_DISJOINT, NULL);
	sim_stats(s, &st);
	h = st.sent * 1000003 ^ st.delivered * 7919 ^ st.events ^ sim_now(s);
	sim_free(s);
	return h;
}

static void t_replay(void)
{
	uint64_t a = digest_run(), b = digest_run();

	ok(a == b, "a run replays exactly from its seed", 0);
}

struct scenario {
	const char *name;
	void (*run)(void);
};

/* Usage: sim_dht [scenario...]; no argument runs them all. */
int main(int argc, char **argv)
{
	static const struct scenario all[] = {
		{"join", t_join_and_find},    {"records", t_records},
		{"loss", t_loss_and_reorder}, {"partition", t_partition},
		{"churn", t_churn},	      {"vanish", t_vanish},
		{"sybil", t_sybil},	      {"replay", t_replay},
		{"tokens", t_tokens},
	};

	seed = sim_pick_seed(20261127, false);
	sim_sodium_seed(seed);
	if (cx_init() < 0) {
		printf("Bail out! cx_init\n");
		return 1;
	}
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
		bool want = argc < 2;

		for (int a = 1; a < argc; a++)
			if (strcmp(argv[a], all[i].name) == 0)
				want = true;
		if (want)
			all[i].run();
	}
	printf("1..%d\n", test_num);
	return failed;
}
