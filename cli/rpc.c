/* cli/rpc.c: the JSON-RPC client of the parley command.
 *
 * One connection per run, opened by the first request.  Requests get
 * increasing integer ids starting at 1 and may be pipelined: the daemon
 * answers in order (DESIGN.md section 9), so cli_await() insists that the
 * next response carries the id it waits for.  Notifications that arrive
 * before a response are kept, bounded, for cli_next_notify().
 *
 * Failures are turned into an exit status and a message here, once, so
 * commands only pass the status up. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "cli/cli.h"

/* More notifications than this before a response is a runaway daemon. */
#define EARLY_MAX 4096

void cli_errorf(struct cli *c, const char *fmt, ...)
{
	va_list ap;

	fputs("parley: ", c->err);
	va_start(ap, fmt);
	vfprintf(c->err, fmt, ap);
	va_end(ap);
	fputc('\n', c->err);
}

static bool default_socket(const struct cli *c)
{
	const char *env = getenv("PARLEY_SOCKET");

	return (c->socket_opt == NULL || c->socket_opt[0] == '\0') &&
	       (env == NULL || env[0] == '\0');
}

static int connect_daemon(struct cli *c)
{
	int r;

	if (c->fd >= 0)
		return 0;
	r = cli_socket_path(c->socket_path, sizeof c->socket_path,
			    c->socket_opt, getenv("PARLEY_SOCKET"),
			    getenv("XDG_RUNTIME_DIR"), getuid());
	if (r == 0)
		r = cli_connect_unix(c->socket_path, &c->fd);
	switch (-r) {
	case 0:
		return 0;
	case ENAMETOOLONG:
		cli_errorf(c,
			   "socket path too long for a Unix socket "
			   "(at most 107 bytes): %s",
			   c->socket_path);
		return EX_USAGE;
	case ENOENT:
	case ECONNREFUSED:
		cli_errorf(c, "cannot connect to %s: %s", c->socket_path,
			   strerror(-r));
		if (default_socket(c))
			cli_errorf(c, "is parleyd running? start it with: "
				      "parleyd");
		else
			cli_errorf(c,
				   "is parleyd running? start it with: "
				   "parleyd --socket %s",
				   c->socket_path);
		return EX_UNAVAILABLE;
	case EACCES:
	case EPERM:
		cli_errorf(c, "cannot connect to %s: %s", c->socket_path,
			   strerror(-r));
		return EX_NOPERM;
	default:
		cli_errorf(c, "cannot connect to %s: %s", c->socket_path,
			   strerror(-r));
		return EX_UNAVAILABLE;
	}
}

int cli_io_fail(struct cli *c, int r)
{
	switch (-r) {
	case ETIMEDOUT:
		cli_errorf(c,
			   "parleyd did not answer within %u s "
			   "(see --timeout)",
			   c->timeout_ms / 1000);
		return EX_TEMPFAIL;
	case ECONNRESET:
	case EPIPE:
		if (c->following) {
			/* Between events, not in the middle of an answer:
			 * the daemon stopped. */
			cli_errorf(c, "parleyd closed the connection");
			return EX_UNAVAILABLE;
		}
		cli_errorf(c, "parleyd closed the connection before "
			      "answering");
		return EX_PROTOCOL;
	case E2BIG:
		cli_errorf(c,
			   "reply from parleyd longer than the line limit "
			   "of %zu bytes; giving up",
			   c->lines.max);
		return EX_PROTOCOL;
	case EBADMSG:
		cli_errorf(c, "malformed reply from parleyd "
			      "(not a JSON-RPC 2.0 object)");
		return EX_PROTOCOL;
	case ENOMEM:
		cli_errorf(c, "out of memory");
		return EX_OSERR;
	default:
		cli_errorf(c, "talking to parleyd: %s", strerror(-r));
		return EX_IOERR;
	}
}

int cli_print_rpc_error(struct cli *c, const char *method,
			const struct cli_msg *m)
{
	json_t *wrap;

	if (c->json) {
		wrap = json_pack("{s:O}", "error", m->error);
		if (wrap == NULL || cli_print_json(c, wrap) < 0)
			cli_errorf(c, "%s: error %lld: %s", method,
				   (long long)m->code, m->message);
		json_decref(wrap);
	} else {
		fprintf(c->err, "parley: %s: ", method);
		cli_fputs_safe(c->err, m->message);
		fprintf(c->err, " (error %lld", (long long)m->code);
		if (m->app != NULL) {
			fputs(", ", c->err);
			cli_fputs_safe(c->err, m->app);
		}
		if (m->field != NULL) {
			fputs(", field \"", c->err);
			cli_fputs_safe(c->err, m->field);
			fputc('"', c->err);
		}
		fputs(")\n", c->err);
	}
	/* The daemon could not read what we sent: our bug, not the user's. */
	if (m->code == CLI_RPC_PARSE_ERROR ||
	    m->code == CLI_RPC_INVALID_REQUEST)
		return EX_SOFTWARE;
	return CLI_EXIT_RPC_ERROR;
}

int cli_send(struct cli *c, const char *method, json_t *params, json_int_t *id)
{
	char *line = NULL;
	size_t len;
	int r;

	if ((r = connect_daemon(c)) != 0)
		return r;
	r = cli_request_encode(c->next_id, method, params, &line, &len);
	if (r == -EINVAL) {
		cli_errorf(c, "invalid method name or params for %s", method);
		return EX_USAGE;
	}
	if (r < 0)
		return cli_io_fail(c, r);
	*id = c->next_id++;
	r = cli_write_all(c->fd, line, len);
	free(line);
	return r < 0 ? cli_io_fail(c, r) : 0;
}

static bool blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (strchr(" \t\r", s[i]) == NULL)
			return false;
	return true;
}

/* Reads and parses the next non-blank line.  Returns 0 and *m, or an exit
 * status; -EPIPE from the watched descriptor sets c->reader_gone. */
static int next_msg(struct cli *c, uint64_t deadline_ms, int watch_fd,
		    struct cli_msg *m)
{
	const char *line;
	size_t len;
	int r;

	do {
		r = cli_read_line(c->fd, &c->lines, deadline_ms, watch_fd,
				  &line, &len);
		if (r == -EPIPE && watch_fd >= 0) {
			c->reader_gone = true;
			return EX_IOERR;
		}
		if (r < 0)
			return cli_io_fail(c, r);
	} while (blank(line, len));
	if ((r = cli_msg_parse(m, line, len)) < 0)
		return cli_io_fail(c, r);
	return 0;
}

static uint64_t deadline(const struct cli *c)
{
	return c->timeout_ms == 0 ? 0 : cli_now_ms() + c->timeout_ms;
}

int cli_await_msg(struct cli *c, json_int_t id, const char *method,
		  struct cli_msg *m)
{
	uint64_t until = deadline(c);
	json_t *line;
	char *s;
	int r;

	for (;;) {
		if ((r = next_msg(c, until, -1, m)) != 0)
			return r;
		if (m->kind != CLI_MSG_NOTIFY)
			break;
		if (c->early == NULL)
			c->early = json_array();
		s = json_dumps(m->root, JSON_COMPACT);
		line = s != NULL ? json_string(s) : NULL;
		free(s);
		cli_msg_clear(m);
		if (c->early == NULL || line == NULL ||
		    json_array_append_new(c->early, line) < 0)
			return cli_io_fail(c, -ENOMEM);
		if (json_array_size(c->early) > EARLY_MAX) {
			cli_errorf(c,
				   "more than %d notifications before the "
				   "answer to %s",
				   EARLY_MAX, method);
			return EX_PROTOCOL;
		}
	}
	if (m->kind == CLI_MSG_RESULT && m->id_null) {
		cli_msg_clear(m);
		return cli_io_fail(c, -EBADMSG);
	}
	if (!m->id_null && m->id != id) {
		cli_errorf(c,
			   "reply to request %lld while waiting for %lld "
			   "(%s)",
			   (long long)m->id, (long long)id, method);
		cli_msg_clear(m);
		return EX_PROTOCOL;
	}
	return 0;
}

int cli_await(struct cli *c, json_int_t id, const char *method, json_t **result)
{
	struct cli_msg m;
	int r;

	*result = NULL;
	if ((r = cli_await_msg(c, id, method, &m)) != 0)
		return r;
	if (m.kind == CLI_MSG_ERROR) {
		r = cli_print_rpc_error(c, method, &m);
	} else {
		*result = json_incref(m.result);
		r = 0;
	}
	cli_msg_clear(&m);
	return r;
}

int cli_call(struct cli *c, const char *method, json_t *params, json_t **result)
{
	json_int_t id;
	int r;

	*result = NULL;
	if ((r = cli_send(c, method, params, &id)) != 0)
		return r;
	return cli_await(c, id, method, result);
}

int cli_next_notify(struct cli *c, uint64_t deadline_ms, struct cli_msg *m)
{
	json_t *first;
	int r;

	if (json_array_size(c->early) > 0) {
		first = json_array_get(c->early, 0);
		r = cli_msg_parse(m, json_string_value(first),
				  json_string_length(first));
		json_array_remove(c->early, 0);
		return r < 0 ? cli_io_fail(c, r) : 0;
	}
	if ((r = next_msg(c, deadline_ms, c->out_fd, m)) != 0)
		return r;
	if (m->kind != CLI_MSG_NOTIFY) {
		cli_errorf(c,
			   "unexpected reply to request %lld while "
			   "reading events",
			   (long long)m->id);
		cli_msg_clear(m);
		return EX_PROTOCOL;
	}
	return 0;
}

void cli_close(struct cli *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	cli_lines_close(&c->lines);
	json_decref(c->early);
	c->early = NULL;
}
