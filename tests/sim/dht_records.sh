#!/bin/sh
# Simulation scenarios: records vanish tokens (tests/sim/sim_dht.c).  TAP; prints SIM_SEED,
# and SIM_SEED=n in the environment replays the run.
exec "${top_builddir:-.}/tests/sim/sim_dht" records vanish tokens
