/* What the node core is handed instead of reaching for the OS
 * (STYLE.md section 2).  The daemon fills these from node/sys_*.c; tests
 * and the simulator pass their own. */
#ifndef PARLEY_NODE_ENV_H
#define PARLEY_NODE_ENV_H

#include <stdint.h>

#include "crypto/rng.h"

struct clock {
	uint64_t (*mono_ms)(void *self); /* monotonic, for timeouts */
	uint64_t (*wall_ms)(void *self); /* Unix ms, for timestamps */
	void *self;
};

struct node_env {
	const struct clock *clock;
	const struct rng *rng;
};

#endif
