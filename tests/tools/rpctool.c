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
	if (strcmp(argv[2], "hold") == 0 && argc == 4) {
		write_all(fd, "{\"jsonrpc\":\"2.0\",\"id\":1,", 24);
		sleep((unsigned)strtoul(argv[3], NULL, 10));
		return 0;
	}
usage:
	fprintf(stderr, "usage: rpctool SOCK send|pipeline N M|concurrent C N"
			"|slow N|hold S\n");
	return 2;
}
