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
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sysexits.h>
#include <unistd.h>

#include <cmocka.h>
#include <qrencode.h>

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
			"\"ab\",\"relay_mode\":\"off\"}",
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
				 "relay mode   off\n");
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

/* Runs `parley -s SOCKET ARGS...` (NULL-terminated) in-process. */
static void run_cli(struct run *r, ...)
{
	char *argv[32];
	int argc = 0;
	size_t olen, elen;
	FILE *out, *err;
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
	assert_non_null(out);
	assert_non_null(err);
	r->rc = cli_main(
		argc, argv,
		&(struct cli_env){
			.out = out, .err = err, .out_fd = -1, .daemon_fd = -1});
	fclose(out);
	fclose(err);
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
	};

	return cmocka_run_group_tests_name("cli", tests, NULL, NULL);
}
