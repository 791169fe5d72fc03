# bench/: programs that print figures; never run by make check.
noinst_PROGRAMS += bench/bench_rpc
bench_bench_rpc_SOURCES = bench/bench_rpc.c bench/bench_util.h
noinst_PROGRAMS += bench/bench_crypto
bench_bench_crypto_SOURCES = bench/bench_crypto.c
bench_bench_crypto_CFLAGS = $(AM_CFLAGS)
bench_bench_crypto_LDADD = crypto/libcx_sys.a crypto/libcx.a $(SODIUM_LIBS)
# bench/dht: DHT figures from the simulator (issue 3).
noinst_PROGRAMS += bench/bench_dht
bench_bench_dht_SOURCES = bench/bench_dht.c
bench_bench_dht_LDADD = tests/sim/libsim.a dht/libdht.a crypto/libcx.a \
	$(SODIUM_LIBS)
noinst_PROGRAMS += bench/bench_dht_daemons
bench_bench_dht_daemons_SOURCES = bench/bench_dht_daemons.c bench/bench_util.h
