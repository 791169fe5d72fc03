/* Fuzz target: node/jsonr.c, the JSON reader of the request path.
 * Input: one JSON text.  Invariants: jsonr accepts exactly what jansson
 * (json_loadb with the flags node/api.c used, JSON_REJECT_DUPLICATES |
 * JSON_DECODE_ANY) accepts, but where jsonr.h says they differ: jsonr's
 * limits (-E2BIG); reals that overflow a double, which jansson refuses
 * and jsonr, never reading them, accepts; and a NUL byte right after a
 * number ("[1\0]"), which jansson 2.14 lets through and jsonr refuses.
 * When both accept, the two readings are the same value: types, integers,
 * unescaped strings byte for byte, object members found by key, array
 * elements in order.  On a refusal the error position lies within the
 * input. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "node/jsonr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct jsonr J;
static char buf[JSONR_STRING_MAX + 1];

static void check_string(int t, const json_t *v)
{
	size_t n = 0;

	if (jsonr_str(&J, t, buf, sizeof buf, &n) < 0 ||
	    n != json_string_length(v) || n != jsonr_str_len(&J, t) ||
	    memcmp(buf, json_string_value(v), n) != 0 || strlen(buf) != n ||
	    !jsonr_str_eq(&J, t, json_string_value(v)))
		abort();
}

/* Aborts unless jsonr's token t and jansson's v are the same value. */
static void same(int t, const json_t *v)
{
	const char *key;
	json_t *m;
	int64_t i;
	bool b;
	int k;

	switch (jsonr_type(&J, t)) {
	case JSONR_NULL:
		if (!json_is_null(v))
			abort();
		break;
	case JSONR_FALSE:
	case JSONR_TRUE:
		if (!json_is_boolean(v) || jsonr_bool(&J, t, &b) < 0 ||
		    b != json_is_true(v))
			abort();
		break;
	case JSONR_INT:
		if (!json_is_integer(v) || jsonr_int(&J, t, &i) < 0 ||
		    i != json_integer_value(v))
			abort();
		break;
	case JSONR_REAL:
		if (!json_is_real(v))
			abort();
		break;
	case JSONR_STRING:
		if (!json_is_string(v))
			abort();
		check_string(t, v);
		break;
	case JSONR_ARRAY:
		if (!json_is_array(v) ||
		    jsonr_count(&J, t) != json_array_size(v))
			abort();
		k = jsonr_first(&J, t);
		for (size_t e = 0; e < json_array_size(v); e++) {
			same(k, json_array_get(v, e));
			k = jsonr_next(&J, t, k);
		}
		if (k != -1)
			abort();
		break;
	case JSONR_OBJECT:
		if (!json_is_object(v) ||
		    jsonr_count(&J, t) != json_object_size(v))
			abort();
		json_object_foreach((json_t *)v, key, m)
		{
			if ((k = jsonr_get(&J, t, key)) < 0)
				abort();
			same(k, m);
		}
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	json_error_t jerr;
	json_t *v;
	int r;

	r = jsonr_parse(&J, text, size);
	v = json_loadb(text, size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
		       &jerr);
	if (r < 0 && (J.err_msg == NULL || J.err_pos > size))
		abort();
	if (r == -E2BIG)
		goto out;
	if (r == 0 && v == NULL && strstr(jerr.text, "real number overflow"))
		goto out;
	if (r < 0 && v != NULL && J.err_pos < size && data[J.err_pos] == 0)
		goto out;
	if ((r == 0) != (v != NULL))
		abort();
	if (r == 0)
		same(0, v);
out:
	json_decref(v);
	return 0;
}
