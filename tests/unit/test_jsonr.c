/* Unit tests of node/jsonr.c, the JSON reader of the request path: what
 * it accepts and refuses (RFC 8259 plus the choices in jsonr.h), its
 * limits, and the accessors. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "node/jsonr.h"

static struct jsonr J; /* about 48 KiB: not on the stack */

static int parse(const char *s)
{
	return jsonr_parse(&J, s, strlen(s));
}

/* Whole texts, accepted (0) or refused (-EINVAL). */
static void texts(void **state)
{
	static const struct {
		const char *text;
		int err;
	} cases[] = {
		{"{}", 0},
		{"[]", 0},
		{" {\"a\":1} ", 0},
		{"\t\r\n[1,2]\n", 0},
		{"0", 0},
		{"-0", 0},
		{"17", 0},
		{"-1.5e+3", 0},
		{"1E-2", 0},
		{"2.0", 0},
		{"\"\"", 0},
		{"\"x\"", 0},
		{"true", 0},
		{"false", 0},
		{"null", 0},
		{"[[],{}]", 0},
		{"{\"\":0}", 0},
		{"{\"a\":{\"a\":1}}", 0},
		{"[\"a\",\"a\"]", 0},
		{"9223372036854775807", 0},
		{"-9223372036854775808", 0},
		{"1e400", 0},
		{"\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", 0},
		{"\"\\u00e9\\uD83D\\uDE00\"", 0},
		{"\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf\"", 0},
		{"", -EINVAL},
		{" ", -EINVAL},
		{"{", -EINVAL},
		{"}", -EINVAL},
		{"[1,]", -EINVAL},
		{"{\"a\":1,}", -EINVAL},
		{"{\"a\"}", -EINVAL},
		{"{a:1}", -EINVAL},
		{"{'a':1}", -EINVAL},
		{"[1 2]", -EINVAL},
		{"01", -EINVAL},
		{"-", -EINVAL},
		{"+1", -EINVAL},
		{"1.", -EINVAL},
		{".5", -EINVAL},
		{"1e", -EINVAL},
		{"1e+", -EINVAL},
		{"0x10", -EINVAL},
		{"tru", -EINVAL},
		{"truex", -EINVAL},
		{"nul", -EINVAL},
		{"NaN", -EINVAL},
		{"Infinity", -EINVAL},
		{"[]]", -EINVAL},
		{"{} {}", -EINVAL},
		{"\"abc", -EINVAL},
		{"\"\\x\"", -EINVAL},
		{"\"\\u12\"", -EINVAL},
		{"\"\\u12G4\"", -EINVAL},
		{"\"a\tb\"", -EINVAL},
		{"\"a\nb\"", -EINVAL},
		/* NUL: escaped in a value and in a key. */
		{"\"a\\u0000b\"", -EINVAL},
		{"{\"a\\u0000\":1}", -EINVAL},
		/* Lone or misordered surrogates. */
		{"\"\\uD800\"", -EINVAL},
		{"\"\\uDC00\"", -EINVAL},
		{"\"\\uD800\\u0041\"", -EINVAL},
		{"\"\\uDE00\\uD83D\"", -EINVAL},
		{"\"\\uD800x\"", -EINVAL},
		/* Invalid UTF-8: stray continuation, overlong, surrogate,
		 * above U+10FFFF, truncated, 0xFF. */
		{"\"\x80\"", -EINVAL},
		{"\"\xc0\xaf\"", -EINVAL},
		{"\"\xc1\xbf\"", -EINVAL},
		{"\"\xe0\x80\xaf\"", -EINVAL},
		{"\"\xed\xa0\x80\"", -EINVAL},
		{"\"\xf4\x90\x80\x80\"", -EINVAL},
		{"\"\xf5\x80\x80\x80\"", -EINVAL},
		{"\"\xe2\x82\"", -EINVAL},
		{"\"\xff\"", -EINVAL},
		/* Duplicate keys, also through an escape and nested. */
		{"{\"a\":1,\"a\":2}", -EINVAL},
		{"{\"a\":1,\"\\u0061\":2}", -EINVAL},
		{"{\"x\":{\"b\":1,\"c\":2,\"b\":3}}", -EINVAL},
		/* Integers beyond int64_t. */
		{"9223372036854775808", -EINVAL},
		{"-9223372036854775809", -EINVAL},
		{"99999999999999999999999", -EINVAL},
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int e = parse(cases[i].text);

		if (e != cases[i].err)
			fail_msg("case %zu %s: got %d (%s)", i, cases[i].text,
				 e, e < 0 ? J.err_msg : "");
		if (e == 0)
			continue;
		assert_non_null(J.err_msg);
		assert_true(J.err_pos <= strlen(cases[i].text));
		assert_int_equal(J.num_toks, 0);
	}
	/* A raw NUL byte, in a string and outside. */
	assert_int_equal(jsonr_parse(&J, "\"a\0b\"", 5), -EINVAL);
	assert_int_equal(jsonr_parse(&J, "[1]\0", 4), -EINVAL);
	/* Where: the byte of the culprit. */
	assert_int_equal(parse("[1,x]"), -EINVAL);
	assert_int_equal(J.err_pos, 3);
	assert_int_equal(parse("{\"id\":1,\"id\":2}"), -EINVAL);
	assert_int_equal(J.err_pos, 8);
	assert_string_equal(J.err_msg, "duplicate key");
}

static void limits(void **state)
{
	char *s = malloc(JSONR_STRING_MAX + 64);
	size_t n = 0;

	(void)state;
	assert_non_null(s);
	/* Depth: JSONR_DEPTH_MAX nested arrays pass, one more does not. */
	for (int i = 0; i < JSONR_DEPTH_MAX; i++)
		s[n++] = '[';
	for (int i = 0; i < JSONR_DEPTH_MAX; i++)
		s[n++] = ']';
	assert_int_equal(jsonr_parse(&J, s, n), 0);
	n = 0;
	for (int i = 0; i <= JSONR_DEPTH_MAX; i++)
		s[n++] = '[';
	for (int i = 0; i <= JSONR_DEPTH_MAX; i++)
		s[n++] = ']';
	assert_int_equal(jsonr_parse(&J, s, n), -E2BIG);
	/* Tokens: an array and JSONR_TOKENS_MAX - 1 zeros pass. */
	n = 0;
	s[n++] = '[';
	for (int i = 0; i < JSONR_TOKENS_MAX - 1; i++) {
		s[n++] = '0';
		s[n++] = ',';
	}
	s[n - 1] = ']';
	assert_int_equal(jsonr_parse(&J, s, n), 0);
	assert_int_equal(jsonr_count(&J, 0), JSONR_TOKENS_MAX - 1);
	s[n - 1] = ',';
	s[n++] = '0';
	s[n++] = ']';
	assert_int_equal(jsonr_parse(&J, s, n), -E2BIG);
	assert_string_equal(J.err_msg, "too many values");
	/* String length, counted unescaped: "\n" is one byte. */
	n = 0;
	s[n++] = '"';
	memset(s + n, 'a', JSONR_STRING_MAX);
	n += JSONR_STRING_MAX;
	s[n++] = '"';
	assert_int_equal(jsonr_parse(&J, s, n), 0);
	assert_int_equal(jsonr_str_len(&J, 0), JSONR_STRING_MAX);
	s[1] = '\\';
	s[2] = 'n';
	assert_int_equal(jsonr_parse(&J, s, n), 0);
	assert_int_equal(jsonr_str_len(&J, 0), JSONR_STRING_MAX - 1);
	s[n - 1] = 'a';
	s[n++] = '"';
	s[1] = 'a';
	s[2] = 'a';
	assert_int_equal(jsonr_parse(&J, s, n), -E2BIG);
	free(s);
}

static void accessors(void **state)
{
	static const char req[] =
		"{\"jsonrpc\":\"2.0\",\"id\":-42,\"method\":\"messages.send\","
		"\"params\":{\"to\":\"pk\\u00e9\",\"body\":\"a\\\"b\\nc\","
		"\"flag\":true,\"off\":false,\"nil\":null,\"r\":1.5,"
		"\"list\":[\"x\",\"\\uD83D\\uDE00\",3]},\"k\\u0065y\":1}";
	char buf[64];
	size_t len;
	int64_t v;
	bool b;
	int p, l, t;

	(void)state;
	assert_int_equal(parse(req), 0);
	assert_int_equal(jsonr_type(&J, 0), JSONR_OBJECT);
	assert_int_equal(jsonr_count(&J, 0), 5);
	assert_true(jsonr_str_eq(&J, jsonr_get(&J, 0, "jsonrpc"), "2.0"));
	assert_false(jsonr_str_eq(&J, jsonr_get(&J, 0, "jsonrpc"), "2"));
	assert_int_equal(jsonr_int(&J, jsonr_get(&J, 0, "id"), &v), 0);
	assert_int_equal(v, -42);
	assert_int_equal(jsonr_get(&J, 0, "nope"), -1);
	assert_int_equal(jsonr_get(&J, 1, "id"), -1); /* not an object */
	/* A key written with an escape is found by its value. */
	assert_int_not_equal(jsonr_get(&J, 0, "key"), -1);
	p = jsonr_get(&J, 0, "params");
	assert_int_equal(jsonr_type(&J, p), JSONR_OBJECT);
	assert_int_equal(jsonr_count(&J, p), 7);
	/* Strings, unescaped. */
	t = jsonr_get(&J, p, "to");
	assert_int_equal(jsonr_str_len(&J, t), 4);
	assert_true(jsonr_str_eq(&J, t, "pk\xc3\xa9"));
	assert_int_equal(jsonr_str(&J, t, buf, sizeof buf, &len), 0);
	assert_string_equal(buf, "pk\xc3\xa9");
	assert_int_equal(len, 4);
	assert_int_equal(jsonr_str(&J, t, buf, 4, &len), -E2BIG);
	assert_int_equal(jsonr_str(&J, t, buf, 5, &len), 0);
	t = jsonr_get(&J, p, "body");
	assert_int_equal(jsonr_str(&J, t, buf, sizeof buf, &len), 0);
	assert_string_equal(buf, "a\"b\nc");
	assert_int_equal(
		jsonr_str(&J, jsonr_get(&J, p, "flag"), buf, sizeof buf, &len),
		-EINVAL);
	/* Booleans, null, a real. */
	assert_int_equal(jsonr_bool(&J, jsonr_get(&J, p, "flag"), &b), 0);
	assert_true(b);
	assert_int_equal(jsonr_bool(&J, jsonr_get(&J, p, "off"), &b), 0);
	assert_false(b);
	assert_int_equal(jsonr_bool(&J, jsonr_get(&J, p, "nil"), &b), -EINVAL);
	assert_int_equal(jsonr_type(&J, jsonr_get(&J, p, "nil")), JSONR_NULL);
	assert_int_equal(jsonr_type(&J, jsonr_get(&J, p, "r")), JSONR_REAL);
	assert_int_equal(jsonr_int(&J, jsonr_get(&J, p, "r"), &v), -EINVAL);
	/* An array, walked. */
	l = jsonr_get(&J, p, "list");
	assert_int_equal(jsonr_count(&J, l), 3);
	t = jsonr_first(&J, l);
	assert_true(jsonr_str_eq(&J, t, "x"));
	t = jsonr_next(&J, l, t);
	assert_true(jsonr_str_eq(&J, t, "\xf0\x9f\x98\x80"));
	t = jsonr_next(&J, l, t);
	assert_int_equal(jsonr_int(&J, t, &v), 0);
	assert_int_equal(v, 3);
	assert_int_equal(jsonr_next(&J, l, t), -1);
	/* Members of the top object, walked: keys in text order. */
	{
		static const char *const keys[] = {"jsonrpc", "id", "method",
						   "params", "key"};
		size_t i = 0;

		for (int k = jsonr_first(&J, 0); k >= 0;
		     k = jsonr_next(&J, 0, k))
			assert_true(jsonr_str_eq(&J, k, keys[i++]));
		assert_int_equal(i, 5);
	}
	/* Empty containers. */
	assert_int_equal(parse("{\"a\":[],\"b\":{}}"), 0);
	assert_int_equal(jsonr_first(&J, jsonr_get(&J, 0, "a")), -1);
	assert_int_equal(jsonr_first(&J, jsonr_get(&J, 0, "b")), -1);
	assert_int_equal(jsonr_next(&J, 0, jsonr_get(&J, 0, "b") - 1), -1);
}

/* Integers read back as strtoll reads them; -0 is 0. */
static void numbers(void **state)
{
	static const char *const ints[] = {"0",
					   "-0",
					   "7",
					   "-12",
					   "9223372036854775807",
					   "-9223372036854775808"};
	int64_t v;

	(void)state;
	for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
		assert_int_equal(parse(ints[i]), 0);
		assert_int_equal(jsonr_type(&J, 0), JSONR_INT);
		assert_int_equal(jsonr_int(&J, 0, &v), 0);
		assert_true(v == strtoll(ints[i], NULL, 10));
	}
	assert_int_equal(parse("1.0"), 0);
	assert_int_equal(jsonr_type(&J, 0), JSONR_REAL);
	assert_int_equal(parse("1e2"), 0);
	assert_int_equal(jsonr_type(&J, 0), JSONR_REAL);
}

/* What node/api.c does with an id: an integer or a string is an id, an
 * object, an array, a boolean or a real is not. */
static void ids(void **state)
{
	static const struct {
		const char *req;
		enum jsonr_type type;
	} cases[] = {
		{"{\"id\":1}", JSONR_INT},
		{"{\"id\":\"a\"}", JSONR_STRING},
		{"{\"id\":null}", JSONR_NULL},
		{"{\"id\":{\"a\":1}}", JSONR_OBJECT},
		{"{\"id\":[1]}", JSONR_ARRAY},
		{"{\"id\":1.5}", JSONR_REAL},
		{"{\"id\":true}", JSONR_TRUE},
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int id;

		assert_int_equal(parse(cases[i].req), 0);
		id = jsonr_get(&J, 0, "id");
		assert_int_not_equal(id, -1);
		assert_int_equal(jsonr_type(&J, id), cases[i].type);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(texts),     cmocka_unit_test(limits),
		cmocka_unit_test(accessors), cmocka_unit_test(numbers),
		cmocka_unit_test(ids),
	};

	return cmocka_run_group_tests_name("jsonr", tests, NULL, NULL);
}
