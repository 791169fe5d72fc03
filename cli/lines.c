/* cli/lines.c: splits the daemon's byte stream into lines (see lines.h).
 *
 * The buffer is compacted on each feed so returned lines start at offset
 * 0 again; scanned remembers how far the search for '\n' got, so a long
 * line arriving in many small reads is searched once, not once per read. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli/lines.h"

void cli_lines_init(struct cli_lines *l, size_t max)
{
	memset(l, 0, sizeof *l);
	l->max = max;
}

void cli_lines_close(struct cli_lines *l)
{
	if (l == NULL)
		return;
	free(l->buf);
	l->buf = NULL;
	l->len = l->cap = l->start = l->scanned = 0;
}

size_t cli_lines_pending(const struct cli_lines *l)
{
	return l->len - l->start;
}

int cli_lines_feed(struct cli_lines *l, const void *data, size_t len)
{
	size_t pending = l->len - l->start;
	size_t need, cap;
	char *p;

	if (l->scanned == pending && pending > l->max)
		return -E2BIG;
	if (len == 0)
		return 0;
	if (l->start > 0) {
		memmove(l->buf, l->buf + l->start, pending);
		l->len = pending;
		l->start = 0;
	}
	/* One spare byte so the line can be NUL-terminated in place even
	 * when it ends exactly at the end of the data. */
	if (len > SIZE_MAX - pending - 1)
		return -E2BIG;
	need = pending + len + 1;
	if (need > l->cap) {
		/* Doubling keeps a long line in many reads linear; the clamp
		 * keeps the bound of lines.h (max + len + 1). */
		cap = l->cap < 4096 ? 4096 : l->cap;
		while (cap < need)
			cap = cap > SIZE_MAX / 2 ? need : cap * 2;
		if (cap > l->max + len + 1)
			cap = l->max + len + 1;
		if (cap < need)
			cap = need;
		p = realloc(l->buf, cap);
		if (p == NULL)
			return -ENOMEM;
		l->buf = p;
		l->cap = cap;
	}
	memcpy(l->buf + l->len, data, len);
	l->len += len;
	return 0;
}

int cli_lines_next(struct cli_lines *l, const char **line, size_t *len)
{
	size_t pending = l->len - l->start;
	char *from, *nl;
	size_t n;

	*line = NULL;
	*len = 0;
	from = l->buf + l->start + l->scanned;
	nl = pending > l->scanned ? memchr(from, '\n', pending - l->scanned)
				  : NULL;
	if (nl == NULL) {
		l->scanned = pending;
		return pending > l->max ? -E2BIG : 0;
	}
	n = (size_t)(nl - (l->buf + l->start));
	if (n > l->max) {
		l->scanned = n;
		return -E2BIG;
	}
	*nl = '\0';
	*line = l->buf + l->start;
	*len = n;
	l->start += n + 1;
	l->scanned = 0;
	return 1;
}
