/* cli/chat.h: the messaging commands of parley (contact, send, history,
 * read, typing, settings; the chat events of `events`) and the pure
 * parts they are built from: contact IDs and names, the escaping of text
 * that other people wrote, and the human forms of the results.
 *
 * The methods are those of docs/API.md (contacts.*, messages.*,
 * settings.*).  Everything printed here for people that came from a peer
 * (names, greetings, message bodies) goes through cli_put_text(): a
 * message must not be able to drive the terminal. */
#ifndef PARLEY_CLI_CHAT_H
#define PARLEY_CLI_CHAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "cli/cli.h"

/* A contact ID: 56 base32 characters (docs/PROTOCOL-keyfile.md). */
#define CLI_CONTACT_ID_LEN 56
/* A message id: 32 hex digits. */
#define CLI_MSG_ID_LEN 32
/* The longest message body the daemon takes, in bytes. */
#define CLI_BODY_MAX 65536
/* Room for a shortened contact ID: 12 characters, "…" and NUL. */
#define CLI_SHORT_ID_SIZE 16

/* Is arg a contact ID or a parley: URI by its shape: an optional
 * "parley:" prefix (any case), then 56 characters of the base32 alphabet
 * (either case)?  The checksum is the daemon's to check.  If so, writes
 * the ID in lower case without prefix to id and returns true. */
bool cli_contact_id_norm(const char *arg, char id[CLI_CONTACT_ID_LEN + 1]);

/* Is s a message id: exactly 32 hex digits? */
bool cli_msg_id_valid(const char *s);

/* Checks a contacts.list result: an object whose "contacts" is an array
 * of objects that each have a string "id".  Returns 0 or -EBADMSG. */
int cli_contacts_check(const json_t *list);

/* Finds the contact that arg names, in a contacts.list result.  arg is a
 * contact ID or parley: URI (by shape, see cli_contact_id_norm; such an
 * arg is taken as it is, listed or not: the daemon keeps the history of
 * removed contacts), else the exact name of one contact.  Returns 0 and
 * the ID in id; -ENOENT when no contact has that name; -EEXIST when
 * several do (*num_named says how many); -EBADMSG for a malformed list.
 * num_named may be NULL. */
int cli_contact_resolve(const json_t *list, const char *arg,
			char id[CLI_CONTACT_ID_LEN + 1], size_t *num_named);

/* A new object mapping each listed contact's ID to its name (contacts
 * without a name are left out), or NULL when out of memory. */
json_t *cli_contact_names(const json_t *list);

/* What to call contact id for people: its name in names (an object as
 * cli_contact_names() makes; may be NULL), else the first 12 characters
 * of the ID and "…", written to buf.  The name is borrowed from names;
 * print it with cli_put_text(). */
const char *cli_contact_label(const json_t *names, const char *id,
			      char buf[CLI_SHORT_ID_SIZE]);

/* Writes len bytes of UTF-8 text from a peer for a terminal.  C0
 * controls and DEL come out in caret notation ("^[" for ESC, "^?" for
 * DEL, "^I" for a tab); C1 controls and the Unicode bidirectional
 * formatting characters as "<U+XXXX>", so no text can move the cursor,
 * change colours or reorder what is shown; bytes that are not UTF-8 as
 * '?'.  With indent >= 0 a newline starts a new line that is indented by
 * indent spaces; with indent < 0 it is shown as "^J" too, so the text
 * stays on one line.  f may be NULL to only measure.  Returns the number
 * of columns the last line took (after its indent). */
size_t cli_put_text(FILE *f, const char *s, size_t len, int indent);

/* Is s (len bytes) well-formed UTF-8 (RFC 3629)? */
bool cli_utf8_valid(const char *s, size_t len);

/* Formats a Unix time in ms as local time, "2026-11-28 10:01:02"
 * (CLI_LOCAL_TIME_LEN characters), or "?" when it cannot. */
#define CLI_LOCAL_TIME_LEN 19
void cli_fmt_local(char *buf, size_t size, json_int_t ms);

/* Human forms.  All return 0, or -EIO when writing failed. */

/* A table of the contacts of a contacts.list result (checked with
 * cli_contacts_check): name, state, presence, last seen, receipts, ID;
 * or "no contacts". */
int cli_print_contacts(FILE *f, const json_t *list);

/* The newest show messages of a messages.list result, one per line
 * (more for a body of several lines): local time, who ("me" or peer), a
 * direction mark ("<" in, ">" out), the body, and the status of outgoing
 * ones in brackets.  With ids, each line starts with the message id.
 * When the result holds more than show (ask for one more to know), a
 * first line says how to see the messages before those shown. */
int cli_print_history(FILE *f, const json_t *result, const char *peer, bool ids,
		      size_t show);

/* A contacts.verify result: the safety number in three rows of four
 * groups and what to do with it. */
int cli_print_safety(FILE *f, const char *peer, const json_t *verify);

/* One event's params as "SEQ TIME TYPE TEXT": the chat events
 * (message.received "NAME: BODY", message.status, contact.request,
 * contact.accepted, presence, typing) in words, with contacts named
 * through names (may be NULL); others, and chat events whose data is
 * not as documented, as cli_print_event() does. */
int cli_print_chat_event(FILE *f, const json_t *ev, const json_t *names);

/* The contact ID a chat event is about, to be named (borrowed from ev),
 * or NULL. */
const char *cli_event_contact(const json_t *ev);

/* Command handlers (chat.c), entries of the table in cmds.c. */
int cli__cmd_contact(struct cli *c, int argc, char **argv);
int cli__cmd_send(struct cli *c, int argc, char **argv);
int cli__cmd_history(struct cli *c, int argc, char **argv);
int cli__cmd_read(struct cli *c, int argc, char **argv);
int cli__cmd_typing(struct cli *c, int argc, char **argv);
int cli__cmd_settings(struct cli *c, int argc, char **argv);
int cli__cmd_relay(struct cli *c, int argc, char **argv);

/* For `events` in human form: makes sure names (an object) has an entry
 * for id, asking the daemon's contacts.list once for an ID it does not
 * hold yet; an ID still unknown then is kept as null, so it is not asked
 * for again.  An error answer just leaves the ID unnamed.  Returns 0, or
 * an exit status when the connection failed. */
int cli__names_lookup(struct cli *c, json_t *names, const char *id);

#endif
