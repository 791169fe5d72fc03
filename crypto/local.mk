# crypto/: libsodium only (DESIGN.md section 2).
noinst_LIBRARIES += crypto/libcx.a crypto/libcx_sys.a
crypto_libcx_a_SOURCES = crypto/cx.h crypto/cx.c crypto/rng.h \
	crypto/keys.h crypto/keyfile.h \
	crypto/kdf.h crypto/kdf.c crypto/prim.h crypto/prim.c \
	crypto/pad.h crypto/pad.c crypto/noise.h crypto/noise.c \
	crypto/ratchet.h crypto/ratchet.c crypto/x3dh.h crypto/x3dh.c \
	crypto/envelope.h crypto/envelope.c crypto/safety.h crypto/safety.c \
	crypto/drbg.h crypto/drbg.c
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

# Unit tests of crypto/ (vectors from ../shared/testvectors).
CX_TEST_CFLAGS = $(AM_CFLAGS) $(SODIUM_CFLAGS) $(CMOCKA_CFLAGS) \
	$(JANSSON_CFLAGS)
CX_TEST_LIBS = crypto/libcx.a $(SODIUM_LIBS) $(CMOCKA_LIBS) $(JANSSON_LIBS)
check_PROGRAMS += tests/unit/test_crypto
tests_unit_test_crypto_SOURCES = tests/unit/test_crypto.c \
	tests/unit/cx_testutil.h
tests_unit_test_crypto_CFLAGS = $(CX_TEST_CFLAGS)
tests_unit_test_crypto_LDADD = $(CX_TEST_LIBS)
TESTS += tests/unit/test_crypto

check_PROGRAMS += tests/unit/test_noise
tests_unit_test_noise_SOURCES = tests/unit/test_noise.c tests/unit/cx_testutil.h
tests_unit_test_noise_CFLAGS = $(CX_TEST_CFLAGS)
tests_unit_test_noise_LDADD = $(CX_TEST_LIBS)
TESTS += tests/unit/test_noise

check_PROGRAMS += tests/unit/test_ratchet
tests_unit_test_ratchet_SOURCES = tests/unit/test_ratchet.c \
	tests/unit/cx_testutil.h
tests_unit_test_ratchet_CFLAGS = $(CX_TEST_CFLAGS)
tests_unit_test_ratchet_LDADD = $(CX_TEST_LIBS)
TESTS += tests/unit/test_ratchet

check_PROGRAMS += tests/unit/test_crypto_session
tests_unit_test_crypto_session_SOURCES = tests/unit/test_crypto_session.c \
	tests/unit/cx_testutil.h
tests_unit_test_crypto_session_CFLAGS = $(CX_TEST_CFLAGS)
tests_unit_test_crypto_session_LDADD = $(CX_TEST_LIBS)
TESTS += tests/unit/test_crypto_session

# Fuzz targets for every crypto parser (tests/local.mk explains the driver).
EXTRA_DIST += tests/fuzz/cx_fuzz.h
CX_FUZZ_LIBS = crypto/libcx.a $(SODIUM_LIBS)
check_PROGRAMS += tests/fuzz/fuzz_noise tests/fuzz/fuzz_ratchet \
	tests/fuzz/fuzz_ratchet_state tests/fuzz/fuzz_envelope
FUZZ_TESTS += tests/fuzz/fuzz_noise tests/fuzz/fuzz_ratchet \
	tests/fuzz/fuzz_ratchet_state tests/fuzz/fuzz_envelope
tests_fuzz_fuzz_noise_SOURCES = tests/fuzz/fuzz_noise.c $(FUZZ_DRIVER)
tests_fuzz_fuzz_noise_CFLAGS = $(AM_CFLAGS) $(SODIUM_CFLAGS)
tests_fuzz_fuzz_noise_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LINK)
tests_fuzz_fuzz_noise_LDADD = $(CX_FUZZ_LIBS)
tests_fuzz_fuzz_ratchet_SOURCES = tests/fuzz/fuzz_ratchet.c $(FUZZ_DRIVER)
tests_fuzz_fuzz_ratchet_CFLAGS = $(AM_CFLAGS) $(SODIUM_CFLAGS)
tests_fuzz_fuzz_ratchet_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LINK)
tests_fuzz_fuzz_ratchet_LDADD = $(CX_FUZZ_LIBS)
tests_fuzz_fuzz_ratchet_state_SOURCES = tests/fuzz/fuzz_ratchet_state.c \
	$(FUZZ_DRIVER)
tests_fuzz_fuzz_ratchet_state_CFLAGS = $(AM_CFLAGS) $(SODIUM_CFLAGS)
tests_fuzz_fuzz_ratchet_state_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LINK)
tests_fuzz_fuzz_ratchet_state_LDADD = $(CX_FUZZ_LIBS)
tests_fuzz_fuzz_envelope_SOURCES = tests/fuzz/fuzz_envelope.c $(FUZZ_DRIVER)
tests_fuzz_fuzz_envelope_CFLAGS = $(AM_CFLAGS) $(SODIUM_CFLAGS)
tests_fuzz_fuzz_envelope_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LINK)
tests_fuzz_fuzz_envelope_LDADD = $(CX_FUZZ_LIBS)
# DHT helpers (owned by the dht helper): crypto_box afternm and Ed25519.
crypto_libcx_a_SOURCES += crypto/box.h crypto/box.c crypto/sign.h crypto/sign.c
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
