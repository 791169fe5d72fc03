/* OS services for the daemon (see sys_os.h).  Nothing here is reached by
 * the sans-I/O core; it gets a struct clock instead. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "node/sys_os.h"

static uint64_t clock_mono(void *self)
{
	return uv_now((uv_loop_t *)self);
}

static uint64_t clock_wall(void *self)
{
	struct timespec ts;

	(void)self;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void sys_clock_init(struct clock *c, uv_loop_t *loop)
{
	c->mono_ms = clock_mono;
	c->wall_ms = clock_wall;
	c->self = loop;
}

int sys_read_file(const char *path, size_t max, uint8_t **out, size_t *len)
{
	struct stat st;
	uint8_t *buf = NULL;
	size_t got = 0;
	int fd, r = 0;

	*out = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out;
	}
	if ((uint64_t)st.st_size > max) {
		r = -E2BIG;
		goto out;
	}
	buf = malloc(max + 1);
	if (buf == NULL) {
		r = -ENOMEM;
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, buf + got, max + 1 - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
		if (got > max) {
			r = -E2BIG;
			goto out;
		}
	}
	buf[got] = 0;
	*out = buf;
	*len = got;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return r;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int sys_write_file_atomic(const char *path, const void *data, size_t len,
			  unsigned mode)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	char *slash;
	int fd, dfd, r;

	if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp ||
	    snprintf(dir, sizeof dir, "%s", path) >= (int)sizeof dir)
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	if (fchmod(fd, mode) < 0 || (r = write_all(fd, data, len)) < 0 ||
	    fsync(fd) < 0) {
		r = -errno;
		close(fd);
		unlink(tmp);
		return r != 0 ? r : -EIO;
	}
	if (close(fd) < 0 || rename(tmp, path) < 0) {
		r = -errno;
		unlink(tmp);
		return r;
	}
	slash = strrchr(dir, '/');
	if (slash != NULL)
		*(slash == dir ? slash + 1 : slash) = '\0';
	else
		memcpy(dir, ".", 2);
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

int sys_mkdir_p(const char *path, unsigned mode)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof buf)
		return -ENAMETOOLONG;
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int sys_lock_dir(const char *dir, int *fd_out)
{
	char path[PATH_MAX];
	int fd;

	*fd_out = -1;
	if (snprintf(path, sizeof path, "%s/lock", dir) >= (int)sizeof path)
		return -ENAMETOOLONG;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;

		close(fd);
		return e == EWOULDBLOCK ? -EBUSY : -e;
	}
	*fd_out = fd;
	return 0;
}

int sys_notify(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	socklen_t sa_len;
	size_t n;
	int fd, r = 0;

	if (path == NULL || *path == '\0')
		return 0;
	n = strlen(path);
	if (n >= sizeof sa.sun_path || (path[0] != '/' && path[0] != '@'))
		return -EINVAL;
	memcpy(sa.sun_path, path, n);
	if (path[0] == '@')
		sa.sun_path[0] = '\0'; /* abstract namespace */
	sa_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (sendto(fd, state, strlen(state), MSG_NOSIGNAL,
		   (struct sockaddr *)&sa, sa_len) < 0)
		r = -errno;
	close(fd);
	return r;
}

static char *join(const char *a, const char *b)
{
	size_t n = strlen(a) + strlen(b) + 1;
	char *s = malloc(n);

	if (s != NULL)
		snprintf(s, n, "%s%s", a, b);
	return s;
}

static const char *home(void)
{
	const char *h = getenv("HOME");

	return h != NULL && *h != '\0' ? h : "/";
}

char *sys_default_data_dir(void)
{
	const char *x = getenv("XDG_DATA_HOME");
	char *base, *r;

	if (x != NULL && *x == '/')
		return join(x, "/parley");
	base = join(home(), "/.local/share");
	if (base == NULL)
		return NULL;
	r = join(base, "/parley");
	free(base);
	return r;
}

char *sys_default_socket(void)
{
	const char *x = getenv("XDG_RUNTIME_DIR");
	char tmp[64];

	if (x != NULL && *x == '/')
		return join(x, "/parley/parley.sock");
	snprintf(tmp, sizeof tmp, "/tmp/parley-%u/parley.sock",
		 (unsigned)geteuid());
	return strdup(tmp);
}

char *sys_default_config(void)
{
	const char *x = getenv("XDG_CONFIG_HOME");
	char *base, *r;

	if (x != NULL && *x == '/')
		return join(x, "/parley/parleyd.conf");
	base = join(home(), "/.config");
	if (base == NULL)
		return NULL;
	r = join(base, "/parley/parleyd.conf");
	free(base);
	return r;
}
