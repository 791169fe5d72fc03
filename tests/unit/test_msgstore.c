/* Unit tests for node/msgstore: contacts and their states, send (message
 * and outbox in one transaction), status transitions, dedupe, paging over
 * 1,000 messages, mark_read, encryption at rest (no plaintext in the file,
 * swapped records detected, wrong storage key refused), reopen, and kill -9
 * durability with a forked writer.  Each test works in its own mkdtemp()
 * directory. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "crypto/cx.h"
#include "crypto/keys.h"
#include "crypto/prim.h"
#include "node/msgstore.h"
#include "store/store.h"

#define ALLOC_FAIL_SODIUM
#include "tests/unit/alloc_fail.h"
#include "tests/unit/store_testutil.h"

struct fixture {
	char dir[256];
	struct store *s;
	struct msgstore *ms;
	struct cx_identity id;
	struct trng rng;
};

static int open_all(struct fixture *f, bool no_sync)
{
	struct store_opts o = {.no_sync = no_sync};
	int r;

	if ((r = store_open(&f->s, f->dir, &o)) < 0)
		return r;
	if ((r = msgstore_open(&f->ms, f->s, &f->id, &f->rng.rng)) < 0) {
		store_close(f->s);
		f->s = NULL;
	}
	return r;
}

static void close_all(struct fixture *f)
{
	msgstore_close(f->ms);
	f->ms = NULL;
	store_close(f->s);
	f->s = NULL;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	const char *tmp = getenv("TMPDIR");

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof f->dir, "%s/parley-msg-XXXXXX",
		 tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if (mkdtemp(f->dir) == NULL)
		goto fail;
	trng_init(&f->rng, 42);
	if (cx_identity_generate(&f->id, &f->rng.rng, 1700000000) < 0)
		goto fail;
	if (open_all(f, true) < 0)
		goto fail;
	*state = f;
	return 0;
fail:
	cx_identity_close(&f->id);
	rm_env(f->dir);
	free(f);
	return -1;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	close_all(f);
	cx_identity_close(&f->id);
	rm_env(f->dir);
	free(f);
	return 0;
}

static void pk_of(uint8_t pk[MSGSTORE_PK_LEN], uint8_t first, uint8_t fill)
{
	memset(pk, fill, MSGSTORE_PK_LEN);
	pk[0] = first;
}

static void add_contact(struct fixture *f, const uint8_t *pk, const char *name,
			enum msgstore_contact_state st, uint64_t now)
{
	struct msgstore_contact c;

	memset(&c, 0, sizeof c);
	memcpy(c.pk, pk, MSGSTORE_PK_LEN);
	c.state = st;
	snprintf(c.name, sizeof c.name, "%s", name);
	snprintf(c.greeting, sizeof c.greeting, "hello from %s", name);
	assert_int_equal(msgstore_contact_add(f->ms, &c, now), 0);
}

static void test_contacts(void **state)
{
	struct fixture *f = *state;
	struct msgstore_contact c, page[3];
	enum msgstore_contact_state cs;
	uint8_t pk[MSGSTORE_PK_LEN], last[MSGSTORE_PK_LEN];
	char name[80];
	size_t n, total = 0;
	bool b;

	pk_of(pk, 0x10, 0xaa);
	add_contact(f, pk, "Ada", MSGSTORE_CONTACT_REQUESTED_BY_THEM, 1000);
	memset(&c, 0, sizeof c);
	assert_int_equal(msgstore_contact_get(f->ms, pk, &c), 0);
	assert_string_equal(c.name, "Ada");
	assert_string_equal(c.greeting, "hello from Ada");
	assert_int_equal(c.state, MSGSTORE_CONTACT_REQUESTED_BY_THEM);
	assert_int_equal(c.created_ms, 1000);
	assert_int_equal(c.updated_ms, 1000);
	assert_int_equal(c.last_seen_ms, 0);
	assert_int_equal(msgstore_contact_add(f->ms, &c, 1001), -EEXIST);

	/* Every state, and the blocked check. */
	for (int st = MSGSTORE_CONTACT_REQUESTED_BY_US;
	     st <= MSGSTORE_CONTACT_BLOCKED; st++) {
		assert_int_equal(
			msgstore_contact_set_state(f->ms, pk, st, 2000 + st),
			0);
		assert_int_equal(msgstore_contact_get(f->ms, pk, &c), 0);
		assert_int_equal(c.state, st);
		assert_int_equal(c.updated_ms, 2000 + st);
		cs = 0;
		assert_int_equal(msgstore_contact_state(f->ms, pk, &cs), 0);
		assert_int_equal(cs, st);
		assert_non_null(msgstore_contact_state_name(st));
		assert_int_equal(msgstore_contact_blocked(f->ms, pk, &b), 0);
		assert_int_equal(b, st == MSGSTORE_CONTACT_BLOCKED);
	}
	assert_int_equal(msgstore_contact_set_state(f->ms, pk, 0, 1), -EINVAL);
	assert_int_equal(msgstore_contact_set_state(f->ms, pk, 6, 1), -EINVAL);

	/* Names: UTF-8 within 64 bytes. */
	assert_int_equal(
		msgstore_contact_set_name(f->ms, pk, "Zo\xc3\xab", 3000), 0);
	assert_int_equal(msgstore_contact_get(f->ms, pk, &c), 0);
	assert_string_equal(c.name, "Zo\xc3\xab");
	assert_int_equal(msgstore_contact_set_name(f->ms, pk, "bad\xc3", 1),
			 -EINVAL);
	assert_int_equal(msgstore_contact_set_name(f->ms, pk, "\xc0\xaf", 1),
			 -EINVAL);
	assert_int_equal(
		msgstore_contact_set_name(f->ms, pk, "\xed\xa0\x80", 1),
		-EINVAL);
	memset(name, 'x', 65);
	name[65] = '\0';
	assert_int_equal(msgstore_contact_set_name(f->ms, pk, name, 1),
			 -EINVAL);
	name[64] = '\0';
	assert_int_equal(msgstore_contact_set_name(f->ms, pk, name, 3001), 0);
	assert_int_equal(msgstore_contact_set_greeting(f->ms, pk, "", 3002), 0);
	assert_int_equal(msgstore_contact_get(f->ms, pk, &c), 0);
	assert_string_equal(c.name, name);
	assert_string_equal(c.greeting, "");

	/* Last seen only moves forward. */
	assert_int_equal(msgstore_contact_set_seen(f->ms, pk, 5000), 0);
	assert_int_equal(msgstore_contact_set_seen(f->ms, pk, 4000), 0);
	assert_int_equal(msgstore_contact_get(f->ms, pk, &c), 0);
	assert_int_equal(c.last_seen_ms, 5000);

	/* Receipts: global default, then per contact. */
	assert_int_equal(msgstore_receipts_for(f->ms, pk, &b), 0);
	assert_true(b);
	assert_int_equal(msgstore_receipts_default_set(f->ms, false), 0);
	assert_int_equal(msgstore_receipts_for(f->ms, pk, &b), 0);
	assert_false(b);
	assert_int_equal(msgstore_contact_set_receipts(f->ms, pk,
						       MSGSTORE_RECEIPTS_ON, 1),
			 0);
	assert_int_equal(msgstore_receipts_for(f->ms, pk, &b), 0);
	assert_true(b);
	assert_int_equal(msgstore_contact_set_receipts(f->ms, pk, 3, 1),
			 -EINVAL);

	/* Paged list in key order over 10 contacts. */
	for (int i = 0; i < 9; i++) {
		uint8_t p[MSGSTORE_PK_LEN];

		pk_of(p, (uint8_t)(0x90 - i * 8), (uint8_t)i);
		snprintf(name, sizeof name, "c%d", i);
		add_contact(f, p, name, MSGSTORE_CONTACT_ACCEPTED, 10);
	}
	memset(last, 0, sizeof last);
	for (int round = 0;; round++) {
		assert_int_equal(msgstore_contact_list(f->ms,
						       round ? last : NULL,
						       page, 3, &n),
				 0);
		if (n == 0)
			break;
		for (size_t i = 0; i < n; i++) {
			if (total > 0 || i > 0)
				assert_true(memcmp(i ? page[i - 1].pk : last,
						   page[i].pk,
						   MSGSTORE_PK_LEN) < 0);
		}
		memcpy(last, page[n - 1].pk, MSGSTORE_PK_LEN);
		total += n;
	}
	assert_int_equal(total, 10);

	/* Remove. */
	assert_int_equal(msgstore_contact_remove(f->ms, pk), 0);
	assert_int_equal(msgstore_contact_get(f->ms, pk, &c), -ENOENT);
	assert_int_equal(msgstore_contact_state(f->ms, pk, &cs), -ENOENT);
	assert_int_equal(msgstore_contact_remove(f->ms, pk), -ENOENT);
	assert_int_equal(msgstore_contact_set_name(f->ms, pk, "a", 1), -ENOENT);
	assert_int_equal(msgstore_contact_blocked(f->ms, pk, &b), 0);
	assert_false(b);
}

static void send_text(struct fixture *f, const uint8_t *peer, const char *s,
		      uint64_t now, uint8_t id[MSGSTORE_ID_LEN])
{
	assert_int_equal(msgstore_send(f->ms, peer, (const uint8_t *)s,
				       strlen(s), NULL, now, id, NULL),
			 0);
}

static void recv_text(struct fixture *f, const uint8_t *peer, const char *s,
		      uint64_t now, uint8_t id[MSGSTORE_ID_LEN], bool *dup)
{
	struct msgstore_incoming in = {.peer = peer,
				       .id = id,
				       .from = peer,
				       .sent_ms = now - 5,
				       .body = (const uint8_t *)s,
				       .body_len = strlen(s)};

	assert_int_equal(msgstore_receive(f->ms, &in, now, NULL, dup), 0);
}

static void check_ok(struct fixture *f, uint64_t msgs, uint64_t obx)
{
	struct msgstore_check_stats st;

	assert_int_equal(msgstore_check(f->ms, &st), 0);
	assert_int_equal(st.messages, msgs);
	assert_int_equal(st.outbox, obx);
}

static void test_send_outbox(void **state)
{
	struct fixture *f = *state;
	uint8_t a[MSGSTORE_PK_LEN], b[MSGSTORE_PK_LEN];
	uint8_t ids[5][MSGSTORE_ID_LEN];
	struct msgstore_outbox_entry e[8];
	struct msgstore_msg m;
	uint64_t seq;
	size_t n;

	pk_of(a, 0xa0, 1);
	pk_of(b, 0xa1, 2);
	send_text(f, a, "one", 100, ids[0]);
	send_text(f, b, "two", 101, ids[1]);
	send_text(f, a, "three", 102, ids[2]);
	assert_int_equal(msgstore_send(f->ms, b, (const uint8_t *)"four", 4,
				       ids[0], 103, ids[3], &seq),
			 0);
	assert_int_equal(seq, 2);
	send_text(f, a, "", 104, ids[4]);
	check_ok(f, 5, 5);

	assert_int_equal(msgstore_get(f->ms, ids[3], &m), 0);
	assert_int_equal(m.status, MSGSTORE_STATUS_QUEUED);
	assert_int_equal(m.dir, MSGSTORE_DIR_OUT);
	assert_memory_equal(m.from, f->id.account_pk, MSGSTORE_PK_LEN);
	assert_true(m.has_reply_to);
	assert_memory_equal(m.reply_to, ids[0], MSGSTORE_ID_LEN);
	assert_int_equal(m.body_len, 4);
	assert_string_equal((char *)m.body, "four");
	assert_int_equal(m.sent_ms, 103);
	msgstore_msg_clear(&m);

	/* Overall send order. */
	assert_int_equal(msgstore_outbox_list(f->ms, NULL, 0, e, 8, &n), 0);
	assert_int_equal(n, 5);
	for (size_t i = 0; i < n; i++) {
		assert_memory_equal(e[i].id, ids[i], MSGSTORE_ID_LEN);
		assert_int_equal(e[i].attempts, 0);
		assert_int_equal(e[i].next_attempt_ms, 100 + i);
		if (i > 0)
			assert_true(e[i].obx_seq > e[i - 1].obx_seq);
	}
	/* Per peer, and paging with after. */
	assert_int_equal(msgstore_outbox_list(f->ms, a, 0, e, 8, &n), 0);
	assert_int_equal(n, 3);
	assert_memory_equal(e[0].id, ids[0], MSGSTORE_ID_LEN);
	assert_memory_equal(e[1].id, ids[2], MSGSTORE_ID_LEN);
	assert_memory_equal(e[2].id, ids[4], MSGSTORE_ID_LEN);
	assert_int_equal(msgstore_outbox_list(f->ms, a, e[0].obx_seq, e, 1, &n),
			 0);
	assert_int_equal(n, 1);
	assert_memory_equal(e[0].id, ids[2], MSGSTORE_ID_LEN);

	/* Attempts with the caller's backoff. */
	assert_int_equal(msgstore_outbox_attempt(f->ms, ids[1], 5000), 0);
	assert_int_equal(msgstore_outbox_attempt(f->ms, ids[1], 9000), 0);
	assert_int_equal(msgstore_outbox_list(f->ms, b, 0, e, 8, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(e[0].attempts, 2);
	assert_int_equal(e[0].next_attempt_ms, 9000);

	/* Due entries at a given time, and the next deadline. */
	{
		uint64_t next = 0;

		assert_int_equal(
			msgstore_outbox_due(f->ms, 102, e, 8, &n, &next), 0);
		assert_int_equal(n, 2); /* ids[0], ids[2]; ids[1] waits */
		assert_memory_equal(e[0].id, ids[0], MSGSTORE_ID_LEN);
		assert_memory_equal(e[1].id, ids[2], MSGSTORE_ID_LEN);
		assert_int_equal(next, 103);
		assert_int_equal(
			msgstore_outbox_due(f->ms, 10000, e, 3, &n, &next), 0);
		assert_int_equal(n, 3);
		assert_int_equal(next, 103); /* ids[3], over max */
		assert_int_equal(
			msgstore_outbox_due(f->ms, 10000, e, 8, &n, &next), 0);
		assert_int_equal(n, 5);
		assert_int_equal(next, UINT64_MAX);
	}

	/* Bad bodies. */
	assert_int_equal(msgstore_send(f->ms, a, (const uint8_t *)"\xff", 1,
				       NULL, 1, ids[0], NULL),
			 -EINVAL);
	{
		uint8_t *big = malloc(MSGSTORE_BODY_MAX + 1);

		assert_non_null(big);
		memset(big, 'a', MSGSTORE_BODY_MAX + 1);
		assert_int_equal(msgstore_send(f->ms, a, big,
					       MSGSTORE_BODY_MAX + 1, NULL, 1,
					       ids[0], NULL),
				 -EINVAL);
		assert_int_equal(msgstore_send(f->ms, a, big, MSGSTORE_BODY_MAX,
					       NULL, 1, ids[0], NULL),
				 0);
		assert_int_equal(msgstore_get(f->ms, ids[0], &m), 0);
		assert_int_equal(m.body_len, MSGSTORE_BODY_MAX);
		assert_memory_equal(m.body, big, MSGSTORE_BODY_MAX);
		msgstore_msg_clear(&m);
		free(big);
	}
	check_ok(f, 6, 6);
}

static void test_status(void **state)
{
	struct fixture *f = *state;
	uint8_t a[MSGSTORE_PK_LEN], id[MSGSTORE_ID_LEN], id2[MSGSTORE_ID_LEN];
	uint8_t in_id[MSGSTORE_ID_LEN];
	struct msgstore_outbox_entry e[4];
	enum msgstore_status old;
	struct msgstore_msg m;
	bool changed, dup;
	size_t n;

	pk_of(a, 0xb0, 3);
	send_text(f, a, "status", 10, id);
	assert_int_equal(msgstore_set_status(f->ms, NULL, id,
					     MSGSTORE_STATUS_SENT, 11, &changed,
					     &old),
			 0);
	assert_true(changed);
	assert_int_equal(old, MSGSTORE_STATUS_QUEUED);
	/* A receipt from another peer cannot move it; from a, it can. */
	{
		uint8_t other[MSGSTORE_PK_LEN];

		pk_of(other, 0xb1, 3);
		assert_int_equal(msgstore_set_status(f->ms, other, id,
						     MSGSTORE_STATUS_READ, 11,
						     &changed, NULL),
				 -ENOENT);
		assert_int_equal(msgstore_set_status(f->ms, a, id,
						     MSGSTORE_STATUS_SENT, 11,
						     &changed, NULL),
				 0);
		assert_false(changed);
	}
	/* Sent keeps the outbox entry: only delivery or cancel end it. */
	assert_int_equal(msgstore_outbox_list(f->ms, NULL, 0, e, 4, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(msgstore_set_status(f->ms, NULL, id,
					     MSGSTORE_STATUS_SENT, 12, &changed,
					     NULL),
			 0);
	assert_false(changed);
	assert_int_equal(msgstore_set_status(f->ms, NULL, id,
					     MSGSTORE_STATUS_DELIVERED, 13,
					     &changed, NULL),
			 0);
	assert_true(changed);
	assert_int_equal(msgstore_outbox_list(f->ms, NULL, 0, e, 4, &n), 0);
	assert_int_equal(n, 0);
	check_ok(f, 1, 0);
	/* Backwards is ignored, cancel after delivery refused. */
	assert_int_equal(msgstore_set_status(f->ms, NULL, id,
					     MSGSTORE_STATUS_SENT, 14, &changed,
					     &old),
			 0);
	assert_false(changed);
	assert_int_equal(old, MSGSTORE_STATUS_DELIVERED);
	assert_int_equal(msgstore_set_status(f->ms, NULL, id,
					     MSGSTORE_STATUS_CANCELLED, 14,
					     &changed, NULL),
			 -EALREADY);
	assert_int_equal(msgstore_set_status(f->ms, NULL, id,
					     MSGSTORE_STATUS_FAILED, 14,
					     &changed, NULL),
			 -EALREADY);
	assert_int_equal(msgstore_set_status(f->ms, NULL, id,
					     MSGSTORE_STATUS_QUEUED, 14,
					     &changed, NULL),
			 -EINVAL);
	assert_int_equal(msgstore_set_status(f->ms, NULL, id,
					     MSGSTORE_STATUS_READ, 15, &changed,
					     NULL),
			 0);
	assert_true(changed);
	assert_int_equal(msgstore_set_status(f->ms, NULL, id,
					     MSGSTORE_STATUS_DELIVERED, 16,
					     &changed, NULL),
			 0);
	assert_false(changed);
	assert_int_equal(msgstore_get(f->ms, id, &m), 0);
	assert_int_equal(m.status, MSGSTORE_STATUS_READ);
	assert_int_equal(m.status_ms, 15);
	msgstore_msg_clear(&m);

	/* Read straight from queued (receipts may overtake): outbox gone. */
	send_text(f, a, "skip", 20, id2);
	assert_int_equal(msgstore_set_status(f->ms, NULL, id2,
					     MSGSTORE_STATUS_READ, 21, &changed,
					     NULL),
			 0);
	assert_true(changed);
	check_ok(f, 2, 0);

	/* Failed, then cancelled; a late receipt still counts. */
	send_text(f, a, "fail", 30, id2);
	check_ok(f, 3, 1);
	assert_int_equal(msgstore_set_status(f->ms, NULL, id2,
					     MSGSTORE_STATUS_FAILED, 31,
					     &changed, NULL),
			 0);
	check_ok(f, 3, 0);
	assert_int_equal(msgstore_set_status(f->ms, NULL, id2,
					     MSGSTORE_STATUS_CANCELLED, 32,
					     &changed, NULL),
			 0);
	assert_true(changed);
	assert_int_equal(msgstore_set_status(f->ms, NULL, id2,
					     MSGSTORE_STATUS_FAILED, 33,
					     &changed, NULL),
			 0);
	assert_false(changed);
	assert_int_equal(msgstore_set_status(f->ms, NULL, id2,
					     MSGSTORE_STATUS_DELIVERED, 34,
					     &changed, NULL),
			 0);
	assert_true(changed);
	assert_int_equal(msgstore_outbox_attempt(f->ms, id2, 1), -ENOENT);

	/* Incoming messages are not moved by set_status. */
	memset(in_id, 0x77, sizeof in_id);
	recv_text(f, a, "in", 40, in_id, &dup);
	assert_int_equal(msgstore_set_status(f->ms, NULL, in_id,
					     MSGSTORE_STATUS_READ, 41, &changed,
					     NULL),
			 -EINVAL);
	memset(in_id, 0x78, sizeof in_id);
	assert_int_equal(msgstore_set_status(f->ms, NULL, in_id,
					     MSGSTORE_STATUS_SENT, 41, &changed,
					     NULL),
			 -ENOENT);
	check_ok(f, 4, 0);
}

static void test_dedupe(void **state)
{
	struct fixture *f = *state;
	uint8_t a[MSGSTORE_PK_LEN], b[MSGSTORE_PK_LEN];
	uint8_t id[MSGSTORE_ID_LEN], out_id[MSGSTORE_ID_LEN];
	struct msgstore_incoming in;
	struct msgstore_msg m;
	uint64_t seq1 = 0, seq2 = 0;
	bool dup = true;

	pk_of(a, 0xc0, 4);
	pk_of(b, 0xc1, 5);
	memset(id, 0x42, sizeof id);
	in = (struct msgstore_incoming){.peer = a,
					.id = id,
					.from = a,
					.sent_ms = 7,
					.reply_to = NULL,
					.body = (const uint8_t *)"hi",
					.body_len = 2};
	assert_int_equal(msgstore_receive(f->ms, &in, 100, &seq1, &dup), 0);
	assert_false(dup);
	assert_int_equal(seq1, 1);
	/* The same id again, even with another body or from another peer:
	 * nothing changes. */
	in.body = (const uint8_t *)"changed";
	in.body_len = 7;
	assert_int_equal(msgstore_receive(f->ms, &in, 200, &seq2, &dup), 0);
	assert_true(dup);
	assert_int_equal(seq2, 1);
	in.peer = b;
	assert_int_equal(msgstore_receive(f->ms, &in, 201, NULL, &dup), 0);
	assert_true(dup);
	check_ok(f, 1, 0);
	assert_int_equal(msgstore_get(f->ms, id, &m), 0);
	assert_string_equal((char *)m.body, "hi");
	assert_int_equal(m.stored_ms, 100);
	assert_int_equal(m.status, MSGSTORE_STATUS_RECEIVED);
	msgstore_msg_clear(&m);

	/* An echo of our own outgoing id is a duplicate too. */
	send_text(f, a, "mine", 300, out_id);
	in.peer = a;
	in.id = out_id;
	assert_int_equal(msgstore_receive(f->ms, &in, 301, &seq2, &dup), 0);
	assert_true(dup);
	assert_int_equal(seq2, 2);
	check_ok(f, 2, 1);
	/* Bad input. */
	in.id = id;
	in.body = (const uint8_t *)"\xe2\x82";
	in.body_len = 2;
	memset(id, 0x43, sizeof id);
	assert_int_equal(msgstore_receive(f->ms, &in, 302, NULL, &dup),
			 -EINVAL);
	assert_int_equal(msgstore_get(f->ms, id, &m), -ENOENT);
}

/* 1,000 messages with a, in both directions, and neighbours whose keys
 * sort just before and after a's, so pages must stop at the boundary. */
#define PAGE_N 1000

static void page_setup(struct fixture *f, uint8_t *a,
		       uint8_t ids[][MSGSTORE_ID_LEN])
{
	uint8_t lo[MSGSTORE_PK_LEN], hi[MSGSTORE_PK_LEN], x[MSGSTORE_ID_LEN];
	char body[32];
	bool dup;

	pk_of(a, 0xd0, 0x00);
	memcpy(lo, a, MSGSTORE_PK_LEN);
	lo[MSGSTORE_PK_LEN - 1] = 0xff;
	lo[0] = 0xcf;
	memcpy(hi, a, MSGSTORE_PK_LEN);
	hi[MSGSTORE_PK_LEN - 1] = 0x01;
	send_text(f, lo, "lo", 1, x);
	send_text(f, hi, "hi", 1, x);
	for (int i = 0; i < PAGE_N; i++) {
		snprintf(body, sizeof body, "message %d", i);
		if (i % 3 == 0) {
			send_text(f, a, body, 1000 + (uint64_t)i, ids[i]);
		} else {
			trng_fill(&f->rng, ids[i], MSGSTORE_ID_LEN);
			recv_text(f, a, body, 1000 + (uint64_t)i, ids[i], &dup);
			assert_false(dup);
		}
	}
	send_text(f, hi, "hi2", 2, x);
}

static void test_paging(void **state)
{
	struct fixture *f = *state;
	static uint8_t ids[PAGE_N][MSGSTORE_ID_LEN];
	static struct msgstore_msg page[MSGSTORE_LIST_MAX];
	uint8_t a[MSGSTORE_PK_LEN], other[MSGSTORE_PK_LEN];
	const size_t limits[] = {1, 7, 100, 999, 1000};
	char want[32];
	size_t n;

	page_setup(f, a, ids);
	for (size_t li = 0; li < sizeof limits / sizeof limits[0]; li++) {
		size_t limit = limits[li], seen = 0;
		const uint8_t *before = NULL;
		uint8_t before_buf[MSGSTORE_ID_LEN];
		int next = PAGE_N; /* index just after this page */

		for (;;) {
			assert_int_equal(msgstore_list(f->ms, a, before, limit,
						       page, &n),
					 0);
			if (n == 0)
				break;
			assert_int_equal(n, (size_t)next >= limit
						    ? limit
						    : (size_t)next);
			for (size_t i = 0; i < n; i++) {
				int k = next - (int)n + (int)i;

				assert_int_equal(page[i].seq, (uint64_t)k + 1);
				assert_memory_equal(page[i].id, ids[k],
						    MSGSTORE_ID_LEN);
				snprintf(want, sizeof want, "message %d", k);
				assert_string_equal((char *)page[i].body, want);
				assert_int_equal(page[i].dir,
						 k % 3 == 0 ? MSGSTORE_DIR_OUT
							    : MSGSTORE_DIR_IN);
				assert_memory_equal(page[i].peer, a,
						    MSGSTORE_PK_LEN);
			}
			memcpy(before_buf, page[0].id, MSGSTORE_ID_LEN);
			before = before_buf;
			next -= (int)n;
			seen += n;
			for (size_t i = 0; i < n; i++)
				msgstore_msg_clear(&page[i]);
		}
		assert_int_equal(seen, PAGE_N);
		assert_int_equal(next, 0);
	}
	/* Boundaries: before the first is empty; bad arguments. */
	assert_int_equal(msgstore_list(f->ms, a, ids[0], 10, page, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(msgstore_list(f->ms, a, ids[1], 10, page, &n), 0);
	assert_int_equal(n, 1);
	assert_memory_equal(page[0].id, ids[0], MSGSTORE_ID_LEN);
	msgstore_msg_clear(&page[0]);
	assert_int_equal(msgstore_list(f->ms, a, NULL, 0, page, &n), -EINVAL);
	assert_int_equal(
		msgstore_list(f->ms, a, NULL, MSGSTORE_LIST_MAX + 1, page, &n),
		-EINVAL);
	pk_of(other, 0xd1, 0);
	assert_int_equal(msgstore_list(f->ms, other, ids[5], 10, page, &n),
			 -ENOENT);
	assert_int_equal(msgstore_list(f->ms, other, NULL, 10, page, &n), 0);
	assert_int_equal(n, 0);
	check_ok(f, PAGE_N + 3, PAGE_N / 3 + 1 + 3);
}

static void test_mark_read(void **state)
{
	struct fixture *f = *state;
	uint8_t a[MSGSTORE_PK_LEN], b[MSGSTORE_PK_LEN];
	uint8_t in[6][MSGSTORE_ID_LEN], out[2][MSGSTORE_ID_LEN];
	uint8_t nope[MSGSTORE_ID_LEN];
	uint8_t *ids = NULL;
	struct msgstore_msg m;
	size_t n = 99;
	bool dup;

	pk_of(a, 0xe0, 6);
	pk_of(b, 0xe1, 7);
	for (int i = 0; i < 6; i++)
		memset(in[i], 0x10 + i, MSGSTORE_ID_LEN);
	recv_text(f, a, "i0", 10, in[0], &dup);
	recv_text(f, a, "i1", 11, in[1], &dup);
	send_text(f, a, "o0", 12, out[0]);
	recv_text(f, a, "i2", 13, in[2], &dup);
	recv_text(f, b, "b", 13, in[5], &dup);
	recv_text(f, a, "i3", 14, in[3], &dup);
	send_text(f, a, "o1", 15, out[1]);
	recv_text(f, a, "i4", 16, in[4], &dup);

	assert_int_equal(msgstore_mark_read(f->ms, a, in[2], 20, &ids, &n), 0);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < n; i++)
		assert_memory_equal(ids + i * MSGSTORE_ID_LEN, in[i],
				    MSGSTORE_ID_LEN);
	free(ids);
	assert_int_equal(msgstore_get(f->ms, in[1], &m), 0);
	assert_int_equal(m.status, MSGSTORE_STATUS_READ);
	assert_int_equal(m.status_ms, 20);
	msgstore_msg_clear(&m);
	/* Again: nothing changes. */
	assert_int_equal(msgstore_mark_read(f->ms, a, in[2], 21, &ids, &n), 0);
	assert_int_equal(n, 0);
	assert_null(ids);
	/* Up to an outgoing id: the incoming before it. */
	assert_int_equal(msgstore_mark_read(f->ms, a, out[1], 22, &ids, &n), 0);
	assert_int_equal(n, 1);
	assert_memory_equal(ids, in[3], MSGSTORE_ID_LEN);
	free(ids);
	assert_int_equal(msgstore_get(f->ms, in[4], &m), 0);
	assert_int_equal(m.status, MSGSTORE_STATUS_RECEIVED);
	msgstore_msg_clear(&m);
	/* Outgoing statuses untouched; other conversation untouched. */
	assert_int_equal(msgstore_get(f->ms, out[0], &m), 0);
	assert_int_equal(m.status, MSGSTORE_STATUS_QUEUED);
	msgstore_msg_clear(&m);
	assert_int_equal(msgstore_get(f->ms, in[5], &m), 0);
	assert_int_equal(m.status, MSGSTORE_STATUS_RECEIVED);
	msgstore_msg_clear(&m);
	/* An id of another conversation, or unknown. */
	assert_int_equal(msgstore_mark_read(f->ms, a, in[5], 23, &ids, &n),
			 -ENOENT);
	memset(nope, 0xee, sizeof nope);
	assert_int_equal(msgstore_mark_read(f->ms, a, nope, 23, &ids, &n),
			 -ENOENT);
	assert_int_equal(msgstore_mark_read(f->ms, a, in[4], 24, &ids, &n), 0);
	assert_int_equal(n, 1);
	free(ids);
	check_ok(f, 8, 2);
}

static bool contains(const uint8_t *hay, size_t len, const char *needle)
{
	return memmem(hay, len, needle, strlen(needle)) != NULL;
}

static int swap_txn(struct store_txn *t, void *ctx)
{
	const uint8_t *peer = ctx;
	uint8_t k1[40], k2[40];
	uint8_t *v1 = NULL, *v2 = NULL;
	size_t l1, l2;
	int r;

	memcpy(k1, peer, 32);
	memcpy(k2, peer, 32);
	memset(k1 + 32, 0, 8);
	memset(k2 + 32, 0, 8);
	k1[39] = 1;
	k2[39] = 2;
	if ((r = store_get_alloc(t, STORE_TABLE_MESSAGES, k1, 40, &v1, &l1)) <
		    0 ||
	    (r = store_get_alloc(t, STORE_TABLE_MESSAGES, k2, 40, &v2, &l2)) <
		    0 ||
	    (r = store_put(t, STORE_TABLE_MESSAGES, k1, 40, v2, l2)) < 0 ||
	    (r = store_put(t, STORE_TABLE_MESSAGES, k2, 40, v1, l1)) < 0)
		goto out;
out:
	free(v1);
	free(v2);
	return r;
}

static void test_at_rest(void **state)
{
	struct fixture *f = *state;
	uint8_t a[MSGSTORE_PK_LEN], id1[MSGSTORE_ID_LEN], id2[MSGSTORE_ID_LEN];
	struct msgstore_msg page[4];
	struct msgstore_check_stats st;
	struct msgstore_msg m;
	struct cx_identity other;
	struct msgstore *ms2 = NULL;
	uint8_t *file;
	size_t len, n;
	bool dup;

	pk_of(a, 0xf0, 8);
	add_contact(f, a, "Mallory-Name-Marker", MSGSTORE_CONTACT_ACCEPTED, 1);
	send_text(f, a, "the secret word is xylophone-42", 10, id1);
	memset(id2, 0x5a, sizeof id2);
	recv_text(f, a, "incoming secret: zebra-crossing-77", 11, id2, &dup);
	close_all(f);
	file = slurp(f->dir, &len);
	assert_false(contains(file, len, "xylophone-42"));
	assert_false(contains(file, len, "zebra-crossing-77"));
	assert_false(contains(file, len, "Mallory-Name-Marker"));
	assert_false(contains(file, len, "hello from Mallory"));
	free(file);

	/* A wrong storage key is refused at open, clearly. */
	{
		struct store_opts o = {.no_sync = true};
		struct trng r2;

		trng_init(&r2, 4242);
		assert_int_equal(cx_identity_generate(&other, &r2.rng, 1), 0);
		assert_int_equal(store_open(&f->s, f->dir, &o), 0);
		assert_int_equal(msgstore_open(&ms2, f->s, &other, &r2.rng),
				 -EKEYREJECTED);
		assert_null(ms2);
		cx_identity_close(&other);
		store_close(f->s);
		f->s = NULL;
	}

	/* Reopened with the right key: everything is there. */
	assert_int_equal(open_all(f, true), 0);
	assert_int_equal(msgstore_get(f->ms, id1, &m), 0);
	assert_string_equal((char *)m.body, "the secret word is xylophone-42");
	msgstore_msg_clear(&m);
	check_ok(f, 2, 1);

	/* Swapping two stored records is detected. */
	assert_int_equal(store_write(f->s, swap_txn, a), 0);
	assert_int_equal(msgstore_get(f->ms, id1, &m), -EBADMSG);
	assert_int_equal(msgstore_list(f->ms, a, NULL, 4, page, &n),
			 -EKEYREJECTED);
	assert_int_equal(n, 0);
	assert_int_not_equal(msgstore_check(f->ms, &st), 0);
	/* Swapped back, all is well again. */
	assert_int_equal(store_write(f->s, swap_txn, a), 0);
	check_ok(f, 2, 1);
}

/* Moves one sealed body onto another record (header kept): the record's
 * key and fields no longer match the associated data. */
static int graft_txn(struct store_txn *t, void *ctx)
{
	const uint8_t *peer = ctx;
	uint8_t k1[40], k2[40];
	uint8_t *v1 = NULL, *v2 = NULL, *nv = NULL;
	size_t l1, l2;
	int r;

	memcpy(k1, peer, 32);
	memcpy(k2, peer, 32);
	memset(k1 + 32, 0, 8);
	memset(k2 + 32, 0, 8);
	k1[39] = 1;
	k2[39] = 2;
	if ((r = store_get_alloc(t, STORE_TABLE_MESSAGES, k1, 40, &v1, &l1)) <
		    0 ||
	    (r = store_get_alloc(t, STORE_TABLE_MESSAGES, k2, 40, &v2, &l2)) <
		    0)
		goto out;
	nv = malloc(l2);
	r = -ENOMEM;
	if (nv == NULL)
		goto out;
	/* header of record 1 (ct_len fixed up), nonce and ct of record 2 */
	memcpy(nv, v1, MSGSTORE__MSG_HDR_LEN);
	memcpy(nv + 100, v2 + 100, l2 - 100);
	r = store_put(t, STORE_TABLE_MESSAGES, k1, 40, nv, l2);
out:
	free(v1);
	free(v2);
	free(nv);
	return r;
}

static void test_graft(void **state)
{
	struct fixture *f = *state;
	uint8_t a[MSGSTORE_PK_LEN], id1[MSGSTORE_ID_LEN], id2[MSGSTORE_ID_LEN];
	struct msgstore_msg m;

	pk_of(a, 0xf1, 9);
	send_text(f, a, "first body", 10, id1);
	send_text(f, a, "second body", 11, id2);
	assert_int_equal(store_write(f->s, graft_txn, a), 0);
	assert_int_equal(msgstore_get(f->ms, id1, &m), -EKEYREJECTED);
	assert_int_equal(msgstore_get(f->ms, id2, &m), 0);
	msgstore_msg_clear(&m);
}

static void test_reopen(void **state)
{
	struct fixture *f = *state;
	uint8_t a[MSGSTORE_PK_LEN], ids[20][MSGSTORE_ID_LEN];
	struct msgstore_contact c;
	struct msgstore_msg page[20];
	char body[16];
	size_t n;

	pk_of(a, 0x20, 10);
	add_contact(f, a, "Kept", MSGSTORE_CONTACT_ACCEPTED, 5);
	assert_int_equal(msgstore_receipts_default_set(f->ms, false), 0);
	for (int i = 0; i < 20; i++) {
		snprintf(body, sizeof body, "kept %d", i);
		send_text(f, a, body, 100 + (uint64_t)i, ids[i]);
	}
	close_all(f);
	assert_int_equal(open_all(f, false), 0);
	assert_int_equal(msgstore_contact_get(f->ms, a, &c), 0);
	assert_string_equal(c.name, "Kept");
	{
		bool on = true;

		assert_int_equal(msgstore_receipts_default_get(f->ms, &on), 0);
		assert_false(on);
	}
	assert_int_equal(msgstore_list(f->ms, a, NULL, 20, page, &n), 0);
	assert_int_equal(n, 20);
	for (int i = 0; i < 20; i++) {
		snprintf(body, sizeof body, "kept %d", i);
		assert_string_equal((char *)page[i].body, body);
		assert_memory_equal(page[i].id, ids[i], MSGSTORE_ID_LEN);
		msgstore_msg_clear(&page[i]);
	}
	/* Sequence numbers go on after a restart. */
	send_text(f, a, "after", 200, ids[0]);
	assert_int_equal(msgstore_get(f->ms, ids[0], &page[0]), 0);
	assert_int_equal(page[0].seq, 21);
	msgstore_msg_clear(&page[0]);
	check_ok(f, 21, 21);
}

/* Outbox seqs: a reopened store knows the largest (msgstore_outbox_hi),
 * and within a run a seq is never given twice, even when the entries at
 * the outbox's end left it (chat lists a contact's outbox past the last
 * seq it took, so a seq given again would be skipped). */
static void test_outbox_hi(void **state)
{
	struct fixture *f = *state;
	uint8_t a[MSGSTORE_PK_LEN], b[MSGSTORE_PK_LEN], id[MSGSTORE_ID_LEN];
	uint8_t id2[MSGSTORE_ID_LEN];
	struct msgstore_outbox_entry e[4];
	struct store_txn *t;
	uint64_t seq = 0, obx = 0;
	bool changed = false;
	size_t n = 0;

	pk_of(a, 0x30, 1);
	pk_of(b, 0x31, 2);
	add_contact(f, a, "A", MSGSTORE_CONTACT_ACCEPTED, 5);
	add_contact(f, b, "B", MSGSTORE_CONTACT_ACCEPTED, 5);
	assert_int_equal(msgstore_outbox_hi(f->ms), 0);
	send_text(f, a, "one", 10, id);
	send_text(f, b, "two", 11, id);
	assert_int_equal(msgstore_outbox_hi(f->ms), 2);
	close_all(f);
	assert_int_equal(open_all(f, false), 0);
	assert_int_equal(msgstore_outbox_hi(f->ms), 2);
	/* the last entry leaves; the next text still gets 3 */
	assert_int_equal(msgstore_set_status(f->ms, NULL, id,
					     MSGSTORE_STATUS_DELIVERED, 12,
					     &changed, NULL),
			 0);
	assert_true(changed);
	send_text(f, a, "three", 13, id);
	assert_int_equal(msgstore_outbox_list(f->ms, a, 1, e, 4, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(e[0].obx_seq, 3);
	assert_int_equal(msgstore_outbox_hi(f->ms), 3);
	/* the text and its outbox seq, as chat stores it; a transaction that
	 * aborts gives its seq up for good */
	msgstore_new_id(&f->rng.rng, 14, id2);
	for (uint64_t want = 4; want <= 5; want++) {
		assert_int_equal(store_txn_begin(f->s, true, &t), 0);
		assert_int_equal(msgstore_send_id_txn(f->ms, t, b,
						      (const uint8_t *)"x", 1,
						      NULL, 14, id2,
						      MSGSTORE_STATUS_SENT,
						      &seq, &obx),
				 0);
		assert_int_equal(obx, want);
		assert_int_equal(msgstore_outbox_hi(f->ms), want);
		if (want == 4)
			store_txn_abort(t);
		else
			assert_int_equal(store_txn_commit(t), 0);
	}
	assert_int_equal(seq, 2);
	assert_int_equal(msgstore_outbox_list(f->ms, b, 0, e, 4, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(e[0].obx_seq, 5);
	check_ok(f, 4, 3);
}

/* kill -9: a child stores messages in a loop (sends, receives, and status
 * changes that empty the outbox), with fsync, and reports each one on a
 * pipe after the call returned; the parent kills it with SIGKILL after a
 * seeded random number of reports.  After reopening, every reported
 * message is there exactly once, the reported statuses hold, and the
 * layer is consistent (msgstore_check: MSGIDS and MESSAGES one-to-one,
 * outbox entries exactly for queued and sent messages). */
enum kill_op { KILL_SEND = 1, KILL_RECV = 2, KILL_DELIVER = 3 };

struct kill_report {
	uint8_t op;
	uint8_t id[MSGSTORE_ID_LEN];
};

static void kill_child(struct fixture *f, int fd, uint64_t seed)
{
	struct kill_report rep, sent[64];
	uint8_t peer[MSGSTORE_PK_LEN];
	struct trng *rng = &f->rng;
	char body[64];
	size_t n_sent = 0;
	bool dup;

	trng_init(rng, seed); /* the child draws its own ids and nonces */
	if (open_all(f, false) < 0)
		_exit(2);
	for (uint32_t i = 0;; i++) {
		uint64_t x = trng_next(rng);

		pk_of(peer, (uint8_t)(0x30 + x % 3), 0);
		snprintf(body, sizeof body, "kill body %u", (unsigned)i);
		memset(&rep, 0, sizeof rep);
		if (x % 4 == 0 && n_sent > 0) {
			rep = sent[(x >> 8) % n_sent];
			if (msgstore_set_status(f->ms, NULL, rep.id,
						MSGSTORE_STATUS_DELIVERED, i,
						NULL, NULL) < 0)
				_exit(3);
			rep.op = KILL_DELIVER;
		} else if (x % 2 == 0) {
			rep.op = KILL_SEND;
			if (msgstore_send(f->ms, peer, (const uint8_t *)body,
					  strlen(body), NULL, i, rep.id,
					  NULL) < 0)
				_exit(4);
			sent[n_sent % 64] = rep;
			if (n_sent < 64)
				n_sent++;
		} else {
			struct msgstore_incoming in = {
				.peer = peer,
				.id = rep.id,
				.from = peer,
				.sent_ms = i,
				.body = (const uint8_t *)body,
				.body_len = strlen(body)};

			rep.op = KILL_RECV;
			trng_fill(rng, rep.id, MSGSTORE_ID_LEN);
			if (msgstore_receive(f->ms, &in, i, NULL, &dup) < 0 ||
			    dup)
				_exit(5);
		}
		if (write(fd, &rep, sizeof rep) != sizeof rep)
			_exit(6);
	}
}

static void test_kill9(void **state)
{
	struct fixture *f = *state;
	struct kill_report *reps;
	struct msgstore_check_stats st;
	struct trng seeds;
	size_t n_reps = 0, cap = 1 << 16, n_msgs = 0;
	uint64_t total_msgs = 0;
	int fds[2], status;
	pid_t pid;

	reps = calloc(cap, sizeof *reps);
	assert_non_null(reps);
	trng_init(&seeds, 0x9e3779b97f4a7c15ULL);
	close_all(f); /* LMDB environments do not survive fork() */
	for (int round = 0; round < 4; round++) {
		uint64_t seed = trng_next(&seeds);
		size_t kill_after = 20 + trng_next(&seeds) % 150, got = 0;
		struct kill_report rep;

		printf("# kill -9 round %d: seed %llu, kill after %zu\n", round,
		       (unsigned long long)seed, kill_after);
		fflush(stdout);
		assert_int_equal(pipe(fds), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(fds[0]);
			kill_child(f, fds[1], seed);
		}
		close(fds[1]);
		while (got < kill_after &&
		       read(fds[0], &rep, sizeof rep) == sizeof rep) {
			assert_true(n_reps < cap);
			reps[n_reps++] = rep;
			got++;
		}
		assert_int_equal(kill(pid, SIGKILL), 0);
		/* Reports written before the signal count too. */
		while (read(fds[0], &rep, sizeof rep) == sizeof rep) {
			assert_true(n_reps < cap);
			reps[n_reps++] = rep;
		}
		close(fds[0]);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFSIGNALED(status));

		assert_int_equal(open_all(f, false), 0);
		assert_int_equal(msgstore_check(f->ms, &st), 0);
		n_msgs = 0;
		for (size_t i = 0; i < n_reps; i++) {
			struct msgstore_msg m;

			assert_int_equal(msgstore_get(f->ms, reps[i].id, &m),
					 0);
			switch (reps[i].op) {
			case KILL_SEND:
				n_msgs++;
				assert_int_equal(m.dir, MSGSTORE_DIR_OUT);
				break;
			case KILL_RECV:
				n_msgs++;
				assert_int_equal(m.dir, MSGSTORE_DIR_IN);
				break;
			case KILL_DELIVER:
				assert_int_equal(m.status,
						 MSGSTORE_STATUS_DELIVERED);
				break;
			}
			msgstore_msg_clear(&m);
		}
		total_msgs = st.messages;
		/* Every reported insert is there (msgstore_check shows each
		 * exactly once); at most one more, committed but not yet
		 * reported when the signal hit. */
		assert_true(total_msgs >= n_msgs &&
			    total_msgs - n_msgs <= (uint64_t)round + 1);
		close_all(f);
	}
	free(reps);
	assert_int_equal(open_all(f, true), 0);
}

/* A stored body whose zstd frame declares more than MSGSTORE_BODY_MAX is
 * refused before it is decoded, even when it authenticates: the test seals
 * one itself with the documented key derivation and associated data
 * (docs/PROTOCOL-store.md), which also checks that documentation. */
struct bomb_ctx {
	struct fixture *f;
	const uint8_t *peer;
	size_t body_len;
};

static int bomb_txn(struct store_txn *t, void *arg)
{
	struct bomb_ctx *bc = arg;
	static const char tag[] = "parley msgbody v1";
	uint8_t key[40], ad[131], bkey[CX_KEY_LEN], *v = NULL, *nv = NULL;
	uint8_t *plain = NULL, *frame = NULL, *p;
	size_t l, frame_len = 0, cap = store_compress_bound(bc->body_len);
	int r = -ENOMEM;

	memcpy(key, bc->peer, 32);
	memset(key + 32, 0, 8);
	key[39] = 1;
	if ((r = store_get_alloc(t, STORE_TABLE_MESSAGES, key, 40, &v, &l)) < 0)
		return r;
	plain = malloc(bc->body_len);
	frame = malloc(cap);
	nv = malloc(MSGSTORE__MSG_HDR_LEN + cap + 16);
	if (plain == NULL || frame == NULL || nv == NULL)
		goto out;
	memset(plain, 'z', bc->body_len);
	if ((r = store_compress(frame, cap, &frame_len, plain, bc->body_len,
				0)) < 0)
		goto out;
	/* ad = tag || peer || seq || id || dir || from || sent_ms ||
	 * flags (reply, raw) || reply_to, from the record's own header; the
	 * forged body is a zstd frame: the raw flag goes. */
	v[3] &= (uint8_t)~MSGSTORE__MSG_FLAG_RAW;
	p = ad;
	memcpy(p, tag, 17);
	p += 17;
	memcpy(p, key, 40);
	p += 40;
	memcpy(p, v + 4, 16); /* id */
	p += 16;
	*p++ = v[1];		   /* dir */
	memcpy(p, v + 20, 32 + 8); /* from, sent_ms */
	p += 40;
	*p++ = v[3] & MSGSTORE__MSG_FLAGS;
	memcpy(p, v + 76, 16);
	assert_int_equal(cx_store_subkey(bkey, &bc->f->id, 1, "msgbody1"), 0);
	memcpy(nv, v, MSGSTORE__MSG_HDR_LEN);
	nv[124] = (uint8_t)((frame_len + 16) >> 24);
	nv[125] = (uint8_t)((frame_len + 16) >> 16);
	nv[126] = (uint8_t)((frame_len + 16) >> 8);
	nv[127] = (uint8_t)(frame_len + 16);
	assert_int_equal(cx_xchacha_seal(nv + MSGSTORE__MSG_HDR_LEN,
					 frame_len + 16, frame, frame_len, ad,
					 sizeof ad, nv + 100, bkey),
			 0);
	r = store_put(t, STORE_TABLE_MESSAGES, key, 40, nv,
		      MSGSTORE__MSG_HDR_LEN + frame_len + 16);
out:
	free(v);
	free(nv);
	free(plain);
	free(frame);
	return r;
}

static void test_decompress_cap(void **state)
{
	struct fixture *f = *state;
	uint8_t a[MSGSTORE_PK_LEN], id[MSGSTORE_ID_LEN];
	struct bomb_ctx bc = {.f = f, .peer = a};
	struct msgstore_msg m;

	pk_of(a, 0x40, 11);
	send_text(f, a, "small", 1, id);
	/* A forged body of exactly the maximum opens: the documented
	 * associated data is right. */
	bc.body_len = MSGSTORE_BODY_MAX;
	assert_int_equal(store_write(f->s, bomb_txn, &bc), 0);
	assert_int_equal(msgstore_get(f->ms, id, &m), 0);
	assert_int_equal(m.body_len, MSGSTORE_BODY_MAX);
	assert_int_equal(m.body[0], 'z');
	msgstore_msg_clear(&m);
	/* One byte more: refused before decoding. */
	bc.body_len = MSGSTORE_BODY_MAX + 1;
	assert_int_equal(store_write(f->s, bomb_txn, &bc), 0);
	assert_int_equal(msgstore_get(f->ms, id, &m), -EBADMSG);
	bc.body_len = 10u << 20;
	assert_int_equal(store_write(f->s, bomb_txn, &bc), 0);
	assert_int_equal(msgstore_get(f->ms, id, &m), -EBADMSG);
}

/* Bodies up to MSGSTORE__RAW_MAX bytes are kept uncompressed (flag
 * 0x02), longer ones as zstd frames; the flag is in the body's associated
 * data, so flipping it on disk makes the body fail to authenticate. */
struct flip_ctx {
	const uint8_t *peer;
	uint64_t seq;
	uint8_t flags; /* read */
	bool flip;
};

static int flip_txn(struct store_txn *t, void *arg)
{
	struct flip_ctx *fc = arg;
	uint8_t key[40], *v = NULL;
	size_t l;
	int r;

	memcpy(key, fc->peer, 32);
	for (int i = 0; i < 8; i++)
		key[32 + i] = (uint8_t)(fc->seq >> (56 - 8 * i));
	if ((r = store_get_alloc(t, STORE_TABLE_MESSAGES, key, 40, &v, &l)) < 0)
		return r;
	fc->flags = v[3];
	v[3] ^= MSGSTORE__MSG_FLAG_RAW;
	r = fc->flip ? store_put(t, STORE_TABLE_MESSAGES, key, 40, v, l) : 0;
	free(v);
	return r;
}

static void test_raw_bodies(void **state)
{
	struct fixture *f = *state;
	uint8_t a[MSGSTORE_PK_LEN], id1[MSGSTORE_ID_LEN], id2[MSGSTORE_ID_LEN];
	char big[MSGSTORE__RAW_MAX + 2], edge[MSGSTORE__RAW_MAX + 1];
	struct flip_ctx fc = {.peer = a};
	struct msgstore_msg m;

	pk_of(a, 0x42, 13);
	memset(edge, 'e', MSGSTORE__RAW_MAX);
	edge[MSGSTORE__RAW_MAX] = '\0';
	memset(big, 'b', MSGSTORE__RAW_MAX + 1);
	big[MSGSTORE__RAW_MAX + 1] = '\0';
	send_text(f, a, edge, 1, id1);
	send_text(f, a, big, 2, id2);
	fc.seq = 1;
	assert_int_equal(store_write(f->s, flip_txn, &fc), 0);
	assert_int_equal(fc.flags & MSGSTORE__MSG_FLAG_RAW,
			 MSGSTORE__MSG_FLAG_RAW);
	fc.seq = 2;
	assert_int_equal(store_write(f->s, flip_txn, &fc), 0);
	assert_int_equal(fc.flags & MSGSTORE__MSG_FLAG_RAW, 0);
	assert_int_equal(msgstore_get(f->ms, id1, &m), 0);
	assert_string_equal((const char *)m.body, edge);
	msgstore_msg_clear(&m);
	assert_int_equal(msgstore_get(f->ms, id2, &m), 0);
	assert_string_equal((const char *)m.body, big);
	msgstore_msg_clear(&m);
	fc.flip = true;
	for (fc.seq = 1; fc.seq <= 2; fc.seq++) {
		assert_int_equal(store_write(f->s, flip_txn, &fc), 0);
		assert_int_equal(msgstore_get(f->ms, fc.seq == 1 ? id1 : id2,
					      &m),
				 -EKEYREJECTED);
	}
}

/* Corrupt clear headers are refused, never trusted. */
static int corrupt_txn(struct store_txn *t, void *arg)
{
	const uint8_t *peer = arg;
	uint8_t key[40], *v = NULL;
	size_t l;
	int r;

	memcpy(key, peer, 32);
	memset(key + 32, 0, 8);
	key[39] = 1;
	if ((r = store_get_alloc(t, STORE_TABLE_MESSAGES, key, 40, &v, &l)) < 0)
		return r;
	v[0] = 2; /* unknown version */
	r = store_put(t, STORE_TABLE_MESSAGES, key, 40, v, l);
	free(v);
	return r;
}

static void test_corrupt(void **state)
{
	struct fixture *f = *state;
	uint8_t a[MSGSTORE_PK_LEN], id[MSGSTORE_ID_LEN];
	struct msgstore_msg page[2];
	struct msgstore_check_stats st;
	struct msgstore_msg m;
	uint8_t *ids;
	size_t n;

	pk_of(a, 0x41, 12);
	memset(id, 0x61, sizeof id);
	{
		bool dup;

		recv_text(f, a, "x", 5, id, &dup);
	}
	assert_int_equal(store_write(f->s, corrupt_txn, a), 0);
	assert_int_equal(msgstore_get(f->ms, id, &m), -EBADMSG);
	assert_int_equal(msgstore_list(f->ms, a, NULL, 2, page, &n), -EBADMSG);
	assert_int_equal(msgstore_mark_read(f->ms, a, id, 6, &ids, &n),
			 -EBADMSG);
	assert_int_equal(msgstore_check(f->ms, &st), -EBADMSG);
}

/* Every allocation of each operation fails in turn: the call returns
 * -ENOMEM, nothing of it is stored (msgstore_check and the counts stay),
 * nothing leaks (ASan), and the next call works. */
static void test_alloc_failure(void **state)
{
	struct fixture *f = *state;
	uint8_t a[MSGSTORE_PK_LEN], id[MSGSTORE_ID_LEN], in_id[MSGSTORE_ID_LEN];
	struct msgstore_incoming in;
	struct msgstore_msg page[4], m;
	struct msgstore *ms2;
	uint8_t *ids = NULL;
	uint64_t msgs = 1, obx = 1;
	bool dup = false, changed;
	size_t n = 0;
	long k;
	int r;

	pk_of(a, 0x50, 13);
	send_text(f, a, "first", 1, id);
	memset(in_id, 0x51, sizeof in_id);
	in = (struct msgstore_incoming){.peer = a,
					.id = in_id,
					.from = a,
					.sent_ms = 2,
					.body = (const uint8_t *)"incoming",
					.body_len = 8};
	for (int op = 0; op < 7; op++) {
		for (k = 0;; k++) {
			alloc_fail(k);
			switch (op) {
			case 0:
				ms2 = NULL;
				r = msgstore_open(&ms2, f->s, &f->id,
						  &f->rng.rng);
				msgstore_close(ms2);
				break;
			case 1:
				r = msgstore_send(f->ms, a,
						  (const uint8_t *)"again", 5,
						  NULL, 3, id, NULL);
				break;
			case 2:
				r = msgstore_receive(f->ms, &in, 4, NULL, &dup);
				break;
			case 3:
				r = msgstore_list(f->ms, a, NULL, 4, page, &n);
				break;
			case 4:
				r = msgstore_get(f->ms, in_id, &m);
				break;
			case 5:
				r = msgstore_mark_read(f->ms, a, in_id, 5, &ids,
						       &n);
				break;
			default:
				r = msgstore_set_status(
					f->ms, a, id, MSGSTORE_STATUS_DELIVERED,
					6, &changed, NULL);
				break;
			}
			if (alloc_done())
				break;
			assert_int_equal(r, -ENOMEM);
			check_ok(f, msgs, obx);
		}
		assert_int_equal(r, 0);
		switch (op) {
		case 1:
			msgs++;
			obx++;
			break;
		case 2:
			msgs++;
			assert_false(dup);
			break;
		case 3:
			assert_int_equal(n, 3);
			for (size_t i = 0; i < n; i++)
				msgstore_msg_clear(&page[i]);
			break;
		case 4:
			msgstore_msg_clear(&m);
			break;
		case 5:
			assert_int_equal(n, 1);
			free(ids);
			break;
		case 6:
			obx--;
			break;
		default:
			break;
		}
		check_ok(f, msgs, obx);
	}
}

/* The _txn variants commit together with the caller's writes, or not at
 * all when the caller's function fails. */
struct joint_ctx {
	struct fixture *f;
	const uint8_t *peer;
	const uint8_t *in_id;
	int fail; /* returned after the writes when non-zero */
	uint8_t out_id[MSGSTORE_ID_LEN];
	bool dup;
	bool changed;
	uint8_t *read_ids; /* from msgstore_mark_read_txn */
	size_t n_read;
};

static int joint_txn(struct store_txn *t, void *arg)
{
	struct joint_ctx *jc = arg;
	struct msgstore_incoming in = {.peer = jc->peer,
				       .id = jc->in_id,
				       .from = jc->peer,
				       .sent_ms = 1,
				       .body = (const uint8_t *)"joint in",
				       .body_len = 8};
	int r;

	if ((r = msgstore_receive_txn(jc->f->ms, t, &in, 2, NULL, &jc->dup)) <
		    0 ||
	    (r = msgstore_send_txn(jc->f->ms, t, jc->peer,
				   (const uint8_t *)"joint out", 9, NULL, 3,
				   jc->out_id, NULL)) < 0 ||
	    (r = msgstore_set_status_txn(jc->f->ms, t, jc->peer, jc->out_id,
					 MSGSTORE_STATUS_SENT, 4, &jc->changed,
					 NULL)) < 0 ||
	    (r = msgstore_mark_read_txn(jc->f->ms, t, jc->peer, jc->out_id, 5,
					&jc->read_ids, &jc->n_read)) < 0 ||
	    (r = store_put(t, STORE_TABLE_META, "test.joint", 10, "x", 1)) < 0)
		return r;
	return jc->fail;
}

static void test_joint_txn(void **state)
{
	struct fixture *f = *state;
	uint8_t a[MSGSTORE_PK_LEN], in_id[MSGSTORE_ID_LEN];
	struct joint_ctx jc = {.f = f, .peer = a, .in_id = in_id};
	struct msgstore_msg m;

	pk_of(a, 0x60, 14);
	memset(in_id, 0x61, sizeof in_id);
	jc.fail = -ECANCELED;
	assert_int_equal(store_write(f->s, joint_txn, &jc), -ECANCELED);
	check_ok(f, 0, 0);
	assert_int_equal(msgstore_get(f->ms, in_id, &m), -ENOENT);
	free(jc.read_ids);
	jc.read_ids = NULL;
	jc.fail = 0;
	assert_int_equal(store_write(f->s, joint_txn, &jc), 0);
	assert_false(jc.dup);
	assert_true(jc.changed);
	check_ok(f, 2, 1);
	assert_int_equal(msgstore_get(f->ms, jc.out_id, &m), 0);
	assert_int_equal(m.status, MSGSTORE_STATUS_SENT);
	msgstore_msg_clear(&m);
	assert_int_equal(msgstore_get(f->ms, in_id, &m), 0);
	assert_string_equal((char *)m.body, "joint in");
	assert_int_equal(m.status, MSGSTORE_STATUS_READ);
	msgstore_msg_clear(&m);
	assert_int_equal(jc.n_read, 1);
	assert_memory_equal(jc.read_ids, in_id, MSGSTORE_ID_LEN);
	free(jc.read_ids);
}

/* Hints of where a message is (peer, seq): right, wrong (another
 * message's place, a place with nothing, another peer) or absent, the
 * answer is the message by its id; a hint never moves another message. */
struct hint_ctx {
	struct fixture *f;
	const uint8_t *peer;
	uint64_t seq;
	const uint8_t *id;
	enum msgstore_status status;
	bool changed;
};

static int hint_txn(struct store_txn *t, void *arg)
{
	struct hint_ctx *h = arg;

	return msgstore_set_status_at_txn(h->f->ms, t, h->peer, h->seq, h->id,
					  h->status, 20, &h->changed, NULL);
}

static void test_hints(void **state)
{
	struct fixture *f = *state;
	uint8_t a[MSGSTORE_PK_LEN], b[MSGSTORE_PK_LEN];
	uint8_t id1[MSGSTORE_ID_LEN], id2[MSGSTORE_ID_LEN];
	struct msgstore_outbox_entry e[4];
	struct msgstore_msg m, m2;
	struct hint_ctx h = {.f = f};
	size_t n;

	pk_of(a, 0x70, 15);
	pk_of(b, 0x71, 15);
	send_text(f, a, "first", 10, id1);
	send_text(f, a, "second", 11, id2);
	assert_int_equal(msgstore_outbox_list(f->ms, a, 0, e, 4, &n), 0);
	assert_int_equal(n, 2);
	assert_memory_equal(e[0].id, id1, MSGSTORE_ID_LEN);
	/* right hint, no hint, and three wrong ones: always the message */
	assert_int_equal(msgstore_get_at(f->ms, id1, a, e[0].seq, &m), 0);
	assert_string_equal((char *)m.body, "first");
	msgstore_msg_clear(&m);
	assert_int_equal(msgstore_get_at(f->ms, id1, NULL, e[0].seq, &m), 0);
	assert_string_equal((char *)m.body, "first");
	msgstore_msg_clear(&m);
	assert_int_equal(msgstore_get_at(f->ms, id1, a, e[1].seq, &m), 0);
	assert_string_equal((char *)m.body, "first");
	msgstore_msg_clear(&m);
	assert_int_equal(msgstore_get_at(f->ms, id2, a, 999, &m), 0);
	assert_string_equal((char *)m.body, "second");
	msgstore_msg_clear(&m);
	assert_int_equal(msgstore_get_at(f->ms, id2, b, e[1].seq, &m), 0);
	assert_string_equal((char *)m.body, "second");
	msgstore_msg_clear(&m);
	/* a status through a wrong hint lands on the message of the id */
	h.peer = a;
	h.seq = e[1].seq;
	h.id = id1;
	h.status = MSGSTORE_STATUS_SENT;
	assert_int_equal(store_write(f->s, hint_txn, &h), 0);
	assert_true(h.changed);
	assert_int_equal(msgstore_get(f->ms, id1, &m), 0);
	assert_int_equal(msgstore_get(f->ms, id2, &m2), 0);
	assert_int_equal(m.status, MSGSTORE_STATUS_SENT);
	assert_int_equal(m2.status, MSGSTORE_STATUS_QUEUED);
	msgstore_msg_clear(&m);
	msgstore_msg_clear(&m2);
	/* the right hint: delivered, out of the outbox */
	h.seq = e[1].seq;
	h.id = id2;
	h.status = MSGSTORE_STATUS_DELIVERED;
	assert_int_equal(store_write(f->s, hint_txn, &h), 0);
	assert_true(h.changed);
	assert_int_equal(msgstore_outbox_list(f->ms, a, 0, e, 4, &n), 0);
	assert_int_equal(n, 1);
	assert_memory_equal(e[0].id, id1, MSGSTORE_ID_LEN);
	/* another peer's hint and id: not found, nothing moved */
	h.peer = b;
	h.seq = e[0].seq;
	h.id = id1;
	h.status = MSGSTORE_STATUS_DELIVERED;
	assert_int_equal(store_write(f->s, hint_txn, &h), -ENOENT);
	check_ok(f, 2, 1);
}

/* A validator written the slow, obvious way (RFC 3629 section 4's
 * table of well-formed byte sequences), to hold msgstore__utf8_valid's
 * eight-bytes-at-a-time ASCII path to. */
static bool utf8_ref(const uint8_t *s, size_t len, bool allow_nul)
{
	size_t i = 0;

	while (i < len) {
		uint8_t c = s[i];
		uint8_t lo = 0x80, hi = 0xbf;
		size_t n;

		if (c < 0x80) {
			if (c == 0 && !allow_nul)
				return false;
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			n = 1;
		else if (c >= 0xe0 && c <= 0xef)
			n = 2;
		else if (c >= 0xf0 && c <= 0xf4)
			n = 3;
		else
			return false;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
		else if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
		if (i + n >= len || s[i + 1] < lo || s[i + 1] > hi)
			return false;
		for (size_t k = 2; k <= n; k++)
			if (s[i + k] < 0x80 || s[i + k] > 0xbf)
				return false;
		i += n + 1;
	}
	return true;
}

static void test_utf8(void **state)
{
	static const uint8_t pieces[][4] = {
		{'a'},		    {0},		{0x7f},
		{0xc3, 0xa9},	    {0xe2, 0x82, 0xac}, {0xf0, 0x9f, 0x98, 0x80},
		{0x80},		    {0xc0, 0xaf},	{0xed, 0xa0, 0x80},
		{0xf4, 0x90, 0x80}, {0xff},		{0xe2, 0x82},
	};
	static const uint8_t plen[] = {1, 1, 1, 2, 3, 4, 1, 2, 3, 3, 1, 2};
	uint64_t x = 0x9e3779b97f4a7c15ull;
	uint8_t buf[64];
	unsigned checked = 0, valid = 0;

	(void)state;
	/* Mostly ASCII with one odd piece at every offset, and random mixes,
	 * over every length up to 64 (so every alignment of the 8-byte path
	 * and its tail). */
	for (size_t len = 0; len <= sizeof buf; len++) {
		for (size_t at = 0; at <= len; at++) {
			for (size_t p = 0; p < sizeof plen; p++) {
				size_t n = 0;

				memset(buf, 'x', sizeof buf);
				if (at + plen[p] <= len)
					memcpy(buf + at, pieces[p], plen[p]);
				n = len;
				for (int nul = 0; nul < 2; nul++) {
					bool got = msgstore__utf8_valid(
						buf, n, nul != 0);

					assert_int_equal(got,
							 utf8_ref(buf, n,
								  nul != 0));
					checked++;
					valid += got;
				}
			}
		}
		for (int round = 0; round < 200; round++) {
			size_t n = 0;

			while (n < len) {
				size_t p, k;

				x ^= x << 13;
				x ^= x >> 7;
				x ^= x << 17;
				p = (x >> 8) % (sizeof plen + 4);
				if (p >= sizeof plen) /* more ASCII */
					p = 0;
				for (k = 0; k < plen[p] && n < len; k++)
					buf[n++] = pieces[p][k];
			}
			for (int nul = 0; nul < 2; nul++) {
				bool got = msgstore__utf8_valid(buf, len,
								nul != 0);

				assert_int_equal(got,
						 utf8_ref(buf, len, nul != 0));
				checked++;
				valid += got;
			}
		}
	}
	/* Both answers were seen many times. */
	assert_true(valid > checked / 10 && valid < checked - checked / 10);
}

/* The user's own name is sealed like contacts' names: set and get, the
 * stored bytes hold no trace of it, a changed byte is refused, bad names
 * are refused, and a name stored in the clear by an earlier version is
 * sealed when the store is opened and reads as before. */
struct meta_io {
	uint8_t buf[256];
	size_t len;
};

static int meta_profile_get(struct store_txn *t, void *ctx)
{
	struct meta_io *m = ctx;

	return store_get(t, STORE_TABLE_META, "profile.name", 12, m->buf,
			 sizeof m->buf, &m->len);
}

static int meta_profile_put(struct store_txn *t, void *ctx)
{
	struct meta_io *m = ctx;

	return store_put(t, STORE_TABLE_META, "profile.name", 12, m->buf,
			 m->len);
}

static void test_profile(void **state)
{
	struct fixture *f = *state;
	char name[MSGSTORE_NAME_MAX + 1], big[MSGSTORE_NAME_MAX + 2];
	struct meta_io m;

	assert_int_equal(msgstore_profile_get(f->ms, name), 0);
	assert_string_equal(name, "");
	assert_int_equal(msgstore_profile_set(f->ms, "Zo\xc3\xab Quux"), 0);
	assert_int_equal(msgstore_profile_get(f->ms, name), 0);
	assert_string_equal(name, "Zo\xc3\xab Quux");
	assert_int_equal(store_read(f->s, meta_profile_get, &m), 0);
	assert_int_equal(m.buf[0], 0x01);
	assert_int_equal(m.len, 1 + 24 + 9 + 16);
	assert_null(memmem(m.buf, m.len, "Quux", 4));

	/* refused names */
	assert_int_equal(msgstore_profile_set(f->ms, "bad\xc3"), -EINVAL);
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	assert_int_equal(msgstore_profile_set(f->ms, big), -EINVAL);
	big[MSGSTORE_NAME_MAX] = '\0';
	assert_int_equal(msgstore_profile_set(f->ms, big), 0);
	assert_int_equal(msgstore_profile_get(f->ms, name), 0);
	assert_string_equal(name, big);

	/* a changed byte */
	assert_int_equal(store_read(f->s, meta_profile_get, &m), 0);
	m.buf[m.len - 1] ^= 0x40;
	assert_int_equal(store_write(f->s, meta_profile_put, &m), 0);
	assert_int_equal(msgstore_profile_get(f->ms, name), -EKEYREJECTED);
	assert_string_equal(name, "");

	/* an earlier version's plaintext, sealed at the next open */
	memcpy(m.buf, "Old Name", 8);
	m.len = 8;
	assert_int_equal(store_write(f->s, meta_profile_put, &m), 0);
	assert_int_equal(msgstore_profile_get(f->ms, name), -EBADMSG);
	close_all(f);
	assert_int_equal(open_all(f, true), 0);
	assert_int_equal(store_read(f->s, meta_profile_get, &m), 0);
	assert_int_equal(m.buf[0], 0x01);
	assert_null(memmem(m.buf, m.len, "Old Name", 8));
	assert_int_equal(msgstore_profile_get(f->ms, name), 0);
	assert_string_equal(name, "Old Name");

	/* a stored value that is neither does not keep the store from
	 * opening; get reports it, set replaces it */
	memcpy(m.buf, "\xff\xfe", 2);
	m.len = 2;
	assert_int_equal(store_write(f->s, meta_profile_put, &m), 0);
	close_all(f);
	assert_int_equal(open_all(f, true), 0);
	assert_int_equal(msgstore_profile_get(f->ms, name), -EBADMSG);
	assert_int_equal(msgstore_profile_set(f->ms, "New"), 0);
	assert_int_equal(msgstore_profile_get(f->ms, name), 0);
	assert_string_equal(name, "New");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_utf8),
		cmocka_unit_test_setup_teardown(test_profile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_contacts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_send_outbox, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_status, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dedupe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_paging, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mark_read, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_at_rest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_graft, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_outbox_hi, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_kill9, setup, teardown),
		cmocka_unit_test_setup_teardown(test_raw_bodies, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_decompress_cap, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_corrupt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hints, setup, teardown),
		cmocka_unit_test_setup_teardown(test_joint_txn, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_alloc_failure, setup,
						teardown),
	};

	if (cx_init() < 0)
		return 1;
	return cmocka_run_group_tests_name("msgstore", tests, NULL, NULL);
}
