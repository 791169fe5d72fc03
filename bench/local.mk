# bench/: programs that print figures; never run by make check.
# bench/dht: DHT figures from the simulator (issue 3).
noinst_PROGRAMS += bench/bench_dht
bench_bench_dht_SOURCES = bench/bench_dht.c
bench_bench_dht_LDADD = tests/sim/libsim.a dht/libdht.a crypto/libcx.a \
	$(SODIUM_LIBS)
