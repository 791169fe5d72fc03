/* cli/conn.h: the client end of the daemon's Unix socket.
 *
 * Blocking I/O with a deadline: every wait goes through poll(), EINTR is
 * retried, short writes are continued, and writes never raise SIGPIPE. */
#ifndef PARLEY_CLI_CONN_H
#define PARLEY_CLI_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cli/lines.h"

/* Room for any socket path: sizeof(struct sockaddr_un.sun_path) is 108 on
 * Linux; longer paths are refused with -ENAMETOOLONG. */
#define CLI_PATH_MAX 4096

/* Chooses the socket path, first match wins: opt (--socket), env_sock
 * ($PARLEY_SOCKET), xdg ($XDG_RUNTIME_DIR) + "/parley/parley.sock",
 * "/tmp/parley-UID/parley.sock".  NULL or empty strings count as unset.
 * Returns 0, or -ENAMETOOLONG when the result does not fit in buf. */
int cli_socket_path(char *buf, size_t size, const char *opt,
		    const char *env_sock, const char *xdg, uid_t uid);

/* Connects a stream socket to path.  Returns 0 and *fd, or -errno
 * (-ENAMETOOLONG when path does not fit in sun_path; -ENOENT,
 * -ECONNREFUSED when no daemon listens there; -EACCES...). */
int cli_connect_unix(const char *path, int *fd);

/* Writes all len bytes, retrying on EINTR and after short writes.  Never
 * raises SIGPIPE.  Returns 0 or -errno (-EPIPE: the daemon went away). */
int cli_write_all(int fd, const void *buf, size_t len);

/* Milliseconds on the monotonic clock, for deadlines. */
uint64_t cli_now_ms(void);

/* Reads until l holds a whole line and returns it as cli_lines_next()
 * does.  deadline_ms is a cli_now_ms() instant, or 0 to wait forever.
 * watch_fd, if >= 0, is polled for errors only: when it reports POLLERR or
 * POLLHUP (the reader of our stdout went away) the call returns -EPIPE.
 * Returns 1 with *line and *len, -ETIMEDOUT, -ECONNRESET when the daemon
 * closed the connection (also in the middle of a line), -E2BIG when a line
 * exceeds l->max, -ENOMEM, or another -errno from read(). */
int cli_read_line(int fd, struct cli_lines *l, uint64_t deadline_ms,
		  int watch_fd, const char **line, size_t *len);

#endif
