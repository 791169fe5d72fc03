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
# bench/tox (issue 5): the messaging workload on toxcore, built only when
# configure found it.
if HAVE_TOXCORE
noinst_PROGRAMS += bench/bench_tox
bench_bench_tox_SOURCES = bench/bench_tox.c bench/bench_util.h
bench_bench_tox_CFLAGS = $(AM_CFLAGS) $(TOXCORE_CFLAGS)
bench_bench_tox_LDADD = $(TOXCORE_LIBS)
# bench/msg reads this line of the generated Makefile.
BENCH_HAVE_TOX = yes
endif
