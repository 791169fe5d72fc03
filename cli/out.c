/* cli/out.c: what the parley command prints.
 *
 * Human output is "label  value" lines for the known fields of a result,
 * then any field this version does not know yet (the API only adds
 * fields), so a newer daemon never loses information on an older CLI.
 * Strings from the daemon go through cli_fputs_safe(), which replaces control
 * characters: a reply must not be able to drive the terminal. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <qrencode.h>

#include "cli/cli.h"

#define LABEL_WIDTH 13

/* Is p the start of a C1 control character (U+0080 to U+009F) in
 * UTF-8?  Some terminals act on those as they do on ESC sequences. */
static bool is_c1(const unsigned char *p)
{
	return p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f;
}

void cli_fputs_safe(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	for (; *p != '\0'; p++) {
		if (is_c1(p)) {
			fputc('?', f);
			p++;
		} else {
			fputc(*p < 0x20 || *p == 0x7f ? '?' : *p, f);
		}
	}
}

/* Writes any JSON value for a human: strings bare, the rest compact. */
static void put_value(FILE *f, const json_t *v)
{
	char *s;

	if (json_is_string(v)) {
		cli_fputs_safe(f, json_string_value(v));
		return;
	}
	s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	if (s != NULL)
		cli_fputs_safe(f, s);
	free(s);
}

static void put_label(FILE *f, const char *label)
{
	/* a long label still gets a space before its value */
	fprintf(f, "%-*s", strlen(label) < LABEL_WIDTH ? LABEL_WIDTH
							: (int)strlen(label) + 1,
		label);
}

static int finish(FILE *f)
{
	return ferror(f) ? -EIO : 0;
}

/* jansson escapes C0 controls in strings but leaves DEL and the C1
 * controls raw (JSON allows both).  Outside strings the encoding is
 * plain ASCII, so each such character is inside a string, where the
 * \u escape written here means the same character: still the same JSON,
 * and nothing the daemon sends drives the terminal. */
int cli_print_json(struct cli *c, const json_t *v)
{
	size_t flags = JSON_ENCODE_ANY;
	const unsigned char *p;
	char *s;

	flags |= c->json ? JSON_COMPACT : JSON_INDENT(2);
	s = json_dumps(v, flags);
	if (s == NULL)
		return -ENOMEM;
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (is_c1(p)) {
			fprintf(c->out, "\\u%04x", p[1]);
			p++;
		} else if (*p == 0x7f) {
			fputs("\\u007f", c->out);
		} else {
			fputc(*p, c->out);
		}
	}
	free(s);
	fputc('\n', c->out);
	return finish(c->out);
}

void cli_fmt_duration(char *buf, size_t size, json_int_t ms)
{
	long long s;

	if (ms < 0) {
		snprintf(buf, size, "?");
		return;
	}
	s = ms / 1000;
	if (s < 10)
		snprintf(buf, size, "%lld.%02llds", s, (ms % 1000) / 10);
	else if (s < 60)
		snprintf(buf, size, "%llds", s);
	else if (s < 3600)
		snprintf(buf, size, "%lldm %02llds", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, size, "%lldh %02lldm %02llds", s / 3600,
			 s / 60 % 60, s % 60);
	else
		snprintf(buf, size, "%lldd %02lldh %02lldm", s / 86400,
			 s / 3600 % 24, s / 60 % 60);
}

void cli_fmt_bytes(char *buf, size_t size, json_int_t n)
{
	static const char *const unit[] = {"KiB", "MiB", "GiB", "TiB"};
	double v = (double)n;
	int i = -1;

	if (n < 1024) {
		snprintf(buf, size, "%lld bytes", (long long)n);
		return;
	}
	while (v >= 1024 && i < 3) {
		v /= 1024;
		i++;
	}
	snprintf(buf, size, "%.1f %s", v, unit[i]);
}

void cli_fmt_time(char *buf, size_t size, json_int_t ms, bool with_ms)
{
	time_t t;
	struct tm tm;
	size_t n;

	if (ms < 0)
		ms = 0;
	t = (time_t)(ms / 1000);
	if (gmtime_r(&t, &tm) == NULL ||
	    (n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm)) == 0) {
		snprintf(buf, size, "?");
		return;
	}
	if (with_ms)
		snprintf(buf + n, size - n, ".%03lldZ", (long long)(ms % 1000));
	else
		snprintf(buf + n, size - n, "Z");
}

/* One known field of a result: how to label and format it. */
enum field_fmt {
	FIELD_FMT_PLAIN,    /* the value as it is */
	FIELD_FMT_DURATION, /* integer ms */
	FIELD_FMT_TIME_S,   /* integer Unix seconds */
	FIELD_FMT_SEALED,   /* boolean: is the key file sealed */
	FIELD_FMT_BYTES,    /* integer byte count */
	FIELD_FMT_ONOFF,    /* boolean: "on" or "off" */
};

struct field {
	const char *key;
	const char *label;
	enum field_fmt fmt;
};

static void put_field(FILE *f, const struct field *fd, const json_t *v)
{
	char buf[64];

	put_label(f, fd->label);
	switch (fd->fmt) {
	case FIELD_FMT_PLAIN:
		put_value(f, v);
		break;
	case FIELD_FMT_DURATION:
		if (!json_is_integer(v)) {
			put_value(f, v);
			break;
		}
		cli_fmt_duration(buf, sizeof buf, json_integer_value(v));
		fputs(buf, f);
		break;
	case FIELD_FMT_TIME_S:
		if (!json_is_integer(v) ||
		    json_integer_value(v) > LLONG_MAX / 1000) {
			put_value(f, v);
			break;
		}
		cli_fmt_time(buf, sizeof buf, json_integer_value(v) * 1000,
			     false);
		fputs(buf, f);
		break;
	case FIELD_FMT_BYTES:
		if (!json_is_integer(v) || json_integer_value(v) < 0) {
			put_value(f, v);
			break;
		}
		cli_fmt_bytes(buf, sizeof buf, json_integer_value(v));
		fputs(buf, f);
		break;
	case FIELD_FMT_ONOFF:
		if (!json_is_boolean(v))
			put_value(f, v);
		else
			fputs(json_is_true(v) ? "on" : "off", f);
		break;
	case FIELD_FMT_SEALED:
		if (!json_is_boolean(v))
			put_value(f, v);
		else
			fputs(json_is_true(v) ? "sealed with a passphrase"
					      : "not sealed (no passphrase)",
			      f);
		break;
	}
	fputc('\n', f);
}

static bool field_known(const struct field *fields, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(fields[i].key, key) == 0)
			return true;
	return false;
}

/* Prints the known fields of obj in table order, then the unknown ones
 * under their own names, in the order the daemon sent them. */
static void put_fields(FILE *f, const json_t *obj, const struct field *fields,
		       size_t n, const char *const *skip)
{
	const char *key;
	json_t *v;
	char label[64];
	size_t i;

	for (i = 0; i < n; i++) {
		v = json_object_get(obj, fields[i].key);
		if (v != NULL)
			put_field(f, &fields[i], v);
	}
	json_object_foreach((json_t *)obj, key, v)
	{
		bool skipped = false;

		for (i = 0; skip != NULL && skip[i] != NULL; i++)
			skipped |= strcmp(skip[i], key) == 0;
		if (skipped || field_known(fields, n, key))
			continue;
		/* Unknown field: label it by its key, underscores as spaces. */
		snprintf(label, sizeof label, "%s", key);
		for (char *p = label; *p != '\0'; p++)
			if (*p == '_')
				*p = ' ';
		cli_fputs_safe(f, label);
		fprintf(f, "%*s",
			strlen(label) < LABEL_WIDTH
				? (int)(LABEL_WIDTH - strlen(label))
				: 1,
			"");
		put_value(f, v);
		fputc('\n', f);
	}
}

static const struct field status_fields[] = {
	{"uptime_ms", "uptime", FIELD_FMT_DURATION},
	{"node_id", "node id", FIELD_FMT_PLAIN},
	{"data_dir", "data dir", FIELD_FMT_PLAIN},
	{"socket", "socket", FIELD_FMT_PLAIN},
	{"clients", "clients", FIELD_FMT_PLAIN},
	{"events_first_seq", "first event", FIELD_FMT_PLAIN},
	{"events_last_seq", "last event", FIELD_FMT_PLAIN},
	{"store_map_bytes", "store map", FIELD_FMT_BYTES},
};

/* node.status's messaging counters, on one line: what a user asks of a
 * messenger (who is there, did texts go), the rest with -J. */
static void put_messaging(FILE *f, const json_t *m)
{
	json_int_t v[6];
	static const char *const keys[6] = {
		"contacts_held", "contacts_online", "texts_in", "texts_out",
		"retransmits",	 "duplicates_in"};

	for (int i = 0; i < 6; i++) {
		const json_t *x = json_object_get(m, keys[i]);

		v[i] = json_is_integer(x) ? json_integer_value(x) : 0;
	}
	put_label(f, "messaging");
	fprintf(f,
		"%" JSON_INTEGER_FORMAT " contacts (%" JSON_INTEGER_FORMAT
		" online), texts %" JSON_INTEGER_FORMAT
		" in / %" JSON_INTEGER_FORMAT " out, %" JSON_INTEGER_FORMAT
		" sent again, %" JSON_INTEGER_FORMAT " duplicates\n",
		v[0], v[1], v[2], v[3], v[4], v[5]);
}

int cli_print_status(FILE *f, const json_t *status, const json_t *version)
{
	static const char *const skip[] = {"version", "pid", "messaging",
					   NULL};
	const json_t *v;

	/* First line: which daemon, from api.version when we have it. */
	put_label(f, "daemon");
	v = json_object_get(version, "daemon");
	if (json_is_string(v)) {
		cli_fputs_safe(f, json_string_value(v));
	} else {
		fputs("parleyd ", f);
		v = json_object_get(status, "version");
		if (v != NULL)
			put_value(f, v);
		else
			fputs("(version unknown)", f);
	}
	v = json_object_get(status, "pid");
	if (v != NULL) {
		fputs(" (pid ", f);
		put_value(f, v);
		fputc(')', f);
	}
	fputc('\n', f);
	v = json_object_get(version, "version");
	if (v != NULL) {
		put_label(f, "api");
		put_value(f, v);
		fputc('\n', f);
	}
	put_fields(f, status, status_fields,
		   sizeof status_fields / sizeof status_fields[0], skip);
	v = json_object_get(status, "messaging");
	if (json_is_object(v))
		put_messaging(f, v);
	return finish(f);
}

static const struct field identity_fields[] = {
	{"id", "contact id", FIELD_FMT_PLAIN},
	{"uri", "uri", FIELD_FMT_PLAIN},
	{"account_key", "account key", FIELD_FMT_PLAIN},
	{"device_key", "device key", FIELD_FMT_PLAIN},
	{"node_id", "node id", FIELD_FMT_PLAIN},
	{"created_at", "created", FIELD_FMT_TIME_S},
	{"sealed", "key file", FIELD_FMT_SEALED},
};

int cli_print_identity(FILE *f, const json_t *id)
{
	put_fields(f, id, identity_fields,
		   sizeof identity_fields / sizeof identity_fields[0], NULL);
	return finish(f);
}

void cli__event_head(FILE *f, const json_t *ev)
{
	const json_t *at = json_object_get(ev, "at");
	char buf[64];

	put_value(f, json_object_get(ev, "seq"));
	fputc(' ', f);
	if (json_is_integer(at)) {
		cli_fmt_time(buf, sizeof buf, json_integer_value(at), true);
		fputs(buf, f);
	} else {
		fputc('-', f);
	}
	fputc(' ', f);
	put_value(f, json_object_get(ev, "type"));
}

static const struct field settings_fields[] = {
	{"read_receipts", "receipts", FIELD_FMT_ONOFF},
	{"accept_requests", "requests", FIELD_FMT_ONOFF},
};

int cli_print_settings(FILE *f, const json_t *settings)
{
	put_fields(f, settings, settings_fields,
		   sizeof settings_fields / sizeof settings_fields[0], NULL);
	return finish(f);
}

static const struct field relay_service_fields[] = {
	{"mailboxes", "mailboxes", FIELD_FMT_PLAIN},
	{"items", "items held", FIELD_FMT_PLAIN},
	{"bytes", "bytes held", FIELD_FMT_BYTES},
	{"deposits", "deposits", FIELD_FMT_PLAIN},
	{"deposits_refused", "refused", FIELD_FMT_PLAIN},
	{"over_quota", "over quota", FIELD_FMT_PLAIN},
	{"fetches", "fetches", FIELD_FMT_PLAIN},
	{"request_fetches", "request fetches", FIELD_FMT_PLAIN},
	{"polls", "polls", FIELD_FMT_PLAIN},
};

static const struct field relay_client_fields[] = {
	{"deposited", "texts left", FIELD_FMT_PLAIN},
	{"deposit_failed", "not left", FIELD_FMT_PLAIN},
	{"taken", "texts taken", FIELD_FMT_PLAIN},
	{"fetches", "fetches", FIELD_FMT_PLAIN},
	{"fetch_failed", "fetches failed", FIELD_FMT_PLAIN},
	{"polls", "polls", FIELD_FMT_PLAIN},
	{"poll_failed", "polls failed", FIELD_FMT_PLAIN},
	{"notified", "notified", FIELD_FMT_PLAIN},
};

int cli_print_relay(FILE *f, const json_t *st)
{
	static const char *const skip[] = {"home_relays", NULL};
	const json_t *svc = json_object_get(st, "service");
	const json_t *cl = json_object_get(st, "client");
	const json_t *home = json_object_get(cl, "home_relays");
	const json_t *v;
	size_t i;

	put_label(f, "relay");
	fputs(json_is_true(json_object_get(st, "enabled"))
		      ? "on (this daemon keeps texts for others)"
		      : "off",
	      f);
	fputc('\n', f);
	if (json_is_true(json_object_get(st, "enabled")) &&
	    json_is_object(svc))
		put_fields(f, svc, relay_service_fields,
			   sizeof relay_service_fields /
				   sizeof relay_service_fields[0],
			   NULL);
	put_label(f, "home relays");
	if (json_array_size(home) == 0)
		fputs("none", f);
	json_array_foreach(home, i, v)
	{
		if (i > 0)
			fprintf(f, "\n%-*s", LABEL_WIDTH, "");
		put_value(f, v);
	}
	fputc('\n', f);
	if (json_is_object(cl)) {
		/* what happened as a client: the counters that moved */
		json_t *moved = json_object();
		const char *key;
		json_t *x;

		json_object_foreach((json_t *)cl, key, x)
		{
			if (moved != NULL && !(json_is_integer(x) &&
					       json_integer_value(x) == 0))
				json_object_set(moved, key, x);
		}
		put_fields(f, moved != NULL ? moved : cl, relay_client_fields,
			   sizeof relay_client_fields /
				   sizeof relay_client_fields[0],
			   skip);
		json_decref(moved);
	}
	return finish(f);
}

/* "SEQ TIME TYPE DATA", DATA compact JSON and left out when empty. */
int cli_print_event(FILE *f, const json_t *ev)
{
	const json_t *data = json_object_get(ev, "data");

	cli__event_head(f, ev);
	if (data != NULL &&
	    !(json_is_object(data) && json_object_size(data) == 0)) {
		fputc(' ', f);
		put_value(f, data);
	}
	fputc('\n', f);
	return finish(f);
}

/* Is the module at (x, y) light?  Outside the symbol is the quiet zone. */
static bool qr_light(const QRcode *q, int x, int y)
{
	if (x < 0 || y < 0 || x >= q->width || y >= q->width)
		return true;
	return (q->data[y * q->width + x] & 1) == 0;
}

int cli_print_qr(FILE *f, const char *text, bool colour)
{
	/* ISO/IEC 18004 section 6.3.8: the quiet zone is 4 modules wide. */
	static const int quiet = 4;
	/* Indexed by (top light) << 1 | (bottom light). */
	static const char *const glyph[4] = {" ", "\u2584", "\u2580", "\u2588"};
	QRcode *q;
	int x, y, r = 0;

	q = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
	if (q == NULL)
		return errno == ENOMEM ? -ENOMEM : -EINVAL;
	for (y = -quiet; y < q->width + quiet; y += 2) {
		if (colour)
			fputs("\033[37;40m", f);
		for (x = -quiet; x < q->width + quiet; x++)
			fputs(glyph[qr_light(q, x, y) << 1 |
				    qr_light(q, x, y + 1)],
			      f);
		if (colour)
			fputs("\033[0m", f);
		fputc('\n', f);
	}
	QRcode_free(q);
	if (ferror(f))
		r = -EIO;
	return r;
}
