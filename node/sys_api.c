/* libuv side of the API server.
 *
 * One struct conn per accepted client, owning its uv_pipe_t, its read
 * buffer and its output buffers; the conn is freed in the pipe's close
 * callback (a libuv handle's memory is released only there).
 *
 * Reading: bytes accumulate in rbuf until a newline; each complete line
 * goes to api_client_line().  A line longer than API_LINE_MAX is answered
 * with a too_big error and skipped up to its newline, and the connection
 * carries on.  When a client's unsent output passes API_CLIENT_READ_STOP
 * we stop reading it (and stop handling lines already buffered) until
 * the socket drains: a client that writes without reading cannot make us
 * buffer without bound.
 *
 * Writing: answers are appended to `pending`; at most one uv_write is in
 * flight per client (`inflight`), so the order of bytes is the order of
 * answers.
 *
 * A client that shuts down its sending side still gets every answer to
 * what it sent, the late ones (dht.get...) included; the connection closes
 * once they are written. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <uv.h>

#include "node/log.h"
#include "node/sys_api.h"

#define RBUF_MIN 4096
#define RBUF_MAX (API_LINE_MAX + 65536)
#define PENDING_MAX (16 * 1024 * 1024) /* hard cap: drop the client */

struct conn {
	uv_pipe_t pipe;
	struct sys_api *srv;
	struct api_client *client;
	struct conn *next, *prev;
	char *rbuf;
	size_t rlen, rcap;
	char *pending;
	size_t pending_len, pending_cap;
	char *inflight;
	size_t inflight_len, inflight_cap;
	uv_write_t wreq;
	bool writing;
	bool discarding; /* inside an over-long line */
	bool paused;	 /* reading stopped for back-pressure */
	bool in_lines;	 /* inside conn_lines(): batch the writes */
	bool eof;	 /* the client closed its side: finish, then close */
	bool closing;
};

struct sys_api {
	uv_pipe_t server;
	uv_timer_t stop_timer; /* bounds a graceful stop */
	uv_loop_t *loop;
	struct api *api;
	struct conn *conns;
	size_t num_open; /* conns not yet through their close callback */
	size_t handles_open; /* server and timer, while stopping */
	bool timer_on;
	char *path;
	bool closing;
};

#define STOP_GRACE_MS 3000

static void sys_api_maybe_free(struct sys_api *s);
static void handle_close_cb(uv_handle_t *h);

static void conn_close(struct conn *c);
static void conn_lines(struct conn *c);

static size_t conn_queued(void *self)
{
	struct conn *c = self;

	return c->pending_len + c->inflight_len;
}

static void write_cb(uv_write_t *req, int status);

static void conn_flush(struct conn *c)
{
	uv_buf_t b;
	char *t;
	size_t cap;
	int r;

	if (c->writing || c->closing || c->pending_len == 0)
		return;
	/* Swap pending into flight; the old flight buffer is reused. */
	t = c->inflight;
	cap = c->inflight_cap;
	c->inflight = c->pending;
	c->inflight_cap = c->pending_cap;
	c->inflight_len = c->pending_len;
	c->pending = t;
	c->pending_cap = cap;
	c->pending_len = 0;
	b = uv_buf_init(c->inflight, (unsigned)c->inflight_len);
	r = uv_write(&c->wreq, (uv_stream_t *)&c->pipe, &b, 1, write_cb);
	if (r < 0) {
		log_debug("api: write failed: %s", uv_strerror(r));
		conn_close(c);
		return;
	}
	c->writing = true;
}

static int conn_write(void *self, const char *buf, size_t len)
{
	struct conn *c = self;
	size_t need = c->pending_len + len;

	if (c->closing)
		return 0;
	if (need > PENDING_MAX) {
		log_warn("api: client output over %d bytes, dropping it",
			 PENDING_MAX);
		conn_close(c);
		return -ENOBUFS;
	}
	if (need > c->pending_cap || c->pending == NULL) {
		size_t cap = c->pending_cap > 0 ? c->pending_cap : 4096;
		char *p;

		while (cap < need)
			cap *= 2;
		p = realloc(c->pending, cap);
		if (p == NULL)
			return -ENOMEM;
		c->pending = p;
		c->pending_cap = cap;
	}
	memcpy(c->pending + c->pending_len, buf, len);
	c->pending_len += len;
	if (!c->in_lines)
		conn_flush(c);
	return 0;
}

/* Closes a client that has sent EOF once all its answers are out. */
static void conn_maybe_finish(struct conn *c)
{
	if (c->eof && !c->paused && !c->writing && c->pending_len == 0 &&
	    (c->srv->closing || !api_client_busy(c->client)))
		conn_close(c);
}

static void read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);
static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf);

static void conn_resume(struct conn *c)
{
	if (!c->paused || c->closing)
		return;
	c->paused = false;
	conn_lines(c); /* what was buffered while paused */
	if (!c->paused && !c->closing && !c->eof)
		uv_read_start((uv_stream_t *)&c->pipe, alloc_cb, read_cb);
}

static void write_cb(uv_write_t *req, int status)
{
	struct conn *c = req->data;

	c->writing = false;
	c->inflight_len = 0;
	if (status < 0) {
		if (status != UV_ECANCELED)
			log_debug("api: client write: %s",
				  uv_strerror(status));
		conn_close(c);
		return;
	}
	conn_flush(c);
	if (conn_queued(c) < API_CLIENT_HIGH_WATER)
		api_client_drained(c->client);
	if (c->paused && conn_queued(c) < API_CLIENT_READ_STOP / 2)
		conn_resume(c);
	conn_maybe_finish(c);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct conn *c = h->data;

	(void)suggested;
	if (c->rcap - c->rlen < RBUF_MIN && c->rcap < RBUF_MAX) {
		size_t cap = c->rcap > 0 ? c->rcap * 2 : RBUF_MIN * 4;
		char *p;

		if (cap > RBUF_MAX)
			cap = RBUF_MAX;
		p = realloc(c->rbuf, cap);
		if (p != NULL) {
			c->rbuf = p;
			c->rcap = cap;
		}
	}
	*buf = uv_buf_init(c->rbuf + c->rlen, (unsigned)(c->rcap - c->rlen));
}

/* Handles every complete line in rbuf, stopping early for back-pressure;
 * then deals with an over-long partial line. */
static void conn_lines(struct conn *c)
{
	size_t start = 0;
	bool partial = false; /* stopped at a line with no newline yet */
	char *nl;

	c->in_lines = true;
	while (!c->closing && !c->srv->closing && start < c->rlen) {
		nl = memchr(c->rbuf + start, '\n', c->rlen - start);
		if (c->discarding) {
			if (nl == NULL) {
				start = c->rlen;
				break;
			}
			c->discarding = false;
			start = (size_t)(nl - c->rbuf) + 1;
			continue;
		}
		if (nl == NULL) {
			partial = true;
			break;
		}
		if ((size_t)(nl - (c->rbuf + start)) > API_LINE_MAX) {
			api_client_line_too_big(c->client);
		} else if (api_client_line(c->client, c->rbuf + start,
					   (size_t)(nl - (c->rbuf + start))) <
			   0) {
			c->in_lines = false;
			conn_close(c);
			return;
		}
		start = (size_t)(nl - c->rbuf) + 1;
		if (conn_queued(c) > API_CLIENT_READ_STOP) {
			c->paused = true;
			uv_read_stop((uv_stream_t *)&c->pipe);
			break;
		}
	}
	c->in_lines = false;
	if (start > 0) {
		memmove(c->rbuf, c->rbuf + start, c->rlen - start);
		c->rlen -= start;
	}
	if (partial && !c->discarding && c->rlen > API_LINE_MAX) {
		/* No newline within the limit: refuse this line, skip the
		 * rest of it as it arrives. */
		api_client_line_too_big(c->client);
		c->discarding = true;
		c->rlen = 0;
	}
	if (c->rlen == 0 && c->rcap > RBUF_MIN * 16) {
		free(c->rbuf); /* give back a large buffer once idle */
		c->rbuf = NULL;
		c->rcap = 0;
	}
	conn_flush(c);
}

static void read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
	struct conn *c = stream->data;

	(void)buf;
	if (nread == UV_EOF) {
		/* A partial last line is dropped: it was never a request. */
		c->eof = true;
		uv_read_stop(stream);
		conn_maybe_finish(c);
		return;
	}
	if (nread < 0) {
		log_debug("api: client read: %s", uv_strerror((int)nread));
		conn_close(c);
		return;
	}
	c->rlen += (size_t)nread;
	conn_lines(c);
}

static void conn_close_cb(uv_handle_t *h)
{
	struct conn *c = h->data;
	struct sys_api *s = c->srv;

	api_client_free(c->client);
	free(c->rbuf);
	free(c->pending);
	free(c->inflight);
	free(c);
	s->num_open--;
	if (s->closing && s->num_open == 0 && s->timer_on) {
		s->timer_on = false;
		uv_close((uv_handle_t *)&s->stop_timer, handle_close_cb);
	}
	sys_api_maybe_free(s);
}

static void conn_close(struct conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		c->srv->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	uv_close((uv_handle_t *)&c->pipe, conn_close_cb);
}

static void reject_close_cb(uv_handle_t *h)
{
	free(h);
}

/* Closes an accepted pipe we will not serve, after a best-effort error
 * line. */
static void reject(uv_pipe_t *p, const char *line)
{
	int fd = -1;

	if (uv_fileno((uv_handle_t *)p, &fd) == 0 && line != NULL) {
		ssize_t w = write(fd, line, strlen(line));
		(void)w;
	}
	uv_close((uv_handle_t *)p, reject_close_cb);
}

static bool peer_allowed(uv_pipe_t *p)
{
	struct ucred cred;
	socklen_t len = sizeof cred;
	int fd = -1;

	if (uv_fileno((uv_handle_t *)p, &fd) < 0)
		return false;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return false;
	return cred.uid == geteuid() || cred.uid == 0;
}

static void connection_cb(uv_stream_t *server, int status)
{
	struct sys_api *s = server->data;
	struct api_client_ops ops;
	struct conn *c;
	uv_pipe_t *tmp;
	int r;

	if (status < 0) {
		log_warn("api: accept: %s", uv_strerror(status));
		return;
	}
	c = calloc(1, sizeof *c);
	if (c == NULL) {
		tmp = malloc(sizeof *tmp);
		if (tmp != NULL && uv_pipe_init(s->loop, tmp, 0) == 0 &&
		    uv_accept(server, (uv_stream_t *)tmp) == 0)
			reject(tmp, NULL);
		else
			free(tmp);
		return;
	}
	uv_pipe_init(s->loop, &c->pipe, 0);
	c->pipe.data = c;
	c->wreq.data = c;
	c->srv = s;
	if ((r = uv_accept(server, (uv_stream_t *)&c->pipe)) < 0) {
		log_warn("api: accept: %s", uv_strerror(r));
		c->closing = true;
		uv_close((uv_handle_t *)&c->pipe, reject_close_cb);
		return;
	}
	if (!peer_allowed(&c->pipe)) {
		log_warn("api: refused a client of another user");
		c->closing = true;
		uv_close((uv_handle_t *)&c->pipe, reject_close_cb);
		return;
	}
	ops = (struct api_client_ops){conn_write, conn_queued, c};
	if ((r = api_client_new(s->api, &ops, &c->client)) < 0) {
		log_warn("api: refused a client: %s", strerror(-r));
		c->closing = true;
		reject(&c->pipe, "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":"
				 "{\"code\":-32004,\"message\":\"too many "
				 "clients\",\"data\":{\"app\":\"busy\"}}}\n");
		return;
	}
	log_debug("api: client connected (%zu now)", api_num_clients(s->api));
	s->num_open++;
	c->next = s->conns;
	if (s->conns != NULL)
		s->conns->prev = c;
	s->conns = c;
	uv_read_start((uv_stream_t *)&c->pipe, alloc_cb, read_cb);
}

/* Makes dir (one level) 0700 if missing; when private, refuses one owned
 * by someone else or open to others. */
static int prepare_dir(const char *dir, int private_dir, char *err,
		       size_t err_max)
{
	struct stat st;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		snprintf(err, err_max, "cannot create %s: %s", dir,
			 strerror(errno));
		return -errno;
	}
	if (stat(dir, &st) < 0) {
		snprintf(err, err_max, "%s: %s", dir, strerror(errno));
		return -errno;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, err_max, "%s is not a directory", dir);
		return -ENOTDIR;
	}
	if (private_dir && (st.st_uid != geteuid() || (st.st_mode & 077))) {
		snprintf(err, err_max,
			 "%s must be owned by this user with mode 0700", dir);
		return -EPERM;
	}
	return 0;
}

/* A socket file left at path: remove it if no daemon answers there. */
static int clear_stale(const char *path, char *err, size_t err_max)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	int fd, r;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, err_max, "%s exists and is not a socket", path);
		return -EEXIST;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	r = connect(fd, (struct sockaddr *)&sa, sizeof sa);
	close(fd);
	if (r == 0) {
		snprintf(err, err_max,
			 "another parleyd is already listening on %s", path);
		return -EADDRINUSE;
	}
	if (unlink(path) < 0 && errno != ENOENT) {
		snprintf(err, err_max, "cannot remove stale %s: %s", path,
			 strerror(errno));
		return -errno;
	}
	return 0;
}

int sys_api_start(struct sys_api **out, uv_loop_t *loop, struct api *api,
		  const char *path, int private_dir, char *err,
		  size_t err_max)
{
	struct sockaddr_un sa;
	struct sys_api *s = NULL;
	char *dir = NULL, *slash;
	mode_t old_mask;
	int r;

	*out = NULL;
	if (strlen(path) >= sizeof sa.sun_path) {
		snprintf(err, err_max,
			 "socket path is %zu bytes, the limit is %zu: %s",
			 strlen(path), sizeof sa.sun_path - 1, path);
		return -ENAMETOOLONG;
	}
	dir = strdup(path);
	s = calloc(1, sizeof *s);
	if (dir == NULL || s == NULL) {
		r = -ENOMEM;
		goto fail;
	}
	slash = strrchr(dir, '/');
	if (slash != NULL && slash != dir) {
		*slash = '\0';
		if ((r = prepare_dir(dir, private_dir, err, err_max)) < 0)
			goto fail;
	}
	if ((r = clear_stale(path, err, err_max)) < 0)
		goto fail;
	s->loop = loop;
	s->api = api;
	s->path = strdup(path);
	if (s->path == NULL) {
		r = -ENOMEM;
		goto fail;
	}
	uv_pipe_init(loop, &s->server, 0);
	s->server.data = s;
	old_mask = umask(0177);
	r = uv_pipe_bind(&s->server, path);
	umask(old_mask);
	if (r == 0)
		r = chmod(path, 0600) < 0 ? -errno : 0;
	if (r == 0)
		r = uv_listen((uv_stream_t *)&s->server, 128, connection_cb);
	if (r < 0) {
		snprintf(err, err_max, "cannot listen on %s: %s", path,
			 uv_strerror(r));
		unlink(path);
		/* The handle is initialised: it must be closed, and freed
		 * in its close callback. */
		s->closing = true;
		uv_close((uv_handle_t *)&s->server, NULL);
		uv_run(loop, UV_RUN_NOWAIT);
		free(s->path);
		free(s);
		free(dir);
		return r;
	}
	free(dir);
	*out = s;
	return 0;
fail:
	if (s != NULL)
		free(s->path);
	free(s);
	free(dir);
	return r;
}

/* The struct is released once the server, the timer and every client
 * have been through their close callbacks. */
static void sys_api_maybe_free(struct sys_api *s)
{
	if (!s->closing || s->num_open > 0 || s->handles_open > 0)
		return;
	free(s->path);
	free(s);
}

static void handle_close_cb(uv_handle_t *h)
{
	struct sys_api *s = h->data;

	s->handles_open--;
	sys_api_maybe_free(s);
}

static void stop_timer_cb(uv_timer_t *t)
{
	struct sys_api *s = t->data;

	s->timer_on = false;
	uv_close((uv_handle_t *)&s->stop_timer, handle_close_cb);
	while (s->conns != NULL)
		conn_close(s->conns);
}

void sys_api_stop(struct sys_api *s)
{
	struct conn *c, *next;

	if (s == NULL || s->closing)
		return;
	s->closing = true;
	s->handles_open = 1;
	unlink(s->path);
	uv_close((uv_handle_t *)&s->server, handle_close_cb);
	/* Each client gets what is already queued for it (the answer to
	 * node.stop, the node.stopping event), then its connection closes;
	 * a client that does not read is cut off after STOP_GRACE_MS. */
	for (c = s->conns; c != NULL; c = next) {
		next = c->next;
		c->eof = true;
		c->paused = false;
		uv_read_stop((uv_stream_t *)&c->pipe);
		conn_flush(c);
		conn_maybe_finish(c);
	}
	if (s->conns != NULL) {
		uv_timer_init(s->loop, &s->stop_timer);
		s->stop_timer.data = s;
		s->handles_open++;
		s->timer_on = true;
		uv_timer_start(&s->stop_timer, stop_timer_cb, STOP_GRACE_MS,
			       0);
	}
}
