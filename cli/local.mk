# cli/: the parley command; speaks only the socket protocol (DESIGN.md
# section 9).  libcli.a is everything but main(), so the unit tests can run
# the whole command in-process against a fake daemon.
noinst_LIBRARIES += cli/libcli.a
cli_libcli_a_SOURCES = cli/cli.h cli/cmds.c cli/rpc.c cli/out.c \
	cli/chat.c cli/chat.h cli/chat_out.c \
	cli/conn.c cli/conn.h cli/lines.c cli/lines.h cli/proto.c cli/proto.h
cli_libcli_a_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(QRENCODE_CFLAGS)

bin_PROGRAMS += cli/parley
cli_parley_SOURCES = cli/main.c
cli_parley_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS)
cli_parley_LDADD = cli/libcli.a $(JANSSON_LIBS) $(QRENCODE_LIBS)

dist_man1_MANS += docs/parley.1

# Unit tests of the pure parts and of the whole command against a fake
# daemon (a thread answering canned lines on a socket in a temp dir).
check_PROGRAMS += tests/unit/test_cli
tests_unit_test_cli_SOURCES = tests/unit/test_cli.c
tests_unit_test_cli_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) \
	$(QRENCODE_CFLAGS) $(CMOCKA_CFLAGS) -pthread
tests_unit_test_cli_LDADD = cli/libcli.a $(JANSSON_LIBS) $(QRENCODE_LIBS) \
	$(CMOCKA_LIBS)
tests_unit_test_cli_LDFLAGS = $(AM_LDFLAGS) -pthread
TESTS += tests/unit/test_cli

# Fuzz target: the reader of daemon replies (line framing + JSON-RPC parse).
check_PROGRAMS += tests/fuzz/fuzz_cli_reply
tests_fuzz_fuzz_cli_reply_SOURCES = tests/fuzz/fuzz_cli_reply.c $(FUZZ_DRIVER)
tests_fuzz_fuzz_cli_reply_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS)
tests_fuzz_fuzz_cli_reply_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LINK)
tests_fuzz_fuzz_cli_reply_LDADD = cli/libcli.a $(JANSSON_LIBS) $(QRENCODE_LIBS)
FUZZ_TESTS += tests/fuzz/fuzz_cli_reply

# The real command against a real daemon.
dist_check_SCRIPTS += tests/integration/cli_basic.sh
TESTS += tests/integration/cli_basic.sh

# Messaging through the command only, between two real daemons.
dist_check_SCRIPTS += tests/integration/chat_cli.sh
TESTS += tests/integration/chat_cli.sh

# Fuzz target: the whole command (cli_main on a socketpair) against
# arbitrary daemon output.
check_PROGRAMS += tests/fuzz/fuzz_cli_session
tests_fuzz_fuzz_cli_session_SOURCES = tests/fuzz/fuzz_cli_session.c \
	$(FUZZ_DRIVER)
tests_fuzz_fuzz_cli_session_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS)
tests_fuzz_fuzz_cli_session_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LINK)
tests_fuzz_fuzz_cli_session_LDADD = cli/libcli.a $(JANSSON_LIBS) \
	$(QRENCODE_LIBS)
FUZZ_TESTS += tests/fuzz/fuzz_cli_session
