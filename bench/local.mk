# bench/: programs that print figures; never run by make check.
noinst_PROGRAMS += bench/bench_rpc
bench_bench_rpc_SOURCES = bench/bench_rpc.c
