# bench/: programs that print figures; never run by make check.
noinst_PROGRAMS += bench/bench_rpc
bench_bench_rpc_SOURCES = bench/bench_rpc.c
noinst_PROGRAMS += bench/bench_crypto
bench_bench_crypto_SOURCES = bench/bench_crypto.c
bench_bench_crypto_CFLAGS = $(AM_CFLAGS)
bench_bench_crypto_LDADD = crypto/libcx_sys.a crypto/libcx.a $(SODIUM_LIBS)
