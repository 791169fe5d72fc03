/* tests/unit/test_cli.c: the parley command.
 *
 * First the pure parts (line framing, JSON-RPC parsing and encoding,
 * socket path choice, human formatting, the QR drawing), then the whole
 * command run in-process by cli_main() against a fake daemon: a thread
 * that accepts one connection on a Unix socket in a mkdtemp() directory,
 * reads each request line, checks it, and answers with canned bytes. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sysexits.h>
#include <unistd.h>

#include <cmocka.h>
#include <qrencode.h>

#include "cli/chat.h"
#include "cli/cli.h"

/* --- line framing ------------------------------------------------------ */

static void test_lines_split(void **state)
{
	struct cli_lines l;
	const char *line;
	size_t len;

	(void)state;
	cli_lines_init(&l, 100);
	assert_int_equal(cli_lines_next(&l, &line, &len), 0);
	assert_int_equal(cli_lines_feed(&l, "ab\n\ncd\nef", 9), 0);
	assert_int_equal(cli_lines_next(&l, &line, &len), 1);
	assert_string_equal(line, "ab");
	assert_int_equal(len, 2);
	assert_int_equal(cli_lines_next(&l, &line, &len), 1);
	assert_string_equal(line, "");
	assert_int_equal(cli_lines_next(&l, &line, &len), 1);
	assert_string_equal(line, "cd");
	assert_int_equal(cli_lines_next(&l, &line, &len), 0);
	assert_int_equal(cli_lines_pending(&l), 2);
	assert_int_equal(cli_lines_feed(&l, "g\n", 2), 0);
	assert_int_equal(cli_lines_next(&l, &line, &len), 1);
	assert_string_equal(line, "efg");
	assert_int_equal(cli_lines_pending(&l), 0);
	cli_lines_close(&l);
	cli_lines_close(NULL);
}

static void test_lines_bytewise(void **state)
{
	static const char text[] = "{\"a\":1}\n{\"b\":[2,3]}\n";
	struct cli_lines l;
	const char *line;
	size_t len;
	int got = 0;

	(void)state;
	cli_lines_init(&l, 64);
	for (size_t i = 0; i < sizeof text - 1; i++) {
		assert_int_equal(cli_lines_feed(&l, text + i, 1), 0);
		while (cli_lines_next(&l, &line, &len) == 1) {
			assert_string_equal(line, got == 0 ? "{\"a\":1}"
							   : "{\"b\":[2,3]}");
			got++;
		}
	}
	assert_int_equal(got, 2);
	cli_lines_close(&l);
}

static void test_lines_limit(void **state)
{
	struct cli_lines l;
	const char *line;
	size_t len;
	char buf[12];

	(void)state;
	/* Exactly max bytes is fine. */
	cli_lines_init(&l, 10);
	memset(buf, 'x', 10);
	buf[10] = '\n';
	assert_int_equal(cli_lines_feed(&l, buf, 11), 0);
	assert_int_equal(cli_lines_next(&l, &line, &len), 1);
	assert_int_equal(len, 10);
	/* A whole line of max + 1 is refused. */
	memset(buf, 'y', 11);
	buf[11] = '\n';
	assert_int_equal(cli_lines_feed(&l, buf, 12), 0);
	assert_int_equal(cli_lines_next(&l, &line, &len), -E2BIG);
	assert_null(line);
	cli_lines_close(&l);
	/* So is a partial one that already passed max, and feeding more
	 * after that is refused too: memory stays bounded. */
	cli_lines_init(&l, 10);
	assert_int_equal(cli_lines_feed(&l, buf, 11), 0);
	assert_int_equal(cli_lines_next(&l, &line, &len), -E2BIG);
	assert_int_equal(cli_lines_feed(&l, "z", 1), -E2BIG);
	assert_true(l.cap <= 10 + 11 + 1);
	cli_lines_close(&l);
}

/* --- JSON-RPC messages ------------------------------------------------- */

static void parse_ok(struct cli_msg *m, const char *s)
{
	assert_int_equal(cli_msg_parse(m, s, strlen(s)), 0);
}

static void test_msg_parse(void **state)
{
	struct cli_msg m;

	(void)state;
	parse_ok(&m, "{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{\"x\":1}}");
	assert_int_equal(m.kind, CLI_MSG_RESULT);
	assert_int_equal(m.id, 7);
	assert_false(m.id_null);
	assert_true(json_is_object(m.result));
	cli_msg_clear(&m);

	parse_ok(&m, "{\"jsonrpc\":\"2.0\",\"id\":2,\"error\":{\"code\":-32602,"
		     "\"message\":\"bad params\",\"data\":{\"app\":\"bad\","
		     "\"field\":\"since\"}}}");
	assert_int_equal(m.kind, CLI_MSG_ERROR);
	assert_int_equal(m.code, -32602);
	assert_string_equal(m.message, "bad params");
	assert_string_equal(m.app, "bad");
	assert_string_equal(m.field, "since");
	cli_msg_clear(&m);

	parse_ok(&m, "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":"
		     "-32700,\"message\":\"parse error\"}}");
	assert_int_equal(m.kind, CLI_MSG_ERROR);
	assert_true(m.id_null);
	assert_null(m.app);
	assert_null(m.data);
	cli_msg_clear(&m);

	parse_ok(&m, "{\"jsonrpc\":\"2.0\",\"method\":\"event\",\"params\":"
		     "{\"seq\":1},\"extra\":true}");
	assert_int_equal(m.kind, CLI_MSG_NOTIFY);
	assert_string_equal(m.method, "event");
	assert_true(json_is_object(m.params));
	cli_msg_clear(&m);
	cli_msg_clear(&m); /* idempotent */
	cli_msg_clear(NULL);
}

static void test_msg_parse_bad(void **state)
{
	static const char *const bad[] = {
		"",
		"null",
		"[1]",
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":1",
		"{\"id\":1,\"result\":{}}",
		"{\"jsonrpc\":\"1.0\",\"id\":1,\"result\":{}}",
		"{\"jsonrpc\":2,\"id\":1,\"result\":{}}",
		"{\"jsonrpc\":\"2.0\",\"id\":1}",
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{},\"error\":{}}",
		"{\"jsonrpc\":\"2.0\",\"id\":\"1\",\"result\":{}}",
		"{\"jsonrpc\":\"2.0\",\"id\":1.5,\"result\":{}}",
		"{\"jsonrpc\":\"2.0\",\"id\":null,\"result\":{}}",
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":\"boom\"}",
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":\"x\","
		"\"message\":\"m\"}}",
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":1}}",
		"{\"jsonrpc\":\"2.0\",\"method\":\"event\",\"params\":[1]}",
		"{\"jsonrpc\":\"2.0\",\"method\":7}",
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"params\":{}}",
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"id\":2,\"result\":{}}",
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}} {}",
	};
	struct cli_msg m;

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(cli_msg_parse(&m, bad[i], strlen(bad[i])),
				 -EBADMSG);
		assert_null(m.root);
	}
}

static void test_request_encode(void **state)
{
	json_t *params, *back;
	json_error_t jerr;
	char *line;
	size_t len;

	(void)state;
	assert_int_equal(
		cli_request_encode(3, "node.status", NULL, &line, &len), 0);
	assert_string_equal(line, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":"
				  "\"node.status\",\"params\":{}}\n");
	assert_int_equal(len, strlen(line));
	free(line);

	/* A newline inside a string is escaped: still one line. */
	params = json_pack("{s:s}", "text", "a\nb");
	assert_int_equal(cli_request_encode(4, "x.y", params, &line, &len), 0);
	assert_ptr_equal(memchr(line, '\n', len), line + len - 1);
	back = json_loadb(line, len, 0, &jerr);
	assert_non_null(back);
	assert_true(json_equal(json_object_get(back, "params"), params));
	json_decref(back);
	free(line);
	json_decref(params);

	params = json_array();
	assert_int_equal(cli_request_encode(1, "x", params, &line, &len),
			 -EINVAL);
	assert_null(line);
	json_decref(params);
	assert_int_equal(cli_request_encode(1, "", NULL, &line, &len), -EINVAL);
	assert_int_equal(cli_request_encode(1, "\xff", NULL, &line, &len),
			 -EINVAL);
}

static void test_params_parse(void **state)
{
	json_t *v;
	char why[160];

	(void)state;
	assert_int_equal(
		cli_params_parse("{\"since\": 3}", &v, why, sizeof why), 0);
	assert_int_equal(json_integer_value(json_object_get(v, "since")), 3);
	json_decref(v);
	assert_int_equal(cli_params_parse("[1]", &v, why, sizeof why), -EINVAL);
	assert_non_null(strstr(why, "object"));
	assert_int_equal(cli_params_parse("{\"a\":", &v, why, sizeof why),
			 -EINVAL);
	assert_non_null(strstr(why, "column"));
	assert_int_equal(
		cli_params_parse("{\"a\":1,\"a\":2}", &v, why, sizeof why),
		-EINVAL);
	assert_null(v);
}

/* --- socket path ------------------------------------------------------- */

static void test_socket_path(void **state)
{
	char buf[CLI_PATH_MAX], small[16];

	(void)state;
	assert_int_equal(cli_socket_path(buf, sizeof buf, "/o/s", "/e/s",
					 "/run/user/5", 5),
			 0);
	assert_string_equal(buf, "/o/s");
	assert_int_equal(
		cli_socket_path(buf, sizeof buf, "", "/e/s", "/run/user/5", 5),
		0);
	assert_string_equal(buf, "/e/s");
	assert_int_equal(
		cli_socket_path(buf, sizeof buf, NULL, NULL, "/run/user/5", 5),
		0);
	assert_string_equal(buf, "/run/user/5/parley/parley.sock");
	assert_int_equal(cli_socket_path(buf, sizeof buf, NULL, "", "", 1000),
			 0);
	assert_string_equal(buf, "/tmp/parley-1000/parley.sock");
	assert_int_equal(cli_socket_path(small, sizeof small, NULL, NULL,
					 "/run/user/5", 5),
			 -ENAMETOOLONG);
}

static void test_connect_too_long(void **state)
{
	char path[200];
	int fd;

	(void)state;
	memset(path, 'a', sizeof path - 1);
	path[0] = '/';
	path[sizeof path - 1] = '\0';
	assert_int_equal(cli_connect_unix(path, &fd), -ENAMETOOLONG);
	assert_int_equal(fd, -1);
}

/* --- human formatting -------------------------------------------------- */

/* Runs f into a memory stream and returns what it wrote (caller frees). */
#define CAPTURE(out, call)                                                     \
	do {                                                                   \
		size_t cap_len_;                                               \
		FILE *f = open_memstream(&(out), &cap_len_);                   \
		assert_non_null(f);                                            \
		assert_int_equal((call), 0);                                   \
		fclose(f);                                                     \
	} while (0)

static void test_fmt(void **state)
{
	char buf[64];

	(void)state;
	cli_fmt_duration(buf, sizeof buf, 1250);
	assert_string_equal(buf, "1.25s");
	cli_fmt_duration(buf, sizeof buf, 42000);
	assert_string_equal(buf, "42s");
	cli_fmt_duration(buf, sizeof buf, 306000);
	assert_string_equal(buf, "5m 06s");
	cli_fmt_duration(buf, sizeof buf, 3723004);
	assert_string_equal(buf, "1h 02m 03s");
	cli_fmt_duration(buf, sizeof buf, 3 * 86400000LL + 4 * 3600000LL);
	assert_string_equal(buf, "3d 04h 00m");
	cli_fmt_duration(buf, sizeof buf, -1);
	assert_string_equal(buf, "?");
	cli_fmt_bytes(buf, sizeof buf, 1023);
	assert_string_equal(buf, "1023 bytes");
	cli_fmt_bytes(buf, sizeof buf, 1048576);
	assert_string_equal(buf, "1.0 MiB");
	cli_fmt_bytes(buf, sizeof buf, 1536);
	assert_string_equal(buf, "1.5 KiB");
	cli_fmt_bytes(buf, sizeof buf, 1LL << 50);
	assert_string_equal(buf, "1024.0 TiB");
	cli_fmt_time(buf, sizeof buf, 1764283397123LL, true);
	assert_string_equal(buf, "2025-11-27T22:43:17.123Z");
	cli_fmt_time(buf, sizeof buf, 1764283397123LL, false);
	assert_string_equal(buf, "2025-11-27T22:43:17Z");
	cli_fmt_time(buf, sizeof buf, 0, true);
	assert_string_equal(buf, "1970-01-01T00:00:00.000Z");
}

static void test_print_status(void **state)
{
	json_t *st, *ver;
	char *out = NULL;

	(void)state;
	st = json_loads("{\"version\":\"0.1.0\",\"uptime_ms\":65000,"
			"\"pid\":42,\"data_dir\":\"/d\",\"socket\":\"/s\","
			"\"clients\":1,\"events_last_seq\":9,\"node_id\":"
			"\"ab\",\"relay_mode\":\"off\",\"messaging\":{"
			"\"contacts_held\":3,\"contacts_online\":2,"
			"\"texts_in\":40,\"texts_out\":41,\"retransmits\":"
			"5,\"duplicates_in\":6,\"lookups\":7}}",
			0, NULL);
	ver = json_loads("{\"version\":\"1.0\",\"daemon\":\"parleyd 0.1.0\"}",
			 0, NULL);
	CAPTURE(out, cli_print_status(f, st, ver));
	assert_string_equal(out, "daemon       parleyd 0.1.0 (pid 42)\n"
				 "api          1.0\n"
				 "uptime       1m 05s\n"
				 "node id      ab\n"
				 "data dir     /d\n"
				 "socket       /s\n"
				 "clients      1\n"
				 "last event   9\n"
				 "relay mode   off\n"
				 "messaging    3 contacts (2 online), texts 40 "
				 "in / 41 out, 5 sent again, 6 duplicates\n");
	free(out);
	/* Without api.version the daemon line comes from node.status. */
	CAPTURE(out, cli_print_status(f, st, NULL));
	assert_non_null(strstr(out, "daemon       parleyd 0.1.0 (pid 42)\n"));
	assert_null(strstr(out, "api"));
	free(out);
	json_decref(st);
	json_decref(ver);
}

static void test_print_identity_event(void **state)
{
	json_t *id, *ev;
	char *out = NULL;

	(void)state;
	id = json_loads("{\"id\":\"ID\",\"uri\":\"parley:ID\",\"created_at\":"
			"0,\"sealed\":true,\"x\":\"a\\u001b[31mb\"}",
			0, NULL);
	CAPTURE(out, cli_print_identity(f, id));
	assert_string_equal(out, "contact id   ID\n"
				 "uri          parley:ID\n"
				 "created      1970-01-01T00:00:00Z\n"
				 "key file     sealed with a passphrase\n"
				 "x            a?[31mb\n");
	free(out);
	json_decref(id);

	ev = json_loads("{\"seq\":5,\"type\":\"node.started\",\"at\":1000,"
			"\"data\":{}}",
			0, NULL);
	CAPTURE(out, cli_print_event(f, ev));
	assert_string_equal(out, "5 1970-01-01T00:00:01.000Z node.started\n");
	free(out);
	json_object_set_new(ev, "data", json_pack("{s:i}", "n", 1));
	CAPTURE(out, cli_print_event(f, ev));
	assert_string_equal(
		out, "5 1970-01-01T00:00:01.000Z node.started {\"n\":1}\n");
	free(out);
	json_decref(ev);
}

/* Decodes the drawing back into modules and compares with libqrencode's
 * own matrix: every module, and the 4-module light quiet zone. */
static void test_qr(void **state)
{
	static const char uri[] =
		"parley:"
		"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567ABCDEFGHIJKLMNOPQRSTUVWX";
	QRcode *q;
	char *out = NULL, *p;
	int w, rows, y, x;

	(void)state;
	CAPTURE(out, cli_print_qr(f, uri, false));
	q = QRcode_encodeString(uri, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
	assert_non_null(q);
	w = q->width + 8;
	rows = (w + 1) / 2;
	p = out;
	for (y = 0; y < rows; y++) {
		for (x = 0; x < w; x++) {
			bool top, bottom;
			int mx = x - 4, my = 2 * y - 4;

			if (*p == ' ') {
				top = bottom = false;
				p++;
			} else {
				/* U+2580 upper, U+2584 lower, U+2588 full */
				assert_memory_equal(p, "\xe2\x96", 2);
				top = p[2] == '\x80' || p[2] == '\x88';
				bottom = p[2] == '\x84' || p[2] == '\x88';
				assert_true(top || bottom);
				p += 3;
			}
			for (int k = 0; k < 2; k++) {
				bool light = k == 0 ? top : bottom;
				int yy = my + k;
				bool want = true;

				if (mx >= 0 && mx < q->width && yy >= 0 &&
				    yy < q->width)
					want = !(q->data[yy * q->width + mx] &
						 1);
				assert_int_equal(light, want);
			}
		}
		assert_int_equal(*p++, '\n');
	}
	assert_int_equal(*p, '\0');
	free(out);
	/* With colour, each line is wrapped in ANSI white-on-black. */
	CAPTURE(out, cli_print_qr(f, uri, true));
	assert_memory_equal(out, "\033[37;40m", 8);
	assert_non_null(strstr(out, "\033[0m\n"));
	free(out);
	QRcode_free(q);
}

/* --- the fake daemon --------------------------------------------------- */

enum step_kind {
	STEP_REPLY, /* read a request, send reply */
	STEP_SEND,  /* send reply without reading */
	STEP_CLOSE, /* read a request, close without answering */
	STEP_HANG,  /* read a request, send reply if any, then nothing more
		       until the client leaves */
	STEP_BIG,   /* read a request, send big_len bytes of 'x' and '\n' */
};

struct step {
	enum step_kind kind;
	const char *expect; /* the request must contain this, or NULL */
	const char *reply;
};

#define MAX_STEPS 16

struct fake {
	char dir[64];
	char path[80];
	int lfd;
	pthread_t th;
	bool running;
	const struct step *steps;
	size_t big_len;
	char *req[MAX_STEPS]; /* request lines received */
	int num_req;
	bool bad_request; /* a request lacked its expected text */
};

static struct fake fk;

static int send_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static void *fake_main(void *arg)
{
	FILE *in;
	char *line = NULL, *big;
	size_t cap = 0;
	int fd, i;

	(void)arg;
	fd = accept(fk.lfd, NULL, NULL);
	if (fd < 0)
		return NULL;
	in = fdopen(dup(fd), "r");
	for (i = 0; fk.steps[i].kind != STEP_SEND || fk.steps[i].reply; i++) {
		const struct step *s = &fk.steps[i];

		if (s->kind != STEP_SEND) {
			if (getline(&line, &cap, in) < 0)
				break;
			if (fk.num_req < MAX_STEPS)
				fk.req[fk.num_req++] = strdup(line);
			if (s->expect != NULL &&
			    strstr(line, s->expect) == NULL)
				fk.bad_request = true;
		}
		if (s->kind == STEP_CLOSE)
			break;
		if (s->kind == STEP_HANG) {
			if (s->reply != NULL)
				send_all(fd, s->reply, strlen(s->reply));
			while (getline(&line, &cap, in) >= 0)
				;
			break;
		}
		if (s->kind == STEP_BIG) {
			big = malloc(fk.big_len + 1);
			memset(big, 'x', fk.big_len);
			big[fk.big_len] = '\n';
			send_all(fd, big, fk.big_len + 1);
			free(big);
			continue;
		}
		if (send_all(fd, s->reply, strlen(s->reply)) < 0)
			break;
	}
	free(line);
	fclose(in);
	close(fd);
	return NULL;
}

static int fake_setup(void **state)
{
	(void)state;
	memset(&fk, 0, sizeof fk);
	fk.lfd = -1;
	snprintf(fk.dir, sizeof fk.dir, "/tmp/parley-test-XXXXXX");
	if (mkdtemp(fk.dir) == NULL)
		return -1;
	snprintf(fk.path, sizeof fk.path, "%s/s", fk.dir);
	unsetenv("PARLEY_SOCKET");
	return 0;
}

/* Listens on fk.path and serves steps (ending with {STEP_SEND, NULL,
 * NULL}) on the first connection, in a thread. */
static void fake_start(const struct step *steps)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};

	fk.steps = steps;
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", fk.path);
	fk.lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fk.lfd >= 0);
	assert_int_equal(bind(fk.lfd, (struct sockaddr *)&sun, sizeof sun), 0);
	assert_int_equal(listen(fk.lfd, 4), 0);
	assert_int_equal(pthread_create(&fk.th, NULL, fake_main, NULL), 0);
	fk.running = true;
}

static int fake_teardown(void **state)
{
	(void)state;
	if (fk.running)
		pthread_join(fk.th, NULL);
	if (fk.lfd >= 0)
		close(fk.lfd);
	for (int i = 0; i < fk.num_req; i++)
		free(fk.req[i]);
	unlink(fk.path);
	rmdir(fk.dir);
	return 0;
}

struct run {
	int rc;
	char *out;
	char *err;
};

static void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
}

/* Standard input of the next run_cli(), or NULL for none (an empty
 * stream). */
static const char *run_input;
static size_t run_input_len; /* its length when it holds NUL; else 0 */

/* Runs `parley -s SOCKET ARGS...` (NULL-terminated) in-process. */
static void run_cli(struct run *r, ...)
{
	char *argv[32];
	int argc = 0;
	size_t olen, elen;
	FILE *in, *out, *err;
	va_list ap;
	const char *a;

	argv[argc++] = (char *)"parley";
	argv[argc++] = (char *)"-s";
	argv[argc++] = fk.path;
	va_start(ap, r);
	while ((a = va_arg(ap, const char *)) != NULL && argc < 31)
		argv[argc++] = (char *)a;
	va_end(ap);
	argv[argc] = NULL;
	out = open_memstream(&r->out, &olen);
	err = open_memstream(&r->err, &elen);
	/* fmemopen takes no empty buffer: no input is /dev/null. */
	if (run_input != NULL && run_input_len == 0)
		run_input_len = strlen(run_input);
	in = run_input_len > 0 ? fmemopen((void *)run_input, run_input_len, "r")
			       : fopen("/dev/null", "r");
	assert_non_null(in);
	assert_non_null(out);
	assert_non_null(err);
	r->rc = cli_main(argc, argv,
			 &(struct cli_env){.in = in,
					   .out = out,
					   .err = err,
					   .out_fd = -1,
					   .daemon_fd = -1});
	fclose(in);
	fclose(out);
	fclose(err);
	run_input = NULL;
	run_input_len = 0;
	if (fk.running) {
		pthread_join(fk.th, NULL);
		fk.running = false;
	}
}

#define R(id, body) "{\"jsonrpc\":\"2.0\",\"id\":" #id ",\"result\":" body "}\n"
#define END                                                                    \
	{                                                                      \
		STEP_SEND, NULL, NULL                                          \
	}

static const char status_body[] =
	"{\"version\":\"0.1.0\",\"uptime_ms\":1500,\"pid\":7,\"data_dir\":"
	"\"/d\",\"socket\":\"/s\",\"clients\":1,\"events_last_seq\":2,"
	"\"node_id\":\"00ff\"}";

/* --- the command against the fake daemon -------------------------------- */

static void test_no_daemon(void **state)
{
	struct run r;
	int fd;
	struct sockaddr_un sun = {.sun_family = AF_UNIX};

	(void)state;
	run_cli(&r, "status", NULL);
	assert_int_equal(r.rc, EX_UNAVAILABLE);
	assert_non_null(strstr(r.err, "No such file or directory"));
	assert_non_null(strstr(r.err, "is parleyd running? start it with: "
				      "parleyd --socket "));
	assert_string_equal(r.out, "");
	run_free(&r);

	/* A socket file nobody listens on: ECONNREFUSED, same answer. */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", fk.path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof sun), 0);
	close(fd);
	run_cli(&r, "id", NULL);
	assert_int_equal(r.rc, EX_UNAVAILABLE);
	assert_non_null(strstr(r.err, "Connection refused"));
	assert_non_null(strstr(r.err, "is parleyd running?"));
	run_free(&r);
}

static void test_status(void **state)
{
	static const struct step steps[] = {
		{STEP_REPLY, "\"id\":1,\"method\":\"node.status\"", NULL},
		{STEP_REPLY, "\"id\":2,\"method\":\"api.version\"",
		 R(2, "{\"version\":\"1.0\",\"daemon\":\"parleyd 0.1.0\"}")},
		END,
	};
	struct step s[3];
	char reply[512];
	struct run r;

	(void)state;
	memcpy(s, steps, sizeof s);
	snprintf(reply, sizeof reply,
		 "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":%s}\n", status_body);
	s[0].reply = reply;
	fake_start(s);
	run_cli(&r, "status", NULL);
	assert_int_equal(r.rc, 0);
	assert_false(fk.bad_request);
	assert_int_equal(fk.num_req, 2);
	assert_string_equal(fk.req[0], "{\"jsonrpc\":\"2.0\",\"id\":1,"
				       "\"method\":\"node.status\","
				       "\"params\":{}}\n");
	assert_non_null(strstr(r.out, "daemon       parleyd 0.1.0 (pid 7)\n"
				      "api          1.0\n"
				      "uptime       1.50s\n"));
	assert_string_equal(r.err, "");
	run_free(&r);
}

static void test_status_json(void **state)
{
	struct step s[] = {
		{STEP_REPLY, "node.status", NULL},
		END,
	};
	char reply[512];
	struct run r;

	(void)state;
	snprintf(reply, sizeof reply,
		 "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":%s}\n", status_body);
	s[0].reply = reply;
	fake_start(s);
	run_cli(&r, "-J", "status", NULL);
	assert_int_equal(r.rc, 0);
	assert_int_equal(fk.num_req, 1);
	assert_string_equal(r.out, "{\"version\":\"0.1.0\",\"uptime_ms\":1500,"
				   "\"pid\":7,\"data_dir\":\"/d\",\"socket\":"
				   "\"/s\",\"clients\":1,\"events_last_seq\":"
				   "2,\"node_id\":\"00ff\"}\n");
	run_free(&r);
}

#define IDENT "{\"id\":\"ID56\",\"uri\":\"parley:ID56\",\"sealed\":false}"

static void test_id(void **state)
{
	static const struct step s[] = {
		{STEP_REPLY, "identity.get", R(1, IDENT)},
		END,
	};
	struct run r;

	(void)state;
	fake_start(s);
	run_cli(&r, "id", NULL);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.out, "contact id   ID56\n"
				   "uri          parley:ID56\n"
				   "key file     not sealed (no passphrase)\n");
	run_free(&r);
}

static void test_id_qr_uri(void **state)
{
	static const struct step s[] = {
		{STEP_REPLY, "identity.get", R(1, IDENT)},
		END,
	};
	struct run r;
	char *qr = NULL;

	(void)state;
	fake_start(s);
	run_cli(&r, "id", "--qr", NULL);
	assert_int_equal(r.rc, 0);
	CAPTURE(qr, cli_print_qr(f, "parley:ID56", false));
	assert_memory_equal(r.out, qr, strlen(qr));
	assert_non_null(strstr(r.out + strlen(qr), "\ncontact id   ID56\n"));
	free(qr);
	run_free(&r);

	/* --qr is for people: not with -J.  No connection is made. */
	run_cli(&r, "-J", "id", "--qr", NULL);
	assert_int_equal(r.rc, EX_USAGE);
	run_free(&r);
}

static void test_id_uri_only(void **state)
{
	static const struct step s[] = {
		{STEP_REPLY, "identity.get", R(1, IDENT)},
		END,
	};
	struct run r;

	(void)state;
	fake_start(s);
	run_cli(&r, "id", "--uri", NULL);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.out, "parley:ID56\n");
	run_free(&r);
}

static void test_rpc(void **state)
{
	static const struct step s[] = {
		{STEP_REPLY, "\"method\":\"x.y\",\"params\":{\"a\":[1,true]}",
		 R(1, "{\"ok\":1}")},
		END,
	};
	struct run r;

	(void)state;
	fake_start(s);
	run_cli(&r, "rpc", "x.y", "{\"a\": [1, true]}", NULL);
	assert_int_equal(r.rc, 0);
	assert_false(fk.bad_request);
	assert_string_equal(r.out, "{\n  \"ok\": 1\n}\n");
	run_free(&r);
}

/* A 4 MiB request goes out whole, as one line, however the kernel
 * splits the writes. */
static void test_rpc_big_request(void **state)
{
	static const struct step s[] = {
		{STEP_REPLY, "\"method\":\"x.big\"", R(1, "{}")},
		END,
	};
	size_t n = (size_t)4 << 20;
	char *arg = malloc(n + 16);
	struct run r;

	(void)state;
	assert_non_null(arg);
	memcpy(arg, "{\"b\":\"", 6);
	memset(arg + 6, 'q', n);
	memcpy(arg + 6 + n, "\"}", 3);
	fake_start(s);
	run_cli(&r, "-J", "rpc", "x.big", arg, NULL);
	assert_int_equal(r.rc, 0);
	assert_false(fk.bad_request);
	assert_int_equal(fk.num_req, 1);
	assert_int_equal(strlen(fk.req[0]),
			 strlen("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
				"\"x.big\",\"params\":{\"b\":\"\"}}\n") +
				 n);
	assert_string_equal(r.out, "{}\n");
	run_free(&r);
	free(arg);
}

/* DEL and C1 controls from the daemon come out as \u escapes: the same
 * JSON, but nothing a terminal acts on.  Other UTF-8 stays as it is. */
static void test_rpc_controls_escaped(void **state)
{
	static const struct step s[] = {
		{STEP_REPLY, "x.y",
		 R(1, "{\"t\":\"a\x7f\xc2\x9b\xc3\xa9\\u0007\"}")},
		END,
	};
	struct run r;
	char *out = NULL;

	(void)state;
	fake_start(s);
	run_cli(&r, "-J", "rpc", "x.y", NULL);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.out,
			    "{\"t\":\"a\\u007f\\u009b\xc3\xa9\\u0007\"}\n");
	run_free(&r);
	CAPTURE(out, (cli_fputs_safe(f, "a\x7f\xc2\x9b\xc3\xa9\x1b]0;x"), 0));
	assert_string_equal(out, "a??\xc3\xa9?]0;x");
	free(out);
}

static void test_rpc_json_scalar_result(void **state)
{
	static const struct step s[] = {
		{STEP_REPLY, "x.y", R(1, "[1,\"two\"]")},
		END,
	};
	struct run r;

	(void)state;
	fake_start(s);
	run_cli(&r, "-J", "rpc", "x.y", NULL);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.out, "[1,\"two\"]\n");
	run_free(&r);
}

#define ERR_UNKNOWN                                                            \
	"{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-32601,"            \
	"\"message\":\"method not found\",\"data\":{\"app\":"                  \
	"\"unknown_method\"}}}\n"

static void test_rpc_error(void **state)
{
	static const struct step s[] = {
		{STEP_REPLY, "no.such", ERR_UNKNOWN},
		END,
	};
	struct run r;

	(void)state;
	fake_start(s);
	run_cli(&r, "rpc", "no.such", NULL);
	assert_int_equal(r.rc, CLI_EXIT_RPC_ERROR);
	assert_string_equal(r.out, "");
	assert_string_equal(r.err, "parley: no.such: method not found "
				   "(error -32601, unknown_method)\n");
	run_free(&r);
}

static void test_rpc_error_json(void **state)
{
	static const struct step s[] = {
		{STEP_REPLY, "no.such", ERR_UNKNOWN},
		END,
	};
	struct run r;

	(void)state;
	fake_start(s);
	run_cli(&r, "-J", "rpc", "no.such", NULL);
	assert_int_equal(r.rc, CLI_EXIT_RPC_ERROR);
	assert_string_equal(r.out, "{\"error\":{\"code\":-32601,\"message\":"
				   "\"method not found\",\"data\":{\"app\":"
				   "\"unknown_method\"}}}\n");
	run_free(&r);
}

static void test_rpc_parse_error_is_software(void **state)
{
	static const struct step s[] = {
		{STEP_REPLY, NULL,
		 "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32700,"
		 "\"message\":\"parse error\"}}\n"},
		END,
	};
	struct run r;

	(void)state;
	fake_start(s);
	run_cli(&r, "rpc", "a.b", NULL);
	assert_int_equal(r.rc, EX_SOFTWARE);
	run_free(&r);
}

/* Each reply here breaks the protocol: exit 76 and a message.  One
 * request (-J status), so the fake closing after its answer cannot fail a
 * pipelined second write first. */
static void expect_protocol_error(const char *reply, const char *msg)
{
	struct step s[] = {
		{STEP_REPLY, NULL, reply},
		END,
	};
	struct run r;

	fake_setup(NULL);
	fake_start(s);
	run_cli(&r, "-J", "status", NULL);
	assert_int_equal(r.rc, EX_PROTOCOL);
	assert_string_equal(r.out, "");
	if (strstr(r.err, msg) == NULL)
		fail_msg("reply %s: stderr \"%s\" lacks \"%s\"", reply, r.err,
			 msg);
	run_free(&r);
	fake_teardown(NULL);
}

static void test_malformed_replies(void **state)
{
	(void)state;
	expect_protocol_error("not json\n", "malformed reply");
	expect_protocol_error("{\"jsonrpc\":\"2.0\",\"id\":1}\n",
			      "malformed reply");
	expect_protocol_error("[]\n", "malformed reply");
	expect_protocol_error(R(9, "{}"), "reply to request 9 while waiting "
					  "for 1");
	expect_protocol_error(R(1, "[]"), "not an object");
	expect_protocol_error("{\"jsonrpc\":\"2.0\",\"id\":1,\"res",
			      "closed the connection");
	expect_protocol_error("", "closed the connection");
}

static void test_closed_without_answer(void **state)
{
	static const struct step s[] = {
		{STEP_CLOSE, "identity.get", NULL},
		END,
	};
	struct run r;

	(void)state;
	fake_start(s);
	run_cli(&r, "id", NULL);
	assert_int_equal(r.rc, EX_PROTOCOL);
	assert_non_null(strstr(r.err, "closed the connection"));
	run_free(&r);
}

static void test_oversized_reply(void **state)
{
	static const struct step s[] = {
		{STEP_BIG, "node.status", NULL},
		END,
	};
	struct run r;

	(void)state;
	/* One byte over the 16 MiB limit, newline after it. */
	fk.big_len = CLI_LINE_MAX_DEFAULT + 1;
	fake_start(s);
	run_cli(&r, "-J", "status", NULL);
	assert_int_equal(r.rc, EX_PROTOCOL);
	assert_non_null(strstr(r.err, "longer than the line limit of "
				      "16777216 bytes"));
	run_free(&r);
}

static void test_timeout(void **state)
{
	static const struct step s[] = {
		{STEP_HANG, "node.status", NULL},
		END,
	};
	struct run r;

	(void)state;
	fake_start(s);
	run_cli(&r, "--timeout", "1", "-J", "status", NULL);
	assert_int_equal(r.rc, EX_TEMPFAIL);
	assert_non_null(strstr(r.err, "did not answer within 1 s"));
	run_free(&r);
}

#define EV(seq, type)                                                          \
	"{\"jsonrpc\":\"2.0\",\"method\":\"event\",\"params\":{\"seq\":" #seq  \
	",\"type\":\"" type "\",\"at\":1000,\"data\":{}}}\n"

static void test_events_replay(void **state)
{
	static const struct step s[] = {
		{STEP_REPLY,
		 "\"method\":\"events.subscribe\",\"params\":"
		 "{\"since\":0}",
		 R(1, "{\"last_seq\":3}") EV(1, "node.started")
			 EV(2, "contact.added") EV(3, "node.started")},
		END,
	};
	struct run r;

	(void)state;
	fake_start(s);
	run_cli(&r, "events", NULL);
	assert_int_equal(r.rc, 0);
	assert_false(fk.bad_request);
	assert_string_equal(r.out, "1 1970-01-01T00:00:01.000Z node.started\n"
				   "2 1970-01-01T00:00:01.000Z contact.added\n"
				   "3 1970-01-01T00:00:01.000Z node.started\n");
	run_free(&r);
}

static void test_events_nothing_new(void **state)
{
	static const struct step s[] = {
		{STEP_REPLY, "{\"since\":5}", R(1, "{\"last_seq\":5}")},
		END,
	};
	struct run r;

	(void)state;
	fake_start(s);
	run_cli(&r, "events", "--since", "5", NULL);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.out, "");
	run_free(&r);
}

/* The daemon reports an overflow; the CLI resubscribes from resume_since,
 * prints each event once, and stops at the last_seq of the first answer.
 * The type filter is applied by the CLI without -f. */
static void test_events_overflow_filter(void **state)
{
	static const struct step s[] = {
		{STEP_REPLY, "{\"since\":0}",
		 R(1, "{\"last_seq\":4}") EV(1, "a")
			 EV(2, "b") "{\"jsonrpc\":\"2.0\",\"method\":\"events."
				    "overflow\","
				    "\"params\":{\"resume_since\":1}}\n"},
		{STEP_REPLY,
		 "\"id\":2,\"method\":\"events.subscribe\","
		 "\"params\":{\"since\":1}",
		 R(2, "{\"last_seq\":6}") EV(2, "b")
			 EV(3, "a") "{\"jsonrpc\":\"2.0\",\"method\":\"future."
				    "thing\"}\n" EV(4, "a")},
		END,
	};
	struct run r;

	(void)state;
	fake_start(s);
	run_cli(&r, "-J", "events", "-t", "a", NULL);
	assert_int_equal(r.rc, 0);
	assert_false(fk.bad_request);
	assert_int_equal(fk.num_req, 2);
	assert_null(strstr(fk.req[0], "types"));
	assert_string_equal(
		r.out, "{\"seq\":1,\"type\":\"a\",\"at\":1000,\"data\":{}}\n"
		       "{\"seq\":3,\"type\":\"a\",\"at\":1000,\"data\":{}}\n"
		       "{\"seq\":4,\"type\":\"a\",\"at\":1000,\"data\":{}}\n");
	run_free(&r);
}

/* parleyd's events.overflow means the next event was pruned from its
 * log (resume_since = first kept - 1): the CLI resumes there, says which
 * events were lost, and does not ask again from before (no loop). */
static void test_events_pruned(void **state)
{
	static const struct step s[] = {
		{STEP_REPLY, "\"params\":{\"since\":0}",
		 R(1, "{\"last_seq\":7}") "{\"jsonrpc\":\"2.0\",\"method\":"
					  "\"events.overflow\","
					  "\"params\":{\"resume_since\":5,"
					  "\"missed_from\":1,"
					  "\"missed_to\":5}}\n"},
		{STEP_REPLY,
		 "\"id\":2,\"method\":\"events.subscribe\","
		 "\"params\":{\"since\":5}",
		 R(2, "{\"last_seq\":7}") EV(6, "a") EV(7, "a")},
		END,
	};
	struct run r;

	(void)state;
	fake_start(s);
	run_cli(&r, "events", NULL);
	assert_int_equal(r.rc, 0);
	assert_false(fk.bad_request);
	assert_string_equal(r.out, "6 1970-01-01T00:00:01.000Z a\n"
				   "7 1970-01-01T00:00:01.000Z a\n");
	assert_string_equal(r.err, "parley: events 1 to 5 were dropped from "
				   "the daemon's log before they could be "
				   "read\n");
	run_free(&r);
}

/* With -f the types go to the daemon, also when resubscribing after an
 * overflow, and the run ends only when the connection does: exit 69, the
 * daemon went away. */
static void test_events_follow(void **state)
{
	static const struct step s[] = {
		{STEP_REPLY, "\"params\":{\"types\":[\"a\"]}",
		 EV(9, "a") R(1, "{\"last_seq\":8}")
			 EV(10, "a") "{\"jsonrpc\":\"2.0\",\"method\":\"events."
				     "overflow\","
				     "\"params\":{\"resume_since\":10}}\n"},
		{STEP_REPLY, "\"params\":{\"since\":10,\"types\":[\"a\"]}",
		 R(2, "{\"last_seq\":12}") EV(11, "a")},
		END,
	};
	struct run r;

	(void)state;
	fake_start(s);
	run_cli(&r, "events", "-f", "--type", "a", NULL);
	assert_int_equal(r.rc, EX_UNAVAILABLE);
	assert_false(fk.bad_request);
	assert_string_equal(r.err, "parley: parleyd closed the connection\n");
	/* The event that came before the answer is kept, not lost. */
	assert_string_equal(r.out, "9 1970-01-01T00:00:01.000Z a\n"
				   "10 1970-01-01T00:00:01.000Z a\n"
				   "11 1970-01-01T00:00:01.000Z a\n");
	run_free(&r);
}

/* `parley events -f | head -1`: when the reader of the output is gone,
 * parley notices while waiting (POLLERR on the pipe) and exits 0. */
static void test_events_reader_gone(void **state)
{
	static const struct step s[] = {
		{STEP_HANG, "events.subscribe", R(1, "{\"last_seq\":0}")},
		END,
	};
	char *argv[] = {(char *)"parley", (char *)"-s", fk.path,
			(char *)"events", (char *)"-f", NULL};
	char *err_text = NULL;
	size_t elen;
	int p[2], rc;
	FILE *out, *err;

	(void)state;
	fake_start(s);
	assert_int_equal(pipe(p), 0);
	close(p[0]);
	out = fdopen(p[1], "w");
	err = open_memstream(&err_text, &elen);
	rc = cli_main(5, argv,
		      &(struct cli_env){.out = out,
					.err = err,
					.out_fd = p[1],
					.daemon_fd = -1});
	fclose(out);
	fclose(err);
	pthread_join(fk.th, NULL);
	fk.running = false;
	assert_int_equal(rc, 0);
	assert_string_equal(err_text, "");
	free(err_text);
}

static void test_socket_too_long(void **state)
{
	char path[160], *argv[] = {(char *)"parley", (char *)"--socket", path,
				   (char *)"status", NULL};
	char *out_text = NULL, *err_text = NULL;
	size_t olen, elen;
	FILE *out, *err;
	int rc;

	(void)state;
	memset(path, 'p', sizeof path - 1);
	path[0] = '/';
	path[sizeof path - 1] = '\0';
	out = open_memstream(&out_text, &olen);
	err = open_memstream(&err_text, &elen);
	rc = cli_main(
		4, argv,
		&(struct cli_env){
			.out = out, .err = err, .out_fd = -1, .daemon_fd = -1});
	fclose(out);
	fclose(err);
	assert_int_equal(rc, EX_USAGE);
	assert_non_null(strstr(err_text, "socket path too long"));
	free(out_text);
	free(err_text);
}

static void test_events_bad_event(void **state)
{
	static const struct step s[] = {
		{STEP_REPLY, NULL,
		 R(1, "{\"last_seq\":1}") "{\"jsonrpc\":\"2.0\",\"method\":"
					  "\"event\",\"params\":"
					  "{\"seq\":\"1\"}}\n"},
		END,
	};
	struct run r;

	(void)state;
	fake_start(s);
	run_cli(&r, "events", NULL);
	assert_int_equal(r.rc, EX_PROTOCOL);
	run_free(&r);
}

/* --- messaging: the pure parts ----------------------------------------- */

/* Contact IDs of the keys 0x11.., 0x22.., 0x33.. (docs/PROTOCOL-keyfile.md
 * gives the recipe). */
#define ID_A "aeirceirceirceirceirceirceirceirceirceirceirceirceirdbnh"
#define ID_B "aerceirceirceirceirceirceirceirceirceirceirceirceirce7yz"
#define ID_C "aeztgmztgmztgmztgmztgmztgmztgmztgmztgmztgmztgmztgmzth65v"
#define ID_Z "aeaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaabus5"
#define MSG1 "00112233445566778899aabbccddeeff"
#define MSG2 "ffeeddccbbaa99887766554433221100"

/* alice, bob, two contacts named sam, one without a name, and one named
 * like an ID. */
#define CONTACTS                                                               \
	"{\"contacts\":["                                                      \
	"{\"id\":\"" ID_A "\",\"name\":\"alice\",\"state\":\"accepted\","      \
	"\"presence\":\"online\",\"last_seen\":1764283397123,"                 \
	"\"receipts\":\"default\"},"                                           \
	"{\"id\":\"" ID_B "\",\"name\":\"bob\",\"state\":\"requested_by_us\"," \
	"\"presence\":\"offline\",\"last_seen\":0,\"receipts\":\"off\"},"      \
	"{\"id\":\"" ID_C "\",\"name\":\"sam\",\"state\":\"accepted\"},"       \
	"{\"id\":\"" ID_Z "\",\"name\":\"sam\",\"state\":\"blocked\"},"        \
	"{\"id\":\"" ID_Z "\",\"name\":\"\"},"                                 \
	"{\"id\":\"" ID_Z "\",\"name\":\"" ID_C "\"}]}"

static void test_contact_id_norm(void **state)
{
	char id[CLI_CONTACT_ID_LEN + 1];
	char upper[] = "PARLEY:" ID_A;

	(void)state;
	for (char *p = upper; *p != '\0'; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
	assert_true(cli_contact_id_norm(ID_A, id));
	assert_string_equal(id, ID_A);
	assert_true(cli_contact_id_norm("parley:" ID_B, id));
	assert_string_equal(id, ID_B);
	assert_true(cli_contact_id_norm(upper, id));
	assert_string_equal(id, ID_A);
	/* Wrong length, characters outside the alphabet (0, 1, 8, 9). */
	assert_false(cli_contact_id_norm(ID_A "a", id));
	assert_false(cli_contact_id_norm(ID_A + 1, id));
	assert_false(cli_contact_id_norm("", id));
	assert_false(cli_contact_id_norm("parley:", id));
	assert_false(cli_contact_id_norm(
		"0eirceirceirceirceirceirceirceirceirceirceirceirceirdbnh",
		id));
	assert_false(cli_contact_id_norm(
		"aeirceirceirceirceirceirceirceirceirceirceirceirceirdbn8",
		id));
	assert_false(cli_contact_id_norm("parley: " ID_A, id));
	assert_false(cli_contact_id_norm("alice", id));

	assert_true(cli_msg_id_valid(MSG1));
	assert_true(cli_msg_id_valid("00112233445566778899AABBCCDDEEFF"));
	assert_false(cli_msg_id_valid(MSG1 "0"));
	assert_false(cli_msg_id_valid("0011223344556677889aabbccddeeff"));
	assert_false(cli_msg_id_valid("g0112233445566778899aabbccddeeff"));
	assert_false(cli_msg_id_valid(""));
}

static json_t *load(const char *text)
{
	json_t *v = json_loads(text, 0, NULL);

	assert_non_null(v);
	return v;
}

static void test_contact_resolve(void **state)
{
	static const char *const bad[] = {
		"{}",
		"{\"contacts\":{}}",
		"{\"contacts\":[1]}",
		"{\"contacts\":[{\"name\":\"x\"}]}",
		"{\"contacts\":[{\"id\":5,\"name\":\"x\"}]}",
		/* The one named x has no ID of the right shape. */
		"{\"contacts\":[{\"id\":\"short\",\"name\":\"x\"}]}",
	};
	char id[CLI_CONTACT_ID_LEN + 1];
	json_t *list = load(CONTACTS), *v;
	size_t n;

	(void)state;
	assert_int_equal(cli_contacts_check(list), 0);
	assert_int_equal(cli_contact_resolve(list, "alice", id, &n), 0);
	assert_string_equal(id, ID_A);
	assert_int_equal(n, 1);
	assert_int_equal(cli_contact_resolve(list, "bob", id, NULL), 0);
	assert_string_equal(id, ID_B);
	/* IDs and URIs are taken as they are, listed or not. */
	assert_int_equal(cli_contact_resolve(list, "parley:" ID_B, id, &n), 0);
	assert_string_equal(id, ID_B);
	assert_int_equal(cli_contact_resolve(list, ID_C, id, &n), 0);
	assert_string_equal(id, ID_C); /* the ID, not the one named like it */
	/* Names match exactly. */
	assert_int_equal(cli_contact_resolve(list, "Alice", id, &n), -ENOENT);
	assert_int_equal(n, 0);
	assert_int_equal(cli_contact_resolve(list, "alic", id, &n), -ENOENT);
	assert_int_equal(cli_contact_resolve(list, "", id, &n), -ENOENT);
	assert_int_equal(cli_contact_resolve(list, "sam", id, &n), -EEXIST);
	assert_int_equal(n, 2);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		v = load(bad[i]);
		assert_int_equal(cli_contact_resolve(v, "x", id, &n), -EBADMSG);
		json_decref(v);
	}
	/* An empty list is no error, just nobody. */
	v = load("{\"contacts\":[]}");
	assert_int_equal(cli_contact_resolve(v, "x", id, &n), -ENOENT);
	json_decref(v);
	json_decref(list);
}

static void test_contact_names(void **state)
{
	json_t *list = load(CONTACTS), *names;
	char buf[CLI_SHORT_ID_SIZE];

	(void)state;
	names = cli_contact_names(list);
	assert_non_null(names);
	assert_string_equal(cli_contact_label(names, ID_A, buf), "alice");
	/* The last of several entries for one ID wins; an empty name does
	 * not name. */
	assert_string_equal(cli_contact_label(names, ID_Z, buf), ID_C);
	assert_string_equal(cli_contact_label(NULL, ID_A, buf),
			    "aeirceirceir\xe2\x80\xa6");
	assert_string_equal(cli_contact_label(names, "xyz", buf),
			    "xyz\xe2\x80\xa6");
	json_decref(names);
	json_decref(list);
}

/* Runs cli_put_text into memory and checks what it wrote and counted. */
static void expect_text(const char *in, size_t len, int indent,
			const char *want, size_t want_cols)
{
	char *out = NULL;
	size_t cols = 0;

	CAPTURE(out, (cols = cli_put_text(f, in, len, indent), 0));
	if (strcmp(out, want) != 0 || cols != want_cols)
		fail_msg("\"%s\": got \"%s\" (%zu columns), want \"%s\" (%zu)",
			 in, out, cols, want, want_cols);
	assert_int_equal(cli_put_text(NULL, in, len, indent), want_cols);
	free(out);
}

#define TEXT(s, indent, want, cols)                                            \
	expect_text(s, sizeof s - 1, indent, want, cols)

static void test_put_text(void **state)
{
	(void)state;
	TEXT("hello", -1, "hello", 5);
	/* UTF-8 passes as it is; each character one column. */
	TEXT("caf\xc3\xa9 \xf0\x9f\x98\x80", -1, "caf\xc3\xa9 \xf0\x9f\x98\x80",
	     6);
	/* C0 controls and DEL in caret notation. */
	TEXT("a\x1b[31mb", -1, "a^[[31mb", 8);
	TEXT("\x07\x7f\t\r", -1, "^G^?^I^M", 8);
	TEXT("a\0b", -1, "a^@b", 4);
	/* C1 controls (CSI as U+009B) and bidi overrides as <U+...>. */
	TEXT("x\xc2\x9b"
	     "2J",
	     -1, "x<U+009B>2J", 11);
	TEXT("\xe2\x80\xae"
	     "cba",
	     -1, "<U+202E>cba", 11);
	TEXT("\xe2\x81\xa6\xd8\x9c", -1, "<U+2066><U+061C>", 16);
	/* Not UTF-8: an overlong ESC, a lone continuation byte, a
	 * surrogate, a cut sequence. */
	TEXT("\xe0\x80\x9b[2J", -1, "???[2J", 6);
	TEXT("\x80\xed\xa0\x80", -1, "????", 4);
	TEXT("\xf0\x9f\x98", -1, "???", 3);
	TEXT("\xc0\x9b", -1, "??", 2);
	/* Newlines: ^J on one line, or a new indented line. */
	TEXT("a\nbc", -1, "a^Jbc", 5);
	TEXT("a\nbc", 3, "a\n   bc", 2);
	TEXT("a\n", 0, "a\n", 0);

	assert_true(cli_utf8_valid("caf\xc3\xa9", 5));
	assert_true(cli_utf8_valid("a\0b", 3));
	assert_false(cli_utf8_valid("\xe0\x80\x9b", 3));
	assert_false(cli_utf8_valid("\xff", 1));
	assert_false(cli_utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
}

/* Does s hold a byte that a terminal acts on: a C0 control other than
 * newline (when allowed), DEL, or a C1 control in UTF-8? */
static bool has_control(const char *s, size_t len, bool newline_ok)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '\n' && newline_ok)
			continue;
		if (ch < 0x20 || ch == 0x7f)
			return true;
		if (ch == 0xc2 && i + 1 < len &&
		    (unsigned char)s[i + 1] >= 0x80 &&
		    (unsigned char)s[i + 1] <= 0x9f)
			return true;
	}
	return false;
}

/* The property: whatever the text, what cli_put_text writes carries no
 * control character (a newline only when indenting), and its column
 * count matches the characters written on the last line.  Checked on
 * every short sequence of interesting bytes and on 20000 random strings
 * (fixed seed). */
static void test_put_text_property(void **state)
{
	static const unsigned char pick[] = {
		0x00, 0x07, 0x09, 0x0a, 0x0d, 0x1b, 0x5b, 0x41, 0x7f,
		0x80, 0x9b, 0xbf, 0xc2, 0xc3, 0xe0, 0xe2, 0xed, 0xf0,
		0xf4, 0xff, 0x80, 0xae, 0x81, 0xa6, 0x9f, 0x98,
	};
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	unsigned char in[64];
	char *out;
	size_t len, olen, cols, chars;
	FILE *f;

	(void)state;
	for (int round = 0; round < 20000; round++) {
		len = 1 + round % 40;
		for (size_t i = 0; i < len; i++) {
			/* xorshift64 */
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			in[i] = round % 2 ? (unsigned char)x
					  : pick[x % sizeof pick];
		}
		for (int indent = -1; indent <= 2; indent += 3) {
			out = NULL;
			f = open_memstream(&out, &olen);
			assert_non_null(f);
			cols = cli_put_text(f, (const char *)in, len, indent);
			fclose(f);
			if (has_control(out, olen, indent >= 0))
				fail_msg("round %d: control character in "
					 "output",
					 round);
			/* Columns: characters (not continuation bytes)
			 * after the last newline and its indent. */
			chars = 0;
			for (size_t i = 0; i < olen; i++) {
				if (out[i] == '\n')
					chars = (size_t) - (long)indent;
				else if (((unsigned char)out[i] & 0xc0) != 0x80)
					chars++;
			}
			assert_int_equal(cols, chars);
			free(out);
		}
	}
}

static void test_print_contacts(void **state)
{
	json_t *list = load(
		"{\"contacts\":["
		"{\"id\":\"" ID_A
		"\",\"name\":\"alice\",\"state\":\"accepted\","
		"\"presence\":\"online\",\"last_seen\":1764283397123,"
		"\"receipts\":\"default\"},"
		"{\"id\":\"" ID_B "\",\"name\":\"b\\u001b[1mob\",\"state\":"
		"\"requested_by_us\",\"presence\":\"offline\",\"last_seen\":0,"
		"\"receipts\":\"off\"},"
		"{\"id\":\"" ID_C "\",\"state\":\"blocked\",\"extra\":1}]}");
	char *out = NULL;

	(void)state;
	CAPTURE(out, cli_print_contacts(f, list));
	assert_string_equal(
		out,
		"NAME      STATE            PRESENCE  LAST SEEN            "
		"RECEIPTS  ID\n"
		"alice     accepted         online    2025-11-27 22:43:17  "
		"default   " ID_A "\n"
		"b^[[1mob  requested_by_us  offline   never                "
		"off       " ID_B "\n"
		"-         blocked          -         -                    "
		"-         " ID_C "\n");
	free(out);
	json_decref(list);
	list = load("{\"contacts\":[]}");
	CAPTURE(out, cli_print_contacts(f, list));
	assert_string_equal(out, "no contacts\n");
	free(out);
	json_decref(list);
}

#define HISTORY                                                                \
	"{\"messages\":["                                                      \
	"{\"id\":\"" MSG1 "\",\"from\":\"" ID_A "\",\"dir\":\"in\","           \
	"\"body\":\"hello\",\"sent_at\":1764283397123,\"status\":\"read\"},"   \
	"{\"id\":\"" MSG2 "\",\"from\":\"" ID_B "\",\"dir\":\"out\","          \
	"\"body\":\"two\\nlines\",\"sent_at\":1764283398000,"                  \
	"\"status\":\"delivered\"},"                                           \
	"{\"id\":\"" MSG1 "\",\"from\":\"" ID_A "\",\"dir\":\"in\","           \
	"\"body\":\"\\u001b[2Jgotcha\\u202e\",\"sent_at\":1764283399000,"      \
	"\"status\":\"received\",\"reply_to\":\"" MSG2 "\"}]}"

static void test_print_history(void **state)
{
	json_t *h = load(HISTORY);
	char *out = NULL;

	(void)state;
	CAPTURE(out, cli_print_history(f, h, "alice", false, 50));
	assert_string_equal(out,
			    "2025-11-27 22:43:17  alice  < hello\n"
			    "2025-11-27 22:43:18  me     > two\n"
			    "                              lines  [delivered]\n"
			    "2025-11-27 22:43:19  alice  < (re ffeeddcc) "
			    "^[[2Jgotcha<U+202E>\n");
	free(out);
	/* With ids, and more than shown: the hint where to go on. */
	CAPTURE(out, cli_print_history(f, h, "a", true, 2));
	assert_string_equal(
		out, "(earlier messages: --before " MSG2 ")\n" MSG2
		     "  2025-11-27 22:43:18  me  > two\n"
		     "                                                       "
		     "      lines  [delivered]\n" MSG1
		     "  2025-11-27 22:43:19  a   < (re ffeeddcc) "
		     "^[[2Jgotcha<U+202E>\n");
	free(out);
	json_decref(h);
	/* Missing or odd fields are shown, not trusted. */
	h = load("{\"messages\":[{\"dir\":\"out\",\"body\":7,\"status\":"
		 "\"queued\"},3]}");
	CAPTURE(out, cli_print_history(f, h, "bob", false, 50));
	assert_string_equal(out, "?                    me   > 7  [queued]\n"
				 "3\n");
	free(out);
	json_decref(h);
	h = load("{\"messages\":[]}");
	CAPTURE(out, cli_print_history(f, h, "b\x1b", false, 50));
	assert_string_equal(out, "no messages with b^[\n");
	free(out);
	json_decref(h);
}

static void test_print_safety(void **state)
{
	json_t *v = load("{\"id\":\"" ID_A "\",\"safety_number\":\"12345 "
			 "67890 11111 22222 33333 44444 55555 66666 77777 "
			 "88888 99999 00000\",\"qr\":\"0a0b\"}");
	char *out = NULL;

	(void)state;
	CAPTURE(out, cli_print_safety(f, "alice", v));
	assert_string_equal(
		out, "Safety number with alice:\n\n"
		     "    12345 67890 11111 22222\n"
		     "    33333 44444 55555 66666\n"
		     "    77777 88888 99999 00000\n\n"
		     "If alice sees the same number for you, no one stands "
		     "between you.\n"
		     "Compare it in person, or over a call where you know the "
		     "voice;\n"
		     "a number sent over parley itself proves nothing.\n");
	free(out);
	json_decref(v);
	/* Not twelve groups of digits: shown as it came, escaped. */
	v = load("{\"safety_number\":\"12 \\u001b\"}");
	CAPTURE(out, cli_print_safety(f, "alice", v));
	assert_non_null(strstr(out, ":\n\n    12 ^[\n\nIf alice"));
	free(out);
	json_decref(v);
}

/* Each chat event in words; a malformed one as the generic line. */
static void test_print_chat_events(void **state)
{
	static const struct {
		const char *data;
		const char *type;
		const char *want;
	} cases[] = {
		{"{\"id\":\"" MSG1 "\",\"from\":\"" ID_A "\",\"body\":"
		 "\"hi\\nthere\\u001b]0;x\\u0007\",\"sent_at\":1}",
		 "message.received",
		 "message.received alice: hi^Jthere^[]0;x^G"},
		{"{\"id\":\"" MSG1 "\",\"from\":\"aaaabbbbccccdddd\",\"body\":"
		 "\"yo\"}",
		 "message.received",
		 "message.received aaaabbbbcccc\xe2\x80\xa6: yo"},
		{"{\"id\":\"" MSG1 "\",\"to\":\"" ID_A
		 "\",\"status\":\"read\"}",
		 "message.status", "message.status " MSG1 " to alice: read"},
		{"{\"id\":\"" ID_B "\",\"name\":\"Bob\\u202e\",\"greeting\":"
		 "\"hi, it's bob\"}",
		 "contact.request",
		 "contact.request from " ID_B " \"Bob<U+202E>\": hi, it's bob"},
		{"{\"id\":\"" ID_B "\",\"name\":\"\",\"greeting\":\"\"}",
		 "contact.request", "contact.request from " ID_B},
		{"{\"id\":\"" ID_A "\"}", "contact.accepted",
		 "contact.accepted alice accepted your request"},
		{"{\"id\":\"" ID_A
		 "\",\"presence\":\"online\",\"last_seen\":5}",
		 "presence", "presence alice online"},
		{"{\"id\":\"" ID_A "\",\"presence\":\"offline\",\"last_seen\":"
		 "1764283397123}",
		 "presence",
		 "presence alice offline, last seen 2025-11-27 22:43:17"},
		{"{\"id\":\"" ID_A "\",\"typing\":true}", "typing",
		 "typing alice is typing"},
		{"{\"id\":\"" ID_A "\",\"typing\":false}", "typing",
		 "typing alice stopped typing"},
		{"{\"id\":\"" MSG1 "\",\"from\":\"" ID_A "\",\"body_omitted\":"
		 "true,\"sent_at\":1}",
		 "message.received",
		 "message.received alice: (a long message: see parley "
		 "history)"},
		/* Not as documented: the generic form. */
		{"{\"from\":\"" ID_A "\"}", "message.received",
		 "message.received {\"from\":\"" ID_A "\"}"},
		{"{\"id\":\"" ID_A "\",\"typing\":1}", "typing",
		 "typing {\"id\":\"" ID_A "\",\"typing\":1}"},
		{"{\"n\":1}", "node.started", "node.started {\"n\":1}"},
	};
	json_t *list = load(CONTACTS), *names = cli_contact_names(list), *ev;
	char *out = NULL, want[512];

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		ev = json_pack("{s:i, s:s, s:i, s:o}", "seq", 4, "type",
			       cases[i].type, "at", 1000, "data",
			       load(cases[i].data));
		assert_non_null(ev);
		CAPTURE(out, cli_print_chat_event(f, ev, names));
		snprintf(want, sizeof want, "4 1970-01-01T00:00:01.000Z %s\n",
			 cases[i].want);
		assert_string_equal(out, want);
		free(out);
		json_decref(ev);
	}
	ev = load("{\"type\":\"message.status\",\"data\":{\"to\":\"" ID_C
		  "\"}}");
	assert_string_equal(cli_event_contact(ev), ID_C);
	json_decref(ev);
	/* A request is shown by its full ID, not named. */
	ev = load("{\"type\":\"contact.request\",\"data\":{\"id\":\"" ID_C
		  "\"}}");
	assert_null(cli_event_contact(ev));
	json_decref(ev);
	json_decref(names);
	json_decref(list);
}

/* --- messaging: the commands against the fake daemon -------------------- */

/* Serves steps on a fresh socket: for a second run within one test. */
static void serve(const struct step *steps)
{
	fake_teardown(NULL);
	fake_setup(NULL);
	fake_start(steps);
}

#define LIST_STEP                                                              \
	{                                                                      \
		STEP_REPLY,                                                    \
			"\"id\":1,\"method\":\"contacts.list\","               \
			"\"params\":{}",                                       \
			R(1, CONTACTS)                                         \
	}

static void test_contact_list_cmd(void **state)
{
	/* A list that is not as documented is the daemon's fault. */
	static const struct step bad[] = {
		{STEP_REPLY, "contacts.list", R(1, "{\"contacts\":[7]}")},
		END,
	};
	static const struct step s[] = {LIST_STEP, END};
	struct run r;
	char want[256];

	(void)state;
	fake_start(s);
	run_cli(&r, "contact", "list", NULL);
	assert_int_equal(r.rc, 0);
	assert_false(fk.bad_request);
	/* The name column is as wide as the longest name (one named like
	 * an ID), but at most 24. */
	snprintf(want, sizeof want, "%-26s%-17s%-10s%-21s%-10s%s\n", "NAME",
		 "STATE", "PRESENCE", "LAST SEEN", "RECEIPTS", "ID");
	assert_true(strncmp(r.out, want, strlen(want)) == 0);
	snprintf(want, sizeof want, "\n%-26s%-17s%-10s%-21s%-10s%s\n", "alice",
		 "accepted", "online", "2025-11-27 22:43:17", "default", ID_A);
	assert_non_null(strstr(r.out, want));
	run_free(&r);
	serve(s);
	run_cli(&r, "-J", "contact", "list", NULL);
	assert_int_equal(r.rc, 0);
	assert_non_null(strstr(r.out, "{\"contacts\":[{\"id\":\"" ID_A "\""));
	run_free(&r);
	serve(bad);
	run_cli(&r, "contact", "list", NULL);
	assert_int_equal(r.rc, EX_PROTOCOL);
	assert_non_null(strstr(r.err, "contacts.list: malformed result"));
	run_free(&r);
}

static void test_contact_add_cmd(void **state)
{
	static const struct step s[] = {
		{STEP_REPLY,
		 "\"method\":\"contacts.add\",\"params\":{\"id\":\"" ID_B
		 "\",\"name\":\"bob\",\"greeting\":\"hi there\"}}",
		 R(1, "{\"id\":\"" ID_B "\",\"state\":\"requested_by_us\"}")},
		END,
	};
	struct run r;

	(void)state;
	fake_start(s);
	run_cli(&r, "contact", "add", "PARLEY:" ID_B, "--name", "bob",
		"--greeting", "hi there", NULL);
	assert_int_equal(r.rc, 0);
	assert_false(fk.bad_request);
	assert_int_equal(fk.num_req, 1);
	assert_string_equal(r.out, "sent a contact request to bob (state: "
				   "requested_by_us)\n");
	run_free(&r);
	/* Only an ID or URI: not a name, not a mistyped ID.  Nothing is
	 * sent (the fake serves no more). */
	run_cli(&r, "contact", "add", "alice", NULL);
	assert_int_equal(r.rc, EX_DATAERR);
	assert_string_equal(r.err, "parley: not a contact ID or parley: URI: "
				   "alice\n");
	run_free(&r);
	run_cli(&r, "contact", "add", ID_A, "--name", "\xff", NULL);
	assert_int_equal(r.rc, EX_DATAERR);
	assert_non_null(strstr(r.err, "the name is not valid UTF-8"));
	run_free(&r);
}

static void test_contact_accept_by_name(void **state)
{
	static const struct step s[] = {
		LIST_STEP,
		{STEP_REPLY,
		 "\"id\":2,\"method\":\"contacts.accept\",\"params\":{\"id\":"
		 "\"" ID_A "\"}}",
		 R(2, "{\"id\":\"" ID_A "\",\"state\":\"accepted\"}")},
		END,
	};
	static const struct step rm[] = {
		LIST_STEP,
		{STEP_REPLY,
		 "\"method\":\"contacts.remove\",\"params\":{\"id\":"
		 "\"" ID_B "\"}}",
		 R(2, "{\"id\":\"" ID_B "\",\"removed\":true}")},
		END,
	};
	struct run r;

	(void)state;
	fake_start(s);
	run_cli(&r, "contact", "accept", "alice", NULL);
	assert_int_equal(r.rc, 0);
	assert_false(fk.bad_request);
	assert_string_equal(r.out, "alice is now a contact (state: "
				   "accepted)\n");
	run_free(&r);
	serve(rm);
	run_cli(&r, "contact", "remove", "parley:" ID_B, NULL);
	assert_int_equal(r.rc, 0);
	assert_false(fk.bad_request);
	assert_string_equal(r.out, "removed bob (the history is kept)\n");
	run_free(&r);
}

/* A name nobody has: 67, one name for two: 65; only contacts.list was
 * asked, nothing else sent. */
static void test_contact_unknown(void **state)
{
	static const struct step s[] = {LIST_STEP, END};
	struct run r;

	(void)state;
	fake_start(s);
	run_cli(&r, "contact", "block", "carol", NULL);
	assert_int_equal(r.rc, EX_NOUSER);
	assert_int_equal(fk.num_req, 1);
	assert_string_equal(r.err, "parley: no contact is named \"carol\" "
				   "(see 'parley contact list')\n");
	run_free(&r);
	serve(s);
	run_cli(&r, "send", "sam", "hi", NULL);
	assert_int_equal(r.rc, EX_DATAERR);
	assert_int_equal(fk.num_req, 1);
	assert_string_equal(r.err, "parley: 2 contacts are named \"sam\"; "
				   "give the contact ID instead (see 'parley "
				   "contact list')\n");
	run_free(&r);
	/* The name is the user's, but still shown escaped. */
	serve(s);
	run_cli(&r, "history", "x\x1b[2J", NULL);
	assert_int_equal(r.rc, EX_NOUSER);
	assert_non_null(strstr(r.err, "\"x^[[2J\""));
	run_free(&r);
}

static void test_send_args(void **state)
{
	static const struct step s[] = {
		LIST_STEP,
		{STEP_REPLY,
		 "\"id\":2,\"method\":\"messages.send\",\"params\":{\"to\":"
		 "\"" ID_A "\",\"body\":\"-5 degrees \\u001B[31m caf\xc3\xa9\","
		 "\"reply_to\":\"" MSG1 "\"}}",
		 R(2, "{\"id\":\"" MSG2 "\",\"status\":\"queued\"}")},
		END,
	};
	struct run r;

	(void)state;
	fake_start(s);
	/* Options end at CONTACT: "-5" is the message. */
	run_cli(&r, "send", "--reply-to", MSG1, "alice", "-5", "degrees",
		"\x1b[31m", "caf\xc3\xa9", NULL);
	assert_int_equal(r.rc, 0);
	assert_false(fk.bad_request);
	assert_string_equal(r.out, MSG2 "\n");
	run_free(&r);
	serve(s);
	run_cli(&r, "-J", "send", "-r", MSG1, "alice", "-5", "degrees",
		"\x1b[31m", "caf\xc3\xa9", NULL);
	assert_int_equal(r.rc, 0);
	assert_false(fk.bad_request);
	assert_string_equal(r.out,
			    "{\"id\":\"" MSG2 "\",\"status\":\"queued\"}\n");
	run_free(&r);
}

/* From standard input the body passes exactly, but for the one final
 * newline; over 65536 bytes nothing is sent. */
static void test_send_stdin(void **state)
{
	static const struct step whole[] = {
		LIST_STEP,
		{STEP_REPLY, "messages.send",
		 R(2, "{\"id\":\"" MSG2 "\",\"status\":\"queued\"}")},
		END,
	};
	static const struct step s[] = {
		LIST_STEP,
		{STEP_REPLY,
		 "\"params\":{\"to\":\"" ID_B "\",\"body\":\"line one\\n"
		 "\\tline two\\u001B[0m\\n\"}}",
		 R(2, "{\"id\":\"" MSG2 "\",\"status\":\"queued\"}")},
		END,
	};
	char *big = malloc(CLI_BODY_MAX + 3);
	struct run r;

	(void)state;
	assert_non_null(big);
	fake_start(s);
	run_input = "line one\n\tline two\x1b[0m\n\n";
	run_cli(&r, "send", "bob", NULL);
	assert_int_equal(r.rc, 0);
	assert_false(fk.bad_request);
	assert_string_equal(r.out, MSG2 "\n");
	run_free(&r);
	serve(s);
	run_input = "line one\n\tline two\x1b[0m\n\n";
	run_cli(&r, "send", "bob", "-", NULL);
	assert_int_equal(r.rc, 0);
	assert_false(fk.bad_request);
	run_free(&r);

	/* Exactly the limit, and a newline: sent. */
	memset(big, 'a', CLI_BODY_MAX);
	big[CLI_BODY_MAX] = '\n';
	big[CLI_BODY_MAX + 1] = '\0';
	serve(whole);
	run_input = big;
	run_cli(&r, "send", "alice", NULL);
	assert_int_equal(r.rc, 0);
	assert_int_equal(fk.num_req, 2);
	assert_true(strlen(fk.req[1]) > CLI_BODY_MAX);
	run_free(&r);
	fake_teardown(NULL);
	fake_setup(NULL);
	/* One byte more: refused before any connection (none listens). */
	big[CLI_BODY_MAX] = 'a';
	big[CLI_BODY_MAX + 1] = '\n';
	big[CLI_BODY_MAX + 2] = '\0';
	run_input = big;
	run_cli(&r, "send", "alice", NULL);
	assert_int_equal(r.rc, EX_DATAERR);
	assert_string_equal(r.err, "parley: the message is longer than 65536 "
				   "bytes; nothing was sent\n");
	run_free(&r);
	big[CLI_BODY_MAX] = '\0';
	run_cli(&r, "send", "alice", "x", big, NULL);
	assert_int_equal(r.rc, EX_DATAERR);
	assert_non_null(strstr(r.err, "longer than 65536"));
	run_free(&r);
	run_cli(&r, "send", "alice", NULL);
	assert_int_equal(r.rc, EX_DATAERR);
	assert_non_null(strstr(r.err, "the message is empty"));
	run_free(&r);
	run_input = "\n";
	run_cli(&r, "send", "alice", NULL);
	assert_int_equal(r.rc, EX_DATAERR);
	run_free(&r);
	/* UTF-8, but U+0000 is no part of a message. */
	run_input = "a\0b";
	run_input_len = 3;
	run_cli(&r, "send", "alice", NULL);
	assert_int_equal(r.rc, EX_DATAERR);
	assert_non_null(strstr(r.err, "holds a NUL byte"));
	run_free(&r);
	run_input = "caf\xc3";
	run_cli(&r, "send", "alice", NULL);
	assert_int_equal(r.rc, EX_DATAERR);
	assert_non_null(strstr(r.err, "the message is not valid UTF-8"));
	run_free(&r);
	free(big);
}

static void test_send_error(void **state)
{
	static const struct step s[] = {
		{STEP_REPLY, "contacts.list", R(1, "{\"contacts\":[]}")},
		{STEP_REPLY, "messages.send",
		 "{\"jsonrpc\":\"2.0\",\"id\":2,\"error\":{\"code\":-32002,"
		 "\"message\":\"unknown contact\",\"data\":{\"app\":"
		 "\"not_found\"}}}\n"},
		END,
	};
	struct run r;

	(void)state;
	fake_start(s);
	run_cli(&r, "send", ID_C, "hi", NULL);
	assert_int_equal(r.rc, CLI_EXIT_RPC_ERROR);
	assert_string_equal(r.err, "parley: messages.send: unknown contact "
				   "(error -32002, not_found)\n");
	run_free(&r);
}

static void test_history_cmd(void **state)
{
	static const struct step bad[] = {
		LIST_STEP,
		{STEP_REPLY, "messages.list", R(2, "{\"messages\":{}}")},
		END,
	};
	/* For people one more than shown is asked for: there are earlier
	 * messages if it comes. */
	static const struct step s[] = {
		LIST_STEP,
		{STEP_REPLY,
		 "\"id\":2,\"method\":\"messages.list\",\"params\":{\"with\":"
		 "\"" ID_A "\",\"limit\":3,\"before\":\"" MSG2 "\"}}",
		 R(2, HISTORY)},
		END,
	};
	static const struct step all[] = {
		LIST_STEP,
		{STEP_REPLY, "\"params\":{\"with\":\"" ID_A "\",\"limit\":51}}",
		 R(2, HISTORY)},
		END,
	};
	struct run r;

	(void)state;
	fake_start(s);
	run_cli(&r, "history", "alice", "-n", "2", "--before", MSG2, NULL);
	assert_int_equal(r.rc, 0);
	assert_false(fk.bad_request);
	assert_string_equal(r.out,
			    "(earlier messages: --before " MSG2 ")\n"
			    "2025-11-27 22:43:18  me     > two\n"
			    "                              lines  [delivered]\n"
			    "2025-11-27 22:43:19  alice  < (re ffeeddcc) "
			    "^[[2Jgotcha<U+202E>\n");
	run_free(&r);
	/* All 3 of 50: no hint. */
	serve(all);
	run_cli(&r, "history", "alice", NULL);
	assert_false(fk.bad_request);
	assert_true(strncmp(r.out, "2025-11-27 22:43:17  alice  < hello\n",
			    36) == 0);
	run_free(&r);
	/* -J: the result as it came, the body's escape as \u001B; the
	 * limit as given. */
	serve(s);
	run_cli(&r, "-J", "history", "-n", "3", "-b", MSG2, "alice", NULL);
	assert_int_equal(r.rc, 0);
	assert_false(fk.bad_request);
	assert_non_null(
		strstr(r.out, "\"body\":\"\\u001B[2Jgotcha\xe2\x80\xae\""));
	assert_null(strchr(r.out, '\x1b'));
	run_free(&r);
	serve(bad);
	run_cli(&r, "history", "alice", NULL);
	assert_int_equal(r.rc, EX_PROTOCOL);
	run_free(&r);
}

static void test_read_typing_cmds(void **state)
{
	static const struct step rd[] = {
		LIST_STEP,
		{STEP_REPLY,
		 "\"method\":\"messages.mark_read\",\"params\":{\"with\":"
		 "\"" ID_A "\",\"up_to\":\"" MSG1 "\"}}",
		 R(2, "{\"marked\":2}")},
		END,
	};
	static const struct step rd1[] = {
		LIST_STEP,
		{STEP_REPLY,
		 "\"method\":\"messages.mark_read\",\"params\":{\"with\":"
		 "\"" ID_B "\"}}",
		 R(2, "{\"marked\":1}")},
		END,
	};
	static const struct step ty[] = {
		LIST_STEP,
		{STEP_REPLY,
		 "\"method\":\"contacts.typing\",\"params\":{\"id\":\"" ID_A
		 "\",\"typing\":true}}",
		 R(2, "{}")},
		END,
	};
	struct run r;

	(void)state;
	fake_start(rd);
	run_cli(&r, "read", "alice", "--up-to", MSG1, NULL);
	assert_int_equal(r.rc, 0);
	assert_false(fk.bad_request);
	assert_string_equal(r.out, "marked 2 messages from alice read\n");
	run_free(&r);
	serve(rd1);
	run_cli(&r, "read", "bob", NULL);
	assert_false(fk.bad_request);
	assert_string_equal(r.out, "marked 1 message from bob read\n");
	run_free(&r);
	serve(ty);
	run_cli(&r, "typing", "parley:" ID_A, "on", NULL);
	assert_int_equal(r.rc, 0);
	assert_false(fk.bad_request);
	assert_string_equal(r.out, "");
	run_free(&r);
}

static void test_settings_cmd(void **state)
{
	static const struct step get[] = {
		{STEP_REPLY, "\"method\":\"settings.get\",\"params\":{}}",
		 R(1, "{\"read_receipts\":true,\"accept_requests\":false}")},
		END,
	};
	static const struct step set[] = {
		{STEP_REPLY,
		 "\"method\":\"settings.set\",\"params\":{\"read_receipts\":"
		 "false,\"accept_requests\":true}}",
		 R(1, "{\"read_receipts\":false,\"accept_requests\":true}")},
		END,
	};
	struct run r;

	(void)state;
	fake_start(get);
	run_cli(&r, "settings", NULL);
	assert_int_equal(r.rc, 0);
	assert_false(fk.bad_request);
	assert_string_equal(r.out, "receipts     on\n"
				   "requests     off\n");
	run_free(&r);
	serve(set);
	run_cli(&r, "-J", "settings", "read-receipts", "off", "accept-requests",
		"on", NULL);
	assert_int_equal(r.rc, 0);
	assert_false(fk.bad_request);
	assert_string_equal(r.out, "{\"read_receipts\":false,"
				   "\"accept_requests\":true}\n");
	run_free(&r);
}

#define VERIFY                                                                 \
	"{\"id\":\"" ID_A "\",\"safety_number\":\"12345 67890 11111 22222 "    \
	"33333 44444 55555 66666 77777 88888 99999 00000\",\"qr\":"            \
	"\"00ff00ff\"}"

static void test_verify_cmd(void **state)
{
	static const struct step s[] = {
		LIST_STEP,
		{STEP_REPLY,
		 "\"method\":\"contacts.verify\",\"params\":{\"id\":\"" ID_A
		 "\"}}",
		 R(2, VERIFY)},
		END,
	};
	struct run r;
	char *qr = NULL;

	(void)state;
	fake_start(s);
	run_cli(&r, "contact", "verify", "alice", NULL);
	assert_int_equal(r.rc, 0);
	assert_false(fk.bad_request);
	assert_true(strncmp(r.out,
			    "Safety number with alice:\n\n"
			    "    12345 67890 11111 22222\n",
			    strlen("Safety number with alice:\n\n    12345 "
				   "67890 11111 22222\n")) == 0);
	run_free(&r);
	serve(s);
	run_cli(&r, "contact", "verify", "--qr", "alice", NULL);
	assert_int_equal(r.rc, 0);
	CAPTURE(qr, cli_print_qr(f, "00ff00ff", false));
	assert_memory_equal(r.out, qr, strlen(qr));
	assert_non_null(strstr(r.out + strlen(qr), "\nSafety number with"));
	free(qr);
	run_free(&r);
	/* --qr is for people; nothing is asked. */
	run_cli(&r, "-J", "contact", "verify", "--qr", "alice", NULL);
	assert_int_equal(r.rc, EX_USAGE);
	run_free(&r);
}

#define EVD(seq, type, data)                                                   \
	"{\"jsonrpc\":\"2.0\",\"method\":\"event\",\"params\":{\"seq\":" #seq  \
	",\"type\":\"" type "\",\"at\":1000,\"data\":" data "}}\n"
#define GOT(seq, from, body)                                                   \
	EVD(seq, "message.received",                                           \
	    "{\"id\":\"" MSG1 "\",\"from\":\"" from "\",\"body\":\"" body      \
	    "\",\"sent_at\":1}")

/* Incoming messages in `events -f`: "NAME: BODY", escaped; names come
 * from contacts.list, asked once per ID not known yet. */
static void test_events_chat(void **state)
{
	/* -J: the events as they are; no names asked. */
	static const struct step j[] = {
		{STEP_REPLY, "events.subscribe",
		 R(1, "{\"last_seq\":0}") GOT(1, ID_A, "hi")},
		END,
	};
	static const struct step s[] = {
		{STEP_REPLY, "events.subscribe",
		 R(1, "{\"last_seq\":0}") GOT(1, ID_A, "hi \\u001b[31mthere")
			 GOT(2, ID_A, "again") GOT(3, ID_Z "x", "who?")},
		{STEP_REPLY, "\"id\":2,\"method\":\"contacts.list\"",
		 R(2, CONTACTS)},
		{STEP_REPLY, "\"id\":3,\"method\":\"contacts.list\"",
		 R(3, CONTACTS) GOT(4, ID_Z "x", "me again")},
		END,
	};
	struct run r;

	(void)state;
	fake_start(s);
	run_cli(&r, "events", "-f", NULL);
	assert_int_equal(r.rc, EX_UNAVAILABLE);
	assert_false(fk.bad_request);
	assert_int_equal(fk.num_req, 3);
	assert_string_equal(
		r.out, "1 1970-01-01T00:00:01.000Z message.received alice: hi "
		       "^[[31mthere\n"
		       "2 1970-01-01T00:00:01.000Z message.received alice: "
		       "again\n"
		       "3 1970-01-01T00:00:01.000Z message.received "
		       "aeaaaaaaaaaa\xe2\x80\xa6: who?\n"
		       "4 1970-01-01T00:00:01.000Z message.received "
		       "aeaaaaaaaaaa\xe2\x80\xa6: me again\n");
	run_free(&r);
	serve(j);
	run_cli(&r, "-J", "events", "-f", NULL);
	assert_int_equal(fk.num_req, 1);
	assert_string_equal(r.out, "{\"seq\":1,\"type\":\"message.received\","
				   "\"at\":1000,\"data\":{\"id\":\"" MSG1
				   "\",\"from\":\"" ID_A "\",\"body\":\"hi\","
				   "\"sent_at\":1}}\n");
	run_free(&r);
}

/* --- usage ------------------------------------------------------------- */

static void expect_usage(int rc, const char *out_has, const char *err_has, ...)
{
	struct run r;
	char *argv[16];
	int argc = 0;
	size_t olen, elen;
	FILE *out, *err;
	va_list ap;
	const char *a;

	argv[argc++] = (char *)"parley";
	va_start(ap, err_has);
	while ((a = va_arg(ap, const char *)) != NULL && argc < 15)
		argv[argc++] = (char *)a;
	va_end(ap);
	argv[argc] = NULL;
	out = open_memstream(&r.out, &olen);
	err = open_memstream(&r.err, &elen);
	r.rc = cli_main(
		argc, argv,
		&(struct cli_env){
			.out = out, .err = err, .out_fd = -1, .daemon_fd = -1});
	fclose(out);
	fclose(err);
	if (r.rc != rc || strstr(r.out, out_has) == NULL ||
	    strstr(r.err, err_has) == NULL)
		fail_msg("%s ...: rc %d, out \"%s\", err \"%s\"", argv[1], r.rc,
			 r.out, r.err);
	run_free(&r);
}

static void test_usage(void **state)
{
	(void)state;
	expect_usage(0, "parley " PACKAGE_VERSION "\n", "", "--version", NULL);
	expect_usage(0, "Commands:", "", "--help", NULL);
	expect_usage(0, "  events ", "", "help", NULL);
	expect_usage(0, "usage: parley id [--qr | --uri]", "", "help", "id",
		     NULL);
	expect_usage(0, "usage: parley rpc", "", "rpc", "--help", NULL);
	expect_usage(EX_USAGE, "", "unknown command 'nope'", "help", "nope",
		     NULL);
	expect_usage(EX_USAGE, "", "no command given", NULL);
	expect_usage(EX_USAGE, "", "unknown command 'frob'", "frob", NULL);
	expect_usage(EX_USAGE, "", "unknown option --frob", "--frob", "status",
		     NULL);
	expect_usage(EX_USAGE, "", "unknown option -x", "-x", "status", NULL);
	expect_usage(EX_USAGE, "", "needs an argument", "--socket", NULL);
	expect_usage(EX_USAGE, "", "--timeout needs", "--timeout", "soon",
		     "status", NULL);
	expect_usage(EX_USAGE, "", "expected METHOD", "rpc", NULL);
	expect_usage(EX_USAGE, "", "expected METHOD", "rpc", "a", "{}", "b",
		     NULL);
	expect_usage(EX_DATAERR, "", "bad JSON params", "rpc", "a", "{", NULL);
	expect_usage(EX_DATAERR, "", "must be a JSON object", "rpc", "a", "[]",
		     NULL);
	expect_usage(EX_USAGE, "", "--since needs", "events", "--since", "-1",
		     NULL);
	expect_usage(EX_USAGE, "", "--since needs", "events", "--since", "12x",
		     NULL);
	expect_usage(EX_USAGE, "", "unknown option -q", "events", "-q", NULL);
	expect_usage(EX_USAGE, "", "no arguments expected", "status", "x",
		     NULL);
	expect_usage(0, "  contact verify CONTACT [--qr]", "", "help",
		     "contact", NULL);
	expect_usage(0, "usage: parley send", "", "send", "--help", NULL);
	expect_usage(0, "usage: parley contact", "", "contact", "add", "-h",
		     NULL);
	expect_usage(EX_USAGE, "", "contact: expected a subcommand", "contact",
		     NULL);
	expect_usage(EX_USAGE, "", "unknown subcommand 'frob'", "contact",
		     "frob", NULL);
	expect_usage(EX_USAGE, "", "add expects one ID", "contact", "add",
		     NULL);
	expect_usage(EX_USAGE, "", "expected one CONTACT", "contact", "block",
		     "a", "b", NULL);
	expect_usage(EX_USAGE, "", "unknown option --nme", "contact", "add",
		     "--nme", "x", ID_A, NULL);
	expect_usage(EX_USAGE, "", "contact add takes no --qr", "contact",
		     "add", "--qr", ID_A, NULL);
	expect_usage(EX_USAGE, "", "send takes no --limit", "send", "--limit",
		     "3", "alice", "hi", NULL);
	expect_usage(EX_USAGE, "", "unknown option -q", "contact", "verify",
		     "-q", "alice", NULL);
	expect_usage(EX_USAGE, "", "list expects no arguments", "contact",
		     "list", "x", NULL);
	expect_usage(EX_USAGE, "", "set needs --name or --receipts", "contact",
		     "set", "alice", NULL);
	expect_usage(EX_USAGE, "", "--receipts takes on, off or default",
		     "contact", "set", "alice", "--receipts", "yes", NULL);
	expect_usage(EX_USAGE, "", "expected CONTACT [TEXT...]", "send", NULL);
	expect_usage(EX_USAGE, "", "--reply-to needs a message id", "send",
		     "--reply-to", "12", "alice", "hi", NULL);
	expect_usage(EX_USAGE, "", "-n needs a number from 1 to 1000",
		     "history", "alice", "-n", "0", NULL);
	expect_usage(EX_USAGE, "", "-n needs", "history", "alice", "-n", "1001",
		     NULL);
	expect_usage(EX_USAGE, "", "--before needs a message id", "history",
		     "alice", "--before", "x", NULL);
	expect_usage(EX_USAGE, "", "expected one CONTACT", "history", NULL);
	expect_usage(EX_USAGE, "", "--up-to needs a message id", "read",
		     "alice", "--up-to", MSG1 "0", NULL);
	expect_usage(EX_USAGE, "", "expected CONTACT on|off", "typing", "alice",
		     "maybe", NULL);
	expect_usage(EX_USAGE, "", "expected CONTACT on|off", "typing", "alice",
		     NULL);
	expect_usage(EX_USAGE, "", "expected SETTING on|off pairs", "settings",
		     "read-receipts", NULL);
	expect_usage(EX_USAGE, "",
		     "settings are read-receipts and "
		     "accept-requests",
		     "settings", "receipts", "on", NULL);
	expect_usage(EX_USAGE, "", "a setting is on or off", "settings",
		     "read-receipts", "yes", NULL);
	/* Global options go before the command. */
	expect_usage(EX_USAGE, "", "unknown option --json", "status", "--json",
		     NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines_split),
		cmocka_unit_test(test_lines_bytewise),
		cmocka_unit_test(test_lines_limit),
		cmocka_unit_test(test_msg_parse),
		cmocka_unit_test(test_msg_parse_bad),
		cmocka_unit_test(test_request_encode),
		cmocka_unit_test(test_params_parse),
		cmocka_unit_test(test_socket_path),
		cmocka_unit_test(test_connect_too_long),
		cmocka_unit_test(test_fmt),
		cmocka_unit_test(test_print_status),
		cmocka_unit_test(test_print_identity_event),
		cmocka_unit_test(test_qr),
		cmocka_unit_test_setup_teardown(test_no_daemon, fake_setup,
						fake_teardown),
		cmocka_unit_test_setup_teardown(test_status, fake_setup,
						fake_teardown),
		cmocka_unit_test_setup_teardown(test_status_json, fake_setup,
						fake_teardown),
		cmocka_unit_test_setup_teardown(test_id, fake_setup,
						fake_teardown),
		cmocka_unit_test_setup_teardown(test_id_qr_uri, fake_setup,
						fake_teardown),
		cmocka_unit_test_setup_teardown(test_id_uri_only, fake_setup,
						fake_teardown),
		cmocka_unit_test_setup_teardown(test_rpc, fake_setup,
						fake_teardown),
		cmocka_unit_test_setup_teardown(test_rpc_big_request,
						fake_setup, fake_teardown),
		cmocka_unit_test_setup_teardown(test_rpc_controls_escaped,
						fake_setup, fake_teardown),
		cmocka_unit_test_setup_teardown(test_rpc_json_scalar_result,
						fake_setup, fake_teardown),
		cmocka_unit_test_setup_teardown(test_rpc_error, fake_setup,
						fake_teardown),
		cmocka_unit_test_setup_teardown(test_rpc_error_json, fake_setup,
						fake_teardown),
		cmocka_unit_test_setup_teardown(
			test_rpc_parse_error_is_software, fake_setup,
			fake_teardown),
		cmocka_unit_test(test_malformed_replies),
		cmocka_unit_test_setup_teardown(test_closed_without_answer,
						fake_setup, fake_teardown),
		cmocka_unit_test_setup_teardown(test_oversized_reply,
						fake_setup, fake_teardown),
		cmocka_unit_test_setup_teardown(test_timeout, fake_setup,
						fake_teardown),
		cmocka_unit_test_setup_teardown(test_events_replay, fake_setup,
						fake_teardown),
		cmocka_unit_test_setup_teardown(test_events_nothing_new,
						fake_setup, fake_teardown),
		cmocka_unit_test_setup_teardown(test_events_overflow_filter,
						fake_setup, fake_teardown),
		cmocka_unit_test_setup_teardown(test_events_pruned, fake_setup,
						fake_teardown),
		cmocka_unit_test_setup_teardown(test_events_follow, fake_setup,
						fake_teardown),
		cmocka_unit_test_setup_teardown(test_events_reader_gone,
						fake_setup, fake_teardown),
		cmocka_unit_test(test_socket_too_long),
		cmocka_unit_test_setup_teardown(test_events_bad_event,
						fake_setup, fake_teardown),
		cmocka_unit_test_setup_teardown(test_usage, fake_setup,
						fake_teardown),
		cmocka_unit_test(test_contact_id_norm),
		cmocka_unit_test(test_contact_resolve),
		cmocka_unit_test(test_contact_names),
		cmocka_unit_test(test_put_text),
		cmocka_unit_test(test_put_text_property),
		cmocka_unit_test(test_print_contacts),
		cmocka_unit_test(test_print_history),
		cmocka_unit_test(test_print_safety),
		cmocka_unit_test(test_print_chat_events),
		cmocka_unit_test_setup_teardown(test_contact_list_cmd,
						fake_setup, fake_teardown),
		cmocka_unit_test_setup_teardown(test_contact_add_cmd,
						fake_setup, fake_teardown),
		cmocka_unit_test_setup_teardown(test_contact_accept_by_name,
						fake_setup, fake_teardown),
		cmocka_unit_test_setup_teardown(test_contact_unknown,
						fake_setup, fake_teardown),
		cmocka_unit_test_setup_teardown(test_send_args, fake_setup,
						fake_teardown),
		cmocka_unit_test_setup_teardown(test_send_stdin, fake_setup,
						fake_teardown),
		cmocka_unit_test_setup_teardown(test_send_error, fake_setup,
						fake_teardown),
		cmocka_unit_test_setup_teardown(test_history_cmd, fake_setup,
						fake_teardown),
		cmocka_unit_test_setup_teardown(test_read_typing_cmds,
						fake_setup, fake_teardown),
		cmocka_unit_test_setup_teardown(test_settings_cmd, fake_setup,
						fake_teardown),
		cmocka_unit_test_setup_teardown(test_verify_cmd, fake_setup,
						fake_teardown),
		cmocka_unit_test_setup_teardown(test_events_chat, fake_setup,
						fake_teardown),
	};

	/* History and contact tables show local time: make it UTC. */
	setenv("TZ", "UTC", 1);
	tzset();

	return cmocka_run_group_tests_name("cli", tests, NULL, NULL);
}
