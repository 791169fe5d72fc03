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
# bench/store (issue 5): the durable commit, and so the round trip's floor.
noinst_PROGRAMS += bench/bench_store
bench_bench_store_SOURCES = bench/bench_store.c bench/bench_util.h
bench_bench_store_CFLAGS = $(AM_CFLAGS) $(LMDB_CFLAGS)
bench_bench_store_LDADD = store/libstore.a $(LMDB_LIBS) $(ZSTD_LIBS)
# bench/msg (issue 5): the messaging workload on two daemons, and the same
# workload on toxcore when it is installed.  bench/msg runs both.
noinst_PROGRAMS += bench/bench_msg
bench_bench_msg_SOURCES = bench/bench_msg.c bench/bench_util.h
bench_bench_msg_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(SODIUM_CFLAGS)
bench_bench_msg_LDADD = crypto/libcx.a $(JANSSON_LIBS) $(SODIUM_LIBS)
if HAVE_TOXCORE
noinst_PROGRAMS += bench/bench_tox
bench_bench_tox_SOURCES = bench/bench_tox.c bench/bench_util.h
bench_bench_tox_CFLAGS = $(AM_CFLAGS) $(TOXCORE_CFLAGS)
bench_bench_tox_LDADD = $(TOXCORE_LIBS)
# bench/msg reads this line of the generated Makefile.
BENCH_HAVE_TOX = yes
endif
EXTRA_DIST += bench/msg
# `make bench-msg` (BENCH_MSG_FLAGS=--quick for a smoke run); never part of
# make check.
bench-msg:
	$(SHELL) $(srcdir)/bench/msg $(BENCH_MSG_FLAGS) $(abs_top_builddir)
.PHONY: bench-msg
