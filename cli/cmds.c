/* cli/cmds.c: the parley command line: global options, the command
 * table, and one handler per command.
 *
 * `parley [GLOBAL OPTIONS] COMMAND [ARGS]`: global options are parsed up
 * to the first non-option (getopt_long with a leading '+'), then the
 * command parses its own argv, whose argv[0] is the command name.  A
 * handler returns the exit status; every failure has printed its reason
 * by then (rpc.c). */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "cli/chat.h"
#include "cli/cli.h"

static const char usage_text[] =
	"usage: parley [-J] [-s PATH] [--timeout SECONDS] COMMAND [ARGS]\n"
	"       parley --help | --version | help COMMAND\n";

static const char options_text[] =
	"Options:\n"
	"  -J, --json            print JSON, one compact object per line\n"
	"  -s, --socket PATH     the daemon's socket (default: "
	"$PARLEY_SOCKET,\n"
	"                        else $XDG_RUNTIME_DIR/parley/parley.sock,\n"
	"                        else /tmp/parley-UID/parley.sock)\n"
	"      --timeout SECONDS wait at most this long for each answer\n"
	"                        (default 30; 0 waits forever)\n"
	"  -h, --help            show this help and exit\n"
	"  -V, --version         show the version and exit\n";

static void print_usage(FILE *f)
{
	const struct cli_cmd *cmd;

	fputs(usage_text, f);
	fputs("\nCommands:\n", f);
	for (cmd = cli_cmds; cmd->name != NULL; cmd++)
		fprintf(f, "  %-8s %s\n", cmd->name, cmd->summary);
	fputc('\n', f);
	fputs(options_text, f);
	fputs("\nSee 'parley help COMMAND' and parley(1).\n", f);
}

void cli__cmd_help(FILE *f, const struct cli_cmd *cmd)
{
	fprintf(f, "usage: parley %s%s%s\n\n%s", cmd->name,
		cmd->args[0] != '\0' ? " " : "", cmd->args, cmd->help);
}

/* Reports a getopt failure for the command being parsed. */
int cli__bad_option(struct cli *c, const char *cmd, char **argv, int ch)
{
	const char *what = argv[optind - 1];

	if (ch == ':')
		cli_errorf(c, "option %s needs an argument", what);
	else if (optopt != 0)
		cli_errorf(c, "unknown option -%c", optopt);
	else
		cli_errorf(c, "unknown option %s", what);
	if (cmd != NULL)
		cli_errorf(c, "see 'parley help %s'", cmd);
	else
		cli_errorf(c, "see 'parley --help'");
	return EX_USAGE;
}

int cli__usage_error(struct cli *c, const char *cmd, const char *why)
{
	cli_errorf(c, "%s: %s", cmd, why);
	cli__cmd_help(c->err, cli_cmd_find(cmd));
	return EX_USAGE;
}

bool cli__parse_ll(const char *s, long long min, long long max, long long *out)
{
	char *end;
	long long v;

	if (s[0] == '\0' || s[0] == ' ' || s[0] == '+')
		return false;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return false;
	*out = v;
	return true;
}

int cli__finish_output(struct cli *c, int r)
{
	if (r == 0 && (fflush(c->out) != 0 || ferror(c->out))) {
		cli_errorf(c, "cannot write the output");
		return EX_IOERR;
	}
	return r;
}

/* --- status ------------------------------------------------------------ */

static int cmd_status(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	json_t *status = NULL, *version = NULL;
	struct cli_msg m = {0};
	json_int_t id_status, id_version = 0;
	int ch, r;

	while ((ch = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		if (ch != 'h')
			return cli__bad_option(c, argv[0], argv, ch);
		cli__cmd_help(c->out, cli_cmd_find(argv[0]));
		return 0;
	}
	if (optind != argc)
		return cli__usage_error(c, argv[0], "no arguments expected");
	/* Two requests pipelined on one connection; answers come in order. */
	if ((r = cli_send(c, "node.status", NULL, &id_status)) != 0)
		return r;
	if (!c->json && (r = cli_send(c, "api.version", NULL, &id_version)))
		return r;
	if ((r = cli_await(c, id_status, "node.status", &status)) != 0)
		goto out;
	if (!json_is_object(status)) {
		cli_errorf(c, "node.status: the result is not an object");
		r = EX_PROTOCOL;
		goto out;
	}
	if (c->json) {
		r = cli_print_json(c, status) < 0 ? EX_IOERR : 0;
		goto out;
	}
	/* api.version is decoration here: an error answer just leaves the
	 * API line out (a daemon older than the method). */
	if ((r = cli_await_msg(c, id_version, "api.version", &m)) != 0)
		goto out;
	if (m.kind == CLI_MSG_RESULT && json_is_object(m.result))
		version = json_incref(m.result);
	r = cli_print_status(c->out, status, version) < 0 ? EX_IOERR : 0;
out:
	cli_msg_clear(&m);
	json_decref(status);
	json_decref(version);
	return cli__finish_output(c, r);
}

/* --- id ---------------------------------------------------------------- */

/* ANSI colours only on a terminal that has them and a user who wants
 * them (https://no-color.org). */
static bool use_colour(const struct cli *c)
{
	const char *no = getenv("NO_COLOR");
	const char *term = getenv("TERM");

	return c->out_tty && (no == NULL || no[0] == '\0') &&
	       (term == NULL || strcmp(term, "dumb") != 0);
}

int cli__draw_qr(struct cli *c, const char *text, const char *what)
{
	int r = cli_print_qr(c->out, text, use_colour(c));

	if (r == -EINVAL) {
		cli_errorf(c, "%s is too long for a QR code", what);
		return EX_DATAERR;
	}
	if (r < 0)
		return r == -ENOMEM ? EX_OSERR : EX_IOERR;
	fputc('\n', c->out);
	return 0;
}

static int cmd_id(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"qr", no_argument, NULL, 'q'},
		{"uri", no_argument, NULL, 'u'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	json_t *id = NULL, *uri;
	bool qr = false, uri_only = false;
	int ch, r;

	while ((ch = getopt_long(argc, argv, ":qh", opts, NULL)) != -1) {
		switch (ch) {
		case 'q':
			qr = true;
			break;
		case 'u':
			uri_only = true;
			break;
		case 'h':
			cli__cmd_help(c->out, cli_cmd_find(argv[0]));
			return 0;
		default:
			return cli__bad_option(c, argv[0], argv, ch);
		}
	}
	if (optind != argc)
		return cli__usage_error(c, argv[0], "no arguments expected");
	if (c->json && (qr || uri_only))
		return cli__usage_error(c, argv[0],
					"--qr and --uri print for people; "
					"they do not go with -J");
	if ((r = cli_call(c, "identity.get", NULL, &id)) != 0)
		return r;
	if (!json_is_object(id)) {
		cli_errorf(c, "identity.get: the result is not an object");
		r = EX_PROTOCOL;
		goto out;
	}
	if (c->json) {
		r = cli_print_json(c, id) < 0 ? EX_IOERR : 0;
		goto out;
	}
	uri = json_object_get(id, "uri");
	if ((qr || uri_only) && !json_is_string(uri)) {
		cli_errorf(c, "identity.get: the result has no \"uri\"");
		r = EX_PROTOCOL;
		goto out;
	}
	if (uri_only) {
		cli_fputs_safe(c->out, json_string_value(uri));
		fputc('\n', c->out);
		r = 0;
		goto out;
	}
	if (qr) {
		r = cli__draw_qr(c, json_string_value(uri), "the URI");
		if (r != 0)
			goto out;
	}
	r = cli_print_identity(c->out, id) < 0 ? EX_IOERR : 0;
out:
	json_decref(id);
	return cli__finish_output(c, r);
}

/* --- rpc --------------------------------------------------------------- */

static int cmd_rpc(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	json_t *params = NULL, *result = NULL;
	json_error_t jerr;
	char why[256];
	const char *method;
	int ch, r;

	while ((ch = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		if (ch != 'h')
			return cli__bad_option(c, argv[0], argv, ch);
		cli__cmd_help(c->out, cli_cmd_find(argv[0]));
		return 0;
	}
	if (argc - optind < 1 || argc - optind > 2)
		return cli__usage_error(c, argv[0], "expected METHOD [PARAMS]");
	method = argv[optind];
	if (argc - optind == 2 && strcmp(argv[optind + 1], "-") == 0) {
		params = json_loadf(c->in, JSON_REJECT_DUPLICATES, &jerr);
		if (params == NULL) {
			cli_errorf(c,
				   "bad JSON params on standard input: %s "
				   "(line %d, column %d)",
				   jerr.text, jerr.line, jerr.column);
			return EX_DATAERR;
		}
		if (!json_is_object(params)) {
			json_decref(params);
			cli_errorf(c, "bad JSON params on standard input: "
				      "not an object");
			return EX_DATAERR;
		}
	} else if (argc - optind == 2) {
		if (cli_params_parse(argv[optind + 1], &params, why,
				     sizeof why) < 0) {
			cli_errorf(c, "bad JSON params: %s", why);
			return EX_DATAERR;
		}
	}
	r = cli_call(c, method, params, &result);
	if (r == 0)
		r = cli_print_json(c, result) < 0 ? EX_IOERR : 0;
	json_decref(params);
	json_decref(result);
	return cli__finish_output(c, r);
}

/* --- events ------------------------------------------------------------ */

struct events_run {
	bool follow;
	long long since; /* subscribe after this seq; -1: from now on */
	long long seen;	 /* last seq handled; -1: none yet */
	long long until; /* without -f: stop at this seq */
	json_t *types;	 /* array of strings, or NULL for all */
	json_t *names;	 /* contact ID -> name, for the human form */
};

static bool type_wanted(const struct events_run *e, const char *type)
{
	size_t i;
	json_t *t;

	if (e->types == NULL)
		return true;
	json_array_foreach(e->types, i, t)
	{
		if (strcmp(json_string_value(t), type) == 0)
			return true;
	}
	return false;
}

/* Subscribes from e->since.  Without -f the filter is applied here, not
 * by the daemon, so the replay ends exactly at the last_seq it reports. */
static int subscribe(struct cli *c, struct events_run *e, long long *last)
{
	json_t *params = json_object(), *result = NULL, *v;
	int r = EX_OSERR;

	if (params == NULL)
		goto out;
	if (e->since >= 0 &&
	    json_object_set_new(params, "since", json_integer(e->since)) < 0)
		goto out;
	if (e->follow && e->types != NULL &&
	    json_object_set(params, "types", e->types) < 0)
		goto out;
	if ((r = cli_call(c, "events.subscribe", params, &result)) != 0)
		goto out;
	v = json_object_get(result, "last_seq");
	if (!json_is_integer(v) || json_integer_value(v) < 0) {
		cli_errorf(c, "events.subscribe: the result has no last_seq");
		r = EX_PROTOCOL;
		goto out;
	}
	*last = json_integer_value(v);
	r = 0;
out:
	json_decref(params);
	json_decref(result);
	return r;
}

/* Handles one notification.  Returns 0 to go on, -1 when done, or an exit
 * status. */
static int on_notify(struct cli *c, struct events_run *e,
		     const struct cli_msg *m)
{
	json_t *seq, *type, *resume;
	const char *id;
	long long s, last, from;
	int r;

	if (strcmp(m->method, "events.overflow") == 0) {
		/* The daemon ended the subscription: the next event we need
		 * is no longer in its log.  Subscribe again from where it
		 * says; what lies between was pruned, and we say so. */
		resume = json_object_get(m->params, "resume_since");
		if (!json_is_integer(resume) ||
		    json_integer_value(resume) < 0) {
			cli_errorf(c, "events.overflow without resume_since");
			return EX_PROTOCOL;
		}
		from = e->seen >= 0 ? e->seen : e->since;
		if (json_integer_value(resume) > from) {
			if (from >= 0)
				cli_errorf(
					c,
					"events %lld to %lld were dropped "
					"from the daemon's log before they "
					"could be read",
					from + 1,
					(long long)json_integer_value(resume));
			else
				cli_errorf(
					c,
					"events up to %lld were dropped "
					"from the daemon's log before "
					"they could be read",
					(long long)json_integer_value(resume));
			e->seen = json_integer_value(resume);
		}
		e->since = json_integer_value(resume);
		return subscribe(c, e, &last);
	}
	if (strcmp(m->method, "event") != 0)
		return 0; /* a notification this version does not know */
	seq = json_object_get(m->params, "seq");
	type = json_object_get(m->params, "type");
	if (!json_is_integer(seq) || !json_is_string(type)) {
		cli_errorf(c, "event without an integer seq and a type");
		return EX_PROTOCOL;
	}
	s = json_integer_value(seq);
	/* Sequence numbers only increase; one seen already is not printed
	 * twice. */
	if (s <= e->seen)
		return 0;
	e->seen = s;
	if (type_wanted(e, json_string_value(type))) {
		if (c->json) {
			r = cli_print_json(c, m->params);
		} else {
			/* A chat event names its contact: ask for the names
			 * the first time an ID comes up. */
			id = cli_event_contact(m->params);
			if (id != NULL &&
			    (r = cli__names_lookup(c, e->names, id)) != 0)
				return r;
			r = cli_print_chat_event(c->out, m->params, e->names);
		}
		if (r < 0 || fflush(c->out) != 0) {
			if (errno == EPIPE) {
				c->reader_gone = true;
				return EX_IOERR;
			}
			cli_errorf(c, "cannot write the output: %s",
				   strerror(errno));
			return EX_IOERR;
		}
	}
	return !e->follow && s >= e->until ? -1 : 0;
}

static int cmd_events(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"follow", no_argument, NULL, 'f'},
		{"since", required_argument, NULL, 's'},
		{"type", required_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct events_run e = {.since = -1, .seen = -1};
	struct cli_msg m;
	long long last;
	int ch, r;

	while ((ch = getopt_long(argc, argv, ":fs:t:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			e.follow = true;
			break;
		case 's':
			if (!cli__parse_ll(optarg, 0, LLONG_MAX, &e.since)) {
				r = cli__usage_error(c, argv[0],
						     "--since needs a sequence "
						     "number >= 0");
				goto out;
			}
			break;
		case 't':
			if (e.types == NULL)
				e.types = json_array();
			if (e.types == NULL ||
			    json_array_append_new(e.types,
						  json_string(optarg)) < 0) {
				cli_errorf(c, "bad --type %s", optarg);
				r = EX_USAGE;
				goto out;
			}
			break;
		case 'h':
			cli__cmd_help(c->out, cli_cmd_find(argv[0]));
			r = 0;
			goto out;
		default:
			r = cli__bad_option(c, argv[0], argv, ch);
			goto out;
		}
	}
	if (optind != argc) {
		r = cli__usage_error(c, argv[0], "no arguments expected");
		goto out;
	}
	/* Without -f: the whole log unless --since says where to start.
	 * With -f and no --since: only events from now on. */
	if (!e.follow && e.since < 0)
		e.since = 0;
	e.names = json_object();
	if (e.names == NULL) {
		cli_errorf(c, "out of memory");
		r = EX_OSERR;
		goto out;
	}
	e.seen = e.since;
	if ((r = subscribe(c, &e, &last)) != 0)
		goto out;
	e.until = last;
	if (!e.follow && e.since >= e.until)
		goto out;
	for (;;) {
		/* Without -f every event of the replay is due promptly. */
		c->following = e.follow;
		r = cli_next_notify(c,
				    e.follow || c->timeout_ms == 0
					    ? 0
					    : cli_now_ms() + c->timeout_ms,
				    &m);
		if (r != 0)
			break;
		c->following = false;
		r = on_notify(c, &e, &m);
		cli_msg_clear(&m);
		if (r != 0)
			break;
	}
	if (r == -1)
		r = 0;
out:
	/* The reader of our output went away (`parley events -f | head`):
	 * that ends the run normally. */
	if (c->reader_gone)
		r = 0;
	json_decref(e.types);
	json_decref(e.names);
	return c->reader_gone ? 0 : cli__finish_output(c, r);
}

/* --- help -------------------------------------------------------------- */

static int cmd_help(struct cli *c, int argc, char **argv)
{
	const struct cli_cmd *cmd;

	if (argc < 2) {
		print_usage(c->out);
		return cli__finish_output(c, 0);
	}
	if (argc > 2)
		return cli__usage_error(c, argv[0],
					"expected at most one COMMAND");
	cmd = cli_cmd_find(argv[1]);
	if (cmd == NULL) {
		cli_errorf(c, "unknown command '%s'; see 'parley --help'",
			   argv[1]);
		return EX_USAGE;
	}
	cli__cmd_help(c->out, cmd);
	return cli__finish_output(c, 0);
}

/* --- the table --------------------------------------------------------- */

const struct cli_cmd cli_cmds[] = {
	{"status", "", "show the daemon's state",
	 "Shows the daemon's version, process id, uptime, node ID, data\n"
	 "directory, socket, number of connected clients, the sequence\n"
	 "number of its last event, and how many contacts are held and\n"
	 "online and texts came in and went out since it started.  With -J,\n"
	 "the node.status result.\n",
	 cmd_status},
	{"id", "[--qr | --uri]", "show your contact ID and parley: URI",
	 "Shows the contact ID others add you by, its parley: URI, the\n"
	 "public account, device and node keys, when the identity was\n"
	 "created and whether the key file is sealed with a passphrase.\n"
	 "With -J, the identity.get result.\n"
	 "\n"
	 "  --qr   also draw the parley: URI as a QR code (Unicode blocks)\n"
	 "  --uri  print only the parley: URI\n",
	 cmd_id},
	{"contact",
	 "add|accept|reject|remove|block|unblock|list|verify|set ...",
	 "manage contacts: add, accept, list, verify...",
	 "Manages your contacts.  CONTACT is a contact ID, a parley: URI\n"
	 "or the exact name of one contact.  With -J, each prints the\n"
	 "result of its contacts.* method.\n"
	 "\n"
	 "  contact add ID [--name NAME] [--greeting TEXT]\n"
	 "      send a contact request to ID; NAME is what you call them,\n"
	 "      TEXT what they read with the request\n"
	 "  contact accept CONTACT    accept their contact request\n"
	 "  contact reject CONTACT    reject their contact request\n"
	 "  contact remove CONTACT    remove a contact (the history stays)\n"
	 "  contact block CONTACT     block a contact or a requester\n"
	 "  contact unblock CONTACT   unblock\n"
	 "  contact list              name, state, presence, last seen,\n"
	 "                            receipts and ID of each contact\n"
	 "  contact verify CONTACT [--qr]\n"
	 "      show the safety number to compare with the one they see;\n"
	 "      --qr also draws the verification code as a QR code\n"
	 "  contact set CONTACT [--name NAME] [--receipts on|off|default]\n"
	 "      rename; send them read receipts or not, or as the\n"
	 "      read-receipts setting says (default)\n",
	 cli__cmd_contact},
	{"send", "[--reply-to ID] CONTACT [TEXT... | -]", "send a message",
	 "Sends a message to CONTACT and prints its id.  The words of\n"
	 "TEXT are joined with single spaces; without TEXT, or with -,\n"
	 "the message is read from standard input (one final newline is\n"
	 "dropped).  A message holds 1 to 65536 bytes of UTF-8, no NUL;\n"
	 "any other is refused and nothing is sent.  Options come before\n"
	 "CONTACT: what follows it is the message, even if it starts\n"
	 "with '-'.  With -J, the messages.send result.\n"
	 "\n"
	 "  -r, --reply-to ID   the message answers message ID\n",
	 cli__cmd_send},
	{"history", "CONTACT [-n N] [--before ID] [--ids]",
	 "show the messages with a contact",
	 "Shows the messages with CONTACT, oldest first: local time, who\n"
	 "wrote it, < received or > sent, the text, and for sent messages\n"
	 "their status ([queued], [sent], [delivered], [read], [failed]).\n"
	 "Control characters in the text are shown escaped (^[ for ESC).\n"
	 "With -J, the messages.list result, the text exactly as stored.\n"
	 "\n"
	 "  -n, --limit N     the last N messages (1 to 1000; default 50)\n"
	 "  -b, --before ID   the messages before message ID (page back)\n"
	 "  -i, --ids         start each line with the message id\n",
	 cli__cmd_history},
	{"read", "CONTACT [--up-to ID]", "mark messages read",
	 "Marks the messages from CONTACT read, up to the newest or up to\n"
	 "message ID, and prints how many; the contact gets a read receipt\n"
	 "unless receipts are off.  With -J, the messages.mark_read result.\n"
	 "\n"
	 "  -u, --up-to ID    up to message ID\n",
	 cli__cmd_read},
	{"typing", "CONTACT on|off", "tell a contact you are typing",
	 "Tells CONTACT that you are typing (on) or stopped (off).  Prints\n"
	 "nothing; with -J, the contacts.typing result.\n",
	 cli__cmd_typing},
	{"settings", "[read-receipts on|off] [accept-requests on|off]",
	 "show or change the messaging settings",
	 "Shows the messaging settings, after changing those given.\n"
	 "With -J, the settings.get or settings.set result.\n"
	 "\n"
	 "  read-receipts     tell contacts when you read their messages\n"
	 "                    (per contact: contact set --receipts)\n"
	 "  accept-requests   take contact requests from others\n",
	 cli__cmd_settings},
	{"relay", "[status | find]", "show relaying, or find volunteer relays",
	 "status (the default): whether this daemon relays for others\n"
	 "(--relay) and what it holds and served; its home relays and what\n"
	 "it left at contacts' relays and took from its own.  find: the\n"
	 "node keys of the relays advertised in the DHT this hour, one a\n"
	 "line, for --home-relay.  With -J, the relay.status or relay.find\n"
	 "result.\n",
	 cli__cmd_relay},
	{"rpc", "METHOD [PARAMS | -]", "call any API method",
	 "Sends one JSON-RPC request and prints its result as JSON\n"
	 "(indented; one line with -J).  PARAMS is a JSON object of named\n"
	 "params, or - to read it from standard input; none means {}.\n"
	 "An error answer is printed and the exit status is 1.\n"
	 "\n"
	 "  parley rpc api.version\n"
	 "  parley rpc events.subscribe '{\"since\":0}'\n",
	 cmd_rpc},
	{"events", "[-f] [--since SEQ] [--type TYPE]...",
	 "print events from the daemon's event log",
	 "Prints events as SEQ TIME TYPE DATA lines (with -J, one JSON\n"
	 "object per line: seq, type, at, data).  Messaging events are put\n"
	 "in words, contacts by name: \"message.received alice: hello\".\n"
	 "Without -f, prints the logged events after SEQ (default: all)\n"
	 "and exits; with -f, keeps printing new events until interrupted,\n"
	 "from SEQ if given, else from now.  Events the daemon pruned from\n"
	 "its log before they could be read are reported on standard\n"
	 "error.\n"
	 "\n"
	 "  -f, --follow       keep waiting for new events\n"
	 "  -s, --since SEQ    start after sequence number SEQ\n"
	 "  -t, --type TYPE    only events of TYPE (repeatable)\n",
	 cmd_events},
	{"help", "[COMMAND]", "show help for a command",
	 "Without COMMAND, lists the commands and options; with it, shows\n"
	 "that command's usage.\n",
	 cmd_help},
	{NULL, NULL, NULL, NULL, NULL},
};

const struct cli_cmd *cli_cmd_find(const char *name)
{
	const struct cli_cmd *cmd;

	for (cmd = cli_cmds; cmd->name != NULL; cmd++)
		if (strcmp(cmd->name, name) == 0)
			return cmd;
	return NULL;
}

/* --- main -------------------------------------------------------------- */

int cli_main(int argc, char **argv, const struct cli_env *env)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'J'},
		{"socket", required_argument, NULL, 's'},
		{"timeout", required_argument, NULL, 'T'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	struct cli c = {
		.in = env->in != NULL ? env->in : stdin,
		.out = env->out,
		.err = env->err,
		.out_fd = env->out_fd,
		.out_tty = env->out_tty,
		.timeout_ms = CLI_TIMEOUT_DEFAULT_S * 1000u,
		.fd = env->daemon_fd,
		.next_id = 1,
	};
	const struct cli_cmd *cmd;
	long long secs;
	int ch, r;

	cli_lines_init(&c.lines, CLI_LINE_MAX_DEFAULT);
	/* optind = 0: full reinitialisation, so cli_main can run again in
	 * the same process (the unit tests do). */
	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+:Js:hV", opts, NULL)) != -1) {
		switch (ch) {
		case 'J':
			c.json = true;
			break;
		case 's':
			c.socket_opt = optarg;
			break;
		case 'T':
			/* 30 days at most: the ms still fit in unsigned. */
			if (!cli__parse_ll(optarg, 0, 30 * 86400, &secs)) {
				cli_errorf(&c, "--timeout needs a number of "
					       "seconds from 0 to 2592000");
				r = EX_USAGE;
				goto out;
			}
			c.timeout_ms = (unsigned)secs * 1000u;
			break;
		case 'h':
			print_usage(c.out);
			r = cli__finish_output(&c, 0);
			goto out;
		case 'V':
			fprintf(c.out, "parley %s\n", PACKAGE_VERSION);
			r = cli__finish_output(&c, 0);
			goto out;
		default:
			r = cli__bad_option(&c, NULL, argv, ch);
			goto out;
		}
	}
	if (optind >= argc) {
		fputs(usage_text, c.err);
		cli_errorf(&c, "no command given; see 'parley --help'");
		r = EX_USAGE;
		goto out;
	}
	cmd = cli_cmd_find(argv[optind]);
	if (cmd == NULL) {
		cli_errorf(&c, "unknown command '%s'; see 'parley --help'",
			   argv[optind]);
		r = EX_USAGE;
		goto out;
	}
	argc -= optind;
	argv += optind;
	optind = 0;
	r = cmd->run_cb(&c, argc, argv);
out:
	cli_close(&c);
	return r;
}
