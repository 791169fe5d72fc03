/* Allocation-failure torture for dht/ (STYLE.md section 7, after curl's
 * runtests -t): this program links with -Wl,--wrap=malloc,calloc,realloc
 * and, for N = 1, 2, ..., fails the Nth allocation made while a small
 * simulated network joins a node, puts, gets and finds.  Every run must
 * end without a crash, call each callback at most once, and (under
 * --enable-debug) leak nothing.  The simulator's own allocations count
 * too: a failed packet allocation is a lost packet, which the DHT must
 * survive anyway.  TAP output; prints SIM_SEED. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/cx.h"
#include "crypto/sign.h"
#include "dht/dht.h"
#include "tests/sim/sim.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);

static bool armed;
static unsigned long count, fail_at, failed_allocs;

static bool fail_now(void)
{
	if (!armed)
		return false;
	if (++count == fail_at) {
		failed_allocs++;
		return true;
	}
	return false;
}

void *__wrap_malloc(size_t n)
{
	return fail_now() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t m)
{
	return fail_now() ? NULL : __real_calloc(n, m);
}

void *__wrap_realloc(void *p, size_t n)
{
	return fail_now() ? NULL : __real_realloc(p, n);
}

struct calls {
	unsigned n[3];
	bool twice;
};

static void cb0(void *arg, const struct dht_result *res)
{
	struct calls *c = arg;

	(void)res;
	if (++c->n[0] > 1)
		c->twice = true;
}

static void cb1(void *arg, const struct dht_result *res)
{
	struct calls *c = arg;

	(void)res;
	if (++c->n[1] > 1)
		c->twice = true;
}

static void cb2(void *arg, const struct dht_result *res)
{
	struct calls *c = arg;

	(void)res;
	if (++c->n[2] > 1)
		c->twice = true;
}

/* One run with the Nth allocation failing (0 = none).  Returns the number
 * of allocations the armed part made, or 0 on a broken invariant. */
static unsigned long run(uint64_t seed, unsigned long n, bool *ok)
{
	struct sim_config c = {0};
	struct sim *s = NULL;
	struct calls calls = {0};
	struct dht_record rec;
	uint8_t sd[32] = {1}, sk[64], key[DHT_ID_LEN];
	struct dht_addr a;

	c.seed = seed;
	c.num_nodes = 12;
	c.quiet = true;
	*ok = true;
	if (sim_new(&s, &c) < 0)
		return 0;
	for (unsigned i = 0; i < 11; i++)
		dht_add_contact(sim_dht(s, i), sim_now(s), sim_node_pk(s, 0),
				(sim_node_addr(s, 0, &a), &a));
	memset(&rec, 0, sizeof rec);
	cx_sign_keypair_seed(rec.pk, sk, sd);
	rec.seq = 1;
	rec.expiry_s = sim_now(s) / 1000 + 3600;
	rec.value_len = 10;
	dht_record_sign(&rec, sk);
	dht_record_key(key, &rec);

	count = 0;
	fail_at = n;
	armed = true;
	for (unsigned i = 1; i < 11; i++) {
		sim_node_addr(s, 0, &a);
		dht_bootstrap(sim_dht(s, i), sim_now(s), &a,
			      i % 2 ? sim_node_pk(s, 0) : NULL);
		sim_touch(s, i);
	}
	sim_run_until(s, sim_now(s) + 20000);
	if (dht_put(sim_dht(s, 3), sim_now(s), &rec, DHT_PUT_REPUBLISH,
		    (struct dht_lookup_cb){cb0, &calls}) < 0)
		calls.n[0] = 1;
	sim_touch(s, 3);
	sim_run_until(s, sim_now(s) + 20000);
	if (dht_get(sim_dht(s, 8), sim_now(s), key, 0,
		    (struct dht_lookup_cb){cb1, &calls}) < 0)
		calls.n[1] = 1;
	sim_touch(s, 8);
	if (dht_find_node(sim_dht(s, 5), sim_now(s), sim_node_id(s, 9),
			  DHT_LOOKUP_DISJOINT,
			  (struct dht_lookup_cb){cb2, &calls}) < 0)
		calls.n[2] = 1;
	sim_touch(s, 5);
	sim_run_until(s, sim_now(s) + 30000);
	armed = false;
	/* Every lookup ended (timeouts are bounded) and none twice. */
	if (calls.twice || calls.n[0] != 1 || calls.n[1] != 1 ||
	    calls.n[2] != 1)
		*ok = false;
	sim_free(s);
	return count;
}

int main(void)
{
	uint64_t seed = sim_pick_seed(7, false);
	unsigned long total, n, runs = 0, bad = 0;
	bool ok;

	sim_sodium_seed(seed);
	if (cx_init() < 0)
		return 1;
	total = run(seed, 0, &ok);
	printf("%s 1 - the scenario passes without failures (%lu "
	       "allocations)\n",
	       ok ? "ok" : "not ok", total);
	if (!ok)
		bad++;
	/* Every allocation for the first 150, then a stride that still
	 * covers the whole run in a few seconds. */
	for (n = 1; n <= total; n += n < 150 ? 1 : total / 150 + 1) {
		run(seed, n, &ok);
		runs++;
		if (!ok) {
			bad++;
			printf("# failing allocation %lu broke an invariant\n",
			       n);
		}
	}
	printf("%s 2 - %lu runs, each failing one allocation: no crash, "
	       "every callback exactly once\n",
	       bad == 0 ? "ok" : "not ok", runs);
	printf("1..2\n");
	return bad != 0;
}
