/* jsonw: a small writer of compact JSON (RFC 8259) for the hot events,
 * where building a jansson tree only to print it cost more than the rest
 * of a message's work.  It appends to a growable buffer with a limit;
 * any failure (no memory, over the limit) is sticky and reported once,
 * by jw_finish.  Strings must be valid UTF-8 (the caller checks): they
 * are copied as they are but for '"', '\\' and the controls below 0x20,
 * which are escaped (RFC 8259 section 7). */
#ifndef PARLEY_NODE_JSONW_H
#define PARLEY_NODE_JSONW_H

#include <stddef.h>
#include <stdint.h>

struct jw {
	char *buf;
	size_t len, cap, max;
	int err; /* 0, -ENOMEM or -E2BIG */
};

/* An empty writer that will refuse to grow past max bytes. */
void jw_init(struct jw *w, size_t max);

/* Appends bytes as they are (punctuation, keys known to need no escape). */
void jw_raw(struct jw *w, const char *s, size_t n);
void jw_lit(struct jw *w, const char *s); /* jw_raw of a C string */

/* Appends s[0..n) as a JSON string, quotes included. */
void jw_str(struct jw *w, const char *s, size_t n);

/* Appends an unsigned integer. */
void jw_u64(struct jw *w, uint64_t v);

/* Appends ,"key": (no comma when first is nonzero). */
void jw_key(struct jw *w, const char *key, int first);

/* The NUL-terminated text, owned by the caller (free), or NULL with the
 * sticky error in *err.  The writer is empty afterwards. */
char *jw_finish(struct jw *w, int *err);

/* Frees what the writer holds (after an error, or instead of finishing). */
void jw_free(struct jw *w);

#endif
