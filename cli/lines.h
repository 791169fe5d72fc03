/* cli/lines.h: newline framing of the daemon's replies, without I/O.
 *
 * The local API (DESIGN.md section 9) sends one compact JSON object per
 * line.  struct cli_lines collects the bytes the caller read from the
 * socket and hands back whole lines; it never holds a partial line longer
 * than its maximum, so a daemon that never sends a newline cannot make the
 * client grow without bound. */
#ifndef PARLEY_CLI_LINES_H
#define PARLEY_CLI_LINES_H

#include <stddef.h>

/* Default limit on one reply line, without its newline: 16 MiB. */
#define CLI_LINE_MAX_DEFAULT ((size_t)16 << 20)

struct cli_lines {
	char *buf;	/* bytes held: [start, len) not yet returned */
	size_t len;	/* end of the data in buf */
	size_t cap;	/* allocated size of buf */
	size_t start;	/* first byte not yet returned as a line */
	size_t scanned; /* bytes after start known to hold no '\n' */
	size_t max;	/* longest line accepted, newline excluded */
};

/* Prepares an empty buffer accepting lines of at most max bytes (max > 0).
 * Allocates nothing until the first feed.  Always succeeds. */
void cli_lines_init(struct cli_lines *l, size_t max);

/* Frees the buffer; the struct may be initialised again.  NULL-safe. */
void cli_lines_close(struct cli_lines *l);

/* Appends len bytes read from the peer.  Call cli_lines_next() until it
 * returns 0 before feeding again: then the buffer holds at most one
 * partial line and its size stays below max + len + 1.
 * Returns 0, -ENOMEM, or -E2BIG when the partial line held already
 * exceeds max (cli_lines_next() reported it; the stream is unusable). */
int cli_lines_feed(struct cli_lines *l, const void *data, size_t len);

/* Takes the next whole line out of the buffer.  Returns 1 and sets *line
 * (NUL-terminated, newline removed, valid until the next feed or close)
 * and *len; 0 when no whole line is held yet; -E2BIG when a line, whole or
 * not yet ended, is longer than max. */
int cli_lines_next(struct cli_lines *l, const char **line, size_t *len);

/* Number of bytes held that belong to no returned line yet. */
size_t cli_lines_pending(const struct cli_lines *l);

#endif
