/* jsonr: a small strict reader of one JSON text (RFC 8259), for the
 * request lines of the local API, where building a jansson tree only to
 * look up four members cost more than the rest of most requests.
 *
 * jsonr_parse() checks the whole text and records every value in a flat
 * array of tokens inside struct jsonr, in text order: a container is
 * followed by its contents (an object by key, value, key, value...), so
 * nothing is allocated and the tokens point into the caller's text, which
 * must outlive every accessor call.  Strings are unescaped only when read.
 *
 * What it accepts is RFC 8259 with these choices, each also what jansson
 * (json_loadb with JSON_REJECT_DUPLICATES | JSON_DECODE_ANY) does, so the
 * API's answers did not change when it replaced jansson on the request
 * path (tests/fuzz/fuzz_jsonr.c compares the two):
 *   - any value at the top level, surrounded by optional whitespace;
 *   - strings must be valid UTF-8 (no overlong forms, no surrogates, no
 *     code point above U+10FFFF); \u escapes of a lone or misordered
 *     surrogate are refused;
 *   - NUL is refused everywhere: a raw 0 byte, and the escape \u0000 in
 *     any string, key or value, so every string read back is a C string
 *     (jansson 2.14 lets a raw 0 byte right after a number through);
 *   - a key that appears twice in one object (compared after unescaping,
 *     so "a" and "\u0061" are the same key) is refused, at any depth;
 *   - an integer (no fraction, no exponent) must fit in int64_t; -0 is 0.
 * And these limits, where jansson has none or others (-E2BIG):
 *   - at most JSONR_TOKENS_MAX values, JSONR_DEPTH_MAX nested containers,
 *     JSONR_STRING_MAX bytes in one string once unescaped;
 *   - a number with a fraction or an exponent is checked for its syntax
 *     only (its value is never read: the API has no such parameter), so
 *     1e400, which jansson refuses as an overflow, is accepted.
 *
 * Token indices are ints: 0 is the top-level value, -1 means "none". */
#ifndef PARLEY_NODE_JSONR_H
#define PARLEY_NODE_JSONR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSONR_TOKENS_MAX 2048		   /* values in one text */
#define JSONR_DEPTH_MAX 32		   /* nested arrays and objects */
#define JSONR_STRING_MAX (256 * 1024)	   /* bytes of one unescaped string */
#define JSONR_TEXT_MAX (64u * 1024 * 1024) /* bytes of text (offsets fit) */

enum jsonr_type {
	JSONR_NULL,
	JSONR_FALSE,
	JSONR_TRUE,
	JSONR_INT,  /* an integer within int64_t */
	JSONR_REAL, /* a number with a fraction or an exponent */
	JSONR_STRING,
	JSONR_ARRAY,
	JSONR_OBJECT,
};

/* One value.  Private to jsonr.c; in the header so that struct jsonr can
 * be embedded. */
struct jsonr_tok {
	uint32_t pos;	 /* offset of the first byte (string: after '"') */
	uint32_t len;	 /* bytes of text (string: between the quotes) */
	uint32_t end;	 /* index of the first token after this value */
	uint32_t n;	 /* string: unescaped bytes; container: entries */
	uint32_t hash;	 /* key strings: hash of the unescaped bytes */
	uint8_t type;	 /* enum jsonr_type */
	uint8_t escaped; /* string: contains a backslash */
};

/* A parsed text: about 48 KiB, so embed it in a heap object or make it
 * static rather than put it on a small stack. */
struct jsonr {
	const char *text;
	size_t num_toks;
	struct jsonr_tok tok[JSONR_TOKENS_MAX];
	size_t err_pos;	     /* after a failure: offset of the culprit */
	const char *err_msg; /* after a failure: static English text */
};

/* Parses text[0..len) (no NUL needed; text must stay valid and unchanged
 * while j is used).  Returns 0, -EINVAL (not JSON as described above) or
 * -E2BIG (over a limit, JSONR_TEXT_MAX included); on failure err_pos and
 * err_msg say where and what, and no token may be read. */
int jsonr_parse(struct jsonr *j, const char *text, size_t len);

/* The type of token t, which must be a token of j (0 <= t < num_toks). */
enum jsonr_type jsonr_type(const struct jsonr *j, int t);

/* The members of an object or the elements of an array: jsonr_count is
 * how many; jsonr_first gives the first (for an object its key: the value
 * is the token right after, key + 1), jsonr_next the one after t in the
 * container c; both give -1 when there is none (or c is no container). */
size_t jsonr_count(const struct jsonr *j, int c);
int jsonr_first(const struct jsonr *j, int c);
int jsonr_next(const struct jsonr *j, int c, int t);

/* The value of member key in object obj, or -1 when obj is not an object
 * or has no such member. */
int jsonr_get(const struct jsonr *j, int obj, const char *key);

/* String token t: jsonr_str_len is its unescaped length in bytes (0 when t
 * is no string); jsonr_str_eq compares it with the C string s;
 * jsonr_str unescapes it into buf with a terminating NUL and stores the
 * length (NUL excluded) in *len.  jsonr_str returns 0, -EINVAL when t is
 * not a string, -E2BIG when buf holds fewer than length + 1 bytes. */
size_t jsonr_str_len(const struct jsonr *j, int t);
bool jsonr_str_eq(const struct jsonr *j, int t, const char *s);
int jsonr_str(const struct jsonr *j, int t, char *buf, size_t cap, size_t *len);

/* The value of an integer token, or -EINVAL when t is not JSONR_INT. */
int jsonr_int(const struct jsonr *j, int t, int64_t *out);

/* The value of true or false, or -EINVAL when t is neither. */
int jsonr_bool(const struct jsonr *j, int t, bool *out);

#endif
