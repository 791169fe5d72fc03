/* cli/conn.c: socket path, connect, and deadline-bound reads and writes
 * for the parley command.  This is the only file of cli/ that touches the
 * socket; the rest sees lines and parsed messages. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cli/conn.h"

int cli_socket_path(char *buf, size_t size, const char *opt,
		    const char *env_sock, const char *xdg, uid_t uid)
{
	int n;

	if (opt != NULL && opt[0] != '\0')
		n = snprintf(buf, size, "%s", opt);
	else if (env_sock != NULL && env_sock[0] != '\0')
		n = snprintf(buf, size, "%s", env_sock);
	else if (xdg != NULL && xdg[0] != '\0')
		n = snprintf(buf, size, "%s/parley/parley.sock", xdg);
	else
		n = snprintf(buf, size, "/tmp/parley-%lu/parley.sock",
			     (unsigned long)uid);
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	return 0;
}

int cli_connect_unix(const char *path, int *fd)
{
	struct sockaddr_un sun;
	size_t n = strlen(path);
	int s, r;

	*fd = -1;
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	/* sun_path needs its terminating NUL on some systems; keep it. */
	if (n == 0 || n >= sizeof sun.sun_path)
		return -ENAMETOOLONG;
	memcpy(sun.sun_path, path, n);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	do {
		r = connect(s, (struct sockaddr *)&sun, sizeof sun);
	} while (r < 0 && errno == EINTR);
	if (r < 0) {
		r = -errno;
		close(s);
		return r;
	}
	*fd = s;
	return 0;
}

int cli_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		/* MSG_NOSIGNAL: EPIPE instead of SIGPIPE when parleyd died. */
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

uint64_t cli_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Waits until fd is readable.  Returns 0, -ETIMEDOUT, -EPIPE (watch_fd
 * failed) or -errno. */
static int wait_readable(int fd, uint64_t deadline_ms, int watch_fd)
{
	struct pollfd pfd[2];
	uint64_t now;
	int timeout, r;

	for (;;) {
		timeout = -1;
		if (deadline_ms != 0) {
			now = cli_now_ms();
			if (now >= deadline_ms)
				return -ETIMEDOUT;
			timeout = deadline_ms - now > 86400000u
					  ? 86400000
					  : (int)(deadline_ms - now);
		}
		pfd[0] = (struct pollfd){.fd = fd, .events = POLLIN};
		pfd[1] = (struct pollfd){.fd = watch_fd, .events = 0};
		r = poll(pfd, watch_fd >= 0 ? 2 : 1, timeout);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (watch_fd >= 0 &&
		    (pfd[1].revents & (POLLERR | POLLHUP | POLLNVAL)))
			return -EPIPE;
		/* POLLHUP and POLLERR on the socket: read() tells which. */
		if (pfd[0].revents != 0)
			return 0;
	}
}

int cli_read_line(int fd, struct cli_lines *l, uint64_t deadline_ms,
		  int watch_fd, const char **line, size_t *len)
{
	char chunk[65536];
	ssize_t n;
	int r;

	for (;;) {
		r = cli_lines_next(l, line, len);
		if (r != 0)
			return r;
		if ((r = wait_readable(fd, deadline_ms, watch_fd)) < 0)
			return r;
		n = read(fd, chunk, sizeof chunk);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return errno == ECONNRESET ? -ECONNRESET : -errno;
		}
		if (n == 0)
			return -ECONNRESET;
		if ((r = cli_lines_feed(l, chunk, (size_t)n)) < 0)
			return r;
	}
}
