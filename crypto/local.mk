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
tests_unit_test_keys_SOURCES = tests/unit/test_keys.c
tests_unit_test_keys_CFLAGS = $(AM_CFLAGS) $(SODIUM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_keys_LDADD = crypto/libcx.a $(SODIUM_LIBS) $(CMOCKA_LIBS)
