# node/: the daemon.  libnode.a is the core (no libuv, no sockets, no
# clock); libnode_sys.a holds node/sys_*.c, the files that touch the OS.
noinst_LIBRARIES += node/libnode.a node/libnode_sys.a
node_libnode_a_SOURCES = node/api.c node/api.h node/api_dht.c node/rpc.h \
	node/api_link.c node/api_chat.c \
	node/addr.c node/addr.h node/config.c node/config.h \
	node/bytes.h node/env.h node/err.c node/err.h node/events.c node/events.h \
	node/jsonw.c node/jsonw.h node/jsonr.c node/jsonr.h \
	node/log.c node/log.h node/node.c node/node.h \
	node/ownseq.c node/ownseq.h
node_libnode_a_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS)
node_libnode_sys_a_SOURCES = node/sys_api.c node/sys_api.h \
	node/sys_udp.c node/sys_udp.h node/sys_lan.c node/sys_lan.h \
	node/sys_os.c node/sys_os.h
node_libnode_sys_a_CFLAGS = $(AM_CFLAGS) $(UV_CFLAGS)

bin_PROGRAMS += node/parleyd
node_parleyd_SOURCES = node/main.c
node_parleyd_CFLAGS = $(AM_CFLAGS) $(UV_CFLAGS)
node_parleyd_LDADD = node/libnode_sys.a node/libnode.a dht/libdht.a \
	store/libstore.a \
	crypto/libcx_sys.a crypto/libcx.a $(UV_LIBS) $(JANSSON_LIBS) \
	$(LMDB_LIBS) $(ZSTD_LIBS) $(SODIUM_LIBS)

check_PROGRAMS += tests/fuzz/fuzz_config tests/fuzz/fuzz_rpc
tests_fuzz_fuzz_config_SOURCES = tests/fuzz/fuzz_config.c $(FUZZ_DRIVER)
tests_fuzz_fuzz_config_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LINK)
tests_fuzz_fuzz_config_LDADD = node/libnode.a dht/libdht.a crypto/libcx.a \
	$(JANSSON_LIBS) $(SODIUM_LIBS)
tests_fuzz_fuzz_rpc_SOURCES = tests/fuzz/fuzz_rpc.c tests/node_fixture.h \
	$(FUZZ_DRIVER)
tests_fuzz_fuzz_rpc_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS)
tests_fuzz_fuzz_rpc_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LINK)
tests_fuzz_fuzz_rpc_LDADD = node/libnode.a dht/libdht.a store/libstore.a \
	crypto/libcx.a \
	$(JANSSON_LIBS) $(LMDB_LIBS) $(ZSTD_LIBS) $(SODIUM_LIBS)
FUZZ_TESTS += tests/fuzz/fuzz_config tests/fuzz/fuzz_rpc

check_PROGRAMS += tests/unit/test_node
tests_unit_test_node_SOURCES = tests/unit/test_node.c tests/node_fixture.h
tests_unit_test_node_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(JANSSON_CFLAGS)
tests_unit_test_node_LDADD = node/libnode.a dht/libdht.a store/libstore.a \
	crypto/libcx.a \
	$(CMOCKA_LIBS) $(JANSSON_LIBS) $(LMDB_LIBS) $(ZSTD_LIBS) $(SODIUM_LIBS)
TESTS += tests/unit/test_node
dist_man8_MANS += docs/parleyd.8
EXTRA_DIST += dist/parleyd.service dist/parleyd-relay.service \
	dist/parleyd.conf.example

# Messaging data layer: contacts, messages, dedupe, outbox (msgstore).
node_libnode_a_SOURCES += node/msgstore.c node/msgstore.h
MSGSTORE_TEST_LIBS = node/libnode.a dht/libdht.a store/libstore.a \
	crypto/libcx.a $(LMDB_LIBS) $(ZSTD_LIBS) $(SODIUM_LIBS)
check_PROGRAMS += tests/unit/test_msgstore
TESTS += tests/unit/test_msgstore
tests_unit_test_msgstore_SOURCES = tests/unit/test_msgstore.c \
	tests/unit/alloc_fail.h tests/unit/store_testutil.h
tests_unit_test_msgstore_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_msgstore_LDFLAGS = $(AM_LDFLAGS) \
	-Wl,--wrap=malloc,--wrap=calloc,--wrap=sodium_malloc
tests_unit_test_msgstore_LDADD = $(MSGSTORE_TEST_LIBS) $(CMOCKA_LIBS)
check_PROGRAMS += tests/fuzz/fuzz_msgstore
tests_fuzz_fuzz_msgstore_SOURCES = tests/fuzz/fuzz_msgstore.c \
	tests/fuzz/store_fuzz.h tests/fuzz/cx_fuzz.h $(FUZZ_DRIVER)
tests_fuzz_fuzz_msgstore_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LINK)
tests_fuzz_fuzz_msgstore_LDADD = $(MSGSTORE_TEST_LIBS)
FUZZ_TESTS += tests/fuzz/fuzz_msgstore
check_PROGRAMS += tests/fuzz/fuzz_events
tests_fuzz_fuzz_events_SOURCES = tests/fuzz/fuzz_events.c \
	tests/fuzz/store_fuzz.h tests/fuzz/cx_fuzz.h $(FUZZ_DRIVER)
tests_fuzz_fuzz_events_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LINK)
tests_fuzz_fuzz_events_LDADD = $(MSGSTORE_TEST_LIBS)
FUZZ_TESTS += tests/fuzz/fuzz_events

# Links between nodes (node/link.c): Noise XK sessions over UDP, sans-I/O.
node_libnode_a_SOURCES += node/link.c node/link.h node/link_wire.h
check_PROGRAMS += tests/unit/test_link
tests_unit_test_link_SOURCES = tests/unit/test_link.c
tests_unit_test_link_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_link_LDADD = node/libnode.a dht/libdht.a crypto/libcx.a \
	$(CMOCKA_LIBS) $(SODIUM_LIBS)
TESTS += tests/unit/test_link
check_PROGRAMS += tests/fuzz/fuzz_link
tests_fuzz_fuzz_link_SOURCES = tests/fuzz/fuzz_link.c $(FUZZ_DRIVER)
tests_fuzz_fuzz_link_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LINK)
tests_fuzz_fuzz_link_LDADD = node/libnode.a dht/libdht.a crypto/libcx.a \
	$(SODIUM_LIBS)
FUZZ_TESTS += tests/fuzz/fuzz_link

# Contact cards, prekeys, request and pairwise rendezvous (node/card.c).
node_libnode_a_SOURCES += node/card.c node/card.h
CARD_TEST_LIBS = node/libnode.a dht/libdht.a store/libstore.a \
	crypto/libcx.a $(LMDB_LIBS) $(ZSTD_LIBS) $(SODIUM_LIBS)
check_PROGRAMS += tests/unit/test_card
TESTS += tests/unit/test_card
tests_unit_test_card_SOURCES = tests/unit/test_card.c tests/unit/alloc_fail.h \
	tests/unit/store_testutil.h
tests_unit_test_card_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_card_LDFLAGS = $(AM_LDFLAGS) \
	-Wl,--wrap=malloc,--wrap=calloc,--wrap=sodium_malloc
tests_unit_test_card_LDADD = $(CARD_TEST_LIBS) $(CMOCKA_LIBS)
check_PROGRAMS += tests/fuzz/fuzz_card tests/fuzz/fuzz_rv
tests_fuzz_fuzz_card_SOURCES = tests/fuzz/fuzz_card.c tests/fuzz/card_fuzz.h \
	$(FUZZ_DRIVER)
tests_fuzz_fuzz_card_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LINK)
tests_fuzz_fuzz_card_LDADD = $(CARD_TEST_LIBS)
tests_fuzz_fuzz_rv_SOURCES = tests/fuzz/fuzz_rv.c tests/fuzz/card_fuzz.h \
	$(FUZZ_DRIVER)
tests_fuzz_fuzz_rv_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LINK)
tests_fuzz_fuzz_rv_LDADD = $(CARD_TEST_LIBS)
FUZZ_TESTS += tests/fuzz/fuzz_card tests/fuzz/fuzz_rv
# One-to-one messaging (node/chat.c): sessions, streams, receipts, presence.
node_libnode_a_SOURCES += node/chat.c node/chat.h node/chat_wire.c \
	node/chat_wire.h
check_PROGRAMS += tests/fuzz/fuzz_chat
tests_fuzz_fuzz_chat_SOURCES = tests/fuzz/fuzz_chat.c $(FUZZ_DRIVER)
tests_fuzz_fuzz_chat_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LINK)
tests_fuzz_fuzz_chat_LDADD = node/libnode.a store/libstore.a crypto/libcx.a \
	$(LMDB_LIBS) $(ZSTD_LIBS) $(SODIUM_LIBS)
FUZZ_TESTS += tests/fuzz/fuzz_chat
# The JSON writer of the hot events (node/jsonw.c) and the reader of the
# requests (node/jsonr.c), both checked against jansson.
check_PROGRAMS += tests/fuzz/fuzz_jsonw tests/fuzz/fuzz_jsonr
FUZZ_TESTS += tests/fuzz/fuzz_jsonw tests/fuzz/fuzz_jsonr
tests_fuzz_fuzz_jsonw_SOURCES = tests/fuzz/fuzz_jsonw.c $(FUZZ_DRIVER)
tests_fuzz_fuzz_jsonr_SOURCES = tests/fuzz/fuzz_jsonr.c $(FUZZ_DRIVER)
tests_fuzz_fuzz_jsonw_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS)
tests_fuzz_fuzz_jsonr_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS)
tests_fuzz_fuzz_jsonw_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LINK)
tests_fuzz_fuzz_jsonr_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LINK)
tests_fuzz_fuzz_jsonw_LDADD = node/libnode.a $(JANSSON_LIBS)
tests_fuzz_fuzz_jsonr_LDADD = node/libnode.a $(JANSSON_LIBS)

# Store-and-forward relays: the frames between a node and a relay
# (node/relay_wire.c, docs/PROTOCOL-relay.md), pure codecs.
node_libnode_a_SOURCES += node/relay_wire.c node/relay_wire.h
check_PROGRAMS += tests/unit/test_relay_wire
TESTS += tests/unit/test_relay_wire
tests_unit_test_relay_wire_SOURCES = tests/unit/test_relay_wire.c
tests_unit_test_relay_wire_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_relay_wire_LDADD = node/libnode.a dht/libdht.a \
	crypto/libcx.a $(CMOCKA_LIBS) $(SODIUM_LIBS)
check_PROGRAMS += tests/fuzz/fuzz_relay_wire
tests_fuzz_fuzz_relay_wire_SOURCES = tests/fuzz/fuzz_relay_wire.c \
	$(FUZZ_DRIVER)
tests_fuzz_fuzz_relay_wire_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LINK)
tests_fuzz_fuzz_relay_wire_LDADD = node/libnode.a
FUZZ_TESTS += tests/fuzz/fuzz_relay_wire

# A relay's mailboxes in the RELAY table (node/relaystore.c): deposit,
# fetch, delete, expiry, limits.  The unit test uses a real LMDB store.
node_libnode_a_SOURCES += node/relaystore.c node/relaystore.h \
	node/relay_wire.h
check_PROGRAMS += tests/unit/test_relaystore
TESTS += tests/unit/test_relaystore
tests_unit_test_relaystore_SOURCES = tests/unit/test_relaystore.c \
	tests/unit/store_testutil.h
tests_unit_test_relaystore_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_relaystore_LDADD = $(MSGSTORE_TEST_LIBS) $(CMOCKA_LIBS)
check_PROGRAMS += tests/fuzz/fuzz_relaystore
tests_fuzz_fuzz_relaystore_SOURCES = tests/fuzz/fuzz_relaystore.c \
	$(FUZZ_DRIVER)
tests_fuzz_fuzz_relaystore_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LINK)
tests_fuzz_fuzz_relaystore_LDADD = $(MSGSTORE_TEST_LIBS)
FUZZ_TESTS += tests/fuzz/fuzz_relaystore

# Store-and-forward relays (DESIGN.md 7): the relay service (relay.c), the
# client side (relayc.c) and the pair's mailboxes (mailbox.c).
node_libnode_a_SOURCES += node/relay.c node/relay.h node/relayc.c \
	node/relayc.h node/mailbox.c node/mailbox.h
check_PROGRAMS += tests/unit/test_relay
TESTS += tests/unit/test_relay
tests_unit_test_relay_SOURCES = tests/unit/test_relay.c \
	tests/unit/store_testutil.h
tests_unit_test_relay_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_relay_LDADD = $(MSGSTORE_TEST_LIBS) $(CMOCKA_LIBS)
check_PROGRAMS += tests/fuzz/fuzz_mailbox
tests_fuzz_fuzz_mailbox_SOURCES = tests/fuzz/fuzz_mailbox.c \
	tests/fuzz/cx_fuzz.h $(FUZZ_DRIVER)
tests_fuzz_fuzz_mailbox_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LINK)
tests_fuzz_fuzz_mailbox_LDADD = node/libnode.a crypto/libcx.a \
	$(SODIUM_LIBS)
FUZZ_TESTS += tests/fuzz/fuzz_mailbox
