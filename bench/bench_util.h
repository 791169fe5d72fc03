/* Small helpers shared by the benchmarks that drive real daemons over
 * their Unix sockets.  Header-only; benchmarks are single files. */
#ifndef PARLEY_BENCH_UTIL_H
#define PARLEY_BENCH_UTIL_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static inline double bu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline int bu_dial(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || strlen(path) >= sizeof sa.sun_path)
		return -1;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static inline int bu_write_all(int fd, const char *p, size_t n)
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

/* Reads one line into buf (NUL-terminated, newline dropped).  Bytes past
 * the line are kept in *carry for the next call.  Returns the length or
 * -1.  Simple and only for request/answer benchmarks. */
struct bu_reader {
	int fd;
	char buf[1 << 16];
	size_t len;
};

static inline int bu_read_line(struct bu_reader *r, char *out, size_t max)
{
	for (;;) {
		char *nl = memchr(r->buf, '\n', r->len);
		ssize_t n;

		if (nl != NULL) {
			size_t k = (size_t)(nl - r->buf);

			if (k >= max)
				k = max - 1;
			memcpy(out, r->buf, k);
			out[k] = '\0';
			r->len -= (size_t)(nl - r->buf) + 1;
			memmove(r->buf, nl + 1, r->len);
			return (int)k;
		}
		if (r->len == sizeof r->buf)
			return -1;
		n = read(r->fd, r->buf + r->len, sizeof r->buf - r->len);
		if (n <= 0)
			return -1;
		r->len += (size_t)n;
	}
}

static inline int bu_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* p-th percentile (0..100) of n sorted values. */
static inline double bu_pct(const double *v, size_t n, double p)
{
	size_t i = (size_t)((double)(n - 1) * p / 100.0 + 0.5);

	return n == 0 ? 0 : v[i];
}

/* Starts parleyd with argv (NULL-terminated, argv[0] the binary); it
 * detaches once it serves.  0 or -1. */
static inline int bu_start_daemon(char *const argv[])
{
	pid_t child = fork();
	int st;

	if (child == 0) {
		execv(argv[0], argv);
		_exit(127);
	}
	if (child < 0 || waitpid(child, &st, 0) < 0 || !WIFEXITED(st) ||
	    WEXITSTATUS(st) != 0)
		return -1;
	return 0;
}

/* The integer after "KEY": in line, or -1. */
static inline long bu_field_long(const char *line, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof pat, "\"%s\":", key);
	p = strstr(line, pat);
	return p != NULL ? strtol(p + strlen(pat), NULL, 10) : -1;
}

#endif
