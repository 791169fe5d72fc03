/* jsonr.c: see jsonr.h.
 *
 * A recursive-descent reader over RFC 8259's grammar (section 2: values,
 * section 4: objects, 5: arrays, 6: numbers, 7: strings, 8.1: UTF-8).  The
 * recursion is bounded by JSONR_DEPTH_MAX.  struct rd is the cursor of one
 * parse; it writes tokens into the struct jsonr it was given and nothing
 * else.  Reading a string back walks its text again (decode_escape is
 * shared by both passes), so a value nobody reads costs only its check. */
#include "node/jsonr.h"

#include <assert.h>
#include <errno.h>
#include <string.h>

#define FNV_OFFSET 2166136261u
#define FNV_PRIME 16777619u

struct rd {
	struct jsonr *j;
	const char *s;
	size_t len, i;
	int depth;
};

static int fail(struct rd *r, int err, size_t pos, const char *msg)
{
	r->j->err_pos = pos;
	r->j->err_msg = msg;
	return err;
}

static void ws(struct rd *r)
{
	while (r->i < r->len && (r->s[r->i] == ' ' || r->s[r->i] == '\t' ||
				 r->s[r->i] == '\n' || r->s[r->i] == '\r'))
		r->i++;
}

/* The next byte, or -1 at the end of the text. */
static int peek(const struct rd *r)
{
	return r->i < r->len ? (unsigned char)r->s[r->i] : -1;
}

static int new_tok(struct rd *r, enum jsonr_type type)
{
	struct jsonr_tok *t;

	if (r->j->num_toks >= JSONR_TOKENS_MAX)
		return fail(r, -E2BIG, r->i, "too many values");
	t = &r->j->tok[r->j->num_toks];
	memset(t, 0, sizeof *t);
	t->type = (uint8_t)type;
	t->pos = (uint32_t)r->i;
	return (int)r->j->num_toks++;
}

/* Closes token t, which began at its pos and ends before r->i. */
static void end_tok(struct rd *r, int t)
{
	struct jsonr_tok *k = &r->j->tok[t];

	k->len = (uint32_t)(r->i - k->pos);
	k->end = (uint32_t)r->j->num_toks;
}

static uint32_t hash_bytes(uint32_t h, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)p[i];
		h *= FNV_PRIME;
	}
	return h;
}

/* The 16-bit value of the 4 hex digits after "\u" at s[0], or -1. */
static long hex4(const char *s, size_t avail)
{
	long v = 0;

	if (avail < 6 || s[0] != '\\' || s[1] != 'u')
		return -1;
	for (int i = 2; i < 6; i++) {
		char c = s[i], lower = (char)(c | 0x20);

		if (c >= '0' && c <= '9')
			v = v << 4 | (c - '0');
		else if (lower >= 'a' && lower <= 'f')
			v = v << 4 | (lower - 'a' + 10);
		else
			return -1;
	}
	return v;
}

/* RFC 8259 section 7: decodes the escape at s[0] == '\\' (avail bytes of
 * text from there) into the code point *cp, *used bytes of text long.  A
 * UTF-16 surrogate pair ("\uD83D\uDE00") is one code point.  Returns NULL,
 * or what is wrong: a lone surrogate, U+0000 (see jsonr.h), a bad escape. */
static const char *decode_escape(const char *s, size_t avail, uint32_t *cp,
				 size_t *used)
{
	static const char simple[] = "\"\"\\\\//b\bf\fn\nr\rt\t";
	long hi, lo;

	*used = 2;
	if (avail < 2)
		return "unterminated string";
	for (size_t k = 0; k + 1 < sizeof simple; k += 2) {
		if (s[1] == simple[k]) {
			*cp = (unsigned char)simple[k + 1];
			return NULL;
		}
	}
	if (s[1] != 'u')
		return "invalid escape";
	if ((hi = hex4(s, avail)) < 0)
		return "invalid \\u escape";
	*used = 6;
	*cp = (uint32_t)hi;
	if (hi == 0)
		return "\\u0000 is not allowed";
	if (hi >= 0xDC00 && hi <= 0xDFFF)
		return "lone low surrogate";
	if (hi < 0xD800 || hi > 0xDBFF)
		return NULL;
	lo = hex4(s + 6, avail - 6);
	if (lo < 0xDC00 || lo > 0xDFFF)
		return "lone high surrogate";
	*used = 12;
	*cp = 0x10000 + (((uint32_t)hi - 0xD800) << 10) +
	      ((uint32_t)lo - 0xDC00);
	return NULL;
}

/* The UTF-8 form of code point cp (at most U+10FFFF) in out; its length. */
static size_t utf8_put(uint32_t cp, char out[4])
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xC0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xE0 | cp >> 12);
		out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
		out[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | cp >> 18);
	out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
	out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
	out[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/* The length of the well-formed UTF-8 sequence of 2 to 4 bytes at s, or
 * 0.  The table is RFC 3629 section 4's UTF8-2, UTF8-3 and UTF8-4: by
 * first byte, the length and the range of the second byte (the others
 * are 80..BF), which rules out overlong forms, surrogates and anything
 * above U+10FFFF. */
static size_t utf8_seq(const unsigned char *s, size_t avail)
{
	static const struct {
		unsigned char first_min, first_max, len, second_min, second_max;
	} forms[] = {
		{0xC2, 0xDF, 2, 0x80, 0xBF}, {0xE0, 0xE0, 3, 0xA0, 0xBF},
		{0xE1, 0xEC, 3, 0x80, 0xBF}, {0xED, 0xED, 3, 0x80, 0x9F},
		{0xEE, 0xEF, 3, 0x80, 0xBF}, {0xF0, 0xF0, 4, 0x90, 0xBF},
		{0xF1, 0xF3, 4, 0x80, 0xBF}, {0xF4, 0xF4, 4, 0x80, 0x8F},
	};

	for (size_t f = 0; f < sizeof forms / sizeof forms[0]; f++) {
		size_t n = forms[f].len;

		if (s[0] < forms[f].first_min || s[0] > forms[f].first_max)
			continue;
		if (avail < n || s[1] < forms[f].second_min ||
		    s[1] > forms[f].second_max)
			return 0;
		for (size_t i = 2; i < n; i++)
			if ((s[i] & 0xC0) != 0x80)
				return 0;
		return n;
	}
	return 0;
}

/* A string at r->i == '"'.  Counts its unescaped length and, for a key,
 * hashes its unescaped bytes (FNV-1a) for the duplicate check. */
static int string(struct rd *r, bool key)
{
	const unsigned char *s = (const unsigned char *)r->s;
	uint32_t h = FNV_OFFSET;
	size_t ulen = 0, run;
	bool escaped = false;
	int t;

	if ((t = new_tok(r, JSONR_STRING)) < 0)
		return t;
	r->i++;
	r->j->tok[t].pos = (uint32_t)r->i;
	for (;;) {
		size_t start = r->i;

		/* The common case first: a run of plain ASCII. */
		while (r->i < r->len && s[r->i] >= 0x20 && s[r->i] < 0x80 &&
		       s[r->i] != '"' && s[r->i] != '\\')
			r->i++;
		run = r->i - start;
		ulen += run;
		if (key)
			h = hash_bytes(h, r->s + start, run);
		if (r->i >= r->len)
			return fail(r, -EINVAL, r->i, "unterminated string");
		if (s[r->i] == '"')
			break;
		if (s[r->i] < 0x20)
			return fail(r, -EINVAL, r->i,
				    "control character in a string");
		if (s[r->i] == '\\') {
			const char *msg;
			char u[4];
			uint32_t cp;
			size_t used, n;

			msg = decode_escape(r->s + r->i, r->len - r->i, &cp,
					    &used);
			if (msg != NULL)
				return fail(r, -EINVAL, r->i, msg);
			n = utf8_put(cp, u);
			ulen += n;
			if (key)
				h = hash_bytes(h, u, n);
			r->i += used;
			escaped = true;
		} else {
			size_t n = utf8_seq(s + r->i, r->len - r->i);

			if (n == 0)
				return fail(r, -EINVAL, r->i, "invalid UTF-8");
			ulen += n;
			if (key)
				h = hash_bytes(h, r->s + r->i, n);
			r->i += n;
		}
	}
	if (ulen > JSONR_STRING_MAX)
		return fail(r, -E2BIG, r->j->tok[t].pos, "string too long");
	end_tok(r, t);
	r->j->tok[t].n = (uint32_t)ulen;
	r->j->tok[t].hash = h;
	r->j->tok[t].escaped = escaped;
	r->i++; /* the closing quote */
	return 0;
}

static bool is_digit(int c)
{
	return c >= '0' && c <= '9';
}

/* Skips one or more digits; false when there is none. */
static bool digits(struct rd *r)
{
	size_t start = r->i;

	while (is_digit(peek(r)))
		r->i++;
	return r->i > start;
}

/* RFC 8259 section 6:
 *   number = [ minus ] int [ frac ] [ exp ]
 *   int = zero / ( digit1-9 *DIGIT )
 * An integer must fit in int64_t. */
static int number(struct rd *r)
{
	uint64_t mag = 0, limit = INT64_MAX;
	bool over = false, real = false;
	int t;

	if ((t = new_tok(r, JSONR_INT)) < 0)
		return t;
	if (peek(r) == '-') {
		limit = (uint64_t)INT64_MAX + 1;
		r->i++;
	}
	if (peek(r) == '0') {
		r->i++;
	} else if (is_digit(peek(r))) {
		while (is_digit(peek(r))) {
			unsigned d = (unsigned)(peek(r) - '0');

			over = over || mag > (UINT64_MAX - d) / 10;
			mag = mag * 10 + d;
			r->i++;
		}
	} else {
		return fail(r, -EINVAL, r->i, "digit expected");
	}
	if (peek(r) == '.') {
		real = true;
		r->i++;
		if (!digits(r))
			return fail(r, -EINVAL, r->i, "digit expected");
	}
	if (peek(r) == 'e' || peek(r) == 'E') {
		real = true;
		r->i++;
		if (peek(r) == '+' || peek(r) == '-')
			r->i++;
		if (!digits(r))
			return fail(r, -EINVAL, r->i, "digit expected");
	}
	if (real)
		r->j->tok[t].type = JSONR_REAL;
	else if (over || mag > limit)
		return fail(r, -EINVAL, r->j->tok[t].pos,
			    "integer out of range");
	end_tok(r, t);
	return 0;
}

static int literal(struct rd *r, const char *word, enum jsonr_type type)
{
	size_t n = strlen(word);
	int t;

	if (r->len - r->i < n || memcmp(r->s + r->i, word, n) != 0)
		return fail(r, -EINVAL, r->i, "invalid literal");
	if ((t = new_tok(r, type)) < 0)
		return t;
	r->i += n;
	end_tok(r, t);
	return 0;
}

/* A cursor over the unescaped bytes of a string token. */
struct ucur {
	const char *p, *end;
	char buf[4];
	size_t bi, bn;
};

static void ucur_init(struct ucur *c, const struct jsonr *j, int t)
{
	c->p = j->text + j->tok[t].pos;
	c->end = c->p + j->tok[t].len;
	c->bi = c->bn = 0;
}

/* The next unescaped byte, or -1 at the end. */
static int ucur_next(struct ucur *c)
{
	if (c->bi < c->bn)
		return (unsigned char)c->buf[c->bi++];
	if (c->p >= c->end)
		return -1;
	if (*c->p != '\\')
		return (unsigned char)*c->p++;
	{
		uint32_t cp = 0;
		size_t used;

		/* Checked by the parse: it cannot fail here. */
		(void)decode_escape(c->p, (size_t)(c->end - c->p), &cp, &used);
		c->p += used;
		c->bn = utf8_put(cp, c->buf);
		c->bi = 1;
		return (unsigned char)c->buf[0];
	}
}

static bool same_key(const struct jsonr *j, int a, int b)
{
	const struct jsonr_tok *ta = &j->tok[a], *tb = &j->tok[b];
	struct ucur ca, cb;
	int x;

	if (ta->n != tb->n || ta->hash != tb->hash)
		return false;
	if (!ta->escaped && !tb->escaped)
		return memcmp(j->text + ta->pos, j->text + tb->pos, ta->n) == 0;
	ucur_init(&ca, j, a);
	ucur_init(&cb, j, b);
	do {
		x = ucur_next(&ca);
		if (x != ucur_next(&cb))
			return false;
	} while (x >= 0);
	return true;
}

static int value(struct rd *r);

/* RFC 8259 section 4: a key and its colon, in object t.  The key is
 * checked against the earlier keys of the object as soon as it is read;
 * the hash makes the quadratic walk cheap, and JSONR_TOKENS_MAX bounds
 * it. */
static int member_key(struct rd *r, int t)
{
	int k = (int)r->j->num_toks, e;

	ws(r);
	if (peek(r) != '"')
		return fail(r, -EINVAL, r->i, "string (a key) expected");
	if ((e = string(r, true)) < 0)
		return e;
	for (int o = t + 1; o < k; o = (int)r->j->tok[o + 1].end)
		if (same_key(r->j, o, k))
			return fail(r, -EINVAL, r->j->tok[k].pos - 1,
				    "duplicate key");
	ws(r);
	if (peek(r) != ':')
		return fail(r, -EINVAL, r->i, "':' expected");
	r->i++;
	return 0;
}

/* RFC 8259 sections 4 and 5: an object or an array, at its opening
 * bracket. */
static int container(struct rd *r, enum jsonr_type type)
{
	bool obj = type == JSONR_OBJECT;
	int close = obj ? '}' : ']';
	uint32_t count = 0;
	int t, e;

	if ((t = new_tok(r, type)) < 0)
		return t;
	if (++r->depth > JSONR_DEPTH_MAX)
		return fail(r, -E2BIG, r->i, "nested too deep");
	r->i++;
	ws(r);
	if (peek(r) == close)
		goto done;
	for (;;) {
		if (obj && (e = member_key(r, t)) < 0)
			return e;
		if ((e = value(r)) < 0)
			return e;
		count++;
		ws(r);
		if (peek(r) == close)
			break;
		if (peek(r) != ',')
			return fail(r, -EINVAL, r->i,
				    obj ? "',' or '}' expected"
					: "',' or ']' expected");
		r->i++;
	}
done:
	r->i++;
	r->depth--;
	end_tok(r, t);
	r->j->tok[t].n = count;
	return 0;
}

/* RFC 8259 section 3: one value, after optional whitespace. */
static int value(struct rd *r)
{
	ws(r);
	switch (peek(r)) {
	case '{':
		return container(r, JSONR_OBJECT);
	case '[':
		return container(r, JSONR_ARRAY);
	case '"':
		return string(r, false);
	case 't':
		return literal(r, "true", JSONR_TRUE);
	case 'f':
		return literal(r, "false", JSONR_FALSE);
	case 'n':
		return literal(r, "null", JSONR_NULL);
	case -1:
		return fail(r, -EINVAL, r->i, "value expected at the end");
	default:
		if (peek(r) == '-' || is_digit(peek(r)))
			return number(r);
		return fail(r, -EINVAL, r->i, "value expected");
	}
}

/* JSON-text = ws value ws (RFC 8259 section 2). */
int jsonr_parse(struct jsonr *j, const char *text, size_t len)
{
	struct rd r = {.j = j, .s = text, .len = len};
	int e;

	j->text = text;
	j->num_toks = 0;
	j->err_pos = 0;
	j->err_msg = NULL;
	if (len > JSONR_TEXT_MAX)
		return fail(&r, -E2BIG, 0, "text too long");
	if ((e = value(&r)) < 0)
		goto out;
	ws(&r);
	if (r.i < len)
		e = fail(&r, -EINVAL, r.i, "end of text expected");
out:
	if (e < 0)
		j->num_toks = 0;
	return e;
}

enum jsonr_type jsonr_type(const struct jsonr *j, int t)
{
	assert(t >= 0 && (size_t)t < j->num_toks);
	return (enum jsonr_type)j->tok[t].type;
}

static bool is_type(const struct jsonr *j, int t, enum jsonr_type type)
{
	return t >= 0 && (size_t)t < j->num_toks && j->tok[t].type == type;
}

static bool is_container(const struct jsonr *j, int c)
{
	return is_type(j, c, JSONR_ARRAY) || is_type(j, c, JSONR_OBJECT);
}

size_t jsonr_count(const struct jsonr *j, int c)
{
	return is_container(j, c) ? j->tok[c].n : 0;
}

int jsonr_first(const struct jsonr *j, int c)
{
	return jsonr_count(j, c) > 0 ? c + 1 : -1;
}

int jsonr_next(const struct jsonr *j, int c, int t)
{
	uint32_t next;

	if (!is_container(j, c) || t <= c || (uint32_t)t >= j->tok[c].end)
		return -1;
	/* An object's entry is its key; skip the value after it too. */
	next = j->tok[c].type == JSONR_OBJECT ? j->tok[t + 1].end
					      : j->tok[t].end;
	return next < j->tok[c].end ? (int)next : -1;
}

int jsonr_get(const struct jsonr *j, int obj, const char *key)
{
	if (!is_type(j, obj, JSONR_OBJECT))
		return -1;
	for (int k = jsonr_first(j, obj); k >= 0; k = jsonr_next(j, obj, k))
		if (jsonr_str_eq(j, k, key))
			return k + 1;
	return -1;
}

size_t jsonr_str_len(const struct jsonr *j, int t)
{
	return is_type(j, t, JSONR_STRING) ? j->tok[t].n : 0;
}

bool jsonr_str_eq(const struct jsonr *j, int t, const char *s)
{
	size_t n = strlen(s);
	struct ucur c;

	if (!is_type(j, t, JSONR_STRING) || j->tok[t].n != n)
		return false;
	if (!j->tok[t].escaped)
		return memcmp(j->text + j->tok[t].pos, s, n) == 0;
	ucur_init(&c, j, t);
	for (size_t i = 0; i < n; i++)
		if (ucur_next(&c) != (unsigned char)s[i])
			return false;
	return true;
}

int jsonr_str(const struct jsonr *j, int t, char *buf, size_t cap, size_t *len)
{
	const struct jsonr_tok *k;
	struct ucur c;
	size_t i = 0;
	int x;

	if (!is_type(j, t, JSONR_STRING))
		return -EINVAL;
	k = &j->tok[t];
	if (cap < (size_t)k->n + 1)
		return -E2BIG;
	if (!k->escaped) {
		memcpy(buf, j->text + k->pos, k->n);
	} else {
		ucur_init(&c, j, t);
		while ((x = ucur_next(&c)) >= 0)
			buf[i++] = (char)x;
	}
	buf[k->n] = '\0';
	*len = k->n;
	return 0;
}

int jsonr_int(const struct jsonr *j, int t, int64_t *out)
{
	const char *p;
	const char *end;
	uint64_t mag = 0;
	bool neg;

	if (!is_type(j, t, JSONR_INT))
		return -EINVAL;
	p = j->text + j->tok[t].pos;
	end = p + j->tok[t].len;
	neg = *p == '-';
	for (p += neg; p < end; p++)
		mag = mag * 10 + (uint64_t)(*p - '0');
	/* Checked by the parse: mag <= 2^63 when negative, < 2^63 else. */
	*out = neg ? (int64_t)(0 - mag) : (int64_t)mag;
	return 0;
}

int jsonr_bool(const struct jsonr *j, int t, bool *out)
{
	if (is_type(j, t, JSONR_TRUE))
		*out = true;
	else if (is_type(j, t, JSONR_FALSE))
		*out = false;
	else
		return -EINVAL;
	return 0;
}
