/* cli/cli.h: the parley command's shared state, its command table, and
 * the JSON-RPC client calls the commands are built from.
 *
 * cli_main() is the whole program minus process setup (main.c), so the
 * unit tests run it in-process against a fake daemon, with stdout and
 * stderr replaced by memory streams. */
#ifndef PARLEY_CLI_CLI_H
#define PARLEY_CLI_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

#include "cli/conn.h"
#include "cli/lines.h"
#include "cli/proto.h"

/* Exit status 1: the daemon answered the request with a JSON-RPC error.
 * Everything else comes from <sysexits.h> (see docs/parley.1). */
#define CLI_EXIT_RPC_ERROR 1

/* Default --timeout, in seconds, for each answer from the daemon. */
#define CLI_TIMEOUT_DEFAULT_S 30

struct cli {
	FILE *in;		/* input of send and rpc - */
	FILE *out;		/* results */
	FILE *err;		/* diagnostics */
	bool json;		/* -J: machine-readable output */
	bool out_tty;		/* out is a terminal (colours for --qr) */
	int out_fd;		/* watched for a vanished reader; -1 none */
	const char *socket_opt; /* --socket, or NULL */
	char socket_path[CLI_PATH_MAX];
	unsigned timeout_ms; /* per answer; 0 waits forever */
	int fd;		     /* connection, or -1 */
	struct cli_lines lines;
	json_int_t next_id;
	json_t *early;	  /* notifications that came before a response */
	bool reader_gone; /* out_fd reported an error: stop quietly */
	bool following;	  /* events -f waits for events, not an answer */
};

/* One command: `parley NAME ARGS`.  run_cb gets argv with argv[0] = NAME
 * and returns the exit status.  Adding a command is one entry in the table
 * of cmds.c and its handler. */
struct cli_cmd {
	const char *name;
	const char *args;    /* synopsis after the name, "" if none */
	const char *summary; /* one line for `parley --help` */
	const char *help;    /* paragraph(s) for `parley help NAME` */
	int (*run_cb)(struct cli *c, int argc, char **argv);
};

/* Where cli_main() runs: its streams, and optionally a connection made
 * by the caller (tests and fuzzing hand in one end of a socketpair). */
struct cli_env {
	FILE *in;      /* standard input; NULL means stdin */
	FILE *out;     /* results */
	FILE *err;     /* diagnostics */
	int out_fd;    /* out's descriptor, watched by events -f; -1 none */
	bool out_tty;  /* out is a terminal */
	int daemon_fd; /* connected socket to use, owned (closed) by
			* cli_main; -1: connect to the socket path */
};

/* Runs the parley command line argv (argv[0] is the program name) in env.
 * Reads PARLEY_SOCKET, XDG_RUNTIME_DIR, NO_COLOR and TERM.  Returns the
 * exit status. */
int cli_main(int argc, char **argv, const struct cli_env *env);

/* The command table, ending with a NULL name; and a lookup by name. */
extern const struct cli_cmd cli_cmds[];
const struct cli_cmd *cli_cmd_find(const char *name);

/* Prints "parley: " + the message + newline on c->err. */
void cli_errorf(struct cli *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Sends one request without waiting (pipelining).  Connects first when
 * needed.  Sets *id.  Returns 0 or an exit status (message printed). */
int cli_send(struct cli *c, const char *method, json_t *params, json_int_t *id);

/* Waits for the response to request id, keeping notifications that come
 * first in c->early.  On a result sets *result (a new reference) and
 * returns 0; on an error answer prints it (see cli_print_rpc_error) and
 * returns CLI_EXIT_RPC_ERROR or EX_SOFTWARE; otherwise an exit status. */
int cli_await(struct cli *c, json_int_t id, const char *method,
	      json_t **result);

/* Like cli_await() but hands back the response as it is, result or
 * error, without printing the error.  Returns 0 and *m (caller clears),
 * or an exit status for a failure of the connection or the protocol. */
int cli_await_msg(struct cli *c, json_int_t id, const char *method,
		  struct cli_msg *m);

/* cli_send() + cli_await(). */
int cli_call(struct cli *c, const char *method, json_t *params,
	     json_t **result);

/* Reads the next notification: first those kept in c->early, then from
 * the socket.  deadline_ms as in cli_read_line().  A response at this
 * point is a protocol violation.  Returns 0 and *m, or an exit status. */
int cli_next_notify(struct cli *c, uint64_t deadline_ms, struct cli_msg *m);

/* Helpers the command handlers share (cmds.c). */

/* Prints `usage: parley NAME ARGS` and the command's help on f. */
void cli__cmd_help(FILE *f, const struct cli_cmd *cmd);

/* Reports a getopt_long failure (ch is ':' or '?') for command cmd
 * (NULL: the global options).  Returns EX_USAGE. */
int cli__bad_option(struct cli *c, const char *cmd, char **argv, int ch);

/* Prints "parley: CMD: WHY" and the command's help on err.  Returns
 * EX_USAGE. */
int cli__usage_error(struct cli *c, const char *cmd, const char *why);

/* Parses a decimal integer in [min, max]; the whole string must match,
 * no sign or space in front. */
bool cli__parse_ll(const char *s, long long min, long long max, long long *out);

/* Flushes out: r, or EX_IOERR when writing failed and r was 0. */
int cli__finish_output(struct cli *c, int r);

/* Draws text as a QR code on out (cli_print_qr(); in colour on a
 * terminal, unless NO_COLOR is set or TERM is "dumb"), then an empty
 * line.  what names the text for the error when it does not fit.
 * Returns 0 or an exit status. */
int cli__draw_qr(struct cli *c, const char *text, const char *what);

/* Closes the connection and frees the buffers; the struct may not be
 * used for requests again. */
void cli_close(struct cli *c);

/* Maps a -errno from the socket to an exit status and prints why. */
int cli_io_fail(struct cli *c, int r);

/* Prints a JSON-RPC error answer: with -J as {"error":{...}} on out,
 * otherwise as a sentence on err.  Returns the exit status it calls for:
 * EX_SOFTWARE for parse error and invalid request (the client is at
 * fault), CLI_EXIT_RPC_ERROR for all others. */
int cli_print_rpc_error(struct cli *c, const char *method,
			const struct cli_msg *m);

/* Output helpers (out.c).  All return 0 or -EIO when writing failed. */

/* Writes the string s from the daemon with control characters (C0 and
 * DEL) replaced by '?', so a reply cannot drive the terminal. */
void cli_fputs_safe(FILE *f, const char *s);

/* Writes v as JSON: compact on one line with -J, indented otherwise. */
int cli_print_json(struct cli *c, const json_t *v);

/* Formats a duration in ms as "3d 04h 05m", "2h 03m 04s", "5m 06s" or
 * "7s" (sub-second precision below 10 s: "1.25s"). */
void cli_fmt_duration(char *buf, size_t size, json_int_t ms);

/* Formats a byte count: "512 bytes", "1.0 MiB", up to TiB. */
void cli_fmt_bytes(char *buf, size_t size, json_int_t n);

/* Formats a Unix time in ms as ISO 8601 UTC, "2026-11-27T22:43:17.123Z";
 * with with_ms false, seconds only ("2026-11-27T22:43:17Z"). */
void cli_fmt_time(char *buf, size_t size, json_int_t ms, bool with_ms);

/* Human forms of node.status (plus api.version, which may be NULL),
 * identity.get and one event's params. */
int cli_print_status(FILE *f, const json_t *status, const json_t *version);
int cli_print_identity(FILE *f, const json_t *id);
int cli_print_event(FILE *f, const json_t *ev);

/* A settings.get or settings.set result: read receipts and contact
 * requests, "on" or "off". */
int cli_print_settings(FILE *f, const json_t *settings);

/* A relay.status result: whether this daemon relays and what it holds
 * and served, then its home relays and, of what it left at relays and
 * took from them, the counters that are not zero. */
int cli_print_relay(FILE *f, const json_t *st);

/* Writes the "SEQ TIME TYPE" start of an event line, without newline. */
void cli__event_head(FILE *f, const json_t *ev);

/* Draws text as a QR code (libqrencode, error correction level M) in
 * Unicode half blocks with a 4-module quiet zone, two module rows per
 * text line; light modules are drawn, so with colour false the terminal
 * needs a light foreground on a dark background; with colour true ANSI
 * escapes set white on black for the code.  Returns 0, -EINVAL (text too
 * long for a QR code), -ENOMEM, -EIO. */
int cli_print_qr(FILE *f, const char *text, bool colour);

#endif
