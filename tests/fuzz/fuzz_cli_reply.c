/* tests/fuzz/fuzz_cli_reply.c: the CLI's reader of daemon replies.
 *
 * The input is a byte stream as the daemon might send it.  The first byte
 * picks the size of the reads; the rest is fed to struct cli_lines in
 * chunks of that size, and every line is parsed as a JSON-RPC message.
 * Invariants checked (abort on failure):
 *  - the lines are exactly those of a naive split of the input at '\n',
 *    in order, until the first line longer than the limit, which is
 *    reported as -E2BIG and not returned;
 *  - no returned line holds a newline; each is NUL-terminated;
 *  - the buffer never grows past limit + chunk + 1 bytes;
 *  - a parsed message is consistent with its kind, and encoding its root
 *    again and parsing that gives the same kind, id and code. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/lines.h"
#include "cli/proto.h"

#define LIMIT 512

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_cli_reply: broken invariant: %s\n", what);
		abort();
	}
}

static void check_msg(const char *line, size_t len)
{
	struct cli_msg m, again;
	char *s;
	int r;

	r = cli_msg_parse(&m, line, len);
	check(r == 0 || r == -EBADMSG || r == -ENOMEM, "parse result");
	if (r != 0) {
		check(m.root == NULL, "failed parse holds nothing");
		return;
	}
	check(json_is_object(m.root), "root is an object");
	switch (m.kind) {
	case CLI_MSG_RESULT:
		check(m.result != NULL && m.error == NULL, "result kind");
		check(!m.id_null, "a result has an id");
		break;
	case CLI_MSG_ERROR:
		check(json_is_object(m.error) && m.message != NULL &&
			      m.result == NULL,
		      "error kind");
		break;
	case CLI_MSG_NOTIFY:
		check(m.method != NULL &&
			      (m.params == NULL || json_is_object(m.params)),
		      "notification kind");
		break;
	}
	s = json_dumps(m.root, JSON_COMPACT);
	check(s != NULL, "dump");
	check(strchr(s, '\n') == NULL, "compact dump is one line");
	r = cli_msg_parse(&again, s, strlen(s));
	check(r == 0, "reparse");
	check(again.kind == m.kind && again.id == m.id &&
		      again.id_null == m.id_null && again.code == m.code,
	      "reparse agrees");
	cli_msg_clear(&again);
	free(s);
	cli_msg_clear(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cli_lines l;
	const char *line, *ref, *end, *nl;
	size_t chunk, off = 0, len, n;
	int r = 0;

	if (size == 0)
		return 0;
	chunk = (size_t)data[0] % 64 + 1;
	data++;
	size--;
	ref = (const char *)data;
	end = ref + size;
	cli_lines_init(&l, LIMIT);
	while (off < size && r >= 0) {
		n = size - off < chunk ? size - off : chunk;
		r = cli_lines_feed(&l, data + off, n);
		check(r == 0, "feed after drain succeeds");
		off += n;
		check(l.cap <= LIMIT + chunk + 1, "buffer bounded");
		while ((r = cli_lines_next(&l, &line, &len)) == 1) {
			nl = memchr(ref, '\n', (size_t)(end - ref));
			check(nl != NULL, "line without newline in input");
			check((size_t)(nl - ref) == len &&
				      memcmp(line, ref, len) == 0,
			      "line equals naive split");
			check(len <= LIMIT, "line within limit");
			check(line[len] == '\0', "NUL-terminated");
			check(memchr(line, '\n', len) == NULL, "no newline");
			ref = nl + 1;
			check_msg(line, len);
		}
		if (r == -E2BIG) {
			nl = memchr(ref, '\n', (size_t)(end - ref));
			check((nl != NULL ? (size_t)(nl - ref)
					  : (size_t)(end - ref)) > LIMIT,
			      "E2BIG only for an over-long line");
			check(cli_lines_feed(&l, "x", 1) == -E2BIG ||
				      nl != NULL,
			      "stream stays refused");
		}
		check(r == 0 || r == -E2BIG, "next result");
	}
	if (r == 0) {
		/* All whole lines were returned; the rest is one partial. */
		check(memchr(ref, '\n', (size_t)(end - ref)) == NULL,
		      "no whole line left behind");
		check(cli_lines_pending(&l) == (size_t)(end - ref),
		      "pending is the tail");
	}
	cli_lines_close(&l);
	return 0;
}
