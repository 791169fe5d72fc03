# dht/: Kademlia, sans-I/O (DESIGN.md section 4).
noinst_LIBRARIES += dht/libdht.a
dht_libdht_a_SOURCES = dht/dht.h dht/wire.h dht/wire.c dht/dht.c
dht_libdht_a_CFLAGS = $(AM_CFLAGS)

# Simulator and simulation tests (tests/sim/), owned with dht/.
noinst_LIBRARIES += tests/sim/libsim.a
tests_sim_libsim_a_SOURCES = tests/sim/sim.h tests/sim/sim.c
tests_sim_libsim_a_CFLAGS = $(AM_CFLAGS) $(SODIUM_CFLAGS)
check_PROGRAMS += tests/sim/sim_dht
TESTS += tests/sim/sim_dht
tests_sim_sim_dht_SOURCES = tests/sim/sim_dht.c
tests_sim_sim_dht_LDADD = tests/sim/libsim.a dht/libdht.a crypto/libcx.a \
	$(SODIUM_LIBS)
