/* Deterministic DHT simulator (STYLE.md section 2, after toxcore's
 * NetworkUniverse): N nodes in one single-threaded process, a virtual
 * clock, and one event queue holding packets and node deadlines ordered by
 * (at_ms, seq), so ties never depend on memory addresses.  Each node has
 * its own rng seeded from (seed, node index).  Links get a latency drawn
 * per link and jitter per packet (so packets reorder), loss, partitions,
 * churn, and hostile nodes.
 *
 * Every run prints "SIM_SEED=<n>" and the environment variable SIM_SEED
 * overrides the seed given in the config, so any run replays exactly.
 *
 * Hostile nodes (SIM_ROLE_SYBIL) are not struct dht instances: the simulator
 * answers for them with the real wire codec and real crypto_box, and they
 *   - answer find_node and find_value with the Sybils closest to the target
 *     ("their own kind"),
 *   - acknowledge stores and drop them,
 *   - lie: to find_value they return a record with a broken signature.
 * Their IDs are bound to their keys like everyone's (BLAKE2b of the key). */
#ifndef PARLEY_TESTS_SIM_H
#define PARLEY_TESTS_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dht/dht.h"

#define SIM_EPOCH_MS 1800000000000ull /* virtual time starts here (2027) */

enum sim_role {
	SIM_ROLE_HONEST = 0,
	SIM_ROLE_SYBIL,
};

struct sim_config {
	uint64_t seed; /* SIM_SEED in the environment wins */
	unsigned num_nodes;
	unsigned lat_min_ms;   /* per-link one-way latency range [10] */
	unsigned lat_max_ms;   /* [100] */
	unsigned jitter_ms;    /* per-packet extra, uniform [0, j] [10] */
	double loss;	       /* drop probability per packet */
	unsigned ipv6_every;   /* every n-th node is IPv6 (0 = none) */
	double sybil_fraction; /* share of SIM_ROLE_SYBIL nodes */
	struct dht_limits limits;
	bool quiet; /* do not print SIM_SEED */
};

struct sim;

/* Creates the nodes (keys from the seeded rng; nothing is connected yet).
 * Returns 0 or -ENOMEM. */
int sim_new(struct sim **out, const struct sim_config *cfg);
void sim_free(struct sim *s);

uint64_t sim_seed(const struct sim *s);
uint64_t sim_now(const struct sim *s);
unsigned sim_num_nodes(const struct sim *s);

/* The node's dht, NULL for a Sybil. */
struct dht *sim_dht(struct sim *s, unsigned i);
enum sim_role sim_role(const struct sim *s, unsigned i);
bool sim_is_up(const struct sim *s, unsigned i);
const uint8_t *sim_node_id(const struct sim *s, unsigned i);
const uint8_t *sim_node_pk(const struct sim *s, unsigned i);
void sim_node_addr(const struct sim *s, unsigned i, struct dht_addr *a);

/* Call after driving a node's API directly, so its deadline is queued. */
void sim_touch(struct sim *s, unsigned i);

/* Runs events up to and including time t. */
void sim_run_until(struct sim *s, uint64_t t);

/* Runs until done(arg) is true or time t; returns done(arg). */
bool sim_run_while(struct sim *s, bool (*done)(void *arg), void *arg,
		   uint64_t t);

/* Joins every honest node, one after the other, through node 0 with
 * dht_bootstrap() (the real protocol; for small networks).  Sybils join the
 * tables of those who meet them. */
void sim_join_all(struct sim *s, uint64_t step_ms);

/* Fills every routing table from global knowledge, as if the network had
 * been running for a while: for each bucket, up to k random nodes of its
 * range (through dht_add_contact).  For large networks where joining one by
 * one would dominate the run. */
void sim_warm_start(struct sim *s);

/* Takes a node down (its packets vanish, it stops ticking) or back up.
 * A node brought back up keeps its state. */
void sim_set_up(struct sim *s, unsigned i, bool up);

/* Partition: nodes with different groups cannot exchange packets while
 * partitions are on.  All nodes start in group 0. */
void sim_set_group(struct sim *s, unsigned i, unsigned group);
void sim_partition(struct sim *s, bool on);
void sim_set_loss(struct sim *s, double loss);

struct sim_stats {
	uint64_t sent, delivered, lost, to_down, events;
	uint64_t sybil_answers;
};
void sim_stats(const struct sim *s, struct sim_stats *st);

/* A fast, seedable generator (xoshiro256**) used for the nodes' struct rng
 * and the simulator's own draws. */
struct sim_rng {
	uint64_t s[4];
};
void sim_rng_seed(struct sim_rng *r, uint64_t seed, uint64_t stream);
uint64_t sim_rng_next(struct sim_rng *r);
/* uniform in [0, n) */
uint64_t sim_rng_below(struct sim_rng *r, uint64_t n);
/* The struct rng view of a sim_rng. */
void sim_rng_fill(void *self, uint8_t *buf, size_t len);

/* Seed from the environment (SIM_SEED) or the default; prints it unless
 * quiet. */
uint64_t sim_pick_seed(uint64_t dflt, bool quiet);

/* Makes libsodium's own randomness replay from the seed (call before
 * sodium_init / cx_init). */
void sim_sodium_seed(uint64_t seed);

#endif
