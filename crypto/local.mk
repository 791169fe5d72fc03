# crypto/: libsodium only (DESIGN.md section 2).
noinst_LIBRARIES += crypto/libcx.a crypto/libcx_sys.a
crypto_libcx_a_SOURCES = crypto/cx.h crypto/cx.c crypto/rng.h \
	crypto/keys.h crypto/keyfile.h
crypto_libcx_a_CFLAGS = $(AM_CFLAGS) $(SODIUM_CFLAGS)
crypto_libcx_sys_a_SOURCES = crypto/rng_sodium.c
crypto_libcx_sys_a_CFLAGS = $(AM_CFLAGS) $(SODIUM_CFLAGS)
# DHT helpers (owned by the dht helper): crypto_box afternm and Ed25519.
crypto_libcx_a_SOURCES += crypto/box.h crypto/box.c crypto/sign.h crypto/sign.c
