/* rpctool: a raw client of parleyd's socket for the integration tests.
 * It knows nothing of JSON beyond finding "id" values; it exists so tests
 * can send what the CLI never would.
 *
 *   rpctool SOCK send            stdin bytes as they are, then shut down
 *                                the sending side and print every line
 *                                received until the daemon closes (10 s
 *                                at most)
 *   rpctool SOCK pipeline N M    N requests for method M written at once;
 *                                checks N answers come back with ids
 *                                1..N in order; prints "ok N"
 *   rpctool SOCK concurrent C N  C connections at once, each sending N
 *                                requests one at a time; prints "ok C*N"
 *   rpctool SOCK slow N          sends N requests without reading any
 *                                answer, then reads them all; "ok N"
 *   rpctool SOCK hold S          connects, writes half a request, holds
 *                                the connection S seconds, exits 0
 *   rpctool SOCK wait TYPE SINCE subscribes to TYPE events after SINCE and
 *                                prints the first one (10 s at most)
 *   rpctool SOCK sendmany TO PFX FIRST COUNT
 *                                messages.send to contact TO of bodies
 *                                PFX<k> for k = FIRST.., pipelined (at
 *                                most 200 unanswered); prints "sent K"
 *                                with K the last k whose send was answered
 *                                (also when the daemon goes away midway:
 *                                exit 3 then)
 *   rpctool SOCK history WITH    every message of the conversation, oldest
 *                                first, one "DIR ID BODY" line each (pages
 *                                through messages.list)
 *   rpctool PATH notify CMD...   binds a datagram socket at PATH, runs
 *                                CMD with NOTIFY_SOCKET=PATH, waits for
 *                                READY=1, then SIGTERMs CMD and waits for
 *                                it to exit 0
 * Exit status 0 on success, 1 on a failed check, 2 on usage/connect. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define LINE_MAX_BYTES (64 * 1024 * 1024)

static int dial(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof sa.sun_path)
		return -1;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

struct reader {
	int fd;
	char *buf;
	size_t len, cap;
	char *line; /* the last line returned */
};

static void reader_free(struct reader *r)
{
	free(r->buf);
	free(r->line);
	r->buf = r->line = NULL;
}

/* Reads one line (without newline) into *line (valid until the next
 * call); timeout_ms < 0 waits forever.  1 line, 0 EOF/timeout, -1 error. */
static int read_line(struct reader *r, char **line, size_t *line_len,
		     int timeout_ms)
{
	for (;;) {
		char *nl = r->len > 0 ? memchr(r->buf, '\n', r->len) : NULL;
		struct pollfd p = {.fd = r->fd, .events = POLLIN};
		ssize_t n;

		if (nl != NULL) {
			size_t k = (size_t)(nl - r->buf);

			free(r->line);
			r->line = malloc(k + 1);
			if (r->line == NULL)
				return -1;
			memcpy(r->line, r->buf, k);
			r->line[k] = '\0';
			memmove(r->buf, nl + 1, r->len - k - 1);
			r->len -= k + 1;
			*line = r->line;
			*line_len = k;
			return 1;
		}
		if (r->len == r->cap) {
			size_t cap = r->cap ? r->cap * 2 : 65536;
			char *b;

			if (cap > LINE_MAX_BYTES)
				return -1;
			b = realloc(r->buf, cap);
			if (b == NULL)
				return -1;
			r->buf = b;
			r->cap = cap;
		}
		if (poll(&p, 1, timeout_ms) == 0)
			return 0;
		n = read(r->fd, r->buf + r->len, r->cap - r->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			return 0;
		r->len += (size_t)n;
	}
}

/* The integer after "id": in a response line, or -1. */
static long response_id(const char *line)
{
	const char *p = strstr(line, "\"id\":");

	if (p == NULL || strstr(line, "\"result\"") == NULL)
		return -1;
	return strtol(p + 5, NULL, 10);
}

static int cmd_send(int fd)
{
	struct reader r = {.fd = fd};
	char buf[65536];
	char *line;
	size_t len;
	ssize_t n;

	while ((n = read(0, buf, sizeof buf)) > 0)
		if (write_all(fd, buf, (size_t)n) < 0)
			return 1;
	shutdown(fd, SHUT_WR);
	while (read_line(&r, &line, &len, 10000) == 1)
		printf("%s\n", line);
	reader_free(&r);
	return 0;
}

static char *make_requests(const char *method, long first, long n,
			   size_t *len)
{
	size_t cap = (size_t)n * (strlen(method) + 64) + 1;
	char *buf = malloc(cap);
	size_t off = 0;

	if (buf == NULL)
		return NULL;
	for (long i = 0; i < n; i++)
		off += (size_t)snprintf(buf + off, cap - off,
					"{\"jsonrpc\":\"2.0\",\"id\":%ld,"
					"\"method\":\"%s\"}\n",
					first + i, method);
	*len = off;
	return buf;
}

static int expect_answers(struct reader *r, long first, long n)
{
	char *line;
	size_t len;

	for (long i = 0; i < n; i++) {
		if (read_line(r, &line, &len, 20000) != 1) {
			fprintf(stderr, "rpctool: answer %ld of %ld missing\n",
				i + 1, n);
			return 1;
		}
		if (response_id(line) != first + i) {
			fprintf(stderr, "rpctool: expected id %ld, got: %.200s\n",
				first + i, line);
			return 1;
		}
	}
	return 0;
}

static int cmd_pipeline(int fd, long n, const char *method)
{
	struct reader r = {.fd = fd};
	size_t len;
	char *reqs = make_requests(method, 1, n, &len);
	pid_t pid;
	int st = 1;

	if (reqs == NULL)
		return 1;
	/* Write from a child so a full socket buffer cannot deadlock us. */
	pid = fork();
	if (pid == 0)
		_exit(write_all(fd, reqs, len) < 0 ? 1 : 0);
	st = expect_answers(&r, 1, n);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	reader_free(&r);
	free(reqs);
	if (st == 0)
		printf("ok %ld\n", n);
	return st;
}

static int cmd_concurrent(const char *path, long c, long n)
{
	int *fds = calloc((size_t)c, sizeof *fds);
	struct reader *rs = calloc((size_t)c, sizeof *rs);

	if (fds == NULL || rs == NULL)
		return 1;
	for (long i = 0; i < c; i++) {
		fds[i] = dial(path);
		if (fds[i] < 0) {
			fprintf(stderr, "rpctool: connection %ld: %s\n", i,
				strerror(errno));
			return 1;
		}
		rs[i].fd = fds[i];
	}
	/* Round-robin: every connection has one request in flight. */
	for (long k = 0; k < n; k++) {
		for (long i = 0; i < c; i++) {
			size_t len;
			char *req = make_requests("node.status", k + 1, 1,
						  &len);

			if (req == NULL || write_all(fds[i], req, len) < 0)
				return 1;
			free(req);
		}
		for (long i = 0; i < c; i++)
			if (expect_answers(&rs[i], k + 1, 1) != 0)
				return 1;
	}
	for (long i = 0; i < c; i++) {
		reader_free(&rs[i]);
		close(fds[i]);
	}
	free(rs);
	free(fds);
	printf("ok %ld\n", c * n);
	return 0;
}

static int cmd_slow(int fd, long n)
{
	struct reader r = {.fd = fd};
	size_t len;
	char *reqs = make_requests("identity.get", 1, n, &len);
	pid_t pid;
	int st;

	if (reqs == NULL)
		return 1;
	pid = fork();
	if (pid == 0)
		_exit(write_all(fd, reqs, len) < 0 ? 1 : 0);
	sleep(1); /* let the daemon hit its read-stop limit */
	st = expect_answers(&r, 1, n);
	kill(pid, SIGKILL); /* a writer stuck on a dead daemon */
	waitpid(pid, NULL, 0);
	reader_free(&r);
	if (st == 0)
		printf("ok %ld\n", n);
	free(reqs);
	return st;
}

static int cmd_wait(int fd, const char *type, const char *since)
{
	struct reader r = {.fd = fd};
	char req[512];
	char *line;
	size_t len;
	int n;

	n = snprintf(req, sizeof req,
		     "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
		     "\"events.subscribe\",\"params\":{\"types\":[\"%s\"],"
		     "\"since\":%s}}\n",
		     type, since);
	if (write_all(fd, req, (size_t)n) < 0)
		return 1;
	while (read_line(&r, &line, &len, 10000) == 1) {
		if (strstr(line, "\"method\":\"event\"") != NULL) {
			printf("%s\n", line);
			reader_free(&r);
			return 0;
		}
	}
	reader_free(&r);
	fprintf(stderr, "rpctool: no %s event within 10 s\n", type);
	return 1;
}

static int cmd_sendmany(int fd, const char *to, const char *pfx, long first,
			long count)
{
	struct reader r = {.fd = fd};
	long next = first, answered = first - 1, end = first + count;
	char req[512], *line;
	size_t len;
	int st = 0;

	while (answered + 1 < end) {
		while (next < end && next - answered <= 200) {
			int n = snprintf(req, sizeof req,
					 "{\"jsonrpc\":\"2.0\",\"id\":%ld,"
					 "\"method\":\"messages.send\",\"params\":"
					 "{\"to\":\"%s\",\"body\":\"%s%ld\"}}\n",
					 next, to, pfx, next);

			if (write_all(fd, req, (size_t)n) < 0) {
				st = 3;
				goto out;
			}
			next++;
		}
		if (read_line(&r, &line, &len, 30000) != 1) {
			st = 3;
			goto out;
		}
		if (response_id(line) != answered + 1) {
			fprintf(stderr, "rpctool: unexpected answer: %.200s\n",
				line);
			st = 1;
			goto out;
		}
		answered++;
	}
out:
	reader_free(&r);
	printf("sent %ld\n", answered);
	return st;
}

/* The string value of "key":"..." at or after p; copies at most max - 1
 * bytes into out.  Returns the position after it, or NULL. */
static const char *str_field(const char *p, const char *key, char *out,
			     size_t max)
{
	char pat[64];
	const char *q, *e;

	snprintf(pat, sizeof pat, "\"%s\":\"", key);
	if ((q = strstr(p, pat)) == NULL)
		return NULL;
	q += strlen(pat);
	if ((e = strchr(q, '"')) == NULL)
		return NULL;
	if ((size_t)(e - q) >= max)
		return NULL;
	memcpy(out, q, (size_t)(e - q));
	out[e - q] = '\0';
	return e + 1;
}

static int cmd_history(int fd, const char *with)
{
	struct reader r = {.fd = fd};
	char before[40] = "", req[512], *line;
	char (*lines)[128] = NULL;
	size_t len, n = 0, cap = 0;
	int st = 0;

	for (;;) {
		const char *p;
		size_t page = 0, mark = n;
		int k;

		k = snprintf(req, sizeof req,
			     "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
			     "\"messages.list\",\"params\":{\"with\":\"%s\","
			     "\"limit\":1000%s%s%s}}\n",
			     with, before[0] ? ",\"before\":\"" : "", before,
			     before[0] ? "\"" : "");
		if (write_all(fd, req, (size_t)k) < 0 ||
		    read_line(&r, &line, &len, 30000) != 1 ||
		    strstr(line, "\"messages\":[") == NULL) {
			st = 1;
			break;
		}
		p = strstr(line, "\"messages\":[");
		for (;;) {
			char id[40], dir[8], body[64];
			const char *q = str_field(p, "id", id, sizeof id);

			if (q == NULL || str_field(q, "dir", dir, sizeof dir) ==
					     NULL ||
			    str_field(q, "body", body, sizeof body) == NULL)
				break;
			if (n == cap) {
				cap = cap ? cap * 2 : 1024;
				lines = realloc(lines, cap * sizeof *lines);
				if (lines == NULL)
					return 1;
			}
			snprintf(lines[n++], sizeof lines[0], "%s %s %s", dir,
				 id, body);
			page++;
			p = strstr(q, "\"body\":\"");
			p = strchr(p + 8, '"') + 1;
		}
		if (page == 0)
			break;
		/* this page is older than what we have: move it in front */
		{
			char (*tmp)[128] = malloc(page * sizeof *tmp);

			if (tmp == NULL)
				return 1;
			memcpy(tmp, lines + mark, page * sizeof *tmp);
			memmove(lines + page, lines, mark * sizeof *lines);
			memcpy(lines, tmp, page * sizeof *tmp);
			free(tmp);
		}
		memcpy(before, lines[0] + (lines[0][0] == 'i' ? 3 : 4), 32);
		before[32] = '\0';
		if (page < 1000)
			break;
	}
	for (size_t i = 0; i < n; i++)
		printf("%s\n", lines[i]);
	free(lines);
	reader_free(&r);
	return st;
}

static int cmd_notify(const char *path, char **cmd)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct pollfd p;
	char buf[256];
	ssize_t n;
	pid_t pid;
	int fd, st;

	if (strlen(path) >= sizeof sa.sun_path)
		return 2;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		return 2;
	pid = fork();
	if (pid == 0) {
		setenv("NOTIFY_SOCKET", path, 1);
		execv(cmd[0], cmd);
		_exit(127);
	}
	p = (struct pollfd){.fd = fd, .events = POLLIN};
	if (poll(&p, 1, 10000) != 1) {
		fprintf(stderr, "rpctool: no notification within 10 s\n");
		kill(pid, SIGKILL);
		return 1;
	}
	n = recv(fd, buf, sizeof buf - 1, 0);
	buf[n > 0 ? n : 0] = '\0';
	kill(pid, SIGTERM);
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) ||
	    WEXITSTATUS(st) != 0) {
		fprintf(stderr, "rpctool: daemon did not exit cleanly\n");
		return 1;
	}
	if (strstr(buf, "READY=1") == NULL) {
		fprintf(stderr, "rpctool: got '%s', not READY=1\n", buf);
		return 1;
	}
	unlink(path);
	return 0;
}

int main(int argc, char **argv)
{
	int fd;

	if (argc < 3)
		goto usage;
	if (strcmp(argv[2], "notify") == 0 && argc >= 4)
		return cmd_notify(argv[1], argv + 3);
	if (strcmp(argv[2], "concurrent") == 0 && argc == 5)
		return cmd_concurrent(argv[1], atol(argv[3]), atol(argv[4]));
	fd = dial(argv[1]);
	if (fd < 0) {
		fprintf(stderr, "rpctool: cannot connect to %s: %s\n", argv[1],
			strerror(errno));
		return 2;
	}
	if (strcmp(argv[2], "send") == 0 && argc == 3)
		return cmd_send(fd);
	if (strcmp(argv[2], "pipeline") == 0 && argc == 5)
		return cmd_pipeline(fd, atol(argv[3]), argv[4]);
	if (strcmp(argv[2], "slow") == 0 && argc == 4)
		return cmd_slow(fd, atol(argv[3]));
	if (strcmp(argv[2], "wait") == 0 && argc == 5)
		return cmd_wait(fd, argv[3], argv[4]);
	if (strcmp(argv[2], "sendmany") == 0 && argc == 7)
		return cmd_sendmany(fd, argv[3], argv[4], atol(argv[5]),
				    atol(argv[6]));
	if (strcmp(argv[2], "history") == 0 && argc == 4)
		return cmd_history(fd, argv[3]);
	if (strcmp(argv[2], "hold") == 0 && argc == 4) {
		write_all(fd, "{\"jsonrpc\":\"2.0\",\"id\":1,", 24);
		sleep((unsigned)strtoul(argv[3], NULL, 10));
		return 0;
	}
usage:
	fprintf(stderr, "usage: rpctool SOCK send|pipeline N M|concurrent C N"
			"|slow N|hold S|wait T S|sendmany TO P F N|history W\n");
	return 2;
}
