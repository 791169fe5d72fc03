/* cli/chat.c: the messaging commands of parley: contact, send, history,
 * read, typing and settings.
 *
 * Each is a thin layer over one API method (docs/API.md): parse the
 * command line, resolve the CONTACT argument, call, print the result (as
 * it is with -J, through chat_out.c otherwise).  A CONTACT is a contact
 * ID, a parley: URI or the exact name of one contact; it is resolved
 * against contacts.list, which also names the contact in what is
 * printed.  Everything the user gives is checked before the first
 * request, so a bad command line sends nothing. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "cli/chat.h"

/* Names kept for `events` before the cache starts over. */
#define NAMES_MAX 4096

/* Calls method with params (consumed, NULL when building them failed for
 * lack of memory) and checks that the result is an object.  Returns 0
 * and *result, or an exit status. */
static int call_obj(struct cli *c, const char *method, json_t *params,
		    json_t **result)
{
	int r;

	*result = NULL;
	if (params == NULL) {
		cli_errorf(c, "out of memory");
		return EX_OSERR;
	}
	r = cli_call(c, method, params, result);
	json_decref(params);
	if (r == 0 && !json_is_object(*result)) {
		cli_errorf(c, "%s: the result is not an object", method);
		json_decref(*result);
		*result = NULL;
		r = EX_PROTOCOL;
	}
	return r;
}

/* Adds key: v to params when v is not NULL.  Returns params, or NULL
 * (params released) when out of memory; a NULL params stays NULL. */
static json_t *add_str(json_t *params, const char *key, const char *v)
{
	if (params == NULL || v == NULL)
		return params;
	if (json_object_set_new(params, key, json_string(v)) < 0) {
		json_decref(params);
		return NULL;
	}
	return params;
}

/* Prints result as JSON (-J) and flushes.  Returns the exit status. */
static int print_json_result(struct cli *c, const json_t *result)
{
	return cli__finish_output(c,
				  cli_print_json(c, result) < 0 ? EX_IOERR : 0);
}

/* Refuses text that is not UTF-8 (the API takes only UTF-8 strings). */
static bool need_utf8(struct cli *c, const char *what, const char *s,
		      size_t len)
{
	if (cli_utf8_valid(s, len))
		return true;
	cli_errorf(c, "%s is not valid UTF-8", what);
	return false;
}

/* Writes "parley: BEFORE ARG AFTER" on err, ARG escaped. */
static void error_arg(struct cli *c, const char *before, const char *arg,
		      const char *after)
{
	fprintf(c->err, "parley: %s", before);
	cli_put_text(c->err, arg, strlen(arg), -1);
	fprintf(c->err, "%s\n", after);
}

/* --- CONTACT arguments ------------------------------------------------- */

/* A resolved CONTACT. */
struct peer {
	char id[CLI_CONTACT_ID_LEN + 1];
	json_t *list;	   /* the contacts.list result */
	json_t *names;	   /* ID -> name, from list */
	const char *label; /* its name, or a short ID; in names or short */
	char short_id[CLI_SHORT_ID_SIZE];
};

static void peer_free(struct peer *p)
{
	json_decref(p->list);
	json_decref(p->names);
	p->list = p->names = NULL;
}

/* Resolves the CONTACT argument arg through contacts.list.  Returns 0
 * and *p (peer_free() it), or an exit status: EX_NOUSER when no contact
 * has that name, EX_DATAERR when several do. */
static int peer_resolve(struct cli *c, const char *arg, struct peer *p)
{
	size_t n;
	int r;

	memset(p, 0, sizeof *p);
	if ((r = cli_call(c, "contacts.list", NULL, &p->list)) != 0)
		return r;
	r = cli_contact_resolve(p->list, arg, p->id, &n);
	switch (-r) {
	case 0:
		break;
	case ENOENT:
		error_arg(c, "no contact is named \"", arg,
			  "\" (see 'parley contact list')");
		return EX_NOUSER;
	case EEXIST:
		fprintf(c->err, "parley: %zu contacts are named \"", n);
		cli_put_text(c->err, arg, strlen(arg), -1);
		fputs("\"; give the contact ID instead "
		      "(see 'parley contact list')\n",
		      c->err);
		return EX_DATAERR;
	default:
		cli_errorf(c, "contacts.list: malformed result");
		return EX_PROTOCOL;
	}
	p->names = cli_contact_names(p->list);
	if (p->names == NULL) {
		cli_errorf(c, "out of memory");
		return EX_OSERR;
	}
	p->label = cli_contact_label(p->names, p->id, p->short_id);
	return 0;
}

int cli__names_lookup(struct cli *c, json_t *names, const char *id)
{
	struct cli_msg m;
	json_int_t rid;
	json_t *fresh;
	int r;

	if (json_object_get(names, id) != NULL)
		return 0;
	/* Bounded: IDs from events are the daemon's to choose. */
	if (json_object_size(names) >= NAMES_MAX)
		json_object_clear(names);
	if ((r = cli_send(c, "contacts.list", NULL, &rid)) != 0)
		return r;
	if ((r = cli_await_msg(c, rid, "contacts.list", &m)) != 0)
		return r;
	if (m.kind == CLI_MSG_RESULT && cli_contacts_check(m.result) == 0 &&
	    (fresh = cli_contact_names(m.result)) != NULL) {
		json_object_update(names, fresh);
		json_decref(fresh);
	}
	cli_msg_clear(&m);
	if (json_object_get(names, id) == NULL)
		json_object_set_new(names, id, json_null());
	return 0;
}

/* --- options ---------------------------------------------------------- */

/* The options of the messaging commands; each takes some of them. */
struct chat_opts {
	const char *name;     /* --name */
	const char *greeting; /* --greeting */
	const char *receipts; /* --receipts: on, off or default */
	const char *reply_to; /* -r, --reply-to: a message id */
	const char *before;   /* -b, --before: a message id */
	const char *up_to;    /* -u, --up-to: a message id */
	long long limit;      /* -n, --limit: 1 to 1000; 0 if not given */
	bool qr;	      /* --qr */
	bool ids;	      /* -i, --ids */
};

/* Default and largest page of messages.list (docs/API.md). */
#define HISTORY_LIMIT_DEFAULT 50
#define HISTORY_LIMIT_MAX 1000

/* Parses the options of command cmd (named in help and errors; argv[0]
 * is the command, or the subcommand of contact): the short options of
 * shorts (a getopt_long string, ":n:h"), and the long-only ones whose
 * letters are in longs (N --name, G --greeting, R --receipts, q --qr).
 * Values are checked here.  Leaves optind at the first argument.
 * Returns -1 to go on, or the exit status to end with (0 after --help). */
static int chat_opts(struct cli *c, const char *cmd, int argc, char **argv,
		     const char *shorts, const char *longs, struct chat_opts *o)
{
	static const struct option opts[] = {
		{"name", required_argument, NULL, 'N'},
		{"greeting", required_argument, NULL, 'G'},
		{"receipts", required_argument, NULL, 'R'},
		{"qr", no_argument, NULL, 'q'},
		{"reply-to", required_argument, NULL, 'r'},
		{"before", required_argument, NULL, 'b'},
		{"up-to", required_argument, NULL, 'u'},
		{"limit", required_argument, NULL, 'n'},
		{"ids", no_argument, NULL, 'i'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char **id_opt;
	int ch, i;

	memset(o, 0, sizeof *o);
	optind = 0;
	while ((ch = getopt_long(argc, argv, shorts, opts, NULL)) != -1) {
		if (ch == ':' || ch == '?')
			return cli__bad_option(c, cmd, argv, ch);
		for (i = 0; opts[i].val != ch; i++)
			;
		/* getopt_long takes every long option of the table: refuse
		 * those this command does not have. */
		if (strchr(shorts, ch) == NULL && strchr(longs, ch) == NULL) {
			cli_errorf(c,
				   "%s%s%s takes no --%s; see 'parley help %s'",
				   cmd, strcmp(cmd, argv[0]) != 0 ? " " : "",
				   strcmp(cmd, argv[0]) != 0 ? argv[0] : "",
				   opts[i].name, cmd);
			return EX_USAGE;
		}
		id_opt = NULL;
		switch (ch) {
		case 'N':
			o->name = optarg;
			break;
		case 'G':
			o->greeting = optarg;
			break;
		case 'R':
			o->receipts = optarg;
			if (strcmp(optarg, "on") != 0 &&
			    strcmp(optarg, "off") != 0 &&
			    strcmp(optarg, "default") != 0)
				return cli__usage_error(
					c, cmd,
					"--receipts takes on, off or default");
			break;
		case 'q':
			o->qr = true;
			break;
		case 'r':
			id_opt = &o->reply_to;
			break;
		case 'b':
			id_opt = &o->before;
			break;
		case 'u':
			id_opt = &o->up_to;
			break;
		case 'n':
			if (!cli__parse_ll(optarg, 1, HISTORY_LIMIT_MAX,
					   &o->limit))
				return cli__usage_error(
					c, cmd,
					"-n needs a number from 1 to 1000");
			break;
		case 'i':
			o->ids = true;
			break;
		case 'h':
			cli__cmd_help(c->out, cli_cmd_find(cmd));
			return cli__finish_output(c, 0);
		}
		if (id_opt != NULL) {
			if (!cli_msg_id_valid(optarg)) {
				cli_errorf(c,
					   "%s: --%s needs a message id (32 "
					   "hex digits)",
					   cmd, opts[i].name);
				return EX_USAGE;
			}
			*id_opt = optarg;
		}
	}
	if ((o->name != NULL &&
	     !need_utf8(c, "the name", o->name, strlen(o->name))) ||
	    (o->greeting != NULL &&
	     !need_utf8(c, "the greeting", o->greeting, strlen(o->greeting))))
		return EX_DATAERR;
	return -1;
}

/* --- contact ----------------------------------------------------------- */

/* What each state-changing subcommand says it did: BEFORE LABEL AFTER. */
struct change {
	const char *verb;
	const char *method;
	const char *before;
	const char *after;
};

static const struct change changes[] = {
	{"accept", "contacts.accept", "", " is now a contact"},
	{"reject", "contacts.reject", "rejected the request of ", ""},
	{"remove", "contacts.remove", "removed ", " (the history is kept)"},
	{"block", "contacts.block", "blocked ", ""},
	{"unblock", "contacts.unblock", "unblocked ", ""},
};

static int print_change(struct cli *c, const char *before, const char *label,
			const char *after, const json_t *result)
{
	const json_t *state = json_object_get(result, "state");

	fputs(before, c->out);
	cli_put_text(c->out, label, strlen(label), -1);
	fputs(after, c->out);
	if (json_is_string(state)) {
		fputs(" (state: ", c->out);
		cli_put_text(c->out, json_string_value(state),
			     json_string_length(state), -1);
		fputc(')', c->out);
	}
	fputc('\n', c->out);
	return cli__finish_output(c, 0);
}

/* A CONTACT command: resolves argv[optind], calls method with
 * {key: ID} plus the members of extra (consumed; may be NULL), and
 * hands the result to done (c->json: printed as it is).  Returns the
 * exit status. */
static int peer_call(struct cli *c, const char *arg, const char *method,
		     const char *key, json_t *extra,
		     int (*done)(struct cli *c, const struct peer *p,
				 const json_t *result, const void *arg),
		     const void *done_arg)
{
	struct peer p = {0};
	json_t *params = NULL, *result = NULL;
	int r;

	if ((r = peer_resolve(c, arg, &p)) != 0)
		goto out;
	params = json_pack("{s:s}", key, p.id);
	if (params != NULL && extra != NULL &&
	    json_object_update(params, extra) < 0) {
		json_decref(params);
		params = NULL;
	}
	r = call_obj(c, method, params, &result);
	params = NULL;
	if (r != 0)
		goto out;
	r = c->json ? print_json_result(c, result)
		    : done(c, &p, result, done_arg);
out:
	json_decref(extra);
	json_decref(result);
	peer_free(&p);
	return r;
}

static int change_done(struct cli *c, const struct peer *p,
		       const json_t *result, const void *arg)
{
	const struct change *ch = arg;

	return print_change(c, ch->before, p->label, ch->after, result);
}

static int contact_change(struct cli *c, const struct change *ch, int argc,
			  char **argv)
{
	struct chat_opts o;
	int r;

	if ((r = chat_opts(c, "contact", argc, argv, ":h", "", &o)) >= 0)
		return r;
	if (argc - optind != 1)
		return cli__usage_error(c, "contact", "expected one CONTACT");
	return peer_call(c, argv[optind], ch->method, "id", NULL, change_done,
			 ch);
}

static int contact_add(struct cli *c, int argc, char **argv)
{
	char id[CLI_CONTACT_ID_LEN + 1], short_id[CLI_SHORT_ID_SIZE];
	struct chat_opts o;
	json_t *params, *result = NULL;
	int r;

	if ((r = chat_opts(c, "contact", argc, argv, ":h", "NG", &o)) >= 0)
		return r;
	if (argc - optind != 1)
		return cli__usage_error(c, "contact", "add expects one ID");
	if (!cli_contact_id_norm(argv[optind], id)) {
		error_arg(c, "not a contact ID or parley: URI: ", argv[optind],
			  "");
		return EX_DATAERR;
	}
	params = json_pack("{s:s}", "id", id);
	params = add_str(params, "name", o.name);
	params = add_str(params, "greeting", o.greeting);
	if ((r = call_obj(c, "contacts.add", params, &result)) != 0)
		return r;
	if (c->json)
		r = print_json_result(c, result);
	else
		r = print_change(
			c, "sent a contact request to ",
			o.name != NULL && o.name[0] != '\0'
				? o.name
				: cli_contact_label(NULL, id, short_id),
			"", result);
	json_decref(result);
	return r;
}

/* Prints a contacts.list result, or a contact wrapped as one, that
 * method answered. */
static int print_contacts(struct cli *c, const char *method, const json_t *list)
{
	if (cli_contacts_check(list) < 0) {
		cli_errorf(c, "%s: malformed result", method);
		return EX_PROTOCOL;
	}
	if (c->json)
		return print_json_result(c, list);
	return cli__finish_output(
		c, cli_print_contacts(c->out, list) < 0 ? EX_IOERR : 0);
}

static int contact_list(struct cli *c, int argc, char **argv)
{
	struct chat_opts o;
	json_t *result = NULL;
	int r;

	if ((r = chat_opts(c, "contact", argc, argv, ":h", "", &o)) >= 0)
		return r;
	if (argc - optind != 0)
		return cli__usage_error(c, "contact",
					"list expects no arguments");
	if ((r = call_obj(c, "contacts.list", json_object(), &result)) == 0)
		r = print_contacts(c, "contacts.list", result);
	json_decref(result);
	return r;
}

static int verify_done(struct cli *c, const struct peer *p,
		       const json_t *result, const void *arg)
{
	const struct chat_opts *o = arg;
	const json_t *qr = json_object_get(result, "qr");
	int r;

	if (o->qr) {
		if (!json_is_string(qr)) {
			cli_errorf(c, "contacts.verify: the result has no "
				      "\"qr\"");
			return EX_PROTOCOL;
		}
		r = cli__draw_qr(c, json_string_value(qr),
				 "the verification code");
		if (r != 0)
			return r;
	}
	return cli__finish_output(
		c,
		cli_print_safety(c->out, p->label, result) < 0 ? EX_IOERR : 0);
}

static int contact_verify(struct cli *c, int argc, char **argv)
{
	struct chat_opts o;
	int r;

	if ((r = chat_opts(c, "contact", argc, argv, ":h", "q", &o)) >= 0)
		return r;
	if (argc - optind != 1)
		return cli__usage_error(c, "contact",
					"verify expects one CONTACT");
	if (c->json && o.qr)
		return cli__usage_error(c, "contact",
					"--qr draws for people; it does not "
					"go with -J");
	return peer_call(c, argv[optind], "contacts.verify", "id", NULL,
			 verify_done, &o);
}

static int set_done(struct cli *c, const struct peer *p, const json_t *result,
		    const void *arg)
{
	json_t *one;
	int r;

	(void)p;
	(void)arg;
	/* The contact as `contact list` shows it. */
	one = json_pack("{s:[O]}", "contacts", result);
	if (one == NULL) {
		cli_errorf(c, "out of memory");
		return EX_OSERR;
	}
	r = print_contacts(c, "contacts.set", one);
	json_decref(one);
	return r;
}

static int contact_set(struct cli *c, int argc, char **argv)
{
	struct chat_opts o;
	json_t *extra;
	int r;

	if ((r = chat_opts(c, "contact", argc, argv, ":h", "NR", &o)) >= 0)
		return r;
	if (argc - optind != 1)
		return cli__usage_error(c, "contact",
					"set expects one CONTACT");
	if (o.name == NULL && o.receipts == NULL)
		return cli__usage_error(c, "contact",
					"set needs --name or --receipts");
	extra = json_object();
	extra = add_str(extra, "name", o.name);
	extra = add_str(extra, "receipts", o.receipts);
	if (extra == NULL) {
		cli_errorf(c, "out of memory");
		return EX_OSERR;
	}
	return peer_call(c, argv[optind], "contacts.set", "id", extra, set_done,
			 NULL);
}

int cli__cmd_contact(struct cli *c, int argc, char **argv)
{
	const char *verb;
	size_t i;

	if (argc < 2)
		return cli__usage_error(c, argv[0], "expected a subcommand");
	verb = argv[1];
	if (strcmp(verb, "-h") == 0 || strcmp(verb, "--help") == 0) {
		cli__cmd_help(c->out, cli_cmd_find(argv[0]));
		return cli__finish_output(c, 0);
	}
	/* The subcommand parses argv from its own name on. */
	argc--;
	argv++;
	if (strcmp(verb, "add") == 0)
		return contact_add(c, argc, argv);
	if (strcmp(verb, "list") == 0)
		return contact_list(c, argc, argv);
	if (strcmp(verb, "verify") == 0)
		return contact_verify(c, argc, argv);
	if (strcmp(verb, "set") == 0)
		return contact_set(c, argc, argv);
	for (i = 0; i < sizeof changes / sizeof changes[0]; i++)
		if (strcmp(verb, changes[i].verb) == 0)
			return contact_change(c, &changes[i], argc, argv);
	error_arg(c, "contact: unknown subcommand '", verb,
		  "'; see 'parley help contact'");
	return EX_USAGE;
}

/* --- send -------------------------------------------------------------- */

/* Reads the body from c->in: at most CLI_BODY_MAX bytes once one final
 * newline is taken off (the end of the last line, not part of the
 * message).  Returns 0 and *body (caller frees) and *len, or an exit
 * status. */
static int read_body(struct cli *c, char **body, size_t *len)
{
	/* Room for the limit, a final newline and one byte more, which
	 * tells a body over the limit. */
	size_t cap = CLI_BODY_MAX + 2, n = 0, k;
	char *buf;

	*body = NULL;
	buf = malloc(cap);
	if (buf == NULL) {
		cli_errorf(c, "out of memory");
		return EX_OSERR;
	}
	if (isatty(fileno(c->in)))
		cli_errorf(c, "type the message; end it with Ctrl-D");
	while (n < cap && (k = fread(buf + n, 1, cap - n, c->in)) > 0)
		n += k;
	if (ferror(c->in)) {
		cli_errorf(c, "cannot read the message from standard input");
		free(buf);
		return EX_IOERR;
	}
	if (n > 0 && buf[n - 1] == '\n')
		n--;
	if (n > CLI_BODY_MAX) {
		cli_errorf(c,
			   "the message is longer than %d bytes; nothing "
			   "was sent",
			   CLI_BODY_MAX);
		free(buf);
		return EX_DATAERR;
	}
	*body = buf;
	*len = n;
	return 0;
}

/* Joins args with single spaces.  Returns 0 and *body, *len, or an exit
 * status. */
static int join_body(struct cli *c, int argc, char **argv, char **body,
		     size_t *len)
{
	size_t n = 0, k;
	char *buf;
	int i;

	*body = NULL;
	for (i = 0; i < argc; i++) {
		n += strlen(argv[i]) + (i > 0);
		if (n > CLI_BODY_MAX) {
			cli_errorf(c,
				   "the message is longer than %d bytes; "
				   "nothing was sent",
				   CLI_BODY_MAX);
			return EX_DATAERR;
		}
	}
	buf = malloc(n + 1);
	if (buf == NULL) {
		cli_errorf(c, "out of memory");
		return EX_OSERR;
	}
	n = 0;
	for (i = 0; i < argc; i++) {
		if (i > 0)
			buf[n++] = ' ';
		k = strlen(argv[i]);
		memcpy(buf + n, argv[i], k);
		n += k;
	}
	buf[n] = '\0';
	*body = buf;
	*len = n;
	return 0;
}

static int send_done(struct cli *c, const struct peer *p, const json_t *result,
		     const void *arg)
{
	const json_t *id = json_object_get(result, "id");

	(void)p;
	(void)arg;
	if (!json_is_string(id)) {
		cli_errorf(c, "messages.send: the result has no \"id\"");
		return EX_PROTOCOL;
	}
	cli_put_text(c->out, json_string_value(id), json_string_length(id), -1);
	fputc('\n', c->out);
	return cli__finish_output(c, 0);
}

int cli__cmd_send(struct cli *c, int argc, char **argv)
{
	struct chat_opts o;
	json_t *extra = NULL;
	char *body = NULL;
	size_t len = 0;
	int r, nargs;

	/* '+': options end at CONTACT, so the message may start with '-'. */
	if ((r = chat_opts(c, argv[0], argc, argv, "+:r:h", "", &o)) >= 0)
		return r;
	nargs = argc - optind;
	if (nargs < 1)
		return cli__usage_error(c, argv[0],
					"expected CONTACT [TEXT...]");
	/* The body first: a message that cannot go sends nothing. */
	if (nargs == 1 || (nargs == 2 && strcmp(argv[optind + 1], "-") == 0))
		r = read_body(c, &body, &len);
	else
		r = join_body(c, nargs - 1, argv + optind + 1, &body, &len);
	if (r != 0)
		goto out;
	if (len == 0) {
		cli_errorf(c, "the message is empty; nothing was sent");
		r = EX_DATAERR;
		goto out;
	}
	if (!need_utf8(c, "the message", body, len)) {
		r = EX_DATAERR;
		goto out;
	}
	/* UTF-8 allows U+0000; the API does not (docs/API.md). */
	if (memchr(body, '\0', len) != NULL) {
		cli_errorf(c, "the message holds a NUL byte; nothing was sent");
		r = EX_DATAERR;
		goto out;
	}
	extra = json_pack("{s:s%}", "body", body, len);
	extra = add_str(extra, "reply_to", o.reply_to);
	if (extra == NULL) {
		cli_errorf(c, "out of memory");
		r = EX_OSERR;
		goto out;
	}
	r = peer_call(c, argv[optind], "messages.send", "to", extra, send_done,
		      NULL);
out:
	free(body);
	return r;
}

/* --- history, read, typing --------------------------------------------- */

static int history_done(struct cli *c, const struct peer *p,
			const json_t *result, const void *arg)
{
	const struct chat_opts *o = arg;

	if (!json_is_array(json_object_get(result, "messages"))) {
		cli_errorf(c, "messages.list: the result has no \"messages\"");
		return EX_PROTOCOL;
	}
	return cli__finish_output(c, cli_print_history(c->out, result, p->label,
						       o->ids,
						       (size_t)o->limit) < 0
					     ? EX_IOERR
					     : 0);
}

int cli__cmd_history(struct cli *c, int argc, char **argv)
{
	struct chat_opts o;
	json_t *extra;
	int r;

	if ((r = chat_opts(c, argv[0], argc, argv, ":n:b:ih", "", &o)) >= 0)
		return r;
	if (argc - optind != 1)
		return cli__usage_error(c, argv[0], "expected one CONTACT");
	/* For people, one more than shown tells whether there are earlier
	 * messages; -J asks for exactly what the user said. */
	if (o.limit == 0)
		o.limit = HISTORY_LIMIT_DEFAULT;
	extra = json_pack(
		"{s:I}", "limit",
		(json_int_t)(o.limit +
			     (!c->json && o.limit < HISTORY_LIMIT_MAX)));
	extra = add_str(extra, "before", o.before);
	if (extra == NULL) {
		cli_errorf(c, "out of memory");
		return EX_OSERR;
	}
	return peer_call(c, argv[optind], "messages.list", "with", extra,
			 history_done, &o);
}

static int read_done(struct cli *c, const struct peer *p, const json_t *result,
		     const void *arg)
{
	const json_t *marked = json_object_get(result, "marked");

	(void)arg;
	if (!json_is_integer(marked)) {
		cli_errorf(c, "messages.mark_read: the result has no "
			      "\"marked\"");
		return EX_PROTOCOL;
	}
	fprintf(c->out, "marked %lld message%s from ",
		(long long)json_integer_value(marked),
		json_integer_value(marked) == 1 ? "" : "s");
	cli_put_text(c->out, p->label, strlen(p->label), -1);
	fputs(" read\n", c->out);
	return cli__finish_output(c, 0);
}

int cli__cmd_read(struct cli *c, int argc, char **argv)
{
	struct chat_opts o;
	json_t *extra;
	int r;

	if ((r = chat_opts(c, argv[0], argc, argv, ":u:h", "", &o)) >= 0)
		return r;
	if (argc - optind != 1)
		return cli__usage_error(c, argv[0], "expected one CONTACT");
	extra = add_str(json_object(), "up_to", o.up_to);
	if (extra == NULL) {
		cli_errorf(c, "out of memory");
		return EX_OSERR;
	}
	return peer_call(c, argv[optind], "messages.mark_read", "with", extra,
			 read_done, NULL);
}

/* Parses "on" or "off".  Returns false for anything else. */
static bool parse_onoff(const char *s, bool *on)
{
	if (strcmp(s, "on") == 0)
		*on = true;
	else if (strcmp(s, "off") == 0)
		*on = false;
	else
		return false;
	return true;
}

static int typing_done(struct cli *c, const struct peer *p,
		       const json_t *result, const void *arg)
{
	(void)p;
	(void)result;
	(void)arg;
	return cli__finish_output(c, 0);
}

int cli__cmd_typing(struct cli *c, int argc, char **argv)
{
	struct chat_opts o;
	json_t *extra;
	bool on;
	int r;

	if ((r = chat_opts(c, argv[0], argc, argv, ":h", "", &o)) >= 0)
		return r;
	if (argc - optind != 2 || !parse_onoff(argv[optind + 1], &on))
		return cli__usage_error(c, argv[0], "expected CONTACT on|off");
	extra = json_pack("{s:b}", "typing", on);
	if (extra == NULL) {
		cli_errorf(c, "out of memory");
		return EX_OSERR;
	}
	return peer_call(c, argv[optind], "contacts.typing", "id", extra,
			 typing_done, NULL);
}

/* --- settings ---------------------------------------------------------- */

int cli__cmd_settings(struct cli *c, int argc, char **argv)
{
	struct chat_opts o;
	json_t *params, *result = NULL;
	const char *key;
	bool on;
	int r, i;

	if ((r = chat_opts(c, argv[0], argc, argv, ":h", "", &o)) >= 0)
		return r;
	if ((argc - optind) % 2 != 0)
		return cli__usage_error(c, argv[0],
					"expected SETTING on|off pairs");
	params = json_object();
	for (i = optind; params != NULL && i < argc; i += 2) {
		if (strcmp(argv[i], "read-receipts") == 0) {
			key = "read_receipts";
		} else if (strcmp(argv[i], "accept-requests") == 0) {
			key = "accept_requests";
		} else {
			json_decref(params);
			return cli__usage_error(c, argv[0],
						"settings are read-receipts "
						"and accept-requests");
		}
		if (!parse_onoff(argv[i + 1], &on)) {
			json_decref(params);
			return cli__usage_error(c, argv[0],
						"a setting is on or off");
		}
		if (json_object_set_new(params, key, json_boolean(on)) < 0) {
			json_decref(params);
			params = NULL;
		}
	}
	r = call_obj(c, argc > optind ? "settings.set" : "settings.get", params,
		     &result);
	if (r == 0)
		r = c->json ? print_json_result(c, result)
			    : cli__finish_output(
				      c, cli_print_settings(c->out, result) < 0
						 ? EX_IOERR
						 : 0);
	json_decref(result);
	return r;
}

/* parley relay [status | find]: relay.status in words, or the relays
 * advertised in the DHT this hour, one node key a line. */
int cli__cmd_relay(struct cli *c, int argc, char **argv)
{
	struct chat_opts o;
	json_t *result = NULL;
	const char *sub;
	bool find;
	int r;

	if ((r = chat_opts(c, argv[0], argc, argv, ":h", "", &o)) >= 0)
		return r;
	if (argc - optind > 1)
		return cli__usage_error(c, argv[0], "expected status or find");
	sub = argc > optind ? argv[optind] : "status";
	find = strcmp(sub, "find") == 0;
	if (!find && strcmp(sub, "status") != 0)
		return cli__usage_error(c, argv[0], "expected status or find");
	r = call_obj(c, find ? "relay.find" : "relay.status", json_object(),
		     &result);
	if (r == 0 && c->json) {
		r = print_json_result(c, result);
	} else if (r == 0 && find) {
		const json_t *v;
		size_t i;

		json_array_foreach(json_object_get(result, "relays"), i, v)
			if (json_is_string(v))
				fprintf(c->out, "%s\n", json_string_value(v));
		r = cli__finish_output(c, ferror(c->out) ? EX_IOERR : 0);
	} else if (r == 0) {
		r = cli__finish_output(
			c, cli_print_relay(c->out, result) < 0 ? EX_IOERR : 0);
	}
	json_decref(result);
	return r;
}
