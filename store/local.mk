# store/: LMDB and zstd (DESIGN.md section 2).
noinst_LIBRARIES += store/libstore.a
store_libstore_a_SOURCES = store/store.c store/store.h
store_libstore_a_CFLAGS = $(AM_CFLAGS) $(LMDB_CFLAGS) $(ZSTD_CFLAGS)

check_PROGRAMS += tests/unit/test_store
TESTS += tests/unit/test_store
tests_unit_test_store_SOURCES = tests/unit/test_store.c tests/unit/alloc_fail.h \
	tests/unit/store_testutil.h
tests_unit_test_store_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_store_LDFLAGS = $(AM_LDFLAGS) -Wl,--wrap=malloc,--wrap=calloc
tests_unit_test_store_LDADD = store/libstore.a $(LMDB_LIBS) $(ZSTD_LIBS) \
	$(CMOCKA_LIBS)

check_PROGRAMS += tests/fuzz/fuzz_zstd
tests_fuzz_fuzz_zstd_SOURCES = tests/fuzz/fuzz_zstd.c $(FUZZ_DRIVER)
tests_fuzz_fuzz_zstd_CFLAGS = $(AM_CFLAGS) $(ZSTD_CFLAGS)
tests_fuzz_fuzz_zstd_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LINK)
tests_fuzz_fuzz_zstd_LDADD = store/libstore.a $(LMDB_LIBS) $(ZSTD_LIBS)
FUZZ_TESTS += tests/fuzz/fuzz_zstd
