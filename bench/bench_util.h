/* Small helpers shared by the benchmarks that drive real daemons over
 * their Unix sockets.  Header-only; benchmarks are single files. */
#ifndef PARLEY_BENCH_UTIL_H
#define PARLEY_BENCH_UTIL_H

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Fills out[0..n) with text a person might type: words of 1 to 9
 * lowercase letters between single spaces, from a fixed-seed generator
 * (xorshift32), so that every run and both harnesses send the same
 * bytes.  Not one letter repeated: zstd would shrink that to nothing and
 * flatter a store that compresses, which English text does not allow
 * (this text compresses about as much: to roughly 60 %).  JSON-safe. */
static inline void bu_text_body(char *out, size_t n, unsigned seed)
{
	unsigned x = seed != 0 ? seed : 2463534242u;
	size_t word = 0;

	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		if (word == 0) {
			word = 1 + x % 9;
			if (i > 0) {
				out[i] = ' ';
				continue;
			}
		}
		out[i] = (char)('a' + (x >> 8) % 26);
		word--;
	}
}

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

/* Starts parleyd with its data in data_dir, its socket at sock, UDP on
 * listen and, if boot is not NULL, joining through boot; log level warn.
 * 0 or -1. */
static inline int bu_start_parleyd(const char *parleyd, const char *data_dir,
				   const char *sock, const char *listen,
				   const char *boot)
{
	char *args[12];
	int k = 0;

	args[k++] = (char *)parleyd;
	args[k++] = "--data-dir";
	args[k++] = (char *)data_dir;
	args[k++] = "--socket";
	args[k++] = (char *)sock;
	args[k++] = "--listen";
	args[k++] = (char *)listen;
	args[k++] = "--log-level";
	args[k++] = "warn";
	if (boot != NULL) {
		args[k++] = "--bootstrap";
		args[k++] = (char *)boot;
	}
	args[k] = NULL;
	return bu_start_daemon(args);
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

/* The number after "NAME:" in /proc/PID/status (kB for the Vm lines),
 * or -1. */
static inline long bu_proc_status(int pid, const char *name)
{
	char path[64], line[256];
	size_t len = strlen(name);
	long v = -1;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%d/status", pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof line, f) != NULL)
		if (strncmp(line, name, len) == 0 && line[len] == ':')
			v = strtol(line + len + 1, NULL, 10);
	fclose(f);
	return v;
}

/* utime + stime of process pid (all its threads) in microseconds, from
 * /proc/PID/stat (kernel clock ticks, so 10 ms steps), or -1. */
static inline long bu_proc_cpu_us(int pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut, st;
	long hz = sysconf(_SC_CLK_TCK);
	FILE *f;
	size_t n;

	snprintf(path, sizeof path, "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* Fields after the command name, which may hold spaces and ')':
	 * state is the 3rd field, utime the 14th, stime the 15th. */
	p = strrchr(buf, ')');
	if (p == NULL || hz <= 0 ||
	    sscanf(p + 1,
		   " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut,
		   &st) != 2)
		return -1;
	return (long)((ut + st) * (1000000UL / (unsigned long)hz));
}

/* Context switches (voluntary + involuntary) of every thread of process
 * pid, from /proc/PID/task/TID/status; each one is a wake-up.  -1 if the
 * process is gone. */
static inline long bu_proc_wakeups(int pid)
{
	char path[64];
	struct dirent *e;
	long sum = 0, v, iv;
	DIR *d;

	snprintf(path, sizeof path, "/proc/%d/task", pid);
	d = opendir(path);
	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		int tid = (int)strtol(e->d_name, NULL, 10);
		char p2[96], line[256];
		FILE *f;

		if (tid <= 0)
			continue;
		snprintf(p2, sizeof p2, "/proc/%d/task/%d/status", pid, tid);
		f = fopen(p2, "r");
		if (f == NULL)
			continue;
		v = iv = 0;
		while (fgets(line, sizeof line, f) != NULL) {
			if (strncmp(line, "voluntary_ctxt_switches:", 24) == 0)
				v = strtol(line + 24, NULL, 10);
			else if (strncmp(line, "nonvoluntary_ctxt_switches:",
					 27) == 0)
				iv = strtol(line + 27, NULL, 10);
		}
		fclose(f);
		sum += v + iv;
	}
	closedir(d);
	return sum;
}

#endif
