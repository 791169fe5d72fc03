/* tests/fuzz/fuzz_cli_session.c: the whole parley command against a
 * daemon that may say anything.
 *
 * The first input byte picks a command line; the rest is what the
 * "daemon" sends: it is written into one end of a socketpair, which is
 * then shut for writing, and cli_main() runs on the other end (struct
 * cli_env.daemon_fd), so every run ends at EOF at the latest.
 * Messaging commands get a name to resolve, so contacts.list answers
 * are parsed first, and `events` in words asks for names mid-stream.
 * Invariants checked (abort on failure):
 *  - the exit status is one parley(1) documents;
 *  - a failure always says why (something on stderr, or with -J an error
 *    object on stdout);
 *  - with -J and status 0, every output line is one JSON value;
 *  - neither stream carries a control character (C0 but newline, DEL,
 *    C1), with -J or without: nothing the daemon sends reaches the
 *    terminal raw (not a terminal here, so --qr adds no colours). */
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli/cli.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const cmdlines[][7] = {
	{"status"},
	{"-J", "status"},
	{"id"},
	{"-J", "id"},
	{"id", "--qr"},
	{"id", "--uri"},
	{"rpc", "x.y", "{\"a\":1}"},
	{"-J", "rpc", "x.y"},
	{"events"},
	{"-J", "events", "-t", "a"},
	{"events", "-f"},
	{"-J", "events", "-f", "--since", "3"},
	{"events", "--since", "2", "--type", "b"},
	/* Messaging (cli/chat.c): most resolve a name first. */
	{"contact", "list"},
	{"-J", "contact", "list"},
	{"contact", "accept", "alice"},
	{"contact", "verify", "--qr", "alice"},
	{"contact", "set", "alice", "--receipts", "off"},
	{"send", "alice", "hi"},
	{"-J", "send", "bob", "hi"},
	{"history", "alice", "-n", "5"},
	{"history", "--ids", "bob"},
	{"-J", "history", "alice"},
	{"read", "alice"},
	{"typing", "alice", "on"},
	{"settings", "read-receipts", "on"},
	{"contact", "add",
	 "parley:aeaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaabus5"},
	{"-J", "events", "-f"},
};

#define NUM_CMDLINES (sizeof cmdlines / sizeof cmdlines[0])

static void check(bool cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_cli_session: broken invariant: %s\n",
			what);
		abort();
	}
}

static bool exit_documented(int rc)
{
	static const int ok[] = {0, 1, 64, 65, 67, 69, 70, 71, 74, 75, 76, 77};

	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
		if (rc == ok[i])
			return true;
	return false;
}

/* No C0 control but newline, no DEL, no C1 control in UTF-8. */
static bool no_controls(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if ((ch < 0x20 && ch != '\n') || ch == 0x7f)
			return false;
		if (ch == 0xc2 && i + 1 < len &&
		    (unsigned char)s[i + 1] >= 0x80 &&
		    (unsigned char)s[i + 1] <= 0x9f)
			return false;
	}
	return true;
}

static bool lines_are_json(const char *s, size_t len)
{
	const char *end = s + len, *nl;
	json_t *v;

	while (s < end) {
		nl = memchr(s, '\n', (size_t)(end - s));
		if (nl == NULL)
			return false; /* every line ends in a newline */
		v = json_loadb(s, (size_t)(nl - s), JSON_DECODE_ANY, NULL);
		if (v == NULL)
			return false;
		json_decref(v);
		s = nl + 1;
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *const *cl;
	char *argv[9], *out_text = NULL, *err_text = NULL;
	size_t out_len = 0, err_len = 0;
	int argc = 0, sv[2], rc;
	bool json;
	FILE *in, *out, *err;
	ssize_t n;

	if (size < 1)
		return 0;
	cl = cmdlines[data[0] % NUM_CMDLINES];
	data++;
	size--;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return 0;
	/* What does not fit in the socket buffer is left out. */
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	n = size > 0 ? write(sv[1], data, size) : 0;
	(void)n;
	shutdown(sv[1], SHUT_WR);

	argv[argc++] = (char *)"parley";
	for (int i = 0; i < 7 && cl[i] != NULL; i++)
		argv[argc++] = (char *)cl[i];
	argv[argc] = NULL;
	json = strcmp(argv[1], "-J") == 0;
	out = open_memstream(&out_text, &out_len);
	err = open_memstream(&err_text, &err_len);
	in = fopen("/dev/null", "r");
	check(out != NULL && err != NULL && in != NULL, "streams");
	rc = cli_main(argc, argv,
		      &(struct cli_env){.in = in,
					.out = out,
					.err = err,
					.out_fd = -1,
					.daemon_fd = sv[0]});
	fclose(in);
	fclose(out);
	fclose(err);
	close(sv[1]);

	check(exit_documented(rc), "documented exit status");
	/* With -J a JSON-RPC error answer (status 1, or 70 for parse error
	 * and invalid request) is printed as {"error":...} on stdout. */
	if (rc != 0)
		check(err_len > 0 ||
			      (json && (rc == 1 || rc == 70) && out_len > 0 &&
			       strncmp(out_text, "{\"error\":", 9) == 0),
		      "a failure says why");
	if (json && (rc == 0 || rc == 1 || rc == 70))
		check(lines_are_json(out_text, out_len), "-J output is JSON");
	if (!no_controls(out_text, out_len))
		fprintf(stderr, "%s %s: stdout: %s\n", argv[1],
			argc > 2 ? argv[2] : "", out_text);
	check(no_controls(out_text, out_len), "stdout has no controls");
	check(no_controls(err_text, err_len), "stderr has no controls");
	free(out_text);
	free(err_text);
	return 0;
}
