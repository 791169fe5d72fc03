/* jsonw.c: see jsonw.h. */
#include "node/jsonw.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void jw_init(struct jw *w, size_t max)
{
	memset(w, 0, sizeof *w);
	w->max = max;
}

/* Room for n more bytes and a NUL. */
static int reserve(struct jw *w, size_t n)
{
	size_t need, cap;
	char *b;

	if (w->err != 0)
		return -1;
	if (n > w->max || w->len > w->max - n) {
		w->err = -E2BIG;
		return -1;
	}
	need = w->len + n + 1;
	if (need <= w->cap)
		return 0;
	cap = w->cap != 0 ? w->cap : 256;
	while (cap < need)
		cap *= 2;
	b = realloc(w->buf, cap);
	if (b == NULL) {
		w->err = -ENOMEM;
		return -1;
	}
	w->buf = b;
	w->cap = cap;
	return 0;
}

void jw_raw(struct jw *w, const char *s, size_t n)
{
	if (reserve(w, n) < 0)
		return;
	memcpy(w->buf + w->len, s, n);
	w->len += n;
	w->buf[w->len] = '\0';
}

void jw_lit(struct jw *w, const char *s)
{
	jw_raw(w, s, strlen(s));
}

void jw_str(struct jw *w, const char *s, size_t n)
{
	static const char hexd[] = "0123456789abcdef";
	size_t i = 0;

	jw_raw(w, "\"", 1);
	while (i < n && w->err == 0) {
		size_t run = i;
		unsigned char ch;

		/* copy the longest stretch that needs no escape at once */
		while (run < n && (unsigned char)s[run] >= 0x20 &&
		       s[run] != '"' && s[run] != '\\')
			run++;
		if (run > i) {
			jw_raw(w, s + i, run - i);
			i = run;
			continue;
		}
		ch = (unsigned char)s[i++];
		switch (ch) {
		case '"':
			jw_raw(w, "\\\"", 2);
			break;
		case '\\':
			jw_raw(w, "\\\\", 2);
			break;
		case '\n':
			jw_raw(w, "\\n", 2);
			break;
		case '\r':
			jw_raw(w, "\\r", 2);
			break;
		case '\t':
			jw_raw(w, "\\t", 2);
			break;
		case '\b':
			jw_raw(w, "\\b", 2);
			break;
		case '\f':
			jw_raw(w, "\\f", 2);
			break;
		default: {
			char u[6] = {'\\', 'u', '0', '0', hexd[ch >> 4],
				     hexd[ch & 15]};

			jw_raw(w, u, sizeof u);
		}
		}
	}
	jw_raw(w, "\"", 1);
}

void jw_u64(struct jw *w, uint64_t v)
{
	char d[20];
	size_t n = 0;

	do {
		d[sizeof d - 1 - n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	jw_raw(w, d + sizeof d - n, n);
}

void jw_key(struct jw *w, const char *key, int first)
{
	if (!first)
		jw_raw(w, ",", 1);
	jw_str(w, key, strlen(key));
	jw_raw(w, ":", 1);
}

char *jw_finish(struct jw *w, int *err)
{
	char *out = NULL;

	if (w->err == 0 && w->buf == NULL)
		jw_raw(w, "", 0);
	*err = w->err;
	if (w->err == 0) {
		out = w->buf;
		w->buf = NULL;
	}
	jw_free(w);
	return out;
}

void jw_free(struct jw *w)
{
	free(w->buf);
	jw_init(w, w->max);
}
