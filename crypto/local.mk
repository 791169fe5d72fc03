# crypto/: libsodium only (DESIGN.md section 2).
noinst_LIBRARIES += crypto/libcx.a crypto/libcx_sys.a
crypto_libcx_a_SOURCES = crypto/cx.h crypto/cx.c crypto/rng.h \
	crypto/keys.h crypto/keyfile.h
crypto_libcx_a_CFLAGS = $(AM_CFLAGS) $(SODIUM_CFLAGS)
crypto_libcx_sys_a_SOURCES = crypto/rng_sodium.c
crypto_libcx_sys_a_CFLAGS = $(AM_CFLAGS) $(SODIUM_CFLAGS)
# Identities, contact ID and key file (store helper's slice).
crypto_libcx_a_SOURCES += crypto/keys.c crypto/keyfile.c
check_PROGRAMS += tests/unit/test_keys
TESTS += tests/unit/test_keys
tests_unit_test_keys_SOURCES = tests/unit/test_keys.c tests/unit/alloc_fail.h
tests_unit_test_keys_CFLAGS = $(AM_CFLAGS) $(SODIUM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_keys_LDFLAGS = $(AM_LDFLAGS) \
	-Wl,--wrap=malloc,--wrap=calloc,--wrap=sodium_malloc
tests_unit_test_keys_LDADD = crypto/libcx.a $(SODIUM_LIBS) $(CMOCKA_LIBS)
check_PROGRAMS += tests/fuzz/fuzz_keyfile tests/fuzz/fuzz_contact_id
tests_fuzz_fuzz_keyfile_SOURCES = tests/fuzz/fuzz_keyfile.c $(FUZZ_DRIVER)
tests_fuzz_fuzz_keyfile_CFLAGS = $(AM_CFLAGS) $(SODIUM_CFLAGS)
tests_fuzz_fuzz_keyfile_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LINK)
tests_fuzz_fuzz_keyfile_LDADD = crypto/libcx.a $(SODIUM_LIBS)
tests_fuzz_fuzz_contact_id_SOURCES = tests/fuzz/fuzz_contact_id.c \
	$(FUZZ_DRIVER)
tests_fuzz_fuzz_contact_id_CFLAGS = $(AM_CFLAGS) $(SODIUM_CFLAGS)
tests_fuzz_fuzz_contact_id_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LINK)
tests_fuzz_fuzz_contact_id_LDADD = crypto/libcx.a $(SODIUM_LIBS)
FUZZ_TESTS += tests/fuzz/fuzz_keyfile tests/fuzz/fuzz_contact_id
