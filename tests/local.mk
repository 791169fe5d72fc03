# Source and layering checks, and the fuzz-target plumbing shared by the
# module fragments.
dist_check_SCRIPTS += tests/check-layers.sh tests/check-source.sh
TESTS += tests/check-layers.sh tests/check-source.sh
EXTRA_DIST += tests/fuzz/corpus tests/fuzz/run.sh

# Fuzz targets: each module fragment adds
#   check_PROGRAMS += tests/fuzz/fuzz_X
#   tests_fuzz_fuzz_X_SOURCES = tests/fuzz/fuzz_X.c $(FUZZ_DRIVER)
#   tests_fuzz_fuzz_X_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LINK)
#   FUZZ_TESTS += tests/fuzz/fuzz_X
# Without --enable-fuzzing the driver runs each on its seed corpus
# (tests/fuzz/corpus/fuzz_X/) and fixed pseudo-random inputs in make check;
# with it, libFuzzer provides main() and tests/fuzz/run.sh runs them.
FUZZ_DRIVER = tests/fuzz/driver.c
if ENABLE_FUZZING
FUZZ_LINK = -fsanitize=fuzzer
AM_CPPFLAGS += -DPARLEY_LIBFUZZER
else
FUZZ_LINK =
TESTS += $(FUZZ_TESTS)
endif

# Integration tests: real daemons on loopback, driven through the socket
# and the CLI.  rpctool is a raw client for what the CLI would never send.
check_PROGRAMS += tests/tools/rpctool
tests_tools_rpctool_SOURCES = tests/tools/rpctool.c
INTEGRATION_TESTS = tests/integration/daemon_basic.sh \
	tests/integration/dht_net.sh tests/integration/dht_limits.sh \
	tests/integration/lan.sh \
	tests/integration/links.sh tests/integration/chat.sh \
	tests/integration/chat_crash.sh tests/integration/chat_private.sh \
	tests/integration/api_robust.sh tests/integration/relay.sh
dist_check_SCRIPTS += $(INTEGRATION_TESTS)
TESTS += $(INTEGRATION_TESTS)
EXTRA_DIST += tests/integration/lib.sh

check_PROGRAMS += tests/unit/test_chat
tests_unit_test_chat_SOURCES = tests/unit/test_chat.c tests/unit/store_testutil.h
tests_unit_test_chat_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_chat_LDADD = node/libnode.a dht/libdht.a store/libstore.a \
	crypto/libcx.a $(CMOCKA_LIBS) $(JANSSON_LIBS) $(LMDB_LIBS) \
	$(ZSTD_LIBS) $(SODIUM_LIBS)
TESTS += tests/unit/test_chat

# The JSON reader of the request path (node/jsonr.c).
check_PROGRAMS += tests/unit/test_jsonr
tests_unit_test_jsonr_SOURCES = tests/unit/test_jsonr.c
tests_unit_test_jsonr_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_jsonr_LDADD = node/libnode.a $(CMOCKA_LIBS)
TESTS += tests/unit/test_jsonr
