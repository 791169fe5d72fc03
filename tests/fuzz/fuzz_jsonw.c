/* Fuzz target: node/jsonw.c, the JSON writer of the hot events.
 * Input: 8 bytes of an integer || a string.  Invariants: for any string
 * that is valid UTF-8 (as jansson judges it), what jw writes parses back
 * with jansson to exactly the same string and integer; invalid UTF-8 is
 * the caller's to refuse and is skipped. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "node/jsonw.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data + 8;
	size_t n = size - 8;
	json_t *probe, *back, *str, *num;
	json_error_t e;
	struct jw w;
	uint64_t v = 0;
	char *js;
	int err;

	if (size < 8)
		return 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | data[i];
	v >>= 1; /* jansson's integers are signed 64-bit */
	probe = json_stringn(s, n);
	if (probe == NULL)
		return 0; /* not UTF-8 */
	json_decref(probe);
	jw_init(&w, 8 * n + 64);
	jw_lit(&w, "{");
	jw_key(&w, "s", 1);
	jw_str(&w, s, n);
	jw_key(&w, "n", 0);
	jw_u64(&w, v);
	jw_lit(&w, "}");
	js = jw_finish(&w, &err);
	if (js == NULL)
		abort(); /* 6 bytes per input byte at most: within the limit */
	back = json_loads(js, JSON_ALLOW_NUL, &e);
	if (back == NULL)
		abort();
	str = json_object_get(back, "s");
	num = json_object_get(back, "n");
	if (!json_is_string(str) || json_string_length(str) != n ||
	    memcmp(json_string_value(str), s, n) != 0 ||
	    !json_is_integer(num) || (uint64_t)json_integer_value(num) != v)
		abort();
	json_decref(back);
	free(js);
	return 0;
}
