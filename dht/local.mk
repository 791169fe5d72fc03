# dht/: Kademlia, sans-I/O (DESIGN.md section 4).
noinst_LIBRARIES += dht/libdht.a
dht_libdht_a_SOURCES = dht/dht.h dht/wire.h dht/wire.c dht/dht.c
dht_libdht_a_CFLAGS = $(AM_CFLAGS)

# Simulator and simulation tests (tests/sim/), owned with dht/.
noinst_LIBRARIES += tests/sim/libsim.a
tests_sim_libsim_a_SOURCES = tests/sim/sim.h tests/sim/sim.c
tests_sim_libsim_a_CFLAGS = $(AM_CFLAGS) $(SODIUM_CFLAGS)
check_PROGRAMS += tests/sim/sim_dht
# One script per group of scenarios, so each test stays a few seconds and
# make -j runs them side by side.
dist_check_SCRIPTS += tests/sim/dht_join.sh tests/sim/dht_records.sh \
	tests/sim/dht_faults.sh tests/sim/dht_hostile.sh
TESTS += tests/sim/dht_join.sh tests/sim/dht_records.sh \
	tests/sim/dht_faults.sh tests/sim/dht_hostile.sh
tests_sim_sim_dht_SOURCES = tests/sim/sim_dht.c
tests_sim_sim_dht_LDADD = tests/sim/libsim.a dht/libdht.a crypto/libcx.a \
	$(SODIUM_LIBS)

# Unit tests (tests/unit/test_dht.c): dht/ and its crypto wrappers.
check_PROGRAMS += tests/unit/test_dht
TESTS += tests/unit/test_dht
tests_unit_test_dht_SOURCES = tests/unit/test_dht.c
tests_unit_test_dht_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_dht_LDADD = dht/libdht.a crypto/libcx.a $(CMOCKA_LIBS) \
	$(SODIUM_LIBS)

# Fuzz targets for every DHT parser: wire bodies, records, the receive
# path (raw and behind real crypto_box), the saved routing table.
check_PROGRAMS += tests/fuzz/fuzz_dht_wire tests/fuzz/fuzz_dht_record \
	tests/fuzz/fuzz_dht_recv tests/fuzz/fuzz_dht_table
FUZZ_TESTS += tests/fuzz/fuzz_dht_wire tests/fuzz/fuzz_dht_record \
	tests/fuzz/fuzz_dht_recv tests/fuzz/fuzz_dht_table
tests_fuzz_fuzz_dht_wire_SOURCES = tests/fuzz/fuzz_dht_wire.c $(FUZZ_DRIVER)
tests_fuzz_fuzz_dht_wire_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LINK)
tests_fuzz_fuzz_dht_wire_LDADD = dht/libdht.a crypto/libcx.a $(SODIUM_LIBS)
tests_fuzz_fuzz_dht_record_SOURCES = tests/fuzz/fuzz_dht_record.c \
	$(FUZZ_DRIVER)
tests_fuzz_fuzz_dht_record_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LINK)
tests_fuzz_fuzz_dht_record_LDADD = dht/libdht.a crypto/libcx.a \
	$(SODIUM_LIBS)
tests_fuzz_fuzz_dht_recv_SOURCES = tests/fuzz/fuzz_dht_recv.c $(FUZZ_DRIVER)
tests_fuzz_fuzz_dht_recv_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LINK)
tests_fuzz_fuzz_dht_recv_LDADD = dht/libdht.a crypto/libcx.a $(SODIUM_LIBS)
tests_fuzz_fuzz_dht_table_SOURCES = tests/fuzz/fuzz_dht_table.c \
	$(FUZZ_DRIVER)
tests_fuzz_fuzz_dht_table_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LINK)
tests_fuzz_fuzz_dht_table_LDADD = dht/libdht.a crypto/libcx.a $(SODIUM_LIBS)

# Allocation-failure torture (STYLE.md section 7): malloc, calloc and
# realloc wrapped by the linker; fails each allocation in turn.
check_PROGRAMS += tests/sim/alloc_dht
TESTS += tests/sim/alloc_dht
tests_sim_alloc_dht_SOURCES = tests/sim/alloc_dht.c
tests_sim_alloc_dht_LDFLAGS = $(AM_LDFLAGS) \
	-Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc
tests_sim_alloc_dht_LDADD = tests/sim/libsim.a dht/libdht.a crypto/libcx.a \
	$(SODIUM_LIBS)
