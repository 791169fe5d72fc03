/* cli/chat_out.c: the pure parts of the messaging commands: contact IDs
 * and names, the escaping of text that peers wrote, and the human forms
 * of contacts, history, safety numbers and chat events.
 *
 * Nothing here talks to the daemon; results come in as jansson values
 * owned by the caller.  The daemon is ours, but names, greetings and
 * bodies come from other people: they are printed only through
 * cli_put_text(), which leaves no control character and no
 * bidirectional override raw.  Results are printed as far as they are
 * well-formed; a field of the wrong type is shown as compact JSON rather
 * than trusted. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/chat.h"

/* Widest name column of the tables; longer names push their row out. */
#define NAME_COLS_MAX 24

static const char b32_alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";

bool cli_contact_id_norm(const char *arg, char id[CLI_CONTACT_ID_LEN + 1])
{
	size_t i;
	char ch;

	if (strncasecmp(arg, "parley:", 7) == 0)
		arg += 7;
	if (strlen(arg) != CLI_CONTACT_ID_LEN)
		return false;
	for (i = 0; i < CLI_CONTACT_ID_LEN; i++) {
		ch = arg[i];
		if (ch >= 'A' && ch <= 'Z')
			ch = (char)(ch - 'A' + 'a');
		if (ch == '\0' || strchr(b32_alphabet, ch) == NULL)
			return false;
		id[i] = ch;
	}
	id[CLI_CONTACT_ID_LEN] = '\0';
	return true;
}

bool cli_msg_id_valid(const char *s)
{
	size_t i;

	for (i = 0; i < CLI_MSG_ID_LEN; i++)
		if (s[i] == '\0' ||
		    strchr("0123456789abcdefABCDEF", s[i]) == NULL)
			return false;
	return s[i] == '\0';
}

int cli_contacts_check(const json_t *list)
{
	const json_t *arr = json_object_get(list, "contacts"), *ct;
	size_t i;

	if (!json_is_array(arr))
		return -EBADMSG;
	json_array_foreach(arr, i, ct)
	{
		if (!json_is_object(ct) ||
		    !json_is_string(json_object_get(ct, "id")))
			return -EBADMSG;
	}
	return 0;
}

int cli_contact_resolve(const json_t *list, const char *arg,
			char id[CLI_CONTACT_ID_LEN + 1], size_t *num_named)
{
	const json_t *ct, *name;
	size_t i, found = 0, len = strlen(arg);
	int r;

	if (num_named != NULL)
		*num_named = 0;
	if ((r = cli_contacts_check(list)) < 0)
		return r;
	/* An ID wins over a name that looks like one. */
	if (cli_contact_id_norm(arg, id))
		return 0;
	if (len == 0)
		return -ENOENT;
	json_array_foreach(json_object_get(list, "contacts"), i, ct)
	{
		name = json_object_get(ct, "name");
		if (!json_is_string(name) || json_string_length(name) != len ||
		    memcmp(json_string_value(name), arg, len) != 0)
			continue;
		if (found++ == 0 &&
		    !cli_contact_id_norm(
			    json_string_value(json_object_get(ct, "id")), id))
			return -EBADMSG;
	}
	if (num_named != NULL)
		*num_named = found;
	if (found == 0)
		return -ENOENT;
	return found == 1 ? 0 : -EEXIST;
}

json_t *cli_contact_names(const json_t *list)
{
	json_t *names = json_object();
	const json_t *ct, *name;
	size_t i;

	if (names == NULL)
		return NULL;
	json_array_foreach(json_object_get(list, "contacts"), i, ct)
	{
		const json_t *id = json_object_get(ct, "id");

		name = json_object_get(ct, "name");
		if (!json_is_string(id) || !json_is_string(name) ||
		    json_string_length(name) == 0)
			continue;
		/* json_object_set takes a reference of its own. */
		if (json_object_set(names, json_string_value(id),
				    (json_t *)name) < 0) {
			json_decref(names);
			return NULL;
		}
	}
	return names;
}

const char *cli_contact_label(const json_t *names, const char *id,
			      char buf[CLI_SHORT_ID_SIZE])
{
	const json_t *name = json_object_get(names, id);

	if (json_is_string(name) && json_string_length(name) > 0)
		return json_string_value(name);
	/* 12 characters of 56 tell contacts apart; the ellipsis says the
	 * rest is left out. */
	snprintf(buf, CLI_SHORT_ID_SIZE, "%.12s\xe2\x80\xa6", id);
	return buf;
}

/* --- text from peers --------------------------------------------------- */

/* Decodes one UTF-8 sequence at s (n > 0 bytes left).  Returns its length
 * and *cp, or 0 when it is not well-formed UTF-8 (RFC 3629 section 4: no
 * overlong forms, so nothing spells ESC in three bytes; no surrogates;
 * nothing above U+10FFFF). */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
	uint32_t v, min;
	size_t len, i;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		v = s[0] & 0x1fu;
		min = 0x80;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3;
		v = s[0] & 0x0fu;
		min = 0x800;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		v = s[0] & 0x07u;
		min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		v = v << 6 | (s[i] & 0x3fu);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return len;
}

/* The Unicode bidirectional formatting characters (UAX #9 section 2):
 * they reorder the text around them, so a name could pose as another. */
static bool is_bidi_format(uint32_t cp)
{
	return cp == 0x061c || cp == 0x200e || cp == 0x200f ||
	       (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

size_t cli_put_text(FILE *f, const char *s, size_t len, int indent)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n, cols = 0;
	uint32_t cp;

	/* FIXME: every character counts as one column; East Asian wide
	 * characters and emoji take two on most terminals, so a table with
	 * such names is not quite aligned. */
	while (i < len) {
		n = utf8_next(p + i, len - i, &cp);
		if (n == 0) {
			if (f != NULL)
				fputc('?', f);
			cols++;
			i++;
			continue;
		}
		if (cp == '\n' && indent >= 0) {
			if (f != NULL)
				fprintf(f, "\n%*s", indent, "");
			cols = 0;
		} else if (cp < 0x20 || cp == 0x7f) {
			if (f != NULL) {
				fputc('^', f);
				fputc(cp == 0x7f ? '?' : (int)cp + 0x40, f);
			}
			cols += 2;
		} else if ((cp >= 0x80 && cp <= 0x9f) || is_bidi_format(cp)) {
			if (f != NULL)
				fprintf(f, "<U+%04X>", (unsigned)cp);
			cols += 8;
		} else {
			if (f != NULL)
				fwrite(p + i, 1, n, f);
			cols++;
		}
		i += n;
	}
	return cols;
}

bool cli_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n;
	uint32_t cp;

	while (i < len) {
		if ((n = utf8_next(p + i, len - i, &cp)) == 0)
			return false;
		i += n;
	}
	return true;
}

/* Writes a JSON value for people on one line: a string as text, null or
 * a missing value as "-", anything else as compact JSON; all escaped.
 * Returns the columns taken. */
static size_t put_json(FILE *f, const json_t *v)
{
	size_t cols;
	char *s;

	if (json_is_string(v))
		return cli_put_text(f, json_string_value(v),
				    json_string_length(v), -1);
	if (v == NULL || json_is_null(v)) {
		if (f != NULL)
			fputc('-', f);
		return 1;
	}
	s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	if (s == NULL)
		return 0;
	cols = cli_put_text(f, s, strlen(s), -1);
	free(s);
	return cols;
}

static size_t put_str(FILE *f, const char *s)
{
	return cli_put_text(f, s, strlen(s), -1);
}

static void pad(FILE *f, size_t used, size_t width)
{
	if (used < width)
		fprintf(f, "%*s", (int)(width - used), "");
}

void cli_fmt_local(char *buf, size_t size, json_int_t ms)
{
	time_t t;
	struct tm tm;

	/* Up to the end of year 9999, so the column keeps its width. */
	if (ms < 0 || ms > 253402300799999LL) {
		snprintf(buf, size, "?");
		return;
	}
	t = (time_t)(ms / 1000);
	if (localtime_r(&t, &tm) == NULL ||
	    strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(buf, size, "?");
}

static int finish(FILE *f)
{
	return ferror(f) ? -EIO : 0;
}

/* --- contacts ---------------------------------------------------------- */

/* The columns of `contact list`, after NAME: each an object member. */
static const struct {
	const char *key;
	const char *title;
} contact_cols[] = {
	{"state", "STATE"},
	{"presence", "PRESENCE"},
	{"last_seen", "LAST SEEN"},
	{"receipts", "RECEIPTS"},
};

#define NUM_CONTACT_COLS (sizeof contact_cols / sizeof contact_cols[0])

/* last_seen: local time, "never" for 0, else as it is. */
static size_t put_cell(FILE *f, const char *key, const json_t *v)
{
	char buf[64];

	if (strcmp(key, "last_seen") == 0 && json_is_integer(v)) {
		if (json_integer_value(v) == 0)
			snprintf(buf, sizeof buf, "never");
		else
			cli_fmt_local(buf, sizeof buf, json_integer_value(v));
		if (f != NULL)
			fputs(buf, f);
		return strlen(buf);
	}
	return put_json(f, v);
}

static size_t put_name(FILE *f, const json_t *ct)
{
	const json_t *name = json_object_get(ct, "name");

	if (json_is_string(name) && json_string_length(name) == 0)
		name = NULL;
	return put_json(f, name);
}

int cli_print_contacts(FILE *f, const json_t *list)
{
	const json_t *arr = json_object_get(list, "contacts"), *ct;
	size_t i, k, w, width[NUM_CONTACT_COLS], name_w = strlen("NAME");

	if (json_array_size(arr) == 0) {
		fputs("no contacts\n", f);
		return finish(f);
	}
	for (k = 0; k < NUM_CONTACT_COLS; k++)
		width[k] = strlen(contact_cols[k].title);
	json_array_foreach(arr, i, ct)
	{
		w = put_name(NULL, ct);
		if (w > name_w)
			name_w = w < NAME_COLS_MAX ? w : NAME_COLS_MAX;
		for (k = 0; k < NUM_CONTACT_COLS; k++) {
			w = put_cell(NULL, contact_cols[k].key,
				     json_object_get(ct, contact_cols[k].key));
			if (w > width[k])
				width[k] =
					w < NAME_COLS_MAX ? w : NAME_COLS_MAX;
		}
	}
	fputs("NAME", f);
	pad(f, strlen("NAME"), name_w + 2);
	for (k = 0; k < NUM_CONTACT_COLS; k++) {
		fputs(contact_cols[k].title, f);
		pad(f, strlen(contact_cols[k].title), width[k] + 2);
	}
	fputs("ID\n", f);
	json_array_foreach(arr, i, ct)
	{
		pad(f, put_name(f, ct), name_w + 2);
		for (k = 0; k < NUM_CONTACT_COLS; k++)
			pad(f,
			    put_cell(f, contact_cols[k].key,
				     json_object_get(ct, contact_cols[k].key)),
			    width[k] + 2);
		put_json(f, json_object_get(ct, "id"));
		fputc('\n', f);
	}
	return finish(f);
}

/* --- history ----------------------------------------------------------- */

/* One message of messages.list.  who_w: width of the who column. */
static void put_message(FILE *f, const json_t *m, const char *peer,
			size_t who_w, bool ids)
{
	const json_t *dir = json_object_get(m, "dir");
	const json_t *at = json_object_get(m, "sent_at");
	const json_t *body = json_object_get(m, "body");
	const json_t *reply = json_object_get(m, "reply_to");
	const json_t *status = json_object_get(m, "status");
	bool out = json_is_string(dir) &&
		   strcmp(json_string_value(dir), "out") == 0;
	bool in = json_is_string(dir) &&
		  strcmp(json_string_value(dir), "in") == 0;
	char buf[64];
	size_t col = 0, w;

	if (ids) {
		col += put_json(f, json_object_get(m, "id")) + 2;
		fputs("  ", f);
	}
	if (json_is_integer(at))
		cli_fmt_local(buf, sizeof buf, json_integer_value(at));
	else
		snprintf(buf, sizeof buf, "?");
	fputs(buf, f);
	pad(f, strlen(buf), CLI_LOCAL_TIME_LEN + 2);
	col += (strlen(buf) > CLI_LOCAL_TIME_LEN ? strlen(buf)
						 : CLI_LOCAL_TIME_LEN) +
	       2;
	w = out ? (fputs("me", f), 2) : put_str(f, peer);
	pad(f, w, who_w + 2);
	col += (w > who_w ? w : who_w) + 2;
	fputs(out ? "> " : in ? "< " : "? ", f);
	col += 2;
	if (json_is_string(reply)) {
		fputs("(re ", f);
		cli_put_text(f, json_string_value(reply),
			     json_string_length(reply) < 8
				     ? json_string_length(reply)
				     : 8,
			     -1);
		fputs(") ", f);
	}
	if (json_is_string(body))
		cli_put_text(f, json_string_value(body),
			     json_string_length(body), (int)col);
	else
		put_json(f, body);
	if (out && status != NULL) {
		fputs("  [", f);
		put_json(f, status);
		fputc(']', f);
	}
	fputc('\n', f);
}

int cli_print_history(FILE *f, const json_t *result, const char *peer, bool ids,
		      size_t show)
{
	const json_t *msgs = json_object_get(result, "messages"), *m;
	size_t i, first = 0, who_w = cli_put_text(NULL, peer, strlen(peer), -1);

	if (json_array_size(msgs) == 0) {
		fputs("no messages with ", f);
		put_str(f, peer);
		fputc('\n', f);
		return finish(f);
	}
	if (who_w < 2)
		who_w = 2; /* "me" */
	if (who_w > NAME_COLS_MAX)
		who_w = NAME_COLS_MAX;
	/* More than asked for: there are messages before those shown. */
	if (json_array_size(msgs) > show) {
		first = json_array_size(msgs) - show;
		fputs("(earlier messages: --before ", f);
		put_json(f, json_object_get(json_array_get(msgs, first), "id"));
		fputs(")\n", f);
	}
	json_array_foreach(msgs, i, m)
	{
		if (i < first)
			continue;
		if (json_is_object(m)) {
			put_message(f, m, peer, who_w, ids);
		} else {
			put_json(f, m);
			fputc('\n', f);
		}
	}
	return finish(f);
}

/* --- safety numbers ---------------------------------------------------- */

int cli_print_safety(FILE *f, const char *peer, const json_t *verify)
{
	const json_t *sn = json_object_get(verify, "safety_number");
	const char *s, *e;
	size_t groups = 0, len;
	bool digits = true;

	fputs("Safety number with ", f);
	put_str(f, peer);
	fputs(":\n\n", f);
	if (json_is_string(sn)) {
		/* Twelve groups of digits: three rows of four. */
		s = json_string_value(sn);
		len = json_string_length(sn);
		for (size_t i = 0; i < len; i++) {
			if (s[i] != ' ' && (s[i] < '0' || s[i] > '9'))
				digits = false;
			if (s[i] != ' ' && (i == 0 || s[i - 1] == ' '))
				groups++;
		}
	}
	if (json_is_string(sn) && digits && groups == 12) {
		groups = 0;
		for (s = json_string_value(sn); *s != '\0'; s = e) {
			while (*s == ' ')
				s++;
			if (*s == '\0')
				break;
			e = s + strcspn(s, " ");
			fputs(groups % 4 == 0 ? "    " : " ", f);
			fwrite(s, 1, (size_t)(e - s), f);
			if (++groups % 4 == 0)
				fputc('\n', f);
		}
	} else {
		fputs("    ", f);
		put_json(f, sn);
		fputc('\n', f);
	}
	fputs("\nIf ", f);
	put_str(f, peer);
	fputs(" sees the same number for you, no one stands between you.\n"
	      "Compare it in person, or over a call where you know the "
	      "voice;\n"
	      "a number sent over parley itself proves nothing.\n",
	      f);
	return finish(f);
}

/* --- chat events ------------------------------------------------------- */

static const char *data_str(const json_t *data, const char *key)
{
	const json_t *v = json_object_get(data, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

const char *cli_event_contact(const json_t *ev)
{
	const json_t *type = json_object_get(ev, "type");
	const json_t *data = json_object_get(ev, "data");
	const char *t;

	if (!json_is_string(type))
		return NULL;
	t = json_string_value(type);
	if (strcmp(t, "message.received") == 0)
		return data_str(data, "from");
	if (strcmp(t, "message.status") == 0)
		return data_str(data, "to");
	if (strcmp(t, "contact.accepted") == 0 || strcmp(t, "presence") == 0 ||
	    strcmp(t, "typing") == 0)
		return data_str(data, "id");
	return NULL;
}

static void put_label(FILE *f, const json_t *names, const char *id)
{
	char buf[CLI_SHORT_ID_SIZE];

	put_str(f, cli_contact_label(names, id, buf));
}

/* The chat events whose data is as documented, so they can be put in
 * words; CHAT_EV_NONE for every other event. */
enum chat_ev {
	CHAT_EV_NONE,
	CHAT_EV_RECEIVED, /* {id, from, body | body_omitted, sent_at, ...} */
	CHAT_EV_STATUS,	  /* {id, to, status} */
	CHAT_EV_REQUEST,  /* {id, name, greeting} */
	CHAT_EV_ACCEPTED, /* {id} */
	CHAT_EV_PRESENCE, /* {id, presence, last_seen} */
	CHAT_EV_TYPING,	  /* {id, typing} */
};

static enum chat_ev chat_ev_kind(const char *t, const json_t *data)
{
	bool has_id = data_str(data, "id") != NULL;

	/* A body too big for an event comes as body_omitted: true. */
	if (strcmp(t, "message.received") == 0)
		return data_str(data, "from") != NULL &&
				       (data_str(data, "body") != NULL ||
					json_is_true(json_object_get(
						data, "body_omitted")))
			       ? CHAT_EV_RECEIVED
			       : CHAT_EV_NONE;
	if (strcmp(t, "message.status") == 0)
		return has_id && data_str(data, "to") != NULL &&
				       data_str(data, "status") != NULL
			       ? CHAT_EV_STATUS
			       : CHAT_EV_NONE;
	if (strcmp(t, "contact.request") == 0)
		return has_id ? CHAT_EV_REQUEST : CHAT_EV_NONE;
	if (strcmp(t, "contact.accepted") == 0)
		return has_id ? CHAT_EV_ACCEPTED : CHAT_EV_NONE;
	if (strcmp(t, "presence") == 0)
		return has_id && data_str(data, "presence") != NULL
			       ? CHAT_EV_PRESENCE
			       : CHAT_EV_NONE;
	if (strcmp(t, "typing") == 0)
		return has_id && json_is_boolean(
					 json_object_get(data, "typing"))
			       ? CHAT_EV_TYPING
			       : CHAT_EV_NONE;
	return CHAT_EV_NONE;
}

/* Writes the words after "SEQ TIME TYPE " for an event of kind k. */
static void put_chat_words(FILE *f, enum chat_ev k, const json_t *data,
			   const json_t *names)
{
	const json_t *body = json_object_get(data, "body");
	const json_t *seen = json_object_get(data, "last_seen");
	const char *id = data_str(data, "id"), *s;
	char buf[64];

	switch (k) {
	case CHAT_EV_NONE:
		break;
	case CHAT_EV_RECEIVED:
		/* One event, one line: newlines of the body as ^J. */
		put_label(f, names, data_str(data, "from"));
		fputs(": ", f);
		if (json_is_string(body))
			cli_put_text(f, json_string_value(body),
				     json_string_length(body), -1);
		else
			fputs("(a long message: see parley history)", f);
		break;
	case CHAT_EV_STATUS:
		put_str(f, id);
		fputs(" to ", f);
		put_label(f, names, data_str(data, "to"));
		fputs(": ", f);
		put_str(f, data_str(data, "status"));
		break;
	case CHAT_EV_REQUEST:
		/* Not named through names: the name is what they call
		 * themselves, so it goes in quotes next to the full ID. */
		fputs("from ", f);
		put_str(f, id);
		if ((s = data_str(data, "name")) != NULL && s[0] != '\0') {
			fputs(" \"", f);
			put_json(f, json_object_get(data, "name"));
			fputc('"', f);
		}
		if ((s = data_str(data, "greeting")) != NULL && s[0] != '\0') {
			fputs(": ", f);
			put_json(f, json_object_get(data, "greeting"));
		}
		break;
	case CHAT_EV_ACCEPTED:
		put_label(f, names, id);
		fputs(" accepted your request", f);
		break;
	case CHAT_EV_PRESENCE:
		put_label(f, names, id);
		fputc(' ', f);
		put_str(f, data_str(data, "presence"));
		if (strcmp(data_str(data, "presence"), "online") != 0 &&
		    json_is_integer(seen) && json_integer_value(seen) > 0) {
			cli_fmt_local(buf, sizeof buf,
				      json_integer_value(seen));
			fputs(", last seen ", f);
			fputs(buf, f);
		}
		break;
	case CHAT_EV_TYPING:
		put_label(f, names, id);
		fputs(json_is_true(json_object_get(data, "typing"))
			      ? " is typing"
			      : " stopped typing",
		      f);
		break;
	}
}

int cli_print_chat_event(FILE *f, const json_t *ev, const json_t *names)
{
	const json_t *type = json_object_get(ev, "type");
	const json_t *data = json_object_get(ev, "data");
	enum chat_ev k;

	if (!json_is_string(type) || !json_is_object(data))
		return cli_print_event(f, ev);
	k = chat_ev_kind(json_string_value(type), data);
	if (k == CHAT_EV_NONE)
		return cli_print_event(f, ev);
	cli__event_head(f, ev);
	fputc(' ', f);
	put_chat_words(f, k, data, names);
	fputc('\n', f);
	return finish(f);
}
